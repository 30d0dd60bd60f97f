/* The runner's side of the live outputs (--metrics-listen, --dashboard, --out): once a second the snapshot thread
   (ch_run_abort.c) hands over the merged copies the workers took on their tick; this adds what only the run knows
   (phase, clock, thresholds so far, connect failures by cause, triggers sent) and publishes it (ch_live.h). Nothing
   here runs on a worker or takes a lock a worker takes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch_clock.h"
#include "ch_exit.h"
#include "ch_interrupt.h"
#include "ch_live.h"
#include "ch_run_int.h"
#include "ch_run_progress.h"

static const char *const ff_names[RUN_FF_N] = {"401", "403", "404", "refused", "tls", "not_signalr", "timeout",
                                               "server", "other"};

void run_live_phase(struct ch_run *r, size_t i) {
  if (!r->o->live)
    return;
  atomic_store(&r->live_phase_start, ch_now_ns() - r->t0);
  atomic_store(&r->live_phase, (int)i);
}

/* Triggers handed to curl so far: each sender marks its phase's plan (sent_ns) in plan order, so one cursor per
   planned phase (live_pos, written by this thread only) walks it once; the phases of several triggers run at once. */
static uint64_t live_triggers_sent(struct ch_run *r) {
  size_t np = atomic_load_explicit(&r->n_tphases, memory_order_acquire);
  uint64_t sent = 0;
  for (size_t i = 0; i < np; i++) {
    struct run_tphase *p = &r->tphases[i];
    while (p->live_pos < p->n && atomic_load_explicit(&r->trig[p->first + p->live_pos].sent_ns, memory_order_relaxed))
      p->live_pos++;
    sent += p->live_pos;
  }
  return sent;
}

/* Session populations now: the sessions open, from the snapshot's counters (started - ended over the population's
   groups, as the report's series counts them), and the closed model's target, from the workers' session ticks.
   Fills up to 64 entries of out; returns how many. */
static size_t live_sessions(struct ch_run *r, const struct ch_metrics *m, struct ch_prom_sessions *out) {
  const struct ch_scenario *s = r->s;
  size_t n = 0;
  for (size_t p = 0; p < s->n_populations && p < 64; p++) {
    const struct ch_population *pop = &s->populations[p];
    if (!pop->sessions.enabled)
      continue;
    struct ch_prom_sessions *e = &out[n++];
    *e = (struct ch_prom_sessions){.population = pop->name, .closed = pop->sessions.closed};
    uint64_t st = 0, en = 0;
    for (size_t i = 0; m && i < m->n_groups; i++) {
      const struct ch_metrics_group *g = m->groups[i];
      if (strncmp(g->population, pop->name, CH_METRICS_NAME_MAX - 1)) /* group names are truncated */
        continue;
      st += g->counters[CH_CNT_SESSIONS_STARTED];
      en += g->counters[CH_CNT_SESSIONS_ENDED];
    }
    e->active = st > en ? st - en : 0;
    for (unsigned i = 0; e->closed && i < r->n_workers; i++)
      e->target += atomic_load_explicit(&r->workers[i]->sess_live_target[p], memory_order_relaxed);
  }
  return n;
}

