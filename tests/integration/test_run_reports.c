/* Report folders and the progress line as a CI job sees them: two runs started together get two folders, refused
   input leaves no folder, scenario.json holds no credential and re-runs the same workload, and a run without a
   terminal prints a progress line about every 10 s with its expected total. Each run here works in a folder of its
   own (the child's working directory), so the default reports/<scenario>-<UTC> names are the ones users get. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "ch_buf.h"
#include "ch_sha256.h"
#include "ch_spawn.h"
#include "ch_test.h"

#define SMOKE CH_SOURCE_DIR "/scenarios/smoke.json"

static char root[64];

/* A child running the binary in folder cwd with CI set (plain progress lines), output to out_path. */
static pid_t start_in(const char *cwd, char *const argv[], const char *out_path) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || chdir(cwd))
      _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("CI", "true", 1);
    execv(CH_BINARY, argv);
    _exit(127);
  }
  return pid;
}

/* Waits for the child until the deadline (then kills it); its exit status or -1. */
static int finish(pid_t pid, int timeout_s) {
  time_t end = time(NULL) + timeout_s;
  int st = 0;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (w < 0 || time(NULL) >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    struct timespec ts = {0, 20000000}; /* polling a child's exit, not synchronising with it */
    nanosleep(&ts, NULL);
  }
}

static int run_in(const char *cwd, char *const argv[], int timeout_s, char **out) {
  char path[128];
  snprintf(path, sizeof path, "%s/out.txt", cwd);
  int code = finish(start_in(cwd, argv, path), timeout_s);
  *out = ch_slurp(path, NULL);
  if (!*out)
    *out = calloc(1, 1);
  return code;
}

static void new_dir(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", root, name);
  CU_ASSERT_EQUAL(mkdir(buf, 0755), 0);
}

/* The entries of dir (not . and ..), each name followed by '\n'; *n receives how many. */
static void list_dir(const char *dir, char *buf, size_t cap, int *n) {
  buf[0] = '\0';
  *n = 0;
  DIR *d = opendir(dir);
  if (!d)
    return;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    (*n)++;
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s\n", e->d_name);
  }
  closedir(d);
}

static char *file_in(const char *dir, const char *sub, const char *name) {
  struct ch_buf path = CH_BUF_INIT;
  ch_buf_printf(&path, "%s/%s/%s", dir, sub, name);
  char *text = path.data ? ch_slurp(path.data, NULL) : NULL;
  ch_buf_free(&path);
  return text;
}

/* The string value of "key" in a report.json ("" when absent). */
static void json_str(const char *json, const char *key, char *out, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = json ? strstr(json, pat) : NULL;
  out[0] = '\0';
  if (!p || !(p = strchr(p + strlen(pat), '"')))
    return;
  const char *e = strchr(p + 1, '"');
  if (e)
    snprintf(out, n, "%.*s", (int)(e - p - 1), p + 1);
}

/* Starts two copies of argv in a new folder `name` in the same UTC second; both must pass and leave one whole
   report each under reports/, in two folders whose names start with prefix. */
static void two_at_once(const char *name, char *const argv[], const char *prefix, const char *const files[]) {
  char cwd[128], out[2][160];
  new_dir(cwd, sizeof cwd, name);
  /* start both just after a second boundary: the same UTC second, so the same default folder name */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct timespec wait = {0, 1000000000L - now.tv_nsec};
  nanosleep(&wait, NULL); /* aiming at a wall-clock second, not synchronising with anything */
  pid_t pids[2];
  for (int i = 0; i < 2; i++) {
    snprintf(out[i], sizeof out[i], "%s/out%d.txt", cwd, i);
    pids[i] = start_in(cwd, argv, out[i]);
  }
  for (int i = 0; i < 2; i++) {
    int code = finish(pids[i], 120);
    if (code != 0) {
      char *o = ch_slurp(out[i], NULL);
      fprintf(stderr, "\n%s %d: exit %d\n%s\n", name, i, code, o ? o : "");
      free(o);
    }
    CU_ASSERT_EQUAL(code, 0);
  }
  char reports[256], names[1024];
  snprintf(reports, sizeof reports, "%s/reports", cwd);
  int n = 0;
  list_dir(reports, names, sizeof names, &n);
  CU_ASSERT_EQUAL(n, 2);
  for (char *line = names, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
    *nl = '\0';
    CU_ASSERT_EQUAL(strncmp(line, prefix, strlen(prefix)), 0);
    for (size_t k = 0; files[k]; k++) {
      char *body = file_in(reports, line, files[k]);
      CU_ASSERT_PTR_NOT_NULL(body);
      free(body);
    }
  }
}

static void test_two_runs_started_together_get_two_folders(void) {
  char *argv[] = {"centro-harness", "run", SMOKE, "--quiet", "--workers", "1", "--set", "clients.0.count=5",
                  "--set", "phases.2.duration=1s", NULL};
  const char *files[] = {"report.json", "junit.xml", "report.html", "scenario.json", NULL};
  two_at_once("together", argv, "smoke-", files);
}

