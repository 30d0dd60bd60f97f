/* The SignalR endpoint on libwebsockets' server role: request validation (auth, transport, tokens), negotiate,
   start, send, ping, abort, and the three receive channels (WebSocket, SSE stream, held long poll), all written
   from the WRITEABLE callbacks so nothing ever blocks the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_clock.h"
#include "ch_srv.h"

static const char TXT_UNKNOWN_TRANSPORT[] = "Protocol error: Unknown transport.";
static const char TXT_MISSING_TOKEN[] = "Protocol error: Missing connection token.";
static const char TXT_BAD_TOKEN[] = "The ConnectionId is in the incorrect format.";
static const char TXT_USER_CHANGED[] =
    "Unrecognized user identity.  The user identity cannot change during an active SignalR connection.";
static const char TXT_NOT_WS[] = "Not a valid web socket request.";
static const char TXT_UNAVAILABLE[] = "Service Unavailable";
static const char CT_JSON[] = "application/json; charset=UTF-8";

enum pss_kind { P_IDLE, P_BODY, P_WS, P_SSE, P_LP };

struct pss {
  enum pss_kind kind;
  struct ch_srv_conn *conn;       /* the receive channel this wsi carries, if any */
  bool ending;                    /* replaced/aborted: write the last bytes and close */
  bool params_on;
  struct ch_srv_params params;
  struct ch_buf body;
  char *path;
  char *bearer;
  char final_cursor[48];
  bool chunked;                   /* SSE/LP body in HTTP/1.1 chunks, like IIS (no buffering, no length) */
  struct ch_buf wsrx;             /* WS message reassembly */
  const struct ch_server_token *tok;
};

size_t ch_srv_http_pss_size(void) { return sizeof(struct pss); }

/* A validated request. */
struct vreq {
  enum ch_srv_cmd cmd;
  enum ch_srv_transport tr;
  size_t endpoint_len;
  unsigned hubs;                  /* hubs the user may use (all when auth is off) */
  const struct ch_server_token *tok;
  char conn_id[37];
};

static void pss_release(struct pss *p) {
  if (p->params_on)
    ch_srv_params_free(&p->params);
  p->params_on = false;
  ch_buf_free(&p->body);
  ch_buf_free(&p->wsrx);
  free(p->path);
  p->path = NULL;
  free(p->bearer);
  p->bearer = NULL;
}

static struct ch_server *srv_of(struct lws *wsi) { return lws_context_user(lws_get_context(wsi)); }

/* Detaches the receive channel from its connection (the connection stays, for reconnects). */
static void detach(struct ch_server *s, struct pss *p, struct lws *wsi) {
  struct ch_srv_conn *c = p->conn;
  if (!c)
    return;
  p->conn = NULL;
  if (c->wsi == wsi) {
    c->wsi = NULL;
    c->tr = CH_SRV_TR_NONE;
    c->last_seen_ns = ch_now_ns();
    c->ka_pending = c->end_pending = c->init_pending = false;
    ch_buf_reset(&c->replies);
    c->replies_off = 0;
    if (c->remove_pending)
      ch_srv_conn_remove(s, c);
  }
}

void ch_srv_detach_pss(void *pss) {
  struct pss *p = pss;
  if (p)
    p->conn = NULL;
}

void ch_srv_end_receive(struct ch_server *s, struct ch_srv_conn *c) {
  if (!c->wsi)
    return;
  c->end_pending = true;
  ch_srv_conn_kick(s, c);
}

void ch_srv_conn_kick(struct ch_server *s, struct ch_srv_conn *c) {
  (void)s;
  if (c->wsi)
    lws_callback_on_writable(c->wsi);
}

/* ---- snapshots of the request ---- */

static int snapshot(struct pss *p, struct lws *wsi, const char *path) {
  pss_release(p);
  ch_srv_params_init(&p->params);
  p->params_on = true;
  p->path = strdup(path ? path : "");
  if (!p->path)
    return -ENOMEM;
  char frag[8192];
  for (int i = 0; i < CH_SRV_MAX_PARAMS; i++) {
    int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0)
      break;
    if (ch_srv_params_add_frag(&p->params, frag, (size_t)n))
      return -ENOMEM;
  }
  char auth[1024];
  int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n > 7 && strncasecmp(auth, "Bearer ", 7) == 0) {
    const char *t = auth + 7;
    while (*t == ' ')
      t++;
    p->bearer = strdup(t);
  }
  return 0;
}

