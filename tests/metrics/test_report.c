/* Tests of the report: the three files, reading report.json back, merging shards, JUnit validity, redaction, CLI. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <uv.h>

#include "ch_exit.h"
#include "ch_report.h"
#include "ch_sha256.h"
#include "ch_test.h"
#include "ch_version.h"

#define S 1000000000ull
#define MS 1000000ull
#define SECRET "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig"

static char tmpdir[64];

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  struct ch_buf b = CH_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    ch_buf_append(&b, chunk, n);
  fclose(f);
  if (len)
    *len = b.len;
  return ch_buf_steal(&b);
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void path_in(char *out, size_t n, const char *dir, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* A shard of a run: `which` shifts values so two shards differ. */
static struct ch_report *make_report(int which) {
  struct ch_report *r;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&r), 0);
  ch_report_set(&r->scenario, "smoke");
  ch_report_set(&r->scenario_path, "scenarios/smoke.json");
  ch_report_set_target(r, "https://user:" SECRET "@centro.example:8443/Centro?access_token=" SECRET "&hub=x");
  ch_report_add_secret(r, SECRET);
  ch_report_add_override(r, "clients=100");
  r->seed = 18446744073709551557ull; /* above 2^53: must survive JSON */
  r->start_wall_ns = (1800000000ull + (uint64_t)which) * S;
  r->end_wall_ns = r->start_wall_ns + 10 * S;
  struct ch_metrics *m = r->metrics;
  ch_metrics_begin(m, r->start_wall_ns);
  ch_metrics_end(m, r->end_wall_ns);
  struct ch_metrics_group *ws, *lp;
  ch_metrics_group(m, "viewers", "webSockets", &ws);
  ch_metrics_group(m, "editors", "longPolling", &lp);
  for (uint64_t s = 0; s < 10; s++) {
    for (uint64_t i = 1; i <= 100; i++) {
      ch_metrics_record(ws, CH_LAT_UPDATE, (i + (uint64_t)which * 7) * MS / 4);
      ch_metrics_record(lp, CH_LAT_UPDATE, i * MS + s);
    }
    ch_metrics_record(ws, CH_LAT_CONNECT, (s + 1) * MS);
    ch_metrics_connected(ws, 1);
    ch_metrics_count(ws, CH_CNT_MESSAGES_IN, 150);
    ch_metrics_tick(m, r->start_wall_ns + (s + 1) * S);
  }
  ch_metrics_count(ws, CH_CNT_CONNECTS, 10);
  ch_metrics_count(ws, CH_CNT_UPDATES_EXPECTED, 1000);
  ch_metrics_count(ws, CH_CNT_UPDATES_RECEIVED, 999);
  ch_metrics_count(ws, CH_CNT_UPDATES_MISSING, 1);
  ch_metrics_fail(lp, "negotiate: HTTP 500");
  struct ch_check c = {"NEG-001", "negotiate returns a ConnectionToken", "signalr-classic.md 3.1", NULL,
                       NULL, CH_RESULT_PASS, 2 * MS};
  ch_report_add_check(r, &c);
  c = (struct ch_check){"WS-004", "server closes on <bad> \"frame\" & keeps others", "signalr-classic.md 5.4",
                        "webSockets", "got 1006 after 3.2s; body <html>\xff\xfe bad utf8 \x01 and token " SECRET,
                        which ? CH_RESULT_PASS : CH_RESULT_FAIL, 3200 * MS};
  ch_report_add_check(r, &c);
  c = (struct ch_check){"SSE-001", "serverSentEvents connect", NULL, "serverSentEvents", "transport disabled",
                        CH_RESULT_SKIP, 0};
  ch_report_add_check(r, &c);
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "update_latency.p99 < 200ms", &err), 0);
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "delivery_ratio >= 99.99%", &err), 0);
  ch_buf_free(&err);
  ch_report_add_note(r, "warm-up of 2s excluded");
  r->exit_code = which ? CH_EXIT_THRESHOLD : CH_EXIT_CHECK_FAILED;
  ch_report_set(&r->exit_reason, which ? "1 threshold failed" : "1 check failed");
  return r;
}

static void test_report_thresholds_evaluate_with_units(void) {
  struct ch_report *r = make_report(0);
  CU_ASSERT_EQUAL_FATAL(r->n_thresholds, 2);
  CU_ASSERT_EQUAL(r->thresholds[0].result, CH_RESULT_PASS); /* p99: rank 1980 of 2000 is 98 ms */
  CU_ASSERT(fabs(r->thresholds[0].observed - 98.0 * MS) / (98.0 * MS) < 0.01);
  CU_ASSERT_EQUAL(r->thresholds[1].result, CH_RESULT_FAIL); /* 99.9% < 99.99% */
  CH_ASSERT_STR(r->thresholds[1].metric, "delivery_ratio");
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "update_latency.p97 <= 1h", &err), 0);
  CU_ASSERT_EQUAL(r->thresholds[2].result, CH_RESULT_PASS);
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "connect_errors == 0", &err), 0);
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "bogus.p99 < 1s", &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "unknown metric \"bogus.p99\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "delivery_ratio")); /* lists what is known */
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "errors < 5 parsecs", &err), -EINVAL);
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "errors", &err), -EINVAL);
  CU_ASSERT_EQUAL(ch_report_eval_threshold(r, "errors < ", &err), -EINVAL);
  CU_ASSERT_EQUAL(r->n_thresholds, 4);
  ch_buf_free(&err);
  ch_report_free(r);
}

