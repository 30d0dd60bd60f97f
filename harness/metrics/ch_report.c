/* The report model: construction, redaction, thresholds, merging, and the small formatting helpers. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ch_exit.h"
#include "ch_interrupt.h"
#include "ch_report.h"
#include "ch_report_int.h"

#ifndef CH_VERSION
#define CH_VERSION "0.0.0"
#endif

const char *ch_result_name(enum ch_result r) {
  return r == CH_RESULT_PASS         ? "pass"
         : r == CH_RESULT_FAIL       ? "fail"
         : r == CH_RESULT_INCOMPLETE ? "incomplete"
         : r == CH_RESULT_NOT_RUN    ? "not_run"
                                     : "skip";
}

int ch_report_set(char **field, const char *v) {
  char *c = NULL;
  if (v && !(c = strdup(v)))
    return -ENOMEM;
  free(*field);
  *field = c;
  return 0;
}

int ch_report_new(struct ch_report **out) {
  struct ch_report *r = calloc(1, sizeof *r);
  if (!r)
    return -ENOMEM;
  if (ch_metrics_new(&r->metrics) || ch_report_set(&r->harness_version, CH_VERSION)) {
    ch_report_free(r);
    return -ENOMEM;
  }
  r->shards = 1;
  *out = r;
  return 0;
}

int ch_report_set_interrupted(struct ch_report *r, int signum, uint64_t at_ns, const char *phase, bool second) {
  r->interrupted.at_wall_ns = at_ns;
  r->interrupted.second_signal = second;
  int rc = ch_report_set(&r->interrupted.signal, ch_signal_name(signum));
  return rc ? rc : ch_report_set(&r->interrupted.phase, phase);
}

static void free_list(char **l, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(l[i]);
  free(l);
}

static void check_free(struct ch_check *c) {
  free(c->id), free(c->description), free(c->section), free(c->transport), free(c->evidence);
}

void ch_report_free(struct ch_report *r) {
  if (!r)
    return;
  free(r->scenario), free(r->scenario_path), free(r->target), free(r->harness_version), free(r->exit_reason);
  free(r->harness_json);
  free(r->ranks_json);
  free(r->scenario_sha256);
  free(r->interrupted.signal), free(r->interrupted.phase);
  free_list(r->overrides, r->n_overrides);
  free_list(r->notes, r->n_notes);
  for (size_t i = 0; i < r->n_checks; i++)
    check_free(&r->checks[i]);
  free(r->checks);
  for (size_t i = 0; i < r->n_thresholds; i++)
    free(r->thresholds[i].expression), free(r->thresholds[i].metric);
  free(r->thresholds);
  for (size_t i = 0; i < r->n_secrets; i++) {
    /* wipe credentials before returning the memory */
    volatile char *p = r->secrets[i];
    while (*p)
      *p++ = 0;
    free(r->secrets[i]);
  }
  free(r->secrets);
  ch_metrics_free(r->metrics);
  ch_capacity_free(r->capacity);
  ch_report_triggers_free(r->triggers);
  ch_report_recovery_free(r->recovery);
  free(r);
}

static int list_push(char ***l, size_t *n, const char *s) {
  char *c = strdup(s ? s : "");
  if (!c)
    return -ENOMEM;
  char **p = realloc(*l, (*n + 1) * sizeof *p);
  if (!p) {
    free(c);
    return -ENOMEM;
  }
  p[(*n)++] = c;
  *l = p;
  return 0;
}

int ch_report_add_note(struct ch_report *r, const char *note) { return list_push(&r->notes, &r->n_notes, note); }
int ch_report_add_override(struct ch_report *r, const char *o) { return list_push(&r->overrides, &r->n_overrides, o); }

int ch_report_add_secret(struct ch_report *r, const char *secret) {
  if (!secret || strlen(secret) < 4)
    return 0;
  return list_push(&r->secrets, &r->n_secrets, secret);
}

void ch_report_take_metrics(struct ch_report *r, struct ch_metrics *m) {
  if (m == r->metrics)
    return;
  ch_metrics_free(r->metrics);
  r->metrics = m;
}

