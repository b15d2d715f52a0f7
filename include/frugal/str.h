#ifndef FRUGAL_STR_H
#define FRUGAL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frugal/buf.h"

#define FR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FR_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define FR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FR_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Copies at most size-1 bytes, always terminates; returns strlen(src). */
size_t fr_strlcpy(char *dst, const char *src, size_t size);
char *fr_strdup(const char *s);
char *fr_strndup(const char *s, size_t n);
bool fr_str_startswith(const char *s, const char *prefix);
bool fr_str_endswith(const char *s, const char *suffix);
bool fr_str_ieq(const char *a, const char *b);
bool fr_mem_ieq(const char *a, size_t alen, const char *b);
/* Trims ASCII whitespace in place; returns s. */
char *fr_str_trim(char *s);
void fr_str_lower(char *s);

/* Strict number parsing: whole string, no overflow, no trailing junk. */
int fr_parse_i64(const char *s, int64_t *out);
int fr_parse_u64(const char *s, uint64_t *out);
int fr_parse_double(const char *s, double *out);
int fr_parse_bool(const char *s, bool *out);
/* "250ms", "30s", "5m", "2h", "1d"; a bare number is seconds. */
int fr_parse_duration_ms(const char *s, uint64_t *out_ms);
/* "512", "64k", "4M", "1G" (binary units). */
int fr_parse_size(const char *s, uint64_t *out);

/* RFC 3986 unreserved set kept; everything else %XX (upper case). */
int fr_uri_encode(fr_buf *out, const char *s, size_t n, bool keep_slash);
/* Decodes %XX (and '+' as space when plus_space); FR_EPARSE on bad escapes. */
int fr_uri_decode(fr_buf *out, const char *s, size_t n, bool plus_space);

void fr_hex_encode(char *out, const unsigned char *in, size_t n);
int fr_base64_encode(fr_buf *out, const unsigned char *in, size_t n);
int fr_base64_decode(fr_buf *out, const char *in, size_t n);

/* Constant-time comparison for secrets. */
bool fr_secure_eq(const char *a, size_t alen, const char *b, size_t blen);

/* Splits "host:port" / "[v6]:port"; host written to host (size hsz). */
int fr_parse_hostport(const char *s, char *host, size_t hsz, int *port);

/* Compute FNV-1a 64 of a byte string (hashing, not security). */
uint64_t fr_hash64(const void *p, size_t n);

#endif