static void test_report_target_is_redacted(void) {
  struct ch_report *r = make_report(0);
  CH_ASSERT_STR(r->target, "https://centro.example:8443/Centro?access_token=[REDACTED]&hub=x");
  ch_report_set_target(r, "http://h/x?apiKey=abc&Password=p&q=1#frag");
  CH_ASSERT_STR(r->target, "http://h/x?apiKey=[REDACTED]&Password=[REDACTED]&q=1");
  ch_report_free(r);
}

static void test_report_write_dir_and_read_back(void) {
  struct ch_report *r = make_report(0);
  char dir[128], p[192];
  snprintf(dir, sizeof dir, "%s/run1/nested", tmpdir);
  struct ch_buf err = CH_BUF_INIT;
  ch_report_set(&r->scenario_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CU_ASSERT_EQUAL_FATAL(ch_report_write_dir(r, dir, &err), 0);
  const char *files[] = {"report.json", "junit.xml", "report.html"};
  for (int i = 0; i < 3; i++) {
    path_in(p, sizeof p, dir, files[i]);
    size_t n;
    char *s = slurp(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(n > 200);
    /* the credential appears nowhere, even though the caller put it into evidence and the target */
    CU_ASSERT_PTR_NULL(strstr(s, SECRET));
    CU_ASSERT_PTR_NULL(strstr(s, "c2VjcmV0LXRva2Vu"));
    CU_ASSERT_PTR_NULL(strstr(s, "user:"));
    free(s);
  }
  path_in(p, sizeof p, dir, "report.json");
  struct ch_report *b;
  CU_ASSERT_EQUAL_FATAL(ch_report_read_json(p, &b, &err), 0);
  CH_ASSERT_STR(b->scenario, "smoke");
  CH_ASSERT_STR(b->scenario_sha256, r->scenario_sha256);
  CU_ASSERT_EQUAL(b->seed, r->seed);
  CU_ASSERT_EQUAL(b->start_wall_ns, r->start_wall_ns);
  CU_ASSERT_EQUAL(b->exit_code, CH_EXIT_CHECK_FAILED);
  CU_ASSERT_EQUAL(b->n_checks, 3);
  CU_ASSERT_EQUAL(b->checks[1].result, CH_RESULT_FAIL);
  CH_ASSERT_STR(b->checks[1].transport, "webSockets");
  CU_ASSERT_PTR_NOT_NULL(strstr(b->checks[1].evidence, "[REDACTED]"));
  CU_ASSERT_EQUAL(b->n_thresholds, 2);
  CU_ASSERT_EQUAL(b->thresholds[1].result, CH_RESULT_FAIL);
  CU_ASSERT_EQUAL(b->n_notes, 1);
  CU_ASSERT_EQUAL(b->n_overrides, 1);
  CU_ASSERT_EQUAL_FATAL(b->metrics->n_groups, 2);
  for (size_t g = 0; g < 2; g++) {
    const struct ch_metrics_group *x = r->metrics->groups[g];
    const struct ch_metrics_group *y = ch_metrics_find(b->metrics, x->population, x->transport);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    for (int l = 0; l < CH_LAT_COUNT; l++)
      CU_ASSERT_EQUAL(memcmp(&x->lat[l], &y->lat[l], sizeof x->lat[l]), 0);
    CU_ASSERT_EQUAL(memcmp(x->counters, y->counters, sizeof x->counters), 0);
    CU_ASSERT_EQUAL(x->n_reasons, y->n_reasons);
  }
  CU_ASSERT_EQUAL(b->metrics->n_series, 10);
  CU_ASSERT_EQUAL(b->metrics->series[9].p99_ns, r->metrics->series[9].p99_ns);
  CH_ASSERT_STR(b->metrics->series[9].hist, r->metrics->series[9].hist);
  /* re-rendering from the parsed report gives the same JSON */
  struct ch_buf j1 = CH_BUF_INIT, j2 = CH_BUF_INIT;
  ch_report_json(b, &j1);
  struct ch_report *c;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(j1.data, j1.len, &c, &err), 0);
  ch_report_json(c, &j2);
  CH_ASSERT_STR(j1.data, j2.data);
  ch_buf_free(&j1), ch_buf_free(&j2);
  ch_report_free(c);
  ch_report_free(b);
  ch_report_free(r);
  ch_buf_free(&err);
}

static void test_report_junit_is_well_formed_with_counts(void) {
  struct ch_report *r = make_report(0);
  struct ch_buf x = CH_BUF_INIT, err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_junit(r, &x), 0);
  CU_ASSERT_EQUAL(count_of(x.data, "<testcase "), 5); /* 3 checks + 2 thresholds */
  CU_ASSERT_EQUAL(count_of(x.data, "<failure "), 2);   /* WS-004 and delivery_ratio */
  CU_ASSERT_EQUAL(count_of(x.data, "<skipped "), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(x.data, "<testsuites name=\"centro-harness smoke\" tests=\"5\" failures=\"2\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(x.data, "<testsuite name=\"conformance\" tests=\"3\" failures=\"1\" errors=\"0\" "
                                        "skipped=\"1\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(x.data, "server closes on &lt;bad&gt; &quot;frame&quot; &amp; keeps others"));
  CU_ASSERT_PTR_NOT_NULL(strstr(x.data, "Evidence: got 1006 after 3.2s"));
  CU_ASSERT_PTR_NOT_NULL(strstr(x.data, "observed 99.9%, expected delivery_ratio &gt;= 99.99%"));
  CU_ASSERT_PTR_NULL(strchr(x.data, '\x01')); /* control characters are not allowed in XML 1.0 */
  CU_ASSERT_PTR_NULL(strstr(x.data, "\xff"));
  ch_buf_free(&x), ch_buf_free(&err);
  ch_report_free(r);
}

#define XMLLINT "/usr/bin/xmllint"

/* Left out (skipped) only when xmllint is missing and skipping was allowed; missing otherwise, it fails here. */
static void test_report_junit_matches_the_schema(void) {
  CU_ASSERT_EQUAL_FATAL(access(XMLLINT, X_OK), 0);
  struct ch_report *r = make_report(0);
  struct ch_buf err = CH_BUF_INIT;
  char p[192], cmd[600];
  path_in(p, sizeof p, tmpdir, "junit.xml");
  CU_ASSERT_EQUAL(ch_report_write_junit(r, p, &err), 0);
  snprintf(cmd, sizeof cmd, XMLLINT " --noout --schema '%s/tests/metrics/junit.xsd' '%s' 2>&1", CH_SOURCE_DIR, p);
  CU_ASSERT_EQUAL(system(cmd), 0);
  ch_buf_free(&err);
  ch_report_free(r);
}

/* A check not run (its precondition failed) is a result of its own everywhere: "not_run" in report.json (and back),
   an <error type="not-run"> in JUnit (counted in errors, not failures), "not run" in the summary and the HTML. */
static void test_report_not_run_is_its_own_result(void) {
  struct ch_report *r = make_report(0);
  struct ch_check c = {"CON-001", "init message first", NULL, "longPolling",
                       "not run: credentials refused: every negotiate answered 401", CH_RESULT_NOT_RUN, 0};
  CU_ASSERT_EQUAL_FATAL(ch_report_add_check(r, &c), 0);
  CU_ASSERT_EQUAL(ch_report_count_checks(r, CH_RESULT_NOT_RUN), 1);
  struct ch_buf j = CH_BUF_INIT, x = CH_BUF_INIT, h = CH_BUF_INIT, err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_json(r, &j), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "\"not_run\""));
  struct ch_report *back = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(j.data, j.len, &back, &err), 0);
  CU_ASSERT_EQUAL(ch_report_count_checks(back, CH_RESULT_NOT_RUN), 1);
  CU_ASSERT_EQUAL(ch_report_junit(r, &x), 0);
  CU_ASSERT_EQUAL(count_of(x.data, "<error type=\"not-run\" message=\"not run: credentials refused"), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(x.data, "tests=\"6\" failures=\"2\" errors=\"1\" skipped=\"1\" time="));
  CU_ASSERT_PTR_NOT_NULL(strstr(x.data, "<testsuite name=\"conformance\" tests=\"4\" failures=\"1\" errors=\"1\" "
                                        "skipped=\"1\""));
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "1 not run (precondition failed)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "class=\"res-not_run\""));
  char p[192];
  path_in(p, sizeof p, tmpdir, "notrun.txt");
  FILE *f = fopen(p, "w+");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  ch_report_print_summary(r, f);
  fclose(f);
  char *txt = slurp(p, NULL);
  CU_ASSERT_TRUE(txt && strstr(txt, "checks: 1 passed, 1 failed, 1 skipped, 1 not run"));
  CU_ASSERT_TRUE(txt && strstr(txt, "not run CON-001"));
  free(txt);
  ch_report_free(back);
  ch_report_free(r);
  ch_buf_free(&j), ch_buf_free(&x), ch_buf_free(&h), ch_buf_free(&err);
}