static void live_publish(struct ch_run *r, const struct ch_metrics *m, bool final) {
  const struct ch_scenario *s = r->s;
  struct ch_live_frame f = {0};
  f.m = m;
  f.final = final;
  f.label = r->o->progress_label;
  int phase = atomic_load(&r->live_phase);
  f.run.running = !final;
  if (!final && phase >= 0 && (size_t)phase < s->n_phases) {
    f.run.phase = s->phases[phase].name;
    f.run.phase_index = phase + 1;
  }
  uint64_t elapsed = ch_now_ns() - r->t0;
  bool est = false;
  f.run.elapsed_s = (double)elapsed / 1e9;
  f.run.expected_s = final ? f.run.elapsed_s
                           : (double)ch_run_expected_total_ns(s, phase >= 0 ? (size_t)phase : s->n_phases,
                                                              atomic_load(&r->live_phase_start), elapsed, &est) /
                                 1e9;
  for (unsigned i = 0; i < r->n_workers; i++)
    f.run.target_clients += r->workers[i]->n_clients;
  uint64_t causes[RUN_FF_N] = {0};
  for (unsigned i = 0; i < r->n_workers; i++)
    for (int c = 0; c < RUN_FF_N; c++)
      causes[c] += atomic_load_explicit(&r->workers[i]->ff.failed[c], memory_order_relaxed);
  f.run.causes = ff_names;
  f.run.cause_counts = causes;
  f.run.n_causes = RUN_FF_N;
  f.run.triggers_sent = r->tphases ? live_triggers_sent(r) : 0;
  f.run.trigger_errors = atomic_load(&r->live_trig_failed);
  struct ch_prom_sessions sess[64];
  f.run.sessions = sess;
  f.run.n_sessions = live_sessions(r, m, sess);
  /* thresholds as they stand (a percentile without samples is not judged yet) */
  size_t nt = s->n_thresholds;
  struct ch_live_threshold *th = nt ? calloc(nt, sizeof *th) : NULL;
  struct ch_buf *vals = nt ? calloc(nt, sizeof *vals) : NULL;
  for (size_t i = 0; th && vals && i < nt; i++) {
    const struct ch_scn_threshold *t = &s->thresholds[i];
    double v = 0;
    bool pass = true;
    th[i].expr = t->expr;
    th[i].observed = "";
    if (!run_abort_has_samples(m, t) || ch_scn_threshold_eval(t, m, &v, &pass))
      continue;
    th[i].state = pass ? 1 : -1;
    ch_scn_threshold_format_value(t, v, &vals[i]);
    th[i].observed = vals[i].data ? vals[i].data : "";
  }
  if (th && vals) {
    f.thresholds = th;
    f.n_thresholds = nt;
  }
  ch_live_publish(r->o->live, &f);
  for (size_t i = 0; vals && i < nt; i++)
    ch_buf_free(&vals[i]);
  free(vals);
  free(th);
}

void run_live_second(struct ch_run *r, const struct ch_metrics *m) { live_publish(r, m, false); }

void run_live_final(struct ch_run *r, const struct ch_metrics *m) {
  if (r->o->live)
    live_publish(r, m, true);
}

/* ---- the command line's side ---- */

int ch_run_live_open(struct ch_run_cli *c, const char *title, unsigned processes) {
  c->o.live = NULL;
  if (!c->metrics_listen && !c->dashboard && !c->out) {
    if (c->allow_stop || c->linger)
      fprintf(stderr, "note: --dashboard-allow-stop and --linger do nothing without --dashboard or --metrics-listen\n");
    return CH_EXIT_OK;
  }
  if (processes > 1) {
    fprintf(stderr, "--metrics-listen, --dashboard and --out watch one process: they cannot be used with "
                    "--processes %u\nexit 3: invalid input\n", processes);
    return CH_EXIT_INPUT;
  }
  struct ch_live_opts lo = {c->metrics_listen, c->dashboard, c->allow_stop, c->out, title};
  struct ch_buf err = CH_BUF_INIT;
  int rc = ch_live_open(&lo, &c->o.live, &err);
  if (rc) {
    int code = rc == -EINVAL ? CH_EXIT_INPUT : CH_EXIT_RUN;
    fprintf(stderr, "%s\nexit %d: %s\n", err.data ? err.data : "the live outputs could not be opened", code,
            code == CH_EXIT_INPUT ? "invalid input" : "run could not be carried out");
    ch_buf_free(&err);
    return code;
  }
  ch_buf_free(&err);
  ch_live_print_where(c->o.live, stderr);
  fflush(stderr);
  return CH_EXIT_OK;
}

void ch_run_live_finish(struct ch_run_cli *c, const char *dir, struct ch_interrupt *intr) {
  if (!c->o.live)
    return;
  ch_live_end(c->o.live, dir);
  if (c->linger && intr && (c->metrics_listen || c->dashboard)) {
    fprintf(stderr, "lingering: still serving; Ctrl-C (SIGINT) or SIGTERM ends the process\n");
    unsigned seen = ch_interrupt_poll(intr);
    while (ch_interrupt_poll(intr) == seen) {
      struct timespec ts = {0, 50000000};
      nanosleep(&ts, NULL);
    }
  }
  ch_live_close(c->o.live);
  c->o.live = NULL;
}
