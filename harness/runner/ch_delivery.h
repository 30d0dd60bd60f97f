/* ch_delivery: what one subscriber received of one key, by that key's sequence numbers (1, 2, 3, ...).
   Exactly-once, ordering and loss are judged per (client, key) against the ranges of sequence numbers that the
   triggers produced while the client was subscribed. Owned by the worker thread of its client: no locking. */
#ifndef CH_DELIVERY_H
#define CH_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ch_delivery_verdict {
  CH_DELIVERY_NEW = 0,      /* first time this sequence number arrives, in order */
  CH_DELIVERY_LATE,         /* first time, but after a higher sequence number: out of order */
  CH_DELIVERY_DUPLICATE,    /* this sequence number arrived before */
  CH_DELIVERY_INVALID,      /* sequence number 0 or beyond the tracker's limit */
};

struct ch_delivery {
  uint64_t *bits;      /* bit s-1 set when sequence s arrived; grows on demand up to `limit` */
  uint32_t nwords;
  uint32_t limit;      /* highest sequence number accepted */
  uint32_t highest;    /* highest sequence number seen */
  uint32_t received;   /* distinct sequence numbers */
  uint32_t duplicates;
  uint32_t out_of_order;
};

void ch_delivery_init(struct ch_delivery *d, uint32_t limit);
void ch_delivery_free(struct ch_delivery *d);
enum ch_delivery_verdict ch_delivery_record(struct ch_delivery *d, uint32_t seq);
bool ch_delivery_has(const struct ch_delivery *d, uint32_t seq);
/* How many of the sequence numbers lo..hi (inclusive) never arrived. */
uint32_t ch_delivery_missing(const struct ch_delivery *d, uint32_t lo, uint32_t hi);
/* How many of lo..hi did arrive. */
uint32_t ch_delivery_count(const struct ch_delivery *d, uint32_t lo, uint32_t hi);

#endif /* CH_DELIVERY_H */
