#include <errno.h>

#include <mbedtls/md.h>

#include "frugal/crypto.h"
#include "frugal/str.h"

int fr_sha256(const void *data, size_t len, unsigned char out[FR_SHA256_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return mbedtls_md(md, data, len, out) == 0 ? 0 : -EIO;
}

void fr_sha256_hex(const void *data, size_t len, char out[2 * FR_SHA256_LEN + 1])
{
    unsigned char d[FR_SHA256_LEN];
    fr_sha256(data, len, d);
    fr_hex_encode(out, d, FR_SHA256_LEN);
}

int fr_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, unsigned char out[FR_SHA256_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return mbedtls_md_hmac(md, key, klen, data, len, out) == 0 ? 0 : -EIO;
}
