/* Benchmark (not a CTest): N concurrent clients of one transport (serverSentEvents, longPolling or webSockets) in
   this process against the reference endpoint in a child process (its own descriptor budget), all subscribed to one
   part key; then M Updates are published to that key and the delivery throughput (Updates received per second over
   all clients) is measured, with connect time, failures and memory.

   Usage: bench_fallback [-t sse|lp|ws] [-n CLIENTS] [-m MESSAGES] [-w WORKERS] [-s SOURCE_ADDRESSES]
   e.g.   bench_fallback -t sse -n 10000 -m 20 -s 127.0.0.1-127.0.0.8
   (source addresses spread the client sockets over several loopback addresses: long polling closes and reopens
   connections, and one address has about 28k ephemeral ports.) */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "ch_client.h"
#include "ch_clock.h"
#include "ch_control.h"
#include "ch_engine.h"
#include "ch_server.h"

struct bench {
  enum ch_transport transport;
  size_t n;
  unsigned workers;
  struct ch_url url;
  struct ch_client **clients;
  atomic_size_t connected, subscribed, groups, closed, failed, reconnects;
  atomic_ullong delivered;
  char first_failure[192];
  atomic_bool have_failure;
};

struct slice {
  struct bench *b;
  size_t first, count;
};

static void on_done(struct ch_client *c, const struct ch_completion *r, void *arg) {
  (void)c;
  struct bench *b = arg;
  if (r->status == 0 && !r->error)
    atomic_fetch_add(&b->subscribed, 1);
}

static void on_state(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f, void *user) {
  struct bench *b = user;
  if (s == CH_CLIENT_CONNECTED && ch_client_counters(c)->reconnects == 0 &&
      ch_client_invoke(c, "ResourceEventHub", "SubscribeToPart", "[\"k1\"]", on_done, b, NULL) == 0)
    atomic_fetch_add(&b->connected, 1);
  if (s == CH_CLIENT_CLOSED) {
    if (f) {
      atomic_fetch_add(&b->failed, 1);
      bool no = false;
      if (atomic_compare_exchange_strong(&b->have_failure, &no, true))
        snprintf(b->first_failure, sizeof b->first_failure, "%s: %.160s", ch_failure_name(f->category), f->message);
    }
    atomic_fetch_add(&b->closed, 1);
  }
}

static void on_message(struct ch_client *c, const struct ch_hub_msg *m, int hub, uint64_t ns, void *user) {
  (void)c, (void)m, (void)hub, (void)ns;
  atomic_fetch_add_explicit(&((struct bench *)user)->delivered, 1, memory_order_relaxed);
}

static void on_event(struct ch_client *c, enum ch_client_event e, void *user) {
  (void)c;
  struct bench *b = user;
  if (e == CH_EVENT_GROUPS_TOKEN)
    atomic_fetch_add(&b->groups, 1);
  if (e == CH_EVENT_RECONNECTED)
    atomic_fetch_add(&b->reconnects, 1);
}

static void create_task(struct ch_worker *w, void *arg) {
  struct slice *s = arg;
  struct bench *b = s->b;
  const char *hubs[] = {"ResourceEventHub"};
  for (size_t i = s->first; i < s->first + s->count; i++) {
    struct ch_client_opts o = {.target = &b->url,
                               .hubs = hubs,
                               .hub_count = 1,
                               .transport = b->transport,
                               .source_index = (unsigned)i,
                               .on_state = on_state,
                               .on_message = on_message,
                               .on_event = on_event,
                               .user = b};
    if (ch_client_new(w, &o, &b->clients[i]) != 0 || ch_client_start(b->clients[i]) != 0) {
      atomic_fetch_add(&b->failed, 1);
      atomic_fetch_add(&b->closed, 1);
    }
  }
}

