/* ch_checks_run against a target given by URL (a reference endpoint started here, as a user's server would be):
   credentials from options, an HTTP trigger file with per-hub requests and a nonce correlated by JSON Pointer, and
   the passive mode where delivery checks are skipped, never passed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch_checks.h"
#include "ch_server.h"
#include "ch_test.h"

static const char *const keys[] = {"1882708", "1882709"};

struct fixture {
  struct ch_server *srv;
  char target[96];
  char trigger[64];
};

static int fixture_start(struct fixture *f, bool both_hubs) {
  struct ch_server_token toks[2] = {
      {"tok-main-0123", "alice", keys, 2, keys, 2, 0},
      {"tok-other-4567", "bob", NULL, 0, NULL, 0, 0},
  };
  struct ch_server_opts so = {0};
  so.base = "/Centro";
  so.tokens = toks;
  so.n_tokens = 2;
  so.keepalive_s = 0.1;
  so.disconnect_timeout_s = 6;
  so.connection_timeout_s = 2;
  so.quiet = true;
  if (ch_server_new(&so, &f->srv) || ch_server_start(f->srv))
    return -1;
  snprintf(f->target, sizeof f->target, "http://127.0.0.1:%d/Centro", ch_server_port(f->srv));
  /* the trigger is the control API, driven as a user's REST call would be: a template per hub */
  snprintf(f->trigger, sizeof f->trigger, "/tmp/ch-trig-XXXXXX");
  int fd = mkstemp(f->trigger);
  if (fd < 0)
    return -1;
  FILE *fp = fdopen(fd, "w");
  int cp = ch_server_control_port(f->srv);
  fprintf(fp,
          "[{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/publish\","
          "\"headers\":{\"Content-Type\":\"application/json\"},"
          "\"body\":\"{\\\"hub\\\":\\\"ResourceEventHub\\\",\\\"key\\\":\\\"{{key}}\\\",\\\"payload\\\":{\\\"Note\\\":"
          "\\\"{{nonce}}\\\"}}\",\"correlation\":{\"nonce\":\"/Note\"}}",
          cp);
  if (both_hubs)
    fprintf(fp,
            ",{\"hub\":\"JobEventHub\",\"url\":\"http://127.0.0.1:%d/publish\","
            "\"body\":\"{\\\"hub\\\":\\\"JobEventHub\\\",\\\"key\\\":\\\"{{key}}\\\",\\\"payload\\\":{\\\"Note\\\":"
            "\\\"{{nonce}}\\\"}}\"}",
            cp);
  fprintf(fp, "]\n");
  fclose(fp);
  return 0;
}

static void fixture_stop(struct fixture *f) {
  ch_server_free(f->srv);
  unlink(f->trigger);
}

static void opts_for(struct ch_checks_opts *o, const struct fixture *f) {
  memset(o, 0, sizeof *o);
  o->target = f->target;
  o->token = "Bearer tok-main-0123";
  o->token2 = "tok-other-4567";
  o->key = keys[0];
  o->key2 = keys[1];
  o->forbidden_key = "9999999";
  o->seed = 3;
}

static size_t count(const struct ch_checks_results *r, const char *prefix, enum ch_check_status st) {
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += strncmp(r->items[i].def->id, prefix, strlen(prefix)) == 0 && r->items[i].status == st;
  return n;
}

static void dump(const struct ch_checks_results *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->items[i].status != CH_CHECK_PASS)
      fprintf(stderr, "  %s %s %s: %s\n", r->items[i].status == CH_CHECK_FAIL ? "FAIL" : "skip", r->items[i].def->id,
              r->items[i].transport ? r->items[i].transport : "", r->items[i].message);
}

