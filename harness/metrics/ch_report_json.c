/* report.json: writer and reader (format "centro-harness-report", version 1; see reports/README.md). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_report_int.h"
#include "ch_version.h"

#define CH_REPORT_MAX_GROUPS 256
#define CH_STR2(x) #x
#define CH_STR(x) CH_STR2(x)

/* ---- writer ---- */

void ch__jw_chk(struct ch__jw *w, const void *p) {
  if (!p)
    w->oom = 1;
}

void ch__jw_str(struct ch__jw *w, cJSON *o, const char *k, const char *v) {
  if (!v) {
    ch__jw_chk(w, cJSON_AddNullToObject(o, k));
    return;
  }
  ch_buf_reset(&w->tmp);
  if (ch__utf8_clean(&w->tmp, v)) {
    w->oom = 1;
    return;
  }
  ch__jw_chk(w, cJSON_AddStringToObject(o, k, w->tmp.data));
}

void ch__jw_num(struct ch__jw *w, cJSON *o, const char *k, double v) { ch__jw_chk(w, cJSON_AddNumberToObject(o, k, v)); }

static void ju64s(struct ch__jw *w, cJSON *o, const char *k, uint64_t v) {
  char s[24];
  snprintf(s, sizeof s, "%" PRIu64, v); /* as a string: JSON numbers lose precision above 2^53 */
  ch__jw_str(w, o, k, s);
}

void ch__jw_str_array(struct ch__jw *w, cJSON *o, const char *k, char **l, size_t n) {
  cJSON *a = cJSON_AddArrayToObject(o, k);
  ch__jw_chk(w, a);
  for (size_t i = 0; a && i < n; i++) {
    ch_buf_reset(&w->tmp);
    if (ch__utf8_clean(&w->tmp, l[i])) {
      w->oom = 1;
      return;
    }
    cJSON *s = cJSON_CreateString(w->tmp.data);
    ch__jw_chk(w, s);
    if (s && !cJSON_AddItemToArray(a, s))
      w->oom = 1;
  }
}

static void jlat(struct ch__jw *w, cJSON *lat, const char *name, const struct ch_hist *h) {
  if (!h->count && !h->overflow)
    return;
  cJSON *o = cJSON_AddObjectToObject(lat, name);
  ch__jw_chk(w, o);
  if (!o)
    return;
  ch__jw_num(w, o, "count", (double)h->count);
  ch__jw_num(w, o, "overflow", (double)h->overflow);
  ch__jw_num(w, o, "min_ns", (double)ch_hist_min(h));
  ch__jw_num(w, o, "mean_ns", round(ch_hist_mean(h)));
  ch__jw_num(w, o, "p50_ns", (double)ch_hist_value_at(h, 50));
  ch__jw_num(w, o, "p90_ns", (double)ch_hist_value_at(h, 90));
  ch__jw_num(w, o, "p99_ns", (double)ch_hist_value_at(h, 99));
  ch__jw_num(w, o, "p99_9_ns", (double)ch_hist_value_at(h, 99.9));
  ch__jw_num(w, o, "max_ns", (double)ch_hist_max(h));
  ch_buf_reset(&w->tmp);
  if (ch_hist_serialize(h, &w->tmp))
    w->oom = 1;
  else
    ch__jw_chk(w, cJSON_AddStringToObject(o, "hist", w->tmp.data));
}

void ch__jw_lat(struct ch__jw *w, cJSON *lat, const char *name, const struct ch_hist *h) { jlat(w, lat, name, h); }

