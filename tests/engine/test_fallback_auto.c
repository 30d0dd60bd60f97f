/* Automatic transport selection (auto_transport) as the official clients do it: webSockets, then serverSentEvents,
   then longPolling (from the transport given), with one negotiation. TryWebSockets false skips webSockets; a refused upgrade, a refused or
   broken event stream, or an init that misses TransportConnectTimeout moves on to the next transport; the transport
   in use and the number of fallbacks are recorded. */
#include "test_fallback_mock.h"

static bool sse_ok(struct mock_req *r) {
  mock_sse_open(r);
  mock_hold(r);
  return false;
}

/* "initialized" but never the init message */
static bool sse_silent(struct mock_req *r) {
  mock_stream_head(r->fd, 200, "text/event-stream");
  mock_puts(r->fd, "data: initialized\n\n");
  mock_hold(r);
  return false;
}

static bool lp_ok(struct mock_req *r) {
  if (!r->poll && !r->reconnect) {
    mock_reply(r->fd, 200, "application/json; charset=UTF-8", "{\"C\":\"c1\",\"S\":1,\"M\":[]}");
    return true;
  }
  mock_stream_head(r->fd, 200, "application/json; charset=UTF-8");
  mock_hold(r);
  return false;
}

/* One auto client starting at `start` (0: webSockets), and where it must land: transport, fallbacks and the
   connects the endpoint counted per transport. */
struct auto_case {
  enum ch_transport start;
  bool try_ws;
  mock_script sse, lp;
  double tct; /* TransportConnectTimeout, 0 = 5 s */
  enum ch_transport want;
  uint32_t fallbacks;
  int ws, sse_n, lp_n;
};

static void run_auto(struct auto_case k) {
  struct fx f;
  fx_init(&f, k.start, k.sse, k.lp);
  f.m.try_websockets = k.try_ws;
  f.m.transport_connect_timeout = k.tct;
  f.o.auto_transport = true;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.connected, 1, MOCK_WAIT_MS));
  fx_stop_ok(&f);
  CU_ASSERT_EQUAL(f.o.final_transport, k.want);
  CU_ASSERT_EQUAL(f.o.counters.transport_fallbacks, k.fallbacks);
  CU_ASSERT_EQUAL(atomic_load(&f.m.negotiates), 1);
  CU_ASSERT_EQUAL(atomic_load(&f.m.ws_connects), k.ws);
  CU_ASSERT_EQUAL(atomic_load(&f.m.sse_connects), k.sse_n);
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_connects), k.lp_n);
  fx_finish(&f);
}

static void test_auto_skips_websockets_when_negotiate_says_so(void) {
  run_auto((struct auto_case){.sse = sse_ok, .lp = lp_ok, .want = CH_TRANSPORT_SSE, .fallbacks = 1, .sse_n = 1});
}

static void test_auto_refused_upgrade_falls_back_to_sse(void) {
  run_auto((struct auto_case){
      .try_ws = true, .sse = sse_ok, .lp = lp_ok, .want = CH_TRANSPORT_SSE, .fallbacks = 1, .ws = 1, .sse_n = 1});
}

static void test_auto_refused_upgrade_and_stream_land_on_long_polling(void) {
  run_auto((struct auto_case){
      .try_ws = true, .lp = lp_ok, .want = CH_TRANSPORT_LONGPOLLING, .fallbacks = 2, .ws = 1, .sse_n = 1, .lp_n = 1});
}

static void test_auto_init_timeout_falls_back(void) {
  run_auto((struct auto_case){.sse = sse_silent,
                              .lp = lp_ok,
                              .tct = 0.3,
                              .want = CH_TRANSPORT_LONGPOLLING,
                              .fallbacks = 2,
                              .sse_n = 1,
                              .lp_n = 1});
}

/* SSE refused (404): lands on long polling without an upgrade attempt although TryWebSockets is true */
static void test_auto_starting_at_sse_never_tries_websockets(void) {
  run_auto((struct auto_case){.start = CH_TRANSPORT_SSE,
                              .try_ws = true,
                              .lp = lp_ok,
                              .want = CH_TRANSPORT_LONGPOLLING,
                              .fallbacks = 1,
                              .sse_n = 1,
                              .lp_n = 1});
}

static void test_auto_last_transport_failing_ends_the_client(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_WEBSOCKETS, NULL, NULL);
  f.o.auto_transport = true;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  fx_assert_fails(&f, CH_FAIL_CONNECT);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.o.fail.message, "HTTP 404"));
  CU_ASSERT_EQUAL(f.o.final_transport, CH_TRANSPORT_LONGPOLLING);
  fx_finish(&f);
}

static void test_fixed_transport_does_not_fall_back(void) {
  struct fx f;
  fx_init(&f, CH_TRANSPORT_SSE, NULL, lp_ok); /* the mock refuses SSE */
  CU_ASSERT_FATAL(fx_start(&f, 0));
  fx_assert_fails(&f, CH_FAIL_CONNECT);
  CU_ASSERT_EQUAL(f.o.final_transport, CH_TRANSPORT_SSE);
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_connects), 0);
  fx_finish(&f);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_auto_skips_websockets_when_negotiate_says_so),
                         CH_TEST(test_auto_refused_upgrade_falls_back_to_sse),
                         CH_TEST(test_auto_refused_upgrade_and_stream_land_on_long_polling),
                         CH_TEST(test_auto_init_timeout_falls_back),
                         CH_TEST(test_auto_last_transport_failing_ends_the_client),
                         CH_TEST(test_auto_starting_at_sse_never_tries_websockets),
                         CH_TEST(test_fixed_transport_does_not_fall_back),
                         CU_TEST_INFO_NULL};
  return ch_test_run("fallback_auto", tests);
}
