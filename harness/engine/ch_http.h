/* ch_http: HTTP requests on a worker's curl multi handle, driven by its libuv loop (uv_poll per socket + one
   uv_timer, as curl's multi-uv example). Used for negotiate, start and abort, and by the SSE and long-polling
   transports. Loop thread only. No redirects are followed (a 3xx is reported as such); TLS verification is on unless
   the engine was created with insecure, client certificate and server_name follow the engine, TLS sessions are
   shared by the worker's requests (resumed handshakes); proxies come from the usual environment variables (curl's
   default). */
#ifndef CH_HTTP_H
#define CH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ch_worker;
struct ch_http_req;

struct ch_http_result {
  int curl_code;          /* CURLE_OK or the transfer error */
  const char *error;      /* a short text for curl_code != 0 (curl's error buffer); never holds credentials */
  long status;            /* HTTP status, 0 when none was received */
  const char *body;       /* NUL-terminated; "" when empty; NULL when streamed (on_data set) */
  size_t body_len;
  bool body_too_big;      /* the body exceeded max_body: the transfer was aborted */
  const char *content_type; /* NULL when absent */
  const char *location;   /* Location of a 3xx, NULL when absent (may carry a query token: redact before use) */
  uint64_t start_ns, connect_ns, end_ns; /* monotonic: request added, TCP(+TLS) connected (0 if reused), done */
};

/* Streamed body bytes (SSE, long polling). Return 0 to go on, -1 to abort the transfer (done then reports a write
   error). */
typedef int (*ch_http_data_cb)(struct ch_http_req *r, const char *p, size_t n, void *arg);
/* The request is over; r is freed when this returns. */
typedef void (*ch_http_done_cb)(struct ch_http_req *r, const struct ch_http_result *res, void *arg);

struct ch_http_opts {
  const char *url;          /* absolute http(s) URL */
  bool post;                /* POST (body below, may be empty) instead of GET */
  const char *body;         /* POST body; NULL = empty */
  size_t body_len;
  const char *content_type; /* POST Content-Type; NULL = none sent */
  const char *auth_header;  /* NULL or the full Authorization value */
  const char *accept;       /* NULL or an Accept value */
  const char *source_addr;  /* NULL or a local address to bind */
  uint32_t timeout_ms;      /* whole transfer; 0 = none (streams) */
  uint32_t connect_timeout_ms; /* 0 = timeout_ms or curl's default */
  size_t max_body;          /* 0 = 1 MiB (ignored when streaming) */
  ch_http_data_cb on_data;  /* NULL: the body is collected and handed to done */
  void *tls_owner;          /* the client whose TLS handshakes this request's connection counts (NULL: none) */
  ch_http_done_cb done;
  void *arg;
};

/* Starts a request. 0 and *out (may be NULL) on success: done will fire exactly once unless cancelled.
   -ESHUTDOWN when the worker is stopping, -ENOMEM, -EINVAL. On error done never fires. */
int ch_http_start(struct ch_worker *w, const struct ch_http_opts *o, struct ch_http_req **out);
/* Cancels a request in flight: done never fires. Not allowed from inside its own done or on_data. */
void ch_http_cancel(struct ch_http_req *r);
size_t ch_http_in_flight(const struct ch_worker *w);

#endif /* CH_HTTP_H */
