/* Per-transport lifecycle and invocation checks on one probe session: init message, start, completions (I echoed as
   a string, void, unknown method, wrong argument count, case-insensitive names) and abort (§3.3, §3.4, §4, §5, §9). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"

static bool want(struct ch_chk_ctx *cx, const char *id, unsigned t) {
  const struct ch_check_def *d = ch_check_find(id);
  return d && (d->transports & t) && (cx->transports & t) && ch_chk_selected(cx, id);
}

static void skip_all(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *const *ids, size_t n, unsigned t,
                     const struct ch_buf *ev, const char *why) {
  for (size_t i = 0; i < n; i++)
    if (want(cx, ids[i], t))
      ch_chk_result(cx, out, ids[i], t, CH_CHECK_SKIP, ev, "%s", why);
}

/* The init message: {"C":string,"S":1,"M":[]} (§3.1, §4). Returns the failure text or NULL. */
static const char *init_problem(struct ch_chk_ctx *cx, const struct ch_buf *raw) {
  cJSON *j = ch_chk_json(cx, raw->data, raw->len);
  const char *why = NULL;
  if (!cJSON_IsObject(j))
    why = "the first message is not a JSON object";
  else if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "C")))
    why = "the init message has no string C";
  else {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "S");
    if (!cJSON_IsNumber(s) || s->valueint != 1)
      why = "the init message lacks \"S\":1";
    else if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "M")))
      why = "the init message lacks the M array (JS clients then never see init)";
  }
  cJSON_Delete(j);
  return why;
}

/* One invocation and the judgement of its completion. kind: 0 success-void, 1 error expected. */
static void invoke_check(struct ch_chk_ctx *cx, struct ch_checks_results *out, struct ch_sess *s, const char *id,
                         const char *hub, const char *method, const char *args, int num_id, int expect_error,
                         bool check_id_type) {
  struct ch_buf comp = CH_BUF_INIT, ev = CH_BUF_INIT, why = CH_BUF_INIT, req = CH_BUF_INIT;
  char idj[16], ids[16];
  snprintf(idj, sizeof idj, "%d", num_id);
  snprintf(ids, sizeof ids, "%d", num_id);
  ch_buf_printf(&req, "{\"H\":\"%s\",\"M\":\"%s\",\"A\":%s,\"I\":%s}", hub, method, args, idj);
  int rc = ch_sess_invoke(s, hub, method, args, idj, &comp);
  cJSON *j = rc == 0 ? ch_chk_json(cx, comp.data, comp.len) : NULL;
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "I");
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "R");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "E");
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "H");
  const char *expected;
  if (rc)
    ch_buf_printf(&why, "no completion (%s)", rc == -ETIMEDOUT ? "timed out" : rc == -EACCES ? "HTTP error" : "failed");
  else if (!cJSON_IsObject(j))
    ch_buf_puts(&why, "the completion is not a JSON object");
  else if (check_id_type && !cJSON_IsString(i))
    ch_buf_printf(&why, "I is %s, expected the string \"%s\"",
                  i ? (cJSON_IsNumber(i) ? "a number" : "not a string") : "missing", ids);
  else if (!i || (cJSON_IsString(i) && strcmp(i->valuestring, ids) != 0))
    ch_buf_printf(&why, "I does not echo the invocation id %s", ids);
  else if (expect_error && !cJSON_IsString(e))
    ch_buf_puts(&why, "no E (error message string) in the completion");
  else if (expect_error && r)
    ch_buf_puts(&why, "an error completion also carries R");
  else if (expect_error && h && !cJSON_IsTrue(h))
    ch_buf_puts(&why, "H is present but not true");
  else if (!expect_error && e)
    ch_buf_printf(&why, "the invocation failed: E = %.120s", cJSON_IsString(e) ? e->valuestring : "(not a string)");
  else if (!expect_error && r)
    ch_buf_puts(&why, "a void method's completion carries R");
  expected = expect_error ? "a completion {\"I\":\"<id>\",\"E\":\"…\"} without R"
                          : "a completion {\"I\":\"<id>\"} without R or E";
  if (why.len) {
    if (s->transport == CH_T_WS) {
      ch_buf_printf(&ev, "request: WebSocket frame %s\nresponse: ", req.data);
      if (comp.data)
        ch_chk_show_bytes(&ev, comp.data, comp.len, CH_CHK_EXCERPT); /* control characters as \xNN */
      else
        ch_buf_puts(&ev, "(none)");
      ch_buf_printf(&ev, "\nexpected: %s", expected);
    } else {
      ch_sess_fail_evidence(s, &ev, expected);
    }
  }
  ch_chk_result(cx, out, id, s->transport, why.len ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%s", why.len ? why.data : "");
  cJSON_Delete(j);
  ch_buf_free(&comp);
  ch_buf_free(&ev);
  ch_buf_free(&why);
  ch_buf_free(&req);
}

