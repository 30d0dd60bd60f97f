/* Internals shared by the runner's files: the run context (shared, read-mostly) and one worker's part of it. */
#ifndef CH_RUN_INT_H
#define CH_RUN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "ch_client.h"
#include "ch_coord.h"
#include "ch_delivery.h"
#include "ch_engine.h"
#include "ch_metrics.h"
#include "ch_report.h"
#include "ch_rng.h"
#include "ch_runner.h"
#include "ch_scenario.h"
#include "ch_token.h"
#include "ch_trigger.h"

/* The key universe of a run: every key any population can subscribe to or any trigger names. Read-only once the
   run starts, so workers look keys up without locks. */
struct run_keys {
  char **names;
  size_t n;
  uint32_t *slots; /* open addressing: index+1, 0 = empty */
  size_t nslots;
};
int run_keys_add(struct run_keys *k, const char *name, size_t len, uint32_t *idx);
/* -1 when unknown. */
long run_keys_find(const struct run_keys *k, const char *name, size_t len);
void run_keys_free(struct run_keys *k);

enum run_tphase_kind { RUN_TP_TRIGGER, RUN_TP_SILENCE, RUN_TP_DROP };

/* The triggers of one phase: trigger j (0 <= j < n) changes key order[j % K] and carries that key's sequence number
   base[key] + j / K + 1. Written by the main thread before the phase starts; read-only afterwards. */
struct run_tphase {
  enum run_tphase_kind kind;
  uint32_t first; /* index of trigger 0 in run.trig */
  uint32_t n, K;
  uint32_t *order; /* K key indexes */
  int32_t *pos;    /* per key: its position in order, or -1 */
  uint32_t *base;  /* per key: the last sequence number before this phase */
  uint64_t start_ns, end_ns; /* monotonic: phase start (subscription state is judged at start) and end */
  uint32_t n_sent; /* triggers actually sent: n, or fewer when an interruption cancelled the rest (a prefix) */
  uint32_t trigger; /* the scenario's trigger that sends them (index into scenario.triggers) */
  uint32_t live_pos; /* triggers seen sent by the live outputs' watcher (its thread only) */
};

struct run_worker;

/* A session's subscription interval of one key: Subscribe sent/acknowledged, Unsubscribe sent/acknowledged (0 = not
   yet; a session that leaves closes its open intervals at the time it stopped). It is owed the Updates published
   between the acknowledgement plus the grace and the end minus the grace (ch_run_sessions.c). */
struct run_ival {
  uint64_t sub_sent_ns, sub_ack_ns, unsub_sent_ns, unsub_ack_ns;
  bool failed;       /* the Subscribe failed */
  bool first_seen;   /* its first Update arrived (first_update latency recorded) */
};

/* Per client, per subscribed key. */
struct run_sub {
  uint32_t key;
  uint64_t sub_sent_ns, sub_ack_ns;     /* 0 = not sent / not acknowledged */
  uint64_t unsub_sent_ns, unsub_ack_ns;
  bool sub_failed;
  struct ch_delivery dl;
  uint32_t after_unsub;                 /* Updates received later than unsubscribe ack + grace (sessions: published
                                           outside every interval of the key, grace included) */
  /* Session populations only: the key's intervals in the current session (compact, grown by doubling) */
  struct run_ival *iv;
  uint32_t n_iv, cap_iv;
  bool held;                            /* subscribed (or being subscribed) now */
};

