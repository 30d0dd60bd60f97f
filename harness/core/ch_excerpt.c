#include "ch_excerpt.h"

#include <stdbool.h>

size_t ch_excerpt(char *out, size_t size, const char *p, size_t n) {
  if (!size)
    return 0;
  size_t o = 0;
  bool gap = false;
  for (size_t i = 0; i < n && o + 1 < size; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c <= ' ' || c >= 0x7f) {
      gap = o > 0;
      continue;
    }
    if (gap) {
      if (o + 2 >= size)
        break; /* no room for the space and a character after it */
      out[o++] = ' ';
      gap = false;
    }
    out[o++] = (char)c;
  }
  out[o] = '\0';
  return o;
}
