/* ch_fallback: the part serverSentEvents and longPolling share. See ch_fallback.h. */
#include "ch_fallback.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_signalr.h"
#include "ch_worker.h"

#define MS 1000000ull
#define FB_SEND_TIMEOUT_MS 120000u
#define FB_DEFAULT_MAX_MESSAGE (1u << 20)
static const char FORM_CT[] = "application/x-www-form-urlencoded; charset=UTF-8";

static void fb_timer_cb(uv_timer_t *h);

void ch__fb_init(struct ch_fb *t, const struct ch_transport_ops *ops, const struct ch_fb_kind *kind,
                 struct ch_worker *w, const struct ch_transport_events *ev, void *owner) {
  memset(t, 0, sizeof *t);
  t->base.ops = ops;
  t->base.worker = w;
  t->base.ev = ev;
  t->base.owner = owner;
  t->kind = kind;
}

bool ch__fb_running(const struct ch_fb *t) { return t->live && !t->ending; }

void ch__fb_arm(struct ch_fb *t, uint64_t due) {
  if (!t->timer_init || t->timer_closing)
    return;
  uint64_t now = ch_now_ns();
  if (due < now)
    due = now;
  if (t->timer_due && t->timer_due <= due)
    return;
  t->timer_due = due;
  uv_timer_start(&t->timer, fb_timer_cb, (due - now + MS - 1) / MS, 0);
}

void ch__fb_end(struct ch_fb *t, enum ch_failure_category cat, const char *why) {
  if (!t->live || t->ending)
    return;
  t->ending = true;
  t->end_cat = cat;
  snprintf(t->end_why, sizeof t->end_why, "%s", why ? why : "");
  ch__fb_arm(t, 0);
}

static void fb_cancel_sends(struct ch_fb *t) {
  for (size_t i = 0; i < t->n_sends; i++)
    ch_http_cancel(t->sends[i].req);
  t->n_sends = 0;
}

/* Drops every request and per-connection state; no event. */
static void fb_forget(struct ch_fb *t) {
  if (t->kind)
    t->kind->cancel(t);
  fb_cancel_sends(t);
  t->live = t->opened = t->closing = t->ending = false;
  t->end_cat = CH_FAIL_NONE;
  t->end_why[0] = '\0';
  if (t->timer_init && !t->timer_closing) {
    uv_timer_stop(&t->timer);
    t->timer_due = 0;
  }
  if (t->kind)
    t->kind->reset(t, false);
}

/* Everything in flight is cancelled, then closed is emitted (we run from the timer: outside curl's callbacks). */
static void fb_finish(struct ch_fb *t) {
  enum ch_failure_category cat = t->end_cat;
  char why[sizeof t->end_why];
  memcpy(why, t->end_why, sizeof why);
  fb_forget(t);
  t->base.ev->closed(t->base.owner, cat, why);
}

static void fb_timer_cb(uv_timer_t *h) {
  struct ch_fb *t = h->data;
  t->timer_due = 0;
  if (!t->live)
    return;
  if (!t->ending)
    t->kind->work(t, ch_now_ns());
  if (t->live && t->ending)
    fb_finish(t);
}

bool ch__fb_emit_opened(struct ch_fb *t) {
  if (!ch__fb_running(t))
    return false;
  if (t->opened)
    return true;
  t->opened = true;
  t->in_event = true;
  t->base.ev->opened(t->base.owner);
  t->in_event = false;
  return ch__fb_running(t);
}

bool ch__fb_emit_message(struct ch_fb *t, const char *p, size_t n, uint64_t recv_ns) {
  if (!ch__fb_running(t))
    return false;
  t->in_event = true;
  t->base.ev->message(t->base.owner, p, n, recv_ns);
  t->in_event = false;
  return ch__fb_running(t);
}

int ch__fb_open(struct ch_fb *t, const struct ch_transport_open *o) {
  struct ch_worker *w = t->base.worker;
  if (t->live)
    return -EALREADY;
  if (w->stopping)
    return -ESHUTDOWN;
  if (t->timer_closing)
    return -EBUSY;
  if (!o || !o->path || !o->host_header || !o->send_url)
    return -EINVAL;
  if (!t->timer_init) {
    if (uv_timer_init(&w->loop, &t->timer) != 0)
      return -ENOMEM;
    t->timer.data = t;
    t->timer_init = true;
  }
  ch_buf_reset(&t->url);
  ch_buf_reset(&t->send_url);
  if (ch_buf_printf(&t->url, "%s://%s%s", o->tls ? "https" : "http", o->host_header, o->path) != 0 ||
      ch_buf_puts(&t->send_url, o->send_url) != 0)
    return -ENOMEM;
  t->auth = o->auth_header;
  t->auth_slot = o->auth_slot;
  t->source_addr = o->source_addr;
  t->reconnect = o->trace_channel == CH_TRACE_RECONNECT;
  t->max_message = w->eng->opts.max_message_bytes ? w->eng->opts.max_message_bytes : FB_DEFAULT_MAX_MESSAGE;
  t->send_timeout_ms = FB_SEND_TIMEOUT_MS;
  t->live = true;
  t->opened = t->closing = t->ending = false;
  t->end_cat = CH_FAIL_NONE;
  t->end_why[0] = '\0';
  return 0;
}

/* ---------------------------------------------------------------- POST /send */

