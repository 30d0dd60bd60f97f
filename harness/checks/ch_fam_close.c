/* CON-008: the server must not end a receive channel the client did not ask to end (§4.1: a 2.4 server closes a
   WebSocket itself only on abort, replacement by a newer request, ConnectionTimeout with keep-alives off, or host
   shutdown; §8: the clients then reconnect, so such closes cost replays and reconnect storms while looking
   harmless). One subscribed session per transport receives a delivery burst, then is held idle for a
   KeepAliveTimeout; any Close frame, TCP close, end of the event stream, failed poll or poll answered with T:1 on
   the way fails it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"

/* Counts the Updates of burst b in one persistent response. */
static unsigned count_burst(struct ch_chk_ctx *cx, const char *raw, const struct ch_chk_hub *h,
                            const struct ch_chk_burst *b) {
  cJSON *j = ch_chk_json(raw);
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

/* Receives until the deadline, n_want burst Updates, or the end of the channel; returns the last ch_sess_recv code. */
static int watch(struct ch_chk_ctx *cx, struct ch_sess *s, const struct ch_chk_burst *b, unsigned n_want,
                 unsigned *got, long ms) {
  uint64_t deadline = ch_now_ns() + (uint64_t)ms * 1000000u;
  struct ch_buf m = CH_BUF_INIT;
  int rc = 0;
  while (!s->server_close[0] && (!n_want || *got < n_want)) {
    uint64_t now = ch_now_ns();
    if (now >= deadline)
      break;
    rc = ch_sess_recv(s, (long)((deadline - now) / 1000000u) + 1, &m);
    if (rc == 1 && b)
      *got += count_burst(cx, m.data, s->hub, b);
    else if (rc < 0 && rc != -EBADMSG)
      break;
  }
  ch_buf_free(&m);
  return rc;
}

void ch_chk_server_close(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned t) {
  struct ch_sess s;
  struct ch_buf ev = CH_BUF_INIT, err = CH_BUF_INIT, comp = CH_BUF_INIT;
  ch_chk_begin(cx);
  ch_sess_init(&s, cx, t, cx->auth, cx->hubs[0]);
  char args[96];
  snprintf(args, sizeof args, "[\"%s\"]", cx->key);
  cJSON *cj = NULL;
  if (ch_sess_open(&s, &ev) != 0 || ch_sess_invoke(&s, s.hub->name, s.hub->sub, args, "0", &comp) != 0 ||
      !cJSON_IsObject(cj = ch_chk_json(comp.data)) || cJSON_GetObjectItemCaseSensitive(cj, "E")) {
    if (!ev.len)
      ch_sess_fail_evidence(&s, &ev, "the subscription to complete without E");
    ch_chk_result(cx, out, "CON-008", t, CH_CHECK_SKIP, &ev, "could not connect and subscribe");
    goto done;
  }
  ch_sess_settle(&s);
  uint64_t t_open = ch_now_ns();
  struct ch_chk_burst b = {0};
  unsigned got = 0;
  bool burst_sent = false;
  if (cx->trigger) {
    if (ch_chk_publish_burst(cx, s.hub, cx->key, cx->burst, &b, NULL, &err) == 0)
      burst_sent = true;
    else
      ch_buf_printf(&ev, "the burst could not be published (%s); only the hold was watched\n", err.data);
  }
  long quiet = cx->timeout_ms < 1500 ? cx->timeout_ms : 1500;
  if (burst_sent)
    while (!s.server_close[0] && got < b.n) {
      unsigned before = got;
      int rc = watch(cx, &s, &b, b.n, &got, quiet);
      if (got == before || (rc < 0 && rc != -EBADMSG))
        break; /* nothing new for a while (DEL-007 judges loss), or the channel failed */
    }
  uint64_t t_hold = ch_now_ns();
  /* idle for a KeepAliveTimeout: the clients' own window for a silent channel; a server keeps channels up */
  long hold = s.ka_timeout > 0 ? (long)(s.ka_timeout * 1000) : cx->passive_ms;
  hold = hold < 100 ? 100 : hold > 30000 ? 30000 : hold;
  if (!s.server_close[0])
    watch(cx, &s, NULL, 0, &got, hold);
  bool closed = s.server_close[0] != 0;
  if (burst_sent)
    ch_checks_burst_describe(b.n, &ev);
  else if (!cx->trigger)
    ch_buf_puts(&ev, "no trigger: no burst, only the hold was watched");
  ch_buf_printf(&ev, "\nhold: %ld ms idle after the burst (KeepAliveTimeout)", hold);
  if (closed) {
    const char *when = s.server_close_ns < t_hold ? "during the burst" : "during the hold";
    ch_buf_printf(&ev, "\n%s on %s %s, %.0f ms after the subscription, after %u of %u burst Updates", s.server_close,
                  ch_tmask_name(t), when, (double)(s.server_close_ns - t_open) / 1e6, got, burst_sent ? b.n : 0);
    ch_buf_puts(&ev, "\nexpected: the receive channel stays open until the client aborts or drops it");
  }
  ch_chk_result(cx, out, "CON-008", t, closed ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%s (not asked by the client)",
                s.server_close);
done:
  cJSON_Delete(cj);
  ch_sess_end(&s);
  ch_buf_free(&ev);
  ch_buf_free(&err);
  ch_buf_free(&comp);
}
