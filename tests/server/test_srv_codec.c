/* The socket-free parts of the reference server: routing, parameters, tokens, cursors, connectionData, tokens file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ch_server.h"
#include "ch_srv.h"
#include "ch_srv_codec.h"
#include "ch_test.h"

static void test_codec_route_suffixes_case_insensitive(void) {
  size_t el;
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/negotiate", 18, &el), CH_SRV_CMD_NEGOTIATE);
  CU_ASSERT_EQUAL(el, 8);
  CU_ASSERT_EQUAL(ch_srv_route("/Centro", "/centro/SignalR/CONNECT", 23, &el), CH_SRV_CMD_CONNECT);
  CU_ASSERT_EQUAL(el, 15);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/reconnect", 18, &el), CH_SRV_CMD_RECONNECT);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/poll", 13, &el), CH_SRV_CMD_POLL);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/start", 14, &el), CH_SRV_CMD_START);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/send", 13, &el), CH_SRV_CMD_SEND);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/abort", 14, &el), CH_SRV_CMD_ABORT);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/ping", 13, &el), CH_SRV_CMD_PING);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/hubs", 13, &el), CH_SRV_CMD_HUBS);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalr/whatever", 17, &el), CH_SRV_CMD_OTHER);
  CU_ASSERT_EQUAL(ch_srv_route("", "/signalrx/negotiate", 19, &el), CH_SRV_CMD_NONE);
  CU_ASSERT_EQUAL(ch_srv_route("/Centro", "/signalr/negotiate", 18, &el), CH_SRV_CMD_NONE);
  CU_ASSERT_EQUAL(ch_srv_transport_parse("WEBSOCKETS", 10), CH_SRV_TR_WS);
  CU_ASSERT_EQUAL(ch_srv_transport_parse("longPolling", 11), CH_SRV_TR_LP);
  CU_ASSERT_EQUAL(ch_srv_transport_parse("foreverFrame", 12), CH_SRV_TR_NONE);
}

static void test_codec_form_lenient_and_query_first(void) {
  struct ch_srv_params p;
  ch_srv_params_init(&p);
  ch_srv_params_add_frag(&p, "messageId=from-query", 20);
  const char *f = "MessageId=from-body&data=a+b%2Bc&bad=%zz%4&groupsToken=AQ%2B%2F%3D";
  CU_ASSERT_EQUAL(ch_srv_params_parse_form(&p, f, strlen(f)), 0);
  size_t n;
  CH_ASSERT_STR(ch_srv_param(&p, "messageid", &n), "from-query");
  CH_ASSERT_STR(ch_srv_param(&p, "data", NULL), "a b+c");
  CH_ASSERT_STR(ch_srv_param(&p, "bad", NULL), "%zz%4");
  CH_ASSERT_STR(ch_srv_param(&p, "groupsToken", NULL), "AQ+/=");
  CU_ASSERT_PTR_NULL(ch_srv_param(&p, "transport", NULL));
  ch_srv_params_free(&p);
}

static void test_codec_tokens_bound_and_forgery_refused(void) {
  uint64_t key[2] = {11, 22}, other[2] = {11, 23};
  const char *id = "3f2c6a1e-9b7d-4c1e-8f3a-2d5b6c7e8f90";
  struct ch_buf t = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_srv_conn_token_make(key, id, "alice", &t), 0);
  char got[37], *user = NULL;
  CU_ASSERT_EQUAL(ch_srv_conn_token_parse(key, t.data, t.len, got, &user), 0);
  CU_ASSERT_STRING_EQUAL(got, id);
  CH_ASSERT_STR(user, "alice");
  free(user);
  CU_ASSERT_EQUAL(ch_srv_conn_token_parse(other, t.data, t.len, got, &user), -EINVAL);
  t.data[5] ^= 1;
  CU_ASSERT_EQUAL(ch_srv_conn_token_parse(key, t.data, t.len, got, &user), -EINVAL);
  ch_buf_reset(&t);
  const char *groups[] = {"ResourceEventHub.1882708", "JobEventHub.12"};
  CU_ASSERT_EQUAL(ch_srv_groups_token_make(key, id, groups, 2, &t), 0);
  char **g = NULL;
  size_t ng = 0;
  CU_ASSERT_EQUAL(ch_srv_groups_token_parse(key, id, t.data, t.len, &g, &ng), 0);
  CU_ASSERT_EQUAL_FATAL(ng, 2);
  CH_ASSERT_STR(g[0], "ResourceEventHub.1882708");
  CH_ASSERT_STR(g[1], "JobEventHub.12");
  ch_srv_strv_free(g, ng);
  /* another connection's groups token is refused */
  CU_ASSERT_EQUAL(ch_srv_groups_token_parse(key, "00000000-9b7d-4c1e-8f3a-2d5b6c7e8f90", t.data, t.len, &g, &ng),
                  -EINVAL);
  ch_buf_free(&t);
}

