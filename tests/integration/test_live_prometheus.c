/* Watching a run live (issue #15) with a real Prometheus (Debian's `prometheus`, started here on loopback with a 1 s
   scrape interval and its storage in a temporary folder): it scrapes a running `run --metrics-listen` and a `serve
   --metrics-listen` that the run loads, and the series read back through its HTTP API (/api/v1/query) agree with
   report.json: every bucket of update_latency, its count, the bucket holding its p99, the Updates received and the
   endpoint's deliveries. `promtool check metrics` accepts both expositions, OpenMetrics ends in "# EOF", and the
   --out file holds one parseable JSON line per second. A second run, of session populations (a closed-model ramp
   and an open model) on its embedded endpoint, is scraped while its steady phase goes: the sessions gauges are
   there with plausible values (active > 0 and within the target or the cap), promtool accepts that exposition, the
   dashboard's event has the Active sessions chart, its --out lines carry the same, and Prometheus stored them.
   A third run, a small reconnect storm, shows its recovery live: clients reconnecting during the drop, none after it
   and every client's reconnect counted, scraped while the run goes.
   Every wait is for a condition with a deadline. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ch_listen.h"
#include "ch_metrics.h"
#include "ch_prom.h"
#include "ch_report.h"
#include "ch_spawn.h"
#include "ch_test.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define PROMTOOL "/usr/bin/promtool"

static char tmp[64];
static int prom_port, run_port, serve_mport, sess_port, sess_dport, storm_port;
static pid_t prom_pid = -1;
static struct ch_spawn_bg serve_bg = {-1, ""}, run_bg = {-1, ""}, sess_bg = {-1, ""};
static struct ch_report *rep;

/* ---- HTTP ---- */

static size_t sink(char *p, size_t size, size_t n, void *user) {
  return ch_buf_append(user, p, size * n) ? 0 : size * n;
}

