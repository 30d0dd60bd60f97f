/* ch_sse: incremental text/event-stream parser (the WHATWG EventSource rules the SignalR SSE transport relies on).

   Feed bytes as they arrive, split anywhere (even inside a CRLF pair). Lines end in LF, CRLF or CR. "data:" lines
   (one optional space after the colon) are joined with "\n"; a blank line dispatches the event to the callback with
   its data. Comments (":..."), "id:", "event:", "retry:" and unknown fields are ignored; a leading UTF-8 BOM is
   skipped. An event whose data buffer is empty is not dispatched. "data: initialized" is just an event: the caller
   recognises it. The data buffer is reused, so after warm-up no event allocates. */
#ifndef CH_SSE_H
#define CH_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "ch_buf.h"

/* Called once per event. data is valid only during the call (it is NUL-terminated for convenience). Return 0 to
   go on; a non-zero value stops ch_sse_feed, which returns it (the rest of the chunk is not parsed). */
typedef int (*ch_sse_event_cb)(void *user, const char *data, size_t n);

#define CH_SSE_DEFAULT_MAX_EVENT (1u << 20)

struct ch_sse {
  ch_sse_event_cb cb;
  void *user;
  size_t max_event;   /* bytes of data per event */
  struct ch_buf data; /* the event being assembled */
  int state;          /* line parser state */
  bool after_cr;      /* the last byte fed was a CR: a following LF belongs to it */
  bool is_data;       /* the current line is a data field */
  bool has_data;      /* at least one data line in this event */
  unsigned bom;       /* BOM bytes matched at stream start (3 = done) */
  char field[8];      /* field name being read (only "data" matters) */
  size_t field_len;
  int failed;         /* sticky error code */
  char err[64];       /* message of the sticky error */
};

/* max_event 0 = CH_SSE_DEFAULT_MAX_EVENT. Returns 0 or -EINVAL (no callback). Allocates nothing. */
int ch_sse_init(struct ch_sse *s, size_t max_event, ch_sse_event_cb cb, void *user);
/* Parses n bytes. Returns 0, the callback's non-zero value, or -EMSGSIZE when an event's data grows past max_event
   (message "sse: event larger than N bytes" from ch_sse_error; the parser stays failed until ch_sse_reset), or
   -ENOMEM. */
int ch_sse_feed(struct ch_sse *s, const char *p, size_t n);
/* The message of the last failure, "" if none. */
const char *ch_sse_error(const struct ch_sse *s);
/* Forgets any partial event and error (for a new stream); keeps the buffer. */
void ch_sse_reset(struct ch_sse *s);
void ch_sse_free(struct ch_sse *s);

#endif /* CH_SSE_H */
