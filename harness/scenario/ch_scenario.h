/* ch_scenario: the typed model of a scenario file, its loader and validator.
 *
 * A scenario file (scenarios/README.md, scenarios/schema.json) is JSON. ch_scenario_load reads it, applies the
 * `--set PATH=VALUE` overrides to the JSON tree, then validates everything into the structs below, with every
 * default applied: the runner never looks at JSON and never has to guess a default. Every error names the file, the
 * JSON path (or line and column for syntax errors), what was expected and what was found; all errors are collected,
 * one per line. A loaded scenario is immutable and may be shared read-only between worker threads.
 */
#ifndef CH_SCENARIO_H
#define CH_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_compare.h"
#include "ch_rng.h"
#include "ch_template.h"
#include "ch_threshold.h"
#include "ch_url.h"

enum ch_scn_hub {
  CH_SCN_HUB_RESOURCE, /* "ResourceEventHub": SubscribeToPart / UnsubscribeFromPart, Update(ResourceUpdateModel) */
  CH_SCN_HUB_JOB,      /* "JobEventHub": SubscribeToPipeline / UnsubscribeFromPipeline, Update(MiniJob) */
};

/* Same values as enum ch_transport of ch_signalr.h (proto), so the runner may cast; scenario does not depend on proto.
   Names here carry ch_scn_/CH_SCN_ so that this header can be included next to proto, engine and server headers. */
enum ch_scn_transport {
  CH_SCN_WEBSOCKETS = 0, /* "webSockets" */
  CH_SCN_SSE,            /* "serverSentEvents" */
  CH_SCN_LONGPOLLING,    /* "longPolling" */
  CH_SCN_TRANSPORT_COUNT,
};

/* Same order as enum ch_auth_mode of the engine's ch_client.h. */
enum ch_scn_auth_mode {
  CH_SCN_AUTH_NONE,   /* "none": no credentials sent */
  CH_SCN_AUTH_HEADER, /* "header": Authorization: <scheme> <token> on every request, including the WS upgrade */
  CH_SCN_AUTH_QUERY,  /* "query": <query_param>=<token> appended to every request's query string */
};

enum ch_scn_token_source {
  CH_SCN_TOKEN_NONE,    /* no token configured in the file (the CLI may still give one) */
  CH_SCN_TOKEN_LITERAL, /* "token": the value itself */
  CH_SCN_TOKEN_ENV,     /* "token_env": the name of an environment variable */
  CH_SCN_TOKEN_FILE,    /* "token_file": one token per line; client i uses line i mod n */
  CH_SCN_TOKEN_LOGIN,   /* "login": tokens from a login request per user, refreshed before they expire */
  CH_SCN_TOKEN_COMMAND, /* "command": a command's standard output, re-run before it expires */
};

/* "login" (ch_scenario_auth.c): a request template. Placeholders {{user}} and {{password}} (a row of the users CSV)
   and {{env.NAME}} (a variable, refused at validation when unset) in url, header values and body. */
struct ch_scn_login {
  char *method;               /* default "POST" */
  char *url;                  /* absolute http(s) URL (template) */
  char **header_names, **header_values; /* values are templates */
  size_t n_headers;
  char *body;                 /* NULL: no body. A template; JSON text when body_json */
  bool body_json;             /* given as an object: sent as application/json, values JSON-escaped */
  char *users_file;           /* CSV `user,password` (resolved path); NULL with users_env or client credentials */
  char *users_env;            /* the name of a variable holding that CSV */
  char *token_pointer;        /* RFC 6901 pointer to the token in the JSON answer; default "/access_token" */
  char *expires_in_pointer;   /* NULL: the lifetime is ttl (or none); else seconds, a number or numeric string */
  double rate;                /* logins per second over all users; default 20 */
  uint64_t timeout_ns;        /* per login request; default 10 s */
};

/* "command": argv run without a shell; its standard output, trimmed, is the token. */
struct ch_scn_command {
  char **argv;
  size_t argc;
  uint64_t timeout_ns;        /* default 10 s */
};

