#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int fr_sim_traces_parse_nab(fr_sim_traces *tr, const char *name, const char *text, size_t len)
{
    fr_sim_trace *t = trace_new(tr, name);
    if (!t)
        return -ENOMEM;
    size_t cap = 0, pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        const char *comma = memchr(text + pos, ',', end - pos);
        if (comma) {
            char num[64];
            size_t nl = (size_t)(text + end - comma - 1);
            if (nl > 0 && nl < sizeof(num)) {
                memcpy(num, comma + 1, nl);
                num[nl] = '\0';
                if (num[nl - 1] == '\r')
                    num[nl - 1] = '\0';
                double v;
                if (fr_parse_double(num, &v) == 0 && push(&t->cpu, &cap, t->n, (float)clampd(v, 0, 100)) == 0)
                    t->n++;
            }
        }
        pos = end + 1;
    }
    if (t->n < 10) {
        free(t->cpu);
        tr->n--;
        return FR_EPARSE;
    }
    finish(t);
    return 0;
}

int fr_sim_traces_parse_bitbrains(fr_sim_traces *tr, const char *text, size_t len)
{
    size_t pos = 0, ccap = 0, mcap = 0;
    fr_sim_trace *cur = NULL;
    char curvm[48] = "";
    int line = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t ll = end - pos;
        if (line++ > 0 && ll > 0 && ll < 512) {
            char row[512];
            memcpy(row, text + pos, ll);
            row[ll] = '\0';
            char *f[12];
            size_t nf = 0;
            char *p = row;
            while (nf < 12) {
                f[nf++] = p;
                char *c = strchr(p, ',');
                if (!c)
                    break;
                *c = '\0';
                p = c + 1;
            }
            double cpu, mcap_kb, muse_kb;
            if (nf >= 8 && fr_parse_double(f[5], &cpu) == 0 && fr_parse_double(f[6], &mcap_kb) == 0 &&
                fr_parse_double(f[7], &muse_kb) == 0) {
                if (!cur || strcmp(curvm, f[0]) != 0) {
                    if (cur)
                        finish(cur);
                    char name[48];
                    snprintf(name, sizeof(name), "bitbrains-%s", f[0]);
                    cur = trace_new(tr, name);
                    if (!cur)
                        return -ENOMEM;
                    fr_strlcpy(curvm, f[0], sizeof(curvm));
                    ccap = mcap = 0;
                }
                double mp = mcap_kb > 0 ? muse_kb / mcap_kb * 100.0 : 0;
                if (push(&cur->cpu, &ccap, cur->n, (float)clampd(cpu, 0, 100)) != 0 ||
                    push(&cur->mem, &mcap, cur->n, (float)clampd(mp, 0, 100)) != 0)
                    return -ENOMEM;
                cur->n++;
            }
        }
        pos = end + 1;
    }
    if (cur)
        finish(cur);
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    fr_buf b = FR_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fr_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    *out = fr_buf_steal(&b);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fr_sim_traces_load_dir(fr_sim_traces *tr, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/nab_cloudwatch", dir);
    DIR *d = opendir(path);
    if (d) {
        char *names[64];
        size_t nn = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && nn < FR_ARRAY_SIZE(names))
            if (fr_str_startswith(e->d_name, "ec2_cpu_utilization_") && fr_str_endswith(e->d_name, ".csv"))
                names[nn++] = fr_strdup(e->d_name);
        closedir(d);
        /* directory order is not stable: sort for deterministic worlds */
        qsort(names, nn, sizeof(names[0]), cmp_str);
        for (size_t i = 0; i < nn; i++) {
            char fp[1200], name[48];
            snprintf(fp, sizeof(fp), "%s/%s", path, names[i]);
            snprintf(name, sizeof(name), "nab-%.*s", (int)(strlen(names[i]) - 4 - 20), names[i] + 20);
            char *text;
            size_t len;
            if (read_file(fp, &text, &len) == 0) {
                fr_sim_traces_parse_nab(tr, name, text, len);
                free(text);
            }
            free(names[i]);
        }
    }
    snprintf(path, sizeof(path), "%s/bitbrains/rnd_2013-07_8vms.csv", dir);
    char *text;
    size_t len;
    if (read_file(path, &text, &len) == 0) {
        fr_sim_traces_parse_bitbrains(tr, text, len);
        free(text);
    }
    return tr->n ? 0 : FR_ENOTFOUND;
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
