/* The live HTTP responder: listeners, one-request connections, event streams, publication hand-over. */
#include "ch_live_http.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ch_prom.h"

#define REQ_MAX 16384          /* a request head larger than this is refused */
#define SSE_BACKLOG (8u << 20) /* an event stream this far behind is closed (a stalled page must not hold memory) */

struct conn {
  uv_tcp_t tcp;
  struct ch_live_http *h;
  int listener; /* 0 metrics, 1 dashboard */
  struct ch_buf in;
  bool sse, closing, done;
  struct conn *prev, *next; /* every open connection */
};

struct wreq {
  uv_write_t req;
  struct conn *c;
  char *data;
  struct ch_live_pub *pub; /* referenced instead of copied (may be NULL) */
  bool close_after, sse;
};

struct ch_live_http {
  uv_loop_t loop;
  uv_tcp_t lis[2];
  bool lis_on[2];
  int port[2];
  uv_async_t wake, quit;
  pthread_t thread;
  bool running;
  bool allow_stop;
  char *page;
  struct conn *conns;
  struct ch_live_pub *cur;                /* HTTP thread only */
  _Atomic(struct ch_live_pub *) pending;  /* handed over by the owner */
  atomic_uint sse_inflight;               /* event writes not yet completed */
};

void ch_live_pub_free(struct ch_live_pub *p) {
  if (!p)
    return;
  ch_buf_free(&p->prom);
  ch_buf_free(&p->om);
  ch_buf_free(&p->event);
  ch_buf_free(&p->end_event);
  ch_buf_free(&p->report);
  free(p);
}

static void pub_unref(struct ch_live_pub *p) {
  if (p && --p->refs == 0)
    ch_live_pub_free(p);
}

int ch_live_parse_listen(const char *s, char *host, size_t cap, int *port) {
  const char *colon = s ? strrchr(s, ':') : NULL;
  const char *ps = colon ? colon + 1 : s;
  char *end;
  if (!s || !*ps)
    return -EINVAL;
  long p = strtol(ps, &end, 10);
  if (*end || p < 0 || p > 65535)
    return -EINVAL;
  *port = (int)p;
  size_t hl = colon ? (size_t)(colon - s) : 0;
  if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']')
    s++, hl -= 2;
  if (!hl || (hl == 9 && strncmp(s, "localhost", 9) == 0))
    s = "127.0.0.1", hl = 9; /* loopback unless told otherwise */
  if (hl >= cap)
    return -EINVAL;
  memcpy(host, s, hl);
  host[hl] = 0;
  return 0;
}

/* ---- connections ---- */

static void conn_closed(uv_handle_t *hd) {
  struct conn *c = hd->data;
  ch_buf_free(&c->in);
  free(c);
}

static void conn_close(struct conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->h->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void write_done(uv_write_t *req, int status) {
  struct wreq *w = (struct wreq *)req;
  if (w->sse)
    atomic_fetch_sub(&w->c->h->sse_inflight, 1);
  if (w->pub)
    pub_unref(w->pub);
  free(w->data);
  if ((status || w->close_after) && !w->c->closing)
    conn_close(w->c);
  free(w);
}

/* Writes head (copied) and then body (borrowed from pub, which is referenced until written). */
static void conn_write(struct conn *c, const char *head, size_t hn, struct ch_live_pub *pub, const struct ch_buf *body,
                       bool close_after, bool sse) {
  if (c->closing)
    return;
  struct wreq *w = calloc(1, sizeof *w);
  char *d = hn ? malloc(hn) : NULL;
  if (!w || (hn && !d)) {
    free(w), free(d);
    conn_close(c);
    return;
  }
  if (hn)
    memcpy(d, head, hn);
  w->c = c;
  w->data = d;
  w->close_after = close_after;
  w->sse = sse;
  uv_buf_t bufs[2];
  unsigned nb = 0;
  if (hn)
    bufs[nb++] = uv_buf_init(d, (unsigned)hn);
  if (body && body->len) {
    bufs[nb++] = uv_buf_init(body->data, (unsigned)body->len);
    w->pub = pub;
    pub->refs++;
  }
  if (sse)
    atomic_fetch_add(&c->h->sse_inflight, 1);
  if (nb == 0 || uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, nb, write_done)) {
    if (sse)
      atomic_fetch_sub(&c->h->sse_inflight, 1);
    if (w->pub)
      pub_unref(w->pub);
    free(d), free(w);
    conn_close(c);
  }
}

