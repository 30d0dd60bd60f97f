/* ch_client: one SignalR 2.x (classic) hub connection on one worker: negotiate -> connect -> init -> start ->
   connected (invocations, receive channel, keep-alive monitoring, reconnect) -> stop (close + abort) -> closed.
   Every function runs on the owning worker's thread (ch_engine.h), except ch_client_free and the getters after
   ch_engine_stop. Protocol references are to shared/protocol/signalr-classic.md.

   Callbacks may call ch_client_invoke/stop/drop on their own client; ch_client_free is allowed only from on_state
   with CH_CLIENT_CLOSED (or later). Spans handed to callbacks are valid only during the call. */
#ifndef CH_CLIENT_H
#define CH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_signalr.h" /* enum ch_transport, struct ch_hub_msg, struct ch_span */
#include "ch_tls.h"     /* enum ch_tls_resume */
#include "ch_url.h"

struct ch_client;
struct ch_worker;

enum ch_auth_mode {
  CH_AUTH_NONE = 0,
  CH_AUTH_HEADER, /* `Authorization: <auth_value>` on every HTTP request and on the WebSocket upgrade */
  CH_AUTH_QUERY,  /* `<auth_query_name>=<auth_value, URL-encoded>` on every request URL */
};

enum ch_client_state {
  CH_CLIENT_NEW = 0,
  CH_CLIENT_QUEUED,       /* waiting for a slot in the worker's connect window */
  CH_CLIENT_NEGOTIATING,  /* GET /negotiate in flight */
  CH_CLIENT_CONNECTING,   /* TCP + TLS + WebSocket upgrade */
  CH_CLIENT_INITIALIZING, /* socket open, waiting for the init message (S:1 with M) */
  CH_CLIENT_STARTING,     /* GET /start in flight */
  CH_CLIENT_CONNECTED,    /* also entered again after a successful reconnect (RECONNECTING -> CONNECTED) */
  CH_CLIENT_RECONNECTING, /* transport lost; /reconnect attempts within DisconnectTimeout */
  CH_CLIENT_STOPPING,     /* closing the transport, POST /abort in flight */
  CH_CLIENT_CLOSED,       /* terminal; every handle released; ch_client_free allowed */
};
const char *ch_client_state_name(enum ch_client_state s);

/* Why a client ended. Stable names (ch_failure_name) are used in reports. */
enum ch_failure_category {
  CH_FAIL_NONE = 0,
  CH_FAIL_NEGOTIATE,      /* HTTP error, redirect, non-JSON, missing/mistyped field, unsupported protocol version */
  CH_FAIL_CONNECT,        /* TCP/TLS/upgrade failed or refused */
  CH_FAIL_INIT_TIMEOUT,   /* no init message within TransportConnectTimeout */
  CH_FAIL_START,          /* /start failed or answered something other than "started" */
  CH_FAIL_WS_PROTOCOL,    /* binary frame, message larger than the limit */
  CH_FAIL_BAD_MESSAGE,    /* a received message that is not a valid persistent/hub response, or carries E */
  CH_FAIL_CONNECTION_LOST,/* socket closed by the server/network and reconnect disabled or not possible */
  CH_FAIL_RECONNECT,      /* could not reconnect within DisconnectTimeout */
  CH_FAIL_LOCAL,          /* local resources: out of memory, descriptors, bind failure */
  CH_FAIL_CANCELLED,      /* the engine stopped */
};
const char *ch_failure_name(enum ch_failure_category c);

struct ch_client_failure {
  enum ch_failure_category category;
  char message[192]; /* short, e.g. "negotiate: HTTP 500"; never contains credentials */
};

/* Events that are not state changes. */
enum ch_client_event {
  CH_EVENT_KEEPALIVE_SLOW = 0, /* nothing received for 2/3 of KeepAliveTimeout (once per silence) */
  CH_EVENT_KEEPALIVE_LOST,     /* nothing received for KeepAliveTimeout: the transport is dropped, reconnect */
  CH_EVENT_RECONNECTING,
  CH_EVENT_RECONNECTED,
  CH_EVENT_GROUPS_TOKEN,       /* a new G token was stored */
  CH_EVENT_SERVER_SHUTDOWN,    /* a persistent response carried T:1 */
  CH_EVENT_RECONNECT_FAILED,   /* one /reconnect attempt failed (ch_client_attempt_failure says why); more follow
                                  within the window */
};
const char *ch_client_event_name(enum ch_client_event e);

/* The completion of one invocation (protocol §3.4). */
struct ch_completion {
  uint64_t id;        /* I */
  int status;         /* 0: a response arrived (check error/hub_error); -ETIMEDOUT; -ECONNRESET: the transport was
                         lost (reconnecting); -ECANCELED: the client stopped or closed */
  const char *result; size_t result_len; /* R raw JSON; NULL when absent (void method) */
  const char *error;  size_t error_len;  /* E decoded; NULL when absent */
  bool hub_error;                        /* H:true (HubException) */
  const char *data;   size_t data_len;   /* D raw JSON; NULL when absent */
  uint64_t sent_ns, rtt_ns;              /* monotonic; rtt_ns 0 unless status == 0 */
};

