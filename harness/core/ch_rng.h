/* ch_rng: xoshiro256** seeded through splitmix64. One per thread; never shared. */
#ifndef CH_RNG_H
#define CH_RNG_H

#include <stdint.h>

struct ch_rng {
  uint64_t s[4];
};

static inline uint64_t ch__splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static inline void ch_rng_seed(struct ch_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    r->s[i] = ch__splitmix64(&seed);
}

static inline uint64_t ch_rng_next(struct ch_rng *r) {
  uint64_t *s = r->s;
  uint64_t t = s[1] << 17, x = s[1] * 5;
  uint64_t result = ((x << 7) | (x >> 57)) * 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

/* One draw from a one-word generator (splitmix64), for state that must stay small, e.g. one per connection. */
static inline uint64_t ch_rng_split(uint64_t *state) { return ch__splitmix64(state); }

/* Uniform in [0, n); n > 0. */
static inline uint64_t ch_rng_below(struct ch_rng *r, uint64_t n) { return ch_rng_next(r) % n; }

/* Uniform in [0, 1). */
static inline double ch_rng_unit(struct ch_rng *r) { return (double)(ch_rng_next(r) >> 11) * 0x1.0p-53; }

#endif /* CH_RNG_H */
