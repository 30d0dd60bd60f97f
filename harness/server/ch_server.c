/* Server lifecycle: options, its own thread and libuv loop, the lws context on that loop (foreign loop), our own
   listening sockets (so SO_REUSEPORT and port 0 work) whose accepted fds are adopted by lws, the global heartbeat,
   and the two-step lws teardown described in notes/lws-libuv-curl.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_srv.h"

static char *dup_or(const char *s, const char *dflt) { return strdup(s ? s : dflt); }

static bool base_ok(const char *b) {
  if (!b || !*b)
    return true;
  size_t n = strlen(b);
  return b[0] == '/' && b[n - 1] != '/' && !strpbrk(b, "?# \t\r\n%");
}

static void tokens_free(struct ch_server_token *t, size_t n) { ch_server_tokens_free(t, n); }

static char **strv_dup(const char *const *v, size_t n) {
  if (!v)
    return NULL;
  char **o = calloc(n + 1, sizeof *o);
  if (!o)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (!(o[i] = strdup(v[i]))) {
      ch_srv_strv_free(o, i);
      return NULL;
    }
  return o;
}

static int tokens_copy(const struct ch_server_token *in, size_t n, struct ch_server_token **out) {
  *out = NULL;
  if (!n)
    return 0;
  struct ch_server_token *t = calloc(n, sizeof *t);
  if (!t)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    t[i].token = strdup(in[i].token);
    t[i].user = strdup(in[i].user);
    t[i].hubs = in[i].hubs;
    t[i].n_parts = in[i].n_parts;
    t[i].n_pipelines = in[i].n_pipelines;
    t[i].parts = (const char *const *)strv_dup(in[i].parts, in[i].n_parts);
    t[i].pipelines = (const char *const *)strv_dup(in[i].pipelines, in[i].n_pipelines);
    if (!t[i].token || !t[i].user || (in[i].parts && !t[i].parts) || (in[i].pipelines && !t[i].pipelines)) {
      tokens_free(t, i + 1);
      return -ENOMEM;
    }
  }
  *out = t;
  return 0;
}

int ch_server_new(const struct ch_server_opts *opts, struct ch_server **out) {
  *out = NULL;
  if (!opts || opts->port < 0 || opts->port > 65535 || opts->control_port < -1 || opts->control_port > 65535 ||
      !base_ok(opts->base) || opts->keepalive_s < 0 || opts->disconnect_timeout_s < 0 ||
      opts->connection_timeout_s < 0 || opts->transport_connect_timeout_s < 0 || (opts->n_tokens && !opts->tokens) ||
      (opts->n_login_users && !opts->login_users) || opts->token_ttl_s < 0)
    return -EINVAL;
  for (size_t i = 0; i < opts->n_tokens; i++)
    if (!opts->tokens[i].token || !opts->tokens[i].token[0] || !opts->tokens[i].user)
      return -EINVAL;
  struct ch_buf tls_err = CH_BUF_INIT;
  int trc = ch_server_tls_check(opts, &tls_err);
  ch_buf_free(&tls_err);
  if (trc)
    return trc;
  struct ch_server *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->o = *opts;
  s->listen_host = dup_or(opts->listen_host, "127.0.0.1");
  s->control_host = dup_or(opts->control_host, "127.0.0.1");
  s->base = dup_or(opts->base, "");
  s->tls_cert = opts->tls_cert ? strdup(opts->tls_cert) : NULL;
  s->tls_key = opts->tls_key ? strdup(opts->tls_key) : NULL;
  s->tls_client_ca = opts->tls_client_ca ? strdup(opts->tls_client_ca) : NULL;
  s->listen_fd = s->control_fd = s->inherited_fd = s->cmd_fd = s->stats_fd = -1;
  s->control_port = -1;
  if (!s->listen_host || !s->control_host || !s->base || (opts->tls_cert && !s->tls_cert) ||
      (opts->tls_key && !s->tls_key) || (opts->tls_client_ca && !s->tls_client_ca) ||
      tokens_copy(opts->tokens, opts->n_tokens, &s->tokens) || ch_srv_login_init(s, opts)) {
    ch_server_free(s);
    return -ENOMEM;
  }
  s->n_tokens = opts->n_tokens;
  s->o.tokens = s->tokens;
  s->o.login_users = s->login;
  s->o.listen_host = s->listen_host;
  s->o.control_host = s->control_host;
  s->o.base = s->base;
  s->o.tls_cert = s->tls_cert;
  s->o.tls_key = s->tls_key;
  s->o.tls_client_ca = s->tls_client_ca;
  if (s->o.keepalive_s == 0)
    s->o.keepalive_s = 10;
  if (s->o.disconnect_timeout_s == 0)
    s->o.disconnect_timeout_s = 30;
  if (s->o.connection_timeout_s == 0)
    s->o.connection_timeout_s = 110;
  if (s->o.transport_connect_timeout_s == 0)
    s->o.transport_connect_timeout_s = 5;
  if (s->o.replay_buffer == 0)
    s->o.replay_buffer = 1000;
  s->keepalive_ns = (uint64_t)(s->o.keepalive_s * 1e9);
  s->disconnect_ns = (uint64_t)(s->o.disconnect_timeout_s * 1e9);
  s->conn_timeout_ns = (uint64_t)(s->o.connection_timeout_s * 1e9);
  *out = s;
  return 0;
}

/* ---- listening sockets ---- */

