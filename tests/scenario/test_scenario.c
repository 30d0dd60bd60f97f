/* Tests of the scenario loader: shipped files, defaults, every error class (file, path, expected, found),
   --set overrides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ch_scenario.h"
#include "ch_test.h"

static const char *const shipped[] = {"smoke", "conformance", "auth", "fanout-1k", "transports",
                                      "reconnect", "soak-10m", "capacity-fanout", "capacity-rate", "reconnect-storm",
                                      "sessions", "sessions-ramp"};

/* Loads a scenario from text; returns the scenario or NULL with the errors in err. */
static struct ch_scenario *load(const char *json, const char *const *sets, size_t nsets, struct ch_buf *err) {
  struct ch_scenario *s = NULL;
  ch_buf_reset(err);
  int rc = ch_scenario_from_json_string(json, strlen(json), "t.json", sets, nsets, &s, err);
  CU_ASSERT_EQUAL(rc == 0, s != NULL);
  return s;
}

/* Asserts that json fails with a line containing every one of the fragments. */
static void expect_error(const char *json, const char *const *sets, size_t nsets, const char *a, const char *b,
                         const char *c) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load(json, sets, nsets, &err);
  CU_ASSERT_PTR_NULL(s);
  ch_scenario_free(s);
  bool found = false;
  for (char *line = err.data; line && *line && !found;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    found = strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c));
    if (nl)
      *nl = '\n';
    line = nl ? nl + 1 : NULL;
  }
  if (!found)
    fprintf(stderr, "\nexpected an error with [%s] [%s] [%s], got:\n%s", a, b ? b : "", c ? c : "",
            err.data ? err.data : "(nothing)\n");
  CU_ASSERT_TRUE(found);
  ch_buf_free(&err);
}

#define MIN_CLIENTS "\"clients\":[{\"count\":3}]"
#define MIN_PHASES "\"phases\":[{\"type\":\"connect\"},{\"type\":\"disconnect\"}]"

static void test_scenario_shipped_files_load(void) {
  for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, CH_SOURCE_DIR "/scenarios/%s.json", shipped[i]);
    struct ch_scenario *s = NULL;
    struct ch_buf err = CH_BUF_INIT;
    int rc = ch_scenario_load(path, NULL, 0, &s, &err);
    if (rc)
      fprintf(stderr, "\n%s", err.data ? err.data : "");
    CU_ASSERT_EQUAL(rc, 0);
    if (s) {
      CH_ASSERT_STR(s->name, shipped[i]);
      CU_ASSERT_TRUE(s->n_populations > 0 && s->n_phases > 0);
      CU_ASSERT_PTR_NULL(s->target.url); /* every shipped file runs against the embedded endpoint */
    }
    ch_scenario_free(s);
    ch_buf_free(&err);
  }
}

static void test_scenario_shipped_sizes_and_shortening(void) {
  struct ch_scenario *s = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_scenario_load(CH_SOURCE_DIR "/scenarios/fanout-1k.json", NULL, 0, &s, &err), 0);
  CU_ASSERT_EQUAL(s->populations[0].count, 1000);
  CU_ASSERT_EQUAL(s->populations[0].subscribe.n_keys, 1);
  ch_scenario_free(s);
  const char *sets[] = {"phases.2.duration=5s"};
  CU_ASSERT_EQUAL_FATAL(ch_scenario_load(CH_SOURCE_DIR "/scenarios/soak-10m.json", sets, 1, &s, &err), 0);
  CU_ASSERT_EQUAL(s->phases[2].type, CH_SCN_PHASE_TRIGGER);
  CU_ASSERT_EQUAL(s->phases[2].duration_ns, 5000000000ull);
  ch_scenario_free(s);
  CU_ASSERT_EQUAL_FATAL(ch_scenario_load(CH_SOURCE_DIR "/scenarios/capacity-fanout.json", NULL, 0, &s, &err), 0);
  CU_ASSERT_TRUE(s->capacity.enabled);
  CU_ASSERT_EQUAL(s->capacity.step_what, CH_SCN_CAPACITY_SUBSCRIBERS_PER_KEY);
  CU_ASSERT_EQUAL(s->capacity.n_slo, 3);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

