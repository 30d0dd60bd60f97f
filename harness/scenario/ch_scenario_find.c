/* Shipped scenarios of an installed harness: `run smoke` or `run scenarios/smoke.json` outside the source tree
   finds PREFIX/share/centro-harness/scenarios/smoke.json, located relative to the binary (ch_datadir.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ch_datadir.h"
#include "ch_scenario.h"

int ch_scenario_find(const char *path, char *out, size_t cap) {
  char dir[4096];
  if (!path || !path[0] || path[0] == '/' || ch_datadir(dir, sizeof dir))
    return -1;
  /* "scenarios/smoke.json" as in the source tree, then a bare name: "smoke.json" or "smoke" */
  static const char *const forms[] = {"%s/%s", "%s/scenarios/%s", "%s/scenarios/%s.json"};
  size_t nforms = strchr(path, '/') ? 1 : 3;
  for (size_t i = 0; i < nforms; i++) {
    int w = snprintf(out, cap, forms[i], dir, path);
    if (w > 0 && (size_t)w < cap && access(out, R_OK) == 0)
      return 0;
  }
  snprintf(out, cap, "%s/scenarios", dir); /* where it looked, for the error message */
  return -1;
}
