/* Helpers of the EMR unit tests: the shipped catalog and the real traces of
 * ../shared/data/utilization/. */
#ifndef EMR_TEST_UTIL_H
#define EMR_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/emr_catalog.h"

/* $FRUGAL_SHARED_DATA, else FR_TEST_SHARED_DATA. */
const char *emr_test_shared_data(void);
/* The shipped data/instance-catalog.csv (aborts on failure). */
fr_emr_catalog *emr_test_catalog(void);

/* One VM of the Bitbrains trace: timestamps (ms) and CPU/memory percent. */
typedef struct emr_trace {
    char id[32];
    int cores;
    size_t n;
    int64_t *t_ms;
    double *cpu;
    double *mem;
} emr_trace;

/* Loads every VM of utilization/bitbrains/rnd_2013-07_8vms.csv (sorted by
 * time); returns the count, *out to free with emr_traces_free. */
size_t emr_load_bitbrains(emr_trace **out);
/* Loads a NAB CloudWatch CSV ("timestamp,value") into one trace (mem NULL). */
int emr_load_nab(const char *name, emr_trace *out);
void emr_traces_free(emr_trace *t, size_t n);

/* Reads a whole file; NULL on error. *len set. */
char *emr_read_all(const char *path, size_t *len);

#endif
