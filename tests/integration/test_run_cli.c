/* `centro-harness run` as users and release pipelines use it: the shipped scenarios pass against the embedded
   reference endpoint, exit codes and last lines are the documented ones, reports are written without credentials. */
#include <cJSON.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "ch_server.h"
#include "ch_listen.h"
#include "ch_spawn.h"
#include "ch_test.h"
#include "ch_test_certs.h"

static char report_dir[64];

static void expect_exit(const char *scenario, const char *const extra[], int want, const char *last_prefix) {
  struct ch_spawn_result r = ch_spawn_run(scenario, report_dir, extra, 240);
  char last[512];
  ch_last_line(&r, last, sizeof last);
  if (r.code != want)
    fprintf(stderr, "\n%s: exit %d, wanted %d; output:\n%s\n", scenario, r.code, want, r.out);
  CU_ASSERT_EQUAL(r.code, want);
  CU_ASSERT_EQUAL(strncmp(last, last_prefix, strlen(last_prefix)), 0);
  free(r.out);
}

static void test_run_smoke_passes_and_writes_reports_without_credentials(void) {
  const char *extra[] = {"--token", "s3cret-token-for-test", NULL};
  struct ch_spawn_result r = ch_spawn_run("scenarios/smoke.json", report_dir, extra, 120);
  char last[256];
  CU_ASSERT_EQUAL(r.code, 0);
  CH_ASSERT_STR(ch_last_line(&r, last, sizeof last), "exit 0: passed (10 checks, 0 skipped; 3 thresholds)");
  CU_ASSERT_PTR_NULL(strstr(r.out, "s3cret-token-for-test"));
  const char *files[] = {"report.json", "junit.xml", "report.html"};
  for (int i = 0; i < 3; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", report_dir, files[i]);
    char *body = ch_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL(body);
    if (body) {
      CU_ASSERT_PTR_NULL(strstr(body, "s3cret-token-for-test"));
      free(body);
    }
  }
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *json = ch_slurp(path, NULL);
  /* the delivery the user gates on was judged, not skipped */
  CU_ASSERT_TRUE(json && strstr(json, "\"RUN-DELIVERY\"") != NULL);
  CU_ASSERT_PTR_NULL(json ? strstr(json, "\"result\":\"fail\"") : NULL);
  free(json);
  free(r.out);
}

static void test_run_shipped_scenarios_pass(void) {
  const char *names[] = {"scenarios/auth.json", "scenarios/conformance.json", "scenarios/fanout-1k.json",
                         "scenarios/transports.json", "scenarios/reconnect.json", "scenarios/capacity-fanout.json",
                         "scenarios/capacity-rate.json"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    expect_exit(names[i], NULL, 0, "exit 0: passed");
}

static void test_run_soak_shortened_with_set(void) {
  const char *extra[] = {"--set", "phases.2.duration=2s", "--set", "clients.0.count=50", NULL};
  expect_exit("scenarios/soak-10m.json", extra, 0, "exit 0: passed");
}

static void test_run_processes_merge_shards(void) {
  const char *extra[] = {"--processes", "2", NULL};
  expect_exit("scenarios/smoke.json", extra, 0, "exit 0: passed");
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *json = ch_slurp(path, NULL);
  const char *sh = json ? strstr(json, "\"shards\":") : NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL(sh);
  sh += strlen("\"shards\":");
  while (*sh == ' ' || *sh == '\t')
    sh++;
  CU_ASSERT_EQUAL(*sh, '2');
  free(json);
}

static void test_run_threshold_failure_exits_2(void) {
  const char *extra[] = {"--set", "thresholds=[\"update_latency.p99 < 1us\"]", NULL};
  expect_exit("scenarios/smoke.json", extra, 2, "exit 2: threshold failed (1 of 1)");
}

static void test_run_invalid_scenario_exits_3_naming_file_and_path(void) {
  const char *extra[] = {"--set", "clients.0.count=\"ten\"", NULL};
  struct ch_spawn_result r = ch_spawn_run("scenarios/smoke.json", report_dir, extra, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "scenarios/smoke.json"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "clients[0].count"));
  char last[256];
  CU_ASSERT_EQUAL(strncmp(ch_last_line(&r, last, sizeof last), "exit 3:", 7), 0);
  free(r.out);
  const char *extra2[] = {"--bogus", NULL};
  r = ch_spawn_run("scenarios/smoke.json", report_dir, extra2, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  free(r.out);
  r = ch_spawn_run("scenarios/does-not-exist.json", report_dir, NULL, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "does-not-exist.json"));
  free(r.out);
}

