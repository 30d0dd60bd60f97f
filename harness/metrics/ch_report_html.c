/* report.html: one self-contained page (no network, no external assets). Charts are inline SVG drawn here; a few
   lines of inline script only report that the page rendered (for the browser test) and are not needed to read it. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_report_int.h"
#include "ch_report_ranks.h"

#define W 760
#define H 260
#define ML 64
#define MR 44
#define MT 28
#define MB 40

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct line {
  const char *name;
  size_t n;
  double *x, *y;
  bool *red; /* X_LOAD: per point, the step broke an SLO (may be NULL) */
};

enum xaxis { X_SECONDS, X_PERCENTILE, X_LOAD, X_SINCE_DROP };

/* X_LOAD (capacity charts): what is varied, and the knee. Every step is drawn as a point, those that broke an SLO in
   red, and a red vertical line marks the first step that broke. */
struct loadx {
  const char *label;
  double broken_x; /* < 0: no step broke */
};

static double nice_ceil(double v) {
  if (!(v > 0))
    return 1;
  double p = pow(10, floor(log10(v)));
  const double steps[] = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
    if (steps[i] * p >= v * (1 - 1e-12))
      return steps[i] * p;
  return 10 * p;
}

static void esc(struct ch_buf *b, const char *s) { ch__xml_escape(b, s); }

static void chart(struct ch_buf *b, const char *id, const char *title, const char *ylabel, enum xaxis xa,
                  const struct line *lines, size_t nl, const struct loadx *lx) {
  double xmax = 0, ymax = 0;
  size_t points = 0;
  for (size_t l = 0; l < nl; l++)
    for (size_t i = 0; i < lines[l].n; i++) {
      xmax = fmax(xmax, lines[l].x[i]);
      ymax = fmax(ymax, lines[l].y[i]);
      points++;
    }
  if (xa == X_PERCENTILE)
    xmax = fmax(2, ceil(xmax));
  else if (xa == X_LOAD) /* headroom: the last step (often the knee) off the frame */
    xmax = nice_ceil(xmax > 0 ? xmax * 1.08 : 1);
  else
    xmax = nice_ceil(xmax > 0 ? xmax : 1);
  ymax = nice_ceil(ymax);
  const double pw = W - ML - MR, ph = H - MT - MB;
  ch_buf_printf(b, "<figure><svg class=\"chart\" id=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                   "role=\"img\" xmlns=\"http://www.w3.org/2000/svg\"><title>", id, W, H, W, H);
  esc(b, title);
  ch_buf_printf(b, "</title><text x=\"%d\" y=\"16\" class=\"ct\">", ML);
  esc(b, title);
  ch_buf_puts(b, "</text>");
  /* grid and y ticks */
  for (int i = 0; i <= 4; i++) {
    double y = MT + ph - ph * i / 4.0;
    ch_buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", ML, y, ML + pw, y);
    char lab[32];
    ch__fmt_count(lab, sizeof lab, ymax * i / 4.0);
    ch_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" class=\"yt\">%s</text>", ML - 6, y + 4, lab);
  }
  ch_buf_printf(b, "<text x=\"14\" y=\"%.1f\" class=\"yl\" transform=\"rotate(-90 14 %.1f)\">", MT + ph / 2,
                MT + ph / 2);
  esc(b, ylabel);
  ch_buf_puts(b, "</text>");
  /* x ticks */
  if (xa == X_PERCENTILE) {
    static const char *const lab[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"};
    for (int i = 0; i <= (int)xmax && i < 8; i++) {
      double x = ML + pw * i / xmax;
      ch_buf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", x, MT, x, MT + ph);
      ch_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"xt\">%s</text>", x, MT + ph + 16, lab[i]);
    }
    ch_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">percentile (log scale of 1/(1-p))</text>", ML + pw / 2,
                  H - 4);
  } else if (xa == X_LOAD) {
    for (int i = 0; i <= 5; i++) {
      double x = ML + pw * i / 5.0;
      ch_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"xt\">%.4g</text>", x, MT + ph + 16, xmax * i / 5.0);
    }
    ch_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">", ML + pw / 2, H - 4);
    esc(b, lx && lx->label ? lx->label : "load");
    ch_buf_puts(b, "</text>");
  } else {
    for (int i = 0; i <= 5; i++) {
      double x = ML + pw * i / 5.0;
      ch_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"xt\">%.4gs</text>", x, MT + ph + 16, xmax * i / 5.0);
    }
    ch_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">seconds since %s</text>", ML + pw / 2, H - 4,
                  xa == X_SINCE_DROP ? "the drop" : "start");
  }
  ch_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>", ML, MT, pw, ph);
  if (!points)
    ch_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"nodata\">no data</text>", ML + pw / 2, MT + ph / 2);
  for (size_t l = 0; l < nl; l++) {
    const char *color = palette[l % (sizeof palette / sizeof *palette)];
    if (lines[l].n) {
      ch_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" data-name=\"", color);
      esc(b, lines[l].name);
      ch_buf_puts(b, "\" points=\"");
      for (size_t i = 0; i < lines[l].n; i++)
        ch_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", ML + pw * lines[l].x[i] / xmax,
                      MT + ph - ph * lines[l].y[i] / ymax);
      ch_buf_puts(b, "\"/>");
      for (size_t i = 0; xa == X_LOAD && i < lines[l].n; i++) {
        bool red = lines[l].red && lines[l].red[i];
        ch_buf_printf(b, "<circle class=\"pt%s\" data-load=\"%g\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>",
                      red ? " broken" : "", lines[l].x[i], ML + pw * lines[l].x[i] / xmax,
                      MT + ph - ph * lines[l].y[i] / ymax, red ? "#c62828" : color);
      }
      if (lines[l].n == 1 && xa != X_LOAD) /* a single point draws no line: mark it */
        ch_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", ML + pw * lines[l].x[0] / xmax,
                      MT + ph - ph * lines[l].y[0] / ymax, color);
    }
    /* legend */
    double lx = ML + 8 + (double)(l % 4) * 170, ly = MT + 14 + (double)(l / 4) * 14;
    ch_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"3\" fill=\"%s\"/>", lx, ly - 4, color);
    ch_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"lg\">", lx + 14, ly);
    esc(b, lines[l].name);
    ch_buf_puts(b, "</text>");
  }
  if (xa == X_LOAD && lx && lx->broken_x >= 0) {
    double x = ML + pw * lx->broken_x / xmax;
    ch_buf_printf(b, "<line class=\"knee\" data-load=\"%g\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" "
                     "stroke=\"#c62828\" stroke-dasharray=\"5,4\"/>"
                     "<text x=\"%.1f\" y=\"%d\" class=\"kt\">SLO broken</text>",
                  lx->broken_x, x, MT, x, MT + ph, x - 4, MT + 12);
  }
  ch_buf_puts(b, "</svg></figure>\n");
}

