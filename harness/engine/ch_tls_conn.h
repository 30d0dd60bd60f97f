/* ch_tls_conn: one TLS client connection on the worker's loop without lws: a non-blocking socket watched by a
   uv_poll, OpenSSL on the descriptor (SSL_read/SSL_write with WANT_READ/WANT_WRITE), the worker's SSL_CTX and
   session cache (ch_tls.h). The wss:// path of ch_wsraw.c runs our RFC 6455 framing on it. Engine-internal; worker
   thread only.

   Events reach the owner only from the loop (never inside a call below): connected once the TLS handshake is done,
   rx for decrypted bytes (valid during the call), writable after ch__tlsc_want_write, closed exactly once at the
   end (why: NULL after ch__tlsc_close, else the reason) after which the connection is gone. An event returning
   non-zero closes the connection (closed follows with the reason the owner recorded). */
#ifndef CH_TLS_CONN_H
#define CH_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_tls.h"

struct ch_worker;
struct ch_tls_conn;

struct ch_tls_conn_events {
  int (*connected)(void *owner, enum ch_tls_resume how, uint64_t handshake_ns);
  int (*rx)(void *owner, const char *p, size_t n);
  int (*writable)(void *owner);
  void (*closed)(void *owner, bool was_connected, const char *why);
};

/* Resolves host (a literal address at once; a name with getaddrinfo, remembered per worker), binds source_addr
   when given and starts connecting. 0, or a negative errno with the reason in why (nothing started, no event). */
int ch__tlsc_open(struct ch_worker *w, const char *host, int port, const char *source_addr,
                  const struct ch_tls_conn_events *ev, void *owner, struct ch_tls_conn **out, char *why,
                  size_t why_size);
/* Queues bytes (copied when the socket does not take them at once). -1 when the connection is failing. */
int ch__tlsc_write(struct ch_tls_conn *c, const char *p, size_t n);
/* The writable event follows once the socket can take more. */
void ch__tlsc_want_write(struct ch_tls_conn *c);
/* Closes after what is queued is written, at most ms later (a graceful WebSocket close waiting for the server). */
void ch__tlsc_close_within(struct ch_tls_conn *c, unsigned ms);
/* Closes soon: closed(why NULL) follows from the loop. */
void ch__tlsc_close(struct ch_tls_conn *c);
/* Closes now without any further event (the owner forgets it). */
void ch__tlsc_detach(struct ch_tls_conn *c);

#endif /* CH_TLS_CONN_H */
