/* libFuzzer target: bytes as a scenario file. Lines at the start of the form "--set PATH=VALUE\n" are taken as
   overrides first, so the override path code is fuzzed too. A scenario that loads is then exercised: key assignment
   for a few clients of each population, rendering of the HTTP trigger templates, and the effective-scenario JSON,
   which must load back to the same scenario (same JSON again). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"

#define FUZZ_MAX_SETS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  const char *sets[FUZZ_MAX_SETS];
  size_t nsets = 0, off = 0;
  while (nsets < FUZZ_MAX_SETS && size - off > 6 && !strncmp(text + off, "--set ", 6)) {
    char *nl = memchr(text + off, '\n', size - off);
    if (!nl)
      break;
    *nl = '\0';
    sets[nsets++] = text + off + 6;
    off = (size_t)(nl - text) + 1;
  }
  struct ch_scenario *s = NULL;
  struct ch_buf err = CH_BUF_INIT;
  if (ch_scenario_from_json_string(text + off, size - off, "fuzz.json", sets, nsets, &s, &err) == 0) {
    size_t keys[64], n;
    for (size_t p = 0; p < s->n_populations; p++) {
      const struct ch_population *pop = &s->populations[p];
      for (size_t c = 0; c < pop->count && c < 4; c++) {
        struct ch_rng rng;
        ch_scenario_client_rng(s, p, c, &rng);
        if (ch_scenario_client_keys(pop, c, &rng, keys, 64, &n) == 0)
          for (size_t i = 0; i < n; i++)
            if (keys[i] >= pop->subscribe.n_keys)
              abort();
      }
    }
    if (s->trigger.type == CH_SCN_TRIGGER_HTTP && s->trigger.http.url) {
      struct ch_buf out = CH_BUF_INIT;
      struct ch_template_vars v = {.key = "k\"/ &", .seq = 7, .nonce = "n", .now_ms = 1};
      ch_template_render(s->trigger.http.url, &v, &out);
      if (s->trigger.http.body)
        ch_template_render(s->trigger.http.body, &v, &out);
      ch_buf_free(&out);
    }
    struct ch_buf a = CH_BUF_INIT, b = CH_BUF_INIT, e2 = CH_BUF_INIT;
    struct ch_scenario *s2 = NULL;
    if (ch_scenario_to_json(s, &a) == 0) {
      if (ch_scenario_from_json_string(a.data, a.len, "fuzz.json", NULL, 0, &s2, &e2) != 0)
        abort(); /* the effective scenario must be a valid scenario */
      if (ch_scenario_to_json(s2, &b) == 0 && strcmp(a.data, b.data))
        abort();
    }
    ch_scenario_free(s2);
    s2 = NULL;
    ch_buf_reset(&a), ch_buf_reset(&b);
    if (ch_scenario_to_json_stored(s, &a) == 0) { /* scenario.json: loads and stays the same (its SHA-256 too) */
      if (ch_scenario_from_json_string(a.data, a.len, "fuzz.json", NULL, 0, &s2, &e2) != 0)
        abort();
      if (ch_scenario_to_json_stored(s2, &b) == 0 && strcmp(a.data, b.data))
        abort();
    }
    ch_scenario_free(s2);
    ch_buf_free(&a);
    ch_buf_free(&b);
    ch_buf_free(&e2);
    ch_scenario_free(s);
  } else if (!err.data || !err.len) {
    abort(); /* a refusal always says why */
  }
  ch_buf_free(&err);
  /* the same bytes as a trigger file of check --trigger: parsed by the same code, refused with a reason */
  struct ch_scn_trigger_file tf;
  int trc = ch_scn_trigger_file_parse(text + off, size - off, "fuzz.json", false, &tf, &err);
  if (trc == 0)
    ch_scn_trigger_file_free(&tf);
  else if (trc == -EINVAL && (!err.data || !err.len))
    abort();
  ch_buf_free(&err);
  free(text);
  return 0;
}
