/* ch_compare_out: a comparison as a terminal table, JSON, JUnit XML and a self-contained HTML page. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch_compare.h"
#include "ch_report_int.h"

static const char *gate_result_name(enum ch_cmp_gate_result g) {
  static const char *const n[] = {"", "pass", "fail", "inconclusive"};
  return (unsigned)g < 4 ? n[g] : "?";
}

/* The change as "+12.3ms" / "-0.0012" / "+3" in the metric's unit. */
static void fmt_change(char *buf, size_t n, const struct ch_cmp_row *r) {
  if (n < 2)
    return;
  buf[0] = r->abs < 0 ? '-' : '+';
  ch__fmt_metric(buf + 1, n - 1, r->metric, fabs(r->abs));
}

static void fmt_rel(char *buf, size_t n, const struct ch_cmp_row *r) {
  if (isfinite(r->rel))
    snprintf(buf, n, "%+.1f%%", r->rel * 100);
  else
    snprintf(buf, n, "-");
}

static void fmt_value(char *buf, size_t n, const struct ch_cmp_row *r, bool base) {
  if (base ? !r->has_base : !r->has_new)
    snprintf(buf, n, "-");
  else
    ch__fmt_metric(buf, n, r->metric, base ? r->base : r->new_);
}

/* A row's printed values: base, new, change, relative change ("-" where unknown). */
struct cells {
  char vb[40], vn[40], ch[40], rel[24];
};

static void row_cells(const struct ch_cmp_row *r, struct cells *k) {
  fmt_value(k->vb, sizeof k->vb, r, true);
  fmt_value(k->vn, sizeof k->vn, r, false);
  if (r->has_base && r->has_new)
    fmt_change(k->ch, sizeof k->ch, r), fmt_rel(k->rel, sizeof k->rel, r);
  else
    snprintf(k->ch, sizeof k->ch, "-"), snprintf(k->rel, sizeof k->rel, "-");
}

static const char *run_label(const struct ch_report *r, char *buf, size_t n) {
  char t[32];
  ch__fmt_time(t, sizeof t, r->start_wall_ns);
  snprintf(buf, n, "%s, %s", r->scenario ? r->scenario : "?", t[0] ? t : "no start time");
  return buf;
}

