/* ch_prom: the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text, written from our figures.
 *
 * One writer covers both: a counter family is named without "_total" and its sample gets the suffix; OpenMetrics
 * ends with "# EOF" and escapes '"' in HELP text too. Latency histograms come from our HDR histograms (ch_hist) as
 * cumulative buckets at a fixed set of bounds (a 1-2-5 series from 100 us to 50 s, then +Inf), `le` in seconds:
 * bounded cardinality whatever the run measured. An HDR bucket that straddles a bound counts above it (its highest
 * value is), so a bucket count is exact to the HDR resolution (< 0.8% of the bound). */
#ifndef CH_PROM_H
#define CH_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_hist.h"

struct ch_metrics;
struct cJSON;

#define CH_PROM_PREFIX "centro_harness_"
#define CH_PROM_CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CH_PROM_CT_OM "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct ch_prom {
  struct ch_buf *out;
  bool om; /* OpenMetrics 1.0 rather than text 0.0.4 */
};

enum ch_prom_type { CH_PROM_COUNTER, CH_PROM_GAUGE, CH_PROM_HISTOGRAM };

/* The bucket bounds in seconds (ascending, +Inf not included). */
size_t ch_prom_bounds(const double **out);
/* Samples of h at or below le_s seconds (HDR buckets whose highest value is <= the bound). */
uint64_t ch_prom_hist_le(const struct ch_hist *h, double le_s);

/* # HELP and # TYPE of a family. name is the full name without "_total" for counters. */
void ch_prom_family(struct ch_prom *p, const char *name, enum ch_prom_type type, const char *help);
/* One sample: name, suffix ("_total" or ""), labels ("" or `a="x",b="y"`, already escaped) and the value. */
void ch_prom_sample(struct ch_prom *p, const char *name, const char *suffix, const char *labels, double v);
/* The _bucket, _count and _sum samples of one histogram series (labels as for ch_prom_sample). */
void ch_prom_hist(struct ch_prom *p, const char *name, const char *labels, const struct ch_hist *h);
/* Appends name="value" (value escaped: backslash, quote, newline) to a label set, with a comma when not first. */
void ch_prom_label(struct ch_buf *labels, const char *name, const char *value);
/* OpenMetrics: "# EOF". Returns 0, or -ENOMEM when any append failed. */
int ch_prom_finish(struct ch_prom *p);

/* A session population now (label population only): the sessions open (started - ended, from the workers' last
   snapshots) and, for the closed model, the count its stages want open now (0 outside a steady phase). */
struct ch_prom_sessions {
  const char *population;
  uint64_t active;
  uint64_t target;
  bool closed; /* closed model: target is meaningful (an open population has no target series) */
};

/* What the runner adds to its metrics: the phase, the clock, connect failures by cause and session populations. */
struct ch_prom_run {
  const char *phase;          /* NULL: none (not started, or ended) */
  int phase_index;            /* 1-based; 0 none */
  double elapsed_s, expected_s;
  uint64_t target_clients;
  uint64_t triggers_sent, trigger_errors;
  const char *const *causes;  /* connect failures of valid-credential clients by cause */
  const uint64_t *cause_counts;
  size_t n_causes;
  const struct ch_prom_sessions *sessions; /* the scenario's session populations; NULL none */
  size_t n_sessions;
  bool running;
};

/* The session populations of x summed: the sessions open and the closed models' targets. @return whether any is a
   closed model (a target exists). */
bool ch_prom_sessions_sum(const struct ch_prom_run *x, uint64_t *active, uint64_t *target);
/* The run's exposition: counters, gauges and latency histograms per (population, transport) of m, plus x. m may be
   NULL (nothing measured yet). Returns 0 or -ENOMEM. */
int ch_prom_render_run(const struct ch_metrics *m, const struct ch_prom_run *x, bool om, struct ch_buf *out);
/* serve's exposition from its GET /stats object. Returns 0, -EINVAL (not a stats object) or -ENOMEM. */
int ch_prom_render_stats(const struct cJSON *stats, bool om, struct ch_buf *out);

#endif /* CH_PROM_H */
