/* Benchmark (not a CTest): decode + dispatch of Centro Update push frames on one thread. Three figures:
   - "validating": ch_recv_decode (whole frame validated), iterate M, match hub and method, PartKey and EventType by
     JSON Pointer, copy the cursor (the path before the lazy decoder, still used outside the engine);
   - "engine": what ch__client_rx and the runner do per frame: ch_recv_decode_lazy, the single-pass iterator, the
     first argument's PartKey and EventType from the member index;
   - "intake batch": the bench's intake workload, frames of 50 Updates as the reference server writes them (model
     with HarnessSeq and HarnessSentUs), reading PartKey, HarnessSeq and HarnessSentUs: CPU ns per Update.
   Also the SSE parser feeding the same frames. Usage: bench_proto [ITERATIONS [intake]] (with "intake" only the batch figure, e.g. for perf) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch_signalr.h"
#include "ch_sse.h"

static const char frame[] =
    "{\"C\":\"d-5A1F00C3-B,1F|C,0|D,2|E,3A\",\"M\":[{\"H\":\"ResourceEventHub\",\"M\":\"Update\",\"A\":[{\"PartKey\":"
    "\"1882708\",\"CatalogId\":\"PHASE01/myPart.1234.prt\",\"EventType\":1,\"ResourceKey\":\"r-77120\","
    "\"ResourceName\":\"myPart.1234.png\",\"ResourceType\":\"Image\",\"Category\":\"Unassigned\",\"Version\":3,"
    "\"UserName\":\"jdoe\",\"Timestamp\":\"2026-11-27T23:10:11.1234567Z\"}]}]}";

struct sink {
  long updates;
  long event_type_sum;
  struct ch_buf cursor;
};

static int dispatch(struct sink *s, const char *p, size_t n) {
  struct ch_recv r;
  const char *why;
  if (ch_recv_decode(p, n, false, &r, &why))
    return -1;
  if (r.c.p) {
    s->cursor.len = 0; /* reuse the allocation: no malloc per message */
    if (ch_json_str_unescape(r.c, &s->cursor))
      return -1;
  }
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  ch_recv_msgs_begin(&r, &it);
  while (ch_recv_msgs_next(&it, &m, &why) == 1) {
    if (!ch_hub_msg_is(&m, "ResourceEventHub", "Update"))
      continue;
    struct ch_span key, et;
    int64_t v = 0;
    if (ch_hub_msg_pointer(&m, "/0/PartKey", &key) != 1 || !ch_json_str_eqz(key, "1882708"))
      return -1;
    if (ch_hub_msg_pointer(&m, "/0/EventType", &et) == 1 && ch_json_num_int64(et, &v) == 0)
      s->event_type_sum += v;
    s->updates++;
  }
  return 0;
}

/* The engine's path (ch__client_rx + the runner's rc_on_message look-ups). */
static int dispatch_engine(struct sink *s, const char *p, size_t n, bool seq) {
  struct ch_recv r;
  const char *why;
  if (ch_recv_decode_lazy(p, n, false, &r, &why))
    return -1;
  if (r.c.p) {
    s->cursor.len = 0;
    if (ch_json_str_unescape(r.c, &s->cursor))
      return -1;
  }
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  ch_recv_msgs_begin(&r, &it);
  int rc;
  while ((rc = ch_recv_msgs_next(&it, &m, &why)) == 1) {
    if (!ch_hub_msg_is(&m, "ResourceEventHub", "Update"))
      continue;
    struct ch_span key, v;
    int64_t x = 0;
    if (ch_hub_msg_arg_pointer(&m, "/PartKey", &key) != 1 || ch_json_kind(key) != CH_JSON_STRING)
      return -1;
    if (seq) {
      if (ch_hub_msg_arg_pointer(&m, "/HarnessSeq", &v) != 1 || ch_json_num_int64(v, &x))
        return -1;
      s->event_type_sum += x;
      if (ch_hub_msg_arg_pointer(&m, "/HarnessSentUs", &v) != 1 || ch_json_num_int64(v, &x))
        return -1;
    } else if (ch_hub_msg_arg_pointer(&m, "/EventType", &v) == 1 && ch_json_num_int64(v, &x) == 0) {
      s->event_type_sum += x;
    }
    s->updates++;
  }
  return rc == 0 && !it.more ? 0 : -1;
}

