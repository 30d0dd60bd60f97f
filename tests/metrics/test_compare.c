/* ch_compare: gate parsing, verdicts from the histograms (worse, same, inconclusive), gates, identity differences and
   the JSON/JUnit renderings, on reports built in memory. */
#include <cjson/cJSON.h>
#include <math.h>

#include "ch_compare.h"
#include "ch_test.h"

#define S 1000000000ull
#define US 1000ull

/* A report of one group whose update latencies are n samples spread evenly over [scale, scale*n] us. */
static struct ch_report *report_with(uint64_t n, double scale, uint64_t errors, const char *sha) {
  struct ch_report *r;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&r), 0);
  ch_report_set(&r->scenario, "cmp");
  ch_report_set(&r->scenario_sha256, sha);
  ch_report_set(&r->target, "embedded reference endpoint");
  r->start_wall_ns = 1800000000ull * S;
  r->end_wall_ns = r->start_wall_ns + 10 * S;
  ch_metrics_begin(r->metrics, r->start_wall_ns);
  ch_metrics_end(r->metrics, r->end_wall_ns);
  struct ch_metrics_group *g;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(r->metrics, "web", "webSockets", &g), 0);
  for (uint64_t i = 1; i <= n; i++)
    ch_metrics_record(g, CH_LAT_UPDATE, (uint64_t)((double)i * scale * US));
  ch_metrics_count(g, CH_CNT_UPDATES_EXPECTED, n);
  ch_metrics_count(g, CH_CNT_UPDATES_RECEIVED, n);
  ch_metrics_count(g, CH_CNT_CONNECTS, 10);
  if (errors)
    ch_metrics_fail_n(g, "negotiate: HTTP 500", errors);
  return r;
}

static struct ch_cmp_gate gate(const char *spec) {
  struct ch_cmp_gate g;
  struct ch_buf err = CH_BUF_INIT;
  int rc = ch_cmp_gate_parse(spec, NULL, &g, &err);
  if (rc)
    fprintf(stderr, "gate %s: %s\n", spec, err.data);
  CU_ASSERT_EQUAL(rc, 0);
  ch_buf_free(&err);
  return g;
}

static const struct ch_cmp_row *row(const struct ch_cmp *c, const char *name) {
  for (size_t i = 0; i < c->n_rows; i++)
    if (!strcmp(c->rows[i].name, name))
      return &c->rows[i];
  return NULL;
}

static void test_gate_parse_accepts_and_refuses(void) {
  struct ch_cmp_gate g = gate("update_latency.p99=+10%");
  CH_ASSERT_STR(g.metric, "update_latency.p99");
  CU_ASSERT_TRUE(g.relative && fabs(g.allow - 0.1) < 1e-12);
  g = gate("update_latency.p99{population=web,transport=webSockets}=5ms");
  CH_ASSERT_STR(g.population, "web");
  CH_ASSERT_STR(g.transport, "webSockets");
  CU_ASSERT_TRUE(!g.relative && g.allow == 5e6);
  g = gate("throughput=-5%");
  CH_ASSERT_STR(g.metric, "updates_per_second");
  g = gate("delivery_ratio=-0.001");
  CU_ASSERT_TRUE(!g.relative && fabs(g.allow - 0.001) < 1e-12);
  g = gate("errors=+0");
  CU_ASSERT_TRUE(g.allow == 0);
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_cmp_gate_parse("errors", "+0", &g, &err), 0); /* the scenario file's form */
  CH_ASSERT_STR(g.text, "errors=+0");
  const struct {
    const char *spec, *says;
  } bad[] = {{"update_latency.p99=-10%", "+N"},        {"delivery_ratio=+1%", "-N"},
             {"update_latency.p99=5", "needs a unit"}, {"errors=+5ms", "only for latencies"},
             {"triggers=+1", "workload"},              {"update_latncy.p99=+1%", "unknown metric"},
             {"update_latency.p99{pop=x}=+1%", "scope"}, {"update_latency.p99", "METRIC=LIMIT"},
             {"update_latency.p99=+ten%", "number"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ch_buf_reset(&err);
    CU_ASSERT_EQUAL(ch_cmp_gate_parse(bad[i].spec, NULL, &g, &err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, bad[i].says) : NULL);
    if (!err.data || !strstr(err.data, bad[i].says))
      fprintf(stderr, "%s: %s\n", bad[i].spec, err.data ? err.data : "(no message)");
  }
  ch_buf_free(&err);
}

