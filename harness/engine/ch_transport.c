/* ch_transport: which implementation serves each transport, and the common head of transport objects. */
#include "ch_transport.h"

#include <stddef.h>
#include <stdlib.h>

const struct ch_transport_ops *ch_transport_ops_for(enum ch_transport t) {
  switch (t) {
  case CH_TRANSPORT_WEBSOCKETS:
    return &ch_wsraw_transport_ops; /* ch_ws_transport_ops with ch_engine_opts.ws_lws_framing */
  case CH_TRANSPORT_SSE:
    return &ch_sse_transport_ops;
  case CH_TRANSPORT_LONGPOLLING:
    return &ch_lp_transport_ops;
  default:
    return NULL;
  }
}

void ch__channel_init(struct ch_channel *b, const struct ch_transport_ops *ops, struct ch_worker *w,
                      const struct ch_transport_events *ev, void *owner) {
  b->ops = ops;
  b->worker = w;
  b->ev = ev;
  b->owner = owner;
}

void ch__channel_destroy(struct ch_channel *b) {
  if (!b)
    return;
  b->ops->detach(b);
  free(b);
}
