/* Terminal output: the end-of-run summary (k6-like) and the live progress line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "ch_report.h"
#include "ch_report_int.h"

/* Text from the network (evidence) must not drive the terminal: control bytes and invalid UTF-8 become '?'. */
static void term_str(struct ch_buf *b, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    size_t len = ch__utf8_seq(p);
    if (len == 1 && (*p < 0x20 || *p == 0x7f))
      len = 0;
    if (len)
      ch_buf_append(b, p, len);
    else
      ch_buf_putc(b, '?');
    p += len ? len : 1;
  }
}

static void dotted(struct ch_buf *b, const char *name, size_t width) {
  size_t n = strlen(name);
  ch_buf_printf(b, "  %s ", name);
  for (size_t i = n + 1; i < width; i++)
    ch_buf_putc(b, '.');
  ch_buf_putc(b, ' ');
}

static void ms(struct ch_buf *b, uint64_t ns) { ch_buf_printf(b, " %10.3f", (double)ns / 1e6); }

static void lat_row(struct ch_buf *b, const char *name, const struct ch_hist *h) {
  dotted(b, name, 22);
  ch_buf_printf(b, "%10llu", (unsigned long long)h->count);
  ms(b, ch_hist_value_at(h, 50));
  ms(b, ch_hist_value_at(h, 90));
  ms(b, ch_hist_value_at(h, 99));
  ms(b, ch_hist_value_at(h, 99.9));
  ms(b, ch_hist_max(h));
  if (h->overflow)
    ch_buf_printf(b, "  (+%llu above 1h)", (unsigned long long)h->overflow);
  ch_buf_putc(b, '\n');
}

static void counters_block(struct ch_buf *b, const struct ch_metrics *m, const struct ch_metrics_group *t) {
  double v;
  ch_buf_puts(b, "  counters\n");
  for (int i = 0; i < CH_CNT_COUNT; i++) {
    if (!t->counters[i] && i != CH_CNT_CONNECTS && i != CH_CNT_ERRORS)
      continue;
    dotted(b, ch_cnt_name(i), 22);
    ch_buf_printf(b, "%llu\n", (unsigned long long)t->counters[i]);
  }
  if (t->counters[CH_CNT_UPDATES_EXPECTED] && ch_metrics_group_lookup(m, t, "delivery_ratio", &v) == 0) {
    dotted(b, "delivery_ratio", 22);
    ch_buf_printf(b, "%.4f%%\n", v * 100);
  }
  if (ch_metrics_group_lookup(m, t, "messages_per_second", &v) == 0 && v > 0) {
    dotted(b, "messages_per_second", 22);
    ch_buf_printf(b, "%.1f\n", v);
  }
  dotted(b, "connected_peak", 22);
  ch_buf_printf(b, "%lld\n", (long long)t->connected_peak);
  if (t->counters[CH_CNT_ERRORS]) {
    ch_buf_puts(b, "\n  failures by reason\n");
    for (size_t i = 0; i <= CH_METRICS_REASONS; i++) {
      const struct ch_metrics_reason *rs = &t->reasons[i];
      if (i < t->n_reasons || (i == CH_METRICS_REASONS && rs->count)) {
        ch_buf_printf(b, "    %8llu  ", (unsigned long long)rs->count);
        term_str(b, rs->text);
        ch_buf_putc(b, '\n');
      }
    }
  }
}

