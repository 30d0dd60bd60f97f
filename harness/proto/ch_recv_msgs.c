/* The M iterator of the receive decoder (protocol/signalr-classic.md 3.2) and look-ups in its messages.

   Two modes. After ch_recv_decode the frame is validated, so elements are walked without checks. After
   ch_recv_decode_lazy (the engine's hot path) each element is validated here, in the same single pass that picks out
   H, M, A, S, P and indexes the members of the first argument: a Centro Update is then read (hub, method, key,
   HarnessSeq, HarnessSentUs) without walking its text again. Nesting depths are those of the whole frame (the frame
   object is depth 0, M 1, an element 2), so both modes accept the same documents. */
#include <errno.h>
#include <string.h>

#include "ch_json_internal.h"
#include "ch_signalr.h"

#define MSG_M_DEPTH 1 /* depth of the M array in the frame */

void ch_recv_msgs_begin(const struct ch_recv *r, struct ch_msg_iter *it) {
  if (r->has_m && ch_json_arr_begin(r->m, &it->it) == 0) {
    it->lazy = r->m_lazy;
    it->more = false;
    it->m_end = r->m.p + r->m.n;
    /* a lazy M is validated element by element; otherwise ch_recv_decode validated the whole frame */
    it->it.trusted = !r->m_lazy;
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
    return ch__recv_fail(reason, "receive: P is not an object");
  while ((rc = ch_json_obj_next(&it, &k, &v)) == 1) {
    char c = ch__recv_key(k);
    if (c == 'I')
      out->progress_id = v;
    else if (c == 'D')
      out->progress_data = v;
  }
  if (rc < 0)
    return ch__recv_fail(reason, "receive: P is not JSON");
  enum ch_json_kind kind = ch_json_kind(out->progress_id);
  if (kind != CH_JSON_STRING && kind != CH_JSON_NUMBER)
    return ch__recv_fail(reason, "receive: progress without P.I");
  out->kind = CH_MSG_PROGRESS;
  return 0;
}

/* ---------------------------------------------------------------- the validating single pass (lazy mode) */

/* One value at p (no leading whitespace) at the given depth; strings and numbers without the generic dispatch. */
static inline const char *lz_value(const char *p, const char *end, int depth, struct ch__json_why *why) {
  if (p < end && *p == '"') {
    bool esc = false;
    return ch__json_string(p, end, &esc, why);
  }
  if (p < end && ((*p >= '0' && *p <= '9') || *p == '-'))
    return ch__json_scan_number(p, end, why);
  return ch__json_scan_value(p, end, depth, why);
}

/* Reads `"key" ws : ws` at p; returns the value's first byte or NULL. */
static inline const char *lz_key(const char *p, const char *end, struct ch_span *key, bool *esc,
                                 struct ch__json_why *why) {
  if (p >= end || *p != '"') {
    why->msg = "expected a string key";
    return NULL;
  }
  const char *q = ch__json_string(p, end, esc, why);
  if (!q)
    return NULL;
  *key = (struct ch_span){p, (size_t)(q - p)};
  q = ch__json_skip_ws(q, end);
  if (q >= end || *q != ':') {
    why->msg = "expected ':'";
    return NULL;
  }
  return ch__json_skip_ws(q + 1, end);
}

/* After a member or element: skips whitespace and a ','. Returns the next item's first byte, or NULL at the closing
   bracket (*p_out after it) or on an error (*bad). */
static inline const char *lz_next(const char *p, const char *end, char close, const char **p_out, bool *bad) {
  p = ch__json_skip_ws(p, end);
  if (p < end && *p == close) {
    *p_out = p + 1;
    return NULL;
  }
  if (p >= end || *p != ',') {
    *bad = true;
    return NULL;
  }
  return ch__json_skip_ws(p + 1, end);
}

/* The first argument, an object at depth `depth`: validated while its members are indexed. */
static const char *lz_index_obj(const char *p, const char *end, int depth, struct ch_hub_msg *out,
                                struct ch__json_why *why) {
  if (depth >= CH_JSON_MAX_DEPTH)
    return NULL;
  unsigned n = 0;
  uint32_t esc_bits = 0;
  bool all = true, bad = false;
  const char *after = NULL;
  p = ch__json_skip_ws(p + 1, end);
  if (p < end && *p == '}') {
    after = p + 1;
  } else {
    while (p) {
      struct ch_span key;
      bool esc = false;
      const char *v = lz_key(p, end, &key, &esc, why);
      if (!v)
        return NULL;
      const char *q = lz_value(v, end, depth + 1, why);
      if (!q)
        return NULL;
      if (n < CH_HUB_MSG_FIELDS) {
        out->fields[n].key = key;
        out->fields[n].value = (struct ch_span){v, (size_t)(q - v)};
        esc_bits |= (uint32_t)esc << n;
        n++;
      } else {
        all = false;
      }
      p = lz_next(q, end, '}', &after, &bad);
    }
    if (bad)
      return NULL;
  }
  out->n_fields = (uint8_t)n;
  out->fields_esc = esc_bits;
  out->fields_all = all;
  return after;
}

/* A at depth `depth`: validated, its first element recorded (and indexed when an object). */
static const char *lz_args(const char *p, const char *end, int depth, struct ch_hub_msg *out,
                           struct ch__json_why *why) {
  if (depth >= CH_JSON_MAX_DEPTH)
    return NULL;
  out->arg0_known = true;
  out->has_arg0 = false;
  out->arg0 = CH_SPAN_NULL;
  out->n_fields = 0;
  out->fields_all = false;
  const char *after = NULL;
  bool bad = false;
  p = ch__json_skip_ws(p + 1, end);
  if (p < end && *p == ']')
    return p + 1;
  for (bool first = true; p; first = false) {
    const char *q = first && p < end && *p == '{' ? lz_index_obj(p, end, depth + 1, out, why)
                                                  : lz_value(p, end, depth + 1, why);
    if (!q)
      return NULL;
    if (first) {
      out->has_arg0 = true;
      out->arg0 = (struct ch_span){p, (size_t)(q - p)};
    }
    p = lz_next(q, end, ']', &after, &bad);
  }
  return bad ? NULL : after;
}

struct lz_members {
  struct ch_span h, m, a, s, p;
};

/* One element at p (an object, depth 2): validated, its members H, M, A, S, P picked out. Returns its end. */
static const char *lz_element(const char *p, const char *end, struct ch_hub_msg *out, struct lz_members *mm,
                              struct ch__json_why *why) {
  const int depth = MSG_M_DEPTH + 1;
  const char *after = NULL;
  bool bad = false;
  p = ch__json_skip_ws(p + 1, end);
  if (p < end && *p == '}')
    return p + 1;
  while (p) {
    struct ch_span key;
    bool esc = false;
    const char *v = lz_key(p, end, &key, &esc, why);
    if (!v)
      return NULL;
    char letter = key.n == 3 && !esc ? key.p[1] : esc ? ch__recv_key(key) : 0;
    const char *q = letter == 'A' && v < end && *v == '[' ? lz_args(v, end, depth + 1, out, why)
                                                          : lz_value(v, end, depth + 1, why);
    if (!q)
      return NULL;
    struct ch_span val = {v, (size_t)(q - v)};
    switch (letter) {
    case 'H': mm->h = val; break;
    case 'M': mm->m = val; break;
    case 'A': mm->a = val; break;
    case 'S': mm->s = val; break;
    case 'P': mm->p = val; break;
    default: break;
    }
    p = lz_next(q, end, '}', &after, &bad);
  }
  return bad ? NULL : after;
}

/* ---------------------------------------------------------------- iteration */

int ch_recv_msgs_next(struct ch_msg_iter *it, struct ch_hub_msg *out, const char **reason) {
  struct ch_span el;
  int rc = ch__json_iter_peek(&it->it, ']');
  if (rc == 0) {
    if (it->lazy && it->it.p != it->m_end) {
      it->more = true; /* this ']' closed M, but more follows: not the last member after all */
      it->lazy = false;
    }
    return 0;
  }
  if (rc < 0)
    return ch__recv_fail(reason, "receive: M is not JSON");
  memset(out, 0, offsetof(struct ch_hub_msg, fields));
  out->kind = CH_MSG_OTHER;
  struct lz_members mm = {CH_SPAN_NULL, CH_SPAN_NULL, CH_SPAN_NULL, CH_SPAN_NULL, CH_SPAN_NULL};
  const char *start = it->it.p, *end = it->it.end;
  if (it->lazy) {
    struct ch__json_why why = {NULL, NULL};
    const char *q = *start == '{' ? lz_element(start, end, out, &mm, &why)
                                  : ch__json_scan_value(start, end, MSG_M_DEPTH + 1, &why);
    if (!q) {
      it->it.state = -1;
      it->it.err.msg = why.msg ? why.msg : "malformed";
      return ch__recv_fail(reason, "receive: M is not JSON");
    }
    out->raw = (struct ch_span){start, (size_t)(q - start)};
    it->it.p = q;
    it->it.state = 1;
    if (*start != '{')
      return 1;
  } else {
    bool inline_obj = it->it.trusted && *start == '{';
    if (!inline_obj) {
      if (ch_json_arr_next(&it->it, &el) != 1)
        return ch__recv_fail(reason, "receive: M is not JSON");
      out->raw = el;
      if (el.p[0] != '{')
        return 1;
    } else {
      /* a validated frame: walk the element's members directly, measuring the element on the way (one pass) */
      el = (struct ch_span){start, (size_t)(end - start)};
    }
    struct ch_json_iter o;
    struct ch_span k, v;
    ch_json_obj_begin(el, &o);
    o.trusted = it->it.trusted;
    while ((rc = ch_json_obj_next(&o, &k, &v)) == 1) {
      switch (ch__recv_key(k)) {
      case 'H': mm.h = v; break;
      case 'M': mm.m = v; break;
      case 'A': mm.a = v; break;
      case 'S': mm.s = v; break;
      case 'P': mm.p = v; break;
      default: break;
      }
    }
    if (rc < 0)
      return ch__recv_fail(reason, "receive: M is not JSON");
    if (inline_obj) {
      out->raw = (struct ch_span){el.p, (size_t)(o.p - el.p)};
      it->it.p = o.p;
      it->it.state = 1;
    }
  }
  if (mm.p.p && !ch__recv_is_null(mm.p)) {
    rc = msg_progress(mm.p, out, reason);
    return rc ? rc : 1;
  }
  if (!mm.h.p && !mm.m.p && !mm.a.p)
    return 1; /* not a hub message: a PersistentConnection payload */
  if (!mm.h.p)
    return ch__recv_fail(reason, "receive: invocation without H");
  if (ch_json_kind(mm.h) != CH_JSON_STRING)
    return ch__recv_fail(reason, "receive: H is not a string");
  if (!mm.m.p)
    return ch__recv_fail(reason, "receive: invocation without M");
  if (ch_json_kind(mm.m) != CH_JSON_STRING)
    return ch__recv_fail(reason, "receive: M of an invocation is not a string");
  if (!mm.a.p)
    return ch__recv_fail(reason, "receive: invocation without A");
  if (ch_json_kind(mm.a) != CH_JSON_ARRAY)
    return ch__recv_fail(reason, "receive: A is not an array");
  if (mm.s.p && !ch__recv_is_null(mm.s) && ch_json_kind(mm.s) != CH_JSON_OBJECT)
    return ch__recv_fail(reason, "receive: S of an invocation is not an object");
  out->kind = CH_MSG_INVOCATION;
  out->validated = true; /* validated by ch_recv_decode, or just now */
  out->hub = mm.h;
  out->method = mm.m;
  out->args = mm.a;
  out->state = ch__recv_is_null(mm.s) ? CH_SPAN_NULL : mm.s;
  if (out->arg0_known && out->arg0.p && out->arg0.p < mm.a.p)
    out->arg0_known = false; /* from an earlier "A" member: the last one wins */
  return 1;
}

/* ---------------------------------------------------------------- look-ups */

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

int ch_hub_msg_arg0(const struct ch_hub_msg *m, struct ch_span *arg) {
  if (m->kind != CH_MSG_INVOCATION)
    return 0;
  if (m->arg0_known) {
    if (m->has_arg0)
      *arg = m->arg0;
    return m->has_arg0;
  }
  return ch_hub_msg_pointer(m, "/0", arg) == 1;
}

int ch_hub_msg_arg_pointer(const struct ch_hub_msg *m, const char *ptr, struct ch_span *value) {
  if (!ptr || (*ptr && *ptr != '/'))
    return -EINVAL;
  if (m->kind != CH_MSG_INVOCATION)
    return 0;
  if (m->arg0_known && m->has_arg0 && (m->n_fields || m->fields_all) && *ptr) {
    const char *tok = ptr + 1, *e = tok;
    while (*e && *e != '/' && *e != '~')
      e++;
    size_t tl = (size_t)(e - tok);
    const char *rest = *e == '/' ? e : NULL;
    if (*e != '~' && tl < 255) { /* "~0"/"~1" escapes and long tokens: the general walk below */
      for (unsigned i = 0; i < m->n_fields; i++) {
        const struct ch_hub_field *f = &m->fields[i];
        bool eq = (m->fields_esc >> i) & 1 ? ch_json_str_eq(f->key, tok, tl)
                                           : f->key.n == tl + 2 && !memcmp(f->key.p + 1, tok, tl);
        if (!eq)
          continue;
        if (!rest) {
          *value = f->value;
          return 1;
        }
        return ch__json_pointer_trusted(f->value, rest, value);
      }
      if (m->fields_all)
        return 0;
    }
  }
  struct ch_span arg;
  if (!ch_hub_msg_arg0(m, &arg))
    return 0;
  return m->validated ? ch__json_pointer_trusted(arg, ptr, value) : ch_json_pointer(arg, ptr, value);
}