static int alloc_line(struct line *l, const char *name, size_t n) {
  l->name = name;
  l->n = 0;
  l->red = NULL;
  l->x = malloc((n ? n : 1) * sizeof *l->x);
  l->y = malloc((n ? n : 1) * sizeof *l->y);
  return l->x && l->y ? 0 : -ENOMEM;
}

static void free_lines(struct line *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(l[i].x), free(l[i].y), free(l[i].red);
}

/* HDR-style percentile distribution: x = log10(1/(1-p)), y = latency in ms, one line per histogram. */
int ch__html_percentiles(struct ch_buf *b, const char *id, const char *title, const char *const *names,
                         const struct ch_hist *const *hists, size_t n_hists) {
  struct line lines[16];
  size_t nl = 0;
  int rc = 0;
  for (size_t m = 0; m < n_hists && nl < sizeof lines / sizeof *lines && !rc; m++) {
    const struct ch_hist *h = hists[m];
    if (!h->count)
      continue;
    double top = fmin(6, fmax(1, ceil(log10((double)h->count))));
    size_t n = (size_t)(top / 0.05) + 2;
    struct line *l = &lines[nl++];
    if ((rc = alloc_line(l, names[m], n)))
      break;
    for (size_t i = 0; i + 1 < n; i++) {
      double x = (double)i * 0.05;
      if (x > top)
        break;
      l->x[l->n] = x;
      l->y[l->n++] = (double)ch_hist_value_at(h, 100.0 * (1 - pow(10, -x))) / 1e6;
    }
    l->x[l->n] = top;
    l->y[l->n++] = (double)ch_hist_max(h) / 1e6;
  }
  if (!rc)
    chart(b, id, title, "latency (ms)", X_PERCENTILE, lines, nl, NULL);
  free_lines(lines, nl);
  return rc;
}

static int percentile_chart(struct ch_buf *b, const struct ch_metrics_group *t) {
  const char *names[CH_LAT_COUNT];
  const struct ch_hist *hists[CH_LAT_COUNT];
  for (int m = 0; m < CH_LAT_COUNT; m++)
    names[m] = ch_lat_name(m), hists[m] = &t->lat[m];
  return ch__html_percentiles(b, "chart-percentiles", "Latency by percentile (all samples)", names, hists,
                              CH_LAT_COUNT);
}

/* One quantity of several runs' time series on one chart, x in seconds since each run's first point. */
int ch__html_series(struct ch_buf *b, const char *id, const char *title, const char *ylabel,
                    const char *const *names, const struct ch_metrics *const *ms, size_t n_runs,
                    enum ch__series_what what) {
  struct line l[8];
  size_t nl = 0;
  int rc = 0;
  for (; nl < n_runs && nl < 8 && !rc; nl++) {
    const struct ch_metrics *m = ms[nl];
    if ((rc = alloc_line(&l[nl], names[nl], m->n_series)))
      break;
    int64_t t0 = m->n_series ? m->series[0].t : 0;
    for (size_t i = 0; i < m->n_series; i++) {
      const struct ch_series_point *p = &m->series[i];
      double y = what == CH__SERIES_CONNECTED     ? (double)p->connected
                 : what == CH__SERIES_MESSAGES_IN ? (double)p->messages_in
                 : what == CH__SERIES_P50         ? (double)p->p50_ns / 1e6
                                                  : (double)p->p99_ns / 1e6;
      if ((what == CH__SERIES_P50 || what == CH__SERIES_P99) && !p->deliveries)
        continue; /* no deliveries in that second: no point rather than a false zero */
      l[nl].x[l[nl].n] = (double)(p->t - t0);
      l[nl].y[l[nl].n++] = y;
    }
  }
  if (!rc)
    chart(b, id, title, ylabel, X_SECONDS, l, nl, NULL);
  free_lines(l, nl);
  return rc;
}