static const struct ch_server_token *find_token(struct ch_server *s, const char *t) {
  if (!t)
    return NULL;
  for (size_t i = 0; i < s->n_tokens; i++)
    if (strcmp(s->tokens[i].token, t) == 0)
      return &s->tokens[i];
  return NULL;
}

/* Validates like PersistentConnection.ProcessRequest. On rejection returns the HTTP status and sets *text. */
static unsigned validate(struct ch_server *s, struct pss *p, bool upgrade, struct vreq *v, const char **text) {
  *text = "";
  memset(v, 0, sizeof *v);
  v->cmd = ch_srv_route(s->base, p->path, strlen(p->path), &v->endpoint_len);
  if (v->cmd == CH_SRV_CMD_NONE)
    return 404;
  if (ch_srv_param(&p->params, "callback", NULL))
    return 403; /* JSONP is disabled */
  size_t cdlen;
  const char *cd = ch_srv_param(&p->params, "connectionData", &cdlen);
  unsigned listed = 0;
  char bad[64];
  if (ch_srv_connection_data_parse(cd, cd ? cdlen : 0, &listed, bad, sizeof bad))
    return 500; /* unknown or duplicate hub, bad JSON: the exception escapes ProcessRequest */
  v->hubs = CH_HUB_ALL;
  if (s->n_tokens || s->n_login) {
    const char *t = p->bearer ? p->bearer : ch_srv_param(&p->params, "access_token", NULL);
    bool expired = false;
    v->tok = find_token(s, t);
    if (!v->tok)
      v->tok = ch_srv_login_token(s, t, &expired);
    bool swap = ch_srv_fault(s, CH_FAULT_AUTH_STATUS_SWAP);
    if (expired)
      return swap ? 403 : 401; /* a token presented after its lifetime is refused on every request */
    /* §6: only a request naming hubs is authorized (HubDispatcher.AuthorizeRequest); without connectionData it
       goes on as the anonymous user "" (the official client's /ping carries none). --strict-auth refuses it. */
    if (!v->tok && (listed || s->o.strict_auth))
      return swap ? 403 : 401;
    v->hubs = !v->tok ? 0 : v->tok->hubs ? v->tok->hubs : CH_HUB_ALL;
    if (listed && !(listed & v->hubs))
      return swap ? 401 : 403;
  }
  if (v->cmd == CH_SRV_CMD_NEGOTIATE || v->cmd == CH_SRV_CMD_PING || v->cmd == CH_SRV_CMD_HUBS)
    return 0;
  size_t n;
  const char *tr = ch_srv_param(&p->params, "transport", &n);
  v->tr = ch_srv_transport_parse(tr, tr ? n : 0);
  if (v->tr == CH_SRV_TR_NONE || (v->tr == CH_SRV_TR_WS && s->o.no_websockets)) {
    *text = TXT_UNKNOWN_TRANSPORT;
    return 400;
  }
  const char *ct = ch_srv_param(&p->params, "connectionToken", &n);
  if (!ct || !n) {
    *text = TXT_MISSING_TOKEN;
    return 400;
  }
  char *user = NULL;
  if (ch_srv_conn_token_parse(s->conn_key, ct, n, v->conn_id, &user)) {
    *text = TXT_BAD_TOKEN;
    return 400;
  }
  const char *me = v->tok ? v->tok->user : "";
  int same = strcasecmp(user, me) == 0;
  free(user);
  if (!same) {
    *text = TXT_USER_CHANGED;
    return 403;
  }
  if (v->cmd == CH_SRV_CMD_RECONNECT && ch_srv_fault(s, CH_FAULT_REFUSE_RECONNECT)) {
    *text = TXT_UNAVAILABLE;
    return 503;
  }
  bool receive = v->cmd == CH_SRV_CMD_CONNECT || v->cmd == CH_SRV_CMD_RECONNECT || v->cmd == CH_SRV_CMD_POLL ||
                 v->cmd == CH_SRV_CMD_OTHER;
  if (v->tr == CH_SRV_TR_WS && (v->cmd == CH_SRV_CMD_SEND || (receive && !upgrade))) {
    *text = TXT_NOT_WS;
    return 400;
  }
  if (upgrade && (v->tr != CH_SRV_TR_WS || !receive)) {
    *text = TXT_NOT_WS;
    return 400;
  }
  return 0;
}

