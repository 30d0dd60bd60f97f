/* Negotiate body parsing (protocol/signalr-classic.md section 2), protocol versions (1.3) and transport names. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_signalr.h"

const char *ch_transport_name(enum ch_transport t) {
  switch (t) {
  case CH_TRANSPORT_WEBSOCKETS: return "webSockets";
  case CH_TRANSPORT_SSE: return "serverSentEvents";
  case CH_TRANSPORT_LONGPOLLING: return "longPolling";
  }
  return "unknown";
}

int ch_transport_parse(const char *s, enum ch_transport *out) {
  static const struct {
    const char *name;
    enum ch_transport t;
  } names[] = {{"webSockets", CH_TRANSPORT_WEBSOCKETS}, {"ws", CH_TRANSPORT_WEBSOCKETS},
               {"serverSentEvents", CH_TRANSPORT_SSE},  {"sse", CH_TRANSPORT_SSE},
               {"longPolling", CH_TRANSPORT_LONGPOLLING}, {"lp", CH_TRANSPORT_LONGPOLLING}};
  if (!s)
    return -EINVAL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(s, names[i].name)) {
      *out = names[i].t;
      return 0;
    }
  return -EINVAL;
}

/* Client protocol -> what a 2.4 server answers (it clamps to [1.2, 2.0]). */
static const char *const proto_table[][2] = {{"2.1", "2.0"}, {"2.0", "2.0"}, {"1.5", "1.5"}, {"1.4", "1.4"}};
#define PROTO_COUNT (sizeof proto_table / sizeof proto_table[0])

const char *ch_protocol_supported(size_t i) { return i < PROTO_COUNT ? proto_table[i][0] : NULL; }

const char *ch_protocol_expected(const char *client_protocol) {
  if (!client_protocol)
    return NULL;
  for (size_t i = 0; i < PROTO_COUNT; i++)
    if (!strcmp(client_protocol, proto_table[i][0]))
      return proto_table[i][1];
  return NULL;
}

bool ch_protocol_is_supported(const char *client_protocol) { return ch_protocol_expected(client_protocol) != NULL; }

bool ch_protocol_accepts(const char *client_protocol, const char *server_version) {
  const char *want = ch_protocol_expected(client_protocol);
  return want && server_version && !strcmp(want, server_version);
}

bool ch_protocol_js_accepts(const char *v) {
  return v && (!strcmp(v, "1.5") || !strcmp(v, "2.0") || !strcmp(v, "2.1"));
}

/* System.Version.TryParse: 2 to 4 dot-separated non-negative int32 components; absent ones compare as -1. */
static bool proto_parse_version(const char *s, long comp[4]) {
  int n = 0;
  for (int i = 0; i < 4; i++)
    comp[i] = -1;
  while (n < 4) {
    if (*s < '0' || *s > '9')
      return false;
    long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
      v = v * 10 + (*s - '0');
      if (v > 2147483647L)
        return false;
    }
    comp[n++] = v;
    if (!*s)
      break;
    if (*s++ != '.')
      return false;
  }
  return !*s && n >= 2;
}

static int proto_cmp(const long a[4], const long b[4]) {
  for (int i = 0; i < 4; i++)
    if (a[i] != b[i])
      return a[i] < b[i] ? -1 : 1;
  return 0;
}

bool ch_protocol_net_accepts(const char *v) {
  static const long lo[4] = {1, 4, -1, -1}, hi[4] = {2, 1, -1, -1};
  long c[4];
  return v && proto_parse_version(v, c) && proto_cmp(c, lo) >= 0 && proto_cmp(c, hi) <= 0;
}

bool ch_protocol_uses_start(const char *client_protocol) {
  return ch_protocol_is_supported(client_protocol); /* all of ours are >= 1.4 */
}

/* ------------------------------------------------------------------------------------------------ negotiate */

/* Appends "negotiate: <message>" to err. Messages name fields and JSON kinds only, never values (tokens). */
__attribute__((format(printf, 2, 3))) static int neg_fail(struct ch_buf *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    ch_buf_puts(err, "negotiate: ");
    ch_buf_vprintf(err, fmt, ap);
    va_end(ap);
  }
  return -EBADMSG;
}

/* "a string", "an array", "null", ... for messages such as "X is a string, expected a number". */
static const char *neg_a_kind(enum ch_json_kind k) {
  switch (k) {
  case CH_JSON_STRING: return "a string";
  case CH_JSON_NUMBER: return "a number";
  case CH_JSON_OBJECT: return "an object";
  case CH_JSON_ARRAY: return "an array";
  case CH_JSON_TRUE:
  case CH_JSON_FALSE: return "a boolean";
  case CH_JSON_NULL: return "null";
  default: return "invalid";
  }
}

