/* ch_report: the report of one run (or of merged shards of one run) and its writers/readers.
 *
 * report.json is the source of truth (format "centro-harness-report", version 1, documented in reports/README.md);
 * junit.xml and report.html are rendered from the same model and can be re-rendered from report.json.
 * Credentials: the target is stored redacted (ch_report_set_target), and every writer replaces any text registered
 * with ch_report_add_secret by "[REDACTED]" in its whole output, as a last line of defence.
 */
#ifndef CH_REPORT_H
#define CH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ch_buf.h"
#include "ch_metrics.h"
#include "ch_report_capacity.h"
#include "ch_report_recovery.h"
#include "ch_report_triggers.h"
#include "ch_thresh_expr.h"

#define CH_REPORT_FORMAT "centro-harness-report"
#define CH_REPORT_VERSION 1

/* INCOMPLETE: the run was interrupted before the check's evidence was complete; never counted as passed.
   NOT_RUN: the check's precondition failed (the target is not SignalR, the credentials were refused): neither a pass
   nor a fault of the server. */
enum ch_result { CH_RESULT_PASS, CH_RESULT_FAIL, CH_RESULT_SKIP, CH_RESULT_INCOMPLETE, CH_RESULT_NOT_RUN };
const char *ch_result_name(enum ch_result r); /* "pass", "fail", "skip", "incomplete", "not_run" */

/* A conformance check result. Strings are owned by the report (copied in by ch_report_add_check). */
struct ch_check {
  char *id;          /* "NEG-001" */
  char *description; /* what is checked */
  char *section;     /* protocol section, e.g. "signalr-classic.md 4.2"; may be NULL */
  char *transport;   /* may be NULL when not transport-specific */
  char *evidence;    /* what was observed (especially on failure); may be NULL */
  enum ch_result result;
  uint64_t duration_ns;
};

/* A threshold result: `expression` as written in the scenario (e.g. "update_latency.p99 < 250ms"). */
struct ch_threshold {
  char *expression;
  char *metric;      /* the metric name evaluated (see ch_metrics_lookup) */
  double observed;   /* in the metric's unit (ns for latencies) */
  bool has_observed; /* false when the metric could not be computed (then the threshold fails) */
  enum ch_result result;
};

struct ch_report {
  char *scenario;         /* scenario name */
  char *scenario_path;
  char *scenario_sha256;  /* SHA-256 (hex) of the scenario.json stored beside the report; NULL when none */
  char *target;           /* redacted: no userinfo, query values of token-like keys replaced */
  char *harness_version;
  char *harness_json;     /* the "harness" object of a report read from a file (JSON text), or NULL: this binary's */
  char *exit_reason;      /* one line, e.g. "2 thresholds failed" */
  uint64_t seed;
  int exit_code;          /* enum ch_exit */
  uint64_t start_wall_ns, end_wall_ns;
  unsigned shards;        /* number of reports merged into this one (1 for a plain run) */
  char *ranks_json;       /* run --mpi: run.ranks, the ranks' lines (JSON array text; reports/README.md), or NULL */
  bool partial;           /* a checkpoint written while the run was still going (see reports/README.md) */
  struct ch_report_interrupt {
    char *signal;         /* "SIGINT"/"SIGTERM"; NULL when the run was not interrupted */
    uint64_t at_wall_ns;  /* when the first signal arrived */
    char *phase;          /* what was going on, e.g. "phase 3 (trigger)" */
    bool second_signal;   /* a second signal cut the wind-down short */
  } interrupted;
  char **overrides; size_t n_overrides;   /* "--set key=value" style overrides, as given (redacted) */
  char **notes; size_t n_notes;
  struct ch_check *checks; size_t n_checks, cap_checks;
  struct ch_threshold *thresholds; size_t n_thresholds, cap_thresholds;
  struct ch_metrics *metrics;             /* owned; never NULL after ch_report_new */
  struct ch_capacity *capacity;           /* owned; a capacity search's steps and knee, NULL for other runs */
  struct ch_report_triggers *triggers;    /* owned; a run's per-trigger lines, NULL for other reports */
  struct ch_report_recovery *recovery;    /* owned; a run with a drop phase (reconnect storm), else NULL */
  char **secrets; size_t n_secrets;       /* never written anywhere */
};

