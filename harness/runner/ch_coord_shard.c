/* A shard's side of a coordinated run (ch_coord.h): waits for the coordinator to start each phase, tells it when
   the phase ended here, and installs the plans of the triggers the coordinator sends, so that this shard's workers
   judge the Updates of its own subscribers against them (nonces, sequence numbers, intended times, and a steady
   phase's send times as they come); a drop phase's request is the coordinator's too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_run_int.h"

int run_coord_open(struct ch_run *r) {
  if (r->o->coord_link && r->o->shard_count > 1) { /* the caller's (an MPI rank's): it outlives the run */
    r->coord = r->o->coord_link;
    return 0;
  }
  if (r->o->barrier_in < 0 || r->o->shard_count <= 1) /* options zeroed by a caller are no link (fd 0) */
    return 0;
  r->coord = malloc(sizeof *r->coord);
  if (!r->coord)
    return -ENOMEM;
  ch_coord_link_init(r->coord, r->o->barrier_in);
  return 0;
}

void run_coord_close(struct ch_run *r) {
  if (!r->coord)
    return;
  if (r->coord == r->o->coord_link) {
    r->coord = NULL;
    return;
  }
  ch_coord_link_free(r->coord); /* the coordinator reads the end of the stream as "gone" only after its timeline */
  free(r->coord);
  r->coord = NULL;
}

static void sc_send32(struct ch_run *r, unsigned type, uint32_t v) {
  if (r->coord && ch_coord_link_send(r->coord, type, &v, sizeof v) && !r->stop)
    fprintf(stderr, "shard %u: the coordinator is gone (its link is closed)\n", r->o->shard_index + 1);
}

/* Another shard lost a threshold marked abort_on_fail: this one stops as if it had (holds end, the coordinator
   starts only the disconnect), with the same reason. */
static void sc_aborted(struct ch_run *r, const struct ch_coord_msg *m) {
  pthread_mutex_lock(&r->mu);
  if (!atomic_load(&r->aborted)) {
    size_t n = m->n < sizeof r->abort_reason - 1 ? m->n : sizeof r->abort_reason - 1;
    memcpy(r->abort_reason, m->p, n);
    r->abort_reason[n] = '\0';
    r->coord_abort_told = true; /* it came from there */
    atomic_store(&r->aborted, true);
  }
  pthread_mutex_unlock(&r->mu);
}

void run_coord_poll(struct ch_run *r) {
  if (!r->coord)
    return;
  if (atomic_load(&r->aborted) && !r->coord_abort_told) {
    char why[sizeof r->abort_reason];
    pthread_mutex_lock(&r->mu);
    memcpy(why, r->abort_reason, sizeof why);
    pthread_mutex_unlock(&r->mu);
    r->coord_abort_told = true;
    ch_coord_link_send(r->coord, CH_COORD_ABORT, why, strlen(why));
  }
  if (r->coord_in_wait)
    return; /* sc_wait reads the link itself */
  /* outside a wait only an abort is taken; anything else (the next START) stays for the wait that wants it */
  struct ch_coord_msg m;
  while (ch_coord_link_recv(r->coord, 0, &m) == 1) {
    if (m.type != CH_COORD_ABORT) {
      ch_coord_link_unread(r->coord);
      break;
    }
    sc_aborted(r, &m);
  }
}

/* PROGRESS: send times of a steady phase's triggers, offsets from the phase's t0 (the sessions' judge reads them;
   a trigger not yet told of is not owed). Triggers outside this shard's installed plan are ignored. */
static void sc_progress(struct ch_run *r, const struct ch_coord_msg *m) {
  struct ch_coord_rd rd = {m->p, m->n, 0, false};
  ch_coord_get32(&rd); /* phase */
  uint32_t first = ch_coord_get32(&rd), n = ch_coord_get32(&rd);
  if (rd.bad || first > r->n_trig || n > r->n_trig - first || !r->coord_t0)
    return;
  for (uint32_t j = 0; j < n; j++) {
    uint64_t off = ch_coord_get64(&rd);
    if (rd.bad)
      return;
    atomic_store_explicit(&r->trig[first + j].sent_ns, r->coord_t0 + off, memory_order_release);
  }
}

/* Waits for a message of type `want` (HELLO and PROGRESS are taken on the way). 1: m holds it; -1: the link ended or
   a signal reached r->stop_at. */
