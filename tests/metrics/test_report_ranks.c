/* report.html's rank table (`run --mpi`): rendered from report.json's run.ranks, one row per rank with its host,
   pid, clients, CPU, peak RSS and clock offset with its uncertainty, a lost rank marked; a report without ranks has
   no table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_test.h"

/* A report as `centro-harness report` reads it back, with the given run.ranks (NULL: none). */
static struct ch_report *read_report(const char *ranks) {
  char text[2048];
  snprintf(text, sizeof text,
           "{\"format\":\"centro-harness-report\",\"version\":1,\"run\":{\"scenario\":\"fanout-1k\"%s%s},"
           "\"checks\":[],\"thresholds\":[],\"metrics\":{\"groups\":[],\"series\":[]}}",
           ranks ? ",\"ranks\":" : "", ranks ? ranks : "");
  struct ch_report *r = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_parse_json(text, strlen(text), &r, &err), 0);
  if (err.len)
    fprintf(stderr, "\n%s\n", err.data);
  ch_buf_free(&err);
  return r;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  return n;
}

static void test_ranks_table_from_run_ranks(void) {
  /* rank 2 was lost and counted from its last checkpoint; rank 1's host name is hostile */
  const char *ranks =
      "[{\"rank\":0,\"host\":\"node-1\",\"pid\":4101,\"clients\":334,\"cpu_s\":3.61,\"max_rss_kib\":65536,"
      "\"exit_code\":0,\"clock_offset_ns\":0,\"clock_uncertainty_ns\":0,\"clock_uncertainty_max_ns\":0,"
      "\"clock_syncs\":0},"
      "{\"rank\":1,\"host\":\"<b>node-2</b>\",\"pid\":4102,\"clients\":333,\"cpu_s\":0.56,\"max_rss_kib\":51200,"
      "\"exit_code\":0,\"clock_offset_ns\":-1234567,\"clock_uncertainty_ns\":18100,"
      "\"clock_uncertainty_max_ns\":39200,\"clock_syncs\":4},"
      "{\"rank\":2,\"host\":\"node-3\",\"from_checkpoint\":true,\"lost\":true,\"clock_offset_ns\":2500,"
      "\"clock_uncertainty_ns\":20000,\"clock_uncertainty_max_ns\":20000,\"clock_syncs\":2}]";
  struct ch_report *r = read_report(ranks);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  struct ch_buf h = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h.data);
  const char *t = strstr(h.data, "<table id=\"ranks-table\">");
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "<h2>MPI ranks: 3</h2>"));
  CU_ASSERT_EQUAL(count(t, "<tr class=\"rank-row"), 3);
  /* rank 0: host, pid, clients, CPU s, peak RSS MiB, offset and uncertainties in us */
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "<td class=\"n\">0</td><td>node-1</td><td class=\"n\">4101</td><td class=\"n\">334"
                                   "</td><td class=\"n\">3.61</td><td class=\"n\">64.0</td><td class=\"n\">0.0</td>"));
  /* rank 1: its host escaped, its offset to rank 0 and both uncertainties */
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "<td>&lt;b&gt;node-2&lt;/b&gt;</td><td class=\"n\">4102</td><td class=\"n\">333</td>"
                                   "<td class=\"n\">0.56</td><td class=\"n\">50.0</td><td class=\"n\">-1234.6</td>"
                                   "<td class=\"n\">18.1</td><td class=\"n\">39.2</td><td>reported</td>"));
  CU_ASSERT_PTR_NULL(strstr(h.data, "<b>node-2</b>"));
  /* rank 2: lost, what its line lacks shown as "-" */
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "<tr class=\"rank-row fail\"><td class=\"n\">2</td><td>node-3</td><td class=\"n\">-"
                                   "</td><td class=\"n\">-</td>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "<td>lost: its last checkpoint counted</td>"));
  ch_buf_free(&h);
  ch_report_free(r);
}

static void test_no_ranks_no_table(void) {
  struct ch_report *r = read_report(NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  struct ch_buf h = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h.data);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"summary\"")); /* the page is there, */
  CU_ASSERT_PTR_NULL(strstr(h.data, "ranks-table"));          /* without a rank table */
  CU_ASSERT_PTR_NULL(strstr(h.data, "MPI ranks"));
  ch_buf_free(&h);
  ch_report_free(r);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_ranks_table_from_run_ranks), CH_TEST(test_no_ranks_no_table),
                         CU_TEST_INFO_NULL};
  return ch_test_run("report_ranks", tests);
}
