/* ch_client: life cycle of one hub connection (protocol §1, §2, §5, §8): negotiate, connect, init, start, stop,
   reconnect; one uv_timer per client carries every deadline. The receive channel is in ch_client_rx.c.

   Re-entrancy rule: user callbacks run last in a transition (nothing of the client is touched after them), except
   where the code re-checks c->state right after the call. CLOSED is emitted only from the timer's close callback,
   so by then no handle, request or socket refers to the client and the callback may free it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_clock.h"
#include "ch_client_int.h"

#define MS 1000000ull
#define ABORT_TIMEOUT_MS 5000u
#define CLOSE_GRACE_MS 5000u

static char *cl_strdup(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

/* ---------------------------------------------------------------- names */

const char *ch_client_state_name(enum ch_client_state s) {
  static const char *const names[] = {"new",       "queued",       "negotiating", "connecting", "initializing",
                                      "starting",  "connected",    "reconnecting", "stopping",  "closed"};
  return (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown";
}

const char *ch_failure_name(enum ch_failure_category c) {
  static const char *const names[] = {"none",        "negotiate",   "connect",         "init_timeout",
                                      "start",       "ws_protocol", "bad_message",     "connection_lost",
                                      "reconnect",   "local",       "cancelled"};
  return (unsigned)c < sizeof names / sizeof *names ? names[c] : "unknown";
}

const char *ch_client_event_name(enum ch_client_event e) {
  static const char *const names[] = {"keepalive_slow", "keepalive_lost", "reconnecting",
                                      "reconnected",    "groups_token",   "server_shutdown"};
  return (unsigned)e < sizeof names / sizeof *names ? names[e] : "unknown";
}

const char *ch_trace_channel_name(enum ch_trace_channel c) {
  static const char *const names[] = {"negotiate", "connect", "reconnect", "start", "abort", "transport"};
  return (unsigned)c < sizeof names / sizeof *names ? names[c] : "unknown";
}

/* ---------------------------------------------------------------- helpers */

void ch__client_emit_state(struct ch_client *c) {
  if (c->on_state)
    c->on_state(c, c->state, NULL, c->user);
}

void ch__client_trace(struct ch_client *c, enum ch_trace_dir dir, enum ch_trace_channel ch, const char *p, size_t n,
                      bool json) {
  if (!c->on_trace)
    return;
  struct ch_buf *t = &c->w->trace;
  ch_buf_reset(t);
  int rc = json ? ch_redact_json(t, p, n, c->cred_name) : ch_redact(t, p, n, c->cred_name);
  if (rc == 0)
    c->on_trace(c, dir, ch, t->data ? t->data : "", t->len, c->user);
}

/* Traces "HTTP <status>\n<body>" with the body's secrets redacted. */
static void cl_trace_http_in(struct ch_client *c, enum ch_trace_channel ch, const struct ch_http_result *res) {
  if (!c->on_trace)
    return;
  char head[96];
  if (res->curl_code)
    snprintf(head, sizeof head, "error: %.80s", res->error ? res->error : "transfer failed");
  else
    snprintf(head, sizeof head, "HTTP %ld", res->status);
  struct ch_buf *t = &c->w->trace;
  ch_buf_reset(t);
  if (ch_buf_puts(t, head) != 0 || ch_buf_putc(t, '\n') != 0)
    return;
  if (res->body && res->body_len && ch_redact_json(t, res->body, res->body_len, c->cred_name) != 0)
    return;
  c->on_trace(c, CH_TRACE_IN, ch, t->data, t->len, c->user);
}

static void cl_timer_cb(uv_timer_t *t);

void ch__client_arm(struct ch_client *c, uint64_t due) {
  if (!c->timer_init || !due || c->state == CH_CLIENT_CLOSED)
    return;
  if (c->timer_due && c->timer_due <= due)
    return;
  uint64_t now = ch_now_ns();
  uint64_t ms = due > now ? (due - now + MS - 1) / MS : 0;
  c->timer_due = due;
  uv_timer_start(&c->timer, cl_timer_cb, ms, 0);
}

static void cl_slot_release(struct ch_client *c) {
  if (c->queued) {
    ch__list_del(&c->wait);
    c->queued = false;
    c->w->hs_waiting--;
  }
  if (c->hs_slot) {
    c->hs_slot = false;
    ch__hs_release(c->w);
  }
}

static struct ch_url_params cl_params(struct ch_client *c) {
  struct ch_url_params p;
  memset(&p, 0, sizeof p);
  p.base = &c->target;
  p.negotiate_url = c->have_neg ? c->neg.url : NULL;
  p.transport = c->transport;
  p.client_protocol = c->client_protocol;
  p.connection_token = c->have_neg ? c->neg.connection_token : NULL;
  p.connection_data = c->connection_data;
  p.cred_name = c->cred_name;
  p.cred_value = c->cred_value;
  p.message_id = c->cursor.len ? c->cursor.data : NULL;
  p.groups_token = c->groups.len ? c->groups.data : NULL;
  p.tid = -1;
  return p;
}

static void cl_timer_closed(uv_handle_t *h) {
  struct ch_client *c = h->data;
  c->timer_init = false;
  if (c->on_state)
    c->on_state(c, CH_CLIENT_CLOSED, c->failed ? &c->fail : NULL, c->user);
}

/* Every request and socket is gone: CLOSED. */
static void cl_finish(struct ch_client *c) {
  if (c->state == CH_CLIENT_CLOSED)
    return;
  c->state = CH_CLIENT_CLOSED;
  c->times.closed = ch_now_ns();
  cl_slot_release(c);
  if (c->tr) {
    if (c->tops->is_open(c->tr))
      c->tops->detach(c->tr);
    c->tops->destroy(c->tr);
    c->tr = NULL;
  }
  if (c->w->live)
    c->w->live--;
  c->timer_due = 0;
  if (c->timer_init) {
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, cl_timer_closed);
  } else if (c->on_state) {
    c->on_state(c, CH_CLIENT_CLOSED, c->failed ? &c->fail : NULL, c->user);
  }
}