static long http_get(const char *url, const char *accept, struct ch_buf *out) {
  CURL *c = curl_easy_init();
  struct curl_slist *h = NULL;
  long status = -1;
  ch_buf_reset(out);
  if (!c)
    return -1;
  if (accept) {
    char line[160];
    snprintf(line, sizeof line, "Accept: %s", accept);
    h = curl_slist_append(h, line);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

/* An instant query; the result array (owned by *doc) or NULL. */
static cJSON *prom_query(const char *q, cJSON **doc) {
  CURL *c = curl_easy_init();
  char *esc = c ? curl_easy_escape(c, q, 0) : NULL;
  char url[1024];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/query?query=%s", prom_port, esc ? esc : "");
  curl_free(esc);
  curl_easy_cleanup(c);
  struct ch_buf b = CH_BUF_INIT;
  *doc = NULL;
  if (http_get(url, NULL, &b) == 200)
    *doc = cJSON_Parse(b.data);
  ch_buf_free(&b);
  cJSON *data = cJSON_GetObjectItem(*doc, "data");
  return cJSON_GetObjectItem(data, "result");
}

/* The value of a query returning one sample; NAN when none. */
static double prom_value(const char *q) {
  cJSON *doc;
  cJSON *res = prom_query(q, &doc);
  double v = NAN;
  cJSON *val = cJSON_GetObjectItem(cJSON_GetArrayItem(res, 0), "value");
  if (cJSON_GetArraySize(res) == 1 && cJSON_IsString(cJSON_GetArrayItem(val, 1)))
    v = atof(cJSON_GetArrayItem(val, 1)->valuestring);
  cJSON_Delete(doc);
  return v;
}

struct want {
  const char *q;
  double v;
};
static bool value_is(void *arg) {
  const struct want *w = arg;
  return prom_value(w->q) == w->v;
}
static bool value_above(void *arg) {
  const struct want *w = arg;
  return prom_value(w->q) > w->v;
}
static bool ready(void *arg) {
  (void)arg;
  char url[96];
  struct ch_buf b = CH_BUF_INIT;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/-/ready", prom_port);
  long st = http_get(url, NULL, &b);
  ch_buf_free(&b);
  return st == 200;
}
static bool report_written(void *arg) {
  (void)arg;
  char path[96];
  struct stat st;
  snprintf(path, sizeof path, "%s/rep/report.html", tmp);
  return stat(path, &st) == 0 && st.st_size > 0;
}

static int free_port(void) {
  int port = -1, fd = ch_test_listen(1, &port);
  if (fd >= 0)
    close(fd);
  return port;
}

/* ---- the set-up: Prometheus, serve, then the run against serve ---- */

static const char scenario_fmt[] =
    "{\"name\": \"live-prom\",\n"
    " \"clients\": [{\"name\": \"subs\", \"count\": 20, \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\", \"K2\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"4s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 20, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:%d/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\",\n"
    "                               \"payload\": {\"Nonce\": \"{{nonce}}\"}}}},\n"
    " \"correlation\": {\"nonce\": \"/Nonce\", \"server_time_us\": \"/HarnessSentUs\"},\n"
    " \"expect\": {\"in_order\": false, \"deadline\": \"3s\"}}\n";

static int port_after(const char *text, const char *needle) {
  const char *p = strstr(text, needle);
  return p ? atoi(p + strlen(needle)) : -1;
}

static void test_setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/ch-live-XXXXXX");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmp));
  prom_port = free_port(), run_port = free_port(), serve_mport = free_port(), sess_port = free_port();
  sess_dport = free_port(), storm_port = free_port();
  CU_ASSERT_FATAL(prom_port > 0 && run_port > 0 && serve_mport > 0 && sess_port > 0 && sess_dport > 0 &&
                  storm_port > 0);
  char path[128], text[1024];
  snprintf(path, sizeof path, "%s/prometheus.yml", tmp);
  snprintf(text, sizeof text,
           "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n"
           "  - job_name: run\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
           "  - job_name: serve\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
           "  - job_name: sessions\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
           run_port, serve_mport, sess_port);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, text), 0);
  prom_pid = fork();
  if (prom_pid == 0) {
    char cfg[160], data[160], web[64], log[160];
    snprintf(cfg, sizeof cfg, "--config.file=%s/prometheus.yml", tmp);
    snprintf(data, sizeof data, "--storage.tsdb.path=%s/data", tmp);
    snprintf(web, sizeof web, "--web.listen-address=127.0.0.1:%d", prom_port);
    snprintf(log, sizeof log, "%s/prometheus.log", tmp);
    FILE *f = freopen(log, "w", stderr);
    (void)f;
    execl(PROMETHEUS, "prometheus", cfg, data, web, "--log.level=warn", (char *)NULL);
    _exit(127);
  }
  CU_ASSERT_FATAL(prom_pid > 0);
  CU_ASSERT_FATAL(ch_wait_until(ready, NULL, 20000));

  char ml[32];
  snprintf(ml, sizeof ml, "127.0.0.1:%d", serve_mport);
  char *sargv[] = {"centro-harness", "serve", "--metrics-listen", ml, NULL};
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(sargv, &serve_bg), 0);
  CU_ASSERT_FATAL(ch_spawn_wait_output(&serve_bg, "metrics: http://", 10000));
  char *out = ch_slurp(serve_bg.out_path, NULL);
  int port = port_after(out, "listening on http://127.0.0.1:"), cport = port_after(out, "control on http://127.0.0.1:");
  free(out);
  CU_ASSERT_FATAL(port > 0 && cport > 0);

  /* Prometheus hands targets to its scrapers some seconds after it starts: once serve is scraped, the run's port is */
  struct want scraped = {"up{job=\"serve\"}", 1};
  CU_ASSERT_FATAL(ch_wait_until(value_is, &scraped, 20000));
  snprintf(path, sizeof path, "%s/live.json", tmp);
  snprintf(text, sizeof text, scenario_fmt, cport);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, text), 0);
  char target[64], repdir[96], outf[96], rl[32];
  snprintf(target, sizeof target, "http://127.0.0.1:%d", port);
  snprintf(repdir, sizeof repdir, "%s/rep", tmp);
  snprintf(outf, sizeof outf, "%s/live.jsonl", tmp);
  snprintf(rl, sizeof rl, "127.0.0.1:%d", run_port);
  char *rargv[] = {"centro-harness", "run", path, "--target", target, "--report-dir", repdir, "--metrics-listen", rl,
                   "--out", outf, "--linger", NULL};
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(rargv, &run_bg), 0);
  /* the run goes on: Prometheus sees it running */
  struct want running = {"centro_harness_running{job=\"run\"}", 1};
  bool seen = ch_wait_until(value_is, &running, 20000);
  if (!seen) {
    char *o = ch_slurp(run_bg.out_path, NULL);
    fprintf(stderr, "\nno scrape of the run running; its output:\n%s\n", o ? o : "");
    free(o);
  }
  CU_ASSERT_FATAL(seen);
  CU_ASSERT_FATAL(ch_wait_until(report_written, NULL, 40000));
  snprintf(path, sizeof path, "%s/rep/report.json", tmp);
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_read_json(path, &rep, &err), 0);
  ch_buf_free(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
}

