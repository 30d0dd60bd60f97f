/* ch_scenario_to_json: the effective scenario (defaults filled in) in the file format, credentials redacted; and the
   form stored beside a report, which leaves credentials out altogether. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "ch_report.h"
#include "ch_scenario.h"

#define SJ_REDACTED "[REDACTED]"

/* Exact, so that the output loads back to the same value: the largest unit that divides ns. */
static const char *sj_duration(uint64_t ns, char *buf, size_t n) {
  static const struct {
    const char *unit;
    uint64_t ns;
  } u[] = {{"h", 3600000000000ull}, {"m", 60000000000ull}, {"s", 1000000000ull}, {"ms", 1000000ull}, {"us", 1000ull}};
  for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
    if (ns && ns % u[i].ns == 0) {
      snprintf(buf, n, "%llu%s", (unsigned long long)(ns / u[i].ns), u[i].unit);
      return buf;
    }
  snprintf(buf, n, ns ? "%lluns" : "0s", (unsigned long long)ns);
  return buf;
}

/* Every add below may fail on memory; the tree is checked once at the end through this flag. */
struct sj {
  bool oom;
  bool stored; /* the form stored beside a report (ch_scenario_to_json_stored) */
};

static cJSON *sj_check(struct sj *j, cJSON *v) {
  if (!v)
    j->oom = true;
  return v;
}

static void sj_str(struct sj *j, cJSON *o, const char *k, const char *v) {
  sj_check(j, v ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k));
}
static void sj_num(struct sj *j, cJSON *o, const char *k, double v) { sj_check(j, cJSON_AddNumberToObject(o, k, v)); }
static void sj_bool(struct sj *j, cJSON *o, const char *k, bool v) { sj_check(j, cJSON_AddBoolToObject(o, k, v)); }
static void sj_dur(struct sj *j, cJSON *o, const char *k, uint64_t ns) {
  char buf[40];
  sj_str(j, o, k, sj_duration(ns, buf, sizeof buf));
}
static cJSON *sj_obj(struct sj *j, cJSON *o, const char *k) { return sj_check(j, cJSON_AddObjectToObject(o, k)); }
static cJSON *sj_arr(struct sj *j, cJSON *o, const char *k) { return sj_check(j, cJSON_AddArrayToObject(o, k)); }
static void sj_push_str(struct sj *j, cJSON *a, const char *v) {
  cJSON *s = sj_check(j, cJSON_CreateString(v));
  if (s && !cJSON_AddItemToArray(a, s)) {
    cJSON_Delete(s);
    j->oom = true;
  }
}

/* A URL without userinfo and with credential-like query values redacted (both forms: `validate --print` too). */
static void sj_url(struct sj *j, cJSON *o, const char *k, const char *url) {
  if (!url) {
    sj_str(j, o, k, url);
    return;
  }
  struct ch_buf b = CH_BUF_INIT;
  if (ch_report_redact_url(url, &b))
    j->oom = true;
  else
    sj_str(j, o, k, b.data ? b.data : "");
  ch_buf_free(&b);
}

/* The value of a header that carries a credential is redacted (both forms), unless it is only a placeholder. */
static bool sj_placeholder(const char *value) {
  size_t n = strlen(value);
  return n >= 4 && !strncmp(value, "{{", 2) && strchr(value, '}') == value + n - 2 && value[n - 1] == '}';
}

static const char *sj_header_value(const char *name, const char *value) {
  bool placeholder = sj_placeholder(value);
  bool secret = ch_report_secret_name(name, strlen(name)) || !strcasecmp(name, "cookie");
  return secret && !placeholder ? SJ_REDACTED : value;
}

/* A login body's literal credentials (a client secret written into the scenario) are redacted, placeholders kept:
   secret-named members of a JSON body, secret-named fields of a form body. */
static void sj_redact_json_secrets(cJSON *o) {
  for (cJSON *it = o ? o->child : NULL; it; it = it->next) {
    if (cJSON_IsString(it) && it->string && ch_report_secret_name(it->string, strlen(it->string)) &&
        !sj_placeholder(it->valuestring))
      cJSON_SetValuestring(it, SJ_REDACTED);
    else if (cJSON_IsObject(it) || cJSON_IsArray(it))
      sj_redact_json_secrets(it);
  }
}

