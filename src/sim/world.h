/* The world: the account's history as a JSON document, pure. Generated from
 * a seed (clusters over the last 24 h with their Parameter Store configs,
 * steps with work, per-node-type utilisation profiles and the sizing class
 * each is meant to show, EC2 instances for the spot optimizer) or read from
 * a file with the same schema. Times are offsets in seconds from the world
 * anchor (the sim's start, floored to the minute), so the same seed gives
 * the same document whenever it runs. */
#ifndef FR_SIM_WORLD_H
#define FR_SIM_WORLD_H

#include <stdint.h>

#include <jansson.h>

#include "catalog.h"
#include "profile.h"

#define FR_SIM_WORLD_VERSION 1
#define FR_SIM_PARAM_PREFIX "/application/ecdp-config/prod/EMR-BASE/"
#define FR_SIM_LAMBDA_NAME "app-job-submit-lambda-prod"

typedef struct fr_sim_world_opts {
    uint64_t seed;
    int clusters;
    int ec2_instances;
    const char *region;
    const fr_sim_catalog *cat;
    const fr_sim_traces *traces; /* may be NULL */
} fr_sim_world_opts;

int fr_sim_world_generate(const fr_sim_world_opts *o, json_t **out);

/* Checks a world document (hand-written or generated) and fills defaults:
 * ids, parameters for clusters that have none. err explains a rejection. */
int fr_sim_world_normalize(json_t *w, const fr_sim_world_opts *o, char *err, size_t errlen);

/* Sizing status from seed 000's table, using the higher of CPU and memory:
 * HEAVILY_OVERSIZED, MODERATELY_OVERSIZED, RIGHT_SIZED, UNDERSIZED. */
const char *fr_sim_sizing_status(double avg, double p95);
/* CPU_HEAVY, MEMORY_HEAVY or BALANCED from average CPU and memory. */
const char *fr_sim_workload(double cpu_avg, double mem_avg);

#endif
