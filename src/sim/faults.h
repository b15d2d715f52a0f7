/* Fault injection, pure: rules per service (and optionally operation) for
 * latency, throttling (by token bucket and by probability), 5xx errors,
 * connection resets, malformed and slow bodies; AWS-like rate limits when
 * enabled; call counters. Randomness comes from a seeded generator and real
 * time is passed in, so decisions are reproducible. */
#ifndef FR_SIM_FAULTS_H
#define FR_SIM_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/retry.h"
#include "proto.h"
#include "util.h"

typedef struct fr_sim_bucket {
    char op[64];
    fr_tbucket tb;
} fr_sim_bucket;

typedef struct fr_sim_fault_rule {
    int svc;     /* -1: every service */
    char op[64]; /* "": every operation */
    double throttle_rate, error_rate, reset_rate, malformed_rate, slow_rate;
    char error_code[64];
    int error_status;
    double latency_mean_ms, latency_jitter_ms;
    bool rate_limited;
    double rl_rate, rl_burst;
    fr_sim_bucket *buckets; /* one per operation */
    size_t nbuckets;
    double slow_body_ms;
} fr_sim_fault_rule;

typedef enum { FR_SIM_FAULT_NONE, FR_SIM_FAULT_THROTTLE, FR_SIM_FAULT_ERROR, FR_SIM_FAULT_RESET } fr_sim_fault_action;

typedef struct fr_sim_fault_decision {
    fr_sim_fault_action action;
    char error_code[64];
    int error_status;
    double latency_ms;
    bool malformed;
    double slow_body_ms;
    bool rate_limited; /* the throttle came from a token bucket */
} fr_sim_fault_decision;

typedef struct fr_sim_op_count {
    char op[64];
    uint64_t count, throttled, errors, resets, malformed;
} fr_sim_op_count;

typedef struct fr_sim_faults {
    fr_sim_fault_rule *rules;
    size_t n;
    bool aws_limits;
    fr_sim_fault_rule *limits; /* the built-in AWS-like table */
    size_t nlimits;
    fr_sim_rng rng;
    fr_sim_op_count *counts[FR_SIM_SVC_COUNT];
    size_t ncounts[FR_SIM_SVC_COUNT];
    uint64_t total;
} fr_sim_faults;

void fr_sim_faults_init(fr_sim_faults *f, uint64_t seed);
void fr_sim_faults_free(fr_sim_faults *f);
void fr_sim_faults_clear(fr_sim_faults *f);
void fr_sim_faults_set_aws_limits(fr_sim_faults *f, bool on, int64_t now_ms);

/* Adds or replaces (same service and operation) a rule from its JSON form;
 * err says what is wrong. */
int fr_sim_faults_put(fr_sim_faults *f, const json_t *j, int64_t now_ms, char *err, size_t errlen);
/* Removes rules matching service/op (NULLs: all). Returns how many. */
int fr_sim_faults_remove(fr_sim_faults *f, const char *svc, const char *op);
json_t *fr_sim_faults_json(const fr_sim_faults *f);

void fr_sim_faults_decide(fr_sim_faults *f, fr_sim_svc svc, const char *op, int64_t now_ms, fr_sim_fault_decision *d);

/* Counters. */
void fr_sim_calls_count(fr_sim_faults *f, fr_sim_svc svc, const char *op, const fr_sim_fault_decision *d,
                        bool error);
json_t *fr_sim_calls_json(const fr_sim_faults *f);
void fr_sim_calls_clear(fr_sim_faults *f);

#endif
