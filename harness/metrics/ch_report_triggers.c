/* Per-trigger lines of a report: the model, report.json's "triggers" array, merge, terminal and HTML renderings. */
#include "ch_report_triggers.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_report_int.h"

struct ch_report_triggers *ch_report_triggers_new(size_t n) {
  struct ch_report_triggers *t = calloc(1, sizeof *t);
  if (!t || !(t->v = calloc(n ? n : 1, sizeof *t->v))) {
    free(t);
    return NULL;
  }
  t->n = n;
  for (size_t i = 0; i < n; i++)
    ch_hist_init(&t->v[i].latency);
  return t;
}

void ch_report_triggers_free(struct ch_report_triggers *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++) {
    free(t->v[i].label);
    free(t->v[i].type);
    free(t->v[i].first_error);
  }
  free(t->v);
  free(t);
}

static bool same_str(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

int ch_report_triggers_merge(struct ch_report_triggers **dst, const struct ch_report_triggers *src) {
  if (!src)
    return 0;
  if (!*dst) { /* the first shard that has them: a copy */
    struct ch_report_triggers *c = ch_report_triggers_new(src->n);
    if (!c)
      return -ENOMEM;
    *dst = c;
    for (size_t i = 0; i < src->n; i++) {
      const struct ch_report_trigger *s = &src->v[i];
      struct ch_report_trigger *d = &c->v[i];
      if ((s->label && !(d->label = strdup(s->label))) || (s->type && !(d->type = strdup(s->type))))
        return -ENOMEM;
    }
  }
  struct ch_report_triggers *d = *dst;
  if (d->n != src->n)
    return 0;
  for (size_t i = 0; i < src->n; i++)
    if (!same_str(d->v[i].label, src->v[i].label))
      return 0;
  for (size_t i = 0; i < src->n; i++) {
    struct ch_report_trigger *a = &d->v[i];
    const struct ch_report_trigger *b = &src->v[i];
    a->sent += b->sent, a->errors += b->errors, a->expected += b->expected, a->missing += b->missing;
    if (!a->first_error && b->first_error && !(a->first_error = strdup(b->first_error)))
      return -ENOMEM;
    ch_hist_add(&a->latency, &b->latency);
  }
  return 0;
}

cJSON *ch__triggers_to_json(const struct ch_report_triggers *t, struct ch__jw *w) {
  cJSON *a = cJSON_CreateArray();
  ch__jw_chk(w, a);
  for (size_t i = 0; a && i < t->n; i++) {
    const struct ch_report_trigger *g = &t->v[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(a, o)) {
      cJSON_Delete(o);
      w->oom = 1;
      break;
    }
    ch__jw_str(w, o, "label", g->label);
    ch__jw_str(w, o, "type", g->type);
    ch__jw_num(w, o, "sent", (double)g->sent);
    ch__jw_num(w, o, "errors", (double)g->errors);
    ch__jw_num(w, o, "updates_expected", (double)g->expected);
    ch__jw_num(w, o, "updates_missing", (double)g->missing);
    ch__jw_str(w, o, "first_error", g->first_error);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency");
    ch__jw_chk(w, lat);
    if (lat)
      ch__jw_lat(w, lat, "update_latency", &g->latency);
  }
  return a;
}

static int tr_u64(const cJSON *o, const char *k, uint64_t *v, struct ch_buf *err, size_t i) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!x)
    return 0;
  if (!cJSON_IsNumber(x) || x->valuedouble < 0) {
    if (err)
      ch_buf_printf(err, "triggers[%zu].%s: expected a count", i, k);
    return -EINVAL;
  }
  *v = (uint64_t)x->valuedouble;
  return 0;
}

static int tr_str(const cJSON *o, const char *k, char **v) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsString(x))
    return 0;
  return (*v = strdup(x->valuestring)) ? 0 : -ENOMEM;
}

