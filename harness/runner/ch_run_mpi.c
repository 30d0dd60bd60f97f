/* `run --mpi` (ch_run_mpi.h): MPI start-up, rank k's shard, rank 0's coordinator with its own shard, the gathering
   of the ranks' reports and their rank lines. */
#include "ch_run_mpi.h"

#include <stdio.h>

#include "ch_exit.h"
#include "ch_runner.h"

int ch_run_mpi_check(const struct ch_run_cli *cli, const char *command) {
#ifndef CH_HAVE_MPI
  (void)cli;
  fprintf(stderr, "%s --mpi: this centro-harness was built without MPI (build it with libopenmpi-dev installed, "
                  "cmake -DCH_HAVE_MPI=ON)\nexit 3: invalid input: built without MPI\n", command);
  return CH_EXIT_INPUT;
#else
  const char *why = cli->o.processes > 1 ? "--processes forks, which MPI ranks must not: use mpirun -np N instead"
                    : cli->metrics_listen || cli->dashboard || cli->out
                        ? "--metrics-listen, --dashboard and --out watch one process: scrape rank 0's report instead"
                        : NULL;
  if (why) {
    fprintf(stderr, "%s --mpi: %s\nexit 3: invalid input: %s\n", command, why, why);
    return CH_EXIT_INPUT;
  }
  return -1;
#endif
}

#ifndef CH_HAVE_MPI
int ch_run_mpi_init(struct ch_run_mpi *m, double timeout_s) {
  (void)m, (void)timeout_s;
  return CH_EXIT_INPUT;
}
int ch_run_mpi_shard(struct ch_run_mpi *m, const struct ch_run_opts *o, const struct ch_scenario *s) {
  (void)m, (void)o, (void)s;
  return CH_EXIT_INPUT;
}
int ch_run_mpi_coord(struct ch_run_mpi *m, const struct ch_run_opts *o, const struct ch_scenario *s, const char *dir,
                     struct ch_report *rep, struct ch_interrupt *intr, struct ch_buf *err) {
  (void)m, (void)o, (void)s, (void)dir, (void)rep, (void)intr, (void)err;
  return CH_EXIT_INPUT;
}
void ch_run_mpi_end(struct ch_run_mpi *m) { (void)m; }
int ch_run_mpi_step_send(struct ch_run_mpi *m, int64_t step) {
  (void)m, (void)step;
  return -1;
}
int ch_run_mpi_step_recv(struct ch_run_mpi *m, int64_t *step) {
  (void)m, (void)step;
  return -1;
}
#else
#include <cJSON.h>
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_interrupt.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_scenario.h"
#include "ch_threshold.h"

int ch_run_mpi_init(struct ch_run_mpi *m, double timeout_s) {
  memset(m, 0, sizeof *m);
  m->timeout_s = timeout_s;
  int provided = 0;
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "run --mpi: MPI_Init_thread failed\nexit 4: run could not be carried out: MPI did not start\n");
    return CH_EXIT_RUN;
  }
  m->inited = true;
  if (provided < MPI_THREAD_FUNNELED) { /* worker threads exist beside the one calling MPI */
    fprintf(stderr, "run --mpi: the MPI library gives thread level %d, FUNNELED (%d) is needed\n"
                    "exit 4: run could not be carried out: MPI without thread support\n", provided,
            MPI_THREAD_FUNNELED);
    return CH_EXIT_RUN;
  }
  MPI_Comm *comm = malloc(sizeof *comm);
  char host[CH_RUN_MPI_HOST] = "";
  gethostname(host, sizeof host - 1);
  if (!comm || MPI_Comm_dup(MPI_COMM_WORLD, comm) != MPI_SUCCESS) {
    free(comm);
    fprintf(stderr, "run --mpi: no communicator\nexit 4: run could not be carried out: MPI\n");
    return CH_EXIT_RUN;
  }
  m->comm = comm;
  /* errors come back as codes: a lost rank is the coordinator's to report, not a reason to abort every rank */
  MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(*comm, &m->rank);
  MPI_Comm_size(*comm, &m->size);
  if (m->rank == 0 && !(m->hosts = calloc((size_t)m->size, CH_RUN_MPI_HOST)))
    return CH_EXIT_RUN;
  MPI_Gather(host, CH_RUN_MPI_HOST, MPI_CHAR, m->hosts, CH_RUN_MPI_HOST, MPI_CHAR, 0, *comm);
  return -1;
}

