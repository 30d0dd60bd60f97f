/* Socket-free request decoding and token/cursor coding for the reference server (see ch_srv_codec.h). */
#include "ch_srv_codec.h"

#include "ch_base64.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_base64.h"
#include "ch_server.h"

bool ch_srv_ends_with_ci(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

static bool prefix_ci(const char *s, size_t len, const char *pre, size_t n) {
  return len >= n && strncasecmp(s, pre, n) == 0;
}

enum ch_srv_cmd ch_srv_route(const char *base, const char *path, size_t len, size_t *endpoint_len) {
  static const struct {
    const char *suffix;
    enum ch_srv_cmd cmd;
  } cmds[] = {
      {"/negotiate", CH_SRV_CMD_NEGOTIATE}, {"/ping", CH_SRV_CMD_PING},   {"/start", CH_SRV_CMD_START},
      {"/connect", CH_SRV_CMD_CONNECT},     {"/send", CH_SRV_CMD_SEND},   {"/abort", CH_SRV_CMD_ABORT},
      {"/reconnect", CH_SRV_CMD_RECONNECT}, {"/poll", CH_SRV_CMD_POLL},   {"/hubs", CH_SRV_CMD_HUBS},
      {"/js", CH_SRV_CMD_HUBS},
  };
  size_t blen = base ? strlen(base) : 0;
  *endpoint_len = 0;
  if (!path || !prefix_ci(path, len, base ? base : "", blen))
    return CH_SRV_CMD_NONE;
  if (!prefix_ci(path + blen, len - blen, "/signalr", 8))
    return CH_SRV_CMD_NONE;
  size_t after = blen + 8;
  if (len > after && path[after] != '/')
    return CH_SRV_CMD_NONE; /* /signalrX is another path */
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    if (len > after && ch_srv_ends_with_ci(path + after, len - after, cmds[i].suffix)) {
      *endpoint_len = len - strlen(cmds[i].suffix);
      return cmds[i].cmd;
    }
  }
  *endpoint_len = len;
  return CH_SRV_CMD_OTHER;
}

enum ch_srv_transport ch_srv_transport_parse(const char *s, size_t len) {
  if (!s)
    return CH_SRV_TR_NONE;
  if (len == 10 && strncasecmp(s, "webSockets", 10) == 0)
    return CH_SRV_TR_WS;
  if (len == 16 && strncasecmp(s, "serverSentEvents", 16) == 0)
    return CH_SRV_TR_SSE;
  if (len == 11 && strncasecmp(s, "longPolling", 11) == 0)
    return CH_SRV_TR_LP;
  return CH_SRV_TR_NONE;
}

const char *ch_srv_transport_name(enum ch_srv_transport t) {
  switch (t) {
  case CH_SRV_TR_WS: return "webSockets";
  case CH_SRV_TR_SSE: return "serverSentEvents";
  case CH_SRV_TR_LP: return "longPolling";
  default: return "none";
  }
}

/* ---- parameters ---- */

void ch_srv_params_init(struct ch_srv_params *p) {
  p->n = 0;
  p->store = (struct ch_buf)CH_BUF_INIT;
}

void ch_srv_params_reset(struct ch_srv_params *p) {
  p->n = 0;
  ch_buf_reset(&p->store);
}

void ch_srv_params_free(struct ch_srv_params *p) {
  p->n = 0;
  ch_buf_free(&p->store);
}

int ch_srv_params_add(struct ch_srv_params *p, const char *name, size_t nlen, const char *val, size_t vlen) {
  if (p->n >= CH_SRV_MAX_PARAMS || nlen > UINT32_MAX / 4 || vlen > UINT32_MAX / 4)
    return 0;
  if (memchr(name, 0, nlen))
    return 0;
  size_t off = p->store.len;
  if (ch_buf_reserve(&p->store, nlen + vlen + 2))
    return -ENOMEM;
  memcpy(p->store.data + off, name, nlen);
  p->store.data[off + nlen] = 0;
  memcpy(p->store.data + off + nlen + 1, val, vlen);
  p->store.data[off + nlen + 1 + vlen] = 0;
  p->store.len = off + nlen + vlen + 2;
  p->kv[p->n].name_off = (uint32_t)off;
  p->kv[p->n].name_len = (uint32_t)nlen;
  p->kv[p->n].val_off = (uint32_t)(off + nlen + 1);
  p->kv[p->n].val_len = (uint32_t)vlen;
  p->n++;
  return 0;
}

