/* The checks parse like the official clients: ch_chk_json accepts what JSON.parse accepts, records why and which bytes
   when it refuses, and warns about what the clients accept but a careful server would not send. The table was run
   through node's JSON.parse on the bytes decoded as a browser decodes an HTTP body (TextDecoder, UTF-8): every case
   agrees but the last three, which the decoder turns into U+FFFD before JSON.parse sees them. Those are refused on
   purpose: what the client reads is then not what the server wrote. */
#include <stdio.h>

#include "ch_chk.h"
#include "ch_test.h"

#define S(lit) lit, sizeof(lit) - 1

static const struct {
  const char *p;
  size_t n;
  bool ok;
} table[] = {
    {S("{\"a\":1}"), true},
    {S(" \t\r\n{\"a\":1} \r\n\t"), true}, /* JSON whitespace around the value (a long poll's keep-alive spaces) */
    {S("\"x\""), true},
    {S("[1,2.5e-3,-0,true,false,null]"), true},
    {S("{\"a\":\"\\ud83d\\ude00 \xc3\xa9 \xf0\x9f\x98\x80 \\u0000\"}"), true},
    {S("{\"a\":1,\"a\":2}"), true},       /* accepted, with a warning */
    {S("{\"a\":\"\\ud800\"}"), true},      /* accepted, with a warning */
    {S("\xEF\xBB\xBF{\"a\":1}"), true},    /* the decoder drops the BOM; warned */
    {S("{ \"Response\": \"pong\" }\0"), false}, /* the old /ping */
    {S("{}\0"), false},
    {S("{\"a\":1}x"), false},
    {S("{\"a\":1} {\"b\":2}"), false},
    {S("{\"a\":1}\x0c"), false},           /* form feed is not JSON whitespace */
    {S("{\"a\":1}\xc2\xa0"), false},       /* nor is a no-break space */
    {S("{\"a\":01}"), false},
    {S("{\"a\":1.}"), false},
    {S("{\"a\":.5}"), false},
    {S("{\"a\":+1}"), false},
    {S("{\"a\":1,}"), false},
    {S("[1,]"), false},
    {S("{'a':1}"), false},
    {S("{a:1}"), false},
    {S("/*c*/{}"), false},
    {S("NaN"), false},
    {S("{\"a\":\"\x01\"}"), false},        /* a raw control character in a string */
    {S("{\"a\":\"\t\"}"), false},
    {S("{\"a\":\"\\x41\"}"), false},
    {S("{\"a\":\"\\u12\"}"), false},
    {S(""), false},
    {S("   "), false},
    {S("{\"a\":\"\xff\"}"), false},        /* not UTF-8 (the clients would decode U+FFFD, changing the text) */
    {S("{\"a\":\"\xed\xa0\x80\"}"), false}, /* a surrogate encoded in UTF-8 */
    {S("{\"a\":\"\xc0\xaf\"}"), false},    /* an overlong form */
};

static void test_chk_json_accepts_what_json_parse_accepts(void) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    struct ch_chk_ctx cx;
    memset(&cx, 0, sizeof cx);
    cJSON *j = ch_chk_json(&cx, table[i].p, table[i].n);
    if ((j != NULL) != table[i].ok)
      fprintf(stderr, "case %zu: %s (%s)\n", i, j ? "accepted" : "refused", cx.json_err.data ? cx.json_err.data : "");
    CU_ASSERT_EQUAL(j != NULL, table[i].ok);
    CU_ASSERT_EQUAL(cx.json_err.len != 0, !table[i].ok); /* a refusal always says why */
    cJSON_Delete(j);
    ch_buf_free(&cx.json_err);
    ch_buf_free(&cx.json_warn);
  }
}

