/* The runner's main thread: sets the run up (target or embedded endpoint, credentials, keys, engine), walks the
   scenario's timeline phase by phase (workers do the client work; this thread sends the triggers), then judges what
   the workers recorded and fills the report. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_exit.h"
#include "ch_interrupt.h"
#include "ch_json.h"
#include "ch_limits.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_run_progress.h"
#include "ch_server.h"
#include "ch_signalr.h"

/* ---- phase barrier and progress ---- */

static void run_barrier_reset(struct ch_run *r) {
  pthread_mutex_lock(&r->mu);
  r->workers_done = 0;
  pthread_mutex_unlock(&r->mu);
}

static uint64_t run_updates_received(struct ch_run *r) {
  uint64_t n = 0;
  for (unsigned i = 0; i < r->n_workers; i++)
    n += atomic_load_explicit(&r->workers[i]->p_updates, memory_order_relaxed);
  return n;
}

/* The progress thread's figures: the per-second snapshots each worker publishes (relaxed atomics, no lock). */
static void run_figures(void *user, struct ch_run_figures *f) {
  struct ch_run *r = user;
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    f->connected += atomic_load_explicit(&rw->p_connected, memory_order_relaxed);
    f->errors += atomic_load_explicit(&rw->p_errors, memory_order_relaxed);
    f->messages += atomic_load_explicit(&rw->p_msgs, memory_order_relaxed);
    uint64_t p50 = atomic_load_explicit(&rw->m->pub_p50_ns, memory_order_relaxed);
    uint64_t p99 = atomic_load_explicit(&rw->m->pub_p99_ns, memory_order_relaxed);
    f->p50_ns = p50 > f->p50_ns ? p50 : f->p50_ns; /* the slowest worker's view: never flatter */
    f->p99_ns = p99 > f->p99_ns ? p99 : f->p99_ns;
  }
}

/* Waits until every worker reported the current phase done, or until deadline (monotonic ns; 0 = none), or until
   `until` returns true. Returns true when every worker reported. */
static bool run_wait(struct ch_run *r, uint64_t deadline) {
  for (;;) {
    pthread_mutex_lock(&r->mu);
    bool all = r->workers_done >= r->n_workers;
    if (!all) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 200000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&r->cv, &r->mu, &ts);
      all = r->workers_done >= r->n_workers;
    }
    pthread_mutex_unlock(&r->mu);
    if (all)
      return true;
    if (run_poll(r) >= r->stop_at)
      return false;
    if (deadline && ch_now_ns() >= deadline)
      return false;
  }
}

/* Sleeps until the deadline, or earlier once `received` reaches `want` (want 0: no early end). */
static void run_hold(struct ch_run *r, uint64_t deadline, uint64_t want, uint64_t received0) {
  while (ch_now_ns() < deadline) {
    if (want && run_updates_received(r) - received0 >= want)
      return;
    if (run_poll(r) >= r->stop_at)
      return;
    if (!want && atomic_load(&r->aborted))
      return; /* a pure wait; Updates already due are still awaited (want > 0) */
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
  }
}

static int run_post_all(struct ch_run *r, ch_worker_task_cb fn, bool per_worker_task, const struct run_phase_task *tmpl) {
  run_barrier_reset(r);
  for (unsigned i = 0; i < r->n_workers; i++) {
    void *arg = r->workers[i];
    if (per_worker_task) {
      struct run_phase_task *t = malloc(sizeof *t);
      if (!t)
        return -ENOMEM;
      *t = *tmpl;
      t->rw = r->workers[i];
      arg = t;
    }
    int rc = ch_engine_post(r->engine, i, fn, arg);
    if (rc) {
      if (per_worker_task)
        free(arg);
      return rc;
    }
  }
  return 0;
}

/* ---- set-up ---- */

