/* Every transport against the reference endpoint (ch_server.h), on loopback:
   - a mixed population (webSockets, serverSentEvents, longPolling and auto) subscribes, receives published Updates,
     loses its transports (control POST /drop), reconnects with messageId/groupsToken without negotiating again,
     gets the Updates published while it was away replayed, and keeps its subscription (later Updates arrive);
   - an endpoint that refuses WebSockets: every auto client lands on a fallback, a webSockets-only client fails with
     the negotiate reason, and everybody on a fallback still receives. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ch_client.h"
#include "ch_clock.h"
#include "ch_control.h"
#include "ch_engine.h"
#include "ch_server.h"
#include "ch_test.h"

#define WAIT_MS 10000
#define MAX_CL 8

struct cl {
  struct world *w;
  struct ch_client *c;
  enum ch_transport transport;
  bool auto_transport;
  int connected, subscribed, msgs, reconnected, closed, groups;
  bool failed;
  struct ch_client_failure fail;
  enum ch_transport final;
  struct ch_client_counters counters;
};

struct world {
  uv_mutex_t lock;
  uv_cond_t cond;
  struct ch_server *srv;
  struct ch_engine *e;
  struct ch_url url;
  struct cl cls[MAX_CL];
  int n;
};

static void on_done(struct ch_client *c, const struct ch_completion *r, void *arg) {
  (void)c;
  struct cl *k = arg;
  uv_mutex_lock(&k->w->lock);
  if (r->status == 0 && !r->error)
    k->subscribed++;
  uv_cond_broadcast(&k->w->cond);
  uv_mutex_unlock(&k->w->lock);
}

static void on_state(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f, void *user) {
  struct cl *k = user;
  if (s == CH_CLIENT_CONNECTED && k->connected == 0)
    ch_client_invoke(c, "ResourceEventHub", "SubscribeToPart", "[\"k1\"]", on_done, k, NULL);
  uv_mutex_lock(&k->w->lock);
  if (s == CH_CLIENT_CONNECTED)
    k->connected++;
  if (s == CH_CLIENT_CLOSED) {
    k->closed++;
    k->failed = f != NULL;
    if (f)
      k->fail = *f;
    k->final = ch_client_transport(c);
    k->counters = *ch_client_counters(c);
    k->c = NULL;
  }
  uv_cond_broadcast(&k->w->cond);
  uv_mutex_unlock(&k->w->lock);
  if (s == CH_CLIENT_CLOSED)
    ch_client_free(c);
}

static void on_message(struct ch_client *c, const struct ch_hub_msg *m, int hub, uint64_t ns, void *user) {
  (void)c, (void)hub, (void)ns;
  struct cl *k = user;
  if (!ch_hub_msg_is(m, "ResourceEventHub", "Update"))
    return;
  uv_mutex_lock(&k->w->lock);
  k->msgs++;
  uv_cond_broadcast(&k->w->cond);
  uv_mutex_unlock(&k->w->lock);
}

static void on_event(struct ch_client *c, enum ch_client_event e, void *user) {
  (void)c;
  struct cl *k = user;
  uv_mutex_lock(&k->w->lock);
  if (e == CH_EVENT_RECONNECTED)
    k->reconnected++;
  if (e == CH_EVENT_GROUPS_TOKEN)
    k->groups++;
  uv_cond_broadcast(&k->w->cond);
  uv_mutex_unlock(&k->w->lock);
}

/* FB_TRACE=1 prints the transcript of long-polling clients (debugging aid). */
static void on_trace(struct ch_client *c, enum ch_trace_dir dir, enum ch_trace_channel ch, const char *p, size_t n,
                     void *user) {
  (void)user;
  if (ch_client_transport(c) == CH_TRANSPORT_LONGPOLLING)
    fprintf(stderr, "[%.3f] %s %s %.*s\n", (double)(ch_now_ns() % 100000000000ull) / 1e9,
            dir == CH_TRACE_OUT ? ">>" : "<<", ch_trace_channel_name(ch), (int)n, p);
}

static void create_task(struct ch_worker *wk, void *arg) {
  struct world *w = arg;
  const char *hubs[] = {"ResourceEventHub"};
  for (int i = 0; i < w->n; i++) {
    struct cl *k = &w->cls[i];
    k->w = w;
    struct ch_client_opts o = {.target = &w->url,
                               .hubs = hubs,
                               .hub_count = 1,
                               .transport = k->transport,
                               .auto_transport = k->auto_transport,
                               .reconnect_delay_ms = 300,
                               .on_state = on_state,
                               .on_message = on_message,
                               .on_event = on_event,
                               .on_trace = getenv("FB_TRACE") ? on_trace : NULL,
                               .user = k};
    if (ch_client_new(wk, &o, &k->c) == 0 && ch_client_start(k->c) != 0)
      k->c = NULL;
  }
}

