/* Session populations (scenarios/README.md "sessions"): during a steady phase each worker starts sessions at the
   population's arrival rate (open model: its share of the slots, each in a free slot of max_concurrent) or keeps
   its slots below the stages' target busy (closed model); a session connects, subscribes to its keys, churns
   (unsubscribes one key, thinks, subscribes another) and leaves after its lifetime (or when the target falls). Each subscription is a run_ival; a session is judged as its client closes, by interval: it is
   owed exactly the Updates of a key published between the acknowledgement of its Subscribe plus the grace and the
   sending of its Unsubscribe (or its leaving) minus the grace, and nothing published outside every interval of the
   key. Then the slot is free for the next session. Everything here runs on the worker's thread, except
   run_sess_judge_sub, which the main thread also calls for sessions still open when the run ends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_json.h"
#include "ch_run_int.h"

#define SESS_TICK_MS 5
#define SESS_NO_IV UINT32_MAX
#define SESS_RETRY_NS 1000000000ull /* closed model: a failed session's slot starts again after this */

static uint64_t sess_grace(const struct ch_run *r) { return r->s->expect.unsubscribe_grace_ns; }

/* ---- subscriptions ---- */

static struct run_sub *sess_sub_for(struct run_client *rc, uint32_t key) {
  for (uint32_t i = 0; i < rc->n_subs; i++)
    if (rc->subs[i].key == key)
      return &rc->subs[i];
  if (rc->n_subs == rc->cap_subs) {
    uint32_t n = rc->cap_subs ? rc->cap_subs * 2 : 4;
    struct run_sub *s = realloc(rc->subs, n * sizeof *s);
    if (!s)
      return NULL;
    rc->subs = s;
    rc->cap_subs = n;
  }
  struct run_sub *sub = &rc->subs[rc->n_subs++];
  memset(sub, 0, sizeof *sub);
  sub->key = key;
  ch_delivery_init(&sub->dl, 1u << 30);
  return sub;
}

static struct run_ival *sess_iv_push(struct run_sub *sub) {
  if (sub->n_iv == sub->cap_iv) {
    uint32_t n = sub->cap_iv ? sub->cap_iv * 2 : 2;
    struct run_ival *v = realloc(sub->iv, n * sizeof *v);
    if (!v)
      return NULL;
    sub->iv = v;
    sub->cap_iv = n;
  }
  struct run_ival *iv = &sub->iv[sub->n_iv++];
  memset(iv, 0, sizeof *iv);
  return iv;
}

void run_sess_free_subs(struct run_client *rc) {
  for (uint32_t k = 0; k < rc->n_subs; k++) {
    ch_delivery_free(&rc->subs[k].dl);
    free(rc->subs[k].iv);
  }
  rc->n_subs = 0;
}

/* The invocation's argument names the sub and interval by index: the subs array may move as churn adds keys. */
static void sess_invoke_done(struct ch_client *c, const struct ch_completion *res, void *arg) {
  struct run_client *rc = ch_client_user(c);
  uintptr_t a = (uintptr_t)arg;
  uint32_t si = (uint32_t)(a >> 32), ii = (uint32_t)(a & 0x7fffffffu);
  bool unsub = (a >> 31) & 1;
  if (si >= rc->n_subs || ii >= rc->subs[si].n_iv)
    return;
  struct run_sub *sub = &rc->subs[si];
  struct run_ival *iv = &sub->iv[ii];
  if (res->status == 0 && !res->error) {
    uint64_t ack = res->sent_ns + res->rtt_ns;
    *(unsub ? &iv->unsub_ack_ns : &iv->sub_ack_ns) = ack;
    ch_metrics_record(rc->g, unsub ? CH_LAT_INVOKE_UNSUBSCRIBE : CH_LAT_INVOKE_SUBSCRIBE, res->rtt_ns);
    ch_metrics_count(rc->g, unsub ? CH_CNT_UNSUBSCRIBES : CH_CNT_SUBSCRIBES, 1);
    return;
  }
  if (res->status == -ECANCELED && rc->sess_stop_ns)
    return; /* the session left with it in flight: not an error */
  if (!unsub) {
    iv->failed = true;
    sub->sub_failed = true;
  }
  run_invoke_failed(rc, res, unsub);
}

