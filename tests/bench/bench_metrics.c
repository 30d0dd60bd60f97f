/* Benchmark (not a CTest): cost of recording a latency sample, and the time to render report.json, junit.xml and
   report.html for a run with 10 million samples. Usage: bench_metrics [OUT_DIR] (writes the three files there). */
#include <stdio.h>
#include <stdlib.h>

#include "ch_clock.h"
#include "ch_report.h"
#include "ch_rng.h"

#define N_SAMPLES 10000000u

int main(int argc, char **argv) {
  struct ch_report *r;
  if (ch_report_new(&r))
    return 1;
  ch_report_set(&r->scenario, "bench");
  ch_report_set_target(r, "http://127.0.0.1:8080/Centro");
  struct ch_metrics *m = r->metrics;
  struct ch_metrics_group *g[4];
  const char *tr[] = {"webSockets", "serverSentEvents", "longPolling", "webSockets"};
  for (int i = 0; i < 4; i++)
    if (ch_metrics_group(m, i == 3 ? "editors" : "viewers", tr[i], &g[i]))
      return 1;
  /* pre-generate values so the timing is of the recording only */
  enum { NV = 1 << 16 };
  uint64_t *vals = malloc(NV * sizeof *vals);
  struct ch_rng rng;
  ch_rng_seed(&rng, 1);
  for (unsigned i = 0; i < NV; i++)
    vals[i] = 200000 + (ch_rng_next(&rng) >> (64 - 24)) + (ch_rng_below(&rng, 1000) == 0 ? 900000000 : 0);
  uint64_t wall0 = 1800000000ull * 1000000000ull;
  r->start_wall_ns = wall0;
  ch_metrics_begin(m, wall0);
  uint64_t t0 = ch_now_ns();
  const unsigned per_second = N_SAMPLES / 600; /* a 10-minute run */
  for (unsigned i = 0; i < N_SAMPLES; i++) {
    ch_metrics_record(g[i & 3], CH_LAT_UPDATE, vals[i & (NV - 1)]);
    if (i % per_second == per_second - 1) {
      ch_metrics_count(g[0], CH_CNT_MESSAGES_IN, per_second);
      ch_metrics_tick(m, wall0 + (uint64_t)(i / per_second + 1) * 1000000000u);
    }
  }
  uint64_t t1 = ch_now_ns();
  /* the raw histogram hot path, without the per-second feed */
  static struct ch_hist h;
  ch_hist_init(&h);
  uint64_t t2 = ch_now_ns();
  for (unsigned i = 0; i < N_SAMPLES; i++)
    ch_hist_record(&h, vals[i & (NV - 1)]);
  uint64_t t3 = ch_now_ns();
  for (int i = 0; i < 4; i++) {
    ch_metrics_count(g[i], CH_CNT_CONNECTS, 2500);
    ch_metrics_count(g[i], CH_CNT_UPDATES_EXPECTED, N_SAMPLES / 4);
    ch_metrics_count(g[i], CH_CNT_UPDATES_RECEIVED, N_SAMPLES / 4);
    ch_metrics_connected(g[i], 2500);
    for (unsigned k = 0; k < 10000; k++)
      ch_metrics_record(g[i], CH_LAT_CONNECT, 1000000 + vals[k] / 4);
  }
  r->end_wall_ns = wall0 + 600ull * 1000000000u;
  ch_metrics_end(m, r->end_wall_ns);
  struct ch_buf err = CH_BUF_INIT;
  ch_report_eval_threshold(r, "update_latency.p99 < 100ms", &err);
  ch_report_eval_threshold(r, "delivery_ratio >= 99.9%", &err);
  for (int i = 0; i < 40; i++) {
    char id[16];
    snprintf(id, sizeof id, "CHK-%03d", i);
    struct ch_check c = {id, "a conformance check", "signalr-classic.md 1", "webSockets", i == 7 ? "evidence" : NULL,
                         i == 7 ? CH_RESULT_FAIL : CH_RESULT_PASS, 1000000};
    ch_report_add_check(r, &c);
  }
  struct ch_buf j = CH_BUF_INIT, x = CH_BUF_INIT, html = CH_BUF_INIT;
  uint64_t t4 = ch_now_ns();
  int rc = ch_report_json(r, &j) || ch_report_junit(r, &x) || ch_report_html(r, &html);
  uint64_t t5 = ch_now_ns();
  printf("record (metrics group, update latency + per-second feed): %.1f ns/sample\n",
         (double)(t1 - t0) / N_SAMPLES);
  printf("record (ch_hist_record alone):                           %.1f ns/sample\n", (double)(t3 - t2) / N_SAMPLES);
  printf("render report.json + junit.xml + report.html, %u samples, %zu series points: %.1f ms "
         "(%zu + %zu + %zu bytes)\n",
         N_SAMPLES, m->n_series, (double)(t5 - t4) / 1e6, j.len, x.len, html.len);
  if (argc > 1 && !rc && ch_report_write_dir(r, argv[1], &err))
    fprintf(stderr, "%s\n", err.data);
  ch_buf_free(&j), ch_buf_free(&x), ch_buf_free(&html), ch_buf_free(&err);
  free(vals);
  ch_report_free(r);
  return rc;
}
