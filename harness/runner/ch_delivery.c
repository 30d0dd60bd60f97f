#include "ch_delivery.h"

#include <stdlib.h>
#include <string.h>

void ch_delivery_init(struct ch_delivery *d, uint32_t limit) {
  memset(d, 0, sizeof *d);
  d->limit = limit;
}

void ch_delivery_free(struct ch_delivery *d) {
  free(d->bits);
  d->bits = NULL;
  d->nwords = 0;
}

/* Grows the bitmap by doubling, so a subscriber's bitmap is reallocated O(log n) times over a run. */
static bool delivery_grow(struct ch_delivery *d, uint32_t seq) {
  uint32_t need = (seq - 1) / 64 + 1;
  if (need <= d->nwords)
    return true;
  uint32_t n = d->nwords ? d->nwords : 2;
  while (n < need)
    n *= 2;
  uint64_t *b = realloc(d->bits, (size_t)n * sizeof *b);
  if (!b)
    return false;
  memset(b + d->nwords, 0, (size_t)(n - d->nwords) * sizeof *b);
  d->bits = b;
  d->nwords = n;
  return true;
}

enum ch_delivery_verdict ch_delivery_record(struct ch_delivery *d, uint32_t seq) {
  if (seq == 0 || seq > d->limit || !delivery_grow(d, seq))
    return CH_DELIVERY_INVALID;
  uint64_t bit = 1ull << ((seq - 1) % 64);
  uint64_t *w = &d->bits[(seq - 1) / 64];
  if (*w & bit) {
    d->duplicates++;
    return CH_DELIVERY_DUPLICATE;
  }
  *w |= bit;
  d->received++;
  if (seq < d->highest) {
    d->out_of_order++;
    return CH_DELIVERY_LATE;
  }
  d->highest = seq;
  return CH_DELIVERY_NEW;
}

bool ch_delivery_has(const struct ch_delivery *d, uint32_t seq) {
  if (seq == 0 || (seq - 1) / 64 >= d->nwords)
    return false;
  return (d->bits[(seq - 1) / 64] >> ((seq - 1) % 64)) & 1;
}

uint32_t ch_delivery_count(const struct ch_delivery *d, uint32_t lo, uint32_t hi) {
  uint32_t n = 0;
  if (lo == 0)
    lo = 1;
  for (uint32_t s = lo; s <= hi && s != 0; s++)
    n += ch_delivery_has(d, s);
  return n;
}

uint32_t ch_delivery_missing(const struct ch_delivery *d, uint32_t lo, uint32_t hi) {
  if (lo == 0)
    lo = 1;
  if (hi < lo)
    return 0;
  return (hi - lo + 1) - ch_delivery_count(d, lo, hi);
}
