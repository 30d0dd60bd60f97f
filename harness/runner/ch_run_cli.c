/* `centro-harness run`: options, the report folder, the summary, the exit code and its last line; --processes runs
   shards in forked processes and merges their reports into one. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include "ch_clock.h"
#include "ch_coord.h"
#include "ch_exit.h"
#include "ch_interrupt.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_run_mpi.h"
#include "ch_runner.h"
#include "ch_scenario.h"

static const char run_usage[] =
    "Usage: centro-harness run SCENARIO.json [OPTIONS]\n"
    "\n"
    "Runs a scenario file (scenarios/README.md) against its target, or against the embedded reference endpoint\n"
    "when the scenario has no target.url and no --target is given.\n"
    "\n"
    "Options:\n"
    "  --target URL            base URL of the service, e.g. https://staging/Centro (default: the scenario's)\n"
    "  --token TOKEN           credential for every client (overrides the scenario's)\n"
    "  --token-env VAR         read the credential from the environment variable VAR\n"
    "  --token-file FILE       one credential per line; client i uses line i mod n\n"
    "  --set PATH=VALUE        override a scenario value, e.g. --set clients.0.count=5000 (repeatable)\n"
    "  --seed N                seed for key choice, jitter and client order (default: the scenario's, 1)\n"
    "  --workers N             worker threads (default: the scenario's, else one per CPU)\n"
    "  --processes N           run the clients in N processes (shards) on one timeline and merge their results\n"
    "                          (default 1); against an external target this process sends each trigger (and a\n"
    "                          drop phase's request) once\n"
    "  --mpi                   one run over the ranks of mpirun (mpirun -np N centro-harness run S --mpi): rank 0\n"
    "                          coordinates and sends the triggers, every rank runs its share of the clients,\n"
    "                          rank 0 writes the one merged report (with each rank's host, CPU, RSS, clients and\n"
    "                          clock offset); not with --processes; exit 3 when built without MPI\n"
    "  --mpi-timeout S         a rank whose link is silent for S seconds is lost: the run ends with the others'\n"
    "                          report, naming it (exit 4; default 30; needs mpirun --enable-recovery, see README)\n"
    "  --source-addresses S    local addresses to spread connections over: 127.0.0.2-127.0.0.40 or a,b,c\n"
    "  --insecure              do not verify TLS certificates\n"
    "  --ca-file FILE          CA certificates to verify the target with\n"
    "  --cert FILE             TLS client certificate (PEM; may hold the key) for servers that require one\n"
    "  --key FILE              the private key of --cert (PEM, unencrypted; also --cert-key, as in check)\n"
    "  --report-dir DIR        where to write report.json, junit.xml, report.html and scenario.json\n"
    "                          (default: a new reports/<scenario>-<UTC time>, with -2, -3... when taken)\n"
    "  --quiet                 no progress line and no summary table\n"
    "  --checkpoint-every S    rewrite report.json (marked partial) every S seconds while running (default 30)\n"
    "  --metrics-listen HOST:PORT  serve GET /metrics (Prometheus text; OpenMetrics when asked by Accept) for the\n"
    "                          life of the process; PORT alone means 127.0.0.1:PORT, 0 a free port (printed)\n"
    "  --dashboard HOST:PORT   serve a live page (charts, thresholds, checks so far, the phase; updated every second\n"
    "                          over Server-Sent Events) that shows the final report when the run ends\n"
    "  --dashboard-allow-stop  the page's Stop button stops the run gracefully, as Ctrl-C (else POST /stop is 403)\n"
    "  --out FILE.jsonl        write one JSON line per second (the same figures) into FILE\n"
    "  --linger                after the run, keep serving /metrics and the dashboard until SIGINT/SIGTERM\n"
    "  --help                  this text\n"
    "\n"
    "Durations in scenario files are written 250ms, 2s, 1.5m, 1h.\n"
    "\n"
    "Progress: a line on stderr, redrawn every second on a terminal, printed every 10 s otherwise:\n"
    "elapsed/expected total (~ when an estimate), phase, connected, msg/s, delivery p50/p99, errors.\n"
    "\n"
    "The report folder keeps the effective scenario (after --set, with the seed, without credentials) as\n"
    "scenario.json; `centro-harness run FOLDER/scenario.json` runs the same workload again.\n"
    "\n"
    "Ctrl-C (SIGINT) or SIGTERM stops gracefully: no new trigger or phase, Updates already due are waited for,\n"
    "every client is closed with /abort, and the report of what was measured is written; a second signal stops\n"
    "at once (the report is still written).\n"
    "\n"
    "Exit codes: 0 passed, 1 a check failed, 2 a threshold failed (or a threshold marked abort_on_fail stopped the\n"
    "run early), 3 invalid input, 4 run not carried out (also: a connect phase ended with no client of a\n"
    "valid-credentials population connected; the run then stops before any trigger, with the cause),\n"
    "130 interrupted by SIGINT, 143 interrupted by SIGTERM.\n"
    "\n"
    "Examples:\n"
    "  $ centro-harness run scenarios/smoke.json\n"
    "      the smoke scenario against the embedded reference endpoint\n"
    "  $ centro-harness run scenarios/fanout-1k.json --target https://staging.example/Centro --token-env CENTRO_TOKEN\n"
    "      1000 subscribers of one part against a staging server\n";

static int run_fail(int code, const char *what, const char *detail) {
  fprintf(stderr, "%s%s%s\n", what, detail && *detail ? ": " : "", detail ? detail : "");
  fprintf(stderr, "exit %d: %s\n", code, code == CH_EXIT_INPUT ? "invalid input" : "run could not be carried out");
  return code;
}

static void run_exit_line(const struct ch_report *rep, int code, const char *why, struct ch_buf *out) {
  size_t nc = rep->n_checks, fc = ch_report_count_checks(rep, CH_RESULT_FAIL);
  size_t nt = rep->n_thresholds, ft = ch_report_count_thresholds(rep, CH_RESULT_FAIL);
  switch (code) {
  case CH_EXIT_OK:
    ch_buf_printf(out, "exit 0: passed (%zu checks, %zu skipped; %zu thresholds)", nc,
                  ch_report_count_checks(rep, CH_RESULT_SKIP), nt);
    break;
  case CH_EXIT_CHECK_FAILED:
    ch_buf_printf(out, "exit 1: conformance check failed (%zu of %zu)", fc, nc);
    break;
  case CH_EXIT_THRESHOLD:
    ch_buf_printf(out, "exit 2: threshold failed (%zu of %zu)", ft, nt);
    if (why && *why)
      ch_buf_printf(out, ": %s", why); /* abort_on_fail stopped the run */
    break;
  case CH_EXIT_INPUT:
    ch_buf_printf(out, "exit 3: invalid input: %s", why && *why ? why : "see above");
    break;
  case CH_EXIT_SIGINT:
  case CH_EXIT_SIGTERM:
    ch_buf_printf(out, "exit %d: interrupted by %s during %s (%zu checks incomplete, %zu failed)", code,
                  rep->interrupted.signal ? rep->interrupted.signal : code == CH_EXIT_SIGINT ? "SIGINT" : "SIGTERM",
                  rep->interrupted.phase ? rep->interrupted.phase : "the run",
                  ch_report_count_checks(rep, CH_RESULT_INCOMPLETE), fc);
    break;
  default:
    ch_buf_printf(out, "exit 4: run could not be carried out: %s", why && *why ? why : "see above");
    break;
  }
  /* The reason is one line. */
  for (char *p = out->data; p && *p; p++)
    if (*p == '\n')
      *p = ' ';
}

