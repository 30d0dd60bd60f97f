/* ch_trigger: sends the triggers of one phase at their intended times (open model) from its own thread, with a
   curl multi handle so that a slow target never delays the next trigger's intended time: latency is measured from
   the intended time, which corrects for coordinated omission. */
#ifndef CH_TRIGGER_H
#define CH_TRIGGER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_tls.h"

/* One trigger: which key it changes, the sequence number its Update will carry for that key, and when it is due. */
struct ch_trig {
  uint32_t key;        /* index into the run's key table */
  uint32_t seq;        /* per-key sequence number (1, 2, ...) */
  uint64_t intended_ns;
  _Atomic uint64_t sent_ns; /* 0 until the request is handed to curl */
};

/* How one trigger request is made; called on the sender thread. Fill url/body (and headers, one "Name: value" per
   element) for trigger index i. Return 0, or a negative code to count the trigger as failed. */
struct ch_trigger_request {
  struct ch_buf url, body;
  char **headers;
  size_t n_headers;
  const char *method;
};
typedef int (*ch_trigger_build_cb)(void *user, size_t i, const struct ch_trig *t, struct ch_trigger_request *req);

struct ch_trigger_opts {
  struct ch_trig *plan;    /* n entries, sorted by intended_ns; owned by the caller, outlives the sender */
  size_t n;
  ch_trigger_build_cb build;
  void *user;
  uint64_t timeout_ns;     /* per request */
  int status_min, status_max; /* accepted HTTP statuses */
  struct ch_tls_opts tls;   /* https: verification always, the client certificate only to the target (ch_tls.h) */
  const char *target_url;   /* the run's target: a trigger URL on its host and port gets the client certificate */
  unsigned max_in_flight;  /* 0: 256 */
  const atomic_bool *stop; /* optional: once true, no further trigger is sent (as ch_trigger_cancel) */
  /* Optional check of each response body (e.g. the reference endpoint's first_seq): return NULL when fine or a short
     static reason. */
  const char *(*check_body)(void *user, size_t i, const char *body, size_t n);
};

struct ch_trigger_result {
  uint64_t sent, ok, failed;
  char first_error[256];   /* evidence for the first failure ("HTTP 500 from POST <url>"); never a credential */
};

struct ch_trigger_sender;

int ch_trigger_start(const struct ch_trigger_opts *o, struct ch_trigger_sender **out, struct ch_buf *err);
/* Waits until every trigger is sent and answered (or timed out), then frees the sender. */
void ch_trigger_join(struct ch_trigger_sender *s, struct ch_trigger_result *res);
/* Asks the sender to stop early (remaining triggers are not sent; with drop_in_flight the answers of requests in
   flight are not awaited either); join afterwards. Thread-safe. */
void ch_trigger_cancel(struct ch_trigger_sender *s, bool drop_in_flight);
/* Whether the sender's thread is done (ch_trigger_join will not block). Thread-safe. */
bool ch_trigger_finished(struct ch_trigger_sender *s);

#endif /* CH_TRIGGER_H */
