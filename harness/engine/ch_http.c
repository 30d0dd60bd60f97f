/* ch_http: curl multi on the worker's libuv loop. See ch_http.h. */
#include "ch_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "ch_clock.h"
#include "ch_worker.h"

#define HTTP_DEFAULT_MAX_BODY (1u << 20)
#define HTTP_MAX_CACHED_CONNS 32

struct ch_http_req {
  struct ch_link link;
  struct ch_worker *w;
  CURL *easy;
  struct curl_slist *headers;
  struct ch_buf body;
  size_t max_body;
  bool too_big;
  bool streaming;
  ch_http_data_cb on_data;
  ch_http_done_cb done;
  void *arg;
  uint64_t start_ns;
  char *iface; /* "host!<addr>" for CURLOPT_INTERFACE */
  char *url;   /* the URL with server_name as its host (NULL: o->url as given) */
  struct curl_slist *connect_to; /* server_name:port -> the URL's host:port */
  void *tls_owner;
  int tls_how; /* -1 unknown; else the enum ch_tls_resume of the connection, read before the request went out */
  char errbuf[CURL_ERROR_SIZE];
};

struct http_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  struct ch_worker *w;
};

static void http_check_done(struct ch_worker *w);

static void http_sock_closed(uv_handle_t *h) { free(h->data); }

static void http_poll_cb(uv_poll_t *p, int status, int events) {
  struct http_sock *s = p->data;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  struct ch_worker *w = s->w;
  curl_multi_socket_action(w->multi, s->fd, flags, &running);
  http_check_done(w);
}

static int http_socket_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp) {
  (void)easy;
  struct ch_worker *w = userp;
  struct http_sock *s = socketp;
  if (action == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, http_sock_closed);
      curl_multi_assign(w->multi, fd, NULL);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s)
      return -1;
    s->fd = fd;
    s->w = w;
    if (uv_poll_init_socket(&w->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->poll.data = s;
    curl_multi_assign(w->multi, fd, s);
  }
  int ev = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
    ev |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
    ev |= UV_WRITABLE;
  uv_poll_start(&s->poll, ev, http_poll_cb);
  return 0;
}

static void http_timer_fire(uv_timer_t *t) {
  struct ch_worker *w = t->data;
  int running;
  curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  http_check_done(w);
}

static int http_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  struct ch_worker *w = userp;
  if (timeout_ms < 0) {
    uv_timer_stop(&w->curl_timer);
  } else {
    /* Never call socket_action from inside this callback: a zero timeout becomes 1 ms (multi-uv.c). */
    uv_timer_start(&w->curl_timer, http_timer_fire, timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0);
  }
  return 0;
}

int ch__http_worker_init(struct ch_worker *w) {
  ch__list_init(&w->reqs);
  w->multi = curl_multi_init();
  if (!w->multi)
    return -ENOMEM;
  if (uv_timer_init(&w->loop, &w->curl_timer) != 0)
    return -EIO;
  w->curl_timer_init = true;
  w->curl_timer.data = w;
  unsigned window = w->eng->opts.connect_window;
  curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
  curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
  curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
  curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
  /* curl 7.88 counts busy connections against MAXCONNECTS and walks them all whenever a request ends, and a per-host
     cap would park every SSE stream and held poll beyond it: so no host cap, a cache as large as the descriptor
     budget, and streams on connections of their own that never enter the cache (ch_http_start). */
  unsigned max_fds = w->eng->opts.max_fds ? w->eng->opts.max_fds : 20000;
  curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)(max_fds > HTTP_MAX_CACHED_CONNS ? max_fds
                                                                                          : HTTP_MAX_CACHED_CONNS));
  /* TLS sessions per worker: negotiate, start, abort, SSE and long polling connections resume rather than repeat
     the full handshake (the share is this thread's alone, so it needs no lock functions) */
  if (!(w->share = curl_share_init()) || curl_share_setopt(w->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION))
    return -ENOMEM;
  w->hello_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); /* -1: miss causes of curl's unknown */
  w->easy_pool_cap = window < 16 ? 16 : window;
  w->easy_pool = calloc(w->easy_pool_cap, sizeof *w->easy_pool);
  return w->easy_pool ? 0 : -ENOMEM;
}

