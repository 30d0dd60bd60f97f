/* ch_recv_decode_lazy and the single-pass M iterator: the same messages and look-ups as the validating decoder,
   malformed elements still refused, members after M still seen. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ch_signalr.h"
#include "ch_test.h"

static int lazy(const char *s, struct ch_recv *r, struct ch_msg_iter *it, const char **why) {
  *why = NULL;
  int rc = ch_recv_decode_lazy(s, strlen(s), false, r, why);
  if (rc == 0)
    ch_recv_msgs_begin(r, it);
  return rc;
}

/* Every arg pointer gives what the pointer into A gives ("/0" + ptr), span for span. */
static void assert_same_lookup(const struct ch_hub_msg *m, const char *ptr) {
  char full[128];
  snprintf(full, sizeof full, "/0%s", ptr);
  struct ch_span a = CH_SPAN_NULL, b = CH_SPAN_NULL;
  int ra = ch_hub_msg_arg_pointer(m, ptr, &a), rb = ch_json_pointer(m->args, full, &b);
  CU_ASSERT_EQUAL(ra, rb);
  CU_ASSERT_PTR_EQUAL(a.p, b.p);
  CU_ASSERT_EQUAL(a.n, b.n);
}

static void test_lazy_batch_matches_the_validating_decoder(void) {
  const char *t5 = "{\"C\":\"d-5A1F00C3-B,0|C,0|D,2|E,1\",\"M\":[{\"H\":\"PartHub\",\"M\":\"Update\",\"A\":"
                   "[{\"PartId\":\"P-1001\",\"Qty\":7,\"Price\":12.5,\"Sub\":{\"a/b\":[1,{\"x\":2}]}}]},"
                   "{\"H\":\"parthub\",\"M\":\"update\",\"A\":[{\"PartId\":\"P-1002\"}],\"S\":{\"x\":1}},"
                   "{\"H\":\"OtherHub\",\"M\":\"Ping\",\"A\":[]},{\"I\":\"P|0\",\"P\":{\"I\":\"0\",\"D\":42}},"
                   "\"raw\", {\"H\":\"h\",\"M\":\"m\",\"A\":[5,{\"k\":1}]} ] }";
  struct ch_recv r, rs;
  struct ch_msg_iter it, its;
  struct ch_hub_msg m, ms;
  const char *why, *why2;
  CU_ASSERT_EQUAL_FATAL(lazy(t5, &r, &it, &why), 0);
  CU_ASSERT_TRUE(r.m_lazy);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.c, "d-5A1F00C3-B,0|C,0|D,2|E,1"));
  CU_ASSERT_EQUAL_FATAL(ch_recv_decode(t5, strlen(t5), false, &rs, &why2), 0);
  ch_recv_msgs_begin(&rs, &its);
  static const char *const ptrs[] = {"/PartId", "/Qty", "/Price", "/Missing", "/Qty/x", "", "/Sub/a~1b/1/x",
                                     "/Sub/a~1b/2", "/k", "/0", "/"};
  int n = 0, k, k2;
  while ((k = ch_recv_msgs_next(&it, &m, &why)) == 1) {
    k2 = ch_recv_msgs_next(&its, &ms, &why2);
    CU_ASSERT_EQUAL_FATAL(k2, 1);
    CU_ASSERT_EQUAL(m.kind, ms.kind);
    CU_ASSERT_PTR_EQUAL(m.raw.p, ms.raw.p);
    CU_ASSERT_EQUAL(m.raw.n, ms.raw.n);
    CU_ASSERT_PTR_EQUAL(m.hub.p, ms.hub.p);
    CU_ASSERT_PTR_EQUAL(m.args.p, ms.args.p);
    CU_ASSERT_EQUAL(m.args.n, ms.args.n);
    CU_ASSERT_PTR_EQUAL(m.state.p, ms.state.p);
    CU_ASSERT_EQUAL(m.progress_data.n, ms.progress_data.n);
    if (m.kind == CH_MSG_INVOCATION)
      for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) {
        assert_same_lookup(&m, ptrs[i]);
        assert_same_lookup(&ms, ptrs[i]); /* the index-less path agrees too */
      }
    n++;
  }
  CU_ASSERT_EQUAL(k, 0);
  CU_ASSERT_FALSE(it.more);
  CU_ASSERT_EQUAL(n, 6);
  /* PascalCase and lowercase hub names are one hub */
  CU_ASSERT_EQUAL_FATAL(lazy(t5, &r, &it, &why), 0);
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "parthub", "UPDATE"));
  struct ch_span v;
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "/PartId", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "P-1001"));
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "PartId", &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_hub_msg_arg0(&m, &v), 1);
  CU_ASSERT_EQUAL(v.p[0], '{');
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "PartHub", "Update"));
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_EQUAL(ch_hub_msg_arg0(&m, &v), 0); /* A is empty */
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "/PartId", &v), 0);
}

