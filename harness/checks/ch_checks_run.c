/* ch_checks_run: sets up the run context (target URL, credentials, hubs, keys, trigger), starts the embedded
   reference endpoint when no target is given, runs the families in catalogue order and records results. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ch_chk.h"
#include "ch_clock.h"
#include "ch_exit.h"
#include "ch_scenario.h"
#include "ch_interrupt.h"
#include "ch_server.h"
#include "ch_url.h"

static const struct ch_chk_hub hub_resource = {"ResourceEventHub", "SubscribeToPart", "UnsubscribeFromPart", "PartKey"};
static const struct ch_chk_hub hub_job = {"JobEventHub", "SubscribeToPipeline", "UnsubscribeFromPipeline", "PipeId"};

static bool chk_wanted(const struct ch_chk_ctx *cx, const char *id) {
  const char *only = cx->opts->only;
  if (!only || !*only)
    return true;
  const struct ch_check_def *d = ch_check_find(id);
  size_t idl = strlen(id);
  while (*only) {
    size_t n = strcspn(only, ",");
    if ((n == idl && strncasecmp(only, id, n) == 0) ||
        (d && n == strlen(d->family) && strncasecmp(only, d->family, n) == 0) ||
        (n < idl && id[n] == '-' && strncasecmp(only, id, n) == 0)) /* a prefix such as "DEL" */
      return true;
    only += n;
    if (*only == ',')
      only++;
  }
  return false;
}

bool ch_chk_selected(const struct ch_chk_ctx *cx, const char *id) {
  struct ch_chk_ctx *mx = (struct ch_chk_ctx *)cx; /* where the signal came is kept for the report */
  if (ch_interrupt_poll(cx->opts->intr)) {
    const struct ch_check_def *d = ch_check_find(id);
    if (!mx->stopped_at[0])
      snprintf(mx->stopped_at, sizeof mx->stopped_at, "the %s checks (before %s)", d ? d->family : "", id);
    return false;
  }
  return chk_wanted(cx, id);
}

/* After an interruption: every selected check of the catalogue without a result is recorded incomplete. */
static void chk_mark_interrupted(struct ch_chk_ctx *cx, struct ch_checks_results *out) {
  size_t n = 0;
  const struct ch_check_def *cat = ch_checks_catalogue(&n);
  const struct ch_interrupt *it = cx->opts->intr;
  for (size_t i = 0; i < n; i++) {
    bool have = false;
    for (size_t k = 0; k < out->n && !have; k++)
      have = out->items[k].def == &cat[i];
    if (!have && chk_wanted(cx, cat[i].id)) {
      ch_chk_begin(cx);
      ch_chk_result(cx, out, cat[i].id, 0, CH_CHECK_INCOMPLETE, NULL, "not run: interrupted by %s",
                    ch_signal_name(it->signum));
    }
  }
}

void ch_chk_begin(struct ch_chk_ctx *cx) {
  ch_buf_reset(&cx->tx);
  ch_buf_reset(&cx->json_err);
  ch_buf_reset(&cx->json_warn);
  cx->t0_ns = ch_now_ns();
  cx->nclients = 0;
}

static char *keep_transcript(struct ch_chk_ctx *cx, const char *id, const char *transport) {
  const char *dir = cx->opts->report_dir;
  if (!dir || !cx->tx.len)
    return NULL;
  struct ch_buf p = CH_BUF_INIT, rel = CH_BUF_INIT;
  ch_buf_printf(&rel, "transcripts/%s%s%s.jsonl", id, transport ? "-" : "", transport ? transport : "");
  ch_buf_printf(&p, "%s/transcripts", dir);
  mkdir(dir, 0755);
  mkdir(p.data, 0755);
  ch_buf_reset(&p);
  ch_buf_printf(&p, "%s/%s", dir, rel.data);
  FILE *f = fopen(p.data, "wb");
  char *out = NULL;
  if (f) {
    if (fwrite(cx->tx.data, 1, cx->tx.len, f) == cx->tx.len)
      out = ch_buf_steal(&rel);
    fclose(f);
  }
  ch_buf_free(&p);
  ch_buf_free(&rel);
  return out;
}

