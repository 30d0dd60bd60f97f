/* `centro-harness capacity` as users run it: the steps, the knee and the target's resources reach report.json (and
   survive `centro-harness report`), against the embedded endpoint and against a running reference endpoint. */
#include <stdbool.h>

#include "ch_control.h"
#include "ch_report.h"
#include "ch_runner.h"
#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64];

static struct ch_spawn_result run_capacity(const char *scenario, const char *const extra[]) {
  char *argv[32];
  int n = 0;
  argv[n++] = "centro-harness";
  argv[n++] = "capacity";
  argv[n++] = (char *)scenario;
  argv[n++] = "--report-dir";
  argv[n++] = report_dir;
  argv[n++] = "--workers";
  argv[n++] = "2";
  argv[n++] = "--set";
  argv[n++] = "capacity.step_duration=1s";
  for (int i = 0; extra[i] && n < 30; i++)
    argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  return ch_spawn(argv, 240);
}

/* A capacity search of the scenario text against a running reference endpoint: its URL as the target, its /publish
   as the http trigger's URL. The output is printed when the search did not complete. */
static struct ch_spawn_result run_capacity_against(const struct ch_server *srv, const char *scenario) {
  char path[96], target[96], trigger[128];
  snprintf(path, sizeof path, "%s-scenario.json", report_dir);
  if (ch_write_text(path, scenario))
    return (struct ch_spawn_result){-1, strdup("cannot write the scenario"), 0};
  ch_external_sets(ch_server_port(srv), ch_server_control_port(srv), target, trigger);
  const char *extra[] = {"--set", target, "--set", trigger, NULL};
  struct ch_spawn_result r = run_capacity(path, extra);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out ? r.out : "");
  unlink(path);
  return r;
}

static struct ch_report *read_report(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  struct ch_report *r = NULL;
  struct ch_buf err = CH_BUF_INIT;
  if (ch_report_read_json(path, &r, &err))
    fprintf(stderr, "\n%s\n", err.data ? err.data : "cannot read the report");
  ch_buf_free(&err);
  return r;
}

static void test_capacity_embedded_reports_steps_and_knee(void) {
  /* Steps 250 and 500 hold on the embedded endpoint. */
  const char *ok[] = {"--set", "capacity.max=500", NULL};
  struct ch_spawn_result r = run_capacity("scenarios/capacity-fanout.json", ok);
  char last[256];
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_EQUAL(r.code, 0);
  CH_ASSERT_STR(ch_last_line(&r, last, sizeof last), "exit 0: capacity search completed");
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "knee: not reached; every step up to 500 met the SLOs"));
  free(r.out);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  const struct ch_capacity *c = rep->capacity;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CH_ASSERT_STR(c->vary, "subscribers_per_key");
  CU_ASSERT_EQUAL(c->n_slo, 3);
  CU_ASSERT_EQUAL(c->step_duration_s, 1);
  CU_ASSERT_EQUAL_FATAL(c->n_steps, 2);
  CU_ASSERT_EQUAL(c->last_held, 1);
  CU_ASSERT_EQUAL(c->first_broken, -1);
  for (size_t i = 0; i < 2; i++) {
    const struct ch_capacity_step *st = &c->steps[i];
    CU_ASSERT_EQUAL(st->load, 250.0 * (double)(i + 1));
    CU_ASSERT_EQUAL(st->clients, 250 * (i + 1));
    CU_ASSERT_EQUAL(st->connected, st->load);
    CU_ASSERT_TRUE(st->held);
    CU_ASSERT_TRUE(st->has_latency);
    CU_ASSERT_TRUE(st->p50_ms > 0 && st->p50_ms <= st->p99_ms && st->p99_ms <= st->max_ms);
    CU_ASSERT_TRUE(st->deliveries_per_s > 0);
    CU_ASSERT_EQUAL(st->delivery_ratio, 1);
    CU_ASSERT_EQUAL(st->missing, 0);
    /* the embedded endpoint's /stats, read when it started and when the step's timeline ended */
    CU_ASSERT_TRUE(st->target.known);
    CU_ASSERT_EQUAL(st->target.connections, st->load);
    CU_ASSERT_TRUE(st->target.cpu_s > 0);
    CU_ASSERT_TRUE(st->target.rss_kib > 0);
  }
  CU_ASSERT_EQUAL(ch_report_count_checks(rep, CH_RESULT_PASS), 2); /* CAP-001, CAP-002 */
  ch_report_free(rep);
  /* `centro-harness report` re-renders the HTML from report.json with the capacity charts */
  char json[128], html[128];
  snprintf(json, sizeof json, "%s/report.json", report_dir);
  snprintf(html, sizeof html, "%s/again.html", report_dir);
  char *argv[] = {"centro-harness", "report", json, "--html", html, "--summary", NULL};
  r = ch_spawn(argv, 60);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "capacity: subscribers_per_key"));
  free(r.out);
  char *page = ch_slurp(html, NULL);
  CU_ASSERT_TRUE(page && strstr(page, "id=\"chart-capacity-latency\""));
  CU_ASSERT_TRUE(page && strstr(page, "id=\"chart-capacity-throughput\""));
  CU_ASSERT_TRUE(page && strstr(page, "id=\"capacity-table\""));
  free(page);
}

