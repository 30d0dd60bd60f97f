/* A scripted SignalR endpoint for the fallback-transport tests (raw sockets, one thread per TCP connection,
   loopback only, every wait bounded), and an observer that records what one client saw. Tests set the script
   functions for serverSentEvents and longPolling; negotiate, start, abort and send are answered here. */
#ifndef TEST_FALLBACK_MOCK_H
#define TEST_FALLBACK_MOCK_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ch_client.h"
#include "ch_clock.h"
#include "ch_engine.h"
#include "ch_test.h"
#include "ch_url.h"

#define MOCK_MAX_THREADS 64
#define MOCK_WAIT_MS 5000

struct mock;

struct mock_req {
  struct mock *m;
  int fd;
  char method[8];
  char target[1024]; /* path + query */
  char body[4096];
  size_t body_len;
  bool reconnect; /* path ends in /reconnect */
  bool poll;      /* path ends in /poll */
};

/* Writes a whole response (or a stream) for r; return true to keep the TCP connection for another request. */
typedef bool (*mock_script)(struct mock_req *r);

struct mock {
  int lfd, port;
  uv_thread_t acceptor;
  uv_thread_t threads[MOCK_MAX_THREADS];
  atomic_int n_threads;
  atomic_bool stop;
  /* behaviour */
  bool try_websockets;
  double transport_connect_timeout;
  double keepalive_timeout; /* 0 = 20 s */
  int send_status;    /* 0 = 200 with a completion */
  mock_script sse, lp;
  void *user;
  /* what happened (atomics: read by the test thread) */
  atomic_int negotiates, ws_connects, sse_connects, sse_reconnects, lp_connects, lp_polls, lp_reconnects, starts,
      sends, aborts;
  atomic_bool started;
  uv_mutex_t lock; /* guards the strings below */
  char last_poll_body[512];
  char last_reconnect_target[1024];
  char last_send_body[1024];
  uint64_t poll_ns[16]; /* when each poll arrived */
};

static void mock_write(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0)
      return;
    p += k;
    n -= (size_t)k;
  }
}

static void mock_puts(int fd, const char *s) { mock_write(fd, s, strlen(s)); }

static void mock_reply(int fd, int status, const char *ct, const char *body) {
  char head[256];
  snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", status, ct,
           strlen(body));
  mock_puts(fd, head);
  mock_puts(fd, body);
}

/* A response whose body ends when the connection closes (SSE stream, held poll). */
static void mock_stream_head(int fd, int status, const char *ct) {
  char head[256];
  snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n\r\n", status, ct);
  mock_puts(fd, head);
}

/* Waits (bounded) until *flag, the server stops or the peer closes. Returns true when *flag came true. */
static bool mock_wait_flag(struct mock_req *r, atomic_bool *flag, int ms) {
  uint64_t end = ch_now_ns() + (uint64_t)ms * 1000000u;
  while (ch_now_ns() < end && !atomic_load(&r->m->stop)) {
    if (flag && atomic_load(flag))
      return true;
    struct pollfd p = {r->fd, POLLIN, 0};
    if (poll(&p, 1, 10) > 0) {
      char b[256];
      if (recv(r->fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT) == 0)
        return false; /* the client went away */
    }
  }
  return flag && atomic_load(flag);
}

/* Holds a stream until the client closes it or the server stops (bounded). */
static void mock_hold(struct mock_req *r) { mock_wait_flag(r, NULL, MOCK_WAIT_MS); }

/* Opens an event stream and sends "initialized" and the init message (LF line ends). */
static inline void mock_sse_open(struct mock_req *r) {
  mock_stream_head(r->fd, 200, "text/event-stream");
  mock_puts(r->fd, "data: initialized\n\ndata: {\"C\":\"c1\",\"S\":1,\"M\":[]}\n\n");
}

