/* The loader's session populations (open model: arrival rate or stages, lifetime, churn; closed model: stages of a
   count of open sessions) and the draws the runner makes from them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_scn_check.h"

#define SCN_MAX_STAGES 100u
#define SCN_MAX_SESSIONS 1000000u

static const char scn_dist_expected[] =
    "a duration such as \"5s\" or an object {\"dist\": \"fixed\"|\"uniform\"|\"exponential\"|\"lognormal\", ...}";

/* A duration string (fixed) or {"dist": ..., parameters}. */
static void scn_dist(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, uint64_t def,
                     struct ch_scn_dist *d) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  memset(d, 0, sizeof *d);
  d->a_ns = def;
  if (!v || cJSON_IsString(v) || cJSON_IsNumber(v)) {
    ch__scn_duration(c, obj, key, required, def, &d->a_ns);
    return;
  }
  size_t mark = ch__scn_push_key(c, key);
  if (!cJSON_IsObject(v)) {
    ch__scn_fail(c, v, false, scn_dist_expected);
    ch__scn_pop(c, mark);
    return;
  }
  static const char *const kinds[] = {"fixed", "uniform", "exponential", "lognormal", NULL};
  int kind = 0;
  ch__scn_enum(c, v, "dist", true, kinds, 0, &kind);
  d->kind = (enum ch_scn_dist_kind)kind;
  static const char *const k_fixed[] = {"dist", "value", NULL};
  static const char *const k_uniform[] = {"dist", "min", "max", NULL};
  static const char *const k_exp[] = {"dist", "mean", NULL};
  static const char *const k_logn[] = {"dist", "median", "sigma", NULL};
  switch (d->kind) {
  case CH_SCN_DIST_FIXED:
    ch__scn_check_keys(c, v, k_fixed);
    ch__scn_duration(c, v, "value", true, def, &d->a_ns);
    break;
  case CH_SCN_DIST_UNIFORM:
    ch__scn_check_keys(c, v, k_uniform);
    ch__scn_duration(c, v, "min", true, 0, &d->a_ns);
    ch__scn_duration(c, v, "max", true, 0, &d->b_ns);
    if (d->b_ns < d->a_ns)
      ch__scn_failf(c, v, "expected min <= max, found a min longer than the max");
    break;
  case CH_SCN_DIST_EXPONENTIAL:
    ch__scn_check_keys(c, v, k_exp);
    ch__scn_duration(c, v, "mean", true, def, &d->a_ns);
    break;
  case CH_SCN_DIST_LOGNORMAL:
    ch__scn_check_keys(c, v, k_logn);
    ch__scn_duration(c, v, "median", true, def, &d->a_ns);
    ch__scn_number(c, v, "sigma", false, 0, 5, false, 0.5, &d->sigma);
    break;
  }
  ch__scn_pop(c, mark);
}

/* A key the model does not take: "FILE: PATH.key: expected <what>, found <value>". */
static void scn_refuse(struct ch__scn_ctx *c, const cJSON *o, const char *key, const char *what) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v)
    return;
  size_t m = ch__scn_push_key(c, key);
  ch__scn_fail(c, v, false, what);
  ch__scn_pop(c, m);
}

