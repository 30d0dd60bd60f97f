/* ch_auth: users, the login request and the auth command, and the refresher thread (see ch_auth.h).
 *
 * Threads: ch_auth_new, ch_auth_fetch and ch_auth_token are called on the main thread; fetches themselves run on up
 * to AUTH_PARALLEL fetcher threads (joined by ch_auth_fetch; then the refreshers until ch_auth_stop). mu guards the
 * users' tokens and schedule, the rate slot, the stats, the list of new tokens and the stop flag; it is released
 * while a request or command runs. */
#include "ch_auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ch_clock.h"
#include "ch_json.h"
#include "ch_report.h"
#include "ch_rng.h"
#include "ch_scenario.h"
#include "ch_url.h"
#include "ch_users.h"

extern char **environ;

#define AUTH_MAX_BODY (1u << 20)   /* a login answer is a small JSON object */
#define AUTH_MAX_TOKEN (64u << 10) /* a token goes into a header */
#define AUTH_RETRY_NS 1000000000ull
/* Logins (or command runs) in flight at once, within the rate: one slow answer must not hold up every other user's
   refresh (50 users behind a busy endpoint answering in 100 ms already take 5 s one after the other). */
#define AUTH_PARALLEL 8

struct auth_user {
  char *name, *password; /* "" for client credentials and commands */
  size_t row;            /* line in the CSV (for messages), 0 when none */
  char *token;
  uint64_t expires_ns;   /* 0: never */
  uint64_t due_ns;       /* next refresh; 0: none */
  bool expired_counted;
  bool in_flight;        /* a fetcher thread is refreshing it */
};

struct ch_auth {
  struct ch_auth_opts o;
  const struct ch_scn_auth *a;
  struct auth_user *users;  /* row 0: client credentials or a command (one pseudo-user) */
  size_t n_users;
  struct ch_rng rng;
  uint64_t next_slot_ns; /* rate limit: the earliest start of the next fetch */
  /* fetcher threads: the first fetch (joined), then the refreshers */
  pthread_t threads[AUTH_PARALLEL];
  unsigned n_threads;
  bool started;
  const bool *need;      /* first fetch: the users wanted (NULL: all), the next to take, the first failure */
  size_t next_first;
  int first_rc;
  struct ch_buf first_err;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  bool stop;
  ch_auth_publish_cb publish;
  void *publish_arg;
  struct ch_auth_stats st;
  char **fresh; /* tokens obtained since the last drain */
  size_t n_fresh, cap_fresh;
};

