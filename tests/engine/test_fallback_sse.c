/* The serverSentEvents transport against a scripted endpoint (test_fallback_mock.h): connect, "initialized", init,
   start, pushes with LF/CRLF/CR line ends split into single bytes, keep-alives, invocations over POST /send (their
   completion read from the /send body), reconnect with messageId after the stream ends, and the bad inputs that must
   end only that client with a recorded reason: no "initialized", an oversize event, a frame that is not JSON, a /send
   that fails or answers something that is not JSON. Also the pure receive state (ch_sse_rx) at every split. */
#include "ch_fallback.h"
#include "test_fallback_mock.h"

#define PUSH "{\"C\":\"c2\",\"M\":[{\"H\":\"ResourceEventHub\",\"M\":\"Update\",\"A\":[\"k1\",1]}]}"

/* ---------------------------------------------------------------- scripts */

static bool sse_good(struct mock_req *r) {
  mock_stream_head(r->fd, 200, "text/event-stream");
  mock_puts(r->fd, "data: initialized\n\n");
  if (!r->reconnect) {
    mock_puts(r->fd, "data: {\"C\":\"c1\",\"S\":1,\"M\":[]}\r\n\r\n");
    if (!mock_wait_flag(r, &r->m->started, MOCK_WAIT_MS))
      return false;
  }
  mock_puts(r->fd, "data: {}\n\n");
  /* one push written a byte at a time, CRLF line ends */
  const char *push = "data: " PUSH "\r\n\r\n";
  for (const char *p = push; *p; p++)
    mock_write(r->fd, p, 1);
  mock_hold(r);
  return false;
}

/* Ends the stream after the push: the client must reconnect with messageId=c2 and get the replay. */
static bool sse_ends_once(struct mock_req *r) {
  mock_stream_head(r->fd, 200, "text/event-stream");
  mock_puts(r->fd, "data: initialized\r\n\r\n");
  if (!r->reconnect) {
    mock_puts(r->fd, "data: {\"C\":\"c1\",\"S\":1,\"M\":[]}\r\r");
    if (!mock_wait_flag(r, &r->m->started, MOCK_WAIT_MS))
      return false;
    mock_puts(r->fd, "data: " PUSH "\r\r"); /* CR line ends */
    return false;                          /* close: the stream ends */
  }
  mock_puts(r->fd, "data: {\"C\":\"c3\",\"M\":[{\"H\":\"ResourceEventHub\",\"M\":\"Update\",\"A\":[\"k1\",2]}]}\n\n");
  mock_hold(r);
  return false;
}

static bool sse_html(struct mock_req *r) {
  mock_stream_head(r->fd, 200, "text/html");
  mock_puts(r->fd, "<html><body>Proxy error</body></html>\n\n");
  return false;
}

/* Opens the stream, waits for /start, then sends one bad event (first of `n` writes of `part`, then `tail`). */
static bool sse_bad_event(struct mock_req *r, const char *head, const char *part, int n, const char *tail) {
  mock_sse_open(r);
  if (!mock_wait_flag(r, &r->m->started, MOCK_WAIT_MS))
    return false;
  mock_puts(r->fd, head);
  for (int i = 0; i < n; i++)
    mock_puts(r->fd, part);
  mock_puts(r->fd, tail);
  mock_hold(r);
  return false;
}

static bool sse_oversize(struct mock_req *r) { return sse_bad_event(r, "data: [", "\"0123456789\",", 400, "0]\n\n"); }

static bool sse_not_json(struct mock_req *r) { return sse_bad_event(r, "data: <html>oops</html>", "", 0, "\n\n"); }

/* init, then silence: no keep-alive */
static bool sse_silent_after_init(struct mock_req *r) {
  mock_stream_head(r->fd, 200, "text/event-stream");
  mock_puts(r->fd, "data: initialized\n\n");
  if (!r->reconnect)
    mock_puts(r->fd, "data: {\"C\":\"c1\",\"S\":1,\"M\":[]}\n\n");
  mock_hold(r);
  return false;
}

/* ---------------------------------------------------------------- tests */