struct ch_scn_auth {
  enum ch_scn_auth_mode mode;     /* default: "header" when a token source is given, else "none" */
  char *scheme;               /* default "Bearer" */
  char *query_param;          /* default "access_token" */
  enum ch_scn_token_source source;
  char *token;                /* CH_SCN_TOKEN_LITERAL: a credential. Never log it. */
  char *token_env;            /* CH_SCN_TOKEN_ENV: the variable's name */
  char *token_file;           /* CH_SCN_TOKEN_FILE: the path, already resolved against the scenario's folder */
  struct ch_scn_login login;     /* CH_SCN_TOKEN_LOGIN */
  struct ch_scn_command command; /* CH_SCN_TOKEN_COMMAND */
  uint64_t ttl_ns;            /* login/command: the lifetime when the answer gives none; 0 = never expires */
  double refresh_at;          /* login/command: refresh after this fraction of the lifetime; default 0.8 */
  double refresh_jitter;      /* +- this fraction of the lifetime, spreading refreshes; default 0.05 */
};

struct ch_scn_target {
  char *url;                  /* NULL: the embedded reference endpoint (started by the runner) */
  struct ch_url parsed;       /* valid only when url != NULL */
  bool insecure;              /* skip TLS certificate verification (default false) */
  char *ca_file;              /* NULL or a path resolved against the scenario's folder (also target.tls.ca_file) */
  char *cert_file, *key_file; /* target.tls: client certificate and key (PEM), resolved like ca_file; NULL: none */
  char *server_name;          /* target.tls.server_name: TLS name sent (SNI) and verified; NULL: the URL's host */
  struct ch_scn_auth auth;
  char **bad_tokens;          /* credentials that the target must reject (401/403); never log them */
  size_t n_bad_tokens;
};

/* Which credentials a population connects with. */
enum ch_scn_credentials {
  CH_SCN_CRED_VALID, /* "valid" (default): the target's auth */
  CH_SCN_CRED_BAD,   /* "bad": client i uses bad_tokens[i mod n] in the target's auth mode; expects rejection */
  CH_SCN_CRED_NONE,  /* "none": no credentials at all; expects rejection when the target requires auth */
};

/* Where a population's subscription keys come from, and how each client picks its share. */
enum ch_scn_pick {
  CH_SCN_PICK_ALL,         /* "all": every client subscribes to every key */
  CH_SCN_PICK_ROUND_ROBIN, /* "round_robin": client i gets keys (i*per_client + j) mod n_keys */
  CH_SCN_PICK_UNIFORM,     /* "uniform": per_client distinct keys, uniformly at random */
  CH_SCN_PICK_ZIPF,        /* "zipf": per_client distinct keys, P(rank k) proportional to 1/k^zipf_s */
};

struct ch_scn_subscribe {
  char **keys;                /* the key universe, materialised at load (from "keys", "range" or "key_count") */
  size_t n_keys;              /* 0: the population subscribes to nothing */
  enum ch_scn_pick pick;      /* "generator"; default "all" for keys/range, "round_robin" for key_count */
  size_t per_client;          /* keys per client (default 1); n_keys for CH_SCN_PICK_ALL */
  double zipf_s;              /* default 1.1 */
  double *zipf_cdf;           /* CH_SCN_PICK_ZIPF: cumulative probabilities by rank, n_keys entries, built once */
  /* How the universe was written (for ch_scenario_to_json): a list, or prefix + from .. from + n_keys - 1. */
  bool generated;             /* "range" or "key_count" */
  bool is_range;              /* "range" (from/to) rather than "key_count" (from 0) */
  char *prefix;
  uint64_t from;
};

struct ch_scn_ramp {
  double rate;                /* clients started per second; 0 = no limit */
  uint64_t duration_ns;       /* alternatively: spread the starts evenly over this time; 0 = unused */
};

/* How a client recovers a lost transport (see scenarios/README.md "client_model"). */
enum ch_scn_client_model {
  CH_SCN_MODEL_HARNESS,     /* "harness" (default): /reconnect every 2 s within DisconnectTimeout, then the client
                               ends (a failure) */
  CH_SCN_MODEL_OFFICIAL_JS, /* "official-js": jquery.signalR 2.4.3's timing (2 s, 3 s on longPolling; window
                               DisconnectTimeout and DisconnectTimeout + KeepAliveTimeout since the last message),
                               then a new connection and its Subscribes again, as a web app restarts it */
};

