/* The receive-channel decoder (hot path): classifies a frame and exposes its fields as spans, without allocating.
   Shapes: protocol/signalr-classic.md 3.1 (persistent response), 3.2 (invocations in M), 3.4 (hub response). */
#include <errno.h>
#include <string.h>

#include "ch_json_internal.h"
#include "ch_signalr.h"

/* The single-letter key of a member, or 0 for any other key. Keys with escapes are decoded (rare). */
static char recv_key(struct ch_span k) {
  if (k.n == 3)
    return k.p[1] == '\\' ? 0 : k.p[1];
  if (k.n > 3 && k.n <= 14 && memchr(k.p, '\\', k.n)) {
    for (const char *c = "CSTGLMIREHDP"; *c; c++)
      if (ch_json_str_eq(k, c, 1))
        return *c;
  }
  return 0;
}

/* The fields we look at, collected before interpretation: S and T mean different things in hub responses. */
struct recv_raw {
  struct ch_span c, s, t, g, l, m, i, r, e, h, d, p;
};

static int recv_fail(const char **reason, const char *why) {
  if (reason)
    *reason = why;
  return -EBADMSG;
}

static bool recv_is_null(struct ch_span v) { return v.n == 4 && v.p[0] == 'n'; }

static int recv_small_int(struct ch_span v, int *out) {
  int64_t x;
  if (ch_json_kind(v) != CH_JSON_NUMBER || ch_json_num_int64(v, &x) || x < -1000000 || x > 1000000)
    return -1;
  *out = (int)x;
  return 0;
}

static int recv_hub_response(const struct recv_raw *raw, struct ch_recv *out, const char **reason) {
  enum ch_json_kind k = ch_json_kind(raw->i);
  if (k != CH_JSON_STRING && k != CH_JSON_NUMBER)
    return recv_fail(reason, "receive: I is not a string or number");
  out->kind = CH_RECV_HUB_RESPONSE;
  out->i = raw->i;
  out->r = raw->r;
  out->d = raw->d;
  if (raw->e.p && !recv_is_null(raw->e)) {
    if (ch_json_kind(raw->e) != CH_JSON_STRING)
      return recv_fail(reason, "receive: E is not a string");
    out->e = raw->e;
  }
  if (raw->h.p) {
    k = ch_json_kind(raw->h);
    if (k != CH_JSON_TRUE && k != CH_JSON_FALSE && k != CH_JSON_NULL)
      return recv_fail(reason, "receive: H is not a boolean");
    out->h = k == CH_JSON_TRUE;
  }
  if (raw->t.p && !recv_is_null(raw->t)) {
    if (ch_json_kind(raw->t) != CH_JSON_STRING)
      return recv_fail(reason, "receive: T is not a string");
    out->st = raw->t;
  }
  if (raw->s.p && !recv_is_null(raw->s)) {
    if (ch_json_kind(raw->s) != CH_JSON_OBJECT)
      return recv_fail(reason, "receive: S is not an object");
    out->state = raw->s;
  }
  if (raw->p.p && !recv_is_null(raw->p)) {
    if (ch_json_kind(raw->p) != CH_JSON_OBJECT)
      return recv_fail(reason, "receive: P is not an object");
    out->progress = raw->p;
  }
  /* C, G, L and M mean nothing in a hub response */
  out->unknown += (raw->c.p != NULL) + (raw->g.p != NULL) + (raw->l.p != NULL) + (raw->m.p != NULL);
  return 0;
}

