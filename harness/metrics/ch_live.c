/* The live outputs of a process: rendering each second's snapshot for /metrics, the dashboard and --out. */
#include "ch_live.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_live_http.h"
#include "ch_metrics.h"

struct ch_live {
  struct ch_live_http *http;
  bool dashboard;
  FILE *out;
  char *out_path;
  pthread_mutex_t mu;       /* publishers are one at a time anyway; this orders a run's end after its last second */
  struct ch_metrics *base;  /* the finished runs' totals (capacity steps) */
  struct ch_buf last_event; /* the last dashboard event, repeated with the end */
  struct ch_buf last_prom, last_om;
  char host[2][128];        /* the addresses given, for ch_live_print_where */
};

int ch_live_open(const struct ch_live_opts *o, struct ch_live **out, struct ch_buf *err) {
  *out = NULL;
  struct ch_live *lv = calloc(1, sizeof *lv);
  if (!lv || ch_metrics_new(&lv->base)) {
    free(lv);
    ch_buf_puts(err, "out of memory");
    return -ENOMEM;
  }
  pthread_mutex_init(&lv->mu, NULL);
  int rc = 0;
  if (o->out_path) {
    lv->out = fopen(o->out_path, "w");
    if (!lv->out || !(lv->out_path = strdup(o->out_path))) {
      rc = -errno;
      ch_buf_printf(err, "--out: cannot create %s: %s", o->out_path, strerror(errno));
      goto fail;
    }
  }
  if (o->metrics_listen || o->dashboard_listen) {
    struct ch_buf page = CH_BUF_INIT;
    if (o->dashboard_listen && ch_live_page(&page, o->title ? o->title : "run", o->allow_stop)) {
      ch_buf_free(&page);
      ch_buf_puts(err, "out of memory");
      rc = -ENOMEM;
      goto fail;
    }
    struct ch_live_http_opts ho = {o->metrics_listen, o->dashboard_listen, o->allow_stop, page.data};
    rc = ch_live_http_start(&ho, &lv->http, err);
    ch_buf_free(&page);
    if (rc)
      goto fail;
    lv->dashboard = o->dashboard_listen != NULL;
    int port;
    if (o->metrics_listen)
      ch_live_parse_listen(o->metrics_listen, lv->host[0], sizeof lv->host[0], &port);
    if (o->dashboard_listen)
      ch_live_parse_listen(o->dashboard_listen, lv->host[1], sizeof lv->host[1], &port);
  }
  *out = lv;
  return 0;
fail:
  ch_live_close(lv);
  return rc ? rc : -ENOMEM;
}

int ch_live_port(const struct ch_live *lv, int which) { return lv ? ch_live_http_port(lv->http, which) : -1; }

void ch_live_print_where(const struct ch_live *lv, FILE *f) {
  if (!lv)
    return;
  for (int i = 0; i < 2; i++) {
    const char *h = lv->host[i];
    bool v6 = strchr(h, ':') != NULL;
    if (ch_live_port(lv, i) >= 0)
      fprintf(f, "%s: http://%s%s%s:%d%s\n", i ? "dashboard" : "metrics", v6 ? "[" : "", h, v6 ? "]" : "",
              ch_live_port(lv, i), i ? "/" : "/metrics");
  }
  if (lv->out_path)
    fprintf(f, "samples: %s (one JSON line per second)\n", lv->out_path);
}

/* ---- the JSON line ---- */

static void json_second(cJSON *o, const struct ch_metrics *m) {
  if (!m || !m->n_series)
    return;
  const struct ch_series_point *p = &m->series[m->n_series - 1];
  cJSON *s = cJSON_AddObjectToObject(o, "second");
  cJSON_AddNumberToObject(s, "t", (double)p->t);
  cJSON_AddNumberToObject(s, "connected", (double)p->connected);
  cJSON_AddNumberToObject(s, "messages_in", (double)p->messages_in);
  cJSON_AddNumberToObject(s, "messages_out", (double)p->messages_out);
  cJSON_AddNumberToObject(s, "errors", (double)p->errors);
  cJSON_AddNumberToObject(s, "deliveries", (double)p->deliveries);
  cJSON_AddNumberToObject(s, "p50_ns", (double)p->p50_ns);
  cJSON_AddNumberToObject(s, "p99_ns", (double)p->p99_ns);
}

/* Session populations: "sessions": {"active": N, "target": N (closed models only), "populations": {"web": {"active":
   N, "target": N}}}, as the gauges sessions_active and sessions_target. */
