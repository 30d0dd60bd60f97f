/* The reconnect storm's recovery figures: the shares from per-client times, report.json written and read back,
   merged over shards, shown in the terminal summary and report.html (the plot and the table). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ch_report.h"
#include "ch_test.h"

#define S 1000000000ull

/* 100 clients back at 2.00 s + i ms (i = 0..99), receiving 10 ms later; the last one never receives. */
static struct ch_report *make(void) {
  struct ch_report *r = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_new(&r), 0);
  ch_report_set(&r->scenario, "reconnect-storm");
  struct ch_report_recovery *rv = calloc(1, sizeof *rv);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rv);
  uint64_t back[100], rx[100];
  for (int i = 0; i < 100; i++) {
    back[99 - i] = 2 * S + (uint64_t)i * 1000000u; /* unsorted on purpose */
    rx[i] = i == 99 ? UINT64_MAX : 2 * S + (uint64_t)i * 1000000u + 10000000u;
  }
  rv->clients = rv->reconnected = 100;
  rv->receiving = rv->live = 99;
  rv->published = 100, rv->replayed = 99, rv->lost = 1;
  rv->answers[CH_RECOVERY_HTTP_503] = 7;
  rv->drop = strdup("POST http://127.0.0.1:9/drop: HTTP 200");
  ch_report_recovery_times(rv, back, rx, 100);
  r->recovery = rv;
  return r;
}

static void test_shares_from_client_times(void) {
  struct ch_report *r = make();
  const struct ch_report_recovery *rv = r->recovery;
  CU_ASSERT_DOUBLE_EQUAL(rv->back_p50, 2.049, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(rv->back_p99, 2.098, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(rv->back_p100, 2.099, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(rv->rx_p99, 2.108, 1e-9);
  CU_ASSERT_TRUE(rv->rx_p100 < 0); /* one never received: 100% was never reached */
  CU_ASSERT_DOUBLE_EQUAL(rv->back_curve[0], 2.001, 1e-9); /* 2% = the 2nd client */
  CU_ASSERT_DOUBLE_EQUAL(rv->back_curve[CH_RECOVERY_POINTS - 1], 2.099, 1e-9);
  ch_report_free(r);
}

static void test_json_roundtrip_merge_and_renderings(void) {
  struct ch_report *a = make(), *b = make();
  b->recovery->back_p50 = 3.5;
  struct ch_buf j = CH_BUF_INIT, err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_report_json(a, &j), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "\"recovery\""));
  struct ch_report *back = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(j.data, j.len, &back, &err), 0);
  const struct ch_report_recovery *rv = back->recovery;
  CU_ASSERT_PTR_NOT_NULL_FATAL(rv);
  CU_ASSERT_EQUAL(rv->clients, 100);
  CU_ASSERT_EQUAL(rv->live, 99);
  CU_ASSERT_EQUAL(rv->lost, 1);
  CU_ASSERT_EQUAL(rv->answers[CH_RECOVERY_HTTP_503], 7);
  CU_ASSERT_DOUBLE_EQUAL(rv->back_p99, 2.098, 1e-9);
  CU_ASSERT_TRUE(rv->rx_p100 < 0);
  CU_ASSERT_DOUBLE_EQUAL(rv->rx_curve[10], a->recovery->rx_curve[10], 1e-9);
  CH_ASSERT_STR(rv->drop, "POST http://127.0.0.1:9/drop: HTTP 200");
  /* shards: counts summed, times the later */
  CU_ASSERT_EQUAL(ch_report_merge(back, b, &err), 0);
  CU_ASSERT_EQUAL(back->recovery->clients, 200);
  CU_ASSERT_EQUAL(back->recovery->answers[CH_RECOVERY_HTTP_503], 14);
  CU_ASSERT_DOUBLE_EQUAL(back->recovery->back_p50, 3.5, 1e-9);
  /* a malformed count is refused, naming it */
  cJSON *doc = cJSON_Parse(j.data);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(doc, "recovery"), "clients", cJSON_CreateNumber(-1));
  char *bad = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
  struct ch_report *x = NULL;
  ch_buf_reset(&err);
  CU_ASSERT_NOT_EQUAL(ch_report_parse_json(bad, strlen(bad), &x, &err), 0);
  free(bad);
  CU_ASSERT_PTR_NOT_NULL(err.data ? strstr(err.data, "recovery.clients") : NULL);
  ch_report_free(x);
  /* renderings */
  struct ch_buf t = CH_BUF_INIT, h = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_recovery_text(a->recovery, &t), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "recovery from the drop: 100 clients"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "http_503 7"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "never"));
  CU_ASSERT_EQUAL(ch_report_html(a, &h), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"chart-recovery\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "seconds since the drop"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"recovery-table\""));
  ch_buf_free(&t), ch_buf_free(&h), ch_buf_free(&j), ch_buf_free(&err);
  ch_report_free(a), ch_report_free(b), ch_report_free(back);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_shares_from_client_times), CH_TEST(test_json_roundtrip_merge_and_renderings),
                         CU_TEST_INFO_NULL};
  return ch_test_run("report_recovery", tests);
}
