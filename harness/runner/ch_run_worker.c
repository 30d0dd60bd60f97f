/* The runner's work on one worker thread: creating and starting its clients, invoking Subscribe/Unsubscribe,
   dropping and stopping them, and judging every received Update as it arrives (the hot path: no allocation, no
   lock, no cJSON). Everything here runs on the worker's own thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_json.h"
#include "ch_run_int.h"
#include "ch_signalr.h"

static void rw_check_done(struct run_worker *rw) {
  if (rw->pending <= 0 && rw->next_start >= rw->n_clients)
    run_worker_report_done(rw);
}

/* The client no longer has an outstanding operation in this phase. */
static void rc_settle(struct run_client *rc) {
  if (!rc->waiting)
    return;
  rc->waiting = false;
  rc->w->pending--;
  rw_check_done(rc->w);
}

/* Session slots take part in no phase but a disconnect (steady phases run them: ch_run_sessions.c). */
static bool rc_in_phase(const struct run_client *rc) {
  if (rc->session && rc->w->phase_type != CH_SCN_PHASE_DISCONNECT)
    return false;
  return rc->w->phase_pop < 0 || rc->w->phase_pop == (int)rc->pop;
}

static uint64_t span_ns(uint64_t a, uint64_t b) { return a && b > a ? b - a : 0; }

/* ---- client callbacks ---- */

/* A failure message as a reason to count: curl's " after N ms" is dropped, so one cause stays one row. */
static const char *rc_reason(const char *msg, char *buf, size_t n) {
  size_t w = 0;
  for (const char *p = msg; *p && w + 1 < n;) {
    if (!strncmp(p, " after ", 7)) {
      const char *q = p + 7;
      while (*q >= '0' && *q <= '9')
        q++;
      if (q > p + 7 && !strncmp(q, " ms", 3)) {
        p = q + 3;
        continue;
      }
    }
    buf[w++] = *p++;
  }
  buf[w] = '\0';
  return buf;
}

/* Stops further clients of a disconnect while fewer than RUN_STOP_WINDOW are closing (next_start is the cursor). */
static void rw_pump_stops(struct run_worker *rw) {
  if (rw->pumping)
    return; /* a client that closes inside ch_client_stop: the loop below goes on */
  rw->pumping = true;
  while (rw->next_start < rw->n_clients && rw->stops_in_flight < RUN_STOP_WINDOW) {
    struct run_client *rc = rw->clients[rw->next_start++];
    if (!rc->waiting || rc->closed)
      continue;
    rc->stopping = true;
    rw->stops_in_flight++;
    ch_client_stop(rc->c);
  }
  rw->pumping = false;
  rw_check_done(rw);
}

static void rc_resubscribe(struct run_worker *rw, struct run_client *rc);

/* An auto client is counted under the transport it ended up on once connected. */
static void rc_transport_group(struct run_worker *rw, struct run_client *rc, struct ch_client *c) {
  if (rw->run->s->populations[rc->pop].transport_auto) {
    struct ch_metrics_group *g = NULL;
    if (!ch_metrics_group(rw->m, rw->run->s->populations[rc->pop].name, ch_transport_name(ch_client_transport(c)), &g))
      rc->g = g;
  }
}

/* The group's reconnecting gauge follows the client: transport lost, then back or closed. */
static void rc_reconnecting(struct run_client *rc, bool on) {
  if (rc->reconnecting == on || !rc->g)
    return;
  rc->reconnecting = on;
  ch_metrics_reconnecting(rc->g, on ? +1 : -1);
}

/* client_model official-js: a connection that could not reconnect within its window is started again, and
   subscribes again, as a web app does from its disconnected handler. true: a new client is on its way. */
static bool rc_renew(struct run_worker *rw, struct run_client *rc, struct ch_client *c,
                     const struct ch_client_failure *f) {
  if (!f || f->category != CH_FAIL_RECONNECT || rc->stopping || !rc->connected || rc->renewals >= RUN_RENEW_MAX ||
      rw->run->s->populations[rc->pop].client_model != CH_SCN_MODEL_OFFICIAL_JS ||
      rw->phase_type == CH_SCN_PHASE_DISCONNECT || rw->run->stop)
    return false;
  char why[sizeof f->message];
  rc_reconnecting(rc, false);
  ch_metrics_connected(rc->g, -1);
  ch_metrics_count(rc->g, CH_CNT_DISCONNECTS, 1);
  ch_metrics_fail(rc->g, rc_reason(f->message, why, sizeof why));
  rc->renewals++;
  rc->renewing = true;
  ch_client_free(c); /* allowed from on_state with CLOSED; its counters go with it */
  rc->c = NULL;
  rc->closes_seen = 0;
  run_client_start(rw, rc);
  return true;
}

