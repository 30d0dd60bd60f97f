/* target.auth.login and target.auth.command: what the loader accepts, the errors it gives (path, expected, found,
   "did you mean"), and the effective and stored forms (round trip, literal secrets redacted). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_test.h"

static const char HEAD[] = "{\"name\": \"a\", \"target\": {\"url\": \"http://127.0.0.1:1\", \"auth\": ";
static const char TAIL[] = "}, \"clients\": [{\"count\": 2, \"subscribe\": {\"keys\": [\"K\"]}}], \"phases\": "
                           "[{\"type\": \"connect\"}]}";

static struct ch_scenario *load_auth(const char *auth, struct ch_buf *err) {
  struct ch_buf j = CH_BUF_INIT;
  ch_buf_printf(&j, "%s%s%s", HEAD, auth, TAIL);
  struct ch_scenario *s = NULL;
  ch_buf_reset(err);
  ch_scenario_from_json_string(j.data, j.len, "t.json", NULL, 0, &s, err);
  ch_buf_free(&j);
  return s;
}

static void expect_auth_error(const char *auth, const char *a, const char *b) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load_auth(auth, &err);
  CU_ASSERT_PTR_NULL(s);
  bool ok = err.data && strstr(err.data, a) && (!b || strstr(err.data, b));
  if (!ok)
    fprintf(stderr, "\nexpected [%s] [%s] in:\n%s\n", a, b ? b : "", err.data ? err.data : "(none)");
  CU_ASSERT_TRUE(ok);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

static void test_login_defaults_and_fields(void) {
  setenv("CH_TEST_CLIENT_SECRET", "cs-value", 1);
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s =
      load_auth("{\"login\": {\"url\": \"https://idp.example/token\", \"headers\": {\"X-Tenant\": \"t1\"},"
                " \"body\": \"grant_type=client_credentials&client_id=harness&client_secret={{env.CH_TEST_CLIENT_SECRET}}\","
                " \"ttl\": \"5m\"}}",
                &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  const struct ch_scn_auth *a = &s->target.auth;
  CU_ASSERT_EQUAL(a->source, CH_SCN_TOKEN_LOGIN);
  CU_ASSERT_EQUAL(a->mode, CH_SCN_AUTH_HEADER);
  CU_ASSERT_STRING_EQUAL(a->login.method, "POST");
  CU_ASSERT_STRING_EQUAL(a->login.token_pointer, "/access_token");
  CU_ASSERT_PTR_NULL(a->login.expires_in_pointer);
  CU_ASSERT_EQUAL(a->ttl_ns, 300000000000ull);
  CU_ASSERT_DOUBLE_EQUAL(a->refresh_at, 0.8, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(a->login.rate, 20, 1e-9);
  CU_ASSERT_EQUAL(a->login.n_headers, 1);
  CU_ASSERT_FALSE(a->login.body_json);
  ch_scenario_free(s);
  s = load_auth("{\"mode\": \"query\", \"command\": [\"gcloud\", \"auth\", \"print-access-token\"]}", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->target.auth.source, CH_SCN_TOKEN_COMMAND);
  CU_ASSERT_EQUAL(s->target.auth.command.argc, 3);
  CU_ASSERT_EQUAL(s->target.auth.ttl_ns, 0);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

static void test_login_errors_name_the_path(void) {
  expect_auth_error("{\"login\": {\"url\": \"http://x/login\", \"body\": {\"p\": \"{{pasword}}\"}, \"users_env\": "
                    "\"CH_TEST_USERS_SET\"}}",
                    "$.target.auth.login.body", "did you mean {{password}}?");
  expect_auth_error("{\"login\": {\"url\": \"http://x/login\", \"body\": {\"u\": \"{{user}}\"}}}",
                    "$.target.auth.login.body", "users_file or users_env for {{user}}");
  unsetenv("CH_TEST_UNSET_VAR");
  expect_auth_error("{\"login\": {\"url\": \"http://x/login?k={{env.CH_TEST_UNSET_VAR}}\"}}",
                    "$.target.auth.login.url", "CH_TEST_UNSET_VAR ({{env.CH_TEST_UNSET_VAR}}) to be set, found it unset");
  expect_auth_error("{\"login\": {\"url\": \"http://x/login\", \"users_env\": \"CH_TEST_UNSET_VAR\"}}",
                    "$.target.auth.login.users_env", "found it unset");
  expect_auth_error("{\"login\": {\"url\": \"ftp://x/login\"}}", "$.target.auth.login.url", "http:// or https://");
  expect_auth_error("{\"login\": {\"url\": \"http://x/login\", \"tokn_pointer\": \"/t\"}}", "tokn_pointer",
                    "token_pointer");
  expect_auth_error("{\"login\": {\"url\": \"http://x/login\", \"refresh_at\": 0.9, \"refresh_jitter\": 0.15}}",
                    "$.target.auth.login", "refresh_at + refresh_jitter below 1");
  expect_auth_error("{\"login\": {\"url\": \"http://x/login\", \"users_file\": \"/nonexistent/users.csv\"}}",
                    "$.target.auth.login.users_file", "a readable file");
  expect_auth_error("{\"command\": \"gcloud auth print-access-token\"}", "$.target.auth.command",
                    "or an argv array");
  expect_auth_error("{\"command\": {\"argv\": []}}", "$.target.auth.command.argv", "no shell");
  expect_auth_error("{\"command\": [\"x\"], \"token\": \"abc\"}", "$.target.auth",
                    "at most one of token, token_env, token_file, login and command, found 2");
  expect_auth_error("{\"mode\": \"none\", \"command\": [\"x\"]}", "$.target.auth", "no token source with mode");
  /* the embedded endpoint cannot accept fetched tokens */
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = NULL;
  static const char embedded[] = "{\"target\": {\"auth\": {\"command\": [\"x\"]}}, \"clients\": [{\"count\": 1, "
                                 "\"subscribe\": {\"keys\": [\"K\"]}}], \"phases\": [{\"type\": \"connect\"}]}";
  CU_ASSERT_NOT_EQUAL(ch_scenario_from_json_string(embedded, strlen(embedded), "t.json", NULL, 0, &s, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, "$.target: expected a url with auth.command") : NULL);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

