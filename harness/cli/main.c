/* centro-harness: command dispatcher. Each command lives in the area that owns it. */
#include <stdio.h>
#include <string.h>

#include "ch_checks.h"
#include "ch_compare_cli.h"
#include "ch_exit.h"
#include "ch_report.h"
#include "ch_runner.h"
#include "ch_scenario.h"
#include "ch_server.h"
#include "ch_shrink.h"
#include "ch_version.h"

struct cli_command {
  const char *name;
  int (*main)(int argc, char **argv);
  const char *summary;
};

static int cli_version_main(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("Usage: centro-harness version\n\n"
           "Prints the version of centro-harness and, when it was built from a git checkout, the commit it was\n"
           "built from (git describe --always --dirty), e.g. \"centro-harness 0.1.0 (git 20a6130-dirty)\", then\n"
           "the libraries it was built with and runs with (libcurl, libwebsockets, OpenSSL, libuv, cJSON, MPI);\n"
           "report.json records the same as \"harness\". The same as `centro-harness --version`.\n");
    return CH_EXIT_OK;
  }
  if (argc > 1) {
    fprintf(stderr, "exit 3: version takes no arguments, found '%s'\n", argv[1]);
    return CH_EXIT_INPUT;
  }
  ch_version_print(stdout);
  return CH_EXIT_OK;
}

static const struct cli_command cli_commands[] = {
    {"run", ch_run_main, "run a scenario file against a target (or the embedded reference endpoint)"},
    {"capacity", ch_capacity_main, "step a scenario's load until an SLO breaks and report the knee"},
    {"check", ch_check_main, "run the conformance catalogue against a target"},
    {"validate", ch_validate_main, "check a scenario file without running it"},
    {"serve", ch_server_main, "run the reference Centro endpoint"},
    {"report", ch_report_main, "re-render a report.json as HTML, JUnit or a terminal summary"},
    {"merge", ch_merge_main, "merge the report.json files of the shards of one run"},
    {"compare", ch_compare_main, "compare two runs, gate on regressions against a baseline"},
    {"shrink", ch_shrink_main, "reduce a failing scenario to the smallest one that still fails the same way"},
    {"version", cli_version_main, "print the version and the commit it was built from"},
};

static void cli_usage(FILE *f) {
  fprintf(f, "Usage: centro-harness <command> [OPTIONS] ...\n"
             "\nProtocol-conformance and load-testing harness for classic ASP.NET SignalR 2.x hubs.\n"
             "\nCommands:\n");
  for (size_t i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++)
    fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
  fprintf(f, "\n'centro-harness <command> --help' describes a command's options; each command also has a manual\n"
             "page, centro-harness-<command>(1). 'centro-harness --version' prints the version.\n"
             "\nExit codes:\n"
             "  0  everything passed\n"
             "  1  a conformance check failed\n"
             "  2  a threshold failed (and no check did)\n"
             "  3  invalid input (usage, scenario file, token file)\n"
             "  4  the run could not be carried out (target unreachable, port in use, out of file descriptors)\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    cli_usage(stderr);
    fprintf(stderr, "exit 3: no command given\n");
    return CH_EXIT_INPUT;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    cli_usage(stdout);
    return CH_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    ch_version_print(stdout);
    return CH_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++)
    if (!strcmp(argv[1], cli_commands[i].name))
      return cli_commands[i].main(argc - 1, argv + 1);
  cli_usage(stderr);
  fprintf(stderr, "exit 3: unknown command '%s'\n", argv[1]);
  return CH_EXIT_INPUT;
}