static void respond(struct conn *c, int status, const char *reason, const char *ctype, struct ch_live_pub *pub,
                    const struct ch_buf *body, const char *text) {
  struct ch_buf own = CH_BUF_INIT, head = CH_BUF_INIT;
  if (text) {
    ch_buf_puts(&own, text);
    body = &own;
  }
  size_t len = body ? body->len : 0;
  ch_buf_printf(&head,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                "Connection: close\r\n\r\n",
                status, reason, ctype, len);
  if (text) { /* a short text: one buffer */
    ch_buf_append(&head, own.data ? own.data : "", own.len);
    conn_write(c, head.data, head.len, NULL, NULL, true, false);
  } else {
    conn_write(c, head.data, head.len, pub, body, true, false);
  }
  ch_buf_free(&head);
  ch_buf_free(&own);
  c->done = true;
}

static void send_event(struct conn *c, struct ch_live_pub *p, const struct ch_buf *ev) {
  if (!ev->len || c->closing)
    return;
  if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > SSE_BACKLOG) {
    conn_close(c);
    return;
  }
  conn_write(c, NULL, 0, p, ev, false, true);
}

static bool accepts_om(const char *head) {
  for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
    if (strncasecmp(l + 2, "Accept:", 7))
      continue;
    const char *e = strstr(l + 2, "\r\n");
    const char *m = strstr(l + 2, "application/openmetrics-text");
    return m && (!e || m < e);
  }
  return false;
}