static void test_codec_cursor_and_connection_data(void) {
  char c[48];
  CU_ASSERT_TRUE(ch_srv_cursor_format(c, sizeof c, "5A1F00C3", 0x1f) > 0);
  CU_ASSERT_STRING_EQUAL(c, "d-5A1F00C3-1F");
  uint64_t seq = 0;
  CU_ASSERT_EQUAL(ch_srv_cursor_parse("5A1F00C3", c, strlen(c), &seq), 0);
  CU_ASSERT_EQUAL(seq, 0x1f);
  CU_ASSERT_EQUAL(ch_srv_cursor_parse("ABC", c, strlen(c), &seq), -EINVAL); /* another process */
  CU_ASSERT_EQUAL(ch_srv_cursor_parse("5A1F00C3", "d-5A1F00C3-B,0|C,0", 18, &seq), -EINVAL);
  unsigned hubs;
  char bad[32];
  const char *cd = "[{\"name\":\"resourceeventhub\"},{\"Name\":\"JobEventHub\"}]";
  CU_ASSERT_EQUAL(ch_srv_connection_data_parse(cd, strlen(cd), &hubs, bad, sizeof bad), 0);
  CU_ASSERT_EQUAL(hubs, CH_HUB_ALL);
  cd = "[{\"name\":\"nopehub\"}]";
  CU_ASSERT_EQUAL(ch_srv_connection_data_parse(cd, strlen(cd), &hubs, bad, sizeof bad), -EINVAL);
  CU_ASSERT_STRING_EQUAL(bad, "nopehub");
  cd = "[{\"name\":\"jobeventhub\"},{\"name\":\"JOBEVENTHUB\"}]";
  CU_ASSERT_EQUAL(ch_srv_connection_data_parse(cd, strlen(cd), &hubs, bad, sizeof bad), -EINVAL);
  CU_ASSERT_EQUAL(ch_srv_connection_data_parse("[", 1, &hubs, NULL, 0), -EINVAL);
  CU_ASSERT_EQUAL(ch_srv_connection_data_parse("[]", 2, &hubs, NULL, 0), 0);
  CU_ASSERT_EQUAL(hubs, 0);
}

static void test_codec_tokens_file(void) {
  char path[] = "/tmp/ch_tokens_XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  const char *txt = "# comment\n\nabc alice\ndef bob parts=1882708,1882709 hubs=ResourceEventHub\r\n"
                    "ghi carol pipelines=12 parts=*\n";
  CU_ASSERT_EQUAL((size_t)write(fd, txt, strlen(txt)), strlen(txt));
  close(fd);
  struct ch_server_token *t = NULL;
  size_t n = 0;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_server_tokens_load(path, &t, &n, &err), 0);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  CH_ASSERT_STR(t[0].user, "alice");
  CU_ASSERT_PTR_NULL(t[0].parts);
  CU_ASSERT_EQUAL(t[1].n_parts, 2);
  CH_ASSERT_STR(t[1].parts[1], "1882709");
  CU_ASSERT_EQUAL(t[1].hubs, CH_HUB_RESOURCE);
  CU_ASSERT_EQUAL(t[2].n_pipelines, 1);
  CU_ASSERT_PTR_NULL(t[2].parts);
  ch_server_tokens_free(t, n);
  /* an unknown field is an error that never echoes the line (it may hold a secret) */
  FILE *f = fopen(path, "w");
  fputs("supersecret bob prts=1\n", f);
  fclose(f);
  CU_ASSERT_EQUAL(ch_server_tokens_load(path, &t, &n, &err), -EINVAL);
  CU_ASSERT_PTR_NULL(strstr(err.data, "supersecret"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "line 1"));
  unlink(path);
  ch_buf_reset(&err);
  CU_ASSERT_TRUE(ch_server_tokens_load(path, &t, &n, &err) < 0);
  ch_buf_free(&err);
}


static void test_codec_protocol_version_clamped_like_system_version(void) {
  const char *cases[][2] = {{"2.1", "2.0"},   {"1.5", "1.5"},     {"2.0", "2.0"},  {"1.2", "1.2"},  {"1.0", "1.2"},
                            {"1", "1.2"},     {"", "1.2"},        {"x", "1.2"},    {"1.5.0", "1.5.0"},
                            {"01.05", "1.5"}, {"2.0.0.1", "2.0"}, {"10.0", "2.0"}, {"1.10", "1.10"}, {"1.2.", "1.2"},
                            {"1.-2", "1.2"}};
  char out[48];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ch_srv_protocol_version(cases[i][0], out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, cases[i][1]);
  }
  ch_srv_protocol_version(NULL, out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "1.2");
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_codec_route_suffixes_case_insensitive),
      CH_TEST(test_codec_form_lenient_and_query_first),
      CH_TEST(test_codec_tokens_bound_and_forgery_refused),
      CH_TEST(test_codec_cursor_and_connection_data),
      CH_TEST(test_codec_tokens_file),
      CH_TEST(test_codec_protocol_version_clamped_like_system_version),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("srv_codec", tests);
}