/* The invocation's I (digits, or a short plain string) so that a failed /send can complete it with an error. */
static void fb_invocation_id(const char *p, size_t n, char *id, size_t cap) {
  id[0] = '\0';
  struct ch_span doc, v;
  if (ch_json_parse((struct ch_span){p, n}, &doc, NULL) != 0 || ch_json_obj_get(doc, "I", &v) != 1)
    return;
  if (ch_json_kind(v) == CH_JSON_STRING)
    v = ch_json_str_inner(v);
  if (!v.n || v.n >= cap)
    return;
  for (size_t i = 0; i < v.n; i++) {
    char c = v.p[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '|' || c == '-'))
      return;
  }
  memcpy(id, v.p, v.n);
  id[v.n] = '\0';
}

static bool fb_blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
      return false;
  return true;
}

static void fb_send_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg) {
  struct ch_fb *t = arg;
  char id[sizeof t->sends[0].id] = "";
  for (size_t i = 0; i < t->n_sends; i++) {
    if (t->sends[i].req == r) {
      memcpy(id, t->sends[i].id, sizeof id);
      t->sends[i] = t->sends[--t->n_sends];
      break;
    }
  }
  if (!ch__fb_running(t))
    return;
  if (res->curl_code == 0 && res->status == 200 && res->body && !fb_blank(res->body, res->body_len)) {
    /* The hub response (protocol §3.4): the client's receive path completes the invocation from it. */
    ch__fb_emit_message(t, res->body, res->body_len, res->end_ns);
    return;
  }
  if (!id[0])
    return;
  /* A /send that failed completes its invocation with an error naming why, instead of a silent timeout. */
  char why[96];
  if (res->body_too_big)
    snprintf(why, sizeof why, "send: response larger than %zu bytes", t->max_message);
  else if (res->curl_code)
    snprintf(why, sizeof why, "send: %.70s", res->error ? res->error : "transfer failed");
  else if (res->status != 200)
    snprintf(why, sizeof why, "send: HTTP %ld", res->status);
  else
    snprintf(why, sizeof why, "send: empty response body");
  struct ch_buf b = CH_BUF_INIT;
  if (ch_buf_printf(&b, "{\"I\":\"%s\",\"E\":", id) == 0 && ch_json_append_str(&b, why, strlen(why)) == 0 &&
      ch_buf_putc(&b, '}') == 0)
    ch__fb_emit_message(t, b.data, b.len, res->end_ns);
  ch_buf_free(&b);
}

int ch__fb_send(struct ch_channel *base, const char *p, size_t n) {
  struct ch_fb *t = (struct ch_fb *)base;
  if (!ch__fb_running(t) || !t->opened || t->closing)
    return -ENOTCONN;
  if (t->n_sends == t->cap_sends) {
    size_t ncap = t->cap_sends ? t->cap_sends * 2 : 2;
    struct ch_fb_send *ns = realloc(t->sends, ncap * sizeof *ns);
    if (!ns)
      return -ENOMEM;
    t->sends = ns;
    t->cap_sends = ncap;
  }
  struct ch_fb_send *s = &t->sends[t->n_sends];
  fb_invocation_id(p, n, s->id, sizeof s->id);
  struct ch_buf body = CH_BUF_INIT;
  int rc = ch_encode_send_body(&body, p, n);
  if (rc == 0) {
    struct ch_http_opts o = {.url = t->send_url.data,
                             .tls_owner = base->owner,
                             .post = true,
                             .body = body.data,
                             .body_len = body.len,
                             .content_type = FORM_CT,
                             .auth_header = ch__fb_auth(t),
                             .source_addr = t->source_addr,
                             .timeout_ms = t->send_timeout_ms,
                             .max_body = t->max_message,
                             .done = fb_send_done,
                             .arg = t};
    rc = ch_http_start(base->worker, &o, &s->req);
  }
  ch_buf_free(&body);
  if (rc)
    return rc;
  t->n_sends++;
  return 0;
}

/* ---------------------------------------------------------------- life cycle ops */

void ch__fb_close(struct ch_channel *base, bool abrupt) {
  (void)abrupt; /* HTTP has no close handshake: both forms end the requests */
  struct ch_fb *t = (struct ch_fb *)base;
  if (!t->live)
    return;
  t->closing = true;
  ch__fb_end(t, CH_FAIL_NONE, "");
}

bool ch__fb_is_open(const struct ch_channel *base) { return ((const struct ch_fb *)base)->live; }

void ch__fb_detach(struct ch_channel *base) { fb_forget((struct ch_fb *)base); }

/* The URLs may carry a query-string credential: wiped before the memory is returned. */
static void fb_wipe(struct ch_buf *b) {
  if (b->data)
    memset(b->data, 0, b->cap);
  ch_buf_free(b);
}

int ch__fb_set_urls(struct ch_channel *base, const char *send_url, const char *poll_url) {
  struct ch_fb *t = (struct ch_fb *)base;
  (void)poll_url;
  if (!send_url)
    return 0;
  if (t->send_url.data)
    memset(t->send_url.data, 0, t->send_url.cap); /* the old credential */
  ch_buf_reset(&t->send_url);
  return ch_buf_puts(&t->send_url, send_url);
}

static void fb_free(struct ch_fb *t) {
  t->kind->reset(t, true);
  fb_wipe(&t->url);
  fb_wipe(&t->send_url);
  free(t->sends);
  free(t);
}

static void fb_timer_closed(uv_handle_t *h) {
  struct ch_fb *t = h->data;
  t->timer_init = t->timer_closing = false;
  if (t->free_on_close)
    fb_free(t);
}

void ch__fb_destroy(struct ch_channel *base) {
  struct ch_fb *t = (struct ch_fb *)base;
  if (!t)
    return;
  fb_forget(t);
  if (t->timer_init) {
    t->free_on_close = true;
    if (!t->timer_closing) {
      t->timer_closing = true;
      uv_close((uv_handle_t *)&t->timer, fb_timer_closed);
    }
    return;
  }
  fb_free(t);
}
