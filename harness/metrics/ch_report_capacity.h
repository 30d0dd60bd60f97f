/* ch_report_capacity: the structured section a capacity search (`centro-harness capacity`) adds to its report: what
 * was varied, the SLOs, one row per step (load, clients, throughput, latency, loss, the SLO that broke, the target's
 * resources when known) and the knee. report.json carries it as the "capacity" object (reports/README.md); the HTML
 * report plots latency and throughput against the load from it, the terminal summary prints it as a table.
 */
#ifndef CH_REPORT_CAPACITY_H
#define CH_REPORT_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The target's resources over one step, from the reference endpoint's control API (GET /stats) read before and after
   the step. Unknown (known == false) for targets without it. A field the endpoint did not give is negative. */
struct ch_capacity_target {
  bool known;
  double connections;   /* connections the endpoint accepted during the step (connections.total, after - before) */
  double deliveries;    /* Updates the endpoint delivered during the step (deliveries, after - before) */
  double cpu_s;         /* CPU seconds of the endpoint's server thread during the step (cpu_s, after - before) */
  double rss_kib;       /* the endpoint process's resident set size at the end of the step (VmRSS, KiB) */
  double processes;     /* endpoint processes (/stats processes); cpu_s and rss_kib cover the first one only */
};

struct ch_capacity_step {
  double load;               /* the value of the varied dimension */
  uint64_t clients;          /* clients the step ran */
  double connected;          /* clients that connected */
  double deliveries_per_s;   /* Updates received per second (all subscribers) */
  bool has_latency;          /* false when no Update arrived (the latencies are then 0 and mean nothing) */
  double p50_ms, p90_ms, p99_ms, max_ms; /* update latency */
  double delivery_ratio;     /* received / expected, 0..1 */
  double missing;            /* Updates expected but not received */
  double duration_s;         /* wall time of the step's run */
  bool held;                 /* met every SLO */
  char *broken;              /* NULL when held: the SLO expression it broke, or why the step could not run */
  bool has_observed;         /* broken names an SLO and observed is its value (the metric's unit: ns for latency) */
  double observed;
  struct ch_capacity_target target;
};

struct ch_capacity {
  char *vary;                /* "subscribers_per_key", "keys" or "trigger_rate" */
  double start, step, max;
  double step_duration_s;
  char **slo;                /* the SLO expressions, as written */
  size_t n_slo;
  struct ch_capacity_step *steps;
  size_t n_steps, cap_steps;
  long last_held, first_broken; /* step indexes (0-based); -1 when there is none */
};

/* @return 0, -EINVAL (vary NULL), -ENOMEM. Strings are copied. last_held and first_broken start at -1. */
int ch_capacity_new(const char *vary, const char *const *slo, size_t n_slo, struct ch_capacity **out);
void ch_capacity_free(struct ch_capacity *c);
/* Appends a copy of st and updates the knee: the first step that did not hold is first_broken, the last held step
   before it last_held. @return 0 or -ENOMEM. */
int ch_capacity_add_step(struct ch_capacity *c, const struct ch_capacity_step *st);

#endif /* CH_REPORT_CAPACITY_H */