enum ch_scn_arrival {
  CH_SCN_ARRIVAL_CONSTANT, /* "constant" (default): one trigger every 1/rate seconds */
  CH_SCN_ARRIVAL_POISSON,  /* "poisson": exponential gaps with mean 1/rate, from the scenario seed */
};

/* A random duration (sessions' lifetime, churn interval, think time): a duration string is "fixed". */
enum ch_scn_dist_kind {
  CH_SCN_DIST_FIXED,       /* {"dist": "fixed", "value": "5s"} or "5s" */
  CH_SCN_DIST_UNIFORM,     /* {"dist": "uniform", "min": "2s", "max": "8s"} */
  CH_SCN_DIST_EXPONENTIAL, /* {"dist": "exponential", "mean": "5s"} */
  CH_SCN_DIST_LOGNORMAL,   /* {"dist": "lognormal", "median": "5s", "sigma": 0.5} */
};
struct ch_scn_dist {
  enum ch_scn_dist_kind kind;
  uint64_t a_ns, b_ns;        /* fixed: value; uniform: min, max; exponential: mean; lognormal: median */
  double sigma;               /* lognormal: the standard deviation of ln(duration) */
};

/* One stage of a ramping arrival rate (or, in the closed model, of a count of open sessions): the value moves
   linearly to target over duration. */
struct ch_scn_stage {
  uint64_t duration_ns;
  double target;              /* sessions per second; closed model: sessions open at once */
};

/* An open-model population (scenarios/README.md "sessions"): sessions arrive at a rate during steady phases, each
   connects, subscribes to its keys, churns, and leaves after its lifetime. The population's count is
   max_concurrent: its client slots, reused by the sessions that follow. */
struct ch_scn_sessions {
  bool enabled;
  bool closed;                /* "model": "closed" (k6's ramping VUs): stages of a count of sessions open at once;
                                 slot i holds a session while i < the target, so shards and workers need no talk */
  enum ch_scn_arrival arrival;
  double rate;                /* sessions per second; with stages, the rate the first stage starts from (default 0).
                                 Closed model: "start", the count the first stage starts from */
  struct ch_scn_stage *stages;
  size_t n_stages;
  bool has_lifetime;          /* always in the open model; closed: without one a session stays while it is wanted */
  struct ch_scn_dist lifetime;
  bool churn;                 /* "churn" given */
  struct ch_scn_dist churn_every; /* time between two churns of a session */
  struct ch_scn_dist think;   /* unsubscribe -> subscribe of the next key; default fixed 0 */
};

struct ch_population {
  char *name;                 /* unique; default "clients<i>" */
  size_t count;               /* >= 1 */
  enum ch_scn_hub hub;            /* default ResourceEventHub */
  const char *hub_name;       /* "ResourceEventHub" or "JobEventHub" (static) */
  bool transport_auto;        /* "auto": try transports[] in order, like the JS client */
  enum ch_scn_transport transports[CH_SCN_TRANSPORT_COUNT]; /* one entry for a fixed transport */
  size_t n_transports;
  char *client_protocol;      /* default "2.1" */
  struct ch_scn_ramp ramp;
  struct ch_scn_subscribe subscribe;
  char **source_addresses;    /* local addresses to bind, client i uses [i mod n]; none = the OS chooses */
  size_t n_source_addresses;
  enum ch_scn_credentials credentials;
  char *key_pointer;          /* JSON Pointer to the key in Update's argument: correlation.key or the hub default
                                 ("/PartKey" for ResourceEventHub, "/PipeId" for JobEventHub) */
  size_t first_client;        /* global index of this population's first client (populations in file order) */
  bool passive;               /* "passive": no trigger needs to reach its keys (load, or an isolation witness) */
  enum ch_scn_client_model client_model; /* "client_model": how a lost transport is recovered */
  struct ch_scn_sessions sessions; /* enabled: an open-model population, run by steady phases only */
};

