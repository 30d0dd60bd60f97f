#include "ch_trigger.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "ch_clock.h"

struct trig_req {
  CURL *easy;
  struct curl_slist *headers;
  struct ch_buf body_in;
  struct ch_trigger_request req;
  size_t index;
  struct trig_req *prev, *next; /* in flight */
};

struct ch_trigger_sender {
  struct ch_trigger_opts o;
  pthread_t thread;
  atomic_bool cancel, drop, finished;
  struct ch_trigger_result res;
};

static size_t trig_write(char *p, size_t sz, size_t n, void *ud) {
  struct ch_buf *b = ud;
  if (b->len + sz * n > 65536) /* responses are only checked, never kept whole */
    return sz * n;
  return ch_buf_append(b, p, sz * n) ? 0 : sz * n;
}

static void trig_req_free(struct trig_req *r) {
  if (!r)
    return;
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  ch_buf_free(&r->body_in);
  ch_buf_free(&r->req.url);
  ch_buf_free(&r->req.body);
  for (size_t i = 0; i < r->req.n_headers; i++)
    free(r->req.headers[i]);
  free(r->req.headers);
  free(r);
}

static void trig_fail(struct ch_trigger_sender *s, const char *why) {
  s->res.failed++;
  if (!s->res.first_error[0])
    snprintf(s->res.first_error, sizeof s->res.first_error, "%s", why);
}

static struct trig_req *trig_make(struct ch_trigger_sender *s, size_t i) {
  struct trig_req *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->index = i;
  r->req.method = "POST";
  if (s->o.build(s->o.user, i, &s->o.plan[i], &r->req) != 0 || !r->req.url.data || !(r->easy = curl_easy_init())) {
    trig_req_free(r);
    return NULL;
  }
  for (size_t h = 0; h < r->req.n_headers; h++)
    r->headers = curl_slist_append(r->headers, r->req.headers[h]);
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, r->req.url.data);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->req.method);
  if (r->req.body.data) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req.body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->req.body.len);
  } else if (!strcmp(r->req.method, "GET")) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, trig_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->body_in);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(s->o.timeout_ns / 1000000u));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  ch_tls_curl_apply(e, &s->o.tls, r->req.url.data, s->o.target_url);
  return r;
}

static void trig_done(struct ch_trigger_sender *s, CURLM *m, CURLMsg *msg) {
  struct trig_req *r = NULL;
  curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
  long status = 0;
  curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
  /* The URL in evidence is the template's rendering without its query string, which may carry credentials. */
  char why[256];
  int ul = (int)strcspn(r->req.url.data, "?");
  if (msg->data.result != CURLE_OK) {
    snprintf(why, sizeof why, "trigger failed: %s (%s %.*s)", curl_easy_strerror(msg->data.result), r->req.method, ul,
             r->req.url.data);
    trig_fail(s, why);
  } else if (status < s->o.status_min || status > s->o.status_max) {
    snprintf(why, sizeof why, "trigger failed: %s %.*s answered HTTP %ld", r->req.method, ul, r->req.url.data, status);
    trig_fail(s, why);
  } else {
    const char *bad = s->o.check_body ? s->o.check_body(s->o.user, r->index, r->body_in.data ? r->body_in.data : "",
                                                        r->body_in.len)
                                      : NULL;
    if (bad) {
      snprintf(why, sizeof why, "trigger answer unexpected: %s", bad);
      trig_fail(s, why);
    } else {
      s->res.ok++;
    }
  }
  curl_multi_remove_handle(m, msg->easy_handle);
  trig_req_free(r);
}

static void trig_unlink(struct trig_req **live, struct trig_req *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    *live = r->next;
  if (r->next)
    r->next->prev = r->prev;
}

/* The last stretch before a trigger is due is slept, not polled: at most this plus 1 ms, during which the answers of
   requests in flight wait (they are only counted, so that costs nothing but their bookkeeping's delay). */
#define TRIG_TAIL_NS 1000000u

