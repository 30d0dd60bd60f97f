/* ch_auth: tokens fetched at run time (target.auth.login, target.auth.command): one token per user, fetched before
 * the connect phase at a bounded rate, then refreshed before expiry by threads of its own (up to 8 requests or
 * command runs at once, within the rate), which hand every new token to a callback (the runner posts it to each
 * worker loop: see ch_run_auth.c). `check` uses no refresher: it fetches again between check families
 * (ch_check_auth.c). Passwords and tokens are secrets: no message built here contains one, and URLs are shown
 * redacted.
 */
#ifndef CH_AUTH_H
#define CH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

struct ch_scn_auth;
struct ch_auth;

struct ch_auth_opts {
  const struct ch_scn_auth *auth; /* source CH_SCN_TOKEN_LOGIN or CH_SCN_TOKEN_COMMAND; borrowed for the lifetime */
  bool insecure;                  /* login over https: skip verification */
  const char *ca_file;            /* NULL or an extra CA */
  uint64_t seed;                  /* refresh jitter */
};

/* A new token of a user; called on a refresher thread, never for the same user on two threads at once, and for one
   user in the order the tokens were obtained (the token is only valid during the call). */
typedef void (*ch_auth_publish_cb)(void *arg, size_t user, const char *token);

/**
 * Reads the users (CSV `user,password` from the file or variable; one pseudo-user for client credentials and for a
 * command). No network. Errors name the file or variable and the row, never a value.
 * @return 0, -EINVAL (err says why: invalid input), -ENOMEM.
 */
int ch_auth_new(const struct ch_auth_opts *o, struct ch_auth **out, struct ch_buf *err);
/* Stops the refresher (if started), wipes and frees. NULL is fine. */
void ch_auth_free(struct ch_auth *a);

size_t ch_auth_users(const struct ch_auth *a);
/* Client i uses user i mod users (round-robin over the global client index, so shards agree). */
size_t ch_auth_user_of(const struct ch_auth *a, size_t client_index);
/* Calls fn for every password (before anything is written, so writers can redact them). */
void ch_auth_each_password(const struct ch_auth *a, void (*fn)(void *arg, const char *secret), void *arg);

/**
 * Fetches the first token of every user with need[u] (NULL: all), at the scenario's rate, several at once;
 * returns when all are in or one failed (the others in flight are waited for).
 * @return 0, or -EIO with err naming the user's row, the request (method and redacted URL) and the status or the
 *         failure (a command: its name and exit status or timeout), or -ENOMEM.
 */
int ch_auth_fetch(struct ch_auth *a, const bool *need, struct ch_buf *err);
/* The current token of user u (NULL when it has none); only while the refresher is not running. */
const char *ch_auth_token(const struct ch_auth *a, size_t u);
/* When user u's token is due for a refresh (refresh_at of its lifetime) and when it expires, ch_now_ns() time (both 0
   without a token or a lifetime); only while the refresher is not running. */
void ch_auth_times(const struct ch_auth *a, size_t u, uint64_t *due_ns, uint64_t *expires_ns);

/* Starts the refresher threads; tokens without a lifetime are never refreshed. 0 or -errno. */
int ch_auth_start(struct ch_auth *a, ch_auth_publish_cb publish, void *arg);
/* Stops and joins the refreshers (a request in flight ends within its timeout). Idempotent. */
void ch_auth_stop(struct ch_auth *a);

struct ch_auth_stats {
  uint64_t fetches;          /* tokens obtained (first ones and refreshes) */
  uint64_t refreshes;        /* of them, refreshes */
  uint64_t failures;         /* fetches that failed during the run (the client kept the old token) */
  uint64_t expired;          /* tokens that expired before a refresh succeeded */
  char last_failure[320];    /* "" when none; no secret */
};
/* A consistent copy (any thread). */
void ch_auth_get_stats(struct ch_auth *a, struct ch_auth_stats *st);
/* Calls fn for every token obtained since the last call (so the report can redact them); any thread. */
void ch_auth_drain_new(struct ch_auth *a, void (*fn)(void *arg, const char *secret), void *arg);

#endif /* CH_AUTH_H */