/* Session populations: the sessions open each second, and the closed model's target (none plotted for a run
   without them). */
static int sessions_chart(struct ch_buf *b, const struct ch_metrics *m) {
  bool any = false, target = false;
  for (size_t i = 0; i < m->n_series; i++) {
    any = any || m->series[i].sessions > 0 || m->series[i].has_target;
    target = target || m->series[i].has_target;
  }
  if (!any)
    return 0;
  struct line l[2];
  size_t nl = 0;
  int rc = alloc_line(&l[nl++], "active sessions", m->n_series);
  if (!rc && target)
    rc = alloc_line(&l[nl++], "target (closed model)", m->n_series);
  int64_t t0 = m->series[0].t;
  for (size_t i = 0; !rc && i < m->n_series; i++) {
    const struct ch_series_point *p = &m->series[i];
    l[0].x[l[0].n] = (double)(p->t - t0);
    l[0].y[l[0].n++] = (double)p->sessions;
    if (nl > 1 && p->has_target) {
      l[1].x[l[1].n] = (double)(p->t - t0);
      l[1].y[l[1].n++] = (double)p->sessions_target;
    }
  }
  if (!rc)
    chart(b, "chart-sessions", "Active sessions", "sessions", X_SECONDS, l, nl, NULL);
  free_lines(l, nl);
  return rc;
}

static int series_charts(struct ch_buf *b, const struct ch_metrics *m) {
  size_t n = m->n_series;
  struct line l[6];
  size_t nl = 0;
  int rc = 0;
  const char *names[] = {"connected clients", "messages in/s", "messages out/s", "delivery p50", "delivery p99",
                         "errors/s"};
  for (; nl < 6 && !rc; nl++)
    rc = alloc_line(&l[nl], names[nl], n);
  int64_t t0 = n ? m->series[0].t : 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const struct ch_series_point *p = &m->series[i];
    double x = (double)(p->t - t0);
    double y[6] = {(double)p->connected, (double)p->messages_in, (double)p->messages_out, (double)p->p50_ns / 1e6,
                   (double)p->p99_ns / 1e6, (double)p->errors};
    for (size_t k = 0; k < 6; k++) {
      if ((k == 3 || k == 4) && !p->deliveries)
        continue; /* no deliveries in that second: no point rather than a false zero */
      l[k].x[l[k].n] = x;
      l[k].y[l[k].n++] = y[k];
    }
  }
  if (!rc) {
    chart(b, "chart-connections", "Connected clients", "clients", X_SECONDS, &l[0], 1, NULL);
    rc = sessions_chart(b, m);
    chart(b, "chart-throughput", "Messages per second", "messages/s", X_SECONDS, &l[1], 2, NULL);
    chart(b, "chart-delivery", "Update delivery latency per second", "latency (ms)", X_SECONDS, &l[3], 2, NULL);
    chart(b, "chart-errors", "Errors per second", "errors/s", X_SECONDS, &l[5], 1, NULL);
  }
  free_lines(l, nl);
  return rc;
}

static const char css[] =
    "*{box-sizing:border-box}body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;"
    "padding:16px;color:#222}h1{font-size:22px;margin:8px 0}h2{font-size:17px;border-bottom:1px solid #ddd;"
    "padding-bottom:4px;margin-top:28px}table{border-collapse:collapse;margin:8px 0;width:100%}"
    "td,th{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f4f4f4}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.verdict{display:inline-block;padding:4px 10px;"
    "border-radius:4px;font-weight:600;color:#fff}.verdict.pass{background:#2e7d32}.verdict.fail{background:#c62828}"
    "tr.fail td{background:#fdecea}tr.skip td{color:#777}.res-pass{color:#2e7d32;font-weight:600}"
    ".res-fail{color:#c62828;font-weight:600}.res-skip{color:#777}tr.not_run td{background:#fff4e0}.res-not_run{color:#b26a00;font-weight:600}pre{white-space:pre-wrap;margin:0;"
    "font:12px ui-monospace,monospace}.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}"
    ".tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:130px}.tile b{display:block;"
    "font-size:20px}figure{margin:10px 0}svg.chart{width:100%;max-width:900px;height:auto;background:#fff}.scroll{overflow-x:auto}"
    ".grid{stroke:#eee}.frame{fill:none;stroke:#999}.ct{font-weight:600;font-size:13px}"
    ".yt{font-size:11px;text-anchor:end;fill:#555}.xt{font-size:11px;text-anchor:middle;fill:#555}"
    ".xl,.yl{font-size:11px;text-anchor:middle;fill:#333}.kt{font-size:11px;text-anchor:end;fill:#c62828}"
    "tr.broken td{background:#fdecea}tr.knee-held td{background:#e8f5e9}"
    ".lg{font-size:11px}.nodata{fill:#999;text-anchor:middle}"
    "footer{margin-top:30px;color:#777;font-size:12px}";

const char *ch__report_css(void) { return css; }

int ch__report_charts(struct ch_buf *b, const struct ch_metrics *m, const struct ch_metrics_group *total) {
  int rc = percentile_chart(b, total);
  return rc ? rc : series_charts(b, m);
}

