/* The scenario loader: file, syntax, overrides, then the top-level sections (target, trigger, correlation,
   expect, thresholds, capacity). Populations and phases are in ch_scenario_clients.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_scn_check.h"

#define SCN_FILE_MAX (16u << 20) /* a scenario is a page of JSON; anything this big is a mistake */

/* ------------------------------------------------------------------------------------------------- names */

static const char *const scn_transport_names[] = {"webSockets", "serverSentEvents", "longPolling", NULL};
const char *const ch__scn_phase_names[] = {"connect", "subscribe",      "hold",           "trigger",
                                              "unsubscribe", "verify_silence", "drop_reconnect", "disconnect",
                                              "drop",        "steady",
                                              NULL};

const char *ch_scn_transport_name(enum ch_scn_transport t) {
  return (unsigned)t < CH_SCN_TRANSPORT_COUNT ? scn_transport_names[t] : "?";
}
const char *ch_scn_phase_type_name(enum ch_scn_phase_type t) {
  return (unsigned)t < CH_SCN_PHASE_TYPE_COUNT ? ch__scn_phase_names[t] : "?";
}
const char *ch_scn_hub_name(enum ch_scn_hub h) { return h == CH_SCN_HUB_JOB ? "JobEventHub" : "ResourceEventHub"; }
const char *ch_scn_hub_subscribe_method(enum ch_scn_hub h) {
  return h == CH_SCN_HUB_JOB ? "SubscribeToPipeline" : "SubscribeToPart";
}
const char *ch_scn_hub_unsubscribe_method(enum ch_scn_hub h) {
  return h == CH_SCN_HUB_JOB ? "UnsubscribeFromPipeline" : "UnsubscribeFromPart";
}

/* ------------------------------------------------------------------------------------------------- target */

static void scn_auth(struct ch__scn_ctx *c, const cJSON *t, struct ch_scn_auth *a) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(t, "auth");
  size_t mark = ch__scn_push_key(c, "auth");
  a->scheme = ch__scn_strdup(c, "Bearer");
  a->query_param = ch__scn_strdup(c, "access_token");
  if (o && !cJSON_IsObject(o) && !cJSON_IsNull(o))
    ch__scn_fail(c, o, false, "an object with mode, scheme, token / token_env / token_file / login / command, "
                              "query_param");
  if (!cJSON_IsObject(o)) {
    ch__scn_pop(c, mark);
    return;
  }
  static const char *const keys[] = {"mode",        "scheme", "token",   "token_env", "token_file",
                                     "query_param", "login",  "command", NULL};
  ch__scn_check_keys(c, o, keys);
  int sources = ch__scn_auth_fetchers(c, o, a);
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(o, "token");
  if (tok) {
    size_t m2 = ch__scn_push_key(c, "token");
    if (cJSON_IsString(tok) && *tok->valuestring) {
      a->token = ch__scn_strdup(c, tok->valuestring);
      a->source = CH_SCN_TOKEN_LITERAL;
      sources++;
    } else if (!cJSON_IsNull(tok)) {
      ch__scn_fail(c, tok, true, "a non-empty string (prefer token_env or token_file: files get shared)");
    }
    ch__scn_pop(c, m2);
  }
  if (ch__scn_string(c, o, "token_env", false, NULL, &a->token_env)) {
    a->source = CH_SCN_TOKEN_ENV;
    sources++;
  }
  if (ch__scn_file(c, o, "token_file", &a->token_file)) {
    a->source = CH_SCN_TOKEN_FILE;
    sources++;
  } else if (cJSON_GetObjectItemCaseSensitive(o, "token_file") &&
             !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "token_file"))) {
    sources++; /* reported already; still counts against "only one source" being confusing twice */
  }
  if (sources > 1)
    ch__scn_failf(c, o, "expected at most one of token, token_env, token_file, login and command, found %d", sources);
  static const char *const modes[] = {"none", "header", "query", NULL};
  int mode;
  if (!ch__scn_enum(c, o, "mode", false, modes, sources ? CH_SCN_AUTH_HEADER : CH_SCN_AUTH_NONE, &mode) ||
      mode != CH_SCN_AUTH_NONE || !sources) {
    a->mode = (enum ch_scn_auth_mode)mode;
  } else {
    a->mode = CH_SCN_AUTH_NONE;
    ch__scn_failf(c, o, "expected no token source with mode \"none\", found one (remove it or set mode)");
  }
  free(a->scheme);
  ch__scn_string(c, o, "scheme", false, "Bearer", &a->scheme);
  free(a->query_param);
  if (ch__scn_string(c, o, "query_param", false, "access_token", &a->query_param) && a->query_param &&
      (!*a->query_param || strpbrk(a->query_param, "&=?# "))) {
    size_t m2 = ch__scn_push_key(c, "query_param");
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(o, "query_param"), true,
                 "a query parameter name without '&', '=', '?', '#' or spaces");
    ch__scn_pop(c, m2);
  }
  if (a->scheme && strpbrk(a->scheme, " \r\n\t")) {
    size_t m2 = ch__scn_push_key(c, "scheme");
    /* "Bearer abc..." here is a token in the wrong place: never echo it */
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(o, "scheme"), true,
                 "a scheme word such as \"Bearer\" (the token goes in token, token_env or token_file)");
    ch__scn_pop(c, m2);
  }
  ch__scn_pop(c, mark);
}

