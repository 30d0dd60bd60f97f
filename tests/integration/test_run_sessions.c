/* Sessions and churn (issue #18), the real binary on loopback: scenarios/sessions.json against the embedded endpoint
   passes with sessions and churn in report.json and every owed Update delivered; against a reference endpoint that
   keeps sending after UnsubscribeFromPart (serve --fault ignore-unsubscribe), the same workload fails
   RUN-UNSUBSCRIBE, the Updates published outside a session's subscription intervals named; one that ignores the
   groups token fails long-polling sessions' RUN-DELIVERY. The closed model follows its stages. */
#include <cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ch_run_summary.h"
#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64];

static cJSON *read_report(void) { return ch_run_report_json(report_dir); }

static double counter(const cJSON *root, const char *name) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "metrics"), "total"), "counters");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Whether report.html has both texts. */
static bool html_has(const char *a, const char *b) {
  char path[128];
  snprintf(path, sizeof path, "%s/report.html", report_dir);
  char *html = ch_slurp(path, NULL);
  bool has = html && strstr(html, a) && strstr(html, b);
  free(html);
  return has;
}

/* The check's result ("pass", "fail", "skip") and its evidence. */
static const char *check(const cJSON *root, const char *id, const char **evidence) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "checks")) {
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "id");
    if (cJSON_IsString(i) && !strcmp(i->valuestring, id)) {
      const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "evidence");
      *evidence = cJSON_IsString(e) ? e->valuestring : "";
      const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "result");
      return cJSON_IsString(r) ? r->valuestring : "?";
    }
  }
  *evidence = "";
  return "absent";
}

/* Every owed Update arrived and nothing outside a subscription interval did. */
static void all_owed_delivered(const cJSON *root) {
  const char *ev;
  CU_ASSERT_EQUAL(counter(root, "updates_missing"), 0);
  CU_ASSERT_EQUAL(counter(root, "updates_unexpected"), 0);
  CH_ASSERT_STR(check(root, "RUN-DELIVERY", &ev), "pass");
  CH_ASSERT_STR(check(root, "RUN-UNSUBSCRIBE", &ev), "pass");
}

static void test_sessions_scenario_passes(void) {
  struct ch_spawn_result r = ch_spawn_run_fresh("scenarios/sessions.json", report_dir, NULL, 60);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  /* the text summary shows the session counters and the first-Update latency */
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "sessions_started"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "first_update"));
  free(r.out);
  cJSON *root = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  double started = counter(root, "sessions_started"), ended = counter(root, "sessions_ended");
  CU_ASSERT_TRUE(started > 50);       /* ~7 s of arrivals at 5..20/s plus 8/s */
  CU_ASSERT_TRUE(started < 400);      /* the stages bound it */
  CU_ASSERT_EQUAL(started, ended);    /* every session left by the end of the steady phase */
  CU_ASSERT_TRUE(counter(root, "unsubscribes") > 20); /* churn */
  CU_ASSERT_TRUE(counter(root, "subscribes") > started);
  CU_ASSERT_TRUE(counter(root, "updates_expected") > 500);
  all_owed_delivered(root);
  const char *ev;
  CH_ASSERT_STR(check(root, "RUN-ISOLATION", &ev), "pass");
  /* connected_peak stays within max_concurrent (120 + 60 slots) */
  const cJSON *peak = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "metrics"), "total"), "connected_peak");
  CU_ASSERT_TRUE(cJSON_IsNumber(peak) && peak->valuedouble > 10 && peak->valuedouble <= 180);
  /* the active sessions per second: in the series, and plotted */
  double most = 0;
  const cJSON *pt;
  cJSON_ArrayForEach(pt, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "metrics"), "series")) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(pt, "sessions");
    if (cJSON_IsNumber(v) && v->valuedouble > most)
      most = v->valuedouble;
  }
  CU_ASSERT_TRUE(most > 10 && most <= 180);
  cJSON_Delete(root);
  CU_ASSERT_TRUE(html_has("chart-sessions", "Active sessions"));
}

/* sessions.json against a running reference endpoint with one fault, its /publish as the two hubs' triggers
   (nonce-correlated); more: one more --set or NULL. Returns the run's exit code; the report is in report_dir. */
static int sessions_against_fault(enum ch_fault fault, const char *more) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  so.faults = 1u << fault;
  struct ch_server *srv = NULL;
  if (ch_server_new(&so, &srv) || ch_server_start(srv)) {
    ch_server_free(srv);
    return -1;
  }
  char target[64], trigger[900];
  snprintf(target, sizeof target, "http://127.0.0.1:%d", ch_server_port(srv));
  const char *req = "{\"type\":\"http\",\"hub\":\"%s\",\"rate\":%d,\"http\":{\"method\":\"POST\","
                    "\"url\":\"http://127.0.0.1:%d/publish\",\"body\":{\"hub\":\"{{hub}}\",\"key\":\"{{key}}\","
                    "\"payload\":{\"Note\":\"{{nonce}}\"}}}}";
  char t0[400], t1[400];
  snprintf(t0, sizeof t0, req, "ResourceEventHub", 200, ch_server_control_port(srv));
  snprintf(t1, sizeof t1, req, "JobEventHub", 50, ch_server_control_port(srv));
  snprintf(trigger, sizeof trigger, "trigger=[%s,%s]", t0, t1);
  const char *extra[] = {"--target", target, "--set", trigger, "--set", "correlation={\"nonce\":\"/Note\"}",
                         "--set", "phases.0.duration=6s", more ? "--set" : NULL, more, NULL};
  struct ch_spawn_result r = ch_spawn_run_fresh("scenarios/sessions.json", report_dir, extra, 60);
  free(r.out);
  ch_server_free(srv);
  return r.code;
}

