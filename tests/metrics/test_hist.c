/* Tests of the log-linear histogram: accuracy against known distributions, merge, serialisation, correction. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "ch_hist.h"
#include "ch_rng.h"
#include "ch_test.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Exact quantile with the same rank definition as ch_hist_value_at. */
static uint64_t exact_at(const uint64_t *sorted, size_t n, double pct) {
  double r = ceil(pct / 100.0 * (double)n);
  size_t rank = r < 1 ? 1 : (size_t)r;
  return sorted[rank - 1];
}

static void check_percentiles(struct ch_hist *h, uint64_t *vals, size_t n) {
  qsort(vals, n, sizeof *vals, cmp_u64);
  const double pcts[] = {1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99};
  for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
    double want = (double)exact_at(vals, n, pcts[i]), got = (double)ch_hist_value_at(h, pcts[i]);
    double rel = fabs(got - want) / (want > 0 ? want : 1);
    if (rel > 0.01)
      fprintf(stderr, "p%g: want %.0f got %.0f (rel %.4f)\n", pcts[i], want, got, rel);
    CU_ASSERT(rel <= 0.01);
  }
  CU_ASSERT_EQUAL(ch_hist_value_at(h, 100), vals[n - 1]);
  CU_ASSERT_EQUAL(ch_hist_value_at(h, 0), vals[0]);
  CU_ASSERT_EQUAL(ch_hist_min(h), vals[0]);
  CU_ASSERT_EQUAL(ch_hist_max(h), vals[n - 1]);
}

static void test_hist_uniform_percentiles_within_1pct(void) {
  enum { N = 200000 };
  static struct ch_hist h;
  uint64_t *vals = malloc(N * sizeof *vals);
  struct ch_rng rng;
  ch_rng_seed(&rng, 1);
  ch_hist_init(&h);
  double sum = 0;
  for (size_t i = 0; i < N; i++) {
    vals[i] = 1000 + ch_rng_below(&rng, 10000000000ull); /* 1 us .. 10 s */
    sum += (double)vals[i];
    CU_ASSERT_TRUE(ch_hist_record(&h, vals[i]));
  }
  CU_ASSERT_EQUAL(h.count, N);
  CU_ASSERT(fabs(ch_hist_mean(&h) - sum / N) / (sum / N) < 1e-9);
  /* stddev of U(a,b) is (b-a)/sqrt(12) */
  CU_ASSERT(fabs(ch_hist_stddev(&h) - 1e10 / sqrt(12)) / (1e10 / sqrt(12)) < 0.02);
  check_percentiles(&h, vals, N);
  free(vals);
}

static void test_hist_exponential_percentiles_within_1pct(void) {
  enum { N = 200000 };
  static struct ch_hist h;
  uint64_t *vals = malloc(N * sizeof *vals);
  struct ch_rng rng;
  ch_rng_seed(&rng, 7);
  ch_hist_init(&h);
  for (size_t i = 0; i < N; i++) {
    double u = ch_rng_unit(&rng);
    vals[i] = 1000 + (uint64_t)(-log(1.0 - u) * 5e6); /* mean 5 ms above 1 us */
    ch_hist_record(&h, vals[i]);
  }
  check_percentiles(&h, vals, N);
  /* known distribution: the median of Exp(mean 5 ms) is 5 ms * ln 2 */
  double med = (double)ch_hist_value_at(&h, 50) - 1000;
  CU_ASSERT(fabs(med - 5e6 * log(2)) / (5e6 * log(2)) < 0.02);
  free(vals);
}

static void test_hist_every_bucket_bounds_are_within_1pct(void) {
  for (size_t i = 1; i < CH_HIST_BUCKETS; i++) {
    uint64_t lo = ch_hist_bucket_low(i), hi = ch_hist_bucket_high(i);
    CU_ASSERT_EQUAL_FATAL(ch_hist_bucket_high(i - 1) + 1, lo);
    CU_ASSERT_EQUAL(ch_hist_index(lo), i);
    CU_ASSERT_EQUAL(ch_hist_index(hi), i);
    CU_ASSERT((double)(hi - lo) / (double)lo <= 0.01);
  }
  CU_ASSERT(ch_hist_bucket_high(CH_HIST_BUCKETS - 1) >= CH_HIST_MAX_NS);
  CU_ASSERT(ch_hist_index(CH_HIST_MAX_NS) < CH_HIST_BUCKETS);
  CU_ASSERT_EQUAL(ch_hist_index(255), 255); /* exact below 256 ns */
}

