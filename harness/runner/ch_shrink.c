/* `centro-harness shrink`: reduces a failing scenario to the smallest one that still fails the same way, running
   every candidate as a child `run` (ch_shrink.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_duration.h"
#include "ch_exit.h"
#include "ch_report.h"
#include "ch_scenario.h"
#include "ch_shrink.h"

static const char shrink_usage[] =
    "Usage: centro-harness shrink SCENARIO.json (--check ID | --threshold EXPR) [OPTIONS]\n"
    "\n"
    "Reduces a failing scenario to the smallest one that still fails the same way, for a bug report. Each candidate\n"
    "is run as a child `centro-harness run` (a crash is contained) and kept when the check ID still fails (--check,\n"
    "e.g. RUN-DELIVERY), or the threshold EXPR still fails on its metrics (--threshold \"update_latency.p99 < 250ms\").\n"
    "It reduces, in order: clients per population (a session population's max_concurrent, or its targets in the\n"
    "closed model), session arrival rates and stages, populations, keys, trigger rate, trigger count, phase\n"
    "durations (not below 100 ms); each by halving while that keeps failing, then by single steps (one client, key or\n"
    "trigger, 1/s of rate, a quarter of a duration). Every step is printed and written to the log.\n"
    "\n"
    "Options:\n"
    "  --check ID              the check that must keep failing\n"
    "  --threshold EXPR        or: the threshold that must keep failing (METRIC OP VALUE, as in scenarios)\n"
    "  -o, --output FILE       the smallest failing scenario (default: <name>-shrunk.json)\n"
    "  --log FILE              the steps (default: the output's name with .log)\n"
    "  --max-runs N            at most N runs, the first included (default 40)\n"
    "  --max-time D            no run starts after D, and a run is stopped at D (default 10m; 90s, 1h...)\n"
    "  --set PATH=VALUE        change the scenario before shrinking (kept in the output), repeatable\n"
    "  --seed N                the seed (kept in the output)\n"
    "  --target URL, --token T, --token-env VAR, --token-file F, --insecure, --ca-file F, --workers N\n"
    "                          passed to every run as given (credentials never go into the output)\n"
    "  --keep-runs             keep every run's report folder (in <output>.runs/)\n"
    "  --help                  this text\n"
    "\n"
    "The output is the effective scenario (every default filled in, no credential): `centro-harness run FILE`\n"
    "with the same target options reproduces the failure.\n"
    "\n"
    "Exit codes: 0 the smallest failing scenario is written (also when a bound stopped the search: it is the\n"
    "smallest found), 1 the scenario does not fail that way (nothing to shrink), 3 invalid input, 4 the first run\n"
    "could not be carried out or the output not written.\n";

struct shrink {
  const char *scenario, *check, *threshold, *out, *log;
  const char *pass[16]; /* options passed to every run */
  size_t n_pass;
  const char **sets;
  size_t n_sets;
  unsigned max_runs;
  uint64_t max_ns, t0;
  bool keep_runs;
  char out_buf[512], log_buf[520], runs_dir[540], seed_set[40];
  FILE *logf;
  unsigned runs;
};

static void say(struct shrink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct shrink *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
  if (s->logf) {
    va_start(ap, fmt);
    vfprintf(s->logf, fmt, ap);
    va_end(ap);
    fflush(s->logf);
  }
}