int ch__bind_listen(const char *host, int port, bool reuse_port, int *fd_out, int *port_out) {
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  if (getaddrinfo(host, ps, &hints, &ai) || !ai)
    return -EINVAL;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = 0, one = 1;
  if (fd < 0)
    rc = -errno;
  if (!rc)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!rc && reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one))
    rc = -errno;
  if (!rc && bind(fd, ai->ai_addr, ai->ai_addrlen))
    rc = -errno;
  if (!rc && listen(fd, 4096))
    rc = -errno;
  freeaddrinfo(ai);
  if (!rc)
    rc = ch__listen_port(fd, port_out);
  if (rc) {
    if (fd >= 0)
      close(fd);
    return rc;
  }
  *fd_out = fd;
  return 0;
}

int ch__listen_port(int fd, int *port_out) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl))
    return -errno;
  *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

static void on_accept(uv_poll_t *h, int status, int events);

static void restart_polls(struct ch_server *s) {
  if (s->listen_poll_on)
    uv_poll_start(&s->listen_poll, UV_READABLE, on_accept);
  if (s->control_poll_on)
    uv_poll_start(&s->control_poll, UV_READABLE, on_accept);
}

static void backoff_cb(uv_timer_t *t) {
  struct ch_server *s = t->data;
  if (!s->stopping)
    restart_polls(s);
}

static void on_accept(uv_poll_t *h, int status, int events) {
  (void)events;
  struct ch_server *s = h->data;
  if (status < 0 || s->stopping)
    return;
  bool control = h == &s->control_poll;
  int lfd = control ? s->control_fd : s->listen_fd;
  for (int i = 0; i < 256; i++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* out of descriptors: pause accepting for a moment instead of spinning */
        uv_poll_stop(&s->listen_poll);
        if (s->control_poll_on)
          uv_poll_stop(&s->control_poll);
        uv_timer_start(&s->accept_backoff, backoff_cb, 100, 0);
      }
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* one vhost for both ports: lws would pick the first vhost on a shared (non-listening) port by Host, so
       control sockets are marked instead and the endpoint callback hands them over */
    /* the control port stays plain on a TLS vhost unless control_tls: adopted without LWS_ADOPT_ALLOW_SSL */
    lws_sock_file_fd_type sfd = {.sockfd = fd};
    lws_adoption_type type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
    if (!control || s->o.control_tls)
      type |= LWS_ADOPT_ALLOW_SSL;
    struct lws *w = lws_adopt_descriptor_vhost(s->vh, type, sfd, NULL, NULL);
    if (!w)
      ch_srv_log(s, "could not adopt an accepted socket%s",
                 type & LWS_ADOPT_ALLOW_SSL && s->o.tls_cert ? " (or its TLS handshake failed at once)" : "");
    else if (control)
      lws_set_opaque_user_data(w, s);
  }
}

/* ---- relay of publishes from the first process (--processes) ---- */

static void cmd_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf) {
  (void)want;
  struct ch_server *s = h->data;
  if (ch_buf_reserve(&s->cmd_buf, 65536)) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(s->cmd_buf.data + s->cmd_buf.len, 65536);
}

static void cmd_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  struct ch_server *s = st->data;
  if (n < 0) {
    uv_read_stop(st);
    return;
  }
  s->cmd_buf.len += (size_t)n;
  char *nl;
  while (s->cmd_buf.len && (nl = memchr(s->cmd_buf.data, '\n', s->cmd_buf.len))) {
    size_t line = (size_t)(nl - s->cmd_buf.data);
    struct ch_buf out = CH_BUF_INIT;
    ch_srv_publish_request(s, s->cmd_buf.data, line, &out);
    ch_buf_free(&out);
    memmove(s->cmd_buf.data, nl + 1, s->cmd_buf.len - line - 1);
    s->cmd_buf.len -= line + 1;
  }
  if (s->cmd_buf.len > 4 * 1024 * 1024)
    ch_buf_reset(&s->cmd_buf);
}

