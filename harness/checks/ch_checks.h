/* ch_checks: the conformance catalogue and the `centro-harness check` command.
   Every check is a precise, sequential protocol probe run on the calling thread (libcurl easy for HTTP, a small
   blocking WebSocket client over a curl CONNECT_ONLY connection); none of this is load. */
#ifndef CH_CHECKS_H
#define CH_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

struct ch_scenario;

struct ch_interrupt;

/* Transports, as a bit mask. */
enum ch_transport_bit {
  CH_T_WS = 1u << 0,  /* webSockets */
  CH_T_SSE = 1u << 1, /* serverSentEvents */
  CH_T_LP = 1u << 2,  /* longPolling */
  CH_T_ALL = CH_T_WS | CH_T_SSE | CH_T_LP,
};

/* "webSockets", "serverSentEvents", "longPolling" (NULL for anything else). */
const char *ch_tmask_name(unsigned bit);
/* Parses a comma-separated list of transport names (case-insensitive; "ws", "sse", "lp" and "all" too). */
int ch_tmask_parse(const char *s, unsigned *mask);

/* One entry of the catalogue: a stable id, what it enforces and where the protocol doc says so.
   transports == 0: the check is transport-independent and runs once; otherwise once per offered transport. */
struct ch_check_def {
  const char *id;          /* "NEG-001" */
  const char *family;      /* "negotiate", "lifecycle", "invoke", "delivery", "auth", "keepalive", "reconnect" */
  const char *description; /* one line */
  const char *section;     /* protocol-doc section, e.g. "§2" */
  unsigned transports;
};

/* Detection power of the burst checks: the burst is sized so that a fault hitting each Update of one connection
   independently at CH_CHECK_FAULT_RATE (loss, duplication, or reordering with the next Update) is seen with at least
   CH_CHECK_CONFIDENCE probability on every transport. */
#define CH_CHECK_FAULT_RATE 0.01
#define CH_CHECK_CONFIDENCE 0.999
#define CH_CHECK_BURST_MAX 100000u
/* Whether a check is judged on the delivery burst (its detection power is stated in --list and its evidence). */
bool ch_check_uses_burst(const struct ch_check_def *d);
/* The smallest burst n whose weakest detection (reordering: n - 1 adjacent pairs) reaches confidence:
   (1 - rate)^(n - 1) <= 1 - confidence. 689 for 1% and 99.9%. */
unsigned ch_checks_burst_size(double rate, double confidence);
/* The probability that a burst of n Updates shows a fault of the given per-Update rate: 1 - (1 - rate)^(n - 1). */
double ch_checks_burst_power(unsigned n, double rate);
/* "burst of 689 Updates per connection: a 1% loss, duplication or reordering is detected with probability 99.90%"
   (with the weaker power spelt out when n is below the default size). */
void ch_checks_burst_describe(unsigned n, struct ch_buf *out);

/* The catalogue, in run order. Never NULL; *n gets the count. */
const struct ch_check_def *ch_checks_catalogue(size_t *n);
/* NULL when the id is unknown. */
const struct ch_check_def *ch_check_find(const char *id);

/* SKIP: the check does not apply or lacks an input (no trigger, no second user). INCOMPLETE: not run, or cut short,
   because the command was interrupted (SIGINT/SIGTERM). NOT_RUN: its precondition failed (negotiate not answered as
   SignalR, credentials refused): neither a pass nor a fault of the server. */
enum ch_check_status {
  CH_CHECK_PASS = 0,
  CH_CHECK_FAIL = 1,
  CH_CHECK_SKIP = 2,
  CH_CHECK_INCOMPLETE = 3,
  CH_CHECK_NOT_RUN = 4
};
/* "pass", "FAIL", "skip", "incomplete", "not run" (as the terminal shows them). */
const char *ch_check_status_name(enum ch_check_status st);

/* One result: a catalogue entry on one transport (transport NULL when transport-independent). */
struct ch_check_result {
  const struct ch_check_def *def;
  const char *transport;
  enum ch_check_status status;
  char *message;         /* one line: why it failed or was skipped ("" when passed) */
  char *evidence;        /* request + response excerpt + expectation, credentials redacted; may be "" */
  char *transcript_path; /* JSON Lines wire transcript kept for a failure, relative to the report dir, or NULL */
  uint64_t duration_ns;
};

struct ch_checks_results {
  struct ch_check_result *items;
  size_t n, cap;
  unsigned passed, failed, skipped, not_run;
  bool strict;         /* --strict: a skipped check fails the gate */
  char precondition[256]; /* why nothing could run ("credentials refused: ..."), or "" */
  unsigned transports; /* the transports checked (asked for and offered) */
  char endpoint[256];  /* the SignalR endpoint checked, redacted */
  char trigger[256];   /* how Updates were caused, redacted */
  int run_error;       /* 0, or negative errno-style: the run could not be carried out (exit 4) */
  char run_error_msg[256];
  unsigned incomplete;       /* results CH_CHECK_INCOMPLETE */
  char interrupted_at[96];   /* where the first signal found the run ("" when it was not interrupted) */
};

