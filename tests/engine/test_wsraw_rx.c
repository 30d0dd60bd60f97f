/* The raw WebSocket transport's receive path (ch_wsraw.c wsr_rx), without sockets: a stream of server frames fed in
   every split a TCP read can produce (inside a header, inside a payload, several frames at once) must hand out the
   same messages in order, keep no buffer once a read ends on a frame boundary, and refuse an oversized frame. The
   file is included so its static functions can be driven directly. */
#ifndef CH_VERSION
#define CH_VERSION "test" /* set for the engine's own files by CMake */
#endif
/* no lws connection here: a close answer only asks for a write */
#define lws_callback_on_writable rig_on_writable
#include "../../harness/engine/ch_wsraw.c"

int rig_on_writable(struct lws *wsi) {
  (void)wsi;
  return 0;
}

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

static const struct ch_transport_events sink_events = {NULL, sink_message, NULL, NULL, NULL};

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

/* A frame without payload whose header ends a read is handled in that read, not when more bytes come. */
static void test_wsraw_rx_empty_frame_completed_by_its_last_header_byte(void) {
  struct ch_buf stream = CH_BUF_INIT;
  put_frame(&stream, 1, false, "ab", 2);
  put_frame(&stream, 0, true, "", 0); /* the final continuation, empty */
  put_frame(&stream, 1, true, "", 0); /* an empty message */
  struct rig r;
  rig_init(&r, 200);
  CU_ASSERT_EQUAL(wsr_rx(&r.t, stream.data, 5), 0); /* the first frame and half the second header */
  CU_ASSERT_EQUAL(r.s.count, 0);
  CU_ASSERT_EQUAL(wsr_rx(&r.t, stream.data + 5, 1), 0);
  CU_ASSERT_EQUAL(r.s.count, 1);
  CU_ASSERT_EQUAL(wsr_rx(&r.t, stream.data + 6, 1), 0);
  CU_ASSERT_EQUAL(wsr_rx(&r.t, stream.data + 7, 1), 0);
  CU_ASSERT_EQUAL(r.s.count, 2);
  CU_ASSERT_EQUAL(r.s.all.len, 4);
  CU_ASSERT_TRUE(r.s.all.len == 4 && !memcmp(r.s.all.data, "ab\n\n", 4));
  CU_ASSERT_PTR_NULL(r.t.in.data);
  rig_free(&r);
  ch_buf_free(&stream);
}

/* Nothing may follow the server's close frame: what does is dropped, not buffered (it was kept whole, a read's
   worth beyond the limit), and the close is answered once. */
static void test_wsraw_rx_drops_bytes_after_the_server_close(void) {
  static char junk[4096];
  memset(junk, 0x81, sizeof junk);
  struct ch_buf stream = CH_BUF_INIT;
  put_frame(&stream, 8, true, "\x03\xe8", 2);
  ch_buf_append(&stream, junk, sizeof junk);
  struct rig r;
  rig_init(&r, 200);
  CU_ASSERT_EQUAL(wsr_rx(&r.t, stream.data, stream.len), 0);
  CU_ASSERT_EQUAL(r.t.in.len, 0);
  CU_ASSERT_TRUE(r.t.close_sent);
  CH_ASSERT_STR(r.t.why, "ws: server closed the connection (code 1000)");
  CU_ASSERT_EQUAL(r.t.txq.len, 2 + 4 + 2); /* our masked close answer with the code */
  rig_free(&r);
  ch_buf_free(&stream);
}

/* A header written by hand: any 7-bit length code and any extended length, minimal or not. */
static size_t raw_header(unsigned char h[10], int opcode, bool fin, unsigned code, uint64_t ext) {
  h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
  h[1] = (unsigned char)code;
  if (code == 126) {
    h[2] = (unsigned char)(ext >> 8), h[3] = (unsigned char)ext;
    return 4;
  }
  if (code == 127) {
    for (int i = 0; i < 8; i++)
      h[2 + i] = (unsigned char)(ext >> (56 - 8 * i));
    return 10;
  }
  return 2;
}

