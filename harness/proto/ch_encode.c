/* Client-side encoders: hub invocations, connectionData, form bodies, and the request URLs of section 1.1. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ch_signalr.h"

/* Every encoder appends; on failure it restores out->len so a caller's buffer is never left half-written. */
static int enc_undo(struct ch_buf *out, size_t start, int rc) {
  out->len = start;
  if (out->data)
    out->data[start] = '\0';
  return rc;
}

int ch_encode_invocation(struct ch_buf *out, const char *hub, const char *method, const char *args, size_t args_n,
                         uint64_t id, bool id_as_string, const char *state) {
  if (!hub || !method)
    return -EINVAL;
  if (!args) {
    args = "[]";
    args_n = 2;
  }
  struct ch_span av;
  if (ch_json_parse((struct ch_span){args, args_n}, &av, NULL) || ch_json_kind(av) != CH_JSON_ARRAY)
    return -EINVAL;
  struct ch_span sv = CH_SPAN_NULL;
  if (state && (ch_json_parse(ch_span_cstr(state), &sv, NULL) || ch_json_kind(sv) != CH_JSON_OBJECT))
    return -EINVAL;
  size_t start = out->len;
  int rc;
  if ((rc = ch_buf_puts(out, "{\"H\":")) || (rc = ch_json_append_str(out, hub, strlen(hub))) ||
      (rc = ch_buf_puts(out, ",\"M\":")) || (rc = ch_json_append_str(out, method, strlen(method))) ||
      (rc = ch_buf_puts(out, ",\"A\":")) || (rc = ch_buf_append(out, av.p, av.n)) ||
      (rc = ch_buf_printf(out, id_as_string ? ",\"I\":\"%" PRIu64 "\"" : ",\"I\":%" PRIu64, id)))
    return enc_undo(out, start, rc);
  if (sv.p && ((rc = ch_buf_puts(out, ",\"S\":")) || (rc = ch_buf_append(out, sv.p, sv.n))))
    return enc_undo(out, start, rc);
  if ((rc = ch_buf_putc(out, '}')))
    return enc_undo(out, start, rc);
  return 0;
}

int ch_encode_connection_data(struct ch_buf *out, const char *const *hubs, size_t n, bool pascal_key) {
  size_t start = out->len;
  int rc = ch_buf_putc(out, '[');
  for (size_t i = 0; !rc && i < n; i++) {
    if (!hubs[i])
      return enc_undo(out, start, -EINVAL);
    if ((rc = ch_buf_puts(out, i ? ",{\"" : "{\"")) || (rc = ch_buf_puts(out, pascal_key ? "Name\":" : "name\":")) ||
        (rc = ch_json_append_str(out, hubs[i], strlen(hubs[i]))))
      break;
    rc = ch_buf_putc(out, '}');
  }
  if (!rc)
    rc = ch_buf_putc(out, ']');
  return rc ? enc_undo(out, start, rc) : 0;
}

int ch_encode_send_body(struct ch_buf *out, const char *json, size_t n) {
  size_t start = out->len;
  int rc = ch_buf_puts(out, "data=");
  if (!rc)
    rc = ch_pct_encode(out, json, n);
  return rc ? enc_undo(out, start, rc) : 0;
}

int ch_encode_poll_body(struct ch_buf *out, const char *message_id, const char *groups_token) {
  size_t start = out->len;
  int rc = 0;
  if (message_id && !(rc = ch_buf_puts(out, "messageId=")))
    rc = ch_pct_encode(out, message_id, strlen(message_id));
  if (!rc && groups_token && !(rc = ch_buf_puts(out, message_id ? "&groupsToken=" : "groupsToken=")))
    rc = ch_pct_encode(out, groups_token, strlen(groups_token));
  if (rc || !out->data)
    rc = rc ? rc : ch_buf_reserve(out, 0);
  return rc ? enc_undo(out, start, rc) : 0;
}

/* ------------------------------------------------------------------------------------------------- URLs */

