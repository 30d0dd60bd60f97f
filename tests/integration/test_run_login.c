/* `run` with target.auth.login and target.auth.command against the reference endpoint: a short soak with 5 s login
   tokens on the three transports (refreshed, nothing lost, not one request refused), a refused login (exit 4 naming
   the status and the redacted URL), an auth command (a script printing the token; failing and hanging ones), and no
   password or token in anything written or printed. */
#include <cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_run_summary.h"
#include "ch_server.h"
#include "ch_spawn.h"
#include "ch_test.h"

static char dir[64];        /* scratch folder: users CSV, scripts, scenarios */
static char report_dir[96]; /* the run's report folder */

static const struct ch_server_login_user USERS[] = {
    {"u1", "Pw-1-s3cret"}, {"u2", "Pw-2-s3cret"}, {"u3", "Pw-3-s3cret"},
    {"u4", "Pw-4-s3cret"}, {"u5", "Pw-5-s3cret"}, {"u6", "Pw-6-s3cret"},
};
#define N_USERS 6
#define CMD_TOKEN "cmd-t0ken-from-script"

static const char soak_scenario[] =
    "{\"name\": \"login-soak\",\n"
    " \"target\": {\"url\": \"http://127.0.0.1:1\", \"auth\": {\"login\": {\"url\": \"http://127.0.0.1:1/login\",\n"
    "   \"body\": {\"user\": \"{{user}}\", \"password\": \"{{password}}\"}, \"users_file\": \"users.csv\",\n"
    "   \"token_pointer\": \"/access_token\", \"expires_in_pointer\": \"/expires_in\", \"rate\": 50,\n"
    "   \"refresh_at\": 0.6}}},\n"
    " \"clients\": [\n"
    "  {\"name\": \"ws\", \"count\": 12, \"transport\": \"webSockets\", \"ramp\": {\"rate\": 1000},\n"
    "   \"subscribe\": {\"keys\": [\"K1\", \"K2\"]}},\n"
    "  {\"name\": \"sse\", \"count\": 12, \"transport\": \"serverSentEvents\", \"ramp\": {\"rate\": 1000},\n"
    "   \"subscribe\": {\"keys\": [\"K1\", \"K2\"]}},\n"
    "  {\"name\": \"lp\", \"count\": 12, \"transport\": \"longPolling\", \"ramp\": {\"rate\": 1000},\n"
    "   \"subscribe\": {\"keys\": [\"K1\", \"K2\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"%s\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 4, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:1/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\",\n"
    "                               \"payload\": {\"Comment\": \"{{nonce}}\"}}}},\n"
    " \"correlation\": {\"nonce\": \"/Comment\", \"server_time_us\": \"/HarnessSentUs\"},\n"
    " \"expect\": {\"delivery\": \"exactly_once\", \"in_order\": true, \"deadline\": \"5s\"}}\n";

static void fresh_report_dir(const char *name) {
  snprintf(report_dir, sizeof report_dir, "%s/rep-%s", dir, name);
}

/* Every file under path (recursively) and the output: none holds a password, a login token (serve's start with
   "lt1.") or the command's token. */
static void assert_no_secret_in(const char *path, int *files) {
  DIR *d = opendir(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    struct stat st;
    if (stat(p, &st))
      continue;
    if (S_ISDIR(st.st_mode)) {
      assert_no_secret_in(p, files);
      continue;
    }
    char *body = ch_slurp(p, NULL);
    CU_ASSERT_PTR_NOT_NULL(body);
    (*files)++;
    for (int i = 0; body && i < N_USERS; i++)
      if (strstr(body, USERS[i].password)) {
        fprintf(stderr, "\n%s holds a password\n", p);
        CU_FAIL("a password in a report file");
      }
    if (body && (strstr(body, "lt1.") || strstr(body, CMD_TOKEN))) {
      fprintf(stderr, "\n%s holds a token\n", p);
      CU_FAIL("a token in a report file");
    }
    free(body);
  }
  closedir(d);
}

