/* The progress line's thread and the timeline's planned duration. */
#include "ch_run_progress.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_scenario.h"

/* ---- the plan ---- */

double run_ramp_pace(const struct ch_scenario *s) {
  double rate = 0;
  for (size_t p = 0; p < s->n_populations; p++) { /* the ramp of the busiest population sets the pace */
    const struct ch_scn_ramp *ramp = &s->populations[p].ramp;
    double pr = ramp->rate > 0          ? ramp->rate
                : ramp->duration_ns ? (double)s->populations[p].count / ((double)ramp->duration_ns / 1e9)
                                    : 0;
    if (pr > rate)
      rate = pr;
  }
  return rate;
}

double run_phase_triggers(const struct ch_scn_trigger *t, const struct ch_scn_phase *ph, size_t keys) {
  double rate = t->rate > 0 ? t->rate : 10;
  double secs = (double)ph->duration_ns / 1e9;
  if (ph->type == CH_SCN_PHASE_VERIFY_SILENCE)
    return fmax((double)keys, rate * secs);
  if (t->count)
    return secs > 0 ? fmin((double)t->count, rate * secs) : (double)t->count;
  return rate * secs;
}

static uint64_t secs_ns(double secs) { return secs > 0 && secs < 1e9 ? (uint64_t)(secs * 1e9) : 0; }

uint64_t ch_run_phase_planned_ns(const struct ch_scenario *s, size_t i, bool *estimate) {
  const struct ch_scn_phase *ph = &s->phases[i];
  switch (ph->type) {
  case CH_SCN_PHASE_HOLD:
  case CH_SCN_PHASE_STEADY:
    return ph->duration_ns;
  case CH_SCN_PHASE_VERIFY_SILENCE: /* nothing may arrive: it lasts its duration and the grace, always */
    return ph->duration_ns + s->expect.unsubscribe_grace_ns;
  case CH_SCN_PHASE_TRIGGER: {
    *estimate = true; /* sent at the scenario's pace, but the phase ends when the Updates arrived */
    uint64_t longest = 0; /* the triggers run side by side */
    for (size_t t = 0; t < s->n_triggers; t++) {
      const struct ch_scn_trigger *tg = &s->triggers[t];
      uint64_t d = secs_ns(floor(run_phase_triggers(tg, ph, 0)) / (tg->rate > 0 ? tg->rate : 10));
      if (tg->type != CH_SCN_TRIGGER_NONE && d > longest)
        longest = d;
    }
    return longest;
  }
  case CH_SCN_PHASE_CONNECT: {
    *estimate = true;
    double pace = run_ramp_pace(s);
    size_t n = ph->population >= 0 ? s->populations[ph->population].count : s->total_clients;
    return pace > 0 ? secs_ns((double)n / pace) : 0;
  }
  default: /* subscribe, unsubscribe, drop_reconnect, disconnect: as long as the target takes */
    *estimate = true;
    return 0;
  }
}

uint64_t ch_run_planned_ns(const struct ch_scenario *s, bool *estimate) {
  uint64_t t = 0;
  for (size_t i = 0; i < s->n_phases; i++)
    t += ch_run_phase_planned_ns(s, i, estimate);
  return t;
}

uint64_t ch_run_expected_total_ns(const struct ch_scenario *s, size_t phase, uint64_t phase_start_ns,
                                  uint64_t elapsed_ns, bool *estimate) {
  if (phase >= s->n_phases)
    return elapsed_ns + ch_run_planned_ns(s, estimate);
  uint64_t in_phase = elapsed_ns > phase_start_ns ? elapsed_ns - phase_start_ns : 0;
  uint64_t cur = ch_run_phase_planned_ns(s, phase, estimate);
  if (in_phase > cur) { /* running late: the plan was wrong, what is left is a guess */
    cur = in_phase;
    *estimate = true;
  }
  uint64_t t = phase_start_ns + cur;
  for (size_t i = phase + 1; i < s->n_phases; i++)
    t += ch_run_phase_planned_ns(s, i, estimate);
  return t;
}