/* Feeds `lead` then up to 64 reads of 4 KiB filler: the connection must fail with `why` while it has buffered at
   most the limit plus a header, whether the header comes in one read or byte by byte. */
static void expect_refused_without_buffering(const struct ch_buf *lead, const char *why) {
  static char filler[4096];
  memset(filler, 'x', sizeof filler);
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    struct rig r;
    rig_init(&r, 200);
    int rc = 0;
    for (size_t i = 0; i < lead->len && rc == 0; i += bytewise ? 1 : lead->len)
      rc = wsr_rx(&r.t, lead->data + i, bytewise ? 1 : lead->len);
    for (int k = 0; k < 64 && rc == 0; k++) {
      rc = wsr_rx(&r.t, filler, sizeof filler);
      CU_ASSERT_TRUE(rc != 0 || r.t.in.len <= 200 + 10); /* what a live connection keeps between reads */
      if (rc == 0 && r.t.in.len > 200 + 10)
        break;
    }
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_EQUAL(r.t.fail, CH_FAIL_WS_PROTOCOL);
    CH_ASSERT_STR(r.t.why, why);
    rig_free(&r);
  }
}

static void test_wsraw_rx_refuses_lengths_that_would_grow_memory(void) {
  unsigned char h[10];
  struct ch_buf lead = CH_BUF_INIT;
  /* a fragmented message, then a continuation of 2^64-1 bytes: frag.len + len wrapped past the limit check */
  put_frame(&lead, 1, false, "a", 1);
  ch_buf_append(&lead, h, raw_header(h, 0, false, 127, UINT64_MAX));
  expect_refused_without_buffering(&lead, "ws: frame length with its most significant bit set");
  /* the same length check without the top bit: 2^64-1 minus a fragment of 10 bytes wraps the old sum too */
  ch_buf_reset(&lead);
  put_frame(&lead, 1, false, "0123456789", 10);
  ch_buf_append(&lead, h, raw_header(h, 0, true, 127, (UINT64_MAX >> 1) - 4));
  expect_refused_without_buffering(&lead, "ws: message larger than limit");
  /* the top bit on a first frame */
  ch_buf_reset(&lead);
  ch_buf_append(&lead, h, raw_header(h, 1, true, 127, (1ull << 63) | 5));
  expect_refused_without_buffering(&lead, "ws: frame length with its most significant bit set");
  /* lengths not in their shortest form (RFC 6455 5.2) */
  ch_buf_reset(&lead);
  ch_buf_append(&lead, h, raw_header(h, 1, true, 126, 5));
  expect_refused_without_buffering(&lead, "ws: frame length not in its shortest form");
  ch_buf_reset(&lead);
  ch_buf_append(&lead, h, raw_header(h, 1, true, 127, 150));
  expect_refused_without_buffering(&lead, "ws: frame length not in its shortest form");
  /* a reserved opcode announcing a huge payload is refused at its header, not after it */
  for (int op = 3; op < 16; op++) {
    if (op >= 8 && op <= 10)
      continue;
    ch_buf_reset(&lead);
    ch_buf_append(&lead, h, raw_header(h, op, true, 127, 1ull << 40));
    expect_refused_without_buffering(&lead, op < 8 ? "ws: unknown opcode" : "ws: invalid control frame");
  }
  ch_buf_free(&lead);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_wsraw_rx_every_two_way_split),
                         CH_TEST(test_wsraw_rx_large_frames_in_read_sized_pieces),
                         CH_TEST(test_wsraw_rx_refuses_oversized_and_keeps_tail_after_partial),
                         CH_TEST(test_wsraw_rx_refuses_lengths_that_would_grow_memory),
                         CH_TEST(test_wsraw_rx_empty_frame_completed_by_its_last_header_byte),
                         CH_TEST(test_wsraw_rx_drops_bytes_after_the_server_close),
                         CU_TEST_INFO_NULL};
  return ch_test_run("wsraw_rx", tests);
}