static void test_hist_out_of_range_goes_to_overflow(void) {
  static struct ch_hist h;
  ch_hist_init(&h);
  CU_ASSERT_TRUE(ch_hist_record(&h, CH_HIST_MAX_NS));
  CU_ASSERT_FALSE(ch_hist_record(&h, CH_HIST_MAX_NS + 1));
  CU_ASSERT_FALSE(ch_hist_record_n(&h, UINT64_MAX, 3));
  CU_ASSERT_TRUE(ch_hist_record(&h, 0));
  CU_ASSERT_EQUAL(h.count, 2);
  CU_ASSERT_EQUAL(h.overflow, 4);
  CU_ASSERT_EQUAL(ch_hist_max(&h), CH_HIST_MAX_NS); /* never clamped into the range */
  CU_ASSERT_EQUAL(ch_hist_min(&h), 0);
}

static void test_hist_merge_equals_recording_into_one(void) {
  static struct ch_hist a, b, all;
  ch_hist_init(&a), ch_hist_init(&b), ch_hist_init(&all);
  struct ch_rng rng;
  ch_rng_seed(&rng, 3);
  for (int i = 0; i < 50000; i++) {
    uint64_t v = ch_rng_below(&rng, 1ull << (ch_rng_below(&rng, 40) + 1));
    ch_hist_record(i % 3 ? &a : &b, v);
    ch_hist_record(&all, v);
  }
  ch_hist_record(&b, CH_HIST_MAX_NS * 2);
  ch_hist_record(&all, CH_HIST_MAX_NS * 2);
  ch_hist_add(&a, &b);
  CU_ASSERT_EQUAL(memcmp(a.counts, all.counts, sizeof a.counts), 0);
  CU_ASSERT_EQUAL(a.count, all.count);
  CU_ASSERT_EQUAL(a.overflow, all.overflow);
  CU_ASSERT_EQUAL(a.min, all.min);
  CU_ASSERT_EQUAL(a.max, all.max);
  CU_ASSERT(fabs(a.sum - all.sum) <= all.sum * 1e-12);
  CU_ASSERT_EQUAL(ch_hist_value_at(&a, 99.9), ch_hist_value_at(&all, 99.9));
}

static void test_hist_serialise_round_trip(void) {
  static struct ch_hist h, back;
  ch_hist_init(&h);
  struct ch_buf s = CH_BUF_INIT, err = CH_BUF_INIT;
  /* empty */
  CU_ASSERT_EQUAL(ch_hist_serialize(&h, &s), 0);
  CU_ASSERT_EQUAL(ch_hist_parse(&back, s.data, s.len, &err), 0);
  CU_ASSERT_EQUAL(back.count, 0);
  CU_ASSERT_EQUAL(ch_hist_value_at(&back, 50), 0);
  struct ch_rng rng;
  ch_rng_seed(&rng, 11);
  for (int i = 0; i < 100000; i++)
    ch_hist_record(&h, 1000000 + ch_rng_below(&rng, 50000000));
  ch_hist_record(&h, 5);
  ch_hist_record(&h, CH_HIST_MAX_NS + 5);
  ch_buf_reset(&s);
  CU_ASSERT_EQUAL(ch_hist_serialize(&h, &s), 0);
  CU_ASSERT(s.len < 8000); /* compact: ~2.6k non-empty buckets of ~3 bytes each */
  CU_ASSERT_EQUAL_FATAL(ch_hist_parse(&back, s.data, s.len, &err), 0);
  CU_ASSERT_EQUAL(memcmp(&h, &back, sizeof h), 0);
  ch_buf_free(&s);
  ch_buf_free(&err);
}