static void rc_on_state(struct ch_client *c, enum ch_client_state st, const struct ch_client_failure *f, void *user) {
  struct run_client *rc = user;
  struct run_worker *rw = rc->w;
  if (st == CH_CLIENT_CONNECTED && rc->renewing) { /* a new connection in place of one that could not reconnect */
    rc->renewing = false;
    uint64_t now = ch_now_ns();
    rc_transport_group(rw, rc, c);
    ch_metrics_connected(rc->g, +1);
    ch_metrics_count(rc->g, CH_CNT_CONNECTS, 1);
    rc->back_ns = now;
    if (rc->storm && !rc->storm_back_ns)
      rc->storm_new = true;
    run_storm_back(rc, now);
    rc_resubscribe(rw, rc);
    rc_settle(rc); /* a drop phase waits for it; RUN-RECONNECT still counts it as not reconnected */
    return;
  }
  if (st == CH_CLIENT_CLOSED && !rc->closed && rc_renew(rw, rc, c, f))
    return;
  if (st == CH_CLIENT_CONNECTED && !rc->connected) {
    rc->connected = true;
    rc_transport_group(rw, rc, c);
    const struct ch_client_times *t = ch_client_times(rc->c);
    ch_metrics_record(rc->g, CH_LAT_NEGOTIATE, span_ns(t->negotiate_start, t->negotiate_end));
    ch_metrics_record(rc->g, CH_LAT_CONNECT, span_ns(t->connect_start, t->connect_end));
    ch_metrics_record(rc->g, CH_LAT_INIT, span_ns(t->connect_end, t->init_end));
    ch_metrics_record(rc->g, CH_LAT_START, span_ns(t->init_end, t->start_end));
    ch_metrics_count(rc->g, CH_CNT_CONNECTS, 1);
    ch_metrics_connected(rc->g, +1);
    run_ff_connected(rw, rc);
    if (rc->session)
      run_sess_connected(rc);
    else if (rw->phase_type == CH_SCN_PHASE_CONNECT)
      rc_settle(rc);
    return;
  }
  if (st != CH_CLIENT_CLOSED || rc->closed)
    return;
  rc->closed = true;
  if (rc->stopping) {
    rc->stopping = false;
    rw->stops_in_flight--;
  }
  char why[sizeof f->message];
  bool cancelled = f && f->category == CH_FAIL_CANCELLED;
  if (f && f->category != CH_FAIL_NONE && !cancelled)
    rc->failure = *f;
  rc_reconnecting(rc, false);
  if (rc->connected) {
    ch_metrics_connected(rc->g, -1);
    if (f && f->category != CH_FAIL_NONE && !cancelled) {
      ch_metrics_count(rc->g, CH_CNT_DISCONNECTS, 1);
      ch_metrics_fail(rc->g, rc_reason(f->message, why, sizeof why));
    }
  } else if (!rc->bad_creds && f && !cancelled) {
    run_ff_failed(rw, rc, f);
    /* Clients given bad credentials are meant to be refused: that is judged by the auth check, not an error. */
    ch_metrics_count(rc->g, CH_CNT_CONNECT_ERRORS, 1);
    ch_metrics_fail(rc->g, f->category != CH_FAIL_NONE ? rc_reason(f->message, why, sizeof why)
                                                       : "closed before connecting");
  }
  if (rc->session)
    run_sess_closed(rc); /* judged, its client freed: the slot is free */
  rc_settle(rc);
  if (rw->phase_type == CH_SCN_PHASE_DISCONNECT)
    rw_pump_stops(rw);
}

static struct run_sub *rc_find_sub(struct run_client *rc, uint32_t key) {
  for (uint32_t i = 0; i < rc->n_subs; i++)
    if (rc->subs[i].key == key)
      return &rc->subs[i];
  return NULL;
}

long run_trigger_index(const struct ch_run *r, uint32_t key, uint32_t seq) {
  size_t n = atomic_load_explicit(&r->n_tphases, memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    const struct run_tphase *p = &r->tphases[i];
    int32_t pos = p->pos[key];
    if (pos < 0 || seq <= p->base[key])
      continue;
    uint64_t j = (uint64_t)(seq - p->base[key] - 1) * p->K + (uint32_t)pos;
    if (j < p->n)
      return (long)(p->first + j);
  }
  return -1;
}

/* Reads the string at ptr in the first argument and finds it in the key table; -1 when absent or unknown. The
   look-ups use the member index the engine's single decoding pass built (ch_hub_msg_arg_pointer): no re-walk. */