const char *ch_request_name(enum ch_request r) {
  static const char *const names[] = {"negotiate", "connect", "reconnect", "poll", "start", "send", "abort", "ping"};
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

/* Appends "?" or "&" then name=encoded(value). */
static int url_param(struct ch_buf *out, bool *first, const char *name, const char *value) {
  int rc = ch_buf_putc(out, *first ? '?' : '&');
  *first = false;
  if (!rc)
    rc = ch_buf_puts(out, name);
  if (!rc)
    rc = ch_buf_putc(out, '=');
  if (!rc)
    rc = ch_pct_encode(out, value, strlen(value));
  return rc;
}

static int url_origin(struct ch_buf *out, const struct ch_url *u, bool ws) {
  const char *scheme = ws ? (u->tls ? "wss" : "ws") : (u->tls ? "https" : "http");
  bool v6 = strchr(u->host, ':') != NULL;
  int defport = u->tls ? 443 : 80;
  int rc = ch_buf_printf(out, "%s://%s%s%s", scheme, v6 ? "[" : "", u->host, v6 ? "]" : "");
  if (!rc && u->port != defport)
    rc = ch_buf_printf(out, ":%d", u->port);
  return rc;
}

int ch_url_build(struct ch_buf *out, enum ch_request req, const struct ch_url_params *p) {
  if (!p || !p->base || !p->base->host || !p->base->path || (unsigned)req > CH_REQ_PING ||
      (unsigned)p->transport > CH_TRANSPORT_LONGPOLLING)
    return -EINVAL;
  bool needs_token = req != CH_REQ_NEGOTIATE && req != CH_REQ_PING;
  if (needs_token && !p->connection_token)
    return -EINVAL;
  bool lp = p->transport == CH_TRANSPORT_LONGPOLLING;
  if (req == CH_REQ_POLL && !lp)
    return -EINVAL;
  bool receive = req == CH_REQ_CONNECT || req == CH_REQ_RECONNECT || req == CH_REQ_POLL;
  const char *proto = p->client_protocol ? p->client_protocol : CH_PROTOCOL_DEFAULT;
  const char *ep = p->endpoint ? p->endpoint : "/signalr";
  bool cred = p->cred_name && p->cred_value;
  size_t start = out->len;
  bool first = true;
  int rc = url_origin(out, p->base, receive && p->transport == CH_TRANSPORT_WEBSOCKETS);
  if (rc)
    return enc_undo(out, start, rc);
  if (receive && p->negotiate_url)
    rc = ch_buf_puts(out, p->negotiate_url);
  else if (!(rc = ch_buf_puts(out, p->base->path)))
    rc = ch_buf_puts(out, ep);
  if (!rc)
    rc = ch_buf_putc(out, '/');
  if (!rc)
    rc = ch_buf_puts(out, ch_request_name(req));
  if (rc)
    return enc_undo(out, start, rc);

  if (req == CH_REQ_PING) {
    if (cred)
      rc = url_param(out, &first, p->cred_name, p->cred_value);
    if (!rc && p->cache_buster)
      rc = ch_buf_printf(out, "%c_=%" PRIu64, first ? '?' : '&', p->cache_buster);
    return rc ? enc_undo(out, start, rc) : 0;
  }
  if (req != CH_REQ_NEGOTIATE)
    rc = url_param(out, &first, "transport", ch_transport_name(p->transport));
  /* JS getUrl: tokens of the receive URL come right after transport; long polling sends them in the body */
  bool query_tokens = receive && (!lp || p->lp_tokens_in_query);
  if (!rc && query_tokens && !lp && req != CH_REQ_POLL && p->groups_token)
    rc = url_param(out, &first, "groupsToken", p->groups_token);
  if (!rc && query_tokens && !lp && req == CH_REQ_RECONNECT && p->message_id)
    rc = url_param(out, &first, "messageId", p->message_id);
  if (!rc)
    rc = url_param(out, &first, "clientProtocol", proto);
  if (!rc && cred)
    rc = url_param(out, &first, p->cred_name, p->cred_value);
  if (!rc && needs_token)
    rc = url_param(out, &first, "connectionToken", p->connection_token);
  if (!rc && p->connection_data)
    rc = url_param(out, &first, "connectionData", p->connection_data);
  /* .NET order for long polling with tokens in the query: messageId, groupsToken last */
  if (!rc && query_tokens && lp && req != CH_REQ_CONNECT && p->message_id)
    rc = url_param(out, &first, "messageId", p->message_id);
  if (!rc && query_tokens && lp && p->groups_token)
    rc = url_param(out, &first, "groupsToken", p->groups_token);
  if (!rc && receive && !lp && req != CH_REQ_POLL && p->tid >= 0)
    rc = ch_buf_printf(out, "&tid=%d", p->tid);
  if (!rc && p->cache_buster && (req == CH_REQ_NEGOTIATE || req == CH_REQ_START))
    rc = ch_buf_printf(out, "&_=%" PRIu64, p->cache_buster);
  return rc ? enc_undo(out, start, rc) : 0;
}
