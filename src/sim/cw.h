/* The simulated CloudWatch, pure: AWS/EC2 CPUUtilization and CWAgent
 * mem_used_percent (dimension InstanceId) generated at 60 s resolution
 * from each instance's profile within its lifetime, custom metrics kept
 * from PutMetricData, and GetMetricData / GetMetricStatistics on the
 * awsJson1_0 and query wires with the real limits and paging. */
#ifndef FR_SIM_CW_H
#define FR_SIM_CW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "proto.h"

#define FR_SIM_CW_MAX_QUERIES 500
#define FR_SIM_CW_MAX_DATAPOINTS 100800
#define FR_SIM_CW_STATS_MAX_POINTS 1440
#define FR_SIM_CW_CUSTOM_CAP 200000

/* What the generator needs to know about one instance. */
typedef struct fr_sim_series {
    const fr_sim_profile *prof;
    uint64_t group_seed;
    uint64_t inst_seed;
    int64_t launch_ms; /* -1: never launched */
    int64_t end_ms;    /* -1: still running */
} fr_sim_series;

typedef int (*fr_sim_series_fn)(void *arg, const char *instance_id, int64_t now, fr_sim_series *out);
/* Appends (as JSON strings) the ids of the instances alive at some time in
 * [from, now], in a stable order. */
typedef void (*fr_sim_instances_fn)(void *arg, int64_t from, int64_t now, json_t *ids);

typedef struct fr_sim_cw_point {
    int64_t ts_ms;
    double value;
    uint32_t key; /* index into keys */
} fr_sim_cw_point;

typedef struct fr_sim_cw {
    fr_sim_series_fn lookup;
    fr_sim_instances_fn instances;
    void *lookup_arg;
    const fr_sim_traces *traces;
    int64_t t0_ms;
    /* custom metrics: "namespace\x1fname\x1fdim=value\x1f..." keys */
    char **keys;
    size_t nkeys, capkeys;
    fr_sim_cw_point *points; /* ring */
    size_t npoints, head;
} fr_sim_cw;

void fr_sim_cw_init(fr_sim_cw *cw, fr_sim_series_fn lookup, void *arg, const fr_sim_traces *traces, int64_t t0_ms);
void fr_sim_cw_free(fr_sim_cw *cw);

/* The 1-minute value of a generated metric at minute-aligned ts, or NAN
 * outside the instance's life or in the future. */
double fr_sim_cw_minute(const fr_sim_cw *cw, const fr_sim_series *s, fr_sim_metric m, int64_t ts_ms, int64_t now);
/* Which generated metric a namespace/name pair is; -1 for none. */
int fr_sim_cw_metric_kind(const char *ns, const char *name);

void fr_sim_cw_call(fr_sim_cw *cw, const fr_sim_call *c, int64_t now, fr_sim_resp *r);

#endif
