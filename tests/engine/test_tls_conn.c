/* The worker's TLS session cache (ch_tls.c) through ch_tls_conn against a small OpenSSL server in threads: the first
   handshake is full for want of a session, the next resume; a connection opened while another one has just resumed
   the cached session (its new ticket not read yet) still resumes, since OpenSSL marks a TLS 1.3 session a client
   has resumed "used" and each connection gets a copy; a server that cannot decrypt the ticket (other ticket keys)
   makes the miss count as rejected; a host that wanted another key-exchange group gets it in the next
   ClientHello (no HelloRetryRequest again). A received record costs one read() (none that only finds the socket empty). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "ch_bench_proc.h"
#include "ch_clock.h"
#include "ch_engine.h"
#include "ch_test.h"
#include "ch_test_certs.h"
#include "ch_tls_conn.h"
#include "ch_worker.h"

/* ---------------------------------------------------------------- the server: one thread per connection */

struct srv {
  SSL_CTX *ctx[3]; /* [1]: other ticket keys, so [0]'s tickets are refused; [2]: P-256 key exchange only */
  _Atomic int hellos; /* ClientHellos [2] received (two for a connection it answered with a HelloRetryRequest) */
  _Atomic int use; /* which context new connections get */
  int rounds;      /* > 0: answer each of that many client writes with one record, then close */
  int lfd, port;
  uv_thread_t th;
};

struct srv_conn {
  struct srv *s;
  int fd;
};

static void srv_conn_main(void *arg) {
  struct srv_conn *sc = arg;
  SSL *ssl = SSL_new(sc->s->ctx[atomic_load(&sc->s->use)]);
  char buf[512];
  struct timeval tv = {5, 0};
  setsockopt(sc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (ssl && SSL_set_fd(ssl, sc->fd) && SSL_accept(ssl) == 1 && SSL_read(ssl, buf, sizeof buf) > 0) {
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    SSL_write(ssl, ok, sizeof ok - 1);
    for (int i = 1; i < sc->s->rounds && SSL_read(ssl, buf, sizeof buf) > 0; i++)
      SSL_write(ssl, "next", 4);
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  close(sc->fd);
  free(sc);
}

static void srv_main(void *arg) {
  struct srv *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
      return; /* the test shut the socket down */
    struct srv_conn *sc = malloc(sizeof *sc);
    uv_thread_t t;
    if (!sc) {
      close(fd);
      continue;
    }
    *sc = (struct srv_conn){s, fd};
    if (uv_thread_create(&t, srv_conn_main, sc) == 0)
      uv_thread_join(&t); /* one at a time is enough here: the client side is what runs concurrently */
  }
}

static SSL_CTX *srv_ctx(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  BIO *cb = BIO_new_mem_buf(test_cert, -1), *kb = BIO_new_mem_buf(test_key, -1);
  X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
  EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
  if (!ctx || !x || !k || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, k) != 1) {
    SSL_CTX_free(ctx);
    ctx = NULL;
  }
  if (ctx)
    SSL_CTX_set_read_ahead(ctx, 1); /* one read() per record, not a header and a body */
  X509_free(x);
  EVP_PKEY_free(k);
  BIO_free(cb);
  BIO_free(kb);
  return ctx;
}

static int srv_count_hello(SSL *ssl, int *alert, void *arg) {
  (void)ssl, (void)alert;
  atomic_fetch_add(&((struct srv *)arg)->hellos, 1);
  return SSL_CLIENT_HELLO_SUCCESS;
}

static int srv_start(struct srv *s) {
  memset(s, 0, sizeof *s);
  s->ctx[0] = srv_ctx();
  s->ctx[1] = srv_ctx();
  s->ctx[2] = srv_ctx();
  if (!s->ctx[2] || SSL_CTX_set1_groups_list(s->ctx[2], "P-256") != 1)
    return -1;
  SSL_CTX_set_client_hello_cb(s->ctx[2], srv_count_hello, s);
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t al = sizeof a;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (!s->ctx[0] || !s->ctx[1] || s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) ||
      listen(s->lfd, 16) || getsockname(s->lfd, (struct sockaddr *)&a, &al))
    return -1;
  s->port = ntohs(a.sin_port);
  return uv_thread_create(&s->th, srv_main, s);
}

