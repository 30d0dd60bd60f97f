/* Tests of the metrics set: groups, threshold names, merge of worker sets, per-second time series. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "ch_metrics.h"
#include "ch_test.h"

#define S 1000000000ull
#define MS 1000000ull

static void test_metrics_group_lookup_is_stable(void) {
  struct ch_metrics *m;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&m), 0);
  struct ch_metrics_group *a, *b, *c;
  CU_ASSERT_EQUAL(ch_metrics_group(m, "viewers", "webSockets", &a), 0);
  CU_ASSERT_EQUAL(ch_metrics_group(m, "viewers", "longPolling", &b), 0);
  for (int i = 0; i < 10; i++) /* growth of the group table must not move groups */
    ch_metrics_group(m, "p", i % 2 ? "x" : "y", &c);
  ch_metrics_group(m, "viewers", "webSockets", &c);
  CU_ASSERT_PTR_EQUAL(a, c);
  CU_ASSERT_PTR_NOT_EQUAL(a, b);
  CU_ASSERT_PTR_EQUAL(ch_metrics_find(m, "viewers", "longPolling"), b);
  CU_ASSERT_PTR_NULL(ch_metrics_find(m, "nobody", "webSockets"));
  CU_ASSERT_EQUAL(ch_metrics_group(m, NULL, "x", &c), -EINVAL);
  ch_metrics_free(m);
}

static void test_metrics_lookup_names(void) {
  struct ch_metrics *m;
  ch_metrics_new(&m);
  struct ch_metrics_group *ws, *lp;
  ch_metrics_group(m, "viewers", "webSockets", &ws);
  ch_metrics_group(m, "viewers", "longPolling", &lp);
  ch_metrics_begin(m, 100 * S);
  ch_metrics_end(m, 110 * S);
  for (uint64_t i = 1; i <= 100; i++)
    ch_metrics_record(i <= 50 ? ws : lp, CH_LAT_UPDATE, i * MS);
  ch_metrics_count(ws, CH_CNT_UPDATES_EXPECTED, 100);
  ch_metrics_count(ws, CH_CNT_UPDATES_RECEIVED, 50);
  ch_metrics_count(lp, CH_CNT_UPDATES_RECEIVED, 49);
  ch_metrics_count(lp, CH_CNT_MESSAGES_IN, 1000);
  ch_metrics_count(ws, CH_CNT_CONNECTS, 3);
  ch_metrics_fail(lp, "negotiate: HTTP 500");
  ch_metrics_fail(lp, "negotiate: HTTP 500");
  ch_metrics_connected(ws, 1);
  ch_metrics_connected(ws, 1);
  ch_metrics_connected(ws, -1);
  double v;
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "update_latency.count", &v), 0);
  CU_ASSERT_EQUAL(v, 100);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "update_latency.max", &v), 0);
  CU_ASSERT_EQUAL(v, 100 * MS);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "update_latency.p50", &v), 0);
  CU_ASSERT(fabs(v - 50 * MS) / (50 * MS) < 0.01);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "update_latency.p99.9", &v), 0);
  CU_ASSERT(fabs(v - 100 * MS) / (100 * MS) < 0.01);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "update_latency.mean", &v), 0);
  CU_ASSERT(fabs(v - 50.5 * MS) < 1);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "delivery_ratio", &v), 0);
  CU_ASSERT(fabs(v - 0.99) < 1e-9);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "messages_per_second", &v), 0);
  CU_ASSERT(fabs(v - 100) < 1e-9);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "errors", &v), 0);
  CU_ASSERT_EQUAL(v, 2);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "clients_connected", &v), 0);
  CU_ASSERT_EQUAL(v, 3);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "connected_peak", &v), 0);
  CU_ASSERT_EQUAL(v, 2);
  CU_ASSERT_EQUAL(ch_metrics_lookup(m, "negotiate.p90", &v), 0);
  CU_ASSERT_EQUAL(v, 0); /* nothing recorded */
  CU_ASSERT_EQUAL(ch_metrics_group_lookup(m, lp, "update_latency.min", &v), 0);
  CU_ASSERT_EQUAL(v, 51 * MS);
  CU_ASSERT_EQUAL(lp->n_reasons, 1);
  CH_ASSERT_STR(lp->reasons[0].text, "negotiate: HTTP 500");
  CU_ASSERT_EQUAL(lp->reasons[0].count, 2);
  const char *unknown[] = {"update_latency", "update_latency.p101", "latency.p99", "update_latency.pX", "bogus",
                           "", "update_latency.p"};
  for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
    CU_ASSERT_FALSE(ch_metrics_name_known(unknown[i]));
    CU_ASSERT_EQUAL(ch_metrics_lookup(m, unknown[i], &v), -ENOENT);
  }
  CU_ASSERT_TRUE(ch_metrics_name_known("reconnect.p99.99"));
  CU_ASSERT_TRUE(ch_metrics_name_known("updates_out_of_order"));
  CU_ASSERT_PTR_NOT_NULL(strstr(ch_metrics_known_names(), "delivery_ratio"));
  ch_metrics_free(m);
}

