/* ch_chk: internals shared by the check families: the run context, HTTP probes, the blocking WebSocket client,
   SignalR probe sessions, triggers, redaction and transcripts. Not for use outside harness/checks. */
#ifndef CH_CHK_H
#define CH_CHK_H

#include <cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_checks.h"
#include "ch_rng.h"

#define CH_CHK_MAX_SECRETS 64 /* the credentials renewed between families too */
#define CH_CHK_EXCERPT 300

struct ch_chk_trigger; /* ch_chk_trigger.c */

/* A hub as the checks drive it: its name and its subscribe/unsubscribe methods. */
struct ch_chk_hub {
  const char *name;      /* "ResourceEventHub" */
  const char *sub;       /* "SubscribeToPart" */
  const char *unsub;     /* "UnsubscribeFromPart" */
  const char *key_field; /* the Update argument's field holding the key, e.g. "PartKey" */
};

/* The state of one `check` run; owned by the calling thread. */
struct ch_chk_ctx {
  const struct ch_checks_opts *opts;
  char *base;      /* http(s)://host:port/vdir/signalr, no trailing slash */
  char *origin;    /* http(s)://host:port */
  char *path;      /* /vdir/signalr */
  char *auth;      /* "Authorization: Bearer …" or NULL */
  char *auth2;     /* the other user's, or NULL */
  char *bad_auth;  /* an unknown token, right scheme */
  char *raw_token; /* the main token without its scheme (for the wrong-scheme probe) */
  const struct ch_chk_hub *hubs[2];
  size_t nhubs;
  char key[64], key2[64];
  long timeout_ms, passive_ms;
  long grace_ms;                  /* how long silence checks keep listening after their fence Update */
  unsigned burst;                 /* Updates per delivery burst (opts->burst or the size for the stated power) */
  long burst_quiet_ms;            /* a burst's Updates still missing after this long without any are lost */
  unsigned transports;            /* asked for, narrowed by what negotiate offers */
  struct ch_chk_trigger *trigger; /* NULL: passive */
  char trigger_error[512];        /* the first trigger request that could not be carried out ("" none): the run is
                                     then an error (exit 4), and no further trigger is sent */
  uint64_t seq;                   /* Update sequence numbers for the trigger */
  struct ch_rng rng;
  CURL *easy; /* reused for sequential probes */
  char *secrets[CH_CHK_MAX_SECRETS];
  size_t nsecrets;
  /* per check */
  struct ch_buf tx;        /* JSON Lines transcript of the current check */
  struct ch_buf json_err;  /* why bodies/messages were refused by ch_chk_json (lines), for the evidence */
  struct ch_buf json_warn; /* what ch_chk_json accepted but a careful server would not send (lines) */
  uint64_t t0_ns;
  unsigned nclients;
  char stopped_at[96]; /* the check the first signal came before, "" until then */
};

/* Redaction: every registered secret (and its percent-encoded form) and the values of connectionToken,
   groupsToken, access_token and Authorization become "[REDACTED]". */
void ch_chk_secret_add(struct ch_chk_ctx *cx, const char *s);
int ch_chk_redact(const struct ch_chk_ctx *cx, const char *s, size_t n, struct ch_buf *out);

/* Appends one transcript line: {"t_ms":…,"client":…,"dir":"out"|"in","channel":…,"bytes":…} (redacted). */
void ch_chk_tx(struct ch_chk_ctx *cx, const char *client, const char *dir, const char *channel, const char *bytes,
               size_t n);

/* Common options of every probe handle: no signals, the TLS settings of the run. */
void ch_chk_curl_common(const struct ch_chk_ctx *cx, CURL *e);

/* ---- HTTP probes (curl easy, sequential) ---- */
struct ch_http {
  long status;
  char ctype[128];
  bool nosniff;
  struct ch_buf body;
  uint64_t first_body_ns; /* monotonic time the first body byte arrived (0 if none) */
  CURLcode cc;
  char err[CURL_ERROR_SIZE];
};

#define CH_HTTP_INIT                                                                                                   \
  {                                                                                                                    \
    0, {0}, false, CH_BUF_INIT, 0, CURLE_OK, { 0 }                                                                     \
  }

/* Sends one request; auth is a full header line or NULL; body NULL for none (a POST gets an empty body).
   Returns 0 when a response arrived (any status), -ETIMEDOUT, or -ECONNREFUSED/-EHOSTUNREACH for the rest. */
