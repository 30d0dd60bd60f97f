/* Tests of the exposition writer (ch_prom): histogram buckets from the HDR histogram, text 0.0.4 against
   OpenMetrics naming, label escaping, serve's /stats families, and the dashboard's view of a second. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch_live.h"
#include "ch_metrics.h"
#include "ch_prom.h"
#include "ch_test.h"

#define MS 1000000ull

static void test_prom_buckets_are_cumulative_at_fixed_bounds(void) {
  static struct ch_hist h;
  ch_hist_init(&h);
  ch_hist_record(&h, 50000);        /* 50 us: below the first bound */
  ch_hist_record(&h, 99000);        /* 99 us: below it, in an HDR bucket wholly below */
  ch_hist_record(&h, 100000);       /* 100 us: its HDR bucket [99840, 100351] straddles the bound: counted above */
  ch_hist_record(&h, 3 * MS);       /* 3 ms */
  ch_hist_record(&h, 70000 * MS);   /* 70 s: above every bound */
  ch_hist_record(&h, 7200000 * MS); /* 2 h: out of the histogram's range (overflow) */
  CU_ASSERT_EQUAL(ch_prom_hist_le(&h, 100e-6), 2);
  CU_ASSERT_EQUAL(ch_prom_hist_le(&h, 200e-6), 3);
  CU_ASSERT_EQUAL(ch_prom_hist_le(&h, 2e-3), 3);
  CU_ASSERT_EQUAL(ch_prom_hist_le(&h, 5e-3), 4);
  CU_ASSERT_EQUAL(ch_prom_hist_le(&h, 50), 4);
  struct ch_buf b = CH_BUF_INIT;
  struct ch_prom p = {&b, false};
  ch_prom_hist(&p, "x_seconds", "a=\"1\"", &h);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"0.0001\"} 2\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"0.005\"} 4\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"50\"} 4\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"+Inf\"} 6\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "x_seconds_count{a=\"1\"} 6\n"));
  const double *bounds;
  size_t nb = ch_prom_bounds(&bounds), lines = 0;
  for (const char *s = b.data; (s = strstr(s, "_bucket{")); s++)
    lines++;
  CU_ASSERT_EQUAL(lines, nb + 1); /* bounded whatever was recorded */
  ch_buf_free(&b);
}

static void test_prom_text_and_openmetrics_naming(void) {
  struct ch_metrics *m;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&m), 0);
  struct ch_metrics_group *g;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(m, "say \"hi\"\\", "webSockets", &g), 0);
  ch_metrics_count(g, CH_CNT_UPDATES_RECEIVED, 7);
  ch_metrics_connected(g, 1);
  ch_metrics_record(g, CH_LAT_UPDATE, 2 * MS);
  const char *causes[] = {"401"};
  uint64_t counts[] = {3};
  struct ch_prom_run x = {.phase = "trigger", .phase_index = 3, .causes = causes, .cause_counts = counts,
                          .n_causes = 1, .running = true};
  struct ch_buf t = CH_BUF_INIT, o = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_prom_render_run(m, &x, false, &t), 0);
  CU_ASSERT_EQUAL(ch_prom_render_run(m, &x, true, &o), 0);
  /* 0.0.4 names a counter family by its sample; OpenMetrics without _total, and ends with # EOF */
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "# TYPE centro_harness_updates_received_total counter\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.data, "# TYPE centro_harness_updates_received counter\n"));
  const char *sample = "centro_harness_updates_received_total{population=\"say \\\"hi\\\"\\\\\",transport=\"webSockets\"} 7\n";
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, sample));
  CU_ASSERT_PTR_NOT_NULL(strstr(o.data, sample));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "centro_harness_connected_clients{population="));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "centro_harness_phase{index=\"3\",phase=\"trigger\"} 1\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "centro_harness_connect_errors_by_cause_total{cause=\"401\"} 3\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "centro_harness_running 1\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "# TYPE centro_harness_update_latency_seconds histogram\n"));
  CH_ASSERT_ENDS(o.data, o.len, "\n# EOF\n");
  CU_ASSERT_PTR_NULL(strstr(t.data, "# EOF"));
  ch_buf_free(&t);
  ch_buf_free(&o);
  ch_metrics_free(m);
}

/* Session populations: a sessions_active gauge per population, sessions_target for the closed model only; the
   --out line and the dashboard's tile carry the same; the dashboard plots the series' sessions. */