static void test_metrics_failure_reasons_are_bounded(void) {
  struct ch_metrics *m;
  ch_metrics_new(&m);
  struct ch_metrics_group *g;
  ch_metrics_group(m, "p", "webSockets", &g);
  char r[32];
  for (int i = 0; i < 100; i++) {
    snprintf(r, sizeof r, "reason %d", i);
    ch_metrics_fail(g, r);
  }
  CU_ASSERT_EQUAL(g->n_reasons, CH_METRICS_REASONS);
  CU_ASSERT_EQUAL(g->reasons[CH_METRICS_REASONS].count, 100 - CH_METRICS_REASONS);
  CU_ASSERT_EQUAL(g->counters[CH_CNT_ERRORS], 100);
  ch_metrics_free(m);
}

static void test_metrics_merge_of_workers(void) {
  struct ch_metrics *a, *b;
  ch_metrics_new(&a);
  ch_metrics_new(&b);
  struct ch_metrics_group *ga, *gb, *gb2;
  ch_metrics_group(a, "viewers", "webSockets", &ga);
  ch_metrics_group(b, "viewers", "webSockets", &gb);
  ch_metrics_group(b, "editors", "serverSentEvents", &gb2);
  ch_metrics_begin(a, 10 * S), ch_metrics_end(a, 20 * S);
  ch_metrics_begin(b, 12 * S), ch_metrics_end(b, 25 * S);
  for (int i = 1; i <= 1000; i++) {
    ch_metrics_record(ga, CH_LAT_CONNECT, (uint64_t)i * 1000);
    ch_metrics_record(gb, CH_LAT_CONNECT, (uint64_t)i * 2000);
  }
  ch_metrics_count(ga, CH_CNT_BYTES_IN, 5);
  ch_metrics_count(gb, CH_CNT_BYTES_IN, 7);
  ch_metrics_fail(ga, "x");
  ch_metrics_fail(gb, "x");
  ch_metrics_fail(gb2, "y");
  CU_ASSERT_EQUAL(ch_metrics_merge(a, b), 0);
  CU_ASSERT_EQUAL(a->n_groups, 2);
  CU_ASSERT_EQUAL(ga->lat[CH_LAT_CONNECT].count, 2000);
  CU_ASSERT_EQUAL(ga->lat[CH_LAT_CONNECT].max, 2000000);
  CU_ASSERT_EQUAL(ga->counters[CH_CNT_BYTES_IN], 12);
  CU_ASSERT_EQUAL(ga->reasons[0].count, 2);
  CU_ASSERT_EQUAL(a->start_wall_ns, 10 * S);
  CU_ASSERT_EQUAL(a->end_wall_ns, 25 * S);
  double v;
  ch_metrics_lookup(a, "errors", &v);
  CU_ASSERT_EQUAL(v, 3);
  CU_ASSERT_PTR_NOT_NULL(ch_metrics_find(a, "editors", "serverSentEvents"));
  ch_metrics_free(a);
  ch_metrics_free(b);
}

static void test_metrics_time_series_per_second(void) {
  struct ch_metrics *a, *b;
  ch_metrics_new(&a);
  ch_metrics_new(&b);
  struct ch_metrics_group *ga, *gb;
  ch_metrics_group(a, "p", "webSockets", &ga);
  ch_metrics_group(b, "p", "webSockets", &gb);
  /* worker a: seconds 100, 101; worker b: seconds 101, 102 */
  ch_metrics_connected(ga, 1);
  ch_metrics_count(ga, CH_CNT_MESSAGES_IN, 10);
  for (int i = 0; i < 100; i++)
    ch_metrics_record(ga, CH_LAT_UPDATE, 10 * MS);
  CU_ASSERT_EQUAL(ch_metrics_tick(a, 100 * S + 5), 0);
  ch_metrics_count(ga, CH_CNT_MESSAGES_IN, 5);
  for (int i = 0; i < 100; i++)
    ch_metrics_record(ga, CH_LAT_UPDATE, 20 * MS);
  ch_metrics_tick(a, 101 * S + 5);
  ch_metrics_connected(gb, 1);
  ch_metrics_connected(gb, 1);
  for (int i = 0; i < 100; i++)
    ch_metrics_record(gb, CH_LAT_UPDATE, 40 * MS);
  ch_metrics_fail(gb, "boom");
  ch_metrics_tick(b, 101 * S + 7);
  ch_metrics_tick(b, 102 * S + 7);
  CU_ASSERT_EQUAL_FATAL(a->n_series, 2);
  CU_ASSERT_EQUAL(a->series[0].t, 100);
  CU_ASSERT_EQUAL(a->series[0].messages_in, 10);
  CU_ASSERT_EQUAL(a->series[1].messages_in, 5);
  CU_ASSERT_EQUAL(a->series[0].connected, 1);
  CU_ASSERT_EQUAL(a->series[0].deliveries, 100);
  CU_ASSERT(fabs((double)a->series[1].p99_ns - 20.0 * MS) / (20.0 * MS) < 0.01);
  CU_ASSERT_EQUAL(ch_metrics_merge(a, b), 0);
  CU_ASSERT_EQUAL_FATAL(a->n_series, 3);
  const struct ch_series_point *p = &a->series[1];
  CU_ASSERT_EQUAL(p->t, 101);
  CU_ASSERT_EQUAL(p->connected, 3);
  CU_ASSERT_EQUAL(p->deliveries, 200);
  CU_ASSERT_EQUAL(p->errors, 1);
  /* merged distribution of the second: half 20 ms, half 40 ms */
  CU_ASSERT(fabs((double)p->p50_ns - 20.0 * MS) / (20.0 * MS) < 0.01);
  CU_ASSERT(fabs((double)p->p99_ns - 40.0 * MS) / (40.0 * MS) < 0.01);
  CU_ASSERT_EQUAL(a->series[2].t, 102);
  CU_ASSERT_EQUAL(a->series[2].deliveries, 0);
  CU_ASSERT_EQUAL(a->series[2].connected, 2);
  /* a second tick within the same second adds to that point */
  ch_metrics_count(ga, CH_CNT_MESSAGES_IN, 1);
  ch_metrics_tick(a, 102 * S + 900);
  CU_ASSERT_EQUAL(a->n_series, 3);
  CU_ASSERT_EQUAL(a->series[2].messages_in, 1);
  ch_metrics_free(a);
  ch_metrics_free(b);
}

