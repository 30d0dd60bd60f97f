/* Triggers: how a check makes the target push an Update for a key. Either the embedded reference endpoint's control
   API, or the requests of a trigger file (--trigger FILE) or of a scenario's trigger (--scenario FILE), read by the
   scenario's parser (ch_scn_trigger_file_parse / ch_scenario_load), so one file serves run and check:
     - a scenario's trigger, object or array: {"type": "http", "hub": "JobEventHub", "http": {"method", "url",
       "headers", "body", "timeout", "expect_status"}}; the fields that pace a run (rate, count, keys...) are read
       and unused here;
     - check's request form, alone or an array: {"method", "url", "headers", "body", "expect_status", "timeout_ms",
       "hub", "correlation": {"nonce", "sequence", "key"}}.
   Placeholders {{key}} {{seq}} {{nonce}} {{now_ms}} {{hub}} {{env.NAME}} (ch_template). Which request publishes on a
   hub: the one naming it ("hub", or "clients" whose populations are on it); else one that names no hub and uses
   {{hub}} (it serves both); else the one naming no hub, for the main hub (--hub). Checks that need a hub without a
   request are skipped. Header values and credential-like variables are registered as secrets: never printed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"
#include "ch_report.h"
#include "ch_scenario.h"

struct ch_chk_trigger {
  struct ch_chk_trigger *next; /* the request for another hub */
  const char *hub;             /* NULL: the main hub (or every hub with any_hub) */
  bool any_hub;                /* names no hub and renders {{hub}}: serves both */
  bool embedded;
  char *control; /* embedded: http://127.0.0.1:port */
  const struct ch_scn_http_trigger *http; /* the request (owned by file, or by the caller's scenario) */
  long status_min, status_max;
  long timeout_ms;
  char *ptr_nonce, *ptr_seq, *ptr_key;
  struct ch_scn_trigger_file *file; /* the head of a list read from --trigger FILE owns the parsed file */
};

static void trigger_free(struct ch_chk_trigger *t) {
  if (!t)
    return;
  trigger_free(t->next);
  free(t->control);
  free(t->ptr_nonce);
  free(t->ptr_seq);
  free(t->ptr_key);
  if (t->file) {
    ch_scn_trigger_file_free(t->file);
    free(t->file);
  }
  free(t);
}

void ch_chk_trigger_free(struct ch_chk_ctx *cx) {
  trigger_free(cx->trigger);
  cx->trigger = NULL;
}

static bool http_uses(const struct ch_scn_http_trigger *h, const char *name) {
  bool u = (h->url && ch_template_uses(h->url, name)) || (h->body && ch_template_uses(h->body, name));
  for (size_t i = 0; i < h->n_headers; i++)
    u |= ch_template_uses(h->headers[i].value, name);
  return u;
}

/* Header values usually carry credentials, and so do variables whose names say so: never in evidence. */
static void register_secrets(struct ch_chk_ctx *cx, const struct ch_scn_http_trigger *h) {
  const struct ch_template *parts[2] = {h->url, h->body};
  for (size_t i = 0; i < h->n_headers + 2; i++) {
    const struct ch_template *t = i < 2 ? parts[i] : h->headers[i - 2].value;
    if (!t)
      continue;
    if (i >= 2) {
      const char *v = ch_template_source(t);
      if (strncasecmp(v, "Bearer ", 7) == 0)
        ch_chk_secret_add(cx, v + 7);
      ch_chk_secret_add(cx, v);
    }
    for (size_t e = 0; e < ch_template_env_count(t); e++) {
      const char *name = ch_template_env_name(t, e);
      if (i >= 2 || ch_report_secret_name(name, strlen(name)))
        ch_chk_secret_add(cx, ch_template_env_value(t, e));
    }
  }
}

static char *dup_or_null(const char *s, int *rc) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d)
    *rc = -ENOMEM;
  return d;
}

