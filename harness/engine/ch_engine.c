/* ch_engine: worker threads and their loops. See ch_engine.h; the teardown order follows
   shared/notes/lws-libuv-curl.md ("Shutdown order"). */
#include "ch_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "ch_tls.h"
#include "ch_worker.h"

#define ENGINE_MAX_WORKERS 256

static char *engine_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

static bool engine_addr_valid(const char *s) {
  unsigned char tmp[16];
  return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

int ch_engine_new(const struct ch_engine_opts *opts, struct ch_engine **out, struct ch_buf *err) {
  *out = NULL;
  struct ch_engine_opts o = opts ? *opts : (struct ch_engine_opts){0};
  if (o.workers == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o.workers = n > 0 ? (unsigned)n : 1;
  }
  if (o.workers > ENGINE_MAX_WORKERS) {
    if (err)
      ch_buf_printf(err, "--workers: expected 1..%d, found %u", ENGINE_MAX_WORKERS, o.workers);
    return -EINVAL;
  }
  if (o.source_addr_count && !o.source_addrs)
    return -EINVAL;
  for (size_t i = 0; i < o.source_addr_count; i++) {
    if (!o.source_addrs[i] || !engine_addr_valid(o.source_addrs[i])) {
      if (err)
        ch_buf_printf(err, "--source-addresses: expected an IPv4 or IPv6 address, found \"%s\"",
                      o.source_addrs[i] ? o.source_addrs[i] : "(null)");
      return -EINVAL;
    }
  }
  if (!o.max_message_bytes)
    o.max_message_bytes = 1u << 20;
  if (!o.max_http_body_bytes)
    o.max_http_body_bytes = 1u << 20;
  if (!o.connect_window)
    o.connect_window = 16; /* measured: against the lws reference server on 2 cores 16 gave 2.4-5.2k handshakes/s,
                              64 about 1k/s (its per-request latency grows faster than the concurrency) */
  if (!o.ws_rx_buffer)
    o.ws_rx_buffer = 1024;
  if (o.ws_rx_buffer < 128 || o.ws_rx_buffer > (1u << 20)) {
    if (err)
      ch_buf_printf(err, "ws rx buffer: expected 128..1048576 bytes, found %u", o.ws_rx_buffer);
    return -EINVAL;
  }
  if (!o.max_fds) {
    struct rlimit rl;
    o.max_fds = (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1000000)
                    ? (unsigned)rl.rlim_cur
                    : 65536;
  }
  struct ch_engine *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  e->opts = o;
  e->n_workers = o.workers;
  e->workers = calloc(o.workers, sizeof *e->workers);
  if (!e->workers)
    goto nomem;
  if ((o.ca_file && !(e->ca_file = engine_strdup(o.ca_file))) ||
      (o.cert_file && !(e->cert_file = engine_strdup(o.cert_file))) ||
      (o.key_file && !(e->key_file = engine_strdup(o.key_file))) ||
      (o.server_name && !(e->server_name = engine_strdup(o.server_name))))
    goto nomem;
  if (o.source_addr_count) {
    if (!(e->source_addrs = calloc(o.source_addr_count, sizeof(char *))))
      goto nomem;
    for (size_t i = 0; i < o.source_addr_count; i++) {
      if (!(e->source_addrs[i] = engine_strdup(o.source_addrs[i])))
        goto nomem;
      e->source_addr_count = i + 1;
    }
  }
  const char *proxy = getenv("http_proxy");
  e->wss_via_proxy = proxy && *proxy;
  e->opts.ca_file = e->ca_file;
  e->opts.cert_file = e->cert_file;
  e->opts.key_file = e->key_file;
  e->opts.server_name = e->server_name;
  e->opts.source_addrs = (const char *const *)e->source_addrs;
  if (ch__ws_protocols_new(e) != 0)
    goto nomem;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    free(e->protocols);
    e->protocols = NULL;
    goto nomem;
  }
  for (unsigned i = 0; i < e->n_workers; i++) {
    e->workers[i].eng = e;
    e->workers[i].index = i;
  }
  *out = e;
  return 0;
nomem:
  if (e->source_addrs)
    ch_source_addrs_free(e->source_addrs, e->source_addr_count);
  free(e->ca_file);
  free(e->cert_file);
  free(e->key_file);
  free(e->server_name);
  free(e->workers);
  free(e->protocols);
  free(e);
  return -ENOMEM;
}

