/* mTLS accepted: `serve --tls-client-ca` lets in the harness's clients on every transport when they present a
   client certificate signed by that CA (`run --cert FILE --key FILE`). The refusal without one is in test_serve_tls.
   Skipped (77) only while `run --help` does not list --cert: the client option is built by another change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_serve_bg.h"
#include "ch_spawn.h"
#include "ch_test.h"
#include "ch_testcerts.h"

static char dir[64];

/* The test CA, the server's and the client's certificate and key, in dir. */
struct mtls_files {
  char ca[96], cert[96], key[96], ccert[96], ckey[96];
};

static void mtls_files(struct mtls_files *f) {
  snprintf(f->ca, sizeof f->ca, "%s/ca.pem", dir);
  snprintf(f->cert, sizeof f->cert, "%s/server.pem", dir);
  snprintf(f->key, sizeof f->key, "%s/server.key", dir);
  snprintf(f->ccert, sizeof f->ccert, "%s/client.pem", dir);
  snprintf(f->ckey, sizeof f->ckey, "%s/client.key", dir);
}

/* serve over TLS, requiring client certificates signed by the test CA. */
static int serve_mtls(struct ch_serve_bg *s, const struct mtls_files *f) {
  const char *args[] = {"--tls-cert", f->cert, "--tls-key", f->key, "--tls-client-ca", f->ca, NULL};
  return ch_serve_bg_start(s, args);
}

/* Runs the harness and expects exit 0 (its output shown otherwise). */
static void expect_exit_0(char *const argv[]) {
  struct ch_spawn_result r = ch_spawn(argv, 60);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
}

static const char scenario[] =
    "{\"name\": \"mtls\", \"seed\": 1,\n"
    " \"clients\": [\n"
    "  {\"name\": \"ws\", \"count\": 1, \"transport\": \"webSockets\", \"subscribe\": {\"keys\": [\"K1\"]}},\n"
    "  {\"name\": \"sse\", \"count\": 1, \"transport\": \"serverSentEvents\", \"subscribe\": {\"keys\": [\"K1\"]}},\n"
    "  {\"name\": \"lp\", \"count\": 1, \"transport\": \"longPolling\", \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"disconnect\"}],\n"
    " \"thresholds\": [\"connect_errors == 0\"]}\n";

static void test_client_certificate_is_accepted_on_every_transport(void) {
  struct mtls_files f;
  mtls_files(&f);
  char spath[96], reports[96], target[64];
  snprintf(spath, sizeof spath, "%s/scenario.json", dir);
  snprintf(reports, sizeof reports, "%s/report", dir);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(spath, scenario), 0);
  struct ch_serve_bg s;
  CU_ASSERT_EQUAL_FATAL(serve_mtls(&s, &f), 0);
  snprintf(target, sizeof target, "https://127.0.0.1:%d", s.port);
  /* one worker: see run_against in test_serve_tls.c (lws 4.1.6 leaks all but the last TLS context's SSL_CTX) */
  char *argv[] = {"centro-harness", "run", spath, "--target", target, "--ca-file", f.ca, "--cert", f.ccert,
                  "--key", f.ckey, "--report-dir", reports, "--workers", "1", NULL};
  expect_exit_0(argv);
  CU_ASSERT_EQUAL(ch_serve_bg_stop(&s), 0);
}

/* A trigger to the target's own host and port (here its ping, so that no Update is due) and no clients subscribed:
   the trigger's request must present the client certificate too, or the mTLS listener refuses its handshake. */
static const char trigger_scenario[] =
    "{\"name\": \"mtls-trigger\", \"seed\": 1,\n"
    " \"clients\": [{\"name\": \"ws\", \"count\": 1, \"transport\": \"webSockets\"}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"trigger\", \"duration\": \"2s\"},\n"
    "            {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 2, \"count\": 2, \"keys\": [\"K1\"],\n"
    "             \"http\": {\"method\": \"GET\", \"url\": \"https://127.0.0.1:1/signalr/ping\"}},\n"
    " \"expect\": {\"delivery\": \"any\"},\n"
    " \"thresholds\": [\"connect_errors == 0\"]}\n";