static void http_req_release(struct ch_http_req *r) {
  struct ch_worker *w = r->w;
  ch__list_del(&r->link);
  curl_multi_remove_handle(w->multi, r->easy);
  if (!w->stopping && w->easy_pool_n < w->easy_pool_cap) {
    curl_easy_reset(r->easy);
    w->easy_pool[w->easy_pool_n++] = r->easy;
  } else {
    curl_easy_cleanup(r->easy);
  }
  curl_slist_free_all(r->headers);
  curl_slist_free_all(r->connect_to);
  ch_buf_free(&r->body);
  free(r->iface);
  free(r->url);
  free(r);
}

void ch__http_worker_shutdown(struct ch_worker *w) {
  while (!ch__list_empty(&w->reqs))
    http_req_release(ch__container_of(w->reqs.next, struct ch_http_req, link));
  for (size_t i = 0; i < w->easy_pool_n; i++)
    curl_easy_cleanup(w->easy_pool[i]);
  w->easy_pool_n = 0;
  free(w->easy_pool);
  w->easy_pool = NULL;
  if (w->multi) {
    curl_multi_cleanup(w->multi); /* its REMOVE callbacks close our polls */
    w->multi = NULL;
  }
  if (w->share) { /* after every easy handle and connection that used it */
    curl_share_cleanup(w->share);
    w->share = NULL;
  }
  if (w->hello_idx > 0)
    CRYPTO_free_ex_index(CRYPTO_EX_INDEX_SSL, w->hello_idx);
  w->hello_idx = -1;
  if (w->curl_timer_init) {
    uv_timer_stop(&w->curl_timer);
    uv_close((uv_handle_t *)&w->curl_timer, NULL);
    w->curl_timer_init = false;
  }
}

static size_t http_write_cb(char *p, size_t size, size_t nmemb, void *arg) {
  struct ch_http_req *r = arg;
  size_t n = size * nmemb;
  if (r->on_data)
    return r->on_data(r, p, n, r->arg) == 0 ? n : 0;
  if (r->body.len + n > r->max_body) {
    r->too_big = true;
    return 0;
  }
  return ch_buf_append(&r->body, p, n) == 0 ? n : 0;
}

static void http_finish(struct ch_http_req *r, CURLcode code) {
  struct ch_http_result res;
  memset(&res, 0, sizeof res);
  res.curl_code = (int)code;
  res.error = code == CURLE_OK ? NULL : (r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
  if (r->too_big)
    res.error = "body larger than the limit";
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
  char *ct = NULL, *loc = NULL;
  curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
  curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &loc);
  res.content_type = ct;
  res.location = loc;
  res.body = r->on_data ? NULL : (r->body.data ? r->body.data : "");
  res.body_len = r->body.len;
  res.body_too_big = r->too_big;
  res.start_ns = r->start_ns;
  res.end_ns = ch_now_ns();
  curl_off_t conn_us = 0;
  curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &conn_us);
  if (conn_us > 0)
    res.connect_ns = r->start_ns + (uint64_t)conn_us * 1000u;
  curl_off_t app_us = 0;
  long new_conns = 0;
  curl_easy_getinfo(r->easy, CURLINFO_APPCONNECT_TIME_T, &app_us);
  curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &new_conns);
  if (r->tls_owner && r->tls_how >= 0 && new_conns > 0 && app_us >= conn_us)
    ch__client_tls(r->tls_owner, (enum ch_tls_resume)r->tls_how, (uint64_t)(app_us - conn_us) * 1000u);
  r->done(r, &res, r->arg);
  http_req_release(r);
}

/* curl's own new-session callback, wrapped (see http_ssl_ctx): it caches a copy, since OpenSSL marks the session
   a connection holds not resumable when curl frees that connection without a close_notify (a server closing an idle
   keep-alive connection, a stream cut off), which would leave the share holding sessions no server resumes. */
static int http_new_session(SSL *ssl, SSL_SESSION *sess) {
  int (*curl_cb)(SSL *, SSL_SESSION *) = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  SSL_SESSION *copy = curl_cb ? SSL_SESSION_dup(sess) : NULL;
  if (copy && !curl_cb(ssl, copy))
    SSL_SESSION_free(copy);
  return 0;
}

/* What the ClientHello offered, kept in the SSL's ex data at the worker's index (curl keeps its filter in the app
   data): the address of one of these constants. */
static const char http_hello_offered = 'o', http_hello_none = 'n', http_hello_expired = 'e';

