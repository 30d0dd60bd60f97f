/* The report folder of `run` and `capacity`: input that would be refused is refused before anything is written; the
   folder is new (never one another run wrote); the effective scenario is stored in it as scenario.json, without
   credentials, so that `centro-harness run <folder>/scenario.json` runs the same workload again. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_engine.h"
#include "ch_exit.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_sha256.h"
#include "ch_tls.h"

bool run_reference_needs_embedded(const struct ch_scenario *s, struct ch_buf *err) {
  if (!s->target.url || !ch_scenario_has_trigger_type(s, CH_SCN_TRIGGER_REFERENCE))
    return false;
  /* A running `centro-harness serve`: its control API is on the port the scenario's trigger names. */
  ch_buf_puts(err, "trigger type \"reference\" needs the embedded endpoint (no target.url) or an \"http\" trigger "
                   "pointing at the endpoint's control API");
  return true;
}

void ch_run_tls_opts(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_tls_opts *out) {
  *out = (struct ch_tls_opts){.ca_file = o->ca_file ? o->ca_file : s->target.ca_file,
                              .cert_file = o->cert_file ? o->cert_file : s->target.cert_file,
                              .key_file = o->cert_file ? o->key_file : s->target.key_file,
                              .server_name = s->target.server_name,
                              .insecure = o->insecure || s->target.insecure};
}

int ch_run_check_input(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                       struct ch_buf *err) {
  struct ch_token_cli cli = {o->token, o->token_env, o->token_file};
  struct ch_tokens toks;
  int rc = ch_tokens_resolve(&s->target.auth, &cli, &toks, err);
  if (rc)
    return rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT;
  /* registered now, so that nothing written from here on (scenario.json first) can hold them */
  for (size_t i = 0; i < toks.n; i++)
    ch_report_add_secret(rep, toks.tokens[i]);
  for (size_t i = 0; i < s->target.n_bad_tokens; i++)
    ch_report_add_secret(rep, s->target.bad_tokens[i]);
  ch_tokens_free(&toks);
  if ((rc = run_auth_check_input(o, s, rep, err)) != CH_EXIT_OK)
    return rc;
  if (run_reference_needs_embedded(s, err))
    return CH_EXIT_INPUT;
  /* TLS files that cannot be used are invalid input, named, before any folder exists */
  struct ch_tls_opts to;
  ch_run_tls_opts(o, s, &to);
  if (o->key_file && !o->cert_file) {
    ch_buf_printf(err, "--key %s: a key without a certificate (give --cert too)", o->key_file);
    return CH_EXIT_INPUT;
  }
  const char *wc = o->cert_file ? "--cert" : "target.tls.cert_file";
  const char *wk = o->cert_file ? "--key" : "target.tls.key_file";
  if (ch_tls_check_files(&to, o->ca_file ? "--ca-file" : "target.ca_file", wc, wk, err))
    return CH_EXIT_INPUT;
  if (o->source_addresses) {
    char **addrs = NULL;
    size_t n = 0;
    rc = ch_source_addrs_parse(o->source_addresses, &addrs, &n, err);
    ch_source_addrs_free(addrs, n);
    if (rc)
      return rc == -ENOMEM ? CH_EXIT_RUN : CH_EXIT_INPUT;
  }
  return CH_EXIT_OK;
}

int ch_run_prepare_dir(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_report *rep,
                       struct ch_buf *dir, struct ch_buf *err) {
  int rc = o->report_dir ? ch_report_make_dir(o->report_dir, err) || ch_buf_puts(dir, o->report_dir)
                         : ch_report_reserve_dir("reports", s->name, ch_wall_ns(), dir, err);
  if (rc)
    return CH_EXIT_RUN;
  struct ch_buf text = CH_BUF_INIT, path = CH_BUF_INIT;
  char sha[CH_SHA256_HEX_LEN + 1];
  rc = ch_scenario_to_json_stored(s, &text) || ch_buf_putc(&text, '\n') ||
       ch_buf_printf(&path, "%s/scenario.json", dir->data);
  if (rc)
    ch_buf_puts(err, "out of memory");
  rc = rc ? rc : ch_report_write_text(rep, path.data, text.data, sha, err);
  rc = rc ? rc : ch_report_set(&rep->scenario_sha256, sha);
  ch_buf_free(&text);
  ch_buf_free(&path);
  return rc ? CH_EXIT_RUN : CH_EXIT_OK;
}

void ch_run_discard_dir(const char *dir, bool created) {
  struct ch_buf path = CH_BUF_INIT;
  if (ch_buf_printf(&path, "%s/scenario.json", dir) == 0)
    unlink(path.data);
  if (created)
    rmdir(dir); /* only when nothing else was written into it */
  ch_buf_free(&path);
}
