/* The exposition writer, the run's families and serve's /stats families. */
#include "ch_prom.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ch_metrics.h"

static const double bounds[] = {100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 0.1,
                                0.2,    0.5,    1,      2,    5,    10,   20,   50};

size_t ch_prom_bounds(const double **out) {
  *out = bounds;
  return sizeof bounds / sizeof *bounds;
}

uint64_t ch_prom_hist_le(const struct ch_hist *h, double le_s) {
  double le_ns = le_s * 1e9;
  uint64_t n = 0;
  for (size_t i = 0; i < CH_HIST_BUCKETS; i++) {
    if ((double)ch_hist_bucket_high(i) > le_ns)
      break; /* bucket highs ascend */
    n += h->counts[i];
  }
  return n;
}

static void put_value(struct ch_buf *b, double v) {
  if (isnan(v))
    ch_buf_puts(b, "NaN");
  else if (isinf(v))
    ch_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 1e15)
    ch_buf_printf(b, "%.0f", v);
  else
    ch_buf_printf(b, "%.9g", v);
}

static void put_help(struct ch_buf *b, const char *s, bool om) {
  for (; *s; s++) {
    if (*s == '\\')
      ch_buf_puts(b, "\\\\");
    else if (*s == '\n')
      ch_buf_puts(b, "\\n");
    else if (*s == '"' && om)
      ch_buf_puts(b, "\\\"");
    else
      ch_buf_putc(b, *s);
  }
}

void ch_prom_family(struct ch_prom *p, const char *name, enum ch_prom_type type, const char *help) {
  static const char *const types[] = {"counter", "gauge", "histogram"};
  /* text 0.0.4 names the family by its sample name; OpenMetrics by the name without the counter's suffix */
  const char *suffix = type == CH_PROM_COUNTER && !p->om ? "_total" : "";
  ch_buf_printf(p->out, "# HELP %s%s ", name, suffix);
  put_help(p->out, help, p->om);
  ch_buf_printf(p->out, "\n# TYPE %s%s %s\n", name, suffix, types[type]);
}

void ch_prom_sample(struct ch_prom *p, const char *name, const char *suffix, const char *labels, double v) {
  ch_buf_printf(p->out, "%s%s", name, suffix);
  if (labels && *labels)
    ch_buf_printf(p->out, "{%s}", labels);
  ch_buf_putc(p->out, ' ');
  put_value(p->out, v);
  ch_buf_putc(p->out, '\n');
}

void ch_prom_label(struct ch_buf *labels, const char *name, const char *value) {
  ch_buf_printf(labels, "%s%s=\"", labels->len ? "," : "", name);
  for (const char *s = value ? value : ""; *s; s++) {
    if (*s == '\\' || *s == '"')
      ch_buf_putc(labels, '\\'), ch_buf_putc(labels, *s);
    else if (*s == '\n')
      ch_buf_puts(labels, "\\n");
    else
      ch_buf_putc(labels, *s);
  }
  ch_buf_putc(labels, '"');
}

void ch_prom_hist(struct ch_prom *p, const char *name, const char *labels, const struct ch_hist *h) {
  const char *sep = labels && *labels ? "," : "";
  const char *lab = labels ? labels : "";
  /* one pass over the HDR buckets for every bound */
  uint64_t cum = 0;
  size_t i = 0;
  for (size_t k = 0; k < sizeof bounds / sizeof *bounds; k++) {
    double le_ns = bounds[k] * 1e9;
    for (; i < CH_HIST_BUCKETS && (double)ch_hist_bucket_high(i) <= le_ns; i++)
      cum += h->counts[i];
    ch_buf_printf(p->out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, lab, sep, bounds[k], (unsigned long long)cum);
  }
  uint64_t total = h->count + h->overflow; /* an overflowed sample is above every bound but +Inf */
  ch_buf_printf(p->out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lab, sep, (unsigned long long)total);
  ch_prom_sample(p, name, "_count", labels, (double)total);
  ch_prom_sample(p, name, "_sum", labels, h->sum / 1e9);
}

int ch_prom_finish(struct ch_prom *p) {
  if (p->om)
    ch_buf_puts(p->out, "# EOF\n");
  return p->out->data && ch_buf_reserve(p->out, 0) == 0 ? 0 : -ENOMEM;
}

/* ---- the run ---- */

