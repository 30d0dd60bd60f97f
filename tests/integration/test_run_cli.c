/* `centro-harness run` as users and release pipelines use it: the shipped scenarios pass against the embedded
   reference endpoint, exit codes and last lines are the documented ones, reports are written without credentials. */
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>

#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64];

static struct ch_spawn_result run_scenario(const char *scenario, const char *const extra[], int timeout_s) {
  char *argv[40];
  int n = 0;
  argv[n++] = "centro-harness";
  argv[n++] = "run";
  argv[n++] = (char *)scenario;
  argv[n++] = "--report-dir";
  argv[n++] = report_dir;
  argv[n++] = "--workers";
  argv[n++] = "2";
  for (int i = 0; extra && extra[i] && n < 38; i++)
    argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  return ch_spawn(argv, timeout_s);
}

static void expect_exit(const char *scenario, const char *const extra[], int want, const char *last_prefix) {
  struct ch_spawn_result r = run_scenario(scenario, extra, 240);
  char last[512];
  ch_last_line(&r, last, sizeof last);
  if (r.code != want)
    fprintf(stderr, "\n%s: exit %d, wanted %d; output:\n%s\n", scenario, r.code, want, r.out);
  CU_ASSERT_EQUAL(r.code, want);
  CU_ASSERT_EQUAL(strncmp(last, last_prefix, strlen(last_prefix)), 0);
  free(r.out);
}

static void test_run_smoke_passes_and_writes_reports_without_credentials(void) {
  const char *extra[] = {"--token", "s3cret-token-for-test", NULL};
  struct ch_spawn_result r = run_scenario("scenarios/smoke.json", extra, 120);
  char last[256];
  CU_ASSERT_EQUAL(r.code, 0);
  CH_ASSERT_STR(ch_last_line(&r, last, sizeof last), "exit 0: passed (9 checks, 0 skipped; 3 thresholds)");
  CU_ASSERT_PTR_NULL(strstr(r.out, "s3cret-token-for-test"));
  const char *files[] = {"report.json", "junit.xml", "report.html"};
  for (int i = 0; i < 3; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", report_dir, files[i]);
    char *body = ch_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL(body);
    if (body) {
      CU_ASSERT_PTR_NULL(strstr(body, "s3cret-token-for-test"));
      free(body);
    }
  }
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *json = ch_slurp(path, NULL);
  /* the delivery the user gates on was judged, not skipped */
  CU_ASSERT_TRUE(json && strstr(json, "\"RUN-DELIVERY\"") != NULL);
  CU_ASSERT_PTR_NULL(json ? strstr(json, "\"result\":\"fail\"") : NULL);
  free(json);
  free(r.out);
}

static void test_run_shipped_scenarios_pass(void) {
  const char *names[] = {"scenarios/auth.json", "scenarios/conformance.json", "scenarios/fanout-1k.json",
                         "scenarios/transports.json", "scenarios/reconnect.json", "scenarios/capacity-fanout.json",
                         "scenarios/capacity-rate.json"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    expect_exit(names[i], NULL, 0, "exit 0: passed");
}

static void test_run_soak_shortened_with_set(void) {
  const char *extra[] = {"--set", "phases.2.duration=2s", "--set", "clients.0.count=50", NULL};
  expect_exit("scenarios/soak-10m.json", extra, 0, "exit 0: passed");
}

static void test_run_processes_merge_shards(void) {
  const char *extra[] = {"--processes", "2", NULL};
  expect_exit("scenarios/smoke.json", extra, 0, "exit 0: passed");
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *json = ch_slurp(path, NULL);
  const char *sh = json ? strstr(json, "\"shards\":") : NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL(sh);
  sh += strlen("\"shards\":");
  while (*sh == ' ' || *sh == '\t')
    sh++;
  CU_ASSERT_EQUAL(*sh, '2');
  free(json);
}

static void test_run_threshold_failure_exits_2(void) {
  const char *extra[] = {"--set", "thresholds=[\"update_latency.p99 < 1us\"]", NULL};
  expect_exit("scenarios/smoke.json", extra, 2, "exit 2: threshold failed (1 of 1)");
}

static void test_run_invalid_scenario_exits_3_naming_file_and_path(void) {
  const char *extra[] = {"--set", "clients.0.count=\"ten\"", NULL};
  struct ch_spawn_result r = run_scenario("scenarios/smoke.json", extra, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "scenarios/smoke.json"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "clients[0].count"));
  char last[256];
  CU_ASSERT_EQUAL(strncmp(ch_last_line(&r, last, sizeof last), "exit 3:", 7), 0);
  free(r.out);
  const char *extra2[] = {"--bogus", NULL};
  r = run_scenario("scenarios/smoke.json", extra2, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  free(r.out);
  r = run_scenario("scenarios/does-not-exist.json", NULL, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "does-not-exist.json"));
  free(r.out);
}

static void test_run_unreachable_target_exits_4(void) {
  /* Port 9 on loopback: nothing listens there, so every connect is refused at once. */
  const char *extra[] = {"--target", "http://127.0.0.1:9/Centro", "--set", "trigger.type=none",
                         "--set", "phases=[{\"type\":\"connect\",\"timeout\":\"5s\"}]", "--token", "x", NULL};
  expect_exit("scenarios/smoke.json", extra, 4, "exit 4: run could not be carried out");
}

static void test_run_refuses_a_run_beyond_the_descriptor_limit(void) {
  /* One client more than the hard descriptor limit cannot fit one process (each holds a descriptor): refused up
     front with the remedies. An unlimited or huge limit is lowered first (children inherit it) so the count stays
     within what a scenario may ask for (10,000,000). */
  struct rlimit rl;
  CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 1000000) {
    rl.rlim_max = 1000000;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max)
      rl.rlim_cur = rl.rlim_max;
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &rl), 0);
  }
  char count[64];
  snprintf(count, sizeof count, "clients.0.count=%llu", (unsigned long long)rl.rlim_max + 1);
  const char *extra[] = {"--set", count, NULL};
  struct ch_spawn_result r = run_scenario("scenarios/smoke.json", extra, 60);
  CU_ASSERT_EQUAL(r.code, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "ulimit -n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--processes"));
  free(r.out);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-run-test-%d", (int)getpid());
  CU_TestInfo tests[] = {CH_TEST(test_run_smoke_passes_and_writes_reports_without_credentials),
                         CH_TEST(test_run_shipped_scenarios_pass),
                         CH_TEST(test_run_soak_shortened_with_set),
                         CH_TEST(test_run_processes_merge_shards),
                         CH_TEST(test_run_threshold_failure_exits_2),
                         CH_TEST(test_run_invalid_scenario_exits_3_naming_file_and_path),
                         CH_TEST(test_run_unreachable_target_exits_4),
                         CH_TEST(test_run_refuses_a_run_beyond_the_descriptor_limit),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_cli", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", report_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", report_dir);
  return rc;
}