static void sj_login_body(struct sj *j, cJSON *o, const struct ch_scn_login *l) {
  if (!l->body)
    return;
  if (l->body_json) {
    cJSON *b = cJSON_Parse(l->body);
    sj_redact_json_secrets(b);
    if (!b || !cJSON_AddItemToObject(o, "body", b)) {
      cJSON_Delete(b);
      j->oom = true;
    }
    return;
  }
  struct ch_buf out = CH_BUF_INIT;
  for (const char *p = l->body; *p;) {
    size_t n = strcspn(p, "&"), k = strcspn(p, "=");
    if (k < n && ch_report_secret_name(p, k)) {
      char v[256];
      snprintf(v, sizeof v, "%.*s", (int)(n - k - 1 < 255 ? n - k - 1 : 255), p + k + 1);
      ch_buf_printf(&out, "%.*s=%s", (int)k, p, sj_placeholder(v) ? v : SJ_REDACTED);
    } else {
      ch_buf_append(&out, p, n);
    }
    p += n;
    if (*p)
      ch_buf_putc(&out, *p++);
  }
  sj_str(j, o, "body", out.data ? out.data : "");
  ch_buf_free(&out);
}

/* login and command: the request template and the lifetime settings (no credential is part of either). */
static void sj_fetcher(struct sj *j, cJSON *a, const struct ch_scn_auth *au) {
  cJSON *o;
  if (au->source == CH_SCN_TOKEN_LOGIN && (o = sj_obj(j, a, "login"))) {
    const struct ch_scn_login *l = &au->login;
    sj_str(j, o, "method", l->method);
    sj_url(j, o, "url", l->url);
    cJSON *hs = sj_obj(j, o, "headers");
    for (size_t i = 0; hs && i < l->n_headers; i++)
      sj_str(j, hs, l->header_names[i], sj_header_value(l->header_names[i], l->header_values[i]));
    sj_login_body(j, o, l);
    char *abs = j->stored && l->users_file ? realpath(l->users_file, NULL) : NULL;
    if (l->users_file)
      sj_str(j, o, "users_file", abs ? abs : l->users_file);
    free(abs);
    if (l->users_env)
      sj_str(j, o, "users_env", l->users_env);
    sj_str(j, o, "token_pointer", l->token_pointer);
    sj_str(j, o, "expires_in_pointer", l->expires_in_pointer);
    sj_num(j, o, "rate", l->rate);
    sj_dur(j, o, "timeout", l->timeout_ns);
  } else if (au->source == CH_SCN_TOKEN_COMMAND && (o = sj_obj(j, a, "command"))) {
    cJSON *argv = sj_arr(j, o, "argv");
    for (size_t i = 0; argv && i < au->command.argc; i++)
      sj_push_str(j, argv, au->command.argv[i]);
    sj_dur(j, o, "timeout", au->command.timeout_ns);
  } else {
    return;
  }
  if (o && au->ttl_ns)
    sj_dur(j, o, "ttl", au->ttl_ns);
  if (o) {
    sj_num(j, o, "refresh_at", au->refresh_at);
    sj_num(j, o, "refresh_jitter", au->refresh_jitter);
  }
}

static void sj_target(struct sj *j, cJSON *root, const struct ch_scenario *s) {
  const struct ch_scn_target *t = &s->target;
  cJSON *o = sj_obj(j, root, "target");
  if (!o)
    return;
  sj_url(j, o, "url", t->url);
  sj_bool(j, o, "insecure", t->insecure);
  char *abs = j->stored && t->ca_file ? realpath(t->ca_file, NULL) : NULL;
  if (t->ca_file) /* absolute when stored: the copy lives in another folder than the original */
    sj_str(j, o, "ca_file", abs ? abs : t->ca_file);
  free(abs);
  if (t->cert_file || t->server_name) {
    cJSON *tl = sj_obj(j, o, "tls");
    char *ac = j->stored && t->cert_file ? realpath(t->cert_file, NULL) : NULL;
    char *ak = j->stored && t->key_file ? realpath(t->key_file, NULL) : NULL;
    if (tl && t->cert_file)
      sj_str(j, tl, "cert_file", ac ? ac : t->cert_file);
    if (tl && t->key_file)
      sj_str(j, tl, "key_file", ak ? ak : t->key_file);
    if (tl && t->server_name)
      sj_str(j, tl, "server_name", t->server_name);
    free(ac);
    free(ak);
  }
  cJSON *a = sj_obj(j, o, "auth");
  if (a) {
    static const char *const modes[] = {"none", "header", "query"};
    sj_str(j, a, "mode", modes[t->auth.mode]);
    sj_str(j, a, "scheme", t->auth.scheme);
    sj_str(j, a, "query_param", t->auth.query_param);
    /* Stored: no credential and no path to one; a re-run is given its own with --token, --token-env or
       --token-file (token_env names a variable, not a credential, so it stays). */
    if (t->auth.source == CH_SCN_TOKEN_LITERAL && !j->stored)
      sj_str(j, a, "token", SJ_REDACTED);
    else if (t->auth.source == CH_SCN_TOKEN_ENV)
      sj_str(j, a, "token_env", t->auth.token_env);
    else if (t->auth.source == CH_SCN_TOKEN_FILE && !j->stored)
      sj_str(j, a, "token_file", t->auth.token_file);
    else
      sj_fetcher(j, a, &t->auth);
  }
  cJSON *b = sj_arr(j, o, "bad_tokens");
  for (size_t i = 0; b && i < t->n_bad_tokens; i++)
    sj_push_str(j, b, SJ_REDACTED);
}

