/* `check` as a release gate cannot go green by skipping: a trigger that cannot be carried out is an error of the
   run (exit 4, the request and status named, the token redacted, no second attempt); exit 0 needs a check passed;
   --strict fails on any skip; JUnit marks skips with their reason and counts them on <testsuites>. And checks whose
   precondition failed (credentials refused, not SignalR, wrong base path) are "not run" with the cause, exit 4.
   Real binary, loopback only. */
#include <stdbool.h>
#include <sys/stat.h>

#include "ch_responder.h"
#include "ch_endpoint.h"
#include "ch_spawn.h"
#include "ch_test.h"

#define TOKEN "gate-right-token-456"

static struct ch_server *srv;
static int srv_port;
static char dir[64], report_dir[96];

struct outcome {
  int code;
  char last[1024];
  char *out, *report, *junit; /* free them */
};

static struct outcome check(const char *const *args) {
  char *argv[32];
  int n = 0;
  argv[n++] = "centro-harness", argv[n++] = "check", argv[n++] = "--report-dir", argv[n++] = report_dir;
  for (int i = 0; args[i] && n < 31; i++)
    argv[n++] = (char *)args[i];
  argv[n] = NULL;
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", report_dir); /* no report of an earlier case can pass for this one */
  if (system(cmd) != 0)
    fprintf(stderr, "could not clear %s\n", report_dir);
  struct ch_spawn_result r = ch_spawn(argv, 240);
  struct outcome o = {r.code, "", r.out, NULL, NULL};
  ch_last_line(&r, o.last, sizeof o.last);
  char path[160];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  o.report = ch_slurp(path, NULL);
  snprintf(path, sizeof path, "%s/junit.xml", report_dir);
  o.junit = ch_slurp(path, NULL);
  if (!o.report)
    o.report = calloc(1, 1);
  if (!o.junit)
    o.junit = calloc(1, 1);
  return o;
}

static void done(struct outcome *o) {
  free(o->out), free(o->report), free(o->junit);
}

static const char *target(char *buf, size_t n, int port, const char *base) {
  snprintf(buf, n, "http://127.0.0.1:%d%s", port, base);
  return buf;
}

static void test_a_trigger_answered_404_is_a_run_error_not_a_skip(void) {
  struct ch_responder trig;
  CU_ASSERT_EQUAL_FATAL(ch_responder_start(&trig, 404, "text/plain", "no such route", "/trigger"), 0);
  char file[128], url[96];
  snprintf(file, sizeof file, "%s/trigger.json", dir);
  FILE *f = fopen(file, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  /* the token rides in the trigger's query: the message must not show it */
  fprintf(f, "{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/trigger/{{key}}?access_token=" TOKEN "\","
             "\"body\":\"{{nonce}}\",\"correlation\":{\"nonce\":\"/HarnessNonce\"}}", trig.port);
  fclose(f);
  const char *args[] = {"--target", target(url, sizeof url, srv_port, "/Centro"), "--token", TOKEN, "--trigger", file,
                        "--only", "delivery", "--transport", "ws", NULL};
  struct outcome o = check(args);
  char want[160];
  snprintf(want, sizeof want, "trigger POST http://127.0.0.1:%d/trigger/", trig.port);
  CU_ASSERT_EQUAL(o.code, 4);
  CU_ASSERT_EQUAL(strncmp(o.last, "exit 4: ", 8), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.last, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.last, "answered 404"));
  CU_ASSERT_PTR_NULL(strstr(o.out, TOKEN));
  CU_ASSERT_PTR_NULL(strstr(o.report, TOKEN));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.report, "answered 404")); /* the report is written with the reason */
  CU_ASSERT_EQUAL(atomic_load(&trig.hits), 1);                /* one failed trigger ends triggering */
  if (o.code != 4)
    fprintf(stderr, "\n%s\n", o.out);
  done(&o);
  ch_responder_stop(&trig);
}

static void test_exit_0_needs_a_passed_check(void) {
  /* AUTH-007 is skipped without --forbidden-key: nothing passed, so nothing was checked */
  char url[96];
  const char *args[] = {"--target", target(url, sizeof url, srv_port, "/Centro"), "--token", TOKEN, "--only",
                        "AUTH-007", NULL};
  struct outcome o = check(args);
  CU_ASSERT_EQUAL(o.code, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.last, "no check passed: 1 skipped, e.g. AUTH-007: needs --forbidden-key"));
  done(&o);
}

