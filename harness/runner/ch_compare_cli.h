/* ch_compare_cli: the `compare` command (gates from the command line and the scenario's "compare" section). */
#ifndef CH_COMPARE_CLI_H
#define CH_COMPARE_CLI_H

/* `centro-harness compare BASE NEW [--max-regression METRIC=LIMIT]... [--html F] [--junit F] [--json F]`.
   argv[0] is "compare". Returns 0, 2 (a gate failed), 3 (bad input, different scenarios), 4 (output not written). */
int ch_compare_main(int argc, char **argv);

#endif /* CH_COMPARE_CLI_H */