void ch_run_mpi_end(struct ch_run_mpi *m) {
  if (m->inited && !m->no_finalize) {
    if (m->comm)
      MPI_Comm_free(m->comm);
    MPI_Finalize();
  }
  m->inited = false;
  free(m->comm);
  free(m->hosts);
  m->comm = NULL;
  m->hosts = NULL;
}

/* Rank 0's word before a capacity step: a tag of its own, above the links' message types (ch_coord.h), so that it
   never reaches a link and a link's message never answers it. */
#define MPI_TAG_STEP 1024
/* Between two steps rank 0 only judges the one that ended and reads the target's /stats: 120 s is ample. */
#define MPI_STEP_WAIT_NS 120000000000u

int ch_run_mpi_step_send(struct ch_run_mpi *m, int64_t step) {
  if (!m->inited || !m->comm || m->rank != 0 || m->no_finalize)
    return 0;
  int rc = 0;
  for (int k = 1; k < m->size; k++) /* 8 bytes go eagerly: MPI_Send returns without waiting for the rank */
    if (MPI_Send(&step, 1, MPI_INT64_T, k, MPI_TAG_STEP, *(MPI_Comm *)m->comm) != MPI_SUCCESS)
      rc = -1;
  return rc;
}

int ch_run_mpi_step_recv(struct ch_run_mpi *m, int64_t *step) {
  if (!m->inited || !m->comm)
    return -1;
  MPI_Comm comm = *(MPI_Comm *)m->comm;
  for (uint64_t t0 = ch_now_ns(); ch_now_ns() - t0 < MPI_STEP_WAIT_NS;) {
    int flag = 0;
    if (MPI_Iprobe(0, MPI_TAG_STEP, comm, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      return -1;
    if (flag)
      return MPI_Recv(step, 1, MPI_INT64_T, 0, MPI_TAG_STEP, comm, MPI_STATUS_IGNORE) == MPI_SUCCESS ? 0 : -1;
    struct timespec ts = {0, 1000000}; /* polling: rank 0 judges the step that ended */
    nanosleep(&ts, NULL);
  }
  return -1;
}

static uint64_t mpi_timeout_ns(const struct ch_run_mpi *m) { return (uint64_t)(m->timeout_s * 1e9); }

/* The clients of shard k of n: every client whose index % n == k. */
static size_t mpi_clients(const struct ch_scenario *s, unsigned k, unsigned n) {
  return s->total_clients > k ? (s->total_clients - k + n - 1) / n : 0;
}

/* This process's rank line: host, pid, CPU and peak RSS, clients, its exit code. */
static cJSON *mpi_rank_line(int rank, const struct ch_scenario *s, unsigned n, int code) {
  cJSON *o = cJSON_CreateObject();
  char host[CH_RUN_MPI_HOST] = "";
  gethostname(host, sizeof host - 1);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  getrusage(RUSAGE_SELF, &ru);
  cJSON_AddNumberToObject(o, "rank", rank);
  cJSON_AddStringToObject(o, "host", host);
  cJSON_AddNumberToObject(o, "pid", getpid());
  cJSON_AddNumberToObject(o, "clients", (double)mpi_clients(s, (unsigned)rank, n));
  cJSON_AddNumberToObject(o, "cpu_s", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                                          (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  cJSON_AddNumberToObject(o, "max_rss_kib", (double)ru.ru_maxrss);
  cJSON_AddNumberToObject(o, "exit_code", code);
  return o;
}

/* A shard's report: the header a forked shard's has, then its run. */
static int mpi_run_shard(const struct ch_run_opts *co, const struct ch_scenario *s, struct ch_report **out) {
  struct ch_report *r = NULL;
  struct ch_buf e = CH_BUF_INIT;
  if (ch_report_new(&r))
    return CH_EXIT_RUN;
  ch_report_set(&r->scenario, s->name);
  r->seed = s->seed;
  int code = ch_run_execute(co, s, r, &e);
  r->exit_code = code;
  if (e.data)
    ch_report_set(&r->exit_reason, e.data);
  ch_buf_free(&e);
  *out = r;
  return code;
}

int ch_run_mpi_shard(struct ch_run_mpi *m, const struct ch_run_opts *o, const struct ch_scenario *s) {
  struct ch_coord_link link;
  if (ch_coord_mpi_link_init(&link, m->comm, 0, mpi_timeout_ns(m)))
    return CH_EXIT_RUN;
  struct ch_run_opts co = *o;
  struct ch_interrupt ci = {0};
  co.shard_index = (unsigned)m->rank;
  co.shard_count = (unsigned)m->size;
  co.barrier_in = co.barrier_out = -1;
  co.coord_link = &link;
  co.quiet = true; /* rank 0 draws the progress line and prints the summary */
  co.report_dir = NULL; /* nothing is written on this host: the report goes to rank 0 */
  co.checkpoint_dir = NULL;
  co.live = NULL;
  co.intr = ch_interrupt_open(&ci) == 0 ? &ci : NULL;
  struct ch_report *r = NULL;
  int code = mpi_run_shard(&co, s, &r), rc = CH_EXIT_OK;
  struct ch_buf json = CH_BUF_INIT;
  cJSON *line = mpi_rank_line(m->rank, s, (unsigned)m->size, code);
  char *lt = line ? cJSON_PrintUnformatted(line) : NULL;
  cJSON_Delete(line);
  if (!r || ch_report_json(r, &json) || !lt || ch_coord_link_send(&link, CH_COORD_RANK, lt, strlen(lt)) ||
      ch_coord_link_send(&link, CH_COORD_REPORT, json.data, json.len)) {
    fprintf(stderr, "rank %d: its report could not be sent to rank 0\n", m->rank);
    rc = CH_EXIT_RUN;
  }
  free(lt);
  ch_buf_free(&json);
  ch_report_free(r);
  /* rank 0 says when every report is in (and whether a rank was lost, so that MPI_Finalize must not wait) */
  struct ch_coord_msg msg;
  ch_coord_mpi_link_timeout(&link, 0);
  int got = 0;
  for (uint64_t t0 = ch_now_ns(); rc == CH_EXIT_OK && ch_now_ns() - t0 < 120000000000u;) {
    got = ch_coord_link_recv(&link, 100, &msg);
    if (got == 1 && msg.type == CH_COORD_FIN)
      break;
    if (got < 0 && ch_coord_mpi_link_lost(&link))
      break;
    got = 0;
  }
  if (got != 1)
    m->no_finalize = true;
  else if (msg.n >= 1 && msg.p[0])
    m->no_finalize = true;
  ch_coord_link_free(&link);
  ch_interrupt_close(&ci);
  return rc;
}

/* ---- rank 0 ---- */

struct mpi_shard0 {
  const struct ch_run_opts *o;
  const struct ch_scenario *s;
  int fd;
  unsigned n;
  char ckpt[4096];
  struct ch_report *rep;
  int code;
};

static void *mpi_shard0_main(void *arg) {
  struct mpi_shard0 *a = arg;
  struct ch_run_opts co = *a->o;
  struct ch_interrupt ci = {0};
  char label[48];
  snprintf(label, sizeof label, "rank 0/%u", a->n);
  co.shard_index = 0;
  co.shard_count = a->n;
  co.barrier_in = co.barrier_out = a->fd;
  co.progress_label = label;
  co.checkpoint_dir = a->o->checkpoint_dir ? a->ckpt : NULL;
  co.live = NULL;
  co.intr = ch_interrupt_open(&ci) == 0 ? &ci : NULL; /* this thread's timeline hears the signals too */
  a->code = mpi_run_shard(&co, a->s, &a->rep);
  ch_interrupt_close(&ci);
  return NULL;
}

/* Waits for rank k's rank line and report (bounded: its judging and writing may take a while). */
static struct ch_report *mpi_gather_one(struct ch_coord_link *l, int k, cJSON **line, uint64_t timeout_ns,
                                        struct ch_buf *err) {
  struct ch_report *r = NULL;
  /* a shard judging its clients sends no heartbeat: at least 30 s of silence before it counts as lost */
  ch_coord_mpi_link_timeout(l, timeout_ns > 30000000000u ? timeout_ns : 30000000000u);
  uint64_t t0 = ch_now_ns();
  while (!r && ch_now_ns() - t0 < 120000000000u && !ch_coord_mpi_link_lost(l)) {
    struct ch_coord_msg msg;
    if (ch_coord_link_recv(l, 100, &msg) != 1)
      continue;
    if (msg.type == CH_COORD_RANK) {
      cJSON_Delete(*line);
      *line = cJSON_ParseWithLength((const char *)msg.p, msg.n);
    } else if (msg.type == CH_COORD_REPORT) {
      struct ch_buf e = CH_BUF_INIT;
      if (ch_report_parse_json((const char *)msg.p, msg.n, &r, &e))
        ch_buf_printf(err, "rank %d sent a report that does not read: %s", k, e.data ? e.data : "?");
      ch_buf_free(&e);
      if (!r)
        break;
    }
  }
  return r;
}

/* The rank's line in report.json, with what rank 0 knows of it: its clock and whether it was lost. */
static void mpi_line_clock(cJSON *line, const struct ch_coord_link *l) {
  cJSON_AddNumberToObject(line, "clock_offset_ns", (double)l->clock_offset_ns);
  cJSON_AddNumberToObject(line, "clock_uncertainty_ns", (double)l->clock_uncertainty_ns);
  cJSON_AddNumberToObject(line, "clock_uncertainty_max_ns", (double)l->clock_uncertainty_max_ns);
  cJSON_AddNumberToObject(line, "clock_syncs", l->clock_syncs);
}

/* The smallest latency the run judges: the scenario's deadline, or a smaller latency threshold. */
static uint64_t mpi_smallest_latency_ns(const struct ch_scenario *s) {
  uint64_t min = s->expect.deadline_ns;
  for (size_t i = 0; i < s->n_thresholds; i++) {
    const struct ch_scn_threshold *t = &s->thresholds[i];
    if (t->is_duration && (t->op == CH_SCN_OP_LT || t->op == CH_SCN_OP_LE) && t->value > 0 &&
        (!min || t->value < (double)min))
      min = (uint64_t)t->value;
  }
  return min;
}

/* Rank 0's lines: the clocks (a warning when an offset is less sure than a tenth of the smallest latency judged),
   and the lost ranks named with their host. */
static void mpi_clock_notes(struct ch_run_mpi *m, const struct ch_scenario *s, struct ch_coord_link *links,
                            struct ch_report *rep, bool quiet) {
  uint64_t worst = 0;
  int worst_k = 0;
  for (int k = 1; k < m->size; k++)
    if (links[k].clock_uncertainty_max_ns > worst)
      worst = links[k].clock_uncertainty_max_ns, worst_k = k;
  uint64_t smallest = mpi_smallest_latency_ns(s);
  char note[320];
  snprintf(note, sizeof note, "clocks: %d ranks synchronised to rank 0 by round trips; largest uncertainty %.1f us "
                              "(rank %d)", m->size, (double)worst / 1e3, worst_k);
  ch_report_add_note(rep, note);
  if (smallest && worst * 10 > smallest) {
    snprintf(note, sizeof note, "WARNING: clock offset uncertainty %.1f us (rank %d, host %s) exceeds 10%% of the "
                                "smallest latency judged (%.3f ms): latencies across hosts are not trustworthy",
             (double)worst / 1e3, worst_k, m->hosts + (size_t)worst_k * CH_RUN_MPI_HOST, (double)smallest / 1e6);
    ch_report_add_note(rep, note);
    fprintf(stderr, "%s\n", note);
  } else if (!quiet) {
    fprintf(stderr, "%s\n", note);
  }
}

/* A signal reached rank 0 with no rank lost: mpirun may be ending the job (by default it does, within a second of
   a rank dying: SIGTERM, then SIGKILL), so before the wind-down rank 0 writes at once what it holds: its shard's
   last checkpoint (rank-0/report.json) and every rank's last one sent over MPI, merged and marked partial. The full
   report replaces it if the ranks get to send theirs. */
static void mpi_write_checkpoints(const struct ch_run_mpi *m, const struct ch_scenario *s, const char *dir,
                                  const char *rank0_dir, struct ch_coord_link *links) {
  struct ch_report *cp = NULL, *one = NULL;
  if (ch_report_new(&cp))
    return;
  ch_report_set(&cp->scenario, s->name);
  cp->seed = s->seed;
  cp->shards = 0;
  struct ch_buf e = CH_BUF_INIT, path = CH_BUF_INIT;
  unsigned got = 0;
  ch_buf_printf(&path, "%s/report.json", rank0_dir);
  if (ch_report_read_json(path.data, &one, &e) == 0 && ch_report_merge(cp, one, &e) == 0)
    got++;
  ch_report_free(one);
  for (int k = 1; k < m->size; k++) {
    size_t n = 0;
    const char *text = ch_coord_mpi_link_checkpoint(&links[k], &n);
    one = NULL;
    ch_buf_reset(&e);
    if (text && ch_report_parse_json(text, n, &one, &e) == 0 && ch_report_merge(cp, one, &e) == 0)
      got++;
    ch_report_free(one);
  }
  char note[256];
  snprintf(note, sizeof note, "partial: rank 0 had a signal (mpirun ending the job?) and merged the last checkpoints "
                              "it held, of %u of %d ranks", got, m->size);
  cp->partial = true;
  cp->exit_code = CH_EXIT_RUN;
  ch_report_set(&cp->exit_reason, note);
  ch_report_add_note(cp, note);
  ch_buf_reset(&e);
  if (ch_report_write_dir(cp, dir, &e))
    fprintf(stderr, "report: %s\n", e.data ? e.data : "cannot be written");
  ch_buf_free(&e);
  ch_buf_free(&path);
  ch_report_free(cp);
}

int ch_run_mpi_coord(struct ch_run_mpi *m, const struct ch_run_opts *o, const struct ch_scenario *s, const char *dir,
                     struct ch_report *rep, struct ch_interrupt *intr, struct ch_buf *err) {
  unsigned n = (unsigned)m->size;
  struct ch_coord_link *links = calloc(n, sizeof *links);
  pid_t *pids = calloc(n, sizeof *pids);
  struct ch_report **reps = calloc(n, sizeof *reps);
  cJSON *ranks = cJSON_CreateArray();
  int sp[2] = {-1, -1}, worst = CH_EXIT_OK, signalled = 0;
  struct mpi_shard0 a = {o, s, -1, n, "", NULL, CH_EXIT_RUN};
  pthread_t th;
  bool started = false;
  if (!links || !pids || !reps || !ranks || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
    ch_buf_puts(err, "out of memory or descriptors before the run");
    m->no_finalize = true; /* the other ranks wait for a coordinator that does not come: mpirun ends them */
    free(links), free(pids), free(reps), cJSON_Delete(ranks);
    return CH_EXIT_RUN;
  }
  snprintf(a.ckpt, sizeof a.ckpt, "%s/rank-0", dir);
  a.fd = sp[1];
  ch_coord_link_init(&links[0], sp[0]);
  pids[0] = getpid(); /* a lost rank stops shard 0 as it stops a forked shard: SIGTERM (this process's) */
  for (unsigned k = 1; k < n; k++)
    ch_coord_mpi_link_init(&links[k], m->comm, (int)k, mpi_timeout_ns(m));
  if (intr->open || ch_interrupt_open(intr) == 0) /* capacity --mpi keeps one open for the whole search */
    started = pthread_create(&th, NULL, mpi_shard0_main, &a) == 0;
  struct ch_coord_outcome co;
  if (!started || ch_coord_run(o, s, links, pids, n, intr, &co)) {
    ch_buf_puts(err, started ? "the coordinator could not set the run up (out of memory)" : "no thread for shard 0");
    memset(&co, 0, sizeof co);
    co.lost_shard = co.left_shard = co.lost_phase = -1;
    worst = CH_EXIT_RUN;
  }
  if (intr->count && co.lost_shard < 0)
    mpi_write_checkpoints(m, s, dir, a.ckpt, links);
  /* the timeline is over: shards still waiting for a phase end theirs */
  ch_coord_link_free(&links[0]);
  for (unsigned k = 1; k < n; k++)
    if (!ch_coord_mpi_link_lost(&links[k]))
      ch_coord_link_send(&links[k], CH_COORD_END, NULL, 0);
  if (started)
    pthread_join(th, NULL);
  else
    close(sp[1]);
  reps[0] = a.rep;
  cJSON *line0 = mpi_rank_line(0, s, n, a.code);
  mpi_line_clock(line0, &links[0]);
  cJSON_AddItemToArray(ranks, line0);
  int codes0 = a.code;
  bool lost_any = co.lost_shard >= 0;
  for (unsigned k = 1; k < n; k++) {
    cJSON *line = NULL;
    if (!ch_coord_mpi_link_lost(&links[k]))
      reps[k] = mpi_gather_one(&links[k], (int)k, &line, mpi_timeout_ns(m), err);
    if (!line) {
      line = cJSON_CreateObject();
      cJSON_AddNumberToObject(line, "rank", k);
      cJSON_AddStringToObject(line, "host", m->hosts + (size_t)k * CH_RUN_MPI_HOST);
    }
    size_t cn = 0;
    const char *ckpt = reps[k] ? NULL : ch_coord_mpi_link_checkpoint(&links[k], &cn);
    struct ch_buf ce = CH_BUF_INIT;
    if (ckpt && ch_report_parse_json(ckpt, cn, &reps[k], &ce) == 0) /* as a lost shard's checkpoint file does */
      cJSON_AddBoolToObject(line, "from_checkpoint", true);
    ch_buf_free(&ce);
    if (!reps[k] || ckpt) {
      cJSON_AddBoolToObject(line, "lost", true);
      if (co.lost_shard < 0) { /* it ended its timeline but its report never came */
        co.lost_shard = (int)k;
        co.lost_phase = (int)s->n_phases;
      }
      lost_any = true;
    }
    mpi_line_clock(line, &links[k]);
    cJSON_AddItemToArray(ranks, line);
  }
  unsigned char fin = lost_any ? 1 : 0;
  for (unsigned k = 1; k < n; k++) {
    if (!ch_coord_mpi_link_lost(&links[k]))
      ch_coord_link_send(&links[k], CH_COORD_FIN, &fin, 1);
  }
  m->no_finalize = lost_any;
  for (unsigned k = 0; k < n; k++) {
    if (!reps[k])
      continue;
    int code = k ? reps[k]->exit_code : codes0;
    if (reps[k]->partial) /* a lost rank's checkpoint: its figures count, its "not carried out" does not */
      code = CH_EXIT_OK;
    if (code == CH_EXIT_RUN || code == CH_EXIT_INPUT)
      worst = code;
    if (code == CH_EXIT_SIGINT || code == CH_EXIT_SIGTERM)
      signalled = code;
    struct ch_buf e = CH_BUF_INIT;
    ch_report_merge(rep, reps[k], &e); /* metrics losslessly, checks keep the worse result */
    if (reps[k]->exit_reason && (code == CH_EXIT_RUN || code == CH_EXIT_INPUT) && !err->len)
      ch_buf_puts(err, reps[k]->exit_reason);
    ch_buf_free(&e);
  }
  if (co.lost_shard >= 0) {
    int k = co.lost_shard;
    char when[128];
    if (co.lost_phase >= 0 && (size_t)co.lost_phase < s->n_phases)
      snprintf(when, sizeof when, "during phase %d of %zu (%s)", co.lost_phase + 1, s->n_phases,
               s->phases[co.lost_phase].name);
    else
      snprintf(when, sizeof when, "%s", co.lost_phase < 0 ? "during set-up" : "after the timeline");
    ch_buf_reset(err);
    ch_buf_printf(err, "rank %d of %u (host %s) was lost (its link to rank 0 was silent for %.0f s) %s; the other "
                       "ranks were stopped and the report holds what they measured%s",
                  k, n, m->hosts + (size_t)k * CH_RUN_MPI_HOST, m->timeout_s, when,
                  reps[k] ? ", and its last checkpoint" : "");
    ch_report_add_note(rep, err->data);
    worst = CH_EXIT_RUN;
  }
  mpi_clock_notes(m, s, links, rep, o->quiet);
  /* The coordinator shares rank 0 with shard 0: its CPU is rank 0's less a shard's (the mean of the others). */
  double cpu_others = 0;
  unsigned n_others = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, ranks) {
    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(e, "rank"), *cpu = cJSON_GetObjectItemCaseSensitive(e, "cpu_s");
    if (cJSON_IsNumber(rk) && rk->valueint > 0 && cJSON_IsNumber(cpu) && reps[rk->valueint])
      cpu_others += cpu->valuedouble, n_others++;
  }
  const cJSON *cpu0 = cJSON_GetObjectItemCaseSensitive(line0, "cpu_s");
  if (n_others && cJSON_IsNumber(cpu0)) {
    double est = cpu0->valuedouble - cpu_others / n_others;
    co.cpu_s = est > 0 ? est : -1; /* a short run: the shards' spread hides the coordinator's share */
    if (co.triggers)
      ch_report_add_note(rep, "coordinator CPU under MPI: rank 0's CPU less the mean of the other ranks' (rank 0 "
                              "also runs shard 0)");
  }
  char *rj = cJSON_PrintUnformatted(ranks);
  free(rep->ranks_json);
  rep->ranks_json = rj;
  cJSON_Delete(ranks);
  for (unsigned k = 0; k < n; k++) {
    ch_report_free(reps[k]);
    if (k)
      ch_coord_link_free(&links[k]);
  }
  free(reps);
  free(links);
  free(pids);
  return run_shards_verdict(o, &co, n, rep, intr, worst, signalled, err);
}
#endif /* CH_HAVE_MPI */
