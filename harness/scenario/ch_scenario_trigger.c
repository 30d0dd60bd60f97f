/* The scenario's "trigger": one object, or an array of them (one per backend route, e.g. one per hub), each with its
   own rate, arrival, count, keys and request, scoped by "clients" (populations) or "hub". Also the trigger files of
   `check --trigger FILE`, read by the same parser (ch_scn_trigger_file_parse), including check's older request form
   {"url": ..., "hub": ..., "timeout_ms": ..., "correlation": ...}. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_scn_check.h"

static const char *const trig_hubs[] = {"ResourceEventHub", "JobEventHub", NULL};

static bool trig_header_name_ok(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!(((*s | 32) >= 'a' && (*s | 32) <= 'z') || (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
      return false;
  return true;
}

static struct ch_template *trig_template(struct ch__scn_ctx *c, const cJSON *v, const char *src,
                                         enum ch_template_escape esc) {
  struct ch_template *t = NULL;
  struct ch_buf e = CH_BUF_INIT;
  int rc = ch_template_compile(src, esc, &t, &e);
  if (rc == -ENOMEM)
    c->oom = true;
  else if (rc)
    ch__scn_failf(c, v, "%s", e.data ? e.data : "expected a valid template");
  ch_buf_free(&e);
  return t;
}

/* The URL must name its host literally ({{env.NAME}} counts: it is known now); echoed without its query. */
static void trig_url(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_http_trigger *h) {
  char *url = NULL;
  if (!ch__scn_string(c, o, "url", true, NULL, &url) || !url)
    return;
  size_t mark = ch__scn_push_key(c, "url");
  const cJSON *uv = cJSON_GetObjectItemCaseSensitive(o, "url");
  struct ch_template *t = trig_template(c, uv, url, CH_TEMPLATE_URL);
  struct ch_buf r = CH_BUF_INIT;
  struct ch_template_vars none = {0};
  if (t && ch_template_render(t, &none, &r))
    c->oom = true;
  const char *u = r.data ? r.data : "";
  const char *host = strncmp(u, "http://", 7) == 0 ? u + 7 : strncmp(u, "https://", 8) == 0 ? u + 8 : NULL;
  if (t && (!host || !*host || *host == '/')) {
    size_t shown = strcspn(url, "?"); /* the query may hold an API key: not echoed */
    ch__scn_failf(c, uv, "expected an absolute http:// or https:// URL with a literal host (placeholders after "
                         "it), found \"%.*s%s\"",
                  (int)(shown > 200 ? 200 : shown), url, url[shown] ? "?..." : "");
    ch_template_free(t);
    t = NULL;
  }
  h->url = t;
  ch_buf_free(&r);
  ch__scn_pop(c, mark);
  free(url);
}

static void trig_headers(struct ch__scn_ctx *c, const cJSON *hs, struct ch_scn_http_trigger *h) {
  size_t mark = ch__scn_push_key(c, "headers");
  if (!cJSON_IsObject(hs)) {
    ch__scn_fail(c, hs, false, "an object of header names to string values");
    ch__scn_pop(c, mark);
    return;
  }
  size_t n = (size_t)cJSON_GetArraySize(hs);
  h->headers = calloc(n ? n : 1, sizeof *h->headers);
  if (!h->headers)
    c->oom = true;
  for (const cJSON *it = hs->child; it && h->headers; it = it->next) {
    size_t m2 = ch__scn_push_key(c, it->string);
    if (!trig_header_name_ok(it->string))
      ch__scn_failf(c, it, "expected a header name (letters, digits, '-'), found \"%.60s\"", it->string);
    else if (!cJSON_IsString(it) || strpbrk(it->valuestring, "\r\n"))
      ch__scn_fail(c, it, true, "a header value: a string on one line");
    else {
      struct ch_scn_http_header *hd = &h->headers[h->n_headers];
      hd->name = ch__scn_strdup(c, it->string);
      hd->value = trig_template(c, it, it->valuestring, CH_TEMPLATE_RAW);
      if (hd->name && hd->value)
        h->n_headers++;
      else {
        free(hd->name);
        ch_template_free(hd->value);
        hd->name = NULL, hd->value = NULL;
      }
    }
    ch__scn_pop(c, m2);
  }
  ch__scn_pop(c, mark);
}