static int recv_persistent(const struct recv_raw *raw, struct ch_recv *out, const char **reason) {
  out->kind = CH_RECV_PERSISTENT;
  if (raw->c.p) {
    if (ch_json_kind(raw->c) != CH_JSON_STRING)
      return recv_fail(reason, "receive: C is not a string");
    out->c = raw->c;
  }
  if (raw->s.p && recv_small_int(raw->s, &out->s))
    return recv_fail(reason, "receive: S is not a number");
  if (raw->t.p && recv_small_int(raw->t, &out->t))
    return recv_fail(reason, "receive: T is not a number");
  if (raw->g.p && !recv_is_null(raw->g)) {
    if (ch_json_kind(raw->g) != CH_JSON_STRING)
      return recv_fail(reason, "receive: G is not a string");
    out->g = raw->g;
  }
  if (raw->l.p) {
    if (ch_json_kind(raw->l) != CH_JSON_NUMBER || ch_json_num_int64(raw->l, &out->l) || out->l < 0)
      return recv_fail(reason, "receive: L is not a non-negative integer");
    out->has_l = true;
  }
  if (raw->e.p && !recv_is_null(raw->e)) {
    if (ch_json_kind(raw->e) != CH_JSON_STRING)
      return recv_fail(reason, "receive: E is not a string");
    out->e = raw->e;
  }
  if (raw->m.p) {
    if (ch_json_kind(raw->m) != CH_JSON_ARRAY)
      return recv_fail(reason, "receive: M is not an array");
    out->m = raw->m;
    out->has_m = true;
  }
  out->unknown += (raw->r.p != NULL) + (raw->h.p != NULL) + (raw->d.p != NULL) + (raw->p.p != NULL);
  return 0;
}

int ch_recv_decode(const char *p, size_t n, bool long_poll, struct ch_recv *out, const char **reason) {
  memset(out, 0, sizeof *out);
  if (!p && n)
    return recv_fail(reason, "receive: no frame");
  struct ch_span s = ch_span_trim((struct ch_span){p, n});
  if (!s.n) {
    if (long_poll) {
      out->kind = CH_RECV_KEEPALIVE;
      return 0;
    }
    return recv_fail(reason, "receive: frame is empty");
  }
  if (s.p[0] != '{') {
    if (ch_json_parse(s, NULL, NULL) == 0)
      return recv_fail(reason, "receive: frame is not an object");
    return recv_fail(reason, "receive: frame is not JSON");
  }
  struct recv_raw raw;
  memset(&raw, 0, sizeof raw);
  struct ch_json_iter it;
  struct ch_span k, v;
  unsigned members = 0;
  int rc;
  ch_json_obj_begin(s, &it);
  while ((rc = ch_json_obj_next(&it, &k, &v)) == 1) {
    members++;
    struct ch_span *slot = NULL;
    switch (recv_key(k)) {
    case 'C': slot = &raw.c; break;
    case 'S': slot = &raw.s; break;
    case 'T': slot = &raw.t; break;
    case 'G': slot = &raw.g; break;
    case 'L': slot = &raw.l; break;
    case 'M': slot = &raw.m; break;
    case 'I': slot = &raw.i; break;
    case 'R': slot = &raw.r; break;
    case 'E': slot = &raw.e; break;
    case 'H': slot = &raw.h; break;
    case 'D': slot = &raw.d; break;
    case 'P': slot = &raw.p; break;
    default: out->unknown++; break;
    }
    if (slot)
      *slot = v; /* a repeated key: the last one wins, as in JavaScript */
  }
  if (rc < 0)
    return recv_fail(reason, "receive: frame is not JSON");
  if (it.p != s.p + s.n)
    return recv_fail(reason, "receive: trailing data after the frame");
  if (raw.i.p)
    return recv_hub_response(&raw, out, reason);
  if (members == 0) {
    out->kind = CH_RECV_KEEPALIVE;
    return 0;
  }
  return recv_persistent(&raw, out, reason);
}

void ch_recv_msgs_begin(const struct ch_recv *r, struct ch_msg_iter *it) {
  if (r->has_m && ch_json_arr_begin(r->m, &it->it) == 0) {
    it->it.trusted = true; /* ch_recv_decode validated the whole frame */
    return;
  }
  memset(it, 0, sizeof *it);
  it->it.state = 2; /* nothing to iterate */
}

static int msg_progress(struct ch_span pv, struct ch_hub_msg *out, const char **reason) {
  struct ch_json_iter it;
  struct ch_span k, v;
  int rc;
  if (ch_json_obj_begin(pv, &it))
    return recv_fail(reason, "receive: P is not an object");
  while ((rc = ch_json_obj_next(&it, &k, &v)) == 1) {
    char c = recv_key(k);
    if (c == 'I')
      out->progress_id = v;
    else if (c == 'D')
      out->progress_data = v;
  }
  if (rc < 0)
    return recv_fail(reason, "receive: P is not JSON");
  enum ch_json_kind kind = ch_json_kind(out->progress_id);
  if (kind != CH_JSON_STRING && kind != CH_JSON_NUMBER)
    return recv_fail(reason, "receive: progress without P.I");
  out->kind = CH_MSG_PROGRESS;
  return 0;
}