static void test_capacity_first_step_breaking_is_the_knee(void) {
  const char *impossible[] = {"--set", "capacity.slo=[\"update_latency.p50 < 1ns\"]", NULL};
  struct ch_spawn_result r = run_capacity("scenarios/capacity-fanout.json", impossible);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "knee: not even the first step (250) met the SLOs"));
  free(r.out);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  const struct ch_capacity *c = rep->capacity;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(c->n_steps, 1);
  CU_ASSERT_EQUAL(c->last_held, -1);
  CU_ASSERT_EQUAL(c->first_broken, 0);
  CU_ASSERT_FALSE(c->steps[0].held);
  CH_ASSERT_STR(c->steps[0].broken, "update_latency.p50 < 1ns");
  CU_ASSERT_TRUE(c->steps[0].has_observed && c->steps[0].observed > 1);
  ch_report_free(rep);
}

/* A running reference endpoint as an external target: the http trigger POSTs to its /publish, so the search reads
   its /stats around every step. */
static const char external_scenario[] =
    "{\"name\": \"capacity-external\",\n"
    " \"clients\": [{\"name\": \"subs\", \"count\": 10, \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"1s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 20, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:1/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\"}}},\n"
    " \"correlation\": {\"sequence\": null, \"server_time_us\": \"/HarnessSentUs\"},\n"
    " \"expect\": {\"delivery\": \"any\", \"in_order\": false, \"deadline\": \"3s\"},\n"
    " \"capacity\": {\"vary\": \"subscribers_per_key\", \"start\": 10, \"step\": 10, \"max\": 20,\n"
    "              \"step_duration\": \"1s\",\n"
    "              \"slo\": [\"connect_errors == 0\"]}}\n";

static void test_capacity_external_reference_endpoint_resources(void) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  struct ch_server *srv = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(srv), 0);
  /* /stats gives the resources, beside every field it gave before */
  struct ch_buf stats = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_control(ch_server_control_port(srv), "/stats", NULL, &stats, 5000), 200);
  const char *fields[] = {"\"connections\":{", "\"deliveries\":", "\"last_fanout_us\":", "\"cpu_s\":",
                          "\"process_cpu_s\":", "\"rss_kib\":"};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
    CU_ASSERT_PTR_NOT_NULL(stats.data ? strstr(stats.data, fields[i]) : NULL);
  ch_buf_free(&stats);

  struct ch_spawn_result r = run_capacity_against(srv, external_scenario);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "tgt cpu"));
  free(r.out);
  ch_server_free(srv);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  const struct ch_capacity *c = rep->capacity;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(c->n_steps, 2);
  for (size_t i = 0; i < 2; i++) {
    const struct ch_capacity_target *t = &c->steps[i].target;
    CU_ASSERT_TRUE(t->known);
    CU_ASSERT_EQUAL(t->connections, c->steps[i].load); /* every client connected once during its step */
    CU_ASSERT_TRUE(t->deliveries > 0);
    CU_ASSERT_TRUE(t->cpu_s >= 0 && t->cpu_s < c->steps[i].duration_s);
    CU_ASSERT_TRUE(t->rss_kib > 0);
    CU_ASSERT_EQUAL(t->processes, 1);
  }
  ch_report_free(rep);
}

/* Session populations (issue #18 item 4): the search steps a population's arrival rate (the stages give way to a
   constant rate) or, in the closed model, its count of open sessions; every step is a row of the report's table. */
/* Every step runs in the search's own process: --processes (or a scenario's "processes") is refused, not
   ignored, and the error says how to get more processes (mpirun ... --mpi). */
static void test_capacity_refuses_processes(void) {
  const char *procs[] = {"--processes", "2", NULL};
  struct ch_spawn_result r = run_capacity("scenarios/capacity-fanout.json", procs);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_TRUE(r.out && strstr(r.out, "found --processes 2"));
  CU_ASSERT_TRUE(r.out && strstr(r.out, "mpirun -np 2 centro-harness capacity"));
  free(r.out);
  const char *field[] = {"--set", "processes=3", NULL};
  r = run_capacity("scenarios/capacity-fanout.json", field);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_TRUE(r.out && strstr(r.out, "found \"processes\": 3"));
  free(r.out);
}

