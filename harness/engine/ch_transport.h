/* ch_transport: the receive-channel transports behind one ops interface (struct ch_channel: "ch_transport" is
   already the name of ch_proto's enum, and C shares one tag namespace). webSockets is ch_wsraw.c (or ch_ws.c, lws's
   own framing; the two share ch_ws_conn.c), serverSentEvents ch_sse_transport.c, longPolling ch_lp_transport.c;
   ch_transport_ops_for (ch_transport.c) picks one.

   A transport object belongs to one client for the client's whole life and carries one connection at a time:
   open -> events.opened -> events.message* -> events.closed, then it may be opened again (reconnect). After
   events.closed the transport holds no socket, timer or request. Events run on the worker's thread and are never
   called from inside open/send/close (the client may be mid-update). */
#ifndef CH_TRANSPORT_H
#define CH_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_client.h"

struct ch_transport_events;

/* The common head of every transport object; implementations embed it first. */
struct ch_channel {
  const struct ch_transport_ops *ops;
  struct ch_worker *worker;
  const struct ch_transport_events *ev;
  void *owner; /* the client */
};

struct ch_transport_events {
  /* The receive channel is established (WebSocket open; SSE/long-polling response started). */
  void (*opened)(void *owner);
  /* One complete text message of the receive channel (a frame; an SSE data block; a long-poll body). */
  void (*message)(void *owner, const char *p, size_t n, uint64_t recv_ns);
  /* The connection ended. cat is CH_FAIL_NONE after a requested close, otherwise why it ended (CH_FAIL_CONNECT
     before opened, CH_FAIL_CONNECTION_LOST or CH_FAIL_WS_PROTOCOL after); why is a short message. */
  void (*closed)(void *owner, enum ch_failure_category cat, const char *why);
  /* Optional: redacted bytes for the transcript. */
  void (*trace)(void *owner, enum ch_trace_dir dir, enum ch_trace_channel ch, const char *p, size_t n);
  /* Optional: a TLS handshake of the transport's own connection finished (resumed: an earlier session was reused). */
  void (*tls)(void *owner, enum ch_tls_resume how, uint64_t handshake_ns);
};

struct ch_transport_open {
  const char *host;         /* as in the base URL (no brackets) */
  const char *host_header;  /* Host header value: host, or [v6]:port / host:port for a non-default port */
  int port;
  bool tls;
  const char *path;         /* path + query of /connect or /reconnect, already encoded */
  const char *auth_header;  /* NULL or the full Authorization header value */
  const char *const *auth_slot; /* NULL, or where the client keeps its current Authorization value: read again at
                                   every request (poll, send, the upgrade), so a refreshed token is used at once */
  const char *source_addr;  /* NULL or a local address to bind */
  enum ch_trace_channel trace_channel; /* CH_TRACE_CONNECT or CH_TRACE_RECONNECT */
  const char *trace_url;    /* the redacted URL for the transcript */
  /* serverSentEvents and longPolling (ignored by webSockets): */
  const char *send_url;     /* absolute URL of POST /send (hub invocations; the response body is the completion) */
  const char *poll_url;     /* longPolling: absolute URL of POST /poll */
  const char *message_id;   /* longPolling reconnect: the last C and G, sent in the form body (NULL = none) */
  const char *groups_token;
  uint32_t poll_timeout_ms; /* longPolling: request timeout, ConnectionTimeout + 10 s (0 = 120 s) */
};

struct ch_transport_ops {
  const char *name; /* wire name: "webSockets" */
  int (*create)(struct ch_worker *w, const struct ch_transport_events *ev, void *owner, struct ch_channel **out);
  /* Starts a connection. 0: events follow (at least closed); <0: nothing started, no event. */
  int (*open)(struct ch_channel *t, const struct ch_transport_open *o);
  /* Queues one text message. -ENOTCONN when not open. */
  int (*send)(struct ch_channel *t, const char *p, size_t n);
  /* Ends the connection: gracefully (close frame / request end) or abruptly (socket dropped). closed follows
     (asynchronously) unless nothing is open. */
  void (*close)(struct ch_channel *t, bool abrupt);
  bool (*is_open)(const struct ch_channel *t);  /* a connection exists (connecting or open) */
  /* Forgets the connection at once without any further event; the worker tears the socket down later. Used when
     the client must end now (engine stopping, stuck close). */
  void (*detach)(struct ch_channel *t);
  /* Only when no connection exists. */
  void (*destroy)(struct ch_channel *t);
  /* Optional (serverSentEvents, longPolling): a refreshed query-string credential; later sends use send_url and
     polls poll_url (NULL: unchanged), the open connection goes on. 0 or -ENOMEM. */
  int (*set_urls)(struct ch_channel *t, const char *send_url, const char *poll_url);
};

/* Fills the common head of a new transport object (from its ops' create). */
void ch__channel_init(struct ch_channel *b, const struct ch_transport_ops *ops, struct ch_worker *w,
                      const struct ch_transport_events *ev, void *owner);

/* A destroy for transports allocated as one block: detach, then free. */
void ch__channel_destroy(struct ch_channel *b);

/* NULL when the transport is not implemented yet. */
const struct ch_transport_ops *ch_transport_ops_for(enum ch_transport t);
extern const struct ch_transport_ops ch_ws_transport_ops;    /* lws's WebSocket client (ch_ws.c) */
extern const struct ch_transport_ops ch_wsraw_transport_ops; /* our framing on an lws raw socket (ch_wsraw.c) */
extern const struct ch_transport_ops ch_sse_transport_ops; /* ch_sse_transport.c */
extern const struct ch_transport_ops ch_lp_transport_ops;  /* ch_lp_transport.c */

#endif /* CH_TRANSPORT_H */