static int run_start_embedded(struct ch_run *r, struct ch_server **srv, struct ch_buf *err) {
  struct ch_server_opts so = {0};
  so.listen_host = "127.0.0.1";
  so.control_host = "127.0.0.1";
  so.base = r->s->target.url ? "" : "/Centro";
  so.quiet = true;
  struct ch_server_token *toks = NULL;
  if (r->tokens.n) {
    toks = calloc(r->tokens.n, sizeof *toks);
    if (!toks)
      return -ENOMEM;
    char user[32];
    for (size_t i = 0; i < r->tokens.n; i++) {
      toks[i].token = r->tokens.tokens[i];
      snprintf(user, sizeof user, "user%zu", i + 1);
      toks[i].user = strdup(user);
      if (!toks[i].user) {
        for (size_t k = 0; k < i; k++)
          free((char *)toks[k].user);
        free(toks);
        ch_buf_puts(err, "out of memory starting the embedded reference endpoint");
        return -ENOMEM;
      }
    }
    so.tokens = toks;
    so.n_tokens = r->tokens.n;
  }
  int rc = ch_server_new(&so, srv);
  for (size_t i = 0; toks && i < r->tokens.n; i++)
    free((char *)toks[i].user);
  free(toks);
  if (!rc)
    rc = ch_server_start(*srv);
  if (rc) {
    ch_buf_printf(err, "the embedded reference endpoint could not start: %s", strerror(-rc));
    return rc;
  }
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/Centro", ch_server_port(*srv));
  snprintf(r->control_base, sizeof r->control_base, "http://127.0.0.1:%d", ch_server_control_port(*srv));
  return ch_url_parse(url, &r->target, err);
}

/* Random credential for the embedded endpoint when the scenario names none. */
static int run_make_token(struct ch_tokens *t) {
  unsigned char b[16];
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
    if (f)
      fclose(f);
    return -EIO;
  }
  fclose(f);
  char *s = malloc(3 + 2 * sizeof b + 1);
  t->tokens = malloc(sizeof *t->tokens);
  if (!s || !t->tokens) {
    free(s);
    free(t->tokens);
    t->tokens = NULL;
    return -ENOMEM;
  }
  strcpy(s, "ch-");
  for (size_t i = 0; i < sizeof b; i++)
    sprintf(s + 3 + 2 * i, "%02x", b[i]);
  t->tokens[0] = s;
  t->n = 1;
  return 0;
}

static size_t run_trigger_capacity(const struct ch_scenario *s, size_t n_keys) {
  double cap = 16;
  for (size_t i = 0; i < s->n_phases; i++) {
    const struct ch_scn_phase *ph = &s->phases[i];
    for (size_t t = 0; t < s->n_triggers; t++)
      if (ph->type == CH_SCN_PHASE_TRIGGER || ph->type == CH_SCN_PHASE_VERIFY_SILENCE ||
          ph->type == CH_SCN_PHASE_STEADY)
        cap += run_phase_triggers(&s->triggers[t], ph, n_keys);
      else if (ph->type == CH_SCN_PHASE_DROP_RECONNECT || ph->type == CH_SCN_PHASE_DROP)
        cap += (double)(n_keys < 100 ? n_keys : 100);
  }
  return cap > 50e6 ? 50000000u : (size_t)cap;
}

/* ---- the timeline ---- */