static void test_run_unreachable_target_exits_4(void) {
  /* Port 9 on loopback: nothing listens there, so every connect is refused at once. */
  const char *extra[] = {"--target", "http://127.0.0.1:9/Centro", "--set", "trigger.type=none",
                         "--set", "phases=[{\"type\":\"connect\",\"timeout\":\"5s\"}]", "--token", "x", NULL};
  expect_exit("scenarios/smoke.json", extra, 4, "exit 4: run could not be carried out");
}

/* TLS files are checked before anything runs: exit 3 naming the option and the file. */
static void test_run_tls_files_refused_with_exit_3(void) {
  const char *extra[] = {"--cert", "/nonexistent/client.pem", NULL};
  struct ch_spawn_result r = ch_spawn_run("scenarios/smoke.json", report_dir, extra, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--cert /nonexistent/client.pem: No such file or directory"));
  free(r.out);
  const char *extra2[] = {"--cert", CH_SOURCE_DIR "/scenarios/smoke.json", NULL};
  r = ch_spawn_run("scenarios/smoke.json", report_dir, extra2, 30);
  CU_ASSERT_EQUAL(r.code, 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "smoke.json: not a PEM certificate"));
  free(r.out);
}

/* A TLS listener whose certificate nobody trusts: it accepts and handshakes until told to stop. */
struct tls_lsn {
  int fd, port;
  SSL_CTX *ctx;
  uv_thread_t th;
  volatile int stop;
};

static void tls_lsn_main(void *arg) {
  struct tls_lsn *l = arg;
  while (!l->stop) {
    int c = accept(l->fd, NULL, NULL);
    if (c < 0)
      continue;
    SSL *s = SSL_new(l->ctx);
    SSL_set_fd(s, c);
    SSL_accept(s); /* the client refuses the certificate */
    SSL_free(s);
    close(c);
  }
}

/* Verification is on: a certificate from an unknown CA ends the run with exit 4 and the reason. */
static void test_run_untrusted_certificate_exits_4_with_reason(void) {
  struct tls_lsn l = {0};
  signal(SIGPIPE, SIG_IGN); /* the listener's handshake writes to sockets the refusing client has closed */
  l.ctx = SSL_CTX_new(TLS_server_method());
  BIO *cb = BIO_new_mem_buf(test_cert, -1), *kb = BIO_new_mem_buf(test_key, -1);
  X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
  EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
  CU_ASSERT_EQUAL_FATAL(SSL_CTX_use_certificate(l.ctx, x) == 1 && SSL_CTX_use_PrivateKey(l.ctx, k) == 1, 1);
  X509_free(x), EVP_PKEY_free(k), BIO_free(cb), BIO_free(kb);
  l.fd = ch_test_listen(64, &l.port);
  CU_ASSERT_TRUE_FATAL(l.fd >= 0);
  CU_ASSERT_EQUAL_FATAL(uv_thread_create(&l.th, tls_lsn_main, &l), 0);
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d/Centro", l.port);
  const char *extra[] = {"--target", url, "--set", "trigger.type=none", "--set",
                         "phases=[{\"type\":\"connect\",\"timeout\":\"5s\"}]", "--token", "x", NULL};
  struct ch_spawn_result r = ch_spawn_run("scenarios/smoke.json", report_dir, extra, 60);
  if (r.code != 4 || !strstr(r.out, "TLS failure at"))
    fprintf(stderr, "\nexit %d:\n%s\n", r.code, r.out);
  CU_ASSERT_EQUAL(r.code, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "TLS failure at https://127.0.0.1:"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "certificate"));
  free(r.out);
  l.stop = 1;
  shutdown(l.fd, SHUT_RDWR);
  int wake = socket(AF_INET, SOCK_STREAM, 0); /* accept may still wait: one connection ends it */
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l.port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(wake, (struct sockaddr *)&sa, sizeof sa);
  close(wake);
  uv_thread_join(&l.th);
  close(l.fd);
  SSL_CTX_free(l.ctx);
}

/* An external endpoint that ends every WebSocket (Close 1000) after 50 Updates: the clients reconnect and get the
   replay, so nothing is lost, but the run counts the closes (server_closes) and RUN-SERVER-CLOSE fails, unless the
   scenario allows them. */
static const char close_scenario[] =
    "{\"name\": \"server-closes\",\n"
    " \"clients\": [{\"name\": \"subs\", \"count\": 10, \"transport\": \"webSockets\", \"ramp\": {\"rate\": 1000},\n"
    "              \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"2s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 40, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:1/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\"}}},\n"
    " \"correlation\": {\"sequence\": null, \"server_time_us\": \"/HarnessSentUs\"},\n"
    " \"expect\": {\"delivery\": \"any\", \"in_order\": false}}\n";

