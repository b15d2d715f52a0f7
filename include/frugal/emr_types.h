/* Small shared vocabulary of the EMR agent: node types, sizing status,
 * workload profile, markets, the thresholds taken from fr_config, and the
 * spot-price lookup the caller provides. */
#ifndef FRUGAL_EMR_TYPES_H
#define FRUGAL_EMR_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "frugal/config.h"

typedef enum {
    FR_EMR_NODE_MASTER = 0, /* never changed, only priced */
    FR_EMR_NODE_CORE,
    FR_EMR_NODE_TASK,
    FR_EMR_NODE__COUNT
} fr_emr_node;

typedef enum {
    FR_EMR_STATUS_HEAVILY_OVERSIZED = 0, /* two sizes down */
    FR_EMR_STATUS_MODERATELY_OVERSIZED,  /* one size down */
    FR_EMR_STATUS_RIGHT_SIZED,           /* no change */
    FR_EMR_STATUS_UNDERSIZED,            /* consider upsizing */
} fr_emr_status;

typedef enum {
    FR_EMR_PROFILE_BALANCED = 0,
    FR_EMR_PROFILE_CPU_HEAVY,
    FR_EMR_PROFILE_MEMORY_HEAVY,
    FR_EMR_PROFILE_UNKNOWN, /* CPU-only analysis: no memory data */
} fr_emr_profile;

typedef enum { FR_EMR_MARKET_ON_DEMAND = 0, FR_EMR_MARKET_SPOT } fr_emr_market;

/* The [emr] thresholds of fr_config, as plain numbers (percent points). */
typedef struct fr_emr_thresholds {
    double heavy_avg, heavy_p95;
    double moderate_avg, moderate_p95;
    double right_avg, right_p95;
    double headroom;      /* 1.2 */
    double profile_ratio; /* 1.5 */
    double sustained_pct; /* 10 points below P95 */
    int64_t sustained_window_ms; /* 5 min */
} fr_emr_thresholds;

void fr_emr_thresholds_default(fr_emr_thresholds *th);
void fr_emr_thresholds_from_config(fr_emr_thresholds *th, const fr_config *c);

/* Recent average spot price of a type ($/h) in the cluster's region/AZs.
 * Returns true and sets *usd when known; false makes the caller fall back to
 * the catalog's estimate (on-demand x (1 - spot_savings_pct)). */
typedef bool (*fr_emr_spot_fn)(void *arg, const char *instance_type, double *usd);

const char *fr_emr_node_name(fr_emr_node n);     /* "MASTER" "CORE" "TASK" */
int fr_emr_node_parse(const char *s, fr_emr_node *out);
const char *fr_emr_status_name(fr_emr_status s); /* "HEAVILY_OVERSIZED" ... */
const char *fr_emr_status_label(fr_emr_status s); /* "Heavily Oversized" ... */
const char *fr_emr_profile_name(fr_emr_profile p); /* "cpu_heavy" ... */
const char *fr_emr_market_name(fr_emr_market m);  /* "ON_DEMAND" / "SPOT" */

/* Sizing status from the higher of CPU and memory (avg, P95), per the seed:
 * heavily oversized when avg < heavy_avg and p95 < heavy_p95, moderately when
 * < moderate_*, right-sized when < right_*, undersized otherwise. */
fr_emr_status fr_emr_classify(double avg, double p95, const fr_emr_thresholds *th);
/* Size steps the status suggests: -2, -1, 0, +1. */
int fr_emr_status_steps(fr_emr_status s);
/* CPU-heavy when cpu > ratio x mem, memory-heavy when mem > ratio x cpu,
 * else balanced; both under 1 point: balanced; !has_mem: unknown. */
fr_emr_profile fr_emr_profile_of(double cpu, double mem, bool has_mem, double ratio);

#endif