static void test_two_checks_started_together_get_two_folders(void) {
  char *argv[] = {"centro-harness", "check", "--only", "NEG-001", NULL};
  const char *files[] = {"report.json", "junit.xml", NULL};
  two_at_once("checks", argv, "check-", files);
}

static void test_refused_input_creates_no_folder(void) {
  char cwd[128];
  new_dir(cwd, sizeof cwd, "refused");
  char *cases[][8] = {
      {"centro-harness", "run", SMOKE, "--token-file", "/nonexistent/tokens.txt", NULL},
      {"centro-harness", "run", SMOKE, "--token", "", NULL},
      {"centro-harness", "run", SMOKE, "--source-addresses", "not-an-address", NULL},
      {"centro-harness", "run", SMOKE, "--set", "clients.0.count=\"ten\"", NULL},
      {"centro-harness", "capacity", CH_SOURCE_DIR "/scenarios/capacity-fanout.json", "--token-env",
       "CH_TEST_NO_SUCH_VARIABLE", NULL},
      {"centro-harness", "check", "--hub", "NoSuchHub", NULL},
  };
  char reports[192];
  snprintf(reports, sizeof reports, "%s/reports", cwd);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *out = NULL;
    int code = run_in(cwd, cases[i], 60, &out);
    if (code != 3)
      fprintf(stderr, "\n%s %s: exit %d\n%s\n", cases[i][1], cases[i][3], code, out);
    CU_ASSERT_EQUAL(code, 3);
    struct stat st;
    if (strcmp(cases[i][1], "check")) {
      CU_ASSERT_EQUAL(stat(reports, &st), -1); /* not even reports/ */
    } else { /* check validates some options only once it runs: its folder is removed, reports/ may stay */
      char names[256];
      int n = 0;
      list_dir(reports, names, sizeof names, &n);
      CU_ASSERT_EQUAL(n, 0);
    }
    free(out);
  }
}

/* Runs scenario in cwd and returns the one folder it added under reports/ (into dir), "" when not exactly one. */
static int run_new_folder(const char *cwd, char *const argv[], char *dir, size_t n) {
  char reports[256], before[2048], after[2048];
  snprintf(reports, sizeof reports, "%s/reports", cwd);
  int nb = 0, na = 0;
  list_dir(reports, before, sizeof before, &nb);
  char *out = NULL;
  int code = run_in(cwd, argv, 120, &out);
  list_dir(reports, after, sizeof after, &na);
  dir[0] = '\0';
  for (char *line = after, *nl; na == nb + 1 && (nl = strchr(line, '\n')); line = nl + 1) {
    char name[256];
    snprintf(name, sizeof name, "%.*s\n", (int)(nl - line), line);
    if (!strstr(before, name))
      snprintf(dir, n, "%s/%.*s", reports, (int)(nl - line), line);
  }
  if (code != 0 || !dir[0])
    fprintf(stderr, "\n%s: exit %d, new folder \"%s\"\n%s\n", argv[2], code, dir, out);
  free(out);
  return code;
}

