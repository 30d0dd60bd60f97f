/* ch_browser_server: starts the reference endpoint in-process (ch_server.h) on free loopback ports for the browser
   tests, prints {"port":N,"control_port":M} on one stdout line, and runs until stdin reaches EOF or SIGTERM/SIGINT.
   The bearer token comes from the environment (CH_BROWSER_TOKEN), never from argv, so it stays out of `ps`.
   Reading stdin to EOF ties the server's life to the node script that spawned it: if that dies, so does this. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ch_server.h"

int main(int argc, char **argv) {
  const char *token = getenv("CH_BROWSER_TOKEN");
  if (!token || !*token) {
    fprintf(stderr, "ch_browser_server: CH_BROWSER_TOKEN is not set\n");
    return 3;
  }
  /* Options: --base PATH (endpoint at PATH/signalr, e.g. /Centro), --keepalive SECONDS. */
  /* --fault NAME (repeatable) injects a server fault, to see the browser test catch it. */
  /* --tls-cert FILE --tls-key FILE: https/wss on the endpoint port (the control API stays plain http). */
  const char *base = "", *tls_cert = NULL, *tls_key = NULL;
  double keepalive = 0;
  unsigned faults = 0;
  for (int i = 1; i < argc; i++) {
    enum ch_fault f;
    if (strcmp(argv[i], "--base") == 0 && i + 1 < argc) {
      base = argv[++i];
    } else if (strcmp(argv[i], "--keepalive") == 0 && i + 1 < argc) {
      keepalive = strtod(argv[++i], NULL);
    } else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc) {
      tls_cert = argv[++i];
    } else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc) {
      tls_key = argv[++i];
    } else if (strcmp(argv[i], "--fault") == 0 && i + 1 < argc && ch_fault_parse(argv[i + 1], &f) == 0) {
      faults |= 1u << f;
      i++;
    } else {
      fprintf(stderr, "usage: ch_browser_server [--base PATH] [--keepalive SECONDS] [--fault NAME]... "
                      "[--tls-cert FILE --tls-key FILE] (token in CH_BROWSER_TOKEN)\n");
      return 3;
    }
  }

  struct ch_server_token tok = {.token = token, .user = "browser-proof"};
  struct ch_server_opts opts = {
      .listen_host = "127.0.0.1",
      .port = 0,
      .base = base,
      .control_host = "127.0.0.1",
      .control_port = 0,
      .tokens = &tok,
      .n_tokens = 1,
      .keepalive_s = keepalive,
      .faults = faults,
      .tls_cert = tls_cert,
      .tls_key = tls_key,
  };
  /* Block the stop signals before the server thread starts so only this thread sees them (sigwait below). */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  struct ch_server *s = NULL;
  int rc = ch_server_new(&opts, &s);
  if (rc == 0)
    rc = ch_server_start(s);
  if (rc != 0) {
    fprintf(stderr, "ch_browser_server: cannot start the reference endpoint: %s\n", strerror(-rc));
    ch_server_free(s);
    return 4;
  }
  printf("{\"port\":%d,\"control_port\":%d}\n", ch_server_port(s), ch_server_control_port(s));
  fflush(stdout);

  /* Wait for EOF on stdin or a stop signal, whichever comes first. */
  int sfd = signalfd(-1, &stop, SFD_CLOEXEC);
  struct pollfd pf[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  char buf[256];
  for (;;) {
    int n = poll(pf, sfd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 || (pf[1].revents & POLLIN))
      break;
    if (pf[0].revents) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EINTR))
        break;
    }
  }
  if (sfd >= 0)
    close(sfd);
  ch_server_stop(s);
  ch_server_free(s);
  return 0;
}