static void sess_invoke(struct run_client *rc, uint32_t si, bool unsub) {
  struct run_worker *rw = rc->w;
  const struct ch_population *p = &rw->run->s->populations[rc->pop];
  struct run_sub *sub = &rc->subs[si];
  struct run_ival *iv = unsub ? (sub->n_iv ? &sub->iv[sub->n_iv - 1] : NULL) : sess_iv_push(sub);
  if (!iv)
    return;
  const char *name = rw->run->keys.names[sub->key];
  ch_buf_reset(&rw->scratch);
  ch_buf_putc(&rw->scratch, '[');
  ch_json_append_str(&rw->scratch, name, strlen(name));
  ch_buf_putc(&rw->scratch, ']');
  uint64_t now = ch_now_ns();
  *(unsub ? &iv->unsub_sent_ns : &iv->sub_sent_ns) = now;
  sub->held = !unsub;
  uintptr_t arg = ((uintptr_t)si << 32) | ((uintptr_t)unsub << 31) | (sub->n_iv - 1);
  const char *method = unsub ? ch_scn_hub_unsubscribe_method(p->hub) : ch_scn_hub_subscribe_method(p->hub);
  if (ch_client_invoke(rc->c, p->hub_name, method, rw->scratch.data, sess_invoke_done, (void *)arg, NULL)) {
    ch_metrics_count(rc->g, CH_CNT_INVOKE_ERRORS, 1);
    ch_metrics_fail(rc->g, unsub ? "unsubscribe: could not send" : "subscribe: could not send");
    if (!unsub)
      iv->failed = sub->sub_failed = true;
  }
}

/* A key for a churn: the population's generator (Zipf by rank, else uniform), avoiding held keys when it can. */
static long sess_pick_key(struct run_client *rc) {
  const struct ch_run *r = rc->w->run;
  const struct ch_scn_subscribe *sb = &r->s->populations[rc->pop].subscribe;
  if (!sb->n_keys)
    return -1;
  long key = -1;
  for (int attempt = 0; attempt < 8; attempt++) {
    size_t k;
    if (sb->pick == CH_SCN_PICK_ZIPF && sb->zipf_cdf) {
      double u = ch_rng_unit(&rc->sess_rng);
      size_t lo = 0, hi = sb->n_keys - 1;
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sb->zipf_cdf[mid] < u)
          lo = mid + 1;
        else
          hi = mid;
      }
      k = lo;
    } else {
      k = (size_t)ch_rng_below(&rc->sess_rng, sb->n_keys);
    }
    key = run_keys_find(&r->keys, sb->keys[k], strlen(sb->keys[k]));
    bool held = false;
    for (uint32_t i = 0; i < rc->n_subs && !held; i++)
      held = rc->subs[i].key == (uint32_t)key && rc->subs[i].held;
    if (!held)
      break;
  }
  return key;
}

/* ---- a session's life ---- */

static void sess_begin(struct run_worker *rw, struct run_client *rc, uint64_t now) {
  const struct ch_run *r = rw->run;
  const struct ch_population *p = &r->s->populations[rc->pop];
  size_t slot = rc->index - p->first_client;
  /* choices depend on (seed, population, slot, session number) only */
  ch_scenario_client_rng(r->s, rc->pop, slot + (size_t)rc->n_sessions * p->count, &rc->sess_rng);
  size_t kpc = ch_scenario_keys_per_client(p), n = 0;
  size_t *kb = kpc ? malloc(kpc * sizeof *kb) : NULL;
  if (kpc && (!kb || ch_scenario_client_keys(p, slot, &rc->sess_rng, kb, kpc, &n)))
    n = 0;
  run_sess_free_subs(rc);
  for (size_t i = 0; i < n; i++) {
    long key = run_keys_find(&r->keys, p->subscribe.keys[kb[i]], strlen(p->subscribe.keys[kb[i]]));
    if (key >= 0)
      sess_sub_for(rc, (uint32_t)key);
  }
  free(kb);
  rc->n_sessions++;
  rc->sess_active = true;
  rc->churning = false;
  rc->sess_stop_ns = 0;
  rc->sess_start_ns = now;
  rc->sess_end_ns = p->sessions.has_lifetime ? now + ch_scn_dist_draw(&p->sessions.lifetime, &rc->sess_rng)
                                             : UINT64_MAX; /* closed model: until the target falls below its slot */
  rc->churn_ns = rc->think_ns = 0;
  rc->started = rc->connected = rc->closed = rc->dropped = rc->reconnected = rc->stopping = false;
  memset(&rc->failure, 0, sizeof rc->failure);
  rc->unexpected = rc->invalid = 0;
  rc->away_ns = rc->back_ns = 0;
  rc->closes_seen = rc->closes_in_drop = 0;
  run_client_start(rw, rc);
  if (rc->g)
    ch_metrics_count(rc->g, CH_CNT_SESSIONS_STARTED, 1);
  if (rc->closed) /* could not even be created: judged and freed at once */
    run_sess_closed(rc);
}

