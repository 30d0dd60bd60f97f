/* Bench for `make bench` (wss rows): the harness's WebSocket client over wss:// against ws://, one worker thread.
   A small lws server in a forked child (TLS with the test certificate, or plain) answers negotiate/start/abort and
   the upgrade; on an "I" invocation it streams single-Update frames to that connection as fast as it can write.
   This process runs N clients on one engine worker and measures, on its own CPU (the server is another process):
     connect: clients connected per second and CPU per complete connect (negotiate, upgrade, start; TLS when wss),
     idle: RSS per connected idle client,
     receive: CPU per received Update over STREAMS streaming connections for SECS seconds.
   RESUME=0 makes the server refuse session resumption (every handshake full); 1 lets the harness resume.
   hs: N bare TLS handshakes (ch_tls_conn, no HTTP or WebSocket), 32 at a time, with the client's and the server's
   CPU per handshake; idle: the same but every connection held, heap per idle TLS connection.
   Usage: bench_wss ws|wss|hs|idle [N=2000] [STREAMS=20] [SECS=3] [RESUME=1]
   Prints one line: "wss clients=.. connect_per_s=.. cpu_us_per_connect=.. tls_per_s=.. kib_per_client=..
   heap_kib_per_client=.. fds_per_client=.. updates=.. cpu_ns_per_update=.. tls_full=.. tls_resumed=..". */
#include <dirent.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <sched.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "ch_bench_proc.h"
#include "ch_client.h"
#include "ch_clock.h"
#include "ch_engine.h"
#include "ch_lws_signalr.h"
#include "ch_test_certs.h"
#include "ch_tls_conn.h"
#include "ch_worker.h"

/* ---------------------------------------------------------------- server (child process) */

struct srv_pss {
  int stage; /* 0 init pending, 1 idle, 2 streaming */
  unsigned long seq;
};

static int srv_resume = 1;

