/* abort_on_fail (as k6's abortOnFail): a threshold marked so is judged once a second on what the run measured so
   far, and once it is lost the run stops early: no new trigger is sent, the phases left are skipped up to the
   disconnect, and the run ends with exit 2 and the reason in its report.
   Each worker copies its metrics into a snapshot on its one-second tick (its own thread, so no lock on the hot
   path); a watcher thread merges the snapshots and evaluates, so a trigger phase that blocks the main thread in the
   sender's join cannot delay the verdict. The same snapshots, merged once a second by the same thread, feed the
   live outputs (--metrics-listen, --dashboard, --out; ch_run_live.c): one snapshot mechanism for both. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ch_clock.h"
#include "ch_run_int.h"

int run_abort_init(struct ch_run *r) {
  for (size_t i = 0; i < r->s->n_thresholds; i++)
    r->abort_on |= r->s->thresholds[i].abort_on_fail;
  r->snap_on = r->abort_on || r->o->live;
  if (!r->snap_on)
    return 0;
  pthread_cond_init(&r->abort_cv, NULL);
  for (unsigned i = 0; i < r->n_workers; i++)
    pthread_mutex_init(&r->workers[i]->abort_snap_mu, NULL);
  r->abort_ready = true;
  return 0;
}

void run_abort_snapshot(struct run_worker *rw) {
  struct ch_metrics *m = NULL;
  if (ch_metrics_new(&m) || ch_metrics_merge(m, rw->m)) {
    ch_metrics_free(m);
    return; /* out of memory: the last snapshot stays */
  }
  pthread_mutex_lock(&rw->abort_snap_mu);
  struct ch_metrics *old = rw->abort_snap;
  rw->abort_snap = m;
  pthread_mutex_unlock(&rw->abort_snap_mu);
  ch_metrics_free(old);
}

/* Whether a latency metric has samples yet: with none there is no evidence to abort on. */
bool run_abort_has_samples(const struct ch_metrics *m, const struct ch_scn_threshold *t) {
  const char *dot = strchr(t->metric, '.');
  if (!dot)
    return true;
  char name[160];
  double n = 0;
  snprintf(name, sizeof name, "%.*s.count", (int)(dot - t->metric), t->metric);
  return ch_metrics_lookup(m, name, &n) == 0 && n > 0;
}

/* The workers' last snapshots merged (NULL when out of memory). */
static struct ch_metrics *abort_merge(struct ch_run *r) {
  struct ch_metrics *m = NULL;
  if (ch_metrics_new(&m))
    return NULL;
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    pthread_mutex_lock(&rw->abort_snap_mu);
    if (rw->abort_snap)
      ch_metrics_merge(m, rw->abort_snap);
    pthread_mutex_unlock(&rw->abort_snap_mu);
  }
  return m;
}

/* One evaluation: true (reason set) when an abort_on_fail threshold is lost. */
static bool abort_evaluate(struct ch_run *r, const struct ch_metrics *m, char *reason, size_t n) {
  if (!r->abort_on)
    return false;
  uint64_t elapsed = ch_now_ns() - r->t0;
  bool lost = false;
  for (size_t i = 0; i < r->s->n_thresholds && !lost; i++) {
    const struct ch_scn_threshold *t = &r->s->thresholds[i];
    double v = 0;
    bool pass = true;
    if (!t->abort_on_fail || elapsed < t->delay_abort_eval_ns || !run_abort_has_samples(m, t) ||
        ch_scn_threshold_eval(t, m, &v, &pass) || pass)
      continue;
    struct ch_buf val = CH_BUF_INIT;
    ch_scn_threshold_format_value(t, v, &val);
    snprintf(reason, n, "aborted at %.1f s: threshold \"%s\" lost (observed %s) and marked abort_on_fail",
             (double)elapsed / 1e9, t->expr, val.data ? val.data : "?");
    ch_buf_free(&val);
    lost = true;
  }
  return lost;
}

static void *abort_watch(void *arg) {
  struct ch_run *r = arg;
  char reason[sizeof r->abort_reason];
  pthread_mutex_lock(&r->mu);
  while (!r->abort_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1; /* the workers' snapshots are one second apart */
    pthread_cond_timedwait(&r->abort_cv, &r->mu, &ts);
    if (r->abort_stop)
      break;
    pthread_mutex_unlock(&r->mu);
    struct ch_metrics *m = abort_merge(r);
    bool lost = m && abort_evaluate(r, m, reason, sizeof reason);
    if (m && r->o->live)
      run_live_second(r, m);
    ch_metrics_free(m);
    pthread_mutex_lock(&r->mu);
    if (lost) {
      memcpy(r->abort_reason, reason, sizeof reason);
      atomic_store(&r->aborted, true);
      break;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

int run_abort_watch(struct ch_run *r) {
  if (!r->abort_ready)
    return 0;
  int rc = pthread_create(&r->abort_thread, NULL, abort_watch, r);
  if (rc)
    return -rc;
  r->abort_running = true;
  return 0;
}

void run_abort_end(struct ch_run *r) {
  if (!r->abort_running)
    return;
  pthread_mutex_lock(&r->mu);
  r->abort_stop = true;
  pthread_cond_broadcast(&r->abort_cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->abort_thread, NULL);
  r->abort_running = false;
}

void run_abort_free(struct ch_run *r) {
  run_abort_end(r);
  if (!r->abort_ready)
    return;
  for (unsigned i = 0; i < r->n_workers; i++) {
    if (!r->workers[i])
      continue;
    ch_metrics_free(r->workers[i]->abort_snap);
    r->workers[i]->abort_snap = NULL;
    pthread_mutex_destroy(&r->workers[i]->abort_snap_mu);
  }
  pthread_cond_destroy(&r->abort_cv);
  r->abort_ready = false;
}
