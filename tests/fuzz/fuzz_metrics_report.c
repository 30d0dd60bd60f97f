/* Fuzz target: report.json parsing never crashes; an accepted report renders to JSON, JUnit, HTML and the terminal
   summary (which also shows the capacity section), and its JSON rendering parses again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
  ch_report_free(r);
  return 0;
}
