/* target.auth.login and target.auth.command in a run: the first tokens are fetched before the engine starts (so
   before the connect phase), each worker keeps its own copy of every user's current token, and the refreshers
   (ch_auth's threads) hand each new token to every worker by posting a task to its loop.

   Why this is safe without locks on the hot path: a worker's token table (run_worker.auth_tok) and its clients'
   credentials are only ever touched on that worker's loop thread: by run_client_start when a client starts, and by the
   posted task, which replaces the table's entry and calls ch_client_set_auth on the user's clients. The refreshers
   share nothing with the workers but the engine's task queue (its own short lock, taken once per refresh and
   worker, never per message). The old string is freed at once: nothing else refers to it (the engine copies a
   credential into each request it starts). Tasks run in the order posted and one user's tokens are posted in the
   order obtained (ch_auth never refreshes a user on two threads at once), so a worker never goes back to an older
   token. The refreshers are stopped (joined) before the tear-down task is posted, so no task is left behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_auth.h"
#include "ch_exit.h"
#include "ch_report.h"
#include "ch_run_int.h"

static bool run_auth_fetched(const struct ch_scenario *s) {
  return s->target.auth.source == CH_SCN_TOKEN_LOGIN || s->target.auth.source == CH_SCN_TOKEN_COMMAND;
}

static void run_auth_add_secret(void *arg, const char *secret) { ch_report_add_secret(arg, secret); }

static int run_auth_new(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_auth **a,
                        struct ch_buf *err) {
  struct ch_auth_opts ao = {.auth = &s->target.auth,
                            .insecure = o->insecure || s->target.insecure,
                            .ca_file = o->ca_file ? o->ca_file : s->target.ca_file,
                            .seed = s->seed};
  int rc = ch_auth_new(&ao, a, err);
  return rc == -ENOMEM ? CH_EXIT_RUN : rc ? CH_EXIT_INPUT : CH_EXIT_OK;
}

/* A credential on the command line replaces the scenario's, login included. */
static bool run_auth_wanted(const struct ch_run_opts *o, const struct ch_scenario *s) {
  return run_auth_fetched(s) && !o->token && !o->token_env && !o->token_file;
}

/* Reads the users and registers their passwords as secrets of rep (before anything is written). The loader made
   sure there is a target.url: the embedded endpoint accepts only the tokens it makes. */
static int run_auth_load(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                         struct ch_auth **a, struct ch_buf *err) {
  int code = run_auth_new(o, s, a, err);
  if (*a && rep)
    ch_auth_each_password(*a, run_auth_add_secret, rep);
  return code;
}

int run_auth_check_input(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                         struct ch_buf *err) {
  if (!run_auth_wanted(o, s))
    return CH_EXIT_OK;
  struct ch_auth *a = NULL;
  int code = run_auth_load(o, s, rep, &a, err);
  ch_auth_free(a);
  return code;
}

int run_auth_begin(struct ch_run *r, struct ch_buf *err) {
  const struct ch_scenario *s = r->s;
  if (!run_auth_wanted(r->o, s))
    return CH_EXIT_OK;
  int code = run_auth_load(r->o, s, r->rep, &r->auth, err);
  if (code != CH_EXIT_OK)
    return code;
  size_t n = ch_auth_users(r->auth);
  bool *need = calloc(n, sizeof *need);
  if (!need) {
    ch_buf_puts(err, "out of memory");
    return CH_EXIT_RUN;
  }
  /* only the users of this shard's clients that connect with valid credentials */
  size_t wanted = 0;
  for (size_t p = 0; p < s->n_populations && wanted < n; p++) {
    const struct ch_population *pop = &s->populations[p];
    if (pop->credentials != CH_SCN_CRED_VALID)
      continue;
    for (size_t i = 0; i < pop->count && wanted < n; i++) {
      size_t idx = pop->first_client + i, u = ch_auth_user_of(r->auth, idx);
      bool mine = r->o->shard_count <= 1 || idx % r->o->shard_count == r->o->shard_index;
      if (mine && !need[u])
        need[u] = true, wanted++;
    }
  }
  int rc = ch_auth_fetch(r->auth, need, err);
  free(need);
  run_auth_drain(r);
  return rc == 0 ? CH_EXIT_OK : CH_EXIT_RUN;
}

int run_auth_workers(struct ch_run *r) {
  if (!r->auth)
    return 0;
  size_t n = ch_auth_users(r->auth);
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    if (!(rw->auth_tok = calloc(n, sizeof *rw->auth_tok)))
      return -ENOMEM;
    rw->n_auth_tok = n;
    for (size_t u = 0; u < n; u++)
      if (ch_auth_token(r->auth, u) && !(rw->auth_tok[u] = strdup(ch_auth_token(r->auth, u))))
        return -ENOMEM;
    /* the clients of each user, so that a refresh touches only them */
    rw->auth_first = malloc(n * sizeof *rw->auth_first);
    rw->auth_next = malloc((rw->n_clients ? rw->n_clients : 1) * sizeof *rw->auth_next);
    if (!rw->auth_first || !rw->auth_next)
      return -ENOMEM;
    memset(rw->auth_first, 0xff, n * sizeof *rw->auth_first);
    for (size_t c = rw->n_clients; c-- > 0;) {
      const struct run_client *rc = rw->clients[c];
      size_t u = ch_auth_user_of(r->auth, rc->index);
      rw->auth_next[c] = rc->bad_creds ? UINT32_MAX : rw->auth_first[u];
      if (!rc->bad_creds)
        rw->auth_first[u] = (uint32_t)c;
    }
  }
  return 0;
}

