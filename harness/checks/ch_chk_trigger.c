/* Triggers: how a check makes the target push an Update for a key. Either the embedded reference endpoint's control
   API, or an HTTP request template from --trigger FILE:
     {"method":"POST", "url":"https://host/api/parts/{{key}}/touch",
      "headers":{"Content-Type":"application/json"}, "body":"{\"note\":\"{{nonce}}\",\"n\":{{seq}}}",
      "expect_status":[200,299], "timeout_ms":10000,
      "correlation":{"nonce":"/Note","sequence":"/N","key":"/PartKey"}}
   Placeholders {{key}} {{seq}} {{nonce}} {{now_ms}} (ch_template); correlation values are JSON Pointers into the
   Update's argument. Header values are never printed (they usually carry credentials).
   The file may also be an array of such requests, each with "hub": "ResourceEventHub" | "JobEventHub"; a request
   without "hub" publishes on the main hub (--hub). Checks that need a hub without a request are skipped. The first
   correlation given applies to every request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_chk.h"
#include "ch_clock.h"
#include "ch_scn_check.h"
#include "ch_template.h"

struct ch_chk_trigger {
  struct ch_chk_trigger *next; /* the request for another hub */
  char *hub;                   /* NULL: the main hub */
  bool embedded;
  char *control; /* embedded: http://127.0.0.1:port */
  char *method;
  struct ch_template *url, *body;
  char **hdr_names;
  struct ch_template **hdr_values;
  size_t n_hdrs;
  long status_min, status_max;
  long timeout_ms;
  char *ptr_nonce, *ptr_seq, *ptr_key;
};

static void trigger_free(struct ch_chk_trigger *t) {
  if (!t)
    return;
  trigger_free(t->next);
  free(t->hub);
  free(t->control);
  free(t->method);
  ch_template_free(t->url);
  ch_template_free(t->body);
  for (size_t i = 0; i < t->n_hdrs; i++) {
    free(t->hdr_names[i]);
    ch_template_free(t->hdr_values[i]);
  }
  free(t->hdr_names);
  free(t->hdr_values);
  free(t->ptr_nonce);
  free(t->ptr_seq);
  free(t->ptr_key);
  free(t);
}

void ch_chk_trigger_free(struct ch_chk_ctx *cx) {
  trigger_free(cx->trigger);
  cx->trigger = NULL;
}

static char *dup_ptr(const cJSON *o, const char *name, struct ch_buf *err, int *rc) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!v)
    return NULL;
  if (!cJSON_IsString(v) || (v->valuestring[0] && v->valuestring[0] != '/')) {
    ch_buf_printf(err, "trigger: correlation.%s: expected a JSON Pointer string starting with '/'", name);
    *rc = -EINVAL;
    return NULL;
  }
  return strdup(v->valuestring);
}

