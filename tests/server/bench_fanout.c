/* Fan-out benchmark of the reference endpoint (not a CTest): starts the server in-process, opens N WebSocket
   subscribers on one part key from a single epoll thread, then measures Update deliveries per second for
   publishes of `count` messages each.
   Usage: bench_fanout [N=10000] [publishes=20] [count=1] [external_port external_control_port] */
#include <sys/epoll.h>
#include <sys/resource.h>

#include "ch_clock.h"
#include "ch_server.h"
#include "srv_client.h"

static const char CDATA[] = "%5B%7B%22name%22%3A%22resourceeventhub%22%7D%5D";

struct sub {
  int fd;
  struct ch_buf in;
  long last_seq;
};

static long g_dups, g_gaps;

/* Counts complete frames' "HarnessSeq" occurrences, consuming parsed frames from the buffer. */
static long consume(struct sub *c) {
  long n = 0;
  size_t off = 0;
  while (c->in.len - off >= 2) {
    unsigned char *h = (unsigned char *)c->in.data + off;
    uint64_t len = h[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
      if (c->in.len - off < 4)
        break;
      len = (uint64_t)h[2] << 8 | h[3];
      hl = 4;
    } else if (len == 127) {
      if (c->in.len - off < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = len << 8 | h[2 + i];
      hl = 10;
    }
    if (c->in.len - off < hl + len)
      break;
    const char *p = (const char *)h + hl, *e = p + len;
    while ((p = memmem(p, (size_t)(e - p), "HarnessSeq\":", 12))) {
      long seq = strtol(p + 12, NULL, 10);
      if (seq <= c->last_seq)
        g_dups++;
      else if (seq != c->last_seq + 1)
        g_gaps++;
      c->last_seq = seq;
      n++;
      p += 12;
    }
    off += hl + (size_t)len;
  }
  memmove(c->in.data, c->in.data + off, c->in.len - off);
  c->in.len -= off;
  return n;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  int pubs = argc > 2 ? atoi(argv[2]) : 20;
  int count = argc > 3 ? atoi(argv[3]) : 1;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  struct ch_server *s = NULL;
  int port, cport;
  if (argc > 5) {
    port = atoi(argv[4]);
    cport = atoi(argv[5]);
  } else {
    struct ch_server_opts o = {.quiet = true};
    if (ch_server_new(&o, &s) || ch_server_start(s))
      return 1;
    port = ch_server_port(s);
    cport = ch_server_control_port(s);
  }
  struct sub *subs = calloc((size_t)n, sizeof *subs);
  uint64_t t0 = ch_now_ns();
  char target[1024], tok[512], enc[600];
  for (int i = 0; i < n; i++) {
    struct resp r;
    snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s", CDATA);
    http_req(port, "GET", target, NULL, NULL, &r);
    if (!json_str(r.body.data, "ConnectionToken", tok, sizeof tok)) {
      fprintf(stderr, "negotiate %d failed (status %d)\n", i, r.status);
      return 1;
    }
    resp_free(&r);
    pct(tok, enc, sizeof enc);
    snprintf(target, sizeof target,
             "/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=%s&connectionData=%s", enc,
             CDATA);
    subs[i].fd = ws_open(port, target, NULL, NULL);
    if (subs[i].fd < 0) {
      fprintf(stderr, "ws %d failed\n", i);
      return 1;
    }
    ws_send(subs[i].fd, "{\"H\":\"resourceeventhub\",\"M\":\"SubscribeToPart\",\"A\":[\"1882708\"],\"I\":0}");
  }
  /* wait for every subscription's completion */
  struct ch_buf fr = CH_BUF_INIT;
  for (int i = 0; i < n; i++)
    if (!ws_recv_match(subs[i].fd, &fr, "{\"I\":\"0\"}", 5000)) {
      fprintf(stderr, "subscribe %d failed\n", i);
      return 1;
    }
  uint64_t t1 = ch_now_ns();
  printf("connected and subscribed %d WebSockets in %.2f s (%.0f/s)\n", n, (double)(t1 - t0) / 1e9,
         n / ((double)(t1 - t0) / 1e9));
  int ep = epoll_create1(0);
  for (int i = 0; i < n; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &subs[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &ev);
  }
  long expect = (long)n * pubs * count, got = 0;
  char body[256];
  snprintf(body, sizeof body, "{\"hub\":\"ResourceEventHub\",\"key\":\"1882708\",\"count\":%d}", count);
  uint64_t p0 = ch_now_ns();
  int ctl = -1, dead = 0;
  for (int k = 0; k < pubs && !dead; k++) {
    /* fire the publish without waiting for its answer, then drain deliveries */
    ctl = tcp_connect(cport);
    http_send_req(ctl, "POST", "/publish", NULL, body);
    long target_got = (long)n * (k + 1) * count;
    struct epoll_event evs[256];
    uint64_t deadline = ch_now_ns() + 30000000000ull;
    while (got < target_got && ch_now_ns() < deadline && !dead) {
      int m = epoll_wait(ep, evs, 256, 1000);
      for (int j = 0; j < m; j++) {
        struct sub *c = evs[j].data.ptr;
        char tmp[65536];
        ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
        if (r > 0) {
          ch_buf_append(&c->in, tmp, (size_t)r);
          got += consume(c);
        } else if (r == 0 || errno != EAGAIN) {
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* the server went away: stop, never spin */
          dead++;
        }
      }
    }
    close(ctl);
  }
  uint64_t p1 = ch_now_ns();
  double secs = (double)(p1 - p0) / 1e9;
  printf("%d publishes x count %d to %d subscribers: %ld/%ld deliveries in %.3f s = %.0f deliveries/s\n", pubs, count,
         n, got, expect, secs, got / secs);
  struct resp r;
  http_req(cport, "GET", "/stats", NULL, NULL, &r);
  printf("stats: %s\nordering: %ld duplicates/out-of-order, %ld gaps\n", r.body.data, g_dups, g_gaps);
  resp_free(&r);
  for (int i = 0; i < n; i++) {
    close(subs[i].fd);
    ch_buf_free(&subs[i].in);
  }
  free(subs);
  ch_buf_free(&fr);
  close(ep);
  ch_server_free(s);
  return got == expect ? 0 : 2;
}
