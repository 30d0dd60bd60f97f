/* The fault-injection table: names, the check family each fault must trip, and a one-line description. */
#include <errno.h>
#include <string.h>

#include "ch_server.h"

static const struct ch_fault_info fault_table[CH_FAULT_COUNT] = {
    {CH_FAULT_NEG_MISSING_FIELD, "negotiate-missing-field", "NEG",
     "negotiate response omits TransportConnectTimeout"},
    {CH_FAULT_PROTOCOL_ECHO, "protocol-echo", "PROTO",
     "ProtocolVersion echoes clientProtocol (2.1) instead of clamping to 2.0"},
    {CH_FAULT_INIT_NO_S, "init-no-s", "INIT", "the init message after /connect lacks \"S\":1"},
    {CH_FAULT_START_BAD_RESPONSE, "start-bad-response", "START", "/start answers {\"Response\":\"ok\"}"},
    {CH_FAULT_INVOKE_NUMERIC_ID, "invoke-numeric-id", "INVOKE",
     "hub method completions carry I as a number instead of a string"},
    {CH_FAULT_DROP_UPDATES, "drop-updates", "DELIVERY", "every 10th Update to a connection is lost"},
    {CH_FAULT_DUPLICATE_UPDATES, "duplicate-updates", "DUP", "every 10th Update to a connection is sent twice"},
    {CH_FAULT_REORDER_UPDATES, "reorder-updates", "ORDER", "Updates to a connection arrive in swapped pairs"},
    {CH_FAULT_SLOW_UPDATES, "slow-updates", "LATENCY", "every Update is held 300 ms before it is sent"},
    {CH_FAULT_LEAK_KEYS, "leak-keys", "ISOLATION",
     "an Update reaches every subscriber of the hub, not only those of its part/pipeline"},
    {CH_FAULT_IGNORE_UNSUBSCRIBE, "ignore-unsubscribe", "UNSUB",
     "Unsubscribe completes but the connection keeps receiving the key's Updates"},
    {CH_FAULT_AUTH_STATUS_SWAP, "auth-status-swap", "AUTH",
     "403 for a missing/unknown token and 401 for a user not allowed on the hub"},
    {CH_FAULT_NO_KEEPALIVE, "no-keepalive", "KEEPALIVE", "no keep-alives on any transport"},
    {CH_FAULT_NO_REPLAY, "no-replay", "REPLAY", "reconnect/poll with messageId does not replay missed messages"},
    {CH_FAULT_IGNORE_GROUPS_TOKEN, "ignore-groups-token", "GROUPS",
     "groupsToken is ignored on reconnect/poll, so subscriptions are lost"},
    {CH_FAULT_LOSE_1PCT, "lose-1pct", "DELIVERY", "each Update to a connection is lost with probability 1%"},
    {CH_FAULT_DUPLICATE_1PCT, "duplicate-1pct", "DUP", "each Update to a connection is sent twice with probability 1%"},
    {CH_FAULT_REORDER_1PCT, "reorder-1pct", "ORDER",
     "each Update to a connection is sent after the next one with probability 1%"},
    {CH_FAULT_CLOSE_AFTER_UPDATES, "close-after-updates", "CLOSE",
     "the server ends every receive channel after 50 Updates on it: WebSocket Close 1000, end of the event stream, "
     "poll answered with T:1"},
    {CH_FAULT_PING_NUL, "ping-nul", "PING", "/ping answers { \"Response\": \"pong\" } followed by a NUL byte"},
    {CH_FAULT_REFUSE_RECONNECT, "refuse-reconnect", "REPLAY",
     "/reconnect answers 503, so a dropped connection can only come back as a new one (its missed Updates are lost)"},
};

const struct ch_fault_info *ch_fault_table(void) { return fault_table; }

const char *ch_fault_name(enum ch_fault f) {
  if ((unsigned)f >= CH_FAULT_COUNT)
    return NULL;
  return fault_table[f].name;
}

int ch_fault_parse(const char *name, enum ch_fault *out) {
  if (!name)
    return -EINVAL;
  for (unsigned i = 0; i < CH_FAULT_COUNT; i++) {
    if (strcmp(fault_table[i].name, name) == 0) {
      *out = fault_table[i].fault;
      return 0;
    }
  }
  return -EINVAL;
}
