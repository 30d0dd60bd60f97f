/* The negotiate response: the ten fields in the order PersistentConnection writes them, Newtonsoft number format,
   and ProtocolVersion clamped the way System.Version compares (1.2 <= v <= 2.0). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_srv.h"

void ch_srv_protocol_version(const char *cp, char *out, size_t cap) {
  snprintf(out, cap, "1.2"); /* missing or unparsable */
  if (!cp)
    return;
  unsigned long part[4] = {0};
  int np = 0;
  const char *q = cp;
  for (;;) {
    char *end;
    if (*q < '0' || *q > '9' || np == 4)
      return;
    part[np] = strtoul(q, &end, 10);
    if (part[np] > 2147483647ul)
      return;
    np++;
    if (*end == '.') {
      q = end + 1;
      continue;
    }
    if (*end)
      return;
    break;
  }
  if (np < 2)
    return; /* System.Version needs major.minor */
  /* compare with 1.2 and 2.0 component by component (missing build/revision count as lower) */
  if (part[0] < 1 || (part[0] == 1 && part[1] < 2))
    return;
  if (part[0] > 2 || (part[0] == 2 && (part[1] > 0 || (np > 2 && (part[2] || (np > 3 && part[3])))))) {
    snprintf(out, cap, "2.0");
    return;
  }
  /* Version.ToString(): the components given, without leading zeros */
  int n = snprintf(out, cap, "%lu.%lu", part[0], part[1]);
  for (int i = 2; i < np && n > 0 && (size_t)n < cap; i++)
    n += snprintf(out + n, cap - (size_t)n, ".%lu", part[i]);
}

static void new_uuid(struct ch_server *s, char out[37]) {
  uint64_t a = ch_rng_next(&s->rng), b = ch_rng_next(&s->rng);
  a = (a & ~0xf000ull) | 0x4000ull;                         /* version 4 */
  b = (b & 0x3fffffffffffffffull) | 0x8000000000000000ull; /* variant */
  snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
           (unsigned)a & 0xffff, (unsigned)(b >> 48), (unsigned long long)(b & 0xffffffffffffull));
}

static void put_seconds(struct ch_buf *b, const char *name, double v) {
  /* Newtonsoft writes whole doubles with ".0" */
  if (v == (double)(long long)v)
    ch_buf_printf(b, ",\"%s\":%lld.0", name, (long long)v);
  else
    ch_buf_printf(b, ",\"%s\":%g", name, v);
}

int ch_srv_negotiate_body(struct ch_server *s, const char *url, size_t url_len, const char *user,
                          const char *client_protocol, struct ch_buf *b) {
  char id[37], ver[48];
  new_uuid(s, id);
  struct ch_buf tok = CH_BUF_INIT;
  if (ch_srv_conn_token_make(s->conn_key, id, user, &tok))
    return -ENOMEM;
  if (client_protocol && ch_srv_fault(s, CH_FAULT_PROTOCOL_ECHO))
    snprintf(ver, sizeof ver, "%s", client_protocol);
  else
    ch_srv_protocol_version(client_protocol, ver, sizeof ver);
  ch_buf_puts(b, "{\"Url\":");
  ch_srv_json_str(b, url, url_len);
  ch_buf_puts(b, ",\"ConnectionToken\":");
  ch_srv_json_str(b, tok.data, tok.len);
  ch_buf_printf(b, ",\"ConnectionId\":\"%s\"", id);
  put_seconds(b, "KeepAliveTimeout", 2 * (double)s->keepalive_ns / 1e9);
  put_seconds(b, "DisconnectTimeout", (double)s->disconnect_ns / 1e9);
  put_seconds(b, "ConnectionTimeout", (double)s->conn_timeout_ns / 1e9);
  ch_buf_printf(b, ",\"TryWebSockets\":%s", s->o.no_websockets ? "false" : "true");
  ch_buf_puts(b, ",\"ProtocolVersion\":");
  ch_srv_json_str(b, ver, strlen(ver));
  if (!ch_srv_fault(s, CH_FAULT_NEG_MISSING_FIELD))
    put_seconds(b, "TransportConnectTimeout", s->o.transport_connect_timeout_s);
  int rc = ch_buf_puts(b, ",\"LongPollDelay\":0.0}");
  ch_buf_free(&tok);
  if (!rc)
    s->st.negotiates++;
  return rc ? -ENOMEM : 0;
}
