/* ch_ws: the webSockets transport on the worker's lws context (libuv foreign loop). See ch_transport.h.
   Memory per connection is kept small (shared/notes/lws-libuv-curl.md): a small lws rx buffer, no validity timers,
   a message is copied only when it arrives in several fragments, and outgoing bytes pass through one per-worker
   scratch buffer. */
#include <errno.h>
#include <libwebsockets.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_transport.h"
#include "ch_worker.h"
#include "ch_ws_conn.h"

#define WS_PROTOCOL_NAME "ch-signalr"

struct ch_ws {
  struct ch_channel base;
  struct lws *wsi;
  struct ch_buf conn;   /* path and Host header, alive while connecting (lws reads them during the handshake) */
  const char *auth;     /* borrowed from the client for the upgrade header */
  const char *const *auth_slot; /* when set, the client's current value (a refreshed token) */
  struct ch_buf rx;     /* a message arriving in several fragments */
  bool in_msg;          /* rx holds the first fragments of a message */
  struct ch_buf txq;    /* queued outgoing messages: [uint32 length][bytes]... */
  size_t txq_off;
  bool opened, closing, kill, in_cb, opening;
  enum ch_failure_category fail;
  char why[160];
};

static void ws_set_fail(struct ch_ws *t, enum ch_failure_category cat, const char *fmt, const char *arg) {
  if (t->fail != CH_FAIL_NONE)
    return;
  t->fail = cat;
  snprintf(t->why, sizeof t->why, fmt, arg ? arg : "");
}

/* Drops the connection's buffers and flags (not the recorded failure). */
static void ws_reset(struct ch_ws *t) {
  ch_buf_free(&t->conn);
  ch_buf_free(&t->rx);
  ch_buf_free(&t->txq);
  t->txq_off = 0;
  t->in_msg = t->opened = t->closing = t->kill = false;
}

static int ws_write_next(struct ch_ws *t, struct lws *wsi) {
  if (t->txq_off >= t->txq.len)
    return 0;
  uint32_t n;
  memcpy(&n, t->txq.data + t->txq_off, sizeof n);
  struct ch_buf *s = &t->base.worker->tx_scratch;
  ch_buf_reset(s);
  if (ch_buf_reserve(s, LWS_PRE + n) != 0)
    return -1;
  memcpy(s->data + LWS_PRE, t->txq.data + t->txq_off + sizeof n, n);
  if (lws_write(wsi, (unsigned char *)s->data + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
    return -1;
  t->txq_off += sizeof n + n;
  if (t->txq_off >= t->txq.len) {
    ch_buf_reset(&t->txq);
    t->txq_off = 0;
    if (t->txq.cap > 4096)
      ch_buf_free(&t->txq);
  } else {
    lws_callback_on_writable(wsi);
  }
  return 0;
}

static int ws_deliver(struct ch_ws *t, const char *p, size_t n) {
  t->in_cb = true;
  t->base.ev->message(t->base.owner, p, n, ch_now_ns());
  t->in_cb = false;
  return t->kill ? -1 : 0;
}

static int ws_receive(struct ch_ws *t, struct lws *wsi, const char *in, size_t len) {
  size_t max = t->base.worker->eng->opts.max_message_bytes;
  if (lws_frame_is_binary(wsi)) {
    ws_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: binary frame received%s", NULL);
    return -1;
  }
  bool complete = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
  if (!t->in_msg && complete) {
    if (len > max) {
      ws_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: message larger than limit%s", NULL);
      return -1;
    }
    return ws_deliver(t, in, len);
  }
  if (t->rx.len + len > max) {
    ws_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: message larger than limit%s", NULL);
    return -1;
  }
  if (ch_buf_append(&t->rx, in, len) != 0) {
    ws_set_fail(t, CH_FAIL_LOCAL, "ws: out of memory%s", NULL);
    return -1;
  }
  t->in_msg = true;
  if (!complete)
    return 0;
  t->in_msg = false;
  int rc = ws_deliver(t, t->rx.data, t->rx.len);
  ch_buf_reset(&t->rx);
  if (t->rx.cap > 16384)
    ch_buf_free(&t->rx); /* do not keep a large message's buffer for the connection's life */
  return rc;
}

int ch__wsraw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  struct ch_ws *t = wsi ? lws_get_opaque_user_data(wsi) : NULL;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    if (t && (t->auth_slot ? *t->auth_slot : t->auth)) {
      const char *auth = t->auth_slot ? *t->auth_slot : t->auth;
      unsigned char **p = in, *end = *p + len;
      if (lws_add_http_header_by_name(wsi, (const unsigned char *)"authorization:", (const unsigned char *)auth,
                                      (int)strlen(auth), p, end))
        return -1;
    }
    return 0;
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    if (!t)
      return -1;
    t->opened = true;
    ch_buf_free(&t->conn);
    t->in_cb = true;
    t->base.ev->opened(t->base.owner);
    t->in_cb = false;
    if (t->kill)
      return -1;
    if (t->txq.len || t->closing)
      lws_callback_on_writable(wsi);
    return 0;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (!t || t->kill)
      return -1;
    return ws_receive(t, wsi, in, len);
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (!t || t->kill)
      return -1;
    if (t->closing) {
      lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
      return -1;
    }
    return ws_write_next(t, wsi);
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    if (t) {
      int status = (int)lws_http_client_http_response(wsi);
      if (status > 0 && status != 101) {
        char num[16];
        snprintf(num, sizeof num, "%d", status);
        ws_set_fail(t, CH_FAIL_CONNECT, "connect: HTTP %s answered the WebSocket upgrade", num);
      } else {
        char msg[120];
        ch__ws_connect_error(msg, sizeof msg, in, len);
        ws_set_fail(t, CH_FAIL_CONNECT, "%s", msg);
      }
    }
    return 0;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (t && !t->closing && len >= 2) {
      const unsigned char *b = in;
      char num[16];
      snprintf(num, sizeof num, "%u", (unsigned)(b[0] << 8 | b[1]));
      ws_set_fail(t, CH_FAIL_CONNECTION_LOST, "ws: server closed the connection (code %s)", num);
    }
    return 0;
  case LWS_CALLBACK_CLIENT_CLOSED:
    if (t && !t->closing)
      ws_set_fail(t, CH_FAIL_CONNECTION_LOST, "ws: connection closed by the server%s", NULL);
    return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    if (t && ch__ws_unbind(wsi, &t->wsi, t->opening)) {
      bool was_open = t->opened, requested = t->closing && !t->kill;
      ws_reset(t);
      ch__ws_report_closed(&t->base, &t->fail, t->why, was_open, requested);
    }
    return 0;
  default:
    return 0;
  }
}

