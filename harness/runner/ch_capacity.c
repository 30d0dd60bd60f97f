/* `centro-harness capacity`: repeats a scenario while stepping one dimension (subscribers per key, number of keys,
   trigger rate, or a session population's arrival rate, churn rate or count of open sessions) until a step breaks
   one of the scenario's SLOs, then reports the knee: the last step that held and the first that did not, with
   connections, deliveries per second, latency and loss for every step. Each step is a whole run of the scenario
   (fresh connections), so a step never inherits the backlog of the one before. With --mpi every step is one run over
   the ranks of mpirun (ch_run_mpi.h): rank 0 coordinates it, judges it and tells the others the next step. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_exit.h"
#include "ch_interrupt.h"
#include "ch_report.h"
#include "ch_run_mpi.h"
#include "ch_runner.h"
#include "ch_scenario.h"
#include "ch_template.h"
#include "ch_tls.h"

static const char capacity_usage[] =
    "Usage: centro-harness capacity SCENARIO.json [OPTIONS]\n"
    "\n"
    "Steps the dimension named by the scenario's \"capacity\" object (subscribers_per_key, keys, trigger_rate, or\n"
    "for a session population arrival_rate, churn_rate or concurrent_sessions) from start to max by step, running\n"
    "the scenario once per step with its trigger phase (else its steady phase) lasting step_duration,\n"
    "until a step breaks one of the \"slo\" thresholds. Prints a table of the steps and the knee, and writes one\n"
    "report: its \"capacity\" section has every step (clients, deliveries/s, latency, loss, the SLO that broke and,\n"
    "for the reference endpoint, its connections, CPU and memory), report.html plots latency and deliveries/s\n"
    "against the load with the knee marked, and each step is also a CAP-* check.\n"
    "\n"
    "Options: the same as `centro-harness run` (--target, --token, --token-env, --token-file, --set, --seed,\n"
    "--workers, --source-addresses, --insecure, --ca-file, --cert, --key, --report-dir, --quiet, --metrics-listen,\n"
    "--dashboard, --dashboard-allow-stop, --out, --linger, --mpi, --mpi-timeout); the live outputs last the whole\n"
    "search, counters adding up over its steps.\n"
    "  --mpi   (mpirun -np N centro-harness capacity S --mpi) every step is one run over the ranks, as run --mpi:\n"
    "          rank 0 coordinates it, merges its report and judges the SLOs, then tells every rank the next step;\n"
    "          one report from rank 0. A lost rank ends the search with the steps done, naming it (exit 4).\n"
    "          Not with the live outputs. Without --mpi, every step runs in this one process (--processes is\n"
    "          refused, exit 3): more processes come from mpirun, on one host or many.\n"
    "\n"
    "Exit codes: 0 the search completed (the knee is in the report), 3 invalid input, 4 a step could not be run.\n"
    "\n"
    "Example:\n"
    "  $ centro-harness capacity scenarios/capacity-fanout.json\n";

/* ---- the target's resources: the reference endpoint's GET /stats before and after each step ---- */

/* One /stats reading; a field the endpoint does not give is negative. */
struct cap_sample {
  bool ok;
  double connections_total, deliveries, cpu_s, rss_kib, processes;
};

struct cap_probe {
  char url[256];         /* the /stats URL of a reference endpoint the trigger names; "" when none */
  struct ch_tls_opts tls; /* the run's: the client certificate goes only to the target's own host and port */
  const char *target_url;
  struct cap_sample before, after;
};

static size_t cap_write(char *p, size_t size, size_t n, void *user) {
  struct ch_buf *b = user;
  size_t len = size * n;
  return b->len + len > 65536 || ch_buf_append(b, p, len) ? 0 : len;
}

static double cap_field(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : -1;
}