static void scn_target(struct ch__scn_ctx *c, const cJSON *root, struct ch_scn_target *t) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "target");
  size_t mark = ch__scn_push_key(c, "target");
  if (o && !cJSON_IsObject(o) && !cJSON_IsNull(o))
    ch__scn_fail(c, o, false, "an object (or null for the embedded reference endpoint)");
  if (!cJSON_IsObject(o)) {
    ch__scn_pop(c, mark);
    scn_auth(c, NULL, &t->auth);
    return;
  }
  static const char *const keys[] = {"url", "insecure", "ca_file", "tls", "auth", "bad_tokens", NULL};
  ch__scn_check_keys(c, o, keys);
  if (ch__scn_string(c, o, "url", false, NULL, &t->url) && t->url) {
    struct ch_buf e = CH_BUF_INIT;
    const char *q = strpbrk(t->url, "?#");
    if (q) {
      /* a query string may carry a credential (access_token=...): say so without echoing it */
      size_t m2 = ch__scn_push_key(c, "url");
      ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(o, "url"),
                    "expected a base URL without query string or fragment (credentials go in target.auth), found "
                    "\"%.*s%c...\"",
                    (int)(q - t->url > 200 ? 200 : q - t->url), t->url, *q);
      ch__scn_pop(c, m2);
      free(t->url);
      t->url = NULL;
    } else if (ch_url_parse(t->url, &t->parsed, &e)) {
      size_t m2 = ch__scn_push_key(c, "url");
      /* ch_url_parse's message already says "expected ..., found ..." (and redacts credentials) */
      ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(o, "url"), "%s", e.data ? e.data : "expected a URL");
      ch__scn_pop(c, m2);
      free(t->url);
      t->url = NULL;
    }
    ch_buf_free(&e);
  }
  ch__scn_bool(c, o, "insecure", false, &t->insecure);
  ch__scn_file(c, o, "ca_file", &t->ca_file);
  const cJSON *tls = cJSON_GetObjectItemCaseSensitive(o, "tls");
  if (tls) {
    size_t m2 = ch__scn_push_key(c, "tls");
    if (!cJSON_IsObject(tls)) {
      ch__scn_fail(c, tls, true, "an object");
    } else {
      static const char *const tkeys[] = {"ca_file", "cert_file", "key_file", "insecure", "server_name", NULL};
      ch__scn_check_keys(c, tls, tkeys);
      if (cJSON_GetObjectItemCaseSensitive(tls, "insecure"))
        ch__scn_bool(c, tls, "insecure", false, &t->insecure);
      if (cJSON_GetObjectItemCaseSensitive(tls, "ca_file")) {
        free(t->ca_file);
        ch__scn_file(c, tls, "ca_file", &t->ca_file);
      }
      ch__scn_file(c, tls, "cert_file", &t->cert_file);
      ch__scn_file(c, tls, "key_file", &t->key_file);
      ch__scn_string(c, tls, "server_name", false, NULL, &t->server_name);
      if (t->key_file && !t->cert_file) {
        size_t m3 = ch__scn_push_key(c, "key_file");
        ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(tls, "key_file"),
                      "expected cert_file beside key_file (the certificate the key belongs to), found none");
        ch__scn_pop(c, m3);
      }
    }
    ch__scn_pop(c, m2);
  }
  scn_auth(c, o, &t->auth);
  if ((t->auth.source == CH_SCN_TOKEN_LOGIN || t->auth.source == CH_SCN_TOKEN_COMMAND) &&
      !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "url")))
    ch__scn_failf(c, o, "expected a url with auth.%s (the embedded reference endpoint accepts only the tokens it "
                        "makes), found none", t->auth.source == CH_SCN_TOKEN_LOGIN ? "login" : "command");
  const cJSON *bad = cJSON_GetObjectItemCaseSensitive(o, "bad_tokens");
  if (bad) {
    size_t m2 = ch__scn_push_key(c, "bad_tokens");
    if (!cJSON_IsArray(bad)) {
      ch__scn_fail(c, bad, true, "an array of token strings");
    } else {
      size_t n = (size_t)cJSON_GetArraySize(bad), i = 0;
      t->bad_tokens = calloc(n ? n : 1, sizeof *t->bad_tokens);
      if (!t->bad_tokens)
        c->oom = true;
      for (const cJSON *it = bad->child; it && t->bad_tokens; it = it->next, i++) {
        size_t m3 = ch__scn_push_index(c, i);
        if (cJSON_IsString(it) && *it->valuestring)
          t->bad_tokens[t->n_bad_tokens++] = ch__scn_strdup(c, it->valuestring);
        else
          ch__scn_fail(c, it, true, "a non-empty token string");
        ch__scn_pop(c, m3);
      }
    }
    ch__scn_pop(c, m2);
  }
  ch__scn_pop(c, mark);
}

