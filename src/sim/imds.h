/* The instance metadata service (IMDSv2) of one simulated instance, pure:
 * session tokens, identity, placement, spot/instance-action and the
 * rebalance recommendation after an interruption, and role credentials the
 * sim accepts, expiring a short (real) time ahead. */
#ifndef FR_SIM_IMDS_H
#define FR_SIM_IMDS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "ec2.h"
#include "proto.h"

#define FR_SIM_IMDS_CRED_TTL_MS (30 * 60 * 1000)

typedef struct fr_sim_imds_token {
    char tok[64];
    int64_t expires_ms;
} fr_sim_imds_token;

typedef struct fr_sim_imds {
    char instance_id[32];
    char role[64];
    fr_sim_imds_token *tokens;
    size_t ntokens, cap;
    char cred_akid[64];
    int64_t cred_issued_ms;
    fr_sim_auth *auth;
    fr_sim_ec2 *ec2;
    char region[32];
    char account[16];
    uint64_t seed, counter;
    bool allow_v1;
} fr_sim_imds;

void fr_sim_imds_init(fr_sim_imds *m, fr_sim_auth *auth, fr_sim_ec2 *ec2, const char *region, const char *account,
                      uint64_t seed);
void fr_sim_imds_free(fr_sim_imds *m);
/* real_ms for tokens and credentials, sim_ms for instance events. */
void fr_sim_imds_handle(fr_sim_imds *m, const char *method, const char *path, const fr_sim_raw_req *raw,
                        int64_t real_ms, int64_t sim_ms, fr_sim_resp *r);

#endif
