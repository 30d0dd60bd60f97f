#include "ch_scn_check.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch_duration.h"

char *ch__scn_strdup(struct ch__scn_ctx *c, const char *s) {
  if (!s)
    return NULL;
  char *d = strdup(s);
  if (!d)
    c->oom = true;
  return d;
}

/* ------------------------------------------------------------------------------------------------- paths */

static bool scn_is_ident(const char *k) {
  if (!*k || isdigit((unsigned char)*k))
    return false;
  for (; *k; k++)
    if (!isalnum((unsigned char)*k) && *k != '_')
      return false;
  return true;
}

size_t ch__scn_push_key(struct ch__scn_ctx *c, const char *key) {
  size_t mark = c->path.len;
  int rc = scn_is_ident(key) ? ch_buf_printf(&c->path, ".%s", key) : ch_buf_printf(&c->path, "[\"%.40s\"]", key);
  if (rc)
    c->oom = true;
  return mark;
}

size_t ch__scn_push_index(struct ch__scn_ctx *c, size_t i) {
  size_t mark = c->path.len;
  if (ch_buf_printf(&c->path, "[%zu]", i))
    c->oom = true;
  return mark;
}

void ch__scn_pop(struct ch__scn_ctx *c, size_t mark) {
  if (c->path.data && mark <= c->path.len) {
    c->path.len = mark;
    c->path.data[mark] = '\0';
  }
}

/* ------------------------------------------------------------------------------------------------- errors */

static void scn_describe(struct ch_buf *b, const cJSON *v, bool secret) {
  if (!v) {
    ch_buf_puts(b, "nothing");
  } else if (cJSON_IsString(v)) {
    if (secret) {
      ch_buf_puts(b, "a string (value not shown)");
      return;
    }
    ch_buf_putc(b, '"');
    const char *s = v->valuestring;
    size_t n = 0;
    for (; s[n] && n < 60; n++) {
      unsigned char ch = (unsigned char)s[n];
      if (ch == '"' || ch == '\\')
        ch_buf_printf(b, "\\%c", ch);
      else if (ch < 0x20 || ch == 0x7f)
        ch_buf_printf(b, "\\u%04x", ch);
      else
        ch_buf_putc(b, (char)ch);
    }
    ch_buf_puts(b, s[n] ? "...\"" : "\"");
  } else if (secret) {
    ch_buf_puts(b, cJSON_IsNumber(v)   ? "a number (value not shown)"
                   : cJSON_IsArray(v)  ? "an array"
                   : cJSON_IsObject(v) ? "an object"
                   : cJSON_IsNull(v)   ? "null"
                                       : "a boolean");
  } else if (cJSON_IsNumber(v)) {
    ch_buf_printf(b, "%.17g", v->valuedouble);
  } else if (cJSON_IsBool(v)) {
    ch_buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
  } else if (cJSON_IsNull(v)) {
    ch_buf_puts(b, "null");
  } else if (cJSON_IsArray(v)) {
    ch_buf_printf(b, "an array of %d", cJSON_GetArraySize(v));
  } else if (cJSON_IsObject(v)) {
    ch_buf_puts(b, "an object");
  } else {
    ch_buf_puts(b, "an invalid value");
  }
}

static void scn_set_note(struct ch__scn_ctx *c, const cJSON *node) {
  for (size_t i = 0; node && i < c->n_set_nodes; i++)
    if (c->set_nodes[i].node == node) {
      ch_buf_printf(c->err, " (from --set %s)", c->set_nodes[i].path);
      return;
    }
}

static void scn_prefix(struct ch__scn_ctx *c) {
  ch_buf_printf(c->err, "%s: %s: ", c->file, c->path.data ? c->path.data : "$");
}

void ch__scn_fail(struct ch__scn_ctx *c, const cJSON *found, bool secret, const char *expected) {
  c->n_errors++;
  if (!c->err)
    return;
  scn_prefix(c);
  ch_buf_printf(c->err, "expected %s, found ", expected);
  scn_describe(c->err, found, secret);
  scn_set_note(c, found);
  ch_buf_putc(c->err, '\n');
}

void ch__scn_failf(struct ch__scn_ctx *c, const cJSON *origin, const char *fmt, ...) {
  c->n_errors++;
  if (!c->err)
    return;
  scn_prefix(c);
  va_list ap;
  va_start(ap, fmt);
  ch_buf_vprintf(c->err, fmt, ap);
  va_end(ap);
  scn_set_note(c, origin);
  ch_buf_putc(c->err, '\n');
}

/* ------------------------------------------------------------------------------------------------- keys */

