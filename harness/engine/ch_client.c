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
                                      "reconnected",    "groups_token",   "server_shutdown",
                                      "reconnect_failed"};
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

void ch_client_stop_trace(struct ch_client *c) { c->on_trace = NULL; }

void ch__client_tls(void *client, enum ch_tls_resume how, uint64_t handshake_ns) {
  struct ch_client *c = client;
  if (c->on_tls)
    c->on_tls(c, how, handshake_ns, c->user);
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
void ch__client_trace_http_in(struct ch_client *c, enum ch_trace_channel ch, const struct ch_http_result *res) {
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

void ch__client_arm(struct ch_client *c, uint64_t due) {
  if (!c->timer_init || !due || c->state == CH_CLIENT_CLOSED)
    return;
  if (c->timer_due && c->timer_due <= due)
    return;
  uint64_t now = ch_now_ns();
  uint64_t ms = due > now ? (due - now + MS - 1) / MS : 0;
  c->timer_due = due;
  uv_timer_start(&c->timer, ch__client_timer_cb, ms, 0);
}

void ch__client_slot_release(struct ch_client *c) {
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

struct ch_url_params ch__client_params(struct ch_client *c) {
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
  ch__client_slot_release(c);
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

void ch__client_maybe_finish(struct ch_client *c) {
  if (c->state == CH_CLIENT_STOPPING && !c->tr_waiting && !c->abort_req && !c->http)
    cl_finish(c);
}

static void cl_abort_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg) {
  (void)r;
  struct ch_client *c = arg;
  c->abort_req = NULL;
  ch__client_trace_http_in(c, CH_TRACE_ABORT, res);
  ch__client_maybe_finish(c);
}

static void cl_send_abort(struct ch_client *c) {
  struct ch_url_params p = ch__client_params(c);
  struct ch_buf url = CH_BUF_INIT;
  if (ch_url_build(&url, CH_REQ_ABORT, &p) == 0) {
    uint32_t to = c->http_timeout_ms < ABORT_TIMEOUT_MS ? c->http_timeout_ms : ABORT_TIMEOUT_MS;
    struct ch_http_opts o = {.url = url.data,
                             .tls_owner = c,
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
  ch__client_slot_release(c);
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

static void cl_wipe_free(char *s) {
  if (s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

static void cl_free_strings(struct ch_client *c) {
  ch_url_free(&c->target);
  free(c->client_protocol);
  for (size_t i = 0; i < c->hub_count; i++)
    free(c->hubs ? c->hubs[i] : NULL);
  free(c->hubs);
  free(c->connection_data);
  cl_wipe_free(c->auth_header);
  free(c->cred_name);
  cl_wipe_free(c->cred_value);
  free(c->host_header);
}

/* Safe to free the old value at once: every request copies the credential when it starts (curl's header list, the
   URL, lws's upgrade header), and the transports read it through auth_slot (the client's field) rather than keeping
   the pointer, so nothing refers to the old string after this returns. */
int ch_client_set_auth(struct ch_client *c, const char *auth_value) {
  if (!auth_value || !*auth_value || (!c->auth_header && !c->cred_value))
    return -EINVAL;
  if (c->auth_header && strpbrk(auth_value, "\r\n"))
    return -EINVAL;
  char *v = cl_strdup(auth_value);
  if (!v)
    return -ENOMEM;
  if (c->auth_header) {
    cl_wipe_free(c->auth_header);
    c->auth_header = v;
    return 0;
  }
  cl_wipe_free(c->cred_value);
  c->cred_value = v;
  /* query mode: an open SSE or long-polling connection sends and polls on URLs built at open */
  if (!c->tr || !c->tops->set_urls || !c->tops->is_open(c->tr) || !c->have_neg)
    return 0;
  struct ch_url_params p = ch__client_params(c);
  struct ch_buf send_url = CH_BUF_INIT, poll_url = CH_BUF_INIT;
  int rc = ch_url_build(&send_url, CH_REQ_SEND, &p);
  if (!rc && c->transport == CH_TRANSPORT_LONGPOLLING)
    rc = ch_url_build(&poll_url, CH_REQ_POLL, &p);
  if (!rc)
    rc = c->tops->set_urls(c->tr, send_url.data, poll_url.data);
  if (send_url.data)
    memset(send_url.data, 0, send_url.cap);
  if (poll_url.data)
    memset(poll_url.data, 0, poll_url.cap);
  ch_buf_free(&send_url);
  ch_buf_free(&poll_url);
  return rc;
}

int ch_client_new(struct ch_worker *w, const struct ch_client_opts *o, struct ch_client **out) {
  *out = NULL;
  if (!w || !o || !o->target || !o->target->host || !o->target->scheme || (o->hub_count && !o->hubs))
    return -EINVAL;
  const struct ch_transport_ops *tops =
      ch_transport_ops_for(o->transport);
  if (!tops)
    return -ENOTSUP;
  /* wss:// runs our framing over ch_tls_conn (lws 4.1.6 cannot tear down a raw TLS socket on libuv, so not over
     lws); lws's own client only when asked for, or for wss through an http_proxy (which only lws speaks) */
  if (tops == &ch_wsraw_transport_ops && (w->eng->opts.ws_lws_framing || (o->target->tls && w->eng->wss_via_proxy)))
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
  c->on_tls = o->on_tls;
  c->user = o->user;
  c->transport = o->transport;
  c->auto_transport = o->auto_transport;
  c->tops = tops;
  c->http_timeout_ms = o->http_timeout_ms ? o->http_timeout_ms : 30000;
  c->invoke_timeout_ms = o->invoke_timeout_ms ? o->invoke_timeout_ms : 30000;
  c->connect_timeout_ms = o->connect_timeout_ms;
  c->reconnect_delay_ms = o->reconnect_delay_ms ? o->reconnect_delay_ms : 2000;
  c->no_reconnect = o->no_reconnect;
  c->js_reconnect = o->js_reconnect;
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
    rc = tops->create(w, &ch__client_tr_events, c, &c->tr);
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
    ch__client_negotiate(c);
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
const struct ch_client_failure *ch_client_attempt_failure(const struct ch_client *c) { return &c->attempt_fail; }
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