static int dup_opt(char **dst, const char *s) {
  *dst = NULL;
  return s && !(*dst = strdup(s)) ? -ENOMEM : 0;
}

int ch_report_add_check(struct ch_report *r, const struct ch_check *c) {
  if (!c || !c->id || !c->description)
    return -EINVAL;
  if (r->n_checks == r->cap_checks) {
    size_t cap = r->cap_checks ? r->cap_checks * 2 : 16;
    struct ch_check *p = realloc(r->checks, cap * sizeof *p);
    if (!p)
      return -ENOMEM;
    r->checks = p;
    r->cap_checks = cap;
  }
  struct ch_check d = {.result = c->result, .duration_ns = c->duration_ns};
  if (dup_opt(&d.id, c->id) || dup_opt(&d.description, c->description) || dup_opt(&d.section, c->section) ||
      dup_opt(&d.transport, c->transport) || dup_opt(&d.evidence, c->evidence)) {
    check_free(&d);
    return -ENOMEM;
  }
  r->checks[r->n_checks++] = d;
  return 0;
}

int ch_report_add_threshold(struct ch_report *r, const struct ch_threshold *t) {
  if (!t || !t->expression)
    return -EINVAL;
  if (r->n_thresholds == r->cap_thresholds) {
    size_t cap = r->cap_thresholds ? r->cap_thresholds * 2 : 8;
    struct ch_threshold *p = realloc(r->thresholds, cap * sizeof *p);
    if (!p)
      return -ENOMEM;
    r->thresholds = p;
    r->cap_thresholds = cap;
  }
  struct ch_threshold d = *t;
  if (dup_opt(&d.expression, t->expression) || dup_opt(&d.metric, t->metric)) {
    free(d.expression), free(d.metric);
    return -ENOMEM;
  }
  r->thresholds[r->n_thresholds++] = d;
  return 0;
}

size_t ch_report_count_checks(const struct ch_report *r, enum ch_result which) {
  size_t n = 0;
  for (size_t i = 0; i < r->n_checks; i++)
    n += r->checks[i].result == which;
  return n;
}

size_t ch_report_count_thresholds(const struct ch_report *r, enum ch_result which) {
  size_t n = 0;
  for (size_t i = 0; i < r->n_thresholds; i++)
    n += r->thresholds[i].result == which;
  return n;
}

/* ---- redaction ---- */

bool ch_report_secret_name(const char *k, size_t n) {
  static const char *const words[] = {"token", "key", "pass", "secret", "auth", "sig", "credential", "session"};
  for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
    size_t wl = strlen(words[w]);
    for (size_t i = 0; i + wl <= n; i++)
      if (!strncasecmp(k + i, words[w], wl))
        return true;
  }
  return false;
}

/* A template placeholder ("{{key}}") stands for a value chosen per request, never for a credential. */
static bool is_placeholder(const char *v, size_t n) {
  return n >= 4 && !strncmp(v, "{{", 2) && !strncmp(v + n - 2, "}}", 2) && !memchr(v + 2, '}', n - 4);
}

int ch_report_redact_url(const char *url, struct ch_buf *b) {
  const char *p = url, *sch = strstr(url, "://");
  int rc = 0;
  if (sch) {
    rc = ch_buf_append(b, url, (size_t)(sch + 3 - url));
    p = sch + 3;
    size_t auth_len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth_len);
    if (at) { /* userinfo (user:password@) never leaves this function */
      const char *last = at;
      while ((at = memchr(at + 1, '@', auth_len - (size_t)(at + 1 - p))))
        last = at;
      p = last + 1;
    }
  }
  size_t path_len = strcspn(p, "?#");
  rc = rc ? rc : ch_buf_append(b, p, path_len);
  p += path_len;
  if (*p == '?') {
    rc = rc ? rc : ch_buf_putc(b, '?');
    p++;
    while (*p && *p != '#' && !rc) {
      size_t pl = strcspn(p, "&#");
      const char *eq = memchr(p, '=', pl);
      if (eq && ch_report_secret_name(p, (size_t)(eq - p)) && !is_placeholder(eq + 1, pl - (size_t)(eq + 1 - p))) {
        rc = ch_buf_append(b, p, (size_t)(eq + 1 - p));
        rc = rc ? rc : ch_buf_puts(b, "[REDACTED]");
      } else {
        rc = ch_buf_append(b, p, pl);
      }
      p += pl;
      if (*p == '&')
        rc = rc ? rc : ch_buf_putc(b, *p++);
    }
  }
  /* fragments are dropped: they never matter to a server */
  return rc;
}

