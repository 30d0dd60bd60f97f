/* libFuzzer: the reference server's request router and everything it decodes from a request target
   (path routing, query parameters, transport, connection/groups tokens, cursor, protocol version, connectionData). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  const char *s = (const char *)data;
  const char *q = memchr(s, '?', size);
  size_t plen = q ? (size_t)(q - s) : size;
  size_t el;
  static const char *bases[] = {"", "/Centro", "/a/b"};
  for (int i = 0; i < 3; i++) {
    enum ch_srv_cmd c = ch_srv_route(bases[i], s, plen, &el);
    if (c != CH_SRV_CMD_NONE && el > plen)
      abort();
  }
  struct ch_srv_params p;
  ch_srv_params_init(&p);
  if (q)
    ch_srv_params_parse_form(&p, q + 1, size - plen - 1);
  static const uint64_t key[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
  size_t n;
  const char *v = ch_srv_param(&p, "transport", &n);
  (void)ch_srv_transport_parse(v, v ? n : 0);
  v = ch_srv_param(&p, "connectionToken", &n);
  if (v) {
    char id[37], *user = NULL;
    if (ch_srv_conn_token_parse(key, v, n, id, &user) == 0)
      free(user);
  }
  v = ch_srv_param(&p, "groupsToken", &n);
  if (v) {
    char **g = NULL;
    size_t ng = 0;
    if (ch_srv_groups_token_parse(key, "3f2c6a1e-9b7d-4c1e-8f3a-2d5b6c7e8f90", v, n, &g, &ng) == 0)
      ch_srv_strv_free(g, ng);
  }
  v = ch_srv_param(&p, "messageId", &n);
  uint64_t seq;
  if (v)
    (void)ch_srv_cursor_parse("5A1F00C3", v, n, &seq);
  char ver[48];
  ch_srv_protocol_version(ch_srv_param(&p, "clientProtocol", NULL), ver, sizeof ver);
  if (strlen(ver) < 3)
    abort();
  v = ch_srv_param(&p, "connectionData", &n);
  unsigned hubs;
  char bad[32];
  if (v)
    (void)ch_srv_connection_data_parse(v, n, &hubs, bad, sizeof bad);
  ch_srv_params_free(&p);
  return 0;
}