/* @return 0 or -ENOMEM. Sets harness_version to the build version, shards to 1, creates an empty metrics set. */
int ch_report_new(struct ch_report **out);
void ch_report_free(struct ch_report *r);

/* Marks the report interrupted by signum at wall time at_ns during `phase`. @return 0 or -ENOMEM. */
int ch_report_set_interrupted(struct ch_report *r, int signum, uint64_t at_ns, const char *phase, bool second);
/* Replaces a string field of the report with a copy of v (NULL clears). @return 0 or -ENOMEM. */
int ch_report_set(char **field, const char *v);
/* Stores the target URL redacted: userinfo dropped, values of query keys such as access_token/token/key/password
   replaced by "[REDACTED]". @return 0 or -ENOMEM. */
int ch_report_set_target(struct ch_report *r, const char *url);
/* Appends url redacted as above to out (a value that is only a template placeholder, "{{key}}", is kept).
   @return 0 or -ENOMEM. */
int ch_report_redact_url(const char *url, struct ch_buf *out);
/* Whether a query parameter, header or field of this name holds a credential: its name contains token, key,
   pass, secret, auth, sig, credential or session (any case). */
bool ch_report_secret_name(const char *name, size_t n);
/* Registers a credential (token...) that must never appear in any output; texts shorter than 4 bytes are ignored. */
int ch_report_add_secret(struct ch_report *r, const char *secret);
/* Replaces the report's metrics with m (taken over; the old set is freed). */
void ch_report_take_metrics(struct ch_report *r, struct ch_metrics *m);

/* Copy-in adders. @return 0, -EINVAL (missing id/description/expression), -ENOMEM. */
int ch_report_add_check(struct ch_report *r, const struct ch_check *c);
int ch_report_add_threshold(struct ch_report *r, const struct ch_threshold *t);
int ch_report_add_note(struct ch_report *r, const char *note);
int ch_report_add_override(struct ch_report *r, const char *override);

/**
 * Evaluates a threshold expression "<metric> <op> <value>[unit]" against the report's metrics and adds the result.
 * op: < <= > >= == !=; units: ns us ms s m h (latencies, converted to ns) or % (value / 100), none = raw number.
 * Example: "update_latency.p99 < 250ms", "delivery_ratio >= 99.9%", "connect_errors == 0".
 * @return 0 (added, pass or fail), -EINVAL for a malformed expression or unknown metric (message in err), -ENOMEM.
 */
int ch_report_eval_threshold(struct ch_report *r, const char *expression, struct ch_buf *err);

/* Counts by result. */
size_t ch_report_count_checks(const struct ch_report *r, enum ch_result which);
size_t ch_report_count_thresholds(const struct ch_report *r, enum ch_result which);

/* Renderers: append the document to out. @return 0 or -ENOMEM. */
int ch_report_json(const struct ch_report *r, struct ch_buf *out);
int ch_report_junit(const struct ch_report *r, struct ch_buf *out);
int ch_report_html(const struct ch_report *r, struct ch_buf *out);

/* Render and write one file (JSON/JUnit/HTML by the function). @return 0, -errno on I/O errors, message in err. */
int ch_report_write_json(const struct ch_report *r, const char *path, struct ch_buf *err);
int ch_report_write_junit(const struct ch_report *r, const char *path, struct ch_buf *err);
int ch_report_write_html(const struct ch_report *r, const char *path, struct ch_buf *err);
/* Creates dir and its parents where missing (an existing folder is fine). @return 0 or -errno (message in err). */
int ch_report_make_dir(const char *dir, struct ch_buf *err);
/* Creates dir (and parents) and writes report.json, junit.xml, report.html into it. */
int ch_report_write_dir(const struct ch_report *r, const char *dir, struct ch_buf *err);
/* Creates dir (and parents) and replaces dir/report.json atomically (temporary file, fsync, rename): a checkpoint. */
int ch_report_write_checkpoint(const struct ch_report *r, const char *dir, struct ch_buf *err);
/* "reports/<scenario>-<YYYYMMDDTHHMMSSZ>" for the given wall time (scenario sanitised to [A-Za-z0-9._-]). */
int ch_report_default_dir(const char *base, const char *scenario, uint64_t wall_ns, struct ch_buf *out);
/**
 * Creates a new report folder: the default name above, or, when it exists already (another run started in the
 * same second), the first free of "<name>-2", "<name>-3", ... (mkdir, so race-free between processes). Creates base
 * first when missing. Never returns an existing folder.
 * @param out  receives the folder's path (replacing its content)
 * @return 0, or -errno (message in err).
 */