static void json_sessions(cJSON *o, const struct ch_prom_run *x) {
  if (!x->n_sessions)
    return;
  cJSON *s = cJSON_AddObjectToObject(o, "sessions");
  cJSON *pops = cJSON_CreateObject();
  for (size_t i = 0; i < x->n_sessions; i++) {
    const struct ch_prom_sessions *e = &x->sessions[i];
    cJSON *p = cJSON_AddObjectToObject(pops, e->population);
    cJSON_AddNumberToObject(p, "active", (double)e->active);
    if (e->closed)
      cJSON_AddNumberToObject(p, "target", (double)e->target);
  }
  uint64_t active, target;
  bool closed = ch_prom_sessions_sum(x, &active, &target);
  cJSON_AddNumberToObject(s, "active", (double)active);
  if (closed)
    cJSON_AddNumberToObject(s, "target", (double)target);
  cJSON_AddItemToObject(s, "populations", pops);
}

static char *json_line(const struct ch_live_frame *f, const struct ch_metrics *m, const struct ch_metrics_group *t) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddNumberToObject(o, "t", (double)ch_wall_ns() / 1e9);
  cJSON_AddStringToObject(o, "phase", f->run.phase ? f->run.phase : "");
  cJSON_AddNumberToObject(o, "phase_index", f->run.phase_index);
  if (f->label)
    cJSON_AddStringToObject(o, "label", f->label);
  cJSON_AddBoolToObject(o, "running", f->run.running);
  cJSON_AddBoolToObject(o, "final", f->final);
  cJSON_AddNumberToObject(o, "elapsed_s", f->run.elapsed_s);
  cJSON_AddNumberToObject(o, "expected_s", f->run.expected_s);
  cJSON_AddNumberToObject(o, "target_clients", (double)f->run.target_clients);
  cJSON_AddNumberToObject(o, "connected", t ? (double)(t->connected > 0 ? t->connected : 0) : 0);
  cJSON_AddNumberToObject(o, "reconnecting", t ? (double)t->reconnecting : 0);
  cJSON_AddNumberToObject(o, "triggers_sent", (double)f->run.triggers_sent);
  cJSON_AddNumberToObject(o, "trigger_errors", (double)f->run.trigger_errors);
  json_sessions(o, &f->run);
  cJSON *c = cJSON_AddObjectToObject(o, "counters");
  for (int k = 0; k < CH_CNT_COUNT; k++)
    cJSON_AddNumberToObject(c, ch_cnt_name(k), t ? (double)t->counters[k] : 0);
  cJSON *l = cJSON_AddObjectToObject(o, "latency");
  for (int k = 0; t && k < CH_LAT_COUNT; k++) {
    const struct ch_hist *h = &t->lat[k];
    if (!h->count)
      continue;
    cJSON *e = cJSON_AddObjectToObject(l, ch_lat_name(k));
    cJSON_AddNumberToObject(e, "count", (double)h->count);
    cJSON_AddNumberToObject(e, "p50_ns", (double)ch_hist_value_at(h, 50));
    cJSON_AddNumberToObject(e, "p90_ns", (double)ch_hist_value_at(h, 90));
    cJSON_AddNumberToObject(e, "p99_ns", (double)ch_hist_value_at(h, 99));
    cJSON_AddNumberToObject(e, "max_ns", (double)ch_hist_max(h));
  }
  json_second(o, m);
  cJSON *th = cJSON_AddArrayToObject(o, "thresholds");
  for (size_t i = 0; i < f->n_thresholds; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(th, e);
    cJSON_AddStringToObject(e, "threshold", f->thresholds[i].expr);
    cJSON_AddStringToObject(e, "state", f->thresholds[i].state > 0 ? "pass" : f->thresholds[i].state < 0 ? "fail"
                                                                                                       : "no_data");
    cJSON_AddStringToObject(e, "observed", f->thresholds[i].observed ? f->thresholds[i].observed : "");
  }
  cJSON *causes = cJSON_AddObjectToObject(o, "connect_errors_by_cause");
  for (size_t i = 0; i < f->run.n_causes; i++)
    cJSON_AddNumberToObject(causes, f->run.causes[i], (double)f->run.cause_counts[i]);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

/* ---- publishing ---- */

/* Appends one SSE event (name NULL: the default "message") whose data is text, one data: line per line. */
static void sse_event(struct ch_buf *b, const char *name, const char *text) {
  if (name)
    ch_buf_printf(b, "event: %s\n", name);
  ch_buf_puts(b, "data: ");
  for (const char *s = text; *s; s++) {
    if (*s == '\n')
      ch_buf_puts(b, "\ndata: ");
    else if (*s != '\r')
      ch_buf_putc(b, *s);
  }
  ch_buf_puts(b, "\n\n");
}