static const char *const cnt_help[CH_CNT_COUNT] = {
    [CH_CNT_CONNECTS] = "Clients that completed negotiate, connect and start.",
    [CH_CNT_CONNECT_ERRORS] = "Clients that failed to connect (any step).",
    [CH_CNT_DISCONNECTS] = "Connections lost unexpectedly.",
    [CH_CNT_RECONNECTS] = "Successful reconnects.",
    [CH_CNT_ERRORS] = "Every failure recorded, all reasons.",
    [CH_CNT_UPDATES_EXPECTED] = "Updates subscribers should have received (judged when the run ends).",
    [CH_CNT_UPDATES_RECEIVED] = "Expected Updates received, first copies (judged when the run ends; update_latency_seconds_count counts them as they arrive).",
    [CH_CNT_UPDATES_MISSING] = "Updates expected but never received (judged when the run ends).",
    [CH_CNT_UPDATES_DUPLICATE] = "Updates received again by the same client.",
    [CH_CNT_UPDATES_OUT_OF_ORDER] = "Updates received after a later one for the same key.",
    [CH_CNT_UPDATES_UNEXPECTED] = "Updates received but not subscribed to or never triggered.",
    [CH_CNT_TRIGGERS] = "Triggers counted in the report (when the run ends; see triggers_sent).",
    [CH_CNT_INVOKE_ERRORS] = "Hub invocations answered with an error or timed out.",
    [CH_CNT_MESSAGES_IN] = "SignalR messages received.",
    [CH_CNT_MESSAGES_OUT] = "Messages sent (invocations, pings, ...).",
    [CH_CNT_BYTES_IN] = "Payload bytes received.",
    [CH_CNT_BYTES_OUT] = "Payload bytes sent.",
    [CH_CNT_SERVER_CLOSES] = "Receive channels the server ended while connected, unasked.",
    [CH_CNT_TLS_FULL] = "TLS handshakes without a session to resume (full).",
    [CH_CNT_TLS_RESUMED] = "TLS handshakes that resumed an earlier session.",
    [CH_CNT_TLS_MISS_NO_SESSION] = "Full TLS handshakes: no session cached for the host (first connection).",
    [CH_CNT_TLS_MISS_OTHER_NAME] = "Full TLS handshakes: a session cached only for another server name on that port.",
    [CH_CNT_TLS_MISS_EXPIRED] = "Full TLS handshakes: the cached session had expired.",
    [CH_CNT_TLS_MISS_REJECTED] = "Full TLS handshakes: a session was offered and the server did not resume it.",
    [CH_CNT_SESSIONS_STARTED] = "Sessions (open-model populations) that arrived and started.",
    [CH_CNT_SESSIONS_ENDED] = "Sessions that left.",
    [CH_CNT_SUBSCRIBES] = "Subscribe invocations acknowledged.",
    [CH_CNT_UNSUBSCRIBES] = "Unsubscribe invocations acknowledged.",
};

static void group_labels(struct ch_buf *l, const struct ch_metrics_group *g) {
  ch_buf_reset(l);
  ch_prom_label(l, "population", g->population);
  ch_prom_label(l, "transport", g->transport);
}

static void run_families(struct ch_prom *p, const struct ch_metrics *m, struct ch_buf *l, struct ch_buf *name) {
  size_t ng = m ? m->n_groups : 0;
  for (int c = 0; c < CH_CNT_COUNT; c++) {
    ch_buf_reset(name);
    ch_buf_printf(name, CH_PROM_PREFIX "%s", ch_cnt_name(c));
    ch_prom_family(p, name->data, CH_PROM_COUNTER, cnt_help[c] ? cnt_help[c] : ch_cnt_name(c));
    for (size_t i = 0; i < ng; i++) {
      group_labels(l, m->groups[i]);
      ch_prom_sample(p, name->data, "_total", l->data, (double)m->groups[i]->counters[c]);
    }
  }
  ch_prom_family(p, CH_PROM_PREFIX "connected_clients", CH_PROM_GAUGE, "Clients connected right now.");
  for (size_t i = 0; i < ng; i++) {
    group_labels(l, m->groups[i]);
    int64_t v = m->groups[i]->connected;
    ch_prom_sample(p, CH_PROM_PREFIX "connected_clients", "", l->data, (double)(v > 0 ? v : 0));
  }
  ch_prom_family(p, CH_PROM_PREFIX "connected_clients_peak", CH_PROM_GAUGE, "Most clients connected at once.");
  for (size_t i = 0; i < ng; i++) {
    group_labels(l, m->groups[i]);
    ch_prom_sample(p, CH_PROM_PREFIX "connected_clients_peak", "", l->data, (double)m->groups[i]->connected_peak);
  }
  ch_prom_family(p, CH_PROM_PREFIX "reconnecting_clients", CH_PROM_GAUGE,
                 "Connected clients whose transport was lost, reconnecting now (a drop's recovery).");
  for (size_t i = 0; i < ng; i++) {
    group_labels(l, m->groups[i]);
    ch_prom_sample(p, CH_PROM_PREFIX "reconnecting_clients", "", l->data, (double)m->groups[i]->reconnecting);
  }
  for (int k = 0; k < CH_LAT_COUNT; k++) {
    ch_buf_reset(name);
    ch_buf_printf(name, CH_PROM_PREFIX "%s_seconds", ch_lat_name(k));
    char help[128];
    snprintf(help, sizeof help, "Latency %s (report.json metrics.%s), from the HDR histogram.", ch_lat_name(k),
             ch_lat_name(k));
    ch_prom_family(p, name->data, CH_PROM_HISTOGRAM, help);
    for (size_t i = 0; i < ng; i++) {
      group_labels(l, m->groups[i]);
      ch_prom_hist(p, name->data, l->data, &m->groups[i]->lat[k]);
    }
  }
}

