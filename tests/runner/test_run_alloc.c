/* The run command when an allocation or a worker hand-off fails: the run ends with exit 4 and says why, it never
   crashes or waits for ever. Failures are injected only here: this executable is linked with
   -Wl,--wrap=calloc,--wrap=strdup,--wrap=ch_engine_post (tests/CMakeLists.txt), so the runner's calls reach the
   wrappers below, which fail the call the current test names and pass every other one on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch_exit.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_scenario.h"
#include "ch_test.h"

/* What the current test makes fail (set before a run, on the main thread; the wrappers only read it). */
static struct {
  size_t calloc_nmemb;  /* callocs of exactly this many elements are counted... */
  unsigned calloc_fail; /* ...and the one with this number (1-based) fails; 0: none */
  unsigned calloc_seen;
  bool strdup_user;     /* strdup of the embedded endpoint's user names ("user1"...) fails */
  ch_worker_task_cb post_fn; /* posting this task to worker post_index fails */
  unsigned post_index;
} inj;

void *__real_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size) {
  if (inj.calloc_fail && nmemb == inj.calloc_nmemb &&
      __atomic_add_fetch(&inj.calloc_seen, 1, __ATOMIC_RELAXED) == inj.calloc_fail)
    return NULL;
  return __real_calloc(nmemb, size);
}

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);
char *__wrap_strdup(const char *s) {
  if (inj.strdup_user && !strncmp(s, "user", 4))
    return NULL;
  return __real_strdup(s);
}

int __real_ch_engine_post(struct ch_engine *e, unsigned index, ch_worker_task_cb fn, void *arg);
int __wrap_ch_engine_post(struct ch_engine *e, unsigned index, ch_worker_task_cb fn, void *arg);
int __wrap_ch_engine_post(struct ch_engine *e, unsigned index, ch_worker_task_cb fn, void *arg) {
  if (inj.post_fn && fn == inj.post_fn && index == inj.post_index)
    return -ENOMEM;
  return __real_ch_engine_post(e, index, fn, arg);
}

/* The run's trigger table and each worker's fan-out table have one element per trigger the run may send:
   16 + rate x the trigger phase's seconds = 16 + 1234 x 1 (ch_run.c run_trigger_capacity). */
#define TRIGGER_CAPACITY 1250u

/* smoke.json on 2 workers, shortened: 4 clients connect and subscribe, 1 s of triggers. Returns the exit code. */
static int run_smoke(struct ch_buf *err) {
  static const char *const sets[] = {
      "clients.0.count=4", "trigger.rate=1234",
      ("phases=[{\"type\":\"connect\",\"timeout\":\"10s\"},{\"type\":\"subscribe\",\"timeout\":\"10s\"},"
       "{\"type\":\"trigger\",\"duration\":\"1s\"},{\"type\":\"disconnect\"}]")};
  struct ch_scenario *s = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_scenario_load("scenarios/smoke.json", sets, 3, &s, err), 0);
  struct ch_report *rep = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&rep), 0);
  struct ch_run_opts o = {0};
  o.scenario_path = "scenarios/smoke.json";
  o.token = "alloc-test-token";
  o.workers = 2;
  o.quiet = true;
  o.no_report = true;
  o.barrier_in = o.barrier_out = -1;
  int code = ch_run_execute(&o, s, rep, err);
  ch_report_free(rep);
  ch_scenario_free(s);
  return code;
}

static void expect_run_error(const char *why) {
  struct ch_buf err = CH_BUF_INIT;
  int code = run_smoke(&err);
  CU_ASSERT_EQUAL(code, CH_EXIT_RUN);
  CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, why) : NULL);
  if (code != CH_EXIT_RUN || !err.data || !strstr(err.data, why))
    fprintf(stderr, "\nexit %d, wanted 4 with \"%s\": %s\n", code, why, err.data ? err.data : "(no message)");
  ch_buf_free(&err);
  memset(&inj, 0, sizeof inj);
}

static void test_run_alloc_fails_each_trigger_sized_table(void) {
  /* 1: the trigger table, 2 and 3: worker 1's and worker 2's fan-out tables (the merge reads every worker's). */
  static const char *const why[] = {"out of memory", "worker 1's fan-out table", "worker 2's fan-out table"};
  for (unsigned k = 1; k <= 3; k++) {
    memset(&inj, 0, sizeof inj);
    inj.calloc_nmemb = TRIGGER_CAPACITY;
    inj.calloc_fail = k;
    expect_run_error(why[k - 1]);
  }
  /* the count above is the runner's: a fourth such calloc does not exist, and that run goes through */
  memset(&inj, 0, sizeof inj);
  inj.calloc_nmemb = TRIGGER_CAPACITY;
  inj.calloc_fail = 4;
  struct ch_buf err = CH_BUF_INIT;
  int code = run_smoke(&err);
  CU_ASSERT_NOT_EQUAL(code, CH_EXIT_RUN);
  CU_ASSERT_EQUAL(inj.calloc_seen, 3);
  ch_buf_free(&err);
  memset(&inj, 0, sizeof inj);
}

static void test_run_alloc_fails_the_endpoint_user_names(void) {
  inj.strdup_user = true;
  expect_run_error("out of memory starting the embedded reference endpoint");
}

static void test_run_alloc_fails_posting_setup_and_teardown(void) {
  inj.post_fn = run_worker_setup;
  inj.post_index = 1;
  expect_run_error("the workers could not be set up");
  inj.post_fn = run_worker_teardown;
  inj.post_index = 1;
  expect_run_error("the workers could not be torn down");
  inj.post_fn = run_worker_phase;
  inj.post_index = 1;
  expect_run_error("the timeline could not be carried out");
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_run_alloc_fails_each_trigger_sized_table),
                         CH_TEST(test_run_alloc_fails_the_endpoint_user_names),
                         CH_TEST(test_run_alloc_fails_posting_setup_and_teardown), CU_TEST_INFO_NULL};
  return ch_test_run("run_alloc", tests);
}