static void test_scenario_defaults_applied(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load("{" MIN_CLIENTS "," MIN_PHASES "}", NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CH_ASSERT_STR(s->name, "t");
  CU_ASSERT_EQUAL(s->seed, 1);
  CU_ASSERT_EQUAL(s->workers, 0);
  CU_ASSERT_EQUAL(s->processes, 1);
  CU_ASSERT_PTR_NULL(s->target.url);
  CU_ASSERT_EQUAL(s->target.auth.mode, CH_SCN_AUTH_NONE);
  CH_ASSERT_STR(s->target.auth.scheme, "Bearer");
  CH_ASSERT_STR(s->target.auth.query_param, "access_token");
  const struct ch_population *p = &s->populations[0];
  CH_ASSERT_STR(p->name, "clients0");
  CU_ASSERT_EQUAL(p->hub, CH_SCN_HUB_RESOURCE);
  CH_ASSERT_STR(p->hub_name, "ResourceEventHub");
  CU_ASSERT_EQUAL(p->n_transports, 1);
  CU_ASSERT_EQUAL(p->transports[0], CH_SCN_WEBSOCKETS);
  CU_ASSERT_FALSE(p->transport_auto);
  CH_ASSERT_STR(p->client_protocol, "2.1");
  CH_ASSERT_STR(p->key_pointer, "/PartKey");
  CU_ASSERT_EQUAL(p->credentials, CH_SCN_CRED_VALID);
  CU_ASSERT_EQUAL(s->trigger.type, CH_SCN_TRIGGER_REFERENCE); /* embedded target */
  CU_ASSERT_DOUBLE_EQUAL(s->trigger.rate, 10, 1e-9);
  CU_ASSERT_TRUE(s->trigger.keys_subscribed);
  CH_ASSERT_STR(s->correlation.sequence, "/HarnessSeq");
  CH_ASSERT_STR(s->correlation.server_time_us, "/HarnessSentUs");
  CU_ASSERT_PTR_NULL(s->correlation.nonce);
  CU_ASSERT_EQUAL(s->expect.delivery, CH_SCN_DELIVERY_EXACTLY_ONCE);
  CU_ASSERT_TRUE(s->expect.in_order && s->expect.isolation);
  CU_ASSERT_EQUAL(s->expect.deadline_ns, 5000000000ull);
  CU_ASSERT_EQUAL(s->expect.unsubscribe_grace_ns, 1000000000ull);
  CU_ASSERT_EQUAL(s->phases[0].timeout_ns, 30000000000ull);
  CH_ASSERT_STR(s->phases[0].name, "connect");
  CU_ASSERT_EQUAL(s->phases[0].population, -1);
  ch_scenario_free(s);
  /* JobEventHub keys default to /PipeId; an explicit correlation.key wins */
  s = load("{\"clients\":[{\"count\":1,\"hub\":\"JobEventHub\"}]," MIN_PHASES "}", NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CH_ASSERT_STR(s->populations[0].key_pointer, "/PipeId");
  CH_ASSERT_STR(ch_scn_hub_subscribe_method(s->populations[0].hub), "SubscribeToPipeline");
  ch_scenario_free(s);
  s = load("{\"clients\":[{\"count\":1,\"hub\":\"JobEventHub\"}],\"correlation\":{\"key\":\"/Job/Pipe\"},"
           MIN_PHASES "}", NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CH_ASSERT_STR(s->populations[0].key_pointer, "/Job/Pipe");
  ch_scenario_free(s);
  ch_buf_free(&err);
}

static void test_scenario_transports_and_auto(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{\"clients\":[{\"count\":1,\"transport\":\"auto\"},{\"count\":1,\"transport\":[\"longPolling\","
           "\"serverSentEvents\"]},{\"count\":1,\"transport\":\"serverSentEvents\"}]," MIN_PHASES "}",
           NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_TRUE(s->populations[0].transport_auto);
  CU_ASSERT_EQUAL(s->populations[0].n_transports, 3);
  CU_ASSERT_EQUAL(s->populations[0].transports[2], CH_SCN_LONGPOLLING);
  CU_ASSERT_EQUAL(s->populations[1].n_transports, 2);
  CU_ASSERT_EQUAL(s->populations[1].transports[0], CH_SCN_LONGPOLLING);
  CU_ASSERT_EQUAL(s->populations[2].transports[0], CH_SCN_SSE);
  CU_ASSERT_EQUAL(s->total_clients, 3);
  CU_ASSERT_EQUAL(s->populations[2].first_client, 2);
  CH_ASSERT_STR(ch_scn_transport_name(CH_SCN_SSE), "serverSentEvents");
  ch_scenario_free(s);
  ch_buf_free(&err);
}

static void test_scenario_error_unknown_key_suggests(void) {
  expect_error("{\"clients\":[{\"count\":3,\"trasnport\":\"webSockets\"}]," MIN_PHASES "}", NULL, 0,
               "t.json: $.clients[0].trasnport: unknown key \"trasnport\"", "did you mean \"transport\"", NULL);
  expect_error("{\"thresholds\":[],\"clinets\":[]," MIN_CLIENTS "," MIN_PHASES "}", NULL, 0, "$.clinets",
               "did you mean \"clients\"", NULL);
  /* enum values get suggestions too */
  expect_error("{\"clients\":[{\"count\":3,\"hub\":\"ResourceEventHubb\"}]," MIN_PHASES "}", NULL, 0,
               "$.clients[0].hub: expected one of \"ResourceEventHub\" or \"JobEventHub\"",
               "did you mean \"ResourceEventHub\"", "found \"ResourceEventHubb\"");
}

static void test_scenario_error_wrong_type_names_expected_and_found(void) {
  expect_error("{\"clients\":[{\"count\":\"ten\"}]," MIN_PHASES "}", NULL, 0,
               "t.json: $.clients[0].count: expected a positive integer", "found \"ten\"", NULL);
  expect_error("{\"clients\":[{\"count\":0}]," MIN_PHASES "}", NULL, 0, "$.clients[0].count", "found 0", NULL);
  expect_error("{\"clients\":[{\"count\":2.5}]," MIN_PHASES "}", NULL, 0, "$.clients[0].count", "found 2.5", NULL);
  expect_error("{\"clients\":{}," MIN_PHASES "}", NULL, 0, "$.clients: expected an array", "found an object", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"expect\":{\"in_order\":\"yes\"}}", NULL, 0,
               "$.expect.in_order: expected true or false", "found \"yes\"", NULL);
  expect_error("{" MIN_PHASES "}", NULL, 0, "$.clients: expected an array", "required", "found nothing");
  expect_error("[1,2]", NULL, 0, "t.json: $: expected a JSON object", "found an array of 2", NULL);
}

static void test_scenario_error_durations(void) {
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\",\"timeout\":30}]}", NULL, 0,
               "$.phases[0].timeout: expected a duration", "found 30", "bare number");
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\",\"timeout\":\"30\"}]}", NULL, 0,
               "$.phases[0].timeout: expected a duration", "found \"30\"", "add a unit");
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"},{\"type\":\"hold\",\"duration\":\"5 secs\"}]}",
               NULL, 0, "$.phases[1].duration: expected a duration", "found \"5 secs\"", NULL);
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"},{\"type\":\"hold\"}]}", NULL, 0,
               "$.phases[1].duration: expected a duration", "required", NULL);
}

