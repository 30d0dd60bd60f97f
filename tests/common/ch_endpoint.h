/* ch_endpoint: the reference endpoint in the test's own process, at /Centro on a free loopback port with one
   accepted token, as the target of the real binary in whole-program tests. */
#ifndef CH_ENDPOINT_H
#define CH_ENDPOINT_H

#include "ch_server.h"

/* Starts it; returns NULL when it cannot start. Free with ch_server_free. */
static inline struct ch_server *ch_endpoint_start(const char *token) {
  struct ch_server_token tok = {token, "alice", NULL, 0, NULL, 0, 0};
  struct ch_server_opts so = {0};
  so.base = "/Centro";
  so.tokens = &tok;
  so.n_tokens = 1;
  so.quiet = true;
  struct ch_server *srv = NULL;
  if (ch_server_new(&so, &srv) || ch_server_start(srv)) {
    ch_server_free(srv);
    return NULL;
  }
  return srv;
}

/* The endpoint as `serve` runs it by default: no base path, no authorization, free loopback ports (endpoint and
   control API); NULL when it cannot start. */
static inline struct ch_server *ch_endpoint_start_open(void) {
  struct ch_server_opts so = {.port = 0, .control_port = 0, .listen_host = "127.0.0.1", .quiet = true};
  struct ch_server *srv = NULL;
  if (ch_server_new(&so, &srv) || ch_server_start(srv)) {
    ch_server_free(srv);
    return NULL;
  }
  return srv;
}

#endif /* CH_ENDPOINT_H */
