/* The recovery from a reconnect storm: the model, report.json's "recovery" object, merge, terminal and HTML table. */
#include "ch_report_recovery.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_report_int.h"

static const char *const cause_names[CH_RECOVERY_CAUSES] = {
    "http_503", "http_401", "http_403", "http_404", "http_5xx", "not_signalr", "timeout", "refused", "tls", "other"};

const char *ch_recovery_cause_name(enum ch_recovery_cause c) {
  return (unsigned)c < CH_RECOVERY_CAUSES ? cause_names[c] : "?";
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Seconds until `share` (0-1] of n had a time, or -1 when fewer did. */
static double at_share(const uint64_t *v, size_t n, double share) {
  if (!n)
    return -1;
  size_t k = (size_t)(share * (double)n + 0.999999);
  k = k < 1 ? 1 : k > n ? n : k;
  return v[k - 1] == UINT64_MAX ? -1 : (double)v[k - 1] / 1e9;
}

static void curve(const uint64_t *v, size_t n, double *p50, double *p99, double *p100, double *c) {
  *p50 = at_share(v, n, 0.5), *p99 = at_share(v, n, 0.99), *p100 = at_share(v, n, 1);
  for (int i = 0; i < CH_RECOVERY_POINTS; i++)
    c[i] = at_share(v, n, (i + 1) * (1.0 / CH_RECOVERY_POINTS));
}

void ch_report_recovery_times(struct ch_report_recovery *r, uint64_t *back, uint64_t *rx, size_t n) {
  qsort(back, n, sizeof *back, cmp_u64);
  qsort(rx, n, sizeof *rx, cmp_u64);
  curve(back, n, &r->back_p50, &r->back_p99, &r->back_p100, r->back_curve);
  curve(rx, n, &r->rx_p50, &r->rx_p99, &r->rx_p100, r->rx_curve);
}

void ch_report_recovery_free(struct ch_report_recovery *r) {
  if (!r)
    return;
  free(r->drop);
  free(r);
}

static double later(double a, double b) { return a < 0 || b < 0 ? -1 : a > b ? a : b; }

int ch_report_recovery_merge(struct ch_report_recovery **dst, const struct ch_report_recovery *src) {
  if (!src)
    return 0;
  if (!*dst) {
    struct ch_report_recovery *c = malloc(sizeof *c);
    if (!c)
      return -ENOMEM;
    *c = *src;
    c->drop = NULL;
    if (src->drop && !(c->drop = strdup(src->drop))) {
      free(c);
      return -ENOMEM;
    }
    *dst = c;
    return 0;
  }
  struct ch_report_recovery *d = *dst;
  d->clients += src->clients, d->reconnected += src->reconnected, d->new_connections += src->new_connections;
  d->receiving += src->receiving, d->gave_up += src->gave_up, d->live += src->live;
  d->published += src->published, d->replayed += src->replayed, d->lost += src->lost;
  for (int i = 0; i < CH_RECOVERY_CAUSES; i++)
    d->answers[i] += src->answers[i];
  /* the exact merged percentiles need every client's times: the later shard's bound them from above */
  d->back_p50 = later(d->back_p50, src->back_p50), d->back_p99 = later(d->back_p99, src->back_p99);
  d->back_p100 = later(d->back_p100, src->back_p100), d->rx_p50 = later(d->rx_p50, src->rx_p50);
  d->rx_p99 = later(d->rx_p99, src->rx_p99), d->rx_p100 = later(d->rx_p100, src->rx_p100);
  for (int i = 0; i < CH_RECOVERY_POINTS; i++) {
    d->back_curve[i] = later(d->back_curve[i], src->back_curve[i]);
    d->rx_curve[i] = later(d->rx_curve[i], src->rx_curve[i]);
  }
  return 0;
}

static void j_secs(struct ch__jw *w, cJSON *o, const char *k, double v) {
  if (v < 0)
    ch__jw_chk(w, cJSON_AddNullToObject(o, k));
  else
    ch__jw_num(w, o, k, v);
}

static void j_share(struct ch__jw *w, cJSON *o, const char *k, double p50, double p99, double p100) {
  cJSON *s = cJSON_AddObjectToObject(o, k);
  ch__jw_chk(w, s);
  if (!s)
    return;
  j_secs(w, s, "p50", p50);
  j_secs(w, s, "p99", p99);
  j_secs(w, s, "p100", p100);
}

cJSON *ch__recovery_to_json(const struct ch_report_recovery *r, struct ch__jw *w) {
  cJSON *o = cJSON_CreateObject();
  ch__jw_chk(w, o);
  if (!o)
    return NULL;
  ch__jw_num(w, o, "clients", (double)r->clients);
  ch__jw_num(w, o, "reconnected", (double)r->reconnected);
  ch__jw_num(w, o, "new_connections", (double)r->new_connections);
  ch__jw_num(w, o, "receiving", (double)r->receiving);
  ch__jw_num(w, o, "live", (double)r->live);
  ch__jw_num(w, o, "gave_up", (double)r->gave_up);
  ch__jw_str(w, o, "drop", r->drop);
  j_share(w, o, "back_s", r->back_p50, r->back_p99, r->back_p100);
  j_share(w, o, "receiving_s", r->rx_p50, r->rx_p99, r->rx_p100);
  cJSON *u = cJSON_AddObjectToObject(o, "updates");
  ch__jw_chk(w, u);
  if (u) {
    ch__jw_num(w, u, "published_while_away", (double)r->published);
    ch__jw_num(w, u, "replayed", (double)r->replayed);
    ch__jw_num(w, u, "lost", (double)r->lost);
  }
  cJSON *a = cJSON_AddObjectToObject(o, "failed_attempts");
  ch__jw_chk(w, a);
  for (int i = 0; a && i < CH_RECOVERY_CAUSES; i++)
    ch__jw_num(w, a, cause_names[i], (double)r->answers[i]);
  cJSON *c = cJSON_AddArrayToObject(o, "curve");
  ch__jw_chk(w, c);
  for (int i = 0; c && i < CH_RECOVERY_POINTS; i++) {
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddItemToArray(c, p)) {
      cJSON_Delete(p);
      w->oom = 1;
      break;
    }
    ch__jw_num(w, p, "pct", (i + 1) * (100.0 / CH_RECOVERY_POINTS));
    j_secs(w, p, "back_s", r->back_curve[i]);
    j_secs(w, p, "receiving_s", r->rx_curve[i]);
  }
  return o;
}

