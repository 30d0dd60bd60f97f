/* ch_server: the reference Centro endpoint, an ASP.NET SignalR 2.4-compatible server hosting ResourceEventHub and
   JobEventHub (see harness/server/README.md). It runs on its own thread with its own libuv loop; everything it
   owns lives in struct ch_server, so several servers can run in one process (tests do). */
#ifndef CH_SERVER_H
#define CH_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

/* Hubs, as a bit set for struct ch_server_token.hubs. */
enum ch_hub {
  CH_HUB_RESOURCE = 1u << 0, /* ResourceEventHub: SubscribeToPart / UnsubscribeFromPart */
  CH_HUB_JOB = 1u << 1,      /* JobEventHub: SubscribeToPipeline / UnsubscribeFromPipeline */
};
#define CH_HUB_ALL (CH_HUB_RESOURCE | CH_HUB_JOB)

/* Fault injection: each is one realistic way a Centro server can be wrong. Bit n of ch_server_opts.faults enables
   fault n. The table (ch_fault_info) says which check family of the conformance catalogue must notice it. */
enum ch_fault {
  CH_FAULT_NEG_MISSING_FIELD,  /* negotiate omits TransportConnectTimeout */
  CH_FAULT_PROTOCOL_ECHO,      /* ProtocolVersion echoes clientProtocol instead of clamping ("2.1") */
  CH_FAULT_INIT_NO_S,          /* the init message lacks "S":1 */
  CH_FAULT_START_BAD_RESPONSE, /* /start answers {"Response":"ok"} */
  CH_FAULT_INVOKE_NUMERIC_ID,  /* hub completions carry I as a number */
  CH_FAULT_DROP_UPDATES,       /* every 10th Update to a connection is lost */
  CH_FAULT_DUPLICATE_UPDATES,  /* every 10th Update to a connection is sent twice */
  CH_FAULT_REORDER_UPDATES,    /* Updates to a connection are delivered in swapped pairs */
  CH_FAULT_SLOW_UPDATES,       /* every Update is held 300 ms before it is sent */
  CH_FAULT_LEAK_KEYS,          /* an Update reaches every subscriber of the hub, not only those of its key */
  CH_FAULT_IGNORE_UNSUBSCRIBE, /* Unsubscribe* completes but the connection stays in the group */
  CH_FAULT_AUTH_STATUS_SWAP,   /* 403 for a missing/unknown token, 401 for a user not allowed on the hub */
  CH_FAULT_NO_KEEPALIVE,       /* no keep-alives on any transport */
  CH_FAULT_NO_REPLAY,          /* reconnect/poll with messageId does not replay missed messages */
  CH_FAULT_IGNORE_GROUPS_TOKEN, /* groupsToken is ignored on reconnect/poll: groups are lost */
  CH_FAULT_LOSE_1PCT,          /* each Update to a connection is lost with probability 1% (seeded) */
  CH_FAULT_DUPLICATE_1PCT,     /* each Update to a connection is sent twice with probability 1% (seeded) */
  CH_FAULT_REORDER_1PCT,       /* each Update to a connection is sent after the next one with probability 1% (seeded) */
  CH_FAULT_CLOSE_AFTER_UPDATES, /* every receive channel is ended by the server after 50 Updates on it */
  CH_FAULT_PING_NUL,           /* /ping answers {"Response":"pong"} followed by a NUL byte (content-length 23) */
  CH_FAULT_REFUSE_RECONNECT,   /* /reconnect answers 503 (an overloaded or restarting server): clients must start a
                                  new connection once their reconnect window is over */
  CH_FAULT_COUNT
};

struct ch_fault_info {
  enum ch_fault fault;
  const char *name;        /* command-line name, e.g. "drop-updates" */
  const char *family;      /* check family that must fail: NEG PROTO INIT START INVOKE DELIVERY DUP ORDER LATENCY
                              ISOLATION UNSUB AUTH KEEPALIVE REPLAY GROUPS CLOSE PING */
  const char *description; /* one line for `serve --help` */
};

/* The table of all faults, CH_FAULT_COUNT entries in enum order. */
const struct ch_fault_info *ch_fault_table(void);
/* NULL for an out-of-range value. */
const char *ch_fault_name(enum ch_fault f);
/* 0, or -EINVAL for an unknown name (exact, case-sensitive match). */
int ch_fault_parse(const char *name, enum ch_fault *out);

/* One accepted bearer token. NULL lists (with n == 0) mean "all". The strings are copied by ch_server_new. */
struct ch_server_token {
  const char *token;
  const char *user;
  const char *const *parts;     /* part keys the user may subscribe to; NULL = all */
  size_t n_parts;
  const char *const *pipelines; /* pipeline ids the user may subscribe to; NULL = all */
  size_t n_pipelines;
  unsigned hubs;                /* bit set of enum ch_hub the user may connect to; 0 = all */
};

/* One user of the login route (serve --login-users). The strings are copied by ch_server_new. */
struct ch_server_login_user {
  const char *user;
  const char *password;     /* a secret: never logged */
};

