/* Tests of the incremental SSE parser: line ends, field rules, size limit, and chunk splits at every offset. */
#include <errno.h>
#include <stdio.h>

#include "ch_signalr.h"
#include "ch_sse.h"
#include "ch_test.h"

/* Collects events as "<data>" joined with '|' so a whole stream compares as one string. */
struct collect {
  struct ch_buf all;
  int events;
  int stop_after; /* >0: return 7 from that event on */
};

static int collect_cb(void *user, const char *data, size_t n) {
  struct collect *c = user;
  CU_ASSERT_EQUAL(data[n], '\0');
  ch_buf_putc(&c->all, '<');
  ch_buf_append(&c->all, data, n);
  ch_buf_putc(&c->all, '>');
  c->events++;
  return c->stop_after && c->events >= c->stop_after ? 7 : 0;
}

static void sse_expect(const char *stream, const char *want, int events) {
  size_t n = strlen(stream);
  struct collect c = {CH_BUF_INIT, 0, 0};
  struct ch_sse s;
  CU_ASSERT_EQUAL_FATAL(ch_sse_init(&s, 0, collect_cb, &c), 0);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, stream, n), 0);
  ch_buf_putc(&c.all, '\0');
  if (strcmp(c.all.data, want))
    printf("\ngot  %s\nwant %s\n", c.all.data, want);
  CH_ASSERT_STR(c.all.data, want);
  CU_ASSERT_EQUAL(c.events, events);
  ch_sse_free(&s);
  ch_buf_free(&c.all);
}

#define T5_JSON                                                                                                     \
  "{\"C\":\"d-5A1F00C3-B,0|C,0|D,2|E,1\",\"M\":[{\"H\":\"PartHub\",\"M\":\"Update\",\"A\":[{\"Qty\":7}]}]}"
/* Section 4.2: "initialized" and keep-alives end in \n\n, messages in \r\n\r\n (Windows WriteLine). */
static const char sse_transcript[] = "data: initialized\n\n"
                                     "data: {\"C\":\"d-5A1F00C3-B,0|C,0|D,1\",\"S\":1,\"M\":[]}\r\n\r\n"
                                     "data: {}\n\n"
                                     ": a comment\r"
                                     "id: 5\revent: x\rretry: 10\r"
                                     "data: " T5_JSON "\r\n\r\n"
                                     "data:two\ndata\ndata:  lines\n\n";
static const char sse_want[] = "<initialized><{\"C\":\"d-5A1F00C3-B,0|C,0|D,1\",\"S\":1,\"M\":[]}><{}><" T5_JSON
                               "><two\n\n lines>";

static void test_sse_transcript_in_one_chunk(void) {
  sse_expect(sse_transcript, sse_want, 5);
}

static void test_sse_line_end_rules(void) {
  sse_expect("data: a\r\rdata: b\n\ndata: c\r\n\r\n", "<a><b><c>", 3);
  /* no blank line yet: nothing dispatched */
  sse_expect("data: a\n", "", 0);
  /* blank lines without data dispatch nothing; "data:" alone is an empty event */
  sse_expect("\n\n\r\n: x\n\ndata:\n\n", "<>", 1);
  /* only one space after the colon is dropped */
  sse_expect("data:  x\n\n", "< x>", 1);
  /* unknown and overlong field names are ignored; a leading BOM is skipped */
  sse_expect("\xEF\xBB\xBF" "data: a\nverylongfieldname: b\ndat: c\ndata2: d\n\n", "<a>", 1);
  /* a CR at the very end of a chunk followed by LF in the next chunk is one line end */
  struct collect c = {CH_BUF_INIT, 0, 0};
  struct ch_sse s;
  ch_sse_init(&s, 0, collect_cb, &c);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "data: a\r", 8), 0);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "\n", 1), 0);
  CU_ASSERT_EQUAL(c.events, 0);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "\r", 1), 0);
  CU_ASSERT_EQUAL(c.events, 1);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "\n", 1), 0);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "data: b\n\n", 9), 0);
  CU_ASSERT_EQUAL(c.events, 2);
  ch_buf_putc(&c.all, '\0');
  CH_ASSERT_STR(c.all.data, "<a><b>");
  ch_sse_free(&s);
  ch_buf_free(&c.all);
}

