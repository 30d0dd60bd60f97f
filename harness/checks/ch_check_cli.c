/* `centro-harness check`: options, the run, report.json/junit.xml/report.html, the summary and the last line. */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_check_auth.h"
#include "ch_checks.h"
#include "ch_clock.h"
#include "ch_exit.h"
#include "ch_interrupt.h"
#include "ch_report.h"
#include "ch_scenario.h"
#include "ch_token.h"
#include "ch_tls.h"

#define DEFAULT_SCENARIO "scenarios/conformance.json"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: centro-harness check [OPTIONS]\n"
          "\n"
          "Runs the conformance catalogue (scenarios/conformance.json) against a SignalR 2.x target. Without --target\n"
          "it starts the reference endpoint on a free loopback port and drives it through its control API.\n"
          "\n"
          "Options:\n"
          "  --target URL          base URL, e.g. http://localhost/Centro (\"/signalr\" is appended unless the path\n"
          "                        already ends in it); default: the embedded reference endpoint\n"
          "  --token TOKEN         credential sent as \"Authorization: Bearer TOKEN\" (or give \"Scheme TOKEN\");\n"
          "                        a second --token is another user's (for the 403 replay check)\n"
          "  --token2 TOKEN        the other user's credential\n"
          "  --token-env VAR       the main credential from environment variable VAR (keeps it off the command line)\n"
          "  --token-file FILE     first line: the main credential, second line (optional): the other user's\n"
          "  --bad-token TOKEN     a token the target must refuse with 401 (default: a random one)\n"
          "  --hub NAME            ResourceEventHub (default) or JobEventHub; the other one is used for isolation\n"
          "  --key KEY             part key / pipeline id to subscribe to (default: a random numeric key)\n"
          "  --key2 KEY            a second allowed key for isolation checks (default: KEY followed by 0)\n"
          "  --forbidden-key KEY   a key the main user may not subscribe to (AUTH-007 is skipped without it)\n"
          "  --trigger FILE        what makes the target push an Update, read by the scenario's parser (same\n"
          "                        errors, with the JSON path and \"did you mean\"): a scenario's trigger, object or\n"
          "                        array, e.g. [{\"type\":\"http\",\"hub\":\"JobEventHub\",\"http\":{\"url\":...}}, ...]\n"
          "                        (rate, count, keys are a run's and unused here), or a request template\n"
          "                        {\"method\",\"url\",\"headers\":{},\"body\",\"expect_status\":[min,max],\"timeout_ms\",\n"
          "                         \"hub\",\"correlation\":{\"nonce\":PTR,\"sequence\":PTR,\"key\":PTR}} or an array of\n"
          "                        them. Placeholders {{key}} {{seq}} {{nonce}} {{now_ms}} {{hub}} {{env.NAME}} (an\n"
          "                        unset variable is refused); \"body\" a string or a JSON object/array (placeholders\n"
          "                        JSON-escaped there). Per hub: the request naming it (\"hub\"), else one naming no\n"
          "                        hub that uses {{hub}} (it serves both), else the one naming no hub (the main\n"
          "                        hub's). Both hubs driven, hub isolation (DEL-004) runs. Without a trigger\n"
          "                        delivery checks run passively (DEL-001) or are skipped, never passed.\n"
          "  --transport LIST      webSockets,serverSentEvents,longPolling (ws,sse,lp); default: every one offered\n"
          "  --only LIST           check ids, id prefixes or families to run (e.g. NEG,AUTH-006,delivery)\n"
          "  --timeout-ms N        per-probe timeout (default 5000)\n"
          "  --passive-ms N        how long DEL-001 waits without a trigger (default 3000)\n"
          "  --max-latency-ms N    DEL-008 bound on the median trigger-to-Update latency (default 250)\n"
          "  --burst N             Updates per delivery burst (DEL-005..007, CON-008; default %u: a 1%% per-\n"
          "                        connection loss, duplication or reordering is then caught with probability\n"
          "                        >= 99.9%%). Lower it for slow triggers: the evidence and --list state the weaker\n"
          "                        power\n"
          "  --ca-file FILE        https/wss: trust this CA bundle (PEM)\n"
          "  --insecure            https/wss: do not verify the server certificate\n"
          "  --cert FILE           https/wss: TLS client certificate (PEM; may hold the key)\n"
          "  --cert-key FILE       the private key of --cert (PEM, unencrypted; --key is the Update key)\n"
          "  --report-dir DIR      where report.json, junit.xml, report.html and transcripts/ go\n"
          "                        (default reports/check-<UTC time>)\n"
          "  --scenario FILE       a scenario file, validated as `run` validates it: its name and seed go into the\n"
          "                        report, and its target.url, insecure, ca_file, target.tls client certificate\n"
          "                        (cert_file, key_file), target.auth's credential\n"
          "                        (token, token_env or token_file, header mode; its second line is --token2; or\n"
          "                        login / command: the users file's first user's token, the second user's for\n"
          "                        --token2, fetched before the checks and again between check families when due) and\n"
          "                        trigger and correlation are used where the command line gives none (default:\n"
          "                        " DEFAULT_SCENARIO ", whose name and seed only are read)\n"
          "  --seed N              seed for keys and nonces (default: from the clock; printed in the report)\n"
          "  --fault NAME          embedded endpoint only: start it with this fault (see `serve --help`)\n"
          "  --strict              a skipped check fails the gate (exit 1): for release gates that must run every\n"
          "                        check (give --trigger, --token2, --forbidden-key)\n"
          "  --list                print the catalogue and exit\n"
          "  -v, --verbose         print each result as it happens\n"
          "  -h, --help            this text\n"
          "\n"
          "check runs on one host: --mpi is refused (exit 3), the checks drive a handful of clients one check\n"
          "after another, with no load to spread over MPI ranks (run and capacity take --mpi).\n"
          "\n"
          "Each check is reported pass, FAIL, skip (it does not apply, or an input such as --trigger is missing) or\n"
          "not run (its precondition failed: negotiate with the credential given was refused or not answered as\n"
          "SignalR 2.x; the cause is said, e.g. \"credentials refused: every negotiate answered 401\").\n"
          "\n"
          "Exit codes:\n"
          "  0  at least one check passed and none failed (skipped checks do not fail a run unless --strict)\n"
          "  1  a conformance check failed, or a check was skipped under --strict\n"
          "  3  invalid input (usage, trigger file, token file, scenario file)\n"
          "  4  the run could not be carried out: target unreachable, a trigger request that failed (non-2xx,\n"
          "     refused, timeout), checks not run because negotiate was not answered as SignalR or the credentials\n"
          "     were refused, no check passed, port in use, out of file descriptors\n"
          "  130/143  interrupted by SIGINT/SIGTERM: no further check starts, the report is written with the\n"
          "     checks not run marked incomplete (a second signal also aborts the check in progress)\n"
          "The last line printed says which, e.g. \"exit 1: conformance check failed (3 of 41)\".\n",
          ch_checks_burst_size(CH_CHECK_FAULT_RATE, CH_CHECK_CONFIDENCE));
}

