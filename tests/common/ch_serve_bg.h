/* ch_serve_bg: `centro-harness serve` as a child process for whole-program tests: started with chosen options,
   its ports read from the line it prints, stopped with SIGTERM. */
#ifndef CH_SERVE_BG_H
#define CH_SERVE_BG_H

#include "ch_spawn.h"

struct ch_serve_bg {
  struct ch_spawn_bg bg;
  int port, cport; /* endpoint and control API ports */
};

/* Starts `centro-harness serve --quiet ARGS...` (args NULL-terminated) and waits up to 10 s for its listening line.
   0 with the ports set; -1 when it did not come up (its output is then printed on stderr and it is stopped). */
static inline int ch_serve_bg_start(struct ch_serve_bg *s, const char *const args[]) {
  const char *argv[48] = {"centro-harness", "serve", "--quiet"};
  size_t n = 3;
  for (size_t i = 0; args[i] && n < 47; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  s->port = s->cport = -1;
  if (ch_spawn_start((char *const *)argv, &s->bg))
    return -1;
  if (ch_spawn_wait_output(&s->bg, ", control on ", 10000)) {
    char *out = ch_slurp(s->bg.out_path, NULL);
    const char *p = out ? strstr(out, "listening on ") : NULL;
    const char *c = p ? strstr(p, ", control on ") : NULL;
    p = p ? strstr(p, "127.0.0.1:") : NULL;
    c = c ? strstr(c, "127.0.0.1:") : NULL;
    if (p && c) {
      s->port = atoi(p + 10);
      s->cport = atoi(c + 10);
    }
    free(out);
  }
  if (s->port > 0 && s->cport > 0)
    return 0;
  kill(s->bg.pid, SIGTERM);
  struct ch_spawn_result r = ch_spawn_finish(&s->bg, 5000, NULL);
  fprintf(stderr, "serve did not come up (exit %d):\n%s\n", r.code, r.out);
  free(r.out);
  return -1;
}

/* SIGTERM, then its exit code (-1 when it had to be killed). */
static inline int ch_serve_bg_stop(struct ch_serve_bg *s) {
  if (s->bg.pid <= 0)
    return -1;
  kill(s->bg.pid, SIGTERM);
  struct ch_spawn_result r = ch_spawn_finish(&s->bg, 10000, NULL);
  if (r.code != 0)
    fprintf(stderr, "serve ended with %d:\n%s\n", r.code, r.out);
  free(r.out);
  return r.code;
}

#endif /* CH_SERVE_BG_H */