const char *run_auth_token(const struct run_worker *rw, uint32_t client_index) {
  return rw->auth_tok[ch_auth_user_of(rw->run->auth, client_index)];
}

struct run_auth_task {
  struct run_worker *rw;
  size_t user;
  char token[];
};

static void run_auth_wipe_free(char *s) {
  if (s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

/* On the worker's thread: the user's new token into the table and into each of its clients. */
static void run_auth_task_cb(struct ch_worker *w, void *arg) {
  (void)w;
  struct run_auth_task *t = arg;
  struct run_worker *rw = t->rw;
  const struct ch_run *r = rw->run;
  char *tok = strdup(t->token);
  if (tok) { /* out of memory: the clients keep the old token (a refresh failure in effect) */
    run_auth_wipe_free(rw->auth_tok[t->user]);
    rw->auth_tok[t->user] = tok;
    for (uint32_t i = rw->auth_first[t->user]; i != UINT32_MAX; i = rw->auth_next[i]) {
      struct run_client *rc = rw->clients[i];
      if (!rc->c || rc->closed)
        continue;
      ch_buf_reset(&rw->scratch);
      if (r->auth_mode == CH_SCN_AUTH_HEADER)
        ch_buf_printf(&rw->scratch, "%s %s", r->s->target.auth.scheme, tok);
      else
        ch_buf_puts(&rw->scratch, tok);
      if (rw->scratch.data)
        ch_client_set_auth(rc->c, rw->scratch.data);
    }
    if (rw->scratch.data)
      memset(rw->scratch.data, 0, rw->scratch.cap);
    ch_buf_reset(&rw->scratch);
  }
  memset(t->token, 0, strlen(t->token));
  free(t);
}

/* On a refresher thread. */
static void run_auth_publish(void *arg, size_t user, const char *token) {
  struct ch_run *r = arg;
  size_t n = strlen(token);
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_auth_task *t = malloc(sizeof *t + n + 1);
    if (!t)
      continue;
    t->rw = r->workers[i];
    t->user = user;
    memcpy(t->token, token, n + 1);
    if (ch_engine_post(r->engine, i, run_auth_task_cb, t)) {
      memset(t->token, 0, n);
      free(t); /* the worker is stopping */
    }
  }
}

int run_auth_start(struct ch_run *r, struct ch_buf *err) {
  if (!r->auth)
    return 0;
  int rc = ch_auth_start(r->auth, run_auth_publish, r);
  if (rc)
    ch_buf_printf(err, "the token refreshers could not start: %s", strerror(-rc));
  return rc;
}

void run_auth_drain(struct ch_run *r) {
  if (r->auth && r->rep)
    ch_auth_drain_new(r->auth, run_auth_add_secret, r->rep);
}

void run_auth_end(struct ch_run *r, struct ch_report *rep) {
  if (!r->auth)
    return;
  ch_auth_stop(r->auth);
  run_auth_drain(r);
  struct ch_auth_stats st;
  ch_auth_get_stats(r->auth, &st);
  const struct ch_scn_auth *a = &r->s->target.auth;
  bool lifetime = a->ttl_ns || (a->source == CH_SCN_TOKEN_LOGIN && a->login.expires_in_pointer);
  struct ch_buf ev = CH_BUF_INIT;
  ch_buf_printf(&ev, "%zu user%s: %llu tokens obtained, %llu of them refreshes, %llu refresh failures, %llu tokens "
                     "expired before a refresh succeeded%s",
                ch_auth_users(r->auth), ch_auth_users(r->auth) == 1 ? "" : "s",
                (unsigned long long)st.fetches, (unsigned long long)st.refreshes, (unsigned long long)st.failures,
                (unsigned long long)st.expired, lifetime ? "" : " (no lifetime given: never refreshed)");
  if (st.last_failure[0])
    ch_buf_printf(&ev, "; last failure: %s", st.last_failure);
  struct ch_check c = {.id = (char *)"RUN-TOKEN-REFRESH",
                       .description = (char *)"every token was refreshed before it expired (target.auth.login or "
                                              "command); clients keep the old one while a refresh fails",
                       .section = (char *)"scenario expectations (scenarios/README.md)",
                       .result = st.expired ? CH_RESULT_FAIL : CH_RESULT_PASS,
                       .evidence = ev.data};
  ch_report_add_check(rep, &c);
  if (st.failures)
    ch_report_add_note(rep, ev.data);
  ch_buf_free(&ev);
}

void run_auth_free(struct ch_run *r) {
  if (r->auth) {
    ch_auth_stop(r->auth);
    run_auth_drain(r);
  }
  for (unsigned i = 0; r->workers && i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    for (size_t u = 0; rw && u < rw->n_auth_tok; u++)
      run_auth_wipe_free(rw->auth_tok[u]);
    if (rw) {
      free(rw->auth_tok), rw->auth_tok = NULL, rw->n_auth_tok = 0;
      free(rw->auth_first), rw->auth_first = NULL;
      free(rw->auth_next), rw->auth_next = NULL;
    }
  }
  ch_auth_free(r->auth);
  r->auth = NULL;
}