void ch_chk_result(struct ch_chk_ctx *cx, struct ch_checks_results *out, const char *id, unsigned transport,
                   enum ch_check_status st, const struct ch_buf *evidence, const char *fmt, ...) {
  const struct ch_check_def *d = ch_check_find(id);
  if (!d)
    return;
  if (out->n == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 64;
    struct ch_check_result *items = realloc(out->items, cap * sizeof *items);
    if (!items)
      return;
    out->items = items;
    out->cap = cap;
  }
  struct ch_check_result *r = &out->items[out->n++];
  memset(r, 0, sizeof *r);
  const struct ch_interrupt *it = cx->opts->intr;
  if (it && it->count >= 2 && st != CH_CHECK_INCOMPLETE) { /* the second signal aborted the probe: not evidence */
    st = CH_CHECK_INCOMPLETE;
    fmt = "cut short: interrupted by a second signal";
  }
  r->def = d;
  r->transport = transport ? ch_tmask_name(transport) : NULL;
  r->status = st;
  r->duration_ns = ch_now_ns() - cx->t0_ns;
  struct ch_buf msg = CH_BUF_INIT, red = CH_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  ch_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  /* a passing check keeps its message only when it is a note (format starting with '+') */
  if (st == CH_CHECK_PASS && fmt[0] != '+')
    ch_buf_reset(&msg);
  const char *m = msg.data ? msg.data : "";
  if (*m == '+')
    m++;
  ch_chk_redact(cx, m, strlen(m), &red);
  r->message = red.data ? ch_buf_steal(&red) : strdup("");
  struct ch_buf ev = CH_BUF_INIT; /* the evidence, then what ch_chk_json refused or warned about */
  ch_buf_puts(&ev, evidence && evidence->data ? evidence->data : "");
  ch_chk_json_notes(cx, st == CH_CHECK_FAIL, &ev);
  r->evidence = ev.data ? ch_buf_steal(&ev) : strdup("");
  if (st == CH_CHECK_FAIL)
    r->transcript_path = keep_transcript(cx, id, r->transport);
  ch_buf_free(&msg);
  ch_buf_free(&red);
  if (st == CH_CHECK_PASS)
    out->passed++;
  else if (st == CH_CHECK_FAIL)
    out->failed++;
  else if (st == CH_CHECK_INCOMPLETE)
    out->incomplete++;
  else if (st == CH_CHECK_NOT_RUN)
    out->not_run++;
  else
    out->skipped++;
  if (cx->opts->verbose)
    fprintf(stderr, "check: %-8s %-16s %s %s\n", id, r->transport ? r->transport : "", ch_check_status_name(st),
            r->message);
}

/* "<scheme> <token>" → the header line; a bare token gets "Bearer". */
static char *auth_header(const char *tok) {
  if (!tok)
    return NULL;
  struct ch_buf b = CH_BUF_INIT;
  if (strchr(tok, ' '))
    ch_buf_printf(&b, "Authorization: %s", tok);
  else
    ch_buf_printf(&b, "Authorization: Bearer %s", tok);
  return ch_buf_steal(&b);
}

static void register_token(struct ch_chk_ctx *cx, const char *tok) {
  if (!tok)
    return;
  const char *sp = strchr(tok, ' ');
  ch_chk_secret_add(cx, sp ? sp + 1 : tok);
  ch_chk_secret_add(cx, tok);
}

/* The credentials the probes send (at the start, and when renewed between families). */
static void set_credentials(struct ch_chk_ctx *cx, const char *tok1, const char *tok2) {
  free(cx->auth);
  free(cx->auth2);
  free(cx->raw_token);
  register_token(cx, tok1);
  register_token(cx, tok2);
  cx->auth = auth_header(tok1);
  cx->auth2 = auth_header(tok2);
  const char *sp = tok1 ? strchr(tok1, ' ') : NULL;
  cx->raw_token = tok1 ? strdup(sp ? sp + 1 : tok1) : NULL;
}