/* The checks' requests from parsed triggers; correlation: the file's or the scenario's (NULL pointers: defaults). */
static int build_list(struct ch_chk_ctx *cx, const struct ch_scn_trigger *v, size_t n,
                      const struct ch_scenario *s, const struct ch_scn_correlation *k, const char *name,
                      struct ch_chk_trigger **out, struct ch_buf *err) {
  struct ch_chk_trigger *head = NULL, **tail = &head;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const struct ch_scn_trigger *tg = &v[i];
    if (tg->type == CH_SCN_TRIGGER_NONE)
      continue;
    if (tg->type == CH_SCN_TRIGGER_REFERENCE) {
      ch_buf_printf(err, "%s: %s: expected type \"http\": \"reference\" is the embedded endpoint's own API, which "
                         "check uses by itself when there is no --target",
                    name, tg->label ? tg->label : "trigger");
      rc = -EINVAL;
      break;
    }
    struct ch_chk_trigger *t = calloc(1, sizeof *t);
    if (!t) {
      rc = -ENOMEM;
      break;
    }
    *tail = t, tail = &t->next;
    t->http = &tg->http;
    t->status_min = tg->http.expect_status_min, t->status_max = tg->http.expect_status_max;
    t->timeout_ms = (long)(tg->http.timeout_ns / 1000000u);
    if (tg->has_hub)
      t->hub = ch_scn_hub_name(tg->hub);
    else if (tg->n_pops && s)
      t->hub = s->populations[tg->pops[0]].hub_name;
    else
      t->any_hub = http_uses(&tg->http, "hub");
    register_secrets(cx, &tg->http);
  }
  if (!rc && !head) {
    ch_buf_printf(err, "%s: expected a trigger that sends something, found only type \"none\"", name);
    rc = -EINVAL;
  }
  if (!rc) {
    head->ptr_nonce = dup_or_null(k ? k->nonce : NULL, &rc);
    head->ptr_seq = dup_or_null(k ? k->sequence : NULL, &rc);
    head->ptr_key = dup_or_null(k ? k->key : NULL, &rc);
  }
  if (rc) {
    trigger_free(head);
    return rc;
  }
  *out = head;
  return 0;
}

int ch_chk_trigger_load(struct ch_chk_ctx *cx, const char *path, struct ch_buf *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    ch_buf_printf(err, "trigger: cannot read %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  struct ch_buf text = CH_BUF_INIT;
  ch_buf_read_file(&text, f, 1u << 20); /* what is read of a larger file is refused by the parser, by path */
  fclose(f);
  struct ch_scn_trigger_file *file = calloc(1, sizeof *file);
  int rc = file ? ch_scn_trigger_file_parse(text.data ? text.data : "", text.len, path, false, file, err) : -ENOMEM;
  ch_buf_free(&text);
  if (rc) {
    free(file);
    while (err->len && err->data[err->len - 1] == '\n') /* the last line of the run ends the message */
      err->data[--err->len] = '\0';
    return rc;
  }
  struct ch_chk_trigger *head = NULL;
  rc = build_list(cx, file->triggers, file->n, NULL, &file->correlation, path, &head, err);
  if (rc) {
    ch_scn_trigger_file_free(file);
    free(file);
    return rc;
  }
  head->file = file;
  cx->trigger = head;
  return 0;
}

int ch_chk_trigger_from_scenario(struct ch_chk_ctx *cx, const struct ch_scenario *s, struct ch_buf *err) {
  struct ch_chk_trigger *head = NULL;
  int rc = build_list(cx, s->triggers, s->n_triggers, s, &s->correlation, s->path, &head, err);
  if (!rc)
    cx->trigger = head;
  return rc;
}

int ch_chk_trigger_embedded(struct ch_chk_ctx *cx, const char *control_base) {
  struct ch_chk_trigger *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  t->embedded = true;
  t->control = strdup(control_base);
  t->ptr_seq = strdup("/HarnessSeq");
  t->ptr_nonce = strdup("/HarnessNonce");
  t->status_min = 200, t->status_max = 299, t->timeout_ms = 5000;
  if (!t->control || !t->ptr_seq || !t->ptr_nonce) {
    trigger_free(t);
    return -ENOMEM;
  }
  cx->trigger = t;
  return 0;
}

int ch_chk_publish(struct ch_chk_ctx *cx, const struct ch_chk_hub *hub, const char *key, uint64_t seq,
                   const char *nonce, struct ch_buf *err) {
  struct ch_chk_trigger *t = cx->trigger;
  if (t && !t->embedded) {
    /* the request naming this hub, else one serving every hub, else the unnamed one for the main hub */
    struct ch_chk_trigger *any = NULL, *main_hub = NULL;
    for (; t; t = t->next) {
      if (t->hub && strcasecmp(t->hub, hub->name) == 0)
        break;
      if (!t->hub && t->any_hub && !any)
        any = t;
      if (!t->hub && !t->any_hub && hub == cx->hubs[0] && !main_hub)
        main_hub = t;
    }
    t = t ? t : any ? any : main_hub;
    if (!t)
      ch_buf_printf(err, "the trigger file has no request for %s", hub->name);
  }
  if (!t)
    return -ENOTSUP;
  if (cx->trigger_error[0]) {
    /* one failed trigger ends triggering: the rest of the run would only repeat it against the backend */
    ch_buf_printf(err, "not triggered after an earlier trigger request failed");
    return -ECANCELED;
  }
  struct ch_buf url = CH_BUF_INIT, body = CH_BUF_INIT;
  struct ch_http res = CH_HTTP_INIT;
  int rc;
  if (t->embedded) {
    ch_buf_printf(&url, "%s/publish", t->control);
    (void)seq; /* the endpoint numbers Updates itself (HarnessSeq) */
    ch_buf_printf(&body, "{\"hub\":\"%s\",\"key\":\"%s\",\"payload\":{\"HarnessNonce\":\"%s\"}}", hub->name, key,
                  nonce);
    rc = ch_chk_http(cx, "trigger", "POST", url.data, "Content-Type: application/json", body.data, t->timeout_ms, &res);
  } else {
    const struct ch_scn_http_trigger *h = t->http;
    struct ch_template_vars v = {key, seq, nonce, ch_wall_ns() / 1000000u, hub->name};
    ch_template_render(h->url, &v, &url);
    if (h->body)
      ch_template_render(h->body, &v, &body);
    /* custom headers and method need their own easy setup */
    CURL *e = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct ch_buf line = CH_BUF_INIT;
    for (size_t i = 0; i < h->n_headers; i++) {
      ch_buf_reset(&line);
      ch_buf_printf(&line, "%s: ", h->headers[i].name);
      ch_template_render(h->headers[i].value, &v, &line);
      hl = curl_slist_append(hl, line.data);
    }
    ch_buf_free(&line);
    CURL *saved = cx->easy;
    cx->easy = e;
    curl_easy_reset(e);
    /* ch_chk_http resets the handle; headers go through the auth slot as one pre-joined block is not possible, so
       send with our own options here */
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    ch_chk_curl_common(cx, e);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, h->method);
    if (hl)
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    if (h->body) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data ? body.data : "");
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body.len);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, NULL);
    FILE *sink = fopen("/dev/null", "wb");
    if (sink)
      curl_easy_setopt(e, CURLOPT_WRITEDATA, sink);
    ch_chk_tx(cx, "trigger", "out", "http", url.data, url.len);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res.status);
    res.cc = cc;
    if (sink)
      fclose(sink);
    curl_slist_free_all(hl);
    cx->easy = saved;
    curl_easy_cleanup(e);
    rc = cc == CURLE_OK ? 0 : cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
  }
  if (rc == 0 && (res.status < t->status_min || res.status > t->status_max))
    rc = -EPROTO;
  if (rc) {
    struct ch_buf red = CH_BUF_INIT;
    ch_chk_redact(cx, url.data ? url.data : "", url.len, &red);
    if (res.status)
      ch_buf_printf(err, "trigger %s %s answered %ld (expected %ld-%ld)", t->embedded ? "POST" : t->http->method, red.data,
                    res.status, t->status_min, t->status_max);
    else
      ch_buf_printf(err, "trigger %s %s failed: %s", t->embedded ? "POST" : t->http->method, red.data,
                    curl_easy_strerror(res.cc));
    ch_buf_free(&red);
    snprintf(cx->trigger_error, sizeof cx->trigger_error, "%s", err->data ? err->data : "trigger failed");
  }
  ch_buf_free(&url);
  ch_buf_free(&body);
  ch_http_free(&res);
  return rc;
}

