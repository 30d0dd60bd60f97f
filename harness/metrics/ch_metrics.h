/* ch_metrics: what one worker (or, after merging, one run) measured.
 *
 * A struct ch_metrics holds one group per (population, transport) pair; every group has one ch_hist per latency
 * metric (enum ch_lat), a fixed set of counters (enum ch_cnt), a gauge of connected clients and a small table of
 * failures by reason. Totals are computed on demand by summing groups. A per-second time series (ch_metrics_tick)
 * records connected clients, messages, errors and the Update delivery distribution of each second.
 *
 * Threading: a ch_metrics belongs to one thread. Worker threads each own one and the runner merges them after join
 * (ch_metrics_merge). Hot path: look the group up once per client (ch_metrics_group), keep the pointer, then call
 * ch_metrics_record / ch_metrics_count, which never allocate.
 */
#ifndef CH_METRICS_H
#define CH_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_hist.h"

/* Latency metrics, all in nanoseconds. Names (ch_lat_name) are used in thresholds and reports. */
enum ch_lat {
  CH_LAT_NEGOTIATE,          /* "negotiate": GET /negotiate sent -> response parsed */
  CH_LAT_TCP_CONNECT,        /* "tcp_connect": TCP (and TLS) connection established */
  CH_LAT_CONNECT,            /* "connect": transport connect request -> transport open (WS upgrade done, SSE/LP
                                first response) */
  CH_LAT_INIT,               /* "init": transport open -> init message ({"S":1}) received */
  CH_LAT_START,              /* "start": GET /start sent -> {"Response":"started"} */
  CH_LAT_INVOKE_SUBSCRIBE,   /* "invoke_subscribe": subscribe invocation sent -> its result ("I" matched) */
  CH_LAT_INVOKE_UNSUBSCRIBE, /* "invoke_unsubscribe": unsubscribe invocation sent -> its result */
  CH_LAT_UPDATE,             /* "update_latency": trigger sent (scheduled time in open models) -> Update received,
                                one sample per receiver */
  CH_LAT_FANOUT,             /* "fanout_completion": trigger sent -> last expected subscriber reached */
  CH_LAT_RECONNECT,          /* "reconnect": connection lost -> reconnected (transport open again) */
  CH_LAT_REPLAY,             /* "replay_latency": reconnect completed -> an Update published while the subscriber
                                was disconnected received (replayed), one sample per receiver */
  CH_LAT_TLS_HANDSHAKE,      /* "tls_handshake": TCP connected -> TLS handshake done, every TLS connection of a client
                                (negotiate, start, abort, send, SSE, long polling, WebSocket), full and resumed */
  CH_LAT_FIRST_UPDATE,       /* "first_update": Subscribe acknowledged -> the first Update of that key (sessions) */
  CH_LAT_COUNT
};

/* Counters (monotonic within a run). Names (ch_cnt_name) are used in thresholds and reports. */
enum ch_cnt {
  CH_CNT_CONNECTS,             /* "clients_connected": clients that completed negotiate/connect/start */
  CH_CNT_CONNECT_ERRORS,       /* "connect_errors": clients that failed to connect (any step) */
  CH_CNT_DISCONNECTS,          /* "disconnects": connections lost unexpectedly */
  CH_CNT_RECONNECTS,           /* "reconnects": successful reconnects */
  CH_CNT_ERRORS,               /* "errors": every failure recorded with ch_metrics_fail (all reasons) */
  CH_CNT_UPDATES_EXPECTED,     /* "updates_expected": Updates that subscribers should have received */
  CH_CNT_UPDATES_RECEIVED,     /* "updates_received": expected Updates received (first copy) */
  CH_CNT_UPDATES_MISSING,      /* "updates_missing": expected but never received by the end */
  CH_CNT_UPDATES_DUPLICATE,    /* "updates_duplicate": an Update received again by the same client */
  CH_CNT_UPDATES_OUT_OF_ORDER, /* "updates_out_of_order": received after a later one for the same resource */
  CH_CNT_UPDATES_UNEXPECTED,   /* "updates_unexpected": received but not subscribed / never triggered */
  CH_CNT_TRIGGERS,             /* "triggers": triggers (resource changes) sent */
  CH_CNT_INVOKE_ERRORS,        /* "invoke_errors": hub invocations answered with an error or timed out */
  CH_CNT_MESSAGES_IN,          /* "messages_in": SignalR messages received (persistent-connection frames) */
  CH_CNT_MESSAGES_OUT,         /* "messages_out": messages sent (invocations, pings, ...) */
  CH_CNT_BYTES_IN,             /* "bytes_in": payload bytes received */
  CH_CNT_BYTES_OUT,            /* "bytes_out": payload bytes sent */
  CH_CNT_SERVER_CLOSES,        /* "server_closes": receive channels the server ended while connected, unasked */
  CH_CNT_TLS_FULL,             /* "tls_handshakes_full": TLS handshakes without a session to resume */
  CH_CNT_TLS_RESUMED,          /* "tls_handshakes_resumed": TLS handshakes that resumed an earlier session */
  CH_CNT_TLS_MISS_NO_SESSION,  /* "tls_resume_miss_no_session": full, nothing cached for the host (first one) */
  CH_CNT_TLS_MISS_OTHER_NAME,  /* "tls_resume_miss_other_name": full, cached only for another name on that port */
  CH_CNT_TLS_MISS_EXPIRED,     /* "tls_resume_miss_expired": full, the cached session had expired */
  CH_CNT_TLS_MISS_REJECTED,    /* "tls_resume_miss_rejected": full, a session was offered and not resumed */
  CH_CNT_SESSIONS_STARTED,     /* "sessions_started": sessions of session populations that arrived and started */
  CH_CNT_SESSIONS_ENDED,       /* "sessions_ended": sessions that left (lifetime over, end of steady, or failed) */
  CH_CNT_SUBSCRIBES,           /* "subscribes": Subscribe invocations acknowledged */
  CH_CNT_UNSUBSCRIBES,         /* "unsubscribes": Unsubscribe invocations acknowledged */
  CH_CNT_COUNT
};

