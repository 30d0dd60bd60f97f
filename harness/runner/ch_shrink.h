/* ch_shrink: `centro-harness shrink`, the smallest scenario that still fails the same way.
 *
 * The scenario (with --set and --seed applied, every default filled in, no credential) is reduced one dimension at
 * a time: clients per population (a session population's slots or target counts), session arrival rates and
 * stages, populations, keys, trigger rate and count, phase durations. Every candidate is
 * run as a child `centro-harness run` (so a crash of the run is contained), and kept when the same check id still
 * fails (--check) or the same threshold still fails (--threshold). Each dimension is halved while that keeps
 * failing, then reduced by single steps (one client, one key, one trigger; a quarter of a duration).
 */
#ifndef CH_SHRINK_H
#define CH_SHRINK_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* One reduction of the scenario document. */
enum ch__shrink_dim {
  CH__SHRINK_CLIENTS,    /* clients[i].count; a session population's sessions.max_concurrent (open model) or its
                            targets (closed model: stages, start and max_concurrent together) */
  CH__SHRINK_ARRIVAL,    /* clients[i].sessions: the open model's rate and stage targets together */
  CH__SHRINK_STAGES,     /* clients[i].sessions.stages: the last ones dropped (one stays) */
  CH__SHRINK_POPULATION, /* drop clients[i] and the phases only it runs */
  CH__SHRINK_KEYS,       /* clients[i].subscribe: keys, range or key_count */
  CH__SHRINK_RATE,       /* trigger.rate (trigger[i].rate when "trigger" is an array) */
  CH__SHRINK_COUNT,      /* trigger.count (likewise) */
  CH__SHRINK_DURATION,   /* phases[i].duration */
  CH__SHRINK_N_DIMS
};

/**
 * Applies one reduction to doc (the effective scenario as JSON) in place: halve (true) or one step (false) of
 * dimension dim at index i (population, phase or trigger). Fills what (e.g. "clients[0].count 1000
 * -> 500"). @return true when something was reduced, false when that dimension is at its smallest (doc unchanged).
 */
bool ch__shrink_apply(struct cJSON *doc, enum ch__shrink_dim dim, size_t i, bool halve, char *what, size_t n);
/* How many indexes dimension dim has in doc (populations, phases, triggers). */
size_t ch__shrink_count(const struct cJSON *doc, enum ch__shrink_dim dim);

/* `centro-harness shrink SCENARIO.json --check ID | --threshold EXPR [-o FILE] [--max-runs N] [--max-time D]
   [target options]`. argv[0] is "shrink". Returns 0 (written), 1 (the scenario does not fail that way), 3 (bad
   input), 4 (the first run could not be carried out or the output not written). */
int ch_shrink_main(int argc, char **argv);

#endif /* CH_SHRINK_H */