static int mock_read_req(int fd, struct mock_req *r, struct mock *m) {
  char buf[8192];
  size_t len = 0;
  char *end = NULL;
  uint64_t deadline = ch_now_ns() + 10000000000ull;
  while (!end) {
    if (atomic_load(&m->stop) || ch_now_ns() > deadline || len == sizeof buf - 1)
      return -1;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0)
      continue;
    ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    if (k <= 0)
      return -1;
    len += (size_t)k;
    buf[len] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  memset(r, 0, sizeof *r);
  r->m = m;
  r->fd = fd;
  if (sscanf(buf, "%7s %1023s", r->method, r->target) != 2)
    return -1;
  size_t clen = 0;
  const char *cl = strcasestr(buf, "\r\nContent-Length:");
  if (cl && cl < end)
    clen = strtoul(cl + 17, NULL, 10);
  if (clen >= sizeof r->body)
    return -1;
  size_t have = len - (size_t)(end + 4 - buf);
  memcpy(r->body, end + 4, have < clen ? have : clen);
  while (have < clen) {
    struct pollfd p = {fd, POLLIN, 0};
    if (atomic_load(&m->stop) || poll(&p, 1, 1000) <= 0)
      return -1;
    ssize_t k = recv(fd, r->body + have, clen - have, 0);
    if (k <= 0)
      return -1;
    have += (size_t)k;
  }
  r->body_len = clen;
  char path[1024];
  snprintf(path, sizeof path, "%s", r->target);
  char *q = strchr(path, '?');
  if (q)
    *q = '\0';
  size_t pl = strlen(path);
  r->reconnect = pl >= 10 && strcmp(path + pl - 10, "/reconnect") == 0;
  r->poll = pl >= 5 && strcmp(path + pl - 5, "/poll") == 0;
  return 0;
}

static bool mock_path_is(const struct mock_req *r, const char *suffix) {
  char path[1024];
  snprintf(path, sizeof path, "%s", r->target);
  char *q = strchr(path, '?');
  if (q)
    *q = '\0';
  size_t pl = strlen(path), sl = strlen(suffix);
  return pl >= sl && strcmp(path + pl - sl, suffix) == 0;
}

static bool mock_send(struct mock_req *r) {
  struct mock *m = r->m;
  atomic_fetch_add(&m->sends, 1);
  uv_mutex_lock(&m->lock);
  snprintf(m->last_send_body, sizeof m->last_send_body, "%.*s", (int)r->body_len, r->body);
  uv_mutex_unlock(&m->lock);
  if (m->send_status && m->send_status != 200) {
    mock_reply(r->fd, m->send_status, "text/plain", "boom");
    return true;
  }
  struct ch_buf data = CH_BUF_INIT;
  char id[32] = "0";
  if (ch_form_get(r->body, r->body_len, "data", &data) == 1 && data.data) {
    const char *i = strstr(data.data, "\"I\":");
    if (i) {
      i += 4;
      if (*i == '"')
        i++;
      size_t k = 0;
      while (k < sizeof id - 1 && i[k] >= '0' && i[k] <= '9') {
        id[k] = i[k];
        k++;
      }
      id[k] = '\0';
    }
  }
  ch_buf_free(&data);
  char body[96];
  if (m->send_status == 200)
    snprintf(body, sizeof body, "not json at all");
  else
    snprintf(body, sizeof body, "{\"I\":\"%s\",\"R\":42}", id);
  mock_reply(r->fd, 200, "application/json; charset=UTF-8", body);
  return true;
}