static void test_scenario_error_urls_hubs_phases(void) {
  expect_error("{\"target\":{\"url\":\"ftp://x/Centro\"}," MIN_CLIENTS "," MIN_PHASES "}", NULL, 0,
               "$.target.url: expected a URL scheme", "ftp://x/Centro", NULL);
  expect_error("{\"target\":{\"url\":\"http://user:secret@h/\"}," MIN_CLIENTS "," MIN_PHASES "}", NULL, 0,
               "$.target.url", "user:password", NULL);
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"conect\"}]}", NULL, 0, "$.phases[0].type",
               "did you mean \"connect\"", NULL);
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"subscribe\"}]}", NULL, 0, "$.phases[0]",
               "expected a connect phase before \"subscribe\"", NULL);
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"},{\"type\":\"hold\",\"duration\":\"1s\","
               "\"timeout\":\"2s\"}]}", NULL, 0, "$.phases[1].timeout: unknown key", NULL, NULL);
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"},{\"type\":\"verify_silence\",\"duration\":"
               "\"1s\"}]}", NULL, 0, "$.phases[1]", "unsubscribe phase before verify_silence", NULL);
  expect_error("{" MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\",\"clients\":\"nobody\"}]}", NULL, 0,
               "$.phases[0].clients: expected the name of a population (\"clients0\")", "found \"nobody\"", NULL);
  expect_error("{\"clients\":[{\"count\":1,\"transport\":\"websockets\"}]," MIN_PHASES "}", NULL, 0,
               "$.clients[0].transport", "did you mean \"webSockets\"", NULL);
}

static void test_scenario_error_thresholds(void) {
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[\"update_latncy.p99 < 250ms\"]}", NULL, 0,
               "$.thresholds[0]: expected a known metric", "found \"update_latncy.p99\"",
               "did you mean \"update_latency.p99\"");
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[\"conect_errors == 0\"]}", NULL, 0,
               "$.thresholds[0]: expected a known metric", "did you mean \"connect_errors\"", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[\"update_latency.p99 < 250\"]}", NULL, 0,
               "$.thresholds[0]", "duration with a unit", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[\"delivery_ratio => 0.9\"]}", NULL, 0,
               "$.thresholds[0]: expected a threshold", NULL, NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[\"connect_errors == 5ms\"]}", NULL, 0,
               "$.thresholds[0]", "not a latency", NULL);
}

static void test_scenario_error_syntax_line_and_column(void) {
  expect_error("{\n  \"clients\": [{\"count\": 3}]\n  \"phases\": []\n}", NULL, 0, "t.json:3:3: syntax error",
               "expected ',' or '}'", "found '\"'");
  expect_error("{\"clients\": [{\"count\": 3},]}", NULL, 0, "t.json:1:", "syntax error", "trailing comma");
  expect_error("{\"clients\": [", NULL, 0, "syntax error", "found the end of the file", NULL);
  expect_error("{} x", NULL, 0, "t.json:1:4: syntax error", "end of the file after the top-level value", NULL);
  expect_error("{ // comment\n}", NULL, 0, "t.json:1:3: syntax error", "without comments", NULL);
  /* a UTF-8 byte order mark (Windows editors) is accepted */
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load("\xEF\xBB\xBF{" MIN_CLIENTS "," MIN_PHASES "}", NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL(s);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

static void test_scenario_error_missing_file(void) {
  struct ch_scenario *s = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_scenario_load("/nonexistent/dir/x.json", NULL, 0, &s, &err), -ENOENT);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "/nonexistent/dir/x.json"));
  ch_buf_free(&err);
  /* a missing token file names the file (relative paths resolve against the scenario's folder) */
  expect_error("{\"target\":{\"auth\":{\"token_file\":\"no-such-tokens.txt\"}}," MIN_CLIENTS "," MIN_PHASES "}",
               NULL, 0, "$.target.auth.token_file: expected a readable file", "no-such-tokens.txt", NULL);
}

static void test_scenario_collects_all_errors(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load("{\"clients\":[{\"count\":-1,\"hub\":\"X\"}],\"phases\":[{\"type\":\"connect\","
                               "\"timeout\":\"1x\"}],\"seed\":\"a\"}",
                               NULL, 0, &err);
  CU_ASSERT_PTR_NULL(s);
  size_t lines = 0;
  for (const char *p = err.data; p && (p = strchr(p, '\n')); p++)
    lines++;
  CU_ASSERT_EQUAL(lines, 4);
  ch_buf_free(&err);
}

static void test_scenario_tokens_never_in_errors(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load("{\"target\":{\"auth\":{\"token\":\"s3cr3t-tok\",\"mode\":\"none\"},"
                               "\"bad_tokens\":[\"b4d-s3cr3t\", 5]},\"clients\":[{\"count\":1,"
                               "\"credentials\":\"bda\"}]," MIN_PHASES "}",
                               NULL, 0, &err);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(err.data);
  CU_ASSERT_PTR_NULL(strstr(err.data, "s3cr3t"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "$.target.auth"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "$.target.bad_tokens[1]"));
  /* a token in the target URL's query string, in the scheme, or unquoted is not echoed either */
  s = load("{\"target\":{\"url\":\"https://h/Centro?access_token=s3cr3t-q\",\"auth\":{\"scheme\":"
           "\"Bearer s3cr3t-s\"}}," MIN_CLIENTS "," MIN_PHASES "}", NULL, 0, &err);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "$.target.url: expected a base URL without query string"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "$.target.auth.scheme"));
  CU_ASSERT_PTR_NULL(strstr(err.data, "s3cr3t"));
  s = load("{\"target\":{\"auth\":{\"token\":s3cr3tvalue}}}", NULL, 0, &err);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "syntax error"));
  CU_ASSERT_PTR_NULL(strstr(err.data, "s3cr3t"));
  /* also when the token comes from --set */
  const char *sets[] = {"target.auth.token=7777777"};
  s = load("{\"target\":{\"auth\":{\"mode\":\"header\"}}," MIN_CLIENTS "," MIN_PHASES "}", sets, 1, &err);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NULL(strstr(err.data ? err.data : "", "7777777"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data ? err.data : "", "from --set target.auth.token"));
  ch_buf_free(&err);
}