static void jgroup(struct ch__jw *w, cJSON *o, const struct ch_metrics_group *g) {
  ch__jw_str(w, o, "population", g->population);
  ch__jw_str(w, o, "transport", g->transport);
  cJSON *c = cJSON_AddObjectToObject(o, "counters");
  ch__jw_chk(w, c);
  for (int i = 0; c && i < CH_CNT_COUNT; i++)
    ch__jw_num(w, c, ch_cnt_name(i), (double)g->counters[i]);
  ch__jw_num(w, o, "connected", (double)g->connected);
  ch__jw_num(w, o, "connected_peak", (double)g->connected_peak);
  cJSON *f = cJSON_AddArrayToObject(o, "failures");
  ch__jw_chk(w, f);
  for (size_t i = 0; f && i <= CH_METRICS_REASONS; i++) {
    const struct ch_metrics_reason *r = &g->reasons[i];
    if (i == CH_METRICS_REASONS ? !r->count : i >= g->n_reasons)
      continue;
    cJSON *e = cJSON_CreateObject();
    ch__jw_chk(w, e);
    if (!e || !cJSON_AddItemToArray(f, e)) {
      w->oom = 1;
      break;
    }
    ch__jw_str(w, e, "reason", r->text);
    ch__jw_num(w, e, "count", (double)r->count);
  }
  cJSON *lat = cJSON_AddObjectToObject(o, "latency");
  ch__jw_chk(w, lat);
  for (int i = 0; lat && i < CH_LAT_COUNT; i++)
    jlat(w, lat, ch_lat_name(i), &g->lat[i]);
}

/* "harness": the binary's version, commit and libraries (built with / running with). A report read from a file
   keeps the object it was written with; others get this binary's. */
static void jharness(struct ch__jw *w, cJSON *root, const struct ch_report *r) {
  cJSON *h = r->harness_json ? cJSON_Parse(r->harness_json) : cJSON_CreateObject();
  if (!h || !cJSON_AddItemToObject(root, "harness", h)) {
    cJSON_Delete(h);
    w->oom = 1;
    return;
  }
  if (r->harness_json)
    return;
  ch__jw_str(w, h, "version", ch_version());
  ch__jw_str(w, h, "git", ch_version_git()[0] ? ch_version_git() : NULL);
  cJSON *libs = cJSON_AddObjectToObject(h, "libraries");
  ch__jw_chk(w, libs);
  struct ch_version_lib l[CH_VERSION_LIBS_MAX];
  size_t n = ch_version_libraries(l);
  for (size_t i = 0; libs && i < n; i++) {
    cJSON *o = cJSON_AddObjectToObject(libs, l[i].name);
    ch__jw_chk(w, o);
    if (o)
      ch__jw_str(w, o, "built", l[i].built), ch__jw_str(w, o, "running", l[i].running);
  }
}