/* Best effort: a short GET without any credential (the control API needs none); !ok when anything fails. */
static void cap_sample_get(const struct cap_probe *p, const char *url, struct cap_sample *out) {
  memset(out, 0, sizeof *out);
  struct ch_buf body = CH_BUF_INIT;
  CURL *c = curl_easy_init();
  long status = 0;
  if (!c)
    return;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cap_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  ch_tls_curl_apply(c, &p->tls, url, p->target_url);
  bool got = curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
             status == 200 && body.data;
  curl_easy_cleanup(c);
  cJSON *j = got ? cJSON_ParseWithLength(body.data, body.len) : NULL;
  const cJSON *conns = cJSON_GetObjectItemCaseSensitive(j, "connections");
  if (cJSON_IsObject(j)) {
    out->ok = true;
    out->connections_total = cap_field(conns, "total");
    out->deliveries = cap_field(j, "deliveries");
    out->cpu_s = cap_field(j, "cpu_s");
    out->rss_kib = cap_field(j, "rss_kib");
    out->processes = cap_field(j, "processes");
  }
  cJSON_Delete(j);
  ch_buf_free(&body);
}

static double cap_delta(double before, double after) { return before >= 0 && after >= before ? after - before : -1; }

/* The step's resources from the two readings: counters as differences, memory as the last reading. */
static void cap_target(const struct cap_probe *p, struct ch_capacity_target *t) {
  memset(t, 0, sizeof *t);
  if (!p->before.ok || !p->after.ok)
    return;
  t->known = true;
  t->connections = cap_delta(p->before.connections_total, p->after.connections_total);
  t->deliveries = cap_delta(p->before.deliveries, p->after.deliveries);
  t->cpu_s = cap_delta(p->before.cpu_s, p->after.cpu_s);
  t->rss_kib = p->after.rss_kib;
  t->processes = p->after.processes;
}

/* An external target whose http trigger POSTs to ".../publish" is taken to be a running `centro-harness serve`: its
   control API answers GET ".../stats" on the same origin. The URL is the trigger's template text; one with a
   placeholder before the path, or userinfo, is not used (nothing is sent that the trigger does not already send). */
static void cap_probe_external(const struct ch_scenario *s, struct cap_probe *p) {
  p->url[0] = '\0';
  if (s->triggers[0].type != CH_SCN_TRIGGER_HTTP || !s->triggers[0].http.url)
    return;
  const char *u = ch_template_source(s->triggers[0].http.url);
  size_t n = u ? strlen(u) : 0;
  const char *tail = "/publish";
  bool http = u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8));
  if (!http || n < 9 || n - 8 >= sizeof p->url - 6 || strcmp(u + n - 8, tail) || strstr(u, "{{") ||
      strchr(u, '@') || strchr(u, '?'))
    return;
  snprintf(p->url, sizeof p->url, "%.*s/stats", (int)(n - 8), u);
}

/* The runner calls this with the embedded reference endpoint's control API when it has started and again when the
   step's timeline is over. */
static void cap_on_embedded(void *user, const char *control_base, bool started) {
  struct cap_probe *p = user;
  char url[160];
  snprintf(url, sizeof url, "%s/stats", control_base);
  cap_sample_get(p, url, started ? &p->before : &p->after);
}

/* churn.every with its mean at 1/v seconds (v churns per second of each session), the file's distribution kept. */
static void cap_churn_every(const struct ch_scn_dist *d, double v, struct ch_buf *b) {
  double mean_us = 1e6 / v, a = (double)d->a_ns / 1e3, f;
  switch (d->kind) {
  case CH_SCN_DIST_FIXED:
    ch_buf_printf(b, "\"%.0fus\"", mean_us);
    break;
  case CH_SCN_DIST_UNIFORM:
    f = a + (double)d->b_ns / 1e3 > 0 ? 2 * mean_us / (a + (double)d->b_ns / 1e3) : 1;
    ch_buf_printf(b, "{\"dist\":\"uniform\",\"min\":\"%.0fus\",\"max\":\"%.0fus\"}", a * f,
                  (double)d->b_ns / 1e3 * f);
    break;
  case CH_SCN_DIST_EXPONENTIAL:
    ch_buf_printf(b, "{\"dist\":\"exponential\",\"mean\":\"%.0fus\"}", mean_us);
    break;
  case CH_SCN_DIST_LOGNORMAL: /* mean = median * e^(sigma^2 / 2) */
    ch_buf_printf(b, "{\"dist\":\"lognormal\",\"median\":\"%.0fus\",\"sigma\":%.17g}",
                  mean_us / exp(d->sigma * d->sigma / 2), d->sigma);
    break;
  }
}

