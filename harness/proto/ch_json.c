/* ch_json scanner: validation, iteration, member lookup and JSON Pointer. Strings and numbers: ch_json_str.c. */
#include "ch_json.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ch_json_internal.h"

struct ch_span ch_span_cstr(const char *s) { return (struct ch_span){s, s ? strlen(s) : 0}; }

static bool json_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }


struct ch_span ch_span_trim(struct ch_span s) {
  if (!s.p)
    return s;
  const char *p = s.p, *end = s.p + s.n;
  p = ch__json_skip_ws(p, end);
  while (end > p && json_is_ws(end[-1]))
    end--;
  return (struct ch_span){p, (size_t)(end - p)};
}

enum ch_json_kind ch_json_kind(struct ch_span v) {
  if (!v.p)
    return CH_JSON_INVALID;
  const char *p = ch__json_skip_ws(v.p, v.p + v.n);
  if (p == v.p + v.n)
    return CH_JSON_INVALID;
  switch (*p) {
  case '"': return CH_JSON_STRING;
  case '{': return CH_JSON_OBJECT;
  case '[': return CH_JSON_ARRAY;
  case 't': return CH_JSON_TRUE;
  case 'f': return CH_JSON_FALSE;
  case 'n': return CH_JSON_NULL;
  default: return (*p == '-' || (*p >= '0' && *p <= '9')) ? CH_JSON_NUMBER : CH_JSON_INVALID;
  }
}

const char *ch_json_kind_name(enum ch_json_kind k) {
  switch (k) {
  case CH_JSON_STRING: return "string";
  case CH_JSON_NUMBER: return "number";
  case CH_JSON_OBJECT: return "object";
  case CH_JSON_ARRAY: return "array";
  case CH_JSON_TRUE: return "true";
  case CH_JSON_FALSE: return "false";
  case CH_JSON_NULL: return "null";
  default: return "invalid";
  }
}

const unsigned char ch__json_str_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

int ch__json_hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t ch__utf8_valid_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t need;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F; /* no UTF-16 surrogates encoded in UTF-8 */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if ((size_t)(end - p) <= need)
    return 0;
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i <= need; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return need + 1;
}

size_t ch_utf8_len(const char *p, const char *end) {
  if (p >= end)
    return 0;
  return (unsigned char)*p < 0x80 ? 1 : ch__utf8_valid_len((const unsigned char *)p, (const unsigned char *)end);
}

/* The part of a string scan after the plain run: p is at a byte ch__json_str_plain stopped at (or end). */
const char *ch__json_string_slow(const char *p, const char *end, bool *esc, struct ch__json_why *why) {
  for (;;) {
    if (p >= end) {
      why->msg = "unterminated string", why->at = p;
      return NULL;
    }
    unsigned char c = (unsigned char)*p;
    if (c == '"')
      return p + 1;
    if (c == '\\') {
      *esc = true;
      if (end - p < 2) {
        why->msg = "unterminated string", why->at = p;
        return NULL;
      }
      char e = p[1];
      if (e == 'u') {
        if (end - p < 6) {
          why->msg = "unterminated string", why->at = p;
          return NULL;
        }
        for (int i = 2; i < 6; i++)
          if (ch__json_hex(p[i]) < 0) {
            why->msg = "invalid \\u escape", why->at = p;
            return NULL;
          }
        p += 6;
      } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
        p += 2;
      } else {
        why->msg = "invalid escape in string", why->at = p;
        return NULL;
      }
    } else if (c < 0x20) {
      why->msg = "control character in string", why->at = p;
      return NULL;
    } else {
      size_t l = ch__utf8_valid_len((const unsigned char *)p, (const unsigned char *)end);
      if (!l) {
        why->msg = "invalid UTF-8 in string", why->at = p;
        return NULL;
      }
      p += l;
    }
    p = ch__json_str_plain(p, end);
  }
}

/* Scans a string starting at its opening quote; returns the byte after the closing quote or NULL. */
const char *ch__json_scan_string(const char *p, const char *end, struct ch__json_why *why) {
  bool esc = false;
  return ch__json_string(p, end, &esc, why);
}

