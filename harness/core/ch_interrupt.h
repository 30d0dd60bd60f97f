/* ch_interrupt: SIGINT and SIGTERM for the commands that run a timeline (run, capacity, check).
 *
 * The context owns a libuv loop with two uv_signal_t handles; the thread that owns the run's timeline opens it and
 * polls it between steps (ch_interrupt_poll never blocks). The first signal asks for a graceful stop, a second one
 * for an immediate stop (README "Interrupting a run"). No global state: libuv's own handler writes into this loop's
 * signal pipe, whichever thread the kernel delivers the signal to. */
#ifndef CH_INTERRUPT_H
#define CH_INTERRUPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct ch_interrupt {
  uv_loop_t loop;
  uv_signal_t sig[2];
  bool open;
  unsigned count;      /* signals received so far */
  int signum;          /* the first one (SIGINT or SIGTERM); 0 until then */
  uint64_t at_wall_ns; /* when the first arrived */
  const pid_t *forward; /* children the signal is passed on to (run --processes); may be NULL */
  size_t n_forward;
};

/* Starts catching SIGINT and SIGTERM. @return 0 or a negative libuv error. */
int ch_interrupt_open(struct ch_interrupt *it);
/* Takes delivery of pending signals (does not block) and returns how many arrived so far; 0 when it is not open. */
unsigned ch_interrupt_poll(struct ch_interrupt *it);
/* Restores the default dispositions and closes the loop. Idempotent. */
void ch_interrupt_close(struct ch_interrupt *it);

/* "SIGINT", "SIGTERM", or "signal N". */
const char *ch_signal_name(int signum);
/* The exit code after the first signal: 130 for SIGINT, 143 for SIGTERM (128 + the signal number). */
int ch_interrupt_exit_code(const struct ch_interrupt *it);

#endif /* CH_INTERRUPT_H */
