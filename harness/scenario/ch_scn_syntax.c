/* Syntax errors with line, column, what was expected and what was found. cJSON only says roughly where it stopped,
   so when it fails this small strict JSON checker walks the text again to say exactly what went wrong. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ch_scn_check.h"

#define SX_MAX_DEPTH 1000 /* cJSON's own nesting limit */

struct sx {
  const char *s;
  size_t len, pos;
  const char *expected; /* set on the first failure */
};

static bool sx_fail(struct sx *x, const char *expected) {
  if (!x->expected)
    x->expected = expected;
  return false;
}

static bool sx_eof(const struct sx *x) { return x->pos >= x->len; }
static char sx_peek(const struct sx *x) { return sx_eof(x) ? '\0' : x->s[x->pos]; }

static void sx_ws(struct sx *x) {
  while (!sx_eof(x) && (x->s[x->pos] == ' ' || x->s[x->pos] == '\t' || x->s[x->pos] == '\n' || x->s[x->pos] == '\r'))
    x->pos++;
}

static bool sx_string(struct sx *x) {
  x->pos++; /* the opening quote */
  for (;;) {
    if (sx_eof(x))
      return sx_fail(x, "a closing '\"' of the string");
    unsigned char ch = (unsigned char)x->s[x->pos];
    if (ch == '"') {
      x->pos++;
      return true;
    }
    if (ch < 0x20)
      return sx_fail(x, "an escaped control character (\\n, \\t, \\u0000) in the string");
    if (ch == '\\') {
      x->pos++;
      char e = sx_peek(x);
      if (e == 'u') {
        for (int i = 1; i <= 4; i++)
          if (x->pos + (size_t)i >= x->len || !isxdigit((unsigned char)x->s[x->pos + (size_t)i])) {
            x->pos += (size_t)i;
            return sx_fail(x, "four hex digits after \\u");
          }
        x->pos += 5;
        continue;
      }
      if (!e || !strchr("\"\\/bfnrt", e))
        return sx_fail(x, "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    }
    x->pos++;
  }
}

static bool sx_digits(struct sx *x) {
  size_t start = x->pos;
  while (!sx_eof(x) && isdigit((unsigned char)x->s[x->pos]))
    x->pos++;
  return x->pos > start;
}

static bool sx_number(struct sx *x) {
  if (sx_peek(x) == '-')
    x->pos++;
  if (sx_peek(x) == '0')
    x->pos++;
  else if (!sx_digits(x))
    return sx_fail(x, "a digit");
  if (sx_peek(x) == '.') {
    x->pos++;
    if (!sx_digits(x))
      return sx_fail(x, "a digit after the decimal point");
  }
  if (sx_peek(x) == 'e' || sx_peek(x) == 'E') {
    x->pos++;
    if (sx_peek(x) == '+' || sx_peek(x) == '-')
      x->pos++;
    if (!sx_digits(x))
      return sx_fail(x, "a digit in the exponent");
  }
  return true;
}

static bool sx_value(struct sx *x, int depth);

static bool sx_container(struct sx *x, int depth, bool object) {
  const char close = object ? '}' : ']';
  x->pos++;
  sx_ws(x);
  if (sx_peek(x) == close) {
    x->pos++;
    return true;
  }
  for (bool first = true;; first = false) {
    sx_ws(x);
    if (sx_peek(x) == '/')
      return sx_fail(x, "JSON without comments");
    if (object) {
      if (sx_peek(x) != '"')
        return sx_fail(x, first ? "a quoted key or '}'" : "a quoted key after ',' (JSON allows no trailing comma)");
      if (!sx_string(x))
        return false;
      sx_ws(x);
      if (sx_peek(x) != ':')
        return sx_fail(x, "':' after the key");
      x->pos++;
      sx_ws(x);
    } else if (!first && sx_peek(x) == ']') {
      return sx_fail(x, "a value after ',' (JSON allows no trailing comma)");
    }
    if (!sx_value(x, depth + 1))
      return false;
    sx_ws(x);
    char ch = sx_peek(x);
    if (ch == ',') {
      x->pos++;
      continue;
    }
    if (ch == close) {
      x->pos++;
      return true;
    }
    if (ch == '/')
      return sx_fail(x, "JSON without comments");
    return sx_fail(x, object ? "',' or '}'" : "',' or ']'");
  }
}

static bool sx_value(struct sx *x, int depth) {
  if (depth > SX_MAX_DEPTH)
    return sx_fail(x, "at most 1000 levels of nesting");
  sx_ws(x);
  char ch = sx_peek(x);
  if (sx_eof(x))
    return sx_fail(x, "a value");
  if (ch == '{' || ch == '[')
    return sx_container(x, depth, ch == '{');
  if (ch == '"')
    return sx_string(x);
  if (ch == '-' || isdigit((unsigned char)ch))
    return sx_number(x);
  static const char *const words[] = {"true", "false", "null"};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(words[i]);
    if (x->len - x->pos >= n && !strncmp(x->s + x->pos, words[i], n) &&
        (x->pos + n >= x->len || !isalnum((unsigned char)x->s[x->pos + n]))) {
      x->pos += n;
      return true;
    }
  }
  if (ch == '/')
    return sx_fail(x, "JSON without comments");
  if (ch == '\'')
    return sx_fail(x, "a string in double quotes");
  return sx_fail(x, "a value (object, array, string, number, true, false or null)");
}

static void sx_describe(const struct sx *x, char *out, size_t n) {
  if (sx_eof(x)) {
    snprintf(out, n, "the end of the file");
    return;
  }
  unsigned char ch = (unsigned char)x->s[x->pos];
  if (isalpha(ch)) {
    size_t e = x->pos;
    while (e < x->len && e - x->pos < 20 && (isalnum((unsigned char)x->s[e]) || x->s[e] == '_'))
      e++;
    /* a short word is a typo worth showing ("tru"); a long one may be an unquoted credential: show its start */
    if (e - x->pos <= 6)
      snprintf(out, n, "'%.*s'", (int)(e - x->pos), x->s + x->pos);
    else
      snprintf(out, n, "'%c...' (an unquoted word)", x->s[x->pos]);
  } else if (ch < 0x20 || ch >= 0x7f) {
    snprintf(out, n, "byte 0x%02x", ch);
  } else {
    snprintf(out, n, "'%c'", ch);
  }
}

void ch__scn_syntax_error(struct ch__scn_ctx *c, const char *json, size_t len, size_t cjson_off) {
  struct sx x = {json, len, 0, NULL};
  if (sx_value(&x, 0)) {
    sx_ws(&x);
    if (!sx_eof(&x))
      sx_fail(&x, "the end of the file after the top-level value");
  }
  if (!x.expected) {
    /* the checker accepted what cJSON refused: report cJSON's position without guessing */
    x.pos = cjson_off < len ? cjson_off : len;
    x.expected = "valid JSON";
  }
  size_t line = 1, col = 1;
  for (size_t i = 0; i < x.pos && i < len; i++) {
    if (json[i] == '\n')
      line++, col = 1;
    else
      col++;
  }
  char found[48];
  sx_describe(&x, found, sizeof found);
  c->n_errors++;
  if (c->err)
    ch_buf_printf(c->err, "%s:%zu:%zu: syntax error: expected %s, found %s\n", c->file, line, col, x.expected, found);
}