#define CH_METRICS_NAME_MAX 64      /* population and transport names are truncated to this */
#define CH_METRICS_REASONS 32       /* distinct failure reasons per group; further ones count as "other" */
#define CH_METRICS_REASON_MAX 96    /* a reason text is truncated to this */

struct ch_metrics_reason {
  char text[CH_METRICS_REASON_MAX]; /* e.g. "negotiate: HTTP 500"; never contains a credential (caller's duty) */
  uint64_t count;
};

struct ch_metrics;

struct ch_metrics_group {
  struct ch_metrics *owner;
  char population[CH_METRICS_NAME_MAX]; /* "" for the run total */
  char transport[CH_METRICS_NAME_MAX];  /* "webSockets", "serverSentEvents", "longPolling" or "" for the total */
  uint64_t counters[CH_CNT_COUNT];
  int64_t connected;      /* gauge: clients connected right now */
  int64_t connected_peak; /* highest value of the gauge */
  int64_t reconnecting;   /* gauge: connected clients whose transport was lost and that are reconnecting now (the
                             live outputs show a drop's recovery with it; not in report.json) */
  size_t n_reasons;
  struct ch_metrics_reason reasons[CH_METRICS_REASONS + 1]; /* the last slot is "other" */
  struct ch_hist lat[CH_LAT_COUNT];
};

/* One second of the time series. Counts are for that second only; connected is the gauge at the tick. */
struct ch_series_point {
  int64_t t;               /* wall-clock Unix second the point covers */
  uint64_t connected;
  uint64_t sessions;       /* sessions of session populations open at the tick (started - ended) */
  uint64_t sessions_target; /* closed-model populations: the sessions the stages wanted open at the tick */
  bool has_target;         /* a closed-model steady phase ran at the tick (sessions_target is meaningful) */
  uint64_t messages_in, messages_out;
  uint64_t errors;
  uint64_t deliveries;     /* Update latency samples recorded in this second */
  uint64_t p50_ns, p99_ns; /* Update delivery percentiles in this second (0 when none) */
  char *hist;              /* the second's delivery histogram, serialised (NULL when no samples): makes merges of
                              shards exact. Owned. */
};

struct ch_metrics {
  uint64_t start_wall_ns, end_wall_ns; /* the measured window (ch_metrics_begin/_end); used for rates */
  size_t n_groups, cap_groups;
  struct ch_metrics_group **groups;
  size_t n_series, cap_series;
  struct ch_series_point *series;
  /* Published by ch_metrics_tick for other threads (progress line); read with relaxed atomic loads. */
  _Atomic uint64_t pub_p50_ns, pub_p99_ns, pub_deliveries; /* Update delivery in the last closed second */
  /* Gauge set by the owner's thread: the sessions its closed-model populations want open now (has_target: while a
     steady phase runs one); copied into each second's point. */
  bool has_target;
  uint64_t sessions_target;
  /* State of the second being measured (private): */
  struct ch_hist *second;
  uint64_t last_msgs_in, last_msgs_out, last_errors;
};

/* @return 0 or -ENOMEM. *out is freed with ch_metrics_free. */
int ch_metrics_new(struct ch_metrics **out);
void ch_metrics_free(struct ch_metrics *m);
/* Sets the measured window (wall clock ns). Rates (messages_per_second) use end - start. */
void ch_metrics_begin(struct ch_metrics *m, uint64_t wall_ns);
void ch_metrics_end(struct ch_metrics *m, uint64_t wall_ns);

/**
 * Finds or creates the group of (population, transport). Call once per client at setup, not per message.
 * @return 0, -EINVAL (NULL names), -ENOMEM.
 */
int ch_metrics_group(struct ch_metrics *m, const char *population, const char *transport,
                     struct ch_metrics_group **out);
/* Finds an existing group or returns NULL. */
struct ch_metrics_group *ch_metrics_find(const struct ch_metrics *m, const char *population, const char *transport);

