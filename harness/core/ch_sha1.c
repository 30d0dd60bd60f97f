#include "ch_sha1.h"

#include <stdint.h>

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

void ch_sha1(const void *data, size_t len, unsigned char out[20]) {
  const unsigned char *msg = data;
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t total = ((len + 8) / 64 + 1) * 64; /* message, 0x80, zeros, 64-bit length: whole blocks */
  for (size_t off = 0; off < total; off += 64) {
    unsigned char block[64];
    for (size_t i = 0; i < 64; i++) {
      size_t k = off + i;
      if (k < len)
        block[i] = msg[k];
      else if (k == len)
        block[i] = 0x80;
      else if (k >= total - 8)
        block[i] = (unsigned char)((uint64_t)len * 8 >> (8 * (total - 1 - k)));
      else
        block[i] = 0;
    }
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 |
             block[4 * i + 3];
    for (int i = 16; i < 80; i++)
      w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20)
        f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40)
        f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60)
        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else
        f = b ^ c ^ d, k = 0xCA62C1D6;
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 4; j++)
      out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}
