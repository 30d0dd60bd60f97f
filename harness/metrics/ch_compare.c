/* ch_compare: the comparison of two reports and its gates. See ch_compare.h for the statistics. */
#include "ch_compare.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_metrics.h"
#include "ch_report_int.h"
#include "ch_thresh_expr.h"

enum cmp_dir { DIR_NONE, DIR_LOWER, DIR_HIGHER };

const char *ch_cmp_verdict_name(enum ch_cmp_verdict v) {
  static const char *const n[] = {"same", "better", "worse", "inconclusive"};
  return (unsigned)v < 4 ? n[v] : "?";
}

/* Which way is worse. Metrics that only describe the workload (triggers, bytes, messages) have no direction. */
static enum cmp_dir metric_dir(const char *metric) {
  const char *dot = strchr(metric, '.');
  if (dot)
    return strcmp(dot + 1, "count") ? DIR_LOWER : DIR_NONE;
  static const char *const lower[] = {"connect_errors",       "disconnects",        "errors",
                                      "updates_missing",      "updates_duplicate",  "updates_out_of_order",
                                      "updates_unexpected",   "invoke_errors",      "server_closes",
                                      "error_rate",           NULL};
  static const char *const higher[] = {"clients_connected", "updates_received", "delivery_ratio",
                                       "updates_per_second", "connected_peak", NULL};
  for (size_t i = 0; lower[i]; i++)
    if (!strcmp(metric, lower[i]))
      return DIR_LOWER;
  for (size_t i = 0; higher[i]; i++)
    if (!strcmp(metric, higher[i]))
      return DIR_HIGHER;
  return DIR_NONE;
}

/* The percentile of "update_latency.p99" as a fraction (0.99), or -1 when the stat is not a percentile. */
static double metric_quantile(const char *metric) {
  const char *dot = strchr(metric, '.');
  if (!dot || dot[1] != 'p' || !isdigit((unsigned char)dot[2]))
    return -1;
  return strtod(dot + 2, NULL) / 100.0;
}

static bool is_latency(const char *metric) { return strchr(metric, '.') != NULL; }

/* ------------------------------------------------------------------------------------------------ gates */

static int gate_bad(struct ch_buf *err, const char *text, const char *why) {
  if (err)
    ch_buf_printf(err, "gate \"%s\": %s", text, why);
  return -EINVAL;
}

/* "{population=P,transport=T}" at s (after the '{'), up to the '}'. Returns the position after '}' or NULL. */
static const char *gate_selector(const char *s, struct ch_cmp_gate *g) {
  while (*s && *s != '}') {
    const char *eq = strchr(s, '=');
    const char *end = s + strcspn(s, ",}");
    if (!eq || eq > end || eq + 1 == end)
      return NULL;
    size_t kl = (size_t)(eq - s), vl = (size_t)(end - eq - 1);
    char *dst = kl == 10 && !strncmp(s, "population", 10) ? g->population
                : kl == 9 && !strncmp(s, "transport", 9)  ? g->transport
                                                          : NULL;
    if (!dst || *dst || vl >= sizeof g->population)
      return NULL;
    memcpy(dst, eq + 1, vl);
    s = *end == ',' ? end + 1 : end;
  }
  return *s == '}' ? s + 1 : NULL;
}