static void test_scenario_set_overrides(void) {
  struct ch_buf err = CH_BUF_INIT;
  const char *sets[] = {"clients.0.count=5000", "seed=42", "clients.0.transport=longPolling",
                        "expect.deadline=\"250ms\"", "name=renamed", "trigger.rate=2.5"};
  struct ch_scenario *s = load("{" MIN_CLIENTS "," MIN_PHASES "}", sets, 6, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->populations[0].count, 5000);
  CU_ASSERT_EQUAL(s->seed, 42);
  CU_ASSERT_EQUAL(s->populations[0].transports[0], CH_SCN_LONGPOLLING);
  CU_ASSERT_EQUAL(s->expect.deadline_ns, 250000000ull);
  CH_ASSERT_STR(s->name, "renamed");
  CU_ASSERT_DOUBLE_EQUAL(s->trigger.rate, 2.5, 1e-9);
  ch_scenario_free(s);
  /* appending a population, JSON values */
  const char *add[] = {"clients.1={\"name\":\"extra\",\"count\":2}"};
  s = load("{" MIN_CLIENTS "," MIN_PHASES "}", add, 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->n_populations, 2);
  CU_ASSERT_EQUAL(s->total_clients, 5);
  ch_scenario_free(s);
  /* errors: unknown key, bad index, wrong type, syntax of the option */
  const char *bad1[] = {"clients.0.cuont=5"};
  expect_error("{" MIN_CLIENTS "," MIN_PHASES "}", bad1, 1, "$.clients[0].cuont: unknown key",
               "did you mean \"count\"", "(from --set clients.0.cuont)");
  const char *bad2[] = {"clients.3.count=5"};
  expect_error("{" MIN_CLIENTS "," MIN_PHASES "}", bad2, 1, "t.json: --set clients.3.count", "index", "3");
  const char *bad3[] = {"clients.0.count=many"};
  expect_error("{" MIN_CLIENTS "," MIN_PHASES "}", bad3, 1, "$.clients[0].count: expected a positive integer",
               "found \"many\"", "(from --set clients.0.count)");
  const char *bad4[] = {"justapath"};
  expect_error("{" MIN_CLIENTS "," MIN_PHASES "}", bad4, 1, "--set justapath: expected PATH=VALUE", NULL, NULL);
  const char *bad5[] = {"nosuch.deep.key=1"};
  expect_error("{" MIN_CLIENTS "," MIN_PHASES "}", bad5, 1, "$.nosuch: unknown key", "(from --set nosuch.deep.key)",
               NULL);
  ch_buf_free(&err);
}

static void test_scenario_subscribe_sources(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{\"clients\":[{\"count\":2,\"subscribe\":{\"range\":{\"prefix\":\"P\",\"from\":7,\"to\":9}}},"
           "{\"count\":2,\"subscribe\":{\"key_count\":3}},{\"count\":1,\"subscribe\":{\"keys\":[\"a\",\"b\"],"
           "\"generator\":\"zipf\",\"zipf_s\":2}}]," MIN_PHASES "}",
           NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->populations[0].subscribe.n_keys, 3);
  CH_ASSERT_STR(s->populations[0].subscribe.keys[2], "P9");
  CU_ASSERT_EQUAL(s->populations[0].subscribe.pick, CH_SCN_PICK_ALL);
  CU_ASSERT_EQUAL(ch_scenario_keys_per_client(&s->populations[0]), 3);
  CH_ASSERT_STR(s->populations[1].subscribe.keys[0], "key-0");
  CU_ASSERT_EQUAL(s->populations[1].subscribe.pick, CH_SCN_PICK_ROUND_ROBIN);
  CU_ASSERT_PTR_NOT_NULL(s->populations[2].subscribe.zipf_cdf);
  ch_scenario_free(s);
  expect_error("{\"clients\":[{\"count\":1,\"subscribe\":{\"keys\":[\"a\"],\"key_count\":3}}]," MIN_PHASES "}", NULL,
               0, "$.clients[0].subscribe: expected exactly one of keys, range and key_count", "found 2", NULL);
  expect_error("{\"clients\":[{\"count\":1,\"subscribe\":{\"keys\":[\"a\",\"b\"],\"per_client\":5,"
               "\"generator\":\"uniform\"}}]," MIN_PHASES "}",
               NULL, 0, "$.clients[0].subscribe.per_client", "<= the number of keys (2)", NULL);
  expect_error("{\"clients\":[{\"count\":1,\"subscribe\":{\"keys\":[\"a\",\"a\"]}}]," MIN_PHASES "}", NULL, 0,
               "$.clients[0].subscribe.keys[1]", "again", NULL);
  expect_error("{\"clients\":[{\"count\":1,\"subscribe\":{\"range\":{\"from\":9,\"to\":1}}}]," MIN_PHASES "}", NULL,
               0, "$.clients[0].subscribe.range.to", "to >= from", NULL);
  ch_buf_free(&err);
}