/* ---- what Prometheus read ---- */

static void test_histogram_agrees_with_report(void) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  struct ch_metrics_group *t = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_total(rep->metrics, &t), 0);
  const struct ch_hist *h = &t->lat[CH_LAT_UPDATE];
  CU_ASSERT_FATAL(h->count >= 100); /* 80 triggers to 10 subscribers each */
  /* the run lingers: Prometheus gets to its final figures */
  char q[256];
  snprintf(q, sizeof q, "sum(centro_harness_update_latency_seconds_count{job=\"run\"})");
  struct want count = {q, (double)h->count};
  bool agreed = ch_wait_until(value_is, &count, 15000);
  CU_ASSERT_TRUE(agreed);
  if (!agreed)
    fprintf(stderr, "\nPrometheus count %g, report.json %llu\n", prom_value(q), (unsigned long long)h->count);
  struct want stopped = {"centro_harness_running{job=\"run\"}", 0};
  CU_ASSERT_TRUE(ch_wait_until(value_is, &stopped, 5000));
  /* every bucket equals the report's histogram cut at that bound */
  const double *bounds;
  size_t nb = ch_prom_bounds(&bounds);
  double prev = 0, p99_le = -1, want99 = ceil(0.99 * (double)h->count);
  for (size_t i = 0; i < nb; i++) {
    snprintf(q, sizeof q, "sum(centro_harness_update_latency_seconds_bucket{job=\"run\",le=\"%g\"})", bounds[i]);
    double v = prom_value(q);
    CU_ASSERT_EQUAL(v, (double)ch_prom_hist_le(h, bounds[i]));
    if (p99_le < 0 && v >= want99)
      p99_le = bounds[i];
    if (p99_le < 0)
      prev = bounds[i];
  }
  /* the bucket Prometheus puts the p99 in holds report.json's p99 (to the HDR resolution at its edge) */
  double p99 = (double)ch_hist_value_at(h, 99) / 1e9;
  CU_ASSERT_TRUE(p99_le > 0);
  CU_ASSERT_TRUE(p99 <= p99_le * 1.008 && p99 > prev * 0.992);
  if (!(p99 <= p99_le * 1.008 && p99 > prev * 0.992))
    fprintf(stderr, "\nreport p99 %gs, Prometheus bucket (%g, %g]\n", p99, prev, p99_le);
  /* histogram_quantile lands in the same bucket */
  double hq = prom_value("histogram_quantile(0.99, sum by (le) (centro_harness_update_latency_seconds_bucket{job=\"run\"}))");
  CU_ASSERT_TRUE(hq > prev && hq <= p99_le);
  /* the Updates received and the connects, as report.json counts them */
  CU_ASSERT_EQUAL(prom_value("sum(centro_harness_updates_received_total{job=\"run\"})"),
                  (double)t->counters[CH_CNT_UPDATES_RECEIVED]);
  CU_ASSERT_EQUAL(prom_value("sum(centro_harness_clients_connected_total{job=\"run\"})"), 20);
  /* a scrape in the trigger phase saw it labelled */
  CU_ASSERT_EQUAL(prom_value("max_over_time(centro_harness_phase{job=\"run\",phase=\"trigger\"}[5m])"), 1);
  free(t);
}

