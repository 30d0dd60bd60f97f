/* The loader's client populations (hub, transports, ramp, subscriptions, source addresses) and phases. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_scn_check.h"

#define SCN_MAX_CLIENTS 10000000u /* per population and in total: beyond what one fd table could hold anyway */
#define SCN_MAX_KEYS 1000000u     /* key universe of one population (materialised at load) */
#define SCN_MAX_KEYS_TOTAL 2000000u /* over all populations */
#define SCN_MAX_ADDRS 65536u       /* per population and in total */
#define SCN_MAX_POPULATIONS 64u

static const char *const scn_protocols[] = {"2.1", "2.0", "1.5", "1.4", NULL}; /* those ch_signalr speaks */

/* ------------------------------------------------------------------------------------------------- keys */

static bool scn_key_ok(const char *k) {
  size_t n = strlen(k);
  if (!n || n > 256)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
      return false;
  return true;
}

static void scn_keys_push(struct ch__scn_ctx *c, struct ch_scn_subscribe *sub, char *k) {
  if (!k) {
    c->oom = true;
    return;
  }
  sub->keys[sub->n_keys++] = k;
}

struct scn_keyref {
  const char *key;
  size_t index; /* position in the key list, for the message */
};

static int scn_keyref_cmp(const void *a, const void *b) {
  const struct scn_keyref *x = a, *y = b;
  int r = strcmp(x->key, y->key);
  return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* Reports keys listed more than once (sorting, not comparing every pair: lists may be long). */
static void scn_keys_unique(struct ch__scn_ctx *c, const cJSON *list, struct ch_scn_subscribe *sub) {
  struct scn_keyref *r = malloc((sub->n_keys ? sub->n_keys : 1) * sizeof *r);
  if (!r) {
    c->oom = true;
    return;
  }
  for (size_t i = 0; i < sub->n_keys; i++)
    r[i] = (struct scn_keyref){sub->keys[i], i};
  qsort(r, sub->n_keys, sizeof *r, scn_keyref_cmp);
  size_t reported = 0;
  for (size_t i = 1; i < sub->n_keys && reported < 10; i++)
    if (!strcmp(r[i].key, r[i - 1].key)) {
      size_t m = ch__scn_push_index(c, r[i].index);
      ch__scn_failf(c, list, "expected each key once, found \"%.60s\" again (also at [%zu])", r[i].key,
                    r[i - 1].index);
      ch__scn_pop(c, m);
      reported++;
    }
  free(r);
}

/* Reserves n keys of the scenario-wide budget; reports and returns false when it would be exceeded. */
static bool scn_key_budget(struct ch__scn_ctx *c, const cJSON *at, uint64_t n) {
  if (c->keys_total + n > SCN_MAX_KEYS_TOTAL) {
    ch__scn_failf(c, at, "expected at most %u keys over all populations, found %llu more than that allows",
                  SCN_MAX_KEYS_TOTAL, (unsigned long long)(c->keys_total + n - SCN_MAX_KEYS_TOTAL));
    return false;
  }
  c->keys_total += (size_t)n;
  return true;
}

static void scn_subscribe(struct ch__scn_ctx *c, const cJSON *pop, struct ch_scn_subscribe *sub) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(pop, "subscribe");
  sub->per_client = 1;
  sub->zipf_s = 1.1;
  if (!o || cJSON_IsNull(o))
    return;
  size_t mark = ch__scn_push_key(c, "subscribe");
  if (!cJSON_IsObject(o)) {
    ch__scn_fail(c, o, false, "an object with keys, range or key_count (and generator, per_client)");
    ch__scn_pop(c, mark);
    return;
  }
  static const char *const keys[] = {"keys", "range", "key_count", "prefix", "generator", "per_client", "zipf_s",
                                     NULL};
  ch__scn_check_keys(c, o, keys);
  const cJSON *kl = cJSON_GetObjectItemCaseSensitive(o, "keys");
  const cJSON *rg = cJSON_GetObjectItemCaseSensitive(o, "range");
  const cJSON *kc = cJSON_GetObjectItemCaseSensitive(o, "key_count");
  int sources = !!kl + !!rg + !!kc;
  if (sources != 1)
    ch__scn_failf(c, o, "expected exactly one of keys, range and key_count, found %d", sources);
  if (cJSON_GetObjectItemCaseSensitive(o, "prefix") && !kc) {
    size_t m = ch__scn_push_key(c, "prefix");
    ch__scn_failf(c, o, "expected prefix only with key_count (a range has its own prefix)");
    ch__scn_pop(c, m);
  }
  int def_pick = CH_SCN_PICK_ALL;
  if (kl) {
    size_t m = ch__scn_push_key(c, "keys");
    size_t n = cJSON_IsArray(kl) ? (size_t)cJSON_GetArraySize(kl) : 0;
    if (!n || n > SCN_MAX_KEYS) {
      ch__scn_fail(c, kl, false, "a non-empty array of key strings");
    } else if (scn_key_budget(c, kl, n) && !(sub->keys = calloc(n, sizeof *sub->keys))) {
      c->oom = true;
    } else if (sub->keys) {
      size_t i = 0;
      for (const cJSON *it = kl->child; it; it = it->next, i++) {
        size_t m2 = ch__scn_push_index(c, i);
        if (!cJSON_IsString(it) || !scn_key_ok(it->valuestring))
          ch__scn_fail(c, it, false, "a key: a string of 1 to 256 characters without control characters");
        else
          scn_keys_push(c, sub, strdup(it->valuestring));
        ch__scn_pop(c, m2);
      }
      scn_keys_unique(c, kl, sub);
    }
    ch__scn_pop(c, m);
  } else if (rg) {
    size_t m = ch__scn_push_key(c, "range");
    if (!cJSON_IsObject(rg)) {
      ch__scn_fail(c, rg, false, "an object {\"prefix\": \"\", \"from\": 1882708, \"to\": 1882807}");
    } else {
      static const char *const rkeys[] = {"prefix", "from", "to", NULL};
      ch__scn_check_keys(c, rg, rkeys);
      char *prefix = NULL;
      uint64_t from, to;
      ch__scn_string(c, rg, "prefix", false, "", &prefix);
      bool okf = ch__scn_uint(c, rg, "from", true, 0, 1ull << 53, 0, &from);
      bool okt = ch__scn_uint(c, rg, "to", true, 0, 1ull << 53, 0, &to);
      if (okf && okt && (to < from || to - from >= SCN_MAX_KEYS)) {
        size_t m2 = ch__scn_push_key(c, "to");
        ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(rg, "to"),
                      "expected to >= from (%llu) and at most %u keys, found %llu", (unsigned long long)from,
                      SCN_MAX_KEYS, (unsigned long long)to);
        ch__scn_pop(c, m2);
      } else if (okf && okt && prefix && strlen(prefix) <= 200 && scn_key_budget(c, rg, to - from + 1)) {
        if (!(sub->keys = calloc((size_t)(to - from + 1), sizeof *sub->keys)))
          c->oom = true;
        sub->generated = sub->is_range = true;
        sub->from = from;
        sub->prefix = ch__scn_strdup(c, prefix);
        for (uint64_t k = from; sub->keys && k <= to && !c->oom; k++) {
          char buf[256];
          snprintf(buf, sizeof buf, "%s%llu", prefix, (unsigned long long)k);
          scn_keys_push(c, sub, strdup(buf));
        }
      } else if (prefix && strlen(prefix) > 200) {
        ch__scn_failf(c, rg, "expected a prefix of at most 200 characters");
      }
      free(prefix);
    }
    ch__scn_pop(c, m);
  } else if (kc) {
    def_pick = CH_SCN_PICK_ROUND_ROBIN;
    uint64_t n;
    char *prefix = NULL;
    ch__scn_string(c, o, "prefix", false, "key-", &prefix);
    if (ch__scn_uint(c, o, "key_count", true, 1, SCN_MAX_KEYS, 1, &n) && prefix && strlen(prefix) <= 200 &&
        scn_key_budget(c, kc, n)) {
      if (!(sub->keys = calloc((size_t)n, sizeof *sub->keys)))
        c->oom = true;
      sub->generated = true;
      sub->prefix = ch__scn_strdup(c, prefix);
      for (uint64_t k = 0; sub->keys && k < n && !c->oom; k++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s%llu", prefix, (unsigned long long)k);
        scn_keys_push(c, sub, strdup(buf));
      }
    }
    free(prefix);
  }
  static const char *const picks[] = {"all", "round_robin", "uniform", "zipf", NULL};
  int pick;
  ch__scn_enum(c, o, "generator", false, picks, def_pick, &pick);
  sub->pick = (enum ch_scn_pick)pick;
  const cJSON *pc = cJSON_GetObjectItemCaseSensitive(o, "per_client");
  if (pc && sub->pick == CH_SCN_PICK_ALL) {
    size_t m = ch__scn_push_key(c, "per_client");
    ch__scn_failf(c, pc, "expected no per_client with generator \"all\" (every client takes every key); set "
                         "generator to round_robin, uniform or zipf");
    ch__scn_pop(c, m);
  }
  uint64_t per;
  if (ch__scn_uint(c, o, "per_client", false, 1, 1024, 1, &per) && sub->n_keys && per > sub->n_keys) {
    size_t m = ch__scn_push_key(c, "per_client");
    ch__scn_failf(c, pc, "expected per_client <= the number of keys (%zu), found %llu", sub->n_keys,
                  (unsigned long long)per);
    ch__scn_pop(c, m);
    per = 1;
  }
  sub->per_client = sub->pick == CH_SCN_PICK_ALL ? sub->n_keys : (size_t)per;
  const cJSON *zs = cJSON_GetObjectItemCaseSensitive(o, "zipf_s");
  if (zs && sub->pick != CH_SCN_PICK_ZIPF) {
    size_t m = ch__scn_push_key(c, "zipf_s");
    ch__scn_failf(c, zs, "expected zipf_s only with generator \"zipf\"");
    ch__scn_pop(c, m);
  }
  ch__scn_number(c, o, "zipf_s", false, 0, 10, true, 1.1, &sub->zipf_s);
  ch__scn_pop(c, mark);
}