static bool json_digit(char c) { return c >= '0' && c <= '9'; }

const char *ch__json_scan_number(const char *p, const char *end, struct ch__json_why *why) {
  if (p < end && *p == '-')
    p++;
  if (p >= end || !json_digit(*p)) {
    why->msg = "invalid number", why->at = p;
    return NULL;
  }
  if (*p == '0') {
    p++;
  } else {
    while (p < end && json_digit(*p))
      p++;
  }
  if (p < end && *p == '.') {
    p++;
    if (p >= end || !json_digit(*p)) {
      why->msg = "invalid number", why->at = p;
      return NULL;
    }
    while (p < end && json_digit(*p))
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || !json_digit(*p)) {
      why->msg = "invalid number", why->at = p;
      return NULL;
    }
    while (p < end && json_digit(*p))
      p++;
  }
  if (p < end && json_digit(*p)) {
    why->msg = "invalid number", why->at = p; /* leading zero such as 01 */
    return NULL;
  }
  return p;
}

static const char *json_scan_lit(const char *p, const char *end, const char *lit, size_t n,
                                  struct ch__json_why *why) {
  if ((size_t)(end - p) < n || memcmp(p, lit, n)) {
    bool short_input = (size_t)(end - p) < n && !memcmp(p, lit, (size_t)(end - p));
    why->msg = short_input ? "unexpected end" : "invalid literal", why->at = p;
    return NULL;
  }
  return p + n;
}

/* Scans one value at p (no leading whitespace). depth counts the containers already open. */
const char *ch__json_scan_value(const char *p, const char *end, int depth, struct ch__json_why *why) {
  if (p >= end) {
    why->msg = "unexpected end", why->at = p;
    return NULL;
  }
  switch (*p) {
  case '"': return ch__json_scan_string(p, end, why);
  case 't': return json_scan_lit(p, end, "true", 4, why);
  case 'f': return json_scan_lit(p, end, "false", 5, why);
  case 'n': return json_scan_lit(p, end, "null", 4, why);
  case '{':
  case '[': {
    bool obj = *p == '{';
    char close = obj ? '}' : ']';
    if (depth >= CH_JSON_MAX_DEPTH) {
      why->msg = "nesting deeper than 64", why->at = p;
      return NULL;
    }
    p = ch__json_skip_ws(p + 1, end);
    if (p < end && *p == close)
      return p + 1;
    for (;;) {
      if (obj) {
        if (p >= end || *p != '"') {
          why->msg = p >= end ? "unexpected end" : "expected a string key", why->at = p;
          return NULL;
        }
        p = ch__json_scan_string(p, end, why);
        if (!p)
          return NULL;
        p = ch__json_skip_ws(p, end);
        if (p >= end || *p != ':') {
          why->msg = p >= end ? "unexpected end" : "expected ':'", why->at = p;
          return NULL;
        }
        p = ch__json_skip_ws(p + 1, end);
      }
      p = ch__json_scan_value(p, end, depth + 1, why);
      if (!p)
        return NULL;
      p = ch__json_skip_ws(p, end);
      if (p >= end) {
        why->msg = "unexpected end", why->at = p;
        return NULL;
      }
      if (*p == close)
        return p + 1;
      if (*p != ',') {
        why->msg = obj ? "expected ',' or '}'" : "expected ',' or ']'", why->at = p;
        return NULL;
      }
      p = ch__json_skip_ws(p + 1, end);
    }
  }
  default:
    if (*p == '-' || json_digit(*p))
      return ch__json_scan_number(p, end, why);
    why->msg = "unexpected character", why->at = p;
    return NULL;
  }
}

/* Non-zero when any of the 8 bytes of w is '"' or '\\'. */
static uint64_t json_swar_quote(uint64_t w) {
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
  return (((q - ones) & ~q) | ((b - ones) & ~b)) & high;
}