int ch_cmp_gate_parse(const char *spec, const char *limit, struct ch_cmp_gate *g, struct ch_buf *err) {
  memset(g, 0, sizeof *g);
  if (!spec)
    return gate_bad(err, "", "expected METRIC=LIMIT");
  if (limit)
    snprintf(g->text, sizeof g->text, "%s=%s", spec, limit);
  else
    snprintf(g->text, sizeof g->text, "%s", spec);
  const char *p = g->text;
  size_t ml = strcspn(p, "{=");
  if (!ml || ml >= sizeof g->metric)
    return gate_bad(err, g->text, "expected METRIC=LIMIT, e.g. update_latency.p99=+10% or errors=+0");
  memcpy(g->metric, p, ml);
  p += ml;
  if (*p == '{' && !(p = gate_selector(p + 1, g)))
    return gate_bad(err, g->text, "expected a scope {population=NAME,transport=NAME} (either or both)");
  if (*p != '=' || !p[1])
    return gate_bad(err, g->text, "expected METRIC=LIMIT, e.g. update_latency.p99=+10% or errors=+0");
  if (!strcmp(g->metric, "throughput"))
    strcpy(g->metric, "updates_per_second");
  if (!ch_metrics_name_known(g->metric)) {
    if (err)
      ch_buf_printf(err, "gate \"%s\": unknown metric \"%s\"; known: throughput, %s", g->text, g->metric,
                    ch_metrics_known_names());
    return -EINVAL;
  }
  enum cmp_dir dir = metric_dir(g->metric);
  if (dir == DIR_NONE)
    return gate_bad(err, g->text, "this metric describes the workload and is neither better nor worse when it "
                                  "grows; gate a latency, an error counter, delivery_ratio or throughput");
  p++;
  char sign = *p == '+' || *p == '-' ? *p++ : 0;
  if ((sign == '-' && dir == DIR_LOWER) || (sign == '+' && dir == DIR_HIGHER))
    return gate_bad(err, g->text, dir == DIR_LOWER ? "this metric gets worse when it grows: write the limit as +N"
                                                   : "this metric gets worse when it falls: write the limit as -N");
  char expr[160];
  snprintf(expr, sizeof expr, "x <= %s", p);
  struct ch_thresh_expr t;
  if (!isdigit((unsigned char)*p) && *p != '.')
    return gate_bad(err, g->text, "expected a number after '=' (+10%, +5ms, +0)");
  if (ch_thresh_split(expr, &t))
    return gate_bad(err, g->text, "expected a number with an optional unit: % (relative to the baseline), ns us "
                                  "ms s m h (latencies), or none (counters and ratios)");
  bool lat = is_latency(g->metric);
  if (t.kind == CH_THRESH_DURATION && !lat)
    return gate_bad(err, g->text, "a duration limit is only for latencies; use % or a plain number");
  if (t.kind == CH_THRESH_PLAIN && lat && strstr(g->metric, ".overflow") == NULL)
    return gate_bad(err, g->text, "a latency limit needs a unit (+5ms) or % (+10%)");
  g->relative = t.kind == CH_THRESH_PERCENT;
  g->allow = t.value;
  return 0;
}

/* ------------------------------------------------------------------------------------------------ rows */

/* One scope of one report: the sum of its matching groups (NULL when none matched). */
struct scope {
  const struct ch_metrics *m;
  struct ch_metrics_group *g;
};

static int scope_get(const struct ch_report *r, const char *pop, const char *tr, struct scope *s) {
  size_t matched = 0;
  s->m = r->metrics;
  s->g = NULL;
  int rc = ch_metrics_select(r->metrics, pop, tr, &s->g, &matched);
  if (!rc && !matched) {
    free(s->g);
    s->g = NULL;
  }
  return rc;
}

/* Value and sample count of a metric in a scope; false when it has none (no group, or a latency without samples). */
static bool scope_value(const struct scope *s, const char *metric, double *v, uint64_t *n) {
  *n = 0;
  if (!s->g)
    return false;
  const char *dot = strchr(metric, '.');
  if (dot) {
    int l = ch_lat_from_name(metric, (size_t)(dot - metric));
    if (l < 0 || !s->g->lat[l].count)
      return false;
    *n = s->g->lat[l].count;
  } else if (!strcmp(metric, "delivery_ratio")) {
    *n = s->g->counters[CH_CNT_UPDATES_EXPECTED];
    if (!*n)
      return false;
  }
  return ch_metrics_group_lookup(s->m, s->g, metric, v) == 0;
}