static cJSON *report_to_json(const struct ch_report *r, struct ch__jw *w) {
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return NULL;
  char t[40];
  ch__jw_str(w, root, "format", CH_REPORT_FORMAT);
  ch__jw_num(w, root, "version", CH_REPORT_VERSION);
  jharness(w, root, r);
  cJSON *run = cJSON_AddObjectToObject(root, "run");
  ch__jw_chk(w, run);
  if (run) {
    ch__jw_str(w, run, "scenario", r->scenario);
    ch__jw_str(w, run, "scenario_path", r->scenario_path);
    ch__jw_str(w, run, "scenario_sha256", r->scenario_sha256);
    ch__jw_str(w, run, "target", r->target);
    ch__jw_str(w, run, "harness_version", r->harness_version);
    ju64s(w, run, "seed", r->seed);
    ch__jw_str_array(w, run, "overrides", r->overrides, r->n_overrides);
    ch__fmt_time(t, sizeof t, r->start_wall_ns);
    ch__jw_str(w, run, "start", t);
    ch__fmt_time(t, sizeof t, r->end_wall_ns);
    ch__jw_str(w, run, "end", t);
    ju64s(w, run, "start_ns", r->start_wall_ns);
    ju64s(w, run, "end_ns", r->end_wall_ns);
    ch__jw_num(w, run, "duration_s",
         r->end_wall_ns > r->start_wall_ns ? (double)(r->end_wall_ns - r->start_wall_ns) / 1e9 : 0);
    ch__jw_num(w, run, "exit_code", r->exit_code);
    ch__jw_str(w, run, "exit_reason", r->exit_reason);
    ch__jw_num(w, run, "shards", r->shards);
    if (r->ranks_json) { /* run --mpi: one line per rank */
      cJSON *ranks = cJSON_Parse(r->ranks_json);
      if (!ranks || !cJSON_AddItemToObject(run, "ranks", ranks)) {
        cJSON_Delete(ranks);
        w->oom = 1;
      }
    }
    ch__jw_chk(w, cJSON_AddBoolToObject(run, "partial", r->partial));
    if (!r->interrupted.signal) {
      ch__jw_chk(w, cJSON_AddNullToObject(run, "interrupted"));
    } else {
      cJSON *in = cJSON_AddObjectToObject(run, "interrupted");
      ch__jw_chk(w, in);
      if (in) {
        ch__jw_str(w, in, "signal", r->interrupted.signal);
        ch__fmt_time(t, sizeof t, r->interrupted.at_wall_ns);
        ch__jw_str(w, in, "at", t);
        ju64s(w, in, "at_ns", r->interrupted.at_wall_ns);
        ch__jw_str(w, in, "phase", r->interrupted.phase);
        ch__jw_chk(w, cJSON_AddBoolToObject(in, "second_signal", r->interrupted.second_signal));
      }
    }
  }
  cJSON *checks = cJSON_AddArrayToObject(root, "checks");
  ch__jw_chk(w, checks);
  for (size_t i = 0; checks && i < r->n_checks; i++) {
    const struct ch_check *c = &r->checks[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(checks, o)) {
      cJSON_Delete(o);
      w->oom = 1;
      break;
    }
    ch__jw_str(w, o, "id", c->id);
    ch__jw_str(w, o, "description", c->description);
    ch__jw_str(w, o, "section", c->section);
    ch__jw_str(w, o, "transport", c->transport);
    ch__jw_str(w, o, "result", ch_result_name(c->result));
    ch__jw_str(w, o, "evidence", c->evidence);
    ch__jw_num(w, o, "duration_ms", (double)c->duration_ns / 1e6);
  }
  cJSON *ths = cJSON_AddArrayToObject(root, "thresholds");
  ch__jw_chk(w, ths);
  for (size_t i = 0; ths && i < r->n_thresholds; i++) {
    const struct ch_threshold *th = &r->thresholds[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(ths, o)) {
      cJSON_Delete(o);
      w->oom = 1;
      break;
    }
    ch__jw_str(w, o, "expression", th->expression);
    ch__jw_str(w, o, "metric", th->metric);
    if (th->has_observed)
      ch__jw_num(w, o, "observed", th->observed);
    else
      ch__jw_chk(w, cJSON_AddNullToObject(o, "observed"));
    ch__jw_str(w, o, "result", ch_result_name(th->result));
  }
  ch__jw_str_array(w, root, "notes", r->notes, r->n_notes);
  if (r->capacity) {
    cJSON *cap = ch__capacity_to_json(r->capacity);
    if (!cap || !cJSON_AddItemToObject(root, "capacity", cap)) {
      cJSON_Delete(cap);
      w->oom = 1;
    }
  }
  if (r->triggers) {
    cJSON *tr = ch__triggers_to_json(r->triggers, w);
    if (!tr || !cJSON_AddItemToObject(root, "triggers", tr)) {
      cJSON_Delete(tr);
      w->oom = 1;
    }
  }
  if (r->recovery) {
    cJSON *rv = ch__recovery_to_json(r->recovery, w);
    if (!rv || !cJSON_AddItemToObject(root, "recovery", rv)) {
      cJSON_Delete(rv);
      w->oom = 1;
    }
  }
  const struct ch_metrics *m = r->metrics;
  cJSON *mo = cJSON_AddObjectToObject(root, "metrics");
  ch__jw_chk(w, mo);
  if (!mo)
    return root;
  ju64s(w, mo, "start_ns", m->start_wall_ns);
  ju64s(w, mo, "end_ns", m->end_wall_ns);
  struct ch_metrics_group *total;
  if (ch_metrics_total(m, &total) == 0) {
    cJSON *to = cJSON_AddObjectToObject(mo, "total");
    ch__jw_chk(w, to);
    if (to)
      jgroup(w, to, total);
    free(total);
  } else {
    w->oom = 1;
  }
  cJSON *groups = cJSON_AddArrayToObject(mo, "groups");
  ch__jw_chk(w, groups);
  for (size_t i = 0; groups && i < m->n_groups; i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(groups, o)) {
      cJSON_Delete(o);
      w->oom = 1;
      break;
    }
    jgroup(w, o, m->groups[i]);
  }
  cJSON *series = cJSON_AddArrayToObject(mo, "series");
  ch__jw_chk(w, series);
  for (size_t i = 0; series && i < m->n_series; i++) {
    const struct ch_series_point *p = &m->series[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(series, o)) {
      cJSON_Delete(o);
      w->oom = 1;
      break;
    }
    ch__jw_num(w, o, "t", (double)p->t);
    ch__jw_num(w, o, "connected", (double)p->connected);
    if (p->sessions) /* session populations only */
      ch__jw_num(w, o, "sessions", (double)p->sessions);
    if (p->has_target) /* closed-model session populations: the count their stages wanted */
      ch__jw_num(w, o, "sessions_target", (double)p->sessions_target);
    ch__jw_num(w, o, "messages_in", (double)p->messages_in);
    ch__jw_num(w, o, "messages_out", (double)p->messages_out);
    ch__jw_num(w, o, "errors", (double)p->errors);
    ch__jw_num(w, o, "deliveries", (double)p->deliveries);
    ch__jw_num(w, o, "p50_ns", (double)p->p50_ns);
    ch__jw_num(w, o, "p99_ns", (double)p->p99_ns);
    if (p->hist)
      ch__jw_str(w, o, "hist", p->hist);
  }
  return root;
}

