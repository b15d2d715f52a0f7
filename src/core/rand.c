#include <errno.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "frugal/rand.h"
#include "frugal/str.h"

/* frugal is single-threaded (one loop); the DRBG state is process-wide. */
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static int ready;

int fr_rand_init(void)
{
    if (ready)
        return 0;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    static const unsigned char pers[] = "frugal";
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof(pers) - 1) != 0) {
        mbedtls_ctr_drbg_free(&drbg);
        mbedtls_entropy_free(&entropy);
        return -EIO;
    }
    ready = 1;
    return 0;
}

void fr_rand_cleanup(void)
{
    if (!ready)
        return;
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    ready = 0;
}

int fr_rand_bytes(void *out, size_t n)
{
    if (!ready && fr_rand_init() != 0)
        return -EIO;
    unsigned char *p = out;
    while (n) {
        size_t c = n > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : n;
        if (mbedtls_ctr_drbg_random(&drbg, p, c) != 0)
            return -EIO;
        p += c;
        n -= c;
    }
    return 0;
}

uint64_t fr_rand_u64(void)
{
    uint64_t v = 0;
    if (fr_rand_bytes(&v, sizeof(v)) != 0)
        v = 0;
    return v;
}

double fr_rand_unit(void)
{
    return (double)(fr_rand_u64() >> 11) * (1.0 / 9007199254740992.0);
}

int fr_rand_hex(char *out, size_t nbytes)
{
    unsigned char tmp[64];
    if (nbytes > sizeof(tmp))
        return -EINVAL;
    int rc = fr_rand_bytes(tmp, nbytes);
    if (rc)
        return rc;
    fr_hex_encode(out, tmp, nbytes);
    return 0;
}
