/* CON-008: the server must not end a receive channel the client did not ask to end (§4.1: a 2.4 server closes a
   WebSocket itself only on abort, replacement by a newer request, ConnectionTimeout with keep-alives off, or host
   shutdown; §8: the clients then reconnect, so such closes cost replays and reconnect storms while looking
   harmless). One subscribed session per transport receives a delivery burst, then is held idle for a
   KeepAliveTimeout; any Close frame, TCP close, end of the event stream, failed poll or poll answered with T:1 on
   the way fails it. The transcript of a failure holds every transport's session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"

/* Counts the Updates of burst b in one persistent response. */
static unsigned count_burst(struct ch_chk_ctx *cx, const struct ch_buf *raw, const struct ch_chk_hub *h,
                            const struct ch_chk_burst *b) {
  cJSON *j = ch_chk_json(cx, raw->data, raw->len);
  const cJSON *e;
  unsigned n = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "M")) {
    const cJSON *hub = cJSON_GetObjectItemCaseSensitive(e, "H");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "A");
    if (cJSON_IsString(hub) && strcasecmp(hub->valuestring, h->name) == 0 &&
        ch_chk_burst_index(cx, cJSON_GetArrayItem(a, 0), b) >= 0)
      n++;
  }
  cJSON_Delete(j);
  return n;
}

/* One transport's session and what it saw. */
struct watched {
  struct ch_sess s;
  struct ch_buf ev;
  unsigned t, got;
  bool open; /* connected and subscribed */
  bool quiet; /* the burst phase is over for it: all arrived, nothing new for a while, or the channel failed */
  uint64_t last_new_ns;
};

/* Receives on one session for up to ms; returns false when its channel failed. */
static bool pump(struct ch_chk_ctx *cx, struct watched *w, const struct ch_chk_burst *b, long ms) {
  struct ch_buf m = CH_BUF_INIT;
  int rc = ch_sess_recv(&w->s, ms, &m);
  if (rc == 1 && b) {
    unsigned n = count_burst(cx, &m, w->s.hub, b);
    if (n)
      w->got += n, w->last_new_ns = ch_now_ns();
  }
  ch_buf_free(&m);
  return !(rc < 0 && rc != -EBADMSG) && !w->s.server_close[0];
}

/* The sessions of every transport are subscribed to the same key, so one burst reaches all of them, and they are
   held together: the check costs one burst and one hold, not three. */
void ch_chk_server_close(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned mask) {
  struct watched w[3];
  size_t nw = 0;
  struct ch_buf err = CH_BUF_INIT, comp = CH_BUF_INIT, power = CH_BUF_INIT;
  char args[96];
  snprintf(args, sizeof args, "[\"%s\"]", cx->key);
  ch_chk_begin(cx);
  for (size_t i = 0; i < 3; i++) {
    if (!(mask & ch_chk_transports[i]))
      continue;
    struct watched *x = &w[nw++];
    memset(x, 0, sizeof *x);
    x->t = ch_chk_transports[i];
    ch_sess_init(&x->s, cx, x->t, cx->auth, cx->hubs[0]);
    cJSON *cj = NULL;
    x->open = ch_sess_open(&x->s, &x->ev) == 0 &&
              ch_sess_invoke(&x->s, x->s.hub->name, x->s.hub->sub, args, "0", &comp) == 0 &&
              cJSON_IsObject(cj = ch_chk_json(cx, comp.data, comp.len)) && !cJSON_GetObjectItemCaseSensitive(cj, "E");
    cJSON_Delete(cj);
    if (x->open)
      ch_sess_settle(&x->s);
    else if (!x->ev.len)
      ch_sess_fail_evidence(&x->s, &x->ev, "the subscription to complete without E");
  }
  uint64_t t_open = ch_now_ns();
  struct ch_chk_burst b = {0};
  bool burst_sent = false;
  if (cx->trigger) {
    if (ch_chk_publish_burst(cx, cx->hubs[0], cx->key, cx->burst, &b, &err) == 0)
      burst_sent = true;
    else
      ch_buf_printf(&power, "the burst could not be published (%s); only the hold was watched", err.data);
  } else {
    ch_buf_puts(&power, "no trigger: no burst, only the hold was watched");
  }
  if (burst_sent)
    ch_checks_burst_describe(b.n, &power);
  /* the burst: until each session has all of it, or nothing new came for a while (DEL-007 judges loss) */
  long quiet = cx->burst_quiet_ms;
  for (size_t i = 0; i < nw; i++)
    w[i].quiet = !w[i].open || !burst_sent, w[i].last_new_ns = ch_now_ns();
  for (bool busy = true; busy;) {
    busy = false;
    for (size_t i = 0; i < nw; i++) {
      struct watched *x = &w[i];
      if (x->quiet)
        continue;
      if (!pump(cx, x, &b, 10) || x->got >= b.n || ch_now_ns() - x->last_new_ns > (uint64_t)quiet * 1000000u)
        x->quiet = true;
      busy |= !x->quiet;
    }
  }
  uint64_t t_hold = ch_now_ns();
  /* idle for a KeepAliveTimeout: the clients' own window for a silent channel; a server keeps channels up */
  long hold = 0;
  for (size_t i = 0; i < nw; i++) {
    long h = w[i].s.ka_timeout > 0 ? (long)(w[i].s.ka_timeout * 1000) : cx->passive_ms;
    if (h > hold)
      hold = h;
  }
  hold = hold < 100 ? 100 : hold > 30000 ? 30000 : hold;
  uint64_t hold_end = t_hold + (uint64_t)hold * 1000000u;
  for (bool busy = true; busy && ch_now_ns() < hold_end;) {
    busy = false;
    for (size_t i = 0; i < nw; i++)
      if (w[i].open && !w[i].s.server_close[0] && pump(cx, &w[i], burst_sent ? &b : NULL, 10))
        busy = true;
  }
  for (size_t i = 0; i < nw; i++) {
    struct watched *x = &w[i];
    if (!x->open) {
      ch_chk_result(cx, out, "CON-008", x->t, CH_CHECK_SKIP, &x->ev, "could not connect and subscribe");
      continue;
    }
    bool closed = x->s.server_close[0] != 0;
    ch_buf_printf(&x->ev, "%s\nhold: %ld ms idle after the burst (KeepAliveTimeout)", power.data, hold);
    if (closed) {
      ch_buf_printf(&x->ev, "\n%s on %s %s, %.0f ms after the subscription, after %u of %u burst Updates",
                    x->s.server_close, ch_tmask_name(x->t),
                    x->s.server_close_ns < t_hold ? "during the burst" : "during the hold",
                    (double)(x->s.server_close_ns - t_open) / 1e6, x->got, burst_sent ? b.n : 0);
      ch_buf_puts(&x->ev, "\nexpected: the receive channel stays open until the client aborts or drops it");
    }
    ch_chk_result(cx, out, "CON-008", x->t, closed ? CH_CHECK_FAIL : CH_CHECK_PASS, &x->ev,
                  "%s (not asked by the client)", x->s.server_close);
  }
  for (size_t i = 0; i < nw; i++) {
    ch_sess_end(&w[i].s);
    ch_buf_free(&w[i].ev);
  }
  ch_buf_free(&err);
  ch_buf_free(&comp);
  ch_buf_free(&power);
}