int ch_report_json(const struct ch_report *r, struct ch_buf *out) {
  struct ch__jw w = {0, CH_BUF_INIT};
  cJSON *root = report_to_json(r, &w);
  ch_buf_free(&w.tmp);
  char *s = root && !w.oom ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!s)
    return -ENOMEM;
  size_t from = out->len;
  int rc = ch_buf_puts(out, s);
  rc = rc ? rc : ch_buf_putc(out, '\n');
  free(s);
  return rc ? rc : ch__report_scrub(r, out, from);
}

/* ---- reader ---- */

struct jr {
  struct ch_buf *err;
  const char *where; /* the path of the field being read, for messages */
  int bad;
};

static int jr_fail(struct jr *j, const char *field, const char *what) {
  if (!j->bad && j->err)
    ch_buf_printf(j->err, "%s%s%s: %s", j->where ? j->where : "", j->where && *field ? "." : "", field, what);
  j->bad = 1;
  return -EINVAL;
}

/* Optional string: absent or null gives NULL. */
static int rd_str(struct jr *j, const cJSON *o, const char *k, char **dst) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v || cJSON_IsNull(v))
    return ch_report_set(dst, NULL);
  if (!cJSON_IsString(v))
    return jr_fail(j, k, "expected a string");
  return ch_report_set(dst, v->valuestring);
}

/* Optional non-negative integer number: absent gives 0. */
static int rd_u64(struct jr *j, const cJSON *o, const char *k, uint64_t *dst) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  *dst = 0;
  if (!v || cJSON_IsNull(v))
    return 0;
  if (cJSON_IsString(v)) { /* big values are written as decimal strings */
    char *end;
    const char *s = v->valuestring;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (!*s || *end || errno || *s == '-')
      return jr_fail(j, k, "expected a non-negative integer");
    *dst = x;
    return 0;
  }
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1.8e19 || floor(v->valuedouble) != v->valuedouble)
    return jr_fail(j, k, "expected a non-negative integer");
  *dst = (uint64_t)v->valuedouble;
  return 0;
}

static int rd_strings(struct jr *j, const cJSON *o, const char *k, char ***l, size_t *n) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *e;
  if (!a || cJSON_IsNull(a))
    return 0;
  if (!cJSON_IsArray(a))
    return jr_fail(j, k, "expected an array of strings");
  cJSON_ArrayForEach(e, a) {
    if (!cJSON_IsString(e))
      return jr_fail(j, k, "expected an array of strings");
    char *c = strdup(e->valuestring);
    char **p = c ? realloc(*l, (*n + 1) * sizeof *p) : NULL;
    if (!p) {
      free(c);
      return -ENOMEM;
    }
    p[(*n)++] = c;
    *l = p;
  }
  return 0;
}

