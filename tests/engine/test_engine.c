/* Tests of the engine's pure parts and its worker plumbing: source-address lists, descriptor budget, protocol
   acceptance, option validation, task posting and shutdown. No network. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "ch_client.h"
#include "ch_clock.h"
#include "ch_engine.h"
#include "ch_limits.h"
#include "ch_test.h"

static void test_engine_source_addrs_ranges_and_lists(void) {
  char **a = NULL;
  size_t n = 0;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_source_addrs_parse("127.0.0.2-127.0.0.40", &a, &n, &err), 0);
  CU_ASSERT_EQUAL(n, 39);
  CH_ASSERT_STR(a[0], "127.0.0.2");
  CH_ASSERT_STR(a[38], "127.0.0.40");
  ch_source_addrs_free(a, n);
  CU_ASSERT_EQUAL_FATAL(ch_source_addrs_parse("10.0.0.255-10.0.1.1,::1,192.168.1.7", &a, &n, &err), 0);
  CU_ASSERT_EQUAL(n, 5);
  CH_ASSERT_STR(a[0], "10.0.0.255");
  CH_ASSERT_STR(a[1], "10.0.1.0");
  CH_ASSERT_STR(a[2], "10.0.1.1");
  CH_ASSERT_STR(a[3], "::1");
  CH_ASSERT_STR(a[4], "192.168.1.7");
  ch_source_addrs_free(a, n);
  /* errors name the bad element */
  CU_ASSERT_EQUAL(ch_source_addrs_parse("127.0.0.9-127.0.0.2", &a, &n, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "127.0.0.9-127.0.0.2"));
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_source_addrs_parse("127.0.0.1,localhost", &a, &n, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "localhost"));
  CU_ASSERT_PTR_NULL(a);
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_source_addrs_parse("10.0.0.0-10.1.0.0", &a, &n, &err), -EINVAL);
  CU_ASSERT_EQUAL(ch_source_addrs_parse("", &a, &n, &err), -EINVAL);
  CU_ASSERT_EQUAL(ch_source_addrs_parse("1.2.3.4,,1.2.3.5", &a, &n, &err), -EINVAL);
  ch_buf_free(&err);
}

static void test_engine_limits_math_and_message(void) {
  CU_ASSERT_EQUAL(ch_limits_fds_per_client(CH_TRANSPORT_WEBSOCKETS), 1);
  CU_ASSERT_EQUAL(ch_limits_fds_per_client(CH_TRANSPORT_SSE), 1);
  CU_ASSERT_EQUAL(ch_limits_fds_per_client(CH_TRANSPORT_LONGPOLLING), 1);
  size_t ws = ch_limits_fds_needed(19000, CH_TRANSPORT_WEBSOCKETS, 2, 64);
  CU_ASSERT_TRUE(ws > 19000 && ws <= 20000); /* the performance goal must fit the machine's 20,000 */
  /* SSE and long polling also budget the /send requests in flight per worker; 10,000 of them fit (issue goal) */
  size_t sse = ch_limits_fds_needed(10000, CH_TRANSPORT_SSE, 2, 64);
  CU_ASSERT_EQUAL(sse, ch_limits_fds_needed(10000, CH_TRANSPORT_WEBSOCKETS, 2, 64) + 2 * (256 - 128)); /* WS: aborts */
  CU_ASSERT_TRUE(sse <= 20000);
  CU_ASSERT_TRUE(ch_limits_fds_needed(19800, CH_TRANSPORT_LONGPOLLING, 2, 64) > 20000);
  struct ch_buf msg = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_limits_check(19500, 1024, 20000, &msg), 0);
  CU_ASSERT_EQUAL(ch_limits_check(38264, 1024, 20000, &msg), -EMFILE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg.data, "38264"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg.data, "20000"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg.data, "ulimit -n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg.data, "--processes 3"));
  ch_buf_reset(&msg);
  /* prepare raises the soft limit to the hard one */
  struct rlimit rl;
  CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &rl), 0);
  CU_ASSERT_EQUAL(ch_limits_prepare(100, &msg), 0);
  struct rlimit after;
  getrlimit(RLIMIT_NOFILE, &after);
  CU_ASSERT_EQUAL(after.rlim_cur, rl.rlim_max);
  if (rl.rlim_max != RLIM_INFINITY) {
    CU_ASSERT_EQUAL(ch_limits_prepare((size_t)rl.rlim_max + 1, &msg), -EMFILE);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg.data, "ulimit -n"));
  }
  ch_buf_free(&msg);
}

