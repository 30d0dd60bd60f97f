/* Ctrl-C and SIGTERM in the field (issue #11): `run`, `check` and `capacity` interrupted in the middle end with
   130/143, keep report.json/junit.xml/report.html marked interrupted, and close their clients with /abort (the
   reference endpoint forgets them at once); a second signal stops at once; `kill -9` after a checkpoint leaves a
   readable partial report.json. Every wait is for a condition with a deadline. */
#include <stdbool.h>
#include <sys/stat.h>

#include "ch_control.h"
#include "ch_endpoint.h"
#include "ch_report.h"
#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64], scenario_path[96];

/* 20 subscribers of K1, then triggers for two minutes (the tests interrupt it) through the endpoint's /publish. */
static const char scenario_fmt[] =
    "{\"name\": \"interrupt\",\n"
    " \"clients\": [{\"name\": \"subs\", \"count\": 20, \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"120s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 20, \"keys\": %s,\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:%d/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\"}}},\n"
    " \"correlation\": {\"sequence\": null, \"server_time_us\": \"/HarnessSentUs\"},\n"
    " \"expect\": {\"delivery\": \"any\", \"in_order\": false, \"deadline\": \"%s\"}}\n";

/* keys: the trigger's "keys" value; deadline: how long Updates already due are waited for. */
static void write_scenario(const struct ch_server *srv, const char *keys, const char *deadline) {
  FILE *f = fopen(scenario_path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fprintf(f, scenario_fmt, keys, ch_server_control_port(srv), deadline);
  fclose(f);
}

static void start_run(const struct ch_server *srv, const char *const extra[], struct ch_spawn_bg *bg) {
  char target[96];
  snprintf(target, sizeof target, "http://127.0.0.1:%d", ch_server_port(srv));
  char *argv[32];
  int n = 0;
  argv[n++] = "centro-harness";
  argv[n++] = "run";
  argv[n++] = scenario_path;
  argv[n++] = "--target";
  argv[n++] = target;
  argv[n++] = "--report-dir";
  argv[n++] = report_dir;
  argv[n++] = "--workers";
  argv[n++] = "2";
  for (int i = 0; extra && extra[i] && n < 30; i++)
    argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(argv, bg), 0);
}

static struct ch_report *read_report(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  struct ch_report *rep = NULL;
  struct ch_buf err = CH_BUF_INIT;
  if (ch_report_read_json(path, &rep, &err))
    fprintf(stderr, "\nreport.json: %s\n", err.data ? err.data : "cannot be read");
  ch_buf_free(&err);
  return rep;
}

static bool file_exists(const char *name) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", report_dir, name);
  struct stat st;
  return stat(path, &st) == 0 && st.st_size > 0;
}

static void clean_reports(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", report_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", report_dir);
}

/* The first signal in the trigger phase: exit 130/143 after waiting for the Updates already due, every client
   aborted, the three report files written and marked interrupted in the trigger phase. */
