/* Benchmark helper (not a benchmark itself), used by tests/bench/run.sh:
     bench_probe watch PID OUT.tsv [INTERVAL_MS=50] [MAX_SECONDS=600]
         every interval, one line "wall_s rss_kb fds cpu_ticks procs top_thread_ticks" for PID plus its direct
         children (shards, forked server siblings), summed (top_thread_ticks: the busiest thread of PID alone);
         ends when PID is gone or after MAX_SECONDS. fds comes from the size of
         /proc/PID/fd (an O(1) count on Linux >= 6.2), so sampling at 20 Hz costs next to nothing.
     bench_probe json FILE|- POINTER [POINTER...]
         prints the value at each JSON Pointer (RFC 6901) of the document, one per line ("null" when absent).
     bench_probe series FILE
         prints report.json's per-second series as lines "t connected messages_in deliveries".
     bench_probe cpu PID
         prints utime+stime of PID in seconds (all its threads).
     bench_probe stats CONTROL_PORT PID OUT.tsv [INTERVAL_MS=100]
         while PID lives, GETs the reference server's /stats on 127.0.0.1:CONTROL_PORT and writes
         "wall_s deliveries publishes dropped_messages" lines (the server's own count of Update deliveries). */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ch_buf.h"
#include "ch_clock.h"

static int read_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return (int)n;
}

static long rss_kb(long pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  if (read_file(path, buf, sizeof buf) < 0)
    return -1;
  const char *p = strstr(buf, "VmRSS:");
  return p ? strtol(p + 6, NULL, 10) : 0;
}

/* utime + stime in clock ticks (fields 14 and 15, counted after the ")" closing the command name). */
static long long cpu_ticks(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (read_file(path, buf, sizeof buf) < 0)
    return -1;
  const char *p = strrchr(buf, ')');
  if (!p)
    return -1;
  p += 2; /* field 3, state */
  for (int f = 3; f < 14 && p; f++) {
    p = strchr(p, ' ');
    if (p)
      p++;
  }
  if (!p)
    return -1;
  char *e;
  long long ut = strtoll(p, &e, 10), st = strtoll(e, NULL, 10);
  return ut + st;
}

static long fd_count(long pid) {
  char path[64];
  struct stat sb;
  snprintf(path, sizeof path, "/proc/%ld/fd", pid);
  return stat(path, &sb) ? -1 : (long)sb.st_size;
}

/* The direct children of pid (over all its threads). */
static size_t children(long pid, long *out, size_t cap) {
  char path[64], buf[8192];
  size_t n = 0;
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  DIR *d = opendir(path);
  if (!d)
    return 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < cap) {
    if (de->d_name[0] == '.')
      continue;
    char cp[384];
    snprintf(cp, sizeof cp, "/proc/%ld/task/%s/children", pid, de->d_name);
    if (read_file(cp, buf, sizeof buf) <= 0)
      continue;
    for (char *p = buf, *e; *p && n < cap; p = e) {
      long c = strtol(p, &e, 10);
      if (e == p)
        break;
      out[n++] = c;
    }
  }
  closedir(d);
  return n;
}

/* The largest utime+stime among the threads of pid. */
static long long top_thread(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  DIR *d = opendir(path);
  long long top = 0;
  if (!d)
    return 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    char sp[384], buf[1024];
    snprintf(sp, sizeof sp, "/proc/%ld/task/%s/stat", pid, de->d_name);
    if (read_file(sp, buf, sizeof buf) <= 0)
      continue;
    const char *p = strrchr(buf, ')');
    for (int f = 2; f < 14 && p; f++) {
      p = strchr(p + 1, ' ');
    }
    if (!p)
      continue;
    char *e;
    long long t = strtoll(p + 1, &e, 10);
    t += strtoll(e, NULL, 10);
    if (t > top)
      top = t;
  }
  closedir(d);
  return top;
}

