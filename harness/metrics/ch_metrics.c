#include "ch_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const lat_names[CH_LAT_COUNT] = {
    "negotiate", "tcp_connect",        "connect",        "init",      "start", "invoke_subscribe",
    "invoke_unsubscribe", "update_latency", "fanout_completion", "reconnect",
    "replay_latency", "tls_handshake", "first_update"};

static const char *const cnt_names[CH_CNT_COUNT] = {
    "clients_connected", "connect_errors",    "disconnects",       "reconnects",           "errors",
    "updates_expected",  "updates_received",  "updates_missing",   "updates_duplicate",    "updates_out_of_order",
    "updates_unexpected", "triggers",         "invoke_errors",     "messages_in",          "messages_out",
    "bytes_in",          "bytes_out",         "server_closes",     "tls_handshakes_full",  "tls_handshakes_resumed",
    "tls_resume_miss_no_session", "tls_resume_miss_other_name", "tls_resume_miss_expired", "tls_resume_miss_rejected",
    "sessions_started",  "sessions_ended",    "subscribes",        "unsubscribes"};

const char *ch_lat_name(enum ch_lat which) { return (unsigned)which < CH_LAT_COUNT ? lat_names[which] : "?"; }
const char *ch_cnt_name(enum ch_cnt which) { return (unsigned)which < CH_CNT_COUNT ? cnt_names[which] : "?"; }

int ch_lat_from_name(const char *name, size_t n) {
  for (int i = 0; i < CH_LAT_COUNT; i++)
    if (strlen(lat_names[i]) == n && memcmp(lat_names[i], name, n) == 0)
      return i;
  return -1;
}

int ch_cnt_from_name(const char *name) {
  for (int i = 0; i < CH_CNT_COUNT; i++)
    if (strcmp(cnt_names[i], name) == 0)
      return i;
  return -1;
}

static void copy_name(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int ch_metrics_new(struct ch_metrics **out) {
  struct ch_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return -ENOMEM;
  m->second = malloc(sizeof *m->second);
  if (!m->second) {
    free(m);
    return -ENOMEM;
  }
  ch_hist_init(m->second);
  *out = m;
  return 0;
}

void ch_metrics_free(struct ch_metrics *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->n_groups; i++)
    free(m->groups[i]);
  free(m->groups);
  for (size_t i = 0; i < m->n_series; i++)
    free(m->series[i].hist);
  free(m->series);
  free(m->second);
  free(m);
}

void ch_metrics_begin(struct ch_metrics *m, uint64_t wall_ns) { m->start_wall_ns = wall_ns; }
void ch_metrics_end(struct ch_metrics *m, uint64_t wall_ns) { m->end_wall_ns = wall_ns; }

static struct ch_metrics_group *group_alloc(const char *population, const char *transport) {
  struct ch_metrics_group *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  copy_name(g->population, sizeof g->population, population);
  copy_name(g->transport, sizeof g->transport, transport);
  copy_name(g->reasons[CH_METRICS_REASONS].text, CH_METRICS_REASON_MAX, "other");
  for (int i = 0; i < CH_LAT_COUNT; i++)
    ch_hist_init(&g->lat[i]);
  return g;
}

struct ch_metrics_group *ch_metrics_find(const struct ch_metrics *m, const char *population, const char *transport) {
  char p[CH_METRICS_NAME_MAX], t[CH_METRICS_NAME_MAX];
  copy_name(p, sizeof p, population);
  copy_name(t, sizeof t, transport);
  for (size_t i = 0; i < m->n_groups; i++)
    if (!strcmp(m->groups[i]->population, p) && !strcmp(m->groups[i]->transport, t))
      return m->groups[i];
  return NULL;
}

int ch_metrics_group(struct ch_metrics *m, const char *population, const char *transport,
                     struct ch_metrics_group **out) {
  if (!m || !population || !transport || !out)
    return -EINVAL;
  struct ch_metrics_group *g = ch_metrics_find(m, population, transport);
  if (g) {
    *out = g;
    return 0;
  }
  if (m->n_groups == m->cap_groups) {
    size_t cap = m->cap_groups ? m->cap_groups * 2 : 4;
    struct ch_metrics_group **p = realloc(m->groups, cap * sizeof *p);
    if (!p)
      return -ENOMEM;
    m->groups = p;
    m->cap_groups = cap;
  }
  g = group_alloc(population, transport);
  if (!g)
    return -ENOMEM;
  g->owner = m;
  m->groups[m->n_groups++] = g;
  *out = g;
  return 0;
}

