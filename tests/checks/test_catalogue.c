/* Tests of the parts of the checks area that need no target: the catalogue, transport lists, the verdict (exit
   code and last line), redaction of credentials in evidence and transcripts, and trigger files. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ch_checks.h"
#include "ch_chk.h"
#include "ch_exit.h"
#include "ch_test.h"

static void test_catalogue_ids_are_unique_and_well_formed(void) {
  size_t n;
  const struct ch_check_def *c = ch_checks_catalogue(&n);
  CU_ASSERT_TRUE_FATAL(n >= 30);
  regex_t re;
  CU_ASSERT_EQUAL_FATAL(regcomp(&re, "^[A-Z]+-[0-9]{3}$", REG_EXTENDED | REG_NOSUB), 0);
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_EQUAL(regexec(&re, c[i].id, 0, NULL, 0), 0);
    CU_ASSERT_TRUE(c[i].family && c[i].family[0]);
    CU_ASSERT_TRUE(c[i].description && c[i].description[0]);
    CU_ASSERT_TRUE(c[i].section && c[i].section[0] == '\xc2'); /* "§" */
    CU_ASSERT_EQUAL(c[i].transports & ~(unsigned)CH_T_ALL, 0);
    for (size_t j = 0; j < i; j++)
      CU_ASSERT_NOT_EQUAL(strcmp(c[i].id, c[j].id), 0);
    CU_ASSERT_PTR_EQUAL(ch_check_find(c[i].id), &c[i]);
  }
  regfree(&re);
  CU_ASSERT_PTR_NOT_NULL(ch_check_find("neg-001"));
  CU_ASSERT_PTR_NULL(ch_check_find("NEG-999"));
}

static void test_catalogue_covers_the_issue_families(void) {
  /* every family the issue names has at least one check */
  const char *fams[] = {"negotiate", "lifecycle", "invoke", "delivery", "auth", "keepalive", "reconnect"};
  size_t n;
  const struct ch_check_def *c = ch_checks_catalogue(&n);
  for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
    int k = 0;
    for (size_t i = 0; i < n; i++)
      k += strcmp(c[i].family, fams[f]) == 0;
    CU_ASSERT_TRUE(k > 0);
  }
}

/* The burst is the smallest that reaches the confidence for its weakest fault (reordering: n - 1 adjacent pairs),
   the checks judged on it say so, and a lowered burst says its weaker power. */
static void test_burst_size_reaches_the_stated_power(void) {
  const double rates[] = {0.01, 0.02, 0.05}, confs[] = {0.999, 0.99};
  for (size_t i = 0; i < 3; i++)
    for (size_t k = 0; k < 2; k++) {
      unsigned n = ch_checks_burst_size(rates[i], confs[k]);
      CU_ASSERT_TRUE(ch_checks_burst_power(n, rates[i]) >= confs[k]);
      CU_ASSERT_TRUE(ch_checks_burst_power(n - 1, rates[i]) < confs[k]);
      /* the miss probability the issue states, (1 - p)^(n - 1), for one connection */
      double miss = 1;
      for (unsigned j = 1; j < n; j++)
        miss *= 1 - rates[i];
      CU_ASSERT_DOUBLE_EQUAL(1 - ch_checks_burst_power(n, rates[i]), miss, 1e-12);
    }
  CU_ASSERT_TRUE(ch_checks_burst_size(0.01, 0.999) > ch_checks_burst_size(0.02, 0.999));
  CU_ASSERT_EQUAL(ch_checks_burst_size(0, 0.999), 1);  /* nonsense rate: no burst */
  CU_ASSERT_EQUAL(ch_checks_burst_size(0.01, 1), 1);   /* certainty cannot be reached */
  const char *burst_ids[] = {"DEL-005", "DEL-006", "DEL-007", "CON-008"};
  for (size_t i = 0; i < 4; i++)
    CU_ASSERT_TRUE(ch_check_uses_burst(ch_check_find(burst_ids[i])));
  CU_ASSERT_FALSE(ch_check_uses_burst(ch_check_find("DEL-001")));
  struct ch_buf b = CH_BUF_INIT;
  unsigned n = ch_checks_burst_size(CH_CHECK_FAULT_RATE, CH_CHECK_CONFIDENCE);
  ch_checks_burst_describe(n, &b);
  char want[64];
  snprintf(want, sizeof want, "burst of %u Updates", n);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "99.9"));
  CU_ASSERT_PTR_NULL(strstr(b.data, "below"));
  ch_buf_reset(&b);
  ch_checks_burst_describe(20, &b);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "17.38%")); /* 1 - 0.99^19 */
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "below"));
  ch_buf_free(&b);
}