/* Open model: targets are arrival rates; closed model: counts of sessions open at once. */
static void scn_stages(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_sessions *ss) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "stages");
  if (!a || cJSON_IsNull(a))
    return;
  const char *example =
      ss->closed ? "{\"duration\": \"20s\", \"target\": 200}" : "{\"duration\": \"20s\", \"target\": \"50/s\"}";
  char expected[120];
  size_t mark = ch__scn_push_key(c, "stages");
  size_t n = cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
  snprintf(expected, sizeof expected, "an array of 1 to 100 stages %s", example);
  if (!n || n > SCN_MAX_STAGES)
    ch__scn_fail(c, a, false, expected);
  else if (!(ss->stages = calloc(n, sizeof *ss->stages)))
    c->oom = true;
  size_t i = 0;
  for (const cJSON *it = ss->stages ? a->child : NULL; it; it = it->next, i++) {
    size_t m = ch__scn_push_index(c, i);
    struct ch_scn_stage *st = &ss->stages[ss->n_stages++];
    if (!cJSON_IsObject(it)) {
      snprintf(expected, sizeof expected, "an object %s", example);
      ch__scn_fail(c, it, false, expected);
    } else {
      static const char *const keys[] = {"duration", "target", NULL};
      ch__scn_check_keys(c, it, keys);
      ch__scn_duration(c, it, "duration", true, 0, &st->duration_ns);
      uint64_t count = 0;
      if (!ss->closed)
        ch__scn_rate(c, it, "target", true, 0, &st->target);
      else if (ch__scn_uint(c, it, "target", true, 0, SCN_MAX_SESSIONS, 0, &count))
        st->target = (double)count;
    }
    ch__scn_pop(c, m);
  }
  ch__scn_pop(c, mark);
}

/* The open model: sessions arrive at a rate ("rate", "stages" of rates), each leaves after its lifetime. */
static void scn_open(struct ch__scn_ctx *c, const cJSON *o, struct ch_population *p) {
  struct ch_scn_sessions *ss = &p->sessions;
  scn_refuse(c, o, "start", "no start in the open model (\"rate\" is the rate the first stage starts from)");
  static const char *const arrivals[] = {"constant", "poisson", NULL};
  int arr = 0;
  ch__scn_enum(c, o, "arrival", false, arrivals, 0, &arr);
  ss->arrival = (enum ch_scn_arrival)arr;
  const cJSON *stages = cJSON_GetObjectItemCaseSensitive(o, "stages");
  bool has_stages = stages && !cJSON_IsNull(stages); /* null: none (so --set can take stages away) */
  bool has_rate = cJSON_GetObjectItemCaseSensitive(o, "rate") != NULL;
  if (!has_stages && !has_rate)
    ch__scn_failf(c, o, "expected rate or stages (how fast sessions arrive), found neither");
  ch__scn_rate(c, o, "rate", false, 0, &ss->rate);
  scn_stages(c, o, ss);
  ss->has_lifetime = true;
  scn_dist(c, o, "lifetime", true, 0, &ss->lifetime);
  uint64_t n = 0;
  ch__scn_uint(c, o, "max_concurrent", true, 1, SCN_MAX_SESSIONS, 1, &n);
  p->count = (size_t)n;
}

/* The closed model (k6's ramping VUs): "stages" of a count of sessions open at once, from "start"; a session that
   ends (its lifetime, when given) is replaced while the target holds. The slots default to the highest target. */
static void scn_closed(struct ch__scn_ctx *c, const cJSON *o, struct ch_population *p) {
  struct ch_scn_sessions *ss = &p->sessions;
  scn_refuse(c, o, "arrival", "no arrival in the closed model (stages give the sessions open at once)");
  scn_refuse(c, o, "rate", "no rate in the closed model (stages give the sessions open at once, from \"start\")");
  uint64_t start = 0, n = 0;
  ch__scn_uint(c, o, "start", false, 0, SCN_MAX_SESSIONS, 0, &start);
  ss->rate = (double)start;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "stages");
  if (!st || cJSON_IsNull(st)) {
    size_t m = ch__scn_push_key(c, "stages");
    ch__scn_fail(c, st, false, "an array of stages {\"duration\": \"20s\", \"target\": 200} (required in the "
                               "closed model)");
    ch__scn_pop(c, m);
  }
  scn_stages(c, o, ss);
  double most = ss->rate;
  for (size_t i = 0; i < ss->n_stages; i++)
    most = ss->stages[i].target > most ? ss->stages[i].target : most;
  ss->has_lifetime = cJSON_GetObjectItemCaseSensitive(o, "lifetime") != NULL;
  scn_dist(c, o, "lifetime", false, 0, &ss->lifetime);
  if (ch__scn_uint(c, o, "max_concurrent", false, 1, SCN_MAX_SESSIONS, 1, &n) && (double)n < most) {
    size_t m = ch__scn_push_key(c, "max_concurrent");
    ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(o, "max_concurrent"),
                  "expected at least the highest target (%.0f), found %llu", most, (unsigned long long)n);
    ch__scn_pop(c, m);
  }
  if (!cJSON_GetObjectItemCaseSensitive(o, "max_concurrent"))
    n = most >= 1 ? (uint64_t)most : 1;
  p->count = (size_t)n;
}