static void trig_sleep_until(uint64_t due_ns) {
  struct timespec ts = {(time_t)(due_ns / 1000000000u), (long)(due_ns % 1000000000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) /* ch_now_ns's clock */
    ;
}

static void *trig_thread(void *arg) {
  struct ch_trigger_sender *s = arg;
  /* wake-ups of this thread within 1 us of the time asked for, not the default 50 us of slack */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  CURLM *m = curl_multi_init();
  struct trig_req *live = NULL;
  unsigned cap = s->o.max_in_flight ? s->o.max_in_flight : 256;
  size_t next = 0;
  /* plan[next]'s request, built before the sleep to its time (its {{now_ms}} up to 2 ms early) */
  struct trig_req *made = NULL;
  int running = 0;
  unsigned in_flight = 0;
  while (m) {
    uint64_t now = ch_now_ns();
    bool cancel = atomic_load(&s->cancel) || (s->o.stop && atomic_load(s->o.stop));
    while (!cancel && next < s->o.n && s->o.plan[next].intended_ns <= now && in_flight < cap) {
      struct trig_req *r = made ? made : trig_make(s, next); /* made is always plan[next]'s */
      made = NULL;
      atomic_store_explicit(&s->o.plan[next].sent_ns, ch_now_ns(), memory_order_release);
      s->res.sent++;
      if (!r || curl_multi_add_handle(m, r->easy) != CURLM_OK) {
        trig_req_free(r);
        trig_fail(s, "trigger request could not be built");
      } else {
        in_flight++;
        r->next = live;
        if (live)
          live->prev = r;
        live = r;
      }
      next++;
    }
    if (cancel && atomic_load(&s->drop)) { /* stop at once: the answers of requests in flight are not awaited */
      while (live) {
        struct trig_req *r = live;
        trig_unlink(&live, r);
        curl_multi_remove_handle(m, r->easy);
        trig_req_free(r);
      }
      in_flight = 0;
    }
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)))
      if (msg->msg == CURLMSG_DONE) {
        struct trig_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        trig_unlink(&live, r);
        trig_done(s, m, msg);
        in_flight--;
      }
    if ((next >= s->o.n || cancel) && in_flight == 0)
      break;
    /* Until the next trigger is due: curl's poll (its sockets and timers) while more than TRIG_TAIL_NS plus a
       millisecond are left, since its timeout counts whole milliseconds; the last stretch a sleep to the exact time
       (rounding that down to 0 ms made this loop spin for up to a millisecond before every trigger). */
    int wait_ms = 50;
    if (!cancel && next < s->o.n && in_flight < cap) {
      uint64_t due = s->o.plan[next].intended_ns;
      now = ch_now_ns();
      uint64_t left = due > now ? due - now : 0;
      wait_ms = left >= TRIG_TAIL_NS + 1000000u ? (int)((left - TRIG_TAIL_NS) / 1000000u) : 0;
      if (wait_ms > 50)
        wait_ms = 50;
      if (!wait_ms && left) {
        if (!made) /* built now (a failure is built again when due), so that only its hand-over is left then */
          made = trig_make(s, next);
        trig_sleep_until(due);
      }
    }
    if (wait_ms > 0)
      curl_multi_poll(m, NULL, 0, wait_ms, NULL);
  }
  trig_req_free(made); /* cancelled before its time */
  curl_multi_cleanup(m);
  atomic_store(&s->finished, true);
  return NULL;
}

int ch_trigger_start(const struct ch_trigger_opts *o, struct ch_trigger_sender **out, struct ch_buf *err) {
  if (!o->build || (o->n && !o->plan)) {
    ch_buf_puts(err, "trigger: no request builder");
    return -EINVAL;
  }
  struct ch_trigger_sender *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->o = *o;
  if (!s->o.timeout_ns)
    s->o.timeout_ns = 10000000000u;
  if (!s->o.status_min && !s->o.status_max)
    s->o.status_min = 200, s->o.status_max = 299;
  int rc = pthread_create(&s->thread, NULL, trig_thread, s);
  if (rc) {
    free(s);
    ch_buf_printf(err, "trigger: cannot start a thread: %s", strerror(rc));
    return -rc;
  }
  *out = s;
  return 0;
}

void ch_trigger_cancel(struct ch_trigger_sender *s, bool drop_in_flight) {
  if (drop_in_flight)
    atomic_store(&s->drop, true);
  atomic_store(&s->cancel, true);
}

bool ch_trigger_finished(struct ch_trigger_sender *s) { return atomic_load(&s->finished); }

void ch_trigger_join(struct ch_trigger_sender *s, struct ch_trigger_result *res) {
  pthread_join(s->thread, NULL);
  if (res)
    *res = s->res;
  free(s);
}