static void kv(struct ch_buf *b, const char *k, const char *v) {
  ch_buf_puts(b, "<tr><th>");
  esc(b, k);
  ch_buf_puts(b, "</th><td>");
  esc(b, v ? v : "-");
  ch_buf_puts(b, "</td></tr>");
}

static void tile(struct ch_buf *b, const char *k, const char *v) {
  ch_buf_puts(b, "<div class=\"tile\"><b>");
  esc(b, v);
  ch_buf_puts(b, "</b>");
  esc(b, k);
  ch_buf_puts(b, "</div>");
}

static void td_num(struct ch_buf *b, double v) { ch_buf_printf(b, "<td class=\"n\">%.0f</td>", v); }

static void td_dur(struct ch_buf *b, uint64_t ns) {
  char s[32];
  ch__fmt_dur(s, sizeof s, (double)ns);
  ch_buf_printf(b, "<td class=\"n\">%s</td>", s);
}

/* "subscribers_per_key" -> "subscribers per key" (the x axis label). */
static void vary_label(char *buf, size_t n, const char *vary) {
  snprintf(buf, n, "%s", vary ? vary : "load");
  for (char *p = buf; *p; p++)
    if (*p == '_')
      *p = ' ';
}

/* Capacity search: latency and deliveries/s against the load, the knee marked, then the steps. */
/* The reconnect storm: share of the dropped clients back and receiving over the seconds since the drop. */
static int recovery_section(struct ch_buf *b, const struct ch_report_recovery *rv) {
  if (!rv)
    return 0;
  double x[2][CH_RECOVERY_POINTS + 1], y[2][CH_RECOVERY_POINTS + 1];
  struct line lines[2] = {{"reconnected or new connection", 0, x[0], y[0], NULL},
                          {"receiving again", 0, x[1], y[1], NULL}};
  for (int l = 0; l < 2; l++) {
    const double *c = l ? rv->rx_curve : rv->back_curve;
    x[l][0] = 0, y[l][0] = 0, lines[l].n = 1;
    for (int i = 0; i < CH_RECOVERY_POINTS && c[i] >= 0; i++) {
      x[l][lines[l].n] = c[i];
      y[l][lines[l].n++] = (i + 1) * (100.0 / CH_RECOVERY_POINTS);
    }
  }
  ch_buf_puts(b, "<section id=\"recovery\"><h2>Recovery from the drop</h2>");
  chart(b, "chart-recovery", "clients recovered after the drop", "% of dropped clients", X_SINCE_DROP, lines, 2, NULL);
  int rc = ch_report_recovery_html(rv, b);
  ch_buf_puts(b, "</section>\n");
  return rc || !b->data ? -ENOMEM : 0;
}

static int capacity_charts(struct ch_buf *b, const struct ch_capacity *c, const char *xlabel) {
  struct line l[3];
  size_t nl = 0;
  int rc = 0;
  const char *names[] = {"update latency p50", "update latency p99", "deliveries/s"};
  for (; nl < 3 && !rc; nl++) {
    rc = alloc_line(&l[nl], names[nl], c->n_steps);
    if (!rc && !(l[nl].red = malloc((c->n_steps ? c->n_steps : 1) * sizeof *l[nl].red)))
      rc = -ENOMEM;
  }
  for (size_t i = 0; i < c->n_steps && !rc; i++) {
    const struct ch_capacity_step *st = &c->steps[i];
    double y[3] = {st->p50_ms, st->p99_ms, st->deliveries_per_s};
    for (size_t k = 0; k < 3; k++) {
      if (k < 2 && !st->has_latency)
        continue; /* nothing arrived: no point rather than a false zero */
      l[k].x[l[k].n] = st->load;
      l[k].y[l[k].n] = y[k];
      l[k].red[l[k].n++] = !st->held;
    }
  }
  if (!rc) {
    struct loadx lx = {xlabel, c->first_broken >= 0 ? c->steps[c->first_broken].load : -1};
    chart(b, "chart-capacity-latency", "Update latency against load", "latency (ms)", X_LOAD, &l[0], 2, &lx);
    chart(b, "chart-capacity-throughput", "Deliveries per second against load", "deliveries/s", X_LOAD, &l[2], 1,
          &lx);
  }
  free_lines(l, nl);
  return rc;
}

static void td_ms(struct ch_buf *b, bool known, double ms) {
  if (known)
    ch_buf_printf(b, "<td class=\"n\">%.2f</td>", ms);
  else
    ch_buf_puts(b, "<td class=\"n\">-</td>");
}

