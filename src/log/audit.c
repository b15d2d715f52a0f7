#include "frugal/audit.h"
#include "frugal/log.h"
#include "frugal/redact.h"
#include "frugal/time.h"

static fr_audit_sink_fn sink_fn;
static void *sink_arg;

void fr_audit_set_sink(fr_audit_sink_fn fn, void *arg)
{
    sink_fn = fn;
    sink_arg = arg;
}

int fr_audit(const char *correlation_id, const char *event, json_t *fields)
{
    char ts[40];
    fr_time_iso8601(ts, sizeof(ts), fr_time_now_ms(), 1);
    json_t *rec = json_object();
    json_object_set_new(rec, "ts", json_string(ts));
    json_object_set_new(rec, "correlation_id", correlation_id ? json_string(correlation_id) : json_null());
    json_object_set_new(rec, "event", json_string(event));
    if (json_is_object(fields))
        json_object_update_missing(rec, fields);
    json_decref(fields);
    fr_redact_json(rec);

    int rc = sink_fn ? sink_fn(sink_arg, rec) : 0;

    json_t *line = json_deep_copy(rec);
    json_object_set_new(line, "stream", json_string("audit"));
    if (rc)
        json_object_set_new(line, "persist_error", json_integer(rc));
    /* The log line adds its own ts/level/event; keep the record's ts. */
    json_object_del(line, "event");
    fr_log_obj(FR_LOG_INFO, event, line);
    json_decref(rec);
    return rc;
}