void run_sess_connected(struct run_client *rc) {
  if (rc->sess_stop_ns)
    return;
  const struct ch_scn_sessions *ss = &rc->w->run->s->populations[rc->pop].sessions;
  for (uint32_t i = 0; i < rc->n_subs; i++)
    sess_invoke(rc, i, false);
  if (ss->churn)
    rc->churn_ns = ch_now_ns() + ch_scn_dist_draw(&ss->churn_every, &rc->sess_rng);
}

static void sess_stop(struct run_client *rc, uint64_t now) {
  if (rc->sess_stop_ns || !rc->c)
    return;
  rc->sess_stop_ns = now;
  ch_client_stop(rc->c);
}

void run_sess_closed(struct run_client *rc) {
  struct run_worker *rw = rc->w;
  if (!rc->sess_active)
    return;
  if (!rc->sess_stop_ns)
    rc->sess_stop_ns = ch_now_ns(); /* ended by a failure: its intervals end here (the judge skips a lost client) */
  if (rw->stally)
    run_judge_client(rw->run, rc, rw->stally);
  if (rc->g)
    ch_metrics_count(rc->g, CH_CNT_SESSIONS_ENDED, 1);
  run_sess_free_subs(rc);
  if (rc->c) { /* allowed from its own CLOSED callback (ch_client.h) */
    ch_client_free(rc->c);
    rc->c = NULL;
  }
  rc->sess_active = false;
}

static void sess_churn(struct run_client *rc, uint64_t now) {
  const struct ch_scn_sessions *ss = &rc->w->run->s->populations[rc->pop].sessions;
  if (!rc->churning) {
    uint32_t held[64], nh = 0; /* unsubscribe one held key, at random */
    for (uint32_t i = 0; i < rc->n_subs && nh < 64; i++)
      if (rc->subs[i].held && rc->subs[i].n_iv && rc->subs[i].iv[rc->subs[i].n_iv - 1].sub_ack_ns)
        held[nh++] = i;
    if (!nh) {
      rc->churn_ns = now + ch_scn_dist_draw(&ss->churn_every, &rc->sess_rng);
      return;
    }
    sess_invoke(rc, held[ch_rng_below(&rc->sess_rng, nh)], true);
    rc->churning = true;
    rc->think_ns = now + ch_scn_dist_draw(&ss->think, &rc->sess_rng);
    return;
  }
  if (now < rc->think_ns)
    return;
  rc->churning = false;
  rc->churn_ns = now + ch_scn_dist_draw(&ss->churn_every, &rc->sess_rng);
  long key = sess_pick_key(rc);
  if (key < 0)
    return;
  struct run_sub *sub = sess_sub_for(rc, (uint32_t)key);
  if (sub && !sub->held)
    sess_invoke(rc, (uint32_t)(sub - rc->subs), false);
}

/* Open model: starts the sessions due by now, the arrival rate integrated over time (an inhomogeneous Poisson
   process by time change: thresholds drawn Exp(1), or 1 for constant arrivals), so ticks' jitter never changes the
   rate. */
static void sess_arrivals(struct run_worker *rw, size_t p, uint64_t now, double dt) {
  const struct ch_population *pop = &rw->run->s->populations[p];
  rw->sess_acc[p] += ch_scn_sessions_rate(&pop->sessions, now - rw->sess_t0) * rw->sess_share[p] * dt;
  while (rw->sess_acc[p] >= rw->sess_next[p]) {
    rw->sess_acc[p] -= rw->sess_next[p];
    static const struct ch_scn_dist exp1 = {CH_SCN_DIST_EXPONENTIAL, 1000000000u, 0, 0};
    rw->sess_next[p] =
        pop->sessions.arrival == CH_SCN_ARRIVAL_POISSON ? (double)ch_scn_dist_draw(&exp1, &rw->arr_rng) / 1e9 : 1.0;
    struct run_client *slot = NULL;
    for (size_t i = 0; i < rw->n_clients && !slot; i++)
      if (rw->clients[i]->pop == p && !rw->clients[i]->sess_active)
        slot = rw->clients[i];
    if (slot)
      sess_begin(rw, slot, now);
    else
      rw->sess_capped++;
  }
}