static void sj_subscribe(struct sj *j, cJSON *o, const struct ch_scn_subscribe *sub) {
  static const char *const picks[] = {"all", "round_robin", "uniform", "zipf"};
  if (!sub->n_keys)
    return;
  cJSON *so = sj_obj(j, o, "subscribe");
  if (!so)
    return;
  if (sub->generated && sub->is_range) {
    cJSON *r = sj_obj(j, so, "range");
    if (r) {
      sj_str(j, r, "prefix", sub->prefix);
      sj_num(j, r, "from", (double)sub->from);
      sj_num(j, r, "to", (double)(sub->from + sub->n_keys - 1));
    }
  } else if (sub->generated) {
    sj_num(j, so, "key_count", (double)sub->n_keys);
    sj_str(j, so, "prefix", sub->prefix);
  } else {
    cJSON *k = sj_arr(j, so, "keys");
    for (size_t i = 0; k && i < sub->n_keys; i++)
      sj_push_str(j, k, sub->keys[i]);
  }
  sj_str(j, so, "generator", picks[sub->pick]);
  if (sub->pick != CH_SCN_PICK_ALL)
    sj_num(j, so, "per_client", (double)sub->per_client);
  if (sub->pick == CH_SCN_PICK_ZIPF)
    sj_num(j, so, "zipf_s", sub->zipf_s);
}

static void sj_dist(struct sj *j, cJSON *o, const char *k, const struct ch_scn_dist *d) {
  static const char *const kinds[] = {"fixed", "uniform", "exponential", "lognormal"};
  cJSON *x = sj_obj(j, o, k);
  if (!x)
    return;
  sj_str(j, x, "dist", kinds[d->kind]);
  switch (d->kind) {
  case CH_SCN_DIST_FIXED:
    sj_dur(j, x, "value", d->a_ns);
    break;
  case CH_SCN_DIST_UNIFORM:
    sj_dur(j, x, "min", d->a_ns);
    sj_dur(j, x, "max", d->b_ns);
    break;
  case CH_SCN_DIST_EXPONENTIAL:
    sj_dur(j, x, "mean", d->a_ns);
    break;
  case CH_SCN_DIST_LOGNORMAL:
    sj_dur(j, x, "median", d->a_ns);
    sj_num(j, x, "sigma", d->sigma);
    break;
  }
}

static void sj_sessions(struct sj *j, cJSON *o, const struct ch_population *p) {
  const struct ch_scn_sessions *ss = &p->sessions;
  cJSON *x = sj_obj(j, o, "sessions");
  if (!x)
    return;
  if (ss->closed) {
    sj_str(j, x, "model", "closed");
    sj_num(j, x, "start", ss->rate);
  } else {
    sj_str(j, x, "arrival", ss->arrival == CH_SCN_ARRIVAL_POISSON ? "poisson" : "constant");
  }
  if (!ss->closed && (ss->rate > 0 || !ss->n_stages))
    sj_num(j, x, "rate", ss->rate);
  if (ss->n_stages) {
    cJSON *a = sj_arr(j, x, "stages");
    for (size_t i = 0; a && i < ss->n_stages; i++) {
      cJSON *st = cJSON_CreateObject();
      if (!st || !cJSON_AddItemToArray(a, st)) {
        cJSON_Delete(st);
        sj_check(j, NULL);
        break;
      }
      sj_dur(j, st, "duration", ss->stages[i].duration_ns);
      sj_num(j, st, "target", ss->stages[i].target);
    }
  }
  if (ss->has_lifetime)
    sj_dist(j, x, "lifetime", &ss->lifetime);
  sj_num(j, x, "max_concurrent", (double)p->count);
  if (ss->churn) {
    cJSON *c = sj_obj(j, x, "churn");
    if (c) {
      sj_dist(j, c, "every", &ss->churn_every);
      sj_dist(j, c, "think", &ss->think);
    }
  }
}

