/* ch_engine: worker threads, each owning one libuv loop that drives one curl multi handle and one libwebsockets
   context. Clients (ch_client.h) live on one worker for their whole life; nothing on the hot path takes a lock.

   Life cycle (from the runner's thread):
     ch_engine_new(&opts, &e)      validates, allocates; no threads yet
     ch_engine_start(e)            spawns the workers; returns once every loop is running (or fails, joined)
     ch_engine_post(e, i, fn, arg) runs fn(worker, arg) on worker i's loop thread (the only cross-thread entry)
     ch_engine_stop(e)             every worker closes its clients (on_state CLOSED, category CH_FAIL_CANCELLED),
                                   cancels HTTP, tears curl and lws down in the verified order, and is joined
     ch_engine_free(e)             frees workers and any client not yet freed
   Everything in ch_client.h is called on the owning worker's thread (from a posted task or a callback), except
   ch_client_free and the getters, which are also allowed after ch_engine_stop returned.

   Notes: negotiate/start/abort (and SSE/long polling) go through curl, which honours http_proxy, https_proxy,
   all_proxy and no_proxy; WebSocket connections go through lws, which honours http_proxy only (no no_proxy).
   https/wss targets need ch_engine_opts.tls. ws:// uses our own frame parser on an lws raw socket, wss:// the same
   parser on OpenSSL over the worker's loop (ch_tls_conn.h; see ws_lws_framing); TLS sessions are resumed per worker
   for curl's connections and the WebSockets alike. Measured on the 2-core box (reference server in another process):
   19,000 WebSocket clients at 4.2 KiB RSS each, 5,300 handshakes/s at 10k clients (window 16, 2 workers),
   0.9-1.4 million hub messages/s decoded and dispatched by one worker. */
#ifndef CH_ENGINE_H
#define CH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

struct ch_engine;
struct ch_worker;
struct uv_loop_s;

/* Called on the engine's threads for library diagnostics (lws errors and warnings). Never sees credentials. */
typedef void (*ch_engine_log_cb)(int level, const char *line, void *user);
/* A task run on a worker's loop thread. */
typedef void (*ch_worker_task_cb)(struct ch_worker *w, void *arg);

struct ch_engine_opts {
  unsigned workers;                /* 0: one per online CPU */
  bool tls;                        /* set up TLS in every worker (one SSL_CTX, ch_tls.h): required for https/wss
                                      targets (ch_client_new refuses them otherwise) */
  bool insecure;                   /* true: no TLS peer/host verification (--insecure) */
  const char *ca_file;             /* NULL: the system store (--ca-file) */
  const char *cert_file;           /* NULL: no client certificate (--cert, target.tls.cert_file); PEM */
  const char *key_file;            /* NULL: the key is in cert_file (--key); PEM */
  const char *server_name;         /* NULL: the URL's host; else the TLS name sent (SNI) and verified */
  const char *const *source_addrs; /* local IPv4/IPv6 addresses to bind (--source-addresses); may be NULL */
  size_t source_addr_count;
  size_t max_message_bytes;        /* 0: 1 MiB; a larger received message ends its client ("ws: message larger...") */
  size_t max_http_body_bytes;      /* 0: 1 MiB; a larger negotiate/start body ends its client */
  unsigned connect_window;         /* 0: 16; negotiates + WebSocket handshakes in flight per worker (a client holds
                                      a slot from GET /negotiate until its socket is open, reconnects included) */
  unsigned ws_rx_buffer;           /* 0: 1024; lws rx buffer per connection (only with ws_lws_framing) */
  bool ws_lws_framing;             /* use lws's own WebSocket client (per-byte frame parser, ~3x slower on receive)
                                      instead of our framing (over an lws raw socket for ws://, over ch_tls_conn for
                                      wss://: lws 4.1.6 cannot tear down raw TLS sockets on uv). With tls and
                                      several workers lws 4.1.6 leaks the client SSL_CTX of all but one at exit.
                                      wss also goes through lws's client when http_proxy is set (only lws speaks it) */
  unsigned max_fds;                /* 0: RLIMIT_NOFILE soft limit; sizes lws's fd tables */
  ch_engine_log_cb log;            /* NULL: diagnostics dropped */
  void *log_user;
  ch_worker_task_cb on_stop;       /* NULL: none. Run on each worker's thread as its stop begins (after the tasks
                                      already posted): the caller closes the libuv handles it opened on that loop,
                                      which would otherwise keep it running, when a run ends before its own
                                      clean-up task could be posted */
  void *on_stop_arg;
};

/* Validates opts (copying every string and array) and allocates. -EINVAL for a bad option (message in err). */
int ch_engine_new(const struct ch_engine_opts *opts, struct ch_engine **out, struct ch_buf *err);
/* Spawns the workers; each sets up its loop, curl multi and lws context before this returns 0. On failure every
   started worker is stopped and joined, and the message names the cause. */
int ch_engine_start(struct ch_engine *e, struct ch_buf *err);
/* Queues fn(worker, arg) on worker `index` (thread-safe, any thread). -EINVAL for a bad index, -ESHUTDOWN once the
   worker is stopping (fn then never runs), -ENOMEM. Tasks run in the order posted. */
int ch_engine_post(struct ch_engine *e, unsigned index, ch_worker_task_cb fn, void *arg);
/* Stops every worker (see the top of this file) and joins them. Idempotent. Must not be called from a worker. */
void ch_engine_stop(struct ch_engine *e);
/* Stops if needed, frees everything including clients the caller did not free. */
void ch_engine_free(struct ch_engine *e);
unsigned ch_engine_worker_count(const struct ch_engine *e);

/* On a worker's own thread only. */
struct uv_loop_s *ch_worker_loop(struct ch_worker *w);
unsigned ch_worker_index(const struct ch_worker *w);
struct ch_engine *ch_worker_engine(struct ch_worker *w);
/* Clients on this worker that are not yet CLOSED. */
size_t ch_worker_live_clients(const struct ch_worker *w);
/* Handshakes (negotiate .. WebSocket open) in flight, and clients waiting for a slot in the connect window. */
unsigned ch_worker_handshakes_in_flight(const struct ch_worker *w);
size_t ch_worker_handshakes_queued(const struct ch_worker *w);

/* Parses --source-addresses: a comma-separated list of addresses and IPv4 ranges "a.b.c.d-a.b.c.e" (at most 65536
   addresses). On success *out is an array of *n malloc'ed strings (free with ch_source_addrs_free). -EINVAL with a
   message naming the bad element. */
int ch_source_addrs_parse(const char *spec, char ***out, size_t *n, struct ch_buf *err);
void ch_source_addrs_free(char **addrs, size_t n);

#endif /* CH_ENGINE_H */