static bool mock_dispatch(struct mock_req *r) {
  struct mock *m = r->m;
  if (mock_path_is(r, "/negotiate")) {
    atomic_fetch_add(&m->negotiates, 1);
    char body[512];
    snprintf(body, sizeof body,
             "{\"Url\":\"/signalr\",\"ConnectionToken\":\"tok+/=\",\"ConnectionId\":\"id1\",\"KeepAliveTimeout\":%.1f,"
             "\"DisconnectTimeout\":30.0,\"ConnectionTimeout\":110.0,\"TryWebSockets\":%s,\"ProtocolVersion\":\"2.0\","
             "\"TransportConnectTimeout\":%.1f,\"LongPollDelay\":0.0}",
             m->keepalive_timeout ? m->keepalive_timeout : 20.0, m->try_websockets ? "true" : "false", m->transport_connect_timeout ? m->transport_connect_timeout : 5.0);
    mock_reply(r->fd, 200, "application/json; charset=UTF-8", body);
    return true;
  }
  if (mock_path_is(r, "/start")) {
    atomic_fetch_add(&m->starts, 1);
    mock_reply(r->fd, 200, "application/json; charset=UTF-8", "{\"Response\":\"started\"}");
    atomic_store(&m->started, true);
    return true;
  }
  if (mock_path_is(r, "/abort")) {
    atomic_fetch_add(&m->aborts, 1);
    mock_reply(r->fd, 200, "text/plain", "");
    return true;
  }
  if (mock_path_is(r, "/send"))
    return mock_send(r);
  if (strstr(r->target, "transport=webSockets")) {
    atomic_fetch_add(&m->ws_connects, 1);
    mock_reply(r->fd, 400, "text/plain", "Not a valid web socket request.");
    return true;
  }
  if (strstr(r->target, "transport=serverSentEvents")) {
    atomic_fetch_add(r->reconnect ? &m->sse_reconnects : &m->sse_connects, 1);
    if (r->reconnect) {
      uv_mutex_lock(&m->lock);
      snprintf(m->last_reconnect_target, sizeof m->last_reconnect_target, "%s", r->target);
      uv_mutex_unlock(&m->lock);
    }
    if (m->sse)
      return m->sse(r);
    mock_reply(r->fd, 404, "text/plain", "no sse");
    return true;
  }
  if (strstr(r->target, "transport=longPolling")) {
    if (r->poll) {
      int n = atomic_fetch_add(&m->lp_polls, 1);
      uv_mutex_lock(&m->lock);
      if (n < 16)
        m->poll_ns[n] = ch_now_ns();
      snprintf(m->last_poll_body, sizeof m->last_poll_body, "%.*s", (int)r->body_len, r->body);
      uv_mutex_unlock(&m->lock);
    } else if (r->reconnect) {
      atomic_fetch_add(&m->lp_reconnects, 1);
      uv_mutex_lock(&m->lock);
      snprintf(m->last_poll_body, sizeof m->last_poll_body, "%.*s", (int)r->body_len, r->body);
      uv_mutex_unlock(&m->lock);
    } else {
      atomic_fetch_add(&m->lp_connects, 1);
    }
    if (m->lp)
      return m->lp(r);
    mock_reply(r->fd, 404, "text/plain", "no long polling");
    return true;
  }
  mock_reply(r->fd, 404, "text/plain", "unknown");
  return true;
}

struct mock_conn {
  struct mock *m;
  int fd;
};

