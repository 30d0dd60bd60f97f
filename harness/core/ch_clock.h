/* ch_clock: monotonic nanoseconds for every latency; wall clock only for report timestamps. */
#ifndef CH_CLOCK_H
#define CH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ch_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ch_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* CH_CLOCK_H */
