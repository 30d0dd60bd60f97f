/* `centro-harness shrink` as a bug reporter uses it: fanout-1k against an endpoint that loses every 10th Update
   (serve --fault drop-updates) is reduced to a scenario of a few clients that still fails RUN-DELIVERY, within its
   --max-runs and --max-time; a scenario that does not fail that way has nothing to shrink (exit 1). */
#include <cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char root[64];

static struct ch_spawn_result harness(const char *const args[], int timeout_s) {
  char *argv[48];
  int n = 0;
  argv[n++] = "centro-harness";
  for (int i = 0; args[i] && n < 47; i++)
    argv[n++] = (char *)args[i];
  argv[n] = NULL;
  return ch_spawn(argv, timeout_s);
}

static struct ch_server *endpoint(unsigned faults) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  so.faults = faults;
  struct ch_server *srv = NULL;
  if (ch_server_new(&so, &srv) || ch_server_start(srv)) {
    ch_server_free(srv);
    return NULL;
  }
  return srv;
}

/* The external endpoint's /publish as the trigger (nonce-correlated, so every lost Update is missed), a 1 s
   deadline and 2 s of triggers: 10 Updates per client, of which the fault drops one. */
static void sets_for(const struct ch_server *srv, char target[64], char trigger[400]) {
  snprintf(target, 64, "http://127.0.0.1:%d", ch_server_port(srv));
  snprintf(trigger, 400,
           "trigger={\"type\":\"http\",\"rate\":5,\"keys\":\"subscribed\",\"http\":{\"method\":\"POST\","
           "\"url\":\"http://127.0.0.1:%d/publish\",\"body\":{\"hub\":\"ResourceEventHub\",\"key\":\"{{key}}\","
           "\"payload\":{\"Note\":\"{{nonce}}\"}}}}",
           ch_server_control_port(srv));
}

static void test_shrink_fanout_to_a_few_clients_still_failing_delivery(void) {
  struct ch_server *srv = endpoint(1u << CH_FAULT_DROP_UPDATES);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char target[64], trigger[400], out[128], log[128], last[512];
  sets_for(srv, target, trigger);
  snprintf(out, sizeof out, "%s/bug/fanout-small.json", root);
  snprintf(log, sizeof log, "%s/bug/fanout-small.log", root);
  const char *args[] = {"shrink", "scenarios/fanout-1k.json", "--check", "RUN-DELIVERY", "--target", target,
                        "--set", trigger, "--set", "correlation={\"nonce\":\"/Note\"}", "--set", "expect.deadline=1s",
                        "--set", "phases.3.duration=2s", "-o", out, "--max-runs", "10", "--max-time", "150s", NULL};
  uint64_t t0 = ch_now_ns();
  struct ch_spawn_result r = harness(args, 200);
  double secs = (double)(ch_now_ns() - t0) / 1e9;
  CU_ASSERT_EQUAL(r.code, 0);
  /* --max-runs 10 is what ends it (10 halvings reach a few clients, ~45 s unloaded); --max-time 150s is only the
     outer bound, loose enough for a loaded or sanitized build (a run stopped at the bound has 10 s to wind down) */
  CU_ASSERT_TRUE(secs < 160);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "run 2 ("));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "clients[0].count 1000 -> 500: still fails RUN-DELIVERY, kept"));
  CU_ASSERT_PTR_NULL(strstr(r.out, "run 11 (")); /* --max-runs 10 */
  CU_ASSERT_PTR_NOT_NULL(strstr(ch_last_line(&r, last, sizeof last), "exit 0: shrunk: `centro-harness run "));
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
  /* the log says the same steps */
  char *text = ch_slurp(log, NULL);
  CU_ASSERT_TRUE(text && strstr(text, "1000 -> 500: still fails RUN-DELIVERY, kept") != NULL);
  free(text);
  /* a few clients, and running the file again (with the same target) still fails RUN-DELIVERY */
  text = ch_slurp(out, NULL);
  cJSON *doc = cJSON_Parse(text ? text : "");
  const cJSON *count = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "clients"), 0), "count");
  CU_ASSERT_TRUE(cJSON_IsNumber(count) && count->valuedouble >= 1 && count->valuedouble <= 4);
  CU_ASSERT_PTR_NULL(text ? strstr(text, "\"token\":") : "no file"); /* credentials never go into it */
  cJSON_Delete(doc);
  free(text);
  char dir[128];
  snprintf(dir, sizeof dir, "%s/again", root);
  const char *again[] = {"run", out, "--target", target, "--report-dir", dir, "--quiet", NULL};
  r = harness(again, 60);
  CU_ASSERT_EQUAL(r.code, 1);
  free(r.out);
  snprintf(dir, sizeof dir, "%s/again/report.json", root);
  text = ch_slurp(dir, NULL);
  doc = cJSON_Parse(text ? text : "");
  bool delivery_failed = false;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "checks")) {
    const cJSON *id = cJSON_GetObjectItem(c, "id"), *res = cJSON_GetObjectItem(c, "result");
    delivery_failed = delivery_failed || (cJSON_IsString(id) && !strcmp(id->valuestring, "RUN-DELIVERY") &&
                                          cJSON_IsString(res) && !strcmp(res->valuestring, "fail"));
  }
  CU_ASSERT_TRUE(delivery_failed);
  cJSON_Delete(doc);
  free(text);
  ch_server_free(srv);
}

