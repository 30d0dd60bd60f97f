#include "ch_buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ch_buf_reserve(struct ch_buf *b, size_t extra) {
  if (extra >= SIZE_MAX - b->len)
    return -ENOMEM; /* len + extra + 1 would wrap */
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > ((size_t)-1) / 2)
      return -ENOMEM;
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p)
    return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int ch_buf_append(struct ch_buf *b, const void *p, size_t n) {
  int rc = ch_buf_reserve(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int ch_buf_read_file(struct ch_buf *b, FILE *f, size_t max) {
  size_t start = b->len;
  for (;;) {
    int rc = ch_buf_reserve(b, 8192);
    if (rc)
      return rc;
    size_t got = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
    b->len += got;
    b->data[b->len] = '\0';
    if (max && b->len - start > max)
      return -EFBIG;
    if (!got)
      return ferror(f) ? -EIO : 0;
  }
}

int ch_buf_puts(struct ch_buf *b, const char *s) { return ch_buf_append(b, s, strlen(s)); }

int ch_buf_putc(struct ch_buf *b, char c) { return ch_buf_append(b, &c, 1); }

int ch_buf_vprintf(struct ch_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return -EINVAL;
  if ((size_t)n < sizeof small)
    return ch_buf_append(b, small, (size_t)n);
  int rc = ch_buf_reserve(b, (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int ch_buf_printf(struct ch_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = ch_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void ch_buf_reset(struct ch_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void ch_buf_free(struct ch_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *ch_buf_steal(struct ch_buf *b) {
  if (!b->data && ch_buf_reserve(b, 0))
    return NULL;
  char *p = b->data;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