int ch_report_set_target(struct ch_report *r, const char *url) {
  if (!url)
    return ch_report_set(&r->target, NULL);
  struct ch_buf b = CH_BUF_INIT;
  int rc = ch_report_redact_url(url, &b);
  if (!rc)
    rc = ch_report_set(&r->target, b.data ? b.data : "");
  ch_buf_free(&b);
  return rc;
}

/* Replaces every occurrence of sec in out[from..]. */
static int scrub_one(struct ch_buf *out, size_t from, const char *sec, size_t sl) {
  if (!out->data || sl == 0 || !memmem(out->data + from, out->len - from, sec, sl))
    return 0;
  struct ch_buf n = CH_BUF_INIT;
  const char *p = out->data + from, *end = out->data + out->len, *hit;
  int rc = ch_buf_append(&n, out->data, from);
  while (!rc && (hit = memmem(p, (size_t)(end - p), sec, sl))) {
    rc = ch_buf_append(&n, p, (size_t)(hit - p));
    rc = rc ? rc : ch_buf_puts(&n, "[REDACTED]");
    p = hit + sl;
  }
  rc = rc ? rc : ch_buf_append(&n, p, (size_t)(end - p));
  if (rc) {
    ch_buf_free(&n);
    return rc;
  }
  ch_buf_free(out);
  *out = n;
  return 0;
}

int ch__report_scrub(const struct ch_report *r, struct ch_buf *out, size_t from) {
  struct ch_buf esc = CH_BUF_INIT;
  int rc = 0;
  for (size_t s = 0; s < r->n_secrets && !rc; s++) {
    const char *sec = r->secrets[s];
    rc = scrub_one(out, from, sec, strlen(sec));
    /* the same secret as the XML/HTML and JSON writers would have escaped it */
    ch_buf_reset(&esc);
    rc = rc ? rc : ch__xml_escape(&esc, sec);
    if (!rc && esc.data && strcmp(esc.data, sec))
      rc = scrub_one(out, from, esc.data, esc.len);
    ch_buf_reset(&esc);
    for (const char *c = sec; *c && !rc; c++)
      rc = *c == '"' || *c == '\\' ? ch_buf_printf(&esc, "\\%c", *c) : ch_buf_putc(&esc, *c);
    if (!rc && esc.data && strcmp(esc.data, sec))
      rc = scrub_one(out, from, esc.data, esc.len);
  }
  ch_buf_free(&esc);
  return rc;
}

int ch__report_scrub_str(const struct ch_report *r, const char *s, struct ch_buf *out) {
  size_t from = out->len;
  int rc = ch_buf_puts(out, s ? s : "");
  return rc ? rc : ch__report_scrub(r, out, from);
}

/* ---- thresholds ---- */

static int compare(double a, const char *op, double b) {
  if (!strcmp(op, "<"))
    return a < b;
  if (!strcmp(op, "<="))
    return a <= b;
  if (!strcmp(op, ">"))
    return a > b;
  if (!strcmp(op, ">="))
    return a >= b;
  if (!strcmp(op, "=="))
    return a == b;
  return a != b;
}

