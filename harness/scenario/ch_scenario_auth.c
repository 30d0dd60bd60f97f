/* target.auth.login and target.auth.command: parsing and validation of the two credential sources that fetch tokens
   at run time (ch_auth in the runner fetches, refreshes and hands them to the clients). Nothing here reads a
   password: the users CSV is only checked to be readable (its rows are secrets, read by the runner). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_scn_check.h"

#define AUTH_DEFAULT_TIMEOUT_NS 10000000000ull

/* Checks the {{placeholders}} of one template: user, password (only with a users CSV) and env.NAME (set). */
static void auth_placeholders(struct ch__scn_ctx *c, const cJSON *origin, const char *t, bool have_users) {
  for (const char *p = t; (p = strstr(p, "{{")) != NULL;) {
    const char *e = strstr(p + 2, "}}");
    if (!e) {
      ch__scn_failf(c, origin, "expected \"}}\" closing the placeholder at offset %zu", (size_t)(p - t));
      return;
    }
    size_t n = (size_t)(e - p - 2);
    const char *name = p + 2;
    if ((n == 4 && !strncmp(name, "user", 4)) || (n == 8 && !strncmp(name, "password", 8))) {
      if (!have_users)
        ch__scn_failf(c, origin, "expected users_file or users_env for {{%.*s}}, found neither", (int)n, name);
    } else if (n > 4 && !strncmp(name, "env.", 4)) {
      char var[128];
      size_t vn = n - 4;
      bool ok = vn < sizeof var && (isalpha((unsigned char)name[4]) || name[4] == '_');
      for (size_t i = 4; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || name[i] == '_';
      if (!ok) {
        ch__scn_failf(c, origin, "expected {{env.NAME}} with a variable name, found {{%.*s}}", (int)(n > 64 ? 64 : n),
                      name);
      } else {
        memcpy(var, name + 4, vn);
        var[vn] = '\0';
        if (!getenv(var) || !*getenv(var))
          ch__scn_failf(c, origin, "expected the variable %s ({{env.%s}}) to be set, found it %s", var, var,
                        getenv(var) ? "empty" : "unset");
      }
    } else {
      static const char *const names[] = {"user", "password", "env.NAME", NULL};
      char found[64];
      snprintf(found, sizeof found, "%.*s", (int)(n < 48 ? n : 48), name);
      const char *sug = ch__scn_suggest(found, names);
      ch__scn_failf(c, origin, "expected a placeholder {{user}}, {{password}} or {{env.NAME}}, found {{%s}}%s%s%s",
                    found, sug ? " (did you mean {{" : "", sug ? sug : "", sug ? "}}?)" : "");
    }
    p = e + 2;
  }
}

/* ttl, refresh_at, refresh_jitter: shared by both forms. */
static void auth_lifetime(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_auth *a) {
  ch__scn_duration(c, o, "ttl", false, 0, &a->ttl_ns);
  ch__scn_number(c, o, "refresh_at", false, 0.1, 0.95, false, 0.8, &a->refresh_at);
  ch__scn_number(c, o, "refresh_jitter", false, 0, 0.2, false, 0.05, &a->refresh_jitter);
  if (a->refresh_at + a->refresh_jitter >= 1.0)
    ch__scn_failf(c, o, "expected refresh_at + refresh_jitter below 1 (a token must be refreshed before it expires), "
                        "found %g", a->refresh_at + a->refresh_jitter);
}

static void auth_login(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_auth *a) {
  struct ch_scn_login *l = &a->login;
  static const char *const keys[] = {"method", "url", "headers", "body", "users_file", "users_env", "token_pointer",
                                     "expires_in_pointer", "ttl", "refresh_at", "refresh_jitter", "rate", "timeout",
                                     NULL};
  ch__scn_check_keys(c, o, keys);
  ch__scn_string(c, o, "method", false, "POST", &l->method);
  if (l->method && (!*l->method || strspn(l->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(l->method))) {
    size_t m = ch__scn_push_key(c, "method");
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(o, "method"), false, "an HTTP method in capitals, e.g. \"POST\"");
    ch__scn_pop(c, m);
  }
  ch__scn_file(c, o, "users_file", &l->users_file);
  ch__scn_string(c, o, "users_env", false, NULL, &l->users_env);
  if (l->users_file && l->users_env)
    ch__scn_failf(c, o, "expected at most one of users_file and users_env, found both");
  if (l->users_env && (!getenv(l->users_env) || !*getenv(l->users_env))) {
    size_t m = ch__scn_push_key(c, "users_env");
    ch__scn_failf(c, cJSON_GetObjectItemCaseSensitive(o, "users_env"),
                  "expected the variable %s to hold the users CSV, found it %s", l->users_env,
                  getenv(l->users_env) ? "empty" : "unset");
    ch__scn_pop(c, m);
  }
  bool users = l->users_file || l->users_env ||
               cJSON_GetObjectItemCaseSensitive(o, "users_file") || cJSON_GetObjectItemCaseSensitive(o, "users_env");
  if (ch__scn_string(c, o, "url", true, NULL, &l->url)) {
    size_t m = ch__scn_push_key(c, "url");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "url");
    if (strncmp(l->url, "http://", 7) && strncmp(l->url, "https://", 8) && strncmp(l->url, "{{env.", 6))
      ch__scn_fail(c, u, false, "an absolute http:// or https:// URL");
    auth_placeholders(c, u, l->url, users);
    ch__scn_pop(c, m);
  }
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "headers");
  if (h && !cJSON_IsNull(h)) {
    size_t m = ch__scn_push_key(c, "headers");
    if (!cJSON_IsObject(h)) {
      ch__scn_fail(c, h, false, "an object of header names to string values");
    } else {
      size_t n = (size_t)cJSON_GetArraySize(h);
      l->header_names = calloc(n + 1, sizeof *l->header_names);
      l->header_values = calloc(n + 1, sizeof *l->header_values);
      if (!l->header_names || !l->header_values)
        c->oom = true;
      for (const cJSON *it = h->child; it && !c->oom; it = it->next) {
        size_t m2 = ch__scn_push_key(c, it->string);
        if (!cJSON_IsString(it) || strpbrk(it->valuestring, "\r\n") || !*it->string ||
            strpbrk(it->string, ": \t\r\n")) {
          ch__scn_fail(c, it, true, "a header value: a string without CR or LF, under a header name");
        } else {
          auth_placeholders(c, it, it->valuestring, users);
          l->header_names[l->n_headers] = ch__scn_strdup(c, it->string);
          l->header_values[l->n_headers++] = ch__scn_strdup(c, it->valuestring);
        }
        ch__scn_pop(c, m2);
      }
    }
    ch__scn_pop(c, m);
  }
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "body");
  if (b && !cJSON_IsNull(b)) {
    size_t m = ch__scn_push_key(c, "body");
    if (cJSON_IsObject(b)) {
      char *txt = cJSON_PrintUnformatted(b);
      if (!txt)
        c->oom = true;
      l->body = ch__scn_strdup(c, txt);
      l->body_json = true;
      free(txt);
    } else if (cJSON_IsString(b)) {
      l->body = ch__scn_strdup(c, b->valuestring);
    } else {
      ch__scn_fail(c, b, true, "a JSON object (sent as application/json) or a string");
    }
    if (l->body)
      auth_placeholders(c, b, l->body, users);
    ch__scn_pop(c, m);
  }
  ch__scn_pointer(c, o, "token_pointer", "/access_token", &l->token_pointer);
  if (!l->token_pointer) {
    size_t m = ch__scn_push_key(c, "token_pointer");
    ch__scn_fail(c, cJSON_GetObjectItemCaseSensitive(o, "token_pointer"), false,
                 "a JSON Pointer to the token in the answer, e.g. \"/access_token\"");
    ch__scn_pop(c, m);
  }
  ch__scn_pointer(c, o, "expires_in_pointer", NULL, &l->expires_in_pointer);
  ch__scn_rate(c, o, "rate", false, 20, &l->rate);
  ch__scn_duration(c, o, "timeout", false, AUTH_DEFAULT_TIMEOUT_NS, &l->timeout_ns);
  if (!l->timeout_ns)
    ch__scn_failf(c, o, "expected a timeout above 0");
  auth_lifetime(c, o, a);
}

