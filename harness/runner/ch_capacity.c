/* `centro-harness capacity`: repeats a scenario while stepping one dimension (subscribers per key, number of keys or
   trigger rate) until a step breaks one of the scenario's SLOs, then reports the knee: the last step that held and
   the first that did not, with connections, deliveries per second, latency and loss for every step. Each step is a
   whole run of the scenario (fresh connections), so a step never inherits the backlog of the one before. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_exit.h"
#include "ch_report.h"
#include "ch_runner.h"
#include "ch_scenario.h"

static const char capacity_usage[] =
    "Usage: centro-harness capacity SCENARIO.json [OPTIONS]\n"
    "\n"
    "Steps the dimension named by the scenario's \"capacity\" object (subscribers_per_key, keys or trigger_rate)\n"
    "from start to max by step, running the scenario once per step with its trigger phase lasting step_duration,\n"
    "until a step breaks one of the \"slo\" thresholds. Prints a table of the steps and the knee, and writes one\n"
    "report whose notes and CAP-* checks give every step.\n"
    "\n"
    "Options: the same as `centro-harness run` (--target, --token, --token-env, --token-file, --set, --seed,\n"
    "--workers, --processes, --source-addresses, --insecure, --ca-file, --report-dir, --quiet).\n"
    "\n"
    "Exit codes: 0 the search completed (the knee is in the report), 3 invalid input, 4 a step could not be run.\n"
    "\n"
    "Example:\n"
    "  $ centro-harness capacity scenarios/capacity-fanout.json\n";

struct cap_step {
  double value;
  bool held, ran;
  size_t clients;
  double connected, deliveries_per_s, p50_ms, p99_ms, ratio, missing;
  char broken[160]; /* the first SLO it broke */
};

/* The --set overrides that make the scenario run one step at value v. */
static int cap_step_sets(const struct ch_scenario *s, double v, struct ch_buf *a, struct ch_buf *b) {
  const struct ch_scn_capacity *cap = &s->capacity;
  const struct ch_population *p = &s->populations[0];
  size_t per_client = ch_scenario_keys_per_client(p);
  double keys = p->subscribe.n_keys ? (double)p->subscribe.n_keys : 1;
  switch (cap->step_what) {
  case CH_SCN_CAPACITY_SUBSCRIBERS_PER_KEY:
    ch_buf_printf(a, "clients.0.count=%.0f", ceil(v * keys / (double)(per_client ? per_client : 1)));
    break;
  case CH_SCN_CAPACITY_KEYS: {
    /* As many keys as the step says, each with the subscribers per key the file gives. */
    double per_key = (double)p->count * (double)(per_client ? per_client : 1) / keys;
    ch_buf_printf(a, "clients.0.subscribe={\"key_count\":%.0f,\"prefix\":\"CAP-\",\"generator\":\"round_robin\"}",
                  v);
    ch_buf_printf(b, "clients.0.count=%.0f", ceil(v * (per_key < 1 ? 1 : per_key)));
    return 0;
  }
  case CH_SCN_CAPACITY_TRIGGER_RATE:
    ch_buf_printf(a, "trigger.rate=%g", v);
    break;
  }
  return 0;
}

static int cap_trigger_phase(const struct ch_scenario *s) {
  for (size_t i = 0; i < s->n_phases; i++)
    if (s->phases[i].type == CH_SCN_PHASE_TRIGGER)
      return (int)i;
  return -1;
}

static double cap_metric(const struct ch_report *r, const char *name) {
  double v = 0;
  return ch_metrics_lookup(r->metrics, name, &v) == 0 ? v : 0;
}