/* The --set overrides that make the scenario run one step at value v (up to 3). */
static void cap_step_sets(const struct ch_scenario *s, double v, struct ch_buf set[3]) {
  const struct ch_scn_capacity *cap = &s->capacity;
  const struct ch_population *p = &s->populations[0];
  size_t per_client = ch_scenario_keys_per_client(p);
  double keys = p->subscribe.n_keys ? (double)p->subscribe.n_keys : 1;
  int sp = cap->population; /* the session population a session knob steps */
  switch (cap->step_what) {
  case CH_SCN_CAPACITY_SUBSCRIBERS_PER_KEY:
    ch_buf_printf(&set[0], "clients.0.count=%.0f", ceil(v * keys / (double)(per_client ? per_client : 1)));
    break;
  case CH_SCN_CAPACITY_KEYS: {
    /* As many keys as the step says, each with the subscribers per key the file gives. */
    double per_key = (double)p->count * (double)(per_client ? per_client : 1) / keys;
    ch_buf_printf(&set[0],
                  "clients.0.subscribe={\"key_count\":%.0f,\"prefix\":\"CAP-\",\"generator\":\"round_robin\"}", v);
    ch_buf_printf(&set[1], "clients.0.count=%.0f", ceil(v * (per_key < 1 ? 1 : per_key)));
    break;
  }
  case CH_SCN_CAPACITY_TRIGGER_RATE:
    ch_buf_printf(&set[0], s->trigger_array ? "trigger.0.rate=%g" : "trigger.rate=%g", v); /* one trigger (loader) */
    break;
  case CH_SCN_CAPACITY_ARRIVAL_RATE: /* a constant rate for the whole step: the stages give way */
    ch_buf_printf(&set[0], "clients.%d.sessions.rate=%.17g", sp, v);
    ch_buf_printf(&set[1], "clients.%d.sessions.stages=null", sp);
    break;
  case CH_SCN_CAPACITY_CHURN_RATE:
    ch_buf_printf(&set[0], "clients.%d.sessions.churn.every=", sp);
    cap_churn_every(&s->populations[sp].sessions.churn_every, v, &set[0]);
    break;
  case CH_SCN_CAPACITY_CONCURRENT_SESSIONS: { /* ramp from 0 over a quarter of the step, then hold */
    double n = round(v);
    ch_buf_printf(&set[0], "clients.%d.sessions.stages=[{\"duration\":\"%.0fus\",\"target\":%.0f}]", sp,
                  (double)cap->step_duration_ns / 4e3, n);
    ch_buf_printf(&set[1], "clients.%d.sessions.start=0", sp);
    ch_buf_printf(&set[2], "clients.%d.sessions.max_concurrent=%.0f", sp, n < 1 ? 1 : n);
    break;
  }
  case CH_SCN_CAPACITY_DIMS:
    break;
  }
}

static void cap_sets_free(struct ch_buf set[3]) {
  for (size_t k = 0; k < 3; k++)
    ch_buf_free(&set[k]);
}

/* The phase whose duration is the step's: the first trigger phase, else the first steady phase (sessions). */
static int cap_step_phase(const struct ch_scenario *s) {
  for (int want = 0; want < 2; want++)
    for (size_t i = 0; i < s->n_phases; i++)
      if (s->phases[i].type == (want ? CH_SCN_PHASE_STEADY : CH_SCN_PHASE_TRIGGER))
        return (int)i;
  return -1;
}

