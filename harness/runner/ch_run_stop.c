/* The run's answer to SIGINT/SIGTERM and its checkpoints. Both are driven from the main thread's waits (run_poll):
   the interrupt context is polled there, and a checkpoint asks every worker for a copy of its metrics (a posted
   task: the hot path takes no lock), then writes report.json marked partial once all copies arrived. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_exit.h"
#include "ch_interrupt.h"
#include "ch_report.h"
#include "ch_run_int.h"

#define RUN_CHECKPOINT_DEFAULT_NS 30000000000u

/* ---- checkpoints ---- */

void run_worker_snapshot(struct ch_worker *w, void *arg) {
  struct run_worker *rw = arg;
  (void)w;
  struct ch_metrics *m = NULL;
  if (!rw->snap && ch_metrics_new(&m) == 0) {
    /* totals are exact; the per-second series ends at this worker's last tick (less than a second ago) */
    if (ch_metrics_merge(m, rw->m)) {
      ch_metrics_free(m);
      m = NULL;
    }
    rw->snap = m;
  }
  atomic_fetch_add_explicit(&rw->run->snap_done, 1, memory_order_release);
}

void run_snap_free(struct ch_run *r) {
  for (unsigned i = 0; r->workers && i < r->n_workers; i++)
    if (r->workers[i]) {
      ch_metrics_free(r->workers[i]->snap);
      r->workers[i]->snap = NULL;
    }
}

static void run_checkpoint_write(struct ch_run *r) {
  struct ch_report *rep = r->rep;
  struct ch_metrics *m = NULL;
  uint64_t now = ch_wall_ns();
  run_auth_drain(r); /* tokens refreshed since the last write are redacted too */
  if (ch_metrics_new(&m) == 0) {
    for (unsigned i = 0; i < r->n_workers; i++)
      if (r->workers[i]->snap)
        ch_metrics_merge(m, r->workers[i]->snap);
    ch_metrics_end(m, now);
    /* The report's own header (scenario, target, seed, overrides, secrets) with the copies' metrics. */
    struct ch_metrics *keep = rep->metrics;
    char *reason = rep->exit_reason;
    uint64_t start = rep->start_wall_ns, end = rep->end_wall_ns;
    int code = rep->exit_code;
    char why[] = "partial: a checkpoint written while the run was still going (see run.end)";
    rep->exit_code = CH_EXIT_RUN; /* read after a crash, the run was not carried out to its end */
    rep->metrics = m;
    rep->exit_reason = why;
    rep->partial = true;
    rep->start_wall_ns = m->start_wall_ns;
    rep->end_wall_ns = now;
    struct ch_buf err = CH_BUF_INIT;
    if (r->o->checkpoint_dir && ch_report_write_checkpoint(rep, r->o->checkpoint_dir, &err))
      fprintf(stderr, "checkpoint: %s\n", err.data ? err.data : "cannot be written");
    /* an MPI rank has no folder of its own: its checkpoint goes to rank 0 */
    if (!r->o->checkpoint_dir && ch_report_json(rep, &err) == 0)
      ch_coord_link_send(r->coord, CH_COORD_CHECKPOINT, err.data, err.len);
    ch_buf_free(&err);
    rep->metrics = keep;
    rep->exit_code = code;
    rep->exit_reason = reason;
    rep->partial = false;
    rep->start_wall_ns = start;
    rep->end_wall_ns = end;
    ch_metrics_free(m);
  }
  run_snap_free(r);
}

static void run_checkpoint_step(struct ch_run *r) {
  if ((!r->o->checkpoint_dir && !(r->coord && r->coord->ops)) || !r->rep || !r->workers)
    return;
  uint64_t now = ch_now_ns();
  uint64_t every = r->o->checkpoint_ns ? r->o->checkpoint_ns : RUN_CHECKPOINT_DEFAULT_NS;
  if (!r->ckpt_next) {
    r->ckpt_next = r->t0 + every;
    return;
  }
  if (r->snap_pending) {
    if (atomic_load_explicit(&r->snap_done, memory_order_acquire) < r->n_workers)
      return; /* a worker busy with a burst answers later: the writes wait, the run does not */
    r->snap_pending = false;
    run_checkpoint_write(r);
    return;
  }
  if (now < r->ckpt_next)
    return;
  r->ckpt_next = now + every;
  atomic_store_explicit(&r->snap_done, 0, memory_order_relaxed);
  unsigned posted = 0;
  for (unsigned i = 0; i < r->n_workers; i++)
    if (ch_engine_post(r->engine, i, run_worker_snapshot, r->workers[i]) == 0)
      posted++;
  if (posted == r->n_workers)
    r->snap_pending = true;
  else
    fprintf(stderr, "checkpoint: %u of %u workers could not be asked for their metrics\n", r->n_workers - posted,
            r->n_workers); /* those that were asked answer into snap, freed with the run */
}

/* ---- signals ---- */

