#include "ch_base64.h"

#include <errno.h>
#include <stdint.h>

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int ch_base64_encode(struct ch_buf *out, const void *data, size_t len, bool pad) {
  const unsigned char *p = data;
  if (ch_buf_reserve(out, (len + 2) / 3 * 4))
    return -ENOMEM;
  char *o = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *o++ = b64_chars[v >> 18];
    *o++ = b64_chars[(v >> 12) & 63];
    *o++ = b64_chars[(v >> 6) & 63];
    *o++ = b64_chars[v & 63];
  }
  if (len - i) {
    uint32_t v = (uint32_t)p[i] << 16 | (len - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
    *o++ = b64_chars[v >> 18];
    *o++ = b64_chars[(v >> 12) & 63];
    if (len - i == 2)
      *o++ = b64_chars[(v >> 6) & 63];
    else if (pad)
      *o++ = '=';
    if (pad)
      *o++ = '=';
  }
  out->len = (size_t)(o - out->data);
  out->data[out->len] = '\0';
  return 0;
}

static int b64_val(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int ch_base64_decode(struct ch_buf *out, const char *s, size_t len, bool padded) {
  if (padded) {
    if (len % 4)
      return -EINVAL;
    size_t pad = len && s[len - 1] == '=' ? (len > 1 && s[len - 2] == '=' ? 2 : 1) : 0;
    len -= pad;
  }
  if (len % 4 == 1)
    return -EINVAL;
  if (ch_buf_reserve(out, len / 4 * 3 + 2))
    return -ENOMEM;
  uint32_t acc = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_val((unsigned char)s[i]);
    if (v < 0)
      return -EINVAL; /* also an '=' anywhere but the end */
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->data[out->len++] = (char)((acc >> bits) & 0xff);
    }
  }
  out->data[out->len] = '\0';
  return 0;
}