/* The request: the "http" object of a trigger, or (legacy) a whole element of check's request form. */
static void trig_http(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_http_trigger *h, bool legacy) {
  static const char *const keys[] = {"method", "url", "headers", "body", "timeout", "expect_status", NULL};
  static const char *const legacy_keys[] = {"hub",           "method",     "url",         "body", "headers",
                                            "expect_status", "timeout_ms", "correlation", NULL};
  ch__scn_check_keys(c, o, legacy ? legacy_keys : keys);
  static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
  int m;
  ch__scn_enum(c, o, "method", false, methods, 1, &m);
  h->method = ch__scn_strdup(c, methods[m]);
  trig_url(c, o, h);
  const cJSON *hs = cJSON_GetObjectItemCaseSensitive(o, "headers");
  if (hs)
    trig_headers(c, hs, h);
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body");
  if (body && !cJSON_IsNull(body)) {
    size_t mark = ch__scn_push_key(c, "body");
    if (cJSON_IsString(body)) {
      h->body = trig_template(c, body, body->valuestring, CH_TEMPLATE_RAW);
    } else if (cJSON_IsObject(body) || cJSON_IsArray(body)) {
      /* JSON bodies: placeholders sit inside JSON strings, so their values are JSON-escaped */
      char *text = cJSON_PrintUnformatted(body);
      if (!text)
        c->oom = true;
      else
        h->body = trig_template(c, body, text, CH_TEMPLATE_JSON);
      free(text);
    } else {
      ch__scn_fail(c, body, false, "a string, a JSON object or array, or null");
    }
    ch__scn_pop(c, mark);
  }
  if (legacy) {
    uint64_t ms;
    ch__scn_uint(c, o, "timeout_ms", false, 1, 3600000, 10000, &ms);
    h->timeout_ns = ms * 1000000u;
  } else {
    ch__scn_duration(c, o, "timeout", false, 10000000000ull, &h->timeout_ns);
  }
  h->expect_status_min = 200, h->expect_status_max = 299;
  const cJSON *es = cJSON_GetObjectItemCaseSensitive(o, "expect_status");
  if (es) {
    size_t mark = ch__scn_push_key(c, "expect_status");
    const cJSON *lo = cJSON_IsArray(es) && cJSON_GetArraySize(es) == 2 ? es->child : es;
    const cJSON *hi = cJSON_IsArray(es) && cJSON_GetArraySize(es) == 2 ? es->child->next : es;
    if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi) && lo->valuedouble >= 100 && hi->valuedouble <= 599 &&
        lo->valuedouble <= hi->valuedouble && lo->valuedouble == (int)lo->valuedouble &&
        hi->valuedouble == (int)hi->valuedouble)
      h->expect_status_min = (int)lo->valuedouble, h->expect_status_max = (int)hi->valuedouble;
    else
      ch__scn_fail(c, es, false, "an HTTP status (100-599) or a range [low, high]");
    ch__scn_pop(c, mark);
  }
}

/* A non-empty array's strings (each non-empty, else reported as `what`) into a new vector. */
static void trig_strings(struct ch__scn_ctx *c, const cJSON *a, char ***out, size_t *n, const char *what) {
  if (!(*out = calloc((size_t)cJSON_GetArraySize(a), sizeof **out))) {
    c->oom = true;
    return;
  }
  size_t i = 0;
  for (const cJSON *it = a->child; it; it = it->next, i++) {
    size_t m = ch__scn_push_index(c, i);
    if (cJSON_IsString(it) && *it->valuestring)
      (*out)[(*n)++] = ch__scn_strdup(c, it->valuestring);
    else
      ch__scn_fail(c, it, false, what);
    ch__scn_pop(c, m);
  }
}

static void trig_keys(struct ch__scn_ctx *c, const cJSON *k, struct ch_scn_trigger *t) {
  size_t m2 = ch__scn_push_key(c, "keys");
  if (cJSON_IsString(k) && !strcmp(k->valuestring, "subscribed")) {
    t->keys_subscribed = true;
  } else if (cJSON_IsArray(k) && cJSON_GetArraySize(k) > 0) {
    t->keys_subscribed = false;
    trig_strings(c, k, &t->keys, &t->n_keys, "a non-empty key string");
  } else {
    ch__scn_fail(c, k, false, "\"subscribed\" or a non-empty array of keys");
  }
  ch__scn_pop(c, m2);
}

