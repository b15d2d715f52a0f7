/* Request authentication, pure: the SigV4 signature of a request is
 * recomputed with fr_sigv4 over exactly the headers it names, the wire path
 * and query and the body, with the secret of its access key (the
 * configured pair, or temporary credentials the sim issued through IMDS or
 * STS). Real time is passed in. */
#ifndef FR_SIM_AUTH_H
#define FR_SIM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frugal/sigv4.h"

typedef struct fr_sim_cred {
    char akid[64];
    char secret[128];
    char token[1024]; /* "" for long-term keys */
    int64_t expires_ms; /* real time; 0: never */
    char arn[256];
    fr_sigv4_key_cache cache; /* the day's signing key, per scope */
} fr_sim_cred;

typedef struct fr_sim_auth {
    fr_sim_cred *creds;
    size_t n, cap;
    uint64_t counter;
    uint64_t seed;
} fr_sim_auth;

/* The raw request as received (header names lower case). */
typedef struct fr_sim_raw_req {
    const char *method;
    const char *path; /* with the query, as sent */
    size_t path_len;
    const char *host;
    const fr_sigv4_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
} fr_sim_raw_req;

typedef enum {
    FR_SIM_AUTH_OK,
    FR_SIM_AUTH_MISSING,
    FR_SIM_AUTH_MALFORMED,
    FR_SIM_AUTH_UNKNOWN_KEY,
    FR_SIM_AUTH_BAD_TOKEN,
    FR_SIM_AUTH_EXPIRED,
    FR_SIM_AUTH_BAD_SIGNATURE,
    FR_SIM_AUTH_SKEWED,
} fr_sim_auth_result;

void fr_sim_auth_init(fr_sim_auth *a, uint64_t seed);
void fr_sim_auth_free(fr_sim_auth *a);
int fr_sim_auth_add(fr_sim_auth *a, const char *akid, const char *secret, const char *token, int64_t expires_ms,
                    const char *arn);
/* Issues temporary credentials (ASIA...) valid for ttl_ms of real time. */
const fr_sim_cred *fr_sim_auth_issue(fr_sim_auth *a, int64_t now_ms, int64_t ttl_ms, const char *arn);
const fr_sim_cred *fr_sim_auth_find(const fr_sim_auth *a, const char *akid);

/* Values of a header (all occurrences joined with ","); NULL if absent.
 * Returned string is malloc'd. */
char *fr_sim_raw_header(const fr_sim_raw_req *r, const char *lname);

/* Not const: a credential's signing-key cache is updated. */
fr_sim_auth_result fr_sim_auth_verify(fr_sim_auth *a, const fr_sim_raw_req *r, int64_t now_ms,
                                      fr_sigv4_auth *parsed, const fr_sim_cred **who);
const char *fr_sim_auth_result_name(fr_sim_auth_result res);

#endif