static void cl_maybe_finish(struct ch_client *c) {
  if (c->state == CH_CLIENT_STOPPING && !c->tr_waiting && !c->abort_req && !c->http)
    cl_finish(c);
}

static void cl_abort_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg) {
  (void)r;
  struct ch_client *c = arg;
  c->abort_req = NULL;
  cl_trace_http_in(c, CH_TRACE_ABORT, res);
  cl_maybe_finish(c);
}

static void cl_send_abort(struct ch_client *c) {
  struct ch_url_params p = cl_params(c);
  struct ch_buf url = CH_BUF_INIT;
  if (ch_url_build(&url, CH_REQ_ABORT, &p) == 0) {
    uint32_t to = c->http_timeout_ms < ABORT_TIMEOUT_MS ? c->http_timeout_ms : ABORT_TIMEOUT_MS;
    struct ch_http_opts o = {.url = url.data,
                             .post = true,
                             .auth_header = c->auth_header,
                             .source_addr = c->source_addr,
                             .timeout_ms = to,
                             .max_body = 4096,
                             .done = cl_abort_done,
                             .arg = c};
    if (ch_http_start(c->w, &o, &c->abort_req) == 0)
      ch__client_trace(c, CH_TRACE_OUT, CH_TRACE_ABORT, url.data, url.len, false);
  }
  ch_buf_free(&url);
}

void ch__client_shutdown(struct ch_client *c, enum ch_failure_category cat, const char *fmt, ...) {
  if (c->state == CH_CLIENT_CLOSED || c->state == CH_CLIENT_STOPPING || c->state == CH_CLIENT_NEW)
    return;
  if (cat != CH_FAIL_NONE && !c->failed) {
    c->failed = true;
    c->fail.category = cat;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail.message, sizeof c->fail.message, fmt, ap);
    va_end(ap);
  }
  enum ch_client_state prev = c->state;
  c->state = CH_CLIENT_STOPPING;
  cl_slot_release(c);
  if (c->http) {
    ch_http_cancel(c->http);
    c->http = NULL;
  }
  c->init_deadline = c->reconnect_at = c->reconnect_deadline = 0;
  if (c->tr && c->tops->is_open(c->tr)) {
    c->tr_waiting = true;
    c->tops->close(c->tr, cat != CH_FAIL_NONE);
  }
  /* /abort releases the server's connection at once (protocol §5); it needs the token and a reachable server. */
  if (c->have_neg && prev >= CH_CLIENT_CONNECTING && !c->w->stopping)
    cl_send_abort(c);
  c->stop_deadline = ch_now_ns() + (uint64_t)(ABORT_TIMEOUT_MS + CLOSE_GRACE_MS) * MS;
  ch__client_arm(c, c->stop_deadline);
  ch__client_fail_pending(c, -ECANCELED);
  if (c->state != CH_CLIENT_STOPPING)
    return;
  if (!c->tr_waiting && !c->abort_req) {
    cl_finish(c);
    return;
  }
  ch__client_emit_state(c);
}

/* ---------------------------------------------------------------- connect window */

static void cl_negotiate(struct ch_client *c);
static void cl_reconnect_attempt(struct ch_client *c);

bool ch__hs_acquire(struct ch_worker *w, struct ch_client *c) {
  if (c->hs_slot)
    return true;
  if (w->hs_inflight < w->eng->opts.connect_window) {
    w->hs_inflight++;
    c->hs_slot = true;
    return true;
  }
  if (!c->queued) {
    ch__list_push(&w->hs_wait, &c->wait);
    c->queued = true;
    w->hs_waiting++;
  }
  return false;
}

void ch__hs_release(struct ch_worker *w) {
  if (w->hs_inflight)
    w->hs_inflight--;
  if (w->hs_pumping || w->stopping)
    return;
  w->hs_pumping = true;
  while (!ch__list_empty(&w->hs_wait) && w->hs_inflight < w->eng->opts.connect_window) {
    struct ch_client *c = ch__container_of(w->hs_wait.next, struct ch_client, wait);
    ch__list_del(&c->wait);
    c->queued = false;
    w->hs_waiting--;
    w->hs_inflight++;
    c->hs_slot = true;
    if (c->state == CH_CLIENT_QUEUED)
      cl_negotiate(c);
    else if (c->state == CH_CLIENT_RECONNECTING)
      cl_reconnect_attempt(c);
    else
      cl_slot_release(c);
  }
  w->hs_pumping = false;
}

