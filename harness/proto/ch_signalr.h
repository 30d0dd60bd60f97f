/* ch_signalr: the classic ASP.NET SignalR 2.x codec (protocol/signalr-classic.md sections 1-4, 10, 12).

   Pure code: no sockets, no threads, no globals. The receive decoder (ch_recv_decode and the message iterator) is
   the hot path: it never allocates and returns spans into the caller's frame. Error reasons are static strings that
   never contain input bytes, so they are safe to log (tokens can never leak through them).

   Typical receive loop (one WebSocket text frame, SSE event data or long-poll body):
     struct ch_recv r; const char *why;
     if (ch_recv_decode(p, n, is_long_poll, &r, &why)) -> protocol error `why`
     r.kind == CH_RECV_KEEPALIVE: refresh the keep-alive timer
     r.kind == CH_RECV_HUB_RESPONSE: r.i is the id ("0" or 0), r.r the result, r.e the error
     r.kind == CH_RECV_PERSISTENT: store r.c (messageId) and r.g (groupsToken) with ch_json_str_unescape;
       r.s == 1 && r.has_m is the init message; then
       struct ch_msg_iter it; struct ch_hub_msg m;
       for (ch_recv_msgs_begin(&r, &it); ch_recv_msgs_next(&it, &m, &why) == 1;)
         if (ch_hub_msg_is(&m, "ResourceEventHub", "Update")) ch_hub_msg_pointer(&m, "/0/PartKey", &v); */
#ifndef CH_SIGNALR_H
#define CH_SIGNALR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_json.h"
#include "ch_url.h"

/* ---------------------------------------------------------------- transports and protocol versions (1.1, 1.3) */

enum ch_transport {
  CH_TRANSPORT_WEBSOCKETS = 0,
  CH_TRANSPORT_SSE,
  CH_TRANSPORT_LONGPOLLING,
};

/* "webSockets", "serverSentEvents", "longPolling" (the wire names). */
const char *ch_transport_name(enum ch_transport t);
/* Parses a wire name case-insensitively (also "ws", "sse", "lp"). Returns 0 or -EINVAL. */
int ch_transport_parse(const char *s, enum ch_transport *out);

/* The client protocols the harness can speak, newest first: "2.1" (default, as JS/.NET 2.4.3), "2.0", "1.5", "1.4".
   ch_protocol_supported(i) returns the i-th, NULL past the end. */
#define CH_PROTOCOL_DEFAULT "2.1"
const char *ch_protocol_supported(size_t i);
bool ch_protocol_is_supported(const char *client_protocol);
/* The ProtocolVersion a real 2.4 server answers to client_protocol: it clamps to [1.2, 2.0], so "2.1" -> "2.0",
   "2.0" -> "2.0", "1.5" -> "1.5", "1.4" -> "1.4". NULL when client_protocol is not one of ours. */
const char *ch_protocol_expected(const char *client_protocol);
/* Our acceptance rule: the server's ProtocolVersion must equal ch_protocol_expected(client_protocol) exactly (as a
   string: "2.0" is accepted, "2.00" or "2" is not). This is stricter than both real clients (JS 2.4.3 accepts exactly
   "1.5"/"2.0"/"2.1"; .NET accepts 1.4 <= v <= 2.1) and is what a conformant 2.4 server does. */
bool ch_protocol_accepts(const char *client_protocol, const char *server_version);
/* What the real 2.4.3 clients would say to a server's ProtocolVersion, for reports: JS accepts exactly "1.5", "2.0"
   or "2.1"; .NET parses it as System.Version and accepts 1.4 <= v <= 2.1 ("2.1.0" is above 2.1 there). */
bool ch_protocol_js_accepts(const char *server_version);
bool ch_protocol_net_accepts(const char *server_version);
/* Whether /start follows the init message: from 1.4 on, i.e. for every protocol we support. */
bool ch_protocol_uses_start(const char *client_protocol);

/* ---------------------------------------------------------------- negotiate (section 2) */

