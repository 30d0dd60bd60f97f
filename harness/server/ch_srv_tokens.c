/* The --tokens file: `TOKEN USER [parts=K1,K2] [pipelines=P1,P2] [hubs=ResourceEventHub,JobEventHub]` per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_srv.h"

void ch_server_tokens_free(struct ch_server_token *t, size_t n) {
  if (!t)
    return;
  for (size_t i = 0; i < n; i++) {
    free((char *)t[i].token);
    free((char *)t[i].user);
    ch_srv_strv_free((char **)t[i].parts, t[i].n_parts);
    ch_srv_strv_free((char **)t[i].pipelines, t[i].n_pipelines);
  }
  free(t);
}

/* Splits a comma list into a malloc'ed string vector. */
static int split_list(const char *s, char ***out, size_t *n) {
  size_t cap = 1;
  for (const char *p = s; *p; p++)
    cap += *p == ',';
  char **v = calloc(cap + 1, sizeof *v);
  if (!v)
    return -ENOMEM;
  size_t k = 0;
  const char *p = s;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len) {
      if (!(v[k] = strndup(p, len))) {
        ch_srv_strv_free(v, k);
        return -ENOMEM;
      }
      k++;
    }
    p += len + (e ? 1 : 0);
  }
  *out = v;
  *n = k;
  return 0;
}

static int parse_line(char *line, struct ch_server_token *t, struct ch_buf *err, size_t lineno) {
  char *save = NULL, *tok = strtok_r(line, " \t", &save), *user = strtok_r(NULL, " \t", &save), *opt;
  if (!tok || !user) {
    ch_buf_printf(err, "line %zu: expected `TOKEN USER [parts=..] [pipelines=..] [hubs=..]`", lineno);
    return -EINVAL;
  }
  if (!(t->token = strdup(tok)) || !(t->user = strdup(user)))
    return -ENOMEM;
  while ((opt = strtok_r(NULL, " \t", &save))) {
    char **v = NULL;
    size_t n = 0;
    int rc;
    if (strncmp(opt, "parts=", 6) == 0) {
      if (strcmp(opt + 6, "*") == 0)
        continue;
      rc = split_list(opt + 6, &v, &n);
      if (rc)
        return rc;
      ch_srv_strv_free((char **)t->parts, t->n_parts);
      t->parts = (const char *const *)v;
      t->n_parts = n;
    } else if (strncmp(opt, "pipelines=", 10) == 0) {
      if (strcmp(opt + 10, "*") == 0)
        continue;
      rc = split_list(opt + 10, &v, &n);
      if (rc)
        return rc;
      ch_srv_strv_free((char **)t->pipelines, t->n_pipelines);
      t->pipelines = (const char *const *)v;
      t->n_pipelines = n;
    } else if (strncmp(opt, "hubs=", 5) == 0) {
      rc = split_list(opt + 5, &v, &n);
      if (rc)
        return rc;
      t->hubs = 0;
      for (size_t i = 0; i < n; i++) {
        unsigned h = ch_srv_hub_lookup(v[i], strlen(v[i]));
        if (!h) {
          ch_buf_printf(err, "line %zu: unknown hub '%s' (expected ResourceEventHub or JobEventHub)", lineno, v[i]);
          ch_srv_strv_free(v, n);
          return -EINVAL;
        }
        t->hubs |= h;
      }
      ch_srv_strv_free(v, n);
      if (!t->hubs) {
        ch_buf_printf(err, "line %zu: hubs= needs at least one hub", lineno);
        return -EINVAL;
      }
    } else {
      /* never echo the option: it might be a mistyped secret */
      ch_buf_printf(err, "line %zu: unknown field (expected parts=, pipelines= or hubs=)", lineno);
      return -EINVAL;
    }
  }
  return 0;
}

int ch_server_tokens_load(const char *path, struct ch_server_token **out, size_t *n, struct ch_buf *err) {
  *out = NULL;
  *n = 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    int e = errno;
    ch_buf_printf(err, "cannot open tokens file %s: %s", path, strerror(e));
    return -e;
  }
  struct ch_server_token *v = NULL;
  size_t cnt = 0, cap = 0, lineno = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  int rc = 0;
  while (!rc && (len = getline(&line, &lcap, f)) >= 0) {
    lineno++;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t')
      p++;
    if (!*p || *p == '#')
      continue;
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 8;
      struct ch_server_token *nv = realloc(v, nc * sizeof *nv);
      if (!nv) {
        rc = -ENOMEM;
        break;
      }
      v = nv;
      cap = nc;
    }
    memset(&v[cnt], 0, sizeof v[cnt]);
    cnt++;
    rc = parse_line(p, &v[cnt - 1], err, lineno);
  }
  free(line);
  fclose(f);
  if (!rc && !cnt) {
    ch_buf_printf(err, "tokens file %s holds no token", path);
    rc = -EINVAL;
  }
  if (rc) {
    ch_server_tokens_free(v, cnt);
    return rc;
  }
  *out = v;
  *n = cnt;
  return 0;
}
