/* The control API (its own loopback port): POST /publish, GET /stats, POST /drop, POST /reset-stats. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_srv.h"

struct cpss {
  char path[64];
  bool post;
  struct ch_buf body;
};

size_t ch_srv_control_pss_size(void) { return sizeof(struct cpss); }

static const char CT_JSON[] = "application/json; charset=UTF-8";

static int done(struct lws *wsi, struct cpss *p, unsigned status, struct ch_buf *out) {
  int rc = ch_srv_reply(wsi, status, CT_JSON, out->data ? out->data : "", out->len);
  ch_buf_free(out);
  ch_buf_free(&p->body);
  if (rc)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void ch_srv_stats_vec(const struct ch_server *s, uint64_t v[CH_SRV_NSTAT]) {
  memset(v, 0, CH_SRV_NSTAT * sizeof v[0]);
  for (size_t b = 0; b < s->conn_buckets; b++)
    for (struct ch_srv_conn *c = s->conns[b]; c; c = c->next) {
      if (!c->wsi)
        continue;
      v[0] += c->tr == CH_SRV_TR_WS;
      v[1] += c->tr == CH_SRV_TR_SSE;
      v[2] += c->tr == CH_SRV_TR_LP;
    }
  v[3] = s->n_conns;
  v[4] = s->st.connections_total;
  v[5] = ch_srv_count_subscriptions(s);
  v[6] = s->st.negotiates;
  v[7] = s->st.invocations;
  v[8] = s->st.publishes;
  v[9] = s->st.pushes;
  v[10] = s->st.deliveries;
  v[11] = s->st.keepalives;
  v[12] = s->st.drops;
  v[13] = s->st.rejected;
  v[14] = s->st.drop_requests;
}

static double tv_s(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

/* Resident set size (VmRSS of /proc/self/status) in KiB, or -1 when it cannot be read. */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[128];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  if (f)
    fclose(f);
  return kib;
}

/* The resources this server uses, for capacity reports. cpu_s is the CPU time of the server's own loop thread (this
   callback runs on it, and it does all of the server's work), which stays right when the server is embedded in the
   harness process beside the load generator; process_cpu_s and rss_kib are the whole process's. Only this process:
   --processes siblings are not included. */
static void resources_json(struct ch_buf *out) {
  struct rusage th = {0}, self = {0};
  double cpu = getrusage(RUSAGE_THREAD, &th) == 0 ? tv_s(th.ru_utime) + tv_s(th.ru_stime) : -1;
  double pcpu = getrusage(RUSAGE_SELF, &self) == 0 ? tv_s(self.ru_utime) + tv_s(self.ru_stime) : -1;
  ch_buf_printf(out, ",\"cpu_s\":%.6f,\"process_cpu_s\":%.6f,\"rss_kib\":%ld", cpu, pcpu, rss_kib());
}

/* Sums this process and its --processes siblings (their counters are at most a second old). */
void ch_srv_stats_json(struct ch_server *s, struct ch_buf *out) {
  uint64_t v[CH_SRV_NSTAT];
  ch_srv_stats_vec(s, v);
  size_t procs = 1 + ch_srv_siblings_add(s, v);
  unsigned long long *u = (unsigned long long *)v;
  ch_buf_printf(out,
                "{\"pid\":%ld,\"processes\":%zu,\"connections\":{\"webSockets\":%llu,\"serverSentEvents\":%llu,"
                "\"longPolling\":%llu,\"live\":%llu,\"known\":%llu,\"total\":%llu},\"subscriptions\":%llu,"
                "\"negotiates\":%llu,\"invocations\":%llu,\"publishes\":%llu,\"pushes\":%llu,\"deliveries\":%llu,"
                "\"keepalives\":%llu,\"dropped_messages\":%llu,\"rejected\":%llu,\"drop_requests\":%llu,"
                "\"last_fanout_us\":%llu",
                (long)getpid(), procs, u[0], u[1], u[2], u[0] + u[1] + u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                u[10], u[11], u[12], u[13], u[14], (unsigned long long)(s->st.last_fanout_ns / 1000u));
  resources_json(out);
  ch_buf_putc(out, '}');
}

