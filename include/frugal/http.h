/* Asynchronous HTTP client: libcurl easy handles on one multi handle, driven
 * by the libuv loop (one uv_poll_t per socket, one uv_timer_t for curl's
 * timeout). Requests are queued per pool (default: scheme://host:port) so no
 * host sees more than max_per_host requests at once; connections are reused
 * by curl's connection cache.
 *
 * Callbacks run on the loop, never from inside a libcurl callback, except
 * on_data (streaming), which must not call fr_http_* functions other than
 * fr_http_cancel (which then defers itself). */
#ifndef FRUGAL_HTTP_H
#define FRUGAL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct fr_http fr_http;
typedef struct fr_http_req fr_http_req;

typedef struct fr_http_header {
    char *name; /* lower case */
    char *value;
} fr_http_header;

typedef struct fr_http_resp {
    int err;     /* 0, or a transport error: -ETIMEDOUT, -ECONNRESET, -ECONNREFUSED, FR_ERESOLVE, -E2BIG, ... */
    long status; /* HTTP status, 0 when no response */
    const fr_http_header *headers;
    size_t nheaders;
    const char *body; /* NUL-terminated; "" when streamed or empty */
    size_t body_len;
    const char *errmsg; /* curl's message when err != 0 */
    double elapsed_ms;
    double queued_ms;
} fr_http_resp;

typedef void (*fr_http_cb)(const fr_http_resp *resp, void *arg);
/* Streaming body sink; return < 0 to abort the transfer (-ECANCELED). */
typedef int (*fr_http_data_cb)(const char *data, size_t len, void *arg);

typedef struct fr_http_opts {
    const char *method; /* default GET */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    const void *body;
    size_t body_len;
    uint64_t timeout_ms;         /* 0: client default */
    uint64_t connect_timeout_ms; /* 0: client default */
    const char *pool;            /* concurrency key; NULL: scheme://host:port */
    fr_http_data_cb on_data;
    void *data_arg;
} fr_http_opts;

typedef struct fr_http_config {
    uint64_t timeout_ms;
    uint64_t connect_timeout_ms;
    int max_per_host;
    int max_total;
    size_t max_response;
    const char *user_agent;
} fr_http_config;

typedef struct fr_http_stats {
    uint64_t in_flight;
    uint64_t queued;
    uint64_t started;
    uint64_t completed;
    uint64_t transport_errors;
    uint64_t sockets;
} fr_http_stats;

void fr_http_config_defaults(fr_http_config *cfg);
int fr_http_new(fr_http **out, uv_loop_t *loop, const fr_http_config *cfg);
/* Copies everything in opts. The callback is called exactly once unless the
 * request is cancelled first. */
int fr_http_send(fr_http *c, const fr_http_opts *o, fr_http_cb cb, void *arg, fr_http_req **out);
/* No callback after this. Safe from any callback. */
void fr_http_cancel(fr_http_req *r);
/* Cancels everything, closes every handle; done (optional) runs once the
 * last handle is closed and the client is freed. */
void fr_http_close(fr_http *c, void (*done)(void *arg), void *arg);
void fr_http_stats_get(const fr_http *c, fr_http_stats *st);

const char *fr_http_resp_header(const fr_http_resp *r, const char *lname);

#endif