void ch__scn_sessions(struct ch__scn_ctx *c, const cJSON *pop, struct ch_population *p) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(pop, "sessions");
  if (!o || cJSON_IsNull(o))
    return;
  size_t mark = ch__scn_push_key(c, "sessions");
  struct ch_scn_sessions *ss = &p->sessions;
  if (!cJSON_IsObject(o)) {
    ch__scn_fail(c, o, false, "an object {\"rate\": \"5/s\", \"lifetime\": \"10s\", \"max_concurrent\": 100}");
    ch__scn_pop(c, mark);
    return;
  }
  static const char *const keys[] = {"model",    "arrival", "rate",  "start", "stages",
                                     "lifetime", "max_concurrent", "churn", NULL};
  ch__scn_check_keys(c, o, keys);
  ss->enabled = true;
  static const char *const models[] = {"open", "closed", NULL};
  int model = 0;
  ch__scn_enum(c, o, "model", false, models, 0, &model);
  ss->closed = model == 1;
  if (ss->closed)
    scn_closed(c, o, p);
  else
    scn_open(c, o, p);
  const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "churn");
  if (ch && !cJSON_IsNull(ch)) {
    size_t m = ch__scn_push_key(c, "churn");
    if (!cJSON_IsObject(ch)) {
      ch__scn_fail(c, ch, false, "an object {\"every\": \"2s\", \"think\": \"200ms\"}");
    } else {
      static const char *const ck[] = {"every", "think", NULL};
      ch__scn_check_keys(c, ch, ck);
      ss->churn = true;
      scn_dist(c, ch, "every", true, 1000000000u, &ss->churn_every);
      scn_dist(c, ch, "think", false, 0, &ss->think);
    }
    ch__scn_pop(c, m);
  }
  ch__scn_pop(c, mark);
}

void ch__scn_sessions_free(struct ch_population *p) {
  free(p->sessions.stages);
  p->sessions.stages = NULL;
}

uint64_t ch_scn_dist_draw(const struct ch_scn_dist *d, struct ch_rng *rng) {
  double u = ch_rng_unit(rng), a = (double)d->a_ns, v = a;
  switch (d->kind) {
  case CH_SCN_DIST_FIXED:
    return d->a_ns;
  case CH_SCN_DIST_UNIFORM:
    v = a + u * (double)(d->b_ns - d->a_ns);
    break;
  case CH_SCN_DIST_EXPONENTIAL:
    v = -a * log(1.0 - u); /* u < 1 always */
    break;
  case CH_SCN_DIST_LOGNORMAL: {
    double u2 = ch_rng_unit(rng); /* Box-Muller: one standard normal draw */
    double z = sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * u2);
    v = a * exp(d->sigma * z);
    break;
  }
  }
  return v <= 0 ? 0 : v >= 1e18 ? (uint64_t)1e18 : (uint64_t)v;
}

double ch_scn_sessions_rate(const struct ch_scn_sessions *ss, uint64_t t_ns) {
  if (!ss->n_stages)
    return ss->rate;
  double from = ss->rate;
  for (size_t i = 0; i < ss->n_stages; i++) {
    const struct ch_scn_stage *st = &ss->stages[i];
    if (t_ns < st->duration_ns)
      return from + (st->target - from) * ((double)t_ns / (double)st->duration_ns);
    t_ns -= st->duration_ns;
    from = st->target;
  }
  return from; /* after the last stage: its target, until the steady phase ends */
}