/* The scenario of the step at `load`: the file with the command line's overrides and the step's duration (sets, n
   of them; room for 3 more), and the step's own (in set, the caller's to free). Every rank derives the same one. */
static int cap_step_load(const char *path, const struct ch_scenario *s, const char **sets, size_t n, double load,
                         struct ch_buf set[3], struct ch_scenario **ss, struct ch_buf *e) {
  cap_step_sets(s, load, set);
  for (size_t k = 0; k < 3; k++)
    if (set[k].data)
      sets[n++] = set[k].data;
  return ch_scenario_load(path, sets, n, ss, e);
}

/* capacity --mpi, rank k > 0: the steps rank 0 names, each as a shard of its run, until it says the search is over
   (or a rank was lost: FIN said so). A signal is rank 0's to act on (mpirun gives every rank one). */
static int cap_mpi_rank(struct ch_run_mpi *m, const struct ch_run_cli *cli, const struct ch_scenario *s,
                        const char **sets, size_t n) {
  struct ch_interrupt ci = {0};
  ch_interrupt_open(&ci); /* between steps too: a SIGTERM does not end this rank before rank 0's word */
  int code = CH_EXIT_OK;
  for (;;) {
    int64_t i = -1;
    if (ch_run_mpi_step_recv(m, &i)) {
      fprintf(stderr, "rank %d: no word from rank 0 about the next step\n", m->rank);
      m->no_finalize = true;
      code = CH_EXIT_RUN;
      break;
    }
    if (i < 0)
      break;
    struct ch_buf set[3] = {CH_BUF_INIT, CH_BUF_INIT, CH_BUF_INIT}, e = CH_BUF_INIT;
    struct ch_scenario *ss = NULL;
    double load = s->capacity.start + (double)i * s->capacity.step;
    if (cap_step_load(cli->o.scenario_path, s, sets, n, load, set, &ss, &e)) {
      fprintf(stderr, "rank %d: step %g: %s\n", m->rank, load, e.data ? e.data : "cannot be set up");
      m->no_finalize = true; /* rank 0 waits for this rank in vain: it is lost to it by silence */
      code = CH_EXIT_INPUT;
    } else {
      code = ch_run_mpi_shard(m, &cli->o, ss);
    }
    ch_scenario_free(ss);
    cap_sets_free(set), ch_buf_free(&e);
    if (code != CH_EXIT_OK || m->no_finalize)
      break;
  }
  ch_interrupt_close(&ci);
  return code;
}

static double cap_metric(const struct ch_report *r, const char *name) {
  double v = 0;
  return ch_metrics_lookup(r->metrics, name, &v) == 0 ? v : 0;
}

/* A step's row from its run's report. */
static void cap_fill(struct ch_capacity_step *st, const struct ch_report *r) {
  st->connected = cap_metric(r, "clients_connected");
  st->deliveries_per_s = cap_metric(r, "updates_per_second");
  st->has_latency = cap_metric(r, "update_latency.count") > 0;
  st->p50_ms = cap_metric(r, "update_latency.p50") / 1e6;
  st->p90_ms = cap_metric(r, "update_latency.p90") / 1e6;
  st->p99_ms = cap_metric(r, "update_latency.p99") / 1e6;
  st->max_ms = cap_metric(r, "update_latency.max") / 1e6;
  st->delivery_ratio = cap_metric(r, "delivery_ratio");
  st->missing = cap_metric(r, "updates_missing");
  st->duration_s = r->end_wall_ns > r->start_wall_ns ? (double)(r->end_wall_ns - r->start_wall_ns) / 1e9 : 0;
}

