/* ch_report_recovery: how a run's clients came back from a reconnect storm (a "drop" phase: the server dropped
 * every connection). Times count from the drop request; "receiving" means the client's first Update after it lost
 * its connection. report.json "recovery" (reports/README.md), the terminal summary, report.html (a recovery plot). */
#ifndef CH_REPORT_RECOVERY_H
#define CH_REPORT_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

/* Failed /reconnect attempts during the storm, by cause (the server's answer, or none). */
enum ch_recovery_cause {
  CH_RECOVERY_HTTP_503, CH_RECOVERY_HTTP_401, CH_RECOVERY_HTTP_403, CH_RECOVERY_HTTP_404, CH_RECOVERY_HTTP_5XX,
  CH_RECOVERY_NOT_SIGNALR, CH_RECOVERY_TIMEOUT, CH_RECOVERY_REFUSED, CH_RECOVERY_TLS, CH_RECOVERY_OTHER,
  CH_RECOVERY_CAUSES
};
const char *ch_recovery_cause_name(enum ch_recovery_cause c); /* "http_503", ..., "other" */

/* The curve has one point per 2% of the clients: point i is when (i+1)*2% had reconnected / were receiving. */
#define CH_RECOVERY_POINTS 50

struct ch_report_recovery {
  uint64_t clients;          /* connections the storm dropped */
  uint64_t reconnected;      /* came back by /reconnect (same connection, groupsToken and messageId) */
  uint64_t new_connections;  /* came back by a new connection and Subscribes again (client_model official-js) */
  uint64_t receiving;        /* received an Update after the drop */
  uint64_t live;             /* received an Update published after it was back (not only replayed ones) */
  uint64_t gave_up;          /* ended without coming back */
  /* seconds after the drop request until that share was back / receiving; < 0: never reached */
  double back_p50, back_p99, back_p100, rx_p50, rx_p99, rx_p100;
  double back_curve[CH_RECOVERY_POINTS], rx_curve[CH_RECOVERY_POINTS];
  uint64_t published;        /* Updates published while their subscriber was away */
  uint64_t replayed, lost;   /* of them, those that came after the reconnect, and those that never came */
  uint64_t answers[CH_RECOVERY_CAUSES];
  char *drop;                /* the drop request and its answer, e.g. "POST http://127.0.0.1:9/drop: HTTP 200" */
};

/* From the per-client times (ns after the drop; UINT64_MAX: never), which it sorts in place. */
void ch_report_recovery_times(struct ch_report_recovery *r, uint64_t *back, uint64_t *rx, size_t n);
void ch_report_recovery_free(struct ch_report_recovery *r);
/* Shards of one run: counts summed, times the later of the two. @return 0 or -ENOMEM. */
int ch_report_recovery_merge(struct ch_report_recovery **dst, const struct ch_report_recovery *src);
int ch_report_recovery_text(const struct ch_report_recovery *r, struct ch_buf *b);
/* The section with its table; the plot is drawn by report.html's chart code (ch_report_html.c). */
int ch_report_recovery_html(const struct ch_report_recovery *r, struct ch_buf *b);

#endif /* CH_REPORT_RECOVERY_H */
