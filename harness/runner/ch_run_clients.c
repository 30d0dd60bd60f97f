/* The run's clients and keys: every population's keys into the key table, each client of this shard to a worker
   with its subscriptions (session slots draw theirs later), and which trigger drives each key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch_run_int.h"

static bool run_shard_owns(const struct ch_run *r, size_t index) {
  return r->o->shard_count <= 1 || index % r->o->shard_count == r->o->shard_index;
}

/* Assigns keys to every client of this shard, fills the key table, and spreads clients over workers. */
int run_make_clients(struct ch_run *r) {
  const struct ch_scenario *s = r->s;
  for (size_t p = 0; p < s->n_populations; p++) /* keys of every population first: stable indexes */
    for (size_t k = 0; k < s->populations[p].subscribe.n_keys; k++) {
      uint32_t idx;
      const char *name = s->populations[p].subscribe.keys[k];
      if (run_keys_add(&r->keys, name, strlen(name), &idx))
        return -ENOMEM;
    }
  for (size_t t = 0; t < s->n_triggers; t++)
    for (size_t k = 0; k < s->triggers[t].n_keys; k++) {
      uint32_t idx;
      if (run_keys_add(&r->keys, s->triggers[t].keys[k], strlen(s->triggers[t].keys[k]), &idx))
        return -ENOMEM;
    }
  size_t nk = r->keys.n ? r->keys.n : 1;
  r->key_seq = calloc(nk, sizeof *r->key_seq);
  r->key_subscribed = calloc(nk, sizeof *r->key_subscribed);
  r->key_hub = calloc(nk, sizeof *r->key_hub);
  r->key_trigger = calloc(nk, sizeof *r->key_trigger);
  r->subs_per_key = calloc(nk, sizeof *r->subs_per_key);
  uint64_t *key_pops = calloc(nk, sizeof *key_pops);
  bool *hub_set = calloc(nk, sizeof *hub_set);
  if (!r->key_seq || !r->key_subscribed || !r->key_hub || !r->key_trigger || !r->subs_per_key || !key_pops ||
      !hub_set) {
    free(key_pops);
    free(hub_set);
    return -ENOMEM;
  }
  for (size_t p = 0; p < s->n_populations; p++)
    for (size_t k = 0; k < s->populations[p].subscribe.n_keys; k++) {
      const char *name = s->populations[p].subscribe.keys[k];
      long idx = run_keys_find(&r->keys, name, strlen(name));
      if (!hub_set[idx]) {
        hub_set[idx] = true;
        r->key_hub[idx] = (uint8_t)s->populations[p].hub;
      }
    }
  for (size_t t = 0; t < s->n_triggers; t++) {
    /* a key only a trigger names: the hub the trigger is scoped to ({{hub}}, the publish's hub), else the first
       population's */
    const struct ch_scn_trigger *tg = &s->triggers[t];
    for (size_t k = 0; k < tg->n_keys; k++) {
      long idx = run_keys_find(&r->keys, tg->keys[k], strlen(tg->keys[k]));
      if (hub_set[idx] || !s->n_populations)
        continue;
      r->key_hub[idx] = (uint8_t)(tg->has_hub ? tg->hub
                                  : tg->n_pops ? s->populations[tg->pops[0]].hub
                                               : s->populations[0].hub);
    }
  }
  free(hub_set);
  size_t *kbuf = NULL, owned = 0;
  int rc = 0;
  for (size_t p = 0; p < s->n_populations && !rc; p++) {
    const struct ch_population *pop = &s->populations[p];
    size_t kpc = ch_scenario_keys_per_client(pop);
    size_t *nb = realloc(kbuf, (kpc ? kpc : 1) * sizeof *kbuf);
    if (!nb) {
      rc = -ENOMEM;
      break;
    }
    kbuf = nb;
    for (size_t i = 0; i < pop->count; i++) {
      size_t gi = pop->first_client + i;
      size_t n = 0;
      if (pop->sessions.enabled) { /* every shard marks the universe its sessions may draw from, once */
        for (size_t k = 0; i == 0 && k < pop->subscribe.n_keys; k++)
          key_pops[run_keys_find(&r->keys, pop->subscribe.keys[k], strlen(pop->subscribe.keys[k]))] |= 1ull << (p & 63);
      } else {
        struct ch_rng rng;
        ch_scenario_client_rng(s, p, i, &rng);
        if (kpc && ch_scenario_client_keys(pop, i, &rng, kbuf, kpc, &n)) {
          rc = -EINVAL;
          break;
        }
      }
      /* every shard (and a coordinator, which has no workers) sees every client's keys: one key-to-trigger table */
      for (size_t k = 0; k < n; k++) {
        const char *name = pop->subscribe.keys[kbuf[k]];
        key_pops[run_keys_find(&r->keys, name, strlen(name))] |= 1ull << (p & 63);
      }
      if (!r->workers || !run_shard_owns(r, gi))
        continue;
      struct run_worker *rw = r->workers[owned++ % r->n_workers];
      struct run_client *rc_ = calloc(1, sizeof *rc_);
      if (!rc_) {
        rc = -ENOMEM;
        break;
      }
      rc_->w = rw;
      rc_->pop = (uint32_t)p;
      rc_->index = (uint32_t)gi;
      rc_->bad_creds = pop->credentials != CH_SCN_CRED_VALID;
      rw->clients[rw->n_clients++] = rc_;
      if (pop->sessions.enabled) { /* a slot: each session draws its keys when it starts, from the whole universe */
        rc_->session = true;
        for (size_t k = 0; k < pop->subscribe.n_keys; k++)
          r->key_subscribed[run_keys_find(&r->keys, pop->subscribe.keys[k], strlen(pop->subscribe.keys[k]))] = true;
        continue;
      }
      rc_->subs = n ? calloc(n, sizeof *rc_->subs) : NULL;
      if (n && !rc_->subs) {
        rc = -ENOMEM;
        break;
      }
      rc_->n_subs = (uint32_t)n;
      for (size_t k = 0; k < n; k++) {
        const char *name = pop->subscribe.keys[kbuf[k]];
        uint32_t key = (uint32_t)run_keys_find(&r->keys, name, strlen(name));
        rc_->subs[k].key = key;
        ch_delivery_init(&rc_->subs[k].dl, 1u << 30);
        r->key_subscribed[key] = true;
        if (!rc_->bad_creds)
          r->subs_per_key[key]++;
      }
    }
  }
  free(kbuf);
  if (!rc)
    run_assign_trigger_keys(r, key_pops);
  free(key_pops);
  return rc;
}