static void assert_no_secret(const struct ch_spawn_result *r) {
  for (int i = 0; i < N_USERS; i++)
    CU_ASSERT_PTR_NULL(strstr(r->out, USERS[i].password));
  CU_ASSERT_PTR_NULL(strstr(r->out, "lt1."));
  CU_ASSERT_PTR_NULL(strstr(r->out, CMD_TOKEN));
  int files = 0;
  assert_no_secret_in(report_dir, &files);
  CU_ASSERT_TRUE(files >= 2); /* scenario.json and report.json at least */
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg) {
  return ch_buf_append(arg, p, sz * n) ? 0 : sz * n;
}

/* A number from serve's GET /stats (-1 when unreadable). */
static double serve_stat(int control_port, const char *name) {
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", control_port);
  struct ch_buf b = CH_BUF_INIT;
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  CURLcode cc = curl_easy_perform(c);
  curl_easy_cleanup(c);
  cJSON *j = cc == CURLE_OK && b.data ? cJSON_ParseWithLength(b.data, b.len) : NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
  double out = cJSON_IsNumber(v) ? v->valuedouble : -1;
  cJSON_Delete(j);
  ch_buf_free(&b);
  return out;
}

/* report.json: a counter summed over groups (-1 when no group has it: a renamed counter cannot pass as 0), and one
   check's result and evidence. */
static double counter(const cJSON *rep, const char *name) {
  double n = 0;
  bool seen = false;
  const cJSON *g;
  cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rep, "metrics"), "groups")) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g, "counters"), name);
    if (cJSON_IsNumber(v))
      n += v->valuedouble, seen = true;
  }
  return seen ? n : -1;
}

static const cJSON *check_of(const cJSON *rep, const char *id) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rep, "checks")) {
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "id");
    if (cJSON_IsString(i) && !strcmp(i->valuestring, id))
      return c;
  }
  return NULL;
}

static cJSON *read_report(void) { return ch_run_report_json(report_dir); }

static int write_users(const char *wrong_password_of_u3) {
  char path[128], text[1024] = "user,password\n";
  for (int i = 0; i < N_USERS; i++) {
    char line[96];
    snprintf(line, sizeof line, "%s,%s\n", USERS[i].user,
             i == 2 && wrong_password_of_u3 ? wrong_password_of_u3 : USERS[i].password);
    strcat(text, line);
  }
  snprintf(path, sizeof path, "%s/users.csv", dir);
  return ch_write_text(path, text);
}

static struct ch_server *start_serve(double ttl, const struct ch_server_token *toks, size_t n_toks) {
  struct ch_server_opts so = {.listen_host = "127.0.0.1", .quiet = true, .login_users = USERS,
                              .n_login_users = N_USERS, .token_ttl_s = ttl, .tokens = toks, .n_tokens = n_toks};
  struct ch_server *srv = NULL;
  if (ch_server_new(&so, &srv) || ch_server_start(srv)) {
    ch_server_free(srv);
    return NULL;
  }
  return srv;
}

/* Writes the scenario text to <dir>/<name>.json and runs it against srv: its endpoint, its control API as the trigger,
   its login route (plus login_query, e.g. "?api_key=...") as target.auth.login.url; the report goes to rep-<name>. */
static struct ch_spawn_result run_against(struct ch_server *srv, const char *name, const char *text,
                                          const char *login_query, int want) {
  char path[128], target[96], trigger[128], login[192];
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  CU_ASSERT_EQUAL(ch_write_text(path, text), 0);
  ch_external_sets(ch_server_port(srv), ch_server_control_port(srv), target, trigger);
  snprintf(login, sizeof login, "target.auth.login.url=http://127.0.0.1:%d/login%s", ch_server_port(srv),
           login_query ? login_query : "");
  fresh_report_dir(name);
  const char *extra[] = {"--set", target, "--set", trigger, "--set", login, NULL};
  struct ch_spawn_result r = ch_spawn_run(path, report_dir, extra, 90);
  if (r.code != want)
    fprintf(stderr, "\n%s: exit %d, wanted %d\n%s\n", name, r.code, want, r.out);
  return r;
}

/* 36 clients (12 per transport, 6 users) for about 12 s with 5 s tokens: each user's token is refreshed at least
   twice, every LP poll and SSE/LP send after the first refresh carries a refreshed token, and the server refuses
   nothing (its "rejected" counter stays 0). */