static void lower(char *d, const char *s, size_t n) {
  size_t i = 0;
  for (; s[i] && i + 1 < n; i++)
    d[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
  d[i] = '\0';
}

static void one_transport(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned t) {
  static const char *const ids[] = {"CON-001", "CON-002", "INV-001", "INV-002",
                                    "INV-003", "INV-004", "INV-005", "CON-004"};
  bool any = false;
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    any |= want(cx, ids[i], t);
  if (!any)
    return;
  const struct ch_chk_hub *hub = cx->hubs[0];
  struct ch_sess s;
  struct ch_buf init = CH_BUF_INIT, ev = CH_BUF_INIT, body = CH_BUF_INIT;
  ch_chk_begin(cx);
  ch_sess_init(&s, cx, t, cx->auth, hub);
  int rc = ch_sess_negotiate(&s);
  if (rc) {
    ch_sess_fail_evidence(&s, &ev, "negotiate 200");
    skip_all(cx, out, ids, sizeof ids / sizeof ids[0], t, &ev, "negotiate failed");
    goto done;
  }
  rc = ch_sess_connect(&s, false, &init);
  const char *why = rc ? NULL : init_problem(cx, &init);
  if (want(cx, "CON-001", t)) {
    if (rc)
      ch_sess_fail_evidence(&s, &ev, "the init message {\"C\":…,\"S\":1,\"M\":[]}");
    else if (why) {
      ch_buf_printf(&ev, "request: %s %s\nfirst message: ", s.last_method, s.last_url);
      ch_chk_show_bytes(&ev, init.data, init.len, CH_CHK_EXCERPT);
      ch_buf_puts(&ev, "\nexpected: {\"C\":\"…\",\"S\":1,\"M\":[]}");
    }
    if (ev.len) {
      struct ch_buf red = CH_BUF_INIT;
      ch_chk_redact(cx, ev.data, ev.len, &red);
      ch_buf_reset(&ev);
      ch_buf_puts(&ev, red.data);
      ch_buf_free(&red);
    }
    ch_chk_result(cx, out, "CON-001", t, rc || why ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%s",
                  rc    ? (rc == -ETIMEDOUT ? "no init message within the timeout" : "connect failed")
                  : why ? why
                        : "");
  }
  if (rc) {
    ch_buf_reset(&ev);
    skip_all(cx, out, ids + 1, sizeof ids / sizeof ids[0] - 1, t, NULL, "connect failed");
    goto done;
  }
  ch_chk_begin(cx);
  rc = ch_sess_start(&s, &body);
  if (want(cx, "CON-002", t)) {
    cJSON *j = rc == 0 ? ch_chk_json(cx, body.data, body.len) : NULL;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "Response");
    bool ok = rc == 0 && cJSON_IsString(r) && strcmp(r->valuestring, "started") == 0;
    ch_buf_reset(&ev);
    if (!ok)
      ch_sess_fail_evidence(&s, &ev, "200 {\"Response\":\"started\"}");
    ch_chk_result(cx, out, "CON-002", t, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev, "start answered %ld%s", s.last.status,
                  rc == 0 ? " without Response \"started\"" : "");
    cJSON_Delete(j);
  }
  char args[96];
  snprintf(args, sizeof args, "[\"%s\"]", cx->key);
  if (want(cx, "INV-001", t)) {
    ch_chk_begin(cx);
    invoke_check(cx, out, &s, "INV-001", hub->name, hub->sub, args, 0, 0, true);
  }
  if (want(cx, "INV-002", t)) {
    ch_chk_begin(cx);
    invoke_check(cx, out, &s, "INV-002", hub->name, hub->unsub, args, 1, 0, false);
  }
  if (want(cx, "INV-003", t)) {
    ch_chk_begin(cx);
    invoke_check(cx, out, &s, "INV-003", hub->name, "NoSuchMethodHarness", args, 2, 1, false);
  }
  if (want(cx, "INV-004", t)) {
    char args2[160];
    snprintf(args2, sizeof args2, "[\"%s\",\"%s\"]", cx->key, cx->key2);
    ch_chk_begin(cx);
    invoke_check(cx, out, &s, "INV-004", hub->name, hub->sub, args2, 3, 1, false);
  }
  if (want(cx, "INV-005", t)) {
    char lh[64], lm[64];
    lower(lh, hub->name, sizeof lh);
    lower(lm, hub->unsub, sizeof lm);
    ch_chk_begin(cx);
    invoke_check(cx, out, &s, "INV-005", lh, lm, args, 4, 0, false);
  }
  if (want(cx, "CON-004", t)) {
    struct ch_http res = CH_HTTP_INIT;
    ch_chk_begin(cx);
    rc = ch_sess_abort(&s, &res);
    char abort_url[sizeof s.last_url];
    snprintf(abort_url, sizeof abort_url, "%s", s.last_url); /* receiving below may start another poll */
    const char *bad = NULL;
    if (rc)
      bad = "abort got no answer";
    else if (res.status != 200)
      bad = "abort did not answer 200";
    else if (res.body.len)
      bad = "abort answered with a non-empty body";
    else if (t == CH_T_LP) {
      /* the held poll must be answered (with a final {"C":…,"M":[]}) instead of being held on */
      struct ch_buf m = CH_BUF_INIT;
      if (ch_sess_recv(&s, cx->timeout_ms, &m) == 0)
        bad = "the held poll was not answered after abort";
      ch_buf_free(&m);
    } else {
      /* the receive must end: the socket closes / the stream finishes */
      struct ch_buf m = CH_BUF_INIT;
      uint64_t deadline = ch_now_ns() + (uint64_t)cx->timeout_ms * 1000000u;
      int r;
      do
        r = ch_sess_recv(&s, (long)((deadline - ch_now_ns()) / 1000000u), &m);
      while (r == 1 && ch_now_ns() < deadline);
      if (r >= 0)
        bad = "the receive channel stayed open after abort";
      ch_buf_free(&m);
    }
    ch_buf_reset(&ev);
    if (bad)
      ch_chk_evidence(cx, &ev, "POST", abort_url, &res, "200, empty body, then the receive ends");
    ch_chk_result(cx, out, "CON-004", t, bad ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%s", bad ? bad : "");
    ch_http_free(&res);
    s.connected = false; /* aborted already */
  }
done:
  ch_sess_end(&s);
  ch_buf_free(&init);
  ch_buf_free(&ev);
  ch_buf_free(&body);
}

/* The lifecycle and invocation checks share one connection per transport. */
void ch_chk_family_lifecycle(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  unsigned close_mask = 0;
  for (size_t i = 0; i < 3; i++) {
    one_transport(cx, out, ch_chk_transports[i]);
    if (want(cx, "CON-008", ch_chk_transports[i]))
      close_mask |= ch_chk_transports[i];
  }
  if (close_mask)
    ch_chk_server_close(cx, out, close_mask);
}
