/* ch_json_internal: scanner pieces shared by the files of ch_proto (not part of the public API). */
#ifndef CH_JSON_INTERNAL_H
#define CH_JSON_INTERNAL_H

#include <stddef.h>

const char *ch__json_skip_ws(const char *p, const char *end);
int ch__json_hex(char c);
/* Length (2-4) of the valid UTF-8 sequence of a non-ASCII lead byte at p, or 0 when invalid or truncated. */
size_t ch__utf8_valid_len(const unsigned char *p, const unsigned char *end);
/* Each scanner starts at the first byte of its token and returns the byte after it, or NULL with *why set. */
const char *ch__json_scan_string(const char *p, const char *end, const char **why);
const char *ch__json_scan_number(const char *p, const char *end, const char **why);
const char *ch__json_scan_value(const char *p, const char *end, int depth, const char **why);

#endif /* CH_JSON_INTERNAL_H */
