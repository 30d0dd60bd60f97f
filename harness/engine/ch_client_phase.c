/* ch_client_phase: the connection phases of a client (protocol §2, §4, §5, §8): the connect window, negotiate,
   connect and reconnect over the transport (with the auto fallback), the transport's events, start, and the timer
   that carries every deadline. Life cycle, stop and the public API are in ch_client.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_client_int.h"

#define MS 1000000ull

/* ---------------------------------------------------------------- connect window */

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
      ch__client_negotiate(c);
    else if (c->state == CH_CLIENT_RECONNECTING)
      cl_reconnect_attempt(c);
    else
      ch__client_slot_release(c);
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
  ch__client_trace_http_in(c, CH_TRACE_NEGOTIATE, res);
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

void ch__client_negotiate(struct ch_client *c) {
  struct ch_url_params p = ch__client_params(c);
  struct ch_buf url = CH_BUF_INIT;
  int rc = ch_url_build(&url, CH_REQ_NEGOTIATE, &p);
  c->state = CH_CLIENT_NEGOTIATING;
  c->times.negotiate_start = ch_now_ns();
  if (rc == 0) {
    struct ch_http_opts o = {.url = url.data,
                             .tls_owner = c,
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
  struct ch_url_params p = ch__client_params(c);
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
                                    .auth_slot = (const char *const *)&c->auth_header,
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

/* The wait before a /reconnect: the JS client's reconnectDelay (2 s; 3 s on longPolling, protocol §8), or the
   harness's own (reconnect_delay_ms, 2 s by default, on every transport). */
static uint64_t cl_reconnect_delay_ns(const struct ch_client *c) {
  if (c->js_reconnect)
    return (c->transport == CH_TRANSPORT_LONGPOLLING ? 3000u : 2000u) * MS;
  return (uint64_t)c->reconnect_delay_ms * MS;
}

/* Records why one attempt failed and tells the owner. false: the owner stopped the client meanwhile. */
static bool cl_attempt_failed(struct ch_client *c, enum ch_failure_category cat, const char *why) {
  c->attempt_fail.category = cat == CH_FAIL_NONE ? CH_FAIL_CONNECT : cat;
  snprintf(c->attempt_fail.message, sizeof c->attempt_fail.message, "%s", why);
  if (c->on_event)
    c->on_event(c, CH_EVENT_RECONNECT_FAILED, c->user);
  return c->state == CH_CLIENT_RECONNECTING;
}

static void cl_reconnect_attempt(struct ch_client *c) {
  c->reconnect_at = 0;
  if (!ch__hs_acquire(c->w, c))
    return; /* resumed by ch__hs_release */
  int rc = cl_open_transport(c, true);
  if (rc) {
    ch__client_slot_release(c);
    if (!cl_attempt_failed(c, CH_FAIL_CONNECT, "reconnect: the request could not be opened"))
      return;
    uint64_t next = ch_now_ns() + cl_reconnect_delay_ns(c);
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
  if (c->js_reconnect) { /* verifyLastActive: reconnectWindow since the last message, whichever ends first */
    uint64_t window = c->times.last_rx + (uint64_t)((c->neg.disconnect_timeout + c->neg.keep_alive_timeout) * 1e9);
    if (c->times.last_rx && window < c->reconnect_deadline)
      c->reconnect_deadline = window;
  }
  c->reconnect_at = now + cl_reconnect_delay_ns(c);
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
  ch__client_slot_release(c);
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
    if (!dropping && cat != CH_FAIL_WS_PROTOCOL && cat != CH_FAIL_LOCAL)
      c->counters.server_closes++; /* not asked: the clients reconnect, but the run must see it (§4.1, §8) */
    cl_lost(c, dropping && cat == CH_FAIL_NONE ? CH_FAIL_CONNECTION_LOST : cat,
            why[0] ? why : "ws: connection dropped");
    break;
  case CH_CLIENT_RECONNECTING: {
    ch__client_slot_release(c);
    if (!cl_attempt_failed(c, cat, why[0] ? why : "reconnect: failed"))
      break;
    uint64_t next = ch_now_ns() + cl_reconnect_delay_ns(c);
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
    ch__client_maybe_finish(c);
    break;
  default:
    break;
  }
}

const struct ch_transport_events ch__client_tr_events = {
    .opened = cl_tr_opened,
    .message = ch__client_rx,
    .closed = cl_tr_closed,
    .tls = ch__client_tls,
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
  if (!ops || ops->create(c->w, &ch__client_tr_events, c, &tr) != 0)
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
  ch__client_trace_http_in(c, CH_TRACE_START, res);
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
  struct ch_url_params p = ch__client_params(c);
  struct ch_buf url = CH_BUF_INIT;
  int rc = ch_url_build(&url, CH_REQ_START, &p);
  if (rc == 0) {
    struct ch_http_opts o = {.url = url.data,
                             .tls_owner = c,
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

void ch__client_timer_cb(uv_timer_t *t) {
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
      ch__client_maybe_finish(c);
      return;
    }
    next = c->stop_deadline;
    break;
  default:
    return;
  }
  ch__client_arm(c, next);
}