/* Bits of ch_negotiate.present: which fields the body had. */
enum {
  CH_NEG_URL = 1u << 0,
  CH_NEG_CONNECTION_TOKEN = 1u << 1,
  CH_NEG_CONNECTION_ID = 1u << 2,
  CH_NEG_KEEP_ALIVE_TIMEOUT = 1u << 3,
  CH_NEG_DISCONNECT_TIMEOUT = 1u << 4,
  CH_NEG_CONNECTION_TIMEOUT = 1u << 5,
  CH_NEG_TRY_WEBSOCKETS = 1u << 6,
  CH_NEG_PROTOCOL_VERSION = 1u << 7,
  CH_NEG_TRANSPORT_CONNECT_TIMEOUT = 1u << 8,
  CH_NEG_LONG_POLL_DELAY = 1u << 9,
  CH_NEG_REDIRECT_URL = 1u << 10,
  CH_NEG_ACCESS_TOKEN = 1u << 11,
  CH_NEG_ERROR = 1u << 12,
  CH_NEG_WEBSOCKET_SERVER_URL = 1u << 13,
};

struct ch_negotiate {
  char *url;              /* "Url": the endpoint path, e.g. "/Centro/signalr" */
  char *connection_token; /* opaque; never log it */
  char *connection_id;
  char *protocol_version; /* e.g. "2.0" */
  double keep_alive_timeout; /* seconds; 0 when keep_alive_disabled */
  bool keep_alive_disabled;  /* KeepAliveTimeout was null */
  double disconnect_timeout;
  double connection_timeout;
  double transport_connect_timeout; /* default 5.0 when absent (see present) */
  double long_poll_delay;           /* seconds; default 0.0 when absent */
  bool try_websockets;
  char *redirect_url;         /* Azure SignalR only; NULL when absent */
  bool has_access_token;      /* the AccessToken value itself is not kept */
  char *error;                /* "Error" (Azure only); NULL when absent */
  char *websocket_server_url; /* NULL when absent */
  unsigned present;           /* CH_NEG_* bits */
};

/* Parses a negotiate response body. Required: Url (a path starting with '/', without '?', '#', spaces or
   controls), ConnectionToken (non-empty string), ConnectionId (string), KeepAliveTimeout (number > 0, or null =
   keep-alive disabled), DisconnectTimeout and ConnectionTimeout (numbers > 0), TryWebSockets (bool),
   ProtocolVersion (non-empty string). Optional, with defaults: TransportConnectTimeout (5.0), LongPollDelay (0.0)
   (numbers >= 0). Unknown fields are ignored; a repeated field: the last wins. A body with RedirectUrl or Error
   parses (the fields above are then optional) so the caller can report it.
   On failure returns -EBADMSG (or -ENOMEM), leaves *out zeroed, and appends to err (if not NULL) one short message
   such as "negotiate: body is not JSON (unexpected character at byte 0)", "negotiate: ConnectionToken missing",
   "negotiate: KeepAliveTimeout is a string, expected a number or null", "negotiate: HTML error page",
   "negotiate: availableTransports present (an ASP.NET Core server, not classic SignalR)". Messages name fields and
   JSON kinds only: never a value, so never the token. */
int ch_negotiate_parse(const char *body, size_t n, struct ch_negotiate *out, struct ch_buf *err);
void ch_negotiate_free(struct ch_negotiate *neg);

/* ---------------------------------------------------------------- receive channel (sections 3, 4) */

enum ch_recv_kind {
  CH_RECV_KEEPALIVE = 1,    /* `{}` (ws, sse) or a long-poll body of whitespace only */
  CH_RECV_PERSISTENT,       /* {C,S,T,G,L,E,M} */
  CH_RECV_HUB_RESPONSE,     /* top-level I: {I,R,E,H,D,T,S,P} */
};

/* One decoded frame. Spans point into the caller's input and are valid as long as it is. String fields are string
   tokens with their quotes (ch_json_str_*); absent fields are {NULL, 0}. */
