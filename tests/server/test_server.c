/* The reference endpoint end to end over loopback: negotiate, errors, auth, the three transports, hub calls,
   publish/subscribe isolation, keep-alives, long-poll holds, replay and groups tokens after a drop. */
#include <errno.h>
#include <stdlib.h>

#include "ch_rng.h"
#include "ch_server.h"
#include "ch_test.h"
#include "srv_fixture.h"

/* GET target and expect the 22 bytes of the pong, nothing more. */
static void expect_pong(int port, const char *target, const char *hdrs) {
  struct resp r;
  http_req(port, "GET", target, hdrs, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CH_ASSERT_BODY(&r, "{ \"Response\": \"pong\" }");
  resp_free(&r);
}

static void test_server_negotiate_fields_in_order(void) {
  struct fx f;
  struct ch_server_opts o = {0};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  struct resp r;
  char target[256], v[128];
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s&_=1", CDATA_RES);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_TRUE(resp_header(&r, "content-type", v, sizeof v) && strcmp(v, "application/json; charset=UTF-8") == 0);
  CU_ASSERT_TRUE(resp_header(&r, "x-content-type-options", v, sizeof v) && strcmp(v, "nosniff") == 0);
  const char *b = r.body.data;
  /* the shape byte for byte: these bytes first, these last, nothing after them, and no NUL in between */
  CH_ASSERT_STARTS(b, r.body.len, "{\"Url\":\"/signalr\",\"ConnectionToken\":\"");
  CH_ASSERT_ENDS(b, r.body.len,
                 "\",\"KeepAliveTimeout\":20.0,\"DisconnectTimeout\":30.0,\"ConnectionTimeout\":110.0,"
                 "\"TryWebSockets\":true,\"ProtocolVersion\":\"2.0\",\"TransportConnectTimeout\":5.0,\"LongPollDelay\":0.0}");
  CU_ASSERT_EQUAL(strlen(b), r.body.len);
  CU_ASSERT_PTR_NOT_NULL(strstr(b, "\",\"ConnectionId\":\""));
  CU_ASSERT_TRUE(json_str(b, "ConnectionId", v, sizeof v) && strlen(v) == 36 && v[14] == '4');
  resp_free(&r);
  /* clamping: 1.5 stays, a missing or too low version becomes 1.2 */
  http_req(f.port, "GET", "/signalr/negotiate?clientProtocol=1.5", NULL, NULL, &r);
  CU_ASSERT_TRUE(json_str(r.body.data, "ProtocolVersion", v, sizeof v) && strcmp(v, "1.5") == 0);
  resp_free(&r);
  http_req(f.port, "GET", "/signalr/negotiate", NULL, NULL, &r);
  CU_ASSERT_TRUE(json_str(r.body.data, "ProtocolVersion", v, sizeof v) && strcmp(v, "1.2") == 0);
  resp_free(&r);
  http_req(f.port, "POST", "/SignalR/Negotiate?clientProtocol=1.0", NULL, "", &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_TRUE(json_str(r.body.data, "ProtocolVersion", v, sizeof v) && strcmp(v, "1.2") == 0);
  resp_free(&r);
  http_req(f.port, "GET", "/signalr/ping?_=5", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CH_ASSERT_BODY(&r, "{ \"Response\": \"pong\" }"); /* 22 bytes: no NUL after it */
  CU_ASSERT_TRUE(resp_header(&r, "content-length", v, sizeof v) && strcmp(v, "22") == 0);
  CU_ASSERT_TRUE(resp_header(&r, "content-type", v, sizeof v) && strcmp(v, "application/json; charset=UTF-8") == 0);
  resp_free(&r);
  fx_stop(&f);
}

static void test_server_base_path_and_errors(void) {
  struct fx f;
  struct ch_server_opts o = {.base = "/Centro"};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  struct resp r;
  char target[1024], tok[512], v[128];
  http_req(f.port, "GET", "/Centro/signalr/negotiate?clientProtocol=2.1", NULL, NULL, &r);
  CU_ASSERT_TRUE(json_str(r.body.data, "Url", v, sizeof v) && strcmp(v, "/Centro/signalr") == 0);
  CU_ASSERT_TRUE(json_str(r.body.data, "ConnectionToken", v, sizeof v));
  pct(v, tok, sizeof tok);
  resp_free(&r);
  http_req(f.port, "GET", "/signalr/negotiate", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 404);
  resp_free(&r);
  /* unknown hub: 500 */
  http_req(f.port, "GET", "/Centro/signalr/negotiate?connectionData=%5B%7B%22name%22%3A%22nopehub%22%7D%5D", NULL,
           NULL, &r);
  CU_ASSERT_EQUAL(r.status, 500);
  resp_free(&r);
  /* unknown transport, missing token, forged token: 400 with the real texts and no Content-Type */
  snprintf(target, sizeof target, "/Centro/signalr/start?transport=carrierPigeon&connectionToken=%s", tok);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 400);
  CH_ASSERT_BODY(&r, "Protocol error: Unknown transport.");
  CU_ASSERT_FALSE(resp_header(&r, "content-type", v, sizeof v));
  resp_free(&r);
  http_req(f.port, "GET", "/Centro/signalr/start?transport=webSockets", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 400);
  CH_ASSERT_BODY(&r, "Protocol error: Missing connection token.");
  resp_free(&r);
  http_req(f.port, "GET", "/Centro/signalr/start?transport=webSockets&connectionToken=AQAAANCMnd8BFdERjHoAwE%2FCl%2BsBAAAA", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 400);
  CH_ASSERT_BODY(&r, "The ConnectionId is in the incorrect format.");
  resp_free(&r);
  /* webSockets connect without an upgrade */
  snprintf(target, sizeof target, "/Centro/signalr/connect?transport=webSockets&connectionToken=%s", tok);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 400);
  CH_ASSERT_BODY(&r, "Not a valid web socket request.");
  resp_free(&r);
  /* start works for a valid token */
  snprintf(target, sizeof target, "/Centro/signalr/start?transport=webSockets&clientProtocol=2.1&connectionToken=%s", tok);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CH_ASSERT_BODY(&r, "{ \"Response\": \"started\" }");
  resp_free(&r);
  /* abort: 200 text/plain, empty */
  snprintf(target, sizeof target, "/Centro/signalr/abort?transport=webSockets&connectionToken=%s", tok);
  http_req(f.port, "POST", target, NULL, "", &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_EQUAL(r.body.len, 0);
  CU_ASSERT_TRUE(resp_header(&r, "content-type", v, sizeof v) && strncmp(v, "text/plain", 10) == 0);
  resp_free(&r);
  fx_stop(&f);
}

static void test_server_authorization(void) {
  const char *bob_parts[] = {"1882708"};
  struct ch_server_token toks[] = {
      {.token = "alice-secret", .user = "alice"},
      {.token = "bob-secret", .user = "bob", .parts = bob_parts, .n_parts = 1},
      {.token = "carol-secret", .user = "carol", .hubs = CH_HUB_JOB},
  };
  struct fx f;
  struct ch_server_opts o = {.tokens = toks, .n_tokens = 3};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  struct resp r;
  char target[1024], tok[512];
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s", CDATA_RES);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 401);
  CU_ASSERT_EQUAL(r.body.len, 0);
  resp_free(&r);
  http_req(f.port, "GET", target, "Authorization: Bearer wrong\r\n", NULL, &r);
  CU_ASSERT_EQUAL(r.status, 401);
  resp_free(&r);
  http_req(f.port, "GET", target, "Authorization: Bearer carol-secret\r\n", NULL, &r);
  CU_ASSERT_EQUAL(r.status, 403);
  CU_ASSERT_EQUAL(r.body.len, 0);
  resp_free(&r);
  /* without connectionData nothing is authorized (§6): ping and negotiate are answered to the anonymous user, whose
     connection then may not invoke a hub method (every hub needs a user) */
  expect_pong(f.port, "/signalr/ping", NULL);
  expect_pong(f.port, "/signalr/ping", "Authorization: Bearer wrong\r\n");
  CU_ASSERT_TRUE_FATAL(negotiate(&f, "%5B%5D", NULL, tok, sizeof tok)); /* connectionData=[] */
  snprintf(target, sizeof target, "/signalr/send?transport=longPolling&connectionToken=%s", tok);
  http_req(f.port, "POST", target, NULL,
           "data=%7B%22H%22%3A%22resourceeventhub%22%2C%22M%22%3A%22SubscribeToPart%22%2C%22A%22%3A%5B%221882708%22%5D%2C%22I%22%3A0%7D",
           &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CH_ASSERT_BODY(&r, "{\"I\":\"0\",\"E\":\"There was an error invoking Hub method 'resourceeventhub.SubscribeToPart'.\"}");
  resp_free(&r);
  /* ...and a request naming a hub needs a user even with an anonymous connection token */
  snprintf(target, sizeof target, "/signalr/start?transport=longPolling&connectionToken=%s&connectionData=%s", tok,
           CDATA_RES);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 401);
  CU_ASSERT_EQUAL(r.body.len, 0);
  resp_free(&r);
  snprintf(target, sizeof target, "/signalr/negotiate?clientProtocol=2.1&connectionData=%s", CDATA_RES);
  char t2[1100];
  snprintf(t2, sizeof t2, "%s&access_token=alice-secret", target);
  http_req(f.port, "GET", t2, NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
  /* a connection token used by another user: 403 with the real text */
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, "Authorization: Bearer alice-secret\r\n", tok, sizeof tok));
  snprintf(target, sizeof target, "/signalr/start?transport=longPolling&connectionToken=%s&connectionData=%s", tok,
           CDATA_RES);
  http_req(f.port, "GET", target, "Authorization: Bearer bob-secret\r\n", NULL, &r);
  CU_ASSERT_EQUAL(r.status, 403);
  CH_ASSERT_BODY(&r,
                "Unrecognized user identity.  The user identity cannot change during an active SignalR connection.");
  resp_free(&r);
  /* bob may subscribe to 1882708 but not to 1882709: a hub error in E */
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, "Authorization: Bearer bob-secret\r\n", tok, sizeof tok));
  snprintf(target, sizeof target, "/signalr/send?transport=longPolling&connectionToken=%s&connectionData=%s", tok,
           CDATA_RES);
  http_req(f.port, "POST", target, "Authorization: Bearer bob-secret\r\n",
           "data=%7B%22H%22%3A%22resourceeventhub%22%2C%22M%22%3A%22SubscribeToPart%22%2C%22A%22%3A%5B%221882708%22%5D%2C%22I%22%3A0%7D",
           &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CH_ASSERT_BODY(&r, "{\"I\":\"0\"}");
  resp_free(&r);
  http_req(f.port, "POST", target, "Authorization: Bearer bob-secret\r\n",
           "data=%7B%22H%22%3A%22resourceeventhub%22%2C%22M%22%3A%22SubscribeToPart%22%2C%22A%22%3A%5B%221882709%22%5D%2C%22I%22%3A1%7D",
           &r);
  CH_ASSERT_BODY(&r,
                "{\"I\":\"1\",\"E\":\"There was an error invoking Hub method 'resourceeventhub.SubscribeToPart'.\"}");
  resp_free(&r);
  fx_stop(&f);
}

