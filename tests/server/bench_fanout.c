/* Fan-out benchmark of the reference endpoint (not a CTest): starts the server in-process (or uses one given by its
   ports), opens N WebSocket subscribers on one part key from a single epoll thread, then measures Update deliveries
   per second for publishes of `count` Updates each, and each Update's delivery latency from the time its publish was due.
   rate 0 (closed model): each publish waits until every subscriber has its Updates (one fan-out at a time).
   rate R (open model): publishes start every 1/R s whatever the server's progress, as events reach a real hub.
   Usage: bench_fanout [N=10000] [publishes=20] [count=1] [external_port external_control_port] [rate=0] */
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

static long g_dups, g_gaps, g_frames;
static uint32_t *g_lat_us; /* one latency sample per delivered Update, capped at g_lat_cap */
static size_t g_lat_n, g_lat_cap;
/* Latency is measured from when publish k was due (open model) or sent (closed model), never from the server's own
   stamp, so a server that falls behind cannot hide its queue (no coordinated omission). */
static uint64_t *g_pub_us;  /* wall time, per publish */
static int g_count;          /* Updates per publish */
static long g_seq_base = -1; /* HarnessSeq before the first publish (every subscriber sees publish 0 first) */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double pctl_ms(double q) {
  if (!g_lat_n)
    return 0;
  size_t i = (size_t)(q * (double)(g_lat_n - 1) + 0.5);
  return g_lat_us[i] / 1000.0;
}

/* Counts complete frames' "HarnessSeq" occurrences, consuming parsed frames from the buffer. */
static long consume(struct sub *c) {
  long n = 0;
  uint64_t now_us = ch_wall_ns() / 1000u;
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
    long before = n;
    while ((p = memmem(p, (size_t)(e - p), "HarnessSeq\":", 12))) {
      long seq = strtol(p + 12, NULL, 10);
      if (c->last_seq < 0)
        ; /* the first Update this subscriber sees (the key may have had publishes before it subscribed) */
      else if (seq <= c->last_seq)
        g_dups++;
      else if (seq != c->last_seq + 1)
        g_gaps++;
      c->last_seq = seq;
      n++;
      p += 12;
      if (g_seq_base < 0)
        g_seq_base = seq - 1;
      long k = (seq - g_seq_base - 1) / g_count;
      if (g_lat_n < g_lat_cap && k >= 0) {
        uint64_t due = g_pub_us[k];
        g_lat_us[g_lat_n++] = now_us > due ? (uint32_t)(now_us - due) : 0;
      }
    }
    g_frames += n > before; /* frames carrying Updates (not keep-alives) */
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
  double rate = argc > 6 ? atof(argv[6]) : 0;
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
    subs[i].last_seq = -1;
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
  g_lat_cap = (size_t)expect;
  g_lat_us = malloc(g_lat_cap * sizeof *g_lat_us);
  int *ctl = calloc((size_t)pubs, sizeof *ctl);
  g_pub_us = calloc((size_t)pubs + 1, sizeof *g_pub_us);
  g_count = count;
  if (!g_lat_us || !ctl || !g_pub_us)
    return 1;
  char body[256];
  snprintf(body, sizeof body, "{\"hub\":\"ResourceEventHub\",\"key\":\"1882708\",\"count\":%d}", count);
  uint64_t p0 = ch_now_ns(), gap = rate > 0 ? (uint64_t)(1e9 / rate) : 0, wall0 = ch_wall_ns();
  int sent = 0, dead = 0;
  uint64_t deadline = p0 + 30000000000ull + (uint64_t)pubs * gap;
  while (got < expect && ch_now_ns() < deadline && !dead) {
    /* closed model: the next publish once every subscriber has the previous one; open model: on schedule */
    uint64_t now = ch_now_ns();
    while (sent < pubs && (rate > 0 ? now >= p0 + (uint64_t)sent * gap : got >= (long)n * sent * count)) {
      g_pub_us[sent] = (rate > 0 ? wall0 + (uint64_t)sent * gap : ch_wall_ns()) / 1000u;
      ctl[sent] = tcp_connect(cport); /* its answer is not awaited: the fan-out is what is timed */
      if (ctl[sent] >= 0)
        http_send_req(ctl[sent], "POST", "/publish", NULL, body);
      sent++;
    }
    int wait_ms = 1000;
    if (rate > 0 && sent < pubs) {
      uint64_t next = p0 + (uint64_t)sent * gap;
      wait_ms = next > now ? (int)((next - now) / 1000000u) : 0;
    }
    struct epoll_event evs[256];
    int m = epoll_wait(ep, evs, 256, wait_ms);
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
  for (int k = 0; k < sent; k++)
    if (ctl[k] >= 0)
      close(ctl[k]);
  free(ctl);
  uint64_t p1 = ch_now_ns();
  double secs = (double)(p1 - p0) / 1e9;
  qsort(g_lat_us, g_lat_n, sizeof *g_lat_us, cmp_u32);
  if (rate > 0)
    printf("%d publishes x count %d offered at %.0f/s to %d subscribers: %ld/%ld deliveries in %.3f s = %.0f "
           "deliveries/s\n", pubs, count, rate, n, got, expect, secs, got / secs);
  else
    printf("%d publishes x count %d to %d subscribers: %ld/%ld deliveries in %.3f s = %.0f deliveries/s\n", pubs,
           count, n, got, expect, secs, got / secs);
  printf("frames %ld (%.2f Updates per frame); latency (from the publish's due time) p50 %.1f ms p99 %.1f ms max %.1f ms "
         "over %zu Updates\n", g_frames, g_frames ? (double)got / (double)g_frames : 0, pctl_ms(0.5), pctl_ms(0.99),
         pctl_ms(1), g_lat_n);
  free(g_lat_us);
  free(g_pub_us);
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
