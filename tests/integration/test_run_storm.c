/* The reconnect storm (issue #18 part 3): a "drop" phase makes the reference endpoint drop every connection; the
   clients come back as their client_model says and report.json, the summary and report.html show the recovery.
   A server that forgets groups or does not replay across the reconnect fails it. */
#include <cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64];

static cJSON *read_report(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *body = ch_slurp(path, NULL);
  cJSON *j = body ? cJSON_Parse(body) : NULL;
  free(body);
  return j;
}

static const char *check_result(const cJSON *j, const char *id) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "checks")) {
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "id"), *r = cJSON_GetObjectItemCaseSensitive(c, "result");
    if (cJSON_IsString(i) && !strcmp(i->valuestring, id) && cJSON_IsString(r))
      return r->valuestring;
  }
  return "";
}

static double num_at(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b)
    v = cJSON_GetObjectItemCaseSensitive(v, b);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void test_storm_recovers_with_figures(void) {
  struct ch_spawn_result r = ch_spawn_run("scenarios/reconnect-storm.json", report_dir, NULL, 120);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "recovery from the drop: 300 clients"));
  free(r.out);
  cJSON *j = read_report();
  const cJSON *rv = cJSON_GetObjectItemCaseSensitive(j, "recovery");
  CU_ASSERT_PTR_NOT_NULL_FATAL(rv);
  CU_ASSERT_STRING_EQUAL(check_result(j, "RUN-RECOVERY"), "pass");
  CU_ASSERT_EQUAL(num_at(rv, "clients", NULL), 300);
  CU_ASSERT_EQUAL(num_at(rv, "reconnected", NULL), 300);
  CU_ASSERT_EQUAL(num_at(rv, "receiving", NULL), 300);
  CU_ASSERT_EQUAL(num_at(rv, "live", NULL), 300);
  CU_ASSERT_EQUAL(num_at(rv, "updates", "lost"), 0);
  /* one Update per key while away, 10 clients per key: all came (by replay, or live to a client that saw the drop
     only after it was published) */
  CU_ASSERT_EQUAL(num_at(rv, "updates", "published_while_away"), 300);
  CU_ASSERT_TRUE(num_at(rv, "updates", "replayed") > 0);
  /* official-js waits its reconnectDelay of 2 s: nobody is back earlier, and on loopback all are back soon after */
  double p50 = num_at(rv, "back_s", "p50"), p100 = num_at(rv, "back_s", "p100");
  CU_ASSERT_TRUE(p50 >= 2.0 && p100 >= p50 && p100 < 10);
  CU_ASSERT_TRUE(num_at(rv, "receiving_s", "p100") >= p100);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rv, "curve")), 50);
  cJSON_Delete(j);
  char path[128];
  snprintf(path, sizeof path, "%s/report.html", report_dir);
  char *html = ch_slurp(path, NULL);
  CU_ASSERT_TRUE(html && strstr(html, "id=\"chart-recovery\""));
  CU_ASSERT_TRUE(html && strstr(html, "id=\"recovery-table\""));
  free(html);
}

/* longPolling: the JS client waits 3 s before /reconnect, the harness's own model 2 s. */
static void test_client_model_selects_the_js_reconnect_delay(void) {
  const char *base[] = {"--set", "clients.0.count=20", "--set", "clients.0.transport=longPolling", NULL, NULL, NULL};
  double p50[2];
  const char *models[] = {"clients.0.client_model=\"official-js\"", "clients.0.client_model=\"harness\""};
  for (int m = 0; m < 2; m++) {
    base[4] = "--set";
    base[5] = models[m];
    struct ch_spawn_result r = ch_spawn_run("scenarios/reconnect-storm.json", report_dir, base, 120);
    if (r.code != 0)
      fprintf(stderr, "\n%s\n", r.out);
    CU_ASSERT_EQUAL(r.code, 0);
    free(r.out);
    cJSON *j = read_report();
    p50[m] = num_at(cJSON_GetObjectItemCaseSensitive(j, "recovery"), "back_s", "p50");
    cJSON_Delete(j);
  }
  CU_ASSERT_TRUE(p50[0] >= 3.0);
  CU_ASSERT_TRUE(p50[1] >= 2.0 && p50[1] < 3.0);
  if (!(p50[0] >= 3.0) || !(p50[1] < 3.0))
    fprintf(stderr, "\nback p50: official-js %.3f s, harness %.3f s\n", p50[0], p50[1]);
}

