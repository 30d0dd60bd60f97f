/* The scenario's "compare" section: the regression gates `centro-harness compare` applies to runs of this scenario,
   {"max_regression": {"update_latency.p99": "+10%", "errors": "+0", "delivery_ratio": "-0.001"}}. The gates are
   parsed by ch_cmp_gate_parse (metrics area), so the file and --max-regression accept the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_scn_check.h"

void ch__scn_compare(struct ch__scn_ctx *c, const cJSON *root, struct ch_scenario *s) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "compare");
  if (!o || cJSON_IsNull(o))
    return;
  size_t mark = ch__scn_push_key(c, "compare");
  static const char *const keys[] = {"max_regression", NULL};
  const cJSON *m = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "max_regression") : NULL;
  if (!cJSON_IsObject(o)) {
    ch__scn_fail(c, o, false, "an object {\"max_regression\": {\"METRIC\": \"LIMIT\", ...}}");
  } else {
    ch__scn_check_keys(c, o, keys);
    size_t m2 = ch__scn_push_key(c, "max_regression");
    if (m && !cJSON_IsObject(m))
      ch__scn_fail(c, m, false, "an object of METRIC: LIMIT, e.g. {\"update_latency.p99\": \"+10%\"}");
    else if (m && !(s->compare_gates = calloc((size_t)cJSON_GetArraySize(m) + 1, sizeof *s->compare_gates)))
      c->oom = true;
    for (const cJSON *it = m && s->compare_gates ? m->child : NULL; it; it = it->next) {
      size_t m3 = ch__scn_push_key(c, it->string ? it->string : "");
      char num[32];
      const char *limit = cJSON_IsString(it) ? it->valuestring : NULL;
      if (cJSON_IsNumber(it)) {
        snprintf(num, sizeof num, "%g", it->valuedouble);
        limit = num;
      }
      if (!limit) {
        ch__scn_fail(c, it, false, "a limit such as \"+10%\", \"+5ms\" or 0");
      } else {
        struct ch_buf e = CH_BUF_INIT;
        if (ch_cmp_gate_parse(it->string, limit, &s->compare_gates[s->n_compare_gates], &e))
          ch__scn_failf(c, it, "%s", e.data ? e.data : "invalid gate");
        else
          s->n_compare_gates++;
        ch_buf_free(&e);
      }
      ch__scn_pop(c, m3);
    }
    ch__scn_pop(c, m2);
  }
  ch__scn_pop(c, mark);
}
