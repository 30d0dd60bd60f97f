/* `centro-harness compare BASE NEW`: two runs side by side, with regression gates (ch_compare.h). It lives with
   the runner because its gates may come from a scenario file (the scenario area), which the metrics area cannot
   read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch_compare.h"
#include "ch_compare_cli.h"
#include "ch_exit.h"
#include "ch_report.h"
#include "ch_scenario.h"

static const char compare_usage[] =
    "Usage: centro-harness compare BASE NEW [OPTIONS]\n"
    "\n"
    "Compares two runs: BASE and NEW are report.json files or report folders (the baseline first, e.g. the last\n"
    "release's run). Prints every metric both runs have, for the whole run and per population and transport:\n"
    "latency percentiles (from the stored histograms), delivery_ratio, throughput, connected clients and the\n"
    "error counters, with the change, the relative change and a verdict: better, worse, same or inconclusive.\n"
    "\n"
    "Options:\n"
    "  --max-regression METRIC=LIMIT   fail (exit 2) when METRIC got worse by more than LIMIT (repeatable)\n"
    "  --scenario FILE         take gates from this scenario file's \"compare\" section (default: the scenario.json\n"
    "                          beside NEW's report.json, when it has one)\n"
    "  --allow-different       compare runs of different scenarios, targets or harness versions\n"
    "  --html FILE             write a self-contained HTML page (both latency distributions on one log-percentile\n"
    "                          plot, both runs' time series, the table)\n"
    "  --junit FILE            write JUnit XML: one test case per gate (inconclusive gates are skipped)\n"
    "  --json FILE             write the comparison as JSON (format centro-harness-compare, version 1)\n"
    "  --quiet                 print only the gates and the last line\n"
    "  --help                  this text\n"
    "\n"
    "Metric names (as in thresholds, reports/README.md): update_latency.p99, fanout_completion.p50,\n"
    "negotiate.mean, ... (<latency>.<pN|mean|min|max|stddev>), delivery_ratio, throughput (Updates received per\n"
    "second), errors, connect_errors, updates_missing, updates_duplicate, ... A scope narrows a gate to a\n"
    "population and/or transport: update_latency.p99{population=web,transport=webSockets}.\n"
    "LIMIT is how far the metric may move in its worse direction: +10% (relative to the baseline), +5ms\n"
    "(latencies), +0 (counters: no new error), -0.001 or -0.1% (delivery_ratio, throughput: the sign, optional,\n"
    "must point the worse way). Examples:\n"
    "  --max-regression update_latency.p99=+10% --max-regression errors=+0 --max-regression delivery_ratio=-0.1%\n"
    "\n"
    "Verdicts: a percentile is worse/better when the 95% intervals of the two runs' order statistics (ranks\n"
    "n*q -/+ 1.96*sqrt(n*q*(1-q))) do not overlap; \"inconclusive: N samples\" when a run has fewer than 100\n"
    "samples or fewer than 5 above the percentile (p99 needs 500, p99.9 5000). A gate on an inconclusive metric\n"
    "neither passes nor fails (JUnit: skipped). Means: z-test; delivery_ratio: two-proportion z-test; throughput:\n"
    "same within +-5%; counters: exact.\n"
    "\n"
    "Exit codes: 0 no gate failed, 2 a gate failed (the last line names the metrics), 3 invalid input, or runs of\n"
    "different scenarios (scenario_sha256, scenario, seed, target or harness_version differ; the message names\n"
    "them) without --allow-different, 4 an output file could not be written.\n";

struct cmp_opts {
  const char *in[2];
  const char *html, *junit, *json, *scenario;
  bool allow_different, quiet;
  struct ch_cmp_gate *gates;
  size_t n_gates;
};

static int parse_args(int argc, char **argv, struct cmp_opts *o) {
  size_t n_in = 0;
  if (!(o->gates = calloc((size_t)argc + 1, sizeof *o->gates)))
    return CH_EXIT_RUN;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **dst = !strcmp(a, "--html")       ? &o->html
                       : !strcmp(a, "--junit")    ? &o->junit
                       : !strcmp(a, "--json")     ? &o->json
                       : !strcmp(a, "--scenario") ? &o->scenario
                                                  : NULL;
    if (dst || !strcmp(a, "--max-regression")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "exit 3: %s needs a value\n", a);
        return CH_EXIT_INPUT;
      }
      if (dst) {
        *dst = argv[++i];
        continue;
      }
      struct ch_buf err = CH_BUF_INIT;
      int rc = ch_cmp_gate_parse(argv[++i], NULL, &o->gates[o->n_gates], &err);
      if (rc)
        fprintf(stderr, "exit 3: --max-regression: %s\n", err.data ? err.data : "invalid");
      ch_buf_free(&err);
      if (rc)
        return CH_EXIT_INPUT;
      o->n_gates++;
    } else if (!strcmp(a, "--allow-different")) {
      o->allow_different = true;
    } else if (!strcmp(a, "--quiet")) {
      o->quiet = true;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(compare_usage, stdout);
      return -1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "%sexit 3: compare: unknown option %s\n", compare_usage, a);
      return CH_EXIT_INPUT;
    } else if (n_in < 2) {
      o->in[n_in++] = a;
    } else {
      fprintf(stderr, "exit 3: compare takes two reports (BASE NEW), found a third: %s\n", a);
      return CH_EXIT_INPUT;
    }
  }
  if (n_in != 2) {
    fprintf(stderr, "%sexit 3: compare needs two reports, BASE and NEW\n", compare_usage);
    return CH_EXIT_INPUT;
  }
  return 0;
}

/* Adds the gates of a scenario file's "compare" section. Returns 0 or an exit code. A run's own scenario.json
   (implicit) that no longer loads here (its ca_file is elsewhere, say) is noted and passed over: it was validated
   when the run started, so its gates were valid. */
