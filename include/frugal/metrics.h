/* A small process-wide metrics registry rendered in Prometheus text format.
 * Metrics are created on first use; label sets are preformatted strings
 * such as service="emr". */
#ifndef FRUGAL_METRICS_H
#define FRUGAL_METRICS_H

#include "frugal/buf.h"

typedef enum { FR_METRIC_COUNTER, FR_METRIC_GAUGE } fr_metric_type;

typedef struct fr_metric fr_metric;

/* Registers the family (name, type, help) once; returns the series. */
fr_metric *fr_metric_get(const char *name, fr_metric_type type, const char *help, const char *labels);
void fr_metric_add(fr_metric *m, double v);
void fr_metric_set(fr_metric *m, double v);
double fr_metric_value(const fr_metric *m);
/* Convenience: get + add / set in one call. */
void fr_metric_inc(const char *name, const char *help, const char *labels, double v);
void fr_metric_put(const char *name, const char *help, const char *labels, double v);

int fr_metrics_render(fr_buf *out);
void fr_metrics_free(void);

#endif
