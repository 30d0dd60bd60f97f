/* A SignalR probe session: negotiate, connect on one transport, start, invoke, receive, abort, reconnect.
   Everything is blocking with deadlines; the receive channel of serverSentEvents is a curl multi stream pumped
   only while the session waits, which is enough because the server buffers what it sends meanwhile. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"
#include "ch_json.h"
#include "ch_url.h"

static long left_ms(uint64_t deadline) {
  uint64_t now = ch_now_ns();
  return now >= deadline ? 0 : (long)((deadline - now) / 1000000u) + 1;
}

static uint64_t deadline_in(long ms) { return ch_now_ns() + (uint64_t)(ms > 0 ? ms : 0) * 1000000u; }

static void q_push(struct ch_msgq *q, const struct ch_buf *m) {
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 16;
    struct ch_buf *items = malloc(cap * sizeof *items);
    if (!items)
      return;
    for (size_t i = 0; i < q->n; i++)
      items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->cap = cap;
    q->head = 0;
  }
  struct ch_buf c = CH_BUF_INIT;
  if (ch_buf_append(&c, m->data ? m->data : "", m->len) != 0) {
    ch_buf_free(&c);
    return;
  }
  q->items[(q->head + q->n++) % q->cap] = c;
}

/* Moves the oldest message into out (replacing its contents). false when the queue is empty. */
static bool q_pop(struct ch_msgq *q, struct ch_buf *out) {
  if (!q->n)
    return false;
  struct ch_buf *m = &q->items[q->head];
  ch_buf_reset(out);
  ch_buf_append(out, m->data ? m->data : "", m->len);
  ch_buf_free(m);
  q->head = (q->head + 1) % q->cap;
  q->n--;
  return true;
}

static void q_free(struct ch_msgq *q) {
  while (q->n) {
    ch_buf_free(&q->items[q->head]);
    q->head = (q->head + 1) % q->cap;
    q->n--;
  }
  free(q->items);
  memset(q, 0, sizeof *q);
}

void ch_sess_init(struct ch_sess *s, struct ch_chk_ctx *cx, unsigned transport, const char *auth,
                  const struct ch_chk_hub *hub) {
  memset(s, 0, sizeof *s);
  s->cx = cx;
  s->transport = transport;
  s->auth = auth;
  s->hub = hub;
  s->ws.fd = CURL_SOCKET_BAD;
  s->last = (struct ch_http)CH_HTTP_INIT;
  snprintf(s->client, sizeof s->client, "c%u", ++cx->nclients);
  struct ch_buf cd = CH_BUF_INIT, enc = CH_BUF_INIT;
  ch_buf_printf(&cd, "[{\"name\":\"%s\"}]", hub->name);
  ch_pct_encode(&enc, cd.data, cd.len);
  s->cdata = ch_buf_steal(&enc);
  ch_buf_free(&cd);
  ch_buf_free(&enc);
}

static void set_str(char **dst, const char *v) {
  free(*dst);
  *dst = v ? strdup(v) : NULL;
}

/* Tracks C and G of a persistent response. */
static void track(struct ch_sess *s, const cJSON *j) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "C");
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "G");
  if (cJSON_IsString(c) && c->valuestring[0])
    set_str(&s->cursor, c->valuestring);
  if (cJSON_IsString(g)) {
    set_str(&s->groups, g->valuestring);
    ch_chk_secret_add(s->cx, g->valuestring);
  }
}

/* One request of this session, remembered (method, URL and body) for evidence; res NULL = into s->last. */
static int sess_http(struct ch_sess *s, const char *method, const char *url, const char *body, struct ch_http *res) {
  snprintf(s->last_url, sizeof s->last_url, "%s%s%s", url, body && *body ? "\n\n" : "", body ? body : "");
  s->last_method = method;
  return ch_chk_http(s->cx, s->client, method, url, s->auth, body, 0, res ? res : &s->last);
}

