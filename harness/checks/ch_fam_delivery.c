/* Delivery checks on one subscribed probe session per transport: subscribe then delivery, isolation between keys
   and hubs, a burst for order/duplicates/loss/latency, unsubscribe then silence (§3.1, §3.2). Silence is proven
   with a fence: an Update the session must get is published after the one it must not get, so no check waits a
   fixed window on a conformant target. Without a trigger only DEL-001 runs (passively) and the rest are skipped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"

struct upd {
  char *arg; /* A[0] serialised */
  char hub[48];
  uint64_t t_ns;
};

struct updlist {
  struct upd *v;
  size_t n, cap;
};

static void ul_free(struct updlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i].arg);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* Receives one persistent response and appends its Update invocations. 1/0/negative like ch_sess_recv. */
static int recv_updates(struct ch_sess *s, long timeout_ms, struct updlist *l) {
  struct ch_buf m = CH_BUF_INIT;
  int rc = ch_sess_recv(s, timeout_ms, &m);
  uint64_t now = ch_now_ns();
  if (rc == 1) {
    cJSON *j = ch_chk_json(s->cx, m.data, m.len);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "M");
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
      const cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "H");
      const cJSON *mm = cJSON_GetObjectItemCaseSensitive(e, "M");
      const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "A");
      if (!cJSON_IsString(mm) || strcasecmp(mm->valuestring, "Update") != 0 || !cJSON_IsArray(a))
        continue;
      if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct upd *v = realloc(l->v, cap * sizeof *v);
        if (!v)
          break;
        l->v = v, l->cap = cap;
      }
      struct upd *u = &l->v[l->n++];
      u->arg = cJSON_PrintUnformatted(cJSON_GetArrayItem(a, 0));
      if (!u->arg)
        u->arg = strdup("null");
      snprintf(u->hub, sizeof u->hub, "%s", cJSON_IsString(h) ? h->valuestring : "");
      u->t_ns = now;
    }
    cJSON_Delete(j);
  }
  ch_buf_free(&m);
  return rc;
}

/* Whether update u is the one published with nonce (on hub h, key k when nonce is NULL). */
static bool is_pub(struct ch_chk_ctx *cx, const struct upd *u, const struct ch_chk_hub *h, const char *key,
                   const char *nonce) {
  if (strcasecmp(u->hub, h->name) != 0)
    return false;
  cJSON *a = cJSON_Parse(u->arg);
  bool ok;
  if (nonce && cx->trigger)
    ok = ch_chk_update_matches(cx, a, nonce, NULL);
  else {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(a, h->key_field);
    ok = !k || (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0);
  }
  cJSON_Delete(a);
  return ok;
}

/* Receives until an Update matching (h, key, nonce) arrives (index into l, or -1 at the deadline). */
static long wait_for(struct ch_chk_ctx *cx, struct ch_sess *s, struct updlist *l, size_t from,
                     const struct ch_chk_hub *h, const char *key, const char *nonce, long timeout_ms) {
  uint64_t deadline = ch_now_ns() + (uint64_t)timeout_ms * 1000000u;
  for (size_t i = from;;) {
    for (; i < l->n; i++)
      if (is_pub(cx, &l->v[i], h, key, nonce))
        return (long)i;
    uint64_t now = ch_now_ns();
    if (now >= deadline)
      return -1;
    int rc = recv_updates(s, (long)((deadline - now) / 1000000u) + 1, l);
    if (rc < 0)
      return -1;
  }
}

static void drain(struct ch_sess *s, struct updlist *l, long ms) {
  uint64_t deadline = ch_now_ns() + (uint64_t)ms * 1000000u;
  while (ch_now_ns() < deadline)
    if (recv_updates(s, (long)((deadline - ch_now_ns()) / 1000000u) + 1, l) <= 0)
      break;
}

static int publish(struct ch_chk_ctx *cx, const struct ch_chk_hub *h, const char *key, char nonce[24],
                   struct ch_buf *err) {
  ch_chk_nonce(cx, nonce);
  return ch_chk_publish(cx, h, key, ++cx->seq, nonce, err);
}