/* Closed model: slot i of the population holds a session while i < the stages' target (rounded), so every worker
   and shard follows the target with its own slots and no talk. A session that ended (its lifetime) is replaced at
   once; one that failed, after SESS_RETRY_NS, so a failing target is not hammered. Returns the slots wanted here. */
static uint64_t sess_closed(struct run_worker *rw, size_t p, uint64_t now) {
  const struct ch_population *pop = &rw->run->s->populations[p];
  double want = ch_scn_sessions_rate(&pop->sessions, now - rw->sess_t0);
  size_t target = want > 0 ? (size_t)(want + 0.5) : 0;
  uint64_t mine = 0;
  for (size_t i = 0; i < rw->n_clients; i++) {
    struct run_client *rc = rw->clients[i];
    if (rc->pop != p)
      continue;
    if (rc->index - pop->first_client >= target) {
      if (rc->sess_active && !rc->sess_stop_ns)
        sess_stop(rc, now);
      continue;
    }
    mine++;
    bool failed = rc->n_sessions && rc->failure.message[0];
    if (!rc->sess_active && (!failed || now >= rc->sess_stop_ns + SESS_RETRY_NS))
      sess_begin(rw, rc, now);
  }
  return mine;
}

static void sess_tick(uv_timer_t *t) {
  struct run_worker *rw = t->data;
  const struct ch_scenario *s = rw->run->s;
  uint64_t now = ch_now_ns();
  double dt = (double)(now - rw->sess_last) / 1e9;
  rw->sess_last = now;
  uint64_t target = 0;
  bool closed = false;
  for (size_t p = 0; p < s->n_populations && p < 64 && rw->sess_on; p++) {
    const struct ch_population *pop = &s->populations[p];
    if (!pop->sessions.enabled || (rw->phase_pop >= 0 && (size_t)rw->phase_pop != p))
      continue; /* steady's "clients": that population only */
    if (pop->sessions.closed) {
      uint64_t mine = sess_closed(rw, p, now);
      atomic_store_explicit(&rw->sess_live_target[p], mine, memory_order_relaxed);
      target += mine;
      closed = true;
    } else {
      sess_arrivals(rw, p, now, dt);
    }
  }
  rw->m->has_target = closed;
  rw->m->sessions_target = target;
  for (size_t i = 0; i < rw->n_clients; i++) {
    struct run_client *rc = rw->clients[i];
    if (!rc->session || !rc->sess_active || rc->sess_stop_ns)
      continue;
    if (now >= rc->sess_end_ns)
      sess_stop(rc, now);
    else if (rc->churn_ns && rc->c && ch_client_state(rc->c) == CH_CLIENT_CONNECTED &&
             now >= (rc->churning ? rc->think_ns : rc->churn_ns))
      sess_churn(rc, now);
  }
}

/* The steady phase's start (sessions begin to arrive) or its end (arrivals stop, every session leaves; the phase is
   done once their clients closed). */
void run_sess_phase(struct run_worker *rw, bool end) {
  if (!rw->timers_open)
    return;
  if (!end) {
    if (!rw->stally && !(rw->stally = calloc(1, sizeof *rw->stally)))
      return;
    rw->sess_on = true;
    rw->sess_t0 = rw->sess_last = ch_now_ns();
    for (size_t p = 0; p < 64; p++)
      rw->sess_acc[p] = rw->sess_share[p] = 0, rw->sess_next[p] = 1.0;
    /* this worker's share of a population's arrivals: its share of the slots (over workers and shards) */
    for (size_t i = 0; i < rw->n_clients; i++)
      if (rw->clients[i]->session && rw->clients[i]->pop < 64)
        rw->sess_share[rw->clients[i]->pop] += 1.0 / (double)rw->run->s->populations[rw->clients[i]->pop].count;
    ch_rng_seed(&rw->arr_rng, rw->run->s->seed * 0x2545f4914f6cdd1du + rw->index + 1);
    uv_timer_start(&rw->sess_timer, sess_tick, SESS_TICK_MS, SESS_TICK_MS);
    return;
  }
  rw->sess_on = false;
  rw->m->has_target = false; /* no closed-model target outside a steady phase */
  for (size_t p = 0; p < 64; p++)
    atomic_store_explicit(&rw->sess_live_target[p], 0, memory_order_relaxed);
  uv_timer_stop(&rw->sess_timer);
  uint64_t now = ch_now_ns();
  for (size_t i = 0; i < rw->n_clients; i++) { /* counted first: a stop may close a client at once */
    struct run_client *rc = rw->clients[i];
    if (rc->session && rc->sess_active && rc->c) {
      rc->waiting = true; /* settled by its CLOSED */
      rw->pending++;
    }
  }
  for (size_t i = 0; i < rw->n_clients; i++)
    if (rw->clients[i]->waiting)
      sess_stop(rw->clients[i], now);
}

