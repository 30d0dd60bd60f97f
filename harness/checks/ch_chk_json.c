/* Parsing as the official clients parse (issue 14). Every body and message a check judges goes through
   ch_chk_json: it is accepted only when the JS client's JSON.parse would accept it (Json.NET, the .NET client's
   reader, is the more lenient: comments, single quotes, unquoted names), i.e. when it is exactly one JSON value
   (RFC 8259, which is JSON.parse's grammar) with nothing but JSON whitespace around it, in valid UTF-8 (bytes that
   are not UTF-8 reach the clients as U+FFFD: they read another text than was sent). What the clients accept but a
   careful server would not send (duplicate keys, lone surrogate escapes, a byte order mark before the body) is noted
   as a warning. Failures and warnings land in the evidence of the check being run, with the bytes shown. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_chk.h"
#include "ch_json.h"

void ch_chk_show_bytes(struct ch_buf *out, const char *p, size_t n, size_t max) {
  if (!p)
    p = "", n = 0; /* an empty body has no buffer */
  const char *end = p + (n < max ? n : max);
  while (p < end) {
    unsigned char c = (unsigned char)*p;
    size_t l = ch_utf8_len(p, end);
    if (c >= 0x20 && c != 0x7f && l) {
      ch_buf_append(out, p, l);
      p += l;
    } else {
      ch_buf_printf(out, "\\x%02x", c); /* control characters, NUL, bytes that are not UTF-8 */
      p++;
    }
  }
  if (n > max)
    ch_buf_puts(out, "…");
}

