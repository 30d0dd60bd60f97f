/* ch_json: a non-allocating JSON (RFC 8259) scanner over spans, for the receive hot path.

   Nothing here allocates except the functions that append into a caller's ch_buf. Every function that walks JSON
   validates what it walks (grammar, UTF-8, control characters, nesting up to CH_JSON_MAX_DEPTH), so spans from the
   network can be handed in as they are; a malformed input gives a negative code, never a crash or an over-read.

   Span conventions:
   - a "value span" covers exactly one JSON value without surrounding whitespace;
   - a string value span, and an object key span, INCLUDE the double quotes (`"abc"`): use ch_json_str_eq /
     ch_json_str_unescape / ch_json_str_inner on them. */
#ifndef CH_JSON_H
#define CH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

struct ch_span {
  const char *p;
  size_t n;
};

#define CH_SPAN_NULL ((struct ch_span){NULL, 0})
#define CH_SPAN_LIT(s) ((struct ch_span){(s), sizeof(s) - 1})

/* Maximum nesting of arrays and objects within one scanned value. */
#define CH_JSON_MAX_DEPTH 64

enum ch_json_kind {
  CH_JSON_INVALID = 0, /* empty span or a first byte that starts no JSON value */
  CH_JSON_STRING,
  CH_JSON_NUMBER,
  CH_JSON_OBJECT,
  CH_JSON_ARRAY,
  CH_JSON_TRUE,
  CH_JSON_FALSE,
  CH_JSON_NULL,
};

/* Why scanning stopped: the byte offset into the scanned input and a short static reason ("unterminated string",
   "nesting deeper than 64", ...). Never contains input bytes, so it is safe to log. */
struct ch_json_err {
  size_t pos;
  const char *msg;
};

/* A span over a NUL-terminated C string. */
struct ch_span ch_span_cstr(const char *s);
/* The span without leading and trailing JSON whitespace (space, tab, CR, LF). */
struct ch_span ch_span_trim(struct ch_span s);

/* Kind of the value starting at v.p (after leading whitespace), from its first byte only: no validation. */
enum ch_json_kind ch_json_kind(struct ch_span v);
/* "string", "number", "object", "array", "true", "false", "null" or "invalid", for error messages. */
const char *ch_json_kind_name(enum ch_json_kind k);

/* Validates one JSON value at the start of s (leading whitespace allowed) and sets *value to it. Bytes after the
   value are not looked at. Returns 0, or -EBADMSG with err (if not NULL) filled. */
int ch_json_skip(struct ch_span s, struct ch_span *value, struct ch_json_err *err);
/* Validates that s is exactly one JSON value with optional surrounding whitespace (a whole document). On success
   sets *value (if not NULL) to the value span. Returns 0 or -EBADMSG. */
int ch_json_parse(struct ch_span s, struct ch_span *value, struct ch_json_err *err);

/* Iteration over an object's members or an array's elements. The iterator validates each member as it passes it;
   begin checks only the opening bracket. next returns 1 with the next member, 0 at the end, -EBADMSG on malformed
   input (after which the iterator stays failed). */
struct ch_json_iter {
  const char *p;
  const char *end;
  int state; /* 0 first, 1 after a member, 2 done, -1 failed */
  bool trusted; /* internal: the span was validated already, so members are skipped without re-validation */
  struct ch_json_err err;
};
int ch_json_obj_begin(struct ch_span obj, struct ch_json_iter *it);
int ch_json_obj_next(struct ch_json_iter *it, struct ch_span *key, struct ch_span *value);
int ch_json_arr_begin(struct ch_span arr, struct ch_json_iter *it);
int ch_json_arr_next(struct ch_json_iter *it, struct ch_span *value);
/* Number of elements of an array span (validating it); -EBADMSG when malformed, -EINVAL when not an array. */
int ch_json_arr_count(struct ch_span arr, size_t *count);

/* Finds the first member whose key equals `key` (exactly, or ASCII case-insensitively with _ci). Escaped keys are
   compared decoded. Returns 1 found (value set), 0 absent, -EBADMSG malformed, -EINVAL not an object. */
int ch_json_obj_get(struct ch_span obj, const char *key, struct ch_span *value);
int ch_json_obj_get_ci(struct ch_span obj, const char *key, struct ch_span *value);

/* String tokens (with quotes). */
/* True when the token is a string whose decoded value equals the n bytes of s (exact, or ASCII case-insensitive).
   Never allocates, escapes included. False for non-strings and malformed escapes. */
bool ch_json_str_eq(struct ch_span str, const char *s, size_t n);
bool ch_json_str_eq_ci(struct ch_span str, const char *s, size_t n);
/* Convenience: compare with a C string. */
bool ch_json_str_eqz(struct ch_span str, const char *s);
/* The bytes between the quotes, still escaped (an empty span if str is not a string token). */
struct ch_span ch_json_str_inner(struct ch_span str);
/* True when the token contains a backslash (so its inner bytes differ from its decoded value). */
bool ch_json_str_has_escape(struct ch_span str);
/* Appends the decoded UTF-8 value of a string token to out (\uXXXX and surrogate pairs decoded). Returns 0,
   -EINVAL (not a string, invalid escape, lone or reversed surrogate, raw control character) or -ENOMEM. On error
   out->len is restored. */
int ch_json_str_unescape(struct ch_span str, struct ch_buf *out);
/* Appends s as a quoted JSON string: escapes " \ and control characters (\b \f \n \r \t, else \u00XX); invalid
   UTF-8 bytes become \ufffd; '/', '<', '>' and valid non-ASCII are written raw (as Newtonsoft does). */
int ch_json_append_str(struct ch_buf *out, const char *s, size_t n);

/* The length (1-4) of the valid UTF-8 sequence starting at p (ASCII included: 1), or 0 when the bytes there are not
   UTF-8 (overlong forms, surrogates and values past U+10FFFF refused, as the scanner refuses them). p < end. */
size_t ch_utf8_len(const char *p, const char *end);

/* Numbers. */
/* Parses a JSON number token to a double. Returns 0, -EINVAL (not a JSON number) or -ERANGE (overflow to infinity,
   or a token longer than 400 bytes). */
int ch_json_num_double(struct ch_span num, double *out);
/* Parses a JSON number token that holds an integer: digits, optionally followed by a fraction of zeros ("20.0",
   as Newtonsoft writes whole doubles). Returns 0, -EINVAL (not an integer) or -ERANGE (outside int64). */
int ch_json_num_int64(struct ch_span num, int64_t *out);

/* JSON Pointer (RFC 6901): `ptr` is "" (the whole document) or "/a/0/b~1c". Array indexes are decimal without
   leading zeros; reference tokens up to 255 bytes. Fast: it follows the structure along the path (never reading
   outside doc) and fully validates only the value it returns, so call ch_json_parse first when the rest of the
   document must be valid too (ch_recv_decode has done that for frame spans). Returns 1 found (value set, a valid
   JSON value), 0 absent, -EINVAL bad pointer syntax, -EBADMSG malformed along the path or in the value. */
int ch_json_pointer(struct ch_span doc, const char *ptr, struct ch_span *value);

#endif /* CH_JSON_H */