static int run_timeline(struct ch_run *r, struct run_outcome *out) {
  const struct ch_scenario *s = r->s;
  uint32_t *tkeys = malloc((r->keys.n ? r->keys.n : 1) * sizeof *tkeys);
  if (!tkeys)
    return -ENOMEM;
  struct ch_rng rng;
  ch_rng_seed(&rng, s->seed * 0x9e3779b97f4a7c15u + 7);
  bool triggers_on = ch_scenario_triggers_on(s);
  int arc = run_abort_watch(r); /* abort_on_fail: judged while the phases run (ended below or by run_free) */
  if (arc) {
    free(tkeys);
    return arc;
  }
  for (size_t i = 0; i < s->n_phases; i++) {
    const struct ch_scn_phase *ph = &s->phases[i];
    if (!r->coord && atomic_load(&r->aborted) && ph->type != CH_SCN_PHASE_DISCONNECT)
      continue; /* abort_on_fail: only the clean disconnect is left */
    struct run_phase_task task = {NULL, (int)i, ph->type, ph->population, ph->fraction, false, false};
    ch_run_progress_phase(r->progress, i);
    r->cur_phase = (int)i;
    run_live_phase(r, i);
    r->stop_at = ph->type == CH_SCN_PHASE_DISCONNECT ? 2 : 1; /* a disconnect is what a stop would do anyway */
    if (run_poll(r))
      break; /* interrupted: no new phase */
    int cb = run_coord_begin(r, i); /* a shard: the coordinator starts every phase on every shard together */
    if (cb < 0)
      break;
    if (cb == 0)
      continue;
    r->drain_done = false;
    uint64_t start = ch_now_ns();
    uint64_t timeout = ph->timeout_ns ? ph->timeout_ns : 30000000000u;
    struct run_ff_mark ffm;
    run_ff_mark(r, &ffm);
    int rc = 0;
    if (ph->type == CH_SCN_PHASE_DROP) { /* mark who is up, then drop them all: the phase waits for their return */
      task.prepare = true;
      rc = run_post_all(r, run_worker_phase, true, &task);
      bool marked = !rc && run_wait(r, start + timeout);
      if (!rc && r->coord_plans)
        run_coord_take_drop(r, i); /* the coordinator sends the one drop for every shard */
      else if (marked)
        rc = run_storm_drop(r, ph);
      task.prepare = false;
      out->had_drop = out->had_storm = true;
    }
    rc = rc ? rc : run_post_all(r, run_worker_phase, true, &task);
    if (rc) {
      free(tkeys);
      return rc;
    }
    switch (ph->type) {
    case CH_SCN_PHASE_CONNECT:
    case CH_SCN_PHASE_SUBSCRIBE:
    case CH_SCN_PHASE_UNSUBSCRIBE:
    case CH_SCN_PHASE_DISCONNECT:
      if (!run_wait(r, start + timeout) && i < 64 && !r->stop)
        out->timed_out[i] = true;
      out->had_subscribe |= ph->type == CH_SCN_PHASE_SUBSCRIBE;
      out->had_unsubscribe |= ph->type == CH_SCN_PHASE_UNSUBSCRIBE;
      break;
    case CH_SCN_PHASE_HOLD:
      run_wait(r, 0);
      run_hold(r, start + ph->duration_ns, 0, 0);
      break;
    case CH_SCN_PHASE_TRIGGER:
    case CH_SCN_PHASE_VERIFY_SILENCE: {
      run_wait(r, 0);
      bool silence = ph->type == CH_SCN_PHASE_VERIFY_SILENCE;
      /* every trigger plans its own triggers (its keys, rate, arrival and count), all starting together */
      struct run_tphase *ps[CH_SCN_TRIGGERS_MAX];
      size_t np = r->coord_plans ? run_coord_take_plan(r, i, ps)
                  : triggers_on  ? run_plan_phase(r, ph, silence ? RUN_TP_SILENCE : RUN_TP_TRIGGER,
                                                  ch_now_ns() + 1000000u, &rng, tkeys, ps)
                                 : 0;
      uint64_t rcv0 = run_updates_received(r);
      if (r->coord_plans)
        run_coord_take_sent(r, i, ps, np, out);
      else
        run_send_phase(r, ps, np, out);
      uint64_t want = 0;
      for (size_t k = 0; k < np; k++) {
        ps[k]->end_ns = ch_now_ns();
        want += run_expected_receipts(ps[k], r->subs_per_key);
      }
      out->had_triggers |= !silence && np;
      out->had_silence |= silence && np;
      /* A trigger phase ends when its Updates arrived (or the deadline passed); a silence phase lasts its duration
         plus the unsubscribe grace, since nothing may arrive at all. Interrupted, the Updates already due are still
         waited for (up to the deadline) unless a second signal comes. */
      if (silence) {
        run_hold(r, start + ph->duration_ns + s->expect.unsubscribe_grace_ns, 0, 0);
      } else if (np) {
        r->stop_at = 2;
        run_hold(r, ch_now_ns() + s->expect.deadline_ns, want, rcv0);
        r->drain_done = r->stop < 2;
      } else if (ph->duration_ns) {
        run_hold(r, start + ph->duration_ns, 0, 0); /* passive observation */
      }
      break;
    }
    case CH_SCN_PHASE_STEADY: {
      /* Sessions arrive, churn and leave on the workers while the triggers go on for the duration; then every
         session still open leaves, and the phase ends once their clients closed (each judged as it closes). */
      run_wait(r, 0);
      struct run_tphase *ps[CH_SCN_TRIGGERS_MAX];
      size_t np = r->coord_plans ? run_coord_take_plan(r, i, ps)
                  : triggers_on  ? run_plan_phase(r, ph, RUN_TP_TRIGGER, ch_now_ns() + 1000000u, &rng, tkeys, ps)
                                 : 0;
      if (r->coord_plans)
        run_coord_take_sent(r, i, ps, np, out);
      else
        run_send_phase(r, ps, np, out);
      for (size_t k = 0; k < np; k++)
        ps[k]->end_ns = ch_now_ns();
      run_hold(r, start + ph->duration_ns, 0, 0);
      out->had_triggers |= np > 0;
      out->had_sessions = out->had_subscribe = true;
      struct run_phase_task end = task;
      end.end_sessions = true;
      if (run_post_all(r, run_worker_phase, true, &end) == 0 && !run_wait(r, ch_now_ns() + timeout) && i < 64 &&
          !r->stop)
        out->timed_out[i] = true;
      break;
    }
    case CH_SCN_PHASE_DROP:
    case CH_SCN_PHASE_DROP_RECONNECT: {
      /* Publish while the dropped clients are away (the clients wait reconnect_delay before /reconnect), then
         wait for them to come back and for the replay. */
      out->had_drop = true;
      struct run_tphase *ps[CH_SCN_TRIGGERS_MAX];
      size_t np = r->coord_plans ? run_coord_take_plan(r, i, ps)
                  : triggers_on  ? run_plan_phase(r, ph, RUN_TP_DROP, ch_now_ns() + 200000000u, &rng, tkeys, ps)
                                 : 0;
      uint64_t rcv0 = run_updates_received(r);
      if (r->coord_plans)
        run_coord_take_sent(r, i, ps, np, out);
      else
        run_send_phase(r, ps, np, out);
      if (!run_wait(r, start + timeout) && i < 64 && !r->stop)
        out->timed_out[i] = true;
      if (np && !r->stop) {
        uint64_t want = 0;
        for (size_t k = 0; k < np; k++) {
          ps[k]->end_ns = ch_now_ns();
          want += run_expected_receipts(ps[k], r->subs_per_key);
        }
        run_hold(r, ch_now_ns() + s->expect.deadline_ns, want, rcv0);
      }
      break;
    }
    default:
      run_wait(r, start + timeout);
      break;
    }
    run_coord_end(r, i);
    if (ph->type == CH_SCN_PHASE_CONNECT && run_ff_check(r, &ffm, ph->population, timeout, &out->failfast)) {
      run_coord_leave(r, i);
      break; /* nothing can be measured: stop before any trigger is sent */
    }
  }
  if (r->stop) {
    /* Close every client still open the way the official client does (POST /abort), within the window of stops
       per worker; after a second signal only as long as it takes to hand the aborts over. */
    struct run_phase_task task = {NULL, (int)s->n_phases, CH_SCN_PHASE_DISCONNECT, -1, 0, false, false};
    r->cur_phase = (int)s->n_phases;
    r->stop_at = 2;
    if (run_post_all(r, run_worker_phase, true, &task) == 0)
      run_wait(r, ch_now_ns() + (r->stop >= 2 ? 500000000u : 10000000000u));
  }
  run_abort_end(r);
  free(tkeys);
  return 0;
}