static void test_shrink_refuses_what_does_not_fail(void) {
  struct ch_server *srv = endpoint(0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char target[64], trigger[400], out[128], last[512];
  sets_for(srv, target, trigger);
  snprintf(out, sizeof out, "%s/clean.json", root);
  const char *args[] = {"shrink", "scenarios/fanout-1k.json", "--check", "RUN-DELIVERY", "--target", target,
                        "--set", trigger, "--set", "correlation={\"nonce\":\"/Note\"}", "--set", "expect.deadline=1s",
                        "--set", "phases.3.duration=1s", "--set", "clients.0.count=5", "-o", out, NULL};
  struct ch_spawn_result r = harness(args, 60);
  CU_ASSERT_EQUAL(r.code, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(ch_last_line(&r, last, sizeof last), "exit 1: the scenario does not fail that way"));
  free(r.out);
  ch_server_free(srv);
  const char *bad[] = {"shrink", "scenarios/fanout-1k.json", NULL};
  r = harness(bad, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "one of --check ID or --threshold EXPR"));
  free(r.out);
  const char *bad_expr[] = {"shrink", "scenarios/fanout-1k.json", "--threshold", "update_latncy.p99 < 1s", NULL};
  r = harness(bad_expr, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "unknown metric"));
  free(r.out);
}

/* Sessions (issue #18): an open-model population churning against an endpoint that ignores Unsubscribe (serve
   --fault ignore-unsubscribe) is reduced to a few session slots that still fail RUN-UNSUBSCRIBE. */
static const char sessions_scenario[] =
    "{\"name\": \"churn-leak\",\n"
    " \"clients\": [{\"name\": \"web\", \"hub\": \"ResourceEventHub\", \"transport\": \"webSockets\",\n"
    "   \"subscribe\": {\"key_count\": 6, \"prefix\": \"S-\", \"generator\": \"uniform\", \"per_client\": 2},\n"
    "   \"sessions\": {\"arrival\": \"poisson\", \"stages\": [{\"duration\": \"500ms\", \"target\": 40}],\n"
    "                \"lifetime\": \"3s\", \"max_concurrent\": 40,\n"
    "                \"churn\": {\"every\": \"300ms\", \"think\": \"50ms\"}}}],\n"
    " \"phases\": [{\"type\": \"steady\", \"duration\": \"2s\"}],\n"
    " \"expect\": {\"deadline\": \"1s\", \"unsubscribe_grace\": \"300ms\"}}\n";

static void test_shrink_sessions_to_a_few_slots_still_failing_unsubscribe(void) {
  struct ch_server *srv = endpoint(1u << CH_FAULT_IGNORE_UNSUBSCRIBE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char target[64], trigger[400], path[128], out[128];
  sets_for(srv, target, trigger);
  snprintf(path, sizeof path, "%s/churn-leak.json", root);
  snprintf(out, sizeof out, "%s/churn-small.json", root);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, sessions_scenario), 0);
  const char *args[] = {"shrink", path, "--check", "RUN-UNSUBSCRIBE", "--target", target, "--set", trigger,
                        "--set", "trigger.rate=100", "--set", "correlation={\"nonce\":\"/Note\"}", "-o", out,
                        "--max-runs", "5", "--max-time", "100s", NULL};
  struct ch_spawn_result r = harness(args, 150);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "start: 40 clients in 1 population"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(r.out, "clients[0].sessions.max_concurrent 40 -> 20: still fails RUN-UNSUBSCRIBE, kept"));
  free(r.out);
  char *text = ch_slurp(out, NULL);
  cJSON *doc = cJSON_Parse(text ? text : "");
  const cJSON *ss = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "clients"), 0), "sessions");
  const cJSON *slots = cJSON_GetObjectItem(ss, "max_concurrent");
  CU_ASSERT_TRUE(cJSON_IsNumber(slots) && slots->valuedouble >= 1 && slots->valuedouble <= 10);
  cJSON_Delete(doc);
  free(text);
  ch_server_free(srv);
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/ch-shrink-test-XXXXXX");
  if (!mkdtemp(root))
    return 2;
  CU_TestInfo tests[] = {CH_TEST(test_shrink_fanout_to_a_few_clients_still_failing_delivery),
                         CH_TEST(test_shrink_refuses_what_does_not_fail),
                         CH_TEST(test_shrink_sessions_to_a_few_slots_still_failing_unsubscribe), CU_TEST_INFO_NULL};
  int rc = ch_test_run("shrink", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", root);
  return rc;
}
