/* Fuzz target: report.json parsing never crashes; an accepted report renders to JSON, JUnit, HTML and the terminal
   summary (which also shows the capacity section), and its JSON rendering parses again; compared with itself (with
   gates on a latency, a ratio and a counter) it renders every compare output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ch_compare.h"
#include "ch_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ch_report *r;
  if (ch_report_parse_json((const char *)data, size, &r, NULL) != 0)
    return 0;
  struct ch_buf j = CH_BUF_INIT, x = CH_BUF_INIT, h = CH_BUF_INIT;
  if (ch_report_json(r, &j) == 0) {
    struct ch_report *again;
    if (ch_report_parse_json(j.data, j.len, &again, NULL) != 0)
      abort();
    ch_report_free(again);
  }
  ch_report_junit(r, &x);
  ch_report_html(r, &h);
  FILE *f = fopen("/dev/null", "w");
  if (f) {
    ch_report_print_summary(r, f);
    fclose(f);
  }
  ch_buf_free(&j), ch_buf_free(&x), ch_buf_free(&h);
  struct ch_cmp_gate g[3];
  struct ch_cmp c;
  if (!ch_cmp_gate_parse("update_latency.p99=+10%", NULL, &g[0], NULL) &&
      !ch_cmp_gate_parse("delivery_ratio{transport=webSockets}=-0.001", NULL, &g[1], NULL) &&
      !ch_cmp_gate_parse("errors", "0", &g[2], NULL) && !ch_cmp_run(r, r, g, 3, &c)) {
    if (c.gates_failed) /* a run is never worse than itself */
      abort();
    ch_cmp_text(&c, &j), ch_cmp_json(&c, &x), ch_cmp_junit(&c, &h), ch_cmp_html(&c, &h);
    ch_buf_free(&j), ch_buf_free(&x), ch_buf_free(&h);
    ch_cmp_free(&c);
  }
  ch_report_free(r);
  return 0;
}