int ch_sess_negotiate(struct ch_sess *s) {
  struct ch_buf url = CH_BUF_INIT;
  ch_buf_printf(&url, "%s/negotiate?clientProtocol=2.1&connectionData=%s", s->cx->base, s->cdata);
  int rc = sess_http(s, "GET", url.data, NULL, NULL);
  ch_buf_free(&url);
  if (rc)
    return rc;
  if (s->last.status != 200)
    return -EACCES;
  cJSON_Delete(s->negotiate);
  s->negotiate = ch_chk_json(s->cx, s->last.body.data, s->last.body.len);
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(s->negotiate, "ConnectionToken");
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(s->negotiate, "Url");
  const cJSON *ka = cJSON_GetObjectItemCaseSensitive(s->negotiate, "KeepAliveTimeout");
  if (!cJSON_IsString(tok) || !tok->valuestring[0])
    return -EPROTO;
  ch_chk_secret_add(s->cx, tok->valuestring);
  struct ch_buf enc = CH_BUF_INIT;
  ch_pct_encode(&enc, tok->valuestring, strlen(tok->valuestring));
  free(s->token_enc);
  s->token_enc = ch_buf_steal(&enc);
  ch_buf_free(&enc);
  /* Url is what connect uses; fall back to our own path when it is missing (NEG-003 reports that) */
  set_str(&s->url_path, cJSON_IsString(u) && u->valuestring[0] == '/' ? u->valuestring : s->cx->path);
  s->ka_timeout = cJSON_IsNumber(ka) ? ka->valuedouble : 0;
  return 0;
}

int ch_sess_url(struct ch_sess *s, struct ch_buf *out, const char *cmd, bool use_base, const char *extra) {
  ch_buf_reset(out);
  if (use_base)
    ch_buf_printf(out, "%s/%s", s->cx->base, cmd);
  else
    ch_buf_printf(out, "%s%s/%s", s->cx->origin, s->url_path ? s->url_path : s->cx->path, cmd);
  return ch_buf_printf(out, "?transport=%s&clientProtocol=2.1&connectionToken=%s&connectionData=%s%s",
                       ch_tmask_name(s->transport), s->token_enc ? s->token_enc : "", s->cdata, extra ? extra : "");
}

/* The reconnect/poll parameters: "&groupsToken=G&messageId=C" for a query (the JS order), "messageId=C&groupsToken=G"
   for a long-polling form body. Absent values are left out. */
static void append_tokens(const struct ch_sess *s, struct ch_buf *out, bool query) {
  const char *names[2] = {query ? "groupsToken" : "messageId", query ? "messageId" : "groupsToken"};
  const char *vals[2] = {query ? s->groups : s->cursor, query ? s->cursor : s->groups};
  struct ch_buf enc = CH_BUF_INIT;
  for (int i = 0; i < 2; i++) {
    if (!vals[i])
      continue;
    ch_buf_reset(&enc);
    ch_pct_encode(&enc, vals[i], strlen(vals[i]));
    ch_buf_printf(out, "%s%s=%s", query || out->len ? "&" : "", names[i], enc.data);
  }
  ch_buf_free(&enc);
}

/* ---- serverSentEvents stream ---- */

static size_t sse_body(char *p, size_t sz, size_t nm, void *ud) {
  struct ch_sess *s = ud;
  ch_buf_append(&s->sse_buf, p, sz * nm);
  return sz * nm;
}

/* Pops one complete event's data from sse_buf into out. 1 when one was there. */
static int sse_take(struct ch_sess *s, struct ch_buf *out) {
  char *d = s->sse_buf.data;
  if (!d)
    return 0;
  size_t n = s->sse_buf.len, end = 0, next = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (d[i] == '\n' && d[i + 1] == '\n') {
      end = i, next = i + 2;
      break;
    }
    if (i + 3 < n && memcmp(d + i, "\r\n\r\n", 4) == 0) {
      end = i, next = i + 4;
      break;
    }
  }
  if (!next)
    return 0;
  ch_buf_reset(out);
  size_t i = 0;
  while (i < end) {
    size_t e = i;
    while (e < end && d[e] != '\n' && d[e] != '\r')
      e++;
    if (e - i >= 5 && memcmp(d + i, "data:", 5) == 0) {
      size_t a = i + 5 + (e - i > 5 && d[i + 5] == ' ');
      if (out->len)
        ch_buf_putc(out, '\n');
      ch_buf_append(out, d + a, e - a);
    }
    i = e;
    while (i < end && (d[i] == '\n' || d[i] == '\r'))
      i++;
  }
  if (!out->data)
    ch_buf_puts(out, "");
  ch_chk_tx(s->cx, s->client, "in", "sse", out->data, out->len);
  memmove(d, d + next, n - next);
  s->sse_buf.len = n - next;
  d[s->sse_buf.len] = '\0';
  return 1;
}