int ch_chk_http(struct ch_chk_ctx *cx, const char *client, const char *method, const char *url, const char *auth,
                const char *body, long timeout_ms, struct ch_http *res);
void ch_http_free(struct ch_http *res);

/* Evidence: "request: GET <url>\nresponse: <status> <content-type>\n<body excerpt>\nexpected: <expected>". */
void ch_chk_evidence(const struct ch_chk_ctx *cx, struct ch_buf *ev, const char *method, const char *url,
                     const struct ch_http *res, const char *expected);

/* ---- blocking WebSocket client (ws:// and wss:// over a curl CONNECT_ONLY connection) ---- */
struct ch_ws {
  CURL *easy;
  curl_socket_t fd;
  long status;        /* the handshake's HTTP status */
  struct ch_buf head; /* the handshake response head */
  struct ch_buf rx;   /* bytes not yet parsed */
  struct ch_buf frag; /* a fragmented message being reassembled */
  bool closed;
  const char *error;  /* why receiving failed (a frame the probe refuses), else NULL */
  int close_code; /* 0 open; the peer's Close status (1005 when it gave none); -1 ended without a Close frame */
  struct ch_interrupt *intr; /* a second signal ends the waits (checks_opts.intr) */
};

/* The largest message the probe client takes, fragments included. */
#define CH_WS_MAX_MESSAGE (16u << 20)

/* Opens url (http/https form) with the upgrade; extra_hdr may be NULL. Returns 0 on 101, -EACCES when another status
   came back (ws->status says which), or a transport error. */
int ch_ws_open(struct ch_ws *ws, struct ch_chk_ctx *cx, const char *client, const char *url, const char *extra_hdr,
               long timeout_ms);
int ch_ws_send_text(struct ch_ws *ws, struct ch_chk_ctx *cx, const char *s, size_t n);
/* 1: a text message in out; 0: timeout; -EPIPE: closed by the peer; -EPROTO: a frame refused (ws->error says why). */
int ch_ws_recv(struct ch_ws *ws, struct ch_chk_ctx *cx, const char *client, long timeout_ms, struct ch_buf *out);
void ch_ws_close(struct ch_ws *ws);
/* "HTTP <status>: <printable start of the body>" for an upgrade ch_ws_open refused (-EACCES). */
void ch_ws_refusal(const struct ch_ws *ws, char *out, size_t size);

/* The receive side without a socket: takes the first frame of ws->rx if it is complete. Data frames are assembled
   in ws->frag up to max bytes in all (a header announcing more is refused at once, so at most max plus a header is
   ever buffered). Returns CH_WS_RX_MORE (0: needs more bytes), CH_WS_RX_MESSAGE (a whole message, moved into msg),
   CH_WS_RX_PING (its payload in ping[0..*ping_len)), CH_WS_RX_CLOSE, or -EPROTO with ws->error set. The frame is
   consumed in every case but MORE. */
enum { CH_WS_RX_MORE = 0, CH_WS_RX_MESSAGE = 1, CH_WS_RX_PING = 2, CH_WS_RX_CLOSE = 3 };
int ch_ws_rx_next(struct ch_ws *ws, size_t max, struct ch_buf *msg, char ping[125], size_t *ping_len);

/* ---- SignalR probe session ---- */
struct ch_msgq {
  struct ch_buf *items; /* whole messages with their lengths (a NUL inside must reach ch_chk_json) */
  size_t head, n, cap;
};

struct ch_sess {
  struct ch_chk_ctx *cx;
  unsigned transport; /* one CH_T_* bit */
  const char *auth;   /* header line or NULL */
  const struct ch_chk_hub *hub;
  char client[16];
  char *cdata;           /* percent-encoded connectionData */
  char *token_enc;       /* percent-encoded ConnectionToken */
  char *url_path;        /* the negotiate Url */
  double ka_timeout;     /* KeepAliveTimeout seconds, 0 when null */
  char *cursor, *groups; /* last C and G */
  cJSON *negotiate;      /* the parsed negotiate body */
  struct ch_ws ws;
  CURLM *multi; /* serverSentEvents stream */
  CURL *sse;
  struct ch_buf sse_buf;
  struct curl_slist *sse_hdrs;
  bool sse_open;
  uint64_t lp_sent_ns; /* when the held long poll's request was written */
  struct ch_msgq q;    /* persistent responses received while waiting for something else */
  int next_id;
  bool connected;
  uint64_t last_ka_ns; /* when the last keep-alive arrived */
  unsigned keepalives;
  bool closing;          /* the client asked the receive channel to end (abort, drop) */
  char server_close[160]; /* how the server first ended the receive channel unasked ("" when it did not) */
  uint64_t server_close_ns;
  struct ch_http last; /* the last HTTP exchange, for evidence */
  char last_url[1024];
  const char *last_method;
};

