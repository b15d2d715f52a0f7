/* JSON-lines logging to stdout (journald-friendly), one object per line:
 *   {"ts":"...Z","level":"info","event":"ready",...fields}
 * Every line passes through the redactor (frugal/redact.h) first. */
#ifndef FRUGAL_LOG_H
#define FRUGAL_LOG_H

#include <stdio.h>
#include <jansson.h>

typedef enum { FR_LOG_DEBUG = 0, FR_LOG_INFO, FR_LOG_WARN, FR_LOG_ERROR, FR_LOG_OFF } fr_log_level;

void fr_log_set_level(fr_log_level lvl);
fr_log_level fr_log_get_level(void);
int fr_log_level_parse(const char *s, fr_log_level *out);
const char *fr_log_level_name(fr_log_level lvl);
/* Default is stdout; tests may redirect to a memstream. */
void fr_log_set_output(FILE *f);
/* Extra fixed fields on every line (e.g. {"service":"frugald"}); stolen. */
void fr_log_set_base(json_t *fields);

/* fmt is a jansson json_pack() object format ("{s:s, s:i}") or NULL. */
void fr_log(fr_log_level lvl, const char *event, const char *fmt, ...);
/* Takes ownership of fields (may be NULL). */
void fr_log_obj(fr_log_level lvl, const char *event, json_t *fields);
int fr_log_enabled(fr_log_level lvl);

#define fr_log_debug(ev, ...) fr_log(FR_LOG_DEBUG, ev, __VA_ARGS__)
#define fr_log_info(ev, ...) fr_log(FR_LOG_INFO, ev, __VA_ARGS__)
#define fr_log_warn(ev, ...) fr_log(FR_LOG_WARN, ev, __VA_ARGS__)
#define fr_log_error(ev, ...) fr_log(FR_LOG_ERROR, ev, __VA_ARGS__)

#endif
