/* ch_srv_codec: the socket-free pieces of the reference server: request routing, query/form parameters, keyed
   tokens (connection and groups tokens), cursors and connectionData. Pure functions, so they can be fuzzed. */
#ifndef CH_SRV_CODEC_H
#define CH_SRV_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

/* The sub-command of a request under {base}/signalr (path suffix, case-insensitive, like the real server). */
enum ch_srv_cmd {
  CH_SRV_CMD_NONE,      /* not under {base}/signalr: 404 */
  CH_SRV_CMD_NEGOTIATE,
  CH_SRV_CMD_PING,
  CH_SRV_CMD_CONNECT,
  CH_SRV_CMD_RECONNECT,
  CH_SRV_CMD_POLL,
  CH_SRV_CMD_START,
  CH_SRV_CMD_SEND,
  CH_SRV_CMD_ABORT,
  CH_SRV_CMD_HUBS,      /* /hubs or /js: the generated proxy script */
  CH_SRV_CMD_OTHER,     /* any other suffix: a reconnect on forever transports, a poll on long polling */
};

enum ch_srv_transport {
  CH_SRV_TR_NONE,
  CH_SRV_TR_WS,
  CH_SRV_TR_SSE,
  CH_SRV_TR_LP,
};

/* Routes `path` (already percent-decoded, no query) against endpoint base+"/signalr". *endpoint_len is the length
   of the path without the command suffix (the negotiate Url). Never fails: unknown paths give CH_SRV_CMD_NONE. */
enum ch_srv_cmd ch_srv_route(const char *base, const char *path, size_t len, size_t *endpoint_len);
/* Case-insensitive transport name; CH_SRV_TR_NONE for NULL or an unknown name. */
enum ch_srv_transport ch_srv_transport_parse(const char *s, size_t len);
const char *ch_srv_transport_name(enum ch_srv_transport t);

/* Request parameters (query string and form body), names matched case-insensitively, first occurrence wins.
   Values are stored decoded and NUL-terminated. */
#define CH_SRV_MAX_PARAMS 32
struct ch_srv_params {
  struct {
    uint32_t name_off, name_len, val_off, val_len;
  } kv[CH_SRV_MAX_PARAMS];
  size_t n;
  struct ch_buf store;
};
void ch_srv_params_init(struct ch_srv_params *p);
void ch_srv_params_reset(struct ch_srv_params *p);
void ch_srv_params_free(struct ch_srv_params *p);
/* Adds one decoded pair. Beyond CH_SRV_MAX_PARAMS pairs are ignored (returns 0). -ENOMEM on allocation failure. */
int ch_srv_params_add(struct ch_srv_params *p, const char *name, size_t nlen, const char *val, size_t vlen);
/* Adds a decoded "name=value" fragment (as libwebsockets hands out query arguments). */
int ch_srv_params_add_frag(struct ch_srv_params *p, const char *frag, size_t len);
/* Parses an application/x-www-form-urlencoded body (a=1&b=2). Lenient like Katana: a bad %-escape is kept as
   literal text, '+' is a space. Embedded NULs are kept out of names (pair skipped). */
int ch_srv_params_parse_form(struct ch_srv_params *p, const char *s, size_t len);
/* The decoded value, or NULL when absent; *len (optional) gets its length. */
const char *ch_srv_param(const struct ch_srv_params *p, const char *name, size_t *len);

/* Keyed 64-bit MAC (SipHash-2-4). */
uint64_t ch_srv_siphash(const uint64_t key[2], const void *data, size_t len);

/* Connection token: base64(connId ":" user MAC8). */
int ch_srv_conn_token_make(const uint64_t key[2], const char *conn_id, const char *user, struct ch_buf *out);
/* 0 with conn_id (37 bytes incl NUL) and user (malloc'ed, caller frees) filled in; -EINVAL for a forged or corrupt
   token (-> 400 "The ConnectionId is in the incorrect format."). */
int ch_srv_conn_token_parse(const uint64_t key[2], const char *tok, size_t len, char conn_id[37], char **user);

/* Groups token: base64(connId ":" JSON array of "Hub.key" MAC8). */
int ch_srv_groups_token_make(const uint64_t key[2], const char *conn_id, const char *const *groups, size_t n,
                             struct ch_buf *out);
/* Decodes the group names into *groups (malloc'ed array of malloc'ed strings, free with ch_srv_strv_free).
   -EINVAL when the token is forged, corrupt or for another connection (callers then use an empty group list). */
int ch_srv_groups_token_parse(const uint64_t key[2], const char *conn_id, const char *tok, size_t len,
                              char ***groups, size_t *n);
void ch_srv_strv_free(char **v, size_t n);

/* Cursor "d-<PREFIX>-<hex seq>" where PREFIX is the per-process random prefix (uppercase hex, no leading zeros). */
int ch_srv_cursor_format(char *out, size_t cap, const char *prefix, uint64_t seq);
/* 0 and *seq when the cursor carries our prefix; -EINVAL otherwise (foreign process or garbage: no replay). */
int ch_srv_cursor_parse(const char *prefix, const char *s, size_t len, uint64_t *seq);

/* connectionData: a JSON array of {"name":"hub"} (property and hub names case-insensitive). *hubs gets the bit set
   of enum ch_hub listed; 0 for absent or []. -EINVAL for bad JSON, an unknown hub or a duplicate (-> HTTP 500);
   bad_hub (optional, cap bytes) gets the offending name for the log. */
int ch_srv_connection_data_parse(const char *s, size_t len, unsigned *hubs, char *bad_hub, size_t cap);

/* Hub lookups (case-insensitive). Return the enum ch_hub bit, 0 if unknown. */
unsigned ch_srv_hub_lookup(const char *name, size_t len);
const char *ch_srv_hub_name(unsigned hub_bit);

/* JSON string escaping into out (with the quotes). */
int ch_srv_json_str(struct ch_buf *out, const char *s, size_t len);

/* Case-insensitive "ends with". */
bool ch_srv_ends_with_ci(const char *s, size_t len, const char *suffix);

#endif /* CH_SRV_CODEC_H */