static int srv_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  struct srv_pss *ps = user;
  switch (reason) {
  case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
    /* X25519 first, as serve, nginx and IIS choose (lws leaves P-256 alone with an in-memory EC key: every
       handshake would pay P-256 ECDH and its peer-key check instead); BENCH_WSS_P256=1 keeps that */
    if (!getenv("BENCH_WSS_P256"))
      SSL_CTX_set1_groups_list((SSL_CTX *)user, "X25519:P-256");
    if (!srv_resume) { /* every handshake full: no tickets, no cache */
      SSL_CTX_set_options((SSL_CTX *)user, SSL_OP_NO_TICKET);
      SSL_CTX_set_session_cache_mode((SSL_CTX *)user, SSL_SESS_CACHE_OFF);
    }
    return 0;
  case LWS_CALLBACK_HTTP:
    return ch_test_lws_signalr_http(wsi, in, "/b");
  case LWS_CALLBACK_ESTABLISHED:
    ps->stage = 0;
    lws_callback_on_writable(wsi);
    return 0;
  case LWS_CALLBACK_RECEIVE:
    if (len > 4 && memmem(in, len, "\"I\"", 3)) {
      ps->stage = 2;
      lws_callback_on_writable(wsi);
    }
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE: {
    char msg[LWS_PRE + 512];
    int n;
    if (ps->stage == 0) {
      n = snprintf(msg + LWS_PRE, 256, "{\"C\":\"d-1-B,0\",\"S\":1,\"M\":[]}");
      ps->stage = 1;
    } else if (ps->stage == 2) {
      ps->seq++;
      n = snprintf(msg + LWS_PRE, 400,
                   "{\"C\":\"d-1-B,%lu\",\"M\":[{\"H\":\"ResourceEventHub\",\"M\":\"Update\",\"A\":[{\"PartKey\":"
                   "\"K1\",\"Seq\":%lu,\"Kind\":\"Changed\",\"At\":\"2026-12-07T10:00:00.000Z\"}]}]}",
                   ps->seq, ps->seq);
    } else {
      return 0;
    }
    if (lws_write(wsi, (unsigned char *)msg + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
      return -1;
    if (ps->stage == 2)
      lws_callback_on_writable(wsi);
    return 0;
  }
  default:
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

static const struct lws_protocols srv_protocols[] = {{"b", srv_cb, sizeof(struct srv_pss), 4096, 0, NULL, 0},
                                                     {NULL, NULL, 0, 0, 0, NULL, 0}};

/* The server on core 0, this process on core 1 (when there are two): neither steals the other's CPU. */
static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
    sched_setaffinity(0, sizeof set, &set);
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  while (d && readdir(d))
    n++;
  if (d)
    closedir(d);
  return n - 3;
}

static void srv_child(bool tls, int wfd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a bench that crashed */
  pin(0);
  lws_set_log_level(LLL_ERR, NULL);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = 0;
  info.iface = "127.0.0.1";
  info.protocols = srv_protocols;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
  if (tls) {
    info.server_ssl_cert_mem = test_cert;
    info.server_ssl_cert_mem_len = (unsigned)strlen(test_cert);
    info.server_ssl_private_key_mem = test_key;
    info.server_ssl_private_key_mem_len = (unsigned)strlen(test_key);
  }
  info.gid = -1;
  info.uid = -1;
  info.fd_limit_per_thread = 20000;
  info.alpn = "http/1.1"; /* as serve and IIS for SignalR: no h2 */
  struct lws_context *ctx = lws_create_context(&info);
  int port = ctx ? lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default")) : -1;
  if (write(wfd, &port, sizeof port) != sizeof port || !ctx)
    _exit(1);
  close(wfd);
  for (;;)
    lws_service(ctx, 0);
}

/* ---------------------------------------------------------------- client (this process) */

struct bench {
  struct ch_url url;
  size_t n, streams;
  struct ch_client **c;
  _Atomic size_t connected, failed;
  _Atomic uint64_t updates, tls_full, tls_resumed;
  _Atomic uint64_t how[CH_TLS_RESUME_KINDS];
};

static void on_state(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f, void *user) {
  (void)c;
  struct bench *b = user;
  if (s == CH_CLIENT_CONNECTED)
    atomic_fetch_add(&b->connected, 1);
  else if (s == CH_CLIENT_CLOSED && f)
    atomic_fetch_add(&b->failed, 1);
}

static void on_message(struct ch_client *c, const struct ch_hub_msg *m, int hub, uint64_t recv_ns, void *user) {
  (void)c, (void)m, (void)hub, (void)recv_ns;
  atomic_fetch_add_explicit(&((struct bench *)user)->updates, 1, memory_order_relaxed);
}

static void on_tls(struct ch_client *c, enum ch_tls_resume how, uint64_t ns, void *user) {
  (void)c, (void)ns;
  struct bench *b = user;
  atomic_fetch_add(how == CH_TLS_RESUMED ? &b->tls_resumed : &b->tls_full, 1);
  atomic_fetch_add(&b->how[how], 1);
}

static void start_all(struct ch_worker *w, void *arg) {
  struct bench *b = arg;
  static const char *const hubs[] = {"ResourceEventHub"};
  for (size_t i = 0; i < b->n; i++) {
    struct ch_client_opts o = {.target = &b->url, .hubs = hubs, .hub_count = 1, .no_reconnect = true,
                               .on_state = on_state, .on_message = on_message, .on_tls = on_tls, .user = b};
    if (ch_client_new(w, &o, &b->c[i]) || ch_client_start(b->c[i]))
      atomic_fetch_add(&b->failed, 1);
  }
}

static void stream_some(struct ch_worker *w, void *arg) {
  (void)w;
  struct bench *b = arg;
  for (size_t i = 0; i < b->streams && i < b->n; i++)
    if (b->c[i] && ch_client_state(b->c[i]) == CH_CLIENT_CONNECTED)
      ch_client_invoke(b->c[i], "ResourceEventHub", "Go", "[]", NULL, NULL, NULL);
}

static bool wait_for(_Atomic size_t *v, size_t want, _Atomic size_t *failed, double secs) {
  uint64_t end = ch_now_ns() + (uint64_t)(secs * 1e9);
  while (ch_now_ns() < end) {
    if (atomic_load(v) + atomic_load(failed) >= want)
      return true;
    usleep(2000);
  }
  return false;
}

/* CPU seconds (user + system) of another process, from /proc/PID/stat; 0 when unknown. */
static double proc_cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---------------------------------------------------------------- hs: bare TLS handshakes (no HTTP, no WebSocket)

   K connections at a time, N in all, each sending one small HTTP request and closed (close_notify) once the
   answer's first bytes arrive: by then the server's TLS 1.3 tickets have been read and cached, as a WebSocket's
   upgrade exchange reads them. The client's CPU per handshake is this process's CPU over the run (the main thread
   sleeps), the server's that of the child. */
struct hs {
  struct ch_worker *w;
  int port;
  size_t n, k, started;
  bool hold; /* idle mode: keep every connection open once answered */
  _Atomic size_t done, full, resumed, failed, held;
  _Atomic size_t how[CH_TLS_RESUME_KINDS];
};

static void hs_next(struct hs *h);

static int hs_connected(void *owner, enum ch_tls_resume how, uint64_t ns) {
  (void)ns;
  struct hs *h = ((void **)owner)[0];
  atomic_fetch_add(how == CH_TLS_RESUMED ? &h->resumed : &h->full, 1);
  atomic_fetch_add(&h->how[how], 1);
  static const char req[] = "GET /hs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  return ch__tlsc_write(((void **)owner)[1], req, sizeof req - 1) ? -1 : 0;
}

static int hs_rx(void *owner, const char *p, size_t n) {
  (void)p, (void)n;
  struct hs *h = ((void **)owner)[0];
  if (h->hold) { /* idle mode: the connection stays, counted once */
    if (!((void **)owner)[2]) {
      ((void **)owner)[2] = owner;
      atomic_fetch_add(&h->held, 1);
      hs_next(h);
    }
    return 0;
  }
  ch__tlsc_close(((void **)owner)[1]);
  return 0;
}

static int hs_writable(void *owner) {
  (void)owner;
  return 0;
}

static void hs_closed(void *owner, bool was, const char *why) {
  struct hs *h = ((void **)owner)[0];
  if (!was && why && !atomic_load(&h->failed))
    fprintf(stderr, "bench_wss hs: %s\n", why);
  if (!was)
    atomic_fetch_add(&h->failed, 1);
  free(owner);
  atomic_fetch_add(&h->done, 1);
  hs_next(h);
}

static const struct ch_tls_conn_events hs_events = {hs_connected, hs_rx, hs_writable, hs_closed};

static void hs_next(struct hs *h) {
  if (h->started >= h->n)
    return;
  h->started++;
  void **owner = calloc(3, sizeof *owner);
  char why[160];
  struct ch_tls_conn *c = NULL;
  owner[0] = h;
  if (ch__tlsc_open(h->w, "127.0.0.1", h->port, NULL, &hs_events, owner, &c, why, sizeof why)) {
    fprintf(stderr, "bench_wss hs: %s\n", why);
    free(owner);
    atomic_fetch_add(&h->failed, 1);
    atomic_fetch_add(&h->done, 1);
    return;
  }
  owner[1] = c;
}

static void hs_start(struct ch_worker *w, void *arg) {
  struct hs *h = arg;
  h->w = w;
  for (size_t i = 0; i < h->k; i++)
    hs_next(h);
}

static int hs_main(int port, const char *ca, size_t n, pid_t srv, bool hold) {
  struct hs h = {.port = port, .n = n, .k = 32, .hold = hold};
  struct ch_engine *e = NULL;
  struct ch_engine_opts eo = {.workers = 1, .tls = true, .ca_file = ca};
  if (ch_engine_new(&eo, &e, NULL) || ch_engine_start(e, NULL))
    return 4;
  usleep(200000);
  double c0 = ch_bench_cpu_s(), s0 = proc_cpu_s(srv);
  size_t heap0 = mallinfo2().uordblks;
  long rss0 = ch_bench_rss_kib();
  uint64_t t0 = ch_now_ns();
  ch_engine_post(e, 0, hs_start, &h);
  uint64_t end = t0 + 120000000000ull;
  while (atomic_load(&h.done) + atomic_load(&h.held) < n && ch_now_ns() < end)
    usleep(2000);
  if (hold) {
    usleep(500000);
    size_t held = atomic_load(&h.held);
    printf("idle tls connections=%zu heap_kib_per_conn=%.2f rss_kib_per_conn=%.2f\n", held,
           held ? (double)(mallinfo2().uordblks - heap0) / 1024.0 / (double)held : 0,
           held ? (double)(ch_bench_rss_kib() - rss0) / (double)held : 0);
  }
  double secs = (double)(ch_now_ns() - t0) / 1e9 - 0.02; /* the last close waits 20 ms */
  double cpu = ch_bench_cpu_s() - c0, scpu = proc_cpu_s(srv) - s0;
  size_t ok = atomic_load(&h.full) + atomic_load(&h.resumed);
  printf("hs handshakes=%zu full=%zu resumed=%zu failed=%zu per_s=%.0f client_us_per_hs=%.1f "
         "server_us_per_hs=%.1f client_hs_per_core_s=%.0f miss_none=%zu miss_other_name=%zu miss_expired=%zu "
         "miss_rejected=%zu\n",
         ok, atomic_load(&h.full), atomic_load(&h.resumed), atomic_load(&h.failed), (double)ok / secs,
         ok ? cpu * 1e6 / (double)ok : 0, ok ? scpu * 1e6 / (double)ok : 0, cpu > 0 ? (double)ok / cpu : 0,
         atomic_load(&h.how[CH_TLS_MISS_NO_SESSION]), atomic_load(&h.how[CH_TLS_MISS_OTHER_NAME]),
         atomic_load(&h.how[CH_TLS_MISS_EXPIRED]), atomic_load(&h.how[CH_TLS_MISS_REJECTED]));
  fflush(stdout);
  kill(srv, SIGKILL);
  waitpid(srv, NULL, 0);
  ch_engine_stop(e);
  ch_engine_free(e);
  return 0;
}

int main(int argc, char **argv) {
  bool idle_mode = argc > 1 && !strcmp(argv[1], "idle");
  bool hs_mode = idle_mode || (argc > 1 && !strcmp(argv[1], "hs"));
  bool tls = hs_mode || (argc > 1 && !strcmp(argv[1], "wss"));
  if (argc < 2 || (!tls && strcmp(argv[1], "ws"))) {
    fprintf(stderr, "usage: bench_wss ws|wss|hs|idle [N=2000] [STREAMS=20] [SECS=3] [RESUME=1]\n");
    return 2;
  }
  struct bench b = {.n = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000,
                    .streams = argc > 3 ? strtoul(argv[3], NULL, 10) : 20};
  double secs = argc > 4 ? atof(argv[4]) : 3;
  srv_resume = argc > 5 ? atoi(argv[5]) : 1;
  int pfd[2];
  if (pipe(pfd))
    return 4;
  pid_t srv = fork();
  if (srv == 0) {
    close(pfd[0]);
    srv_child(tls, pfd[1]);
  }
  close(pfd[1]);
  pin(1);
  int port = -1;
  if (read(pfd[0], &port, sizeof port) != sizeof port || port <= 0) {
    fprintf(stderr, "bench_wss: server did not start\n");
    return 4;
  }
  close(pfd[0]);
  char url[64], ca[] = "/tmp/bench_wss_ca_XXXXXX";
  snprintf(url, sizeof url, "%s://127.0.0.1:%d/b", tls ? "https" : "http", port);
  int cfd = mkstemp(ca);
  if (cfd < 0 || write(cfd, test_cert, strlen(test_cert)) != (ssize_t)strlen(test_cert))
    return 4;
  close(cfd);
  if (hs_mode) {
    int rc = hs_main(port, ca, b.n, srv, idle_mode);
    unlink(ca);
    free(b.c);
    return rc;
  }
  ch_url_parse(url, &b.url, NULL);
  b.c = calloc(b.n, sizeof *b.c);
  struct ch_engine *e = NULL;
  /* BENCH_WSS_LWS=1: the same over lws's own WebSocket client, as wss ran before issue #13 */
  struct ch_engine_opts eo = {.workers = 1, .tls = tls, .ca_file = tls ? ca : NULL,
                              .ws_lws_framing = getenv("BENCH_WSS_LWS") != NULL};
  if (!b.c || ch_engine_new(&eo, &e, NULL) || ch_engine_start(e, NULL))
    return 4;
  usleep(200000);
  long rss0 = ch_bench_rss_kib();
  size_t heap0 = mallinfo2().uordblks;
  int fds0 = count_fds();
  double c0 = ch_bench_cpu_s();
  uint64_t t0 = ch_now_ns();
  ch_engine_post(e, 0, start_all, &b);
  bool all = wait_for(&b.connected, b.n, &b.failed, 120);
  double conn_s = (double)(ch_now_ns() - t0) / 1e9, conn_cpu = ch_bench_cpu_s() - c0;
  usleep(1000000); /* idle: buffers of the handshake released */
  long rss1 = ch_bench_rss_kib();
  size_t heap1 = mallinfo2().uordblks;
  int fds1 = count_fds();
  ch_engine_post(e, 0, stream_some, &b);
  usleep(500000); /* streams running */
  uint64_t u0 = atomic_load(&b.updates);
  double s0 = ch_bench_cpu_s();
  usleep((useconds_t)(secs * 1e6));
  uint64_t u1 = atomic_load(&b.updates);
  double s1 = ch_bench_cpu_s();
  size_t conn = atomic_load(&b.connected);
  uint64_t hs = atomic_load(&b.tls_full) + atomic_load(&b.tls_resumed);
  printf("%s clients=%zu failed=%zu all=%d connect_per_s=%.0f cpu_us_per_connect=%.1f tls_per_s=%.0f "
         "kib_per_client=%.2f "
         "heap_kib_per_client=%.2f fds_per_client=%.2f updates=%llu cpu_ns_per_update=%.0f tls_full=%llu "
         "tls_resumed=%llu\n",
         argv[1], conn, atomic_load(&b.failed), all, conn / conn_s, conn ? conn_cpu * 1e6 / (double)conn : 0,
         (double)hs / conn_s,
         conn ? (double)(rss1 - rss0) / (double)conn : 0,
         conn ? (double)(heap1 - heap0) / 1024.0 / (double)conn : 0, conn ? (double)(fds1 - fds0) / (double)conn : 0,
         (unsigned long long)(u1 - u0),
         u1 > u0 ? (s1 - s0) * 1e9 / (double)(u1 - u0) : 0, (unsigned long long)atomic_load(&b.tls_full),
         (unsigned long long)atomic_load(&b.tls_resumed));
  fflush(stdout);
  kill(srv, SIGKILL); /* before stopping: the streams end at once rather than draining */
  waitpid(srv, NULL, 0);
  ch_engine_stop(e);
  for (size_t i = 0; i < b.n; i++)
    ch_client_free(b.c[i]);
  ch_engine_free(e);
  free(b.c);
  ch_url_free(&b.url);
  unlink(ca);
  return 0;
}
