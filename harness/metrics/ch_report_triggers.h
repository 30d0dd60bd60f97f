/* ch_report_triggers: the per-trigger lines of a run's report (a scenario with several triggers, one per backend
 * route): requests sent and failed, Updates expected and missing on the keys each trigger drives, and the delivery
 * latency of its Updates. report.json "triggers" (reports/README.md), the terminal summary, report.html. */
#ifndef CH_REPORT_TRIGGERS_H
#define CH_REPORT_TRIGGERS_H

#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_hist.h"

struct ch_report_trigger {
  char *label;          /* "trigger[1] (JobEventHub)" */
  char *type;           /* "reference" | "http" | "none" */
  uint64_t sent, errors;
  uint64_t expected, missing; /* Updates on its keys for subscribers that were subscribed */
  char *first_error;    /* the first failed request, redacted; NULL when none */
  struct ch_hist latency; /* update_latency of the Updates it caused */
};

struct ch_report_triggers {
  struct ch_report_trigger *v;
  size_t n;
};

/* n triggers, every field empty. NULL when out of memory. */
struct ch_report_triggers *ch_report_triggers_new(size_t n);
void ch_report_triggers_free(struct ch_report_triggers *t);
/* Adds src into dst (shards of one run): counters summed, histograms merged; a different trigger list leaves dst
   as it is. @return 0 or -ENOMEM. */
int ch_report_triggers_merge(struct ch_report_triggers **dst, const struct ch_report_triggers *src);
/* The terminal summary's block and report.html's section. @return 0 or -ENOMEM. */
int ch_report_triggers_text(const struct ch_report_triggers *t, struct ch_buf *b);
int ch_report_triggers_html(const struct ch_report_triggers *t, struct ch_buf *b);

#endif /* CH_REPORT_TRIGGERS_H */
