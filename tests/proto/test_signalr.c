/* Tests of the SignalR classic codec against the transcripts of protocol/signalr-classic.md section 12 (T1-T8) and
   the bad inputs a real or broken server can produce. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ch_signalr.h"
#include "ch_test.h"

#define T1_TOKEN "AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAAZw=="
#define T1_BODY                                                                                                     \
  "{\"Url\":\"/signalr\",\"ConnectionToken\":\"" T1_TOKEN "\",\"ConnectionId\":\"3f2c6a1e-9b7d-4c1e-8f3a-"          \
  "2d5b6c7e8f90\",\"KeepAliveTimeout\":20.0,\"DisconnectTimeout\":30.0,\"ConnectionTimeout\":110.0,"                \
  "\"TryWebSockets\":true,\"ProtocolVersion\":\"2.0\",\"TransportConnectTimeout\":5.0,\"LongPollDelay\":0.0}"

static void test_signalr_negotiate_t1(void) {
  struct ch_negotiate n;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_negotiate_parse(T1_BODY, strlen(T1_BODY), &n, &err), 0);
  CH_ASSERT_STR(n.url, "/signalr");
  CH_ASSERT_STR(n.connection_token, T1_TOKEN);
  CH_ASSERT_STR(n.connection_id, "3f2c6a1e-9b7d-4c1e-8f3a-2d5b6c7e8f90");
  CH_ASSERT_STR(n.protocol_version, "2.0");
  CU_ASSERT_DOUBLE_EQUAL(n.keep_alive_timeout, 20.0, 0);
  CU_ASSERT_FALSE(n.keep_alive_disabled);
  CU_ASSERT_DOUBLE_EQUAL(n.disconnect_timeout, 30.0, 0);
  CU_ASSERT_DOUBLE_EQUAL(n.connection_timeout, 110.0, 0);
  CU_ASSERT_DOUBLE_EQUAL(n.transport_connect_timeout, 5.0, 0);
  CU_ASSERT_DOUBLE_EQUAL(n.long_poll_delay, 0.0, 0);
  CU_ASSERT_TRUE(n.try_websockets);
  CU_ASSERT_PTR_NULL(n.redirect_url);
  CU_ASSERT_EQUAL(n.present, 0x3FFu);
  CU_ASSERT_EQUAL(err.len, 0);
  ch_negotiate_free(&n);
  CU_ASSERT_PTR_NULL(n.url);
  ch_negotiate_free(&n); /* idempotent */

  /* keep-alive disabled, optional fields absent, virtual directory, unknown fields ignored */
  const char *b2 = "  {\"Url\":\"/Centro/signalr\",\"ConnectionToken\":\"a+b/c=\",\"ConnectionId\":\"x\","
                   "\"KeepAliveTimeout\":null,\"DisconnectTimeout\":30,\"ConnectionTimeout\":110,"
                   "\"TryWebSockets\":false,\"ProtocolVersion\":\"1.5\",\"Extra\":[1,{}]}\r\n";
  CU_ASSERT_EQUAL_FATAL(ch_negotiate_parse(b2, strlen(b2), &n, &err), 0);
  CU_ASSERT_TRUE(n.keep_alive_disabled);
  CU_ASSERT_FALSE(n.try_websockets);
  CU_ASSERT_DOUBLE_EQUAL(n.transport_connect_timeout, 5.0, 0);
  CU_ASSERT_FALSE(n.present & CH_NEG_LONG_POLL_DELAY);
  CH_ASSERT_STR(n.url, "/Centro/signalr");
  ch_negotiate_free(&n);
  ch_buf_free(&err);
}

/* Each bad body must fail with exactly this message, and never echo the token. */
static void neg_expect(const char *body, const char *msg) {
  struct ch_negotiate n;
  struct ch_buf err = CH_BUF_INIT;
  int rc = ch_negotiate_parse(body, strlen(body), &n, &err);
  CU_ASSERT_EQUAL(rc, -EBADMSG);
  if (!err.data || strcmp(err.data, msg))
    printf("\nbody %.60s: got \"%s\", want \"%s\"\n", body, err.data ? err.data : "(null)", msg);
  CH_ASSERT_STR(err.data, msg);
  CU_ASSERT_PTR_NULL(strstr(err.data ? err.data : "", "SECRET"));
  CU_ASSERT_PTR_NULL(n.connection_token);
  CU_ASSERT_PTR_NULL(n.url);
  ch_buf_free(&err);
}

#define NEG_OK_TAIL                                                                                                 \
  "\"ConnectionId\":\"x\",\"DisconnectTimeout\":30.0,\"ConnectionTimeout\":110.0,\"TryWebSockets\":true,"          \
  "\"ProtocolVersion\":\"2.0\""