/* WebSocket: init, start, subscribe (G then completion), publish reaches exactly the subscriber, unsubscribe stops */
static void test_server_websocket_flow(void) {
  struct fx f;
  struct ch_server_opts o = {0};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tokA[512], tokB[512], target[1024];
  struct ch_buf fr = CH_BUF_INIT;
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tokA, sizeof tokA));
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tokB, sizeof tokB));
  snprintf(target, sizeof target,
           "/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=%s&connectionData=%s&tid=7", tokA,
           CDATA_RES);
  int a = ws_open(f.port, target, NULL, NULL);
  snprintf(target, sizeof target,
           "/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=%s&connectionData=%s&tid=3", tokB,
           CDATA_RES);
  int b = ws_open(f.port, target, NULL, NULL);
  CU_ASSERT_FATAL(a >= 0 && b >= 0);
  CU_ASSERT_EQUAL(ws_recv(a, &fr, 3000), 1);
  CH_ASSERT_STARTS(fr.data, fr.len, "{\"C\":\"d-");
  CH_ASSERT_ENDS(fr.data, fr.len, "\",\"S\":1,\"M\":[]}");
  CU_ASSERT_EQUAL(strlen(fr.data), fr.len);
  CU_ASSERT_EQUAL(ws_recv(b, &fr, 3000), 1);
  struct resp r;
  snprintf(target, sizeof target, "/signalr/start?transport=webSockets&clientProtocol=2.1&connectionToken=%s", tokA);
  http_req(f.port, "GET", target, NULL, NULL, &r);
  CH_ASSERT_BODY(&r, "{ \"Response\": \"started\" }");
  resp_free(&r);
  ws_send(a, "{\"H\":\"resourceeventhub\",\"M\":\"SubscribeToPart\",\"A\":[\"1882708\"],\"I\":0}");
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "\"G\":\"", 3000));
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "{\"I\":\"0\"}", 3000));
  CH_ASSERT_BYTES(fr.data, fr.len, "{\"I\":\"0\"}");
  ws_send(b, "{\"H\":\"ResourceEventHub\",\"M\":\"subscribetopart\",\"A\":[\"2001544\"],\"I\":\"7\"}");
  CU_ASSERT_TRUE(ws_recv_match(b, &fr, "{\"I\":\"7\"}", 3000));
  /* unknown method: generic error, I as a string */
  ws_send(a, "{\"H\":\"resourceeventhub\",\"M\":\"Nope\",\"A\":[],\"I\":5}");
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "{\"I\":\"5\",\"E\":\"There was an error invoking Hub method 'resourceeventhub.Nope'.\"}", 3000));
  CH_ASSERT_BYTES(fr.data, fr.len, "{\"I\":\"5\",\"E\":\"There was an error invoking Hub method 'resourceeventhub.Nope'.\"}");
  CU_ASSERT_EQUAL(publish(&f, "ResourceEventHub", "1882708", 2), 200);
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "\"HarnessSeq\":1", 3000));
  CU_ASSERT_PTR_NOT_NULL(strstr(fr.data, "{\"H\":\"ResourceEventHub\",\"M\":\"Update\",\"A\":[{\"PartKey\":\"1882708\""));
  if (!strstr(fr.data, "\"HarnessSeq\":2"))
    CU_ASSERT_TRUE(ws_recv_match(a, &fr, "\"HarnessSeq\":2", 3000));
  CU_ASSERT_PTR_NOT_NULL(strstr(fr.data, "\"HarnessSentUs\":"));
  /* b subscribed to another part: nothing arrives */
  CU_ASSERT_EQUAL(ws_recv(b, &fr, 300), 0);
  /* unsubscribe stops delivery */
  ws_send(a, "{\"H\":\"resourceeventhub\",\"M\":\"UnsubscribeFromPart\",\"A\":[\"1882708\"],\"I\":1}");
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "{\"I\":\"1\"}", 3000));
  CU_ASSERT_EQUAL(publish(&f, "ResourceEventHub", "1882708", 1), 200);
  bool got = false;
  for (int i = 0; i < 5; i++) {
    int op = ws_recv(a, &fr, 200);
    if (op <= 0)
      break;
    if (strstr(fr.data, "Update"))
      got = true;
  }
  CU_ASSERT_FALSE(got);
  /* stats count the live sockets */
  http_req(f.cport, "GET", "/stats", NULL, NULL, &r);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"webSockets\":2"));
  resp_free(&r);
  close(a);
  close(b);
  ch_buf_free(&fr);
  fx_stop(&f);
}

