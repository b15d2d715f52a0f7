/* Utilisation analysis of one node type (CORE or TASK) of one cluster.
 *
 * Input: per-instance CPU (AWS/EC2 CPUUtilization) and memory (CWAgent
 * mem_used_percent) samples over the cluster's lifetime. Output: average,
 * P95 and max per metric, the sustained-peak analysis, the node-type average
 * series with its min/max spread (for charts), coverage, the sizing status
 * and the workload profile. Pure: no clock, no I/O. docs/emr-analysis.md
 * states the rules; the short version:
 *
 *  - Samples are put on a grid of period_ms slots from start_ms; slot =
 *    floor((t - start_ms) / period_ms); samples outside [start_ms, end_ms)
 *    are dropped. Several samples of one instance in one slot are averaged.
 *  - Values: NaN/inf are dropped; finite values are clamped into [0, 100]
 *    (counted in `clamped`).
 *  - avg, p95 (linear interpolation), max: over all (instance, slot) cells.
 *  - Sustained peak: the node-type average series (mean across instances per
 *    slot) is "at the peak" where it is >= p95 - sustained_pct. When it stays
 *    there for at least sustained_window (consecutive slots with data), the
 *    peak is sustained and sizing uses p95. Otherwise the peak was a spike:
 *    sizing uses the sustained P95, the P95 of each instance's rolling
 *    minimum over sustained_window (the level it held for a whole window).
 *    A run of data shorter than the window (between gaps) contributes its
 *    minimum. sizing_p95 = min(p95, that).
 *  - Status from the higher of CPU and memory: avg and sizing_p95.
 *  - No memory sample at all: CPU-only result (cpu_only, profile UNKNOWN). */
#ifndef FRUGAL_EMR_ANALYSIS_H
#define FRUGAL_EMR_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/emr_types.h"

/* A series of samples: t_ms[i] (epoch ms, any order) and v[i] (percent). */
typedef struct fr_emr_points {
    const int64_t *t_ms;
    const double *v;
    size_t n;
} fr_emr_points;

/* What the driver fills per EC2 instance of the node type. */
typedef struct fr_emr_instance_series {
    const char *instance_id; /* "i-0abc..." (for reports only) */
    fr_emr_points cpu;       /* CPUUtilization, Average statistic */
    fr_emr_points mem;       /* mem_used_percent; n = 0 when CWAgent has none */
} fr_emr_instance_series;

typedef struct fr_emr_analysis_input {
    fr_emr_node node;          /* CORE or TASK (MASTER is refused) */
    const char *instance_type; /* the type these instances ran */
    int64_t start_ms, end_ms;  /* the cluster's lifetime: creation .. end */
    int64_t period_ms;         /* grid step: emr.metric_period x 1000 */
    const fr_emr_instance_series *instances;
    size_t n_instances;
} fr_emr_analysis_input;

typedef struct fr_emr_metric_stats {
    bool present;                /* at least one valid sample */
    size_t instances_with_data;
    size_t samples;              /* (instance, slot) cells with data */
    size_t expected;             /* instances x slots */
    double coverage;             /* samples / expected, 0..1 */
    size_t merged;               /* extra samples averaged into an occupied cell */
    size_t dropped;              /* non-finite or outside the window */
    size_t clamped;              /* finite values moved into [0, 100] */
    double avg, p95, max;
    double plateau_level;        /* p95 - sustained_pct */
    int64_t longest_plateau_ms;  /* longest run of the average series >= level */
    bool peak_sustained;         /* longest_plateau_ms >= sustained_window */
    double sustained_p95;        /* P95 of per-instance rolling minima */
    double sizing_p95;           /* p95 when sustained, else min(p95, sustained_p95) */
} fr_emr_metric_stats;

/* Warning bits of an analysis. */
enum {
    FR_EMR_WARN_CPU_ONLY = 1 << 0,       /* no memory data at all */
    FR_EMR_WARN_MEM_PARTIAL = 1 << 1,    /* some instances lack memory data */
    FR_EMR_WARN_LOW_COVERAGE = 1 << 2,   /* CPU or memory coverage < 50% */
    FR_EMR_WARN_ONE_INSTANCE = 1 << 3,   /* a single instance: no spread */
    FR_EMR_WARN_CLAMPED = 1 << 4,        /* values outside [0, 100] were clamped */
    FR_EMR_WARN_DROPPED = 1 << 5,        /* NaN/inf or out-of-window samples dropped */
    FR_EMR_WARN_SPIKE_IGNORED = 1 << 6,  /* a short spike lowered the sizing P95 */
    FR_EMR_WARN_SHORT_WINDOW = 1 << 7,   /* lifetime shorter than the sustained window */
    FR_EMR_WARN_NO_CPU_INSTANCE = 1 << 8, /* some instances have no CPU data */
};

typedef struct fr_emr_analysis {
    fr_emr_node node;
    char instance_type[40];
    size_t n_instances;
    int64_t start_ms, end_ms, period_ms;
    size_t n_slots;
    fr_emr_metric_stats cpu, mem;
    bool cpu_only;
    fr_emr_status status;
    fr_emr_profile profile;
    double status_avg, status_p95; /* the higher of CPU and memory */
    bool status_from_memory;       /* memory gave the higher P95 */
    unsigned warnings;             /* FR_EMR_WARN_* */
    /* Chart series, n_slots each; NAN where no instance has data. */
    double *cpu_avg, *cpu_min, *cpu_max;
    double *mem_avg, *mem_min, *mem_max; /* NULL when cpu_only */
} fr_emr_analysis;

/* 0, or -EINVAL (bad window, MASTER, NULL), -ENODATA (no instance or no
 * valid CPU sample), FR_ELIMIT (more than 1,000,000 slots), -ENOMEM. On
 * error *out is zeroed (fr_emr_analysis_free is still safe). */
int fr_emr_analyze(const fr_emr_analysis_input *in, const fr_emr_thresholds *th, fr_emr_analysis *out);
void fr_emr_analysis_free(fr_emr_analysis *a);

/* The analysis card: {node, instance_type, instances, window, cpu:{avg,p95,
 * max,sustained_p95,sizing_p95,peak_sustained,...}, memory (null when
 * cpu_only), cpu_only, status, status_label, profile, warnings:[...]}; with
 * series: "series":{start_ms, period_ms, cpu:{avg,min,max}, memory:{...}}
 * (null entries for gaps). Numbers rounded to 2 decimals. */
json_t *fr_emr_analysis_to_json(const fr_emr_analysis *a, bool with_series);
/* Names of the warning bits ("cpu_only", ...) as a JSON array. */
json_t *fr_emr_warnings_to_json(unsigned warnings);

#endif
