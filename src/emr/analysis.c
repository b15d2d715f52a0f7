/* Utilisation analysis of one node type: grid, statistics, sustained-peak
 * rule, sizing status and workload profile (rules in emr_analysis.h and
 * docs/emr-analysis.md). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/emr_analysis.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr/internal.h"

#define MAX_SLOTS 1000000u

enum { M_CPU, M_MEM };

/* Per-instance cell values of one metric: cells[k * n_slots + s], NAN if none. */
static int fill_cells(const fr_emr_analysis_input *in, int metric, size_t n_slots, double *cells,
                      fr_emr_metric_stats *st)
{
    uint32_t *cnt = calloc(n_slots, sizeof(*cnt));
    if (!cnt)
        return -ENOMEM;
    for (size_t k = 0; k < in->n_instances; k++) {
        const fr_emr_points *p = metric == M_CPU ? &in->instances[k].cpu : &in->instances[k].mem;
        double *row = cells + k * n_slots;
        memset(cnt, 0, n_slots * sizeof(*cnt));
        bool any = false;
        for (size_t i = 0; i < p->n; i++) {
            double v = p->v[i];
            int64_t t = p->t_ms[i];
            if (!isfinite(v) || t < in->start_ms || t >= in->end_ms) {
                st->dropped++;
                continue;
            }
            if (v < 0 || v > 100) {
                v = v < 0 ? 0 : 100;
                st->clamped++;
            }
            size_t s = (size_t)((t - in->start_ms) / in->period_ms);
            if (cnt[s] == 0)
                row[s] = v;
            else {
                row[s] += v;
                st->merged++;
            }
            cnt[s]++;
            any = true;
        }
        for (size_t s = 0; s < n_slots; s++)
            if (cnt[s] > 1)
                row[s] /= cnt[s];
        if (any)
            st->instances_with_data++;
    }
    free(cnt);
    return 0;
}

/* P95 of each instance's rolling minimum over w slots (runs shorter than w
 * contribute their minimum). */
static int rolling_min_p95(const double *cells, size_t n_inst, size_t n_slots, size_t w, double *out)
{
    double *vals = malloc((n_inst * n_slots + 1) * sizeof(double));
    if (!vals)
        return -ENOMEM;
    size_t nv = 0;
    for (size_t k = 0; k < n_inst; k++) {
        const double *row = cells + k * n_slots;
        size_t s = 0;
        while (s < n_slots) {
            if (isnan(row[s])) {
                s++;
                continue;
            }
            size_t a = s;
            while (s < n_slots && !isnan(row[s]))
                s++;
            size_t len = s - a; /* run [a, s) */
            if (len < w) {
                double m = row[a];
                for (size_t i = a + 1; i < s; i++)
                    m = FR_MIN(m, row[i]);
                vals[nv++] = m;
                continue;
            }
            for (size_t i = a; i + w <= s; i++) {
                double m = row[i];
                for (size_t j = i + 1; j < i + w; j++)
                    m = FR_MIN(m, row[j]);
                vals[nv++] = m;
            }
        }
    }
    *out = nv ? fr_emr_percentile(vals, nv, 0.95) : NAN;
    free(vals);
    return 0;
}

