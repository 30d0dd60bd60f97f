/* Several triggers in one run: which scenario trigger drives each key, the keys each one triggers, and the report's
   per-trigger lines (requests sent and failed, Updates expected and missing on its keys, their latency). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_run_int.h"

static void run_sum_trig(struct ch_trigger_result *sum, const struct ch_trigger_result *one) {
  sum->sent += one->sent;
  sum->ok += one->ok;
  sum->failed += one->failed;
  if (!sum->first_error[0] && one->first_error[0])
    memcpy(sum->first_error, one->first_error, sizeof sum->first_error);
}

/* Plans one phase's triggers, one tphase per scenario trigger that sends, all from t0 (a drop phase: one trigger
   per key, at most 100 keys); returns how many. */
size_t run_plan_phase(struct ch_run *r, const struct ch_scn_phase *ph, enum run_tphase_kind kind,
                             uint64_t t0, struct ch_rng *rng, uint32_t *tkeys, struct run_tphase **ps) {
  size_t np = 0;
  for (size_t t = 0; t < r->s->n_triggers; t++) {
    if (r->s->triggers[t].type == CH_SCN_TRIGGER_NONE)
      continue;
    size_t K = run_trigger_keys(r, t, tkeys);
    if (kind == RUN_TP_DROP && K > 100)
      K = 100;
    size_t n = kind == RUN_TP_DROP ? K : (size_t)run_phase_triggers(&r->s->triggers[t], ph, K);
    struct run_tphase *p = K ? run_plan(r, t, kind, tkeys, K, n, t0, rng) : NULL;
    if (p)
      ps[np++] = p;
  }
  return np;
}

/* Sends them side by side and adds each one's result to the outcome (in all and per scenario trigger). */
void run_send_phase(struct ch_run *r, struct run_tphase **ps, size_t np, struct run_outcome *out) {
  struct ch_trigger_result trs[CH_SCN_TRIGGERS_MAX];
  run_send(r, ps, np, trs);
  for (size_t k = 0; k < np; k++) {
    run_sum_trig(&out->trig, &trs[k]);
    run_sum_trig(&out->trig_each[ps[k]->trigger], &trs[k]);
    ps[k]->n_sent = (uint32_t)trs[k].sent;
  }
}

void run_assign_trigger_keys(struct ch_run *r, const uint64_t *key_pops) {
  const struct ch_scenario *s = r->s;
  memset(r->key_trigger, RUN_NO_TRIGGER, r->keys.n ? r->keys.n : 1);
  /* listed keys first, then the subscribed keys of the populations each trigger reaches; the loader refused two
     triggers on one key, so "first" only matters for keys nobody should share */
  for (size_t t = 0; t < s->n_triggers; t++) {
    const struct ch_scn_trigger *tg = &s->triggers[t];
    if (tg->type == CH_SCN_TRIGGER_NONE || tg->keys_subscribed)
      continue;
    for (size_t k = 0; k < tg->n_keys; k++) {
      long idx = run_keys_find(&r->keys, tg->keys[k], strlen(tg->keys[k]));
      if (idx >= 0 && r->key_trigger[idx] == RUN_NO_TRIGGER)
        r->key_trigger[idx] = (uint8_t)t;
    }
  }
  for (size_t t = 0; t < s->n_triggers; t++) {
    const struct ch_scn_trigger *tg = &s->triggers[t];
    if (tg->type == CH_SCN_TRIGGER_NONE || !tg->keys_subscribed)
      continue;
    uint64_t mask = 0;
    for (size_t p = 0; p < s->n_populations && p < 64; p++)
      if (ch_scenario_trigger_reaches(tg, &s->populations[p], p))
        mask |= 1ull << p;
    for (size_t k = 0; k < r->keys.n; k++)
      if ((key_pops[k] & mask) && r->key_trigger[k] == RUN_NO_TRIGGER)
        r->key_trigger[k] = (uint8_t)t;
  }
}

size_t run_trigger_keys(const struct ch_run *r, size_t t, uint32_t *out) {
  const struct ch_scn_trigger *tg = &r->s->triggers[t];
  size_t K = 0;
  if (tg->keys_subscribed) {
    for (size_t k = 0; k < r->keys.n; k++)
      if (r->key_trigger[k] == t)
        out[K++] = (uint32_t)k;
  } else {
    for (size_t k = 0; k < tg->n_keys; k++) { /* in the listed order */
      long idx = run_keys_find(&r->keys, tg->keys[k], strlen(tg->keys[k]));
      if (idx >= 0 && r->key_trigger[idx] == t)
        out[K++] = (uint32_t)idx;
    }
  }
  return K;
}

int run_report_triggers(struct ch_run *r, const struct run_outcome *o, const struct run_tally *t,
                        struct ch_report *rep) {
  const struct ch_scenario *s = r->s;
  if (!s->trigger_array) /* the object form's report stays as it was */
    return 0;
  static const char *const types[] = {"none", "reference", "http"};
  struct ch_report_triggers *rt = ch_report_triggers_new(s->n_triggers);
  if (!rt)
    return -ENOMEM;
  for (size_t i = 0; i < s->n_triggers; i++) {
    struct ch_report_trigger *g = &rt->v[i];
    const struct ch_trigger_result *res = &o->trig_each[i];
    g->label = strdup(s->triggers[i].label ? s->triggers[i].label : "trigger");
    g->type = strdup(types[s->triggers[i].type]);
    g->first_error = res->first_error[0] ? strdup(res->first_error) : NULL;
    if (!g->label || !g->type || (res->first_error[0] && !g->first_error)) {
      ch_report_triggers_free(rt);
      return -ENOMEM;
    }
    g->sent = res->sent;
    g->errors = res->failed;
    g->expected = t->t_expected[i];
    g->missing = t->t_missing[i];
    for (unsigned w = 0; w < r->n_workers; w++)
      if (r->workers[w]->trig_lat)
        ch_hist_add(&g->latency, &r->workers[w]->trig_lat[i]);
  }
  ch_report_triggers_free(rep->triggers);
  rep->triggers = rt;
  return 0;
}

void run_trigger_secrets(const struct ch_scenario *s, struct ch_report *rep) {
  for (size_t i = 0; i < s->n_triggers; i++) {
    const struct ch_scn_http_trigger *h = &s->triggers[i].http;
    for (size_t p = 0; p < h->n_headers + 2; p++) {
      const struct ch_template *t = p == 0 ? h->url : p == 1 ? h->body : h->headers[p - 2].value;
      for (size_t e = 0; t && e < ch_template_env_count(t); e++) {
        const char *name = ch_template_env_name(t, e);
        if (p >= 2 || ch_report_secret_name(name, strlen(name)))
          ch_report_add_secret(rep, ch_template_env_value(t, e));
      }
    }
  }
}
