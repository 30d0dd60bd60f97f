/* The precondition of the whole catalogue: negotiate with the main credential is answered as SignalR 2.x. When it
   is not (a page that is not SignalR, a wrong base path, refused credentials), every check would either pass for
   the wrong reason (an HTML page "refuses" an unknown hub) or fail as a server fault that is really the caller's;
   so each selected check is reported "not run" with the cause, and the run exits 4. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_url.h"

/* GET negotiate for hub with the main credential. */
static int probe(struct ch_chk_ctx *cx, const struct ch_chk_hub *hub, struct ch_buf *url, struct ch_http *res) {
  struct ch_buf cd = CH_BUF_INIT, enc = CH_BUF_INIT;
  ch_buf_printf(&cd, "[{\"name\":\"%s\"}]", hub->name);
  ch_pct_encode(&enc, cd.data, cd.len);
  ch_buf_reset(url);
  ch_buf_printf(url, "%s/negotiate?clientProtocol=2.1&connectionData=%s", cx->base, enc.data);
  ch_buf_free(&cd);
  ch_buf_free(&enc);
  return ch_chk_http(cx, "precondition", "GET", url->data, cx->auth, NULL, 0, res);
}

/* A negotiate answer carries at least one of the fields every SignalR 2.x server sends. A body that is JSON but
   misses some of them is a server fault for NEG-001 to report, not a different kind of endpoint. Read leniently
   (trailing bytes allowed): strictness is for the checks to judge, this only tells what kind of endpoint it is. */
static bool looks_like_negotiate(const struct ch_http *res) {
  cJSON *j = res->body.data ? cJSON_ParseWithLength(res->body.data, res->body.len) : NULL;
  static const char *const fields[] = {"ConnectionToken", "ConnectionId", "Url", "ProtocolVersion"};
  bool yes = false;
  for (size_t i = 0; cJSON_IsObject(j) && i < sizeof fields / sizeof fields[0] && !yes; i++)
    yes = cJSON_GetObjectItemCaseSensitive(j, fields[i]) != NULL;
  cJSON_Delete(j);
  return yes;
}

static bool refused(long status) { return status == 401 || status == 403; }

int ch_chk_precondition(struct ch_chk_ctx *cx, struct ch_buf *cause, struct ch_buf *ev) {
  struct ch_http res = CH_HTTP_INIT;
  struct ch_buf url = CH_BUF_INIT;
  int failed = 1;
  ch_chk_begin(cx);
  if (probe(cx, cx->hubs[0], &url, &res) != 0) {
    failed = 0; /* no answer: a server fault for the checks to report (reachability was probed already) */
  } else if (refused(res.status)) {
    long first = res.status;
    ch_chk_evidence(cx, ev, "GET", url.data, &res, "200 with the credential given");
    /* the other hub too: "every negotiate" only when both were refused */
    bool both = cx->nhubs > 1 && probe(cx, cx->hubs[1], &url, &res) == 0 && refused(res.status);
    if (!cx->auth)
      ch_buf_printf(cause, "credentials refused: negotiate answered %ld and no credential was given (--token)", first);
    else if (both)
      ch_buf_printf(cause, "credentials refused: every negotiate answered %ld: is the token right?", first);
    else
      ch_buf_printf(cause, "credentials refused: negotiate for %s answered %ld: is the token right?",
                    cx->hubs[0]->name, first);
  } else if (res.status == 404) {
    struct ch_buf where = CH_BUF_INIT;
    ch_buf_printf(&where, "not a SignalR endpoint: 404 at %s/negotiate: is the base path right?", cx->base);
    ch_chk_redact(cx, where.data, where.len, cause); /* as every text the checks record */
    ch_buf_free(&where);
    ch_chk_evidence(cx, ev, "GET", url.data, &res, "200 application/json (a SignalR 2.x negotiate response)");
  } else if (res.status == 405) {
    ch_buf_puts(cause, "not a SignalR 2.x endpoint: GET negotiate answered 405 (ASP.NET Core SignalR negotiates with "
                       "POST and is not supported)");
    ch_chk_evidence(cx, ev, "GET", url.data, &res, "200 application/json (a SignalR 2.x negotiate response)");
  } else if (res.status >= 300 && res.status < 400) {
    ch_buf_printf(cause, "not a SignalR endpoint: negotiate answered %ld (a redirect, often to a login page)",
                  res.status);
    ch_chk_evidence(cx, ev, "GET", url.data, &res, "200 application/json (a SignalR 2.x negotiate response)");
  } else if (res.status >= 200 && res.status < 300 && !looks_like_negotiate(&res)) {
    ch_buf_printf(cause, "not a SignalR endpoint: negotiate answered %ld %s", res.status,
                  res.ctype[0] ? res.ctype : "without a Content-Type");
    size_t sc = strcspn(cause->data, ";"); /* "text/html; charset=utf-8" → "text/html" */
    cause->data[sc] = '\0', cause->len = sc;
    if (strncasecmp(res.ctype, "application/json", 16) == 0)
      ch_buf_puts(cause, " with none of ConnectionToken, ConnectionId, Url, ProtocolVersion");
    ch_chk_evidence(cx, ev, "GET", url.data, &res, "200 application/json (a SignalR 2.x negotiate response)");
  } else {
    failed = 0; /* a SignalR answer, or a server error the checks report as such */
  }
  ch_http_free(&res);
  ch_buf_free(&url);
  return failed;
}

void ch_chk_mark_not_run(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *cause,
                         const struct ch_buf *ev) {
  size_t n;
  const struct ch_check_def *defs = ch_checks_catalogue(&n);
  snprintf(out->precondition, sizeof out->precondition, "%s", cause);
  for (size_t i = 0; i < n; i++) {
    if (!ch_chk_selected(cx, defs[i].id))
      continue;
    if (!defs[i].transports) {
      ch_chk_result(cx, out, defs[i].id, 0, CH_CHECK_NOT_RUN, ev, "not run: %s", cause);
      continue;
    }
    for (size_t t = 0; t < 3; t++)
      if (defs[i].transports & cx->transports & ch_chk_transports[t])
        ch_chk_result(cx, out, defs[i].id, ch_chk_transports[t], CH_CHECK_NOT_RUN, ev, "not run: %s", cause);
  }
}