static void test_signalr_negotiate_errors(void) {
  neg_expect("", "negotiate: body is empty");
  neg_expect(" \r\n", "negotiate: body is empty");
  neg_expect("<!DOCTYPE html><html><body>500 - Internal server error.</body></html>", "negotiate: HTML error page");
  neg_expect("\n<html>", "negotiate: HTML error page");
  neg_expect("Bad Request", "negotiate: body is not JSON (unexpected character at byte 0)");
  { /* every byte counts: a NUL after the object (strlen would stop before it) */
    static const char nul[] = T1_BODY "\0";
    struct ch_negotiate n;
    struct ch_buf err = CH_BUF_INIT;
    CU_ASSERT_EQUAL(ch_negotiate_parse(nul, sizeof nul - 1, &n, &err), -EBADMSG);
    CU_ASSERT_TRUE(err.data && strstr(err.data, "trailing data after the value") != NULL);
    ch_buf_free(&err);
    CU_ASSERT_EQUAL(ch_negotiate_parse(nul, sizeof nul - 2, &n, &err), 0); /* the same without it */
    ch_negotiate_free(&n);
  }
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET",
             "negotiate: body is not JSON (unterminated string at byte 43)");
  neg_expect("[1]", "negotiate: body is a JSON array, expected an object");
  neg_expect("{\"negotiateVersion\":1,\"connectionId\":\"x\",\"availableTransports\":[]}",
             "negotiate: availableTransports present (an ASP.NET Core server, not classic SignalR)");
  neg_expect("{\"Url\":\"/signalr\",\"KeepAliveTimeout\":20.0," NEG_OK_TAIL "}", "negotiate: ConnectionToken missing");
  neg_expect("{\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":20.0," NEG_OK_TAIL "}", "negotiate: Url missing");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\"," NEG_OK_TAIL "}",
             "negotiate: KeepAliveTimeout missing");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":\"20\"," NEG_OK_TAIL "}",
             "negotiate: KeepAliveTimeout is a string, expected a number or null");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":20,\"ConnectionId\":\"x\","
             "\"DisconnectTimeout\":\"30\",\"ConnectionTimeout\":110.0,\"TryWebSockets\":true,"
             "\"ProtocolVersion\":\"2.0\"}",
             "negotiate: DisconnectTimeout is a string, expected a number");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":20,\"ConnectionId\":\"x\","
             "\"DisconnectTimeout\":30,\"ConnectionTimeout\":110.0,\"TryWebSockets\":\"true\","
             "\"ProtocolVersion\":\"2.0\"}",
             "negotiate: TryWebSockets is a string, expected true or false");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":20,\"ConnectionId\":\"x\","
             "\"DisconnectTimeout\":30,\"ConnectionTimeout\":110.0,\"TryWebSockets\":true,"
             "\"ProtocolVersion\":2.0}",
             "negotiate: ProtocolVersion is a number, expected a string");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":42,\"KeepAliveTimeout\":20," NEG_OK_TAIL "}",
             "negotiate: ConnectionToken is a number, expected a string");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"\",\"KeepAliveTimeout\":20," NEG_OK_TAIL "}",
             "negotiate: ConnectionToken is empty");
  neg_expect("{\"Url\":\"signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":20," NEG_OK_TAIL "}",
             "negotiate: Url does not start with '/'");
  neg_expect("{\"Url\":\"/signalr?x=1\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":20," NEG_OK_TAIL "}",
             "negotiate: Url is not a plain path (it has a query, fragment, space or control character)");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":0," NEG_OK_TAIL "}",
             "negotiate: KeepAliveTimeout must be greater than 0");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":1e999," NEG_OK_TAIL "}",
             "negotiate: KeepAliveTimeout is out of range");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SEC\\u0000RET\",\"KeepAliveTimeout\":20," NEG_OK_TAIL "}",
             "negotiate: ConnectionToken contains a NUL character");
  neg_expect("{\"Url\":\"/signalr\",\"ConnectionToken\":\"SECRET\",\"KeepAliveTimeout\":20,\"LongPollDelay\":-1,"
             NEG_OK_TAIL "}",
             "negotiate: LongPollDelay is negative");
  /* truncated at every offset: always an error, never a crash */
  for (size_t cut = 0; cut < strlen(T1_BODY); cut++) {
    struct ch_negotiate n;
    struct ch_buf err = CH_BUF_INIT;
    CU_ASSERT_EQUAL(ch_negotiate_parse(T1_BODY, cut, &n, &err), -EBADMSG);
    CU_ASSERT_PTR_NULL(strstr(err.data, T1_TOKEN));
    CU_ASSERT_PTR_NULL(strstr(err.data, "AQAAAN"));
    ch_buf_free(&err);
  }
}

static void test_signalr_negotiate_azure_fields(void) {
  const char *b = "{\"ProtocolVersion\":\"2.0\",\"RedirectUrl\":\"https://x.service.signalr.net/client/\","
                  "\"AccessToken\":\"SECRET\"}";
  struct ch_negotiate n;
  CU_ASSERT_EQUAL_FATAL(ch_negotiate_parse(b, strlen(b), &n, NULL), 0);
  CH_ASSERT_STR(n.redirect_url, "https://x.service.signalr.net/client/");
  CU_ASSERT_TRUE(n.has_access_token);
  CU_ASSERT_TRUE(n.present & CH_NEG_REDIRECT_URL);
  ch_negotiate_free(&n);
  const char *e = "{\"ProtocolVersion\":\"2.0\",\"Error\":\"Too many connections\"}";
  CU_ASSERT_EQUAL_FATAL(ch_negotiate_parse(e, strlen(e), &n, NULL), 0);
  CH_ASSERT_STR(n.error, "Too many connections");
  ch_negotiate_free(&n);
  const char *w = "{\"Url\":\"/signalr\",\"ConnectionToken\":\"t\",\"KeepAliveTimeout\":20," NEG_OK_TAIL
                  ",\"WebSocketServerUrl\":\"ws://other/\",\"Url\":\"/x/signalr\"}";
  CU_ASSERT_EQUAL_FATAL(ch_negotiate_parse(w, strlen(w), &n, NULL), 0);
  CH_ASSERT_STR(n.websocket_server_url, "ws://other/");
  CH_ASSERT_STR(n.url, "/x/signalr"); /* a repeated key: the last wins */
  ch_negotiate_free(&n);
}