static void test_report_html_is_self_contained(void) {
  struct ch_report *r = make_report(0);
  struct ch_buf h = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  CU_ASSERT_PTR_NULL(strstr(h.data, "<link"));
  CU_ASSERT_PTR_NULL(strstr(h.data, " src="));
  CU_ASSERT_PTR_NULL(strstr(h.data, "@import"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"chart-percentiles\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"chart-connections\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"chart-throughput\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"chart-delivery\""));
  CU_ASSERT_EQUAL(count_of(h.data, "class=\"check-row "), 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "&lt;bad&gt;"));
  CU_ASSERT_PTR_NULL(strstr(h.data, "<bad>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"transport-table\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "negotiate: HTTP 500"));
  ch_buf_free(&h);
  ch_report_free(r);
  /* a conformance-only report (the check command) has no load sections and no counters in its summary */
  ch_report_new(&r);
  struct ch_check c = {"NEG-001", "negotiate", NULL, NULL, NULL, CH_RESULT_PASS, 0};
  ch_report_add_check(r, &c);
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "conformance checks only"));
  CU_ASSERT_PTR_NULL(strstr(h.data, "chart-percentiles"));
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ch_report_print_summary(r, f);
  fclose(f);
  CU_ASSERT_PTR_NULL(strstr(text, "counters"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "checks: 1 passed"));
  free(text);
  ch_buf_free(&h);
  ch_report_free(r);
}