/* ------------------------------------------------------------------------------------------------- correlation */

static void scn_correlation(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  struct ch_scn_correlation *k = &s->correlation;
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "correlation");
  size_t mark = ch__scn_push_key(c, "correlation");
  bool ref = ch_scenario_has_trigger_type(s, CH_SCN_TRIGGER_REFERENCE);
  if (o && !cJSON_IsObject(o))
    ch__scn_fail(c, o, false, "an object with key, sequence, nonce, server_time_us (JSON Pointers)");
  const cJSON *obj = cJSON_IsObject(o) ? o : NULL;
  if (obj) {
    static const char *const keys[] = {"key", "sequence", "nonce", "server_time_us", NULL};
    ch__scn_check_keys(c, obj, keys);
  }
  ch__scn_pointer(c, obj, "key", NULL, &k->key);
  ch__scn_pointer(c, obj, "sequence", ref ? "/HarnessSeq" : NULL, &k->sequence);
  ch__scn_pointer(c, obj, "nonce", NULL, &k->nonce);
  ch__scn_pointer(c, obj, "server_time_us", ref ? "/HarnessSentUs" : NULL, &k->server_time_us);
  for (size_t t = 0; t < s->n_triggers; t++) {
    const struct ch_scn_http_trigger *h = &s->triggers[t].http;
    if (s->triggers[t].type != CH_SCN_TRIGGER_HTTP || !h->url)
      continue;
    bool uses_nonce = false, uses_seq = false;
    const struct ch_template *parts[2] = {h->url, h->body};
    for (size_t i = 0; i < 2; i++)
      if (parts[i])
        uses_nonce |= ch_template_uses(parts[i], "nonce"), uses_seq |= ch_template_uses(parts[i], "seq");
    for (size_t i = 0; i < h->n_headers; i++)
      uses_nonce |= ch_template_uses(h->headers[i].value, "nonce"),
          uses_seq |= ch_template_uses(h->headers[i].value, "seq");
    char which[32];
    snprintf(which, sizeof which, s->trigger_array ? "trigger[%zu]" : "trigger", t);
    if (k->nonce && !uses_nonce)
      ch__scn_failf(c, o, "expected %s.http to send {{nonce}} since correlation.nonce is set, found no "
                          "{{nonce}} in its url, headers or body", which);
    if (k->sequence && !uses_seq && !k->nonce)
      ch__scn_failf(c, o, "expected %s.http to send {{seq}} since correlation.sequence is set, found no "
                          "{{seq}} in its url, headers or body", which);
  }
  ch__scn_pop(c, mark);
}