void ch_sess_init(struct ch_sess *s, struct ch_chk_ctx *cx, unsigned transport, const char *auth,
                  const struct ch_chk_hub *hub);
/* negotiate; 0 on 200 with a parseable body. On failure s->last holds the exchange. */
int ch_sess_negotiate(struct ch_sess *s);
/* Builds "<origin><Url>/<cmd>?transport=…&clientProtocol=2.1&connectionToken=…&connectionData=…[extra]". */
int ch_sess_url(struct ch_sess *s, struct ch_buf *out, const char *cmd, bool use_base, const char *extra);
/* connect and wait for the init message (its raw JSON in init). 0, -EACCES (HTTP status in s->last.status),
   -ETIMEDOUT, -EPROTO. reconnect: use /reconnect with messageId and groupsToken. */
int ch_sess_connect(struct ch_sess *s, bool reconnect, struct ch_buf *init);
int ch_sess_start(struct ch_sess *s, struct ch_buf *body);
/* Invokes method(args_json) with id; the completion's raw JSON goes to out. 0 or negative. */
int ch_sess_invoke(struct ch_sess *s, const char *hub, const char *method, const char *args_json, const char *id_json,
                   struct ch_buf *out);
/* The next persistent response (keep-alives counted, not returned). 1 got one, 0 timeout, negative on error. */
int ch_sess_recv(struct ch_sess *s, long timeout_ms, struct ch_buf *out);
int ch_sess_abort(struct ch_sess *s, struct ch_http *res);
/* Long polling rebuilds a connection's groups from the groupsToken of every poll (§4.3): after a subscription change
   this polls until the new G arrives and once more carrying it, queueing what came meanwhile, so Updates published
   next reach the connection. A no-op on the other transports. */
int ch_sess_settle(struct ch_sess *s);
/* Drops the receive channel without abort (to reconnect later). */
void ch_sess_drop(struct ch_sess *s);
void ch_sess_free(struct ch_sess *s);
/* Aborts the connection when it is up (so the target is left clean), then frees. */
void ch_sess_end(struct ch_sess *s);

/* Evidence for the session's last exchange. */
void ch_sess_fail_evidence(struct ch_sess *s, struct ch_buf *ev, const char *expected);
/* Negotiate + connect + start; 0 or negative with evidence written to ev. */
int ch_sess_open(struct ch_sess *s, struct ch_buf *ev);

/* ---- triggers ---- */
int ch_chk_trigger_load(struct ch_chk_ctx *cx, const char *path, struct ch_buf *err);
/* The requests of a scenario's trigger (check --scenario FILE without --trigger); s outlives cx. */
struct ch_scenario;
int ch_chk_trigger_from_scenario(struct ch_chk_ctx *cx, const struct ch_scenario *s, struct ch_buf *err);
int ch_chk_trigger_embedded(struct ch_chk_ctx *cx, const char *control_base);
void ch_chk_trigger_free(struct ch_chk_ctx *cx);
/* Makes the target push an Update for (hub, key) carrying seq and nonce. 0, or negative with err set. */
int ch_chk_publish(struct ch_chk_ctx *cx, const struct ch_chk_hub *hub, const char *key, uint64_t seq,
                   const char *nonce, struct ch_buf *err);
/* A burst: Update i (0 <= i < n) carries the nonce "<base>-<i>" and the sequence number first_seq + i, or (by_seq,
   the embedded endpoint) the nonce base and the sequence number first_seq + i the endpoint gave it. */
#define CH_CHK_BURST_NONCE 40
struct ch_chk_burst {
  char base[24];
  uint64_t first_seq;
  unsigned n;
  bool by_seq;
};
/* Publishes a burst of n Updates for (hub, key): one trigger request each, or one request for all on the embedded
   endpoint. 0, or negative with err set. */
