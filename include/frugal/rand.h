/* Randomness from mbedTLS's CTR-DRBG seeded by the platform entropy source. */
#ifndef FRUGAL_RAND_H
#define FRUGAL_RAND_H

#include <stddef.h>
#include <stdint.h>

int fr_rand_init(void);
void fr_rand_cleanup(void);
int fr_rand_bytes(void *out, size_t n);
uint64_t fr_rand_u64(void);
/* Uniform in [0, 1). */
double fr_rand_unit(void);
/* Hex token of nbytes random bytes: out must hold 2*nbytes+1. */
int fr_rand_hex(char *out, size_t nbytes);

#endif
