#include "ch_users.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USERS_MAX_BYTES (64u << 20)

static void users_wipe_free(char *s) {
  if (s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

void ch_users_free(struct ch_users *u) {
  for (size_t i = 0; i < u->n; i++) {
    users_wipe_free(u->v[i].name);
    users_wipe_free(u->v[i].password);
  }
  free(u->v);
  u->v = NULL;
  u->n = 0;
}

static int users_add(struct ch_users *u, const char *l, size_t nn, const char *pw, size_t pn, size_t row,
                     size_t *cap) {
  if (u->n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    struct ch_user *v = realloc(u->v, nc * sizeof *v);
    if (!v)
      return -ENOMEM;
    u->v = v, *cap = nc;
  }
  struct ch_user *e = &u->v[u->n++];
  e->name = strndup(l, nn);
  e->password = strndup(pw, pn);
  e->row = row;
  return e->name && e->password ? 0 : -ENOMEM;
}

int ch_users_parse(const char *data, size_t len, const char *origin, struct ch_users *out, struct ch_buf *err) {
  memset(out, 0, sizeof *out);
  size_t cap = 0, row = 0;
  int rc = 0;
  for (size_t i = 0; !rc && i < len;) {
    size_t e = i;
    while (e < len && data[e] != '\n')
      e++;
    row++;
    size_t n = e - i;
    if (n && data[i + n - 1] == '\r')
      n--;
    const char *l = data + i;
    i = e + 1;
    if (!n || l[0] == '#' || (row == 1 && n == 13 && !strncasecmp(l, "user,password", 13)))
      continue;
    const char *comma = memchr(l, ',', n);
    bool clean = true;
    for (size_t k = 0; k < n; k++)
      clean = clean && (unsigned char)l[k] >= 0x20 && l[k] != 0x7f;
    if (!comma || comma == l || comma == l + n - 1 || !clean) {
      ch_buf_printf(err, "%s:%zu: expected `user,password` (a user, a comma, a password; the line is not shown)",
                    origin, row);
      rc = -EINVAL;
    } else {
      rc = users_add(out, l, (size_t)(comma - l), comma + 1, (size_t)(l + n - comma - 1), row, &cap);
    }
  }
  if (!rc && !out->n) {
    ch_buf_printf(err, "%s: expected one `user,password` line or more, found none", origin);
    rc = -EINVAL;
  }
  if (rc)
    ch_users_free(out);
  return rc;
}

int ch_users_load(const char *path, struct ch_users *out, struct ch_buf *err) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) {
    ch_buf_printf(err, "users file %s: cannot open: %s", path, strerror(errno));
    return -EINVAL;
  }
  struct ch_buf data = CH_BUF_INIT;
  int rc = ch_buf_read_file(&data, f, USERS_MAX_BYTES);
  fclose(f);
  if (rc == -EFBIG)
    ch_buf_printf(err, "users file %s: larger than %u MiB", path, USERS_MAX_BYTES >> 20);
  else if (rc == -EIO)
    ch_buf_printf(err, "users file %s: read error", path), rc = -EINVAL;
  if (!rc)
    rc = ch_users_parse(data.data ? data.data : "", data.len, path, out, err);
  if (data.data)
    memset(data.data, 0, data.cap);
  ch_buf_free(&data);
  return rc;
}
