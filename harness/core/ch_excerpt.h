/* ch_excerpt: a short, printable excerpt of bytes a peer sent (an error body, say) for a one-line reason. */
#ifndef CH_EXCERPT_H
#define CH_EXCERPT_H

#include <stddef.h>

/* Writes at most size-1 characters of p[0..n) to out, NUL-terminated: printable ASCII only, each run of spaces,
   control bytes and non-ASCII bytes becomes one space, none leading or trailing. Returns the length written. */
size_t ch_excerpt(char *out, size_t size, const char *p, size_t n);

#endif /* CH_EXCERPT_H */
