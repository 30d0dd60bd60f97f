/* Several triggers per scenario (issue #12): the array form with "clients"/"hub", {{hub}} and {{env.NAME}}, the
   refusals (a key two triggers drive, a population no trigger reaches unless passive, an unknown population, an
   unset variable), the effective form written back, and check's trigger files read by the same parser. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_template.h"
#include "ch_test.h"

#define PHASES "\"phases\":[{\"type\":\"connect\"},{\"type\":\"trigger\",\"duration\":\"1s\"}]"
#define POPS                                                                                                          \
  "\"clients\":[{\"name\":\"parts\",\"count\":4,\"subscribe\":{\"key_count\":2,\"prefix\":\"P-\"}},"                  \
  "{\"name\":\"jobs\",\"count\":2,\"hub\":\"JobEventHub\",\"subscribe\":{\"keys\":[\"J-1\"]}}]"
#define REQ "\"http\":{\"url\":\"http://127.0.0.1:9/publish\",\"body\":{\"hub\":\"{{hub}}\",\"key\":\"{{key}}\"," \
            "\"n\":\"{{nonce}}\"}}"

static struct ch_scenario *load(const char *json, struct ch_buf *err) {
  struct ch_scenario *s = NULL;
  ch_buf_reset(err);
  ch_scenario_from_json_string(json, strlen(json), "t.json", NULL, 0, &s, err);
  return s;
}

/* json must be refused, naming path and saying what. */
static void refused(const char *json, const char *path, const char *what) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load(json, &err);
  CU_ASSERT_PTR_NULL(s);
  ch_scenario_free(s);
  bool ok = err.data && strstr(err.data, path) && strstr(err.data, what);
  if (!ok)
    fprintf(stderr, "\nwanted %s / %s, got: %s", path, what, err.data ? err.data : "(nothing)");
  CU_ASSERT_TRUE(ok);
  ch_buf_free(&err);
}

static void test_array_form_per_hub(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{" POPS "," PHASES ",\"correlation\":{\"nonce\":\"/n\"},\"trigger\":["
           "{\"type\":\"http\",\"clients\":\"parts\",\"rate\":5," REQ "},"
           "{\"type\":\"http\",\"hub\":\"JobEventHub\",\"rate\":2,\"count\":3,\"arrival\":\"poisson\"," REQ "}]}",
           &err);
  if (!s)
    fprintf(stderr, "\n%s", err.data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->n_triggers, 2);
  CU_ASSERT_TRUE(s->trigger_array);
  CU_ASSERT_EQUAL(s->triggers[0].n_pops, 1);
  CU_ASSERT_EQUAL(s->triggers[0].pops[0], 0);
  CU_ASSERT_TRUE(s->triggers[1].has_hub);
  CU_ASSERT_EQUAL(s->triggers[1].hub, CH_SCN_HUB_JOB);
  CU_ASSERT_DOUBLE_EQUAL(s->triggers[1].rate, 2, 1e-9);
  CU_ASSERT_EQUAL(s->triggers[1].count, 3);
  CU_ASSERT_TRUE(ch_scenario_trigger_reaches(&s->triggers[0], &s->populations[0], 0));
  CU_ASSERT_FALSE(ch_scenario_trigger_reaches(&s->triggers[0], &s->populations[1], 1));
  CU_ASSERT_TRUE(ch_scenario_trigger_reaches(&s->triggers[1], &s->populations[1], 1));
  CU_ASSERT_PTR_NOT_NULL(strstr(s->triggers[1].label, "JobEventHub"));
  /* {{hub}} renders the hub it is given, JSON-escaped in a JSON body */
  struct ch_template_vars v = {.key = "J-1", .seq = 1, .nonce = "x", .now_ms = 1, .hub = "JobEventHub"};
  struct ch_buf out = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_template_render(s->triggers[1].http.body, &v, &out), 0);
  CH_ASSERT_STR(out.data, "{\"hub\":\"JobEventHub\",\"key\":\"J-1\",\"n\":\"x\"}");
  /* written back as an array with its scopes, and loaded again to the same text */
  struct ch_buf a = CH_BUF_INIT, b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &a), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"clients\":\t\"parts\""));
  struct ch_scenario *s2 = load(a.data, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
  CU_ASSERT_EQUAL(ch_scenario_to_json(s2, &b), 0);
  CH_ASSERT_STR(b.data, a.data);
  ch_scenario_free(s2);
  ch_scenario_free(s);
  ch_buf_free(&a), ch_buf_free(&b), ch_buf_free(&out), ch_buf_free(&err);
}

