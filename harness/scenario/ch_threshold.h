/* ch_threshold: threshold expressions over run metrics, "METRIC OP VALUE", e.g. "update_latency.p99 < 250ms",
 * "delivery_ratio >= 0.999", "connect_errors == 0", "error_rate < 0.1%". OP is one of < <= > >= == !=. VALUE is a
 * number, a duration ("250ms", "2s": converted to ns, allowed only for latency metrics, which are also in ns) or a
 * percentage ("99.9%": converted to a fraction). Metric names are those ch_metrics knows (ch_metrics.h).
 */
#ifndef CH_THRESHOLD_H
#define CH_THRESHOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "ch_buf.h"

enum ch_scn_threshold_op { CH_SCN_OP_LT, CH_SCN_OP_LE, CH_SCN_OP_GT, CH_SCN_OP_GE, CH_SCN_OP_EQ, CH_SCN_OP_NE };

struct ch_scn_threshold {
  char *expr;                 /* as written, for reports */
  char *metric;               /* e.g. "update_latency.p99" */
  enum ch_scn_threshold_op op;
  double value;               /* durations in ns, percentages as fractions */
  bool is_duration;           /* the metric is a latency in ns (reports print it as a duration) */
  bool abort_on_fail;         /* as k6's abortOnFail: once lost during the run, the run stops early (exit 2) */
  uint64_t delay_abort_eval_ns; /* abort_on_fail is not judged before this much of the run has passed */
};

struct ch_metrics;

/**
 * Parses one expression into t (owning its strings; release with ch_scn_threshold_clear).
 * @param err  on failure "expected ..., found ..." (the caller prefixes file and path)
 * @return 0, -EINVAL (bad syntax, unknown metric, a duration for a metric that is not a latency, or a bare number
 *         for a latency), -ENOMEM.
 */
int ch_scn_threshold_parse(const char *expr, struct ch_scn_threshold *t, struct ch_buf *err);
void ch_scn_threshold_clear(struct ch_scn_threshold *t);

/* Compares an observed value: sets *pass. */
bool ch_scn_threshold_check(const struct ch_scn_threshold *t, double observed);

/**
 * Looks the metric up in m (the run total) and compares.
 * @return 0 (with *observed and *pass set), -ENOENT (metric unknown to m), -ENOMEM.
 */
int ch_scn_threshold_eval(const struct ch_scn_threshold *t, const struct ch_metrics *m, double *observed, bool *pass);

/* Whether the metric is measured while the run goes (latencies of connect and delivery, counters of errors,
   duplicates...), so abort_on_fail can judge it; false for what is only known once the run is judged
   (updates_expected, updates_missing, delivery_ratio, fanout_completion, rates over the whole window...). */
bool ch_scn_threshold_live(const struct ch_scn_threshold *t);

const char *ch_scn_threshold_op_name(enum ch_scn_threshold_op op);
/* Formats a metric value for a report: durations as "12.3ms", fractions as numbers. Appends to out. */
int ch_scn_threshold_format_value(const struct ch_scn_threshold *t, double v, struct ch_buf *out);

#endif /* CH_THRESHOLD_H */