static void capacity_table(struct ch_buf *b, const struct ch_capacity *c, const char *xlabel) {
  ch_buf_puts(b, "<div class=\"scroll\"><table id=\"capacity-table\"><tr><th>step</th><th>");
  esc(b, xlabel);
  ch_buf_puts(b, "</th><th>clients</th><th>connected</th><th>deliveries/s</th><th>p50 ms</th><th>p90 ms</th>"
                 "<th>p99 ms</th><th>max ms</th><th>delivery ratio</th><th>missing</th><th>result</th>"
                 "<th>target connections</th><th>target CPU s</th><th>target CPU %</th><th>target RSS MiB</th></tr>");
  for (size_t i = 0; i < c->n_steps; i++) {
    const struct ch_capacity_step *st = &c->steps[i];
    const char *cls = st->held ? ((long)i == c->last_held && c->first_broken >= 0 ? "held knee-held" : "held")
                               : "broken";
    ch_buf_printf(b, "<tr class=\"capacity-row %s\"><td class=\"n\">%zu</td><td class=\"n\">%g</td>", cls, i + 1,
                  st->load);
    td_num(b, (double)st->clients);
    td_num(b, st->connected);
    td_num(b, st->deliveries_per_s);
    td_ms(b, st->has_latency, st->p50_ms);
    td_ms(b, st->has_latency, st->p90_ms);
    td_ms(b, st->has_latency, st->p99_ms);
    td_ms(b, st->has_latency, st->max_ms);
    ch_buf_printf(b, "<td class=\"n\">%.4f</td>", st->delivery_ratio);
    td_num(b, st->missing);
    if (st->held) {
      ch_buf_puts(b, "<td class=\"res-pass\">held</td>");
    } else {
      ch_buf_puts(b, "<td class=\"res-fail\">broke ");
      esc(b, st->broken);
      if (st->has_observed) {
        char obs[64];
        ch_buf_puts(b, " (observed ");
        ch__capacity_observed(obs, sizeof obs, st);
        esc(b, obs);
        ch_buf_putc(b, ')');
      }
      ch_buf_puts(b, "</td>");
    }
    const struct ch_capacity_target *t = &st->target;
    if (!t->known) {
      ch_buf_puts(b, "<td colspan=\"4\">not known</td></tr>");
      continue;
    }
    if (t->connections >= 0)
      td_num(b, t->connections);
    else
      ch_buf_puts(b, "<td>-</td>");
    if (t->cpu_s >= 0)
      ch_buf_printf(b, "<td class=\"n\">%.2f</td>", t->cpu_s);
    else
      ch_buf_puts(b, "<td>-</td>");
    if (t->cpu_s >= 0 && st->duration_s > 0)
      ch_buf_printf(b, "<td class=\"n\">%.0f</td>", 100 * t->cpu_s / st->duration_s);
    else
      ch_buf_puts(b, "<td>-</td>");
    if (t->rss_kib >= 0)
      ch_buf_printf(b, "<td class=\"n\">%.1f</td>", t->rss_kib / 1024);
    else
      ch_buf_puts(b, "<td>-</td>");
    ch_buf_puts(b, "</tr>");
  }
  ch_buf_puts(b, "</table></div>\n");
}

static int capacity_section(struct ch_buf *b, const struct ch_capacity *c) {
  char xlabel[64];
  vary_label(xlabel, sizeof xlabel, c->vary);
  ch_buf_puts(b, "<section id=\"capacity\"><h2>Capacity: ");
  if (!c->n_steps)
    ch_buf_puts(b, "no step ran");
  else if (c->first_broken < 0)
    ch_buf_printf(b, "no step broke an SLO (up to %g)", c->steps[c->n_steps - 1].load);
  else if (c->last_held < 0)
    ch_buf_printf(b, "the first step (%g) already broke an SLO", c->steps[c->first_broken].load);
  else
    ch_buf_printf(b, "knee between %g (held) and %g (broke)", c->steps[c->last_held].load,
                  c->steps[c->first_broken].load);
  ch_buf_puts(b, "</h2><p>Varied: ");
  esc(b, xlabel);
  ch_buf_printf(b, " from %g by %g up to %g, %.1f s per step. SLOs: ", c->start, c->step, c->max, c->step_duration_s);
  for (size_t i = 0; i < c->n_slo; i++) {
    ch_buf_puts(b, i ? ", <code>" : "<code>");
    esc(b, c->slo[i]);
    ch_buf_puts(b, "</code>");
  }
  ch_buf_puts(b, c->n_slo ? ".</p>" : "none.</p>");
  int rc = capacity_charts(b, c, xlabel);
  capacity_table(b, c, xlabel);
  ch_buf_puts(b, "<p>Target columns: the reference endpoint's <code>/stats</code> before and after each step "
                 "(connections accepted, CPU time of its server thread, resident memory at the end); not known for "
                 "other targets.</p></section>\n");
  return rc;
}

