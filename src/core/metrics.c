#include <stdlib.h>
#include <string.h>

#include "frugal/metrics.h"
#include "frugal/str.h"

struct fr_metric {
    char *name;
    char *labels;
    char *help;
    fr_metric_type type;
    double value;
};

static fr_metric **series;
static size_t nseries, capseries;

fr_metric *fr_metric_get(const char *name, fr_metric_type type, const char *help, const char *labels)
{
    if (!labels)
        labels = "";
    for (size_t i = 0; i < nseries; i++)
        if (strcmp(series[i]->name, name) == 0 && strcmp(series[i]->labels, labels) == 0)
            return series[i];
    if (nseries == capseries) {
        size_t cap = capseries ? capseries * 2 : 64;
        fr_metric **p = realloc(series, cap * sizeof(*p));
        if (!p)
            return NULL;
        series = p;
        capseries = cap;
    }
    fr_metric *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->name = fr_strdup(name);
    m->labels = fr_strdup(labels);
    m->help = fr_strdup(help ? help : "");
    m->type = type;
    series[nseries++] = m;
    return m;
}

void fr_metric_add(fr_metric *m, double v)
{
    if (m)
        m->value += v;
}

void fr_metric_set(fr_metric *m, double v)
{
    if (m)
        m->value = v;
}

double fr_metric_value(const fr_metric *m)
{
    return m ? m->value : 0;
}

void fr_metric_inc(const char *name, const char *help, const char *labels, double v)
{
    fr_metric_add(fr_metric_get(name, FR_METRIC_COUNTER, help, labels), v);
}

void fr_metric_put(const char *name, const char *help, const char *labels, double v)
{
    fr_metric_set(fr_metric_get(name, FR_METRIC_GAUGE, help, labels), v);
}

static int cmp_series(const void *a, const void *b)
{
    const fr_metric *x = *(fr_metric *const *)a, *y = *(fr_metric *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

int fr_metrics_render(fr_buf *out)
{
    fr_metric **sorted = malloc((nseries ? nseries : 1) * sizeof(*sorted));
    if (!sorted)
        return -1;
    memcpy(sorted, series, nseries * sizeof(*sorted));
    qsort(sorted, nseries, sizeof(*sorted), cmp_series);
    const char *last = NULL;
    for (size_t i = 0; i < nseries; i++) {
        fr_metric *m = sorted[i];
        if (!last || strcmp(last, m->name) != 0) {
            fr_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                          m->type == FR_METRIC_COUNTER ? "counter" : "gauge");
            last = m->name;
        }
        if (m->labels[0])
            fr_buf_printf(out, "%s{%s} %.15g\n", m->name, m->labels, m->value);
        else
            fr_buf_printf(out, "%s %.15g\n", m->name, m->value);
    }
    free(sorted);
    return 0;
}

void fr_metrics_free(void)
{
    for (size_t i = 0; i < nseries; i++) {
        free(series[i]->name);
        free(series[i]->labels);
        free(series[i]->help);
        free(series[i]);
    }
    free(series);
    series = NULL;
    nseries = capseries = 0;
}