static void test_scenario_json_has_no_token_and_reruns_the_same_workload(void) {
  char cwd[128], scn[192];
  new_dir(cwd, sizeof cwd, "rerun");
  snprintf(scn, sizeof scn, "%s/inline.json", cwd);
  FILE *f = fopen(scn, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("{\"name\":\"inline\",\"target\":{\"auth\":{\"token\":\"inl1ne-s3cret-tok\"},\"bad_tokens\":[\"b4d-s3cret\"]},"
        "\"clients\":[{\"name\":\"ok\",\"count\":4,\"subscribe\":{\"keys\":[\"P-1\",\"P-2\"]}},"
        "{\"name\":\"bad\",\"count\":1,\"credentials\":\"bad\"}],\"phases\":[{\"type\":\"connect\"},"
        "{\"type\":\"subscribe\"},{\"type\":\"trigger\",\"duration\":\"1s\"},{\"type\":\"disconnect\"}],"
        "\"trigger\":{\"type\":\"reference\",\"rate\":10}}\n",
        f);
  fclose(f);
  char *first[] = {"centro-harness", "run", scn, "--quiet", "--workers", "1", "--seed", "77", NULL};
  char *with_cli[] = {"centro-harness", "run", scn, "--quiet", "--workers", "1", "--token", "cl1-s3cret-tok", NULL};
  char dir[2][320];
  CU_ASSERT_EQUAL(run_new_folder(cwd, first, dir[0], sizeof dir[0]), 0);
  CU_ASSERT_EQUAL(run_new_folder(cwd, with_cli, dir[1], sizeof dir[1]), 0);
  char sha[2][80], seed[2][32];
  for (int i = 0; i < 2; i++) {
    char *text = file_in(dir[i], ".", "scenario.json");
    char *json = file_in(dir[i], ".", "report.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    const char *secrets[] = {"inl1ne-s3cret-tok", "b4d-s3cret", "cl1-s3cret-tok"};
    for (size_t k = 0; k < 3; k++) {
      CU_ASSERT_PTR_NULL(strstr(text, secrets[k]));
      CU_ASSERT_PTR_NULL(strstr(json, secrets[k]));
    }
    CU_ASSERT_PTR_NULL(strstr(text, "\"token\"")); /* left out, not even redacted */
    /* report.json fingerprints the very bytes of scenario.json */
    char want[CH_SHA256_HEX_LEN + 1];
    ch_sha256_hex(text, strlen(text), want);
    json_str(json, "scenario_sha256", sha[i], sizeof sha[i]);
    CU_ASSERT_STRING_EQUAL(sha[i], want);
    json_str(json, "seed", seed[i], sizeof seed[i]);
    free(text);
    free(json);
  }
  CU_ASSERT_STRING_EQUAL(seed[0], "77");
  CU_ASSERT_STRING_NOT_EQUAL(sha[0], sha[1]); /* --seed 77 is part of the effective scenario */
  /* `run <folder>/scenario.json` runs the same workload: same scenario, same seed */
  char stored[400], again[320];
  snprintf(stored, sizeof stored, "%s/scenario.json", dir[0]);
  char *rerun[] = {"centro-harness", "run", stored, "--quiet", "--workers", "1", NULL};
  CU_ASSERT_EQUAL(run_new_folder(cwd, rerun, again, sizeof again), 0);
  char *json = file_in(again, ".", "report.json");
  char s2[80], seed2[32];
  json_str(json, "scenario_sha256", s2, sizeof s2);
  json_str(json, "seed", seed2, sizeof seed2);
  CU_ASSERT_STRING_EQUAL(s2, sha[0]);
  CU_ASSERT_STRING_EQUAL(seed2, "77");
  CU_ASSERT_TRUE(json && strstr(json, "\"scenario\":\t\"inline\""));
  free(json);
}

/* "[1m05s/~1m35s] ..." -> seconds, or -1. */
static long secs_of(const char *p, const char **end) {
  long total = 0, v = 0;
  bool any = false;
  for (; *p; p++) {
    if (*p >= '0' && *p <= '9') {
      v = v * 10 + (*p - '0');
      any = true;
    } else if (*p == 'h' || *p == 'm' || *p == 's') {
      total += v * (*p == 'h' ? 3600 : *p == 'm' ? 60 : 1);
      v = 0;
      if (*p == 's')
        break;
    } else {
      return -1;
    }
  }
  *end = *p ? p + 1 : p;
  return any ? total : -1;
}

/* The one long test (about 36 s): 5 s of ramp and 30 s of triggers, no terminal. */
static void test_progress_lines_every_10s_without_a_terminal(void) {
  char cwd[128];
  new_dir(cwd, sizeof cwd, "progress");
  char *argv[] = {"centro-harness", "run", CH_SOURCE_DIR "/scenarios/soak-10m.json", "--workers", "1",
                  "--set", "phases.2.duration=30s", "--set", "clients.0.count=20", NULL};
  char *out = NULL;
  int code = run_in(cwd, argv, 120, &out);
  CU_ASSERT_EQUAL(code, 0);
  long elapsed[16];
  int n = 0;
  bool totals_ok = true;
  for (const char *line = out; line && *line && n < 16; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (line[0] != '[')
      continue;
    const char *p = line + 1;
    long e = secs_of(p, &p);
    CU_ASSERT_EQUAL_FATAL(*(p - 1), 's');
    CU_ASSERT_EQUAL(*p, '/');
    if (*p == '/' && p[1] == '~')
      p++; /* an estimate: connects and deliveries take what the target takes */
    long total = secs_of(p + 1, &p);
    totals_ok &= total >= 30 && total <= 60; /* a number, near 35 s: not "?" */
    elapsed[n++] = e;
  }
  if (n < 4 || !totals_ok)
    fprintf(stderr, "\n%s\n", out);
  CU_ASSERT_TRUE(totals_ok);
  /* at 0, 10, 20 and 30 s, and the last line at the end */
  CU_ASSERT_TRUE(n >= 4 && n <= 6);
  CU_ASSERT_EQUAL(n ? elapsed[0] : -1, 0);
  for (int i = 1; i < n; i++) {
    CU_ASSERT_TRUE(elapsed[i] > elapsed[i - 1]);
    if (i < n - 1) /* the last line is drawn when the run ends, not on the 10 s clock */
      CU_ASSERT_TRUE(elapsed[i] - elapsed[i - 1] >= 9 && elapsed[i] - elapsed[i - 1] <= 11);
  }
  CU_ASSERT_TRUE(n >= 1 && elapsed[n - 1] >= 33);
  free(out);
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/ch-run-reports-XXXXXX");
  if (!mkdtemp(root))
    return 2;
  CU_TestInfo tests[] = {CH_TEST(test_two_runs_started_together_get_two_folders),
                         CH_TEST(test_two_checks_started_together_get_two_folders),
                         CH_TEST(test_refused_input_creates_no_folder),
                         CH_TEST(test_scenario_json_has_no_token_and_reruns_the_same_workload),
                         CH_TEST(test_progress_lines_every_10s_without_a_terminal), CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_reports", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", root);
  return rc;
}
