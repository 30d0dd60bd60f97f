/* Tests of the scenario helpers: key generators (deterministic per seed, Zipf skew), templates, thresholds,
   durations and rates, token resolution, and the validate command. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch_duration.h"
#include "ch_exit.h"
#if __has_include("ch_metrics.h")
#include "ch_metrics.h"
#endif
#include "ch_scenario.h"
#include "ch_template.h"
#include "ch_test.h"
#include "ch_threshold.h"
#include "ch_token.h"

static struct ch_scenario *load(const char *json) {
  struct ch_scenario *s = NULL;
  struct ch_buf err = CH_BUF_INIT;
  if (ch_scenario_from_json_string(json, strlen(json), "k.json", NULL, 0, &s, &err))
    fprintf(stderr, "\n%s", err.data ? err.data : "");
  ch_buf_free(&err);
  return s;
}

#define PHASES "\"phases\":[{\"type\":\"connect\"}]"

/* ------------------------------------------------------------------------------------------------- keys */

static void test_keys_round_robin_and_all(void) {
  struct ch_scenario *s = load("{\"clients\":[{\"count\":10,\"subscribe\":{\"key_count\":4,\"per_client\":2}},"
                               "{\"count\":2,\"subscribe\":{\"keys\":[\"a\",\"b\",\"c\"]}},{\"count\":1}]," PHASES "}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  size_t out[8], n;
  struct ch_rng rng;
  ch_scenario_client_rng(s, 0, 3, &rng);
  CU_ASSERT_EQUAL(ch_scenario_client_keys(&s->populations[0], 3, &rng, out, 8, &n), 0);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(out[0], 2); /* (3*2+0) mod 4 */
  CU_ASSERT_EQUAL(out[1], 3);
  CU_ASSERT_EQUAL(ch_scenario_client_keys(&s->populations[0], 3, &rng, out, 1, &n), -ENOSPC);
  CU_ASSERT_EQUAL(ch_scenario_client_keys(&s->populations[1], 1, &rng, out, 8, &n), 0);
  CU_ASSERT_EQUAL(n, 3);
  CU_ASSERT_EQUAL(out[2], 2);
  CU_ASSERT_EQUAL(ch_scenario_keys_per_client(&s->populations[2]), 0); /* no subscriptions */
  CU_ASSERT_EQUAL(ch_scenario_client_keys(&s->populations[2], 0, &rng, out, 8, &n), 0);
  CU_ASSERT_EQUAL(n, 0);
  ch_scenario_free(s);
}

static void test_keys_deterministic_per_seed(void) {
  const char *fmt = "{\"seed\":%d,\"clients\":[{\"count\":100,\"subscribe\":{\"key_count\":50,\"generator\":"
                    "\"uniform\",\"per_client\":3}}]," PHASES "}";
  char json[512];
  size_t a[3], b[3], n;
  struct ch_rng rng;
  snprintf(json, sizeof json, fmt, 9);
  struct ch_scenario *s1 = load(json), *s2 = load(json);
  snprintf(json, sizeof json, fmt, 10);
  struct ch_scenario *s3 = load(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s1 && s2 && s3 ? s1 : NULL);
  int differ = 0;
  /* the same client gets the same keys whatever order clients are visited in; another seed differs */
  for (size_t c = 0; c < 100; c++) {
    size_t i = 99 - c;
    ch_scenario_client_rng(s1, 0, i, &rng);
    ch_scenario_client_keys(&s1->populations[0], i, &rng, a, 3, &n);
    ch_scenario_client_rng(s2, 0, i, &rng);
    ch_scenario_client_keys(&s2->populations[0], i, &rng, b, 3, &n);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    CU_ASSERT_TRUE(a[0] != a[1] && a[0] != a[2] && a[1] != a[2]); /* distinct keys */
    CU_ASSERT_TRUE(a[0] < 50 && a[1] < 50 && a[2] < 50);
    ch_scenario_client_rng(s3, 0, i, &rng);
    ch_scenario_client_keys(&s3->populations[0], i, &rng, b, 3, &n);
    differ += memcmp(a, b, sizeof a) != 0;
  }
  CU_ASSERT_TRUE(differ > 90);
  ch_scenario_free(s1);
  ch_scenario_free(s2);
  ch_scenario_free(s3);
}

static void test_keys_zipf_skew_plausible(void) {
  struct ch_scenario *s = load("{\"seed\":3,\"clients\":[{\"count\":20000,\"subscribe\":{\"key_count\":100,"
                               "\"generator\":\"zipf\",\"zipf_s\":1.0}}]," PHASES "}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  static unsigned hits[100];
  memset(hits, 0, sizeof hits);
  size_t out[1], n;
  struct ch_rng rng;
  for (size_t c = 0; c < 20000; c++) {
    ch_scenario_client_rng(s, 0, c, &rng);
    ch_scenario_client_keys(&s->populations[0], c, &rng, out, 1, &n);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    hits[out[0]]++;
  }
  /* Zipf s=1 over 100 keys: P(rank1) = 1/H(100) ~ 0.193, P(rank2) ~ 0.096, P(rank10) ~ 0.019 */
  double h = 0;
  for (int k = 1; k <= 100; k++)
    h += 1.0 / k;
  CU_ASSERT_TRUE(fabs(hits[0] / 20000.0 - 1 / h) < 0.02);
  CU_ASSERT_TRUE(fabs(hits[1] / 20000.0 - 0.5 / h) < 0.015);
  CU_ASSERT_TRUE(hits[0] > hits[9] * 5 && hits[9] > hits[99]);
  ch_scenario_free(s);
  /* zipf with several keys per client still gives distinct keys */
  s = load("{\"clients\":[{\"count\":50,\"subscribe\":{\"key_count\":5,\"generator\":\"zipf\",\"zipf_s\":3,"
           "\"per_client\":5}}]," PHASES "}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  size_t five[5];
  for (size_t c = 0; c < 50; c++) {
    ch_scenario_client_rng(s, 0, c, &rng);
    ch_scenario_client_keys(&s->populations[0], c, &rng, five, 5, &n);
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++)
      mask |= 1u << five[i];
    CU_ASSERT_EQUAL(mask, 0x1f);
  }
  ch_scenario_free(s);
}

static void test_keys_subscribed_union(void) {
  struct ch_scenario *s = load("{\"clients\":[{\"count\":2,\"subscribe\":{\"key_count\":5,\"prefix\":\"k\"}},"
                               "{\"count\":3,\"subscribe\":{\"keys\":[\"k4\",\"z\"]}},"
                               "{\"count\":1,\"subscribe\":{\"key_count\":1000,\"prefix\":\"u\","
                               "\"generator\":\"uniform\",\"per_client\":2}}]," PHASES "}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  const char **keys;
  size_t n;
  CU_ASSERT_EQUAL_FATAL(ch_scenario_subscribed_keys(s, -1, &keys, &n), 0);
  /* k0, k1 (round-robin over 2 clients), k4 and z (shared k4 once), two of u0..u999 */
  CU_ASSERT_EQUAL_FATAL(n, 6);
  CH_ASSERT_STR(keys[0], "k0");
  CH_ASSERT_STR(keys[1], "k1");
  CH_ASSERT_STR(keys[2], "k4");
  CU_ASSERT_EQUAL(keys[3][0], 'u');
  CU_ASSERT_EQUAL(keys[4][0], 'u');
  CH_ASSERT_STR(keys[5], "z");
  free(keys);
  CU_ASSERT_EQUAL_FATAL(ch_scenario_subscribed_keys(s, 1, &keys, &n), 0);
  CU_ASSERT_EQUAL(n, 2);
  free(keys);
  ch_scenario_free(s);
}

/* ------------------------------------------------------------------------------------------------- templates */

static void test_template_render_and_escapes(void) {
  struct ch_template *t = NULL;
  struct ch_buf err = CH_BUF_INIT, out = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_template_compile("/p/{{key}}?s={{seq}}&n={{nonce}}&t={{now_ms}}{{{{x}}", CH_TEMPLATE_URL,
                                            &t, &err), 0);
  struct ch_template_vars v = {.key = "a/b c", .seq = 42, .nonce = "N1", .now_ms = 1700000000123ull};
  CU_ASSERT_EQUAL(ch_template_render(t, &v, &out), 0);
  CH_ASSERT_STR(out.data, "/p/a%2Fb%20c?s=42&n=N1&t=1700000000123{{x}}");
  CU_ASSERT_TRUE(ch_template_uses(t, "nonce"));
  CU_ASSERT_FALSE(ch_template_uses(t, "bogus"));
  CH_ASSERT_STR(ch_template_source(t), "/p/{{key}}?s={{seq}}&n={{nonce}}&t={{now_ms}}{{{{x}}");
  /* rendering twice appends (callers reset), without re-parsing */
  ch_buf_reset(&out);
  v.seq = 43;
  ch_template_render(t, &v, &out);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "s=43&"));
  ch_template_free(t);
  CU_ASSERT_EQUAL_FATAL(ch_template_compile("{\"k\":\"{{key}}\"}", CH_TEMPLATE_JSON, &t, &err), 0);
  ch_buf_reset(&out);
  v.key = "q\"\\\n";
  ch_template_render(t, &v, &out);
  CH_ASSERT_STR(out.data, "{\"k\":\"q\\\"\\\\\\u000a\"}");
  ch_template_free(t);
  CU_ASSERT_EQUAL_FATAL(ch_template_compile("", CH_TEMPLATE_RAW, &t, &err), 0);
  ch_buf_reset(&out);
  CU_ASSERT_EQUAL(ch_template_render(t, &v, &out), 0);
  CH_ASSERT_STR(out.data, "");
  ch_template_free(t);
  ch_buf_free(&out);
  ch_buf_free(&err);
}