struct run_client {
  struct ch_client *c;
  struct run_worker *w;
  uint32_t pop, index;                  /* population; global client index */
  struct ch_metrics_group *g;           /* (population, transport) */
  struct run_sub *subs;
  uint32_t n_subs;
  bool started, connected, closed, dropped, reconnected, bad_creds;
  bool stopping;                        /* ch_client_stop called in a disconnect, not yet closed */
  bool waiting;                         /* has an outstanding operation in the current phase */
  int inv_phase;                        /* the phase its Subscribe/Unsubscribe invocations belong to */
  struct ch_client_failure failure;     /* copy of the final failure, if any */
  uint32_t unexpected;                  /* Updates for keys this client never subscribed to */
  struct ch_buf trace;                  /* JSON Lines transcript (redacted by the engine), capped; see RUN_TRACE_MAX */
  uint32_t invalid;                     /* Updates whose key/sequence could not be read */
  /* The last time it was disconnected: transport lost -> reconnected (0 while still away). An Update published in
     between can only come by replay, so it is judged from the reconnect (RUN-REPLAY), not from its trigger. */
  uint64_t away_ns, back_ns;
  bool reconnecting;                    /* counted in its group's reconnecting gauge */
  uint32_t closes_seen;                 /* the engine's server_closes when last looked at */
  uint32_t closes_in_drop;              /* of them, those during a drop_reconnect phase (allowed) */
  /* The reconnect storm (ch_run_storm.c): up when the drop was sent; when it was back and first received again. */
  bool storm, storm_new;                /* storm_new: it came back on a new connection (client_model official-js) */
  bool storm_live;                      /* received an Update published after it was back */
  bool renewing;                        /* a new connection replaces one that could not reconnect (official-js) */
  uint32_t renewals;                    /* ... so many times (at most RUN_RENEW_MAX) */
  uint64_t storm_back_ns, storm_rx_ns;
  /* Session populations (ch_run_sessions.c): the client is a slot that successive sessions reuse. */
  bool session;                         /* a slot of a session population */
  bool sess_active;                     /* a session occupies the slot (until its client closed and was judged) */
  bool churning;                        /* unsubscribed one key, thinking before subscribing the next */
  uint32_t cap_subs;
  uint32_t n_sessions;                  /* sessions this slot has run */
  uint64_t sess_end_ns, churn_ns, think_ns; /* monotonic: when it leaves, churns next, subscribes after thinking */
  uint64_t sess_start_ns;               /* when the session started */
  uint64_t sess_stop_ns;                /* when it was stopped (the end of its open intervals); 0 while running */
  struct ch_rng sess_rng;
};

/* Fail fast (ch_run_failfast.c): why valid-credential clients failed to connect, counted per cause. */
enum run_ff_cause { RUN_FF_401, RUN_FF_403, RUN_FF_404, RUN_FF_REFUSED, RUN_FF_TLS, RUN_FF_NOT_SIGNALR, RUN_FF_TIMEOUT,
                    RUN_FF_SERVER, RUN_FF_OTHER, RUN_FF_N };
struct run_ff {
  _Atomic uint64_t connected;          /* valid-credential clients that connected */
  _Atomic uint64_t failed[RUN_FF_N];   /* ... that closed before connecting, by cause */
  char first[RUN_FF_N][192];           /* the first message of each cause (written and read under run.mu) */
};
/* Totals over the workers at one moment (main thread). */
struct run_ff_mark {
  uint64_t connected, failed[RUN_FF_N];
};

struct run_worker {
  struct ch_run *run;
  struct ch_worker *w;
  unsigned index;
  struct ch_metrics *m;
  struct run_client **clients;          /* this worker's clients (pointers stable) */
  size_t n_clients;
  size_t next_start;                    /* connect ramp position */
  size_t ramp_started;
  uint64_t ramp_t0;
  uv_timer_t ramp, tick;
  bool timers_open;
  double ramp_rate;                     /* clients per second on this worker; 0 = all at once */
  long pending;                         /* operations of the current phase still outstanding */
  int phase;                            /* index of the phase being executed */
  enum ch_scn_phase_type phase_type;
  int phase_pop;                        /* -1 all */
  bool phase_reported;
  uint64_t *fan_last;                   /* per trigger: the latest receive time on this worker */
  struct ch_hist *trig_lat;             /* per scenario trigger: update_latency of its Updates on this worker */
  uint64_t late;                        /* Updates later than the deadline after their trigger */
  uint64_t replayed, late_replay;       /* Updates published while their subscriber was away; those later than the
                                           deadline after its reconnect */
  struct ch_buf scratch;
  /* progress, published once a second for the main thread */
  _Atomic uint64_t p_connected, p_msgs, p_errors;
  _Atomic uint64_t p_updates;           /* first receipts of Updates, live (relaxed) */
  unsigned stops_in_flight;             /* disconnect: clients stopped and not yet closed (RUN_STOP_WINDOW) */
  bool pumping;                         /* inside rw_pump_stops: callbacks it causes do not re-enter it */
  struct ch_metrics *snap;              /* checkpoint: a copy of m made on this thread, for the main thread */
  struct run_ff ff;
  uint64_t storm_fail[CH_RECOVERY_CAUSES]; /* failed /reconnect attempts of storm clients, by cause */
  /* abort_on_fail (ch_run_abort.c): a copy of m taken on the worker's tick, for the watcher thread */
  pthread_mutex_t abort_snap_mu;
  struct ch_metrics *abort_snap;
  /* target.auth.login/command (ch_run_auth.c): every user's current token, this thread's own copy */
  char **auth_tok;
  size_t n_auth_tok;
  uint32_t *auth_first, *auth_next;     /* per user its first client (index into clients), per client the next of
                                           its user; UINT32_MAX ends a list (valid-credential clients only) */
  /* Session populations (ch_run_sessions.c) */
  uv_timer_t sess_timer;
  bool sess_on;                         /* a steady phase runs: sessions arrive */
  uint64_t sess_t0;                     /* its start (monotonic) */
  uint64_t sess_last;                   /* the previous tick */
  double sess_acc[64], sess_next[64];   /* per population: arrivals accumulated, the next arrival's threshold */
  double sess_share[64];                /* per population: this worker's share of its slots (and arrivals) */
  uint64_t sess_capped;                 /* arrivals that found every slot busy (max_concurrent) */
  _Atomic uint64_t sess_live_target[64]; /* per closed-model population: its slots here that the stages want open
                                            now (0 outside steady), for the live outputs' thread (relaxed) */
  struct ch_rng arr_rng;
  struct run_tally *stally;             /* ended sessions, judged as they end */
};