/* ---------------------------------------------------------------- negotiate */

/* Accepts ProtocolVersion as the .NET 2.4 client does (1.4 <= v <= 2.1, numerically), which also covers the JS
   2.4.3 set "1.5", "2.0", "2.1". */
bool ch_client_protocol_acceptable(const char *v) {
  unsigned part[4] = {0, 0, 0, 0};
  int n = 0;
  const char *p = v;
  while (n < 4) {
    if (*p < '0' || *p > '9')
      return false;
    unsigned x = 0;
    while (*p >= '0' && *p <= '9') {
      x = x * 10 + (unsigned)(*p++ - '0');
      if (x > 100000)
        return false;
    }
    part[n++] = x;
    if (*p == '\0')
      break;
    if (*p++ != '.')
      return false;
  }
  if (n < 2 || *p)
    return false;
  unsigned long long ver = ((unsigned long long)part[0] << 48) | ((unsigned long long)part[1] << 32) |
                           ((unsigned long long)part[2] << 16) | part[3];
  return ver >= (1ull << 48 | 4ull << 32) && ver <= (2ull << 48 | 1ull << 32);
}

static void cl_connect(struct ch_client *c, bool reconnect);
static bool cl_fallback(struct ch_client *c);

static void cl_negotiate_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg) {
  (void)r;
  struct ch_client *c = arg;
  c->http = NULL;
  c->times.negotiate_end = res->end_ns;
  c->times.negotiate_connected = res->connect_ns;
  ch_buf_reset(&c->neg_body);
  if (res->body && res->body_len)
    ch_buf_append(&c->neg_body, res->body, res->body_len);
  cl_trace_http_in(c, CH_TRACE_NEGOTIATE, res);
  if (res->body_too_big) {
    ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: body larger than %zu bytes",
                        c->w->eng->opts.max_http_body_bytes);
    return;
  }
  if (res->curl_code) {
    if (res->curl_code == CURLE_OPERATION_TIMEDOUT)
      ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: no response within %.1f s", c->http_timeout_ms / 1e3);
    else
      ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: %.150s", res->error);
    return;
  }
  if (res->status >= 300 && res->status < 400) {
    ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: HTTP %ld redirect (not followed)", res->status);
    return;
  }
  if (res->status != 200) {
    ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: HTTP %ld", res->status);
    return;
  }
  struct ch_buf err = CH_BUF_INIT;
  int rc = ch_negotiate_parse(res->body, res->body_len, &c->neg, &err);
  if (rc) {
    ch__client_shutdown(c, rc == -ENOMEM ? CH_FAIL_LOCAL : CH_FAIL_NEGOTIATE, "%.180s",
                        err.data ? err.data : "negotiate: invalid body");
    ch_buf_free(&err);
    return;
  }
  ch_buf_free(&err);
  c->have_neg = true;
  if (c->neg.error) {
    ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: the server returned Error");
    return;
  }
  if (c->neg.redirect_url) {
    ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: RedirectUrl (Azure SignalR Service) is not supported");
    return;
  }
  if (!ch_client_protocol_acceptable(c->neg.protocol_version)) {
    ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: ProtocolVersion \"%.16s\" not accepted by client %s",
                        c->neg.protocol_version, c->client_protocol);
    return;
  }
  if (c->transport == CH_TRANSPORT_WEBSOCKETS && !c->neg.try_websockets) {
    if (cl_fallback(c))
      return; /* auto: skip webSockets as the official clients do */
    ch__client_shutdown(c, CH_FAIL_NEGOTIATE, "negotiate: TryWebSockets is false (no WebSockets on the server)");
    return;
  }
  cl_connect(c, false);
}

static void cl_negotiate(struct ch_client *c) {
  struct ch_url_params p = cl_params(c);
  struct ch_buf url = CH_BUF_INIT;
  int rc = ch_url_build(&url, CH_REQ_NEGOTIATE, &p);
  c->state = CH_CLIENT_NEGOTIATING;
  c->times.negotiate_start = ch_now_ns();
  if (rc == 0) {
    struct ch_http_opts o = {.url = url.data,
                             .auth_header = c->auth_header,
                             .source_addr = c->source_addr,
                             .timeout_ms = c->http_timeout_ms,
                             .max_body = c->w->eng->opts.max_http_body_bytes,
                             .done = cl_negotiate_done,
                             .arg = c};
    rc = ch_http_start(c->w, &o, &c->http);
  }
  if (rc == 0)
    ch__client_trace(c, CH_TRACE_OUT, CH_TRACE_NEGOTIATE, url.data, url.len, false);
  ch_buf_free(&url);
  if (rc) {
    ch__client_shutdown(c, rc == -ESHUTDOWN ? CH_FAIL_CANCELLED : CH_FAIL_LOCAL,
                        "negotiate: could not start the request (%s)", strerror(-rc));
    return;
  }
  ch__client_emit_state(c);
}

/* ---------------------------------------------------------------- connect / reconnect */