static int rj_u64(const cJSON *o, const char *k, uint64_t *v, struct ch_buf *err) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!x)
    return 0;
  if (!cJSON_IsNumber(x) || x->valuedouble < 0) {
    if (err)
      ch_buf_printf(err, "recovery.%s: expected a count", k);
    return -EINVAL;
  }
  *v = (uint64_t)x->valuedouble;
  return 0;
}

static double rj_secs(const cJSON *o, const char *k) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(x) && x->valuedouble >= 0 ? x->valuedouble : -1;
}

int ch__recovery_from_json(const cJSON *o, struct ch_report_recovery **out, struct ch_buf *err) {
  *out = NULL;
  if (!cJSON_IsObject(o)) {
    if (err)
      ch_buf_puts(err, "recovery: expected an object");
    return -EINVAL;
  }
  struct ch_report_recovery *r = calloc(1, sizeof *r);
  if (!r)
    return -ENOMEM;
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "updates");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "failed_attempts");
  int rc = rj_u64(o, "clients", &r->clients, err);
  rc = rc ? rc : rj_u64(o, "reconnected", &r->reconnected, err);
  rc = rc ? rc : rj_u64(o, "new_connections", &r->new_connections, err);
  rc = rc ? rc : rj_u64(o, "receiving", &r->receiving, err);
  rc = rc ? rc : rj_u64(o, "live", &r->live, err);
  rc = rc ? rc : rj_u64(o, "gave_up", &r->gave_up, err);
  rc = rc ? rc : rj_u64(u, "published_while_away", &r->published, err);
  rc = rc ? rc : rj_u64(u, "replayed", &r->replayed, err);
  rc = rc ? rc : rj_u64(u, "lost", &r->lost, err);
  for (int i = 0; !rc && i < CH_RECOVERY_CAUSES; i++)
    rc = rj_u64(a, cause_names[i], &r->answers[i], err);
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "drop");
  if (!rc && cJSON_IsString(d) && !(r->drop = strdup(d->valuestring)))
    rc = -ENOMEM;
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "back_s"), *x = cJSON_GetObjectItemCaseSensitive(o, "receiving_s");
  r->back_p50 = rj_secs(b, "p50"), r->back_p99 = rj_secs(b, "p99"), r->back_p100 = rj_secs(b, "p100");
  r->rx_p50 = rj_secs(x, "p50"), r->rx_p99 = rj_secs(x, "p99"), r->rx_p100 = rj_secs(x, "p100");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "curve"), *p;
  int i = 0;
  for (i = 0; i < CH_RECOVERY_POINTS; i++)
    r->back_curve[i] = r->rx_curve[i] = -1;
  i = 0;
  cJSON_ArrayForEach(p, c) {
    if (i >= CH_RECOVERY_POINTS)
      break;
    r->back_curve[i] = rj_secs(p, "back_s");
    r->rx_curve[i++] = rj_secs(p, "receiving_s");
  }
  if (rc) {
    ch_report_recovery_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

static void fmt_s(char *buf, size_t n, double s) {
  if (s < 0)
    snprintf(buf, n, "never");
  else
    ch__fmt_dur(buf, n, s * 1e9);
}

/* back p50, p99, p100, then receiving p50, p99, p100, as durations or "never". */
static void fmt_times(const struct ch_report_recovery *r, char t[6][24]) {
  const double v[6] = {r->back_p50, r->back_p99, r->back_p100, r->rx_p50, r->rx_p99, r->rx_p100};
  for (int i = 0; i < 6; i++)
    fmt_s(t[i], 24, v[i]);
}

/* "503: 4, timeout: 2" or "none". */
static void answers_line(const struct ch_report_recovery *r, struct ch_buf *b) {
  bool any = false;
  for (int i = 0; i < CH_RECOVERY_CAUSES; i++)
    if (r->answers[i]) {
      ch_buf_printf(b, "%s%s %llu", any ? ", " : "", cause_names[i], (unsigned long long)r->answers[i]);
      any = true;
    }
  if (!any)
    ch_buf_puts(b, "none");
}

int ch_report_recovery_text(const struct ch_report_recovery *r, struct ch_buf *b) {
  if (!r)
    return 0;
  char t[6][24];
  fmt_times(r, t);
  ch_buf_printf(b,
                "\n  recovery from the drop: %llu clients, %llu reconnected, %llu new connections, %llu receiving "
                "(%llu live), %llu gave up\n"
                "    back        p50 %-10s p99 %-10s 100%% %s\n"
                "    receiving   p50 %-10s p99 %-10s 100%% %s\n"
                "    Updates published while away %llu: replayed %llu, lost %llu\n    failed reconnects: ",
                (unsigned long long)r->clients, (unsigned long long)r->reconnected,
                (unsigned long long)r->new_connections, (unsigned long long)r->receiving,
                (unsigned long long)r->live, (unsigned long long)r->gave_up, t[0], t[1], t[2], t[3], t[4], t[5],
                (unsigned long long)r->published, (unsigned long long)r->replayed, (unsigned long long)r->lost);
  answers_line(r, b);
  ch_buf_putc(b, '\n');
  if (r->drop)
    ch_buf_printf(b, "    drop: %.200s\n", r->drop);
  return b->data ? 0 : -ENOMEM;
}

int ch_report_recovery_html(const struct ch_report_recovery *r, struct ch_buf *b) {
  if (!r)
    return 0;
  char t[6][24];
  fmt_times(r, t);
  ch_buf_printf(b,
                "<table id=\"recovery-table\"><tr><th></th><th>50%%</th><th>99%%</th><th>100%%</th></tr>"
                "<tr><td>back (reconnected or new connection)</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                "<td class=\"n\">%s</td></tr><tr><td>receiving (first Update after the drop)</td><td class=\"n\">%s"
                "</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr></table>"
                "<p>%llu clients dropped: %llu reconnected, %llu new connections, %llu receiving (%llu live), %llu gave up. "
                "Updates published while away: %llu, replayed %llu, lost %llu. Failed reconnects: ",
                t[0], t[1], t[2], t[3], t[4], t[5], (unsigned long long)r->clients,
                (unsigned long long)r->reconnected, (unsigned long long)r->new_connections,
                (unsigned long long)r->receiving, (unsigned long long)r->live, (unsigned long long)r->gave_up,
                (unsigned long long)r->published,
                (unsigned long long)r->replayed, (unsigned long long)r->lost);
  struct ch_buf a = CH_BUF_INIT;
  answers_line(r, &a);
  ch__xml_escape(b, a.data ? a.data : "");
  ch_buf_free(&a);
  ch_buf_puts(b, ".");
  if (r->drop) {
    ch_buf_puts(b, " Drop: ");
    ch__xml_escape(b, r->drop);
  }
  ch_buf_puts(b, "</p>");
  return b->data ? 0 : -ENOMEM;
}