static int set_target(struct ch_chk_ctx *cx, const char *target, struct ch_buf *err) {
  struct ch_url u;
  int rc = ch_url_parse(target, &u, err);
  if (rc)
    return rc;
  struct ch_buf o = CH_BUF_INIT, p = CH_BUF_INIT;
  ch_url_origin(&u, &o);
  size_t pl = strlen(u.path);
  /* the endpoint is <path>/signalr unless the path already ends in it */
  if (pl >= 8 && strcasecmp(u.path + pl - 8, "/signalr") == 0)
    ch_buf_puts(&p, u.path);
  else
    ch_buf_printf(&p, "%s/signalr", u.path);
  cx->origin = ch_buf_steal(&o);
  cx->path = ch_buf_steal(&p);
  struct ch_buf b = CH_BUF_INIT;
  ch_buf_printf(&b, "%s%s", cx->origin, cx->path);
  cx->base = ch_buf_steal(&b);
  ch_buf_free(&o);
  ch_buf_free(&p);
  ch_url_free(&u);
  return 0;
}

static void ctx_free(struct ch_chk_ctx *cx) {
  free(cx->base);
  free(cx->origin);
  free(cx->path);
  free(cx->auth);
  free(cx->auth2);
  free(cx->bad_auth);
  free(cx->raw_token);
  for (size_t i = 0; i < cx->nsecrets; i++)
    free(cx->secrets[i]);
  ch_chk_trigger_free(cx);
  if (cx->easy)
    curl_easy_cleanup(cx->easy);
  ch_buf_free(&cx->tx);
  ch_buf_free(&cx->json_err);
  ch_buf_free(&cx->json_warn);
}

/* The embedded endpoint: two users, short timeouts so keep-alive, reconnect and hold checks take a fraction of a
   second each (KeepAliveTimeout 0.1 s). */
struct embedded {
  struct ch_server *srv;
  char tok1[40], tok2[40];
};

static const char *const emb_keys[] = {"1882708", "1882709"};

static int embedded_start(struct embedded *em, const struct ch_checks_opts *o, struct ch_chk_ctx *cx,
                          struct ch_buf *err) {
  snprintf(em->tok1, sizeof em->tok1, "alice-%016llx", (unsigned long long)ch_rng_next(&cx->rng));
  snprintf(em->tok2, sizeof em->tok2, "bob-%016llx", (unsigned long long)ch_rng_next(&cx->rng));
  struct ch_server_token toks[2] = {
      {em->tok1, "alice", emb_keys, 2, emb_keys, 2, 0},
      {em->tok2, "bob", NULL, 0, NULL, 0, 0},
  };
  struct ch_server_opts so = {0};
  so.base = "/Centro";
  so.tokens = toks;
  so.n_tokens = 2;
  so.keepalive_s = 0.05;
  so.disconnect_timeout_s = 6;
  /* long polls stay held for the default 110 s: a poll the server ends while this prober is busy elsewhere only
     costs time */
  so.transport_connect_timeout_s = 2;
  so.quiet = true;
  /* a burst is published at once: the connection's buffer must hold it (and a fault's extra copies) */
  if (cx->burst > 400)
    so.replay_buffer = 2 * (size_t)cx->burst + 200;
  if (o->fault) {
    enum ch_fault f;
    if (ch_fault_parse(o->fault, &f) != 0) {
      ch_buf_printf(err, "unknown --fault '%s'", o->fault);
      return -EINVAL;
    }
    so.faults = 1u << f;
    so.fault_seed = o->seed; /* the random faults repeat with the run's seed */
  }
  int rc = ch_server_new(&so, &em->srv);
  if (rc) {
    ch_buf_printf(err, "embedded endpoint: invalid options (%d)", rc);
    return rc;
  }
  rc = ch_server_start(em->srv);
  if (rc) {
    ch_buf_printf(err, "embedded endpoint could not start: %s", strerror(-rc));
    return rc;
  }
  return 0;
}