static void test_same_distribution_is_same_and_passes(void) {
  struct ch_report *a = report_with(2000, 1, 0, "aa"), *b = report_with(2000, 1, 0, "aa");
  struct ch_cmp_gate gs[] = {gate("update_latency.p99=+10%"), gate("errors=+0")};
  struct ch_cmp c;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_run(a, b, gs, 2, &c), 0);
  CU_ASSERT_EQUAL(c.n_diffs, 0);
  const struct ch_cmp_row *r = row(&c, "update_latency.p99");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->verdict, CH_CMP_SAME);
  CU_ASSERT_EQUAL(r->gate_result, CH_CMP_GATE_PASS);
  CU_ASSERT_TRUE(r->has_interval && r->lo_base <= r->base && r->base <= r->hi_base);
  CU_ASSERT_EQUAL(c.gates_failed, 0);
  ch_cmp_free(&c);
  ch_report_free(a), ch_report_free(b);
}

/* 1.5 times slower: every percentile worse (intervals apart), the p99 gate of +10% fails, +60% passes. */
static void test_slower_run_is_worse_and_fails_its_gate(void) {
  struct ch_report *a = report_with(2000, 1, 0, "aa"), *b = report_with(2000, 1.5, 0, "aa");
  struct ch_cmp_gate gs[] = {gate("update_latency.p99=+10%"), gate("update_latency.p99=+60%"),
                             gate("update_latency.p50{population=web}=+1ms")};
  struct ch_cmp c;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_run(a, b, gs, 3, &c), 0);
  const struct ch_cmp_row *r = row(&c, "update_latency.p99");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->verdict, CH_CMP_WORSE);
  CU_ASSERT_TRUE(fabs(r->rel - 0.5) < 0.02); /* from the histograms: within their 1% resolution */
  CU_ASSERT_EQUAL(r->gate_result, CH_CMP_GATE_FAIL);
  CU_ASSERT_PTR_NOT_NULL(strstr(r->gate_why, "regressed"));
  CU_ASSERT_EQUAL(c.gates_failed, 1); /* +60% holds, and the p50 of population web grew 500us (1ms allowed) */
  const struct ch_cmp_row *p50 = row(&c, "update_latency.p50{population=web}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p50);
  CU_ASSERT_EQUAL(p50->gate_result, CH_CMP_GATE_PASS);
  struct ch_buf j = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_cmp_junit(&c, &j), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "tests=\"3\" failures=\"1\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "name=\"update_latency.p99=+10%\" time=\"0\"><failure type=\"regression\""));
  ch_buf_reset(&j);
  CU_ASSERT_EQUAL(ch_cmp_json(&c, &j), 0);
  cJSON *doc = cJSON_Parse(j.data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(doc, "gates_failed")->valueint, 1);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "gates")), 3);
  cJSON_Delete(doc);
  ch_buf_free(&j);
  ch_cmp_free(&c);
  ch_report_free(a), ch_report_free(b);
}

