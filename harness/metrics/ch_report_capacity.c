/* The capacity section of a report: construction and the knee. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report_capacity.h"
#include "ch_report_int.h"

void ch_capacity_free(struct ch_capacity *c) {
  if (!c)
    return;
  free(c->vary);
  for (size_t i = 0; i < c->n_slo; i++)
    free(c->slo[i]);
  free(c->slo);
  for (size_t i = 0; i < c->n_steps; i++)
    free(c->steps[i].broken);
  free(c->steps);
  free(c);
}

int ch_capacity_new(const char *vary, const char *const *slo, size_t n_slo, struct ch_capacity **out) {
  if (!vary || (n_slo && !slo))
    return -EINVAL;
  struct ch_capacity *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  c->last_held = c->first_broken = -1;
  c->vary = strdup(vary);
  c->slo = n_slo ? calloc(n_slo, sizeof *c->slo) : NULL;
  if (!c->vary || (n_slo && !c->slo)) {
    ch_capacity_free(c);
    return -ENOMEM;
  }
  for (; c->n_slo < n_slo; c->n_slo++) {
    if (!(c->slo[c->n_slo] = strdup(slo[c->n_slo] ? slo[c->n_slo] : ""))) {
      ch_capacity_free(c);
      return -ENOMEM;
    }
  }
  *out = c;
  return 0;
}

int ch_capacity_add_step(struct ch_capacity *c, const struct ch_capacity_step *st) {
  if (c->n_steps == c->cap_steps) {
    size_t cap = c->cap_steps ? c->cap_steps * 2 : 8;
    struct ch_capacity_step *p = realloc(c->steps, cap * sizeof *p);
    if (!p)
      return -ENOMEM;
    c->steps = p;
    c->cap_steps = cap;
  }
  struct ch_capacity_step copy = *st;
  copy.broken = NULL;
  if (!st->held && !(copy.broken = strdup(st->broken ? st->broken : "")))
    return -ENOMEM;
  long i = (long)c->n_steps;
  c->steps[c->n_steps++] = copy;
  if (c->first_broken < 0) {
    if (copy.held)
      c->last_held = i;
    else
      c->first_broken = i;
  }
  return 0;
}

void ch__capacity_observed(char *buf, size_t n, const struct ch_capacity_step *st) {
  char metric[64];
  size_t k = 0;
  const char *e = st->broken ? st->broken : "";
  while (*e == ' ')
    e++;
  while (k + 1 < sizeof metric && (isalnum((unsigned char)*e) || *e == '_' || *e == '.'))
    metric[k++] = *e++;
  metric[k] = '\0';
  ch__fmt_metric(buf, n, metric, st->observed);
}

/* ---- report.json: the "capacity" object ---- */

#define CAP_MAX_STEPS 1000 /* what `capacity` runs at most; bounds what a file can demand */
#define CAP_MAX_SLO 64
#define CAP_MAX_NUM 1e15   /* larger values are no measurement: refuse them rather than plot them */

/* A knee index, null when there is none. */
static void cw_index(struct ch__jw *w, cJSON *o, const char *k, long i) {
  if (i < 0)
    ch__jw_chk(w, cJSON_AddNullToObject(o, k));
  else
    ch__jw_num(w, o, k, (double)i);
}

static void cw_step(struct ch__jw *w, cJSON *o, const struct ch_capacity_step *s) {
  ch__jw_num(w, o, "load", s->load);
  ch__jw_num(w, o, "clients", (double)s->clients);
  ch__jw_num(w, o, "connected", s->connected);
  ch__jw_num(w, o, "deliveries_per_s", s->deliveries_per_s);
  if (s->has_latency) {
    cJSON *l = cJSON_AddObjectToObject(o, "update_latency_ms");
    ch__jw_chk(w, l);
    if (l) {
      ch__jw_num(w, l, "p50", s->p50_ms);
      ch__jw_num(w, l, "p90", s->p90_ms);
      ch__jw_num(w, l, "p99", s->p99_ms);
      ch__jw_num(w, l, "max", s->max_ms);
    }
  } else {
    ch__jw_chk(w, cJSON_AddNullToObject(o, "update_latency_ms"));
  }
  ch__jw_num(w, o, "delivery_ratio", s->delivery_ratio);
  ch__jw_num(w, o, "missing", s->missing);
  ch__jw_num(w, o, "duration_s", s->duration_s);
  ch__jw_chk(w, cJSON_AddBoolToObject(o, "held", s->held));
  ch__jw_str(w, o, "broke", s->held ? NULL : s->broken);
  if (!s->held && s->has_observed)
    ch__jw_num(w, o, "observed", s->observed);
  if (!s->target.known) {
    ch__jw_chk(w, cJSON_AddNullToObject(o, "target"));
    return;
  }
  cJSON *t = cJSON_AddObjectToObject(o, "target");
  ch__jw_chk(w, t);
  if (!t)
    return;
  const struct {
    const char *k;
    double v;
  } f[] = {{"connections", s->target.connections}, {"deliveries", s->target.deliveries},
           {"cpu_s", s->target.cpu_s},             {"rss_kib", s->target.rss_kib},
           {"processes", s->target.processes}};
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) /* a value the endpoint did not give is left out */
    if (f[i].v >= 0)
      ch__jw_num(w, t, f[i].k, f[i].v);
}