/* ------------------------------------------------------------------------------------------------- expect */

static void scn_expect(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  struct ch_scn_expect *e = &s->expect;
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "expect");
  size_t mark = ch__scn_push_key(c, "expect");
  if (o && !cJSON_IsObject(o))
    ch__scn_fail(c, o, false, "an object with delivery, in_order, deadline, unsubscribe_grace, isolation");
  const cJSON *obj = cJSON_IsObject(o) ? o : NULL;
  if (obj) {
    static const char *const keys[] = {"delivery",  "in_order",  "deadline",           "unsubscribe_grace",
                                       "isolation", "rejection", "allow_server_closes", NULL};
    ch__scn_check_keys(c, obj, keys);
  }
  static const char *const deliveries[] = {"exactly_once", "at_least_once", "any", NULL};
  int d;
  ch__scn_enum(c, obj, "delivery", false, deliveries, 0, &d);
  e->delivery = (enum ch_scn_delivery)d;
  ch__scn_bool(c, obj, "in_order", true, &e->in_order);
  ch__scn_duration(c, obj, "deadline", false, 5000000000ull, &e->deadline_ns);
  ch__scn_duration(c, obj, "unsubscribe_grace", false, 1000000000ull, &e->unsubscribe_grace_ns);
  ch__scn_bool(c, obj, "isolation", true, &e->isolation);
  ch__scn_bool(c, obj, "rejection", true, &e->rejection);
  ch__scn_bool(c, obj, "allow_server_closes", false, &e->allow_server_closes);
  if (e->deadline_ns == 0) {
    size_t m2 = ch__scn_push_key(c, "deadline");
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(obj, "deadline"), false, "a deadline longer than 0");
    ch__scn_pop(c, m2);
  }
  const struct ch_scn_correlation *k = &s->correlation;
  if (e->delivery != CH_SCN_DELIVERY_ANY && ch_scenario_triggers_on(s) && !k->sequence && !k->nonce)
    ch__scn_failf(c, obj, "expected correlation.sequence or correlation.nonce to check delivery (or delivery "
                          "\"any\"), found neither");
  ch__scn_pop(c, mark);
}

/* ------------------------------------------------------------------------------------------------- thresholds */

/* {"threshold": "METRIC OP VALUE", "abort_on_fail": true, "delay_abort_eval": "10s"} (k6's object form). */
static void scn_threshold_object(struct ch__scn_ctx *c, const cJSON *it, struct ch_scn_threshold *t, size_t *n_out) {
  static const char *const keys[] = {"threshold", "abort_on_fail", "delay_abort_eval", NULL};
  ch__scn_check_keys(c, it, keys);
  char *expr = NULL;
  bool abort_on_fail = false;
  uint64_t delay = 0;
  ch__scn_string(c, it, "threshold", true, NULL, &expr);
  ch__scn_bool(c, it, "abort_on_fail", false, &abort_on_fail);
  ch__scn_duration(c, it, "delay_abort_eval", false, 0, &delay);
  if (expr) {
    struct ch_buf e = CH_BUF_INIT;
    size_t mark = ch__scn_push_key(c, "threshold");
    int rc = ch_scn_threshold_parse(expr, t, &e);
    if (rc == -ENOMEM)
      c->oom = true;
    else if (rc)
      ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(it, "threshold"), "%s", e.data ? e.data : "expected a threshold");
    ch__scn_pop(c, mark);
    if (!rc) {
      t->abort_on_fail = abort_on_fail;
      t->delay_abort_eval_ns = delay;
      (*n_out)++;
      size_t m2 = ch__scn_push_key(c, "abort_on_fail");
      if (abort_on_fail && !ch_scn_threshold_live(t))
        ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(it, "abort_on_fail"),
                      "%s is only known once the run is judged, so abort_on_fail cannot stop a run on it (use a "
                      "metric measured as the run goes, e.g. update_latency.p99, connect_errors, updates_duplicate)",
                      t->metric);
      ch__scn_pop(c, m2);
    }
    ch_buf_free(&e);
  }
  free(expr);
}

