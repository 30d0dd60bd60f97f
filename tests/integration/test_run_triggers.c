/* Several triggers in one run (issue #12), the real binary on loopback: scenarios/two-hubs.json against a separate
   reference endpoint through its control API (one http trigger per hub, {{hub}} in the body, the control address
   from {{env.CENTRO_CONTROL}}): exit 0, Updates delivered on both hubs, report.json's per-trigger lines; an array
   of reference triggers against the embedded endpoint, each at its own count; and the input refused with exit 3
   naming the JSON path (an unset variable, a population no trigger reaches). */
#include <cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64], scratch[96];

/* report.json's "triggers" array (NULL when absent); free with cJSON_Delete on the returned root. */
static const cJSON *read_triggers(cJSON **root) {
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *body = ch_slurp(path, NULL);
  *root = cJSON_Parse(body ? body : "");
  free(body);
  return cJSON_GetObjectItemCaseSensitive(*root, "triggers");
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void test_two_hubs_against_serve(void) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  struct ch_server *srv = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(srv), 0);
  char target[96], control[64];
  snprintf(target, sizeof target, "http://127.0.0.1:%d", ch_server_port(srv));
  snprintf(control, sizeof control, "127.0.0.1:%d", ch_server_control_port(srv));
  setenv("CENTRO_CONTROL", control, 1);
  const char *extra[] = {"--target", target, NULL};
  struct ch_spawn_result r = ch_spawn_run_fresh("scenarios/two-hubs.json", report_dir, extra, 120);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "trigger[1] (JobEventHub)"));
  free(r.out);
  cJSON *root = NULL;
  const cJSON *tr = read_triggers(&root);
  CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(tr), 2);
  const cJSON *parts = cJSON_GetArrayItem(tr, 0), *jobs = cJSON_GetArrayItem(tr, 1);
  /* every trigger sent, every Update delivered on both hubs: 40 publishes to 4 keys x 5 subscribers, 16 to 2 x 5 */
  CU_ASSERT_EQUAL(num(parts, "sent"), 40);
  CU_ASSERT_EQUAL(num(jobs, "sent"), 16);
  CU_ASSERT_EQUAL(num(parts, "updates_expected"), 200);
  CU_ASSERT_EQUAL(num(jobs, "updates_expected"), 80);
  CU_ASSERT_EQUAL(num(parts, "updates_missing"), 0);
  CU_ASSERT_EQUAL(num(jobs, "updates_missing"), 0);
  CU_ASSERT_EQUAL(num(jobs, "errors"), 0);
  const cJSON *lat = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(jobs, "latency"),
                                                      "update_latency");
  CU_ASSERT_EQUAL(num(lat, "count"), 80);
  cJSON_Delete(root);
  /* the variable unset: refused before anything runs, the path named */
  unsetenv("CENTRO_CONTROL");
  r = ch_spawn_run_fresh("scenarios/two-hubs.json", report_dir, extra, 60);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "$.trigger[0].http.url: expected the environment variable CENTRO_CONTROL"));
  free(r.out);
  ch_server_free(srv);
}

static const char reference_array[] =
    "{\"name\": \"trigger-array\",\n"
    " \"clients\": [{\"name\": \"parts\", \"count\": 6, \"subscribe\": {\"keys\": [\"A\", \"B\"]}},\n"
    "             {\"name\": \"jobs\", \"count\": 4, \"hub\": \"JobEventHub\", \"subscribe\": {\"keys\": [\"J\"]}},\n"
    "             {\"name\": \"load\", \"count\": 2, \"hub\": \"JobEventHub\", \"passive\": true,\n"
    "              \"subscribe\": {\"keys\": [\"quiet\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": [{\"clients\": \"parts\", \"rate\": 40, \"count\": 10},\n"
    "             {\"clients\": [\"jobs\"], \"rate\": 20, \"count\": 3, \"arrival\": \"poisson\"}]}\n";

static void test_reference_trigger_array_embedded(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/array.json", scratch);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, reference_array), 0);
  struct ch_spawn_result r = ch_spawn_run_fresh(path, report_dir, NULL, 120);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
  cJSON *root = NULL;
  const cJSON *tr = read_triggers(&root);
  CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(tr), 2);
  CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(tr, 0), "sent"), 10);
  CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(tr, 0), "updates_expected"), 60); /* every part client has both keys */
  CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(tr, 1), "sent"), 3);
  CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(tr, 1), "updates_expected"), 12);
  cJSON_Delete(root);
  /* without "passive", the population nobody triggers is refused, with the remedy */
  char *text = strdup(reference_array);
  char *p = strstr(text, " \"passive\": true,");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  memset(p, ' ', strlen(" \"passive\": true,"));
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, text), 0);
  free(text);
  r = ch_spawn_run_fresh(path, report_dir, NULL, 60);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "$.clients[2]: population \"load\" subscribes to keys that no trigger drives"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"passive\": true"));
  free(r.out);
  unlink(path);
}