static void test_signalr_protocol_acceptance(void) {
  CH_ASSERT_STR(ch_protocol_supported(0), CH_PROTOCOL_DEFAULT);
  size_t n = 0;
  while (ch_protocol_supported(n))
    n++;
  CU_ASSERT_EQUAL(n, 4);
  CU_ASSERT_TRUE(ch_protocol_accepts("2.1", "2.0"));
  CU_ASSERT_FALSE(ch_protocol_accepts("2.1", "2.1"));
  CU_ASSERT_FALSE(ch_protocol_accepts("2.1", "1.5"));
  CU_ASSERT_FALSE(ch_protocol_accepts("2.1", "2.00"));
  CU_ASSERT_TRUE(ch_protocol_accepts("2.0", "2.0"));
  CU_ASSERT_TRUE(ch_protocol_accepts("1.5", "1.5"));
  CU_ASSERT_FALSE(ch_protocol_accepts("1.5", "1.5.0"));
  CU_ASSERT_TRUE(ch_protocol_accepts("1.4", "1.4"));
  CU_ASSERT_FALSE(ch_protocol_accepts("1.4", "1.2"));
  CU_ASSERT_FALSE(ch_protocol_accepts("1.2", "1.2"));
  CU_ASSERT_FALSE(ch_protocol_accepts(NULL, "2.0"));
  CU_ASSERT_FALSE(ch_protocol_accepts("2.1", NULL));
  CU_ASSERT_TRUE(ch_protocol_uses_start("1.4"));
  CU_ASSERT_TRUE(ch_protocol_js_accepts("2.0"));
  CU_ASSERT_TRUE(ch_protocol_js_accepts("2.1"));
  CU_ASSERT_FALSE(ch_protocol_js_accepts("1.4"));
  CU_ASSERT_FALSE(ch_protocol_js_accepts("2.0.0"));
  CU_ASSERT_TRUE(ch_protocol_net_accepts("1.4"));
  CU_ASSERT_TRUE(ch_protocol_net_accepts("1.5.0"));
  CU_ASSERT_TRUE(ch_protocol_net_accepts("2.1"));
  CU_ASSERT_FALSE(ch_protocol_net_accepts("2.1.0"));
  CU_ASSERT_FALSE(ch_protocol_net_accepts("1.3"));
  CU_ASSERT_FALSE(ch_protocol_net_accepts("2"));
  CU_ASSERT_FALSE(ch_protocol_net_accepts("2.0.x"));
  CU_ASSERT_FALSE(ch_protocol_net_accepts("1.2.3.4.5"));
  CU_ASSERT_FALSE(ch_protocol_net_accepts(NULL));
  CU_ASSERT_FALSE(ch_protocol_is_supported("1.3"));
  enum ch_transport t;
  CU_ASSERT_EQUAL(ch_transport_parse("WEBSOCKETS", &t), 0);
  CU_ASSERT_EQUAL(t, CH_TRANSPORT_WEBSOCKETS);
  CU_ASSERT_EQUAL(ch_transport_parse("sse", &t), 0);
  CH_ASSERT_STR(ch_transport_name(t), "serverSentEvents");
  CU_ASSERT_EQUAL(ch_transport_parse("foreverFrame", &t), -EINVAL);
}

static int decode(const char *s, bool lp, struct ch_recv *r, const char **why) {
  *why = NULL;
  return ch_recv_decode(s, strlen(s), lp, r, why);
}