static void stop_task(struct ch_worker *wk, void *arg) {
  (void)wk;
  struct world *w = arg;
  for (int i = 0; i < w->n; i++)
    if (w->cls[i].c)
      ch_client_stop(w->cls[i].c);
}

/* Waits (bounded) until the int at `off` in every client selected by mask is >= n. */
static bool wait_all(struct world *w, size_t off, int n, unsigned mask) {
  uint64_t end = ch_now_ns() + (uint64_t)WAIT_MS * 1000000u;
  uv_mutex_lock(&w->lock);
  bool ok = false;
  while (!ok && ch_now_ns() < end) {
    ok = true;
    for (int i = 0; i < w->n; i++)
      if ((mask >> i) & 1u)
        ok = ok && *(int *)(void *)((char *)&w->cls[i] + off) >= n;
    if (!ok)
      uv_cond_timedwait(&w->cond, &w->lock, 20000000u);
  }
  uv_mutex_unlock(&w->lock);
  return ok;
}
#define WAIT_ALL(w, field, n, mask) wait_all((w), offsetof(struct cl, field), (n), (mask))

static long control_post(struct ch_server *s, const char *path, const char *body) {
  return ch_control(ch_server_control_port(s), path, body, NULL, 5000);
}

/* POST /publish: `count` Updates to the part key k1. */
static long publish(struct world *w, int count) {
  char body[96];
  snprintf(body, sizeof body, "{\"hub\":\"ResourceEventHub\",\"key\":\"k1\",\"count\":%d}", count);
  return control_post(w->srv, "/publish", body);
}

/* Waits (bounded) until the server holds `want` live transports (a long-polling client between two polls has
   none, and /drop would then miss it). */
static bool wait_live(struct ch_server *s, int want) {
  uint64_t end = ch_now_ns() + (uint64_t)WAIT_MS * 1000000u;
  bool ok = false;
  while (!ok && ch_now_ns() < end) {
    ok = ch_control_live(ch_server_control_port(s), 5000) == want;
    if (!ok)
      uv_sleep(5); /* polling an observable state, bounded */
  }
  return ok;
}

/* Long polling rebuilds groups from the groupsToken of every poll (protocol §4.3): a poll sent before the
   subscription's G arrived wipes the group until the next poll, as on a real server. So this publishes `count`
   Updates only once every client in mask holds its G and the server `live` transports, then waits until every
   client in mask has received `count` in all. */
static void publish_when_ready(struct world *w, unsigned mask, int live, int count) {
  CU_ASSERT(WAIT_ALL(w, groups, 1, mask));
  CU_ASSERT(wait_live(w->srv, live));
  CU_ASSERT_EQUAL(publish(w, count), 200);
  CU_ASSERT(WAIT_ALL(w, msgs, count, mask));
}

#define AUTO (-1)

/* Starts the endpoint and a one-worker engine with one client per entry of `who`: a transport, or AUTO. */
static bool world_start(struct world *w, bool no_websockets, const int *who, int n) {
  memset(w, 0, sizeof *w);
  w->n = n;
  for (int i = 0; i < n; i++) {
    w->cls[i].auto_transport = who[i] == AUTO;
    w->cls[i].transport = who[i] == AUTO ? CH_TRANSPORT_WEBSOCKETS : (enum ch_transport)who[i];
  }
  uv_mutex_init(&w->lock);
  uv_cond_init(&w->cond);
  struct ch_server_opts so = {.port = 0, .control_port = 0, .quiet = true, .no_websockets = no_websockets};
  if (ch_server_new(&so, &w->srv) != 0 || ch_server_start(w->srv) != 0)
    return false;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", ch_server_port(w->srv));
  if (ch_url_parse(url, &w->url, NULL) != 0)
    return false;
  struct ch_engine_opts eo = {.workers = 1};
  if (ch_engine_new(&eo, &w->e, NULL) != 0 || ch_engine_start(w->e, NULL) != 0)
    return false;
  return ch_engine_post(w->e, 0, create_task, w) == 0;
}