/* ------------------------------------------------------------------------------------------------- addresses */

static void scn_addr_push(struct ch__scn_ctx *c, struct ch_population *p, size_t *cap, const char *a) {
  if (c->addrs_total >= SCN_MAX_ADDRS) {
    if (c->addrs_total++ == SCN_MAX_ADDRS) /* say it once */
      ch__scn_failf(c, NULL, "expected at most %u source addresses over all populations", SCN_MAX_ADDRS);
    return;
  }
  c->addrs_total++;
  if (p->n_source_addresses == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    char **v = realloc(p->source_addresses, nc * sizeof *v);
    if (!v) {
      c->oom = true;
      return;
    }
    p->source_addresses = v, *cap = nc;
  }
  char *d = strdup(a);
  if (!d)
    c->oom = true;
  else
    p->source_addresses[p->n_source_addresses++] = d;
}

/* One entry: an IPv4 or IPv6 address, or an IPv4 range "a.b.c.d-e.f.g.h". */
static void scn_addr_entry(struct ch__scn_ctx *c, const cJSON *v, struct ch_population *p, size_t *cap) {
  static const char expected[] = "an IP address or an IPv4 range such as \"127.0.0.2-127.0.0.9\"";
  if (!cJSON_IsString(v) || strlen(v->valuestring) > 100) {
    ch__scn_fail(c, v, false, expected);
    return;
  }
  char buf[101];
  strcpy(buf, v->valuestring);
  char *dash = strchr(buf, '-');
  struct in_addr a4, b4;
  struct in6_addr a6;
  if (!dash) {
    if (inet_pton(AF_INET, buf, &a4) == 1 || inet_pton(AF_INET6, buf, &a6) == 1)
      scn_addr_push(c, p, cap, buf);
    else
      ch__scn_fail(c, v, false, expected);
    return;
  }
  *dash = '\0';
  if (inet_pton(AF_INET, buf, &a4) != 1 || inet_pton(AF_INET, dash + 1, &b4) != 1) {
    ch__scn_fail(c, v, false, expected);
    return;
  }
  uint32_t lo = ntohl(a4.s_addr), hi = ntohl(b4.s_addr);
  if (hi < lo || hi - lo >= SCN_MAX_ADDRS) {
    ch__scn_fail(c, v, false, "an IPv4 range whose end is not below its start, of at most 65536 addresses");
    return;
  }
  for (uint64_t x = lo; x <= hi && !c->oom; x++) {
    struct in_addr ia = {.s_addr = htonl((uint32_t)x)};
    char out[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ia, out, sizeof out);
    scn_addr_push(c, p, cap, out);
  }
}