enum ch_trace_dir { CH_TRACE_OUT = 0, CH_TRACE_IN };
enum ch_trace_channel {
  CH_TRACE_NEGOTIATE = 0, /* request line (URL) out, status + body in */
  CH_TRACE_CONNECT,       /* WebSocket upgrade URL out, handshake result in */
  CH_TRACE_RECONNECT,
  CH_TRACE_START,
  CH_TRACE_ABORT,
  CH_TRACE_TRANSPORT,     /* frames on the receive channel and invocations sent */
};
const char *ch_trace_channel_name(enum ch_trace_channel c);

typedef void (*ch_client_state_cb)(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f,
                                   void *user);
/* One invocation from M of a persistent response (protocol §3.2): m->hub/method/args are spans into the received
   frame (string tokens with quotes; see ch_json.h). hub_index is the index into ch_client_opts.hubs matching H
   case-insensitively, -1 when none does. Progress and non-hub elements of M are counted, not dispatched. */
typedef void (*ch_client_message_cb)(struct ch_client *c, const struct ch_hub_msg *m, int hub_index,
                                     uint64_t recv_ns, void *user);
typedef void (*ch_client_event_cb)(struct ch_client *c, enum ch_client_event e, void *user);
/* Bytes already redacted: credentials (Authorization value, the query token) never reach this hook. */
typedef void (*ch_client_trace_cb)(struct ch_client *c, enum ch_trace_dir dir, enum ch_trace_channel ch,
                                   const char *bytes, size_t len, void *user);
/* A TLS handshake of one of the client's connections (negotiate, start, abort, send, SSE, long polling, the
   WebSocket): CH_TLS_RESUMED when an earlier session of the worker was reused, else why the handshake was full;
   handshake_ns from TCP connected to done. */
typedef void (*ch_client_tls_cb)(struct ch_client *c, enum ch_tls_resume how, uint64_t handshake_ns, void *user);
typedef void (*ch_invoke_done_cb)(struct ch_client *c, const struct ch_completion *r, void *arg);

struct ch_client_opts {
  const struct ch_url *target;   /* base URL, e.g. http://localhost/Centro (copied) */
  const char *const *hubs;       /* hub names as the user wrote them (copied); connectionData order */
  size_t hub_count;
  enum ch_transport transport;   /* webSockets, serverSentEvents or longPolling */
  bool auto_transport;           /* true: as the official clients, webSockets, then serverSentEvents, then longPolling,
                                    starting at `transport` (webSockets for all three): TryWebSockets false skips
                                    webSockets; a transport that fails or whose init misses TransportConnectTimeout
                                    falls back to the next, with the same negotiation. ch_client_transport tells the
                                    one in use. */
  const char *client_protocol;   /* NULL: "2.1"; also "2.0", "1.5", "1.4" */
  enum ch_auth_mode auth;
  const char *auth_value;        /* header: the full value ("Bearer xyz"); query: the token */
  const char *auth_query_name;   /* NULL: "access_token" */
  unsigned source_index;         /* picks engine source address index % count (ignored when none) */
  uint32_t http_timeout_ms;      /* 0: 30000; negotiate, start, abort each */
  uint32_t invoke_timeout_ms;    /* 0: 30000 */
  uint32_t connect_timeout_ms;   /* 0: TransportConnectTimeout from negotiate (init must arrive within it) */
  uint32_t reconnect_delay_ms;   /* 0: 2000 (as the official clients) */
  bool no_reconnect;             /* true: a lost transport ends the client (CH_FAIL_CONNECTION_LOST) */
  bool js_reconnect;             /* jquery.signalR 2.4.3's reconnect timing instead: reconnectDelay 2 s (3 s on
                                    longPolling), given up after DisconnectTimeout in reconnecting or once
                                    reconnectWindow (DisconnectTimeout + KeepAliveTimeout) has passed since the last
                                    message (verifyLastActive); reconnect_delay_ms is then ignored */
  bool invoke_id_as_string;      /* send "I":"0" (.NET) instead of "I":0 (JS) */
  ch_client_state_cb on_state;
  ch_client_message_cb on_message;
  ch_client_event_cb on_event;
  ch_client_trace_cb on_trace;   /* NULL: no transcript (no cost) */
  ch_client_tls_cb on_tls;       /* NULL: none */
  void *user;
};

/* Per-phase monotonic timestamps (ns, 0 = not reached). */
struct ch_client_times {
  uint64_t created, negotiate_start, negotiate_connected /* TCP(+TLS) of the negotiate request; 0 if reused */,
      negotiate_end, connect_start, connect_end /* WS open */, init_end, start_end /* connected */, closed;
  uint64_t reconnect_start, reconnect_end; /* the last reconnect */
  uint64_t last_rx;                         /* last frame that counts as keep-alive activity */
};