static void test_signalr_receive_init_group_and_keepalive(void) {
  struct ch_recv r;
  const char *why;
  /* T2 init */
  CU_ASSERT_EQUAL_FATAL(decode("{\"C\":\"d-5A1F00C3-B,0|C,0|D,1\",\"S\":1,\"M\":[]}", false, &r, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_PERSISTENT);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.c, "d-5A1F00C3-B,0|C,0|D,1"));
  CU_ASSERT_EQUAL(r.s, 1);
  CU_ASSERT_TRUE(r.has_m);
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  ch_recv_msgs_begin(&r, &it);
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 0);
  /* T4 group token */
  CU_ASSERT_EQUAL_FATAL(
      decode("{\"C\":\"d-5A1F00C3-B,0|C,0|D,2|E,0\",\"G\":\"AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAA8Q==\",\"M\":[]}", false,
             &r, &why),
      0);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.g, "AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAA8Q=="));
  CU_ASSERT_EQUAL(r.s, 0);
  /* T6 keep-alives */
  CU_ASSERT_EQUAL(decode("{}", false, &r, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_KEEPALIVE);
  CU_ASSERT_EQUAL(decode(" { } ", false, &r, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_KEEPALIVE);
  CU_ASSERT_EQUAL(decode("   ", true, &r, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_KEEPALIVE);
  CU_ASSERT_EQUAL(decode("", true, &r, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_KEEPALIVE);
  CU_ASSERT_EQUAL(decode("   ", false, &r, &why), -EBADMSG);
  CH_ASSERT_STR(why, "receive: frame is empty");
  /* T8: long-poll body with leading keep-alive spaces, shutdown and delay */
  CU_ASSERT_EQUAL_FATAL(decode("     {\"C\":\"d-5A1F00C3-B,0|C,0|D,1\",\"T\":1,\"L\":2000,\"M\":[]}", true, &r, &why),
                        0);
  CU_ASSERT_EQUAL(r.t, 1);
  CU_ASSERT_TRUE(r.has_l);
  CU_ASSERT_EQUAL(r.l, 2000);
  /* a global error (Azure) */
  CU_ASSERT_EQUAL(decode("{\"E\":\"boom\",\"M\":[]}", false, &r, &why), 0);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.e, "boom"));
  CU_ASSERT_EQUAL(r.kind, CH_RECV_PERSISTENT);
  /* unknown members are counted and ignored */
  CU_ASSERT_EQUAL(decode("{\"C\":\"x\",\"M\":[],\"D\":1,\"Zed\":2}", false, &r, &why), 0);
  CU_ASSERT_EQUAL(r.unknown, 2);
}

static void test_signalr_receive_push_batches(void) {
  const char *t5 = "{\"C\":\"d-5A1F00C3-B,0|C,0|D,2|E,1\",\"M\":[{\"H\":\"PartHub\",\"M\":\"Update\",\"A\":"
                   "[{\"PartId\":"
                   "\"P-1001\",\"Qty\":7,\"Price\":12.5}]},{\"H\":\"parthub\",\"M\":\"update\",\"A\":[{\"PartId\":"
                   "\"P-1002\"}],\"S\":{\"x\":1}},{\"H\":\"OtherHub\",\"M\":\"Ping\",\"A\":[]},"
                   "{\"I\":\"P|0\",\"P\":{\"I\":\"0\",\"D\":42}},\"raw\"]}";
  struct ch_recv r;
  const char *why;
  CU_ASSERT_EQUAL_FATAL(decode(t5, false, &r, &why), 0);
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  ch_recv_msgs_begin(&r, &it);
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_EQUAL(m.kind, CH_MSG_INVOCATION);
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "PartHub", "Update"));
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "parthub", "UPDATE"));
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "PARTHUB", NULL));
  CU_ASSERT_FALSE(ch_hub_msg_is(&m, "Part", "Update"));
  struct ch_span v;
  CU_ASSERT_EQUAL(ch_json_pointer(m.args, "/0/PartId", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "P-1001"));
  CU_ASSERT_EQUAL(ch_hub_msg_pointer(&m, "/0/PartId", &v), 1);
  CU_ASSERT_TRUE(ch_json_str_eqz(v, "P-1001"));
  CU_ASSERT_EQUAL(ch_hub_msg_pointer(&m, "/0/Price", &v), 1);
  CU_ASSERT_EQUAL(v.n, 4);
  CU_ASSERT_EQUAL(ch_hub_msg_pointer(&m, "/0/Missing", &v), 0);
  CU_ASSERT_EQUAL(ch_hub_msg_pointer(&m, "/1", &v), 0);
  CU_ASSERT_EQUAL(ch_hub_msg_pointer(&m, "/0/Qty/x", &v), 0);
  CU_ASSERT_EQUAL(ch_hub_msg_pointer(&m, "", &v), 1);
  CU_ASSERT_EQUAL(v.n, m.args.n);
  CU_ASSERT_EQUAL(ch_hub_msg_pointer(&m, "0", &v), -EINVAL);
  /* the element span is exact even though the walk measured it on the way */
  CU_ASSERT_EQUAL(ch_json_parse(m.raw, NULL, NULL), 0);
  CU_ASSERT_EQUAL(m.raw.p[m.raw.n - 1], '}');
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "PartHub", "Update"));
  CU_ASSERT_EQUAL(ch_json_kind(m.state), CH_JSON_OBJECT);
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_FALSE(ch_hub_msg_is(&m, "PartHub", "Update"));
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "otherhub", "ping"));
  CU_ASSERT_EQUAL(m.args.n, 2);
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_EQUAL(m.kind, CH_MSG_PROGRESS);
  CU_ASSERT_TRUE(ch_json_str_eqz(m.progress_id, "0"));
  CU_ASSERT_EQUAL(m.progress_data.n, 2);
  CU_ASSERT_FALSE(ch_hub_msg_is(&m, "PartHub", NULL));
  CU_ASSERT_EQUAL_FATAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_EQUAL(m.kind, CH_MSG_OTHER);
  CU_ASSERT_TRUE(ch_json_str_eqz(m.raw, "raw"));
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 0);
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 0);
}

static void test_signalr_receive_big_long_poll_batch(void) {
  /* long polling batches up to 5000 messages per topic; the body may start with keep-alive spaces */
  struct ch_buf b = CH_BUF_INIT;
  ch_buf_puts(&b, "          {\"C\":\"d-1-B,1388\",\"M\":[");
  for (int i = 0; i < 5000; i++)
    ch_buf_printf(&b, "%s{\"H\":\"%s\",\"M\":\"Update\",\"A\":[{\"PartKey\":\"%d\",\"Qty\":%d}]}", i ? "," : "",
                  i % 2 ? "ResourceEventHub" : "resourceeventhub", 1882708 + i, i);
  ch_buf_puts(&b, "]}");
  struct ch_recv r;
  const char *why;
  CU_ASSERT_EQUAL_FATAL(ch_recv_decode(b.data, b.len, true, &r, &why), 0);
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  int n = 0, ok = 0, rc;
  int64_t sum = 0;
  ch_recv_msgs_begin(&r, &it);
  while ((rc = ch_recv_msgs_next(&it, &m, &why)) == 1) {
    struct ch_span v;
    int64_t q;
    if (ch_hub_msg_is(&m, "ResourceEventHub", "update") && ch_hub_msg_pointer(&m, "/0/Qty", &v) == 1 &&
        ch_json_num_int64(v, &q) == 0 && q == n) {
      ok++;
      sum += q;
    }
    n++;
  }
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL(n, 5000);
  CU_ASSERT_EQUAL(ok, 5000);
  CU_ASSERT_EQUAL(sum, 4999 * 5000 / 2);
  size_t cnt = 0;
  CU_ASSERT_EQUAL(ch_json_arr_count(r.m, &cnt), 0);
  CU_ASSERT_EQUAL(cnt, 5000);
  /* out-of-range numbers in S and L are refused */
  CU_ASSERT_EQUAL(decode("{\"C\":\"x\",\"S\":1e400,\"M\":[]}", false, &r, &why), -EBADMSG);
  CH_ASSERT_STR(why, "receive: S is not a number");
  CU_ASSERT_EQUAL(decode("{\"C\":\"x\",\"L\":99999999999999999999,\"M\":[]}", false, &r, &why), -EBADMSG);
  CH_ASSERT_STR(why, "receive: L is not a non-negative integer");
  ch_buf_free(&b);
}