/* Copies a string member (already known to be a string token) into *dst, replacing an earlier value. */
static int neg_string(struct ch_span v, const char *name, char **dst, struct ch_buf *err) {
  struct ch_buf b = CH_BUF_INIT;
  int rc = ch_json_str_unescape(v, &b);
  if (rc == 0 && ch_buf_reserve(&b, 0))
    rc = -ENOMEM;
  if (rc) {
    ch_buf_free(&b);
    return rc == -ENOMEM ? rc : neg_fail(err, "%s has an invalid string escape", name);
  }
  if (memchr(b.data, '\0', b.len)) {
    ch_buf_free(&b);
    return neg_fail(err, "%s contains a NUL character", name);
  }
  free(*dst);
  *dst = ch_buf_steal(&b);
  return 0;
}

/* Field table: types are checked during the walk; required fields after it. */
#define CH_NEG_NULLABLE (CH_NEG_REDIRECT_URL | CH_NEG_ERROR | CH_NEG_WEBSOCKET_SERVER_URL)
enum neg_type { NEG_STR, NEG_NUM, NEG_NUM_OR_NULL, NEG_BOOL, NEG_PRESENCE };

int ch_negotiate_parse(const char *body, size_t n, struct ch_negotiate *out, struct ch_buf *err) {
  memset(out, 0, sizeof *out);
  struct ch_span s = ch_span_trim((struct ch_span){body, body ? n : 0});
  /* a UTF-8 BOM before the JSON is tolerated */
  if (s.n >= 3 && !memcmp(s.p, "\xEF\xBB\xBF", 3))
    s = ch_span_trim((struct ch_span){s.p + 3, s.n - 3});
  if (!s.n)
    return neg_fail(err, "body is empty");
  if (s.p[0] == '<')
    return neg_fail(err, "HTML error page");
  struct ch_json_err jerr = {0, NULL};
  struct ch_span doc;
  if (ch_json_parse(s, &doc, &jerr)) {
    if (err) {
      ch_buf_printf(err, "negotiate: body is not JSON (%s at byte %zu)", jerr.msg ? jerr.msg : "malformed",
                    jerr.pos + (size_t)(s.p - body));
    }
    return -EBADMSG;
  }
  if (ch_json_kind(doc) != CH_JSON_OBJECT)
    return neg_fail(err, "body is a JSON %s, expected an object", ch_json_kind_name(ch_json_kind(doc)));
  struct ch_span tmp;
  if (ch_json_obj_get_ci(doc, "availableTransports", &tmp) == 1)
    return neg_fail(err, "availableTransports present (an ASP.NET Core server, not classic SignalR)");
  out->transport_connect_timeout = 5.0; /* the server default when the field is absent */
  static const struct {
    const char *name;
    enum neg_type type;
    unsigned bit;
  } fields[] = {
      {"Url", NEG_STR, CH_NEG_URL},
      {"ConnectionToken", NEG_STR, CH_NEG_CONNECTION_TOKEN},
      {"ConnectionId", NEG_STR, CH_NEG_CONNECTION_ID},
      {"KeepAliveTimeout", NEG_NUM_OR_NULL, CH_NEG_KEEP_ALIVE_TIMEOUT},
      {"DisconnectTimeout", NEG_NUM, CH_NEG_DISCONNECT_TIMEOUT},
      {"ConnectionTimeout", NEG_NUM, CH_NEG_CONNECTION_TIMEOUT},
      {"TryWebSockets", NEG_BOOL, CH_NEG_TRY_WEBSOCKETS},
      {"ProtocolVersion", NEG_STR, CH_NEG_PROTOCOL_VERSION},
      {"TransportConnectTimeout", NEG_NUM, CH_NEG_TRANSPORT_CONNECT_TIMEOUT},
      {"LongPollDelay", NEG_NUM, CH_NEG_LONG_POLL_DELAY},
      {"RedirectUrl", NEG_STR, CH_NEG_REDIRECT_URL},
      {"AccessToken", NEG_PRESENCE, CH_NEG_ACCESS_TOKEN},
      {"Error", NEG_STR, CH_NEG_ERROR},
      {"WebSocketServerUrl", NEG_STR, CH_NEG_WEBSOCKET_SERVER_URL},
  };
  char **strs[] = {&out->url, &out->connection_token, &out->connection_id, NULL, NULL, NULL, NULL,
                   &out->protocol_version, NULL, NULL, &out->redirect_url, NULL, &out->error,
                   &out->websocket_server_url};
  double *nums[] = {NULL, NULL, NULL, &out->keep_alive_timeout, &out->disconnect_timeout, &out->connection_timeout,
                    NULL, NULL, &out->transport_connect_timeout, &out->long_poll_delay, NULL, NULL, NULL, NULL};
  struct ch_json_iter it;
  struct ch_span k, v;
  int rc;
  ch_json_obj_begin(doc, &it);
  while ((rc = ch_json_obj_next(&it, &k, &v)) == 1) {
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
      if (!ch_json_str_eqz(k, fields[f].name))
        continue;
      const char *name = fields[f].name;
      enum ch_json_kind kind = ch_json_kind(v);
      switch (fields[f].type) {
      case NEG_STR:
        if (kind == CH_JSON_NULL && (fields[f].bit & CH_NEG_NULLABLE))
          goto next_member; /* null = absent for the optional ones */
        if (kind != CH_JSON_STRING) {
          rc = neg_fail(err, "%s is %s, expected a string", name, neg_a_kind(kind));
          goto fail;
        }
        if ((rc = neg_string(v, name, strs[f], err)))
          goto fail;
        break;
      case NEG_NUM:
      case NEG_NUM_OR_NULL:
        if (kind == CH_JSON_NULL && fields[f].type == NEG_NUM_OR_NULL) {
          out->keep_alive_disabled = true;
          out->keep_alive_timeout = 0;
          break;
        }
        if (kind != CH_JSON_NUMBER) {
          rc = neg_fail(err, "%s is %s, expected a number%s", name, neg_a_kind(kind),
                        fields[f].type == NEG_NUM_OR_NULL ? " or null" : "");
          goto fail;
        }
        if (ch_json_num_double(v, nums[f]) || !isfinite(*nums[f])) {
          rc = neg_fail(err, "%s is out of range", name);
          goto fail;
        }
        if (fields[f].type == NEG_NUM_OR_NULL)
          out->keep_alive_disabled = false;
        break;
      case NEG_BOOL:
        if (kind != CH_JSON_TRUE && kind != CH_JSON_FALSE) {
          rc = neg_fail(err, "%s is %s, expected true or false", name, neg_a_kind(kind));
          goto fail;
        }
        out->try_websockets = kind == CH_JSON_TRUE;
        break;
      case NEG_PRESENCE:
        if (kind == CH_JSON_NULL)
          goto next_member;
        out->has_access_token = true;
        break;
      }
      out->present |= fields[f].bit;
    next_member:
      break;
    }
  }
  if (rc < 0) {
    rc = neg_fail(err, "body is not JSON");
    goto fail;
  }
  /* An Azure redirect or error body carries none of the connection fields. */
  if (out->present & (CH_NEG_REDIRECT_URL | CH_NEG_ERROR))
    return 0;
  for (size_t f = 0; f < 8; f++) {
    if (!(out->present & fields[f].bit)) {
      rc = neg_fail(err, "%s missing", fields[f].name);
      goto fail;
    }
  }
  if (out->url[0] != '/') {
    rc = neg_fail(err, "Url does not start with '/'");
    goto fail;
  }
  for (const char *c = out->url; *c; c++) {
    if (*c == '?' || *c == '#' || (unsigned char)*c <= ' ' || *c == 0x7f) {
      rc = neg_fail(err, "Url is not a plain path (it has a query, fragment, space or control character)");
      goto fail;
    }
  }
  if (!out->connection_token[0]) {
    rc = neg_fail(err, "ConnectionToken is empty");
    goto fail;
  }
  if (!out->protocol_version[0]) {
    rc = neg_fail(err, "ProtocolVersion is empty");
    goto fail;
  }
  if (!out->keep_alive_disabled && !(out->keep_alive_timeout > 0)) {
    rc = neg_fail(err, "KeepAliveTimeout must be greater than 0");
    goto fail;
  }
  if (!(out->disconnect_timeout > 0) || !(out->connection_timeout > 0)) {
    rc = neg_fail(err, "%s must be greater than 0",
                  out->disconnect_timeout > 0 ? "ConnectionTimeout" : "DisconnectTimeout");
    goto fail;
  }
  if (out->transport_connect_timeout < 0 || out->long_poll_delay < 0) {
    rc = neg_fail(err, "%s is negative", out->long_poll_delay < 0 ? "LongPollDelay" : "TransportConnectTimeout");
    goto fail;
  }
  return 0;
fail:
  ch_negotiate_free(out);
  return rc;
}

void ch_negotiate_free(struct ch_negotiate *neg) {
  free(neg->url);
  free(neg->connection_token);
  free(neg->connection_id);
  free(neg->protocol_version);
  free(neg->redirect_url);
  free(neg->error);
  free(neg->websocket_server_url);
  memset(neg, 0, sizeof *neg);
}