static void test_strict_fails_on_a_skip_and_junit_marks_it(void) {
  char url[96];
  const char *plain[] = {"--target", target(url, sizeof url, srv_port, "/Centro"), "--token", TOKEN, "--only",
                         "NEG-001,AUTH-007", NULL};
  struct outcome o = check(plain);
  CU_ASSERT_EQUAL(o.code, 0);
  CU_ASSERT_EQUAL(strncmp(o.last, "exit 0: all conformance checks passed (1 passed, 1 skipped, of 2)", 66), 0);
  /* JUnit: the skip with its reason, and the count on <testsuites> as on <testsuite> */
  CU_ASSERT_PTR_NOT_NULL(strstr(o.junit, "<skipped message=\"needs --forbidden-key\"/>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.junit, "tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"1\" time="));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.junit, "<testsuite name=\"conformance\" tests=\"2\" failures=\"0\" errors=\"0\" "
                                         "skipped=\"1\""));
  done(&o);
  const char *strict[] = {"--target", url, "--token", TOKEN, "--only", "NEG-001,AUTH-007", "--strict", NULL};
  o = check(strict);
  CU_ASSERT_EQUAL(o.code, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.last, "exit 1: 1 of 2 checks skipped and --strict is set (e.g. AUTH-007: needs "
                                        "--forbidden-key)"));
  done(&o);
}

/* Every selected check is "not run" with the cause; none passed, none failed as a server fault; exit 4. */
static void expect_not_run(const char *const *args, const char *cause) {
  struct outcome o = check(args);
  if (!strstr(o.last, cause))
    fprintf(stderr, "\nlast line: %s\nwanted: %s\n", o.last, cause);
  CU_ASSERT_EQUAL(o.code, 4);
  CU_ASSERT_EQUAL(strncmp(o.last, "exit 4: the run could not be carried out (", 42), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.last, cause));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "checks: 0 passed, 0 failed, 0 skipped, "));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "not run  NEG-004"));
  /* report.json: a result of its own; JUnit: an error of type not-run, not a failure */
  CU_ASSERT_PTR_NOT_NULL(strstr(o.report, "\"not_run\""));
  CU_ASSERT_PTR_NULL(strstr(o.report, "\"pass\""));
  CU_ASSERT_PTR_NULL(strstr(o.report, "\"fail\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.junit, "<error type=\"not-run\" message=\"not run: "));
  CU_ASSERT_PTR_NULL(strstr(o.junit, "<failure"));
  CU_ASSERT_PTR_NULL(strstr(o.out, TOKEN));
  done(&o);
}

static void test_refused_credentials_are_not_run_not_server_faults(void) {
  char url[96];
  const char *args[] = {"--target", target(url, sizeof url, srv_port, "/Centro"), "--token", "not-the-token", NULL};
  expect_not_run(args, "credentials refused: every negotiate answered 401: is the token right?");
}

static void test_a_url_that_is_not_signalr_is_not_run(void) {
  struct ch_responder page;
  CU_ASSERT_EQUAL_FATAL(ch_responder_start(&page, 200, "text/html; charset=utf-8", "<html>Welcome</html>", "/"), 0);
  char url[96];
  const char *args[] = {"--target", target(url, sizeof url, page.port, "/Centro"), "--token", TOKEN, NULL};
  expect_not_run(args, "not a SignalR endpoint: negotiate answered 200 text/html");
  ch_responder_stop(&page);
}

static void test_a_wrong_base_path_is_not_run(void) {
  char url[96], cause[160];
  const char *args[] = {"--target", target(url, sizeof url, srv_port, "/Wrong"), "--token", TOKEN, NULL};
  snprintf(cause, sizeof cause, "not a SignalR endpoint: 404 at http://127.0.0.1:%d/Wrong/signalr/negotiate: is the "
                                "base path right?", srv_port);
  expect_not_run(args, cause);
}

/* The credential from the environment (CI keeps it off the command line): the gate passes with it, the token
   appears nowhere in the output or report, and a variable that is not set is invalid input naming it. */