enum ch_scn_phase_type {
  CH_SCN_PHASE_CONNECT,        /* "connect": negotiate + connect + start every client, ramped; "timeout" */
  CH_SCN_PHASE_SUBSCRIBE,      /* "subscribe": invoke Subscribe for each client's keys; "timeout" */
  CH_SCN_PHASE_HOLD,           /* "hold": keep connections open; "duration" required */
  CH_SCN_PHASE_TRIGGER,        /* "trigger": send triggers; ends after "duration" or when trigger.count are sent */
  CH_SCN_PHASE_UNSUBSCRIBE,    /* "unsubscribe": invoke Unsubscribe, wait for the acknowledgements; "timeout" */
  CH_SCN_PHASE_VERIFY_SILENCE, /* "verify_silence": trigger the unsubscribed keys; nothing may arrive; "duration" */
  CH_SCN_PHASE_DROP_RECONNECT, /* "drop_reconnect": drop "fraction" of connections; they must reconnect; "timeout" */
  CH_SCN_PHASE_DISCONNECT,     /* "disconnect": abort every connection cleanly; "timeout" */
  CH_SCN_PHASE_DROP,           /* "drop": the server drops every connection (a reconnect storm); recovery within
                                  "timeout"; "url" is the drop request (default: the reference endpoint's /drop) */
  CH_SCN_PHASE_STEADY,         /* "steady": session populations arrive, churn and leave while triggers go on for
                                  "duration" (required); every session still open at its end leaves */
  CH_SCN_PHASE_TYPE_COUNT,
};

struct ch_scn_phase {
  enum ch_scn_phase_type type;
  char *name;                 /* default: the type's name */
  uint64_t duration_ns;       /* hold / verify_silence (required), trigger (0 = until count sent) */
  uint64_t timeout_ns;        /* connect / subscribe / unsubscribe / drop_reconnect / disconnect; default 30s */
  double fraction;            /* drop_reconnect: 0 < f <= 1, default 1 */
  char *url;                  /* drop: an absolute http(s) URL POSTed to drop every connection; NULL = reference */
  int population;             /* index into scenario.populations, or -1 for every population (default) */
};

enum ch_scn_trigger_type {
  CH_SCN_TRIGGER_NONE,      /* "none": passive observation, nothing is sent */
  CH_SCN_TRIGGER_REFERENCE, /* "reference": the reference endpoint's publish API (embedded or a running `serve`) */
  CH_SCN_TRIGGER_HTTP,      /* "http": a templated HTTP request sent with libcurl */
};

struct ch_scn_http_header {
  char *name;
  struct ch_template *value;
};

struct ch_scn_http_trigger {
  char *method;               /* default "POST" */
  struct ch_template *url;    /* placeholder values are percent-encoded */
  struct ch_scn_http_header *headers;
  size_t n_headers;
  struct ch_template *body;   /* NULL: no body */
  uint64_t timeout_ns;        /* default 10s */
  int expect_status_min, expect_status_max; /* default 200..299: other statuses are trigger errors */
};

struct ch_scn_trigger {
  enum ch_scn_trigger_type type;  /* default "reference" when the target is embedded, "none" otherwise */
  double rate;                /* triggers per second, open model (intended send times are kept); default 10 */
  enum ch_scn_arrival arrival;
  uint64_t count;             /* 0 = unlimited (the phase duration decides) */
  bool keys_subscribed;       /* "keys": "subscribed" (default): round-robin over the union of subscribed keys */
  char **keys;                /* otherwise the listed keys, round-robin */
  size_t n_keys;
  char *payload_json;         /* "reference": extra fields merged into the Update model (a JSON object text) */
  int event_type;             /* "reference": ResourceUpdateEventType / JobStatus value, default 1 */
  struct ch_scn_http_trigger http; /* valid when type == CH_SCN_TRIGGER_HTTP */
  /* Scope: which populations' keys "keys": "subscribed" drives, and the hub {{hub}} names for listed keys. */
  size_t *pops;               /* "clients": population indexes (resolved after the populations); none = every one */
  size_t n_pops;
  char **pop_names;           /* "clients" as written (for messages and ch_scenario_to_json) */
  size_t n_pop_names;
  bool has_hub;               /* "hub" given: only that hub's populations (and its hub for listed keys) */
  enum ch_scn_hub hub;
  bool legacy;                /* check's request form ({"url": ..., "hub": ...}); never in a scenario */
  char *label;                /* for reports: "trigger" (object form), "trigger[1]" or "trigger[1] (jobs)" */
};