/* The WebSocket keep-alive is exactly the two bytes {} (§7). */
static void test_server_websocket_keepalive_frame(void) {
  struct fx f;
  struct ch_server_opts o = {.keepalive_s = 0.2};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[512], target[1024];
  struct ch_buf fr = CH_BUF_INIT;
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tok, sizeof tok));
  snprintf(target, sizeof target,
           "/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=%s&connectionData=%s", tok,
           CDATA_RES);
  int fd = ws_open(f.port, target, NULL, NULL);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(ws_recv(fd, &fr, 3000), 1); /* init */
  CU_ASSERT_EQUAL(ws_recv(fd, &fr, 3000), 1);
  CH_ASSERT_BYTES(fr.data, fr.len, "{}");
  close(fd);
  ch_buf_free(&fr);
  fx_stop(&f);
}

static void test_server_sse_flow_and_keepalive(void) {
  struct fx f;
  struct ch_server_opts o = {.keepalive_s = 0.3};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[512], target[1024];
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_JOB, NULL, tok, sizeof tok));
  snprintf(target, sizeof target,
           "/signalr/connect?transport=serverSentEvents&clientProtocol=2.1&connectionToken=%s&connectionData=%s&tid=1",
           tok, CDATA_JOB);
  int fd = tcp_connect(f.port);
  CU_ASSERT_FATAL(fd >= 0);
  http_send_req(fd, "GET", target, "Accept: text/event-stream\r\n", NULL);
  struct ch_buf raw = CH_BUF_INIT;
  CU_ASSERT_TRUE(read_until(fd, &raw, "\",\"S\":1,\"M\":[]}\r\n\r\n", 3000));
  CU_ASSERT_PTR_NOT_NULL(strstr(raw.data, "Content-Type: text/event-stream") ?: strstr(raw.data, "content-type: text/event-stream"));
  CU_ASSERT_PTR_NOT_NULL(strcasestr(raw.data, "\r\ntransfer-encoding: chunked\r\n"));
  struct ch_buf dec = CH_BUF_INIT;
  const char *hend = strstr(raw.data, "\r\n\r\n");
  dechunk(hend + 4, raw.len - (size_t)(hend + 4 - raw.data), &dec);
  const char *want = "data: initialized\n\ndata: {\"C\":\"d-";
  CU_ASSERT_TRUE(dec.data && strncmp(dec.data, want, strlen(want)) == 0);
  ch_buf_free(&dec);
  struct resp r;
  snprintf(target, sizeof target, "/signalr/send?transport=serverSentEvents&clientProtocol=2.1&connectionToken=%s", tok);
  http_req(f.port, "POST", target, "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n",
           "data=%7B%22H%22%3A%22jobeventhub%22%2C%22M%22%3A%22SubscribeToPipeline%22%2C%22A%22%3A%5B%2212%22%5D%2C%22I%22%3A0%7D",
           &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CH_ASSERT_BODY(&r, "{\"I\":\"0\"}");
  resp_free(&r);
  CU_ASSERT_TRUE(read_until(fd, &raw, "\"G\":\"", 3000));
  CU_ASSERT_EQUAL(publish(&f, "JobEventHub", "12", 1), 200);
  CU_ASSERT_TRUE(read_until(fd, &raw, "{\"H\":\"JobEventHub\",\"M\":\"Update\",\"A\":[{\"Id\":", 3000));
  CU_ASSERT_TRUE(read_until(fd, &raw, "\"PipeId\":\"12\"", 3000));
  CU_ASSERT_TRUE(read_until(fd, &raw, "data: {}\n\n", 3000));
  close(fd);
  ch_buf_free(&raw);
  fx_stop(&f);
}