static void test_signalr_receive_bad_element_does_not_stop_the_batch(void) {
  const char *f = "{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\"},{\"H\":\"h\",\"M\":\"m\",\"A\":[1]}]}";
  struct ch_recv r;
  const char *why;
  CU_ASSERT_EQUAL_FATAL(decode(f, false, &r, &why), 0);
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  ch_recv_msgs_begin(&r, &it);
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), -EBADMSG);
  CH_ASSERT_STR(why, "receive: invocation without A");
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 1);
  CU_ASSERT_TRUE(ch_hub_msg_is(&m, "H", "M"));
  CU_ASSERT_EQUAL(ch_recv_msgs_next(&it, &m, &why), 0);
}

static void test_signalr_receive_hub_responses(void) {
  struct ch_recv r;
  const char *why;
  CU_ASSERT_EQUAL(decode("{\"I\":\"0\"}", false, &r, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_HUB_RESPONSE);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.i, "0"));
  CU_ASSERT_PTR_NULL(r.r.p);
  CU_ASSERT_EQUAL(decode("{\"R\":{\"PartId\":\"P-1001\",\"Qty\":5},\"I\":\"0\"}", false, &r, &why), 0);
  CU_ASSERT_EQUAL(ch_json_kind(r.r), CH_JSON_OBJECT);
  CU_ASSERT_EQUAL(decode("{\"R\":42,\"I\":1}", false, &r, &why), 0); /* a number id is accepted */
  CU_ASSERT_EQUAL(ch_json_kind(r.i), CH_JSON_NUMBER);
  CU_ASSERT_EQUAL(decode("{\"I\":\"3\",\"E\":\"There was an error invoking Hub method 'parthub.ResetPart'.\"}",
                         false, &r, &why),
                  0);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.e, "There was an error invoking Hub method 'parthub.ResetPart'."));
  CU_ASSERT_FALSE(r.h);
  CU_ASSERT_EQUAL(decode("{\"I\":\"3\",\"H\":true,\"E\":\"Part not found\",\"D\":{\"code\":404},\"T\":\"at x\","
                         "\"S\":{\"k\":1}}",
                         false, &r, &why),
                  0);
  CU_ASSERT_TRUE(r.h);
  CU_ASSERT_EQUAL(ch_json_kind(r.d), CH_JSON_OBJECT);
  CU_ASSERT_TRUE(ch_json_str_eqz(r.st, "at x"));
  CU_ASSERT_EQUAL(ch_json_kind(r.state), CH_JSON_OBJECT);
  /* a progress update that arrives as a hub response (JS looks at P first) */
  CU_ASSERT_EQUAL(decode("{\"I\":\"P|4\",\"P\":{\"I\":\"4\",\"D\":50}}", false, &r, &why), 0);
  CU_ASSERT_EQUAL(r.kind, CH_RECV_HUB_RESPONSE);
  struct ch_span v;
  CU_ASSERT_EQUAL(ch_json_pointer(r.progress, "/D", &v), 1);
  CU_ASSERT_EQUAL(v.n, 2);
  CU_ASSERT_EQUAL(decode("{\"I\":\"P|4\",\"P\":3}", false, &r, &why), -EBADMSG);
  CH_ASSERT_STR(why, "receive: P is not an object");
}

static void recv_expect(const char *frame, const char *msg) {
  struct ch_recv r;
  const char *why = NULL;
  CU_ASSERT_EQUAL(ch_recv_decode(frame, strlen(frame), false, &r, &why), -EBADMSG);
  if (!why || strcmp(why, msg))
    printf("\nframe %s: got \"%s\", want \"%s\"\n", frame, why ? why : "(null)", msg);
  CH_ASSERT_STR(why, msg);
}

static void msgs_expect(const char *frame, const char *msg) {
  struct ch_recv r;
  const char *why = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_recv_decode(frame, strlen(frame), false, &r, &why), 0);
  struct ch_msg_iter it;
  struct ch_hub_msg m;
  int rc;
  ch_recv_msgs_begin(&r, &it);
  while ((rc = ch_recv_msgs_next(&it, &m, &why)) == 1)
    ;
  CU_ASSERT_EQUAL(rc, -EBADMSG);
  if (!why || strcmp(why, msg))
    printf("\nframe %s: got \"%s\", want \"%s\"\n", frame, why ? why : "(null)", msg);
  CH_ASSERT_STR(why, msg);
}