/* At most this many triggers in a scenario's "trigger" array. */
#define CH_SCN_TRIGGERS_MAX 32

/* JSON Pointers (RFC 6901) into the argument of Update, validated at load. NULL = not used. */
struct ch_scn_correlation {
  char *key;                  /* NULL: the hub default (see ch_population.key_pointer) */
  char *sequence;             /* default "/HarnessSeq" (the reference endpoint's sequence number) */
  char *nonce;                /* default NULL; set it when an HTTP trigger sends {{nonce}} */
  char *server_time_us;       /* default "/HarnessSentUs" (server send time, µs since the Unix epoch) */
};

enum ch_scn_delivery {
  CH_SCN_DELIVERY_EXACTLY_ONCE,  /* "exactly_once" (default): missing and duplicate Updates are both failures */
  CH_SCN_DELIVERY_AT_LEAST_ONCE, /* "at_least_once": duplicates allowed */
  CH_SCN_DELIVERY_ANY,           /* "any": delivery is only measured, not checked */
};

struct ch_scn_expect {
  enum ch_scn_delivery delivery;
  bool in_order;              /* default true: per key and subscriber, sequence numbers increase */
  uint64_t deadline_ns;       /* default 5s: an Update later than this counts as missing */
  uint64_t unsubscribe_grace_ns; /* default 1s: Updates after an acknowledged unsubscribe + grace are failures */
  bool isolation;             /* default true: an Update for a key the client did not subscribe to is a failure */
  bool rejection;             /* default true: populations with bad/none credentials must be refused (401/403) */
  bool allow_server_closes;   /* default false: a receive channel the server ends unasked outside a drop phase fails
                                 RUN-SERVER-CLOSE */
};

enum ch_scn_capacity_dim {
  CH_SCN_CAPACITY_SUBSCRIBERS_PER_KEY, /* "subscribers_per_key" */
  CH_SCN_CAPACITY_KEYS,                /* "keys" */
  CH_SCN_CAPACITY_TRIGGER_RATE,        /* "trigger_rate" */
  CH_SCN_CAPACITY_ARRIVAL_RATE,        /* "arrival_rate": sessions per second of an open-model population */
  CH_SCN_CAPACITY_CHURN_RATE,          /* "churn_rate": churns per second of each session (1 / churn.every's mean) */
  CH_SCN_CAPACITY_CONCURRENT_SESSIONS, /* "concurrent_sessions": sessions open at once of a closed-model population */
  CH_SCN_CAPACITY_DIMS
};

struct ch_scn_capacity {
  bool enabled;               /* the file has a "capacity" object */
  enum ch_scn_capacity_dim step_what;
  int population;             /* the session population the session knobs step ("clients", default the first that
                                 fits); -1 for the other knobs */
  double start, step, max;    /* start <= max, step > 0 */
  uint64_t step_duration_ns;  /* required */
  struct ch_scn_threshold *slo;   /* the first step that breaks one of these ends the search */
  size_t n_slo;
};

struct ch_scenario {
  char *path;                 /* as given ("<string>" for ch_scenario_from_json_string) */
  char *dir;                  /* folder of path, for relative token_file / ca_file */
  char *name;                 /* default: the file name without .json */
  char *description;          /* default "" */
  uint64_t seed;              /* default 1; --seed overrides through --set seed=N */
  unsigned workers;           /* worker threads, 0 = one per CPU (default) */
  unsigned processes;         /* default 1 */
  struct ch_scn_target target;
  struct ch_population *populations;
  size_t n_populations;
  size_t total_clients;       /* sum of the counts */
  struct ch_scn_phase *phases;
  size_t n_phases;
  struct ch_scn_trigger *triggers; /* n_triggers >= 1: the object form is one trigger */
  size_t n_triggers;
  bool trigger_array;         /* "trigger" was written as an array */
  struct ch_scn_trigger trigger; /* a shallow, read-only copy of triggers[0] (same pointers, never freed through it),
                                    for code that knows one trigger */
  struct ch_scn_correlation correlation;
  struct ch_scn_expect expect;
  struct ch_scn_threshold *thresholds;
  size_t n_thresholds;
  struct ch_scn_capacity capacity;
  struct ch_cmp_gate *compare_gates; /* "compare": {"max_regression": {...}}: gates for `centro-harness compare` */
  size_t n_compare_gates;
};