static void test_scenario_source_addresses(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load("{\"clients\":[{\"count\":1,\"source_addresses\":\"127.0.0.2-127.0.0.9\"},"
                               "{\"count\":1,\"source_addresses\":[\"::1\",\"127.0.0.1\"]}]," MIN_PHASES "}",
                               NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->populations[0].n_source_addresses, 8);
  CH_ASSERT_STR(s->populations[0].source_addresses[7], "127.0.0.9");
  CU_ASSERT_EQUAL(s->populations[1].n_source_addresses, 2);
  ch_scenario_free(s);
  expect_error("{\"clients\":[{\"count\":1,\"source_addresses\":\"127.0.0.9-127.0.0.2\"}]," MIN_PHASES "}", NULL,
               0, "$.clients[0].source_addresses", "found \"127.0.0.9-127.0.0.2\"", NULL);
  expect_error("{\"clients\":[{\"count\":1,\"source_addresses\":[\"localhost\"]}]," MIN_PHASES "}", NULL, 0,
               "$.clients[0].source_addresses[0]: expected an IP address", NULL, NULL);
  ch_buf_free(&err);
}

static void test_scenario_http_trigger(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{\"target\":{\"url\":\"https://staging.example/Centro\",\"auth\":{\"token_env\":\"CENTRO_TOKEN\"}},"
           MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"},{\"type\":\"trigger\",\"duration\":\"1s\"}],"
           "\"trigger\":{\"type\":\"http\",\"rate\":\"30/m\",\"http\":{\"url\":\"https://staging.example/api/parts/"
           "{{key}}/checkin\",\"headers\":{\"X-Nonce\":\"{{nonce}}\"},\"body\":{\"nonce\":\"{{nonce}}\"}}},"
           "\"correlation\":{\"nonce\":\"/Message\"}}",
           NULL, 0, &err);
  if (!s)
    fprintf(stderr, "\n%s", err.data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->target.auth.mode, CH_SCN_AUTH_HEADER);
  CU_ASSERT_EQUAL(s->target.auth.source, CH_SCN_TOKEN_ENV);
  CU_ASSERT_EQUAL(s->trigger.type, CH_SCN_TRIGGER_HTTP);
  CU_ASSERT_DOUBLE_EQUAL(s->trigger.rate, 0.5, 1e-9);
  CH_ASSERT_STR(s->trigger.http.method, "POST");
  CU_ASSERT_PTR_NULL(s->correlation.sequence); /* no reference endpoint: no HarnessSeq default */
  struct ch_buf out = CH_BUF_INIT;
  struct ch_template_vars v = {.key = "a b", .seq = 3, .nonce = "n\"1", .now_ms = 5};
  ch_template_render(s->trigger.http.url, &v, &out);
  CH_ASSERT_STR(out.data, "https://staging.example/api/parts/a%20b/checkin");
  ch_buf_reset(&out);
  ch_template_render(s->trigger.http.body, &v, &out);
  CH_ASSERT_STR(out.data, "{\"nonce\":\"n\\\"1\"}");
  ch_buf_free(&out);
  ch_scenario_free(s);
  expect_error("{\"target\":{\"url\":\"http://h/C\"}," MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"}],"
               "\"trigger\":{\"type\":\"http\",\"http\":{\"url\":\"http://h/{{part}}\"}},\"correlation\":"
               "{\"sequence\":\"/Seq\"}}",
               NULL, 0, "$.trigger.http.url: expected a placeholder", "found \"{{part}}\"", NULL);
  expect_error("{\"target\":{\"url\":\"http://h/C\"}," MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"}],"
               "\"trigger\":{\"type\":\"http\",\"http\":{\"url\":\"http://h/{{key}}\"}},\"correlation\":"
               "{\"nonce\":\"/N\"}}",
               NULL, 0, "$.correlation", "{{nonce}}", NULL);
  expect_error("{\"target\":{\"url\":\"http://h/C\"}," MIN_CLIENTS ",\"phases\":[{\"type\":\"connect\"}],"
               "\"trigger\":{\"type\":\"http\",\"http\":{\"url\":\"http://h/{{key}}\"}}}",
               NULL, 0, "$.expect", "correlation.sequence or correlation.nonce", NULL);
  ch_buf_free(&err);
}

/* The effective scenario loads back to itself, with credentials redacted. */
static void roundtrip(struct ch_scenario *s) {
  struct ch_buf a = CH_BUF_INIT, b = CH_BUF_INIT, err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_scenario_to_json(s, &a), 0);
  struct ch_scenario *s2 = NULL;
  int rc = ch_scenario_from_json_string(a.data, a.len, "again.json", NULL, 0, &s2, &err);
  if (rc)
    fprintf(stderr, "\n%s\n%s", a.data, err.data ? err.data : "");
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  CU_ASSERT_EQUAL(ch_scenario_to_json(s2, &b), 0);
  CH_ASSERT_STR(a.data, b.data ? b.data : "");
  CU_ASSERT_EQUAL(s2->total_clients, s->total_clients);
  ch_scenario_free(s2);
  ch_buf_free(&a);
  ch_buf_free(&b);
  ch_buf_free(&err);
}

