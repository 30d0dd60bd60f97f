#include "ch_threshold.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_duration.h"
#include "ch_scn_check.h"

/* ch_metrics is written in parallel; until its library exists in the build, a local copy of its documented names
   keeps validation working and evaluation reports -ENOSYS. */
#if __has_include("ch_metrics.h")
#include "ch_metrics.h"
#define THR_HAVE_METRICS 1
#else
#define THR_HAVE_METRICS 0
#endif

static const char *const thr_latencies[] = {"negotiate",          "tcp_connect",    "connect",
                                            "init",               "start",          "invoke_subscribe",
                                            "invoke_unsubscribe", "update_latency", "fanout_completion",
                                            "reconnect",          NULL};

/* A latency metric "<latency>.<stat>" whose stat is itself in ns (not count or overflow), or the window "duration". */
static bool thr_is_duration_metric(const char *name) {
  if (!strcmp(name, "duration"))
    return true;
  const char *dot = strchr(name, '.');
  if (!dot)
    return false;
  bool lat = false;
  for (size_t i = 0; thr_latencies[i]; i++)
    lat |= strlen(thr_latencies[i]) == (size_t)(dot - name) && !strncmp(name, thr_latencies[i], (size_t)(dot - name));
  return lat && strcmp(dot + 1, "count") && strcmp(dot + 1, "overflow");
}

static const char *const thr_plain[] = {
    "clients_connected", "connect_errors",    "disconnects",        "reconnects",          "errors",
    "updates_expected",  "updates_received",  "updates_missing",    "updates_duplicate",   "updates_out_of_order",
    "updates_unexpected", "triggers",         "invoke_errors",      "messages_in",         "messages_out",
    "bytes_in",          "bytes_out",         "connected_peak",     "delivery_ratio",      "messages_per_second",
    "updates_per_second", "error_rate",       "duration",           NULL};

static bool thr_name_known(const char *name) {
#if THR_HAVE_METRICS
  return ch_metrics_name_known(name);
#else
  for (size_t i = 0; thr_plain[i]; i++)
    if (!strcmp(name, thr_plain[i]))
      return true;
  const char *dot = strchr(name, '.');
  if (!dot)
    return false;
  bool lat = false;
  for (size_t i = 0; thr_latencies[i]; i++)
    lat |= strlen(thr_latencies[i]) == (size_t)(dot - name) && !strncmp(name, thr_latencies[i], (size_t)(dot - name));
  const char *st = dot + 1;
  if (!lat)
    return false;
  if (!strcmp(st, "count") || !strcmp(st, "min") || !strcmp(st, "max") || !strcmp(st, "mean") ||
      !strcmp(st, "stddev") || !strcmp(st, "overflow"))
    return true;
  if (*st != 'p' || !st[1])
    return false;
  char *end;
  double pct = strtod(st + 1, &end);
  return !*end && isdigit((unsigned char)st[1]) && pct >= 0 && pct <= 100;
#endif
}

/* A likely intended name for an unknown metric: the closest latency (keeping the stat) or counter, or NULL. */
static const char *thr_suggest(const char *name, char *buf, size_t n) {
  const char *dot = strchr(name, '.');
  if (dot) {
    char head[129];
    size_t hl = (size_t)(dot - name) < sizeof head ? (size_t)(dot - name) : sizeof head - 1;
    memcpy(head, name, hl);
    head[hl] = '\0';
    const char *s = ch__scn_suggest(head, thr_latencies);
    if (s) {
      snprintf(buf, n, "%s%s", s, dot);
      if (thr_name_known(buf))
        return buf;
    }
    /* a known latency with a bad stat */
    for (size_t i = 0; thr_latencies[i]; i++)
      if (!strcmp(head, thr_latencies[i])) {
        snprintf(buf, n, "%s.p99", head);
        return buf;
      }
    return NULL;
  }
  const char *s = ch__scn_suggest(name, thr_plain);
  return s ? s : NULL;
}

static const char *thr_known_names(void) {
#if THR_HAVE_METRICS
  return ch_metrics_known_names();
#else
  return "update_latency.{count,min,max,mean,stddev,overflow,pN} (also negotiate, connect, ... latencies), "
         "delivery_ratio, connect_errors, errors, error_rate, updates_missing, ...";
#endif
}

static const struct {
  const char *text;
  enum ch_scn_threshold_op op;
} thr_ops[] = {{"<=", CH_SCN_OP_LE}, {">=", CH_SCN_OP_GE}, {"==", CH_SCN_OP_EQ},
               {"!=", CH_SCN_OP_NE}, {"<", CH_SCN_OP_LT},  {">", CH_SCN_OP_GT}};

const char *ch_scn_threshold_op_name(enum ch_scn_threshold_op op) {
  for (size_t i = 0; i < sizeof thr_ops / sizeof thr_ops[0]; i++)
    if (thr_ops[i].op == op)
      return thr_ops[i].text;
  return "?";
}

static int thr_fail(struct ch_buf *err, const char *expected, const char *expr) {
  if (err)
    ch_buf_printf(err, "expected %s, found \"%s\"", expected, expr);
  return -EINVAL;
}

#define THR_SYNTAX "a threshold \"METRIC OP VALUE\" such as \"update_latency.p99 < 250ms\" (OP: < <= > >= == !=)"

