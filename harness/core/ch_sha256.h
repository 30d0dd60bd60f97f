/* ch_sha256: SHA-256 (FIPS 180-4) through OpenSSL's libcrypto, for fingerprints a reader may check with sha256sum
   (the scenario.json a report was run from). */
#ifndef CH_SHA256_H
#define CH_SHA256_H

#include <stddef.h>

#define CH_SHA256_HEX_LEN 64

/* Writes the digest of msg as 64 lowercase hex digits and a NUL into hex. @return 0 or -EIO (libcrypto failed). */
int ch_sha256_hex(const void *msg, size_t len, char hex[CH_SHA256_HEX_LEN + 1]);

#endif /* CH_SHA256_H */