static const struct ch_hist *scope_hist(const struct scope *s, const char *metric) {
  const char *dot = strchr(metric, '.');
  int l = dot ? ch_lat_from_name(metric, (size_t)(dot - metric)) : -1;
  return l >= 0 && s->g ? &s->g->lat[l] : NULL;
}

/* The 95% interval of the q-th percentile from the ranks of the order statistics (normal approximation of the
   binomial count of samples below it). */
static void pct_interval(const struct ch_hist *h, double q, double *lo, double *hi) {
  double n = (double)h->count, sd = sqrt(n * q * (1 - q));
  double rlo = fmax(1, floor(n * q - 1.96 * sd)), rhi = fmin(n, ceil(n * q + 1.96 * sd));
  *lo = (double)ch_hist_value_at(h, 100.0 * rlo / n);
  *hi = (double)ch_hist_value_at(h, 100.0 * rhi / n);
}

static void verdict_by_sign(struct ch_cmp_row *r, enum cmp_dir dir, int sign) {
  if (!sign)
    r->verdict = CH_CMP_SAME;
  else
    r->verdict = (sign > 0) == (dir == DIR_LOWER) ? CH_CMP_WORSE : CH_CMP_BETTER;
}

/* The verdict of a row whose values are both known. */
static void row_judge(struct ch_cmp_row *r, const struct scope *sb, const struct scope *sn) {
  enum cmp_dir dir = metric_dir(r->metric);
  double q = metric_quantile(r->metric);
  uint64_t nmin = r->n_base < r->n_new ? r->n_base : r->n_new;
  if (is_latency(r->metric) || !strcmp(r->metric, "delivery_ratio")) {
    uint64_t need = CH_CMP_MIN_SAMPLES;
    if (q > 0 && q < 1)
      need = (uint64_t)fmax((double)need, ceil(CH_CMP_MIN_TAIL / (1 - q) - 1e-9));
    if (nmin < need) {
      r->verdict = CH_CMP_INCONCLUSIVE;
      snprintf(r->why, sizeof r->why, "inconclusive: %llu samples (needs %llu)", (unsigned long long)nmin,
               (unsigned long long)need);
      return;
    }
  }
  const struct ch_hist *hb = scope_hist(sb, r->metric), *hn = scope_hist(sn, r->metric);
  bool past_resolution = fabs(r->abs) > 0.01 * fmax(fabs(r->base), fabs(r->new_));
  if (hb && hn && q >= 0 && q <= 1) {
    r->has_interval = true;
    pct_interval(hb, q, &r->lo_base, &r->hi_base);
    pct_interval(hn, q, &r->lo_new, &r->hi_new);
    int sign = !past_resolution ? 0 : r->lo_new > r->hi_base ? 1 : r->hi_new < r->lo_base ? -1 : 0;
    verdict_by_sign(r, dir, sign);
    snprintf(r->why, sizeof r->why, "95%% intervals %s", sign ? "apart" : "overlap");
  } else if (hb && hn && !strcmp(strchr(r->metric, '.') + 1, "mean")) {
    double vb = ch_hist_stddev(hb), vn = ch_hist_stddev(hn);
    double se = sqrt(vb * vb / (double)hb->count + vn * vn / (double)hn->count);
    double z = se > 0 ? r->abs / se : (r->abs ? INFINITY : 0);
    verdict_by_sign(r, dir, past_resolution && fabs(z) > 1.96 ? (z > 0 ? 1 : -1) : 0);
    snprintf(r->why, sizeof r->why, "z-test, z = %.2f", z);
  } else if (!strcmp(r->metric, "delivery_ratio")) {
    /* two-proportion z-test on delivered / expected */
    double pb = r->base, pn = r->new_, nb = (double)r->n_base, nn = (double)r->n_new;
    double p = (pb * nb + pn * nn) / (nb + nn), se = sqrt(p * (1 - p) * (1 / nb + 1 / nn));
    double z = se > 0 ? r->abs / se : 0;
    verdict_by_sign(r, dir, fabs(z) > 1.96 ? (z > 0 ? 1 : -1) : 0);
    snprintf(r->why, sizeof r->why, "two-proportion z-test, z = %.2f", z);
  } else if (!strcmp(r->metric, "updates_per_second") || !strcmp(r->metric, "messages_per_second")) {
    int sign = isfinite(r->rel) && fabs(r->rel) > CH_CMP_SAME_RATE ? (r->rel > 0 ? 1 : -1) : (r->abs && r->base == 0);
    verdict_by_sign(r, dir, sign);
    snprintf(r->why, sizeof r->why, "rates within +-%.0f%% are the same", CH_CMP_SAME_RATE * 100);
  } else if (is_latency(r->metric)) { /* min, max, stddev, overflow: the values themselves */
    verdict_by_sign(r, dir, past_resolution ? (r->abs > 0 ? 1 : -1) : 0);
    snprintf(r->why, sizeof r->why, "values compared (1%% resolution)");
  } else { /* counters are exact */
    verdict_by_sign(r, dir, r->abs > 0 ? 1 : r->abs < 0 ? -1 : 0);
    snprintf(r->why, sizeof r->why, "exact counts");
  }
}