/* Waits for every shard; signals reach the parent only (the shards have their own process group) and the
   interrupt context passes each one on. After a second signal, shards get 3 s to write before they are killed. */
static void run_shards_wait(pid_t *pids, int *status, unsigned n, struct ch_interrupt *intr) {
  unsigned left = n;
  uint64_t kill_at = 0;
  while (left) {
    for (unsigned k = 0; k < n; k++)
      if (pids[k] > 0 && waitpid(pids[k], &status[k], WNOHANG) == pids[k]) {
        pids[k] = -pids[k]; /* reaped: no signal is passed on to that id any more */
        left--;
      }
    if (ch_interrupt_poll(intr) >= 2 && !kill_at)
      kill_at = ch_now_ns() + 3000000000u;
    if (kill_at && ch_now_ns() > kill_at)
      for (unsigned k = 0; k < n; k++)
        if (pids[k] > 0)
          kill(pids[k], SIGKILL);
    struct timespec ts = {0, 20000000}; /* polling children's exits */
    nanosleep(&ts, NULL);
  }
}

/* Runs shard k of n in a child process; the child writes its report.json into dir/shard-k. */
static int run_shards(const struct ch_run_opts *o, const struct ch_scenario *s, unsigned n, const char *dir,
                      struct ch_report *rep, struct ch_interrupt *intr, struct ch_buf *err) {
  pid_t *pids = calloc(n, sizeof *pids);
  int *status = calloc(n, sizeof *status);
  struct ch_coord_link *links = calloc(n, sizeof *links);
  int (*sp)[2] = calloc(n, sizeof *sp);
  if (!pids || !status || !links || !sp) {
    free(pids);
    free(status);
    free(links);
    free(sp);
    return CH_EXIT_RUN;
  }
  /* one link per shard to the coordinator (this process): the phase barrier and the trigger plans */
  for (unsigned k = 0; k < n; k++)
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp[k])) {
      ch_buf_printf(err, "socketpair: %s", strerror(errno));
      for (unsigned j = 0; j < k; j++)
        close(sp[j][0]), close(sp[j][1]);
      free(pids), free(status), free(links), free(sp);
      return CH_EXIT_RUN;
    }
  fflush(NULL);
  for (unsigned k = 0; k < n; k++) {
    pid_t pid = fork();
    if (pid < 0) {
      ch_buf_printf(err, "fork: %s", strerror(errno));
      for (unsigned j = k; j < n; j++)
        close(sp[j][0]), close(sp[j][1]);
      n = k;
      break;
    }
    if (pid == 0) {
      for (unsigned j = 0; j < n; j++) { /* only its own end: another shard's end would hide that one's death */
        if (j < k)
          close(sp[j][0]);
        else if (j > k)
          close(sp[j][0]), close(sp[j][1]);
      }
      close(sp[k][0]);
      /* Its own process group, so that a terminal's Ctrl-C reaches the parent only, which passes it on once; a
         parent that dies is a SIGTERM. The parent opened no interrupt context yet: nothing of it is inherited. */
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      struct ch_interrupt ci;
      struct ch_run_opts co = *o;
      co.shard_index = k;
      co.shard_count = n;
      co.barrier_in = co.barrier_out = sp[k][1];
      co.quiet = o->quiet || k > 0; /* one progress line: the first shard's, for its share of the clients */
      char label[48];
      snprintf(label, sizeof label, "shard 1/%u", n);
      co.progress_label = label;
      co.intr = ch_interrupt_open(&ci) == 0 ? &ci : NULL;
      struct ch_report *r = NULL;
      struct ch_buf e = CH_BUF_INIT, path = CH_BUF_INIT;
      if (ch_report_new(&r))
        _exit(CH_EXIT_RUN);
      ch_report_set(&r->scenario, s->name);
      r->seed = s->seed;
      ch_buf_printf(&path, "%s/shard-%u", dir, k);
      co.checkpoint_dir = o->checkpoint_dir ? path.data : NULL;
      int code = ch_run_execute(&co, s, r, &e);
      r->exit_code = code;
      if (e.data)
        ch_report_set(&r->exit_reason, e.data);
      mkdir(path.data, 0755);
      ch_buf_puts(&path, "/report.json");
      struct ch_buf we = CH_BUF_INIT;
      if (ch_report_write_json(r, path.data, &we))
        fprintf(stderr, "shard %u: %s\n", k, we.data ? we.data : "cannot write its report");
      _exit(code);
    }
    pids[k] = pid;
    close(sp[k][1]);
    ch_coord_link_init(&links[k], sp[k][0]);
  }
  free(sp);
  if (ch_interrupt_open(intr) == 0) {
    intr->forward = pids;
    intr->n_forward = n;
  }
  struct ch_coord_outcome co;
  if (ch_coord_run(o, s, links, pids, n, intr, &co)) {
    ch_buf_puts(err, "the coordinator could not set the run up (out of memory)");
    for (unsigned k = 0; k < n; k++)
      kill(pids[k], SIGTERM);
  }
  for (unsigned k = 0; k < n; k++) /* shards still waiting for a phase end their timelines */
    ch_coord_link_free(&links[k]);
  free(links);
  run_shards_wait(pids, status, n, intr);
  intr->forward = NULL;
  int worst = CH_EXIT_OK, signalled = 0;
  for (unsigned k = 0; k < n; k++) {
    int st = status[k];
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : CH_EXIT_RUN;
    if (code == CH_EXIT_RUN || code == CH_EXIT_INPUT)
      worst = code;
    if (code == CH_EXIT_SIGINT || code == CH_EXIT_SIGTERM)
      signalled = code;
    struct ch_buf path = CH_BUF_INIT, e = CH_BUF_INIT;
    ch_buf_printf(&path, "%s/shard-%u/report.json", dir, k);
    struct ch_report *sr = NULL;
    if (ch_report_read_json(path.data, &sr, &e) == 0) {
      ch_report_merge(rep, sr, &e); /* metrics losslessly, checks keep the worse result */
      if (sr->exit_reason && (code == CH_EXIT_RUN || code == CH_EXIT_INPUT) && !err->len)
        ch_buf_puts(err, sr->exit_reason);
      ch_report_free(sr);
    } else if ((int)k != co.lost_shard) { /* a lost shard is named below */
      ch_buf_printf(err, "shard %u wrote no report (exit %d)", k, code);
      worst = CH_EXIT_RUN;
    }
    ch_buf_free(&path);
    ch_buf_free(&e);
  }
  if (co.lost_shard >= 0) {
    /* a shard that died ends the run: the others were stopped and reported what they measured until then */
    int k = co.lost_shard, st = status[k];
    char how[64], when[128];
    static const struct {
      int sig;
      const char *name;
    } sigs[] = {{SIGKILL, "SIGKILL"}, {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},
                {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"}, {SIGHUP, "SIGHUP"}, {SIGPIPE, "SIGPIPE"}};
    const char *sn = NULL;
    for (size_t i = 0; WIFSIGNALED(st) && i < sizeof sigs / sizeof *sigs && !sn; i++)
      if (sigs[i].sig == WTERMSIG(st))
        sn = sigs[i].name; /* the out-of-memory killer's SIGKILL says more by name than by number */
    if (sn)
      snprintf(how, sizeof how, "was killed by %s", sn);
    else if (WIFSIGNALED(st))
      snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(st));
    else
      snprintf(how, sizeof how, "ended with exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    if (co.lost_phase >= 0 && (size_t)co.lost_phase < s->n_phases)
      snprintf(when, sizeof when, "phase %d of %zu (%s)", co.lost_phase + 1, s->n_phases,
               s->phases[co.lost_phase].name);
    else
      snprintf(when, sizeof when, "set-up");
    ch_buf_reset(err);
    ch_buf_printf(err, "shard %d of %u (pid %d) %s during %s; the other shards were stopped and the report holds what "
                       "they measured", k + 1, n, (int)-pids[k], how, when);
    ch_report_add_note(rep, err->data);
    worst = CH_EXIT_RUN;
  }
  free(pids);
  free(status);
  return run_shards_verdict(o, &co, n, rep, intr, worst, signalled, err);
}

int run_shards_verdict(const struct ch_run_opts *o, const struct ch_coord_outcome *co, unsigned n,
                       struct ch_report *rep, struct ch_interrupt *intr, int worst, int signalled, struct ch_buf *err) {
  if (co->abort_reason[0] && !err->len)
    ch_buf_puts(err, co->abort_reason); /* the exit line says which threshold stopped the run */
  if (co->triggers) { /* what one trigger stream costs its owner: the figure a run over many shards scales by */
    char note[256], cpu[64];
    if (co->cpu_s >= 0)
      snprintf(cpu, sizeof cpu, "%.1f us CPU per trigger", co->cpu_s * 1e6 / (double)co->triggers);
    else
      snprintf(cpu, sizeof cpu, "CPU per trigger not measurable (too short)");
    snprintf(note, sizeof note, "coordinator: %llu triggers sent once for %u shards, %s, sent %.0f us (p50) and %.0f us "
             "(p99) after their intended times",
             (unsigned long long)co->triggers, n, cpu, co->late_p50_ns / 1e3, co->late_p99_ns / 1e3);
    ch_report_add_note(rep, note);
    if (!o->quiet)
      fprintf(stderr, "%s\n", note);
  }
  rep->shards = n;
  if (co->lost_shard >= 0)
    return CH_EXIT_RUN;
  if (intr->count) /* the shards' reports say when and in which phase; a checkpoint stands in for a killed one */
    return ch_interrupt_exit_code(intr);
  if (signalled)
    return signalled;
  if (worst != CH_EXIT_OK)
    return worst;
  if (co->abort_reason[0]) /* as in one process: an abort_on_fail stop is the verdict, whatever else failed */
    return CH_EXIT_THRESHOLD;
  /* ch_report_merge judged the thresholds again on the merged metrics: never per shard. */
  if (ch_report_count_checks(rep, CH_RESULT_FAIL))
    return CH_EXIT_CHECK_FAILED;
  if (ch_report_count_thresholds(rep, CH_RESULT_FAIL))
    return CH_EXIT_THRESHOLD;
  return CH_EXIT_OK;
}

int ch_run_cli_parse(int argc, char **argv, const char *usage, struct ch_run_cli *c) {
  enum { O_TARGET = 256, O_TOKEN, O_TOKEN_ENV, O_TOKEN_FILE, O_SET, O_SEED, O_WORKERS, O_PROCESSES, O_SRC, O_INSECURE,
         O_CA, O_REPORT_DIR, O_QUIET, O_HELP, O_CKPT, O_METRICS, O_DASH, O_ALLOW_STOP, O_OUT, O_LINGER, O_CERT, O_KEY,
         O_MPI, O_MPI_TIMEOUT };
  static const struct option longopts[] = {
      {"target", required_argument, NULL, O_TARGET},     {"token", required_argument, NULL, O_TOKEN},
      {"token-env", required_argument, NULL, O_TOKEN_ENV}, {"token-file", required_argument, NULL, O_TOKEN_FILE},
      {"set", required_argument, NULL, O_SET},           {"seed", required_argument, NULL, O_SEED},
      {"workers", required_argument, NULL, O_WORKERS},   {"processes", required_argument, NULL, O_PROCESSES},
      {"source-addresses", required_argument, NULL, O_SRC}, {"insecure", no_argument, NULL, O_INSECURE},
      {"ca-file", required_argument, NULL, O_CA},        {"report-dir", required_argument, NULL, O_REPORT_DIR},
      {"quiet", no_argument, NULL, O_QUIET},             {"help", no_argument, NULL, O_HELP},
      {"checkpoint-every", required_argument, NULL, O_CKPT}, {"metrics-listen", required_argument, NULL, O_METRICS},
      {"dashboard", required_argument, NULL, O_DASH},    {"dashboard-allow-stop", no_argument, NULL, O_ALLOW_STOP},
      {"out", required_argument, NULL, O_OUT},           {"linger", no_argument, NULL, O_LINGER},
      {"cert", required_argument, NULL, O_CERT},         {"key", required_argument, NULL, O_KEY},
      {"cert-key", required_argument, NULL, O_KEY},
      {"mpi", no_argument, NULL, O_MPI},               {"mpi-timeout", required_argument, NULL, O_MPI_TIMEOUT},
      {NULL, 0, NULL, 0}};
  memset(c, 0, sizeof *c);
  struct ch_run_opts *op = &c->o;
  op->barrier_in = op->barrier_out = -1;
  c->mpi_timeout_s = 30;
  c->sets = calloc((size_t)argc + 2, sizeof *c->sets);
  const char **sets = c->sets;
  char **owned = c->owned;
  size_t n_sets = 0;
  int tokens_given = 0, code = CH_EXIT_INPUT;
  if (!sets) {
    code = run_fail(CH_EXIT_RUN, "out of memory", NULL);
    goto out;
  }
  optind = 1;
  opterr = 0;
  for (int opt; (opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1;) {
    char *end = NULL;
    long v;
    switch (opt) {
    case O_TARGET:
      free(owned[0]);
      owned[0] = malloc(strlen(optarg) + 16);
      if (!owned[0]) {
        code = run_fail(CH_EXIT_RUN, "out of memory", NULL);
        goto out;
      }
      sprintf(owned[0], "target.url=%s", optarg);
      sets[n_sets++] = owned[0];
      break;
    case O_TOKEN: op->token = optarg, tokens_given++; break;
    case O_TOKEN_ENV: op->token_env = optarg, tokens_given++; break;
    case O_TOKEN_FILE: op->token_file = optarg, tokens_given++; break;
    case O_SET:
      if (!strchr(optarg, '=')) {
        fprintf(stderr, "--set: expected PATH=VALUE, found \"%s\"\n", optarg);
        code = run_fail(CH_EXIT_INPUT, "bad option", NULL);
        goto out;
      }
      sets[n_sets++] = optarg;
      break;
    case O_SEED:
      strtoull(optarg, &end, 10);
      if (!*optarg || *end || optarg[0] == '-') {
        fprintf(stderr, "--seed: expected a non-negative integer, found \"%s\"\n", optarg);
        code = run_fail(CH_EXIT_INPUT, "bad option", NULL);
        goto out;
      }
      free(owned[1]);
      owned[1] = malloc(strlen(optarg) + 8);
      if (!owned[1]) {
        code = run_fail(CH_EXIT_RUN, "out of memory", NULL);
        goto out;
      }
      sprintf(owned[1], "seed=%s", optarg);
      sets[n_sets++] = owned[1];
      break;
    case O_WORKERS:
    case O_PROCESSES:
      v = strtol(optarg, &end, 10);
      if (!*optarg || *end || v < 1 || v > 1024) {
        fprintf(stderr, "--%s: expected an integer from 1 to 1024, found \"%s\"\n",
                opt == O_WORKERS ? "workers" : "processes", optarg);
        code = run_fail(CH_EXIT_INPUT, "bad option", NULL);
        goto out;
      }
      *(opt == O_WORKERS ? &op->workers : &op->processes) = (unsigned)v;
      break;
    case O_SRC: op->source_addresses = optarg; break;
    case O_INSECURE: op->insecure = true; break;
    case O_CA: op->ca_file = optarg; break;
    case O_CERT: op->cert_file = optarg; break;
    case O_KEY: op->key_file = optarg; break;
    case O_REPORT_DIR: op->report_dir = optarg; break;
    case O_QUIET: op->quiet = true; break;
    case O_METRICS: c->metrics_listen = optarg; break;
    case O_DASH: c->dashboard = optarg; break;
    case O_ALLOW_STOP: c->allow_stop = true; break;
    case O_OUT: c->out = optarg; break;
    case O_LINGER: c->linger = true; break;
    case O_MPI: c->mpi = true; break;
    case O_MPI_TIMEOUT:
    case O_CKPT: {
      bool ckpt = opt == O_CKPT;
      double secs = strtod(optarg, &end), lo = ckpt ? 0.1 : 1, hi = ckpt ? 86400 : 3600;
      if (!*optarg || *end || !(secs >= lo && secs <= hi)) {
        fprintf(stderr, "--%s: expected seconds from %g to %g, found \"%s\"\n",
                ckpt ? "checkpoint-every" : "mpi-timeout", lo, hi, optarg);
        code = run_fail(CH_EXIT_INPUT, "bad option", NULL);
        goto out;
      }
      if (ckpt)
        op->checkpoint_ns = (uint64_t)(secs * 1e9);
      else
        c->mpi_timeout_s = secs;
      break;
    }
    case O_HELP:
      fputs(usage, stdout);
      code = CH_EXIT_OK;
      goto out;
    case ':':
      fprintf(stderr, "%s: expected a value after it\n", argv[optind - 1]);
      code = run_fail(CH_EXIT_INPUT, "bad option", NULL);
      goto out;
    default:
      fprintf(stderr, "unknown option \"%s\" (see --help)\n", argv[optind - 1]);
      code = run_fail(CH_EXIT_INPUT, "bad option", NULL);
      goto out;
    }
  }
  if (optind != argc - 1) {
    fputs(usage, stderr);
    code = run_fail(CH_EXIT_INPUT, optind >= argc ? "no scenario file given" : "more than one scenario file given",
                    NULL);
    goto out;
  }
  if (tokens_given > 1) {
    code = run_fail(CH_EXIT_INPUT, "--token, --token-env and --token-file exclude each other", NULL);
    goto out;
  }
  op->scenario_path = argv[optind];
  op->sets = sets;
  op->n_sets = c->n_sets = n_sets;
  return -1;
out:
  return code;
}

void ch_run_publish_report(const struct ch_report *rep, const char *dir, bool quiet) {
  if (!quiet)
    ch_report_print_summary(rep, stdout);
  struct ch_buf we = CH_BUF_INIT;
  if (ch_report_write_dir(rep, dir, &we))
    fprintf(stderr, "report: %s\n", we.data ? we.data : "cannot be written");
  else
    printf("report: %s/report.html\n", dir);
  ch_buf_free(&we);
}

void ch_run_cli_free(struct ch_run_cli *c) {
  ch_run_live_finish(c, NULL, NULL);
  free(c->owned[0]);
  free(c->owned[1]);
  free(c->sets);
  memset(c, 0, sizeof *c);
}

int ch_run_main(int argc, char **argv) {
  struct ch_run_cli cli;
  struct ch_scenario *s = NULL;
  struct ch_report *rep = NULL;
  struct ch_buf err = CH_BUF_INIT, dir = CH_BUF_INIT, line = CH_BUF_INIT;
  struct ch_interrupt intr = {0};
  struct ch_run_mpi mpi = {0};
  int code = ch_run_cli_parse(argc, argv, run_usage, &cli);
  struct ch_run_opts o = cli.o;
  const char **sets = cli.sets;
  size_t n_sets = cli.n_sets;
  if (code >= 0 || (cli.mpi && (code = ch_run_mpi_check(&cli, "run")) >= 0))
    goto out;
  int rc = ch_scenario_load(o.scenario_path, sets, n_sets, &s, &err);
  if (rc) {
    fprintf(stderr, "%s", err.data ? err.data : "");
    if (err.len && err.data[err.len - 1] != '\n')
      fputc('\n', stderr);
    code = run_fail(rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT, "the scenario is not valid", o.scenario_path);
    goto out;
  }
  if (ch_report_new(&rep)) {
    code = run_fail(CH_EXIT_RUN, "out of memory", NULL);
    goto out;
  }
  ch_report_set(&rep->scenario, s->name);
  ch_report_set(&rep->scenario_path, o.scenario_path);
  rep->seed = s->seed;
  for (size_t i = 0; i < n_sets; i++)
    ch_report_add_override(rep, sets[i]);
  /* Input is refused before a folder exists; the folder is new, and holds the scenario before the run starts. */
  code = ch_run_check_input(&o, s, rep, &err);
  if (code != CH_EXIT_OK) {
    code = run_fail(code, code == CH_EXIT_INPUT ? "invalid input" : "out of memory", err.data);
    goto out;
  }
  /* MPI starts once the input is known good on every rank (each read the same files); ranks 1.. run their shard */
  if (cli.mpi && ((code = ch_run_mpi_init(&mpi, cli.mpi_timeout_s)) >= 0 ||
                  (mpi.rank > 0 && (code = ch_run_mpi_shard(&mpi, &o, s)) >= 0)))
    goto out;
  bool reserved = !o.report_dir;
  if (ch_run_prepare_dir(&o, s, rep, &dir, &err)) {
    code = run_fail(CH_EXIT_RUN, "cannot create the report folder", err.data);
    goto out;
  }
  o.report_dir = dir.data; /* transcripts of failing clients go next to the report */
  o.checkpoint_dir = dir.data;
  unsigned procs = cli.mpi ? (unsigned)mpi.size : o.processes ? o.processes : s->processes;
  if ((code = ch_run_live_open(&cli, s->name, procs)) != CH_EXIT_OK) {
    ch_run_discard_dir(dir.data, reserved);
    goto out;
  }
  o.live = cli.o.live;
  if (!o.quiet)
    fprintf(stderr, "centro-harness %s: scenario %s, %zu clients%s, seed %llu\n", CH_VERSION, s->name,
            s->total_clients, s->target.url ? "" : " against the embedded reference endpoint",
            (unsigned long long)s->seed);
  ch_buf_reset(&err);
  if (procs > 1) {
    struct ch_buf e2 = CH_BUF_INIT;
    /* creates the folder the shards write into; until the merge replaces it, it says the run has not ended */
    rep->partial = true;
    rep->exit_code = CH_EXIT_RUN;
    ch_report_set(&rep->exit_reason, cli.mpi ? "partial: the run is going on; rank 0's shard checkpoints into "
                                               "rank-0/report.json, the other ranks send their reports at the end"
                                             : "partial: the run is going on; each shard checkpoints into "
                                               "shard-K/report.json");
    int wrc = ch_report_write_dir(rep, dir.data, &e2);
    rep->partial = false;
    rep->exit_code = CH_EXIT_OK;
    if (wrc) {
      code = run_fail(CH_EXIT_RUN, "cannot create the report folder", e2.data);
      ch_buf_free(&e2);
      goto out;
    }
    ch_buf_free(&e2);
    code = cli.mpi ? ch_run_mpi_coord(&mpi, &o, s, dir.data, rep, &intr, &err)
                   : run_shards(&o, s, procs, dir.data, rep, &intr, &err);
  } else {
    if (ch_interrupt_open(&intr) == 0)
      o.intr = &intr;
    code = ch_run_execute(&o, s, rep, &err);
  }
  rep->exit_code = code;
  run_exit_line(rep, code, err.data, &line);
  const char *reason = strchr(line.data, ':'); /* the report shows the code itself */
  ch_report_set(&rep->exit_reason, reason ? reason + 2 : line.data);
  if (code == CH_EXIT_INPUT)
    ch_run_discard_dir(dir.data, reserved); /* refused: no report of a run that did not happen */
  else
    ch_run_publish_report(rep, dir.data, o.quiet);
  if ((code == CH_EXIT_RUN || code == CH_EXIT_INPUT) && err.data)
    fprintf(stderr, "%s\n", err.data);
  printf("%s\n", line.data);
  fflush(stdout);
  ch_run_live_finish(&cli, code == CH_EXIT_INPUT ? NULL : dir.data, o.intr);
out:
  fflush(stdout);
  ch_interrupt_close(&intr); /* open until the report is written: a further signal cannot cut it short */
  ch_run_mpi_end(&mpi);
  ch_run_cli_free(&cli);
  ch_scenario_free(s);
  ch_report_free(rep);
  ch_buf_free(&err);
  ch_buf_free(&dir);
  ch_buf_free(&line);
  return code;
}