struct ch_run {
  const struct ch_scenario *s;
  const struct ch_run_opts *o;
  struct ch_url target;                 /* effective target */
  bool embedded;
  char control_base[96];                /* "http://127.0.0.1:PORT" of the reference endpoint's control API */
  struct ch_tokens tokens;
  struct ch_auth *auth;                 /* target.auth.login/command: tokens fetched and refreshed (ch_run_auth.c) */
  enum ch_scn_auth_mode auth_mode;      /* the file's, or header mode when only the command line gives a token */
  const char *hub_names[2];
  struct ch_engine *engine;
  unsigned n_workers;
  struct run_worker **workers;
  struct run_keys keys;
  uint64_t wall_minus_mono;             /* wall clock - monotonic clock, ns, taken once */
  uint64_t t0;                          /* run start */
  struct ch_run_progress *progress;     /* the progress line's thread, NULL when quiet */
  uint64_t run_id;                      /* prefix of this run's trigger nonces ("<run_id hex>-<index>") */
  /* Triggers: preallocated for the whole run, filled phase by phase by the main thread. */
  struct ch_trig *trig;
  size_t n_trig, cap_trig;
  struct run_tphase *tphases;
  _Atomic size_t n_tphases; /* published with release after the phase is filled */
  size_t cap_tphases;
  uint32_t *key_seq;                    /* per key: the last sequence number used (main thread) */
  bool *key_subscribed;                 /* per key: some client subscribes to it */
  uint8_t *key_hub;                     /* per key: enum ch_scn_hub of the first population naming it (or of the
                                           trigger listing it with "hub"/"clients") */
  uint8_t *key_trigger;                 /* per key: the scenario trigger driving it, RUN_NO_TRIGGER when none */
  uint32_t *subs_per_key;               /* per key: clients with valid credentials subscribing to it */
  uint64_t trig_interval_ns;            /* open-model interval (for reports) */
  /* Phase barrier: workers report completion of the current phase. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned workers_done;
  int phase;
  /* Interruption and checkpoints (ch_run_stop.c; main thread only, except snap_done). */
  struct ch_report *rep;                /* the report being filled: checkpoints write its header */
  int cur_phase;                        /* the phase the timeline is in; -1 set-up, n_phases wind-down */
  unsigned stop;                        /* 0 running, 1 stop gracefully (first signal), 2 stop at once */
  unsigned stop_at;                     /* the waits end early once stop >= stop_at */
  int stop_phase;                       /* cur_phase when the first signal came */
  bool drain_done;                      /* the cut trigger phase waited for the Updates already due */
  uint64_t ckpt_next;                   /* monotonic time of the next checkpoint (0: none) */
  bool snap_pending;                    /* snapshot tasks posted, not all answered */
  _Atomic unsigned snap_done;           /* workers that answered the snapshot task */
  /* abort_on_fail (ch_run_abort.c): the watcher sets aborted once a marked threshold is lost; the trigger sender
     and the timeline stop on it. abort_reason and abort_stop are under mu. */
  bool abort_on, abort_ready, abort_running, abort_stop;
  bool snap_on;                         /* the workers snapshot on their tick: abort_on or live outputs */
  atomic_bool aborted;
  pthread_cond_t abort_cv;
  pthread_t abort_thread;
  char abort_reason[384];
  /* Live outputs (ch_run_live.c): the phase and its start for the snapshot thread, trigger failures counted as each
     phase's sender is joined, and how far the count of sent triggers got (snapshot thread only). */
  _Atomic int live_phase;               /* -1 before the first phase */
  _Atomic uint64_t live_phase_start;    /* ns after t0 */
  _Atomic uint64_t live_trig_failed;
  /* A shard of a coordinated run (ch_coord_shard.c): its link to the coordinator, NULL otherwise. */
  struct ch_coord_link *coord;
  bool coord_plans;                     /* the coordinator sends the triggers; this shard installs its plans */
  int coord_started;                    /* the phase the coordinator last started, -1 none yet */
  uint64_t coord_t0;                    /* GO's t0 of the last plan installed (PROGRESS times are offsets) */
  bool coord_in_wait, coord_abort_told; /* inside sc_wait; this shard's abort was told to the coordinator */
  /* The coordinator's run: true once a shard was lost; run_poll then stops the run as a first signal would. */
  bool (*coord_lost)(void *user);
  void *coord_user;
  /* The reconnect storm (main thread): when the drop request was sent, what it answered. */
  uint64_t storm_t0;
  bool storm_drop_ok;
  char storm_drop[256];
};

