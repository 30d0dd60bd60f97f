/* ch_live: watching a run while it happens. One object per process (run, capacity, serve) owns the outputs:
 * --metrics-listen (GET /metrics, Prometheus text or OpenMetrics), --dashboard (a live page over Server-Sent Events,
 * with a stop button under --dashboard-allow-stop) and --out (one JSON line per second).
 *
 * The caller publishes the per-second snapshot it already makes (the runner: the merged copies the workers take on
 * their one-second tick; serve: its /stats object) from a thread of its own; everything is rendered there, and the
 * HTTP thread only serves the last rendering (ch_live_http.h). Counters stay monotonic for the life of the process:
 * a capacity search's steps add up (the finished steps' totals plus the running one's). */
#ifndef CH_LIVE_H
#define CH_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ch_buf.h"
#include "ch_prom.h"

struct ch_metrics;
struct ch_metrics_group;

struct ch_live_opts {
  const char *metrics_listen;   /* --metrics-listen HOST:PORT; NULL none */
  const char *dashboard_listen; /* --dashboard HOST:PORT; NULL none */
  bool allow_stop;              /* --dashboard-allow-stop */
  const char *out_path;         /* --out FILE.jsonl; NULL none */
  const char *title;            /* the scenario's name, shown on the page */
};

/* A threshold as judged on the snapshot so far. */
struct ch_live_threshold {
  const char *expr;
  int state;            /* 1 holds, -1 lost, 0 no samples yet */
  const char *observed; /* the observed value in its unit; "" when none */
};

/* One second of a run. */
struct ch_live_frame {
  const struct ch_metrics *m;   /* merged over the workers; NULL before anything was measured */
  struct ch_prom_run run;       /* phase, clock, causes, triggers */
  const char *label;            /* e.g. "step 2/8 (keys 500)"; NULL none */
  const struct ch_live_threshold *thresholds;
  size_t n_thresholds;
  bool final;                   /* the run's end figures (the report's metrics) */
};

struct ch_live;

/* Opens the outputs (binds, creates the --out file). @return 0, or a negative code with err saying why (-EINVAL:
   a bad address; otherwise the address or file could not be used). */
int ch_live_open(const struct ch_live_opts *o, struct ch_live **out, struct ch_buf *err);
/* Prints where to look ("metrics: http://127.0.0.1:9464/metrics", "dashboard: ..."), one line each. */
void ch_live_print_where(const struct ch_live *lv, FILE *f);
/* The bound port of the metrics (which 0) or dashboard (which 1) listener; -1 when none. */
int ch_live_port(const struct ch_live *lv, int which);
/* Publishes one second (any thread, one caller at a time). A final frame also adds its figures to the process's
   totals, so the next run's counters continue from them. NULL lv is ignored. */
void ch_live_publish(struct ch_live *lv, const struct ch_live_frame *f);
/* The run is over and its report written into report_dir (NULL: none): the page shows it (GET /report and the
   "end" event), and every open page is sent it before this returns (at most 2 s). */
void ch_live_end(struct ch_live *lv, const char *report_dir);
/* serve: its GET /stats object, once a second (the server's thread). user is the struct ch_live. */
void ch_live_serve_stats(void *user, const char *json, size_t n);
/* Stops serving, closes the file, frees. NULL is ignored. */
void ch_live_close(struct ch_live *lv);

/* ch_live_page.c: the dashboard page (self-contained) and one second's view of it. */
int ch_live_page(struct ch_buf *out, const char *title, bool allow_stop);
/* total: f->m's groups summed (ch_metrics_total), NULL when f->m is. */
int ch_live_view(struct ch_buf *out, const struct ch_live_frame *f, const struct ch_metrics_group *total);

#endif /* CH_LIVE_H */
