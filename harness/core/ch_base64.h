/* ch_base64: standard base64 (RFC 4648 alphabet with + and /), padded or not. */
#ifndef CH_BASE64_H
#define CH_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "ch_buf.h"

/* Appends the encoding of data to out; with pad, '=' fills the last group to 4 characters. 0 or -ENOMEM. */
int ch_base64_encode(struct ch_buf *out, const void *data, size_t len, bool pad);
/* Appends the decoding of s to out. padded: s is groups of 4 characters, '=' only at the end (at most two);
   unpadded: no '=', and a last group of 2 or 3 characters. -EINVAL for anything else, or -ENOMEM. */
int ch_base64_decode(struct ch_buf *out, const char *s, size_t len, bool padded);

#endif /* CH_BASE64_H */
