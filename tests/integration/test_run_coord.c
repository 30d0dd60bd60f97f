/* One timeline over shards (issue #17, `run --processes N`), the real binary against a separate reference endpoint
   through http triggers: the coordinator sends each trigger once (the endpoint's publish count and the report's
   trigger count equal the plan) and every shard judges its own subscribers against the coordinator's plan, so two
   processes give the verdicts and delivery counts of one; a shard killed mid-run ends the run with a report and an
   exit line naming it. Every wait is for a condition with a deadline. */
#include <cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "ch_control.h"
#include "ch_endpoint.h"
#include "ch_report.h"
#include "ch_run_summary.h"
#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64], scenario_path[96];

static void clean_reports(void) { ch_remove_tree(report_dir); }

/* argv of `run SCENARIO --target <srv> --report-dir ... --workers 1 --processes N [extra]`. */
static void run_argv(const struct ch_server *srv, const char *scenario, const char *procs, const char *const extra[],
                     char *argv[32], char target[96]) {
  snprintf(target, 96, "http://127.0.0.1:%d", ch_server_port(srv));
  int n = 0;
  argv[n++] = "centro-harness", argv[n++] = "run", argv[n++] = (char *)scenario;
  argv[n++] = "--target", argv[n++] = target, argv[n++] = "--report-dir", argv[n++] = report_dir;
  argv[n++] = "--workers", argv[n++] = "1", argv[n++] = "--processes", argv[n++] = (char *)procs;
  for (int i = 0; extra && extra[i] && n < 30; i++)
    argv[n++] = (char *)extra[i];
  argv[n] = NULL;
}

/* scenarios/two-hubs.json (two http triggers, one per hub, nonces) against a fresh endpoint with N processes. */
static int two_hubs(const char *procs, struct ch_run_summary *s, long *publishes) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char control[64], target[96], *argv[32];
  snprintf(control, sizeof control, "127.0.0.1:%d", ch_server_control_port(srv));
  setenv("CENTRO_CONTROL", control, 1);
  run_argv(srv, "scenarios/two-hubs.json", procs, NULL, argv, target);
  struct ch_spawn_result r = ch_spawn(argv, 120);
  if (r.code != 0)
    fprintf(stderr, "\n--processes %s: exit %d\n%s\n", procs, r.code, r.out);
  free(r.out);
  *publishes = ch_control_stat(ch_server_control_port(srv), "\"publishes\":");
  ch_run_summarize(report_dir, s);
  if (!strcmp(procs, "2")) { /* the coordinator's own line: what it sent and its CPU per trigger */
    char path[128];
    snprintf(path, sizeof path, "%s/report.json", report_dir);
    char *body = ch_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL(body ? strstr(body, "coordinator: 56 triggers sent once for 2 shards, ") : NULL);
    free(body);
  }
  ch_server_free(srv);
  unsetenv("CENTRO_CONTROL");
  return r.code;
}

/* Two processes against an external target: each trigger sent once (40 + 16, not twice that), nothing fails to
   decode, and the verdicts, per-trigger lines and counters are those of one process. */
static void test_two_hubs_two_processes_like_one(void) {
  struct ch_run_summary one, two;
  long pub1 = 0, pub2 = 0;
  CU_ASSERT_EQUAL(two_hubs("1", &one, &pub1), 0);
  CU_ASSERT_EQUAL(two_hubs("2", &two, &pub2), 0);
  CU_ASSERT_EQUAL(pub1, 56);
  CU_ASSERT_EQUAL(pub2, 56);
  CU_ASSERT_EQUAL(two.sent[0], 40);
  CU_ASSERT_EQUAL(two.sent[1], 16);
  CU_ASSERT_EQUAL(two.counters[5], 56);
  CU_ASSERT_PTR_NULL(strstr(two.checks, "fail"));
  CU_ASSERT_STRING_EQUAL(one.checks, two.checks);
  if (strcmp(one.checks, two.checks))
    fprintf(stderr, "\none process:  %s\ntwo processes: %s\n", one.checks, two.checks);
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_EQUAL(one.sent[i], two.sent[i]);
    CU_ASSERT_EQUAL(one.expected[i], two.expected[i]);
    CU_ASSERT_EQUAL(one.missing[i], two.missing[i]);
  }
  CU_ASSERT_EQUAL(two.expected[0], 200); /* 4 keys x 5 subscribers, 10 triggers each */
  CU_ASSERT_EQUAL(two.expected[1], 80);
  for (int k = 0; k < CH_RUN_SUMMARY_COUNTERS; k++) {
    CU_ASSERT_EQUAL(one.counters[k], two.counters[k]);
    if (one.counters[k] != two.counters[k])
      fprintf(stderr, "\n%s: %g with one process, %g with two\n", ch_run_summary_counters[k], one.counters[k],
              two.counters[k]);
  }
}