static long rc_read_key(struct run_worker *rw, const struct ch_hub_msg *m, const char *ptr) {
  struct ch_span v;
  if (ch_hub_msg_arg_pointer(m, ptr, &v) != 1)
    return -1;
  if (ch_json_kind(v) == CH_JSON_NUMBER) /* numeric part keys are sometimes sent as numbers */
    return run_keys_find(&rw->run->keys, v.p, v.n);
  if (ch_json_kind(v) != CH_JSON_STRING)
    return -1;
  if (!ch_json_str_has_escape(v)) {
    struct ch_span in = ch_json_str_inner(v);
    return run_keys_find(&rw->run->keys, in.p, in.n);
  }
  ch_buf_reset(&rw->scratch);
  if (ch_json_str_unescape(v, &rw->scratch))
    return -1;
  return run_keys_find(&rw->run->keys, rw->scratch.data, rw->scratch.len);
}

static bool rc_read_int(const struct ch_hub_msg *m, const char *ptr, int64_t *out) {
  struct ch_span v;
  if (!ptr || ch_hub_msg_arg_pointer(m, ptr, &v) != 1)
    return false;
  if (ch_json_kind(v) == CH_JSON_STRING) { /* a sequence echoed back as a string */
    struct ch_span in = ch_json_str_inner(v);
    return ch_json_num_int64(in, out) == 0;
  }
  return ch_json_kind(v) == CH_JSON_NUMBER && ch_json_num_int64(v, out) == 0;
}

/* Nonces are "<run id, 16 hex digits>-<trigger index>"; a nonce of another run (another shard or tool) is not ours. */
static long rc_read_nonce(const struct ch_hub_msg *m, const char *ptr, size_t n_trig, uint64_t run_id) {
  struct ch_span v;
  if (!ptr || ch_hub_msg_arg_pointer(m, ptr, &v) != 1 || ch_json_kind(v) != CH_JSON_STRING)
    return -1;
  struct ch_span in = ch_json_str_inner(v);
  char want[20];
  snprintf(want, sizeof want, "%016llx-", (unsigned long long)run_id);
  if (in.n <= 17 || memcmp(in.p, want, 17))
    return -1;
  size_t i = 17;
  long idx = 0;
  for (size_t k = i; k < in.n; k++) {
    if (in.p[k] < '0' || in.p[k] > '9' || idx > 100000000)
      return -1;
    idx = idx * 10 + (in.p[k] - '0');
  }
  return (size_t)idx < n_trig ? idx : -1;
}

