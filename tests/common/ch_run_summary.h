/* ch_run_summary: what a run's report.json says, for tests that compare runs of one scenario (one process against
   shards or MPI ranks): each check's result, the first two per-trigger lines and the counters summed over groups. */
#ifndef CH_RUN_SUMMARY_H
#define CH_RUN_SUMMARY_H

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_spawn.h"

struct ch_run_summary {
  char checks[640];
  double sent[2], expected[2], missing[2];
  double counters[7]; /* updates_expected, _received, _missing, _duplicate, _unexpected, triggers, sessions_started */
};
#define CH_RUN_SUMMARY_COUNTERS 7
static const char *const ch_run_summary_counters[CH_RUN_SUMMARY_COUNTERS] = {
    "updates_expected", "updates_received", "updates_missing", "updates_duplicate", "updates_unexpected", "triggers",
    "sessions_started"};

static inline double ch_run_summary_num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* dir/report.json parsed (NULL when it cannot be read); the caller deletes it. */
static inline cJSON *ch_run_report_json(const char *dir) {
  char path[256];
  snprintf(path, sizeof path, "%s/report.json", dir);
  char *body = ch_slurp(path, NULL);
  cJSON *j = cJSON_Parse(body ? body : "");
  free(body);
  return j;
}

/* Reads dir/report.json into s (zeroes when it cannot be read). */
static inline void ch_run_summarize(const char *dir, struct ch_run_summary *s) {
  memset(s, 0, sizeof *s);
  cJSON *j = ch_run_report_json(dir);
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "checks")) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id"), *res = cJSON_GetObjectItemCaseSensitive(c, "result");
    size_t len = strlen(s->checks);
    snprintf(s->checks + len, sizeof s->checks - len, "%s=%s ", cJSON_IsString(id) ? id->valuestring : "?",
             cJSON_IsString(res) ? res->valuestring : "?");
  }
  const cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "triggers");
  for (int i = 0; i < 2; i++) {
    const cJSON *t = cJSON_GetArrayItem(tr, i);
    s->sent[i] = ch_run_summary_num(t, "sent");
    s->expected[i] = ch_run_summary_num(t, "updates_expected");
    s->missing[i] = ch_run_summary_num(t, "updates_missing");
  }
  const cJSON *g;
  cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metrics"), "groups")) {
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(g, "counters");
    for (int k = 0; k < CH_RUN_SUMMARY_COUNTERS; k++) {
      double v = ch_run_summary_num(cs, ch_run_summary_counters[k]);
      s->counters[k] += v > 0 ? v : 0;
    }
  }
  cJSON_Delete(j);
}

/* A coordinated run to interrupt: N subscribers of K1 and two minutes of http triggers at 20/s with nonces, aimed
   at a reference endpoint's control API (printf arguments: the name, N, the control port). */
static const char ch_run_long_scenario[] =
    "{\"name\": \"%s\",\n"
    " \"clients\": [{\"name\": \"subs\", \"count\": %d, \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"120s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 20, \"keys\": [\"K1\"],\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:%d/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\",\n"
    "                               \"payload\": {\"Note\": \"{{nonce}}\"}}}},\n"
    " \"correlation\": {\"nonce\": \"/Note\"},\n"
    " \"expect\": {\"delivery\": \"exactly_once\", \"in_order\": false, \"deadline\": \"3s\"}}\n";

#endif /* CH_RUN_SUMMARY_H */
