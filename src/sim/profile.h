/* Utilisation profiles and the metric generator, pure. A profile is a shape
 * (steady, diurnal, spiky, ramp, saturated, or a real trace) scaled to a
 * CPU level and a memory level. Values are generated on the fly from
 * (seed of the node group, seed of the instance, minute), never stored, so
 * the same world gives the same numbers in every run. */
#ifndef FR_SIM_PROFILE_H
#define FR_SIM_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum {
    FR_SIM_SHAPE_STEADY,
    FR_SIM_SHAPE_DIURNAL,
    FR_SIM_SHAPE_SPIKY,
    FR_SIM_SHAPE_RAMP,
    FR_SIM_SHAPE_SATURATED,
    FR_SIM_SHAPE_TRACE,
    FR_SIM_SHAPE_COUNT
} fr_sim_shape;

typedef enum { FR_SIM_METRIC_CPU = 0, FR_SIM_METRIC_MEM = 1 } fr_sim_metric;

typedef struct fr_sim_profile {
    fr_sim_shape shape;
    double cpu;      /* mean level, percent */
    double mem;      /* mean level, percent */
    double cpu_amp;  /* variation, percentage points */
    double mem_amp;
    double spike_height;  /* spiky: CPU level during a spike */
    int spike_every_min;  /* spiky: one spike per window of this many minutes */
    int spike_len_min;
    char trace[48];       /* shape "trace": the trace's name */
    char klass[24];       /* intended sizing class (world generator) */
} fr_sim_profile;

typedef struct fr_sim_trace {
    char name[48];
    float *cpu; /* 5-minute points, percent */
    float *mem; /* NULL when the trace has no memory */
    size_t n;
    double cpu_mean, mem_mean;
    double cpu_sd, mem_sd;
} fr_sim_trace;

typedef struct fr_sim_traces {
    fr_sim_trace *t;
    size_t n;
} fr_sim_traces;

const char *fr_sim_shape_name(fr_sim_shape s);
int fr_sim_shape_parse(const char *s, fr_sim_shape *out);

/* Instance lifetime in minutes relative to the world anchor; end < 0 while
 * running (ramps then assume four hours). */
typedef struct fr_sim_life {
    int64_t start_min;
    int64_t end_min;
} fr_sim_life;

/* The value at a minute (relative to the world anchor), rounded to 4
 * decimal places, in [0, 100]. */
double fr_sim_profile_value(const fr_sim_profile *p, const fr_sim_traces *tr, uint64_t group_seed,
                            uint64_t inst_seed, fr_sim_metric metric, int64_t minute, const fr_sim_life *life);

json_t *fr_sim_profile_to_json(const fr_sim_profile *p);
int fr_sim_profile_from_json(const json_t *j, fr_sim_profile *p);

/* Loads the real traces from DIR (the utilization/ folder): the NAB
 * CloudWatch CPU series nab_cloudwatch/ec2_cpu_utilization_*.csv
 * (timestamp,value) and the Bitbrains VM trace
 * bitbrains/rnd_2013-07_8vms.csv (CPU and memory). Either part may be
 * absent; other files (other metrics, licences, READMEs) are not traces and
 * are not read. DIR that cannot be opened, no traces at all, or a trace
 * file that cannot be read or is malformed: an error, err says which file
 * (and line), and nothing is added. */
int fr_sim_traces_load_dir(fr_sim_traces *tr, const char *dir, char *err, size_t errlen);
/* Parsers (pure, for tests): append traces from file contents; FR_EPARSE
 * with why ("line N: ..." where there is a line) adds nothing. */
int fr_sim_traces_parse_nab(fr_sim_traces *tr, const char *name, const char *text, size_t len, char *why,
                            size_t whylen);
int fr_sim_traces_parse_bitbrains(fr_sim_traces *tr, const char *text, size_t len, char *why, size_t whylen);
const fr_sim_trace *fr_sim_traces_find(const fr_sim_traces *tr, const char *name);
void fr_sim_traces_free(fr_sim_traces *tr);

/* Summary statistics of a series: mean, nearest-rank p95, max. */
typedef struct fr_sim_stats {
    double avg, p95, max, min;
    size_t n;
} fr_sim_stats;

/* Sorts vals in place. */
void fr_sim_stats_of(double *vals, size_t n, fr_sim_stats *out);
/* Nearest-rank percentile of sorted values, p in (0, 100]. */
double fr_sim_percentile_sorted(const double *sorted, size_t n, double p);

#endif