static void test_serve_exports_its_stats(void) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  struct ch_metrics_group *t = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_metrics_total(rep->metrics, &t), 0);
  /* the endpoint delivered what the run received (no fault): its /stats through Prometheus */
  struct want deliveries = {"centro_harness_server_deliveries_total{job=\"serve\"}",
                            (double)t->counters[CH_CNT_UPDATES_RECEIVED]};
  CU_ASSERT_TRUE(ch_wait_until(value_is, &deliveries, 10000));
  CU_ASSERT_EQUAL(prom_value("centro_harness_server_negotiates_total{job=\"serve\"}"), 20);
  CU_ASSERT_EQUAL(prom_value("centro_harness_server_processes{job=\"serve\"}"), 1);
  CU_ASSERT_EQUAL(prom_value("up{job=\"serve\"}"), 1);
  free(t);
}

/* promtool check metrics on one exposition (0 accepted). */
static int promtool(const char *url) {
  struct ch_buf b = CH_BUF_INIT;
  char path[96], cmd[256];
  snprintf(path, sizeof path, "%s/exposition.txt", tmp);
  CU_ASSERT_EQUAL(http_get(url, NULL, &b), 200);
  CU_ASSERT_EQUAL(ch_write_text(path, b.data ? b.data : ""), 0);
  ch_buf_free(&b);
  snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < %s >&2", path);
  return system(cmd);
}

static void test_promtool_and_openmetrics(void) {
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", run_port);
  CU_ASSERT_EQUAL(promtool(url), 0);
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(http_get(url, "application/openmetrics-text; version=1.0.0", &b), 200);
  CH_ASSERT_ENDS(b.data, b.len, "\n# EOF\n");
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "# TYPE centro_harness_updates_received counter\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\ncentro_harness_updates_received_total{"));
  CU_ASSERT_EQUAL(http_get(url, NULL, &b), 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "# TYPE centro_harness_updates_received_total counter\n"));
  CU_ASSERT_PTR_NULL(strstr(b.data, "# EOF"));
  ch_buf_free(&b);
  /* Prometheus scraped both (it asks for OpenMetrics first) */
  CU_ASSERT_EQUAL(prom_value("up{job=\"run\"}"), 1);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", serve_mport);
  CU_ASSERT_EQUAL(promtool(url), 0);
}

