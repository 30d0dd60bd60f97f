/* ch_wsframe: the header of an unmasked (server-to-client) WebSocket frame, RFC 6455 section 5.2, for test
   servers and fixtures that write frames by hand. */
#ifndef CH_WSFRAME_H
#define CH_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the header for a payload of n bytes into h; returns its length (2, 4 or 10). */
static inline size_t ch_wsframe_header(unsigned char h[10], int opcode, bool fin, size_t n) {
  h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
  if (n < 126) {
    h[1] = (unsigned char)n;
    return 2;
  }
  if (n < 65536) {
    h[1] = 126, h[2] = (unsigned char)(n >> 8), h[3] = (unsigned char)n;
    return 4;
  }
  h[1] = 127;
  for (int i = 0; i < 8; i++)
    h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
  return 10;
}

#endif /* CH_WSFRAME_H */
