/* ch_run_mpi: `mpirun -np N centro-harness run SCENARIO --mpi`: one run over N MPI ranks (README "One run over many
   hosts (MPI)"). Rank 0 is the coordinator of ch_coord.h on its main thread and also shard 0 (a thread of its own,
   linked to the coordinator by a socketpair as a forked shard is); ranks 1..N-1 are shards linked to rank 0 over
   MPI (ch_coord_mpi.c). Clients are split by the usual sharding (shard_index = rank, shard_count = N), so --seed
   reproduces the run. Every rank sends its report.json text and its rank line (host, CPU, RSS, clients) to rank 0,
   which merges them into one report, adds the ranks and their clock offsets, and gives the exit code. Only the
   main thread of a process calls MPI. Without MPI in the build, --mpi exits 3. */
#ifndef CH_RUN_MPI_H
#define CH_RUN_MPI_H

#include <stdbool.h>
#include <stdint.h>

#include "ch_buf.h"

struct ch_coord_link;
struct ch_interrupt;
struct ch_report;
struct ch_run_cli;
struct ch_run_opts;
struct ch_scenario;

struct ch_run_mpi {
  int rank, size;     /* after ch_run_mpi_init */
  bool inited;        /* MPI_Init_thread succeeded; MPI_Finalize is due */
  bool no_finalize;   /* a rank was lost: MPI_Finalize could wait for it forever */
  double timeout_s;   /* --mpi-timeout: a link silent this long is a lost rank */
  void *comm;         /* MPI_Comm (a duplicate of MPI_COMM_WORLD) */
  char *hosts;        /* every rank's host name, CH_RUN_MPI_HOST bytes each (rank 0) */
};
#define CH_RUN_MPI_HOST 64

/* Refuses what --mpi cannot do (a build without MPI, --processes, the live outputs), before MPI starts: -1 go on,
   else the exit code (3) after the message. */
int ch_run_mpi_check(const struct ch_run_cli *cli, const char *command);
/* MPI_Init_thread (FUNNELED) and the ranks' host names: -1 go on, else an exit code (4) after the message. */
int ch_run_mpi_init(struct ch_run_mpi *m, double timeout_s);
/* Rank k > 0: runs its shard and sends its report to rank 0. Returns the rank's exit code (0, or 4 when rank 0
   could not be reached): the run's verdict is rank 0's. */
int ch_run_mpi_shard(struct ch_run_mpi *m, const struct ch_run_opts *o, const struct ch_scenario *s);
/* Rank 0: coordinates, runs shard 0, gathers and merges every rank's report into rep (dir: the run's folder).
   Returns the run's exit code; err says why for 4. */
int ch_run_mpi_coord(struct ch_run_mpi *m, const struct ch_run_opts *o, const struct ch_scenario *s, const char *dir,
                     struct ch_report *rep, struct ch_interrupt *intr, struct ch_buf *err);
/* capacity --mpi: rank 0 tells every other rank the next step (its index from 0) or -1 (the search is over) before
   each step, so that every rank walks the same steps; never after a rank was lost (the others heard so in FIN).
   0, or -1 when MPI failed. */
int ch_run_mpi_step_send(struct ch_run_mpi *m, int64_t step);
/* Rank k > 0: waits (bounded) for rank 0's word. 0 (step filled), or -1 when none came or MPI failed. */
int ch_run_mpi_step_recv(struct ch_run_mpi *m, int64_t *step);
/* MPI_Finalize (unless a rank was lost). Idempotent. */
void ch_run_mpi_end(struct ch_run_mpi *m);

/* ch_coord_mpi.c: a link to rank `peer` over comm (an MPI_Comm *); timeout_ns 0: never lost by silence. */
int ch_coord_mpi_link_init(struct ch_coord_link *l, void *comm, int peer, uint64_t timeout_ns);
bool ch_coord_mpi_link_lost(struct ch_coord_link *l);
/* The last checkpoint (report.json text) the shard sent over the link, NULL none. */
const char *ch_coord_mpi_link_checkpoint(struct ch_coord_link *l, size_t *n);
void ch_coord_mpi_link_timeout(struct ch_coord_link *l, uint64_t timeout_ns);

#endif /* CH_RUN_MPI_H */
