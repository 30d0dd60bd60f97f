/* ch_runner: `centro-harness run SCENARIO.json`: executes a scenario's timeline against a target (or the embedded
   reference endpoint) with the client engine, judges delivery, evaluates thresholds and writes the report. */
#ifndef CH_RUNNER_H
#define CH_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "ch_buf.h"

struct ch_coord_link;
struct ch_interrupt;
struct ch_live;
struct ch_report;
struct ch_scenario;

/* Called with the embedded reference endpoint's control API base ("http://127.0.0.1:PORT") once it has started
   (started = true) and again when the timeline is over, before it stops (capacity reads its /stats). */
typedef void (*ch_run_embedded_cb)(void *user, const char *control_base, bool started);

struct ch_run_opts {
  const char *scenario_path;
  const char *const *sets;  /* --set PATH=VALUE, as given (plus --target/--seed folded in by the CLI) */
  size_t n_sets;
  const char *token, *token_env, *token_file; /* at most one */
  const char *report_dir;   /* NULL: reports/<scenario>-<UTC time>; the runner writes transcripts/ into it */
  unsigned workers;         /* 0: the scenario's, else one per CPU */
  unsigned processes;       /* 0: the scenario's */
  bool insecure;            /* --insecure (also from the scenario) */
  const char *ca_file;
  const char *cert_file, *key_file; /* --cert, --key: a TLS client certificate (PEM) */
  const char *source_addresses;
  bool quiet;               /* no progress line, no summary */
  const char *progress_label; /* shown in the progress line (a capacity step, a shard); NULL: none */
  bool no_report;           /* do not write report files */
  /* Shards (--processes): this process runs clients with index % shard_count == shard_index. */
  unsigned shard_index, shard_count;
  int barrier_in, barrier_out; /* shard only: pipe ends for phase barriers with the parent; -1 otherwise */
  struct ch_coord_link *coord_link; /* shard only: a link to the coordinator the caller owns (an MPI rank's) */
  ch_run_embedded_cb on_embedded; /* NULL: none */
  void *on_embedded_user;
  /* SIGINT/SIGTERM (opened by the caller on this thread); NULL: signals keep their default disposition. */
  struct ch_interrupt *intr;
  /* Checkpoints: report.json rewritten (marked partial) into this folder every checkpoint_ns during the run;
     NULL: none. checkpoint_ns 0: every 30 s. */
  const char *checkpoint_dir;
  uint64_t checkpoint_ns;
  /* --metrics-listen, --dashboard, --out (opened by the caller for the life of the process); NULL: none. */
  struct ch_live *live;
};

struct ch_tls_opts;
/* The TLS settings every connection of a run to its target uses: the command line's over the scenario's
   target.tls (--key only with --cert). Strings are borrowed from o and s. */
void ch_run_tls_opts(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_tls_opts *out);

/**
 * Runs the scenario (already loaded) and fills report (checks, thresholds, metrics, run info).
 * @return an enum ch_exit value; on CH_EXIT_RUN or CH_EXIT_INPUT, err says why.
 */
int ch_run_execute(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *report,
                   struct ch_buf *err);

/* `centro-harness run SCENARIO.json [options]`: argv[0] is "run". Returns an enum ch_exit value. */
int ch_run_main(int argc, char **argv);
/* `centro-harness capacity SCENARIO.json [options]`: steps the scenario's "capacity" dimension until an SLO breaks
   and reports the knee. Same options as run. Returns an enum ch_exit value. */
int ch_capacity_main(int argc, char **argv);

/* The options run and capacity share. */
struct ch_run_cli {
  struct ch_run_opts o;
  const char **sets; /* --set values plus target.url=/seed= folded in */
  size_t n_sets;
  char *owned[2];
  /* watching it live (ch_run_live.c): --metrics-listen, --dashboard, --dashboard-allow-stop, --out, --linger */
  const char *metrics_listen, *dashboard, *out;
  bool allow_stop, linger;
  bool mpi;            /* --mpi: one run over the ranks of mpirun (ch_run_mpi.h) */
  double mpi_timeout_s; /* --mpi-timeout (default 30): a rank silent this long is lost */
};
/* Parses argv (argv[0] is the command); prints usage errors. Returns -1 to go on, else the exit code to return
   (0 after --help). Free with ch_run_cli_free either way. */
int ch_run_cli_parse(int argc, char **argv, const char *usage, struct ch_run_cli *c);
void ch_run_cli_free(struct ch_run_cli *c);
/* Opens the live outputs the options ask for into c->o.live and prints where they are (stderr); processes > 1 is
   refused. Returns CH_EXIT_OK (c->o.live stays NULL when none was asked for), CH_EXIT_INPUT or CH_EXIT_RUN, the
   reason printed. */
int ch_run_live_open(struct ch_run_cli *c, const char *title, unsigned processes);
/* After the report was written into dir: the dashboard shows it; with --linger, serves on until a signal comes
   (intr open, NULL: no linger). Then closes the outputs. */
void ch_run_live_finish(struct ch_run_cli *c, const char *dir, struct ch_interrupt *intr);
/* Refuses, before anything is written, the input ch_run_execute would refuse (credentials that cannot be read, a
   reference trigger with an external target, bad --source-addresses), and registers the credentials as rep's
   secrets. Returns CH_EXIT_OK, CH_EXIT_INPUT (err says why) or CH_EXIT_RUN (out of memory). */
int ch_run_check_input(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                       struct ch_buf *err);
/* Creates the report folder into dir: o->report_dir as given (created when missing), else a new
   reports/<scenario>-<UTC time>[-N] (never an existing folder); writes the effective scenario into it as
   scenario.json (ch_scenario_to_json_stored) and its SHA-256 into rep. Returns CH_EXIT_OK or CH_EXIT_RUN. */
int ch_run_prepare_dir(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                       struct ch_buf *dir, struct ch_buf *err);
/* Removes what ch_run_prepare_dir wrote (a run that ended up refusing its input): scenario.json, and the folder
   when it created it and nothing else is in it. */
void ch_run_discard_dir(const char *dir, bool created);
/* Prints the summary (unless quiet), writes report.json, junit.xml and report.html into dir, and says where. */
void ch_run_publish_report(const struct ch_report *rep, const char *dir, bool quiet);

#endif /* CH_RUNNER_H */