/* The form stored beside a report: no credential of any kind, and it loads back (from another folder) to the
   same text, seed included, so its SHA-256 is the same on a re-run. */
static void test_scenario_stored_form_has_no_credentials_and_is_stable(void) {
  struct ch_buf err = CH_BUF_INIT, a = CH_BUF_INIT, b = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{\"seed\":9007199254740992,\"target\":{\"url\":\"https://h/C\","
           "\"auth\":{\"token\":\"s3cr3t\"},\"bad_tokens\":[\"b4d-token\"]},\"clients\":[{\"count\":2}],"
           "\"phases\":[{\"type\":\"connect\"}],\"trigger\":{\"type\":\"http\",\"http\":{\"url\":"
           "\"https://h/api/{{key}}?key={{key}}&api_key=k3y\",\"headers\":{\"Authorization\":\"Bearer tr1g\","
           "\"X-Api-Key\":\"{{nonce}}\",\"X-N\":\"plain\"}}},\"correlation\":{\"nonce\":\"/N\"}}",
           NULL, 0, &err);
  if (!s)
    fprintf(stderr, "\n%s", err.data ? err.data : "");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL_FATAL(ch_scenario_to_json_stored(s, &a), 0);
  const char *secrets[] = {"s3cr3t", "b4d-token", "k3y", "tr1g", "\"token\""};
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
    CU_ASSERT_PTR_NULL(strstr(a.data, secrets[i]));
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"https://h/C\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "?key={{key}}&api_key=[REDACTED]")); /* placeholders are kept */
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"X-Api-Key\":\t\"{{nonce}}\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"X-N\":\t\"plain\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"seed\":\t9007199254740992"));
  struct ch_scenario *s2 = NULL;
  int rc = ch_scenario_from_json_string(a.data, a.len, "reports/x/scenario.json", NULL, 0, &s2, &err);
  if (rc)
    fprintf(stderr, "\n%s\n%s", a.data, err.data ? err.data : "");
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  CU_ASSERT_EQUAL(s2->seed, s->seed);
  CU_ASSERT_EQUAL(s2->target.auth.source, CH_SCN_TOKEN_NONE);
  CU_ASSERT_EQUAL(ch_scenario_to_json_stored(s2, &b), 0);
  CH_ASSERT_STR(b.data, a.data);
  ch_scenario_free(s2);
  ch_scenario_free(s);
  ch_buf_free(&a), ch_buf_free(&b), ch_buf_free(&err);
}

static void test_scenario_to_json_roundtrip(void) {
  for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, CH_SOURCE_DIR "/scenarios/%s.json", shipped[i]);
    struct ch_scenario *s = NULL;
    struct ch_buf err = CH_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(ch_scenario_load(path, NULL, 0, &s, &err), 0);
    roundtrip(s);
    ch_scenario_free(s);
    ch_buf_free(&err);
  }
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{\"target\":{\"url\":\"https://h/C\",\"auth\":{\"token\":\"s3cr3t\",\"mode\":\"query\"},"
           "\"bad_tokens\":[\"b4d\"]},\"clients\":[{\"count\":2,\"transport\":[\"longPolling\",\"webSockets\"],"
           "\"ramp\":{\"duration\":\"1500ms\"},\"subscribe\":{\"range\":{\"prefix\":\"P\",\"from\":5,\"to\":9},"
           "\"generator\":\"zipf\",\"per_client\":2,\"zipf_s\":0.7},\"source_addresses\":\"10.0.0.1-10.0.0.3\","
           "\"credentials\":\"bad\"}],\"phases\":[{\"type\":\"connect\"},{\"type\":\"trigger\",\"duration\":"
           "\"1m30s\"},{\"type\":\"drop_reconnect\",\"fraction\":0.25}],\"trigger\":{\"type\":\"http\",\"rate\":"
           "\"30/m\",\"http\":{\"url\":\"https://h/api/{{key}}\",\"headers\":{\"X-N\":\"{{nonce}}\"},\"body\":"
           "{\"n\":\"{{nonce}}\"},\"expect_status\":204}},\"correlation\":{\"nonce\":\"/N\"},"
           "\"thresholds\":[\"error_rate < 1%\"],\"capacity\":{\"vary\":\"keys\",\"start\":1,\"step\":1,"
           "\"max\":4,\"step_duration\":\"2s\",\"slo\":[\"delivery_ratio >= 0.99\"]}}",
           NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  roundtrip(s);
  struct ch_buf text = CH_BUF_INIT;
  ch_scenario_to_json(s, &text);
  CU_ASSERT_PTR_NULL(strstr(text.data, "s3cr3t"));
  CU_ASSERT_PTR_NULL(strstr(text.data, "b4d"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text.data, "\"1500ms\""));
  ch_buf_free(&text);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

/* Every key that scenarios/schema.json allows is one the loader knows (and the loader knows no key the schema lacks:
   a key missing from the schema would make editors flag valid files). */
static void check_keys_known(const cJSON *props, const char *prefix, size_t nexpected) {
  size_t n = 0;
  for (const cJSON *it = props ? props->child : NULL; it; it = it->next, n++) {
    char set[160];
    snprintf(set, sizeof set, "%s%s=null", prefix, it->string);
    const char *sets[] = {set};
    struct ch_buf err = CH_BUF_INIT;
    struct ch_scenario *s = load("{" MIN_CLIENTS "," MIN_PHASES ",\"target\":{},\"trigger\":{},"
                                 "\"expect\":{},\"correlation\":{}}", sets, 1, &err);
    if (err.data && strstr(err.data, "unknown key"))
      fprintf(stderr, "\nschema key %s%s unknown to the loader: %s", prefix, it->string, err.data);
    CU_ASSERT_PTR_NULL(err.data ? strstr(err.data, "unknown key") : NULL);
    ch_scenario_free(s);
    ch_buf_free(&err);
  }
  CU_ASSERT_EQUAL(n, nexpected);
}

static void test_scenario_schema_matches_loader(void) {
  FILE *f = fopen(CH_SOURCE_DIR "/scenarios/schema.json", "rb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  static char text[65536];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  cJSON *schema = cJSON_Parse(text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
  check_keys_known(props, "", 15);
  const cJSON *target = cJSON_GetObjectItemCaseSensitive(props, "target");
  check_keys_known(cJSON_GetObjectItemCaseSensitive(target, "properties"), "target.", 6);
  const cJSON *tls = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(target, "properties"), "tls");
  check_keys_known(cJSON_GetObjectItemCaseSensitive(tls, "properties"), "target.tls.", 5);
  const cJSON *pop = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(props, "clients"), "items");
  check_keys_known(cJSON_GetObjectItemCaseSensitive(pop, "properties"), "clients.0.", 12); /* + passive, client_model, sessions */
  const cJSON *trig = cJSON_GetObjectItemCaseSensitive(props, "trigger");
  check_keys_known(cJSON_GetObjectItemCaseSensitive(trig, "properties"), "trigger.", 10); /* + clients, hub */
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(props, "expect");
  check_keys_known(cJSON_GetObjectItemCaseSensitive(exp, "properties"), "expect.", 7);
  const cJSON *cor = cJSON_GetObjectItemCaseSensitive(props, "correlation");
  check_keys_known(cJSON_GetObjectItemCaseSensitive(cor, "properties"), "correlation.", 4);
  cJSON_Delete(schema);
}

