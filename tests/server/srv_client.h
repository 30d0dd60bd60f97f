/* Minimal blocking HTTP/1.1 and WebSocket clients over raw loopback sockets, for the server tests. Every read has
   a timeout, so a broken server fails a test instead of hanging it. */
#ifndef SRV_CLIENT_H
#define SRV_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ch_buf.h"
#include "ch_url.h"

struct resp {
  int status;
  struct ch_buf head; /* status line and headers */
  struct ch_buf body;
};

/* The body is exactly the literal, length included (see CH_ASSERT_BYTES). */
#define CH_ASSERT_BODY(r, lit) CH_ASSERT_BYTES((r)->body.data, (r)->body.len, lit)

static inline void resp_free(struct resp *r) {
  ch_buf_free(&r->head);
  ch_buf_free(&r->body);
}

static inline int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static inline int send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads what arrives within timeout_ms (total), appending to b. Returns 1 on EOF, 0 on timeout, -1 on error. */
static inline int read_for(int fd, struct ch_buf *b, int timeout_ms) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int el = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    if (el >= timeout_ms)
      return 0;
    struct pollfd pf = {fd, POLLIN, 0};
    int n = poll(&pf, 1, timeout_ms - el);
    if (n <= 0)
      return n < 0 ? -1 : 0;
    char tmp[16384];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r == 0)
      return 1;
    if (r < 0)
      return errno == EINTR ? 0 : -1;
    ch_buf_append(b, tmp, (size_t)r);
  }
}

/* Reads until `pat` appears in b (or timeout). Returns true when found. */
static inline bool read_until(int fd, struct ch_buf *b, const char *pat, int timeout_ms) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    if (b->data && strstr(b->data, pat))
      return true;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int el = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    if (el >= timeout_ms)
      return false;
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms - el) <= 0)
      return b->data && strstr(b->data, pat);
    char tmp[16384];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0)
      return b->data && strstr(b->data, pat);
    ch_buf_append(b, tmp, (size_t)r);
  }
}

static inline int http_send_req(int fd, const char *method, const char *target, const char *hdrs, const char *body) {
  struct ch_buf q = CH_BUF_INIT;
  ch_buf_printf(&q, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method, target, hdrs ? hdrs : "");
  if (body || strcmp(method, "POST") == 0)
    ch_buf_printf(&q, "Content-Length: %zu\r\n", body ? strlen(body) : 0);
  ch_buf_puts(&q, "\r\n");
  if (body)
    ch_buf_puts(&q, body);
  int rc = send_all(fd, q.data, q.len);
  ch_buf_free(&q);
  return rc;
}

/* Decodes the complete chunks of a chunked body (an incomplete tail is left out). */
static inline void dechunk(const char *b, size_t n, struct ch_buf *out) {
  size_t i = 0;
  while (i < n) {
    char *end;
    unsigned long len = strtoul(b + i, &end, 16);
    const char *crlf = memchr(b + i, '\n', n - i);
    if (!crlf || end == b + i)
      return;
    size_t data = (size_t)(crlf - b) + 1;
    if (len == 0 || data + len + 2 > n)
      return;
    ch_buf_append(out, b + data, len);
    i = data + len + 2;
  }
}

/* Splits raw response bytes into status, head and body. */
static inline void resp_parse(struct resp *r, const struct ch_buf *raw) {
  r->status = 0;
  r->head = (struct ch_buf)CH_BUF_INIT;
  r->body = (struct ch_buf)CH_BUF_INIT;
  if (!raw->data)
    return;
  const char *e = strstr(raw->data, "\r\n\r\n");
  if (!e)
    return;
  ch_buf_append(&r->head, raw->data, (size_t)(e - raw->data) + 2);
  const char *te = strcasestr(r->head.data, "\r\ntransfer-encoding: chunked");
  if (te)
    dechunk(e + 4, raw->len - (size_t)(e + 4 - raw->data), &r->body);
  else
    ch_buf_append(&r->body, e + 4, raw->len - (size_t)(e + 4 - raw->data));
  if (!r->body.data)
    ch_buf_puts(&r->body, "");
  sscanf(raw->data, "HTTP/1.%*d %d", &r->status);
}

/* One request on a fresh connection, read to EOF (5 s at most). */
static inline int http_req(int port, const char *method, const char *target, const char *hdrs, const char *body,
                           struct resp *r) {
  struct ch_buf raw = CH_BUF_INIT;
  int fd = tcp_connect(port);
  int rc = fd < 0 || http_send_req(fd, method, target, hdrs, body) ? -1 : 0;
  if (!rc)
    read_for(fd, &raw, 5000);
  if (fd >= 0)
    close(fd);
  resp_parse(r, &raw);
  ch_buf_free(&raw);
  return rc;
}

/* Header value (case-insensitive name) copied into out; false when absent. */
static inline bool resp_header(const struct resp *r, const char *name, char *out, size_t cap) {
  if (!r->head.data)
    return false;
  size_t n = strlen(name);
  for (const char *l = strstr(r->head.data, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
    const char *h = l + 2;
    if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
      h += n + 1;
      while (*h == ' ')
        h++;
      const char *e = strstr(h, "\r\n");
      size_t len = e ? (size_t)(e - h) : strlen(h);
      snprintf(out, cap, "%.*s", (int)len, h);
      return true;
    }
  }
  return false;
}