/* Levenshtein distance, case-insensitive, on at most 64 characters (longer names are never close enough). */
static size_t scn_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return (size_t)-1;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
      size_t best = diag + cost;
      if (row[j] + 1 < best)
        best = row[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *ch__scn_suggest(const char *s, const char *const *candidates) {
  const char *best = NULL;
  size_t bestd = (size_t)-1;
  for (size_t i = 0; candidates[i]; i++) {
    size_t d = scn_distance(s, candidates[i]);
    if (d < bestd)
      bestd = d, best = candidates[i];
  }
  size_t len = strlen(s);
  size_t limit = len <= 4 ? 1 : len <= 10 ? 2 : 3;
  return bestd <= limit ? best : NULL;
}

void ch__scn_check_keys(struct ch__scn_ctx *c, const cJSON *obj, const char *const *allowed) {
  for (const cJSON *it = obj->child; it; it = it->next) {
    const char *k = it->string ? it->string : "";
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++)
      ok = !strcmp(k, allowed[i]);
    size_t mark = ch__scn_push_key(c, k);
    if (!ok) {
      const char *s = ch__scn_suggest(k, allowed);
      struct ch_buf list = CH_BUF_INIT;
      for (size_t i = 0; allowed[i]; i++)
        ch_buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
      if (s)
        ch__scn_failf(c, it, "unknown key \"%.60s\" (did you mean \"%s\"?)", k, s);
      else
        ch__scn_failf(c, it, "unknown key \"%.60s\"; expected one of: %s", k, list.data ? list.data : "(none)");
      ch_buf_free(&list);
    } else {
      for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
        if (prev->string && !strcmp(prev->string, k)) {
          ch__scn_failf(c, it, "duplicate key \"%s\" (JSON objects must not repeat a key)", k);
          break;
        }
    }
    ch__scn_pop(c, mark);
  }
}

/* ------------------------------------------------------------------------------------------------- getters */

/* Fetches obj[key] exactly (cJSON_GetObjectItem is case-insensitive, which would hide misspellings). */
static const cJSON *scn_get(const cJSON *obj, const char *key) {
  return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* Shared prologue: returns the item or NULL when absent (reporting it when required). */
static const cJSON *scn_item(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required,
                             const char *expected, size_t *mark) {
  const cJSON *v = scn_get(obj, key);
  *mark = ch__scn_push_key(c, key);
  if (!v && required) {
    struct ch_buf e = CH_BUF_INIT;
    ch_buf_printf(&e, "%s (this key is required)", expected);
    ch__scn_fail(c, NULL, false, e.data ? e.data : expected);
    ch_buf_free(&e);
  }
  return v;
}

bool ch__scn_string(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, const char *def,
                    char **out) {
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, required, "a string", &mark);
  bool ok = false;
  *out = NULL;
  if (v && cJSON_IsString(v)) {
    *out = ch__scn_strdup(c, v->valuestring);
    ok = true;
  } else if (v && !(cJSON_IsNull(v) && !required)) {
    ch__scn_fail(c, v, false, "a string");
  }
  if (!ok)
    *out = ch__scn_strdup(c, def);
  ch__scn_pop(c, mark);
  return ok;
}

bool ch__scn_bool(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool def, bool *out) {
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, false, "true or false", &mark);
  bool ok = v && cJSON_IsBool(v);
  *out = ok ? cJSON_IsTrue(v) : def;
  if (v && !ok)
    ch__scn_fail(c, v, false, "true or false");
  ch__scn_pop(c, mark);
  return ok;
}

bool ch__scn_uint(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, uint64_t min,
                  uint64_t max, uint64_t def, uint64_t *out) {
  char expected[96];
  if (min <= 1 && max >= (1ull << 53))
    snprintf(expected, sizeof expected, "a %s integer", min ? "positive" : "non-negative");
  else if (min <= 1 && max >= 1000)
    snprintf(expected, sizeof expected, "a %s integer up to %llu", min ? "positive" : "non-negative",
             (unsigned long long)max);
  else
    snprintf(expected, sizeof expected, "an integer from %llu to %llu", (unsigned long long)min,
             (unsigned long long)max);
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, required, expected, &mark);
  *out = def;
  bool ok = false;
  if (v) {
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isnan(d) && d == floor(d) && d >= (double)min && d <= (double)max && d <= 9007199254740992.0) {
      *out = (uint64_t)d;
      ok = true;
    } else {
      ch__scn_fail(c, v, false, expected);
    }
  }
  ch__scn_pop(c, mark);
  return ok;
}

bool ch__scn_number(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, double min, double max,
                    bool min_exclusive, double def, double *out) {
  char expected[96];
  snprintf(expected, sizeof expected, "a number %s %g and <= %g", min_exclusive ? ">" : ">=", min, max);
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, required, expected, &mark);
  *out = def;
  bool ok = false;
  if (v) {
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isnan(d) && (min_exclusive ? d > min : d >= min) && d <= max) {
      *out = d;
      ok = true;
    } else {
      ch__scn_fail(c, v, false, expected);
    }
  }
  ch__scn_pop(c, mark);
  return ok;
}

#define SCN_DURATION_EXPECTED "a duration such as \"250ms\", \"2s\", \"1.5m\" or \"1h\""