/* "clients": a population name or a list of them (resolved once the populations are read); "hub": one hub. */
static void trig_scope(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_trigger *t, bool file) {
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "clients");
  const cJSON *hb = cJSON_GetObjectItemCaseSensitive(o, "hub");
  if (hb && !cJSON_IsNull(hb)) {
    int hub;
    t->has_hub = ch__scn_enum(c, o, "hub", false, trig_hubs, 0, &hub);
    t->hub = (enum ch_scn_hub)hub;
  }
  if (!cl || cJSON_IsNull(cl))
    return;
  size_t mark = ch__scn_push_key(c, "clients");
  if (file) {
    ch__scn_fail(c, cl, false, "\"hub\" here: \"clients\" names a scenario's populations (give the scenario with "
                               "--scenario FILE instead)");
  } else if (t->has_hub) {
    ch__scn_failf(c, cl, "expected \"clients\" or \"hub\", found both (the populations' hubs are used)");
  } else if (cJSON_IsString(cl) && *cl->valuestring) {
    if ((t->pop_names = calloc(1, sizeof *t->pop_names)) == NULL)
      c->oom = true;
    else
      t->pop_names[t->n_pop_names++] = ch__scn_strdup(c, cl->valuestring);
  } else if (cJSON_IsArray(cl) && cJSON_GetArraySize(cl) > 0) {
    trig_strings(c, cl, &t->pop_names, &t->n_pop_names, "a population name");
  } else {
    ch__scn_fail(c, cl, false, "a population name or a non-empty array of population names");
  }
  ch__scn_pop(c, mark);
}

/* One trigger object. index < 0: the object form ("trigger"); else element `index` of the array. */
static void trig_one(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_trigger *t, enum ch_scn_trigger_type def,
                     long index, bool file) {
  t->keys_subscribed = true;
  t->rate = 10;
  t->event_type = 1;
  t->type = def;
  char label[96];
  snprintf(label, sizeof label, index < 0 ? "trigger" : "trigger[%ld]", index);
  if (!cJSON_IsObject(o)) {
    t->label = ch__scn_strdup(c, label);
    ch__scn_fail(c, o, false, "an object with type, rate, count, keys, payload, http (and clients or hub)");
    return;
  }
  static const char *const keys[] = {"type",  "rate", "arrival", "count",   "keys", "payload",
                                     "event_type", "http", "clients", "hub", NULL};
  ch__scn_check_keys(c, o, keys);
  static const char *const types[] = {"none", "reference", "http", NULL};
  int type;
  ch__scn_enum(c, o, "type", false, types, (int)t->type, &type);
  t->type = (enum ch_scn_trigger_type)type;
  ch__scn_rate(c, o, "rate", false, 10, &t->rate);
  static const char *const arrivals[] = {"constant", "poisson", NULL};
  int arr;
  ch__scn_enum(c, o, "arrival", false, arrivals, 0, &arr);
  t->arrival = (enum ch_scn_arrival)arr;
  ch__scn_uint(c, o, "count", false, 0, 1ull << 40, 0, &t->count);
  uint64_t ev;
  ch__scn_uint(c, o, "event_type", false, 0, 7, 1, &ev);
  t->event_type = (int)ev;
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "keys");
  if (k)
    trig_keys(c, k, t);
  trig_scope(c, o, t, file);
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "payload");
  if (p) {
    size_t m2 = ch__scn_push_key(c, "payload");
    if (!cJSON_IsObject(p))
      ch__scn_fail(c, p, false, "an object of fields merged into the Update model");
    else if (t->type != CH_SCN_TRIGGER_REFERENCE)
      ch__scn_failf(c, p, "expected no payload: it is only used with trigger type \"reference\"");
    else if (!(t->payload_json = cJSON_PrintUnformatted(p)))
      c->oom = true;
    ch__scn_pop(c, m2);
  }
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "http");
  size_t m2 = ch__scn_push_key(c, "http");
  if (t->type == CH_SCN_TRIGGER_HTTP) {
    if (!h)
      ch__scn_fail(c, NULL, false, "an object describing the HTTP request (trigger type \"http\")");
    else if (!cJSON_IsObject(h))
      ch__scn_fail(c, h, false, "an object with method, url, headers, body");
    else
      trig_http(c, h, &t->http, false);
  } else if (h) {
    ch__scn_failf(c, h, "expected no http object: it is only used with trigger type \"http\"");
  }
  ch__scn_pop(c, m2);
  /* the label names the scope, so a report's per-trigger lines say which route each is */
  size_t n = strlen(label);
  if (t->has_hub)
    snprintf(label + n, sizeof label - n, " (%s)", ch_scn_hub_name(t->hub));
  else if (t->n_pop_names)
    snprintf(label + n, sizeof label - n, " (%.60s%s)", t->pop_names[0], t->n_pop_names > 1 ? ", ..." : "");
  t->label = ch__scn_strdup(c, label);
}