struct ch_client_counters {
  uint64_t msgs_in, bytes_in;   /* frames on the receive channel */
  uint64_t hub_msgs_in;         /* elements of M dispatched */
  uint64_t keepalives_in;
  uint64_t msgs_out, bytes_out; /* invocations sent */
  uint64_t invocations_ok, invocations_error, invocations_timeout, invocations_lost;
  uint32_t reconnects, keepalive_slow, keepalive_lost;
  uint32_t transport_fallbacks; /* auto_transport: transports given up before the one in use */
  uint32_t server_closes;       /* receive channels the server (or the network) ended while connected without this
                                   client asking: Close frame, TCP close, end of the event stream, failed or T:1 poll */
};

/* The ProtocolVersion acceptance of the official clients: .NET 2.4 accepts 1.4 <= v <= 2.1 (compared as versions,
   so "1.4.0" too), which covers JS 2.4.3's exact set "1.5", "2.0", "2.1". Anything else ends the client at
   negotiate. */
bool ch_client_protocol_acceptable(const char *server_version);

/* Validates and copies opts; registers the client with its worker (state NEW). -EINVAL (bad option), -ENOTSUP
   (transport not implemented, or an https/wss target on an engine created without tls), -ENOMEM. Must run on w's
   thread. */
int ch_client_new(struct ch_worker *w, const struct ch_client_opts *opts, struct ch_client **out);
/* NEW -> QUEUED/NEGOTIATING ... -> CONNECTED. -EALREADY unless NEW. Failures arrive as on_state(CLOSED, failure). */
int ch_client_start(struct ch_client *c);
/* Sends {"H":hub,"M":method,"A":args_json,"I":"<id>"} with a per-connection increasing id. args_json must be a JSON
   array ("[]" when NULL). -ENOTCONN unless CONNECTED, -EINVAL, -ENOMEM; on error done never fires. *id_out may be
   NULL. */
int ch_client_invoke(struct ch_client *c, const char *hub, const char *method, const char *args_json,
                     ch_invoke_done_cb done, void *arg, uint64_t *id_out);
/* Graceful stop: fails pending invocations (-ECANCELED), closes the transport, POSTs /abort (when a connection
   token exists), then on_state(CLOSED, NULL). Idempotent; a no-op once CLOSED. */
void ch_client_stop(struct ch_client *c);
/* Abrupt: closes the socket without a close frame and without /abort. The client then reconnects (unless
   no_reconnect). -ENOTCONN unless CONNECTED. */
int ch_client_drop(struct ch_client *c);
/* Replaces the credential (same mode as created with: header -> the full Authorization value, query -> the token)
   for every later request: negotiate, connect, reconnect, poll, send, start, abort; an open connection goes on.
   -EINVAL (created without credentials, empty, CR/LF in a header value), -ENOMEM (the old one is kept). */
int ch_client_set_auth(struct ch_client *c, const char *auth_value);
/* Stops calling on_trace for this client (e.g. once its transcript is full): no more redaction work per frame. */
void ch_client_stop_trace(struct ch_client *c);
/* Only when CLOSED (or NEW): from the client's own CLOSED callback, from a posted task, or after ch_engine_stop.
   Never free another client from inside a callback (the engine may be walking its worker's client list). */
void ch_client_free(struct ch_client *c);

enum ch_client_state ch_client_state(const struct ch_client *c);
const struct ch_client_failure *ch_client_failure(const struct ch_client *c); /* NULL if none */
const struct ch_client_times *ch_client_times(const struct ch_client *c);
/* Why the last /reconnect attempt failed (valid in the CH_EVENT_RECONNECT_FAILED callback). */
const struct ch_client_failure *ch_client_attempt_failure(const struct ch_client *c);
const struct ch_client_counters *ch_client_counters(const struct ch_client *c);
/* NULL before a valid negotiate response (connection_token inside: never log it). */
const struct ch_negotiate *ch_client_negotiation(const struct ch_client *c);
/* Raw bodies kept as evidence (NULL, 0 when none). The negotiate body is kept even when it failed validation. */
const char *ch_client_negotiate_body(const struct ch_client *c, size_t *len);
const char *ch_client_start_body(const struct ch_client *c, size_t *len);
const char *ch_client_cursor(const struct ch_client *c);       /* last C; NULL if none */
const char *ch_client_groups_token(const struct ch_client *c); /* last G; NULL if none */
enum ch_transport ch_client_transport(const struct ch_client *c);
struct ch_worker *ch_client_worker(const struct ch_client *c);
void *ch_client_user(const struct ch_client *c);
uint32_t ch_client_pending_invocations(const struct ch_client *c);

#endif /* CH_CLIENT_H */
