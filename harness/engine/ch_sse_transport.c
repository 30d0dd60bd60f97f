/* ch_sse_transport: the serverSentEvents transport (protocol §1.2, §4.2, §8). The receive channel is one streamed
   `GET {Url}/connect|reconnect?transport=serverSentEvents...` on the worker's curl multi, parsed incrementally
   (ch_sse.h: LF, CRLF or CR line ends, chunk boundaries anywhere). The first event must be `data: initialized`
   (on connect and on reconnect); it opens the channel, as EventSource's open does for the official clients.
   Every later event is one frame for the client (`{}` is the keep-alive). Sends are POST /send (ch_fallback.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_fallback.h"
#include "ch_worker.h"

#define SSE_MAX_PREAMBLE 65536u /* bytes allowed before "initialized" (an HTML error page is not a stream) */
#define SSE_CONNECT_TIMEOUT_MS 30000u

/* ---------------------------------------------------------------- receive state (no network) */

static int rx_fail(struct ch_sse_rx *rx, int rc, const char *msg) {
  if (!rx->failed) {
    rx->failed = rc;
    snprintf(rx->err, sizeof rx->err, "%s", msg);
  }
  return rc;
}

static int rx_on_event(void *user, const char *data, size_t n) {
  struct ch_sse_rx *rx = user;
  bool init = n == 11 && memcmp(data, "initialized", 11) == 0;
  if (!rx->initialized) {
    if (!init)
      return rx_fail(rx, -EPROTO, "sse: the first event is not \"initialized\"");
    rx->initialized = rx->init_pending = true;
    return 0;
  }
  if (init)
    return 0; /* both official clients ignore it */
  if (rx->q_off == rx->q.len) {
    ch_buf_reset(&rx->q);
    rx->q_off = 0;
  }
  if (rx->q.len - rx->q_off + n + 12 > rx->max_queue)
    return rx_fail(rx, -ENOBUFS, "sse: events arrive faster than they are consumed");
  uint32_t len = (uint32_t)n;
  uint64_t ns = ch_now_ns();
  size_t old = rx->q.len;
  if (ch_buf_append(&rx->q, &len, sizeof len) != 0 || ch_buf_append(&rx->q, &ns, sizeof ns) != 0 ||
      ch_buf_append(&rx->q, data, n) != 0) {
    rx->q.len = old;
    return rx_fail(rx, -ENOMEM, "sse: out of memory");
  }
  return 0;
}

int ch_sse_rx_init(struct ch_sse_rx *rx, size_t max_event) {
  memset(rx, 0, sizeof *rx);
  if (!max_event)
    max_event = CH_SSE_DEFAULT_MAX_EVENT;
  if (max_event > UINT32_MAX - 64)
    return -EINVAL;
  rx->max_queue = 4 * max_event + 65536;
  return ch_sse_init(&rx->parser, max_event, rx_on_event, rx);
}

int ch_sse_rx_feed(struct ch_sse_rx *rx, const char *p, size_t n) {
  if (rx->failed)
    return rx->failed;
  bool before = !rx->initialized;
  int rc = ch_sse_feed(&rx->parser, p, n);
  if (rc && !rx->failed)
    return rx_fail(rx, rc, ch_sse_error(&rx->parser)[0] ? ch_sse_error(&rx->parser) : "sse: malformed stream");
  if (rc)
    return rx->failed;
  if (before && !rx->initialized) {
    rx->pre_bytes += n;
    if (rx->pre_bytes > SSE_MAX_PREAMBLE)
      return rx_fail(rx, -EPROTO, "sse: no \"initialized\" event in the first 64 KiB (not an event stream)");
  }
  return 0;
}

int ch_sse_rx_next(struct ch_sse_rx *rx, const char **p, size_t *n) {
  if (rx->q_off + 12 > rx->q.len)
    return 0;
  uint32_t len;
  memcpy(&len, rx->q.data + rx->q_off, sizeof len);
  *p = rx->q.data + rx->q_off + 12;
  *n = len;
  rx->q_off += 12 + (size_t)len;
  return 1;
}

/* Receive time of the event ch_sse_rx_next will return next (0 when none). */
static uint64_t rx_peek_ns(const struct ch_sse_rx *rx) {
  if (rx->q_off + 12 > rx->q.len)
    return 0;
  uint64_t ns;
  memcpy(&ns, rx->q.data + rx->q_off + 4, sizeof ns);
  return ns;
}

void ch_sse_rx_reset(struct ch_sse_rx *rx) {
  ch_sse_reset(&rx->parser);
  rx->initialized = rx->init_pending = false;
  rx->pre_bytes = 0;
  ch_buf_reset(&rx->q);
  if (rx->q.cap > 16384)
    ch_buf_free(&rx->q); /* a burst must not pin its buffer for the connection's life */
  rx->q_off = 0;
  rx->failed = 0;
  rx->err[0] = '\0';
}

void ch_sse_rx_free(struct ch_sse_rx *rx) {
  ch_sse_free(&rx->parser);
  ch_buf_free(&rx->q);
  memset(rx, 0, sizeof *rx);
}

/* ---------------------------------------------------------------- the transport */

struct ch_sse_tr {
  struct ch_fb fb;
  struct ch_http_req *req;
  struct ch_sse_rx rx;
  bool rx_ready;
  bool over;                       /* the stream ended: end once the queue is delivered */
  enum ch_failure_category over_cat;
  char over_why[128];
};