/* One line per capacity step; the target's columns only when some step knows them. */
static void capacity_block(struct ch_buf *b, const struct ch_capacity *c) {
  bool target = false;
  for (size_t i = 0; i < c->n_steps; i++)
    target |= c->steps[i].target.known;
  ch_buf_puts(b, "\n  capacity: ");
  term_str(b, c->vary);
  ch_buf_printf(b, " from %g by %g up to %g, %.1f s per step\n", c->start, c->step, c->max, c->step_duration_s);
  ch_buf_printf(b, "  %4s %9s %8s %9s %10s %9s %9s %9s %8s %8s", "step", "load", "clients", "connected",
                "deliv/s", "p50 ms", "p99 ms", "max ms", "ratio", "missing");
  if (target)
    ch_buf_printf(b, " %9s %7s %8s", "tgt conn", "tgt cpu", "tgt MiB");
  ch_buf_puts(b, "  result\n");
  for (size_t i = 0; i < c->n_steps; i++) {
    const struct ch_capacity_step *st = &c->steps[i];
    ch_buf_printf(b, "  %4zu %9g %8llu %9.0f %10.1f", i + 1, st->load, (unsigned long long)st->clients,
                  st->connected, st->deliveries_per_s);
    if (st->has_latency)
      ch_buf_printf(b, " %9.2f %9.2f %9.2f", st->p50_ms, st->p99_ms, st->max_ms);
    else
      ch_buf_printf(b, " %9s %9s %9s", "-", "-", "-");
    ch_buf_printf(b, " %8.4f %8.0f", st->delivery_ratio, st->missing);
    if (target && st->target.known && st->target.connections >= 0)
      ch_buf_printf(b, " %9.0f", st->target.connections);
    else if (target)
      ch_buf_printf(b, " %9s", "-");
    if (target && st->target.known && st->target.cpu_s >= 0)
      ch_buf_printf(b, " %6.2fs", st->target.cpu_s);
    else if (target)
      ch_buf_printf(b, " %7s", "-");
    if (target && st->target.known && st->target.rss_kib >= 0)
      ch_buf_printf(b, " %8.1f", st->target.rss_kib / 1024);
    else if (target)
      ch_buf_printf(b, " %8s", "-");
    if (st->held) {
      ch_buf_puts(b, "  held\n");
      continue;
    }
    ch_buf_puts(b, "  BROKE ");
    term_str(b, st->broken);
    if (st->has_observed) {
      char obs[64];
      ch__capacity_observed(obs, sizeof obs, st);
      ch_buf_printf(b, " (observed %s)", obs);
    }
    ch_buf_putc(b, '\n');
  }
  if (!c->n_steps)
    ch_buf_puts(b, "  knee: no step ran\n");
  else if (c->first_broken < 0)
    ch_buf_puts(b, "  knee: not reached\n");
  else if (c->last_held < 0)
    ch_buf_printf(b, "  knee: below the first step (%g)\n", c->steps[c->first_broken].load);
  else
    ch_buf_printf(b, "  knee: last held %g (step %ld), first broken %g (step %ld)\n", c->steps[c->last_held].load,
                  c->last_held + 1, c->steps[c->first_broken].load, c->first_broken + 1);
}

/* run --mpi: one line per rank (host, clients, CPU, RSS, clock offset to rank 0 and its uncertainty). */
static void ranks_block(struct ch_buf *b, const char *json) {
  cJSON *a = json ? cJSON_Parse(json) : NULL, *e;
  if (!cJSON_IsArray(a)) {
    cJSON_Delete(a);
    return;
  }
  ch_buf_puts(b, "  rank  host                  clients      cpu s   rss MiB  clock offset (us)  +/- (us)\n");
  cJSON_ArrayForEach(e, a) {
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(e, "host");
    double v[6];
    static const char *const k[6] = {"rank", "clients", "cpu_s", "max_rss_kib", "clock_offset_ns",
                                     "clock_uncertainty_ns"};
    for (int i = 0; i < 6; i++) {
      const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, k[i]);
      v[i] = cJSON_IsNumber(x) ? x->valuedouble : 0;
    }
    ch_buf_printf(b, "  %4.0f  ", v[0]);
    term_str(b, cJSON_IsString(host) ? host->valuestring : "-");
    size_t hl = cJSON_IsString(host) ? strlen(host->valuestring) : 1;
    ch_buf_printf(b, "%*s", hl < 20 ? (int)(20 - hl) : 0, "");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "lost")))
      ch_buf_puts(b, "  LOST: no report from this rank\n");
    else
      ch_buf_printf(b, "  %8.0f  %9.2f  %8.1f  %17.1f  %8.1f\n", v[1], v[2], v[3] / 1024, v[4] / 1e3, v[5] / 1e3);
  }
  ch_buf_putc(b, '\n');
  cJSON_Delete(a);
}