static void auth_wipe_free(char *s) {
  if (s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

/* ---- users ---- */

/* The users of the CSV (file or variable), or one pseudo-user for client credentials and commands. */
static int auth_load_users(struct ch_auth *a, struct ch_buf *err) {
  const struct ch_scn_login *l = &a->a->login;
  struct ch_users u = {0};
  int rc = 0;
  if (a->a->source != CH_SCN_TOKEN_LOGIN || (!l->users_file && !l->users_env)) {
    u.v = calloc(1, sizeof *u.v);
    if (u.v)
      u.n = 1, u.v[0].name = strdup(""), u.v[0].password = strdup("");
    rc = u.v && u.v[0].name && u.v[0].password ? 0 : -ENOMEM;
  } else if (l->users_env) {
    const char *v = getenv(l->users_env);
    struct ch_buf origin = CH_BUF_INIT;
    ch_buf_printf(&origin, "users variable %s", l->users_env);
    if (v && *v)
      rc = ch_users_parse(v, strlen(v), origin.data ? origin.data : "users variable", &u, err);
    else
      rc = -EINVAL, ch_buf_printf(err, "users variable %s: expected it to hold `user,password` lines, found it %s",
                                  l->users_env, v ? "empty" : "unset");
    ch_buf_free(&origin);
  } else {
    rc = ch_users_load(l->users_file, &u, err);
  }
  if (!rc && !(a->users = calloc(u.n, sizeof *a->users)))
    rc = -ENOMEM;
  for (size_t i = 0; !rc && i < u.n; i++) { /* the strings change hands */
    a->users[i].name = u.v[i].name;
    a->users[i].password = u.v[i].password;
    a->users[i].row = u.v[i].row;
    u.v[i].name = u.v[i].password = NULL;
    a->n_users = i + 1;
  }
  ch_users_free(&u);
  return rc;
}

int ch_auth_new(const struct ch_auth_opts *o, struct ch_auth **out, struct ch_buf *err) {
  *out = NULL;
  if (!o || !o->auth ||
      (o->auth->source != CH_SCN_TOKEN_LOGIN && o->auth->source != CH_SCN_TOKEN_COMMAND))
    return -EINVAL;
  struct ch_auth *a = calloc(1, sizeof *a);
  if (!a)
    return -ENOMEM;
  a->o = *o;
  a->a = o->auth;
  ch_rng_seed(&a->rng, o->seed ^ 0x61757468u);
  pthread_mutex_init(&a->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&a->cv, &ca);
  pthread_condattr_destroy(&ca);
  int rc = auth_load_users(a, err);
  if (rc) {
    ch_auth_free(a);
    return rc;
  }
  *out = a;
  return 0;
}

void ch_auth_free(struct ch_auth *a) {
  if (!a)
    return;
  ch_auth_stop(a);
  for (size_t i = 0; i < a->n_users; i++) {
    auth_wipe_free(a->users[i].name);
    auth_wipe_free(a->users[i].password);
    auth_wipe_free(a->users[i].token);
  }
  free(a->users);
  for (size_t i = 0; i < a->n_fresh; i++)
    auth_wipe_free(a->fresh[i]);
  free(a->fresh);
  ch_buf_free(&a->first_err);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->cv);
  free(a);
}

size_t ch_auth_users(const struct ch_auth *a) { return a->n_users; }
size_t ch_auth_user_of(const struct ch_auth *a, size_t client_index) { return client_index % a->n_users; }

void ch_auth_each_password(const struct ch_auth *a, void (*fn)(void *arg, const char *secret), void *arg) {
  for (size_t i = 0; i < a->n_users; i++)
    if (a->users[i].password[0])
      fn(arg, a->users[i].password);
}

const char *ch_auth_token(const struct ch_auth *a, size_t u) { return u < a->n_users ? a->users[u].token : NULL; }

void ch_auth_times(const struct ch_auth *a, size_t u, uint64_t *due_ns, uint64_t *expires_ns) {
  bool has = u < a->n_users && a->users[u].token;
  *due_ns = has ? a->users[u].due_ns : 0;
  *expires_ns = has ? a->users[u].expires_ns : 0;
}

/* "user 2 (row 3 of users.csv)" or "the client credentials": never the user's name (the CSV is a secret file). */
static void auth_who(const struct ch_auth *a, size_t u, struct ch_buf *out) {
  const struct ch_scn_login *l = &a->a->login;
  if (a->a->source == CH_SCN_TOKEN_COMMAND)
    ch_buf_puts(out, "auth command");
  else if (!a->users[u].row)
    ch_buf_puts(out, "login (client credentials)");
  else
    ch_buf_printf(out, "login of user %zu (row %zu of %s %s)", u + 1, a->users[u].row,
                  l->users_file ? "users file" : "users variable", l->users_file ? l->users_file : l->users_env);
}

/* ---- the login request ---- */

enum auth_esc { ESC_RAW, ESC_URL, ESC_JSON };

/* Renders {{user}}, {{password}} and {{env.NAME}} (validated at load) with the escaping of where they stand. */
static int auth_render(const char *t, enum auth_esc esc, const struct auth_user *u, struct ch_buf *out) {
  int rc = 0;
  struct ch_buf tmp = CH_BUF_INIT;
  for (const char *p = t; !rc && *p;) {
    const char *s = strstr(p, "{{"), *e = s ? strstr(s + 2, "}}") : NULL;
    if (!s || !e) {
      rc = ch_buf_puts(out, p);
      break;
    }
    rc = ch_buf_append(out, p, (size_t)(s - p));
    size_t n = (size_t)(e - s - 2);
    char name[136];
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name - 1 ? n : sizeof name - 1), s + 2);
    const char *v = !strcmp(name, "user")              ? u->name
                    : !strcmp(name, "password")        ? u->password
                    : !strncmp(name, "env.", 4)        ? getenv(name + 4)
                                                       : "";
    v = v ? v : "";
    if (rc) {
    } else if (esc == ESC_URL) {
      rc = ch_pct_encode(out, v, strlen(v));
    } else if (esc == ESC_JSON) {
      ch_buf_reset(&tmp);
      rc = ch_json_append_str(&tmp, v, strlen(v));
      if (!rc)
        rc = ch_buf_append(out, tmp.data + 1, tmp.len - 2); /* inside the template's own quotes */
    } else {
      rc = ch_buf_puts(out, v);
    }
    p = e + 2;
  }
  if (tmp.data)
    memset(tmp.data, 0, tmp.cap);
  ch_buf_free(&tmp);
  return rc;
}

