/* ch_worker: engine internals shared by the engine's files (not for other areas). One struct ch_worker per thread:
   its loop, curl multi (ch_http.c), lws context (ch_ws.c), clients and connect window. */
#ifndef CH_WORKER_H
#define CH_WORKER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "ch_buf.h"
#include "ch_engine.h"
#include "ch_tls.h"

struct lws_context;
struct lws_protocols;
struct ch_client;
struct ch_http_req;
struct ch_tls_ctx;

struct ch_task {
  ch_worker_task_cb fn;
  void *arg;
  struct ch_task *next;
};

/* An intrusive doubly linked list node. */
struct ch_link {
  struct ch_link *prev, *next;
};

struct ch_engine {
  struct ch_engine_opts opts; /* strings and arrays below are owned copies */
  char *ca_file, *cert_file, *key_file, *server_name;
  char **source_addrs;
  size_t source_addr_count;
  unsigned n_workers;
  struct ch_worker *workers;
  bool started, stopped;
  struct lws_protocols *protocols; /* one client protocol + terminator, shared read-only by the workers */
  bool wss_via_proxy;              /* http_proxy is set: wss goes through lws's client, which honours it */
};

struct ch_worker {
  struct ch_engine *eng;
  unsigned index;
  uv_thread_t thread;
  bool thread_started;
  uv_sem_t ready;
  int start_err;
  char start_msg[160];

  uv_loop_t loop;
  bool loop_init;
  uv_async_t async;
  bool async_init;
  uv_mutex_t qlock; /* guards the task queue and stop_requested only */
  struct ch_task *qhead, *qtail;
  bool stop_requested; /* under qlock */
  bool stopping;       /* loop thread only */

  /* HTTP (ch_http.c) */
  CURLM *multi;
  uv_timer_t curl_timer;
  bool curl_timer_init;
  struct ch_link reqs; /* every ch_http_req in flight: curl 7.88 cannot list them for us */
  CURL **easy_pool;    /* reset easy handles kept for reuse */
  size_t easy_pool_n, easy_pool_cap;
  CURLSH *share;       /* TLS sessions of this worker's curl connections (one thread: no locks) */
  int hello_idx;       /* SSL ex data index: what a curl connection's ClientHello offered (ch_http.c), <= 0 none */

  /* wss:// without lws (ch_tls.c, ch_tls_conn.c) */
  struct ch_tls_ctx *tls;   /* NULL unless the engine has tls */
  char *tls_rbuf;           /* one read's decrypted bytes, allocated at the first */
  char *dns_host;           /* the last name resolved and its address */
  struct sockaddr_storage dns_addr;
  socklen_t dns_len;

  /* WebSockets (ch_ws.c) */
  struct lws_context *lws;
  void *foreign_loops[1];
  struct ch_buf tx_scratch; /* LWS_PRE + one outgoing message */

  /* Clients (ch_client.c) */
  struct ch_link clients;   /* every client created on this worker and not freed */
  size_t live;              /* started and not CLOSED */
  unsigned hs_inflight;     /* connect window slots in use */
  struct ch_link hs_wait;   /* clients waiting for a slot, FIFO */
  size_t hs_waiting;
  bool hs_pumping;          /* ch__hs_release is handing slots out (no recursion) */
  struct ch_buf scratch;    /* encoding scratch (invocations, URLs); never held across a callback */
  struct ch_buf rx_scratch; /* decoded strings handed to callbacks (E of a completion) */
  struct ch_buf trace;      /* redaction output for transcripts */
};

static inline void ch__list_init(struct ch_link *h) { h->prev = h->next = h; }
static inline bool ch__list_empty(const struct ch_link *h) { return h->next == h; }
static inline void ch__list_push(struct ch_link *h, struct ch_link *n) {
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
}
static inline void ch__list_del(struct ch_link *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}
#define ch__container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* ch_http.c */
int ch__http_worker_init(struct ch_worker *w);
void ch__http_worker_shutdown(struct ch_worker *w); /* cancels every request, cleans the multi up */

/* ch_wsraw.c: fills the lws protocol entry of the raw-framing WebSocket transport */
void ch__wsraw_protocol_fill(struct lws_protocols *p);

/* ch_ws.c */
int ch__ws_worker_init(struct ch_worker *w, struct ch_buf *err);
void ch__ws_worker_destroy_begin(struct ch_worker *w);
void ch__ws_worker_destroy_end(struct ch_worker *w);
int ch__ws_protocols_new(struct ch_engine *e);

/* ch_client.c */
void ch__client_tls(void *client, enum ch_tls_resume how, uint64_t handshake_ns); /* a TLS handshake for this client */
void ch__client_cancel_all(struct ch_worker *w); /* engine stopping: every started client ends (CANCELLED) */
void ch__client_free_all(struct ch_worker *w);   /* engine freeing: frees clients the caller left */

/* A connect-window slot: true when granted now; otherwise the client is queued and resumed by ch__hs_release. */
bool ch__hs_acquire(struct ch_worker *w, struct ch_client *c);
void ch__hs_release(struct ch_worker *w);

#endif /* CH_WORKER_H */
