/* Authorization checks (§6, §9): no credentials → 401 on negotiate and on connect; malformed, unknown and
   wrong-scheme credentials → 401; a connection token replayed by another user → 403; a forbidden key rejected. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_url.h"

static void neg_status(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *id, const char *auth,
                       const char *what) {
  struct ch_buf url = CH_BUF_INIT, ev = CH_BUF_INIT, cd = CH_BUF_INIT, raw = CH_BUF_INIT;
  struct ch_http res = CH_HTTP_INIT;
  ch_chk_begin(cx);
  ch_buf_printf(&raw, "[{\"name\":\"%s\"}]", cx->hubs[0]->name);
  ch_pct_encode(&cd, raw.data, raw.len);
  ch_buf_printf(&url, "%s/negotiate?clientProtocol=2.1&connectionData=%s", cx->base, cd.data);
  int rc = ch_chk_http(cx, "c1", "GET", url.data, auth, NULL, 0, &res);
  bool ok = rc == 0 && res.status == 401;
  if (!ok) {
    char exp[128];
    snprintf(exp, sizeof exp, "401 for %s", what);
    ch_chk_evidence(cx, &ev, "GET", url.data, &res, exp);
  }
  ch_chk_result(cx, out, id, 0, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev, "negotiate with %s answered %ld", what,
                res.status);
  ch_http_free(&res);
  ch_buf_free(&url);
  ch_buf_free(&ev);
  ch_buf_free(&cd);
  ch_buf_free(&raw);
}

static void connect_without_credentials(struct ch_chk_ctx *cx, struct ch_checks_results *out, unsigned t) {
  struct ch_sess s;
  struct ch_buf ev = CH_BUF_INIT, init = CH_BUF_INIT;
  ch_chk_begin(cx);
  ch_sess_init(&s, cx, t, cx->auth, cx->hubs[0]);
  int rc = ch_sess_negotiate(&s);
  if (rc) {
    ch_sess_fail_evidence(&s, &ev, "negotiate 200 with the main credential");
    ch_chk_result(cx, out, "AUTH-002", t, CH_CHECK_SKIP, &ev, "negotiate with the main credential failed");
    goto done;
  }
  s.auth = NULL; /* the same connection token, no credentials */
  rc = ch_sess_connect(&s, false, &init);
  long st = s.last.status;
  bool ok = rc == -EACCES && st == 401;
  if (!ok)
    ch_sess_fail_evidence(&s, &ev, "401 for a connect without credentials");
  ch_chk_result(cx, out, "AUTH-002", t, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev,
                rc == 0 ? "connect without credentials was accepted" : "connect without credentials answered %ld", st);
done:
  ch_sess_free(&s);
  ch_buf_free(&ev);
  ch_buf_free(&init);
}

static void replay_other_user(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  struct ch_sess s;
  struct ch_buf ev = CH_BUF_INIT, init = CH_BUF_INIT;
  ch_chk_begin(cx);
  if (!cx->auth2) {
    ch_chk_result(cx, out, "AUTH-006", 0, CH_CHECK_SKIP, NULL, "needs a second user (--token2 or --token twice)");
    return;
  }
  ch_sess_init(&s, cx, CH_T_LP, cx->auth, cx->hubs[0]);
  int rc = ch_sess_negotiate(&s);
  if (rc) {
    ch_sess_fail_evidence(&s, &ev, "negotiate 200 with the main credential");
    ch_chk_result(cx, out, "AUTH-006", 0, CH_CHECK_SKIP, &ev, "negotiate with the main credential failed");
    goto done;
  }
  s.auth = cx->auth2; /* the main user's connection token, the other user's credential */
  rc = ch_sess_connect(&s, false, &init);
  bool ok = rc == -EACCES && s.last.status == 403;
  if (!ok)
    ch_sess_fail_evidence(&s, &ev, "403 Unrecognized user identity (the token belongs to another user)");
  ch_chk_result(cx, out, "AUTH-006", 0, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev,
                rc == 0 ? "another user's connection token was accepted" : "the replayed token answered %ld",
                s.last.status);
done:
  ch_sess_free(&s);
  ch_buf_free(&ev);
  ch_buf_free(&init);
}