bool ch_prom_sessions_sum(const struct ch_prom_run *x, uint64_t *active, uint64_t *target) {
  bool closed = false;
  *active = *target = 0;
  for (size_t i = 0; i < x->n_sessions; i++) {
    *active += x->sessions[i].active;
    *target += x->sessions[i].closed ? x->sessions[i].target : 0;
    closed = closed || x->sessions[i].closed;
  }
  return closed;
}

int ch_prom_render_run(const struct ch_metrics *m, const struct ch_prom_run *x, bool om, struct ch_buf *out) {
  struct ch_prom p = {out, om};
  struct ch_buf l = CH_BUF_INIT, name = CH_BUF_INIT;
  run_families(&p, m, &l, &name);
  ch_prom_family(&p, CH_PROM_PREFIX "connect_errors_by_cause", CH_PROM_COUNTER,
                 "Valid-credential clients that failed before connecting, by cause.");
  for (size_t i = 0; x && i < x->n_causes; i++) {
    ch_buf_reset(&l);
    ch_prom_label(&l, "cause", x->causes[i]);
    ch_prom_sample(&p, CH_PROM_PREFIX "connect_errors_by_cause", "_total", l.data, (double)x->cause_counts[i]);
  }
  ch_prom_family(&p, CH_PROM_PREFIX "triggers_sent", CH_PROM_COUNTER, "Trigger requests sent.");
  ch_prom_sample(&p, CH_PROM_PREFIX "triggers_sent", "_total", "", x ? (double)x->triggers_sent : 0);
  ch_prom_family(&p, CH_PROM_PREFIX "trigger_errors", CH_PROM_COUNTER,
                 "Trigger requests that failed (counted once a phase's triggers were answered).");
  ch_prom_sample(&p, CH_PROM_PREFIX "trigger_errors", "_total", "", x ? (double)x->trigger_errors : 0);
  ch_prom_family(&p, CH_PROM_PREFIX "sessions_active", CH_PROM_GAUGE,
                 "Sessions of a session population open now (started - ended).");
  for (size_t i = 0; x && i < x->n_sessions; i++) {
    ch_buf_reset(&l);
    ch_prom_label(&l, "population", x->sessions[i].population);
    ch_prom_sample(&p, CH_PROM_PREFIX "sessions_active", "", l.data, (double)x->sessions[i].active);
  }
  ch_prom_family(&p, CH_PROM_PREFIX "sessions_target", CH_PROM_GAUGE,
                 "Closed-model session populations: the sessions their stages want open now (0 outside steady).");
  for (size_t i = 0; x && i < x->n_sessions; i++) {
    if (!x->sessions[i].closed)
      continue; /* an open model has an arrival rate, not a target */
    ch_buf_reset(&l);
    ch_prom_label(&l, "population", x->sessions[i].population);
    ch_prom_sample(&p, CH_PROM_PREFIX "sessions_target", "", l.data, (double)x->sessions[i].target);
  }
  ch_prom_family(&p, CH_PROM_PREFIX "phase", CH_PROM_GAUGE, "The timeline's phase: 1 for the phase it is in.");
  if (x && x->phase) {
    ch_buf_reset(&l);
    char idx[16];
    snprintf(idx, sizeof idx, "%d", x->phase_index);
    ch_prom_label(&l, "index", idx);
    ch_prom_label(&l, "phase", x->phase);
    ch_prom_sample(&p, CH_PROM_PREFIX "phase", "", l.data, 1);
  }
  ch_prom_family(&p, CH_PROM_PREFIX "running", CH_PROM_GAUGE, "1 while a run's timeline goes on, 0 after it.");
  ch_prom_sample(&p, CH_PROM_PREFIX "running", "", "", x && x->running ? 1 : 0);
  ch_prom_family(&p, CH_PROM_PREFIX "elapsed_seconds", CH_PROM_GAUGE, "Time since the timeline started.");
  ch_prom_sample(&p, CH_PROM_PREFIX "elapsed_seconds", "", "", x ? x->elapsed_s : 0);
  ch_prom_family(&p, CH_PROM_PREFIX "expected_seconds", CH_PROM_GAUGE,
                 "The timeline's expected total (an estimate where it depends on the target).");
  ch_prom_sample(&p, CH_PROM_PREFIX "expected_seconds", "", "", x ? x->expected_s : 0);
  ch_prom_family(&p, CH_PROM_PREFIX "target_clients", CH_PROM_GAUGE, "Clients this process runs.");
  ch_prom_sample(&p, CH_PROM_PREFIX "target_clients", "", "", x ? (double)x->target_clients : 0);
  ch_buf_free(&l);
  ch_buf_free(&name);
  return ch_prom_finish(&p);
}

