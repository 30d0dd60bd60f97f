/* `centro-harness validate SCENARIO.json... [--set PATH=VALUE]...` */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_exit.h"
#include "ch_scenario.h"

static void validate_usage(FILE *f) {
  fprintf(f, "Usage: centro-harness validate SCENARIO.json... [OPTIONS]\n\n"
             "Checks scenario files without running them: syntax, every key and type, durations, URLs, hubs,\n"
             "transports, phases and thresholds (see scenarios/README.md).\n\n"
             "Options:\n"
             "  --set PATH=VALUE   override a value first, e.g. --set clients.0.count=5000\n"
             "                     (VALUE is parsed as JSON when it is JSON, else taken as a string)\n"
             "  --seed N           same as --set seed=N\n"
             "  --print            also print each valid scenario with every default filled in (credentials redacted\n"
             "                     as in a report's scenario.json)\n"
             "  -h, --help         this text\n\n"
             "Exit codes: 0 every file is valid, 3 a file is invalid or missing (errors on stderr).\n");
}

int ch_validate_main(int argc, char **argv) {
  const char **sets = calloc((size_t)argc + 1, sizeof *sets);
  char **owned = calloc((size_t)argc + 1, sizeof *owned);
  const char **files = calloc((size_t)argc + 1, sizeof *files);
  size_t nsets = 0, nfiles = 0, nowned = 0;
  bool print = false;
  int rc = CH_EXIT_OK;
  if (!sets || !owned || !files) {
    fprintf(stderr, "validate: out of memory\n");
    rc = CH_EXIT_RUN;
    goto done;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      validate_usage(stdout);
      goto done;
    } else if (!strcmp(a, "--set") || !strcmp(a, "--seed")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "validate: %s needs a value\n", a);
        rc = CH_EXIT_INPUT;
        goto done;
      }
      if (!strcmp(a, "--set")) {
        sets[nsets++] = argv[++i];
      } else {
        size_t n = strlen(argv[i + 1]) + 6;
        char *s = malloc(n);
        if (!s) {
          rc = CH_EXIT_RUN;
          goto done;
        }
        snprintf(s, n, "seed=%s", argv[++i]);
        owned[nowned++] = s;
        sets[nsets++] = s;
      }
    } else if (!strcmp(a, "--print")) {
      print = true;
    } else if (!strncmp(a, "--set=", 6)) {
      sets[nsets++] = a + 6;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "validate: unknown option '%s'\n", a);
      validate_usage(stderr);
      rc = CH_EXIT_INPUT;
      goto done;
    } else {
      files[nfiles++] = a;
    }
  }
  if (!nfiles) {
    fprintf(stderr, "validate: expected a scenario file\n");
    validate_usage(stderr);
    rc = CH_EXIT_INPUT;
    goto done;
  }
  for (size_t f = 0; f < nfiles; f++) {
    struct ch_scenario *s = NULL;
    struct ch_buf err = CH_BUF_INIT;
    int r = ch_scenario_load(files[f], sets, nsets, &s, &err);
    if (r == 0) {
      printf("%s: valid (%zu clients in %zu population%s, %zu phase%s)\n", files[f], s->total_clients,
             s->n_populations, s->n_populations == 1 ? "" : "s", s->n_phases, s->n_phases == 1 ? "" : "s");
      struct ch_buf text = CH_BUF_INIT;
      if (print && ch_scenario_to_json(s, &text) == 0)
        printf("%s\n", text.data);
      else if (print)
        rc = CH_EXIT_RUN;
      ch_buf_free(&text);
      ch_scenario_free(s);
    } else {
      if (r == -ENOMEM)
        fprintf(stderr, "%s: out of memory\n", files[f]);
      else
        fputs(err.data ? err.data : "invalid\n", stderr);
      rc = CH_EXIT_INPUT;
    }
    ch_buf_free(&err);
  }
done:
  for (size_t i = 0; owned && i < nowned; i++)
    free(owned[i]);
  free(owned);
  free(sets);
  free(files);
  return rc;
}
