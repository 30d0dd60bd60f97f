#include "ch_threshold.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_duration.h"
#include "ch_metrics.h"
#include "ch_scn_check.h"
#include "ch_thresh_expr.h"

static const char *const thr_latencies[] = {"negotiate",          "tcp_connect",    "connect",
                                            "init",               "start",          "invoke_subscribe",
                                            "invoke_unsubscribe", "update_latency", "fanout_completion",
                                            "reconnect",          "replay_latency", "tls_handshake",
                                            NULL};

/* The name before the dot of "<latency>.<stat>" is a latency. */
static bool thr_is_latency(const char *name, const char *dot) {
  for (size_t i = 0; thr_latencies[i]; i++)
    if (strlen(thr_latencies[i]) == (size_t)(dot - name) && !strncmp(name, thr_latencies[i], (size_t)(dot - name)))
      return true;
  return false;
}

/* A latency metric "<latency>.<stat>" whose stat is itself in ns (not count or overflow), or the window "duration". */
static bool thr_is_duration_metric(const char *name) {
  if (!strcmp(name, "duration"))
    return true;
  const char *dot = strchr(name, '.');
  return dot && thr_is_latency(name, dot) && strcmp(dot + 1, "count") && strcmp(dot + 1, "overflow");
}

static const char *const thr_plain[] = {
    "clients_connected", "connect_errors",    "disconnects",        "reconnects",          "errors",
    "updates_expected",  "updates_received",  "updates_missing",    "updates_duplicate",   "updates_out_of_order",
    "updates_unexpected", "triggers",         "invoke_errors",      "messages_in",         "messages_out",
    "bytes_in",          "bytes_out",         "server_closes",      "connected_peak",      "delivery_ratio",
    "messages_per_second", "updates_per_second", "error_rate",      "duration",            NULL};

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
      if (ch_metrics_name_known(buf))
        return buf;
    }
    /* a known latency with a bad stat */
    if (thr_is_latency(name, dot)) {
      snprintf(buf, n, "%s.p99", head);
      return buf;
    }
    return NULL;
  }
  const char *s = ch__scn_suggest(name, thr_plain);
  return s ? s : NULL;
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

#define THR_WS " \t\r\n"

/* The syntax is ch_thresh_split's (ch_metrics), shared with the report's evaluation; this adds the scenario's checks
   (the schema's shape of the value, durations as everywhere in scenarios, units that fit the metric) and messages
   that say what was expected. */
int ch_scn_threshold_parse(const char *expr, struct ch_scn_threshold *t, struct ch_buf *err) {
  memset(t, 0, sizeof *t);
  if (!expr)
    return -EINVAL;
  struct ch_thresh_expr x;
  int rc = ch_thresh_split(expr, &x);
  if (rc && (x.bad == CH_THRESH_METRIC || x.bad == CH_THRESH_OP)) {
    const char *p = expr + strspn(expr, THR_WS) + strlen(x.metric);
    p += strspn(p, THR_WS);
    return thr_fail(err, x.bad == CH_THRESH_OP && *p == '=' ? THR_SYNTAX " (use == to compare)" : THR_SYNTAX, expr);
  }
  if (!ch_metrics_name_known(x.metric)) {
    char sug[160];
    const char *s = thr_suggest(x.metric, sug, sizeof sug);
    if (err && s)
      ch_buf_printf(err, "expected a known metric, found \"%s\" in \"%s\" (did you mean \"%s\"?)", x.metric, expr, s);
    else if (err)
      ch_buf_printf(err, "expected a known metric (%s), found \"%s\" in \"%s\"", ch_metrics_known_names(), x.metric,
                    expr);
    return -EINVAL;
  }
  if (rc && x.bad == CH_THRESH_UNIT)
    return thr_fail(err, "a number, a percentage (\"99.9%\") or a duration (\"250ms\") as the value", expr);
  if (rc)
    return thr_fail(err, x.bad == CH_THRESH_END ? THR_SYNTAX " with nothing after the value" : THR_SYNTAX, expr);
  /* the value is one word as in the schema: "250ms", not "250 ms" or "+5" (metric names hold no operator
     characters, so the first match is the operator) */
  const char *v = strstr(expr, x.op) + strlen(x.op);
  v += strspn(v, THR_WS);
  size_t vlen = strcspn(v, THR_WS);
  if (!isdigit((unsigned char)*v) && *v != '-' && *v != '.')
    return thr_fail(err, THR_SYNTAX, expr);
  if (v[vlen + strspn(v + vlen, THR_WS)])
    return thr_fail(err, THR_SYNTAX " with nothing after the value", expr);
  if (x.kind == CH_THRESH_DURATION) {
    char word[64];
    uint64_t ns;
    snprintf(word, sizeof word, "%.*s", (int)vlen, v);
    if (vlen >= sizeof word || ch_parse_duration_ns(word, &ns, NULL))
      return thr_fail(err, "a number, a percentage (\"99.9%\") or a duration (\"250ms\") as the value", expr);
  }
  bool is_dur = thr_is_duration_metric(x.metric);
  if (is_dur && x.kind == CH_THRESH_PLAIN && x.value != 0) {
    if (err)
      ch_buf_printf(err, "expected a duration with a unit for latency metric %s (e.g. \"250ms\"), found \"%s\"",
                    x.metric, expr);
    return -EINVAL;
  }
  if (is_dur && x.kind == CH_THRESH_PERCENT)
    return thr_fail(err, "a duration (e.g. \"250ms\") for a latency metric, not a percentage", expr);
  if (!is_dur && x.kind == CH_THRESH_DURATION) {
    if (err)
      ch_buf_printf(err, "expected a plain number for metric %s (it is not a latency), found \"%s\"", x.metric,
                    expr);
    return -EINVAL;
  }
  for (size_t i = 0; i < sizeof thr_ops / sizeof thr_ops[0]; i++)
    if (!strcmp(x.op, thr_ops[i].text))
      t->op = thr_ops[i].op;
  t->expr = strdup(expr);
  t->metric = strdup(x.metric);
  if (!t->expr || !t->metric) {
    ch_scn_threshold_clear(t);
    return -ENOMEM;
  }
  t->value = x.value;
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

bool ch_scn_threshold_live(const struct ch_scn_threshold *t) {
  /* counted or recorded only when the run is judged, or divided by the whole measured window */
  static const char *const after[] = {"updates_expected", "updates_received", "updates_missing", "delivery_ratio",
                                      "updates_per_second", "messages_per_second", "triggers", "messages_out",
                                      "bytes_in", "bytes_out", "duration", "fanout_completion"};
  size_t n = strcspn(t->metric, ".");
  for (size_t i = 0; i < sizeof after / sizeof after[0]; i++)
    if (strlen(after[i]) == n && !strncmp(t->metric, after[i], n))
      return false;
  return true;
}

int ch_scn_threshold_eval(const struct ch_scn_threshold *t, const struct ch_metrics *m, double *observed,
                          bool *pass) {
  double v;
  int rc = ch_metrics_lookup(m, t->metric, &v);
  if (rc)
    return rc;
  *observed = v;
  *pass = !isnan(v) && ch_scn_threshold_check(t, v);
  return 0;
}

int ch_scn_threshold_format_value(const struct ch_scn_threshold *t, double v, struct ch_buf *out) {
  if (t->is_duration && v >= 0 && v < 1.8e19)
    return ch_format_duration((uint64_t)llround(v), out);
  return ch_buf_printf(out, "%.6g", v);
}
