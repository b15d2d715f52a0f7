/* The simulated Lambda, pure: Invoke on the restJson1 wire for the
 * cluster-submit function of seed 000 (docs/emr-config.md). It reads the
 * cluster's parameter when it runs -- at Invoke, or `delay` simulated
 * seconds later when requests are queued -- and creates the cluster with
 * RunJobFlow semantics. Every invocation is recorded. */
#ifndef FR_SIM_LAMBDA_H
#define FR_SIM_LAMBDA_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "emr.h"
#include "proto.h"
#include "ssm.h"

typedef struct fr_sim_invocation {
    char request_id[40];
    int64_t time_ms;
    char invocation_type[32];
    json_t *payload;  /* as sent (JSON) */
    char status[16];  /* queued, succeeded, failed */
    int64_t due_ms;   /* when the parameter is read */
    int64_t read_ms;
    int64_t param_version;
    char cluster_name[256];
    char cluster_id[24];
    json_t *result;   /* the function's answer or error payload */
} fr_sim_invocation;

typedef struct fr_sim_lambda {
    fr_sim_invocation *inv;
    size_t n, cap;
    double delay_s;
    bool include_cluster_id;
    char *answer; /* when set, Invoke answers these bytes after the function ran (tests of malformed answers) */
    fr_sim_ssm *ssm;
    fr_sim_emr *emr;
    char region[32];
    char account[16];
    char function[128];
    char prefix[256];
    uint64_t counter;
    uint64_t seed;
} fr_sim_lambda;

void fr_sim_lambda_init(fr_sim_lambda *l, fr_sim_ssm *ssm, fr_sim_emr *emr, const char *region, const char *account,
                        uint64_t seed);
void fr_sim_lambda_free(fr_sim_lambda *l);
/* Forgets the recorded invocations (control API reset). */
void fr_sim_lambda_clear(fr_sim_lambda *l);

void fr_sim_lambda_call(fr_sim_lambda *l, const fr_sim_call *c, int64_t now, fr_sim_resp *r);
/* Runs queued invocations that are due; returns the sim time of the next
 * one, or -1 when none is queued. */
int64_t fr_sim_lambda_tick(fr_sim_lambda *l, int64_t now);
json_t *fr_sim_lambda_invocations_json(const fr_sim_lambda *l);

#endif