static struct ch_scn_threshold *scn_thresholds(struct ch__scn_ctx *c, const cJSON *obj, const char *key,
                                               size_t *n_out) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
  *n_out = 0;
  if (!a)
    return NULL;
  size_t mark = ch__scn_push_key(c, key);
  struct ch_scn_threshold *ts = NULL;
  if (!cJSON_IsArray(a)) {
    ch__scn_fail(c, a, false, "an array of threshold strings such as \"update_latency.p99 < 250ms\"");
  } else {
    ts = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof *ts);
    if (!ts)
      c->oom = true;
    size_t i = 0;
    for (const cJSON *it = a->child; it && ts; it = it->next, i++) {
      size_t m2 = ch__scn_push_index(c, i);
      if (cJSON_IsObject(it) && !strcmp(key, "thresholds")) {
        scn_threshold_object(c, it, &ts[*n_out], n_out);
      } else if (!cJSON_IsString(it)) {
        ch__scn_fail(c, it, false,
                     !strcmp(key, "thresholds")
                         ? "a threshold string such as \"update_latency.p99 < 250ms\" or an object "
                           "{\"threshold\": \"...\", \"abort_on_fail\": true}"
                         : "a threshold string such as \"update_latency.p99 < 250ms\"");
      } else {
        struct ch_buf e = CH_BUF_INIT;
        int rc = ch_scn_threshold_parse(it->valuestring, &ts[*n_out], &e);
        if (rc == -ENOMEM)
          c->oom = true;
        else if (rc)
          ch__scn_failf(c, it, "%s", e.data ? e.data : "expected a threshold");
        else
          (*n_out)++;
        ch_buf_free(&e);
      }
      ch__scn_pop(c, m2);
    }
  }
  ch__scn_pop(c, mark);
  return ts;
}

static void scn_capacity(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  struct ch_scn_capacity *k = &s->capacity;
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "capacity");
  if (!o || cJSON_IsNull(o))
    return;
  size_t mark = ch__scn_push_key(c, "capacity");
  if (!cJSON_IsObject(o)) {
    ch__scn_fail(c, o, false, "an object with vary, start, step, max, step_duration, slo");
    ch__scn_pop(c, mark);
    return;
  }
  k->enabled = true;
  static const char *const keys[] = {"vary", "clients", "start", "step", "max", "step_duration", "slo", NULL};
  ch__scn_check_keys(c, o, keys);
  const char *dims[CH_SCN_CAPACITY_DIMS + 1] = {NULL};
  for (int i = 0; i < CH_SCN_CAPACITY_DIMS; i++)
    dims[i] = ch_scn_capacity_dim_name((enum ch_scn_capacity_dim)i);
  int d;
  ch__scn_enum(c, o, "vary", true, dims, 0, &d);
  k->step_what = (enum ch_scn_capacity_dim)d;
  ch__scn_capacity_population(c, o, s);
  ch__scn_number(c, o, "start", true, 0, 1e9, true, 1, &k->start);
  ch__scn_number(c, o, "step", true, 0, 1e9, true, 1, &k->step);
  if (ch__scn_number(c, o, "max", true, 0, 1e9, true, 1, &k->max) && k->max < k->start) {
    size_t m2 = ch__scn_push_key(c, "max");
    ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(o, "max"), "expected max >= start (%g), found %g", k->start,
                  k->max);
    ch__scn_pop(c, m2);
  }
  ch__scn_duration(c, o, "step_duration", true, 0, &k->step_duration_ns);
  k->slo = scn_thresholds(c, o, "slo", &k->n_slo);
  if (!cJSON_GetObjectItemCaseSensitive(o, "slo")) {
    size_t m2 = ch__scn_push_key(c, "slo");
    ch__scn_fail(c, NULL, false, "an array of SLO thresholds that end the search (this key is required)");
    ch__scn_pop(c, m2);
  }
  ch__scn_pop(c, mark);
}