static int parse_args(int argc, char **argv, struct shrink *s) {
  static const char *const passed[] = {"--target", "--token", "--token-env", "--token-file", "--ca-file",
                                       "--workers", NULL};
  s->max_runs = 40;
  s->max_ns = 600ull * 1000000000ull;
  if (!(s->sets = calloc((size_t)argc + 1, sizeof *s->sets)))
    return CH_EXIT_RUN;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool pass = false;
    for (size_t k = 0; passed[k]; k++)
      pass = pass || !strcmp(a, passed[k]);
    bool takes = pass || !strcmp(a, "--check") || !strcmp(a, "--threshold") || !strcmp(a, "-o") ||
                 !strcmp(a, "--output") || !strcmp(a, "--log") || !strcmp(a, "--max-runs") ||
                 !strcmp(a, "--max-time") || !strcmp(a, "--set") || !strcmp(a, "--seed");
    if (takes && !v) {
      fprintf(stderr, "exit 3: %s needs a value\n", a);
      return CH_EXIT_INPUT;
    }
    if (takes)
      i++;
    if (pass && s->n_pass + 2 <= sizeof s->pass / sizeof *s->pass) {
      s->pass[s->n_pass++] = a;
      s->pass[s->n_pass++] = v;
    } else if (!strcmp(a, "--check")) {
      s->check = v;
    } else if (!strcmp(a, "--threshold")) {
      s->threshold = v;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      s->out = v;
    } else if (!strcmp(a, "--log")) {
      s->log = v;
    } else if (!strcmp(a, "--set")) {
      s->sets[s->n_sets++] = v;
    } else if (!strcmp(a, "--seed")) {
      char *e;
      unsigned long long x = strtoull(v, &e, 10);
      if (*e || !*v || v[0] == '-') {
        fprintf(stderr, "exit 3: --seed: expected a non-negative integer, found \"%s\"\n", v);
        return CH_EXIT_INPUT;
      }
      snprintf(s->seed_set, sizeof s->seed_set, "seed=%llu", x);
      s->sets[s->n_sets++] = s->seed_set;
    } else if (!strcmp(a, "--max-runs")) {
      char *e;
      long n = strtol(v, &e, 10);
      if (*e || n < 1 || n > 100000) {
        fprintf(stderr, "exit 3: --max-runs: expected a number of runs from 1, found \"%s\"\n", v);
        return CH_EXIT_INPUT;
      }
      s->max_runs = (unsigned)n;
    } else if (!strcmp(a, "--max-time")) {
      struct ch_buf err = CH_BUF_INIT;
      int rc = ch_parse_duration_ns(v, &s->max_ns, &err);
      if (rc)
        fprintf(stderr, "exit 3: --max-time: %s\n", err.data ? err.data : "expected a duration");
      ch_buf_free(&err);
      if (rc)
        return CH_EXIT_INPUT;
    } else if (!strcmp(a, "--insecure") && s->n_pass < sizeof s->pass / sizeof *s->pass) {
      s->pass[s->n_pass++] = a;
    } else if (!strcmp(a, "--keep-runs")) {
      s->keep_runs = true;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(shrink_usage, stdout);
      return -1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "%sexit 3: shrink: unknown option %s\n", shrink_usage, a);
      return CH_EXIT_INPUT;
    } else if (!s->scenario) {
      s->scenario = a;
    } else {
      fprintf(stderr, "exit 3: shrink takes one scenario, found a second: %s\n", a);
      return CH_EXIT_INPUT;
    }
  }
  if (!s->scenario || !s->check == !s->threshold) {
    fprintf(stderr, "%sexit 3: shrink needs a scenario and one of --check ID or --threshold EXPR\n", shrink_usage);
    return CH_EXIT_INPUT;
  }
  if (s->threshold) {
    struct ch_buf metric = CH_BUF_INIT, err = CH_BUF_INIT;
    char op[3];
    double value;
    int rc = ch_threshold_parse(s->threshold, &metric, op, &value, &err);
    if (rc)
      fprintf(stderr, "exit 3: --threshold: %s\n", err.data ? err.data : "invalid");
    ch_buf_free(&metric);
    ch_buf_free(&err);
    if (rc)
      return CH_EXIT_INPUT;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------------ one run */

enum verdict { SAME_FAILURE, OTHER_RESULT, STOPPED };

/* Whether the report in dir fails the way asked for; `seen` gets the run's result in words. */
static bool fails_same_way(const struct shrink *s, const char *dir, char *seen, size_t n) {
  char path[640];
  snprintf(path, sizeof path, "%s/report.json", dir);
  struct ch_report *r;
  if (ch_report_read_json(path, &r, NULL)) {
    snprintf(seen, n, "no report");
    return false;
  }
  bool same = false;
  if (s->check) {
    for (size_t i = 0; i < r->n_checks && !same; i++)
      same = !strcmp(r->checks[i].id, s->check) && r->checks[i].result == CH_RESULT_FAIL;
  } else if (ch_report_eval_threshold(r, s->threshold, NULL) == 0 && r->n_thresholds) {
    same = r->thresholds[r->n_thresholds - 1].result == CH_RESULT_FAIL;
  }
  snprintf(seen, n, "exit %d: %s", r->exit_code, r->exit_reason ? r->exit_reason : "");
  ch_report_free(r);
  return same;
}

/* Runs the scenario file as a child `run` with a deadline. */
static enum verdict run_candidate(struct shrink *s, const char *file, char *seen, size_t n, double *secs) {
  char dir[600], logp[620];
  snprintf(dir, sizeof dir, "%s/run-%u", s->runs_dir, s->runs);
  snprintf(logp, sizeof logp, "%s.log", dir);
  const char *argv[40] = {"centro-harness", "run", file, "--report-dir", dir, "--quiet"};
  size_t k = 6;
  for (size_t i = 0; i < s->n_pass && k < 39; i++)
    argv[k++] = s->pass[i];
  argv[k] = NULL;
  uint64_t start = ch_now_ns(), end = s->t0 + s->max_ns;
  s->runs++;
  pid_t pid = fork();
  if (pid == 0) {
    FILE *o = fopen(logp, "w");
    if (o) {
      dup2(fileno(o), 1);
      dup2(fileno(o), 2);
    }
    execv("/proc/self/exe", (char *const *)argv);
    _exit(127);
  }
  if (pid < 0) {
    snprintf(seen, n, "cannot start a run: %s", strerror(errno));
    return STOPPED;
  }
  int st = 0;
  bool termed = false;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR))
      break;
    uint64_t now = ch_now_ns();
    if (now >= end && !termed) { /* --max-time: the run stops gracefully and writes what it measured */
      kill(pid, SIGTERM);
      termed = true;
      end = now + 10ull * 1000000000ull;
    } else if (now >= end) {
      kill(pid, SIGKILL);
    }
    struct timespec ts = {0, 20000000}; /* a child's exit has no descriptor to wait on here: poll it */
    nanosleep(&ts, NULL);
  }
  *secs = (double)(ch_now_ns() - start) / 1e9;
  if (termed) {
    snprintf(seen, n, "stopped at --max-time");
    return STOPPED;
  }
  if (WIFSIGNALED(st)) {
    snprintf(seen, n, "the run crashed (signal %d)", WTERMSIG(st));
    return OTHER_RESULT;
  }
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (code == CH_EXIT_SIGINT || code == CH_EXIT_SIGTERM) {
    snprintf(seen, n, "interrupted");
    return STOPPED;
  }
  return fails_same_way(s, dir, seen, n) ? SAME_FAILURE : OTHER_RESULT;
}