/* ---- the thread ---- */

struct ch_run_progress {
  struct ch_run_progress_opts o;
  char *label;
  bool live;                         /* a terminal: redraw in place every second */
  uint64_t t0;                       /* timeline start (monotonic) */
  _Atomic uint64_t phase_start;      /* ns after t0; written before phase (release) */
  _Atomic size_t phase;              /* SIZE_MAX until the first phase */
  uint64_t last_at, last_messages;   /* the previous line (progress thread only) */
  pthread_t thread;
  pthread_mutex_t mu;                /* guards stop only; never held while drawing */
  pthread_cond_t cv;
  bool stop;
};

static void progress_draw(struct ch_run_progress *p, bool last) {
  struct ch_run_figures f = {0};
  p->o.figures(p->o.user, &f);
  uint64_t now = ch_now_ns();
  size_t phase = atomic_load_explicit(&p->phase, memory_order_acquire);
  uint64_t phase_start = atomic_load_explicit(&p->phase_start, memory_order_relaxed);
  struct ch_progress line = {0};
  line.elapsed_ns = now - p->t0;
  line.total_ns = ch_run_expected_total_ns(p->o.s, phase, phase_start, line.elapsed_ns, &line.total_estimate);
  line.connected = f.connected;
  line.target = p->o.target;
  line.errors = f.errors;
  line.p50_ns = f.p50_ns;
  line.p99_ns = f.p99_ns;
  if (p->last_at && now > p->last_at && f.messages >= p->last_messages)
    line.messages_per_s = (double)(f.messages - p->last_messages) * 1e9 / (double)(now - p->last_at);
  p->last_at = now;
  p->last_messages = f.messages;
  line.phase = phase < p->o.s->n_phases ? p->o.s->phases[phase].name : "starting";
  line.label = p->label;
  char text[320];
  ch_progress_format(&line, p->live, text, sizeof text);
  fputs(text, p->o.out);
  if (last && p->live)
    fputc('\n', p->o.out);
  fflush(p->o.out);
}

static void *progress_main(void *arg) {
  struct ch_run_progress *p = arg;
  uint64_t every = ch_progress_every_ns(p->live), next = ch_now_ns();
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    uint64_t now = ch_now_ns();
    if (now >= next) {
      pthread_mutex_unlock(&p->mu);
      progress_draw(p, false);
      pthread_mutex_lock(&p->mu);
      next += every;
      if (next <= now)
        next = now + every;
      continue;
    }
    struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
    pthread_cond_timedwait(&p->cv, &p->mu, &ts); /* the condition uses CLOCK_MONOTONIC, as ch_now_ns */
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int ch_run_progress_start(const struct ch_run_progress_opts *o, struct ch_run_progress **out) {
  *out = NULL;
  struct ch_run_progress *p = calloc(1, sizeof *p);
  if (!p || (o->label && !(p->label = strdup(o->label)))) {
    free(p);
    return -ENOMEM;
  }
  p->o = *o;
  p->o.label = NULL;
  p->live = ch_progress_live(o->out);
  p->t0 = ch_now_ns();
  atomic_init(&p->phase, SIZE_MAX);
  atomic_init(&p->phase_start, 0);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  int rc = pthread_create(&p->thread, NULL, progress_main, p);
  if (rc) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->label);
    free(p);
    return -rc;
  }
  *out = p;
  return 0;
}

void ch_run_progress_phase(struct ch_run_progress *p, size_t i) {
  if (!p)
    return;
  atomic_store_explicit(&p->phase_start, ch_now_ns() - p->t0, memory_order_relaxed);
  atomic_store_explicit(&p->phase, i, memory_order_release);
}

void ch_run_progress_stop(struct ch_run_progress *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->thread, NULL);
  progress_draw(p, true);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->label);
  free(p);
}
