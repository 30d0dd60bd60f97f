/* `centro-harness serve`: options, the tokens file, --processes (N server processes sharing the port through
   SO_REUSEPORT, publishes relayed from the first to the others), and SIGINT/SIGTERM through uv signals. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ch_exit.h"
#include "ch_live.h"
#include "ch_srv.h"

#define MAX_TOKENS 256
#define MAX_PROCESSES 64

static void usage(FILE *f) {
  fputs("Usage: centro-harness serve [OPTIONS]\n"
        "\n"
        "Runs the reference Centro endpoint: an ASP.NET SignalR 2.4-compatible server hosting ResourceEventHub and\n"
        "JobEventHub on {base}/signalr, plus a control API (POST /publish, GET /stats, POST /drop, POST /reset-stats).\n"
        "Prints one line `listening on http[s]://HOST:PORT/BASE/signalr, control on http://HOST:CPORT` and runs\n"
        "until SIGINT/SIGTERM.\n"
        "\n"
        "Options:\n"
        "  --listen HOST:PORT        endpoint address (default 127.0.0.1:0, 0 = a free port)\n"
        "  --base PATH               virtual directory, e.g. /Centro (default none: /signalr)\n"
        "  --control-listen HOST:PORT  control API address (default 127.0.0.1:0)\n"
        "  --no-control              no control API\n"
        "  --token TOKEN[:USER]      accept this bearer token (repeatable; user defaults to the token's index)\n"
        "  --tokens FILE             tokens file: `TOKEN USER [parts=K1,K2] [pipelines=P1,P2] [hubs=H1,H2]` per line\n"
        "                            (without --token/--tokens authorization is off: every request is anonymous)\n"
        "  --login-users FILE        add the login route POST /login: JSON {\"user\",\"password\"} checked against FILE\n"
        "                            (`user,password` per line) answers {\"access_token\",\"token_type\",\n"
        "                            \"expires_in\"}; its tokens are accepted like --tokens (every hub and key) and\n"
        "                            refused with 401 on every request once expired; a wrong pair gets 401\n"
        "  --token-ttl SECONDS       lifetime of login tokens (default 300)\n"
        "  --strict-auth             refuse every request without a known token (default: like SignalR 2.4, only\n"
        "                            requests naming hubs in connectionData need one; /ping and a negotiate\n"
        "                            without connectionData are answered anonymously)\n"
        "  --fault NAME              inject a fault (repeatable; see the list below)\n"
        "  --fault-seed N            seed of the random faults (*-1pct): the nth connection draws the same faults in\n"
        "                            every run with the same seed (default 1)\n"
        "  --keepalive SECONDS       keep-alive period on every transport (default 10)\n"
        "  --disconnect-timeout S    DisconnectTimeout (default 30)\n"
        "  --connection-timeout S    ConnectionTimeout, the long-poll hold time (default 110)\n"
        "  --transport-connect-timeout S  TransportConnectTimeout (default 5)\n"
        "  --no-websockets           TryWebSockets false; WebSocket upgrades are refused\n"
        "  --replay-buffer N         messages kept per connection for reconnect/poll replay (default 1000)\n"
        "  --processes N             N server processes sharing the port (SO_REUSEPORT; default 1)\n"
        "  --tls-cert FILE           serve https/wss on the endpoint port with this PEM certificate (chain, leaf\n"
        "                            first); every transport and --processes too. Needs --tls-key\n"
        "  --tls-key FILE            the certificate's private key (PEM, unencrypted)\n"
        "  --tls-client-ca FILE      require a client certificate signed by a CA in this PEM file: a handshake\n"
        "                            without one, or with another, is refused\n"
        "  --control-tls             serve the control API over TLS too (default: plain http, on loopback unless\n"
        "                            --control-listen says otherwise)\n"
        "  --quiet                   no log lines on stderr\n"
        "  --metrics-listen HOST:PORT  serve GET /metrics (Prometheus text, OpenMetrics when asked by Accept) with\n"
        "                            what GET /stats has, refreshed every second; PORT alone means 127.0.0.1:PORT\n"
        "  --out FILE.jsonl          write the /stats object once a second as a JSON line into FILE\n"
        "  -h, --help                this text\n"
        "\n"
        "Faults (each makes one check family of the conformance catalogue fail):\n",
        f);
  const struct ch_fault_info *t = ch_fault_table();
  for (unsigned i = 0; i < CH_FAULT_COUNT; i++)
    fprintf(f, "  %-24s [%s] %s\n", t[i].name, t[i].family, t[i].description);
  fputs("\nExamples:\n"
        "  $ centro-harness serve --listen 127.0.0.1:8080 --base /Centro --token s3cret:alice\n"
        "  $ centro-harness serve --fault drop-updates --fault no-keepalive\n"
        "\n"
        "  $ centro-harness serve --tls-cert server.pem --tls-key server.key   # https://127.0.0.1:PORT/signalr\n"
        "\n"
        "Exit codes: 0 stopped by a signal, 3 bad usage, tokens file or TLS file (missing, unreadable, not PEM, key\n"
        "not matching the certificate: the message names the file), 4 port in use or start failure.\n",
        f);
}

/* HOST:PORT, [V6]:PORT or PORT. Host points into a static-free copy owned by the caller's buffer. */
static int parse_hostport(const char *s, char *host, size_t cap, int *port) {
  const char *colon = strrchr(s, ':');
  const char *ps = colon ? colon + 1 : s;
  char *end;
  long p = strtol(ps, &end, 10);
  if (!*ps || *end || p < 0 || p > 65535)
    return -EINVAL;
  *port = (int)p;
  if (colon) {
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
      s++;
      hl -= 2;
    }
    if (!hl || hl >= cap)
      return -EINVAL;
    memcpy(host, s, hl);
    host[hl] = 0;
  }
  return 0;
}

