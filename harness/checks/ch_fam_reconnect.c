/* Keep-alive cadence against the negotiated KeepAliveTimeout (§7), and reconnect (§8): messageId replays what was
   missed while the receive channel was down, groupsToken restores the subscriptions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"

static void keepalive(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned t) {
  struct ch_sess s;
  struct ch_buf ev = CH_BUF_INIT, m = CH_BUF_INIT;
  ch_chk_begin(cx);
  ch_sess_init(&s, cx, t, cx->auth, cx->hubs[0]);
  if (ch_sess_open(&s, &ev) != 0) {
    ch_chk_result(cx, out, "KA-001", t, CH_CHECK_SKIP, &ev, "could not connect");
    goto done;
  }
  const cJSON *ka = cJSON_GetObjectItemCaseSensitive(s.negotiate, "KeepAliveTimeout");
  if (!cJSON_IsNumber(ka) || ka->valuedouble <= 0) {
    ch_chk_result(cx, out, "KA-001", t, CH_CHECK_SKIP, NULL, "KeepAliveTimeout is null: keep-alives are disabled");
    goto done;
  }
  /* the interval between keep-alives must not exceed KeepAliveTimeout (the clients' reconnect threshold); the first
     one may come any time in the first period. 10% + 100 ms (at least 250 ms) of slack absorbs scheduling. */
  uint64_t kat = (uint64_t)(ka->valuedouble * 1e9), slack = kat / 10 + 100000000u;
  if (slack < 250000000u)
    slack = 250000000u; /* scheduling noise on a loaded machine, not the target's cadence */
  unsigned need = 2;
  uint64_t start = ch_now_ns(), prev = start, worst = 0;
  unsigned seen = 0, base = s.keepalives;
  while (seen < need) {
    uint64_t now = ch_now_ns();
    if (now - prev > kat + slack)
      break;
    long ms = (long)((prev + kat + slack - now) / 1000000u) + 1;
    int rc = ch_sess_recv(&s, ms < 50 ? ms : 50, &m);
    if (rc < 0 && rc != -EBADMSG)
      break;
    if (s.keepalives != base) {
      uint64_t at = s.last_ka_ns;
      if (seen && at - prev > worst)
        worst = at - prev;
      prev = at;
      base = s.keepalives;
      seen++;
    }
  }
  bool ok = seen >= need && worst <= kat + slack;
  if (!ok)
    ch_buf_printf(&ev,
                  "negotiated KeepAliveTimeout %.1f s; saw %u keep-alive(s) in %.2f s on %s\nexpected: one at "
                  "least every %.1f s",
                  ka->valuedouble, seen, (double)(ch_now_ns() - start) / 1e9, ch_tmask_name(t), ka->valuedouble);
  ch_chk_result(cx, out, "KA-001", t, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev,
                "no keep-alive within KeepAliveTimeout (%.1f s)", ka->valuedouble);
done:
  ch_sess_end(&s);
  ch_buf_free(&ev);
  ch_buf_free(&m);
}

/* Receives until Updates carrying each of the n nonces arrived (found[i] set) or the timeout; returns how many. */
static int got_nonces(struct ch_chk_ctx *cx, struct ch_sess *s, const char (*nonces)[24], int n, bool *found,
                      long timeout_ms, struct ch_buf *seen) {
  uint64_t deadline = ch_now_ns() + (uint64_t)timeout_ms * 1000000u;
  struct ch_buf m = CH_BUF_INIT;
  int k = 0;
  for (int i = 0; i < n; i++)
    k += found[i];
  while (k < n && ch_now_ns() < deadline) {
    int rc = ch_sess_recv(s, (long)((deadline - ch_now_ns()) / 1000000u) + 1, &m);
    if (rc < 0 && rc != -EBADMSG)
      break;
    if (rc != 1)
      continue;
    cJSON *j = ch_chk_json(cx, m.data, m.len);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "M")) {
      const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "A"), 0);
      for (int i = 0; a && i < n; i++)
        if (!found[i] && ch_chk_update_matches(cx, a, nonces[i], NULL))
          found[i] = true, k++;
    }
    if (seen && seen->len < 600)
      ch_buf_printf(seen, "\n  %.200s", m.data);
    cJSON_Delete(j);
  }
  ch_buf_free(&m);
  return k;
}

static bool got_nonce(struct ch_chk_ctx *cx, struct ch_sess *s, const char *nonce, long timeout_ms) {
  char one[1][24];
  bool f = false;
  snprintf(one[0], sizeof one[0], "%s", nonce);
  return got_nonces(cx, s, (const char(*)[24])one, 1, &f, timeout_ms, NULL) == 1;
}