/* ---- one run ---- */

static void run_free(struct ch_run *r) {
  run_auth_free(r); /* the refreshers post to the workers: they stop first */
  run_coord_close(r);
  if (r->engine)
    ch_engine_stop(r->engine);
  run_abort_free(r);
  for (unsigned i = 0; r->workers && i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    if (!rw)
      continue;
    for (size_t c = 0; c < rw->n_clients; c++) {
      struct run_client *rc = rw->clients[c];
      if (rc->c)
        ch_client_free(rc->c);
      run_sess_free_subs(rc);
      free(rc->subs);
      ch_buf_free(&rc->trace);
      free(rc);
    }
    free(rw->clients);
    if (rw->stally)
      run_tally_free(rw->stally);
    free(rw->stally);
    free(rw->fan_last);
    free(rw->trig_lat);
    ch_metrics_free(rw->m);
    ch_metrics_free(rw->snap);
    ch_buf_free(&rw->scratch);
    free(rw);
  }
  free(r->workers);
  if (r->engine)
    ch_engine_free(r->engine);
  for (size_t i = 0; i < atomic_load(&r->n_tphases); i++) {
    free(r->tphases[i].order);
    free(r->tphases[i].pos);
    free(r->tphases[i].base);
  }
  free(r->tphases);
  free(r->trig);
  free(r->key_seq);
  free(r->key_subscribed);
  free(r->key_hub);
  free(r->key_trigger);
  free(r->subs_per_key);
  run_keys_free(&r->keys);
  ch_tokens_free(&r->tokens);
  ch_url_free(&r->target);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
}

