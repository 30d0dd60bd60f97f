/* `run` fails fast with the cause: a wrong token, a wrong base path, a URL that is not SignalR and a refused port
   each end the run with exit 4 within seconds, the cause in words on the last line and in report.json, and no
   trigger sent (the reference endpoint's /stats counts none). Populations meant to be refused never trigger it.
   And abort_on_fail stops a run early with exit 2. Real binary, loopback only. */
#include <curl/curl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "ch_buf.h"
#include "ch_clock.h"
#include "ch_control.h"
#include "ch_responder.h"
#include "ch_endpoint.h"
#include "ch_spawn.h"
#include "ch_test.h"

#define TOKEN "ff-right-token-123"

static struct ch_server *srv;
static int srv_port, ctl_port;
static char dir[64], scenario[96], report_dir[96];

/* The publishes the endpoint has counted (its control API), -1 when unknown. */
static long publishes(void) {
  struct ch_buf b = CH_BUF_INIT;
  long n = -1;
  const char *p;
  if (ch_control(ctl_port, "/stats", NULL, &b, 2000) == 200 && b.data && (p = strstr(b.data, "\"publishes\":")))
    n = atol(p + 12);
  ch_buf_free(&b);
  return n;
}

/* A scenario whose trigger is the endpoint's /publish over http, so every trigger sent is counted there. extra:
   more populations (JSON, starting with a comma) or "" (then bad_tokens is unused). */
static void write_scenario(const char *extra) {
  FILE *f = fopen(scenario, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fprintf(f,
          "{\"name\":\"failfast\",\"target\":{\"url\":\"http://127.0.0.1:%d/Centro\","
          "\"bad_tokens\":[\"not-a-valid-token\"]},"
          "\"clients\":[{\"name\":\"users\",\"count\":20,\"subscribe\":{\"keys\":[\"1882708\"]}}%s],"
          "\"phases\":[{\"type\":\"connect\",\"timeout\":\"10s\"},{\"type\":\"subscribe\",\"clients\":\"users\"},"
          "{\"type\":\"trigger\",\"duration\":\"2s\"},{\"type\":\"disconnect\"}],"
          "\"trigger\":{\"type\":\"http\",\"rate\":10,\"keys\":[\"1882708\"],\"http\":{\"url\":"
          "\"http://127.0.0.1:%d/publish\",\"body\":{\"hub\":\"ResourceEventHub\",\"key\":\"{{key}}\","
          "\"payload\":{\"N\":\"{{nonce}}\"}}}},\"correlation\":{\"nonce\":\"/N\"}}",
          srv_port, extra, ctl_port);
  fclose(f);
}

struct outcome {
  int code;
  double secs;
  char last[1024];
  char *report; /* report.json (free it) */
  long triggers; /* publishes counted by the endpoint during the run */
};

static struct outcome run(const char *target, const char *token) {
  struct outcome o = {0};
  char *argv[16];
  int n = 0;
  argv[n++] = "centro-harness", argv[n++] = "run", argv[n++] = scenario, argv[n++] = "--report-dir";
  argv[n++] = report_dir, argv[n++] = "--workers", argv[n++] = "2";
  if (target)
    argv[n++] = "--target", argv[n++] = (char *)target;
  if (token)
    argv[n++] = "--token", argv[n++] = (char *)token;
  argv[n] = NULL;
  long before = publishes();
  uint64_t t0 = ch_now_ns();
  struct ch_spawn_result r = ch_spawn(argv, 120);
  o.secs = (double)(ch_now_ns() - t0) / 1e9;
  o.code = r.code;
  ch_last_line(&r, o.last, sizeof o.last);
  o.triggers = publishes() - before;
  char path[160];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  o.report = ch_slurp(path, NULL);
  if (!o.report)
    o.report = calloc(1, 1);
  if (o.code != 4 && o.code != 0)
    fprintf(stderr, "\noutput:\n%s\n", r.out);
  free(r.out);
  return o;
}

/* exit 4 in seconds, the cause on the last line and in the report, no trigger sent. */
static void expect_failfast(const char *target, const char *token, const char *cause) {
  write_scenario("");
  struct outcome o = run(target, token);
  if (!strstr(o.last, cause))
    fprintf(stderr, "\nlast line: %s\nwanted: %s\n", o.last, cause);
  CU_ASSERT_EQUAL(o.code, 4);
  CU_ASSERT_EQUAL(strncmp(o.last, "exit 4: run could not be carried out: ", 38), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.last, cause));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.report, cause)); /* the report is written, with the reason */
  CU_ASSERT_EQUAL(o.triggers, 0);
  CU_ASSERT_TRUE(o.secs < 8.0); /* not the whole timeline (and not the 10 s connect timeout) */
  CU_ASSERT_PTR_NULL(strstr(o.report, TOKEN));
  free(o.report);
}

static void test_wrong_token_fails_fast(void) {
  expect_failfast(NULL, "a-wrong-token", "every negotiate was answered 401: is the token right?");
}

static void test_wrong_base_path_fails_fast(void) {
  char target[96], cause[200];
  snprintf(target, sizeof target, "http://127.0.0.1:%d/Wrong", srv_port);
  snprintf(cause, sizeof cause, "404 at http://127.0.0.1:%d/Wrong/signalr/negotiate: is the base path right?",
           srv_port);
  expect_failfast(target, TOKEN, cause);
}

