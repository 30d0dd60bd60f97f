/* libFuzzer target: the serverSentEvents receive state (ch_sse_rx: "initialized" first, size limits, the bounded
   delivery queue) fed in chunks split where the input says, with the queue drained at points the input says. It must
   give exactly the events (or the same failure) of one feed drained once, never an event larger than the limit and
   never the "initialized" event itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_fallback.h"
#include "fuzz_split.h"

#define MAX_EVENT 512

/* Drains the queue into out as "<len>:<bytes>". */
static void drain(struct ch_sse_rx *rx, struct ch_buf *out) {
  const char *p;
  size_t n;
  while (ch_sse_rx_next(rx, &p, &n) == 1) {
    if (n > MAX_EVENT || (n == 11 && memcmp(p, "initialized", 11) == 0))
      abort();
    char len[24];
    int k = snprintf(len, sizeof len, "%zu:", n);
    ch_buf_append(out, len, (size_t)k);
    ch_buf_append(out, p, n);
  }
}

/* Feeds p in chunks; split[i] gives chunk sizes, its top bit says "drain after this chunk". */
static int run(const uint8_t *split, size_t nsplit, const char *p, size_t n, struct ch_buf *out, bool *init) {
  struct ch_sse_rx rx;
  if (ch_sse_rx_init(&rx, MAX_EVENT) != 0)
    abort();
  size_t off = 0, i = 0;
  int rc = 0;
  while (off < n && rc == 0) {
    size_t k = nsplit ? (size_t)(split[i % nsplit] & 0x7f) + 1 : n;
    bool flush = nsplit ? (split[i % nsplit] & 0x80) != 0 : false;
    if (k > n - off)
      k = n - off;
    rc = ch_sse_rx_feed(&rx, p + off, k);
    if (rc == 0 && flush)
      drain(&rx, out);
    off += k;
    i++;
  }
  if (rc == 0)
    drain(&rx, out);
  else if (ch_sse_rx_feed(&rx, "data: x\n\n", 9) != rc || !rx.err[0])
    abort(); /* failures are sticky and explained */
  *init = rx.initialized;
  ch_sse_rx_free(&rx);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_split in;
  if (!fuzz_split_input(data, size, &in))
    return 0;
  const uint8_t *split = in.sizes;
  const char *p = in.p;
  size_t n = in.n, nsplit = in.nsizes;
  struct ch_buf a = CH_BUF_INIT, b = CH_BUF_INIT;
  bool ia = false, ib = false;
  int ra = run(NULL, 0, p, n, &a, &ia);
  int rb = run(split, nsplit, p, n, &b, &ib);
  /* A flood (-ENOBUFS) depends on when the queue is drained; everything else must not depend on the splits. */
  if (ra != -ENOBUFS && rb != -ENOBUFS) {
    if (ra != rb || ia != ib)
      abort();
    if (ra == 0 && (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)))
      abort();
  }
  ch_buf_free(&a);
  ch_buf_free(&b);
  return 0;
}