/* Transcripts are kept per client, up to this many bytes each, in runs of at most RUN_TRACE_CLIENTS clients; the
   transcripts of failing clients are written to <report dir>/transcripts/client-<index>.jsonl. */
#define RUN_TRACE_MAX 16384
#define RUN_TRACE_CLIENTS 2000
/* Subscribe/Unsubscribe invocations in flight per worker: over SSE and long polling each is a POST /send, and
   tens of thousands at once would swamp both ends. */
#define RUN_INVOKE_WINDOW 256
/* Clients stopped (POST /abort, close) at once per worker in a disconnect: stopping 19,000 at once held one abort
   request's buffers per client and took RSS to 2.65x what holding them cost. */
#define RUN_STOP_WINDOW 128
/* client_model official-js: new connections per client after failed reconnects (a web app retries forever; a run
   stops a loop against a server that never takes one). */
#define RUN_RENEW_MAX 5

/* target.auth.login and target.auth.command (ch_run_auth.c); the int functions return an enum ch_exit value unless
   said otherwise. */
struct ch_auth;
/* Reads the users (exit 3 on bad input) and registers their passwords as secrets of rep. */
int run_auth_check_input(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                         struct ch_buf *err);
/* Fetches the first tokens of this shard's users (exit 4 naming the failed login). */
int run_auth_begin(struct ch_run *r, struct ch_buf *err);
int run_auth_workers(struct ch_run *r);                  /* each worker's copy of the tokens: 0 or -ENOMEM */
int run_auth_start(struct ch_run *r, struct ch_buf *err); /* the refreshers, once the workers run: 0 or -errno */
/* The current token of a client (its user's), on the worker's thread. */
const char *run_auth_token(const struct run_worker *rw, uint32_t client_index);
void run_auth_drain(struct ch_run *r);                   /* registers new tokens as secrets of r->rep */
void run_auth_end(struct ch_run *r, struct ch_report *rep); /* stops refreshing; the RUN-TOKEN-REFRESH check */
void run_auth_free(struct ch_run *r);

/* Worker side (ch_run_worker.c). Each runs on the worker's thread through ch_engine_post. */
void run_worker_setup(struct ch_worker *w, void *arg);   /* arg: struct run_worker */
/* The task that starts a phase on a worker; freed by the worker. */
struct run_phase_task {
  struct run_worker *rw;
  int phase;
  enum ch_scn_phase_type type;
  int pop;         /* -1: every population */
  double fraction; /* drop_reconnect */
  bool prepare;    /* drop: only mark the connections the drop will hit (the request follows) */
  bool end_sessions; /* steady: the phase's end (every session leaves) rather than its start */
};
void run_worker_phase(struct ch_worker *w, void *arg);   /* arg: struct run_phase_task (freed) */
void run_worker_teardown(struct ch_worker *w, void *arg);
void run_worker_stopping(struct ch_worker *w, void *arg); /* engine on_stop; arg: struct ch_run */
/* Looks up the trigger of (key, seq); -1 when the run did not send it. */
long run_trigger_index(const struct ch_run *r, uint32_t key, uint32_t seq);
/* Tells the main thread that this worker finished its part of the current phase (once per phase). */
void run_worker_report_done(struct run_worker *rw);

