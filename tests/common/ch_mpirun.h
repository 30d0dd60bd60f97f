/* ch_mpirun: the binary under Open MPI's mpirun on loopback, for the tests of `run --mpi` (test_run_mpi.c,
   test_run_coord_phases.c): mpirun's options, whether mpirun is there, and what root (CI containers) needs. */
#ifndef CH_MPIRUN_H
#define CH_MPIRUN_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* mpirun on loopback only, more ranks than cores allowed. */
static const char *const ch_mpirun_head[] = {"mpirun", "--oversubscribe", "--mca", "btl", "self,tcp", "--mca",
                                             "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo", NULL};

/* The storage of the strings ch_mpirun_argv puts in argv: it must outlive the run. */
struct ch_mpirun {
  char np[8], asan[512];
};

/* Puts `mpirun ... -np ranks [mpi_extra...]` into argv from index n: the index after it. */
static inline int ch_mpirun_argv(struct ch_mpirun *m, int ranks, const char *const mpi_extra[], char *argv[], int n) {
  for (int i = 0; ch_mpirun_head[i]; i++)
    argv[n++] = (char *)ch_mpirun_head[i];
  /* ASan build: Open MPI 4.1 unloads its components in MPI_Finalize, which leaves their allocations unreachable
     with no module left to name in a suppression; leak checking is off in the ranks only (the runs without
     mpirun, and every other test of the code the ranks run, keep it). */
  const char *ao = getenv("ASAN_OPTIONS");
  if (ao) {
    snprintf(m->asan, sizeof m->asan, "ASAN_OPTIONS=%s:detect_leaks=0", ao);
    argv[n++] = "-x", argv[n++] = m->asan;
  }
  snprintf(m->np, sizeof m->np, "%d", ranks);
  argv[n++] = "-np", argv[n++] = m->np;
  for (int i = 0; mpi_extra && mpi_extra[i]; i++)
    argv[n++] = (char *)mpi_extra[i];
  return n;
}

/* mpirun on PATH (libopenmpi-dev without openmpi-bin builds --mpi, but nothing can launch it). */
static inline bool ch_have_mpirun(void) {
  const char *path = getenv("PATH");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin");
  for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char p[4200];
    snprintf(p, sizeof p, "%s/mpirun", d);
    if (access(p, X_OK) == 0)
      return true;
  }
  return false;
}

/* Open MPI refuses root (CI) without both. */
static inline void ch_mpirun_allow_root(void) {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
}

#endif /* CH_MPIRUN_H */