bool ch__scn_duration(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, uint64_t def,
                      uint64_t *out) {
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, required, SCN_DURATION_EXPECTED, &mark);
  *out = def;
  bool ok = false;
  if (v && cJSON_IsString(v)) {
    if (ch_parse_duration_ns(v->valuestring, out, NULL)) {
      *out = def;
      const char *s = v->valuestring;
      bool bare = *s && strspn(s, "0123456789.") == strlen(s);
      ch__scn_fail(c, v, false,
                   bare ? SCN_DURATION_EXPECTED " (a bare number: add a unit, ns us ms s m h)"
                        : SCN_DURATION_EXPECTED " (units: ns us ms s m h)");
    } else {
      ok = true;
    }
  } else if (v) {
    ch__scn_fail(c, v, false,
                 cJSON_IsNumber(v) ? SCN_DURATION_EXPECTED " (a bare number is ambiguous: write it as a string "
                                                           "with a unit)"
                                   : SCN_DURATION_EXPECTED);
  }
  ch__scn_pop(c, mark);
  return ok;
}

bool ch__scn_rate(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required, double def, double *out) {
  static const char expected[] = "a positive rate: a number per second or a string such as \"500/s\" or \"30/m\"";
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, required, expected, &mark);
  *out = def;
  bool ok = false;
  if (v) {
    if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble <= 1e9)
      *out = v->valuedouble, ok = true;
    else if (cJSON_IsString(v) && !ch_parse_rate(v->valuestring, out, NULL) && *out <= 1e9)
      ok = true;
    if (!ok) {
      *out = def;
      ch__scn_fail(c, v, false, expected);
    }
  }
  ch__scn_pop(c, mark);
  return ok;
}

bool ch__scn_enum(struct ch__scn_ctx *c, const cJSON *obj, const char *key, bool required,
                  const char *const *names, int def, int *out) {
  struct ch_buf list = CH_BUF_INIT;
  for (size_t i = 0; names[i]; i++)
    ch_buf_printf(&list, "%s\"%s\"", i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
  struct ch_buf expected = CH_BUF_INIT;
  ch_buf_printf(&expected, "one of %s", list.data ? list.data : "");
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, required, expected.data ? expected.data : "", &mark);
  *out = def;
  bool ok = false;
  if (v && cJSON_IsString(v)) {
    for (int i = 0; names[i] && !ok; i++)
      if (!strcmp(v->valuestring, names[i]))
        *out = i, ok = true;
    if (!ok) {
      const char *s = ch__scn_suggest(v->valuestring, names);
      if (s)
        ch_buf_printf(&expected, " (did you mean \"%s\"?)", s);
    }
  }
  if (v && !ok)
    ch__scn_fail(c, v, false, expected.data ? expected.data : "");
  ch__scn_pop(c, mark);
  ch_buf_free(&list);
  ch_buf_free(&expected);
  return ok;
}

static bool scn_pointer_valid(const char *p) {
  if (*p && *p != '/')
    return false;
  for (; *p; p++)
    if (*p == '~' && p[1] != '0' && p[1] != '1')
      return false;
  return true;
}

bool ch__scn_pointer(struct ch__scn_ctx *c, const cJSON *obj, const char *key, const char *def, char **out) {
  static const char expected[] = "a JSON Pointer such as \"/PartKey\" (RFC 6901: \"\" or starting with '/', '~' "
                                 "only as ~0 or ~1) or null";
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, false, expected, &mark);
  bool ok = false;
  *out = NULL;
  if (!v) {
    *out = ch__scn_strdup(c, def);
  } else if (cJSON_IsNull(v)) {
    ok = true;
  } else if (cJSON_IsString(v) && scn_pointer_valid(v->valuestring)) {
    *out = ch__scn_strdup(c, v->valuestring);
    ok = true;
  } else {
    ch__scn_fail(c, v, false, expected);
  }
  ch__scn_pop(c, mark);
  return ok;
}

bool ch__scn_file(struct ch__scn_ctx *c, const cJSON *obj, const char *key, char **out) {
  size_t mark;
  const cJSON *v = scn_item(c, obj, key, false, "a file path", &mark);
  bool ok = false;
  *out = NULL;
  if (v && cJSON_IsString(v) && *v->valuestring) {
    struct ch_buf p = CH_BUF_INIT;
    if (v->valuestring[0] == '/' || !c->dir || !*c->dir || !strcmp(c->dir, "."))
      ch_buf_puts(&p, v->valuestring);
    else
      ch_buf_printf(&p, "%s/%s", c->dir, v->valuestring);
    if (!p.data) {
      c->oom = true;
    } else if (access(p.data, R_OK) != 0) {
      int e = errno;
      ch__scn_failf(c, v, "expected a readable file, found \"%.200s\" (%s: %s)", v->valuestring, p.data, strerror(e));
      ch_buf_free(&p);
    } else {
      *out = ch_buf_steal(&p);
      ok = true;
    }
  } else if (v && !cJSON_IsNull(v)) {
    ch__scn_fail(c, v, false, "a file path (a non-empty string, relative to the scenario's folder)");
  }
  ch__scn_pop(c, mark);
  return ok;
}
