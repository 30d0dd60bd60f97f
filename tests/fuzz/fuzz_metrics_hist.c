/* Fuzz target: the serialised histogram parser must reject or accept any input without crashing, and whatever it
   accepts must serialise back to a form that parses to the same histogram. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_hist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct ch_hist h, back;
  if (ch_hist_parse(&h, (const char *)data, size, NULL) != 0)
    return 0;
  struct ch_buf s = CH_BUF_INIT;
  if (ch_hist_serialize(&h, &s) == 0) {
    if (ch_hist_parse(&back, s.data, s.len, NULL) != 0 || memcmp(&h, &back, sizeof h) != 0)
      abort();
    (void)ch_hist_value_at(&h, 99.9);
    (void)ch_hist_stddev(&h);
  }
  ch_buf_free(&s);
  return 0;
}