static void test_report_merge_of_shards(void) {
  struct ch_report *a = make_report(0), *b = make_report(1);
  /* what one process recording everything would have measured */
  struct ch_metrics *all;
  ch_metrics_new(&all);
  ch_metrics_merge(all, a->metrics);
  ch_metrics_merge(all, b->metrics);
  struct ch_buf err = CH_BUF_INIT, ja = CH_BUF_INIT, jb = CH_BUF_INIT;
  ch_report_json(a, &ja), ch_report_json(b, &jb);
  struct ch_report *ra, *rb;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(ja.data, ja.len, &ra, &err), 0);
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(jb.data, jb.len, &rb, &err), 0);
  CU_ASSERT_EQUAL_FATAL(ch_report_merge(ra, rb, &err), 0);
  CU_ASSERT_EQUAL(ra->shards, 2);
  CU_ASSERT_EQUAL(ra->metrics->n_groups, 2);
  for (size_t g = 0; g < 2; g++) {
    const struct ch_metrics_group *x = all->groups[g];
    const struct ch_metrics_group *y = ch_metrics_find(ra->metrics, x->population, x->transport);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL(memcmp(x->lat[CH_LAT_UPDATE].counts, y->lat[CH_LAT_UPDATE].counts,
                           sizeof x->lat[CH_LAT_UPDATE].counts), 0);
    CU_ASSERT_EQUAL(x->lat[CH_LAT_UPDATE].count, 2000);
    CU_ASSERT_EQUAL(memcmp(x->counters, y->counters, sizeof x->counters), 0);
  }
  double v;
  ch_metrics_lookup(ra->metrics, "updates_expected", &v);
  CU_ASSERT_EQUAL(v, 2000);
  /* series: shard b started one second later, so 11 distinct seconds, 9 of them shared */
  CU_ASSERT_EQUAL(ra->metrics->n_series, 11);
  CU_ASSERT_EQUAL(ra->metrics->series[1].messages_in, 300);
  CU_ASSERT_EQUAL(ra->metrics->series[1].connected, 2 + 1);
  CU_ASSERT_EQUAL(ra->metrics->series[0].messages_in, 150);
  /* the failing check of shard a wins over the pass of shard b; no duplicates */
  CU_ASSERT_EQUAL(ra->n_checks, 3);
  CU_ASSERT_EQUAL(ra->checks[1].result, CH_RESULT_FAIL);
  CU_ASSERT_EQUAL(ra->n_thresholds, 2);
  CU_ASSERT_EQUAL(ra->exit_code, CH_EXIT_CHECK_FAILED);
  /* different scenarios are refused */
  ch_report_set(&rb->scenario, "other");
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_report_merge(ra, rb, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "other"));
  ch_buf_free(&err), ch_buf_free(&ja), ch_buf_free(&jb);
  ch_report_free(ra), ch_report_free(rb), ch_report_free(a), ch_report_free(b);
  ch_metrics_free(all);
}

/* An interrupted shard and a partial one: the fields survive report.json, every writer shows them, an incomplete check
   is never counted as passed (JUnit: an error) and outranks a pass in a merge. */
