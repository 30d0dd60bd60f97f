#include "ch_interrupt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ch_clock.h"
#include "ch_exit.h"

static void on_signal(uv_signal_t *h, int signum) {
  struct ch_interrupt *it = h->data;
  if (!it->count++) {
    it->signum = signum;
    it->at_wall_ns = ch_wall_ns();
  }
  /* Children run in their own process group (a terminal's Ctrl-C reaches only us), so every signal is passed on. */
  for (size_t i = 0; i < it->n_forward; i++)
    if (it->forward[i] > 0)
      kill(it->forward[i], signum);
}

int ch_interrupt_open(struct ch_interrupt *it) {
  memset(it, 0, sizeof *it);
  int rc = uv_loop_init(&it->loop);
  if (rc)
    return rc;
  static const int sigs[2] = {SIGINT, SIGTERM};
  for (int i = 0; i < 2; i++) {
    uv_signal_init(&it->loop, &it->sig[i]); /* cannot fail on Linux */
    it->sig[i].data = it;
  }
  it->open = true;
  for (int i = 0; i < 2 && !rc; i++)
    rc = uv_signal_start(&it->sig[i], on_signal, sigs[i]);
  if (rc)
    ch_interrupt_close(it);
  return rc;
}

unsigned ch_interrupt_poll(struct ch_interrupt *it) {
  if (!it || !it->open)
    return 0;
  uv_run(&it->loop, UV_RUN_NOWAIT);
  return it->count;
}

void ch_interrupt_close(struct ch_interrupt *it) {
  if (!it || !it->open)
    return;
  it->open = false;
  for (int i = 0; i < 2; i++)
    uv_close((uv_handle_t *)&it->sig[i], NULL); /* stopping restores the default disposition */
  uv_run(&it->loop, UV_RUN_DEFAULT);
  uv_loop_close(&it->loop);
}

const char *ch_signal_name(int signum) {
  return signum == SIGINT ? "SIGINT" : signum == SIGTERM ? "SIGTERM" : signum == SIGHUP ? "SIGHUP" : "signal";
}

int ch_interrupt_exit_code(const struct ch_interrupt *it) {
  return it->signum == SIGTERM ? CH_EXIT_SIGTERM : CH_EXIT_SIGINT;
}
