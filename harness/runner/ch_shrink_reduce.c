/* The reductions `shrink` tries, on the effective scenario's JSON (ch_shrink.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ch_duration.h"
#include "ch_shrink.h"

#define SHRINK_MIN_DURATION_NS 100000000ull /* 100 ms: shorter phases measure nothing */
#define SHRINK_MIN_RATE 0.1                 /* triggers (or session arrivals) per second */

static cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* Trigger i: "trigger" is one object, or an array of them (several triggers per scenario). */
static cJSON *trigger_at(const cJSON *doc, size_t i, char *label, size_t n) {
  cJSON *t = item(doc, "trigger");
  if (cJSON_IsArray(t)) {
    snprintf(label, n, "trigger[%zu]", i);
    return cJSON_GetArrayItem(t, (int)i);
  }
  snprintf(label, n, "trigger");
  return i == 0 && cJSON_IsObject(t) ? t : NULL;
}

size_t ch__shrink_count(const cJSON *doc, enum ch__shrink_dim dim) {
  if (dim == CH__SHRINK_RATE || dim == CH__SHRINK_COUNT) {
    const cJSON *t = item(doc, "trigger");
    return cJSON_IsArray(t) ? (size_t)cJSON_GetArraySize(t) : 1;
  }
  const cJSON *a = item(doc, dim == CH__SHRINK_DURATION ? "phases" : "clients"); /* the rest: per population */
  return cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
}

/* An integer field >= lo reduced: halved (rounding up) or minus one. */
static bool reduce_int(cJSON *o, const char *k, double lo, bool halve, const char *label, char *what, size_t n) {
  cJSON *v = item(o, k);
  if (!cJSON_IsNumber(v) || v->valuedouble <= lo)
    return false;
  double old = v->valuedouble, nv = halve ? ceil(old / 2) : old - 1;
  if (nv < lo)
    nv = lo;
  if (nv == old)
    return false;
  cJSON_SetNumberValue(v, nv);
  snprintf(what, n, "%s %.0f -> %.0f", label, old, nv);
  return true;
}

/* A number or rate string ("5/s") of o[k]; -1 when neither. */
static double value_of(const cJSON *o, const char *k) {
  const cJSON *v = item(o, k);
  double r = -1;
  if (cJSON_IsNumber(v))
    r = v->valuedouble;
  else if (cJSON_IsString(v) && ch_parse_rate(v->valuestring, &r, NULL))
    r = -1;
  return r;
}

static cJSON *sessions_of(cJSON *doc, size_t i) {
  cJSON *ss = item(cJSON_GetArrayItem(item(doc, "clients"), (int)i), "sessions");
  return cJSON_IsObject(ss) ? ss : NULL;
}

static bool is_closed(const cJSON *ss) {
  const cJSON *m = item(ss, "model");
  return cJSON_IsString(m) && !strcmp(m->valuestring, "closed");
}

/* Closed model: every target (stages and start) halved (rounding up) or minus one, max_concurrent following the
   highest; stops when the highest is 1. */
static bool reduce_targets(cJSON *ss, size_t i, bool halve, char *what, size_t n) {
  cJSON *stages = item(ss, "stages"), *st;
  double most = value_of(ss, "start");
  cJSON_ArrayForEach(st, stages) most = value_of(st, "target") > most ? value_of(st, "target") : most;
  if (most <= 1)
    return false;
  double nmost = halve ? ceil(most / 2) : most - 1, t;
  cJSON_ArrayForEach(st, stages) {
    if ((t = value_of(st, "target")) > 0)
      cJSON_ReplaceItemInObjectCaseSensitive(st, "target", cJSON_CreateNumber(halve ? ceil(t / 2) : t - 1));
  }
  if ((t = value_of(ss, "start")) > 0)
    cJSON_ReplaceItemInObjectCaseSensitive(ss, "start", cJSON_CreateNumber(halve ? ceil(t / 2) : t - 1));
  cJSON_ReplaceItemInObjectCaseSensitive(ss, "max_concurrent", cJSON_CreateNumber(nmost));
  snprintf(what, n, "clients[%zu].sessions targets %.0f -> %.0f (stages, start, max_concurrent)", i, most, nmost);
  return true;
}

