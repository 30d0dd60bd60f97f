/* ch_tls_conn: TLS client connections on a uv_poll, OpenSSL on the descriptor. See ch_tls_conn.h.
   Why not lws: lws 4.1.6 cannot tear down a raw TLS socket on libuv, and its WebSocket client parses frames per
   byte. Why not memory BIOs over uv_tcp: two copies per record and a uv_tcp_t (plus read buffers) per connection;
   here OpenSSL reads the socket itself and SSL_MODE_RELEASE_BUFFERS frees its record buffers while idle, so an
   idle connection is the SSL object, a uv_poll, a uv_timer and this struct. */
#include "ch_tls_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ch_clock.h"
#include "ch_tls.h"
#include "ch_worker.h"

#define TLSC_CONNECT_TIMEOUT_MS 30000 /* TCP connect + TLS handshake, as lws's connect_timeout_secs */
#define TLSC_RBUF 65536               /* per worker: one read takes a whole batched frame */

enum tlsc_state { TLSC_TCP, TLSC_HANDSHAKE, TLSC_OPEN, TLSC_DEAD };

struct ch_tls_conn {
  uv_poll_t poll;
  uv_timer_t timer;
  struct ch_worker *w;
  const struct ch_tls_conn_events *ev;
  void *owner; /* NULL once detached */
  SSL *ssl;
  int fd;
  enum tlsc_state st;
  int handles; /* uv handles still to close before the struct is freed */
  int poll_events; /* what the uv_poll watches now: uv_poll_start again only on a change (each is an epoll_ctl) */
  bool want_write, in_event, shut_clean;
  bool close_req;      /* close from the loop at once (ch__tlsc_close, a failed write) */
  bool close_at_timer; /* close when the timer fires (ch__tlsc_close_within) */
  struct ch_buf out; /* bytes SSL_write has not taken yet */
  uint64_t hs_start;
  enum ch_tls_resume if_full; /* the cache miss cause should the handshake be full */
  char why[160]; /* a failure found inside a call, reported from the loop */
};

static void tlsc_handle_closed(uv_handle_t *h) {
  struct ch_tls_conn *c = h->data;
  if (--c->handles == 0)
    free(c);
}

/* Releases everything; the struct goes when both handles are closed. */
static void tlsc_teardown(struct ch_tls_conn *c) {
  if (c->st == TLSC_DEAD)
    return;
  if (c->ssl) {
    if (c->shut_clean && c->st == TLSC_OPEN) {
      ERR_clear_error();
      SSL_shutdown(c->ssl); /* one close_notify, not waited for */
    }
    SSL_free(c->ssl);
    c->ssl = NULL;
    ERR_clear_error();
  }
  c->st = TLSC_DEAD;
  ch_buf_free(&c->out);
  uv_close((uv_handle_t *)&c->poll, tlsc_handle_closed);
  uv_close((uv_handle_t *)&c->timer, tlsc_handle_closed);
  if (c->fd >= 0)
    close(c->fd); /* after uv_close, which has taken the descriptor out of epoll */
  c->fd = -1;
}

/* Ends the connection from the loop: closed reaches the owner (why NULL: requested). */
static void tlsc_end(struct ch_tls_conn *c, const char *why) {
  bool was = c->st == TLSC_OPEN;
  void *owner = c->owner;
  c->owner = NULL;
  c->shut_clean = why == NULL;
  tlsc_teardown(c);
  if (owner)
    c->ev->closed(owner, was, why);
}

static void tlsc_update_poll(struct ch_tls_conn *c, bool want_write);
static void tlsc_poll_cb(uv_poll_t *p, int status, int events);

/* After an owner's event: true when the connection ended (detached, failed or closed during it). */
static bool tlsc_after_event(struct ch_tls_conn *c, int rc) {
  c->in_event = false;
  if (c->st == TLSC_DEAD)
    return true;
  if (rc || c->close_req) {
    tlsc_end(c, rc ? "" : c->why[0] ? c->why : NULL);
    return true;
  }
  return false;
}