static void test_lazy_index_edge_cases(void) {
  struct ch_buf b = CH_BUF_INIT;
  /* more members than the index holds; escaped keys; a repeated key (the first wins, as in ch_json_pointer) */
  ch_buf_puts(&b, "{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{");
  for (int i = 0; i < CH_HUB_MSG_FIELDS + 6; i++)
    ch_buf_printf(&b, "\"F%d\":%d,", i, i);
  ch_buf_puts(&b, "\"Part\\u004bey\":\"k1\",\"Dup\":1,\"Dup\":2,\"HarnessSentUs\":1795826649336280}]}]}");
  struct ch_recv r;
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  const char *why;
  CU_ASSERT_EQUAL_FATAL(lazy(b.data, &r, &it, &why), 0);
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_FALSE(m.fields_all);
  static const char *const ptrs[] = {"/F0", "/F23", "/F24", "/F29", "/PartKey", "/Dup", "/HarnessSentUs", "/F99"};
  for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
    assert_same_lookup(&m, ptrs[i]);
  struct ch_span v;
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "/PartKey", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "k1"));
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "/Dup", &v), 1);
  CU_ASSERT_EQUAL(v.p[0], '1');
  /* escaped key inside the index, and a repeated A: the last one is the message's */
  const char *f = "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"a\\\"b\":1,\"~\":2}]},"
                  "{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":1}],\"A\":[{\"k\":2}]},"
                  "{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":1}],\"A\":[]}]}";
  CU_ASSERT_EQUAL_FATAL(lazy(f, &r, &it, &why), 0);
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_TRUE(m.fields_all);
  assert_same_lookup(&m, "/a\"b");
  assert_same_lookup(&m, "/~0");
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "/~0", &v), 1);
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "/k", &v), 1);
  CU_ASSERT_EQUAL(v.p[0], '2');
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_EQUAL(ch_hub_msg_arg0(&m, &v), 0);
  CU_ASSERT_EQUAL(ch_hub_msg_arg_pointer(&m, "/k", &v), 0);
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 0);
  ch_buf_free(&b);
}

/* Each of these frames is refused by ch_recv_decode; lazily, the decode or the iteration must fail (or hand the
   frame back through `more`), never finish cleanly. */
static void test_lazy_refuses_what_the_validating_decoder_refuses(void) {
  static const char *const bad[] = {
      "{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[1]},{\"H\":\"h\",\"M\":\"m\",\"A\":[1,]}]}",
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":\"a\x01\"}]}]}",          /* control character */
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":\"\xc3\x28\"}]}]}",       /* invalid UTF-8 */
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":01}]}]}",                 /* leading zero */
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":1,}]}]}",                 /* trailing comma */
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\" 1}]}]}",                  /* missing colon */
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":tru}]}]}",                /* bad literal */
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":\"\\x\"}]}]}",            /* bad escape */
      "{\"M\":[1 2]}",
      "{\"M\":[1],]}",
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[]}],\"Z\":[1,]}", /* malformed after M */
      "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[]}]] }",
      "{\"M\":[{]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct ch_recv r;
    struct ch_msg_iter it;
    struct ch_hub_msg m;
    const char *why = NULL;
    CU_ASSERT_EQUAL(ch_recv_decode(bad[i], strlen(bad[i]), false, &r, &why), -EBADMSG);
    if (lazy(bad[i], &r, &it, &why) != 0) {
      CU_ASSERT_PTR_NOT_NULL(why);
      continue;
    }
    int k, guard = 0;
    while ((k = ch_recv_msgs_next(&it, &m, &why)) == 1 && guard++ < 10)
      ;
    if (k == 0) {
      CU_ASSERT_TRUE(it.more); /* the caller decodes again, which fails */
    } else {
      CH_ASSERT_STR(why, "receive: M is not JSON");
    }
  }
}

/* A frame is judged on all its bytes, as JSON.parse judges the client's string: a NUL or anything but JSON whitespace
   after the value is refused by both decoders (the old /ping's trailing NUL, issue 14); JSON whitespace around it, a
   long poll's leading keep-alive spaces and SSE's CRLF are accepted. Lengths are explicit: the NUL is inside. */
