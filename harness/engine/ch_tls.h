/* ch_tls: the client side of TLS that the engine owns itself (wss:// over ch_tls_conn.c) and the checks that
   refuse unusable TLS input before a run starts. One SSL_CTX per worker, loaded once (CA, client certificate and
   key, verification, SSL_MODE_RELEASE_BUFFERS so an idle connection holds no record buffers), and a small cache of
   the last session per host so that reconnects and many clients of one host resume instead of paying a full
   handshake. curl's connections (negotiate, start, abort, SSE, long polling) get the same files through curl
   options and share sessions per worker through a CURLSH (ch_http.c). */
#ifndef CH_TLS_H
#define CH_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "ch_buf.h"

/* How a TLS handshake went: resumed, or full and why the session cache missed (counted per cause in the report,
   tls_resume_miss_*). */
enum ch_tls_resume {
  CH_TLS_RESUMED = 0,       /* an earlier session of the worker was reused */
  CH_TLS_MISS_NO_SESSION,   /* full: nothing cached for this host, port and server name (first connection) */
  CH_TLS_MISS_OTHER_NAME,   /* full: nothing for this name, but a session for another name on the same port */
  CH_TLS_MISS_EXPIRED,      /* full: the cached session had outlived its lifetime (not offered) */
  CH_TLS_MISS_REJECTED,     /* full: a session was offered and the server made a full handshake anyway */
};
#define CH_TLS_RESUME_KINDS 5

/* The TLS settings a run uses (command line over scenario target.tls). Strings are borrowed. */
struct ch_tls_opts {
  const char *ca_file;     /* NULL: the system store */
  const char *cert_file;   /* NULL: no client certificate; PEM, may hold the chain */
  const char *key_file;    /* NULL: the key is in cert_file; PEM */
  const char *server_name; /* NULL: the URL's host; else sent as SNI and verified against the certificate */
  bool insecure;           /* no peer or host verification */
};

/* Loads every file given as OpenSSL will (PEM CA bundle, certificate, key, and that the key matches the
   certificate). 0, or -EINVAL with a message naming the file and what is wrong with it ("--cert client.pem: cannot
   read: No such file or directory"). `what_cert`, `what_key`, `what_ca` name the options in the message. */
int ch_tls_check_files(const struct ch_tls_opts *o, const char *what_ca, const char *what_cert, const char *what_key,
                       struct ch_buf *err);

/* The same settings for a curl handle the runner opens itself (trigger requests, the capacity probe): CA and
   verification always; the client certificate only when `url` is on the target's scheme, host and port
   (`target_url`), because a trigger may go to another service (a publisher, the control API on its own port) that
   has no business seeing it. server_name is not applied: such a URL names the host it verifies. */
void ch_tls_curl_apply(void *curl_easy, const struct ch_tls_opts *o, const char *url, const char *target_url);
/* Whether two absolute URLs reach the same TLS endpoint: https/wss both, the same host (ASCII case ignored) and port
   (the default 443 when none is written). False when either is not such a URL. */
bool ch_tls_same_endpoint(const char *url, const char *target_url);

/* One worker's TLS client context. */
struct ch_tls_ctx;
struct ssl_st;
struct ssl_session_st;

int ch__tls_ctx_new(const struct ch_tls_opts *o, struct ch_tls_ctx **out, struct ch_buf *err);
void ch__tls_ctx_free(struct ch_tls_ctx *x);
/* A client SSL for host:port: SNI (names only, or server_name), host or IP verification, the cached session of
   that host to resume and, when that host answered a key share with a HelloRetryRequest before, its group first.
   *if_full: the miss cause should the handshake be full. NULL on out of memory. */
struct ssl_st *ch__tls_ssl_new(struct ch_tls_ctx *x, const char *host, int port, enum ch_tls_resume *if_full);
/* After a handshake: remembers the group the host chose (the next ClientHello sends that key share, no retry). */
void ch__tls_handshake_done(struct ssl_st *ssl);
/* Whether a client session may still be offered at `now` (seconds): resumable, within its timeout and ticket
   lifetime. A session OpenSSL would silently not offer counts as expired. */
bool ch__tls_session_fresh(const struct ssl_session_st *sess, long now);
/* Why a handshake failed: the verification result when that failed, else OpenSSL's error queue (cleared). */
void ch__tls_error(struct ssl_st *ssl, int ssl_err, char *out, size_t size);

#endif /* CH_TLS_H */