static void test_out_lines_parse(void) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  char path[96];
  snprintf(path, sizeof path, "%s/live.jsonl", tmp);
  char *body = ch_slurp(path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(body);
  size_t lines = 0, parsed = 0, finals = 0;
  for (char *l = body, *e; *l; l = e + 1) {
    e = strchr(l, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(e); /* every line ends */
    *e = 0;
    lines++;
    cJSON *o = cJSON_Parse(l);
    parsed += o && cJSON_IsNumber(cJSON_GetObjectItem(o, "elapsed_s")) &&
              cJSON_IsObject(cJSON_GetObjectItem(o, "counters"));
    finals += cJSON_IsTrue(cJSON_GetObjectItem(o, "final"));
    cJSON_Delete(o);
  }
  free(body);
  CU_ASSERT_EQUAL(parsed, lines);
  CU_ASSERT_EQUAL(finals, 1);
  /* one a second of the timeline, plus the final line */
  double secs = (double)(rep->end_wall_ns - rep->start_wall_ns) / 1e9;
  CU_ASSERT_TRUE(fabs((double)lines - secs) <= 2.5);
  if (fabs((double)lines - secs) > 2.5)
    fprintf(stderr, "\n%zu lines for %.1f s\n", lines, secs);
}

/* ---- a run of session populations, scraped during its steady phase ---- */

static const char sessions_scenario[] =
    "{\"name\": \"live-sessions\", \"seed\": 7,\n"
    " \"clients\": [\n"
    "  {\"name\": \"web\", \"subscribe\": {\"key_count\": 6, \"prefix\": \"P-\", \"per_client\": 1},\n"
    "   \"sessions\": {\"model\": \"closed\", \"stages\": [{\"duration\": \"500ms\", \"target\": 6},\n"
    "                                                 {\"duration\": \"60s\", \"target\": 6}],\n"
    "                \"lifetime\": {\"dist\": \"uniform\", \"min\": \"1s\", \"max\": \"2s\"}}},\n"
    "  {\"name\": \"walk-ins\", \"subscribe\": {\"key_count\": 6, \"prefix\": \"P-\", \"per_client\": 1},\n"
    "   \"sessions\": {\"rate\": 5, \"max_concurrent\": 8, \"lifetime\": {\"dist\": \"fixed\", \"value\": \"1s\"}}}],\n"
    " \"phases\": [{\"type\": \"steady\", \"duration\": \"4s\"}],\n"
    " \"trigger\": {\"type\": \"reference\", \"rate\": 20},\n"
    " \"expect\": {\"deadline\": \"2s\", \"unsubscribe_grace\": \"500ms\"}}\n";

/* A sample's value in an exposition ("name{labels} v"); NAN when absent. */
static double sample_value(const char *text, const char *series) {
  char needle[160];
  snprintf(needle, sizeof needle, "\n%s ", series);
  const char *p = text ? strstr(text, needle) : NULL;
  return p ? atof(p + strlen(needle)) : NAN;
}

/* Scrapes the sessions run until its steady phase shows both populations' sessions open; keeps that exposition. */
static struct ch_buf steady_scrape;
static bool sessions_open(void *arg) {
  (void)arg;
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", sess_port);
  if (http_get(url, NULL, &steady_scrape) != 200 || !steady_scrape.data)
    return false;
  return strstr(steady_scrape.data, "\ncentro_harness_phase{index=\"1\",phase=\"steady\"} 1\n") &&
         sample_value(steady_scrape.data, "centro_harness_sessions_active{population=\"web\"}") > 0 &&
         sample_value(steady_scrape.data, "centro_harness_sessions_active{population=\"walk-ins\"}") > 0;
}

static bool sess_report_written(void *arg) {
  (void)arg;
  char path[96];
  struct stat st;
  snprintf(path, sizeof path, "%s/sess/report.html", tmp);
  return stat(path, &st) == 0 && st.st_size > 0;
}

/* The dashboard's event stream: its first event (the second of now, after "retry: 1000") read, then the transfer
   stopped. */
static size_t first_event(char *p, size_t size, size_t n, void *user) {
  struct ch_buf *b = user;
  if (ch_buf_append(b, p, size * n))
    return 0;
  const char *data = strstr(b->data, "data: ");
  return data && strstr(data, "\n\n") ? 0 : size * n; /* 0 ends the transfer: one event is enough */
}

static void test_sessions_live(void) {
  char path[128], repdir[96], outf[96], ml[32], dl[32];
  snprintf(path, sizeof path, "%s/sessions.json", tmp);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, sessions_scenario), 0);
  snprintf(repdir, sizeof repdir, "%s/sess", tmp);
  snprintf(outf, sizeof outf, "%s/sess.jsonl", tmp);
  snprintf(ml, sizeof ml, "127.0.0.1:%d", sess_port);
  snprintf(dl, sizeof dl, "127.0.0.1:%d", sess_dport);
  char *argv[] = {"centro-harness", "run", path, "--report-dir", repdir, "--metrics-listen", ml, "--dashboard", dl,
                  "--out", outf, "--linger", "--quiet", NULL};
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(argv, &sess_bg), 0);
  bool seen = ch_wait_until(sessions_open, NULL, 20000);
  if (!seen) {
    char *o = ch_slurp(sess_bg.out_path, NULL);
    fprintf(stderr, "\nno scrape of open sessions in the steady phase; last scrape:\n%s\nits output:\n%s\n",
            steady_scrape.data ? steady_scrape.data : "", o ? o : "");
    free(o);
  }
  CU_ASSERT_FATAL(seen);
  /* plausible: the closed model within its target of 6 (which the stages reached after 500 ms), the open model
     within its cap; no target for the open model */
  const char *t = steady_scrape.data;
  double web = sample_value(t, "centro_harness_sessions_active{population=\"web\"}");
  double walk = sample_value(t, "centro_harness_sessions_active{population=\"walk-ins\"}");
  double target = sample_value(t, "centro_harness_sessions_target{population=\"web\"}");
  CU_ASSERT_TRUE(web > 0 && web <= 6);
  CU_ASSERT_TRUE(walk > 0 && walk <= 8);
  CU_ASSERT_EQUAL(target, 6);
  CU_ASSERT_PTR_NULL(strstr(t, "centro_harness_sessions_target{population=\"walk-ins\"}"));
  if (!(web > 0 && web <= 6 && walk > 0 && walk <= 8 && target == 6))
    fprintf(stderr, "\nweb %g (target %g), walk-ins %g\n", web, target, walk);
  CU_ASSERT_TRUE(sample_value(t, "centro_harness_sessions_started_total{population=\"web\",transport=\"webSockets\"}") >=
                 web);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE centro_harness_first_update_seconds histogram\n"));
  /* promtool accepts the exposition of the steady phase */
  char file[96], cmd[192];
  snprintf(file, sizeof file, "%s/sessions-exposition.txt", tmp);
  CU_ASSERT_EQUAL(ch_write_text(file, t), 0);
  snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < %s >&2", file);
  CU_ASSERT_EQUAL(system(cmd), 0);
  /* the dashboard's event of now has the tile and the Active sessions chart with the target */
  struct ch_buf ev = CH_BUF_INIT;
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/events", sess_dport);
  CURL *c = curl_easy_init();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, first_event);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ev);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_perform(c); /* ends with a write error once one event came */
  curl_easy_cleanup(c);
  CU_ASSERT_TRUE(ev.data && strstr(ev.data, "id=\"t-sessions\""));
  CU_ASSERT_TRUE(ev.data && strstr(ev.data, "id=\"chart-sessions\""));
  CU_ASSERT_TRUE(ev.data && strstr(ev.data, "target (closed model)"));
  ch_buf_free(&ev);
  /* Prometheus stored the gauges */
  struct want stored = {"max_over_time(centro_harness_sessions_target{job=\"sessions\",population=\"web\"}[5m])", 6};
  CU_ASSERT_TRUE(ch_wait_until(value_is, &stored, 10000));
  struct want active = {"max_over_time(centro_harness_sessions_active{job=\"sessions\",population=\"web\"}[5m])", 0};
  CU_ASSERT_TRUE(ch_wait_until(value_above, &active, 10000));
  /* the --out lines: the steady phase's carry the sessions, the final one has them all ended */
  CU_ASSERT_FATAL(ch_wait_until(sess_report_written, NULL, 30000));
  char *body = ch_slurp(outf, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(body);
  size_t steady = 0, with_sessions = 0;
  double final_active = -1;
  for (char *l = body, *e; *l && (e = strchr(l, '\n')); l = e + 1) {
    *e = 0;
    cJSON *o = cJSON_Parse(l);
    cJSON *ss = cJSON_GetObjectItem(o, "sessions");
    cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(ss, "populations"), "web");
    if (cJSON_IsTrue(cJSON_GetObjectItem(o, "final")))
      final_active = cJSON_GetNumberValue(cJSON_GetObjectItem(ss, "active"));
    else if (cJSON_IsString(cJSON_GetObjectItem(o, "phase")) &&
             !strcmp(cJSON_GetObjectItem(o, "phase")->valuestring, "steady")) {
      steady++;
      with_sessions += cJSON_GetNumberValue(cJSON_GetObjectItem(w, "active")) > 0 &&
                       cJSON_GetNumberValue(cJSON_GetObjectItem(w, "target")) == 6 &&
                       cJSON_GetNumberValue(cJSON_GetObjectItem(ss, "active")) >=
                           cJSON_GetNumberValue(cJSON_GetObjectItem(w, "active"));
    }
    cJSON_Delete(o);
  }
  free(body);
  CU_ASSERT_TRUE(steady >= 2 && with_sessions >= 1);
  if (!(steady >= 2 && with_sessions >= 1))
    fprintf(stderr, "\n%zu steady lines, %zu with the web sessions open at their target\n", steady, with_sessions);
  CU_ASSERT_EQUAL(final_active, 0);
}