static void test_metrics_series_grows_beyond_initial_capacity(void) {
  struct ch_metrics *m;
  ch_metrics_new(&m);
  struct ch_metrics_group *g;
  ch_metrics_group(m, "p", "webSockets", &g);
  for (uint64_t s = 0; s < 500; s++) {
    ch_metrics_record(g, CH_LAT_UPDATE, (s + 1) * MS);
    CU_ASSERT_EQUAL_FATAL(ch_metrics_tick(m, (1000 + s) * S), 0);
  }
  CU_ASSERT_EQUAL(m->n_series, 500);
  CU_ASSERT_EQUAL(m->series[499].t, 1499);
  CU_ASSERT(fabs((double)m->series[499].p50_ns - 500.0 * MS) / (500.0 * MS) < 0.01);
  ch_metrics_free(m);
}

static void test_metrics_clear_ends_warm_up_keeping_groups(void) {
  struct ch_metrics *m;
  ch_metrics_new(&m);
  struct ch_metrics_group *g;
  ch_metrics_group(m, "p", "webSockets", &g);
  ch_metrics_connected(g, 1);
  ch_metrics_connected(g, 1);
  ch_metrics_connected(g, -1);
  ch_metrics_count(g, CH_CNT_MESSAGES_IN, 100);
  ch_metrics_record(g, CH_LAT_UPDATE, 5 * MS);
  ch_metrics_fail(g, "warm-up failure");
  ch_metrics_tick(m, 10 * S);
  ch_metrics_clear(m);
  CU_ASSERT_PTR_EQUAL(ch_metrics_find(m, "p", "webSockets"), g);
  CU_ASSERT_EQUAL(g->lat[CH_LAT_UPDATE].count, 0);
  CU_ASSERT_EQUAL(g->counters[CH_CNT_MESSAGES_IN], 0);
  CU_ASSERT_EQUAL(g->counters[CH_CNT_ERRORS], 0);
  CU_ASSERT_EQUAL(g->n_reasons, 0);
  CU_ASSERT_EQUAL(g->connected, 1);
  CU_ASSERT_EQUAL(g->connected_peak, 1);
  /* the series continues with correct per-second deltas */
  ch_metrics_count(g, CH_CNT_MESSAGES_IN, 7);
  CU_ASSERT_EQUAL(ch_metrics_tick(m, 11 * S), 0);
  CU_ASSERT_EQUAL(m->n_series, 2);
  CU_ASSERT_EQUAL(m->series[1].messages_in, 7);
  /* open-model correction through a group feeds both the histogram and the second */
  CU_ASSERT_TRUE(ch_metrics_record_corrected(g, CH_LAT_UPDATE, 50 * MS, 10 * MS));
  CU_ASSERT_EQUAL(g->lat[CH_LAT_UPDATE].count, 5);
  ch_metrics_tick(m, 12 * S);
  CU_ASSERT_EQUAL(m->series[2].deliveries, 5);
  ch_metrics_free(m);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_metrics_group_lookup_is_stable),
                         CH_TEST(test_metrics_lookup_names),
                         CH_TEST(test_metrics_failure_reasons_are_bounded),
                         CH_TEST(test_metrics_merge_of_workers),
                         CH_TEST(test_metrics_time_series_per_second),
                         CH_TEST(test_metrics_series_grows_beyond_initial_capacity),
                         CH_TEST(test_metrics_clear_ends_warm_up_keeping_groups),
                         CU_TEST_INFO_NULL};
  return ch_test_run("metrics", tests);
}