int ch_checks_run(const struct ch_checks_opts *o, struct ch_checks_results *out) {
  struct ch_chk_ctx cx;
  memset(&cx, 0, sizeof cx);
  cx.opts = o;
  struct ch_buf err = CH_BUF_INIT;
  struct embedded em = {0};
  int rc = 0;
  out->strict = o->strict;
  ch_rng_seed(&cx.rng, o->seed ? o->seed : ch_wall_ns());
  cx.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
  cx.passive_ms = o->passive_wait_ms > 0 ? o->passive_wait_ms : 3000;
  cx.transports = o->transports ? o->transports : CH_T_ALL;
  cx.burst = o->burst ? o->burst : ch_checks_burst_size(CH_CHECK_FAULT_RATE, CH_CHECK_CONFIDENCE);
  if (cx.burst > CH_CHECK_BURST_MAX) {
    ch_buf_printf(&err, "--burst: at most %u Updates", CH_CHECK_BURST_MAX);
    rc = -EINVAL;
    goto out;
  }
  /* on the embedded endpoint a leaked Update is queued before the fence; a real server may route differently */
  cx.grace_ms = o->target ? 150 : 30;
  /* how long a burst may pause before what is missing counts as lost: the embedded endpoint writes a whole burst
     within a loop turn or two (a reordered last Update waits for its heartbeat, 100 ms) */
  cx.burst_quiet_ms = cx.timeout_ms < 1500 ? cx.timeout_ms : 1500;
  if (!o->target && cx.burst_quiet_ms > 400)
    cx.burst_quiet_ms = 400;
  cx.easy = curl_easy_init();
  if (!cx.easy) {
    rc = -ENOMEM;
    goto out;
  }
  if (o->hub && strcasecmp(o->hub, "JobEventHub") == 0) {
    cx.hubs[0] = &hub_job, cx.hubs[1] = &hub_resource;
  } else if (!o->hub || strcasecmp(o->hub, "ResourceEventHub") == 0) {
    cx.hubs[0] = &hub_resource, cx.hubs[1] = &hub_job;
  } else {
    ch_buf_printf(&err, "--hub: expected ResourceEventHub or JobEventHub, found '%s'", o->hub);
    rc = -EINVAL;
    goto out;
  }
  cx.nhubs = 2;
  const char *tok1 = o->token, *tok2 = o->token2;
  if (!o->target) {
    rc = embedded_start(&em, o, &cx, &err);
    if (rc)
      goto out;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/Centro", ch_server_port(em.srv));
    if ((rc = set_target(&cx, url, &err)) != 0)
      goto out;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ch_server_control_port(em.srv));
    if ((rc = ch_chk_trigger_embedded(&cx, url)) != 0)
      goto out;
    tok1 = em.tok1, tok2 = em.tok2;
    snprintf(cx.key, sizeof cx.key, "%s", emb_keys[0]);
    snprintf(cx.key2, sizeof cx.key2, "%s", emb_keys[1]);
  } else {
    if ((rc = set_target(&cx, o->target, &err)) != 0)
      goto out;
    if (o->trigger_file && (rc = ch_chk_trigger_load(&cx, o->trigger_file, &err)) != 0)
      goto out;
    if (!o->trigger_file && o->scenario && ch_scenario_triggers_on(o->scenario) &&
        (rc = ch_chk_trigger_from_scenario(&cx, o->scenario, &err)) != 0)
      goto out;
    if (o->key)
      snprintf(cx.key, sizeof cx.key, "%s", o->key);
    else
      snprintf(cx.key, sizeof cx.key, "%u", 1000000u + (unsigned)ch_rng_below(&cx.rng, 8000000));
    if (o->key2)
      snprintf(cx.key2, sizeof cx.key2, "%s", o->key2);
    else
      snprintf(cx.key2, sizeof cx.key2, "%.62s0", cx.key);
  }
  set_credentials(&cx, tok1, tok2);
  register_token(&cx, o->bad_token);
  {
    char bad[64];
    snprintf(bad, sizeof bad, "unknown-%016llx", (unsigned long long)ch_rng_next(&cx.rng));
    cx.bad_auth = auth_header(o->bad_token ? o->bad_token : bad);
  }
  /* Reachability first: a target that does not answer at all is exit 4, not 41 failures. */
  {
    struct ch_http res = CH_HTTP_INIT;
    struct ch_buf url = CH_BUF_INIT;
    ch_buf_printf(&url, "%s/ping", cx.base);
    ch_chk_begin(&cx);
    rc = ch_chk_http(&cx, "probe", "GET", url.data, cx.auth, NULL, 0, &res);
    if (rc) {
      struct ch_buf red = CH_BUF_INIT;
      ch_chk_redact(&cx, url.data, url.len, &red);
      /* curl's own text names the TLS verification failure (expired, wrong host name, unknown issuer) */
      ch_buf_printf(&err, "target unreachable: GET %s: %s%s%s", red.data, curl_easy_strerror(res.cc),
                    res.err[0] ? ": " : "", res.err);
      ch_buf_free(&red);
    }
    ch_http_free(&res);
    ch_buf_free(&url);
    if (rc)
      goto out;
  }
  static const ch_chk_family_cb families[] = {
      ch_chk_family_negotiate, ch_chk_family_lifecycle, ch_chk_family_delivery,
      ch_chk_family_auth,      ch_chk_family_keepalive, ch_chk_family_reconnect,
  };
  {
    struct ch_buf cause = CH_BUF_INIT, ev = CH_BUF_INIT;
    if (ch_chk_precondition(&cx, &cause, &ev))
      ch_chk_mark_not_run(&cx, out, cause.data, &ev);
    else {
      uint64_t span = 0; /* the longest family so far */
      for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        /* a token about to expire is renewed between families (never under a session a family holds) */
        if (o->renew) {
          if ((rc = o->renew(o->renew_arg, span, &tok1, &tok2, &err)) != 0)
            break;
          set_credentials(&cx, tok1, tok2);
        }
        uint64_t t0 = ch_now_ns();
        families[i](&cx, out);
        if (ch_now_ns() - t0 > span)
          span = ch_now_ns() - t0;
      }
    }
    ch_buf_free(&cause);
    ch_buf_free(&ev);
  }
  if (o->intr && o->intr->count) {
    snprintf(out->interrupted_at, sizeof out->interrupted_at, "%s",
             cx.stopped_at[0] ? cx.stopped_at : "the last check");
    chk_mark_interrupted(&cx, out);
  }
  if (cx.trigger_error[0]) {
    /* Results stay recorded; the verdict is that the run could not be carried out, never a skip. */
    ch_buf_printf(&err, "%s", cx.trigger_error);
    rc = -EIO;
  }
  {
    struct ch_buf b = CH_BUF_INIT;
    out->transports = cx.transports;
    ch_chk_redact(&cx, cx.base, strlen(cx.base), &b);
    snprintf(out->endpoint, sizeof out->endpoint, "%s", b.data);
    ch_buf_reset(&b);
    ch_chk_trigger_describe(&cx, &b);
    snprintf(out->trigger, sizeof out->trigger, "%s", b.data);
    ch_buf_free(&b);
  }
out:
  if (rc) {
    out->run_error = rc;
    snprintf(out->run_error_msg, sizeof out->run_error_msg, "%s", err.data ? err.data : strerror(-rc));
  }
  ch_server_free(em.srv);
  ctx_free(&cx);
  ch_buf_free(&err);
  return rc;
}