/* ---- a drop's recovery, live ---- */

static const char storm_scenario[] =
    "{\"name\": \"live-storm\", \"seed\": 3,\n"
    " \"clients\": [{\"name\": \"web\", \"count\": 20, \"client_model\": \"official-js\", \"ramp\": {\"rate\": 400},\n"
    "              \"subscribe\": {\"key_count\": 4, \"prefix\": \"S-\", \"generator\": \"round_robin\"}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\"},\n"
    "            {\"type\": \"drop\", \"timeout\": \"20s\"},\n"
    "            {\"type\": \"trigger\", \"name\": \"after-storm\", \"duration\": \"3s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"reference\", \"rate\": 10},\n"
    " \"expect\": {\"deadline\": \"5s\"}}\n";

#define STORM_RECONNECTING "centro_harness_reconnecting_clients{population=\"web\",transport=\"webSockets\"}"
#define STORM_RECONNECTS "centro_harness_reconnects_total{population=\"web\",transport=\"webSockets\"}"

struct storm_wait {
  const char *phase; /* the phase sample that must be there */
  bool back;         /* false: some clients reconnecting; true: none, and every client reconnected */
  struct ch_buf scrape;
};
static bool storm_seen(void *arg) {
  struct storm_wait *w = arg;
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", storm_port);
  if (http_get(url, NULL, &w->scrape) != 200 || !w->scrape.data || !strstr(w->scrape.data, w->phase))
    return false;
  double now = sample_value(w->scrape.data, STORM_RECONNECTING);
  return w->back ? now == 0 && sample_value(w->scrape.data, STORM_RECONNECTS) == 20 : now > 0;
}