/* The stored form keeps the template (placeholders, the users file, pointers) and redacts a literal secret; it loads
   back to the same scenario. */
static void test_login_stored_form_round_trips_without_secrets(void) {
  setenv("CH_TEST_USERS_SET", "u1,pw1\n", 1);
  struct ch_buf err = CH_BUF_INIT, out = CH_BUF_INIT, again = CH_BUF_INIT;
  struct ch_scenario *s = load_auth(
      "{\"login\": {\"url\": \"http://x/login?api_key=literal-k3y\", \"headers\": {\"X-Api-Key\": \"literal-h3ader\"},"
      " \"body\": {\"user\": \"{{user}}\", \"password\": \"{{password}}\", \"client_secret\": \"literal-s3cret\"},"
      " \"users_env\": \"CH_TEST_USERS_SET\", \"expires_in_pointer\": \"/expires_in\", \"refresh_at\": 0.7}}",
      &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(ch_scenario_to_json_stored(s, &out), 0);
  CU_ASSERT_PTR_NULL(strstr(out.data, "literal-"));
  CU_ASSERT_PTR_NULL(strstr(out.data, "pw1"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "\"password\":\t\"{{password}}\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "\"users_env\":\t\"CH_TEST_USERS_SET\""));
  struct ch_scenario *s2 = NULL;
  CU_ASSERT_EQUAL(ch_scenario_from_json_string(out.data, out.len, "stored.json", NULL, 0, &s2, &err), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
  CU_ASSERT_EQUAL(ch_scenario_to_json_stored(s2, &again), 0);
  CH_ASSERT_STR(again.data, out.data);
  CU_ASSERT_DOUBLE_EQUAL(s2->target.auth.refresh_at, 0.7, 1e-9);
  ch_scenario_free(s2);
  ch_scenario_free(s);
  ch_buf_free(&err);
  ch_buf_free(&out);
  ch_buf_free(&again);
}

/* `validate --print` (the effective form) redacts as scenario.json does: login URL key and userinfo, credential
   headers and body members of the login and of the trigger; placeholders stay. */
static void test_effective_form_redacts_like_the_stored_form(void) {
  struct ch_buf err = CH_BUF_INIT, out = CH_BUF_INIT, again = CH_BUF_INIT;
  struct ch_scenario *s = load_auth(
      "{\"login\": {\"url\": \"http://usr:literal-us3rinfo@x/login?api_key=literal-k3y\",\n"
      " \"headers\": {\"X-Api-Key\": \"literal-h3ader\", \"Authorization\": \"{{env.CH_TEST_USERS_SET}}\"},\n"
      " \"body\": {\"user\": \"{{user}}\", \"password\": \"{{password}}\", \"client_secret\": \"literal-s3cret\"},\n"
      " \"users_env\": \"CH_TEST_USERS_SET\"}}",
      &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &out), 0);
  CU_ASSERT_PTR_NULL(strstr(out.data, "literal-"));
  if (strstr(out.data, "literal-"))
    fprintf(stderr, "\n%s\n", out.data);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "?api_key=[REDACTED]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "\"Authorization\":\t\"{{env.CH_TEST_USERS_SET}}\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "\"password\":\t\"{{password}}\""));
  struct ch_scenario *s2 = NULL; /* still loads back to the same text */
  CU_ASSERT_EQUAL(ch_scenario_from_json_string(out.data, out.len, "print.json", NULL, 0, &s2, &err), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
  CU_ASSERT_EQUAL(ch_scenario_to_json(s2, &again), 0);
  CH_ASSERT_STR(again.data, out.data);
  ch_scenario_free(s2);
  ch_scenario_free(s);
  ch_buf_free(&err);
  ch_buf_free(&out);
  ch_buf_free(&again);
}

int main(void) {
  setenv("CH_TEST_USERS_SET", "u1,pw1\n", 1);
  CU_TestInfo tests[] = {
      CH_TEST(test_login_defaults_and_fields),
      CH_TEST(test_login_errors_name_the_path),
      CH_TEST(test_login_stored_form_round_trips_without_secrets),
      CH_TEST(test_effective_form_redacts_like_the_stored_form),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("scenario_auth", tests);
}
