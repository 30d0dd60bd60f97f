/* ch_thresh_expr: the one parser of threshold expressions "METRIC OP VALUE", e.g. "update_latency.p99 < 250ms",
   "delivery_ratio >= 99.9%", "connect_errors == 0", "reconnect.max <= 1m30s". The report (ch_report_eval_threshold)
   and the scenario loader (ch_scn_threshold_parse, which adds its own checks and messages) both read expressions
   through ch_thresh_split, so what a scenario accepts the report evaluates alike. */
#ifndef CH_THRESH_EXPR_H
#define CH_THRESH_EXPR_H

#include "ch_buf.h"

/* Which part of an expression is missing or malformed. */
enum ch_thresh_part {
  CH_THRESH_OK = 0,
  CH_THRESH_METRIC, /* no name of [A-Za-z0-9_.], or longer than 128 */
  CH_THRESH_OP,     /* none of < <= > >= == != */
  CH_THRESH_NUMBER, /* no finite number after the operator */
  CH_THRESH_UNIT,   /* text right after the number that is neither % nor a duration, or a negative duration */
  CH_THRESH_END,    /* something after the value and white space */
};

enum ch_thresh_kind { CH_THRESH_PLAIN = 0, CH_THRESH_DURATION, CH_THRESH_PERCENT };

struct ch_thresh_expr {
  char metric[129];
  char op[3];
  double value;             /* a duration in ns, a percentage as a fraction, else the number */
  enum ch_thresh_kind kind;
  enum ch_thresh_part bad;  /* on failure: what is wrong (metric and op are filled once read) */
};

/**
 * Splits an expression. VALUE is a number, optionally followed (also after white space) by '%' or a duration unit
 * ns us ms s m h, or by several duration terms in decreasing order ("1m30s").
 * @return 0 or -EINVAL (then out->bad says what is wrong).
 */
int ch_thresh_split(const char *expr, struct ch_thresh_expr *out);

/**
 * The report's reading: ch_thresh_split plus a known metric (ch_metrics_name_known); any unit on any metric.
 * @param err  on failure "threshold \"<expr>\": ..."
 * @return 0, -EINVAL, -ENOMEM.
 */
int ch_threshold_parse(const char *expression, struct ch_buf *metric, char op[3], double *value, struct ch_buf *err);

#endif /* CH_THRESH_EXPR_H */
