/* Peer for `make bench`: the least a WebSocket client can do. N raw sockets negotiate and connect to the reference
   endpoint, subscribe round-robin to KEYS part keys ("K0".."K<KEYS-1>"), then this program publishes PUBS publishes
   of COUNT Updates at RATE per second through the control API and, on one epoll thread, only parses WebSocket
   frame headers and counts the Updates in the payloads (no JSON decoding, no correlation, no metrics). Its CPU per
   Update and memory per connection are the floor our harness is compared with.
   PACE > 0 adds "rate":PACE to each publish: the server then sends its COUNT Updates itself, PACE per second (under
   load its timer ticks late and 1.3-1.8 Updates share a frame, so `make bench` does not use it for its single stream).
   N=0: no clients, only the publishes (the single stream's publisher for Tsung and Artillery: 2 1000 1 100 = 1,000
   single-Update publishes at 100/s alternating K0/K1, one Update per frame).
   Usage: bench_rawws PORT CONTROL_PORT [N=2400] [KEYS=2] [PUBS=40] [COUNT=50] [RATE=10] [PACE=0]
   Prints one line: "rawws clients=N rss_base_kib=.. rss_conn_kib=.. updates=.. frames=.. cpu_s=.. secs=..". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ch_bench_proc.h"
#include "ch_clock.h"

#define CDATA "%5B%7B%22name%22%3A%22resourceeventhub%22%7D%5D"
static const char UPDATE[] = "\"M\":\"Update\"";
#define UPDATE_LEN (sizeof UPDATE - 1)

struct conn {
  int fd;
  uint64_t left;          /* payload bytes left in the current frame */
  unsigned char hdr[14];  /* a frame header split across reads */
  unsigned char hdr_len;
  char tail[UPDATE_LEN];  /* the last payload bytes, so a pattern split across reads is still counted */
  unsigned char tail_len;
  bool acked;
};

struct totals {
  long updates, frames, acks;
};

static int tcp_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    c += w, n -= (size_t)w;
  }
  return 0;
}

/* Reads an HTTP response head (and, for a body with Content-Length, the body) into buf. */
static int read_response(int fd, char *buf, size_t cap, bool with_body) {
  size_t n = 0;
  char *end = NULL;
  while (n < cap - 1) {
    ssize_t r = recv(fd, buf + n, with_body ? cap - 1 - n : 1, 0); /* byte by byte for the upgrade: no overread */
    if (r <= 0)
      return -1;
    n += (size_t)r;
    buf[n] = 0;
    if (!end && (end = strstr(buf, "\r\n\r\n"))) {
      if (!with_body)
        return 0;
      const char *cl = strcasestr(buf, "Content-Length:");
      size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
      if (want >= cap)
        return -1;
      while (n < want) {
        r = recv(fd, buf + n, want - n, 0);
        if (r <= 0)
          return -1;
        n += (size_t)r;
      }
      buf[n] = 0;
      return 0;
    }
  }
  return -1;
}

static void pct_encode(const char *s, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out[o++] = (char)c;
    } else {
      out[o++] = '%', out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
    }
  }
  out[o] = 0;
}

/* A masked text frame (mask 0: clients must mask, any key will do). */
static int ws_send_text(int fd, const char *s) {
  unsigned char f[512];
  size_t n = strlen(s);
  if (n > sizeof f - 8)
    return -1;
  size_t h = 0;
  f[h++] = 0x81;
  if (n < 126) {
    f[h++] = (unsigned char)(0x80 | n);
  } else {
    f[h++] = 0x80 | 126, f[h++] = (unsigned char)(n >> 8), f[h++] = (unsigned char)n;
  }
  memset(f + h, 0, 4);
  h += 4;
  memcpy(f + h, s, n);
  return send_all(fd, f, h + n);
}