/* What SSL wants after a non-positive return: 0 to wait (poll updated), -1 failed (why filled). */
static int tlsc_ssl_wait(struct ch_tls_conn *c, int ret, const char *what) {
  int e = SSL_get_error(c->ssl, ret);
  if (e == SSL_ERROR_WANT_READ) {
    tlsc_update_poll(c, c->out.len > 0 || c->want_write);
    return 0;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    tlsc_update_poll(c, true);
    return 0;
  }
  if (c->st == TLSC_HANDSHAKE) {
    ch__tls_error(c->ssl, e, c->why, sizeof c->why);
  } else if (e == SSL_ERROR_ZERO_RETURN) {
    snprintf(c->why, sizeof c->why, "ws: connection closed by the server (TLS close_notify)");
  } else if (e == SSL_ERROR_SYSCALL && !ERR_peek_last_error()) {
    snprintf(c->why, sizeof c->why, "ws: connection closed by the server");
  } else {
    char t[120];
    ch__tls_error(c->ssl, e, t, sizeof t);
    snprintf(c->why, sizeof c->why, "ws: %s failed: %s", what, t);
  }
  ERR_clear_error();
  return -1;
}

static void tlsc_update_poll(struct ch_tls_conn *c, bool want_write) {
  if (c->st == TLSC_DEAD)
    return;
  int ev = UV_READABLE | (want_write ? UV_WRITABLE : 0);
  if (c->st == TLSC_TCP)
    ev = UV_WRITABLE;
  if (ev == c->poll_events)
    return;
  c->poll_events = ev;
  uv_poll_start(&c->poll, ev, tlsc_poll_cb);
}

/* Writes what is queued. 0 (all written or waiting), -1 failed. */
static int tlsc_flush(struct ch_tls_conn *c) {
  while (c->out.len) {
    ERR_clear_error();
    int n = SSL_write(c->ssl, c->out.data, (int)(c->out.len > 1u << 30 ? 1u << 30 : c->out.len));
    if (n <= 0)
      return tlsc_ssl_wait(c, n, "write");
    memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
    c->out.len -= (size_t)n;
  }
  if (c->out.cap > 16384)
    ch_buf_free(&c->out);
  return 0;
}

static void tlsc_handshake(struct ch_tls_conn *c) {
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (r != 1) {
    if (tlsc_ssl_wait(c, r, "handshake"))
      tlsc_end(c, c->why);
    return;
  }
  c->st = TLSC_OPEN;
  uv_timer_stop(&c->timer);
  ch__tls_handshake_done(c->ssl);
  c->in_event = true;
  enum ch_tls_resume how = SSL_session_reused(c->ssl) == 1 ? CH_TLS_RESUMED : c->if_full;
  if (tlsc_after_event(c, c->ev->connected(c->owner, how, ch_now_ns() - c->hs_start)))
    return;
  if (tlsc_flush(c))
    tlsc_end(c, c->why);
  else
    tlsc_update_poll(c, c->out.len > 0 || c->want_write);
}

static void tlsc_tcp_done(struct ch_tls_conn *c) {
  int err = 0;
  socklen_t el = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
    err = errno;
  if (err) {
    snprintf(c->why, sizeof c->why, "connect: %s", strerror(err));
    tlsc_end(c, c->why);
    return;
  }
  if (!SSL_set_fd(c->ssl, c->fd)) {
    snprintf(c->why, sizeof c->why, "connect: TLS setup failed");
    tlsc_end(c, c->why);
    return;
  }
  c->st = TLSC_HANDSHAKE;
  c->hs_start = ch_now_ns();
  tlsc_handshake(c);
}

