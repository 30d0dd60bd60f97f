/* libFuzzer target: the raw WebSocket transport's receive path (ch_wsraw.c wsr_rx: the 101 answer, then frames
   parsed in place or completed across reads), with a message limit of 200 bytes, fed whole and in chunks split
   where the input says. Between reads the connection may keep at most the upgrade answer's header limit, or the
   limit plus a frame header; a message never exceeds the limit; the split feed hands out the same messages as the
   whole one (up to where either fails). The file is included, as in tests/engine/test_wsraw_rx.c, to drive its
   static functions without a socket. */
#ifndef CH_VERSION
#define CH_VERSION "fuzz"
#endif
/* no lws connection here: a pong or close answer only asks for a write */
#define lws_callback_on_writable fuzz_on_writable
#include "../../harness/engine/ch_wsraw.c"
#include "fuzz_split.h"

int fuzz_on_writable(struct lws *wsi) {
  (void)wsi;
  return 0;
}

#define MAX_MESSAGE 200u
#define MAX_HEADER 10u /* an unmasked server frame's header */

/* The answer to the key whose accept value is RFC 6455's example (section 1.3). */
static const char ACCEPT[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

struct sink {
  struct ch_buf all; /* "<len>:<bytes>" per message */
  bool opened;
};

static void on_opened(void *owner) { ((struct sink *)owner)->opened = true; }

static void on_message(void *owner, const char *p, size_t n, uint64_t recv_ns) {
  (void)recv_ns;
  if (n > MAX_MESSAGE)
    abort();
  struct sink *s = owner;
  char len[24];
  int k = snprintf(len, sizeof len, "%zu:", n);
  ch_buf_append(&s->all, len, (size_t)k);
  ch_buf_append(&s->all, p, n);
}

static const struct ch_transport_events events = {on_opened, on_message, NULL, NULL, NULL};

/* What a connection may hold between two reads. */
static void check_bounds(const struct ch_wsr *t) {
  size_t bound = t->phase == WSR_OPEN ? MAX_MESSAGE + MAX_HEADER : WSR_MAX_HEADERS;
  if (t->in.len > bound || t->frag.len > MAX_MESSAGE)
    abort();
}

/* Feeds p in chunks (split[i] + 1 bytes, cycling; one chunk when nsplit is 0). Returns wsr_rx's last result. */
static int run(bool handshake, const uint8_t *split, size_t nsplit, const char *p, size_t n, struct sink *s) {
  struct ch_engine eng;
  struct ch_worker w;
  struct ch_wsr t;
  memset(&eng, 0, sizeof eng);
  memset(&w, 0, sizeof w);
  memset(&t, 0, sizeof t);
  eng.opts.max_message_bytes = MAX_MESSAGE;
  w.eng = &eng;
  t.base.worker = &w;
  t.base.ev = &events;
  t.base.owner = s;
  t.rng = 1;
  t.phase = handshake ? WSR_HANDSHAKE : WSR_OPEN;
  memcpy(t.accept, ACCEPT, sizeof ACCEPT);
  int rc = 0;
  for (size_t off = 0, i = 0; off < n && rc == 0; i++) {
    size_t k = nsplit ? (size_t)split[i % nsplit] + 1 : n;
    if (k > n - off)
      k = n - off;
    /* each read in its own buffer, as lws reuses its own: nothing may point into an earlier read */
    char *copy = malloc(k);
    if (!copy)
      abort();
    memcpy(copy, p + off, k);
    rc = wsr_rx(&t, copy, k);
    free(copy);
    if (rc == 0)
      check_bounds(&t);
    else if (!t.why[0])
      abort(); /* a refusal always says why */
    ch_buf_reset(&t.txq); /* written out */
    off += k;
  }
  ch_buf_free(&t.in);
  ch_buf_free(&t.frag);
  ch_buf_free(&t.txq);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_split in;
  if (!fuzz_split_input(data, size, &in))
    return 0;
  bool handshake = data[0] & 0x80;
  struct sink a = {CH_BUF_INIT, false}, b = {CH_BUF_INIT, false};
  int ra = run(handshake, NULL, 0, in.p, in.n, &a);
  int rb = run(handshake, in.sizes, in.nsizes, in.p, in.n, &b);
  /* the messages of one feed are a prefix of the other's; equal when neither failed */
  fuzz_split_agree(&a.all, &b.all, ra == 0 && rb == 0);
  if (ra == 0 && rb == 0 && a.opened != b.opened)
    abort();
  ch_buf_free(&a.all);
  ch_buf_free(&b.all);
  return 0;
}