static uint64_t cl_connect_timeout_ns(const struct ch_client *c) {
  double s = c->connect_timeout_ms ? c->connect_timeout_ms / 1e3 : c->neg.transport_connect_timeout;
  if (s < 0.1)
    s = 0.1;
  if (s > 3600)
    s = 3600;
  return (uint64_t)(s * 1e9);
}

/* Opens the transport on /connect or /reconnect. Returns 0 or a negative code (no event follows). */
static int cl_open_transport(struct ch_client *c, bool reconnect) {
  struct ch_url_params p = cl_params(c);
  struct ch_buf url = CH_BUF_INIT, send_url = CH_BUF_INIT, poll_url = CH_BUF_INIT;
  int rc = ch_url_build(&url, reconnect ? CH_REQ_RECONNECT : CH_REQ_CONNECT, &p);
  /* serverSentEvents and longPolling send hub invocations as POST /send; long polling also needs /poll */
  if (rc == 0 && c->transport != CH_TRANSPORT_WEBSOCKETS)
    rc = ch_url_build(&send_url, CH_REQ_SEND, &p);
  if (rc == 0 && c->transport == CH_TRANSPORT_LONGPOLLING)
    rc = ch_url_build(&poll_url, CH_REQ_POLL, &p);
  double poll_s = c->neg.connection_timeout + 10; /* the JS XHR timeout */
  if (rc == 0) {
    const char *path = strstr(url.data, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    if (!path) {
      rc = -EINVAL;
    } else {
      struct ch_transport_open o = {.host = c->target.host,
                                    .host_header = c->host_header,
                                    .port = c->target.port,
                                    .tls = c->target.tls,
                                    .path = path,
                                    .auth_header = c->auth_header,
                                    .source_addr = c->source_addr,
                                    .trace_channel = reconnect ? CH_TRACE_RECONNECT : CH_TRACE_CONNECT,
                                    .trace_url = NULL,
                                    .send_url = send_url.data,
                                    .poll_url = poll_url.data,
                                    .message_id = p.message_id,
                                    .groups_token = p.groups_token,
                                    .poll_timeout_ms = poll_s > 10 && poll_s < 3600 ? (uint32_t)(poll_s * 1000) : 0};
      c->reconnect_attempt = reconnect;
      rc = c->tops->open(c->tr, &o);
      if (rc == 0)
        ch__client_trace(c, CH_TRACE_OUT, o.trace_channel, url.data, url.len, false);
    }
  }
  ch_buf_free(&url);
  ch_buf_free(&send_url);
  ch_buf_free(&poll_url);
  return rc;
}

static void cl_connect(struct ch_client *c, bool reconnect) {
  (void)reconnect;
  c->state = CH_CLIENT_CONNECTING;
  c->times.connect_start = ch_now_ns();
  /* TransportConnectTimeout bounds TCP + upgrade + init, as the official clients count it from the transport
     start. */
  c->init_deadline = c->times.connect_start + cl_connect_timeout_ns(c);
  int rc = cl_open_transport(c, false);
  if (rc) {
    ch__client_shutdown(c, rc == -ESHUTDOWN ? CH_FAIL_CANCELLED : CH_FAIL_CONNECT,
                        "connect: could not open the %s connection (%s)", c->tops->name, strerror(-rc));
    return;
  }
  ch__client_arm(c, c->init_deadline);
  ch__client_emit_state(c);
}

static void cl_reconnect_attempt(struct ch_client *c) {
  c->reconnect_at = 0;
  if (!ch__hs_acquire(c->w, c))
    return; /* resumed by ch__hs_release */
  int rc = cl_open_transport(c, true);
  if (rc) {
    cl_slot_release(c);
    uint64_t next = ch_now_ns() + (uint64_t)c->reconnect_delay_ms * MS;
    if (next >= c->reconnect_deadline) {
      ch__client_shutdown(c, CH_FAIL_RECONNECT, "reconnect: could not reconnect within %.1f s",
                          c->neg.disconnect_timeout);
      return;
    }
    c->reconnect_at = next;
    ch__client_arm(c, next);
  }
}

/* The transport was lost while connected: reconnect within DisconnectTimeout (protocol §8), or end. */
static void cl_lost(struct ch_client *c, enum ch_failure_category cat, const char *why) {
  if (c->no_reconnect || cat == CH_FAIL_WS_PROTOCOL || cat == CH_FAIL_LOCAL) {
    ch__client_shutdown(c, cat == CH_FAIL_NONE ? CH_FAIL_CONNECTION_LOST : cat, "%s", why);
    return;
  }
  uint64_t now = ch_now_ns();
  c->state = CH_CLIENT_RECONNECTING;
  c->times.reconnect_start = now;
  c->times.reconnect_end = 0;
  c->reconnect_deadline = now + (uint64_t)(c->neg.disconnect_timeout * 1e9);
  c->reconnect_at = now + (uint64_t)c->reconnect_delay_ms * MS;
  ch__client_arm(c, c->reconnect_at);
  ch__client_fail_pending(c, -ECONNRESET);
  if (c->state != CH_CLIENT_RECONNECTING)
    return;
  if (c->on_event) {
    c->on_event(c, CH_EVENT_RECONNECTING, c->user);
    if (c->state != CH_CLIENT_RECONNECTING)
      return;
  }
  ch__client_emit_state(c);
}

static void cl_tr_opened(void *owner) {
  struct ch_client *c = owner;
  uint64_t now = ch_now_ns();
  if (c->on_trace)
    ch__client_trace(c, CH_TRACE_IN, c->reconnect_attempt ? CH_TRACE_RECONNECT : CH_TRACE_CONNECT,
                     c->transport == CH_TRANSPORT_WEBSOCKETS ? "HTTP 101 Switching Protocols" : "HTTP 200",
                     c->transport == CH_TRANSPORT_WEBSOCKETS ? 28 : 8, false);
  cl_slot_release(c);
  if (c->state == CH_CLIENT_CONNECTING) {
    c->times.connect_end = now;
    c->state = CH_CLIENT_INITIALIZING;
    ch__client_emit_state(c);
  } else if (c->state == CH_CLIENT_RECONNECTING) {
    c->state = CH_CLIENT_CONNECTED;
    c->times.reconnect_end = now;
    c->times.last_rx = now;
    c->ka_slow = false;
    c->reconnect_at = c->reconnect_deadline = 0;
    c->counters.reconnects++;
    uint64_t due = ch__client_connected_tick(c, now);
    ch__client_arm(c, due);
    if (c->on_event) {
      c->on_event(c, CH_EVENT_RECONNECTED, c->user);
      if (c->state != CH_CLIENT_CONNECTED)
        return;
    }
    ch__client_emit_state(c);
  }
}

static void cl_tr_closed(void *owner, enum ch_failure_category cat, const char *why) {
  struct ch_client *c = owner;
  if (c->on_trace)
    ch__client_trace(c, CH_TRACE_IN, c->reconnect_attempt ? CH_TRACE_RECONNECT : CH_TRACE_TRANSPORT, why,
                     strlen(why), false);
  bool dropping = c->dropping;
  c->dropping = false;
  switch (c->state) {
  case CH_CLIENT_CONNECTING:
    if (cl_fallback(c))
      break;
    ch__client_shutdown(c, cat == CH_FAIL_NONE ? CH_FAIL_CONNECT : cat, "%s", why[0] ? why : "connect: failed");
    break;
  case CH_CLIENT_INITIALIZING:
    if (cl_fallback(c))
      break;
    /* fall through */
  case CH_CLIENT_STARTING:
    ch__client_shutdown(c, cat == CH_FAIL_NONE || cat == CH_FAIL_CONNECTION_LOST ? CH_FAIL_CONNECT : cat,
                        "connect: connection closed before the client was started (%.120s)", why);
    break;
  case CH_CLIENT_CONNECTED:
    cl_lost(c, dropping && cat == CH_FAIL_NONE ? CH_FAIL_CONNECTION_LOST : cat,
            why[0] ? why : "ws: connection dropped");
    break;
  case CH_CLIENT_RECONNECTING: {
    cl_slot_release(c);
    uint64_t next = ch_now_ns() + (uint64_t)c->reconnect_delay_ms * MS;
    if (cat == CH_FAIL_WS_PROTOCOL || next >= c->reconnect_deadline) {
      ch__client_shutdown(c, cat == CH_FAIL_WS_PROTOCOL ? cat : CH_FAIL_RECONNECT,
                          "reconnect: could not reconnect within %.1f s (%.100s)", c->neg.disconnect_timeout, why);
      break;
    }
    c->reconnect_at = next;
    ch__client_arm(c, next);
    break;
  }
  case CH_CLIENT_STOPPING:
    c->tr_waiting = false;
    if (cat == CH_FAIL_WS_PROTOCOL && !c->failed) {
      c->failed = true;
      c->fail.category = cat;
      snprintf(c->fail.message, sizeof c->fail.message, "%s", why);
    }
    cl_maybe_finish(c);
    break;
  default:
    break;
  }
}

static const struct ch_transport_events cl_tr_events = {
    .opened = cl_tr_opened,
    .message = ch__client_rx,
    .closed = cl_tr_closed,
    .trace = NULL,
};

/* auto_transport: move on to the next transport in the official clients' order (webSockets, serverSentEvents,
   longPolling) with the same negotiation. True when the client did (a new connect is under way, or it ended). */
static bool cl_fallback(struct ch_client *c) {
  if (!c->auto_transport || c->transport == CH_TRANSPORT_LONGPOLLING)
    return false;
  enum ch_transport next = c->transport == CH_TRANSPORT_WEBSOCKETS ? CH_TRANSPORT_SSE : CH_TRANSPORT_LONGPOLLING;
  const struct ch_transport_ops *ops = ch_transport_ops_for(next);
  struct ch_channel *tr = NULL;
  if (!ops || ops->create(c->w, &cl_tr_events, c, &tr) != 0)
    return false;
  if (c->tops->is_open(c->tr))
    c->tops->detach(c->tr);
  c->tops->destroy(c->tr);
  c->tops = ops;
  c->tr = tr;
  c->transport = next;
  c->counters.transport_fallbacks++;
  cl_connect(c, false);
  return true;
}

/* ---------------------------------------------------------------- start */

static void cl_start_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg) {
  (void)r;
  struct ch_client *c = arg;
  c->http = NULL;
  ch_buf_reset(&c->start_body);
  if (res->body && res->body_len)
    ch_buf_append(&c->start_body, res->body, res->body_len);
  cl_trace_http_in(c, CH_TRACE_START, res);
  if (res->body_too_big) {
    ch__client_shutdown(c, CH_FAIL_START, "start: body larger than the limit");
    return;
  }
  if (res->curl_code) {
    if (res->curl_code == CURLE_OPERATION_TIMEDOUT)
      ch__client_shutdown(c, CH_FAIL_START, "start: no response within %.1f s", c->http_timeout_ms / 1e3);
    else
      ch__client_shutdown(c, CH_FAIL_START, "start: %.150s", res->error);
    return;
  }
  if (res->status != 200) {
    ch__client_shutdown(c, CH_FAIL_START, "start: HTTP %ld", res->status);
    return;
  }
  struct ch_span doc, v;
  if (ch_json_parse((struct ch_span){res->body, res->body_len}, &doc, NULL) != 0 ||
      ch_json_obj_get(doc, "Response", &v) != 1 || !ch_json_str_eqz(v, "started")) {
    ch__client_shutdown(c, CH_FAIL_START, "start: unexpected body (expected {\"Response\":\"started\"})");
    return;
  }
  uint64_t now = ch_now_ns();
  c->state = CH_CLIENT_CONNECTED;
  c->times.start_end = now;
  if (!c->times.last_rx)
    c->times.last_rx = now;
  c->ka_slow = false;
  ch__client_arm(c, ch__client_connected_tick(c, now));
  ch__client_emit_state(c);
}