int ch_report_reserve_dir(const char *base, const char *scenario, uint64_t wall_ns, struct ch_buf *out,
                          struct ch_buf *err);
/**
 * Writes text to path (temporary file + rename) with every secret registered in r replaced by "[REDACTED]", and,
 * when sha_hex is not NULL, puts the SHA-256 of the bytes written there (65 bytes: 64 hex digits and a NUL).
 * @return 0, or -errno (message in err).
 */
int ch_report_write_text(const struct ch_report *r, const char *path, const char *text, char *sha_hex,
                         struct ch_buf *err);

/**
 * Parses report.json text (including the serialised histograms and time series).
 * @return 0, -EINVAL for a malformed or unsupported document (err names what was wrong), -ENOMEM.
 */
int ch_report_parse_json(const char *text, size_t n, struct ch_report **out, struct ch_buf *err);
/* Reads and parses a file; err names the file. @return as above, or -errno when it cannot be read. */
int ch_report_read_json(const char *path, struct ch_report **out, struct ch_buf *err);

/**
 * Merges a shard's report into dst: metrics merged (histograms losslessly, counters summed, series aligned by
 * wall-clock second), window widened, checks and thresholds appended (a check id present in both keeps the worse
 * result), notes appended, shards summed, exit code the worst; a capacity section is not merged (dst keeps its
 * own). Thresholds should be re-evaluated by the caller on the merged metrics when the expressions are known.
 * @return 0, -EINVAL (different scenario; message in err), -ENOMEM.
 */
int ch_report_merge(struct ch_report *dst, const struct ch_report *src, struct ch_buf *err);

/* Terminal summary: run banner, k6-like latency table (count, p50, p90, p99, p99.9, max in ms), counters, failures
   by reason, per-transport lines, check and threshold results. @return 0 or -EIO. */
int ch_report_print_summary(const struct ch_report *r, FILE *f);

/* Live progress. */
struct ch_progress {
  uint64_t elapsed_ns, total_ns; /* total 0: unknown */
  uint64_t connected, target;
  double messages_per_s;
  uint64_t p50_ns, p99_ns;       /* Update delivery in the last second; 0: none arrived */
  uint64_t errors;
  bool total_estimate;           /* total_ns is an estimate: shown as "~1m00s" */
  const char *phase;             /* the phase being run, or NULL */
  const char *label;             /* what runs, e.g. "step 3/8" or "shard 1/4", or NULL */
};
/* Formats one progress line into buf (always NUL-terminated). tty: "\r...\033[K" form without newline, to be
   rewritten in place; otherwise a plain line ending in "\n" (for CI logs, every 10 s). Example:
   "[12s/~1m00s] step 2/8 trigger  connected 950/1000  msg/s 12.3k  delivery p50 3.1ms p99 12ms  errors 3"
   (label and phase only when given; "-" for latencies when nothing arrived).
   @return the length written. */
size_t ch_progress_format(const struct ch_progress *p, bool tty, char *buf, size_t n);
/* Whether progress should be drawn as a live line: f is a terminal and the environment variable CI is unset. */
bool ch_progress_live(FILE *f);
/* How often a progress line is drawn: every second when live, every 10 s otherwise (a CI log stays readable). */
uint64_t ch_progress_every_ns(bool live);
/* Fills a progress line from a metrics set (last series point, total counters). */
void ch_progress_from_metrics(const struct ch_metrics *m, struct ch_progress *p);

/* CLI: `centro-harness report RUN/report.json [--html F] [--junit F] [--json F] [--summary]` (without options:
   writes report.html and junit.xml next to the input and prints the summary). Returns an enum ch_exit value:
   0 ok, 3 bad input (message on stderr naming the file and the problem). */
int ch_report_main(int argc, char **argv);
/* A command-line report argument: FOLDER/report.json for a folder, else the argument itself. @return 0 or -ENOMEM. */
int ch_report_input_path(const char *arg, struct ch_buf *out);
/* CLI: `centro-harness merge A.json B.json ... -o OUT.json [--html F] [--junit F]`. Returns 0 or 3. */
int ch_merge_main(int argc, char **argv);

#endif /* CH_REPORT_H */