static void list_catalogue(unsigned burst) {
  size_t n;
  const struct ch_check_def *c = ch_checks_catalogue(&n);
  struct ch_buf power = CH_BUF_INIT;
  ch_checks_burst_describe(burst ? burst : ch_checks_burst_size(CH_CHECK_FAULT_RATE, CH_CHECK_CONFIDENCE), &power);
  for (size_t i = 0; i < n; i++) {
    printf("%-9s %-10s %-6s %s\n", c[i].id, c[i].family, c[i].section, c[i].description);
    if (ch_check_uses_burst(&c[i]))
      printf("%-27s %s\n", "", power.data);
  }
  ch_buf_free(&power);
}

static char *read_line(FILE *f) {
  char buf[4096];
  if (!fgets(buf, sizeof buf, f))
    return NULL;
  buf[strcspn(buf, "\r\n")] = '\0';
  return buf[0] ? strdup(buf) : NULL;
}

/* A scenario file that exists must be a JSON object; its name and seed go into the report. */
static int read_scenario(const char *path, bool explicit_path, char **name, uint64_t *seed, struct ch_buf *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (!explicit_path)
      return 0; /* the built-in catalogue needs nothing from it */
    ch_buf_printf(err, "scenario %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  struct ch_buf t = CH_BUF_INIT;
  ch_buf_read_file(&t, f, 0);
  fclose(f);
  int rc = 0;
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithOpts(t.data ? t.data : "", &end, 0);
  if (!cJSON_IsObject(j)) {
    ch_buf_printf(err, "scenario %s: expected a JSON object (error near byte %ld)", path,
                  end && t.data ? (long)(end - t.data) : 0L);
    rc = -EINVAL;
  } else {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (cJSON_IsString(nm))
      *name = strdup(nm->valuestring);
    if (cJSON_IsNumber(sd) && !*seed)
      *seed = (uint64_t)sd->valuedouble;
  }
  cJSON_Delete(j);
  ch_buf_free(&t);
  return rc;
}

/* check --scenario FILE: the scenario loaded and validated; its target.url, insecure, ca_file and client
   certificate (target.tls cert_file, key_file) where the command line gives none (server_name is not applied:
   check's curl probes have no SNI override), its target.auth's credential unless the command line gives one (the
   scheme kept: "Scheme TOKEN"; a token file's second line is the other user's; a login or command: its users
   read into *cauth, the tokens fetched later), and its trigger and correlation unless --trigger is given. */
static int scenario_use(const char *path, bool cli_cred, struct ch_checks_opts *o, struct ch_scenario **scn,
                        struct ch_tokens *toks, char **auth, struct ch_check_auth **cauth, struct ch_buf *err) {
  int rc = ch_scenario_load(path, NULL, 0, scn, err);
  if (rc)
    return rc;
  const struct ch_scn_target *t = &(*scn)->target;
  if (!o->target && t->url)
    o->target = t->url;
  if (!o->ca_file && t->ca_file)
    o->ca_file = t->ca_file;
  o->insecure |= t->insecure;
  if (!o->cert_file && t->cert_file) { /* target.tls's certificate with its own key, never half of each */
    o->cert_file = t->cert_file;
    o->cert_key_file = t->key_file;
  }
  o->scenario = *scn;
  if (cli_cred || t->auth.source == CH_SCN_TOKEN_NONE)
    return 0;
  if (t->auth.mode == CH_SCN_AUTH_QUERY) {
    ch_buf_printf(err, "%s: target.auth.mode \"query\": check sends the credential in the Authorization header "
                       "(use mode \"header\", or give --token)",
                  path);
    return -EINVAL;
  }
  if (t->auth.source == CH_SCN_TOKEN_LOGIN || t->auth.source == CH_SCN_TOKEN_COMMAND)
    return ch_check_auth_new(*scn, o, cauth, err);
  struct ch_token_cli none = {0};
  if ((rc = ch_tokens_resolve(&t->auth, &none, toks, err)) != 0)
    return rc;
  if (!toks->n)
    return 0;
  size_t n = strlen(t->auth.scheme) + strlen(toks->tokens[0]) + 2;
  if (!(*auth = malloc(n)))
    return -ENOMEM;
  snprintf(*auth, n, "%s %s", t->auth.scheme, toks->tokens[0]);
  o->token = *auth;
  if (!o->token2 && toks->n > 1)
    o->token2 = toks->tokens[1];
  return 0;
}

int ch_checks_to_report(const struct ch_checks_results *r, struct ch_report *rep) {
  int rc = 0;
  for (size_t i = 0; i < r->n; i++) {
    const struct ch_check_result *x = &r->items[i];
    struct ch_buf ev = CH_BUF_INIT;
    if (x->message && x->message[0])
      ch_buf_puts(&ev, x->message);
    if (x->evidence && x->evidence[0])
      ch_buf_printf(&ev, "%s%s", ev.len ? "\n" : "", x->evidence);
    if (x->transcript_path)
      ch_buf_printf(&ev, "%stranscript: %s", ev.len ? "\n" : "", x->transcript_path);
    struct ch_check c = {(char *)x->def->id,
                         (char *)x->def->description,
                         (char *)x->def->section,
                         (char *)x->transport,
                         ev.data,
                         x->status == CH_CHECK_PASS         ? CH_RESULT_PASS
                         : x->status == CH_CHECK_FAIL       ? CH_RESULT_FAIL
                         : x->status == CH_CHECK_INCOMPLETE ? CH_RESULT_INCOMPLETE
                         : x->status == CH_CHECK_NOT_RUN    ? CH_RESULT_NOT_RUN
                                                            : CH_RESULT_SKIP,
                         x->duration_ns};
    if (rc == 0)
      rc = ch_report_add_check(rep, &c);
    ch_buf_free(&ev);
  }
  return rc;
}

int ch_checks_run_report(const struct ch_checks_opts *opts, struct ch_report *rep) {
  struct ch_checks_results r = {0};
  struct ch_buf line = CH_BUF_INIT;
  int rc = ch_checks_run(opts, &r);
  ch_checks_to_report(&r, rep);
  int code = ch_checks_exit_code(&r, rc, &line);
  if (code != 0)
    ch_report_add_note(rep, line.data);
  ch_checks_results_free(&r);
  ch_buf_free(&line);
  return rc ? rc : code;
}

static int build_report(const struct ch_checks_opts *o, const struct ch_checks_results *r, const char *scenario,
                        const char *scenario_path, int code, const char *last, uint64_t t0, char **argv, int argc,
                        struct ch_report **out) {
  struct ch_report *rep;
  int rc = ch_report_new(&rep);
  if (rc)
    return rc;
  const char *secrets[] = {o->token, o->token2, o->bad_token};
  for (size_t i = 0; i < 3; i++)
    if (secrets[i]) {
      ch_report_add_secret(rep, secrets[i]);
      const char *sp = strchr(secrets[i], ' ');
      if (sp)
        ch_report_add_secret(rep, sp + 1);
    }
  ch_report_set(&rep->scenario, scenario);
  ch_report_set(&rep->scenario_path, scenario_path);
  ch_report_set_target(rep, o->target ? o->target : "embedded reference endpoint");
  const char *reason = last && !strncmp(last, "exit ", 5) ? strstr(last, ": ") : NULL; /* the report shows the code */
  ch_report_set(&rep->exit_reason, reason ? reason + 2 : last);
  rep->seed = o->seed;
  rep->exit_code = code;
  rep->start_wall_ns = t0;
  rep->end_wall_ns = ch_wall_ns();
  /* the options that reproduce the run (credential values are never recorded) */
  for (int i = 1; i < argc; i++) {
    bool secret = i > 1 && (!strcmp(argv[i - 1], "--token") || !strcmp(argv[i - 1], "--token2") ||
                            !strcmp(argv[i - 1], "--bad-token"));
    if (!strncmp(argv[i], "--token=", 8) || !strncmp(argv[i], "--token2=", 9) || !strncmp(argv[i], "--bad-token=", 12))
      secret = true;
    ch_report_add_override(rep, secret ? "[REDACTED]" : argv[i]);
  }
  ch_checks_to_report(r, rep);
  if (r->endpoint[0]) {
    struct ch_buf n = CH_BUF_INIT;
    ch_buf_printf(&n, "endpoint: %s; transports:", r->endpoint);
    for (unsigned b = CH_T_WS; b <= CH_T_LP; b <<= 1)
      if (r->transports & b)
        ch_buf_printf(&n, " %s", ch_tmask_name(b));
    ch_report_add_note(rep, n.data);
    ch_report_add_note(rep, r->trigger);
    ch_buf_free(&n);
  }
  *out = rep;
  return 0;
}

static void print_summary(const struct ch_checks_results *r, FILE *f) {
  for (size_t i = 0; i < r->n; i++) {
    const struct ch_check_result *x = &r->items[i];
    const char *st = ch_check_status_name(x->status);
    fprintf(f, "%s  %-8s %-16s %s%s%s\n", st, x->def->id, x->transport ? x->transport : "-", x->def->description,
            x->status != CH_CHECK_PASS && x->message[0] ? ": " : "", x->status != CH_CHECK_PASS ? x->message : "");
    if (x->status == CH_CHECK_FAIL) {
      const char *p = x->evidence;
      while (p && *p) {
        size_t n = strcspn(p, "\n");
        fprintf(f, "        %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
      }
      if (x->transcript_path)
        fprintf(f, "        transcript: %s\n", x->transcript_path);
    }
  }
  fprintf(f, "checks: %u passed, %u failed, %u skipped", r->passed, r->failed, r->skipped);
  if (r->incomplete)
    fprintf(f, ", %u incomplete (interrupted)", r->incomplete);
  if (r->not_run)
    fprintf(f, ", %u not run (%s)", r->not_run, r->precondition);
  fputc('\n', f);
}

static long num_arg(const char *s, bool *bad) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 0)
    *bad = true;
  return v;
}

