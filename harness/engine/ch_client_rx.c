/* ch_client_rx: the receive channel (protocol §3.1, §3.4, §7) and hub invocations of a client. This is the hot
   path: frames are decoded in place by ch_proto's scanner (no cJSON, no allocation per message); the only copies are
   the cursor and groups token, into buffers the client keeps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_clock.h"
#include "ch_client_int.h"

static bool rx_active(const struct ch_client *c) {
  return c->state == CH_CLIENT_INITIALIZING || c->state == CH_CLIENT_STARTING || c->state == CH_CLIENT_CONNECTED;
}

/* ---------------------------------------------------------------- invocations */

static struct ch_pending *pend_at(struct ch_client *c, uint32_t i) {
  return &c->pend[(c->pend_head + i) % c->pend_cap];
}

static int pend_push(struct ch_client *c, const struct ch_pending *p) {
  if (c->pend_n == c->pend_cap) {
    uint32_t ncap = c->pend_cap ? c->pend_cap * 2 : 4;
    struct ch_pending *np = malloc(ncap * sizeof *np);
    if (!np)
      return -ENOMEM;
    for (uint32_t i = 0; i < c->pend_n; i++)
      np[i] = *pend_at(c, i);
    free(c->pend);
    c->pend = np;
    c->pend_cap = ncap;
    c->pend_head = 0;
  }
  c->pend[(c->pend_head + c->pend_n) % c->pend_cap] = *p;
  c->pend_n++;
  return 0;
}

/* Removes entry i (0 = oldest), keeping the order of the others. */
static struct ch_pending pend_take(struct ch_client *c, uint32_t i) {
  struct ch_pending p = *pend_at(c, i);
  if (i == 0) {
    c->pend_head = (c->pend_head + 1) % c->pend_cap;
  } else {
    for (uint32_t k = i; k + 1 < c->pend_n; k++)
      *pend_at(c, k) = *pend_at(c, k + 1);
  }
  c->pend_n--;
  return p;
}

uint64_t ch__client_pending_deadline(const struct ch_client *c) {
  return c->pend_n ? c->pend[c->pend_head].deadline_ns : 0;
}

void ch__client_fail_pending(struct ch_client *c, int status) {
  enum ch_client_state s = c->state;
  while (c->pend_n && c->state == s) {
    struct ch_pending p = pend_take(c, 0);
    if (status == -ETIMEDOUT)
      c->counters.invocations_timeout++;
    else
      c->counters.invocations_lost++;
    struct ch_completion r;
    memset(&r, 0, sizeof r);
    r.id = p.id;
    r.status = status;
    r.sent_ns = p.sent_ns;
    if (p.done)
      p.done(c, &r, p.arg);
  }
}

int ch_client_invoke(struct ch_client *c, const char *hub, const char *method, const char *args_json,
                     ch_invoke_done_cb done, void *arg, uint64_t *id_out) {
  if (!hub || !*hub || !method || !*method)
    return -EINVAL;
  if (c->state != CH_CLIENT_CONNECTED)
    return -ENOTCONN;
  const char *args = args_json ? args_json : "[]";
  struct ch_buf *b = &c->w->scratch;
  ch_buf_reset(b);
  uint64_t id = c->next_id;
  int rc = ch_encode_invocation(b, hub, method, args, strlen(args), id, c->id_as_string, NULL);
  if (rc)
    return rc;
  uint64_t now = ch_now_ns();
  struct ch_pending p = {id, now, now + (uint64_t)c->invoke_timeout_ms * 1000000ull, done, arg};
  if ((rc = pend_push(c, &p)) != 0)
    return rc;
  if ((rc = c->tops->send(c->tr, b->data, b->len)) != 0) {
    pend_take(c, c->pend_n - 1);
    return rc;
  }
  c->next_id++;
  c->counters.msgs_out++;
  c->counters.bytes_out += b->len;
  if (c->on_trace)
    ch__client_trace(c, CH_TRACE_OUT, CH_TRACE_TRANSPORT, b->data, b->len, true);
  ch__client_arm(c, p.deadline_ns);
  if (id_out)
    *id_out = id;
  return 0;
}

/* A hub response (top-level I): complete the matching invocation. Unknown ids (late after a timeout, or the "P|"
   progress form) are ignored, as the official clients do. */
