#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr_config.h"
#include "frugal/str.h"
#include "frugal/time.h"

#include "emr_test_util.h"

const char *emr_test_shared_data(void)
{
    const char *e = getenv("FRUGAL_SHARED_DATA");
    return e && *e ? e : FR_TEST_SHARED_DATA;
}

char *emr_read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(b, cap + 1);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = n;
    }
    return b;
}

fr_emr_catalog *emr_test_catalog(void)
{
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/instance-catalog.csv", FR_SOURCE_DATADIR);
    fr_emr_catalog *cat = NULL;
    if (fr_emr_catalog_load(path, &cat, err, sizeof(err)) != 0) {
        fprintf(stderr, "catalog: %s\n", err);
        abort();
    }
    return cat;
}

static void trace_push(emr_trace *t, size_t *cap, int64_t ts, double cpu, double mem, int with_mem)
{
    if (t->n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        t->t_ms = realloc(t->t_ms, *cap * sizeof(int64_t));
        t->cpu = realloc(t->cpu, *cap * sizeof(double));
        if (with_mem)
            t->mem = realloc(t->mem, *cap * sizeof(double));
        if (!t->t_ms || !t->cpu || (with_mem && !t->mem))
            abort();
    }
    t->t_ms[t->n] = ts;
    t->cpu[t->n] = cpu;
    if (with_mem)
        t->mem[t->n] = mem;
    t->n++;
}

size_t emr_load_bitbrains(emr_trace **out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/utilization/bitbrains/rnd_2013-07_8vms.csv", emr_test_shared_data());
    size_t len;
    char *text = emr_read_all(path, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        abort();
    }
    emr_trace *tr = NULL;
    size_t *caps = NULL;
    size_t nt = 0;
    char *save = text;
    char *line = strchr(save, '\n'); /* skip header */
    line = line ? line + 1 : NULL;
    while (line && *line) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        /* vm_id,timestamp_s,cpu_cores,cpu_capacity_mhz,cpu_usage_mhz,cpu_usage_pct,mem_capacity_kb,mem_usage_kb,... */
        char *f[12];
        int nf = 0;
        char *p = line;
        while (nf < 12) {
            f[nf++] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = '\0';
            p = c + 1;
        }
        if (nf >= 8) {
            size_t k;
            for (k = 0; k < nt; k++)
                if (strcmp(tr[k].id, f[0]) == 0)
                    break;
            if (k == nt) {
                tr = realloc(tr, (nt + 1) * sizeof(*tr));
                caps = realloc(caps, (nt + 1) * sizeof(*caps));
                memset(&tr[nt], 0, sizeof(*tr));
                caps[nt] = 0;
                fr_strlcpy(tr[nt].id, f[0], sizeof(tr[nt].id));
                int64_t cores;
                tr[nt].cores = fr_parse_i64(f[2], &cores) == 0 ? (int)cores : 0;
                nt++;
            }
            int64_t ts;
            double cpu, memcap, memuse;
            if (fr_parse_i64(f[1], &ts) == 0 && fr_parse_double(f[5], &cpu) == 0 &&
                fr_parse_double(f[6], &memcap) == 0 && fr_parse_double(f[7], &memuse) == 0 && memcap > 0)
                trace_push(&tr[k], &caps[k], ts * 1000, cpu, 100.0 * memuse / memcap, 1);
        }
        line = eol ? eol + 1 : NULL;
    }
    free(text);
    free(caps);
    *out = tr;
    return nt;
}

int emr_load_nab(const char *name, emr_trace *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/utilization/nab_cloudwatch/%s", emr_test_shared_data(), name);
    size_t len;
    char *text = emr_read_all(path, &len);
    if (!text)
        return -1;
    memset(out, 0, sizeof(*out));
    fr_strlcpy(out->id, name, sizeof(out->id));
    size_t cap = 0;
    char *line = strchr(text, '\n');
    line = line ? line + 1 : NULL;
    while (line && *line) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[l - 1] = '\0';
        char *c = strchr(line, ',');
        if (c) {
            *c = '\0';
            int64_t ts;
            double v;
            if (fr_time_parse(line, &ts) == 0 && fr_parse_double(c + 1, &v) == 0)
                trace_push(out, &cap, ts, v, 0, 0);
        }
        line = eol ? eol + 1 : NULL;
    }
    free(text);
    return 0;
}

void emr_traces_free(emr_trace *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].t_ms);
        free(t[i].cpu);
        free(t[i].mem);
    }
}
