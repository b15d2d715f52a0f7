#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cw.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "util.h"

#define MINUTE_MS 60000

void fr_sim_cw_init(fr_sim_cw *cw, fr_sim_series_fn lookup, void *arg, const fr_sim_traces *traces, int64_t t0_ms)
{
    memset(cw, 0, sizeof(*cw));
    cw->lookup = lookup;
    cw->lookup_arg = arg;
    cw->traces = traces;
    cw->t0_ms = t0_ms;
}

void fr_sim_cw_free(fr_sim_cw *cw)
{
    for (size_t i = 0; i < cw->nkeys; i++)
        free(cw->keys[i]);
    free(cw->keys);
    free(cw->points);
    memset(cw, 0, sizeof(*cw));
}

int fr_sim_cw_metric_kind(const char *ns, const char *name)
{
    if (!ns || !name)
        return -1;
    if (strcmp(ns, "AWS/EC2") == 0 && strcmp(name, "CPUUtilization") == 0)
        return FR_SIM_METRIC_CPU;
    if (strcmp(ns, "CWAgent") == 0 && strcmp(name, "mem_used_percent") == 0)
        return FR_SIM_METRIC_MEM;
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

double fr_sim_cw_minute(const fr_sim_cw *cw, const fr_sim_series *s, fr_sim_metric m, int64_t ts, int64_t now)
{
    if (s->launch_ms < 0)
        return NAN;
    int64_t first = floor_div(s->launch_ms + MINUTE_MS - 1, MINUTE_MS) * MINUTE_MS;
    if (ts < first || ts + MINUTE_MS > now)
        return NAN;
    if (s->end_ms >= 0 && ts >= s->end_ms)
        return NAN;
    fr_sim_life life = {floor_div(s->launch_ms - cw->t0_ms, MINUTE_MS),
                        s->end_ms >= 0 ? floor_div(s->end_ms - cw->t0_ms, MINUTE_MS) : -1};
    return fr_sim_profile_value(s->prof, cw->traces, s->group_seed, s->inst_seed, m,
                                floor_div(ts - cw->t0_ms, MINUTE_MS), &life);
}

/* ---- custom metrics ---- */

static int dim_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *nx = fr_sim_jstr(x, "Name"), *ny = fr_sim_jstr(y, "Name");
    return strcmp(nx ? nx : "", ny ? ny : "");
}

/* "ns\x1fname\x1fA=1\x1fB=2" with dimensions sorted by name. */
static void metric_key(fr_buf *b, const char *ns, const char *name, json_t *dims)
{
    fr_buf_printf(b, "%s\x1f%s", ns ? ns : "", name ? name : "");
    size_t n = json_array_size(dims);
    json_t **d = n ? malloc(n * sizeof(*d)) : NULL;
    for (size_t i = 0; d && i < n; i++)
        d[i] = json_array_get(dims, i);
    if (d)
        qsort(d, n, sizeof(*d), dim_cmp);
    for (size_t i = 0; d && i < n; i++) {
        const char *k = fr_sim_jstr(d[i], "Name"), *v = fr_sim_jstr(d[i], "Value");
        fr_buf_printf(b, "\x1f%s=%s", k ? k : "", v ? v : "");
    }
    free(d);
}

static int key_index(fr_sim_cw *cw, const char *key, bool create)
{
    for (size_t i = 0; i < cw->nkeys; i++)
        if (strcmp(cw->keys[i], key) == 0)
            return (int)i;
    if (!create || cw->nkeys >= 100000)
        return -1;
    if (cw->nkeys == cw->capkeys) {
        size_t ncap = cw->capkeys ? cw->capkeys * 2 : 64;
        char **nk = realloc(cw->keys, ncap * sizeof(*nk));
        if (!nk)
            return -1;
        cw->keys = nk;
        cw->capkeys = ncap;
    }
    cw->keys[cw->nkeys] = fr_strdup(key);
    return (int)cw->nkeys++;
}

static void custom_add(fr_sim_cw *cw, int key, int64_t ts, double v)
{
    if (!cw->points) {
        cw->points = calloc(FR_SIM_CW_CUSTOM_CAP, sizeof(*cw->points));
        if (!cw->points)
            return;
    }
    size_t slot = (cw->head + cw->npoints) % FR_SIM_CW_CUSTOM_CAP;
    if (cw->npoints == FR_SIM_CW_CUSTOM_CAP)
        cw->head = (cw->head + 1) % FR_SIM_CW_CUSTOM_CAP; /* the oldest point goes */
    else
        cw->npoints++;
    cw->points[slot] = (fr_sim_cw_point){ts, v, (uint32_t)key};
}

/* ---- statistics ---- */

typedef enum { ST_AVG, ST_SUM, ST_MIN, ST_MAX, ST_COUNT, ST_PCT } stat_kind;

typedef struct stat_spec {
    stat_kind kind;
    double pct;
} stat_spec;