static void test_ignore_unsubscribe_fails_sessions(void) {
  CU_ASSERT_EQUAL(sessions_against_fault(CH_FAULT_IGNORE_UNSUBSCRIBE, NULL), 1);
  cJSON *root = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  const char *ev;
  CH_ASSERT_STR(check(root, "RUN-UNSUBSCRIBE", &ev), "fail");
  CU_ASSERT_PTR_NOT_NULL(strstr(ev, "published while its session did not hold the key"));
  CH_ASSERT_STR(check(root, "RUN-DELIVERY", &ev), "pass"); /* it still delivers what it owes */
  if (strcmp(check(root, "RUN-DELIVERY", &ev), "pass"))
    fprintf(stderr, "\nRUN-DELIVERY: %s\n", ev);
  CU_ASSERT_TRUE(counter(root, "unsubscribes") > 0);
  cJSON_Delete(root);
}

/* A server that ignores the groups token on reconnect and poll (serve --fault ignore-groups-token) loses a long
   polling session's subscriptions at its next poll: the jobs' sessions, on longPolling here, miss what they are
   owed (the same run passes against a sound endpoint). */
static void test_ignore_groups_token_fails_long_polling_sessions(void) {
  CU_ASSERT_EQUAL(sessions_against_fault(CH_FAULT_IGNORE_GROUPS_TOKEN, "clients.1.transport=longPolling"), 1);
  cJSON *root = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  const char *ev;
  CH_ASSERT_STR(check(root, "RUN-DELIVERY", &ev), "fail");
  CU_ASSERT_PTR_NOT_NULL(strstr(ev, "(JobEventHub)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(ev, "Updates owed by its subscription interval"));
  CU_ASSERT_TRUE(counter(root, "updates_missing") > 0);
  cJSON_Delete(root);
}

/* The closed model (scenarios/sessions-ramp.json): the sessions open each second follow the stages' target (0 -> 40
   in 2 s, 40 for 2 s, -> 10 in 2 s), within a tolerance for the sessions closing or replaced at the tick, and every
   owed Update is delivered. */
static void test_closed_model_follows_the_stages(void) {
  struct ch_spawn_result r = ch_spawn_run_fresh("scenarios/sessions-ramp.json", report_dir, NULL, 60);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
  cJSON *root = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  double started = counter(root, "sessions_started");
  CU_ASSERT_TRUE(started > 40);                       /* lifetimes of 1-2 s: sessions were replaced */
  CU_ASSERT_EQUAL(started, counter(root, "sessions_ended"));
  CU_ASSERT_TRUE(counter(root, "updates_expected") > 200);
  all_owed_delivered(root);
  unsigned points = 0, at_hold = 0, bad = 0;
  double last_target = -1, last_active = -1;
  const cJSON *pt;
  cJSON_ArrayForEach(pt, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "metrics"), "series")) {
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(pt, "sessions_target");
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(pt, "sessions");
    if (!cJSON_IsNumber(tv))
      continue;
    double target = tv->valuedouble, active = cJSON_IsNumber(av) ? av->valuedouble : 0;
    points++;
    CU_ASSERT_TRUE(target <= 40 && active <= 40); /* never more than the slots */
    if (fabs(active - target) > 2 + 0.1 * target) {
      bad++;
      fprintf(stderr, "\nsecond %u: target %.0f, active %.0f", points, target, active);
    }
    at_hold += target == 40 && active >= 36;
    last_target = target, last_active = active;
  }
  CU_ASSERT_TRUE(points >= 5); /* about 6 s of stages, one point a second */
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_TRUE(at_hold >= 1); /* the hold at 40 was reached */
  CU_ASSERT_EQUAL(last_target, 10); /* the last stage's end, held until the phase ends */
  CU_ASSERT_TRUE(last_active >= 9 && last_active <= 12);
  cJSON_Delete(root);
  CU_ASSERT_TRUE(html_has("chart-sessions", "target (closed model)"));
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-sessions-%d", (int)getpid());
  CU_TestInfo tests[] = {CH_TEST(test_sessions_scenario_passes), CH_TEST(test_ignore_unsubscribe_fails_sessions),
                         CH_TEST(test_ignore_groups_token_fails_long_polling_sessions),
                         CH_TEST(test_closed_model_follows_the_stages), CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_sessions", tests);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", report_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", report_dir);
  return rc;
}
