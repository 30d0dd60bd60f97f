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
  char ca[96], cert[96], key[96], ccert[96], ckey[96], spath[96], reports[96], target[64];
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  snprintf(cert, sizeof cert, "%s/server.pem", dir);
  snprintf(key, sizeof key, "%s/server.key", dir);
  snprintf(ccert, sizeof ccert, "%s/client.pem", dir);
  snprintf(ckey, sizeof ckey, "%s/client.key", dir);
  snprintf(spath, sizeof spath, "%s/scenario.json", dir);
  snprintf(reports, sizeof reports, "%s/report", dir);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(spath, scenario), 0);
  const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca, NULL};
  struct ch_serve_bg s;
  CU_ASSERT_EQUAL_FATAL(ch_serve_bg_start(&s, args), 0);
  snprintf(target, sizeof target, "https://127.0.0.1:%d", s.port);
  /* one worker: see run_against in test_serve_tls.c (lws 4.1.6 leaks all but the last TLS context's SSL_CTX) */
  char *argv[] = {"centro-harness", "run", spath, "--target", target, "--ca-file", ca, "--cert", ccert, "--key", ckey,
                  "--report-dir", reports, "--workers", "1", NULL};
  struct ch_spawn_result r = ch_spawn(argv, 60);
  CU_ASSERT_EQUAL(r.code, 0);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  free(r.out);
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
  CU_TestInfo tests[] = {CH_TEST(test_client_certificate_is_accepted_on_every_transport), CU_TEST_INFO_NULL};
  int rc = ch_test_run("serve_tls_client_cert", tests);
  ch_testcerts_dir_remove(dir);
  return rc;
}