static void test_server_long_polling_hold_keepalive_and_replay(void) {
  struct fx f;
  struct ch_server_opts o = {.keepalive_s = 0.2, .connection_timeout_s = 0.8};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[512], target[1024], cur[128], body[1024], enc[256];
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tok, sizeof tok));
  struct resp r;
  snprintf(target, sizeof target,
           "/signalr/connect?transport=longPolling&clientProtocol=2.1&connectionToken=%s&connectionData=%s", tok, CDATA_RES);
  http_req(f.port, "POST", target, NULL, "", &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\",\"S\":1,\"M\":[]}"));
  CU_ASSERT_TRUE(json_str(r.body.data, "C", cur, sizeof cur));
  resp_free(&r);
  snprintf(target, sizeof target, "/signalr/send?transport=longPolling&connectionToken=%s", tok);
  http_req(f.port, "POST", target, NULL,
           "data=%7B%22H%22%3A%22resourceeventhub%22%2C%22M%22%3A%22SubscribeToPart%22%2C%22A%22%3A%5B%22P1%22%5D%2C%22I%22%3A0%7D", &r);
  CH_ASSERT_BODY(&r, "{\"I\":\"0\"}");
  resp_free(&r);
  /* first poll returns the G at once */
  pct(cur, enc, sizeof enc);
  snprintf(target, sizeof target, "/signalr/poll?transport=longPolling&clientProtocol=2.1&connectionToken=%s&connectionData=%s",
           tok, CDATA_RES);
  snprintf(body, sizeof body, "messageId=%s", enc);
  http_req(f.port, "POST", target, NULL, body, &r);
  char g[512], genc[600];
  CU_ASSERT_TRUE(json_str(r.body.data, "G", g, sizeof g));
  CU_ASSERT_TRUE(json_str(r.body.data, "C", cur, sizeof cur));
  pct(g, genc, sizeof genc);
  resp_free(&r);
  /* an idle poll is held with keep-alive spaces and ends after ConnectionTimeout with M empty */
  pct(cur, enc, sizeof enc);
  snprintf(body, sizeof body, "messageId=%s&groupsToken=%s", enc, genc);
  http_req(f.port, "POST", target, NULL, body, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_EQUAL(r.body.data[0], ' ');
  /* keep-alive spaces, then {"C":"…","M":[]} and nothing after it */
  CU_ASSERT_EQUAL(strspn(r.body.data, " ") + strlen("{\"C\":\"") + strlen(cur) + strlen("\",\"M\":[]}"), r.body.len);
  CH_ASSERT_ENDS(r.body.data, r.body.len, "\",\"M\":[]}");
  resp_free(&r);
  /* messages published between polls are replayed by the next poll from its messageId */
  CU_ASSERT_EQUAL(publish(&f, "ResourceEventHub", "P1", 3), 200);
  http_req(f.port, "POST", target, NULL, body, &r);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"HarnessSeq\":1"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"HarnessSeq\":3"));
  resp_free(&r);
  /* the same messageId again replays the same messages (the cursor is the client's) */
  http_req(f.port, "POST", target, NULL, body, &r);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"HarnessSeq\":2"));
  resp_free(&r);
  fx_stop(&f);
}