static void rc_on_message(struct ch_client *c, const struct ch_hub_msg *m, int hub_index, uint64_t recv_ns,
                          void *user) {
  struct run_client *rc = user;
  struct run_worker *rw = rc->w;
  const struct ch_run *r = rw->run;
  (void)c;
  ch_metrics_count(rc->g, CH_CNT_MESSAGES_IN, 1);
  if (m->kind != CH_MSG_INVOCATION || hub_index < 0 || !ch_json_str_eq_ci(m->method, "Update", 6))
    return;
  struct ch_span arg;
  if (!ch_hub_msg_arg0(m, &arg)) {
    rc->invalid++;
    return;
  }
  const struct ch_scn_correlation *cor = &r->s->correlation;
  long key = -1, idx = -1;
  int64_t seq = 0;
  if (cor->nonce) {
    idx = rc_read_nonce(m, cor->nonce, r->n_trig, r->run_id);
    if (idx >= 0) {
      key = r->trig[idx].key;
      seq = r->trig[idx].seq;
    }
  } else {
    key = rc_read_key(rw, m, r->s->populations[rc->pop].key_pointer);
    if (key >= 0 && rc_read_int(m, cor->sequence, &seq) && seq > 0 && seq <= UINT32_MAX)
      idx = run_trigger_index(r, (uint32_t)key, (uint32_t)seq);
  }
  if (rc->storm_back_ns && !rc->storm_rx_ns)
    rc->storm_rx_ns = recv_ns; /* receiving again after the storm */
  struct run_sub *sub = key >= 0 ? rc_find_sub(rc, (uint32_t)key) : NULL;
  if (!sub) {
    /* Isolation: an Update for a key this client never subscribed to (or one we cannot even read). */
    if (key < 0)
      rc->invalid++;
    else
      rc->unexpected++;
    ch_metrics_count(rc->g, CH_CNT_UPDATES_UNEXPECTED, 1);
    return;
  }
  if (seq > 0 && seq <= UINT32_MAX) {
    switch (ch_delivery_record(&sub->dl, (uint32_t)seq)) {
    case CH_DELIVERY_DUPLICATE:
      ch_metrics_count(rc->g, CH_CNT_UPDATES_DUPLICATE, 1);
      return; /* a copy says nothing new about latency */
    case CH_DELIVERY_LATE:
      ch_metrics_count(rc->g, CH_CNT_UPDATES_OUT_OF_ORDER, 1);
      break;
    case CH_DELIVERY_INVALID:
      rc->invalid++;
      break;
    case CH_DELIVERY_NEW:
      break;
    }
    atomic_fetch_add_explicit(&rw->p_updates, 1, memory_order_relaxed);
  } else if (cor->sequence || cor->nonce) {
    rc->invalid++;
  }
  if (rc->session)
    run_sess_update(rc, sub, idx, recv_ns);
  if (sub->unsub_ack_ns && recv_ns > sub->unsub_ack_ns + r->s->expect.unsubscribe_grace_ns) {
    sub->after_unsub++;
    ch_metrics_count(rc->g, CH_CNT_UPDATES_UNEXPECTED, 1);
  }
  uint64_t lat = 0, pub = 0; /* pub: when it was published (monotonic), 0 when unknown */
  bool have_lat = false;
  if (idx >= 0) {
    pub = r->trig[idx].intended_ns;
    lat = recv_ns > pub ? recv_ns - pub : 0;
    have_lat = true;
  } else {
    int64_t sent_us;
    if (rc_read_int(m, cor->server_time_us, &sent_us) && sent_us > 0) {
      uint64_t recv_wall = recv_ns + r->wall_minus_mono, sent = (uint64_t)sent_us * 1000u;
      lat = recv_wall > sent ? recv_wall - sent : 0;
      pub = sent > r->wall_minus_mono ? sent - r->wall_minus_mono : 0;
      have_lat = true;
    }
  }
  if (!have_lat)
    return;
  if (rc->storm_back_ns && pub >= rc->storm_back_ns)
    rc->storm_live = true; /* live again, not only replayed: its subscriptions survived the storm */
  if (rc->away_ns && pub >= rc->away_ns && (!rc->back_ns || pub < rc->back_ns)) {
    /* Published while this subscriber was away: only a replay after its reconnect can bring it, so its delay counts
       from the reconnect's completion (a reconnect takes its delay of 2 s at least: from the trigger, it would fail
       any shorter deadline however well the server replays). */
    uint64_t from = rc->back_ns ? rc->back_ns : recv_ns;
    lat = recv_ns > from ? recv_ns - from : 0;
    ch_metrics_record(rc->g, CH_LAT_REPLAY, lat);
    rw->replayed++;
    if (lat > r->s->expect.deadline_ns)
      rw->late_replay++;
    return;
  }
  if (idx >= 0 && rw->fan_last && rw->fan_last[idx] < recv_ns)
    rw->fan_last[idx] = recv_ns;
  ch_metrics_record(rc->g, CH_LAT_UPDATE, lat);
  uint8_t by = r->key_trigger[key]; /* the scenario trigger that drives this key: its own latency line */
  if (by != RUN_NO_TRIGGER && rw->trig_lat)
    ch_hist_record(&rw->trig_lat[by], lat);
  if (lat > r->s->expect.deadline_ns)
    rw->late++;
}

static void rc_on_tls(struct ch_client *c, enum ch_tls_resume how, uint64_t handshake_ns, void *user) {
  (void)c;
  struct run_client *rc = user;
  ch_metrics_record(rc->g, CH_LAT_TLS_HANDSHAKE, handshake_ns);
  ch_metrics_count(rc->g, how == CH_TLS_RESUMED ? CH_CNT_TLS_RESUMED : CH_CNT_TLS_FULL, 1);
  static const enum ch_cnt miss[CH_TLS_RESUME_KINDS] = {
      [CH_TLS_MISS_NO_SESSION] = CH_CNT_TLS_MISS_NO_SESSION, [CH_TLS_MISS_OTHER_NAME] = CH_CNT_TLS_MISS_OTHER_NAME,
      [CH_TLS_MISS_EXPIRED] = CH_CNT_TLS_MISS_EXPIRED, [CH_TLS_MISS_REJECTED] = CH_CNT_TLS_MISS_REJECTED};
  if (how != CH_TLS_RESUMED && (unsigned)how < CH_TLS_RESUME_KINDS)
    ch_metrics_count(rc->g, miss[how], 1);
}