int ch_srv_params_add_frag(struct ch_srv_params *p, const char *frag, size_t len) {
  const char *eq = memchr(frag, '=', len);
  if (!eq)
    return ch_srv_params_add(p, frag, len, "", 0);
  return ch_srv_params_add(p, frag, (size_t)(eq - frag), eq + 1, len - (size_t)(eq - frag) - 1);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Lenient form decoding into b (appends). */
static int form_decode(struct ch_buf *b, const char *s, size_t n) {
  if (ch_buf_reserve(b, n))
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
               hexval((unsigned char)s[i + 2]) >= 0) {
      c = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
      i += 2;
    }
    b->data[b->len++] = c;
  }
  b->data[b->len] = 0;
  return 0;
}

int ch_srv_params_parse_form(struct ch_srv_params *p, const char *s, size_t len) {
  struct ch_buf name = CH_BUF_INIT, val = CH_BUF_INIT;
  int rc = 0;
  size_t i = 0;
  while (i < len && rc == 0) {
    size_t j = i;
    while (j < len && s[j] != '&')
      j++;
    if (j > i) {
      const char *eq = memchr(s + i, '=', j - i);
      size_t nend = eq ? (size_t)(eq - s) : j;
      ch_buf_reset(&name);
      ch_buf_reset(&val);
      rc = form_decode(&name, s + i, nend - i);
      if (!rc && eq)
        rc = form_decode(&val, eq + 1, j - nend - 1);
      if (!rc)
        rc = ch_srv_params_add(p, name.data ? name.data : "", name.len, val.data ? val.data : "", val.len);
    }
    i = j + 1;
  }
  ch_buf_free(&name);
  ch_buf_free(&val);
  return rc;
}

const char *ch_srv_param(const struct ch_srv_params *p, const char *name, size_t *len) {
  size_t nlen = strlen(name);
  for (size_t i = 0; i < p->n; i++) {
    if (p->kv[i].name_len == nlen && strncasecmp(p->store.data + p->kv[i].name_off, name, nlen) == 0) {
      if (len)
        *len = p->kv[i].val_len;
      return p->store.data + p->kv[i].val_off;
    }
  }
  return NULL;
}

/* ---- SipHash-2-4 ---- */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                     \
  do {                                                                                                               \
    v0 += v1;                                                                                                        \
    v1 = ROTL64(v1, 13);                                                                                             \
    v1 ^= v0;                                                                                                        \
    v0 = ROTL64(v0, 32);                                                                                             \
    v2 += v3;                                                                                                        \
    v3 = ROTL64(v3, 16);                                                                                             \
    v3 ^= v2;                                                                                                        \
    v0 += v3;                                                                                                        \
    v3 = ROTL64(v3, 21);                                                                                             \
    v3 ^= v0;                                                                                                        \
    v2 += v1;                                                                                                        \
    v1 = ROTL64(v1, 17);                                                                                             \
    v1 ^= v2;                                                                                                        \
    v2 = ROTL64(v2, 32);                                                                                             \
  } while (0)