static void test_signalr_receive_malformed(void) {
  recv_expect("initialized", "receive: frame is not JSON");
  recv_expect("<html>", "receive: frame is not JSON");
  recv_expect("[1,2]", "receive: frame is not an object");
  recv_expect("\"x\"", "receive: frame is not an object");
  recv_expect("{\"C\":\"x\",\"M\":[", "receive: frame is not JSON");
  recv_expect("{\"C\":\"x\"} {}", "receive: trailing data after the frame");
  recv_expect("{\"C\":1,\"M\":[]}", "receive: C is not a string");
  recv_expect("{\"C\":\"x\",\"M\":{}}", "receive: M is not an array");
  recv_expect("{\"C\":\"x\",\"S\":\"1\",\"M\":[]}", "receive: S is not a number");
  recv_expect("{\"C\":\"x\",\"T\":true,\"M\":[]}", "receive: T is not a number");
  recv_expect("{\"C\":\"x\",\"G\":5,\"M\":[]}", "receive: G is not a string");
  recv_expect("{\"C\":\"x\",\"L\":-1,\"M\":[]}", "receive: L is not a non-negative integer");
  recv_expect("{\"I\":[]}", "receive: I is not a string or number");
  recv_expect("{\"I\":\"1\",\"E\":5}", "receive: E is not a string");
  recv_expect("{\"I\":\"1\",\"H\":\"yes\"}", "receive: H is not a boolean");
  msgs_expect("{\"C\":\"x\",\"M\":[{\"H\":1,\"M\":\"Update\",\"A\":[]}]}", "receive: H is not a string");
  msgs_expect("{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"Update\",\"A\":{}}]}", "receive: A is not an array");
  msgs_expect("{\"C\":\"x\",\"M\":[{\"M\":\"Update\",\"A\":[]}]}", "receive: invocation without H");
  msgs_expect("{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"A\":[]}]}", "receive: invocation without M");
  msgs_expect("{\"C\":\"x\",\"M\":[{\"H\":\"h\",\"M\":\"m\"}]}", "receive: invocation without A");
  msgs_expect("{\"C\":\"x\",\"M\":[{\"I\":\"P|0\",\"P\":[]}]}", "receive: P is not an object");
  /* deep nesting inside a frame is refused, not recursed into */
  char deep[400];
  size_t n = (size_t)snprintf(deep, sizeof deep, "{\"C\":\"x\",\"M\":[");
  for (int i = 0; i < 80; i++)
    deep[n++] = '[';
  for (int i = 0; i < 80; i++)
    deep[n++] = ']';
  memcpy(deep + n, "]}", 3);
  recv_expect(deep, "receive: frame is not JSON");
  /* truncation at every offset of T5 never passes as a complete frame */
  const char *t5 = "{\"C\":\"d-5A1F00C3-B,0|C,0|D,2|E,1\",\"M\":[{\"H\":\"PartHub\",\"M\":\"Update\",\"A\":[{}]}]}";
  for (size_t cut = 1; cut < strlen(t5); cut++) {
    struct ch_recv r;
    const char *why;
    CU_ASSERT_EQUAL(ch_recv_decode(t5, cut, false, &r, &why), -EBADMSG);
  }
}

static void test_signalr_encode_invocation(void) {
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_encode_invocation(&b, "ResourceEventHub", "SubscribeToPart", "[\"1882708\"]", 11, 0, false, NULL),
                  0);
  CH_ASSERT_STR(b.data, "{\"H\":\"ResourceEventHub\",\"M\":\"SubscribeToPart\",\"A\":[\"1882708\"],\"I\":0}");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_encode_invocation(&b, "parthub", "SubscribeToPart", " [\"P-1001\"] ", 12, 7, true, "{\"a\":1}"),
                  0);
  CH_ASSERT_STR(b.data, "{\"H\":\"parthub\",\"M\":\"SubscribeToPart\",\"A\":[\"P-1001\"],\"I\":\"7\",\"S\":{\"a\":1}}");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_encode_invocation(&b, "h\"x", "m", NULL, 0, 1, false, NULL), 0);
  CH_ASSERT_STR(b.data, "{\"H\":\"h\\\"x\",\"M\":\"m\",\"A\":[],\"I\":1}");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_encode_invocation(&b, "h", "m", "{}", 2, 1, false, NULL), -EINVAL);
  CU_ASSERT_EQUAL(ch_encode_invocation(&b, "h", "m", "[1,", 3, 1, false, NULL), -EINVAL);
  CU_ASSERT_EQUAL(ch_encode_invocation(&b, "h", "m", "[]", 2, 1, false, "[]"), -EINVAL);
  CU_ASSERT_EQUAL(b.len, 0);
  ch_buf_free(&b);
}

static void test_signalr_encode_bodies(void) {
  struct ch_buf b = CH_BUF_INIT;
  const char *hubs[] = {"ResourceEventHub", "JobEventHub"};
  CU_ASSERT_EQUAL(ch_encode_connection_data(&b, hubs, 2, false), 0);
  CH_ASSERT_STR(b.data, "[{\"name\":\"ResourceEventHub\"},{\"name\":\"JobEventHub\"}]");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_encode_connection_data(&b, hubs, 1, true), 0);
  CH_ASSERT_STR(b.data, "[{\"Name\":\"ResourceEventHub\"}]");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_encode_connection_data(&b, NULL, 0, false), 0);
  CH_ASSERT_STR(b.data, "[]");
  ch_buf_reset(&b);
  /* T4 send body */
  const char *inv = "{\"H\":\"parthub\",\"M\":\"SubscribeToPart\",\"A\":[\"P-1001\"],\"I\":0}";
  CU_ASSERT_EQUAL(ch_encode_send_body(&b, inv, strlen(inv)), 0);
  CH_ASSERT_STR(b.data, "data=%7B%22H%22%3A%22parthub%22%2C%22M%22%3A%22SubscribeToPart%22%2C%22A%22%3A%5B%22P-"
                        "1001%22%5D%2C%22I%22%3A0%7D");
  ch_buf_reset(&b);
  /* T8 poll body */
  CU_ASSERT_EQUAL(ch_encode_poll_body(&b, "d-5A1F00C3-B,0|C,0|D,1", NULL), 0);
  CH_ASSERT_STR(b.data, "messageId=d-5A1F00C3-B%2C0%7CC%2C0%7CD%2C1");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_encode_poll_body(&b, "c", "AQ+/="), 0);
  CH_ASSERT_STR(b.data, "messageId=c&groupsToken=AQ%2B%2F%3D");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_encode_poll_body(&b, NULL, NULL), 0);
  CH_ASSERT_STR(b.data, "");
  ch_buf_free(&b);
}

