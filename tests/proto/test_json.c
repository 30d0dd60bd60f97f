/* Tests of ch_json: strict validation, iteration, lookup, strings, numbers and JSON Pointer. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ch_json.h"
#include "ch_test.h"

static struct ch_span S(const char *s) { return ch_span_cstr(s); }

static int parse(const char *s) { return ch_json_parse(S(s), NULL, NULL); }

static void test_json_accepts_valid_documents(void) {
  const char *ok[] = {"{}", "[]", " {\"a\":1} ", "\"x\"", "0", "-0", "1.5e10", "-1E-3", "true", "false", "null",
                      "[1,[2,[3]],{\"k\":{\"z\":null}}]", "\t\r\n[ 1 , 2 ]\n", "\"\\u00e9\\ud83d\\ude00\\/\"",
                      "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "{\"C\":\"d-5A1F00C3-B,0|C,0|D,1\",\"S\":1,\"M\":[]}",
                      "0.50000000", "0.0635377640154799133830183159"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int rc = parse(ok[i]);
    if (rc)
      printf("\nrejected: %s\n", ok[i]);
    CU_ASSERT_EQUAL(rc, 0);
  }
}

static void test_json_rejects_malformed_documents(void) {
  const char *bad[] = {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[01]", "[1.]", "[.5]",
                       "[1e]", "[-]", "+1", "tru", "nul", "True", "\"abc", "\"a\\x\"", "\"\\u12G4\"",
                       "\"a\tb\"", "\"\x01\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"",
                       "\"\xe2\x82\"", "\"\x80\"", "{} {}", "[1] x", "NaN", "'x'", "[1,2", "{\"a\":}",
                       "\"\xf4\x90\x80\x80\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct ch_json_err e = {0, NULL};
    int rc = ch_json_parse(S(bad[i]), NULL, &e);
    if (rc != -EBADMSG)
      printf("\naccepted: %s\n", bad[i]);
    CU_ASSERT_EQUAL(rc, -EBADMSG);
    CU_ASSERT_PTR_NOT_NULL(e.msg);
  }
  struct ch_json_err e;
  CU_ASSERT_EQUAL(ch_json_parse(S("[1, 2, x]"), NULL, &e), -EBADMSG);
  CU_ASSERT_EQUAL(e.pos, 7);
  CH_ASSERT_STR(e.msg, "unexpected character");
  CU_ASSERT_EQUAL(ch_json_parse(S(" {\"a\":\"b\\q\"}"), NULL, &e), -EBADMSG);
  CU_ASSERT_EQUAL(e.pos, 8);
  CH_ASSERT_STR(e.msg, "invalid escape in string");
  CU_ASSERT_EQUAL(ch_json_parse(S("{\"a\":1} x"), NULL, &e), -EBADMSG);
  CU_ASSERT_EQUAL(e.pos, 8);
  CH_ASSERT_STR(e.msg, "trailing data after the value");
  CU_ASSERT_EQUAL(ch_json_parse(S("[1,2"), NULL, &e), -EBADMSG);
  CU_ASSERT_EQUAL(e.pos, 4);
  CH_ASSERT_STR(e.msg, "unexpected end");
  CU_ASSERT_EQUAL(ch_json_parse((struct ch_span){NULL, 0}, NULL, &e), -EBADMSG);
}

static void test_json_depth_limit(void) {
  char buf[300];
  for (int depth = 63; depth <= 66; depth++) {
    size_t n = 0;
    for (int i = 0; i < depth; i++)
      buf[n++] = '[';
    for (int i = 0; i < depth; i++)
      buf[n++] = ']';
    buf[n] = '\0';
    struct ch_json_err e = {0, NULL};
    int rc = ch_json_parse(S(buf), NULL, &e);
    if (depth <= CH_JSON_MAX_DEPTH) {
      CU_ASSERT_EQUAL(rc, 0);
    } else {
      CU_ASSERT_EQUAL(rc, -EBADMSG);
      CH_ASSERT_STR(e.msg, "nesting deeper than 64");
    }
  }
  /* a very deep input fails fast, without recursing past the limit */
  size_t big = 1000000;
  char *deep = malloc(big + 1);
  memset(deep, '[', big);
  deep[big] = '\0';
  CU_ASSERT_EQUAL(ch_json_parse((struct ch_span){deep, big}, NULL, NULL), -EBADMSG);
  free(deep);
}