/* Pumps the stream until an event is available or the deadline. 1 event, 0 timeout, -EPIPE stream ended. */
static int sse_next(struct ch_sess *s, uint64_t deadline, struct ch_buf *out) {
  for (;;) {
    if (sse_take(s, out))
      return 1;
    if (!s->sse_open)
      return -EPIPE;
    int running = 0;
    curl_multi_perform(s->multi, &running);
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left))) {
      if (m->msg == CURLMSG_DONE) {
        s->last.cc = m->data.result;
        s->sse_open = false;
      }
    }
    curl_easy_getinfo(s->sse, CURLINFO_RESPONSE_CODE, &s->last.status);
    if (s->last.status && s->last.status != 200) {
      /* not a stream: keep the answer as evidence */
      while (s->sse_open && left_ms(deadline)) {
        curl_multi_poll(s->multi, NULL, 0, (int)left_ms(deadline), NULL);
        curl_multi_perform(s->multi, &running);
        if (!running)
          s->sse_open = false;
      }
      ch_buf_reset(&s->last.body);
      ch_buf_append(&s->last.body, s->sse_buf.data ? s->sse_buf.data : "", s->sse_buf.len);
      ch_chk_tx(s->cx, s->client, "in", "sse", s->sse_buf.data ? s->sse_buf.data : "", s->sse_buf.len);
      return -EACCES;
    }
    if (sse_take(s, out))
      return 1;
    if (!s->sse_open || !running) {
      s->sse_open = false;
      return -EPIPE;
    }
    long ms = left_ms(deadline);
    if (ms == 0)
      return 0;
    curl_multi_poll(s->multi, NULL, 0, (int)(ms < 100 ? ms : 100), NULL);
  }
}

static void sse_close(struct ch_sess *s) {
  if (s->sse) {
    curl_multi_remove_handle(s->multi, s->sse);
    curl_easy_cleanup(s->sse);
    s->sse = NULL;
  }
  if (s->multi) {
    curl_multi_cleanup(s->multi);
    s->multi = NULL;
  }
  curl_slist_free_all(s->sse_hdrs);
  s->sse_hdrs = NULL;
  ch_buf_free(&s->sse_buf);
  s->sse_open = false;
}

