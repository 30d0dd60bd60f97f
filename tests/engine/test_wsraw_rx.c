/* The raw WebSocket transport's receive path (ch_wsraw.c wsr_rx), without sockets: a stream of server frames fed in
   every split a TCP read can produce (inside a header, inside a payload, several frames at once) must hand out the
   same messages in order, keep no buffer once a read ends on a frame boundary, and refuse an oversized frame. The
   file is included so its static functions can be driven directly. */
#ifndef CH_VERSION
#define CH_VERSION "test" /* set for the engine's own files by CMake */
#endif
#include "../../harness/engine/ch_wsraw.c"

#include "ch_test.h"
#include "ch_wsframe.h"

struct sink {
  struct ch_buf all; /* every message, each followed by '\n' */
  size_t count;
};

static void sink_message(void *owner, const char *p, size_t n, uint64_t recv_ns) {
  struct sink *s = owner;
  (void)recv_ns;
  ch_buf_append(&s->all, p, n);
  ch_buf_putc(&s->all, '\n');
  s->count++;
}

static const struct ch_transport_events sink_events = {NULL, sink_message, NULL, NULL};

struct rig {
  struct ch_engine eng;
  struct ch_worker w;
  struct ch_wsr t;
  struct sink s;
};

static void rig_init(struct rig *r, size_t max) {
  memset(r, 0, sizeof *r);
  r->eng.opts.max_message_bytes = max;
  r->w.eng = &r->eng;
  r->t.base.worker = &r->w;
  r->t.base.ev = &sink_events;
  r->t.base.owner = &r->s;
  r->t.phase = WSR_OPEN;
}

static void rig_free(struct rig *r) {
  ch_buf_free(&r->t.in);
  ch_buf_free(&r->t.frag);
  ch_buf_free(&r->t.txq);
  ch_buf_free(&r->s.all);
}

/* An unmasked server frame. */
static void put_frame(struct ch_buf *b, int opcode, bool fin, const char *p, size_t n) {
  unsigned char h[10];
  ch_buf_append(b, h, ch_wsframe_header(h, opcode, fin, n));
  ch_buf_append(b, p, n);
}

/* Messages of the sizes that change the header form (7, 16 and 64-bit lengths), one of them fragmented. */
static void make_stream(struct ch_buf *stream, struct ch_buf *want, bool large) {
  static const size_t small_sizes[] = {0, 5, 125, 126, 300};
  static const size_t large_sizes[] = {17573, 65535, 65536, 70001, 3};
  const size_t *sizes = large ? large_sizes : small_sizes;
  for (size_t i = 0; i < 5; i++) {
    struct ch_buf msg = CH_BUF_INIT;
    for (size_t k = 0; k < sizes[i]; k++)
      ch_buf_putc(&msg, (char)('a' + (k * 7 + i) % 26));
    if (i == 3) { /* fragmented: text + continuation + final continuation */
      size_t a = msg.len / 3, b = msg.len / 2;
      put_frame(stream, 1, false, msg.data, a);
      put_frame(stream, 0, false, msg.data + a, b - a);
      put_frame(stream, 0, true, msg.data + b, msg.len - b);
    } else {
      put_frame(stream, 1, true, msg.data ? msg.data : "", msg.len);
    }
    ch_buf_append(want, msg.data ? msg.data : "", msg.len);
    ch_buf_putc(want, '\n');
    ch_buf_free(&msg);
  }
}

/* Feeds the stream cut at the given offsets (ascending, inside the stream) and checks the result. Returns the number
   of reads fed. */
static size_t feed_cuts(const struct ch_buf *stream, const struct ch_buf *want, const size_t *cuts, size_t ncuts) {
  struct rig r;
  rig_init(&r, 1u << 20);
  size_t at = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : stream->len;
    /* each read in a buffer of its own, as lws reuses its buffer: nothing may point into an earlier read */
    char *copy = malloc(to - at + 1);
    memcpy(copy, stream->data + at, to - at);
    CU_ASSERT_EQUAL(wsr_rx(&r.t, copy, to - at), 0);
    memset(copy, 'X', to - at);
    free(copy);
    at = to;
  }
  CU_ASSERT_EQUAL(r.s.count, 5);
  CU_ASSERT_EQUAL(r.s.all.len, want->len);
  CU_ASSERT_TRUE(r.s.all.len == want->len && !memcmp(r.s.all.data, want->data, want->len));
  CU_ASSERT_PTR_NULL(r.t.in.data); /* the stream ended on a frame boundary: no buffer kept */
  CU_ASSERT_FALSE(r.t.in_frag);
  rig_free(&r);
  return ncuts + 1;
}