int ch_chk_publish_burst(struct ch_chk_ctx *cx, const struct ch_chk_hub *hub, const char *key, unsigned n,
                         struct ch_chk_burst *b, struct ch_buf *err);
/* Which Update of burst b an Update argument is (by nonce, or by sequence when the trigger correlates no nonce), or
   -1 when it is none of them. */
long ch_chk_burst_index(struct ch_chk_ctx *cx, const cJSON *arg, const struct ch_chk_burst *b);
/* "trigger: POST http://…/publish …" for evidence (redacted). */
void ch_chk_trigger_describe(const struct ch_chk_ctx *cx, struct ch_buf *out);
/* Whether an Update argument carries the nonce (and, if seq_out, its sequence number). */
bool ch_chk_update_matches(struct ch_chk_ctx *cx, const cJSON *arg, const char *nonce, uint64_t *seq_out);

/* ---- the catalogue's precondition (ch_chk_precond.c) ---- */
/* 1 when negotiate with the main credential is not answered as SignalR 2.x (refused credentials, 404, a redirect,
   a page that is not a negotiate response): cause gets one line ("credentials refused: ..."), ev the exchange.
   0 otherwise (also when the target does not answer: that is for the checks to report). */
int ch_chk_precondition(struct ch_chk_ctx *cx, struct ch_buf *cause, struct ch_buf *ev);
/* Records every selected check (per transport asked for) as not run with the cause. */
void ch_chk_mark_not_run(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *cause,
                         const struct ch_buf *ev);

/* ---- families: each appends its results ---- */
/* The transports in run order. */
static const unsigned ch_chk_transports[3] = {CH_T_WS, CH_T_SSE, CH_T_LP};

typedef void (*ch_chk_family_cb)(struct ch_chk_ctx *cx, struct ch_checks_results *out);

/* Result helpers: record a result for def on transport (0 = none). fmt is the one-line message: why it failed or
   was skipped. A passing result drops it (so callers can pass one format for both outcomes) unless fmt starts with
   '+', which marks a note worth keeping (the '+' is not kept). */
void ch_chk_result(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *id, unsigned transport,
                   enum ch_check_status st, const struct ch_buf *evidence, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Whether id is selected by opts->only. */
bool ch_chk_selected(const struct ch_chk_ctx *cx, const char *id);
/* Starts the per-check transcript and clock. */
void ch_chk_begin(struct ch_chk_ctx *cx);

void ch_chk_family_negotiate(struct ch_chk_ctx *cx, struct ch_checks_results *out);
void ch_chk_family_lifecycle(struct ch_chk_ctx *cx, struct ch_checks_results *out);
/* CON-008 on the transports of mask, watched together (ch_fam_close.c; part of the lifecycle family). */
void ch_chk_server_close(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned mask);
void ch_chk_family_delivery(struct ch_chk_ctx *cx, struct ch_checks_results *out);
void ch_chk_family_auth(struct ch_chk_ctx *cx, struct ch_checks_results *out);
void ch_chk_family_keepalive(struct ch_chk_ctx *cx, struct ch_checks_results *out);
void ch_chk_family_reconnect(struct ch_chk_ctx *cx, struct ch_checks_results *out);

/* Parsing like the official clients (ch_chk_json.c): the n bytes are accepted only when they are what the JS
   client's JSON.parse accepts (one JSON value, JSON whitespace around it, valid UTF-8; a leading BOM is dropped as the
   clients' decoders drop it). Returns the tree, or NULL with the reason and the offending bytes recorded in
   cx->json_err; oddities the clients accept (duplicate keys, lone surrogate escapes, a BOM) go to cx->json_warn. */
cJSON *ch_chk_json(struct ch_chk_ctx *cx, const char *p, size_t n);
/* Appends the refusals (when failed) and warnings recorded since ch_chk_begin to a result's evidence (redacted). */
void ch_chk_json_notes(struct ch_chk_ctx *cx, bool failed, struct ch_buf *ev);
/* Bytes for evidence: printable ASCII and valid UTF-8 as they are, control characters, NUL and bytes that are not
   UTF-8 as \xNN; at most max bytes, then "…". */
void ch_chk_show_bytes(struct ch_buf *out, const char *p, size_t n, size_t max);
/* A nonce like "n-1f2e…" from the run's RNG. */
void ch_chk_nonce(struct ch_chk_ctx *cx, char out[24]);

#endif /* CH_CHK_H */
