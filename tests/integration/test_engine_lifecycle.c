/* Full life cycle against the reference server started in-process on loopback: 200 WebSocket hub clients on 2
   workers (half with an Authorization header, half with the access_token query), subscribe, receive pushed Updates,
   survive a server-side drop of every socket (reconnect with messageId and groupsToken, groups kept), unsubscribe,
   stop (close + abort). Synchronisation only on events, with bounded deadlines. */
#include <curl/curl.h>
#include <errno.h>
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

#define N_CLIENTS 200
#define N_KEYS 4
#define TOKEN "tok-A-9f3b"

struct cl {
  struct ch_client *c;
  struct lc *lc;
  int index;
  int updates;
  bool subscribed, unsubscribed, closed_ok, token_leak;
  uint64_t last_seq;
  bool order_ok;
};

struct lc {
  uv_mutex_t lock;
  uv_cond_t cond;
  struct ch_url url;
  struct cl cls[N_CLIENTS];
  int subscribed, unsubscribed, closed, closed_ok, updates, reconnected, connected;
  int failures;
  char first_failure[256];
};

static void lc_bump(struct lc *lc, int *counter) {
  uv_mutex_lock(&lc->lock);
  (*counter)++;
  uv_cond_broadcast(&lc->cond);
  uv_mutex_unlock(&lc->lock);
}

static bool lc_wait(struct lc *lc, int *counter, int want, double seconds) {
  uint64_t deadline = ch_now_ns() + (uint64_t)(seconds * 1e9);
  uv_mutex_lock(&lc->lock);
  while (*counter < want && ch_now_ns() < deadline)
    uv_cond_timedwait(&lc->cond, &lc->lock, 100000000ull);
  bool ok = *counter >= want;
  uv_mutex_unlock(&lc->lock);
  if (!ok)
    fprintf(stderr, "\nwait: %d of %d (first failure: %s)\n", *counter, want, lc->first_failure);
  return ok;
}

static void on_sub_done(struct ch_client *c, const struct ch_completion *r, void *arg) {
  (void)c;
  struct cl *x = arg;
  if (r->status == 0 && !r->error && !x->subscribed) {
    x->subscribed = true;
    lc_bump(x->lc, &x->lc->subscribed);
  }
}

static void on_unsub_done(struct ch_client *c, const struct ch_completion *r, void *arg) {
  (void)c;
  struct cl *x = arg;
  if (r->status == 0 && !r->error && !x->unsubscribed) {
    x->unsubscribed = true;
    lc_bump(x->lc, &x->lc->unsubscribed);
  }
}

static void key_args(int index, char *buf, size_t n) { snprintf(buf, n, "[\"P-%d\"]", index % N_KEYS); }

static void on_state(struct ch_client *c, enum ch_client_state s, const struct ch_client_failure *f, void *user) {
  struct cl *x = user;
  if (s == CH_CLIENT_CONNECTED && !x->subscribed) {
    char args[32];
    key_args(x->index, args, sizeof args);
    lc_bump(x->lc, &x->lc->connected);
    if (ch_client_invoke(c, "ResourceEventHub", "SubscribeToPart", args, on_sub_done, x, NULL) != 0)
      lc_bump(x->lc, &x->lc->failures);
  }
  if (s == CH_CLIENT_CLOSED) {
    uv_mutex_lock(&x->lc->lock);
    if (f && !x->lc->first_failure[0])
      snprintf(x->lc->first_failure, sizeof x->lc->first_failure, "%s: %s", ch_failure_name(f->category),
               f->message);
    x->closed_ok = f == NULL;
    x->lc->closed_ok += f == NULL;
    x->lc->closed++;
    uv_cond_broadcast(&x->lc->cond);
    uv_mutex_unlock(&x->lc->lock);
  }
}

static void on_message(struct ch_client *c, const struct ch_hub_msg *m, int hub_index, uint64_t recv_ns, void *user) {
  (void)c;
  (void)recv_ns;
  struct cl *x = user;
  if (hub_index != 0 || !ch_hub_msg_is(m, "resourceeventhub", "update"))
    return;
  x->updates++;
  lc_bump(x->lc, &x->lc->updates);
}