/* A frame of `count` Updates as the reference server writes them (ch_srv_state.c build_update). */
static void intake_frame(struct ch_buf *b, int count) {
  ch_buf_puts(b, "{\"C\":\"d-5A1F00C3-B,1F|C,0|D,2|E,3A\",\"M\":[");
  for (int i = 0; i < count; i++)
    ch_buf_printf(b,
                  "%s{\"H\":\"ResourceEventHub\",\"M\":\"Update\",\"A\":[{\"PartKey\":\"K1\",\"CatalogId\":"
                  "\"PHASE01/GearboxAssy.%d.prt\",\"EventType\":1,\"ResourceKey\":\"r-%d\",\"ResourceName\":"
                  "\"GearboxAssy.%d.png\",\"ResourceType\":\"Image\",\"Category\":\"Unassigned\",\"Version\":%d,"
                  "\"UserName\":\"centro\",\"Timestamp\":\"2026-11-28T02:10:11.123456Z\",\"HarnessSeq\":%d,"
                  "\"HarnessSentUs\":1795826649336280}]}",
                  i ? "," : "", 1000 + i, 77120 + i, 1000 + i, i, i + 1);
  ch_buf_puts(b, "]}");
}

static int on_sse(void *user, const char *data, size_t n) { return dispatch(user, data, n); }

/* CPU time of this thread: on a shared machine it is steadier than the wall clock. */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 2000000;
  struct sink s = {0, 0, CH_BUF_INIT};
  size_t n = sizeof frame - 1;
  bool only_intake = argc > 2 && !strcmp(argv[2], "intake");
  uint64_t t0 = cpu_ns();
  for (long i = 0; i < (only_intake ? 0 : iters); i++)
    if (dispatch(&s, frame, n)) {
      fprintf(stderr, "decode failed\n");
      return 1;
    }
  uint64_t t1 = cpu_ns();
  double ns = (double)(t1 - t0) / (double)iters;
  if (!only_intake)
    printf("validating: ws frame decode+dispatch (%zu bytes): %.0f CPU ns/msg, %.0f msgs/s per core, %.0f MB/s\n", n,
         ns, 1e9 / ns, (double)n * 1e3 / ns);

  t0 = cpu_ns();
  for (long i = 0; i < (only_intake ? 0 : iters); i++)
    if (dispatch_engine(&s, frame, n, false)) {
      fprintf(stderr, "engine decode failed\n");
      return 1;
    }
  t1 = cpu_ns();
  ns = (double)(t1 - t0) / (double)iters;
  if (!only_intake)
    printf("engine: ws frame lazy decode+dispatch (%zu bytes): %.0f CPU ns/msg, %.0f msgs/s per core, %.0f MB/s\n", n,
         ns, 1e9 / ns, (double)n * 1e3 / ns);

  struct ch_buf batch = CH_BUF_INIT;
  intake_frame(&batch, 50);
  long frames = iters / 50 > 0 ? iters / 50 : 1;
  long before = s.updates;
  t0 = cpu_ns();
  for (long i = 0; i < frames; i++)
    if (dispatch_engine(&s, batch.data, batch.len, true)) {
      fprintf(stderr, "intake decode failed\n");
      return 1;
    }
  t1 = cpu_ns();
  ns = (double)(t1 - t0) / (double)(s.updates - before);
  printf("intake batch: frames of 50 Updates (%zu bytes): %.0f CPU ns/Update, %.0f Updates/s per core, %.0f MB/s\n",
         batch.len, ns, 1e9 / ns, (double)batch.len / 50 * 1e3 / ns);
  ch_buf_free(&batch);
  if (only_intake) {
    ch_buf_free(&s.cursor);
    return 0;
  }

  /* SSE: the same frame as "data: ...\r\n\r\n" events, fed in 16 KiB chunks */
  struct ch_buf stream = CH_BUF_INIT;
  for (int i = 0; i < 64; i++)
    ch_buf_printf(&stream, "data: %s\r\n\r\n", frame);
  struct ch_sse sse;
  ch_sse_init(&sse, 0, on_sse, &s);
  long rounds = iters / 64 > 0 ? iters / 64 : 1;
  t0 = cpu_ns();
  for (long r = 0; r < rounds; r++)
    for (size_t off = 0; off < stream.len; off += 16384) {
      size_t len = stream.len - off < 16384 ? stream.len - off : 16384;
      if (ch_sse_feed(&sse, stream.data + off, len)) {
        fprintf(stderr, "sse failed\n");
        return 1;
      }
    }
  t1 = cpu_ns();
  ns = (double)(t1 - t0) / (double)(rounds * 64);
  printf("sse event parse+decode+dispatch: %.0f CPU ns/msg, %.0f msgs/s per core\n", ns, 1e9 / ns);
  printf("(updates seen %ld, checksum %ld)\n", s.updates, s.event_type_sum);
  ch_sse_free(&sse);
  ch_buf_free(&stream);
  ch_buf_free(&s.cursor);
  return 0;
}