static void test_login_soak_refreshes_tokens_on_every_transport(void) {
  CU_ASSERT_EQUAL_FATAL(write_users(NULL), 0);
  struct ch_server *srv = start_serve(5, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char text[4096];
  snprintf(text, sizeof text, soak_scenario, "11s");
  struct ch_spawn_result r = run_against(srv, "soak", text, NULL, 0);
  CU_ASSERT_EQUAL(r.code, 0);
  cJSON *rep = read_report();
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CU_ASSERT_EQUAL(counter(rep, "clients_connected"), 36);
  CU_ASSERT_EQUAL(counter(rep, "connect_errors"), 0);
  CU_ASSERT_EQUAL(counter(rep, "disconnects"), 0);
  CU_ASSERT_EQUAL(counter(rep, "reconnects"), 0);
  CU_ASSERT_EQUAL(counter(rep, "errors"), 0);
  CU_ASSERT_EQUAL(counter(rep, "updates_missing"), 0);
  CU_ASSERT_TRUE(counter(rep, "updates_received") > 0);
  const cJSON *c = check_of(rep, "RUN-TOKEN-REFRESH");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "result");
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(c, "evidence");
  CU_ASSERT_STRING_EQUAL(cJSON_IsString(res) ? res->valuestring : "", "pass");
  unsigned long long fetched = 0, refreshes = 0, failures = 99;
  CU_ASSERT_EQUAL(sscanf(cJSON_IsString(ev) ? ev->valuestring : "",
                         "6 users: %llu tokens obtained, %llu of them refreshes, %llu refresh failures", &fetched,
                         &refreshes, &failures),
                  3);
  CU_ASSERT_TRUE(refreshes >= 2 * N_USERS); /* every user at least twice (a 5 s token, refreshed at ~3 s) */
  CU_ASSERT_EQUAL(failures, 0);
  /* the server refused nothing: no 401 on any negotiate, connect, poll, send, start or abort */
  CU_ASSERT_EQUAL(serve_stat(ch_server_control_port(srv), "rejected"), 0);
  CU_ASSERT_EQUAL(serve_stat(ch_server_control_port(srv), "negotiates"), 36);
  assert_no_secret(&r);
  cJSON_Delete(rep);
  free(r.out);
  ch_server_free(srv);
}

/* A login the server refuses ends the run before any client connects: exit 4 naming the status and the URL
   (redacted), never the password. */
static void test_login_refused_exits_4_naming_status_and_url(void) {
  CU_ASSERT_EQUAL_FATAL(write_users("Wrong-pw-s3cret"), 0);
  struct ch_server *srv = start_serve(5, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char text[4096], want[160], last[512];
  snprintf(text, sizeof text, soak_scenario, "1s");
  struct ch_spawn_result r = run_against(srv, "refused", text, "?api_key=K3y-s3cret-value", 4);
  snprintf(want, sizeof want, "POST http://127.0.0.1:%d/login?api_key=[REDACTED] answered 401", ch_server_port(srv));
  CU_ASSERT_EQUAL(r.code, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "user 3 (row 4 of users file"));
  CU_ASSERT_PTR_NULL(strstr(r.out, "Wrong-pw-s3cret"));
  CU_ASSERT_PTR_NULL(strstr(r.out, "K3y-s3cret-value"));
  ch_last_line(&r, last, sizeof last);
  CU_ASSERT_EQUAL(strncmp(last, "exit 4: run could not be carried out: login of user 3", 52), 0);
  if (!strstr(r.out, want))
    fprintf(stderr, "\n%s\n", r.out);
  assert_no_secret(&r);
  free(r.out);
  ch_server_free(srv);
}

/* The token in the query string (auth mode "query"): an open long poll's later polls and the sends of SSE and long
   polling are rebuilt with each refreshed token (2 s tokens, about 6 s of triggers, then unsubscribe and abort). */