void ch__client_init_received(struct ch_client *c) {
  c->times.init_end = ch_now_ns();
  c->init_deadline = 0;
  c->state = CH_CLIENT_STARTING;
  struct ch_url_params p = cl_params(c);
  struct ch_buf url = CH_BUF_INIT;
  int rc = ch_url_build(&url, CH_REQ_START, &p);
  if (rc == 0) {
    struct ch_http_opts o = {.url = url.data,
                             .auth_header = c->auth_header,
                             .source_addr = c->source_addr,
                             .timeout_ms = c->http_timeout_ms,
                             .max_body = 65536,
                             .done = cl_start_done,
                             .arg = c};
    rc = ch_http_start(c->w, &o, &c->http);
  }
  if (rc == 0)
    ch__client_trace(c, CH_TRACE_OUT, CH_TRACE_START, url.data, url.len, false);
  ch_buf_free(&url);
  if (rc) {
    ch__client_shutdown(c, rc == -ESHUTDOWN ? CH_FAIL_CANCELLED : CH_FAIL_LOCAL,
                        "start: could not start the request (%s)", strerror(-rc));
    return;
  }
  ch__client_emit_state(c);
}

/* ---------------------------------------------------------------- timer */

static void cl_timer_cb(uv_timer_t *t) {
  struct ch_client *c = t->data;
  uint64_t now = ch_now_ns();
  c->timer_due = 0;
  uint64_t next = 0;
  switch (c->state) {
  case CH_CLIENT_CONNECTING:
  case CH_CLIENT_INITIALIZING:
    if (c->init_deadline && now >= c->init_deadline) {
      if (cl_fallback(c))
        return;
      double s = (double)cl_connect_timeout_ns(c) / 1e9;
      if (c->state == CH_CLIENT_CONNECTING)
        ch__client_shutdown(c, CH_FAIL_CONNECT, "connect: %s not open within %.1f s", c->tops->name, s);
      else
        ch__client_shutdown(c, CH_FAIL_INIT_TIMEOUT, "connect: init message not received within %.1f s", s);
      return;
    }
    next = c->init_deadline;
    break;
  case CH_CLIENT_RECONNECTING:
    if (now >= c->reconnect_deadline) {
      ch__client_shutdown(c, CH_FAIL_RECONNECT, "reconnect: could not reconnect within %.1f s",
                          c->neg.disconnect_timeout);
      return;
    }
    if (c->reconnect_at && now >= c->reconnect_at && !c->tops->is_open(c->tr)) {
      cl_reconnect_attempt(c);
      if (c->state != CH_CLIENT_RECONNECTING)
        return;
    }
    next = c->reconnect_at && c->reconnect_at < c->reconnect_deadline ? c->reconnect_at : c->reconnect_deadline;
    break;
  case CH_CLIENT_CONNECTED:
    next = ch__client_connected_tick(c, now);
    if (c->state != CH_CLIENT_CONNECTED)
      return;
    break;
  case CH_CLIENT_STOPPING:
    if (c->stop_deadline && now >= c->stop_deadline) {
      /* A close handshake or /abort that never completes must not keep the client (or the run) alive. */
      if (c->abort_req) {
        ch_http_cancel(c->abort_req);
        c->abort_req = NULL;
      }
      if (c->tr_waiting) {
        c->tops->detach(c->tr);
        c->tr_waiting = false;
      }
      cl_maybe_finish(c);
      return;
    }
    next = c->stop_deadline;
    break;
  default:
    return;
  }
  ch__client_arm(c, next);
}

