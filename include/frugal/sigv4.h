/* AWS Signature Version 4, pure (mbedTLS SHA-256/HMAC, no clock, no I/O).
 * The same code signs frugal's requests and verifies them in frugal-sim. */
#ifndef FRUGAL_SIGV4_H
#define FRUGAL_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frugal/buf.h"
#include "frugal/crypto.h"

typedef struct fr_sigv4_header {
    const char *name;
    const char *value;
} fr_sigv4_header;

typedef struct fr_sigv4_req {
    const char *method;
    /* The path as sent on the wire (already percent-encoded once). For
     * non-S3 services the canonical URI encodes it again ("double
     * encoding"), so "%3A" in a Lambda ARN becomes "%253A". */
    const char *path;
    const char *query; /* without '?', as sent; NULL or "" for none */
    const fr_sigv4_header *headers; /* exactly the headers to sign */
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *payload_hash; /* optional precomputed hex SHA-256 */
} fr_sigv4_req;

typedef struct fr_sigv4_scope {
    const char *region;
    const char *service;
    int64_t time_ms;
    bool s3_style; /* true: no path normalisation, single encoding */
} fr_sigv4_scope;

typedef struct fr_sigv4_key_cache {
    char date[9];
    char region[32];
    char service[32];
    unsigned char secret_hash[FR_SHA256_LEN];
    unsigned char key[FR_SHA256_LEN];
    bool valid;
} fr_sigv4_key_cache;

/* Path normalisation per RFC 3986 5.2.4 plus collapsing empty segments. */
int fr_sigv4_normalize_path(const char *path, fr_buf *out);
int fr_sigv4_canonical_request(const fr_sigv4_req *r, const fr_sigv4_scope *s, fr_buf *creq, fr_buf *signed_headers);
int fr_sigv4_string_to_sign(const char *creq, size_t creq_len, const fr_sigv4_scope *s, fr_buf *sts);
/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
 * cache may be NULL; one cached key per (date, region, service, secret). */
void fr_sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                          fr_sigv4_key_cache *cache, unsigned char out[FR_SHA256_LEN]);
/* "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 *  SignedHeaders=..., Signature=..." */
int fr_sigv4_authorization(const fr_sigv4_req *r, const fr_sigv4_scope *s, const char *access_key,
                           const char *secret_key, fr_sigv4_key_cache *cache, fr_buf *authz);

/* A parsed Authorization header (for verification). */
typedef struct fr_sigv4_auth {
    char access_key[128];
    char date[9];
    char region[32];
    char service[32];
    char signed_headers[1024];
    char signature[65];
} fr_sigv4_auth;

int fr_sigv4_parse_authorization(const char *header, fr_sigv4_auth *out);

#endif