static int row_add(struct ch_cmp *c, const char *metric, const char *pop, const char *tr, struct ch_cmp_row **out) {
  if (c->n_rows == c->cap_rows) {
    size_t cap = c->cap_rows ? c->cap_rows * 2 : 64;
    struct ch_cmp_row *n = realloc(c->rows, cap * sizeof *n);
    if (!n)
      return -ENOMEM;
    c->rows = n, c->cap_rows = cap;
  }
  struct ch_cmp_row *r = &c->rows[c->n_rows];
  memset(r, 0, sizeof *r);
  r->gate = -1;
  snprintf(r->metric, sizeof r->metric, "%s", metric);
  snprintf(r->population, sizeof r->population, "%s", pop ? pop : "");
  snprintf(r->transport, sizeof r->transport, "%s", tr ? tr : "");
  if (!*r->population && !*r->transport)
    snprintf(r->name, sizeof r->name, "%s", metric);
  else
    snprintf(r->name, sizeof r->name, "%s{%s%s%s%s%s}", metric, *r->population ? "population=" : "", r->population,
             *r->population && *r->transport ? "," : "", *r->transport ? "transport=" : "", r->transport);
  struct scope sb, sn = {0};
  int rc = scope_get(c->base, r->population, r->transport, &sb);
  rc = rc ? rc : scope_get(c->new_, r->population, r->transport, &sn);
  if (!rc) {
    r->has_base = scope_value(&sb, metric, &r->base, &r->n_base);
    r->has_new = scope_value(&sn, metric, &r->new_, &r->n_new);
    r->abs = r->new_ - r->base;
    r->rel = r->base != 0 ? r->abs / fabs(r->base) : NAN;
    if (r->has_base && r->has_new) {
      row_judge(r, &sb, &sn);
    } else if (!sb.g && !sn.g) { /* a misspelt population or transport says so rather than passing quietly */
      r->verdict = CH_CMP_INCONCLUSIVE;
      snprintf(r->why, sizeof r->why, "inconclusive: no group of %s in either run", strchr(r->name, '{'));
    } else {
      r->verdict = CH_CMP_INCONCLUSIVE;
      snprintf(r->why, sizeof r->why, "inconclusive: no value in %s", !r->has_base && !r->has_new ? "either run"
                                                                       : !r->has_base         ? "the baseline"
                                                                                              : "the new run");
    }
    c->n_rows++;
    *out = r;
  }
  free(sb.g);
  free(sn.g);
  return rc;
}