static const char query_scenario[] =
    "{\"name\": \"login-query\",\n"
    " \"target\": {\"url\": \"http://127.0.0.1:1\", \"auth\": {\"mode\": \"query\", \"login\": {\n"
    "   \"url\": \"http://127.0.0.1:1/login\", \"body\": {\"user\": \"{{user}}\", \"password\": \"{{password}}\"},\n"
    "   \"users_file\": \"users.csv\", \"expires_in_pointer\": \"/expires_in\", \"refresh_at\": 0.5}}},\n"
    " \"clients\": [\n"
    "  {\"name\": \"sse\", \"count\": 4, \"transport\": \"serverSentEvents\", \"subscribe\": {\"keys\": [\"K1\"]}},\n"
    "  {\"name\": \"lp\", \"count\": 4, \"transport\": \"longPolling\", \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"trigger\", \"duration\": \"6s\"}, {\"type\": \"unsubscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 5, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:1/publish\",\n"
    "                      \"body\": {\"hub\": \"ResourceEventHub\", \"key\": \"{{key}}\",\n"
    "                               \"payload\": {\"Comment\": \"{{nonce}}\"}}}},\n"
    " \"correlation\": {\"nonce\": \"/Comment\"},\n"
    " \"expect\": {\"delivery\": \"exactly_once\", \"in_order\": true, \"deadline\": \"5s\"}}\n";

static void test_login_query_mode_rebuilds_poll_and_send_urls(void) {
  CU_ASSERT_EQUAL_FATAL(write_users(NULL), 0);
  struct ch_server *srv = start_serve(2, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  struct ch_spawn_result r = run_against(srv, "query", query_scenario, NULL, 0);
  CU_ASSERT_EQUAL(r.code, 0);
  cJSON *rep = read_report();
  CU_ASSERT_EQUAL(counter(rep, "errors"), 0);
  CU_ASSERT_EQUAL(counter(rep, "updates_missing"), 0);
  CU_ASSERT_EQUAL(serve_stat(ch_server_control_port(srv), "rejected"), 0);
  assert_no_secret(&r);
  cJSON_Delete(rep);
  free(r.out);
  ch_server_free(srv);
}

static const char cmd_scenario[] =
    "{\"name\": \"auth-command\",\n"
    " \"target\": {\"url\": \"http://127.0.0.1:1\", \"auth\": {\"command\": %s}},\n"
    " \"clients\": [{\"name\": \"lp\", \"count\": 4, \"transport\": \"longPolling\", \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\", \"timeout\": \"10s\"}, {\"type\": \"subscribe\", \"timeout\": \"10s\"},\n"
    "            {\"type\": \"hold\", \"duration\": \"1500ms\"}, {\"type\": \"disconnect\"}],\n"
    " \"trigger\": {\"type\": \"none\"}}\n";

static void write_cmd_scenario(const char *command, char *path, size_t n) {
  char text[2048];
  snprintf(path, n, "%s/cmd.json", dir);
  snprintf(text, sizeof text, cmd_scenario, command);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, text), 0);
}

static void expect_cmd_exit_4(const char *command, const char *name, const char *const extra[], const char *why) {
  char path[128];
  write_cmd_scenario(command, path, sizeof path);
  fresh_report_dir(name);
  struct ch_spawn_result r = ch_spawn_run(path, report_dir, extra, 60);
  CU_ASSERT_EQUAL(r.code, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, why));
  CU_ASSERT_PTR_NULL(strstr(r.out, "half-a-token"));
  if (r.code != 4 || !strstr(r.out, why))
    fprintf(stderr, "\n%s: exit %d\n%s\n", name, r.code, r.out);
  free(r.out);
}

/* A script printing the token (with a trailing newline, trimmed); with a 500 ms ttl it is re-run while the clients
   hold, and the run passes. A script failing or hanging ends the run with exit 4 and the reason. */