static int rd_result(struct jr *j, const cJSON *o, enum ch_result *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "result");
  const char *s = cJSON_IsString(v) ? v->valuestring : "";
  if (!strcmp(s, "pass"))
    *out = CH_RESULT_PASS;
  else if (!strcmp(s, "fail"))
    *out = CH_RESULT_FAIL;
  else if (!strcmp(s, "skip"))
    *out = CH_RESULT_SKIP;
  else if (!strcmp(s, "incomplete"))
    *out = CH_RESULT_INCOMPLETE;
  else if (!strcmp(s, "not_run"))
    *out = CH_RESULT_NOT_RUN;
  else
    return jr_fail(j, "result", "expected \"pass\", \"fail\", \"skip\", \"incomplete\" or \"not_run\"");
  return 0;
}

static int rd_group(struct jr *j, const cJSON *o, struct ch_metrics *m) {
  char *pop = NULL, *tr = NULL;
  int rc = rd_str(j, o, "population", &pop);
  rc = rc ? rc : rd_str(j, o, "transport", &tr);
  struct ch_metrics_group *g = NULL;
  if (!rc && (!pop || !tr))
    rc = jr_fail(j, pop ? "transport" : "population", "missing");
  if (!rc && ch_metrics_find(m, pop, tr))
    rc = jr_fail(j, "population", "the same (population, transport) group appears twice");
  rc = rc ? rc : ch_metrics_group(m, pop, tr, &g);
  free(pop), free(tr);
  if (rc)
    return rc;
  uint64_t v = 0;
  /* failures first: re-adding them bumps the errors counter, which the counters below then overwrite */
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "failures"), *e;
  if (f && !cJSON_IsArray(f))
    return jr_fail(j, "failures", "expected an array");
  cJSON_ArrayForEach(e, f) {
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(e, "reason");
    if (!cJSON_IsString(rs))
      return jr_fail(j, "failures", "each entry needs a reason string");
    if ((rc = rd_u64(j, e, "count", &v)))
      return rc;
    ch_metrics_fail_n(g, rs->valuestring, v);
  }
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "counters");
  if (c && !cJSON_IsObject(c))
    return jr_fail(j, "counters", "expected an object");
  for (int i = 0; c && i < CH_CNT_COUNT && !rc; i++)
    rc = rd_u64(j, c, ch_cnt_name(i), &g->counters[i]);
  rc = rc ? rc : rd_u64(j, o, "connected", &v);
  g->connected = (int64_t)(v > INT64_MAX ? INT64_MAX : v);
  rc = rc ? rc : rd_u64(j, o, "connected_peak", &v);
  g->connected_peak = (int64_t)(v > INT64_MAX ? INT64_MAX : v);
  const cJSON *lat = cJSON_GetObjectItemCaseSensitive(o, "latency"), *l;
  if (!rc && lat && !cJSON_IsObject(lat))
    return jr_fail(j, "latency", "expected an object");
  if (!rc && lat) {
    cJSON_ArrayForEach(l, lat) {
      int which = ch_lat_from_name(l->string, strlen(l->string));
      if (which < 0)
        continue; /* a newer writer's metric: ignore (forward compatible) */
      const cJSON *h = cJSON_GetObjectItemCaseSensitive(l, "hist");
      if (!cJSON_IsString(h))
        return jr_fail(j, "latency", "each metric needs a \"hist\" string");
      struct ch_buf why = CH_BUF_INIT;
      rc = ch_hist_parse(&g->lat[which], h->valuestring, strlen(h->valuestring), &why);
      if (rc) {
        if (!j->bad && j->err)
          ch_buf_printf(j->err, "%s.latency.%s.hist: %s", j->where, l->string, why.data ? why.data : "invalid");
        j->bad = 1;
        ch_buf_free(&why);
        return rc;
      }
      ch_buf_free(&why);
    }
  }
  return rc;
}