/* ------------------------------------------------------------------------------------------------ the search */

static int write_doc(const cJSON *doc, const char *path) {
  char *text = cJSON_Print(doc);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = text ? fopen(tmp, "w") : NULL;
  int rc = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF ? 0 : -1;
  if (f && fclose(f))
    rc = -1;
  if (!rc && rename(tmp, path))
    rc = -1;
  free(text);
  return rc;
}

/* The candidate as the loader sees it: invalid ones are skipped without a run. */
static bool candidate_valid(const cJSON *doc, char *why, size_t n) {
  char *text = cJSON_PrintUnformatted(doc);
  struct ch_scenario *sc = NULL;
  struct ch_buf err = CH_BUF_INIT;
  int rc = text ? ch_scenario_from_json_string(text, strlen(text), "candidate", NULL, 0, &sc, &err) : -ENOMEM;
  if (rc)
    snprintf(why, n, "%.*s", (int)strcspn(err.data ? err.data : "invalid", "\n"), err.data ? err.data : "invalid");
  ch_scenario_free(sc);
  ch_buf_free(&err);
  free(text);
  return rc == 0;
}

static bool budget_left(const struct shrink *s) {
  return s->runs < s->max_runs && ch_now_ns() < s->t0 + s->max_ns;
}

/* Tries one dimension until it stops failing. Returns the number of reductions kept; *stop on a bound. */
static unsigned try_dim(struct shrink *s, cJSON **cur, enum ch__shrink_dim dim, size_t i, bool halve, bool *stop) {
  unsigned kept = 0;
  char cand_path[600];
  snprintf(cand_path, sizeof cand_path, "%s/candidate.json", s->runs_dir);
  while (!*stop) {
    if (!budget_left(s)) {
      *stop = true;
      break;
    }
    cJSON *cand = cJSON_Duplicate(*cur, true);
    char what[200], seen[200];
    if (!cand || !ch__shrink_apply(cand, dim, i, halve, what, sizeof what)) {
      cJSON_Delete(cand);
      break;
    }
    if (!candidate_valid(cand, seen, sizeof seen)) {
      say(s, "  skip %s: not a valid scenario (%s)\n", what, seen);
      cJSON_Delete(cand);
      break;
    }
    double secs = 0;
    enum verdict v = write_doc(cand, cand_path) ? STOPPED : run_candidate(s, cand_path, seen, sizeof seen, &secs);
    if (v == SAME_FAILURE)
      say(s, "run %u (%.1fs): %s: still fails %s, kept\n", s->runs, secs, what, s->check ? s->check : s->threshold);
    else
      say(s, "run %u (%.1fs): %s: %s%s\n", s->runs, secs, what, seen,
          v == OTHER_RESULT ? ", not the same failure: reverted" : "");
    if (v != SAME_FAILURE) {
      cJSON_Delete(cand);
      *stop = v == STOPPED;
      break;
    }
    cJSON_Delete(*cur);
    *cur = cand;
    kept++;
    if (write_doc(*cur, s->out)) /* the smallest so far is on disk at every moment */
      say(s, "  cannot write %s: %s\n", s->out, strerror(errno));
    if (dim == CH__SHRINK_POPULATION)
      break; /* indexes moved */
  }
  return kept;
}