static void test_wsraw_rx_every_two_way_split(void) {
  struct ch_buf stream = CH_BUF_INIT, want = CH_BUF_INIT;
  make_stream(&stream, &want, false);
  feed_cuts(&stream, &want, NULL, 0);
  for (size_t c = 1; c < stream.len; c++)
    feed_cuts(&stream, &want, &c, 1);
  /* three-way splits around the 16-bit header of the 126-byte message and inside the first frames */
  for (size_t a = 1; a < 40; a++)
    for (size_t b = a + 1; b < stream.len; b += 7) {
      size_t cuts[2] = {a, b};
      feed_cuts(&stream, &want, cuts, 2);
    }
  ch_buf_free(&stream);
  ch_buf_free(&want);
}

static void test_wsraw_rx_large_frames_in_read_sized_pieces(void) {
  struct ch_buf stream = CH_BUF_INIT, want = CH_BUF_INIT;
  make_stream(&stream, &want, true);
  static const size_t pieces[] = {1, 2, 3, 7, 9, 100, 4096, 16384, 16385, 65536};
  size_t *cuts = malloc(stream.len * sizeof *cuts); /* room for one-byte reads of the whole stream */
  CU_ASSERT_PTR_NOT_NULL_FATAL(cuts);
  for (size_t pi = 0; pi < sizeof pieces / sizeof pieces[0]; pi++) {
    size_t n = 0;
    /* a piece size, varied a little so splits land at many offsets of headers and payloads */
    for (size_t at = pieces[pi]; at < stream.len; at += pieces[pi] + (n % 3))
      cuts[n++] = at;
    /* the reads cover the whole stream (218,680 bytes), whatever the piece size: none is left out */
    CU_ASSERT_TRUE(n + 1 >= stream.len / (pieces[pi] + 2));
    CU_ASSERT_EQUAL(feed_cuts(&stream, &want, cuts, n), n + 1);
  }
  free(cuts);
  /* every split point near each frame header of the large stream */
  for (size_t c = 1; c < stream.len; c += (c % 997 < 12 || stream.len - c < 12) ? 1 : 991)
    feed_cuts(&stream, &want, &c, 1);
  ch_buf_free(&stream);
  ch_buf_free(&want);
}

static void test_wsraw_rx_refuses_oversized_and_keeps_tail_after_partial(void) {
  struct ch_buf stream = CH_BUF_INIT;
  char big[300];
  memset(big, 'x', sizeof big);
  put_frame(&stream, 1, true, "ok", 2);
  put_frame(&stream, 1, true, big, sizeof big);
  /* limit 200: the second frame is refused, whether its header arrives whole or in pieces */
  for (size_t c = 1; c < 12; c++) {
    struct rig r;
    rig_init(&r, 200);
    int rc = wsr_rx(&r.t, stream.data, c);
    if (rc == 0)
      rc = wsr_rx(&r.t, stream.data + c, stream.len - c);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_EQUAL(r.t.fail, CH_FAIL_WS_PROTOCOL);
    CH_ASSERT_STR(r.t.why, "ws: message larger than limit");
    CU_ASSERT_EQUAL(r.s.count, 1); /* "ok" is delivered, split or not */
    rig_free(&r);
  }
  /* a partial frame waits in the buffer until its last byte comes */
  struct rig r;
  rig_init(&r, 1u << 20);
  CU_ASSERT_EQUAL(wsr_rx(&r.t, stream.data, stream.len - 1), 0);
  CU_ASSERT_EQUAL(r.s.count, 1);
  CU_ASSERT_PTR_NOT_NULL(r.t.in.data);
  CU_ASSERT_EQUAL(wsr_rx(&r.t, stream.data + stream.len - 1, 1), 0);
  CU_ASSERT_EQUAL(r.s.count, 2);
  CU_ASSERT_PTR_NULL(r.t.in.data);
  rig_free(&r);
  ch_buf_free(&stream);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_wsraw_rx_every_two_way_split),
                         CH_TEST(test_wsraw_rx_large_frames_in_read_sized_pieces),
                         CH_TEST(test_wsraw_rx_refuses_oversized_and_keeps_tail_after_partial),
                         CU_TEST_INFO_NULL};
  return ch_test_run("wsraw_rx", tests);
}