/* ---------------------------------------------------------------- public API */

static int cl_url_copy(struct ch_url *dst, const struct ch_url *src) {
  memset(dst, 0, sizeof *dst);
  dst->scheme = cl_strdup(src->scheme);
  dst->host = cl_strdup(src->host);
  dst->path = cl_strdup(src->path ? src->path : "");
  dst->port = src->port;
  dst->tls = src->tls;
  return dst->scheme && dst->host && dst->path ? 0 : -ENOMEM;
}

static void cl_free_strings(struct ch_client *c) {
  ch_url_free(&c->target);
  free(c->client_protocol);
  for (size_t i = 0; i < c->hub_count; i++)
    free(c->hubs ? c->hubs[i] : NULL);
  free(c->hubs);
  free(c->connection_data);
  free(c->auth_header);
  free(c->cred_name);
  if (c->cred_value) {
    memset(c->cred_value, 0, strlen(c->cred_value));
    free(c->cred_value);
  }
  free(c->host_header);
}

int ch_client_new(struct ch_worker *w, const struct ch_client_opts *o, struct ch_client **out) {
  *out = NULL;
  if (!w || !o || !o->target || !o->target->host || !o->target->scheme || (o->hub_count && !o->hubs))
    return -EINVAL;
  const struct ch_transport_ops *tops =
      ch_transport_ops_for(o->auto_transport ? CH_TRANSPORT_WEBSOCKETS : o->transport);
  if (!tops)
    return -ENOTSUP;
  if (tops == &ch_wsraw_transport_ops && w->eng->opts.ws_lws_framing)
    tops = &ch_ws_transport_ops;
  const char *proto = o->client_protocol ? o->client_protocol : CH_PROTOCOL_DEFAULT;
  if (!ch_protocol_is_supported(proto))
    return -EINVAL;
  if (o->auth != CH_AUTH_NONE && (!o->auth_value || !*o->auth_value))
    return -EINVAL;
  if (o->auth == CH_AUTH_HEADER && strpbrk(o->auth_value, "\r\n"))
    return -EINVAL;
  for (size_t i = 0; i < o->hub_count; i++)
    if (!o->hubs[i] || !*o->hubs[i])
      return -EINVAL;
  if (o->target->tls && !w->eng->opts.tls)
    return -ENOTSUP; /* the engine was created without TLS (ch_engine_opts.tls) */
  if (w->stopping)
    return -ESHUTDOWN;
  struct ch_client *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  c->w = w;
  ch__list_init(&c->link);
  ch__list_init(&c->wait);
  c->on_state = o->on_state;
  c->on_message = o->on_message;
  c->on_event = o->on_event;
  c->on_trace = o->on_trace;
  c->user = o->user;
  c->transport = o->auto_transport ? CH_TRANSPORT_WEBSOCKETS : o->transport;
  c->auto_transport = o->auto_transport;
  c->tops = tops;
  c->http_timeout_ms = o->http_timeout_ms ? o->http_timeout_ms : 30000;
  c->invoke_timeout_ms = o->invoke_timeout_ms ? o->invoke_timeout_ms : 30000;
  c->connect_timeout_ms = o->connect_timeout_ms;
  c->reconnect_delay_ms = o->reconnect_delay_ms ? o->reconnect_delay_ms : 2000;
  c->no_reconnect = o->no_reconnect;
  c->id_as_string = o->invoke_id_as_string;
  int rc = cl_url_copy(&c->target, o->target);
  if (!rc && !(c->client_protocol = cl_strdup(proto)))
    rc = -ENOMEM;
  if (!rc && o->hub_count) {
    if (!(c->hubs = calloc(o->hub_count, sizeof *c->hubs)))
      rc = -ENOMEM;
    for (size_t i = 0; !rc && i < o->hub_count; i++) {
      if (!(c->hubs[i] = cl_strdup(o->hubs[i])))
        rc = -ENOMEM;
      c->hub_count = i + 1;
    }
  }
  struct ch_buf b = CH_BUF_INIT;
  if (!rc && (rc = ch_encode_connection_data(&b, (const char *const *)c->hubs, c->hub_count, false)) == 0)
    c->connection_data = ch_buf_steal(&b);
  ch_buf_free(&b);
  if (!rc && o->auth == CH_AUTH_HEADER && !(c->auth_header = cl_strdup(o->auth_value)))
    rc = -ENOMEM;
  if (!rc && o->auth == CH_AUTH_QUERY &&
      (!(c->cred_name = cl_strdup(o->auth_query_name ? o->auth_query_name : "access_token")) ||
       !(c->cred_value = cl_strdup(o->auth_value))))
    rc = -ENOMEM;
  if (!rc) {
    bool v6 = strchr(c->target.host, ':') != NULL;
    bool defport = c->target.port == (c->target.tls ? 443 : 80);
    if (defport)
      rc = ch_buf_printf(&b, v6 ? "[%s]" : "%s", c->target.host);
    else
      rc = ch_buf_printf(&b, v6 ? "[%s]:%d" : "%s:%d", c->target.host, c->target.port);
    if (!rc)
      c->host_header = ch_buf_steal(&b);
    ch_buf_free(&b);
  }
  if (!rc)
    rc = tops->create(w, &cl_tr_events, c, &c->tr);
  if (rc) {
    cl_free_strings(c);
    free(c);
    return rc < 0 ? rc : -ENOMEM;
  }
  const struct ch_engine *e = w->eng;
  if (e->source_addr_count)
    c->source_addr = e->source_addrs[o->source_index % e->source_addr_count];
  c->times.created = ch_now_ns();
  ch__list_push(&w->clients, &c->link);
  *out = c;
  return 0;
}

