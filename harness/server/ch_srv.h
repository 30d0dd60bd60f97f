/* ch_srv: internals of the reference server shared by its files (not a public header). Everything here is owned
   and touched by the server thread only. */
#ifndef CH_SRV_H
#define CH_SRV_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ch_buf.h"
#include "ch_rng.h"
#include "ch_server.h"
#include "ch_srv_codec.h"

#define CH_SRV_MAX_WS_MESSAGE 65536 /* MaxIncomingWebSocketMessageSize */
#define CH_SRV_BATCH_MAX 64         /* messages per frame/response */
#define CH_SRV_BATCH_BYTES 32768
#define CH_SRV_FLUSH_FRAMES 16       /* frames written back to back before yielding to other sockets */
#define CH_SRV_FAULT_CLOSE_AFTER 50  /* close-after-updates: Updates a receive channel carries before it is ended */

/* One serialised hub invocation (an element of M), shared by every connection it goes to. */
struct ch_srv_msg {
  uint32_t refs;
  uint32_t len;
  char data[];
};

struct ch_srv_conn;

/* A SignalR group: one part (ResourceEventHub) or pipeline (JobEventHub). */
struct ch_srv_group {
  struct ch_srv_group *next; /* hash chain */
  unsigned hub;              /* enum ch_hub bit */
  char *key;
  uint64_t seq;              /* HarnessSeq of the last Update published to this key */
  struct ch_srv_group *dirty_next; /* on s->dirty while its members have WebSocket writes waiting */
  bool dirty;
  struct ch_srv_conn **members;
  size_t n, cap;
};

struct ch_srv_member {
  struct ch_srv_group *g;
  size_t idx; /* position in g->members */
};

/* What a receive request / socket is waiting to write. */
enum ch_srv_rx_state { CH_SRV_RX_NONE, CH_SRV_RX_LIVE, CH_SRV_RX_ENDING };

struct ch_srv_conn {
  struct ch_srv_conn *next; /* hash chain */
  char id[37];
  char *user;
  unsigned hubs;            /* hubs the connection was authorised for */
  struct ch_srv_member *groups;
  size_t n_groups, cap_groups;
  char *gtoken;             /* latest groups token, NULL when no group change happened yet */
  bool g_pending;           /* a G must go out on the receive channel */
  uint64_t g_cursor;        /* cursor (sequence) of the response that carried gtoken; 0 = not sent yet */
  /* replay ring: messages with seq in (head_seq - ring_count, head_seq] are at ring[seq & (ring_cap - 1)] */
  struct ch_srv_msg **ring;
  size_t ring_cap, ring_count;
  uint64_t head_seq;        /* seq of the newest message for this connection */
  uint64_t sent_seq;        /* newest seq written on the current receive channel */
  uint32_t fault_n;         /* per-connection counter for the drop/duplicate faults */
  uint64_t fault_rng;       /* the 1% faults' draws (ch_rng_split), seeded from fault_seed and creation order */
  uint32_t chan_updates;    /* close-after-updates fault: Updates written on the current receive channel */
  struct ch_srv_msg *held;  /* reorder fault: the message waiting for its successor */
  /* the live receive channel */
  enum ch_srv_transport tr;
  struct lws *wsi;
  bool init_pending;        /* send {"C":..,"S":1,"M":[]} */
  bool ka_pending;
  bool hdr_sent;            /* SSE/LP: response headers written */
  bool end_pending;         /* close the receive channel after flushing (abort, replaced, timeout) */
  uint64_t rx_deadline_ns;  /* LP: end the held poll at this time */
  uint64_t last_seen_ns;    /* when the connection last had a live receive channel */
  struct ch_buf replies;    /* WS: pending hub responses, each NUL-terminated */
  size_t replies_off;
  uint32_t mark;            /* leak-keys fault: dedupe per publish */
  bool remove_pending;      /* abort: forget the connection once the receive channel has ended */
  bool started;
};

