/* Judging a finished run: what each client received against what the triggers produced while it was subscribed,
   the RUN-* checks with their evidence, and the transcripts of failing clients. Runs on the main thread after every
   worker has been joined. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_json.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_signalr.h"

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

void run_judge_client(struct ch_run *r, struct run_client *rc, struct run_tally *t) {
  const struct ch_scenario *s = r->s;
  if (rc->session && !rc->sess_active)
    return; /* a free slot: its sessions were judged as they ended */
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
  /* A session we ended before it could connect (shorter than the deadline: a short lifetime, or the steady phase's
     end) is not a connection failure; one that had longer is. */
  if (rc->session && !rc->connected && rc->failure.category == CH_FAIL_NONE && rc->sess_stop_ns &&
      rc->sess_stop_ns - rc->sess_start_ns < s->expect.deadline_ns) {
    t->sess_early++;
    return;
  }
  t->valid++;
  if (rc->connected)
    t->connected++;
  else
    tally_note(&t->ev_connect, &t->n_ev_connect, "client %u (%s): %s", rc->index, pop,
               rc->failure.message[0] ? rc->failure.message
               : rc->session             ? "session did not connect within its lifetime"
               : !rc->started && r->stop ? "not started: the run was interrupted first"
                                         : "not connected before the phase timeout");
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
      tally_note(&t->ev_unsub, &t->n_ev_unsub, "client %u key %s: %u Updates %s", rc->index, key, sub->after_unsub,
                 rc->session ? "published while its session did not hold the key (grace included)"
                             : "after its unsubscribe was acknowledged");
    }
    if (rc->session) {
      if (!lost)
        run_sess_judge_sub(r, rc, sub, t);
      continue;
    }
    for (size_t i = 0; i < nt && !lost; i++) {
      const struct run_tphase *p = &r->tphases[i];
      int32_t pos = p->pos[sub->key];
      if (pos < 0 || p->kind == RUN_TP_SILENCE || (uint32_t)pos >= p->n_sent)
        continue;
      uint32_t cnt = (p->n_sent - (uint32_t)pos + p->K - 1) / p->K; /* triggers not sent expect nothing */
      bool subscribed = sub->sub_ack_ns && sub->sub_ack_ns <= p->start_ns &&
                        (!sub->unsub_sent_ns || sub->unsub_sent_ns > p->end_ns);
      if (!subscribed)
        continue;
      uint32_t lo = p->base[sub->key] + 1, hi = p->base[sub->key] + cnt;
      uint32_t miss = ch_delivery_missing(&sub->dl, lo, hi);
      bool drop = p->kind == RUN_TP_DROP && rc->dropped; /* a subscriber left connected gets them live */
      *(drop ? &t->replay_expected : &t->expected) += cnt;
      *(drop ? &t->replay_missing : &t->missing) += miss;
      if (!drop && p->trigger < CH_SCN_TRIGGERS_MAX)
        t->t_expected[p->trigger] += cnt, t->t_missing[p->trigger] += miss;
      ch_metrics_count(rc->g, CH_CNT_UPDATES_EXPECTED, cnt);
      ch_metrics_count(rc->g, CH_CNT_UPDATES_RECEIVED, cnt - miss);
      ch_metrics_count(rc->g, CH_CNT_UPDATES_MISSING, miss);
      if (miss)
        tally_note(drop ? &t->ev_replay : &t->ev_delivery, drop ? &t->n_ev_replay : &t->n_ev_delivery,
                   "client %u key %s: %u of %u Updates (sequence %u..%u) never arrived%s", rc->index, key, miss, cnt,
                   lo, hi, drop ? " after its reconnect" : "");
    }
  }
  /* Bytes, sent messages and server closes come from the engine's counters once, not per message. */
  if (rc->c && rc->g) {
    const struct ch_client_counters *cc = ch_client_counters(rc->c);
    uint32_t allowed = rc->closes_in_drop < cc->server_closes ? rc->closes_in_drop : cc->server_closes;
    ch_metrics_count(rc->g, CH_CNT_SERVER_CLOSES, cc->server_closes);
    t->server_closes += cc->server_closes;
    t->closes_unexpected += cc->server_closes - allowed;
    if (cc->server_closes > allowed)
      tally_note(&t->ev_close, &t->n_ev_close, "client %u (%s, %s): the server ended its receive channel %u time(s)",
                 rc->index, pop, ch_transport_name(ch_client_transport(rc->c)), cc->server_closes - allowed);
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

void run_checks(struct ch_run *r, const struct run_outcome *o, struct run_tally *t, struct ch_report *rep) {
  const struct ch_scenario *s = r->s;
  const struct ch_scn_expect *e = &s->expect;
  struct ch_buf ev = CH_BUF_INIT;
#define EV(...) (ch_buf_reset(&ev), ch_buf_printf(&ev, __VA_ARGS__), ev.data)
  run_add_check(rep, "RUN-CONNECT", "every client with valid credentials connected (negotiate, connect, init, start)",
                t->connected == t->valid ? CH_RESULT_PASS : CH_RESULT_FAIL,
                EV("%llu of %llu connected%s", (unsigned long long)t->connected, (unsigned long long)t->valid,
                   t->ev_connect.data ? t->ev_connect.data : ""));
  run_add_check(rep, "RUN-SERVER-CLOSE",
                "the server ended no receive channel of a connected client unasked (Close frame, TCP close, end of the "
                "event stream, failed or T:1 poll), outside drop phases",
                !t->connected                                      ? CH_RESULT_SKIP
                : t->closes_unexpected && !e->allow_server_closes ? CH_RESULT_FAIL
                                                                   : CH_RESULT_PASS,
                !t->connected ? "skipped: no client connected"
                              : EV("%llu server closes, %llu outside drop phases%s%s",
                                   (unsigned long long)t->server_closes, (unsigned long long)t->closes_unexpected,
                                   e->allow_server_closes && t->closes_unexpected
                                       ? " (allowed by expect.allow_server_closes)"
                                       : "",
                                   t->ev_close.data ? t->ev_close.data : ""));
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
  if (ch_scenario_triggers_on(s) && (o->had_triggers || o->had_silence || o->had_drop))
    run_add_check(rep, "RUN-TRIGGER", "every trigger request was accepted by the target",
                  o->trig.failed ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  EV("%llu sent, %llu failed%s%s", (unsigned long long)o->trig.sent, (unsigned long long)o->trig.failed,
                     o->trig.first_error[0] ? "; first: " : "", o->trig.first_error));
  bool delivery = o->had_triggers && e->delivery != CH_SCN_DELIVERY_ANY && t->expected;
  const char *no_trig = !ch_scenario_triggers_on(s)
                            ? "skipped: no trigger (passive run); delivery cannot be judged"
                        : !o->had_triggers ? "skipped: no trigger phase produced Updates"
                                           : "skipped: no Update was expected (no subscriber was connected and "
                                             "subscribed during a trigger phase)";
  struct ch_buf by = CH_BUF_INIT; /* several triggers: each one's Updates judged on the keys it drives */
  for (size_t i = 0; s->trigger_array && i < s->n_triggers && i < CH_SCN_TRIGGERS_MAX; i++)
    ch_buf_printf(&by, "%s%s %llu expected, %llu missing", i ? "; " : " (", s->triggers[i].label,
                  (unsigned long long)t->t_expected[i], (unsigned long long)t->t_missing[i]);
  if (by.len)
    ch_buf_putc(&by, ')');
  run_add_check(rep, "RUN-DELIVERY", "every subscriber received every Update triggered for its keys",
                !delivery ? CH_RESULT_SKIP : t->missing ? CH_RESULT_FAIL : CH_RESULT_PASS,
                !delivery ? no_trig
                          : EV("%llu expected, %llu missing%s%s", (unsigned long long)t->expected,
                               (unsigned long long)t->missing, by.data ? by.data : "",
                               t->ev_delivery.data ? t->ev_delivery.data : ""));
  ch_buf_free(&by);
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
  uint64_t late = 0, replayed = 0, late_replay = 0;
  for (unsigned i = 0; i < r->n_workers; i++) {
    late += r->workers[i]->late;
    replayed += r->workers[i]->replayed;
    late_replay += r->workers[i]->late_replay;
  }
  run_add_check(rep, "RUN-DEADLINE",
                "every Update published while its subscriber was connected arrived within the deadline after its "
                "trigger",
                !delivery ? CH_RESULT_SKIP : late ? CH_RESULT_FAIL : CH_RESULT_PASS,
                !delivery ? no_trig : EV("%llu Updates later than %.3f s", (unsigned long long)late, e->deadline_ns / 1e9));
  if (e->isolation)
    run_add_check(rep, "RUN-ISOLATION", "no client received an Update for a key it did not subscribe to",
                  !t->connected ? CH_RESULT_SKIP : t->unexpected ? CH_RESULT_FAIL : CH_RESULT_PASS,
                  EV("%llu Updates for keys not subscribed%s", (unsigned long long)t->unexpected,
                     t->ev_isolation.data ? t->ev_isolation.data : ""));
  /* Sessions judge it on every Update: one published outside every subscription interval of its key fails. */
  bool silence = o->had_silence || o->had_sessions;
  if (o->had_unsubscribe || o->had_sessions)
    run_add_check(rep, "RUN-UNSUBSCRIBE", "nothing arrived after an acknowledged unsubscribe plus the grace time",
                  !silence || !t->connected ? CH_RESULT_SKIP
                  : t->after_unsub          ? CH_RESULT_FAIL
                                            : CH_RESULT_PASS,
                  !silence || !t->connected ? "skipped: no verify_silence phase triggered keys that connected "
                                              "clients had unsubscribed"
                                  : EV("%llu Updates after unsubscribe%s", (unsigned long long)t->after_unsub,
                                       t->ev_unsub.data ? t->ev_unsub.data : ""));
  if (o->had_drop)
    run_add_check(rep, "RUN-RECONNECT", "every dropped connection reconnected (without negotiating again)",
                  t->reconnected == t->dropped ? CH_RESULT_PASS : CH_RESULT_FAIL,
                  EV("%llu dropped, %llu reconnected", (unsigned long long)t->dropped, (unsigned long long)t->reconnected));
  /* Also when a connection was lost outside a drop phase: what it missed meanwhile is judged here, not by deadline. */
  if (o->had_drop || replayed) {
    bool judged = t->replay_expected || replayed;
    run_add_check(rep, "RUN-REPLAY",
                  "Updates published while connections were down were replayed after reconnect, within the deadline "
                  "after the reconnect",
                  !judged                            ? CH_RESULT_SKIP
                  : t->replay_missing || late_replay ? CH_RESULT_FAIL
                                                     : CH_RESULT_PASS,
                  !judged ? "skipped: no trigger during the drop"
                          : EV("%llu expected, %llu missing; %llu replayed, %llu later than %.3f s after the "
                               "reconnect%s",
                               (unsigned long long)t->replay_expected, (unsigned long long)t->replay_missing,
                               (unsigned long long)replayed, (unsigned long long)late_replay, e->deadline_ns / 1e9,
                               t->ev_replay.data ? t->ev_replay.data : ""));
  }
  if (o->had_storm && !run_storm_report(r, t, replayed, rep))
    run_storm_check(r, rep->recovery, rep);
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

void run_write_transcripts(struct ch_run *r, struct ch_report *rep) {
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