static void interrupt_mid_run(int sig, int want_code, const char *want_name) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  write_scenario(srv, "\"subscribed\"", "3s");
  struct ch_spawn_bg bg;
  start_run(srv, NULL, &bg);
  /* triggers are flowing: the run is in its trigger phase with 20 clients connected */
  struct ch_control_stat_min pub = {ch_server_control_port(srv), "\"publishes\":", 10};
  CU_ASSERT_TRUE(ch_wait_until(ch_control_stat_reached, &pub, 30000));
  CU_ASSERT_EQUAL(ch_control_stat(ch_server_control_port(srv), "\"live\":"), 20);
  kill(bg.pid, sig);
  int ms = 0;
  struct ch_spawn_result r = ch_spawn_finish(&bg, 30000, &ms);
  if (r.code != want_code)
    fprintf(stderr, "\nexit %d after %d ms, wanted %d; output:\n%s\n", r.code, ms, want_code, r.out);
  CU_ASSERT_EQUAL(r.code, want_code);
  CU_ASSERT_TRUE(ms < 15000); /* the 3 s deadline, the aborts and the report: not the two minutes planned */
  char last[256];
  ch_last_line(&r, last, sizeof last);
  char want_last[64];
  snprintf(want_last, sizeof want_last, "exit %d: interrupted by %s during phase 3 of 4", want_code, want_name);
  CU_ASSERT_EQUAL(strncmp(last, want_last, strlen(want_last)), 0);
  /* the clients said goodbye: the endpoint forgot every connection (a client that just vanishes stays known
     until DisconnectTimeout) */
  CU_ASSERT_EQUAL(ch_control_stat(ch_server_control_port(srv), "\"known\":"), 0);
  CU_ASSERT_EQUAL(ch_control_stat(ch_server_control_port(srv), "\"live\":"), 0);
  CU_ASSERT_TRUE(file_exists("junit.xml"));
  CU_ASSERT_TRUE(file_exists("report.html"));
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CH_ASSERT_STR(rep->interrupted.signal, want_name);
  CU_ASSERT_PTR_NOT_NULL(rep->interrupted.phase ? strstr(rep->interrupted.phase, "phase 3 of 4 (trigger)") : NULL);
  CU_ASSERT_FALSE(rep->interrupted.second_signal);
  CU_ASSERT_FALSE(rep->partial);
  CU_ASSERT_EQUAL(rep->exit_code, want_code);
  CU_ASSERT_TRUE(rep->interrupted.at_wall_ns >= rep->start_wall_ns && rep->interrupted.at_wall_ns <= rep->end_wall_ns);
  /* what was measured is judged; nothing is reported passed on evidence the interruption cut short */
  size_t passed = 0;
  for (size_t i = 0; i < rep->n_checks; i++) {
    const struct ch_check *c = &rep->checks[i];
    if (!strcmp(c->id, "RUN-CONNECT") || !strcmp(c->id, "RUN-SUBSCRIBE"))
      passed += c->result == CH_RESULT_PASS;
  }
  CU_ASSERT_EQUAL(passed, 2);
  double connected = 0;
  CU_ASSERT_EQUAL(ch_metrics_lookup(rep->metrics, "clients_connected", &connected), 0);
  CU_ASSERT_EQUAL(connected, 20);
  ch_report_free(rep);
  char path[128];
  snprintf(path, sizeof path, "%s/report.html", report_dir);
  char *html = ch_slurp(path, NULL);
  CU_ASSERT_TRUE(html && strstr(html, "INTERRUPTED") && strstr(html, want_name));
  free(html);
  free(r.out);
  ch_server_free(srv);
}

static void test_sigint_mid_run_exits_130_with_the_report(void) { interrupt_mid_run(SIGINT, 130, "SIGINT"); }
static void test_sigterm_mid_run_exits_143_with_the_report(void) { interrupt_mid_run(SIGTERM, 143, "SIGTERM"); }

/* Graceful, the run would wait 60 s for Updates of a key nobody subscribes to; a second signal ends that at once. */
static void test_second_signal_stops_at_once_and_still_reports(void) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  write_scenario(srv, "[\"NOBODY\"]", "60s");
  struct ch_spawn_bg bg;
  start_run(srv, NULL, &bg);
  struct ch_control_stat_min pub = {ch_server_control_port(srv), "\"publishes\":", 5};
  CU_ASSERT_TRUE(ch_wait_until(ch_control_stat_reached, &pub, 30000));
  kill(bg.pid, SIGINT);
  CU_ASSERT_TRUE(ch_spawn_wait_output(&bg, "a second signal stops at once", 10000));
  CU_ASSERT_EQUAL(waitpid(bg.pid, NULL, WNOHANG), 0); /* still waiting for the Updates already due */
  kill(bg.pid, SIGINT);
  int ms = 0;
  struct ch_spawn_result r = ch_spawn_finish(&bg, 30000, &ms);
  if (r.code != 130 || ms > 2000)
    fprintf(stderr, "\nexit %d %d ms after the second signal; output:\n%s\n", r.code, ms, r.out);
  CU_ASSERT_EQUAL(r.code, 130);
  CU_ASSERT_TRUE(ms <= 2000);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CH_ASSERT_STR(rep->interrupted.signal, "SIGINT");
  CU_ASSERT_TRUE(rep->interrupted.second_signal);
  size_t incomplete = 0;
  for (size_t i = 0; i < rep->n_checks; i++) {
    CU_ASSERT_NOT_EQUAL(strcmp(rep->checks[i].id, "RUN-DELIVERY") == 0 && rep->checks[i].result == CH_RESULT_PASS, 1);
    incomplete += rep->checks[i].result == CH_RESULT_INCOMPLETE;
  }
  CU_ASSERT_TRUE(incomplete > 0);
  ch_report_free(rep);
  CU_ASSERT_TRUE(file_exists("junit.xml"));
  CU_ASSERT_TRUE(file_exists("report.html"));
  free(r.out);
  ch_server_free(srv);
}

