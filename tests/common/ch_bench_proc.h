/* ch_bench_proc: what the benchmark programs read about their own process: CPU seconds used (user + system, all
   threads), resident memory, and any "key value" line of a /proc file. */
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

/* The number after "key" (e.g. "VmRSS:") on its line of a /proc file of lines "key value", -1 when unknown. */
static inline long ch_bench_proc_field(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  char line[256];
  size_t n = strlen(key);
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, n))
      v = strtol(line + n, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

/* VmRSS in KiB, -1 when unknown. */
static inline long ch_bench_rss_kib(void) { return ch_bench_proc_field("/proc/self/status", "VmRSS:"); }

#endif /* CH_BENCH_PROC_H */