static int parse_request(struct ch_chk_ctx *cx, const cJSON *j, const char *path, struct ch_buf *err,
                         struct ch_chk_trigger **outp) {
  int rc = 0;
  struct ch_chk_trigger *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  t->status_min = 200, t->status_max = 299, t->timeout_ms = 10000;
  if (!cJSON_IsObject(j)) {
    ch_buf_printf(err, "trigger: %s: expected a JSON object", path);
    rc = -EINVAL;
    goto out;
  }
  /* a misspelt key would be ignored and the request sent with a default ("methd" ran as POST) */
  static const char *const keys[] = {"hub",         "method",     "url",         "body", "headers",
                                     "expect_status", "timeout_ms", "correlation", NULL};
  for (const cJSON *k = j->child; k; k = k->next) {
    size_t i = 0;
    while (keys[i] && strcmp(keys[i], k->string) != 0)
      i++;
    if (!keys[i]) {
      const char *near = ch__scn_suggest(k->string, keys);
      ch_buf_printf(err, "trigger: %s: unknown key \"%s\"%s%s%s", path, k->string, near ? " (did you mean \"" : "",
                    near ? near : "", near ? "\"?)" : "");
      rc = -EINVAL;
      goto out;
    }
  }
  const cJSON *hb = cJSON_GetObjectItemCaseSensitive(j, "hub");
  if (hb && !(cJSON_IsString(hb) && (strcasecmp(hb->valuestring, "ResourceEventHub") == 0 ||
                                     strcasecmp(hb->valuestring, "JobEventHub") == 0))) {
    ch_buf_printf(err, "trigger: %s: \"hub\": expected ResourceEventHub or JobEventHub", path);
    rc = -EINVAL;
    goto out;
  }
  if (hb)
    t->hub = strdup(hb->valuestring);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "method");
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "url");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "body");
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "headers");
  const cJSON *es = cJSON_GetObjectItemCaseSensitive(j, "expect_status");
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(j, "timeout_ms");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "correlation");
  if (!cJSON_IsString(u)) {
    ch_buf_printf(err, "trigger: %s: \"url\": expected a string", path);
    rc = -EINVAL;
    goto out;
  }
  if (m && !cJSON_IsString(m)) {
    ch_buf_printf(err, "trigger: %s: \"method\": expected a string such as \"POST\"", path);
    rc = -EINVAL;
    goto out;
  }
  t->method = strdup(m ? m->valuestring : "POST");
  if ((rc = ch_template_compile(u->valuestring, CH_TEMPLATE_URL, &t->url, err)) != 0)
    goto out;
  if (b && cJSON_IsString(b)) {
    if ((rc = ch_template_compile(b->valuestring, CH_TEMPLATE_RAW, &t->body, err)) != 0)
      goto out;
  } else if (cJSON_IsObject(b) || cJSON_IsArray(b)) {
    /* as in a scenario's http trigger: placeholders sit inside JSON strings, so their values are JSON-escaped */
    char *text = cJSON_PrintUnformatted(b);
    rc = text ? ch_template_compile(text, CH_TEMPLATE_JSON, &t->body, err) : -ENOMEM;
    free(text);
    if (rc)
      goto out;
  } else if (b && !cJSON_IsNull(b)) {
    ch_buf_printf(err, "trigger: %s: \"body\": expected a string, a JSON object or array, or null", path);
    rc = -EINVAL;
    goto out;
  }
  if (h && !cJSON_IsObject(h)) {
    ch_buf_printf(err, "trigger: %s: \"headers\": expected an object of strings", path);
    rc = -EINVAL;
    goto out;
  }
  size_t nh = (size_t)cJSON_GetArraySize(h);
  if (nh) {
    t->hdr_names = calloc(nh, sizeof *t->hdr_names);
    t->hdr_values = calloc(nh, sizeof *t->hdr_values);
    if (!t->hdr_names || !t->hdr_values) {
      rc = -ENOMEM;
      goto out;
    }
  }
  for (const cJSON *e = h ? h->child : NULL; e; e = e->next) {
    if (!cJSON_IsString(e)) {
      ch_buf_printf(err, "trigger: %s: headers.%s: expected a string", path, e->string);
      rc = -EINVAL;
      goto out;
    }
    t->hdr_names[t->n_hdrs] = strdup(e->string);
    if ((rc = ch_template_compile(e->valuestring, CH_TEMPLATE_RAW, &t->hdr_values[t->n_hdrs], err)) != 0)
      goto out;
    t->n_hdrs++;
    if (strncasecmp(e->valuestring, "Bearer ", 7) == 0)
      ch_chk_secret_add(cx, e->valuestring + 7);
    ch_chk_secret_add(cx, e->valuestring);
  }
  if (cJSON_IsArray(es) && cJSON_GetArraySize(es) == 2) {
    t->status_min = (long)cJSON_GetArrayItem(es, 0)->valuedouble;
    t->status_max = (long)cJSON_GetArrayItem(es, 1)->valuedouble;
  }
  if (cJSON_IsNumber(to) && to->valuedouble > 0)
    t->timeout_ms = (long)to->valuedouble;
  if (c && !cJSON_IsObject(c)) {
    ch_buf_printf(err, "trigger: %s: \"correlation\": expected an object of JSON Pointers", path);
    rc = -EINVAL;
    goto out;
  }
  t->ptr_nonce = dup_ptr(c, "nonce", err, &rc);
  t->ptr_seq = dup_ptr(c, "sequence", err, &rc);
  t->ptr_key = dup_ptr(c, "key", err, &rc);