bool ch__metrics_record_update(struct ch_metrics_group *g, uint64_t ns) {
  if (g->owner)
    ch_hist_record(g->owner->second, ns);
  return ch_hist_record(&g->lat[CH_LAT_UPDATE], ns);
}

bool ch_metrics_record_corrected(struct ch_metrics_group *g, enum ch_lat which, uint64_t ns, uint64_t interval_ns) {
  if (which == CH_LAT_UPDATE && g->owner)
    ch_hist_record_corrected(g->owner->second, ns, interval_ns);
  return ch_hist_record_corrected(&g->lat[which], ns, interval_ns);
}

void ch_metrics_reconnecting(struct ch_metrics_group *g, int delta) {
  g->reconnecting += delta;
  if (g->reconnecting < 0)
    g->reconnecting = 0;
}

void ch_metrics_connected(struct ch_metrics_group *g, int delta) {
  g->connected += delta;
  if (g->connected < 0)
    g->connected = 0;
  if (g->connected > g->connected_peak)
    g->connected_peak = g->connected;
}

static void reason_add(struct ch_metrics_group *g, const char *text, uint64_t n) {
  char t[CH_METRICS_REASON_MAX];
  copy_name(t, sizeof t, text);
  for (size_t i = 0; i < g->n_reasons; i++) {
    if (!strcmp(g->reasons[i].text, t)) {
      g->reasons[i].count += n;
      return;
    }
  }
  if (!strcmp(t, "other") || g->n_reasons == CH_METRICS_REASONS) {
    g->reasons[CH_METRICS_REASONS].count += n;
    return;
  }
  memcpy(g->reasons[g->n_reasons].text, t, sizeof t);
  g->reasons[g->n_reasons++].count = n;
}

void ch_metrics_fail_n(struct ch_metrics_group *g, const char *reason, uint64_t n) {
  if (!n)
    return;
  reason_add(g, reason ? reason : "unknown", n);
  g->counters[CH_CNT_ERRORS] += n;
}

void ch_metrics_fail(struct ch_metrics_group *g, const char *reason) { ch_metrics_fail_n(g, reason, 1); }

void ch_metrics_group_add(struct ch_metrics_group *dst, const struct ch_metrics_group *src) {
  for (int i = 0; i < CH_LAT_COUNT; i++)
    ch_hist_add(&dst->lat[i], &src->lat[i]);
  for (int i = 0; i < CH_CNT_COUNT; i++)
    dst->counters[i] += src->counters[i];
  dst->connected += src->connected;
  dst->reconnecting += src->reconnecting;
  /* peaks of different groups/workers may not coincide: the sum is an upper bound */
  dst->connected_peak += src->connected_peak;
  for (size_t i = 0; i < src->n_reasons; i++)
    reason_add(dst, src->reasons[i].text, src->reasons[i].count);
  dst->reasons[CH_METRICS_REASONS].count += src->reasons[CH_METRICS_REASONS].count;
}

int ch_metrics_total(const struct ch_metrics *m, struct ch_metrics_group **out) {
  return ch_metrics_select(m, NULL, NULL, out, NULL);
}

int ch_metrics_select(const struct ch_metrics *m, const char *population, const char *transport,
                      struct ch_metrics_group **out, size_t *matched) {
  struct ch_metrics_group *t = group_alloc(population ? population : "", transport ? transport : "");
  if (!t)
    return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < m->n_groups; i++) {
    const struct ch_metrics_group *g = m->groups[i];
    if ((population && *population && strcmp(population, g->population)) ||
        (transport && *transport && strcmp(transport, g->transport)))
      continue;
    ch_metrics_group_add(t, g);
    n++;
  }
  if (matched)
    *matched = n;
  *out = t;
  return 0;
}