static int summary(const struct ch_report *r, struct ch_buf *b, const struct ch_metrics_group *t) {
  const struct ch_metrics *m = r->metrics;
  char s1[40], s2[40];
  double dur = r->end_wall_ns > r->start_wall_ns ? (double)(r->end_wall_ns - r->start_wall_ns) : 0;
  ch__fmt_dur(s1, sizeof s1, dur);
  ch_buf_printf(b, "\n  scenario: %s   target: %s   seed: %llu\n", r->scenario ? r->scenario : "-",
                r->target ? r->target : "-", (unsigned long long)r->seed);
  ch__fmt_time(s2, sizeof s2, r->start_wall_ns);
  ch_buf_printf(b, "  started: %s   duration: %s   shards: %u   harness: %s\n\n", s2[0] ? s2 : "-", s1, r->shards,
                r->harness_version ? r->harness_version : "-");
  ranks_block(b, r->ranks_json);
  if (r->partial)
    ch_buf_puts(b, "  PARTIAL REPORT: a checkpoint written while the run was going on; the run never finished it\n\n");
  if (r->interrupted.signal) {
    ch__fmt_time(s2, sizeof s2, r->interrupted.at_wall_ns);
    ch_buf_printf(b, "  INTERRUPTED by %s at %s during %s%s\n\n", r->interrupted.signal, s2[0] ? s2 : "-",
                  r->interrupted.phase ? r->interrupted.phase : "-",
                  r->interrupted.second_signal ? " (a second signal cut the wind-down short)" : "");
  }
  int any = 0;
  for (int i = 0; i < CH_LAT_COUNT; i++)
    any |= t->lat[i].count || t->lat[i].overflow;
  if (any) {
    ch_buf_printf(b, "  %-22s%10s %10s %10s %10s %10s %10s\n", "latency (ms)", "count", "p50", "p90", "p99", "p99.9",
                  "max");
    for (int i = 0; i < CH_LAT_COUNT; i++)
      if (t->lat[i].count || t->lat[i].overflow)
        lat_row(b, ch_lat_name(i), &t->lat[i]);
    ch_buf_putc(b, '\n');
  }
  if (m->n_groups) /* a conformance-only run has no load metrics */
    counters_block(b, m, t);
  if (m->n_groups > 1 || (m->n_groups == 1 && m->groups[0]->population[0])) {
    ch_buf_printf(b, "\n  %-20s %-18s %9s %9s %8s %11s %11s\n", "population", "transport", "connected", "errors",
                  "updates", "update p50", "update p99");
    for (size_t i = 0; i < m->n_groups; i++) {
      const struct ch_metrics_group *g = m->groups[i];
      ch__fmt_dur(s1, sizeof s1, (double)ch_hist_value_at(&g->lat[CH_LAT_UPDATE], 50));
      ch__fmt_dur(s2, sizeof s2, (double)ch_hist_value_at(&g->lat[CH_LAT_UPDATE], 99));
      ch_buf_printf(b, "  %-20s %-18s %9llu %9llu %8llu %11s %11s\n", g->population, g->transport,
                    (unsigned long long)g->counters[CH_CNT_CONNECTS], (unsigned long long)g->counters[CH_CNT_ERRORS],
                    (unsigned long long)g->counters[CH_CNT_UPDATES_RECEIVED], s1, s2);
    }
  }
  if (r->n_checks) {
    ch_buf_printf(b, "\n  checks: %zu passed, %zu failed, %zu skipped", ch_report_count_checks(r, CH_RESULT_PASS),
                  ch_report_count_checks(r, CH_RESULT_FAIL), ch_report_count_checks(r, CH_RESULT_SKIP));
    size_t incomplete = ch_report_count_checks(r, CH_RESULT_INCOMPLETE);
    if (incomplete)
      ch_buf_printf(b, ", %zu incomplete", incomplete);
    size_t not_run = ch_report_count_checks(r, CH_RESULT_NOT_RUN);
    if (not_run)
      ch_buf_printf(b, ", %zu not run", not_run);
    ch_buf_putc(b, '\n');
    /* failures first (with evidence), then incomplete checks, checks not run and skips; passes only when few */
    size_t passed = ch_report_count_checks(r, CH_RESULT_PASS);
    static const enum ch_result order[] = {CH_RESULT_FAIL, CH_RESULT_INCOMPLETE, CH_RESULT_NOT_RUN, CH_RESULT_SKIP,
                                           CH_RESULT_PASS};
    for (size_t pass = 0; pass < sizeof order / sizeof order[0]; pass++) {
      enum ch_result want = order[pass];
      if (want == CH_RESULT_PASS && passed > 30) {
        ch_buf_printf(b, "    (%zu passed checks not listed: see report.html or junit.xml)\n", passed);
        break;
      }
      for (size_t i = 0; i < r->n_checks; i++) {
        const struct ch_check *c = &r->checks[i];
        if (c->result != want)
          continue;
        ch_buf_printf(b, "    %-4s %-10s ",
                      want == CH_RESULT_PASS         ? "ok"
                      : want == CH_RESULT_FAIL       ? "FAIL"
                      : want == CH_RESULT_INCOMPLETE ? "INC"
                      : want == CH_RESULT_NOT_RUN    ? "not run"
                                                     : "skip",
                      c->id);
        term_str(b, c->description);
        if (c->transport) {
          ch_buf_puts(b, " [");
          term_str(b, c->transport);
          ch_buf_putc(b, ']');
        }
        ch_buf_putc(b, '\n');
        if (want != CH_RESULT_PASS && c->evidence) {
          ch_buf_puts(b, want == CH_RESULT_FAIL ? "         evidence: " : "         reason: ");
          term_str(b, c->evidence);
          ch_buf_putc(b, '\n');
        }
      }
    }
  }
  if (r->n_thresholds) {
    ch_buf_printf(b, "\n  thresholds: %zu passed, %zu failed\n", ch_report_count_thresholds(r, CH_RESULT_PASS),
                  ch_report_count_thresholds(r, CH_RESULT_FAIL));
    for (size_t i = 0; i < r->n_thresholds; i++) {
      const struct ch_threshold *th = &r->thresholds[i];
      if (th->has_observed)
        ch__fmt_metric(s1, sizeof s1, th->metric ? th->metric : "", th->observed);
      else
        snprintf(s1, sizeof s1, "no value");
      ch_buf_printf(b, "    %-4s ", th->result == CH_RESULT_FAIL ? "FAIL" : "ok");
      term_str(b, th->expression);
      ch_buf_printf(b, "   (observed %s)\n", s1);
    }
  }
  if (r->capacity)
    capacity_block(b, r->capacity);
  ch_report_triggers_text(r->triggers, b);
  ch_report_recovery_text(r->recovery, b);
  for (size_t i = 0; i < r->n_notes; i++) {
    ch_buf_puts(b, i ? "  note: " : "\n  note: ");
    term_str(b, r->notes[i]);
    ch_buf_putc(b, '\n');
  }
  ch_buf_printf(b, "\n  result: exit %d%s%s\n\n", r->exit_code, r->exit_reason ? " - " : "",
                r->exit_reason ? r->exit_reason : "");
  return 0;
}