static void tlsc_read(struct ch_tls_conn *c) {
  struct ch_worker *w = c->w;
  if (!w->tls_rbuf && !(w->tls_rbuf = malloc(TLSC_RBUF))) {
    tlsc_end(c, "ws: out of memory");
    return;
  }
  ERR_clear_error(); /* once: a WANT_READ pushes nothing, and any other result ends the connection */
  for (;;) {
    int n = SSL_read(c->ssl, w->tls_rbuf, TLSC_RBUF);
    if (n <= 0) {
      if (tlsc_ssl_wait(c, n, "read")) {
        tlsc_end(c, c->why);
        return;
      }
      /* the read that found the socket empty allocated a record buffer (SSL_MODE_RELEASE_BUFFERS frees only after
         a record): an idle connection must not keep 17 kB */
      if (!c->out.len)
        SSL_free_buffers(c->ssl);
      return;
    }
    c->in_event = true;
    if (tlsc_after_event(c, c->ev->rx(c->owner, w->tls_rbuf, (size_t)n)))
      return;
    /* nothing buffered: the socket is drained or holds more, and then the level-triggered poll calls again; no
       read() that only finds it empty (one syscall per wake-up saved) */
    if (!SSL_has_pending(c->ssl)) {
      if (!c->out.len)
        SSL_free_buffers(c->ssl); /* an idle connection keeps no record buffer (see above) */
      return;
    }
  }
}

static void tlsc_poll_cb(uv_poll_t *p, int status, int events) {
  struct ch_tls_conn *c = p->data;
  if (c->st == TLSC_DEAD)
    return;
  if (c->st == TLSC_TCP) {
    tlsc_tcp_done(c); /* SO_ERROR tells a failed connect, status too */
    return;
  }
  if (status < 0 && c->st == TLSC_HANDSHAKE) {
    snprintf(c->why, sizeof c->why, "connect: %s", uv_strerror(status));
    tlsc_end(c, c->why);
    return;
  }
  if (c->st == TLSC_HANDSHAKE) {
    tlsc_handshake(c);
    return;
  }
  if (events & UV_WRITABLE) {
    if (tlsc_flush(c)) {
      tlsc_end(c, c->why);
      return;
    }
    if (!c->out.len && c->want_write) {
      c->want_write = false;
      c->in_event = true;
      if (tlsc_after_event(c, c->ev->writable(c->owner)))
        return;
    }
  }
  if (events & UV_READABLE || status < 0) {
    tlsc_read(c);
    if (c->st == TLSC_DEAD)
      return;
  }
  tlsc_update_poll(c, c->out.len > 0 || c->want_write);
}

static void tlsc_timer_cb(uv_timer_t *t) {
  struct ch_tls_conn *c = t->data;
  if (c->close_req || c->close_at_timer) {
    tlsc_end(c, c->why[0] ? c->why : NULL);
    return;
  }
  snprintf(c->why, sizeof c->why, c->st == TLSC_TCP ? "connect: timed out" : "connect: TLS handshake timed out");
  tlsc_end(c, c->why);
}

/* A literal address at once; a name through getaddrinfo (blocking, as lws 4.1 without async DNS), the last one per
   worker remembered. */
static int tlsc_resolve(struct ch_worker *w, const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                        char *why, size_t why_size) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    *len = sizeof *s6;
    return 0;
  }
  if (!w->dns_host || strcmp(w->dns_host, host)) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc || !res) {
      snprintf(why, why_size, "connect: cannot resolve %s: %s", host, gai_strerror(rc));
      return -EHOSTUNREACH;
    }
    free(w->dns_host);
    w->dns_host = strdup(host);
    memcpy(&w->dns_addr, res->ai_addr, res->ai_addrlen);
    w->dns_len = res->ai_addrlen;
    freeaddrinfo(res);
    if (!w->dns_host)
      return -ENOMEM;
  }
  memcpy(ss, &w->dns_addr, w->dns_len);
  *len = w->dns_len;
  if (ss->ss_family == AF_INET)
    s4->sin_port = htons((uint16_t)port);
  else
    s6->sin6_port = htons((uint16_t)port);
  return 0;
}

