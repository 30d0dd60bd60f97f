/* `centro-harness serve` option handling: help, usage errors and their exit codes (the running server is covered
   by test_server). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ch_exit.h"
#include "ch_server.h"
#include "ch_test.h"

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

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_serve_help_lists_options_and_faults),
      CH_TEST(test_serve_usage_errors_exit_3),
      CH_TEST(test_serve_port_in_use_exit_4),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("serve_cli", tests);
}