bool ch__metrics_record_update(struct ch_metrics_group *g, uint64_t ns); /* internal */
/* Hot path: record a latency sample (ns). Update latency samples also feed the current second of the series. */
static inline bool ch_metrics_record(struct ch_metrics_group *g, enum ch_lat which, uint64_t ns) {
  if (which == CH_LAT_UPDATE)
    return ch__metrics_record_update(g, ns);
  return ch_hist_record(&g->lat[which], ns);
}
/* Open-model Update latency with coordinated-omission correction (see ch_hist_record_corrected). */
bool ch_metrics_record_corrected(struct ch_metrics_group *g, enum ch_lat which, uint64_t ns, uint64_t interval_ns);
static inline void ch_metrics_count(struct ch_metrics_group *g, enum ch_cnt which, uint64_t n) {
  g->counters[which] += n;
}
/* Connected gauge: +1 on connect, -1 on disconnect (keeps the peak). */
void ch_metrics_connected(struct ch_metrics_group *g, int delta);
/* Reconnecting gauge: +1 when a connected client's transport is lost, -1 when it is back or the client closed. */
void ch_metrics_reconnecting(struct ch_metrics_group *g, int delta);
/* A failure with its reason (e.g. "negotiate: HTTP 500", "connect: ECONNREFUSED"); bumps CH_CNT_ERRORS too.
   Never pass text containing a credential. Linear search over <= 32 reasons: not for per-message use. */
void ch_metrics_fail(struct ch_metrics_group *g, const char *reason);
/* The same for n failures at once. */
void ch_metrics_fail_n(struct ch_metrics_group *g, const char *reason, uint64_t n);

/* Ends a warm-up: empties every histogram, counter and failure table but keeps the groups (pointers held by
   clients stay valid), the connected gauges (the peak restarts from the current value) and the time series. */
void ch_metrics_clear(struct ch_metrics *m);

/* Closes the second ending at wall_ns: appends (or, within the same second, adds to) a time series point. Call
   about once per second from the worker's timer. @return 0 or -ENOMEM. */
int ch_metrics_tick(struct ch_metrics *m, uint64_t wall_ns);

/* Adds src into dst: groups matched by (population, transport) and created when missing, histograms merged
   losslessly, counters summed, time series aligned by wall-clock second, window widened. @return 0 or -ENOMEM. */
int ch_metrics_merge(struct ch_metrics *dst, const struct ch_metrics *src);

/* The sum of all groups (population "" and transport ""), freshly allocated; free() it. @return 0 or -ENOMEM. */
int ch_metrics_total(const struct ch_metrics *m, struct ch_metrics_group **out);
/* The sum of the groups of one population and/or transport (NULL or "": any), freshly allocated; free() it.
   matched (may be NULL) receives how many groups were added. @return 0 or -ENOMEM. */
int ch_metrics_select(const struct ch_metrics *m, const char *population, const char *transport,
                      struct ch_metrics_group **out, size_t *matched);
/* Adds one group into another (histograms, counters, gauges as sums, reasons by text). */
void ch_metrics_group_add(struct ch_metrics_group *dst, const struct ch_metrics_group *src);

const char *ch_lat_name(enum ch_lat which);
const char *ch_cnt_name(enum ch_cnt which);
/* Reverse lookups; -1 when unknown. */
int ch_lat_from_name(const char *name, size_t n);
int ch_cnt_from_name(const char *name);

/**
 * Metric names for thresholds (values are doubles; latencies in ns):
 *   <latency>.<stat>  latency one of ch_lat_name (negotiate, tcp_connect, connect, init, start, invoke_subscribe,
 *                     invoke_unsubscribe, update_latency, fanout_completion, reconnect, replay_latency,
 *                     tls_handshake); stat one
 *                     of count, min,
 *                     max, mean, stddev, overflow, p<N> with N a percentile 0..100 (p50, p90, p95, p99, p99.9, ...)
 *   <counter>         any ch_cnt_name (clients_connected, connect_errors, disconnects, reconnects, errors,
 *                     updates_expected, updates_received, updates_missing, updates_duplicate,
 *                     updates_out_of_order, updates_unexpected, triggers, invoke_errors, messages_in,
 *                     messages_out, bytes_in, bytes_out)
 *   connected_peak    highest number of clients connected at once
 *   delivery_ratio    updates_received / updates_expected (1 when nothing was expected)
 *   messages_per_second, updates_per_second   messages_in (resp. updates_received) / measured window in seconds
 *   error_rate        errors / (clients_connected + connect_errors) (0 when no client)
 *   duration          measured window in ns
 * ch_metrics_lookup uses the run total; ch_metrics_group_lookup one group (per-transport thresholds).
 * @return 0, -ENOENT for an unknown name, -ENOMEM.
 */
int ch_metrics_lookup(const struct ch_metrics *m, const char *name, double *out);
int ch_metrics_group_lookup(const struct ch_metrics *m, const struct ch_metrics_group *g, const char *name,
                            double *out);
bool ch_metrics_name_known(const char *name);
/* A human-readable list of the known names (for "unknown metric" error messages), e.g.
   "update_latency.{count,min,max,mean,stddev,overflow,pN}, ..., delivery_ratio, ...". Static string. */
const char *ch_metrics_known_names(void);

#endif /* CH_METRICS_H */
