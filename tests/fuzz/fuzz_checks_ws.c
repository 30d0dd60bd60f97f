/* libFuzzer target: the check probes' WebSocket receive step (ch_chk_ws.c ch_ws_rx_next) with a message limit of 200
   bytes, fed whole and in chunks split where the input says, draining after each chunk as ch_ws_recv does. Between
   chunks it may keep at most the limit plus a frame header (14 bytes, masked) unparsed and the limit assembled; a
   message never exceeds the limit; the split feed gives the same messages and pings as the whole one (up to where
   either fails). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_chk.h"
#include "fuzz_split.h"

#define MAX_MESSAGE 200u

/* Drains complete frames; records "M<len>:<bytes>" per message and "P<len>:<bytes>" per ping. */
static int drain(struct ch_ws *ws, struct ch_buf *log, struct ch_buf *msg) {
  for (;;) {
    char ping[125];
    size_t pl = 0;
    int k = ch_ws_rx_next(ws, MAX_MESSAGE, msg, ping, &pl);
    if (k == CH_WS_RX_MORE)
      return 0;
    if (k < 0) {
      if (!ws->error)
        abort(); /* a refusal always says why */
      return k;
    }
    if (k == CH_WS_RX_CLOSE)
      return 1;
    const char *p = k == CH_WS_RX_PING ? ping : msg->data ? msg->data : "";
    size_t n = k == CH_WS_RX_PING ? pl : msg->len;
    if (n > MAX_MESSAGE)
      abort();
    char head[32];
    int hn = snprintf(head, sizeof head, "%c%zu:", k == CH_WS_RX_PING ? 'P' : 'M', n);
    ch_buf_append(log, head, (size_t)hn);
    ch_buf_append(log, p, n);
  }
}

static int run(const uint8_t *split, size_t nsplit, const char *p, size_t n, struct ch_buf *log) {
  struct ch_ws ws;
  memset(&ws, 0, sizeof ws);
  struct ch_buf msg = CH_BUF_INIT;
  int rc = 0;
  for (size_t off = 0, i = 0; off < n && rc == 0; i++) {
    size_t k = nsplit ? (size_t)split[i % nsplit] + 1 : n;
    if (k > n - off)
      k = n - off;
    ch_buf_append(&ws.rx, p + off, k); /* what fill() does with one read */
    off += k;
    rc = drain(&ws, log, &msg);
    if (rc == 0 && (ws.rx.len > MAX_MESSAGE + 14 || ws.frag.len > MAX_MESSAGE))
      abort();
  }
  ch_buf_free(&ws.rx);
  ch_buf_free(&ws.frag);
  ch_buf_free(&msg);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_split in;
  if (!fuzz_split_input(data, size, &in))
    return 0;
  struct ch_buf a = CH_BUF_INIT, b = CH_BUF_INIT;
  int ra = run(NULL, 0, in.p, in.n, &a);
  int rb = run(in.sizes, in.nsizes, in.p, in.n, &b);
  fuzz_split_agree(&a, &b, ra >= 0 && rb >= 0);
  ch_buf_free(&a);
  ch_buf_free(&b);
  return 0;
}