static void test_auth_command_script(void) {
  struct ch_server_token tok = {.token = CMD_TOKEN, .user = "cmd"};
  struct ch_server *srv = start_serve(5, &tok, 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char script[128], path[128], cmd[512], target[96], trigger[128];
  snprintf(script, sizeof script, "%s/print-token.sh", dir);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(script, "#!/bin/sh\n# like `gcloud auth print-access-token`\n"
                                              "echo '  " CMD_TOKEN "'\n"),
                        0);
  chmod(script, 0700);
  ch_external_sets(ch_server_port(srv), ch_server_control_port(srv), target, trigger);
  snprintf(cmd, sizeof cmd, "{\"argv\": [\"%s\"], \"ttl\": \"500ms\"}", script);
  write_cmd_scenario(cmd, path, sizeof path);
  fresh_report_dir("cmd");
  const char *extra[] = {"--set", target, NULL};
  struct ch_spawn_result r = ch_spawn_run(path, report_dir, extra, 60);
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_EQUAL(r.code, 0);
  cJSON *rep = read_report();
  const cJSON *c = check_of(rep, "RUN-TOKEN-REFRESH");
  const cJSON *ev = c ? cJSON_GetObjectItemCaseSensitive(c, "evidence") : NULL;
  unsigned long long fetched = 0, refreshes = 0;
  CU_ASSERT_EQUAL(sscanf(cJSON_IsString(ev) ? ev->valuestring : "", "1 user: %llu tokens obtained, %llu of them",
                         &fetched, &refreshes),
                  2);
  CU_ASSERT_TRUE(refreshes >= 1); /* re-run on expiry */
  CU_ASSERT_EQUAL(counter(rep, "clients_connected"), 4);
  CU_ASSERT_EQUAL(serve_stat(ch_server_control_port(srv), "rejected"), 0);
  assert_no_secret(&r);
  cJSON_Delete(rep);
  free(r.out);

  /* a refresh that fails during the run: recorded, the clients keep the token they have (the run goes on), and
     RUN-TOKEN-REFRESH fails once the token's lifetime has passed without a successful refresh */
  char once[128];
  snprintf(once, sizeof once, "%s/token-once.sh", dir);
  char body[512];
  snprintf(body, sizeof body, "#!/bin/sh\nif [ -e %s/ran ]; then exit 7; fi\ntouch %s/ran\necho " CMD_TOKEN "\n",
           dir, dir);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(once, body), 0);
  chmod(once, 0700);
  snprintf(cmd, sizeof cmd, "{\"argv\": [\"%s\"], \"ttl\": \"600ms\"}", once);
  write_cmd_scenario(cmd, path, sizeof path);
  fresh_report_dir("cmd-refresh-fails");
  r = ch_spawn_run(path, report_dir, extra, 60);
  CU_ASSERT_EQUAL(r.code, 1);
  rep = read_report();
  c = check_of(rep, "RUN-TOKEN-REFRESH");
  const cJSON *res = c ? cJSON_GetObjectItemCaseSensitive(c, "result") : NULL;
  ev = c ? cJSON_GetObjectItemCaseSensitive(c, "evidence") : NULL;
  CU_ASSERT_STRING_EQUAL(cJSON_IsString(res) ? res->valuestring : "", "fail");
  CU_ASSERT_PTR_NOT_NULL(cJSON_IsString(ev) ? strstr(ev->valuestring, "1 tokens expired before a refresh succeeded")
                                            : NULL);
  CU_ASSERT_PTR_NOT_NULL(cJSON_IsString(ev) ? strstr(ev->valuestring, "exited with status 7") : NULL);
  CU_ASSERT_EQUAL(counter(rep, "clients_connected"), 4);
  CU_ASSERT_EQUAL(counter(rep, "errors"), 0);
  if (r.code != 1)
    fprintf(stderr, "\n%s\n", r.out);
  cJSON_Delete(rep);
  free(r.out);

  /* a failing command (its output never shown) and one that does not finish in time: exit 4 before any client */
  expect_cmd_exit_4("[\"sh\", \"-c\", \"echo half-a-token; exit 3\"]", "cmd-fail", extra,
                    "auth command sh exited with status 3");
  expect_cmd_exit_4("{\"argv\": [\"sleep\", \"30\"], \"timeout\": \"300ms\"}", "cmd-hang", extra,
                    "auth command sleep did not finish within 0.3 s (killed)");
  ch_server_free(srv);
}

/* ---- check --scenario with target.auth.login / target.auth.command ---- */

/* A scenario for check against srv: its endpoint, its control API as the trigger (both hubs by {{hub}}) and auth
   (a JSON value, printf'd with the endpoint's port for a login URL). */