static void srv_stop(struct srv *s) {
  shutdown(s->lfd, SHUT_RDWR);
  uv_thread_join(&s->th);
  close(s->lfd);
  for (int i = 0; i < 3; i++)
    SSL_CTX_free(s->ctx[i]);
}

/* ---------------------------------------------------------------- the client: connections on the worker's loop */

#define MAX_CONNS 8

struct rig {
  char ca[40]; /* the server's certificate, trusted by the engine */
  int rounds; /* > 0: the connection answers each received record with a write until that many were received */
  _Atomic int received;
  struct ch_engine *e;
  struct srv srv;
  struct ch_worker *w;
  _Atomic int opened, done, failed;
  _Atomic int how[MAX_CONNS]; /* enum ch_tls_resume of connection i, -1 none yet */
  int open_next_on_connect;   /* connection index that opens the next one from its connected event, -1 none */
};

struct conn {
  struct rig *r;
  int i;
  struct ch_tls_conn *c;
};

static void conn_open(struct rig *r);

static int conn_connected(void *owner, enum ch_tls_resume how, uint64_t ns) {
  (void)ns;
  struct conn *k = owner;
  atomic_store(&k->r->how[k->i], (int)how);
  /* before this connection reads its new ticket: the cached session is the one it just resumed */
  if (k->i == k->r->open_next_on_connect)
    conn_open(k->r);
  static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  return ch__tlsc_write(k->c, req, sizeof req - 1) ? -1 : 0;
}

static int conn_rx(void *owner, const char *p, size_t n) {
  (void)p, (void)n;
  struct conn *k = owner;
  if (atomic_fetch_add(&k->r->received, 1) + 1 < k->r->rounds)
    return ch__tlsc_write(k->c, "ack", 3) ? -1 : 0;
  ch__tlsc_close(k->c); /* the answer came after the ticket: it is cached */
  return 0;
}

static int conn_writable(void *owner) {
  (void)owner;
  return 0;
}

static void conn_closed(void *owner, bool was_connected, const char *why) {
  struct conn *k = owner;
  if (!was_connected || why) {
    fprintf(stderr, "\n  connection %d: %s", k->i, why ? why : "closed");
    atomic_fetch_add(&k->r->failed, 1);
  }
  atomic_fetch_add(&k->r->done, 1);
  free(k);
}

static const struct ch_tls_conn_events conn_events = {conn_connected, conn_rx, conn_writable, conn_closed};

static void conn_open(struct rig *r) {
  struct conn *k = calloc(1, sizeof *k);
  char why[160];
  if (!k || atomic_load(&r->opened) >= MAX_CONNS) {
    free(k);
    atomic_fetch_add(&r->failed, 1);
    return;
  }
  k->r = r;
  k->i = atomic_fetch_add(&r->opened, 1);
  if (ch__tlsc_open(r->w, "127.0.0.1", r->srv.port, NULL, &conn_events, k, &k->c, why, sizeof why)) {
    fprintf(stderr, "\n  open: %s", why);
    free(k);
    atomic_fetch_add(&r->failed, 1);
    atomic_fetch_add(&r->done, 1);
  }
}

static void task_open(struct ch_worker *w, void *arg) {
  struct rig *r = arg;
  r->w = w;
  conn_open(r);
}

/* Opens one connection from the worker (more when open_next_on_connect says so) and waits until `done` reach want. */
static bool open_and_wait(struct rig *r, int want) {
  CU_ASSERT_EQUAL_FATAL(ch_engine_post(r->e, 0, task_open, r), 0);
  uint64_t end = ch_now_ns() + 10000000000ull;
  while (atomic_load(&r->done) < want && ch_now_ns() < end)
    usleep(2000);
  return atomic_load(&r->done) == want && !atomic_load(&r->failed);
}

