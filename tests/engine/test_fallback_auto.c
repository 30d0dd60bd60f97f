/* Automatic transport selection (auto_transport) as the official clients do it: webSockets, then serverSentEvents,
   then longPolling (from the transport given), with one negotiation. TryWebSockets false skips webSockets; a refused upgrade, a refused or
   broken event stream, or an init that misses TransportConnectTimeout moves on to the next transport; the transport
   in use and the number of fallbacks are recorded. */
#include "test_fallback_mock.h"

static bool sse_ok(struct mock_req *r) {
  mock_stream_head(r->fd, 200, "text/event-stream");
  mock_puts(r->fd, "data: initialized\n\ndata: {\"C\":\"c1\",\"S\":1,\"M\":[]}\n\n");
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

static void run_auto(bool try_ws, mock_script sse, mock_script lp, double tct, enum ch_transport want,
                     uint32_t want_fallbacks, int want_ws, int want_sse, int want_lp) {
  struct fx f;
  memset(&f, 0, sizeof f);
  f.m.try_websockets = try_ws;
  f.m.transport_connect_timeout = tct;
  f.m.sse = sse;
  f.m.lp = lp;
  f.o.auto_transport = true;
  f.o.transport = CH_TRANSPORT_WEBSOCKETS;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.connected, 1, MOCK_WAIT_MS));
  fx_stop_client(&f);
  CU_ASSERT_FALSE(f.o.failed);
  CU_ASSERT_EQUAL(f.o.final_transport, want);
  CU_ASSERT_EQUAL(f.o.counters.transport_fallbacks, want_fallbacks);
  CU_ASSERT_EQUAL(atomic_load(&f.m.negotiates), 1);
  CU_ASSERT_EQUAL(atomic_load(&f.m.ws_connects), want_ws);
  CU_ASSERT_EQUAL(atomic_load(&f.m.sse_connects), want_sse);
  CU_ASSERT_EQUAL(atomic_load(&f.m.lp_connects), want_lp);
  fx_finish(&f);
}

static void test_auto_skips_websockets_when_negotiate_says_so(void) {
  run_auto(false, sse_ok, lp_ok, 0, CH_TRANSPORT_SSE, 1, 0, 1, 0);
}

static void test_auto_refused_upgrade_falls_back_to_sse(void) {
  run_auto(true, sse_ok, lp_ok, 0, CH_TRANSPORT_SSE, 1, 1, 1, 0);
}

static void test_auto_refused_upgrade_and_stream_land_on_long_polling(void) {
  run_auto(true, NULL, lp_ok, 0, CH_TRANSPORT_LONGPOLLING, 2, 1, 1, 1);
}

static void test_auto_init_timeout_falls_back(void) {
  run_auto(false, sse_silent, lp_ok, 0.3, CH_TRANSPORT_LONGPOLLING, 2, 0, 1, 1);
}

static void test_auto_last_transport_failing_ends_the_client(void) {
  struct fx f;
  memset(&f, 0, sizeof f);
  f.m.try_websockets = false;
  f.o.auto_transport = true;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.closed, 1, MOCK_WAIT_MS));
  CU_ASSERT(f.o.failed);
  CU_ASSERT_EQUAL(f.o.fail.category, CH_FAIL_CONNECT);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.o.fail.message, "HTTP 404"));
  CU_ASSERT_EQUAL(f.o.final_transport, CH_TRANSPORT_LONGPOLLING);
  fx_finish(&f);
}

static void test_auto_starting_at_sse_never_tries_websockets(void) {
  struct fx f;
  memset(&f, 0, sizeof f);
  f.m.try_websockets = true;
  f.m.lp = lp_ok; /* SSE refused (404) */
  f.o.auto_transport = true;
  f.o.transport = CH_TRANSPORT_SSE;
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.connected, 1, MOCK_WAIT_MS));
  fx_stop_client(&f);
  CU_ASSERT_FALSE(f.o.failed);
  CU_ASSERT_EQUAL(f.o.final_transport, CH_TRANSPORT_LONGPOLLING);
  CU_ASSERT_EQUAL(f.o.counters.transport_fallbacks, 1);
  CU_ASSERT_EQUAL(atomic_load(&f.m.ws_connects), 0);
  fx_finish(&f);
}

static void test_fixed_transport_does_not_fall_back(void) {
  struct fx f;
  memset(&f, 0, sizeof f);
  f.m.try_websockets = false;
  f.m.lp = lp_ok;
  f.o.transport = CH_TRANSPORT_SSE; /* the mock refuses SSE */
  CU_ASSERT_FATAL(fx_start(&f, 0));
  CU_ASSERT(obs_wait(&f.o, &f.o.closed, 1, MOCK_WAIT_MS));
  CU_ASSERT(f.o.failed);
  CU_ASSERT_EQUAL(f.o.fail.category, CH_FAIL_CONNECT);
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
