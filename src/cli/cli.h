/* The frugal CLI's internal interface. */
#ifndef FRUGAL_CLI_H
#define FRUGAL_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <jansson.h>

typedef struct fr_cli {
    char url[512];   /* http://host:port */
    char *token;
    bool json;
    bool verbose;
} fr_cli;

/* One REST call; returns the HTTP status (0 on transport error, message in
 * err) and the parsed body in *out (NULL if not JSON). */
long fr_cli_request(const fr_cli *c, const char *method, const char *path, const json_t *body, json_t **out,
                    char *err, size_t errlen);

/* `since` meaning "only events published from now on". */
#define FR_CLI_FEED_NOW ULLONG_MAX

/* Follows the feed after seq `since` (FR_CLI_FEED_NOW: from now), calling fn for each
 * event until fn returns non-zero or timeout_ms passes (0: no timeout).
 * Reconnects with ?since= after a dropped connection. Returns 0 when fn
 * stopped it, FR_* error otherwise. */
typedef int (*fr_cli_event_fn)(void *arg, const json_t *event);
int fr_cli_follow(const fr_cli *c, unsigned long long since, fr_cli_event_fn fn, void *arg, long timeout_ms);
/* What an error of fr_cli_follow means, in words (FR_EPARSE: the server sent
 * a frame that is not a JSON event). */
const char *fr_cli_follow_strerror(int rc);

/* frugal doctor (src/cli/doctor.c). */
int fr_cli_doctor(int argc, char **argv, const char *prog);

#endif
