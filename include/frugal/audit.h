/* The audit stream: every infrastructure-changing action is one record
 *   {ts, correlation_id, event, ...fields}
 * written to the log with "stream":"audit" and handed to a sink that
 * persists it (the daemon installs the LMDB sink). */
#ifndef FRUGAL_AUDIT_H
#define FRUGAL_AUDIT_H

#include <stdint.h>
#include <jansson.h>

/* The sink receives the final (redacted) record; it must not keep it. */
typedef int (*fr_audit_sink_fn)(void *arg, const json_t *record);

void fr_audit_set_sink(fr_audit_sink_fn fn, void *arg);
/* Steals fields. Returns the sink's result (0 when no sink). */
int fr_audit(const char *correlation_id, const char *event, json_t *fields);

#endif