struct ch_server_opts {
  const char *listen_host;  /* default "127.0.0.1" */
  int port;                 /* 0 = a free port (read it back with ch_server_port) */
  const char *base;         /* "" (endpoint /signalr) or e.g. "/Centro" (endpoint /Centro/signalr) */
  const char *control_host; /* default "127.0.0.1" */
  int control_port;         /* 0 = a free port; -1 = no control API */
  const struct ch_server_token *tokens; /* none: authorization is off and every request is anonymous */
  size_t n_tokens;
  bool strict_auth;         /* with tokens: refuse (401) every request without a known token. Off (the default),
                               like SignalR 2.4 (§6): only requests naming hubs in connectionData need one; the
                               rest (the official client's /ping, a negotiate without connectionData) are anonymous */
  const struct ch_server_login_user *login_users; /* none: no login route. Else POST /login issues tokens with a
                               lifetime, accepted like --tokens (every hub and key) until they expire, then 401 */
  size_t n_login_users;
  double token_ttl_s;       /* lifetime of login tokens; 0 = 300 */
  unsigned faults;          /* bit set: 1u << enum ch_fault */
  uint64_t fault_seed;      /* the random faults' choices (per connection, in creation order); 0 = 1 */
  double keepalive_s;       /* 0 = default 10; keep-alive period on every transport */
  double disconnect_timeout_s;        /* 0 = default 30 */
  double connection_timeout_s;        /* 0 = default 110; long-poll hold time */
  double transport_connect_timeout_s; /* 0 = default 5 */
  bool no_websockets;       /* TryWebSockets false, and WebSocket upgrades are refused */
  size_t replay_buffer;     /* messages kept per connection for replay; 0 = default 1000 */
  size_t max_queue;         /* unsent messages a live channel may lag behind before the oldest are skipped; 0 = no
                               bound but the replay buffer */
  int processes;            /* ch_server_main only: N processes sharing the port (SO_REUSEPORT); 0/1 = one */
  bool reuse_port;          /* set SO_REUSEPORT on the listening socket (used by --processes) */
  bool quiet;               /* no log lines on stderr */
  /* TLS on the endpoint port (https/wss for every transport); NULL = plain. PEM files, read at ch_server_new and
     again when the server starts. The control API stays plain unless control_tls. */
  const char *tls_cert;     /* certificate (chain), leaf first */
  const char *tls_key;      /* its private key (unencrypted) */
  const char *tls_client_ca; /* require a client certificate signed by one of these CAs; NULL = none asked */
  bool control_tls;         /* serve the control API over TLS too (same certificate and client-CA rule) */
  /* serve --metrics-listen/--out: called once a second on the server's thread with its GET /stats object (the
     --processes siblings included); NULL none */
  void (*on_stats)(void *user, const char *json, size_t len);
  void *on_stats_user;
};

struct ch_server;

/* Validates opts and copies them; does not bind. Returns 0, -EINVAL (bad opts, or TLS files that
   ch_server_tls_check refuses) or -ENOMEM. */
int ch_server_new(const struct ch_server_opts *opts, struct ch_server **out);
/* Binds, starts the server thread and returns once both ports listen. -EADDRINUSE when the port is taken, another
   negative errno-style code on other failures (the server is then not running, ch_server_free still applies). */
int ch_server_start(struct ch_server *s);
/* The bound ports (valid after a successful start). ch_server_control_port is -1 without a control API. */
int ch_server_port(const struct ch_server *s);
int ch_server_control_port(const struct ch_server *s);
/* Stops the loop and joins the thread. Thread-safe and idempotent; a no-op when not started. */
void ch_server_stop(struct ch_server *s);
/* Stops if needed and frees. NULL is fine. */
void ch_server_free(struct ch_server *s);

/* Tokens file: one token per line, `TOKEN USER [parts=K1,K2] [pipelines=P1,P2] [hubs=ResourceEventHub,JobEventHub]`;
   blank lines and lines starting with '#' are ignored; an omitted list means "all". Returns 0 and an array the caller
   frees with ch_server_tokens_free, or -EINVAL with a message in err (never containing a token) or -errno. */
int ch_server_tokens_load(const char *path, struct ch_server_token **out, size_t *n, struct ch_buf *err);
void ch_server_tokens_free(struct ch_server_token *t, size_t n);

/* Checks the TLS options of opts: cert and key given together, each file readable PEM, the key matching the
   certificate, the client CA file holding certificates. 0 (also without TLS), or -EINVAL with a message naming the
   option and file in err. */
int ch_server_tls_check(const struct ch_server_opts *opts, struct ch_buf *err);
/* Login users file: `user,password` per line (an optional first line `user,password` and lines starting with '#'
   are skipped). 0 and an array freed with ch_server_login_users_free, or -EINVAL with a message in err (never a
   line's content) or -errno. */
int ch_server_login_users_load(const char *path, struct ch_server_login_user **out, size_t *n, struct ch_buf *err);
void ch_server_login_users_free(struct ch_server_login_user *u, size_t n);

/* `centro-harness serve ...`: argv[0] is "serve". Runs until SIGINT/SIGTERM. Returns an enum ch_exit value. */
int ch_server_main(int argc, char **argv);

#endif /* CH_SERVER_H */