/* A reference endpoint with one fault (and a DisconnectTimeout when > 0); NULL when it cannot start. */
static struct ch_server *start_faulty(enum ch_fault fault, double disconnect_timeout_s) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  so.faults = 1u << fault;
  so.disconnect_timeout_s = disconnect_timeout_s;
  struct ch_server *srv = NULL;
  if (ch_server_new(&so, &srv) || ch_server_start(srv)) {
    ch_server_free(srv);
    return NULL;
  }
  return srv;
}

/* The --set values that aim reconnect-storm.json at it: the target, the drop phase's url (its control API's /drop)
   and an http trigger on its /publish, correlated by nonce. */
static void external_sets(struct ch_server *srv, char target[96], char drop[96], char trigger[256]) {
  snprintf(target, 96, "target.url=http://127.0.0.1:%d", ch_server_port(srv));
  snprintf(drop, 96, "phases.3.url=http://127.0.0.1:%d/drop", ch_server_control_port(srv));
  snprintf(trigger, 256,
           "trigger={\"type\": \"http\", \"rate\": 30, \"http\": {\"url\": \"http://127.0.0.1:%d/publish\", "
           "\"body\": {\"hub\": \"{{hub}}\", \"key\": \"{{key}}\", \"payload\": {\"Note\": \"{{nonce}}\"}}}}",
           ch_server_control_port(srv));
}

