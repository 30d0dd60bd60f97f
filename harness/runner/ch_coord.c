/* The coordinator of a sharded run (ch_coord.h): the parent of `run --processes N` walks the scenario's timeline,
   starts each phase on every shard and waits until every shard ended it; against an external target it plans and
   sends the triggers itself (once), after every shard holds the plan, those of a steady phase too, and a drop
   phase's request. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_hist.h"
#include "ch_interrupt.h"
#include "ch_run_int.h"

struct coord {
  struct ch_run r; /* the planning run: key tables and trigger storage, no engine, no clients */
  struct ch_run_opts po;
  struct ch_coord_link *links;
  const pid_t *pids;
  unsigned n;
  bool *gone, *arrived;
  unsigned want; /* the message co_wait_all waits for, 0 none */
  struct ch_coord_outcome *out;
  struct ch_hist *late; /* sent minus intended time of every trigger sent (the sender's accuracy) */
  /* A steady phase's triggers while they go out (co_progress): its trigger phases, GO's t0, and how many of each
     the shards were told of. */
  struct run_tphase **stream;
  size_t n_stream;
  uint64_t stream_t0;
  uint32_t stream_phase, told[CH_SCN_TRIGGERS_MAX];
};

/* A shard is lost (its link ended: it died) or left: the run ends. The others are stopped with SIGTERM when one
   died (their reports say what they measured until then, as after an interrupt); after a LEAVE (nothing can be
   measured) they end their timelines when the coordinator closes their links. */
static void co_lost(struct coord *c, unsigned k, bool left) {
  if (c->gone[k])
    return;
  c->gone[k] = true;
  int *first = left ? &c->out->left_shard : &c->out->lost_shard;
  if (*first < 0) {
    *first = (int)k;
    c->out->lost_phase = c->r.cur_phase;
  }
  if (left)
    return;
  for (unsigned j = 0; j < c->n; j++)
    if (!c->gone[j] && c->pids[j] > 0)
      kill(c->pids[j], SIGTERM);
    else if (!c->gone[j] && c->links[j].ops) /* an MPI rank: its link raises the SIGTERM there */
      ch_coord_link_send(&c->links[j], CH_COORD_STOP, NULL, 0);
}

static bool co_broken(const struct coord *c) { return c->out->lost_shard >= 0 || c->out->left_shard >= 0; }

static void co_broadcast(struct coord *c, unsigned type, const struct ch_buf *b) {
  for (unsigned k = 0; k < c->n; k++)
    if (!c->gone[k] && ch_coord_link_send(&c->links[k], type, b->data, b->len))
      co_lost(c, k, false);
}

static void co_broadcast32(struct coord *c, unsigned type, uint32_t v) {
  struct ch_buf b = CH_BUF_INIT;
  ch_coord_put32(&b, v);
  co_broadcast(c, type, &b);
  ch_buf_free(&b);
}

/* A shard lost a threshold marked abort_on_fail: no further trigger (the sender watches r.aborted), only the
   disconnect is started, and every other shard hears why (its holds end, its report says so). */
static void co_abort(struct coord *c, unsigned from, const struct ch_coord_msg *m) {
  if (atomic_load(&c->r.aborted))
    return;
  size_t n = m->n < sizeof c->out->abort_reason - 1 ? m->n : sizeof c->out->abort_reason - 1;
  memcpy(c->out->abort_reason, m->p, n);
  c->out->abort_reason[n] = '\0';
  atomic_store(&c->r.aborted, true);
  for (unsigned k = 0; k < c->n; k++)
    if (k != from && !c->gone[k] && ch_coord_link_send(&c->links[k], CH_COORD_ABORT, m->p, n))
      co_lost(c, k, false);
}

/* Takes the messages the shards sent so far: the one awaited (c->want) marks its shard arrived, and nothing after
   it is read (after its last DONE a shard ends, and the end of its link then is no loss). */
static void co_drain(struct coord *c) {
  for (unsigned k = 0; k < c->n; k++) {
    struct ch_coord_msg m;
    int got;
    if (!c->gone[k])
      ch_coord_link_tick(&c->links[k]);
    while (!c->gone[k] && !(c->want && c->arrived[k]) && (got = ch_coord_link_recv(&c->links[k], 0, &m)) != 0) {
      if (got < 0)
        co_lost(c, k, false);
      else if (m.type == CH_COORD_LEAVE)
        co_lost(c, k, true);
      else if (m.type == CH_COORD_ABORT)
        co_abort(c, k, &m);
      else if (c->want && m.type == c->want)
        c->arrived[k] = true;
    }
  }
}

