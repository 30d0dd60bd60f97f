/* serve --login-users FILE: the login route (POST /login, JSON {"user","password"} -> {"access_token","expires_in"})
   and the tokens it issues. A login token is self-validating, `lt1.<user index>.<expiry ms>.<nonce>.<MAC>`, MACed
   with the connection-token key that --processes siblings share, so a token issued by one process is accepted by
   every other and no table of issued tokens has to be kept or shared. Its expiry is on the monotonic clock (all
   siblings run on one machine). Passwords and tokens are never logged. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ch_clock.h"
#include "ch_srv.h"
#include "ch_users.h"

void ch_server_login_users_free(struct ch_server_login_user *u, size_t n) {
  if (!u)
    return;
  for (size_t i = 0; i < n; i++) {
    free((char *)u[i].user);
    if (u[i].password) {
      memset((char *)u[i].password, 0, strlen(u[i].password));
      free((char *)u[i].password);
    }
  }
  free(u);
}

int ch_server_login_users_load(const char *path, struct ch_server_login_user **out, size_t *n, struct ch_buf *err) {
  *out = NULL;
  *n = 0;
  struct ch_users u;
  int rc = ch_users_load(path, &u, err);
  if (rc)
    return rc;
  struct ch_server_login_user *v = calloc(u.n, sizeof *v);
  if (!v) {
    ch_users_free(&u);
    return -ENOMEM;
  }
  for (size_t i = 0; i < u.n; i++) { /* the strings change hands */
    v[i].user = u.v[i].name;
    v[i].password = u.v[i].password;
    u.v[i].name = u.v[i].password = NULL;
  }
  *out = v;
  *n = u.n;
  ch_users_free(&u);
  return 0;
}

int ch_srv_login_init(struct ch_server *s, const struct ch_server_opts *o) {
  if (!o->n_login_users)
    return 0;
  s->login = calloc(o->n_login_users, sizeof *s->login);
  s->login_tok = calloc(o->n_login_users, sizeof *s->login_tok);
  if (!s->login || !s->login_tok)
    return -ENOMEM;
  s->n_login = o->n_login_users;
  for (size_t i = 0; i < s->n_login; i++) {
    s->login[i].user = strdup(o->login_users[i].user);
    s->login[i].password = strdup(o->login_users[i].password);
    if (!s->login[i].user || !s->login[i].password)
      return -ENOMEM;
    s->login_tok[i].user = s->login[i].user; /* every hub and key, like --token */
  }
  s->login_ttl_ms = (uint64_t)((o->token_ttl_s > 0 ? o->token_ttl_s : 300) * 1000.0);
  return 0;
}

void ch_srv_login_free(struct ch_server *s) {
  ch_server_login_users_free(s->login, s->n_login);
  free(s->login_tok);
  s->login = NULL;
  s->login_tok = NULL;
  s->n_login = 0;
}

static uint64_t login_mac(const struct ch_server *s, size_t idx, uint64_t exp_ms, uint64_t nonce) {
  char m[96];
  int n = snprintf(m, sizeof m, "login:%zu.%" PRIu64 ".%" PRIx64, idx, exp_ms, nonce);
  return ch_srv_siphash(s->conn_key, m, (size_t)n);
}

const struct ch_server_token *ch_srv_login_token(struct ch_server *s, const char *t, bool *expired) {
  *expired = false;
  if (!s->n_login || !t || strncmp(t, "lt1.", 4) != 0)
    return NULL;
  char *e;
  errno = 0;
  unsigned long long idx = strtoull(t + 4, &e, 10);
  if (*e != '.' || idx >= s->n_login)
    return NULL;
  uint64_t exp_ms = strtoull(e + 1, &e, 10);
  if (*e != '.')
    return NULL;
  uint64_t nonce = strtoull(e + 1, &e, 16);
  if (*e != '.')
    return NULL;
  uint64_t mac = strtoull(e + 1, &e, 16);
  if (*e || errno || mac != login_mac(s, (size_t)idx, exp_ms, nonce))
    return NULL;
  if (ch_now_ns() / 1000000u >= exp_ms) {
    *expired = true;
    return NULL;
  }
  return &s->login_tok[idx];
}

bool ch_srv_login_route(const struct ch_server *s, const char *path) {
  return s->n_login && strcmp(path, "/login") == 0;
}

/* {"user","password"} -> 200 {"access_token","token_type","expires_in"}, 401 for a wrong pair, 400 otherwise. */
unsigned ch_srv_login(struct ch_server *s, const char *body, size_t len, struct ch_buf *out) {
  cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "user");
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "password");
  unsigned st = 400;
  if (cJSON_IsString(u) && cJSON_IsString(p)) {
    st = 401;
    for (size_t i = 0; i < s->n_login; i++) {
      if (strcmp(s->login[i].user, u->valuestring) || strcmp(s->login[i].password, p->valuestring))
        continue;
      uint64_t exp_ms = ch_now_ns() / 1000000u + s->login_ttl_ms, nonce = ch_rng_next(&s->rng);
      ch_buf_printf(out,
                    "{\"access_token\":\"lt1.%zu.%" PRIu64 ".%" PRIx64 ".%" PRIx64
                    "\",\"token_type\":\"Bearer\",\"expires_in\":%g}",
                    i, exp_ms, nonce, login_mac(s, i, exp_ms, nonce), (double)s->login_ttl_ms / 1000.0);
      st = 200;
      break;
    }
  }
  if (p && cJSON_IsString(p))
    memset(p->valuestring, 0, strlen(p->valuestring));
  cJSON_Delete(j);
  if (st == 401)
    ch_buf_puts(out, "{\"error\":\"invalid_grant\"}");
  else if (st == 400)
    ch_buf_puts(out, "{\"error\":\"invalid_request\",\"error_description\":\"expected {\\\"user\\\",\\\"password\\\"}\"}");
  return st;
}