/* What the timeline did, for judging. */
#define RUN_NO_TRIGGER 0xffu

struct run_outcome {
  struct ch_trigger_result trig;  /* summed over phases and triggers */
  struct ch_trigger_result trig_each[CH_SCN_TRIGGERS_MAX]; /* per scenario trigger, summed over phases */
  bool had_subscribe, had_unsubscribe, had_silence, had_drop, had_triggers, had_storm;
  bool had_sessions;              /* a steady phase ran session populations */
  bool timed_out[64];             /* per phase (first 64) */
  struct ch_buf failfast;         /* set: a connect phase ended with no valid client connected; why, in words */
  uint64_t start_wall, end_wall;
};

/* What the clients of a run received, summed for the checks; evidence names a few example clients. */
struct run_tally {
  uint64_t valid, connected, bad, bad_connected, bad_wrong_status;
  uint64_t sub_failed, subs;
  uint64_t expected, missing, replay_expected, replay_missing, dups, ooo, unexpected, after_unsub, invalid, late;
  uint64_t dropped, reconnected;
  uint64_t sess_early;                  /* sessions that left (lifetime or steady's end) before they could connect */
  uint64_t server_closes, closes_unexpected; /* all, and those outside drop phases */
  struct ch_buf ev_close;
  unsigned n_ev_close;
  uint64_t t_expected[CH_SCN_TRIGGERS_MAX], t_missing[CH_SCN_TRIGGERS_MAX]; /* per scenario trigger */
  struct ch_buf ev_connect, ev_auth, ev_delivery, ev_replay, ev_isolation, ev_unsub, ev_dup, ev_order;
  unsigned n_ev_connect, n_ev_auth, n_ev_delivery, n_ev_replay, n_ev_isolation, n_ev_unsub, n_ev_dup, n_ev_order;
};

/* ch_run_progress.c: the connect ramp's pace (clients per second over the whole run; 0: all at once) and the
   number of triggers trigger t sends in a trigger or verify_silence phase (keys: the keys it triggers; a double, as
   it may be too large to plan). */
double run_ramp_pace(const struct ch_scenario *s);
double run_phase_triggers(const struct ch_scn_trigger *t, const struct ch_scn_phase *ph, size_t keys);

/* ch_run_output.c: true (err says why) when the scenario's reference trigger cannot reach an external target. */
bool run_reference_needs_embedded(const struct ch_scenario *s, struct ch_buf *err);
/* ch_run_storm.c: the reconnect storm. Worker side: mark the clients up before the drop, then wait for them;
   note one back (reconnected or on a new connection), or a failed attempt. Main thread: send the drop request (the
   phase's url or the reference endpoint's /drop), then the report's recovery figures and RUN-RECOVERY. */
void run_storm_mark(struct run_worker *rw);
void run_storm_await(struct run_worker *rw);
void run_storm_back(struct run_client *rc, uint64_t now);
void run_storm_attempt_failed(struct run_client *rc, const struct ch_client_failure *f);
int run_storm_drop(struct ch_run *r, const struct ch_scn_phase *ph);
int run_storm_report(struct ch_run *r, const struct run_tally *t, uint64_t replayed, struct ch_report *rep);
int run_storm_check(const struct ch_run *r, const struct ch_report_recovery *rv, struct ch_report *rep);
/* ch_run_failfast.c. The cause of a failure message; worker side: note a valid client's connect or its failure before connecting. */
enum run_ff_cause run_ff_classify(const char *m);
void run_ff_connected(struct run_worker *rw, const struct run_client *rc);
void run_ff_failed(struct run_worker *rw, const struct run_client *rc, const struct ch_client_failure *f);
/* Main thread: take the totals before a connect phase; after it, true (with the cause in words) when no
   valid-credential client of population pop (-1: all) connected during it. */
void run_ff_mark(const struct ch_run *r, struct run_ff_mark *m);
bool run_ff_check(struct ch_run *r, const struct run_ff_mark *before, int pop, uint64_t timeout_ns,
                  struct ch_buf *cause);