int ch_recv_msgs_next(struct ch_msg_iter *it, struct ch_hub_msg *out, const char **reason) {
  struct ch_span el;
  int rc = ch__json_iter_peek(&it->it, ']');
  if (rc == 0)
    return 0;
  if (rc < 0)
    return recv_fail(reason, "receive: M is not JSON");
  memset(out, 0, sizeof *out);
  out->kind = CH_MSG_OTHER;
  bool inline_obj = it->it.trusted && *it->it.p == '{';
  if (!inline_obj) {
    if (ch_json_arr_next(&it->it, &el) != 1)
      return recv_fail(reason, "receive: M is not JSON");
    out->raw = el;
    if (el.p[0] != '{')
      return 1;
  } else {
    /* a validated frame: walk the element's members directly, measuring the element on the way (one pass) */
    el = (struct ch_span){it->it.p, (size_t)(it->it.end - it->it.p)};
  }
  struct ch_json_iter o;
  struct ch_span k, v, h = CH_SPAN_NULL, m = CH_SPAN_NULL, a = CH_SPAN_NULL, s = CH_SPAN_NULL, p = CH_SPAN_NULL;
  ch_json_obj_begin(el, &o);
  o.trusted = it->it.trusted;
  while ((rc = ch_json_obj_next(&o, &k, &v)) == 1) {
    switch (recv_key(k)) {
    case 'H': h = v; break;
    case 'M': m = v; break;
    case 'A': a = v; break;
    case 'S': s = v; break;
    case 'P': p = v; break;
    default: break;
    }
  }
  if (rc < 0)
    return recv_fail(reason, "receive: M is not JSON");
  if (inline_obj) {
    out->raw = (struct ch_span){el.p, (size_t)(o.p - el.p)};
    it->it.p = o.p;
    it->it.state = 1;
  }
  if (p.p && !recv_is_null(p)) {
    rc = msg_progress(p, out, reason);
    return rc ? rc : 1;
  }
  if (!h.p && !m.p && !a.p)
    return 1; /* not a hub message: a PersistentConnection payload */
  if (!h.p)
    return recv_fail(reason, "receive: invocation without H");
  if (ch_json_kind(h) != CH_JSON_STRING)
    return recv_fail(reason, "receive: H is not a string");
  if (!m.p)
    return recv_fail(reason, "receive: invocation without M");
  if (ch_json_kind(m) != CH_JSON_STRING)
    return recv_fail(reason, "receive: M of an invocation is not a string");
  if (!a.p)
    return recv_fail(reason, "receive: invocation without A");
  if (ch_json_kind(a) != CH_JSON_ARRAY)
    return recv_fail(reason, "receive: A is not an array");
  if (s.p && !recv_is_null(s) && ch_json_kind(s) != CH_JSON_OBJECT)
    return recv_fail(reason, "receive: S of an invocation is not an object");
  out->kind = CH_MSG_INVOCATION;
  out->validated = it->it.trusted;
  out->hub = h;
  out->method = m;
  out->args = a;
  out->state = recv_is_null(s) ? CH_SPAN_NULL : s;
  return 1;
}

bool ch_hub_msg_is(const struct ch_hub_msg *m, const char *hub, const char *method) {
  if (m->kind != CH_MSG_INVOCATION || !hub)
    return false;
  if (!ch_json_str_eq_ci(m->hub, hub, strlen(hub)))
    return false;
  return !method || ch_json_str_eq_ci(m->method, method, strlen(method));
}

int ch_hub_msg_pointer(const struct ch_hub_msg *m, const char *ptr, struct ch_span *value) {
  if (m->kind != CH_MSG_INVOCATION)
    return 0;
  return m->validated ? ch__json_pointer_trusted(m->args, ptr, value) : ch_json_pointer(m->args, ptr, value);
}