#define CDATA "%5B%7B%22name%22%3A%22parthub%22%7D%5D"
#define TOKEN "AQ%2B%2F%3D"

static void url_expect(enum ch_request req, const struct ch_url_params *p, const char *want) {
  struct ch_buf b = CH_BUF_INIT;
  int rc = ch_url_build(&b, req, p);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc || strcmp(b.data, want))
    printf("\n%s: got  %s\n%*swant %s\n", ch_request_name(req), b.data ? b.data : "(null)",
           (int)strlen(ch_request_name(req)) + 2, "", want);
  CH_ASSERT_STR(b.data, want);
  ch_buf_free(&b);
}

static void test_signalr_urls_match_the_js_client(void) {
  struct ch_url base;
  CU_ASSERT_EQUAL_FATAL(ch_url_parse("http://host", &base, NULL), 0);
  struct ch_url_params p = {.base = &base, .transport = CH_TRANSPORT_WEBSOCKETS, .connection_token = "AQ+/=",
                            .connection_data = "[{\"name\":\"parthub\"}]", .tid = 7, .cache_buster = 1718000000000};
  url_expect(CH_REQ_NEGOTIATE, &p, "http://host/signalr/negotiate?clientProtocol=2.1&connectionData=" CDATA
                                   "&_=1718000000000");
  url_expect(CH_REQ_CONNECT, &p, "ws://host/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken="
                                 TOKEN "&connectionData=" CDATA "&tid=7");
  p.cache_buster = 1718000000001;
  url_expect(CH_REQ_START, &p, "http://host/signalr/start?transport=webSockets&clientProtocol=2.1&connectionToken="
                               TOKEN "&connectionData=" CDATA "&_=1718000000001");
  p.groups_token = "G+1";
  p.message_id = "d-5A1F00C3-B,0|C,0|D,1";
  url_expect(CH_REQ_RECONNECT, &p,
             "ws://host/signalr/reconnect?transport=webSockets&groupsToken=G%2B1&messageId=d-5A1F00C3-B%2C0%7CC%2C0%7C"
             "D%2C1&clientProtocol=2.1&connectionToken=" TOKEN "&connectionData=" CDATA "&tid=7");
  url_expect(CH_REQ_CONNECT, &p, "ws://host/signalr/connect?transport=webSockets&groupsToken=G%2B1&clientProtocol=2.1"
                                 "&connectionToken=" TOKEN "&connectionData=" CDATA "&tid=7");
  url_expect(CH_REQ_ABORT, &p, "http://host/signalr/abort?transport=webSockets&clientProtocol=2.1&connectionToken="
                               TOKEN "&connectionData=" CDATA);
  url_expect(CH_REQ_PING, &p, "http://host/signalr/ping?_=1718000000001");
  /* SSE with a query credential, a virtual directory and the negotiate Url */
  ch_url_free(&base);
  CU_ASSERT_EQUAL_FATAL(ch_url_parse("https://staging.example:8443/Centro", &base, NULL), 0);
  p.transport = CH_TRANSPORT_SSE;
  p.negotiate_url = "/Centro/signalr";
  p.cred_name = "access_token";
  p.cred_value = "tok en+";
  p.cache_buster = 0;
  p.groups_token = NULL;
  p.tid = -1;
  url_expect(CH_REQ_RECONNECT, &p,
             "https://staging.example:8443/Centro/signalr/reconnect?transport=serverSentEvents&messageId=d-5A1F00C3-"
             "B%2C0%7CC%2C0%7CD%2C1&clientProtocol=2.1&access_token=tok%20en%2B&connectionToken=" TOKEN
             "&connectionData=" CDATA);
  url_expect(CH_REQ_SEND, &p, "https://staging.example:8443/Centro/signalr/send?transport=serverSentEvents&"
                              "clientProtocol=2.1&access_token=tok%20en%2B&connectionToken=" TOKEN
                              "&connectionData=" CDATA);
  url_expect(CH_REQ_PING, &p, "https://staging.example:8443/Centro/signalr/ping?access_token=tok%20en%2B");
  url_expect(CH_REQ_NEGOTIATE, &p, "https://staging.example:8443/Centro/signalr/negotiate?clientProtocol=2.1&"
                                   "access_token=tok%20en%2B&connectionData=" CDATA);
  /* long polling (T8): tokens go in the body, no tid */
  p.transport = CH_TRANSPORT_LONGPOLLING;
  p.cred_name = NULL;
  p.tid = 3;
  p.groups_token = "G";
  url_expect(CH_REQ_CONNECT, &p, "https://staging.example:8443/Centro/signalr/connect?transport=longPolling&"
                                 "clientProtocol=2.1&connectionToken=" TOKEN "&connectionData=" CDATA);
  url_expect(CH_REQ_POLL, &p, "https://staging.example:8443/Centro/signalr/poll?transport=longPolling&"
                              "clientProtocol=2.1&connectionToken=" TOKEN "&connectionData=" CDATA);
  p.lp_tokens_in_query = true;
  p.client_protocol = "1.5";
  url_expect(CH_REQ_RECONNECT, &p,
             "https://staging.example:8443/Centro/signalr/reconnect?transport=longPolling&clientProtocol=1.5&"
             "connectionToken=" TOKEN "&connectionData=" CDATA "&messageId=d-5A1F00C3-B%2C0%7CC%2C0%7CD%2C1&"
             "groupsToken=G");
  /* errors leave the buffer untouched */
  struct ch_buf b = CH_BUF_INIT;
  ch_buf_puts(&b, "keep");
  p.transport = CH_TRANSPORT_WEBSOCKETS;
  CU_ASSERT_EQUAL(ch_url_build(&b, CH_REQ_POLL, &p), -EINVAL);
  p.connection_token = NULL;
  CU_ASSERT_EQUAL(ch_url_build(&b, CH_REQ_START, &p), -EINVAL);
  CU_ASSERT_EQUAL(ch_url_build(&b, CH_REQ_NEGOTIATE, NULL), -EINVAL);
  CH_ASSERT_STR(b.data, "keep");
  /* IPv6 loopback with a custom endpoint and no negotiate Url */
  ch_url_free(&base);
  CU_ASSERT_EQUAL_FATAL(ch_url_parse("http://[::1]:8080", &base, NULL), 0);
  struct ch_url_params q = {.base = &base, .endpoint = "/rt", .transport = CH_TRANSPORT_WEBSOCKETS,
                            .connection_token = "t", .tid = -1};
  url_expect(CH_REQ_CONNECT, &q,
             "ws://[::1]:8080/rt/connect?transport=webSockets&clientProtocol=2.1&connectionToken=t");
  ch_buf_free(&b);
  ch_url_free(&base);
}

