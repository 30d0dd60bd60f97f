/* Writing report files, and the `report` and `merge` subcommands. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_exit.h"
#include "ch_report.h"
#include "ch_report_int.h"
#include "ch_sha256.h"

typedef int (*render_fn)(const struct ch_report *r, struct ch_buf *out);

/* Writes data through a temporary file and rename, so a reader never sees half a file. */
static int write_atomic(const char *path, const char *data, size_t n, struct ch_buf *err) {
  struct ch_buf tmp = CH_BUF_INIT;
  int rc = ch_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = rc ? NULL : fopen(tmp.data, "wb");
  if (!f) {
    rc = rc ? rc : -errno;
    if (err)
      ch_buf_printf(err, "%s: cannot write: %s", path, strerror(-rc));
  } else {
    size_t w = fwrite(data, 1, n, f);
    /* fsync before the rename: after a crash the file is the old or the new one, never empty (checkpoints) */
    int e = (w != n || fflush(f) || fsync(fileno(f))) ? errno : 0;
    if (fclose(f) && !e)
      e = errno;
    if (!e && rename(tmp.data, path))
      e = errno;
    if (e) {
      rc = -(e ? e : EIO);
      unlink(tmp.data);
      if (err)
        ch_buf_printf(err, "%s: cannot write: %s", path, strerror(e ? e : EIO));
    }
  }
  ch_buf_free(&tmp);
  return rc;
}

static int write_rendered(const struct ch_report *r, render_fn fn, const char *path, struct ch_buf *err) {
  struct ch_buf b = CH_BUF_INIT;
  int rc = fn(r, &b);
  if (rc) {
    if (err)
      ch_buf_printf(err, "%s: cannot render: out of memory", path);
  } else {
    rc = write_atomic(path, b.data ? b.data : "", b.len, err);
  }
  ch_buf_free(&b);
  return rc;
}

int ch_report_write_text(const struct ch_report *r, const char *path, const char *text, char *sha_hex,
                         struct ch_buf *err) {
  struct ch_buf b = CH_BUF_INIT;
  int rc = ch__report_scrub_str(r, text, &b);
  if (!rc && sha_hex && ch_sha256_hex(b.data, b.len, sha_hex))
    rc = -EIO;
  if (rc && err)
    ch_buf_printf(err, "%s: cannot write: %s", path, strerror(-rc));
  rc = rc ? rc : write_atomic(path, b.data, b.len, err);
  ch_buf_free(&b);
  return rc;
}

int ch_report_write_json(const struct ch_report *r, const char *path, struct ch_buf *err) {
  return write_rendered(r, ch_report_json, path, err);
}
int ch_report_write_junit(const struct ch_report *r, const char *path, struct ch_buf *err) {
  return write_rendered(r, ch_report_junit, path, err);
}
int ch_report_write_html(const struct ch_report *r, const char *path, struct ch_buf *err) {
  return write_rendered(r, ch_report_html, path, err);
}

int ch_report_make_dir(const char *dir, struct ch_buf *err) {
  struct ch_buf p = CH_BUF_INIT;
  if (ch_buf_puts(&p, dir))
    return -ENOMEM;
  int rc = 0;
  for (char *s = p.data + 1; !rc; s++) {
    char c = *s;
    if (c != '/' && c != '\0')
      continue;
    *s = '\0';
    if (mkdir(p.data, 0777) && errno != EEXIST) {
      rc = -errno;
      if (err)
        ch_buf_printf(err, "%s: cannot create directory: %s", p.data, strerror(errno));
    }
    *s = c;
    if (!c)
      break;
  }
  ch_buf_free(&p);
  return rc;
}

int ch_report_write_dir(const struct ch_report *r, const char *dir, struct ch_buf *err) {
  int rc = ch_report_make_dir(dir, err);
  struct ch_buf p = CH_BUF_INIT;
  static const char *const names[] = {"report.json", "junit.xml", "report.html"};
  const render_fn fns[] = {ch_report_json, ch_report_junit, ch_report_html};
  for (size_t i = 0; i < 3 && !rc; i++) {
    ch_buf_reset(&p);
    rc = ch_buf_printf(&p, "%s/%s", dir, names[i]);
    rc = rc ? rc : write_rendered(r, fns[i], p.data, err);
  }
  ch_buf_free(&p);
  return rc;
}

int ch_report_reserve_dir(const char *base, const char *scenario, uint64_t wall_ns, struct ch_buf *out,
                          struct ch_buf *err) {
  struct ch_buf name = CH_BUF_INIT;
  int rc = ch_report_default_dir(base, scenario, wall_ns, &name);
  char *slash = rc ? NULL : strrchr(name.data, '/');
  if (slash) { /* the base folder may exist already; the run's own folder must not */
    *slash = '\0';
    rc = ch_report_make_dir(name.data, err);
    *slash = '/';
  }
  /* mkdir is atomic: of two processes asking for the same name, exactly one creates it and the other moves on to
     the next suffix. */
  for (unsigned k = 1; !rc; k++) {
    ch_buf_reset(out);
    rc = k == 1 ? ch_buf_puts(out, name.data) : ch_buf_printf(out, "%s-%u", name.data, k);
    if (rc || mkdir(out->data, 0777) == 0)
      break;
    if (errno != EEXIST || k >= 1000) {
      rc = -(errno == EEXIST ? EEXIST : errno);
      if (err)
        ch_buf_printf(err, "%s: cannot create directory: %s", out->data, strerror(-rc));
    }
  }
  ch_buf_free(&name);
  return rc;
}

