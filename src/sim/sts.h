/* The simulated STS on the query wire: GetCallerIdentity, AssumeRole and
 * AssumeRoleWithWebIdentity (which issues credentials the sim accepts). */
#ifndef FR_SIM_STS_H
#define FR_SIM_STS_H

#include "auth.h"
#include "proto.h"

void fr_sim_sts_call(fr_sim_auth *a, const char *account, const fr_sim_cred *who, const fr_sim_call *c,
                     int64_t real_ms, fr_sim_resp *r);

#endif