/* ch_run_abort.c. Main thread: init before the engine starts (per-worker snapshot locks when a threshold has
   abort_on_fail), watch once it runs, end after the timeline (joins the watcher), free from run_free. Worker side:
   the snapshot, on each tick when r->abort_on. */
int run_abort_init(struct ch_run *r);
int run_abort_watch(struct ch_run *r);
void run_abort_end(struct ch_run *r);
void run_abort_free(struct ch_run *r);
void run_abort_snapshot(struct run_worker *rw);
/* Whether the latency metric a threshold names has samples in m (a threshold without a latency always has). */
bool run_abort_has_samples(const struct ch_metrics *m, const struct ch_scn_threshold *t);

/* ch_run_live.c: the live outputs (o->live). The timeline enters phase i (main thread); one second's merged
   snapshot (the snapshot thread); the run's end figures (main thread, after the workers were joined). */
void run_live_phase(struct ch_run *r, size_t i);
void run_live_second(struct ch_run *r, const struct ch_metrics *m);
void run_live_final(struct ch_run *r, const struct ch_metrics *m);

/* ch_run_plan.c (main thread). */
/* ch_run_clients.c: assigns keys to every client of this shard, fills the key table (every shard and the
   coordinator see every client's keys), spreads the clients over the workers. 0, -ENOMEM or -EINVAL. */
int run_make_clients(struct ch_run *r);
/* Fills tphases[slot]'s header and allocates its tables (no key in order yet, base from key_seq); NULL on ENOMEM. */
struct run_tphase *run_tphase_init(struct ch_run *r, size_t slot, enum run_tphase_kind kind, uint32_t trigger,
                                   uint32_t first, uint32_t n, uint32_t K);
struct run_tphase *run_plan(struct ch_run *r, size_t trigger, enum run_tphase_kind kind, const uint32_t *keys,
                            size_t K, size_t n, uint64_t start_ns, struct ch_rng *rng);
/* Sends the planned triggers of one phase (n tphases, one per scenario trigger, each from its own sender thread,
   side by side) and waits for them; res[i] gets tphase i's result. */
void run_send(struct ch_run *r, struct run_tphase **p, size_t n, struct ch_trigger_result *res);
/* Upper bound of the first receipts a phase's triggers should produce (used to end waits early). */
uint64_t run_expected_receipts(const struct run_tphase *p, const uint32_t *subs_per_key);
/* The keys scenario trigger t drives in this run (ch_run_triggers.c), in the order it triggers them; returns K. */
size_t run_trigger_keys(const struct ch_run *r, size_t t, uint32_t *out);
/* Plans one phase's triggers, one tphase per scenario trigger that sends, all from t0 (a drop phase: one trigger per
   key, at most 100 keys); returns how many (ch_run_triggers.c). */
size_t run_plan_phase(struct ch_run *r, const struct ch_scn_phase *ph, enum run_tphase_kind kind, uint64_t t0,
                      struct ch_rng *rng, uint32_t *tkeys, struct run_tphase **ps);
/* Sends them side by side and adds each one's result to the outcome (in all and per scenario trigger). */
void run_send_phase(struct ch_run *r, struct run_tphase **ps, size_t np, struct run_outcome *out);
/* Fills key_trigger (after the clients are made); key_pops: per key, a bit per population subscribing to it. */
void run_assign_trigger_keys(struct ch_run *r, const uint64_t *key_pops);
/* The report's per-trigger lines (ch_run_triggers.c), from the outcome, the tally and the workers' histograms. */
int run_report_triggers(struct ch_run *r, const struct run_outcome *o, const struct run_tally *t,
                        struct ch_report *rep);
/* Registers with the report the values of the triggers' {{env.NAME}} placeholders that may be credentials (in a
   header, or a name such as API_KEY or TOKEN), so that no writer prints them. */
void run_trigger_secrets(const struct ch_scenario *s, struct ch_report *rep);

/* ch_run_stop.c (main thread): signals and checkpoints, polled by every wait of the timeline. */
/* Takes delivery of signals, writes a checkpoint when one is due; returns r->stop. */
unsigned run_poll(struct ch_run *r);
/* "phase 3 (trigger)" for the phase the first signal came in. */
void run_stop_label(const struct ch_run *r, char *buf, size_t n);
/* After run_checks: a check whose evidence the interruption left incomplete becomes CH_RESULT_INCOMPLETE (checks
   from index first on); marks the report interrupted. */
