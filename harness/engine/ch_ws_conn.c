/* ch_ws_conn: the lws connection handling both webSockets transports share. See ch_ws_conn.h. */
#include "ch_ws_conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ch_worker.h"

/* Idle/validity checks off: with them every established socket inserts a 300 s timer into lws 4.1's linear sorted
   list, which makes connecting O(n^2). Keep-alive is monitored by the client instead. */
static const lws_retry_bo_t ws_no_validity = {NULL, 0, 0, 0, 0, 0};

void ch__ws_connect_info(struct lws_client_connect_info *ci, struct ch_worker *w, const struct ch_transport_open *o,
                         const char *local_protocol, void *opaque, struct lws **pwsi) {
  memset(ci, 0, sizeof *ci);
  ci->context = w->lws;
  ci->address = o->host;
  ci->port = o->port;
  if (o->tls) {
    ci->ssl_connection = LCCSCF_USE_SSL;
    if (w->eng->opts.insecure)
      ci->ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
  }
  ci->local_protocol_name = local_protocol;
  ci->iface = o->source_addr;
  ci->opaque_user_data = opaque;
  ci->retry_and_idle_policy = &ws_no_validity;
  ci->pwsi = pwsi;
}

int ch__ws_connect(const struct lws_client_connect_info *ci, bool *opening) {
  *opening = true;
  struct lws *wsi = lws_client_connect_via_info(ci);
  *opening = false;
  if (!wsi || !*ci->pwsi) {
    if (*ci->pwsi)
      lws_set_opaque_user_data(*ci->pwsi, NULL);
    *ci->pwsi = NULL;
    return -ECONNREFUSED;
  }
  return 0;
}

void ch__ws_kill(struct ch_worker *w, struct lws *wsi) {
  lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  lws_cancel_service(w->lws);
}

void ch__ws_detach(struct ch_worker *w, struct lws **wsi) {
  if (!*wsi)
    return;
  lws_set_opaque_user_data(*wsi, NULL);
  /* When the worker stops, lws_context_destroy closes every wsi anyway: scheduling a kill for each would walk
     lws 4.1's sorted timer list once per socket (O(n^2) at 19k sockets). */
  if (!w->stopping)
    ch__ws_kill(w, *wsi);
  *wsi = NULL;
}

bool ch__ws_unbind(struct lws *wsi, struct lws **mine, bool opening) {
  if (!opening && *mine != wsi)
    return false;
  lws_set_opaque_user_data(wsi, NULL);
  *mine = NULL;
  return !opening;
}

void ch__ws_report_closed(const struct ch_channel *b, enum ch_failure_category *fail, char *why, bool was_open,
                          bool requested) {
  enum ch_failure_category cat = *fail;
  char msg[192];
  snprintf(msg, sizeof msg, "%s", why);
  *fail = CH_FAIL_NONE;
  why[0] = '\0';
  if (cat == CH_FAIL_NONE && !requested) {
    cat = was_open ? CH_FAIL_CONNECTION_LOST : CH_FAIL_CONNECT;
    snprintf(msg, sizeof msg, "%s", was_open ? "ws: connection lost" : "connect: connection failed");
  }
  b->ev->closed(b->owner, cat, msg);
}

void ch__ws_connect_error(char *out, size_t size, const void *in, size_t len) {
  if (!in) {
    snprintf(out, size, "connect: connection failed");
    return;
  }
  snprintf(out, size, "connect: %.*s", (int)(len && len < 100 ? len : 100), (const char *)in);
}