/* 200 samples: p50 is judged, p99 (needs 500) is inconclusive and so is its gate: neither passed nor failed. */
static void test_too_few_samples_are_inconclusive(void) {
  struct ch_report *a = report_with(200, 1, 0, "aa"), *b = report_with(200, 3, 0, "aa");
  struct ch_cmp_gate gs[] = {gate("update_latency.p99=+10%")};
  struct ch_cmp c;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_run(a, b, gs, 1, &c), 0);
  const struct ch_cmp_row *r = row(&c, "update_latency.p99");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->verdict, CH_CMP_INCONCLUSIVE);
  CH_ASSERT_STR(r->why, "inconclusive: 200 samples (needs 500)");
  CU_ASSERT_EQUAL(r->gate_result, CH_CMP_GATE_INCONCLUSIVE);
  CU_ASSERT_EQUAL(c.gates_failed, 0);
  CU_ASSERT_EQUAL(c.gates_inconclusive, 1);
  CU_ASSERT_EQUAL(row(&c, "update_latency.p50")->verdict, CH_CMP_WORSE);
  struct ch_buf j = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_cmp_junit(&c, &j), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "<skipped message=\"inconclusive: 200 samples (needs 500)\"/>"));
  ch_buf_free(&j);
  ch_cmp_free(&c);
  /* 50 samples: even the median is inconclusive */
  ch_report_free(a), ch_report_free(b);
  a = report_with(50, 1, 0, "aa"), b = report_with(50, 3, 0, "aa");
  CU_ASSERT_EQUAL_FATAL(ch_cmp_run(a, b, NULL, 0, &c), 0);
  CH_ASSERT_STR(row(&c, "update_latency.p50")->why, "inconclusive: 50 samples (needs 100)");
  ch_cmp_free(&c);
  ch_report_free(a), ch_report_free(b);
}

static void test_counters_and_identity(void) {
  struct ch_report *a = report_with(1000, 1, 0, "aa"), *b = report_with(1000, 1, 3, "bb");
  ch_report_set(&b->target, "http://staging/Centro");
  struct ch_cmp_gate gs[] = {gate("errors=+0"), gate("errors=+5")};
  struct ch_cmp c;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_run(a, b, gs, 2, &c), 0);
  CU_ASSERT_EQUAL(c.n_diffs, 2);
  CH_ASSERT_STR(c.diffs[0].field, "scenario_sha256");
  CH_ASSERT_STR(c.diffs[1].field, "target");
  const struct ch_cmp_row *r = row(&c, "errors");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->verdict, CH_CMP_WORSE);
  CU_ASSERT_EQUAL(r->gate_result, CH_CMP_GATE_FAIL);
  CU_ASSERT_EQUAL(c.gates_failed, 1); /* +5 allows 3 */
  CU_ASSERT_EQUAL(row(&c, "delivery_ratio")->verdict, CH_CMP_SAME);
  ch_cmp_free(&c);
  ch_report_free(a), ch_report_free(b);
}

/* The new run measured no Update at all while the baseline did: a latency gate fails, it is not inconclusive. */
static void test_nothing_measured_in_new_run_fails(void) {
  struct ch_report *a = report_with(1000, 1, 0, "aa"), *b = report_with(0, 1, 0, "aa");
  struct ch_cmp_gate gs[] = {gate("update_latency.p99=+10%"), gate("update_latency.p99{population=wbe}=+10%")};
  struct ch_cmp c;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_run(a, b, gs, 2, &c), 0);
  CU_ASSERT_EQUAL(c.gates_failed, 1);
  /* a scope that matches no group (a misspelt population) is inconclusive and says why */
  const struct ch_cmp_row *r = row(&c, "update_latency.p99{population=wbe}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CH_ASSERT_STR(r->gate_why, "inconclusive: no group of {population=wbe} in either run");
  ch_cmp_free(&c);
  ch_report_free(a), ch_report_free(b);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_gate_parse_accepts_and_refuses), CH_TEST(test_same_distribution_is_same_and_passes),
                         CH_TEST(test_slower_run_is_worse_and_fails_its_gate),
                         CH_TEST(test_too_few_samples_are_inconclusive), CH_TEST(test_counters_and_identity),
                         CH_TEST(test_nothing_measured_in_new_run_fails), CU_TEST_INFO_NULL};
  return ch_test_run("compare", tests);
}