/* RFC 6901 pointer resolution on a cJSON tree. */
static const cJSON *json_pointer(const cJSON *root, const char *ptr) {
  if (!ptr || !*ptr)
    return root;
  const cJSON *cur = root;
  const char *p = ptr;
  char tok[128];
  while (cur && *p == '/') {
    p++;
    size_t n = 0;
    while (*p && *p != '/' && n + 1 < sizeof tok) {
      if (p[0] == '~' && p[1] == '0')
        tok[n++] = '~', p += 2;
      else if (p[0] == '~' && p[1] == '1')
        tok[n++] = '/', p += 2;
      else
        tok[n++] = *p++;
    }
    tok[n] = '\0';
    if (cJSON_IsArray(cur)) {
      char *end;
      long i = strtol(tok, &end, 10);
      cur = (*end || i < 0) ? NULL : cJSON_GetArrayItem(cur, (int)i);
    } else
      cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
  }
  return cur;
}

bool ch_chk_update_matches(struct ch_chk_ctx *cx, const cJSON *arg, const char *nonce, uint64_t *seq_out) {
  struct ch_chk_trigger *t = cx->trigger;
  if (seq_out) {
    const cJSON *s = json_pointer(arg, t && t->ptr_seq ? t->ptr_seq : "/HarnessSeq");
    *seq_out = cJSON_IsNumber(s)   ? (uint64_t)s->valuedouble
               : cJSON_IsString(s) ? strtoull(s->valuestring, NULL, 10)
                                   : 0;
  }
  if (!nonce || !t || !t->ptr_nonce)
    return true;
  const cJSON *v = json_pointer(arg, t->ptr_nonce);
  return cJSON_IsString(v) && strstr(v->valuestring, nonce) != NULL;
}

/* The embedded endpoint publishes the whole burst from one request ("count"), numbering it from first_seq; every
   Update of it carries the same nonce. */