struct ch_recv {
  enum ch_recv_kind kind;
  /* persistent response */
  struct ch_span c; /* cursor (opaque string), echo it as messageId */
  int s;            /* 1 on the init message, else 0 */
  int t;            /* 1 when the server is shutting down */
  struct ch_span g; /* new groups token (never log it) */
  int64_t l;        /* long-poll delay in ms; 0 when absent */
  bool has_l;
  struct ch_span m; /* the M array; iterate with ch_recv_msgs_begin/next */
  bool has_m;
  /* hub response (and E also for a persistent response: a global error, fatal for the clients) */
  struct ch_span i;  /* string or number token */
  struct ch_span r;  /* any value; absent for void */
  struct ch_span e;  /* error message (string token) */
  bool h;            /* "H":true: the error is a HubException */
  struct ch_span d;  /* HubException error data */
  struct ch_span st; /* "T" stack trace of a hub response */
  struct ch_span state; /* "S" caller state object of a hub response */
  struct ch_span progress; /* "P" of a hub response: {"I":"0","D":...} a progress update (JS checks P before I) */
  unsigned unknown;  /* count of members with keys not listed above (ignored, like the clients do) */
  bool m_lazy;       /* internal: from ch_recv_decode_lazy, M's elements not validated yet */
};

/* Classifies and decodes one WebSocket text frame, SSE event data or long-poll body. Leading and trailing whitespace
   is tolerated; with long_poll, a body of only whitespace (or nothing) is a keep-alive. Returns 0, or -EBADMSG with
   *reason set to a static text such as "receive: frame is not JSON", "receive: frame is not an object",
   "receive: C is not a string", "receive: M is not an array", "receive: S is not a number". Never allocates. */
int ch_recv_decode(const char *p, size_t n, bool long_poll, struct ch_recv *out, const char **reason);
/* The hot-path variant: the same results, except that when M is the frame's last member (as every SignalR server
   writes it, protocol section 3.1) its elements are validated by ch_recv_msgs_next, one pass per element that also
   picks out H, M, A and the members of the first argument (ch_hub_msg_arg_pointer then needs no walk). So a frame
   whose k-th element is malformed yields k-1 messages before ch_recv_msgs_next fails (-EBADMSG); the caller ends
   the connection there as it would on a failed decode. When members follow M after all, the iterator ends with
   it.more set: decode the frame again with ch_recv_decode for them (and for the validation of the rest). */
int ch_recv_decode_lazy(const char *p, size_t n, bool long_poll, struct ch_recv *out, const char **reason);

enum ch_msg_kind {
  CH_MSG_INVOCATION = 1, /* {H,M,A[,S]} a hub method invocation */
  CH_MSG_PROGRESS,       /* {"I":"P|0","P":{"I":"0","D":...}} (recognised by its P object, as JS does) */
  CH_MSG_OTHER,          /* any other JSON value (a PersistentConnection message): see raw */
};

/* Members of an invocation's first argument indexed by the lazy iterator (a Centro model has 12-14). */
#define CH_HUB_MSG_FIELDS 24

struct ch_hub_field {
  struct ch_span key;   /* string token, with quotes */
  struct ch_span value; /* validated JSON value */
};

/* One element of M. */
struct ch_hub_msg {
  enum ch_msg_kind kind;
  struct ch_span raw;    /* the whole element */
  struct ch_span hub;    /* H (string token) */
  struct ch_span method; /* M (string token) */
  struct ch_span args;   /* A (array) */
  struct ch_span state;  /* S (object), absent usually */
  struct ch_span progress_id;   /* P.I (string or number token) */
  struct ch_span progress_data; /* P.D (any value) */
  bool validated;               /* from a frame ch_recv_decode validated (lets ch_hub_msg_pointer skip a pass) */
  /* internal: the first argument and its members (CH_HUB_MSG_FIELDS at most), filled by the lazy iterator */
  bool arg0_known;    /* has_arg0 and arg0 are set */
  bool has_arg0;
  bool fields_all;    /* arg0 is an object and every member is in fields */
  uint8_t n_fields;
  uint32_t fields_esc; /* bit i: fields[i].key has escapes */
  struct ch_span arg0;
  struct ch_hub_field fields[CH_HUB_MSG_FIELDS]; /* keep last: not cleared per message */
};