void ch__scn_triggers(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "trigger");
  enum ch_scn_trigger_type def = s->target.url ? CH_SCN_TRIGGER_NONE : CH_SCN_TRIGGER_REFERENCE;
  size_t n = cJSON_IsArray(o) ? (size_t)cJSON_GetArraySize(o) : 1;
  size_t mark = ch__scn_push_key(c, "trigger");
  if (cJSON_IsArray(o) && (n == 0 || n > CH_SCN_TRIGGERS_MAX)) {
    ch__scn_failf(c, o, "expected an array of 1 to %d triggers, found %zu", CH_SCN_TRIGGERS_MAX, n);
    n = 1, o = NULL;
  }
  s->triggers = calloc(n, sizeof *s->triggers);
  if (!s->triggers) {
    c->oom = true;
    ch__scn_pop(c, mark);
    return;
  }
  if (cJSON_IsArray(o)) {
    s->trigger_array = true;
    size_t i = 0;
    for (const cJSON *it = o->child; it; it = it->next, i++) {
      size_t m = ch__scn_push_index(c, i);
      trig_one(c, it, &s->triggers[s->n_triggers++], def, (long)i, false);
      ch__scn_pop(c, m);
    }
  } else if (o && !cJSON_IsNull(o)) {
    trig_one(c, o, &s->triggers[s->n_triggers++], def, -1, false);
  } else {
    struct ch_scn_trigger *t = &s->triggers[s->n_triggers++];
    t->keys_subscribed = true, t->rate = 10, t->event_type = 1, t->type = def;
    t->label = ch__scn_strdup(c, "trigger");
  }
  ch__scn_pop(c, mark);
}

bool ch_scenario_has_trigger_type(const struct ch_scenario *s, enum ch_scn_trigger_type type) {
  for (size_t i = 0; i < s->n_triggers; i++)
    if (s->triggers[i].type == type)
      return true;
  return false;
}

bool ch_scenario_triggers_on(const struct ch_scenario *s) {
  for (size_t i = 0; i < s->n_triggers; i++)
    if (s->triggers[i].type != CH_SCN_TRIGGER_NONE)
      return true;
  return false;
}

bool ch_scenario_trigger_reaches(const struct ch_scn_trigger *t, const struct ch_population *p, size_t pop_index) {
  if (t->has_hub)
    return p->hub == t->hub;
  if (!t->n_pops)
    return true;
  for (size_t i = 0; i < t->n_pops; i++)
    if (t->pops[i] == pop_index)
      return true;
  return false;
}

/* ------------------------------------------------------------------------------------------------- after the populations */

static int trig_strcmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The keys trigger t may drive: its list, or the key universes of the populations it reaches (sorted, unique). */
static const char **trig_key_set(const struct ch_scenario *s, const struct ch_scn_trigger *t, size_t *n) {
  size_t total = t->keys_subscribed ? 0 : t->n_keys;
  for (size_t p = 0; t->keys_subscribed && p < s->n_populations; p++)
    if (ch_scenario_trigger_reaches(t, &s->populations[p], p))
      total += s->populations[p].subscribe.n_keys;
  const char **v = malloc((total ? total : 1) * sizeof *v);
  *n = 0;
  if (!v)
    return NULL;
  if (!t->keys_subscribed)
    for (size_t k = 0; k < t->n_keys; k++)
      v[(*n)++] = t->keys[k];
  for (size_t p = 0; t->keys_subscribed && p < s->n_populations; p++)
    if (ch_scenario_trigger_reaches(t, &s->populations[p], p))
      for (size_t k = 0; k < s->populations[p].subscribe.n_keys; k++)
        v[(*n)++] = s->populations[p].subscribe.keys[k];
  qsort(v, *n, sizeof *v, trig_strcmp);
  size_t u = 0;
  for (size_t i = 0; i < *n; i++)
    if (!u || strcmp(v[u - 1], v[i]))
      v[u++] = v[i];
  *n = u;
  return v;
}