static int eval_into(const struct ch_report *r, const char *expression, struct ch_threshold *t, struct ch_buf *metric,
                     struct ch_buf *err) {
  char op[3];
  double limit, v = 0;
  int rc = ch_threshold_parse(expression, metric, op, &limit, err);
  if (rc)
    return rc;
  rc = ch_metrics_lookup(r->metrics, metric->data, &v);
  if (rc && rc != -ENOENT)
    return rc;
  /* A percentile (or min, max, mean) of no samples at all was not observed: such a threshold fails instead of
     passing on a zero, since a run that measured nothing proved nothing. */
  const char *dot = strchr(metric->data, '.');
  if (!rc && dot && strcmp(dot, ".count") && strcmp(dot, ".overflow")) {
    struct ch_buf cnt = CH_BUF_INIT;
    double n = 0;
    ch_buf_printf(&cnt, "%.*s.count", (int)(dot - metric->data), metric->data);
    if (cnt.data && ch_metrics_lookup(r->metrics, cnt.data, &n) == 0 && n == 0)
      rc = -ENOENT;
    ch_buf_free(&cnt);
  }
  t->has_observed = rc == 0;
  t->observed = rc == 0 ? v : 0;
  t->result = rc == 0 && compare(v, op, limit) ? CH_RESULT_PASS : CH_RESULT_FAIL;
  return 0;
}

int ch_report_eval_threshold(struct ch_report *r, const char *expression, struct ch_buf *err) {
  struct ch_buf metric = CH_BUF_INIT;
  struct ch_threshold t = {.expression = (char *)expression};
  int rc = eval_into(r, expression, &t, &metric, err);
  if (!rc) {
    t.metric = metric.data;
    rc = ch_report_add_threshold(r, &t);
  }
  ch_buf_free(&metric);
  return rc;
}

/* ---- merge ---- */

static int worse(enum ch_result a, enum ch_result b) {
  static const int sev[] = {[CH_RESULT_SKIP] = 0, [CH_RESULT_PASS] = 1, [CH_RESULT_NOT_RUN] = 2,
                            [CH_RESULT_INCOMPLETE] = 3, [CH_RESULT_FAIL] = 4};
  return sev[a] > sev[b];
}