cJSON *ch__capacity_to_json(const struct ch_capacity *c) {
  struct ch__jw w = {0, CH_BUF_INIT};
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  ch__jw_str(&w, o, "vary", c->vary);
  ch__jw_num(&w, o, "start", c->start);
  ch__jw_num(&w, o, "step", c->step);
  ch__jw_num(&w, o, "max", c->max);
  ch__jw_num(&w, o, "step_duration_s", c->step_duration_s);
  ch__jw_str_array(&w, o, "slo", c->slo, c->n_slo);
  cw_index(&w, o, "last_held", c->last_held);
  cw_index(&w, o, "first_broken", c->first_broken);
  cJSON *steps = cJSON_AddArrayToObject(o, "steps");
  ch__jw_chk(&w, steps);
  for (size_t i = 0; steps && i < c->n_steps; i++) {
    cJSON *s = cJSON_CreateObject();
    if (!s || !cJSON_AddItemToArray(steps, s)) {
      cJSON_Delete(s);
      w.oom = 1;
      break;
    }
    cw_step(&w, s, &c->steps[i]);
  }
  ch_buf_free(&w.tmp);
  if (w.oom) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

struct cr {
  struct ch_buf *err;
  char where[48];
  int bad;
};

static int cr_fail(struct cr *r, const char *field, const char *what) {
  if (!r->bad && r->err)
    ch_buf_printf(r->err, "capacity%s%s%s: %s", r->where, *field ? "." : "", field, what);
  r->bad = 1;
  return -EINVAL;
}

/* A number in [lo, CAP_MAX_NUM]; absent or null leaves *dst as it is when optional. */
static int cr_num(struct cr *r, const cJSON *o, const char *k, double lo, bool optional, double *dst) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (optional && (!v || cJSON_IsNull(v)))
    return 0;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= CAP_MAX_NUM))
    return cr_fail(r, k, "expected a number in range");
  *dst = v->valuedouble;
  return 0;
}

static int cr_index(struct cr *r, const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < CAP_MAX_STEPS))
    return cr_fail(r, k, "expected a step index or null");
  return 0; /* the knee is recomputed from the steps, so it always agrees with them */
}