/* The first key two sorted sets share, or NULL. */
static const char *trig_common(const char **a, size_t na, const char **b, size_t nb) {
  for (size_t i = 0, j = 0; i < na && j < nb;) {
    int d = strcmp(a[i], b[j]);
    if (!d)
      return a[i];
    d < 0 ? i++ : j++;
  }
  return NULL;
}

static void trig_resolve_clients(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  const char *names[65];
  size_t np = 0;
  for (size_t p = 0; p < s->n_populations && np < 64; p++)
    names[np++] = s->populations[p].name;
  names[np] = NULL;
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "trigger");
  for (size_t i = 0; i < s->n_triggers; i++) {
    struct ch_scn_trigger *t = &s->triggers[i];
    if (!t->n_pop_names)
      continue;
    if (!(t->pops = calloc(t->n_pop_names, sizeof *t->pops))) {
      c->oom = true;
      return;
    }
    const cJSON *el = s->trigger_array ? cJSON_GetArrayItem(o, (int)i) : o;
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(el, "clients");
    size_t m = ch__scn_push_key(c, "trigger");
    size_t m1 = s->trigger_array ? ch__scn_push_index(c, i) : m;
    ch__scn_push_key(c, "clients");
    for (size_t k = 0; k < t->n_pop_names; k++) {
      size_t p = 0;
      while (p < np && strcmp(names[p], t->pop_names[k]))
        p++;
      if (p < np) {
        t->pops[t->n_pops++] = p;
        continue;
      }
      const char *near = ch__scn_suggest(t->pop_names[k], names);
      ch__scn_failf(c, cl, "expected the name of a client population, found \"%.63s\"%s%s%s", t->pop_names[k],
                    near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
    }
    ch__scn_pop(c, m1);
    ch__scn_pop(c, m);
  }
}

/* A population that subscribes with valid credentials but whose keys no trigger drives would measure nothing: say
   so, unless it is marked passive. Only for scoped triggers (an array, or "clients"/"hub"): the object form keeps
   its meaning, where a population on keys no trigger names is an isolation witness. */
static void trig_reached(struct ch__scn_ctx *c, const cJSON *root, const struct ch_scenario *s,
                         const char ***sets, const size_t *nsets) {
  const cJSON *pops = cJSON_GetObjectItemCaseSensitive(root, "clients");
  for (size_t p = 0; p < s->n_populations; p++) {
    const struct ch_population *pop = &s->populations[p];
    if (pop->passive || !pop->subscribe.n_keys || pop->credentials != CH_SCN_CRED_VALID)
      continue;
    bool reached = false;
    const char **mine = malloc(pop->subscribe.n_keys * sizeof *mine);
    if (!mine) {
      c->oom = true;
      return;
    }
    memcpy(mine, pop->subscribe.keys, pop->subscribe.n_keys * sizeof *mine);
    qsort(mine, pop->subscribe.n_keys, sizeof *mine, trig_strcmp);
    for (size_t t = 0; t < s->n_triggers && !reached; t++)
      reached = s->triggers[t].type != CH_SCN_TRIGGER_NONE &&
                trig_common(sets[t], nsets[t], mine, pop->subscribe.n_keys) != NULL;
    free(mine);
    if (reached)
      continue;
    size_t m = ch__scn_push_key(c, "clients");
    size_t m1 = ch__scn_push_index(c, p);
    ch__scn_failf(c, cJSON_GetArrayItem(pops, (int)p),
                  "population \"%s\" subscribes to keys that no trigger drives, so its delivery would not be "
                  "measured: add a trigger with \"clients\": \"%s\" (or \"hub\": \"%s\"), or mark it \"passive\": "
                  "true",
                  pop->name, pop->name, pop->hub_name);
    ch__scn_pop(c, m1);
    ch__scn_pop(c, m);
  }
}