/* ---- responses ---- */

static int finish(struct lws *wsi, struct pss *p) {
  pss_release(p);
  p->kind = P_IDLE;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int reply_and_finish(struct ch_server *s, struct lws *wsi, struct pss *p, unsigned status, const char *ctype,
                            const char *body, size_t len) {
  if (status >= 400)
    s->st.rejected++;
  if (ch_srv_reply(wsi, status, ctype, body, len))
    return -1;
  return finish(wsi, p);
}

static int negotiate(struct ch_server *s, struct lws *wsi, struct pss *p, const struct vreq *v) {
  struct ch_buf b = CH_BUF_INIT;
  int rc = ch_srv_negotiate_body(s, p->path, v->endpoint_len, v->tok ? v->tok->user : "",
                                 ch_srv_param(&p->params, "clientProtocol", NULL), &b);
  rc = rc ? -1 : reply_and_finish(s, wsi, p, 200, CT_JSON, b.data, b.len);
  ch_buf_free(&b);
  return rc;
}

static int send_hubs_js(struct ch_server *s, struct lws *wsi, struct pss *p, const struct vreq *v) {
  const char *js = ch_srv_proxy_js(), *at = strstr(js, "\"/signalr\"");
  struct ch_buf b = CH_BUF_INIT;
  ch_buf_append(&b, js, (size_t)(at - js) + 1);
  ch_buf_append(&b, p->path, v->endpoint_len);
  ch_buf_puts(&b, at + 9);
  int rc = b.data ? reply_and_finish(s, wsi, p, 200, "application/javascript; charset=UTF-8", b.data, b.len) : -1;
  ch_buf_free(&b);
  return rc;
}

/* ---- receive channels ---- */

static void cursor_of(struct ch_server *s, uint64_t seq, char *out, size_t cap) {
  ch_srv_cursor_format(out, cap, s->prefix, seq);
}

int ch_srv_build_response(struct ch_server *s, struct ch_srv_conn *c, bool init, size_t *n_msgs) {
  struct ch_buf *b = &s->scratch;
  ch_srv_conn_skip_lost(s, c);
  size_t pending = ch_srv_conn_pending(c), k = 0, bytes = 0;
  uint64_t from = c->sent_seq;
  while (k < pending && k < CH_SRV_BATCH_MAX && bytes < CH_SRV_BATCH_BYTES)
    bytes += ch_srv_conn_msg(c, from + ++k)->len + 1;
  char cur[48];
  cursor_of(s, from + k, cur, sizeof cur);
  /* close-after-updates: the channel that reaches the limit ends (T:1 tells a long-polling client to reconnect) */
  bool closing = false;
  if (ch_srv_fault(s, CH_FAULT_CLOSE_AFTER_UPDATES) && k) {
    c->chan_updates += (uint32_t)k;
    closing = c->chan_updates >= CH_SRV_FAULT_CLOSE_AFTER;
  }
  int rc = ch_buf_printf(b, "{\"C\":\"%s\"", cur);
  if (!rc && init && !ch_srv_fault(s, CH_FAULT_INIT_NO_S))
    rc = ch_buf_puts(b, ",\"S\":1");
  if (!rc && closing && c->tr == CH_SRV_TR_LP)
    rc = ch_buf_puts(b, ",\"T\":1");
  if (!rc && c->g_pending && c->gtoken) {
    rc = ch_buf_puts(b, ",\"G\":");
    if (!rc)
      rc = ch_srv_json_str(b, c->gtoken, strlen(c->gtoken));
  }
  if (!rc)
    rc = ch_buf_reserve(b, bytes + 16);
  if (rc)
    return rc;
  if (c->g_pending)
    c->g_cursor = from + k;
  c->g_pending = false;
  ch_buf_puts(b, ",\"M\":[");
  for (size_t i = 1; i <= k; i++) {
    struct ch_srv_msg *m = ch_srv_conn_msg(c, from + i);
    if (i > 1)
      b->data[b->len++] = ',';
    memcpy(b->data + b->len, m->data, m->len);
    b->len += m->len;
  }
  b->data[b->len] = 0;
  ch_buf_puts(b, "]}");
  c->sent_seq = from + k;
  if (closing && c->tr != CH_SRV_TR_LP)
    c->end_pending = true;
  *n_msgs = k;
  if (k) {
    s->st.deliveries += k;
    s->st.pushes++;
  }
  return 0;
}

static bool has_data(struct ch_srv_conn *c) {
  return c->init_pending || c->g_pending || ch_srv_conn_pending(c) > 0;
}

/* The payload starts at SCR_OFF: LWS_PRE for WebSocket framing, plus room for a chunk-size line. */
#define SCR_OFF (LWS_PRE + 16)

static void scratch_start(struct ch_server *s, const char *prefix) {
  ch_buf_reset(&s->scratch);
  ch_buf_reserve(&s->scratch, SCR_OFF + 256);
  memset(s->scratch.data, 0, SCR_OFF);
  s->scratch.len = SCR_OFF;
  ch_buf_puts(&s->scratch, prefix);
}

static int write_scratch(struct ch_server *s, struct lws *wsi, enum lws_write_protocol proto) {
  size_t n = s->scratch.len - SCR_OFF;
  int w = lws_write(wsi, (unsigned char *)s->scratch.data + SCR_OFF, n, proto);
  return w < (int)n ? -1 : 0;
}

/* Writes the scratch payload on an HTTP stream, as one chunk when chunked; `last` ends the body. */
static int write_stream(struct ch_server *s, struct lws *wsi, struct pss *p, bool last) {
  if (!p->chunked)
    return write_scratch(s, wsi, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
  size_t n = s->scratch.len - SCR_OFF;
  char head[16];
  int hl = snprintf(head, sizeof head, "%zx\r\n", n);
  if (ch_buf_puts(&s->scratch, last ? "\r\n0\r\n\r\n" : "\r\n"))
    return -1;
  unsigned char *start = (unsigned char *)s->scratch.data + SCR_OFF - hl;
  memcpy(start, head, (size_t)hl);
  size_t total = s->scratch.len - (SCR_OFF - (size_t)hl);
  if (!n && !last)
    return 0; /* an empty chunk would end the body */
  if (!n)
    start += hl + 2, total -= (size_t)hl + 2; /* only the terminating 0 chunk */
  int w = lws_write(wsi, start, total, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
  return w < (int)total ? -1 : 0;
}

static int ws_writeable(struct ch_server *s, struct lws *wsi, struct pss *p) {
  struct ch_srv_conn *c = p->conn;
  if (p->ending || !c || c->end_pending) {
    /* A 2.4 server ends with Close 1000 (§4.1). lws 4.1 drops the TCP connection without any Close frame when
       WRITEABLE returns -1 after lws_close_reason, so the frame is written here, through the opcode lws keeps
       private (LWS_WRITE_CLOSE, 4: "handled by lws_close_reason()" in lws-write.h). */
    unsigned char cl[LWS_PRE + 2] = {0};
    cl[LWS_PRE] = LWS_CLOSE_STATUS_NORMAL >> 8, cl[LWS_PRE + 1] = LWS_CLOSE_STATUS_NORMAL & 0xff;
    lws_write(wsi, cl + LWS_PRE, 2, (enum lws_write_protocol)4);
    return -1;
  }
  size_t nm;
  if (has_data(c)) {
    bool init = c->init_pending;
    c->init_pending = false;
    scratch_start(s, "");
    if (ch_srv_build_response(s, c, init, &nm) || write_scratch(s, wsi, LWS_WRITE_TEXT))
      return -1;
    /* a backlog: more whole frames while the kernel accepts them (never after lws had to buffer a partial) */
    for (int i = 1; i < CH_SRV_FLUSH_FRAMES && ch_srv_conn_pending(c) && !c->end_pending && !lws_partial_buffered(wsi);
         i++) {
      scratch_start(s, "");
      if (ch_srv_build_response(s, c, false, &nm) || write_scratch(s, wsi, LWS_WRITE_TEXT))
        return -1;
    }
  } else if (c->replies_off < c->replies.len) {
    const char *r = c->replies.data + c->replies_off;
    size_t n = strlen(r);
    scratch_start(s, "");
    ch_buf_append(&s->scratch, r, n);
    c->replies_off += n + 1;
    if (c->replies_off >= c->replies.len) {
      ch_buf_reset(&c->replies);
      c->replies_off = 0;
    }
    if (write_scratch(s, wsi, LWS_WRITE_TEXT))
      return -1;
  } else if (c->ka_pending) {
    c->ka_pending = false;
    s->st.keepalives++;
    scratch_start(s, "{}");
    if (write_scratch(s, wsi, LWS_WRITE_TEXT))
      return -1;
  } else {
    return 0;
  }
  if (has_data(c) || c->replies_off < c->replies.len || c->ka_pending || c->end_pending)
    lws_callback_on_writable(wsi);
  return 0;
}

void ch_srv_conn_flush(struct ch_server *s, struct ch_srv_conn *c) {
  if (!c->wsi)
    return;
  struct pss *p = lws_wsi_user(c->wsi);
  if (c->tr != CH_SRV_TR_WS || !p || p->kind != P_WS || p->ending || c->init_pending || c->end_pending ||
      c->replies_off < c->replies.len || lws_partial_buffered(c->wsi)) {
    ch_srv_conn_kick(s, c);
    return;
  }
  size_t nm;
  /* several frames while the kernel takes them whole; once lws had to buffer, the rest waits for WRITEABLE */
  for (int i = 0; i < CH_SRV_FLUSH_FRAMES && has_data(c) && !c->end_pending && !lws_partial_buffered(c->wsi); i++) {
    scratch_start(s, "");
    if (ch_srv_build_response(s, c, false, &nm) || write_scratch(s, c->wsi, LWS_WRITE_TEXT)) {
      c->end_pending = true; /* the WRITEABLE callback closes it */
      ch_srv_conn_kick(s, c);
      return;
    }
  }
  if (has_data(c) || c->ka_pending || c->end_pending)
    ch_srv_conn_kick(s, c);
}

static int sse_writeable(struct ch_server *s, struct lws *wsi, struct pss *p) {
  struct ch_srv_conn *c = p->conn;
  if (p->ending || !c || c->end_pending)
    return -1;
  size_t nm;
  if (has_data(c)) {
    bool init = c->init_pending;
    c->init_pending = false;
    scratch_start(s, "data: ");
    if (ch_srv_build_response(s, c, init, &nm) || ch_buf_puts(&s->scratch, "\r\n\r\n") ||
        write_stream(s, wsi, p, false))
      return -1;
  } else if (c->ka_pending) {
    c->ka_pending = false;
    s->st.keepalives++;
    scratch_start(s, "data: {}\n\n");
    if (write_stream(s, wsi, p, false))
      return -1;
  } else {
    return 0;
  }
  if (has_data(c) || c->ka_pending || c->end_pending)
    lws_callback_on_writable(wsi);
  return 0;
}

static int lp_writeable(struct ch_server *s, struct lws *wsi, struct pss *p) {
  struct ch_srv_conn *c = p->conn;
  size_t nm;
  if (p->ending || !c) {
    /* replaced by a newer request or aborted: answer with an empty response at the last cursor */
    scratch_start(s, "");
    ch_buf_printf(&s->scratch, "{\"C\":\"%s\",\"M\":[]}", p->final_cursor);
    if (write_stream(s, wsi, p, true))
      return -1;
    return finish(wsi, p);
  }
  bool timed_out = ch_now_ns() >= c->rx_deadline_ns;
  if (has_data(c) || c->end_pending || timed_out) {
    bool init = c->init_pending;
    c->init_pending = false;
    scratch_start(s, "");
    if (ch_srv_build_response(s, c, init, &nm) || write_stream(s, wsi, p, true))
      return -1;
    detach(s, p, wsi);
    return finish(wsi, p);
  }
  if (c->ka_pending) {
    c->ka_pending = false;
    s->st.keepalives++;
    scratch_start(s, " ");
    if (write_stream(s, wsi, p, false))
      return -1;
  }
  return 0;
}

/* Writes streaming response headers: chunked for HTTP/1.1 (the connection stays usable afterwards), else no length
   and the connection closes after the response. */
static int stream_headers(struct lws *wsi, const char *ctype, bool chunked) {
  unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *q = start, *end = buf + sizeof buf - 1;
  if (chunked) {
    if (lws_add_http_header_status(wsi, 200, &q, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)ctype,
                                     (int)strlen(ctype), &q, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, (const unsigned char *)"chunked", 7, &q,
                                     end))
      return -1;
  } else if (lws_add_http_common_headers(wsi, 200, ctype, LWS_ILLEGAL_HTTP_CONTENT_LEN, &q, end)) {
    return -1;
  }
  if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                  (const unsigned char *)"nosniff", 7, &q, end) ||
      lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-cache",
                                  8, &q, end) ||
      lws_finalize_write_http_header(wsi, start, &q, end))
    return -1;
  return 0;
}

