/* ch_test: the few lines every CUnit test executable shares. One executable per module; each is one CTest. */
#ifndef CH_TEST_H
#define CH_TEST_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
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
