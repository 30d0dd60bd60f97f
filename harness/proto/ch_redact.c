/* Redaction of credentials for evidence and traces: tokens must never reach a log, report or error message. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "ch_json_internal.h"
#include "ch_signalr.h"

#define REDACTED "[redacted]"

static const char *const redact_params[] = {"connectionToken", "groupsToken", "access_token"};
static const char *const redact_headers[] = {"authorization", "proxy-authorization", "cookie", "set-cookie"};

static bool redact_is_secret_param(const char *name, size_t n, const char *cred_name) {
  for (size_t i = 0; i < sizeof redact_params / sizeof redact_params[0]; i++)
    if (strlen(redact_params[i]) == n && !strncasecmp(name, redact_params[i], n))
      return true;
  return cred_name && strlen(cred_name) == n && !strncasecmp(name, cred_name, n);
}

/* A header line "Name: value" whose name is a credential header: returns the length of "Name:" or 0. */
static size_t redact_header_prefix(const char *p, size_t n) {
  for (size_t i = 0; i < sizeof redact_headers / sizeof redact_headers[0]; i++) {
    size_t hl = strlen(redact_headers[i]);
    if (n > hl && !strncasecmp(p, redact_headers[i], hl) && p[hl] == ':')
      return hl + 1;
  }
  return 0;
}

static bool redact_value_end(char c) {
  return c == '&' || c == '#' || c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\r' || c == '\n';
}

int ch_redact(struct ch_buf *out, const char *s, size_t n, const char *cred_name) {
  size_t start = out->len;
  int rc = ch_buf_reserve(out, n);
  const char *p = s, *end = s + n;
  while (!rc && p < end) {
    /* a credential header anywhere a word starts ("Authorization: ...", "> Authorization: ..." in curl traces):
       everything after its colon up to the end of the line */
    bool word_start = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '-' || p[-1] == '_');
    size_t hl = word_start ? redact_header_prefix(p, (size_t)(end - p)) : 0;
    if (hl) {
      const char *eol = p + hl;
      while (eol < end && *eol != '\r' && *eol != '\n')
        eol++;
      rc = ch_buf_append(out, p, hl);
      if (!rc)
        rc = ch_buf_puts(out, " " REDACTED);
      p = eol;
      continue;
    }
    /* a parameter starts at the beginning, or after '?', '&', whitespace, a quote or a separator */
    bool at_param = p == s || (p[-1] && strchr("?& \t\r\n\"';,(", p[-1]));
    if (at_param) {
      const char *eq = p;
      while (eq < end && *eq != '=' && !redact_value_end(*eq) && *eq != '?')
        eq++;
      if (eq < end && *eq == '=' && redact_is_secret_param(p, (size_t)(eq - p), cred_name)) {
        const char *ve = eq + 1;
        while (ve < end && !redact_value_end(*ve))
          ve++;
        rc = ch_buf_append(out, p, (size_t)(eq + 1 - p));
        if (!rc)
          rc = ch_buf_puts(out, REDACTED);
        p = ve;
        continue;
      }
    }
    rc = ch_buf_putc(out, *p++);
  }
  if (!rc && !out->data)
    rc = ch_buf_reserve(out, 0);
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
  }
  return rc;
}

static bool redact_is_secret_key(struct ch_span key, const char *cred_name) {
  static const char *const keys[] = {"ConnectionToken", "AccessToken", "G", "groupsToken", "connectionToken",
                                     "access_token", "messageToken"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (ch_json_str_eqz(key, keys[i]))
      return true;
  for (size_t i = 0; i < sizeof redact_headers / sizeof redact_headers[0]; i++)
    if (ch_json_str_eq_ci(key, redact_headers[i], strlen(redact_headers[i])))
      return true;
  return cred_name && ch_json_str_eq_ci(key, cred_name, strlen(cred_name));
}

static bool redact_mentions_secret(const char *s, size_t n, const char *cred_name) {
  static const char *const names[] = {"token", "authorization", "\"G\""};
  for (size_t i = 0; i < 3; i++) {
    size_t l = strlen(names[i]);
    for (size_t j = 0; j + l <= n; j++)
      if (!strncasecmp(s + j, names[i], l))
        return true;
  }
  if (cred_name && *cred_name) {
    size_t l = strlen(cred_name);
    for (size_t j = 0; j + l <= n; j++)
      if (!strncasecmp(s + j, cred_name, l))
        return true;
  }
  return false;
}

int ch_redact_json(struct ch_buf *out, const char *s, size_t n, const char *cred_name) {
  if (ch_json_parse((struct ch_span){s, n}, NULL, NULL)) {
    if (redact_mentions_secret(s, n, cred_name))
      return ch_buf_puts(out, "[redacted non-JSON body]");
    int rc = ch_buf_append(out, s, n);
    return rc;
  }
  /* The text is valid JSON, so walking string tokens in order never splits one. */
  size_t start = out->len;
  const char *p = s, *end = s + n, *copied = s;
  int rc = 0;
  while (!rc && p < end) {
    if (*p != '"') {
      p++;
      continue;
    }
    struct ch__json_why why;
    const char *q = ch__json_scan_string(p, end, &why);
    if (!q)
      break; /* cannot happen on valid JSON */
    struct ch_span key = {p, (size_t)(q - p)};
    const char *c = ch__json_skip_ws(q, end);
    p = q;
    if (c >= end || *c != ':' || !redact_is_secret_key(key, cred_name))
      continue;
    const char *v = ch__json_skip_ws(c + 1, end);
    if (v >= end || *v != '"')
      continue;
    const char *ve = ch__json_scan_string(v, end, &why);
    if (!ve)
      break;
    rc = ch_buf_append(out, copied, (size_t)(v - copied));
    if (!rc)
      rc = ch_buf_puts(out, "\"" REDACTED "\"");
    copied = p = ve;
  }
  if (!rc)
    rc = ch_buf_append(out, copied, (size_t)(end - copied));
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
  }
  return rc;
}