static void test_trigger_to_the_target_presents_the_client_certificate(void) {
  struct mtls_files f;
  mtls_files(&f);
  char spath[96], reports[96], target[64], url[128], rpath[128];
  snprintf(spath, sizeof spath, "%s/trigger.json", dir);
  snprintf(reports, sizeof reports, "%s/report-trigger", dir);
  snprintf(rpath, sizeof rpath, "%s/report.json", reports);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(spath, trigger_scenario), 0);
  struct ch_serve_bg s;
  CU_ASSERT_EQUAL_FATAL(serve_mtls(&s, &f), 0);
  snprintf(target, sizeof target, "https://127.0.0.1:%d", s.port);
  snprintf(url, sizeof url, "trigger.http.url=https://127.0.0.1:%d/signalr/ping", s.port);
  char *argv[] = {"centro-harness", "run", spath, "--target", target, "--ca-file", f.ca, "--cert", f.ccert,
                  "--key", f.ckey, "--set", url, "--report-dir", reports, "--workers", "1", NULL};
  struct ch_spawn_result r = ch_spawn(argv, 60);
  CU_ASSERT_EQUAL(r.code, 0);
  char *rep = ch_slurp(rpath, NULL);
  CU_ASSERT_PTR_NOT_NULL(rep);
  CU_ASSERT_PTR_NULL(rep ? strstr(rep, "first_error") : "");
  if (r.code != 0 || (rep && strstr(rep, "first_error")))
    fprintf(stderr, "\n%s\n%s\n", r.out, rep ? rep : "");
  free(rep);
  free(r.out);
  CU_ASSERT_EQUAL(ch_serve_bg_stop(&s), 0);
}

/* check --scenario FILE takes the client certificate from the scenario's target.tls, as run does. */
static void test_check_uses_the_scenario_client_certificate(void) {
  struct mtls_files f;
  mtls_files(&f);
  char spath[96], reports[96], text[1024];
  snprintf(spath, sizeof spath, "%s/check.json", dir);
  snprintf(reports, sizeof reports, "%s/report-check", dir);
  struct ch_serve_bg s;
  CU_ASSERT_EQUAL_FATAL(serve_mtls(&s, &f), 0);
  snprintf(text, sizeof text,
           "{\"name\": \"mtls-check\", \"seed\": 1,\n"
           " \"target\": {\"url\": \"https://127.0.0.1:%d\", \"tls\": {\"ca_file\": \"ca.pem\",\n"
           "            \"cert_file\": \"client.pem\", \"key_file\": \"client.key\"}},\n"
           " \"clients\": [{\"name\": \"ws\", \"count\": 1, \"transport\": \"webSockets\"}],\n"
           " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"disconnect\"}]}\n",
           s.port);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(spath, text), 0);
  char *argv[] = {"centro-harness", "check", "--scenario", spath, "--only", "NEG-001,CON-003", "--report-dir", reports,
                  NULL};
  expect_exit_0(argv);
  CU_ASSERT_EQUAL(ch_serve_bg_stop(&s), 0);
}

/* True when `centro-harness run --help` lists the client certificate option. */
static bool run_has_cert_option(void) {
  char *argv[] = {"centro-harness", "run", "--help", NULL};
  struct ch_spawn_result r = ch_spawn(argv, 10);
  bool has = r.code == 0 && r.out && strstr(r.out, "  --cert ");
  free(r.out);
  return has;
}

int main(void) {
  if (access(CH_BINARY, X_OK) != 0)
    return ch_test_may_skip(CH_BINARY " is not built", NULL) ? CH_TEST_SKIPPED : 1;
  if (!run_has_cert_option()) {
    fprintf(stderr, "skipped: client --cert not built yet\n");
    return CH_TEST_SKIPPED;
  }
  if (ch_testcerts_dir(dir, sizeof dir, "ch-serve-mtls"))
    return 1;
  CU_TestInfo tests[] = {CH_TEST(test_client_certificate_is_accepted_on_every_transport),
                         CH_TEST(test_trigger_to_the_target_presents_the_client_certificate),
                         CH_TEST(test_check_uses_the_scenario_client_certificate), CU_TEST_INFO_NULL};
  int rc = ch_test_run("serve_tls_client_cert", tests);
  ch_testcerts_dir_remove(dir);
  return rc;
}
