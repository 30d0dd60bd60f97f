/* libFuzzer target: the receive-channel decoder and message iterator on arbitrary frames. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_signalr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  bool lp = data[0] & 1;
  const char *p = (const char *)data + 1;
  size_t n = size - 1;
  struct ch_recv r;
  const char *why = NULL;
  int rc = ch_recv_decode(p, n, lp, &r, &why);
  if (rc) {
    if (rc != -EBADMSG || !why || strncmp(why, "receive: ", 9))
      abort();
  } else if (r.kind == CH_RECV_PERSISTENT) {
    struct ch_msg_iter it;
    struct ch_hub_msg m;
    ch_recv_msgs_begin(&r, &it);
    int k, guard = 0;
    while ((k = ch_recv_msgs_next(&it, &m, &why)) == 1 && guard++ < 100000) {
      if (m.raw.p < p || m.raw.p + m.raw.n > p + n)
        abort(); /* spans stay inside the frame */
      if (m.kind == CH_MSG_INVOCATION) {
        struct ch_span v;
        (void)ch_hub_msg_is(&m, "ResourceEventHub", "Update");
        (void)ch_json_pointer(m.args, "/0/PartKey", &v);
        if (ch_json_kind(m.hub) != CH_JSON_STRING || ch_json_kind(m.args) != CH_JSON_ARRAY)
          abort();
      }
    }
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