/* A long-polling client subscribes to a second part while no poll is held, then polls with the groups token it has
   (from before that subscribe): the poll must not undo the subscription, and the newer G comes out again. The
   official JS client does exactly this when a /send races its next poll. */
static void test_server_long_poll_stale_groups_token_keeps_newer_groups(void) {
  struct fx f;
  struct ch_server_opts o = {.keepalive_s = 0.2, .connection_timeout_s = 0.8};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[512], target[1024], send[1024], cur[128], body[1400], enc[256], g1[512], g1enc[600], g2[512];
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tok, sizeof tok));
  struct resp r;
  snprintf(target, sizeof target,
           "/signalr/connect?transport=longPolling&clientProtocol=2.1&connectionToken=%s&connectionData=%s", tok, CDATA_RES);
  http_req(f.port, "POST", target, NULL, "", &r);
  CU_ASSERT_TRUE(json_str(r.body.data, "C", cur, sizeof cur));
  resp_free(&r);
  snprintf(send, sizeof send, "/signalr/send?transport=longPolling&connectionToken=%s", tok);
  http_req(f.port, "POST", send, NULL,
           "data=%7B%22H%22%3A%22resourceeventhub%22%2C%22M%22%3A%22SubscribeToPart%22%2C%22A%22%3A%5B%22P1%22%5D%2C%22I%22%3A0%7D", &r);
  resp_free(&r);
  snprintf(target, sizeof target, "/signalr/poll?transport=longPolling&clientProtocol=2.1&connectionToken=%s&connectionData=%s",
           tok, CDATA_RES);
  pct(cur, enc, sizeof enc);
  snprintf(body, sizeof body, "messageId=%s", enc);
  http_req(f.port, "POST", target, NULL, body, &r);
  CU_ASSERT_TRUE_FATAL(json_str(r.body.data, "G", g1, sizeof g1)); /* groups {P1} */
  CU_ASSERT_TRUE(json_str(r.body.data, "C", cur, sizeof cur));
  resp_free(&r);
  /* no poll held: the second subscribe's G is pending */
  http_req(f.port, "POST", send, NULL,
           "data=%7B%22H%22%3A%22resourceeventhub%22%2C%22M%22%3A%22SubscribeToPart%22%2C%22A%22%3A%5B%22P2%22%5D%2C%22I%22%3A1%7D", &r);
  CH_ASSERT_BODY(&r, "{\"I\":\"1\"}");
  resp_free(&r);
  pct(cur, enc, sizeof enc);
  pct(g1, g1enc, sizeof g1enc);
  snprintf(body, sizeof body, "messageId=%s&groupsToken=%s", enc, g1enc);
  http_req(f.port, "POST", target, NULL, body, &r);
  CU_ASSERT_TRUE(json_str(r.body.data, "G", g2, sizeof g2)); /* the newer token again, at once */
  CU_ASSERT_STRING_NOT_EQUAL(g1, g2);
  resp_free(&r);
  http_req(f.cport, "POST", "/publish", NULL, "{\"hub\":\"ResourceEventHub\",\"key\":\"P2\",\"count\":1}", &r);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"subscribers\":1"));
  resp_free(&r);
  http_req(f.cport, "POST", "/publish", NULL, "{\"hub\":\"ResourceEventHub\",\"key\":\"P1\",\"count\":1}", &r);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"subscribers\":1"));
  resp_free(&r);
  fx_stop(&f);
}