/* Both protocols' callback: a wsi's opaque user data is a transport object whose ops say which implementation owns
   it (lws may deliver the last callbacks of a raw wsi to the first protocol of the vhost). */
int ch__ws_dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
    /* --insecure: lws 4.1.6's flags waive only self-signed and expired certificates, so an unknown issuer is waived
       here the lws way (error cleared, 0). Otherwise 0 leaves OpenSSL's verdict in force. */
    const struct ch_worker *w = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
    if (w && w->eng->opts.insecure && user)
      X509_STORE_CTX_set_error(user, X509_V_OK);
    return 0;
  }
  const struct ch_channel *b = wsi ? lws_get_opaque_user_data(wsi) : NULL;
  if (b && b->ops == &ch_wsraw_transport_ops)
    return ch__wsraw_callback(wsi, reason, user, in, len);
  if (b && b->ops != &ch_ws_transport_ops)
    return 0;
  if (!b && reason == LWS_CALLBACK_RAW_RX)
    return -1;
  return ws_callback(wsi, reason, user, in, len);
}

int ch__ws_protocols_new(struct ch_engine *e) {
  struct lws_protocols *p = calloc(3, sizeof *p);
  if (!p)
    return -ENOMEM;
  p[0].name = WS_PROTOCOL_NAME;
  p[0].callback = ch__ws_dispatch;
  p[0].rx_buffer_size = e->opts.ws_rx_buffer;
  ch__wsraw_protocol_fill(&p[1]);
  e->protocols = p;
  return 0;
}