/**
 * Loads and validates a scenario file.
 * @param path   the file; a missing or unreadable file is an error naming it
 * @param sets   "PATH=VALUE" overrides (dotted path, numeric array indexes, e.g. "clients.0.count=5000"); VALUE is
 *               parsed as JSON when it parses, else taken as a string
 * @param err    receives every error, one per line ("FILE: $.clients[0].count: expected ..., found ...")
 * @return 0, -EINVAL (invalid input: exit code 3), -ENOENT (missing file), -ENOMEM. *out is set only on 0.
 */
int ch_scenario_load(const char *path, const char *const *sets, size_t nsets, struct ch_scenario **out,
                     struct ch_buf *err);
/* The same from a string; `name` stands for the file name in messages and relative paths resolve against ".". */
int ch_scenario_from_json_string(const char *json, size_t len, const char *name, const char *const *sets,
                                 size_t nsets, struct ch_scenario **out, struct ch_buf *err);
void ch_scenario_free(struct ch_scenario *s);
/* An installed harness's shipped scenario for a relative `path` that does not exist: PREFIX/share/centro-harness/
 * then path, or for a bare name scenarios/NAME or scenarios/NAME.json there (PREFIX from the binary's location).
 * Returns 0 with the file in out, or -1 with out naming the folder searched (or empty). ch_scenario_load uses it. */
int ch_scenario_find(const char *path, char *out, size_t cap);

/* Static names used in files and reports. */
const char *ch_scn_transport_name(enum ch_scn_transport t);
const char *ch_scn_phase_type_name(enum ch_scn_phase_type t);
const char *ch_scn_hub_name(enum ch_scn_hub h);
/* The hub's server methods: "SubscribeToPart"/"UnsubscribeFromPart" or "SubscribeToPipeline"/"UnsubscribeFrom..". */
const char *ch_scn_hub_subscribe_method(enum ch_scn_hub h);
const char *ch_scn_hub_unsubscribe_method(enum ch_scn_hub h);

/* A draw of d in ns from rng (ch_scenario_sessions.c). */
uint64_t ch_scn_dist_draw(const struct ch_scn_dist *d, struct ch_rng *rng);
/* The arrival rate of a session population t ns into a steady phase (sessions per second); in the closed model,
   the count of sessions it should have open then (not rounded). */
double ch_scn_sessions_rate(const struct ch_scn_sessions *ss, uint64_t t_ns);
/* The name of a capacity dimension as the file writes it ("subscribers_per_key", ..., "concurrent_sessions"). */
const char *ch_scn_capacity_dim_name(enum ch_scn_capacity_dim d);
/* Whether any population is a session population. */
bool ch_scenario_has_sessions(const struct ch_scenario *s);

/* Seeds rng for one client so that its choices depend only on (scenario seed, population, client), never on which
   worker runs it or in which order clients start. */
void ch_scenario_client_rng(const struct ch_scenario *s, size_t population, size_t client_index, struct ch_rng *rng);

/**
 * The keys client `client_index` (0-based within the population) subscribes to, as indexes into
 * p->subscribe.keys, deterministic for a given rng state (seed it with ch_scenario_client_rng).
 * @param out  room for max entries; *n receives how many were written (min(per_client, max), n_keys for "all")
 * @return 0, or -ENOSPC when max is smaller than the number of keys this client needs.
 */
int ch_scenario_client_keys(const struct ch_population *p, size_t client_index, struct ch_rng *rng, size_t *out,
                            size_t max, size_t *n);