static void summary_section(struct ch_buf *b, const struct ch_report *r, const struct ch_metrics_group *t) {
  char s[64], s2[64];
  ch_buf_puts(b, "<section id=\"summary\"><h2>Summary</h2><table class=\"kv\">");
  kv(b, "scenario", r->scenario);
  kv(b, "scenario file", r->scenario_path);
  if (r->scenario_sha256)
    kv(b, "scenario.json SHA-256", r->scenario_sha256);
  kv(b, "target", r->target);
  snprintf(s, sizeof s, "%llu", (unsigned long long)r->seed);
  kv(b, "seed", s);
  ch__fmt_time(s, sizeof s, r->start_wall_ns);
  ch__fmt_time(s2, sizeof s2, r->end_wall_ns);
  kv(b, "start", s);
  kv(b, "end", s2);
  ch__fmt_dur(s, sizeof s, r->end_wall_ns > r->start_wall_ns ? (double)(r->end_wall_ns - r->start_wall_ns) : 0);
  kv(b, "duration", s);
  snprintf(s, sizeof s, "%u", r->shards);
  kv(b, "shards merged", s);
  kv(b, "harness version", r->harness_version);
  if (r->interrupted.signal) {
    char at[40];
    ch__fmt_time(at, sizeof at, r->interrupted.at_wall_ns);
    snprintf(s, sizeof s, "%.12s at %.30s", r->interrupted.signal, at);
    kv(b, "interrupted", s);
    kv(b, "interrupted during", r->interrupted.phase);
  }
  for (size_t i = 0; i < r->n_overrides; i++)
    kv(b, "override", r->overrides[i]);
  ch_buf_puts(b, "</table><div class=\"tiles\">");
  double v;
  snprintf(s, sizeof s, "%llu", (unsigned long long)t->counters[CH_CNT_CONNECTS]);
  tile(b, "clients connected", s);
  snprintf(s, sizeof s, "%llu", (unsigned long long)t->counters[CH_CNT_CONNECT_ERRORS]);
  tile(b, "connect errors", s);
  ch_metrics_group_lookup(r->metrics, t, "delivery_ratio", &v);
  snprintf(s, sizeof s, "%.3f%%", v * 100);
  tile(b, "delivery ratio", s);
  ch__fmt_dur(s, sizeof s, (double)ch_hist_value_at(&t->lat[CH_LAT_UPDATE], 99));
  tile(b, "update latency p99", s);
  ch_metrics_group_lookup(r->metrics, t, "messages_per_second", &v);
  ch__fmt_count(s, sizeof s, v);
  tile(b, "messages in/s", s);
  snprintf(s, sizeof s, "%llu", (unsigned long long)t->counters[CH_CNT_ERRORS]);
  tile(b, "errors", s);
  ch_buf_puts(b, "</div></section>\n");
}

static void checks_section(struct ch_buf *b, const struct ch_report *r) {
  ch_buf_printf(b, "<section id=\"checks\"><h2>Checks: %zu passed, %zu failed, %zu skipped",
                ch_report_count_checks(r, CH_RESULT_PASS), ch_report_count_checks(r, CH_RESULT_FAIL),
                ch_report_count_checks(r, CH_RESULT_SKIP));
  if (ch_report_count_checks(r, CH_RESULT_INCOMPLETE))
    ch_buf_printf(b, ", %zu incomplete", ch_report_count_checks(r, CH_RESULT_INCOMPLETE));
  size_t not_run = ch_report_count_checks(r, CH_RESULT_NOT_RUN);
  if (not_run)
    ch_buf_printf(b, ", %zu not run (precondition failed)", not_run);
  ch_buf_puts(b, "</h2>");
  if (!r->n_checks) {
    ch_buf_puts(b, "<p>No conformance checks in this run.</p></section>\n");
    return;
  }
  ch_buf_puts(b, "<table id=\"checks-table\"><tr><th>id</th><th>check</th><th>protocol section</th><th>transport</th>"
                 "<th>result</th><th>evidence</th></tr>");
  /* failures first: they are what the reader came for */
  static const enum ch_result order[] = {CH_RESULT_FAIL, CH_RESULT_INCOMPLETE, CH_RESULT_NOT_RUN, CH_RESULT_PASS,
                                         CH_RESULT_SKIP};
  for (size_t pass = 0; pass < sizeof order / sizeof order[0]; pass++) {
    enum ch_result want = order[pass];
    for (size_t i = 0; i < r->n_checks; i++) {
      const struct ch_check *c = &r->checks[i];
      if (c->result != want)
        continue;
      const char *res = ch_result_name(c->result);
      ch_buf_printf(b, "<tr class=\"check-row %s\" data-result=\"%s\"><td>", res, res);
      esc(b, c->id);
      ch_buf_puts(b, "</td><td>");
      esc(b, c->description);
      ch_buf_puts(b, "</td><td>");
      esc(b, c->section ? c->section : "");
      ch_buf_puts(b, "</td><td>");
      esc(b, c->transport ? c->transport : "any");
      ch_buf_printf(b, "</td><td class=\"res-%s\">%s</td><td><pre>", res, res);
      esc(b, c->evidence ? c->evidence : "");
      ch_buf_puts(b, "</pre></td></tr>");
    }
  }
  ch_buf_puts(b, "</table></section>\n");
}

static void thresholds_section(struct ch_buf *b, const struct ch_report *r) {
  ch_buf_printf(b, "<section id=\"thresholds\"><h2>Thresholds: %zu passed, %zu failed</h2>",
                ch_report_count_thresholds(r, CH_RESULT_PASS), ch_report_count_thresholds(r, CH_RESULT_FAIL));
  if (!r->n_thresholds) {
    ch_buf_puts(b, "<p>No thresholds in this run.</p></section>\n");
    return;
  }
  ch_buf_puts(b, "<table id=\"thresholds-table\"><tr><th>threshold</th><th>observed</th><th>result</th></tr>");
  for (size_t i = 0; i < r->n_thresholds; i++) {
    const struct ch_threshold *t = &r->thresholds[i];
    char obs[64];
    if (t->has_observed)
      ch__fmt_metric(obs, sizeof obs, t->metric ? t->metric : "", t->observed);
    else
      snprintf(obs, sizeof obs, "no value");
    const char *res = ch_result_name(t->result);
    ch_buf_printf(b, "<tr class=\"threshold-row %s\" data-result=\"%s\"><td>", res, res);
    esc(b, t->expression);
    ch_buf_puts(b, "</td><td class=\"n\">");
    esc(b, obs);
    ch_buf_printf(b, "</td><td class=\"res-%s\">%s</td></tr>", res, res);
  }
  ch_buf_puts(b, "</table></section>\n");
}