/* Waits until every shard sent `want`: 0; -1 a shard was lost or left; 1 a signal reached r.stop_at. */
static int co_wait_all(struct coord *c, unsigned want) {
  memset(c->arrived, 0, c->n * sizeof *c->arrived);
  struct ch_coord_link **pl = calloc(c->n, sizeof *pl);
  if (!pl)
    return -1;
  c->want = want;
  int rc;
  for (;;) {
    unsigned pending = 0;
    co_drain(c);
    for (unsigned k = 0; k < c->n; k++)
      if (!c->gone[k] && !c->arrived[k])
        pl[pending++] = &c->links[k];
    if (co_broken(c)) {
      rc = -1;
      break;
    }
    if (!pending) {
      rc = 0;
      break;
    }
    if (run_poll(&c->r) >= c->r.stop_at) {
      rc = 1;
      break;
    }
    ch_coord_link_wait(pl, pending, 20);
  }
  c->want = 0;
  free(pl);
  return rc;
}

/* PLAN: per trigger phase its header, key order and every trigger (key, sequence number, offset from t0). */
static void co_encode_plan(const struct ch_run *r, size_t i, struct run_tphase **ps, size_t np, struct ch_buf *b) {
  ch_coord_put32(b, (uint32_t)i);
  ch_coord_put32(b, (uint32_t)np);
  for (size_t k = 0; k < np; k++) {
    const struct run_tphase *p = ps[k];
    ch_coord_put32(b, p->kind);
    ch_coord_put32(b, p->trigger);
    ch_coord_put32(b, p->first);
    ch_coord_put32(b, p->n);
    ch_coord_put32(b, p->K);
    ch_buf_append(b, p->order, p->K * sizeof *p->order);
    for (uint32_t j = 0; j < p->n; j++) {
      const struct ch_trig *t = &r->trig[p->first + j];
      ch_coord_put32(b, t->key);
      ch_coord_put32(b, t->seq);
      ch_coord_put64(b, t->intended_ns);
    }
  }
}

/* Tells the shards the send times of a steady phase's triggers sent since the last call: each sender goes through
   its plan in order, so what was sent is a prefix of it. */
static void co_progress(struct coord *c) {
  for (size_t k = 0; k < c->n_stream; k++) {
    const struct run_tphase *p = c->stream[k];
    uint32_t j = c->told[k];
    while (j < p->n && atomic_load_explicit(&c->r.trig[p->first + j].sent_ns, memory_order_acquire))
      j++;
    if (j == c->told[k])
      continue;
    struct ch_buf b = CH_BUF_INIT;
    ch_coord_put32(&b, c->stream_phase);
    ch_coord_put32(&b, p->first + c->told[k]);
    ch_coord_put32(&b, j - c->told[k]);
    for (uint32_t x = c->told[k]; x < j; x++) {
      uint64_t sent = atomic_load(&c->r.trig[p->first + x].sent_ns);
      ch_coord_put64(&b, sent > c->stream_t0 ? sent - c->stream_t0 : 0);
    }
    co_broadcast(c, CH_COORD_PROGRESS, &b);
    ch_buf_free(&b);
    c->told[k] = j;
  }
}

/* A drop phase's one request, once every shard marked the clients that are up (READY): DROPPED tells each shard
   when it was sent and what it answered (the recovery is measured from then). */
static int co_drop(struct coord *c, size_t i) {
  int rc = co_wait_all(c, CH_COORD_READY);
  if (rc)
    return rc;
  struct ch_run *r = &c->r;
  if (run_storm_drop(r, &r->s->phases[i])) {
    r->storm_t0 = ch_now_ns();
    r->storm_drop_ok = false;
    snprintf(r->storm_drop, sizeof r->storm_drop, "the drop request could not be made: out of memory");
  }
  struct ch_buf b = CH_BUF_INIT; /* after the phase and the age: ok, then the answer */
  ch_buf_putc(&b, r->storm_drop_ok ? 1 : 0);
  ch_buf_append(&b, r->storm_drop, strlen(r->storm_drop));
  for (unsigned k = 0; k < c->n; k++) { /* each its own age of the drop: the shards' clocks need no offset */
    uint64_t age = ch_now_ns() - r->storm_t0;
    struct ch_buf m = CH_BUF_INIT;
    ch_coord_put32(&m, (uint32_t)i);
    ch_coord_put64(&m, age);
    ch_buf_append(&m, b.data, b.len);
    if (!c->gone[k] && ch_coord_link_send(&c->links[k], CH_COORD_DROPPED, m.data, m.len))
      co_lost(c, k, false);
    ch_buf_free(&m);
  }
  ch_buf_free(&b);
  return co_broken(c) ? -1 : 0;
}

