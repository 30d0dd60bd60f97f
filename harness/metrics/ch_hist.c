#include "ch_hist.h"

#include "ch_base64.h"

#include <errno.h>
#include <math.h>
#include <string.h>

void ch_hist_init(struct ch_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

uint64_t ch_hist_bucket_low(size_t i) {
  if (i < CH_HIST_LINEAR)
    return i;
  size_t k = i - CH_HIST_LINEAR;
  unsigned e = (unsigned)(k / CH_HIST_SUB) + CH_HIST_SUB_BITS + 1;
  uint64_t sub = k % CH_HIST_SUB;
  return (CH_HIST_SUB + sub) << (e - CH_HIST_SUB_BITS);
}

uint64_t ch_hist_bucket_high(size_t i) {
  if (i < CH_HIST_LINEAR)
    return i;
  unsigned e = (unsigned)((i - CH_HIST_LINEAR) / CH_HIST_SUB) + CH_HIST_SUB_BITS + 1;
  return ch_hist_bucket_low(i) + (1ull << (e - CH_HIST_SUB_BITS)) - 1;
}

bool ch_hist_record_n(struct ch_hist *h, uint64_t v, uint64_t n) {
  if (v > CH_HIST_MAX_NS) {
    h->overflow += n;
    return false;
  }
  if (!n)
    return true;
  h->counts[ch_hist_index(v)] += n;
  h->count += n;
  h->sum += (double)v * (double)n;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
  return true;
}

bool ch_hist_record_corrected(struct ch_hist *h, uint64_t v, uint64_t interval) {
  if (!ch_hist_record(h, v))
    return false;
  if (!interval || v < 2 * interval)
    return true;
  /* Missing samples x_k = v - k*interval for k = 1..K, K = v/interval - 1 (so x_K >= interval). Walk down bucket
     by bucket: all x_k in one bucket are counted with one addition, so the cost is bounded by the bucket count. */
  uint64_t K = v / interval - 1, k = 1;
  while (k <= K) {
    uint64_t x = v - k * interval;
    size_t idx = ch_hist_index(x);
    uint64_t lo = ch_hist_bucket_low(idx);
    uint64_t last = (v - lo) / interval; /* largest k with x_k >= lo */
    if (last > K)
      last = K;
    uint64_t n = last - k + 1;
    h->counts[idx] += n;
    h->count += n;
    /* sum of x_k for k..last: n*v - interval*(k+last)*n/2 */
    h->sum += (double)n * (double)v - (double)interval * ((double)k + (double)last) * (double)n / 2.0;
    uint64_t xlast = v - last * interval;
    if (xlast < h->min)
      h->min = xlast;
    k = last + 1;
  }
  return true;
}

void ch_hist_add(struct ch_hist *dst, const struct ch_hist *src) {
  dst->overflow += src->overflow;
  if (!src->count)
    return;
  for (size_t i = 0; i < CH_HIST_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
}

static uint64_t hist_repr(const struct ch_hist *h, size_t i) {
  uint64_t lo = ch_hist_bucket_low(i), hi = ch_hist_bucket_high(i);
  uint64_t v = lo + (hi - lo) / 2;
  if (v < h->min)
    v = h->min;
  if (v > h->max)
    v = h->max;
  return v;
}

uint64_t ch_hist_value_at(const struct ch_hist *h, double pct) {
  if (!h->count)
    return 0;
  if (!(pct > 0))
    return h->min;
  if (pct >= 100)
    return h->max;
  double r = ceil(pct / 100.0 * (double)h->count);
  uint64_t rank = r < 1 ? 1 : (uint64_t)r;
  if (rank > h->count)
    rank = h->count;
  uint64_t cum = 0;
  for (size_t i = 0; i < CH_HIST_BUCKETS; i++) {
    cum += h->counts[i];
    if (cum >= rank)
      return hist_repr(h, i);
  }
  return h->max;
}

double ch_hist_mean(const struct ch_hist *h) { return h->count ? h->sum / (double)h->count : 0; }

double ch_hist_stddev(const struct ch_hist *h) {
  if (!h->count)
    return 0;
  double mean = ch_hist_mean(h), acc = 0;
  for (size_t i = 0; i < CH_HIST_BUCKETS; i++) {
    if (h->counts[i]) {
      double d = (double)hist_repr(h, i) - mean;
      acc += d * d * (double)h->counts[i];
    }
  }
  return sqrt(acc / (double)h->count);
}

void ch_hist_iter_init(struct ch_hist_iter *it, const struct ch_hist *h) {
  memset(it, 0, sizeof *it);
  it->h = h;
}

bool ch_hist_iter_next(struct ch_hist_iter *it) {
  const struct ch_hist *h = it->h;
  while (it->next < CH_HIST_BUCKETS && !h->counts[it->next])
    it->next++;
  if (it->next >= CH_HIST_BUCKETS)
    return false;
  size_t i = it->next++;
  it->low = ch_hist_bucket_low(i);
  it->high = ch_hist_bucket_high(i);
  it->value = hist_repr(h, i);
  it->count = h->counts[i];
  it->cumulative += it->count;
  return true;
}

/* ---- serialised form ---- */

static int put_varint(struct ch_buf *b, uint64_t v) {
  unsigned char tmp[10];
  size_t n = 0;
  do {
    unsigned char c = v & 0x7f;
    v >>= 7;
    tmp[n++] = c | (v ? 0x80 : 0);
  } while (v);
  return ch_buf_append(b, tmp, n);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

int ch_hist_serialize(const struct ch_hist *h, struct ch_buf *out) {
  struct ch_buf raw = CH_BUF_INIT;
  uint64_t sumbits;
  memcpy(&sumbits, &h->sum, sizeof sumbits);
  int rc = put_varint(&raw, 1);
  rc = rc ? rc : put_varint(&raw, CH_HIST_SUB_BITS);
  rc = rc ? rc : put_varint(&raw, h->overflow);
  rc = rc ? rc : put_varint(&raw, h->count ? h->min : 0);
  rc = rc ? rc : put_varint(&raw, h->count ? h->max : 0);
  rc = rc ? rc : put_varint(&raw, sumbits);
  size_t zeros = 0;
  for (size_t i = 0; i < CH_HIST_BUCKETS && !rc; i++) {
    if (!h->counts[i]) {
      zeros++;
      continue;
    }
    if (zeros)
      rc = put_varint(&raw, zigzag(-(int64_t)zeros));
    zeros = 0;
    /* counts above INT64_MAX cannot occur in practice (2^63 samples); cap to keep the coding well-defined */
    uint64_t c = h->counts[i] > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : h->counts[i];
    if (!rc)
      rc = put_varint(&raw, zigzag((int64_t)c));
  }
  rc = rc ? rc : ch_buf_puts(out, "HDR1:");
  rc = rc ? rc : ch_base64_encode(out, raw.data, raw.len, false);
  ch_buf_free(&raw);
  return rc;
}

struct rd {
  const unsigned char *p;
  size_t n, off;
};

static int get_varint(struct rd *r, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (r->off >= r->n)
      return -1;
    unsigned char c = r->p[r->off++];
    if (shift == 63 && (c & 0x7e))
      return -1;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

static int hist_bad(struct ch_hist *h, struct ch_buf *err, const char *why) {
  ch_hist_init(h);
  if (err)
    ch_buf_printf(err, "bad histogram: %s", why);
  return -EINVAL;
}

int ch_hist_parse(struct ch_hist *h, const char *s, size_t n, struct ch_buf *err) {
  ch_hist_init(h);
  if (n < 5 || memcmp(s, "HDR1:", 5) != 0)
    return hist_bad(h, err, "expected the prefix \"HDR1:\"");
  s += 5, n -= 5;
  struct ch_buf raw = CH_BUF_INIT;
  int brc = ch_base64_decode(&raw, s, n, false);
  if (brc) {
    ch_buf_free(&raw);
    return brc == -ENOMEM ? -ENOMEM : hist_bad(h, err, n % 4 == 1 ? "truncated base64" : "invalid base64 character");
  }
  struct rd r = {(const unsigned char *)raw.data, raw.len, 0};
  uint64_t ver, sb, ovf, mn, mx, sumbits;
  const char *why = NULL;
  if (get_varint(&r, &ver) || get_varint(&r, &sb) || get_varint(&r, &ovf) || get_varint(&r, &mn) ||
      get_varint(&r, &mx) || get_varint(&r, &sumbits))
    why = "truncated header";
  else if (ver != 1)
    why = "unsupported version";
  else if (sb != CH_HIST_SUB_BITS)
    why = "unsupported precision (sub-bucket bits)";
  size_t idx = 0;
  uint64_t total = 0;
  while (!why && r.off < r.n) {
    uint64_t z;
    if (get_varint(&r, &z)) {
      why = "truncated count";
      break;
    }
    int64_t v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    if (v < 0) {
      uint64_t skip = (uint64_t)(-(v + 1)) + 1;
      if (skip > CH_HIST_BUCKETS - idx)
        why = "bucket index out of range";
      else
        idx += (size_t)skip;
    } else if (v == 0) {
      why = "zero count";
    } else if (idx >= CH_HIST_BUCKETS) {
      why = "bucket index out of range";
    } else if (total + (uint64_t)v < total) {
      why = "count overflow";
    } else {
      h->counts[idx++] = (uint64_t)v;
      total += (uint64_t)v;
    }
  }
  ch_buf_free(&raw);
  double sum;
  memcpy(&sum, &sumbits, sizeof sum);
  if (!why && total) {
    if (mn > mx || mx > CH_HIST_MAX_NS)
      why = "min/max out of range";
    else if (!h->counts[ch_hist_index(mn)] || !h->counts[ch_hist_index(mx)])
      why = "min/max do not match the counts";
    else {
      /* no bucket may lie wholly outside [min, max] */
      for (size_t i = 0; i < CH_HIST_BUCKETS && !why; i++)
        if (h->counts[i] && (ch_hist_bucket_high(i) < mn || ch_hist_bucket_low(i) > mx))
          why = "counts outside min/max";
    }
  }
  if (!why && !(isfinite(sum) && sum >= 0))
    why = "invalid sum";
  if (why)
    return hist_bad(h, err, why);
  h->count = total;
  h->overflow = ovf;
  h->min = total ? mn : UINT64_MAX;
  h->max = total ? mx : 0;
  h->sum = total ? sum : 0;
  return 0;
}