static bool invoke_ok(struct ch_sess *s, const char *method, const char *key, int id, struct ch_buf *ev) {
  char args[96], idj[16];
  snprintf(args, sizeof args, "[\"%s\"]", key);
  snprintf(idj, sizeof idj, "%d", id);
  struct ch_buf comp = CH_BUF_INIT;
  int rc = ch_sess_invoke(s, s->hub->name, method, args, idj, &comp);
  cJSON *j = rc == 0 ? ch_chk_json(s->cx, comp.data, comp.len) : NULL;
  bool ok = cJSON_IsObject(j) && !cJSON_GetObjectItemCaseSensitive(j, "E");
  if (ok)
    ch_sess_settle(s);
  if (!ok) {
    char exp[128];
    snprintf(exp, sizeof exp, "%s(\"%s\") to complete without E", method, key);
    ch_sess_fail_evidence(s, ev, exp);
  }
  cJSON_Delete(j);
  ch_buf_free(&comp);
  return ok;
}

/* The subscription and trigger behind a delivery verdict. */
static void evidence_setup(struct ch_buf *ev, const struct ch_chk_ctx *cx, const struct ch_sess *s) {
  if (ev->len)
    ch_buf_putc(ev, '\n');
  ch_buf_printf(ev, "session: %s on %s, connectionData [{\"name\":\"%s\"}], subscribed with %s(\"%s\")\n", s->client,
                ch_tmask_name(s->transport), s->hub->name, s->hub->sub, cx->key);
  ch_chk_trigger_describe(cx, ev);
}