static void test_refusals_name_the_path(void) {
  /* a population no trigger reaches, unless passive */
  refused("{" POPS "," PHASES ",\"trigger\":[{\"clients\":\"parts\"}]}", "$.clients[1]",
          "population \"jobs\" subscribes to keys that no trigger drives");
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{\"clients\":[{\"name\":\"parts\",\"count\":1,\"subscribe\":{\"keys\":[\"a\"]}},{\"name\":\"jobs\","
           "\"count\":1,\"hub\":\"JobEventHub\",\"passive\":true,\"subscribe\":{\"keys\":[\"J\"]}}]," PHASES
           ",\"trigger\":[{\"clients\":\"parts\"}]}",
           &err);
  CU_ASSERT_PTR_NOT_NULL(s);
  CU_ASSERT_TRUE(s && s->populations[1].passive);
  ch_scenario_free(s);
  /* the object form keeps its meaning: a population on keys no trigger names is an isolation witness */
  s = load("{" POPS "," PHASES ",\"trigger\":{\"keys\":[\"P-0\"]}}", &err);
  CU_ASSERT_PTR_NOT_NULL(s);
  ch_scenario_free(s);
  ch_buf_free(&err);
  /* two triggers on one key */
  refused("{" POPS "," PHASES ",\"trigger\":[{},{\"keys\":[\"P-1\"]}]}", "$.trigger[1]",
          "found \"P-1\" driven by trigger[0] too");
  /* an unknown population, with a suggestion */
  refused("{" POPS "," PHASES ",\"trigger\":[{\"clients\":\"part\"},{\"hub\":\"JobEventHub\"}]}",
          "$.trigger[0].clients", "found \"part\" (did you mean \"parts\"?)");
  refused("{" POPS "," PHASES ",\"trigger\":[{\"clients\":\"parts\",\"hub\":\"JobEventHub\"}]}",
          "$.trigger[0].clients", "found both");
  refused("{" POPS "," PHASES ",\"trigger\":[{\"clients\":\"parts\",\"rat\":5}]}", "$.trigger[0].rat",
          "did you mean \"rate\"?");
  refused("{" POPS "," PHASES ",\"trigger\":[]}", "$.trigger", "expected an array of 1 to 32 triggers");
  /* placeholders: unknown, and an unset variable (never its value) */
  refused("{" POPS "," PHASES ",\"trigger\":[{\"type\":\"http\",\"http\":{\"url\":\"http://h/{{hubb}}\"}}]}",
          "$.trigger[0].http.url", "found \"{{hubb}}\"");
  unsetenv("CH_TEST_TRIG_UNSET");
  refused("{" POPS "," PHASES ",\"trigger\":{\"type\":\"http\",\"http\":{\"url\":\"http://h/\","
          "\"headers\":{\"X-Api-Key\":\"{{env.CH_TEST_TRIG_UNSET}}\"}}}}",
          "$.trigger.http.headers[\"X-Api-Key\"]", "environment variable CH_TEST_TRIG_UNSET to be set");
}

