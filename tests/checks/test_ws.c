/* Tests of the probe WebSocket client against a scripted loopback peer: the upgrade request (credentials carried),
   fragmented messages reassembled, pings answered, masked client frames, a refused upgrade's status, peer close. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ch_chk.h"
#include "ch_listen.h"
#include "ch_test.h"

struct peer {
  int lfd, port;
  bool refuse;
  const char *refusal;  /* refuse with this answer instead of a bare 401 */
  bool fragment_flood;  /* after the upgrade: one message in 1 MiB fragments, 1 MiB past CH_WS_MAX_MESSAGE */
  char request[4096];
  char echoed[256];
  bool got_pong;
};

static ssize_t read_some(int fd, void *p, size_t n) {
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return read(fd, p, n);
}

/* Reads one client frame (always masked); returns the opcode, payload unmasked into out. */
static int read_frame(int fd, char *out, size_t cap, size_t *len) {
  unsigned char h[14];
  if (read_some(fd, h, 2) != 2)
    return -1;
  size_t n = h[1] & 0x7f;
  if (!(h[1] & 0x80))
    return -2; /* client frames must be masked */
  if (n == 126) {
    if (read_some(fd, h + 2, 2) != 2)
      return -1;
    n = (size_t)h[2] << 8 | h[3];
  }
  unsigned char mask[4];
  if (read_some(fd, mask, 4) != 4 || n >= cap)
    return -1;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read_some(fd, out + got, n - got);
    if (r <= 0)
      return -1;
    got += (size_t)r;
  }
  for (size_t i = 0; i < n; i++)
    out[i] ^= (char)mask[i & 3];
  out[n] = '\0';
  *len = n;
  return h[0] & 0x0f;
}