/* Sees the connection's ClientHello go out: whether curl set a session OpenSSL offers; then stops listening. */
static void http_tls_msg(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
                         void *arg) {
  (void)version;
  const struct ch_worker *w = arg;
  if (!write_p || content_type != SSL3_RT_HANDSHAKE || len < 1 || ((const unsigned char *)buf)[0] != SSL3_MT_CLIENT_HELLO)
    return;
  const SSL_SESSION *s = SSL_get_session(ssl);
  /* a fresh connection's placeholder session is not resumable: that is "none" */
  const char *mark = !s || !SSL_SESSION_is_resumable(s)                ? &http_hello_none
                     : ch__tls_session_fresh(s, (long)time(NULL)) ? &http_hello_offered
                                                                        : &http_hello_expired;
  SSL_set_ex_data(ssl, w->hello_idx, (void *)mark);
  SSL_set_msg_callback(ssl, NULL); /* the first hello is the one that offered or not */
}

/* curl calls this last while setting up a connection's SSL_CTX (one per connection in 7.88). */
static CURLcode http_ssl_ctx(CURL *easy, void *sslctx, void *arg) {
  (void)easy;
  struct ch_worker *w = arg;
  SSL_CTX *ctx = sslctx;
  int (*curl_cb)(SSL *, SSL_SESSION *) = SSL_CTX_sess_get_new_cb(ctx);
  if (curl_cb && curl_cb != http_new_session && SSL_CTX_set_app_data(ctx, (void *)curl_cb) == 1)
    SSL_CTX_sess_set_new_cb(ctx, http_new_session);
  if (w->hello_idx > 0) { /* the worker outlives its connections: curl_multi_cleanup closes them first */
    SSL_CTX_set_msg_callback(ctx, http_tls_msg);
    SSL_CTX_set_msg_callback_arg(ctx, w);
  }
  return CURLE_OK;
}

/* Called once the connection (TLS included) is up, before the request is sent: whether its handshake resumed. */
static int http_prereq_cb(void *arg, char *ip, char *local_ip, int port, int local_port) {
  (void)ip, (void)local_ip, (void)port, (void)local_port;
  struct ch_http_req *r = arg;
  struct curl_tlssessioninfo *ti = NULL;
  if (curl_easy_getinfo(r->easy, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
      ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals)
  {
    SSL *ssl = ti->internals;
    const void *mark = r->w->hello_idx > 0 ? SSL_get_ex_data(ssl, r->w->hello_idx) : NULL;
    r->tls_how = SSL_session_reused(ssl) == 1    ? CH_TLS_RESUMED
                 : mark == &http_hello_offered ? CH_TLS_MISS_REJECTED
                 : mark == &http_hello_expired ? CH_TLS_MISS_EXPIRED
                                               : CH_TLS_MISS_NO_SESSION;
  }
  return CURL_PREREQFUNC_OK;
}

/* server_name: the URL names it (so curl sends it as SNI and verifies it) and CONNECT_TO sends the connection to the
   URL's own host; the Host header stays the URL's. 0, or -ENOMEM (then nothing changed). */
static int http_server_name(struct ch_http_req *r, const char *url, const char *name) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
  int rc = -ENOMEM;
  if (!u || curl_url_set(u, CURLUPART_URL, url, 0) || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0)) {
    rc = u ? 0 : -ENOMEM; /* not a URL curl parses: curl reports it */
    goto out;
  }
  if (strcmp(scheme, "https") != 0) {
    rc = 0;
    goto out;
  }
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ||
      curl_url_set(u, CURLUPART_HOST, name, 0) || curl_url_get(u, CURLUPART_URL, &out, 0))
    goto out;
  struct ch_buf b = CH_BUF_INIT;
  struct curl_slist *h;
  if (ch_buf_printf(&b, "%s:%s:%s:%s", name, port, host, port) < 0 ||
      !(r->connect_to = curl_slist_append(NULL, b.data)))
    goto out_b;
  ch_buf_reset(&b);
  bool defport = !strcmp(port, "443");
  if (ch_buf_printf(&b, "Host: %s%s%s", host, defport ? "" : ":", defport ? "" : port) < 0 ||
      !(h = curl_slist_append(r->headers, b.data)))
    goto out_b;
  r->headers = h;
  if (!(r->url = malloc(strlen(out) + 1)))
    goto out_b;
  memcpy(r->url, out, strlen(out) + 1);
  rc = 0;
out_b:
  ch_buf_free(&b);
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(out);
  curl_url_cleanup(u);
  return rc;
}

static void http_check_done(struct ch_worker *w) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(w->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    struct ch_http_req *r = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r)
      http_finish(r, m->data.result);
  }
}

