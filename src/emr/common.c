/* Shared vocabulary of the EMR agent and small pure helpers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/emr_types.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr/internal.h"

void fr_emr_thresholds_default(fr_emr_thresholds *th)
{
    th->heavy_avg = 25;
    th->heavy_p95 = 35;
    th->moderate_avg = 50;
    th->moderate_p95 = 60;
    th->right_avg = 70;
    th->right_p95 = 80;
    th->headroom = 1.2;
    th->profile_ratio = 1.5;
    th->sustained_pct = 10;
    th->sustained_window_ms = 5 * 60000;
}

void fr_emr_thresholds_from_config(fr_emr_thresholds *th, const fr_config *c)
{
    th->heavy_avg = c->emr_heavy_avg;
    th->heavy_p95 = c->emr_heavy_p95;
    th->moderate_avg = c->emr_moderate_avg;
    th->moderate_p95 = c->emr_moderate_p95;
    th->right_avg = c->emr_right_avg;
    th->right_p95 = c->emr_right_p95;
    th->headroom = c->emr_headroom;
    th->profile_ratio = c->emr_profile_ratio;
    th->sustained_pct = c->emr_sustained_pct;
    th->sustained_window_ms = (int64_t)c->emr_sustained_window_ms;
}

const char *fr_emr_node_name(fr_emr_node n)
{
    static const char *const names[] = {"MASTER", "CORE", "TASK"};
    return (unsigned)n < FR_EMR_NODE__COUNT ? names[n] : "UNKNOWN";
}

int fr_emr_node_parse(const char *s, fr_emr_node *out)
{
    for (int i = 0; i < FR_EMR_NODE__COUNT; i++)
        if (s && strcmp(s, fr_emr_node_name((fr_emr_node)i)) == 0) {
            *out = (fr_emr_node)i;
            return 0;
        }
    return FR_EPARSE;
}

const char *fr_emr_status_name(fr_emr_status s)
{
    static const char *const names[] = {"HEAVILY_OVERSIZED", "MODERATELY_OVERSIZED", "RIGHT_SIZED", "UNDERSIZED"};
    return (unsigned)s < FR_ARRAY_SIZE(names) ? names[s] : "UNKNOWN";
}

const char *fr_emr_status_label(fr_emr_status s)
{
    static const char *const names[] = {"Heavily Oversized", "Moderately Oversized", "Right-Sized", "Undersized"};
    return (unsigned)s < FR_ARRAY_SIZE(names) ? names[s] : "Unknown";
}

const char *fr_emr_profile_name(fr_emr_profile p)
{
    static const char *const names[] = {"balanced", "cpu_heavy", "memory_heavy", "unknown"};
    return (unsigned)p < FR_ARRAY_SIZE(names) ? names[p] : "unknown";
}

const char *fr_emr_market_name(fr_emr_market m)
{
    return m == FR_EMR_MARKET_SPOT ? "SPOT" : "ON_DEMAND";
}

fr_emr_status fr_emr_classify(double avg, double p95, const fr_emr_thresholds *th)
{
    if (avg < th->heavy_avg && p95 < th->heavy_p95)
        return FR_EMR_STATUS_HEAVILY_OVERSIZED;
    if (avg < th->moderate_avg && p95 < th->moderate_p95)
        return FR_EMR_STATUS_MODERATELY_OVERSIZED;
    if (avg < th->right_avg && p95 < th->right_p95)
        return FR_EMR_STATUS_RIGHT_SIZED;
    return FR_EMR_STATUS_UNDERSIZED;
}

int fr_emr_status_steps(fr_emr_status s)
{
    switch (s) {
    case FR_EMR_STATUS_HEAVILY_OVERSIZED:
        return -2;
    case FR_EMR_STATUS_MODERATELY_OVERSIZED:
        return -1;
    case FR_EMR_STATUS_RIGHT_SIZED:
        return 0;
    case FR_EMR_STATUS_UNDERSIZED:
        return 1;
    }
    return 0;
}

fr_emr_profile fr_emr_profile_of(double cpu, double mem, bool has_mem, double ratio)
{
    if (!has_mem)
        return FR_EMR_PROFILE_UNKNOWN;
    if (cpu < 1 && mem < 1)
        return FR_EMR_PROFILE_BALANCED;
    if (cpu > ratio * mem)
        return FR_EMR_PROFILE_CPU_HEAVY;
    if (mem > ratio * cpu)
        return FR_EMR_PROFILE_MEMORY_HEAVY;
    return FR_EMR_PROFILE_BALANCED;
}

/* ---- internal helpers ---- */

json_t *fr_emr_json_num(double v, int digits)
{
    if (!isfinite(v))
        return json_null();
    double m = pow(10.0, digits);
    double r = round(v * m) / m;
    if (r == 0)
        r = 0; /* no "-0.0" */
    return json_real(r);
}

double fr_emr_percentile_sorted(const double *a, size_t n, double p)
{
    if (n == 0)
        return NAN;
    if (n == 1)
        return a[0];
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1)
        return a[n - 1];
    double frac = pos - (double)lo;
    return a[lo] + (a[lo + 1] - a[lo]) * frac;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b ? 1 : 0;
}

double fr_emr_percentile(double *a, size_t n, double p)
{
    qsort(a, n, sizeof(double), cmp_double);
    return fr_emr_percentile_sorted(a, n, p);
}