static int rd_metrics(struct jr *j, const cJSON *mo, struct ch_metrics *m) {
  int rc = rd_u64(j, mo, "start_ns", &m->start_wall_ns);
  rc = rc ? rc : rd_u64(j, mo, "end_ns", &m->end_wall_ns);
  const cJSON *groups = cJSON_GetObjectItemCaseSensitive(mo, "groups"), *e;
  if (!rc && !cJSON_IsArray(groups))
    return jr_fail(j, "groups", "missing or not an array");
  char where[48];
  int i = 0;
  cJSON_ArrayForEach(e, groups) {
    if (rc)
      break;
    snprintf(where, sizeof where, "metrics.groups[%d]", i++);
    j->where = where;
    if (i > CH_REPORT_MAX_GROUPS) { /* each group holds ~370 KiB of histograms: bound what a file can demand */
      rc = jr_fail(j, "", "too many groups (at most " CH_STR(CH_REPORT_MAX_GROUPS) ")");
      break;
    }
    rc = cJSON_IsObject(e) ? rd_group(j, e, m) : jr_fail(j, "", "expected an object");
  }
  j->where = "metrics";
  const cJSON *series = cJSON_GetObjectItemCaseSensitive(mo, "series");
  if (!rc && series && !cJSON_IsArray(series))
    return jr_fail(j, "series", "expected an array");
  i = 0;
  int64_t prev = INT64_MIN;
  cJSON_ArrayForEach(e, series) {
    if (rc)
      break;
    snprintf(where, sizeof where, "metrics.series[%d]", i++);
    j->where = where;
    struct ch_series_point p = {0};
    uint64_t t;
    rc = rd_u64(j, e, "t", &t);
    rc = rc ? rc : rd_u64(j, e, "connected", &p.connected);
    rc = rc ? rc : rd_u64(j, e, "sessions", &p.sessions);
    rc = rc ? rc : rd_u64(j, e, "sessions_target", &p.sessions_target);
    p.has_target = cJSON_GetObjectItemCaseSensitive(e, "sessions_target") != NULL;
    rc = rc ? rc : rd_u64(j, e, "messages_in", &p.messages_in);
    rc = rc ? rc : rd_u64(j, e, "messages_out", &p.messages_out);
    rc = rc ? rc : rd_u64(j, e, "errors", &p.errors);
    rc = rc ? rc : rd_u64(j, e, "deliveries", &p.deliveries);
    rc = rc ? rc : rd_u64(j, e, "p50_ns", &p.p50_ns);
    rc = rc ? rc : rd_u64(j, e, "p99_ns", &p.p99_ns);
    if (rc)
      break;
    if (t > INT64_MAX || (int64_t)t <= prev) {
      rc = jr_fail(j, "t", "seconds must increase from one point to the next");
      break;
    }
    p.t = prev = (int64_t)t;
    rc = rd_str(j, e, "hist", &p.hist);
    if (!rc && p.hist) {
      struct ch_hist *h = malloc(sizeof *h);
      if (!h)
        rc = -ENOMEM;
      else if (ch_hist_parse(h, p.hist, strlen(p.hist), NULL))
        rc = jr_fail(j, "hist", "bad histogram");
      free(h);
    }
    if (!rc && m->n_series == m->cap_series) {
      size_t cap = m->cap_series ? m->cap_series * 2 : 64;
      struct ch_series_point *np = realloc(m->series, cap * sizeof *np);
      if (!np)
        rc = -ENOMEM;
      else
        m->series = np, m->cap_series = cap;
    }
    if (rc) {
      free(p.hist);
      break;
    }
    m->series[m->n_series++] = p;
  }
  j->where = NULL;
  return rc;
}