static void redact_expect(const char *in, const char *cred, const char *want) {
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_redact(&b, in, strlen(in), cred), 0);
  if (strcmp(b.data, want))
    printf("\ngot  %s\nwant %s\n", b.data, want);
  CH_ASSERT_STR(b.data, want);
  ch_buf_free(&b);
}

static void test_signalr_redaction(void) {
  redact_expect("ws://h/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=AQ%2B%2F&"
                "connectionData=%5B%5D&tid=1",
                NULL,
                "ws://h/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=[redacted]&"
                "connectionData=%5B%5D&tid=1");
  redact_expect("/x?groupsToken=G1&messageId=m&access_token=abc#frag", NULL,
                "/x?groupsToken=[redacted]&messageId=m&access_token=[redacted]#frag");
  redact_expect("/x?key=secret&keyx=1", "key", "/x?key=[redacted]&keyx=1");
  redact_expect("messageId=c&groupsToken=AQ%2B", NULL, "messageId=c&groupsToken=[redacted]");
  redact_expect("Authorization: Bearer abc.def", NULL, "Authorization: [redacted]");
  redact_expect("Host: h\r\nauthorization:Bearer x\r\nAccept: */*\r\n", NULL,
                "Host: h\r\nauthorization: [redacted]\r\nAccept: */*\r\n");
  redact_expect("GET /signalr/start?connectionToken=abc HTTP/1.1", NULL,
                "GET /signalr/start?connectionToken=[redacted] HTTP/1.1");
  redact_expect("no secrets here", NULL, "no secrets here");
  redact_expect("> GET /x HTTP/1.1\r\n> Authorization: Bearer abc\r\n> Cookie: s=1\r\n", NULL,
                "> GET /x HTTP/1.1\r\n> Authorization: [redacted]\r\n> Cookie: [redacted]\r\n");
  redact_expect("X-Not-Authorization: keep", NULL, "X-Not-Authorization: keep");
  redact_expect("{\"url\":\"connectionToken=abc\",\"q\":'access_token=x'}", NULL,
                "{\"url\":\"connectionToken=[redacted]\",\"q\":'access_token=[redacted]'}");
  redact_expect("myconnectionToken=abc", NULL, "myconnectionToken=abc");
  redact_expect("headers {Authorization: Bearer abc}", NULL, "headers {Authorization: [redacted]");

  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_redact_json(&b, T1_BODY, strlen(T1_BODY), NULL), 0);
  CU_ASSERT_PTR_NULL(strstr(b.data, T1_TOKEN));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"ConnectionToken\":\"[redacted]\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"ConnectionId\":\"3f2c6a1e"));
  ch_buf_reset(&b);
  const char *g = "{\"C\":\"d-1\",\"G\":\"AQ==\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[\"G\"]}]}";
  CU_ASSERT_EQUAL(ch_redact_json(&b, g, strlen(g), NULL), 0);
  CH_ASSERT_STR(b.data, "{\"C\":\"d-1\",\"G\":\"[redacted]\",\"M\":[{\"H\":\"h\",\"M\":\"m\",\"A\":[\"G\"]}]}");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_redact_json(&b, "{\"ConnectionToken\":\"abc", 23, NULL), 0);
  CH_ASSERT_STR(b.data, "[redacted non-JSON body]");
  ch_buf_reset(&b);
  const char *h = "{\"authorization\":\"Bearer abc\",\"n\":1}";
  CU_ASSERT_EQUAL(ch_redact_json(&b, h, strlen(h), NULL), 0);
  CH_ASSERT_STR(b.data, "{\"authorization\":\"[redacted]\",\"n\":1}");
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_redact_json(&b, "Bad Request", 11, NULL), 0);
  CH_ASSERT_STR(b.data, "Bad Request");
  ch_buf_free(&b);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_signalr_negotiate_t1),
                         CH_TEST(test_signalr_negotiate_errors),
                         CH_TEST(test_signalr_negotiate_azure_fields),
                         CH_TEST(test_signalr_protocol_acceptance),
                         CH_TEST(test_signalr_receive_init_group_and_keepalive),
                         CH_TEST(test_signalr_receive_push_batches),
                         CH_TEST(test_signalr_receive_big_long_poll_batch),
                         CH_TEST(test_signalr_receive_bad_element_does_not_stop_the_batch),
                         CH_TEST(test_signalr_receive_hub_responses),
                         CH_TEST(test_signalr_receive_malformed),
                         CH_TEST(test_signalr_encode_invocation),
                         CH_TEST(test_signalr_encode_bodies),
                         CH_TEST(test_signalr_urls_match_the_js_client),
                         CH_TEST(test_signalr_redaction),
                         CU_TEST_INFO_NULL};
  return ch_test_run("signalr", tests);
}