static int sc_wait(struct ch_run *r, unsigned want, struct ch_coord_msg *m) {
  r->coord_in_wait = true;
  int rc = 0;
  while (rc == 0) {
    rc = ch_coord_link_recv(r->coord, 20, m);
    if (rc < 0) {
      if (!r->stop)
        fprintf(stderr, "shard %u: the coordinator is gone; ending the run\n", r->o->shard_index + 1);
      break;
    }
    if (rc == 1 && m->type == CH_COORD_ABORT) {
      sc_aborted(r, m);
      rc = 0;
      continue;
    }
    if (rc == 1 && m->type == CH_COORD_HELLO) {
      struct ch_coord_rd rd = {m->p, m->n, 0, false};
      uint64_t id = ch_coord_get64(&rd);
      const unsigned char *plans = ch_coord_getn(&rd, 1);
      if (!rd.bad && plans && *plans) { /* the nonces are the coordinator's */
        r->run_id = id;
        r->coord_plans = true;
      }
      rc = 0;
      continue;
    }
    if (rc == 1 && m->type == CH_COORD_PROGRESS && want != CH_COORD_PROGRESS)
      sc_progress(r, m);
    if (rc == 1 && m->type != want)
      rc = 0; /* nothing else is meant for this point of the timeline */
    /* polled after any other message too: PROGRESS comes every few milliseconds while a steady phase sends */
    if (rc == 0 && run_poll(r) >= r->stop_at)
      rc = -1;
  }
  r->coord_in_wait = false;
  return rc;
}

int run_coord_begin(struct ch_run *r, size_t i) {
  if (!r->coord)
    return 1;
  if (r->coord_started < (int)i) {
    struct ch_coord_msg m;
    if (sc_wait(r, CH_COORD_START, &m) < 0)
      return -1;
    struct ch_coord_rd rd = {m.p, m.n, 0, false};
    r->coord_started = (int)ch_coord_get32(&rd);
  }
  return r->coord_started == (int)i ? 1 : r->coord_started > (int)i ? 0 : -1;
}

void run_coord_end(struct ch_run *r, size_t i) { sc_send32(r, CH_COORD_DONE, (uint32_t)i); }
void run_coord_leave(struct ch_run *r, size_t i) { sc_send32(r, CH_COORD_LEAVE, (uint32_t)i); }

/* One trigger phase of a PLAN: the same layout run_plan fills, base taken from this shard's key_seq (the shards
   and the coordinator number every key alike: the same plans in the same order). NULL when it does not fit. */
static struct run_tphase *sc_install(struct ch_run *r, struct ch_coord_rd *rd, size_t nt) {
  uint32_t kind = ch_coord_get32(rd), trigger = ch_coord_get32(rd), first = ch_coord_get32(rd);
  uint32_t n = ch_coord_get32(rd), K = ch_coord_get32(rd);
  if (rd->bad || kind > RUN_TP_DROP || trigger >= r->s->n_triggers || first != r->n_trig ||
      n > r->cap_trig - r->n_trig || !K || K > r->keys.n || nt >= r->cap_tphases)
    return NULL;
  struct run_tphase *p = run_tphase_init(r, nt, (enum run_tphase_kind)kind, trigger, first, n, K);
  if (!p)
    return NULL;
  bool ok = true;
  for (uint32_t j = 0; j < K; j++) {
    uint32_t key = ch_coord_get32(rd);
    ok &= !rd->bad && key < r->keys.n;
    p->order[j] = ok ? key : 0;
    if (ok)
      p->pos[key] = (int32_t)j;
  }
  for (uint32_t j = 0; j < n && ok; j++) {
    struct ch_trig *tr = &r->trig[first + j];
    tr->key = ch_coord_get32(rd);
    tr->seq = ch_coord_get32(rd);
    tr->intended_ns = ch_coord_get64(rd); /* an offset until GO */
    atomic_store(&tr->sent_ns, 0);
    ok = !rd->bad && tr->key < r->keys.n;
    if (ok && tr->seq > r->key_seq[tr->key])
      r->key_seq[tr->key] = tr->seq;
  }
  if (!ok) {
    free(p->order), free(p->pos), free(p->base);
    memset(p, 0, sizeof *p);
    return NULL;
  }
  r->n_trig += n;
  /* published (n_tphases) at GO, once the times are absolute */
  return p;
}