static int parse_stat(const char *s, stat_spec *out)
{
    if (!s)
        return FR_EPARSE;
    if (strcmp(s, "Average") == 0)
        out->kind = ST_AVG;
    else if (strcmp(s, "Sum") == 0)
        out->kind = ST_SUM;
    else if (strcmp(s, "Minimum") == 0)
        out->kind = ST_MIN;
    else if (strcmp(s, "Maximum") == 0)
        out->kind = ST_MAX;
    else if (strcmp(s, "SampleCount") == 0)
        out->kind = ST_COUNT;
    else if ((s[0] == 'p' || s[0] == 'P') && fr_parse_double(s + 1, &out->pct) == 0 && out->pct >= 0 &&
             out->pct <= 100)
        out->kind = ST_PCT;
    else
        return FR_EPARSE;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double aggregate(double *v, size_t n, const stat_spec *st)
{
    double r = 0;
    switch (st->kind) {
    case ST_AVG:
    case ST_SUM:
        for (size_t i = 0; i < n; i++)
            r += v[i];
        return st->kind == ST_AVG ? r / (double)n : r;
    case ST_MIN:
        r = v[0];
        for (size_t i = 1; i < n; i++)
            r = v[i] < r ? v[i] : r;
        return r;
    case ST_MAX:
        r = v[0];
        for (size_t i = 1; i < n; i++)
            r = v[i] > r ? v[i] : r;
        return r;
    case ST_COUNT:
        return (double)n;
    case ST_PCT:
    default:
        qsort(v, n, sizeof(double), cmp_double);
        if (st->pct <= 0)
            return v[0];
        return fr_sim_percentile_sorted(v, n, st->pct);
    }
}

/* ---- one metric's buckets ---- */

typedef struct metric_ref {
    const char *ns, *name;
    json_t *dims;
    int kind;                /* generated metric, or -1 */
    char instance_id[64];    /* generated metrics: the InstanceId dimension */
    int custom_key;          /* custom metrics: key index, or -1 */
} metric_ref;

static void resolve_metric(fr_sim_cw *cw, metric_ref *m, const char *ns, const char *name, json_t *dims)
{
    memset(m, 0, sizeof(*m));
    m->ns = ns;
    m->name = name;
    m->dims = dims;
    m->kind = fr_sim_cw_metric_kind(ns, name);
    m->custom_key = -1;
    if (m->kind >= 0) {
        /* generated metrics carry exactly one dimension, InstanceId */
        json_t *d = json_array_get(dims, 0);
        const char *dn = fr_sim_jstr(d, "Name"), *dv = fr_sim_jstr(d, "Value");
        if (json_array_size(dims) == 1 && dn && dv && strcmp(dn, "InstanceId") == 0)
            fr_strlcpy(m->instance_id, dv, sizeof(m->instance_id));
        else
            m->kind = -2; /* no such series */
    }
    if (m->kind == -1) {
        fr_buf k = FR_BUF_INIT;
        metric_key(&k, ns, name, dims);
        m->custom_key = key_index(cw, fr_buf_cstr(&k), false);
        fr_buf_free(&k);
    }
}

typedef struct series_out {
    int64_t *ts;
    double *val;
    size_t n, cap;
} series_out;

static int out_push(series_out *o, int64_t ts, double v)
{
    if (o->n == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 256;
        int64_t *nt = realloc(o->ts, ncap * sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        o->ts = nt;
        double *nv = realloc(o->val, ncap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        o->val = nv;
        o->cap = ncap;
    }
    o->ts[o->n] = ts;
    o->val[o->n] = v;
    o->n++;
    return 0;
}

static void out_free(series_out *o)
{
    free(o->ts);
    free(o->val);
    memset(o, 0, sizeof(*o));
}

typedef struct cpoint {
    int64_t ts;
    double v;
} cpoint;

static int cmp_cpoint(const void *a, const void *b)
{
    const cpoint *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Buckets of `period` ms from start to end, ascending; each statistic of
 * stats (nstats) goes to outs[k]. */
static int compute(fr_sim_cw *cw, const metric_ref *m, int64_t start, int64_t end, int64_t period,
                   const stat_spec *stats, size_t nstats, int64_t now, series_out *outs)
{
    int64_t first = floor_div(start, period) * period;
    size_t per = (size_t)(period / MINUTE_MS);
    if (m->kind >= 0) {
        fr_sim_series s;
        if (!cw->lookup || cw->lookup(cw->lookup_arg, m->instance_id, now, &s) != 0 || s.launch_ms < 0)
            return 0;
        /* only the buckets the instance lived in */
        int64_t lo = floor_div(s.launch_ms, period) * period;
        if (lo > first)
            first = lo;
        int64_t hi = s.end_ms >= 0 && s.end_ms < end ? s.end_ms : end;
        if (hi > now)
            hi = now;
        double *buf = malloc((per ? per : 1) * sizeof(double));
        double *tmp = malloc((per ? per : 1) * sizeof(double));
        if (!buf || !tmp) {
            free(buf);
            free(tmp);
            return -ENOMEM;
        }
        for (int64_t b = first; b < hi; b += period) {
            size_t n = 0;
            for (int64_t t = b; t < b + period; t += MINUTE_MS) {
                double v = fr_sim_cw_minute(cw, &s, (fr_sim_metric)m->kind, t, now);
                if (!isnan(v))
                    buf[n++] = v;
            }
            if (!n)
                continue;
            for (size_t k = 0; k < nstats; k++) {
                memcpy(tmp, buf, n * sizeof(double));
                if (out_push(&outs[k], b, aggregate(tmp, n, &stats[k]))) {
                    free(buf);
                    free(tmp);
                    return -ENOMEM;
                }
            }
        }
        free(buf);
        free(tmp);
        return 0;
    }
    if (m->custom_key < 0)
        return 0;
    /* custom: gather this key's points in range, sorted, then sweep */
    size_t cap = 64, n = 0;
    cpoint *pts = malloc(cap * sizeof(*pts));
    if (!pts)
        return -ENOMEM;
    for (size_t i = 0; i < cw->npoints; i++) {
        const fr_sim_cw_point *p = &cw->points[(cw->head + i) % FR_SIM_CW_CUSTOM_CAP];
        if (p->key != (uint32_t)m->custom_key || p->ts_ms < first || p->ts_ms >= end)
            continue;
        if (n == cap) {
            cap *= 2;
            cpoint *np = realloc(pts, cap * sizeof(*np));
            if (!np) {
                free(pts);
                return -ENOMEM;
            }
            pts = np;
        }
        pts[n++] = (cpoint){p->ts_ms, p->value};
    }
    qsort(pts, n, sizeof(*pts), cmp_cpoint);
    double *vals = malloc((n ? n : 1) * sizeof(double));
    double *tmp = malloc((n ? n : 1) * sizeof(double));
    int rc = vals && tmp ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n;) {
        int64_t b = floor_div(pts[i].ts, period) * period;
        size_t k = 0;
        while (i < n && pts[i].ts < b + period)
            vals[k++] = pts[i++].v;
        for (size_t s = 0; s < nstats && rc == 0; s++) {
            memcpy(tmp, vals, k * sizeof(double));
            rc = out_push(&outs[s], b, aggregate(tmp, k, &stats[s]));
        }
    }
    free(vals);
    free(tmp);
    free(pts);
    return rc;
}

/* ---- encoding helpers ---- */

static void put_jstr(fr_buf *b, const char *s)
{
    fr_buf_putc(b, '"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fr_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            fr_buf_printf(b, "\\u%04x", ch);
        else
            fr_buf_putc(b, (char)ch);
    }
    fr_buf_putc(b, '"');
}

static void put_iso(fr_buf *b, int64_t ms)
{
    char t[40];
    fr_time_iso8601(t, sizeof(t), ms, 0);
    fr_buf_puts(b, t);
}

/* ---- GetMetricData ---- */

typedef struct mdq {
    const char *id, *label;
    metric_ref m;
    int64_t period;
    stat_spec stat;
    bool ret;
} mdq;

static bool valid_id(const char *id)
{
    if (!id || !(id[0] >= 'a' && id[0] <= 'z') || strlen(id) > 255)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static void make_token(char *out, size_t n, size_t q, size_t off, uint64_t h)
{
    char raw[96];
    int l = snprintf(raw, sizeof(raw), "cw1:%zu:%zu:%016llx", q, off, (unsigned long long)h);
    if ((size_t)l * 2 + 1 <= n)
        fr_hex_encode(out, (const unsigned char *)raw, (size_t)l);
}

static int parse_token(const char *tok, size_t *q, size_t *off, uint64_t *h)
{
    size_t l = strlen(tok);
    if (l < 8 || l > 180 || l % 2)
        return FR_EPARSE;
    char raw[96];
    for (size_t i = 0; i < l / 2; i++) {
        unsigned v;
        if (sscanf(tok + 2 * i, "%2x", &v) != 1)
            return FR_EPARSE;
        raw[i] = (char)v;
    }
    raw[l / 2] = '\0';
    unsigned long long hh;
    if (sscanf(raw, "cw1:%zu:%zu:%16llx", q, off, &hh) != 3)
        return FR_EPARSE;
    *h = hh;
    return 0;
}

static uint64_t request_hash(const json_t *in)
{
    json_t *copy = json_deep_copy(in);
    json_object_del(copy, "NextToken");
    json_object_del(copy, "MaxDatapoints");
    char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = s ? fr_hash64(s, strlen(s)) : 0;
    free(s);
    json_decref(copy);
    return h;
}

static int time_range(const fr_sim_call *c, fr_sim_resp *r, int64_t *start, int64_t *end)
{
    if (fr_sim_jtime(c->in, "StartTime", start) != 0 || fr_sim_jtime(c->in, "EndTime", end) != 0) {
        fr_sim_error(c, r, 400, "MissingParameter", "The parameters StartTime and EndTime are required.");
        return FR_EPARSE;
    }
    if (*start >= *end) {
        fr_sim_error(c, r, 400, "ValidationError", "The parameter StartTime must be less than the parameter EndTime.");
        return FR_EPARSE;
    }
    return 0;
}

static void op_get_metric_data(fr_sim_cw *cw, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    json_t *qs = fr_sim_jlist(c->in, "MetricDataQueries");
    size_t nq = json_array_size(qs);
    if (nq == 0) {
        fr_sim_error(c, r, 400, "MissingParameter", "The parameter MetricDataQueries is required.");
        return;
    }
    if (nq > FR_SIM_CW_MAX_QUERIES) {
        fr_sim_error(c, r, 400, "ValidationError",
                     "The collection MetricDataQueries must not have a size greater than %d.", FR_SIM_CW_MAX_QUERIES);
        return;
    }
    int64_t start, end;
    if (time_range(c, r, &start, &end))
        return;
    int64_t maxdp = FR_SIM_CW_MAX_DATAPOINTS;
    fr_sim_jint(c->in, "MaxDatapoints", &maxdp);
    if (maxdp < 1 || maxdp > FR_SIM_CW_MAX_DATAPOINTS)
        maxdp = FR_SIM_CW_MAX_DATAPOINTS;
    const char *scan = fr_sim_jstr(c->in, "ScanBy");
    if (scan && strcmp(scan, "TimestampDescending") != 0 && strcmp(scan, "TimestampAscending") != 0) {
        fr_sim_error(c, r, 400, "ValidationError", "ScanBy must be TimestampDescending or TimestampAscending.");
        return;
    }
    bool ascending = scan && strcmp(scan, "TimestampAscending") == 0;
    size_t q0 = 0, off0 = 0;
    const char *tok = fr_sim_jstr(c->in, "NextToken");
    /* the request's fingerprint ties a token to it; hashing a 500-query
     * request costs, so only when paging */
    uint64_t rh = tok ? request_hash(c->in) : 0;
    if (tok) {
        uint64_t th;
        if (parse_token(tok, &q0, &off0, &th) != 0 || th != rh || q0 >= nq) {
            fr_sim_error(c, r, 400, "InvalidNextToken", "The service can not continue with the given token.");
            return;
        }
    }
    mdq *q = calloc(nq, sizeof(*q));
    if (!q) {
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    for (size_t i = 0; i < nq; i++) {
        json_t *jq = json_array_get(qs, i);
        q[i].id = fr_sim_jstr(jq, "Id");
        q[i].label = fr_sim_jstr(jq, "Label");
        q[i].ret = true;
        fr_sim_jbool(jq, "ReturnData", &q[i].ret);
        if (!valid_id(q[i].id)) {
            fr_sim_error(c, r, 400, "ValidationError",
                         "The value %s for parameter MetricDataQueries.member.%zu.Id is not valid: it must start "
                         "with a lowercase letter and contain only letters, numbers and underscores.",
                         q[i].id ? q[i].id : "null", i + 1);
            free(q);
            return;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(q[k].id, q[i].id) == 0) {
                fr_sim_error(c, r, 400, "ValidationError", "The values for parameter id in MetricDataQueries are not unique.");
                free(q);
                return;
            }
        if (json_object_get(jq, "Expression")) {
            fr_sim_error(c, r, 400, "ValidationError",
                         "frugal-sim does not evaluate metric math expressions (MetricDataQueries.member.%zu).", i + 1);
            free(q);
            return;
        }
        json_t *ms = json_object_get(jq, "MetricStat");
        json_t *metric = json_object_get(ms, "Metric");
        int64_t period = 0;
        if (!json_is_object(metric) || fr_sim_jint(ms, "Period", &period) != 0 ||
            parse_stat(fr_sim_jstr(ms, "Stat"), &q[i].stat) != 0) {
            fr_sim_error(c, r, 400, "ValidationError",
                         "MetricDataQueries.member.%zu must have a MetricStat with Metric, Period and a valid Stat.",
                         i + 1);
            free(q);
            return;
        }
        if (period < 60 || period % 60 != 0) {
            fr_sim_error(c, r, 400, "ValidationError",
                         "The parameter MetricDataQueries.member.%zu.MetricStat.Period must be a multiple of 60.",
                         i + 1);
            free(q);
            return;
        }
        q[i].period = period * 1000;
        resolve_metric(cw, &q[i].m, fr_sim_jstr(metric, "Namespace"), fr_sim_jstr(metric, "MetricName"),
                       fr_sim_jlist(metric, "Dimensions"));
    }
    bool xml = c->proto == FR_SIM_PROTO_QUERY;
    fr_buf b = FR_BUF_INIT;
    if (xml)
        fr_buf_puts(&b, "<MetricDataResults>");
    else
        fr_buf_puts(&b, "{\"MetricDataResults\":[");
    int64_t budget = maxdp;
    bool first = true;
    char next[256] = "";
    int rc = 0;
    for (size_t i = q0; i < nq && rc == 0; i++) {
        if (!q[i].ret)
            continue;
        series_out o = {0};
        rc = compute(cw, &q[i].m, start, end, q[i].period, &q[i].stat, 1, now, &o);
        size_t skip = i == q0 ? off0 : 0;
        size_t avail = o.n > skip ? o.n - skip : 0;
        size_t take = (int64_t)avail > budget ? (size_t)budget : avail;
        bool partial = take < avail;
        fr_buf_reserve(&b, take * (xml ? 64 : 20) + 256);
        const char *label = q[i].label ? q[i].label : q[i].m.name ? q[i].m.name : q[i].id;
        if (xml) {
            fr_buf_puts(&b, "<member>");
            fr_sim_xml_text(&b, "Id", q[i].id);
            fr_sim_xml_text(&b, "Label", label);
            fr_buf_puts(&b, "<Timestamps>");
        } else {
            fr_buf_puts(&b, first ? "{\"Id\":" : ",{\"Id\":");
            put_jstr(&b, q[i].id);
            fr_buf_puts(&b, ",\"Label\":");
            put_jstr(&b, label);
            fr_buf_puts(&b, ",\"Timestamps\":[");
        }
        first = false;
        for (size_t k = 0; k < take; k++) {
            size_t idx = ascending ? skip + k : o.n - 1 - (skip + k);
            if (xml) {
                fr_buf_puts(&b, "<member>");
                put_iso(&b, o.ts[idx]);
                fr_buf_puts(&b, "</member>");
            } else {
                if (k)
                    fr_buf_putc(&b, ',');
                fr_sim_put_int(&b, o.ts[idx] / 1000);
            }
        }
        fr_buf_puts(&b, xml ? "</Timestamps><Values>" : "],\"Values\":[");
        for (size_t k = 0; k < take; k++) {
            size_t idx = ascending ? skip + k : o.n - 1 - (skip + k);
            if (xml) {
                fr_buf_puts(&b, "<member>");
                fr_sim_put_num(&b, o.val[idx], 6);
                fr_buf_puts(&b, "</member>");
            } else {
                if (k)
                    fr_buf_putc(&b, ',');
                fr_sim_put_num(&b, o.val[idx], 6);
            }
        }
        const char *status = partial ? "PartialData" : "Complete";
        if (xml)
            fr_buf_printf(&b, "</Values><StatusCode>%s</StatusCode><Messages/></member>", status);
        else
            fr_buf_printf(&b, "],\"StatusCode\":\"%s\",\"Messages\":[]}", status);
        budget -= (int64_t)take;
        out_free(&o);
        if (partial || (budget == 0 && i + 1 < nq)) {
            if (!rh)
                rh = request_hash(c->in);
            if (partial)
                make_token(next, sizeof(next), i, skip + take, rh);
            else
                make_token(next, sizeof(next), i + 1, 0, rh);
            break;
        }
    }
    free(q);
    if (rc) {
        fr_buf_free(&b);
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    if (xml) {
        fr_buf_puts(&b, "</MetricDataResults>");
        if (next[0])
            fr_sim_xml_text(&b, "NextToken", next);
        fr_buf_puts(&b, "<Messages/>");
        fr_sim_ok_query(c, r, fr_buf_cstr(&b));
    } else {
        fr_buf_puts(&b, "]");
        if (next[0])
            fr_buf_printf(&b, ",\"NextToken\":\"%s\"", next);
        fr_buf_puts(&b, ",\"Messages\":[]}");
        fr_sim_ok_json_text(c, r, fr_buf_cstr(&b), b.len);
    }
    fr_buf_free(&b);
}

/* ---- GetMetricStatistics ---- */

static const char *stat_names[] = {"Average", "Sum", "Minimum", "Maximum", "SampleCount"};

static void op_get_metric_statistics(fr_sim_cw *cw, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    const char *ns = fr_sim_jstr(c->in, "Namespace"), *name = fr_sim_jstr(c->in, "MetricName");
    if (!ns || !name) {
        fr_sim_error(c, r, 400, "MissingParameter", "The parameters Namespace and MetricName are required.");
        return;
    }
    int64_t start, end, period;
    if (time_range(c, r, &start, &end))
        return;
    if (fr_sim_jint(c->in, "Period", &period) != 0 || period < 60 || period % 60 != 0) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "The parameter Period must be a multiple of 60.");
        return;
    }
    json_t *sts = fr_sim_jlist(c->in, "Statistics");
    json_t *ext = fr_sim_jlist(c->in, "ExtendedStatistics");
    size_t ns_ = json_array_size(sts), ne = json_array_size(ext);
    if (ns_ + ne == 0) {
        fr_sim_error(c, r, 400, "InvalidParameterCombination", "Must specify either Statistics or ExtendedStatistics.");
        return;
    }
    if (ns_ > 5 || ne > 10) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "Too many statistics requested.");
        return;
    }
    int64_t points = (floor_div(end - 1, period * 1000) - floor_div(start, period * 1000) + 1);
    if (points > FR_SIM_CW_STATS_MAX_POINTS) {
        fr_sim_error(c, r, 400, "InvalidParameterCombination",
                     "You have requested up to %lld datapoints, which exceeds the limit of 1,440. You may reduce the "
                     "datapoints requested by increasing Period, or decreasing the time range.",
                     (long long)points);
        return;
    }
    stat_spec specs[15];
    const char *labels[15];
    bool extended[15];
    size_t n = 0;
    size_t i;
    json_t *s;
    json_array_foreach(sts, i, s)
    {
        const char *sn = json_string_value(s);
        if (!sn || parse_stat(sn, &specs[n]) != 0 || specs[n].kind == ST_PCT) {
            fr_sim_error(c, r, 400, "InvalidParameterValue", "The parameter Statistics is not valid: %s", sn ? sn : "");
            return;
        }
        labels[n] = sn;
        extended[n++] = false;
    }
    json_array_foreach(ext, i, s)
    {
        const char *sn = json_string_value(s);
        if (!sn || parse_stat(sn, &specs[n]) != 0 || specs[n].kind != ST_PCT) {
            fr_sim_error(c, r, 400, "InvalidParameterValue", "The parameter ExtendedStatistics is not valid: %s",
                         sn ? sn : "");
            return;
        }
        labels[n] = sn;
        extended[n++] = true;
    }
    metric_ref m;
    resolve_metric(cw, &m, ns, name, fr_sim_jlist(c->in, "Dimensions"));
    series_out outs[15];
    memset(outs, 0, sizeof(outs));
    if (compute(cw, &m, start, end, period * 1000, specs, n, now, outs) != 0) {
        for (size_t k = 0; k < n; k++)
            out_free(&outs[k]);
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    const char *unit = m.kind >= 0 ? "Percent" : "None";
    bool xml = c->proto == FR_SIM_PROTO_QUERY;
    fr_buf b = FR_BUF_INIT;
    if (xml) {
        fr_sim_xml_text(&b, "Label", name);
        fr_buf_puts(&b, "<Datapoints>");
    } else {
        fr_buf_puts(&b, "{\"Label\":");
        put_jstr(&b, name);
        fr_buf_puts(&b, ",\"Datapoints\":[");
    }
    for (size_t p = 0; p < outs[0].n; p++) {
        if (xml) {
            fr_buf_puts(&b, "<member><Timestamp>");
            put_iso(&b, outs[0].ts[p]);
            fr_buf_puts(&b, "</Timestamp>");
        } else {
            fr_buf_printf(&b, "%s{\"Timestamp\":%lld", p ? "," : "", (long long)(outs[0].ts[p] / 1000));
        }
        bool any_ext = false;
        for (size_t k = 0; k < n; k++) {
            if (extended[k]) {
                any_ext = true;
                continue;
            }
            const char *sn = stat_names[specs[k].kind];
            if (xml) {
                fr_sim_xml_num(&b, sn, outs[k].val[p]);
            } else {
                fr_buf_printf(&b, ",\"%s\":", sn);
                fr_sim_put_num(&b, outs[k].val[p], 6);
            }
        }
        if (any_ext) {
            fr_buf_puts(&b, xml ? "<ExtendedStatistics>" : ",\"ExtendedStatistics\":{");
            bool firstx = true;
            for (size_t k = 0; k < n; k++) {
                if (!extended[k])
                    continue;
                if (xml) {
                    fr_buf_puts(&b, "<entry><key>");
                    fr_sim_xml_escape(&b, labels[k]);
                    fr_buf_puts(&b, "</key><value>");
                    fr_sim_put_num(&b, outs[k].val[p], 6);
                    fr_buf_puts(&b, "</value></entry>");
                } else {
                    if (!firstx)
                        fr_buf_putc(&b, ',');
                    put_jstr(&b, labels[k]);
                    fr_buf_putc(&b, ':');
                    fr_sim_put_num(&b, outs[k].val[p], 6);
                }
                firstx = false;
            }
            fr_buf_puts(&b, xml ? "</ExtendedStatistics>" : "}");
        }
        if (xml) {
            fr_sim_xml_text(&b, "Unit", unit);
            fr_buf_puts(&b, "</member>");
        } else {
            fr_buf_printf(&b, ",\"Unit\":\"%s\"}", unit);
        }
    }
    for (size_t k = 0; k < n; k++)
        out_free(&outs[k]);
    if (xml) {
        fr_buf_puts(&b, "</Datapoints>");
        fr_sim_ok_query(c, r, fr_buf_cstr(&b));
    } else {
        fr_buf_puts(&b, "]}");
        fr_sim_ok_json_text(c, r, fr_buf_cstr(&b), b.len);
    }
    fr_buf_free(&b);
}

/* ---- PutMetricData ---- */

static void op_put_metric_data(fr_sim_cw *cw, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    const char *ns = fr_sim_jstr(c->in, "Namespace");
    if (!ns || !*ns) {
        fr_sim_error(c, r, 400, "MissingParameter", "The parameter Namespace is required.");
        return;
    }
    if (fr_str_startswith(ns, "AWS/")) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "The value AWS/ for parameter Namespace is invalid.");
        return;
    }
    json_t *data = fr_sim_jlist(c->in, "MetricData");
    if (json_array_size(data) > 1000) {
        fr_sim_error(c, r, 400, "InvalidParameterValue",
                     "The collection MetricData must not have a size greater than 1000.");
        return;
    }
    size_t i;
    json_t *d;
    json_array_foreach(data, i, d)
    {
        const char *name = fr_sim_jstr(d, "MetricName");
        if (!name) {
            fr_sim_error(c, r, 400, "MissingParameter", "The parameter MetricData.member.%zu.MetricName is required.",
                         i + 1);
            return;
        }
    }
    json_array_foreach(data, i, d)
    {
        fr_buf k = FR_BUF_INIT;
        metric_key(&k, ns, fr_sim_jstr(d, "MetricName"), fr_sim_jlist(d, "Dimensions"));
        int key = key_index(cw, fr_buf_cstr(&k), true);
        fr_buf_free(&k);
        if (key < 0)
            continue;
        int64_t ts = now;
        fr_sim_jtime(d, "Timestamp", &ts);
        double v;
        json_t *vals = fr_sim_jlist(d, "Values");
        json_t *sv = json_object_get(d, "StatisticValues");
        if (fr_sim_jnum(d, "Value", &v) == 0) {
            custom_add(cw, key, ts, v);
        } else if (json_array_size(vals)) {
            json_t *counts = fr_sim_jlist(d, "Counts");
            for (size_t n = 0; n < json_array_size(vals); n++) {
                json_t *x = json_array_get(vals, n);
                double xv = json_is_number(x) ? json_number_value(x) : 0;
                if (json_is_string(x))
                    fr_parse_double(json_string_value(x), &xv);
                int64_t times = 1;
                json_t *cn = json_array_get(counts, n);
                if (json_is_number(cn))
                    times = (int64_t)json_number_value(cn);
                for (int64_t t = 0; t < times && t < 1000; t++)
                    custom_add(cw, key, ts, xv);
            }
        } else if (json_is_object(sv)) {
            double sum = 0, cnt = 1;
            fr_sim_jnum(sv, "Sum", &sum);
            fr_sim_jnum(sv, "SampleCount", &cnt);
            custom_add(cw, key, ts, cnt > 0 ? sum / cnt : sum);
        }
    }
    if (c->proto == FR_SIM_PROTO_QUERY)
        fr_sim_ok_query(c, r, NULL);
    else
        fr_sim_ok_json_text(c, r, "{}", 2);
}

/* ---- ListMetrics ---- */

static bool dims_match(json_t *filters, const char *const *names, const char *const *values, size_t n)
{
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f)
    {
        const char *fn = fr_sim_jstr(f, "Name"), *fv = fr_sim_jstr(f, "Value");
        bool ok = false;
        for (size_t k = 0; k < n && !ok; k++)
            ok = fn && strcmp(fn, names[k]) == 0 && (!fv || strcmp(fv, values[k]) == 0);
        if (!ok)
            return false;
    }
    return true;
}

