/* HTTP probes on one reused curl easy handle, redaction of credentials, wire transcripts and evidence text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"
#include "ch_interrupt.h"
#include "ch_url.h"

#define CH_REDACTED "[REDACTED]"

void ch_chk_secret_add(struct ch_chk_ctx *cx, const char *s) {
  if (!s || strlen(s) < 4 || cx->nsecrets + 2 > CH_CHK_MAX_SECRETS)
    return;
  for (size_t i = 0; i < cx->nsecrets; i++)
    if (strcmp(cx->secrets[i], s) == 0)
      return;
  char *a = strdup(s);
  if (!a)
    return;
  cx->secrets[cx->nsecrets++] = a;
  struct ch_buf enc = CH_BUF_INIT;
  if (ch_pct_encode(&enc, s, strlen(s)) == 0 && strcmp(enc.data, s) != 0)
    cx->secrets[cx->nsecrets++] = ch_buf_steal(&enc);
  ch_buf_free(&enc);
}

/* Query/form names whose values are credentials or credential-bound. */
static const char *const secret_params[] = {"connectionToken=", "groupsToken=", "access_token=", NULL};
/* JSON members whose string values are credential-bound (negotiate bodies, persistent responses). */
static const char *const secret_members[] = {"\"ConnectionToken\":\"", "\"G\":\"", "\"AccessToken\":\"", NULL};

int ch_chk_redact(const struct ch_chk_ctx *cx, const char *s, size_t n, struct ch_buf *out) {
  size_t i = 0, slen[CH_CHK_MAX_SECRETS];
  int rc = ch_buf_reserve(out, n);
  if (rc == 0)
    out->data[out->len] = '\0';
  /* only bytes that can start a match are tried (bursts are hundreds of KiB of transcript) */
  bool cand[256] = {false};
  cand['A'] = cand['a'] = true; /* Authorization: */
  for (size_t k = 0; k < cx->nsecrets; k++)
    slen[k] = strlen(cx->secrets[k]), cand[(unsigned char)cx->secrets[k][0]] = true;
  for (const char *const *p = secret_params; *p; p++)
    cand[(unsigned char)**p] = true;
  for (const char *const *p = secret_members; *p; p++)
    cand[(unsigned char)**p] = true;
  while (rc == 0 && i < n) {
    if (!cand[(unsigned char)s[i]]) {
      size_t e = i + 1;
      while (e < n && !cand[(unsigned char)s[e]])
        e++;
      rc = ch_buf_append(out, s + i, e - i);
      i = e;
      continue;
    }
    size_t skip = 0;
    for (size_t k = 0; k < cx->nsecrets && !skip; k++) {
      size_t l = slen[k];
      if (l <= n - i && memcmp(s + i, cx->secrets[k], l) == 0)
        skip = l;
    }
    if (skip) {
      rc = ch_buf_puts(out, CH_REDACTED);
      i += skip;
      continue;
    }
    for (const char *const *p = secret_params; *p && !skip; p++) {
      size_t l = strlen(*p);
      if (l <= n - i && memcmp(s + i, *p, l) == 0 && (i == 0 || strchr("?&\" \n", s[i - 1]))) {
        size_t e = i + l;
        while (e < n && !strchr("& \"\r\n", s[e]))
          e++;
        rc = ch_buf_append(out, s + i, l);
        if (rc == 0 && e > i + l)
          rc = ch_buf_puts(out, CH_REDACTED);
        skip = e - i;
      }
    }
    for (const char *const *p = secret_members; *p && !skip; p++) {
      size_t l = strlen(*p);
      if (l <= n - i && memcmp(s + i, *p, l) == 0) {
        size_t e = i + l;
        while (e < n && s[e] != '"')
          e += s[e] == '\\' ? 2 : 1;
        rc = ch_buf_append(out, s + i, l);
        if (rc == 0)
          rc = ch_buf_puts(out, CH_REDACTED);
        skip = (e < n ? e : n) - i;
      }
    }
    if (!skip && n - i >= 14 && strncasecmp(s + i, "Authorization:", 14) == 0) {
      size_t e = i + 14;
      while (e < n && s[e] != '\r' && s[e] != '\n')
        e++;
      rc = ch_buf_puts(out, "Authorization: " CH_REDACTED);
      skip = e - i;
    }
    if (skip) {
      i += skip;
      continue;
    }
    rc = ch_buf_putc(out, s[i++]);
  }
  return rc;
}

static void json_escape(struct ch_buf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      ch_buf_printf(b, "\\%c", c);
    else if (c == '\n')
      ch_buf_puts(b, "\\n");
    else if (c == '\r')
      ch_buf_puts(b, "\\r");
    else if (c < 0x20 || c == 0x7f)
      ch_buf_printf(b, "\\u%04x", c);
    else
      ch_buf_putc(b, (char)c);
  }
}

void ch_chk_tx(struct ch_chk_ctx *cx, const char *client, const char *dir, const char *channel, const char *bytes,
               size_t n) {
  struct ch_buf red = CH_BUF_INIT;
  if (ch_chk_redact(cx, bytes ? bytes : "", bytes ? n : 0, &red) != 0) {
    ch_buf_free(&red);
    return;
  }
  double t = (double)(ch_now_ns() - cx->t0_ns) / 1e6;
  ch_buf_printf(&cx->tx, "{\"t_ms\":%.3f,\"client\":\"%s\",\"dir\":\"%s\",\"channel\":\"%s\",\"bytes\":\"", t, client,
                dir, channel);
  json_escape(&cx->tx, red.data ? red.data : "", red.len);
  ch_buf_puts(&cx->tx, "\"}\n");
  ch_buf_free(&red);
}