static void reconnect(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned t) {
  struct ch_sess s;
  struct ch_buf ev = CH_BUF_INIT, err = CH_BUF_INIT, comp = CH_BUF_INIT, init = CH_BUF_INIT, seen = CH_BUF_INIT;
  bool w1 = ch_chk_selected(cx, "REC-001"), w2 = ch_chk_selected(cx, "REC-002");
  char pre[24], missed[3][24], after[24], args[96];
  ch_chk_begin(cx);
  if (!cx->trigger) {
    if (w1)
      ch_chk_result(cx, out, "REC-001", t, CH_CHECK_SKIP, NULL, "needs a trigger (--trigger FILE)");
    if (w2)
      ch_chk_result(cx, out, "REC-002", t, CH_CHECK_SKIP, NULL, "needs a trigger (--trigger FILE)");
    return;
  }
  ch_sess_init(&s, cx, t, cx->auth, cx->hubs[0]);
  snprintf(args, sizeof args, "[\"%s\"]", cx->key);
  if (ch_sess_open(&s, &ev) != 0 || ch_sess_invoke(&s, s.hub->name, s.hub->sub, args, "0", &comp) != 0) {
    if (!ev.len)
      ch_sess_fail_evidence(&s, &ev, "connect and subscribe");
    if (w1)
      ch_chk_result(cx, out, "REC-001", t, CH_CHECK_SKIP, &ev, "could not connect and subscribe");
    if (w2)
      ch_chk_result(cx, out, "REC-002", t, CH_CHECK_SKIP, &ev, "could not connect and subscribe");
    goto done;
  }
  ch_sess_settle(&s);
  /* one Update received before the drop makes the cursor and the groups token current */
  ch_chk_nonce(cx, pre);
  if (ch_chk_publish(cx, s.hub, cx->key, ++cx->seq, pre, &err) || !got_nonce(cx, &s, pre, cx->timeout_ms)) {
    if (w1)
      ch_chk_result(cx, out, "REC-001", t, CH_CHECK_SKIP, NULL, "no Update before the drop%s%s", err.len ? ": " : "",
                    err.len ? err.data : "");
    if (w2)
      ch_chk_result(cx, out, "REC-002", t, CH_CHECK_SKIP, NULL, "no Update before the drop");
    goto done;
  }
  ch_sess_drop(&s);
  for (int i = 0; i < 3; i++) {
    ch_chk_nonce(cx, missed[i]);
    ch_chk_publish(cx, s.hub, cx->key, ++cx->seq, missed[i], &err);
  }
  int rc = ch_sess_connect(&s, true, &init);
  if (rc) {
    ch_sess_fail_evidence(&s, &ev, "reconnect accepted");
    if (w1)
      ch_chk_result(cx, out, "REC-001", t, CH_CHECK_FAIL, &ev, "reconnect failed");
    if (w2)
      ch_chk_result(cx, out, "REC-002", t, CH_CHECK_SKIP, &ev, "reconnect failed");
    goto done;
  }
  if (w1) {
    bool found[3] = {false, false, false};
    int n = got_nonces(cx, &s, (const char(*)[24])missed, 3, found, cx->timeout_ms, &seen);
    ch_buf_reset(&ev);
    if (n < 3)
      ch_buf_printf(&ev,
                    "request: %s (reconnect with messageId and groupsToken)\nreceived after reconnect:%s\n"
                    "expected: the 3 Updates published while disconnected",
                    s.last_url, seen.len ? seen.data : " nothing");
    struct ch_buf red = CH_BUF_INIT;
    ch_chk_redact(cx, ev.data ? ev.data : "", ev.len, &red);
    ch_chk_result(cx, out, "REC-001", t, n == 3 ? CH_CHECK_PASS : CH_CHECK_FAIL, &red,
                  "%d of 3 missed Updates replayed", n);
    ch_buf_free(&red);
  }
  if (w2) {
    ch_chk_begin(cx);
    ch_chk_nonce(cx, after);
    ch_buf_reset(&err);
    ch_buf_reset(&ev);
    if (ch_chk_publish(cx, s.hub, cx->key, ++cx->seq, after, &err)) {
      ch_chk_result(cx, out, "REC-002", t, CH_CHECK_SKIP, NULL, "%s", err.data);
    } else {
      bool ok = got_nonce(cx, &s, after, cx->timeout_ms);
      if (!ok)
        ch_buf_printf(&ev,
                      "after a reconnect with groupsToken, an Update for key %s did not arrive within %ld ms\n"
                      "expected: the subscription restored from the groups token",
                      cx->key, cx->timeout_ms);
      ch_chk_result(cx, out, "REC-002", t, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev,
                    "the subscription was lost across the reconnect");
    }
  }
done:
  ch_sess_end(&s);
  ch_buf_free(&ev);
  ch_buf_free(&err);
  ch_buf_free(&comp);
  ch_buf_free(&init);
  ch_buf_free(&seen);
}

void ch_chk_family_keepalive(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  for (size_t i = 0; i < 3; i++)
    if ((cx->transports & ch_chk_transports[i]) && ch_chk_selected(cx, "KA-001"))
      keepalive(cx, out, ch_chk_transports[i]);
}

void ch_chk_family_reconnect(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  for (size_t i = 0; i < 3; i++)
    if ((cx->transports & ch_chk_transports[i]) && (ch_chk_selected(cx, "REC-001") || ch_chk_selected(cx, "REC-002")))
      reconnect(cx, out, ch_chk_transports[i]);
}