static int scenario_gates(const char *path, bool implicit, struct cmp_opts *o) {
  struct ch_scenario *s;
  struct ch_buf err = CH_BUF_INIT;
  if (implicit && access(path, F_OK))
    return 0;
  int rc = ch_scenario_load(path, NULL, 0, &s, &err);
  if (rc && implicit && rc != -ENOMEM) {
    fprintf(stderr, "note: the gates of %s are not used: it does not load here: %.*s\n", path,
            (int)strcspn(err.data ? err.data : "", "\n"), err.data ? err.data : "");
    ch_buf_free(&err);
    return 0;
  }
  if (rc) {
    fprintf(stderr, "%sexit 3: the scenario with the compare gates is not valid: %s\n", err.data ? err.data : "",
            path);
    ch_buf_free(&err);
    return rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT;
  }
  ch_buf_free(&err);
  struct ch_cmp_gate *g = realloc(o->gates, (o->n_gates + s->n_compare_gates + 1) * sizeof *g);
  if (g && s->n_compare_gates) {
    memcpy(g + o->n_gates, s->compare_gates, s->n_compare_gates * sizeof *g);
    o->n_gates += s->n_compare_gates;
  }
  if (g)
    o->gates = g;
  ch_scenario_free(s);
  return g ? 0 : CH_EXIT_RUN;
}

typedef int (*cmp_render)(const struct ch_cmp *c, struct ch_buf *out);

static int write_output(const struct ch_cmp *c, const struct ch_report *r, cmp_render fn, const char *path) {
  if (!path)
    return 0;
  struct ch_buf b = CH_BUF_INIT, err = CH_BUF_INIT;
  int rc = fn(c, &b);
  rc = rc ? rc : ch_report_write_text(r, path, b.data, NULL, &err);
  if (rc)
    fprintf(stderr, "exit 4: %s\n", err.data ? err.data : "out of memory");
  ch_buf_free(&b);
  ch_buf_free(&err);
  return rc ? CH_EXIT_RUN : 0;
}