int ch_report_write_checkpoint(const struct ch_report *r, const char *dir, struct ch_buf *err) {
  int rc = ch_report_make_dir(dir, err);
  struct ch_buf p = CH_BUF_INIT;
  rc = rc ? rc : ch_buf_printf(&p, "%s/report.json", dir);
  rc = rc ? rc : write_rendered(r, ch_report_json, p.data, err);
  ch_buf_free(&p);
  return rc;
}

/* ---- CLI ---- */

static void report_usage(FILE *f) {
  fputs("Usage: centro-harness report RUN/report.json [--html FILE] [--junit FILE] [--json FILE] [--summary]\n"
        "Re-renders a run's report from its report.json.\n"
        "  --html FILE    write the HTML report to FILE\n"
        "  --junit FILE   write the JUnit XML to FILE\n"
        "  --json FILE    write the (normalised) report.json to FILE\n"
        "  --summary      print the terminal summary (default when no output option is given)\n"
        "Without output options, report.html and junit.xml are written next to report.json.\n",
        f);
}

/* Renders the outputs asked for. Returns an exit code. */
static int render_outputs(const struct ch_report *r, const char *html, const char *junit, const char *json,
                          int summary) {
  struct ch_buf err = CH_BUF_INIT;
  int rc = 0;
  if (json)
    rc = ch_report_write_json(r, json, &err);
  if (!rc && html)
    rc = ch_report_write_html(r, html, &err);
  if (!rc && junit)
    rc = ch_report_write_junit(r, junit, &err);
  if (rc) {
    fprintf(stderr, "centro-harness: %s\n", err.data ? err.data : "cannot write the report");
    ch_buf_free(&err);
    return CH_EXIT_RUN;
  }
  if (summary)
    ch_report_print_summary(r, stdout);
  ch_buf_free(&err);
  return CH_EXIT_OK;
}

static int opt_value(int argc, char **argv, int *i, const char **dst) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "centro-harness: %s needs a file name\n", argv[*i]);
    return -1;
  }
  *dst = argv[++*i];
  return 0;
}

int ch_report_main(int argc, char **argv) {
  const char *in = NULL, *html = NULL, *junit = NULL, *json = NULL;
  int summary = 0;
  /* argv[0] is the subcommand ("report") */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--html")) {
      if (opt_value(argc, argv, &i, &html))
        return CH_EXIT_INPUT;
    } else if (!strcmp(a, "--junit")) {
      if (opt_value(argc, argv, &i, &junit))
        return CH_EXIT_INPUT;
    } else if (!strcmp(a, "--json")) {
      if (opt_value(argc, argv, &i, &json))
        return CH_EXIT_INPUT;
    } else if (!strcmp(a, "--summary")) {
      summary = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      report_usage(stdout);
      return CH_EXIT_OK;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "centro-harness report: unknown option %s\n", a);
      report_usage(stderr);
      return CH_EXIT_INPUT;
    } else if (in) {
      fprintf(stderr, "centro-harness report: one report.json at a time (got %s and %s)\n", in, a);
      return CH_EXIT_INPUT;
    } else {
      in = a;
    }
  }
  if (!in) {
    report_usage(stderr);
    return CH_EXIT_INPUT;
  }
  struct ch_report *r;
  struct ch_buf err = CH_BUF_INIT;
  if (ch_report_read_json(in, &r, &err)) {
    fprintf(stderr, "centro-harness: %s\n", err.data ? err.data : in);
    ch_buf_free(&err);
    return CH_EXIT_INPUT;
  }
  ch_buf_free(&err);
  struct ch_buf h = CH_BUF_INIT, j = CH_BUF_INIT;
  if (!html && !junit && !json) {
    const char *slash = strrchr(in, '/');
    size_t dl = slash ? (size_t)(slash - in + 1) : 0;
    ch_buf_append(&h, in, dl);
    ch_buf_puts(&h, "report.html");
    ch_buf_append(&j, in, dl);
    ch_buf_puts(&j, "junit.xml");
    html = h.data, junit = j.data, summary = 1;
  }
  int code = render_outputs(r, html, junit, json, summary);
  ch_buf_free(&h);
  ch_buf_free(&j);
  ch_report_free(r);
  return code;
}

static void merge_usage(FILE *f) {
  fputs("Usage: centro-harness merge A B ... -o OUT.json [--html FILE] [--junit FILE] [--summary] [--force]\n"
        "Merges the report.json files (or report folders) of shards of one run: histograms merged losslessly, counters summed,\n"
        "time series aligned by wall-clock second, thresholds evaluated again on the merged metrics.\n"
        "Reports that are not shards of one run (a different scenario_sha256 or seed) are refused (exit 3, naming\n"
        "what differs) unless --force; reports of differently named scenarios are never merged. The folders of\n"
        "the output files are created when missing.\n",
        f);
}