struct ch_msg_iter {
  struct ch_json_iter it;
  bool lazy;         /* internal: validate each element on the way (ch_recv_decode_lazy) */
  bool more;         /* set at the end when members follow M (see ch_recv_decode_lazy) */
  const char *m_end; /* internal: where M ends if it is the last member */
};

/* Iterates the M array of a persistent response decoded by ch_recv_decode (an absent M iterates as empty). next
   returns 1 with a message, 0 at the end, -EBADMSG with *reason ("receive: H is not a string", "receive: A is not
   an array", "receive: invocation without H", ...) on a malformed element; the iterator has then moved past that
   element, so the caller may count it and go on. */
void ch_recv_msgs_begin(const struct ch_recv *r, struct ch_msg_iter *it);
int ch_recv_msgs_next(struct ch_msg_iter *it, struct ch_hub_msg *out, const char **reason);
/* True when m is an invocation of hub/method, both compared ASCII case-insensitively (method may be NULL = any). */
bool ch_hub_msg_is(const struct ch_hub_msg *m, const char *hub, const char *method);
/* JSON Pointer into the arguments array of an invocation: "/0/PartKey" is the PartKey of the first argument.
   Same results as ch_json_pointer(m->args, ...), without re-validating a frame ch_recv_decode already checked. */
int ch_hub_msg_pointer(const struct ch_hub_msg *m, const char *ptr, struct ch_span *value);
/* The first argument of an invocation: 1 (set), 0 when A is empty or m is no invocation. */
int ch_hub_msg_arg0(const struct ch_hub_msg *m, struct ch_span *arg);
/* JSON Pointer into the first argument: "/PartKey" gives the same as ch_hub_msg_pointer(m, "/0/PartKey"). From the
   lazy iterator the first token is looked up in the member index (no walk). Returns 1, 0 absent (also without a
   first argument), -EINVAL bad pointer, -EBADMSG. */
int ch_hub_msg_arg_pointer(const struct ch_hub_msg *m, const char *ptr, struct ch_span *value);

/* ---------------------------------------------------------------- encoders (sections 1.2, 3.3) */

/* Appends {"H":hub,"M":method,"A":args,"I":id}. args is an already serialised JSON array ("[]" when NULL); it is
   checked to be one JSON array (-EINVAL otherwise). id is written as a number (JS) or, with id_as_string, as a
   string (.NET form "I":"0"). state (NULL = none) is a serialised JSON object added as "S". */
int ch_encode_invocation(struct ch_buf *out, const char *hub, const char *method, const char *args, size_t args_n,
                         uint64_t id, bool id_as_string, const char *state);
/* Appends the connectionData JSON [{"name":"a"},{"name":"b"}] with names exactly as given (JS lower-cases them
   itself; we do not). pascal_key writes "Name" as the .NET client does. n may be 0 ("[]"). */
int ch_encode_connection_data(struct ch_buf *out, const char *const *hubs, size_t n, bool pascal_key);
/* Appends the /send form body: "data=" + URL-encoded json. */
int ch_encode_send_body(struct ch_buf *out, const char *json, size_t n);
/* Appends the long-poll form body "messageId=..[&groupsToken=..]" (each part omitted when NULL; values
   URL-encoded). */
int ch_encode_poll_body(struct ch_buf *out, const char *message_id, const char *groups_token);

/* ---------------------------------------------------------------- URLs (section 1.1, 1.2) */

enum ch_request {
  CH_REQ_NEGOTIATE = 0,
  CH_REQ_CONNECT,
  CH_REQ_RECONNECT,
  CH_REQ_POLL,
  CH_REQ_START,
  CH_REQ_SEND,
  CH_REQ_ABORT,
  CH_REQ_PING,
};