static void test_json_skip_returns_the_value_span(void) {
  struct ch_span v;
  CU_ASSERT_EQUAL(ch_json_skip(S("  {\"a\":[1,2]} tail"), &v, NULL), 0);
  CU_ASSERT_EQUAL(v.n, 11);
  CU_ASSERT_EQUAL(memcmp(v.p, "{\"a\":[1,2]}", 11), 0);
  CU_ASSERT_EQUAL(ch_json_parse(S("  {\"a\":[1,2]} tail"), NULL, NULL), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_kind(S(" [")), CH_JSON_ARRAY);
  CU_ASSERT_EQUAL(ch_json_kind(S("-1")), CH_JSON_NUMBER);
  CU_ASSERT_EQUAL(ch_json_kind(S("x")), CH_JSON_INVALID);
  CH_ASSERT_STR(ch_json_kind_name(CH_JSON_OBJECT), "object");
  struct ch_span t = ch_span_trim(S(" \r\n x \t"));
  CU_ASSERT_EQUAL(t.n, 1);
  CU_ASSERT_EQUAL(t.p[0], 'x');
}

static void test_json_object_and_array_iteration(void) {
  const char *doc = "{ \"H\" : \"PartHub\", \"A\": [ {\"Qty\":7}, \"x\", null ], \"e\\u0301\": 1 }";
  struct ch_json_iter it;
  struct ch_span k, v;
  CU_ASSERT_EQUAL(ch_json_obj_begin(S(doc), &it), 0);
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(k, "H"));
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "PartHub"));
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(k, "A"));
  struct ch_span arr = v;
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(k, "e\xcc\x81"));
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), 0);
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), 0);

  struct ch_json_iter ai;
  CU_ASSERT_EQUAL(ch_json_arr_begin(arr, &ai), 0);
  int n = 0;
  enum ch_json_kind kinds[3];
  while (ch_json_arr_next(&ai, &v) == 1 && n < 3)
    kinds[n++] = ch_json_kind(v);
  CU_ASSERT_EQUAL(n, 3);
  CU_ASSERT_EQUAL(kinds[0], CH_JSON_OBJECT);
  CU_ASSERT_EQUAL(kinds[1], CH_JSON_STRING);
  CU_ASSERT_EQUAL(kinds[2], CH_JSON_NULL);
  size_t cnt = 0;
  CU_ASSERT_EQUAL(ch_json_arr_count(arr, &cnt), 0);
  CU_ASSERT_EQUAL(cnt, 3);
  CU_ASSERT_EQUAL(ch_json_arr_count(S("{}"), &cnt), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_arr_count(S("[1,"), &cnt), -EBADMSG);

  /* begin refuses the wrong container; next reports truncation and stays failed */
  CU_ASSERT_EQUAL(ch_json_obj_begin(S("[1]"), &it), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_obj_begin(S("{\"a\":1,\"b\""), &it), 0);
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), 1);
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_obj_next(&it, &k, &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_arr_begin(S("[]"), &ai), 0);
  CU_ASSERT_EQUAL(ch_json_arr_next(&ai, &v), 0);
  CU_ASSERT_EQUAL(ch_json_arr_begin(S("[1,]"), &ai), 0);
  CU_ASSERT_EQUAL(ch_json_arr_next(&ai, &v), 1);
  CU_ASSERT_EQUAL(ch_json_arr_next(&ai, &v), -EBADMSG);
  CH_ASSERT_STR(ai.err.msg, "trailing comma");
}

