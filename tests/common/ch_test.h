/* ch_test: the few lines every CUnit test executable shares. One executable per module; each is one CTest. */
#ifndef CH_TEST_H
#define CH_TEST_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CH_TEST(fn) {#fn, fn}

/* Runs the NULL-terminated tests as one suite; returns the process exit status (0 only if every test passed). */
static inline int ch_test_run(const char *suite, CU_TestInfo *tests) {
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 2;
  CU_SuiteInfo suites[] = {{(char *)suite, NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
  if (CU_register_suites(suites) != CUE_SUCCESS) {
    CU_cleanup_registry();
    return 2;
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
  unsigned ran = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  return (failed || ran == 0) ? 1 : 0;
}

/* CTest's SKIP_RETURN_CODE of every test (tests/CMakeLists.txt): an executable that left tests out exits with it, so
   CTest shows "Skipped", never "Passed". */
#define CH_TEST_SKIPPED 77

/* Some tests need something this machine lacks (the built binary, a tool). That is a failure, so a test run cannot
   pass without it, unless the user opted out with CH_ALLOW_SKIP=1 (or `optout`=1, a variable of the test's own):
   then those tests are to be skipped. Says which on stderr; returns true when they may be skipped. */
static inline bool ch_test_may_skip(const char *missing, const char *optout) {
  const char *all = getenv("CH_ALLOW_SKIP"), *own = optout ? getenv(optout) : NULL;
  bool skip = (all && !strcmp(all, "1")) || (own && !strcmp(own, "1"));
  if (skip)
    fprintf(stderr, "SKIPPED: %s (skipping allowed by %s=1)\n", missing,
            own && !strcmp(own, "1") ? optout : "CH_ALLOW_SKIP");
  else
    fprintf(stderr, "FAILED: %s (set CH_ALLOW_SKIP=1%s%s%s to skip the tests that need it instead)\n", missing,
            optout ? " or " : "", optout ? optout : "", optout ? "=1" : "");
  return skip;
}

/* ch_test_run for an executable that left some tests out (`skipped`): CH_TEST_SKIPPED when the others passed. */
static inline int ch_test_run_skipping(const char *suite, CU_TestInfo *tests, bool skipped) {
  int rc = ch_test_run(suite, tests);
  return rc == 0 && skipped ? CH_TEST_SKIPPED : rc;
}

#define CH_ASSERT_STR(a, b) CU_ASSERT_STRING_EQUAL((a) ? (a) : "(null)", (b))

/* Byte-exact comparisons with explicit lengths: n bytes at p are exactly (start with, end with) the literal. A C-string
   compare stops at a NUL, so a trailing NUL (or anything after one) would pass it. */
#define CH_ASSERT_BYTES(p, n, lit)                                                                                     \
  CU_ASSERT_TRUE((p) && (size_t)(n) == sizeof(lit) - 1 && memcmp((p), (lit), sizeof(lit) - 1) == 0)
#define CH_ASSERT_STARTS(p, n, lit)                                                                                    \
  CU_ASSERT_TRUE((p) && (size_t)(n) >= sizeof(lit) - 1 && memcmp((p), (lit), sizeof(lit) - 1) == 0)
#define CH_ASSERT_ENDS(p, n, lit)                                                                                      \
  CU_ASSERT_TRUE((p) && (size_t)(n) >= sizeof(lit) - 1 &&                                                            \
                 memcmp((p) + (size_t)(n) - (sizeof(lit) - 1), (lit), sizeof(lit) - 1) == 0)

#endif /* CH_TEST_H */