int ch_client_start(struct ch_client *c) {
  if (c->state != CH_CLIENT_NEW)
    return -EALREADY;
  if (c->w->stopping)
    return -ESHUTDOWN;
  if (uv_timer_init(&c->w->loop, &c->timer) != 0)
    return -ENOMEM;
  c->timer.data = c;
  c->timer_init = true;
  c->w->live++;
  if (ch__hs_acquire(c->w, c)) {
    cl_negotiate(c);
    return 0;
  }
  c->state = CH_CLIENT_QUEUED;
  ch__client_emit_state(c);
  return 0;
}

void ch_client_stop(struct ch_client *c) {
  if (c->state == CH_CLIENT_NEW) {
    c->state = CH_CLIENT_CLOSED;
    c->times.closed = ch_now_ns();
    ch__client_emit_state(c);
    return;
  }
  if (c->state == CH_CLIENT_QUEUED) {
    c->state = CH_CLIENT_STOPPING;
    cl_finish(c);
    return;
  }
  ch__client_shutdown(c, CH_FAIL_NONE, "%s", "");
}

int ch_client_drop(struct ch_client *c) {
  if (c->state != CH_CLIENT_CONNECTED || !c->tops->is_open(c->tr))
    return -ENOTCONN;
  c->dropping = true;
  c->tops->close(c->tr, true);
  return 0;
}