struct ch_srv_pubjob {
  struct ch_srv_pubjob *next;
  struct ch_server *s;
  uv_timer_t timer;
  unsigned hub;
  char *key;
  char *payload;    /* extra model fields as a JSON object text, or NULL */
  uint64_t first_seq;
  uint64_t count, done;
  double rate;
  uint64_t start_ns;
  struct ch_srv_msg **ready; /* slow-updates fault: messages waiting to be fanned out */
};

#define CH_SRV_NSTAT 15 /* counters exchanged between --processes siblings (ch_srv_stats_vec order) */

struct ch_srv_peer {
  struct ch_server *s;
  int fd;
  uv_pipe_t pipe;
  bool on;
  struct ch_buf buf;
  uint64_t v[CH_SRV_NSTAT];
};

struct ch_srv_stats {
  uint64_t connections_total;
  uint64_t negotiates;
  uint64_t publishes;       /* Update messages published (count) */
  uint64_t deliveries;      /* Update messages written to connections */
  uint64_t pushes;          /* frames/responses carrying at least one message */
  uint64_t keepalives;
  uint64_t invocations;
  uint64_t drops;           /* messages that fell out of a connection's buffer unsent */
  uint64_t rejected;        /* requests answered 4xx/5xx */
  uint64_t drop_requests;   /* POST /drop requests of the control API */
  uint64_t last_fanout_ns;  /* build + queue + direct writes of the last immediate publish */
};

struct ch_server {
  /* options (deep copies) */
  struct ch_server_opts o;
  char *listen_host, *base, *control_host;
  char *tls_cert, *tls_key, *tls_client_ca;
  unsigned char tls_ticket_keys[80]; /* shared by --processes siblings (ch__server_share_keys) */
  bool tls_ticket_keys_set;
  struct ch_server_token *tokens;
  size_t n_tokens;
  struct ch_server_login_user *login; /* --login-users (ch_srv_login.c) */
  struct ch_server_token *login_tok;  /* one per login user: what its valid login tokens authorize */
  size_t n_login;
  uint64_t login_ttl_ms;
  uint64_t keepalive_ns, disconnect_ns, conn_timeout_ns;
  /* thread and loop */
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t stop_async;
  uv_timer_t tick;
  uv_sem_t ready;
  bool started, stopping, loop_on;
  int start_rc;
  struct lws_context *ctx;
  struct lws_vhost *vh;
  int listen_fd, control_fd, inherited_fd;
  uv_poll_t listen_poll, control_poll;
  bool listen_poll_on, control_poll_on;
  uv_timer_t accept_backoff;
  int port, control_port;
  lws_retry_bo_t retry;
  struct lws_protocols protos[2];
  /* --processes: stats of the siblings, summed into the first process's /stats */
  int stats_fd;             /* sibling: a line of counters goes to the first process every second */
  uv_timer_t stats_timer;
  bool stats_timer_on;
  uv_timer_t live_timer;    /* o.on_stats: once a second */
  bool live_timer_on;
  struct ch_srv_peer *peers; /* first process: one per sibling */
  size_t n_peers;
  /* relay of control commands between --processes siblings */
  int *relay_fds;
  size_t n_relay;
  int cmd_fd;
  uv_pipe_t cmd_pipe;
  bool cmd_pipe_on;
  struct ch_buf cmd_buf;
  /* identity and keys */
  char prefix[12];
  bool keys_set;            /* keys and prefix given by ch_server_main (shared by --processes siblings) */
  uint64_t conn_key[2], groups_key[2];
  struct ch_rng rng;
  /* state */
  struct ch_srv_conn **conns;
  size_t conn_buckets, n_conns;
  struct ch_srv_group **groups;
  size_t group_buckets, n_groups;
  struct ch_srv_pubjob *jobs;
  uint32_t publish_mark;
  bool deferring;           /* inside a publish: WebSocket writes wait for the flush at the loop's check phase */
  /* Groups published to since the loop last polled; flushed once per loop turn by flush_check, so publishes that
     arrive together (or while a fan-out was being written) share one frame per subscriber, as the real server's
     message bus batches what a subscription has not yet sent. */
  struct ch_srv_group *dirty;
  unsigned dirty_all_hubs;  /* leak-keys fault: every group of these hubs */
  uv_check_t flush_check;
  uint64_t tick_n;
  uint64_t last_ka_ns;
  struct ch_buf scratch;    /* frame building, LWS_PRE bytes reserved in front */
  struct ch_srv_stats st;
};

