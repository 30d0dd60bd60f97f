/* The coordination's MPI transport (ch_coord.h): the same messages between rank 0 (the coordinator) and rank k, one
   MPI message each (tag = type, payload bytes). Sends and probes never block without a bound, so a rank that died
   (with `mpirun --enable-recovery` the others live on) is seen as a link that went silent: both ends send a
   heartbeat when they sent nothing for a quarter second, and a link that heard nothing for the timeout is lost.
   The link also answers the coordinator's clock pings and keeps the offset it is told (clock_offset_ns). Every MPI
   call of a process is made from its main thread (MPI_THREAD_FUNNELED). */
#include "ch_run_mpi.h"

#ifdef CH_HAVE_MPI
#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_coord.h"

#define MPI_LINK_HEARTBEAT_NS 250000000u
#define MPI_LINK_SYNC_SAMPLES 9 /* the first wakes the peer from its polling sleep and is not used */

/* A send MPI has not completed yet: it owns its copy of the payload until then. */
struct ml_out {
  MPI_Request rq;
  unsigned char *buf;
  uint64_t since;
};

struct mpi_link {
  MPI_Comm comm;
  int peer;
  unsigned char *msg; /* the message last received: payload */
  size_t msg_n, msg_cap;
  unsigned msg_type;
  bool have, used;     /* msg holds a message; it was returned (dropped at the next receive unless put back) */
  bool closed, stopped, lost;
  uint64_t last_heard, last_sent, timeout_ns;
  struct ml_out *out;  /* sends in flight, oldest first */
  size_t n_out, cap_out;
  char *ckpt;          /* coordinator: the shard's last checkpoint (report.json text), NULL none yet */
  size_t ckpt_n;
};

static struct mpi_link *ml(struct ch_coord_link *l) { return l->impl; }

static void ml_nap(long ns) {
  struct timespec ts = {0, ns};
  nanosleep(&ts, NULL);
}

/* Completes what MPI finished sending; a send older than the timeout means the peer is gone (a dead rank never
   takes a message: waiting for it would stop this rank's heartbeats to every other one). */