static struct ch_cmp_row *row_find(struct ch_cmp *c, const char *metric, const char *pop, const char *tr) {
  for (size_t i = 0; i < c->n_rows; i++)
    if (!strcmp(c->rows[i].metric, metric) && !strcmp(c->rows[i].population, pop) &&
        !strcmp(c->rows[i].transport, tr))
      return &c->rows[i];
  return NULL;
}

/* The default table of one scope: latencies with samples in both runs, delivery ratio, throughput, and the error
   counters either run counted (errors always). */
static int scope_rows(struct ch_cmp *c, const char *pop, const char *tr, bool total) {
  static const char *const tot_stats[] = {"p50", "p90", "p99", "p99.9", "mean", NULL};
  static const char *const grp_stats[] = {"p50", "p99", NULL};
  struct scope sb, sn = {0};
  int rc = scope_get(c->base, pop, tr, &sb);
  rc = rc ? rc : scope_get(c->new_, pop, tr, &sn);
  struct ch_cmp_row *r;
  char name[160];
  for (int l = 0; l < CH_LAT_COUNT && !rc && sb.g && sn.g; l++) {
    if (!sb.g->lat[l].count || !sn.g->lat[l].count)
      continue;
    /* the whole set for the Update latencies, the middle and the tail for the connection's own steps */
    bool full = total && (l == CH_LAT_UPDATE || l == CH_LAT_FANOUT || l == CH_LAT_REPLAY);
    for (const char *const *st = full ? tot_stats : grp_stats; *st && !rc; st++) {
      snprintf(name, sizeof name, "%s.%s", ch_lat_name(l), *st);
      rc = row_add(c, name, pop, tr, &r);
    }
  }
  if (!rc && sb.g && sn.g) {
    if (sb.g->counters[CH_CNT_UPDATES_EXPECTED] && sn.g->counters[CH_CNT_UPDATES_EXPECTED])
      rc = row_add(c, "delivery_ratio", pop, tr, &r);
    if (!rc && (sb.g->counters[CH_CNT_UPDATES_RECEIVED] || sn.g->counters[CH_CNT_UPDATES_RECEIVED]))
      rc = row_add(c, "updates_per_second", pop, tr, &r);
    if (!rc && total)
      rc = row_add(c, "clients_connected", pop, tr, &r);
    for (int k = 0; k < CH_CNT_COUNT && !rc; k++)
      if (metric_dir(ch_cnt_name(k)) == DIR_LOWER &&
          (k == CH_CNT_ERRORS || sb.g->counters[k] || sn.g->counters[k]))
        rc = row_add(c, ch_cnt_name(k), pop, tr, &r);
  }
  free(sb.g);
  free(sn.g);
  return rc;
}

/* ------------------------------------------------------------------------------------------------ gates judged */

static void gate_judge(const struct ch_cmp_gate *g, struct ch_cmp_row *r) {
  enum cmp_dir dir = metric_dir(g->metric);
  char lim[48], worse[48];
  if (g->relative)
    snprintf(lim, sizeof lim, "%s%g%%", dir == DIR_LOWER ? "+" : "-", g->allow * 100);
  else if (is_latency(g->metric)) {
    char d[40];
    ch__fmt_dur(d, sizeof d, g->allow);
    snprintf(lim, sizeof lim, "+%s", d);
  }
  else
    snprintf(lim, sizeof lim, "%s%g", dir == DIR_LOWER ? "+" : "-", g->allow);
  if (r->verdict == CH_CMP_INCONCLUSIVE && !(r->has_base && !r->has_new)) {
    r->gate_result = CH_CMP_GATE_INCONCLUSIVE;
    snprintf(r->gate_why, sizeof r->gate_why, "%s", r->why);
    return;
  }
  if (!r->has_new) { /* the baseline measured it and the new run nothing: nothing was delivered, say */
    r->gate_result = CH_CMP_GATE_FAIL;
    snprintf(r->gate_why, sizeof r->gate_why, "%.255s: no value in the new run (the baseline has one)", r->name);
    return;
  }
  double w = dir == DIR_LOWER ? r->abs : -r->abs; /* > 0: worse */
  double allowed = g->relative ? g->allow * fabs(r->base) : g->allow;
  bool fail = w > allowed * (1 + 1e-12) + (g->relative ? 0 : 1e-12);
  r->gate_result = fail ? CH_CMP_GATE_FAIL : CH_CMP_GATE_PASS;
  char b[48], n[48];
  ch__fmt_metric(b, sizeof b, r->metric, r->base);
  ch__fmt_metric(n, sizeof n, r->metric, r->new_);
  if (isfinite(r->rel))
    snprintf(worse, sizeof worse, " (%+.1f%%)", r->rel * 100);
  else
    worse[0] = '\0';
  snprintf(r->gate_why, sizeof r->gate_why, "%.255s %s: %s -> %s%s, allowed %s", r->name,
           fail ? "regressed" : "within its limit", b, n, worse, lim);
}

