/* ch_bench_proc: what the benchmark programs read about their own process: CPU seconds used (user + system, all
   threads) and resident memory. */
#ifndef CH_BENCH_PROC_H
#define CH_BENCH_PROC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static inline double ch_bench_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* VmRSS in KiB, -1 when unknown. */
static inline long ch_bench_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6))
      v = strtol(line + 6, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

#endif /* CH_BENCH_PROC_H */