int ch_cmp_text(const struct ch_cmp *c, struct ch_buf *b) {
  char lb[128], ln[128];
  ch_buf_printf(b, "\n  baseline: %s\n  new:      %s\n", run_label(c->base, lb, sizeof lb),
                run_label(c->new_, ln, sizeof ln));
  for (size_t i = 0; i < c->n_diffs; i++)
    ch_buf_printf(b, "  differs: %s %s -> %s\n", c->diffs[i].field, c->diffs[i].base, c->diffs[i].new_);
  int w = 6;
  for (size_t i = 0; i < c->n_rows; i++)
    w = (int)strlen(c->rows[i].name) > w ? (int)strlen(c->rows[i].name) : w;
  w = w > 72 ? 72 : w;
  ch_buf_printf(b, "\n  %-*s %11s %11s %11s %8s  %s\n", w, "metric", "base", "new", "change", "rel", "verdict");
  for (size_t i = 0; i < c->n_rows; i++) {
    const struct ch_cmp_row *r = &c->rows[i];
    struct cells k;
    row_cells(r, &k);
    if (r->verdict == CH_CMP_INCONCLUSIVE) /* the reason starts with "inconclusive:" */
      ch_buf_printf(b, "  %-*.*s %11s %11s %11s %8s  %s\n", w, w, r->name, k.vb, k.vn, k.ch, k.rel, r->why);
    else
      ch_buf_printf(b, "  %-*.*s %11s %11s %11s %8s  %s (%s)\n", w, w, r->name, k.vb, k.vn, k.ch, k.rel,
                    ch_cmp_verdict_name(r->verdict), r->why);
  }
  if (c->n_gates) {
    ch_buf_puts(b, "\n  gates:\n");
    for (size_t i = 0; i < c->n_rows; i++) {
      const struct ch_cmp_row *r = &c->rows[i];
      if (r->gate < 0)
        continue;
      const char *res = r->gate_result == CH_CMP_GATE_FAIL   ? "FAIL"
                        : r->gate_result == CH_CMP_GATE_PASS ? "ok"
                                                             : "inconclusive";
      ch_buf_printf(b, "    %-4s %s: %s\n", res, c->gates[r->gate].text, r->gate_why);
    }
  }
  return b->data ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------------------------------ JSON */

static cJSON *run_json(const struct ch_report *r) {
  cJSON *o = cJSON_CreateObject();
  char seed[24], t[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
  ch__fmt_time(t, sizeof t, r->start_wall_ns);
  cJSON_AddItemToObject(o, "scenario", r->scenario ? cJSON_CreateString(r->scenario) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "scenario_sha256",
                        r->scenario_sha256 ? cJSON_CreateString(r->scenario_sha256) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "target", r->target ? cJSON_CreateString(r->target) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "harness_version",
                        r->harness_version ? cJSON_CreateString(r->harness_version) : cJSON_CreateNull());
  cJSON_AddStringToObject(o, "seed", seed);
  cJSON_AddStringToObject(o, "start", t);
  cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
  return o;
}

static void num_or_null(cJSON *o, const char *k, bool has, double v) {
  cJSON_AddItemToObject(o, k, has && isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

static cJSON *pair(double a, double b) {
  cJSON *p = cJSON_CreateArray();
  cJSON_AddItemToArray(p, cJSON_CreateNumber(a));
  cJSON_AddItemToArray(p, cJSON_CreateNumber(b));
  return p;
}

int ch_cmp_json(const struct ch_cmp *c, struct ch_buf *out) {
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return -ENOMEM;
  cJSON_AddStringToObject(root, "format", "centro-harness-compare");
  cJSON_AddNumberToObject(root, "version", 1);
  cJSON_AddItemToObject(root, "base", run_json(c->base));
  cJSON_AddItemToObject(root, "new", run_json(c->new_));
  cJSON *d = cJSON_AddArrayToObject(root, "differences");
  for (size_t i = 0; i < c->n_diffs; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "field", c->diffs[i].field);
    cJSON_AddStringToObject(o, "base", c->diffs[i].base);
    cJSON_AddStringToObject(o, "new", c->diffs[i].new_);
    cJSON_AddItemToArray(d, o);
  }
  cJSON *rows = cJSON_AddArrayToObject(root, "rows");
  cJSON *gates = cJSON_AddArrayToObject(root, "gates");
  for (size_t i = 0; i < c->n_rows; i++) {
    const struct ch_cmp_row *r = &c->rows[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "metric", r->metric);
    cJSON_AddItemToObject(o, "population", *r->population ? cJSON_CreateString(r->population) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "transport", *r->transport ? cJSON_CreateString(r->transport) : cJSON_CreateNull());
    num_or_null(o, "base", r->has_base, r->base);
    num_or_null(o, "new", r->has_new, r->new_);
    num_or_null(o, "change", r->has_base && r->has_new, r->abs);
    num_or_null(o, "relative", r->has_base && r->has_new, r->rel);
    cJSON_AddNumberToObject(o, "samples_base", (double)r->n_base);
    cJSON_AddNumberToObject(o, "samples_new", (double)r->n_new);
    if (r->has_interval) {
      cJSON_AddItemToObject(o, "interval95_base", pair(r->lo_base, r->hi_base));
      cJSON_AddItemToObject(o, "interval95_new", pair(r->lo_new, r->hi_new));
    }
    cJSON_AddStringToObject(o, "verdict", ch_cmp_verdict_name(r->verdict));
    cJSON_AddStringToObject(o, "why", r->why);
    if (r->gate >= 0) {
      cJSON_AddStringToObject(o, "gate", c->gates[r->gate].text);
      cJSON *g = cJSON_CreateObject();
      cJSON_AddStringToObject(g, "gate", c->gates[r->gate].text);
      cJSON_AddStringToObject(g, "row", r->name);
      cJSON_AddStringToObject(g, "result", gate_result_name(r->gate_result));
      cJSON_AddStringToObject(g, "why", r->gate_why);
      cJSON_AddItemToArray(gates, g);
    }
    cJSON_AddItemToArray(rows, o);
  }
  cJSON_AddNumberToObject(root, "gates_failed", (double)c->gates_failed);
  cJSON_AddNumberToObject(root, "gates_inconclusive", (double)c->gates_inconclusive);
  char *s = cJSON_Print(root);
  cJSON_Delete(root);
  /* cJSON returns NULL when any allocation on the way failed (items are checked by the final print) */
  int rc = s ? ch_buf_puts(out, s) : -ENOMEM;
  rc = rc ? rc : ch_buf_putc(out, '\n');
  free(s);
  return rc;
}

/* ------------------------------------------------------------------------------------------------ JUnit */

int ch_cmp_junit(const struct ch_cmp *c, struct ch_buf *b) {
  size_t skipped = c->gates_inconclusive, failed = c->gates_failed;
  ch_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"centro-harness compare\" "
                   "tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n"
                   "  <testsuite name=\"compare\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n",
                c->n_gates, failed, skipped, c->n_gates, failed, skipped);
  for (size_t i = 0; i < c->n_rows; i++) {
    const struct ch_cmp_row *r = &c->rows[i];
    if (r->gate < 0)
      continue;
    ch_buf_puts(b, "    <testcase classname=\"compare.gates\" name=\"");
    ch__xml_escape(b, c->gates[r->gate].text);
    ch_buf_puts(b, "\" time=\"0\">");
    if (r->gate_result == CH_CMP_GATE_FAIL) {
      ch_buf_puts(b, "<failure type=\"regression\" message=\"");
      ch__xml_escape(b, r->gate_why);
      ch_buf_puts(b, "\">");
      ch__xml_escape(b, r->gate_why);
      ch_buf_puts(b, "\n");
      ch__xml_escape(b, r->why);
      ch_buf_puts(b, "</failure>");
    } else if (r->gate_result == CH_CMP_GATE_INCONCLUSIVE) {
      ch_buf_puts(b, "<skipped message=\"");
      ch__xml_escape(b, r->gate_why);
      ch_buf_puts(b, "\"/>");
    }
    ch_buf_puts(b, "</testcase>\n");
  }
  ch_buf_puts(b, "  </testsuite>\n</testsuites>\n");
  return b->data && !ch_buf_reserve(b, 0) ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------------------------------ HTML */

static const char cmp_css[] =
    "tr.worse td{background:#fdecea}tr.better td{background:#e8f5e9}tr.inconclusive td{color:#777}"
    ".v-worse{color:#c62828;font-weight:600}.v-better{color:#2e7d32;font-weight:600}";

static const char cmp_script[] =
    "<script>(function(){var c=document.querySelectorAll('svg.chart'),l=document.querySelectorAll("
    "'svg.chart polyline'),r=document.querySelectorAll('tr.cmp-row'),g=document.querySelectorAll('tr.gate-row'),"
    "s=document.getElementById('render-status');s.setAttribute('data-charts',c.length);"
    "s.setAttribute('data-lines',l.length);s.setAttribute('data-rows',r.length);s.setAttribute('data-gates',"
    "g.length);s.textContent='rendered '+c.length+' charts, '+l.length+' lines, '+r.length+' rows';})();</script>";

static void html_text(struct ch_buf *b, const char *s) { ch__xml_escape(b, s); }

static void html_run(struct ch_buf *b, const char *what, const struct ch_report *r) {
  char lab[128], seed[24];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
  ch_buf_printf(b, "<tr><th>%s</th><td>", what);
  html_text(b, run_label(r, lab, sizeof lab));
  ch_buf_puts(b, "</td><td>");
  html_text(b, r->scenario_sha256 ? r->scenario_sha256 : "-");
  ch_buf_puts(b, "</td><td>");
  html_text(b, r->target ? r->target : "-");
  ch_buf_printf(b, "</td><td>%s</td><td class=\"n\">%d</td></tr>", seed, r->exit_code);
}

static void html_rows(struct ch_buf *b, const struct ch_cmp *c) {
  ch_buf_puts(b, "<section id=\"rows\"><h2>Metrics</h2><div class=\"scroll\"><table><tr><th>metric</th><th>base</th>"
                 "<th>new</th><th>change</th><th>relative</th><th>samples</th><th>verdict</th><th>why</th></tr>");
  for (size_t i = 0; i < c->n_rows; i++) {
    const struct ch_cmp_row *r = &c->rows[i];
    struct cells k;
    row_cells(r, &k);
    const char *v = ch_cmp_verdict_name(r->verdict);
    ch_buf_printf(b, "<tr class=\"cmp-row %s\"><td>", v);
    html_text(b, r->name);
    char samples[48] = "-"; /* counters and rates have no samples behind them */
    if (r->n_base || r->n_new)
      snprintf(samples, sizeof samples, "%llu / %llu", (unsigned long long)r->n_base, (unsigned long long)r->n_new);
    ch_buf_printf(b, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s"
                     "</td><td class=\"n\">%s</td><td class=\"v-%s\">%s</td><td>",
                  k.vb, k.vn, k.ch, k.rel, samples, v, v);
    html_text(b, r->why);
    ch_buf_puts(b, "</td></tr>");
  }
  ch_buf_puts(b, "</table></div></section>\n");
}

static void html_gates(struct ch_buf *b, const struct ch_cmp *c) {
  ch_buf_puts(b, "<section id=\"gates\"><h2>Gates</h2>");
  if (!c->n_gates)
    ch_buf_puts(b, "<p>No gate (--max-regression or the scenario's \"compare\" section).</p>");
  else
    ch_buf_puts(b, "<table><tr><th>gate</th><th>result</th><th>detail</th></tr>");
  for (size_t i = 0; i < c->n_rows; i++) {
    const struct ch_cmp_row *r = &c->rows[i];
    if (r->gate < 0)
      continue;
    const char *res = gate_result_name(r->gate_result);
    ch_buf_printf(b, "<tr class=\"gate-row %s\"><td>", r->gate_result == CH_CMP_GATE_FAIL ? "worse" : "");
    html_text(b, c->gates[r->gate].text);
    ch_buf_printf(b, "</td><td class=\"%s\">%s</td><td>", r->gate_result == CH_CMP_GATE_FAIL ? "v-worse" : "", res);
    html_text(b, r->gate_why);
    ch_buf_puts(b, "</td></tr>");
  }
  if (c->n_gates)
    ch_buf_puts(b, "</table>");
  ch_buf_puts(b, "</section>\n");
}

/* The latency shown on the distribution chart: update_latency, else the first one both runs measured. */
static int chart_latency(const struct ch_metrics_group *tb, const struct ch_metrics_group *tn) {
  if (tb->lat[CH_LAT_UPDATE].count && tn->lat[CH_LAT_UPDATE].count)
    return CH_LAT_UPDATE;
  for (int l = 0; l < CH_LAT_COUNT; l++)
    if (tb->lat[l].count && tn->lat[l].count)
      return l;
  return CH_LAT_UPDATE;
}

static int html_charts(struct ch_buf *b, const struct ch_cmp *c) {
  struct ch_metrics_group *tb, *tn = NULL;
  int rc = ch_metrics_total(c->base->metrics, &tb);
  rc = rc ? rc : ch_metrics_total(c->new_->metrics, &tn);
  if (!rc) {
    int l = chart_latency(tb, tn);
    char nb[96], nn[96], title[128];
    snprintf(nb, sizeof nb, "base %s", ch_lat_name(l));
    snprintf(nn, sizeof nn, "new %s", ch_lat_name(l));
    snprintf(title, sizeof title, "%s by percentile, baseline and new run", ch_lat_name(l));
    const char *names[] = {nb, nn};
    const struct ch_hist *hists[] = {&tb->lat[l], &tn->lat[l]};
    ch_buf_puts(b, "<section id=\"latency\"><h2>Latency distributions</h2>");
    rc = ch__html_percentiles(b, "chart-compare-percentiles", title, names, hists, 2);
    ch_buf_puts(b, "</section>\n<section id=\"timeseries\"><h2>Over time (seconds since each run's start)</h2>");
    const char *runs[] = {"base", "new"};
    const struct ch_metrics *ms[] = {c->base->metrics, c->new_->metrics};
    rc = rc ? rc : ch__html_series(b, "chart-compare-connected", "Connected clients", "clients", runs, ms, 2,
                                   CH__SERIES_CONNECTED);
    rc = rc ? rc : ch__html_series(b, "chart-compare-messages", "Messages in per second", "messages/s", runs, ms, 2,
                                   CH__SERIES_MESSAGES_IN);
    rc = rc ? rc : ch__html_series(b, "chart-compare-delivery", "Update delivery p99 per second", "latency (ms)",
                                   runs, ms, 2, CH__SERIES_P99);
    ch_buf_puts(b, "</section>\n");
  }
  free(tb);
  free(tn);
  return rc;
}

int ch_cmp_html(const struct ch_cmp *c, struct ch_buf *b) {
  ch__html_page_head(b, "centro-harness compare", cmp_css);
  ch_buf_puts(b, "<header><h1>centro-harness compare: ");
  html_text(b, c->new_->scenario ? c->new_->scenario : "run");
  bool ok = !c->gates_failed;
  ch_buf_printf(b, "</h1><span class=\"verdict %s\" id=\"verdict\">%s</span> %zu gates, %zu failed, %zu "
                   "inconclusive</header>\n",
                ok ? "pass" : "fail", ok ? "NO REGRESSION" : "REGRESSION", c->n_gates, c->gates_failed,
                c->gates_inconclusive);
  ch_buf_puts(b, "<section id=\"runs\"><h2>Runs</h2><table><tr><th></th><th>scenario, start</th>"
                 "<th>scenario_sha256</th><th>target</th><th>seed</th><th>exit</th></tr>");
  html_run(b, "baseline", c->base);
  html_run(b, "new", c->new_);
  ch_buf_puts(b, "</table>");
  for (size_t i = 0; i < c->n_diffs; i++) {
    ch_buf_puts(b, "<p class=\"differs\">differs: ");
    html_text(b, c->diffs[i].field);
    ch_buf_puts(b, " ");
    html_text(b, c->diffs[i].base);
    ch_buf_puts(b, " &rarr; ");
    html_text(b, c->diffs[i].new_);
    ch_buf_puts(b, "</p>");
  }
  ch_buf_puts(b, "</section>\n");
  html_gates(b, c);
  html_rows(b, c);
  int rc = html_charts(b, c);
  ch_buf_printf(b, "<footer>Percentiles are compared from the stored histograms with 95%% order-statistic "
                   "intervals; fewer than %d samples, or fewer than %d above a percentile, is inconclusive. "
                   "<span id=\"render-status\"></span></footer>\n%s</body></html>\n",
                CH_CMP_MIN_SAMPLES, CH_CMP_MIN_TAIL, cmp_script);
  if (!rc && (!b->data || ch_buf_reserve(b, 0)))
    rc = -ENOMEM;
  return rc;
}