/* Runs the posted tasks; starts the shutdown once asked. */
static void worker_async_cb(uv_async_t *a) {
  struct ch_worker *w = a->data;
  uv_mutex_lock(&w->qlock);
  struct ch_task *t = w->qhead;
  w->qhead = w->qtail = NULL;
  bool stop = w->stop_requested;
  uv_mutex_unlock(&w->qlock);
  while (t) {
    struct ch_task *next = t->next;
    t->fn(w, t->arg);
    free(t);
    t = next;
  }
  if (!stop || w->stopping)
    return;
  w->stopping = true;
  if (w->eng->opts.on_stop)
    w->eng->opts.on_stop(w, w->eng->opts.on_stop_arg);
  /* 1. clients end (their HTTP requests are cancelled, sockets detached), 2. curl, 3. lws (first destroy call),
     4. our own handles; uv_run then drains and the thread makes the second lws destroy call. */
  ch__client_cancel_all(w);
  ch__http_worker_shutdown(w);
  ch__ws_worker_destroy_begin(w);
  uv_close((uv_handle_t *)&w->async, NULL);
}

static void worker_teardown(struct ch_worker *w) {
  if (w->multi || w->curl_timer_init)
    ch__http_worker_shutdown(w);
  if (w->lws)
    ch__ws_worker_destroy_begin(w);
  if (w->async_init && !uv_is_closing((uv_handle_t *)&w->async))
    uv_close((uv_handle_t *)&w->async, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  ch__ws_worker_destroy_end(w);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&w->loop) != 0 && w->eng->opts.log)
    w->eng->opts.log(3, "engine: a worker loop still had open handles at exit", w->eng->opts.log_user);
  ch__tls_ctx_free(w->tls); /* after the loop drained: every TLS connection is closed */
  w->tls = NULL;
  free(w->tls_rbuf);
  w->tls_rbuf = NULL;
  free(w->dns_host);
  w->dns_host = NULL;
  ch_buf_free(&w->tx_scratch);
  ch_buf_free(&w->scratch);
  ch_buf_free(&w->rx_scratch);
  ch_buf_free(&w->trace);
}

static void worker_main(void *arg) {
  struct ch_worker *w = arg;
  struct ch_buf err = CH_BUF_INIT;
  int rc = uv_loop_init(&w->loop);
  if (rc) {
    snprintf(w->start_msg, sizeof w->start_msg, "worker %u: uv_loop_init: %s", w->index, uv_strerror(rc));
    w->start_err = rc;
    uv_sem_post(&w->ready);
    return;
  }
  w->loop_init = true;
  w->loop.data = w;
  ch__list_init(&w->clients);
  ch__list_init(&w->hs_wait);
  if ((rc = uv_async_init(&w->loop, &w->async, worker_async_cb)) == 0) {
    w->async_init = true;
    w->async.data = w;
  }
  if (!rc && (rc = ch__http_worker_init(w)) != 0)
    ch_buf_printf(&err, "curl multi setup failed");
  if (!rc)
    rc = ch__ws_worker_init(w, &err);
  if (!rc && w->eng->opts.tls) {
    const struct ch_engine_opts *eo = &w->eng->opts;
    struct ch_tls_opts to = {eo->ca_file, eo->cert_file, eo->key_file, eo->server_name, eo->insecure};
    rc = ch__tls_ctx_new(&to, &w->tls, &err);
    if (rc)
      rc = -EINVAL;
  }
  if (rc) {
    snprintf(w->start_msg, sizeof w->start_msg, "worker %u: %s", w->index, err.data ? err.data : uv_strerror(rc));
    w->start_err = rc;
    w->stopping = true;
    worker_teardown(w);
    ch_buf_free(&err);
    uv_sem_post(&w->ready);
    return;
  }
  ch_buf_free(&err);
  uv_sem_post(&w->ready);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  /* The async handle was closed by the shutdown; lws's handles are closed; finish lws and the loop. */
  worker_teardown(w);
}