static void test_prom_sessions_gauges(void) {
  struct ch_metrics *m;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&m), 0);
  struct ch_metrics_group *g;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(m, "web", "webSockets", &g), 0);
  ch_metrics_count(g, CH_CNT_SESSIONS_STARTED, 9);
  ch_metrics_count(g, CH_CNT_SESSIONS_ENDED, 4);
  m->has_target = true, m->sessions_target = 7;
  ch_metrics_tick(m, 1000000000000ull);
  struct ch_prom_sessions sess[] = {{"web", 5, 0, false}, {"ramp \"r\"", 6, 7, true}};
  struct ch_prom_run x = {.sessions = sess, .n_sessions = 2, .running = true, .phase = "steady", .phase_index = 1};
  struct ch_buf t = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_prom_render_run(m, &x, false, &t), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "# TYPE centro_harness_sessions_active gauge\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "\ncentro_harness_sessions_active{population=\"web\"} 5\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "\ncentro_harness_sessions_active{population=\"ramp \\\"r\\\"\"} 6\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "\ncentro_harness_sessions_target{population=\"ramp \\\"r\\\"\"} 7\n"));
  CU_ASSERT_PTR_NULL(strstr(t.data, "centro_harness_sessions_target{population=\"web\"}")); /* open: no target */
  /* the counters and the first_update histogram pass through per group */
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "centro_harness_sessions_started_total{population=\"web\",transport=\"webSockets\"} 9\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "# TYPE centro_harness_first_update_seconds histogram\n"));
  ch_buf_reset(&t);
  x.n_sessions = 0; /* no session population: the families stay, without samples */
  CU_ASSERT_EQUAL(ch_prom_render_run(m, &x, false, &t), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "# TYPE centro_harness_sessions_active gauge\n"));
  CU_ASSERT_PTR_NULL(strstr(t.data, "centro_harness_sessions_active{"));
  ch_buf_free(&t);
  x.n_sessions = 2;

  /* the --out line */
  char path[] = "/tmp/ch-prom-sess-XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  struct ch_live_opts lo = {.out_path = path};
  struct ch_live *lv = NULL;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_live_open(&lo, &lv, &err), 0);
  struct ch_live_frame f = {.m = m, .run = x};
  ch_live_publish(lv, &f);
  ch_live_close(lv);
  ch_buf_free(&err);
  struct ch_buf line = CH_BUF_INIT;
  FILE *lf = fopen(path, "rb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(lf);
  ch_buf_read_file(&line, lf, 0);
  fclose(lf);
  unlink(path);
  cJSON *o = cJSON_Parse(line.data ? line.data : "");
  ch_buf_free(&line);
  CU_ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(o, "reconnecting")));
  cJSON *s = cJSON_GetObjectItem(o, "sessions");
  CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(s, "active")), 11);
  CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(s, "target")), 7);
  cJSON *pops = cJSON_GetObjectItem(s, "populations");
  CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(pops, "web"), "active")), 5);
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(pops, "web"), "target"));
  CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(pops, "ramp \"r\""), "target")), 7);
  cJSON_Delete(o);

  /* the dashboard: a tile, and the report's Active sessions chart with the target */
  struct ch_buf b = CH_BUF_INIT;
  struct ch_metrics_group *tot = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_total(m, &tot), 0);
  CU_ASSERT_EQUAL(ch_live_view(&b, &f, tot), 0);
  free(tot);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "id=\"t-sessions\">sessions active / target<b>11 / 7</b>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "id=\"chart-sessions\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "target (closed model)"));
  ch_buf_free(&b);
  ch_metrics_free(m);
}

/* A drop's recovery: the reconnecting gauge per group, summed by merges, in the exposition, the --out line's
   "reconnecting" and the dashboard's tile. */
