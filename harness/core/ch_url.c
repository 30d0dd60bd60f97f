#include "ch_url.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *url_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

static int url_fail(struct ch_buf *err, const char *what, const char *s) {
  if (err)
    ch_buf_printf(err, "%s, found \"%s\"", what, s);
  return -EINVAL;
}

int ch_url_parse(const char *s, struct ch_url *out, struct ch_buf *err) {
  memset(out, 0, sizeof *out);
  const char *p = strstr(s, "://");
  if (!p)
    return url_fail(err, "expected an absolute URL such as http://host/Centro", s);
  size_t sl = (size_t)(p - s);
  int defport;
  if (sl == 4 && !strncasecmp(s, "http", 4)) {
    defport = 80;
  } else if (sl == 5 && !strncasecmp(s, "https", 5)) {
    defport = 443, out->tls = true;
  } else if (sl == 2 && !strncasecmp(s, "ws", 2)) {
    defport = 80;
  } else if (sl == 3 && !strncasecmp(s, "wss", 3)) {
    defport = 443, out->tls = true;
  } else {
    return url_fail(err, "expected a URL scheme http, https, ws or wss", s);
  }
  if (strpbrk(s, "?#"))
    return url_fail(err, "expected a base URL without query string or fragment", s);
  const char *h = p + 3, *hend, *rest;
  if (*h == '[') {
    hend = strchr(h, ']');
    if (!hend)
      return url_fail(err, "expected ']' closing an IPv6 address", s);
    rest = hend + 1;
    h++;
  } else {
    hend = h + strcspn(h, ":/");
    rest = hend;
  }
  if (hend == h)
    return url_fail(err, "expected a host name", s);
  if (strchr(s, '@') && strchr(s, '@') < (strchr(h, '/') ? strchr(h, '/') : s + strlen(s)))
    return url_fail(err, "expected no user:password in the URL (use --token)", "<redacted>");
  int port = defport;
  if (*rest == ':') {
    char *end;
    long v = strtol(rest + 1, &end, 10);
    if (end == rest + 1 || v < 1 || v > 65535 || (*end && *end != '/'))
      return url_fail(err, "expected a port from 1 to 65535", s);
    port = (int)v;
    rest = end;
  } else if (*rest && *rest != '/') {
    return url_fail(err, "expected '/' or ':' after the host", s);
  }
  size_t pl = strlen(rest);
  while (pl && rest[pl - 1] == '/')
    pl--;
  out->scheme = strdup(out->tls ? "https" : "http");
  out->host = url_strndup(h, (size_t)(hend - h));
  out->path = url_strndup(rest, pl);
  out->port = port;
  if (!out->scheme || !out->host || !out->path) {
    ch_url_free(out);
    return -ENOMEM;
  }
  return 0;
}

void ch_url_free(struct ch_url *u) {
  free(u->scheme);
  free(u->host);
  free(u->path);
  memset(u, 0, sizeof *u);
}

int ch_url_origin(const struct ch_url *u, struct ch_buf *out) {
  bool v6 = strchr(u->host, ':') != NULL;
  return ch_buf_printf(out, "%s://%s%s%s:%d", u->scheme, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}

int ch_pct_encode(struct ch_buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  int rc = ch_buf_reserve(out, n * 3);
  if (rc)
    return rc;
  char *w = out->data + out->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c) || (c && strchr("-_.!~*'()", c))) {
      *w++ = (char)c;
    } else {
      *w++ = '%';
      *w++ = hex[c >> 4];
      *w++ = hex[c & 15];
    }
  }
  out->len = (size_t)(w - out->data);
  out->data[out->len] = '\0';
  return 0;
}

static int url_hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int ch_pct_decode(struct ch_buf *out, const char *s, size_t n, bool plus_is_space) {
  int rc = ch_buf_reserve(out, n);
  if (rc)
    return rc;
  char *w = out->data + out->len;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      int hi, lo;
      if (i + 2 >= n)
        return -EINVAL;
      hi = url_hexval(s[i + 1]);
      lo = url_hexval(s[i + 2]);
      if (hi < 0 || lo < 0)
        return -EINVAL;
      *w++ = (char)(hi << 4 | lo);
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      *w++ = ' ';
    } else {
      *w++ = s[i];
    }
  }
  out->len = (size_t)(w - out->data);
  out->data[out->len] = '\0';
  return 0;
}

int ch_form_get(const char *form, size_t n, const char *name, struct ch_buf *out) {
  size_t nl = strlen(name);
  const char *p = form, *end = form + n;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    const char *ke = eq ? eq : pe;
    if ((size_t)(ke - p) == nl && !memcmp(p, name, nl)) {
      ch_buf_reset(out);
      if (ch_buf_reserve(out, 0))
        return -ENOMEM;
      if (!eq)
        return 1;
      int rc = ch_pct_decode(out, eq + 1, (size_t)(pe - eq - 1), true);
      return rc ? rc : 1;
    }
    p = pe + 1;
  }
  return 0;
}
