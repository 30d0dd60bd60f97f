/* ch_lws_signalr: the HTTP side of a minimal SignalR endpoint for libwebsockets test servers (the TLS tests, the
   wss bench): negotiate answers a fixed response whose Url is BASE/signalr, start answers "started", anything else
   (abort) an empty 200. */
#ifndef CH_LWS_SIGNALR_H
#define CH_LWS_SIGNALR_H

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

/* For LWS_CALLBACK_HTTP: answers uri and ends the transaction. */
static inline int ch_test_lws_signalr_http(struct lws *wsi, const char *uri, const char *base) {
  char neg[512];
  const char *body = "";
  if (strstr(uri, "/negotiate")) {
    snprintf(neg, sizeof neg,
             "{\"Url\":\"%s/signalr\",\"ConnectionToken\":\"AQAA+tls/tok==\",\"ConnectionId\":\"c1\","
             "\"KeepAliveTimeout\":20.0,\"DisconnectTimeout\":30.0,\"ConnectionTimeout\":110.0,"
             "\"TryWebSockets\":true,\"ProtocolVersion\":\"2.0\",\"TransportConnectTimeout\":10.0,"
             "\"LongPollDelay\":0.0}",
             base);
    body = neg;
  } else if (strstr(uri, "/start")) {
    body = "{ \"Response\": \"started\" }";
  }
  unsigned char buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof buf - 1];
  size_t n = strlen(body);
  if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/json; charset=UTF-8", n, &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end))
    return 1;
  if (n) {
    memcpy(start, body, n);
    if (lws_write(wsi, start, n, LWS_WRITE_HTTP_FINAL) != (int)n)
      return 1;
  }
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

#endif /* CH_LWS_SIGNALR_H */
