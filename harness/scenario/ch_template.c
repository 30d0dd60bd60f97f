#include "ch_template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_url.h"

enum tpl_kind { TPL_LITERAL, TPL_KEY, TPL_SEQ, TPL_NONCE, TPL_NOW_MS };

static const char *const tpl_names[] = {NULL, "key", "seq", "nonce", "now_ms"};

struct tpl_seg {
  enum tpl_kind kind;
  size_t off, len; /* TPL_LITERAL: a slice of struct ch_template.lit */
};

struct ch_template {
  char *src;
  char *lit; /* literal text with "{{{{" unescaped, referenced by segments */
  enum ch_template_escape escape;
  size_t n;
  struct tpl_seg seg[]; /* at most 2 * (number of "{{") + 1 */
};

static size_t tpl_count_opens(const char *s) {
  size_t n = 0;
  for (const char *p = s; (p = strstr(p, "{{")) != NULL; p += 2)
    n++;
  return n;
}

static int tpl_add_literal(struct ch_template *t, size_t off, size_t len) {
  if (!len)
    return 0;
  if (t->n && t->seg[t->n - 1].kind == TPL_LITERAL && t->seg[t->n - 1].off + t->seg[t->n - 1].len == off) {
    t->seg[t->n - 1].len += len;
    return 0;
  }
  t->seg[t->n++] = (struct tpl_seg){TPL_LITERAL, off, len};
  return 0;
}

int ch_template_compile(const char *src, enum ch_template_escape escape, struct ch_template **out,
                        struct ch_buf *err) {
  *out = NULL;
  if (!src)
    return -EINVAL;
  /* Validate first, allocate after (constructors never build half an object on bad input). */
  for (const char *p = src; (p = strstr(p, "{{")) != NULL;) {
    if (!strncmp(p, "{{{{", 4)) {
      p += 4;
      continue;
    }
    const char *e = strstr(p + 2, "}}");
    if (!e) {
      if (err)
        ch_buf_printf(err, "expected \"}}\" closing the placeholder at offset %zu, found the end of the text",
                      (size_t)(p - src));
      return -EINVAL;
    }
    size_t nl = (size_t)(e - p - 2);
    bool known = false;
    for (int k = TPL_KEY; k <= TPL_NOW_MS; k++)
      known |= strlen(tpl_names[k]) == nl && !strncmp(p + 2, tpl_names[k], nl);
    if (!known) {
      if (err)
        ch_buf_printf(err, "expected a placeholder {{key}}, {{seq}}, {{nonce}} or {{now_ms}}, found \"{{%.*s}}\"",
                      (int)(nl > 40 ? 40 : nl), p + 2);
      return -EINVAL;
    }
    p = e + 2;
  }
  size_t slen = strlen(src), nseg = 2 * tpl_count_opens(src) + 1;
  struct ch_template *t = calloc(1, sizeof *t + nseg * sizeof t->seg[0]);
  if (!t)
    return -ENOMEM;
  t->src = strdup(src);
  t->lit = malloc(slen + 1);
  if (!t->src || !t->lit) {
    ch_template_free(t);
    return -ENOMEM;
  }
  t->escape = escape;
  size_t lo = 0;
  const char *p = src;
  while (*p) {
    if (!strncmp(p, "{{{{", 4)) {
      memcpy(t->lit + lo, "{{", 2);
      tpl_add_literal(t, lo, 2);
      lo += 2, p += 4;
    } else if (!strncmp(p, "{{", 2)) {
      const char *e = strstr(p + 2, "}}");
      size_t nl = (size_t)(e - p - 2);
      for (int k = TPL_KEY; k <= TPL_NOW_MS; k++)
        if (strlen(tpl_names[k]) == nl && !strncmp(p + 2, tpl_names[k], nl))
          t->seg[t->n++] = (struct tpl_seg){(enum tpl_kind)k, 0, 0};
      p = e + 2;
    } else {
      size_t n = strcspn(p + 1, "{") + 1; /* up to the next '{' (which may open a placeholder) */
      memcpy(t->lit + lo, p, n);
      tpl_add_literal(t, lo, n);
      lo += n, p += n;
    }
  }
  t->lit[lo] = '\0';
  *out = t;
  return 0;
}

static int tpl_put(const struct ch_template *t, struct ch_buf *out, const char *s, size_t n) {
  switch (t->escape) {
  case CH_TEMPLATE_URL:
    return ch_pct_encode(out, s, n);
  case CH_TEMPLATE_JSON:
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      int rc;
      if (c == '"' || c == '\\')
        rc = ch_buf_putc(out, '\\') ? -ENOMEM : ch_buf_putc(out, (char)c);
      else if (c < 0x20)
        rc = ch_buf_printf(out, "\\u%04x", c);
      else
        rc = ch_buf_putc(out, (char)c);
      if (rc)
        return -ENOMEM;
    }
    return 0;
  case CH_TEMPLATE_RAW:
    break;
  }
  return ch_buf_append(out, s, n);
}

int ch_template_render(const struct ch_template *t, const struct ch_template_vars *v, struct ch_buf *out) {
  char num[24];
  int rc = ch_buf_reserve(out, 0); /* an empty rendering is still a valid, NUL-terminated string */
  for (size_t i = 0; !rc && i < t->n; i++) {
    const struct tpl_seg *g = &t->seg[i];
    switch (g->kind) {
    case TPL_LITERAL:
      rc = ch_buf_append(out, t->lit + g->off, g->len);
      break;
    case TPL_KEY:
      rc = tpl_put(t, out, v->key ? v->key : "", v->key ? strlen(v->key) : 0);
      break;
    case TPL_NONCE:
      rc = tpl_put(t, out, v->nonce ? v->nonce : "", v->nonce ? strlen(v->nonce) : 0);
      break;
    case TPL_SEQ:
    case TPL_NOW_MS: {
      int n = snprintf(num, sizeof num, "%llu", (unsigned long long)(g->kind == TPL_SEQ ? v->seq : v->now_ms));
      rc = ch_buf_append(out, num, (size_t)n);
      break;
    }
    }
  }
  return rc ? -ENOMEM : 0;
}

const char *ch_template_source(const struct ch_template *t) { return t->src; }
enum ch_template_escape ch_template_escape_of(const struct ch_template *t) { return t->escape; }

bool ch_template_uses(const struct ch_template *t, const char *name) {
  for (size_t i = 0; i < t->n; i++)
    if (t->seg[i].kind != TPL_LITERAL && !strcmp(tpl_names[t->seg[i].kind], name))
      return true;
  return false;
}

void ch_template_free(struct ch_template *t) {
  if (!t)
    return;
  free(t->src);
  free(t->lit);
  free(t);
}