static void test_prom_reconnecting_gauge(void) {
  struct ch_metrics *w1, *w2, *m;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&w1), 0);
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&w2), 0);
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&m), 0);
  struct ch_metrics_group *g1, *g2;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(w1, "web", "webSockets", &g1), 0);
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(w2, "web", "webSockets", &g2), 0);
  ch_metrics_reconnecting(g1, +1), ch_metrics_reconnecting(g1, +1), ch_metrics_reconnecting(g1, -1);
  ch_metrics_reconnecting(g2, -1); /* never below 0 */
  ch_metrics_reconnecting(g2, +1), ch_metrics_reconnecting(g2, +1);
  ch_metrics_count(g2, CH_CNT_RECONNECTS, 5);
  CU_ASSERT_EQUAL(g2->reconnecting, 2);
  CU_ASSERT_EQUAL(ch_metrics_merge(m, w1), 0);
  CU_ASSERT_EQUAL(ch_metrics_merge(m, w2), 0);
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_prom_render_run(m, NULL, false, &b), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "# TYPE centro_harness_reconnecting_clients gauge\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\ncentro_harness_reconnecting_clients{population=\"web\",transport=\"webSockets\"} 3\n"));
  ch_buf_reset(&b);
  struct ch_metrics_group *t = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_total(m, &t), 0);
  struct ch_live_frame f = {.m = m};
  CU_ASSERT_EQUAL(ch_live_view(&b, &f, t), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "id=\"t-reconnecting\">reconnecting now / reconnects<b>3 / 5</b>"));
  free(t);
  ch_buf_free(&b);
  ch_metrics_free(w1);
  ch_metrics_free(w2);
  ch_metrics_free(m);
}

static void test_prom_serve_stats(void) {
  cJSON *st = cJSON_Parse("{\"processes\":1,\"connections\":{\"webSockets\":4,\"serverSentEvents\":1,\"longPolling\":0,"
                          "\"known\":5,\"total\":9},\"deliveries\":120,\"rss_kib\":10,\"cpu_s\":0.5}");
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_prom_render_stats(st, false, &b), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "centro_harness_server_connections{transport=\"webSockets\"} 4\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "centro_harness_server_deliveries_total 120\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "centro_harness_server_resident_memory_bytes 10240\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "centro_harness_server_cpu_seconds_total 0.5\n"));
  cJSON_Delete(st);
  st = cJSON_Parse("[1]");
  CU_ASSERT_EQUAL(ch_prom_render_stats(st, false, &b), -EINVAL);
  cJSON_Delete(st);
  ch_buf_free(&b);
}

static void test_live_view_and_page(void) {
  struct ch_metrics *m;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_new(&m), 0);
  struct ch_metrics_group *g;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_group(m, "subs", "webSockets", &g), 0);
  ch_metrics_record(g, CH_LAT_UPDATE, 2 * MS);
  ch_metrics_count(g, CH_CNT_UPDATES_DUPLICATE, 2);
  ch_metrics_tick(m, 1000000000000ull);
  struct ch_live_threshold th = {"update_latency.p99 < 1ms <b>", -1, "2.00ms"};
  struct ch_live_frame f = {.m = m, .thresholds = &th, .n_thresholds = 1};
  f.run.phase = "trigger";
  f.run.running = true;
  struct ch_buf b = CH_BUF_INIT;
  struct ch_metrics_group *t = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_total(m, &t), 0);
  CU_ASSERT_EQUAL(ch_live_view(&b, &f, t), 0);
  free(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "id=\"chart-delivery\"")); /* the report's charts */
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "id=\"chart-percentiles\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "&lt;b&gt;"));              /* escaped */
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "<td class=\"res-fail\">lost</td>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "<tr class=\"fail\"><td>RUN-DUPLICATE</td>"));
  ch_buf_free(&b);
  CU_ASSERT_EQUAL(ch_live_page(&b, "t<x>", false), 0);
  CU_ASSERT_PTR_NULL(strstr(b.data, "id=\"stop\"")); /* no button without --dashboard-allow-stop */
  CU_ASSERT_PTR_NULL(strstr(b.data, "src=\"http"));  /* self-contained */
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "t&lt;x&gt;"));
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_live_page(&b, "t", true), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "id=\"stop\""));
  ch_buf_free(&b);
  ch_metrics_free(m);
}

int main(void) {
  CU_TestInfo tests[] = {{"buckets are cumulative at fixed bounds", test_prom_buckets_are_cumulative_at_fixed_bounds},
                         {"text 0.0.4 and OpenMetrics naming, escaping", test_prom_text_and_openmetrics_naming},
                         {"session populations: gauges, --out line, dashboard", test_prom_sessions_gauges},
                         {"reconnecting gauge: merged, exposed, on the dashboard", test_prom_reconnecting_gauge},
                         {"serve's /stats families", test_prom_serve_stats},
                         {"dashboard view and page", test_live_view_and_page},
                         CU_TEST_INFO_NULL};
  return ch_test_run("prom", tests);
}