static bool reduce_count(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  char label[64];
  cJSON *ss = sessions_of(doc, i);
  if (ss && is_closed(ss))
    return reduce_targets(ss, i, halve, what, n);
  if (ss) { /* open model: the slots */
    snprintf(label, sizeof label, "clients[%zu].sessions.max_concurrent", i);
    return reduce_int(ss, "max_concurrent", 1, halve, label, what, n);
  }
  snprintf(label, sizeof label, "clients[%zu].count", i);
  return reduce_int(cJSON_GetArrayItem(item(doc, "clients"), (int)i), "count", 1, halve, label, what, n);
}

static double rate_down(double x, bool halve) {
  double v = halve ? x / 2 : x - 1;
  return v < SHRINK_MIN_RATE ? SHRINK_MIN_RATE : v;
}

/* Open model: the arrival rate and every stage's target halved or minus 1/s together, not below 0.1/s (a rate of 0,
   where the stages start from nothing, stays). */
static bool reduce_arrival(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  cJSON *ss = sessions_of(doc, i), *st;
  if (!ss || is_closed(ss))
    return false;
  double most = value_of(ss, "rate"), t;
  cJSON_ArrayForEach(st, item(ss, "stages")) most = value_of(st, "target") > most ? value_of(st, "target") : most;
  if (!(most > SHRINK_MIN_RATE))
    return false;
  cJSON_ArrayForEach(st, item(ss, "stages")) {
    if ((t = value_of(st, "target")) > SHRINK_MIN_RATE)
      cJSON_ReplaceItemInObjectCaseSensitive(st, "target", cJSON_CreateNumber(rate_down(t, halve)));
  }
  if ((t = value_of(ss, "rate")) > SHRINK_MIN_RATE)
    cJSON_ReplaceItemInObjectCaseSensitive(ss, "rate", cJSON_CreateNumber(rate_down(t, halve)));
  snprintf(what, n, "clients[%zu].sessions arrivals %g/s -> %g/s (rate and stages)", i, most, rate_down(most, halve));
  return true;
}

/* The last stages dropped: half of them, or one; the first stays. */
static bool reduce_stages(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  cJSON *stages = item(sessions_of(doc, i), "stages");
  int have = cJSON_IsArray(stages) ? cJSON_GetArraySize(stages) : 0, keep = halve ? (have + 1) / 2 : have - 1;
  if (have < 2 || keep == have)
    return false;
  while (cJSON_GetArraySize(stages) > keep)
    cJSON_DeleteItemFromArray(stages, cJSON_GetArraySize(stages) - 1);
  snprintf(what, n, "clients[%zu].sessions.stages %d -> %d", i, have, keep);
  return true;
}

/* Drops population i and the phases that name it alone; at least one population stays. */
static bool drop_population(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  cJSON *pops = item(doc, "clients");
  if (!halve || cJSON_GetArraySize(pops) < 2 || (int)i >= cJSON_GetArraySize(pops))
    return false; /* dropping is one step; done in the halving pass only */
  const cJSON *name = item(cJSON_GetArrayItem(pops, (int)i), "name");
  char nm[80] = "";
  if (cJSON_IsString(name))
    snprintf(nm, sizeof nm, "%s", name->valuestring);
  cJSON *phases = item(doc, "phases");
  for (int k = cJSON_GetArraySize(phases) - 1; k >= 0 && *nm; k--) {
    const cJSON *c = item(cJSON_GetArrayItem(phases, k), "clients");
    if (cJSON_IsString(c) && !strcmp(c->valuestring, nm))
      cJSON_DeleteItemFromArray(phases, k);
  }
  cJSON_DeleteItemFromArray(pops, (int)i);
  snprintf(what, n, "population %zu (%s) dropped", i, *nm ? nm : "?");
  return true;
}

/* Keeps per_client (when present) within the number of keys left. */
static void clamp_per_client(cJSON *sub, double keys) {
  cJSON *pc = item(sub, "per_client");
  if (cJSON_IsNumber(pc) && pc->valuedouble > keys)
    cJSON_SetNumberValue(pc, keys);
}