static void rx_completion(struct ch_client *c, const struct ch_recv *r, uint64_t recv_ns) {
  struct ch_span tok = r->i;
  struct ch_span digits = ch_json_kind(tok) == CH_JSON_STRING ? ch_json_str_inner(tok) : tok;
  if (!digits.n || digits.n > 20)
    return;
  uint64_t id = 0;
  for (size_t k = 0; k < digits.n; k++) {
    char ch = digits.p[k];
    if (ch < '0' || ch > '9')
      return;
    id = id * 10 + (uint64_t)(ch - '0');
  }
  uint32_t i = 0;
  while (i < c->pend_n && pend_at(c, i)->id != id)
    i++;
  if (i == c->pend_n)
    return;
  struct ch_pending p = pend_take(c, i);
  struct ch_completion res;
  memset(&res, 0, sizeof res);
  res.id = id;
  res.sent_ns = p.sent_ns;
  res.rtt_ns = recv_ns > p.sent_ns ? recv_ns - p.sent_ns : 0;
  if (r->r.p) {
    res.result = r->r.p;
    res.result_len = r->r.n;
  }
  if (r->e.p) {
    struct ch_buf *eb = &c->w->rx_scratch;
    ch_buf_reset(eb);
    if (ch_json_str_unescape(r->e, eb) == 0 && eb->data) {
      res.error = eb->data;
      res.error_len = eb->len;
    } else {
      res.error = "(undecodable error text)";
      res.error_len = strlen(res.error);
    }
  }
  res.hub_error = r->h;
  if (r->d.p) {
    res.data = r->d.p;
    res.data_len = r->d.n;
  }
  if (res.error)
    c->counters.invocations_error++;
  else
    c->counters.invocations_ok++;
  if (p.done)
    p.done(c, &res, p.arg);
}

/* ---------------------------------------------------------------- persistent responses */

static int rx_store_token(struct ch_buf *dst, struct ch_span tok) {
  ch_buf_reset(dst);
  if (!ch_json_str_has_escape(tok)) {
    struct ch_span in = ch_json_str_inner(tok);
    return ch_buf_append(dst, in.p, in.n);
  }
  return ch_json_str_unescape(tok, dst);
}

static int rx_hub_index(const struct ch_client *c, struct ch_span hub) {
  for (size_t i = 0; i < c->hub_count; i++)
    if (ch_json_str_eq_ci(hub, c->hubs[i], strlen(c->hubs[i])))
      return (int)i;
  return -1;
}

/* The hub index of the previous message of the frame: batched messages nearly always name the same hub. */
struct rx_hub_memo {
  struct ch_span hub;
  int index;
};

static int rx_hub_index_memo(const struct ch_client *c, struct rx_hub_memo *memo, struct ch_span hub) {
  if (memo->hub.p && memo->hub.n == hub.n && !memcmp(memo->hub.p, hub.p, hub.n))
    return memo->index;
  memo->hub = hub;
  memo->index = rx_hub_index(c, hub);
  return memo->index;
}

/* Hands the frame's hub messages to on_message. Returns 0, 1 when the client changed state (stop), or -1 after
   shutting the client down on a malformed message. */
static int rx_dispatch(struct ch_client *c, struct ch_msg_iter *it, uint64_t recv_ns, enum ch_client_state s) {
  struct ch_hub_msg m;
  struct rx_hub_memo memo = {CH_SPAN_NULL, -1};
  const char *reason = NULL;
  int rc;
  while ((rc = ch_recv_msgs_next(it, &m, &reason)) == 1) {
    if (m.kind != CH_MSG_INVOCATION)
      continue;
    c->counters.hub_msgs_in++;
    if (c->on_message) {
      c->on_message(c, &m, rx_hub_index_memo(c, &memo, m.hub), recv_ns, c->user);
      if (c->state != s)
        return 1;
    }
  }
  if (rc < 0) {
    ch__client_shutdown(c, CH_FAIL_BAD_MESSAGE, "%s", reason ? reason : "receive: malformed M");
    return -1;
  }
  return 0;
}

/* The parts of a persistent response that come before its messages: a global error, the groups token, the cursor,
   the shutdown flag. Returns 0, or non-zero when the client was shut down or changed state. */
static int rx_persistent_head(struct ch_client *c, const struct ch_recv *r, enum ch_client_state s) {
  if (r->e.p) {
    /* A global error ends the connection in both official clients (protocol §3.1). */
    ch__client_shutdown(c, CH_FAIL_BAD_MESSAGE, "receive: the server sent an error (E)");
    return -1;
  }
  if (r->g.p) {
    if (ch_json_kind(r->g) != CH_JSON_STRING || rx_store_token(&c->groups, r->g) != 0) {
      ch__client_shutdown(c, CH_FAIL_BAD_MESSAGE, "receive: G is not a valid string");
      return -1;
    }
    if (c->on_event) {
      c->on_event(c, CH_EVENT_GROUPS_TOKEN, c->user);
      if (c->state != s)
        return 1;
    }
  }
  if (r->has_m && r->c.p && rx_store_token(&c->cursor, r->c) != 0) {
    ch__client_shutdown(c, CH_FAIL_BAD_MESSAGE, "receive: C is not a valid string");
    return -1;
  }
  if (r->t == 1 && c->on_event) {
    c->on_event(c, CH_EVENT_SERVER_SHUTDOWN, c->user);
    if (c->state != s)
      return 1;
  }
  return 0;
}

/* Members after M (no real server writes them, protocol §3.1): the lazy decode stopped at M, so the frame is decoded
   again, validating all of it, and what follows M is applied after the messages. */