static int analyze_metric(const fr_emr_analysis_input *in, int metric, size_t n_slots, const fr_emr_thresholds *th,
                          fr_emr_metric_stats *st, double *s_avg, double *s_min, double *s_max)
{
    size_t n_inst = in->n_instances;
    size_t ncell = n_inst * n_slots;
    double *cells = malloc(ncell * sizeof(double));
    double *pool = malloc(ncell * sizeof(double));
    int rc = 0;
    if (!cells || !pool) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ncell; i++)
        cells[i] = NAN;
    rc = fill_cells(in, metric, n_slots, cells, st);
    if (rc)
        goto out;

    size_t np = 0;
    double sum = 0, mx = 0;
    for (size_t i = 0; i < ncell; i++)
        if (!isnan(cells[i])) {
            pool[np++] = cells[i];
            sum += cells[i];
            mx = FR_MAX(mx, cells[i]);
        }
    st->samples = np;
    st->expected = ncell;
    st->coverage = ncell ? (double)np / (double)ncell : 0;
    st->present = np > 0;
    if (!st->present) {
        st->avg = st->p95 = st->max = st->sustained_p95 = st->sizing_p95 = st->plateau_level = NAN;
        for (size_t s = 0; s < n_slots; s++)
            s_avg[s] = s_min[s] = s_max[s] = NAN;
        goto out;
    }
    st->avg = sum / (double)np;
    st->max = mx;
    st->p95 = fr_emr_percentile(pool, np, 0.95);

    /* node-type series: mean, min, max across instances per slot */
    for (size_t s = 0; s < n_slots; s++) {
        double a = 0, lo = INFINITY, hi = -INFINITY;
        size_t c = 0;
        for (size_t k = 0; k < n_inst; k++) {
            double v = cells[k * n_slots + s];
            if (isnan(v))
                continue;
            a += v;
            lo = FR_MIN(lo, v);
            hi = FR_MAX(hi, v);
            c++;
        }
        s_avg[s] = c ? a / (double)c : NAN;
        s_min[s] = c ? lo : NAN;
        s_max[s] = c ? hi : NAN;
    }

    /* sustained-peak rule */
    st->plateau_level = st->p95 - th->sustained_pct;
    size_t run = 0, best = 0;
    for (size_t s = 0; s < n_slots; s++) {
        if (!isnan(s_avg[s]) && s_avg[s] >= st->plateau_level) {
            run++;
            best = FR_MAX(best, run);
        } else {
            run = 0;
        }
    }
    st->longest_plateau_ms = (int64_t)best * in->period_ms;
    int64_t win = th->sustained_window_ms > 0 ? th->sustained_window_ms : in->period_ms;
    size_t w = (size_t)((win + in->period_ms - 1) / in->period_ms);
    if (w < 1)
        w = 1;
    st->peak_sustained = st->longest_plateau_ms >= win;
    rc = rolling_min_p95(cells, n_inst, n_slots, w, &st->sustained_p95);
    if (rc)
        goto out;
    if (st->peak_sustained || isnan(st->sustained_p95))
        st->sizing_p95 = st->p95;
    else
        st->sizing_p95 = FR_MIN(st->p95, st->sustained_p95);
out:
    free(cells);
    free(pool);
    return rc;
}