static int cr_step(struct cr *r, const cJSON *o, struct ch_capacity *c) {
  struct ch_capacity_step s = {0};
  double clients = 0;
  int rc = cr_num(r, o, "load", 0, false, &s.load);
  rc = rc ? rc : cr_num(r, o, "clients", 0, true, &clients);
  rc = rc ? rc : cr_num(r, o, "connected", 0, true, &s.connected);
  rc = rc ? rc : cr_num(r, o, "deliveries_per_s", 0, true, &s.deliveries_per_s);
  rc = rc ? rc : cr_num(r, o, "delivery_ratio", 0, true, &s.delivery_ratio);
  rc = rc ? rc : cr_num(r, o, "missing", 0, true, &s.missing);
  rc = rc ? rc : cr_num(r, o, "duration_s", 0, true, &s.duration_s);
  if (rc)
    return rc;
  s.clients = (uint64_t)clients;
  const cJSON *lat = cJSON_GetObjectItemCaseSensitive(o, "update_latency_ms");
  if (lat && !cJSON_IsNull(lat)) {
    if (!cJSON_IsObject(lat))
      return cr_fail(r, "update_latency_ms", "expected an object or null");
    s.has_latency = true;
    rc = cr_num(r, lat, "p50", 0, true, &s.p50_ms);
    rc = rc ? rc : cr_num(r, lat, "p90", 0, true, &s.p90_ms);
    rc = rc ? rc : cr_num(r, lat, "p99", 0, true, &s.p99_ms);
    rc = rc ? rc : cr_num(r, lat, "max", 0, true, &s.max_ms);
    if (rc)
      return rc;
  }
  const cJSON *held = cJSON_GetObjectItemCaseSensitive(o, "held");
  if (!cJSON_IsBool(held))
    return cr_fail(r, "held", "expected true or false");
  s.held = cJSON_IsTrue(held);
  const cJSON *broke = cJSON_GetObjectItemCaseSensitive(o, "broke");
  if (!s.held) {
    if (!cJSON_IsString(broke))
      return cr_fail(r, "broke", "a step that did not hold needs a string");
    s.broken = broke->valuestring;
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(o, "observed");
    s.has_observed = cJSON_IsNumber(ob) && isfinite(ob->valuedouble);
    s.observed = s.has_observed ? ob->valuedouble : 0;
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "target");
  if (t && !cJSON_IsNull(t)) {
    if (!cJSON_IsObject(t))
      return cr_fail(r, "target", "expected an object or null");
    s.target.known = true;
    s.target.connections = s.target.deliveries = s.target.cpu_s = s.target.rss_kib = s.target.processes = -1;
    rc = cr_num(r, t, "connections", 0, true, &s.target.connections);
    rc = rc ? rc : cr_num(r, t, "deliveries", 0, true, &s.target.deliveries);
    rc = rc ? rc : cr_num(r, t, "cpu_s", 0, true, &s.target.cpu_s);
    rc = rc ? rc : cr_num(r, t, "rss_kib", 0, true, &s.target.rss_kib);
    rc = rc ? rc : cr_num(r, t, "processes", 0, true, &s.target.processes);
    if (rc)
      return rc;
  }
  return ch_capacity_add_step(c, &s);
}

int ch__capacity_from_json(const cJSON *o, struct ch_capacity **out, struct ch_buf *err) {
  struct cr r = {err, "", 0};
  if (!cJSON_IsObject(o))
    return cr_fail(&r, "", "expected an object");
  const cJSON *vary = cJSON_GetObjectItemCaseSensitive(o, "vary");
  if (!cJSON_IsString(vary))
    return cr_fail(&r, "vary", "missing or not a string");
  const cJSON *slo = cJSON_GetObjectItemCaseSensitive(o, "slo"), *e;
  if (slo && !cJSON_IsArray(slo))
    return cr_fail(&r, "slo", "expected an array of strings");
  const char *exprs[CAP_MAX_SLO];
  size_t n = 0;
  cJSON_ArrayForEach(e, slo) {
    if (!cJSON_IsString(e) || n == CAP_MAX_SLO)
      return cr_fail(&r, "slo", "expected an array of at most 64 strings");
    exprs[n++] = e->valuestring;
  }
  struct ch_capacity *c;
  int rc = ch_capacity_new(vary->valuestring, exprs, n, &c);
  if (rc)
    return rc;
  rc = cr_num(&r, o, "start", 0, true, &c->start);
  rc = rc ? rc : cr_num(&r, o, "step", 0, true, &c->step);
  rc = rc ? rc : cr_num(&r, o, "max", 0, true, &c->max);
  rc = rc ? rc : cr_num(&r, o, "step_duration_s", 0, true, &c->step_duration_s);
  rc = rc ? rc : cr_index(&r, o, "last_held");
  rc = rc ? rc : cr_index(&r, o, "first_broken");
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive(o, "steps");
  if (!rc && !cJSON_IsArray(steps))
    rc = cr_fail(&r, "steps", "missing or not an array");
  int i = 0;
  const cJSON *list = rc ? NULL : steps;
  cJSON_ArrayForEach(e, list) {
    snprintf(r.where, sizeof r.where, ".steps[%d]", i);
    if (++i > CAP_MAX_STEPS) {
      rc = cr_fail(&r, "", "too many steps (at most 1000)");
      break;
    }
    rc = cJSON_IsObject(e) ? cr_step(&r, e, c) : cr_fail(&r, "", "expected an object");
    if (rc)
      break;
  }
  if (rc) {
    ch_capacity_free(c);
    return rc;
  }
  *out = c;
  return 0;
}