static const char check_scenario[] =
    "{\"name\": \"check-auth\",\n"
    " \"target\": {\"url\": \"http://127.0.0.1:%d\", \"auth\": %s},\n"
    " \"clients\": [{\"name\": \"c\", \"count\": 1, \"subscribe\": {\"keys\": [\"K1\"]}}],\n"
    " \"phases\": [{\"type\": \"connect\"}],\n"
    " \"trigger\": {\"type\": \"http\", \"rate\": 1, \"keys\": \"subscribed\",\n"
    "             \"http\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:%d/publish\",\n"
    "                      \"body\": {\"hub\": \"{{hub}}\", \"key\": \"{{key}}\",\n"
    "                               \"payload\": {\"Comment\": \"{{nonce}}\"}}}},\n"
    " \"correlation\": {\"nonce\": \"/Comment\"}}\n";

static const char check_login[] =
    "{\"login\": {\"url\": \"http://127.0.0.1:%d/login%s\",\n"
    "   \"body\": {\"user\": \"{{user}}\", \"password\": \"{{password}}\"}, \"users_file\": \"users.csv\",\n"
    "   \"token_pointer\": \"/access_token\", \"expires_in_pointer\": \"/expires_in\", \"refresh_at\": 0.25}}";

/* `check --scenario <dir>/<name>.json --only ONLY --transport webSockets` against srv (auth as in check_scenario),
   the report in rep-<name>. */
static struct ch_spawn_result check_against(struct ch_server *srv, const char *name, const char *auth,
                                            const char *only) {
  char path[128], text[4096];
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  snprintf(text, sizeof text, check_scenario, ch_server_port(srv), auth, ch_server_control_port(srv));
  CU_ASSERT_EQUAL(ch_write_text(path, text), 0);
  fresh_report_dir(name);
  char *argv[] = {"centro-harness", "check", "--scenario", path, "--report-dir", report_dir, "--only", (char *)only,
                  "--transport", "webSockets", NULL};
  return ch_spawn(argv, 120);
}

/* The report's note on the tokens: how many were obtained, and renewed between families (-1 when absent). */
static int check_tokens(const cJSON *rep, unsigned *obtained, unsigned *renewed) {
  const cJSON *n;
  cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(rep, "notes")) {
    size_t users = 0;
    const char *comma = cJSON_IsString(n) ? strchr(n->valuestring, ',') : NULL;
    if (comma && sscanf(n->valuestring, "target.auth: %u tokens obtained for %zu user", obtained, &users) == 2 &&
        sscanf(comma, ", %u of them renewed", renewed) == 1)
      return (int)users;
  }
  return -1;
}

/* Tokens of 2 s obtained by login, the first two users (the second one is AUTH-006's other identity); the delivery
   family outlasts the first token's refresh point (0.25 of its lifetime) and the auth family (which needs a valid
   token: AUTH-001, AUTH-002, AUTH-006) runs on renewed tokens. Nothing secret is written or printed. */
static void test_check_scenario_login_renews_between_families(void) {
  CU_ASSERT_EQUAL_FATAL(write_users(NULL), 0);
  struct ch_server *srv = start_serve(2, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char auth[512], last[512];
  snprintf(auth, sizeof auth, check_login, ch_server_port(srv), "");
  struct ch_spawn_result r = check_against(srv, "check-login", auth, "negotiate,delivery,auth");
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_EQUAL(r.code, 0);
  ch_last_line(&r, last, sizeof last);
  CU_ASSERT_EQUAL(strncmp(last, "exit 0: all conformance checks passed", 37), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "pass  AUTH-006")); /* the second user's token */
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "pass  DEL-004"));  /* both hubs triggered */
  cJSON *rep = read_report();
  unsigned obtained = 0, renewed = 0;
  CU_ASSERT_EQUAL(check_tokens(rep, &obtained, &renewed), 2);
  CU_ASSERT_TRUE(renewed >= 2); /* both users, before the auth family at least */
  CU_ASSERT_EQUAL(obtained, 2 + renewed);
  assert_no_secret(&r);
  cJSON_Delete(rep);
  free(r.out);
  ch_server_free(srv);
}

