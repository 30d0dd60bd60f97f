/* serve --login-users: the login route, the tokens it issues (accepted on every SignalR request, by header or query,
   across a refresh for the same user) and their expiry (401 on every request: negotiate, connect, reconnect, poll,
   send, start, abort). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch_server.h"
#include "ch_test.h"
#include "srv_fixture.h"

static const struct ch_server_login_user USERS[] = {{.user = "alice", .password = "pw-alice-1"},
                                                     {.user = "bob", .password = "pw-bob-2"}};

/* POST /login; returns the status and copies access_token (when 200). */
static int login(struct fx *f, const char *body, char *tok, size_t cap) {
  struct resp r;
  http_req(f->port, "POST", "/login", "Content-Type: application/json\r\n", body, &r);
  int st = r.status;
  if (tok && (st != 200 || !json_str(r.body.data, "access_token", tok, cap)))
    tok[0] = '\0';
  if (st == 200)
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"expires_in\":"));
  /* never the password in any answer */
  CU_ASSERT_PTR_NULL(r.body.data ? strstr(r.body.data, "pw-") : NULL);
  resp_free(&r);
  return st;
}

static int status_of(struct fx *f, const char *method, const char *target, const char *tok, const char *body) {
  char hdr[600];
  snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", tok);
  struct resp r;
  http_req(f->port, method, target, hdr, body, &r);
  int st = r.status;
  resp_free(&r);
  return st;
}

static void test_login_route(void) {
  struct fx f;
  struct ch_server_opts o = {.login_users = USERS, .n_login_users = 2};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[256], tok2[256];
  CU_ASSERT_EQUAL(login(&f, "{\"user\":\"alice\",\"password\":\"pw-alice-1\"}", tok, sizeof tok), 200);
  CU_ASSERT_TRUE(strlen(tok) > 10);
  CU_ASSERT_EQUAL(login(&f, "{\"user\":\"alice\",\"password\":\"pw-bob-2\"}", NULL, 0), 401);
  CU_ASSERT_EQUAL(login(&f, "{\"user\":\"carol\",\"password\":\"pw-alice-1\"}", NULL, 0), 401);
  CU_ASSERT_EQUAL(login(&f, "{\"user\":\"alice\"}", NULL, 0), 400);
  CU_ASSERT_EQUAL(login(&f, "user=alice&password=pw-alice-1", NULL, 0), 400);
  struct resp r;
  http_req(f.port, "GET", "/login", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 405);
  resp_free(&r);
  /* the token authorizes a hub request, by header and by query; a forged one does not */
  char target[1024];
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s", CDATA_RES);
  CU_ASSERT_EQUAL(status_of(&f, "GET", target, tok, NULL), 200);
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s&access_token=%s",
           CDATA_RES, tok);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s", CDATA_RES);
  snprintf(tok2, sizeof tok2, "%s", tok);
  tok2[strlen(tok2) - 1] = tok2[strlen(tok2) - 1] == '0' ? '1' : '0';
  CU_ASSERT_EQUAL(status_of(&f, "GET", target, tok2, NULL), 401);
  /* a later token of the same user carries on the connection (same identity); another user's does not */
  char hdr[600], ctok[512];
  snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", tok);
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, hdr, ctok, sizeof ctok));
  CU_ASSERT_EQUAL(login(&f, "{\"user\":\"alice\",\"password\":\"pw-alice-1\"}", tok2, sizeof tok2), 200);
  CU_ASSERT_STRING_NOT_EQUAL(tok, tok2);
  snprintf(target, sizeof target, "/signalr/start?transport=longPolling&connectionToken=%s&connectionData=%s", ctok,
           CDATA_RES);
  CU_ASSERT_EQUAL(status_of(&f, "GET", target, tok2, NULL), 200);
  CU_ASSERT_EQUAL(login(&f, "{\"user\":\"bob\",\"password\":\"pw-bob-2\"}", tok2, sizeof tok2), 200);
  CU_ASSERT_EQUAL(status_of(&f, "GET", target, tok2, NULL), 403);
  fx_stop(&f);
}

static void test_login_token_expires_on_every_request(void) {
  struct fx f;
  struct ch_server_opts o = {.login_users = USERS, .n_login_users = 2, .token_ttl_s = 0.6};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[256], hdr[600], ctok[512], target[1024];
  CU_ASSERT_EQUAL_FATAL(login(&f, "{\"user\":\"bob\",\"password\":\"pw-bob-2\"}", tok, sizeof tok), 200);
  snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", tok);
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, hdr, ctok, sizeof ctok));
  static const char *const cmds[] = {"connect", "reconnect", "poll", "send", "start", "abort"};
  /* while valid: start is answered */
  snprintf(target, sizeof target, "/signalr/start?transport=longPolling&connectionToken=%s&connectionData=%s", ctok,
           CDATA_RES);
  CU_ASSERT_EQUAL(status_of(&f, "GET", target, tok, NULL), 200);
  /* wait (bounded) for the lifetime to pass: negotiate turns 401 */
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s", CDATA_RES);
  uint64_t deadline = ch_now_ns() + 5000000000ull;
  int st = 200;
  while ((st = status_of(&f, "GET", target, tok, NULL)) == 200 && ch_now_ns() < deadline)
    usleep(20000);
  CU_ASSERT_EQUAL(st, 401);
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    bool post = strcmp(cmds[i], "send") == 0 || strcmp(cmds[i], "poll") == 0 || strcmp(cmds[i], "abort") == 0;
    snprintf(target, sizeof target, "/signalr/%s?transport=longPolling&connectionToken=%s&connectionData=%s", cmds[i],
             ctok, CDATA_RES);
    int s2 = status_of(&f, post ? "POST" : "GET", target, tok, post ? "data=%7B%7D" : NULL);
    if (s2 != 401)
      fprintf(stderr, "%s answered %d with an expired token\n", cmds[i], s2);
    CU_ASSERT_EQUAL(s2, 401);
  }
  /* even without connectionData (not a hub request) an expired token is refused */
  CU_ASSERT_EQUAL(status_of(&f, "GET", "/signalr/ping", tok, NULL), 401);
  /* a fresh login works again */
  CU_ASSERT_EQUAL(login(&f, "{\"user\":\"bob\",\"password\":\"pw-bob-2\"}", tok, sizeof tok), 200);
  CU_ASSERT_EQUAL(status_of(&f, "GET", target, tok, NULL), 200);
  fx_stop(&f);
}

static void test_login_users_file(void) {
  char path[] = "/tmp/ch-login-users-XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  fputs("user,password\n# comment\nalice,pw-a\r\nbob,pw,with,commas\n", fp);
  fclose(fp);
  struct ch_server_login_user *u = NULL;
  size_t n = 0;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_server_login_users_load(path, &u, &n, &err), 0);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_STRING_EQUAL(u[0].password, "pw-a");
  CU_ASSERT_STRING_EQUAL(u[1].password, "pw,with,commas");
  ch_server_login_users_free(u, n);
  fp = fopen(path, "w");
  fputs("alice,pw-a\nno-comma-secret-line\n", fp);
  fclose(fp);
  CU_ASSERT_EQUAL(ch_server_login_users_load(path, &u, &n, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, ":2:"));
  CU_ASSERT_PTR_NULL(strstr(err.data, "secret"));
  ch_buf_free(&err);
  unlink(path);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_login_route),
      CH_TEST(test_login_token_expires_on_every_request),
      CH_TEST(test_login_users_file),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("server_login", tests);
}
