/* ch_spawn: runs the built centro-harness binary with a deadline and captures its output, for tests that assert what
   users see (exit codes, last lines, report files). */
#ifndef CH_SPAWN_H
#define CH_SPAWN_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ch_spawn_result {
  int code;       /* exit status, or -1 when killed at the deadline or not started */
  char *out;      /* stdout + stderr, NUL-terminated (free it) */
  size_t len;
};

/* Reads a whole file (NULL when missing). */
static inline char *ch_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) {
    p[n] = '\0';
    if (len)
      *len = (size_t)n;
  }
  return p;
}

/* argv[0] is ignored (the binary is CH_BINARY). Kills the child after timeout_s. */
/* Writes text to path (a scenario for a spawned run); 0, or -1 when the file cannot be written. */
static inline int ch_write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  int rc = fputs(text, f) < 0 ? -1 : 0;
  return fclose(f) || rc ? -1 : 0;
}

/* The --set values that aim a scenario with an http trigger at a running reference endpoint: its endpoint as the
   target, its control API's /publish as the trigger URL. */
static inline void ch_external_sets(int port, int control_port, char target[96], char trigger[128]) {
  snprintf(target, 96, "target.url=http://127.0.0.1:%d", port);
  snprintf(trigger, 128, "trigger.http.url=http://127.0.0.1:%d/publish", control_port);
}

static inline struct ch_spawn_result ch_spawn(char *const argv[], int timeout_s) {
  struct ch_spawn_result r = {-1, NULL, 0};
  char tmpl[] = "/tmp/ch-spawn-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0)
    return r;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("CI", "true", 1); /* plain progress lines */
    execv(CH_BINARY, argv);
    _exit(127);
  }
  close(fd);
  int st = 0;
  time_t end = time(NULL) + timeout_s;
  while (pid > 0) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    if (time(NULL) >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    struct timespec ts = {0, 20000000}; /* polling a child's exit, not synchronising with it */
    nanosleep(&ts, NULL);
  }
  r.out = ch_slurp(tmpl, &r.len);
  if (!r.out)
    r.out = calloc(1, 1);
  unlink(tmpl);
  return r;
}

/* `centro-harness run SCENARIO --report-dir DIR --workers 2 EXTRA...` (extra NULL-terminated, at most 32). */
static inline struct ch_spawn_result ch_spawn_run(const char *scenario, const char *report_dir,
                                                  const char *const extra[], int timeout_s) {
  char *argv[40];
  int n = 0;
  argv[n++] = "centro-harness";
  argv[n++] = "run";
  argv[n++] = (char *)scenario;
  argv[n++] = "--report-dir";
  argv[n++] = (char *)report_dir;
  argv[n++] = "--workers";
  argv[n++] = "2";
  for (int i = 0; extra && extra[i] && n < 38; i++)
    argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  return ch_spawn(argv, timeout_s);
}

/* ch_spawn_run into an emptied report_dir, so no earlier report can pass for this run's. */
static inline struct ch_spawn_result ch_spawn_run_fresh(const char *scenario, const char *report_dir,
                                                        const char *const extra[], int timeout_s) {
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", report_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not clear %s\n", report_dir);
  return ch_spawn_run(scenario, report_dir, extra, timeout_s);
}

/* The last non-empty line of the output. */
static inline const char *ch_last_line(const struct ch_spawn_result *r, char *buf, size_t n) {
  size_t e = r->len;
  while (e && (r->out[e - 1] == '\n' || r->out[e - 1] == '\r'))
    e--;
  size_t b = e;
  while (b && r->out[b - 1] != '\n')
    b--;
  snprintf(buf, n, "%.*s", (int)(e - b), r->out + b);
  return buf;
}

/* ---- a child in the background, for tests that act on it while it runs (signals) ---- */

struct ch_spawn_bg {
  pid_t pid;           /* -1 when it could not be started */
  char out_path[32];   /* stdout + stderr */
};

static inline uint64_t ch_spawn_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Starts prog (found on PATH; argv[0] ignored) with its output to a temporary file and CI=true (plain progress
   lines): the binary, or a launcher such as mpirun that starts it. */
