/* check --scenario with a login or an auth command: see ch_check_auth.h. */
#include "ch_check_auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ch_auth.h"
#include "ch_checks.h"
#include "ch_clock.h"
#include "ch_report.h"
#include "ch_scenario.h"

struct ch_check_auth {
  struct ch_auth *a;
  const char *scheme;
  size_t used;   /* users the checks use: 1, or 2 when there is a second one */
  unsigned fetched, renewed; /* tokens obtained; of them, renewed between families */
  char **creds;  /* every "Scheme TOKEN" handed out: valid until the end (the checks and the report refer to them) */
  size_t n_creds, cap_creds;
};

int ch_check_auth_new(const struct ch_scenario *s, const struct ch_checks_opts *o, struct ch_check_auth **out,
                      struct ch_buf *err) {
  struct ch_check_auth *ca = calloc(1, sizeof *ca);
  if (!(*out = ca))
    return -ENOMEM;
  struct ch_auth_opts ao = {.auth = &s->target.auth, .insecure = o->insecure, .ca_file = o->ca_file, .seed = s->seed};
  int rc = ch_auth_new(&ao, &ca->a, err);
  if (rc)
    return rc;
  ca->scheme = s->target.auth.scheme;
  ca->used = ch_auth_users(ca->a) > 1 && !o->token2 ? 2 : 1; /* --token2 stays the other identity */
  return 0;
}

/* "Scheme TOKEN" of user u, kept in ca->creds; NULL when out of memory. */
static const char *check_auth_cred(struct ch_check_auth *ca, size_t u) {
  const char *tok = ch_auth_token(ca->a, u);
  if (!tok)
    return NULL;
  if (ca->n_creds == ca->cap_creds) {
    size_t nc = ca->cap_creds ? 2 * ca->cap_creds : 8;
    char **p = realloc(ca->creds, nc * sizeof *p);
    if (!p)
      return NULL;
    ca->creds = p, ca->cap_creds = nc;
  }
  struct ch_buf b = CH_BUF_INIT;
  ch_buf_printf(&b, "%s %s", ca->scheme, tok);
  return b.data ? (ca->creds[ca->n_creds++] = ch_buf_steal(&b)) : NULL;
}

/* Fetches the users with need[u] and hands out the credentials. */
static int check_auth_get(struct ch_check_auth *ca, const bool *need, const char **t1, const char **t2,
                          struct ch_buf *err) {
  int rc = ch_auth_fetch(ca->a, need, err);
  if (rc)
    return rc == -ENOMEM ? rc : -EIO;
  for (size_t u = 0; u < ca->used; u++)
    ca->fetched += need[u];
  if (!(*t1 = check_auth_cred(ca, 0)) || (ca->used > 1 && !(*t2 = check_auth_cred(ca, 1)))) {
    ch_buf_puts(err, "out of memory");
    return -ENOMEM;
  }
  return 0;
}

/* Before a family: fetch again the tokens due for their refresh or expiring within span_ns. */
static int check_auth_renew(void *arg, uint64_t span_ns, const char **t1, const char **t2, struct ch_buf *err) {
  struct ch_check_auth *ca = arg;
  bool *need = calloc(ch_auth_users(ca->a), sizeof *need), any = false;
  if (!need)
    return -ENOMEM;
  uint64_t now = ch_now_ns();
  for (size_t u = 0; u < ca->used; u++) {
    uint64_t due, expires;
    ch_auth_times(ca->a, u, &due, &expires);
    need[u] = expires && (now >= due || now + span_ns >= expires);
    any |= need[u];
  }
  unsigned before = ca->fetched;
  int rc = any ? check_auth_get(ca, need, t1, t2, err) : 0;
  ca->renewed += ca->fetched - before;
  free(need);
  return rc;
}

int ch_check_auth_fetch(struct ch_check_auth *ca, struct ch_checks_opts *o, struct ch_buf *err) {
  bool *need = calloc(ch_auth_users(ca->a), sizeof *need);
  if (!need)
    return -ENOMEM;
  for (size_t u = 0; u < ca->used; u++)
    need[u] = true;
  int rc = check_auth_get(ca, need, &o->token, &o->token2, err);
  free(need);
  o->renew = check_auth_renew;
  o->renew_arg = ca;
  return rc;
}

static void check_auth_secret(void *arg, const char *secret) { ch_report_add_secret(arg, secret); }

void ch_check_auth_report(struct ch_check_auth *ca, struct ch_report *rep) {
  if (!ca || !ca->a)
    return;
  ch_auth_each_password(ca->a, check_auth_secret, rep);
  ch_auth_drain_new(ca->a, check_auth_secret, rep);
  struct ch_buf n = CH_BUF_INIT;
  ch_buf_printf(&n, "target.auth: %u tokens obtained for %zu user%s, %u of them renewed between check families",
                ca->fetched, ca->used, ca->used == 1 ? "" : "s", ca->renewed);
  if (n.data)
    ch_report_add_note(rep, n.data);
  ch_buf_free(&n);
}

void ch_check_auth_free(struct ch_check_auth *ca) {
  if (!ca)
    return;
  for (size_t i = 0; i < ca->n_creds; i++) {
    memset(ca->creds[i], 0, strlen(ca->creds[i]));
    free(ca->creds[i]);
  }
  free(ca->creds);
  ch_auth_free(ca->a);
  free(ca);
}