void ch_checks_results_free(struct ch_checks_results *r);

struct ch_checks_opts {
  const char *target;        /* base URL (…/signalr appended when the path does not end in it); NULL = embedded */
  const char *token;         /* main user credential: "Bearer abc" or just "abc" (Bearer assumed) */
  const char *token2;        /* another user's credential, for the 403 replay check */
  const char *bad_token;     /* a token the target must refuse (401); a made-up one when NULL */
  const char *hub;           /* the main hub, "ResourceEventHub" (NULL) or "JobEventHub"; the other isolates */
  const char *key;           /* the part key / pipeline id to subscribe to; a fresh one when NULL */
  const char *key2;          /* a second key the main user may subscribe to (isolation); key + "0" when NULL */
  long max_latency_ms;       /* DEL-008 bound on the median trigger-to-Update latency; 0 = 250 */
  unsigned burst;            /* Updates per delivery burst; 0 = ch_checks_burst_size(CH_CHECK_FAULT_RATE, …) */
  const char *forbidden_key; /* a key the main user may not subscribe to; the check is skipped when NULL */
  const char *trigger_file;  /* JSON HTTP request template; NULL = passive (or the embedded control API) */
  const struct ch_scenario *scenario; /* --scenario FILE: its trigger when there is no trigger_file (may be NULL) */
  unsigned transports;       /* 0 = every transport the target offers */
  const char *only;          /* comma-separated check ids or families to run; NULL = all */
  long timeout_ms;           /* per probe; 0 = 5000 */
  long passive_wait_ms;      /* how long delivery checks wait without a trigger; 0 = 3000 */
  const char *ca_file;       /* https/wss: trust this CA bundle (PEM) */
  int insecure;              /* https/wss: do not verify the certificate (staging with self-signed certificates) */
  const char *cert_file;     /* https/wss: TLS client certificate (PEM; NULL: none) */
  const char *cert_key_file; /* its private key (PEM; NULL: in cert_file) */
  const char *report_dir;    /* where failing transcripts go (the report files are written by ch_check_main) */
  uint64_t seed;             /* keys and nonces; 0 = from the clock */
  int verbose;
  /* Embedded endpoint only (target == NULL): which fault to start it with (NULL = conformant). */
  const char *fault;
  /* SIGINT/SIGTERM, opened by the caller: after the first signal no further check starts (the one running ends
     normally) and the checks not run are recorded incomplete; a second one aborts the probe in progress. */
  struct ch_interrupt *intr;
  int strict;                /* a skipped check fails the gate (exit 1) */
  /* Tokens with a lifetime (check --scenario with target.auth.login or command: ch_check_auth.h): called before each
     check family with the longest family so far; it may replace token and token2 (the strings stay valid until the
     run ends). Nonzero (err says why) ends the run: exit 4. NULL: the credentials never change. */
  int (*renew)(void *arg, uint64_t span_ns, const char **token, const char **token2, struct ch_buf *err);
  void *renew_arg;
};

/* Runs the catalogue against opts->target (or an embedded reference endpoint) and appends results to out.
   Returns 0 when the run was carried out (see out->failed), -EINVAL on invalid options or trigger file, or another
   negative code when the run could not be carried out (target unreachable, port in use; out->run_error_msg says). */
int ch_checks_run(const struct ch_checks_opts *opts, struct ch_checks_results *out);

/* The exit code for a finished run (enum ch_exit) and the last line to print, e.g.
   "exit 1: conformance check failed (3 of 41)". A gate cannot go green by skipping: 0 needs at least one check
   passed and none failed (with r->strict, none skipped either); checks not run for a failed precondition, or no
   check passed at all, give 4 with the cause. */
int ch_checks_exit_code(const struct ch_checks_results *r, int run_rc, struct ch_buf *last_line);

struct ch_report;
/* Appends every result to a report (metrics area) as a ch_check: message, evidence and the transcript path go into
   its evidence text. Returns 0 or -ENOMEM. */
int ch_checks_to_report(const struct ch_checks_results *r, struct ch_report *rep);
/* ch_checks_run + ch_checks_to_report, for the runner: returns a negative code when the run could not be carried
   out (as ch_checks_run), else the exit code (0 or CH_EXIT_CHECK_FAILED); a note with the verdict is added on
   failure. */
int ch_checks_run_report(const struct ch_checks_opts *opts, struct ch_report *rep);

/* `centro-harness check …` (argv[0] is "check"). Prints the summary and the last line; returns the exit code. */
int ch_check_main(int argc, char **argv);

#endif /* CH_CHECKS_H */