/* Attaches a receive request (connect/reconnect/poll) to its connection, ending any older channel. */
static struct ch_srv_conn *attach(struct ch_server *s, struct lws *wsi, struct pss *p, const struct vreq *v) {
  struct ch_srv_conn *c = ch_srv_conn_get(s, v->conn_id, v->tok ? v->tok->user : "");
  if (!c)
    return NULL;
  c->hubs = v->hubs;
  c->remove_pending = false;
  if (c->wsi && c->wsi != wsi) {
    struct lws *old = c->wsi;
    struct pss *op = lws_wsi_user(old);
    if (op) {
      op->ending = true;
      cursor_of(s, c->sent_seq, op->final_cursor, sizeof op->final_cursor);
      op->conn = NULL;
    }
    c->wsi = NULL;
    lws_callback_on_writable(old);
  }
  size_t n;
  const char *gt = ch_srv_param(&p->params, "groupsToken", &n);
  const char *mid = ch_srv_param(&p->params, "messageId", NULL);
  uint64_t seq = 0;
  bool have_seq = mid && ch_srv_cursor_parse(s->prefix, mid, strlen(mid), &seq) == 0 && seq <= c->head_seq;
  /* A real server rebuilds groups from the token and then replays the group changes made after the client's
     cursor (none without a cursor). We keep no log of group changes, so: a token other than our latest one,
     presented with a cursor by a client that cannot have received our latest one yet (still unsent, or sent in a
     response after its cursor), is stale, and the connection keeps the groups it has; the latest G goes out again.
     This is the poll that races a /send (or the first poll after a subscribe, which has no token at all). */
  bool stale = c->gtoken && have_seq && (!gt || n != strlen(c->gtoken) || memcmp(gt, c->gtoken, n)) &&
               (c->g_pending || seq < c->g_cursor);
  if (v->cmd == CH_SRV_CMD_CONNECT) {
    if (gt && !stale)
      ch_srv_conn_restore_groups(s, c, gt, n);
    c->init_pending = true;
    c->sent_seq = c->head_seq;
  } else {
    if (!stale)
      ch_srv_conn_restore_groups(s, c, gt, gt ? n : 0);
    if (have_seq && !ch_srv_fault(s, CH_FAULT_NO_REPLAY))
      c->sent_seq = seq;
    else
      c->sent_seq = c->head_seq; /* a foreign or bad cursor: deliver from now */
  }
  if (stale)
    c->g_pending = true;
  else if (gt)
    c->g_pending = false;
  c->tr = v->tr;
  c->wsi = wsi;
  c->ka_pending = c->end_pending = false;
  c->chan_updates = 0;
  c->rx_deadline_ns = ch_now_ns() + s->conn_timeout_ns;
  c->last_seen_ns = ch_now_ns();
  p->conn = c;
  p->tok = v->tok;
  return c;
}

