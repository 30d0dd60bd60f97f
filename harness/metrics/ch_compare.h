/* ch_compare: two runs side by side (`centro-harness compare BASE NEW`), and the regression gates over them.
 *
 * A row compares one metric of one scope (the run total, or the groups of one population and/or transport) between
 * a baseline and a new report. Latency percentiles are read from the stored histograms, never from the rounded
 * summaries, and judged with the distribution-free interval of an order statistic: with n samples the q-th
 * percentile lies, with 95% confidence, between the samples of rank n*q -/+ 1.96*sqrt(n*q*(1-q)). Two runs differ
 * when those intervals do not overlap (and the values differ by more than the histogram's 1% resolution). A
 * percentile is "inconclusive" when either run has fewer than CH_CMP_MIN_SAMPLES samples, or fewer than
 * CH_CMP_MIN_TAIL samples above the percentile (p99 needs 500, p99.9 needs 5000): its value is then one of the last
 * few samples and says nothing about the next run.
 *
 * Gate syntax ("--max-regression" or the scenario's "compare" section): METRIC[{population=P,transport=T}]=LIMIT,
 * LIMIT a number with % (relative to the baseline), a duration (latencies: +5ms) or a plain number (counters and
 * ratios: errors=+0, delivery_ratio=-0.001). The limit is how far the metric may move in its worse direction; its
 * sign is optional, and when given it must point that way (+ for latencies and errors, - for delivery_ratio and
 * throughput).
 */
#ifndef CH_COMPARE_H
#define CH_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_report.h"

#define CH_CMP_MIN_SAMPLES 100 /* fewer samples in either run: a latency comparison is inconclusive */
#define CH_CMP_MIN_TAIL 5      /* fewer samples above the percentile (n * (1 - q)): inconclusive */
#define CH_CMP_SAME_RATE 0.05  /* rates (throughput) within +-5% are the same: the window includes the ramp-up */

enum ch_cmp_verdict { CH_CMP_SAME, CH_CMP_BETTER, CH_CMP_WORSE, CH_CMP_INCONCLUSIVE };
const char *ch_cmp_verdict_name(enum ch_cmp_verdict v); /* "same", "better", "worse", "inconclusive" */

enum ch_cmp_gate_result { CH_CMP_GATE_NONE, CH_CMP_GATE_PASS, CH_CMP_GATE_FAIL, CH_CMP_GATE_INCONCLUSIVE };

/* A regression gate. */
struct ch_cmp_gate {
  char text[256];       /* as written: "update_latency.p99=+10%" */
  char metric[129];     /* "update_latency.p99" ("throughput" is stored as "updates_per_second") */
  char population[64];  /* "" = every population */
  char transport[64];   /* "" = every transport */
  double allow;         /* >= 0: how far the metric may get worse (a fraction when relative, else its unit) */
  bool relative;        /* written with % */
};

struct ch_cmp_row {
  char name[256];        /* metric and scope: "update_latency.p99{population=web,transport=webSockets}" */
  char metric[129];
  char population[64], transport[64];
  bool has_base, has_new;            /* false: the metric has no value in that report (no samples, no group) */
  double base, new_;                 /* in the metric's unit (ns for latencies) */
  double abs, rel;                   /* new - base; (new - base) / base (NaN when base is 0) */
  uint64_t n_base, n_new;            /* samples behind the value (latencies, delivery_ratio); 0 for counters */
  bool has_interval;                 /* latency percentiles: 95% intervals below */
  double lo_base, hi_base, lo_new, hi_new;
  enum ch_cmp_verdict verdict;
  char why[160];                     /* "95% intervals overlap", "inconclusive: 42 samples (needs 100)" */
  int gate;                          /* index into the gates, or -1 */
  enum ch_cmp_gate_result gate_result;
  char gate_why[512];                /* "p99 grew 12.3% (allowed +10%)" */
};

/* What differs between the two runs' identities (scenario, its hash, target, harness version, seed). */
struct ch_cmp_diff {
  char field[32];
  char base[160], new_[160];
};

struct ch_cmp {
  const struct ch_report *base, *new_; /* borrowed */
  struct ch_cmp_row *rows;
  size_t n_rows, cap_rows;
  struct ch_cmp_gate *gates;
  size_t n_gates;
  struct ch_cmp_diff diffs[8];
  size_t n_diffs;
  size_t gates_failed, gates_inconclusive;
};

/**
 * Parses one gate "METRIC[{population=P,transport=T}]=LIMIT" (or, with limit not NULL, spec is only the metric
 * part and limit the value: the scenario file's {"METRIC": "LIMIT"} form).
 * @param err  why not (names the gate), without a trailing newline
 * @return 0 or -EINVAL.
 */
int ch_cmp_gate_parse(const char *spec, const char *limit, struct ch_cmp_gate *out, struct ch_buf *err);

/**
 * Compares two reports: fills the identity differences, the table (every metric both have, per scope), then adds
 * and judges a row for each gate (gates are copied). Does not refuse anything: the caller decides about diffs.
 * @return 0 or -ENOMEM. Free with ch_cmp_free.
 */
int ch_cmp_run(const struct ch_report *base, const struct ch_report *new_, const struct ch_cmp_gate *gates,
               size_t n_gates, struct ch_cmp *out);
void ch_cmp_free(struct ch_cmp *c);

/* Renderers (append to out; @return 0 or -ENOMEM): a terminal table, a JSON document ("centro-harness-compare"
   version 1), JUnit XML (one test case per gate), a self-contained HTML page with both latency distributions on one
   log-percentile plot and both runs' time series. */
int ch_cmp_text(const struct ch_cmp *c, struct ch_buf *out);
int ch_cmp_json(const struct ch_cmp *c, struct ch_buf *out);
int ch_cmp_junit(const struct ch_cmp *c, struct ch_buf *out);
int ch_cmp_html(const struct ch_cmp *c, struct ch_buf *out);

#endif /* CH_COMPARE_H */