static int open_client(int port, int key) {
  char buf[8192], tok[512], enc[1024], req[2048];
  int fd = tcp_open(port);
  if (fd < 0)
    return -1;
  int len = snprintf(req, sizeof req,
                     "GET /signalr/negotiate?clientProtocol=2.1&connectionData=%s HTTP/1.1\r\n"
                     "Host: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     CDATA);
  if (send_all(fd, req, (size_t)len) || read_response(fd, buf, sizeof buf, true)) {
    close(fd);
    return -1;
  }
  close(fd);
  const char *t = strstr(buf, "\"ConnectionToken\":\"");
  if (!t)
    return -1;
  t += 19;
  const char *e = strchr(t, '"');
  if (!e || (size_t)(e - t) >= sizeof tok)
    return -1;
  memcpy(tok, t, (size_t)(e - t));
  tok[e - t] = 0;
  pct_encode(tok, enc, sizeof enc);
  if ((fd = tcp_open(port)) < 0)
    return -1;
  len = snprintf(req, sizeof req,
                 "GET /signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=%s&connectionData=%s"
                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 enc, CDATA);
  if (len >= (int)sizeof req || send_all(fd, req, (size_t)len) || read_response(fd, buf, sizeof buf, false) ||
      strncmp(buf, "HTTP/1.1 101", 12)) {
    close(fd);
    return -1;
  }
  snprintf(req, sizeof req, "{\"H\":\"resourceeventhub\",\"M\":\"SubscribeToPart\",\"A\":[\"K%d\"],\"I\":0}", key);
  if (ws_send_text(fd, req)) {
    close(fd);
    return -1;
  }
  return fd;
}

static long count_in(struct conn *c, const char *p, size_t n) {
  long hits = 0;
  /* the pattern across the previous read's tail and this chunk */
  if (c->tail_len) {
    char joint[2 * UPDATE_LEN];
    size_t take = n < UPDATE_LEN - 1 ? n : UPDATE_LEN - 1;
    memcpy(joint, c->tail, c->tail_len);
    memcpy(joint + c->tail_len, p, take);
    if (memmem(joint, c->tail_len + take, UPDATE, UPDATE_LEN))
      hits++;
  }
  for (const char *q = p, *e = p + n; (q = memmem(q, (size_t)(e - q), UPDATE, UPDATE_LEN)); q += UPDATE_LEN)
    hits++;
  size_t keep = n < UPDATE_LEN - 1 ? n : UPDATE_LEN - 1;
  memcpy(c->tail, p + n - keep, keep);
  c->tail_len = (unsigned char)keep;
  return hits;
}

/* Walks frames in one read: headers are parsed (possibly across reads), payload bytes only scanned. */
static void consume(struct conn *c, const unsigned char *p, size_t n, struct totals *t) {
  while (n) {
    if (c->left) {
      size_t k = c->left < n ? (size_t)c->left : n;
      long u = count_in(c, (const char *)p, k);
      t->updates += u;
      if (!c->acked && memmem(p, k, "\"I\":\"0\"", 7)) {
        c->acked = true;
        t->acks++;
      }
      c->left -= k, p += k, n -= k;
      continue;
    }
    while (n && c->hdr_len < 2)
      c->hdr[c->hdr_len++] = *p++, n--;
    if (c->hdr_len < 2)
      return;
    unsigned l7 = c->hdr[1] & 0x7f;
    size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0);
    while (n && c->hdr_len < need)
      c->hdr[c->hdr_len++] = *p++, n--;
    if (c->hdr_len < need)
      return;
    uint64_t len = l7;
    if (l7 == 126)
      len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
    else if (l7 == 127)
      for (int i = 0, j = 2; i < 8; i++, j++)
        len = len << 8 | c->hdr[j];
    c->hdr_len = 0;
    c->tail_len = 0;
    c->left = len;
    t->frames++;
  }
}

