/* ch_report_ranks: report.html's table of the MPI ranks of a run (`run --mpi`: report.json's run.ranks, one line per
 * rank with its host, pid, clients, CPU, peak RSS and clock offset to rank 0; reports/README.md). */
#ifndef CH_REPORT_RANKS_H
#define CH_REPORT_RANKS_H

#include "ch_buf.h"

/* The section with one row per rank; nothing when ranks_json is NULL or not an array (a run without MPI).
   @return 0 or -ENOMEM. */
int ch_report_ranks_html(const char *ranks_json, struct ch_buf *b);

#endif /* CH_REPORT_RANKS_H */