/* Against a running reference endpoint with a fault: the drop is the phase's url, the trigger its /publish. */
static void storm_against_fault(enum ch_fault fault, const char *failing_check) {
  struct ch_server *srv = start_faulty(fault, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char target[96], drop[96], trigger[256];
  external_sets(srv, target, drop, trigger);
  const char *extra[] = {"--set", target,  "--set", drop, "--set", trigger, "--set", "correlation={\"nonce\": \"/Note\"}",
                         "--set", "clients.0.count=60", "--set", "expect.deadline=\"3s\"", NULL};
  struct ch_spawn_result r = ch_spawn_run("scenarios/reconnect-storm.json", report_dir, extra, 120);
  CU_ASSERT_EQUAL(r.code, 1);
  cJSON *j = read_report();
  CU_ASSERT_STRING_EQUAL(check_result(j, failing_check), "fail");
  const cJSON *rv = cJSON_GetObjectItemCaseSensitive(j, "recovery");
  CU_ASSERT_EQUAL(num_at(rv, "clients", NULL), 60);
  CU_ASSERT_EQUAL(num_at(rv, "reconnected", NULL), 60); /* the transport comes back: what it carries does not */
  if (fault == CH_FAULT_NO_REPLAY)
    CU_ASSERT_TRUE(num_at(rv, "updates", "lost") > 0);
  if (fault == CH_FAULT_IGNORE_GROUPS_TOKEN) /* the reference replays from the cursor, but nothing live follows */
    CU_ASSERT_EQUAL(num_at(rv, "live", NULL), 0);
  if (r.code != 1)
    fprintf(stderr, "\n%s\n", r.out);
  cJSON_Delete(j);
  free(r.out);
  ch_server_free(srv);
}

static void test_storm_fails_when_groups_token_is_ignored(void) {
  storm_against_fault(CH_FAULT_IGNORE_GROUPS_TOKEN, "RUN-RECOVERY");
}

/* The storm scenario unsubscribes after the storm: groups restored from the groups token must be left too. */
static void test_storm_fails_when_unsubscribe_is_ignored(void) {
  storm_against_fault(CH_FAULT_IGNORE_UNSUBSCRIBE, "RUN-UNSUBSCRIBE");
}

static void test_storm_fails_without_replay(void) { storm_against_fault(CH_FAULT_NO_REPLAY, "RUN-REPLAY"); }

/* A server that answers /reconnect with 503 (DisconnectTimeout 6 s): the official JS client's web app starts a new
   connection and subscribes again once the window is over; the harness's own model gives up. */
static void test_official_js_starts_a_new_connection_after_the_window(void) {
  struct ch_server *srv = start_faulty(CH_FAULT_REFUSE_RECONNECT, 6);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char target[96], drop[96], trigger[256];
  external_sets(srv, target, drop, trigger);
  const char *models[] = {"clients.0.client_model=\"official-js\"", "clients.0.client_model=\"harness\""};
  for (int m = 0; m < 2; m++) {
    const char *extra[] = {"--set", target, "--set", drop, "--set", trigger, "--set",
                           "correlation={\"nonce\": \"/Note\"}", "--set", "clients.0.count=30", "--set", models[m],
                           "--set", "expect.deadline=\"3s\"", NULL};
    struct ch_spawn_result r = ch_spawn_run("scenarios/reconnect-storm.json", report_dir, extra, 120);
    CU_ASSERT_EQUAL(r.code, 1); /* either way the Updates published meanwhile are lost (RUN-REPLAY) */
    cJSON *j = read_report();
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(j, "recovery");
    CU_ASSERT_STRING_EQUAL(check_result(j, "RUN-RECOVERY"), m == 0 ? "pass" : "fail");
    if (m == 0) /* a client that gave up is judged as a failed connection instead */
      CU_ASSERT_STRING_EQUAL(check_result(j, "RUN-REPLAY"), "fail");
    CU_ASSERT_EQUAL(num_at(rv, "new_connections", NULL), m == 0 ? 30 : 0);
    CU_ASSERT_EQUAL(num_at(rv, "gave_up", NULL), m == 0 ? 0 : 30);
    CU_ASSERT_TRUE(num_at(rv, "failed_attempts", "http_503") >= 30); /* each client tried at least once */
    if (m == 0) {
      CU_ASSERT_EQUAL(num_at(rv, "live", NULL), 30);
      CU_ASSERT_TRUE(num_at(rv, "back_s", "p50") >= 4); /* not before its window was over */
    }
    if (r.code != 1 || !strstr(check_result(j, "RUN-RECOVERY"), m == 0 ? "pass" : "fail"))
      fprintf(stderr, "\n%s\n", r.out);
    cJSON_Delete(j);
    free(r.out);
  }
  ch_server_free(srv);
}

static void test_drop_phase_fields_are_checked(void) {
  char *argv[] = {"centro-harness", "validate", "scenarios/reconnect-storm.json", "--set",
                  "target.url=http://127.0.0.1:9/Centro", "--set", "clients.0.client_model=\"officialjs\"", NULL};
  struct ch_spawn_result r = ch_spawn(argv, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "$.phases[3]: expected \"url\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "$.clients[0].client_model"));
  if (r.code != 3)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-storm-test-%d", (int)getpid());
  CU_TestInfo tests[] = {CH_TEST(test_storm_recovers_with_figures),
                         CH_TEST(test_client_model_selects_the_js_reconnect_delay),
                         CH_TEST(test_storm_fails_when_groups_token_is_ignored),
                         CH_TEST(test_storm_fails_when_unsubscribe_is_ignored),
                         CH_TEST(test_storm_fails_without_replay),
                         CH_TEST(test_official_js_starts_a_new_connection_after_the_window),
                         CH_TEST(test_drop_phase_fields_are_checked),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_storm", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", report_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", report_dir);
  return rc;
}
