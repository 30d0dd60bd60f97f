#include "ch_token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"

#define TOKEN_FILE_MAX (64u << 20) /* a token file is a list of credentials, not a data set */

/* A token goes into an HTTP header or a query string: control characters would break (or inject into) either. */
static bool tok_clean(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return false;
  return n > 0;
}

static void tok_wipe(char *s) {
  if (s) {
    volatile char *v = s;
    while (*v)
      *v++ = '\0';
  }
}

static int tok_push(struct ch_tokens *t, const char *s, size_t n, size_t *cap) {
  if (t->n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    char **p = realloc(t->tokens, nc * sizeof *p);
    if (!p)
      return -ENOMEM;
    t->tokens = p, *cap = nc;
  }
  char *c = malloc(n + 1);
  if (!c)
    return -ENOMEM;
  memcpy(c, s, n);
  c[n] = '\0';
  t->tokens[t->n++] = c;
  return 0;
}

static int tok_from_file(const char *path, struct ch_tokens *out, struct ch_buf *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    ch_buf_printf(err, "token file %s: cannot open: %s", path, strerror(e));
    return e == ENOENT ? -ENOENT : -EINVAL;
  }
  struct ch_buf data = CH_BUF_INIT;
  int rc = ch_buf_read_file(&data, f, TOKEN_FILE_MAX);
  if (rc == -EFBIG) {
    ch_buf_printf(err, "token file %s: larger than %u MiB", path, TOKEN_FILE_MAX >> 20);
    rc = -EINVAL;
  } else if (rc == -EIO) {
    ch_buf_printf(err, "token file %s: read error", path);
    rc = -EINVAL;
  }
  fclose(f);
  size_t cap = 0, line = 0;
  for (size_t i = 0; !rc && i < data.len;) {
    size_t e = i;
    while (e < data.len && data.data[e] != '\n')
      e++;
    line++;
    size_t n = e - i;
    if (n && data.data[i + n - 1] == '\r')
      n--; /* CRLF files */
    /* blank lines and # comments are skipped; anything else must be a clean token */
    if (n && data.data[i] != '#') {
      if (!tok_clean(data.data + i, n)) {
        ch_buf_printf(err, "token file %s:%zu: expected a token without control characters (value not shown)", path,
                      line);
        rc = -EINVAL;
      } else {
        rc = tok_push(out, data.data + i, n, &cap);
      }
    }
    i = e + 1;
  }
  if (data.data) {
    memset(data.data, 0, data.len);
    ch_buf_free(&data);
  }
  if (!rc && out->n == 0) {
    ch_buf_printf(err, "token file %s: expected one token per line, found no token", path);
    rc = -EINVAL;
  }
  if (rc)
    ch_tokens_free(out);
  return rc;
}

static int tok_from_env(const char *var, struct ch_tokens *out, struct ch_buf *err) {
  const char *v = getenv(var);
  if (!v || !*v) {
    ch_buf_printf(err, "token variable %s: expected it to be set to a token, found it %s", var, v ? "empty" : "unset");
    return -EINVAL;
  }
  if (!tok_clean(v, strlen(v))) {
    ch_buf_printf(err, "token variable %s: expected a token without control characters (value not shown)", var);
    return -EINVAL;
  }
  size_t cap = 0;
  return tok_push(out, v, strlen(v), &cap);
}

static int tok_literal(const char *v, const char *origin, struct ch_tokens *out, struct ch_buf *err) {
  if (!tok_clean(v, strlen(v))) {
    ch_buf_printf(err, "%s: expected a non-empty token without control characters (value not shown)", origin);
    return -EINVAL;
  }
  size_t cap = 0;
  return tok_push(out, v, strlen(v), &cap);
}

int ch_tokens_resolve(const struct ch_scn_auth *auth, const struct ch_token_cli *cli, struct ch_tokens *out,
                      struct ch_buf *err) {
  memset(out, 0, sizeof *out);
  if (cli) {
    int given = !!cli->token + !!cli->token_env + !!cli->token_file;
    if (given > 1) {
      ch_buf_printf(err, "expected at most one of --token, --token-env and --token-file, found %d", given);
      return -EINVAL;
    }
    if (cli->token)
      return tok_literal(cli->token, "--token", out, err);
    if (cli->token_env)
      return tok_from_env(cli->token_env, out, err);
    if (cli->token_file)
      return tok_from_file(cli->token_file, out, err);
  }
  if (!auth)
    return 0;
  switch (auth->source) {
  case CH_SCN_TOKEN_LITERAL:
    return tok_literal(auth->token, "target.auth.token", out, err);
  case CH_SCN_TOKEN_ENV:
    return tok_from_env(auth->token_env, out, err);
  case CH_SCN_TOKEN_FILE:
    return tok_from_file(auth->token_file, out, err);
  case CH_SCN_TOKEN_LOGIN:
  case CH_SCN_TOKEN_COMMAND: /* fetched at run time (the runner's ch_auth) */
  case CH_SCN_TOKEN_NONE:
    break;
  }
  return 0;
}

const char *ch_tokens_for_client(const struct ch_tokens *t, size_t client_index) {
  return t->n ? t->tokens[client_index % t->n] : NULL;
}

void ch_tokens_free(struct ch_tokens *t) {
  for (size_t i = 0; i < t->n; i++) {
    tok_wipe(t->tokens[i]);
    free(t->tokens[i]);
  }
  free(t->tokens);
  t->tokens = NULL;
  t->n = 0;
}