static void test_sse_every_split_point(void) {
  size_t n = sizeof sse_transcript - 1;
  struct collect c = {CH_BUF_INIT, 0, 0};
  struct ch_sse s;
  CU_ASSERT_EQUAL_FATAL(ch_sse_init(&s, 0, collect_cb, &c), 0);
  for (size_t i = 0; i <= n; i++) {
    for (size_t j = i; j <= n; j += 7) { /* three chunks: [0,i) [i,j) [j,n) */
      ch_sse_reset(&s);
      ch_buf_reset(&c.all);
      c.events = 0;
      int rc = ch_sse_feed(&s, sse_transcript, i);
      rc |= ch_sse_feed(&s, sse_transcript + i, j - i);
      rc |= ch_sse_feed(&s, sse_transcript + j, n - j);
      CU_ASSERT_EQUAL(rc, 0);
      ch_buf_putc(&c.all, '\0');
      if (strcmp(c.all.data, sse_want)) {
        printf("\nsplit %zu/%zu: got %s\n", i, j, c.all.data);
        CU_FAIL("split changed the events");
        goto out;
      }
    }
  }
  /* and byte by byte */
  ch_sse_reset(&s);
  ch_buf_reset(&c.all);
  for (size_t i = 0; i < n; i++)
    CU_ASSERT_EQUAL(ch_sse_feed(&s, sse_transcript + i, 1), 0);
  ch_buf_putc(&c.all, '\0');
  CH_ASSERT_STR(c.all.data, sse_want);
out:
  ch_sse_free(&s);
  ch_buf_free(&c.all);
}

static void test_sse_max_event_size(void) {
  struct collect c = {CH_BUF_INIT, 0, 0};
  struct ch_sse s;
  CU_ASSERT_EQUAL_FATAL(ch_sse_init(&s, 16, collect_cb, &c), 0);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "data: 0123456789abcde\n\n", 23), 0); /* 15 + "\n" = 16 bytes: fits */
  CU_ASSERT_EQUAL(c.events, 1);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "data: 0123456789\ndata: abcdef", 29), -EMSGSIZE);
  CH_ASSERT_STR(ch_sse_error(&s), "sse: event larger than 16 bytes");
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "\n\n", 2), -EMSGSIZE); /* sticky */
  CU_ASSERT_EQUAL(c.events, 1);
  ch_sse_reset(&s);
  CH_ASSERT_STR(ch_sse_error(&s), "");
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "data: ok\n\n", 10), 0);
  CU_ASSERT_EQUAL(c.events, 2);
  CU_ASSERT_EQUAL(ch_sse_init(&s, 0, NULL, NULL), -EINVAL);
  ch_sse_free(&s);
  ch_buf_free(&c.all);
}

static void test_sse_callback_stops_feed(void) {
  struct collect c = {CH_BUF_INIT, 0, 1};
  struct ch_sse s;
  ch_sse_init(&s, 0, collect_cb, &c);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, "data: a\n\ndata: b\n\n", 18), 7);
  CU_ASSERT_EQUAL(c.events, 1);
  ch_sse_free(&s);
  ch_buf_free(&c.all);
}

/* The SSE parser and the receive decoder together, as the SSE transport uses them. */
struct classify {
  int init, keepalive, push, other;
};

static int classify_cb(void *user, const char *data, size_t n) {
  struct classify *k = user;
  if (n == 11 && !memcmp(data, "initialized", 11)) {
    k->other++;
    return 0;
  }
  struct ch_recv r;
  const char *why;
  if (ch_recv_decode(data, n, false, &r, &why))
    return -EBADMSG;
  if (r.kind == CH_RECV_KEEPALIVE)
    k->keepalive++;
  else if (r.s == 1)
    k->init++;
  else
    k->push++;
  return 0;
}

static void test_sse_with_receive_decoder(void) {
  struct classify k = {0, 0, 0, 0};
  struct ch_sse s;
  ch_sse_init(&s, 0, classify_cb, &k);
  CU_ASSERT_EQUAL(ch_sse_feed(&s, sse_transcript, sizeof sse_transcript - 3), 0);
  CU_ASSERT_EQUAL(k.other, 1);
  CU_ASSERT_EQUAL(k.init, 1);
  CU_ASSERT_EQUAL(k.keepalive, 1);
  CU_ASSERT_EQUAL(k.push, 1);
  ch_sse_free(&s);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_sse_transcript_in_one_chunk), CH_TEST(test_sse_line_end_rules),
                         CH_TEST(test_sse_every_split_point),        CH_TEST(test_sse_max_event_size),
                         CH_TEST(test_sse_callback_stops_feed),      CH_TEST(test_sse_with_receive_decoder),
                         CU_TEST_INFO_NULL};
  return ch_test_run("sse", tests);
}
