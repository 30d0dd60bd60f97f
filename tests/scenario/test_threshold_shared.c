/* One threshold syntax for scenario and report: ch_thresh_split (ch_metrics) reads every expression, the scenario
   loader (ch_scn_threshold_parse) only adds checks. Whatever a scenario accepts, the report's evaluation
   (ch_threshold_parse) must read to the same metric, operator and value; otherwise a threshold validated at load
   time would be dropped from the report. */
#include <errno.h>
#include <math.h>

#include "ch_report.h"
#include "ch_test.h"
#include "ch_threshold.h"

static void test_split_parts_and_units(void) {
  struct ch_thresh_expr x;
  CU_ASSERT_EQUAL_FATAL(ch_thresh_split("  update_latency.p99<=250ms ", &x), 0);
  CH_ASSERT_STR(x.metric, "update_latency.p99");
  CH_ASSERT_STR(x.op, "<=");
  CU_ASSERT_EQUAL(x.kind, CH_THRESH_DURATION);
  CU_ASSERT_DOUBLE_EQUAL(x.value, 250e6, 1e-3);
  CU_ASSERT_EQUAL_FATAL(ch_thresh_split("reconnect.max < 1h2m3s", &x), 0);
  CU_ASSERT_DOUBLE_EQUAL(x.value, 3723e9, 1);
  CU_ASSERT_EQUAL_FATAL(ch_thresh_split("delivery_ratio != 99.5 %", &x), 0);
  CU_ASSERT_EQUAL(x.kind, CH_THRESH_PERCENT);
  CU_ASSERT_DOUBLE_EQUAL(x.value, 0.995, 1e-12);
  CU_ASSERT_EQUAL_FATAL(ch_thresh_split("errors > -1e3", &x), 0);
  CU_ASSERT_EQUAL(x.kind, CH_THRESH_PLAIN);
  CU_ASSERT_DOUBLE_EQUAL(x.value, -1000, 1e-9);
  static const struct {
    const char *expr;
    enum ch_thresh_part bad;
  } bad[] = {{"", CH_THRESH_METRIC},
             {"< 5", CH_THRESH_METRIC},
             {"errors", CH_THRESH_OP},
             {"errors = 1", CH_THRESH_OP},
             {"errors < ", CH_THRESH_NUMBER},
             {"errors < nan", CH_THRESH_NUMBER},
             {"errors < inf", CH_THRESH_NUMBER},
             {"errors < 5parsecs", CH_THRESH_UNIT},
             {"errors < -5ms", CH_THRESH_UNIT},
             {"reconnect.max < 30s1m", CH_THRESH_UNIT}, /* terms from larger to smaller units */
             {"errors < 5 parsecs", CH_THRESH_END},
             {"errors < 5ms extra", CH_THRESH_END}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CU_ASSERT_EQUAL(ch_thresh_split(bad[i].expr, &x), -EINVAL);
    CU_ASSERT_EQUAL(x.bad, bad[i].bad);
  }
}

static void test_what_the_scenario_accepts_the_report_reads_alike(void) {
  const char *exprs[] = {"update_latency.p99 < 250ms", "reconnect.max <= 1m30s", "connect.p50 < 1.5s",
                         "delivery_ratio >= 99.9%",    "connect_errors == 0",    "error_rate < 0.1%",
                         "update_latency.count != 0",  "duration >= 1h",         "updates_missing <= 3"};
  static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!="};
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
    struct ch_scn_threshold t;
    struct ch_buf metric = CH_BUF_INIT, err = CH_BUF_INIT;
    char op[3];
    double v = 0;
    CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse(exprs[i], &t, &err), 0);
    CU_ASSERT_EQUAL(ch_threshold_parse(exprs[i], &metric, op, &v, &err), 0);
    CH_ASSERT_STR(metric.data, t.metric);
    CU_ASSERT_STRING_EQUAL(op, ops[t.op]);
    CU_ASSERT_DOUBLE_EQUAL(v, t.value, 1e-6 * fabs(t.value));
    ch_scn_threshold_clear(&t);
    ch_buf_free(&metric);
    ch_buf_free(&err);
  }
}

/* The scenario keeps the schema's shape of the value and the scenario grammar of durations; the report reads more. */
static void test_scenario_is_stricter_about_the_value(void) {
  const char *exprs[] = {"update_latency.p99 < 250 ms", "errors < +5", "update_latency.p99 < .5s",
                         "update_latency.p99 < 1e3ms", "update_latency.p99 > -5ms"};
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
    struct ch_scn_threshold t;
    struct ch_buf err = CH_BUF_INIT;
    CU_ASSERT_EQUAL(ch_scn_threshold_parse(exprs[i], &t, &err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(err.data && strstr(err.data, "expected") ? err.data : NULL);
    ch_buf_free(&err);
  }
  struct ch_buf metric = CH_BUF_INIT;
  char op[3];
  double v = 0;
  CU_ASSERT_EQUAL(ch_threshold_parse("update_latency.p99 < 250 ms", &metric, op, &v, NULL), 0);
  CU_ASSERT_DOUBLE_EQUAL(v, 250e6, 1e-3);
  ch_buf_free(&metric);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_split_parts_and_units),
                         CH_TEST(test_what_the_scenario_accepts_the_report_reads_alike),
                         CH_TEST(test_scenario_is_stricter_about_the_value), CU_TEST_INFO_NULL};
  return ch_test_run("threshold_shared", tests);
}
