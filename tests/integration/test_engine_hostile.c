/* The engine against a small hostile HTTP/WebSocket server written here with raw sockets: every malformed or hostile
   answer (HTML, HTTP 500, redirect, truncated chunked body, missing field, binary frame, oversize frame, no init,
   refused upgrade, closed socket, bad /start) ends only its client with the expected failure category and message,
   while well-behaved clients on the same worker connect, invoke, receive pushes, reconnect and stop. Also checks
   the auth modes (header, query token) reach the server and never reach a transcript. */
#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ch_client.h"
#include "ch_clock.h"
#include "ch_engine.h"
#include "ch_sha1.h"
#include "ch_test.h"
#include "ch_wsframe.h"

#define SECRET "s3cr3t-T0ken"
#define MAX_MSG 4096

/* ---------------------------------------------------------------- the hostile server */

struct hs_conn {
  int fd;
  uv_thread_t th;
  struct hostile *srv;
  struct hs_conn *next;
};

struct hostile {
  int lfd, port;
  int stop_pipe[2];
  uv_thread_t th;
  uv_mutex_t lock;
  struct hs_conn *conns;
  int auth_seen_header, auth_seen_query; /* under lock */
  int peers_127_0_0_2, peers_127_0_0_3;  /* connections from each --source-addresses address */
};