static int same_opt(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

int ch_report_merge(struct ch_report *dst, const struct ch_report *src, struct ch_buf *err) {
  if (!same_opt(dst->scenario, src->scenario)) {
    if (err)
      ch_buf_printf(err, "scenario \"%s\" differs from \"%s\": only shards of one run can be merged",
                    src->scenario ? src->scenario : "", dst->scenario ? dst->scenario : "");
    return -EINVAL;
  }
  int rc = ch_metrics_merge(dst->metrics, src->metrics);
  rc = rc ? rc : ch_report_triggers_merge(&dst->triggers, src->triggers);
  rc = rc ? rc : ch_report_recovery_merge(&dst->recovery, src->recovery);
  if (!rc && !dst->scenario_sha256 && src->scenario_sha256) /* shards of one run ran the same scenario */
    rc = ch_report_set(&dst->scenario_sha256, src->scenario_sha256);
  if (rc)
    return rc;
  for (size_t i = 0; i < src->n_checks && !rc; i++) {
    const struct ch_check *c = &src->checks[i];
    struct ch_check *d = NULL;
    for (size_t j = 0; j < dst->n_checks && !d; j++)
      if (!strcmp(dst->checks[j].id, c->id) && same_opt(dst->checks[j].transport, c->transport))
        d = &dst->checks[j];
    if (!d) {
      rc = ch_report_add_check(dst, c);
    } else if (worse(c->result, d->result)) {
      d->result = c->result;
      rc = ch_report_set(&d->evidence, c->evidence);
    }
  }
  for (size_t i = 0; i < src->n_thresholds && !rc; i++) {
    struct ch_threshold *d = NULL;
    for (size_t j = 0; j < dst->n_thresholds && !d; j++)
      if (!strcmp(dst->thresholds[j].expression, src->thresholds[i].expression))
        d = &dst->thresholds[j];
    if (!d)
      rc = ch_report_add_threshold(dst, &src->thresholds[i]);
    else if (worse(src->thresholds[i].result, d->result)) { /* kept if the expression cannot be re-evaluated */
      d->result = src->thresholds[i].result;
      d->observed = src->thresholds[i].observed;
      d->has_observed = src->thresholds[i].has_observed;
    }
  }
  for (size_t i = 0; i < src->n_notes && !rc; i++) {
    int have = 0; /* shards of one run usually carry the same notes */
    for (size_t j = 0; j < dst->n_notes; j++)
      have |= !strcmp(dst->notes[j], src->notes[i]);
    if (!have)
      rc = ch_report_add_note(dst, src->notes[i]);
  }
  if (rc)
    return rc;
  /* thresholds are about the whole run: evaluate them again on the merged metrics */
  struct ch_buf metric = CH_BUF_INIT;
  for (size_t j = 0; j < dst->n_thresholds; j++) {
    struct ch_threshold t = dst->thresholds[j];
    if (eval_into(dst, t.expression, &t, &metric, NULL) == 0) {
      dst->thresholds[j].observed = t.observed;
      dst->thresholds[j].has_observed = t.has_observed;
      dst->thresholds[j].result = t.result;
    }
  }
  ch_buf_free(&metric);
  if (src->start_wall_ns && (!dst->start_wall_ns || src->start_wall_ns < dst->start_wall_ns))
    dst->start_wall_ns = src->start_wall_ns;
  if (src->end_wall_ns > dst->end_wall_ns)
    dst->end_wall_ns = src->end_wall_ns;
  dst->shards += src->shards;
  dst->partial |= src->partial;
  if (src->interrupted.signal && !dst->interrupted.signal) { /* every shard was told at once: the first says it */
    struct ch_report_interrupt *d = &dst->interrupted;
    const struct ch_report_interrupt *s = &src->interrupted;
    d->at_wall_ns = s->at_wall_ns;
    d->second_signal = s->second_signal;
    if (ch_report_set(&d->signal, s->signal) || ch_report_set(&d->phase, s->phase))
      return -ENOMEM;
  }
  /* a run that could not be carried out (or had bad input) in any shard dominates; then checks, then thresholds */
  int other = dst->exit_code > src->exit_code ? dst->exit_code : src->exit_code;
  if (other > CH_EXIT_THRESHOLD)
    dst->exit_code = other;
  else if (ch_report_count_checks(dst, CH_RESULT_FAIL))
    dst->exit_code = CH_EXIT_CHECK_FAILED;
  else if (ch_report_count_thresholds(dst, CH_RESULT_FAIL))
    dst->exit_code = CH_EXIT_THRESHOLD;
  else
    dst->exit_code = CH_EXIT_OK;
  char why[96];
  if (dst->exit_code == src->exit_code && src->exit_code > CH_EXIT_THRESHOLD && src->exit_reason)
    return ch_report_set(&dst->exit_reason, src->exit_reason);
  if (dst->exit_code > CH_EXIT_THRESHOLD)
    return 0;
  size_t fc = ch_report_count_checks(dst, CH_RESULT_FAIL), ft = ch_report_count_thresholds(dst, CH_RESULT_FAIL);
  if (fc)
    snprintf(why, sizeof why, "%zu check%s failed", fc, fc == 1 ? "" : "s");
  else if (ft)
    snprintf(why, sizeof why, "%zu threshold%s failed", ft, ft == 1 ? "" : "s");
  else
    snprintf(why, sizeof why, "all checks and thresholds passed");
  return ch_report_set(&dst->exit_reason, why);
}

/* ---- directories ---- */

int ch_report_default_dir(const char *base, const char *scenario, uint64_t wall_ns, struct ch_buf *out) {
  time_t t = (time_t)(wall_ns / 1000000000u);
  struct tm tm;
  char stamp[32];
  gmtime_r(&t, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  int rc = ch_buf_printf(out, "%s/", base && *base ? base : "reports");
  for (const char *p = scenario && *scenario ? scenario : "run"; *p && !rc; p++)
    rc = ch_buf_putc(out, isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-' ? *p : '_');
  return rc ? rc : ch_buf_printf(out, "-%s", stamp);
}

/* ---- formatting helpers ---- */

void ch__fmt_dur(char *buf, size_t n, double ns) {
  if (ns < 1e3)
    snprintf(buf, n, "%.0fns", ns);
  else if (ns < 1e6)
    snprintf(buf, n, "%.3gus", ns / 1e3);
  else if (ns < 1e9)
    snprintf(buf, n, "%.3gms", ns / 1e6);
  else if (ns < 60e9)
    snprintf(buf, n, "%.3gs", ns / 1e9);
  else
    snprintf(buf, n, "%.0fm%02.0fs", floor(ns / 60e9), fmod(floor(ns / 1e9), 60));
}

void ch__fmt_count(char *buf, size_t n, double v) {
  if (fabs(v) < 1e4)
    snprintf(buf, n, v == floor(v) || fabs(v) >= 100 ? "%.0f" : "%.3g", v); /* %.3g would print 1.64e+03 */
  else if (fabs(v) < 1e6)
    snprintf(buf, n, "%.1fk", v / 1e3);
  else if (fabs(v) < 1e9)
    snprintf(buf, n, "%.2fM", v / 1e6);
  else
    snprintf(buf, n, "%.2fG", v / 1e9);
}

void ch__fmt_time(char *buf, size_t n, uint64_t wall_ns) {
  if (!wall_ns) {
    snprintf(buf, n, "%s", "");
    return;
  }
  time_t t = (time_t)(wall_ns / 1000000000u);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ch__metric_is_latency(const char *name) {
  const char *dot = strchr(name, '.');
  if (!strcmp(name, "duration"))
    return 1;
  return dot && ch_lat_from_name(name, (size_t)(dot - name)) >= 0 && strcmp(dot, ".count") &&
         strcmp(dot, ".overflow");
}

void ch__fmt_metric(char *buf, size_t n, const char *metric, double v) {
  if (ch__metric_is_latency(metric))
    ch__fmt_dur(buf, n, v);
  else if (!strcmp(metric, "delivery_ratio") || !strcmp(metric, "error_rate"))
    snprintf(buf, n, "%.4g%%", v * 100);
  else
    snprintf(buf, n, "%.6g", v);
}

size_t ch__utf8_seq(const unsigned char *p) {
  unsigned char c = p[0];
  if (c < 0x80)
    return 1;
  /* no overlongs, no surrogates, nothing above U+10FFFF, no noncharacters U+FFFE/U+FFFF */
  size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (!len || c > 0xf4)
    return 0;
  uint32_t cp = len == 4 ? c & 7u : len == 3 ? c & 15u : c & 31u;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
      cp == 0xfffe || cp == 0xffff)
    return 0;
  return len;
}

int ch__utf8_clean(struct ch_buf *b, const char *s) {
  int rc = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p && !rc) {
    size_t len = ch__utf8_seq(p);
    rc = len ? ch_buf_append(b, p, len) : ch_buf_puts(b, "\xef\xbf\xbd");
    p += len ? len : 1;
  }
  return rc ? rc : ch_buf_append(b, "", 0);
}

int ch__xml_escape(struct ch_buf *b, const char *s) {
  if (!s)
    return 0;
  int rc = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p && !rc) {
    unsigned char c = *p;
    if (c < 0x80) {
      switch (c) {
      case '&': rc = ch_buf_puts(b, "&amp;"); break;
      case '<': rc = ch_buf_puts(b, "&lt;"); break;
      case '>': rc = ch_buf_puts(b, "&gt;"); break;
      case '"': rc = ch_buf_puts(b, "&quot;"); break;
      case '\'': rc = ch_buf_puts(b, "&#39;"); break;
      default:
        if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
          rc = ch_buf_putc(b, (char)c);
      }
      p++;
      continue;
    }
    size_t len = ch__utf8_seq(p);
    int ok = len > 0;
    if (ok) {
      rc = ch_buf_append(b, p, len);
      p += len;
    } else {
      rc = ch_buf_puts(b, "\xef\xbf\xbd");
      p++;
    }
  }
  return rc;
}