/* A server and a one-worker TLS engine trusting its certificate; NULL when either cannot start. */
static struct rig *rig_new(void) {
  struct rig *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  for (int i = 0; i < MAX_CONNS; i++)
    r->how[i] = -1;
  r->open_next_on_connect = -1;
  snprintf(r->ca, sizeof r->ca, "/tmp/ch_test_tls_conn_XXXXXX");
  int fd = mkstemp(r->ca);
  bool ok = fd >= 0 && write(fd, test_cert, strlen(test_cert)) == (ssize_t)strlen(test_cert);
  if (fd >= 0)
    close(fd);
  struct ch_engine_opts eo = {.workers = 1, .tls = true, .ca_file = r->ca};
  if (!ok || srv_start(&r->srv) || ch_engine_new(&eo, &r->e, NULL) || ch_engine_start(r->e, NULL)) {
    fprintf(stderr, "\n  cannot start the server or the engine");
    if (fd >= 0)
      unlink(r->ca);
    free(r); /* a test that cannot start ends here: what was started is left to the process's exit */
    return NULL;
  }
  return r;
}

static void rig_free(struct rig *r) {
  ch_engine_stop(r->e);
  ch_engine_free(r->e);
  srv_stop(&r->srv);
  unlink(r->ca);
  free(r);
}

static void test_tls_session_cache_resumes_and_counts_misses(void) {
  struct rig *r = rig_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);

  CU_ASSERT_TRUE(open_and_wait(r, 1));
  CU_ASSERT_EQUAL(r->how[0], CH_TLS_MISS_NO_SESSION);
  /* connection 1 resumes, and from its connected event opens connection 2 */
  r->open_next_on_connect = 1;
  CU_ASSERT_TRUE(open_and_wait(r, 3));
  CU_ASSERT_EQUAL(r->how[1], CH_TLS_RESUMED);
  CU_ASSERT_EQUAL(r->how[2], CH_TLS_RESUMED); /* was CH_TLS_MISS_EXPIRED while connections shared the session */
  r->open_next_on_connect = -1;
  /* the server now encrypts tickets with other keys: the cached session is offered and refused */
  atomic_store(&r->srv.use, 1);
  CU_ASSERT_TRUE(open_and_wait(r, 4));
  CU_ASSERT_EQUAL(r->how[3], CH_TLS_MISS_REJECTED);
  CU_ASSERT_TRUE(open_and_wait(r, 5));
  CU_ASSERT_EQUAL(r->how[4], CH_TLS_RESUMED);

  rig_free(r);
}

/* read() calls of this process so far, -1 unknown. */
static long read_calls(void) { return ch_bench_proc_field("/proc/self/io", "syscr:"); }

static void test_tls_receive_reads_once_per_wakeup(void) {
  if (read_calls() < 0) {
    fprintf(stderr, "\n  skipped: no /proc/self/io");
    return;
  }
  struct rig *r = rig_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  r->rounds = r->srv.rounds = 200;
  long before = read_calls();
  CU_ASSERT_TRUE(open_and_wait(r, 1));
  long reads = read_calls() - before;
  CU_ASSERT_EQUAL(r->received, 200);
  /* per round: the server's blocking read and the client's one read of the answer; a client that read again until
     the socket was empty made it up to three (2.4 measured: sometimes the next answer is there already) */
  if (reads > 200 * 9 / 4 || getenv("CH_TEST_VERBOSE"))
    fprintf(stderr, "\n  %ld read() calls for 200 rounds", reads);
  CU_ASSERT_TRUE(reads <= 200 * 9 / 4); /* 2.05 per round measured; 2.4-3 before */
  rig_free(r);
}

static void test_tls_remembers_the_group_a_host_chose(void) {
  struct rig *r = rig_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  atomic_store(&r->srv.use, 2);
  /* the first ClientHello carries an X25519 key share, which this server answers with a HelloRetryRequest */
  CU_ASSERT_TRUE(open_and_wait(r, 1));
  CU_ASSERT_EQUAL(atomic_load(&r->srv.hellos), 2);
  /* the next ones offer P-256 at once: one ClientHello each (two each before the group was remembered) */
  CU_ASSERT_TRUE(open_and_wait(r, 2));
  CU_ASSERT_TRUE(open_and_wait(r, 3));
  CU_ASSERT_EQUAL(atomic_load(&r->srv.hellos), 4);
  CU_ASSERT_EQUAL(r->how[2], CH_TLS_RESUMED);
  rig_free(r);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_tls_session_cache_resumes_and_counts_misses),
                         CH_TEST(test_tls_receive_reads_once_per_wakeup),
                         CH_TEST(test_tls_remembers_the_group_a_host_chose), CU_TEST_INFO_NULL};
  return ch_test_run("tls_conn", tests);
}