/* A variable named like a credential, in a URL that fails (404: the first error names the URL), and in a header:
   its value appears in no output and no file of the report folder. */
static void test_env_credentials_never_in_output(void) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  struct ch_server *srv = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(srv), 0);
  char target[96], control[64], path[128], cmd[256];
  snprintf(target, sizeof target, "http://127.0.0.1:%d", ch_server_port(srv));
  snprintf(control, sizeof control, "127.0.0.1:%d", ch_server_control_port(srv));
  setenv("CENTRO_CONTROL", control, 1);
  setenv("CH_TRIG_API_KEY", "v4lue-of-the-api-key", 1);
  snprintf(path, sizeof path, "%s/secret.json", scratch);
  CU_ASSERT_EQUAL_FATAL(
      ch_write_text(path,
                    "{\"clients\": [{\"name\": \"parts\", \"count\": 2, \"subscribe\": {\"keys\": [\"A\"]}}],\n"
                    " \"phases\": [{\"type\": \"connect\"}, {\"type\": \"subscribe\"}, {\"type\": \"trigger\"},\n"
                    "            {\"type\": \"disconnect\"}],\n"
                    " \"trigger\": [{\"type\": \"http\", \"count\": 2, \"rate\": 50, \"http\": {\"url\": \"http://"
                    "{{env.CENTRO_CONTROL}}/nope/{{env.CH_TRIG_API_KEY}}/{{key}}\", \"headers\": {\"X-Api-Key\": "
                    "\"{{env.CH_TRIG_API_KEY}}\", \"X-Seq\": \"{{seq}}\"}}}],\n"
                    " \"correlation\": {\"sequence\": \"/HarnessSeq\"}}\n"),
      0);
  const char *extra[] = {"--target", target, NULL};
  struct ch_spawn_result r = ch_spawn_run_fresh(path, report_dir, extra, 120);
  CU_ASSERT_EQUAL(r.code, 1); /* RUN-TRIGGER: every request answered 404 */
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "RUN-TRIGGER"));
  CU_ASSERT_PTR_NULL(strstr(r.out, "v4lue-of-the-api-key"));
  if (r.code != 1 || strstr(r.out, "v4lue-of-the-api-key"))
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
  snprintf(cmd, sizeof cmd, "grep -rq 'v4lue-of-the-api-key' '%s'", report_dir);
  CU_ASSERT_NOT_EQUAL(system(cmd), 0); /* grep finds nothing (and the folder exists: next) */
  snprintf(cmd, sizeof cmd, "grep -q 'nope/\\[REDACTED\\]' '%s/report.json'", report_dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
  unsetenv("CH_TRIG_API_KEY");
  unlink(path);
  ch_server_free(srv);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-run-trig-%d", (int)getpid());
  snprintf(scratch, sizeof scratch, "/tmp/ch-run-trig-%d-in", (int)getpid());
  char cmd[256];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", scratch);
  if (system(cmd) != 0)
    return 1;
  CU_TestInfo tests[] = {CH_TEST(test_two_hubs_against_serve), CH_TEST(test_reference_trigger_array_embedded),
                         CH_TEST(test_env_credentials_never_in_output), CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_triggers", tests);
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", report_dir, scratch);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", report_dir);
  return rc;
}