static void test_template_errors(void) {
  struct ch_template *t = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_template_compile("x {{ke}} y", CH_TEMPLATE_RAW, &t, &err), -EINVAL);
  CU_ASSERT_PTR_NULL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "found \"{{ke}}\""));
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_template_compile("x {{key", CH_TEMPLATE_RAW, &t, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "\"}}\""));
  ch_buf_free(&err);
}

/* ------------------------------------------------------------------------------------------------- thresholds */

static void test_threshold_parse_units(void) {
  struct ch_scn_threshold t;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("update_latency.p99 < 250ms", &t, &err), 0);
  CH_ASSERT_STR(t.metric, "update_latency.p99");
  CU_ASSERT_EQUAL(t.op, CH_SCN_OP_LT);
  CU_ASSERT_DOUBLE_EQUAL(t.value, 250e6, 1e-3);
  CU_ASSERT_TRUE(t.is_duration);
  CU_ASSERT_TRUE(ch_scn_threshold_check(&t, 249e6));
  CU_ASSERT_FALSE(ch_scn_threshold_check(&t, 250e6));
  struct ch_buf f = CH_BUF_INIT;
  ch_scn_threshold_format_value(&t, 12.5e6, &f);
  CH_ASSERT_STR(f.data, "12.5ms");
  ch_buf_free(&f);
  ch_scn_threshold_clear(&t);
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("  delivery_ratio>=99.9%  ", &t, &err), 0);
  CU_ASSERT_EQUAL(t.op, CH_SCN_OP_GE);
  CU_ASSERT_DOUBLE_EQUAL(t.value, 0.999, 1e-12);
  CU_ASSERT_FALSE(t.is_duration);
  ch_scn_threshold_clear(&t);
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("connect_errors == 0", &t, &err), 0);
  CU_ASSERT_TRUE(ch_scn_threshold_check(&t, 0));
  CU_ASSERT_FALSE(ch_scn_threshold_check(&t, 1));
  ch_scn_threshold_clear(&t);
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("update_latency.count != 0", &t, &err), 0);
  CU_ASSERT_FALSE(t.is_duration); /* a count, not a latency */
  ch_scn_threshold_clear(&t);
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("reconnect.max <= 1m30s", &t, &err), 0);
  CU_ASSERT_DOUBLE_EQUAL(t.value, 90e9, 1);
  ch_scn_threshold_clear(&t);
  const char *bad[] = {"", "update_latency.p99", "update_latency.p99 <", "< 5", "delivery_ratio = 1",
                       "delivery_ratio >= 0.9 extra", "update_latency.p99 < 250", "connect_errors < 5ms",
                       "update_latency.p99 < 5%", "nosuch_metric > 1", "update_latency.p101 < 1s",
                       "delivery_ratio >= abc"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ch_buf_reset(&err);
    CU_ASSERT_EQUAL(ch_scn_threshold_parse(bad[i], &t, &err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(err.data && strstr(err.data, "expected") ? err.data : NULL);
  }
  ch_buf_free(&err);
}

static void test_threshold_eval_against_metrics(void) {
#if __has_include("ch_metrics.h")
  struct ch_metrics *m = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&m), 0);
  struct ch_metrics_group *g = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(m, "parts", "webSockets", &g), 0);
  for (uint64_t i = 1; i <= 100; i++)
    ch_metrics_record(g, CH_LAT_UPDATE, i * 1000000ull); /* 1..100 ms */
  ch_metrics_count(g, CH_CNT_CONNECT_ERRORS, 2);
  struct ch_scn_threshold t;
  struct ch_buf err = CH_BUF_INIT;
  double v;
  bool pass;
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("update_latency.p99 < 250ms", &t, &err), 0);
  CU_ASSERT_EQUAL(ch_scn_threshold_eval(&t, m, &v, &pass), 0);
  CU_ASSERT_TRUE(pass);
  CU_ASSERT_TRUE(v > 95e6 && v < 101e6);
  ch_scn_threshold_clear(&t);
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("update_latency.p50 <= 10ms", &t, &err), 0);
  CU_ASSERT_EQUAL(ch_scn_threshold_eval(&t, m, &v, &pass), 0);
  CU_ASSERT_FALSE(pass);
  ch_scn_threshold_clear(&t);
  CU_ASSERT_EQUAL_FATAL(ch_scn_threshold_parse("connect_errors == 0", &t, &err), 0);
  CU_ASSERT_EQUAL(ch_scn_threshold_eval(&t, m, &v, &pass), 0);
  CU_ASSERT_FALSE(pass);
  CU_ASSERT_DOUBLE_EQUAL(v, 2, 1e-9);
  ch_scn_threshold_clear(&t);
  ch_buf_free(&err);
  ch_metrics_free(m);