size_t run_coord_take_plan(struct ch_run *r, size_t i, struct run_tphase **ps) {
  sc_send32(r, CH_COORD_READY, (uint32_t)i);
  struct ch_coord_msg m;
  unsigned keep = r->stop_at;
  r->stop_at = 2; /* after a first signal the coordinator still says what it sent: those Updates are judged */
  size_t np = 0;
  if (sc_wait(r, CH_COORD_PLAN, &m) < 0)
    goto out;
  struct ch_coord_rd rd = {m.p, m.n, 0, false};
  ch_coord_get32(&rd); /* phase */
  uint32_t want = ch_coord_get32(&rd);
  size_t nt0 = atomic_load(&r->n_tphases);
  for (uint32_t k = 0; k < want && k < CH_SCN_TRIGGERS_MAX && !rd.bad; k++) {
    struct run_tphase *p = sc_install(r, &rd, nt0 + np);
    if (!p) {
      fprintf(stderr, "shard %u: the coordinator's trigger plan does not fit this run; its Updates are not judged\n",
              r->o->shard_index + 1);
      break;
    }
    ps[np++] = p; /* published (n_tphases) at GO: the workers see them only with their times */
  }
  sc_send32(r, CH_COORD_ACK, (uint32_t)i);
  if (sc_wait(r, CH_COORD_GO, &m) < 0) {
    np = 0;
    goto out;
  }
  rd = (struct ch_coord_rd){m.p, m.n, 0, false};
  ch_coord_get32(&rd);
  /* the coordinator's clock to this host's (MPI ranks on other hosts; 0 on one host) */
  uint64_t t0 = ch_coord_get64(&rd) + (uint64_t)r->coord->clock_offset_ns;
  r->coord_t0 = t0;
  for (size_t k = 0; k < np; k++) {
    ps[k]->start_ns = t0;
    for (uint32_t j = 0; j < ps[k]->n; j++)
      r->trig[ps[k]->first + j].intended_ns += t0;
  }
  atomic_store_explicit(&r->n_tphases, nt0 + np, memory_order_release);
  sc_send32(r, CH_COORD_ACK, (uint32_t)i);
out:
  r->stop_at = keep;
  return np;
}

void run_coord_take_sent(struct ch_run *r, size_t i, struct run_tphase **ps, size_t np, struct run_outcome *out) {
  (void)i;
  struct ch_coord_msg m;
  unsigned keep = r->stop_at;
  r->stop_at = 2;
  int rc = sc_wait(r, CH_COORD_SENT, &m);
  r->stop_at = keep;
  if (rc < 0) {
    for (size_t k = 0; k < np; k++)
      ps[k]->n_sent = 0; /* not known to be sent: nothing is expected of them */
    return;
  }
  struct ch_coord_rd rd = {m.p, m.n, 0, false};
  ch_coord_get32(&rd);
  uint32_t got = ch_coord_get32(&rd);
  for (size_t k = 0; k < np; k++) {
    struct ch_trigger_result tr = {0};
    uint32_t n_sent = 0;
    if (k < got) {
      n_sent = ch_coord_get32(&rd);
      tr.sent = ch_coord_get64(&rd);
      tr.ok = ch_coord_get64(&rd);
      tr.failed = ch_coord_get64(&rd);
      const char *fe = ch_coord_getn(&rd, sizeof tr.first_error);
      if (fe)
        memcpy(tr.first_error, fe, sizeof tr.first_error), tr.first_error[sizeof tr.first_error - 1] = '\0';
    }
    if (rd.bad)
      n_sent = 0, memset(&tr, 0, sizeof tr);
    ps[k]->n_sent = n_sent < ps[k]->n ? n_sent : ps[k]->n;
    /* the requests are counted once, in the first shard's report: the merge sums the shards' counts */
    if (r->o->shard_index != 0)
      memset(&tr, 0, sizeof tr);
    out->trig.sent += tr.sent;
    out->trig.ok += tr.ok;
    out->trig.failed += tr.failed;
    out->trig_each[ps[k]->trigger].sent += tr.sent;
    out->trig_each[ps[k]->trigger].ok += tr.ok;
    out->trig_each[ps[k]->trigger].failed += tr.failed;
    if (tr.first_error[0] && !out->trig.first_error[0])
      memcpy(out->trig.first_error, tr.first_error, sizeof tr.first_error);
    if (tr.first_error[0] && !out->trig_each[ps[k]->trigger].first_error[0])
      memcpy(out->trig_each[ps[k]->trigger].first_error, tr.first_error, sizeof tr.first_error);
  }
}

void run_coord_take_drop(struct ch_run *r, size_t i) {
  sc_send32(r, CH_COORD_READY, (uint32_t)i); /* this shard's clients that are up are marked */
  struct ch_coord_msg m;
  r->storm_t0 = ch_now_ns();
  r->storm_drop_ok = false;
  snprintf(r->storm_drop, sizeof r->storm_drop, "the coordinator did not send the drop request");
  if (sc_wait(r, CH_COORD_DROPPED, &m) < 0)
    return;
  struct ch_coord_rd rd = {m.p, m.n, 0, false};
  ch_coord_get32(&rd);
  uint64_t age = ch_coord_get64(&rd), now = ch_now_ns();
  const unsigned char *ok = ch_coord_getn(&rd, 1);
  if (rd.bad || !ok)
    return;
  size_t n = m.n - rd.off < sizeof r->storm_drop - 1 ? m.n - rd.off : sizeof r->storm_drop - 1;
  r->storm_t0 = age < now ? now - age : 0; /* on this host's clock (the message's transit is not counted) */
  r->storm_drop_ok = *ok != 0;
  memcpy(r->storm_drop, m.p + rd.off, n); /* the coordinator redacted the URL */
  r->storm_drop[n] = '\0';
}