void ch_client_free(struct ch_client *c) {
  if (!c)
    return;
  ch__list_del(&c->link);
  if (c->tr)
    c->tops->destroy(c->tr);
  free(c->pend);
  if (c->have_neg)
    ch_negotiate_free(&c->neg);
  ch_buf_free(&c->neg_body);
  ch_buf_free(&c->start_body);
  ch_buf_free(&c->cursor);
  ch_buf_free(&c->groups);
  cl_free_strings(c);
  free(c);
}

/* Engine stopping: every started client ends now (CANCELLED); CLOSED is emitted while the loop drains. */
void ch__client_cancel_all(struct ch_worker *w) {
  for (struct ch_link *l = w->clients.next; l != &w->clients;) {
    struct ch_client *c = ch__container_of(l, struct ch_client, link);
    l = l->next;
    if (c->state == CH_CLIENT_NEW || c->state == CH_CLIENT_CLOSED)
      continue;
    if (!c->failed) {
      c->failed = true;
      c->fail.category = CH_FAIL_CANCELLED;
      snprintf(c->fail.message, sizeof c->fail.message, "%s: engine stopped", ch_client_state_name(c->state));
    }
    c->state = CH_CLIENT_STOPPING;
    if (c->http) {
      ch_http_cancel(c->http);
      c->http = NULL;
    }
    if (c->abort_req) {
      ch_http_cancel(c->abort_req);
      c->abort_req = NULL;
    }
    if (c->tr && c->tops->is_open(c->tr))
      c->tops->detach(c->tr);
    c->tr_waiting = false;
    ch__client_fail_pending(c, -ECANCELED);
    cl_finish(c);
  }
}

void ch__client_free_all(struct ch_worker *w) {
  while (!ch__list_empty(&w->clients))
    ch_client_free(ch__container_of(w->clients.next, struct ch_client, link));
}

/* ---------------------------------------------------------------- getters */

enum ch_client_state ch_client_state(const struct ch_client *c) { return c->state; }
const struct ch_client_failure *ch_client_failure(const struct ch_client *c) { return c->failed ? &c->fail : NULL; }
const struct ch_client_times *ch_client_times(const struct ch_client *c) { return &c->times; }
const struct ch_client_counters *ch_client_counters(const struct ch_client *c) { return &c->counters; }
const struct ch_negotiate *ch_client_negotiation(const struct ch_client *c) { return c->have_neg ? &c->neg : NULL; }
const char *ch_client_negotiate_body(const struct ch_client *c, size_t *len) {
  if (len)
    *len = c->neg_body.len;
  return c->neg_body.len ? c->neg_body.data : NULL;
}
const char *ch_client_start_body(const struct ch_client *c, size_t *len) {
  if (len)
    *len = c->start_body.len;
  return c->start_body.len ? c->start_body.data : NULL;
}
const char *ch_client_cursor(const struct ch_client *c) { return c->cursor.len ? c->cursor.data : NULL; }
const char *ch_client_groups_token(const struct ch_client *c) { return c->groups.len ? c->groups.data : NULL; }
enum ch_transport ch_client_transport(const struct ch_client *c) { return c->transport; }
struct ch_worker *ch_client_worker(const struct ch_client *c) { return c->w; }
void *ch_client_user(const struct ch_client *c) { return c->user; }
uint32_t ch_client_pending_invocations(const struct ch_client *c) { return c->pend_n; }