static void test_report_interrupted_partial_and_incomplete(void) {
  struct ch_report *a = make_report(1), *b = make_report(1);
  CU_ASSERT_EQUAL(ch_report_set_interrupted(a, SIGTERM, a->start_wall_ns + 4 * S, "phase 3 of 4 (trigger)", true), 0);
  a->checks[0].result = CH_RESULT_INCOMPLETE;
  a->exit_code = CH_EXIT_SIGTERM;
  b->partial = true;
  struct ch_buf js = CH_BUF_INIT, err = CH_BUF_INIT, out = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_json(a, &js), 0);
  struct ch_report *ra = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(js.data, js.len, &ra, &err), 0);
  CH_ASSERT_STR(ra->interrupted.signal, "SIGTERM");
  CH_ASSERT_STR(ra->interrupted.phase, "phase 3 of 4 (trigger)");
  CU_ASSERT_EQUAL(ra->interrupted.at_wall_ns, a->start_wall_ns + 4 * S);
  CU_ASSERT_TRUE(ra->interrupted.second_signal);
  CU_ASSERT_FALSE(ra->partial);
  CU_ASSERT_EQUAL(ra->checks[0].result, CH_RESULT_INCOMPLETE);
  CU_ASSERT_EQUAL(ch_report_count_checks(ra, CH_RESULT_PASS), 1); /* WS-004 only */
  CU_ASSERT_EQUAL(ra->exit_code, CH_EXIT_SIGTERM);
  ch_buf_reset(&js);
  CU_ASSERT_EQUAL(ch_report_json(b, &js), 0);
  struct ch_report *rb = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(js.data, js.len, &rb, &err), 0);
  CU_ASSERT_TRUE(rb->partial);
  CU_ASSERT_PTR_NULL(rb->interrupted.signal);
  /* writers */
  CU_ASSERT_EQUAL(ch_report_junit(ra, &out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "<error type=\"incomplete\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "errors=\"1\""));
  ch_buf_reset(&out);
  CU_ASSERT_EQUAL(ch_report_html(ra, &out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "INTERRUPTED"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "phase 3 of 4 (trigger)"));
  ch_buf_reset(&out);
  CU_ASSERT_EQUAL(ch_report_html(rb, &out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "Partial report"));
  char *text = NULL;
  size_t tn = 0;
  FILE *f = open_memstream(&text, &tn);
  CU_ASSERT_EQUAL(ch_report_print_summary(ra, f), 0);
  CU_ASSERT_EQUAL(ch_report_print_summary(rb, f), 0);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "INTERRUPTED by SIGTERM"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "1 incomplete"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "PARTIAL REPORT"));
  free(text);
  /* merge: the interruption and the partial flag carry over; incomplete beats pass; the exit code is the signal's */
  CU_ASSERT_EQUAL_FATAL(ch_report_merge(rb, ra, &err), 0);
  CH_ASSERT_STR(rb->interrupted.signal, "SIGTERM");
  CU_ASSERT_TRUE(rb->partial);
  CU_ASSERT_EQUAL(rb->checks[0].result, CH_RESULT_INCOMPLETE);
  CU_ASSERT_EQUAL(rb->exit_code, CH_EXIT_SIGTERM);
  /* an unknown result is refused with the list of valid ones */
  const char *bad = strstr(js.data, "\"pass\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
  struct ch_buf mod = CH_BUF_INIT;
  ch_buf_append(&mod, js.data, (size_t)(bad - js.data));
  ch_buf_puts(&mod, "\"maybe\"");
  ch_buf_puts(&mod, bad + 6);
  struct ch_report *rm = NULL;
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_report_parse_json(mod.data, mod.len, &rm, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, "\"incomplete\"") : NULL);
  ch_buf_free(&mod), ch_buf_free(&js), ch_buf_free(&err), ch_buf_free(&out);
  ch_report_free(ra), ch_report_free(rb), ch_report_free(a), ch_report_free(b);
}

static void expect_parse_error(const char *json, const char *needle) {
  struct ch_report *r = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_parse_json(json, strlen(json), &r, &err), -EINVAL);
  CU_ASSERT_PTR_NULL(r);
  if (!err.data || !strstr(err.data, needle))
    fprintf(stderr, "expected \"%s\" in \"%s\"\n", needle, err.data ? err.data : "(none)");
  CU_ASSERT(err.data && strstr(err.data, needle));
  ch_buf_free(&err);
}

static void test_report_bad_files_are_rejected_clearly(void) {
  expect_parse_error("{\"format\":", "not valid JSON");
  expect_parse_error("[]", "expected a JSON object");
  expect_parse_error("{\"format\":\"k6\",\"version\":1}", "not a centro-harness report");
  expect_parse_error("{\"format\":\"centro-harness-report\",\"version\":2}", "unsupported version 2");
  expect_parse_error("{\"format\":\"centro-harness-report\",\"version\":1,\"run\":{},\"metrics\":{}}", "groups");
  expect_parse_error("{\"format\":\"centro-harness-report\",\"version\":1,\"run\":{\"seed\":-1},\"metrics\":"
                     "{\"groups\":[]}}",
                     "run.seed");
  expect_parse_error("{\"format\":\"centro-harness-report\",\"version\":1,\"run\":{},\"checks\":[{\"id\":\"A\","
                     "\"description\":\"d\",\"result\":\"maybe\"}],\"metrics\":{\"groups\":[]}}",
                     "checks[0].result");
  expect_parse_error("{\"format\":\"centro-harness-report\",\"version\":1,\"run\":{},\"metrics\":{\"groups\":[{"
                     "\"population\":\"p\",\"transport\":\"t\",\"latency\":{\"connect\":{\"hist\":\"HDR1:zz\"}}}]}}",
                     "metrics.groups[0].latency.connect.hist: bad histogram");
  struct ch_report *r;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_read_json("/nonexistent/report.json", &r, &err), -ENOENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "/nonexistent/report.json"));
  ch_buf_free(&err);
  /* the smallest valid report */
  const char *min = "{\"format\":\"centro-harness-report\",\"version\":1,\"run\":{},\"metrics\":{\"groups\":[]}}";
  CU_ASSERT_EQUAL(ch_report_parse_json(min, strlen(min), &r, NULL), 0);
  ch_report_free(r);
}

