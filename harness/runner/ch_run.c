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
#include "ch_json.h"
#include "ch_limits.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_server.h"
#include "ch_signalr.h"

/* ---- key table ---- */

static uint64_t keys_hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 1099511628211u;
  return h;
}

long run_keys_find(const struct run_keys *k, const char *name, size_t len) {
  if (!k->nslots)
    return -1;
  for (size_t i = keys_hash(name, len) & (k->nslots - 1);; i = (i + 1) & (k->nslots - 1)) {
    uint32_t v = k->slots[i];
    if (!v)
      return -1;
    const char *s = k->names[v - 1];
    if (strlen(s) == len && !memcmp(s, name, len))
      return (long)(v - 1);
  }
}

static int keys_rehash(struct run_keys *k, size_t nslots) {
  uint32_t *slots = calloc(nslots, sizeof *slots);
  if (!slots)
    return -ENOMEM;
  for (size_t j = 0; j < k->n; j++) {
    size_t i = keys_hash(k->names[j], strlen(k->names[j])) & (nslots - 1);
    while (slots[i])
      i = (i + 1) & (nslots - 1);
    slots[i] = (uint32_t)j + 1;
  }
  free(k->slots);
  k->slots = slots;
  k->nslots = nslots;
  return 0;
}

int run_keys_add(struct run_keys *k, const char *name, size_t len, uint32_t *idx) {
  long found = run_keys_find(k, name, len);
  if (found >= 0) {
    *idx = (uint32_t)found;
    return 0;
  }
  if ((k->n + 1) * 2 > k->nslots && keys_rehash(k, k->nslots ? k->nslots * 2 : 64))
    return -ENOMEM;
  if ((k->n & (k->n + 1)) == 0 || k->n == 0) { /* grow names at powers of two */
    char **names = realloc(k->names, (k->n + 1) * 2 * sizeof *names);
    if (!names)
      return -ENOMEM;
    k->names = names;
  }
  char *copy = strndup(name, len);
  if (!copy)
    return -ENOMEM;
  k->names[k->n] = copy;
  size_t i = keys_hash(name, len) & (k->nslots - 1);
  while (k->slots[i])
    i = (i + 1) & (k->nslots - 1);
  k->slots[i] = (uint32_t)k->n + 1;
  *idx = (uint32_t)k->n++;
  return 0;
}

void run_keys_free(struct run_keys *k) {
  for (size_t i = 0; i < k->n; i++)
    free(k->names[i]);
  free(k->names);
  free(k->slots);
  memset(k, 0, sizeof *k);
}

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

static void run_progress(struct ch_run *r, uint64_t t0, uint64_t *last_print, bool force) {
  (void)t0;
  if (r->o->quiet)
    return;
  bool live = ch_progress_live(stderr);
  uint64_t now = ch_now_ns();
  if (!force && !ch_progress_due(now, last_print, live))
    return;
  *last_print = now;
  struct ch_progress p = {0};
  p.elapsed_ns = now - r->t0;
  p.target = r->s->total_clients;
  uint64_t msgs = 0;
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    p.connected += atomic_load_explicit(&rw->p_connected, memory_order_relaxed);
    p.errors += atomic_load_explicit(&rw->p_errors, memory_order_relaxed);
    msgs += atomic_load_explicit(&rw->p_msgs, memory_order_relaxed);
    uint64_t p50 = atomic_load_explicit(&rw->m->pub_p50_ns, memory_order_relaxed);
    uint64_t p99 = atomic_load_explicit(&rw->m->pub_p99_ns, memory_order_relaxed);
    p.p50_ns = p50 > p.p50_ns ? p50 : p.p50_ns; /* the slowest worker's view: never flatter */
    p.p99_ns = p99 > p.p99_ns ? p99 : p.p99_ns;
  }
  if (r->progress_at && now > r->progress_at)
    p.messages_per_s = (double)(msgs - r->progress_msgs) * 1e9 / (double)(now - r->progress_at);
  r->progress_at = now;
  r->progress_msgs = msgs;
  char line[256];
  ch_progress_format(&p, live, line, sizeof line);
  fputs(line, stderr);
  fflush(stderr);
}

/* Waits until every worker reported the current phase done, or until deadline (monotonic ns; 0 = none), or until
   `until` returns true. Prints progress meanwhile. Returns true when every worker reported. */
static bool run_wait(struct ch_run *r, uint64_t deadline, uint64_t t0, uint64_t *last_print) {
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
    run_progress(r, t0, last_print, false);
    if (all)
      return true;
    if (deadline && ch_now_ns() >= deadline)
      return false;
  }
}