static int parse_seconds(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || !(v > 0) || v > 86400)
    return -EINVAL;
  *out = v;
  return 0;
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

/* Blocks until SIGINT/SIGTERM (a uv loop of the main thread), or until the parent dies for a child. */
static void wait_for_signal(void) {
  uv_loop_t loop;
  uv_signal_t si, st;
  uv_loop_init(&loop);
  uv_signal_init(&loop, &si);
  uv_signal_init(&loop, &st);
  uv_signal_start(&si, on_signal, SIGINT);
  uv_signal_start(&st, on_signal, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&si, NULL);
  uv_close((uv_handle_t *)&st, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static int exit_for(int rc) { return rc == -EINVAL ? CH_EXIT_INPUT : CH_EXIT_RUN; }

int ch_server_main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"base", required_argument, NULL, 'b'},
      {"control-listen", required_argument, NULL, 'c'},
      {"no-control", no_argument, NULL, 'C'},
      {"token", required_argument, NULL, 't'},
      {"tokens", required_argument, NULL, 'T'},
      {"fault", required_argument, NULL, 'f'},
      {"fault-seed", required_argument, NULL, 'S'},
      {"keepalive", required_argument, NULL, 'k'},
      {"disconnect-timeout", required_argument, NULL, 'd'},
      {"connection-timeout", required_argument, NULL, 'o'},
      {"transport-connect-timeout", required_argument, NULL, 'r'},
      {"no-websockets", no_argument, NULL, 'W'},
      {"replay-buffer", required_argument, NULL, 'R'},
      {"processes", required_argument, NULL, 'p'},
      {"quiet", no_argument, NULL, 'q'},
      {"strict-auth", no_argument, NULL, 'A'},
      {"tls-cert", required_argument, NULL, 'E'},
      {"tls-key", required_argument, NULL, 'K'},
      {"tls-client-ca", required_argument, NULL, 'Q'},
      {"control-tls", no_argument, NULL, 'L'},
      {"login-users", required_argument, NULL, 'U'},
      {"token-ttl", required_argument, NULL, 'Y'},
      {"help", no_argument, NULL, 'h'},
      {"metrics-listen", required_argument, NULL, 'M'},
      {"out", required_argument, NULL, 'O'},
      {NULL, 0, NULL, 0},
  };
  struct ch_server_opts o = {0};
  char host[256] = "127.0.0.1", chost[256] = "127.0.0.1";
  struct ch_server_token cli_tokens[MAX_TOKENS];
  char *cli_users[MAX_TOKENS];
  size_t n_cli = 0;
  struct ch_server_token *file_tokens = NULL;
  size_t n_file = 0;
  struct ch_server_login_user *login_users = NULL;
  int rc = CH_EXIT_OK, c;
  struct ch_buf err = CH_BUF_INIT;
  const char *metrics_listen = NULL, *live_out = NULL;
  struct ch_live *live = NULL;
  optind = 0; /* glibc: full re-initialisation, so the function can run more than once per process */
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    enum ch_fault fl;
    double sec;
    char *end;
    switch (c) {
    case 'l':
      if (parse_hostport(optarg, host, sizeof host, &o.port))
        goto bad_arg;
      break;
    case 'b':
      o.base = optarg;
      break;
    case 'c':
      if (parse_hostport(optarg, chost, sizeof chost, &o.control_port))
        goto bad_arg;
      break;
    case 'C':
      o.control_port = -1;
      break;
    case 't': {
      if (n_cli >= MAX_TOKENS || !*optarg)
        goto bad_arg;
      char *colon = strchr(optarg, ':');
      cli_users[n_cli] = NULL;
      if (colon) {
        *colon = 0;
        cli_users[n_cli] = strdup(colon + 1);
      } else {
        char u[32];
        snprintf(u, sizeof u, "user%zu", n_cli + 1);
        cli_users[n_cli] = strdup(u);
      }
      cli_tokens[n_cli] = (struct ch_server_token){.token = optarg, .user = cli_users[n_cli]};
      n_cli++;
      break;
    }
    case 'T':
      if (file_tokens) {
        fputs("centro-harness serve: --tokens given twice\n", stderr);
        rc = CH_EXIT_INPUT;
        goto out;
      }
      if (ch_server_tokens_load(optarg, &file_tokens, &n_file, &err)) {
        fprintf(stderr, "centro-harness serve: %s\n", err.data ? err.data : "bad tokens file");
        rc = CH_EXIT_INPUT;
        goto out;
      }
      break;
    case 'f':
      if (ch_fault_parse(optarg, &fl)) {
        fprintf(stderr, "centro-harness serve: unknown fault '%s' (see serve --help)\n", optarg);
        rc = CH_EXIT_INPUT;
        goto out;
      }
      o.faults |= 1u << fl;
      break;
    case 'S':
      o.fault_seed = strtoull(optarg, &end, 10);
      if (*end || !*optarg)
        goto bad_arg;
      break;
    case 'k':
    case 'd':
    case 'o':
    case 'r':
      if (parse_seconds(optarg, &sec))
        goto bad_arg;
      if (c == 'k')
        o.keepalive_s = sec;
      else if (c == 'd')
        o.disconnect_timeout_s = sec;
      else if (c == 'o')
        o.connection_timeout_s = sec;
      else
        o.transport_connect_timeout_s = sec;
      break;
    case 'W':
      o.no_websockets = true;
      break;
    case 'R':
      o.replay_buffer = (size_t)strtoul(optarg, &end, 10);
      if (*end || !o.replay_buffer || o.replay_buffer > 1000000)
        goto bad_arg;
      break;
    case 'p':
      o.processes = (int)strtol(optarg, &end, 10);
      if (*end || o.processes < 1 || o.processes > MAX_PROCESSES)
        goto bad_arg;
      break;
    case 'q':
      o.quiet = true;
      break;
    case 'A':
      o.strict_auth = true;
      break;
    case 'E':
      o.tls_cert = optarg;
      break;
    case 'K':
      o.tls_key = optarg;
      break;
    case 'Q':
      o.tls_client_ca = optarg;
      break;
    case 'L':
      o.control_tls = true;
      break;
    case 'M':
      metrics_listen = optarg;
      break;
    case 'O':
      live_out = optarg;
      break;
    case 'U':
      if (login_users || ch_server_login_users_load(optarg, &login_users, &o.n_login_users, &err)) {
        fprintf(stderr, "centro-harness serve: %s\n", err.data ? err.data : "--login-users given twice");
        rc = CH_EXIT_INPUT;
        goto out;
      }
      o.login_users = login_users;
      break;
    case 'Y':
      if (parse_seconds(optarg, &o.token_ttl_s) || o.token_ttl_s <= 0)
        goto bad_arg;
      break;
    case 'h':
      usage(stdout);
      goto out;
    default:
      fprintf(stderr, "centro-harness serve: unknown option %s (see serve --help)\n", argv[optind - 1]);
      rc = CH_EXIT_INPUT;
      goto out;
    bad_arg:
      fprintf(stderr, "centro-harness serve: bad value for %s (see serve --help)\n", argv[optind - 1]);
      rc = CH_EXIT_INPUT;
      goto out;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "centro-harness serve: unexpected argument '%s'\n", argv[optind]);
    rc = CH_EXIT_INPUT;
    goto out;
  }
  if (ch_server_tls_check(&o, &err)) {
    fprintf(stderr, "centro-harness serve: %s\n", err.data ? err.data : "bad TLS options");
    rc = CH_EXIT_INPUT;
    goto out;
  }
  /* all tokens in one array */
  struct ch_server_token *all = calloc(n_cli + n_file + 1, sizeof *all);
  if (!all) {
    rc = CH_EXIT_RUN;
    goto out;
  }
  memcpy(all, cli_tokens, n_cli * sizeof *all);
  if (n_file)
    memcpy(all + n_cli, file_tokens, n_file * sizeof *all);
  o.tokens = all;
  o.n_tokens = n_cli + n_file;
  o.listen_host = host;
  o.control_host = chost;
  raise_fd_limit();

  int nproc = o.processes > 1 ? o.processes : 1;
  int inherited = -1, port = o.port;
  pid_t kids[MAX_PROCESSES];
  int relay[MAX_PROCESSES], statr[MAX_PROCESSES];
  int nkids = 0;
  uint64_t keys[15]; /* token keys, then the TLS session ticket keys (ch__server_share_keys) */
  if (nproc > 1) {
    if (getrandom(keys, sizeof keys, 0) != (ssize_t)sizeof keys) {
      fputs("centro-harness serve: no randomness for the shared token keys\n", stderr);
      rc = CH_EXIT_RUN;
      free(all);
      goto out;
    }
    /* bind first so every process joins the same port, then fork before any thread exists */
    struct ch_server *probe;
    struct ch_server_opts po = o;
    po.reuse_port = true;
    if (ch_server_new(&po, &probe)) {
      rc = CH_EXIT_INPUT;
      free(all);
      goto out;
    }
    ch_server_free(probe);
    int lfd = -1;
    int brc = ch__bind_listen(host, o.port, true, &lfd, &port);
    if (brc) {
      fprintf(stderr, "centro-harness serve: cannot listen on %s:%d: %s\n", host, o.port, strerror(-brc));
      rc = CH_EXIT_RUN;
      free(all);
      goto out;
    }
    inherited = lfd;
    fflush(NULL);
    /* siblings report on this pipe once they listen, so the first line is printed when every process is ready */
    int ready[2] = {-1, -1};
    if (pipe(ready)) {
      rc = CH_EXIT_RUN;
      free(all);
      close(lfd);
      goto out;
    }
    for (int i = 1; i < nproc; i++) {
      int pfd[2], sfd[2];
      if (pipe(pfd))
        break;
      if (pipe(sfd)) {
        close(pfd[0]);
        close(pfd[1]);
        break;
      }
      pid_t pid = fork();
      if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        close(sfd[0]);
        close(sfd[1]);
        break;
      }
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        close(pfd[1]);
        close(sfd[0]);
        close(lfd);
        close(ready[0]);
        for (int k = 0; k < nkids; k++) {
          close(relay[k]);
          close(statr[k]);
        }
        struct ch_server_opts co = o;
        co.port = port;
        co.reuse_port = true;
        co.control_port = -1;
        co.quiet = true;
        struct ch_server *s;
        int crc = ch_server_new(&co, &s);
        if (!crc) {
          s->cmd_fd = pfd[0];
          s->stats_fd = sfd[1];
          ch__server_share_keys(s, keys);
          crc = ch_server_start(s);
        }
        char st = crc ? 'x' : 'r';
        if (write(ready[1], &st, 1) != 1)
          crc = -EIO;
        close(ready[1]);
        if (!crc)
          wait_for_signal();
        if (!s) {
          close(pfd[0]);
          close(sfd[1]);
        }
        ch_server_free(s);
        free(all);
        _exit(crc ? CH_EXIT_RUN : CH_EXIT_OK);
      }
      close(pfd[0]);
      close(sfd[1]);
      kids[nkids] = pid;
      relay[nkids] = pfd[1];
      statr[nkids] = sfd[0];
      nkids++;
    }
    close(ready[1]);
    int up = 0;
    for (int i = 0; i < nkids; i++) {
      struct pollfd pf = {ready[0], POLLIN, 0};
      char st;
      if (poll(&pf, 1, 10000) <= 0 || read(ready[0], &st, 1) != 1)
        break;
      up += st == 'r';
    }
    close(ready[0]);
    if (up < nkids)
      fprintf(stderr, "centro-harness serve: only %d of %d sibling processes started\n", up, nkids);
  }
  struct ch_server *s = NULL;
  int src = 0;
  if (metrics_listen || live_out) { /* after the fork: the siblings have no thread and no copy of the listener */
    struct ch_live_opts lo = {metrics_listen, NULL, false, live_out, "serve"};
    src = ch_live_open(&lo, &live, &err);
    if (src) {
      fprintf(stderr, "centro-harness serve: %s\n", err.data ? err.data : "the live outputs could not be opened");
      rc = src == -EINVAL ? CH_EXIT_INPUT : CH_EXIT_RUN;
    } else {
      o.on_stats = ch_live_serve_stats;
      o.on_stats_user = live;
    }
  }
  if (!src)
    src = ch_server_new(&o, &s);
  if (!src) {
    if (inherited >= 0) {
      ch__server_share_keys(s, keys);
      s->inherited_fd = inherited;
      inherited = -1;
      s->relay_fds = malloc((size_t)(nkids ? nkids : 1) * sizeof(int));
      if (s->relay_fds) {
        memcpy(s->relay_fds, relay, (size_t)nkids * sizeof(int));
        s->n_relay = (size_t)nkids;
      }
      if (ch__server_set_peers(s, statr, (size_t)nkids) == 0)
        for (int i = 0; i < nkids; i++)
          statr[i] = -1; /* owned by the server now */
    }
    src = ch_server_start(s);
  }
  if (src && live == NULL && (metrics_listen || live_out)) {
    /* said above */
  } else if (src) {
    if (src == -EADDRINUSE)
      fprintf(stderr, "centro-harness serve: port in use: %s:%d\n", host, o.port);
    else
      fprintf(stderr, "centro-harness serve: cannot start: %s\n", strerror(-src));
    rc = exit_for(src) == CH_EXIT_INPUT ? CH_EXIT_INPUT : CH_EXIT_RUN;
  } else {
    int cp = ch_server_control_port(s);
    const char *scheme = o.tls_cert ? "https" : "http";
    if (cp >= 0)
      printf("listening on %s://%s:%d%s/signalr, control on %s://%s:%d\n", scheme, host, ch_server_port(s),
             o.base ? o.base : "", o.control_tls ? "https" : "http", chost, cp);
    else
      printf("listening on %s://%s:%d%s/signalr\n", scheme, host, ch_server_port(s), o.base ? o.base : "");
    if (nproc > 1)
      printf("processes: %d sharing port %d\n", nkids + 1, port);
    ch_live_print_where(live, stdout);
    fflush(stdout);
    wait_for_signal();
  }
  ch_server_free(s); /* its thread no longer calls on_stats */
  ch_live_close(live);
  if (inherited >= 0)
    close(inherited);
  for (int i = 0; i < nkids; i++) {
    kill(kids[i], SIGTERM);
    waitpid(kids[i], NULL, 0);
    if (!s)
      close(relay[i]);
    if (statr[i] >= 0)
      close(statr[i]);
  }
  free(all);
out:
  for (size_t i = 0; i < n_cli; i++)
    free(cli_users[i]);
  ch_server_tokens_free(file_tokens, n_file);
  ch_server_login_users_free(login_users, o.n_login_users);
  ch_buf_free(&err);
  return rc;
}
