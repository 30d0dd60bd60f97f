/* ch_limits: descriptor budget (see ch_limits.h). */
#include "ch_limits.h"

#include <errno.h>
#include <sys/resource.h>

/* Per worker: epoll, eventfd/async, lws's pipe, curl's wakeup socketpair, resolver threads' spare, and the idle
   connections curl may cache (CURLMOPT_MAXCONNECTS). */
#define FDS_PER_WORKER 48u
/* Process-wide: stdio, log and report files, /dev/urandom, the reference server's listeners and spare headroom
   (fopen of /proc files must still work at the limit). */
#define FDS_RESERVE 64u

/* Per worker: POST /send requests of SSE and long-polling clients in flight at once (the runner keeps at most 256
   invocations in flight per worker); each holds a connection only while it lasts. */
#define FDS_SENDS_PER_WORKER 256u
/* Per worker: /abort requests in flight while a disconnect stops clients (the runner stops at most 128 per worker at
   once, RUN_STOP_WINDOW); the send budget above already covers them on SSE and long polling. */
#define FDS_STOPS_PER_WORKER 128u

unsigned ch_limits_fds_per_client(enum ch_transport t) {
  (void)t; /* the WebSocket, the event stream or the held poll; sends are budgeted per worker */
  return 1;
}

size_t ch_limits_fds_needed(size_t clients, enum ch_transport t, unsigned workers, unsigned connect_window) {
  if (!workers)
    workers = 1;
  if (!connect_window)
    connect_window = 16; /* the engine's default */
  /* During the handshake a client also holds its negotiate/start HTTP connection: at most connect_window per
     worker at once. */
  unsigned sends = t == CH_TRANSPORT_WEBSOCKETS ? FDS_STOPS_PER_WORKER : FDS_SENDS_PER_WORKER;
  return clients * ch_limits_fds_per_client(t) + (size_t)workers * (FDS_PER_WORKER + connect_window + sends) +
         FDS_RESERVE;
}

int ch_limits_check(size_t needed, size_t soft, size_t hard, struct ch_buf *msg) {
  (void)soft;
  if (needed <= hard)
    return 0;
  if (msg)
    ch_buf_printf(msg,
                  "this run needs about %zu file descriptors but the process may open at most %zu (hard limit). "
                  "Raise the limit (ulimit -n %zu, or the hard limit in limits.conf / systemd LimitNOFILE), "
                  "or split the clients over several processes (--processes %zu).",
                  needed, hard, needed, (needed + hard - 1) / (hard ? hard : 1) + 1);
  return -EMFILE;
}

int ch_limits_prepare(size_t needed, struct ch_buf *msg) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -errno;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit want = {rl.rlim_max, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
      rl.rlim_cur = rl.rlim_max;
  }
  size_t hard = rl.rlim_max == RLIM_INFINITY ? (size_t)-1 : (size_t)rl.rlim_max;
  size_t soft = rl.rlim_cur == RLIM_INFINITY ? (size_t)-1 : (size_t)rl.rlim_cur;
  if (soft < hard && needed > soft && needed <= hard)
    hard = soft; /* the raise failed: the soft limit is what we really have */
  return ch_limits_check(needed, soft, hard, msg);
}