/* Sleeps (printing progress) until the deadline, or earlier once `received` reaches `want` (want 0: no early end). */
static void run_hold(struct ch_run *r, uint64_t deadline, uint64_t want, uint64_t received0, uint64_t t0,
                     uint64_t *last_print) {
  while (ch_now_ns() < deadline) {
    if (want && run_updates_received(r) - received0 >= want)
      return;
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    run_progress(r, t0, last_print, false);
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

/* ---- triggers ---- */

struct run_trigger_ctx {
  struct ch_run *r;
  uint64_t run_id;
  size_t first; /* the sender's index i is relative to this trigger */
  struct ch_buf err;
};

static int run_build_reference(void *user, size_t i, const struct ch_trig *t, struct ch_trigger_request *req) {
  struct run_trigger_ctx *x = user;
  const struct ch_run *r = x->r;
  (void)i;
  const char *hub = ch_scn_hub_name((enum ch_scn_hub)r->key_hub[t->key]);
  ch_buf_printf(&req->url, "%s/publish", r->control_base);
  ch_buf_printf(&req->body, "{\"hub\":\"%s\",\"key\":", hub);
  const char *k = r->keys.names[t->key];
  ch_json_append_str(&req->body, k, strlen(k));
  ch_buf_puts(&req->body, ",\"count\":1");
  if (r->s->trigger.payload_json)
    ch_buf_printf(&req->body, ",\"payload\":%s", r->s->trigger.payload_json);
  ch_buf_putc(&req->body, '}');
  req->headers = malloc(sizeof *req->headers);
  if (!req->headers || !(req->headers[0] = strdup("Content-Type: application/json")))
    return -ENOMEM;
  req->n_headers = 1;
  req->method = "POST";
  return 0;
}

static const char *run_check_reference(void *user, size_t i, const char *body, size_t n) {
  struct run_trigger_ctx *x = user;
  struct ch_span v;
  int64_t first = 0;
  if (ch_json_pointer((struct ch_span){body, n}, "/first_seq", &v) != 1 || ch_json_num_int64(v, &first))
    return "the publish answer has no first_seq";
  if ((uint64_t)first != x->r->trig[x->first + i].seq)
    return "the reference endpoint assigned another sequence number (is another publisher running?)";
  return NULL;
}

static int run_build_http(void *user, size_t i, const struct ch_trig *t, struct ch_trigger_request *req) {
  struct run_trigger_ctx *x = user;
  const struct ch_scn_http_trigger *h = &x->r->s->trigger.http;
  char nonce[48];
  snprintf(nonce, sizeof nonce, "%016llx-%zu", (unsigned long long)x->run_id, x->first + i);
  struct ch_template_vars v = {x->r->keys.names[t->key], t->seq, nonce, ch_wall_ns() / 1000000u};
  if (ch_template_render(h->url, &v, &req->url))
    return -ENOMEM;
  if (h->body && ch_template_render(h->body, &v, &req->body))
    return -ENOMEM;
  if (h->n_headers && !(req->headers = calloc(h->n_headers, sizeof *req->headers)))
    return -ENOMEM;
  for (size_t k = 0; k < h->n_headers; k++) {
    struct ch_buf hv = CH_BUF_INIT;
    ch_buf_printf(&hv, "%s: ", h->headers[k].name);
    if (ch_template_render(h->headers[k].value, &v, &hv)) {
      ch_buf_free(&hv);
      return -ENOMEM;
    }
    req->headers[req->n_headers++] = ch_buf_steal(&hv);
  }
  req->method = h->method;
  return 0;
}

/* Appends the triggers of one phase to the run's plan: n triggers, round-robin over keys[0..K), starting at start_ns. */
static struct run_tphase *run_plan(struct ch_run *r, enum run_tphase_kind kind, const uint32_t *keys, size_t K,
                                   size_t n, uint64_t start_ns, struct ch_rng *rng) {
  size_t nt = atomic_load(&r->n_tphases);
  if (nt >= r->cap_tphases || !K)
    return NULL;
  if (n > r->cap_trig - r->n_trig)
    n = r->cap_trig - r->n_trig;
  struct run_tphase *p = &r->tphases[nt];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->first = (uint32_t)r->n_trig;
  p->n = (uint32_t)n;
  p->K = (uint32_t)K;
  p->order = malloc(K * sizeof *p->order);
  p->pos = malloc(r->keys.n * sizeof *p->pos);
  p->base = malloc(r->keys.n * sizeof *p->base);
  if (!p->order || !p->pos || !p->base) {
    free(p->order), free(p->pos), free(p->base);
    return NULL;
  }
  for (size_t k = 0; k < r->keys.n; k++) {
    p->pos[k] = -1;
    p->base[k] = r->key_seq[k];
  }
  for (size_t j = 0; j < K; j++) {
    p->order[j] = keys[j];
    p->pos[keys[j]] = (int32_t)j;
  }
  double rate = r->s->trigger.rate > 0 ? r->s->trigger.rate : 10;
  double t = 0;
  for (size_t j = 0; j < n; j++) {
    struct ch_trig *tr = &r->trig[r->n_trig + j];
    uint32_t key = keys[j % K];
    tr->key = key;
    tr->seq = ++r->key_seq[key];
    if (kind == RUN_TP_TRIGGER && r->s->trigger.arrival == CH_SCN_ARRIVAL_POISSON)
      t += -log(1.0 - ch_rng_unit(rng)) / rate;
    else if (kind != RUN_TP_DROP)
      t = (double)j / rate;
    tr->intended_ns = start_ns + (uint64_t)(t * 1e9);
    atomic_store(&tr->sent_ns, 0);
  }
  r->n_trig += n;
  p->start_ns = start_ns;
  atomic_store_explicit(&r->n_tphases, nt + 1, memory_order_release);
  return p;
}

/* Sends a planned phase's triggers and waits for the sender; returns the failures. */
static void run_send(struct ch_run *r, const struct run_tphase *p, struct ch_trigger_result *res, uint64_t stop_ns) {
  memset(res, 0, sizeof *res);
  const struct ch_scn_trigger *tg = &r->s->trigger;
  if (tg->type == CH_SCN_TRIGGER_NONE || !p || !p->n)
    return;
  struct run_trigger_ctx x = {r, r->run_id, p->first, CH_BUF_INIT};
  struct ch_trigger_opts o = {0};
  o.plan = &r->trig[p->first];
  o.n = p->n;
  o.user = &x;
  o.insecure = r->o->insecure || r->s->target.insecure;
  o.ca_file = r->o->ca_file ? r->o->ca_file : r->s->target.ca_file;
  if (tg->type == CH_SCN_TRIGGER_REFERENCE) {
    o.build = run_build_reference;
    o.check_body = run_check_reference;
  } else {
    o.build = run_build_http;
    o.timeout_ns = tg->http.timeout_ns;
    o.status_min = tg->http.expect_status_min;
    o.status_max = tg->http.expect_status_max;
  }
  struct ch_trigger_sender *snd;
  if (ch_trigger_start(&o, &snd, &x.err)) {
    res->failed = p->n;
    snprintf(res->first_error, sizeof res->first_error, "%s", x.err.data ? x.err.data : "trigger: cannot start");
    ch_buf_free(&x.err);
    return;
  }
  (void)stop_ns;
  ch_trigger_join(snd, res);
  ch_buf_free(&x.err);
}

/* Upper bound of the first receipts a phase's triggers should produce (used to end waits early). */
static uint64_t run_expected_receipts(const struct run_tphase *p, const uint32_t *subs_per_key) {
  uint64_t n = 0;
  for (uint32_t j = 0; p && j < p->n; j++)
    n += subs_per_key[p->order[j % p->K]];
  return n;
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

static bool run_shard_owns(const struct ch_run *r, size_t index) {
  return r->o->shard_count <= 1 || index % r->o->shard_count == r->o->shard_index;
}

/* Assigns keys to every client of this shard, fills the key table, and spreads clients over workers. */
static int run_make_clients(struct ch_run *r) {
  const struct ch_scenario *s = r->s;
  for (size_t p = 0; p < s->n_populations; p++) /* keys of every population first: stable indexes */
    for (size_t k = 0; k < s->populations[p].subscribe.n_keys; k++) {
      uint32_t idx;
      const char *name = s->populations[p].subscribe.keys[k];
      if (run_keys_add(&r->keys, name, strlen(name), &idx))
        return -ENOMEM;
    }
  for (size_t k = 0; k < s->trigger.n_keys; k++) {
    uint32_t idx;
    if (run_keys_add(&r->keys, s->trigger.keys[k], strlen(s->trigger.keys[k]), &idx))
      return -ENOMEM;
  }
  size_t nk = r->keys.n ? r->keys.n : 1;
  r->key_seq = calloc(nk, sizeof *r->key_seq);
  r->key_subscribed = calloc(nk, sizeof *r->key_subscribed);
  r->key_hub = calloc(nk, sizeof *r->key_hub);
  r->subs_per_key = calloc(nk, sizeof *r->subs_per_key);
  if (!r->key_seq || !r->key_subscribed || !r->key_hub || !r->subs_per_key)
    return -ENOMEM;
  bool *hub_set = calloc(nk, sizeof *hub_set);
  if (!hub_set)
    return -ENOMEM;
  for (size_t p = 0; p < s->n_populations; p++)
    for (size_t k = 0; k < s->populations[p].subscribe.n_keys; k++) {
      const char *name = s->populations[p].subscribe.keys[k];
      long idx = run_keys_find(&r->keys, name, strlen(name));
      if (!hub_set[idx]) {
        hub_set[idx] = true;
        r->key_hub[idx] = (uint8_t)s->populations[p].hub;
      }
    }
  for (size_t k = 0; k < s->trigger.n_keys; k++) {
    long idx = run_keys_find(&r->keys, s->trigger.keys[k], strlen(s->trigger.keys[k]));
    if (!hub_set[idx] && s->n_populations)
      r->key_hub[idx] = (uint8_t)s->populations[0].hub;
  }
  free(hub_set);
  size_t *kbuf = NULL, owned = 0;
  int rc = 0;
  for (size_t p = 0; p < s->n_populations && !rc; p++) {
    const struct ch_population *pop = &s->populations[p];
    size_t kpc = ch_scenario_keys_per_client(pop);
    size_t *nb = realloc(kbuf, (kpc ? kpc : 1) * sizeof *kbuf);
    if (!nb) {
      rc = -ENOMEM;
      break;
    }
    kbuf = nb;
    for (size_t i = 0; i < pop->count; i++) {
      size_t gi = pop->first_client + i;
      if (!run_shard_owns(r, gi))
        continue;
      struct run_worker *rw = r->workers[owned++ % r->n_workers];
      struct run_client *rc_ = calloc(1, sizeof *rc_);
      if (!rc_) {
        rc = -ENOMEM;
        break;
      }
      rc_->w = rw;
      rc_->pop = (uint32_t)p;
      rc_->index = (uint32_t)gi;
      rc_->bad_creds = pop->credentials != CH_SCN_CRED_VALID;
      rw->clients[rw->n_clients++] = rc_;
      struct ch_rng rng;
      ch_scenario_client_rng(s, p, i, &rng);
      size_t n = 0;
      if (kpc && ch_scenario_client_keys(pop, i, &rng, kbuf, kpc, &n)) {
        rc = -EINVAL;
        break;
      }
      rc_->subs = n ? calloc(n, sizeof *rc_->subs) : NULL;
      if (n && !rc_->subs) {
        rc = -ENOMEM;
        break;
      }
      rc_->n_subs = (uint32_t)n;
      for (size_t k = 0; k < n; k++) {
        const char *name = pop->subscribe.keys[kbuf[k]];
        uint32_t key = (uint32_t)run_keys_find(&r->keys, name, strlen(name));
        rc_->subs[k].key = key;
        ch_delivery_init(&rc_->subs[k].dl, 1u << 30);
        r->key_subscribed[key] = true;
        if (!rc_->bad_creds)
          r->subs_per_key[key]++;
      }
    }
  }
  free(kbuf);
  return rc;
}

static size_t run_trigger_capacity(const struct ch_scenario *s, size_t n_keys) {
  double rate = s->trigger.rate > 0 ? s->trigger.rate : 10;
  double cap = 16;
  for (size_t i = 0; i < s->n_phases; i++) {
    const struct ch_scn_phase *ph = &s->phases[i];
    double secs = (double)ph->duration_ns / 1e9;
    if (ph->type == CH_SCN_PHASE_TRIGGER)
      cap += s->trigger.count ? (secs > 0 ? fmin((double)s->trigger.count, rate * secs) : (double)s->trigger.count)
                              : rate * secs;
    else if (ph->type == CH_SCN_PHASE_VERIFY_SILENCE)
      cap += fmax((double)n_keys, rate * secs);
    else if (ph->type == CH_SCN_PHASE_DROP_RECONNECT)
      cap += (double)(n_keys < 100 ? n_keys : 100);
  }
  return cap > 50e6 ? 50000000u : (size_t)cap;
}

/* ---- the timeline ---- */

struct run_outcome {
  struct ch_trigger_result trig;  /* summed over phases */
  bool had_subscribe, had_unsubscribe, had_silence, had_drop, had_triggers;
  bool timed_out[64];             /* per phase (first 64) */
  uint64_t start_wall, end_wall;
};

static size_t run_trigger_keys(const struct ch_run *r, uint32_t *out) {
  size_t K = 0;
  if (r->s->trigger.keys_subscribed) {
    for (size_t k = 0; k < r->keys.n; k++)
      if (r->key_subscribed[k])
        out[K++] = (uint32_t)k;
  } else {
    for (size_t k = 0; k < r->s->trigger.n_keys; k++)
      out[K++] = (uint32_t)run_keys_find(&r->keys, r->s->trigger.keys[k], strlen(r->s->trigger.keys[k]));
  }
  return K;
}

static void run_sum_trig(struct ch_trigger_result *sum, const struct ch_trigger_result *one) {
  sum->sent += one->sent;
  sum->ok += one->ok;
  sum->failed += one->failed;
  if (!sum->first_error[0] && one->first_error[0])
    memcpy(sum->first_error, one->first_error, sizeof sum->first_error);
}

static int run_timeline(struct ch_run *r, struct run_outcome *out) {
  const struct ch_scenario *s = r->s;
  uint64_t t0 = ch_now_ns(), last_print = t0;
  uint32_t *tkeys = malloc((r->keys.n ? r->keys.n : 1) * sizeof *tkeys);
  if (!tkeys)
    return -ENOMEM;
  struct ch_rng rng;
  ch_rng_seed(&rng, s->seed * 0x9e3779b97f4a7c15u + 7);
  bool triggers_on = s->trigger.type != CH_SCN_TRIGGER_NONE;
  double rate = s->trigger.rate > 0 ? s->trigger.rate : 10;
  for (size_t i = 0; i < s->n_phases; i++) {
    const struct ch_scn_phase *ph = &s->phases[i];
    struct run_phase_task task = {NULL, (int)i, ph->type, ph->population, ph->fraction};
    uint64_t start = ch_now_ns();
    uint64_t timeout = ph->timeout_ns ? ph->timeout_ns : 30000000000u;
    struct ch_trigger_result tr;
    int rc = run_post_all(r, run_worker_phase, true, &task);
    if (rc) {
      free(tkeys);
      return rc;
    }
    switch (ph->type) {
    case CH_SCN_PHASE_CONNECT:
    case CH_SCN_PHASE_SUBSCRIBE:
    case CH_SCN_PHASE_UNSUBSCRIBE:
    case CH_SCN_PHASE_DISCONNECT:
      if (!run_wait(r, start + timeout, t0, &last_print) && i < 64)
        out->timed_out[i] = true;
      out->had_subscribe |= ph->type == CH_SCN_PHASE_SUBSCRIBE;
      out->had_unsubscribe |= ph->type == CH_SCN_PHASE_UNSUBSCRIBE;
      break;
    case CH_SCN_PHASE_HOLD:
      run_wait(r, 0, t0, &last_print);
      run_hold(r, start + ph->duration_ns, 0, 0, t0, &last_print);
      break;
    case CH_SCN_PHASE_TRIGGER:
    case CH_SCN_PHASE_VERIFY_SILENCE: {
      run_wait(r, 0, t0, &last_print);
      bool silence = ph->type == CH_SCN_PHASE_VERIFY_SILENCE;
      size_t K = triggers_on ? run_trigger_keys(r, tkeys) : 0;
      double secs = (double)ph->duration_ns / 1e9;
      size_t n;
      if (silence)
        n = (size_t)fmax((double)K, rate * secs);
      else if (s->trigger.count)
        n = secs > 0 ? (size_t)fmin((double)s->trigger.count, rate * secs) : (size_t)s->trigger.count;
      else
        n = (size_t)(rate * secs);
      struct run_tphase *p = K ? run_plan(r, silence ? RUN_TP_SILENCE : RUN_TP_TRIGGER, tkeys, K, n,
                                          ch_now_ns() + 1000000u, &rng)
                               : NULL;
      uint64_t rcv0 = run_updates_received(r);
      run_send(r, p, &tr, start + ph->duration_ns);
      run_sum_trig(&out->trig, &tr);
      if (p) {
        out->had_triggers |= !silence;
        out->had_silence |= silence;
        p->end_ns = ch_now_ns();
      }
      /* A trigger phase ends when its Updates arrived (or the deadline passed); a silence phase lasts its duration
         plus the unsubscribe grace, since nothing may arrive at all. */
      if (silence)
        run_hold(r, start + ph->duration_ns + s->expect.unsubscribe_grace_ns, 0, 0, t0, &last_print);
      else if (p)
        run_hold(r, ch_now_ns() + s->expect.deadline_ns, run_expected_receipts(p, r->subs_per_key), rcv0, t0,
                 &last_print);
      else if (ph->duration_ns)
        run_hold(r, start + ph->duration_ns, 0, 0, t0, &last_print); /* passive observation */
      break;
    }
    case CH_SCN_PHASE_DROP_RECONNECT: {
      /* Publish while the dropped clients are away (the clients wait reconnect_delay before /reconnect), then
         wait for them to come back and for the replay. */
      out->had_drop = true;
      size_t K = triggers_on ? run_trigger_keys(r, tkeys) : 0;
      if (K > 100)
        K = 100;
      struct run_tphase *p = K ? run_plan(r, RUN_TP_DROP, tkeys, K, K, ch_now_ns() + 200000000u, &rng) : NULL;
      uint64_t rcv0 = run_updates_received(r);
      run_send(r, p, &tr, 0);
      run_sum_trig(&out->trig, &tr);
      if (!run_wait(r, start + timeout, t0, &last_print) && i < 64)
        out->timed_out[i] = true;
      if (p) {
        p->end_ns = ch_now_ns();
        run_hold(r, ch_now_ns() + s->expect.deadline_ns, run_expected_receipts(p, r->subs_per_key), rcv0, t0,
                 &last_print);
      }
      break;
    }
    default:
      run_wait(r, start + timeout, t0, &last_print);
      break;
    }
  }
  run_progress(r, t0, &last_print, true);
  if (!r->o->quiet && ch_progress_live(stderr))
    fputc('\n', stderr);
  free(tkeys);
  return 0;
}

/* ---- judging ---- */

struct run_tally {
  uint64_t valid, connected, bad, bad_connected, bad_wrong_status;
  uint64_t sub_failed, subs;
  uint64_t expected, missing, replay_expected, replay_missing, dups, ooo, unexpected, after_unsub, invalid, late;
  uint64_t dropped, reconnected;
  struct ch_buf ev_connect, ev_auth, ev_delivery, ev_replay, ev_isolation, ev_unsub, ev_dup, ev_order;
  unsigned n_ev_connect, n_ev_auth, n_ev_delivery, n_ev_replay, n_ev_isolation, n_ev_unsub, n_ev_dup, n_ev_order;
};

#define RUN_EVIDENCE_MAX 5 /* example clients named per check */

static void tally_note(struct ch_buf *b, unsigned *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void tally_note(struct ch_buf *b, unsigned *n, const char *fmt, ...) {
  if ((*n)++ >= RUN_EVIDENCE_MAX)
    return;
  va_list ap;
  va_start(ap, fmt);
  ch_buf_puts(b, "; ");
  ch_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

static void run_judge_client(struct ch_run *r, struct run_client *rc, struct run_tally *t) {
  const struct ch_scenario *s = r->s;
  const char *pop = s->populations[rc->pop].name;
  if (rc->bad_creds) {
    t->bad++;
    if (rc->connected) {
      t->bad_connected++;
      tally_note(&t->ev_auth, &t->n_ev_auth, "client %u (%s): connected although its credentials are %s", rc->index,
                 pop, s->populations[rc->pop].credentials == CH_SCN_CRED_NONE ? "missing" : "invalid");
    } else if (!strstr(rc->failure.message, "HTTP 401") && !strstr(rc->failure.message, "HTTP 403")) {
      t->bad_wrong_status++;
      tally_note(&t->ev_auth, &t->n_ev_auth, "client %u (%s): expected 401 or 403, got \"%s\"", rc->index, pop,
                 rc->failure.message[0] ? rc->failure.message : "no rejection");
    }
    return;
  }
  t->valid++;
  if (rc->connected)
    t->connected++;
  else
    tally_note(&t->ev_connect, &t->n_ev_connect, "client %u (%s): %s", rc->index, pop,
               rc->failure.message[0] ? rc->failure.message : "not connected before the phase timeout");
  if (rc->dropped) {
    t->dropped++;
    t->reconnected += rc->reconnected;
  }
  if (rc->unexpected) {
    t->unexpected += rc->unexpected;
    tally_note(&t->ev_isolation, &t->n_ev_isolation, "client %u (%s): %u Updates for keys it did not subscribe to",
               rc->index, pop, rc->unexpected);
  }
  t->invalid += rc->invalid;
  bool lost = rc->failure.category != CH_FAIL_NONE; /* its loss is reported as a connection failure instead */
  size_t nt = atomic_load(&r->n_tphases);
  for (uint32_t k = 0; k < rc->n_subs; k++) {
    struct run_sub *sub = &rc->subs[k];
    const char *key = r->keys.names[sub->key];
    t->subs++;
    t->sub_failed += sub->sub_failed;
    t->dups += sub->dl.duplicates;
    t->ooo += sub->dl.out_of_order;
    if (sub->dl.duplicates)
      tally_note(&t->ev_dup, &t->n_ev_dup, "client %u key %s: %u duplicates", rc->index, key, sub->dl.duplicates);
    if (sub->dl.out_of_order)
      tally_note(&t->ev_order, &t->n_ev_order, "client %u key %s: %u Updates after a later one", rc->index, key,
                 sub->dl.out_of_order);
    if (sub->after_unsub) {
      t->after_unsub += sub->after_unsub;
      tally_note(&t->ev_unsub, &t->n_ev_unsub, "client %u key %s: %u Updates after its unsubscribe was acknowledged",
                 rc->index, key, sub->after_unsub);
    }
    for (size_t i = 0; i < nt && !lost; i++) {
      const struct run_tphase *p = &r->tphases[i];
      int32_t pos = p->pos[sub->key];
      if (pos < 0 || p->kind == RUN_TP_SILENCE || (uint32_t)pos >= p->n)
        continue;
      uint32_t cnt = (p->n - (uint32_t)pos + p->K - 1) / p->K;
      bool subscribed = sub->sub_ack_ns && sub->sub_ack_ns <= p->start_ns &&
                        (!sub->unsub_sent_ns || sub->unsub_sent_ns > p->end_ns);
      if (!subscribed)
        continue;
      uint32_t lo = p->base[sub->key] + 1, hi = p->base[sub->key] + cnt;
      uint32_t miss = ch_delivery_missing(&sub->dl, lo, hi);
      bool drop = p->kind == RUN_TP_DROP;
      *(drop ? &t->replay_expected : &t->expected) += cnt;
      *(drop ? &t->replay_missing : &t->missing) += miss;
      ch_metrics_count(rc->g, CH_CNT_UPDATES_EXPECTED, cnt);
      ch_metrics_count(rc->g, CH_CNT_UPDATES_RECEIVED, cnt - miss);
      ch_metrics_count(rc->g, CH_CNT_UPDATES_MISSING, miss);
      if (miss)
        tally_note(drop ? &t->ev_replay : &t->ev_delivery, drop ? &t->n_ev_replay : &t->n_ev_delivery,
                   "client %u key %s: %u of %u Updates (sequence %u..%u) never arrived%s", rc->index, key, miss, cnt,
                   lo, hi, drop ? " after its reconnect" : "");
    }
  }
  /* Bytes and sent messages come from the engine's counters once, not per message. */
  if (rc->c && rc->g) {
    const struct ch_client_counters *cc = ch_client_counters(rc->c);
    ch_metrics_count(rc->g, CH_CNT_MESSAGES_OUT, cc->msgs_out);
    ch_metrics_count(rc->g, CH_CNT_BYTES_IN, cc->bytes_in);
    ch_metrics_count(rc->g, CH_CNT_BYTES_OUT, cc->bytes_out);
  }
}

static void run_add_check(struct ch_report *rep, const char *id, const char *desc, enum ch_result res,
                          const char *evidence) {
  struct ch_check c = {0};
  c.id = (char *)id;
  c.description = (char *)desc;
  c.section = (char *)"scenario expectations (scenarios/README.md)";
  c.result = res;
  c.evidence = (char *)(evidence && *evidence ? evidence : NULL);
  ch_report_add_check(rep, &c);
}

static void run_checks(struct ch_run *r, const struct run_outcome *o, struct run_tally *t, struct ch_report *rep) {
  const struct ch_scenario *s = r->s;
  const struct ch_scn_expect *e = &s->expect;
  struct ch_buf ev = CH_BUF_INIT;
#define EV(...) (ch_buf_reset(&ev), ch_buf_printf(&ev, __VA_ARGS__), ev.data)
  run_add_check(rep, "RUN-CONNECT", "every client with valid credentials connected (negotiate, connect, init, start)",
                t->connected == t->valid ? CH_RESULT_PASS : CH_RESULT_FAIL,
                EV("%llu of %llu connected%s", (unsigned long long)t->connected, (unsigned long long)t->valid,
                   t->ev_connect.data ? t->ev_connect.data : ""));
  if (t->bad && e->rejection)
    run_add_check(rep, "RUN-AUTH", "clients with bad or missing credentials were refused with 401 or 403",
                  t->bad_connected || t->bad_wrong_status ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  EV("%llu clients with bad credentials: %llu connected, %llu refused with another status%s",
                     (unsigned long long)t->bad, (unsigned long long)t->bad_connected,
                     (unsigned long long)t->bad_wrong_status, t->ev_auth.data ? t->ev_auth.data : ""));
  if (o->had_subscribe)
    run_add_check(rep, "RUN-SUBSCRIBE", "every Subscribe invocation completed without a hub error",
                  !t->connected ? CH_RESULT_SKIP : t->sub_failed ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  EV("%llu of %llu subscriptions failed (see failures by reason)", (unsigned long long)t->sub_failed,
                     (unsigned long long)t->subs));
  if (s->trigger.type != CH_SCN_TRIGGER_NONE && (o->had_triggers || o->had_silence || o->had_drop))
    run_add_check(rep, "RUN-TRIGGER", "every trigger request was accepted by the target",
                  o->trig.failed ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  EV("%llu sent, %llu failed%s%s", (unsigned long long)o->trig.sent, (unsigned long long)o->trig.failed,
                     o->trig.first_error[0] ? "; first: " : "", o->trig.first_error));
  bool delivery = o->had_triggers && e->delivery != CH_SCN_DELIVERY_ANY && t->expected;
  const char *no_trig = s->trigger.type == CH_SCN_TRIGGER_NONE
                            ? "skipped: no trigger (passive run); delivery cannot be judged"
                        : !o->had_triggers ? "skipped: no trigger phase produced Updates"
                                           : "skipped: no Update was expected (no subscriber was connected and "
                                             "subscribed during a trigger phase)";
  run_add_check(rep, "RUN-DELIVERY", "every subscriber received every Update triggered for its keys",
                !delivery ? CH_RESULT_SKIP : t->missing ? CH_RESULT_FAIL : CH_RESULT_PASS,
                !delivery ? no_trig
                          : EV("%llu expected, %llu missing%s", (unsigned long long)t->expected,
                               (unsigned long long)t->missing, t->ev_delivery.data ? t->ev_delivery.data : ""));
  if (e->delivery == CH_SCN_DELIVERY_EXACTLY_ONCE)
    run_add_check(rep, "RUN-DUPLICATE", "no subscriber received the same Update twice",
                  !delivery ? CH_RESULT_SKIP : t->dups ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  !delivery ? no_trig
                            : EV("%llu duplicates%s", (unsigned long long)t->dups, t->ev_dup.data ? t->ev_dup.data : ""));
  if (e->in_order)
    run_add_check(rep, "RUN-ORDER", "per subscriber and key, Updates arrived in sequence order",
                  !delivery ? CH_RESULT_SKIP : t->ooo ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  !delivery ? no_trig
                            : EV("%llu out of order%s", (unsigned long long)t->ooo, t->ev_order.data ? t->ev_order.data : ""));
  uint64_t late = 0;
  for (unsigned i = 0; i < r->n_workers; i++)
    late += r->workers[i]->late;
  run_add_check(rep, "RUN-DEADLINE", "every Update arrived within the deadline after its trigger",
                !delivery ? CH_RESULT_SKIP : late ? CH_RESULT_FAIL : CH_RESULT_PASS,
                !delivery ? no_trig : EV("%llu Updates later than %.3f s", (unsigned long long)late, e->deadline_ns / 1e9));
  if (e->isolation)
    run_add_check(rep, "RUN-ISOLATION", "no client received an Update for a key it did not subscribe to",
                  !t->connected ? CH_RESULT_SKIP : t->unexpected ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  EV("%llu Updates for keys not subscribed%s", (unsigned long long)t->unexpected,
                     t->ev_isolation.data ? t->ev_isolation.data : ""));
  if (o->had_unsubscribe)
    run_add_check(rep, "RUN-UNSUBSCRIBE", "nothing arrived after an acknowledged unsubscribe plus the grace time",
                  !o->had_silence || !t->connected ? CH_RESULT_SKIP
                  : t->after_unsub                 ? CH_RESULT_FAIL
                                                   : CH_RESULT_PASS,
                  !o->had_silence || !t->connected ? "skipped: no verify_silence phase triggered keys that connected "
                                                     "clients had unsubscribed"
                                  : EV("%llu Updates after unsubscribe%s", (unsigned long long)t->after_unsub,
                                       t->ev_unsub.data ? t->ev_unsub.data : ""));
  if (o->had_drop) {
    run_add_check(rep, "RUN-RECONNECT", "every dropped connection reconnected (without negotiating again)",
                  t->reconnected == t->dropped ? CH_RESULT_PASS : CH_RESULT_FAIL,
                  EV("%llu dropped, %llu reconnected", (unsigned long long)t->dropped, (unsigned long long)t->reconnected));
    run_add_check(rep, "RUN-REPLAY", "Updates published while connections were down were replayed after reconnect",
                  !t->replay_expected ? CH_RESULT_SKIP : t->replay_missing ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  !t->replay_expected ? "skipped: no trigger during the drop"
                                      : EV("%llu expected, %llu missing%s", (unsigned long long)t->replay_expected,
                                           (unsigned long long)t->replay_missing, t->ev_replay.data ? t->ev_replay.data : ""));
  }
  if (t->invalid)
    run_add_check(rep, "RUN-DECODE", "every Update carried its key and sequence at the correlation pointers",
                  CH_RESULT_FAIL, EV("%llu Updates could not be read", (unsigned long long)t->invalid));
#undef EV
  ch_buf_free(&ev);
}

/* A client failed when it ended with a failure, got in with bad credentials, or saw loss, copies, disorder or
   Updates it should not have. */
static bool run_client_failed(const struct run_client *rc) {
  if (rc->bad_creds)
    return rc->connected;
  if (rc->failure.category != CH_FAIL_NONE || !rc->connected || rc->unexpected || rc->invalid)
    return true;
  for (uint32_t k = 0; k < rc->n_subs; k++)
    if (rc->subs[k].sub_failed || rc->subs[k].dl.duplicates || rc->subs[k].dl.out_of_order || rc->subs[k].after_unsub)
      return true;
  return false;
}

static void run_write_transcripts(struct ch_run *r, struct ch_report *rep) {
  if (!r->o->report_dir)
    return;
  size_t written = 0;
  struct ch_buf path = CH_BUF_INIT;
  for (unsigned i = 0; i < r->n_workers; i++)
    for (size_t c = 0; c < r->workers[i]->n_clients; c++) {
      struct run_client *rc = r->workers[i]->clients[c];
      if (!rc->trace.len || !run_client_failed(rc) || written >= 100)
        continue;
      ch_buf_reset(&path);
      ch_buf_printf(&path, "%s/transcripts", r->o->report_dir);
      mkdir(r->o->report_dir, 0755);
      mkdir(path.data, 0755);
      ch_buf_printf(&path, "/client-%u.jsonl", rc->index);
      FILE *f = fopen(path.data, "w");
      if (!f)
        continue;
      fwrite(rc->trace.data, 1, rc->trace.len, f);
      fclose(f);
      written++;
    }
  if (written) {
    ch_buf_reset(&path);
    ch_buf_printf(&path, "wire transcripts of %zu failing clients in transcripts/ (JSON Lines, credentials redacted)",
                  written);
    ch_report_add_note(rep, path.data);
  }
  ch_buf_free(&path);
}

/* ---- one run ---- */

static void run_free(struct ch_run *r) {
  if (r->engine)
    ch_engine_stop(r->engine);
  for (unsigned i = 0; r->workers && i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    if (!rw)
      continue;
    for (size_t c = 0; c < rw->n_clients; c++) {
      struct run_client *rc = rw->clients[c];
      if (rc->c)
        ch_client_free(rc->c);
      for (uint32_t k = 0; k < rc->n_subs; k++)
        ch_delivery_free(&rc->subs[k].dl);
      free(rc->subs);
      ch_buf_free(&rc->trace);
      free(rc);
    }
    free(rw->clients);
    free(rw->fan_last);
    ch_metrics_free(rw->m);
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
  free(r->subs_per_key);
  run_keys_free(&r->keys);
  ch_tokens_free(&r->tokens);
  ch_url_free(&r->target);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
}

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
  r->hub_names[0] = "ResourceEventHub";
  r->hub_names[1] = "JobEventHub";
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->wall_minus_mono = ch_wall_ns() - ch_now_ns();
  r->t0 = ch_now_ns();
  r->run_id = (ch_wall_ns() ^ ((uint64_t)getpid() << 32)) & 0xffffffffffffu;

  struct ch_token_cli cli = {o->token, o->token_env, o->token_file};
  rc = ch_tokens_resolve(&s->target.auth, &cli, &r->tokens, err);
  if (rc) {
    code = CH_EXIT_INPUT;
    goto done;
  }
  r->auth_mode = s->target.auth.mode;
  if (r->auth_mode == CH_SCN_AUTH_NONE && (o->token || o->token_env || o->token_file))
    r->auth_mode = CH_SCN_AUTH_HEADER; /* a token on the command line is meant to be sent */
  r->embedded = s->target.url == NULL;
  if (r->embedded) {
    if (!r->tokens.n && r->auth_mode != CH_SCN_AUTH_NONE && run_make_token(&r->tokens)) {
      ch_buf_puts(err, "cannot make a credential for the embedded endpoint");
      goto done;
    }
    if (run_start_embedded(r, &srv, err))
      goto done;
  } else {
    struct ch_url u;
    if (ch_url_parse(s->target.url, &u, err)) {
      code = CH_EXIT_INPUT;
      goto done;
    }
    r->target = u;
    if (s->trigger.type == CH_SCN_TRIGGER_REFERENCE) {
      /* A running `centro-harness serve`: its control API is on the port the scenario's trigger names. */
      ch_buf_puts(err, "trigger type \"reference\" needs the embedded endpoint (no target.url) or an \"http\" trigger "
                       "pointing at the endpoint's control API");
      code = CH_EXIT_INPUT;
      goto done;
    }
  }
  for (size_t i = 0; i < r->tokens.n; i++)
    ch_report_add_secret(rep, r->tokens.tokens[i]);
  for (size_t i = 0; i < s->target.n_bad_tokens; i++)
    ch_report_add_secret(rep, s->target.bad_tokens[i]);
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
  eo.insecure = o->insecure || s->target.insecure;
  eo.ca_file = o->ca_file ? o->ca_file : s->target.ca_file;
  eo.log = run_engine_log;
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
  if (run_make_clients(r))
    goto oom;
  r->cap_trig = run_trigger_capacity(s, r->keys.n);
  r->trig = calloc(r->cap_trig, sizeof *r->trig);
  r->cap_tphases = s->n_phases + 1;
  r->tphases = calloc(r->cap_tphases, sizeof *r->tphases);
  if (!r->trig || !r->tphases)
    goto oom;
  for (unsigned i = 0; i < r->n_workers; i++) {
    struct run_worker *rw = r->workers[i];
    rw->fan_last = r->cap_trig <= 4000000 ? calloc(r->cap_trig, sizeof *rw->fan_last) : NULL;
    double rate = 0;
    for (size_t p = 0; p < s->n_populations; p++) { /* the ramp of the busiest population sets the pace */
      const struct ch_scn_ramp *ramp = &s->populations[p].ramp;
      double pr = ramp->rate > 0 ? ramp->rate
                  : ramp->duration_ns ? (double)s->populations[p].count / ((double)ramp->duration_ns / 1e9)
                                      : 0;
      if (pr > rate)
        rate = pr;
    }
    rw->ramp_rate = rate / r->n_workers / (o->shard_count > 1 ? o->shard_count : 1);
  }
  if (ch_engine_start(r->engine, err))
    goto done;
  for (unsigned i = 0; i < r->n_workers; i++)
    ch_metrics_begin(r->workers[i]->m, ch_wall_ns());
  run_post_all(r, run_worker_setup, false, NULL);
  run_wait(r, 0, ch_now_ns(), &(uint64_t){0});

  out.start_wall = ch_wall_ns();
  if (run_timeline(r, &out))
    goto oom;
  out.end_wall = ch_wall_ns();
  run_post_all(r, run_worker_teardown, false, NULL);
  run_wait(r, 0, ch_now_ns(), &(uint64_t){0});
  ch_engine_stop(r->engine); /* every worker joined: their data is ours to read */

  /* Judge, then merge the workers' metrics into the report's. */
  for (unsigned i = 0; i < r->n_workers; i++)
    for (size_t c = 0; c < r->workers[i]->n_clients; c++)
      run_judge_client(r, r->workers[i]->clients[c], &tally);
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
  for (size_t i = 0; fg && r->workers[0]->fan_last && i < r->n_trig; i++) {
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
  rep->start_wall_ns = out.start_wall;
  rep->end_wall_ns = out.end_wall;
  run_checks(r, &out, &tally, rep);
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
  if (run_unreachable(r, &tally)) {
    /* The first client's failure says why; the report names the others. */
    const char *first = tally.ev_connect.data ? tally.ev_connect.data + 2 : "";
    const char *next = strstr(first, "; ");
    ch_buf_printf(err, "the target could not be reached: no client connected (%.*s)",
                  (int)(next ? (size_t)(next - first) : strlen(first)), first);
    code = CH_EXIT_RUN;
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
  ch_buf_free(&tally.ev_connect), ch_buf_free(&tally.ev_auth), ch_buf_free(&tally.ev_delivery);
  ch_buf_free(&tally.ev_replay), ch_buf_free(&tally.ev_isolation), ch_buf_free(&tally.ev_unsub);
  ch_buf_free(&tally.ev_dup), ch_buf_free(&tally.ev_order);
  return code;
}