static void test_report_summary_and_progress(void) {
  struct ch_report *r = make_report(0);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CU_ASSERT_EQUAL(ch_report_print_summary(r, f), 0);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "p99.9"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "update_latency"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "FAIL WS-004"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "negotiate: HTTP 500"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "FAIL delivery_ratio >= 99.99%"));
  CU_ASSERT_PTR_NULL(strstr(text, SECRET));
  CU_ASSERT_PTR_NULL(strchr(text, '\x01')); /* no raw control bytes from evidence reach the terminal */
  CU_ASSERT_PTR_NULL(strchr(text, '\xff'));
  free(text);
  struct ch_progress p = {12 * S, 60 * S, 950, 1000, 12345, 3100000, 12000000, 3, false, NULL, NULL};
  char line[256];
  size_t n = ch_progress_format(&p, false, line, sizeof line);
  CU_ASSERT_EQUAL(n, strlen(line));
  CU_ASSERT_STRING_EQUAL(line, "[12s/1m00s] connected 950/1000  msg/s 12.3k  delivery p50 3.1ms p99 12ms  errors 3\n");
  /* an estimated total, the phase and what runs; nothing delivered in the last second shows "-", not 0 */
  struct ch_progress q = {75 * S, 95 * S, 50, 50, 0, 0, 0, 0, true, "trigger \033[2Jx", "step 2/8"};
  ch_progress_format(&q, false, line, sizeof line);
  CU_ASSERT_STRING_EQUAL(line, "[1m15s/~1m35s] step 2/8 trigger ?[2Jx  connected 50/50  msg/s 0  delivery p50 - p99 -  "
                               "errors 0\n");
  q.total_ns = 0;
  q.messages_per_s = 1643.3;
  ch_progress_format(&q, false, line, sizeof line);
  CU_ASSERT_EQUAL(strncmp(line, "[1m15s/?] ", 10), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(line, " msg/s 1643 "));
  ch_progress_format(&p, true, line, sizeof line);
  CU_ASSERT_EQUAL(line[0], '\r');
  CU_ASSERT_PTR_NULL(strchr(line, '\n'));
  char tiny[8];
  CU_ASSERT_EQUAL(ch_progress_format(&p, false, tiny, sizeof tiny), 7);
  CU_ASSERT_EQUAL(ch_progress_every_ns(false), 10 * S); /* plain lines every 10 s */
  CU_ASSERT_EQUAL(ch_progress_every_ns(true), 1 * S);   /* a live line every second */
  FILE *devnull = fopen("/dev/null", "w");
  CU_ASSERT_FALSE(ch_progress_live(devnull));
  fclose(devnull);
  ch_progress_from_metrics(r->metrics, &p);
  CU_ASSERT_EQUAL(p.connected, 10);
  CU_ASSERT_EQUAL(p.messages_per_s, 150);
  ch_report_free(r);
}

static void test_report_cli_report_and_merge(void) {
  struct ch_report *a = make_report(0), *b = make_report(1);
  char pa[192], pb[192], out[192], html[192], junit[192], bad[192];
  path_in(pa, sizeof pa, tmpdir, "a.json");
  path_in(pb, sizeof pb, tmpdir, "b.json");
  path_in(out, sizeof out, tmpdir, "merged.json");
  path_in(html, sizeof html, tmpdir, "merged.html");
  path_in(junit, sizeof junit, tmpdir, "merged.xml");
  path_in(bad, sizeof bad, tmpdir, "bad.json");
  CU_ASSERT_EQUAL(ch_report_write_json(a, pa, NULL), 0);
  CU_ASSERT_EQUAL(ch_report_write_json(b, pb, NULL), 0);
  FILE *f = fopen(bad, "w");
  fputs("{\"format\":\"centro-harness-report\",\"version\":7}", f);
  fclose(f);
  char *margv[] = {"merge", pa, pb, "-o", out, "--html", html, "--junit", junit, NULL};
  CU_ASSERT_EQUAL(ch_merge_main(9, margv), CH_EXIT_OK);
  struct ch_report *m;
  CU_ASSERT_EQUAL_FATAL(ch_report_read_json(out, &m, NULL), 0);
  CU_ASSERT_EQUAL(m->shards, 2);
  ch_report_free(m);
  char *h = slurp(html, NULL);
  CU_ASSERT(h && strstr(h, "chart-percentiles") != NULL);
  free(h);
  char *rargv[] = {"report", out, NULL};
  CU_ASSERT_EQUAL(ch_report_main(2, rargv), CH_EXIT_OK); /* writes report.html + junit.xml next to it */
  char p[192];
  path_in(p, sizeof p, tmpdir, "report.html");
  CU_ASSERT_EQUAL(access(p, R_OK), 0);
  char *bargv[] = {"report", bad, "--summary", NULL};
  CU_ASSERT_EQUAL(ch_report_main(3, bargv), CH_EXIT_INPUT);
  char *b2argv[] = {"merge", pa, bad, "-o", out, NULL};
  CU_ASSERT_EQUAL(ch_merge_main(5, b2argv), CH_EXIT_INPUT);
  char *b3argv[] = {"merge", pa, NULL};
  CU_ASSERT_EQUAL(ch_merge_main(2, b3argv), CH_EXIT_INPUT); /* no -o */
  char *b4argv[] = {"report", "--frobnicate", pa, NULL};
  CU_ASSERT_EQUAL(ch_report_main(3, b4argv), CH_EXIT_INPUT);
  ch_report_free(a), ch_report_free(b);
}