/* The CAP-nnn check results (one per step) and the knee note, from the capacity section. */
static void cap_results(struct ch_report *final, char *knee, size_t n) {
  const struct ch_capacity *c = final->capacity;
  for (size_t i = 0; i < c->n_steps; i++) {
    const struct ch_capacity_step *st = &c->steps[i];
    char id[32], desc[200], ev[480];
    snprintf(id, sizeof id, "CAP-%03zu", i + 1);
    snprintf(desc, sizeof desc, "step %zu: %s = %g meets every SLO", i + 1, c->vary, st->load);
    snprintf(ev, sizeof ev,
             "clients %llu, connected %.0f, deliveries/s %.0f, update p50 %.2f ms, p99 %.2f ms, delivery ratio %.4f, "
             "missing %.0f%s%.200s",
             (unsigned long long)st->clients, st->connected, st->deliveries_per_s, st->p50_ms, st->p99_ms,
             st->delivery_ratio, st->missing, st->held ? "" : "; broke: ", st->held ? "" : st->broken);
    /* A step past the knee is the search's result, not a failure of the run. */
    struct ch_check chk = {id, desc, (char *)"capacity search", NULL, ev,
                           st->held ? CH_RESULT_PASS : CH_RESULT_SKIP, 0};
    ch_report_add_check(final, &chk);
  }
  if (!c->n_steps)
    snprintf(knee, n, "knee: no step could be run");
  else if (c->last_held < 0)
    snprintf(knee, n, "knee: not even the first step (%g) met the SLOs", c->steps[0].load);
  else if (c->first_broken < 0)
    snprintf(knee, n, "knee: not reached; every step up to %g met the SLOs", c->steps[c->last_held].load);
  else
    snprintf(knee, n, "knee: last step that held %g, first that broke %g (%.200s)", c->steps[c->last_held].load,
             c->steps[c->first_broken].load, c->steps[c->first_broken].broken);
  ch_report_add_note(final, knee);
}

