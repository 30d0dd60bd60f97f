/* ch_check_auth: `check --scenario` with target.auth.login or target.auth.command. The main credential is the first
   user's token (the users file's first row, or the command's) and, when the users file has a second row, that
   user's token is the other identity (AUTH-006). Both are fetched before the catalogue and again before a check
   family when one is due for its refresh (refresh_at) or would expire within the longest family so far; no thread
   of its own. Every password and token is a secret of the report. */
#ifndef CH_CHECK_AUTH_H
#define CH_CHECK_AUTH_H

#include "ch_buf.h"

struct ch_check_auth;
struct ch_checks_opts;
struct ch_report;
struct ch_scenario;

/* Reads the users (no network); o's insecure and ca_file apply to the login. 0, -EINVAL (err says why), -ENOMEM. */
int ch_check_auth_new(const struct ch_scenario *s, const struct ch_checks_opts *o, struct ch_check_auth **out,
                      struct ch_buf *err);
/* Fetches the first tokens and sets o->token, o->token2 (second user) and o->renew. 0, or -EIO with err naming the
   user's row, the request (redacted URL) and the status or the command's failure, or -ENOMEM. */
int ch_check_auth_fetch(struct ch_check_auth *ca, struct ch_checks_opts *o, struct ch_buf *err);
/* Registers every password and every token obtained as secrets of rep (before it is written) and adds a note: how
   many tokens were obtained and renewed. NULL ca is fine. */
void ch_check_auth_report(struct ch_check_auth *ca, struct ch_report *rep);
/* Wipes and frees (NULL is fine). */
void ch_check_auth_free(struct ch_check_auth *ca);

#endif /* CH_CHECK_AUTH_H */