static void scn_addresses(struct ch__scn_ctx *c, const cJSON *pop, struct ch_population *p) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(pop, "source_addresses");
  if (!o || cJSON_IsNull(o))
    return;
  size_t mark = ch__scn_push_key(c, "source_addresses"), cap = 0;
  if (cJSON_IsArray(o)) {
    size_t i = 0;
    for (const cJSON *it = o->child; it; it = it->next, i++) {
      size_t m = ch__scn_push_index(c, i);
      scn_addr_entry(c, it, p, &cap);
      ch__scn_pop(c, m);
    }
    if (!i)
      ch__scn_fail(c, o, false, "a non-empty array of addresses");
  } else {
    scn_addr_entry(c, o, p, &cap);
  }
  ch__scn_pop(c, mark);
}

/* ------------------------------------------------------------------------------------------------- populations */

static void scn_transport(struct ch__scn_ctx *c, const cJSON *pop, struct ch_population *p) {
  static const char *const names[] = {"webSockets", "serverSentEvents", "longPolling", "auto", NULL};
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pop, "transport");
  p->transports[0] = CH_SCN_WEBSOCKETS;
  p->n_transports = 1;
  if (cJSON_IsArray(v)) {
    /* an explicit fallback order */
    size_t mark = ch__scn_push_key(c, "transport"), i = 0;
    p->n_transports = 0;
    p->transport_auto = true;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
      size_t m = ch__scn_push_index(c, i);
      int t = -1;
      for (int k = 0; k < CH_SCN_TRANSPORT_COUNT && cJSON_IsString(it); k++)
        if (!strcmp(it->valuestring, names[k]))
          t = k;
      bool dup = false;
      for (size_t j = 0; t >= 0 && j < p->n_transports; j++)
        dup |= p->transports[j] == (enum ch_scn_transport)t;
      if (t < 0 || dup)
        ch__scn_fail(c, it, false,
                     dup ? "each transport once" : "\"webSockets\", \"serverSentEvents\" or \"longPolling\"");
      else
        p->transports[p->n_transports++] = (enum ch_scn_transport)t;
      ch__scn_pop(c, m);
    }
    if (!p->n_transports) {
      if (!i)
        ch__scn_fail(c, v, false, "a non-empty array of transports (a fallback order)");
      p->transports[0] = CH_SCN_WEBSOCKETS;
      p->n_transports = 1;
    }
    ch__scn_pop(c, mark);
    return;
  }
  int t;
  ch__scn_enum(c, pop, "transport", false, names, 0, &t);
  if (t == 3) {
    /* the JS client's order */
    p->transport_auto = true;
    p->n_transports = CH_SCN_TRANSPORT_COUNT;
    for (int k = 0; k < CH_SCN_TRANSPORT_COUNT; k++)
      p->transports[k] = (enum ch_scn_transport)k;
  } else {
    p->transports[0] = (enum ch_scn_transport)t;
  }
}

