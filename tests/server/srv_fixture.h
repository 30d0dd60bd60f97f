/* Fixture for the server tests: an in-process endpoint on free ports and a few client steps. */
#ifndef SRV_FIXTURE_H
#define SRV_FIXTURE_H

#include "ch_clock.h"
#include "ch_server.h"
#include "srv_client.h"

static const char CDATA_RES[] __attribute__((unused)) = "%5B%7B%22name%22%3A%22resourceeventhub%22%7D%5D";
static const char CDATA_JOB[] __attribute__((unused)) = "%5B%7B%22name%22%3A%22jobeventhub%22%7D%5D";

struct fx {
  struct ch_server *s;
  int port, cport;
};

static inline int fx_start(struct fx *f, struct ch_server_opts *o) {
  o->quiet = true;
  if (ch_server_new(o, &f->s))
    return -1;
  if (ch_server_start(f->s)) {
    ch_server_free(f->s);
    return -1;
  }
  f->port = ch_server_port(f->s);
  f->cport = ch_server_control_port(f->s);
  return 0;
}

static inline void fx_stop(struct fx *f) { ch_server_free(f->s); }

/* negotiate and return the URL-encoded connection token */
static inline bool negotiate(struct fx *f, const char *cdata, const char *hdrs, char *tok_enc, size_t cap) {
  char target[512], tok[512];
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s&_=1", cdata);
  struct resp r;
  http_req(f->port, "GET", target, hdrs, NULL, &r);
  bool ok = r.status == 200 && json_str(r.body.data, "ConnectionToken", tok, sizeof tok);
  if (ok)
    pct(tok, tok_enc, cap);
  resp_free(&r);
  return ok;
}

static inline int publish(struct fx *f, const char *hub, const char *key, int count) {
  char body[256];
  snprintf(body, sizeof body, "{\"hub\":\"%s\",\"key\":\"%s\",\"count\":%d}", hub, key, count);
  struct resp r;
  http_req(f->cport, "POST", "/publish", NULL, body, &r);
  int st = r.status;
  resp_free(&r);
  return st;
}

/* A WebSocket subscriber on `key`; returns the fd after the subscription completed (init frame consumed). */
static inline int ws_subscriber(struct fx *f, const char *key, struct ch_buf *fr, char *tok, size_t cap) {
  char target[1024], inv[256];
  if (!negotiate(f, CDATA_RES, NULL, tok, cap))
    return -1;
  snprintf(target, sizeof target, "/signalr/connect?transport=webSockets&connectionToken=%s&connectionData=%s", tok,
           CDATA_RES);
  int fd = ws_open(f->port, target, NULL, NULL);
  if (fd < 0)
    return -1;
  snprintf(inv, sizeof inv, "{\"H\":\"resourceeventhub\",\"M\":\"SubscribeToPart\",\"A\":[\"%s\"],\"I\":0}", key);
  ws_send(fd, inv);
  if (!ws_recv_match(fd, fr, "{\"I\":\"0\"}", 3000)) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Appends the HarnessSeq values of one frame (in order) to seqs; returns how many the frame had. */
static inline int frame_seqs(const struct ch_buf *fr, int *seqs, int cap, int *n) {
  int k = 0;
  for (const char *p = fr->data; p && (p = strstr(p, "\"HarnessSeq\":")); p++, k++)
    if (*n < cap)
      seqs[(*n)++] = atoi(p + 13);
  return k;
}

/* Reads frames until `want` HarnessSeq values arrived (appended in order to seqs) or deadline_ms passed; returns how
   many arrived. It returns as soon as the count is reached: follow with no_more_seqs to assert nothing else came. */
static inline int collect_seqs(int fd, struct ch_buf *fr, int *seqs, int cap, int want, int deadline_ms) {
  uint64_t end = ch_now_ns() + (uint64_t)deadline_ms * 1000000u;
  int n = 0, got = 0;
  while (got < want) {
    uint64_t now = ch_now_ns();
    if (now >= end)
      break;
    int op = ws_recv(fd, fr, (int)((end - now) / 1000000u) + 1);
    if (op <= 0 || op == 8)
      break;
    got += frame_seqs(fr, seqs, cap, &n);
  }
  return got;
}

/* The HarnessSeq values that arrive within ms (a bounded check after the expected count: 0 when nothing more came). */
static inline int no_more_seqs(int fd, struct ch_buf *fr, int ms) {
  uint64_t end = ch_now_ns() + (uint64_t)ms * 1000000u;
  int n = 0, got = 0, unused[1];
  for (uint64_t now = ch_now_ns(); now < end; now = ch_now_ns()) {
    int op = ws_recv(fd, fr, (int)((end - now) / 1000000u) + 1);
    if (op <= 0 || op == 8)
      break;
    got += frame_seqs(fr, unused, 0, &n);
  }
  return got;
}

static inline int start_with_fault(struct fx *f, enum ch_fault fl, double keepalive) {
  struct ch_server_opts o = {.faults = 1u << fl, .keepalive_s = keepalive};
  return fx_start(f, &o);
}

#endif /* SRV_FIXTURE_H */