int ch_engine_start(struct ch_engine *e, struct ch_buf *err) {
  if (e->started)
    return -EALREADY;
  e->started = true;
  /* lws logging is process-wide: keep errors only (its NOTICE lines at context creation are noise here). */
  lws_set_log_level(LLL_ERR, NULL);
  int rc = 0;
  unsigned i;
  for (i = 0; i < e->n_workers; i++) {
    struct ch_worker *w = &e->workers[i];
    if (uv_mutex_init(&w->qlock) != 0 || uv_sem_init(&w->ready, 0) != 0) {
      rc = -ENOMEM;
      break;
    }
    if ((rc = uv_thread_create(&w->thread, worker_main, w)) != 0)
      break;
    w->thread_started = true;
    uv_sem_wait(&w->ready);
    if (w->start_err) {
      rc = w->start_err;
      if (err)
        ch_buf_puts(err, w->start_msg);
      break;
    }
  }
  if (rc) {
    ch_engine_stop(e);
    return rc < 0 ? rc : -rc;
  }
  return 0;
}

int ch_engine_post(struct ch_engine *e, unsigned index, ch_worker_task_cb fn, void *arg) {
  if (!e || index >= e->n_workers || !fn)
    return -EINVAL;
  struct ch_worker *w = &e->workers[index];
  if (!w->thread_started || w->start_err)
    return -ESHUTDOWN;
  struct ch_task *t = malloc(sizeof *t);
  if (!t)
    return -ENOMEM;
  t->fn = fn;
  t->arg = arg;
  t->next = NULL;
  uv_mutex_lock(&w->qlock);
  if (w->stop_requested) {
    uv_mutex_unlock(&w->qlock);
    free(t);
    return -ESHUTDOWN;
  }
  if (w->qtail)
    w->qtail->next = t;
  else
    w->qhead = t;
  w->qtail = t;
  uv_async_send(&w->async);
  uv_mutex_unlock(&w->qlock);
  return 0;
}

void ch_engine_stop(struct ch_engine *e) {
  if (!e || e->stopped)
    return;
  e->stopped = true;
  for (unsigned i = 0; i < e->n_workers; i++) {
    struct ch_worker *w = &e->workers[i];
    if (!w->thread_started)
      continue;
    uv_mutex_lock(&w->qlock);
    w->stop_requested = true;
    if (!w->start_err)
      uv_async_send(&w->async);
    uv_mutex_unlock(&w->qlock);
  }
  for (unsigned i = 0; i < e->n_workers; i++) {
    struct ch_worker *w = &e->workers[i];
    if (!w->thread_started)
      continue;
    uv_thread_join(&w->thread);
    /* Tasks posted but never run (stop raced with post) are dropped. */
    while (w->qhead) {
      struct ch_task *t = w->qhead;
      w->qhead = t->next;
      free(t);
    }
    w->qtail = NULL;
  }
}

void ch_engine_free(struct ch_engine *e) {
  if (!e)
    return;
  ch_engine_stop(e);
  for (unsigned i = 0; i < e->n_workers; i++) {
    struct ch_worker *w = &e->workers[i];
    if (w->loop_init)
      ch__client_free_all(w);
    if (w->thread_started) {
      uv_mutex_destroy(&w->qlock);
      uv_sem_destroy(&w->ready);
    }
  }
  if (e->source_addrs)
    ch_source_addrs_free(e->source_addrs, e->source_addr_count);
  free(e->ca_file);
  free(e->cert_file);
  free(e->key_file);
  free(e->server_name);
  free(e->protocols);
  free(e->workers);
  free(e);
  curl_global_cleanup();
}

