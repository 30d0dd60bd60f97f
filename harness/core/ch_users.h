/* ch_users: the users CSV shared by `run` (target.auth.login users_file/users_env) and `serve --login-users`:
 * `user,password` per line; an optional first line `user,password`, blank lines and lines starting with '#' are
 * skipped; the password is everything after the first comma (no quoting); CRLF accepted. Passwords are secrets:
 * messages name the origin and the line number, never a line's content, and everything is wiped when freed.
 */
#ifndef CH_USERS_H
#define CH_USERS_H

#include <stddef.h>

#include "ch_buf.h"

struct ch_user {
  char *name;
  char *password;
  size_t row; /* line number in the CSV */
};

struct ch_users {
  struct ch_user *v;
  size_t n;
};

/* Parses data (origin names it in messages: a path, "users variable X"). 0, -EINVAL (err says why), -ENOMEM.
   At least one user is required. out is empty on error. */
int ch_users_parse(const char *data, size_t len, const char *origin, struct ch_users *out, struct ch_buf *err);
/* Reads and parses the file at path (at most 64 MiB). 0, -EINVAL (err names the file), -ENOMEM. */
int ch_users_load(const char *path, struct ch_users *out, struct ch_buf *err);
/* Wipes and frees (also what is left after ownership of some strings was taken: NULL entries are fine). */
void ch_users_free(struct ch_users *u);

#endif /* CH_USERS_H */