int ch_check_main(int argc, char **argv) {
  enum {
    O_TARGET = 256,
    O_TOKEN,
    O_TOKEN2,
    O_TOKEN_FILE,
    O_TOKEN_ENV,
    O_BAD,
    O_HUB,
    O_KEY,
    O_KEY2,
    O_FORBID,
    O_TRIGGER,
    O_TRANSPORT,
    O_ONLY,
    O_CA,
    O_INSECURE,
    O_CERT,
    O_CERT_KEY,
    O_TIMEOUT,
    O_PASSIVE,
    O_LAT,
    O_REPORT,
    O_SCEN,
    O_SEED,
    O_FAULT,
    O_LIST,
    O_BURST,
    O_STRICT,
    O_MPI
  };
  static const struct option lo[] = {{"target", required_argument, 0, O_TARGET},
                                     {"token", required_argument, 0, O_TOKEN},
                                     {"token2", required_argument, 0, O_TOKEN2},
                                     {"token-file", required_argument, 0, O_TOKEN_FILE},
                                     {"token-env", required_argument, 0, O_TOKEN_ENV},
                                     {"bad-token", required_argument, 0, O_BAD},
                                     {"hub", required_argument, 0, O_HUB},
                                     {"key", required_argument, 0, O_KEY},
                                     {"key2", required_argument, 0, O_KEY2},
                                     {"forbidden-key", required_argument, 0, O_FORBID},
                                     {"trigger", required_argument, 0, O_TRIGGER},
                                     {"transport", required_argument, 0, O_TRANSPORT},
                                     {"only", required_argument, 0, O_ONLY},
                                     {"ca-file", required_argument, 0, O_CA},
                                     {"insecure", no_argument, 0, O_INSECURE},
                                     {"cert", required_argument, 0, O_CERT},
                                     {"cert-key", required_argument, 0, O_CERT_KEY},
                                     {"timeout-ms", required_argument, 0, O_TIMEOUT},
                                     {"passive-ms", required_argument, 0, O_PASSIVE},
                                     {"max-latency-ms", required_argument, 0, O_LAT},
                                     {"report-dir", required_argument, 0, O_REPORT},
                                     {"scenario", required_argument, 0, O_SCEN},
                                     {"seed", required_argument, 0, O_SEED},
                                     {"fault", required_argument, 0, O_FAULT},
                                     {"list", no_argument, 0, O_LIST},
                                     {"burst", required_argument, 0, O_BURST},
                                     {"strict", no_argument, 0, O_STRICT},
                                     {"mpi", no_argument, 0, O_MPI},
                                     {"verbose", no_argument, 0, 'v'},
                                     {"help", no_argument, 0, 'h'},
                                     {0, 0, 0, 0}};
  struct ch_checks_opts o = {0};
  const char *token_file = NULL, *token_env = NULL, *scenario_path = DEFAULT_SCENARIO;
  bool bad = false, scen_given = false, list = false;
  char *file_tok1 = NULL, *file_tok2 = NULL, *scen_name = NULL, *report_dir = NULL, *scn_auth = NULL;
  struct ch_scenario *scn = NULL;
  struct ch_check_auth *cauth = NULL;
  struct ch_tokens scn_tokens = {0};
  struct ch_buf err = CH_BUF_INIT, last = CH_BUF_INIT;
  struct ch_checks_results res = {0};
  int code = CH_EXIT_INPUT, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
    switch (c) {
    case O_TARGET: o.target = optarg; break;
    case O_TOKEN:
      if (!o.token)
        o.token = optarg;
      else
        o.token2 = optarg;
      break;
    case O_TOKEN2: o.token2 = optarg; break;
    case O_TOKEN_FILE: token_file = optarg; break;
    case O_TOKEN_ENV: token_env = optarg; break;
    case O_BAD: o.bad_token = optarg; break;
    case O_HUB: o.hub = optarg; break;
    case O_KEY: o.key = optarg; break;
    case O_KEY2: o.key2 = optarg; break;
    case O_FORBID: o.forbidden_key = optarg; break;
    case O_TRIGGER: o.trigger_file = optarg; break;
    case O_TRANSPORT:
      if (ch_tmask_parse(optarg, &o.transports) != 0) {
        ch_buf_printf(&err, "--transport: expected webSockets, serverSentEvents or longPolling, found '%s'", optarg);
        bad = true;
      }
      break;
    case O_ONLY: o.only = optarg; break;
    case O_CA: o.ca_file = optarg; break;
    case O_INSECURE: o.insecure = 1; break;
    case O_CERT: o.cert_file = optarg; break;
    case O_CERT_KEY: o.cert_key_file = optarg; break;
    case O_TIMEOUT: o.timeout_ms = num_arg(optarg, &bad); break;
    case O_PASSIVE: o.passive_wait_ms = num_arg(optarg, &bad); break;
    case O_LAT: o.max_latency_ms = num_arg(optarg, &bad); break;
    case O_REPORT: o.report_dir = optarg; break;
    case O_SCEN: scenario_path = optarg, scen_given = true; break;
    case O_SEED: o.seed = strtoull(optarg, NULL, 10); break;
    case O_FAULT: o.fault = optarg; break;
    case O_LIST: list = true; break;
    case O_BURST: {
      long v = num_arg(optarg, &bad);
      if (bad || v < 2 || v > (long)CH_CHECK_BURST_MAX) {
        ch_buf_printf(&err, "--burst: expected a number of Updates from 2 to %u, found '%s'", CH_CHECK_BURST_MAX,
                      optarg);
        bad = true;
      }
      o.burst = (unsigned)v;
      break;
    }
    case O_STRICT: o.strict = 1; break;
    case O_MPI: /* named, so that it is not taken for a typo: README "One run over many hosts (MPI)" says why */
      ch_buf_puts(&err, "check --mpi is not supported: the conformance checks drive a handful of clients, one check "
                        "after another, so there is nothing to spread over MPI ranks; run check on one host (run and "
                        "capacity take --mpi)");
      bad = true;
      break;
    case 'v': o.verbose = 1; break;
    case 'h': usage(stdout); return CH_EXIT_OK;
    default: ch_buf_printf(&err, "unknown or incomplete option '%s'", argv[optind - 1]); bad = true;
    }
    if (bad)
      break;
  }
  if (!bad && optind < argc) {
    ch_buf_printf(&err, "unexpected argument '%s'", argv[optind]);
    bad = true;
  }
  if (!bad && list) {
    list_catalogue(o.burst);
    code = CH_EXIT_OK;
    goto out;
  }
  if (!bad && o.fault && o.target) {
    ch_buf_puts(&err, "--fault applies to the embedded endpoint only (no --target)");
    bad = true;
  }
  if (!bad && token_env) {
    const char *v = getenv(token_env);
    if (o.token) {
      ch_buf_puts(&err, "--token-env and --token both give the main credential: give one");
      bad = true;
    } else if (!v || !*v) {
      ch_buf_printf(&err, "--token-env %s: the variable is %s", token_env, v ? "empty" : "not set");
      bad = true;
    } else {
      o.token = v;
    }
  }
  if (!bad && token_file) {
    FILE *f = fopen(token_file, "r");
    if (!f) {
      ch_buf_printf(&err, "token file %s: %s", token_file, strerror(errno));
      bad = true;
    } else {
      file_tok1 = read_line(f);
      file_tok2 = read_line(f);
      fclose(f);
      if (!file_tok1) {
        ch_buf_printf(&err, "token file %s: the first line must hold the credential", token_file);
        bad = true;
      }
      if (!o.token)
        o.token = file_tok1;
      if (!o.token2)
        o.token2 = file_tok2;
    }
  }
  if (!bad) { /* TLS files that cannot be used are refused now, named */
    struct ch_tls_opts to = {.ca_file = o.ca_file, .cert_file = o.cert_file, .key_file = o.cert_key_file};
    bad = ch_tls_check_files(&to, "--ca-file", "--cert", "--cert-key", &err) != 0;
  }
  if (!bad && read_scenario(scenario_path, scen_given, &scen_name, &o.seed, &err) != 0)
    bad = true;
  if (!bad && scen_given) { /* a whole scenario: validated as `run` would, its target and trigger used */
    bool cli_cred = o.token || token_env || token_file;
    if (scenario_use(scenario_path, cli_cred, &o, &scn, &scn_tokens, &scn_auth, &cauth, &err) != 0) {
      bad = true;
      while (err.len && err.data[err.len - 1] == '\n')
        err.data[--err.len] = '\0';
    }
  }
  if (bad) {
    usage(stderr);
    fprintf(stderr, "exit 3: invalid input (%s)\n", err.data ? err.data : "usage");
    goto out;
  }
  if (!o.seed)
    o.seed = ch_wall_ns() / 1000u;
  uint64_t t0 = ch_wall_ns();
  if (!o.report_dir) { /* a folder of its own, never one another run wrote */
    struct ch_buf d = CH_BUF_INIT;
    if (ch_report_reserve_dir("reports", "check", t0, &d, &err)) { /* said again when the report is written */
      ch_buf_reset(&d);
      ch_report_default_dir("reports", "check", t0, &d);
    }
    report_dir = ch_buf_steal(&d);
    ch_buf_free(&d);
    o.report_dir = report_dir;
  }
  struct ch_interrupt intr;
  if (ch_interrupt_open(&intr) == 0)
    o.intr = &intr;
  ch_buf_reset(&err);
  int rc = cauth ? ch_check_auth_fetch(cauth, &o, &err) : 0; /* a refused login: exit 4, before any check */
  if (rc) {
    res.run_error = rc;
    snprintf(res.run_error_msg, sizeof res.run_error_msg, "%s", err.data ? err.data : strerror(-rc));
  } else {
    rc = ch_checks_run(&o, &res);
  }
  if (rc == -EINVAL && report_dir)
    rmdir(report_dir); /* refused input: no folder (nothing was written into it) */
  code = ch_checks_exit_code(&res, rc, &last);
  if (o.intr && intr.count) { /* judged what ran; the report says where the signal came */
    code = ch_interrupt_exit_code(&intr);
    ch_buf_reset(&last);
    ch_buf_printf(&last, "exit %d: interrupted by %s during %s (%u checks incomplete, %u failed)", code,
                  ch_signal_name(intr.signum), res.interrupted_at, res.incomplete, res.failed);
  }
  if (rc == 0 || rc != -EINVAL) {
    struct ch_report *rep = NULL;
    if (build_report(&o, &res, scen_name ? scen_name : "conformance", scenario_path, code, last.data, t0, argv, argc,
                     &rep) == 0) {
      ch_buf_reset(&err);
      ch_check_auth_report(cauth, rep);
      if (o.intr && intr.count)
        ch_report_set_interrupted(rep, intr.signum, intr.at_wall_ns, res.interrupted_at, intr.count > 1);
      if (ch_report_write_dir(rep, o.report_dir, &err) != 0)
        fprintf(stderr, "check: could not write the report: %s\n", err.data ? err.data : "");
      else
        printf("report: %s/report.json (junit.xml, report.html)\n", o.report_dir);
      ch_report_free(rep);
    }
  }
  print_summary(&res, stdout);
  printf("%s\n", last.data);
  fflush(stdout);
  if (o.intr)
    ch_interrupt_close(o.intr); /* open until the report is written: a further signal cannot cut it short */
out:
  ch_checks_results_free(&res);
  free(file_tok1);
  free(file_tok2);
  free(scen_name);
  free(report_dir);
  free(scn_auth);
  ch_check_auth_free(cauth);
  ch_tokens_free(&scn_tokens);
  ch_scenario_free(scn);
  ch_buf_free(&err);
  ch_buf_free(&last);
  return code;
}