static void stop_task(struct ch_worker *w, void *arg) {
  (void)w;
  struct slice *s = arg;
  for (size_t i = s->first; i < s->first + s->count; i++)
    if (s->b->clients[i] && ch_client_state(s->b->clients[i]) != CH_CLIENT_CLOSED)
      ch_client_stop(s->b->clients[i]);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[128];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0)
      kib = atol(line + 6);
  if (f)
    fclose(f);
  return kib;
}

/* Waits (bounded) until *v >= want, printing progress every 2 s. */
static bool wait_count(const char *what, atomic_size_t *v, size_t want, struct bench *b, double max_s) {
  uint64_t start = ch_now_ns(), last = start;
  while (atomic_load(v) < want) {
    uint64_t now = ch_now_ns();
    if ((double)(now - start) / 1e9 > max_s || atomic_load(&b->closed) >= b->n)
      return false;
    if (now - last > 2000000000ull) {
      fprintf(stderr, "  %s: %zu/%zu (failed %zu)\n", what, atomic_load(v), want, atomic_load(&b->failed));
      last = now;
    }
    uv_sleep(20); /* progress polling of atomic counters, bounded by max_s */
  }
  return true;
}

/* The endpoint in a child process: it reports its ports on `out` and runs until `in` reaches EOF. */
static void server_child(int out, int in) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .quiet = true};
  struct ch_server *s = NULL;
  int ports[2] = {-1, -1};
  if (ch_server_new(&so, &s) == 0 && ch_server_start(s) == 0) {
    ports[0] = ch_server_port(s);
    ports[1] = ch_server_control_port(s);
  }
  if (write(out, ports, sizeof ports) != (ssize_t)sizeof ports)
    _exit(1);
  char c;
  while (read(in, &c, 1) > 0) {
  }
  ch_server_free(s);
  _exit(0);
}