int ch__ws_worker_init(struct ch_worker *w, struct ch_buf *err) {
  const struct ch_engine *e = w->eng;
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  /* lws 4.1.6 keeps the OpenSSL ex_data index that tags its client SSL_CTX in a process-wide variable that every
     TLS-enabled context overwrites, so all but the last context leak their client SSL_CTX at destroy. lws's TLS is
     therefore set up only when wss goes through lws's client (ws_lws_framing, or an http_proxy); otherwise wss runs
     on ch_tls_conn and lws carries plain sockets only. */
  bool lws_tls = e->opts.tls && (e->opts.ws_lws_framing || e->wss_via_proxy);
  info.options = LWS_SERVER_OPTION_LIBUV | (lws_tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
  w->foreign_loops[0] = &w->loop;
  info.foreign_loops = w->foreign_loops;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = e->protocols;
  info.pcontext = &w->lws;
  info.user = w;
  info.gid = -1;
  info.uid = -1;
  info.fd_limit_per_thread = e->opts.max_fds;
  info.max_http_header_data = 2048; /* only during the handshake */
  info.pt_serv_buf_size = 65536;    /* per thread: raw WebSocket reads land here; a whole batched frame (17.5 KB at 50 Updates) in one read */
  info.timeout_secs = 30;
  info.connect_timeout_secs = 30;
  info.client_ssl_ca_filepath = e->ca_file;
  info.client_ssl_cert_filepath = e->cert_file; /* wss through a proxy (lws's client) presents it too */
  info.client_ssl_private_key_filepath = e->key_file ? e->key_file : e->cert_file;
  w->lws = lws_create_context(&info);
  if (!w->lws) {
    ch_buf_puts(err, "libwebsockets context creation failed (is libwebsockets-evlib-uv installed?)");
    return -EIO;
  }
  return 0;
}

void ch__ws_worker_destroy_begin(struct ch_worker *w) {
  if (w->lws)
    lws_context_destroy(w->lws); /* first call: starts closing every wsi and lws's own uv handles */
}

void ch__ws_worker_destroy_end(struct ch_worker *w) {
  /* On a foreign loop lws 4.1.6 never finishes the destroy by itself: the second call, once the loop drained, frees
     the context (and sets w->lws to NULL through pcontext). */
  if (w->lws)
    lws_context_destroy(w->lws);
  w->lws = NULL;
}

/* ---------------------------------------------------------------- ops */

static int ws_create(struct ch_worker *w, const struct ch_transport_events *ev, void *owner,
                     struct ch_channel **out) {
  struct ch_ws *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  ch__channel_init(&t->base, &ch_ws_transport_ops, w, ev, owner);
  *out = &t->base;
  return 0;
}

static int ws_open(struct ch_channel *base, const struct ch_transport_open *o) {
  struct ch_ws *t = (struct ch_ws *)base;
  struct ch_worker *w = base->worker;
  if (t->wsi)
    return -EALREADY;
  if (!w->lws || w->stopping)
    return -ESHUTDOWN;
  size_t plen = strlen(o->path);
  ch_buf_reset(&t->conn);
  if (ch_buf_append(&t->conn, o->path, plen + 1) != 0 || ch_buf_puts(&t->conn, o->host_header) != 0) {
    ch_buf_free(&t->conn);
    return -ENOMEM;
  }
  struct lws_client_connect_info ci;
  ch__ws_connect_info(&ci, w, o, WS_PROTOCOL_NAME, t, &t->wsi);
  ci.path = t->conn.data;
  ci.host = t->conn.data + plen + 1;
  ci.ssl_connection |= LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
  ci.protocol = NULL; /* SignalR negotiates no subprotocol */
  t->auth = o->auth_header;
  t->auth_slot = o->auth_slot;
  t->fail = CH_FAIL_NONE;
  t->why[0] = '\0';
  t->opened = t->closing = t->kill = false;
  int rc = ch__ws_connect(&ci, &t->opening);
  if (rc)
    ch_buf_free(&t->conn);
  return rc;
}

static int ws_send(struct ch_channel *base, const char *p, size_t n) {
  struct ch_ws *t = (struct ch_ws *)base;
  if (!t->wsi || !t->opened || t->closing || t->kill)
    return -ENOTCONN;
  if (n > UINT32_MAX)
    return -EMSGSIZE;
  uint32_t len = (uint32_t)n;
  size_t old = t->txq.len;
  if (ch_buf_append(&t->txq, &len, sizeof len) != 0 || ch_buf_append(&t->txq, p, n) != 0) {
    t->txq.len = old;
    return -ENOMEM;
  }
  lws_callback_on_writable(t->wsi);
  return 0;
}

static void ws_close(struct ch_channel *base, bool abrupt) {
  struct ch_ws *t = (struct ch_ws *)base;
  if (!t->wsi)
    return;
  t->closing = true;
  if (abrupt || !t->opened) {
    t->kill = true;
    if (!t->in_cb)
      ch__ws_kill(base->worker, t->wsi);
  } else {
    lws_callback_on_writable(t->wsi);
  }
}

static bool ws_is_open(const struct ch_channel *base) { return ((const struct ch_ws *)base)->wsi != NULL; }

static void ws_detach(struct ch_channel *base) {
  struct ch_ws *t = (struct ch_ws *)base;
  ch__ws_detach(base->worker, &t->wsi);
  ws_reset(t);
}

const struct ch_transport_ops ch_ws_transport_ops = {
    .name = "webSockets",
    .create = ws_create,
    .open = ws_open,
    .send = ws_send,
    .close = ws_close,
    .is_open = ws_is_open,
    .detach = ws_detach,
    .destroy = ch__channel_destroy,
};
