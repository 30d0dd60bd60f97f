/* ch_lp_transport: the longPolling transport (protocol §1.2, §4.3, §7, §8), as the JS 2.4.3 client drives it:
   `POST {Url}/connect` (empty form body) answers the init; then `POST {Url}/poll` with the form body
   `messageId=<C>[&groupsToken=<G>]` in a loop, each response one frame for the client. A response's `L` delays the
   next poll; `T:1` ends the connection so that the client reconnects. The request timeout is ConnectionTimeout +
   10 s, like the JS XHR timeout. `/reconnect` carries the client's last cursor and groups token in its body.

   Opened: on the connect response; for a reconnect on its response or, as the held request gives no sign of life,
   once it has been in flight for LP_SETTLE_MS without failing (the .NET client waits 5 s, JS 2^n-1 s).

   Keep-alive: a held poll receives single spaces every 10 s (§4.3). They are reported to the client as the
   keep-alive frame `{}` (activity; .NET counts them the same way) since a body only completes later. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_fallback.h"
#include "ch_signalr.h"
#include "ch_worker.h"

#define MS 1000000ull
#define LP_SETTLE_MS 1000u
#define LP_DEFAULT_TIMEOUT_MS 120000u
#define LP_MAX_DELAY_MS 600000
static const char FORM_CT[] = "application/x-www-form-urlencoded; charset=UTF-8";

struct ch_lp_tr {
  struct ch_fb fb;
  struct ch_http_req *req;
  bool req_is_poll;       /* the request in flight is a /poll (not the connect or reconnect) */
  struct ch_buf poll_url;
  struct ch_buf cursor, groups;
  struct ch_buf body;     /* the response being received */
  bool body_nonblank;     /* something other than whitespace arrived in it */
  bool too_big;
  unsigned ka_pending;    /* keep-alive spaces not yet reported */
  uint32_t timeout_ms;
  uint64_t next_poll_at;  /* 0 = no poll scheduled */
  uint64_t settle_at;     /* reconnect: opened after this if still fine */
};

static bool lp_is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int lp_on_data(struct ch_http_req *r, const char *p, size_t n, void *arg) {
  (void)r;
  struct ch_lp_tr *t = arg;
  if (!ch__fb_running(&t->fb))
    return -1;
  if (t->body.len + n > t->fb.max_message) {
    t->too_big = true;
    return -1;
  }
  if (!t->body_nonblank) {
    size_t spaces = 0;
    while (spaces < n && lp_is_blank(p[spaces]))
      spaces++;
    if (spaces == n) {
      /* only keep-alive whitespace so far: not kept (a held poll may see many), reported as activity */
      if (t->fb.opened && t->req_is_poll) {
        t->ka_pending++;
        ch__fb_arm(&t->fb, 0);
      }
      return 0;
    }
    t->body_nonblank = true;
    p += spaces;
    n -= spaces;
  }
  return ch_buf_append(&t->body, p, n) == 0 ? 0 : -1;
}

static void lp_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg);

static int lp_request(struct ch_lp_tr *t, const char *url, const char *body, size_t body_len, bool poll) {
  ch_buf_reset(&t->body);
  if (t->body.cap > 16384)
    ch_buf_free(&t->body);
  t->body_nonblank = t->too_big = false;
  struct ch_http_opts o = {.url = url,
                           .tls_owner = t->fb.base.owner,
                           .post = true,
                           .body = body,
                           .body_len = body_len,
                           .content_type = FORM_CT,
                           .auth_header = ch__fb_auth(&t->fb),
                           .source_addr = t->fb.source_addr,
                           .timeout_ms = t->timeout_ms,
                           .on_data = lp_on_data,
                           .done = lp_done,
                           .arg = t};
  int rc = ch_http_start(t->fb.base.worker, &o, &t->req);
  if (rc == 0)
    t->req_is_poll = poll;
  return rc;
}

static int lp_poll_body(struct ch_lp_tr *t, struct ch_buf *b) {
  return ch_encode_poll_body(b, t->cursor.len ? t->cursor.data : NULL, t->groups.len ? t->groups.data : NULL);
}

