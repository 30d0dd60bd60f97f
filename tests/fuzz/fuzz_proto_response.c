/* libFuzzer target: the receive-channel decoder and message iterator on arbitrary frames. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_signalr.h"

/* The hot path's lazy decode against the validating one: the same head, messages and look-ups for frames the
   validating decoder accepts; for frames it refuses, the lazy iteration must fail or hand the frame back (more),
   never end cleanly. A walk that ends with `more` (members after M, which no real server writes) is decoded again by
   the caller with the validating decoder, so the lazy head (taken before M) need not match the frame's then. */
static void check_lazy(const char *p, size_t n, bool lp, int strict_rc, const struct ch_recv *rs) {
  struct ch_recv r;
  const char *why = NULL, *why2 = NULL;
  int rc = ch_recv_decode_lazy(p, n, lp, &r, &why);
  if (rc) {
    if (strict_rc == 0 || !why || strncmp(why, "receive: ", 9))
      abort();
    return;
  }
  struct ch_msg_iter it, slow;
  struct ch_hub_msg m, ms;
  int k, guard = 0;
  if (r.kind == CH_RECV_PERSISTENT) { /* first pass, lazy alone: how does the walk end? */
    ch_recv_msgs_begin(&r, &it);
    while ((k = ch_recv_msgs_next(&it, &m, &why)) != 0 && it.it.state >= 0 && guard++ < 100000)
      ;
    if (it.more)
      return;
    if (strict_rc && k == 0)
      abort(); /* a refused frame went through */
  }
  if (strict_rc == 0 && (r.kind != rs->kind || r.c.p != rs->c.p || r.s != rs->s || r.i.p != rs->i.p))
    abort();
  if (r.kind != CH_RECV_PERSISTENT) {
    if (strict_rc)
      abort();
    return;
  }
  if (strict_rc)
    return;
  ch_recv_msgs_begin(&r, &it);
  ch_recv_msgs_begin(rs, &slow);
  static const char *const ptrs[] = {"/PartKey", "", "/a~1b/0", "/EventType/x", "/HarnessSentUs", "/"};
  guard = 0;
  while ((k = ch_recv_msgs_next(&it, &m, &why)) != 0 && it.it.state >= 0 && guard++ < 100000) {
    int k2 = ch_recv_msgs_next(&slow, &ms, &why2);
    if (k2 != k)
      abort();
    if (k != 1)
      continue;
    if (m.kind != ms.kind || m.raw.p != ms.raw.p || m.raw.n != ms.raw.n || m.args.p != ms.args.p ||
        m.args.n != ms.args.n || m.hub.p != ms.hub.p)
      abort();
    if (m.kind != CH_MSG_INVOCATION)
      continue;
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) {
      char full[32];
      snprintf(full, sizeof full, "/0%s", ptrs[i]);
      struct ch_span a = {NULL, 0}, b = {NULL, 0};
      int ra = ch_hub_msg_arg_pointer(&m, ptrs[i], &a), rb = ch_hub_msg_pointer(&ms, full, &b);
      if (ra != rb || a.p != b.p || a.n != b.n)
        abort();
    }
  }
  if (k == 0 && ch_recv_msgs_next(&slow, &ms, &why2) != 0)
    abort(); /* the lazy walk ended early */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  bool lp = data[0] & 1;
  const char *p = (const char *)data + 1;
  size_t n = size - 1;
  struct ch_recv r;
  const char *why = NULL;
  int rc = ch_recv_decode(p, n, lp, &r, &why);
  check_lazy(p, n, lp, rc, &r);
  if (rc) {
    if (rc != -EBADMSG || !why || strncmp(why, "receive: ", 9))
      abort();
  } else if (r.kind == CH_RECV_PERSISTENT) {
    /* the fast (trusted) walk of a validated frame and the validating walk must agree exactly */
    struct ch_msg_iter it, slow;
    struct ch_hub_msg m, ms;
    const char *why2 = NULL;
    ch_recv_msgs_begin(&r, &it);
    ch_recv_msgs_begin(&r, &slow);
    slow.it.trusted = false;
    int k, k2, guard = 0;
    static const char *const ptrs[] = {"/0/PartKey", "/0", "/1/a~1b/0", "", "/0/EventType/x"};
    while ((k = ch_recv_msgs_next(&it, &m, &why)) == 1 && guard++ < 100000) {
      k2 = ch_recv_msgs_next(&slow, &ms, &why2);
      if (k2 != 1 || m.kind != ms.kind || m.raw.p != ms.raw.p || m.raw.n != ms.raw.n || m.args.n != ms.args.n ||
          m.hub.n != ms.hub.n || m.progress_data.n != ms.progress_data.n)
        abort();
      if (m.raw.p < p || m.raw.p + m.raw.n > p + n)
        abort(); /* spans stay inside the frame */
      if (ch_json_parse(m.raw, NULL, NULL))
        abort();
      if (m.kind == CH_MSG_INVOCATION) {
        (void)ch_hub_msg_is(&m, "ResourceEventHub", "Update");
        if (ch_json_kind(m.hub) != CH_JSON_STRING || ch_json_kind(m.args) != CH_JSON_ARRAY)
          abort();
        for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) {
          struct ch_span a = {NULL, 0}, b = {NULL, 0};
          int ra = ch_hub_msg_pointer(&m, ptrs[i], &a), rb = ch_json_pointer(m.args, ptrs[i], &b);
          if (ra != rb || a.p != b.p || a.n != b.n)
            abort();
        }
      }
    }
    if (k == 0 && ch_recv_msgs_next(&slow, &ms, &why2) != 0)
      abort();
    if (k < 0 && (!why || strncmp(why, "receive: ", 9)))
      abort();
  } else if (r.kind == CH_RECV_HUB_RESPONSE) {
    enum ch_json_kind k = ch_json_kind(r.i);
    if (k != CH_JSON_STRING && k != CH_JSON_NUMBER)
      abort();
  }
  struct ch_buf b = CH_BUF_INIT;
  ch_redact(&b, p, n, "access_token");
  ch_buf_free(&b);
  return 0;
}