const char *ch__json_fast_string(const char *p, const char *end) {
  p++;
  while (p < end) {
    while (end - p >= 8) {
      uint64_t w;
      memcpy(&w, p, 8);
      if (json_swar_quote(w))
        break;
      p += 8;
    }
    while (p < end && *p != '"' && *p != '\\')
      p++;
    if (p >= end)
      break;
    if (*p == '"')
      return p + 1;
    if (end - p < 2)
      break;
    p += 2; /* a backslash: the escaped byte cannot end the string */
  }
  return NULL;
}

/* Bytes that end a number or literal: , } ] and whitespace. */
static bool json_scalar_end(char c) { return c == ',' || c == '}' || c == ']' || json_is_ws(c); }

const char *ch__json_fast_skip(const char *p, const char *end) {
  if (p >= end)
    return NULL;
  if (*p == '"')
    return ch__json_fast_string(p, end);
  if (*p != '{' && *p != '[') {
    const char *q = p;
    while (q < end && !json_scalar_end(*q))
      q++;
    return q > p ? q : NULL;
  }
  size_t depth = 0;
  while (p < end) {
    char c = *p;
    if (c == '"') {
      p = ch__json_fast_string(p, end);
      if (!p)
        return NULL;
      continue;
    }
    if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (--depth == 0)
        return p + 1;
    }
    p++;
  }
  return NULL;
}

static int json_fail(struct ch_json_err *err, const char *base, const char *at, const char *why) {
  if (err) {
    err->pos = (size_t)(at - base);
    err->msg = why;
  }
  return -EBADMSG;
}

int ch_json_skip(struct ch_span s, struct ch_span *value, struct ch_json_err *err) {
  if (!s.p)
    return json_fail(err, s.p, s.p, "no input");
  const char *end = s.p + s.n;
  const char *p = ch__json_skip_ws(s.p, end);
  struct ch__json_why why = {NULL, p};
  const char *q = ch__json_scan_value(p, end, 0, &why);
  if (!q)
    return json_fail(err, s.p, why.at, why.msg);
  if (value)
    *value = (struct ch_span){p, (size_t)(q - p)};
  return 0;
}

int ch_json_parse(struct ch_span s, struct ch_span *value, struct ch_json_err *err) {
  struct ch_span v;
  int rc = ch_json_skip(s, &v, err);
  if (rc)
    return rc;
  const char *end = s.p + s.n, *q = ch__json_skip_ws(v.p + v.n, end);
  if (q != end)
    return json_fail(err, s.p, q, "trailing data after the value");
  if (value)
    *value = v;
  return 0;
}

static int json_iter_begin(struct ch_span s, struct ch_json_iter *it, char open) {
  memset(it, 0, sizeof *it);
  if (!s.p) {
    it->state = -1;
    it->err.msg = "no input";
    return -EINVAL;
  }
  const char *end = s.p + s.n, *p = ch__json_skip_ws(s.p, end);
  if (p >= end || *p != open) {
    it->state = -1;
    it->err.msg = open == '{' ? "not an object" : "not an array";
    return -EINVAL;
  }
  it->p = p + 1;
  it->end = end;
  return 0;
}

int ch_json_obj_begin(struct ch_span obj, struct ch_json_iter *it) { return json_iter_begin(obj, it, '{'); }

int ch_json_arr_begin(struct ch_span arr, struct ch_json_iter *it) { return json_iter_begin(arr, it, '['); }

static int json_iter_fail(struct ch_json_iter *it, const char *why) {
  it->state = -1;
  it->err.msg = why;
  return -EBADMSG;
}

