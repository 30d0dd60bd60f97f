/* ch_users: the users CSV of `run` (target.auth.login) and `serve --login-users`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ch_test.h"
#include "ch_users.h"

static void test_users_parse_rows(void) {
  static const char csv[] = "user,password\r\n# a comment\n\nalice,pw-a\r\nbob,pw,with,commas\n";
  struct ch_users u;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_users_parse(csv, sizeof csv - 1, "t.csv", &u, &err), 0);
  CU_ASSERT_EQUAL_FATAL(u.n, 2);
  CU_ASSERT_STRING_EQUAL(u.v[0].name, "alice");
  CU_ASSERT_STRING_EQUAL(u.v[0].password, "pw-a");
  CU_ASSERT_EQUAL(u.v[0].row, 4);
  CU_ASSERT_STRING_EQUAL(u.v[1].password, "pw,with,commas");
  CU_ASSERT_EQUAL(u.v[1].row, 5);
  ch_users_free(&u);
  CU_ASSERT_EQUAL(u.n, 0);
  ch_buf_free(&err);
}

static void test_users_errors_never_show_a_line(void) {
  static const char *const bad[] = {"alice,pw\nsecret-without-comma\n", "alice,pw\n,secret-no-user\n",
                                    "alice,pw\nuser-no-secret,\n", "alice,se\001cret\n"};
  static const char *const rows[] = {"t.csv:2:", "t.csv:2:", "t.csv:2:", "t.csv:1:"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct ch_users u;
    struct ch_buf err = CH_BUF_INIT;
    CU_ASSERT_EQUAL(ch_users_parse(bad[i], strlen(bad[i]), "t.csv", &u, &err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, rows[i]) : NULL);
    CU_ASSERT_PTR_NULL(err.data ? strstr(err.data, "secret") : NULL);
    CU_ASSERT_PTR_NULL(u.v);
    ch_buf_free(&err);
  }
  struct ch_users u;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_users_parse("user,password\n# none\n", 21, "t.csv", &u, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, "found none") : NULL);
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_users_load("/nonexistent/users.csv", &u, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, "/nonexistent/users.csv: cannot open") : NULL);
  ch_buf_free(&err);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_users_parse_rows),
      CH_TEST(test_users_errors_never_show_a_line),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("users", tests);
}