static void test_env_placeholder(void) {
  setenv("CH_TEST_TRIG_HOST", "127.0.0.1:8081", 1);
  setenv("CH_TEST_TRIG_KEY", "s3cr\"t", 1);
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load("{\"target\":{\"url\":\"http://127.0.0.1:1/C\"},\"clients\":[{\"count\":1,\"subscribe\":{\"keys\":[\"a\"]}}],"
           PHASES ",\"correlation\":{\"nonce\":\"/n\"},\"trigger\":{\"type\":\"http\",\"http\":{\"url\":"
           "\"http://{{env.CH_TEST_TRIG_HOST}}/p/{{key}}\",\"body\":{\"k\":\"{{env.CH_TEST_TRIG_KEY}}\","
           "\"n\":\"{{nonce}}\"}}}}",
           &err);
  if (!s)
    fprintf(stderr, "\n%s", err.data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct ch_template_vars v = {.key = "a b", .nonce = "N"};
  struct ch_buf out = CH_BUF_INIT;
  ch_template_render(s->triggers[0].http.url, &v, &out);
  CH_ASSERT_STR(out.data, "http://127.0.0.1:8081/p/a%20b"); /* the variable as written, the key encoded */
  ch_buf_reset(&out);
  ch_template_render(s->triggers[0].http.body, &v, &out);
  CH_ASSERT_STR(out.data, "{\"k\":\"s3cr\\\"t\",\"n\":\"N\"}");
  CU_ASSERT_EQUAL(ch_template_env_count(s->triggers[0].http.body), 1);
  CH_ASSERT_STR(ch_template_env_name(s->triggers[0].http.body, 0), "CH_TEST_TRIG_KEY");
  /* the written scenario keeps the placeholder, never the value */
  ch_buf_reset(&out);
  CU_ASSERT_EQUAL(ch_scenario_to_json_stored(s, &out), 0);
  CU_ASSERT_PTR_NULL(strstr(out.data, "s3cr"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "{{env.CH_TEST_TRIG_KEY}}"));
  ch_scenario_free(s);
  ch_buf_free(&out);
  ch_buf_free(&err);
}

static int parse_file(const char *json, struct ch_scn_trigger_file *f, struct ch_buf *err) {
  ch_buf_reset(err);
  return ch_scn_trigger_file_parse(json, strlen(json), "trig.json", false, f, err);
}

static void test_check_trigger_files(void) {
  struct ch_scn_trigger_file f;
  struct ch_buf err = CH_BUF_INIT;
  /* a scenario's trigger array: one request per hub */
  CU_ASSERT_EQUAL(parse_file("[{\"hub\":\"ResourceEventHub\"," REQ "},{\"hub\":\"JobEventHub\",\"type\":\"http\","
                             REQ "}]", &f, &err), 0);
  CU_ASSERT_EQUAL(f.n, 2);
  CU_ASSERT_EQUAL(f.triggers[0].type, CH_SCN_TRIGGER_HTTP); /* http is the default with a target */
  CU_ASSERT_EQUAL(f.triggers[1].hub, CH_SCN_HUB_JOB);
  ch_scn_trigger_file_free(&f);
  /* check's request form, with its correlation and timeout_ms; a string body still works */
  CU_ASSERT_EQUAL(parse_file("{\"method\":\"PUT\",\"url\":\"http://h/{{key}}\",\"body\":\"n={{nonce}}\","
                             "\"timeout_ms\":2500,\"correlation\":{\"nonce\":\"/Note\"}}", &f, &err), 0);
  CU_ASSERT_TRUE(f.triggers[0].legacy);
  CH_ASSERT_STR(f.triggers[0].http.method, "PUT");
  CU_ASSERT_EQUAL(f.triggers[0].http.timeout_ns, 2500000000ull);
  CH_ASSERT_STR(f.correlation.nonce, "/Note");
  ch_scn_trigger_file_free(&f);
  /* refusals with the path and a suggestion */
  CU_ASSERT_EQUAL(parse_file("{\"methd\":\"POST\",\"url\":\"http://h/\"}", &f, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "trig.json: $.methd: unknown key \"methd\" (did you mean \"method\"?)"));
  CU_ASSERT_EQUAL(parse_file("[{\"http\":{\"url\":\"http://h/{{nonse}}\"}}]", &f, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "trig.json: $[0].http.url: expected a placeholder"));
  CU_ASSERT_EQUAL(parse_file("{\"clients\":\"parts\"," REQ "}", &f, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "$.clients: expected \"hub\" here"));
  CU_ASSERT_EQUAL(parse_file("[{\"url\":\"http://h/a\"},{\"url\":\"http://h/b\"}]", &f, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "request 2 of the array: expected \"hub\""));
  CU_ASSERT_EQUAL(parse_file("{\"url\": ", &f, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "trig.json:1:"));
  ch_buf_free(&err);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_array_form_per_hub), CH_TEST(test_refusals_name_the_path),
                         CH_TEST(test_env_placeholder), CH_TEST(test_check_trigger_files), CU_TEST_INFO_NULL};
  return ch_test_run("scenario_triggers", tests);
}