/* ---- the thread ---- */

static void tick_cb(uv_timer_t *t) { ch_srv_tick(t->data); }

static void stop_cb(uv_async_t *a) {
  struct ch_server *s = a->data;
  s->stopping = true;
  if (s->ctx)
    lws_context_destroy(s->ctx); /* first call: starts closing every wsi on our loop */
  ch_srv_jobs_free(s);
  uv_close((uv_handle_t *)&s->tick, NULL);
  uv_close((uv_handle_t *)&s->flush_check, NULL);
  uv_close((uv_handle_t *)&s->accept_backoff, NULL);
  if (s->listen_poll_on)
    uv_close((uv_handle_t *)&s->listen_poll, NULL);
  if (s->control_poll_on)
    uv_close((uv_handle_t *)&s->control_poll, NULL);
  if (s->cmd_pipe_on)
    uv_close((uv_handle_t *)&s->cmd_pipe, NULL);
  ch_srv_siblings_close(s);
  uv_close((uv_handle_t *)&s->stop_async, NULL);
}

static void lws_log_emit(int level, const char *line) {
  (void)level;
  fprintf(stderr, "centro-harness serve (lws): %s", line);
}

static int setup(struct ch_server *s) {
  uint64_t rnd[5];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    for (int i = 0; i < 5; i++)
      rnd[i] = ch_now_ns() * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x632be59bd9b4e019ull + (uint64_t)getpid();
  }
  if (!s->keys_set) {
    s->conn_key[0] = rnd[0];
    s->conn_key[1] = rnd[1];
    s->groups_key[0] = rnd[2];
    s->groups_key[1] = rnd[3];
    snprintf(s->prefix, sizeof s->prefix, "%X", (unsigned)(rnd[4] >> 32));
  }
  ch_rng_seed(&s->rng, rnd[4] ^ (uint64_t)getpid());
  int rc;
  if (s->inherited_fd >= 0) {
    s->listen_fd = s->inherited_fd;
    s->inherited_fd = -1;
    rc = ch__listen_port(s->listen_fd, &s->port);
  } else {
    rc = ch__bind_listen(s->listen_host, s->o.port, s->o.reuse_port, &s->listen_fd, &s->port);
  }
  if (rc)
    return rc;
  if (s->o.control_port >= 0 &&
      (rc = ch__bind_listen(s->control_host, s->o.control_port, false, &s->control_fd, &s->control_port)))
    return rc;
  if (uv_loop_init(&s->loop))
    return -ENOMEM;
  s->loop_on = true;
  lws_set_log_level(LLL_ERR, lws_log_emit);
  size_t pss = ch_srv_http_pss_size() > ch_srv_control_pss_size() ? ch_srv_http_pss_size() : ch_srv_control_pss_size();
  /* a small rx buffer: invocations are tiny; larger messages arrive in pieces and are reassembled. tx_packet_size
     must be set: lws otherwise caps every send at the rx buffer size and finishes a batch over writable turns */
  s->protos[0] = (struct lws_protocols){"signalr", ch_srv_http_callback, pss, 1024, 0, NULL, 262144};
  memset(&s->retry, 0, sizeof s->retry); /* no lws validity pings: O(n) timer inserts, and we beat ourselves */
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  void *loops[] = {&s->loop};
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                 (s->o.tls_cert ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
  info.foreign_loops = loops;
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.user = s;
  info.count_threads = 1;
  info.max_http_header_data = 8192;
  info.timeout_secs = 30;
  s->ctx = lws_create_context(&info);
  if (!s->ctx)
    return -EIO;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.protocols = s->protos;
  info.vhost_name = "signalr";
  info.retry_and_idle_policy = &s->retry;
  info.keepalive_timeout = 60;
  info.timeout_secs = 30;
  ch_srv_tls_vhost_info(s, &info);
  s->vh = lws_create_vhost(s->ctx, &info);
  if (!s->vh)
    return -EIO;
  uv_timer_init(&s->loop, &s->tick);
  s->tick.data = s;
  uint64_t period = (uint64_t)(s->o.keepalive_s * 500);
  uv_timer_start(&s->tick, tick_cb, period ? period : 1, period ? period : 1);
  uv_check_init(&s->loop, &s->flush_check);
  s->flush_check.data = s;
  uv_timer_init(&s->loop, &s->accept_backoff);
  s->accept_backoff.data = s;
  uv_async_init(&s->loop, &s->stop_async, stop_cb);
  s->stop_async.data = s;
  uv_poll_init_socket(&s->loop, &s->listen_poll, s->listen_fd);
  s->listen_poll.data = s;
  s->listen_poll_on = true;
  if (s->control_fd >= 0) {
    uv_poll_init_socket(&s->loop, &s->control_poll, s->control_fd);
    s->control_poll.data = s;
    s->control_poll_on = true;
  }
  restart_polls(s);
  if (s->cmd_fd >= 0 && uv_pipe_init(&s->loop, &s->cmd_pipe, 0) == 0) {
    s->cmd_pipe.data = s;
    if (uv_pipe_open(&s->cmd_pipe, s->cmd_fd) == 0) {
      s->cmd_fd = -1;
      s->cmd_pipe_on = true;
      uv_read_start((uv_stream_t *)&s->cmd_pipe, cmd_alloc, cmd_read);
    } else {
      uv_close((uv_handle_t *)&s->cmd_pipe, NULL);
    }
  }
  ch_srv_siblings_start(s);
  s->last_ka_ns = ch_now_ns();
  return 0;
}

