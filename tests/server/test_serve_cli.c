/* `centro-harness serve` option handling: help, usage errors and their exit codes (the running server is covered
   by test_server). */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ch_exit.h"
#include "ch_server.h"
#include "ch_test.h"
#include "srv_client.h"

static int run(int argc, char **argv, char *out, size_t cap) {
  /* capture stdout into a temporary file */
  fflush(stdout);
  FILE *tmp = tmpfile();
  int saved = dup(1);
  dup2(fileno(tmp), 1);
  int rc = ch_server_main(argc, argv);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  rewind(tmp);
  size_t n = fread(out, 1, cap - 1, tmp);
  out[n] = 0;
  fclose(tmp);
  return rc;
}

static void test_serve_help_lists_options_and_faults(void) {
  static char out[16384];
  char *argv[] = {"serve", "--help", NULL};
  CU_ASSERT_EQUAL(run(2, argv, out, sizeof out), CH_EXIT_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "--listen HOST:PORT"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "--control-listen"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "--processes N"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "--tls-cert FILE"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "--tls-client-ca FILE"));
  const struct ch_fault_info *t = ch_fault_table();
  for (unsigned i = 0; i < CH_FAULT_COUNT; i++)
    CU_ASSERT_PTR_NOT_NULL(strstr(out, t[i].name));
}

static void test_serve_usage_errors_exit_3(void) {
  static char out[4096];
  char *a1[] = {"serve", "--fault", "not-a-fault", NULL};
  CU_ASSERT_EQUAL(run(3, a1, out, sizeof out), CH_EXIT_INPUT);
  char *a2[] = {"serve", "--tokens", "/nonexistent/tokens.txt", NULL};
  CU_ASSERT_EQUAL(run(3, a2, out, sizeof out), CH_EXIT_INPUT);
  char *a3[] = {"serve", "--listen", "127.0.0.1:99999", NULL};
  CU_ASSERT_EQUAL(run(3, a3, out, sizeof out), CH_EXIT_INPUT);
  char *a4[] = {"serve", "--bogus", NULL};
  CU_ASSERT_EQUAL(run(2, a4, out, sizeof out), CH_EXIT_INPUT);
  char *a5[] = {"serve", "--keepalive", "0", NULL};
  CU_ASSERT_EQUAL(run(3, a5, out, sizeof out), CH_EXIT_INPUT);
  char *a6[] = {"serve", "--base", "/bad/", NULL};
  CU_ASSERT_EQUAL(run(3, a6, out, sizeof out), CH_EXIT_INPUT);
}

static void test_serve_port_in_use_exit_4(void) {
  struct ch_server *s;
  struct ch_server_opts o = {.control_port = -1, .quiet = true};
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&o, &s), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(s), 0);
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", ch_server_port(s));
  static char out[4096];
  char *argv[] = {"serve", "--listen", listen, "--no-control", "--quiet", NULL};
  CU_ASSERT_EQUAL(run(5, argv, out, sizeof out), CH_EXIT_RUN);
  ch_server_free(s);
}


/* `serve --processes 2` as a child process: every subscriber, whichever process accepted it, gets a publish made
   through the first process's control API; SIGTERM stops everything with exit 0. Needs the binary. */
static void test_serve_processes_share_port_and_publishes(void) {
  CU_ASSERT_EQUAL_FATAL(access(CH_BINARY, X_OK), 0); /* left out by main when it may be skipped */
  int out[2];
  CU_ASSERT_FATAL(pipe(out) == 0);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(CH_BINARY, CH_BINARY, "serve", "--processes", "2", "--quiet", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  struct ch_buf line = CH_BUF_INIT, fr = CH_BUF_INIT;
  CU_ASSERT_TRUE(read_until(out[0], &line, "\n", 15000));
  int port = 0, cport = 0;
  const char *p = line.data ? strstr(line.data, "127.0.0.1:") : NULL;
  if (p)
    port = atoi(p + 10);
  p = p ? strstr(p + 10, "127.0.0.1:") : NULL;
  if (p)
    cport = atoi(p + 10);
  CU_ASSERT_TRUE(port > 0 && cport > 0);
  enum { N = 16 };
  int fds[N], opened = 0;
  for (int i = 0; i < N && port > 0 && cport > 0; i++) {
    char target[1024], tok[512], enc[600];
    struct resp r;
    http_req(port, "GET", "/signalr/negotiate?clientProtocol=2.1", NULL, NULL, &r);
    bool ok = json_str(r.body.data, "ConnectionToken", tok, sizeof tok);
    resp_free(&r);
    CU_ASSERT_TRUE(ok);
    if (!ok)
      break;
    pct(tok, enc, sizeof enc);
    snprintf(target, sizeof target,
             "/signalr/connect?transport=webSockets&connectionToken=%s&connectionData=%%5B%%7B%%22name%%22%%3A%%22"
             "jobeventhub%%22%%7D%%5D", enc);
    fds[i] = ws_open(port, target, NULL, NULL);
    CU_ASSERT_TRUE(fds[i] >= 0);
    if (fds[i] < 0)
      break;
    opened++;
    ws_send(fds[i], "{\"H\":\"jobeventhub\",\"M\":\"SubscribeToPipeline\",\"A\":[\"12\"],\"I\":0}");
    CU_ASSERT_TRUE(ws_recv_match(fds[i], &fr, "{\"I\":\"0\"}", 3000));
  }
  if (opened == N) {
    struct resp r;
    http_req(cport, "POST", "/publish", NULL, "{\"hub\":\"JobEventHub\",\"key\":\"12\"}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    resp_free(&r);
    int got = 0;
    for (int i = 0; i < N; i++)
      got += ws_recv_match(fds[i], &fr, "\"PipeId\":\"12\"", 3000);
    CU_ASSERT_EQUAL(got, N);
    http_req(cport, "GET", "/stats", NULL, NULL, &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"processes\":2"));
    resp_free(&r);
  }
  for (int i = 0; i < opened; i++)
    close(fds[i]);
  kill(pid, SIGTERM);
  int st = -1;
  waitpid(pid, &st, 0);
  CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(out[0]);
  ch_buf_free(&line);
  ch_buf_free(&fr);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_serve_help_lists_options_and_faults),
      CH_TEST(test_serve_usage_errors_exit_3),
      CH_TEST(test_serve_port_in_use_exit_4),
      CH_TEST(test_serve_processes_share_port_and_publishes),
      CU_TEST_INFO_NULL,
  };
  bool skip = access(CH_BINARY, X_OK) != 0 && ch_test_may_skip(CH_BINARY " is not built", NULL);
  if (skip) /* the binary's test is the last one */
    tests[sizeof tests / sizeof *tests - 2] = (CU_TestInfo)CU_TEST_INFO_NULL;
  return ch_test_run_skipping("serve_cli", tests, skip);
}