/* ------------------------------------------------------------------------------------------------- root */

static char *scn_default_name(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  size_t n = strlen(b);
  if (n > 5 && !strcmp(b + n - 5, ".json"))
    n -= 5;
  return strndup(b, n);
}

static void scn_root(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  if (!cJSON_IsObject(root)) {
    ch__scn_fail(c, root, false, "a JSON object at the top level");
    return;
  }
  static const char *const keys[] = {"$schema", "name",   "description", "seed",       "workers",     "processes",
                                     "target",  "clients", "phases",     "trigger",    "correlation", "expect",
                                     "thresholds", "capacity", "compare", NULL};
  ch__scn_check_keys(c, root, keys);
  char *schema = NULL;
  ch__scn_string(c, root, "$schema", false, NULL, &schema);
  free(schema);
  if (ch__scn_string(c, root, "name", false, NULL, &s->name) && s->name && !*s->name) {
    size_t m = ch__scn_push_key(c, "name");
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(root, "name"), false, "a non-empty name");
    ch__scn_pop(c, m);
  }
  if (!s->name && !(s->name = scn_default_name(s->path)))
    c->oom = true;
  ch__scn_string(c, root, "description", false, "", &s->description);
  ch__scn_uint(c, root, "seed", false, 0, 1ull << 53, 1, &s->seed);
  uint64_t v;
  ch__scn_uint(c, root, "workers", false, 0, 256, 0, &v);
  s->workers = (unsigned)v;
  ch__scn_uint(c, root, "processes", false, 1, 64, 1, &v);
  s->processes = (unsigned)v;
  scn_target(c, root, &s->target);
  /* trigger before correlation (defaults depend on its type), populations after correlation (key pointers) */
  ch__scn_triggers(c, root, s);
  scn_correlation(c, root, s);
  ch__scn_populations(c, root, s);
  ch__scn_phases(c, root, s);
  ch__scn_compare(c, root, s);
  scn_expect(c, root, s);
  s->thresholds = scn_thresholds(c, root, "thresholds", &s->n_thresholds);
  scn_capacity(c, root, s);
  ch__scn_triggers_scope(c, root, s);
  if (s->triggers)
    s->trigger = s->triggers[0];
}

/* ------------------------------------------------------------------------------------------------- entry points */

static int scn_load(const char *json, size_t len, const char *path, const char *const *sets, size_t nsets,
                    struct ch_scenario **out, struct ch_buf *err) {
  *out = NULL;
  struct ch_scenario *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->path = strdup(path);
  const char *slash = strrchr(path, '/');
  s->dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
  if (!s->path || !s->dir) {
    ch_scenario_free(s);
    return -ENOMEM;
  }
  struct ch__scn_ctx c = {.file = path, .dir = s->dir, .err = err};
  if (ch_buf_puts(&c.path, "$")) {
    ch_scenario_free(s);
    return -ENOMEM;
  }
  /* Windows editors often start UTF-8 files with a byte order mark; JSON parsers do not expect one */
  if (len >= 3 && !memcmp(json, "\xEF\xBB\xBF", 3))
    json += 3, len -= 3;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
  if (!root) {
    size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : len;
    ch__scn_syntax_error(&c, json, len, off);
  } else {
    /* anything but whitespace after the value is an error too (cJSON would stop silently) */
    size_t off = end ? (size_t)(end - json) : len;
    size_t at = off;
    while (at < len && (json[at] == ' ' || json[at] == '\t' || json[at] == '\n' || json[at] == '\r'))
      at++;
    if (at < len)
      ch__scn_syntax_error(&c, json, len, at);
  }
  if (root && !c.n_errors) {
    ch__scn_apply_sets(&c, root, sets, nsets);
    scn_root(&c, root, s);
  }
  cJSON_Delete(root);
  for (size_t i = 0; i < c.n_set_nodes; i++)
    free(c.set_nodes[i].path);
  free(c.set_nodes);
  ch_buf_free(&c.path);
  if (c.oom) {
    ch_scenario_free(s);
    return -ENOMEM;
  }
  if (c.n_errors) {
    ch_scenario_free(s);
    return -EINVAL;
  }
  *out = s;
  return 0;
}