int ch_http_start(struct ch_worker *w, const struct ch_http_opts *o, struct ch_http_req **out) {
  if (out)
    *out = NULL;
  if (!o || !o->url || !o->done)
    return -EINVAL;
  if (w->stopping)
    return -ESHUTDOWN;
  struct ch_http_req *r = calloc(1, sizeof *r);
  if (!r)
    return -ENOMEM;
  r->w = w;
  ch__list_init(&r->link);
  r->easy = w->easy_pool_n ? w->easy_pool[--w->easy_pool_n] : curl_easy_init();
  if (!r->easy) {
    free(r);
    return -ENOMEM;
  }
  r->max_body = o->max_body ? o->max_body : HTTP_DEFAULT_MAX_BODY;
  r->on_data = o->on_data;
  r->done = o->done;
  r->arg = o->arg;
  CURL *e = r->easy;
  int rc = 0;
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, o->on_data ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, o->on_data ? 1L : 0L);
  struct ch_buf hb = CH_BUF_INIT;
  if (o->auth_header) {
    if (ch_buf_printf(&hb, "Authorization: %s", o->auth_header) < 0)
      rc = -ENOMEM;
    else if (!(r->headers = curl_slist_append(r->headers, hb.data)))
      rc = -ENOMEM;
    ch_buf_reset(&hb);
  }
  if (!rc && o->accept) {
    struct curl_slist *h;
    if (ch_buf_printf(&hb, "Accept: %s", o->accept) < 0 || !(h = curl_slist_append(r->headers, hb.data)))
      rc = -ENOMEM;
    else
      r->headers = h;
    ch_buf_reset(&hb);
  }
  if (!rc && o->post) {
    struct curl_slist *h = curl_slist_append(r->headers, "Expect:");
    if (h)
      r->headers = h;
    if (h && o->content_type) {
      if (ch_buf_printf(&hb, "Content-Type: %s", o->content_type) < 0 || !(h = curl_slist_append(r->headers, hb.data)))
        h = NULL;
      else
        r->headers = h;
    }
    if (!h)
      rc = -ENOMEM;
  }
  ch_buf_free(&hb);
  if (!rc && w->eng->server_name)
    rc = http_server_name(r, o->url, w->eng->server_name);
  if (!rc && o->source_addr) {
    size_t n = strlen(o->source_addr) + 6;
    if (!(r->iface = malloc(n)))
      rc = -ENOMEM;
    else
      snprintf(r->iface, n, "host!%s", o->source_addr);
  }
  if (rc) {
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->connect_to);
    curl_easy_cleanup(r->easy);
    free(r->iface);
    free(r->url);
    free(r);
    return rc;
  }
  const struct ch_engine *eng = w->eng;
  curl_easy_setopt(e, CURLOPT_URL, r->url ? r->url : o->url);
  if (r->connect_to)
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "centro-harness/" CH_VERSION);
  if (r->headers)
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  if (o->timeout_ms)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
  if (o->connect_timeout_ms || o->timeout_ms)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_ms ? o->connect_timeout_ms : o->timeout_ms));
  if (o->post) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(o->body ? o->body_len : 0));
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "");
  }
  if (eng->opts.insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (eng->ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, eng->ca_file);
  if (eng->cert_file) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, eng->cert_file);
    curl_easy_setopt(e, CURLOPT_SSLKEY, eng->key_file ? eng->key_file : eng->cert_file);
  }
  curl_easy_setopt(e, CURLOPT_SHARE, w->share);
  r->tls_owner = o->tls_owner;
  r->tls_how = -1;
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, http_prereq_cb);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, http_ssl_ctx);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, w);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, r);
  if (r->iface)
    curl_easy_setopt(e, CURLOPT_INTERFACE, r->iface);
  r->start_ns = ch_now_ns();
  ch__list_push(&w->reqs, &r->link);
  if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
    ch__list_del(&r->link);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->connect_to);
    curl_easy_cleanup(r->easy);
    free(r->iface);
    free(r->url);
    free(r);
    return -ENOMEM;
  }
  if (out)
    *out = r;
  return 0;
}

void ch_http_cancel(struct ch_http_req *r) {
  if (r)
    http_req_release(r);
}

size_t ch_http_in_flight(const struct ch_worker *w) {
  size_t n = 0;
  for (const struct ch_link *l = w->reqs.next; l != &w->reqs; l = l->next)
    n++;
  return n;
}
