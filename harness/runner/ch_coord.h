/* ch_coord: one timeline for a run split over shards (`run --processes N`; later MPI ranks). The coordinator (the
   parent, later rank 0) starts each phase on every shard together and ends it once every shard has ended it (a
   barrier per phase), and, against an external target, owns the scenario's trigger stream: it plans each trigger
   phase, gives every shard the plan (each trigger's key, sequence number, nonce index and intended time) before the
   first request is sent, sends each trigger once, then tells the shards what was sent. Each shard judges its own
   subscribers against that plan exactly as a single process does.

   The coordination is a handful of small messages (struct ch_coord_msg) over a link. A link is a transport: a byte
   stream (a socketpair per shard, framed by ch_coord_link_*) or MPI between rank 0 and rank k (ch_coord_mpi.c,
   `run --mpi`), which also keeps the link alive (heartbeats), estimates the clock offset of its shard's host and
   tells the shard. Numbers travel in host byte order: MPI ranks of one run are one architecture (x86-64 here).
   Times are monotonic nanoseconds: GO's t0 absolute (the shard corrects it by its link's clock offset), plan and
   PROGRESS times offsets from t0, DROPPED's an age. */
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
  CH_COORD_STOP,      /* C->S: another shard was lost: stop as after SIGTERM (MPI ranks; forked shards get a kill) */
  CH_COORD_END,       /* C->S: the timeline is over: the link reads as closed, sending still works (MPI) */
  CH_COORD_REPORT,    /* S->C: the shard's report.json text (MPI: no shared file system assumed) */
  CH_COORD_RANK,      /* S->C: the shard's rank line (JSON text: host, CPU, RSS, clients) */
  CH_COORD_FIN,       /* C->S: the reports are in; u8 1: a rank was lost (no MPI_Finalize, it could wait forever) */
  CH_COORD_CHECKPOINT, /* S->C: a checkpoint's report.json text (MPI; the link keeps the last one, for a report
                          written in the second mpirun leaves rank 0 when it ends the job) */
  CH_COORD_HEARTBEAT = 64, /* link-internal (MPI): keep-alive, clock ping/pong and the offset told to the shard */
  CH_COORD_PING,
  CH_COORD_PONG,
  CH_COORD_CLOCK,
};

struct ch_coord_msg {
  unsigned type;
  const unsigned char *p; /* payload, valid until the next receive on the link */
  size_t n;
};

struct ch_coord_link;
/* Another transport than the stream (ch_coord_mpi.c). */
struct ch_coord_link_ops {
  int (*send)(struct ch_coord_link *l, unsigned type, const void *p, size_t n);
  int (*recv)(struct ch_coord_link *l, int timeout_ms, struct ch_coord_msg *m);
  void (*unread)(struct ch_coord_link *l);
  bool (*pending)(struct ch_coord_link *l); /* a message may be waiting (never blocks) */
  void (*tick)(struct ch_coord_link *l);    /* keeps the link alive (a heartbeat when one is due) */
  void (*sync)(struct ch_coord_link *l);    /* coordinator: estimates the shard's clock offset and tells it */
  void (*free)(struct ch_coord_link *l);
};

/* A link. The stream link: length-prefixed frames ([u32 length][u32 type][payload]) over a connected socket. */
struct ch_coord_link {
  int fd; /* the stream's socket; -1 for other transports */
  struct ch_buf in;
  size_t used; /* bytes of `in` taken by the message last returned */
  const struct ch_coord_link_ops *ops; /* NULL: the stream */
  void *impl;
  /* The shard's monotonic clock minus the coordinator's (ns), as the coordinator last estimated it over this link,
     and the estimate's uncertainty (half the best round trip); 0 for the stream (one host, one clock). */
  int64_t clock_offset_ns;
  uint64_t clock_uncertainty_ns, clock_uncertainty_max_ns;
  unsigned clock_syncs;
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
/* Waits at most timeout_ms until one of the n links may have a message. */
void ch_coord_link_wait(struct ch_coord_link *const *ls, unsigned n, int timeout_ms);
void ch_coord_link_tick(struct ch_coord_link *l);  /* no-op for the stream */
void ch_coord_link_sync(struct ch_coord_link *l);  /* no-op for the stream */

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
   it starts no new phase; when a shard is lost or leaves, it sends SIGTERM to the other pids (CH_COORD_STOP over
   links without a pid) so that they end with a report. Before each phase it refreshes the clock offsets. Returns 0, or a negative errno when the timeline could not be set up. */
int ch_coord_run(const struct ch_run_opts *o, const struct ch_scenario *s, struct ch_coord_link *links,
                 const pid_t *pids, unsigned n, struct ch_interrupt *intr, struct ch_coord_outcome *out);

#endif /* CH_COORD_H */
