/* The conformance catalogue and the verdict of a run (exit code, last line): stable ids, one line each, the
   protocol-doc section each one enforces. Ids are never renumbered; a retired check keeps its id out of use. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_checks.h"
#include "ch_exit.h"

static const struct ch_check_def catalogue[] = {
    /* negotiate (§1-§2): pure HTTP */
    {"NEG-001", "negotiate", "negotiate answers 200 JSON with the ten fields and their types", "§2", 0},
    {"NEG-002", "negotiate", "ProtocolVersion is clientProtocol clamped to [1.2, 2.0] for each clientProtocol", "§1.3",
     0},
    {"NEG-003", "negotiate", "Url is the endpoint path, virtual directory included", "§2", 0},
    {"NEG-004", "negotiate", "an unknown hub in connectionData is refused (HTTP 500)", "§2", 0},
    {"NEG-005", "negotiate", "TryWebSockets is true only when the WebSocket upgrade works", "§2", 0},
    /* connection lifecycle (§1.2, §4, §5) */
    {"CON-001", "lifecycle", "connect sends the init message {\"C\":…,\"S\":1,\"M\":[]} first", "§4", CH_T_ALL},
    {"CON-002", "lifecycle", "start answers {\"Response\":\"started\"}", "§5", CH_T_ALL},
    {"CON-003", "lifecycle", "ping answers {\"Response\":\"pong\"}", "§5", 0},
    {"CON-004", "lifecycle", "abort answers 200 with an empty body and ends the receive", "§5", CH_T_ALL},
    {"CON-005", "lifecycle", "a missing or unknown transport is answered 400", "§1.1", 0},
    {"CON-006", "lifecycle", "a missing connectionToken is answered 400", "§1.1", 0},
    {"CON-007", "lifecycle", "a forged connectionToken is answered 400", "§6", 0},
    {"CON-008", "lifecycle",
     "the server ends no receive channel unasked during a delivery burst or a hold (Close frame, TCP close, end of "
     "the event stream, failed or T:1 poll)",
     "§4.1", CH_T_ALL},
    /* hub invocations (§3.3, §3.4, §9) */
    {"INV-001", "invoke", "a completion echoes the invocation id I as a JSON string", "§3.4", CH_T_ALL},
    {"INV-002", "invoke", "a void method completes without R and without E", "§3.4", CH_T_ALL},
    {"INV-003", "invoke", "an unknown method is answered with E (string), no R, H absent or true", "§9", CH_T_ALL},
    {"INV-004", "invoke", "a wrong argument count is answered with E, no R", "§9", CH_T_ALL},
    {"INV-005", "invoke", "hub and method names are matched case-insensitively", "§3.3", CH_T_ALL},
    /* delivery (§3.1, §3.2) */
    {"DEL-001", "delivery", "after subscribe, an Update for the key is delivered (H, M=Update, A[0] correlated)",
     "§3.2", CH_T_ALL},
    {"DEL-002", "delivery", "after unsubscribe, no Update for the key arrives", "§3.2", CH_T_ALL},
    {"DEL-003", "delivery", "an Update for another key is not delivered (isolation between keys)", "§3.2", CH_T_ALL},
    {"DEL-004", "delivery", "an Update on the other hub is not delivered (isolation between hubs)", "§1.4", CH_T_ALL},
    {"DEL-005", "delivery", "a burst of Updates for one key arrives in publish order", "§3.1", CH_T_ALL},
    {"DEL-006", "delivery", "no Update of a burst is delivered twice", "§3.1", CH_T_ALL},
    {"DEL-007", "delivery", "no Update of a burst is lost", "§3.1", CH_T_ALL},
    {"DEL-008", "delivery", "the median Update latency after the trigger is within --max-latency-ms", "§3.1", CH_T_ALL},
    /* authorization (§6, §9) */
    {"AUTH-001", "auth", "negotiate without credentials is answered 401", "§6", 0},
    {"AUTH-002", "auth", "connect without credentials is answered 401", "§6", CH_T_ALL},
    {"AUTH-003", "auth", "a malformed credential is answered 401", "§6", 0},
    {"AUTH-004", "auth", "an unknown token is answered 401", "§6", 0},
    {"AUTH-005", "auth", "a valid token under the wrong scheme is answered 401", "§6", 0},
    {"AUTH-006", "auth", "a connection token replayed by another user is answered 403", "§6", 0},
    {"AUTH-007", "auth", "subscribing to a forbidden key is rejected", "§6", 0},
    /* keep-alive (§7) */
    {"KA-001", "keepalive", "keep-alives arrive at least once per KeepAliveTimeout", "§7",
     CH_T_WS | CH_T_SSE | CH_T_LP},
    /* reconnect (§8) */
    {"REC-001", "reconnect", "reconnect with messageId replays the Updates missed while away", "§8", CH_T_ALL},
    {"REC-002", "reconnect", "reconnect with groupsToken restores the subscriptions", "§8", CH_T_ALL},
};

const struct ch_check_def *ch_checks_catalogue(size_t *n) {
  *n = sizeof catalogue / sizeof catalogue[0];
  return catalogue;
}

const struct ch_check_def *ch_check_find(const char *id) {
  for (size_t i = 0; i < sizeof catalogue / sizeof catalogue[0]; i++)
    if (strcasecmp(catalogue[i].id, id) == 0)
      return &catalogue[i];
  return NULL;
}

