/* ch_client_int: the client's private state, shared by ch_client.c (life cycle, HTTP phases, timers) and
   ch_client_rx.c (receive channel, invocations, keep-alive). Not for other areas. */
#ifndef CH_CLIENT_INT_H
#define CH_CLIENT_INT_H

#include <uv.h>

#include "ch_client.h"
#include "ch_http.h"
#include "ch_transport.h"
#include "ch_worker.h"

struct ch_pending {
  uint64_t id, sent_ns, deadline_ns;
  ch_invoke_done_cb done;
  void *arg;
};

struct ch_client {
  struct ch_link link; /* worker->clients */
  struct ch_link wait; /* worker->hs_wait while queued */
  struct ch_worker *w;
  enum ch_client_state state;
  bool failed;
  struct ch_client_failure fail;

  /* options (owned copies) */
  ch_client_state_cb on_state;
  ch_client_message_cb on_message;
  ch_client_event_cb on_event;
  ch_client_trace_cb on_trace;
  ch_client_tls_cb on_tls;
  void *user;
  enum ch_transport transport;
  uint32_t http_timeout_ms, invoke_timeout_ms, connect_timeout_ms, reconnect_delay_ms;
  bool no_reconnect, id_as_string, js_reconnect;
  bool auto_transport;  /* fall back webSockets -> serverSentEvents -> longPolling (cl_fallback) */
  struct ch_url target;
  char *client_protocol;
  char **hubs;
  size_t hub_count;
  char *connection_data; /* the JSON array */
  char *auth_header;     /* header mode: full value */
  char *cred_name, *cred_value; /* query mode */
  char *host_header;
  const char *source_addr; /* engine-owned */

  const struct ch_transport_ops *tops;
  struct ch_channel *tr;
  bool tr_waiting;      /* stopping: waiting for the transport's closed event */
  bool dropping;        /* ch_client_drop or keep-alive lost closed the transport on purpose */

  struct ch_http_req *http;  /* negotiate or start */
  struct ch_http_req *abort_req;

  uv_timer_t timer;
  bool timer_init;
  uint64_t timer_due;        /* when the armed timer fires (0 = not armed) */
  uint64_t init_deadline;    /* CONNECTING/INITIALIZING */
  uint64_t reconnect_at;     /* RECONNECTING: next attempt */
  uint64_t reconnect_deadline;
  struct ch_client_failure attempt_fail; /* the last failed /reconnect attempt */
  uint64_t stop_deadline;    /* STOPPING */

  bool hs_slot, queued;
  bool ka_slow;              /* slow warning given for the current silence */
  bool reconnect_attempt;    /* the transport open in flight is a /reconnect */

  struct ch_negotiate neg;
  bool have_neg;
  struct ch_buf neg_body, start_body;
  struct ch_buf cursor, groups;
  struct ch_client_times times;
  struct ch_client_counters counters;

  struct ch_pending *pend; /* ring of invocations in flight, oldest first */
  uint32_t pend_head, pend_n, pend_cap;
  uint64_t next_id;
};

/* ch_client.c */
void ch__client_emit_state(struct ch_client *c);
/* Ends the client: records the failure (cat != NONE), closes the transport, aborts; CLOSED follows. */
void ch__client_shutdown(struct ch_client *c, enum ch_failure_category cat, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ch__client_arm(struct ch_client *c, uint64_t due_ns);
void ch__client_init_received(struct ch_client *c);
void ch__client_trace(struct ch_client *c, enum ch_trace_dir dir, enum ch_trace_channel ch, const char *p, size_t n,
                      bool json);

/* ch_client.c (shared with ch_client_phase.c) */
void ch__client_trace_http_in(struct ch_client *c, enum ch_trace_channel ch, const struct ch_http_result *res);
void ch__client_slot_release(struct ch_client *c);
struct ch_url_params ch__client_params(struct ch_client *c);
/* STOPPING and nothing left in flight: CLOSED. */
void ch__client_maybe_finish(struct ch_client *c);

/* ch_client_phase.c */
void ch__client_negotiate(struct ch_client *c);
void ch__client_timer_cb(uv_timer_t *t);
extern const struct ch_transport_events ch__client_tr_events;

/* ch_client_rx.c */
void ch__client_rx(void *owner, const char *p, size_t n, uint64_t recv_ns);
/* Fails every invocation in flight with status (callbacks run); stops early if the client ended meanwhile. */
void ch__client_fail_pending(struct ch_client *c, int status);
/* Timer work while CONNECTED: invocation timeouts and keep-alive; returns the next due time (0 = none). */
uint64_t ch__client_connected_tick(struct ch_client *c, uint64_t now);
uint64_t ch__client_pending_deadline(const struct ch_client *c);

#endif /* CH_CLIENT_INT_H */