static void rc_on_event(struct ch_client *c, enum ch_client_event e, void *user) {
  struct run_client *rc = user;
  if (e == CH_EVENT_RECONNECTED) {
    const struct ch_client_times *t = ch_client_times(c);
    rc->back_ns = t->reconnect_end;
    rc_reconnecting(rc, false);
    run_storm_back(rc, t->reconnect_end);
    ch_metrics_count(rc->g, CH_CNT_RECONNECTS, 1);
    ch_metrics_record(rc->g, CH_LAT_RECONNECT, span_ns(t->reconnect_start, t->reconnect_end));
    if (rc->dropped && !rc->reconnected) {
      rc->reconnected = true;
      rc_settle(rc);
    }
  } else if (e == CH_EVENT_RECONNECTING) {
    rc->away_ns = ch_client_times(c)->reconnect_start;
    rc->back_ns = 0;
    rc_reconnecting(rc, true);
    if (rc->storm && !rc->storm_back_ns) { /* the storm's drop was asked for */
      uint32_t sc = ch_client_counters(c)->server_closes;
      rc->closes_in_drop += sc - rc->closes_seen;
      rc->closes_seen = sc;
    } else if (!rc->dropped) {
      ch_metrics_count(rc->g, CH_CNT_DISCONNECTS, 1);
      /* a close by the server while a drop phase runs belongs to that phase (the scenario asked for drops) */
      uint32_t sc = ch_client_counters(c)->server_closes;
      if (sc > rc->closes_seen && rc->w->phase_type == CH_SCN_PHASE_DROP_RECONNECT)
        rc->closes_in_drop += sc - rc->closes_seen;
      rc->closes_seen = sc;
    }
  } else if (e == CH_EVENT_RECONNECT_FAILED) {
    run_storm_attempt_failed(rc, ch_client_attempt_failure(c));
  } else if (e == CH_EVENT_KEEPALIVE_LOST) {
    ch_metrics_fail(rc->g, "keep-alive: nothing received within KeepAliveTimeout");
  }
}

/* One JSON line per event: time since the run started, client, direction, channel and the (already redacted)
   bytes. The cap keeps a long-lived client's transcript to its beginning, where failures to connect show. */
static void rc_on_trace(struct ch_client *c, enum ch_trace_dir dir, enum ch_trace_channel ch, const char *bytes,
                        size_t len, void *user) {
  struct run_client *rc = user;
  if (rc->trace.len >= RUN_TRACE_MAX) {
    ch_client_stop_trace(c); /* full: spare the engine the redaction of every later frame */
    return;
  }
  if (len > 2048)
    len = 2048;
  ch_buf_printf(&rc->trace, "{\"t_ms\":%.3f,\"client\":%u,\"dir\":\"%s\",\"channel\":\"%s\",\"bytes\":",
                (double)(ch_now_ns() - rc->w->run->t0) / 1e6, rc->index, dir == CH_TRACE_OUT ? "out" : "in",
                ch_trace_channel_name(ch));
  ch_json_append_str(&rc->trace, bytes, len);
  ch_buf_puts(&rc->trace, "}\n");
}

/* ---- starting clients ---- */

void run_client_start(struct run_worker *rw, struct run_client *rc) {
  const struct ch_run *r = rw->run;
  const struct ch_scenario *s = r->s;
  const struct ch_population *p = &s->populations[rc->pop];
  const struct ch_scn_auth *a = &s->target.auth;
  struct ch_client_opts co = {0};
  co.target = &r->target;
  co.hubs = &p->hub_name;
  co.hub_count = 1;
  co.transport = (enum ch_transport)p->transports[0];
  co.auto_transport = p->transport_auto;
  co.client_protocol = p->client_protocol;
  co.js_reconnect = p->client_model == CH_SCN_MODEL_OFFICIAL_JS;
  co.source_index = rc->index;
  co.on_state = rc_on_state;
  co.on_message = rc_on_message;
  co.on_event = rc_on_event;
  co.on_tls = rc_on_tls;
  if (r->s->total_clients <= RUN_TRACE_CLIENTS)
    co.on_trace = rc_on_trace;
  co.user = rc;
  const char *token = NULL;
  if (p->credentials == CH_SCN_CRED_VALID)
    token = r->auth ? run_auth_token(rw, rc->index) : ch_tokens_for_client(&r->tokens, rc->index);
  else if (p->credentials == CH_SCN_CRED_BAD && s->target.n_bad_tokens)
    token = s->target.bad_tokens[rc->index % s->target.n_bad_tokens];
  ch_buf_reset(&rw->scratch);
  if (token && r->auth_mode == CH_SCN_AUTH_HEADER) {
    ch_buf_printf(&rw->scratch, "%s %s", a->scheme, token);
    co.auth = CH_AUTH_HEADER;
    co.auth_value = rw->scratch.data;
  } else if (token && r->auth_mode == CH_SCN_AUTH_QUERY) {
    co.auth = CH_AUTH_QUERY;
    co.auth_value = token;
    co.auth_query_name = a->query_param;
  }
  rc->started = true;
  /* An auto client is counted under "auto" until it knows the transport it ended up on. */
  int rc_new = ch_metrics_group(rw->m, p->name, p->transport_auto ? "auto" : ch_transport_name(co.transport), &rc->g);
  if (!rc_new)
    rc_new = ch_client_new(rw->w, &co, &rc->c);
  ch_buf_reset(&rw->scratch); /* the header value (a credential) is not kept around */
  if (rc_new || ch_client_start(rc->c)) {
    rc->closed = true;
    rc->failure.category = CH_FAIL_LOCAL;
    snprintf(rc->failure.message, sizeof rc->failure.message, "client could not be created (%s)",
             strerror(rc_new < 0 ? -rc_new : EINVAL));
    if (rc->g) {
      ch_metrics_count(rc->g, CH_CNT_CONNECT_ERRORS, 1);
      ch_metrics_fail(rc->g, rc->failure.message);
    }
    rc_settle(rc);
  }
}

