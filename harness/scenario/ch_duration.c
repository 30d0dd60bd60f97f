#include "ch_duration.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  double ns;
} dur_units[] = {
    /* longest names first so that "ms" is not read as "m" followed by junk */
    {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
};

static int dur_fail(struct ch_buf *err, const char *s, const char *hint) {
  if (err)
    ch_buf_printf(err, "expected a duration such as \"250ms\", \"2s\", \"1.5m\" or \"1h\", found \"%s\"%s", s,
                  hint ? hint : "");
  return -EINVAL;
}

/* Reads an unsigned decimal number (digits with an optional fraction) without locale dependence. */
static const char *dur_number(const char *p, double *out) {
  const char *start = p;
  double v = 0;
  if (!isdigit((unsigned char)*p))
    return NULL; /* ".5s" is refused, like the schema does */
  while (isdigit((unsigned char)*p))
    v = v * 10 + (*p++ - '0');
  if (*p == '.') {
    p++;
    double scale = 0.1;
    if (!isdigit((unsigned char)*p))
      return NULL;
    while (isdigit((unsigned char)*p)) {
      v += (*p++ - '0') * scale;
      scale /= 10;
    }
  }
  if (p == start)
    return NULL;
  *out = v;
  return p;
}

int ch_parse_duration_ns(const char *s, uint64_t *ns, struct ch_buf *err) {
  if (!s || !*s)
    return dur_fail(err, s ? s : "", NULL);
  const char *p = s;
  double total = 0;
  int last_unit = (int)(sizeof dur_units / sizeof dur_units[0]);
  while (*p) {
    double v;
    const char *q = dur_number(p, &v);
    if (!q)
      return dur_fail(err, s, *p == '-' ? " (durations cannot be negative)" : NULL);
    int unit = -1;
    for (int i = 0; i < (int)(sizeof dur_units / sizeof dur_units[0]); i++) {
      size_t n = strlen(dur_units[i].name);
      if (!strncmp(q, dur_units[i].name, n) && !isalpha((unsigned char)q[n])) {
        unit = i;
        break;
      }
    }
    if (unit < 0)
      return dur_fail(err, s, *q ? " (units: ns, us, ms, s, m, h)" : " (a bare number: add a unit, e.g. \"2s\")");
    if (unit >= last_unit)
      return dur_fail(err, s, " (terms must go from larger to smaller units, e.g. \"1m30s\")");
    last_unit = unit;
    total += v * dur_units[unit].ns;
    p = q + strlen(dur_units[unit].name);
  }
  if (!(total < 1.8e19))
    return dur_fail(err, s, " (too long)");
  *ns = (uint64_t)llround(total);
  return 0;
}

int ch_parse_rate(const char *s, double *per_second, struct ch_buf *err) {
  double v;
  const char *q = s ? dur_number(s, &v) : NULL;
  double div = 1;
  if (q && *q == '/') {
    if (!strcmp(q, "/s"))
      div = 1;
    else if (!strcmp(q, "/m"))
      div = 60;
    else if (!strcmp(q, "/h"))
      div = 3600;
    else
      q = NULL;
  } else if (q && *q) {
    q = NULL;
  }
  if (!q || v <= 0) {
    if (err)
      ch_buf_printf(err, "expected a positive rate such as 500, \"500/s\", \"30/m\" or \"2/h\", found \"%s\"",
                    s ? s : "");
    return -EINVAL;
  }
  *per_second = v / div;
  return 0;
}

int ch_format_duration(uint64_t ns, struct ch_buf *out) {
  static const struct {
    const char *name;
    uint64_t ns;
  } units[] = {{"h", 3600000000000ull}, {"m", 60000000000ull}, {"s", 1000000000ull},
               {"ms", 1000000ull},      {"us", 1000ull},       {"ns", 1ull}};
  if (ns == 0)
    return ch_buf_puts(out, "0s");
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (ns >= units[i].ns) {
      if (ns % units[i].ns == 0)
        return ch_buf_printf(out, "%llu%s", (unsigned long long)(ns / units[i].ns), units[i].name);
      /* not a whole number of this unit: 3 significant decimals are plenty for reports */
      if (i + 1 < sizeof units / sizeof units[0] && ns < 1000 * units[i].ns)
        return ch_buf_printf(out, "%.4g%s", (double)ns / (double)units[i].ns, units[i].name);
    }
  }
  return ch_buf_printf(out, "%lluns", (unsigned long long)ns);
}
