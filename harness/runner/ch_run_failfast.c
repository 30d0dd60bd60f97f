/* Fail fast with the cause: when a connect phase ends with no client of a valid-credentials population connected,
   nothing that follows can measure anything, and triggers would only hit the backend for nobody. Workers classify
   each valid client's failure as it happens (lock-free counters, the first message of each cause kept under the run
   mutex); the main thread reads the counts when the phase ends and words the cause for the user. Populations with
   bad or no credentials are meant to be refused, so they never count. */
#include <stdio.h>
#include <string.h>

#include "ch_run_int.h"

enum run_ff_cause run_ff_classify(const char *m) {
  if (strstr(m, "HTTP 401"))
    return RUN_FF_401;
  if (strstr(m, "HTTP 403"))
    return RUN_FF_403;
  if (strstr(m, "HTTP 404"))
    return RUN_FF_404;
  /* answered, but not with a SignalR 2.x negotiate body (ch_negotiate_parse's messages) */
  if (strstr(m, "redirect") || strstr(m, "HTTP 405") || strstr(m, "not JSON") || strstr(m, "HTML") ||
      strstr(m, "missing") || strstr(m, "availableTransports"))
    return RUN_FF_NOT_SIGNALR;
  if (strstr(m, "SSL") || strstr(m, "TLS") || strstr(m, "certificate"))
    return RUN_FF_TLS;
  if (strstr(m, "refused") || strstr(m, "onnect to") || strstr(m, "resolve") || strstr(m, "unreachable"))
    return RUN_FF_REFUSED;
  if (strstr(m, "within") || strstr(m, "timed out") || strstr(m, "Timeout"))
    return RUN_FF_TIMEOUT;
  if (strstr(m, "HTTP 5"))
    return RUN_FF_SERVER;
  return RUN_FF_OTHER;
}

void run_ff_connected(struct run_worker *rw, const struct run_client *rc) {
  if (!rc->bad_creds)
    atomic_fetch_add_explicit(&rw->ff.connected, 1, memory_order_relaxed);
}

void run_ff_failed(struct run_worker *rw, const struct run_client *rc, const struct ch_client_failure *f) {
  if (rc->bad_creds)
    return;
  const char *m = f && f->category != CH_FAIL_NONE ? f->message : "closed before connecting";
  enum run_ff_cause c = run_ff_classify(m);
  if (atomic_fetch_add_explicit(&rw->ff.failed[c], 1, memory_order_relaxed) == 0) {
    pthread_mutex_lock(&rw->run->mu); /* once per cause and worker: the main thread reads it under the same lock */
    snprintf(rw->ff.first[c], sizeof rw->ff.first[c], "%.191s", m);
    pthread_mutex_unlock(&rw->run->mu);
  }
}

void run_ff_mark(const struct ch_run *r, struct run_ff_mark *m) {
  memset(m, 0, sizeof *m);
  for (unsigned i = 0; i < r->n_workers; i++) {
    m->connected += atomic_load_explicit(&r->workers[i]->ff.connected, memory_order_relaxed);
    for (int c = 0; c < RUN_FF_N; c++)
      m->failed[c] += atomic_load_explicit(&r->workers[i]->ff.failed[c], memory_order_relaxed);
  }
}

/* "http://host:port/Centro/signalr/negotiate": where the clients negotiate (no query, so no credential). */
static void ff_negotiate_url(const struct ch_run *r, struct ch_buf *out) {
  ch_url_origin(&r->target, out);
  ch_buf_puts(out, r->target.path);
  if (out->len && out->data[out->len - 1] == '/')
    out->data[--out->len] = '\0';
  ch_buf_puts(out, "/signalr/negotiate");
}

bool run_ff_check(struct ch_run *r, const struct run_ff_mark *before, int pop, uint64_t timeout_ns,
                  struct ch_buf *cause) {
  size_t valid = 0;
  for (unsigned i = 0; i < r->n_workers; i++)
    for (size_t c = 0; c < r->workers[i]->n_clients; c++) {
      const struct run_client *rc = r->workers[i]->clients[c];
      valid += !rc->bad_creds && (pop < 0 || (int)rc->pop == pop);
    }
  struct run_ff_mark now;
  run_ff_mark(r, &now);
  if (!valid || now.connected > before->connected)
    return false;
  uint64_t failed = 0, top_n = 0;
  int top = RUN_FF_OTHER;
  for (int c = 0; c < RUN_FF_N; c++) {
    uint64_t n = now.failed[c] - before->failed[c];
    failed += n;
    if (n > top_n)
      top_n = n, top = c;
  }
  char first[sizeof r->workers[0]->ff.first[0]] = "";
  pthread_mutex_lock(&r->mu);
  for (unsigned i = 0; i < r->n_workers && !first[0]; i++)
    memcpy(first, r->workers[i]->ff.first[top], sizeof first);
  pthread_mutex_unlock(&r->mu);
  struct ch_buf url = CH_BUF_INIT;
  ff_negotiate_url(r, &url);
  bool every = top_n == failed && top_n == valid;
  const char *step = strncmp(first, "negotiate", 9) ? "connect" : "negotiate";
  char who[96];
  if (every)
    snprintf(who, sizeof who, "every %s was", step);
  else
    snprintf(who, sizeof who, "%llu of %zu %ss were", (unsigned long long)top_n, valid, step);
  if (!failed) {
    ch_buf_printf(cause, "no client connected within the connect phase's timeout (%.0f s) and none failed: %s "
                         "accepts connections but does not answer",
                  (double)timeout_ns / 1e9, url.data);
  } else {
    switch ((enum run_ff_cause)top) {
    case RUN_FF_401:
    case RUN_FF_403:
      ch_buf_printf(cause, "%s answered %d: is the token right?", who, top == RUN_FF_401 ? 401 : 403);
      if (r->auth_mode == CH_SCN_AUTH_NONE)
        ch_buf_puts(cause, " (no credential was given: --token, --token-env or --token-file)");
      break;
    case RUN_FF_404:
      ch_buf_printf(cause, "404 at %s: is the base path right?", url.data);
      break;
    case RUN_FF_REFUSED:
      ch_buf_printf(cause, "connection refused at %s (%s): is the target running, host and port right?", url.data,
                    first);
      break;
    case RUN_FF_TLS:
      ch_buf_printf(cause, "TLS failure at %s (%s): --ca-file or --insecure?", url.data, first);
      break;
    case RUN_FF_NOT_SIGNALR:
      ch_buf_printf(cause, "not a SignalR endpoint: %s (%s)", url.data, first);
      break;
    case RUN_FF_TIMEOUT:
      ch_buf_printf(cause, "no answer from %s (%s)", url.data, first);
      break;
    case RUN_FF_SERVER:
      ch_buf_printf(cause, "%s answered a server error at %s (%s)", who, url.data, first);
      break;
    default:
      ch_buf_printf(cause, "no client connected: %s", first);
      break;
    }
  }
  ch_buf_free(&url);
  return true;
}
