/* ch_sha1: SHA-1 (RFC 3174), only for the WebSocket handshake's Sec-WebSocket-Accept (RFC 6455 section 4.2.2),
   where it is a checksum, not a security measure; libcrypto is not among the core's dependencies. */
#ifndef CH_SHA1_H
#define CH_SHA1_H

#include <stddef.h>

void ch_sha1(const void *msg, size_t len, unsigned char out[20]);

#endif /* CH_SHA1_H */