out:
  if (rc) {
    trigger_free(t);
    return rc;
  }
  *outp = t;
  return 0;
}

int ch_chk_trigger_load(struct ch_chk_ctx *cx, const char *path, struct ch_buf *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    ch_buf_printf(err, "trigger: cannot read %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  struct ch_buf text = CH_BUF_INIT;
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && text.len < (1u << 20))
    ch_buf_append(&text, tmp, n);
  fclose(f);
  cJSON *j = cJSON_Parse(text.data ? text.data : "");
  ch_buf_free(&text);
  struct ch_chk_trigger *head = NULL, **tail = &head;
  int rc = 0;
  if (cJSON_IsArray(j) && cJSON_GetArraySize(j) > 0) {
    const cJSON *e;
    int idx = 0, unnamed = 0;
    cJSON_ArrayForEach(e, j) {
      idx++;
      /* several requests are one per hub (an unnamed one is the main hub's): two unnamed ones would leave a hub
         without its request, and the isolation between hubs (DEL-004) could not be driven */
      unnamed += cJSON_IsObject(e) && !cJSON_GetObjectItemCaseSensitive(e, "hub");
      if (unnamed > 1) {
        ch_buf_printf(err, "trigger: %s: request %d of the array: expected \"hub\" (ResourceEventHub or JobEventHub): "
                           "with several requests, each but one names the hub whose Updates it causes",
                      path, idx);
        rc = -EINVAL;
        break;
      }
      if ((rc = parse_request(cx, e, path, err, tail)) != 0)
        break;
      tail = &(*tail)->next;
    }
  } else {
    rc = parse_request(cx, j, path, err, tail);
  }
  cJSON_Delete(j);
  if (rc) {
    trigger_free(head);
    return rc;
  }
  /* the first correlation given applies to all */
  for (struct ch_chk_trigger *t = head->next; t; t = t->next) {
    if (!head->ptr_nonce && t->ptr_nonce)
      head->ptr_nonce = strdup(t->ptr_nonce);
    if (!head->ptr_seq && t->ptr_seq)
      head->ptr_seq = strdup(t->ptr_seq);
  }
  cx->trigger = head;
  return 0;
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
    /* the request for this hub: named, or unnamed when it is the main hub */
    for (; t; t = t->next)
      if (t->hub ? strcasecmp(t->hub, hub->name) == 0 : hub == cx->hubs[0])
        break;
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
    struct ch_template_vars v = {key, seq, nonce, ch_wall_ns() / 1000000u};
    ch_template_render(t->url, &v, &url);
    if (t->body)
      ch_template_render(t->body, &v, &body);
    /* custom headers and method need their own easy setup */
    CURL *e = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct ch_buf line = CH_BUF_INIT;
    for (size_t i = 0; i < t->n_hdrs; i++) {
      ch_buf_reset(&line);
      ch_buf_printf(&line, "%s: ", t->hdr_names[i]);
      ch_template_render(t->hdr_values[i], &v, &line);
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
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->method);
    if (hl)
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    if (t->body) {
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
      ch_buf_printf(err, "trigger %s %s answered %ld (expected %ld-%ld)", t->embedded ? "POST" : t->method, red.data,
                    res.status, t->status_min, t->status_max);
    else
      ch_buf_printf(err, "trigger %s %s failed: %s", t->embedded ? "POST" : t->method, red.data,
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
    ch_buf_printf(&u, "trigger: %s %s", t->method, ch_template_source(t->url));
  ch_chk_redact(cx, u.data, u.len, out);
  ch_buf_free(&u);
}