void ch__scn_triggers_scope(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  if (!s->triggers)
    return;
  trig_resolve_clients(c, root, s);
  bool scoped = s->trigger_array;
  for (size_t i = 0; i < s->n_triggers; i++)
    scoped |= s->triggers[i].has_hub || s->triggers[i].n_pops;
  if (!scoped || c->n_errors || !ch_scenario_triggers_on(s))
    return;
  const char **sets[CH_SCN_TRIGGERS_MAX] = {0};
  size_t nsets[CH_SCN_TRIGGERS_MAX] = {0};
  for (size_t i = 0; i < s->n_triggers; i++)
    if (!(sets[i] = trig_key_set(s, &s->triggers[i], &nsets[i])))
      c->oom = true;
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "trigger");
  /* each key's Updates are numbered per key and judged against one trigger's plan: two triggers on one key would
     interleave their numbers */
  for (size_t j = 1; !c->oom && j < s->n_triggers; j++)
    for (size_t i = 0; i < j; i++) {
      if (s->triggers[i].type == CH_SCN_TRIGGER_NONE || s->triggers[j].type == CH_SCN_TRIGGER_NONE)
        continue;
      const char *k = trig_common(sets[i], nsets[i], sets[j], nsets[j]);
      if (!k)
        continue;
      size_t m = ch__scn_push_key(c, "trigger");
      ch__scn_push_index(c, j);
      ch__scn_failf(c, cJSON_GetArrayItem(o, (int)j),
                    "expected keys no other trigger drives, found \"%.63s\" driven by trigger[%zu] too (each key's "
                    "Updates are numbered and judged per trigger: narrow this one's keys, clients or hub)",
                    k, i);
      ch__scn_pop(c, m);
      break;
    }
  if (!c->oom)
    trig_reached(c, root, s, sets, nsets);
  for (size_t i = 0; i < s->n_triggers; i++)
    free(sets[i]);
  if (s->capacity.enabled && s->capacity.step_what == CH_SCN_CAPACITY_TRIGGER_RATE && s->n_triggers > 1) {
    size_t m = ch__scn_push_key(c, "capacity");
    ch__scn_push_key(c, "vary");
    ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "capacity"), "vary"),
                  "expected a single trigger to step \"trigger_rate\", found %zu", s->n_triggers);
    ch__scn_pop(c, m);
  }
}

/* ------------------------------------------------------------------------------------------------- check's files */

static void trig_legacy_correlation(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_correlation *k) {
  const cJSON *co = cJSON_GetObjectItemCaseSensitive(o, "correlation");
  if (!co || cJSON_IsNull(co))
    return;
  size_t m = ch__scn_push_key(c, "correlation");
  if (!cJSON_IsObject(co)) {
    ch__scn_fail(c, co, false, "an object of JSON Pointers (nonce, sequence, key)");
  } else {
    static const char *const keys[] = {"nonce", "sequence", "key", NULL};
    ch__scn_check_keys(c, co, keys);
    char *v = NULL;
    /* the first correlation given applies to every request */
    if (ch__scn_pointer(c, co, "nonce", NULL, &v) && !k->nonce)
      k->nonce = v, v = NULL;
    free(v), v = NULL;
    if (ch__scn_pointer(c, co, "sequence", NULL, &v) && !k->sequence)
      k->sequence = v, v = NULL;
    free(v), v = NULL;
    if (ch__scn_pointer(c, co, "key", NULL, &v) && !k->key)
      k->key = v, v = NULL;
    free(v);
  }
  ch__scn_pop(c, m);
}

/* check's request form: the request's own keys at the top ("url" or "method"), no "type" or "http". */
static bool trig_is_legacy(const cJSON *o) {
  return cJSON_IsObject(o) && !cJSON_GetObjectItemCaseSensitive(o, "type") &&
         !cJSON_GetObjectItemCaseSensitive(o, "http") &&
         (cJSON_GetObjectItemCaseSensitive(o, "url") || cJSON_GetObjectItemCaseSensitive(o, "method"));
}