/* The other phases whose triggers the coordinator plans: a silence phase after an unsubscribe
   (scenarios/conformance.json) and a drop phase with its replay (scenarios/reconnect.json), with the trigger aimed
   at the endpoint's /publish and nonces. Each trigger once; every check passes as with one process. */
static void run_external(const char *scenario, long want_publishes) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char url[128], target[96], *argv[32];
  snprintf(url, sizeof url, "trigger.http.url=http://127.0.0.1:%d/publish", ch_server_control_port(srv));
  const char *extra[] = {"--set", "trigger.type=http", "--set", url, "--set",
                         "trigger.http.body={\"hub\":\"{{hub}}\",\"key\":\"{{key}}\",\"payload\":{\"Note\":\"{{nonce}}\"}}",
                         "--set", "correlation.nonce=/Note", NULL};
  run_argv(srv, scenario, "2", extra, argv, target);
  struct ch_spawn_result r = ch_spawn(argv, 120);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s: exit %d\n%s\n", scenario, r.code, r.out);
  free(r.out);
  CU_ASSERT_EQUAL(ch_control_stat(ch_server_control_port(srv), "\"publishes\":"), want_publishes);
  struct ch_run_summary s;
  ch_run_summarize(report_dir, &s);
  CU_ASSERT_EQUAL(s.counters[5], want_publishes);
  CU_ASSERT_EQUAL(s.counters[2], 0); /* nothing missing */
  CU_ASSERT_TRUE(s.counters[0] > 0);
  ch_server_free(srv);
}

static void test_silence_and_drop_phases_two_processes(void) {
  run_external("scenarios/conformance.json", 80); /* 60 in the trigger phase, 20 while silence is verified */
  run_external("scenarios/reconnect.json", 68);   /* 20 + 8 keys while half are away + 40 after */
}

/* Writes the long scenario (20 subscribers of K1, two minutes of triggers: the tests stop it first) aimed at srv and
   fills argv for it with two processes. */
static void long_run_argv(const struct ch_server *srv, const char *const extra[], char *argv[32], char target[96]) {
  char text[2048];
  snprintf(text, sizeof text, ch_run_long_scenario, "coord-kill", 20, ch_server_control_port(srv));
  CU_ASSERT_EQUAL_FATAL(ch_write_text(scenario_path, text), 0);
  run_argv(srv, scenario_path, "2", extra, argv, target);
}

