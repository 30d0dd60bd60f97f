/* junit.xml: one testcase per conformance check and per threshold, in the common JUnit XML dialect that GitLab,
   Jenkins and GitHub test reporters read (testsuites > testsuite > testcase > failure|error|skipped). A skipped
   check is <skipped message="reason"/>; a check not run because its precondition failed (not SignalR, credentials
   refused) is <error type="not-run" message="not run: cause"/>: the test could not be carried out, which is neither
   a pass nor a conformance failure. */
#include <errno.h>
#include <string.h>

#include "ch_report.h"
#include "ch_report_int.h"

static double secs(uint64_t ns) { return (double)ns / 1e9; }

/* The failure message attribute: the first line of the evidence, bounded. Secrets are replaced before cutting, so
   no prefix of a secret can survive the cut. */
static int message_attr(const struct ch_report *r, struct ch_buf *b, const char *evidence) {
  struct ch_buf clean = CH_BUF_INIT;
  if (ch__report_scrub_str(r, evidence, &clean))
    return -ENOMEM;
  const char *e = clean.data;
  char line[512];
  size_t n = strcspn(e, "\r\n");
  if (n >= sizeof line)
    n = sizeof line - 1;
  /* do not cut a UTF-8 sequence in half */
  while (n && ((unsigned char)e[n] & 0xc0) == 0x80)
    n--;
  memcpy(line, e, n);
  line[n] = '\0';
  ch_buf_free(&clean);
  return ch__xml_escape(b, line);
}

static int suite_checks(const struct ch_report *r, struct ch_buf *b, const char *ts) {
  uint64_t total = 0;
  for (size_t i = 0; i < r->n_checks; i++)
    total += r->checks[i].duration_ns;
  int rc = ch_buf_printf(b,
                         "  <testsuite name=\"conformance\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                         "skipped=\"%zu\" time=\"%.3f\" timestamp=\"%s\">\n",
                         r->n_checks, ch_report_count_checks(r, CH_RESULT_FAIL),
                         ch_report_count_checks(r, CH_RESULT_NOT_RUN) + ch_report_count_checks(r, CH_RESULT_INCOMPLETE),
                         ch_report_count_checks(r, CH_RESULT_SKIP),
                         secs(total), ts);
  for (size_t i = 0; i < r->n_checks && !rc; i++) {
    const struct ch_check *c = &r->checks[i];
    rc = ch_buf_puts(b, "    <testcase classname=\"conformance.");
    rc = rc ? rc : ch__xml_escape(b, c->transport ? c->transport : "any");
    rc = rc ? rc : ch_buf_puts(b, "\" name=\"");
    rc = rc ? rc : ch__xml_escape(b, c->id);
    rc = rc ? rc : ch_buf_puts(b, " ");
    rc = rc ? rc : ch__xml_escape(b, c->description);
    rc = rc ? rc : ch_buf_printf(b, "\" time=\"%.3f\"", secs(c->duration_ns));
    if (rc)
      break;
    if (c->result == CH_RESULT_PASS) {
      rc = ch_buf_puts(b, "/>\n");
      continue;
    }
    if (c->result == CH_RESULT_INCOMPLETE) { /* an error, so an interrupted run never reads as green */
      rc = ch_buf_puts(b, ">\n      <error type=\"incomplete\" message=\"");
      rc = rc ? rc : message_attr(r, b, c->evidence ? c->evidence : "incomplete: the run was interrupted");
      rc = rc ? rc : ch_buf_puts(b, "\"/>\n    </testcase>\n");
      continue;
    }
    if (c->result == CH_RESULT_SKIP) {
      rc = ch_buf_puts(b, ">\n      <skipped message=\"");
      rc = rc ? rc : message_attr(r, b, c->evidence ? c->evidence : "skipped");
      rc = rc ? rc : ch_buf_puts(b, "\"/>\n    </testcase>\n");
      continue;
    }
    if (c->result == CH_RESULT_NOT_RUN) {
      rc = ch_buf_puts(b, ">\n      <error type=\"not-run\" message=\"");
      rc = rc ? rc : message_attr(r, b, c->evidence ? c->evidence : "not run");
      rc = rc ? rc : ch_buf_puts(b, "\"/>\n    </testcase>\n");
      continue;
    }
    rc = ch_buf_puts(b, ">\n      <failure type=\"conformance\" message=\"");
    rc = rc ? rc : message_attr(r, b, c->evidence ? c->evidence : "failed");
    rc = rc ? rc : ch_buf_puts(b, "\">");
    rc = rc ? rc : ch__xml_escape(b, c->id);
    rc = rc ? rc : ch_buf_puts(b, ": ");
    rc = rc ? rc : ch__xml_escape(b, c->description);
    if (c->section) {
      rc = rc ? rc : ch_buf_puts(b, "\nProtocol section: ");
      rc = rc ? rc : ch__xml_escape(b, c->section);
    }
    if (c->transport) {
      rc = rc ? rc : ch_buf_puts(b, "\nTransport: ");
      rc = rc ? rc : ch__xml_escape(b, c->transport);
    }
    rc = rc ? rc : ch_buf_puts(b, "\nEvidence: ");
    rc = rc ? rc : ch__xml_escape(b, c->evidence ? c->evidence : "(none recorded)");
    rc = rc ? rc : ch_buf_puts(b, "</failure>\n    </testcase>\n");
  }
  return rc ? rc : ch_buf_puts(b, "  </testsuite>\n");
}

