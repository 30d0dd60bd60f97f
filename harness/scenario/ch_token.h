/* ch_token: resolution of the credentials a run uses. Tokens are secrets: no function here ever writes a token's
 * value into an error message, and callers must not log the strings it returns.
 */
#ifndef CH_TOKEN_H
#define CH_TOKEN_H

#include <stddef.h>

#include "ch_buf.h"

struct ch_scn_auth;

/* The command line's credential options (at most one may be set; NULL = not given). They override the file. */
struct ch_token_cli {
  const char *token;          /* --token TOKEN */
  const char *token_env;      /* --token-env VAR */
  const char *token_file;     /* --token-file FILE (relative to the current directory) */
};

struct ch_tokens {
  char **tokens;              /* n >= 1 when resolved from any source; 0 when no credential is configured */
  size_t n;
};

/**
 * Resolves the tokens: CLI options first, then the scenario's token / token_env / token_file.
 * Errors: more than one CLI option, an unset or empty variable (named), a missing, unreadable or empty token file
 * (named, with the line of an invalid entry but never its content), a token containing control characters.
 * @return 0, -EINVAL, -ENOENT (missing file), -ENOMEM. out is empty on error.
 */
int ch_tokens_resolve(const struct ch_scn_auth *auth, const struct ch_token_cli *cli, struct ch_tokens *out,
                      struct ch_buf *err);
/* The token of client i (tokens[i mod n]), or NULL when there is none. i is the client's global index
   (ch_population.first_client + index within the population), so a token file is shared across populations. */
const char *ch_tokens_for_client(const struct ch_tokens *t, size_t client_index);
/* Wipes and frees the tokens. */
void ch_tokens_free(struct ch_tokens *t);

#endif /* CH_TOKEN_H */