static void test_token_env_gives_the_credential(void) {
  char url[96];
  CU_ASSERT_EQUAL_FATAL(setenv("CH_GATE_TOKEN", TOKEN, 1), 0);
  const char *args[] = {"--target", target(url, sizeof url, srv_port, "/Centro"), "--token-env", "CH_GATE_TOKEN",
                        "--only", "NEG-001", NULL};
  struct outcome o = check(args);
  CU_ASSERT_EQUAL(o.code, 0);
  CU_ASSERT_EQUAL(strncmp(o.last, "exit 0: all conformance checks passed (1 passed", 47), 0);
  CU_ASSERT_PTR_NULL(strstr(o.out, TOKEN));
  CU_ASSERT_PTR_NULL(strstr(o.report, TOKEN));
  if (o.code != 0)
    fprintf(stderr, "\n%s\n", o.out);
  done(&o);
  unsetenv("CH_GATE_TOKEN");
  o = check(args);
  CU_ASSERT_EQUAL(o.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.last, "--token-env CH_GATE_TOKEN: the variable is not set"));
  done(&o);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

/* The trigger file takes what a scenario's http trigger takes (a JSON body object) and refuses what it would
   silently misread: a misspelt key (it ran with the default method) and several requests without "hub". */
static void test_trigger_file_body_object_and_refusals(void) {
  char file[128], url[96], text[512];
  snprintf(file, sizeof file, "%s/trigger.json", dir);
  snprintf(text, sizeof text,
           "{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/publish\","
           "\"body\":{\"hub\":\"ResourceEventHub\",\"key\":\"{{key}}\",\"payload\":{\"Note\":\"{{nonce}}\"}},"
           "\"correlation\":{\"nonce\":\"/Note\"}}",
           ch_server_control_port(srv));
  write_text(file, text);
  const char *args[] = {"--target", target(url, sizeof url, srv_port, "/Centro"), "--token", TOKEN, "--trigger", file,
                        "--only", "DEL-001", "--transport", "ws", NULL};
  struct outcome o = check(args);
  CU_ASSERT_EQUAL(o.code, 0);
  if (o.code != 0)
    fprintf(stderr, "\n%s\n", o.out);
  done(&o);
  char *methd = strstr(text, "\"method\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(methd);
  memcpy(methd, "\"methd\" ", 8); /* same length: "methd" and a space */
  write_text(file, text);
  o = check(args);
  CU_ASSERT_EQUAL(o.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "unknown key \"methd\" (did you mean \"method\"?)"));
  done(&o);
  write_text(file, "[{\"url\":\"http://127.0.0.1:1/a\"},{\"url\":\"http://127.0.0.1:1/b\"}]");
  o = check(args);
  CU_ASSERT_EQUAL(o.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "request 2 of the array: expected \"hub\""));
  done(&o);
}

/* One trigger model (issue #12): a scenario's trigger as the trigger file, one request for both hubs through {{hub}}
   (so hub isolation, DEL-004, runs) and the control API's address from {{env.NAME}}; bad files exit 3 naming the
   JSON path; --scenario gives the credential (target.auth.token_env) and the trigger. */