static void evidence_updates(struct ch_buf *ev, const struct ch_chk_ctx *cx, const struct updlist *l, size_t from,
                             const char *expected) {
  struct ch_buf tmp = CH_BUF_INIT;
  ch_buf_printf(&tmp, "%sreceived %zu Update(s):", ev->len ? "\n" : "", l->n - from);
  for (size_t i = from; i < l->n && i < from + 4; i++)
    ch_buf_printf(&tmp, "\n  %s %.200s", l->v[i].hub, l->v[i].arg);
  ch_buf_printf(&tmp, "\nexpected: %s", expected);
  ch_chk_redact(cx, tmp.data, tmp.len, ev);
  ch_buf_free(&tmp);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Appends " i+1" for each index i < n where cond holds, at most 24 of them and a count of the rest. */
#define LIST_SOME(ev, n, cond)                                                                                         \
  do {                                                                                                                 \
    unsigned shown_ = 0, more_ = 0;                                                                                    \
    for (unsigned i = 0; i < (n); i++)                                                                                 \
      if (cond) {                                                                                                      \
        if (shown_++ < 24)                                                                                             \
          ch_buf_printf((ev), " %u", i + 1);                                                                           \
        else                                                                                                           \
          more_++;                                                                                                     \
      }                                                                                                                \
    if (more_)                                                                                                         \
      ch_buf_printf((ev), " … (%u more)", more_);                                                                    \
  } while (0)

/* The burst's state: per published Update its copies, and the arrival order. */
struct burst_obs {
  struct ch_chk_burst b;
  unsigned *got, *order;
  unsigned norder, dups, seen;
};

static void burst_note(struct ch_chk_ctx *cx, struct burst_obs *o, const struct updlist *l, size_t from,
                       const struct ch_chk_hub *h) {
  for (size_t k = from; k < l->n; k++) {
    if (strcasecmp(l->v[k].hub, h->name) != 0)
      continue;
    cJSON *a = cJSON_Parse(l->v[k].arg);
    long i = ch_chk_burst_index(cx, a, &o->b);
    cJSON_Delete(a);
    if (i < 0)
      continue;
    if (o->got[i]++)
      o->dups++;
    else
      o->seen++;
    if (o->norder < 2 * o->b.n)
      o->order[o->norder++] = (unsigned)i;
  }
}

static void burst(struct ch_chk_ctx *cx, struct ch_checks_results *out, struct ch_sess *s, unsigned t) {
  const struct ch_chk_hub *h = s->hub;
  const unsigned n = cx->burst;
  static const char *const ids[] = {"DEL-005", "DEL-006", "DEL-007"};
  struct ch_buf err = CH_BUF_INIT, ev = CH_BUF_INIT, power = CH_BUF_INIT;
  struct updlist l = {0};
  struct burst_obs o = {0};
  o.got = calloc(n, sizeof *o.got);
  o.order = calloc(2 * (size_t)n, sizeof *o.order);
  ch_checks_burst_describe(n, &power);
  ch_chk_begin(cx);
  if (!o.got || !o.order)
    ch_buf_puts(&err, "out of memory for the burst");
  if (err.len || ch_chk_publish_burst(cx, h, cx->key, n, &o.b, &err)) {
    for (int k = 0; k < 3; k++)
      if (ch_chk_selected(cx, ids[k]))
        ch_chk_result(cx, out, ids[k], t, CH_CHECK_SKIP, &power, "%s", err.data);
    goto done;
  }
  /* collect until every Update was seen or nothing new came for a while */
  long quiet = cx->burst_quiet_ms;
  int rc = 1;
  while (o.seen < n) {
    size_t from = l.n;
    rc = recv_updates(s, quiet, &l);
    burst_note(cx, &o, &l, from, h);
    if (rc <= 0)
      break;
  }
  if (o.seen == n) {
    size_t from = l.n;
    drain(s, &l, cx->grace_ms); /* late duplicates */
    burst_note(cx, &o, &l, from, h);
  }
  if (ch_chk_selected(cx, "DEL-005")) {
    long bad = -1;
    unsigned maxv = 0;
    for (unsigned i = 0; i < o.norder && bad < 0; i++) {
      if (i && o.order[i] < maxv && o.got[o.order[i]] == 1)
        bad = i;
      if (!i || o.order[i] > maxv)
        maxv = o.order[i];
    }
    ch_buf_reset(&ev);
    if (bad >= 0) {
      unsigned lo = bad > 8 ? (unsigned)bad - 8 : 0, hi = (unsigned)bad + 8 < o.norder ? (unsigned)bad + 8 : o.norder;
      ch_buf_printf(&ev, "publish order 1..%u; arrival order around the first inversion (arrivals %u..%u):", n,
                    lo + 1, hi);
      for (unsigned i = lo; i < hi; i++)
        ch_buf_printf(&ev, " %u", o.order[i] + 1);
      ch_buf_puts(&ev, "\nexpected: increasing\n");
    }
    ch_buf_puts(&ev, power.data);
    if (bad >= 0)
      evidence_setup(&ev, cx, s);
    ch_chk_result(cx, out, "DEL-005", t, bad >= 0 ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev,
                  "Update %u arrived after a later one", bad >= 0 ? o.order[bad] + 1 : 0);
  }
  if (ch_chk_selected(cx, "DEL-006")) {
    ch_buf_reset(&ev);
    if (o.dups) {
      ch_buf_printf(&ev, "published %u Updates; received more than once:", n);
      LIST_SOME(&ev, n, o.got[i] > 1);
      ch_buf_puts(&ev, "\nexpected: each exactly once\n");
    }
    ch_buf_puts(&ev, power.data);
    if (o.dups)
      evidence_setup(&ev, cx, s);
    ch_chk_result(cx, out, "DEL-006", t, o.dups ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%u duplicate Update(s)",
                  o.dups);
  }
  if (ch_chk_selected(cx, "DEL-007")) {
    ch_buf_reset(&ev);
    if (o.seen < n) {
      ch_buf_printf(&ev, "published %u Updates for key %s; missing:", n, cx->key);
      LIST_SOME(&ev, n, !o.got[i]);
      ch_buf_printf(&ev, "\nexpected: all %u within %ld ms of the previous one", n, quiet);
      if (s->server_close[0])
        ch_buf_printf(&ev, "\nthe server closed the receive channel: %s", s->server_close);
      else if (rc < 0)
        ch_buf_puts(&ev, "\nthe receive channel failed");
      ch_buf_putc(&ev, '\n');
    }
    ch_buf_puts(&ev, power.data);
    if (o.seen < n)
      evidence_setup(&ev, cx, s);
    ch_chk_result(cx, out, "DEL-007", t, o.seen < n ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%u of %u Updates lost",
                  n - o.seen, n);
  }
done:
  free(o.got);
  free(o.order);
  ul_free(&l);
  ch_buf_free(&err);
  ch_buf_free(&ev);
  ch_buf_free(&power);
}

/* DEL-008: single Updates, each its own trigger request, so the latency is the target's and not the queueing behind
   a burst published at once. Latency counts from the publish, or from when the session started listening if that
   was later: publishing itself must not count against the target. */
#define LATENCY_SAMPLES 20
static void latency(struct ch_chk_ctx *cx, struct ch_checks_results *out, struct ch_sess *s, unsigned t) {
  long bound = cx->opts->max_latency_ms > 0 ? cx->opts->max_latency_ms : 250;
  uint64_t lat[LATENCY_SAMPLES];
  int nlat = 0;
  struct ch_buf err = CH_BUF_INIT, ev = CH_BUF_INIT;
  struct updlist l = {0};
  char nonces[LATENCY_SAMPLES][24];
  uint64_t pub_ns[LATENCY_SAMPLES];
  ch_chk_begin(cx);
  for (int i = 0; i < LATENCY_SAMPLES; i++) {
    pub_ns[i] = ch_now_ns();
    if (publish(cx, s->hub, cx->key, nonces[i], &err)) {
      ch_chk_result(cx, out, "DEL-008", t, CH_CHECK_SKIP, NULL, "%s", err.data);
      goto done;
    }
  }
  uint64_t listen_ns = ch_now_ns();
  /* the last one published is waited for, then stragglers for the grace time: a lost sample is DEL-007's business
     and costs no wait of its own; arrival order is DEL-005's, so everything received is searched */
  if (wait_for(cx, s, &l, 0, s->hub, cx->key, nonces[LATENCY_SAMPLES - 1], cx->timeout_ms) >= 0)
    drain(s, &l, cx->grace_ms);
  for (int i = 0; i < LATENCY_SAMPLES; i++) {
    long k = -1;
    for (size_t j = 0; j < l.n && k < 0; j++)
      if (is_pub(cx, &l.v[j], s->hub, cx->key, nonces[i]))
        k = (long)j;
    uint64_t t0 = pub_ns[i] > listen_ns ? pub_ns[i] : listen_ns;
    if (k >= 0)
      lat[nlat++] = l.v[k].t_ns > t0 ? l.v[k].t_ns - t0 : 0;
  }
  if (!nlat) {
    ch_chk_result(cx, out, "DEL-008", t, CH_CHECK_SKIP, NULL, "no Update arrived to measure");
    goto done;
  }
  qsort(lat, (size_t)nlat, sizeof lat[0], cmp_u64);
  double med = (double)lat[nlat / 2] / 1e6, max = (double)lat[nlat - 1] / 1e6;
  bool ok = med <= (double)bound;
  if (!ok) {
    ch_buf_printf(&ev,
                  "%d Updates, one trigger request each: median %.1f ms, max %.1f ms after the trigger\n"
                  "expected: median <= %ld ms",
                  nlat, med, max, bound);
    evidence_setup(&ev, cx, s);
  }
  ch_chk_result(cx, out, "DEL-008", t, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev, "median latency %.1f ms exceeds %ld ms",
                med, bound);
done:
  ul_free(&l);
  ch_buf_free(&err);
  ch_buf_free(&ev);
}

/* Publishes the forbidden Update, then a fence on (fh, fkey) that s must receive; fails if the forbidden one came. */
static void silence(struct ch_chk_ctx *cx, struct ch_checks_results *out, struct ch_sess *s, unsigned t, const char *id,
                    const struct ch_chk_hub *xh, const char *xkey, const char *what) {
  char xn[24], fn[24];
  struct ch_buf err = CH_BUF_INIT, ev = CH_BUF_INIT;
  struct updlist l = {0};
  if (publish(cx, xh, xkey, xn, &err) || publish(cx, s->hub, cx->key, fn, &err)) {
    ch_chk_result(cx, out, id, t, CH_CHECK_SKIP, NULL, "%s", err.data);
    goto done;
  }
  long f = wait_for(cx, s, &l, 0, s->hub, cx->key, fn, cx->timeout_ms);
  if (f >= 0)
    drain(s, &l, cx->grace_ms);
  long x = -1;
  for (size_t i = 0; i < l.n && x < 0; i++)
    if (is_pub(cx, &l.v[i], xh, xkey, xn))
      x = (long)i;
  if (x >= 0) {
    char exp[160];
    snprintf(exp, sizeof exp, "no Update for %s key %s (%s)", xh->name, xkey, what);
    evidence_setup(&ev, cx, s);
    evidence_updates(&ev, cx, &l, 0, exp);
    ch_chk_result(cx, out, id, t, CH_CHECK_FAIL, &ev, "an Update for %s key %s was delivered (%s)", xh->name, xkey,
                  what);
  } else if (f < 0) {
    ch_chk_result(cx, out, id, t, CH_CHECK_SKIP, NULL, "the fence Update for key %s did not arrive", cx->key);
  } else {
    ch_chk_result(cx, out, id, t, CH_CHECK_PASS, NULL, "%s", "");
  }
done:
  ul_free(&l);
  ch_buf_free(&err);
  ch_buf_free(&ev);
}

static bool want(struct ch_chk_ctx *cx, const char *id, unsigned t) {
  return (cx->transports & t) && ch_chk_selected(cx, id);
}

static void one_transport(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned t) {
  static const char *const ids[] = {"DEL-001", "DEL-003", "DEL-004", "DEL-005",
                                    "DEL-006", "DEL-007", "DEL-008", "DEL-002"};
  const size_t nids = sizeof ids / sizeof ids[0];
  bool any = false;
  for (size_t i = 0; i < nids; i++)
    any |= want(cx, ids[i], t);
  if (!any)
    return;
  struct ch_sess s;
  struct ch_buf ev = CH_BUF_INIT, err = CH_BUF_INIT;
  struct updlist l = {0};
  ch_chk_begin(cx);
  ch_sess_init(&s, cx, t, cx->auth, cx->hubs[0]);
  if (ch_sess_open(&s, &ev) != 0 || !invoke_ok(&s, s.hub->sub, cx->key, 0, &ev)) {
    for (size_t i = 0; i < nids; i++)
      if (want(cx, ids[i], t))
        ch_chk_result(cx, out, ids[i], t, CH_CHECK_SKIP, &ev, "could not connect and subscribe");
    goto done;
  }
  if (!cx->trigger) {
    if (want(cx, "DEL-001", t)) {
      long i = wait_for(cx, &s, &l, 0, s.hub, cx->key, NULL, cx->passive_ms);
      if (i >= 0)
        ch_chk_result(cx, out, "DEL-001", t, CH_CHECK_PASS, NULL, "+passively observed an Update for key %s", cx->key);
      else
        ch_chk_result(cx, out, "DEL-001", t, CH_CHECK_SKIP, NULL, "no trigger and no Update for key %s within %ld ms",
                      cx->key, cx->passive_ms);
    }
    for (size_t i = 1; i < nids; i++)
      if (want(cx, ids[i], t))
        ch_chk_result(cx, out, ids[i], t, CH_CHECK_SKIP, NULL, "needs a trigger (--trigger FILE)");
    goto done;
  }
  if (want(cx, "DEL-001", t)) {
    char n[24];
    if (publish(cx, s.hub, cx->key, n, &err)) {
      ch_chk_result(cx, out, "DEL-001", t, CH_CHECK_SKIP, NULL, "%s", err.data);
    } else {
      long i = wait_for(cx, &s, &l, 0, s.hub, cx->key, n, cx->timeout_ms);
      ch_buf_reset(&ev);
      if (i < 0) {
        char exp[160];
        snprintf(exp, sizeof exp, "{\"H\":\"%s\",\"M\":\"Update\",\"A\":[{…\"%s\":\"%s\"…}]} within %ld ms",
                 s.hub->name, s.hub->key_field, cx->key, cx->timeout_ms);
        evidence_setup(&ev, cx, &s);
        evidence_updates(&ev, cx, &l, 0, exp);
      }
      ch_chk_result(cx, out, "DEL-001", t, i < 0 ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev,
                    "the Update for key %s did not arrive", cx->key);
    }
  }
  if (want(cx, "DEL-003", t)) {
    ch_chk_begin(cx);
    silence(cx, out, &s, t, "DEL-003", s.hub, cx->key2, "not subscribed to that key");
  }
  if (want(cx, "DEL-004", t)) {
    ch_chk_begin(cx);
    silence(cx, out, &s, t, "DEL-004", cx->hubs[1], cx->key, "the other hub, not in connectionData");
  }
  if (want(cx, "DEL-005", t) || want(cx, "DEL-006", t) || want(cx, "DEL-007", t))
    burst(cx, out, &s, t);
  if (want(cx, "DEL-008", t))
    latency(cx, out, &s, t);
  if (want(cx, "DEL-002", t)) {
    ch_chk_begin(cx);
    ch_buf_reset(&ev);
    /* the fence moves to key2: subscribe it, then unsubscribe key */
    if (!invoke_ok(&s, s.hub->sub, cx->key2, 10, &ev) || !invoke_ok(&s, s.hub->unsub, cx->key, 11, &ev)) {
      ch_chk_result(cx, out, "DEL-002", t, CH_CHECK_FAIL, &ev, "subscribe/unsubscribe did not complete");
    } else {
      char xn[24], fn[24];
      ch_buf_reset(&err);
      if (publish(cx, s.hub, cx->key, xn, &err) || publish(cx, s.hub, cx->key2, fn, &err)) {
        ch_chk_result(cx, out, "DEL-002", t, CH_CHECK_SKIP, NULL, "%s", err.data);
      } else {
        size_t from = l.n;
        long f = wait_for(cx, &s, &l, from, s.hub, cx->key2, fn, cx->timeout_ms);
        if (f >= 0)
          drain(&s, &l, cx->grace_ms);
        long x = -1;
        for (size_t i = from; i < l.n && x < 0; i++)
          if (is_pub(cx, &l.v[i], s.hub, cx->key, xn))
            x = (long)i;
        ch_buf_reset(&ev);
        if (x >= 0) {
          char exp[128];
          snprintf(exp, sizeof exp, "no Update for key %s after %s completed", cx->key, s.hub->unsub);
          evidence_setup(&ev, cx, &s);
          evidence_updates(&ev, cx, &l, from, exp);
        }
        ch_chk_result(cx, out, "DEL-002", t,
                      x >= 0  ? CH_CHECK_FAIL
                      : f < 0 ? CH_CHECK_SKIP
                              : CH_CHECK_PASS,
                      &ev,
                      x >= 0 ? "an Update for key %s arrived after unsubscribe"
                             : "the fence Update for key %s did not arrive",
                      x >= 0 ? cx->key : cx->key2);
      }
    }
  }
done:
  ch_sess_end(&s);
  ul_free(&l);
  ch_buf_free(&ev);
  ch_buf_free(&err);
}

void ch_chk_family_delivery(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  for (size_t i = 0; i < 3; i++)
    one_transport(cx, out, ch_chk_transports[i]);
}