static inline bool ch_srv_fault(const struct ch_server *s, enum ch_fault f) { return (s->o.faults >> f) & 1u; }

/* ch_srv_state.c: connections, groups, messages */
struct ch_srv_conn *ch_srv_conn_find(struct ch_server *s, const char *id);
struct ch_srv_conn *ch_srv_conn_get(struct ch_server *s, const char *id, const char *user); /* find or create */
void ch_srv_conn_remove(struct ch_server *s, struct ch_srv_conn *c);
int ch_srv_conn_join(struct ch_server *s, struct ch_srv_conn *c, unsigned hub, const char *key);
int ch_srv_conn_leave(struct ch_server *s, struct ch_srv_conn *c, unsigned hub, const char *key);
void ch_srv_conn_leave_all(struct ch_server *s, struct ch_srv_conn *c);
/* Rebuilds groups from a groups token (invalid/absent -> none). */
void ch_srv_conn_restore_groups(struct ch_server *s, struct ch_srv_conn *c, const char *tok, size_t len);
int ch_srv_conn_groups_token(struct ch_server *s, struct ch_srv_conn *c);
/* Ensures a receive channel wakes up to write (no-op without a live channel). */
void ch_srv_conn_kick(struct ch_server *s, struct ch_srv_conn *c);
/* Writes pending messages now when the channel allows it (an idle WebSocket), else kicks. */
void ch_srv_conn_flush(struct ch_server *s, struct ch_srv_conn *c);
/* Messages [first, last] still in the ring starting after `after`: returns how many can be written. */
size_t ch_srv_conn_pending(const struct ch_srv_conn *c);
void ch_srv_conn_flush_held(struct ch_server *s, struct ch_srv_conn *c);
void ch_srv_conn_skip_lost(struct ch_server *s, struct ch_srv_conn *c);
struct ch_srv_msg *ch_srv_conn_msg(const struct ch_srv_conn *c, uint64_t seq);
struct ch_srv_group *ch_srv_group_get(struct ch_server *s, unsigned hub, const char *key, bool create);
void ch_srv_msg_unref(struct ch_srv_msg *m);
void ch_srv_state_free(struct ch_server *s);
size_t ch_srv_count_subscriptions(const struct ch_server *s);
/* Builds one Update and fans it out to the key's subscribers. Returns the number of subscribers reached. */
size_t ch_srv_publish_one(struct ch_server *s, unsigned hub, const char *key, uint64_t seq, const char *payload);
/* Parses a /publish body and starts it; writes the JSON answer into out. Returns an HTTP status. */
int ch_srv_publish_request(struct ch_server *s, const char *body, size_t len, struct ch_buf *out);
void ch_srv_jobs_free(struct ch_server *s);

/* ch_srv_http.c: the SignalR endpoint */
int ch_srv_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
size_t ch_srv_http_pss_size(void);
void ch_srv_tick(struct ch_server *s);
/* Forgets the connection a wsi's session carries (the caller already unlinked it). NULL is fine. */
void ch_srv_detach_pss(void *pss);
void ch_srv_end_receive(struct ch_server *s, struct ch_srv_conn *c);
/* Builds the persistent response for c into s->scratch (after LWS_PRE): `{"C":..[,"S":1][,"G":..],"M":[..]}`. */
int ch_srv_build_response(struct ch_server *s, struct ch_srv_conn *c, bool init, size_t *n_msgs);

/* ch_srv_hub.c: hub method dispatch */
/* Runs one client invocation for connection c and writes the hub response ({"I":"n"} or with "E") into out.
   -EINVAL when the message is not a usable invocation (the real server throws before any response exists). */
