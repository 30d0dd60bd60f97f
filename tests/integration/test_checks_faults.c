/* Proof that the conformance checks work: against the embedded reference endpoint started with each fault of the
   server's fault table, the check that enforces that part of the protocol fails; against the conformant endpoint
   every check passes, 20 times in a row. One case runs the real binary for the exit code and the last line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ch_checks.h"
#include "ch_exit.h"
#include "ch_server.h"
#include "ch_test.h"

/* The server's fault families → the catalogue check that must fail. */
static const struct {
  const char *family, *check;
} fault_checks[] = {
    {"NEG", "NEG-001"},      {"PROTO", "NEG-002"},     {"INIT", "CON-001"},   {"START", "CON-002"},
    {"INVOKE", "INV-001"},   {"DELIVERY", "DEL-007"},  {"DUP", "DEL-006"},    {"ORDER", "DEL-005"},
    {"LATENCY", "DEL-008"},  {"ISOLATION", "DEL-003"}, {"UNSUB", "DEL-002"},  {"AUTH", "AUTH-001"},
    {"KEEPALIVE", "KA-001"}, {"REPLAY", "REC-001"},    {"GROUPS", "REC-002"},   {"CLOSE", "CON-008"},
    {"PING", "CON-003"},
};

/* Faults every transport must show: the 1% ones prove the burst's power (a random 1% per connection is caught on
   each transport, not only where it happens to be frequent), the close one that no transport's close goes unseen. */
static const char *const every_transport[] = {"lose-1pct", "duplicate-1pct", "reorder-1pct", "close-after-updates"};

static bool on_every_transport(const char *fault) {
  for (size_t i = 0; i < sizeof every_transport / sizeof every_transport[0]; i++)
    if (strcmp(every_transport[i], fault) == 0)
      return true;
  return false;
}

static const char *check_for(const char *family) {
  for (size_t i = 0; i < sizeof fault_checks / sizeof fault_checks[0]; i++)
    if (strcmp(fault_checks[i].family, family) == 0)
      return fault_checks[i].check;
  return NULL;
}

static void print_failures(const struct ch_checks_results *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->items[i].status == CH_CHECK_FAIL)
      fprintf(stderr, "  FAIL %s %s: %s\n%s\n", r->items[i].def->id, r->items[i].transport ? r->items[i].transport : "",
              r->items[i].message, r->items[i].evidence);
  if (r->run_error)
    fprintf(stderr, "  run error: %s\n", r->run_error_msg);
}

/* What the conformant embedded endpoint may skip, with the reason `check` gives (none today: it offers every
   transport, a trigger, a second user and a forbidden key). Every other catalogue entry must pass on every transport
   it names: the expected counts derive from the catalogue (what `check --list` prints), so checks added there are
   counted without editing this file, and a check that quietly turns into a skip fails this test. */
static const struct {
  const char *id, *transport, *reason; /* transport NULL: transport-independent */
} expected_skips[] = {{NULL, NULL, NULL}};

static const char *expected_skip(const struct ch_check_result *x) {
  for (size_t i = 0; expected_skips[i].id; i++)
    if (!strcmp(expected_skips[i].id, x->def->id) &&
        (expected_skips[i].transport ? x->transport && !strcmp(expected_skips[i].transport, x->transport)
                                     : !x->transport))
      return expected_skips[i].reason;
  return NULL;
}

/* Results the catalogue implies on an endpoint offering every transport: one per transport-independent check, one
   per transport for the others. */
static size_t catalogue_results(void) {
  size_t n, total = 0;
  const struct ch_check_def *c = ch_checks_catalogue(&n);
  for (size_t i = 0; i < n; i++)
    total += c[i].transports ? (size_t)__builtin_popcount(c[i].transports & CH_T_ALL) : 1;
  return total;
}

