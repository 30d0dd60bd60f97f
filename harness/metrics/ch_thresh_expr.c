/* ch_thresh_expr: threshold expressions. See ch_thresh_expr.h. */
#include "ch_thresh_expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch_metrics.h"

static const char *const thresh_ops[] = {"<=", ">=", "==", "!=", "<", ">"}; /* two-character ones first */

static const struct {
  const char *name;
  double ns;
} thresh_units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};

#define THRESH_N_UNITS (int)(sizeof thresh_units / sizeof thresh_units[0])

/* The duration unit at p (not followed by a letter, so "ms" is not "m" + junk): its index, or -1. */
static int thresh_unit(const char *p) {
  for (int i = 0; i < THRESH_N_UNITS; i++) {
    size_t n = strlen(thresh_units[i].name);
    if (!strncmp(p, thresh_units[i].name, n) && !isalpha((unsigned char)p[n]))
      return i;
  }
  return -1;
}

static int thresh_bad(struct ch_thresh_expr *t, enum ch_thresh_part part) {
  t->bad = part;
  return -EINVAL;
}

/* A duration starting with `v` in unit k at q; more terms must use smaller units. Sets t->value, returns the end. */
static const char *thresh_duration(struct ch_thresh_expr *t, double v, int k, const char *q) {
  double total = v * thresh_units[k].ns;
  q += strlen(thresh_units[k].name);
  while (isdigit((unsigned char)*q)) {
    char *e;
    double x = strtod(q, &e);
    int k2 = thresh_unit(e);
    if (k2 < 0 || k2 >= k)
      return NULL;
    total += x * thresh_units[k2].ns;
    k = k2;
    q = e + strlen(thresh_units[k].name);
  }
  if (!isfinite(total) || total < 0)
    return NULL;
  t->value = total;
  t->kind = CH_THRESH_DURATION;
  return q;
}

int ch_thresh_split(const char *expr, struct ch_thresh_expr *t) {
  memset(t, 0, sizeof *t);
  if (!expr)
    return thresh_bad(t, CH_THRESH_METRIC);
  const char *p = expr;
  while (isspace((unsigned char)*p))
    p++;
  const char *m0 = p;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
    p++;
  size_t ml = (size_t)(p - m0);
  if (!ml || ml >= sizeof t->metric)
    return thresh_bad(t, CH_THRESH_METRIC);
  memcpy(t->metric, m0, ml);
  while (isspace((unsigned char)*p))
    p++;
  for (size_t i = 0; i < sizeof thresh_ops / sizeof thresh_ops[0] && !t->op[0]; i++)
    if (!strncmp(p, thresh_ops[i], strlen(thresh_ops[i])))
      strcpy(t->op, thresh_ops[i]);
  if (!t->op[0])
    return thresh_bad(t, CH_THRESH_OP);
  p += strlen(t->op);
  while (isspace((unsigned char)*p))
    p++;
  char *end;
  double v = strtod(p, &end);
  /* a sign, digit or point first: strtod would also read "inf" and "nan" */
  if (end == p || !isfinite(v) || !(isdigit((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.'))
    return thresh_bad(t, CH_THRESH_NUMBER);
  const char *q = end;
  while (isspace((unsigned char)*q))
    q++;
  int k = thresh_unit(q);
  t->value = v;
  if (*q == '%') {
    t->value = v / 100.0;
    t->kind = CH_THRESH_PERCENT;
    q++;
  } else if (k >= 0) {
    q = thresh_duration(t, v, k, q);
    if (!q)
      return thresh_bad(t, CH_THRESH_UNIT);
  } else if (*q && q == end) {
    return thresh_bad(t, CH_THRESH_UNIT); /* "5parsecs" */
  }
  while (isspace((unsigned char)*q))
    q++;
  return *q ? thresh_bad(t, CH_THRESH_END) : 0;
}

int ch_threshold_parse(const char *expr, struct ch_buf *metric, char op[3], double *value, struct ch_buf *err) {
  struct ch_thresh_expr t;
  int rc = ch_thresh_split(expr, &t);
  if (rc && err) {
    if (t.bad == CH_THRESH_METRIC || t.bad == CH_THRESH_OP)
      ch_buf_printf(err, "threshold \"%s\": expected <metric> <op> <value>, op one of < <= > >= == !=",
                    expr ? expr : "");
    else if (t.bad == CH_THRESH_NUMBER)
      ch_buf_printf(err, "threshold \"%s\": expected a number after \"%s\"", expr, t.op);
    else
      ch_buf_printf(err, "threshold \"%s\": unknown unit or trailing text (units: ns us ms s m h %%)", expr);
  }
  if (rc)
    return rc;
  if (!ch_metrics_name_known(t.metric)) {
    if (err)
      ch_buf_printf(err, "threshold \"%s\": unknown metric \"%s\"; known: %s", expr, t.metric,
                    ch_metrics_known_names());
    return -EINVAL;
  }
  ch_buf_reset(metric);
  if (ch_buf_puts(metric, t.metric))
    return -ENOMEM;
  memcpy(op, t.op, sizeof t.op);
  *value = t.value;
  return 0;
}