int ch_report_print_summary(const struct ch_report *r, FILE *f) {
  struct ch_metrics_group *t;
  if (ch_metrics_total(r->metrics, &t))
    return -ENOMEM;
  struct ch_buf b = CH_BUF_INIT;
  summary(r, &b, t);
  free(t);
  int rc = b.data ? ch__report_scrub(r, &b, 0) : -ENOMEM;
  if (!rc && (fwrite(b.data, 1, b.len, f) != b.len || fflush(f)))
    rc = -EIO;
  ch_buf_free(&b);
  return rc;
}

static void secs_str(char *buf, size_t n, uint64_t ns) {
  uint64_t s = ns / 1000000000u;
  if (s >= 3600)
    snprintf(buf, n, "%lluh%02llum%02llus", (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
             (unsigned long long)(s % 60));
  else if (s >= 60)
    snprintf(buf, n, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
  else
    snprintf(buf, n, "%llus", (unsigned long long)s);
}

size_t ch_progress_format(const struct ch_progress *p, bool tty, char *buf, size_t n) {
  if (!n)
    return 0;
  char el[24], tot[24], rate[24], p50[24] = "-", p99[24] = "-";
  secs_str(el, sizeof el, p->elapsed_ns);
  if (p->total_ns)
    secs_str(tot + 1, sizeof tot - 1, p->total_ns), tot[0] = '~';
  else
    snprintf(tot, sizeof tot, "?");
  ch__fmt_count(rate, sizeof rate, p->messages_per_s);
  if (p->p50_ns || p->p99_ns) {
    ch__fmt_dur(p50, sizeof p50, (double)p->p50_ns);
    ch__fmt_dur(p99, sizeof p99, (double)p->p99_ns);
  }
  const char *total = p->total_ns && !p->total_estimate ? tot + 1 : tot;
  /* label and phase come from the scenario file: they must not drive the terminal either */
  struct ch_buf what = CH_BUF_INIT;
  if (p->label)
    term_str(&what, p->label), ch_buf_putc(&what, ' ');
  if (p->phase)
    term_str(&what, p->phase), ch_buf_puts(&what, "  ");
  int w = snprintf(buf, n, "%s[%s/%s] %.80sconnected %llu/%llu  msg/s %s  delivery p50 %s p99 %s  errors %llu%s",
                   tty ? "\r" : "", el, total, what.data ? what.data : "", (unsigned long long)p->connected,
                   (unsigned long long)p->target, rate, p50, p99, (unsigned long long)p->errors, tty ? "\033[K" : "\n");
  ch_buf_free(&what);
  if (w < 0) {
    buf[0] = '\0';
    return 0;
  }
  return (size_t)w < n ? (size_t)w : n - 1;
}

void ch_progress_from_metrics(const struct ch_metrics *m, struct ch_progress *p) {
  uint64_t connected = 0, errors = 0;
  for (size_t i = 0; i < m->n_groups; i++) {
    connected += m->groups[i]->connected > 0 ? (uint64_t)m->groups[i]->connected : 0;
    errors += m->groups[i]->counters[CH_CNT_ERRORS];
  }
  p->connected = connected;
  p->errors = errors;
  if (m->n_series) {
    const struct ch_series_point *s = &m->series[m->n_series - 1];
    p->messages_per_s = (double)s->messages_in;
    p->p50_ns = s->p50_ns;
    p->p99_ns = s->p99_ns;
  }
}

bool ch_progress_live(FILE *f) {
  const char *ci = getenv("CI");
  return f && isatty(fileno(f)) && !(ci && *ci);
}

uint64_t ch_progress_every_ns(bool live) { return live ? 1000000000ull : 10000000000ull; }
