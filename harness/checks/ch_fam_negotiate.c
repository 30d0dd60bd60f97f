/* Pure-HTTP checks: negotiate fields and types, ProtocolVersion clamping, Url, unknown hub, TryWebSockets, ping,
   and the 400 answers for missing transport/token and a forged token (protocol doc §1-§2, §5, §6). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_url.h"

/* GET base+suffix with the main credential; evidence prepared by the caller on failure. */
static int get(struct ch_chk_ctx *cx, const char *url, const char *auth, struct ch_http *res) {
  return ch_chk_http(cx, "c1", "GET", url, auth, NULL, 0, res);
}

static void cdata_for(const struct ch_chk_hub *hub, const char *name, struct ch_buf *out) {
  struct ch_buf cd = CH_BUF_INIT;
  ch_buf_printf(&cd, "[{\"name\":\"%s\"}]", name ? name : hub->name);
  ch_pct_encode(out, cd.data, cd.len);
  ch_buf_free(&cd);
}

enum jt { J_STR, J_NUM, J_NUM_OR_NULL, J_BOOL };

static const struct {
  const char *name;
  enum jt type;
} neg_fields[] = {
    {"Url", J_STR},
    {"ConnectionToken", J_STR},
    {"ConnectionId", J_STR},
    {"KeepAliveTimeout", J_NUM_OR_NULL},
    {"DisconnectTimeout", J_NUM},
    {"ConnectionTimeout", J_NUM},
    {"TryWebSockets", J_BOOL},
    {"ProtocolVersion", J_STR},
    {"TransportConnectTimeout", J_NUM},
    {"LongPollDelay", J_NUM},
};

static const char *jt_name(enum jt t) {
  return t == J_STR ? "a string" : t == J_NUM ? "a number" : t == J_BOOL ? "a boolean" : "a number or null";
}

static bool jt_ok(const cJSON *v, enum jt t) {
  switch (t) {
  case J_STR: return cJSON_IsString(v) && v->valuestring[0];
  case J_NUM: return cJSON_IsNumber(v);
  case J_NUM_OR_NULL: return cJSON_IsNumber(v) || cJSON_IsNull(v);
  default: return cJSON_IsBool(v);
  }
}

static void check_neg001(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *url,
                         const struct ch_http *res) {
  struct ch_buf ev = CH_BUF_INIT, why = CH_BUF_INIT;
  cJSON *j = NULL;
  if (res->status != 200)
    ch_buf_printf(&why, "negotiate answered %ld", res->status);
  else if (strncasecmp(res->ctype, "application/json", 16) != 0)
    ch_buf_printf(&why, "Content-Type is '%s', expected application/json", res->ctype);
  else if (!(j = ch_chk_json(cx, res->body.data, res->body.len)) || !cJSON_IsObject(j))
    ch_buf_puts(&why, "the body is not a JSON object");
  else {
    for (size_t i = 0; i < sizeof neg_fields / sizeof neg_fields[0]; i++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, neg_fields[i].name);
      if (!v)
        ch_buf_printf(&why, "%s%s missing", why.len ? "; " : "", neg_fields[i].name);
      else if (!jt_ok(v, neg_fields[i].type))
        ch_buf_printf(&why, "%s%s is not %s", why.len ? "; " : "", neg_fields[i].name, jt_name(neg_fields[i].type));
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "availableTransports"))
      ch_buf_printf(&why, "%savailableTransports present (an ASP.NET Core answer)", why.len ? "; " : "");
  }
  if (why.len)
    ch_chk_evidence(cx, &ev, "GET", url, res,
                    "200 application/json with Url, ConnectionToken, ConnectionId (strings), KeepAliveTimeout "
                    "(number or null), DisconnectTimeout, ConnectionTimeout (numbers), TryWebSockets (bool), "
                    "ProtocolVersion (string), TransportConnectTimeout, LongPollDelay (numbers)");
  ch_chk_result(cx, out, "NEG-001", 0, why.len ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%s", why.len ? why.data : "");
  cJSON_Delete(j);
  ch_buf_free(&ev);
  ch_buf_free(&why);
}