static int cmd_watch(int argc, char **argv) {
  if (argc < 4)
    return 3;
  long pid = atol(argv[2]);
  FILE *out = fopen(argv[3], "w");
  if (!out) {
    perror(argv[3]);
    return 4;
  }
  long interval = argc > 4 ? atol(argv[4]) : 50;
  double max_s = argc > 5 ? atof(argv[5]) : 600;
  if (interval < 5)
    interval = 5;
  uint64_t t0 = ch_now_ns();
  while (kill((pid_t)pid, 0) == 0 && (double)(ch_now_ns() - t0) / 1e9 < max_s) {
    long pids[256];
    pids[0] = pid;
    size_t n = 1 + children(pid, pids + 1, 255);
    long rss = 0, fds = 0;
    long long cpu = 0;
    for (size_t i = 0; i < n; i++) {
      long r = rss_kb(pids[i]), f = fd_count(pids[i]);
      long long c = cpu_ticks(pids[i]);
      rss += r > 0 ? r : 0;
      fds += f > 0 ? f : 0;
      cpu += c > 0 ? c : 0;
    }
    if (rss_kb(pid) < 0) /* gone, or a zombie whose numbers are no longer meaningful */
      break;
    fprintf(out, "%.3f %ld %ld %lld %zu %lld\n", (double)ch_wall_ns() / 1e9, rss, fds, cpu, n, top_thread(pid));
    fflush(out);
    struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  fclose(out);
  return 0;
}

static int cmd_json(int argc, char **argv) {
  if (argc < 4)
    return 3;
  struct ch_buf b = CH_BUF_INIT;
  FILE *f = strcmp(argv[2], "-") ? fopen(argv[2], "r") : stdin;
  if (!f) {
    perror(argv[2]);
    return 4;
  }
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    ch_buf_append(&b, tmp, n);
  if (f != stdin)
    fclose(f);
  cJSON *doc = b.data ? cJSON_ParseWithLength(b.data, b.len) : NULL;
  ch_buf_free(&b);
  if (!doc) {
    fprintf(stderr, "bench_probe: %s: not JSON\n", argv[2]);
    return 3;
  }
  for (int i = 3; i < argc; i++) {
    const cJSON *v = doc;
    char *path = strdup(argv[i]), *save = NULL;
    for (char *tok = strtok_r(path, "/", &save); tok && v; tok = strtok_r(NULL, "/", &save)) {
      if (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, atoi(tok));
      else
        v = cJSON_GetObjectItemCaseSensitive(v, tok);
    }
    free(path);
    if (!v)
      puts("null");
    else if (cJSON_IsNumber(v))
      printf("%.17g\n", v->valuedouble);
    else if (cJSON_IsString(v))
      puts(v->valuestring);
    else {
      char *s = cJSON_PrintUnformatted(v);
      puts(s ? s : "null");
      free(s);
    }
  }
  cJSON_Delete(doc);
  return 0;
}

static long long stat_field(const char *body, const char *name) {
  char key[64];
  snprintf(key, sizeof key, "\"%s\":", name);
  const char *p = strstr(body, key);
  return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* One GET /stats over a fresh loopback connection (bounded by a 2 s receive timeout). */
static int get_stats(int port, char *buf, size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static const char req[] = "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  size_t n = 0;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && send(fd, req, sizeof req - 1, 0) == (ssize_t)(sizeof req - 1)) {
    ssize_t r;
    while (n < cap - 1 && (r = recv(fd, buf + n, cap - 1 - n, 0)) > 0)
      n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  return n ? 0 : -1;
}

static int cmd_stats(int argc, char **argv) {
  if (argc < 5)
    return 3;
  int port = atoi(argv[2]);
  long pid = atol(argv[3]);
  long interval = argc > 5 ? atol(argv[5]) : 100;
  if (interval < 10)
    interval = 10;
  FILE *out = fopen(argv[4], "w");
  if (!out) {
    perror(argv[4]);
    return 4;
  }
  uint64_t t0 = ch_now_ns();
  while (kill((pid_t)pid, 0) == 0 && ch_now_ns() - t0 < 600000000000ull) {
    char buf[4096];
    if (get_stats(port, buf, sizeof buf) == 0) {
      fprintf(out, "%.3f %lld %lld %lld\n", (double)ch_wall_ns() / 1e9, stat_field(buf, "deliveries"),
              stat_field(buf, "publishes"), stat_field(buf, "dropped_messages"));
      fflush(out);
    }
    struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  fclose(out);
  return 0;
}

static int cmd_series(const char *file) {
  struct ch_buf b = CH_BUF_INIT;
  FILE *f = fopen(file, "r");
  if (!f) {
    perror(file);
    return 4;
  }
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    ch_buf_append(&b, tmp, n);
  fclose(f);
  cJSON *doc = b.data ? cJSON_ParseWithLength(b.data, b.len) : NULL;
  ch_buf_free(&b);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "metrics");
  const cJSON *series = cJSON_GetObjectItemCaseSensitive(m, "series"), *pt;
  cJSON_ArrayForEach(pt, series) {
    printf("%.0f %.0f %.0f %.0f\n", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, "t")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, "connected")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, "messages_in")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, "deliveries")));
  }
  cJSON_Delete(doc);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && !strcmp(argv[1], "stats"))
    return cmd_stats(argc, argv);
  if (argc == 3 && !strcmp(argv[1], "series"))
    return cmd_series(argv[2]);
  if (argc >= 3 && !strcmp(argv[1], "watch"))
    return cmd_watch(argc, argv);
  if (argc >= 4 && !strcmp(argv[1], "json"))
    return cmd_json(argc, argv);
  if (argc == 3 && !strcmp(argv[1], "cpu")) {
    long long t = cpu_ticks(atol(argv[2]));
    if (t < 0)
      return 4;
    printf("%.3f\n", (double)t / (double)sysconf(_SC_CLK_TCK));
    return 0;
  }
  fprintf(stderr, "usage: bench_probe watch PID OUT.tsv [INTERVAL_MS] [MAX_S] | json FILE|- POINTER... | cpu PID | stats CPORT PID OUT [MS]\n");
  return 3;
}