static size_t auth_write(char *p, size_t sz, size_t n, void *arg) {
  struct ch_buf *b = arg;
  if (b->len + sz * n > AUTH_MAX_BODY || ch_buf_append(b, p, sz * n))
    return 0;
  return sz * n;
}

/* The token (and lifetime, 0 = none) from a login answer; a message without secrets otherwise. */
static int auth_parse_answer(const struct ch_auth *a, const struct ch_buf *body, char **tok, uint64_t *life_ns,
                             struct ch_buf *why) {
  const struct ch_scn_login *l = &a->a->login;
  struct ch_span doc = {body->data ? body->data : "", body->len}, v;
  if (ch_json_parse(doc, NULL, NULL) != 0) {
    ch_buf_puts(why, "the answer is not JSON");
    return -EIO;
  }
  int f = ch_json_pointer(doc, l->token_pointer, &v);
  struct ch_buf t = CH_BUF_INIT;
  if (f != 1 || ch_json_str_unescape(v, &t) || !t.len) {
    ch_buf_printf(why, "the answer has no token at %s (a non-empty string expected)", l->token_pointer);
    ch_buf_free(&t);
    return -EIO;
  }
  for (size_t i = 0; i < t.len; i++)
    if ((unsigned char)t.data[i] < 0x20 || t.data[i] == 0x7f || t.len > AUTH_MAX_TOKEN) {
      ch_buf_printf(why, "the token at %s is not usable in a header (control characters or too long)",
                    l->token_pointer);
      memset(t.data, 0, t.cap);
      ch_buf_free(&t);
      return -EIO;
    }
  *tok = ch_buf_steal(&t);
  *life_ns = a->a->ttl_ns;
  if (l->expires_in_pointer && ch_json_pointer(doc, l->expires_in_pointer, &v) == 1) {
    struct ch_buf s = CH_BUF_INIT;
    double sec = -1;
    if (v.n && v.p[0] == '"') { /* some servers send "3600" */
      if (!ch_json_str_unescape(v, &s) && s.data) {
        char *end;
        sec = strtod(s.data, &end);
        if (*end || end == s.data)
          sec = -1;
      }
    } else if (ch_json_num_double(v, &sec)) {
      sec = -1;
    }
    ch_buf_free(&s);
    if (sec > 0 && sec < 1e8)
      *life_ns = (uint64_t)(sec * 1e9);
    else if (sec <= 0)
      ch_buf_printf(why, "note: %s is not a positive number of seconds; ", l->expires_in_pointer);
  }
  return 0;
}

