/* The run's key table: every key a population subscribes to or a trigger names, found without locks by the
   workers once the run starts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch_run_int.h"

static uint64_t keys_hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 1099511628211u;
  return h;
}

long run_keys_find(const struct run_keys *k, const char *name, size_t len) {
  if (!k->nslots)
    return -1;
  for (size_t i = keys_hash(name, len) & (k->nslots - 1);; i = (i + 1) & (k->nslots - 1)) {
    uint32_t v = k->slots[i];
    if (!v)
      return -1;
    const char *s = k->names[v - 1];
    if (!strncmp(s, name, len) && s[len] == '\0') /* stops at s's end: no strlen per lookup */
      return (long)(v - 1);
  }
}

static int keys_rehash(struct run_keys *k, size_t nslots) {
  uint32_t *slots = calloc(nslots, sizeof *slots);
  if (!slots)
    return -ENOMEM;
  for (size_t j = 0; j < k->n; j++) {
    size_t i = keys_hash(k->names[j], strlen(k->names[j])) & (nslots - 1);
    while (slots[i])
      i = (i + 1) & (nslots - 1);
    slots[i] = (uint32_t)j + 1;
  }
  free(k->slots);
  k->slots = slots;
  k->nslots = nslots;
  return 0;
}

int run_keys_add(struct run_keys *k, const char *name, size_t len, uint32_t *idx) {
  long found = run_keys_find(k, name, len);
  if (found >= 0) {
    *idx = (uint32_t)found;
    return 0;
  }
  if ((k->n + 1) * 2 > k->nslots && keys_rehash(k, k->nslots ? k->nslots * 2 : 64))
    return -ENOMEM;
  if ((k->n & (k->n + 1)) == 0 || k->n == 0) { /* grow names at powers of two */
    char **names = realloc(k->names, (k->n + 1) * 2 * sizeof *names);
    if (!names)
      return -ENOMEM;
    k->names = names;
  }
  char *copy = strndup(name, len);
  if (!copy)
    return -ENOMEM;
  k->names[k->n] = copy;
  size_t i = keys_hash(name, len) & (k->nslots - 1);
  while (k->slots[i])
    i = (i + 1) & (k->nslots - 1);
  k->slots[i] = (uint32_t)k->n + 1;
  *idx = (uint32_t)k->n++;
  return 0;
}

void run_keys_free(struct run_keys *k) {
  for (size_t i = 0; i < k->n; i++)
    free(k->names[i]);
  free(k->names);
  free(k->slots);
  memset(k, 0, sizeof *k);
}

