/* Small HTTP helpers shared by the endpoint and the control API. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_srv.h"

int ch_srv_reply(struct lws *wsi, unsigned status, const char *ctype, const char *body, size_t len) {
  size_t cap = LWS_PRE + 1024 + len;
  unsigned char stackbuf[LWS_PRE + 2048];
  unsigned char *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
  if (!buf)
    return -1;
  unsigned char *start = buf + LWS_PRE, *q = start, *end = buf + LWS_PRE + 1024 - 1;
  int rc = -1;
  if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &q, end) ||
      lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                  (const unsigned char *)"nosniff", 7, &q, end) ||
      lws_finalize_http_header(wsi, &q, end))
    goto out;
  memcpy(q, body, len);
  q += len;
  size_t n = (size_t)(q - start);
  rc = lws_write(wsi, start, n, LWS_WRITE_HTTP_FINAL) < (int)n ? -1 : 0;
out:
  if (buf != stackbuf)
    free(buf);
  return rc;
}

void ch_srv_log(const struct ch_server *s, const char *fmt, ...) {
  if (s->o.quiet)
    return;
  va_list ap;
  va_start(ap, fmt);
  fputs("centro-harness serve: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}