/* A checkpoint that holds the connected clients. */
static bool checkpoint_with_clients(void *arg) {
  (void)arg;
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  struct ch_report *rep = NULL;
  if (ch_report_read_json(path, &rep, NULL))
    return false;
  double connected = 0;
  bool ok = rep->partial && ch_metrics_lookup(rep->metrics, "clients_connected", &connected) == 0 && connected >= 20;
  ch_report_free(rep);
  return ok;
}

static void test_kill_9_after_a_checkpoint_leaves_a_partial_report(void) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  write_scenario(srv, "\"subscribed\"", "3s");
  struct ch_spawn_bg bg;
  const char *extra[] = {"--checkpoint-every", "1", NULL};
  start_run(srv, extra, &bg);
  CU_ASSERT_TRUE(ch_wait_until(checkpoint_with_clients, NULL, 30000));
  kill(bg.pid, SIGKILL);
  struct ch_spawn_result r = ch_spawn_finish(&bg, 10000, NULL);
  free(r.out);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CU_ASSERT_TRUE(rep->partial);
  CU_ASSERT_PTR_NULL(rep->interrupted.signal);
  CU_ASSERT_TRUE(rep->end_wall_ns > rep->start_wall_ns);
  ch_report_free(rep);
  /* `report` renders it and says it is partial */
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *argv[] = {"centro-harness", "report", path, NULL};
  r = ch_spawn(argv, 60);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "PARTIAL REPORT"));
  free(r.out);
  CU_ASSERT_TRUE(file_exists("report.html"));
  snprintf(path, sizeof path, "%s/report.html", report_dir);
  char *html = ch_slurp(path, NULL);
  CU_ASSERT_TRUE(html && strstr(html, "Partial report"));
  free(html);
  ch_server_free(srv);
}

static void test_sigint_in_check_exits_130_with_the_report(void) {
  clean_reports();
  char *argv[] = {"centro-harness", "check", "-v", "--report-dir", report_dir, NULL};
  struct ch_spawn_bg bg;
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(argv, &bg), 0);
  CU_ASSERT_TRUE(ch_spawn_wait_output(&bg, "check: ", 30000)); /* the first result */
  kill(bg.pid, SIGINT);
  struct ch_spawn_result r = ch_spawn_finish(&bg, 60000, NULL);
  char last[256];
  ch_last_line(&r, last, sizeof last);
  if (r.code != 130)
    fprintf(stderr, "\nexit %d; output:\n%s\n", r.code, r.out);
  CU_ASSERT_EQUAL(r.code, 130);
  CU_ASSERT_EQUAL(strncmp(last, "exit 130: interrupted by SIGINT during ", 39), 0);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CH_ASSERT_STR(rep->interrupted.signal, "SIGINT");
  CU_ASSERT_TRUE(ch_report_count_checks(rep, CH_RESULT_PASS) >= 1);       /* what ran is judged */
  CU_ASSERT_TRUE(ch_report_count_checks(rep, CH_RESULT_INCOMPLETE) >= 1); /* what did not is said so */
  ch_report_free(rep);
  CU_ASSERT_TRUE(file_exists("junit.xml"));
  CU_ASSERT_TRUE(file_exists("report.html"));
  free(r.out);
}

static const char capacity_scenario[] =
    "{\"name\": \"interrupt-capacity\",\n"
    " \"clients\": [{\"name\": \"subs\", \"count\": 10, \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"60s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"reference\", \"rate\": 20},\n"
    " \"capacity\": {\"vary\": \"subscribers_per_key\", \"start\": 10, \"step\": 10, \"max\": 30,\n"
    "              \"step_duration\": \"60s\", \"slo\": [\"connect_errors == 0\"]}}\n";