static void rw_ramp_cb(uv_timer_t *t) {
  struct run_worker *rw = t->data;
  /* Start every client due by now, so timer granularity and jitter never lower the rate. */
  double elapsed = (double)(ch_now_ns() - rw->ramp_t0) / 1e9;
  size_t due = (size_t)(elapsed * rw->ramp_rate) + 1;
  while (rw->next_start < rw->n_clients && rw->ramp_started < due) {
    struct run_client *rc = rw->clients[rw->next_start++];
    if (rc->waiting && !rc->started) {
      rw->ramp_started++;
      run_client_start(rw, rc);
    }
  }
  if (rw->next_start >= rw->n_clients) {
    uv_timer_stop(&rw->ramp);
    rw_check_done(rw);
  }
}

/* ---- phases ---- */

static void rw_pump_invokes(struct run_worker *rw);

void run_invoke_failed(struct run_client *rc, const struct ch_completion *res, bool unsub) {
  ch_metrics_count(rc->g, CH_CNT_INVOKE_ERRORS, 1);
  char why[CH_METRICS_REASON_MAX];
  if (res->error)
    snprintf(why, sizeof why, "%s: hub error: %.*s", unsub ? "unsubscribe" : "subscribe", (int)res->error_len,
             res->error);
  else
    snprintf(why, sizeof why, "%s: %s", unsub ? "unsubscribe" : "subscribe",
             res->status == -ETIMEDOUT ? "no completion before the invocation timeout" : "connection lost");
  ch_metrics_fail(rc->g, why);
}

static void rc_invoke_done(struct ch_client *c, const struct ch_completion *res, void *arg) {
  struct run_client *rc = ch_client_user(c);
  struct run_sub *sub = arg;
  bool unsub = sub->unsub_sent_ns != 0;
  if (res->status == 0 && !res->error) {
    uint64_t ack = res->sent_ns + res->rtt_ns;
    if (unsub)
      sub->unsub_ack_ns = ack;
    else
      sub->sub_ack_ns = ack;
    ch_metrics_record(rc->g, unsub ? CH_LAT_INVOKE_UNSUBSCRIBE : CH_LAT_INVOKE_SUBSCRIBE, res->rtt_ns);
    ch_metrics_count(rc->g, unsub ? CH_CNT_UNSUBSCRIBES : CH_CNT_SUBSCRIBES, 1);
  } else {
    if (!unsub)
      sub->sub_failed = true;
    run_invoke_failed(rc, res, unsub);
  }
  struct run_worker *rw = rc->w;
  if (rc->inv_phase == rw->phase) { /* a completion after its phase timed out is not this phase's */
    rw->pending--;
    rw_pump_invokes(rw);
  }
}

/* The Subscribes of a renewed connection: outside any phase's count (its completions are not awaited). The
   subscription interval keeps its first acknowledgement, so what was published while it was away stays owed. */
static void rc_resub_done(struct ch_client *c, const struct ch_completion *res, void *arg) {
  struct run_client *rc = ch_client_user(c);
  (void)arg;
  if (res->status != 0 || res->error) {
    ch_metrics_count(rc->g, CH_CNT_INVOKE_ERRORS, 1);
    ch_metrics_fail(rc->g, "subscribe again on a new connection: failed");
  }
}