const char *ch_scn_capacity_dim_name(enum ch_scn_capacity_dim d) {
  static const char *const names[CH_SCN_CAPACITY_DIMS] = {"subscribers_per_key", "keys", "trigger_rate",
                                                          "arrival_rate", "churn_rate", "concurrent_sessions"};
  return (unsigned)d < CH_SCN_CAPACITY_DIMS ? names[d] : "?";
}

/* Whether population p can be stepped along d. */
static bool cap_fits(const struct ch_population *p, enum ch_scn_capacity_dim d) {
  const struct ch_scn_sessions *ss = &p->sessions;
  switch (d) {
  case CH_SCN_CAPACITY_ARRIVAL_RATE:
    return ss->enabled && !ss->closed;
  case CH_SCN_CAPACITY_CHURN_RATE:
    return ss->enabled && ss->churn;
  case CH_SCN_CAPACITY_CONCURRENT_SESSIONS:
    return ss->enabled && ss->closed;
  case CH_SCN_CAPACITY_TRIGGER_RATE:
    return true;
  default: /* subscribers_per_key, keys: the first population's count */
    return !ss->enabled;
  }
}

static const char *cap_needs(enum ch_scn_capacity_dim d) {
  switch (d) {
  case CH_SCN_CAPACITY_ARRIVAL_RATE:
    return "a session population of the open model (sessions with an arrival rate)";
  case CH_SCN_CAPACITY_CHURN_RATE:
    return "a session population with churn";
  case CH_SCN_CAPACITY_CONCURRENT_SESSIONS:
    return "a session population of the closed model (\"model\": \"closed\")";
  default:
    return "a first population with a count (not sessions)";
  }
}

void ch__scn_capacity_population(struct ch__scn_ctx *c, const cJSON *o, struct ch_scenario *s) {
  struct ch_scn_capacity *k = &s->capacity;
  enum ch_scn_capacity_dim d = k->step_what;
  bool session_knob = d >= CH_SCN_CAPACITY_ARRIVAL_RATE;
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "clients");
  k->population = -1;
  size_t m = ch__scn_push_key(c, "clients");
  if (cl && !session_knob) {
    ch__scn_failf(c, cl, "expected no clients with vary \"%s\" (it steps the first population or the trigger), "
                         "found one", ch_scn_capacity_dim_name(d));
  } else if (cl) {
    for (size_t i = 0; cJSON_IsString(cl) && i < s->n_populations; i++)
      if (s->populations[i].name && !strcmp(s->populations[i].name, cl->valuestring))
        k->population = (int)i;
    if (k->population < 0)
      ch__scn_fail(c, cl, false, "the name of a session population");
    else if (!cap_fits(&s->populations[k->population], d))
      ch__scn_failf(c, cl, "expected %s to step \"%s\", found \"%s\"", cap_needs(d), ch_scn_capacity_dim_name(d),
                    cl->valuestring);
  }
  ch__scn_pop(c, m);
  if (cl)
    return;
  if (session_knob)
    for (size_t i = 0; i < s->n_populations && k->population < 0; i++)
      if (cap_fits(&s->populations[i], d))
        k->population = (int)i;
  bool fits = session_knob ? k->population >= 0 : !s->n_populations || cap_fits(&s->populations[0], d);
  if (!fits) {
    m = ch__scn_push_key(c, "vary");
    ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(o, "vary"), "expected %s to step \"%s\", found none",
                  cap_needs(d), ch_scn_capacity_dim_name(d));
    ch__scn_pop(c, m);
  }
}

bool ch_scenario_has_sessions(const struct ch_scenario *s) {
  for (size_t p = 0; p < s->n_populations; p++)
    if (s->populations[p].sessions.enabled)
      return true;
  return false;
}
