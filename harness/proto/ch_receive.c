/* The receive-channel decoder (hot path): classifies a frame and exposes its fields as spans, without allocating.
   Shapes: protocol/signalr-classic.md 3.1 (persistent response), 3.2 (invocations in M), 3.4 (hub response). */
#include <errno.h>
#include <string.h>

#include "ch_json_internal.h"
#include "ch_signalr.h"

/* The single-letter key of a member, or 0 for any other key. Keys with escapes are decoded (rare). */
char ch__recv_key(struct ch_span k) {
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

int ch__recv_fail(const char **reason, const char *why) {
  if (reason)
    *reason = why;
  return -EBADMSG;
}

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
    return ch__recv_fail(reason, "receive: I is not a string or number");
  out->kind = CH_RECV_HUB_RESPONSE;
  out->i = raw->i;
  out->r = raw->r;
  out->d = raw->d;
  if (raw->e.p && !ch__recv_is_null(raw->e)) {
    if (ch_json_kind(raw->e) != CH_JSON_STRING)
      return ch__recv_fail(reason, "receive: E is not a string");
    out->e = raw->e;
  }
  if (raw->h.p) {
    k = ch_json_kind(raw->h);
    if (k != CH_JSON_TRUE && k != CH_JSON_FALSE && k != CH_JSON_NULL)
      return ch__recv_fail(reason, "receive: H is not a boolean");
    out->h = k == CH_JSON_TRUE;
  }
  if (raw->t.p && !ch__recv_is_null(raw->t)) {
    if (ch_json_kind(raw->t) != CH_JSON_STRING)
      return ch__recv_fail(reason, "receive: T is not a string");
    out->st = raw->t;
  }
  if (raw->s.p && !ch__recv_is_null(raw->s)) {
    if (ch_json_kind(raw->s) != CH_JSON_OBJECT)
      return ch__recv_fail(reason, "receive: S is not an object");
    out->state = raw->s;
  }
  if (raw->p.p && !ch__recv_is_null(raw->p)) {
    if (ch_json_kind(raw->p) != CH_JSON_OBJECT)
      return ch__recv_fail(reason, "receive: P is not an object");
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
      return ch__recv_fail(reason, "receive: C is not a string");
    out->c = raw->c;
  }
  if (raw->s.p && recv_small_int(raw->s, &out->s))
    return ch__recv_fail(reason, "receive: S is not a number");
  if (raw->t.p && recv_small_int(raw->t, &out->t))
    return ch__recv_fail(reason, "receive: T is not a number");
  if (raw->g.p && !ch__recv_is_null(raw->g)) {
    if (ch_json_kind(raw->g) != CH_JSON_STRING)
      return ch__recv_fail(reason, "receive: G is not a string");
    out->g = raw->g;
  }
  if (raw->l.p) {
    if (ch_json_kind(raw->l) != CH_JSON_NUMBER || ch_json_num_int64(raw->l, &out->l) || out->l < 0)
      return ch__recv_fail(reason, "receive: L is not a non-negative integer");
    out->has_l = true;
  }
  if (raw->e.p && !ch__recv_is_null(raw->e)) {
    if (ch_json_kind(raw->e) != CH_JSON_STRING)
      return ch__recv_fail(reason, "receive: E is not a string");
    out->e = raw->e;
  }
  if (raw->m.p) {
    if (ch_json_kind(raw->m) != CH_JSON_ARRAY)
      return ch__recv_fail(reason, "receive: M is not an array");
    out->m = raw->m;
    out->has_m = true;
  }
  out->unknown += (raw->r.p != NULL) + (raw->h.p != NULL) + (raw->d.p != NULL) + (raw->p.p != NULL);
  return 0;
}

/* Where M ends if it is the frame's last member: after the last ']' before the closing '}' (NULL if none). */
static const char *recv_m_end_guess(struct ch_span s) {
  if (s.n < 2 || s.p[s.n - 1] != '}')
    return NULL;
  const char *q = s.p + s.n - 2;
  while (q > s.p && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
    q--;
  return *q == ']' ? q + 1 : NULL;
}

/* With lazy, stops at an "M":[ that reaches to the guessed end (see ch_recv_decode_lazy). */
static int recv_decode(const char *p, size_t n, bool long_poll, bool lazy, struct ch_recv *out,
                       const char **reason) {
  memset(out, 0, sizeof *out);
  if (!p && n)
    return ch__recv_fail(reason, "receive: no frame");
  struct ch_span s = ch_span_trim((struct ch_span){p, n});
  if (!s.n) {
    if (long_poll) {
      out->kind = CH_RECV_KEEPALIVE;
      return 0;
    }
    return ch__recv_fail(reason, "receive: frame is empty");
  }
  if (s.p[0] != '{') {
    if (ch_json_parse(s, NULL, NULL) == 0)
      return ch__recv_fail(reason, "receive: frame is not an object");
    return ch__recv_fail(reason, "receive: frame is not JSON");
  }
  struct recv_raw raw;
  memset(&raw, 0, sizeof raw);
  struct ch_json_iter it;
  struct ch_span k, v;
  unsigned members = 0;
  int rc;
  const char *m_end = lazy ? recv_m_end_guess(s) : NULL;
  bool m_lazy = false;
  ch_json_obj_begin(s, &it);
  for (;;) {
    if (m_end) {
      /* positioned at the next key: an unescaped "M" whose array may run to the guessed end is not scanned here */
      if ((rc = ch__json_iter_peek(&it, '}')) != 1)
        break;
      const char *kp = it.p, *end = s.p + s.n;
      if (end - kp > 4 && kp[0] == '"' && kp[1] == 'M' && kp[2] == '"' && !raw.i.p) {
        const char *vp = ch__json_skip_ws(kp + 3, end);
        if (vp < end && *vp == ':') {
          vp = ch__json_skip_ws(vp + 1, end);
          if (vp < m_end && *vp == '[') {
            raw.m = (struct ch_span){vp, (size_t)(m_end - vp)};
            members++;
            m_lazy = true;
            break;
          }
        }
      }
    }
    if ((rc = ch_json_obj_next(&it, &k, &v)) != 1)
      break;
    members++;
    struct ch_span *slot = NULL;
    switch (ch__recv_key(k)) {
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
  if (m_lazy) {
    if (raw.i.p) /* cannot happen (checked above); keeps the classification obvious */
      return ch__recv_fail(reason, "receive: frame is not JSON");
    rc = recv_persistent(&raw, out, reason);
    out->m_lazy = rc == 0;
    return rc;
  }
  if (rc < 0)
    return ch__recv_fail(reason, "receive: frame is not JSON");
  if (it.p != s.p + s.n)
    return ch__recv_fail(reason, "receive: trailing data after the frame");
  if (raw.i.p)
    return recv_hub_response(&raw, out, reason);
  if (members == 0) {
    out->kind = CH_RECV_KEEPALIVE;
    return 0;
  }
  return recv_persistent(&raw, out, reason);
}


int ch_recv_decode(const char *p, size_t n, bool long_poll, struct ch_recv *out, const char **reason) {
  return recv_decode(p, n, long_poll, false, out, reason);
}

int ch_recv_decode_lazy(const char *p, size_t n, bool long_poll, struct ch_recv *out, const char **reason) {
  return recv_decode(p, n, long_poll, true, out, reason);
}