static int receive(struct ch_server *s, struct lws *wsi, struct pss *p, const struct vreq *v) {
  if (!attach(s, wsi, p, v))
    return reply_and_finish(s, wsi, p, 500, NULL, "", 0);
  const char *ctype = v->tr == CH_SRV_TR_SSE ? "text/event-stream" : CT_JSON;
  p->kind = v->tr == CH_SRV_TR_SSE ? P_SSE : P_LP;
  char ver[16] = "";
  p->chunked = lws_hdr_copy(wsi, ver, sizeof ver, WSI_TOKEN_HTTP) > 7 && ver[5] == '1' && ver[7] == '1';
  if (stream_headers(wsi, ctype, p->chunked))
    return -1;
  if (v->tr == CH_SRV_TR_SSE) {
    scratch_start(s, "data: initialized\n\n");
    if (write_stream(s, wsi, p, false))
      return -1;
  }
  /* keep the held response alive: no header-table idle timeout, no pending timeout */
  pss_release(p);
  lws_http_headers_detach(wsi);
  lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
  lws_callback_on_writable(wsi);
  return 0;
}

/* ---- request dispatch ---- */

static int handle(struct ch_server *s, struct lws *wsi, struct pss *p) {
  struct vreq v;
  const char *text;
  if (ch_srv_login_route(s, p->path)) {
    struct ch_buf out = CH_BUF_INIT;
    unsigned st = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) ? ch_srv_login(s, p->body.data, p->body.len, &out)
                                                                 : 405;
    int rc = out.data || st == 405 ? reply_and_finish(s, wsi, p, st, CT_JSON, out.data ? out.data : "", out.len) : -1;
    if (out.data)
      memset(out.data, 0, out.len); /* the token */
    ch_buf_free(&out);
    return rc;
  }
  if (p->body.len)
    ch_srv_params_parse_form(&p->params, p->body.data, p->body.len); /* query first, then the form */
  unsigned st = validate(s, p, false, &v, &text);
  if (st)
    return reply_and_finish(s, wsi, p, st, NULL, text, strlen(text));
  switch (v.cmd) {
  case CH_SRV_CMD_NEGOTIATE:
    return negotiate(s, wsi, p, &v);
  case CH_SRV_CMD_PING: {
    static const char pong[] = "{ \"Response\": \"pong\" }"; /* 22 bytes; the fault sends its NUL too */
    return reply_and_finish(s, wsi, p, 200, CT_JSON, pong, sizeof pong - !ch_srv_fault(s, CH_FAULT_PING_NUL));
  }
  case CH_SRV_CMD_HUBS:
    return send_hubs_js(s, wsi, p, &v);
  case CH_SRV_CMD_START: {
    struct ch_srv_conn *c = ch_srv_conn_get(s, v.conn_id, v.tok ? v.tok->user : "");
    if (c) {
      c->started = true;
      c->hubs = v.hubs;
    }
    if (ch_srv_fault(s, CH_FAULT_START_BAD_RESPONSE))
      return reply_and_finish(s, wsi, p, 200, CT_JSON, "{\"Response\":\"ok\"}", 17);
    static const char started[] = "{ \"Response\": \"started\" }";
    return reply_and_finish(s, wsi, p, 200, CT_JSON, started, sizeof started - 1);
  }
  case CH_SRV_CMD_SEND: {
    size_t n;
    const char *data = ch_srv_param(&p->params, "data", &n);
    struct ch_srv_conn *c = ch_srv_conn_get(s, v.conn_id, v.tok ? v.tok->user : "");
    struct ch_buf out = CH_BUF_INIT;
    int rc;
    if (c)
      c->hubs = v.hubs;
    if (!c || !data || ch_srv_invoke(s, c, v.tok, data, n, &out) || !out.data)
      rc = reply_and_finish(s, wsi, p, 500, NULL, "", 0);
    else
      rc = reply_and_finish(s, wsi, p, 200, CT_JSON, out.data, out.len);
    ch_buf_free(&out);
    return rc;
  }
  case CH_SRV_CMD_ABORT: {
    struct ch_srv_conn *c = ch_srv_conn_find(s, v.conn_id);
    if (c) {
      if (c->wsi) {
        c->remove_pending = true; /* OnDisconnected(stopCalled: true) once the receive channel ended */
        ch_srv_end_receive(s, c);
      } else {
        ch_srv_conn_remove(s, c);
      }
    }
    return reply_and_finish(s, wsi, p, 200, "text/plain", "", 0);
  }
  default:
    return receive(s, wsi, p, &v);
  }
}

