/* What the fuzz targets that feed their input in chunks share: the input layout (data[0] & 0x0f chunk sizes after
   data[0], then the bytes to feed; data[0]'s other bits are the target's own) and the check that a split feed and
   the whole one agree. */
#ifndef FUZZ_SPLIT_H
#define FUZZ_SPLIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_buf.h"

struct fuzz_split {
  const uint8_t *sizes; /* chunk sizes, cycled; none: one chunk */
  size_t nsizes;
  const char *p; /* the bytes to feed */
  size_t n;
};

/* False when the input is too short for its own layout. */
static inline bool fuzz_split_input(const uint8_t *data, size_t size, struct fuzz_split *s) {
  if (size < 1 || size < 1 + (size_t)(data[0] & 0x0f))
    return false;
  s->nsizes = data[0] & 0x0f;
  s->sizes = data + 1;
  s->p = (const char *)data + 1 + s->nsizes;
  s->n = size - 1 - s->nsizes;
  return true;
}

/* Aborts unless one output is a prefix of the other and, when both feeds went through (`equal`), the same. */
static inline void fuzz_split_agree(const struct ch_buf *a, const struct ch_buf *b, bool equal) {
  size_t common = a->len < b->len ? a->len : b->len;
  if (common && memcmp(a->data, b->data, common) != 0)
    abort();
  if (equal && a->len != b->len)
    abort();
}

#endif /* FUZZ_SPLIT_H */