static void test_scenario_trigger_file_and_scenario(void) {
  char file[128], url[96], text[768], ctl[64];
  snprintf(file, sizeof file, "%s/trigger.json", dir);
  snprintf(ctl, sizeof ctl, "127.0.0.1:%d", ch_server_control_port(srv));
  setenv("CH_GATES_CONTROL", ctl, 1);
  setenv("CH_GATES_TOKEN", TOKEN, 1);
  write_text(file, "{\"type\": \"http\", \"rate\": 5,\n"
                   " \"http\": {\"url\": \"http://{{env.CH_GATES_CONTROL}}/publish\",\n"
                   "          \"body\": {\"hub\": \"{{hub}}\", \"key\": \"{{key}}\"}}}\n");
  const char *args[] = {"--target", target(url, sizeof url, srv_port, "/Centro"), "--token-env", "CH_GATES_TOKEN",
                        "--trigger", file, "--only", "DEL-001,DEL-004", "--transport", "ws", NULL};
  struct outcome o = check(args);
  CU_ASSERT_EQUAL(o.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "pass  DEL-004"));
  if (o.code != 0 || !strstr(o.out, "pass  DEL-004"))
    fprintf(stderr, "\n%s\n", o.out);
  done(&o);
  /* bad files: refused before anything runs, exit 3, the path named */
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"{\"type\": \"http\", \"htp\": {}}", "$.htp: unknown key \"htp\" (did you mean \"http\"?)"},
      {"[{\"http\": {\"url\": \"http://127.0.0.1:1/{{hubb}}\"}}]", "$[0].http.url: expected a placeholder"},
      {"{\"http\": {\"url\": \"http://{{env.CH_GATES_UNSET}}/publish\"}}",
       "$.http.url: expected the environment variable CH_GATES_UNSET to be set"},
  };
  unsetenv("CH_GATES_UNSET");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_text(file, bad[i].text);
    o = check(args);
    CU_ASSERT_EQUAL(o.code, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, bad[i].want));
    if (o.code != 3 || !strstr(o.out, bad[i].want))
      fprintf(stderr, "\nwanted %s:\n%s\n", bad[i].want, o.out);
    done(&o);
  }
  /* --scenario: its target.auth gives the credential and its trigger array drives both hubs */
  snprintf(text, sizeof text,
           "{\"name\": \"gates\", \"target\": {\"url\": \"http://127.0.0.1:%d/Centro\",\n"
           " \"auth\": {\"token_env\": \"CH_GATES_TOKEN\"}},\n"
           " \"clients\": [{\"count\": 1, \"subscribe\": {\"keys\": [\"1\"]}}],\n"
           " \"phases\": [{\"type\": \"connect\"}],\n"
           " \"trigger\": [{\"type\": \"http\", \"hub\": \"ResourceEventHub\", \"http\": {\"url\": "
           "\"http://{{env.CH_GATES_CONTROL}}/publish\", \"body\": {\"hub\": \"{{hub}}\", \"key\": \"{{key}}\"}}},\n"
           "  {\"type\": \"http\", \"hub\": \"JobEventHub\", \"keys\": [\"2\"], \"http\": {\"url\": "
           "\"http://{{env.CH_GATES_CONTROL}}/publish\", \"body\": {\"hub\": \"JobEventHub\", \"key\": \"{{key}}\"}}}],\n"
           " \"correlation\": {\"sequence\": null}, \"expect\": {\"delivery\": \"any\"}}\n",
           srv_port);
  snprintf(file, sizeof file, "%s/scenario.json", dir);
  write_text(file, text);
  const char *sargs[] = {"--scenario", file, "--only", "DEL-001,DEL-004", "--transport", "ws", NULL};
  o = check(sargs);
  CU_ASSERT_EQUAL(o.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "pass  DEL-004"));
  CU_ASSERT_PTR_NULL(strstr(o.report, TOKEN));
  if (o.code != 0)
    fprintf(stderr, "\n%s\n", o.out);
  done(&o);
  unsetenv("CH_GATES_TOKEN");
  o = check(sargs);
  CU_ASSERT_EQUAL(o.code, 3); /* the scenario's variable is unset: named, as run names it */
  CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "CH_GATES_TOKEN"));
  done(&o);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/ch-gates-%d", (int)getpid());
  snprintf(report_dir, sizeof report_dir, "%s/report", dir);
  if (mkdir(dir, 0755))
    return 1;
  if (!(srv = ch_endpoint_start(TOKEN)))
    return 1;
  srv_port = ch_server_port(srv);
  CU_TestInfo tests[] = {CH_TEST(test_a_trigger_answered_404_is_a_run_error_not_a_skip),
                         CH_TEST(test_exit_0_needs_a_passed_check),
                         CH_TEST(test_strict_fails_on_a_skip_and_junit_marks_it),
                         CH_TEST(test_refused_credentials_are_not_run_not_server_faults),
                         CH_TEST(test_a_url_that_is_not_signalr_is_not_run),
                         CH_TEST(test_a_wrong_base_path_is_not_run),
                         CH_TEST(test_token_env_gives_the_credential),
                         CH_TEST(test_trigger_file_body_object_and_refusals),
                         CH_TEST(test_scenario_trigger_file_and_scenario),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("check_gates", tests);
  ch_server_free(srv);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return rc;
}