/* Extracts the string value of "name" from a flat JSON text (test helper, no escapes). */
static inline bool json_str(const char *json, const char *name, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", name);
  const char *p = json ? strstr(json, pat) : NULL;
  if (!p)
    return false;
  p += strlen(pat);
  const char *e = strchr(p, '"');
  if (!e)
    return false;
  snprintf(out, cap, "%.*s", (int)(e - p), p);
  return true;
}

static inline void pct(const char *s, char *out, size_t cap) {
  struct ch_buf b = CH_BUF_INIT;
  ch_pct_encode(&b, s, strlen(s));
  snprintf(out, cap, "%s", b.data ? b.data : "");
  ch_buf_free(&b);
}

/* ---- WebSocket ---- */

/* Opens a WebSocket on target; returns the fd (101 seen) or -1, with the handshake response in r (if not NULL). */
static inline int ws_open(int port, const char *target, const char *hdrs, struct resp *r) {
  int fd = tcp_connect(port);
  if (fd < 0)
    return -1;
  struct ch_buf q = CH_BUF_INIT, raw = CH_BUF_INIT;
  ch_buf_printf(&q,
                "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                target, hdrs ? hdrs : "");
  send_all(fd, q.data, q.len);
  ch_buf_free(&q);
  /* read the handshake byte by byte so no frame bytes are swallowed */
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!raw.data || !strstr(raw.data, "\r\n\r\n")) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 5000) <= 0)
      break;
    char c;
    if (recv(fd, &c, 1, 0) != 1)
      break;
    ch_buf_append(&raw, &c, 1);
  }
  /* a rejected upgrade carries a body: read it (the server closes or keeps alive; read briefly) */
  struct resp tmp;
  resp_parse(&tmp, &raw);
  if (tmp.status != 101) {
    char cl[32];
    if (resp_header(&tmp, "content-length", cl, sizeof cl)) {
      size_t want = (size_t)atoi(cl);
      while (tmp.body.len < want) {
        struct pollfd pf = {fd, POLLIN, 0};
        char b2[4096];
        if (poll(&pf, 1, 2000) <= 0)
          break;
        ssize_t n = recv(fd, b2, want - tmp.body.len < sizeof b2 ? want - tmp.body.len : sizeof b2, 0);
        if (n <= 0)
          break;
        ch_buf_append(&tmp.body, b2, (size_t)n);
      }
    }
  }
  ch_buf_free(&raw);
  int st = tmp.status;
  if (r)
    *r = tmp;
  else
    resp_free(&tmp);
  if (st != 101) {
    close(fd);
    return -1;
  }
  return fd;
}

static inline int ws_send_op(int fd, int opcode, const void *p, size_t n) {
  unsigned char h[14];
  size_t hl = 0;
  h[hl++] = (unsigned char)(0x80 | opcode);
  if (n < 126) {
    h[hl++] = (unsigned char)(0x80 | n);
  } else if (n < 65536) {
    h[hl++] = 0x80 | 126;
    h[hl++] = (unsigned char)(n >> 8);
    h[hl++] = (unsigned char)n;
  } else {
    h[hl++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
  }
  unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  memcpy(h + hl, mask, 4);
  hl += 4;
  unsigned char *m = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    m[i] = ((const unsigned char *)p)[i] ^ mask[i & 3];
  int rc = send_all(fd, h, hl) || (n && send_all(fd, m, n)) ? -1 : 0;
  free(m);
  return rc;
}

static inline int ws_send(int fd, const char *text) { return ws_send_op(fd, 1, text, strlen(text)); }

static inline int recv_exact(int fd, void *p, size_t n, int timeout_ms) {
  char *c = p;
  while (n) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms) <= 0)
      return 0;
    ssize_t r = recv(fd, c, n, 0);
    if (r <= 0)
      return -1;
    c += r;
    n -= (size_t)r;
  }
  return 1;
}

/* Receives one frame: returns its opcode (1 text, 8 close...), 0 on timeout, -1 when the socket closed. */
static inline int ws_recv(int fd, struct ch_buf *out, int timeout_ms) {
  unsigned char h[2];
  ch_buf_reset(out);
  int rc = recv_exact(fd, h, 2, timeout_ms);
  if (rc <= 0)
    return rc;
  uint64_t len = h[1] & 0x7f;
  if (len == 126) {
    unsigned char e[2];
    if (recv_exact(fd, e, 2, timeout_ms) <= 0)
      return -1;
    len = (uint64_t)e[0] << 8 | e[1];
  } else if (len == 127) {
    unsigned char e[8];
    if (recv_exact(fd, e, 8, timeout_ms) <= 0)
      return -1;
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | e[i];
  }
  ch_buf_reserve(out, (size_t)len);
  if (len && recv_exact(fd, out->data, (size_t)len, timeout_ms) <= 0)
    return -1;
  out->len = (size_t)len;
  out->data[len] = 0;
  return h[0] & 0x0f;
}

/* Receives text frames until one contains pat (skipping keep-alives etc.). */
static inline bool ws_recv_match(int fd, struct ch_buf *out, const char *pat, int timeout_ms) {
  for (int i = 0; i < 1000; i++) {
    int op = ws_recv(fd, out, timeout_ms);
    if (op <= 0 || op == 8)
      return false;
    if (out->data && strstr(out->data, pat))
      return true;
  }
  return false;
}

#endif /* SRV_CLIENT_H */
