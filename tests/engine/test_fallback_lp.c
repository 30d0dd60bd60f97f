/* The longPolling transport against a scripted endpoint (test_fallback_mock.h): POST connect answers the init, polls
   carry messageId and groupsToken in the form body, held responses start with keep-alive spaces, `L` delays the next
   poll, a failed poll or T:1 leads to POST /reconnect with the tokens (no new negotiate), invocations complete from
   the /send body, and a body that is not JSON ends only that client with a recorded reason. */
#include "test_fallback_mock.h"

#define INIT "{\"C\":\"c1\",\"S\":1,\"M\":[]}"
#define PUSH(c, n) "{\"C\":\"" c "\",\"G\":\"g+1\",\"M\":[{\"H\":\"ResourceEventHub\",\"M\":\"Update\",\"A\":[\"k1\"," #n "]}]}"

struct lp_mode {
  int fail_poll;   /* the n-th poll (1-based) answers 500 */
  int shutdown_at; /* the n-th poll answers T:1 */
  int delay_ms;    /* L on the first poll's answer */
  bool not_json;   /* the first poll answers text */
};

static bool lp_script(struct mock_req *r) {
  struct mock *m = r->m;
  const struct lp_mode *mode = m->user;
  if (!r->poll && !r->reconnect) {
    mock_reply(r->fd, 200, "application/json; charset=UTF-8", INIT);
    return true;
  }
  if (r->reconnect) {
    mock_reply(r->fd, 200, "application/json; charset=UTF-8", PUSH("c9", 9)); /* the replay */
    return true;
  }
  int n = atomic_load(&m->lp_polls);
  if (mode && n == mode->fail_poll) {
    mock_reply(r->fd, 500, "text/plain", "poll failed");
    return true;
  }
  if (mode && mode->not_json && n == 1) {
    mock_reply(r->fd, 200, "text/html", "<html>proxy</html>");
    return true;
  }
  if (mode && n == mode->shutdown_at) {
    mock_reply(r->fd, 200, "application/json; charset=UTF-8", "{\"C\":\"c5\",\"T\":1,\"M\":[]}");
    return true;
  }
  if (n == 1) {
    /* held: keep-alive spaces first, then the message */
    mock_stream_head(r->fd, 200, "application/json; charset=UTF-8");
    mock_puts(r->fd, " ");
    mock_wait_flag(r, NULL, 30);
    mock_puts(r->fd, "  ");
    char body[256];
    if (mode && mode->delay_ms)
      snprintf(body, sizeof body, "{\"C\":\"c2\",\"L\":%d,\"G\":\"g+1\",\"M\":[{\"H\":\"ResourceEventHub\",\"M\":\"Update\","
               "\"A\":[\"k1\",1]}]}", mode->delay_ms);
    else
      snprintf(body, sizeof body, "%s", PUSH("c2", 1));
    mock_puts(r->fd, body);
    return false;
  }
  /* later polls: held until the client goes away */
  mock_stream_head(r->fd, 200, "application/json; charset=UTF-8");
  mock_puts(r->fd, " ");
  mock_hold(r);
  return false;
}

static void fx_lp(struct fx *f, struct lp_mode *mode) {
  fx_init(f, CH_TRANSPORT_LONGPOLLING, NULL, lp_script);
  f->m.user = mode;
}

static void test_lp_connects_polls_with_tokens_and_invokes(void) {
  struct fx f;
  fx_lp(&f, NULL);
  fx_start_invoke_receive(&f);
  /* the second poll echoes the cursor and groups token of the first answer, URL-encoded in the body */
  uint64_t end = ch_now_ns() + 5000000000ull;
  while (atomic_load(&f.m.lp_polls) < 2 && ch_now_ns() < end)
    obs_wait(&f.o, &f.o.closed, 1, 10);
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_polls), 2);
  uv_mutex_lock(&f.m.lock);
  CH_ASSERT_STR(f.m.last_poll_body, "messageId=c2&groupsToken=g%2B1");
  uv_mutex_unlock(&f.m.lock);
  fx_stop_ok(&f);
  CU_ASSERT_EQUAL(f.o.final_transport, CH_TRANSPORT_LONGPOLLING);
  CU_ASSERT_EQUAL(f.o.counters.hub_msgs_in, 1);
  CU_ASSERT(f.o.counters.keepalives_in >= 1); /* the spaces of the held poll */
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_connects), 1);
  CU_ASSERT_EQUAL(atomic_load(&f.m.aborts), 1);
  fx_finish(&f);
}