/* After /drop, a WebSocket reconnect with messageId and groupsToken gets the missed Updates and keeps its groups;
   without the groups token the groups are gone. */
static void test_server_reconnect_replay_and_groups_token(void) {
  struct fx f;
  struct ch_server_opts o = {0};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[512], target[2400], cur[128], g[512], cenc[256], genc[600];
  struct ch_buf fr = CH_BUF_INIT;
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tok, sizeof tok));
  snprintf(target, sizeof target, "/signalr/connect?transport=webSockets&clientProtocol=2.1&connectionToken=%s&connectionData=%s",
           tok, CDATA_RES);
  int a = ws_open(f.port, target, NULL, NULL);
  CU_ASSERT_FATAL(a >= 0);
  CU_ASSERT_EQUAL(ws_recv(a, &fr, 3000), 1);
  ws_send(a, "{\"H\":\"resourceeventhub\",\"M\":\"SubscribeToPart\",\"A\":[\"1882708\"],\"I\":0}");
  CU_ASSERT_TRUE_FATAL(ws_recv_match(a, &fr, "\"G\":\"", 3000));
  CU_ASSERT_TRUE(json_str(fr.data, "G", g, sizeof g));
  CU_ASSERT_TRUE(json_str(fr.data, "C", cur, sizeof cur));
  struct resp r;
  http_req(f.cport, "POST", "/drop", NULL, "{}", &r);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"dropped\":1"));
  resp_free(&r);
  int op;
  for (int i = 0; i < 20 && (op = ws_recv(a, &fr, 2000)) > 0 && op != 8; i++)
    ;
  close(a);
  CU_ASSERT_EQUAL(publish(&f, "ResourceEventHub", "1882708", 3), 200);
  pct(cur, cenc, sizeof cenc);
  pct(g, genc, sizeof genc);
  snprintf(target, sizeof target,
           "/signalr/reconnect?transport=webSockets&groupsToken=%s&messageId=%s&clientProtocol=2.1&connectionToken=%s&connectionData=%s&tid=2",
           genc, cenc, tok, CDATA_RES);
  a = ws_open(f.port, target, NULL, NULL);
  CU_ASSERT_FATAL(a >= 0);
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "\"HarnessSeq\":1", 3000));
  CU_ASSERT_PTR_NULL(strstr(fr.data, "\"S\":1"));
  if (!strstr(fr.data, "\"HarnessSeq\":3"))
    CU_ASSERT_TRUE(ws_recv_match(a, &fr, "\"HarnessSeq\":3", 3000));
  CU_ASSERT_EQUAL(publish(&f, "ResourceEventHub", "1882708", 1), 200);
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "\"HarnessSeq\":4", 3000));
  close(a);
  /* reconnect without a groups token: the subscription is lost */
  snprintf(target, sizeof target,
           "/signalr/reconnect?transport=webSockets&clientProtocol=2.1&connectionToken=%s&connectionData=%s", tok, CDATA_RES);
  a = ws_open(f.port, target, NULL, NULL);
  CU_ASSERT_FATAL(a >= 0);
  CU_ASSERT_EQUAL(publish(&f, "ResourceEventHub", "1882708", 1), 200);
  CU_ASSERT_FALSE(ws_recv_match(a, &fr, "Update", 400));
  close(a);
  ch_buf_free(&fr);
  fx_stop(&f);
}

static void test_server_bad_input_drops_only_that_socket(void) {
  struct fx f;
  struct ch_server_opts o = {0};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  char tok[512], target[1024];
  struct ch_buf fr = CH_BUF_INIT;
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tok, sizeof tok));
  snprintf(target, sizeof target, "/signalr/connect?transport=webSockets&connectionToken=%s&connectionData=%s", tok,
           CDATA_RES);
  int a = ws_open(f.port, target, NULL, NULL);
  CU_ASSERT_FATAL(a >= 0);
  CU_ASSERT_EQUAL(ws_recv(a, &fr, 3000), 1);
  ws_send_op(a, 2, "\x01\x02", 2); /* binary */
  int op = ws_recv(a, &fr, 3000);
  CU_ASSERT_TRUE(op == -1 || op == 8);
  close(a);
  a = ws_open(f.port, target, NULL, NULL);
  CU_ASSERT_FATAL(a >= 0);
  CU_ASSERT_EQUAL(ws_recv(a, &fr, 3000), 1);
  /* malformed JSON: no answer, socket stays */
  ws_send(a, "{not json");
  ws_send(a, "{\"H\":\"resourceeventhub\",\"M\":\"SubscribeToPart\",\"A\":[\"x\"],\"I\":9}");
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "{\"I\":\"9\"}", 3000));
  char *big = malloc(70000);
  memset(big, 'a', 69999);
  big[69999] = 0;
  ws_send(a, big);
  free(big);
  op = ws_recv(a, &fr, 3000);
  CU_ASSERT_TRUE(op == -1 || op == 8);
  close(a);
  /* garbage on a raw socket, then the server still answers */
  int g = tcp_connect(f.port);
  send_all(g, "\x16\x03\x01garbage\r\n\r\n", 14);
  close(g);
  struct resp r;
  http_req(f.port, "GET", "/signalr/negotiate?clientProtocol=2.1", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
  ch_buf_free(&fr);
  fx_stop(&f);
}

