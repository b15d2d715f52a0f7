#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "profile.h"
#include "util.h"

static const char *shape_names[FR_SIM_SHAPE_COUNT] = {"steady", "diurnal", "spiky", "ramp", "saturated", "trace"};

const char *fr_sim_shape_name(fr_sim_shape s)
{
    return s < FR_SIM_SHAPE_COUNT ? shape_names[s] : "steady";
}

int fr_sim_shape_parse(const char *s, fr_sim_shape *out)
{
    for (int i = 0; s && i < FR_SIM_SHAPE_COUNT; i++)
        if (strcmp(s, shape_names[i]) == 0) {
            *out = (fr_sim_shape)i;
            return 0;
        }
    return FR_EPARSE;
}

/* ---- noise ---- */

/* In [-1, 1). */
static double white(uint64_t seed, int64_t m, uint64_t salt)
{
    return fr_sim_unit(fr_sim_hash3(seed, (uint64_t)m, salt)) * 2.0 - 1.0;
}

/* Value noise: white noise at every `scale` minutes, smoothly interpolated. */
static double smooth(uint64_t seed, int64_t m, int scale, uint64_t salt)
{
    int64_t i = m >= 0 ? m / scale : -((-m + scale - 1) / scale);
    double f = (double)(m - i * scale) / scale;
    double a = white(seed, i, salt), b = white(seed, i + 1, salt);
    double t = f * f * (3 - 2 * f);
    return a + (b - a) * t;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* A standardised trace value (z-score clipped to +-2.5), interpolated. */
static double trace_z(const fr_sim_trace *t, bool mem, double pos)
{
    const float *v = mem ? t->mem : t->cpu;
    double mean = mem ? t->mem_mean : t->cpu_mean;
    if (!v || t->n < 2)
        return 0;
    size_t n = t->n;
    double p = fmod(pos, (double)n);
    if (p < 0)
        p += (double)n;
    size_t i = (size_t)p;
    double f = p - (double)i;
    double a = v[i], b = v[(i + 1) % n];
    return (a + (b - a) * f) - mean;
}

double fr_sim_profile_value(const fr_sim_profile *p, const fr_sim_traces *tr, uint64_t group_seed,
                            uint64_t inst_seed, fr_sim_metric metric, int64_t m, const fr_sim_life *life)
{
    bool mem = metric == FR_SIM_METRIC_MEM;
    double level = mem ? p->mem : p->cpu;
    double amp = mem ? p->mem_amp : p->cpu_amp;
    uint64_t ms = fr_sim_mix64(inst_seed ^ (mem ? 0x6d656dULL : 0x637075ULL));
    uint64_t gs = fr_sim_mix64(group_seed ^ (mem ? 0x6d656dULL : 0x637075ULL));
    /* each instance of a group sits a little above or below the group */
    double L = level * (1.0 + 0.03 * white(ms, 0, 0xabc));
    double v;
    switch (p->shape) {
    case FR_SIM_SHAPE_DIURNAL: {
        double phase = (double)(fr_sim_hash3(group_seed, 0xd1, 0) % 1440);
        double s = sin(6.283185307179586 * ((double)m + phase) / 1440.0);
        v = L + amp * s + 0.25 * amp * (mem ? smooth(ms, m, 20, 1) : white(ms, m, 1));
        break;
    }
    case FR_SIM_SHAPE_SPIKY: {
        v = L + amp * (mem ? 0.8 * smooth(ms, m, 20, 2) : 0.5 * smooth(ms, m, 10, 2) + 0.5 * white(ms, m, 3));
        int every = p->spike_every_min > 0 ? p->spike_every_min : 60;
        int len = p->spike_len_min > 0 ? p->spike_len_min : 2;
        if (len >= every)
            len = every - 1;
        int64_t w = m >= 0 ? m / every : -((-m + every - 1) / every);
        /* the spike sits in the middle half of its window, so spikes are at
         * least half a window apart wherever a lifetime starts */
        int64_t span = every / 2 - len > 0 ? every / 2 - len : 1;
        int64_t off = every / 4 + (int64_t)(fr_sim_hash3(group_seed, (uint64_t)w, 0x5b) % (uint64_t)span);
        int64_t in = m - w * every;
        if (in >= off && in < off + len) {
            if (mem)
                v += 0.15 * (p->spike_height - L);
            else
                v = p->spike_height + 2.0 * white(ms, m, 4);
        }
        break;
    }
    case FR_SIM_SHAPE_RAMP: {
        int64_t start = life ? life->start_min : 0;
        int64_t end = life && life->end_min > start ? life->end_min : start + 240;
        double f = clampd((double)(m - start) / (double)(end - start), 0, 1);
        if (mem)
            v = L * (0.6 + 0.8 * f) + 0.3 * amp * smooth(ms, m, 20, 5);
        else
            v = L * (0.45 + 1.1 * f) + 0.5 * amp * white(ms, m, 5);
        break;
    }
    case FR_SIM_SHAPE_SATURATED:
        v = L + amp * (mem ? smooth(ms, m, 15, 6) : white(ms, m, 6));
        break;
    case FR_SIM_SHAPE_TRACE: {
        const fr_sim_trace *t = tr ? fr_sim_traces_find(tr, p->trace) : NULL;
        if (t) {
            /* memory follows the trace's CPU shape too, scaled to its own
             * level: the CPU/memory ratio (the workload kind) holds */
            double pos = (double)m / 5.0 + (double)(fr_sim_hash3(group_seed, 0x7e, 0) % (t->n ? t->n : 1));
            double z = clampd(trace_z(t, false, pos) / t->cpu_sd, -2.5, 2.5);
            v = L + amp * z / 1.6 + 0.1 * amp * white(ms, m, 7);
        } else {
            v = L + amp * (0.6 * smooth(ms, m, mem ? 20 : 10, 7) + 0.4 * white(ms, m, 8));
        }
        break;
    }
    case FR_SIM_SHAPE_STEADY:
    default:
        if (mem)
            v = L + amp * (0.8 * smooth(ms, m, 20, 9) + 0.2 * white(ms, m, 9));
        else
            v = L + amp * (0.6 * smooth(ms, m, 10, 9) + 0.4 * white(ms, m, 10));
        break;
    }
    (void)gs;
    v = clampd(v, 0.0, 100.0);
    return round(v * 10000.0) / 10000.0;
}

json_t *fr_sim_profile_to_json(const fr_sim_profile *p)
{
    json_t *j = json_pack("{s:s, s:f, s:f, s:f, s:f}", "shape", fr_sim_shape_name(p->shape), "cpu", p->cpu, "mem",
                          p->mem, "cpu_amp", p->cpu_amp, "mem_amp", p->mem_amp);
    if (p->shape == FR_SIM_SHAPE_SPIKY) {
        json_object_set_new(j, "spike_height", json_real(p->spike_height));
        json_object_set_new(j, "spike_every_min", json_integer(p->spike_every_min));
        json_object_set_new(j, "spike_len_min", json_integer(p->spike_len_min));
    }
    if (p->shape == FR_SIM_SHAPE_TRACE)
        json_object_set_new(j, "trace", json_string(p->trace));
    if (p->klass[0])
        json_object_set_new(j, "class", json_string(p->klass));
    return j;
}

int fr_sim_profile_from_json(const json_t *j, fr_sim_profile *p)
{
    memset(p, 0, sizeof(*p));
    if (!json_is_object(j))
        return FR_EPARSE;
    const char *shape = fr_sim_jstr(j, "shape");
    if (shape && fr_sim_shape_parse(shape, &p->shape) != 0)
        return FR_EPARSE;
    if (fr_sim_jnum(j, "cpu", &p->cpu) != 0)
        p->cpu = 30;
    if (fr_sim_jnum(j, "mem", &p->mem) != 0)
        p->mem = 40;
    if (fr_sim_jnum(j, "cpu_amp", &p->cpu_amp) != 0)
        p->cpu_amp = 5;
    if (fr_sim_jnum(j, "mem_amp", &p->mem_amp) != 0)
        p->mem_amp = 3;
    if (fr_sim_jnum(j, "spike_height", &p->spike_height) != 0)
        p->spike_height = 95;
    int64_t v;
    p->spike_every_min = fr_sim_jint(j, "spike_every_min", &v) == 0 ? (int)v : 60;
    p->spike_len_min = fr_sim_jint(j, "spike_len_min", &v) == 0 ? (int)v : 2;
    if (p->spike_every_min < 2)
        p->spike_every_min = 2;
    if (p->spike_len_min < 1)
        p->spike_len_min = 1;
    const char *t = fr_sim_jstr(j, "trace");
    if (t)
        fr_strlcpy(p->trace, t, sizeof(p->trace));
    const char *k = fr_sim_jstr(j, "class");
    if (k)
        fr_strlcpy(p->klass, k, sizeof(p->klass));
    if (p->cpu < 0 || p->cpu > 100 || p->mem < 0 || p->mem > 100)
        return FR_EPARSE;
    return 0;
}

/* ---- traces ---- */

static fr_sim_trace *trace_new(fr_sim_traces *tr, const char *name)
{
    fr_sim_trace *nt = realloc(tr->t, (tr->n + 1) * sizeof(*nt));
    if (!nt)
        return NULL;
    tr->t = nt;
    fr_sim_trace *t = &tr->t[tr->n++];
    memset(t, 0, sizeof(*t));
    fr_strlcpy(t->name, name, sizeof(t->name));
    return t;
}

static int push(float **arr, size_t *cap, size_t n, float v)
{
    if (n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        float *na = realloc(*arr, *cap * sizeof(float));
        if (!na)
            return -ENOMEM;
        *arr = na;
    }
    (*arr)[n] = v;
    return 0;
}

static void finish(fr_sim_trace *t)
{
    double sc = 0, sm = 0;
    for (size_t i = 0; i < t->n; i++) {
        sc += t->cpu[i];
        if (t->mem)
            sm += t->mem[i];
    }
    t->cpu_mean = t->n ? sc / (double)t->n : 0;
    t->mem_mean = t->n && t->mem ? sm / (double)t->n : 0;
    double vc = 0, vm = 0;
    for (size_t i = 0; i < t->n; i++) {
        vc += (t->cpu[i] - t->cpu_mean) * (t->cpu[i] - t->cpu_mean);
        if (t->mem)
            vm += (t->mem[i] - t->mem_mean) * (t->mem[i] - t->mem_mean);
    }
    t->cpu_sd = t->n && vc > 0 ? sqrt(vc / (double)t->n) : 1;
    t->mem_sd = t->n && vm > 0 ? sqrt(vm / (double)t->n) : 1;
    if (t->cpu_sd < 1e-6)
        t->cpu_sd = 1;
    if (t->mem_sd < 1e-6)
        t->mem_sd = 1;
}

/* Line-by-line reading of a trace file; CRLF endings are accepted. */
typedef struct trace_lines {
    const char *text;
    size_t len, pos;
    int line;
} trace_lines;

static bool next_line(trace_lines *l, const char **s, size_t *n)
{
    if (l->pos >= l->len)
        return false;
    size_t end = l->pos;
    while (end < l->len && l->text[end] != '\n')
        end++;
    *s = l->text + l->pos;
    *n = end - l->pos;
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    l->pos = end + 1;
    l->line++;
    return true;
}

static int bad_trace(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad_trace(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return FR_EPARSE;
}

/* A utilization in percent: a finite number >= 0. Measured values a little
 * above 100 (Bitbrains reports up to ~106 % CPU) are clamped, not refused. */
static int parse_pct(const char *s, double *out)
{
    double v;
    if (fr_parse_double(s, &v) != 0 || v < 0)
        return FR_EPARSE;
    *out = clampd(v, 0, 100);
    return 0;
}

static void trace_drop_from(fr_sim_traces *tr, size_t n0)
{
    while (tr->n > n0) {
        tr->n--;
        free(tr->t[tr->n].cpu);
        free(tr->t[tr->n].mem);
    }
}

#define NAB_MIN_POINTS 10

int fr_sim_traces_parse_nab(fr_sim_traces *tr, const char *name, const char *text, size_t len, char *why,
                            size_t whylen)
{
    if (len == 0)
        return bad_trace(why, whylen, "the file is empty");
    trace_lines l = {text, len, 0, 0};
    const char *s;
    size_t n;
    next_line(&l, &s, &n);
    if (n != 15 || memcmp(s, "timestamp,value", 15) != 0)
        return bad_trace(why, whylen, "line 1: want the header timestamp,value (a NAB CloudWatch series)");
    size_t n0 = tr->n;
    fr_sim_trace *t = trace_new(tr, name);
    if (!t)
        return -ENOMEM;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && next_line(&l, &s, &n)) {
        if (n == 0)
            continue; /* a blank line (the last one, usually) */
        const char *comma = memchr(s, ',', n);
        char num[64];
        size_t nl = comma ? (size_t)(s + n - comma - 1) : 0;
        double v;
        if (!comma || comma == s || memchr(comma + 1, ',', nl))
            rc = bad_trace(why, whylen, "line %d: want 2 fields (timestamp,value)", l.line);
        else if (nl == 0 || nl >= sizeof(num))
            rc = bad_trace(why, whylen, "line %d: the value is not a number", l.line);
        else {
            memcpy(num, comma + 1, nl);
            num[nl] = '\0';
            if (parse_pct(num, &v) != 0)
                rc = bad_trace(why, whylen, "line %d: value \"%s\" is not a percentage >= 0", l.line, num);
            else if ((rc = push(&t->cpu, &cap, t->n, (float)v)) == 0)
                t->n++;
        }
    }
    if (rc == 0 && t->n < NAB_MIN_POINTS)
        rc = bad_trace(why, whylen, "%zu points, want at least %d", t->n, NAB_MIN_POINTS);
    if (rc != 0) {
        trace_drop_from(tr, n0);
        return rc;
    }
    finish(t);
    return 0;
}

/* The columns a Bitbrains row must start with (the rest are not used). */
static const char *const bitbrains_head[] = {"vm_id",        "timestamp_s",     "cpu_cores",      "cpu_capacity_mhz",
                                             "cpu_usage_mhz", "cpu_usage_pct", "mem_capacity_kb", "mem_usage_kb"};

#define BB_MAX_FIELDS 32

/* Splits a row in place; returns the number of fields (BB_MAX_FIELDS + 1
 * when there are more). */
static size_t split_row(char *row, char **f)
{
    size_t nf = 0;
    char *p = row;
    for (;;) {
        if (nf == BB_MAX_FIELDS)
            return BB_MAX_FIELDS + 1;
        f[nf++] = p;
        char *c = strchr(p, ',');
        if (!c)
            return nf;
        *c = '\0';
        p = c + 1;
    }
}

int fr_sim_traces_parse_bitbrains(fr_sim_traces *tr, const char *text, size_t len, char *why, size_t whylen)
{
    if (len == 0)
        return bad_trace(why, whylen, "the file is empty");
    size_t n0 = tr->n, ccap = 0, mcap = 0, want = 0;
    fr_sim_trace *cur = NULL;
    char curvm[48] = "";
    trace_lines l = {text, len, 0, 0};
    const char *s;
    size_t n;
    int rc = 0;
    char row[512];
    char *f[BB_MAX_FIELDS];
    while (rc == 0 && next_line(&l, &s, &n)) {
        if (n == 0 && l.line > 1)
            continue;
        if (n >= sizeof(row)) {
            rc = bad_trace(why, whylen, "line %d: longer than %zu bytes", l.line, sizeof(row) - 1);
            break;
        }
        memcpy(row, s, n);
        row[n] = '\0';
        size_t nf = split_row(row, f);
        if (l.line == 1) {
            bool ok = nf >= FR_ARRAY_SIZE(bitbrains_head) && nf <= BB_MAX_FIELDS;
            for (size_t i = 0; ok && i < FR_ARRAY_SIZE(bitbrains_head); i++)
                ok = strcmp(f[i], bitbrains_head[i]) == 0;
            if (!ok)
                rc = bad_trace(why, whylen, "line 1: want the header vm_id,timestamp_s,cpu_cores,cpu_capacity_mhz,"
                                            "cpu_usage_mhz,cpu_usage_pct,mem_capacity_kb,mem_usage_kb,...");
            want = nf;
            continue;
        }
        double cpu, mcap_kb, muse_kb;
        if (nf != want) {
            rc = bad_trace(why, whylen, "line %d: %zu%s fields, want %zu as in the header", l.line,
                           nf > BB_MAX_FIELDS ? (size_t)BB_MAX_FIELDS : nf, nf > BB_MAX_FIELDS ? "+" : "", want);
        } else if (!f[0][0] || strlen(f[0]) >= sizeof(curvm)) {
            rc = bad_trace(why, whylen, "line %d: vm_id is empty or longer than %zu bytes", l.line, sizeof(curvm) - 1);
        } else if (parse_pct(f[5], &cpu) != 0) {
            rc = bad_trace(why, whylen, "line %d: cpu_usage_pct \"%s\" is not a percentage >= 0", l.line, f[5]);
        } else if (fr_parse_double(f[6], &mcap_kb) != 0 || mcap_kb < 0) {
            rc = bad_trace(why, whylen, "line %d: mem_capacity_kb \"%s\" is not a number >= 0", l.line, f[6]);
        } else if (fr_parse_double(f[7], &muse_kb) != 0 || muse_kb < 0) {
            rc = bad_trace(why, whylen, "line %d: mem_usage_kb \"%s\" is not a number >= 0", l.line, f[7]);
        } else {
            if (!cur || strcmp(curvm, f[0]) != 0) {
                char name[64];
                snprintf(name, sizeof(name), "bitbrains-%s", f[0]);
                /* one trace per VM: its rows must be together */
                for (size_t i = n0; i < tr->n; i++)
                    if (strcmp(tr->t[i].name, name) == 0)
                        rc = bad_trace(why, whylen, "line %d: VM %s again after other VMs' rows", l.line, f[0]);
                if (rc)
                    break;
                if (cur)
                    finish(cur);
                cur = trace_new(tr, name);
                if (!cur) {
                    rc = -ENOMEM;
                    break;
                }
                fr_strlcpy(curvm, f[0], sizeof(curvm));
                ccap = mcap = 0;
            }
            double mp = mcap_kb > 0 ? clampd(muse_kb / mcap_kb * 100.0, 0, 100) : 0;
            if (push(&cur->cpu, &ccap, cur->n, (float)cpu) != 0 || push(&cur->mem, &mcap, cur->n, (float)mp) != 0)
                rc = -ENOMEM;
            else
                cur->n++;
        }
    }
    if (rc == 0 && !cur)
        rc = bad_trace(why, whylen, "no rows after the header");
    if (rc != 0) {
        trace_drop_from(tr, n0);
        return rc;
    }
    finish(cur);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define NAB_PREFIX "ec2_cpu_utilization_"
#define BITBRAINS_FILE "bitbrains/rnd_2013-07_8vms.csv"

/* Reads and parses one trace file; err names it (and the line). */
static int load_file(fr_sim_traces *tr, const char *path, const char *nab_name, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = fr_sim_read_file(path, &text, &len);
    if (rc != 0) {
        snprintf(err, errlen, "traces %s: cannot read: %s", path, fr_strerror(rc));
        return rc;
    }
    char why[256] = "";
    rc = nab_name ? fr_sim_traces_parse_nab(tr, nab_name, text, len, why, sizeof(why))
                  : fr_sim_traces_parse_bitbrains(tr, text, len, why, sizeof(why));
    free(text);
    if (rc != 0) {
        /* "line N: ..." becomes "FILE:N: ..." as other start-up files say it */
        int line = 0, used = 0;
        if (sscanf(why, "line %d: %n", &line, &used) == 1 && used > 0)
            snprintf(err, errlen, "traces %s:%d: %s", path, line, why + used);
        else
            snprintf(err, errlen, "traces %s: %s", path, why[0] ? why : fr_strerror(rc));
    }
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The NAB series in DIR/nab_cloudwatch, in name order. */
static int load_nab(fr_sim_traces *tr, const char *dir, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/nab_cloudwatch", dir);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 0; /* this part is optional */
        int rc = -errno;
        snprintf(err, errlen, "traces %s: cannot open: %s", path, fr_strerror(rc));
        return rc;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        /* the folder holds other metrics and a licence too: only CPU series are traces */
        if (!fr_str_startswith(e->d_name, NAB_PREFIX) || !fr_str_endswith(e->d_name, ".csv"))
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn2 = realloc(names, cap * sizeof(*names));
            if (!nn2) {
                rc = -ENOMEM;
                break;
            }
            names = nn2;
        }
        names[nn++] = fr_strdup(e->d_name);
    }
    closedir(d);
    /* directory order is not stable: sort for deterministic worlds */
    if (rc == 0 && nn > 1) /* qsort must not be given NULL, even for nothing */
        qsort(names, nn, sizeof(names[0]), cmp_str);
    for (size_t i = 0; rc == 0 && i < nn; i++) {
        char fp[1400], name[48];
        snprintf(fp, sizeof(fp), "%s/%s", path, names[i]);
        size_t stem = strlen(names[i]) - strlen(NAB_PREFIX) - 4;
        snprintf(name, sizeof(name), "nab-%.*s", (int)stem, names[i] + strlen(NAB_PREFIX));
        rc = load_file(tr, fp, name, err, errlen);
    }
    free_names(names, nn);
    return rc;
}

int fr_sim_traces_load_dir(fr_sim_traces *tr, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        int rc = -errno;
        snprintf(err, errlen, "traces %s: cannot open the directory: %s", dir, fr_strerror(rc));
        return rc;
    }
    closedir(d);
    size_t n0 = tr->n;
    int rc = load_nab(tr, dir, err, errlen);
    if (rc == 0) {
        char path[1100];
        snprintf(path, sizeof(path), "%s/" BITBRAINS_FILE, dir);
        if (access(path, F_OK) == 0 || errno != ENOENT)
            rc = load_file(tr, path, NULL, err, errlen);
    }
    if (rc == 0 && tr->n == n0) {
        snprintf(err, errlen,
                 "traces %s: no traces in it (want nab_cloudwatch/" NAB_PREFIX "*.csv or " BITBRAINS_FILE ")", dir);
        rc = FR_ENOTFOUND;
    }
    if (rc != 0)
        trace_drop_from(tr, n0);
    return rc;
}

const fr_sim_trace *fr_sim_traces_find(const fr_sim_traces *tr, const char *name)
{
    for (size_t i = 0; tr && i < tr->n; i++)
        if (strcmp(tr->t[i].name, name) == 0)
            return &tr->t[i];
    return NULL;
}

void fr_sim_traces_free(fr_sim_traces *tr)
{
    for (size_t i = 0; i < tr->n; i++) {
        free(tr->t[i].cpu);
        free(tr->t[i].mem);
    }
    free(tr->t);
    tr->t = NULL;
    tr->n = 0;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double fr_sim_percentile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

void fr_sim_stats_of(double *vals, size_t n, fr_sim_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->n = n;
    if (!n)
        return;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += vals[i];
    qsort(vals, n, sizeof(double), cmp_double);
    out->avg = s / (double)n;
    out->p95 = fr_sim_percentile_sorted(vals, n, 95);
    out->max = vals[n - 1];
    out->min = vals[0];
}