static void test_sigint_in_capacity_exits_130_with_the_report(void) {
  clean_reports();
  FILE *f = fopen(scenario_path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(capacity_scenario, f);
  fclose(f);
  char *argv[] = {"centro-harness", "capacity", scenario_path, "--report-dir", report_dir, "--workers", "2", NULL};
  struct ch_spawn_bg bg;
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(argv, &bg), 0);
  CU_ASSERT_TRUE(ch_spawn_wait_output(&bg, "capacity search:", 30000));
  kill(bg.pid, SIGINT);
  int ms = 0;
  struct ch_spawn_result r = ch_spawn_finish(&bg, 60000, &ms);
  char last[256];
  ch_last_line(&r, last, sizeof last);
  if (r.code != 130)
    fprintf(stderr, "\nexit %d; output:\n%s\n", r.code, r.out);
  CU_ASSERT_EQUAL(r.code, 130);
  CU_ASSERT_TRUE(ms < 30000); /* not the 60 s step */
  CU_ASSERT_EQUAL(strncmp(last, "exit 130: interrupted by SIGINT during ", 39), 0);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CH_ASSERT_STR(rep->interrupted.signal, "SIGINT");
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep->capacity);
  CU_ASSERT_EQUAL(rep->capacity->n_steps, 0); /* the interrupted step is not judged */
  CU_ASSERT_EQUAL(ch_report_count_checks(rep, CH_RESULT_INCOMPLETE), 1);
  CU_ASSERT_EQUAL(ch_report_count_checks(rep, CH_RESULT_PASS), 0);
  ch_report_free(rep);
  CU_ASSERT_TRUE(file_exists("junit.xml"));
  CU_ASSERT_TRUE(file_exists("report.html"));
  free(r.out);
}

/* --processes: the parent passes the signal on, each shard writes its report, the parent merges them. */
static bool shards_checkpointed(void *arg) {
  (void)arg;
  char path[128];
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/shard-%d/report.json", report_dir, k);
    struct stat st;
    if (stat(path, &st) != 0)
      return false;
  }
  return true;
}

static void test_sigterm_to_a_sharded_run_reaches_every_shard(void) {
  clean_reports();
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  write_scenario(srv, "\"subscribed\"", "3s");
  struct ch_spawn_bg bg;
  const char *extra[] = {"--processes", "2", "--checkpoint-every", "0.5", NULL};
  start_run(srv, extra, &bg);
  CU_ASSERT_TRUE(ch_wait_until(shards_checkpointed, NULL, 30000)); /* both shards run (and catch signals) */
  struct ch_control_stat_min pub = {ch_server_control_port(srv), "\"publishes\":", 10};
  CU_ASSERT_TRUE(ch_wait_until(ch_control_stat_reached, &pub, 30000));
  kill(bg.pid, SIGTERM);
  int ms = 0;
  struct ch_spawn_result r = ch_spawn_finish(&bg, 30000, &ms);
  if (r.code != 143)
    fprintf(stderr, "\nexit %d after %d ms; output:\n%s\n", r.code, ms, r.out);
  CU_ASSERT_EQUAL(r.code, 143);
  CU_ASSERT_TRUE(ms < 15000);
  CU_ASSERT_EQUAL(ch_control_stat(ch_server_control_port(srv), "\"known\":"), 0); /* both shards aborted their clients */
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CH_ASSERT_STR(rep->interrupted.signal, "SIGTERM");
  CU_ASSERT_EQUAL(rep->shards, 2);
  CU_ASSERT_FALSE(rep->partial); /* each shard wrote its final report over its checkpoints */
  double connected = 0;
  CU_ASSERT_EQUAL(ch_metrics_lookup(rep->metrics, "clients_connected", &connected), 0);
  CU_ASSERT_EQUAL(connected, 20);
  ch_report_free(rep);
  free(r.out);
  ch_server_free(srv);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-interrupt-test-%d", (int)getpid());
  snprintf(scenario_path, sizeof scenario_path, "/tmp/ch-interrupt-test-%d.json", (int)getpid());
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CU_TestInfo tests[] = {CH_TEST(test_sigint_mid_run_exits_130_with_the_report),
                         CH_TEST(test_sigterm_mid_run_exits_143_with_the_report),
                         CH_TEST(test_second_signal_stops_at_once_and_still_reports),
                         CH_TEST(test_kill_9_after_a_checkpoint_leaves_a_partial_report),
                         CH_TEST(test_sigint_in_check_exits_130_with_the_report),
                         CH_TEST(test_sigint_in_capacity_exits_130_with_the_report),
                         CH_TEST(test_sigterm_to_a_sharded_run_reaches_every_shard),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("interrupt", tests);
  curl_global_cleanup();
  clean_reports();
  unlink(scenario_path);
  return rc;
}
