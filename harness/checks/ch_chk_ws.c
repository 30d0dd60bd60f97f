/* A small blocking RFC 6455 client for probes: curl opens the TCP (or TLS) connection in CONNECT_ONLY mode, this
   file writes the upgrade and the frames itself, so the checks see every byte and every status. Text frames only;
   pings are answered; fragmented messages are reassembled. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"
#include "ch_excerpt.h"
#include "ch_interrupt.h"

static long left_ms(uint64_t deadline) {
  uint64_t now = ch_now_ns();
  return now >= deadline ? 0 : (long)((deadline - now) / 1000000u) + 1;
}

static int send_all(struct ch_ws *ws, const void *p, size_t n, uint64_t deadline) {
  const char *c = p;
  while (n) {
    size_t sent = 0;
    CURLcode cc = curl_easy_send(ws->easy, c, n, &sent);
    if (cc == CURLE_AGAIN) {
      struct pollfd pfd = {ws->fd, POLLOUT, 0};
      long ms = left_ms(deadline);
      if (ms == 0 || poll(&pfd, 1, (int)ms) <= 0)
        return -ETIMEDOUT;
      continue;
    }
    if (cc != CURLE_OK)
      return -EPIPE;
    c += sent;
    n -= sent;
  }
  return 0;
}

/* Reads what is available into ws->rx, waiting until deadline. 1 read, 0 timeout, -EPIPE closed. */
static int fill(struct ch_ws *ws, uint64_t deadline) {
  for (;;) {
    char tmp[16384];
    size_t got = 0;
    CURLcode cc = curl_easy_recv(ws->easy, tmp, sizeof tmp, &got);
    if (cc == CURLE_OK) {
      if (got == 0)
        return -EPIPE;
      return ch_buf_append(&ws->rx, tmp, got) == 0 ? 1 : -ENOMEM;
    }
    if (cc != CURLE_AGAIN)
      return -EPIPE;
    struct pollfd pfd = {ws->fd, POLLIN, 0};
    long ms = left_ms(deadline);
    if (ms == 0)
      return 0;
    if (ch_interrupt_poll(ws->intr) >= 2)
      return -EPIPE; /* recorded incomplete, not failed (ch_chk_result) */
    int pr = poll(&pfd, 1, (int)(ms < 100 ? ms : 100));
    if (pr == 0)
      continue;
    if (pr < 0 && errno != EINTR)
      return -EPIPE;
  }
}

