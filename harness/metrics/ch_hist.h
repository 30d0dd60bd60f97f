/* ch_hist: a log-linear (HDR-style) latency histogram in nanoseconds.
 *
 * Layout: values 0..255 ns have one bucket each (exact); above that every power of two [2^e, 2^(e+1)) is split into
 * 128 equal sub-buckets, so a bucket is at most 1/128 of its lower bound wide. Reported values are bucket midpoints
 * (clamped to the exact min/max), so the relative error is below 0.4% (< 1% promised). The trackable range is
 * 0 ns .. CH_HIST_MAX_NS (1 hour); larger values are counted in `overflow` (never clamped silently) and reported.
 * Storage is inline and fixed (CH_HIST_BUCKETS counters, ~36 KiB): recording never allocates and is a few shifts
 * and increments. One histogram belongs to one thread; merge after join with ch_hist_add (lossless).
 */
#ifndef CH_HIST_H
#define CH_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

#define CH_HIST_SUB_BITS 7                                  /* 128 sub-buckets per power of two */
#define CH_HIST_SUB (1u << CH_HIST_SUB_BITS)
#define CH_HIST_LINEAR (2u * CH_HIST_SUB)                   /* 0..255 ns: one bucket per ns */
#define CH_HIST_MAX_NS (3600ull * 1000000000ull)            /* 1 hour, the highest trackable value */
#define CH_HIST_TOP_EXP 41                                  /* floor(log2(CH_HIST_MAX_NS)) */
#define CH_HIST_BUCKETS (CH_HIST_LINEAR + (CH_HIST_TOP_EXP - CH_HIST_SUB_BITS - 1 + 1) * CH_HIST_SUB) /* 4608 */

struct ch_hist {
  uint64_t count;     /* recorded samples in range (overflow not included) */
  uint64_t overflow;  /* samples above CH_HIST_MAX_NS */
  uint64_t min, max;  /* exact, over in-range samples; min is UINT64_MAX when empty */
  double sum;         /* exact-ish sum of in-range samples (ns), for the mean */
  uint64_t counts[CH_HIST_BUCKETS];
};

/* Bucket index of an in-range value (v <= CH_HIST_MAX_NS). */
static inline size_t ch_hist_index(uint64_t v) {
  if (v < CH_HIST_LINEAR)
    return (size_t)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v);
  return CH_HIST_LINEAR + (size_t)(e - CH_HIST_SUB_BITS - 1) * CH_HIST_SUB +
         (size_t)((v >> (e - CH_HIST_SUB_BITS)) & (CH_HIST_SUB - 1));
}

/* Empties the histogram (no allocation: the storage is inline). */
void ch_hist_init(struct ch_hist *h);
static inline void ch_hist_reset(struct ch_hist *h) { ch_hist_init(h); }

/**
 * Records one sample. O(1), no allocation.
 * @return true when recorded, false when v > CH_HIST_MAX_NS (then counted in h->overflow).
 */
static inline bool ch_hist_record(struct ch_hist *h, uint64_t v) {
  if (__builtin_expect(v > CH_HIST_MAX_NS, 0)) {
    h->overflow++;
    return false;
  }
  h->counts[ch_hist_index(v)]++;
  h->count++;
  h->sum += (double)v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
  return true;
}

/* Records n samples of value v. Same result as n calls of ch_hist_record. */
bool ch_hist_record_n(struct ch_hist *h, uint64_t v, uint64_t n);

/**
 * Coordinated-omission correction for open-model (scheduled) load: records v, and when v exceeds the expected
 * interval between samples, also the samples that a stalled system prevented from being taken: v - interval,
 * v - 2*interval, ... down to >= interval. Cost is bounded by the number of buckets (not by v / interval).
 * interval 0 means no correction. @return false (and nothing but the overflow counter changes) when v is out of range.
 */
bool ch_hist_record_corrected(struct ch_hist *h, uint64_t v, uint64_t expected_interval);

/* Adds every sample of src into dst (lossless: identical to having recorded them into dst). */
void ch_hist_add(struct ch_hist *dst, const struct ch_hist *src);

/* Lowest and highest value that map to bucket i (i < CH_HIST_BUCKETS). */
uint64_t ch_hist_bucket_low(size_t i);
uint64_t ch_hist_bucket_high(size_t i);

/* Value at percentile pct (0..100): the smallest recorded value v such that pct% of samples are <= v, within
   the bucket resolution. 0 when empty; pct <= 0 gives min, pct >= 100 gives max. */
uint64_t ch_hist_value_at(const struct ch_hist *h, double pct);
double ch_hist_mean(const struct ch_hist *h);   /* 0 when empty */
double ch_hist_stddev(const struct ch_hist *h); /* from bucket midpoints; 0 when empty */
static inline uint64_t ch_hist_min(const struct ch_hist *h) { return h->count ? h->min : 0; }
static inline uint64_t ch_hist_max(const struct ch_hist *h) { return h->count ? h->max : 0; }

/* Iteration over non-empty buckets in increasing value order:
     struct ch_hist_iter it; ch_hist_iter_init(&it, h); while (ch_hist_iter_next(&it)) use it.low/it.high/it.count */
struct ch_hist_iter {
  const struct ch_hist *h;
  size_t next;          /* bucket index to look at next */
  uint64_t low, high;   /* value range of the current bucket */
  uint64_t value;       /* representative value (midpoint clamped to min/max) */
  uint64_t count;       /* samples in the current bucket */
  uint64_t cumulative;  /* samples in this and every lower bucket */
};
void ch_hist_iter_init(struct ch_hist_iter *it, const struct ch_hist *h);
bool ch_hist_iter_next(struct ch_hist_iter *it);

/**
 * Compact serialised form: "HDR1:" followed by base64 (RFC 4648, no padding) of a varint stream:
 * format version, sub-bucket bits, overflow, min, max, the sum as IEEE-754 bits, then the counts run-length coded
 * as zigzag varints (n > 0: a bucket with n samples; -k: k empty buckets). Trailing empty buckets are omitted.
 * Appends to out. @return 0 or -ENOMEM.
 */
int ch_hist_serialize(const struct ch_hist *h, struct ch_buf *out);

/**
 * Parses the serialised form back into h (which is reset first). Never crashes on malformed input.
 * @return 0, or -EINVAL for malformed input (h is then left empty) with a reason in err (if not NULL).
 */
int ch_hist_parse(struct ch_hist *h, const char *s, size_t n, struct ch_buf *err);

#endif /* CH_HIST_H */
