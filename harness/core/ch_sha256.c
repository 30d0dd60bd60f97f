#include "ch_sha256.h"

#include <errno.h>
#include <openssl/evp.h>

int ch_sha256_hex(const void *msg, size_t len, char hex[CH_SHA256_HEX_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  hex[0] = '\0';
  if (!EVP_Digest(msg, len, md, &n, EVP_sha256(), NULL) || n != CH_SHA256_HEX_LEN / 2)
    return -EIO;
  for (unsigned int i = 0; i < n; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[CH_SHA256_HEX_LEN] = '\0';
  return 0;
}
