/* ch_fallback: what the serverSentEvents (ch_sse_transport.c) and longPolling (ch_lp_transport.c) transports share
   (engine-private): the channel head, one uv_timer for deferred work, hub invocations as POST /send whose response
   body is fed back as a received frame (protocol §1.2, §4.2, §4.3), and the "closed" event emitted later.

   Why deferred: curl refuses multi calls from inside its own callbacks, so nothing that may start or cancel an HTTP
   request (the client reacting to a message, or a close) may run in a write callback. Received data is queued by
   the write callback and delivered from the timer; a requested close is answered from the timer too, as the
   transport interface demands (no event from inside open/send/close).

   The timer is initialised on the first open and closed on detach or destroy; the struct is freed in its close
   callback when destroy came first, so no handle outlives its memory. */
#ifndef CH_FALLBACK_H
#define CH_FALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ch_buf.h"
#include "ch_http.h"
#include "ch_sse.h"
#include "ch_transport.h"

struct ch_fb;

/* The transport-specific part. */
struct ch_fb_kind {
  /* The timer fired (or ch__fb_kick): deliver what is queued, start the next request, check deadlines. */
  void (*work)(struct ch_fb *t, uint64_t now);
  /* Cancel the receive request(s); never called from inside a curl callback. */
  void (*cancel)(struct ch_fb *t);
  /* Forget per-connection state (final: also what lives across connections, before the free). */
  void (*reset)(struct ch_fb *t, bool final);
};

struct ch_fb_send {
  struct ch_http_req *req;
  char id[24]; /* the invocation's I, to report a failed /send as that invocation's error */
};

struct ch_fb {
  struct ch_channel base;
  const struct ch_fb_kind *kind;
  uv_timer_t timer;
  bool timer_init, timer_closing, free_on_close;
  uint64_t timer_due; /* 0 = not armed */

  bool live;     /* open succeeded and closed was not emitted yet */
  bool opened;   /* events.opened was emitted for this connection */
  bool closing;  /* the client asked to close: closed(NONE) follows */
  bool ending;   /* closed is decided (end_cat, end_why); emitted once nothing is in flight */
  bool in_event; /* an event callback is running (close from there must not recurse) */
  bool reconnect;/* the current connection is a /reconnect */
  enum ch_failure_category end_cat;
  char end_why[160];

  struct ch_buf url;      /* absolute connect/reconnect URL */
  struct ch_buf send_url; /* absolute /send URL */
  const char *auth;        /* borrowed from the client (lives as long as it) */
  const char *const *auth_slot; /* when set, the client's current value (see ch_transport_open.auth_slot) */
  const char *source_addr; /* engine-owned */
  size_t max_message;
  uint32_t send_timeout_ms;

  struct ch_fb_send *sends; /* POST /send in flight */
  size_t n_sends, cap_sends;
};

/* Fills the common part (create). */
void ch__fb_init(struct ch_fb *t, const struct ch_transport_ops *ops, const struct ch_fb_kind *kind,
                 struct ch_worker *w, const struct ch_transport_events *ev, void *owner);
/* The common part of open: copies URLs, initialises the timer. 0, -EALREADY, -ESHUTDOWN, -EINVAL, -ENOMEM. */
int ch__fb_open(struct ch_fb *t, const struct ch_transport_open *o);
/* set_urls of both transports (the send URL; ch_lp_transport also replaces its poll URL). */
int ch__fb_set_urls(struct ch_channel *base, const char *send_url, const char *poll_url);
/* The Authorization value for the next request: the client's current one (refreshed tokens), else the one given at
   open. */
static inline const char *ch__fb_auth(const struct ch_fb *t) { return t->auth_slot ? *t->auth_slot : t->auth; }
/* Arms the timer for `due` (monotonic ns; 0 = now) unless it is already due earlier. */
void ch__fb_arm(struct ch_fb *t, uint64_t due);
/* Decides that the connection ends with (cat, why) (the first reason wins) and schedules closed. Safe anywhere,
   including curl callbacks (nothing is cancelled here; the timer does it). */
void ch__fb_end(struct ch_fb *t, enum ch_failure_category cat, const char *why);
/* Emits events.opened (once per connection) unless the connection is ending. Returns false when the connection
   ended meanwhile (the caller must stop). Only from the timer or a done callback. */
bool ch__fb_emit_opened(struct ch_fb *t);
/* Emits events.message; returns false when the connection is ending or was closed during the call. */
bool ch__fb_emit_message(struct ch_fb *t, const char *p, size_t n, uint64_t recv_ns);
/* True while new work should go on (live, not ending). */
bool ch__fb_running(const struct ch_fb *t);

/* The ops every fallback transport shares. */
int ch__fb_send(struct ch_channel *base, const char *p, size_t n);
void ch__fb_close(struct ch_channel *base, bool abrupt);
bool ch__fb_is_open(const struct ch_channel *base);
void ch__fb_detach(struct ch_channel *base);
void ch__fb_destroy(struct ch_channel *base);

/* ---------------------------------------------------------------- SSE receive state (pure; fuzzed) */

/* The SSE receive channel without the network: feeds stream bytes, checks the "initialized" first event and the
   size limits, and queues events for delivery outside curl's callbacks. */
struct ch_sse_rx {
  struct ch_sse parser;
  bool initialized;  /* the first event ("initialized") was seen */
  bool init_pending; /* ... and not yet reported (opened) */
  size_t pre_bytes;  /* bytes before "initialized" */
  struct ch_buf q;   /* queued events: [uint32 length][bytes]... */
  size_t q_off;
  size_t max_queue;
  int failed;        /* sticky: -EMSGSIZE, -EPROTO, -ENOBUFS, -ENOMEM */
  char err[96];
};

/* max_event 0 = 1 MiB. The queue holds at most 4 events' worth plus 64 KiB before the stream is failed. */
int ch_sse_rx_init(struct ch_sse_rx *rx, size_t max_event);
/* 0 or the sticky error (message in rx->err: safe to log, never contains stream bytes). */
int ch_sse_rx_feed(struct ch_sse_rx *rx, const char *p, size_t n);
/* Takes the next queued event: 1 with the event in *p and *n (valid until the next feed, next or reset call),
   0 when empty. */
int ch_sse_rx_next(struct ch_sse_rx *rx, const char **p, size_t *n);
void ch_sse_rx_reset(struct ch_sse_rx *rx);
void ch_sse_rx_free(struct ch_sse_rx *rx);

#endif /* CH_FALLBACK_H */
