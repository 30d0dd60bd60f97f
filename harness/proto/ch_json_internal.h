/* ch_json_internal: scanner pieces shared by the files of ch_proto (not part of the public API). */
#ifndef CH_JSON_INTERNAL_H
#define CH_JSON_INTERNAL_H

#include <stddef.h>

#include "ch_json.h"

const char *ch__json_skip_ws(const char *p, const char *end);
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

#endif /* CH_JSON_INTERNAL_H */