unsigned ch_engine_worker_count(const struct ch_engine *e) { return e->n_workers; }
struct uv_loop_s *ch_worker_loop(struct ch_worker *w) { return &w->loop; }
unsigned ch_worker_index(const struct ch_worker *w) { return w->index; }
struct ch_engine *ch_worker_engine(struct ch_worker *w) { return w->eng; }
size_t ch_worker_live_clients(const struct ch_worker *w) { return w->live; }
unsigned ch_worker_handshakes_in_flight(const struct ch_worker *w) { return w->hs_inflight; }
size_t ch_worker_handshakes_queued(const struct ch_worker *w) { return w->hs_waiting; }

/* ---------------------------------------------------------------- --source-addresses */

void ch_source_addrs_free(char **addrs, size_t n) {
  if (!addrs)
    return;
  for (size_t i = 0; i < n; i++)
    free(addrs[i]);
  free(addrs);
}

static int addrs_push(char ***v, size_t *n, size_t *cap, const char *s) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    char **p = realloc(*v, nc * sizeof *p);
    if (!p)
      return -ENOMEM;
    *v = p;
    *cap = nc;
  }
  if (!((*v)[*n] = engine_strdup(s)))
    return -ENOMEM;
  (*n)++;
  return 0;
}

int ch_source_addrs_parse(const char *spec, char ***out, size_t *count, struct ch_buf *err) {
  *out = NULL;
  *count = 0;
  if (!spec || !*spec) {
    if (err)
      ch_buf_puts(err, "--source-addresses: expected a list of addresses or ranges, found an empty value");
    return -EINVAL;
  }
  char **v = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  const char *p = spec;
  char item[128];
  while (*p && !rc) {
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= sizeof item) {
      if (err)
        ch_buf_printf(err, "--source-addresses: expected an address or a range, found \"%.*s\"", (int)len, p);
      rc = -EINVAL;
      break;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    char *dash = strchr(item, '-');
    if (!dash) {
      if (!engine_addr_valid(item)) {
        if (err)
          ch_buf_printf(err, "--source-addresses: expected an IPv4 or IPv6 address, found \"%s\"", item);
        rc = -EINVAL;
      } else {
        rc = addrs_push(&v, &n, &cap, item);
      }
    } else {
      *dash = '\0';
      struct in_addr a, b;
      if (inet_pton(AF_INET, item, &a) != 1 || inet_pton(AF_INET, dash + 1, &b) != 1 ||
          ntohl(a.s_addr) > ntohl(b.s_addr) || ntohl(b.s_addr) - ntohl(a.s_addr) >= 65536) {
        if (err)
          ch_buf_printf(err,
                        "--source-addresses: expected an IPv4 range such as 127.0.0.2-127.0.0.40 (first <= last, at "
                        "most 65536 addresses), found \"%s-%s\"",
                        item, dash + 1);
        rc = -EINVAL;
      } else {
        for (uint32_t x = ntohl(a.s_addr);; x++) {
          struct in_addr ia = {htonl(x)};
          char buf[INET_ADDRSTRLEN];
          inet_ntop(AF_INET, &ia, buf, sizeof buf);
          if ((rc = addrs_push(&v, &n, &cap, buf)) != 0 || x == ntohl(b.s_addr))
            break;
        }
      }
    }
    p += len;
    if (*p == ',')
      p++;
  }
  if (!rc && n > 65536) {
    if (err)
      ch_buf_printf(err, "--source-addresses: at most 65536 addresses, found %zu", n);
    rc = -EINVAL;
  }
  if (rc) {
    ch_source_addrs_free(v, n);
    return rc;
  }
  *out = v;
  *count = n;
  return 0;
}