/* target.tls: files resolved and kept, written back, unreadable files and a key without a certificate refused with
   their path. */
static void test_scenario_target_tls(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{" MIN_CLIENTS "," MIN_PHASES ",\"target\":{\"url\":\"https://10.0.0.5/C\",\"tls\":{\"cert_file\":\"" CH_SOURCE_DIR
           "/scenarios/smoke.json\",\"key_file\":\"" CH_SOURCE_DIR "/scenarios/auth.json\",\"insecure\":true,"
           "\"server_name\":\"centro.example\"}}}",
           NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(s->target.cert_file ? s->target.cert_file : "", "smoke.json"));
  CU_ASSERT_PTR_NOT_NULL(strstr(s->target.key_file ? s->target.key_file : "", "auth.json"));
  CH_ASSERT_STR(s->target.server_name ? s->target.server_name : "", "centro.example");
  CU_ASSERT_TRUE(s->target.insecure);
  roundtrip(s);
  ch_scenario_free(s);
  ch_buf_free(&err);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"target\":{\"tls\":{\"cert_file\":\"/nonexistent/c.pem\"}}}", NULL, 0,
               "target.tls.cert_file", "/nonexistent/c.pem", "readable");
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"target\":{\"tls\":{\"key_file\":\"" CH_SOURCE_DIR
               "/scenarios/smoke.json\"}}}",
               NULL, 0, "target.tls.key_file", "cert_file", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"target\":{\"tls\":{\"cert\":\"x\"}}}", NULL, 0, "target.tls",
               "cert", NULL);
}

/* The reconnect storm's fields (#18): client_model and the drop phase, read, defaulted, written back, refused. */
static void test_scenario_client_model_and_drop_phase(void) {
  struct ch_buf err = CH_BUF_INIT, text = CH_BUF_INIT;
  struct ch_scenario *s = load("{\"clients\":[{\"count\":3,\"client_model\":\"official-js\"},{\"count\":2}],"
                               "\"phases\":[{\"type\":\"connect\"},{\"type\":\"drop\",\"timeout\":\"45s\"}]}",
                               NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->populations[0].client_model, CH_SCN_MODEL_OFFICIAL_JS);
  CU_ASSERT_EQUAL(s->populations[1].client_model, CH_SCN_MODEL_HARNESS);
  CU_ASSERT_EQUAL(s->phases[1].type, CH_SCN_PHASE_DROP);
  CU_ASSERT_EQUAL(s->phases[1].timeout_ns, 45000000000ull);
  CU_ASSERT_PTR_NULL(s->phases[1].url);
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &text), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(text.data, "\"official-js\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(text.data, "\"drop\""));
  ch_scenario_free(s);
  /* a drop phase against a target needs its url; a url must be http(s); no "clients" (the server drops everyone) */
  s = load("{\"target\":{\"url\":\"http://127.0.0.1:9/C\"},\"trigger\":{\"type\":\"none\"}," MIN_CLIENTS ","
           "\"phases\":[{\"type\":\"connect\"},{\"type\":\"drop\"},{\"type\":\"drop\",\"url\":\"ftp://x/drop\"},"
           "{\"type\":\"drop\",\"url\":\"http://127.0.0.1:9/drop\",\"clients\":\"clients0\"}]}",
           NULL, 0, &err);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_TRUE(err.data && strstr(err.data, "$.phases[1]: expected \"url\""));
  CU_ASSERT_TRUE(err.data && strstr(err.data, "$.phases[2].url: expected an absolute http:// or https:// URL"));
  CU_ASSERT_TRUE(err.data && strstr(err.data, "$.phases[3].clients: unknown key"));
  s = load("{" MIN_CLIENTS "," MIN_PHASES "}", (const char *const[]){"clients.0.client_model=\"js\""}, 1, &err);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_TRUE(err.data && strstr(err.data, "$.clients[0].client_model"));
  ch_scenario_free(s);
  ch_buf_free(&err);
  ch_buf_free(&text);
}