int ch_capacity_main(int argc, char **argv) {
  struct ch_run_cli cli;
  struct ch_scenario *s = NULL;
  struct ch_report *final = NULL;
  const char **sets = NULL, **slo = NULL;
  struct ch_buf err = CH_BUF_INIT, dir = CH_BUF_INIT;
  struct ch_interrupt intr = {0};
  struct ch_run_mpi mpi = {0};
  bool told = false; /* capacity --mpi: the other ranks heard that the search is over */
  char stopped[200] = ""; /* the step a signal interrupted, and where */
  int code = ch_run_cli_parse(argc, argv, capacity_usage, &cli);
  if (code >= 0)
    goto out;
  if (cli.mpi && (code = ch_run_mpi_check(&cli, "capacity")) >= 0)
    goto out;
  code = CH_EXIT_INPUT;
  int rc = ch_scenario_load(cli.o.scenario_path, cli.sets, cli.n_sets, &s, &err);
  if (rc) {
    fprintf(stderr, "%s%s", err.data ? err.data : "", err.len && err.data[err.len - 1] == '\n' ? "" : "\n");
    fprintf(stderr, "exit %d: invalid input: the scenario is not valid\n", rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT);
    code = rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT;
    goto out;
  }
  /* A step runs in this process: forking shards here would hand them the search's signal handling (libuv's
     signal pipe and epoll set are shared across fork), so more processes come from mpirun, on one host or many. */
  unsigned procs = cli.o.processes ? cli.o.processes : s->processes;
  if (!cli.mpi && procs > 1) {
    fprintf(stderr, "%s: capacity runs each step in one process, found %s %u; for more clients than one process "
                    "holds, run it over ranks: mpirun -np %u centro-harness capacity %s --mpi\n"
                    "exit 3: invalid input: capacity does not take --processes\n",
            cli.o.scenario_path, cli.o.processes ? "--processes" : "\"processes\":", procs, procs,
            cli.o.scenario_path);
    goto out;
  }
  const struct ch_scn_capacity *cap = &s->capacity;
  int tphase = cap_step_phase(s);
  if (!cap->enabled || tphase < 0 || !s->n_populations) {
    fprintf(stderr, "%s: a capacity search needs a \"capacity\" object, a trigger or steady phase and a client "
                    "population\n",
                    cli.o.scenario_path);
    fprintf(stderr, "exit 3: invalid input\n");
    goto out;
  }
  size_t n_steps = (size_t)floor((cap->max - cap->start) / cap->step) + 1;
  if (n_steps > 1000)
    n_steps = 1000;
  code = CH_EXIT_RUN;
  sets = calloc(cli.n_sets + 4, sizeof *sets);
  slo = calloc(cap->n_slo + 1, sizeof *slo);
  if (!sets || !slo || ch_report_new(&final))
    goto oom;
  for (size_t k = 0; k < cap->n_slo; k++)
    slo[k] = cap->slo[k].expr;
  if (ch_capacity_new(ch_scn_capacity_dim_name(cap->step_what), slo, cap->n_slo, &final->capacity))
    goto oom;
  struct ch_capacity *section = final->capacity;
  section->start = cap->start;
  section->step = cap->step;
  section->max = cap->max;
  section->step_duration_s = (double)cap->step_duration_ns / 1e9;
  ch_report_set(&final->scenario, s->name);
  ch_report_set(&final->scenario_path, cli.o.scenario_path);
  final->seed = s->seed;
  for (size_t i = 0; i < cli.n_sets; i++)
    ch_report_add_override(final, cli.sets[i]);
  /* Input is refused before a folder exists; the folder is new and holds the scenario the search steps. */
  code = ch_run_check_input(&cli.o, s, final, &err);
  if (code != CH_EXIT_OK) {
    fprintf(stderr, "%s\nexit %d: %s\n", err.data ? err.data : "", code,
            code == CH_EXIT_INPUT ? "invalid input" : "out of memory");
    goto out;
  }
  memcpy(sets, cli.sets, cli.n_sets * sizeof *sets);
  char dur[64];
  snprintf(dur, sizeof dur, "phases.%d.duration=%.3fs", tphase, (double)cap->step_duration_ns / 1e9);
  sets[cli.n_sets] = dur;
  /* MPI starts once the input is known good on every rank; ranks 1.. run the steps rank 0 names */
  if (cli.mpi && ((code = ch_run_mpi_init(&mpi, cli.mpi_timeout_s)) >= 0 ||
                  (mpi.rank > 0 && (code = cap_mpi_rank(&mpi, &cli, s, sets, cli.n_sets + 1)) >= 0)))
    goto out;
  if (ch_run_prepare_dir(&cli.o, s, final, &dir, &err)) {
    fprintf(stderr, "%s\nexit 4: cannot create the report folder\n", err.data ? err.data : "");
    code = CH_EXIT_RUN;
    goto out;
  }
  struct cap_probe probe = {.target_url = s->target.url};
  ch_run_tls_opts(&cli.o, s, &probe.tls);
  if (s->target.url)
    cap_probe_external(s, &probe);
  if ((code = ch_run_live_open(&cli, s->name, 1)) != CH_EXIT_OK)
    goto out;
  bool have_intr = ch_interrupt_open(&intr) == 0;
  char run_err[200] = ""; /* why a step could not be run */
  if (!cli.o.quiet)
    fprintf(stderr, "capacity search: %s from %g to %g by %g, %.1f s per step\n", s->name, cap->start, cap->max,
            cap->step, section->step_duration_s);
  for (size_t i = 0; i < n_steps && section->first_broken < 0; i++) {
    if (ch_interrupt_poll(&intr)) { /* between two steps: no new step */
      snprintf(stopped, sizeof stopped, "the pause before step %zu", i + 1);
      break;
    }
    struct ch_capacity_step st = {0};
    char broken[200] = "";
    st.load = cap->start + (double)i * cap->step;
    struct ch_buf set[3] = {CH_BUF_INIT, CH_BUF_INIT, CH_BUF_INIT}, e = CH_BUF_INIT;
    struct ch_scenario *ss = NULL;
    struct ch_report *r = NULL;
    if (cap_step_load(cli.o.scenario_path, s, sets, cli.n_sets + 1, st.load, set, &ss, &e) || ch_report_new(&r)) {
      fprintf(stderr, "step %g: %s\n", st.load, e.data ? e.data : "cannot be set up");
      code = CH_EXIT_INPUT;
      cap_sets_free(set), ch_buf_free(&e);
      ch_scenario_free(ss);
      break;
    }
    struct ch_run_opts o = cli.o;
    char label[96];
    snprintf(label, sizeof label, "step %zu/%zu (%s %g)", i + 1, n_steps, ch_scn_capacity_dim_name(cap->step_what), st.load);
    o.progress_label = label; /* the step's own progress line; the summary is the search's */
    o.intr = have_intr ? &intr : NULL;
    memset(&probe.before, 0, sizeof probe.before);
    memset(&probe.after, 0, sizeof probe.after);
    if (!s->target.url && !cli.mpi) { /* under MPI every rank has an endpoint of its own: rank 0's is not the target */
      o.on_embedded = cap_on_embedded;
      o.on_embedded_user = &probe;
    }
    ch_report_set(&r->scenario, s->name);
    r->seed = ss->seed;
    uint64_t t0 = ch_wall_ns();
    if (!final->start_wall_ns)
      final->start_wall_ns = t0;
    if (probe.url[0])
      cap_sample_get(&probe, probe.url, &probe.before);
    int rcode;
    if (cli.mpi) { /* every rank loads this step's scenario as this one did */
      unsigned count = intr.count;
      int signum = intr.signum;
      uint64_t at = intr.at_wall_ns;
      rcode = ch_run_mpi_step_send(&mpi, (int64_t)i) ? CH_EXIT_RUN
                                                     : ch_run_mpi_coord(&mpi, &o, ss, dir.data, r, &intr, &e);
      if (mpi.no_finalize) { /* a lost rank: the SIGTERM that stopped shard 0 was the coordinator's, not a user's */
        ch_interrupt_poll(&intr);
        intr.count = count, intr.signum = signum, intr.at_wall_ns = at;
      }
    } else {
      rcode = ch_run_execute(&o, ss, r, &e);
    }
    if (probe.url[0])
      cap_sample_get(&probe, probe.url, &probe.after);
    final->end_wall_ns = ch_wall_ns();
    if (!final->target && r->target)
      ch_report_set(&final->target, r->target); /* already redacted by the run */
    cap_target(&probe, &st.target);
    if (r->ranks_json) { /* the ranks of the last step run */
      free(final->ranks_json);
      final->ranks_json = r->ranks_json;
      r->ranks_json = NULL;
    }
    st.clients = ss->total_clients;
    cap_fill(&st, r);
    if (rcode == CH_EXIT_SIGINT || rcode == CH_EXIT_SIGTERM) {
      /* An interrupted step is neither held nor broken: it is left out of the search, and said so. */
      snprintf(stopped, sizeof stopped, "step %zu (%s = %g), %.120s", i + 1, section->vary, st.load,
               r->interrupted.phase ? r->interrupted.phase : "");
      for (size_t k = 0; k < r->n_secrets; k++)
        ch_report_add_secret(final, r->secrets[k]);
      ch_report_free(r);
      ch_scenario_free(ss);
      cap_sets_free(set), ch_buf_free(&e);
      break;
    }
    if (rcode == CH_EXIT_RUN || rcode == CH_EXIT_INPUT) {
      snprintf(broken, sizeof broken, "the step could not be run: %.150s", e.data ? e.data : "");
      snprintf(run_err, sizeof run_err, "%s", broken);
      code = rcode;
    } else {
      for (size_t k = 0; k < cap->n_slo && !broken[0]; k++) {
        double obs = 0;
        bool pass = false;
        int erc = ch_scn_threshold_eval(&cap->slo[k], r->metrics, &obs, &pass);
        if (erc || !pass) {
          snprintf(broken, sizeof broken, "%s", cap->slo[k].expr);
          st.has_observed = erc == 0;
          st.observed = obs;
        }
      }
    }
    st.held = !broken[0];
    st.broken = broken;
    if (ch_capacity_add_step(section, &st))
      code = CH_EXIT_RUN;
    if (!cli.o.quiet) {
      char tgt[64] = "";
      if (st.target.known && st.target.cpu_s >= 0)
        snprintf(tgt, sizeof tgt, "  target cpu %.2f s", st.target.cpu_s);
      fprintf(stderr, "  step %-8g clients %-7zu connected %-7.0f deliveries/s %-10.0f p50 %8.2f ms  p99 %8.2f ms  "
                      "ratio %.4f%s  %s%s\n",
              st.load, ss->total_clients, st.connected, st.deliveries_per_s, st.p50_ms, st.p99_ms, st.delivery_ratio,
              tgt, st.held ? "held" : "BROKE: ", broken);
    }
    /* The report's metrics are those of the last step that held: the capacity the target has. */
    if (st.held) {
      ch_report_take_metrics(final, r->metrics);
      r->metrics = NULL;
    }
    for (size_t k = 0; k < r->n_secrets; k++)
      ch_report_add_secret(final, r->secrets[k]);
    ch_report_free(r);
    ch_scenario_free(ss);
    cap_sets_free(set), ch_buf_free(&e);
    if (code == CH_EXIT_RUN)
      break;
  }
  ch_run_mpi_step_send(&mpi, -1); /* the other ranks are done (unless a lost rank told them already) */
  told = true;
  char knee[320];
  cap_results(final, knee, sizeof knee);
  char last[400];
  if (intr.count) {
    code = ch_interrupt_exit_code(&intr);
    ch_report_set_interrupted(final, intr.signum, intr.at_wall_ns, stopped, intr.count > 1);
    char id[32], ev[300];
    snprintf(id, sizeof id, "CAP-%03zu", section->n_steps + 1);
    snprintf(ev, sizeof ev, "incomplete: interrupted by %s during %s; the step is not judged",
             ch_signal_name(intr.signum), stopped);
    struct ch_check chk = {id, (char *)"the step the search was running when it was interrupted",
                           (char *)"capacity search", NULL, ev, CH_RESULT_INCOMPLETE, 0};
    ch_report_add_check(final, &chk);
    snprintf(last, sizeof last, "interrupted by %s during %s", ch_signal_name(intr.signum), stopped);
  } else {
    snprintf(last, sizeof last, "%s", code == CH_EXIT_OK ? "capacity search completed" : "a step could not be run");
  }
  final->exit_code = code;
  /* a step that could not be run says why (e.g. fail fast: "every negotiate was answered 401: ...") */
  if (!intr.count && code != CH_EXIT_OK && run_err[0])
    snprintf(last, sizeof last, "%s", run_err);
  ch_report_set(&final->exit_reason, code == CH_EXIT_OK ? knee : last);
  ch_run_publish_report(final, dir.data, cli.o.quiet);
  printf("%s\n", knee);
  printf("exit %d: %s\n", code, last);
  fflush(stdout);
  ch_run_live_finish(&cli, dir.data, have_intr ? &intr : NULL);
  goto out;
oom:
  fprintf(stderr, "exit 4: out of memory\n");
out:
  if (!told && mpi.rank == 0)
    ch_run_mpi_step_send(&mpi, -1);
  ch_interrupt_close(&intr);
  ch_run_mpi_end(&mpi);
  free(sets);
  free(slo);
  ch_report_free(final);
  ch_scenario_free(s);
  ch_run_cli_free(&cli);
  ch_buf_free(&err);
  ch_buf_free(&dir);
  return code;
}
