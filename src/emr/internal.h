/* Helpers shared by the EMR agent's pure modules (not a public API). */
#ifndef FRUGAL_EMR_INTERNAL_H
#define FRUGAL_EMR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "frugal/buf.h"

/* Reads a whole file (at most max bytes, else -EFBIG) into b. */
/* Lower-case letters, digits, '-' around exactly one '.'. */
bool fr_emr_type_name_valid(const char *s);
/* A JSON number rounded to `digits` decimals; null for NaN. */
json_t *fr_emr_json_num(double v, int digits);
/* Linear-interpolation percentile (p in [0,1]) of a sorted array (n > 0). */
double fr_emr_percentile_sorted(const double *a, size_t n, double p);
/* Sorts then takes the percentile (a is reordered). */
double fr_emr_percentile(double *a, size_t n, double p);

#endif