/* A second SIGINT/SIGTERM aborts the transfer in progress (curl calls this at least once a second). */
static int chk_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  return ch_interrupt_poll(ud) >= 2;
}

void ch_chk_curl_common(const struct ch_chk_ctx *cx, CURL *e) {
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (cx->opts && cx->opts->intr) {
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, chk_xferinfo);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, cx->opts->intr);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  }
  if (cx->opts && cx->opts->ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, cx->opts->ca_file);
  if (cx->opts && cx->opts->cert_file) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, cx->opts->cert_file);
    curl_easy_setopt(e, CURLOPT_SSLKEY, cx->opts->cert_key_file ? cx->opts->cert_key_file : cx->opts->cert_file);
  }
  if (cx->opts && cx->opts->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

struct http_rx {
  struct ch_http *res;
  size_t cap; /* bodies are probes: keep at most this much */
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
  struct http_rx *rx = ud;
  size_t n = sz * nm;
  if (!rx->res->first_body_ns && n)
    rx->res->first_body_ns = ch_now_ns();
  size_t room = rx->res->body.len < rx->cap ? rx->cap - rx->res->body.len : 0;
  if (ch_buf_append(&rx->res->body, p, n < room ? n : room) != 0)
    return 0;
  return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud) {
  struct ch_http *res = ud;
  size_t n = sz * nm;
  if (n > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
    size_t a = 13, e = n;
    while (a < n && p[a] == ' ')
      a++;
    while (e > a && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
      e--;
    size_t l = e - a < sizeof res->ctype - 1 ? e - a : sizeof res->ctype - 1;
    memcpy(res->ctype, p + a, l);
    res->ctype[l] = '\0';
  } else if (n > 23 && strncasecmp(p, "X-Content-Type-Options:", 23) == 0) {
    res->nosniff = strstr(p, "nosniff") != NULL;
  } else if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
    res->ctype[0] = '\0'; /* a new response head (after 100-continue) */
    res->nosniff = false;
  }
  return n;
}

int ch_chk_http(struct ch_chk_ctx *cx, const char *client, const char *method, const char *url, const char *auth,
                const char *body, long timeout_ms, struct ch_http *res) {
  CURL *e = cx->easy;
  struct curl_slist *hdrs = NULL;
  struct http_rx rx = {res, 1u << 20};
  ch_buf_reset(&res->body);
  res->status = 0;
  res->ctype[0] = '\0';
  res->nosniff = false;
  res->first_body_ns = 0;
  res->err[0] = '\0';
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, url);
  ch_chk_curl_common(cx, e);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : cx->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cx->timeout_ms);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &rx);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, res);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, res->err);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "centro-harness-check/" CH_VERSION);
  if (auth)
    hdrs = curl_slist_append(hdrs, auth);
  if (strcmp(method, "POST") == 0) {
    if (!auth || strncasecmp(auth, "Content-Type:", 13) != 0)
      hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded; charset=UTF-8");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  }
  if (hdrs)
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  struct ch_buf line = CH_BUF_INIT;
  ch_buf_printf(&line, "%s %s%s%s%s%s", method, url, auth ? "\n" : "", auth ? auth : "", body ? "\n\n" : "",
                body ? body : "");
  ch_chk_tx(cx, client, "out", "http", line.data, line.len);
  res->cc = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res->status);
  curl_slist_free_all(hdrs);
  ch_buf_reset(&line);
  if (res->cc == CURLE_OK || (res->cc == CURLE_OPERATION_TIMEDOUT && res->status)) {
    ch_buf_printf(&line, "%ld %s\n\n", res->status, res->ctype); /* the body as bytes: a NUL in it is kept */
    ch_buf_append(&line, res->body.data ? res->body.data : "", res->body.len < 4096 ? res->body.len : 4096);
  } else
    ch_buf_printf(&line, "error: %s", curl_easy_strerror(res->cc));
  ch_chk_tx(cx, client, "in", "http", line.data, line.len);
  ch_buf_free(&line);
  if (res->cc == CURLE_OK)
    return 0;
  if (res->cc == CURLE_OPERATION_TIMEDOUT)
    return -ETIMEDOUT;
  if (res->cc == CURLE_COULDNT_RESOLVE_HOST)
    return -EHOSTUNREACH;
  return -ECONNREFUSED;
}

void ch_http_free(struct ch_http *res) { ch_buf_free(&res->body); }

void ch_chk_evidence(const struct ch_chk_ctx *cx, struct ch_buf *ev, const char *method, const char *url,
                     const struct ch_http *res, const char *expected) {
  struct ch_buf tmp = CH_BUF_INIT;
  if (ev->len)
    ch_buf_putc(ev, '\n');
  ch_buf_printf(&tmp, "request: %s %s\n", method, url);
  if (!res)
    ;
  else if (res->cc != CURLE_OK && !res->status)
    ch_buf_printf(&tmp, "response: none (%s%s%s)\n", curl_easy_strerror(res->cc), res->err[0] ? ": " : "", res->err);
  else {
    ch_buf_printf(&tmp, "response: %ld, Content-Type: %s%s\nbody (%zu bytes): ", res->status,
                  res->ctype[0] ? res->ctype : "(none)", res->nosniff ? ", X-Content-Type-Options: nosniff" : "",
                  res->body.len);
    ch_chk_show_bytes(&tmp, res->body.data, res->body.len, CH_CHK_EXCERPT); /* control characters as \xNN */
    ch_buf_putc(&tmp, '\n');
  }
  if (expected)
    ch_buf_printf(&tmp, "expected: %s", expected);
  ch_chk_redact(cx, tmp.data ? tmp.data : "", tmp.len, ev);
  ch_buf_free(&tmp);
}