static int rd_report(struct jr *j, const cJSON *root, struct ch_report *r) {
  if (!cJSON_IsObject(root))
    return jr_fail(j, "document", "expected a JSON object");
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, CH_REPORT_FORMAT))
    return jr_fail(j, "format", "missing or not \"" CH_REPORT_FORMAT "\" (not a centro-harness report)");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
  if (!cJSON_IsNumber(ver))
    return jr_fail(j, "version", "missing or not a number");
  if (ver->valuedouble != CH_REPORT_VERSION) {
    char why[96];
    snprintf(why, sizeof why, "unsupported version %g (this build reads version %d)", ver->valuedouble,
             CH_REPORT_VERSION);
    return jr_fail(j, "version", why);
  }
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(root, "run");
  if (!cJSON_IsObject(run))
    return jr_fail(j, "run", "missing or not an object");
  j->where = "run";
  uint64_t v = 0;
  int rc = rd_str(j, run, "scenario", &r->scenario);
  rc = rc ? rc : rd_str(j, run, "scenario_path", &r->scenario_path);
  rc = rc ? rc : rd_str(j, run, "scenario_sha256", &r->scenario_sha256);
  rc = rc ? rc : rd_str(j, run, "target", &r->target);
  rc = rc ? rc : rd_str(j, run, "harness_version", &r->harness_version);
  rc = rc ? rc : rd_str(j, run, "exit_reason", &r->exit_reason);
  rc = rc ? rc : rd_u64(j, run, "seed", &r->seed);
  rc = rc ? rc : rd_u64(j, run, "start_ns", &r->start_wall_ns);
  rc = rc ? rc : rd_u64(j, run, "end_ns", &r->end_wall_ns);
  rc = rc ? rc : rd_u64(j, run, "exit_code", &v);
  if (!rc && v > 255)
    rc = jr_fail(j, "exit_code", "out of range");
  r->exit_code = (int)v;
  rc = rc ? rc : rd_u64(j, run, "shards", &v);
  r->shards = v ? (unsigned)(v > 1000000 ? 1000000 : v) : 1;
  rc = rc ? rc : rd_strings(j, run, "overrides", &r->overrides, &r->n_overrides);
  const cJSON *ranks = cJSON_GetObjectItemCaseSensitive(run, "ranks");
  if (!rc && ranks && !cJSON_IsArray(ranks))
    rc = jr_fail(j, "ranks", "expected an array");
  if (!rc && ranks && !(r->ranks_json = cJSON_PrintUnformatted(ranks)))
    rc = -ENOMEM;
  const cJSON *partial = cJSON_GetObjectItemCaseSensitive(run, "partial");
  if (!rc && partial && !cJSON_IsBool(partial))
    rc = jr_fail(j, "partial", "expected true or false");
  r->partial = cJSON_IsTrue(partial);
  const cJSON *intr = cJSON_GetObjectItemCaseSensitive(run, "interrupted");
  if (!rc && intr && !cJSON_IsNull(intr)) {
    j->where = "run.interrupted";
    if (!cJSON_IsObject(intr))
      rc = jr_fail(j, "interrupted", "expected an object or null");
    rc = rc ? rc : rd_str(j, intr, "signal", &r->interrupted.signal);
    rc = rc ? rc : rd_str(j, intr, "phase", &r->interrupted.phase);
    rc = rc ? rc : rd_u64(j, intr, "at_ns", &r->interrupted.at_wall_ns);
    r->interrupted.second_signal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(intr, "second_signal"));
    if (!rc && !r->interrupted.signal)
      rc = jr_fail(j, "signal", "missing");
  }
  j->where = NULL;
  const cJSON *harness = cJSON_GetObjectItemCaseSensitive(root, "harness");
  if (!rc && cJSON_IsObject(harness) && !(r->harness_json = cJSON_PrintUnformatted(harness)))
    rc = -ENOMEM;
  rc = rc ? rc : rd_strings(j, root, "notes", &r->notes, &r->n_notes);
  const cJSON *checks = cJSON_GetObjectItemCaseSensitive(root, "checks"), *e;
  if (!rc && checks && !cJSON_IsArray(checks))
    rc = jr_fail(j, "checks", "expected an array");
  char where[40];
  int i = 0;
  cJSON_ArrayForEach(e, checks) {
    if (rc)
      break;
    snprintf(where, sizeof where, "checks[%d]", i++);
    j->where = where;
    struct ch_check c = {0};
    rc = rd_str(j, e, "id", &c.id);
    rc = rc ? rc : rd_str(j, e, "description", &c.description);
    rc = rc ? rc : rd_str(j, e, "section", &c.section);
    rc = rc ? rc : rd_str(j, e, "transport", &c.transport);
    rc = rc ? rc : rd_str(j, e, "evidence", &c.evidence);
    rc = rc ? rc : rd_result(j, e, &c.result);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "duration_ms");
    if (cJSON_IsNumber(d) && d->valuedouble > 0 && d->valuedouble < 1e12)
      c.duration_ns = (uint64_t)(d->valuedouble * 1e6);
    if (!rc && (!c.id || !c.description))
      rc = jr_fail(j, c.id ? "description" : "id", "missing");
    rc = rc ? rc : ch_report_add_check(r, &c);
    free(c.id), free(c.description), free(c.section), free(c.transport), free(c.evidence);
  }
  j->where = NULL;
  const cJSON *ths = cJSON_GetObjectItemCaseSensitive(root, "thresholds");
  if (!rc && ths && !cJSON_IsArray(ths))
    rc = jr_fail(j, "thresholds", "expected an array");
  i = 0;
  cJSON_ArrayForEach(e, ths) {
    if (rc)
      break;
    snprintf(where, sizeof where, "thresholds[%d]", i++);
    j->where = where;
    struct ch_threshold t = {0};
    rc = rd_str(j, e, "expression", &t.expression);
    rc = rc ? rc : rd_str(j, e, "metric", &t.metric);
    rc = rc ? rc : rd_result(j, e, &t.result);
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(e, "observed");
    t.has_observed = cJSON_IsNumber(ob);
    t.observed = t.has_observed ? ob->valuedouble : 0;
    if (!rc && !t.expression)
      rc = jr_fail(j, "expression", "missing");
    rc = rc ? rc : ch_report_add_threshold(r, &t);
    free(t.expression), free(t.metric);
  }
  j->where = NULL;
  const cJSON *cap = cJSON_GetObjectItemCaseSensitive(root, "capacity");
  if (!rc && cap && !cJSON_IsNull(cap)) {
    rc = ch__capacity_from_json(cap, &r->capacity, j->bad ? NULL : j->err);
    j->bad |= rc != 0;
  }
  const cJSON *tro = cJSON_GetObjectItemCaseSensitive(root, "triggers");
  if (!rc && tro && !cJSON_IsNull(tro)) {
    rc = ch__triggers_from_json(tro, &r->triggers, j->bad ? NULL : j->err);
    j->bad |= rc != 0;
  }
  const cJSON *rvo = cJSON_GetObjectItemCaseSensitive(root, "recovery");
  if (!rc && rvo && !cJSON_IsNull(rvo)) {
    rc = ch__recovery_from_json(rvo, &r->recovery, j->bad ? NULL : j->err);
    j->bad |= rc != 0;
  }
  const cJSON *mo = cJSON_GetObjectItemCaseSensitive(root, "metrics");
  if (!rc && !cJSON_IsObject(mo))
    rc = jr_fail(j, "metrics", "missing or not an object");
  j->where = "metrics";
  return rc ? rc : rd_metrics(j, mo, r->metrics);
}