static void teardown(struct ch_server *s) {
  if (s->loop_on) {
    if (s->ctx && !s->stopping) {
      lws_context_destroy(s->ctx); /* failed setup: nothing else of ours is on the loop yet */
      uv_run(&s->loop, UV_RUN_DEFAULT);
    }
    if (s->ctx)
      lws_context_destroy(s->ctx); /* second call on a foreign loop: frees the context */
    s->ctx = NULL;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    s->loop_on = false;
  }
  ch_srv_state_free(s);
  if (s->listen_fd >= 0)
    close(s->listen_fd);
  if (s->control_fd >= 0)
    close(s->control_fd);
  s->listen_fd = s->control_fd = -1;
  ch_buf_free(&s->scratch);
  ch_buf_free(&s->cmd_buf);
}

static void thread_main(void *arg) {
  struct ch_server *s = arg;
  int rc = setup(s);
  s->start_rc = rc;
  if (rc) {
    teardown(s);
    uv_sem_post(&s->ready);
    return;
  }
  uv_sem_post(&s->ready);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  teardown(s);
}

void ch__server_share_keys(struct ch_server *s, const uint64_t keys[15]) {
  memcpy(s->tls_ticket_keys, keys + 5, sizeof s->tls_ticket_keys);
  s->tls_ticket_keys_set = true;
  s->conn_key[0] = keys[0];
  s->conn_key[1] = keys[1];
  s->groups_key[0] = keys[2];
  s->groups_key[1] = keys[3];
  snprintf(s->prefix, sizeof s->prefix, "%X", (unsigned)(keys[4] >> 32));
  s->keys_set = true;
}

int ch_server_start(struct ch_server *s) {
  if (!s || s->started)
    return -EINVAL;
  if (uv_sem_init(&s->ready, 0))
    return -ENOMEM;
  if (uv_thread_create(&s->thread, thread_main, s)) {
    uv_sem_destroy(&s->ready);
    return -EAGAIN;
  }
  uv_sem_wait(&s->ready);
  uv_sem_destroy(&s->ready);
  if (s->start_rc) {
    uv_thread_join(&s->thread);
    return s->start_rc;
  }
  s->started = true;
  ch_srv_log(s, "listening on %s://%s:%d%s/signalr", s->o.tls_cert ? "https" : "http", s->listen_host, s->port,
             s->base);
  return 0;
}

int ch_server_port(const struct ch_server *s) { return s ? s->port : -1; }
int ch_server_control_port(const struct ch_server *s) { return s ? s->control_port : -1; }

void ch_server_stop(struct ch_server *s) {
  /* the exchange makes concurrent or repeated stops join the thread once */
  if (!s || !__atomic_exchange_n(&s->started, false, __ATOMIC_ACQ_REL))
    return;
  uv_async_send(&s->stop_async);
  uv_thread_join(&s->thread);
}

void ch_server_free(struct ch_server *s) {
  if (!s)
    return;
  ch_server_stop(s);
  free(s->listen_host);
  free(s->control_host);
  free(s->base);
  free(s->tls_cert);
  free(s->tls_key);
  free(s->tls_client_ca);
  tokens_free(s->tokens, s->n_tokens);
  ch_srv_login_free(s);
  for (size_t i = 0; i < s->n_relay; i++)
    close(s->relay_fds[i]);
  free(s->relay_fds);
  if (s->cmd_fd >= 0)
    close(s->cmd_fd);
  if (s->stats_fd >= 0)
    close(s->stats_fd);
  for (size_t i = 0; i < s->n_peers; i++) {
    if (s->peers[i].fd >= 0)
      close(s->peers[i].fd);
    ch_buf_free(&s->peers[i].buf);
  }
  free(s->peers);
  if (s->inherited_fd >= 0)
    close(s->inherited_fd);
  free(s);
}