#endif
}

/* ------------------------------------------------------------------------------------------------- durations */

static void test_duration_parse_and_format(void) {
  uint64_t ns;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_parse_duration_ns("250ms", &ns, &err), 0);
  CU_ASSERT_EQUAL(ns, 250000000ull);
  CU_ASSERT_EQUAL(ch_parse_duration_ns("1.5m", &ns, &err), 0);
  CU_ASSERT_EQUAL(ns, 90000000000ull);
  CU_ASSERT_EQUAL(ch_parse_duration_ns("1h", &ns, &err), 0);
  CU_ASSERT_EQUAL(ns, 3600000000000ull);
  CU_ASSERT_EQUAL(ch_parse_duration_ns("1m30s", &ns, &err), 0);
  CU_ASSERT_EQUAL(ns, 90000000000ull);
  CU_ASSERT_EQUAL(ch_parse_duration_ns("20us", &ns, &err), 0);
  CU_ASSERT_EQUAL(ns, 20000ull);
  const char *bad[] = {"", "250", "2 s", "-1s", "1x", "s", "1.s", "30s1m", "1e3ms", "1min", "99999999999h"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ch_buf_reset(&err);
    CU_ASSERT_EQUAL(ch_parse_duration_ns(bad[i], &ns, &err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, "expected a duration") : NULL);
  }
  ch_buf_reset(&err);
  ch_parse_duration_ns("250", &ns, &err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "add a unit"));
  double r;
  CU_ASSERT_EQUAL(ch_parse_rate("500", &r, &err), 0);
  CU_ASSERT_DOUBLE_EQUAL(r, 500, 1e-9);
  CU_ASSERT_EQUAL(ch_parse_rate("30/m", &r, &err), 0);
  CU_ASSERT_DOUBLE_EQUAL(r, 0.5, 1e-9);
  CU_ASSERT_EQUAL(ch_parse_rate("0/s", &r, &err), -EINVAL);
  CU_ASSERT_EQUAL(ch_parse_rate("5/d", &r, &err), -EINVAL);
  struct ch_buf f = CH_BUF_INIT;
  uint64_t vals[] = {0, 250000000ull, 2000000000ull, 90000000000ull, 3600000000000ull, 1234000ull};
  const char *want[] = {"0s", "250ms", "2s", "1.5m", "1h", "1.234ms"};
  for (size_t i = 0; i < 6; i++) {
    ch_buf_reset(&f);
    ch_format_duration(vals[i], &f);
    CH_ASSERT_STR(f.data, want[i]);
  }
  ch_buf_free(&f);
  ch_buf_free(&err);
}