static void test_server_publish_rate_and_bad_control_input(void) {
  struct fx f;
  struct ch_buf fr = CH_BUF_INIT;
  char tok[512];
  /* a replay buffer above the burst below: a burst beyond it would (rightly) lose its oldest messages */
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &(struct ch_server_opts){.replay_buffer = 4000}), 0);
  int a = ws_subscriber(&f, "1882708", &fr, tok, sizeof tok);
  CU_ASSERT_FATAL(a >= 0);
  struct resp r;
  http_req(f.cport, "POST", "/publish", NULL,
           "{\"hub\":\"ResourceEventHub\",\"key\":\"1882708\",\"count\":3,\"rate\":20,\"payload\":{\"EventType\":5,\"Extra\":\"x\"}}",
           &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CH_ASSERT_BODY(&r, "{\"published\":3,\"first_seq\":1,\"subscribers\":1}");
  resp_free(&r);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int seqs[8];
  CU_ASSERT_TRUE(ws_recv_match(a, &fr, "\"HarnessSeq\":1", 2000));
  CU_ASSERT_PTR_NOT_NULL(strstr(fr.data, "\"EventType\":5"));
  CU_ASSERT_PTR_NOT_NULL(strstr(fr.data, "\"Extra\":\"x\""));
  int n = collect_seqs(a, &fr, seqs, 8, 2, 3000);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_TRUE(n == 2 && seqs[0] == 2 && seqs[1] == 3);
  CU_ASSERT_EQUAL(no_more_seqs(a, &fr, 200), 0);
  double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  CU_ASSERT_TRUE(el >= 0.08); /* 3 messages at 20/s span at least 100 ms */
  const char *bad[] = {"", "[]", "{\"hub\":\"Nope\",\"key\":\"1\"}", "{\"hub\":\"JobEventHub\"}",
                       "{\"hub\":\"JobEventHub\",\"key\":\"1\",\"count\":0}",
                       "{\"hub\":\"JobEventHub\",\"key\":\"1\",\"rate\":-1}",
                       "{\"hub\":\"JobEventHub\",\"key\":\"1\",\"payload\":3}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http_req(f.cport, "POST", "/publish", NULL, bad[i], &r);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"error\":"));
    resp_free(&r);
  }
  /* a large publish goes out in slices (the loop keeps serving others): every message arrives once, in order */
  http_req(f.cport, "POST", "/publish", NULL, "{\"hub\":\"ResourceEventHub\",\"key\":\"1882708\",\"count\":2500}", &r);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
  int last = 3, ok = 1, total = 0;
  for (int i = 0; i < 2000 && total < 2500; i++) {
    if (ws_recv(a, &fr, 3000) != 1)
      break;
    for (const char *q = fr.data; (q = strstr(q, "\"HarnessSeq\":")); q++, total++) {
      int sq = atoi(q + 13);
      ok &= sq == last + 1;
      last = sq;
    }
  }
  CU_ASSERT_EQUAL(total, 2500);
  CU_ASSERT_TRUE(ok);
  http_req(f.cport, "GET", "/nope", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 404);
  resp_free(&r);
  http_req(f.cport, "POST", "/reset-stats", NULL, "", &r);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
  close(a);
  ch_buf_free(&fr);
  fx_stop(&f);
}

static void test_server_long_poll_abort_ends_held_poll(void) {
  struct fx f;
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &(struct ch_server_opts){0}), 0);
  char tok[512], target[1024];
  CU_ASSERT_TRUE_FATAL(negotiate(&f, CDATA_RES, NULL, tok, sizeof tok));
  snprintf(target, sizeof target, "/signalr/poll?transport=longPolling&connectionToken=%s&connectionData=%s", tok, CDATA_RES);
  int fd = tcp_connect(f.port);
  http_send_req(fd, "POST", target, NULL, "");
  struct ch_buf raw = CH_BUF_INIT;
  /* held: not closed, and nothing of a body (the head may come first: keep-alive spaces would follow it) */
  CU_ASSERT_EQUAL(read_for(fd, &raw, 300), 0);
  const char *eoh = raw.data ? strstr(raw.data, "\r\n\r\n") : NULL;
  size_t body = !raw.len ? 0 : eoh ? raw.len - (size_t)(eoh + 4 - raw.data) : raw.len;
  CU_ASSERT_EQUAL(body, 0);
  struct resp r;
  snprintf(target, sizeof target, "/signalr/abort?transport=longPolling&connectionToken=%s", tok);
  http_req(f.port, "POST", target, NULL, "", &r);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
  CU_ASSERT_TRUE(read_until(fd, &raw, "\",\"M\":[]}", 3000));
  close(fd);
  ch_buf_free(&raw);
  fx_stop(&f);
}