static void on_event(struct ch_client *c, enum ch_client_event e, void *user) {
  (void)c;
  struct cl *x = user;
  if (e == CH_EVENT_RECONNECTED)
    lc_bump(x->lc, &x->lc->reconnected);
}

static void on_trace(struct ch_client *c, enum ch_trace_dir d, enum ch_trace_channel ch, const char *p, size_t n,
                     void *user) {
  (void)c, (void)d, (void)ch;
  struct cl *x = user;
  if (memmem(p, n, TOKEN, strlen(TOKEN)))
    x->token_leak = true;
}

static void start_task(struct ch_worker *w, void *arg) {
  struct lc *lc = arg;
  static const char *const hubs[] = {"ResourceEventHub"};
  unsigned wi = ch_worker_index(w);
  for (int i = (int)wi; i < N_CLIENTS; i += 2) {
    struct cl *x = &lc->cls[i];
    struct ch_client_opts o = {.target = &lc->url,
                               .hubs = hubs,
                               .hub_count = 1,
                               .transport = CH_TRANSPORT_WEBSOCKETS,
                               .auth = i % 4 < 2 ? CH_AUTH_HEADER : CH_AUTH_QUERY,
                               .auth_value = i % 4 < 2 ? "Bearer " TOKEN : TOKEN,
                               .reconnect_delay_ms = 100,
                               .on_state = on_state,
                               .on_message = on_message,
                               .on_event = on_event,
                               .on_trace = i % 10 == 0 ? on_trace : NULL,
                               .user = x};
    if (ch_client_new(w, &o, &x->c) != 0 || ch_client_start(x->c) != 0)
      lc_bump(lc, &lc->failures);
  }
}

static void unsubscribe_task(struct ch_worker *w, void *arg) {
  struct lc *lc = arg;
  for (int i = (int)ch_worker_index(w); i < N_CLIENTS; i += 2) {
    char args[32];
    key_args(i, args, sizeof args);
    if (ch_client_invoke(lc->cls[i].c, "ResourceEventHub", "UnsubscribeFromPart", args, on_unsub_done, &lc->cls[i],
                         NULL) != 0)
      lc_bump(lc, &lc->failures);
  }
}

static void stop_task(struct ch_worker *w, void *arg) {
  struct lc *lc = arg;
  for (int i = (int)ch_worker_index(w); i < N_CLIENTS; i += 2)
    ch_client_stop(lc->cls[i].c);
}

static void publish_all(int cport, int count, const char *want) {
  for (int k = 0; k < N_KEYS; k++) {
    char body[160];
    snprintf(body, sizeof body, "{\"hub\":\"ResourceEventHub\",\"key\":\"P-%d\",\"count\":%d}", k, count);
    struct ch_buf out = CH_BUF_INIT;
    CU_ASSERT_EQUAL(ch_control(cport, "/publish", body, &out, 5000), 200);
    CU_ASSERT_PTR_NOT_NULL(out.data ? strstr(out.data, want) : NULL);
    ch_buf_free(&out);
  }
}