static void test_transport_lists(void) {
  unsigned m = 0;
  CU_ASSERT_EQUAL(ch_tmask_parse("ws,longPolling", &m), 0);
  CU_ASSERT_EQUAL(m, CH_T_WS | CH_T_LP);
  CU_ASSERT_EQUAL(ch_tmask_parse("SERVERSENTEVENTS", &m), 0);
  CU_ASSERT_EQUAL(m, CH_T_SSE);
  CU_ASSERT_EQUAL(ch_tmask_parse("all", &m), 0);
  CU_ASSERT_EQUAL(m, CH_T_ALL);
  CU_ASSERT_EQUAL(ch_tmask_parse("foreverFrame", &m), -EINVAL);
  CU_ASSERT_EQUAL(ch_tmask_parse("ws,,lp", &m), -EINVAL);
  CU_ASSERT_EQUAL(ch_tmask_parse("", &m), -EINVAL);
  CH_ASSERT_STR(ch_tmask_name(CH_T_SSE), "serverSentEvents");
  CU_ASSERT_PTR_NULL(ch_tmask_name(CH_T_ALL));
}

static void test_verdict_exit_codes_and_last_line(void) {
  struct ch_checks_results r = {0};
  struct ch_buf line = CH_BUF_INIT;
  r.passed = 38, r.failed = 3, r.skipped = 0;
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_CHECK_FAILED);
  CH_ASSERT_STR(line.data, "exit 1: conformance check failed (3 of 41)");
  ch_buf_reset(&line);
  r.failed = 0, r.skipped = 3;
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_OK);
  CU_ASSERT_EQUAL(strncmp(line.data, "exit 0:", 7), 0);
  ch_buf_reset(&line);
  snprintf(r.run_error_msg, sizeof r.run_error_msg, "target unreachable");
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, -ECONNREFUSED, &line), CH_EXIT_RUN);
  CU_ASSERT_PTR_NOT_NULL(strstr(line.data, "exit 4: ") == line.data ? line.data : NULL);
  CU_ASSERT_PTR_NOT_NULL(strstr(line.data, "target unreachable"));
  ch_buf_reset(&line);
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, -EINVAL, &line), CH_EXIT_INPUT);
  CU_ASSERT_EQUAL(strncmp(line.data, "exit 3: ", 8), 0);
  ch_buf_free(&line);
}

/* A gate cannot go green by skipping. */
static void test_verdict_needs_a_pass_strict_and_not_run(void) {
  struct ch_checks_results r = {0};
  struct ch_buf line = CH_BUF_INIT;
  struct ch_check_result skip = {ch_check_find("AUTH-007"), NULL, CH_CHECK_SKIP, "needs --forbidden-key", "", NULL, 0};
  r.items = &skip, r.n = 1;
  r.skipped = 1; /* nothing passed */
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_RUN);
  CH_ASSERT_STR(line.data, "exit 4: the run could not be carried out (no check passed: 1 skipped, e.g. AUTH-007: "
                           "needs --forbidden-key)");
  ch_buf_reset(&line);
  r.passed = 5;
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_OK);
  ch_buf_reset(&line);
  r.strict = true;
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_CHECK_FAILED);
  CH_ASSERT_STR(line.data, "exit 1: 1 of 6 checks skipped and --strict is set (e.g. AUTH-007: needs --forbidden-key)");
  ch_buf_reset(&line);
  r.skipped = 0, r.n = 0;
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_OK); /* strict with nothing skipped passes */
  ch_buf_reset(&line);
  r.passed = 0;
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_RUN);
  CH_ASSERT_STR(line.data, "exit 4: the run could not be carried out (no check selected)");
  ch_buf_reset(&line);
  r.not_run = 41;
  snprintf(r.precondition, sizeof r.precondition, "credentials refused: every negotiate answered 401");
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_RUN);
  CH_ASSERT_STR(line.data, "exit 4: the run could not be carried out (41 of 41 checks not run: credentials refused: "
                           "every negotiate answered 401)");
  ch_buf_reset(&line);
  r.failed = 1; /* a real failure still says so */
  CU_ASSERT_EQUAL(ch_checks_exit_code(&r, 0, &line), CH_EXIT_CHECK_FAILED);
  CH_ASSERT_STR(ch_check_status_name(CH_CHECK_NOT_RUN), "not run");
  ch_buf_free(&line);
}