static void test_hist_parse_rejects_malformed_input(void) {
  static struct ch_hist h;
  struct ch_buf err = CH_BUF_INIT;
  const char *bad[] = {"", "HDR2:AQ", "HDR1:", "HDR1:A", "HDR1:!!!!", "HDR1:AQc", "HDR1://///////////////////"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ch_buf_reset(&err);
    CU_ASSERT_EQUAL(ch_hist_parse(&h, bad[i], strlen(bad[i]), &err), -EINVAL);
    CU_ASSERT(err.data && strstr(err.data, "bad histogram") != NULL);
    CU_ASSERT_EQUAL(h.count, 0);
  }
  /* a valid serialisation with a byte flipped must never crash and must stay consistent if accepted */
  static struct ch_hist src;
  ch_hist_init(&src);
  for (uint64_t v = 1000; v < 100000000; v *= 3)
    ch_hist_record(&src, v);
  struct ch_buf s = CH_BUF_INIT;
  ch_hist_serialize(&src, &s);
  for (size_t i = 5; i < s.len; i++) {
    char saved = s.data[i];
    s.data[i] = saved == 'A' ? 'z' : 'A';
    if (ch_hist_parse(&h, s.data, s.len, NULL) == 0) {
      CU_ASSERT(h.count == 0 || (h.min <= h.max && ch_hist_value_at(&h, 50) <= h.max));
    }
    s.data[i] = saved;
  }
  ch_buf_free(&s);
  ch_buf_free(&err);
}

static void test_hist_corrected_recording_adds_missed_samples(void) {
  static struct ch_hist h, ref;
  ch_hist_init(&h), ch_hist_init(&ref);
  /* expected interval 10 ms, one sample took 100 ms: the samples at 90, 80, ..., 10 ms were missed */
  CU_ASSERT_TRUE(ch_hist_record_corrected(&h, 100000000, 10000000));
  CU_ASSERT_EQUAL(h.count, 10);
  for (uint64_t v = 10000000; v <= 100000000; v += 10000000)
    ch_hist_record(&ref, v);
  CU_ASSERT_EQUAL(memcmp(h.counts, ref.counts, sizeof h.counts), 0);
  CU_ASSERT_EQUAL(h.min, 10000000);
  CU_ASSERT(fabs(h.sum - ref.sum) < 1);
  /* a fast sample adds nothing; interval 0 disables the correction */
  ch_hist_init(&h);
  ch_hist_record_corrected(&h, 5000000, 10000000);
  ch_hist_record_corrected(&h, 50000000, 0);
  CU_ASSERT_EQUAL(h.count, 2);
  /* tiny interval on a huge value: bounded cost, exact count */
  ch_hist_init(&h);
  CU_ASSERT_TRUE(ch_hist_record_corrected(&h, 3000000000000ull, 1000));
  CU_ASSERT_EQUAL(h.count, 3000000000ull);
  CU_ASSERT_EQUAL(h.min, 1000);
  CU_ASSERT(fabs((double)ch_hist_value_at(&h, 50) - 1.5e12) / 1.5e12 < 0.01);
  CU_ASSERT_FALSE(ch_hist_record_corrected(&h, CH_HIST_MAX_NS + 1, 1000));
}

static void test_hist_iteration_visits_non_empty_buckets(void) {
  static struct ch_hist h;
  ch_hist_init(&h);
  ch_hist_record_n(&h, 100, 2);
  ch_hist_record(&h, 1000000);
  ch_hist_record(&h, 1000001);
  struct ch_hist_iter it;
  ch_hist_iter_init(&it, &h);
  CU_ASSERT_TRUE(ch_hist_iter_next(&it));
  CU_ASSERT_EQUAL(it.low, 100);
  CU_ASSERT_EQUAL(it.count, 2);
  CU_ASSERT_TRUE(ch_hist_iter_next(&it));
  CU_ASSERT(it.low <= 1000000 && it.high >= 1000001);
  CU_ASSERT_EQUAL(it.count, 2);
  CU_ASSERT_EQUAL(it.cumulative, 4);
  CU_ASSERT_FALSE(ch_hist_iter_next(&it));
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_hist_uniform_percentiles_within_1pct),
                         CH_TEST(test_hist_exponential_percentiles_within_1pct),
                         CH_TEST(test_hist_every_bucket_bounds_are_within_1pct),
                         CH_TEST(test_hist_out_of_range_goes_to_overflow),
                         CH_TEST(test_hist_merge_equals_recording_into_one),
                         CH_TEST(test_hist_serialise_round_trip),
                         CH_TEST(test_hist_parse_rejects_malformed_input),
                         CH_TEST(test_hist_corrected_recording_adds_missed_samples),
                         CH_TEST(test_hist_iteration_visits_non_empty_buckets),
                         CU_TEST_INFO_NULL};
  return ch_test_run("hist", tests);
}