int ch_scn_threshold_parse(const char *expr, struct ch_scn_threshold *t, struct ch_buf *err) {
  memset(t, 0, sizeof *t);
  if (!expr)
    return -EINVAL;
  const char *p = expr;
  while (isspace((unsigned char)*p))
    p++;
  const char *m0 = p;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
    p++;
  size_t mlen = (size_t)(p - m0);
  while (isspace((unsigned char)*p))
    p++;
  if (!mlen || mlen > 128)
    return thr_fail(err, THR_SYNTAX, expr);
  enum ch_scn_threshold_op op = CH_SCN_OP_LT;
  size_t oplen = 0;
  for (size_t i = 0; i < sizeof thr_ops / sizeof thr_ops[0] && !oplen; i++)
    if (!strncmp(p, thr_ops[i].text, strlen(thr_ops[i].text)))
      op = thr_ops[i].op, oplen = strlen(thr_ops[i].text);
  if (!oplen)
    return thr_fail(err, *p == '=' ? THR_SYNTAX " (use == to compare)" : THR_SYNTAX, expr);
  p += oplen;
  while (isspace((unsigned char)*p))
    p++;
  char metric[129];
  memcpy(metric, m0, mlen);
  metric[mlen] = '\0';
  if (!thr_name_known(metric)) {
    char sug[160];
    const char *s = thr_suggest(metric, sug, sizeof sug);
    if (err && s)
      ch_buf_printf(err, "expected a known metric, found \"%s\" in \"%s\" (did you mean \"%s\"?)", metric, expr, s);
    else if (err)
      ch_buf_printf(err, "expected a known metric (%s), found \"%s\" in \"%s\"", thr_known_names(), metric, expr);
    return -EINVAL;
  }
  bool is_dur = thr_is_duration_metric(metric);
  /* The value: a number, optionally followed by a duration unit or '%'. */
  const char *v0 = p;
  char *end;
  double value = strtod(v0, &end);
  if (end == v0 || !isfinite(value) || (!isdigit((unsigned char)*v0) && *v0 != '-' && *v0 != '.'))
    return thr_fail(err, THR_SYNTAX, expr);
  const char *unit = end;
  const char *uend = unit;
  while (*uend && !isspace((unsigned char)*uend))
    uend++;
  const char *rest = uend;
  while (isspace((unsigned char)*rest))
    rest++;
  if (*rest)
    return thr_fail(err, THR_SYNTAX " with nothing after the value", expr);
  if (uend == unit) {
    if (is_dur && value != 0) {
      if (err)
        ch_buf_printf(err, "expected a duration with a unit for latency metric %s (e.g. \"250ms\"), found \"%s\"",
                      metric, expr);
      return -EINVAL;
    }
  } else if (*unit == '%' && uend == unit + 1) {
    if (is_dur)
      return thr_fail(err, "a duration (e.g. \"250ms\") for a latency metric, not a percentage", expr);
    value /= 100.0;
  } else {
    char vtext[64];
    size_t vlen = (size_t)(uend - v0);
    if (vlen >= sizeof vtext)
      return thr_fail(err, THR_SYNTAX, expr);
    memcpy(vtext, v0, vlen);
    vtext[vlen] = '\0';
    uint64_t ns;
    if (ch_parse_duration_ns(vtext, &ns, NULL))
      return thr_fail(err, "a number, a percentage (\"99.9%\") or a duration (\"250ms\") as the value", expr);
    if (!is_dur) {
      if (err)
        ch_buf_printf(err, "expected a plain number for metric %s (it is not a latency), found \"%s\"", metric,
                      expr);
      return -EINVAL;
    }
    value = (double)ns;
  }
  t->expr = strdup(expr);
  t->metric = strdup(metric);
  if (!t->expr || !t->metric) {
    ch_scn_threshold_clear(t);
    return -ENOMEM;
  }
  t->op = op;
  t->value = value;
  t->is_duration = is_dur;
  return 0;
}

void ch_scn_threshold_clear(struct ch_scn_threshold *t) {
  free(t->expr);
  free(t->metric);
  memset(t, 0, sizeof *t);
}

bool ch_scn_threshold_check(const struct ch_scn_threshold *t, double v) {
  switch (t->op) {
  case CH_SCN_OP_LT:
    return v < t->value;
  case CH_SCN_OP_LE:
    return v <= t->value;
  case CH_SCN_OP_GT:
    return v > t->value;
  case CH_SCN_OP_GE:
    return v >= t->value;
  case CH_SCN_OP_EQ:
    return v == t->value;
  case CH_SCN_OP_NE:
    return v != t->value;
  }
  return false;
}

int ch_scn_threshold_eval(const struct ch_scn_threshold *t, const struct ch_metrics *m, double *observed,
                          bool *pass) {
#if THR_HAVE_METRICS
  double v;
  int rc = ch_metrics_lookup(m, t->metric, &v);
  if (rc)
    return rc;
  *observed = v;
  *pass = !isnan(v) && ch_scn_threshold_check(t, v);
  return 0;
#else
  (void)t, (void)m, (void)observed, (void)pass;
  return -ENOSYS;
#endif
}

int ch_scn_threshold_format_value(const struct ch_scn_threshold *t, double v, struct ch_buf *out) {
  if (t->is_duration && v >= 0 && v < 1.8e19)
    return ch_format_duration((uint64_t)llround(v), out);
  return ch_buf_printf(out, "%.6g", v);
}