/* Shared step: positions at the next member start; returns 1 member follows, 0 end, <0 error. */
static int json_iter_step(struct ch_json_iter *it, char close) {
  if (it->state == 2)
    return 0;
  if (it->state < 0)
    return -EBADMSG;
  const char *p = ch__json_skip_ws(it->p, it->end);
  if (p >= it->end)
    return json_iter_fail(it, "unexpected end");
  if (it->state == 1) {
    if (*p == close) {
      it->state = 2;
      it->p = p + 1;
      return 0;
    }
    if (*p != ',')
      return json_iter_fail(it, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    p = ch__json_skip_ws(p + 1, it->end);
    if (p < it->end && *p == close)
      return json_iter_fail(it, "trailing comma");
  } else if (*p == close) {
    it->state = 2;
    it->p = p + 1;
    return 0;
  }
  it->p = p;
  return 1;
}

int ch__json_iter_peek(struct ch_json_iter *it, char close) {
  int rc = json_iter_step(it, close);
  if (rc == 1)
    it->state = 0; /* positioned at the element: the next step must not expect a comma */
  return rc;
}

int ch_json_obj_next(struct ch_json_iter *it, struct ch_span *key, struct ch_span *value) {
  int rc = json_iter_step(it, '}');
  if (rc <= 0)
    return rc;
  const char *p = it->p;
  struct ch__json_why why = {NULL, NULL};
  if (p >= it->end || *p != '"')
    return json_iter_fail(it, p >= it->end ? "unexpected end" : "expected a string key");
  const char *q = it->trusted ? ch__json_fast_string(p, it->end) : ch__json_scan_string(p, it->end, &why);
  if (!q)
    return json_iter_fail(it, why.msg ? why.msg : "unterminated string");
  *key = (struct ch_span){p, (size_t)(q - p)};
  q = ch__json_skip_ws(q, it->end);
  if (q >= it->end || *q != ':')
    return json_iter_fail(it, q >= it->end ? "unexpected end" : "expected ':'");
  p = ch__json_skip_ws(q + 1, it->end);
  q = it->trusted ? ch__json_fast_skip(p, it->end) : ch__json_scan_value(p, it->end, 1, &why);
  if (!q)
    return json_iter_fail(it, why.msg ? why.msg : "unexpected end");
  *value = (struct ch_span){p, (size_t)(q - p)};
  it->p = q;
  it->state = 1;
  return 1;
}

int ch_json_arr_next(struct ch_json_iter *it, struct ch_span *value) {
  int rc = json_iter_step(it, ']');
  if (rc <= 0)
    return rc;
  const char *p = it->p;
  struct ch__json_why why = {NULL, NULL};
  const char *q = it->trusted ? ch__json_fast_skip(p, it->end) : ch__json_scan_value(p, it->end, 1, &why);
  if (!q)
    return json_iter_fail(it, why.msg ? why.msg : "unexpected end");
  *value = (struct ch_span){p, (size_t)(q - p)};
  it->p = q;
  it->state = 1;
  return 1;
}

int ch_json_arr_count(struct ch_span arr, size_t *count) {
  struct ch_json_iter it;
  struct ch_span v;
  size_t n = 0;
  int rc = ch_json_arr_begin(arr, &it);
  if (rc)
    return rc;
  while ((rc = ch_json_arr_next(&it, &v)) == 1)
    n++;
  if (rc < 0)
    return rc;
  *count = n;
  return 0;
}

static int json_obj_get(struct ch_span obj, const char *key, size_t kl, struct ch_span *value, bool ci,
                        bool trusted) {
  struct ch_json_iter it;
  struct ch_span k, v;
  int rc = ch_json_obj_begin(obj, &it);
  if (rc)
    return rc;
  it.trusted = trusted;
  while ((rc = ch_json_obj_next(&it, &k, &v)) == 1) {
    if (ci ? ch_json_str_eq_ci(k, key, kl) : ch_json_str_eq(k, key, kl)) {
      *value = v;
      return 1;
    }
  }
  return rc;
}

int ch_json_obj_get(struct ch_span obj, const char *key, struct ch_span *value) {
  return json_obj_get(obj, key, strlen(key), value, false, false);
}

int ch_json_obj_get_ci(struct ch_span obj, const char *key, struct ch_span *value) {
  return json_obj_get(obj, key, strlen(key), value, true, false);
}

/* One reference token of a pointer, decoded (~0 -> ~, ~1 -> /) into tok. Returns its length or -EINVAL. */
static int json_ptr_token(const char **pp, char *tok, size_t cap) {
  const char *p = *pp;
  size_t n = 0;
  while (*p && *p != '/') {
    char c = *p++;
    if (c == '~') {
      if (*p == '0')
        c = '~';
      else if (*p == '1')
        c = '/';
      else
        return -EINVAL;
      p++;
    }
    if (n + 1 >= cap)
      return -EINVAL;
    tok[n++] = c;
  }
  tok[n] = '\0';
  *pp = p;
  return (int)n;
}

int ch_json_pointer(struct ch_span doc, const char *ptr, struct ch_span *value) {
  struct ch_span v;
  int rc = ch__json_pointer_trusted(doc, ptr, &v);
  if (rc != 1)
    return rc;
  /* the walk only followed the structure; the value handed out is fully validated */
  struct ch_span checked;
  if (ch_json_skip(v, &checked, NULL) || checked.n != v.n)
    return -EBADMSG;
  *value = v;
  return 1;
}

/* Trusted walk helpers: p is at the container's opening bracket; on success return the start of the member's value
   (an open-ended position: the value is only measured at the end of the walk). NULL when absent, *bad when the
   text is not valid JSON after all. */
static const char *json_walk_obj(const char *p, const char *end, const char *tok, size_t tl, bool *bad) {
  p = ch__json_skip_ws(p + 1, end);
  if (p < end && *p == '}')
    return NULL;
  for (;;) {
    if (p >= end || *p != '"')
      break;
    const char *q = ch__json_fast_string(p, end);
    if (!q)
      break;
    struct ch_span key = {p, (size_t)(q - p)};
    q = ch__json_skip_ws(q, end);
    if (q >= end || *q != ':')
      break;
    const char *v = ch__json_skip_ws(q + 1, end);
    if (ch_json_str_eq(key, tok, tl))
      return v;
    q = ch__json_fast_skip(v, end);
    if (!q)
      break;
    q = ch__json_skip_ws(q, end);
    if (q < end && *q == '}')
      return NULL;
    if (q >= end || *q != ',')
      break;
    p = ch__json_skip_ws(q + 1, end);
  }
  *bad = true;
  return NULL;
}

static const char *json_walk_arr(const char *p, const char *end, size_t idx, bool *bad) {
  p = ch__json_skip_ws(p + 1, end);
  if (p < end && *p == ']')
    return NULL;
  for (size_t i = 0;; i++) {
    if (i == idx)
      return p < end ? p : NULL;
    const char *q = ch__json_fast_skip(p, end);
    if (!q)
      break;
    q = ch__json_skip_ws(q, end);
    if (q < end && *q == ']')
      return NULL;
    if (q >= end || *q != ',')
      break;
    p = ch__json_skip_ws(q + 1, end);
  }
  *bad = true;
  return NULL;
}

int ch__json_pointer_trusted(struct ch_span doc, const char *ptr, struct ch_span *value) {
  if (!ptr || (*ptr && *ptr != '/'))
    return -EINVAL;
  if (!doc.p)
    return -EBADMSG;
  const char *end = doc.p + doc.n, *cur = ch__json_skip_ws(doc.p, end);
  bool bad = false;
  char tok[256];
  while (*ptr) {
    ptr++;
    int tl = json_ptr_token(&ptr, tok, sizeof tok);
    if (tl < 0)
      return tl;
    if (cur >= end)
      return -EBADMSG;
    if (*cur == '{') {
      cur = json_walk_obj(cur, end, tok, (size_t)tl, &bad);
    } else if (*cur == '[') {
      if (tl == 0 || (tl > 1 && tok[0] == '0') || tl > 9)
        return 0;
      size_t idx = 0;
      for (int i = 0; i < tl; i++) {
        if (!json_digit(tok[i]))
          return 0;
        idx = idx * 10 + (size_t)(tok[i] - '0');
      }
      cur = json_walk_arr(cur, end, idx, &bad);
    } else {
      return 0;
    }
    if (!cur)
      return bad ? -EBADMSG : 0;
  }
  const char *q = ch__json_fast_skip(cur, end);
  if (!q)
    return -EBADMSG;
  *value = (struct ch_span){cur, (size_t)(q - cur)};
  return 1;
}