/* ---- serve's /stats ---- */

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int ch_prom_render_stats(const cJSON *st, bool om, struct ch_buf *out) {
  const cJSON *conns = cJSON_GetObjectItemCaseSensitive(st, "connections");
  if (!cJSON_IsObject(st) || !cJSON_IsObject(conns))
    return -EINVAL;
  struct ch_prom p = {out, om};
  struct ch_buf l = CH_BUF_INIT;
  ch_prom_family(&p, CH_PROM_PREFIX "server_connections", CH_PROM_GAUGE,
                 "Live transport connections of the reference endpoint, by transport.");
  static const char *const trs[] = {"webSockets", "serverSentEvents", "longPolling"};
  for (size_t i = 0; i < 3; i++) {
    ch_buf_reset(&l);
    ch_prom_label(&l, "transport", trs[i]);
    ch_prom_sample(&p, CH_PROM_PREFIX "server_connections", "", l.data, num(conns, trs[i]));
  }
  ch_prom_family(&p, CH_PROM_PREFIX "server_connections_known", CH_PROM_GAUGE,
                 "SignalR connections the endpoint knows (live or within their disconnect timeout).");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_connections_known", "", "", num(conns, "known"));
  ch_prom_family(&p, CH_PROM_PREFIX "server_connections_opened", CH_PROM_COUNTER, "Connections ever opened.");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_connections_opened", "_total", "", num(conns, "total"));
  ch_prom_family(&p, CH_PROM_PREFIX "server_subscriptions", CH_PROM_GAUGE, "Subscriptions held.");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_subscriptions", "", "", num(st, "subscriptions"));
  static const struct {
    const char *key, *help;
  } counters[] = {{"negotiates", "Negotiate requests answered."},
                  {"invocations", "Hub invocations handled."},
                  {"publishes", "Publishes through the control API."},
                  {"pushes", "Frames pushed to subscribers."},
                  {"deliveries", "Updates delivered to subscribers."},
                  {"keepalives", "Keep-alives sent."},
                  {"dropped_messages", "Messages skipped because a channel lagged too far behind."},
                  {"rejected", "Requests refused (authorization, bad input)."}};
  char name[96];
  for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) {
    snprintf(name, sizeof name, CH_PROM_PREFIX "server_%s", counters[i].key);
    ch_prom_family(&p, name, CH_PROM_COUNTER, counters[i].help);
    ch_prom_sample(&p, name, "_total", "", num(st, counters[i].key));
  }
  ch_prom_family(&p, CH_PROM_PREFIX "server_last_fanout_seconds", CH_PROM_GAUGE,
                 "Time the last publish took to reach every subscriber.");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_last_fanout_seconds", "", "", num(st, "last_fanout_us") / 1e6);
  ch_prom_family(&p, CH_PROM_PREFIX "server_cpu_seconds", CH_PROM_COUNTER, "CPU time of the endpoint's loop thread.");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_cpu_seconds", "_total", "", num(st, "cpu_s"));
  ch_prom_family(&p, CH_PROM_PREFIX "server_process_cpu_seconds", CH_PROM_COUNTER, "CPU time of the process.");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_process_cpu_seconds", "_total", "", num(st, "process_cpu_s"));
  ch_prom_family(&p, CH_PROM_PREFIX "server_resident_memory_bytes", CH_PROM_GAUGE, "Resident set size.");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_resident_memory_bytes", "", "", num(st, "rss_kib") * 1024);
  ch_prom_family(&p, CH_PROM_PREFIX "server_processes", CH_PROM_GAUGE, "Endpoint processes sharing the port.");
  ch_prom_sample(&p, CH_PROM_PREFIX "server_processes", "", "", num(st, "processes"));
  ch_buf_free(&l);
  return ch_prom_finish(&p);
}