static void test_conformant_endpoint_passes_every_check_20_times(void) {
  size_t want = catalogue_results(), want_skips = 0;
  while (expected_skips[want_skips].id)
    want_skips++;
  for (int i = 0; i < 20; i++) {
    struct ch_checks_opts o = {0};
    struct ch_checks_results r = {0};
    o.seed = (uint64_t)i + 1;
    /* the first five runs with the full delivery burst (689 Updates per transport, about half a second a run), the
       rest with a short one: they repeat the sessions' machinery, and the suite stays within seconds of before */
    o.burst = i < 5 ? 0 : 50;
    int rc = ch_checks_run(&o, &r);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(r.failed, 0);
    CU_ASSERT_EQUAL(r.not_run, 0);
    CU_ASSERT_EQUAL(r.n, want);
    CU_ASSERT_EQUAL(r.passed, want - want_skips);
    CU_ASSERT_EQUAL(r.skipped, want_skips);
    bool odd = false;
    for (size_t k = 0; k < r.n; k++) {
      const struct ch_check_result *x = &r.items[k];
      const char *why = expected_skip(x);
      bool ok = why ? x->status == CH_CHECK_SKIP && strstr(x->message, why) : x->status == CH_CHECK_PASS;
      if (!ok)
        fprintf(stderr, "conformant run %d: %s %s: %s%s%s (expected %s)\n", i, x->def->id,
                x->transport ? x->transport : "-", ch_check_status_name(x->status), x->message[0] ? ": " : "",
                x->message, why ? why : "pass");
      odd |= !ok;
    }
    CU_ASSERT_FALSE(odd);
    if (rc || r.failed || odd || r.n != want) {
      fprintf(stderr, "conformant run %d:\n", i);
      print_failures(&r);
      ch_checks_results_free(&r);
      break;
    }
    ch_checks_results_free(&r);
  }
}

static void test_each_fault_fails_its_check(void) {
  const struct ch_fault_info *ft = ch_fault_table();
  for (unsigned f = 0; f < CH_FAULT_COUNT; f++) {
    const char *id = check_for(ft[f].family);
    if (!id) {
      fprintf(stderr, "fault %s: family %s has no check mapped\n", ft[f].name, ft[f].family);
      CU_FAIL("a fault family without a check");
      continue;
    }
    struct ch_checks_opts o = {0};
    struct ch_checks_results r = {0};
    o.fault = ft[f].name;
    /* the whole family runs and the mapped check must be among its failures; the faults every transport must show
       prove one check's power, so only that check runs */
    o.only = on_every_transport(ft[f].name) ? id : ch_check_find(id)->family;
    o.seed = 7;
    o.timeout_ms = 1000; /* a fault makes checks wait for what never comes: keep those waits short */
    int rc = ch_checks_run(&o, &r);
    CU_ASSERT_EQUAL(rc, 0);
    bool failed = false;
    unsigned failed_on = 0;
    for (size_t i = 0; i < r.n; i++)
      if (r.items[i].status == CH_CHECK_FAIL && strcmp(r.items[i].def->id, id) == 0) {
        failed = true;
        for (unsigned b = CH_T_WS; b <= CH_T_LP; b <<= 1)
          if (r.items[i].transport && strcmp(r.items[i].transport, ch_tmask_name(b)) == 0)
            failed_on |= b;
      }
    if (on_every_transport(ft[f].name) && failed_on != CH_T_ALL) {
      fprintf(stderr, "fault %s made %s fail on transports %#x only (expected all three)\n", ft[f].name, id,
              failed_on);
      failed = false;
    }
    if (!failed) {
      fprintf(stderr, "fault %s did not make %s fail (%u passed, %u skipped)\n", ft[f].name, id, r.passed, r.skipped);
      for (size_t i = 0; i < r.n; i++)
        fprintf(stderr, "  %s %s %d %s\n", r.items[i].def->id, r.items[i].transport ? r.items[i].transport : "",
                r.items[i].status, r.items[i].message);
    }
    CU_ASSERT_TRUE(failed);
    struct ch_buf line = CH_BUF_INIT;
    CU_ASSERT_EQUAL(ch_checks_exit_code(&r, rc, &line), CH_EXIT_CHECK_FAILED);
    ch_buf_free(&line);
    /* every failure carries evidence */
    for (size_t i = 0; i < r.n; i++)
      if (r.items[i].status == CH_CHECK_FAIL)
        CU_ASSERT_TRUE(r.items[i].evidence[0] || r.items[i].message[0]);
    ch_checks_results_free(&r);
  }
}