static void test_report_secrets_never_leak_escaped_or_cut(void) {
  struct ch_report *r;
  ch_report_new(&r);
  const char *odd = "tok&en\"with<odd>chars";
  ch_report_add_secret(r, odd);
  ch_report_add_secret(r, "abc"); /* too short to scrub safely: ignored */
  ch_report_add_secret(r, SECRET);
  char evidence[700];
  memset(evidence, 'x', 500);
  snprintf(evidence + 500, sizeof evidence - 500, "%s then %s", SECRET, odd); /* the 512-byte cut falls in it */
  struct ch_check c = {"AUTH-001", (char *)odd, NULL, NULL, evidence, CH_RESULT_FAIL, 0};
  ch_report_add_check(r, &c);
  ch_report_add_note(r, odd);
  struct ch_buf out[3] = {CH_BUF_INIT, CH_BUF_INIT, CH_BUF_INIT};
  CU_ASSERT_EQUAL(ch_report_json(r, &out[0]), 0);
  CU_ASSERT_EQUAL(ch_report_junit(r, &out[1]), 0);
  CU_ASSERT_EQUAL(ch_report_html(r, &out[2]), 0);
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_PTR_NULL(strstr(out[i].data, "tok&en"));
    CU_ASSERT_PTR_NULL(strstr(out[i].data, "tok&amp;en"));
    CU_ASSERT_PTR_NULL(strstr(out[i].data, "eyJhbGciOiJI")); /* not even a prefix of the token */
    CU_ASSERT_PTR_NOT_NULL(strstr(out[i].data, "[REDACTED]"));
    ch_buf_free(&out[i]);
  }
  ch_report_free(r);
}

static void test_report_default_dir_name(void) {
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_default_dir(NULL, "fan out/1", 1800000000ull * S, &b), 0);
  CH_ASSERT_STR(b.data, "reports/fan_out_1-20270115T080000Z");
  ch_buf_free(&b);
}

/* Two runs started in the same second never share a folder, even when they ask at the same moment. */
static void test_report_reserve_dir_never_reuses_a_folder(void) {
  char base[128];
  snprintf(base, sizeof base, "%s/reserve/reports", tmpdir); /* missing parents are created */
  struct ch_buf a = CH_BUF_INIT, b = CH_BUF_INIT, err = CH_BUF_INIT;
  uint64_t t = 1800000000ull * S;
  CU_ASSERT_EQUAL_FATAL(ch_report_reserve_dir(base, "smoke", t, &a, &err), 0);
  CU_ASSERT_EQUAL_FATAL(ch_report_reserve_dir(base, "smoke", t, &b, &err), 0);
  char want[192];
  snprintf(want, sizeof want, "%s/smoke-20270115T080000Z", base);
  CH_ASSERT_STR(a.data, want);
  strcat(want, "-2");
  CH_ASSERT_STR(b.data, want);
  struct stat st;
  CU_ASSERT_TRUE(stat(b.data, &st) == 0 && S_ISDIR(st.st_mode));
  /* six processes asking for the same name at once get six folders */
  enum { N = 6 };
  int fds[2];
  CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      struct ch_buf d = CH_BUF_INIT;
      char line[256];
      int rc = ch_report_reserve_dir(base, "race", t, &d, NULL);
      snprintf(line, sizeof line, "%s\n", rc ? "ERROR" : d.data);
      ssize_t w = write(fds[1], line, strlen(line)); /* < PIPE_BUF: atomic */
      _exit(w > 0 ? 0 : 1);
    }
  }
  close(fds[1]);
  for (int i = 0; i < N; i++)
    waitpid(pids[i], NULL, 0);
  char got[4096] = "";
  size_t len = 0;
  for (ssize_t r; (r = read(fds[0], got + len, sizeof got - 1 - len)) > 0;)
    len += (size_t)r;
  got[len] = '\0';
  close(fds[0]);
  CU_ASSERT_PTR_NULL(strstr(got, "ERROR"));
  char name[192];
  for (int k = 1; k <= N; k++) { /* each name exactly once */
    snprintf(name, sizeof name, k == 1 ? "%s/race-20270115T080000Z\n" : "%s/race-20270115T080000Z-%d\n", base, k);
    CU_ASSERT_EQUAL(count_of(got, name), 1);
  }
  ch_buf_free(&a), ch_buf_free(&b), ch_buf_free(&err);
}

static void test_report_write_text_scrubs_and_fingerprints(void) {
  struct ch_report *r = make_report(0);
  char p[192], sha[CH_SHA256_HEX_LEN + 1], want[CH_SHA256_HEX_LEN + 1];
  path_in(p, sizeof p, tmpdir, "scenario.json");
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_report_write_text(r, p, "{\"token\":\"" SECRET "\"}\n", sha, &err), 0);
  size_t n = 0;
  char *s = slurp(p, &n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CH_ASSERT_STR(s, "{\"token\":\"[REDACTED]\"}\n");
  ch_sha256_hex(s, n, want); /* the fingerprint is of the bytes on disk */
  CU_ASSERT_STRING_EQUAL(sha, want);
  free(s);
  path_in(p, sizeof p, tmpdir, "no-such-dir/scenario.json");
  CU_ASSERT_NOT_EQUAL(ch_report_write_text(r, p, "{}", sha, &err), 0);
  CU_ASSERT_TRUE(err.data && strstr(err.data, "no-such-dir"));
  ch_buf_free(&err);
  ch_report_free(r);
}