static void test_storm_recovery_live(void) {
  char path[128], repdir[96], ml[32];
  snprintf(path, sizeof path, "%s/storm.json", tmp);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, storm_scenario), 0);
  snprintf(repdir, sizeof repdir, "%s/storm", tmp);
  snprintf(ml, sizeof ml, "127.0.0.1:%d", storm_port);
  char *argv[] = {"centro-harness", "run", path, "--report-dir", repdir, "--metrics-listen", ml, "--quiet", NULL};
  struct ch_spawn_bg bg;
  CU_ASSERT_EQUAL_FATAL(ch_spawn_start(argv, &bg), 0);
  /* the official client waits 2 s before it reconnects: the drop phase's seconds show clients reconnecting */
  struct storm_wait away = {"\ncentro_harness_phase{index=\"3\",phase=\"drop\"} 1\n", false, CH_BUF_INIT};
  bool seen = ch_wait_until(storm_seen, &away, 20000);
  CU_ASSERT_TRUE(seen);
  double n = sample_value(away.scrape.data, STORM_RECONNECTING);
  CU_ASSERT_TRUE(n > 0 && n <= 20);
  if (!seen)
    fprintf(stderr, "\nno scrape of the drop with clients reconnecting; last:\n%s\n", away.scrape.data ? away.scrape.data : "");
  /* then every one is back: none reconnecting, 20 reconnects, while the trigger after the storm runs */
  struct storm_wait back = {"\ncentro_harness_phase{index=\"4\",phase=\"after-storm\"} 1\n", true, CH_BUF_INIT};
  seen = ch_wait_until(storm_seen, &back, 20000);
  CU_ASSERT_TRUE(seen);
  if (!seen)
    fprintf(stderr, "\nno scrape after the storm with every client back; last:\n%s\n", back.scrape.data ? back.scrape.data : "");
  ch_buf_free(&away.scrape);
  ch_buf_free(&back.scrape);
  struct ch_spawn_result r = ch_spawn_finish(&bg, 30000, NULL);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
}

/* examples/prometheus: the scrape configuration passes promtool, and every query of the Grafana dashboard is valid
   PromQL over names this harness exports (each returns series from the run or serve just scraped). */