/* Appends one line to b unless it holds it already (the same defect in every message is said once). */
static void note_line(struct ch_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_line(struct ch_buf *b, const char *fmt, ...) {
  struct ch_buf line = CH_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  ch_buf_vprintf(&line, fmt, ap);
  va_end(ap);
  if (line.data && !(b->data && strstr(b->data, line.data)))
    ch_buf_printf(b, "%s%s", b->len ? "\n" : "", line.data);
  ch_buf_free(&line);
}

/* What JSON.parse accepts but a careful server would not send, found in one walk over a valid document. */
struct oddities {
  struct ch_span dup;  /* the first key that repeats within one object (at any depth) */
  bool lone_surrogate; /* a \uD800-\uDFFF escape that is not half of a pair */
  struct ch_buf scratch;
};

/* A string token with escapes that does not decode: in a valid document only a lone surrogate does that. */
static void check_string(struct ch_span str, struct oddities *o) {
  if (o->lone_surrogate || !ch_json_str_has_escape(str))
    return;
  ch_buf_reset(&o->scratch);
  o->lone_surrogate = ch_json_str_unescape(str, &o->scratch) == -EINVAL;
}

/* JSON.parse keeps the last of repeated keys, Json.NET the last or an error depending on its version, cJSON the
   first: the clients may not read what we read. A lone surrogate is kept by both clients as a lone UTF-16 unit,
   which is no character. */
static void walk(struct ch_span v, int depth, struct oddities *o) {
  struct ch_json_iter it;
  struct ch_span k, x;
  enum ch_json_kind kind = ch_json_kind(v);
  if (kind == CH_JSON_STRING)
    check_string(v, o);
  if (depth > CH_JSON_MAX_DEPTH || (kind != CH_JSON_ARRAY && kind != CH_JSON_OBJECT))
    return;
  if (kind == CH_JSON_ARRAY) {
    ch_json_arr_begin(v, &it);
    while (ch_json_arr_next(&it, &x) == 1)
      walk(x, depth + 1, o);
    return;
  }
  struct ch_span keys[64];
  size_t nk = 0;
  ch_json_obj_begin(v, &it);
  while (ch_json_obj_next(&it, &k, &x) == 1) {
    check_string(k, o);
    for (size_t i = 0; i < nk && !o->dup.p; i++)
      if (keys[i].n == k.n && memcmp(keys[i].p, k.p, k.n) == 0)
        o->dup = k;
    if (nk < sizeof keys / sizeof keys[0])
      keys[nk++] = k;
    walk(x, depth + 1, o);
  }
}

/* The UTF-16 unit of the u-escape at p (p[0] is the backslash), or -1 when it is another escape. */
static long escape_unit(const char *p, const char *end) {
  char hex[5] = {0};
  if (end - p < 6 || p[1] != 'u')
    return -1;
  memcpy(hex, p + 2, 4);
  return strtol(hex, NULL, 16);
}

/* cJSON refuses a lone surrogate escape that JSON.parse keeps: the copy it reads has each one replaced by the escape
   of U+FFFD (the same six bytes long), which is what a UTF-8 reader of the client's string would see. */
static void replace_lone_surrogates(char *p, size_t n) {
  char *end = p + n, *high = NULL;
  for (char *q = p; (q = memchr(q, '\\', (size_t)(end - q)));) {
    long u = escape_unit(q, end);
    bool is_high = u >= 0xD800 && u <= 0xDBFF, is_low = u >= 0xDC00 && u <= 0xDFFF;
    if (high && !is_low)
      memcpy(high, "\\ufffd", 6);
    if (!high && is_low)
      memcpy(q, "\\ufffd", 6);
    high = is_high ? q : NULL;
    q += u >= 0 ? 6 : 2;
    if (high && (end - q < 2 || *q != '\\')) {
      memcpy(high, "\\ufffd", 6);
      high = NULL;
    }
  }
}

cJSON *ch_chk_json(struct ch_chk_ctx *cx, const char *p, size_t n) {
  struct ch_span s = {p ? p : "", p ? n : 0}, doc;
  struct ch_json_err e = {0, NULL};
  if (s.n >= 3 && memcmp(s.p, "\xEF\xBB\xBF", 3) == 0) {
    /* the clients' UTF-8 decoders drop a leading BOM of an HTTP body; JSON.parse alone would not */
    note_line(&cx->json_warn, "warning: a UTF-8 byte order mark precedes the JSON");
    s.p += 3, s.n -= 3;
  }
  if (ch_json_parse(s, &doc, &e) != 0) {
    size_t at = e.pos < s.n ? e.pos : s.n, from = at > 48 ? at - 48 : 0;
    struct ch_buf shown = CH_BUF_INIT;
    if (from)
      ch_buf_puts(&shown, "…");
    ch_chk_show_bytes(&shown, s.p + from, at - from, at - from);
    ch_buf_puts(&shown, at < s.n ? " >>" : " >>(end)");
    ch_chk_show_bytes(&shown, s.p + at, s.n - at, 16);
    note_line(&cx->json_err,
              "not accepted by the official clients (JSON.parse throws): %s at byte %zu of %zu: %s",
              e.msg ? e.msg : "malformed", at, s.n, shown.data ? shown.data : "");
    ch_buf_free(&shown);
    return NULL;
  }
  struct oddities o = {CH_SPAN_NULL, false, CH_BUF_INIT};
  walk(doc, 0, &o);
  if (o.dup.p) {
    struct ch_buf shown = CH_BUF_INIT;
    ch_chk_show_bytes(&shown, o.dup.p, o.dup.n, 64);
    note_line(&cx->json_warn, "warning: the key %s repeats within one object (clients disagree on which one counts)",
              shown.data);
    ch_buf_free(&shown);
  }
  if (o.lone_surrogate)
    note_line(&cx->json_warn, "warning: a \\u escape is half of a UTF-16 surrogate pair (no character)");
  ch_buf_free(&o.scratch);
  if (!o.lone_surrogate)
    return cJSON_ParseWithLength(doc.p, doc.n);
  char *copy = malloc(doc.n);
  cJSON *j = NULL;
  if (copy) {
    memcpy(copy, doc.p, doc.n);
    replace_lone_surrogates(copy, doc.n);
    j = cJSON_ParseWithLength(copy, doc.n);
    free(copy);
  }
  return j;
}

void ch_chk_json_notes(struct ch_chk_ctx *cx, bool failed, struct ch_buf *ev) {
  struct ch_buf tmp = CH_BUF_INIT;
  if (failed && cx->json_err.len)
    ch_buf_printf(&tmp, "\n%s", cx->json_err.data);
  if (cx->json_warn.len)
    ch_buf_printf(&tmp, "\n%s", cx->json_warn.data);
  if (tmp.len) {
    const char *t = ev->len ? tmp.data : tmp.data + 1;
    ch_chk_redact(cx, t, strlen(t), ev);
  }
  ch_buf_free(&tmp);
}