int ch_capacity_main(int argc, char **argv) {
  struct ch_run_cli cli;
  struct ch_scenario *s = NULL;
  struct ch_report *final = NULL;
  struct cap_step *steps = NULL;
  struct ch_buf err = CH_BUF_INIT, dir = CH_BUF_INIT;
  int code = ch_run_cli_parse(argc, argv, capacity_usage, &cli);
  if (code >= 0)
    goto out;
  code = CH_EXIT_INPUT;
  int rc = ch_scenario_load(cli.o.scenario_path, cli.sets, cli.n_sets, &s, &err);
  if (rc) {
    fprintf(stderr, "%s%s", err.data ? err.data : "", err.len && err.data[err.len - 1] == '\n' ? "" : "\n");
    fprintf(stderr, "exit %d: invalid input: the scenario is not valid\n", rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT);
    code = rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT;
    goto out;
  }
  const struct ch_scn_capacity *cap = &s->capacity;
  int tphase = cap_trigger_phase(s);
  if (!cap->enabled || tphase < 0 || !s->n_populations) {
    fprintf(stderr, "%s: a capacity search needs a \"capacity\" object, a trigger phase and a client population\n",
                    cli.o.scenario_path);
    fprintf(stderr, "exit 3: invalid input\n");
    goto out;
  }
  size_t n_steps = (size_t)floor((cap->max - cap->start) / cap->step) + 1;
  if (n_steps > 1000)
    n_steps = 1000;
  steps = calloc(n_steps, sizeof *steps);
  if (!steps || ch_report_new(&final)) {
    code = CH_EXIT_RUN;
    goto out;
  }
  ch_report_set(&final->scenario, s->name);
  ch_report_set(&final->scenario_path, cli.o.scenario_path);
  final->seed = s->seed;
  if (cli.o.report_dir)
    ch_buf_puts(&dir, cli.o.report_dir);
  else
    ch_report_default_dir("reports", s->name, ch_wall_ns(), &dir);
  const char **sets = calloc(cli.n_sets + 3, sizeof *sets);
  if (!sets) {
    code = CH_EXIT_RUN;
    goto out;
  }
  memcpy(sets, cli.sets, cli.n_sets * sizeof *sets);
  char dur[64];
  snprintf(dur, sizeof dur, "phases.%d.duration=%.3fs", tphase, (double)cap->step_duration_ns / 1e9);
  sets[cli.n_sets] = dur;
  int held_last = -1, broke = -1;
  code = CH_EXIT_OK;
  if (!cli.o.quiet)
    fprintf(stderr, "capacity search: %s from %g to %g by %g, %.1f s per step\n", s->name, cap->start, cap->max,
            cap->step, (double)cap->step_duration_ns / 1e9);
  for (size_t i = 0; i < n_steps && broke < 0; i++) {
    struct cap_step *st = &steps[i];
    st->value = cap->start + (double)i * cap->step;
    struct ch_buf a = CH_BUF_INIT, b = CH_BUF_INIT, e = CH_BUF_INIT;
    cap_step_sets(s, st->value, &a, &b);
    size_t n = cli.n_sets + 1;
    sets[n++] = a.data;
    if (b.data)
      sets[n++] = b.data;
    struct ch_scenario *ss = NULL;
    struct ch_report *r = NULL;
    if (ch_scenario_load(cli.o.scenario_path, sets, n, &ss, &e) || ch_report_new(&r)) {
      fprintf(stderr, "step %g: %s\n", st->value, e.data ? e.data : "cannot be set up");
      code = CH_EXIT_INPUT;
      ch_buf_free(&a), ch_buf_free(&b), ch_buf_free(&e);
      ch_scenario_free(ss);
      break;
    }
    struct ch_run_opts o = cli.o;
    o.quiet = true;
    ch_report_set(&r->scenario, s->name);
    int rcode = ch_run_execute(&o, ss, r, &e);
    st->ran = true;
    st->clients = ss->total_clients;
    st->connected = cap_metric(r, "clients_connected");
    st->deliveries_per_s = cap_metric(r, "updates_per_second");
    st->p50_ms = cap_metric(r, "update_latency.p50") / 1e6;
    st->p99_ms = cap_metric(r, "update_latency.p99") / 1e6;
    st->ratio = cap_metric(r, "delivery_ratio");
    st->missing = cap_metric(r, "updates_missing");
    if (rcode == CH_EXIT_RUN || rcode == CH_EXIT_INPUT) {
      snprintf(st->broken, sizeof st->broken, "the step could not be run: %.120s", e.data ? e.data : "");
      code = rcode;
    } else {
      for (size_t k = 0; k < cap->n_slo && !st->broken[0]; k++) {
        double obs = 0;
        bool pass = false;
        if (ch_scn_threshold_eval(&cap->slo[k], r->metrics, &obs, &pass) || !pass)
          snprintf(st->broken, sizeof st->broken, "%s (observed %g)", cap->slo[k].expr, obs);
      }
    }
    st->held = !st->broken[0];
    if (st->held)
      held_last = (int)i;
    else
      broke = (int)i;
    if (!cli.o.quiet)
      fprintf(stderr, "  step %-8g clients %-7zu connected %-7.0f deliveries/s %-10.0f p50 %8.2f ms  p99 %8.2f ms  "
                      "ratio %.4f  %s%s\n",
              st->value, st->clients, st->connected, st->deliveries_per_s, st->p50_ms, st->p99_ms, st->ratio,
              st->held ? "held" : "BROKE: ", st->broken);
    /* The report's metrics are those of the last step that held: the capacity the target has. */
    if (st->held) {
      ch_report_take_metrics(final, r->metrics);
      r->metrics = NULL;
    }
    for (size_t k = 0; k < r->n_secrets; k++)
      ch_report_add_secret(final, r->secrets[k]);
    ch_report_free(r);
    ch_scenario_free(ss);
    ch_buf_free(&a), ch_buf_free(&b), ch_buf_free(&e);
  }
  free(sets);
  for (size_t i = 0; i < n_steps; i++) {
    const struct cap_step *st = &steps[i];
    if (!st->ran)
      continue;
    char id[32], desc[200], ev[400];
    snprintf(id, sizeof id, "CAP-%03zu", i + 1);
    snprintf(desc, sizeof desc, "step %zu: %s = %g meets every SLO", i + 1,
             cap->step_what == CH_SCN_CAPACITY_SUBSCRIBERS_PER_KEY ? "subscribers_per_key"
             : cap->step_what == CH_SCN_CAPACITY_KEYS              ? "keys"
                                                                   : "trigger_rate",
             st->value);
    snprintf(ev, sizeof ev,
             "clients %zu, connected %.0f, deliveries/s %.0f, update p50 %.2f ms, p99 %.2f ms, delivery ratio %.4f, "
             "missing %.0f%s%s",
             st->clients, st->connected, st->deliveries_per_s, st->p50_ms, st->p99_ms, st->ratio, st->missing,
             st->broken[0] ? "; broke: " : "", st->broken);
    /* A step past the knee is the search's result, not a failure of the run. */
    struct ch_check c = {id, desc, (char *)"capacity search", NULL, ev, st->held ? CH_RESULT_PASS : CH_RESULT_SKIP, 0};
    ch_report_add_check(final, &c);
  }
  char knee[300];
  if (held_last < 0)
    snprintf(knee, sizeof knee, "knee: not even the first step (%g) met the SLOs", steps[0].value);
  else if (broke < 0)
    snprintf(knee, sizeof knee, "knee: not reached; every step up to %g met the SLOs", steps[held_last].value);
  else
    snprintf(knee, sizeof knee, "knee: last step that held %g, first that broke %g (%s)", steps[held_last].value,
             steps[broke].value, steps[broke].broken);
  ch_report_add_note(final, knee);
  final->exit_code = code;
  ch_report_set(&final->exit_reason, code == CH_EXIT_OK ? knee : "a step could not be run");
  ch_run_publish_report(final, dir.data, cli.o.quiet);
  printf("%s\n", knee);
  printf("exit %d: %s\n", code, code == CH_EXIT_OK ? "capacity search completed" : "a step could not be run");
out:
  free(steps);
  ch_report_free(final);
  ch_scenario_free(s);
  ch_run_cli_free(&cli);
  ch_buf_free(&err);
  ch_buf_free(&dir);
  return code;
}