static void scn_ramp(struct ch__scn_ctx *c, const cJSON *pop, struct ch_population *p) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(pop, "ramp");
  if (!o || cJSON_IsNull(o))
    return;
  size_t mark = ch__scn_push_key(c, "ramp");
  if (!cJSON_IsObject(o)) {
    ch__scn_fail(c, o, false, "an object {\"rate\": 500} or {\"duration\": \"5s\"}");
  } else {
    static const char *const keys[] = {"rate", "duration", NULL};
    ch__scn_check_keys(c, o, keys);
    bool r = cJSON_GetObjectItemCaseSensitive(o, "rate") != NULL;
    bool d = cJSON_GetObjectItemCaseSensitive(o, "duration") != NULL;
    if (r == d)
      ch__scn_failf(c, o, "expected exactly one of rate and duration, found %s", r ? "both" : "neither");
    ch__scn_rate(c, o, "rate", false, 0, &p->ramp.rate);
    ch__scn_duration(c, o, "duration", false, 0, &p->ramp.duration_ns);
  }
  ch__scn_pop(c, mark);
}

static void scn_population(struct ch__scn_ctx *c, const cJSON *o, size_t index, struct ch_scenario *s,
                           struct ch_population *p) {
  if (!cJSON_IsObject(o)) {
    ch__scn_fail(c, o, false, "an object describing a client population");
    return;
  }
  static const char *const keys[] = {"name",   "count",     "hub",              "transport",   "client_protocol",
                                     "ramp",   "subscribe", "source_addresses", "credentials", "passive",
                                     "client_model", "sessions", NULL};
  ch__scn_check_keys(c, o, keys);
  char def[32];
  snprintf(def, sizeof def, "clients%zu", index);
  if (ch__scn_string(c, o, "name", false, def, &p->name) && p->name &&
      (!*p->name || strlen(p->name) > 63 || strspn(p->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                            "0123456789_.-") != strlen(p->name))) {
    size_t m = ch__scn_push_key(c, "name");
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(o, "name"), false,
                 "a name of 1 to 63 letters, digits, '_', '.' or '-'");
    ch__scn_pop(c, m);
  }
  uint64_t n;
  const cJSON *sess = cJSON_GetObjectItemCaseSensitive(o, "sessions");
  if (sess && !cJSON_IsNull(sess)) { /* its slots are sessions.max_concurrent */
    if (cJSON_GetObjectItemCaseSensitive(o, "count"))
      ch__scn_failf(c, o, "expected no count with sessions (sessions.max_concurrent gives the client slots), "
                          "found both");
    ch__scn_sessions(c, o, p);
  } else {
    ch__scn_uint(c, o, "count", true, 1, SCN_MAX_CLIENTS, 1, &n);
    p->count = (size_t)n;
  }
  static const char *const hubs[] = {"ResourceEventHub", "JobEventHub", NULL};
  int hub;
  ch__scn_enum(c, o, "hub", false, hubs, 0, &hub);
  p->hub = (enum ch_scn_hub)hub;
  p->hub_name = ch_scn_hub_name(p->hub);
  scn_transport(c, o, p);
  int proto;
  ch__scn_enum(c, o, "client_protocol", false, scn_protocols, 0, &proto);
  p->client_protocol = ch__scn_strdup(c, scn_protocols[proto]);
  scn_ramp(c, o, p);
  scn_subscribe(c, o, &p->subscribe);
  scn_addresses(c, o, p);
  static const char *const creds[] = {"valid", "bad", "none", NULL};
  int cr;
  ch__scn_enum(c, o, "credentials", false, creds, 0, &cr);
  p->credentials = (enum ch_scn_credentials)cr;
  if (p->credentials == CH_SCN_CRED_BAD && !s->target.n_bad_tokens)
    ch__scn_failf(c, o, "expected target.bad_tokens for credentials \"bad\", found none");
  ch__scn_bool(c, o, "passive", false, &p->passive);
  static const char *const models[] = {"harness", "official-js", NULL};
  int model;
  ch__scn_enum(c, o, "client_model", false, models, 0, &model);
  p->client_model = (enum ch_scn_client_model)model;
  const char *hub_key = p->hub == CH_SCN_HUB_JOB ? "/PipeId" : "/PartKey";
  p->key_pointer = ch__scn_strdup(c, s->correlation.key ? s->correlation.key : hub_key);
  if (p->subscribe.pick == CH_SCN_PICK_ZIPF && p->subscribe.n_keys && ch__scn_zipf_build(p))
    c->oom = true;
}

