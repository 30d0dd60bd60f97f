/* ch_limits: descriptor budget. The machine allows at most 20,000 open descriptors per process (hard limit); a run
   that cannot fit is refused up front (exit code 4) instead of failing clients half-way. */
#ifndef CH_LIMITS_H
#define CH_LIMITS_H

#include <stddef.h>

#include "ch_buf.h"
#include "ch_client.h"

/* Descriptors one connected client holds in steady state on a transport (webSockets 1; SSE and long polling 2:
   the receive request and a send request). */
unsigned ch_limits_fds_per_client(enum ch_transport t);
/* Descriptors a run needs: clients * per-client + per-worker overhead (loop, curl cache, connect window) + a fixed
   reserve for files, logs and the reference server. */
size_t ch_limits_fds_needed(size_t clients, enum ch_transport t, unsigned workers, unsigned connect_window /* 0: 16 */);
/* Raises RLIMIT_NOFILE's soft limit to the hard limit, then checks `needed`. Returns 0, or -EMFILE with a message
   in msg naming the numbers and the remedies (`ulimit -n`, `--processes N`), or -errno if getrlimit fails. */
int ch_limits_prepare(size_t needed, struct ch_buf *msg);
/* The pure decision behind ch_limits_prepare, for tests: -EMFILE (with msg) when needed > hard. */
int ch_limits_check(size_t needed, size_t soft, size_t hard, struct ch_buf *msg);

#endif /* CH_LIMITS_H */
