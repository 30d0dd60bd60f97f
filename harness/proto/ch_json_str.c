/* ch_json strings and numbers: comparison without allocation, unescaping, escaping, number conversion. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch_json.h"
#include "ch_json_internal.h"

struct ch_span ch_json_str_inner(struct ch_span str) {
  if (!str.p || str.n < 2 || str.p[0] != '"' || str.p[str.n - 1] != '"')
    return (struct ch_span){str.p, 0};
  return (struct ch_span){str.p + 1, str.n - 2};
}

static bool str_is_token(struct ch_span str) {
  return str.p && str.n >= 2 && str.p[0] == '"' && str.p[str.n - 1] == '"';
}

bool ch_json_str_has_escape(struct ch_span str) {
  struct ch_span in = ch_json_str_inner(str);
  return in.n && memchr(in.p, '\\', in.n) != NULL;
}

static int str_hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int h = ch__json_hex(p[i]);
    if (h < 0)
      return -1;
    v = v << 4 | h;
  }
  return v;
}

static int str_put_utf8(char *out, unsigned cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the next unit of a string's inner bytes into out. Returns its byte count (1-4), 0 at the end, -1 on an
   invalid escape, lone surrogate or raw control character. */
static int str_next(const char **pp, const char *end, char out[4]) {
  const char *p = *pp;
  if (p >= end)
    return 0;
  unsigned char c = (unsigned char)*p;
  if (c != '\\') {
    if (c < 0x20)
      return -1;
    out[0] = (char)c;
    *pp = p + 1;
    return 1;
  }
  if (end - p < 2)
    return -1;
  char e = p[1];
  const char *map = "\"\"\\\\//b\bf\fn\nr\rt\t";
  for (const char *m = map; *m; m += 2)
    if (*m == e) {
      out[0] = m[1];
      *pp = p + 2;
      return 1;
    }
  if (e != 'u' || end - p < 6)
    return -1;
  int cp = str_hex4(p + 2);
  if (cp < 0)
    return -1;
  p += 6;
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return -1;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
      return -1;
    int lo = str_hex4(p + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
      return -1;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    p += 6;
  }
  *pp = p;
  return str_put_utf8(out, (unsigned)cp);
}

static char str_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

static bool str_eq(struct ch_span str, const char *s, size_t n, bool ci) {
  if (!str_is_token(str))
    return false;
  struct ch_span in = ch_json_str_inner(str);
  if (!memchr(in.p, '\\', in.n)) {
    if (in.n != n)
      return false;
    if (!ci)
      return memcmp(in.p, s, n) == 0;
    for (size_t i = 0; i < n; i++)
      if (str_lower(in.p[i]) != str_lower(s[i]))
        return false;
    return true;
  }
  const char *p = in.p, *end = in.p + in.n;
  size_t off = 0;
  char u[4];
  int k;
  while ((k = str_next(&p, end, u)) > 0) {
    if (off + (size_t)k > n)
      return false;
    for (int i = 0; i < k; i++) {
      char a = u[i], b = s[off + (size_t)i];
      if (ci ? str_lower(a) != str_lower(b) : a != b)
        return false;
    }
    off += (size_t)k;
  }
  return k == 0 && off == n;
}

bool ch_json_str_eq(struct ch_span str, const char *s, size_t n) { return str_eq(str, s, n, false); }
bool ch_json_str_eq_ci(struct ch_span str, const char *s, size_t n) { return str_eq(str, s, n, true); }
bool ch_json_str_eqz(struct ch_span str, const char *s) { return str_eq(str, s, strlen(s), false); }

int ch_json_str_unescape(struct ch_span str, struct ch_buf *out) {
  if (!str_is_token(str))
    return -EINVAL;
  struct ch_span in = ch_json_str_inner(str);
  int rc = ch_buf_reserve(out, in.n);
  if (rc)
    return rc;
  size_t start = out->len;
  char *w = out->data + out->len;
  const char *p = in.p, *end = in.p + in.n;
  while (p < end) {
    const char *bs = memchr(p, '\\', (size_t)(end - p));
    const char *run_end = bs ? bs : end;
    for (const char *q = p; q < run_end; q++)
      if ((unsigned char)*q < 0x20)
        goto fail;
    memcpy(w, p, (size_t)(run_end - p));
    w += run_end - p;
    p = run_end;
    if (p < end) {
      char u[4];
      int k = str_next(&p, end, u);
      if (k <= 0)
        goto fail;
      memcpy(w, u, (size_t)k);
      w += k;
    }
  }
  out->len = (size_t)(w - out->data);
  out->data[out->len] = '\0';
  return 0;
fail:
  out->len = start;
  out->data[start] = '\0';
  return -EINVAL;
}

int ch_json_append_str(struct ch_buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t start = out->len;
  int rc = ch_buf_reserve(out, n + 2);
  if (rc)
    return rc;
  out->data[out->len++] = '"';
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    const unsigned char *q = p;
    while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
      q++;
    if (q > p && (rc = ch_buf_append(out, p, (size_t)(q - p))))
      goto fail;
    p = q;
    if (p >= end)
      break;
    char esc[8];
    size_t el = 0;
    unsigned c = *p;
    if (c >= 0x80) {
      size_t l = ch__utf8_valid_len(p, end);
      if (l) {
        if ((rc = ch_buf_append(out, p, l)))
          goto fail;
        p += l;
        continue;
      }
      memcpy(esc, "\\ufffd", 6);
      el = 6;
    } else if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, el = 2;
    } else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      esc[0] = '\\';
      esc[1] = c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      el = 2;
    } else {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4], esc[5] = hex[c & 15], el = 6;
    }
    if ((rc = ch_buf_append(out, esc, el)))
      goto fail;
    p++;
  }
  if ((rc = ch_buf_putc(out, '"')))
    goto fail;
  return 0;