static void test_json_member_lookup(void) {
  const char *doc = "{\"Url\":\"/signalr\",\"url\":\"lower\",\"K\\u0065y\":true}";
  struct ch_span v;
  CU_ASSERT_EQUAL(ch_json_obj_get(S(doc), "url", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "lower"));
  CU_ASSERT_EQUAL(ch_json_obj_get(S(doc), "Url", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "/signalr"));
  CU_ASSERT_EQUAL(ch_json_obj_get_ci(S(doc), "URL", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "/signalr"));
  CU_ASSERT_EQUAL(ch_json_obj_get(S(doc), "Key", &v), 1);
  CU_ASSERT_EQUAL(ch_json_kind(v), CH_JSON_TRUE);
  CU_ASSERT_EQUAL(ch_json_obj_get(S(doc), "missing", &v), 0);
  CU_ASSERT_EQUAL(ch_json_obj_get(S("[1]"), "a", &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_obj_get(S("{\"a\":[}"), "b", &v), -EBADMSG);
}

static void test_json_string_compare_and_unescape(void) {
  CU_ASSERT_TRUE(ch_json_str_eqz(S("\"PartHub\""), "PartHub"));
  CU_ASSERT_FALSE(ch_json_str_eqz(S("\"PartHub\""), "parthub"));
  CU_ASSERT_TRUE(ch_json_str_eq_ci(S("\"PartHub\""), "parthub", 7));
  CU_ASSERT_TRUE(ch_json_str_eq_ci(S("\"P\\u0061rtHub\""), "PARTHUB", 7));
  CU_ASSERT_FALSE(ch_json_str_eqz(S("\"Part\""), "PartHub"));
  CU_ASSERT_FALSE(ch_json_str_eqz(S("\"PartHub\""), "Part"));
  CU_ASSERT_FALSE(ch_json_str_eqz(S("42"), "42"));
  CU_ASSERT_FALSE(ch_json_str_eqz(S("\"a\\q\""), "a"));
  CU_ASSERT_TRUE(ch_json_str_eqz(S("\"a\\\"b\""), "a\"b"));
  CU_ASSERT_TRUE(ch_json_str_has_escape(S("\"a\\\"b\"")));
  CU_ASSERT_FALSE(ch_json_str_has_escape(S("\"ab\"")));
  struct ch_span in = ch_json_str_inner(S("\"abc\""));
  CU_ASSERT_EQUAL(in.n, 3);

  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_json_str_unescape(S("\"a\\n\\t\\\\\\/\\\"\\b\\f\\r\\u00e9\\u20AC\\ud83d\\ude00z\""), &b), 0);
  CH_ASSERT_STR(b.data, "a\n\t\\/\"\b\f\r\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_json_str_unescape(S("\"ok\""), &b), 0);
  const char *bad[] = {"\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"", "\"\\ude00\\ud83d\"", "\"\\x\"",
                       "\"\\u12\"", "\"a\\\"", "\"\x01\"", "abc", "\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CU_ASSERT_EQUAL(ch_json_str_unescape(S(bad[i]), &b), -EINVAL);
    CH_ASSERT_STR(b.data, "ok"); /* unchanged on error */
  }
  ch_buf_free(&b);
}

static void test_json_append_str_escapes_and_round_trips(void) {
  struct ch_buf b = CH_BUF_INIT;
  const char raw[] = "a\"b\\c/<d>\n\x01\x1f caf\xc3\xa9 \xff end";
  CU_ASSERT_EQUAL(ch_json_append_str(&b, raw, sizeof raw - 1), 0);
  CH_ASSERT_STR(b.data, "\"a\\\"b\\\\c/<d>\\n\\u0001\\u001f caf\xc3\xa9 \\ufffd end\"");
  CU_ASSERT_EQUAL(ch_json_parse((struct ch_span){b.data, b.len}, NULL, NULL), 0);
  struct ch_buf d = CH_BUF_INIT;
  ch_buf_reset(&b);
  const char ok[] = "tab\there \"quoted\" \xe2\x82\xac";
  ch_json_append_str(&b, ok, sizeof ok - 1);
  CU_ASSERT_EQUAL(ch_json_str_unescape((struct ch_span){b.data, b.len}, &d), 0);
  CH_ASSERT_STR(d.data, ok);
  CU_ASSERT_TRUE(ch_json_str_eq((struct ch_span){b.data, b.len}, ok, sizeof ok - 1));
  ch_buf_reset(&b);
  ch_json_append_str(&b, "", 0);
  CH_ASSERT_STR(b.data, "\"\"");
  ch_buf_free(&b);
  ch_buf_free(&d);
}