static void test_capacity_steps_session_knobs(void) {
  const char *arrival[] = {"--set",
                           "capacity={\"vary\":\"arrival_rate\",\"clients\":\"parts\",\"start\":5,\"step\":10,"
                           "\"max\":15,\"step_duration\":\"2s\",\"slo\":[\"delivery_ratio == 1\","
                           "\"updates_unexpected == 0\"]}",
                           NULL};
  struct ch_spawn_result r = run_capacity("scenarios/sessions.json", arrival);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "step 2/2 (arrival_rate 15)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "knee: not reached; every step up to 15 met the SLOs"));
  free(r.out);
  struct ch_report *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  const struct ch_capacity *c = rep->capacity;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CH_ASSERT_STR(c->vary, "arrival_rate");
  CU_ASSERT_EQUAL_FATAL(c->n_steps, 2);
  CU_ASSERT_TRUE(c->steps[0].held && c->steps[1].held);
  /* 2 s of arrivals at 5/s then 15/s (plus the jobs' 8/s): the second step had more connections */
  CU_ASSERT_TRUE(c->steps[1].target.connections > c->steps[0].target.connections + 10);
  CU_ASSERT_TRUE(c->steps[0].deliveries_per_s > 0 && c->steps[0].delivery_ratio == 1);
  ch_report_free(rep);

  const char *closed[] = {"--set",
                          "capacity={\"vary\":\"concurrent_sessions\",\"start\":10,\"step\":20,\"max\":30,"
                          "\"step_duration\":\"2s\",\"slo\":[\"delivery_ratio == 1\"]}",
                          NULL};
  r = run_capacity("scenarios/sessions-ramp.json", closed);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_EQUAL(r.code, 0);
  free(r.out);
  rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  c = rep->capacity;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CH_ASSERT_STR(c->vary, "concurrent_sessions");
  CU_ASSERT_EQUAL_FATAL(c->n_steps, 2);
  CU_ASSERT_EQUAL(c->steps[0].clients, 10); /* the slots follow the step */
  CU_ASSERT_EQUAL(c->steps[1].clients, 30);
  CU_ASSERT_TRUE(c->steps[0].held && c->steps[1].held);
  ch_report_free(rep);
}

/* A server that ignores Unsubscribe (serve --fault ignore-unsubscribe) holds while sessions do not churn (0.1 churns
   per second: none within a 2 s step) and breaks once they do: the search finds the knee on churn_rate. */
static const char churn_scenario[] =
    "{\"name\": \"capacity-churn\",\n"
    " \"clients\": [{\"name\": \"web\", \"hub\": \"ResourceEventHub\", \"transport\": \"webSockets\",\n"
    "   \"subscribe\": {\"key_count\": 6, \"prefix\": \"C-\", \"generator\": \"uniform\", \"per_client\": 2},\n"
    "   \"sessions\": {\"rate\": 20, \"lifetime\": \"5s\", \"max_concurrent\": 30,\n"
    "                \"churn\": {\"every\": \"10s\", \"think\": \"50ms\"}}}],\n"
    " \"phases\": [{\"type\": \"steady\", \"duration\": \"2s\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 100, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:1/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\",\n"
    "                               \"payload\": {\"Note\": \"{{nonce}}\"}}}},\n"
    " \"correlation\": {\"nonce\": \"/Note\"},\n"
    " \"expect\": {\"deadline\": \"2s\", \"unsubscribe_grace\": \"300ms\"},\n"
    " \"capacity\": {\"vary\": \"churn_rate\", \"start\": 0.1, \"step\": 4, \"max\": 8.1, \"step_duration\": \"2s\",\n"
    "              \"slo\": [\"updates_unexpected == 0\", \"delivery_ratio == 1\"]}}\n";

static void test_capacity_churn_rate_knee_with_a_fault(void) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  so.faults = 1u << CH_FAULT_IGNORE_UNSUBSCRIBE;
  struct ch_server *srv = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(srv), 0);
  struct ch_spawn_result r = run_capacity_against(srv, churn_scenario);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "knee: last step that held 0.1, first that broke 4.1 (updates_unexpected == 0)"));
  free(r.out);
  ch_server_free(srv);
  struct ch_report *rep = read_report();
  const struct ch_capacity *c = rep ? rep->capacity : NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CH_ASSERT_STR(c->vary, "churn_rate");
  CU_ASSERT_EQUAL_FATAL(c->n_steps, 2); /* the search stops at the first step that broke */
  CU_ASSERT_EQUAL(c->last_held, 0);
  CU_ASSERT_EQUAL(c->first_broken, 1);
  CU_ASSERT_TRUE(c->steps[1].has_observed && c->steps[1].observed > 0);
  ch_report_free(rep);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-capacity-test-%d", (int)getpid());
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CU_TestInfo tests[] = {CH_TEST(test_capacity_embedded_reports_steps_and_knee),
                         CH_TEST(test_capacity_first_step_breaking_is_the_knee),
                         CH_TEST(test_capacity_external_reference_endpoint_resources),
                         CH_TEST(test_capacity_steps_session_knobs), CH_TEST(test_capacity_churn_rate_knee_with_a_fault),
                         CH_TEST(test_capacity_refuses_processes),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("capacity", tests);
  curl_global_cleanup();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", report_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", report_dir);
  return rc;
}