int run_plan_only_init(struct ch_run *r) {
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->cur_phase = r->stop_phase = -1;
  r->stop_at = 1;
  if (run_make_clients(r))
    return -ENOMEM;
  r->cap_trig = run_trigger_capacity(r->s, r->keys.n);
  r->trig = calloc(r->cap_trig, sizeof *r->trig);
  r->cap_tphases = r->s->n_phases * r->s->n_triggers + 1;
  r->tphases = calloc(r->cap_tphases, sizeof *r->tphases);
  return r->trig && r->tphases ? 0 : -ENOMEM;
}

void run_plan_only_free(struct ch_run *r) { run_free(r); }

static void run_engine_log(int level, const char *line, void *user) {
  (void)level;
  (void)user;
  fprintf(stderr, "engine: %s\n", line);
}

static bool run_unreachable(const struct ch_run *r, const struct run_tally *t) {
  if (!t->valid || t->connected)
    return false;
  for (unsigned i = 0; i < r->n_workers; i++)
    for (size_t c = 0; c < r->workers[i]->n_clients; c++) {
      const struct run_client *rc = r->workers[i]->clients[c];
      if (rc->bad_creds)
        continue;
      const char *m = rc->failure.message;
      bool conn = rc->failure.category == CH_FAIL_CONNECT || strstr(m, "onnect") || strstr(m, "resolve") ||
                  strstr(m, "no response");
      if (!conn)
        return false;
    }
  return true;
}