static void metric_json(fr_buf *b, bool xml, bool *first, const char *ns, const char *name, const char *const *dn,
                        const char *const *dv, size_t n)
{
    if (xml) {
        fr_buf_puts(b, "<member>");
        fr_sim_xml_text(b, "Namespace", ns);
        fr_sim_xml_text(b, "MetricName", name);
        fr_buf_puts(b, "<Dimensions>");
        for (size_t k = 0; k < n; k++) {
            fr_buf_puts(b, "<member>");
            fr_sim_xml_text(b, "Name", dn[k]);
            fr_sim_xml_text(b, "Value", dv[k]);
            fr_buf_puts(b, "</member>");
        }
        fr_buf_puts(b, "</Dimensions></member>");
        return;
    }
    fr_buf_puts(b, *first ? "{\"Namespace\":" : ",{\"Namespace\":");
    *first = false;
    put_jstr(b, ns);
    fr_buf_puts(b, ",\"MetricName\":");
    put_jstr(b, name);
    fr_buf_puts(b, ",\"Dimensions\":[");
    for (size_t k = 0; k < n; k++) {
        fr_buf_puts(b, k ? ",{\"Name\":" : "{\"Name\":");
        put_jstr(b, dn[k]);
        fr_buf_puts(b, ",\"Value\":");
        put_jstr(b, dv[k]);
        fr_buf_putc(b, '}');
    }
    fr_buf_puts(b, "]}");
}

