/* Which keys each client subscribes to: deterministic per (seed, population, client), whatever the worker. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_scn_check.h"

int ch__scn_zipf_build(struct ch_population *p) {
  size_t n = p->subscribe.n_keys;
  double *cdf = malloc(n * sizeof *cdf);
  if (!cdf)
    return -ENOMEM;
  double sum = 0;
  for (size_t k = 0; k < n; k++) {
    sum += pow((double)(k + 1), -p->subscribe.zipf_s);
    cdf[k] = sum;
  }
  for (size_t k = 0; k < n; k++)
    cdf[k] /= sum;
  cdf[n - 1] = 1.0; /* rounding must never leave a draw above the last entry */
  p->subscribe.zipf_cdf = cdf;
  return 0;
}

void ch_scenario_client_rng(const struct ch_scenario *s, size_t population, size_t client_index, struct ch_rng *rng) {
  uint64_t x = s->seed;
  uint64_t h = ch__splitmix64(&x);
  x = h ^ ((uint64_t)population * 0xd6e8feb86659fd93u);
  h = ch__splitmix64(&x);
  x = h ^ ((uint64_t)client_index * 0xa0761d6478bd642fu);
  ch_rng_seed(rng, ch__splitmix64(&x));
}

size_t ch_scenario_keys_per_client(const struct ch_population *p) {
  if (!p->subscribe.n_keys)
    return 0;
  return p->subscribe.pick == CH_SCN_PICK_ALL ? p->subscribe.n_keys : p->subscribe.per_client;
}

static bool keys_has(const size_t *v, size_t n, size_t x) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == x)
      return true;
  return false;
}

/* Smallest rank whose cumulative probability reaches u (inverse CDF by binary search). */
static size_t keys_zipf_rank(const double *cdf, size_t n, double u) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cdf[mid] < u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int ch_scenario_client_keys(const struct ch_population *p, size_t client_index, struct ch_rng *rng, size_t *out,
                            size_t max, size_t *n) {
  const struct ch_scn_subscribe *sub = &p->subscribe;
  size_t want = ch_scenario_keys_per_client(p), nk = sub->n_keys;
  *n = 0;
  if (want > max)
    return -ENOSPC;
  switch (sub->pick) {
  case CH_SCN_PICK_ALL:
    for (size_t i = 0; i < nk; i++)
      out[i] = i;
    break;
  case CH_SCN_PICK_ROUND_ROBIN:
    for (size_t j = 0; j < want; j++)
      out[j] = (size_t)(((uint64_t)client_index * want + j) % nk);
    break;
  case CH_SCN_PICK_UNIFORM:
    /* Floyd's sampling: `want` distinct keys with `want` draws, no rejection loop */
    for (size_t j = nk - want, i = 0; j < nk; j++, i++) {
      size_t t = (size_t)ch_rng_below(rng, (uint64_t)j + 1);
      out[i] = keys_has(out, i, t) ? j : t;
    }
    break;
  case CH_SCN_PICK_ZIPF:
    for (size_t i = 0; i < want; i++) {
      size_t r = keys_zipf_rank(sub->zipf_cdf, nk, ch_rng_unit(rng));
      /* distinct keys: a repeat draws again a bounded number of times, then takes the next free rank */
      for (int tries = 0; keys_has(out, i, r) && tries < 32; tries++)
        r = keys_zipf_rank(sub->zipf_cdf, nk, ch_rng_unit(rng));
      while (keys_has(out, i, r))
        r = (r + 1) % nk;
      out[i] = r;
    }
    break;
  }
  *n = want;
  return 0;
}

static int keys_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ch_scenario_subscribed_keys(const struct ch_scenario *s, int only, const char ***keys, size_t *n) {
  *keys = NULL;
  *n = 0;
  size_t total = 0;
  for (size_t p = 0; p < s->n_populations; p++)
    if (only < 0 || (size_t)only == p)
      total += s->populations[p].subscribe.n_keys;
  if (!total)
    return 0;
  const char **out = malloc(total * sizeof *out);
  if (!out)
    return -ENOMEM;
  size_t m = 0;
  for (size_t p = 0; p < s->n_populations; p++) {
    const struct ch_population *pop = &s->populations[p];
    size_t nk = pop->subscribe.n_keys, per = ch_scenario_keys_per_client(pop);
    if ((only >= 0 && (size_t)only != p) || !nk)
      continue;
    bool every = pop->subscribe.pick == CH_SCN_PICK_ALL || pop->sessions.enabled || /* sessions draw anew */
                 (pop->subscribe.pick == CH_SCN_PICK_ROUND_ROBIN && (uint64_t)pop->count * per >= nk);
    if (every) {
      for (size_t k = 0; k < nk; k++)
        out[m++] = pop->subscribe.keys[k];
      continue;
    }
    /* random picks (or too few clients for round-robin to cover every key): replay them */
    bool *used = calloc(nk, sizeof *used);
    size_t *pick = malloc(per * sizeof *pick);
    if (!used || !pick) {
      free(used);
      free(pick);
      free(out);
      return -ENOMEM;
    }
    for (size_t c = 0; c < pop->count; c++) {
      struct ch_rng rng;
      size_t got;
      ch_scenario_client_rng(s, p, c, &rng);
      if (ch_scenario_client_keys(pop, c, &rng, pick, per, &got) == 0)
        for (size_t i = 0; i < got; i++)
          used[pick[i]] = true;
    }
    for (size_t k = 0; k < nk; k++)
      if (used[k])
        out[m++] = pop->subscribe.keys[k];
    free(used);
    free(pick);
  }
  qsort(out, m, sizeof *out, keys_cmp);
  size_t u = 0;
  for (size_t i = 0; i < m; i++)
    if (!u || strcmp(out[u - 1], out[i]))
      out[u++] = out[i];
  *keys = out;
  *n = u;
  return 0;
}