/* The OAuth "error" member of a refusal, when it is a short plain word: it says why without showing anything else. */
static void auth_error_word(const struct ch_buf *body, struct ch_buf *why) {
  struct ch_span doc = {body->data ? body->data : "", body->len}, v;
  struct ch_buf s = CH_BUF_INIT;
  if (ch_json_pointer(doc, "/error", &v) == 1 && !ch_json_str_unescape(v, &s) && s.len && s.len <= 40 &&
      strspn(s.data, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == s.len)
    ch_buf_printf(why, " (error \"%s\")", s.data);
  ch_buf_free(&s);
}

static int auth_login(struct ch_auth *a, size_t u, char **tok, uint64_t *life_ns, struct ch_buf *why) {
  const struct ch_scn_login *l = &a->a->login;
  const struct auth_user *usr = &a->users[u];
  struct ch_buf url = CH_BUF_INIT, body = CH_BUF_INIT, hdr = CH_BUF_INIT, answer = CH_BUF_INIT, shown = CH_BUF_INIT;
  struct curl_slist *hl = NULL;
  bool form = false, has_ct = false;
  int rc = auth_render(l->url, ESC_URL, usr, &url);
  for (size_t i = 0; !rc && i < l->n_headers; i++) {
    ch_buf_reset(&hdr);
    rc = ch_buf_printf(&hdr, "%s: ", l->header_names[i]) || auth_render(l->header_values[i], ESC_RAW, usr, &hdr);
    if (!rc && !strcasecmp(l->header_names[i], "content-type")) {
      has_ct = true;
      form = strstr(hdr.data, "x-www-form-urlencoded") != NULL;
    }
    struct curl_slist *n = rc ? NULL : curl_slist_append(hl, hdr.data);
    if (!n)
      rc = -ENOMEM;
    else
      hl = n;
  }
  if (!rc && l->body) {
    if (!has_ct) {
      const char *ct = l->body_json ? "Content-Type: application/json" : "Content-Type: application/x-www-form-urlencoded";
      form = !l->body_json;
      struct curl_slist *n = curl_slist_append(hl, ct);
      rc = n ? 0 : -ENOMEM;
      hl = n ? n : hl;
    }
    if (!rc)
      rc = auth_render(l->body, l->body_json ? ESC_JSON : form ? ESC_URL : ESC_RAW, usr, &body);
  }
  ch_report_redact_url(l->url, &shown); /* the template: placeholders, never a rendered password */
  CURL *c = rc ? NULL : curl_easy_init();
  long status = 0;
  if (!c) {
    ch_buf_puts(why, "out of memory");
    rc = -ENOMEM;
  } else {
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, l->method);
    if (l->body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data ? body.data : "");
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
    } else if (!strcmp(l->method, "GET")) {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(l->timeout_ns / 1000000u));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, auth_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    if (a->o.insecure) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (a->o.ca_file)
      curl_easy_setopt(c, CURLOPT_CAINFO, a->o.ca_file);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
      ch_buf_printf(why, "%s %s failed: %s", l->method, shown.data ? shown.data : "", curl_easy_strerror(cc));
      rc = -EIO;
    } else if (status < 200 || status > 299) {
      ch_buf_printf(why, "%s %s answered %ld", l->method, shown.data ? shown.data : "", status);
      auth_error_word(&answer, why);
      rc = -EIO;
    } else {
      struct ch_buf w2 = CH_BUF_INIT;
      rc = auth_parse_answer(a, &answer, tok, life_ns, &w2);
      if (rc)
        ch_buf_printf(why, "%s %s answered %ld but %s", l->method, shown.data ? shown.data : "", status,
                      w2.data ? w2.data : "");
      ch_buf_free(&w2);
    }
  }
  curl_slist_free_all(hl);
  struct ch_buf *wipe[] = {&url, &body, &hdr, &answer};
  for (size_t i = 0; i < 4; i++) {
    if (wipe[i]->data)
      memset(wipe[i]->data, 0, wipe[i]->cap);
    ch_buf_free(wipe[i]);
  }
  ch_buf_free(&shown);
  return rc;
}

/* ---- the auth command ---- */