/* Whether src is a shard of the same run as first (the same scenario bytes and seed; an unknown hash matches). */
static bool merge_same_run(const struct ch_report *first, const char *first_path, const struct ch_report *src,
                           const char *path) {
  bool sha = first->scenario_sha256 && src->scenario_sha256 && strcmp(first->scenario_sha256, src->scenario_sha256);
  if (!sha && first->seed == src->seed)
    return true;
  fprintf(stderr, "centro-harness merge: %s is not a shard of the run of %s:", path, first_path);
  if (sha)
    fprintf(stderr, " scenario_sha256 %s vs %s%s", src->scenario_sha256, first->scenario_sha256,
            first->seed != src->seed ? ";" : "");
  if (first->seed != src->seed)
    fprintf(stderr, " seed %llu vs %llu", (unsigned long long)src->seed, (unsigned long long)first->seed);
  fprintf(stderr, "\nexit 3: only shards of one run are merged (--force merges them anyway)\n");
  return false;
}

int ch_report_input_path(const char *arg, struct ch_buf *out) {
  struct stat st;
  ch_buf_reset(out);
  if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
    return ch_buf_printf(out, "%s/report.json", arg);
  return ch_buf_puts(out, arg);
}

/* mkdir -p of the folder of each output file. Returns 0 or an exit code. */
static int merge_make_dirs(const char *const *paths, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *slash = paths[i] ? strrchr(paths[i], '/') : NULL;
    if (!slash || slash == paths[i])
      continue;
    struct ch_buf dir = CH_BUF_INIT, err = CH_BUF_INIT;
    int rc = ch_buf_append(&dir, paths[i], (size_t)(slash - paths[i]));
    rc = rc ? rc : ch_report_make_dir(dir.data, &err);
    if (rc)
      fprintf(stderr, "centro-harness: %s\n", err.data ? err.data : "out of memory");
    ch_buf_free(&dir);
    ch_buf_free(&err);
    if (rc)
      return CH_EXIT_RUN;
  }
  return 0;
}

int ch_merge_main(int argc, char **argv) {
  const char *out = NULL, *html = NULL, *junit = NULL;
  int summary = 0, n_in = 0;
  bool force = false;
  const char **ins = calloc((size_t)(argc > 0 ? argc : 1), sizeof *ins);
  if (!ins)
    return CH_EXIT_RUN;
  int code = CH_EXIT_OK;
  for (int i = 1; i < argc && !code; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-o") || !strcmp(a, "--output"))
      code = opt_value(argc, argv, &i, &out) ? CH_EXIT_INPUT : 0;
    else if (!strcmp(a, "--html"))
      code = opt_value(argc, argv, &i, &html) ? CH_EXIT_INPUT : 0;
    else if (!strcmp(a, "--junit"))
      code = opt_value(argc, argv, &i, &junit) ? CH_EXIT_INPUT : 0;
    else if (!strcmp(a, "--summary"))
      summary = 1;
    else if (!strcmp(a, "--force"))
      force = true;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      merge_usage(stdout);
      free(ins);
      return CH_EXIT_OK;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "centro-harness merge: unknown option %s\n", a);
      code = CH_EXIT_INPUT;
    } else
      ins[n_in++] = a;
  }
  if (!code && (!out || n_in < 1)) {
    merge_usage(stderr);
    code = CH_EXIT_INPUT;
  }
  struct ch_report *dst = NULL;
  struct ch_buf err = CH_BUF_INIT, path = CH_BUF_INIT;
  for (int i = 0; i < n_in && !code; i++) {
    struct ch_report *r;
    ch_buf_reset(&err);
    if (ch_report_input_path(ins[i], &path) || ch_report_read_json(path.data, &r, &err)) {
      fprintf(stderr, "centro-harness: %s\n", err.data ? err.data : ins[i]);
      code = CH_EXIT_INPUT;
      break;
    }
    if (!dst) {
      dst = r;
      continue;
    }
    if (!force && !merge_same_run(dst, ins[0], r, ins[i])) {
      ch_report_free(r);
      code = CH_EXIT_INPUT;
      break;
    }
    ch_buf_reset(&err);
    int rc = ch_report_merge(dst, r, &err);
    ch_report_free(r);
    if (rc) {
      fprintf(stderr, "centro-harness: %s: %s\n", ins[i], err.data ? err.data : "cannot merge: out of memory");
      code = rc == -EINVAL ? CH_EXIT_INPUT : CH_EXIT_RUN;
    }
  }
  ch_buf_free(&err);
  ch_buf_free(&path);
  const char *outs[] = {out, html, junit};
  if (!code)
    code = merge_make_dirs(outs, 3);
  if (!code)
    code = render_outputs(dst, html, junit, out, summary);
  ch_report_free(dst);
  free(ins);
  return code;
}