static void auth_command(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_auth *a) {
  struct ch_scn_command *cmd = &a->command;
  const cJSON *argv = o;
  if (cJSON_IsObject(o)) {
    static const char *const keys[] = {"argv", "ttl", "refresh_at", "refresh_jitter", "timeout", NULL};
    ch__scn_check_keys(c, o, keys);
    argv = cJSON_GetObjectItemCaseSensitive(o, "argv");
    ch__scn_duration(c, o, "timeout", false, AUTH_DEFAULT_TIMEOUT_NS, &cmd->timeout_ns);
    if (!cmd->timeout_ns)
      ch__scn_failf(c, o, "expected a timeout above 0");
    auth_lifetime(c, o, a);
  } else {
    cmd->timeout_ns = AUTH_DEFAULT_TIMEOUT_NS;
    a->refresh_at = 0.8;
    a->refresh_jitter = 0.05;
  }
  size_t m = cJSON_IsObject(o) ? ch__scn_push_key(c, "argv") : c->path.len;
  int n = cJSON_IsArray(argv) ? cJSON_GetArraySize(argv) : 0;
  if (n < 1) {
    ch__scn_fail(c, argv, false, "an array of strings, the program first (no shell: write [\"sh\", \"-c\", \"...\"] "
                                 "for one)");
  } else {
    cmd->argv = calloc((size_t)n + 1, sizeof *cmd->argv);
    if (!cmd->argv)
      c->oom = true;
    for (int i = 0; i < n && cmd->argv; i++) {
      const cJSON *it = cJSON_GetArrayItem(argv, i);
      if (cJSON_IsString(it) && (i || *it->valuestring)) {
        cmd->argv[cmd->argc++] = ch__scn_strdup(c, it->valuestring);
      } else {
        size_t m2 = ch__scn_push_index(c, (size_t)i);
        ch__scn_fail(c, it, false, i ? "a string" : "the program, a non-empty string");
        ch__scn_pop(c, m2);
      }
    }
  }
  ch__scn_pop(c, m);
}