static int hs_write(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int hs_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int hs_printf(int fd, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return hs_write(fd, buf, (size_t)n);
}

static int hs_reply(int fd, int status, const char *ctype, const char *body) {
  return hs_printf(fd, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   status, ctype, strlen(body), body);
}

static int hs_frame_fin(int fd, int opcode, bool fin, const char *p, size_t n) {
  unsigned char h[10];
  size_t hl = ch_wsframe_header(h, opcode, fin, n);
  return hs_write(fd, h, hl) || hs_write(fd, p, n) ? -1 : 0;
}

static int hs_frame(int fd, int opcode, const char *p, size_t n) { return hs_frame_fin(fd, opcode, true, p, n); }

static int hs_read_full(int fd, void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t r = recv(fd, c, n, 0);
    if (r <= 0)
      return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Reads one client frame (masked). Returns the opcode, or -1. */
static int hs_read_frame(int fd, char *buf, size_t cap, size_t *len) {
  unsigned char h[2], mask[4];
  if (hs_read_full(fd, h, 2))
    return -1;
  uint64_t n = h[1] & 0x7f;
  if (n == 126) {
    unsigned char e[2];
    if (hs_read_full(fd, e, 2))
      return -1;
    n = (uint64_t)e[0] << 8 | e[1];
  } else if (n == 127) {
    unsigned char e[8];
    if (hs_read_full(fd, e, 8))
      return -1;
    n = 0;
    for (int i = 0; i < 8; i++)
      n = n << 8 | e[i];
  }
  if (n >= cap || !(h[1] & 0x80) || hs_read_full(fd, mask, 4) || hs_read_full(fd, buf, (size_t)n))
    return -1;
  for (uint64_t i = 0; i < n; i++)
    buf[i] ^= (char)mask[i % 4];
  buf[n] = '\0';
  *len = (size_t)n;
  return h[0] & 0x0f;
}

static const char *hs_header(const char *req, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = strstr(req, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
    if (!strncasecmp(p + 2, name, nl) && p[2 + nl] == ':') {
      const char *v = p + 3 + nl;
      while (*v == ' ')
        v++;
      size_t n = strcspn(v, "\r\n");
      if (n >= cap)
        n = cap - 1;
      memcpy(out, v, n);
      out[n] = '\0';
      return out;
    }
  }
  return NULL;
}

static void hs_negotiate_body(char *out, size_t cap, const char *mode, double tct, double ka, double dt) {
  char ka_s[32];
  if (ka > 0)
    snprintf(ka_s, sizeof ka_s, "%.1f", ka);
  else
    snprintf(ka_s, sizeof ka_s, "null");
  snprintf(out, cap,
           "{\"Url\":\"/%s/signalr\",\"ConnectionToken\":\"AQAAAB+tok/en==\",\"ConnectionId\":\"3f2c6a1e-9b7d-4c1e-8f3a-"
           "2d5b6c7e8f90\",\"KeepAliveTimeout\":%s,\"DisconnectTimeout\":%.1f,\"ConnectionTimeout\":110.0,"
           "\"TryWebSockets\":true,\"ProtocolVersion\":\"2.0\",\"TransportConnectTimeout\":%.1f,\"LongPollDelay\":0.0}",
           mode, ka_s, dt, tct);
}

/* The WebSocket session of modes that upgrade. */
static void hs_ws_session(int fd, const char *mode, bool reconnect) {
  if (!strcmp(mode, "binary")) {
    hs_frame(fd, 2, "\x01\x02\x03", 3);
  } else if (!strcmp(mode, "oversize")) {
    char *big = malloc(MAX_MSG + 1000);
    memset(big, 'x', MAX_MSG + 1000);
    big[0] = '"';
    big[MAX_MSG + 999] = '"';
    hs_frame(fd, 1, big, MAX_MSG + 1000);
    free(big);
  } else if (!strcmp(mode, "notjson")) {
    hs_frame(fd, 1, "<html>oops</html>", 17);
  } else if (!strcmp(mode, "frag") && !reconnect) {
    /* the init message in three fragments with a ping between them: reassembled, and the ping answered */
    const char *a = "{\"C\":\"d-5A1F00C3-B,0|C,0\",", *b = "\"S\":1,", *c = "\"M\":[]}";
    hs_frame_fin(fd, 1, false, a, strlen(a));
    hs_frame(fd, 9, "hi", 2);
    hs_frame_fin(fd, 0, false, b, strlen(b));
    hs_frame_fin(fd, 0, true, c, strlen(c));
  } else if (!strcmp(mode, "masked")) {
    unsigned char m[] = {0x81, 0x82, 1, 2, 3, 4, '{' ^ 1, '}' ^ 2};
    hs_write(fd, m, sizeof m);
  } else if (!strncmp(mode, "garbage", 7)) {
    /* pseudo-random frames: random opcode, FIN, length and JSON-ish payload (never masked, so the parser and the
       receive decoder get past the header checks); ends with raw noise */
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(atoi(mode + 7) + 1);
    static const char alphabet[] = "{}[]\":,CSMGIHERAD01 \\u\"x";
    static const int ops[] = {1, 1, 1, 0, 0, 9, 10, 8, 3};
    for (int f = 0; f < 40; f++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      int op = ops[x % 9];
      bool fin = (x >> 8) % 4 != 0;
      size_t n = (size_t)((x >> 16) % (op >= 8 ? 126 : 300));
      char pl[300];
      for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pl[i] = alphabet[x % (sizeof alphabet - 1)];
      }
      if (op == 8 && n == 1)
        n = 0;
      if (hs_frame_fin(fd, op, fin || op >= 8, pl, n))
        break;
    }
    unsigned char g[512];
    for (size_t i = 0; i < sizeof g; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      g[i] = (unsigned char)x;
    }
    hs_write(fd, g, sizeof g);
  } else if (!strcmp(mode, "noinit")) {
    /* nothing */
  } else if (!reconnect) {
    const char *init = "{\"C\":\"d-5A1F00C3-B,0|C,0\",\"S\":1,\"M\":[]}";
    hs_frame(fd, 1, init, strlen(init));
  }
  char buf[65536];
  size_t n;
  int op;
  while ((op = hs_read_frame(fd, buf, sizeof buf, &n)) >= 0) {
    if (op == 8) {
      hs_frame(fd, 8, buf, n < 2 ? n : 2);
      break;
    }
    if (op != 1)
      continue;
    /* An invocation: push an Update (with a groups token) to the caller, then complete it. */
    const char *i = strstr(buf, "\"I\":");
    if (!i)
      continue;
    i += 4;
    if (*i == '"')
      i++;
    long id = strtol(i, NULL, 10);
    char out[512];
    snprintf(out, sizeof out,
             "{\"C\":\"d-5A1F00C3-B,%ld|C,0\",\"G\":\"AQgr+oups/tok==\",\"M\":[{\"H\":\"TestHub\",\"M\":\"Update\","
             "\"A\":[{\"PartKey\":\"1882708\",\"Seq\":%ld}]},{\"H\":\"OtherHub\",\"M\":\"Noise\",\"A\":[]}]}",
             id + 1, id);
    hs_frame(fd, 1, out, strlen(out));
    if (strstr(buf, "\"Fail\""))
      snprintf(out, sizeof out, "{\"I\":\"%ld\",\"H\":true,\"E\":\"Part \\\"x\\\" not found\",\"D\":{\"code\":404}}",
               id);
    else if (strstr(buf, "\"Never\""))
      continue;
    else
      snprintf(out, sizeof out, "{\"R\":42,\"I\":\"%ld\"}", id);
    hs_frame(fd, 1, out, strlen(out));
  }
}

static void hs_conn_main(void *arg) {
  struct hs_conn *cn = arg;
  int fd = cn->fd;
  char req[8192];
  size_t len = 0;
  while (len < sizeof req - 1) {
    ssize_t r = recv(fd, req + len, sizeof req - 1 - len, 0);
    if (r <= 0)
      goto out;
    len += (size_t)r;
    req[len] = '\0';
    if (strstr(req, "\r\n\r\n"))
      break;
  }
  char path[2048];
  if (sscanf(req, "%*s %2047s", path) != 1)
    goto out;
  char mode[64] = "";
  sscanf(path, "/%63[^/?]", mode);
  const char *q = strchr(path, '?');
  size_t plen = q ? (size_t)(q - path) : strlen(path);
  const char *last = path + plen;
  while (last > path && last[-1] != '/')
    last--;
  char cmd[32];
  snprintf(cmd, sizeof cmd, "%.*s", (int)(path + plen - last), last);
  char hv[512];
  if (!strcmp(mode, "auth")) {
    bool hdr = hs_header(req, "Authorization", hv, sizeof hv) && !strcmp(hv, "Bearer " SECRET);
    bool qry = q && strstr(q, "access_token=" SECRET);
    uv_mutex_lock(&cn->srv->lock);
    cn->srv->auth_seen_header += hdr;
    cn->srv->auth_seen_query += qry;
    uv_mutex_unlock(&cn->srv->lock);
    if (!hdr && !qry) {
      hs_printf(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      goto out;
    }
  }
  char body[1024];
  if (!strcmp(cmd, "negotiate")) {
    if (!strcmp(mode, "html"))
      hs_reply(fd, 200, "text/html", "<!DOCTYPE html><html><body><h1>500 - Internal server error.</h1></body></html>");
    else if (!strcmp(mode, "e500"))
      hs_reply(fd, 500, "text/html", "<html><body>500 - Internal server error.</body></html>");
    else if (!strcmp(mode, "redirect"))
      hs_printf(fd, "HTTP/1.1 302 Found\r\nLocation: /login?access_token=" SECRET
                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    else if (!strcmp(mode, "chunked"))
      hs_printf(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "40\r\n{\"Url\":\"/chunked/signalr\",\"Connec");
    else if (!strcmp(mode, "closed"))
      ;
    else if (!strcmp(mode, "notoken"))
      hs_reply(fd, 200, "application/json",
               "{\"Url\":\"/notoken/signalr\",\"ConnectionId\":\"x\",\"KeepAliveTimeout\":20.0,\"DisconnectTimeout\":30.0,"
               "\"ConnectionTimeout\":110.0,\"TryWebSockets\":true,\"ProtocolVersion\":\"2.0\","
               "\"TransportConnectTimeout\":5.0,\"LongPollDelay\":0.0}");
    else {
      double tct = !strcmp(mode, "noinit") || !strcmp(mode, "masked") || !strncmp(mode, "garbage", 7) ? 0.5 : 5.0;
      double ka = !strcmp(mode, "silent") ? 0.6 : 20.0;
      hs_negotiate_body(body, sizeof body, mode, tct, ka, !strcmp(mode, "noreconn") ? 0.5 : 3.0);
      hs_reply(fd, 200, "application/json; charset=UTF-8", body);
    }
  } else if (!strcmp(cmd, "connect") || !strcmp(cmd, "reconnect")) {
    char key[128];
    if (!strcmp(mode, "ws400")) {
      /* what ASP.NET SignalR answers a connect it does not take for a WebSocket request; the body follows in a
         write of its own, after a pause, so it usually reaches the client in a read of its own */
      hs_printf(fd, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 37\r\n\r\n");
      nanosleep(&(struct timespec){0, 50000000}, NULL);
      hs_printf(fd, "Not a valid web socket request.\r\n\x1b[2J");
      goto out;
    }
    if (!strcmp(mode, "ws401") || (!strcmp(mode, "noreconn") && !strcmp(cmd, "reconnect")) ||
        !hs_header(req, "Sec-WebSocket-Key", key, sizeof key)) {
      hs_printf(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      goto out;
    }
    char cat[256];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char dig[20];
    ch_sha1(cat, strlen(cat), dig);
    char acc[64];
    lws_b64_encode_string((const char *)dig, 20, acc, sizeof acc);
    if (!strcmp(mode, "badaccept"))
      acc[3] ^= 1;
    hs_printf(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n\r\n", acc);
    hs_ws_session(fd, mode, !strcmp(cmd, "reconnect"));
  } else if (!strcmp(cmd, "start")) {
    hs_reply(fd, 200, "application/json; charset=UTF-8",
             !strcmp(mode, "badstart") ? "{ \"Response\": \"nope\" }" : "{ \"Response\": \"started\" }");
  } else if (!strcmp(cmd, "abort")) {
    hs_reply(fd, 200, "text/plain", "");
  } else {
    hs_reply(fd, 404, "text/plain", "no");
  }
out:
  shutdown(fd, SHUT_WR);
  char sink[256];
  struct pollfd p = {fd, POLLIN, 0};
  /* Let the client see our last bytes before the reset: drain until it closes (bounded). */
  for (int k = 0; k < 20 && poll(&p, 1, 100) > 0; k++)
    if (recv(fd, sink, sizeof sink, 0) <= 0)
      break;
}

static void hs_main(void *arg) {
  struct hostile *s = arg;
  for (;;) {
    struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0)
      continue;
    if (p[1].revents)
      break;
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int fd = accept(s->lfd, (struct sockaddr *)&peer, &pl);
    if (fd < 0)
      continue;
    uv_mutex_lock(&s->lock);
    s->peers_127_0_0_2 += ntohl(peer.sin_addr.s_addr) == 0x7f000002;
    s->peers_127_0_0_3 += ntohl(peer.sin_addr.s_addr) == 0x7f000003;
    uv_mutex_unlock(&s->lock);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct hs_conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->srv = s;
    uv_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    uv_mutex_unlock(&s->lock);
    uv_thread_create(&c->th, hs_conn_main, c);
  }
}

static int hs_start(struct hostile *s) {
  memset(s, 0, sizeof *s);
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 512) ||
      getsockname(s->lfd, (struct sockaddr *)&a, &al) || pipe(s->stop_pipe))
    return -1;
  s->port = ntohs(a.sin_port);
  uv_mutex_init(&s->lock);
  return uv_thread_create(&s->th, hs_main, s);
}

static void hs_stop(struct hostile *s) {
  if (write(s->stop_pipe[1], "x", 1) != 1)
    return;
  uv_thread_join(&s->th);
  for (struct hs_conn *c = s->conns; c;) {
    shutdown(c->fd, SHUT_RDWR);
    uv_thread_join(&c->th);
    close(c->fd);
    struct hs_conn *n = c->next;
    free(c);
    c = n;
  }
  close(s->lfd);
  close(s->stop_pipe[0]);
  close(s->stop_pipe[1]);
  uv_mutex_destroy(&s->lock);
}

/* ---------------------------------------------------------------- the client side */

enum auth_kind { AUTH_NONE, AUTH_HDR, AUTH_QRY };

struct case_spec {
  const char *mode;
  enum auth_kind auth;
  enum ch_failure_category want; /* CH_FAIL_NONE: must connect, invoke, receive and stop cleanly */
  const char *want_msg;          /* substring of the failure message */
  int action; /* 0 invoke+stop, 1 drop then stop after reconnect, 2 wait for keep-alive loss, 3 an invocation that
                 never completes (times out), 4 stop right after start, 5 drop, reconnect refused */
  bool raw_only;                 /* lws's own client tolerates it: only checked with our framing */
  bool any_failure;              /* garbage: any failure category will do, but it must fail (and not crash) */
};

struct case_run {
  const struct case_spec *spec;
  struct ch_url url;
  struct ch_client *client;
  bool closed, connected_seen;
  enum ch_failure_category got;
  char got_msg[200];
  int invocations_done, hub_ok, hub_error_ok, updates, others, groups_events, reconnecting, reconnected;
  int ka_slow, ka_lost, timeouts;
  bool secret_leaked;
  struct run *run;
};

struct run {
  uv_mutex_t lock;
  uv_cond_t cond;
  int closed;
};

static void on_done(struct ch_client *c, const struct ch_completion *r, void *arg) {
  struct case_run *cr = arg;
  if (cr->spec->action == 3) {
    cr->timeouts += r->status == -ETIMEDOUT && r->rtt_ns == 0;
    ch_client_stop(c);
    return;
  }
  cr->invocations_done++;
  if (r->status == 0 && r->result && r->result_len == 2 && !memcmp(r->result, "42", 2))
    cr->hub_ok++;
  if (r->status == 0 && r->hub_error && r->error && !strcmp(r->error, "Part \"x\" not found") && r->data &&
      !strncmp(r->data, "{\"code\":404}", r->data_len))
    cr->hub_error_ok++;
  if (cr->invocations_done == 2) {
    if (cr->spec->action == 1 || cr->spec->action == 5) {
      CU_ASSERT_EQUAL(ch_client_drop(c), 0);
    } else {
      ch_client_stop(c);
    }
  }
}

static void on_state(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f, void *user) {
  struct case_run *cr = user;
  if (s == CH_CLIENT_CONNECTED) {
    if (!cr->connected_seen) {
      cr->connected_seen = true;
      if (cr->spec->action == 2)
        return; /* wait for the keep-alive loss */
      if (cr->spec->action == 3) {
        CU_ASSERT_EQUAL(ch_client_invoke(c, "TestHub", "Never", "[]", on_done, cr, NULL), 0);
        return;
      }
      CU_ASSERT_EQUAL(ch_client_invoke(c, "TestHub", "Echo", "[\"1882708\"]", on_done, cr, NULL), 0);
      CU_ASSERT_EQUAL(ch_client_invoke(c, "TestHub", "Fail", "[]", on_done, cr, NULL), 0);
    } else {
      ch_client_stop(c); /* connected again after a reconnect */
    }
  }
  if (s == CH_CLIENT_CLOSED) {
    cr->got = f ? f->category : CH_FAIL_NONE;
    snprintf(cr->got_msg, sizeof cr->got_msg, "%s", f ? f->message : "");
    if (strstr(cr->got_msg, SECRET))
      cr->secret_leaked = true;
    if (getenv("CH_TEST_VERBOSE"))
      fprintf(stderr, "closed %-10s %-16s at %.3f s: %s\n", cr->spec->mode, ch_failure_name(cr->got),
              (double)(ch_client_times(c)->closed - ch_client_times(c)->created) / 1e9, cr->got_msg);
    uv_mutex_lock(&cr->run->lock);
    cr->closed = true;
    cr->run->closed++;
    uv_cond_signal(&cr->run->cond);
    uv_mutex_unlock(&cr->run->lock);
  }
}

static void on_message(struct ch_client *c, const struct ch_hub_msg *m, int hub_index, uint64_t recv_ns,
                       void *user) {
  (void)c;
  (void)recv_ns;
  struct case_run *cr = user;
  if (hub_index == 0 && ch_hub_msg_is(m, "testhub", "update"))
    cr->updates++;
  else if (hub_index == -1)
    cr->others++;
}

static void on_event(struct ch_client *c, enum ch_client_event e, void *user) {
  (void)c;
  struct case_run *cr = user;
  if (e == CH_EVENT_GROUPS_TOKEN)
    cr->groups_events++;
  if (e == CH_EVENT_RECONNECTING)
    cr->reconnecting++;
  if (e == CH_EVENT_RECONNECTED)
    cr->reconnected++;
  if (e == CH_EVENT_KEEPALIVE_SLOW)
    cr->ka_slow++;
  if (e == CH_EVENT_KEEPALIVE_LOST)
    cr->ka_lost++;
}

static void on_trace(struct ch_client *c, enum ch_trace_dir dir, enum ch_trace_channel ch, const char *p, size_t n,
                     void *user) {
  (void)c;
  (void)dir;
  (void)ch;
  struct case_run *cr = user;
  if (memmem(p, n, SECRET, strlen(SECRET)))
    cr->secret_leaked = true;
}

struct start_arg {
  struct case_run *runs;
  size_t n;
};

static void start_clients(struct ch_worker *w, void *arg) {
  struct start_arg *sa = arg;
  static const char *const hubs[] = {"testhub"};
  for (size_t i = 0; i < sa->n; i++) {
    struct case_run *cr = &sa->runs[i];
    struct ch_client_opts o = {.target = &cr->url,
                               .hubs = hubs,
                               .hub_count = 1,
                               .transport = CH_TRANSPORT_WEBSOCKETS,
                               .http_timeout_ms = 5000,
                               .reconnect_delay_ms = 50,
                               .invoke_timeout_ms = cr->spec->action == 3 ? 200 : 0,
                               .source_index = (unsigned)i,
                               .on_state = on_state,
                               .on_message = on_message,
                               .on_event = on_event,
                               .on_trace = on_trace,
                               .user = cr};
    if (cr->spec->auth == AUTH_HDR) {
      o.auth = CH_AUTH_HEADER;
      o.auth_value = "Bearer " SECRET;
    } else if (cr->spec->auth == AUTH_QRY) {
      o.auth = CH_AUTH_QUERY;
      o.auth_value = SECRET;
    }
    int rc = ch_client_new(w, &o, &cr->client);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(ch_client_start(cr->client), 0);
    if (cr->spec->action == 4)
      ch_client_stop(cr->client); /* while negotiating: closes without /abort, no failure */
  }
}

static const struct case_spec cases[] = {
    {"ok", AUTH_NONE, CH_FAIL_NONE, "", 0, false, false},
    {"html", AUTH_NONE, CH_FAIL_NEGOTIATE, "negotiate:", 0, false, false},
    {"e500", AUTH_NONE, CH_FAIL_NEGOTIATE, "negotiate: HTTP 500", 0, false, false},
    {"redirect", AUTH_NONE, CH_FAIL_NEGOTIATE, "negotiate: HTTP 302", 0, false, false},
    {"chunked", AUTH_NONE, CH_FAIL_NEGOTIATE, "negotiate:", 0, false, false},
    {"closed", AUTH_NONE, CH_FAIL_NEGOTIATE, "negotiate:", 0, false, false},
    {"notoken", AUTH_NONE, CH_FAIL_NEGOTIATE, "ConnectionToken", 0, false, false},
    {"binary", AUTH_NONE, CH_FAIL_WS_PROTOCOL, "ws: binary frame received", 0, false, false},
    {"oversize", AUTH_NONE, CH_FAIL_WS_PROTOCOL, "ws: message larger than limit", 0, false, false},
    {"notjson", AUTH_NONE, CH_FAIL_BAD_MESSAGE, "receive:", 0, false, false},
    {"noinit", AUTH_NONE, CH_FAIL_INIT_TIMEOUT, "connect: init message not received within 0.5 s", 0, false, false},
    {"ws401", AUTH_NONE, CH_FAIL_CONNECT, "connect:", 0, false, false},
    {"ws400", AUTH_NONE, CH_FAIL_CONNECT, "connect: HTTP 400 answered the WebSocket upgrade", 0, false, false},
    /* ours also shows the body (lws 4.1's client does not hand it over) */
    {"ws400", AUTH_NONE, CH_FAIL_CONNECT,
     "connect: HTTP 400 answered the WebSocket upgrade: Not a valid web socket request. [2J", 0, true, false},
    {"badstart", AUTH_NONE, CH_FAIL_START, "start: unexpected body", 0, false, false},
    {"auth", AUTH_NONE, CH_FAIL_NEGOTIATE, "negotiate: HTTP 401", 0, false, false},
    {"auth", AUTH_HDR, CH_FAIL_NONE, "", 0, false, false},
    {"auth", AUTH_QRY, CH_FAIL_NONE, "", 0, false, false},
    {"ok", AUTH_NONE, CH_FAIL_NONE, "", 1, false, false},
    {"silent", AUTH_NONE, CH_FAIL_NONE, "", 2, false, false},
    {"ok", AUTH_NONE, CH_FAIL_NONE, "", 0, false, false},
    {"frag", AUTH_NONE, CH_FAIL_NONE, "", 0, false, false},
    {"ok", AUTH_NONE, CH_FAIL_NONE, "", 3, false, false},
    {"ok", AUTH_NONE, CH_FAIL_NONE, "", 4, false, false},
    {"noreconn", AUTH_NONE, CH_FAIL_RECONNECT, "reconnect: could not reconnect within 0.5 s", 5, false, false},
    {"badaccept", AUTH_NONE, CH_FAIL_CONNECT, "connect:", 0, false, false},
    {"masked", AUTH_NONE, CH_FAIL_WS_PROTOCOL, "ws: masked frame", 0, true, false},
    {"garbage1", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage2", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage3", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage4", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage5", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage6", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage7", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage8", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage9", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
    {"garbage10", AUTH_NONE, CH_FAIL_NONE, "", 0, false, true},
};
#define N_CASES (sizeof cases / sizeof *cases)

static void run_hostile(bool lws_framing) {
  struct hostile hs;
  CU_ASSERT_EQUAL_FATAL(hs_start(&hs), 0);
  struct ch_engine *e = NULL;
  static const char *const src[] = {"127.0.0.2", "127.0.0.3"};
  struct ch_engine_opts eo = {.workers = 1,
                              .max_message_bytes = MAX_MSG,
                              .connect_window = 4,
                              .ws_lws_framing = lws_framing,
                              .source_addrs = src,
                              .source_addr_count = 2};
  CU_ASSERT_EQUAL_FATAL(ch_engine_new(&eo, &e, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(ch_engine_start(e, NULL), 0);
  struct run run = {.closed = 0};
  uv_mutex_init(&run.lock);
  uv_cond_init(&run.cond);
  struct case_run runs[N_CASES];
  memset(runs, 0, sizeof runs);
  for (size_t i = 0; i < N_CASES; i++) {
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/%s", hs.port, cases[i].mode);
    CU_ASSERT_EQUAL_FATAL(ch_url_parse(u, &runs[i].url, NULL), 0);
    runs[i].spec = &cases[i];
    runs[i].run = &run;
  }
  struct start_arg sa = {runs, N_CASES};
  CU_ASSERT_EQUAL_FATAL(ch_engine_post(e, 0, start_clients, &sa), 0);
  uint64_t deadline = ch_now_ns() + 20000000000ull;
  uv_mutex_lock(&run.lock);
  while (run.closed < (int)N_CASES && ch_now_ns() < deadline)
    uv_cond_timedwait(&run.cond, &run.lock, 200000000ull);
  int closed = run.closed;
  uv_mutex_unlock(&run.lock);
  uint64_t t_stop = ch_now_ns();
  if (getenv("CH_TEST_VERBOSE"))
    fprintf(stderr, "all closed after %.3f s\n", (double)(t_stop - (deadline - 20000000000ull)) / 1e9);
  ch_engine_stop(e);
  if (getenv("CH_TEST_VERBOSE"))
    fprintf(stderr, "engine stop %.3f s\n", (double)(ch_now_ns() - t_stop) / 1e9);
  CU_ASSERT_EQUAL(closed, (int)N_CASES);
  for (size_t i = 0; i < N_CASES; i++) {
    struct case_run *cr = &runs[i];
    const struct case_spec *sp = cr->spec;
    if (sp->raw_only && lws_framing)
      continue;
    if (sp->any_failure) {
      CU_ASSERT_NOT_EQUAL(cr->got, CH_FAIL_NONE);
      continue;
    }
    if (cr->got != sp->want || !strstr(cr->got_msg, sp->want_msg))
      fprintf(stderr, "\ncase %zu (%s): got %s \"%s\", want %s \"%s\"\n", i, sp->mode, ch_failure_name(cr->got),
              cr->got_msg, ch_failure_name(sp->want), sp->want_msg);
    CU_ASSERT_EQUAL(cr->got, sp->want);
    CU_ASSERT_PTR_NOT_NULL(strstr(cr->got_msg, sp->want_msg));
    CU_ASSERT_FALSE(cr->secret_leaked);
    for (const char *c = cr->got_msg; *c; c++)
      CU_ASSERT_FATAL((unsigned char)*c >= ' ' && (unsigned char)*c < 0x7f); /* a reason is one printable line */
    if (sp->want == CH_FAIL_NONE && sp->action == 0) {
      CU_ASSERT_EQUAL(cr->hub_ok, 1);
      CU_ASSERT_EQUAL(cr->hub_error_ok, 1);
      CU_ASSERT_EQUAL(cr->updates, 2);
      CU_ASSERT_EQUAL(cr->others, 2);
      CU_ASSERT_EQUAL(cr->groups_events, 2);
      CH_ASSERT_STR(ch_client_groups_token(cr->client), "AQgr+oups/tok==");
      CH_ASSERT_STR(ch_client_cursor(cr->client), "d-5A1F00C3-B,2|C,0");
      const struct ch_client_times *t = ch_client_times(cr->client);
      CU_ASSERT_TRUE(t->negotiate_start && t->negotiate_start <= t->negotiate_end &&
                     t->negotiate_end <= t->connect_end && t->connect_end <= t->init_end &&
                     t->init_end <= t->start_end && t->start_end <= t->closed);
      size_t nb = 0;
      CU_ASSERT_PTR_NOT_NULL(ch_client_negotiate_body(cr->client, &nb));
      CU_ASSERT_TRUE(nb > 100);
      const struct ch_client_counters *k = ch_client_counters(cr->client);
      CU_ASSERT_EQUAL(k->msgs_out, 2);
      CU_ASSERT_EQUAL(k->invocations_ok, 1);
      CU_ASSERT_EQUAL(k->invocations_error, 1);
    }
    if (sp->action == 5) {
      CU_ASSERT_TRUE(cr->reconnecting == 1 && cr->reconnected == 0);
      CU_ASSERT_TRUE(ch_client_counters(cr->client)->invocations_ok == 1);
    }
    if (sp->action == 1) {
      CU_ASSERT_EQUAL(cr->reconnecting, 1);
      CU_ASSERT_EQUAL(cr->reconnected, 1);
    }
    if (sp->action == 3)
      CU_ASSERT_EQUAL(cr->timeouts, 1);
    if (sp->action == 4)
      CU_ASSERT_EQUAL(ch_client_times(cr->client)->negotiate_end, 0);
    if (sp->action == 2) {
      CU_ASSERT_EQUAL(cr->ka_slow, 1);
      CU_ASSERT_EQUAL(cr->ka_lost, 1);
      CU_ASSERT_EQUAL(cr->reconnected, 1);
    }
  }
  CU_ASSERT_TRUE(hs.auth_seen_header >= 3); /* negotiate, connect, start (+ abort) */
  CU_ASSERT_TRUE(hs.auth_seen_query >= 3);
  /* every connection (HTTP and WebSocket) came from one of the two source addresses */
  CU_ASSERT_TRUE(hs.peers_127_0_0_2 > 10);
  CU_ASSERT_TRUE(hs.peers_127_0_0_3 > 10);
  for (size_t i = 0; i < N_CASES; i++) {
    ch_client_free(runs[i].client);
    ch_url_free(&runs[i].url);
  }
  ch_engine_free(e);
  t_stop = ch_now_ns();
  hs_stop(&hs);
  if (getenv("CH_TEST_VERBOSE"))
    fprintf(stderr, "server stop %.3f s\n", (double)(ch_now_ns() - t_stop) / 1e9);
  uv_mutex_destroy(&run.lock);
  uv_cond_destroy(&run.cond);
}

/* Our framing over an lws raw socket (the default). */
static void test_engine_hostile_inputs_end_only_their_client(void) { run_hostile(false); }
/* The same with lws's own WebSocket client (ch_engine_opts.ws_lws_framing). */
static void test_engine_hostile_inputs_with_lws_framing(void) { run_hostile(true); }

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_engine_hostile_inputs_end_only_their_client),
                         CH_TEST(test_engine_hostile_inputs_with_lws_framing), CU_TEST_INFO_NULL};
  return ch_test_run("engine_hostile", tests);
}