/* How many keys each client of p subscribes to (the `max` ch_scenario_client_keys needs). */
size_t ch_scenario_keys_per_client(const struct ch_population *p);

/**
 * The keys at least one client subscribes to (over every population, or only population `only` when >= 0), each
 * once, sorted by strcmp: what `"keys": "subscribed"` triggers round-robin. The strings belong to the scenario;
 * free only the array. Deterministic (it replays ch_scenario_client_keys with ch_scenario_client_rng).
 * @return 0 or -ENOMEM. *n may be 0 (then *keys is NULL).
 */
int ch_scenario_subscribed_keys(const struct ch_scenario *s, int only, const char ***keys, size_t *n);

/**
 * The effective scenario as JSON, every default filled in, in the file format (it loads back to the same
 * scenario). Credentials (token, bad_tokens) are replaced by "[REDACTED]"; token_env and token_file are kept; URLs
 * (target, login, triggers) lose userinfo and credential-like query values, and credential-named header values and
 * login body members are "[REDACTED]" unless a placeholder, as in the stored form.
 * For reports and `validate --print`. Appends to out. @return 0 or -ENOMEM.
 */
int ch_scenario_to_json(const struct ch_scenario *s, struct ch_buf *out);
/**
 * The effective scenario as stored beside a report (scenario.json): as ch_scenario_to_json, but with no credential
 * at all: target.auth keeps its mode, scheme, query_param and token_env (a variable's name) and drops token and
 * token_file; bad_tokens are "[REDACTED]"; target and trigger URLs lose userinfo and credential-like query values;
 * trigger headers with credential names (Authorization, Cookie, X-Api-Key...) are "[REDACTED]" unless they are a
 * placeholder; ca_file is absolute. It loads back (from any folder) to a scenario that gives the same text.
 * @return 0 or -ENOMEM.
 */
int ch_scenario_to_json_stored(const struct ch_scenario *s, struct ch_buf *out);

/* Whether any trigger has this type; whether any trigger sends something (type other than "none"). */
bool ch_scenario_has_trigger_type(const struct ch_scenario *s, enum ch_scn_trigger_type type);
bool ch_scenario_triggers_on(const struct ch_scenario *s);
/* Whether trigger t may drive population p's keys ("keys": "subscribed"): no scope, p among its clients, or p on
   its hub. */
bool ch_scenario_trigger_reaches(const struct ch_scn_trigger *t, const struct ch_population *p, size_t pop_index);

/**
 * A trigger file for `check --trigger FILE`, parsed by the scenario's parser with the same path-precise errors:
 * a scenario's trigger (object or array; "clients" is refused, there are no populations, "hub" scopes an element),
 * or check's request form ({"method", "url", "headers", "body", "expect_status", "timeout_ms", "hub",
 * "correlation"}, alone or an array of them, marked legacy). Placeholders as in scenarios, {{hub}} and
 * {{env.NAME}} included. embedded: the default type is "reference" (else "http" for the request form).
 * correlation: from the request form's "correlation" (the first given), or NULL pointers.
 * @return 0, -EINVAL (every error in err, one per line, "FILE: $[1].http.url: ..."), -ENOMEM.
 */
struct ch_scn_trigger_file {
  struct ch_scn_trigger *triggers;
  size_t n;
  struct ch_scn_correlation correlation;
};
int ch_scn_trigger_file_parse(const char *json, size_t len, const char *name, bool embedded,
                              struct ch_scn_trigger_file *out, struct ch_buf *err);
void ch_scn_trigger_file_free(struct ch_scn_trigger_file *f);
/* Frees what one trigger owns (not the struct itself). */
void ch_scn_trigger_clear(struct ch_scn_trigger *t);

/**
 * `centro-harness validate SCENARIO.json [--set PATH=VALUE]...`: prints "FILE: valid (N clients in K populations,
 * M phases)" and returns 0, or prints the errors to stderr and returns CH_EXIT_INPUT (3). argv[0] is "validate".
 * With --print, also prints each valid scenario with its defaults filled in (ch_scenario_to_json).
 */
int ch_validate_main(int argc, char **argv);

#endif /* CH_SCENARIO_H */