static int compare_reports(struct cmp_opts *o, struct ch_report *rep[2]) {
  struct ch_cmp c;
  if (ch_cmp_run(rep[0], rep[1], o->gates, o->n_gates, &c)) {
    fprintf(stderr, "exit 4: out of memory\n");
    return CH_EXIT_RUN;
  }
  int code = 0;
  if (c.n_diffs && !o->allow_different) {
    fprintf(stderr, "these are runs of different scenarios:\n");
    for (size_t i = 0; i < c.n_diffs; i++)
      fprintf(stderr, "  %s: %s (BASE) vs %s (NEW)\n", c.diffs[i].field, c.diffs[i].base, c.diffs[i].new_);
    fprintf(stderr, "exit 3: different runs (%s%s): compare needs two runs of one scenario (--allow-different "
                    "compares them anyway)\n",
            c.diffs[0].field, c.n_diffs > 1 ? ", ..." : "");
    ch_cmp_free(&c);
    return CH_EXIT_INPUT;
  }
  struct ch_buf t = CH_BUF_INIT;
  if (!o->quiet && !ch_cmp_text(&c, &t))
    fputs(t.data, stdout);
  ch_buf_free(&t);
  code = write_output(&c, rep[1], ch_cmp_json, o->json);
  code = code ? code : write_output(&c, rep[1], ch_cmp_junit, o->junit);
  code = code ? code : write_output(&c, rep[1], ch_cmp_html, o->html);
  if (!code && c.gates_failed) {
    printf("exit 2: regression: ");
    size_t k = 0;
    for (size_t g = 0; g < c.n_gates; g++) /* in the order the gates were given */
      for (size_t i = 0; i < c.n_rows; i++)
        if (c.rows[i].gate == (int)g && c.rows[i].gate_result == CH_CMP_GATE_FAIL)
          printf("%s%s", k++ ? ", " : "", c.gates[g].text);
    printf(" (%zu of %zu gates)\n", c.gates_failed, c.n_gates);
    code = CH_EXIT_THRESHOLD;
  } else if (!code) {
    printf("exit 0: no regression (%zu gates%s; %zu rows compared)\n", c.n_gates,
           c.gates_inconclusive ? ", some inconclusive" : "", c.n_rows);
  }
  ch_cmp_free(&c);
  return code;
}

int ch_compare_main(int argc, char **argv) {
  struct cmp_opts o = {0};
  int code = parse_args(argc, argv, &o);
  struct ch_report *rep[2] = {NULL, NULL};
  struct ch_buf path = CH_BUF_INIT, err = CH_BUF_INIT;
  for (int i = 0; i < 2 && !code; i++) {
    ch_buf_reset(&path);
    ch_buf_reset(&err);
    if (ch_report_input_path(o.in[i], &path) || ch_report_read_json(path.data, &rep[i], &err)) {
      fprintf(stderr, "exit 3: %s: %s\n", i ? "NEW" : "BASE", err.data ? err.data : o.in[i]);
      code = CH_EXIT_INPUT;
    }
  }
  if (!code) { /* gates of the scenario: --scenario, else the new run's own scenario.json when it has a section */
    ch_buf_reset(&path);
    if (o.scenario) {
      code = scenario_gates(o.scenario, false, &o);
    } else if (!ch_report_input_path(o.in[1], &path)) {
      char *slash = strrchr(path.data, '/');
      ch_buf_reset(&err);
      ch_buf_printf(&err, "%.*sscenario.json", slash ? (int)(slash - path.data + 1) : 0, path.data);
      code = err.data ? scenario_gates(err.data, true, &o) : CH_EXIT_RUN;
    }
  }
  if (!code)
    code = compare_reports(&o, rep);
  ch_report_free(rep[0]);
  ch_report_free(rep[1]);
  ch_buf_free(&path);
  ch_buf_free(&err);
  free(o.gates);
  return code < 0 ? CH_EXIT_OK : code;
}
