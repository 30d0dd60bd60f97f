/* ch_duration: durations and rates as written in scenario files and on the command line. */
#ifndef CH_DURATION_H
#define CH_DURATION_H

#include <stdint.h>

#include "ch_buf.h"

/**
 * Parses a duration: a number with a unit ns, us, ms, s, m or h ("250ms", "2s", "1.5m", "1h"), or several such
 * terms in decreasing order ("1m30s"). Bare numbers are refused (the unit would be a guess).
 * @param err  on failure "expected a duration such as \"250ms\" or \"2s\", found \"...\"" with a hint
 * @return 0 or -EINVAL (also for negative values and overflow of 64-bit ns).
 */
int ch_parse_duration_ns(const char *s, uint64_t *ns, struct ch_buf *err);

/**
 * Parses a rate: "500" or "500/s", "30/m", "2/h", "0.5/s". Result in events per second (> 0).
 * @return 0 or -EINVAL (with a message in err).
 */
int ch_parse_rate(const char *s, double *per_second, struct ch_buf *err);

/* Formats ns for humans, shortest exact unit first: "250ms", "2s", "1.5m", "1h" ("1.234ms" when needed). */
int ch_format_duration(uint64_t ns, struct ch_buf *out);

#endif /* CH_DURATION_H */