void run_judge_interrupted(struct ch_run *r, struct ch_report *rep, size_t first);
/* Frees snapshots the workers made (after they were joined). */
void run_snap_free(struct ch_run *r);
void run_worker_snapshot(struct ch_worker *w, void *arg); /* arg: struct run_worker */

/* ch_run_sessions.c (worker thread). Start a client (ch_run_worker.c); the steady phase's start and end; a session
   slot connected, closed; the hot path's check of an Update (key, trigger index, receive time) against the intervals;
   the interval judge (by run_judge_client); freeing a slot. */
void run_client_start(struct run_worker *rw, struct run_client *rc);
/* A Subscribe/Unsubscribe that failed: counted, its reason recorded (ch_run_worker.c). */
void run_invoke_failed(struct run_client *rc, const struct ch_completion *res, bool unsub);
void run_sess_phase(struct run_worker *rw, bool end);
void run_sess_connected(struct run_client *rc);
void run_sess_closed(struct run_client *rc);
void run_sess_update(struct run_client *rc, struct run_sub *sub, long idx, uint64_t recv_ns);
void run_sess_judge_sub(struct ch_run *r, struct run_client *rc, struct run_sub *sub, struct run_tally *t);
void run_sess_free_subs(struct run_client *rc);
void run_tally_merge(struct run_tally *dst, const struct run_tally *src);
/* Main thread, after the workers were joined: the workers' session tallies into t, and the notes about sessions
   not started (every slot busy) or not judged (left before they could connect). */
struct ch_report;
void run_sess_tally(struct ch_run *r, struct run_tally *t, struct ch_report *rep);
void run_tally_free(struct run_tally *t);

/* ch_run_judge.c (main thread, after the workers were joined). */
struct ch_report;
void run_judge_client(struct ch_run *r, struct run_client *rc, struct run_tally *t);
void run_checks(struct ch_run *r, const struct run_outcome *o, struct run_tally *t, struct ch_report *rep);
void run_write_transcripts(struct ch_run *r, struct ch_report *rep);

/* ch_run_cli.c: a sharded run's exit code (forked shards or MPI ranks), once the shards' reports are merged into rep;
   worst: CH_EXIT_RUN or CH_EXIT_INPUT of a shard, else 0; signalled: a shard's 130/143, else 0. Notes the
   coordinator's CPU per trigger. */
struct ch_interrupt;
int run_shards_verdict(const struct ch_run_opts *o, const struct ch_coord_outcome *co, unsigned n,
                       struct ch_report *rep, struct ch_interrupt *intr, int worst, int signalled, struct ch_buf *err);

/* ch_coord_shard.c (a shard's main thread; no-ops without a link). Open: the link from o->barrier_in, when set. */
int run_coord_open(struct ch_run *r);
void run_coord_close(struct ch_run *r);
/* Waits for the coordinator to start phase i: 1 run it, 0 skip it (the coordinator started a later one), -1 end
   the timeline (a signal, the coordinator gone). */
int run_coord_begin(struct ch_run *r, size_t i);
/* A trigger, silence or drop phase whose triggers the coordinator sends: says the clients are ready, installs the
   coordinator's plan (ps: its trigger phases), and returns how many; then, after the hold's start, the results. */
size_t run_coord_take_plan(struct ch_run *r, size_t i, struct run_tphase **ps);
void run_coord_take_sent(struct ch_run *r, size_t i, struct run_tphase **ps, size_t np, struct run_outcome *out);
/* A drop phase: says this shard's clients are marked, waits for the coordinator's one drop request and takes when
   it was sent and what it answered (r->storm_*). */
void run_coord_take_drop(struct ch_run *r, size_t i);
/* From run_poll: tells the coordinator of this shard's abort_on_fail, takes one told by it. */
void run_coord_poll(struct ch_run *r);
/* This shard ended phase i / leaves the run early. */
void run_coord_end(struct ch_run *r, size_t i);
void run_coord_leave(struct ch_run *r, size_t i);
/* ch_run.c for the coordinator (ch_coord.c): a run with the scenario's key tables and trigger storage, no engine
   and no clients; freed with run_plan_only_free. */
int run_plan_only_init(struct ch_run *r);
void run_plan_only_free(struct ch_run *r);

#endif /* CH_RUN_INT_H */