static void world_finish(struct world *w) {
  if (w->e) {
    ch_engine_post(w->e, 0, stop_task, w);
    WAIT_ALL(w, closed, 1, (1u << w->n) - 1);
    ch_engine_stop(w->e);
    ch_engine_free(w->e);
  }
  ch_server_free(w->srv);
  ch_url_free(&w->url);
  uv_cond_destroy(&w->cond);
  uv_mutex_destroy(&w->lock);
}

static void test_fallback_server_mixed_population_reconnects_with_replay(void) {
  struct world w;
  static const int who[] = {CH_TRANSPORT_WEBSOCKETS, CH_TRANSPORT_SSE, CH_TRANSPORT_LONGPOLLING, AUTO};
  unsigned all = 0xF;
  CU_ASSERT_FATAL(world_start(&w, false, who, 4));
  CU_ASSERT_FATAL(WAIT_ALL(&w, subscribed, 1, all));
  publish_when_ready(&w, all, 4, 5);
  CU_ASSERT(wait_live(w.srv, 4));
  /* every transport is lost; Updates published before the clients are back must be replayed on /reconnect */
  CU_ASSERT_EQUAL(control_post(w.srv, "/drop", "{}"), 200);
  CU_ASSERT_EQUAL(publish(&w, 3), 200);
  CU_ASSERT(WAIT_ALL(&w, reconnected, 1, all));
  CU_ASSERT(WAIT_ALL(&w, msgs, 8, all));
  /* the subscription survived the reconnect */
  CU_ASSERT_EQUAL(publish(&w, 2), 200);
  CU_ASSERT(WAIT_ALL(&w, msgs, 10, all));
  world_finish(&w);
  for (int i = 0; i < w.n; i++) {
    CU_ASSERT_EQUAL(w.cls[i].msgs, 10); /* no loss, no duplicate */
    if (w.cls[i].msgs != 10)
      fprintf(stderr, "client %d (%s): %d Updates, failure %s\n", i, ch_transport_name(w.cls[i].final),
              w.cls[i].msgs, w.cls[i].failed ? w.cls[i].fail.message : "none");
    CU_ASSERT_FALSE(w.cls[i].failed);
    CU_ASSERT(w.cls[i].counters.reconnects >= 1);
    if (w.cls[i].counters.reconnects < 1)
      fprintf(stderr, "client %d (%s): no reconnect\n", i, ch_transport_name(w.cls[i].final));
  }
  CU_ASSERT_EQUAL(w.cls[1].final, CH_TRANSPORT_SSE);
  CU_ASSERT_EQUAL(w.cls[2].final, CH_TRANSPORT_LONGPOLLING);
  CU_ASSERT_EQUAL(w.cls[3].final, CH_TRANSPORT_WEBSOCKETS);
  CU_ASSERT_EQUAL(w.cls[3].counters.transport_fallbacks, 0);
}

static void test_fallback_server_refusing_websockets_lands_on_fallbacks(void) {
  struct world w;
  static const int who[] = {AUTO, AUTO, AUTO, CH_TRANSPORT_LONGPOLLING, CH_TRANSPORT_WEBSOCKETS};
  unsigned fb = 0xF; /* all but the webSockets-only client */
  CU_ASSERT_FATAL(world_start(&w, true, who, 5));
  CU_ASSERT_FATAL(WAIT_ALL(&w, subscribed, 1, fb));
  CU_ASSERT(WAIT_ALL(&w, closed, 1, 1u << 4));
  publish_when_ready(&w, fb, 4, 4);
  world_finish(&w);
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_EQUAL(w.cls[i].final, CH_TRANSPORT_SSE);
    CU_ASSERT_EQUAL(w.cls[i].counters.transport_fallbacks, 1);
    CU_ASSERT_FALSE(w.cls[i].failed);
    CU_ASSERT_EQUAL(w.cls[i].msgs, 4);
  }
  CU_ASSERT_EQUAL(w.cls[3].msgs, 4);
  CU_ASSERT(w.cls[4].failed);
  CU_ASSERT_EQUAL(w.cls[4].fail.category, CH_FAIL_NEGOTIATE);
  CU_ASSERT_PTR_NOT_NULL(strstr(w.cls[4].fail.message, "TryWebSockets"));
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CU_TestInfo tests[] = {CH_TEST(test_fallback_server_mixed_population_reconnects_with_replay),
                         CH_TEST(test_fallback_server_refusing_websockets_lands_on_fallbacks), CU_TEST_INFO_NULL};
  int rc = ch_test_run("fallback_server", tests);
  curl_global_cleanup();
  return rc;
}