static int suite_thresholds(const struct ch_report *r, struct ch_buf *b, const char *ts) {
  int rc = ch_buf_printf(b,
                         "  <testsuite name=\"thresholds\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" "
                         "time=\"0\" timestamp=\"%s\">\n",
                         r->n_thresholds, ch_report_count_thresholds(r, CH_RESULT_FAIL), ts);
  for (size_t i = 0; i < r->n_thresholds && !rc; i++) {
    const struct ch_threshold *t = &r->thresholds[i];
    rc = ch_buf_puts(b, "    <testcase classname=\"thresholds\" name=\"");
    rc = rc ? rc : ch__xml_escape(b, t->expression);
    rc = rc ? rc : ch_buf_puts(b, "\" time=\"0\"");
    if (rc)
      break;
    if (t->result != CH_RESULT_FAIL) {
      rc = ch_buf_puts(b, "/>\n");
      continue;
    }
    char obs[64], msg[160];
    if (t->has_observed)
      ch__fmt_metric(obs, sizeof obs, t->metric ? t->metric : "", t->observed);
    else
      snprintf(obs, sizeof obs, "no value");
    snprintf(msg, sizeof msg, "observed %s", obs);
    rc = ch_buf_puts(b, ">\n      <failure type=\"threshold\" message=\"");
    rc = rc ? rc : ch__xml_escape(b, msg);
    rc = rc ? rc : ch_buf_puts(b, ", expected ");
    rc = rc ? rc : ch__xml_escape(b, t->expression);
    rc = rc ? rc : ch_buf_puts(b, "\">Threshold ");
    rc = rc ? rc : ch__xml_escape(b, t->expression);
    rc = rc ? rc : ch_buf_puts(b, " failed: ");
    rc = rc ? rc : ch__xml_escape(b, msg);
    rc = rc ? rc : ch_buf_printf(b, " (raw value %.17g)", t->observed);
    rc = rc ? rc : ch_buf_puts(b, "</failure>\n    </testcase>\n");
  }
  return rc ? rc : ch_buf_puts(b, "  </testsuite>\n");
}

int ch_report_junit(const struct ch_report *r, struct ch_buf *out) {
  size_t from = out->len;
  char ts[40];
  ch__fmt_time(ts, sizeof ts, r->start_wall_ns);
  if (!ts[0])
    snprintf(ts, sizeof ts, "1970-01-01T00:00:00Z");
  ts[strlen(ts) - 1] = '\0'; /* JUnit timestamps carry no zone designator */
  size_t tests = r->n_checks + r->n_thresholds;
  size_t failures = ch_report_count_checks(r, CH_RESULT_FAIL) + ch_report_count_thresholds(r, CH_RESULT_FAIL);
  size_t errors = ch_report_count_checks(r, CH_RESULT_NOT_RUN) + ch_report_count_checks(r, CH_RESULT_INCOMPLETE);
  size_t skipped = ch_report_count_checks(r, CH_RESULT_SKIP);
  double dur = r->end_wall_ns > r->start_wall_ns ? secs(r->end_wall_ns - r->start_wall_ns) : 0;
  int rc = ch_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"centro-harness ");
  rc = rc ? rc : ch__xml_escape(out, r->scenario ? r->scenario : "run");
  rc = rc ? rc : ch_buf_printf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
                               tests, failures, errors, skipped, dur);
  rc = rc ? rc : suite_checks(r, out, ts);
  rc = rc ? rc : suite_thresholds(r, out, ts);
  rc = rc ? rc : ch_buf_puts(out, "</testsuites>\n");
  return rc ? rc : ch__report_scrub(r, out, from);
}
