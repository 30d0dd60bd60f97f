/* ch_coord: one timeline for a run split over shards (`run --processes N`; later MPI ranks). The coordinator (the
   parent, later rank 0) starts each phase on every shard together and ends it once every shard has ended it (a
   barrier per phase), and, against an external target, owns the scenario's trigger stream: it plans each trigger
   phase, gives every shard the plan (each trigger's key, sequence number, nonce index and intended time) before the
   first request is sent, sends each trigger once, then tells the shards what was sent. Each shard judges its own
   subscribers against that plan exactly as a single process does.

   The coordination is a handful of small messages (struct ch_coord_msg) over a link. A link is a transport: today
   a byte stream (a socketpair per shard, framed by ch_coord_link_*); an MPI transport only has to carry the same
   messages between rank 0 and rank k. Numbers travel in host byte order: the shards of one run share one host.
   Times are monotonic nanoseconds: GO's t0 absolute, plan and PROGRESS times offsets from t0 (so a transport
   across hosts corrects GO's t0 by its clock offset), DROPPED's an age. */
#ifndef CH_COORD_H
#define CH_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ch_buf.h"

struct ch_report;
struct ch_run_opts;
struct ch_scenario;
struct ch_interrupt;

enum ch_coord_type {
  CH_COORD_HELLO = 1, /* C->S: u64 run id (the nonce prefix), u8 the coordinator sends the triggers */
  CH_COORD_START,     /* C->S: u32 phase: start it */
  CH_COORD_READY,     /* S->C: u32 phase: its clients are in the phase; triggers may be planned */
  CH_COORD_PLAN,      /* C->S: u32 phase, u32 np, per trigger phase: header, K key indexes, n (key, seq, offset) */
  CH_COORD_GO,        /* C->S: u32 phase, u64 t0 (monotonic): the plan's times are offsets from t0 */
  CH_COORD_ACK,       /* S->C: u32 phase: the plan (or the times) are in place */
  CH_COORD_SENT,      /* C->S: u32 phase, u32 np, per trigger phase: u32 n_sent, u64 sent/ok/failed, first error */
  CH_COORD_DONE,      /* S->C: u32 phase: it ended the phase */
  CH_COORD_LEAVE,     /* S->C: its timeline ended early (nothing can be measured); u32 phase */
  CH_COORD_ABORT,     /* S->C and C->S: a threshold marked abort_on_fail was lost; the reason (text). Only the
                         disconnect is left: the coordinator sends no further trigger and starts no other phase */
  CH_COORD_DROPPED,   /* C->S: u32 phase, u64 how long ago (ns, when this message was sent) the drop request was
                         sent, u8 it answered 2xx, then what it answered (text): a drop phase's one request, after
                         every shard's READY (its clients up then are marked). An age, not a time: no clock offset */
  CH_COORD_PROGRESS,  /* C->S: u32 phase, u32 first (run-wide trigger index), u32 n, n x u64 send time as an offset
                         from GO's t0: a steady phase's triggers as they are sent, so that a shard judges each session
                         interval (owed: sent while it held the key) when the session leaves, mid-phase */
};

struct ch_coord_msg {
  unsigned type;
  const unsigned char *p; /* payload, valid until the next receive on the link */
  size_t n;
};

/* A stream link: length-prefixed frames ([u32 length][u32 type][payload]) over a connected socket. */
struct ch_coord_link {
  int fd;
  struct ch_buf in;
  size_t used; /* bytes of `in` taken by the message last returned */
};
void ch_coord_link_init(struct ch_coord_link *l, int fd);
/* Sends one message whole (blocks until written). 0 or a negative errno. */
int ch_coord_link_send(struct ch_coord_link *l, unsigned type, const void *p, size_t n);
/* Receives the next message, waiting at most timeout_ms: 1 (m filled), 0 (none yet), -1 (the peer is gone or sent
   garbage). */
int ch_coord_link_recv(struct ch_coord_link *l, int timeout_ms, struct ch_coord_msg *m);
/* Puts the message last returned back: the next receive returns it again. */
void ch_coord_link_unread(struct ch_coord_link *l);
void ch_coord_link_free(struct ch_coord_link *l); /* closes fd */

/* Reading and writing message fields. */
void ch_coord_put32(struct ch_buf *b, uint32_t v);
void ch_coord_put64(struct ch_buf *b, uint64_t v);
struct ch_coord_rd {
  const unsigned char *p;
  size_t n, off;
  bool bad; /* read past the end */
};
uint32_t ch_coord_get32(struct ch_coord_rd *r);
uint64_t ch_coord_get64(struct ch_coord_rd *r);
const void *ch_coord_getn(struct ch_coord_rd *r, size_t n);

/* What the coordinator saw of the shards, for the run's verdict. */
struct ch_coord_outcome {
  int lost_shard;       /* the first shard whose link ended before the run did (died), -1 none */
  int left_shard;       /* the first shard that left early (LEAVE), -1 none */
  int lost_phase;       /* the phase the coordinator was in then (-1 set-up) */
  uint64_t triggers;    /* triggers the coordinator sent */
  char abort_reason[384]; /* a shard's abort_on_fail, "" none */
  double cpu_s;         /* the coordinator's CPU time (user + system) over the timeline */
  uint64_t late_p50_ns, late_p99_ns; /* how long after its intended time each trigger was handed to curl */
};

/* The parent of `run --processes`: walks the scenario's timeline with n shards over links[0..n) (the parent's
   ends), forwarding the barrier and, against an external target, sending the triggers itself. On a signal (intr)
   it starts no new phase; when a shard is lost or leaves, it sends SIGTERM to the other pids so that they end with
   a report. Returns 0, or a negative errno when the timeline could not be set up. */
int ch_coord_run(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_coord_link *links,
                 const pid_t *pids, unsigned n, struct ch_interrupt *intr, struct ch_coord_outcome *out);

#endif /* CH_COORD_H */
