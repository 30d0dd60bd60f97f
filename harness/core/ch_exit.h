/* ch_exit: the stable, documented exit codes of centro-harness (README "Exit codes"). */
#ifndef CH_EXIT_H
#define CH_EXIT_H

enum ch_exit {
  CH_EXIT_OK = 0,            /* everything passed */
  CH_EXIT_CHECK_FAILED = 1,  /* a conformance check failed */
  CH_EXIT_THRESHOLD = 2,     /* a threshold failed (and no check did) */
  CH_EXIT_INPUT = 3,         /* invalid input: usage, scenario file, token file */
  CH_EXIT_RUN = 4,           /* the run could not be carried out: target unreachable, port in use, out of fds */
  CH_EXIT_SIGINT = 130,      /* interrupted by SIGINT (Ctrl-C); the report of what was measured is written */
  CH_EXIT_SIGTERM = 143,     /* interrupted by SIGTERM (CI cancel, pod deletion); the report is written */
};

#endif /* CH_EXIT_H */