static int ws_receive(struct ch_server *s, struct lws *wsi, struct pss *p, const void *in, size_t len) {
  if (lws_frame_is_binary(wsi))
    return -1; /* the server has no binary handler: the socket is dropped */
  if (p->wsrx.len + len > CH_SRV_MAX_WS_MESSAGE)
    return -1;
  if (ch_buf_append(&p->wsrx, in, len))
    return -1;
  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
    return 0;
  struct ch_srv_conn *c = p->conn;
  if (c) {
    size_t before = c->replies.len;
    /* a malformed invocation is only logged by a real server: no response frame */
    if (ch_srv_invoke(s, c, p->tok, p->wsrx.data, p->wsrx.len, &c->replies) == 0) {
      if (ch_buf_putc(&c->replies, 0))
        return -1;
      lws_callback_on_writable(wsi);
    } else {
      c->replies.len = before;
    }
  }
  ch_buf_reset(&p->wsrx);
  return 0;
}

static int ws_established(struct ch_server *s, struct lws *wsi, struct pss *p) {
  char path[1024];
  struct vreq v;
  const char *text;
  if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 || snapshot(p, wsi, path))
    return -1;
  unsigned st = validate(s, p, true, &v, &text);
  if (st || !attach(s, wsi, p, &v)) {
    pss_release(p);
    return -1;
  }
  pss_release(p);
  p->kind = P_WS;
  lws_callback_on_writable(wsi);
  return 0;
}