bool ch_check_uses_burst(const struct ch_check_def *d) {
  static const char *const ids[] = {"CON-008", "DEL-005", "DEL-006", "DEL-007"};
  for (size_t i = 0; d && i < sizeof ids / sizeof ids[0]; i++)
    if (strcmp(d->id, ids[i]) == 0)
      return true;
  return false;
}

unsigned ch_checks_burst_size(double rate, double confidence) {
  if (!(rate > 0 && rate < 1) || !(confidence > 0 && confidence < 1))
    return 1;
  double n = ceil(log(1 - confidence) / log(1 - rate)) + 1;
  return n > CH_CHECK_BURST_MAX ? CH_CHECK_BURST_MAX : (unsigned)n;
}

double ch_checks_burst_power(unsigned n, double rate) { return n < 2 ? 0 : 1 - pow(1 - rate, (double)(n - 1)); }

void ch_checks_burst_describe(unsigned n, struct ch_buf *out) {
  unsigned want = ch_checks_burst_size(CH_CHECK_FAULT_RATE, CH_CHECK_CONFIDENCE);
  ch_buf_printf(out,
                "burst of %u Updates per connection: a %g%% loss, duplication or reordering is detected with "
                "probability %.2f%%%s",
                n, CH_CHECK_FAULT_RATE * 100, ch_checks_burst_power(n, CH_CHECK_FAULT_RATE) * 100,
                n < want ? " (below the 99.9% of the default burst: --burst was lowered)" : "");
}

static const char *const tnames[] = {"webSockets", "serverSentEvents", "longPolling"};

const char *ch_tmask_name(unsigned bit) {
  switch (bit) {
  case CH_T_WS: return tnames[0];
  case CH_T_SSE: return tnames[1];
  case CH_T_LP: return tnames[2];
  default: return NULL;
  }
}

int ch_tmask_parse(const char *s, unsigned *mask) {
  unsigned m = 0;
  if (!s || !*s)
    return -EINVAL;
  while (*s) {
    size_t n = strcspn(s, ",");
    if (n == 0)
      return -EINVAL;
#define CH_IS(w) (n == strlen(w) && strncasecmp(s, w, n) == 0)
    if (CH_IS("webSockets") || CH_IS("ws"))
      m |= CH_T_WS;
    else if (CH_IS("serverSentEvents") || CH_IS("sse"))
      m |= CH_T_SSE;
    else if (CH_IS("longPolling") || CH_IS("lp"))
      m |= CH_T_LP;
    else if (CH_IS("all"))
      m |= CH_T_ALL;
    else
      return -EINVAL;
#undef CH_IS
    s += n;
    if (*s == ',')
      s++;
  }
  *mask = m;
  return 0;
}

void ch_checks_results_free(struct ch_checks_results *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->items[i].message);
    free(r->items[i].evidence);
    free(r->items[i].transcript_path);
  }
  free(r->items);
  memset(r, 0, sizeof *r);
}

const char *ch_check_status_name(enum ch_check_status st) {
  switch (st) {
  case CH_CHECK_PASS: return "pass";
  case CH_CHECK_FAIL: return "FAIL";
  case CH_CHECK_INCOMPLETE: return "incomplete";
  case CH_CHECK_NOT_RUN: return "not run";
  default: return "skip";
  }
}

/* The first result with status st (its id and message say why), or NULL. */
static const struct ch_check_result *first_with(const struct ch_checks_results *r, enum ch_check_status st) {
  for (size_t i = 0; i < r->n; i++)
    if (r->items[i].status == st)
      return &r->items[i];
  return NULL;
}

int ch_checks_exit_code(const struct ch_checks_results *r, int run_rc, struct ch_buf *last_line) {
  int code;
  size_t total = r->passed + r->failed + r->skipped + r->not_run;
  const struct ch_check_result *skip = first_with(r, CH_CHECK_SKIP);
  if (run_rc == -EINVAL) {
    code = CH_EXIT_INPUT;
    ch_buf_printf(last_line, "exit 3: invalid input (%s)", r->run_error_msg);
  } else if (run_rc) {
    code = CH_EXIT_RUN;
    ch_buf_printf(last_line, "exit 4: the run could not be carried out (%s)", r->run_error_msg);
  } else if (r->failed) {
    code = CH_EXIT_CHECK_FAILED;
    ch_buf_printf(last_line, "exit 1: conformance check failed (%u of %zu)", r->failed, total);
  } else if (r->not_run) {
    code = CH_EXIT_RUN;
    ch_buf_printf(last_line, "exit 4: the run could not be carried out (%u of %zu checks not run: %s)", r->not_run,
                  total, r->precondition[0] ? r->precondition : "a precondition failed");
  } else if (!r->passed) {
    code = CH_EXIT_RUN;
    if (skip)
      ch_buf_printf(last_line, "exit 4: the run could not be carried out (no check passed: %u skipped, e.g. %s: %s)",
                    r->skipped, skip->def->id, skip->message);
    else
      ch_buf_puts(last_line, "exit 4: the run could not be carried out (no check selected)");
  } else if (r->strict && r->skipped) {
    code = CH_EXIT_CHECK_FAILED;
    ch_buf_printf(last_line, "exit 1: %u of %zu checks skipped and --strict is set (e.g. %s: %s)", r->skipped, total,
                  skip ? skip->def->id : "?", skip ? skip->message : "");
  } else {
    code = CH_EXIT_OK;
    ch_buf_printf(last_line, "exit 0: all conformance checks passed (%u passed, %u skipped, of %zu)", r->passed,
                  r->skipped, total);
  }
  return code;
}