int ch__scn_auth_fetchers(struct ch__scn_ctx *c, const cJSON *o, struct ch_scn_auth *a) {
  int sources = 0;
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "login");
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(o, "command");
  if (l && !cJSON_IsNull(l)) {
    size_t m = ch__scn_push_key(c, "login");
    if (cJSON_IsObject(l)) {
      auth_login(c, l, a);
      a->source = CH_SCN_TOKEN_LOGIN;
    } else {
      ch__scn_fail(c, l, false, "an object with url, body, users_file or users_env, token_pointer...");
    }
    sources++;
    ch__scn_pop(c, m);
  }
  if (cmd && !cJSON_IsNull(cmd)) {
    size_t m = ch__scn_push_key(c, "command");
    if (cJSON_IsObject(cmd) || cJSON_IsArray(cmd)) {
      auth_command(c, cmd, a);
      a->source = CH_SCN_TOKEN_COMMAND;
    } else {
      ch__scn_fail(c, cmd, false, "an object {\"argv\": [...], \"ttl\": ...} or an argv array");
    }
    sources++;
    ch__scn_pop(c, m);
  }
  return sources;
}

void ch__scn_auth_fetchers_free(struct ch_scn_auth *a) {
  struct ch_scn_login *l = &a->login;
  free(l->method);
  free(l->url);
  for (size_t i = 0; i < l->n_headers; i++) {
    free(l->header_names[i]);
    free(l->header_values[i]);
  }
  free(l->header_names);
  free(l->header_values);
  free(l->body);
  free(l->users_file);
  free(l->users_env);
  free(l->token_pointer);
  free(l->expires_in_pointer);
  for (size_t i = 0; i < a->command.argc; i++)
    free(a->command.argv[i]);
  free(a->command.argv);
  memset(l, 0, sizeof *l);
  memset(&a->command, 0, sizeof a->command);
}
