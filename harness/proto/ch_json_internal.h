/* ch_json_internal: scanner pieces shared by the files of ch_proto (not part of the public API). */
#ifndef CH_JSON_INTERNAL_H
#define CH_JSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ch_json.h"

/* Skips JSON whitespace. Inline with a first-byte test: between tokens there is usually none. */
static inline const char *ch__json_skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}
int ch__json_hex(char c);
/* Length (2-4) of the valid UTF-8 sequence of a non-ASCII lead byte at p, or 0 when invalid or truncated. */
size_t ch__utf8_valid_len(const unsigned char *p, const unsigned char *end);
/* Why and where a scan failed. */
struct ch__json_why {
  const char *msg;
  const char *at;
};
/* Each scanner starts at the first byte of its token and returns the byte after it, or NULL with *why set. */
const char *ch__json_scan_string(const char *p, const char *end, struct ch__json_why *why);
const char *ch__json_scan_number(const char *p, const char *end, struct ch__json_why *why);
const char *ch__json_scan_value(const char *p, const char *end, int depth, struct ch__json_why *why);
/* Skips one value of text that was validated before, without checking it again (bounded by end: never reads past
   it, returns NULL if the text is not what validation would have accepted). */
const char *ch__json_fast_skip(const char *p, const char *end);
const char *ch__json_fast_string(const char *p, const char *end);
/* Positions the iterator at the start of its next member without scanning it (1), or reports the end (0) or an
   error (<0); close is '}' or ']'. The following *_next call then scans that member. */
int ch__json_iter_peek(struct ch_json_iter *it, char close);
/* ch_json_pointer on a value validated before (no validation pass first). */
int ch__json_pointer_trusted(struct ch_span doc, const char *ptr, struct ch_span *value);

/* Receive decoder pieces shared by ch_receive.c and ch_recv_msgs.c. */
/* The single-letter key of a member (with quotes), or 0 for any other key; escaped keys are decoded. */
char ch__recv_key(struct ch_span k);
int ch__recv_fail(const char **reason, const char *why);
static inline bool ch__recv_is_null(struct ch_span v) { return v.n == 4 && v.p[0] == 'n'; }

/* Byte classes inside strings: 0 plain ASCII, 1 quote/backslash/control (needs a look), 2 non-ASCII lead. */
extern const unsigned char ch__json_str_class[256];

/* The first byte at or after p that is '"', '\\', a control character or non-ASCII (end when none). Strings are
   mostly plain ASCII, so this runs 16 bytes per step (SSE2; 8 with SWAR elsewhere). Inline: it is called once per
   string token, and most tokens are shorter than 16 bytes, so a call would cost as much as the scan. */
static inline const char *ch__json_str_plain(const char *p, const char *end) {
#if defined(__SSE2__)
  const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches non-ASCII */
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)), _mm_cmplt_epi8(x, sp));
    unsigned bits = (unsigned)_mm_movemask_epi8(m);
    if (bits)
      return p + __builtin_ctz(bits);
    p += 16;
  }
#else
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  while (end - p >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t qq = w ^ (ones * '"'), bb = w ^ (ones * '\\');
    if (((w - ones * 0x20) | (qq - ones) | (bb - ones) | w) & high)
      break;
    p += 8;
  }
#endif
  while (p < end && ch__json_str_class[(unsigned char)*p] == 0)
    p++;
  return p;
}

/* Validates the string token at p (its opening quote); returns the byte after the closing quote, or NULL with *why
   set. *esc is set when the token contains a backslash (its inner bytes are then not its value). */
const char *ch__json_string_slow(const char *p, const char *end, bool *esc, struct ch__json_why *why);
static inline const char *ch__json_string(const char *p, const char *end, bool *esc, struct ch__json_why *why) {
  const char *q = ch__json_str_plain(p + 1, end);
  if (q < end && *q == '"')
    return q + 1;
  return ch__json_string_slow(q, end, esc, why);
}

#endif /* CH_JSON_INTERNAL_H */
