/* The reconnect storm (a "drop" phase): the server drops every connection at once, the clients come back as their
   client model says, and the run measures the recovery. Workers mark the connections the drop will hit before it is
   sent (so every one is counted), note when each is back and receiving and why attempts failed; the main thread
   sends the drop request and, when the run is judged, turns the per-client times into the report's "recovery"
   figures and the RUN-RECOVERY check. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_run_int.h"

/* ---- worker side ---- */

void run_storm_mark(struct run_worker *rw) {
  for (size_t i = 0; i < rw->n_clients; i++) {
    struct run_client *rc = rw->clients[i];
    enum ch_client_state st = rc->c && !rc->closed ? ch_client_state(rc->c) : CH_CLIENT_CLOSED;
    if (rc->bad_creds || (st != CH_CLIENT_CONNECTED && st != CH_CLIENT_RECONNECTING))
      continue;
    rc->storm = true;
    rc->dropped = true;
    rc->reconnected = false;
    rc->storm_back_ns = rc->storm_rx_ns = 0;
    rc->storm_live = false;
  }
}

void run_storm_await(struct run_worker *rw) {
  if (!rw->run->storm_drop_ok)
    return; /* nothing was dropped: nobody to wait for (RUN-RECOVERY says why) */
  for (size_t i = 0; i < rw->n_clients; i++) {
    struct run_client *rc = rw->clients[i];
    if (rc->storm && !rc->storm_back_ns && !rc->closed) {
      rc->waiting = true;
      rw->pending++;
    }
  }
}

void run_storm_back(struct run_client *rc, uint64_t now) {
  if (rc->storm && !rc->storm_back_ns)
    rc->storm_back_ns = now;
}

static enum ch_recovery_cause storm_cause(const char *m) {
  if (strstr(m, "HTTP 503"))
    return CH_RECOVERY_HTTP_503;
  switch (run_ff_classify(m)) {
  case RUN_FF_401: return CH_RECOVERY_HTTP_401;
  case RUN_FF_403: return CH_RECOVERY_HTTP_403;
  case RUN_FF_404: return CH_RECOVERY_HTTP_404;
  case RUN_FF_REFUSED: return CH_RECOVERY_REFUSED;
  case RUN_FF_TLS: return CH_RECOVERY_TLS;
  case RUN_FF_NOT_SIGNALR: return CH_RECOVERY_NOT_SIGNALR;
  case RUN_FF_TIMEOUT: return CH_RECOVERY_TIMEOUT;
  case RUN_FF_SERVER: return CH_RECOVERY_HTTP_5XX;
  default: return CH_RECOVERY_OTHER;
  }
}

void run_storm_attempt_failed(struct run_client *rc, const struct ch_client_failure *f) {
  if (rc->storm && !rc->storm_back_ns)
    rc->w->storm_fail[storm_cause(f->message)]++;
}

/* ---- main thread ---- */

static size_t storm_sink(char *p, size_t size, size_t n, void *user) {
  (void)p, (void)user;
  return size * n;
}

int run_storm_drop(struct ch_run *r, const struct ch_scn_phase *ph) {
  struct ch_buf url = CH_BUF_INIT, shown = CH_BUF_INIT;
  if (ph->url)
    ch_buf_puts(&url, ph->url);
  else
    ch_buf_printf(&url, "%s/drop", r->control_base);
  if (!url.data || ch_report_redact_url(url.data, &shown)) {
    ch_buf_free(&url), ch_buf_free(&shown);
    return -ENOMEM;
  }
  CURL *c = curl_easy_init();
  long status = 0;
  CURLcode cc = CURLE_FAILED_INIT;
  r->storm_t0 = ch_now_ns();
  if (c) {
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, storm_sink);
    if (r->s->target.insecure) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r->s->target.ca_file)
      curl_easy_setopt(c, CURLOPT_CAINFO, r->s->target.ca_file);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
  }
  r->storm_drop_ok = cc == CURLE_OK && status >= 200 && status < 300;
  if (cc == CURLE_OK)
    snprintf(r->storm_drop, sizeof r->storm_drop, "POST %.200s: HTTP %ld", shown.data, status);
  else
    snprintf(r->storm_drop, sizeof r->storm_drop, "POST %.200s: %s", shown.data, curl_easy_strerror(cc));
  ch_buf_free(&url), ch_buf_free(&shown);
  return 0;
}

static uint64_t storm_since(uint64_t t, uint64_t t0) { return !t ? UINT64_MAX : t > t0 ? t - t0 : 0; }