void ch_live_publish(struct ch_live *lv, const struct ch_live_frame *f) {
  if (!lv)
    return;
  pthread_mutex_lock(&lv->mu);
  /* Prometheus: the finished runs plus this one, so counters never go back between capacity steps (a copy only
     once a run has finished: a single run renders its snapshot as it is) */
  struct ch_metrics *all = NULL;
  const struct ch_metrics *prom_m = f->m;
  if (lv->base->n_groups || !f->m) {
    if (ch_metrics_new(&all) == 0 && (ch_metrics_merge(all, lv->base) || (f->m && ch_metrics_merge(all, f->m)))) {
      ch_metrics_free(all);
      all = NULL;
    }
    prom_m = all;
  }
  struct ch_metrics_group *t = NULL;
  if (f->m)
    ch_metrics_total(f->m, &t);
  struct ch_live_pub *p = calloc(1, sizeof *p);
  if (p && prom_m) {
    ch_prom_render_run(prom_m, &f->run, false, &p->prom);
    ch_prom_render_run(prom_m, &f->run, true, &p->om);
    if (lv->dashboard) {
      struct ch_buf view = CH_BUF_INIT;
      ch_live_view(&view, f, t);
      sse_event(&p->event, NULL, view.data ? view.data : "");
      ch_buf_free(&view);
      ch_buf_reset(&lv->last_event);
      ch_buf_append(&lv->last_event, p->event.data ? p->event.data : "", p->event.len);
    }
    ch_buf_reset(&lv->last_prom);
    ch_buf_append(&lv->last_prom, p->prom.data ? p->prom.data : "", p->prom.len);
    ch_buf_reset(&lv->last_om);
    ch_buf_append(&lv->last_om, p->om.data ? p->om.data : "", p->om.len);
    ch_live_http_publish(lv->http, p);
  } else {
    ch_live_pub_free(p);
  }
  if (lv->out) {
    char *line = json_line(f, f->m, t);
    if (line) {
      fputs(line, lv->out);
      fputc('\n', lv->out);
      fflush(lv->out);
    }
    cJSON_free(line);
  }
  if (f->final && f->m) /* the next run's counters continue from here */
    ch_metrics_merge(lv->base, f->m);
  free(t);
  ch_metrics_free(all);
  pthread_mutex_unlock(&lv->mu);
}

void ch_live_end(struct ch_live *lv, const char *report_dir) {
  if (!lv || !lv->http)
    return;
  pthread_mutex_lock(&lv->mu);
  struct ch_live_pub *p = calloc(1, sizeof *p);
  if (p) {
    ch_buf_append(&p->prom, lv->last_prom.data ? lv->last_prom.data : "", lv->last_prom.len);
    ch_buf_append(&p->om, lv->last_om.data ? lv->last_om.data : "", lv->last_om.len);
    if (!p->prom.len) { /* nothing was published: still a valid exposition */
      struct ch_prom p0 = {&p->prom, false}, p1 = {&p->om, true};
      ch_prom_finish(&p0), ch_prom_finish(&p1);
    }
    struct ch_buf path = CH_BUF_INIT, html = CH_BUF_INIT;
    if (report_dir)
      ch_buf_printf(&path, "%s/report.html", report_dir);
    FILE *rf = path.data ? fopen(path.data, "rb") : NULL;
    if (rf) {
      ch_buf_read_file(&html, rf, 0);
      fclose(rf);
    }
    if (lv->dashboard) {
      ch_buf_append(&p->event, lv->last_event.data ? lv->last_event.data : "", lv->last_event.len);
      sse_event(&p->end_event, "end", html.len ? html.data : "<p>The run ended; no report was written.</p>");
    }
    p->report = html; /* GET /report */
    ch_buf_free(&path);
    ch_live_http_publish(lv->http, p);
  }
  pthread_mutex_unlock(&lv->mu);
  ch_live_http_flush(lv->http, 2000); /* open pages get the final report before the process exits */
}

void ch_live_serve_stats(void *user, const char *json, size_t n) {
  struct ch_live *lv = user;
  cJSON *st = cJSON_ParseWithLength(json, n);
  struct ch_live_pub *p = calloc(1, sizeof *p);
  if (st && p && ch_prom_render_stats(st, false, &p->prom) == 0 && ch_prom_render_stats(st, true, &p->om) == 0) {
    ch_live_http_publish(lv->http, p);
    p = NULL;
  }
  ch_live_pub_free(p);
  if (lv->out && st) {
    cJSON_AddNumberToObject(st, "t", (double)ch_wall_ns() / 1e9);
    char *line = cJSON_PrintUnformatted(st);
    if (line) {
      fputs(line, lv->out);
      fputc('\n', lv->out);
      fflush(lv->out);
    }
    cJSON_free(line);
  }
  cJSON_Delete(st);
}

void ch_live_close(struct ch_live *lv) {
  if (!lv)
    return;
  ch_live_http_stop(lv->http);
  if (lv->out)
    fclose(lv->out);
  free(lv->out_path);
  ch_metrics_free(lv->base);
  ch_buf_free(&lv->last_event);
  ch_buf_free(&lv->last_prom);
  ch_buf_free(&lv->last_om);
  pthread_mutex_destroy(&lv->mu);
  free(lv);
}