/* The result of one check in a report.json ("" when absent) and the run's server_closes counter summed over groups. */
static void read_close_verdict(char *result, size_t n, double *closes) {
  char path[128];
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  char *body = ch_slurp(path, NULL);
  cJSON *j = cJSON_Parse(body ? body : "");
  const cJSON *c;
  snprintf(result, n, "%s", "");
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "checks")) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id"), *res = cJSON_GetObjectItemCaseSensitive(c, "result");
    if (cJSON_IsString(id) && !strcmp(id->valuestring, "RUN-SERVER-CLOSE") && cJSON_IsString(res))
      snprintf(result, n, "%s", res->valuestring);
  }
  *closes = 0;
  const cJSON *g;
  cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metrics"), "groups")) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g, "counters"), "server_closes");
    if (cJSON_IsNumber(v))
      *closes += v->valuedouble;
  }
  cJSON_Delete(j);
  free(body);
}

static void test_run_counts_server_closes_and_fails_unless_allowed(void) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  so.faults = 1u << CH_FAULT_CLOSE_AFTER_UPDATES;
  struct ch_server *srv = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_server_new(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(ch_server_start(srv), 0);
  char path[96], target[96], trigger[128], result[16];
  snprintf(path, sizeof path, "%s-close.json", report_dir);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, close_scenario), 0);
  ch_external_sets(ch_server_port(srv), ch_server_control_port(srv), target, trigger);
  double closes = 0;
  const char *strict[] = {"--set", target, "--set", trigger, NULL};
  struct ch_spawn_result r = ch_spawn_run(path, report_dir, strict, 120);
  CU_ASSERT_EQUAL(r.code, 1);
  read_close_verdict(result, sizeof result, &closes);
  CU_ASSERT_STRING_EQUAL(result, "fail");
  CU_ASSERT_TRUE(closes >= 10); /* 80 Updates per client: at least one close each */
  if (r.code != 1 || closes < 10)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "server_closes"));
  free(r.out);
  const char *allowed[] = {"--set", target, "--set", trigger, "--set", "expect.allow_server_closes=true", NULL};
  r = ch_spawn_run(path, report_dir, allowed, 120);
  read_close_verdict(result, sizeof result, &closes);
  CU_ASSERT_STRING_EQUAL(result, "pass");
  CU_ASSERT_TRUE(closes >= 10); /* still counted */
  free(r.out);
  unlink(path);
  ch_server_free(srv);
}

static void test_run_refuses_a_run_beyond_the_descriptor_limit(void) {
  /* One client more than the hard descriptor limit cannot fit one process (each holds a descriptor): refused up
     front with the remedies. An unlimited or huge limit is lowered first (children inherit it) so the count stays
     within what a scenario may ask for (10,000,000). */
  struct rlimit rl;
  CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 1000000) {
    rl.rlim_max = 1000000;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max)
      rl.rlim_cur = rl.rlim_max;
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &rl), 0);
  }
  char count[64];
  snprintf(count, sizeof count, "clients.0.count=%llu", (unsigned long long)rl.rlim_max + 1);
  const char *extra[] = {"--set", count, NULL};
  struct ch_spawn_result r = ch_spawn_run("scenarios/smoke.json", report_dir, extra, 60);
  CU_ASSERT_EQUAL(r.code, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "ulimit -n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--processes"));
  free(r.out);
}

int main(void) {
  snprintf(report_dir, sizeof report_dir, "/tmp/ch-run-test-%d", (int)getpid());
  CU_TestInfo tests[] = {CH_TEST(test_run_smoke_passes_and_writes_reports_without_credentials),
                         CH_TEST(test_run_shipped_scenarios_pass),
                         CH_TEST(test_run_soak_shortened_with_set),
                         CH_TEST(test_run_processes_merge_shards),
                         CH_TEST(test_run_threshold_failure_exits_2),
                         CH_TEST(test_run_invalid_scenario_exits_3_naming_file_and_path),
                         CH_TEST(test_run_unreachable_target_exits_4),
                         CH_TEST(test_run_tls_files_refused_with_exit_3),
                         CH_TEST(test_run_untrusted_certificate_exits_4_with_reason),
                         CH_TEST(test_run_refuses_a_run_beyond_the_descriptor_limit),
                         CH_TEST(test_run_counts_server_closes_and_fails_unless_allowed),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_cli", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", report_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", report_dir);
  return rc;
}