static bool reduce_keys(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  cJSON *sub = item(cJSON_GetArrayItem(item(doc, "clients"), (int)i), "subscribe");
  if (!cJSON_IsObject(sub))
    return false;
  cJSON *keys = item(sub, "keys"), *range = item(sub, "range");
  char label[64];
  if (cJSON_IsArray(keys)) {
    int have = cJSON_GetArraySize(keys), keep = halve ? (have + 1) / 2 : have - 1;
    if (have < 2 || keep == have)
      return false;
    while (cJSON_GetArraySize(keys) > keep)
      cJSON_DeleteItemFromArray(keys, cJSON_GetArraySize(keys) - 1);
    clamp_per_client(sub, keep);
    snprintf(what, n, "clients[%zu].subscribe.keys %d -> %d", i, have, keep);
    return true;
  }
  if (cJSON_IsObject(range)) {
    cJSON *from = item(range, "from"), *to = item(range, "to");
    if (!cJSON_IsNumber(from) || !cJSON_IsNumber(to))
      return false;
    double have = to->valuedouble - from->valuedouble + 1, keep = halve ? ceil(have / 2) : have - 1;
    if (have < 2)
      return false;
    cJSON_SetNumberValue(to, from->valuedouble + keep - 1);
    clamp_per_client(sub, keep);
    snprintf(what, n, "clients[%zu].subscribe.range %.0f -> %.0f keys", i, have, keep);
    return true;
  }
  snprintf(label, sizeof label, "clients[%zu].subscribe.key_count", i);
  if (!reduce_int(sub, "key_count", 1, halve, label, what, n))
    return false;
  clamp_per_client(sub, item(sub, "key_count")->valuedouble);
  return true;
}

static bool reduce_rate(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  char label[32];
  cJSON *t = trigger_at(doc, i, label, sizeof label), *v = item(t, "rate");
  double old = cJSON_IsNumber(v) ? v->valuedouble : 0;
  if (cJSON_IsString(v) && ch_parse_rate(v->valuestring, &old, NULL))
    return false;
  double nv = halve ? old / 2 : old - 1;
  if (!(old > SHRINK_MIN_RATE) || nv < SHRINK_MIN_RATE)
    nv = SHRINK_MIN_RATE;
  if (!(old > nv))
    return false;
  cJSON_ReplaceItemInObjectCaseSensitive(t, "rate", cJSON_CreateNumber(nv));
  snprintf(what, n, "%s.rate %g/s -> %g/s", label, old, nv);
  return true;
}

static bool reduce_trigger_count(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  char label[40];
  cJSON *t = trigger_at(doc, i, label, sizeof label - 6);
  const cJSON *c = item(t, "count");
  if (!cJSON_IsNumber(c) || c->valuedouble < 2) /* 0 is unlimited: the phase durations bound it */
    return false;
  strcat(label, ".count");
  return reduce_int(t, "count", 1, halve, label, what, n);
}

/* A phase's duration halved or cut by a quarter, not below 100 ms. */
static bool reduce_duration(cJSON *doc, size_t i, bool halve, char *what, size_t n) {
  cJSON *ph = cJSON_GetArrayItem(item(doc, "phases"), (int)i);
  const cJSON *d = item(ph, "duration");
  uint64_t ns;
  if (!cJSON_IsString(d) || ch_parse_duration_ns(d->valuestring, &ns, NULL) || ns <= SHRINK_MIN_DURATION_NS)
    return false;
  uint64_t nv = halve ? ns / 2 : ns - ns / 4;
  if (nv < SHRINK_MIN_DURATION_NS)
    nv = SHRINK_MIN_DURATION_NS;
  struct ch_buf b = CH_BUF_INIT;
  if (ch_format_duration(nv, &b)) {
    ch_buf_free(&b);
    return false;
  }
  const cJSON *type = item(ph, "type");
  snprintf(what, n, "phases[%zu] (%s).duration %s -> %s", i, cJSON_IsString(type) ? type->valuestring : "?",
           d->valuestring, b.data);
  cJSON_ReplaceItemInObjectCaseSensitive(ph, "duration", cJSON_CreateString(b.data));
  ch_buf_free(&b);
  return true;
}

bool ch__shrink_apply(cJSON *doc, enum ch__shrink_dim dim, size_t i, bool halve, char *what, size_t n) {
  switch (dim) {
  case CH__SHRINK_CLIENTS:
    return reduce_count(doc, i, halve, what, n);
  case CH__SHRINK_ARRIVAL:
    return reduce_arrival(doc, i, halve, what, n);
  case CH__SHRINK_STAGES:
    return reduce_stages(doc, i, halve, what, n);
  case CH__SHRINK_POPULATION:
    return drop_population(doc, i, halve, what, n);
  case CH__SHRINK_KEYS:
    return reduce_keys(doc, i, halve, what, n);
  case CH__SHRINK_RATE:
    return reduce_rate(doc, i, halve, what, n);
  case CH__SHRINK_COUNT:
    return reduce_trigger_count(doc, i, halve, what, n);
  case CH__SHRINK_DURATION:
    return reduce_duration(doc, i, halve, what, n);
  default:
    return false;
  }
}