unsigned run_poll(struct ch_run *r) {
  unsigned n = ch_interrupt_poll(r->o->intr);
  if (!n && r->coord_lost && r->coord_lost(r->coord_user))
    n = 1;
  run_coord_poll(r);
  if (n && !r->stop) {
    r->stop_phase = r->cur_phase;
    if (!r->o->quiet) {
      char label[128];
      run_stop_label(r, label, sizeof label);
      bool due = r->cur_phase >= 0 && (size_t)r->cur_phase < r->s->n_phases &&
                 r->s->phases[r->cur_phase].type == CH_SCN_PHASE_TRIGGER;
      fprintf(stderr, "\n%s during %s: stopping (no new trigger or phase; %severy client is closed); a second signal "
                      "stops at once\n",
              ch_signal_name(r->o->intr->signum), label,
              due ? "the Updates already due are waited for, up to the scenario's deadline, then " : "");
    }
  }
  if (n >= 2 && r->stop < 2 && !r->o->quiet)
    fprintf(stderr, "second signal: stopping at once\n");
  r->stop = n > 2 ? 2 : n;
  if (!r->stop)
    run_checkpoint_step(r);
  return r->stop;
}

void run_stop_label(const struct ch_run *r, char *buf, size_t n) {
  int k = r->stop_phase;
  if (k < 0)
    snprintf(buf, n, "set-up (before phase 1)");
  else if ((size_t)k >= r->s->n_phases)
    snprintf(buf, n, "wind-down (after the last phase)");
  else
    snprintf(buf, n, "phase %d of %zu (%s)", k + 1, r->s->n_phases, r->s->phases[k].name);
}

/* The phase types whose work a RUN-* check judges, and whether a cut-short phase can make it fail by absence
   (something that never arrived) rather than by something observed (a duplicate, a late Update). */
struct run_evidence {
  const char *id;
  unsigned types; /* bit per enum ch_scn_phase_type */
  bool by_absence;
};

#define PT(t) (1u << (t))
static const struct run_evidence run_evidence[] = {
    {"RUN-CONNECT", PT(CH_SCN_PHASE_CONNECT), true},
    {"RUN-AUTH", PT(CH_SCN_PHASE_CONNECT), true},
    {"RUN-SUBSCRIBE", PT(CH_SCN_PHASE_SUBSCRIBE), true},
    {"RUN-TRIGGER", PT(CH_SCN_PHASE_TRIGGER) | PT(CH_SCN_PHASE_VERIFY_SILENCE), true},
    {"RUN-DELIVERY", PT(CH_SCN_PHASE_TRIGGER) | PT(CH_SCN_PHASE_STEADY), true},
    {"RUN-DUPLICATE", PT(CH_SCN_PHASE_TRIGGER), false},
    {"RUN-ORDER", PT(CH_SCN_PHASE_TRIGGER), false},
    {"RUN-DEADLINE", PT(CH_SCN_PHASE_TRIGGER), false},
    {"RUN-ISOLATION", PT(CH_SCN_PHASE_TRIGGER), false},
    {"RUN-DECODE", PT(CH_SCN_PHASE_TRIGGER), false},
    {"RUN-UNSUBSCRIBE", PT(CH_SCN_PHASE_UNSUBSCRIBE) | PT(CH_SCN_PHASE_VERIFY_SILENCE), false},
    {"RUN-RECONNECT", PT(CH_SCN_PHASE_DROP_RECONNECT) | PT(CH_SCN_PHASE_DROP), true},
    {"RUN-REPLAY", PT(CH_SCN_PHASE_DROP_RECONNECT) | PT(CH_SCN_PHASE_DROP), true},
    {"RUN-RECOVERY", PT(CH_SCN_PHASE_DROP), true},
};

/* Whether some phase feeding the check had not finished when the first signal came: it never started, or it was
   cut short (a trigger phase whose Updates already due were waited for counts as finished for what it sent). */
static bool run_evidence_cut(const struct ch_run *r, unsigned types) {
  int k = r->stop_phase < 0 ? 0 : r->stop_phase;
  for (size_t i = (size_t)k; i < r->s->n_phases; i++) {
    enum ch_scn_phase_type t = r->s->phases[i].type;
    if (!(types & PT(t)))
      continue;
    if ((int)i > k || t != CH_SCN_PHASE_TRIGGER || !r->drain_done)
      return true;
  }
  return false;
}

void run_judge_interrupted(struct ch_run *r, struct ch_report *rep, size_t first) {
  if (!r->stop || !r->o->intr)
    return;
  char label[128];
  run_stop_label(r, label, sizeof label);
  const struct ch_interrupt *it = r->o->intr;
  ch_report_set_interrupted(rep, it->signum, it->at_wall_ns, label, it->count > 1);
  for (size_t i = first; i < rep->n_checks; i++) {
    struct ch_check *c = &rep->checks[i];
    const struct run_evidence *e = NULL;
    for (size_t k = 0; k < sizeof run_evidence / sizeof *run_evidence && !e; k++)
      if (!strcmp(run_evidence[k].id, c->id))
        e = &run_evidence[k];
    if (!e || !run_evidence_cut(r, e->types))
      continue;
    if (c->result == CH_RESULT_FAIL && !e->by_absence)
      continue; /* what was observed stays a failure */
    struct ch_buf ev = CH_BUF_INIT;
    ch_buf_printf(&ev, "incomplete: interrupted by %s during %s before this check's evidence was complete; "
                       "measured so far: %s",
                  ch_signal_name(it->signum), label, ch_result_name(c->result));
    if (c->evidence)
      ch_buf_printf(&ev, " (%s)", c->evidence);
    c->result = CH_RESULT_INCOMPLETE;
    free(c->evidence);
    c->evidence = ch_buf_steal(&ev);
  }
}
