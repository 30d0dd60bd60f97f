/* ch_url: target URLs, percent-encoding and application/x-www-form-urlencoded decoding. */
#ifndef CH_URL_H
#define CH_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "ch_buf.h"

/* A parsed base URL such as http://localhost:8080/Centro. Owns its strings. */
struct ch_url {
  char *scheme;  /* "http" or "https" ("ws"/"wss" are mapped to these) */
  char *host;    /* without brackets for IPv6 */
  int port;      /* explicit or the scheme default */
  char *path;    /* the base path without a trailing slash: "" or "/Centro" */
  bool tls;
};

/* Parses an absolute http(s)/ws(s) URL. On error returns -EINVAL and writes a message naming what was expected and
   what was found into err (if not NULL). Query strings and fragments are refused: a base URL has none. */
int ch_url_parse(const char *s, struct ch_url *out, struct ch_buf *err);
void ch_url_free(struct ch_url *u);
/* "http://host:port" (or https), brackets around IPv6 hosts. */
int ch_url_origin(const struct ch_url *u, struct ch_buf *out);

/* Percent-encodes like JavaScript's encodeURIComponent: keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ). */
int ch_pct_encode(struct ch_buf *out, const char *s, size_t n);
/* Decodes %XX and, when plus_is_space, '+' as a space (form encoding). Returns -EINVAL on a bad escape. */
int ch_pct_decode(struct ch_buf *out, const char *s, size_t n, bool plus_is_space);

/* Finds `name` in a query string or form body (a=1&b=2, no leading '?') and decodes its value into out.
   Returns 1 when found, 0 when absent, -EINVAL on a bad escape. Name comparison is exact. */
int ch_form_get(const char *form, size_t n, const char *name, struct ch_buf *out);

#endif /* CH_URL_H */