static int publish_embedded_burst(struct ch_chk_ctx *cx, const struct ch_chk_hub *hub, const char *key,
                                  struct ch_chk_burst *b, struct ch_buf *err) {
  const struct ch_chk_trigger *t = cx->trigger;
  struct ch_buf url = CH_BUF_INIT, body = CH_BUF_INIT;
  struct ch_http res = CH_HTTP_INIT;
  ch_buf_printf(&url, "%s/publish", t->control);
  ch_buf_printf(&body, "{\"hub\":\"%s\",\"key\":\"%s\",\"count\":%u,\"payload\":{\"HarnessNonce\":\"%s\"}}", hub->name,
                key, b->n, b->base);
  int rc =
      ch_chk_http(cx, "trigger", "POST", url.data, "Content-Type: application/json", body.data, t->timeout_ms, &res);
  /* our own control API's reply, not a body under judgement */
  cJSON *j = rc == 0 && res.status == 200 ? cJSON_ParseWithLength(res.body.data, res.body.len) : NULL;
  const cJSON *first = cJSON_GetObjectItemCaseSensitive(j, "first_seq");
  if (cJSON_IsNumber(first) && first->valuedouble >= 1) {
    b->first_seq = (uint64_t)first->valuedouble;
    b->by_seq = true;
  } else {
    ch_buf_printf(err, "trigger POST %s answered %ld without first_seq", url.data, res.status);
    rc = rc ? rc : -EPROTO;
  }
  cJSON_Delete(j);
  ch_buf_free(&url);
  ch_buf_free(&body);
  ch_http_free(&res);
  return rc;
}

int ch_chk_publish_burst(struct ch_chk_ctx *cx, const struct ch_chk_hub *hub, const char *key, unsigned n,
                         struct ch_chk_burst *b, struct ch_buf *err) {
  ch_chk_nonce(cx, b->base);
  b->first_seq = cx->seq + 1;
  b->n = n;
  b->by_seq = false;
  if (cx->trigger && cx->trigger->embedded)
    return publish_embedded_burst(cx, hub, key, b, err);
  char nonce[CH_CHK_BURST_NONCE];
  for (unsigned i = 0; i < n; i++) {
    snprintf(nonce, sizeof nonce, "%s-%u", b->base, i);
    int rc = ch_chk_publish(cx, hub, key, ++cx->seq, nonce, err);
    if (rc)
      return rc;
  }
  return 0;
}

long ch_chk_burst_index(struct ch_chk_ctx *cx, const cJSON *arg, const struct ch_chk_burst *b) {
  const struct ch_chk_trigger *t = cx->trigger;
  if (b->by_seq) { /* one nonce for the burst, numbered by the endpoint */
    const cJSON *v = json_pointer(arg, t && t->ptr_nonce ? t->ptr_nonce : "/HarnessNonce");
    uint64_t seq = 0;
    if (!cJSON_IsString(v) || strcmp(v->valuestring, b->base) != 0)
      return -1;
    ch_chk_update_matches(cx, arg, NULL, &seq);
    return seq >= b->first_seq && seq - b->first_seq < b->n ? (long)(seq - b->first_seq) : -1;
  }
  if (t && t->ptr_nonce) {
    const cJSON *v = json_pointer(arg, t->ptr_nonce);
    const char *p = cJSON_IsString(v) ? strstr(v->valuestring, b->base) : NULL;
    size_t bl = strlen(b->base);
    if (!p || p[bl] != '-' || p[bl + 1] < '0' || p[bl + 1] > '9')
      return -1;
    unsigned long i = strtoul(p + bl + 1, NULL, 10);
    return i < b->n ? (long)i : -1;
  }
  /* no nonce to correlate: the sequence number this run rendered into each request */
  uint64_t seq = 0;
  ch_chk_update_matches(cx, arg, NULL, &seq);
  return seq >= b->first_seq && seq - b->first_seq < b->n ? (long)(seq - b->first_seq) : -1;
}

void ch_chk_nonce(struct ch_chk_ctx *cx, char out[24]) {
  snprintf(out, 24, "n-%016llx", (unsigned long long)ch_rng_next(&cx->rng));
}

void ch_chk_trigger_describe(const struct ch_chk_ctx *cx, struct ch_buf *out) {
  const struct ch_chk_trigger *t = cx->trigger;
  if (!t) {
    ch_buf_puts(out, "trigger: none (passive)");
    return;
  }
  struct ch_buf u = CH_BUF_INIT;
  if (t->embedded)
    ch_buf_printf(&u, "trigger: POST %s/publish (the embedded endpoint's control API)", t->control);
  else
    ch_buf_printf(&u, "trigger: %s %s", t->http->method, ch_template_source(t->http->url));
  ch_chk_redact(cx, u.data, u.len, out);
  ch_buf_free(&u);
}
