/* The daemon's modules: each starts after the shared services, is asked to
 * stop taking new work when a shutdown begins, reports when its in-flight
 * work is done, and closes its handles last. */
#ifndef FRUGAL_DAEMON_MODULES_H
#define FRUGAL_DAEMON_MODULES_H

#include <stddef.h>

#include "frugal/app.h"

typedef struct fr_module {
    const char *name;
    int (*start)(fr_app *a, char *err, size_t errlen);
    void (*drain)(fr_app *a);
    int (*busy)(fr_app *a);
    void (*stop)(fr_app *a);
    void (*reload)(fr_app *a);
} fr_module;

/* NULL-terminated, in start order (stopped in reverse). */
extern const fr_module *const fr_modules[];

#endif