static void sj_population(struct sj *j, cJSON *o, const struct ch_population *p) {
  static const char *const creds[] = {"valid", "bad", "none"};
  sj_str(j, o, "name", p->name);
  if (p->sessions.enabled)
    sj_sessions(j, o, p);
  else
    sj_num(j, o, "count", (double)p->count);
  sj_str(j, o, "hub", p->hub_name);
  bool default_auto = p->transport_auto && p->n_transports == CH_SCN_TRANSPORT_COUNT;
  for (size_t i = 0; default_auto && i < p->n_transports; i++)
    default_auto = p->transports[i] == (enum ch_scn_transport)i;
  if (default_auto) {
    sj_str(j, o, "transport", "auto");
  } else if (p->transport_auto) {
    cJSON *a = sj_arr(j, o, "transport");
    for (size_t i = 0; a && i < p->n_transports; i++)
      sj_push_str(j, a, ch_scn_transport_name(p->transports[i]));
  } else {
    sj_str(j, o, "transport", ch_scn_transport_name(p->transports[0]));
  }
  sj_str(j, o, "client_protocol", p->client_protocol);
  if (p->ramp.rate > 0 || p->ramp.duration_ns) {
    cJSON *r = sj_obj(j, o, "ramp");
    if (r && p->ramp.rate > 0)
      sj_num(j, r, "rate", p->ramp.rate);
    else if (r)
      sj_dur(j, r, "duration", p->ramp.duration_ns);
  }
  sj_subscribe(j, o, &p->subscribe);
  if (p->n_source_addresses) {
    cJSON *a = sj_arr(j, o, "source_addresses");
    for (size_t i = 0; a && i < p->n_source_addresses; i++)
      sj_push_str(j, a, p->source_addresses[i]);
  }
  sj_str(j, o, "credentials", creds[p->credentials]);
  if (p->passive)
    sj_bool(j, o, "passive", true);
  if (p->client_model == CH_SCN_MODEL_OFFICIAL_JS)
    sj_str(j, o, "client_model", "official-js");
}

static void sj_phase(struct sj *j, cJSON *o, const struct ch_scenario *s, const struct ch_scn_phase *ph) {
  sj_str(j, o, "type", ch_scn_phase_type_name(ph->type));
  sj_str(j, o, "name", ph->name);
  if (ph->population >= 0)
    sj_str(j, o, "clients", s->populations[ph->population].name);
  switch (ph->type) {
  case CH_SCN_PHASE_HOLD:
  case CH_SCN_PHASE_VERIFY_SILENCE:
  case CH_SCN_PHASE_STEADY:
    sj_dur(j, o, "duration", ph->duration_ns);
    break;
  case CH_SCN_PHASE_TRIGGER:
    if (ph->duration_ns)
      sj_dur(j, o, "duration", ph->duration_ns);
    break;
  case CH_SCN_PHASE_DROP_RECONNECT:
    sj_num(j, o, "fraction", ph->fraction);
    sj_dur(j, o, "timeout", ph->timeout_ns);
    break;
  case CH_SCN_PHASE_DROP:
    sj_dur(j, o, "timeout", ph->timeout_ns);
    if (ph->url)
      sj_str(j, o, "url", ph->url);
    break;
  default:
    sj_dur(j, o, "timeout", ph->timeout_ns);
    break;
  }
}