int ch_scenario_from_json_string(const char *json, size_t len, const char *name, const char *const *sets,
                                 size_t nsets, struct ch_scenario **out, struct ch_buf *err) {
  return scn_load(json, len, name ? name : "<string>", sets, nsets, out, err);
}

int ch_scenario_load(const char *path, const char *const *sets, size_t nsets, struct ch_scenario **out,
                     struct ch_buf *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  int e = f ? 0 : errno;
  char shipped[4096] = "";
  if (e == ENOENT && ch_scenario_find(path, shipped, sizeof shipped) == 0) {
    f = fopen(shipped, "rb"); /* an installed harness run outside the source tree */
    e = f ? 0 : errno;
    path = shipped;
  }
  if (!f) {
    if (err)
      ch_buf_printf(err, "%s: cannot open the scenario file: %s%s%s%s\n", path, strerror(e),
                    path != shipped && shipped[0] ? " (nor found in " : "", path != shipped ? shipped : "",
                    path != shipped && shipped[0] ? ")" : "");
    return e == ENOENT ? -ENOENT : -EINVAL;
  }
  struct ch_buf data = CH_BUF_INIT;
  int rc = ch_buf_read_file(&data, f, SCN_FILE_MAX);
  if (rc == -EFBIG && err)
    ch_buf_printf(err, "%s: expected a scenario file under %u MiB, found a larger file\n", path, SCN_FILE_MAX >> 20);
  else if (rc == -EIO && err)
    ch_buf_printf(err, "%s: cannot read the scenario file\n", path);
  if (rc == -EFBIG || rc == -EIO)
    rc = -EINVAL;
  fclose(f);
  if (!rc)
    rc = scn_load(data.data ? data.data : "", data.len, path, sets, nsets, out, err);
  ch_buf_free(&data);
  return rc;
}

static void scn_free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void ch_scenario_free(struct ch_scenario *s) {
  if (!s)
    return;
  free(s->path);
  free(s->dir);
  free(s->name);
  free(s->description);
  struct ch_scn_target *t = &s->target;
  if (t->url)
    ch_url_free(&t->parsed);
  free(t->url);
  free(t->ca_file);
  free(t->cert_file);
  free(t->key_file);
  free(t->server_name);
  free(t->auth.scheme);
  free(t->auth.query_param);
  if (t->auth.token) /* a credential: wipe before freeing */
    memset(t->auth.token, 0, strlen(t->auth.token));
  free(t->auth.token);
  free(t->auth.token_env);
  free(t->auth.token_file);
  ch__scn_auth_fetchers_free(&t->auth);
  for (size_t i = 0; i < t->n_bad_tokens; i++)
    if (t->bad_tokens[i])
      memset(t->bad_tokens[i], 0, strlen(t->bad_tokens[i]));
  scn_free_strv(t->bad_tokens, t->n_bad_tokens);
  for (size_t i = 0; i < s->n_populations; i++)
    ch__scn_population_free(&s->populations[i]);
  free(s->populations);
  for (size_t i = 0; i < s->n_phases; i++) {
    free(s->phases[i].name);
    free(s->phases[i].url);
  }
  free(s->phases);
  for (size_t i = 0; i < s->n_triggers; i++)
    ch_scn_trigger_clear(&s->triggers[i]);
  free(s->triggers);
  free(s->correlation.key);
  free(s->correlation.sequence);
  free(s->correlation.nonce);
  free(s->correlation.server_time_us);
  for (size_t i = 0; i < s->n_thresholds; i++)
    ch_scn_threshold_clear(&s->thresholds[i]);
  free(s->thresholds);
  for (size_t i = 0; i < s->capacity.n_slo; i++)
    ch_scn_threshold_clear(&s->capacity.slo[i]);
  free(s->capacity.slo);
  free(s->compare_gates);
  free(s);
}