static void trig_file_element(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_trigger_file *f, long index,
                              bool embedded) {
  struct ch_scn_trigger *t = &f->triggers[f->n++];
  if (!trig_is_legacy(o)) {
    trig_one(c, o, t, embedded ? CH_SCN_TRIGGER_REFERENCE : CH_SCN_TRIGGER_HTTP, index, true);
    return;
  }
  t->keys_subscribed = true, t->rate = 10, t->event_type = 1;
  t->type = CH_SCN_TRIGGER_HTTP;
  t->legacy = true;
  trig_http(c, o, &t->http, true);
  if (cJSON_GetObjectItemCaseSensitive(o, "hub")) {
    int hub;
    t->has_hub = ch__scn_enum(c, o, "hub", false, trig_hubs, 0, &hub);
    t->hub = (enum ch_scn_hub)hub;
  }
  trig_legacy_correlation(c, o, &f->correlation);
  char label[64];
  snprintf(label, sizeof label, index < 0 ? "trigger" : "trigger[%ld]", index);
  t->label = ch__scn_strdup(c, label);
}

int ch_scn_trigger_file_parse(const char *json, size_t len, const char *name, bool embedded,
                              struct ch_scn_trigger_file *out, struct ch_buf *err) {
  memset(out, 0, sizeof *out);
  struct ch__scn_ctx c = {.file = name, .dir = ".", .err = err};
  if (ch_buf_puts(&c.path, "$"))
    return -ENOMEM;
  if (len >= 3 && !memcmp(json, "\xEF\xBB\xBF", 3))
    json += 3, len -= 3;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
  size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : len;
  while (root && off < len && json[off] && strchr(" \t\r\n", json[off]))
    off++;
  if (!root || off < len)
    ch__scn_syntax_error(&c, json, len, off);
  size_t n = cJSON_IsArray(root) ? (size_t)cJSON_GetArraySize(root) : 1;
  if (root && !c.n_errors && cJSON_IsArray(root) && (n == 0 || n > CH_SCN_TRIGGERS_MAX))
    ch__scn_failf(&c, root, "expected an array of 1 to %d triggers, found %zu", CH_SCN_TRIGGERS_MAX, n);
  if (root && !c.n_errors && !(out->triggers = calloc(n, sizeof *out->triggers)))
    c.oom = true;
  if (out->triggers && cJSON_IsArray(root)) {
    size_t i = 0, unnamed = 0;
    for (const cJSON *it = root->child; it; it = it->next, i++) {
      size_t m = ch__scn_push_index(&c, i);
      /* check's request form: several requests are one per hub (an unnamed one is the main hub's) */
      unnamed += trig_is_legacy(it) && !cJSON_GetObjectItemCaseSensitive(it, "hub");
      if (unnamed > 1 && trig_is_legacy(it) && !cJSON_GetObjectItemCaseSensitive(it, "hub"))
        ch__scn_failf(&c, it, "request %zu of the array: expected \"hub\" (ResourceEventHub or JobEventHub): with "
                              "several requests, each but one names the hub whose Updates it causes",
                      i + 1);
      trig_file_element(&c, it, out, (long)i, embedded);
      ch__scn_pop(&c, m);
    }
  } else if (out->triggers) {
    trig_file_element(&c, root, out, -1, embedded);
  }
  cJSON_Delete(root);
  ch_buf_free(&c.path);
  if (c.oom || c.n_errors) {
    ch_scn_trigger_file_free(out);
    return c.oom ? -ENOMEM : -EINVAL;
  }
  return 0;
}

void ch_scn_trigger_clear(struct ch_scn_trigger *g) {
  for (size_t i = 0; i < g->n_keys; i++)
    free(g->keys[i]);
  free(g->keys);
  free(g->payload_json);
  free(g->http.method);
  ch_template_free(g->http.url);
  ch_template_free(g->http.body);
  for (size_t i = 0; i < g->http.n_headers; i++) {
    free(g->http.headers[i].name);
    ch_template_free(g->http.headers[i].value);
  }
  free(g->http.headers);
  for (size_t i = 0; i < g->n_pop_names; i++)
    free(g->pop_names[i]);
  free(g->pop_names);
  free(g->pops);
  free(g->label);
  memset(g, 0, sizeof *g);
}

void ch_scn_trigger_file_free(struct ch_scn_trigger_file *f) {
  for (size_t i = 0; i < f->n; i++)
    ch_scn_trigger_clear(&f->triggers[i]);
  free(f->triggers);
  free(f->correlation.key);
  free(f->correlation.sequence);
  free(f->correlation.nonce);
  free(f->correlation.server_time_us);
  memset(f, 0, sizeof *f);
}
