/* The simulated Parameter Store, pure: parameters with versions (at most
 * 100 kept), tiers with their value limits, and the awsJson1_1 API. */
#ifndef FR_SIM_SSM_H
#define FR_SIM_SSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

#define FR_SIM_SSM_MAX_VERSIONS 100
#define FR_SIM_SSM_STANDARD_MAX 4096
#define FR_SIM_SSM_ADVANCED_MAX 8192

typedef struct fr_sim_param_ver {
    int64_t version;
    char *value;
    char type[16];
    char tier[16];
    char *description;
    int64_t modified_ms;
    char user[128];
} fr_sim_param_ver;

typedef struct fr_sim_param {
    char *name;
    fr_sim_param_ver *vers; /* oldest first */
    size_t n, cap;
    int64_t next_version;
} fr_sim_param;

typedef struct fr_sim_ssm {
    fr_sim_param **params;
    size_t n, cap;
    fr_sim_map by_name;
    char region[32];
    char account[16];
} fr_sim_ssm;

void fr_sim_ssm_init(fr_sim_ssm *s, const char *region, const char *account);
void fr_sim_ssm_free(fr_sim_ssm *s);

/* Put with the API's rules. On error returns FR_EPARSE and fills code and
 * msg with the SSM error (ValidationException, ParameterAlreadyExists,
 * ...). tier may be NULL (keep / Standard). */
int fr_sim_ssm_put(fr_sim_ssm *s, const char *name, const char *value, const char *type, const char *tier,
                   bool overwrite, const char *description, const char *user, int64_t now, int64_t *version,
                   char *code, size_t codelen, char *msg, size_t msglen);
fr_sim_param *fr_sim_ssm_find(const fr_sim_ssm *s, const char *name);
const fr_sim_param_ver *fr_sim_ssm_latest(const fr_sim_param *p);
const fr_sim_param_ver *fr_sim_ssm_version(const fr_sim_param *p, int64_t version);

void fr_sim_ssm_call(fr_sim_ssm *s, const fr_sim_call *c, int64_t now, fr_sim_resp *r);

#endif
