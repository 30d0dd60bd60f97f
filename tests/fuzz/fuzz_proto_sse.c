/* libFuzzer target: the SSE parser fed in chunks split where the input says must give exactly the events of a
   single-chunk feed (and every event goes through the receive decoder). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_signalr.h"
#include "ch_sse.h"

struct log {
  struct ch_buf events;
};

static int on_event(void *user, const char *data, size_t n) {
  struct log *l = user;
  char len[24];
  int k = snprintf(len, sizeof len, "%zu:", n);
  ch_buf_append(&l->events, len, (size_t)k);
  ch_buf_append(&l->events, data, n);
  struct ch_recv r;
  const char *why;
  (void)ch_recv_decode(data, n, false, &r, &why);
  return 0;
}

static int run(const uint8_t *split, size_t nsplit, const char *p, size_t n, struct log *l, const char **msg) {
  struct ch_sse s;
  ch_sse_init(&s, 4096, on_event, l);
  size_t off = 0, i = 0;
  int rc = 0;
  while (off < n && !rc) {
    size_t chunk = nsplit ? (size_t)split[i++ % nsplit] % 17 + 1 : n;
    if (chunk > n - off)
      chunk = n - off;
    rc = ch_sse_feed(&s, p + off, chunk);
    off += chunk;
  }
  *msg = rc ? (ch_sse_error(&s)[0] ? "err" : "?") : "";
  ch_sse_free(&s);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t nsplit = data[0] % 8 + 1;
  if (size < 1 + nsplit)
    return 0;
  const uint8_t *split = data + 1;
  const char *p = (const char *)data + 1 + nsplit;
  size_t n = size - 1 - nsplit;
  struct log a = {CH_BUF_INIT}, b = {CH_BUF_INIT};
  const char *ma, *mb;
  int ra = run(NULL, 0, p, n, &a, &ma);
  int rb = run(split, nsplit, p, n, &b, &mb);
  if (ra != rb)
    abort();
  /* events are dispatched at blank lines, in stream order, so the split cannot change them, even before an
     overflow error */
  if ((a.events.len != b.events.len || (a.events.len && memcmp(a.events.data, b.events.data, a.events.len))))
    abort();
  ch_buf_free(&a.events);
  ch_buf_free(&b.events);
  return 0;
}