static void rx_after_m(struct ch_client *c, const char *p, size_t n, const struct ch_recv *lazy, uint64_t recv_ns,
                       enum ch_client_state s) {
  struct ch_recv r;
  const char *reason = NULL;
  if (ch_recv_decode(p, n, false, &r, &reason) != 0) {
    ch__client_shutdown(c, CH_FAIL_BAD_MESSAGE, "%s", reason ? reason : "receive: malformed frame");
    return;
  }
  if (r.kind == CH_RECV_HUB_RESPONSE) {
    rx_completion(c, &r, recv_ns);
    return;
  }
  if (r.kind != CH_RECV_PERSISTENT)
    return;
  if (r.g.p == lazy->g.p) /* applied before the messages already */
    r.g = CH_SPAN_NULL;
  if (r.t == lazy->t)
    r.t = 0;
  if (rx_persistent_head(c, &r, s))
    return;
  if (r.has_m && r.m.p != lazy->m.p) { /* a repeated M: the last one is the frame's */
    struct ch_msg_iter it;
    ch_recv_msgs_begin(&r, &it);
    if (rx_dispatch(c, &it, recv_ns, s))
      return;
  }
  if (r.s == 1 && r.has_m && c->state == CH_CLIENT_INITIALIZING)
    ch__client_init_received(c);
}

void ch__client_rx(void *owner, const char *p, size_t n, uint64_t recv_ns) {
  struct ch_client *c = owner;
  c->counters.msgs_in++;
  c->counters.bytes_in += n;
  if (c->on_trace)
    ch__client_trace(c, CH_TRACE_IN, CH_TRACE_TRANSPORT, p, n, true);
  if (!rx_active(c))
    return;
  struct ch_recv r;
  const char *reason = NULL;
  /* M's elements are validated while they are dispatched (one pass per message, see ch_recv_decode_lazy) */
  if (ch_recv_decode_lazy(p, n, false, &r, &reason) != 0) {
    ch__client_shutdown(c, CH_FAIL_BAD_MESSAGE, "%s", reason ? reason : "receive: malformed frame");
    return;
  }
  if (r.kind == CH_RECV_KEEPALIVE) {
    c->counters.keepalives_in++;
    c->times.last_rx = recv_ns;
    c->ka_slow = false;
    return;
  }
  if (r.kind == CH_RECV_HUB_RESPONSE) {
    rx_completion(c, &r, recv_ns);
    return;
  }
  c->times.last_rx = recv_ns;
  c->ka_slow = false;
  enum ch_client_state s = c->state;
  if (rx_persistent_head(c, &r, s))
    return;
  struct ch_msg_iter it;
  ch_recv_msgs_begin(&r, &it);
  if (rx_dispatch(c, &it, recv_ns, s))
    return;
  if (it.more) {
    rx_after_m(c, p, n, &r, recv_ns, s);
    return;
  }
  /* Init counts only with M present, as the JS client requires (protocol §3.1). */
  if (r.s == 1 && r.has_m && c->state == CH_CLIENT_INITIALIZING)
    ch__client_init_received(c);
}

/* ---------------------------------------------------------------- keep-alive and invocation timeouts */

uint64_t ch__client_connected_tick(struct ch_client *c, uint64_t now) {
  while (c->pend_n && c->pend[c->pend_head].deadline_ns <= now && c->state == CH_CLIENT_CONNECTED) {
    struct ch_pending p = pend_take(c, 0);
    c->counters.invocations_timeout++;
    struct ch_completion r;
    memset(&r, 0, sizeof r);
    r.id = p.id;
    r.status = -ETIMEDOUT;
    r.sent_ns = p.sent_ns;
    if (p.done)
      p.done(c, &r, p.arg);
  }
  if (c->state != CH_CLIENT_CONNECTED)
    return 0;
  uint64_t next = ch__client_pending_deadline(c);
  /* Long polling has no keep-alive monitoring on the official clients (protocol §7): its loss shows as a failed poll. */
  if (c->have_neg && !c->neg.keep_alive_disabled && c->neg.keep_alive_timeout > 0 &&
      c->transport != CH_TRANSPORT_LONGPOLLING) {
    uint64_t ka = (uint64_t)(c->neg.keep_alive_timeout * 1e9);
    uint64_t slow_at = c->times.last_rx + ka * 2 / 3, lost_at = c->times.last_rx + ka;
    if (now >= lost_at) {
      /* Nothing for KeepAliveTimeout: the connection is presumed dead; drop it and reconnect (protocol §7). */
      c->counters.keepalive_lost++;
      if (c->on_event) {
        c->on_event(c, CH_EVENT_KEEPALIVE_LOST, c->user);
        if (c->state != CH_CLIENT_CONNECTED)
          return 0;
      }
      c->dropping = true;
      c->tops->close(c->tr, true);
      return 0;
    }
    if (!c->ka_slow && now >= slow_at) {
      c->ka_slow = true;
      c->counters.keepalive_slow++;
      if (c->on_event) {
        c->on_event(c, CH_EVENT_KEEPALIVE_SLOW, c->user);
        if (c->state != CH_CLIENT_CONNECTED)
          return 0;
      }
    }
    uint64_t ka_next = c->ka_slow ? lost_at : slow_at;
    if (!next || ka_next < next)
      next = ka_next;
  }
  return next;
}
