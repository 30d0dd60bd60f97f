/* Opens the compare page in headless Chromium: both latency distributions on one log-percentile chart, both runs'
   time series, the table and the gates render. Needs /usr/bin/chromium, like test_report_browser (CH_SKIP_BROWSER=1
   or CH_ALLOW_SKIP=1 when Chromium is missing skips it). */
#include <unistd.h>

#include "ch_chromium.h"
#include "ch_compare.h"
#include "ch_test.h"

#define S 1000000000ull
#define MS 1000000ull

static char tmpdir[64];

/* 20 seconds of a run whose Update latencies are `scale` times those of the baseline. */
static struct ch_report *run(double scale) {
  struct ch_report *r;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&r), 0);
  ch_report_set(&r->scenario, "browser-compare");
  ch_report_set(&r->scenario_sha256, "ab12");
  r->start_wall_ns = 1800000000ull * S;
  r->end_wall_ns = r->start_wall_ns + 20 * S;
  ch_metrics_begin(r->metrics, r->start_wall_ns);
  ch_metrics_end(r->metrics, r->end_wall_ns);
  struct ch_metrics_group *g;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(r->metrics, "web", "webSockets", &g), 0);
  for (uint64_t s = 0; s < 20; s++) {
    ch_metrics_connected(g, 1);
    for (uint64_t i = 1; i <= 100; i++)
      ch_metrics_record(g, CH_LAT_UPDATE, (uint64_t)(scale * (double)(i * MS / 10 + s * 1000)));
    ch_metrics_count(g, CH_CNT_MESSAGES_IN, 100 + s);
    ch_metrics_tick(r->metrics, r->start_wall_ns + (s + 1) * S);
  }
  return r;
}

static void test_compare_page_renders_both_runs(void) {
  struct ch_report *a = run(1), *b = run(2);
  struct ch_cmp_gate g;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_gate_parse("update_latency.p99=+10%", NULL, &g, NULL), 0);
  struct ch_cmp c;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_run(a, b, &g, 1, &c), 0);
  struct ch_buf html = CH_BUF_INIT, dom = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_cmp_html(&c, &html), 0);
  char page[128];
  snprintf(page, sizeof page, "%s/compare.html", tmpdir);
  FILE *f = fopen(page, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fwrite(html.data, 1, html.len, f);
  fclose(f);
  CU_ASSERT_EQUAL(ch_chromium_dom(tmpdir, page, &dom), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dom.data);
  /* the inline script ran and counted: 4 charts, 2 lines each, one gate */
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-charts=\"4\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-lines=\"8\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-gates=\"1\""));
  const char *ids[] = {"chart-compare-percentiles", "chart-compare-connected", "chart-compare-messages",
                       "chart-compare-delivery"};
  for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "id=\"%s\"", ids[i]);
    CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, needle));
  }
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-name=\"base update_latency\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-name=\"new update_latency\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "REGRESSION"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "class=\"cmp-row worse\""));
  if (!strstr(dom.data, "data-charts=\"4\""))
    fprintf(stderr, "DOM (first 2000 bytes):\n%.2000s\n", dom.data);
  ch_buf_free(&html), ch_buf_free(&dom);
  ch_cmp_free(&c);
  ch_report_free(a), ch_report_free(b);
}

int main(void) {
  int pre = ch_chromium_precheck("test_compare_browser");
  if (pre >= 0)
    return pre;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ch-test-cmp-browser-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 2;
  CU_TestInfo tests[] = {CH_TEST(test_compare_page_renders_both_runs), CU_TEST_INFO_NULL};
  int rc = ch_test_run("compare_browser", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return rc;
}