void ch__scn_populations(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "clients");
  size_t mark = ch__scn_push_key(c, "clients");
  size_t n = cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
  if (!a)
    ch__scn_fail(c, NULL, false, "an array of client populations (this key is required)");
  else if (!n || n > SCN_MAX_POPULATIONS)
    ch__scn_fail(c, a, false, "an array of 1 to 64 client populations");
  else if (!(s->populations = calloc(n, sizeof *s->populations)))
    c->oom = true;
  size_t i = 0;
  for (const cJSON *it = a && s->populations ? a->child : NULL; it; it = it->next, i++) {
    size_t m = ch__scn_push_index(c, i);
    struct ch_population *p = &s->populations[s->n_populations++];
    scn_population(c, it, i, s, p);
    p->first_client = s->total_clients;
    s->total_clients += p->count;
    for (size_t j = 0; j + 1 < s->n_populations && p->name; j++)
      if (s->populations[j].name && !strcmp(s->populations[j].name, p->name)) {
        ch__scn_failf(c, it, "expected a unique population name, found \"%s\" again (clients[%zu])", p->name, j);
        break;
      }
    ch__scn_pop(c, m);
  }
  if (s->total_clients > SCN_MAX_CLIENTS)
    ch__scn_failf(c, a, "expected at most %u clients in total, found %zu", SCN_MAX_CLIENTS, s->total_clients);
  ch__scn_pop(c, mark);
}