static int sse_on_data(struct ch_http_req *r, const char *p, size_t n, void *arg) {
  (void)r;
  struct ch_sse_tr *t = arg;
  if (!ch__fb_running(&t->fb))
    return -1;
  if (ch_sse_rx_feed(&t->rx, p, n) != 0) {
    /* Before "initialized" the answer was no event stream: a connect failure. After it, a stream we must not
       accept (oversize event, flood) ends the client like a WebSocket protocol violation does. */
    ch__fb_end(&t->fb, t->fb.opened || t->rx.init_pending ? CH_FAIL_WS_PROTOCOL : CH_FAIL_CONNECT, t->rx.err);
    return -1;
  }
  if (t->rx.init_pending || t->rx.q_off < t->rx.q.len)
    ch__fb_arm(&t->fb, 0);
  return 0;
}

static void sse_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg) {
  (void)r;
  struct ch_sse_tr *t = arg;
  t->req = NULL;
  if (!ch__fb_running(&t->fb))
    return;
  bool up = t->fb.opened || t->rx.init_pending;
  t->over = true;
  t->over_cat = up ? CH_FAIL_CONNECTION_LOST : CH_FAIL_CONNECT;
  if (res->curl_code && !(up && res->status == 200 && res->curl_code == CURLE_PARTIAL_FILE))
    snprintf(t->over_why, sizeof t->over_why, "sse: %.100s", res->error ? res->error : "transfer failed");
  else if (res->status != 200)
    snprintf(t->over_why, sizeof t->over_why, "sse: HTTP %ld answered the %s", res->status,
             t->fb.reconnect ? "reconnect" : "connect");
  else if (!up)
    snprintf(t->over_why, sizeof t->over_why, "sse: the stream ended before the \"initialized\" event");
  else
    snprintf(t->over_why, sizeof t->over_why, "sse: the stream was ended by the server");
  ch__fb_arm(&t->fb, 0);
}

static void sse_work(struct ch_fb *fb, uint64_t now) {
  (void)now;
  struct ch_sse_tr *t = (struct ch_sse_tr *)fb;
  if (t->rx.init_pending) {
    t->rx.init_pending = false;
    if (!ch__fb_emit_opened(fb))
      return;
  }
  const char *p;
  size_t n;
  uint64_t ns;
  while ((ns = rx_peek_ns(&t->rx)) && ch_sse_rx_next(&t->rx, &p, &n) == 1)
    if (!ch__fb_emit_message(fb, p, n, ns))
      return;
  if (t->over)
    ch__fb_end(fb, t->over_cat, t->over_why);
}

static void sse_cancel(struct ch_fb *fb) {
  struct ch_sse_tr *t = (struct ch_sse_tr *)fb;
  if (t->req) {
    ch_http_cancel(t->req);
    t->req = NULL;
  }
}

static void sse_reset(struct ch_fb *fb, bool final) {
  struct ch_sse_tr *t = (struct ch_sse_tr *)fb;
  t->over = false;
  t->over_why[0] = '\0';
  if (!t->rx_ready)
    return;
  if (final) {
    ch_sse_rx_free(&t->rx);
    t->rx_ready = false;
  } else {
    ch_sse_rx_reset(&t->rx);
  }
}

static const struct ch_fb_kind sse_kind = {
    .work = sse_work, .cancel = sse_cancel, .reset = sse_reset};

static int sse_create(struct ch_worker *w, const struct ch_transport_events *ev, void *owner,
                      struct ch_channel **out) {
  struct ch_sse_tr *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  ch__fb_init(&t->fb, &ch_sse_transport_ops, &sse_kind, w, ev, owner);
  *out = &t->fb.base;
  return 0;
}

static int sse_open(struct ch_channel *base, const struct ch_transport_open *o) {
  struct ch_sse_tr *t = (struct ch_sse_tr *)base;
  int rc = ch__fb_open(&t->fb, o);
  if (rc)
    return rc;
  if (!t->rx_ready) {
    if ((rc = ch_sse_rx_init(&t->rx, t->fb.max_message)) != 0) {
      t->fb.live = false;
      return rc;
    }
    t->rx_ready = true;
  }
  struct ch_http_opts ho = {.url = t->fb.url.data,
                            .tls_owner = t->fb.base.owner,
                            .auth_header = ch__fb_auth(&t->fb),
                            .accept = "text/event-stream",
                            .source_addr = t->fb.source_addr,
                            .timeout_ms = 0,
                            .connect_timeout_ms = SSE_CONNECT_TIMEOUT_MS,
                            .on_data = sse_on_data,
                            .done = sse_done,
                            .arg = t};
  if ((rc = ch_http_start(base->worker, &ho, &t->req)) != 0) {
    t->fb.live = false;
    return rc;
  }
  return 0;
}

const struct ch_transport_ops ch_sse_transport_ops = {
    .name = "serverSentEvents",
    .create = sse_create,
    .open = sse_open,
    .send = ch__fb_send,
    .close = ch__fb_close,
    .is_open = ch__fb_is_open,
    .detach = ch__fb_detach,
    .destroy = ch__fb_destroy,
    .set_urls = ch__fb_set_urls,
};