static void op_list_metrics(fr_sim_cw *cw, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    const char *ns = fr_sim_jstr(c->in, "Namespace"), *name = fr_sim_jstr(c->in, "MetricName");
    json_t *filters = fr_sim_jlist(c->in, "Dimensions");
    const char *recent = fr_sim_jstr(c->in, "RecentlyActive");
    if (recent && strcmp(recent, "PT3H") != 0) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "RecentlyActive must be PT3H.");
        return;
    }
    size_t start = 0;
    const char *tok = fr_sim_jstr(c->in, "NextToken");
    if (tok) {
        uint64_t v;
        if (!fr_str_startswith(tok, "lm:") || fr_parse_u64(tok + 3, &v) != 0) {
            fr_sim_error(c, r, 400, "InvalidNextToken", "The service can not continue with the given token.");
            return;
        }
        start = (size_t)v;
    }
    int64_t from = now - (recent ? 3 : 14 * 24) * 3600000LL;
    json_t *ids = json_array();
    if (cw->instances)
        cw->instances(cw->lookup_arg, from, now, ids);
    static const char *const gen_ns[2] = {"AWS/EC2", "CWAgent"};
    static const char *const gen_name[2] = {"CPUUtilization", "mem_used_percent"};
    const char *const dn[1] = {"InstanceId"};
    bool xml = c->proto == FR_SIM_PROTO_QUERY;
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, xml ? "<Metrics>" : "{\"Metrics\":[");
    size_t matched = 0, emitted = 0;
    bool more = false, first = true;
    for (size_t i = 0; i < json_array_size(ids) && !more; i++) {
        const char *dv[1] = {json_string_value(json_array_get(ids, i))};
        for (int k = 0; k < 2; k++) {
            if ((ns && strcmp(ns, gen_ns[k]) != 0) || (name && strcmp(name, gen_name[k]) != 0) ||
                !dims_match(filters, dn, dv, 1))
                continue;
            if (matched++ < start)
                continue;
            if (emitted == 500) {
                more = true;
                break;
            }
            metric_json(&b, xml, &first, gen_ns[k], gen_name[k], dn, dv, 1);
            emitted++;
        }
    }
    /* custom metrics that have datapoints in the window */
    for (size_t k = 0; k < cw->nkeys && !more; k++) {
        bool recent_data = false;
        for (size_t i = 0; i < cw->npoints && !recent_data; i++) {
            const fr_sim_cw_point *p = &cw->points[(cw->head + i) % FR_SIM_CW_CUSTOM_CAP];
            recent_data = p->key == (uint32_t)k && p->ts_ms >= from;
        }
        if (!recent_data)
            continue;
        /* "ns\x1fname\x1fA=1\x1f..." back into parts */
        char *copy = fr_strdup(cw->keys[k]);
        char *parts[34];
        size_t np = 0;
        for (char *p = copy; p && np < 34;) {
            parts[np++] = p;
            char *sep = strchr(p, '\x1f');
            if (sep)
                *sep = '\0';
            p = sep ? sep + 1 : NULL;
        }
        const char *kn[32], *kv[32];
        size_t nd = 0;
        for (size_t x = 2; x < np && nd < 32; x++) {
            char *eq = strchr(parts[x], '=');
            if (!eq)
                continue;
            *eq = '\0';
            kn[nd] = parts[x];
            kv[nd++] = eq + 1;
        }
        bool ok = np >= 2 && (!ns || strcmp(ns, parts[0]) == 0) && (!name || strcmp(name, parts[1]) == 0) &&
                  dims_match(filters, kn, kv, nd);
        if (ok && matched++ >= start) {
            if (emitted == 500)
                more = true;
            else {
                metric_json(&b, xml, &first, parts[0], parts[1], kn, kv, nd);
                emitted++;
            }
        }
        free(copy);
    }
    json_decref(ids);
    char next[40] = "";
    if (more)
        snprintf(next, sizeof(next), "lm:%zu", start + emitted);
    if (xml) {
        fr_buf_puts(&b, "</Metrics>");
        if (next[0])
            fr_sim_xml_text(&b, "NextToken", next);
        fr_sim_ok_query(c, r, fr_buf_cstr(&b));
    } else {
        fr_buf_puts(&b, "]");
        if (next[0])
            fr_buf_printf(&b, ",\"NextToken\":\"%s\"", next);
        fr_buf_puts(&b, "}");
        fr_sim_ok_json_text(c, r, fr_buf_cstr(&b), b.len);
    }
    fr_buf_free(&b);
}

void fr_sim_cw_call(fr_sim_cw *cw, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    if (strcmp(c->op, "GetMetricData") == 0)
        op_get_metric_data(cw, c, r, now);
    else if (strcmp(c->op, "GetMetricStatistics") == 0)
        op_get_metric_statistics(cw, c, r, now);
    else if (strcmp(c->op, "PutMetricData") == 0)
        op_put_metric_data(cw, c, r, now);
    else if (strcmp(c->op, "ListMetrics") == 0)
        op_list_metrics(cw, c, now, r);
    else
        fr_sim_error(c, r, 400, "InvalidAction", "Operation %s is not supported by frugal-sim.", c->op);
}