static void test_sse_connects_receives_and_invokes(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_good, NULL);
  fx_start_invoke_receive(&f);
  uv_mutex_lock(&f.m.lock);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.m.last_send_body, "data=%7B%22H%22%3A%22ResourceEventHub%22"));
  uv_mutex_unlock(&f.m.lock);
  fx_stop_client(&f);
  CU_ASSERT_EQUAL(f.o.closed, 1);
  CU_ASSERT_FALSE(f.o.failed);
  CU_ASSERT_EQUAL(f.o.final_transport, CH_TRANSPORT_SSE);
  CU_ASSERT_EQUAL(f.o.counters.hub_msgs_in, 1);
  CU_ASSERT(f.o.counters.keepalives_in >= 1);
  CU_ASSERT_EQUAL(f.o.counters.invocations_ok, 1);
  CU_ASSERT_EQUAL(atomic_load(&f.m.sse_connects), 1);
  CU_ASSERT_EQUAL(atomic_load(&f.m.aborts), 1);
  fx_finish(&f);
}

static void test_sse_reconnects_with_message_id_after_stream_end(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_ends_once, NULL);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.reconnected, 1, MOCK_WAIT_MS));
  CU_ASSERT(obs_wait(&f.o, &f.o.hub_msgs, 2, MOCK_WAIT_MS));
  CH_ASSERT_STR(f.o.last_args, "[\"k1\",2]");
  uv_mutex_lock(&f.m.lock);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.m.last_reconnect_target, "/signalr/reconnect?transport=serverSentEvents"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.m.last_reconnect_target, "messageId=c2"));
  uv_mutex_unlock(&f.m.lock);
  CU_ASSERT_EQUAL(atomic_load(&f.m.negotiates), 1); /* no new negotiation */
  fx_stop_ok(&f);
  CU_ASSERT_EQUAL(f.o.counters.reconnects, 1);
  fx_finish(&f);
}

static void test_sse_keepalive_timeout_drops_and_reconnects(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_silent_after_init, NULL);
  f.m.keepalive_timeout = 0.6;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.reconnected, 1, MOCK_WAIT_MS));
  CU_ASSERT(atomic_load(&f.m.sse_reconnects) >= 1);
  uv_mutex_lock(&f.m.lock);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.m.last_reconnect_target, "messageId=c1"));
  uv_mutex_unlock(&f.m.lock);
  fx_stop_ok(&f);
  CU_ASSERT(f.o.counters.keepalive_lost >= 1);
  fx_finish(&f);
}

static void test_sse_answer_without_initialized_fails_connect(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_html, NULL);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  fx_assert_fails(&f, CH_FAIL_CONNECT);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.o.fail.message, "initialized"));
  fx_finish(&f);
}

static void test_sse_oversize_event_ends_the_client(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_oversize, NULL);
  CU_ASSERT_FATAL(fx_start(&f, 2048));
  fx_assert_fails(&f, CH_FAIL_WS_PROTOCOL);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.o.fail.message, "larger than 2048"));
  CU_ASSERT_EQUAL(atomic_load(&f.m.sse_reconnects), 0);
  fx_finish(&f);
}

static void test_sse_event_that_is_not_json_ends_the_client(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_not_json, NULL);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  fx_assert_fails(&f, CH_FAIL_BAD_MESSAGE);
  fx_finish(&f);
}

static void test_sse_failed_send_completes_with_error(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_good, NULL);
  f.m.send_status = 500;
  f.o.invoke_on_connect = true;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.completions, 1, MOCK_WAIT_MS));
  CU_ASSERT_EQUAL(f.o.comp_status, 0);
  CH_ASSERT_STR(f.o.comp_error, "send: HTTP 500");
  fx_stop_ok(&f);
  CU_ASSERT_EQUAL(f.o.counters.invocations_error, 1);
  fx_finish(&f);
}

static void test_sse_send_body_not_json_ends_the_client(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_good, NULL);
  f.m.send_status = 200; /* the mock then answers /send with text */
  f.o.invoke_on_connect = true;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  fx_assert_fails(&f, CH_FAIL_BAD_MESSAGE);
  fx_finish(&f);
}

static void test_sse_engine_stop_with_an_open_stream_cancels_cleanly(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, sse_good, NULL);
  f.o.invoke_on_connect = true;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.hub_msgs, 1, MOCK_WAIT_MS));
  ch_engine_stop(f.e);
  CU_ASSERT_EQUAL(f.o.closed, 1);
  CU_ASSERT_EQUAL(f.o.fail.category, CH_FAIL_CANCELLED);
  fx_finish(&f);
}