/* A phase whose triggers the coordinator sends: READY from all, PLAN, ACK, GO (the times), ACK, send (a steady
   phase's send times told as they go: PROGRESS), SENT. Returns what co_wait_all returns. */
static int co_trigger_phase(struct coord *c, size_t i, struct ch_rng *rng, uint32_t *tkeys) {
  struct ch_run *r = &c->r;
  const struct ch_scn_phase *ph = &r->s->phases[i];
  enum run_tphase_kind kind = ph->type == CH_SCN_PHASE_VERIFY_SILENCE ? RUN_TP_SILENCE
                              : ph->type == CH_SCN_PHASE_DROP_RECONNECT || ph->type == CH_SCN_PHASE_DROP
                                  ? RUN_TP_DROP
                                  : RUN_TP_TRIGGER;
  int rc = co_wait_all(c, CH_COORD_READY);
  if (rc)
    return rc;
  struct run_tphase *ps[CH_SCN_TRIGGERS_MAX];
  size_t np = ch_scenario_triggers_on(r->s) ? run_plan_phase(r, ph, kind, 0, rng, tkeys, ps) : 0;
  struct ch_buf b = CH_BUF_INIT;
  co_encode_plan(r, i, ps, np, &b);
  r->stop_at = 2; /* after a first signal the shards still take the plan and hear what was sent */
  co_broadcast(c, CH_COORD_PLAN, &b);
  ch_buf_free(&b);
  if ((rc = co_wait_all(c, CH_COORD_ACK)) != 0)
    return rc;
  /* every shard holds the plan: the times start now (a drop phase gives the dropped clients time to leave) */
  uint64_t t0 = ch_now_ns() + (kind == RUN_TP_DROP ? 200000000u : 2000000u);
  for (size_t k = 0; k < np; k++) {
    ps[k]->start_ns = t0;
    for (uint32_t j = 0; j < ps[k]->n; j++)
      r->trig[ps[k]->first + j].intended_ns += t0;
  }
  ch_coord_put32(&b, (uint32_t)i);
  ch_coord_put64(&b, t0);
  co_broadcast(c, CH_COORD_GO, &b);
  ch_buf_free(&b);
  if ((rc = co_wait_all(c, CH_COORD_ACK)) != 0)
    return rc;
  struct run_outcome po = {0};
  if (ph->type == CH_SCN_PHASE_STEADY) { /* sessions are judged as they leave: they need the send times now */
    c->stream = ps, c->n_stream = np, c->stream_t0 = t0, c->stream_phase = (uint32_t)i;
    memset(c->told, 0, sizeof c->told);
  }
  run_send_phase(r, ps, np, &po);
  co_progress(c); /* the last ones, before SENT */
  c->n_stream = 0;
  c->out->triggers += po.trig.sent;
  for (size_t k = 0; k < np; k++)
    for (uint32_t j = 0; j < ps[k]->n; j++) {
      const struct ch_trig *t = &r->trig[ps[k]->first + j];
      uint64_t sent = atomic_load(&((struct ch_trig *)t)->sent_ns);
      if (sent)
        ch_hist_record(c->late, sent > t->intended_ns ? sent - t->intended_ns : 0);
    }
  ch_coord_put32(&b, (uint32_t)i);
  ch_coord_put32(&b, (uint32_t)np);
  /* per trigger phase its own result: run_send_phase summed them, so send them again one by one */
  for (size_t k = 0; k < np; k++) {
    const struct ch_trigger_result *tr = &po.trig_each[ps[k]->trigger];
    ch_coord_put32(&b, ps[k]->n_sent);
    ch_coord_put64(&b, tr->sent);
    ch_coord_put64(&b, tr->ok);
    ch_coord_put64(&b, tr->failed);
    ch_buf_append(&b, tr->first_error, sizeof tr->first_error);
  }
  co_broadcast(c, CH_COORD_SENT, &b);
  ch_buf_free(&b);
  r->stop_at = 1;
  return co_broken(c) ? -1 : 0;
}