static void handle(struct conn *c, char *head) {
  struct ch_live_http *h = c->h;
  char method[8] = "", path[256] = "";
  if (sscanf(head, "%7s %255s HTTP/1.", method, path) != 2) {
    respond(c, 400, "Bad Request", "text/plain; charset=utf-8", NULL, NULL, "bad request\n");
    return;
  }
  char *q = strchr(path, '?');
  if (q)
    *q = 0;
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0, post = strcmp(method, "POST") == 0;
  bool dash = h->page != NULL;
  if (strcmp(path, "/metrics") == 0 && get) {
    bool om = accepts_om(head);
    respond(c, 200, "OK", om ? CH_PROM_CT_OM : CH_PROM_CT_TEXT, h->cur, om ? &h->cur->om : &h->cur->prom, NULL);
  } else if (strcmp(path, "/") == 0 && get) {
    if (dash)
      respond(c, 200, "OK", "text/html; charset=utf-8", NULL, NULL, h->page);
    else
      respond(c, 200, "OK", "text/plain; charset=utf-8", NULL, NULL, "centro-harness: see /metrics\n");
  } else if (dash && strcmp(path, "/events") == 0 && get) {
    static const char hd[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                             "X-Accel-Buffering: no\r\n\r\nretry: 1000\n\n";
    conn_write(c, hd, sizeof hd - 1, NULL, NULL, false, false);
    c->sse = true;
    c->done = true;
    send_event(c, h->cur, &h->cur->event); /* opened mid-run: the state of now at once */
    send_event(c, h->cur, &h->cur->end_event);
  } else if (dash && strcmp(path, "/stop") == 0) {
    if (!post)
      respond(c, 405, "Method Not Allowed", "text/plain; charset=utf-8", NULL, NULL, "POST /stop\n");
    else if (!h->allow_stop)
      respond(c, 403, "Forbidden", "text/plain; charset=utf-8", NULL, NULL,
              "stopping from the dashboard is off: start the run with --dashboard-allow-stop\n");
    else {
      kill(getpid(), SIGINT); /* the path Ctrl-C takes: the run stops gracefully and writes its report */
      respond(c, 202, "Accepted", "text/plain; charset=utf-8", NULL, NULL, "stopping gracefully\n");
    }
  } else if (dash && strcmp(path, "/report") == 0 && get) {
    if (h->cur->report.len)
      respond(c, 200, "OK", "text/html; charset=utf-8", h->cur, &h->cur->report, NULL);
    else
      respond(c, 404, "Not Found", "text/plain; charset=utf-8", NULL, NULL, "no report yet: the run is going on\n");
  } else {
    respond(c, 404, "Not Found", "text/plain; charset=utf-8", NULL, NULL, "not found\n");
  }
}

static void on_alloc(uv_handle_t *hd, size_t sz, uv_buf_t *buf) {
  struct conn *c = hd->data;
  (void)sz;
  if (ch_buf_reserve(&c->in, 4096)) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct conn *c = s->data;
  (void)buf;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (c->done)
    return; /* a request body or a pipelined request: ignored, the connection closes after the answer */
  c->in.len += (size_t)n;
  c->in.data[c->in.len] = 0;
  if (strstr(c->in.data, "\r\n\r\n"))
    handle(c, c->in.data);
  else if (c->in.len > REQ_MAX)
    respond(c, 431, "Request Header Fields Too Large", "text/plain; charset=utf-8", NULL, NULL, "too large\n");
}

static void on_conn(uv_stream_t *server, int status) {
  struct ch_live_http *h = server->data;
  if (status < 0)
    return;
  struct conn *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->h = h;
  c->listener = (uv_tcp_t *)server == &h->lis[1];
  uv_tcp_init(&h->loop, &c->tcp);
  c->tcp.data = c;
  c->next = h->conns;
  if (h->conns)
    h->conns->prev = c;
  h->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
    conn_close(c);
}

/* ---- hand-over and life cycle ---- */

static void on_wake(uv_async_t *a) {
  struct ch_live_http *h = a->data;
  struct ch_live_pub *p = atomic_exchange(&h->pending, NULL);
  if (!p)
    return;
  p->refs = 1;
  pub_unref(h->cur);
  h->cur = p;
  for (struct conn *c = h->conns, *n; c; c = n) {
    n = c->next;
    if (c->sse) {
      send_event(c, p, &p->event);
      send_event(c, p, &p->end_event);
    }
  }
}

static void close_walk(uv_handle_t *hd, void *arg) {
  (void)arg;
  if (!uv_is_closing(hd)) /* listeners and wake-ups only: connections were closed by on_quit */
    uv_close(hd, NULL);
}

static void on_quit(uv_async_t *a) {
  struct ch_live_http *h = a->data;
  while (h->conns)
    conn_close(h->conns);
  for (int i = 0; i < 2; i++)
    if (h->lis_on[i])
      uv_close((uv_handle_t *)&h->lis[i], NULL);
  uv_close((uv_handle_t *)&h->wake, NULL);
  uv_close((uv_handle_t *)&h->quit, NULL);
}

static void *http_main(void *arg) {
  struct ch_live_http *h = arg;
  uv_run(&h->loop, UV_RUN_DEFAULT);
  return NULL;
}

static int listen_on(struct ch_live_http *h, int i, const char *spec, struct ch_buf *err) {
  char host[128];
  int port;
  if (ch_live_parse_listen(spec, host, sizeof host, &port)) {
    ch_buf_printf(err, "%s: expected HOST:PORT, found \"%s\"", i ? "--dashboard" : "--metrics-listen", spec);
    return -EINVAL;
  }
  struct sockaddr_storage sa;
  int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa)
                             : uv_ip4_addr(host, port, (struct sockaddr_in *)&sa);
  if (rc) {
    ch_buf_printf(err, "%s: \"%s\" is not a numeric IP address", i ? "--dashboard" : "--metrics-listen", host);
    return -EINVAL;
  }
  uv_tcp_init(&h->loop, &h->lis[i]);
  h->lis[i].data = h;
  h->lis_on[i] = true;
  if ((rc = uv_tcp_bind(&h->lis[i], (struct sockaddr *)&sa, 0)) == 0)
    rc = uv_listen((uv_stream_t *)&h->lis[i], 64, on_conn);
  if (rc) {
    ch_buf_printf(err, "%s: cannot listen on %s:%d: %s", i ? "--dashboard" : "--metrics-listen", host, port,
                  uv_strerror(rc));
    return rc;
  }
  struct sockaddr_storage got;
  int len = sizeof got;
  uv_tcp_getsockname(&h->lis[i], (struct sockaddr *)&got, &len);
  h->port[i] = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                               : ((struct sockaddr_in *)&got)->sin_port);
  return 0;
}