static inline int ch_spawn_start_prog(const char *prog, char *const argv[], struct ch_spawn_bg *bg) {
  snprintf(bg->out_path, sizeof bg->out_path, "/tmp/ch-spawn-XXXXXX");
  int fd = mkstemp(bg->out_path);
  bg->pid = -1;
  if (fd < 0)
    return -1;
  bg->pid = fork();
  if (bg->pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("CI", "true", 1);
    execvp(prog, argv);
    _exit(127);
  }
  close(fd);
  return bg->pid > 0 ? 0 : -1;
}

/* Starts the binary (argv[0] ignored) as ch_spawn_start_prog does. */
static inline int ch_spawn_start(char *const argv[], struct ch_spawn_bg *bg) {
  return ch_spawn_start_prog(CH_BINARY, argv, bg);
}

/* Waits until cond(arg) holds, polling every 20 ms, for at most timeout_ms: true when it held. */
static inline bool ch_wait_until(bool (*cond)(void *), void *arg, int timeout_ms) {
  uint64_t end = ch_spawn_ms() + (uint64_t)timeout_ms;
  for (;;) {
    if (cond(arg))
      return true;
    if (ch_spawn_ms() >= end)
      return false;
    struct timespec ts = {0, 20000000}; /* polling a condition with a deadline, not sleeping instead of it */
    nanosleep(&ts, NULL);
  }
}

struct ch_file_needle {
  const char *path, *needle;
};
static inline bool ch_file_has(void *arg) {
  const struct ch_file_needle *f = arg;
  char *body = ch_slurp(f->path, NULL);
  bool has = body && strstr(body, f->needle);
  free(body);
  return has;
}
/* Waits until the child's output contains needle (true), or timeout_ms passes. */
static inline bool ch_spawn_wait_output(const struct ch_spawn_bg *bg, const char *needle, int timeout_ms) {
  struct ch_file_needle f = {bg->out_path, needle};
  return ch_wait_until(ch_file_has, &f, timeout_ms);
}

/* Waits for the child's exit for at most timeout_ms (then kills it: code -1); *elapsed_ms gets how long it took. */
static inline struct ch_spawn_result ch_spawn_finish(struct ch_spawn_bg *bg, int timeout_ms, int *elapsed_ms) {
  struct ch_spawn_result r = {-1, NULL, 0};
  uint64_t t0 = ch_spawn_ms();
  int st = 0;
  while (bg->pid > 0) {
    if (waitpid(bg->pid, &st, WNOHANG) == bg->pid) {
      r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    if (ch_spawn_ms() - t0 >= (uint64_t)timeout_ms) {
      kill(bg->pid, SIGKILL);
      waitpid(bg->pid, &st, 0);
      break;
    }
    struct timespec ts = {0, 10000000}; /* polling a child's exit */
    nanosleep(&ts, NULL);
  }
  if (elapsed_ms)
    *elapsed_ms = (int)(ch_spawn_ms() - t0);
  bg->pid = -1;
  r.out = ch_slurp(bg->out_path, &r.len);
  if (!r.out)
    r.out = calloc(1, 1);
  unlink(bg->out_path);
  return r;
}

/* Removes a folder and what it holds (a report folder between runs, so that no earlier report passes for a new one). */
static inline void ch_remove_tree(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}

/* Up to cap-1 bytes of a /proc file (it has no size to read ahead: read as a stream), NUL-terminated; the length. */
static inline size_t ch_proc_read(const char *path, char *buf, size_t cap) {
  size_t got = 0;
  FILE *f = fopen(path, "r");
  if (f) {
    got = fread(buf, 1, cap - 1, f);
    fclose(f);
  }
  buf[got] = '\0';
  return got;
}

/* The pids of a process's children (a run's shards, mpirun's ranks), from /proc: those of every thread (mpirun
   starts its ranks from a thread of its own); how many were read. */
static inline int ch_children_of(pid_t pid, pid_t out[], int max) {
  int n = 0;
  char path[128], body[512];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  for (struct dirent *de; d && (de = readdir(d)) && n < max;) {
    int tid = atoi(de->d_name);
    if (tid <= 0)
      continue;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, tid);
    ch_proc_read(path, body, sizeof body);
    for (char *p = body, *end; *p && n < max; p = end) {
      long v = strtol(p, &end, 10);
      if (end == p)
        break;
      out[n++] = (pid_t)v;
    }
  }
  if (d)
    closedir(d);
  return n;
}

#endif /* CH_SPAWN_H */
