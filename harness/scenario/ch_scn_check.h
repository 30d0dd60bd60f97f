/* ch_scn_check (internal to the scenario area): the validation context shared by the loader's files. Every error
 * goes through here so that all of them have one shape: "FILE: $.path: expected WHAT, found WHAT". Validation never
 * stops at the first error: getters report, store a default and let the caller carry on.
 */
#ifndef CH_SCN_CHECK_H
#define CH_SCN_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

/* A node that a --set override put into the tree: errors about it say so (by path, never by value). */
struct ch__scn_set_node {
  const cJSON *node;
  char *path; /* the override's PATH as given */
};

struct ch__scn_ctx {
  const char *file;      /* name used in messages */
  const char *dir;       /* folder for relative paths */
  struct ch_buf *err;    /* may be NULL: errors are then only counted */
  size_t n_errors;
  bool oom;
  struct ch_buf path;    /* "$.clients[0].count" */
  struct ch__scn_set_node *set_nodes;
  size_t n_set_nodes;
  size_t keys_total;     /* keys materialised so far over all populations (bounded: memory) */
  size_t addrs_total;    /* source addresses likewise */
};

/* Path handling: push returns the length to pop back to. */
size_t ch__scn_push_key(struct ch__scn_ctx *c, const char *key);
size_t ch__scn_push_index(struct ch__scn_ctx *c, size_t i);
void ch__scn_pop(struct ch__scn_ctx *c, size_t mark);

/* "FILE: PATH: expected EXPECTED, found <description of found>" (found NULL: "found nothing"). secret hides values. */
void ch__scn_fail(struct ch__scn_ctx *c, const cJSON *found, bool secret, const char *expected);
/* "FILE: PATH: <message>" */
void ch__scn_failf(struct ch__scn_ctx *c, const cJSON *origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports every key of obj not in allowed (NULL-terminated), with a "did you mean" suggestion, and duplicates. */
void ch__scn_check_keys(struct ch__scn_ctx *c, const cJSON *obj, const char *const *allowed);
/* The closest of candidates (NULL-terminated) to s, or NULL when none is close enough to suggest. */
const char *ch__scn_suggest(const char *s, const char *const *candidates);

/* Typed getters for obj[key]. An absent key (or JSON null when null_ok) stores the default and returns false. On a
   wrong value they report, store the default and return false. They return true when a valid value was read. */
bool ch__scn_string(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, const char *def,
                    char **out);
bool ch__scn_bool(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool def, bool *out);
bool ch__scn_uint(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, uint64_t min,
                  uint64_t max, uint64_t def, uint64_t *out);
bool ch__scn_number(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, double min, double max,
                    bool min_exclusive, double def, double *out);
bool ch__scn_duration(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, uint64_t def,
                      uint64_t *out);
/* A rate: a positive number (per second) or a string "500/s", "30/m". */
bool ch__scn_rate(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, double def, double *out);
/* The phase types' names in scenario files, by enum ch_scn_phase_type, NULL-terminated (one list for the parser
   and ch_scn_phase_type_name). */
extern const char *const ch__scn_phase_names[];
/* One of names (NULL-terminated); stores the index. */
bool ch__scn_enum(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required,
                  const char *const *names, int def, int *out);
/* A JSON Pointer (RFC 6901) or null. */
bool ch__scn_pointer(struct ch__scn_ctx *c, const cJSON *obj, const char *key, const char *def, char **out);
/* A path relative to c->dir that must name a readable file. */
bool ch__scn_file(struct ch__scn_ctx *c, const cJSON *obj, const char *key, char **out);

/* Reports the first syntax error of json (cJSON stopped near cjson_off) with line, column, expected and found. */
void ch__scn_syntax_error(struct ch__scn_ctx *c, const char *json, size_t len, size_t cjson_off);

/* Error-tolerant strdup: NULL in, NULL out; flags c->oom. */
char *ch__scn_strdup(struct ch__scn_ctx *c, const char *s);

/* The parts of the loader (one file each). They read root's keys into s and report through c. */
struct ch_scenario;
struct ch_population;
struct ch_scn_auth;
void ch__scn_populations(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s);
void ch__scn_phases(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s);
void ch__scn_compare(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s);
void ch__scn_population_free(struct ch_population *p);
/* ch_scenario_sessions.c: a population's "sessions" (sets its count to max_concurrent); what it owns. */
void ch__scn_sessions(struct ch__scn_ctx *c, const cJSON *pop, struct ch_population *p);
void ch__scn_sessions_free(struct ch_population *p);
/* capacity.clients and whether the population the dimension steps fits it (o: the "capacity" object). */
void ch__scn_capacity_population(struct ch__scn_ctx *c, const cJSON *o, struct ch_scenario *s);
/* "trigger" (ch_scenario_trigger.c): read before the populations; its scope ("clients" resolved, keys no other
   trigger drives, populations no trigger reaches) judged after them and after "capacity". */
void ch__scn_triggers(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s);
void ch__scn_triggers_scope(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s);
/* Applies "PATH=VALUE" overrides to root; records the nodes it creates in c (for messages). */
void ch__scn_apply_sets(struct ch__scn_ctx *c, cJSON *root, const char *const *sets, size_t nsets);
/* ch_scenario_auth.c: target.auth.login and target.auth.command into a; returns how many of the two are given. */
int ch__scn_auth_fetchers(struct ch__scn_ctx *c, const cJSON *auth, struct ch_scn_auth *a);
void ch__scn_auth_fetchers_free(struct ch_scn_auth *a);
/* Builds the Zipf CDF of a population (called by the loader once keys are known). Returns 0 or -ENOMEM. */
int ch__scn_zipf_build(struct ch_population *p);

#endif /* CH_SCN_CHECK_H */
