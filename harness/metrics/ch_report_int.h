/* ch_report_int: helpers shared by the report renderers (not part of the public API). */
#ifndef CH_REPORT_INT_H
#define CH_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"
#include "ch_report.h"

/* The HTML report's SVG charts (ch_report_html.c), shared with the compare page. Percentiles: one line per
   non-empty histogram on a log-percentile x axis (at most 16). Series: one quantity of each run's time series. */
int ch__html_percentiles(struct ch_buf *b, const char *id, const char *title, const char *const *names,
                         const struct ch_hist *const *hists, size_t n_hists);
enum ch__series_what { CH__SERIES_CONNECTED, CH__SERIES_MESSAGES_IN, CH__SERIES_P50, CH__SERIES_P99 };
int ch__html_series(struct ch_buf *b, const char *id, const char *title, const char *ylabel,
                    const char *const *names, const struct ch_metrics *const *ms, size_t n_runs,
                    enum ch__series_what what);
/* Appends the head of a self-contained page (no network: a CSP that allows only inline style and script) with the
   report's style sheet and extra_css (may be NULL), up to and including <body>. @return 0 or -ENOMEM. */
int ch__html_page_head(struct ch_buf *b, const char *title, const char *extra_css);

/* Appends s escaped for XML/HTML text and attributes (& < > " '), dropping control characters XML 1.0 forbids and
   replacing invalid UTF-8 bytes with U+FFFD. NULL appends nothing. */
int ch__xml_escape(struct ch_buf *b, const char *s);
/* Length of the valid UTF-8 sequence at p (1 for ASCII, including NUL), 0 when invalid. */
size_t ch__utf8_seq(const unsigned char *p);
/* Appends s with invalid UTF-8 bytes replaced by U+FFFD (JSON output must be valid UTF-8). */
int ch__utf8_clean(struct ch_buf *b, const char *s);
/* Replaces every registered secret in out[from..] by "[REDACTED]". */
int ch__report_scrub(const struct ch_report *r, struct ch_buf *out, size_t from);
/* Appends s with every registered secret replaced (use before truncating text, so no prefix of a secret survives). */
int ch__report_scrub_str(const struct ch_report *r, const char *s, struct ch_buf *out);
/* Formats ns as a short human duration: "850ns", "12.3us", "4.56ms", "1.23s", "2m03s". */
void ch__fmt_dur(char *buf, size_t n, double ns);
/* Formats a count compactly: "950", "12.3k", "4.56M". */
void ch__fmt_count(char *buf, size_t n, double v);
/* ISO-8601 UTC "2026-11-27T23:50:00Z" for a wall time in ns (empty string for 0). */
void ch__fmt_time(char *buf, size_t n, uint64_t wall_ns);
/* Whether a metric name is a latency (value in ns). */
int ch__metric_is_latency(const char *name);
/* Formats a metric value in its natural unit (durations for latencies, % for delivery_ratio, else a number). */
void ch__fmt_metric(char *buf, size_t n, const char *metric, double v);

/* The report's style sheet and its charts (latency by percentile of total, then the per-second series of m), shared
   with the live dashboard (ch_live.c) so that both draw the same. */
const char *ch__report_css(void);
int ch__report_charts(struct ch_buf *b, const struct ch_metrics *m, const struct ch_metrics_group *total);

/* The "capacity" object of report.json (ch_report_capacity.c). to_json: NULL when out of memory. from_json: 0,
   -EINVAL (err names the field), -ENOMEM; the knee is recomputed from the steps. */
struct cJSON;
struct cJSON *ch__capacity_to_json(const struct ch_capacity *c);

/* The report.json writer's helpers (ch_report_json.c), shared with the capacity section: they set oom instead of
   failing, strings are cleaned to valid UTF-8 in tmp, and a NULL string is written as null. */
struct ch__jw {
  int oom;
  struct ch_buf tmp;
};
void ch__jw_chk(struct ch__jw *w, const void *p);
void ch__jw_str(struct ch__jw *w, struct cJSON *o, const char *k, const char *v);
void ch__jw_num(struct ch__jw *w, struct cJSON *o, const char *k, double v);
void ch__jw_str_array(struct ch__jw *w, struct cJSON *o, const char *k, char **l, size_t n);
/* The observed value of the SLO a step broke, in its metric's unit (the metric is the expression's first word). */
void ch__capacity_observed(char *buf, size_t n, const struct ch_capacity_step *st);
int ch__capacity_from_json(const struct cJSON *o, struct ch_capacity **out, struct ch_buf *err);

/* A latency object ("count", percentiles, "hist") named name in lat, as in a group's "latency" (nothing when h is
   empty). */
void ch__jw_lat(struct ch__jw *w, struct cJSON *lat, const char *name, const struct ch_hist *h);
/* The "triggers" array of report.json (ch_report_triggers.c). to_json: NULL when out of memory. */
struct ch_report_triggers;
struct cJSON *ch__triggers_to_json(const struct ch_report_triggers *t, struct ch__jw *w);
int ch__triggers_from_json(const struct cJSON *a, struct ch_report_triggers **out, struct ch_buf *err);
/* The "recovery" object of report.json (ch_report_recovery.c). to_json: NULL when out of memory. */
struct ch_report_recovery;
struct cJSON *ch__recovery_to_json(const struct ch_report_recovery *r, struct ch__jw *w);
int ch__recovery_from_json(const struct cJSON *o, struct ch_report_recovery **out, struct ch_buf *err);

#endif /* CH_REPORT_INT_H */