static void lp_start_poll(struct ch_lp_tr *t) {
  struct ch_buf b = CH_BUF_INIT;
  int rc = lp_poll_body(t, &b);
  if (rc == 0)
    rc = lp_request(t, t->poll_url.data, b.data ? b.data : "", b.len, true);
  ch_buf_free(&b);
  if (rc) {
    char why[96];
    snprintf(why, sizeof why, "lp: could not start the poll (%s)", strerror(-rc));
    ch__fb_end(&t->fb, rc == -ESHUTDOWN ? CH_FAIL_CONNECTION_LOST : CH_FAIL_LOCAL, why);
  }
}

static int lp_store(struct ch_buf *dst, struct ch_span tok) {
  ch_buf_reset(dst);
  if (!ch_json_str_has_escape(tok)) {
    struct ch_span in = ch_json_str_inner(tok);
    return ch_buf_append(dst, in.p, in.n);
  }
  return ch_json_str_unescape(tok, dst);
}

static void lp_done(struct ch_http_req *r, const struct ch_http_result *res, void *arg) {
  (void)r;
  struct ch_lp_tr *t = arg;
  t->req = NULL;
  t->settle_at = 0;
  if (!ch__fb_running(&t->fb))
    return;
  const char *what = t->req_is_poll ? "poll" : t->fb.reconnect ? "reconnect" : "connect";
  bool up = t->fb.opened;
  char why[160];
  if (t->too_big) {
    snprintf(why, sizeof why, "lp: %s response larger than %zu bytes", what, t->fb.max_message);
    ch__fb_end(&t->fb, up ? CH_FAIL_WS_PROTOCOL : CH_FAIL_CONNECT, why);
    return;
  }
  if (res->curl_code || res->status != 200) {
    if (res->curl_code == CURLE_OPERATION_TIMEDOUT)
      snprintf(why, sizeof why, "lp: %s got no response within %.1f s", what, t->timeout_ms / 1e3);
    else if (res->curl_code)
      snprintf(why, sizeof why, "lp: %s failed: %.100s", what, res->error ? res->error : "transfer failed");
    else
      snprintf(why, sizeof why, "lp: HTTP %ld answered the %s", res->status, what);
    ch__fb_end(&t->fb, up ? CH_FAIL_CONNECTION_LOST : CH_FAIL_CONNECT, why);
    return;
  }
  uint64_t now = ch_now_ns();
  if (!t->body_nonblank) {
    /* A server always ends a poll with a JSON object; a body of nothing or keep-alive spaces means the response
       was cut (a close-delimited body looks complete to HTTP). JS fails to parse it and reconnects. */
    snprintf(why, sizeof why, "lp: the %s response ended without a message (connection closed?)", what);
    ch__fb_end(&t->fb, up ? CH_FAIL_CONNECTION_LOST : CH_FAIL_CONNECT, why);
    return;
  }
  /* Track C and G (echoed in the next poll), L and T. A body that does not decode goes to the client as it is:
     the client fails with the decoder's reason. */
  struct ch_recv rv;
  const char *reason = NULL;
  int64_t delay_ms = 0;
  bool shutting_down = false;
  if (ch_recv_decode(t->body.data, t->body.len, true, &rv, &reason) == 0 && rv.kind == CH_RECV_PERSISTENT) {
    if (rv.c.p && ch_json_kind(rv.c) == CH_JSON_STRING && lp_store(&t->cursor, rv.c) != 0) {
      ch__fb_end(&t->fb, CH_FAIL_LOCAL, "lp: out of memory");
      return;
    }
    if (rv.g.p && ch_json_kind(rv.g) == CH_JSON_STRING && lp_store(&t->groups, rv.g) != 0) {
      ch__fb_end(&t->fb, CH_FAIL_LOCAL, "lp: out of memory");
      return;
    }
    if (rv.has_l && rv.l > 0)
      delay_ms = rv.l < LP_MAX_DELAY_MS ? rv.l : LP_MAX_DELAY_MS;
    shutting_down = rv.t == 1;
  }
  if (!ch__fb_emit_opened(&t->fb))
    return;
  if (!ch__fb_emit_message(&t->fb, t->body.data, t->body.len, res->end_ns))
    return;
  if (shutting_down) {
    ch__fb_end(&t->fb, CH_FAIL_CONNECTION_LOST, "lp: the server is shutting down (T:1)");
    return;
  }
  t->next_poll_at = now + (uint64_t)delay_ms * MS;
  ch__fb_arm(&t->fb, t->next_poll_at);
}