static void *peer_main(void *arg) {
  struct peer *p = arg;
  int fd = accept(p->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  size_t n = 0;
  while (n < sizeof p->request - 1 && !strstr(p->request, "\r\n\r\n")) {
    ssize_t r = read_some(fd, p->request + n, sizeof p->request - 1 - n);
    if (r <= 0)
      break;
    n += (size_t)r;
    p->request[n] = '\0';
  }
  if (p->refuse) {
    const char *resp = p->refusal ? p->refusal : "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
    (void)!write(fd, resp, strlen(resp));
    close(fd);
    return NULL;
  }
  const char *resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: x\r\n\r\n";
  (void)!write(fd, resp, strlen(resp));
  if (p->fragment_flood) {
    size_t piece = 1u << 20;
    char *chunk = malloc(10 + piece);
    memset(chunk, 'x', 10 + piece);
    for (size_t sent = 0; sent <= CH_WS_MAX_MESSAGE; sent += piece) {
      chunk[0] = sent ? 0x00 : 0x01; /* text, then continuations, never FIN */
      chunk[1] = 127;
      for (int i = 0; i < 8; i++)
        chunk[2 + i] = (char)((uint64_t)piece >> (56 - 8 * i));
      size_t off = 0;
      while (off < 10 + piece) { /* the client stops reading once it refuses: give up then */
        ssize_t w = send(fd, chunk + off, 10 + piece - off, MSG_NOSIGNAL);
        if (w <= 0)
          break;
        off += (size_t)w;
      }
      if (off < 10 + piece)
        break;
    }
    free(chunk);
    close(fd);
    return NULL;
  }
  /* a ping, then {"C":"x","M":[]} in two fragments, in one write so the client parses several frames at once */
  unsigned char frames[64];
  size_t k = 0;
  frames[k++] = 0x89, frames[k++] = 2, frames[k++] = 'h', frames[k++] = 'i';
  const char *a = "{\"C\":\"x\",", *b = "\"M\":[]}";
  frames[k++] = 0x01, frames[k++] = (unsigned char)strlen(a);
  memcpy(frames + k, a, strlen(a)), k += strlen(a);
  frames[k++] = 0x80, frames[k++] = (unsigned char)strlen(b);
  memcpy(frames + k, b, strlen(b)), k += strlen(b);
  (void)!write(fd, frames, k);
  char buf[256];
  size_t len;
  int op;
  while ((op = read_frame(fd, buf, sizeof buf, &len)) > 0) {
    if (op == 0xA) {
      p->got_pong = len == 2 && memcmp(buf, "hi", 2) == 0;
      continue;
    }
    if (op == 1) {
      snprintf(p->echoed, sizeof p->echoed, "%s", buf);
      unsigned char e[2] = {0x81, (unsigned char)len};
      (void)!write(fd, e, 2);
      (void)!write(fd, buf, len);
      unsigned char close_frame[4] = {0x88, 2, 0x03, 0xe8};
      (void)!write(fd, close_frame, 4);
      break;
    }
  }
  close(fd);
  return NULL;
}

static int peer_start(struct peer *p, pthread_t *th) {
  if ((p->lfd = ch_test_listen(1, &p->port)) < 0)
    return -1;
  return pthread_create(th, NULL, peer_main, p);
}

static void ctx_init(struct ch_chk_ctx *cx) {
  memset(cx, 0, sizeof *cx);
  cx->timeout_ms = 3000;
  ch_rng_seed(&cx->rng, 1);
}

static void test_ws_upgrade_fragments_ping_and_close(void) {
  struct peer p = {0};
  pthread_t th;
  CU_ASSERT_EQUAL_FATAL(peer_start(&p, &th), 0);
  struct ch_chk_ctx cx;
  ctx_init(&cx);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/Centro/signalr/connect?transport=webSockets", p.port);
  struct ch_ws ws;
  struct ch_buf m = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_ws_open(&ws, &cx, "c1", url, "Authorization: Bearer tok", 3000), 0);
  CU_ASSERT_EQUAL(ws.status, 101);
  CU_ASSERT_EQUAL(ch_ws_recv(&ws, &cx, "c1", 3000, &m), 1);
  CH_ASSERT_STR(m.data, "{\"C\":\"x\",\"M\":[]}");
  const char *inv = "{\"H\":\"ResourceEventHub\",\"M\":\"SubscribeToPart\",\"A\":[\"1882708\"],\"I\":0}";
  CU_ASSERT_EQUAL(ch_ws_send_text(&ws, &cx, inv, strlen(inv)), 0);
  CU_ASSERT_EQUAL(ch_ws_recv(&ws, &cx, "c1", 3000, &m), 1);
  CH_ASSERT_STR(m.data, inv);
  CU_ASSERT_EQUAL(ch_ws_recv(&ws, &cx, "c1", 3000, &m), -EPIPE); /* the peer's close */
  ch_ws_close(&ws);
  pthread_join(th, NULL);
  close(p.lfd);
  CU_ASSERT_PTR_NOT_NULL(strstr(p.request, "GET /Centro/signalr/connect?transport=webSockets HTTP/1.1\r\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(p.request, "\r\nUpgrade: websocket\r\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(p.request, "\r\nSec-WebSocket-Version: 13\r\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(p.request, "\r\nAuthorization: Bearer tok\r\n"));
  CH_ASSERT_STR(p.echoed, inv);
  CU_ASSERT_TRUE(p.got_pong);
  /* the transcript has both directions and no credential */
  CU_ASSERT_PTR_NOT_NULL(strstr(cx.tx.data, "\"dir\":\"out\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(cx.tx.data, "\"dir\":\"in\""));
  CU_ASSERT_PTR_NULL(strstr(cx.tx.data, "Bearer tok"));
  ch_buf_free(&m);
  ch_buf_free(&cx.tx);
}

/* Starts the peer as configured in *p and opens the probe client to it; returns ch_ws_open's result. */
static int open_to_peer(struct peer *p, pthread_t *th, struct ch_chk_ctx *cx, struct ch_ws *ws) {
  CU_ASSERT_EQUAL_FATAL(peer_start(p, th), 0);
  ctx_init(cx);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/signalr/connect", p->port);
  return ch_ws_open(ws, cx, "c1", url, NULL, 3000);
}

static void close_peer(struct peer *p, pthread_t th, struct ch_chk_ctx *cx, struct ch_ws *ws) {
  ch_ws_close(ws);
  pthread_join(th, NULL);
  close(p->lfd);
  ch_buf_free(&cx->tx);
}

/* The status, and the refusal as users read it: status and the start of the body, printable (NEG-005 said
   "Permission denied" for a 400). */
static void test_ws_refused_upgrade_reports_status(void) {
  static const struct {
    const char *answer;
    long status;
    const char *why;
  } cases[] = {
      {NULL, 401, "HTTP 401"},
      {"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 33\r\n\r\n"
       "Not a valid web socket request.\r\n",
       400, "HTTP 400: Not a valid web socket request."},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct peer p = {0};
    p.refuse = true;
    p.refusal = cases[i].answer;
    pthread_t th;
    struct ch_chk_ctx cx;
    struct ch_ws ws;
    CU_ASSERT_EQUAL(open_to_peer(&p, &th, &cx, &ws), -EACCES);
    CU_ASSERT_EQUAL(ws.status, cases[i].status);
    char why[160];
    ch_ws_refusal(&ws, why, sizeof why);
    CU_ASSERT_STRING_EQUAL(why, cases[i].why);
    close_peer(&p, th, &cx, &ws);
  }
}

/* A message whose fragments add up past the cap is refused, however small each fragment is. */
static void test_ws_refuses_a_fragmented_message_past_the_cap(void) {
  struct peer p = {0};
  p.fragment_flood = true;
  pthread_t th;
  struct ch_chk_ctx cx;
  struct ch_ws ws;
  struct ch_buf m = CH_BUF_INIT;
  CU_ASSERT_EQUAL(open_to_peer(&p, &th, &cx, &ws), 0);
  CU_ASSERT_EQUAL(ch_ws_recv(&ws, &cx, "c1", 10000, &m), -EPROTO);
  CH_ASSERT_STR(ws.error, "message larger than the probe's limit");
  CU_ASSERT_TRUE(ws.frag.len <= CH_WS_MAX_MESSAGE);
  CU_ASSERT_EQUAL(m.len, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(cx.tx.data, "[refused: message larger than the probe's limit]"));
  close_peer(&p, th, &cx, &ws);
  ch_buf_free(&m);
}

/* The pure step, with a small limit: no header may make it buffer past the limit plus a header. */
static void test_ws_rx_next_with_a_small_limit(void) {
  struct ch_ws ws;
  memset(&ws, 0, sizeof ws);
  struct ch_buf m = CH_BUF_INIT;
  char ping[125];
  size_t pl = 0;
  /* "ab" + "cd" + ping + "e" (fin) = "abcde"; then 2^64-1 bytes announced for a continuation */
  static const unsigned char in[] = {0x01, 2, 'a', 'b', 0x00, 2, 'c', 'd', 0x89, 1, '!', 0x80, 1, 'e',
                                     0x01, 1, 'z', 0x00, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  ch_buf_append(&ws.rx, in, sizeof in);
  CU_ASSERT_EQUAL(ch_ws_rx_next(&ws, 8, &m, ping, &pl), CH_WS_RX_PING);
  CU_ASSERT_TRUE(pl == 1 && ping[0] == '!');
  CU_ASSERT_EQUAL(ch_ws_rx_next(&ws, 8, &m, ping, &pl), CH_WS_RX_MESSAGE);
  CH_ASSERT_STR(m.data, "abcde");
  CU_ASSERT_EQUAL(ch_ws_rx_next(&ws, 8, &m, ping, &pl), -EPROTO);
  CH_ASSERT_STR(ws.error, "message larger than the probe's limit");
  /* a reserved opcode announcing a huge payload is refused at its header, not waited for */
  ch_buf_free(&ws.rx);
  ch_buf_free(&ws.frag);
  ws.error = NULL;
  static const unsigned char reserved[] = {0x83, 127, 0, 0, 1, 0, 0, 0, 0, 0};
  ch_buf_append(&ws.rx, reserved, sizeof reserved);
  CU_ASSERT_EQUAL(ch_ws_rx_next(&ws, 8, &m, ping, &pl), -EPROTO);
  CH_ASSERT_STR(ws.error, "reserved opcode");
  ch_buf_free(&ws.rx);
  ch_buf_free(&ws.frag);
  ch_buf_free(&m);
}

static void test_ws_connection_refused(void) {
  /* a loopback port with no listener: bind port 0, read it back, close */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof sa;
  CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  CU_ASSERT_EQUAL_FATAL(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
  close(fd);
  struct ch_chk_ctx cx;
  ctx_init(&cx);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/signalr/connect", ntohs(sa.sin_port));
  struct ch_ws ws;
  CU_ASSERT_EQUAL(ch_ws_open(&ws, &cx, "c1", url, NULL, 2000), -ECONNREFUSED);
  ch_ws_close(&ws);
  ch_buf_free(&cx.tx);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_ws_upgrade_fragments_ping_and_close),
                         CH_TEST(test_ws_refused_upgrade_reports_status), CH_TEST(test_ws_connection_refused),
                         CH_TEST(test_ws_refuses_a_fragmented_message_past_the_cap),
                         CH_TEST(test_ws_rx_next_with_a_small_limit),
                         CU_TEST_INFO_NULL};
  return ch_test_run("checks-ws", tests);
}