static void test_engine_lifecycle_200_clients_on_2_workers(void) {
  struct ch_server_token tok = {.token = TOKEN, .user = "alice"};
  struct ch_server_opts so = {.port = 0, .base = "/Centro", .tokens = &tok, .n_tokens = 1, .quiet = true};
  struct ch_server *srv = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(srv), 0);
  int cport = ch_server_control_port(srv);

  static struct lc lc;
  memset(&lc, 0, sizeof lc);
  uv_mutex_init(&lc.lock);
  uv_cond_init(&lc.cond);
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/Centro", ch_server_port(srv));
  CU_ASSERT_EQUAL_FATAL(ch_url_parse(url, &lc.url, NULL), 0);
  for (int i = 0; i < N_CLIENTS; i++) {
    lc.cls[i].lc = &lc;
    lc.cls[i].index = i;
  }

  struct ch_engine *e = NULL;
  struct ch_engine_opts eo = {.workers = 2, .connect_window = 16};
  CU_ASSERT_EQUAL_FATAL(ch_engine_new(&eo, &e, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(ch_engine_start(e, NULL), 0);
  uint64_t t0 = ch_now_ns();
  CU_ASSERT_EQUAL(ch_engine_post(e, 0, start_task, &lc), 0);
  CU_ASSERT_EQUAL(ch_engine_post(e, 1, start_task, &lc), 0);
  bool ok = lc_wait(&lc, &lc.subscribed, N_CLIENTS, 30);
  CU_ASSERT_TRUE(ok);
  double secs = (double)(ch_now_ns() - t0) / 1e9;
  fprintf(stderr, "\n  %d clients connected and subscribed in %.3f s\n", N_CLIENTS, secs);
  if (ok) {
    publish_all(cport, 5, "\"subscribers\":50");
    CU_ASSERT_TRUE(lc_wait(&lc, &lc.updates, N_CLIENTS * 5, 20));

    /* every socket dies at the server: clients reconnect with their cursor and groups token */
    struct ch_buf out = CH_BUF_INIT;
    CU_ASSERT_EQUAL(ch_control(cport, "/drop", "{}", &out, 5000), 200);
    ch_buf_free(&out);
    CU_ASSERT_TRUE(lc_wait(&lc, &lc.reconnected, N_CLIENTS, 30));
    publish_all(cport, 2, "\"subscribers\":50");
    CU_ASSERT_TRUE(lc_wait(&lc, &lc.updates, N_CLIENTS * 7, 20));

    CU_ASSERT_EQUAL(ch_engine_post(e, 0, unsubscribe_task, &lc), 0);
    CU_ASSERT_EQUAL(ch_engine_post(e, 1, unsubscribe_task, &lc), 0);
    CU_ASSERT_TRUE(lc_wait(&lc, &lc.unsubscribed, N_CLIENTS, 20));
    publish_all(cport, 3, "\"subscribers\":0");
  }
  CU_ASSERT_EQUAL(ch_engine_post(e, 0, stop_task, &lc), 0);
  CU_ASSERT_EQUAL(ch_engine_post(e, 1, stop_task, &lc), 0);
  CU_ASSERT_TRUE(lc_wait(&lc, &lc.closed, N_CLIENTS, 20));
  ch_engine_stop(e);
  CU_ASSERT_EQUAL(lc.closed_ok, N_CLIENTS);
  CU_ASSERT_EQUAL(lc.failures, 0);
  CU_ASSERT_EQUAL(lc.updates, N_CLIENTS * 7);
  for (int i = 0; i < N_CLIENTS; i++) {
    struct cl *x = &lc.cls[i];
    CU_ASSERT_FALSE(x->token_leak);
    CU_ASSERT_EQUAL(x->updates, 7);
    if (!x->c)
      continue;
    const struct ch_client_counters *k = ch_client_counters(x->c);
    CU_ASSERT_EQUAL(k->reconnects, 1);
    CU_ASSERT_EQUAL(k->invocations_ok, 2);
    CU_ASSERT_PTR_NOT_NULL(ch_client_groups_token(x->c));
    CU_ASSERT_PTR_NOT_NULL(ch_client_cursor(x->c));
    const struct ch_negotiate *neg = ch_client_negotiation(x->c);
    CU_ASSERT_PTR_NOT_NULL(neg);
    if (neg)
      CH_ASSERT_STR(neg->protocol_version, "2.0");
    ch_client_free(x->c);
  }
  ch_engine_free(e);
  ch_server_free(srv);
  ch_url_free(&lc.url);
  uv_mutex_destroy(&lc.lock);
  uv_cond_destroy(&lc.cond);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_engine_lifecycle_200_clients_on_2_workers), CU_TEST_INFO_NULL};
  return ch_test_run("engine_lifecycle", tests);
}