/* ---- judging ---- */

/* Hot path: an Update of a held key published outside every interval of it (grace included) is one it should not
   have had. The first Update of an interval gives first_update. */
void run_sess_update(struct run_client *rc, struct run_sub *sub, long idx, uint64_t recv_ns) {
  const struct ch_run *r = rc->w->run;
  if (sub->n_iv) {
    struct run_ival *last = &sub->iv[sub->n_iv - 1];
    if (!last->first_seen && last->sub_ack_ns && !last->unsub_sent_ns) {
      last->first_seen = true;
      ch_metrics_record(rc->g, CH_LAT_FIRST_UPDATE, recv_ns > last->sub_ack_ns ? recv_ns - last->sub_ack_ns : 0);
    }
  }
  if (idx < 0)
    return;
  uint64_t pub = atomic_load_explicit(&r->trig[idx].sent_ns, memory_order_relaxed);
  if (!pub)
    pub = r->trig[idx].intended_ns;
  uint64_t g = sess_grace(r);
  for (uint32_t i = 0; i < sub->n_iv; i++) {
    const struct run_ival *iv = &sub->iv[i];
    uint64_t end = iv->unsub_ack_ns ? iv->unsub_ack_ns : iv->unsub_sent_ns ? UINT64_MAX : rc->sess_stop_ns;
    if (pub + g >= iv->sub_sent_ns && (!end || end == UINT64_MAX || pub <= end + g))
      return;
  }
  sub->after_unsub++;
  ch_metrics_count(rc->g, CH_CNT_UPDATES_UNEXPECTED, 1);
}

/* What a session was owed of one key: every trigger of the key sent while an interval held it (its acknowledgement
   plus the grace up to its end minus the grace), looked up in the run's trigger phases. */
void run_sess_judge_sub(struct ch_run *r, struct run_client *rc, struct run_sub *sub, struct run_tally *t) {
  uint64_t g = sess_grace(r);
  size_t nt = atomic_load_explicit(&r->n_tphases, memory_order_acquire);
  const char *key = r->keys.names[sub->key];
  for (uint32_t v = 0; v < sub->n_iv; v++) {
    const struct run_ival *iv = &sub->iv[v];
    uint64_t end = iv->unsub_sent_ns ? iv->unsub_sent_ns : rc->sess_stop_ns ? rc->sess_stop_ns : ch_now_ns();
    if (iv->failed || !iv->sub_ack_ns || iv->sub_ack_ns + 2 * g >= end)
      continue;
    uint64_t lo_t = iv->sub_ack_ns + g, hi_t = end - g;
    uint32_t cnt = 0, miss = 0, first_seq = 0, last_seq = 0;
    for (size_t i = 0; i < nt; i++) {
      const struct run_tphase *p = &r->tphases[i];
      int32_t pos = p->pos[sub->key];
      if (pos < 0 || p->kind != RUN_TP_TRIGGER)
        continue;
      for (uint64_t j = (uint32_t)pos; j < p->n; j += p->K) {
        const struct ch_trig *tr = &r->trig[p->first + j];
        uint64_t sent = atomic_load_explicit(&((struct ch_trig *)tr)->sent_ns, memory_order_relaxed);
        if (!sent || sent < lo_t)
          continue;
        if (sent > hi_t)
          break;
        cnt++;
        if (!ch_delivery_has(&sub->dl, tr->seq)) {
          miss++;
          last_seq = tr->seq;
          if (!first_seq)
            first_seq = tr->seq;
        }
      }
    }
    t->expected += cnt;
    t->missing += miss;
    uint8_t by = r->key_trigger[sub->key];
    if (by != RUN_NO_TRIGGER && by < CH_SCN_TRIGGERS_MAX)
      t->t_expected[by] += cnt, t->t_missing[by] += miss;
    ch_metrics_count(rc->g, CH_CNT_UPDATES_EXPECTED, cnt);
    ch_metrics_count(rc->g, CH_CNT_UPDATES_RECEIVED, cnt - miss);
    ch_metrics_count(rc->g, CH_CNT_UPDATES_MISSING, miss);
    if (miss && t->n_ev_delivery++ < 5)
      ch_buf_printf(&t->ev_delivery, "; client %u session %u key %s: %u of %u Updates owed by its subscription "
                                     "interval %u never arrived (sequence %u..%u)",
                    rc->index, rc->n_sessions, key, miss, cnt, v + 1, first_seq, last_seq);
  }
}