static void forbidden_key(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *key) {
  struct ch_sess s;
  struct ch_buf ev = CH_BUF_INIT, comp = CH_BUF_INIT;
  ch_chk_begin(cx);
  ch_sess_init(&s, cx, CH_T_LP, cx->auth, cx->hubs[0]);
  if (ch_sess_open(&s, &ev) != 0) {
    ch_chk_result(cx, out, "AUTH-007", 0, CH_CHECK_SKIP, &ev, "could not connect");
    goto done;
  }
  char args[96];
  snprintf(args, sizeof args, "[\"%s\"]", key);
  int rc = ch_sess_invoke(&s, s.hub->name, s.hub->sub, args, "0", &comp);
  cJSON *j = rc == 0 ? ch_chk_json(cx, comp.data, comp.len) : NULL;
  /* rejected = an error completion, or the HTTP request refused with 401/403 */
  bool ok = (rc == 0 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "E"))) ||
            (rc == -EACCES && (s.last.status == 401 || s.last.status == 403));
  if (!ok) {
    char exp[128];
    snprintf(exp, sizeof exp, "%s(\"%s\") rejected with E (or 401/403)", s.hub->sub, key);
    ch_sess_fail_evidence(&s, &ev, exp);
  }
  ch_chk_result(cx, out, "AUTH-007", 0, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev,
                "subscribing to forbidden key %s was accepted", key);
  cJSON_Delete(j);
done:
  ch_sess_end(&s);
  ch_buf_free(&ev);
  ch_buf_free(&comp);
}

void ch_chk_family_auth(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  if (ch_chk_selected(cx, "AUTH-001"))
    neg_status(cx, out, "AUTH-001", NULL, "no credentials");
  bool have = cx->auth != NULL;
  for (size_t i = 0; i < 3; i++) {
    if (!(cx->transports & ch_chk_transports[i]) || !ch_chk_selected(cx, "AUTH-002"))
      continue;
    if (have)
      connect_without_credentials(cx, out, ch_chk_transports[i]);
    else
      ch_chk_result(cx, out, "AUTH-002", ch_chk_transports[i], CH_CHECK_SKIP, NULL, "needs a credential (--token)");
  }
  if (ch_chk_selected(cx, "AUTH-003"))
    neg_status(cx, out, "AUTH-003", "Authorization: Bearer", "a malformed credential (scheme without a token)");
  if (ch_chk_selected(cx, "AUTH-004"))
    neg_status(cx, out, "AUTH-004", cx->bad_auth, "an unknown token");
  if (ch_chk_selected(cx, "AUTH-005")) {
    if (!cx->raw_token) {
      ch_chk_begin(cx);
      ch_chk_result(cx, out, "AUTH-005", 0, CH_CHECK_SKIP, NULL, "needs a credential (--token)");
    } else {
      struct ch_buf h = CH_BUF_INIT;
      ch_buf_printf(&h, "Authorization: Basic %s", cx->raw_token);
      neg_status(cx, out, "AUTH-005", h.data, "the valid token under the Basic scheme");
      ch_buf_free(&h);
    }
  }
  if (ch_chk_selected(cx, "AUTH-006"))
    replay_other_user(cx, out);
  if (ch_chk_selected(cx, "AUTH-007")) {
    const char *k = cx->opts->target ? cx->opts->forbidden_key : "9999999";
    if (!k) {
      ch_chk_begin(cx);
      ch_chk_result(cx, out, "AUTH-007", 0, CH_CHECK_SKIP, NULL, "needs --forbidden-key");
    } else
      forbidden_key(cx, out, k);
  }
}
