/* The progress line's planned total: computed from the scenario's timeline as the runner executes it. */
#include <stdlib.h>

#include "ch_run_progress.h"
#include "ch_scenario.h"
#include "ch_test.h"

#define S 1000000000ull
#define MS 1000000ull

static struct ch_scenario *load(const char *json) {
  struct ch_scenario *s = NULL;
  struct ch_buf err = CH_BUF_INIT;
  if (ch_scenario_from_json_string(json, strlen(json), "t.json", NULL, 0, &s, &err))
    fprintf(stderr, "\n%s\n", err.data ? err.data : "");
  ch_buf_free(&err);
  return s;
}

/* Hold and verify_silence last what the scenario says; the phases the target decides are estimates. */
static void test_progress_planned_exact_for_hold_and_silence(void) {
  struct ch_scenario *s = load("{\"clients\":[{\"count\":4,\"ramp\":{\"rate\":2},\"subscribe\":{\"keys\":[\"k\"]}}],"
                               "\"expect\":{\"unsubscribe_grace\":\"1500ms\"},\"phases\":[{\"type\":\"connect\"},"
                               "{\"type\":\"hold\",\"duration\":\"20s\"},{\"type\":\"subscribe\"},{\"type\":\"unsubscribe\"},"
                               "{\"type\":\"verify_silence\",\"duration\":\"3s\"}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  bool est = false;
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 1, &est), 20 * S);
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 4, &est), 3 * S + 1500 * MS); /* the grace is waited too */
  CU_ASSERT_FALSE(est);
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 2, &est), 0);
  CU_ASSERT_TRUE(est);
  est = false;
  CU_ASSERT_EQUAL(ch_run_planned_ns(s, &est), 2 * S + 20 * S + 3 * S + 1500 * MS); /* 4 clients at 2/s */
  CU_ASSERT_TRUE(est);
  ch_scenario_free(s);
}

/* Ramps, trigger counts and rates. */
static void test_progress_planned_from_ramps_and_triggers(void) {
  struct ch_scenario *s =
      load("{\"clients\":[{\"name\":\"a\",\"count\":100,\"ramp\":{\"duration\":\"5s\"},\"subscribe\":{\"keys\":[\"k\"]}},"
           "{\"name\":\"b\",\"count\":300,\"ramp\":{\"rate\":40},\"subscribe\":{\"keys\":[\"k\"]}}],"
           "\"trigger\":{\"type\":\"reference\",\"rate\":50},\"phases\":[{\"type\":\"connect\",\"clients\":\"b\"},"
           "{\"type\":\"connect\",\"clients\":\"a\"},{\"type\":\"subscribe\"},{\"type\":\"trigger\",\"duration\":\"1m\"},"
           "{\"type\":\"disconnect\"}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  bool est = false;
  /* the busiest ramp (40/s) sets the pace for every client: b's 300, then a's 100 */
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 0, &est), 7500 * MS);
  CU_ASSERT_TRUE(est); /* connects take as long as the target takes */
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 1, &est), 2500 * MS);
  est = false;
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 3, &est), 60 * S);
  CU_ASSERT_TRUE(est); /* it ends when the Updates arrived */
  est = false;
  CU_ASSERT_EQUAL(ch_run_planned_ns(s, &est), 7500 * MS + 2500 * MS + 60 * S);
  CU_ASSERT_TRUE(est);
  ch_scenario_free(s);
  /* a count ends the trigger phase before its duration: 30 triggers at 10/s */
  s = load("{\"clients\":[{\"count\":4,\"subscribe\":{\"keys\":[\"k\"]}}],\"trigger\":{\"type\":\"reference\","
           "\"rate\":10,\"count\":30},\"phases\":[{\"type\":\"connect\"},{\"type\":\"subscribe\"},"
           "{\"type\":\"trigger\",\"duration\":\"1m\"},{\"type\":\"trigger\"}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 0, &est), 0); /* no ramp: all at once */
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 2, &est), 3 * S);
  CU_ASSERT_EQUAL(ch_run_phase_planned_ns(s, 3, &est), 3 * S); /* no duration: until count is sent */
  ch_scenario_free(s);
}

/* While running: a phase that overruns its plan moves the total and makes it an estimate. */
static void test_progress_expected_total_follows_the_run(void) {
  struct ch_scenario *s = load("{\"clients\":[{\"count\":4}],\"phases\":[{\"type\":\"connect\"},"
                               "{\"type\":\"hold\",\"duration\":\"10s\"},{\"type\":\"hold\",\"duration\":\"5s\"}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  bool est = false;
  CU_ASSERT_EQUAL(ch_run_expected_total_ns(s, SIZE_MAX, 0, 1 * S, &est), 1 * S + 15 * S); /* not started */
  CU_ASSERT_TRUE(est); /* the connect phase to come */
  est = false;
  CU_ASSERT_EQUAL(ch_run_expected_total_ns(s, 1, 3 * S, 4 * S, &est), 18 * S); /* connecting took 3 s */
  CU_ASSERT_FALSE(est); /* what is left is two holds: exact */
  CU_ASSERT_EQUAL(ch_run_expected_total_ns(s, 2, 13 * S, 14 * S, &est), 18 * S);
  CU_ASSERT_FALSE(est);
  CU_ASSERT_EQUAL(ch_run_expected_total_ns(s, 2, 13 * S, 20 * S, &est), 20 * S); /* running late */
  CU_ASSERT_TRUE(est);
  ch_scenario_free(s);
}

/* The shipped soak scenario, as the 35 s progress test runs it. */
static void test_progress_planned_of_the_shipped_soak(void) {
  const char *sets[] = {"phases.2.duration=30s", "clients.0.count=20"};
  struct ch_scenario *s = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_scenario_load(CH_SOURCE_DIR "/scenarios/soak-10m.json", sets, 2, &s, &err), 0);
  bool est = false;
  CU_ASSERT_EQUAL(ch_run_planned_ns(s, &est), 5 * S + 30 * S); /* 5 s ramp, 30 s of triggers */
  CU_ASSERT_TRUE(est);
  ch_scenario_free(s);
  ch_buf_free(&err);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_progress_planned_exact_for_hold_and_silence),
                         CH_TEST(test_progress_planned_from_ramps_and_triggers),
                         CH_TEST(test_progress_expected_total_follows_the_run),
                         CH_TEST(test_progress_planned_of_the_shipped_soak), CU_TEST_INFO_NULL};
  return ch_test_run("run_progress", tests);
}