int fr_emr_analyze(const fr_emr_analysis_input *in, const fr_emr_thresholds *th, fr_emr_analysis *out)
{
    memset(out, 0, sizeof(*out));
    if (!in || !th || in->period_ms <= 0 || in->end_ms <= in->start_ms || in->node == FR_EMR_NODE_MASTER ||
        (unsigned)in->node >= FR_EMR_NODE__COUNT)
        return -EINVAL;
    if (in->n_instances == 0 || !in->instances)
        return -ENODATA;
    int64_t span = in->end_ms - in->start_ms;
    uint64_t slots = (uint64_t)((span + in->period_ms - 1) / in->period_ms);
    if (slots > MAX_SLOTS || in->n_instances > MAX_SLOTS / slots)
        return FR_ELIMIT;
    size_t n_slots = (size_t)slots;

    out->node = in->node;
    fr_strlcpy(out->instance_type, in->instance_type ? in->instance_type : "", sizeof(out->instance_type));
    out->n_instances = in->n_instances;
    out->start_ms = in->start_ms;
    out->end_ms = in->end_ms;
    out->period_ms = in->period_ms;
    out->n_slots = n_slots;
    int rc = -ENOMEM;
    out->cpu_avg = malloc(n_slots * sizeof(double));
    out->cpu_min = malloc(n_slots * sizeof(double));
    out->cpu_max = malloc(n_slots * sizeof(double));
    out->mem_avg = malloc(n_slots * sizeof(double));
    out->mem_min = malloc(n_slots * sizeof(double));
    out->mem_max = malloc(n_slots * sizeof(double));
    if (!out->cpu_avg || !out->cpu_min || !out->cpu_max || !out->mem_avg || !out->mem_min || !out->mem_max)
        goto fail;
    rc = analyze_metric(in, M_CPU, n_slots, th, &out->cpu, out->cpu_avg, out->cpu_min, out->cpu_max);
    if (rc)
        goto fail;
    if (!out->cpu.present) {
        rc = -ENODATA;
        goto fail;
    }
    rc = analyze_metric(in, M_MEM, n_slots, th, &out->mem, out->mem_avg, out->mem_min, out->mem_max);
    if (rc)
        goto fail;

    out->cpu_only = !out->mem.present;
    if (out->cpu_only) {
        free(out->mem_avg);
        free(out->mem_min);
        free(out->mem_max);
        out->mem_avg = out->mem_min = out->mem_max = NULL;
        out->warnings |= FR_EMR_WARN_CPU_ONLY;
    } else if (out->mem.instances_with_data < in->n_instances) {
        out->warnings |= FR_EMR_WARN_MEM_PARTIAL;
    }
    if (out->cpu.instances_with_data < in->n_instances)
        out->warnings |= FR_EMR_WARN_NO_CPU_INSTANCE;
    if (out->cpu.coverage < 0.5 || (!out->cpu_only && out->mem.coverage < 0.5))
        out->warnings |= FR_EMR_WARN_LOW_COVERAGE;
    if (in->n_instances == 1)
        out->warnings |= FR_EMR_WARN_ONE_INSTANCE;
    if (out->cpu.clamped || out->mem.clamped)
        out->warnings |= FR_EMR_WARN_CLAMPED;
    if (out->cpu.dropped || out->mem.dropped)
        out->warnings |= FR_EMR_WARN_DROPPED;
    if (span < th->sustained_window_ms)
        out->warnings |= FR_EMR_WARN_SHORT_WINDOW;
    if (out->cpu.sizing_p95 < out->cpu.p95 - 0.005 || (!out->cpu_only && out->mem.sizing_p95 < out->mem.p95 - 0.005))
        out->warnings |= FR_EMR_WARN_SPIKE_IGNORED;

    out->status_avg = out->cpu.avg;
    out->status_p95 = out->cpu.sizing_p95;
    if (!out->cpu_only) {
        out->status_avg = FR_MAX(out->cpu.avg, out->mem.avg);
        if (out->mem.sizing_p95 > out->cpu.sizing_p95) {
            out->status_p95 = out->mem.sizing_p95;
            out->status_from_memory = true;
        }
    }
    out->status = fr_emr_classify(out->status_avg, out->status_p95, th);
    out->profile = fr_emr_profile_of(out->cpu.avg, out->cpu_only ? 0 : out->mem.avg, !out->cpu_only, th->profile_ratio);
    return 0;
fail:
    fr_emr_analysis_free(out);
    memset(out, 0, sizeof(*out));
    return rc;
}

void fr_emr_analysis_free(fr_emr_analysis *a)
{
    if (!a)
        return;
    free(a->cpu_avg);
    free(a->cpu_min);
    free(a->cpu_max);
    free(a->mem_avg);
    free(a->mem_min);
    free(a->mem_max);
    a->cpu_avg = a->cpu_min = a->cpu_max = a->mem_avg = a->mem_min = a->mem_max = NULL;
}

/* ---- JSON ---- */

