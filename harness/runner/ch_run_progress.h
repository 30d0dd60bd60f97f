/* ch_run_progress: the live progress line of `run` and `capacity`, drawn by a thread of its own so that no phase
 * (a trigger sender being joined, a long hold, a wait for acknowledgements) can freeze it: redrawn every second on
 * a terminal, a plain line every 10 s otherwise. It shows elapsed / expected total (from the scenario's timeline,
 * "~" when an estimate), the phase, connected clients, messages/s, Update delivery p50/p99 and errors. The figures
 * come from the per-second snapshots the workers publish in relaxed atomics: nothing is locked on the message path.
 */
#ifndef CH_RUN_PROGRESS_H
#define CH_RUN_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ch_scenario;

/* How long phase i of s is planned to last, in ns, as the runner executes it (connect ramp, hold and silence
   durations plus the unsubscribe grace, triggers over count/rate). *estimate is set (never cleared) when the time
   depends on the target (connects, acknowledgements, deliveries, reconnects) and not on the scenario alone. */
uint64_t ch_run_phase_planned_ns(const struct ch_scenario *s, size_t i, bool *estimate);
/* The whole timeline: the sum over its phases. */
uint64_t ch_run_planned_ns(const struct ch_scenario *s, bool *estimate);
/* The expected total while phase `phase` runs, having started at phase_start_ns into the timeline, now elapsed_ns
   into it: the time to that phase's start, that phase's plan (or its time so far, when longer: then it is an
   estimate) and the plans of the phases after it. phase >= n_phases: not started yet (elapsed + the whole plan). */
uint64_t ch_run_expected_total_ns(const struct ch_scenario *s, size_t phase, uint64_t phase_start_ns,
                                  uint64_t elapsed_ns, bool *estimate);

/* What one line shows, read by the progress thread through a callback (cumulative counts; latencies of the last
   closed second). */
struct ch_run_figures {
  uint64_t connected, messages, errors;
  uint64_t p50_ns, p99_ns;
};
typedef void (*ch_run_figures_cb)(void *user, struct ch_run_figures *f);

struct ch_run_progress_opts {
  const struct ch_scenario *s;
  FILE *out;           /* stderr */
  const char *label;   /* what runs, e.g. "step 2/8" or "shard 1/4"; NULL: none (copied) */
  uint64_t target;     /* the clients of this process */
  ch_run_figures_cb figures;
  void *user;
};

struct ch_run_progress;

/* Starts the thread; the first line is drawn at once. @return 0 or -errno (then *out is NULL: run without one). */
int ch_run_progress_start(const struct ch_run_progress_opts *o, struct ch_run_progress **out);
/* The timeline enters phase i (called by the thread that walks the timeline; no lock). NULL p is ignored. */
void ch_run_progress_phase(struct ch_run_progress *p, size_t i);
/* Draws the last line (ending it on a terminal), joins the thread and frees p. NULL is ignored. */
void ch_run_progress_stop(struct ch_run_progress *p);

#endif /* CH_RUN_PROGRESS_H */
