/* What a CI gate sees of `mpirun ... centro-harness run --mpi` (README "One run over many hosts", exit codes): by
   default mpirun exits with the run's code (rank 0's: the other ranks exit 0), under --enable-recovery Open MPI 4.1's
   mpirun exits 0 whatever the verdict (report.json still has it), and Ctrl-C (SIGINT to mpirun) ends every rank
   gracefully with the merged report (143) while mpirun itself exits 1. The real binary under mpirun on loopback
   against a separate reference endpoint; every wait is for a condition with a deadline. */
#include <cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "ch_control.h"
#include "ch_endpoint.h"
#include "ch_mpirun.h"
#include "ch_run_summary.h"
#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char report_dir[64], scenario_path[96];

/* Starts `mpirun [mpi_extra] -np ranks centro-harness run SCENARIO --target (srv) --report-dir D --workers 1 --mpi
   EXTRA` in the background into an emptied report_dir. */
static int start_ranks(int ranks, const char *const mpi_extra[], const char *scenario, const struct ch_server *srv,
                       const char *const extra[], struct ch_spawn_bg *bg) {
  struct ch_mpirun mr;
  char target[96], *argv[64];
  snprintf(target, sizeof target, "http://127.0.0.1:%d", ch_server_port(srv));
  int n = ch_mpirun_argv(&mr, ranks, mpi_extra, argv, 0);
  const char *own[] = {CH_BINARY, "run", scenario, "--target", target, "--report-dir", report_dir, "--workers", "1",
                       "--mpi", NULL};
  for (int i = 0; own[i]; i++)
    argv[n++] = (char *)own[i];
  for (int i = 0; extra && extra[i] && n < 63; i++)
    argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  ch_remove_tree(report_dir);
  return ch_spawn_start_prog(argv[0], argv, bg);
}

/* report.json's run.exit_code of the last run (-1 when there is none). */
static double report_exit_code(void) {
  cJSON *j = ch_run_report_json(report_dir);
  double code = ch_run_summary_num(cJSON_GetObjectItemCaseSensitive(j, "run"), "exit_code");
  cJSON_Delete(j);
  return code;
}

/* scenarios/two-hubs.json over two ranks with a latency threshold no run meets (the run's verdict: exit 2). */
static struct ch_spawn_result failed_threshold(const char *const mpi_extra[]) {
  struct ch_spawn_result r = {-1, NULL, 0};
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char control[64];
  snprintf(control, sizeof control, "127.0.0.1:%d", ch_server_control_port(srv));
  setenv("CENTRO_CONTROL", control, 1); /* two-hubs.json's trigger URL */
  const char *extra[] = {"--set", "thresholds=[\"update_latency.p99 < 1us\"]", NULL};
  struct ch_spawn_bg bg;
  if (start_ranks(2, mpi_extra, "scenarios/two-hubs.json", srv, extra, &bg) == 0)
    r = ch_spawn_finish(&bg, 120000, NULL);
  unsetenv("CENTRO_CONTROL");
  ch_server_free(srv);
  CU_ASSERT_PTR_NOT_NULL(r.out ? strstr(r.out, "exit 2: threshold failed (1 of 1)") : NULL);
  CU_ASSERT_EQUAL(report_exit_code(), 2);
  return r;
}

/* Default mode: rank 0 exits 2, the other rank 0, and mpirun passes the 2 on (then prints its own notice). */
static void test_default_mpirun_exits_with_the_runs_code(void) {
  struct ch_spawn_result r = failed_threshold(NULL);
  CU_ASSERT_EQUAL(r.code, 2);
  CU_ASSERT_PTR_NOT_NULL(r.out ? strstr(r.out, "returned\na non-zero exit code") : NULL);
  if (r.code != 2)
    fprintf(stderr, "\nmpirun exit %d, output:\n%s\n", r.code, r.out ? r.out : "");
  free(r.out);
}

