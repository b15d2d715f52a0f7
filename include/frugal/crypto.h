/* SHA-256 and HMAC-SHA-256 on mbedTLS. */
#ifndef FRUGAL_CRYPTO_H
#define FRUGAL_CRYPTO_H

#include <stddef.h>

#define FR_SHA256_LEN 32

int fr_sha256(const void *data, size_t len, unsigned char out[FR_SHA256_LEN]);
void fr_sha256_hex(const void *data, size_t len, char out[2 * FR_SHA256_LEN + 1]);
int fr_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, unsigned char out[FR_SHA256_LEN]);

#endif