/* report.json names the binary that wrote it: version, commit, each library built with and running with; a
   report read back and written again keeps the binary that made it, not the one re-rendering it. */
static void test_report_names_the_harness_and_its_libraries(void) {
  struct ch_report *r = make_report(0);
  struct ch_buf j = CH_BUF_INIT, j2 = CH_BUF_INIT, err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_report_json(r, &j), 0);
  cJSON *root = cJSON_Parse(j.data);
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "harness");
  CU_ASSERT_FATAL(cJSON_IsObject(h));
  CH_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "version")), ch_version());
  const cJSON *git = cJSON_GetObjectItemCaseSensitive(h, "git");
  CU_ASSERT(ch_version_git()[0] ? !strcmp(cJSON_GetStringValue(git), ch_version_git()) : cJSON_IsNull(git));
  const cJSON *libs = cJSON_GetObjectItemCaseSensitive(h, "libraries");
  const char *names[] = {"libcurl", "libwebsockets", "OpenSSL", "libuv", "cJSON"};
  const char *running[] = {curl_version_info(CURLVERSION_NOW)->version, NULL, NULL, uv_version_string(),
                           cJSON_Version()};
#ifdef CH_HAVE_MPI /* a build with MPI (run --mpi) names its library too: "MPI 3.1", "Open MPI v4.1.4, ..." */
  CU_ASSERT_EQUAL(cJSON_GetArraySize(libs), 6);
  const cJSON *mpi = cJSON_GetObjectItemCaseSensitive(libs, "MPI");
  const char *mb = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mpi, "built"));
  CU_ASSERT_TRUE(mb && !strncmp(mb, "MPI ", 4));
  CU_ASSERT_TRUE(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mpi, "running")) != NULL);
#else
  CU_ASSERT_EQUAL(cJSON_GetArraySize(libs), 5);
#endif
  for (size_t i = 0; i < 5; i++) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(libs, names[i]);
    const char *b = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "built"));
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "running"));
    CU_ASSERT_TRUE(b && v && b[0] >= '0' && b[0] <= '9' && v[0]);
    if (running[i] && v)
      CU_ASSERT_STRING_EQUAL(v, running[i]);
  }
  cJSON_Delete(root);
  /* another binary's report keeps its harness object through parse and write */
  const char *other = "{\"format\":\"centro-harness-report\",\"version\":1,\"harness\":{\"version\":\"9.9.9\","
                      "\"git\":\"abc1234\",\"libraries\":{\"libcurl\":{\"built\":\"8.0.0\",\"running\":\"8.1.0\"}}},"
                      "\"run\":{},\"metrics\":{\"groups\":[]}}";
  struct ch_report *o;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(other, strlen(other), &o, &err), 0);
  CU_ASSERT_EQUAL_FATAL(ch_report_json(o, &j2), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(j2.data, "\"version\":\t\"9.9.9\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(j2.data, "\"running\":\t\"8.1.0\""));
  CU_ASSERT_EQUAL(count_of(j2.data, "\"harness\""), 1);
  ch_report_free(o);
  ch_buf_free(&j), ch_buf_free(&j2), ch_buf_free(&err);
  ch_report_free(r);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ch-test-report-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 2;
  CU_TestInfo tests[] = {CH_TEST(test_report_thresholds_evaluate_with_units),
                         CH_TEST(test_report_target_is_redacted),
                         CH_TEST(test_report_write_dir_and_read_back),
                         CH_TEST(test_report_names_the_harness_and_its_libraries),
                         CH_TEST(test_report_reserve_dir_never_reuses_a_folder),
                         CH_TEST(test_report_write_text_scrubs_and_fingerprints),
                         CH_TEST(test_report_junit_is_well_formed_with_counts),
                         CH_TEST(test_report_not_run_is_its_own_result),
                         CH_TEST(test_report_html_is_self_contained),
                         CH_TEST(test_report_merge_of_shards),
                         CH_TEST(test_report_interrupted_partial_and_incomplete),
                         CH_TEST(test_report_bad_files_are_rejected_clearly),
                         CH_TEST(test_report_summary_and_progress),
                         CH_TEST(test_report_cli_report_and_merge),
                         CH_TEST(test_report_secrets_never_leak_escaped_or_cut),
                         CH_TEST(test_report_default_dir_name),
                         CH_TEST(test_report_junit_matches_the_schema),
                         CU_TEST_INFO_NULL};
  bool skip = access(XMLLINT, X_OK) != 0 &&
              ch_test_may_skip(XMLLINT " not found: the JUnit schema check needs it (package libxml2-utils)", NULL);
  if (skip) /* the schema test is the last one */
    tests[sizeof tests / sizeof *tests - 2] = (CU_TestInfo)CU_TEST_INFO_NULL;
  int rc = ch_test_run_skipping("report", tests, skip);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return rc;
}