static void rc_resubscribe(struct run_worker *rw, struct run_client *rc) {
  const struct ch_population *p = &rw->run->s->populations[rc->pop];
  for (uint32_t i = 0; i < rc->n_subs; i++) {
    const struct run_sub *sub = &rc->subs[i];
    if (!sub->sub_ack_ns || sub->unsub_sent_ns)
      continue;
    const char *name = rw->run->keys.names[sub->key];
    ch_buf_reset(&rw->scratch);
    ch_buf_putc(&rw->scratch, '[');
    ch_json_append_str(&rw->scratch, name, strlen(name));
    ch_buf_putc(&rw->scratch, ']');
    if (ch_client_invoke(rc->c, p->hub_name, ch_scn_hub_subscribe_method(p->hub), rw->scratch.data, rc_resub_done,
                         NULL, NULL)) {
      ch_metrics_count(rc->g, CH_CNT_INVOKE_ERRORS, 1);
      ch_metrics_fail(rc->g, "subscribe again on a new connection: could not send");
    }
  }
}

static void rc_invoke_all(struct run_worker *rw, struct run_client *rc, bool unsub) {
  const struct ch_run *r = rw->run;
  const struct ch_population *p = &r->s->populations[rc->pop];
  const char *method = unsub ? ch_scn_hub_unsubscribe_method(p->hub) : ch_scn_hub_subscribe_method(p->hub);
  for (uint32_t i = 0; i < rc->n_subs; i++) {
    struct run_sub *sub = &rc->subs[i];
    if (unsub && !sub->sub_ack_ns)
      continue;
    const char *name = r->keys.names[sub->key];
    ch_buf_reset(&rw->scratch);
    ch_buf_putc(&rw->scratch, '[');
    ch_json_append_str(&rw->scratch, name, strlen(name));
    ch_buf_putc(&rw->scratch, ']');
    uint64_t now = ch_now_ns();
    if (unsub)
      sub->unsub_sent_ns = now;
    else
      sub->sub_sent_ns = now;
    if (ch_client_invoke(rc->c, p->hub_name, method, rw->scratch.data, rc_invoke_done, sub, NULL) == 0) {
      rc->inv_phase = rw->phase;
      rw->pending++;
    } else {
      ch_metrics_count(rc->g, CH_CNT_INVOKE_ERRORS, 1);
      ch_metrics_fail(rc->g, unsub ? "unsubscribe: could not send" : "subscribe: could not send");
      if (!unsub)
        sub->sub_failed = true;
    }
  }
}

/* Issues the invocations of further clients while fewer than RUN_INVOKE_WINDOW are in flight (next_start is the
   cursor over the worker's clients), then tells the main thread once everything issued has completed. */
static void rw_pump_invokes(struct run_worker *rw) {
  bool unsub = rw->phase_type == CH_SCN_PHASE_UNSUBSCRIBE;
  while (rw->next_start < rw->n_clients && rw->pending < RUN_INVOKE_WINDOW) {
    struct run_client *rc = rw->clients[rw->next_start++];
    if (rc_in_phase(rc) && rc->c && ch_client_state(rc->c) == CH_CLIENT_CONNECTED)
      rc_invoke_all(rw, rc, unsub);
  }
  rw_check_done(rw);
}

void run_worker_phase(struct ch_worker *w, void *arg) {
  struct run_phase_task *task = arg;
  struct run_worker *rw = task->rw;
  (void)w;
  rw->phase = task->phase;
  rw->phase_type = task->type;
  rw->phase_pop = task->pop;
  rw->phase_reported = false;
  rw->pending = 0;
  rw->next_start = rw->n_clients;
  for (size_t i = 0; i < rw->n_clients; i++)
    rw->clients[i]->waiting = false;
  switch (task->type) {
  case CH_SCN_PHASE_CONNECT:
    for (size_t i = 0; i < rw->n_clients; i++) {
      struct run_client *rc = rw->clients[i];
      if (rc_in_phase(rc) && !rc->started) {
        rc->waiting = true;
        rw->pending++;
      }
    }
    if (rw->ramp_rate > 0) {
      uint64_t every_ms = rw->ramp_rate >= 1000 ? 1 : (uint64_t)(1000.0 / rw->ramp_rate);
      rw->next_start = 0;
      rw->ramp_started = 0;
      rw->ramp_t0 = ch_now_ns();
      uv_timer_start(&rw->ramp, rw_ramp_cb, 0, every_ms ? every_ms : 1);
    } else {
      for (size_t i = 0; i < rw->n_clients; i++)
        if (rw->clients[i]->waiting)
          run_client_start(rw, rw->clients[i]);
      rw->next_start = rw->n_clients;
    }
    break;
  case CH_SCN_PHASE_SUBSCRIBE:
  case CH_SCN_PHASE_UNSUBSCRIBE:
    rw->next_start = 0;
    rw_pump_invokes(rw);
    break;
  case CH_SCN_PHASE_DROP_RECONNECT:
    for (size_t i = 0; i < rw->n_clients; i++) {
      struct run_client *rc = rw->clients[i];
      if (!rc_in_phase(rc) || !rc->c || ch_client_state(rc->c) != CH_CLIENT_CONNECTED)
        continue;
      struct ch_rng rng;
      const struct ch_population *p = &rw->run->s->populations[rc->pop];
      ch_scenario_client_rng(rw->run->s, rc->pop, rc->index - p->first_client, &rng);
      ch_rng_next(&rng); /* not the same draw as key choice */
      if (ch_rng_unit(&rng) >= task->fraction)
        continue;
      rc->dropped = true;
      rc->reconnected = false;
      rc->waiting = true;
      rw->pending++;
      if (ch_client_drop(rc->c)) {
        rc->waiting = false;
        rw->pending--;
        rc->dropped = false;
      }
    }
    break;
  case CH_SCN_PHASE_DROP:
    if (task->prepare)
      run_storm_mark(rw);
    else
      run_storm_await(rw);
    break;
  case CH_SCN_PHASE_DISCONNECT:
    if (rw->timers_open) {
      uv_timer_stop(&rw->ramp); /* an interrupted connect ramp starts nobody else */
      uv_timer_stop(&rw->sess_timer);
    }
    rw->sess_on = false;
    for (size_t i = 0; i < rw->n_clients; i++) {
      struct run_client *rc = rw->clients[i];
      if (rc_in_phase(rc) && rc->c && !rc->closed) {
        if (rc->session && !rc->sess_stop_ns)
          rc->sess_stop_ns = ch_now_ns(); /* its intervals end here */
        rc->waiting = true;
        rw->pending++;
      }
    }
    rw->next_start = 0;
    rw_pump_stops(rw);
    break;
  case CH_SCN_PHASE_STEADY:
    run_sess_phase(rw, task->end_sessions);
    break;
  default:
    break;
  }
  free(task);
  rw_check_done(rw);
}