/* run_poll's question, also while the coordinator sends: has a shard's link ended? (An abort is taken too.) */
static bool co_watch(void *user) {
  struct coord *c = user;
  co_progress(c);
  co_drain(c);
  return c->out->lost_shard >= 0;
}

static double co_cpu_s(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru))
    return 0;
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

int ch_coord_run(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_coord_link *links,
                 const pid_t *pids, unsigned n, struct ch_interrupt *intr, struct ch_coord_outcome *out) {
  struct coord c = {0};
  memset(out, 0, sizeof *out);
  out->lost_shard = out->left_shard = out->lost_phase = -1;
  c.po = *o;
  c.po.quiet = true; /* the first shard tells of signals and phases */
  c.po.intr = intr;
  c.po.checkpoint_dir = NULL;
  c.r.s = s;
  c.r.o = &c.po;
  c.links = links;
  c.pids = pids;
  c.n = n;
  c.out = out;
  c.gone = calloc(n, sizeof *c.gone);
  c.arrived = calloc(n, sizeof *c.arrived);
  c.late = malloc(sizeof *c.late);
  if (c.late)
    ch_hist_init(c.late);
  bool plans = s->target.url != NULL; /* shards with their own embedded endpoint send their own triggers */
  double cpu0 = co_cpu_s();
  bool inited = c.gone && c.arrived && c.late;
  int rc = inited ? run_plan_only_init(&c.r) : -ENOMEM;
  uint32_t *tkeys = rc ? NULL : malloc((c.r.keys.n ? c.r.keys.n : 1) * sizeof *tkeys);
  if (!rc && !tkeys)
    rc = -ENOMEM;
  if (rc)
    goto done;
  c.r.coord_lost = co_watch;
  c.r.coord_user = &c;
  c.r.run_id = (ch_wall_ns() ^ ((uint64_t)getpid() << 32)) & 0xffffffffffffu;
  struct ch_buf b = CH_BUF_INIT;
  ch_coord_put64(&b, c.r.run_id);
  ch_buf_putc(&b, plans ? 1 : 0);
  co_broadcast(&c, CH_COORD_HELLO, &b);
  ch_buf_free(&b);
  struct ch_rng rng;
  ch_rng_seed(&rng, s->seed * 0x9e3779b97f4a7c15u + 7); /* the single-process timeline's sequence */
  for (size_t i = 0; i < s->n_phases && !co_broken(&c); i++) {
    enum ch_scn_phase_type t = s->phases[i].type;
    if (atomic_load(&c.r.aborted) && t != CH_SCN_PHASE_DISCONNECT)
      continue; /* abort_on_fail: only the clean disconnect is left */
    c.r.cur_phase = (int)i;
    c.r.stop_at = 1;
    if (run_poll(&c.r))
      break; /* interrupted: no new phase (the shards had the signal too) */
    for (unsigned k = 0; k < n; k++) /* at each barrier: hosts' clocks drift apart during long runs */
      if (!c.gone[k])
        ch_coord_link_sync(&c.links[k]);
    co_broadcast32(&c, CH_COORD_START, (uint32_t)i);
    if (plans && t == CH_SCN_PHASE_DROP && co_drop(&c, i))
      break;
    if (plans &&
        (t == CH_SCN_PHASE_TRIGGER || t == CH_SCN_PHASE_VERIFY_SILENCE || t == CH_SCN_PHASE_DROP_RECONNECT ||
         t == CH_SCN_PHASE_DROP || t == CH_SCN_PHASE_STEADY) &&
        co_trigger_phase(&c, i, &rng, tkeys))
      break;
    if (co_wait_all(&c, CH_COORD_DONE))
      break;
  }
done:
  out->cpu_s = co_cpu_s() - cpu0;
  if (c.late) {
    out->late_p50_ns = ch_hist_value_at(c.late, 50);
    out->late_p99_ns = ch_hist_value_at(c.late, 99);
  }
  free(c.late);
  free(tkeys);
  free(c.gone);
  free(c.arrived);
  if (inited)
    run_plan_only_free(&c.r);
  return rc;
}