int ch_run_execute(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                   struct ch_buf *err) {
  struct ch_run run = {0};
  struct ch_run *r = &run;
  struct ch_server *srv = NULL;
  struct run_tally tally = {0};
  struct run_outcome out = {0};
  int code = CH_EXIT_RUN, rc;
  r->s = s;
  r->o = o;
  r->rep = rep;
  r->cur_phase = r->stop_phase = -1;
  atomic_init(&r->live_phase, -1);
  r->stop_at = 1;
  r->hub_names[0] = "ResourceEventHub";
  r->hub_names[1] = "JobEventHub";
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->wall_minus_mono = ch_wall_ns() - ch_now_ns();
  r->t0 = ch_now_ns();
  r->run_id = (ch_wall_ns() ^ ((uint64_t)getpid() << 32)) & 0xffffffffffffu;
  r->coord_started = -1;
  if (run_coord_open(r)) {
    ch_buf_puts(err, "out of memory");
    goto done;
  }

  struct ch_token_cli cli = {o->token, o->token_env, o->token_file};
  rc = ch_tokens_resolve(&s->target.auth, &cli, &r->tokens, err);
  if (rc) {
    code = CH_EXIT_INPUT;
    goto done;
  }
  r->auth_mode = s->target.auth.mode;
  if (r->auth_mode == CH_SCN_AUTH_NONE && (o->token || o->token_env || o->token_file))
    r->auth_mode = CH_SCN_AUTH_HEADER; /* a token on the command line is meant to be sent */
  if ((rc = run_auth_begin(r, err)) != CH_EXIT_OK) {
    code = rc;
    goto done;
  }
  r->embedded = s->target.url == NULL;
  if (r->embedded) {
    if (!r->tokens.n && r->auth_mode != CH_SCN_AUTH_NONE && run_make_token(&r->tokens)) {
      ch_buf_puts(err, "cannot make a credential for the embedded endpoint");
      goto done;
    }
    if (run_start_embedded(r, &srv, err))
      goto done;
    if (o->on_embedded)
      o->on_embedded(o->on_embedded_user, r->control_base, true);
  } else {
    struct ch_url u;
    if (ch_url_parse(s->target.url, &u, err)) {
      code = CH_EXIT_INPUT;
      goto done;
    }
    r->target = u;
    if (run_reference_needs_embedded(s, err)) {
      code = CH_EXIT_INPUT;
      goto done;
    }
  }
  for (size_t i = 0; i < r->tokens.n; i++)
    ch_report_add_secret(rep, r->tokens.tokens[i]);
  for (size_t i = 0; i < s->target.n_bad_tokens; i++)
    ch_report_add_secret(rep, s->target.bad_tokens[i]);
  run_trigger_secrets(s, rep);
  {
    struct ch_buf u = CH_BUF_INIT;
    ch_url_origin(&r->target, &u);
    ch_buf_puts(&u, r->target.path);
    ch_report_set_target(rep, r->embedded ? "embedded reference endpoint" : u.data);
    ch_buf_free(&u);
  }

  /* Descriptors: refuse a run that cannot fit rather than failing half-way. */
  size_t shard_clients = o->shard_count > 1 ? (s->total_clients + o->shard_count - 1) / o->shard_count
                                            : s->total_clients;
  unsigned workers = o->workers ? o->workers : s->workers;
  if (!workers) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    workers = n > 0 ? (unsigned)n : 1;
  }
  if (workers > shard_clients && shard_clients)
    workers = (unsigned)shard_clients;
  struct ch_buf msg = CH_BUF_INIT;
  size_t need = ch_limits_fds_needed(shard_clients, (enum ch_transport)s->populations[0].transports[0], workers, 0) +
                (srv ? shard_clients + 64 : 0);
  if (ch_limits_prepare(need, &msg)) {
    ch_buf_puts(err, msg.data ? msg.data : "not enough file descriptors");
    ch_buf_free(&msg);
    goto done;
  }
  ch_buf_free(&msg);

  struct ch_engine_opts eo = {0};
  eo.workers = workers;
  eo.tls = r->target.tls; /* only then: each TLS context costs memory lws 4.1 never gives back */
  struct ch_tls_opts to;
  ch_run_tls_opts(o, s, &to);
  eo.insecure = to.insecure;
  eo.ca_file = to.ca_file;
  eo.cert_file = to.cert_file;
  eo.key_file = to.key_file;
  eo.server_name = to.server_name;
  eo.log = run_engine_log;
  eo.on_stop = run_worker_stopping;
  eo.on_stop_arg = r;
  char **addrs = NULL;
  size_t n_addrs = 0;
  const char *src = o->source_addresses;
  if (src && ch_source_addrs_parse(src, &addrs, &n_addrs, err)) {
    code = CH_EXIT_INPUT;
    goto done;
  }
  if (!src && s->n_populations && s->populations[0].n_source_addresses) {
    eo.source_addrs = (const char *const *)s->populations[0].source_addresses;
    eo.source_addr_count = s->populations[0].n_source_addresses;
  } else {
    eo.source_addrs = (const char *const *)addrs;
    eo.source_addr_count = n_addrs;
  }
  rc = ch_engine_new(&eo, &r->engine, err);
  ch_source_addrs_free(addrs, n_addrs);
  if (rc)
    goto done;
  r->n_workers = ch_engine_worker_count(r->engine);
  r->workers = calloc(r->n_workers, sizeof *r->workers);
  if (!r->workers)
    goto oom;
  size_t per_worker = shard_clients / r->n_workers + 2;
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_worker *rw = calloc(1, sizeof *rw);
    if (!rw)
      goto oom;
    r->workers[i] = rw;
    rw->run = r;
    rw->index = i;
    rw->clients = calloc(per_worker, sizeof *rw->clients);
    if (!rw->clients || ch_metrics_new(&rw->m))
      goto oom;
  }
  if (run_make_clients(r) || run_auth_workers(r))
    goto oom;
  r->cap_trig = run_trigger_capacity(s, r->keys.n);
  r->trig = calloc(r->cap_trig, sizeof *r->trig);
  r->cap_tphases = s->n_phases * s->n_triggers + 1;
  r->tphases = calloc(r->cap_tphases, sizeof *r->tphases);
  if (!r->trig || !r->tphases)
    goto oom;
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    if (r->cap_trig <= 4000000) { /* beyond that the fan-out completion is not measured */
      rw->fan_last = calloc(r->cap_trig, sizeof *rw->fan_last);
      if (!rw->fan_last) {
        ch_buf_printf(err, "out of memory: %zu bytes for worker %u's fan-out table (%zu triggers)",
                      r->cap_trig * sizeof *rw->fan_last, i + 1, r->cap_trig);
        goto done;
      }
    }
    if (!(rw->trig_lat = malloc(s->n_triggers * sizeof *rw->trig_lat)))
      goto oom;
    for (size_t t = 0; t < s->n_triggers; t++)
      ch_hist_init(&rw->trig_lat[t]);
    rw->ramp_rate = run_ramp_pace(s) / r->n_workers / (o->shard_count > 1 ? o->shard_count : 1);
  }
  if (run_abort_init(r))
    goto oom;
  if (ch_engine_start(r->engine, err))
    goto done;
  for (unsigned i = 0; i < r->n_workers; i++)
    ch_metrics_begin(r->workers[i]->m, ch_wall_ns());
  /* A task not posted would leave run_wait waiting for ever: end the run instead (run_free stops the engine). */
  if ((rc = run_post_all(r, run_worker_setup, false, NULL)) != 0) {
    ch_buf_printf(err, "the workers could not be set up: %s", strerror(-rc));
    goto done;
  }
  run_wait(r, 0);
  if (run_auth_start(r, err))
    goto done;

  out.start_wall = ch_wall_ns();
  if (!o->quiet) { /* without it (no memory, no thread) the run goes on silently */
    size_t mine = 0;
    for (unsigned i = 0; i < r->n_workers; i++)
      mine += r->workers[i]->n_clients;
    struct ch_run_progress_opts po = {s, stderr, o->progress_label, mine, run_figures, r};
    ch_run_progress_start(&po, &r->progress);
  }
  rc = run_timeline(r, &out);
  run_auth_end(r, rep);
  ch_run_progress_stop(r->progress);
  r->progress = NULL;
  if (rc) {
    ch_buf_printf(err, "the timeline could not be carried out: %s", strerror(-rc));
    goto done;
  }
  out.end_wall = ch_wall_ns();
  if (srv && o->on_embedded)
    o->on_embedded(o->on_embedded_user, r->control_base, false);
  r->stop_at = 3; /* the tear-down itself is never cut short */
  if ((rc = run_post_all(r, run_worker_teardown, false, NULL)) != 0) {
    ch_buf_printf(err, "the workers could not be torn down: %s", strerror(-rc));
    goto done;
  }
  run_wait(r, 0);
  ch_engine_stop(r->engine); /* every worker joined: their data is ours to read */

  /* Judge, then merge the workers' metrics into the report's. */
  for (unsigned i = 0; i < r->n_workers; i++)
    for (size_t c = 0; c < r->workers[i]->n_clients; c++)
      run_judge_client(r, r->workers[i]->clients[c], &tally);
  run_sess_tally(r, &tally, rep); /* sessions judged as they ended */
  run_write_transcripts(r, rep);
  struct ch_metrics *m = NULL;
  if (ch_metrics_new(&m))
    goto oom;
  for (unsigned i = 0; i < r->n_workers; i++) {
    ch_metrics_end(r->workers[i]->m, out.end_wall);
    ch_metrics_merge(m, r->workers[i]->m);
  }
  /* Fan-out completion: from a trigger's intended time to its last receipt on any worker. */
  struct ch_metrics_group *fg = NULL;
  if (m->n_groups)
    fg = m->groups[0];
  bool fan = fg != NULL;
  for (unsigned w = 0; w < r->n_workers; w++)
    fan = fan && r->workers[w]->fan_last; /* every worker's table, or none is read */
  for (size_t i = 0; fan && i < r->n_trig; i++) {
    uint64_t last = 0;
    for (unsigned w = 0; w < r->n_workers; w++)
      if (r->workers[w]->fan_last[i] > last)
        last = r->workers[w]->fan_last[i];
    if (last > r->trig[i].intended_ns)
      ch_metrics_record(fg, CH_LAT_FANOUT, last - r->trig[i].intended_ns);
  }
  if (fg)
    ch_metrics_count(fg, CH_CNT_TRIGGERS, out.trig.sent);
  ch_report_take_metrics(rep, m);
  run_live_final(r, rep->metrics);
  rep->start_wall_ns = out.start_wall;
  rep->end_wall_ns = out.end_wall;
  size_t first_check = rep->n_checks;
  if (run_report_triggers(r, &out, &tally, rep))
    goto oom;
  run_checks(r, &out, &tally, rep);
  run_judge_interrupted(r, rep, first_check);
  for (size_t i = 0; i < s->n_phases && i < 64; i++)
    if (out.timed_out[i]) {
      char note[160];
      snprintf(note, sizeof note, "phase %zu (%s) ended at its timeout with work outstanding", i + 1,
               s->phases[i].name);
      ch_report_add_note(rep, note);
    }
  for (size_t i = 0; i < s->n_thresholds; i++) {
    struct ch_buf terr = CH_BUF_INIT;
    ch_report_eval_threshold(rep, s->thresholds[i].expr, &terr);
    ch_buf_free(&terr);
  }
  if (r->stop) {
    code = ch_interrupt_exit_code(o->intr); /* judged and reported, but the run did not go to its end */
  } else if (out.failfast.len) {
    ch_buf_puts(err, out.failfast.data);
    code = CH_EXIT_RUN;
  } else if (run_unreachable(r, &tally)) {
    /* The first client's failure says why; the report names the others. */
    const char *first = tally.ev_connect.data ? tally.ev_connect.data + 2 : "";
    const char *next = strstr(first, "; ");
    ch_buf_printf(err, "the target could not be reached: no client connected (%.*s)",
                  (int)(next ? (size_t)(next - first) : strlen(first)), first);
    code = CH_EXIT_RUN;
  } else if (atomic_load(&r->aborted)) {
    ch_buf_puts(err, r->abort_reason);
    ch_report_add_note(rep, r->abort_reason);
    code = CH_EXIT_THRESHOLD;
  } else if (ch_report_count_checks(rep, CH_RESULT_FAIL)) {
    code = CH_EXIT_CHECK_FAILED;
  } else if (ch_report_count_thresholds(rep, CH_RESULT_FAIL)) {
    code = CH_EXIT_THRESHOLD;
  } else {
    code = CH_EXIT_OK;
  }
  goto done;
oom:
  ch_buf_puts(err, "out of memory");
  code = CH_EXIT_RUN;
done:
  run_free(r);
  if (srv)
    ch_server_free(srv);
  run_tally_free(&tally);
  ch_buf_free(&out.failfast);
  return code;
}