static void test_engine_protocol_acceptance_as_official_clients(void) {
  CU_ASSERT_TRUE(ch_client_protocol_acceptable("2.0"));
  CU_ASSERT_TRUE(ch_client_protocol_acceptable("1.5"));
  CU_ASSERT_TRUE(ch_client_protocol_acceptable("2.1")); /* JS accepts it exactly */
  CU_ASSERT_TRUE(ch_client_protocol_acceptable("1.4"));
  CU_ASSERT_TRUE(ch_client_protocol_acceptable("1.5.0"));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable("1.3"));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable("1.2"));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable("2.2"));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable("2"));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable("2.0 "));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable("v2.0"));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable(""));
  CU_ASSERT_FALSE(ch_client_protocol_acceptable("2.0.0.0.0"));
}

static void test_engine_names_are_stable(void) {
  CH_ASSERT_STR(ch_failure_name(CH_FAIL_INIT_TIMEOUT), "init_timeout");
  CH_ASSERT_STR(ch_failure_name(CH_FAIL_WS_PROTOCOL), "ws_protocol");
  CH_ASSERT_STR(ch_failure_name(CH_FAIL_CANCELLED), "cancelled");
  CH_ASSERT_STR(ch_client_state_name(CH_CLIENT_CONNECTED), "connected");
  CH_ASSERT_STR(ch_client_state_name(CH_CLIENT_CLOSED), "closed");
  CH_ASSERT_STR(ch_client_event_name(CH_EVENT_KEEPALIVE_LOST), "keepalive_lost");
  CH_ASSERT_STR(ch_trace_channel_name(CH_TRACE_TRANSPORT), "transport");
  CH_ASSERT_STR(ch_failure_name((enum ch_failure_category)99), "unknown");
}

static void test_engine_options_validated_before_start(void) {
  struct ch_engine *e = NULL;
  struct ch_buf err = CH_BUF_INIT;
  struct ch_engine_opts o = {.workers = 1000};
  CU_ASSERT_EQUAL(ch_engine_new(&o, &e, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "--workers"));
  ch_buf_reset(&err);
  const char *bad[] = {"127.0.0.1", "nope"};
  o = (struct ch_engine_opts){.workers = 1, .source_addrs = bad, .source_addr_count = 2};
  CU_ASSERT_EQUAL(ch_engine_new(&o, &e, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "nope"));
  CU_ASSERT_PTR_NULL(e);
  ch_buf_free(&err);
}

/* ---------------------------------------------------------------- worker plumbing */

struct post_state {
  uv_mutex_t lock;
  uv_cond_t cond;
  int seen[16];
  int n;
  unsigned worker_index[16];
  int client_rc[8];
  bool done;
};

static void record_task(struct ch_worker *w, void *arg) {
  struct post_state *ps = arg;
  uv_mutex_lock(&ps->lock);
  if (ps->n < 16)
    ps->worker_index[ps->n++] = ch_worker_index(w);
  uv_cond_signal(&ps->cond);
  uv_mutex_unlock(&ps->lock);
}

static void on_state_noop(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f, void *u) {
  (void)c, (void)s, (void)f, (void)u;
}

static void client_validation_task(struct ch_worker *w, void *arg) {
  struct post_state *ps = arg;
  struct ch_url url;
  ch_url_parse("http://127.0.0.1:9/Centro", &url, NULL);
  const char *hubs[] = {"ResourceEventHub", "JobEventHub"};
  struct ch_client_opts o = {.target = &url, .hubs = hubs, .hub_count = 2, .on_state = on_state_noop};
  struct ch_client *c = NULL;
  o.transport = (enum ch_transport)42;
  ps->client_rc[0] = ch_client_new(w, &o, &c); /* no such transport */
  o.transport = CH_TRANSPORT_WEBSOCKETS;
  o.client_protocol = "1.3";
  ps->client_rc[1] = ch_client_new(w, &o, &c);
  o.client_protocol = "1.4";
  o.auth = CH_AUTH_HEADER;
  ps->client_rc[2] = ch_client_new(w, &o, &c); /* header mode without a value */
  o.auth_value = "Bearer a\r\nX-Injected: 1";
  ps->client_rc[3] = ch_client_new(w, &o, &c);
  o.auth_value = "Bearer abc";
  ps->client_rc[4] = ch_client_new(w, &o, &c);
  if (ps->client_rc[4] == 0) {
    ps->client_rc[5] = ch_client_state(c) == CH_CLIENT_NEW ? 0 : -1;
    ps->client_rc[6] = ch_client_invoke(c, "ResourceEventHub", "SubscribeToPart", "[\"1\"]", NULL, NULL, NULL);
    ch_client_stop(c); /* a NEW client closes at once */
    ps->client_rc[7] = ch_client_state(c) == CH_CLIENT_CLOSED ? 0 : -1;
    ch_client_free(c);
  }
  ch_url_free(&url);
  record_task(w, arg);
}