static void http_free(struct ch_live_http *h) {
  uv_walk(&h->loop, close_walk, NULL);
  uv_run(&h->loop, UV_RUN_DEFAULT);
  uv_loop_close(&h->loop);
  pub_unref(h->cur);
  ch_live_pub_free(atomic_exchange(&h->pending, NULL));
  free(h->page);
  free(h);
}

int ch_live_http_start(const struct ch_live_http_opts *o, struct ch_live_http **out, struct ch_buf *err) {
  *out = NULL;
  struct ch_live_http *h = calloc(1, sizeof *h);
  struct ch_live_pub *empty = calloc(1, sizeof *empty);
  if (!h || !empty || (o->page && !(h->page = strdup(o->page)))) {
    free(h), free(empty);
    ch_buf_puts(err, "out of memory");
    return -ENOMEM;
  }
  int rc = uv_loop_init(&h->loop);
  if (rc) {
    free(h->page), free(h), free(empty);
    ch_buf_printf(err, "cannot start the metrics thread: %s", uv_strerror(rc));
    return rc;
  }
  empty->refs = 1;
  struct ch_prom p0 = {&empty->prom, false}, p1 = {&empty->om, true};
  ch_prom_finish(&p0); /* before the first second: an empty but valid exposition */
  ch_prom_finish(&p1);
  h->cur = empty;
  h->allow_stop = o->allow_stop;
  h->port[0] = h->port[1] = -1;
  atomic_init(&h->pending, NULL);
  atomic_init(&h->sse_inflight, 0);
  uv_async_init(&h->loop, &h->wake, on_wake);
  uv_async_init(&h->loop, &h->quit, on_quit);
  h->wake.data = h->quit.data = h;
  if (o->metrics_listen && (rc = listen_on(h, 0, o->metrics_listen, err)) != 0)
    goto fail;
  if (o->dashboard_listen && (rc = listen_on(h, 1, o->dashboard_listen, err)) != 0)
    goto fail;
  if ((rc = pthread_create(&h->thread, NULL, http_main, h)) != 0) {
    ch_buf_printf(err, "cannot start the metrics thread: %s", strerror(rc));
    rc = -rc;
    goto fail;
  }
  h->running = true;
  *out = h;
  return 0;
fail:
  http_free(h);
  return rc;
}

int ch_live_http_port(const struct ch_live_http *h, int which) { return h && which >= 0 && which < 2 ? h->port[which] : -1; }

void ch_live_http_publish(struct ch_live_http *h, struct ch_live_pub *p) {
  if (!h) {
    ch_live_pub_free(p);
    return;
  }
  ch_live_pub_free(atomic_exchange(&h->pending, p)); /* one the HTTP thread never took */
  uv_async_send(&h->wake);
}

void ch_live_http_flush(struct ch_live_http *h, unsigned timeout_ms) {
  for (unsigned waited = 0; h && waited < timeout_ms; waited += 10) {
    if (!atomic_load(&h->pending) && !atomic_load(&h->sse_inflight))
      return;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
}

void ch_live_http_stop(struct ch_live_http *h) {
  if (!h)
    return;
  if (h->running) {
    uv_async_send(&h->quit);
    pthread_join(h->thread, NULL);
  }
  http_free(h);
}