static void test_both_decoders_judge_every_byte(void) {
#define F(lit, lp, ok) {lit, sizeof(lit) - 1, lp, ok}
  static const struct {
    const char *p;
    size_t n;
    bool long_poll, ok;
  } frames[] = {
      F("{\"C\":\"x\",\"M\":[]}\0", false, false),
      F("{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[1]}]}\0", false, false),
      F("{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[1]}]}\0\0\0", false, false),
      F("{\"C\":\"x\",\"M\":[]}\0 ", false, false),
      F("{\"C\":\"x\",\"M\":[]}\x0c", false, false),    /* form feed: not JSON whitespace */
      F("{\"C\":\"x\",\"M\":[]}\xc2\xa0", false, false), /* no-break space: neither */
      F("{\"C\":\"x\",\"M\":[]}x", false, false),
      F("{\"C\":\"x\",\"M\":[]}]}", false, false),
      F("{}\0", false, false),
      F("{\"I\":\"0\"}\0", false, false),
      F("  {\"C\":\"x\",\"M\":[]}\0", true, false),
      F("\0{\"C\":\"x\",\"M\":[]}", true, false),
      F("{\"C\":\"x\",\"M\":[]}\r\n", false, true),
      F(" \t{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[1]}]} \r\n", false, true),
      F("     {\"C\":\"x\",\"M\":[]}", true, true),
      F("   ", true, true), /* keep-alive spaces only */
      F("{}", false, true),
      F("{\"I\":\"0\"} ", false, true),
  };
#undef F
  for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
    struct ch_recv r;
    const char *why = NULL;
    int v = ch_recv_decode(frames[i].p, frames[i].n, frames[i].long_poll, &r, &why);
    CU_ASSERT_EQUAL(v == 0, frames[i].ok);
    int l = ch_recv_decode_lazy(frames[i].p, frames[i].n, frames[i].long_poll, &r, &why);
    if (l == 0 && r.m_lazy) {
      struct ch_msg_iter it;
      struct ch_hub_msg m;
      ch_recv_msgs_begin(&r, &it);
      int k;
      while ((k = ch_recv_msgs_next(&it, &m, &why)) == 1)
        ;
      if (k < 0 || it.more)
        l = -EBADMSG; /* the engine ends the client, or decodes again with ch_recv_decode (refused above) */
    }
    if ((v == 0) != frames[i].ok || (l == 0) != frames[i].ok)
      printf("\nframe %zu: validating %d, lazy %d, want %s\n", i, v, l, frames[i].ok ? "accepted" : "refused");
    CU_ASSERT_EQUAL(l == 0, frames[i].ok);
  }
}

static void test_lazy_members_after_m(void) {
  const char *f = "{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":1}]}],\"G\":\"tok\",\"Z\":[1]}";
  struct ch_recv r;
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  const char *why;
  CU_ASSERT_EQUAL_FATAL(lazy(f, &r, &it, &why), 0);
  CU_ASSERT_TRUE(r.m_lazy);
  CU_ASSERT_PTR_NULL(r.g.p); /* not seen yet */
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 0);
  CU_ASSERT_TRUE(it.more);
  CU_ASSERT_EQUAL_FATAL(ch_recv_decode(f, strlen(f), false, &r, &why), 0);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.g, "tok"));
  /* not ending in ']' before '}': decoded as a whole at once */
  const char *g = "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[]}],\"G\":\"tok\"}";
  CU_ASSERT_EQUAL_FATAL(lazy(g, &r, &it, &why), 0);
  CU_ASSERT_FALSE(r.m_lazy);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.g, "tok"));
  /* a hub response is still one when I comes first */
  CU_ASSERT_EQUAL_FATAL(lazy("{\"I\":\"0\",\"M\":[1]}", &r, &it, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_HUB_RESPONSE);
  /* keep-alive and init */
  CU_ASSERT_EQUAL_FATAL(lazy(" {} ", &r, &it, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_KEEPALIVE);
  CU_ASSERT_EQUAL_FATAL(lazy("{\"C\":\"d-1\",\"S\":1,\"M\":[]}", &r, &it, &why), 0);
  CU_ASSERT_EQUAL(r.s, 1);
  CU_ASSERT_TRUE(r.has_m);
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 0);
  CU_ASSERT_FALSE(it.more);
}

/* Nesting: the lazy walk counts depth from the frame, as ch_recv_decode does (64 levels, then refused). */
static void test_lazy_nesting_limit(void) {
  for (int extra = 58; extra <= 62; extra++) {
    struct ch_buf b = CH_BUF_INIT;
    ch_buf_puts(&b, "{\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[{\"k\":");
    for (int i = 0; i < extra; i++)
      ch_buf_putc(&b, '[');
    for (int i = 0; i < extra; i++)
      ch_buf_putc(&b, ']');
    ch_buf_puts(&b, "}]}]}");
    struct ch_recv r;
    struct ch_msg_iter it;
    struct ch_hub_msg m;
    const char *why;
    int strict = ch_recv_decode(b.data, b.len, false, &r, &why);
    CU_ASSERT_EQUAL_FATAL(lazy(b.data, &r, &it, &why), 0);
    int k = ch_recv_msgs_next(&it, &m, &why);
    CU_ASSERT_EQUAL(k == 1, strict == 0);
    ch_buf_free(&b);
  }
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_lazy_batch_matches_the_validating_decoder),
                         CH_TEST(test_lazy_index_edge_cases),
                         CH_TEST(test_lazy_refuses_what_the_validating_decoder_refuses),
                         CH_TEST(test_lazy_members_after_m),
                         CH_TEST(test_both_decoders_judge_every_byte),
                         CH_TEST(test_lazy_nesting_limit),
                         CU_TEST_INFO_NULL};
  return ch_test_run("recv_lazy", tests);
}