static void sj_trigger(struct sj *j, cJSON *o, const struct ch_scenario *s, const struct ch_scn_trigger *t) {
  static const char *const types[] = {"none", "reference", "http"};
  sj_str(j, o, "type", types[t->type]);
  if (t->has_hub)
    sj_str(j, o, "hub", ch_scn_hub_name(t->hub));
  if (t->n_pops == 1) {
    sj_str(j, o, "clients", s->populations[t->pops[0]].name);
  } else if (t->n_pops) {
    cJSON *a = sj_arr(j, o, "clients");
    for (size_t i = 0; a && i < t->n_pops; i++)
      sj_push_str(j, a, s->populations[t->pops[i]].name);
  }
  sj_num(j, o, "rate", t->rate);
  sj_str(j, o, "arrival", t->arrival == CH_SCN_ARRIVAL_POISSON ? "poisson" : "constant");
  sj_num(j, o, "count", (double)t->count);
  if (t->keys_subscribed) {
    sj_str(j, o, "keys", "subscribed");
  } else {
    cJSON *k = sj_arr(j, o, "keys");
    for (size_t i = 0; k && i < t->n_keys; i++)
      sj_push_str(j, k, t->keys[i]);
  }
  sj_num(j, o, "event_type", t->event_type);
  if (t->payload_json) {
    cJSON *p = cJSON_Parse(t->payload_json);
    if (!p || !cJSON_AddItemToObject(o, "payload", p)) {
      cJSON_Delete(p);
      j->oom = true;
    }
  }
  if (t->type != CH_SCN_TRIGGER_HTTP || !t->http.url)
    return;
  const struct ch_scn_http_trigger *h = &t->http;
  cJSON *ho = sj_obj(j, o, "http");
  if (!ho)
    return;
  sj_str(j, ho, "method", h->method);
  sj_url(j, ho, "url", ch_template_source(h->url));
  cJSON *hs = sj_obj(j, ho, "headers");
  for (size_t i = 0; hs && i < h->n_headers; i++)
    sj_str(j, hs, h->headers[i].name, sj_header_value(h->headers[i].name, ch_template_source(h->headers[i].value)));
  if (h->body && ch_template_escape_of(h->body) == CH_TEMPLATE_JSON) {
    cJSON *b = cJSON_Parse(ch_template_source(h->body)); /* a JSON body stays JSON (its escaping depends on it) */
    if (!b || !cJSON_AddItemToObject(ho, "body", b)) {
      cJSON_Delete(b);
      j->oom = true;
    }
  } else if (h->body) {
    sj_str(j, ho, "body", ch_template_source(h->body));
  }
  sj_dur(j, ho, "timeout", h->timeout_ns);
  cJSON *st = sj_arr(j, ho, "expect_status");
  int codes[2] = {h->expect_status_min, h->expect_status_max};
  for (int i = 0; st && i < 2; i++) {
    cJSON *n = sj_check(j, cJSON_CreateNumber(codes[i]));
    if (n && !cJSON_AddItemToArray(st, n)) {
      cJSON_Delete(n);
      j->oom = true;
    }
  }
}

static void sj_thresholds(struct sj *j, cJSON *o, const char *k, const struct ch_scn_threshold *t, size_t n) {
  cJSON *a = sj_arr(j, o, k);
  for (size_t i = 0; a && i < n; i++) {
    if (!t[i].abort_on_fail && !t[i].delay_abort_eval_ns) {
      sj_push_str(j, a, t[i].expr);
      continue;
    }
    cJSON *o = cJSON_CreateObject();
    if (!sj_check(j, o) || !cJSON_AddItemToArray(a, o)) {
      cJSON_Delete(o);
      j->oom = true;
      continue;
    }
    sj_str(j, o, "threshold", t[i].expr);
    sj_bool(j, o, "abort_on_fail", t[i].abort_on_fail);
    sj_dur(j, o, "delay_abort_eval", t[i].delay_abort_eval_ns);
  }
}