static void test_lp_honours_the_L_delay(void) {
  struct lp_mode mode = {.delay_ms = 300};
  struct fx f;
  fx_lp(&f, &mode);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.hub_msgs, 1, MOCK_WAIT_MS));
  /* The mock counts a poll before it stamps it: wait for the second stamp itself. */
  uint64_t end = ch_now_ns() + 5000000000ull, first = 0, second = 0;
  for (;;) {
    uv_mutex_lock(&f.m.lock);
    first = f.m.poll_ns[0];
    second = f.m.poll_ns[1];
    uv_mutex_unlock(&f.m.lock);
    if (second || ch_now_ns() >= end)
      break;
    obs_wait(&f.o, &f.o.closed, 1, 10);
  }
  CU_ASSERT(first != 0);
  CU_ASSERT(second != 0); /* the second poll came, and it waited L */
  CU_ASSERT(second > first && second - first >= 290000000ull);
  fx_stop_ok(&f);
  fx_finish(&f);
}

static void test_lp_failed_poll_reconnects_with_tokens_in_body(void) {
  struct lp_mode mode = {.fail_poll = 2};
  struct fx f;
  fx_lp(&f, &mode);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.reconnected, 1, MOCK_WAIT_MS));
  CU_ASSERT(obs_wait(&f.o, &f.o.hub_msgs, 2, MOCK_WAIT_MS));
  CH_ASSERT_STR(f.o.last_args, "[\"k1\",9]"); /* replayed by /reconnect */
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_reconnects), 1);
  CU_ASSERT_EQUAL(atomic_load(&f.m.negotiates), 1);
  fx_stop_ok(&f);
  CU_ASSERT_EQUAL(f.o.counters.reconnects, 1);
  fx_finish(&f);
}

static void test_lp_server_shutdown_T1_reconnects(void) {
  struct lp_mode mode = {.shutdown_at = 2};
  struct fx f;
  fx_lp(&f, &mode);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.reconnected, 1, MOCK_WAIT_MS));
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_reconnects), 1);
  uv_mutex_lock(&f.m.lock);
  /* the /reconnect body carries the cursor of the T:1 answer */
  CU_ASSERT_PTR_NOT_NULL(strstr(f.m.last_poll_body, "messageId=c5"));
  uv_mutex_unlock(&f.m.lock);
  fx_stop_ok(&f);
  fx_finish(&f);
}

static void test_lp_body_not_json_ends_the_client(void) {
  struct lp_mode mode = {.not_json = true};
  struct fx f;
  fx_lp(&f, &mode);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  fx_assert_fails(&f, CH_FAIL_BAD_MESSAGE);
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_reconnects), 0);
  fx_finish(&f);
}

static bool lp_refuse(struct mock_req *r) {
  mock_reply(r->fd, 403, "text/plain", "Forbidden");
  return true;
}

static void test_lp_refused_connect_fails_with_status(void) {
  struct fx f;
  fx_lp(&f, NULL);
  f.m.lp = lp_refuse;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  fx_assert_fails(&f, CH_FAIL_CONNECT);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.o.fail.message, "HTTP 403"));
  fx_finish(&f);
}

static void test_lp_engine_stop_with_a_held_poll_cancels_cleanly(void) {
  struct fx f;
  fx_lp(&f, NULL);
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.hub_msgs, 1, MOCK_WAIT_MS));
  ch_engine_stop(f.e); /* the client is still connected, its second poll held */
  CU_ASSERT_EQUAL(f.o.closed, 1);
  CU_ASSERT(f.o.failed);
  CU_ASSERT_EQUAL(f.o.fail.category, CH_FAIL_CANCELLED);
  fx_finish(&f);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_lp_connects_polls_with_tokens_and_invokes),
                         CH_TEST(test_lp_honours_the_L_delay),
                         CH_TEST(test_lp_failed_poll_reconnects_with_tokens_in_body),
                         CH_TEST(test_lp_server_shutdown_T1_reconnects),
                         CH_TEST(test_lp_body_not_json_ends_the_client),
                         CH_TEST(test_lp_refused_connect_fails_with_status),
                         CH_TEST(test_lp_engine_stop_with_a_held_poll_cancels_cleanly),
                         CU_TEST_INFO_NULL};
  return ch_test_run("fallback_lp", tests);
}
