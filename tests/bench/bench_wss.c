/* Bench for `make bench` (wss rows): the harness's WebSocket client over wss:// against ws://, one worker thread.
   A small lws server in a forked child (TLS with the test certificate, or plain) answers negotiate/start/abort and
   the upgrade; on an "I" invocation it streams single-Update frames to that connection as fast as it can write.
   This process runs N clients on one engine worker and measures, on its own CPU (the server is another process):
     connect: clients connected per second and CPU per complete connect (negotiate, upgrade, start; TLS when wss),
     idle: RSS per connected idle client,
     receive: CPU per received Update over STREAMS streaming connections for SECS seconds.
   RESUME=0 makes the server refuse session resumption (every handshake full); 1 lets the harness resume.
   Usage: bench_wss ws|wss [N=2000] [STREAMS=20] [SECS=3] [RESUME=1]
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

static void on_tls(struct ch_client *c, bool resumed, uint64_t ns, void *user) {
  (void)c, (void)ns;
  struct bench *b = user;
  atomic_fetch_add(resumed ? &b->tls_resumed : &b->tls_full, 1);
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

int main(int argc, char **argv) {
  bool tls = argc > 1 && !strcmp(argv[1], "wss");
  if (argc < 2 || (!tls && strcmp(argv[1], "ws"))) {
    fprintf(stderr, "usage: bench_wss ws|wss [N=2000] [STREAMS=20] [SECS=3] [RESUME=1]\n");
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