static void test_url_that_is_not_signalr_fails_fast(void) {
  struct ch_responder page;
  CU_ASSERT_EQUAL_FATAL(ch_responder_start(&page, 200, "text/html", "<html><body>Welcome</body></html>", "/"), 0);
  char target[96], cause[200];
  snprintf(target, sizeof target, "http://127.0.0.1:%d/Centro", page.port);
  snprintf(cause, sizeof cause, "not a SignalR endpoint: http://127.0.0.1:%d/Centro/signalr/negotiate", page.port);
  expect_failfast(target, TOKEN, cause);
  CU_ASSERT_TRUE(atomic_load(&page.hits) >= 1); /* the clients did negotiate there */
  ch_responder_stop(&page);
}

static void test_refused_port_fails_fast(void) {
  struct ch_responder gone; /* a port that was free a moment ago: bind, read it back, close */
  CU_ASSERT_EQUAL_FATAL(ch_responder_start(&gone, 200, "text/plain", "", NULL), 0);
  int port = gone.port;
  ch_responder_stop(&gone);
  char target[96], cause[200];
  snprintf(target, sizeof target, "http://127.0.0.1:%d/Centro", port);
  snprintf(cause, sizeof cause, "connection refused at http://127.0.0.1:%d/Centro/signalr/negotiate", port);
  expect_failfast(target, TOKEN, cause);
}

static void test_populations_meant_to_be_refused_do_not_fail_fast(void) {
  /* valid users connect; the intruders are refused as they should be: the run goes on and triggers */
  write_scenario(",{\"name\":\"intruders\",\"count\":4,\"credentials\":\"bad\",\"subscribe\":{\"keys\":[\"1882708\"]}}");
  struct outcome o = run(NULL, TOKEN);
  CU_ASSERT_EQUAL(o.code, 0);
  CU_ASSERT_TRUE(o.triggers > 0);
  if (o.code)
    fprintf(stderr, "\nlast line: %s\n", o.last);
  free(o.report);
}

static void test_abort_on_fail_stops_the_run_early_with_exit_2(void) {
  /* 30 s of triggers against the embedded endpoint; a latency threshold nobody meets, marked abort_on_fail */
  char *argv[] = {"centro-harness",
                  "run",
                  "scenarios/smoke.json",
                  "--report-dir",
                  report_dir,
                  "--workers",
                  "2",
                  "--set",
                  "phases.2.duration=30s",
                  "--set",
                  "thresholds=[{\"threshold\":\"update_latency.p99 < 1us\",\"abort_on_fail\":true},"
                  "\"connect_errors == 0\"]",
                  NULL};
  uint64_t t0 = ch_now_ns();
  struct ch_spawn_result r = ch_spawn(argv, 120);
  double secs = (double)(ch_now_ns() - t0) / 1e9;
  char last[1024];
  ch_last_line(&r, last, sizeof last);
  CU_ASSERT_EQUAL(r.code, 2);
  CU_ASSERT_EQUAL(strncmp(last, "exit 2: threshold failed (1 of 2): aborted at ", 46), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(last, "\"update_latency.p99 < 1us\" lost"));
  CU_ASSERT_TRUE(secs < 15.0);
  if (r.code != 2 || secs >= 15.0)
    fprintf(stderr, "\n%.1f s, output:\n%s\n", secs, r.out);
  char path[160];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *json = ch_slurp(path, NULL);
  CU_ASSERT_TRUE(json && strstr(json, "aborted at "));
  /* the Updates of the triggers sent were still judged: delivery did not fail for the triggers never sent */
  CU_ASSERT_PTR_NULL(json ? strstr(json, "\"result\":\"fail\"") : "");
  free(json);
  free(r.out);

  /* abort_on_fail on a metric only known when the run is judged is refused */
  char *argv2[] = {"centro-harness", "validate", "scenarios/smoke.json", "--set",
                   "thresholds=[{\"threshold\":\"delivery_ratio >= 0.999\",\"abort_on_fail\":true}]", NULL};
  r = ch_spawn(argv2, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "delivery_ratio is only known once the run is judged"));
  free(r.out);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/ch-failfast-%d", (int)getpid());
  snprintf(scenario, sizeof scenario, "%s/scenario.json", dir);
  snprintf(report_dir, sizeof report_dir, "%s/report", dir);
  if (mkdir(dir, 0755))
    return 1;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (!(srv = ch_endpoint_start(TOKEN)))
    return 1;
  srv_port = ch_server_port(srv);
  ctl_port = ch_server_control_port(srv);
  CU_TestInfo tests[] = {CH_TEST(test_wrong_token_fails_fast),
                         CH_TEST(test_wrong_base_path_fails_fast),
                         CH_TEST(test_url_that_is_not_signalr_fails_fast),
                         CH_TEST(test_refused_port_fails_fast),
                         CH_TEST(test_populations_meant_to_be_refused_do_not_fail_fast),
                         CH_TEST(test_abort_on_fail_stops_the_run_early_with_exit_2),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_failfast", tests);
  ch_server_free(srv);
  curl_global_cleanup();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return rc;
}