int run_storm_report(struct ch_run *r, const struct run_tally *t, uint64_t replayed, struct ch_report *rep) {
  size_t n = 0;
  for (unsigned i = 0; i < r->n_workers; i++)
    for (size_t c = 0; c < r->workers[i]->n_clients; c++)
      n += r->workers[i]->clients[c]->storm;
  struct ch_report_recovery *rv = calloc(1, sizeof *rv);
  uint64_t *back = malloc((n ? n : 1) * sizeof *back), *rx = malloc((n ? n : 1) * sizeof *rx);
  if (!rv || !back || !rx || !(rv->drop = strdup(r->storm_drop))) {
    free(back), free(rx), ch_report_recovery_free(rv);
    return -ENOMEM;
  }
  size_t k = 0;
  for (unsigned i = 0; i < r->n_workers; i++) {
    const struct run_worker *rw = r->workers[i];
    for (int c = 0; c < CH_RECOVERY_CAUSES; c++)
      rv->answers[c] += rw->storm_fail[c];
    for (size_t c = 0; c < rw->n_clients; c++) {
      const struct run_client *rc = rw->clients[c];
      if (!rc->storm)
        continue;
      back[k] = storm_since(rc->storm_back_ns, r->storm_t0);
      rx[k++] = storm_since(rc->storm_rx_ns, r->storm_t0);
      rv->reconnected += rc->storm_back_ns && !rc->storm_new;
      rv->new_connections += rc->storm_back_ns && rc->storm_new;
      rv->receiving += rc->storm_rx_ns != 0;
      rv->live += rc->storm_live;
      rv->gave_up += !rc->storm_back_ns;
    }
  }
  rv->clients = n;
  rv->published = t->replay_expected;
  rv->lost = t->replay_missing;
  rv->replayed = replayed;
  ch_report_recovery_times(rv, back, rx, n);
  free(back), free(rx);
  ch_report_recovery_free(rep->recovery);
  rep->recovery = rv;
  return 0;
}

/* RUN-RECOVERY: every connection the drop hit came back and (with triggers) received an Update again within the
   phase's timeout. */
int run_storm_check(const struct ch_run *r, const struct ch_report_recovery *rv, struct ch_report *rep) {
  bool rx_judged = ch_scenario_triggers_on(r->s), live_judged = false, seen_drop = false;
  for (size_t i = 0; rx_judged && i < r->s->n_phases; i++) { /* live Updates need a trigger phase after the drop */
    seen_drop |= r->s->phases[i].type == CH_SCN_PHASE_DROP;
    live_judged |= seen_drop && r->s->phases[i].type == CH_SCN_PHASE_TRIGGER;
  }
  struct ch_buf ev = CH_BUF_INIT;
  enum ch_result res = CH_RESULT_PASS;
  if (!r->storm_drop_ok) {
    res = CH_RESULT_FAIL;
    ch_buf_printf(&ev, "the drop request failed: %s", r->storm_drop);
  } else if (!rv->clients) {
    res = CH_RESULT_FAIL;
    ch_buf_printf(&ev, "no connection was up when the drop was sent (%s)", r->storm_drop);
  } else {
    uint64_t back = rv->reconnected + rv->new_connections;
    if (rv->gave_up || (rx_judged && rv->receiving < rv->clients) || (live_judged && rv->live < back))
      res = CH_RESULT_FAIL;
    char s[4][24];
    snprintf(s[0], sizeof s[0], rv->back_p100 < 0 ? "never" : "%.3f s", rv->back_p100);
    snprintf(s[1], sizeof s[1], rv->back_p50 < 0 ? "never" : "%.3f s", rv->back_p50);
    snprintf(s[2], sizeof s[2], rv->rx_p100 < 0 ? "never" : "%.3f s", rv->rx_p100);
    snprintf(s[3], sizeof s[3], rv->rx_p50 < 0 ? "never" : "%.3f s", rv->rx_p50);
    ch_buf_printf(&ev, "%llu dropped: %llu back (50%% in %s, all in %s), %llu never came back; %llu receiving again "
                       "(50%% in %s, all in %s)%s",
                  (unsigned long long)rv->clients, (unsigned long long)(rv->reconnected + rv->new_connections), s[1],
                  s[0], (unsigned long long)rv->gave_up, (unsigned long long)rv->receiving, s[3], s[2],
                  rx_judged ? "" : " (not judged: no trigger)");
    if (live_judged)
      ch_buf_printf(&ev, "; %llu of the %llu back received Updates published after their return%s",
                    (unsigned long long)rv->live, (unsigned long long)back,
                    rv->live < back ? " (the others lost their subscriptions across the reconnect: groupsToken?)" : "");
    else
      ch_buf_puts(&ev, "; live Updates after the return not judged: no trigger phase follows the drop");
  }
  struct ch_check c = {0};
  c.id = "RUN-RECOVERY";
  c.description = "after the server dropped every connection, each came back and received Updates again within the "
                  "drop phase's timeout";
  c.section = "signalr-classic.md 8";
  c.evidence = ev.data ? ev.data : "";
  c.result = res;
  int rc = ev.data ? ch_report_add_check(rep, &c) : -ENOMEM;
  ch_buf_free(&ev);
  return rc;
}