/* ---- set-up and tear-down ---- */

static void rw_tick_cb(uv_timer_t *t) {
  struct run_worker *rw = t->data;
  ch_metrics_tick(rw->m, ch_wall_ns());
  if (rw->run->snap_on)
    run_abort_snapshot(rw);
  uint64_t connected = 0, msgs = 0, errors = 0;
  for (size_t i = 0; i < rw->m->n_groups; i++) {
    const struct ch_metrics_group *g = rw->m->groups[i];
    connected += g->connected > 0 ? (uint64_t)g->connected : 0;
    msgs += g->counters[CH_CNT_MESSAGES_IN];
    errors += g->counters[CH_CNT_ERRORS];
  }
  atomic_store_explicit(&rw->p_connected, connected, memory_order_relaxed);
  atomic_store_explicit(&rw->p_msgs, msgs, memory_order_relaxed);
  atomic_store_explicit(&rw->p_errors, errors, memory_order_relaxed);
}

void run_worker_setup(struct ch_worker *w, void *arg) {
  struct run_worker *rw = arg;
  rw->w = w;
  uv_timer_init(ch_worker_loop(w), &rw->ramp);
  uv_timer_init(ch_worker_loop(w), &rw->tick);
  uv_timer_init(ch_worker_loop(w), &rw->sess_timer);
  rw->ramp.data = rw->tick.data = rw->sess_timer.data = rw;
  rw->timers_open = true;
  uv_timer_start(&rw->tick, rw_tick_cb, 1000, 1000);
  run_worker_report_done(rw);
}

void run_worker_teardown(struct ch_worker *w, void *arg) {
  struct run_worker *rw = arg;
  (void)w;
  if (rw->timers_open) {
    rw->timers_open = false;
    uv_close((uv_handle_t *)&rw->ramp, NULL);
    uv_close((uv_handle_t *)&rw->tick, NULL);
    uv_close((uv_handle_t *)&rw->sess_timer, NULL);
  }
  rw_tick_cb(&rw->tick); /* the last partial second */
  rw->phase_reported = false;
  run_worker_report_done(rw);
}

void run_worker_stopping(struct ch_worker *w, void *arg) {
  struct ch_run *r = arg;
  unsigned i = ch_worker_index(w);
  struct run_worker *rw = r->workers && i < r->n_workers ? r->workers[i] : NULL;
  if (rw && rw->timers_open) { /* the run ended without its teardown task */
    rw->timers_open = false;
    uv_close((uv_handle_t *)&rw->ramp, NULL);
    uv_close((uv_handle_t *)&rw->tick, NULL);
    uv_close((uv_handle_t *)&rw->sess_timer, NULL);
  }
}

void run_worker_report_done(struct run_worker *rw) {
  if (rw->phase_reported)
    return;
  rw->phase_reported = true;
  struct ch_run *r = rw->run;
  pthread_mutex_lock(&r->mu);
  r->workers_done++;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}