json_t *fr_emr_warnings_to_json(unsigned w)
{
    static const char *const names[] = {"cpu_only",     "mem_partial",    "low_coverage",
                                        "one_instance", "clamped",        "dropped",
                                        "spike_ignored", "short_window",  "no_cpu_instance"};
    json_t *a = json_array();
    for (size_t i = 0; i < FR_ARRAY_SIZE(names); i++)
        if (w & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *stats_json(const fr_emr_metric_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "avg", fr_emr_json_num(s->avg, 2));
    json_object_set_new(o, "p95", fr_emr_json_num(s->p95, 2));
    json_object_set_new(o, "max", fr_emr_json_num(s->max, 2));
    json_object_set_new(o, "sustained_p95", fr_emr_json_num(s->sustained_p95, 2));
    json_object_set_new(o, "sizing_p95", fr_emr_json_num(s->sizing_p95, 2));
    json_object_set_new(o, "peak_sustained", json_boolean(s->peak_sustained));
    json_object_set_new(o, "plateau_level", fr_emr_json_num(s->plateau_level, 2));
    json_object_set_new(o, "longest_plateau_ms", json_integer(s->longest_plateau_ms));
    json_object_set_new(o, "samples", json_integer((json_int_t)s->samples));
    json_object_set_new(o, "expected_samples", json_integer((json_int_t)s->expected));
    json_object_set_new(o, "coverage", fr_emr_json_num(s->coverage, 4));
    json_object_set_new(o, "instances_with_data", json_integer((json_int_t)s->instances_with_data));
    json_object_set_new(o, "dropped", json_integer((json_int_t)s->dropped));
    json_object_set_new(o, "clamped", json_integer((json_int_t)s->clamped));
    json_object_set_new(o, "merged", json_integer((json_int_t)s->merged));
    return o;
}

static json_t *series_json(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, fr_emr_json_num(v[i], 2));
    return a;
}

json_t *fr_emr_analysis_to_json(const fr_emr_analysis *a, bool with_series)
{
    json_t *o = json_object();
    json_object_set_new(o, "node", json_string(fr_emr_node_name(a->node)));
    json_object_set_new(o, "instance_type", json_string(a->instance_type));
    json_object_set_new(o, "instances", json_integer((json_int_t)a->n_instances));
    json_object_set_new(o, "start_ms", json_integer(a->start_ms));
    json_object_set_new(o, "end_ms", json_integer(a->end_ms));
    json_object_set_new(o, "period_ms", json_integer(a->period_ms));
    json_object_set_new(o, "cpu", stats_json(&a->cpu));
    json_object_set_new(o, "memory", a->cpu_only ? json_null() : stats_json(&a->mem));
    json_object_set_new(o, "cpu_only", json_boolean(a->cpu_only));
    json_object_set_new(o, "status", json_string(fr_emr_status_name(a->status)));
    json_object_set_new(o, "status_label", json_string(fr_emr_status_label(a->status)));
    json_object_set_new(o, "status_avg", fr_emr_json_num(a->status_avg, 2));
    json_object_set_new(o, "status_p95", fr_emr_json_num(a->status_p95, 2));
    json_object_set_new(o, "status_metric", json_string(a->status_from_memory ? "memory" : "cpu"));
    json_object_set_new(o, "profile", json_string(fr_emr_profile_name(a->profile)));
    json_object_set_new(o, "warnings", fr_emr_warnings_to_json(a->warnings));
    if (with_series) {
        json_t *s = json_object();
        json_object_set_new(s, "start_ms", json_integer(a->start_ms));
        json_object_set_new(s, "period_ms", json_integer(a->period_ms));
        json_object_set_new(s, "cpu", json_pack("{s:o, s:o, s:o}", "avg", series_json(a->cpu_avg, a->n_slots), "min",
                                               series_json(a->cpu_min, a->n_slots), "max",
                                               series_json(a->cpu_max, a->n_slots)));
        if (a->cpu_only)
            json_object_set_new(s, "memory", json_null());
        else
            json_object_set_new(s, "memory",
                                json_pack("{s:o, s:o, s:o}", "avg", series_json(a->mem_avg, a->n_slots), "min",
                                          series_json(a->mem_min, a->n_slots), "max",
                                          series_json(a->mem_max, a->n_slots)));
        json_object_set_new(o, "series", s);
    }
    return o;
}