static void latency_table(struct ch_buf *b, const struct ch_metrics_group *t) {
  ch_buf_puts(b, "<table id=\"latency-table\"><tr><th>metric</th><th>count</th><th>min</th><th>p50</th><th>p90</th>"
                 "<th>p99</th><th>p99.9</th><th>max</th><th>mean</th><th>above 1 h</th></tr>");
  for (int m = 0; m < CH_LAT_COUNT; m++) {
    const struct ch_hist *h = &t->lat[m];
    if (!h->count && !h->overflow)
      continue;
    ch_buf_printf(b, "<tr><td>%s</td>", ch_lat_name(m));
    td_num(b, (double)h->count);
    td_dur(b, ch_hist_min(h));
    td_dur(b, ch_hist_value_at(h, 50));
    td_dur(b, ch_hist_value_at(h, 90));
    td_dur(b, ch_hist_value_at(h, 99));
    td_dur(b, ch_hist_value_at(h, 99.9));
    td_dur(b, ch_hist_max(h));
    double mean = ch_hist_mean(h); /* a merged or hostile report can hold sums beyond 2^64 ns */
    td_dur(b, mean < 1.8e19 ? (uint64_t)mean : UINT64_MAX);
    td_num(b, (double)h->overflow);
    ch_buf_puts(b, "</tr>");
  }
  ch_buf_puts(b, "</table>\n");
}

static void transport_section(struct ch_buf *b, const struct ch_report *r, const struct ch_metrics_group *t) {
  const struct ch_metrics *m = r->metrics;
  ch_buf_puts(b, "<section id=\"transports\"><h2>Per population and transport</h2><table id=\"transport-table\">"
                 "<tr><th>population</th><th>transport</th><th>connected</th><th>connect errors</th>"
                 "<th>reconnects</th><th>updates expected</th><th>received</th><th>missing</th><th>duplicate</th>"
                 "<th>out of order</th><th>connect p99</th><th>update p50</th><th>update p99</th><th>fan-out p99</th>"
                 "<th>messages in</th><th>bytes in</th></tr>");
  for (size_t i = 0; i <= m->n_groups; i++) {
    const struct ch_metrics_group *g = i < m->n_groups ? m->groups[i] : t;
    ch_buf_printf(b, "<tr class=\"%s\"><td>", i < m->n_groups ? "group-row" : "total-row");
    esc(b, i < m->n_groups ? g->population : "all");
    ch_buf_puts(b, "</td><td>");
    esc(b, i < m->n_groups ? g->transport : "all");
    ch_buf_puts(b, "</td>");
    const enum ch_cnt cols[] = {CH_CNT_CONNECTS,         CH_CNT_CONNECT_ERRORS,   CH_CNT_RECONNECTS,
                                CH_CNT_UPDATES_EXPECTED, CH_CNT_UPDATES_RECEIVED, CH_CNT_UPDATES_MISSING,
                                CH_CNT_UPDATES_DUPLICATE, CH_CNT_UPDATES_OUT_OF_ORDER};
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++)
      td_num(b, (double)g->counters[cols[k]]);
    td_dur(b, ch_hist_value_at(&g->lat[CH_LAT_CONNECT], 99));
    td_dur(b, ch_hist_value_at(&g->lat[CH_LAT_UPDATE], 50));
    td_dur(b, ch_hist_value_at(&g->lat[CH_LAT_UPDATE], 99));
    td_dur(b, ch_hist_value_at(&g->lat[CH_LAT_FANOUT], 99));
    td_num(b, (double)g->counters[CH_CNT_MESSAGES_IN]);
    td_num(b, (double)g->counters[CH_CNT_BYTES_IN]);
    ch_buf_puts(b, "</tr>");
  }
  ch_buf_puts(b, "</table></div>");
  if (t->counters[CH_CNT_ERRORS]) {
    ch_buf_puts(b, "<h2>Failures by reason</h2><table id=\"failures-table\"><tr><th>population</th><th>transport</th>"
                   "<th>reason</th><th>count</th></tr>");
    for (size_t i = 0; i < m->n_groups; i++) {
      const struct ch_metrics_group *g = m->groups[i];
      for (size_t k = 0; k <= CH_METRICS_REASONS; k++) {
        const struct ch_metrics_reason *rs = &g->reasons[k];
        if (!(k < g->n_reasons || (k == CH_METRICS_REASONS && rs->count)))
          continue;
        ch_buf_puts(b, "<tr><td>");
        esc(b, g->population);
        ch_buf_puts(b, "</td><td>");
        esc(b, g->transport);
        ch_buf_puts(b, "</td><td>");
        esc(b, rs->text);
        ch_buf_puts(b, "</td>");
        td_num(b, (double)rs->count);
        ch_buf_puts(b, "</tr>");
      }
    }
    ch_buf_puts(b, "</table>");
  }
  ch_buf_puts(b, "</section>\n");
}

