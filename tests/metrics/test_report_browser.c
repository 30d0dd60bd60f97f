/* Opens report.html in headless Chromium and checks that it renders its charts and check results.
   Needs /usr/bin/chromium (Debian package `chromium`): without it the test fails. CH_SKIP_BROWSER=1 (or
   CH_ALLOW_SKIP=1 when Chromium is missing) skips it, reported to CTest as skipped. */
#include <stdlib.h>
#include <unistd.h>

#include "ch_exit.h"
#include "ch_report.h"
#include "ch_test.h"

#define CHROMIUM "/usr/bin/chromium"
#define S 1000000000ull
#define MS 1000000ull

static char tmpdir[64];

static struct ch_report *sample_report(void) {
  struct ch_report *r;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&r), 0);
  ch_report_set(&r->scenario, "browser-smoke");
  ch_report_set_target(r, "http://127.0.0.1:8080/Centro?access_token=s3cr3t-token");
  ch_report_add_secret(r, "s3cr3t-token");
  r->start_wall_ns = 1800000000ull * S;
  r->end_wall_ns = r->start_wall_ns + 30 * S;
  struct ch_metrics *m = r->metrics;
  ch_metrics_begin(m, r->start_wall_ns);
  ch_metrics_end(m, r->end_wall_ns);
  struct ch_metrics_group *g;
  ch_metrics_group(m, "viewers", "webSockets", &g);
  for (uint64_t s = 0; s < 30; s++) {
    ch_metrics_connected(g, 1);
    for (uint64_t i = 1; i <= 200; i++)
      ch_metrics_record(g, CH_LAT_UPDATE, i * MS / 10 + s * 1000);
    ch_metrics_record(g, CH_LAT_CONNECT, 2 * MS + s * 10000);
    ch_metrics_count(g, CH_CNT_MESSAGES_IN, 200 + s);
    ch_metrics_tick(m, r->start_wall_ns + (s + 1) * S);
  }
  struct ch_check c = {"NEG-001", "negotiate answers with a ConnectionToken", "4.1", NULL, NULL, CH_RESULT_PASS, 0};
  ch_report_add_check(r, &c);
  c = (struct ch_check){"WS-002", "init message arrives <S:1>", "5.2", "webSockets", "no init within 5s",
                        CH_RESULT_FAIL, 5 * S};
  ch_report_add_check(r, &c);
  c = (struct ch_check){"LP-001", "long polling poll returns", "6.1", "longPolling", "transport not offered",
                        CH_RESULT_SKIP, 0};
  ch_report_add_check(r, &c);
  ch_report_eval_threshold(r, "update_latency.p99 < 50ms", NULL);
  /* a capacity section: two steps held, the third broke */
  const char *slo[] = {"update_latency.p99 < 50ms"};
  CU_ASSERT_EQUAL_FATAL(ch_capacity_new("subscribers_per_key", slo, 1, &r->capacity), 0);
  for (int i = 1; i <= 3; i++) {
    struct ch_capacity_step st = {.load = 250.0 * i, .clients = 250u * (unsigned)i, .connected = 250.0 * i,
                                  .deliveries_per_s = 1000.0 * i, .has_latency = true, .p50_ms = 2.0 * i,
                                  .p90_ms = 5.0 * i, .p99_ms = 20.0 * i, .max_ms = 30.0 * i, .delivery_ratio = 1,
                                  .duration_s = 4, .held = i < 3, .broken = i < 3 ? NULL : "update_latency.p99 < 50ms",
                                  .has_observed = i == 3, .observed = 60e6,
                                  .target = {true, 250.0 * i, 5000.0 * i, 0.2 * i, 30000, 1}};
    ch_capacity_add_step(r->capacity, &st);
  }
  r->exit_code = CH_EXIT_CHECK_FAILED;
  ch_report_set(&r->exit_reason, "1 check failed");
  return r;
}

static void test_report_browser_renders_charts_and_checks(void) {
  struct ch_report *r = sample_report();
  struct ch_buf err = CH_BUF_INIT, cmd = CH_BUF_INIT, dom = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_report_write_dir(r, tmpdir, &err), 0);
  /* a private profile keeps parallel runs apart; timeout bounds a hung browser; its stderr is shown on failure */
  ch_buf_printf(&cmd,
                "timeout -k 5 60 " CHROMIUM " --headless --no-sandbox --disable-gpu --no-first-run "
                "--disable-extensions --user-data-dir='%s/profile' --dump-dom 'file://%s/report.html' "
                "2>'%s/chromium.log'",
                tmpdir, tmpdir, tmpdir);
  FILE *p = popen(cmd.data, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, p)) > 0 && dom.len < (64u << 20))
    ch_buf_append(&dom, chunk, n);
  int status = pclose(p);
  CU_ASSERT_EQUAL(status, 0);
  if (status != 0 || !dom.data) {
    ch_buf_reset(&cmd); /* what Chromium said, without its complaints about the missing D-Bus */
    ch_buf_printf(&cmd, "echo 'chromium: wait status %d, %zu bytes of DOM; its stderr:' >&2; "
                        "grep -v dbus '%s/chromium.log' | tail -n 40 >&2", status, dom.len, tmpdir);
    if (system(cmd.data) != 0)
      fprintf(stderr, "(no stderr of chromium)\n");
  }
  CU_ASSERT_PTR_NOT_NULL_FATAL(dom.data);
  /* the inline script ran in the browser and counted what was rendered */
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-charts=\"7\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-checks=\"3\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "rendered 7 charts"));
  /* capacity: one point per step (p50, p99; deliveries/s) and the knee marked on both charts */
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-points=\"9\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "data-knees=\"2\""));
  CU_ASSERT_PTR_NULL(strstr(dom.data, "data-lines=\"0\""));
  const char *ids[] = {"chart-percentiles", "chart-connections", "chart-throughput", "chart-delivery",
                       "chart-errors", "chart-capacity-latency", "chart-capacity-throughput"};
  for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "id=\"%s\"", ids[i]);
    CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, needle));
  }
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "<polyline"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "class=\"check-row fail\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "WS-002"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "init message arrives &lt;S:1&gt;"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "no init within 5s"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dom.data, "FAILED"));
  CU_ASSERT_PTR_NULL(strstr(dom.data, "s3cr3t-token"));
  if (!strstr(dom.data, "data-charts=\"7\""))
    fprintf(stderr, "DOM (first 2000 bytes):\n%.2000s\n", dom.data);
  ch_buf_free(&err), ch_buf_free(&cmd), ch_buf_free(&dom);
  ch_report_free(r);
}

int main(void) {
  const char *skip = getenv("CH_SKIP_BROWSER");
  if (skip && !strcmp(skip, "1")) {
    printf("SKIPPED: test_report_browser (CH_SKIP_BROWSER=1)\n");
    return CH_TEST_SKIPPED;
  }
  if (access(CHROMIUM, X_OK) != 0)
    return ch_test_may_skip(CHROMIUM " not found: the HTML report test needs headless Chromium (install it with "
                                     "`apt-get install -y chromium`)",
                            "CH_SKIP_BROWSER")
               ? CH_TEST_SKIPPED
               : 1;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ch-test-browser-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 2;
  CU_TestInfo tests[] = {CH_TEST(test_report_browser_renders_charts_and_checks), CU_TEST_INFO_NULL};
  int rc = ch_test_run("report_browser", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return rc;
}