static void search(struct shrink *s, cJSON **cur) {
  bool stop = false;
  for (int pass = 0; pass < 2 && !stop; pass++) { /* halving first, then single steps */
    bool halve = pass == 0;
    for (unsigned progress = 1; progress && !stop;) {
      progress = 0;
      for (int d = 0; d < CH__SHRINK_N_DIMS && !stop; d++)
        for (size_t i = ch__shrink_count(*cur, (enum ch__shrink_dim)d); i-- > 0 && !stop;)
          progress += try_dim(s, cur, (enum ch__shrink_dim)d, i, halve, &stop);
    }
  }
  if (stop && !budget_left(s))
    say(s, "stopped by %s\n", s->runs >= s->max_runs ? "--max-runs" : "--max-time");
}

/* A one-line size of the scenario: "3 clients in 1 population, 1 key, trigger 5/s, 5 phases". */
static void describe(const cJSON *doc, char *buf, size_t n) {
  double clients = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "clients")) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "count");
    if (!c) /* a session population: its slots */
      c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "sessions"), "max_concurrent");
    clients += cJSON_IsNumber(c) ? c->valuedouble : 0;
  }
  const cJSON *trig = cJSON_GetObjectItemCaseSensitive(doc, "trigger");
  const cJSON *rate = cJSON_GetObjectItemCaseSensitive(trig, "rate");
  char tr[48];
  if (cJSON_IsArray(trig))
    snprintf(tr, sizeof tr, "%d triggers", cJSON_GetArraySize(trig));
  else
    snprintf(tr, sizeof tr, "trigger rate %g/s", cJSON_IsNumber(rate) ? rate->valuedouble : 0);
  int pops = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "clients"));
  snprintf(buf, n, "%.0f client%s in %d population%s, %s, %d phases", clients, clients == 1 ? "" : "s", pops,
           pops == 1 ? "" : "s", tr, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "phases")));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* The start: the scenario with --set/--seed applied, defaults filled in, no credential. */