static void publish(int cport, int key, int count, double pace) {
  char body[160], req[512], rate[32] = "";
  if (pace > 0)
    snprintf(rate, sizeof rate, ",\"rate\":%g", pace);
  int bl = snprintf(body, sizeof body, "{\"hub\":\"ResourceEventHub\",\"key\":\"K%d\",\"count\":%d%s}", key, count,
                    rate);
  int len = snprintf(req, sizeof req,
                     "POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                     bl, body);
  int fd = tcp_open(cport);
  if (fd >= 0) {
    send_all(fd, req, (size_t)len);
    shutdown(fd, SHUT_WR);
    close(fd); /* the answer is not needed: the deliveries are what is counted */
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_rawws PORT CONTROL_PORT [N] [KEYS] [PUBS] [COUNT] [RATE] [PACE]\n");
    return 3;
  }
  int port = atoi(argv[1]), cport = atoi(argv[2]);
  int n = argc > 3 ? atoi(argv[3]) : 2400, keys = argc > 4 ? atoi(argv[4]) : 2;
  int pubs = argc > 5 ? atoi(argv[5]) : 40, count = argc > 6 ? atoi(argv[6]) : 50;
  double rate = argc > 7 ? atof(argv[7]) : 10, pace = argc > 8 ? atof(argv[8]) : 0;
  if (n < 0 || n > 19000 || keys < 1 || pubs < 0 || count < 1 || rate <= 0 || pace < 0 || (pace > 0 && pace < 1))
    return 3;
  if (n == 0) { /* publisher only: on time (absolute deadlines), bounded by PUBS */
    struct timespec due;
    clock_gettime(CLOCK_MONOTONIC, &due);
    long gap_ns = (long)(1e9 / rate);
    for (int i = 0; i < pubs; i++) {
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
      publish(cport, i % keys, count, pace);
      due.tv_nsec += gap_ns;
      due.tv_sec += due.tv_nsec / 1000000000L;
      due.tv_nsec %= 1000000000L;
    }
    printf("rawws publisher pubs=%d count=%d keys=%d\n", pubs, count, keys);
    return 0;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  long rss0 = ch_bench_rss_kib();
  struct conn *cs = calloc((size_t)n, sizeof *cs);
  int ep = epoll_create1(0);
  if (!cs || ep < 0)
    return 4;
  for (int i = 0; i < n; i++) {
    cs[i].fd = open_client(port, i % keys);
    if (cs[i].fd < 0) {
      fprintf(stderr, "bench_rawws: client %d could not connect\n", i);
      return 4;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  struct totals t = {0};
  static unsigned char buf[1 << 16];
  struct epoll_event evs[256];
  /* Phase 1: every subscription acknowledged (bounded: 30 s). */
  uint64_t deadline = ch_now_ns() + 30000000000ull;
  while (t.acks < n && ch_now_ns() < deadline) {
    int m = epoll_wait(ep, evs, 256, 100);
    for (int j = 0; j < m; j++) {
      struct conn *c = evs[j].data.ptr;
      ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0)
        consume(c, buf, (size_t)r, &t);
    }
  }
  long rss1 = ch_bench_rss_kib();
  /* Phase 2: publish at the rate and count every Update (bounded: publishing time + the server's pacing + 30 s). */
  long expect = (long)pubs * count * (n / keys), base_updates = t.updates;
  double c0 = ch_bench_cpu_s();
  uint64_t t0 = ch_now_ns(), gap = (uint64_t)(1e9 / rate), next = t0;
  int sent = 0;
  deadline = t0 + (uint64_t)pubs * gap + (pace > 0 ? (uint64_t)(count / pace * 1e9) : 0) + 30000000000ull;
  uint64_t last = t0;
  while ((sent < pubs || t.updates - base_updates < expect) && ch_now_ns() < deadline) {
    uint64_t now = ch_now_ns();
    if (sent < pubs && now >= next) {
      publish(cport, sent % keys, count, pace);
      sent++;
      next += gap;
    }
    int wait_ms = sent < pubs ? (int)((next > now ? next - now : 0) / 1000000) : 100;
    int m = epoll_wait(ep, evs, 256, wait_ms);
    for (int j = 0; j < m; j++) {
      struct conn *c = evs[j].data.ptr;
      ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) {
        consume(c, buf, (size_t)r, &t);
        last = ch_now_ns();
      }
    }
  }
  double c1 = ch_bench_cpu_s();
  printf("rawws clients=%d rss_base_kib=%ld rss_conn_kib=%ld acks=%ld updates=%ld expected=%ld frames=%ld cpu_s=%.3f "
         "secs=%.3f\n",
         n, rss0, rss1, t.acks, t.updates - base_updates, expect, t.frames, c1 - c0, (double)(last - t0) / 1e9);
  for (int i = 0; i < n; i++)
    close(cs[i].fd);
  free(cs);
  close(ep);
  return t.updates - base_updates >= expect ? 0 : 2;
}