void ch__scn_population_free(struct ch_population *p) {
  free(p->name);
  free(p->client_protocol);
  for (size_t i = 0; i < p->subscribe.n_keys; i++)
    free(p->subscribe.keys[i]);
  free(p->subscribe.keys);
  free(p->subscribe.zipf_cdf);
  free(p->subscribe.prefix);
  for (size_t i = 0; i < p->n_source_addresses; i++)
    free(p->source_addresses[i]);
  free(p->source_addresses);
  free(p->key_pointer);
  ch__scn_sessions_free(p);
}

/* ------------------------------------------------------------------------------------------------- phases */

static void scn_phase(struct ch__scn_ctx *c, const cJSON *o, struct ch_scenario *s, struct ch_scn_phase *ph,
                      unsigned *seen) {
  if (!cJSON_IsObject(o)) {
    ch__scn_fail(c, o, false, "an object {\"type\": \"connect\", ...}");
    return;
  }
  int type;
  if (!ch__scn_enum(c, o, "type", true, ch__scn_phase_names, 0, &type)) {
    ph->type = CH_SCN_PHASE_HOLD;
    return; /* its other keys depend on the type: nothing sensible to say about them */
  }
  ph->type = (enum ch_scn_phase_type)type;
  static const char *const k_timeout[] = {"type", "name", "clients", "timeout", NULL};
  static const char *const k_duration[] = {"type", "name", "clients", "duration", NULL};
  static const char *const k_drop[] = {"type", "name", "clients", "fraction", "timeout", NULL};
  static const char *const k_storm[] = {"type", "name", "timeout", "url", NULL};
  const char *const *keys = k_timeout;
  if (ph->type == CH_SCN_PHASE_HOLD || ph->type == CH_SCN_PHASE_VERIFY_SILENCE || ph->type == CH_SCN_PHASE_TRIGGER ||
      ph->type == CH_SCN_PHASE_STEADY)
    keys = k_duration;
  else if (ph->type == CH_SCN_PHASE_DROP_RECONNECT)
    keys = k_drop;
  else if (ph->type == CH_SCN_PHASE_DROP)
    keys = k_storm;
  ch__scn_check_keys(c, o, keys);
  ch__scn_string(c, o, "name", false, ch__scn_phase_names[type], &ph->name);
  ph->population = -1;
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "clients");
  if (cl) {
    size_t m = ch__scn_push_key(c, "clients");
    for (size_t i = 0; cJSON_IsString(cl) && i < s->n_populations; i++)
      if (s->populations[i].name && !strcmp(s->populations[i].name, cl->valuestring))
        ph->population = (int)i;
    if (ph->population >= 0 && !s->populations[ph->population].sessions.enabled && ph->type == CH_SCN_PHASE_STEADY)
      ch__scn_failf(c, cl, "expected a session population (with \"sessions\"), found \"%s\" with a count",
                    cl->valuestring);
    if (ph->population >= 0 && s->populations[ph->population].sessions.enabled && ph->type != CH_SCN_PHASE_STEADY)
      ch__scn_failf(c, cl, "expected a population with a count, found the session population \"%s\" (its "
                           "sessions run in steady phases only)",
                    cl->valuestring);
    if (ph->population < 0) {
      struct ch_buf names = CH_BUF_INIT;
      for (size_t i = 0; i < s->n_populations; i++)
        ch_buf_printf(&names, "%s\"%s\"", i ? ", " : "", s->populations[i].name ? s->populations[i].name : "");
      struct ch_buf e = CH_BUF_INIT;
      ch_buf_printf(&e, "the name of a population (%s)", names.data ? names.data : "none defined");
      ch__scn_fail(c, cl, false, e.data ? e.data : "a population name");
      ch_buf_free(&names);
      ch_buf_free(&e);
    }
    ch__scn_pop(c, m);
  }
  bool needs_duration =
      ph->type == CH_SCN_PHASE_HOLD || ph->type == CH_SCN_PHASE_VERIFY_SILENCE || ph->type == CH_SCN_PHASE_STEADY;
  if (keys == k_duration)
    ch__scn_duration(c, o, "duration", needs_duration, 0, &ph->duration_ns);
  else
    ch__scn_duration(c, o, "timeout", false, 30000000000ull, &ph->timeout_ns);
  ph->fraction = 1;
  if (ph->type == CH_SCN_PHASE_DROP_RECONNECT)
    ch__scn_number(c, o, "fraction", false, 0, 1, true, 1, &ph->fraction);
  if (ph->type == CH_SCN_PHASE_DROP && ch__scn_string(c, o, "url", false, NULL, &ph->url) && ph->url &&
      strncmp(ph->url, "http://", 7) && strncmp(ph->url, "https://", 8)) {
    size_t m = ch__scn_push_key(c, "url");
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(o, "url"), false, "an absolute http:// or https:// URL");
    ch__scn_pop(c, m);
  }
  if (ph->type == CH_SCN_PHASE_DROP && !ph->url && s->target.url)
    ch__scn_failf(c, o, "expected \"url\" (the request that makes the target drop every connection) with a "
                        "target.url: only the embedded reference endpoint has a default");
  /* order: everything needs connected clients; verify_silence needs an unsubscribe before it */
  if (ph->type == CH_SCN_PHASE_STEADY && !ch_scenario_has_sessions(s))
    ch__scn_failf(c, o, "expected a population with \"sessions\" for a steady phase, found none (use a trigger "
                        "phase)");
  if (ph->type != CH_SCN_PHASE_CONNECT && ph->type != CH_SCN_PHASE_STEADY && !(*seen & (1u << CH_SCN_PHASE_CONNECT)))
    ch__scn_failf(c, o, "expected a connect phase before \"%s\"", ch__scn_phase_names[type]);
  if (ph->type == CH_SCN_PHASE_VERIFY_SILENCE && !(*seen & (1u << CH_SCN_PHASE_UNSUBSCRIBE)))
    ch__scn_failf(c, o, "expected an unsubscribe phase before verify_silence (it checks nothing arrives after "
                        "unsubscribing)");
  if ((ph->type == CH_SCN_PHASE_TRIGGER || ph->type == CH_SCN_PHASE_VERIFY_SILENCE) && !ch_scenario_triggers_on(s))
    ch__scn_failf(c, o, "expected trigger.type \"reference\" or \"http\" for a %s phase, found \"none\" (use a "
                        "hold phase to observe passively)",
                  ch__scn_phase_names[type]);
  bool counted = true; /* every trigger that sends has a count: the phase ends once they are sent */
  for (size_t t = 0; t < s->n_triggers; t++)
    counted &= s->triggers[t].type == CH_SCN_TRIGGER_NONE || s->triggers[t].count > 0;
  if (ph->type == CH_SCN_PHASE_TRIGGER && !ph->duration_ns && !counted)
    ch__scn_failf(c, o, "expected a duration here or trigger.count, found neither (the phase would never end)");
  *seen |= 1u << ph->type;
}

void ch__scn_phases(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "phases");
  size_t mark = ch__scn_push_key(c, "phases");
  size_t n = cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
  if (!a)
    ch__scn_fail(c, NULL, false, "an array of phases (this key is required)");
  else if (!n || n > 1000)
    ch__scn_fail(c, a, false, "an array of 1 to 1000 phases");
  else if (!(s->phases = calloc(n, sizeof *s->phases)))
    c->oom = true;
  unsigned seen = 0;
  size_t i = 0;
  for (const cJSON *it = a && s->phases ? a->child : NULL; it; it = it->next, i++) {
    size_t m = ch__scn_push_index(c, i);
    scn_phase(c, it, s, &s->phases[s->n_phases++], &seen);
    ch__scn_pop(c, m);
  }
  ch__scn_pop(c, mark);
}