int ch_srv_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  struct pss *p = user;
  struct ch_server *s;
  if (reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION) /* user: the X509_STORE_CTX */
    return ch_srv_tls_verify(srv_of(wsi), user, (int)len);
  if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) { /* user: the vhost's SSL_CTX */
    ch_srv_tls_ctx_setup(srv_of(wsi), user);
    return 0;
  }
  if (wsi && lws_get_opaque_user_data(wsi))
    return ch_srv_control_callback(wsi, reason, user, in, len); /* a socket accepted on the control port */
  switch (reason) {
  case LWS_CALLBACK_HTTP: {
    s = srv_of(wsi);
    if (snapshot(p, wsi, in))
      return -1;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) {
      p->kind = P_BODY; /* answered at BODY_COMPLETION */
      return 0;
    }
    return handle(s, wsi, p);
  }
  case LWS_CALLBACK_HTTP_BODY:
    if (p->kind == P_BODY && len) {
      if (p->body.len + len > 1024 * 1024)
        return -1;
      if (ch_buf_append(&p->body, in, len))
        return -1;
    }
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (p->kind != P_BODY)
      return 0;
    p->kind = P_IDLE;
    return handle(srv_of(wsi), wsi, p);
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
    s = srv_of(wsi);
    char path[1024];
    struct vreq v;
    const char *text;
    struct pss tmp; /* no session memory exists yet at this point */
    memset(&tmp, 0, sizeof tmp);
    if (!in || strcasecmp(in, "websocket") != 0)
      return -1;
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 || snapshot(&tmp, wsi, path)) {
      pss_release(&tmp);
      return -1;
    }
    unsigned st = validate(s, &tmp, true, &v, &text);
    pss_release(&tmp);
    if (!st)
      return 0;
    s->st.rejected++;
    return ch_srv_reply(wsi, st, NULL, text, strlen(text)) ? -1 : 1;
  }
  case LWS_CALLBACK_ESTABLISHED:
    return ws_established(srv_of(wsi), wsi, p);
  case LWS_CALLBACK_RECEIVE:
    return ws_receive(srv_of(wsi), wsi, p, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return ws_writeable(srv_of(wsi), wsi, p);
  case LWS_CALLBACK_HTTP_WRITEABLE:
    s = srv_of(wsi);
    if (p->kind == P_SSE)
      return sse_writeable(s, wsi, p);
    if (p->kind == P_LP)
      return lp_writeable(s, wsi, p);
    return 0;
  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
  case LWS_CALLBACK_WSI_DESTROY:
    if (p) {
      detach(srv_of(wsi), p, wsi);
      pss_release(p);
      p->kind = P_IDLE;
    }
    return 0;
  default:
    return 0;
  }
}