/* A loopback port with nothing listening: bind port 0, read it back, close. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* Runs the binary with args; returns its exit status and its last stdout line. */
static int run_binary(const char *const *args, char *last, size_t n) {
  int pfd[2];
  if (pipe(pfd))
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 1);
    int dn = open("/dev/null", O_WRONLY);
    dup2(dn, 2);
    close(pfd[0]);
    execv(CH_BINARY, (char *const *)args);
    _exit(127);
  }
  close(pfd[1]);
  char buf[65536];
  size_t len = 0;
  ssize_t r;
  while ((r = read(pfd[0], buf + len, sizeof buf - 1 - len)) > 0 && len < sizeof buf - 1)
    len += (size_t)r;
  close(pfd[0]);
  buf[len] = '\0';
  while (len && buf[len - 1] == '\n')
    buf[--len] = '\0';
  char *nl = strrchr(buf, '\n');
  const char *src = nl ? nl + 1 : buf; /* copied by hand: gcc -O2 flags a %s into a smaller buffer */
  size_t k = strlen(src) < n ? strlen(src) : n - 1;
  memcpy(last, src, k);
  last[k] = '\0';
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool file_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return false;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

static void test_binary_exit_codes_last_line_and_report(void) {
  CU_ASSERT_EQUAL_FATAL(access(CH_BINARY, X_OK), 0); /* left out by main when it may be skipped */
  char dir[] = "/tmp/ch-check-XXXXXX", last[512], path[600];
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  const char *a1[] = {CH_BINARY,      "check", "--fault", "init-no-s",        "--only", "CON-001",
                      "--report-dir", dir,     "--token", "cli-secret-token", NULL};
  CU_ASSERT_EQUAL(run_binary(a1, last, sizeof last), CH_EXIT_CHECK_FAILED);
  CU_ASSERT_EQUAL(strncmp(last, "exit 1: conformance check failed (", 34), 0);
  snprintf(path, sizeof path, "%s/report.json", dir);
  CU_ASSERT_TRUE(file_has(path, "CON-001"));
  CU_ASSERT_FALSE(file_has(path, "cli-secret-token"));
  snprintf(path, sizeof path, "%s/junit.xml", dir);
  CU_ASSERT_TRUE(file_has(path, "CON-001"));
  /* the failing client's wire transcript is kept, credentials redacted */
  snprintf(path, sizeof path, "%s/transcripts/CON-001-webSockets.jsonl", dir);
  CU_ASSERT_TRUE(file_has(path, "\"dir\":\"in\""));
  CU_ASSERT_FALSE(file_has(path, "alice-"));
  CU_ASSERT_FALSE(file_has(path, "cli-secret-token"));

  const char *a2[] = {CH_BINARY, "check", "--only", "NEG,CON-003", "--report-dir", dir, NULL};
  CU_ASSERT_EQUAL(run_binary(a2, last, sizeof last), CH_EXIT_OK);
  CU_ASSERT_EQUAL(strncmp(last, "exit 0:", 7), 0);

  char target[64];
  snprintf(target, sizeof target, "http://127.0.0.1:%d/Centro", free_port());
  const char *a3[] = {CH_BINARY, "check", "--target", target, "--report-dir", dir, "--timeout-ms", "2000", NULL};
  CU_ASSERT_EQUAL(run_binary(a3, last, sizeof last), CH_EXIT_RUN);
  CU_ASSERT_EQUAL(strncmp(last, "exit 4:", 7), 0);

  const char *a4[] = {CH_BINARY, "check", "--transport", "carrierPigeon", NULL};
  CU_ASSERT_EQUAL(run_binary(a4, last, sizeof last), CH_EXIT_INPUT);
  const char *a5[] = {CH_BINARY, "check", "--target", "http://127.0.0.1:1/", "--trigger", "/nonexistent.json", NULL};
  CU_ASSERT_EQUAL(run_binary(a5, last, sizeof last), CH_EXIT_INPUT);
  CU_ASSERT_EQUAL(strncmp(last, "exit 3:", 7), 0);

  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_each_fault_fails_its_check),
                         CH_TEST(test_conformant_endpoint_passes_every_check_20_times),
                         CH_TEST(test_binary_exit_codes_last_line_and_report), CU_TEST_INFO_NULL};
  bool skip = access(CH_BINARY, X_OK) != 0 && ch_test_may_skip(CH_BINARY " is not built", NULL);
  if (skip) /* the binary's test is the last one */
    tests[sizeof tests / sizeof *tests - 2] = (CU_TestInfo)CU_TEST_INFO_NULL;
  return ch_test_run_skipping("checks-faults", tests, skip);
}
