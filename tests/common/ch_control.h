/* ch_control: the reference endpoint's control API (POST /publish, /drop; GET /stats) for tests and benchmarks,
   over libcurl on loopback. The caller owns curl_global_init/cleanup. */
#ifndef CH_CONTROL_H
#define CH_CONTROL_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_buf.h"

static inline size_t ch_control_collect(char *p, size_t size, size_t n, void *arg) {
  ch_buf_append(arg, p, size * n);
  return size * n;
}

/* POST (body != NULL) or GET `path` on 127.0.0.1:port; the response body goes to out (may be NULL). Returns the
   HTTP status, 0 when the request failed or took longer than timeout_ms. */
static inline long ch_control(int port, const char *path, const char *body, struct ch_buf *out, long timeout_ms) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  struct ch_buf sink = CH_BUF_INIT;
  CURL *e = curl_easy_init();
  if (!e)
    return 0;
  curl_easy_setopt(e, CURLOPT_URL, url);
  if (body)
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* loopback, whatever http_proxy says */
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ch_control_collect);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, out ? out : &sink);
  long status = 0;
  if (curl_easy_perform(e) == CURLE_OK)
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(e);
  ch_buf_free(&sink);
  return status;
}

/* The number of live transports the endpoint holds (GET /stats, "live"), -1 when unknown. */
static inline long ch_control_live(int port, long timeout_ms) {
  struct ch_buf b = CH_BUF_INIT;
  long live = -1;
  const char *p;
  if (ch_control(port, "/stats", NULL, &b, timeout_ms) == 200 && b.data && (p = strstr(b.data, "\"live\":")))
    live = atol(p + 7);
  ch_buf_free(&b);
  return live;
}

/* A number of the endpoint's /stats by its key with quotes and colon ("\"publishes\":"), -1 when unknown. */
static inline long ch_control_stat(int port, const char *field) {
  struct ch_buf b = CH_BUF_INIT;
  long v = -1;
  const char *p;
  if (ch_control(port, "/stats", NULL, &b, 2000) == 200 && b.data && (p = strstr(b.data, field)))
    v = atol(p + strlen(field));
  ch_buf_free(&b);
  return v;
}

/* A condition for ch_wait_until: the stat reached min. */
struct ch_control_stat_min {
  int port;
  const char *field;
  long min;
};
static inline bool ch_control_stat_reached(void *arg) {
  const struct ch_control_stat_min *s = arg;
  return ch_control_stat(s->port, s->field) >= s->min;
}

#endif /* CH_CONTROL_H */