static void check_protocols(struct ch_chk_ctx *cx, struct ch_checks_results *out, const struct ch_chk_hub *hub) {
  static const char *const cps[][2] = {{"2.1", "2.0"}, {"2.0", "2.0"}, {"1.5", "1.5"}, {"1.4", "1.4"}, {NULL, "1.2"}};
  struct ch_buf cd = CH_BUF_INIT, url = CH_BUF_INIT, ev = CH_BUF_INIT, why = CH_BUF_INIT;
  struct ch_http res = CH_HTTP_INIT;
  cdata_for(hub, NULL, &cd);
  ch_chk_begin(cx);
  for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
    ch_buf_reset(&url);
    if (cps[i][0])
      ch_buf_printf(&url, "%s/negotiate?clientProtocol=%s&connectionData=%s", cx->base, cps[i][0], cd.data);
    else
      ch_buf_printf(&url, "%s/negotiate?connectionData=%s", cx->base, cd.data);
    int rc = get(cx, url.data, cx->auth, &res);
    cJSON *j = rc == 0 ? ch_chk_json(cx, res.body.data, res.body.len) : NULL;
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(j, "ProtocolVersion");
    if (!cJSON_IsString(pv) || strcmp(pv->valuestring, cps[i][1]) != 0) {
      char exp[96];
      snprintf(exp, sizeof exp, "\"ProtocolVersion\":\"%s\" for clientProtocol %s", cps[i][1],
               cps[i][0] ? cps[i][0] : "(missing)");
      ch_buf_printf(&why, "%sclientProtocol %s gave %s%s%s", why.len ? "; " : "", cps[i][0] ? cps[i][0] : "(missing)",
                    cJSON_IsString(pv) ? "\"" : "", cJSON_IsString(pv) ? pv->valuestring : "no ProtocolVersion",
                    cJSON_IsString(pv) ? "\"" : "");
      ch_chk_evidence(cx, &ev, "GET", url.data, &res, exp);
    }
    cJSON_Delete(j);
  }
  ch_chk_result(cx, out, "NEG-002", 0, why.len ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev, "%s", why.len ? why.data : "");
  ch_http_free(&res);
  ch_buf_free(&cd);
  ch_buf_free(&url);
  ch_buf_free(&ev);
  ch_buf_free(&why);
}

/* Expects status `want` (or any >= 400 when want is 0) for a GET; records the result. */
static void expect_status(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *id, const char *url,
                          const char *auth, long want, const char *expected) {
  struct ch_http res = CH_HTTP_INIT;
  struct ch_buf ev = CH_BUF_INIT;
  ch_chk_begin(cx);
  int rc = get(cx, url, auth, &res);
  bool ok = rc == 0 && (want ? res.status == want : res.status >= 400);
  if (!ok)
    ch_chk_evidence(cx, &ev, "GET", url, &res, expected);
  if (rc)
    ch_chk_result(cx, out, id, 0, CH_CHECK_FAIL, &ev, "no answer (%s)", curl_easy_strerror(res.cc));
  else
    ch_chk_result(cx, out, id, 0, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev, "answered %ld", res.status);
  ch_http_free(&res);
  ch_buf_free(&ev);
}