static void replace_all(struct ch_buf *out, const char *s, const char *const *from, const char *const *to, size_t n) {
  ch_buf_reset(out);
  while (*s) {
    size_t k = 0;
    while (k < n && strncmp(s, from[k], strlen(from[k])))
      k++;
    if (k < n) {
      ch_buf_puts(out, to[k]);
      s += strlen(from[k]);
    } else {
      ch_buf_putc(out, *s++);
    }
  }
}

static void test_examples_work(void) {
  CU_ASSERT_EQUAL(system(PROMTOOL " check config " CH_SOURCE_DIR "/examples/prometheus/prometheus.yml >&2"), 0);
  char *text = ch_slurp(CH_SOURCE_DIR "/examples/prometheus/grafana-dashboard.json", NULL);
  cJSON *dash = cJSON_Parse(text);
  free(text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dash);
  static const char *const from[] = {"$__rate_interval", "$serve_job", "$job"};
  static const char *const to[] = {"1m", "serve", "run|sessions"};
  struct ch_buf q = CH_BUF_INIT;
  size_t n = 0, with_data = 0;
  cJSON *panel;
  cJSON_ArrayForEach(panel, cJSON_GetObjectItem(dash, "panels")) {
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(panel, "targets")) {
      const char *expr = cJSON_GetStringValue(cJSON_GetObjectItem(t, "expr"));
      CU_ASSERT_PTR_NOT_NULL_FATAL(expr);
      replace_all(&q, expr, from, to, 3);
      cJSON *doc;
      cJSON *res = prom_query(q.data, &doc);
      CU_ASSERT_PTR_NOT_NULL(res); /* Prometheus parsed it */
      if (!res)
        fprintf(stderr, "\nnot a valid query: %s\n", q.data);
      with_data += cJSON_GetArraySize(res) > 0;
      n++;
      cJSON_Delete(doc);
    }
  }
  CU_ASSERT_TRUE(n >= 20);
  /* increases over the last minute may be empty when nothing failed; the rest name exported series */
  CU_ASSERT_TRUE(with_data >= n - 2);
  if (with_data < n - 2)
    fprintf(stderr, "\nonly %zu of %zu dashboard queries return series\n", with_data, n);
  ch_buf_free(&q);
  cJSON_Delete(dash);
}

/* Ends a lingering run with SIGTERM: it exits 0. */
static void end_linger(struct ch_spawn_bg *bg) {
  if (bg->pid <= 0)
    return;
  kill(bg->pid, SIGTERM);
  struct ch_spawn_result r = ch_spawn_finish(bg, 10000, NULL);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
}

static void test_teardown(void) {
  end_linger(&sess_bg);
  ch_buf_free(&steady_scrape);
  end_linger(&run_bg);
  if (serve_bg.pid > 0) {
    kill(serve_bg.pid, SIGTERM);
    struct ch_spawn_result r = ch_spawn_finish(&serve_bg, 10000, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    free(r.out);
  }
  if (prom_pid > 0) {
    kill(prom_pid, SIGTERM);
    waitpid(prom_pid, NULL, 0);
  }
  ch_report_free(rep);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void) {
  if (access(PROMETHEUS, X_OK) || access(PROMTOOL, X_OK) || access(CH_BINARY, X_OK)) {
    bool skip = ch_test_may_skip(access(CH_BINARY, X_OK) ? "the built binary is missing"
                                                         : "prometheus/promtool missing (apt-get install prometheus)",
                                 NULL);
    return skip ? CH_TEST_SKIPPED : 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CU_TestInfo tests[] = {{"set-up: Prometheus, serve and a run scraped", test_setup},
                         {"histogram buckets, count and p99 agree with report.json", test_histogram_agrees_with_report},
                         {"serve exports what its /stats has", test_serve_exports_its_stats},
                         {"promtool accepts; OpenMetrics on Accept", test_promtool_and_openmetrics},
                         {"--out: one JSON line per second", test_out_lines_parse},
                         {"sessions: gauges scraped in steady, promtool, dashboard, --out", test_sessions_live},
                         {"a reconnect storm's recovery, scraped live", test_storm_recovery_live},
                         {"examples/prometheus: config and dashboard queries", test_examples_work},
                         {"tear-down", test_teardown},
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("live_prometheus", tests);
  curl_global_cleanup();
  return rc;
}
