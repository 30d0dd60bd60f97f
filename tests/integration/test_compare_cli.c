/* `centro-harness compare` and `merge` on real runs, as a release gate uses them: two runs of one scenario pass, a
   run against an endpoint that holds every Update 300 ms fails its latency gate (exit 2 naming the metric), runs of
   different scenarios are refused (exit 3 naming the hash), too few samples are inconclusive, and merge refuses
   reports that are not shards of one run and creates the output's folder. */
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char root[64];

/* 10 clients on one key, 20 triggers/s for 1 s: about 200 Update samples, enough for p50, too few for p99. */
static const char small_scenario[] =
    "{\"name\": \"cmp-small\",\n"
    " \"clients\": [{\"name\": \"web\", \"count\": 10, \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"1s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"reference\", \"rate\": 20},\n"
    " \"expect\": {\"deadline\": \"3s\"}}\n";

/* 20 clients on one key, 40 triggers/s for 1 s against an external endpoint: about 800 samples (p99 needs 500).
   Its compare section gates the median; the command line adds the p99. */
static const char gated_scenario[] =
    "{\"name\": \"cmp-gated\",\n"
    " \"clients\": [{\"name\": \"web\", \"count\": 20, \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"1s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 40, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:1/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\"}}},\n"
    " \"correlation\": {\"sequence\": null, \"server_time_us\": \"/HarnessSentUs\"},\n"
    " \"expect\": {\"delivery\": \"any\", \"in_order\": false, \"deadline\": \"3s\"},\n"
    " \"compare\": {\"max_regression\": {\"update_latency.p50\": \"+50ms\", \"errors\": 0}}}\n";

static struct ch_spawn_result harness(const char *const args[], int timeout_s) {
  char *argv[40];
  int n = 0;
  argv[n++] = "centro-harness";
  for (int i = 0; args[i] && n < 39; i++)
    argv[n++] = (char *)args[i];
  argv[n] = NULL;
  return ch_spawn(argv, timeout_s);
}

/* Runs a scenario into root/<dir>; returns its exit code. */
static int run_into(const char *scenario, const char *dir, const char *const extra[]) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", root, dir);
  const char *args[24] = {"run", scenario, "--report-dir", path, "--quiet", "--workers", "1"};
  int n = 7;
  for (int i = 0; extra && extra[i] && n < 23; i++)
    args[n++] = extra[i];
  struct ch_spawn_result r = harness(args, 60);
  if (r.code != 0)
    fprintf(stderr, "\nrun %s -> %s: exit %d\n%s\n", scenario, dir, r.code, r.out);
  free(r.out);
  return r.code;
}

static char *in_root(const char *name, char *buf, size_t n) {
  snprintf(buf, n, "%s/%s", root, name);
  return buf;
}

static void test_compare_two_runs_of_one_scenario(void) {
  char scn[128], a[128], b[128], c[128], last[512];
  CU_ASSERT_EQUAL_FATAL(ch_write_text(in_root("small.json", scn, sizeof scn), small_scenario), 0);
  CU_ASSERT_EQUAL_FATAL(run_into(scn, "small-a", NULL), 0);
  CU_ASSERT_EQUAL_FATAL(run_into(scn, "small-b", NULL), 0);
  /* folders or report.json files alike */
  snprintf(b, sizeof b, "%s/small-b/report.json", root);
  const char *args[] = {"compare", in_root("small-a", a, sizeof a), b, "--max-regression", "update_latency.p99=+10%",
                        "--max-regression", "errors=+0", NULL};
  struct ch_spawn_result r = harness(args, 30);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(ch_last_line(&r, last, sizeof last), "exit 0: no regression (2 gates, some "
                                                                      "inconclusive"));
  /* about 200 samples: the p99 cannot be told apart, and says so with the count */
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "inconclusive update_latency.p99=+10%: inconclusive: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " samples (needs 500)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "update_latency.p50 "));
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);

  /* another seed is another scenario.json: refused, naming the hash, unless --allow-different */
  const char *seed[] = {"--seed", "2", NULL};
  CU_ASSERT_EQUAL_FATAL(run_into(scn, "small-seed2", seed), 0);
  const char *diff[] = {"compare", a, in_root("small-seed2", c, sizeof c), NULL};
  r = harness(diff, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "scenario_sha256: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "seed: 1 (BASE) vs 2 (NEW)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(ch_last_line(&r, last, sizeof last), "exit 3: different runs (scenario_sha256"));
  free(r.out);
  const char *allow[] = {"compare", a, c, "--allow-different", "--quiet", NULL};
  r = harness(allow, 30);
  CU_ASSERT_EQUAL(r.code, 0);
  free(r.out);

  /* merge: two runs of other seeds are not shards of one run; --force merges them; the output folder is made */
  char out[160];
  snprintf(out, sizeof out, "%s/merged/deeper/report.json", root);
  const char *merge[] = {"merge", a, c, "-o", out, NULL};
  r = harness(merge, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "is not a shard of the run of"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "seed 2 vs 1"));
  free(r.out);
  struct stat st;
  CU_ASSERT_NOT_EQUAL(stat(out, &st), 0);
  const char *merge_ab[] = {"merge", a, b, "-o", out, NULL};
  r = harness(merge_ab, 30);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_EQUAL(stat(out, &st), 0);
  free(r.out);
  const char *forced[] = {"merge", a, c, "-o", out, "--force", NULL};
  r = harness(forced, 30);
  CU_ASSERT_EQUAL(r.code, 0);
  free(r.out);

  /* a malformed gate is invalid input */
  const char *bad[] = {"compare", a, b, "--max-regression", "update_latency.p99=-10%", NULL};
  r = harness(bad, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "write the limit as +N"));
  free(r.out);
}

