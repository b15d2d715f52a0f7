/* API authentication, pure: the bearer token, and stateless dashboard
 * sessions. A session cookie is "v1.SID.EXPIRY.MAC" where MAC is an
 * HMAC-SHA-256 under a key derived from the state directory's session
 * secret AND the API token, so rotating the token logs every browser out.
 * The CSRF token of a session is another HMAC of its id. */
#ifndef FRUGAL_AUTH_H
#define FRUGAL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frugal/crypto.h"

#define FR_SESSION_COOKIE "frugal_session"
#define FR_SID_HEX 16
#define FR_CSRF_HEX 32

typedef struct fr_auth {
    char *token;
    unsigned char key[FR_SHA256_LEN];
    uint64_t ttl_ms;
} fr_auth;

int fr_auth_init(fr_auth *a, const char *api_token, const unsigned char *secret, size_t slen, uint64_t ttl_ms);
void fr_auth_free(fr_auth *a);
bool fr_auth_check_bearer(const fr_auth *a, const char *authorization_header);
/* sid_rand: 8 random bytes. cookie must hold 128 bytes (a cookie is 98 characters). */
int fr_auth_session_new(const fr_auth *a, int64_t now_ms, const unsigned char sid_rand[8], char *cookie,
                        size_t n);
/* 0 and the session id, or FR_EDENIED (bad MAC, malformed, expired). */
int fr_auth_session_verify(const fr_auth *a, const char *cookie, int64_t now_ms, char sid[FR_SID_HEX + 1]);
void fr_auth_csrf(const fr_auth *a, const char *sid, char out[FR_CSRF_HEX + 1]);
/* Finds NAME=value in a Cookie header; copies value into out. */
int fr_cookie_get(const char *cookie_header, const char *name, char *out, size_t n);

#endif