static void consume(struct ch_buf *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

int ch_ws_open(struct ch_ws *ws, struct ch_chk_ctx *cx, const char *client, const char *url, const char *extra_hdr,
               long timeout_ms) {
  memset(ws, 0, sizeof *ws);
  ws->fd = CURL_SOCKET_BAD;
  ws->intr = cx->opts ? cx->opts->intr : NULL;
  uint64_t deadline = ch_now_ns() + (uint64_t)timeout_ms * 1000000u;
  const char *hp = strstr(url, "://");
  if (!hp)
    return -EINVAL;
  hp += 3;
  const char *path = strchr(hp, '/');
  if (!path)
    return -EINVAL;
  ws->easy = curl_easy_init();
  if (!ws->easy)
    return -ENOMEM;
  curl_easy_setopt(ws->easy, CURLOPT_URL, url);
  curl_easy_setopt(ws->easy, CURLOPT_CONNECT_ONLY, 1L);
  ch_chk_curl_common(cx, ws->easy);
  curl_easy_setopt(ws->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  CURLcode cc = curl_easy_perform(ws->easy);
  if (cc != CURLE_OK) {
    ch_chk_tx(cx, client, "in", "ws", curl_easy_strerror(cc), strlen(curl_easy_strerror(cc)));
    return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
  }
  curl_easy_getinfo(ws->easy, CURLINFO_ACTIVESOCKET, &ws->fd);
  uint8_t key[16];
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)ch_rng_next(&cx->rng);
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char k64[25];
  int o = 0;
  for (int i = 0; i < 15; i += 3) {
    uint32_t v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
    k64[o++] = b64[v >> 18 & 63], k64[o++] = b64[v >> 12 & 63], k64[o++] = b64[v >> 6 & 63], k64[o++] = b64[v & 63];
  }
  uint32_t v = (uint32_t)key[15] << 16;
  k64[o++] = b64[v >> 18 & 63], k64[o++] = b64[v >> 12 & 63], k64[o++] = '=', k64[o++] = '=';
  k64[o] = '\0';
  size_t hostlen = (size_t)(path - hp);
  struct ch_buf req = CH_BUF_INIT;
  ch_buf_printf(&req,
                "GET %s HTTP/1.1\r\nHost: %.*s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: centro-harness-check/" CH_VERSION
                "\r\n%s%s\r\n",
                path, (int)hostlen, hp, k64, extra_hdr ? extra_hdr : "", extra_hdr ? "\r\n" : "");
  ch_chk_tx(cx, client, "out", "ws", req.data, req.len);
  int rc = send_all(ws, req.data, req.len, deadline);
  ch_buf_free(&req);
  if (rc)
    return rc;
  char *end = NULL;
  while (!(end = strstr(ws->rx.data ? ws->rx.data : "", "\r\n\r\n"))) {
    rc = fill(ws, deadline);
    if (rc <= 0)
      return rc == 0 ? -ETIMEDOUT : rc;
    if (ws->rx.len > 65536)
      return -EPROTO;
  }
  size_t hl = (size_t)(end - ws->rx.data) + 4;
  ch_buf_append(&ws->head, ws->rx.data, hl);
  consume(&ws->rx, hl);
  ch_chk_tx(cx, client, "in", "ws", ws->head.data, ws->head.len);
  if (sscanf(ws->head.data, "HTTP/%*s %ld", &ws->status) != 1)
    return -EPROTO;
  if (ws->status != 101) {
    /* keep what body came with it for evidence */
    fill(ws, ch_now_ns() + 50000000u);
    ch_buf_append(&ws->head, ws->rx.data ? ws->rx.data : "", ws->rx.len < 512 ? ws->rx.len : 512);
    return -EACCES;
  }
  return 0;
}

static int send_frame(struct ch_ws *ws, struct ch_chk_ctx *cx, int opcode, const char *s, size_t n) {
  uint8_t hdr[14];
  size_t h = 0;
  hdr[h++] = (uint8_t)(0x80 | opcode);
  if (n < 126)
    hdr[h++] = (uint8_t)(0x80 | n);
  else if (n < 65536) {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = (uint8_t)(n >> 8), hdr[h++] = (uint8_t)n;
  } else {
    hdr[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  uint32_t m = (uint32_t)ch_rng_next(&cx->rng);
  uint8_t mask[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
  memcpy(hdr + h, mask, 4);
  h += 4;
  struct ch_buf f = CH_BUF_INIT;
  int rc = ch_buf_append(&f, hdr, h);
  if (rc == 0)
    rc = ch_buf_reserve(&f, n);
  if (rc) {
    ch_buf_free(&f);
    return rc;
  }
  for (size_t i = 0; i < n; i++)
    f.data[h + i] = (char)(s[i] ^ mask[i & 3]);
  f.len = h + n;
  rc = send_all(ws, f.data, f.len, ch_now_ns() + (uint64_t)cx->timeout_ms * 1000000u);
  ch_buf_free(&f);
  return rc;
}

int ch_ws_send_text(struct ch_ws *ws, struct ch_chk_ctx *cx, const char *s, size_t n) {
  if (ws->closed || !ws->easy)
    return -EPIPE;
  return send_frame(ws, cx, 1, s, n);
}

int ch_ws_rx_next(struct ch_ws *ws, size_t max, struct ch_buf *msg, char ping[125], size_t *ping_len) {
  for (;;) { /* frames that give nothing to report (a fragment, a pong) are consumed and the next one looked at */
    const uint8_t *p = (const uint8_t *)ws->rx.data;
    size_t n = ws->rx.len;
    if (n < 2)
      return CH_WS_RX_MORE;
    int fin = p[0] & 0x80, op = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (n < 4)
        return CH_WS_RX_MORE;
      len = (uint64_t)p[2] << 8 | p[3], h = 4;
    } else if (len == 127) {
      if (n < 10)
        return CH_WS_RX_MORE;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = len << 8 | p[2 + i];
      h = 10;
    }
    if (p[1] & 0x80)
      h += 4; /* masked (a server must not; tolerated as before) */
    bool data = op == 0x0 || op == 0x1 || op == 0x2;
    if (!data && op != 0x8 && op != 0x9 && op != 0xA) { /* RFC 6455 5.2: fail; its length must not decide either */
      ws->error = "reserved opcode";
      return -EPROTO;
    }
    /* ws->frag.len <= max always: the subtraction cannot wrap */
    if (data && len > max - ws->frag.len) {
      ws->error = "message larger than the probe's limit";
      return -EPROTO;
    }
    if (op >= 0x8 && len > 125) {
      ws->error = "control frame longer than 125 bytes (RFC 6455 5.5)";
      return -EPROTO;
    }
    if (n < h || n - h < len)
      return CH_WS_RX_MORE;
    const char *payload = ws->rx.data + h;
    int kind = CH_WS_RX_MORE;
    if (op == 0x9) {
      memcpy(ping, payload, (size_t)len);
      *ping_len = (size_t)len;
      kind = CH_WS_RX_PING;
    } else if (op == 0x8) {
      ws->close_code = len >= 2 ? (uint8_t)payload[0] << 8 | (uint8_t)payload[1] : 1005;
      kind = CH_WS_RX_CLOSE;
    } else if (data) {
      if (ch_buf_append(&ws->frag, payload, (size_t)len) != 0) {
        ws->error = "out of memory";
        return -EPROTO;
      }
      if (fin) {
        ch_buf_reset(msg);
        if (ch_buf_append(msg, ws->frag.data ? ws->frag.data : "", ws->frag.len) != 0) {
          ws->error = "out of memory";
          return -EPROTO;
        }
        ch_buf_reset(&ws->frag);
        kind = CH_WS_RX_MESSAGE;
      }
    }
    consume(&ws->rx, h + (size_t)len);
    if (kind != CH_WS_RX_MORE)
      return kind;
  }
}

int ch_ws_recv(struct ch_ws *ws, struct ch_chk_ctx *cx, const char *client, long timeout_ms, struct ch_buf *out) {
  uint64_t deadline = ch_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
  if (ws->closed || !ws->easy)
    return -EPIPE;
  for (;;) {
    char ping[125];
    size_t ping_len = 0;
    int k = ch_ws_rx_next(ws, CH_WS_MAX_MESSAGE, out, ping, &ping_len);
    if (k == CH_WS_RX_MESSAGE) {
      ch_chk_tx(cx, client, "in", "ws", out->data ? out->data : "", out->len);
      return 1;
    }
    if (k == CH_WS_RX_PING) { /* answer, keep waiting */
      send_frame(ws, cx, 0xA, ping, ping_len);
      continue;
    }
    if (k == CH_WS_RX_CLOSE) {
      ch_chk_tx(cx, client, "in", "ws", "[close]", 7);
      ws->closed = true;
      return -EPIPE;
    }
    if (k < 0) {
      char why[128];
      int wn = snprintf(why, sizeof why, "[refused: %s]", ws->error);
      ch_chk_tx(cx, client, "in", "ws", why, (size_t)wn);
      ws->closed = true;
      return -EPROTO;
    }
    int rc = fill(ws, deadline);
    if (rc == 0)
      return 0;
    if (rc < 0) {
      ws->closed = true;
      ws->close_code = -1;
      return -EPIPE;
    }
  }
}

void ch_ws_refusal(const struct ch_ws *ws, char *out, size_t size) {
  const char *h = ws->head.data ? ws->head.data : "";
  const char *body = strstr(h, "\r\n\r\n");
  body = body ? body + 4 : h + ws->head.len;
  int k = snprintf(out, size, "HTTP %ld", ws->status);
  char ex[128];
  if (k > 0 && (size_t)k < size && ch_excerpt(ex, sizeof ex, body, ws->head.len - (size_t)(body - h)))
    snprintf(out + k, size - (size_t)k, ": %s", ex);
}

void ch_ws_close(struct ch_ws *ws) {
  if (ws->easy)
    curl_easy_cleanup(ws->easy);
  ch_buf_free(&ws->head);
  ch_buf_free(&ws->rx);
  ch_buf_free(&ws->frag);
  memset(ws, 0, sizeof *ws);
  ws->fd = CURL_SOCKET_BAD;
}