void ch_metrics_clear(struct ch_metrics *m) {
  for (size_t i = 0; i < m->n_groups; i++) {
    struct ch_metrics_group *g = m->groups[i];
    for (int l = 0; l < CH_LAT_COUNT; l++)
      ch_hist_init(&g->lat[l]);
    memset(g->counters, 0, sizeof g->counters);
    for (size_t k = 0; k <= CH_METRICS_REASONS; k++)
      g->reasons[k].count = 0;
    g->n_reasons = 0;
    g->connected_peak = g->connected;
  }
  ch_hist_init(m->second);
  m->last_msgs_in = m->last_msgs_out = m->last_errors = 0; /* counters restart from zero */
}

/* ---- time series ---- */

static int series_reserve(struct ch_series_point **arr, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  struct ch_series_point *p = realloc(*arr, c * sizeof *p);
  if (!p)
    return -ENOMEM;
  *arr = p;
  *cap = c;
  return 0;
}

/* Adds histogram `add` (may be NULL) and serialised `s` (may be NULL) into point p's histogram; updates p50/p99. */
static int point_merge_hist(struct ch_series_point *p, const struct ch_hist *add, const char *s) {
  struct ch_hist *h = malloc(sizeof *h), *tmp = NULL;
  if (!h)
    return -ENOMEM;
  int rc = 0;
  if (!p->hist || ch_hist_parse(h, p->hist, strlen(p->hist), NULL))
    ch_hist_init(h);
  if (add)
    ch_hist_add(h, add);
  if (s) {
    tmp = malloc(sizeof *tmp);
    if (!tmp)
      rc = -ENOMEM;
    else if (ch_hist_parse(tmp, s, strlen(s), NULL) == 0)
      ch_hist_add(h, tmp);
  }
  if (!rc && h->count) {
    struct ch_buf b = CH_BUF_INIT;
    rc = ch_hist_serialize(h, &b);
    if (!rc) {
      free(p->hist);
      p->hist = ch_buf_steal(&b);
      p->p50_ns = ch_hist_value_at(h, 50);
      p->p99_ns = ch_hist_value_at(h, 99);
    }
    ch_buf_free(&b);
  }
  free(tmp);
  free(h);
  return rc;
}

int ch_metrics_tick(struct ch_metrics *m, uint64_t wall_ns) {
  int64_t t = (int64_t)(wall_ns / 1000000000u);
  uint64_t connected = 0, in = 0, out = 0, errors = 0, sessions = 0;
  for (size_t i = 0; i < m->n_groups; i++) {
    const struct ch_metrics_group *g = m->groups[i];
    connected += g->connected > 0 ? (uint64_t)g->connected : 0;
    uint64_t st = g->counters[CH_CNT_SESSIONS_STARTED], en = g->counters[CH_CNT_SESSIONS_ENDED];
    sessions += st > en ? st - en : 0;
    in += g->counters[CH_CNT_MESSAGES_IN];
    out += g->counters[CH_CNT_MESSAGES_OUT];
    errors += g->counters[CH_CNT_ERRORS];
  }
  struct ch_series_point *p;
  if (m->n_series && m->series[m->n_series - 1].t >= t) {
    p = &m->series[m->n_series - 1]; /* same second again (or the clock stepped back): add to it */
  } else {
    if (series_reserve(&m->series, &m->cap_series, m->n_series + 1))
      return -ENOMEM;
    p = &m->series[m->n_series++];
    memset(p, 0, sizeof *p);
    p->t = t;
  }
  p->connected = connected;
  p->sessions = sessions;
  p->has_target = m->has_target;
  p->sessions_target = m->has_target ? m->sessions_target : 0;
  p->messages_in += in - m->last_msgs_in;
  p->messages_out += out - m->last_msgs_out;
  p->errors += errors - m->last_errors;
  p->deliveries += m->second->count;
  m->last_msgs_in = in, m->last_msgs_out = out, m->last_errors = errors;
  int rc = 0;
  uint64_t n = m->second->count;
  if (n) {
    atomic_store_explicit(&m->pub_p50_ns, ch_hist_value_at(m->second, 50), memory_order_relaxed);
    atomic_store_explicit(&m->pub_p99_ns, ch_hist_value_at(m->second, 99), memory_order_relaxed);
    rc = point_merge_hist(p, m->second, NULL);
  }
  atomic_store_explicit(&m->pub_deliveries, n, memory_order_relaxed);
  ch_hist_init(m->second);
  return rc;
}

