/* ch_wsraw: the webSockets transport with our own RFC 6455 client framing over an lws "RAW" connection. lws still
   owns the socket, TLS and the loop integration; we write the upgrade request, check the 101 answer and parse
   frames straight out of lws's per-thread read buffer. Why: lws 4.1's client frame parser runs a state machine per
   byte (about 12 ns/byte here, 55% of the CPU when receiving), which caps a worker well below 500k messages/s; this
   parser works per frame and hands complete text frames to the client without copying.
   Memory per connection: no lws rx buffer (raw reads use the per-thread buffer); ours are allocated only while a
   frame or the handshake answer is incomplete. */
#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_clock.h"
#include "ch_excerpt.h"
#include "ch_sha1.h"
#include "ch_tls_conn.h"
#include "ch_transport.h"
#include "ch_worker.h"
#include "ch_ws_conn.h"

#define WSR_MAX_HEADERS 8192
#define WSR_BODY_EXCERPT 96 /* body bytes of a refused upgrade that make its reason */
#define CH_WSRAW_PROTOCOL_NAME "ch-signalr-raw"

int ch__ws_dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

enum wsr_phase { WSR_IDLE = 0, WSR_CONNECTING, WSR_HANDSHAKE, WSR_OPEN };

struct ch_wsr {
  struct ch_channel base;
  struct lws *wsi;          /* ws:// (an lws raw socket) */
  struct ch_tls_conn *tc;   /* wss:// (ch_tls_conn.c); at most one of the two is set */
  enum wsr_phase phase;
  struct ch_buf req;   /* the upgrade request until written */
  char accept[32];     /* the Sec-WebSocket-Accept we expect */
  struct ch_buf in;    /* bytes not yet consumed: a partial answer head or frame */
  struct ch_buf frag;  /* a fragmented message being assembled */
  bool in_frag;
  struct ch_buf txq;   /* framed, masked outgoing bytes */
  bool closing, kill, in_cb, opening, close_sent;
  uint64_t rng;
  enum ch_failure_category fail;
  char why[160];
};

/* xorshift64*: masking keys and the handshake nonce need to vary, not to be secret. */
static uint64_t wsr_rand(struct ch_wsr *t) {
  t->rng ^= t->rng >> 12;
  t->rng ^= t->rng << 25;
  t->rng ^= t->rng >> 27;
  return t->rng * 0x2545F4914F6CDD1Dull;
}

static void wsr_set_fail(struct ch_wsr *t, enum ch_failure_category cat, const char *msg) {
  if (t->fail != CH_FAIL_NONE)
    return;
  t->fail = cat;
  snprintf(t->why, sizeof t->why, "%s", msg);
}

/* The connection calls back when it can take bytes (RAW_WRITEABLE, or the TLS connection's writable event). */
static void wsr_want_write(struct ch_wsr *t) {
  if (t->tc)
    ch__tlsc_want_write(t->tc);
  else if (t->wsi)
    lws_callback_on_writable(t->wsi);
}