static void test_url_target_with_http_trigger_passes_everything(void) {
  struct fixture f;
  CU_ASSERT_EQUAL_FATAL(fixture_start(&f, true), 0);
  struct ch_checks_opts o;
  struct ch_checks_results r = {0};
  opts_for(&o, &f);
  o.trigger_file = f.trigger;
  CU_ASSERT_EQUAL(ch_checks_run(&o, &r), 0);
  CU_ASSERT_EQUAL(r.failed, 0);
  CU_ASSERT_EQUAL(r.skipped, 0);
  CU_ASSERT_EQUAL(count(&r, "DEL-", CH_CHECK_PASS), 8 * 3);
  CU_ASSERT_EQUAL(count(&r, "REC-", CH_CHECK_PASS), 2 * 3);
  if (r.failed || r.skipped)
    dump(&r);
  /* no credential in any message or evidence */
  for (size_t i = 0; i < r.n; i++) {
    CU_ASSERT_PTR_NULL(strstr(r.items[i].evidence, "tok-main"));
    CU_ASSERT_PTR_NULL(strstr(r.items[i].message, "tok-main"));
  }
  ch_checks_results_free(&r);
  fixture_stop(&f);
}

static void test_passive_mode_never_passes_delivery(void) {
  struct fixture f;
  CU_ASSERT_EQUAL_FATAL(fixture_start(&f, true), 0);
  struct ch_checks_opts o;
  struct ch_checks_results r = {0};
  opts_for(&o, &f);
  o.only = "DEL,REC";
  o.passive_wait_ms = 200;
  CU_ASSERT_EQUAL(ch_checks_run(&o, &r), 0);
  CU_ASSERT_EQUAL(r.failed, 0);
  CU_ASSERT_EQUAL(r.passed, 0); /* nothing publishes: skipped, never passed */
  CU_ASSERT_EQUAL(r.skipped, (8 + 2) * 3);
  struct ch_buf line = CH_BUF_INIT;
  /* and a gate with nothing passed is not green: nothing was checked */
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(line.data, "no check passed: 30 skipped"));
  ch_buf_free(&line);
  ch_checks_results_free(&r);
  fixture_stop(&f);
}

static void test_trigger_without_the_other_hub_skips_hub_isolation(void) {
  struct fixture f;
  CU_ASSERT_EQUAL_FATAL(fixture_start(&f, false), 0);
  struct ch_checks_opts o;
  struct ch_checks_results r = {0};
  opts_for(&o, &f);
  o.trigger_file = f.trigger;
  o.only = "DEL-001,DEL-004";
  o.transports = CH_T_WS;
  CU_ASSERT_EQUAL(ch_checks_run(&o, &r), 0);
  CU_ASSERT_EQUAL(count(&r, "DEL-001", CH_CHECK_PASS), 1);
  CU_ASSERT_EQUAL(count(&r, "DEL-004", CH_CHECK_SKIP), 1);
  for (size_t i = 0; i < r.n; i++)
    if (!strcmp(r.items[i].def->id, "DEL-004"))
      CU_ASSERT_PTR_NOT_NULL(strstr(r.items[i].message, "JobEventHub"));
  ch_checks_results_free(&r);
  fixture_stop(&f);
}

static void test_unreachable_target_and_bad_options(void) {
  struct ch_checks_opts o = {0};
  struct ch_checks_results r = {0};
  struct ch_buf line = CH_BUF_INIT;
  o.target = "http://127.0.0.1:1/Centro";
  o.timeout_ms = 1000;
  int rc = ch_checks_run(&o, &r);
  CU_ASSERT_TRUE(rc < 0 && rc != -EINVAL);
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, rc, &line), 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(line.data, "unreachable"));
  ch_checks_results_free(&r);
  ch_buf_reset(&line);
  o.hub = "PartHub";
  rc = ch_checks_run(&o, &r);
  CU_ASSERT_EQUAL(rc, -EINVAL);
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, rc, &line), 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(line.data, "PartHub"));
  ch_checks_results_free(&r);
  ch_buf_free(&line);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_url_target_with_http_trigger_passes_everything),
                         CH_TEST(test_passive_mode_never_passes_delivery),
                         CH_TEST(test_trigger_without_the_other_hub_skips_hub_isolation),
                         CH_TEST(test_unreachable_target_and_bad_options), CU_TEST_INFO_NULL};
  return ch_test_run("checks-external", tests);
}