/* ---------------------------------------------------------------- ch_sse_rx without the network */

static void rx_collect(struct ch_sse_rx *rx, struct ch_buf *out) {
  const char *p;
  size_t n;
  while (ch_sse_rx_next(rx, &p, &n) == 1) {
    ch_buf_append(out, p, n);
    ch_buf_putc(out, '|');
  }
}

static void test_sse_rx_every_split_gives_the_same_events(void) {
  const char *s = "\xEF\xBB\xBF" "data: initialized\r\n\r\n: comment\rdata: {}\n\ndata: {\"C\":\"x\",\r\ndata: \"M\":[]}"
                  "\r\rid: 7\nevent: x\ndata: initialized\n\ndata:last\r\n\r\n";
  size_t n = strlen(s);
  for (size_t a = 0; a <= n; a++) {
    for (size_t b = a; b <= n; b += 7) {
      struct ch_sse_rx rx;
      CU_ASSERT_EQUAL_FATAL(ch_sse_rx_init(&rx, 0), 0);
      struct ch_buf out = CH_BUF_INIT;
      CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, s, a), 0);
      rx_collect(&rx, &out);
      CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, s + a, b - a), 0);
      rx_collect(&rx, &out);
      CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, s + b, n - b), 0);
      rx_collect(&rx, &out);
      CU_ASSERT(rx.initialized);
      CH_ASSERT_STR(out.data, "{}|{\"C\":\"x\",\n\"M\":[]}|last|");
      ch_buf_free(&out);
      ch_sse_rx_free(&rx);
    }
  }
}

static void test_sse_rx_refuses_other_first_event_and_floods(void) {
  struct ch_sse_rx rx;
  CU_ASSERT_EQUAL_FATAL(ch_sse_rx_init(&rx, 64), 0);
  CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, "data: {}\n\n", 10), -EPROTO);
  CU_ASSERT_PTR_NOT_NULL(strstr(rx.err, "initialized"));
  CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, "data: {}\n\n", 10), -EPROTO); /* sticky */
  ch_sse_rx_reset(&rx);
  CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, "data: initialized\n\n", 19), 0);
  const char *ev = "data: {\"C\":\"0123456789\"}\n\n";
  int rc = 0;
  for (int i = 0; i < 100000 && rc == 0; i++)
    rc = ch_sse_rx_feed(&rx, ev, strlen(ev));
  CU_ASSERT_EQUAL(rc, -ENOBUFS); /* nobody consumed: bounded */
  ch_sse_rx_reset(&rx);
  char big[200];
  memset(big, 'x', sizeof big);
  CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, "data: initialized\n\ndata: ", 25), 0);
  CU_ASSERT_EQUAL(ch_sse_rx_feed(&rx, big, sizeof big), -EMSGSIZE);
  CU_ASSERT_PTR_NOT_NULL(strstr(rx.err, "larger than 64"));
  ch_sse_rx_reset(&rx);
  char junk[1024];
  memset(junk, 'j', sizeof junk);
  rc = 0;
  for (int i = 0; i < 100 && rc == 0; i++)
    rc = ch_sse_rx_feed(&rx, junk, sizeof junk);
  CU_ASSERT_EQUAL(rc, -EPROTO); /* 64 KiB without an event: not a stream */
  ch_sse_rx_free(&rx);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_sse_rx_every_split_gives_the_same_events),
                         CH_TEST(test_sse_rx_refuses_other_first_event_and_floods),
                         CH_TEST(test_sse_connects_receives_and_invokes),
                         CH_TEST(test_sse_reconnects_with_message_id_after_stream_end),
                         CH_TEST(test_sse_keepalive_timeout_drops_and_reconnects),
                         CH_TEST(test_sse_answer_without_initialized_fails_connect),
                         CH_TEST(test_sse_oversize_event_ends_the_client),
                         CH_TEST(test_sse_event_that_is_not_json_ends_the_client),
                         CH_TEST(test_sse_failed_send_completes_with_error),
                         CH_TEST(test_sse_send_body_not_json_ends_the_client),
                         CH_TEST(test_sse_engine_stop_with_an_open_stream_cancels_cleanly),
                         CU_TEST_INFO_NULL};
  return ch_test_run("fallback_sse", tests);
}