static void test_server_no_websockets_hubs_proxy_and_ping_auth(void) {
  struct ch_server_token toks[] = {{.token = "tk", .user = "u"}};
  struct fx f;
  struct ch_server_opts o = {.no_websockets = true, .tokens = toks, .n_tokens = 1, .base = "/Centro"};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  struct resp r;
  char target[1024], tok[512], v[512];
  http_req(f.port, "GET", "/Centro/signalr/negotiate?clientProtocol=2.1&access_token=tk", NULL, NULL, &r);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "\"TryWebSockets\":false"));
  CU_ASSERT_TRUE(json_str(r.body.data, "ConnectionToken", v, sizeof v));
  pct(v, tok, sizeof tok);
  resp_free(&r);
  snprintf(target, sizeof target, "/Centro/signalr/connect?transport=webSockets&connectionToken=%s&access_token=tk", tok);
  int fd = ws_open(f.port, target, NULL, &r);
  CU_ASSERT_EQUAL(fd, -1);
  CU_ASSERT_EQUAL(r.status, 400);
  CH_ASSERT_BODY(&r, "Protocol error: Unknown transport.");
  resp_free(&r);
  /* the official client's /ping carries no connectionData: not authorized, so not refused (§5, §6) */
  expect_pong(f.port, "/Centro/signalr/ping?_=1", NULL);
  http_req(f.port, "GET", "/Centro/signalr/hubs", "Authorization: Bearer tk\r\n", NULL, &r);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_TRUE(resp_header(&r, "content-type", v, sizeof v) && strncmp(v, "application/javascript", 22) == 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "$.hubConnection(\"/Centro/signalr\", { useDefaultPath: false })"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body.data, "proxies['resourceEventHub'] = this.createHubProxy('resourceEventHub');"));
  resp_free(&r);
  /* an upgrade with a bad token is refused with an ordinary HTTP answer before the handshake */
  int g = ws_open(f.port, "/Centro/signalr/connect?transport=webSockets&connectionToken=Zm9v&access_token=tk", NULL, &r);
  CU_ASSERT_EQUAL(g, -1);
  CU_ASSERT_EQUAL(r.status, 400);
  resp_free(&r);
  fx_stop(&f);
}


/* --strict-auth: every request without a known token is refused, even those that name no hub */
static void test_server_strict_auth(void) {
  struct ch_server_token toks[] = {{.token = "tk", .user = "u"}};
  struct fx f;
  struct ch_server_opts o = {.tokens = toks, .n_tokens = 1, .strict_auth = true};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  struct resp r;
  http_req(f.port, "GET", "/signalr/ping", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 401);
  CU_ASSERT_EQUAL(r.body.len, 0);
  resp_free(&r);
  http_req(f.port, "GET", "/signalr/negotiate?clientProtocol=2.1", NULL, NULL, &r);
  CU_ASSERT_EQUAL(r.status, 401);
  resp_free(&r);
  expect_pong(f.port, "/signalr/ping", "Authorization: Bearer tk\r\n");
  fx_stop(&f);
}

static void test_server_fault_table(void) {
  const struct ch_fault_info *t = ch_fault_table();
  for (unsigned i = 0; i < CH_FAULT_COUNT; i++) {
    enum ch_fault fl;
    CU_ASSERT_EQUAL(t[i].fault, (enum ch_fault)i);
    CU_ASSERT_EQUAL(ch_fault_parse(t[i].name, &fl), 0);
    CU_ASSERT_EQUAL(fl, (enum ch_fault)i);
    CU_ASSERT_TRUE(strlen(t[i].family) > 0 && strlen(t[i].description) > 0);
  }
  enum ch_fault fl;
  CU_ASSERT_EQUAL(ch_fault_parse("nope", &fl), -EINVAL);
  CU_ASSERT_PTR_NULL(ch_fault_name(CH_FAULT_COUNT));
}

static void test_server_port_in_use(void) {
  struct fx f;
  struct ch_server_opts o = {.control_port = -1};
  CU_ASSERT_EQUAL_FATAL(fx_start(&f, &o), 0);
  CU_ASSERT_EQUAL(f.cport, -1);
  struct ch_server *s2;
  struct ch_server_opts o2 = {.port = f.port, .control_port = -1, .quiet = true};
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&o2, &s2), 0);
  CU_ASSERT_EQUAL(ch_server_start(s2), -EADDRINUSE);
  ch_server_free(s2);
  struct ch_server_opts bad = {.base = "/x/"};
  CU_ASSERT_EQUAL(ch_server_new(&bad, &s2), -EINVAL);
  fx_stop(&f);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_server_fault_table),
      CH_TEST(test_server_negotiate_fields_in_order),
      CH_TEST(test_server_base_path_and_errors),
      CH_TEST(test_server_authorization),
      CH_TEST(test_server_websocket_flow),
      CH_TEST(test_server_websocket_keepalive_frame),
      CH_TEST(test_server_sse_flow_and_keepalive),
      CH_TEST(test_server_long_polling_hold_keepalive_and_replay),
      CH_TEST(test_server_long_poll_stale_groups_token_keeps_newer_groups),
      CH_TEST(test_server_reconnect_replay_and_groups_token),
      CH_TEST(test_server_bad_input_drops_only_that_socket),
      CH_TEST(test_server_port_in_use),
      CH_TEST(test_server_publish_rate_and_bad_control_input),
      CH_TEST(test_server_long_poll_abort_ends_held_poll),
      CH_TEST(test_server_no_websockets_hubs_proxy_and_ping_auth),
      CH_TEST(test_server_strict_auth),
      CU_TEST_INFO_NULL,
  };
  return ch_test_run("server", tests);
}