static void ml_progress(struct mpi_link *m) {
  size_t keep = 0;
  for (size_t i = 0; i < m->n_out; i++) {
    int done = 0;
    if (!m->lost && MPI_Test(&m->out[i].rq, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      m->lost = true;
    if (done)
      free(m->out[i].buf);
    else
      m->out[keep++] = m->out[i];
  }
  m->n_out = keep;
  uint64_t limit = m->timeout_ns ? m->timeout_ns : 60000000000u;
  if (m->n_out && ch_now_ns() - m->out[0].since > limit)
    m->lost = true; /* what is still in flight stays with MPI (never freed): it may yet read the buffers */
}

static int ml_send(struct ch_coord_link *l, unsigned type, const void *p, size_t n) {
  struct mpi_link *m = ml(l);
  ml_progress(m);
  if (m->lost)
    return -EPIPE;
  if (n > INT_MAX)
    return -EMSGSIZE;
  if (m->n_out == m->cap_out) {
    size_t cap = m->cap_out ? m->cap_out * 2 : 8;
    struct ml_out *no = realloc(m->out, cap * sizeof *no);
    if (!no)
      return -ENOMEM;
    m->out = no;
    m->cap_out = cap;
  }
  struct ml_out *o = &m->out[m->n_out];
  o->buf = malloc(n ? n : 1);
  if (!o->buf)
    return -ENOMEM;
  if (n)
    memcpy(o->buf, p, n);
  o->since = ch_now_ns();
  if (MPI_Isend(o->buf, (int)n, MPI_BYTE, m->peer, (int)type, m->comm, &o->rq) != MPI_SUCCESS) {
    free(o->buf);
    m->lost = true;
    return -EPIPE;
  }
  m->n_out++;
  m->last_sent = o->since;
  ml_progress(m);
  return 0;
}

static void ml_tick(struct ch_coord_link *l) {
  struct mpi_link *m = ml(l);
  if (!m->lost && ch_now_ns() - m->last_sent > MPI_LINK_HEARTBEAT_NS)
    ml_send(l, CH_COORD_HEARTBEAT, NULL, 0);
}

/* Takes one message of the tag (MPI_ANY_TAG: any) into m->msg if there is one: 1, 0 none, -1 an MPI error. */
static int ml_take(struct mpi_link *m, int tag) {
  int flag = 0, count = 0;
  MPI_Status st;
  if (MPI_Iprobe(m->peer, tag, m->comm, &flag, &st) != MPI_SUCCESS)
    return -1;
  if (!flag)
    return 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  if ((size_t)count + 1 > m->msg_cap) {
    unsigned char *nb = realloc(m->msg, (size_t)count + 1);
    if (!nb)
      return -1;
    m->msg = nb;
    m->msg_cap = (size_t)count + 1;
  }
  if (MPI_Recv(m->msg, count, MPI_BYTE, m->peer, st.MPI_TAG, m->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
    return -1;
  m->msg_n = (size_t)count;
  m->msg_type = (unsigned)st.MPI_TAG;
  m->last_heard = ch_now_ns();
  return 1;
}

static void ml_pong(struct ch_coord_link *l) {
  uint64_t now = ch_now_ns();
  ml_send(l, CH_COORD_PONG, &now, sizeof now);
}

/* The shard's side of a clock sync: after the first ping the others follow at once, so they are answered from a
   busy loop (a polling sleep would add up to a millisecond to every round trip), until the offset arrives. */
static int ml_answer_pings(struct ch_coord_link *l) {
  struct mpi_link *m = ml(l);
  ml_pong(l);
  for (uint64_t t0 = ch_now_ns(); ch_now_ns() - t0 < 200000000u;) {
    int got = ml_take(m, MPI_ANY_TAG);
    if (got < 0)
      return 0;
    if (!got || m->msg_type == CH_COORD_HEARTBEAT)
      continue;
    if (m->msg_type == CH_COORD_PING) {
      ml_pong(l);
      continue;
    }
    if (m->msg_type == CH_COORD_CLOCK && m->msg_n >= 16) {
      memcpy(&l->clock_offset_ns, m->msg, 8);
      memcpy(&l->clock_uncertainty_ns, m->msg + 8, 8);
      if (l->clock_uncertainty_ns > l->clock_uncertainty_max_ns)
        l->clock_uncertainty_max_ns = l->clock_uncertainty_ns;
      l->clock_syncs++;
      return 0;
    }
    return 1; /* anything else is the caller's to handle */
  }
  return 0;
}

/* Link-internal messages are handled here; 1 when m->msg is one for the caller. */
static int ml_internal(struct ch_coord_link *l) {
  struct mpi_link *m = ml(l);
  switch (m->msg_type) {
  case CH_COORD_HEARTBEAT:
  case CH_COORD_PONG: /* a late answer of a sync that gave up */
    return 0;
  case CH_COORD_PING:
    return ml_answer_pings(l) ? ml_internal(l) : 0;
  case CH_COORD_CLOCK:
    if (m->msg_n >= 16) {
      memcpy(&l->clock_offset_ns, m->msg, 8);
      memcpy(&l->clock_uncertainty_ns, m->msg + 8, 8);
    }
    return 0;
  case CH_COORD_STOP: /* another rank was lost: stop as a forked shard stops on its SIGTERM */
    if (!m->stopped)
      kill(getpid(), SIGTERM);
    m->stopped = true;
    return 0;
  case CH_COORD_END:
    m->closed = true;
    return 0;
  case CH_COORD_CHECKPOINT: {
    char *c = malloc(m->msg_n + 1);
    if (c) {
      memcpy(c, m->msg, m->msg_n);
      c[m->msg_n] = '\0';
      free(m->ckpt);
      m->ckpt = c;
      m->ckpt_n = m->msg_n;
    }
    return 0;
  }
  default:
    return 1;
  }
}

static int ml_recv(struct ch_coord_link *l, int timeout_ms, struct ch_coord_msg *out) {
  struct mpi_link *m = ml(l);
  if (m->used)
    m->have = m->used = false;
  ml_tick(l);
  uint64_t t0 = ch_now_ns();
  for (;;) {
    if (!m->have) {
      int got = m->lost ? 0 : ml_take(m, MPI_ANY_TAG); /* after END only FIN can come */
      if (got < 0)
        m->lost = true;
      if (got > 0 && ml_internal(l))
        m->have = true;
    }
    if (m->have) {
      m->used = true;
      out->type = m->msg_type;
      out->p = m->msg;
      out->n = m->msg_n;
      return 1;
    }
    if (m->closed || m->lost)
      return -1;
    uint64_t now = ch_now_ns();
    if (m->timeout_ns && now - m->last_heard > m->timeout_ns) {
      m->lost = true;
      return -1;
    }
    if (now - t0 >= (uint64_t)timeout_ms * 1000000u)
      return 0;
    ml_nap(1000000);
  }
}

static void ml_unread(struct ch_coord_link *l) { ml(l)->used = false; }

static bool ml_pending(struct ch_coord_link *l) {
  struct mpi_link *m = ml(l);
  ml_progress(m);
  if ((m->have && !m->used) || m->closed || m->lost)
    return true;
  if (m->timeout_ns && ch_now_ns() - m->last_heard > m->timeout_ns)
    return true;
  int flag = 0;
  MPI_Iprobe(m->peer, MPI_ANY_TAG, m->comm, &flag, MPI_STATUS_IGNORE);
  return flag != 0;
}

/* The coordinator's side: rounds of ping and pong; the round with the shortest trip bounds the offset best
   (offset = remote - midpoint, uncertainty = half that trip). The shard is told the estimate. */
static void ml_sync(struct ch_coord_link *l) {
  struct mpi_link *m = ml(l);
  if (m->lost)
    return;
  uint64_t best_rtt = UINT64_MAX;
  int64_t best_off = 0;
  for (int i = 0; i < MPI_LINK_SYNC_SAMPLES && !m->lost; i++) {
    uint64_t t1 = ch_now_ns();
    if (ml_send(l, CH_COORD_PING, &t1, sizeof t1))
      return;
    int got = 0;
    /* a shard busy elsewhere answers later: this sync is skipped (loss is the silence's to tell), and the wait
       stays short so that the other links' heartbeats are not held up */
    while (!got && ch_now_ns() - t1 < 1000000000u)
      got = ml_take(m, CH_COORD_PONG); /* only the answer: other messages stay queued in MPI */
    uint64_t t2 = ch_now_ns();
    if (got <= 0 || m->msg_n < 8) {
      m->lost |= got < 0;
      return;
    }
    uint64_t remote;
    memcpy(&remote, m->msg, 8);
    if (i == 0)
      continue;
    if (t2 - t1 < best_rtt) {
      best_rtt = t2 - t1;
      best_off = (int64_t)(remote - (t1 + (t2 - t1) / 2));
    }
  }
  l->clock_offset_ns = best_off;
  l->clock_uncertainty_ns = best_rtt / 2;
  if (l->clock_uncertainty_ns > l->clock_uncertainty_max_ns)
    l->clock_uncertainty_max_ns = l->clock_uncertainty_ns;
  l->clock_syncs++;
  unsigned char b[16];
  memcpy(b, &l->clock_offset_ns, 8);
  memcpy(b + 8, &l->clock_uncertainty_ns, 8);
  ml_send(l, CH_COORD_CLOCK, b, sizeof b);
}

static void ml_free(struct ch_coord_link *l) {
  struct mpi_link *m = ml(l);
  if (!m)
    return;
  for (uint64_t t0 = ch_now_ns(); m->n_out && !m->lost && ch_now_ns() - t0 < 5000000000u; ml_nap(100000))
    ml_progress(m); /* the last messages (END, FIN, a report) reach a live peer before the link goes */
  if (!m->n_out) /* else MPI still holds the requests and their buffers: they are left to it */
    free(m->out);
  free(m->msg);
  free(m->ckpt);
  free(m);
}

static const struct ch_coord_link_ops mpi_ops = {ml_send, ml_recv, ml_unread, ml_pending, ml_tick, ml_sync, ml_free};

int ch_coord_mpi_link_init(struct ch_coord_link *l, void *comm, int peer, uint64_t timeout_ns) {
  memset(l, 0, sizeof *l);
  l->fd = -1;
  struct mpi_link *m = calloc(1, sizeof *m);
  if (!m)
    return -ENOMEM;
  m->comm = *(MPI_Comm *)comm;
  m->peer = peer;
  m->timeout_ns = timeout_ns;
  m->last_heard = m->last_sent = ch_now_ns();
  l->ops = &mpi_ops;
  l->impl = m;
  return 0;
}

const char *ch_coord_mpi_link_checkpoint(struct ch_coord_link *l, size_t *n) {
  if (l->ops != &mpi_ops || !ml(l)->ckpt)
    return NULL;
  *n = ml(l)->ckpt_n;
  return ml(l)->ckpt;
}

bool ch_coord_mpi_link_lost(struct ch_coord_link *l) { return l->ops == &mpi_ops && ml(l)->lost; }

void ch_coord_mpi_link_timeout(struct ch_coord_link *l, uint64_t timeout_ns) {
  if (l->ops == &mpi_ops) {
    ml(l)->timeout_ns = timeout_ns;
    ml(l)->last_heard = ch_now_ns();
  }
}
#endif /* CH_HAVE_MPI */
