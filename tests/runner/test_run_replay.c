/* How a run judges the Updates its subscribers missed while disconnected: they can only come by replay after the
   reconnect, so RUN-REPLAY judges them from the reconnect's completion (metric replay_latency), and RUN-DEADLINE
   keeps the Updates published while connected. A reconnect takes the client's 2 s delay at least, so a deadline of
   1 s is a reconnect slower than the deadline; a server that does not replay must still fail RUN-REPLAY. */
#include <stdio.h>
#include <string.h>

#include "ch_report.h"
#include "ch_runner.h"
#include "ch_scenario.h"
#include "ch_server.h"
#include "ch_test.h"

/* 16 clients on 4 keys; half dropped while triggers publish, then a trigger phase after the reconnect. */
#define REPLAY_BODY                                                                                                 \
  "\"seed\":5,\"workers\":2,"                                                                                       \
  "\"clients\":[{\"name\":\"parts\",\"count\":16,\"subscribe\":{\"key_count\":4,\"prefix\":\"RP-\","                  \
  "\"generator\":\"round_robin\"}}],"                                                                               \
  "\"phases\":[{\"type\":\"connect\",\"timeout\":\"10s\"},{\"type\":\"subscribe\"},"                                \
  "{\"type\":\"trigger\",\"duration\":\"500ms\"},{\"type\":\"drop_reconnect\",\"fraction\":0.5,\"timeout\":\"20s\"}," \
  "{\"type\":\"trigger\",\"name\":\"after\",\"duration\":\"500ms\"},{\"type\":\"disconnect\"}],"                      \
  "\"expect\":{\"delivery\":\"at_least_once\",\"deadline\":\"1s\"}"

static struct ch_report *run_json(const char *json) {
  struct ch_scenario *s = NULL;
  struct ch_buf err = CH_BUF_INIT;
  int rc = ch_scenario_from_json_string(json, strlen(json), "replay.json", NULL, 0, &s, &err);
  if (rc)
    fprintf(stderr, "\nscenario: %s\n", err.data ? err.data : "?");
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  struct ch_report *rep = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&rep), 0);
  struct ch_run_opts o = {0};
  o.scenario_path = "replay.json";
  o.quiet = true;
  o.no_report = true;
  o.barrier_in = o.barrier_out = -1;
  ch_buf_reset(&err);
  rc = ch_run_execute(&o, s, rep, &err);
  if (rc > 2)
    fprintf(stderr, "\nrun: exit %d: %s\n", rc, err.data ? err.data : "?");
  CU_ASSERT_TRUE(rc <= 2);
  ch_scenario_free(s);
  ch_buf_free(&err);
  return rep;
}

static const struct ch_check *find_check(const struct ch_report *rep, const char *id) {
  for (size_t i = 0; i < rep->n_checks; i++)
    if (!strcmp(rep->checks[i].id, id))
      return &rep->checks[i];
  return NULL;
}

/* The check's result, with its evidence on stderr when it is not the one wanted. */
static void expect_check(const struct ch_report *rep, const char *id, enum ch_result want) {
  const struct ch_check *c = find_check(rep, id);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  if (c->result != want)
    fprintf(stderr, "\n%s: result %d, wanted %d: %s\n", id, (int)c->result, (int)want,
            c->evidence ? c->evidence : "");
  CU_ASSERT_EQUAL(c->result, want);
}

static double metric(const struct ch_report *rep, const char *name) {
  double v = -1;
  CU_ASSERT_EQUAL(ch_metrics_lookup(rep->metrics, name, &v), 0);
  return v;
}

static void test_replay_after_a_reconnect_slower_than_the_deadline_passes(void) {
  /* The embedded endpoint; the thresholds show replay_latency is a metric scenarios can gate on. */
  struct ch_report *rep =
      run_json("{\"name\":\"replay-slow-reconnect\"," REPLAY_BODY ",\"trigger\":{\"type\":\"reference\",\"rate\":20},"
               "\"thresholds\":[\"replay_latency.p99 < 1s\",\"replay_latency.count >= 1\"]}");
  expect_check(rep, "RUN-RECONNECT", CH_RESULT_PASS);
  expect_check(rep, "RUN-DELIVERY", CH_RESULT_PASS);
  expect_check(rep, "RUN-DEADLINE", CH_RESULT_PASS);
  expect_check(rep, "RUN-REPLAY", CH_RESULT_PASS);
  CU_ASSERT_EQUAL(ch_report_count_thresholds(rep, CH_RESULT_PASS), 2);
  CU_ASSERT_TRUE(metric(rep, "reconnects") >= 1);
  CU_ASSERT_TRUE(metric(rep, "replay_latency.count") >= 1);
  /* the replays waited for the reconnect (2 s): from their trigger they would be over the deadline */
  CU_ASSERT_TRUE(metric(rep, "reconnect.min") >= 2e9);
  CU_ASSERT_TRUE(metric(rep, "update_latency.max") < 1e9);
  ch_report_free(rep);
}

static void test_a_server_that_does_not_replay_fails_run_replay(void) {
  struct ch_server_opts so = {0};
  so.base = "/Centro";
  so.faults = 1u << CH_FAULT_NO_REPLAY;
  so.quiet = true;
  struct ch_server *srv = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(srv), 0);
  char json[4096];
  snprintf(json, sizeof json,
           "{\"name\":\"replay-lost\",\"target\":{\"url\":\"http://127.0.0.1:%d/Centro\"}," REPLAY_BODY
           ",\"trigger\":{\"type\":\"http\",\"rate\":20,\"http\":{\"url\":\"http://127.0.0.1:%d/publish\","
           "\"body\":{\"hub\":\"ResourceEventHub\",\"key\":\"{{key}}\",\"payload\":{\"Note\":\"{{nonce}}\"}}}},"
           "\"correlation\":{\"nonce\":\"/Note\"}}",
           ch_server_port(srv), ch_server_control_port(srv));
  struct ch_report *rep = run_json(json);
  expect_check(rep, "RUN-RECONNECT", CH_RESULT_PASS);
  expect_check(rep, "RUN-DELIVERY", CH_RESULT_PASS);
  expect_check(rep, "RUN-DEADLINE", CH_RESULT_PASS);
  expect_check(rep, "RUN-REPLAY", CH_RESULT_FAIL);
  const struct ch_check *c = find_check(rep, "RUN-REPLAY");
  CU_ASSERT_TRUE(c && c->evidence && strstr(c->evidence, "never arrived after its reconnect"));
  CU_ASSERT_EQUAL(metric(rep, "replay_latency.count"), 0);
  ch_report_free(rep);
  ch_server_free(srv);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_replay_after_a_reconnect_slower_than_the_deadline_passes),
                         CH_TEST(test_a_server_that_does_not_replay_fails_run_replay), CU_TEST_INFO_NULL};
  return ch_test_run("run_replay", tests);
}
