#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/log.h"
#include "frugal/redact.h"
#include "frugal/time.h"

static fr_log_level cur_level = FR_LOG_INFO;
static FILE *out_file;
static json_t *base_fields;

static const char *names[] = {"debug", "info", "warn", "error", "off"};

void fr_log_set_level(fr_log_level lvl)
{
    cur_level = lvl;
}

fr_log_level fr_log_get_level(void)
{
    return cur_level;
}

const char *fr_log_level_name(fr_log_level lvl)
{
    return lvl <= FR_LOG_OFF ? names[lvl] : "?";
}

int fr_log_level_parse(const char *s, fr_log_level *out)
{
    for (int i = 0; i <= FR_LOG_OFF; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *out = (fr_log_level)i;
            return 0;
        }
    if (strcasecmp(s, "warning") == 0) {
        *out = FR_LOG_WARN;
        return 0;
    }
    return -1;
}

void fr_log_set_output(FILE *f)
{
    out_file = f;
}

void fr_log_set_base(json_t *fields)
{
    json_decref(base_fields);
    base_fields = fields;
}

int fr_log_enabled(fr_log_level lvl)
{
    return lvl >= cur_level && cur_level != FR_LOG_OFF;
}

void fr_log_obj(fr_log_level lvl, const char *event, json_t *fields)
{
    if (!fr_log_enabled(lvl)) {
        json_decref(fields);
        return;
    }
    char ts[40];
    fr_time_iso8601(ts, sizeof(ts), fr_time_now_ms(), 1);
    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(names[lvl]));
    json_object_set_new(line, "event", json_string(event ? event : "log"));
    if (base_fields)
        json_object_update_missing(line, base_fields);
    if (json_is_object(fields))
        json_object_update_missing(line, fields);
    json_decref(fields);
    fr_redact_json(line);
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(line);
    if (!s)
        return;
    FILE *f = out_file ? out_file : stdout;
    size_t n = strlen(s);
    s[n] = '\n';
    fwrite(s, 1, n + 1, f);
    fflush(f);
    free(s);
}

void fr_log(fr_log_level lvl, const char *event, const char *fmt, ...)
{
    if (!fr_log_enabled(lvl))
        return;
    json_t *fields = NULL;
    if (fmt) {
        va_list ap;
        json_error_t jerr;
        va_start(ap, fmt);
        fields = json_vpack_ex(&jerr, 0, fmt, ap);
        va_end(ap);
        if (!fields)
            fields = json_pack("{s:s}", "log_format_error", jerr.text);
    }
    fr_log_obj(lvl, event, fields);
}