static int auth_command(struct ch_auth *a, char **tok, uint64_t *life_ns, struct ch_buf *why) {
  const struct ch_scn_command *cmd = &a->a->command;
  const char *prog = cmd->argv[0];
  int fds[2];
  if (pipe2(fds, O_CLOEXEC)) {
    ch_buf_printf(why, "auth command %s: cannot make a pipe: %s", prog, strerror(errno));
    return -EIO;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  /* none of the run's sockets: a command that hangs must not keep a connection the run closes half-open */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid;
  int e = posix_spawnp(&pid, prog, &fa, NULL, cmd->argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (e) {
    close(fds[0]);
    ch_buf_printf(why, "auth command %s could not be started: %s", prog, strerror(e));
    return -EIO;
  }
  struct ch_buf out = CH_BUF_INIT;
  uint64_t deadline = ch_now_ns() + cmd->timeout_ns;
  bool timed_out = false, too_big = false;
  for (;;) {
    uint64_t now = ch_now_ns();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int pr = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue; /* the deadline check ends it */
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (out.len + (size_t)n > AUTH_MAX_TOKEN + 64)
      too_big = true;
    else
      ch_buf_append(&out, buf, (size_t)n);
    memset(buf, 0, sizeof buf);
  }
  close(fds[0]);
  if (timed_out)
    kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int rc = -EIO;
  double secs = (double)cmd->timeout_ns / 1e9;
  if (timed_out) {
    ch_buf_printf(why, "auth command %s did not finish within %g s (killed)", prog, secs);
  } else if (WIFSIGNALED(status)) {
    ch_buf_printf(why, "auth command %s was killed by signal %d", prog, WTERMSIG(status));
  } else if (WEXITSTATUS(status) != 0) {
    ch_buf_printf(why, "auth command %s exited with status %d", prog, WEXITSTATUS(status));
  } else if (too_big) {
    ch_buf_printf(why, "auth command %s printed more than %u KiB (a token expected)", prog, AUTH_MAX_TOKEN >> 10);
  } else {
    size_t s = 0, n = out.len;
    while (s < n && isspace((unsigned char)out.data[s]))
      s++;
    while (n > s && isspace((unsigned char)out.data[n - 1]))
      n--;
    bool clean = n > s;
    for (size_t i = s; i < n; i++)
      clean = clean && (unsigned char)out.data[i] >= 0x20 && out.data[i] != 0x7f;
    if (!clean) {
      ch_buf_printf(why, "auth command %s printed %s (one token on standard output expected; output not shown)", prog,
                    n > s ? "more than one line or control characters" : "nothing");
    } else if ((*tok = strndup(out.data + s, n - s)) != NULL) {
      *life_ns = a->a->ttl_ns;
      rc = 0;
    } else {
      rc = -ENOMEM;
    }
  }
  if (out.data)
    memset(out.data, 0, out.cap);
  ch_buf_free(&out);
  return rc;
}

/* ---- fetching and scheduling ---- */

/* Takes the next rate slot and waits for it (mu held; released while waiting). false when stopped meanwhile. */
static bool auth_wait_slot(struct ch_auth *a) {
  double rate = a->a->source == CH_SCN_TOKEN_LOGIN && a->a->login.rate > 0 ? a->a->login.rate : 1e9;
  uint64_t now = ch_now_ns();
  uint64_t slot = a->next_slot_ns > now ? a->next_slot_ns : now;
  a->next_slot_ns = slot + (uint64_t)(1e9 / rate);
  while (!a->stop && ch_now_ns() < slot) {
    struct timespec ts = {(time_t)(slot / 1000000000u), (long)(slot % 1000000000u)};
    pthread_cond_timedwait(&a->cv, &a->mu, &ts);
  }
  return !a->stop;
}

static int auth_fetch_one(struct ch_auth *a, size_t u, char **tok, uint64_t *life_ns, struct ch_buf *why) {
  return a->a->source == CH_SCN_TOKEN_COMMAND ? auth_command(a, tok, life_ns, why)
                                              : auth_login(a, u, tok, life_ns, why);
}

static void auth_note_fresh(struct ch_auth *a, const char *tok) {
  if (a->n_fresh == a->cap_fresh) {
    size_t nc = a->cap_fresh ? a->cap_fresh * 2 : 16;
    char **p = realloc(a->fresh, nc * sizeof *p);
    if (!p)
      return; /* the report's last line of defence misses it; the token still never reaches a writer */
    a->fresh = p, a->cap_fresh = nc;
  }
  char *c = strdup(tok);
  if (c)
    a->fresh[a->n_fresh++] = c;
}

/* Stores a new token (mu held) and plans its refresh: at refresh_at of the lifetime, +- refresh_jitter. */
static void auth_store(struct ch_auth *a, size_t u, char *tok, uint64_t life_ns) {
  struct auth_user *usr = &a->users[u];
  uint64_t now = ch_now_ns();
  auth_note_fresh(a, tok);
  a->st.fetches++;
  auth_wipe_free(usr->token);
  usr->token = tok;
  usr->expires_ns = life_ns ? now + life_ns : 0;
  usr->expired_counted = false;
  double f = a->a->refresh_at + a->a->refresh_jitter * (2.0 * ch_rng_unit(&a->rng) - 1.0);
  usr->due_ns = life_ns ? now + (uint64_t)((double)life_ns * f) : 0;
}

/* Starts up to AUTH_PARALLEL threads running fn (at most want); 0 when at least one runs. */
static int auth_spawn(struct ch_auth *a, void *(*fn)(void *), size_t want) {
  a->n_threads = 0;
  while (a->n_threads < AUTH_PARALLEL && a->n_threads < want &&
         pthread_create(&a->threads[a->n_threads], NULL, fn, a) == 0)
    a->n_threads++;
  return a->n_threads ? 0 : -EAGAIN;
}

static void auth_join(struct ch_auth *a) {
  for (unsigned i = 0; i < a->n_threads; i++)
    pthread_join(a->threads[i], NULL); /* a fetch in flight ends within its timeout */
  a->n_threads = 0;
}

/* A first-fetch thread: takes the next wanted user until none is left or one failed. */
static void *auth_first_fetcher(void *arg) {
  struct ch_auth *a = arg;
  pthread_mutex_lock(&a->mu);
  while (!a->first_rc) {
    size_t u = a->next_first;
    while (u < a->n_users && a->need && !a->need[u])
      u++;
    if (u >= a->n_users)
      break;
    a->next_first = u + 1;
    auth_wait_slot(a);
    pthread_mutex_unlock(&a->mu);
    char *tok = NULL;
    uint64_t life = 0;
    struct ch_buf why = CH_BUF_INIT;
    int rc = auth_fetch_one(a, u, &tok, &life, &why);
    pthread_mutex_lock(&a->mu);
    if (rc && !a->first_rc) {
      a->first_rc = rc == -ENOMEM ? rc : -EIO;
      auth_who(a, u, &a->first_err);
      ch_buf_printf(&a->first_err, " failed: %s", why.data ? why.data : "out of memory");
    } else if (!rc) {
      auth_store(a, u, tok, life);
    }
    ch_buf_free(&why);
  }
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

int ch_auth_fetch(struct ch_auth *a, const bool *need, struct ch_buf *err) {
  size_t want = 0;
  for (size_t u = 0; u < a->n_users; u++)
    want += !need || need[u];
  a->need = need;
  a->next_first = 0;
  a->first_rc = 0;
  ch_buf_reset(&a->first_err);
  if (want && auth_spawn(a, auth_first_fetcher, want))
    auth_first_fetcher(a); /* no thread to be had: one after the other on this one */
  auth_join(a);
  if (a->first_rc)
    ch_buf_puts(err, a->first_err.data ? a->first_err.data : "a first login failed");
  return a->first_rc;
}

/* Counts the tokens whose lifetime has passed without a refresh (mu held); returns the earliest expiry still to come
   among the others (0: none). */
static uint64_t auth_count_expired(struct ch_auth *a, uint64_t now) {
  uint64_t next = 0;
  for (size_t u = 0; u < a->n_users; u++) {
    struct auth_user *usr = &a->users[u];
    if (!usr->expires_ns || usr->expired_counted || !usr->token)
      continue;
    if (now >= usr->expires_ns) {
      usr->expired_counted = true; /* its clients were left with an expired token */
      a->st.expired++;
    } else if (!next || usr->expires_ns < next) {
      next = usr->expires_ns;
    }
  }
  return next;
}

/* A refresher thread: refreshes the user due first (and not taken by another), at the rate; counts the tokens that
   expire before their refresh. */
static void *auth_refresher(void *arg) {
  struct ch_auth *a = arg;
  pthread_mutex_lock(&a->mu);
  while (!a->stop) {
    size_t best = a->n_users;
    uint64_t now = ch_now_ns(), expiry = auth_count_expired(a, now);
    for (size_t u = 0; u < a->n_users; u++) {
      struct auth_user *usr = &a->users[u];
      if (usr->due_ns && !usr->in_flight && (best == a->n_users || usr->due_ns < a->users[best].due_ns))
        best = u;
    }
    uint64_t due = best < a->n_users ? a->users[best].due_ns : 0;
    if (!due || due > now) {
      /* sleep until the next refresh, or the next expiry (counted on time) */
      uint64_t wake = !due ? expiry : !expiry || due < expiry ? due : expiry;
      struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
      if (wake)
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
      else
        pthread_cond_wait(&a->cv, &a->mu);
      continue;
    }
    a->users[best].in_flight = true;
    if (!auth_wait_slot(a))
      break;
    pthread_mutex_unlock(&a->mu);
    char *tok = NULL;
    uint64_t life = 0;
    struct ch_buf why = CH_BUF_INIT;
    int rc = auth_fetch_one(a, best, &tok, &life, &why);
    if (!rc) /* before the next refresh of this user can start (it is in flight): workers get tokens in order */
      a->publish(a->publish_arg, best, tok);
    pthread_mutex_lock(&a->mu);
    if (rc) {
      /* the clients keep the old token (valid until it expires); try again soon, at the same bounded rate */
      a->st.failures++;
      struct ch_buf m = CH_BUF_INIT;
      auth_who(a, best, &m);
      ch_buf_printf(&m, " failed during the run: %s", why.data ? why.data : "out of memory");
      snprintf(a->st.last_failure, sizeof a->st.last_failure, "%s", m.data ? m.data : "");
      ch_buf_free(&m);
      a->users[best].due_ns = ch_now_ns() + AUTH_RETRY_NS;
    } else {
      a->st.refreshes++;
      auth_store(a, best, tok, life);
    }
    a->users[best].in_flight = false;
    pthread_cond_broadcast(&a->cv); /* the schedule changed: the others look again */
    ch_buf_free(&why);
  }
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

int ch_auth_start(struct ch_auth *a, ch_auth_publish_cb publish, void *arg) {
  if (a->started)
    return -EALREADY;
  a->publish = publish;
  a->publish_arg = arg;
  a->stop = false;
  int rc = auth_spawn(a, auth_refresher, a->n_users);
  if (rc)
    return rc;
  a->started = true;
  return 0;
}

void ch_auth_stop(struct ch_auth *a) {
  if (!a || !a->started)
    return;
  pthread_mutex_lock(&a->mu);
  a->stop = true;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  auth_join(a);
  a->started = false;
}

void ch_auth_get_stats(struct ch_auth *a, struct ch_auth_stats *st) {
  pthread_mutex_lock(&a->mu);
  auth_count_expired(a, ch_now_ns());
  *st = a->st;
  pthread_mutex_unlock(&a->mu);
}

void ch_auth_drain_new(struct ch_auth *a, void (*fn)(void *arg, const char *secret), void *arg) {
  pthread_mutex_lock(&a->mu);
  for (size_t i = 0; i < a->n_fresh; i++) {
    fn(arg, a->fresh[i]);
    auth_wipe_free(a->fresh[i]);
  }
  a->n_fresh = 0;
  pthread_mutex_unlock(&a->mu);
}