/* --enable-recovery: the same run, the same verdict in report.json and on rank 0's last line, but mpirun exits 0. */
static void test_recovery_mpirun_exits_0_whatever_the_verdict(void) {
  const char *mpi_extra[] = {"--enable-recovery", NULL};
  struct ch_spawn_result r = failed_threshold(mpi_extra);
  CU_ASSERT_EQUAL(r.code, 0);
  free(r.out);
}

/* Ctrl-C: SIGINT to mpirun ends every rank gracefully (Open MPI forwards it to the ranks as SIGTERM) and rank 0
   writes the merged report of both ranks, interrupted (143 on its last line and in report.json); mpirun exits 1. */
static void test_sigint_to_mpirun_gives_the_merged_report(void) {
  struct ch_server *srv = ch_endpoint_start_open();
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char text[2048];
  snprintf(text, sizeof text, ch_run_long_scenario, "mpi-sigint", 10, ch_server_control_port(srv));
  CU_ASSERT_EQUAL_FATAL(ch_write_text(scenario_path, text), 0);
  struct ch_spawn_bg bg;
  CU_ASSERT_EQUAL_FATAL(start_ranks(2, NULL, scenario_path, srv, NULL, &bg), 0);
  struct ch_control_stat_min pub = {ch_server_control_port(srv), "\"publishes\":", 20}; /* in the trigger phase */
  CU_ASSERT_TRUE(ch_wait_until(ch_control_stat_reached, &pub, 30000));
  kill(bg.pid, SIGINT);
  int ms = 0;
  struct ch_spawn_result r = ch_spawn_finish(&bg, 60000, &ms);
  CU_ASSERT_TRUE(ms < 30000); /* not the two minutes planned */
  CU_ASSERT_EQUAL(r.code, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "exit 143: interrupted by SIGTERM during phase 3 of 4 (trigger)"));
  if (r.code != 1 || !strstr(r.out, "exit 143: interrupted"))
    fprintf(stderr, "\nmpirun exit %d after %d ms, output:\n%s\n", r.code, ms, r.out);
  free(r.out);
  CU_ASSERT_EQUAL(report_exit_code(), 143);
  cJSON *root = ch_run_report_json(report_dir);
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(root, "run");
  const cJSON *ranks = cJSON_GetObjectItemCaseSensitive(run, "ranks");
  CU_ASSERT_EQUAL(cJSON_GetArraySize(ranks), 2); /* both ranks' reports came: merged, not from checkpoints */
  CU_ASSERT_FALSE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ranks, 1), "lost")));
  CU_ASSERT_FALSE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(run, "partial")));
  cJSON_Delete(root);
  struct ch_run_summary s;
  ch_run_summarize(report_dir, &s);
  CU_ASSERT_TRUE(s.counters[1] > 0); /* Updates received */
  unlink(scenario_path);
  ch_server_free(srv);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-run-mpi-exit-%d", (int)getpid());
  snprintf(scenario_path, sizeof scenario_path, "/tmp/ch-run-mpi-exit-%d.json", (int)getpid());
#ifndef CH_HAVE_MPI
  (void)test_default_mpirun_exits_with_the_runs_code, (void)test_recovery_mpirun_exits_0_whatever_the_verdict;
  (void)test_sigint_to_mpirun_gives_the_merged_report;
  printf("skipped: built without MPI (test_run_mpi checks that --mpi says so)\n");
  return 77;
#else
  if (!ch_have_mpirun()) { /* libopenmpi-dev without openmpi-bin: the build has MPI, nothing can launch it */
    printf("skipped: mpirun not found (install openmpi-bin)\n");
    return 77;
  }
  ch_mpirun_allow_root();
  CU_TestInfo tests[] = {CH_TEST(test_default_mpirun_exits_with_the_runs_code),
                         CH_TEST(test_recovery_mpirun_exits_0_whatever_the_verdict),
                         CH_TEST(test_sigint_to_mpirun_gives_the_merged_report), CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_mpi_exit", tests);
  ch_remove_tree(report_dir);
  return rc;
#endif
}
