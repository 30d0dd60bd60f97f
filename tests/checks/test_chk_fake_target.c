/* The checks judge a session's messages on all their bytes: against a scripted loopback target whose long-polling
   init message is {"C":"d-1","S":1,"M":[]} followed by a NUL (the old /ping's defect, in another place), CON-001
   fails on longPolling, its evidence showing the NUL; the same target without the NUL passes. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ch_checks.h"
#include "ch_listen.h"
#include "ch_test.h"

struct target {
  int lfd, port;
  bool nul;          /* the init message carries a trailing NUL */
  atomic_bool stop;
  pthread_t th;
};

static void reply(int fd, const char *ctype, const char *body, size_t n) {
  char head[256];
  int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\n%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", n);
  if (write(fd, head, (size_t)h) < 0 || write(fd, body, n) < 0)
    return;
}

/* One request per connection: read the head (and whatever body came with it), answer by the path's last segment. */
static void serve_one(struct target *t, int fd) {
  char req[8192];
  size_t got = 0;
  while (got < sizeof req - 1) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 2000) <= 0)
      break;
    ssize_t r = read(fd, req + got, sizeof req - 1 - got);
    if (r <= 0)
      break;
    got += (size_t)r;
    req[got] = '\0';
    if (strstr(req, "\r\n\r\n"))
      break;
  }
  req[got] = '\0';
  static const char neg[] =
      "{\"Url\":\"/signalr\",\"ConnectionToken\":\"dG9rZW4=\",\"ConnectionId\":\"1\",\"KeepAliveTimeout\":20.0,"
      "\"DisconnectTimeout\":30.0,\"ConnectionTimeout\":110.0,\"TryWebSockets\":false,\"ProtocolVersion\":\"2.0\","
      "\"TransportConnectTimeout\":5.0,\"LongPollDelay\":0.0}";
  static const char init[] = "{\"C\":\"d-1\",\"S\":1,\"M\":[]}"; /* sizeof includes the NUL */
  static const char poll_body[] = "{\"C\":\"d-1\",\"M\":[]}";
  static const char started[] = "{ \"Response\": \"started\" }";
  const char *json = "application/json; charset=UTF-8";
  if (strstr(req, "/negotiate?"))
    reply(fd, json, neg, sizeof neg - 1);
  else if (strstr(req, "/connect?"))
    reply(fd, json, init, sizeof init - !t->nul);
  else if (strstr(req, "/poll?")) {
    usleep(100000); /* held briefly, as a server holds a poll (an instant answer would make the probe poll in a loop) */
    reply(fd, json, poll_body, sizeof poll_body - 1);
  } else if (strstr(req, "/start?"))
    reply(fd, json, started, sizeof started - 1);
  else
    reply(fd, "text/plain", "", 0);
  close(fd);
}

static void *run(void *arg) {
  struct target *t = arg;
  while (!atomic_load(&t->stop)) {
    struct pollfd pf = {t->lfd, POLLIN, 0};
    if (poll(&pf, 1, 50) <= 0)
      continue;
    int fd = accept(t->lfd, NULL, NULL);
    if (fd >= 0)
      serve_one(t, fd);
  }
  return NULL;
}

static int target_start(struct target *t, bool nul) {
  memset(t, 0, sizeof *t);
  t->nul = nul;
  if ((t->lfd = ch_test_listen(16, &t->port)) < 0)
    return -1;
  return pthread_create(&t->th, NULL, run, t);
}

static void target_stop(struct target *t) {
  atomic_store(&t->stop, true);
  pthread_join(t->th, NULL);
  close(t->lfd);
}

/* Runs CON-001 on longPolling against the target; returns the result (NULL if it did not run). */
static const struct ch_check_result *con001(struct target *t, struct ch_checks_results *r) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", t->port);
  struct ch_checks_opts o = {0};
  o.target = url;
  o.only = "CON-001";
  o.transports = CH_T_LP;
  o.timeout_ms = 2000;
  o.seed = 3;
  CU_ASSERT_EQUAL(ch_checks_run(&o, r), 0);
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->items[i].def->id, "CON-001") == 0)
      return &r->items[i];
  return NULL;
}

/* CON-001 on longPolling against the target, with or without the NUL: its status, and the evidence to look into. */
static void expect_con001(bool nul, enum ch_check_status want, const char *const *evidence) {
  struct target t;
  CU_ASSERT_EQUAL_FATAL(target_start(&t, nul), 0);
  struct ch_checks_results r = {0};
  const struct ch_check_result *c = con001(&t, &r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  bool ok = c->status == want;
  for (const char *const *e = evidence; *e; e++)
    ok &= strstr(c->evidence, *e) != NULL;
  CU_ASSERT_TRUE(ok);
  if (!ok)
    fprintf(stderr, "CON-001 (%d): %s\n%s\n", c->status, c->message, c->evidence);
  ch_checks_results_free(&r);
  target_stop(&t);
}

static void test_init_message_with_a_trailing_nul_fails_con001(void) {
  static const char *const ev[] = {
      "request: POST http://127.0.0.1:",
      "/signalr/connect?transport=longPolling",
      "first message: {\"C\":\"d-1\",\"S\":1,\"M\":[]}\\x00",
      "not accepted by the official clients (JSON.parse throws): trailing data after the value at byte 24 of 25",
      NULL,
  };
  expect_con001(true, CH_CHECK_FAIL, ev);
}

static void test_the_same_target_without_the_nul_passes(void) {
  static const char *const none[] = {NULL};
  expect_con001(false, CH_CHECK_PASS, none);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_init_message_with_a_trailing_nul_fails_con001),
      CH_TEST(test_the_same_target_without_the_nul_passes),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("chk-fake-target", tests);
}