int ch__triggers_from_json(const cJSON *a, struct ch_report_triggers **out, struct ch_buf *err) {
  *out = NULL;
  if (!cJSON_IsArray(a)) {
    if (err)
      ch_buf_puts(err, "triggers: expected an array");
    return -EINVAL;
  }
  struct ch_report_triggers *t = ch_report_triggers_new((size_t)cJSON_GetArraySize(a));
  if (!t)
    return -ENOMEM;
  size_t i = 0;
  int rc = 0;
  for (const cJSON *o = a->child; o && !rc; o = o->next, i++) {
    struct ch_report_trigger *g = &t->v[i];
    if (!cJSON_IsObject(o)) {
      if (err)
        ch_buf_printf(err, "triggers[%zu]: expected an object", i);
      rc = -EINVAL;
      break;
    }
    rc = tr_str(o, "label", &g->label);
    rc = rc ? rc : tr_str(o, "type", &g->type);
    rc = rc ? rc : tr_str(o, "first_error", &g->first_error);
    rc = rc ? rc : tr_u64(o, "sent", &g->sent, err, i);
    rc = rc ? rc : tr_u64(o, "errors", &g->errors, err, i);
    rc = rc ? rc : tr_u64(o, "updates_expected", &g->expected, err, i);
    rc = rc ? rc : tr_u64(o, "updates_missing", &g->missing, err, i);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "latency"), "update_latency"), "hist");
    if (!rc && cJSON_IsString(h) && ch_hist_parse(&g->latency, h->valuestring, strlen(h->valuestring), err)) {
      if (err)
        ch_buf_printf(err, " (triggers[%zu].latency.update_latency.hist)", i);
      rc = -EINVAL;
    }
  }
  if (rc) {
    ch_report_triggers_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

/* "p50 1.2ms p99 4.5ms" or "-" without samples. */
static void tr_lat(const struct ch_hist *h, char *buf, size_t n, int which) {
  if (!h->count) {
    snprintf(buf, n, "-");
    return;
  }
  ch__fmt_dur(buf, n, (double)ch_hist_value_at(h, which == 0 ? 50 : which == 1 ? 99 : 100));
}

int ch_report_triggers_text(const struct ch_report_triggers *t, struct ch_buf *b) {
  if (!t || !t->n)
    return 0;
  int rc = ch_buf_printf(b, "\n  %-34s %10s %8s %10s %10s %10s %10s\n", "trigger", "sent", "errors", "expected",
                         "missing", "p50", "p99");
  for (size_t i = 0; !rc && i < t->n; i++) {
    const struct ch_report_trigger *g = &t->v[i];
    char p50[24], p99[24];
    tr_lat(&g->latency, p50, sizeof p50, 0);
    tr_lat(&g->latency, p99, sizeof p99, 1);
    rc = ch_buf_printf(b, "  %-34.34s %10llu %8llu %10llu %10llu %10s %10s\n", g->label ? g->label : "?",
                       (unsigned long long)g->sent, (unsigned long long)g->errors, (unsigned long long)g->expected,
                       (unsigned long long)g->missing, p50, p99);
    if (!rc && g->first_error)
      rc = ch_buf_printf(b, "    first error: %.200s\n", g->first_error);
  }
  return rc ? -ENOMEM : 0;
}

int ch_report_triggers_html(const struct ch_report_triggers *t, struct ch_buf *b) {
  if (!t || !t->n)
    return 0;
  ch_buf_puts(b, "<section id=\"triggers\"><h2>Triggers</h2><div class=\"scroll\"><table id=\"triggers-table\"><tr>"
                 "<th>trigger</th><th>type</th><th>sent</th><th>errors</th><th>Updates expected</th><th>missing</th>"
                 "<th>p50</th><th>p99</th><th>max</th><th>first error</th></tr>");
  for (size_t i = 0; i < t->n; i++) {
    const struct ch_report_trigger *g = &t->v[i];
    char p50[24], p99[24], mx[24];
    tr_lat(&g->latency, p50, sizeof p50, 0);
    tr_lat(&g->latency, p99, sizeof p99, 1);
    tr_lat(&g->latency, mx, sizeof mx, 2);
    ch_buf_printf(b, "<tr class=\"trigger-row%s\"><td>", g->errors || g->missing ? " bad" : "");
    ch__xml_escape(b, g->label ? g->label : "?");
    ch_buf_puts(b, "</td><td>");
    ch__xml_escape(b, g->type ? g->type : "");
    ch_buf_printf(b, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                     "<td class=\"n\">%llu</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>",
                  (unsigned long long)g->sent, (unsigned long long)g->errors, (unsigned long long)g->expected,
                  (unsigned long long)g->missing, p50, p99, mx);
    ch__xml_escape(b, g->first_error ? g->first_error : "");
    ch_buf_puts(b, "</td></tr>");
  }
  ch_buf_puts(b, "</table></div></section>\n");
  return b->data ? 0 : -ENOMEM;
}