/* A login the server refuses: exit 4 before any check, naming the status and the redacted URL, never the password
   or the URL's key; a report still says why. */
static void test_check_scenario_login_refused_exits_4(void) {
  CU_ASSERT_EQUAL_FATAL(write_users(NULL), 0);
  char path[128];
  snprintf(path, sizeof path, "%s/users.csv", dir);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(path, "u1,Wrong-pw-s3cret\nu2,Pw-2-s3cret\n"), 0);
  struct ch_server *srv = start_serve(5, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char auth[512], want[160], last[512];
  snprintf(auth, sizeof auth, check_login, ch_server_port(srv), "?api_key=K3y-s3cret-value");
  struct ch_spawn_result r = check_against(srv, "check-refused", auth, "negotiate");
  snprintf(want, sizeof want, "POST http://127.0.0.1:%d/login?api_key=[REDACTED] answered 401", ch_server_port(srv));
  CU_ASSERT_EQUAL(r.code, 4);
  ch_last_line(&r, last, sizeof last);
  CU_ASSERT_EQUAL(strncmp(last, "exit 4: the run could not be carried out (login of user 1", 57), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(last, want));
  CU_ASSERT_PTR_NULL(strstr(r.out, "Wrong-pw-s3cret"));
  CU_ASSERT_PTR_NULL(strstr(r.out, "K3y-s3cret-value"));
  if (r.code != 4 || !strstr(last, want))
    fprintf(stderr, "\n%s\n", r.out);
  char *body = NULL;
  snprintf(path, sizeof path, "%s/report.json", report_dir);
  CU_ASSERT_PTR_NOT_NULL(body = ch_slurp(path, NULL));
  CU_ASSERT_PTR_NULL(body ? strstr(body, "Wrong-pw-s3cret") : "");
  CU_ASSERT_PTR_NULL(body ? strstr(body, "K3y-s3cret-value") : "");
  free(body);
  free(r.out);
  ch_server_free(srv);
}

/* target.auth.command: the script's token is the credential (no second user: AUTH-006 skips, the rest passes). */
static void test_check_scenario_auth_command(void) {
  struct ch_server_token tok = {.token = CMD_TOKEN, .user = "cmd"};
  struct ch_server *srv = start_serve(5, &tok, 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
  char script[128], auth[256];
  snprintf(script, sizeof script, "%s/print-token-check.sh", dir);
  CU_ASSERT_EQUAL_FATAL(ch_write_text(script, "#!/bin/sh\necho " CMD_TOKEN "\n"), 0);
  chmod(script, 0700);
  snprintf(auth, sizeof auth, "{\"command\": {\"argv\": [\"%s\"]}}", script);
  struct ch_spawn_result r = check_against(srv, "check-cmd", auth, "negotiate,auth");
  if (r.code != 0)
    fprintf(stderr, "\n%s\n", r.out);
  CU_ASSERT_EQUAL(r.code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "pass  AUTH-005")); /* needs the valid token */
  cJSON *rep = read_report();
  unsigned obtained = 0, renewed = 0;
  CU_ASSERT_EQUAL(check_tokens(rep, &obtained, &renewed), 1);
  CU_ASSERT_EQUAL(obtained, 1);
  assert_no_secret(&r);
  cJSON_Delete(rep);
  free(r.out);
  ch_server_free(srv);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/ch-login-test-%d", (int)getpid());
  mkdir(dir, 0700);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CU_TestInfo tests[] = {CH_TEST(test_login_soak_refreshes_tokens_on_every_transport),
                         CH_TEST(test_login_refused_exits_4_naming_status_and_url),
                         CH_TEST(test_login_query_mode_rebuilds_poll_and_send_urls),
                         CH_TEST(test_auth_command_script),
                         CH_TEST(test_check_scenario_login_renews_between_families),
                         CH_TEST(test_check_scenario_login_refused_exits_4),
                         CH_TEST(test_check_scenario_auth_command),
                         CU_TEST_INFO_NULL};
  int rc = ch_test_run("run_login", tests);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  curl_global_cleanup();
  return rc;
}