static int load_start(struct shrink *s, cJSON **doc) {
  struct ch_scenario *sc;
  struct ch_buf err = CH_BUF_INIT, text = CH_BUF_INIT;
  int rc = ch_scenario_load(s->scenario, s->sets, s->n_sets, &sc, &err);
  if (rc) {
    fprintf(stderr, "%sexit 3: invalid scenario\n", err.data ? err.data : "");
    ch_buf_free(&err);
    return rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT;
  }
  if (!s->out) {
    snprintf(s->out_buf, sizeof s->out_buf, "%s-shrunk.json", sc->name);
    s->out = s->out_buf;
  }
  rc = ch_scenario_to_json_stored(sc, &text);
  *doc = rc ? NULL : cJSON_Parse(text.data);
  ch_scenario_free(sc);
  ch_buf_free(&err);
  ch_buf_free(&text);
  return *doc ? 0 : CH_EXIT_RUN;
}

int ch_shrink_main(int argc, char **argv) {
  struct shrink s = {0};
  cJSON *cur = NULL;
  int code = parse_args(argc, argv, &s);
  code = code ? code : load_start(&s, &cur);
  if (code) {
    free(s.sets);
    return code < 0 ? CH_EXIT_OK : code;
  }
  if (!s.log) {
    size_t l = strlen(s.out);
    snprintf(s.log_buf, sizeof s.log_buf, "%.*s.log", (int)(l > 5 && !strcmp(s.out + l - 5, ".json") ? l - 5 : l),
             s.out);
    s.log = s.log_buf;
  }
  snprintf(s.runs_dir, sizeof s.runs_dir, "%s.runs", s.out);
  struct ch_buf err = CH_BUF_INIT;
  if (ch_report_make_dir(s.runs_dir, &err) || !(s.logf = fopen(s.log, "w"))) {
    fprintf(stderr, "exit 4: %s\n", err.data ? err.data : s.log);
    ch_buf_free(&err);
    cJSON_Delete(cur);
    free(s.sets);
    return CH_EXIT_RUN;
  }
  ch_buf_free(&err);
  s.t0 = ch_now_ns();
  char size[160], seen[200], cand[600];
  describe(cur, size, sizeof size);
  say(&s, "shrink %s: keep failing %s%s (at most %u runs, %.0fs)\nstart: %s\n", s.scenario,
      s.check ? "check " : "threshold ", s.check ? s.check : s.threshold, s.max_runs, (double)s.max_ns / 1e9, size);
  snprintf(cand, sizeof cand, "%s/candidate.json", s.runs_dir);
  double secs = 0;
  enum verdict v = write_doc(cur, cand) ? STOPPED : run_candidate(&s, cand, seen, sizeof seen, &secs);
  say(&s, "run 1 (%.1fs): the scenario as given: %s\n", secs, v == SAME_FAILURE ? "fails, as expected" : seen);
  if (v != SAME_FAILURE) {
    code = v == STOPPED ? CH_EXIT_RUN : CH_EXIT_CHECK_FAILED;
    say(&s, "exit %d: %s\n", code,
        v == STOPPED ? "the first run could not be judged" : "the scenario does not fail that way: nothing to shrink");
  } else if (write_doc(cur, s.out)) {
    say(&s, "exit 4: cannot write %s: %s\n", s.out, strerror(errno));
    code = CH_EXIT_RUN;
  } else {
    search(&s, &cur);
    describe(cur, size, sizeof size);
    say(&s, "smallest failing scenario: %s (%s) after %u runs in %.1fs; log: %s\n", s.out, size, s.runs,
        (double)(ch_now_ns() - s.t0) / 1e9, s.log);
    say(&s, "exit 0: shrunk: `centro-harness run %s` fails %s\n", s.out, s.check ? s.check : s.threshold);
  }
  fclose(s.logf);
  unlink(cand);
  if (!s.keep_runs)
    nftw(s.runs_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  cJSON_Delete(cur);
  free(s.sets);
  return code;
}