static int series_merge(struct ch_metrics *dst, const struct ch_metrics *src) {
  size_t n = dst->n_series + src->n_series, cap = 0, k = 0, i = 0, j = 0;
  struct ch_series_point *out = NULL;
  if (!src->n_series)
    return 0;
  if (series_reserve(&out, &cap, n))
    return -ENOMEM;
  int rc = 0;
  while (i < dst->n_series || j < src->n_series) {
    const struct ch_series_point *b = j < src->n_series ? &src->series[j] : NULL;
    struct ch_series_point *a = i < dst->n_series ? &dst->series[i] : NULL;
    if (a && (!b || a->t < b->t)) {
      out[k++] = *a;
      i++;
      continue;
    }
    struct ch_series_point *p = &out[k++];
    if (a && a->t == b->t) {
      *p = *a;
      i++;
    } else {
      memset(p, 0, sizeof *p);
      p->t = b->t;
    }
    j++;
    p->connected += b->connected;
    p->sessions += b->sessions;
    p->sessions_target += b->sessions_target;
    p->has_target = p->has_target || b->has_target;
    p->messages_in += b->messages_in;
    p->messages_out += b->messages_out;
    p->errors += b->errors;
    p->deliveries += b->deliveries;
    if (b->hist) {
      int r = point_merge_hist(p, NULL, b->hist);
      rc = rc ? rc : r;
    } else if (!p->hist) {
      /* no distributions to merge (hand-written input): keep the worse percentiles */
      p->p50_ns = p->p50_ns > b->p50_ns ? p->p50_ns : b->p50_ns;
      p->p99_ns = p->p99_ns > b->p99_ns ? p->p99_ns : b->p99_ns;
    }
  }
  free(dst->series);
  dst->series = out;
  dst->n_series = k;
  dst->cap_series = cap;
  return rc;
}

int ch_metrics_merge(struct ch_metrics *dst, const struct ch_metrics *src) {
  for (size_t i = 0; i < src->n_groups; i++) {
    const struct ch_metrics_group *sg = src->groups[i];
    struct ch_metrics_group *dg;
    int rc = ch_metrics_group(dst, sg->population, sg->transport, &dg);
    if (rc)
      return rc;
    ch_metrics_group_add(dg, sg);
  }
  if (src->start_wall_ns && (!dst->start_wall_ns || src->start_wall_ns < dst->start_wall_ns))
    dst->start_wall_ns = src->start_wall_ns;
  if (src->end_wall_ns > dst->end_wall_ns)
    dst->end_wall_ns = src->end_wall_ns;
  return series_merge(dst, src);
}

/* ---- lookup ---- */

static const char known_names[] =
    "<latency>.<stat> with <latency> one of negotiate, tcp_connect, connect, init, start, invoke_subscribe, "
    "invoke_unsubscribe, update_latency, fanout_completion, reconnect, replay_latency, tls_handshake, first_update and <stat> one "
    "of count, min, "
    "max, mean, stddev, overflow, pN (a percentile such as p50, p90, p99, p99.9); counters clients_connected, "
    "connect_errors, disconnects, reconnects, errors, updates_expected, updates_received, updates_missing, "
    "updates_duplicate, updates_out_of_order, updates_unexpected, triggers, invoke_errors, messages_in, messages_out, "
    "bytes_in, bytes_out, server_closes, tls_handshakes_full, tls_handshakes_resumed, tls_resume_miss_no_session, "
    "tls_resume_miss_other_name, tls_resume_miss_expired, tls_resume_miss_rejected, sessions_started, sessions_ended, "
    "subscribes, unsubscribes; derived connected_peak, delivery_ratio, messages_per_second, "
    "updates_per_second, error_rate, duration";

const char *ch_metrics_known_names(void) { return known_names; }