static void test_chk_json_refusal_shows_the_bytes(void) {
  struct ch_chk_ctx cx;
  memset(&cx, 0, sizeof cx);
  CU_ASSERT_PTR_NULL(ch_chk_json(&cx, S("{ \"Response\": \"pong\" }\0")));
  CU_ASSERT_PTR_NOT_NULL(strstr(cx.json_err.data, "trailing data after the value at byte 22 of 23"));
  CU_ASSERT_PTR_NOT_NULL(strstr(cx.json_err.data, "{ \"Response\": \"pong\" } >>\\x00"));
  /* the same defect twice is said once; notes go to a failure's evidence only, warnings to every result */
  CU_ASSERT_PTR_NULL(ch_chk_json(&cx, S("{ \"Response\": \"pong\" }\0")));
  struct ch_buf ev = CH_BUF_INIT;
  ch_chk_json_notes(&cx, true, &ev);
  CU_ASSERT_PTR_NOT_NULL(strstr(ev.data, ">>\\x00"));
  CU_ASSERT_PTR_NULL(strstr(strstr(ev.data, ">>\\x00") + 1, ">>\\x00"));
  ch_buf_reset(&ev);
  ch_chk_json_notes(&cx, false, &ev);
  CU_ASSERT_EQUAL(ev.len, 0);
  ch_buf_free(&ev);
  ch_buf_free(&cx.json_err);
  ch_buf_free(&cx.json_warn);
}

static void test_chk_json_warnings(void) {
  struct ch_chk_ctx cx;
  memset(&cx, 0, sizeof cx);
  cJSON *j = ch_chk_json(&cx, S("{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"A\":[{\"K\":1,\"K\":2}]}]}"));
  CU_ASSERT_PTR_NOT_NULL(j);
  cJSON_Delete(j);
  CU_ASSERT_TRUE(cx.json_warn.data && strstr(cx.json_warn.data, "the key \"K\" repeats") != NULL);
  CU_ASSERT_FALSE(cx.json_warn.data && strstr(cx.json_warn.data, "surrogate") != NULL);
  j = ch_chk_json(&cx, S("{\"a\":\"\\udc00\\ud800\"}"));
  cJSON_Delete(j);
  CU_ASSERT_TRUE(cx.json_warn.data && strstr(cx.json_warn.data, "surrogate") != NULL);
  struct ch_buf ev = CH_BUF_INIT;
  ch_buf_puts(&ev, "request: GET /x");
  ch_chk_json_notes(&cx, false, &ev);
  CU_ASSERT_PTR_NOT_NULL(strstr(ev.data, "request: GET /x\nwarning: the key"));
  ch_buf_free(&ev);
  ch_buf_free(&cx.json_warn);
  /* a valid pair and a clean object: no warning */
  memset(&cx, 0, sizeof cx);
  j = ch_chk_json(&cx, S("{\"a\":\"\\ud83d\\ude00\",\"b\":{\"a\":1}}"));
  CU_ASSERT_PTR_NOT_NULL(j);
  cJSON_Delete(j);
  CU_ASSERT_EQUAL(cx.json_warn.len, 0);
}

static void test_chk_show_bytes(void) {
  struct ch_buf b = CH_BUF_INIT;
  ch_chk_show_bytes(&b, S("a\0\r\n\x7f\xc3\xa9\xff z"), 100);
  CH_ASSERT_STR(b.data, "a\\x00\\x0d\\x0a\\x7f\xc3\xa9\\xff z");
  ch_buf_reset(&b);
  ch_chk_show_bytes(&b, S("abcdef"), 3);
  CH_ASSERT_STR(b.data, "abc…");
  ch_buf_reset(&b);
  ch_chk_show_bytes(&b, NULL, 0, 10); /* an empty body has no buffer */
  CU_ASSERT_EQUAL(b.len, 0);
  ch_buf_free(&b);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_chk_json_accepts_what_json_parse_accepts),
      CH_TEST(test_chk_json_refusal_shows_the_bytes),
      CH_TEST(test_chk_json_warnings),
      CH_TEST(test_chk_show_bytes),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("chk-json", tests);
}