static void test_json_numbers(void) {
  double d;
  CU_ASSERT_EQUAL(ch_json_num_double(S("12.5"), &d), 0);
  CU_ASSERT_DOUBLE_EQUAL(d, 12.5, 1e-12);
  CU_ASSERT_EQUAL(ch_json_num_double(S("-1e-3"), &d), 0);
  CU_ASSERT_DOUBLE_EQUAL(d, -0.001, 1e-15);
  CU_ASSERT_EQUAL(ch_json_num_double(S("20.0"), &d), 0);
  CU_ASSERT_DOUBLE_EQUAL(d, 20.0, 0);
  CU_ASSERT_EQUAL(ch_json_num_double(S("1e400"), &d), -ERANGE);
  CU_ASSERT_EQUAL(ch_json_num_double(S("-1e400"), &d), -ERANGE);
  CU_ASSERT_EQUAL(ch_json_num_double(S("1e-400"), &d), 0);
  CU_ASSERT_EQUAL(ch_json_num_double(S("\"1\""), &d), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_double(S("1 "), &d), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_double(S("0x10"), &d), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_double(S("NaN"), &d), -EINVAL);
  /* the fast path and strtod agree, including where the fast path gives up */
  const char *nums[] = {"0",       "-0",        "0.1",      "12.5",     "123456789012345", "1234567890123456",
                        "1e22",    "1e23",      "1.5e-22",  "1.5e-23",  "0.50000000",      "-3.14159e2",
                        "2E+3",    "9007199254740993", "0.0635377640154799133830183159", "1e-400", "4.9e-324",
                        "1.7976931348623157e308", "0.000000000000000000000000000001"};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    CU_ASSERT_EQUAL(ch_json_num_double(S(nums[i]), &d), 0);
    double want = strtod(nums[i], NULL);
    if (d != want)
      printf("\n%s: %.17g != %.17g\n", nums[i], d, want);
    CU_ASSERT_EQUAL(memcmp(&d, &want, sizeof d), 0);
  }

  int64_t v;
  CU_ASSERT_EQUAL(ch_json_num_int64(S("20"), &v), 0);
  CU_ASSERT_EQUAL(v, 20);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("20.0"), &v), 0);
  CU_ASSERT_EQUAL(v, 20);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("-0"), &v), 0);
  CU_ASSERT_EQUAL(v, 0);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("9223372036854775807"), &v), 0);
  CU_ASSERT_EQUAL(v, INT64_MAX);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("-9223372036854775808"), &v), 0);
  CU_ASSERT_EQUAL(v, INT64_MIN);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("9223372036854775808"), &v), -ERANGE);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("-9223372036854775809"), &v), -ERANGE);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("123456789012345678901234567890"), &v), -ERANGE);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("1.5"), &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("1e3"), &v), -EINVAL);
  /* 8 digits at a time (HarnessSentUs has 16), and a non-digit anywhere in such a run */
  CU_ASSERT_EQUAL(ch_json_num_int64(S("1795826649336280"), &v), 0);
  CU_ASSERT_EQUAL(v, 1795826649336280ll);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("-123456781234567812"), &v), 0);
  CU_ASSERT_EQUAL(v, -123456781234567812ll);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("1234567a"), &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("12:45678901"), &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("1234/6789"), &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("1."), &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("01"), &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("99999999999999999999.5"), &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_num_int64(S("true"), &v), -EINVAL);
}

static void test_json_pointer(void) {
  const char *doc = "{\"M\":[{\"H\":\"PartHub\",\"A\":[{\"PartId\":\"P-1001\",\"Qty\":7}]}],"
                    "\"a/b\":1,\"m~n\":2,\"\":3,\"list\":[10,11,12,13,14,15,16,17,18,19,20]}";
  struct ch_span v;
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/M/0/A/0/PartId", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "P-1001"));
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/M/0/A/0/Qty", &v), 1);
  CU_ASSERT_EQUAL(v.n, 1);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/a~1b", &v), 1);
  CU_ASSERT_EQUAL(v.p[0], '1');
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/m~0n", &v), 1);
  CU_ASSERT_EQUAL(v.p[0], '2');
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/", &v), 1);
  CU_ASSERT_EQUAL(v.p[0], '3');
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/list/10", &v), 1);
  CU_ASSERT_EQUAL(memcmp(v.p, "20", 2), 0);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "", &v), 1);
  CU_ASSERT_EQUAL(v.n, strlen(doc));
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/list/11", &v), 0);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/list/01", &v), 0);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/list/-", &v), 0);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/M/0/H/x", &v), 0);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/nope", &v), 0);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "M", &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_pointer(S(doc), "/m~2n", &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_json_pointer(S("{\"a\":"), "/a", &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_pointer(S("{\"a\":[1,2"), "/a", &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_pointer(S("{\"a\":{\"b\":tru}}"), "/a", &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_pointer(S("{\"a\":{\"b\":\"x\\q\"}}"), "/a/b", &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_pointer(S("[\"x"), "/0", &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_pointer(S("  {\"a\" : [ 1 , {\"b\" :  \"c\" } ] }  "), "/a/1/b", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "c"));
  /* only the path and the returned value are validated, as documented */
  CU_ASSERT_EQUAL(ch_json_pointer(S("{\"a\":1,\"b\":tru}"), "/a", &v), 1);
  CU_ASSERT_EQUAL(ch_json_pointer(S("{\"a\":1,\"b\":tru}"), "/b", &v), -EBADMSG);
  CU_ASSERT_EQUAL(ch_json_pointer(S("{\"a\":[1,2"), "/a/1", &v), 1); /* the unclosed tail is never reached */
  CU_ASSERT_EQUAL(v.n, 1);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_json_accepts_valid_documents),
                         CH_TEST(test_json_rejects_malformed_documents),
                         CH_TEST(test_json_depth_limit),
                         CH_TEST(test_json_skip_returns_the_value_span),
                         CH_TEST(test_json_object_and_array_iteration),
                         CH_TEST(test_json_member_lookup),
                         CH_TEST(test_json_string_compare_and_unescape),
                         CH_TEST(test_json_append_str_escapes_and_round_trips),
                         CH_TEST(test_json_numbers),
                         CH_TEST(test_json_pointer),
                         CU_TEST_INFO_NULL};
  return ch_test_run("json", tests);
}