int ch_report_parse_json(const char *text, size_t n, struct ch_report **out, struct ch_buf *err) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
  if (!root) {
    if (err) {
      size_t off = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
      ch_buf_printf(err, "not valid JSON (error near byte %zu)", off);
    }
    return -EINVAL;
  }
  struct ch_report *r;
  int rc = ch_report_new(&r);
  if (rc) {
    cJSON_Delete(root);
    return rc;
  }
  struct jr j = {err, NULL, 0};
  rc = rd_report(&j, root, r);
  cJSON_Delete(root);
  if (rc) {
    ch_report_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int ch_report_read_json(const char *path, struct ch_report **out, struct ch_buf *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    if (err)
      ch_buf_printf(err, "%s: cannot open: %s", path, strerror(e));
    return -e;
  }
  struct ch_buf b = CH_BUF_INIT;
  int rc = ch_buf_read_file(&b, f, 0);
  if (rc == -EIO) {
    if (err)
      ch_buf_printf(err, "%s: read error", path);
  }
  fclose(f);
  if (!rc) {
    struct ch_buf why = CH_BUF_INIT;
    rc = ch_report_parse_json(b.data ? b.data : "", b.len, out, &why);
    if (rc && err)
      ch_buf_printf(err, "%s: %s", path, why.data ? why.data : "out of memory");
    ch_buf_free(&why);
  }
  ch_buf_free(&b);
  return rc;
}