/* Drops up to `count` live transport connections (all when count < 0) without forgetting their state. */
static size_t drop_transports(struct ch_server *s, long count) {
  size_t n = 0;
  for (size_t b = 0; b < s->conn_buckets && (count < 0 || (long)n < count); b++)
    for (struct ch_srv_conn *c = s->conns[b]; c && (count < 0 || (long)n < count); c = c->next) {
      if (!c->wsi)
        continue;
      struct lws *w = c->wsi;
      c->wsi = NULL;
      c->tr = CH_SRV_TR_NONE;
      c->last_seen_ns = ch_now_ns();
      /* the pss no longer owns the connection; the socket just dies like a network failure */
      ch_srv_detach_pss(lws_wsi_user(w));
      lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      n++;
    }
  return n;
}

static int handle(struct ch_server *s, struct lws *wsi, struct cpss *p) {
  struct ch_buf out = CH_BUF_INIT;
  const char *b = p->body.data ? p->body.data : "";
  if (strcmp(p->path, "/publish") == 0 && p->post) {
    int st = ch_srv_publish_request(s, b, p->body.len, &out);
    if (st == 200)
      ch_srv_relay(s, b, p->body.len);
    return done(wsi, p, (unsigned)st, &out);
  }
  if (strcmp(p->path, "/stats") == 0) {
    ch_srv_stats_json(s, &out);
    return done(wsi, p, 200, &out);
  }
  if (strcmp(p->path, "/drop") == 0 && p->post) {
    long count = -1;
    cJSON *j = p->body.len ? cJSON_ParseWithLength(b, p->body.len) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "count");
    if (cJSON_IsNumber(c) && c->valuedouble >= 0)
      count = (long)c->valuedouble;
    cJSON_Delete(j);
    size_t n = drop_transports(s, count);
    s->st.drop_requests++;
    ch_buf_printf(&out, "{\"dropped\":%zu}", n);
    return done(wsi, p, 200, &out);
  }
  if (strcmp(p->path, "/reset-stats") == 0 && p->post) {
    memset(&s->st, 0, sizeof s->st);
    ch_buf_puts(&out, "{}");
    return done(wsi, p, 200, &out);
  }
  ch_buf_puts(&out, "{\"error\":\"unknown control request\"}");
  return done(wsi, p, 404, &out);
}

int ch_srv_control_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  struct cpss *p = user;
  struct ch_server *s = lws_context_user(lws_get_context(wsi));
  switch (reason) {
  case LWS_CALLBACK_HTTP:
    snprintf(p->path, sizeof p->path, "%s", in ? (const char *)in : "");
    p->body = (struct ch_buf)CH_BUF_INIT;
    p->post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    if (p->post)
      return 0;
    return handle(s, wsi, p);
  case LWS_CALLBACK_HTTP_BODY:
    if (p->body.len + len > 1024 * 1024 || ch_buf_append(&p->body, in, len))
      return -1;
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return handle(s, wsi, p);
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    return -1; /* no WebSockets on the control port */
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    if (p)
      ch_buf_free(&p->body);
    return 0;
  default:
    return 0;
  }
}

void ch_srv_relay(struct ch_server *s, const char *body, size_t len) {
  for (size_t i = 0; i < s->n_relay; i++) {
    /* one line per command; bodies never contain raw newlines that matter to JSON, but strip them anyway */
    struct ch_buf line = CH_BUF_INIT;
    for (size_t k = 0; k < len; k++)
      ch_buf_putc(&line, body[k] == '\n' || body[k] == '\r' ? ' ' : body[k]);
    ch_buf_putc(&line, '\n');
    size_t off = 0;
    while (line.data && off < line.len) {
      ssize_t w = write(s->relay_fds[i], line.data + off, line.len - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        break;
      off += (size_t)w;
    }
    ch_buf_free(&line);
  }
}