static void lp_work(struct ch_fb *fb, uint64_t now) {
  struct ch_lp_tr *t = (struct ch_lp_tr *)fb;
  if (t->ka_pending && fb->opened) {
    t->ka_pending = 0;
    if (!ch__fb_emit_message(fb, "{}", 2, now))
      return;
  }
  if (t->settle_at && now >= t->settle_at) {
    t->settle_at = 0;
    if (t->req && !ch__fb_emit_opened(fb))
      return;
  }
  if (t->next_poll_at && now >= t->next_poll_at && !t->req) {
    t->next_poll_at = 0;
    lp_start_poll(t);
  }
  if (!ch__fb_running(fb))
    return;
  uint64_t next = t->settle_at;
  if (t->next_poll_at && (!next || t->next_poll_at < next))
    next = t->next_poll_at;
  if (next)
    ch__fb_arm(fb, next);
}

static void lp_cancel(struct ch_fb *fb) {
  struct ch_lp_tr *t = (struct ch_lp_tr *)fb;
  if (t->req) {
    ch_http_cancel(t->req);
    t->req = NULL;
  }
}

static void lp_reset(struct ch_fb *fb, bool final) {
  struct ch_lp_tr *t = (struct ch_lp_tr *)fb;
  t->next_poll_at = t->settle_at = 0;
  t->ka_pending = 0;
  t->body_nonblank = t->too_big = false;
  ch_buf_free(&t->body);
  if (final) {
    if (t->poll_url.data)
      memset(t->poll_url.data, 0, t->poll_url.cap); /* may carry a query-string credential */
    ch_buf_free(&t->poll_url);
    ch_buf_free(&t->cursor);
    ch_buf_free(&t->groups);
  }
}

static const struct ch_fb_kind lp_kind = {.work = lp_work, .cancel = lp_cancel, .reset = lp_reset};

static int lp_create(struct ch_worker *w, const struct ch_transport_events *ev, void *owner,
                     struct ch_channel **out) {
  struct ch_lp_tr *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  ch__fb_init(&t->fb, &ch_lp_transport_ops, &lp_kind, w, ev, owner);
  *out = &t->fb.base;
  return 0;
}

static int lp_open(struct ch_channel *base, const struct ch_transport_open *o) {
  struct ch_lp_tr *t = (struct ch_lp_tr *)base;
  if (!o || !o->poll_url)
    return -EINVAL;
  int rc = ch__fb_open(&t->fb, o);
  if (rc)
    return rc;
  t->timeout_ms = o->poll_timeout_ms ? o->poll_timeout_ms : LP_DEFAULT_TIMEOUT_MS;
  ch_buf_reset(&t->poll_url);
  ch_buf_reset(&t->cursor);
  ch_buf_reset(&t->groups);
  rc = ch_buf_puts(&t->poll_url, o->poll_url);
  if (!rc && o->message_id)
    rc = ch_buf_puts(&t->cursor, o->message_id);
  if (!rc && o->groups_token)
    rc = ch_buf_puts(&t->groups, o->groups_token);
  struct ch_buf b = CH_BUF_INIT;
  if (!rc && t->fb.reconnect)
    rc = lp_poll_body(t, &b);
  if (!rc)
    rc = lp_request(t, t->fb.url.data, b.data ? b.data : "", b.len, false);
  ch_buf_free(&b);
  if (rc) {
    t->fb.live = false;
    lp_reset(&t->fb, false);
    return rc;
  }
  if (t->fb.reconnect) {
    t->settle_at = ch_now_ns() + LP_SETTLE_MS * MS;
    ch__fb_arm(&t->fb, t->settle_at);
  }
  return 0;
}

static int lp_set_urls(struct ch_channel *base, const char *send_url, const char *poll_url) {
  struct ch_lp_tr *t = (struct ch_lp_tr *)base;
  int rc = ch__fb_set_urls(base, send_url, NULL);
  if (!rc && poll_url) {
    if (t->poll_url.data)
      memset(t->poll_url.data, 0, t->poll_url.cap); /* the old credential */
    ch_buf_reset(&t->poll_url);
    rc = ch_buf_puts(&t->poll_url, poll_url);
  }
  return rc;
}

const struct ch_transport_ops ch_lp_transport_ops = {
    .name = "longPolling",
    .create = lp_create,
    .open = lp_open,
    .send = ch__fb_send,
    .close = ch__fb_close,
    .is_open = ch__fb_is_open,
    .detach = ch__fb_detach,
    .destroy = ch__fb_destroy,
    .set_urls = lp_set_urls,
};