static void mock_conn_thread(void *arg) {
  struct mock_conn *mc = arg;
  int one = 1;
  setsockopt(mc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct mock_req r;
  for (int i = 0; i < 1000 && mock_read_req(mc->fd, &r, mc->m) == 0; i++)
    if (!mock_dispatch(&r))
      break;
  close(mc->fd);
  free(mc);
}

static void mock_accept_thread(void *arg) {
  struct mock *m = arg;
  while (!atomic_load(&m->stop)) {
    struct pollfd p = {m->lfd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0)
      continue;
    int fd = accept(m->lfd, NULL, NULL);
    if (fd < 0)
      continue;
    int n = atomic_load(&m->n_threads);
    struct mock_conn *mc = malloc(sizeof *mc);
    if (n >= MOCK_MAX_THREADS || !mc) {
      free(mc);
      close(fd);
      continue;
    }
    mc->m = m;
    mc->fd = fd;
    if (uv_thread_create(&m->threads[n], mock_conn_thread, mc) != 0) {
      free(mc);
      close(fd);
      continue;
    }
    atomic_store(&m->n_threads, n + 1);
  }
}

static int mock_start(struct mock *m) {
  m->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (m->lfd < 0 || bind(m->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(m->lfd, 64) != 0 ||
      getsockname(m->lfd, (struct sockaddr *)&a, &al) != 0)
    return -1;
  m->port = ntohs(a.sin_port);
  uv_mutex_init(&m->lock);
  return uv_thread_create(&m->acceptor, mock_accept_thread, m);
}

static void mock_stop(struct mock *m) {
  atomic_store(&m->stop, true);
  uv_thread_join(&m->acceptor);
  for (int i = 0; i < atomic_load(&m->n_threads); i++)
    uv_thread_join(&m->threads[i]);
  close(m->lfd);
  uv_mutex_destroy(&m->lock);
}

/* ---------------------------------------------------------------- one observed client */

struct obs {
  uv_mutex_t lock;
  uv_cond_t cond;
  struct mock *m;
  struct ch_url url;
  enum ch_transport transport;
  bool auto_transport;
  bool invoke_on_connect;
  uint32_t reconnect_delay_ms;
  struct ch_client *c;
  int create_rc;
  /* recorded */
  int connected, closed, reconnected, hub_msgs, keepalive_events;
  char last_args[256];
  bool failed;
  struct ch_client_failure fail;
  int completions, comp_status;
  char comp_result[64], comp_error[128];
  enum ch_transport final_transport;
  struct ch_client_counters counters;
};

static void obs_done(struct ch_client *c, const struct ch_completion *r, void *arg) {
  (void)c;
  struct obs *o = arg;
  uv_mutex_lock(&o->lock);
  o->completions++;
  o->comp_status = r->status;
  snprintf(o->comp_result, sizeof o->comp_result, "%.*s", r->result ? (int)r->result_len : 0,
           r->result ? r->result : "");
  snprintf(o->comp_error, sizeof o->comp_error, "%.*s", r->error ? (int)r->error_len : 0, r->error ? r->error : "");
  uv_cond_broadcast(&o->cond);
  uv_mutex_unlock(&o->lock);
}

static void obs_state(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f, void *user) {
  struct obs *o = user;
  if (s == CH_CLIENT_CONNECTED && o->invoke_on_connect && o->connected == 0)
    ch_client_invoke(c, "ResourceEventHub", "SubscribeToPart", "[\"k1\"]", obs_done, o, NULL);
  uv_mutex_lock(&o->lock);
  if (s == CH_CLIENT_CONNECTED)
    o->connected++;
  if (s == CH_CLIENT_CLOSED) {
    o->closed++;
    o->failed = f != NULL;
    if (f)
      o->fail = *f;
    o->final_transport = ch_client_transport(c);
    o->counters = *ch_client_counters(c);
    o->c = NULL;
  }
  uv_cond_broadcast(&o->cond);
  uv_mutex_unlock(&o->lock);
  if (s == CH_CLIENT_CLOSED)
    ch_client_free(c);
}

static void obs_message(struct ch_client *c, const struct ch_hub_msg *m, int hub_index, uint64_t ns, void *user) {
  (void)c, (void)hub_index, (void)ns;
  struct obs *o = user;
  uv_mutex_lock(&o->lock);
  o->hub_msgs++;
  snprintf(o->last_args, sizeof o->last_args, "%.*s", (int)m->args.n, m->args.p);
  uv_cond_broadcast(&o->cond);
  uv_mutex_unlock(&o->lock);
}

static void obs_event(struct ch_client *c, enum ch_client_event e, void *user) {
  (void)c;
  struct obs *o = user;
  uv_mutex_lock(&o->lock);
  if (e == CH_EVENT_RECONNECTED)
    o->reconnected++;
  uv_cond_broadcast(&o->cond);
  uv_mutex_unlock(&o->lock);
}

static void obs_create_task(struct ch_worker *w, void *arg) {
  struct obs *o = arg;
  const char *hubs[] = {"ResourceEventHub"};
  struct ch_client_opts co = {.target = &o->url,
                              .hubs = hubs,
                              .hub_count = 1,
                              .transport = o->transport,
                              .auto_transport = o->auto_transport,
                              .reconnect_delay_ms = o->reconnect_delay_ms ? o->reconnect_delay_ms : 50,
                              .invoke_timeout_ms = 3000,
                              .on_state = obs_state,
                              .on_message = obs_message,
                              .on_event = obs_event,
                              .user = o};
  struct ch_client *c = NULL;
  int rc = ch_client_new(w, &co, &c);
  if (rc == 0)
    rc = ch_client_start(c);
  uv_mutex_lock(&o->lock);
  o->create_rc = rc;
  if (rc == 0)
    o->c = c;
  uv_cond_broadcast(&o->cond);
  uv_mutex_unlock(&o->lock);
}

static void obs_stop_task(struct ch_worker *w, void *arg) {
  (void)w;
  struct obs *o = arg;
  if (o->c)
    ch_client_stop(o->c);
}

/* Waits (bounded) until *field >= n. */
static bool obs_wait(struct obs *o, const int *field, int n, int ms) {
  uint64_t end = ch_now_ns() + (uint64_t)ms * 1000000u;
  uv_mutex_lock(&o->lock);
  while (*field < n && ch_now_ns() < end)
    uv_cond_timedwait(&o->cond, &o->lock, 20000000u);
  bool ok = *field >= n;
  uv_mutex_unlock(&o->lock);
  return ok;
}

struct fx {
  struct mock m;
  struct ch_engine *e;
  struct obs o;
};

/* Starts the mock and a one-worker engine and creates one client. */
static bool fx_start(struct fx *f, size_t max_message) {
  if (mock_start(&f->m) != 0)
    return false;
  struct ch_engine_opts eo = {.workers = 1, .max_message_bytes = max_message};
  if (ch_engine_new(&eo, &f->e, NULL) != 0 || ch_engine_start(f->e, NULL) != 0)
    return false;
  uv_mutex_init(&f->o.lock);
  uv_cond_init(&f->o.cond);
  f->o.m = &f->m;
  f->o.create_rc = 1;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", f->m.port);
  if (ch_url_parse(url, &f->o.url, NULL) != 0)
    return false;
  return ch_engine_post(f->e, 0, obs_create_task, &f->o) == 0;
}

static void fx_stop_client(struct fx *f) {
  ch_engine_post(f->e, 0, obs_stop_task, &f->o);
  obs_wait(&f->o, &f->o.closed, 1, MOCK_WAIT_MS);
}

/* Stops the client and asserts that it ended without a failure. */
static inline void fx_stop_ok(struct fx *f) {
  fx_stop_client(f);
  CU_ASSERT_FALSE(f->o.failed);
}

static void fx_finish(struct fx *f) {
  if (f->e) {
    ch_engine_stop(f->e);
    ch_engine_free(f->e);
  }
  mock_stop(&f->m);
  ch_url_free(&f->o.url);
  uv_cond_destroy(&f->o.cond);
  uv_mutex_destroy(&f->o.lock);
}

/* Zeroes f and sets the client's transport and the endpoint's scripts (NULL: that transport answers 404). */
static inline void fx_init(struct fx *f, enum ch_transport transport, mock_script sse, mock_script lp) {
  memset(f, 0, sizeof *f);
  f->o.transport = transport;
  f->m.sse = sse;
  f->m.lp = lp;
}

/* Starts f's client with one invocation on connect; asserts that it connects, that the invocation completes with the
   mock's result 42 and that the first Update (["k1",1]) arrives. */
static inline void fx_start_invoke_receive(struct fx *f) {
  f->o.invoke_on_connect = true;
  CU_ASSERT_FATAL(fx_start(f, 0));
  CU_ASSERT(obs_wait(&f->o, &f->o.connected, 1, MOCK_WAIT_MS));
  CU_ASSERT(obs_wait(&f->o, &f->o.completions, 1, MOCK_WAIT_MS));
  CU_ASSERT(obs_wait(&f->o, &f->o.hub_msgs, 1, MOCK_WAIT_MS));
  CU_ASSERT_EQUAL(f->o.comp_status, 0);
  CH_ASSERT_STR(f->o.comp_result, "42");
  CH_ASSERT_STR(f->o.last_args, "[\"k1\",1]");
}

/* Asserts that the client ends (bounded wait) with a failure of `category`. */
static inline void fx_assert_fails(struct fx *f, enum ch_failure_category category) {
  CU_ASSERT(obs_wait(&f->o, &f->o.closed, 1, MOCK_WAIT_MS));
  CU_ASSERT(f->o.failed);
  CU_ASSERT_EQUAL(f->o.fail.category, category);
}

#endif /* TEST_FALLBACK_MOCK_H */