/* Parses "pN" (N a decimal 0..100). */
static bool parse_pct(const char *s, double *out) {
  if (s[0] != 'p' || !s[1])
    return false;
  for (const char *c = s + 1; *c; c++)
    if (!((*c >= '0' && *c <= '9') || *c == '.'))
      return false;
  char *end;
  double v = strtod(s + 1, &end);
  if (*end || !(v >= 0 && v <= 100))
    return false;
  *out = v;
  return true;
}

static int lat_stat(const struct ch_hist *h, const char *stat, double *out) {
  double pct;
  if (!strcmp(stat, "count"))
    *out = (double)h->count;
  else if (!strcmp(stat, "min"))
    *out = (double)ch_hist_min(h);
  else if (!strcmp(stat, "max"))
    *out = (double)ch_hist_max(h);
  else if (!strcmp(stat, "mean"))
    *out = ch_hist_mean(h);
  else if (!strcmp(stat, "stddev"))
    *out = ch_hist_stddev(h);
  else if (!strcmp(stat, "overflow"))
    *out = (double)h->overflow;
  else if (parse_pct(stat, &pct))
    *out = (double)ch_hist_value_at(h, pct);
  else
    return -ENOENT;
  return 0;
}

static double window_s(const struct ch_metrics *m) {
  if (m->end_wall_ns > m->start_wall_ns)
    return (double)(m->end_wall_ns - m->start_wall_ns) / 1e9;
  return m->n_series ? (double)m->n_series : 0;
}

int ch_metrics_group_lookup(const struct ch_metrics *m, const struct ch_metrics_group *g, const char *name,
                            double *out) {
  const char *dot = strchr(name, '.');
  if (dot) {
    int l = ch_lat_from_name(name, (size_t)(dot - name));
    return l < 0 ? -ENOENT : lat_stat(&g->lat[l], dot + 1, out);
  }
  int c = ch_cnt_from_name(name);
  const uint64_t *k = g->counters;
  double w = window_s(m);
  if (c >= 0)
    *out = (double)k[c];
  else if (!strcmp(name, "connected_peak"))
    *out = (double)g->connected_peak;
  else if (!strcmp(name, "delivery_ratio"))
    *out = k[CH_CNT_UPDATES_EXPECTED]
               ? (double)k[CH_CNT_UPDATES_RECEIVED] / (double)k[CH_CNT_UPDATES_EXPECTED]
               : 1.0;
  else if (!strcmp(name, "messages_per_second"))
    *out = w > 0 ? (double)k[CH_CNT_MESSAGES_IN] / w : 0;
  else if (!strcmp(name, "updates_per_second"))
    *out = w > 0 ? (double)k[CH_CNT_UPDATES_RECEIVED] / w : 0;
  else if (!strcmp(name, "error_rate")) {
    uint64_t clients = k[CH_CNT_CONNECTS] + k[CH_CNT_CONNECT_ERRORS];
    *out = clients ? (double)k[CH_CNT_ERRORS] / (double)clients : 0;
  } else if (!strcmp(name, "duration"))
    *out = w * 1e9;
  else
    return -ENOENT;
  return 0;
}

int ch_metrics_lookup(const struct ch_metrics *m, const char *name, double *out) {
  if (!ch_metrics_name_known(name))
    return -ENOENT;
  struct ch_metrics_group *t;
  int rc = ch_metrics_total(m, &t);
  if (rc)
    return rc;
  rc = ch_metrics_group_lookup(m, t, name, out);
  free(t);
  return rc;
}

bool ch_metrics_name_known(const char *name) {
  static const char *const derived[] = {"connected_peak", "delivery_ratio", "messages_per_second",
                                        "updates_per_second", "error_rate", "duration"};
  if (!name)
    return false;
  const char *dot = strchr(name, '.');
  if (dot) {
    if (ch_lat_from_name(name, (size_t)(dot - name)) < 0)
      return false;
    const char *s = dot + 1;
    double pct;
    return !strcmp(s, "count") || !strcmp(s, "min") || !strcmp(s, "max") || !strcmp(s, "mean") ||
           !strcmp(s, "stddev") || !strcmp(s, "overflow") || parse_pct(s, &pct);
  }
  if (ch_cnt_from_name(name) >= 0)
    return true;
  for (size_t i = 0; i < sizeof derived / sizeof *derived; i++)
    if (!strcmp(name, derived[i]))
      return true;
  return false;
}