/* ------------------------------------------------------------------------------------------------- tokens */

static void test_tokens_sources_and_secrecy(void) {
  char dir[] = "/tmp/ch_scn_tokXXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/tokens.txt", dir);
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("# users\ntok-alpha\r\n\ntok-beta\n", f);
  fclose(f);
  char json[512];
  snprintf(json, sizeof json, "{\"target\":{\"auth\":{\"token_file\":\"%s\"}},\"clients\":[{\"count\":3}]," PHASES
           "}", path);
  struct ch_scenario *s = load(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->target.auth.mode, CH_SCN_AUTH_HEADER);
  struct ch_tokens t;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_tokens_resolve(&s->target.auth, NULL, &t, &err), 0);
  CU_ASSERT_EQUAL(t.n, 2);
  CH_ASSERT_STR(ch_tokens_for_client(&t, 0), "tok-alpha");
  CH_ASSERT_STR(ch_tokens_for_client(&t, 3), "tok-beta");
  ch_tokens_free(&t);
  /* the CLI wins over the file; two CLI options are an error */
  struct ch_token_cli cli = {.token = "cli-secret"};
  CU_ASSERT_EQUAL(ch_tokens_resolve(&s->target.auth, &cli, &t, &err), 0);
  CH_ASSERT_STR(ch_tokens_for_client(&t, 7), "cli-secret");
  ch_tokens_free(&t);
  cli.token_env = "CH_SCN_TEST_UNSET_VAR";
  CU_ASSERT_EQUAL(ch_tokens_resolve(&s->target.auth, &cli, &t, &err), -EINVAL);
  cli.token = NULL;
  ch_buf_reset(&err);
  unsetenv("CH_SCN_TEST_UNSET_VAR");
  CU_ASSERT_EQUAL(ch_tokens_resolve(NULL, &cli, &t, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "CH_SCN_TEST_UNSET_VAR"));
  setenv("CH_SCN_TEST_TOKEN_VAR", "env-secret\n", 1);
  cli.token_env = "CH_SCN_TEST_TOKEN_VAR";
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_tokens_resolve(NULL, &cli, &t, &err), -EINVAL);
  CU_ASSERT_PTR_NULL(strstr(err.data, "env-secret"));
  setenv("CH_SCN_TEST_TOKEN_VAR", "env-secret", 1);
  CU_ASSERT_EQUAL(ch_tokens_resolve(NULL, &cli, &t, &err), 0);
  CH_ASSERT_STR(ch_tokens_for_client(&t, 0), "env-secret");
  ch_tokens_free(&t);
  unsetenv("CH_SCN_TEST_TOKEN_VAR");
  /* a bad line is named by number, never shown */
  f = fopen(path, "w");
  fputs("good-one\nbad\x01secret\n", f);
  fclose(f);
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_tokens_resolve(&s->target.auth, NULL, &t, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "tokens.txt:2"));
  CU_ASSERT_PTR_NULL(strstr(err.data, "secret"));
  CU_ASSERT_PTR_NULL(strstr(err.data, "good-one"));
  CU_ASSERT_EQUAL(t.n, 0);
  unlink(path);
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_tokens_resolve(&s->target.auth, NULL, &t, &err), -ENOENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, path));
  /* no source at all: zero tokens, not an error */
  CU_ASSERT_EQUAL(ch_tokens_resolve(NULL, NULL, &t, &err), 0);
  CU_ASSERT_EQUAL(t.n, 0);
  CU_ASSERT_PTR_NULL(ch_tokens_for_client(&t, 0));
  rmdir(dir);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