static int sse_open(struct ch_sess *s, const char *url) {
  s->multi = curl_multi_init();
  s->sse = curl_easy_init();
  if (!s->multi || !s->sse)
    return -ENOMEM;
  if (s->auth)
    s->sse_hdrs = curl_slist_append(s->sse_hdrs, s->auth);
  s->sse_hdrs = curl_slist_append(s->sse_hdrs, "Accept: text/event-stream");
  curl_easy_setopt(s->sse, CURLOPT_URL, url);
  curl_easy_setopt(s->sse, CURLOPT_HTTPHEADER, s->sse_hdrs);
  ch_chk_curl_common(s->cx, s->sse);
  curl_easy_setopt(s->sse, CURLOPT_CONNECTTIMEOUT_MS, s->cx->timeout_ms);
  curl_easy_setopt(s->sse, CURLOPT_WRITEFUNCTION, sse_body);
  curl_easy_setopt(s->sse, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(s->sse, CURLOPT_USERAGENT, "centro-harness-check/" CH_VERSION);
  ch_chk_tx(s->cx, s->client, "out", "sse", url, strlen(url));
  curl_multi_add_handle(s->multi, s->sse);
  s->sse_open = true;
  s->last.status = 0;
  return 0;
}

/* ---- long polling: one poll is always held, like the JS client, so subscription changes made by /send travel
   as a groups token on the held poll (the server rebuilds groups from the token of every poll, §4.3) ---- */

static void note_keepalive(struct ch_sess *s);

/* The server ended the receive channel without being asked: the first time is kept for CON-008 and evidence. */
static void note_server_close(struct ch_sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_server_close(struct ch_sess *s, const char *fmt, ...) {
  if (!s->connected || s->closing || s->server_close[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->server_close, sizeof s->server_close, fmt, ap);
  va_end(ap);
  s->server_close_ns = ch_now_ns();
}

static size_t lp_body(char *p, size_t sz, size_t nm, void *ud) {
  struct ch_sess *s = ud;
  size_t n = sz * nm, i = 0;
  while (i < n && p[i] == ' ')
    i++;
  if (n && i == n)
    note_keepalive(s); /* a keep-alive space written into the held poll */
  ch_buf_append(&s->sse_buf, p, n);
  return n;
}

/* Starts a held request (poll, or reconnect) carrying the latest messageId and groupsToken in the form body, and
   pumps until it is written, so the server holds it before anything else this session sends. */
static int lp_start(struct ch_sess *s, const char *cmd) {
  struct ch_buf url = CH_BUF_INIT, body = CH_BUF_INIT;
  if (!s->multi && !(s->multi = curl_multi_init()))
    return -ENOMEM;
  if (s->sse) {
    curl_multi_remove_handle(s->multi, s->sse);
    curl_easy_cleanup(s->sse);
  }
  if (!(s->sse = curl_easy_init()))
    return -ENOMEM;
  if (!s->sse_hdrs) {
    if (s->auth)
      s->sse_hdrs = curl_slist_append(s->sse_hdrs, s->auth);
    s->sse_hdrs = curl_slist_append(s->sse_hdrs, "Content-Type: application/x-www-form-urlencoded; charset=UTF-8");
  }
  ch_sess_url(s, &url, cmd, false, NULL);
  append_tokens(s, &body, false);
  snprintf(s->last_url, sizeof s->last_url, "%s\n\n%s", url.data, body.data ? body.data : "");
  s->last_method = "POST";
  ch_buf_reset(&s->sse_buf);
  curl_easy_setopt(s->sse, CURLOPT_URL, url.data);
  curl_easy_setopt(s->sse, CURLOPT_HTTPHEADER, s->sse_hdrs);
  curl_easy_setopt(s->sse, CURLOPT_POST, 1L);
  curl_easy_setopt(s->sse, CURLOPT_COPYPOSTFIELDS, body.data ? body.data : "");
  ch_chk_curl_common(s->cx, s->sse);
  curl_easy_setopt(s->sse, CURLOPT_CONNECTTIMEOUT_MS, s->cx->timeout_ms);
  curl_easy_setopt(s->sse, CURLOPT_WRITEFUNCTION, lp_body);
  curl_easy_setopt(s->sse, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(s->sse, CURLOPT_USERAGENT, "centro-harness-check/" CH_VERSION);
  ch_chk_tx(s->cx, s->client, "out", "http", s->last_url, strlen(s->last_url));
  curl_multi_add_handle(s->multi, s->sse);
  s->sse_open = true;
  ch_buf_free(&url);
  ch_buf_free(&body);
  uint64_t deadline = deadline_in(200);
  long sent = 0;
  int running = 1;
  while (running && ch_now_ns() < deadline) {
    curl_multi_perform(s->multi, &running);
    curl_easy_getinfo(s->sse, CURLINFO_REQUEST_SIZE, &sent);
    if (sent > 0)
      break;
    curl_multi_poll(s->multi, NULL, 0, 5, NULL);
  }
  s->lp_sent_ns = ch_now_ns();
  return 0;
}

/* Before a /send: the held poll must have reached the server, or a group change could race it. */
static int lp_next(struct ch_sess *s, uint64_t deadline, struct ch_buf *out);
static bool is_keepalive(const struct ch_buf *b);

static void lp_hold(struct ch_sess *s) {
  /* a poll the server already answered (a message, a timeout) is taken now, so the one held carries the latest
     groups token: otherwise the next poll would bring a stale token after this /send changed the groups */
  struct ch_buf m = CH_BUF_INIT;
  while (lp_next(s, ch_now_ns(), &m) == 1)
    if (!is_keepalive(&m))
      q_push(&s->q, &m);
  ch_buf_free(&m);
  if (!s->sse_open)
    lp_start(s, "poll");
  /* the request is on the wire; give the server a moment to take it before this session sends anything else */
  uint64_t settle = s->lp_sent_ns + 25000000u;
  int running = 1;
  while (running && s->sse_open && ch_now_ns() < settle) {
    curl_multi_poll(s->multi, NULL, 0, (int)left_ms(settle), NULL);
    curl_multi_perform(s->multi, &running);
  }
}

/* Pumps the held poll. 1 with its body in out (the next poll already held), 0 timeout, negative on failure. */
static int lp_next(struct ch_sess *s, uint64_t deadline, struct ch_buf *out) {
  for (;;) {
    if (!s->sse_open) {
      int rc = lp_start(s, "poll");
      if (rc)
        return rc;
    }
    int running = 0, left;
    curl_multi_perform(s->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left))) {
      if (m->msg != CURLMSG_DONE)
        continue;
      CURLcode cc = m->data.result;
      long st = 0;
      curl_easy_getinfo(s->sse, CURLINFO_RESPONSE_CODE, &st);
      s->sse_open = false;
      struct ch_buf line = CH_BUF_INIT;
      if (cc == CURLE_OK)
        ch_buf_printf(&line, "%ld\n\n%s", st, s->sse_buf.data ? s->sse_buf.data : "");
      else
        ch_buf_printf(&line, "error: %s", curl_easy_strerror(cc));
      ch_chk_tx(s->cx, s->client, "in", "http", line.data, line.len);
      ch_buf_free(&line);
      if (cc != CURLE_OK || st != 200) {
        s->last.status = st;
        s->last.cc = cc;
        ch_buf_reset(&s->last.body);
        ch_buf_append(&s->last.body, s->sse_buf.data ? s->sse_buf.data : "", s->sse_buf.len);
        return cc == CURLE_OK ? -EACCES : -EPIPE;
      }
      ch_buf_reset(out);
      ch_buf_append(out, s->sse_buf.data ? s->sse_buf.data : "", s->sse_buf.len);
      cJSON *j = ch_chk_json(s->cx, out->data, out->len);
      if (j)
        track(s, j); /* the next poll carries the new cursor and groups token */
      const cJSON *tf = cJSON_GetObjectItemCaseSensitive(j, "T");
      if (cJSON_IsNumber(tf) && tf->valuedouble == 1)
        note_server_close(s, "the held poll was answered with \"T\":1 (go reconnect)");
      cJSON_Delete(j);
      lp_start(s, "poll");
      return 1;
    }
    long ms = left_ms(deadline);
    if (ms == 0)
      return 0;
    curl_multi_poll(s->multi, NULL, 0, (int)(ms < 100 ? ms : 100), NULL);
  }
}

/* ---- receive ---- */

/* A keep-alive: {} (JSON whitespace around and inside), or nothing but whitespace (a long poll's keep-alive spaces).
   All n bytes count: "{}" and a NUL is no keep-alive but a message JSON.parse refuses. */
static bool is_keepalive(const struct ch_buf *b) {
  struct ch_span m = ch_span_trim((struct ch_span){b->data ? b->data : "", b->data ? b->len : 0});
  return m.n == 0 || (m.n >= 2 && m.p[0] == '{' && m.p[m.n - 1] == '}' &&
                      ch_span_trim((struct ch_span){m.p + 1, m.n - 2}).n == 0);
}

/* The event SSE opens with, which both clients ignore (§4.2). */
static bool is_initialized(const struct ch_buf *b) {
  return b->len == 11 && memcmp(b->data, "initialized", 11) == 0;
}

static void note_keepalive(struct ch_sess *s) {
  s->keepalives++;
  s->last_ka_ns = ch_now_ns();
}

/* Reads one raw frame/event/poll body from the receive channel. 1/0/negative like ch_sess_recv. */
static int recv_raw(struct ch_sess *s, uint64_t deadline, struct ch_buf *out) {
  int rc;
  switch (s->transport) {
  case CH_T_WS:
    rc = ch_ws_recv(&s->ws, s->cx, s->client, left_ms(deadline), out);
    if (rc == -EPIPE && s->ws.close_code > 0)
      note_server_close(s, "the server sent a WebSocket Close frame (status %d)", s->ws.close_code);
    else if (rc == -EPIPE && s->ws.close_code < 0)
      note_server_close(s, "the WebSocket's TCP connection closed without a Close frame");
    return rc;
  case CH_T_SSE:
    rc = sse_next(s, deadline, out);
    if (rc == -EPIPE)
      note_server_close(s, "the event stream ended (%s)",
                        s->last.cc == CURLE_OK ? "the response completed" : curl_easy_strerror(s->last.cc));
    else if (rc == -EACCES)
      note_server_close(s, "the event stream was answered HTTP %ld", s->last.status);
    return rc;
  default:
    rc = lp_next(s, deadline, out);
    if (rc == -EPIPE)
      note_server_close(s, "the held poll failed (%s)", curl_easy_strerror(s->last.cc));
    else if (rc == -EACCES)
      note_server_close(s, "the held poll was answered HTTP %ld", s->last.status);
    return rc;
  }
}

/* The next persistent response from the channel itself (not the queue). */
static int recv_fresh(struct ch_sess *s, long timeout_ms, struct ch_buf *out) {
  uint64_t deadline = deadline_in(timeout_ms);
  for (;;) {
    int rc = recv_raw(s, deadline, out);
    if (rc <= 0)
      return rc;
    if (is_keepalive(out)) {
      note_keepalive(s);
      continue;
    }
    if (s->transport == CH_T_SSE && is_initialized(out))
      continue;
    cJSON *j = ch_chk_json(s->cx, out->data, out->len);
    if (!j)
      return -EBADMSG;
    bool hub_response = cJSON_GetObjectItemCaseSensitive(j, "I") && !cJSON_GetObjectItemCaseSensitive(j, "C");
    if (!hub_response)
      track(s, j);
    cJSON_Delete(j);
    if (hub_response)
      continue; /* a stray completion: invoke collects its own */
    return 1;
  }
}

int ch_sess_recv(struct ch_sess *s, long timeout_ms, struct ch_buf *out) {
  if (q_pop(&s->q, out)) {
    /* queued while waiting for something else, some (long-poll bodies, SSE events) not judged yet */
    cJSON *j = ch_chk_json(s->cx, out->data, out->len);
    cJSON_Delete(j);
    return j ? 1 : -EBADMSG;
  }
  return recv_fresh(s, timeout_ms, out);
}

int ch_sess_settle(struct ch_sess *s) {
  if (s->transport != CH_T_LP || !s->connected)
    return 0;
  char *g0 = s->groups ? strdup(s->groups) : NULL;
  struct ch_buf m = CH_BUF_INIT;
  uint64_t deadline = deadline_in(s->cx->timeout_ms < 1000 ? s->cx->timeout_ms : 1000);
  int rc = 0;
  /* the held poll ends with the new groups token; the next one (already held by lp_next) carries it */
  while (ch_now_ns() < deadline && !(s->groups && (!g0 || strcmp(g0, s->groups) != 0))) {
    rc = recv_fresh(s, left_ms(deadline), &m);
    if (rc < 0)
      break;
    if (rc == 1)
      q_push(&s->q, &m);
  }
  free(g0);
  ch_buf_free(&m);
  return rc < 0 ? rc : 0;
}

int ch_sess_connect(struct ch_sess *s, bool reconnect, struct ch_buf *init) {
  struct ch_buf url = CH_BUF_INIT, extra = CH_BUF_INIT;
  const char *cmd = reconnect ? "reconnect" : "connect";
  if (reconnect && s->transport != CH_T_LP)
    append_tokens(s, &extra, true);
  ch_sess_url(s, &url, cmd, false, extra.data);
  snprintf(s->last_url, sizeof s->last_url, "%s", url.data);
  uint64_t deadline = deadline_in(s->cx->timeout_ms);
  int rc = 0;
  ch_buf_reset(init);
  switch (s->transport) {
  case CH_T_WS:
    s->last_method = "GET (WebSocket upgrade)";
    rc = ch_ws_open(&s->ws, s->cx, s->client, url.data, s->auth, s->cx->timeout_ms);
    if (rc == -EACCES) {
      s->last.status = s->ws.status;
      ch_buf_reset(&s->last.body);
      ch_buf_append(&s->last.body, s->ws.head.data, s->ws.head.len);
    }
    break;
  case CH_T_SSE:
    s->last_method = "GET";
    rc = sse_open(s, url.data);
    break;
  default:
    if (reconnect) {
      /* held like a poll: the replay (or nothing) comes through ch_sess_recv */
      rc = lp_start(s, "reconnect");
      break;
    }
    rc = sess_http(s, "POST", url.data, "", NULL);
    if (rc == 0 && s->last.status != 200)
      rc = -EACCES;
    if (rc == 0) {
      ch_buf_append(init, s->last.body.data ? s->last.body.data : "", s->last.body.len);
      cJSON *j = ch_chk_json(s->cx, init->data, init->len);
      if (j)
        track(s, j);
      cJSON_Delete(j);
      char connect_url[sizeof s->last_url];
      memcpy(connect_url, s->last_url, sizeof connect_url);
      rc = lp_start(s, "poll");
      memcpy(s->last_url, connect_url, sizeof connect_url); /* evidence names the request that brought init */
    }
    break;
  }
  ch_buf_free(&url);
  ch_buf_free(&extra);
  if (rc)
    return rc;
  s->connected = true;
  s->closing = false; /* a new receive channel (after a drop) */
  if (s->transport == CH_T_LP || reconnect) {
    if (s->transport == CH_T_SSE && reconnect) {
      /* wait for the stream to open ("initialized") so later publishes are after the reconnect */
      struct ch_buf ev = CH_BUF_INIT;
      int r;
      while ((r = sse_next(s, deadline, &ev)) == 1) {
        if (is_initialized(&ev))
          break;
        if (!is_keepalive(&ev))
          q_push(&s->q, &ev);
      }
      ch_buf_free(&ev);
      if (r < 0)
        return r;
    }
    return 0;
  }
  /* ws/sse: the init message is the first non-keep-alive frame/event */
  for (;;) {
    rc = recv_raw(s, deadline, init);
    if (rc == 0)
      return -ETIMEDOUT;
    if (rc < 0)
      return rc;
    if (is_keepalive(init)) {
      note_keepalive(s);
      continue;
    }
    if (s->transport == CH_T_SSE && is_initialized(init))
      continue;
    cJSON *j = ch_chk_json(s->cx, init->data, init->len);
    if (j)
      track(s, j);
    cJSON_Delete(j);
    return 0;
  }
}

int ch_sess_start(struct ch_sess *s, struct ch_buf *body) {
  struct ch_buf url = CH_BUF_INIT;
  ch_sess_url(s, &url, "start", true, NULL);
  int rc = sess_http(s, "GET", url.data, NULL, NULL);
  ch_buf_free(&url);
  if (rc)
    return rc;
  if (body) {
    ch_buf_reset(body);
    ch_buf_append(body, s->last.body.data ? s->last.body.data : "", s->last.body.len);
  }
  return s->last.status == 200 ? 0 : -EACCES;
}

/* Whether a hub response's I equals id (compared as text, quotes removed). */
static bool id_matches(const cJSON *i, const char *id) {
  char tmp[32];
  const char *v = NULL;
  if (cJSON_IsString(i))
    v = i->valuestring;
  else if (cJSON_IsNumber(i)) {
    snprintf(tmp, sizeof tmp, "%.0f", i->valuedouble);
    v = tmp;
  }
  return v && strcmp(v, id) == 0;
}

int ch_sess_invoke(struct ch_sess *s, const char *hub, const char *method, const char *args_json, const char *id_json,
                   struct ch_buf *out) {
  struct ch_buf inv = CH_BUF_INIT;
  ch_buf_printf(&inv, "{\"H\":\"%s\",\"M\":\"%s\",\"A\":%s,\"I\":%s}", hub, method, args_json, id_json);
  char id[32];
  snprintf(id, sizeof id, "%.*s", (int)strcspn(id_json + (id_json[0] == '"'), "\""), id_json + (id_json[0] == '"'));
  ch_buf_reset(out);
  int rc;
  if (s->transport == CH_T_WS) {
    s->last_method = "WebSocket frame";
    snprintf(s->last_url, sizeof s->last_url, "%s", inv.data);
    ch_chk_tx(s->cx, s->client, "out", "ws", inv.data, inv.len);
    rc = ch_ws_send_text(&s->ws, s->cx, inv.data, inv.len);
    uint64_t deadline = deadline_in(s->cx->timeout_ms);
    while (rc == 0) {
      int r = ch_ws_recv(&s->ws, s->cx, s->client, left_ms(deadline), out);
      if (r == 0) {
        rc = -ETIMEDOUT;
        break;
      }
      if (r < 0) {
        rc = r;
        break;
      }
      if (is_keepalive(out)) {
        note_keepalive(s);
        continue;
      }
      cJSON *j = ch_chk_json(s->cx, out->data, out->len);
      if (!j)
        continue;
      const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "I");
      bool mine = i && !cJSON_GetObjectItemCaseSensitive(j, "C") && id_matches(i, id);
      if (!i || cJSON_GetObjectItemCaseSensitive(j, "C")) {
        track(s, j);
        q_push(&s->q, out);
      }
      cJSON_Delete(j);
      if (mine)
        break;
    }
    ch_buf_reset(&s->last.body);
    ch_buf_append(&s->last.body, out->data ? out->data : "", out->len);
    s->last.status = 0;
  } else {
    struct ch_buf url = CH_BUF_INIT, body = CH_BUF_INIT, enc = CH_BUF_INIT;
    if (s->transport == CH_T_LP && s->connected)
      lp_hold(s);
    ch_sess_url(s, &url, "send", true, NULL);
    ch_pct_encode(&enc, inv.data, inv.len);
    ch_buf_printf(&body, "data=%s", enc.data);
    rc = sess_http(s, "POST", url.data, body.data, NULL);
    if (rc == 0 && s->last.status != 200)
      rc = -EACCES;
    if (rc == 0)
      ch_buf_append(out, s->last.body.data ? s->last.body.data : "", s->last.body.len);
    ch_buf_free(&url);
    ch_buf_free(&body);
    ch_buf_free(&enc);
  }
  ch_buf_free(&inv);
  return rc;
}

int ch_sess_abort(struct ch_sess *s, struct ch_http *res) {
  struct ch_buf url = CH_BUF_INIT;
  s->closing = true;
  ch_sess_url(s, &url, "abort", true, NULL);
  int rc = sess_http(s, "POST", url.data, "", res);
  ch_buf_free(&url);
  return rc;
}

void ch_sess_drop(struct ch_sess *s) {
  s->closing = true;
  ch_ws_close(&s->ws);
  sse_close(s);
  s->connected = false;
}

void ch_sess_end(struct ch_sess *s) {
  if (s->connected) {
    struct ch_http res = CH_HTTP_INIT;
    ch_sess_abort(s, &res);
    ch_http_free(&res);
  }
  ch_sess_free(s);
}

void ch_sess_free(struct ch_sess *s) {
  ch_sess_drop(s);
  q_free(&s->q);
  free(s->cdata);
  free(s->token_enc);
  free(s->url_path);
  free(s->cursor);
  free(s->groups);
  cJSON_Delete(s->negotiate);
  ch_http_free(&s->last);
  memset(s, 0, sizeof *s);
}

void ch_sess_fail_evidence(struct ch_sess *s, struct ch_buf *ev, const char *expected) {
  ch_chk_evidence(s->cx, ev, s->last_method ? s->last_method : "?", s->last_url, &s->last, expected);
}

int ch_sess_open(struct ch_sess *s, struct ch_buf *ev) {
  struct ch_buf init = CH_BUF_INIT;
  int rc = ch_sess_negotiate(s);
  if (rc) {
    ch_sess_fail_evidence(s, ev, "negotiate 200 with a ConnectionToken");
    goto out;
  }
  rc = ch_sess_connect(s, false, &init);
  if (rc) {
    ch_sess_fail_evidence(s, ev, rc == -ETIMEDOUT ? "an init message within the probe timeout" : "connect accepted");
    goto out;
  }
  rc = ch_sess_start(s, NULL);
  if (rc)
    ch_sess_fail_evidence(s, ev, "start answered 200");
out:
  ch_buf_free(&init);
  return rc;
}