static int sj_render(const struct ch_scenario *s, bool stored, struct ch_buf *out) {
  struct sj j = {false, stored};
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return -ENOMEM;
  sj_str(&j, root, "name", s->name);
  sj_str(&j, root, "description", s->description);
  char seed[24]; /* exact: cJSON prints numbers past 10^15 with 15 significant digits */
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed);
  sj_check(&j, cJSON_AddRawToObject(root, "seed", seed));
  sj_num(&j, root, "workers", s->workers);
  sj_num(&j, root, "processes", s->processes);
  sj_target(&j, root, s);
  cJSON *pops = sj_arr(&j, root, "clients");
  for (size_t i = 0; pops && i < s->n_populations; i++) {
    cJSON *o = sj_check(&j, cJSON_CreateObject());
    if (o && !cJSON_AddItemToArray(pops, o)) {
      cJSON_Delete(o);
      o = NULL, j.oom = true;
    }
    if (o)
      sj_population(&j, o, &s->populations[i]);
  }
  cJSON *phases = sj_arr(&j, root, "phases");
  for (size_t i = 0; phases && i < s->n_phases; i++) {
    cJSON *o = sj_check(&j, cJSON_CreateObject());
    if (o && !cJSON_AddItemToArray(phases, o)) {
      cJSON_Delete(o);
      o = NULL, j.oom = true;
    }
    if (o)
      sj_phase(&j, o, s, &s->phases[i]);
  }
  if (s->trigger_array) {
    cJSON *ta = sj_arr(&j, root, "trigger");
    for (size_t i = 0; ta && i < s->n_triggers; i++) {
      cJSON *o = sj_check(&j, cJSON_CreateObject());
      if (o && !cJSON_AddItemToArray(ta, o)) {
        cJSON_Delete(o);
        o = NULL, j.oom = true;
      }
      if (o)
        sj_trigger(&j, o, s, &s->triggers[i]);
    }
  } else {
    cJSON *o = sj_obj(&j, root, "trigger");
    if (o)
      sj_trigger(&j, o, s, &s->triggers[0]);
  }
  cJSON *c = sj_obj(&j, root, "correlation");
  if (c) {
    sj_str(&j, c, "key", s->correlation.key);
    sj_str(&j, c, "sequence", s->correlation.sequence);
    sj_str(&j, c, "nonce", s->correlation.nonce);
    sj_str(&j, c, "server_time_us", s->correlation.server_time_us);
  }
  static const char *const deliveries[] = {"exactly_once", "at_least_once", "any"};
  cJSON *e = sj_obj(&j, root, "expect");
  if (e) {
    sj_str(&j, e, "delivery", deliveries[s->expect.delivery]);
    sj_bool(&j, e, "in_order", s->expect.in_order);
    sj_dur(&j, e, "deadline", s->expect.deadline_ns);
    sj_dur(&j, e, "unsubscribe_grace", s->expect.unsubscribe_grace_ns);
    sj_bool(&j, e, "isolation", s->expect.isolation);
    sj_bool(&j, e, "rejection", s->expect.rejection);
    sj_bool(&j, e, "allow_server_closes", s->expect.allow_server_closes);
  }
  sj_thresholds(&j, root, "thresholds", s->thresholds, s->n_thresholds);
  if (s->capacity.enabled) {
    cJSON *k = sj_obj(&j, root, "capacity");
    if (k) {
      sj_str(&j, k, "vary", ch_scn_capacity_dim_name(s->capacity.step_what));
      if (s->capacity.population >= 0)
        sj_str(&j, k, "clients", s->populations[s->capacity.population].name);
      sj_num(&j, k, "start", s->capacity.start);
      sj_num(&j, k, "step", s->capacity.step);
      sj_num(&j, k, "max", s->capacity.max);
      sj_dur(&j, k, "step_duration", s->capacity.step_duration_ns);
      sj_thresholds(&j, k, "slo", s->capacity.slo, s->capacity.n_slo);
    }
  }
  cJSON *cmp = s->n_compare_gates ? sj_obj(&j, root, "compare") : NULL;
  cJSON *mr = cmp ? sj_obj(&j, cmp, "max_regression") : NULL;
  for (size_t i = 0; mr && i < s->n_compare_gates; i++) { /* text is METRIC[{scope}]=LIMIT; LIMIT has no '=' */
    const char *t = s->compare_gates[i].text, *eq = strrchr(t, '=');
    char metric[sizeof s->compare_gates[i].text];
    snprintf(metric, sizeof metric, "%.*s", (int)(eq - t), t);
    sj_str(&j, mr, metric, eq + 1);
  }
  char *text = j.oom ? NULL : cJSON_Print(root);
  cJSON_Delete(root);
  int rc = text ? ch_buf_puts(out, text) : -ENOMEM;
  free(text);
  return rc ? -ENOMEM : 0;
}

int ch_scenario_to_json(const struct ch_scenario *s, struct ch_buf *out) { return sj_render(s, false, out); }
int ch_scenario_to_json_stored(const struct ch_scenario *s, struct ch_buf *out) { return sj_render(s, true, out); }