fail:
  out->len = start;
  if (out->data)
    out->data[start] = '\0';
  return rc;
}

/* Checks that the span is exactly one JSON number token. */
static bool num_is_token(struct ch_span num) {
  if (!num.p || !num.n)
    return false;
  struct ch__json_why why;
  const char *q = ch__json_scan_number(num.p, num.p + num.n, &why);
  return q == num.p + num.n;
}

/* Exact for decimal mantissas below 2^53 scaled by 10^-22..10^22: both operands are exact doubles, so one IEEE
   multiplication or division rounds correctly (Clinger's fast path). Returns false when it does not apply. */
static bool num_fast_double(struct ch_span num, double *out) {
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char *p = num.p, *end = num.p + num.n;
  bool neg = *p == '-';
  if (neg)
    p++;
  uint64_t m = 0;
  int digits = 0, exp10 = 0;
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    if (m || *p != '0')
      digits++;
    m = m * 10 + (uint64_t)(*p - '0');
    if (digits > 15)
      return false;
  }
  if (p < end && *p == '.') {
    for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
      if (m || *p != '0')
        digits++;
      m = m * 10 + (uint64_t)(*p - '0');
      exp10--;
      if (digits > 15)
        return false;
    }
  }
  if (p < end) { /* exponent */
    p++;
    bool eneg = *p == '-';
    if (*p == '+' || *p == '-')
      p++;
    int e = 0;
    for (; p < end; p++) {
      if (e > 1000)
        return false;
      e = e * 10 + (*p - '0');
    }
    exp10 += eneg ? -e : e;
  }
  if (exp10 < -22 || exp10 > 22)
    return false;
  double v = (double)m;
  v = exp10 < 0 ? v / pow10[-exp10] : v * pow10[exp10];
  *out = neg ? -v : v;
  return true;
}

int ch_json_num_double(struct ch_span num, double *out) {
  if (!num_is_token(num))
    return -EINVAL;
  if (num_fast_double(num, out))
    return 0;
  char tmp[401];
  if (num.n >= sizeof tmp)
    return -ERANGE;
  memcpy(tmp, num.p, num.n);
  tmp[num.n] = '\0';
  /* strtod follows LC_NUMERIC: JSON always uses '.', so use the locale's decimal point if it differs */
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
    char *dot = strchr(tmp, '.');
    if (dot)
      *dot = dp[0];
  }
  double v = strtod(tmp, NULL);
  if (isinf(v))
    return -ERANGE;
  *out = v;
  return 0;
}

/* Value of 8 ASCII digits at p, or -1 when any byte is not a digit (SWAR, little-endian: 3 multiplications instead
   of a chain of 8). HarnessSentUs has 16 digits. */
static int64_t num_8digits(const char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t v;
  memcpy(&v, p, 8);
  /* a digit is 0x30-0x39: high nibble 3, and adding 6 keeps it 3 (a carry out of a byte >= 0xFA only happens
     where the first test fails already) */
  const uint64_t hi = 0xF0F0F0F0F0F0F0F0u, three = 0x3030303030303030u;
  if (((v & hi) ^ three) | (((v + 0x0606060606060606u) & hi) ^ three))
    return -1;
  v -= 0x3030303030303030u;
  v = (v * 10) + (v >> 8); /* pairs */
  v = (((v & 0x000000FF000000FFu) * (100 + (1000000ull << 32))) +
       (((v >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32)))) >>
      32;
  return (int64_t)v;
#else
  int64_t v = 0;
  for (int i = 0; i < 8; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
#endif
}

/* One pass: the token must be -?(0|[1-9][0-9]*)(.0+)? -- any other JSON number is not an integer (-EINVAL), and so
   is anything that is no JSON number at all. */
int ch_json_num_int64(struct ch_span num, int64_t *out) {
  if (!num.p || !num.n)
    return -EINVAL;
  const char *p = num.p, *end = num.p + num.n;
  bool neg = *p == '-';
  if (neg)
    p++;
  if (p >= end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9'))
    return -EINVAL; /* no digit, or a leading zero */
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  int rc = 0;
  /* up to 18 digits cannot overflow: no range check for them */
  const char *safe = end - p > 18 ? p + 18 : end;
  for (int64_t d8; safe - p >= 8 && (d8 = num_8digits(p)) >= 0; p += 8)
    v = v * 100000000u + (uint64_t)d8;
  for (; p < safe && *p >= '0' && *p <= '9'; p++)
    v = v * 10 + (unsigned)(*p - '0');
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (lim - d) / 10)
      rc = -ERANGE; /* keep scanning: a non-integer is -EINVAL rather than -ERANGE */
    else
      v = v * 10 + d;
  }
  if (p < end && *p == '.') {
    const char *f = ++p;
    while (p < end && *p == '0')
      p++;
    if (p == f)
      return -EINVAL; /* "1." */
  }
  if (p != end)
    return -EINVAL;
  if (rc)
    return rc;
  *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
  return 0;
}