static void test_a_killed_shard_ends_the_run_with_a_report(void) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char target[96], *argv[32];
  long_run_argv(srv, NULL, argv, target);
  struct ch_spawn_bg bg;
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(argv, &bg), 0);
  struct ch_control_stat_min pub = {ch_server_control_port(srv), "\"publishes\":", 10}; /* the trigger phase runs */
  CU_ASSERT_TRUE(ch_wait_until(ch_control_stat_reached, &pub, 30000));
  pid_t shards[4];
  CU_ASSERT_EQUAL_FATAL(ch_children_of(bg.pid, shards, 4), 2);
  kill(shards[1], SIGKILL);
  int ms = 0;
  struct ch_spawn_result r = ch_spawn_finish(&bg, 30000, &ms);
  if (r.code != 4)
    fprintf(stderr, "\nexit %d after %d ms; output:\n%s\n", r.code, ms, r.out);
  CU_ASSERT_EQUAL(r.code, 4);
  CU_ASSERT_TRUE(ms < 15000); /* not the two minutes planned */
  long sent = ch_control_stat(ch_server_control_port(srv), "\"publishes\":");
  CU_ASSERT_TRUE(sent > 0 && sent < 2400); /* the coordinator stopped sending */
  char last[512], want[96];
  ch_last_line(&r, last, sizeof last);
  snprintf(want, sizeof want, "shard 2 of 2 (pid %d) was killed by SIGKILL during phase 3 of 4", (int)shards[1]);
  CU_ASSERT_PTR_NOT_NULL(strstr(last, "exit 4: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(last, want));
  if (!strstr(last, want))
    fprintf(stderr, "\nlast line: %s\nwanted: %s\n", last, want);
  free(r.out);
  /* the report holds what the surviving shard measured, and says why the run ended */
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  struct ch_report *rep = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_report_read_json(path, &rep, &err), 0);
  ch_buf_free(&err);
  CU_ASSERT_EQUAL(rep->exit_code, 4);
  CU_ASSERT_FALSE(rep->partial);
  double connected = 0;
  CU_ASSERT_EQUAL(ch_metrics_lookup(rep->metrics, "clients_connected", &connected), 0);
  CU_ASSERT_EQUAL(connected, 10);
  bool noted = false;
  for (size_t i = 0; i < rep->n_notes; i++)
    noted |= strstr(rep->notes[i], want) != NULL;
  CU_ASSERT_TRUE(noted);
  ch_report_free(rep);
  unlink(scenario_path);
  ch_server_free(srv);
}

/* abort_on_fail in one shard stops the whole run: the coordinator sends no further trigger and starts only the
   disconnect; exit 2 with the threshold on the last line, long before the two minutes planned. */
static void test_abort_on_fail_in_a_shard_stops_every_shard(void) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char target[96], *argv[32];
  const char *extra[] = {"--set", "thresholds=[{\"threshold\":\"update_latency.p99 < 1us\",\"abort_on_fail\":true}]",
                         NULL};
  long_run_argv(srv, extra, argv, target);
  uint64_t t0 = ch_spawn_ms();
  struct ch_spawn_result r = ch_spawn(argv, 120);
  uint64_t ms = ch_spawn_ms() - t0;
  char last[1024];
  ch_last_line(&r, last, sizeof last);
  CU_ASSERT_EQUAL(r.code, 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(last, "exit 2: threshold failed (1 of 1): aborted at "));
  CU_ASSERT_PTR_NOT_NULL(strstr(last, "\"update_latency.p99 < 1us\" lost"));
  CU_ASSERT_TRUE(ms < 20000);
  if (r.code != 2 || ms >= 20000)
    fprintf(stderr, "\n%llu ms, output:\n%s\n", (unsigned long long)ms, r.out);
  long sent = ch_control_stat(ch_server_control_port(srv), "\"publishes\":");
  CU_ASSERT_TRUE(sent > 0 && sent < 400); /* 20 a second: stopped within seconds, not after 2,400 */
  CU_ASSERT_EQUAL(ch_control_stat(ch_server_control_port(srv), "\"live\":"), 0); /* every shard ran the disconnect */
  free(r.out);
  unlink(scenario_path);
  ch_server_free(srv);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-run-coord-%d", (int)getpid());
  snprintf(scenario_path, sizeof scenario_path, "/tmp/ch-run-coord-%d.json", (int)getpid());
  CU_TestInfo tests[] = {CH_TEST(test_two_hubs_two_processes_like_one),
                         CH_TEST(test_silence_and_drop_phases_two_processes),
                         CH_TEST(test_a_killed_shard_ends_the_run_with_a_report),
                         CH_TEST(test_abort_on_fail_in_a_shard_stops_every_shard), CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_coord", tests);
  clean_reports();
  return rc;
}