/* ------------------------------------------------------------------------------------------------ identity */

static void diff_add(struct ch_cmp *c, const char *field, const char *b, const char *n) {
  if ((!b && !n) || (b && n && !strcmp(b, n)) || c->n_diffs >= sizeof c->diffs / sizeof c->diffs[0])
    return;
  struct ch_cmp_diff *d = &c->diffs[c->n_diffs++];
  snprintf(d->field, sizeof d->field, "%s", field);
  snprintf(d->base, sizeof d->base, "%s", b ? b : "(none)");
  snprintf(d->new_, sizeof d->new_, "%s", n ? n : "(none)");
}

int ch_cmp_run(const struct ch_report *base, const struct ch_report *new_, const struct ch_cmp_gate *gates,
               size_t n_gates, struct ch_cmp *c) {
  memset(c, 0, sizeof *c);
  c->base = base, c->new_ = new_;
  diff_add(c, "scenario", base->scenario, new_->scenario);
  diff_add(c, "scenario_sha256", base->scenario_sha256, new_->scenario_sha256);
  char sb[24], sn[24];
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)base->seed);
  snprintf(sn, sizeof sn, "%llu", (unsigned long long)new_->seed);
  diff_add(c, "seed", sb, sn);
  diff_add(c, "target", base->target, new_->target);
  diff_add(c, "harness_version", base->harness_version, new_->harness_version);
  int rc = scope_rows(c, "", "", true);
  /* per (population, transport) when there is more than one group: one group is the total again */
  const struct ch_metrics *mb = base->metrics, *mn = new_->metrics;
  for (size_t i = 0; i < mb->n_groups && !rc && (mb->n_groups > 1 || mn->n_groups > 1); i++) {
    const struct ch_metrics_group *g = mb->groups[i];
    if (ch_metrics_find(mn, g->population, g->transport))
      rc = scope_rows(c, g->population, g->transport, false);
  }
  if (!rc && n_gates && !(c->gates = calloc(n_gates, sizeof *c->gates)))
    rc = -ENOMEM;
  for (size_t i = 0; i < n_gates && !rc; i++) {
    const struct ch_cmp_gate *g = &gates[i];
    c->gates[c->n_gates++] = *g;
    struct ch_cmp_row *r = row_find(c, g->metric, g->population, g->transport);
    if (!r || r->gate >= 0) /* a second gate on the same metric gets a row of its own */
      rc = row_add(c, g->metric, g->population, g->transport, &r);
    if (rc)
      break;
    r->gate = (int)i;
    gate_judge(g, r);
    c->gates_failed += r->gate_result == CH_CMP_GATE_FAIL;
    c->gates_inconclusive += r->gate_result == CH_CMP_GATE_INCONCLUSIVE;
  }
  if (rc)
    ch_cmp_free(c);
  return rc;
}

void ch_cmp_free(struct ch_cmp *c) {
  free(c->rows);
  free(c->gates);
  c->rows = NULL;
  c->gates = NULL;
  c->n_rows = c->n_gates = c->cap_rows = 0;
}