/* "negotiate", "connect", ... */
const char *ch_request_name(enum ch_request r);

/* Everything a request URL is built from. Raw values: this module URL-encodes them. NULL/negative = omitted. */
struct ch_url_params {
  const struct ch_url *base;      /* the target, e.g. http://host/Centro (required) */
  const char *endpoint;           /* appended to base->path for negotiate/start/send/abort/ping; NULL = "/signalr" */
  const char *negotiate_url;      /* the negotiate "Url" (already has the endpoint path, e.g. "/Centro/signalr"),
                                     used for connect/reconnect/poll; NULL = base->path + endpoint */
  enum ch_transport transport;
  const char *client_protocol;    /* NULL = CH_PROTOCOL_DEFAULT */
  const char *connection_token;   /* from negotiate */
  const char *connection_data;    /* the JSON array, e.g. [{"name":"resourceeventhub"}] */
  const char *cred_name;          /* query-string credential name, e.g. "access_token" (NULL = none) */
  const char *cred_value;         /* its value */
  const char *message_id;         /* reconnect/poll: last C (query for ws/sse; body for long polling) */
  const char *groups_token;       /* last G (query for ws/sse connect/reconnect; body for long polling) */
  bool lp_tokens_in_query;        /* long polling: put messageId/groupsToken in the query (.NET style) */
  int tid;                        /* ws/sse connect/reconnect "tid" (JS: 0-10); < 0 = omitted */
  uint64_t cache_buster;          /* "_" on negotiate/start/ping GETs (JS jQuery); 0 = omitted */
};

/* Appends the full URL for `req` to out, parameters in the JS 2.4.3 order:
     negotiate  {base}{ep}/negotiate?clientProtocol=P[&cred]&connectionData=D[&_=N]
     connect    {scheme}://host{Url}/connect?transport=T[&groupsToken=G]&clientProtocol=P[&cred]
                &connectionToken=K&connectionData=D[&tid=N]
     reconnect  .../reconnect?transport=T[&groupsToken=G][&messageId=C]&clientProtocol=...[&tid=N]
     poll       {Url}/poll?transport=longPolling&clientProtocol=P[&cred]&connectionToken=K&connectionData=D
     start      {base}{ep}/start?transport=T&clientProtocol=P[&cred]&connectionToken=K&connectionData=D[&_=N]
     send/abort {base}{ep}/send|abort?transport=T&clientProtocol=P[&cred]&connectionToken=K&connectionData=D
     ping       {base}{ep}/ping[?cred][&_=N]
   The scheme is ws/wss for webSockets connect/reconnect, http/https otherwise; the default port is omitted.
   Long polling leaves groupsToken/messageId (body) and tid out unless lp_tokens_in_query. Returns 0, -EINVAL
   (missing base, token for a request that needs it, poll on a non-long-polling transport) or -ENOMEM. */
int ch_url_build(struct ch_buf *out, enum ch_request req, const struct ch_url_params *p);

/* Copies a URL, query string, form body, header block or trace text to out with secret values replaced by
   "[redacted]": the values of the connectionToken, groupsToken, access_token and cred_name (if not NULL)
   parameters, and everything after the colon of an Authorization, Proxy-Authorization, Cookie or Set-Cookie header
   up to the end of its line (also inside curl-style "> " trace lines). Anything else is copied unchanged. */
int ch_redact(struct ch_buf *out, const char *s, size_t n, const char *cred_name);
/* Copies a JSON text with the string values of the members ConnectionToken, AccessToken, G, groupsToken,
   connectionToken, access_token, cred_name and the credential header names redacted (e.g. for a negotiate body or
   a frame kept as evidence). Non-JSON input is copied unchanged only when it mentions none of "token",
   "authorization", "G" or cred_name; otherwise it is replaced by "[redacted non-JSON body]". */
int ch_redact_json(struct ch_buf *out, const char *s, size_t n, const char *cred_name);

#endif /* CH_SIGNALR_H */