static void ctx_done(struct ch_chk_ctx *cx) {
  for (size_t i = 0; i < cx->nsecrets; i++)
    free(cx->secrets[i]);
  ch_chk_trigger_free(cx);
  ch_buf_free(&cx->tx);
}

static void test_redaction_hides_tokens_everywhere(void) {
  struct ch_chk_ctx cx;
  memset(&cx, 0, sizeof cx);
  ch_chk_secret_add(&cx, "s3cr3t+tok/en=");
  const char *in = "GET http://h/signalr/start?transport=webSockets&connectionToken=AQAB%2Bxy&connectionData=x\n"
                   "Authorization: Bearer s3cr3t+tok/en=\n"
                   "body {\"G\":\"zz\",\"note\":\"s3cr3t%2Btok%2Fen%3D\"}&groupsToken=GGG&access_token=s3cr3t";
  struct ch_buf out = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_chk_redact(&cx, in, strlen(in), &out), 0);
  CU_ASSERT_PTR_NULL(strstr(out.data, "s3cr3t"));
  CU_ASSERT_PTR_NULL(strstr(out.data, "AQAB"));
  CU_ASSERT_PTR_NULL(strstr(out.data, "GGG"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "connectionToken=[REDACTED]&connectionData=x"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "Authorization: [REDACTED]"));
  /* transcripts are JSON Lines and redacted too */
  ch_chk_tx(&cx, "c1", "out", "http", in, strlen(in));
  CU_ASSERT_PTR_NULL(strstr(cx.tx.data, "s3cr3t"));
  CU_ASSERT_PTR_NOT_NULL(strstr(cx.tx.data, "\"client\":\"c1\""));
  CU_ASSERT_EQUAL(cx.tx.data[cx.tx.len - 1], '\n');
  ch_buf_free(&out);
  ctx_done(&cx);
}

static char *write_tmp(const char *text) {
  char *path = strdup("/tmp/ch-trigger-XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) {
    free(path);
    return NULL;
  }
  ssize_t w = write(fd, text, strlen(text));
  (void)w;
  close(fd);
  return path;
}

static void test_trigger_files(void) {
  struct ch_chk_ctx cx;
  memset(&cx, 0, sizeof cx);
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_chk_trigger_load(&cx, "/nonexistent/trigger.json", &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "/nonexistent/trigger.json"));
  char *p = write_tmp("{\"url\":\"http://h/{{bogus}}\"}");
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_chk_trigger_load(&cx, p, &err), -EINVAL);
  CU_ASSERT_PTR_NULL(cx.trigger);
  unlink(p);
  free(p);
  p = write_tmp("{\"url\":\"http://h/x\",\"correlation\":{\"nonce\":\"Note\"}}");
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_chk_trigger_load(&cx, p, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "correlation.nonce"));
  unlink(p);
  free(p);
  p = write_tmp("{\"method\":\"PUT\",\"url\":\"http://h/parts/{{key}}\",\"headers\":{\"Authorization\":\"Bearer "
                "trig-secret\"},\"body\":\"{\\\"n\\\":\\\"{{nonce}}\\\"}\",\"correlation\":{\"nonce\":\"/Meta/n\"}}");
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_chk_trigger_load(&cx, p, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(cx.trigger);
  /* the header credential is registered for redaction */
  struct ch_buf out = CH_BUF_INIT;
  ch_chk_redact(&cx, "x trig-secret y", 15, &out);
  CH_ASSERT_STR(out.data, "x [REDACTED] y");
  /* correlation by JSON Pointer */
  cJSON *a = cJSON_Parse("{\"Meta\":{\"n\":\"n-00ff\"},\"HarnessSeq\":7}");
  uint64_t seq = 0;
  CU_ASSERT_TRUE(ch_chk_update_matches(&cx, a, "n-00ff", &seq));
  CU_ASSERT_FALSE(ch_chk_update_matches(&cx, a, "n-0100", NULL));
  cJSON_Delete(a);
  unlink(p);
  free(p);
  ch_buf_free(&out);
  ch_buf_free(&err);
  ctx_done(&cx);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_catalogue_ids_are_unique_and_well_formed),
                         CH_TEST(test_catalogue_covers_the_issue_families),
                         CH_TEST(test_transport_lists),
                         CH_TEST(test_burst_size_reaches_the_stated_power),
                         CH_TEST(test_verdict_exit_codes_and_last_line),
                         CH_TEST(test_verdict_needs_a_pass_strict_and_not_run),
                         CH_TEST(test_redaction_hides_tokens_everywhere),
                         CH_TEST(test_trigger_files),
                         CU_TEST_INFO_NULL};
  return ch_test_run("checks-catalogue", tests);
}