static bool wait_n(struct post_state *ps, int n) {
  uint64_t deadline = ch_now_ns() + 5000000000ull;
  uv_mutex_lock(&ps->lock);
  while (ps->n < n && ch_now_ns() < deadline)
    uv_cond_timedwait(&ps->cond, &ps->lock, 100000000ull);
  bool ok = ps->n >= n;
  uv_mutex_unlock(&ps->lock);
  return ok;
}

static void test_engine_post_runs_on_the_chosen_worker_in_order(void) {
  struct ch_engine *e = NULL;
  struct ch_engine_opts o = {.workers = 2};
  CU_ASSERT_EQUAL_FATAL(ch_engine_new(&o, &e, NULL), 0);
  CU_ASSERT_EQUAL(ch_engine_worker_count(e), 2);
  CU_ASSERT_EQUAL(ch_engine_post(e, 0, record_task, NULL), -ESHUTDOWN); /* not started */
  CU_ASSERT_EQUAL_FATAL(ch_engine_start(e, NULL), 0);
  struct post_state ps;
  memset(&ps, 0, sizeof ps);
  uv_mutex_init(&ps.lock);
  uv_cond_init(&ps.cond);
  CU_ASSERT_EQUAL(ch_engine_post(e, 1, record_task, &ps), 0);
  CU_ASSERT_EQUAL_FATAL(wait_n(&ps, 1), true);
  CU_ASSERT_EQUAL(ch_engine_post(e, 0, record_task, &ps), 0);
  CU_ASSERT_EQUAL_FATAL(wait_n(&ps, 2), true);
  CU_ASSERT_EQUAL(ps.worker_index[0], 1);
  CU_ASSERT_EQUAL(ps.worker_index[1], 0);
  CU_ASSERT_EQUAL(ch_engine_post(e, 2, record_task, &ps), -EINVAL);
  CU_ASSERT_EQUAL(ch_engine_post(e, 0, client_validation_task, &ps), 0);
  CU_ASSERT_EQUAL_FATAL(wait_n(&ps, 3), true);
  CU_ASSERT_EQUAL(ps.client_rc[0], -ENOTSUP);
  CU_ASSERT_EQUAL(ps.client_rc[1], -EINVAL);
  CU_ASSERT_EQUAL(ps.client_rc[2], -EINVAL);
  CU_ASSERT_EQUAL(ps.client_rc[3], -EINVAL);
  CU_ASSERT_EQUAL(ps.client_rc[4], 0);
  CU_ASSERT_EQUAL(ps.client_rc[5], 0);
  CU_ASSERT_EQUAL(ps.client_rc[6], -ENOTCONN);
  CU_ASSERT_EQUAL(ps.client_rc[7], 0);
  ch_engine_stop(e);
  CU_ASSERT_EQUAL(ch_engine_post(e, 0, record_task, &ps), -ESHUTDOWN);
  ch_engine_stop(e); /* idempotent */
  ch_engine_free(e);
  uv_mutex_destroy(&ps.lock);
  uv_cond_destroy(&ps.cond);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_engine_source_addrs_ranges_and_lists),
                         CH_TEST(test_engine_limits_math_and_message),
                         CH_TEST(test_engine_protocol_acceptance_as_official_clients),
                         CH_TEST(test_engine_names_are_stable),
                         CH_TEST(test_engine_options_validated_before_start),
                         CH_TEST(test_engine_post_runs_on_the_chosen_worker_in_order),
                         CU_TEST_INFO_NULL};
  return ch_test_run("engine", tests);
}