/* ---- tallies ---- */

static void tally_cat(struct ch_buf *dst, unsigned *n, const struct ch_buf *src, unsigned n_src) {
  if (!src->len || *n >= 5)
    return;
  ch_buf_puts(dst, src->data);
  *n += n_src;
}

void run_tally_merge(struct run_tally *d, const struct run_tally *s) {
  d->valid += s->valid, d->connected += s->connected, d->bad += s->bad, d->bad_connected += s->bad_connected;
  d->bad_wrong_status += s->bad_wrong_status, d->sub_failed += s->sub_failed, d->subs += s->subs;
  d->expected += s->expected, d->missing += s->missing, d->replay_expected += s->replay_expected;
  d->replay_missing += s->replay_missing, d->dups += s->dups, d->ooo += s->ooo, d->unexpected += s->unexpected;
  d->after_unsub += s->after_unsub, d->invalid += s->invalid, d->late += s->late, d->dropped += s->dropped;
  d->reconnected += s->reconnected, d->server_closes += s->server_closes, d->sess_early += s->sess_early;
  d->closes_unexpected += s->closes_unexpected;
  for (size_t i = 0; i < CH_SCN_TRIGGERS_MAX; i++)
    d->t_expected[i] += s->t_expected[i], d->t_missing[i] += s->t_missing[i];
  tally_cat(&d->ev_close, &d->n_ev_close, &s->ev_close, s->n_ev_close);
  tally_cat(&d->ev_connect, &d->n_ev_connect, &s->ev_connect, s->n_ev_connect);
  tally_cat(&d->ev_auth, &d->n_ev_auth, &s->ev_auth, s->n_ev_auth);
  tally_cat(&d->ev_delivery, &d->n_ev_delivery, &s->ev_delivery, s->n_ev_delivery);
  tally_cat(&d->ev_replay, &d->n_ev_replay, &s->ev_replay, s->n_ev_replay);
  tally_cat(&d->ev_isolation, &d->n_ev_isolation, &s->ev_isolation, s->n_ev_isolation);
  tally_cat(&d->ev_unsub, &d->n_ev_unsub, &s->ev_unsub, s->n_ev_unsub);
  tally_cat(&d->ev_dup, &d->n_ev_dup, &s->ev_dup, s->n_ev_dup);
  tally_cat(&d->ev_order, &d->n_ev_order, &s->ev_order, s->n_ev_order);
}

void run_sess_tally(struct ch_run *r, struct run_tally *t, struct ch_report *rep) {
  uint64_t capped = 0;
  for (unsigned i = 0; i < r->n_workers; i++) {
    if (r->workers[i]->stally)
      run_tally_merge(t, r->workers[i]->stally);
    capped += r->workers[i]->sess_capped;
  }
  char note[200];
  if (capped) {
    snprintf(note, sizeof note, "%llu session arrivals found every slot busy (sessions.max_concurrent) and were "
             "not started", (unsigned long long)capped);
    ch_report_add_note(rep, note);
  }
  if (t->sess_early) {
    snprintf(note, sizeof note, "%llu sessions left before they connected, less than expect.deadline after they "
             "started (a short lifetime or the steady phase's end): not judged", (unsigned long long)t->sess_early);
    ch_report_add_note(rep, note);
  }
}

void run_tally_free(struct run_tally *t) {
  ch_buf_free(&t->ev_connect), ch_buf_free(&t->ev_auth), ch_buf_free(&t->ev_delivery);
  ch_buf_free(&t->ev_replay), ch_buf_free(&t->ev_isolation), ch_buf_free(&t->ev_unsub);
  ch_buf_free(&t->ev_dup), ch_buf_free(&t->ev_order), ch_buf_free(&t->ev_close);
}
