/* ch_live_http: a tiny HTTP/1.1 responder on its own libuv loop and thread, for watching a run while it happens:
 * GET /metrics (Prometheus text 0.0.4, or OpenMetrics 1.0 when the Accept header asks for
 * application/openmetrics-text), and with a dashboard: GET / (the page), GET /events (Server-Sent Events), POST /stop
 * (403 unless allowed), GET /report (the final report.html once the run ended).
 *
 * Nothing is computed here: the owner renders an immutable publication (struct ch_live_pub) once a second on its own
 * thread and hands it over with ch_live_http_publish, a lock-free exchange of one pointer plus a uv_async wake-up;
 * the HTTP thread then owns it. So a scrape never touches the run's threads. One request per connection
 * (Connection: close), except the event streams, which stay open. */
#ifndef CH_LIVE_HTTP_H
#define CH_LIVE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ch_buf.h"

/* One second's rendering. Owned by whoever holds it; freed with ch_live_pub_free. */
struct ch_live_pub {
  struct ch_buf prom, om;  /* the two expositions */
  struct ch_buf event;     /* the dashboard's SSE event, complete ("data: ...\n\n"); may be empty */
  struct ch_buf end_event; /* set once the run ended: the "end" event (the final report); else empty */
  struct ch_buf report;    /* the final report.html, served at /report; empty until the end */
  unsigned refs;           /* HTTP thread only */
};
void ch_live_pub_free(struct ch_live_pub *p);

struct ch_live_http_opts {
  const char *metrics_listen;   /* HOST:PORT or NULL */
  const char *dashboard_listen; /* HOST:PORT or NULL */
  bool allow_stop;              /* POST /stop sends SIGINT to this process (the path Ctrl-C takes); else 403 */
  const char *page;             /* the dashboard page (copied); NULL without a dashboard */
};

struct ch_live_http;

/* Parses HOST:PORT ([V6]:PORT, PORT alone means 127.0.0.1; "localhost" is 127.0.0.1). @return 0 or -EINVAL. */
int ch_live_parse_listen(const char *s, char *host, size_t cap, int *port);
/* Binds both addresses and starts the thread. @return 0, or a negative errno/libuv code with err saying why. */
int ch_live_http_start(const struct ch_live_http_opts *o, struct ch_live_http **out, struct ch_buf *err);
/* The bound port of the metrics (which 0) or the dashboard (which 1) listener; -1 when not listening. */
int ch_live_http_port(const struct ch_live_http *h, int which);
/* Hands p over (the HTTP thread frees it). Any thread; never blocks. */
void ch_live_http_publish(struct ch_live_http *h, struct ch_live_pub *p);
/* Waits (at most timeout_ms) until every open event stream has been sent the last publication. */
void ch_live_http_flush(struct ch_live_http *h, unsigned timeout_ms);
/* Closes every connection, stops and joins the thread, frees h. NULL is ignored. */
void ch_live_http_stop(struct ch_live_http *h);

#endif /* CH_LIVE_HTTP_H */
