/* ch_ws_conn: what both webSockets transports (ch_ws.c: lws's WebSocket client, for wss://; ch_wsraw.c: our framing
   on an lws raw socket) do with their lws connection alike: connect, kill, detach, unbind on WSI_DESTROY and report
   how the connection ended. Engine-internal; called on the worker's thread. */
#ifndef CH_WS_CONN_H
#define CH_WS_CONN_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "ch_transport.h"

/* Fills what both transports put in a connect request (target, TLS, local protocol, bind address, opaque user data,
   no validity timers, *pwsi); the caller adds path, host, method and further flags. */
void ch__ws_connect_info(struct lws_client_connect_info *ci, struct ch_worker *w, const struct ch_transport_open *o,
                         const char *local_protocol, void *opaque, struct lws **pwsi);

/* Starts the connection. *opening is true while lws runs inside the call, when callbacks (even WSI_DESTROY) must
   not reach the client. 0, or -ECONNREFUSED with *ci->pwsi NULL and unbound (then no event follows). */
int ch__ws_connect(const struct lws_client_connect_info *ci, bool *opening);

/* Has lws close wsi soon. From outside lws's callbacks only: it also wakes lws, which otherwise looks at the timer
   only when it next services something. */
void ch__ws_kill(struct ch_worker *w, struct lws *wsi);

/* Unbinds *wsi from its transport at once (no further callback reaches it) and sets it NULL; lws closes the socket
   later. */
void ch__ws_detach(struct ch_worker *w, struct lws **wsi);

/* LWS_CALLBACK_WSI_DESTROY of wsi for a transport whose connection is *mine: unbinds wsi. True when this ended the
   transport's connection (reset it, then ch__ws_report_closed); false for a wsi destroyed inside
   ch__ws_connect (reported by its return value) or one that is not the transport's any more. */
bool ch__ws_unbind(struct lws *wsi, struct lws **mine, bool opening);

/* Emits events.closed for an ended connection: the failure recorded in *fail / why, else CH_FAIL_NONE for a requested
   close, else a loss nobody explained (CH_FAIL_CONNECTION_LOST once open, CH_FAIL_CONNECT before). Clears *fail and
   why for the next connection first. */
void ch__ws_report_closed(const struct ch_channel *b, enum ch_failure_category *fail, char *why, bool was_open,
                          bool requested);

/* "connect: <lws's reason>" (at most 100 bytes of it) for LWS_CALLBACK_CLIENT_CONNECTION_ERROR. */
void ch__ws_connect_error(char *out, size_t size, const void *in, size_t len);

#endif /* CH_WS_CONN_H */