uint64_t ch_srv_siphash(const uint64_t key[2], const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
  uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
  size_t full = len & ~(size_t)7;
  for (size_t i = 0; i < full; i += 8) {
    uint64_t m = 0;
    for (int k = 7; k >= 0; k--)
      m = (m << 8) | p[i + (size_t)k];
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t k = 0; k < (len & 7); k++)
    b |= (uint64_t)p[full + k] << (8 * k);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- tokens ---- */

static int token_seal(const uint64_t key[2], struct ch_buf *payload, struct ch_buf *out) {
  uint64_t mac = ch_srv_siphash(key, payload->data, payload->len);
  unsigned char m[8];
  for (int i = 0; i < 8; i++)
    m[i] = (unsigned char)(mac >> (8 * i));
  int rc = ch_buf_append(payload, m, 8);
  if (!rc)
    rc = ch_base64_encode(out, payload->data, payload->len, true);
  return rc;
}

/* Decodes and verifies; on success payload holds the plain text without the MAC. */
static int token_open(const uint64_t key[2], const char *tok, size_t len, struct ch_buf *payload) {
  if (len > 16384 || ch_base64_decode(payload, tok, len, true) || payload->len < 8 + 37)
    return -EINVAL;
  size_t plen = payload->len - 8;
  uint64_t mac = ch_srv_siphash(key, payload->data, plen), got = 0;
  for (int i = 7; i >= 0; i--)
    got = (got << 8) | (unsigned char)payload->data[plen + (size_t)i];
  if (mac != got)
    return -EINVAL;
  payload->len = plen;
  payload->data[plen] = 0;
  if (payload->data[36] != ':')
    return -EINVAL;
  return 0;
}

int ch_srv_conn_token_make(const uint64_t key[2], const char *conn_id, const char *user, struct ch_buf *out) {
  struct ch_buf p = CH_BUF_INIT;
  int rc = ch_buf_printf(&p, "%s:%s", conn_id, user ? user : "");
  if (!rc)
    rc = token_seal(key, &p, out);
  ch_buf_free(&p);
  return rc;
}

int ch_srv_conn_token_parse(const uint64_t key[2], const char *tok, size_t len, char conn_id[37], char **user) {
  struct ch_buf p = CH_BUF_INIT;
  int rc = token_open(key, tok, len, &p);
  if (!rc && memchr(p.data, 0, p.len))
    rc = -EINVAL;
  if (!rc) {
    memcpy(conn_id, p.data, 36);
    conn_id[36] = 0;
    *user = strdup(p.data + 37);
    if (!*user)
      rc = -ENOMEM;
  }
  ch_buf_free(&p);
  return rc;
}

int ch_srv_groups_token_make(const uint64_t key[2], const char *conn_id, const char *const *groups, size_t n,
                             struct ch_buf *out) {
  struct ch_buf p = CH_BUF_INIT;
  int rc = ch_buf_printf(&p, "%s:[", conn_id);
  for (size_t i = 0; i < n && !rc; i++) {
    if (i)
      rc = ch_buf_putc(&p, ',');
    if (!rc)
      rc = ch_srv_json_str(&p, groups[i], strlen(groups[i]));
  }
  if (!rc)
    rc = ch_buf_putc(&p, ']');
  if (!rc)
    rc = token_seal(key, &p, out);
  ch_buf_free(&p);
  return rc;
}

void ch_srv_strv_free(char **v, size_t n) {
  if (!v)
    return;
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

int ch_srv_groups_token_parse(const uint64_t key[2], const char *conn_id, const char *tok, size_t len,
                              char ***groups, size_t *n) {
  struct ch_buf p = CH_BUF_INIT;
  *groups = NULL;
  *n = 0;
  int rc = token_open(key, tok, len, &p);
  if (!rc && strncmp(p.data, conn_id, 36) != 0)
    rc = -EINVAL;
  cJSON *arr = NULL;
  if (!rc) {
    arr = cJSON_ParseWithLength(p.data + 37, p.len - 37);
    if (!cJSON_IsArray(arr))
      rc = -EINVAL;
  }
  if (!rc) {
    int cnt = cJSON_GetArraySize(arr);
    char **v = calloc((size_t)cnt + 1, sizeof *v);
    if (!v)
      rc = -ENOMEM;
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
      if (rc)
        break;
      if (!cJSON_IsString(it)) {
        rc = -EINVAL;
        break;
      }
      v[k] = strdup(it->valuestring);
      if (!v[k]) {
        rc = -ENOMEM;
        break;
      }
      k++;
    }
    if (rc)
      ch_srv_strv_free(v, k);
    else {
      *groups = v;
      *n = k;
    }
  }
  cJSON_Delete(arr);
  ch_buf_free(&p);
  return rc;
}

/* ---- cursors ---- */

int ch_srv_cursor_format(char *out, size_t cap, const char *prefix, uint64_t seq) {
  int n = snprintf(out, cap, "d-%s-%llX", prefix, (unsigned long long)seq);
  return (n < 0 || (size_t)n >= cap) ? -ENOSPC : n;
}

int ch_srv_cursor_parse(const char *prefix, const char *s, size_t len, uint64_t *seq) {
  size_t pl = strlen(prefix);
  if (!s || len < pl + 4 || s[0] != 'd' || s[1] != '-' || memcmp(s + 2, prefix, pl) != 0 || s[2 + pl] != '-')
    return -EINVAL;
  size_t i = pl + 3;
  if (len - i > 16)
    return -EINVAL;
  uint64_t v = 0;
  for (; i < len; i++) {
    int h = hexval((unsigned char)s[i]);
    if (h < 0)
      return -EINVAL;
    v = v << 4 | (uint64_t)h;
  }
  *seq = v;
  return 0;
}

/* ---- hubs and connectionData ---- */

unsigned ch_srv_hub_lookup(const char *name, size_t len) {
  if (len == 16 && strncasecmp(name, "ResourceEventHub", 16) == 0)
    return CH_HUB_RESOURCE;
  if (len == 11 && strncasecmp(name, "JobEventHub", 11) == 0)
    return CH_HUB_JOB;
  return 0;
}

const char *ch_srv_hub_name(unsigned hub_bit) {
  return hub_bit == CH_HUB_RESOURCE ? "ResourceEventHub" : hub_bit == CH_HUB_JOB ? "JobEventHub" : "?";
}

int ch_srv_connection_data_parse(const char *s, size_t len, unsigned *hubs, char *bad_hub, size_t cap) {
  *hubs = 0;
  if (bad_hub && cap)
    bad_hub[0] = 0;
  if (!s)
    return 0;
  cJSON *arr = cJSON_ParseWithLength(s, len);
  int rc = 0;
  if (!cJSON_IsArray(arr)) {
    rc = -EINVAL;
    goto out;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    const cJSON *name = NULL, *f;
    if (!cJSON_IsObject(it)) {
      rc = -EINVAL;
      break;
    }
    cJSON_ArrayForEach(f, it) {
      if (f->string && strcasecmp(f->string, "name") == 0)
        name = f;
    }
    if (!cJSON_IsString(name)) {
      rc = -EINVAL;
      break;
    }
    unsigned h = ch_srv_hub_lookup(name->valuestring, strlen(name->valuestring));
    if (!h || (*hubs & h)) {
      if (bad_hub && cap)
        snprintf(bad_hub, cap, "%s", name->valuestring);
      rc = -EINVAL;
      break;
    }
    *hubs |= h;
  }
out:
  cJSON_Delete(arr);
  if (rc)
    *hubs = 0;
  return rc;
}

int ch_srv_json_str(struct ch_buf *out, const char *s, size_t len) {
  if (ch_buf_reserve(out, len * 6 + 2))
    return -ENOMEM;
  char *o = out->data + out->len;
  *o++ = '"';
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c < 0x20) {
      static const char hx[] = "0123456789abcdef";
      *o++ = '\\';
      *o++ = 'u';
      *o++ = '0';
      *o++ = '0';
      *o++ = hx[c >> 4];
      *o++ = hx[c & 15];
    } else {
      *o++ = (char)c;
    }
  }
  *o++ = '"';
  out->len = (size_t)(o - out->data);
  out->data[out->len] = 0;
  return 0;
}
