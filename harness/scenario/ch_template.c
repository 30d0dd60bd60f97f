#include "ch_template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_url.h"

enum tpl_kind { TPL_LITERAL, TPL_KEY, TPL_SEQ, TPL_NONCE, TPL_NOW_MS, TPL_HUB, TPL_ENV };

static const char *const tpl_names[] = {NULL, "key", "seq", "nonce", "now_ms", "hub", NULL};
#define TPL_LAST_NAMED TPL_HUB
#define TPL_ENV_PREFIX "env."

struct tpl_seg {
  enum tpl_kind kind;
  size_t off, len; /* TPL_LITERAL: a slice of struct ch_template.lit; TPL_ENV: off is the index in env */
};

struct tpl_env {
  char *name, *value;
};

struct ch_template {
  char *src;
  char *lit; /* literal text with "{{{{" unescaped, referenced by segments */
  enum ch_template_escape escape;
  struct tpl_env *env; /* the {{env.NAME}} placeholders, values read at compile time */
  size_t n_env;
  size_t n;
  struct tpl_seg seg[]; /* at most 2 * (number of "{{") + 1 */
};

/* A variable name as the shell writes them: a letter or '_', then letters, digits, '_'. */
static bool tpl_env_name_ok(const char *p, size_t n) {
  if (!n || (p[0] >= '0' && p[0] <= '9'))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z') && !(p[i] >= '0' && p[i] <= '9') && p[i] != '_')
      return false;
  return true;
}

/* The kind of the placeholder "{{p[0..nl)}}", or TPL_LITERAL when unknown. */
static enum tpl_kind tpl_kind_of(const char *p, size_t nl) {
  for (int k = TPL_KEY; k <= TPL_LAST_NAMED; k++)
    if (strlen(tpl_names[k]) == nl && !strncmp(p, tpl_names[k], nl))
      return (enum tpl_kind)k;
  size_t pl = strlen(TPL_ENV_PREFIX);
  if (nl > pl && !strncmp(p, TPL_ENV_PREFIX, pl))
    return TPL_ENV;
  return TPL_LITERAL;
}

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
    enum tpl_kind kind = tpl_kind_of(p + 2, nl);
    if (kind == TPL_LITERAL) {
      if (err)
        ch_buf_printf(err, "expected a placeholder {{key}}, {{seq}}, {{nonce}}, {{now_ms}}, {{hub}} or {{env.NAME}}, "
                           "found \"{{%.*s}}\"",
                      (int)(nl > 40 ? 40 : nl), p + 2);
      return -EINVAL;
    }
    if (kind == TPL_ENV) {
      const char *name = p + 2 + strlen(TPL_ENV_PREFIX);
      size_t len = nl - strlen(TPL_ENV_PREFIX);
      char var[128];
      if (!tpl_env_name_ok(name, len) || len >= sizeof var) {
        if (err)
          ch_buf_printf(err, "expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*) in {{env.NAME}}, found "
                             "\"{{%.*s}}\"",
                        (int)(nl > 40 ? 40 : nl), p + 2);
        return -EINVAL;
      }
      memcpy(var, name, len);
      var[len] = '\0';
      const char *val = getenv(var); /* values are never echoed: they may be credentials */
      if (!val || !*val) {
        if (err)
          ch_buf_printf(err, "expected the environment variable %s to be set (for {{env.%s}}), found it %s", var, var,
                        val ? "empty" : "unset");
        return -EINVAL;
      }
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
  size_t n_env = 0;
  for (const char *q = src; (q = strstr(q, "{{" TPL_ENV_PREFIX)) != NULL; q += 2)
    n_env++;
  if (n_env && !(t->env = calloc(n_env, sizeof *t->env))) {
    ch_template_free(t);
    return -ENOMEM;
  }
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
      enum tpl_kind kind = tpl_kind_of(p + 2, nl);
      if (kind == TPL_ENV) {
        size_t pl = strlen(TPL_ENV_PREFIX);
        struct tpl_env *v = &t->env[t->n_env];
        v->name = strndup(p + 2 + pl, nl - pl);
        v->value = v->name ? strdup(getenv(v->name)) : NULL;
        if (!v->name || !v->value) {
          free(v->name);
          ch_template_free(t);
          return -ENOMEM;
        }
        t->seg[t->n++] = (struct tpl_seg){TPL_ENV, t->n_env++, 0};
      } else {
        t->seg[t->n++] = (struct tpl_seg){kind, 0, 0};
      }
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
    case TPL_HUB:
      rc = tpl_put(t, out, v->hub ? v->hub : "", v->hub ? strlen(v->hub) : 0);
      break;
    case TPL_ENV: {
      /* as written in a URL (a variable may hold a host or a path); JSON-escaped in a JSON body */
      const char *val = t->env[g->off].value;
      rc = t->escape == CH_TEMPLATE_JSON ? tpl_put(t, out, val, strlen(val)) : ch_buf_puts(out, val);
      break;
    }
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
    if (t->seg[i].kind != TPL_LITERAL && t->seg[i].kind != TPL_ENV && !strcmp(tpl_names[t->seg[i].kind], name))
      return true;
  return false;
}

size_t ch_template_env_count(const struct ch_template *t) { return t ? t->n_env : 0; }
const char *ch_template_env_name(const struct ch_template *t, size_t i) { return t->env[i].name; }
const char *ch_template_env_value(const struct ch_template *t, size_t i) { return t->env[i].value; }

void ch_template_free(struct ch_template *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n_env; i++) {
    if (t->env[i].value) /* may be a credential: wipe before freeing */
      memset(t->env[i].value, 0, strlen(t->env[i].value));
    free(t->env[i].name);
    free(t->env[i].value);
  }
  free(t->env);
  free(t->src);
  free(t->lit);
  free(t);
}