/* Appends one masked client frame. */
static int wsr_frame(struct ch_wsr *t, int opcode, const char *p, size_t n) {
  unsigned char h[14];
  size_t hl = 2;
  h[0] = (unsigned char)(0x80 | opcode);
  if (n < 126) {
    h[1] = (unsigned char)(0x80 | n);
  } else if (n < 65536) {
    h[1] = 0x80 | 126, h[2] = (unsigned char)(n >> 8), h[3] = (unsigned char)n, hl = 4;
  } else {
    h[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
      h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    hl = 10;
  }
  uint32_t m = (uint32_t)wsr_rand(t);
  unsigned char mask[4] = {(unsigned char)m, (unsigned char)(m >> 8), (unsigned char)(m >> 16),
                           (unsigned char)(m >> 24)};
  memcpy(h + hl, mask, 4);
  hl += 4;
  size_t old = t->txq.len;
  if (ch_buf_reserve(&t->txq, hl + n) != 0)
    return -ENOMEM;
  memcpy(t->txq.data + old, h, hl);
  unsigned char *dst = (unsigned char *)t->txq.data + old + hl;
  for (size_t i = 0; i < n; i++)
    dst[i] = (unsigned char)p[i] ^ mask[i & 3];
  t->txq.len = old + hl + n;
  t->txq.data[t->txq.len] = '\0';
  return 0;
}

static int wsr_deliver(struct ch_wsr *t, const char *p, size_t n) {
  t->in_cb = true;
  t->base.ev->message(t->base.owner, p, n, ch_now_ns());
  t->in_cb = false;
  return t->kill ? -1 : 0;
}

/* The Content-Length of the head p..end (end: its blank line), or `dflt` when it has none. */
static size_t wsr_content_length(const char *p, const char *end, size_t dflt) {
  for (const char *l = memchr(p, '\n', (size_t)(end - p)); l && l < end; l = memchr(l + 1, '\n', (size_t)(end - l))) {
    const char *h = l + 1;
    if ((size_t)(end - h) > 15 && !strncasecmp(h, "Content-Length:", 15)) {
      size_t v = 0;
      for (h += 15; h < end && (*h == ' ' || *h == '\t'); h++)
        ;
      for (; h < end && *h >= '0' && *h <= '9' && v < ((size_t)1 << 40); h++)
        v = v * 10 + (size_t)(*h - '0');
      return v;
    }
  }
  return dflt;
}

/* A refused upgrade: the reason names the status and the start of the body as received. Returns 0 while the body
   may still bring more of the excerpt (the reason so far stands if the server closes), else -1. */
static long wsr_refused(struct ch_wsr *t, int status, const char *p, size_t n, const char *end) {
  const char *body = end + 4;
  size_t have = n - (size_t)(body - p);
  size_t want = wsr_content_length(p, end, WSR_BODY_EXCERPT);
  if (want > WSR_BODY_EXCERPT)
    want = WSR_BODY_EXCERPT;
  /* set directly, not first-wins: a later read replaces the reason this function gave with a longer excerpt */
  t->fail = CH_FAIL_CONNECT;
  int k = snprintf(t->why, sizeof t->why, "connect: HTTP %d answered the WebSocket upgrade", status);
  char ex[WSR_BODY_EXCERPT + 1];
  if (ch_excerpt(ex, sizeof ex, body, have < want ? have : want) && k > 0 && (size_t)k < sizeof t->why)
    snprintf(t->why + k, sizeof t->why - (size_t)k, ": %s", ex);
  return have < want && n <= WSR_MAX_HEADERS ? 0 : -1;
}

/* Parses the 101 answer at the start of `p`. Returns bytes consumed (>0), 0 when incomplete, -1 on failure. */
static long wsr_handshake(struct ch_wsr *t, const char *p, size_t n) {
  const char *end = memmem(p, n, "\r\n\r\n", 4);
  if (!end) {
    if (n > WSR_MAX_HEADERS) {
      wsr_set_fail(t, CH_FAIL_CONNECT, "connect: WebSocket upgrade answer headers too large");
      return -1;
    }
    return 0;
  }
  /* the status by hand: p is lws's read buffer, not a C string (sscanf would read past it) */
  const char *sp = p + 9;
  if (n < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || sp[0] < '0' || sp[0] > '9' || sp[1] < '0' ||
      sp[1] > '9' || sp[2] < '0' || sp[2] > '9') {
    wsr_set_fail(t, CH_FAIL_CONNECT, "connect: the WebSocket upgrade answer is not HTTP");
    return -1;
  }
  int status = (sp[0] - '0') * 100 + (sp[1] - '0') * 10 + (sp[2] - '0');
  if (status != 101)
    return wsr_refused(t, status, p, n, end);
  /* Sec-WebSocket-Accept must prove the server understood our key (RFC 6455 4.1). */
  bool ok = false;
  for (const char *l = memchr(p, '\n', (size_t)(end - p)); l && l < end; l = memchr(l + 1, '\n', (size_t)(end - l))) {
    const char *h = l + 1;
    if ((size_t)(end - h) > 21 && !strncasecmp(h, "Sec-WebSocket-Accept:", 21)) {
      const char *v = h + 21;
      while (*v == ' ' || *v == '\t')
        v++;
      size_t al = strlen(t->accept);
      ok = (size_t)(end - v) >= al && !memcmp(v, t->accept, al) && (v[al] == '\r' || v[al] == ' ');
      break;
    }
  }
  if (!ok) {
    wsr_set_fail(t, CH_FAIL_CONNECT, "connect: missing or wrong Sec-WebSocket-Accept in the upgrade answer");
    return -1;
  }
  return (long)(end + 4 - p);
}

/* Consumes complete frames from p; returns bytes consumed or -1 (close). */
static long wsr_frames(struct ch_wsr *t, const char *p, size_t n) {
  size_t max = t->base.worker->eng->opts.max_message_bytes;
  size_t off = 0;
  while (n - off >= 2) {
    const unsigned char *h = (const unsigned char *)p + off;
    int fin = h[0] & 0x80, op = h[0] & 0x0f;
    if (h[0] & 0x70) {
      wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: frame with reserved bits set");
      return -1;
    }
    if (h[1] & 0x80) {
      wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: masked frame from the server");
      return -1;
    }
    uint64_t len = h[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
      if (n - off < 4)
        break;
      len = (uint64_t)h[2] << 8 | h[3];
      hl = 4;
      if (len < 126)
        goto not_minimal;
    } else if (len == 127) {
      if (n - off < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = len << 8 | h[2 + i];
      hl = 10;
      if (len >> 63) { /* RFC 6455 5.2: the most significant bit MUST be 0 */
        wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: frame length with its most significant bit set");
        return -1;
      }
      if (len < 65536)
        goto not_minimal;
    }
    if (op == 2) {
      wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: binary frame received");
      return -1;
    }
    if (op == 0 && !t->in_frag) {
      wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: continuation frame without a message");
      return -1;
    }
    if (op >= 8 && (len > 125 || !fin)) {
      wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: invalid control frame");
      return -1;
    }
    /* frag.len <= max always (checked when appended): the subtraction cannot wrap, a sum could */
    if ((op == 1 || op == 0) && len > max - (t->in_frag ? t->frag.len : 0)) {
      wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: message larger than limit");
      return -1;
    }
    if (n - off - hl < len) {
      if ((op > 2 && op < 8) || op > 10) { /* refused now: its length must not decide what we buffer */
        wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: unknown opcode");
        return -1;
      }
      break; /* incomplete: wait for more */
    }
    const char *pl = p + off + hl;
    off += hl + (size_t)len;
    switch (op) {
    case 1:
    case 0:
      if (op == 1 && t->in_frag) {
        wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: new message inside a fragmented one");
        return -1;
      }
      if (t->closing)
        break; /* nobody listens any more */
      if (fin && !t->in_frag) {
        if (wsr_deliver(t, pl, (size_t)len))
          return -1;
        break;
      }
      if (ch_buf_append(&t->frag, pl, (size_t)len) != 0) {
        wsr_set_fail(t, CH_FAIL_LOCAL, "ws: out of memory");
        return -1;
      }
      t->in_frag = true;
      if (fin) {
        t->in_frag = false;
        int rc = wsr_deliver(t, t->frag.data, t->frag.len);
        ch_buf_free(&t->frag);
        if (rc)
          return -1;
      }
      break;
    case 8:
      if (t->close_sent) /* the answer to our close: done */
        return -1;
      /* the server closes: answer (RFC 6455 5.5.1), then end once the answer is written */
      if (!t->closing) {
        char msg[64];
        if (len >= 2)
          snprintf(msg, sizeof msg, "ws: server closed the connection (code %u)",
                   (unsigned)((unsigned char)pl[0] << 8 | (unsigned char)pl[1]));
        else
          snprintf(msg, sizeof msg, "ws: server closed the connection");
        wsr_set_fail(t, CH_FAIL_CONNECTION_LOST, msg);
      }
      wsr_frame(t, 8, pl, len >= 2 ? 2 : 0);
      t->close_sent = t->closing = true;
      wsr_want_write(t);
      return (long)n; /* nothing may follow a close (RFC 6455 5.5.1): the rest of the read is dropped, not kept */
    case 9: /* ping: pong with the same payload */
      if (wsr_frame(t, 10, pl, (size_t)len) == 0)
        wsr_want_write(t);
      break;
    case 10:
      break;
    default:
      wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: unknown opcode");
      return -1;
    }
    if (t->kill)
      return -1;
  }
  return (long)off;
not_minimal: /* RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length" */
  wsr_set_fail(t, CH_FAIL_WS_PROTOCOL, "ws: frame length not in its shortest form");
  return -1;
}

/* Size of the frame whose first `have` bytes are at h: header plus payload; 0 while its header is incomplete. */
static uint64_t wsr_frame_size(const unsigned char *h, size_t have) {
  if (have < 2)
    return 0;
  uint64_t len = h[1] & 0x7f;
  size_t hl = len == 126 ? 4 : len == 127 ? 10 : 2;
  if (have < hl)
    return 0;
  if (len == 126) {
    len = (uint64_t)h[2] << 8 | h[3];
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | h[2 + i];
  }
  return len > UINT64_MAX - hl ? UINT64_MAX : len + hl;
}

/* A frame split across reads is pending in t->in: appends only the bytes it lacks (so one read never gets copied
   whole) and handles it. Returns how much of p it used, or -1 (close). *done is false while it is incomplete; with
   *fallback the caller buffers everything as before (a frame whose size is not known to be within the limit). */
static long wsr_complete_pending(struct ch_wsr *t, const char *p, size_t n, bool *done, bool *fallback) {
  size_t used = 0;
  *done = *fallback = false;
  for (;;) {
    uint64_t total = wsr_frame_size((const unsigned char *)t->in.data, t->in.len);
    size_t want;
    if (total && t->in.len >= total)
      break; /* complete: a frame without payload, whose header just came whole */
    if (!total) { /* the header first: at most 10 bytes */
      want = t->in.len < 2 ? 2 - t->in.len : 10 - t->in.len;
      if (want > n - used)
        want = n - used;
      if (t->in.len >= 2) {
        unsigned char l7 = (unsigned char)t->in.data[1] & 0x7f;
        size_t hl = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
        want = hl - t->in.len < n - used ? hl - t->in.len : n - used;
      }
    } else {
      /* A payload beyond what the message may still take is refused by wsr_frames at once (an oversized data or
         control frame): it must not be buffered first. frag.len <= max always, so the room cannot wrap. */
      unsigned char l7 = (unsigned char)t->in.data[1] & 0x7f;
      uint64_t hl = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
      size_t max = t->base.worker->eng->opts.max_message_bytes;
      if (total - hl > max - (t->in_frag ? t->frag.len : 0)) {
        *fallback = true;
        return (long)used;
      }
      want = (size_t)total - t->in.len;
      if (want > n - used)
        want = n - used;
      if (ch_buf_reserve(&t->in, (size_t)total - t->in.len) != 0) {
        wsr_set_fail(t, CH_FAIL_LOCAL, "ws: out of memory");
        return -1;
      }
    }
    if (want && ch_buf_append(&t->in, p + used, want) != 0) {
      wsr_set_fail(t, CH_FAIL_LOCAL, "ws: out of memory");
      return -1;
    }
    used += want;
    if (total && t->in.len == total)
      break;
    if (used == n) {
      total = wsr_frame_size((const unsigned char *)t->in.data, t->in.len);
      if (!total || t->in.len < total)
        return (long)used; /* still incomplete: wait for the next read */
      break;               /* the read ended with the header of a frame without payload */
    }
  }
  long c = wsr_frames(t, t->in.data, t->in.len);
  if (c < 0)
    return -1;
  if ((size_t)c != t->in.len) { /* cannot happen for a complete frame; keep the old way if it does */
    *fallback = true;
    return (long)used;
  }
  /* keep the storage: the read's tail usually starts the next split frame (wsr_rx frees it if there is none) */
  ch_buf_reset(&t->in);
  *done = true;
  return (long)used;
}

/* Keeps an incomplete tail; when its size is known the buffer is allocated once at that size. */
static int wsr_keep_tail(struct ch_wsr *t, const char *p, size_t n) {
  uint64_t total = wsr_frame_size((const unsigned char *)p, n);
  if (total > n && total <= (uint64_t)t->base.worker->eng->opts.max_message_bytes + 14 &&
      ch_buf_reserve(&t->in, (size_t)total) != 0) {
    wsr_set_fail(t, CH_FAIL_LOCAL, "ws: out of memory");
    return -1;
  }
  if (ch_buf_append(&t->in, p, n) != 0) {
    wsr_set_fail(t, CH_FAIL_LOCAL, "ws: out of memory");
    return -1;
  }
  return 0;
}

static int wsr_rx(struct ch_wsr *t, const char *p, size_t n) {
  if (t->in.len && t->phase == WSR_OPEN && !t->close_sent) {
    bool done, fallback;
    long used = wsr_complete_pending(t, p, n, &done, &fallback);
    if (used < 0)
      return -1;
    p += used;
    n -= (size_t)used;
    if (!done && !fallback)
      return 0;
    if (!n) {
      if (!t->in.len)
        ch_buf_free(&t->in); /* ended on a frame boundary: an idle connection holds no buffer */
      return 0;
    }
    /* after a close (the server's, or ours from the message callback) the rest is parsed as closing: its
       frames are skipped, the close answer ends the connection, an incomplete frame is kept within the limit */
  }
  /* Fast path: nothing pending, parse in place in lws's buffer; keep only an incomplete tail. */
  const char *buf = p;
  size_t len = n;
  if (t->in.len) {
    if (ch_buf_append(&t->in, p, n) != 0) {
      wsr_set_fail(t, CH_FAIL_LOCAL, "ws: out of memory");
      return -1;
    }
    buf = t->in.data;
    len = t->in.len;
  }
  size_t off = 0;
  if (t->phase == WSR_HANDSHAKE) {
    long c = wsr_handshake(t, buf, len);
    if (c < 0)
      return -1;
    if (c > 0) {
      off = (size_t)c;
      t->phase = WSR_OPEN;
      t->in_cb = true;
      t->base.ev->opened(t->base.owner);
      t->in_cb = false;
      if (t->kill)
        return -1;
      if (t->txq.len || t->closing)
        wsr_want_write(t);
    }
  }
  if (t->phase == WSR_OPEN && off < len) {
    /* also while closing: the server's answer to our close frame ends the connection at once */
    long c = wsr_frames(t, buf + off, len - off);
    if (c < 0)
      return -1;
    off += (size_t)c;
  } else if (t->closing) {
    off = len;
  }
  if (buf == t->in.data) {
    /* the tail stays; an emptied buffer is released (idle connections hold none) */
    if (off == len) {
      ch_buf_free(&t->in);
    } else if (off) {
      memmove(t->in.data, t->in.data + off, len - off);
      t->in.len = len - off;
    }
  } else if (off < len) {
    return wsr_keep_tail(t, buf + off, len - off);
  } else if (t->in.data && !t->in.len) {
    ch_buf_free(&t->in); /* ended on a frame boundary: an idle connection holds no buffer */
  }
  return 0;
}

static int wsr_write(struct ch_wsr *t, struct lws *wsi, struct ch_buf *b) {
  if (!b->len)
    return 0;
  if (t->tc) { /* the TLS connection keeps what the socket does not take */
    if (ch__tlsc_write(t->tc, b->data, b->len) != 0)
      return -1;
    ch_buf_reset(b);
    if (b->cap > 4096)
      ch_buf_free(b);
    return 0;
  }
  struct ch_buf *s = &t->base.worker->tx_scratch;
  ch_buf_reset(s);
  if (ch_buf_reserve(s, LWS_PRE + b->len) != 0)
    return -1;
  memcpy(s->data + LWS_PRE, b->data, b->len);
  /* lws keeps whatever the socket does not take and sends it before anything else */
  if (lws_write(wsi, (unsigned char *)s->data + LWS_PRE, b->len, LWS_WRITE_RAW) < 0)
    return -1;
  ch_buf_reset(b);
  if (b->cap > 4096)
    ch_buf_free(b);
  return 0;
}

/* Drops the connection's buffers and flags (not the recorded failure). */
static void wsr_reset(struct ch_wsr *t) {
  ch_buf_free(&t->req);
  ch_buf_free(&t->in);
  ch_buf_free(&t->frag);
  ch_buf_free(&t->txq);
  t->phase = WSR_IDLE;
  t->in_frag = t->closing = t->kill = t->close_sent = false;
}

/* The connection can take bytes: the upgrade request first, then queued frames. -1 closes. */
static int wsr_writeable(struct ch_wsr *t, struct lws *wsi) {
  if (t->kill)
    return -1;
  if (t->req.len) {
    int rc = wsr_write(t, wsi, &t->req);
    ch_buf_free(&t->req);
    return rc;
  }
  if (t->phase == WSR_OPEN && wsr_write(t, wsi, &t->txq) != 0)
    return -1;
  if (t->closing && t->close_sent && t->fail != CH_FAIL_NONE && !t->txq.len)
    return -1; /* we answered the server's close */
  return 0;
}

/* The connection ended (lws: RAW_CLOSE; TLS: closed): a close nobody asked for is the server's. */
static void wsr_peer_closed(struct ch_wsr *t) {
  if (!t->closing)
    wsr_set_fail(t, t->phase == WSR_OPEN ? CH_FAIL_CONNECTION_LOST : CH_FAIL_CONNECT,
                 t->phase == WSR_OPEN ? "ws: connection closed by the server"
                                      : "connect: connection closed during the WebSocket upgrade");
}

static void wsr_destroyed(struct ch_wsr *t) {
  bool was_open = t->phase == WSR_OPEN, requested = t->closing && !t->kill;
  wsr_reset(t);
  ch__ws_report_closed(&t->base, &t->fail, t->why, was_open, requested);
}

/* ---------------------------------------------------------------- wss:// over ch_tls_conn */

static int wsr_tls_connected(void *owner, enum ch_tls_resume how, uint64_t handshake_ns) {
  struct ch_wsr *t = owner;
  if (t->base.ev->tls)
    t->base.ev->tls(t->base.owner, how, handshake_ns);
  t->phase = WSR_HANDSHAKE;
  return wsr_writeable(t, NULL); /* the upgrade request */
}

static int wsr_tls_rx(void *owner, const char *p, size_t n) {
  struct ch_wsr *t = owner;
  return t->kill ? -1 : wsr_rx(t, p, n);
}

static int wsr_tls_writable(void *owner) { return wsr_writeable(owner, NULL); }

static void wsr_tls_closed(void *owner, bool was_connected, const char *why) {
  struct ch_wsr *t = owner;
  t->tc = NULL;
  /* a TLS or socket failure before the upgrade is a connect failure with its own words ("TLS certificate verify
     failed: ..."); once the upgrade is under way the end is the server's */
  if (why && *why && !t->closing && (!was_connected || t->phase == WSR_OPEN))
    wsr_set_fail(t, t->phase == WSR_OPEN ? CH_FAIL_CONNECTION_LOST : CH_FAIL_CONNECT, why);
  else if (why)
    wsr_peer_closed(t);
  wsr_destroyed(t);
}

static const struct ch_tls_conn_events wsr_tls_events = {
    .connected = wsr_tls_connected, .rx = wsr_tls_rx, .writable = wsr_tls_writable, .closed = wsr_tls_closed};

/* Called through ch_ws.c's dispatcher: lws may deliver a wsi's last callbacks (WSI_DESTROY) to the vhost's first
   protocol rather than the one the wsi was bound to. */
int ch__wsraw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  struct ch_wsr *t = wsi ? lws_get_opaque_user_data(wsi) : NULL;
  switch (reason) {
  case LWS_CALLBACK_RAW_CONNECTED:
    if (!t)
      return -1;
    t->phase = WSR_HANDSHAKE;
    lws_callback_on_writable(wsi);
    return 0;
  case LWS_CALLBACK_RAW_WRITEABLE:
    return t ? wsr_writeable(t, wsi) : -1;
  case LWS_CALLBACK_RAW_RX:
    if (!t || t->kill)
      return -1;
    return wsr_rx(t, in, len);
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    if (t) {
      char msg[120];
      ch__ws_connect_error(msg, sizeof msg, in, len);
      wsr_set_fail(t, CH_FAIL_CONNECT, msg);
    }
    return 0;
  case LWS_CALLBACK_RAW_CLOSE:
    if (t)
      wsr_peer_closed(t);
    return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    if (t && ch__ws_unbind(wsi, &t->wsi, t->opening))
      wsr_destroyed(t);
    return 0;
  default:
    return 0;
  }
}

void ch__wsraw_protocol_fill(struct lws_protocols *p) {
  p->name = CH_WSRAW_PROTOCOL_NAME;
  p->callback = ch__ws_dispatch;
  p->rx_buffer_size = 0; /* raw reads land in lws's per-thread buffer */
}

/* ---------------------------------------------------------------- ops */

static int wsr_create(struct ch_worker *w, const struct ch_transport_events *ev, void *owner,
                      struct ch_channel **out) {
  struct ch_wsr *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  ch__channel_init(&t->base, &ch_wsraw_transport_ops, w, ev, owner);
  t->rng = ch_now_ns() ^ (uint64_t)(uintptr_t)t ^ 0x9E3779B97F4A7C15ull;
  if (!t->rng)
    t->rng = 1;
  *out = &t->base;
  return 0;
}

static int wsr_open(struct ch_channel *base, const struct ch_transport_open *o) {
  struct ch_wsr *t = (struct ch_wsr *)base;
  struct ch_worker *w = base->worker;
  if (t->wsi || t->tc)
    return -EALREADY;
  if (!w->lws || w->stopping)
    return -ESHUTDOWN;
  unsigned char nonce[16];
  uint64_t r1 = wsr_rand(t), r2 = wsr_rand(t);
  memcpy(nonce, &r1, 8);
  memcpy(nonce + 8, &r2, 8);
  char key[32];
  lws_b64_encode_string((const char *)nonce, 16, key, sizeof key);
  char cat[96];
  int cl = snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  unsigned char dig[20];
  ch_sha1(cat, (size_t)cl, dig);
  lws_b64_encode_string((const char *)dig, 20, t->accept, sizeof t->accept);
  ch_buf_reset(&t->req);
  int rc = ch_buf_printf(&t->req,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: centro-harness/" CH_VERSION
                         "\r\n",
                         o->path, o->host_header, key);
  if (!rc && o->auth_header)
    rc = ch_buf_printf(&t->req, "Authorization: %s\r\n", o->auth_header);
  if (!rc)
    rc = ch_buf_puts(&t->req, "\r\n");
  if (rc) {
    ch_buf_free(&t->req);
    return -ENOMEM;
  }
  t->fail = CH_FAIL_NONE;
  t->why[0] = '\0';
  t->phase = WSR_CONNECTING;
  t->closing = t->kill = t->close_sent = t->in_frag = false;
  if (o->tls) {
    char why[160];
    rc = ch__tlsc_open(w, o->host, o->port, o->source_addr, &wsr_tls_events, t, &t->tc, why, sizeof why);
  } else {
    struct lws_client_connect_info ci;
    ch__ws_connect_info(&ci, w, o, CH_WSRAW_PROTOCOL_NAME, t, &t->wsi);
    ci.path = "/";
    ci.host = o->host_header;
    ci.method = "RAW";
    rc = ch__ws_connect(&ci, &t->opening);
  }
  if (rc) {
    t->phase = WSR_IDLE;
    ch_buf_free(&t->req);
  }
  return rc;
}

static int wsr_send(struct ch_channel *base, const char *p, size_t n) {
  struct ch_wsr *t = (struct ch_wsr *)base;
  if ((!t->wsi && !t->tc) || t->phase != WSR_OPEN || t->closing || t->kill)
    return -ENOTCONN;
  int rc = wsr_frame(t, 1, p, n);
  if (rc)
    return rc;
  wsr_want_write(t);
  return 0;
}

static void wsr_close(struct ch_channel *base, bool abrupt) {
  struct ch_wsr *t = (struct ch_wsr *)base;
  if (!t->wsi && !t->tc)
    return;
  if (abrupt || t->phase != WSR_OPEN) {
    t->closing = true;
    t->kill = true;
    if (!t->in_cb && t->tc)
      ch__tlsc_close(t->tc);
    else if (!t->in_cb)
      ch__ws_kill(base->worker, t->wsi);
    return;
  }
  if (t->closing)
    return;
  /* close frame 1000, then wait (bounded) for the server's close and its end of the socket */
  t->closing = true;
  static const char normal[2] = {0x03, (char)0xE8};
  if (!t->close_sent && wsr_frame(t, 8, normal, 2) == 0)
    t->close_sent = true;
  wsr_want_write(t);
  if (t->tc)
    ch__tlsc_close_within(t->tc, 3000);
  else
    lws_set_timeout(t->wsi, PENDING_TIMEOUT_CLOSE_ACK, 3);
}

static bool wsr_is_open(const struct ch_channel *base) {
  const struct ch_wsr *t = (const struct ch_wsr *)base;
  return t->wsi || t->tc;
}

static void wsr_detach(struct ch_channel *base) {
  struct ch_wsr *t = (struct ch_wsr *)base;
  ch__tlsc_detach(t->tc);
  t->tc = NULL;
  ch__ws_detach(base->worker, &t->wsi);
  wsr_reset(t);
}

const struct ch_transport_ops ch_wsraw_transport_ops = {
    .name = "webSockets",
    .create = wsr_create,
    .open = wsr_open,
    .send = wsr_send,
    .close = wsr_close,
    .is_open = wsr_is_open,
    .detach = wsr_detach,
    .destroy = ch__channel_destroy,
};