static const char script[] =
    "<script>(function(){var c=document.querySelectorAll('svg.chart'),l=document.querySelectorAll("
    "'svg.chart polyline'),r=document.querySelectorAll('tr.check-row'),s=document.getElementById('render-status');"
    "s.setAttribute('data-charts',c.length);s.setAttribute('data-lines',l.length);s.setAttribute('data-checks',"
    "r.length);s.setAttribute('data-points',document.querySelectorAll('svg.chart circle.pt').length);"
    "s.setAttribute('data-knees',document.querySelectorAll('svg.chart line.knee').length);"
    "s.textContent='rendered '+c.length+' charts, '+l.length+' lines, '+r.length+' checks';})();"
    "</script>";

int ch_report_html(const struct ch_report *r, struct ch_buf *out) {
  struct ch_metrics_group *t;
  if (ch_metrics_total(r->metrics, &t))
    return -ENOMEM;
  size_t from = out->len;
  struct ch_buf *b = out;
  bool ok = r->exit_code == 0 && !ch_report_count_checks(r, CH_RESULT_FAIL) &&
            !ch_report_count_thresholds(r, CH_RESULT_FAIL);
  ch_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
                 "'unsafe-inline'; script-src 'unsafe-inline'\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>centro-harness: ");
  esc(b, r->scenario ? r->scenario : "run");
  ch_buf_printf(b, "</title><style>%s</style></head><body>\n<header><h1>centro-harness report: ", css);
  esc(b, r->scenario ? r->scenario : "run");
  const char *verdict = r->partial ? "PARTIAL" : r->interrupted.signal ? "INTERRUPTED" : ok ? "PASSED" : "FAILED";
  ch_buf_printf(b, "</h1><span class=\"verdict %s\" id=\"verdict\">%s &middot; exit %d</span> ",
                ok && !r->partial && !r->interrupted.signal ? "pass" : "fail", verdict, r->exit_code);
  esc(b, r->exit_reason ? r->exit_reason : "");
  if (r->partial)
    ch_buf_puts(b, "<p id=\"partial\"><strong>Partial report</strong>: a checkpoint written while the run was going "
                   "on; it covers the run up to its end time only.</p>");
  if (r->interrupted.signal) {
    ch_buf_puts(b, "<p id=\"interrupted\"><strong>Interrupted</strong> by ");
    esc(b, r->interrupted.signal);
    ch_buf_puts(b, " during ");
    esc(b, r->interrupted.phase ? r->interrupted.phase : "-");
    ch_buf_puts(b, r->interrupted.second_signal ? "; a second signal cut the wind-down short.</p>" : ".</p>");
  }
  ch_buf_puts(b, "</header>\n");
  summary_section(b, r, t);
  int rc = ch_report_ranks_html(r->ranks_json, b);
  checks_section(b, r);
  thresholds_section(b, r);
  rc = rc ? rc : r->capacity ? capacity_section(b, r->capacity) : 0;
  rc = rc ? rc : ch_report_triggers_html(r->triggers, b);
  rc = rc ? rc : recovery_section(b, r->recovery);
  if (!r->metrics->n_groups && !r->metrics->n_series) {
    ch_buf_puts(b, "<section id=\"latency\"><h2>Load metrics</h2><p>No load metrics in this run (conformance checks "
                   "only).</p></section>\n");
  } else {
    ch_buf_puts(b, "<section id=\"latency\"><h2>Latency</h2>");
    latency_table(b, t);
    rc = rc ? rc : percentile_chart(b, t);
    ch_buf_puts(b, "</section>\n<section id=\"timeseries\"><h2>Over time</h2>");
    rc = rc ? rc : series_charts(b, r->metrics);
    ch_buf_puts(b, "</section>\n");
    transport_section(b, r, t);
  }
  if (r->n_notes) {
    ch_buf_puts(b, "<section id=\"notes\"><h2>Notes</h2><ul>");
    for (size_t i = 0; i < r->n_notes; i++) {
      ch_buf_puts(b, "<li>");
      esc(b, r->notes[i]);
      ch_buf_puts(b, "</li>");
    }
    ch_buf_puts(b, "</ul></section>\n");
  }
  ch_buf_puts(b, "<footer>Generated by centro-harness ");
  esc(b, r->harness_version ? r->harness_version : "");
  ch_buf_printf(b, " from report.json (format %s version %d). <span id=\"render-status\"></span></footer>\n%s"
                   "</body></html>\n", CH_REPORT_FORMAT, CH_REPORT_VERSION, script);
  free(t);
  /* ch_buf appends only fail on allocation failure; a NULL buffer or a final reserve failure reveals it */
  if (!rc && (!b->data || ch_buf_reserve(b, 0)))
    rc = -ENOMEM;
  return rc ? rc : ch__report_scrub(r, out, from);
}

int ch__html_page_head(struct ch_buf *b, const char *title, const char *extra_css) {
  ch_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
                 "'unsafe-inline'; script-src 'unsafe-inline'\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
  esc(b, title);
  ch_buf_printf(b, "</title><style>%s%s</style></head><body>\n", css, extra_css ? extra_css : "");
  return b->data ? 0 : -ENOMEM;
}