int ch__tlsc_open(struct ch_worker *w, const char *host, int port, const char *source_addr,
                  const struct ch_tls_conn_events *ev, void *owner, struct ch_tls_conn **out, char *why,
                  size_t why_size) {
  *out = NULL;
  if (!w->tls) {
    snprintf(why, why_size, "connect: TLS is not set up in this engine");
    return -ENOTSUP;
  }
  struct sockaddr_storage ss;
  socklen_t sl;
  int rc = tlsc_resolve(w, host, port, &ss, &sl, why, why_size);
  if (rc)
    return rc;
  struct ch_tls_conn *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  c->w = w;
  c->ev = ev;
  c->owner = owner;
  c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    rc = -errno;
    snprintf(why, why_size, "connect: socket: %s", strerror(errno));
    free(c);
    return rc;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source_addr) {
    struct sockaddr_storage src;
    socklen_t srcl;
    char tmp[8];
    if (tlsc_resolve(w, source_addr, 0, &src, &srcl, tmp, sizeof tmp) || bind(c->fd, (struct sockaddr *)&src, srcl)) {
      snprintf(why, why_size, "connect: cannot bind %s: %s", source_addr, strerror(errno));
      close(c->fd);
      free(c);
      return -EADDRNOTAVAIL;
    }
  }
  if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
    rc = -errno;
    snprintf(why, why_size, "connect: %s", strerror(errno));
    close(c->fd);
    free(c);
    return rc;
  }
  if (!(c->ssl = ch__tls_ssl_new(w->tls, host, port, &c->if_full))) {
    snprintf(why, why_size, "connect: TLS setup failed");
    close(c->fd);
    free(c);
    return -ENOMEM;
  }
  if (uv_poll_init_socket(&w->loop, &c->poll, c->fd) != 0) {
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
    snprintf(why, why_size, "connect: cannot watch the socket");
    return -EIO;
  }
  uv_timer_init(&w->loop, &c->timer);
  c->poll.data = c->timer.data = c;
  c->handles = 2;
  c->st = TLSC_TCP;
  c->poll_events = UV_WRITABLE;
  uv_poll_start(&c->poll, UV_WRITABLE, tlsc_poll_cb);
  uv_timer_start(&c->timer, tlsc_timer_cb, TLSC_CONNECT_TIMEOUT_MS, 0);
  *out = c;
  return 0;
}

int ch__tlsc_write(struct ch_tls_conn *c, const char *p, size_t n) {
  if (c->st == TLSC_DEAD || c->close_req)
    return -1;
  if (ch_buf_append(&c->out, p, n) != 0)
    return -1;
  if (c->st != TLSC_OPEN)
    return 0; /* written once the handshake is done */
  if (tlsc_flush(c)) {
    /* reported from the loop: no event inside a call */
    c->close_req = true;
    uv_timer_start(&c->timer, tlsc_timer_cb, 0, 0);
    return -1;
  }
  return 0;
}

void ch__tlsc_want_write(struct ch_tls_conn *c) {
  if (c->st == TLSC_DEAD)
    return;
  c->want_write = true;
  if (c->st == TLSC_OPEN && !c->in_event)
    tlsc_update_poll(c, true);
  else if (c->st == TLSC_OPEN && c->poll_events != (UV_READABLE | UV_WRITABLE)) {
    c->poll_events = UV_READABLE | UV_WRITABLE;
    uv_poll_start(&c->poll, c->poll_events, tlsc_poll_cb);
  }
}

void ch__tlsc_close_within(struct ch_tls_conn *c, unsigned ms) {
  if (c->st == TLSC_DEAD || c->close_req)
    return;
  /* until the timer fires reads and writes go on: the server's close answer usually ends it first */
  c->close_at_timer = true;
  uv_timer_start(&c->timer, tlsc_timer_cb, ms, 0);
}

void ch__tlsc_close(struct ch_tls_conn *c) {
  if (c->st == TLSC_DEAD || c->close_req)
    return;
  c->close_req = true;
  c->why[0] = '\0';
  uv_timer_start(&c->timer, tlsc_timer_cb, 0, 0);
}

void ch__tlsc_detach(struct ch_tls_conn *c) {
  if (!c)
    return;
  c->owner = NULL;
  c->shut_clean = false;
  tlsc_teardown(c);
}