int ch_srv_invoke(struct ch_server *s, struct ch_srv_conn *c, const struct ch_server_token *tok, const char *json,
                  size_t len, struct ch_buf *out);
/* The generated JavaScript proxy served at {base}/signalr/hubs. */
const char *ch_srv_proxy_js(void);

/* ch_srv_negotiate.c */
/* clientProtocol -> ProtocolVersion: System.Version parse, clamped to [1.2, 2.0], written like Version.ToString(). */
void ch_srv_protocol_version(const char *client_protocol, char *out, size_t cap);
/* The negotiate JSON for a new connection of `user`; url is the endpoint path (request path minus /negotiate). */
int ch_srv_negotiate_body(struct ch_server *s, const char *url, size_t url_len, const char *user,
                          const char *client_protocol, struct ch_buf *out);

/* ch_srv_control.c: the control API */
int ch_srv_control_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
size_t ch_srv_control_pss_size(void);
void ch_srv_relay(struct ch_server *s, const char *body, size_t len);
/* This process's counters: ws sse lp known total subscriptions negotiates invocations publishes pushes deliveries
   keepalives dropped_messages rejected. */
void ch_srv_stats_vec(const struct ch_server *s, uint64_t v[CH_SRV_NSTAT]);
/* The GET /stats object (this process and its siblings). */
void ch_srv_stats_json(struct ch_server *s, struct ch_buf *out);

/* ch_srv_siblings.c: the stats pipes between --processes siblings */
void ch_srv_siblings_start(struct ch_server *s);
void ch_srv_siblings_close(struct ch_server *s);
/* Adds the latest counters reported by every sibling; returns the number of siblings. */
size_t ch_srv_siblings_add(const struct ch_server *s, uint64_t v[CH_SRV_NSTAT]);
/* First process: the read ends of the siblings' stats pipes (taken over; closed on free). */
int ch__server_set_peers(struct ch_server *s, const int *fds, size_t n);

/* ch_server.c */
int ch__listen_port(int fd, int *port_out);
/* Token keys and cursor prefix shared by the --processes siblings (tokens from one process open in another). */
/* keys[0..4]: connection and groups token keys and the id prefix; keys[5..14]: the TLS session ticket keys (name,
   HMAC and AES keys, 80 bytes), so that a session one sibling issued resumes at another. */
void ch__server_share_keys(struct ch_server *s, const uint64_t keys[15]);
/* The endpoint's SSL_CTX once lws made it: the shared ticket keys, one ticket per handshake. */
void ch_srv_tls_ctx_setup(struct ch_server *s, void *ssl_ctx);
int ch__bind_listen(const char *host, int port, bool reuse_port, int *fd_out, int *port_out);

/* ch_srv_tls.c */
/* Sets the vhost's TLS fields and options from the server's options (nothing without tls_cert). */
void ch_srv_tls_vhost_info(const struct ch_server *s, struct lws_context_creation_info *info);
/* LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION: 0 accepts, 1 refuses (OpenSSL's verdict, logged). */
int ch_srv_tls_verify(struct ch_server *s, void *x509_store_ctx, int preverify_ok);
/* ch_srv_login.c: the login route and its self-validating, expiring tokens */
int ch_srv_login_init(struct ch_server *s, const struct ch_server_opts *o);
void ch_srv_login_free(struct ch_server *s);
/* The user a login token authorizes, or NULL: not a login token, forged, or expired (*expired set). */
const struct ch_server_token *ch_srv_login_token(struct ch_server *s, const char *t, bool *expired);
bool ch_srv_login_route(const struct ch_server *s, const char *path);
/* Answers a login body: the status, and the JSON reply in out. */
unsigned ch_srv_login(struct ch_server *s, const char *body, size_t len, struct ch_buf *out);

/* ch_srv_reply.c: small HTTP helpers */
int ch_srv_reply(struct lws *wsi, unsigned status, const char *ctype, const char *body, size_t len);
void ch_srv_log(const struct ch_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* CH_SRV_H */