/* ------------------------------------------------------------------------------------------------- validate */

static int run_validate(const char *const *args, int n, struct ch_buf *out, struct ch_buf *errout) {
  /* capture stdout and stderr through temporary files */
  fflush(stdout);
  fflush(stderr);
  FILE *o = tmpfile(), *e = tmpfile();
  int so = dup(1), se = dup(2);
  dup2(fileno(o), 1);
  dup2(fileno(e), 2);
  char *argv[16];
  for (int i = 0; i < n; i++)
    argv[i] = (char *)args[i];
  argv[n] = NULL;
  int rc = ch_validate_main(n, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so);
  close(se);
  char buf[4096];
  size_t got;
  rewind(o);
  while ((got = fread(buf, 1, sizeof buf, o)) > 0)
    ch_buf_append(out, buf, got);
  rewind(e);
  while ((got = fread(buf, 1, sizeof buf, e)) > 0)
    ch_buf_append(errout, buf, got);
  fclose(o);
  fclose(e);
  return rc;
}

static void test_validate_command(void) {
  struct ch_buf out = CH_BUF_INIT, err = CH_BUF_INIT;
  const char *ok[] = {"validate", CH_SOURCE_DIR "/scenarios/smoke.json"};
  CU_ASSERT_EQUAL(run_validate(ok, 2, &out, &err), CH_EXIT_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data ? out.data : "", "smoke.json: valid (50 clients in 1 population, 6 phases)"));
  ch_buf_reset(&out);
  ch_buf_reset(&err);
  const char *bad[] = {"validate", CH_SOURCE_DIR "/scenarios/smoke.json", "--set", "clients.0.count=ten",
                       "--seed", "5"};
  CU_ASSERT_EQUAL(run_validate(bad, 6, &out, &err), CH_EXIT_INPUT);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(err.data ? err.data : "", "smoke.json: $.clients[0].count: expected a positive integer"));
  ch_buf_reset(&err);
  const char *missing[] = {"validate", "/nonexistent.json"};
  CU_ASSERT_EQUAL(run_validate(missing, 2, &out, &err), CH_EXIT_INPUT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data ? err.data : "", "/nonexistent.json"));
  const char *none[] = {"validate"};
  CU_ASSERT_EQUAL(run_validate(none, 1, &out, &err), CH_EXIT_INPUT);
  const char *opt[] = {"validate", "--frobnicate", "x.json"};
  CU_ASSERT_EQUAL(run_validate(opt, 3, &out, &err), CH_EXIT_INPUT);
  ch_buf_free(&out);
  ch_buf_free(&err);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_keys_round_robin_and_all),
      CH_TEST(test_keys_deterministic_per_seed),
      CH_TEST(test_keys_zipf_skew_plausible),
      CH_TEST(test_keys_subscribed_union),
      CH_TEST(test_template_render_and_escapes),
      CH_TEST(test_template_errors),
      CH_TEST(test_threshold_parse_units),
      CH_TEST(test_threshold_eval_against_metrics),
      CH_TEST(test_duration_parse_and_format),
      CH_TEST(test_tokens_sources_and_secrecy),
      CH_TEST(test_validate_command),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("scenario_parts", tests);
}