void ch_chk_family_negotiate(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  const struct ch_chk_hub *hub = cx->hubs[0];
  struct ch_buf cd = CH_BUF_INIT, url = CH_BUF_INIT, ev = CH_BUF_INIT;
  struct ch_http res = CH_HTTP_INIT;
  cdata_for(hub, NULL, &cd);
  ch_buf_printf(&url, "%s/negotiate?clientProtocol=2.1&connectionData=%s", cx->base, cd.data);
  ch_chk_begin(cx);
  int rc = get(cx, url.data, cx->auth, &res);
  cJSON *j = rc == 0 && res.status == 200 ? ch_chk_json(cx, res.body.data, res.body.len) : NULL;
  if (ch_chk_selected(cx, "NEG-001"))
    check_neg001(cx, out, url.data, &res);
  if (ch_chk_selected(cx, "NEG-003")) {
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "Url");
    bool ok = cJSON_IsString(u) && strcmp(u->valuestring, cx->path) == 0;
    ch_buf_reset(&ev);
    if (!ok) {
      char exp[300];
      snprintf(exp, sizeof exp, "\"Url\":\"%s\" (the endpoint path, virtual directory included)", cx->path);
      ch_chk_evidence(cx, &ev, "GET", url.data, &res, exp);
    }
    ch_chk_result(cx, out, "NEG-003", 0, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev, "Url is %s%s%s",
                  cJSON_IsString(u) ? "\"" : "", cJSON_IsString(u) ? u->valuestring : "missing",
                  cJSON_IsString(u) ? "\"" : "");
  }
  const cJSON *tws = cJSON_GetObjectItemCaseSensitive(j, "TryWebSockets");
  bool try_ws = cJSON_IsTrue(tws);
  cJSON_Delete(j);
  if (ch_chk_selected(cx, "NEG-002"))
    check_protocols(cx, out, hub);
  if (ch_chk_selected(cx, "NEG-004")) {
    struct ch_buf bad = CH_BUF_INIT;
    cdata_for(hub, "nopehub", &bad);
    ch_buf_reset(&url);
    ch_buf_printf(&url, "%s/negotiate?clientProtocol=2.1&connectionData=%s", cx->base, bad.data);
    expect_status(cx, out, "NEG-004", url.data, cx->auth, 0, "an error status (500 on ASP.NET SignalR 2.4)");
    ch_buf_free(&bad);
  }
  if (ch_chk_selected(cx, "NEG-005")) {
    ch_chk_begin(cx);
    ch_buf_reset(&ev);
    if (!try_ws) {
      ch_chk_result(cx, out, "NEG-005", 0, CH_CHECK_PASS, NULL, "+TryWebSockets is false: webSockets not offered");
    } else if (!(cx->transports & CH_T_WS)) {
      ch_chk_result(cx, out, "NEG-005", 0, CH_CHECK_SKIP, NULL, "webSockets not among the transports asked for");
    } else {
      struct ch_sess s;
      struct ch_buf init = CH_BUF_INIT;
      ch_sess_init(&s, cx, CH_T_WS, cx->auth, hub);
      int r = ch_sess_negotiate(&s);
      if (r == 0)
        r = ch_sess_connect(&s, false, &init);
      if (r)
        ch_sess_fail_evidence(&s, &ev, "101 Switching Protocols, since negotiate said TryWebSockets: true");
      char why[192]; /* the refusal as received, not errno's words for it */
      if (r == -EACCES && s.ws.status)
        ch_ws_refusal(&s.ws, why, sizeof why);
      else
        snprintf(why, sizeof why, "%s", strerror(-r));
      ch_chk_result(cx, out, "NEG-005", 0, r ? CH_CHECK_FAIL : CH_CHECK_PASS, &ev,
                    "TryWebSockets is true but the WebSocket connect failed (%s)", why);
      ch_sess_free(&s);
      ch_buf_free(&init);
    }
  }
  if (!try_ws && rc == 0 && res.status == 200)
    cx->transports &= ~(unsigned)CH_T_WS; /* not offered: the WebSocket variants are not run */
  if (ch_chk_selected(cx, "CON-003")) {
    ch_chk_begin(cx);
    ch_buf_reset(&url);
    ch_buf_printf(&url, "%s/ping", cx->base);
    rc = get(cx, url.data, cx->auth, &res);
    cJSON *p = rc == 0 ? ch_chk_json(cx, res.body.data, res.body.len) : NULL;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "Response");
    bool ok = res.status == 200 && cJSON_IsString(r) && strcmp(r->valuestring, "pong") == 0;
    ch_buf_reset(&ev);
    if (!ok)
      ch_chk_evidence(cx, &ev, "GET", url.data, &res, "200 {\"Response\":\"pong\"}");
    ch_chk_result(cx, out, "CON-003", 0, ok ? CH_CHECK_PASS : CH_CHECK_FAIL, &ev, "ping answered %ld%s", res.status,
                  rc == 0 && !p ? " with a body JSON.parse refuses (the JS client stops the connection)" : "");
    cJSON_Delete(p);
  }
  /* CON-005/6/7 need a real connection token to vary one parameter at a time */
  if (ch_chk_selected(cx, "CON-005") || ch_chk_selected(cx, "CON-006") || ch_chk_selected(cx, "CON-007")) {
    struct ch_sess s;
    ch_chk_begin(cx);
    ch_sess_init(&s, cx, CH_T_LP, cx->auth, hub);
    int r = ch_sess_negotiate(&s);
    if (r) {
      ch_buf_reset(&ev);
      ch_sess_fail_evidence(&s, &ev, "negotiate 200");
      const char *ids[] = {"CON-005", "CON-006", "CON-007"};
      for (int i = 0; i < 3; i++)
        if (ch_chk_selected(cx, ids[i]))
          ch_chk_result(cx, out, ids[i], 0, CH_CHECK_SKIP, &ev, "negotiate failed, nothing to vary");
    } else {
      if (ch_chk_selected(cx, "CON-005")) {
        ch_buf_reset(&url);
        ch_buf_printf(&url, "%s/start?clientProtocol=2.1&connectionToken=%s&connectionData=%s", cx->base, s.token_enc,
                      s.cdata);
        expect_status(cx, out, "CON-005", url.data, cx->auth, 400, "400 Protocol error: Unknown transport.");
        if (out->n && out->items[out->n - 1].status == CH_CHECK_PASS) {
          /* the unknown-name half: replace the passing result by the combined one */
          out->n--, out->passed--;
          free(out->items[out->n].message), free(out->items[out->n].evidence), free(out->items[out->n].transcript_path);
          ch_buf_reset(&url);
          ch_buf_printf(&url,
                        "%s/start?transport=carrierPigeon&clientProtocol=2.1&connectionToken=%s&connectionData=%s",
                        cx->base, s.token_enc, s.cdata);
          expect_status(cx, out, "CON-005", url.data, cx->auth, 400, "400 Protocol error: Unknown transport.");
        }
      }
      if (ch_chk_selected(cx, "CON-006")) {
        ch_buf_reset(&url);
        ch_buf_printf(&url, "%s/start?transport=longPolling&clientProtocol=2.1&connectionData=%s", cx->base, s.cdata);
        expect_status(cx, out, "CON-006", url.data, cx->auth, 400, "400 Protocol error: Missing connection token.");
      }
      if (ch_chk_selected(cx, "CON-007")) {
        ch_buf_reset(&url);
        ch_buf_printf(&url, "%s/start?transport=longPolling&clientProtocol=2.1&connectionToken=%s&connectionData=%s",
                      cx->base, "AQAAANCMnd8BFdERjHoAwE%2FCl%2BsBAAAAforged%3D%3D", s.cdata);
        expect_status(cx, out, "CON-007", url.data, cx->auth, 400, "400 The ConnectionId is in the incorrect format.");
      }
    }
    ch_sess_free(&s);
  }
  ch_http_free(&res);
  ch_buf_free(&cd);
  ch_buf_free(&url);
  ch_buf_free(&ev);
}