int main(int argc, char **argv) {
  struct bench b;
  memset(&b, 0, sizeof b);
  b.transport = CH_TRANSPORT_SSE;
  b.n = 1000;
  b.workers = 1;
  long messages = 10;
  const char *sources = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "t:n:m:w:s:")) != -1) {
    switch (opt) {
    case 't':
      if (ch_transport_parse(optarg, &b.transport) != 0) {
        fprintf(stderr, "bench_fallback: unknown transport %s\n", optarg);
        return 3;
      }
      break;
    case 'n': b.n = strtoul(optarg, NULL, 10); break;
    case 'm': messages = atol(optarg); break;
    case 'w': b.workers = (unsigned)atoi(optarg); break;
    case 's': sources = optarg; break;
    default:
      fprintf(stderr, "usage: bench_fallback [-t sse|lp|ws] [-n CLIENTS] [-m MESSAGES] [-w WORKERS] [-s SOURCES]\n");
      return 3;
    }
  }
  if (!b.n || messages < 1 || !b.workers) {
    fprintf(stderr, "bench_fallback: clients, messages and workers must be positive\n");
    return 3;
  }
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0)
    return 4;
  pid_t child = fork();
  if (child == 0) {
    close(up[0]);
    close(down[1]);
    server_child(up[1], down[0]);
  }
  close(up[1]);
  close(down[0]);
  int ports[2] = {-1, -1};
  if (child < 0 || read(up[0], ports, sizeof ports) != (ssize_t)sizeof ports || ports[0] <= 0) {
    fprintf(stderr, "bench_fallback: the endpoint did not start\n");
    return 4;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", ports[0]);
  ch_url_parse(url, &b.url, NULL);
  b.clients = calloc(b.n, sizeof *b.clients);
  char **addrs = NULL;
  size_t n_addrs = 0;
  struct ch_buf err = CH_BUF_INIT;
  if (sources && ch_source_addrs_parse(sources, &addrs, &n_addrs, &err) != 0) {
    fprintf(stderr, "bench_fallback: %s\n", err.data);
    return 3;
  }
  struct ch_engine_opts eo = {.workers = b.workers,
                              .source_addrs = (const char *const *)addrs,
                              .source_addr_count = n_addrs};
  struct ch_engine *e = NULL;
  if (ch_engine_new(&eo, &e, &err) != 0 || ch_engine_start(e, &err) != 0) {
    fprintf(stderr, "bench_fallback: engine: %s\n", err.data ? err.data : "failed");
    return 4;
  }
  struct slice *sl = calloc(b.workers, sizeof *sl);
  size_t per = b.n / b.workers;
  long rss0 = rss_kib();
  uint64_t t0 = ch_now_ns();
  for (unsigned i = 0; i < b.workers; i++) {
    sl[i] = (struct slice){&b, i * per, i + 1 == b.workers ? b.n - i * per : per};
    ch_engine_post(e, i, create_task, &sl[i]);
  }
  int rc = 0;
  bool ok = wait_count("subscribed", &b.subscribed, b.n, &b, 600);
  double connect_s = (double)(ch_now_ns() - t0) / 1e9;
  /* long polling: each client must hold its G and a live poll, or the first Updates miss the group (see §4.3) */
  if (ok && b.transport == CH_TRANSPORT_LONGPOLLING)
    ok = wait_count("groups tokens", &b.groups, b.n, &b, 120);
  for (uint64_t end = ch_now_ns() + 60000000000ull; ok && ch_control_live(ports[1], 10000) < (long)b.n;) {
    if (ch_now_ns() > end) {
      ok = false;
      break;
    }
    uv_sleep(50);
  }
  long rss1 = rss_kib();
  double deliver_s = 0;
  unsigned long long want = (unsigned long long)messages * b.n, got = 0;
  if (ok) {
    char body[128];
    snprintf(body, sizeof body, "{\"hub\":\"ResourceEventHub\",\"key\":\"k1\",\"count\":%ld}", messages);
    uint64_t p0 = ch_now_ns();
    if (ch_control(ports[1], "/publish", body, NULL, 10000) != 200) {
      fprintf(stderr, "bench_fallback: publish failed\n");
      ok = false;
    }
    uint64_t last = p0;
    while (ok && (got = atomic_load(&b.delivered)) < want && ch_now_ns() - p0 < 300000000000ull) {
      if (ch_now_ns() - last > 2000000000ull) {
        fprintf(stderr, "  delivered: %llu/%llu\n", got, want);
        last = ch_now_ns();
      }
      uv_sleep(5);
    }
    got = atomic_load(&b.delivered);
    deliver_s = (double)(ch_now_ns() - p0) / 1e9;
  } else {
    rc = 1;
  }
  printf("transport=%s clients=%zu workers=%u connected=%zu subscribed=%zu failed=%zu connect_s=%.2f "
         "conn_per_s=%.0f rss_kib_per_client=%.2f updates=%llu/%llu deliver_s=%.3f updates_per_s=%.0f "
         "reconnects=%zu%s%s\n",
         ch_transport_name(b.transport), b.n, b.workers, atomic_load(&b.connected), atomic_load(&b.subscribed),
         atomic_load(&b.failed), connect_s, (double)b.n / connect_s, (double)(rss1 - rss0) / (double)b.n, got, want,
         deliver_s, deliver_s > 0 ? (double)got / deliver_s : 0.0, atomic_load(&b.reconnects),
         atomic_load(&b.have_failure) ? " first_failure=" : "", atomic_load(&b.have_failure) ? b.first_failure : "");
  if (got < want)
    rc = 1;
  for (unsigned i = 0; i < b.workers; i++)
    ch_engine_post(e, i, stop_task, &sl[i]);
  wait_count("closed", &b.closed, b.n, &b, 60);
  ch_engine_stop(e);
  ch_engine_free(e); /* frees the clients */
  ch_source_addrs_free(addrs, n_addrs);
  ch_buf_free(&err);
  free(sl);
  free(b.clients);
  ch_url_free(&b.url);
  close(down[1]);
  waitpid(child, NULL, 0);
  curl_global_cleanup();
  return rc;
}
