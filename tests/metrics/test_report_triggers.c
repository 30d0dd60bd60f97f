/* The report's per-trigger lines: written to report.json and read back (histograms included), merged over shards,
   shown in the terminal summary and report.html; a report without them stays without them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_test.h"

static struct ch_report *make(uint64_t sent, uint64_t lat_ns) {
  struct ch_report *r = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&r), 0);
  ch_report_set(&r->scenario, "two-hubs");
  r->triggers = ch_report_triggers_new(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r->triggers);
  const char *labels[] = {"trigger[0] (parts)", "trigger[1] (JobEventHub)"};
  for (size_t i = 0; i < 2; i++) {
    struct ch_report_trigger *g = &r->triggers->v[i];
    g->label = strdup(labels[i]);
    g->type = strdup("http");
    g->sent = sent * (i + 1);
    g->expected = 10 * sent;
    g->missing = i;
    for (int k = 0; k < 5; k++)
      ch_hist_record(&g->latency, lat_ns * (uint64_t)(k + 1));
  }
  r->triggers->v[1].errors = 1;
  r->triggers->v[1].first_error = strdup("trigger failed: POST http://h/publish answered HTTP 500");
  return r;
}

static void test_json_roundtrip_and_merge(void) {
  struct ch_report *a = make(4, 1000000), *b = make(6, 3000000);
  struct ch_buf j = CH_BUF_INIT, err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_report_json(a, &j), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "\"triggers\""));
  struct ch_report *back = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(j.data, j.len, &back, &err), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(back->triggers);
  CU_ASSERT_EQUAL(back->triggers->n, 2);
  CH_ASSERT_STR(back->triggers->v[1].label, "trigger[1] (JobEventHub)");
  CU_ASSERT_EQUAL(back->triggers->v[1].sent, 8);
  CU_ASSERT_EQUAL(back->triggers->v[1].errors, 1);
  CU_ASSERT_EQUAL(back->triggers->v[1].missing, 1);
  CU_ASSERT_EQUAL(back->triggers->v[0].latency.count, 5);
  CU_ASSERT_EQUAL(ch_hist_max(&back->triggers->v[0].latency), ch_hist_max(&a->triggers->v[0].latency));
  /* shards: counts summed, histograms merged */
  CU_ASSERT_EQUAL(ch_report_merge(back, b, &err), 0);
  CU_ASSERT_EQUAL(back->triggers->v[0].sent, 10);
  CU_ASSERT_EQUAL(back->triggers->v[0].expected, 100);
  CU_ASSERT_EQUAL(back->triggers->v[0].latency.count, 10);
  CU_ASSERT_EQUAL(ch_hist_max(&back->triggers->v[0].latency), ch_hist_max(&b->triggers->v[0].latency));
  /* a report without triggers merged with one that has them takes them over */
  struct ch_report *empty = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&empty), 0);
  ch_report_set(&empty->scenario, "two-hubs");
  CU_ASSERT_EQUAL(ch_report_merge(empty, a, &err), 0);
  CU_ASSERT_TRUE(empty->triggers && empty->triggers->v[1].sent == 8);
  /* renderings */
  struct ch_buf t = CH_BUF_INIT, h = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_triggers_text(a->triggers, &t), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "trigger[1] (JobEventHub)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "first error: trigger failed"));
  CU_ASSERT_EQUAL(ch_report_html(a, &h), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"triggers-table\""));
  /* no triggers: no section */
  ch_buf_reset(&j);
  ch_buf_reset(&h);
  struct ch_report *plain = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&plain), 0);
  CU_ASSERT_EQUAL(ch_report_json(plain, &j), 0);
  CU_ASSERT_PTR_NULL(strstr(j.data, "\"first_error\"")); /* ("triggers" is also a counter) */
  CU_ASSERT_EQUAL(ch_report_html(plain, &h), 0);
  CU_ASSERT_PTR_NULL(strstr(h.data, "triggers-table"));
  /* a malformed section is refused with its field */
  const char *bad = "{\"format\":\"centro-harness-report\",\"version\":1,\"run\":{},\"checks\":[],\"thresholds\":[],"
                    "\"triggers\":[{\"sent\":\"x\"}],\"metrics\":{\"groups\":[],\"series\":[]}}";
  struct ch_report *x = NULL;
  ch_buf_reset(&err);
  CU_ASSERT_NOT_EQUAL(ch_report_parse_json(bad, strlen(bad), &x, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, "triggers[0].sent") : NULL);
  ch_report_free(x);
  ch_report_free(plain), ch_report_free(empty), ch_report_free(back), ch_report_free(a), ch_report_free(b);
  ch_buf_free(&j), ch_buf_free(&err), ch_buf_free(&t), ch_buf_free(&h);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_json_roundtrip_and_merge), CU_TEST_INFO_NULL};
  return ch_test_run("report_triggers", tests);
}