/* k6's abortOnFail, as an object in thresholds: read, written back, and refused where it cannot work. */
static void test_scenario_threshold_abort_on_fail(void) {
  struct ch_buf err = CH_BUF_INIT, text = CH_BUF_INIT;
  struct ch_scenario *s = load("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[{\"threshold\":\"update_latency.p99 < "
                               "250ms\",\"abort_on_fail\":true,\"delay_abort_eval\":\"10s\"},\"connect_errors == 0\"]}",
                               NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL_FATAL(s->n_thresholds, 2);
  CU_ASSERT_TRUE(s->thresholds[0].abort_on_fail);
  CU_ASSERT_EQUAL(s->thresholds[0].delay_abort_eval_ns, 10000000000ull);
  CH_ASSERT_STR(s->thresholds[0].metric, "update_latency.p99");
  CU_ASSERT_FALSE(s->thresholds[1].abort_on_fail);
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &text), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(text.data, "\"abort_on_fail\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(text.data, "\"connect_errors == 0\""));
  ch_scenario_free(s);
  ch_buf_free(&text);
  ch_buf_free(&err);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[{\"threshold\":\"delivery_ratio >= 0.999\","
               "\"abort_on_fail\":true}]}",
               NULL, 0, "$.thresholds[0].abort_on_fail", "delivery_ratio is only known once the run is judged", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[{\"threshold\":\"errors == 0\",\"abortOnFail\":true}]}",
               NULL, 0, "$.thresholds[0].abortOnFail", "unknown key", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[{\"abort_on_fail\":true}]}", NULL, 0,
               "$.thresholds[0].threshold", "required", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"thresholds\":[{\"threshold\":\"update_latncy.p99 < 1s\"}]}", NULL, 0,
               "$.thresholds[0].threshold", "update_latncy.p99", NULL);
}

/* The compare section: gates read, written back in the effective scenario, and refused with the path. */
static void test_scenario_compare_section(void) {
  struct ch_buf err = CH_BUF_INIT, text = CH_BUF_INIT;
  struct ch_scenario *s = load("{" MIN_CLIENTS "," MIN_PHASES ",\"compare\":{\"max_regression\":{"
                               "\"update_latency.p99{transport=webSockets}\":\"+10%\",\"errors\":0}}}",
                               NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL_FATAL(s->n_compare_gates, 2);
  CH_ASSERT_STR(s->compare_gates[0].transport, "webSockets");
  CH_ASSERT_STR(s->compare_gates[1].text, "errors=0");
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &text), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(text.data, "\"update_latency.p99{transport=webSockets}\":\t\"+10%\""));
  struct ch_scenario *again = load(text.data, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL(again);
  CU_ASSERT_EQUAL(again ? again->n_compare_gates : 0, 2);
  ch_scenario_free(again);
  ch_scenario_free(s);
  ch_buf_free(&text);
  ch_buf_free(&err);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"compare\":{\"max_regression\":{\"triggers\":\"+1\"}}}", NULL, 0,
               "$.compare.max_regression.triggers", "describes the workload", NULL);
  expect_error("{" MIN_CLIENTS "," MIN_PHASES ",\"compare\":{\"max_regression\":[\"errors=+0\"]}}", NULL, 0,
               "$.compare.max_regression", "an object of METRIC: LIMIT", NULL);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_scenario_compare_section),
      CH_TEST(test_scenario_shipped_files_load),
      CH_TEST(test_scenario_shipped_sizes_and_shortening),
      CH_TEST(test_scenario_defaults_applied),
      CH_TEST(test_scenario_transports_and_auto),
      CH_TEST(test_scenario_error_unknown_key_suggests),
      CH_TEST(test_scenario_error_wrong_type_names_expected_and_found),
      CH_TEST(test_scenario_error_durations),
      CH_TEST(test_scenario_error_urls_hubs_phases),
      CH_TEST(test_scenario_error_thresholds),
      CH_TEST(test_scenario_error_syntax_line_and_column),
      CH_TEST(test_scenario_error_missing_file),
      CH_TEST(test_scenario_collects_all_errors),
      CH_TEST(test_scenario_tokens_never_in_errors),
      CH_TEST(test_scenario_set_overrides),
      CH_TEST(test_scenario_subscribe_sources),
      CH_TEST(test_scenario_source_addresses),
      CH_TEST(test_scenario_http_trigger),
      CH_TEST(test_scenario_schema_matches_loader),
      CH_TEST(test_scenario_client_model_and_drop_phase),
      CH_TEST(test_scenario_threshold_abort_on_fail),
      CH_TEST(test_scenario_target_tls),
      CH_TEST(test_scenario_to_json_roundtrip),
      CH_TEST(test_scenario_stored_form_has_no_credentials_and_is_stable),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("scenario", tests);
}