/* One endpoint port for both runs (so both scenario.json are the same bytes), the second with slow-updates. */
static int start_endpoint(int port, int control_port, unsigned faults, struct ch_server **out) {
  struct ch_server_opts so = {.port = port, .control_port = control_port, .listen_host = "127.0.0.1", .quiet = true};
  so.faults = faults;
  *out = NULL;
  if (ch_server_new(&so, out) || ch_server_start(*out))
    return -1;
  return 0;
}

static void test_compare_slow_updates_fails_the_latency_gate(void) {
  struct ch_server *srv;
  CU_ASSERT_EQUAL_FATAL(start_endpoint(0, 0, 0, &srv), 0);
  int port = ch_server_port(srv), cport = ch_server_control_port(srv);
  char scn[128], target[96], trigger[128], a[128], b[128], last[512], html[128], junit[128], json[128];
  CU_ASSERT_EQUAL_FATAL(ch_write_text(in_root("gated.json", scn, sizeof scn), gated_scenario), 0);
  ch_external_sets(port, cport, target, trigger);
  const char *sets[] = {"--set", target, "--set", trigger, NULL};
  CU_ASSERT_EQUAL(run_into(scn, "clean", sets), 0);
  ch_server_free(srv);
  CU_ASSERT_EQUAL_FATAL(start_endpoint(port, cport, 1u << CH_FAULT_SLOW_UPDATES, &srv), 0);
  CU_ASSERT_EQUAL(run_into(scn, "slow", sets), 0); /* its own thresholds: none; the gate is the comparison */
  ch_server_free(srv);
  in_root("cmp.html", html, sizeof html);
  in_root("cmp-junit.xml", junit, sizeof junit);
  in_root("cmp.json", json, sizeof json);
  const char *args[] = {"compare", in_root("clean", a, sizeof a), in_root("slow", b, sizeof b),
                        "--max-regression", "update_latency.p99=+10%", "--html", html, "--junit", junit, "--json",
                        json, NULL};
  struct ch_spawn_result r = harness(args, 30);
  CU_ASSERT_EQUAL(r.code, 2);
  /* the command line's gate and the scenario's compare section (p50 +50ms) fail; errors=0 holds */
  CH_ASSERT_STR(ch_last_line(&r, last, sizeof last),
                "exit 2: regression: update_latency.p99=+10%, update_latency.p50=+50ms (2 of 3 gates)");
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "update_latency.p99 regressed: "));
  if (r.code != 2)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
  char *x = ch_slurp(junit, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(x);
  CU_ASSERT_PTR_NOT_NULL(strstr(x, "tests=\"3\" failures=\"2\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(x, "name=\"update_latency.p99=+10%\" time=\"0\"><failure type=\"regression\""));
  free(x);
  x = ch_slurp(html, NULL);
  CU_ASSERT_TRUE(x && strstr(x, "id=\"chart-compare-percentiles\"") != NULL);
  free(x);
  x = ch_slurp(json, NULL);
  CU_ASSERT_TRUE(x && strstr(x, "\"gates_failed\":\t2") != NULL);
  free(x);
}

/* The scenario's compare section is validated like the rest of the file, errors naming the path. */
static void test_validate_names_a_bad_compare_gate(void) {
  char scn[128];
  const char *text = "{\"clients\": [{\"count\": 1}], \"phases\": [{\"type\": \"connect\"}],\n"
                     " \"compare\": {\"max_regression\": {\"update_latency.p99\": \"10\"}, \"max_regresion\": {}}}\n";
  CU_ASSERT_EQUAL_FATAL(ch_write_text(in_root("bad-compare.json", scn, sizeof scn), text), 0);
  const char *args[] = {"validate", scn, NULL};
  struct ch_spawn_result r = harness(args, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "$.compare.max_regression[\"update_latency.p99\"]: gate \"update_latency.p99=10\": "
                                       "a latency limit needs a unit"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "did you mean \"max_regression\""));
  if (r.code != 3)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/ch-compare-test-XXXXXX");
  if (!mkdtemp(root))
    return 2;
  CU_TestInfo tests[] = {CH_TEST(test_compare_two_runs_of_one_scenario),
                         CH_TEST(test_compare_slow_updates_fails_the_latency_gate),
                         CH_TEST(test_validate_names_a_bad_compare_gate), CU_TEST_INFO_NULL};
  int rc = ch_test_run("compare_cli", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", root);
  return rc;
}
