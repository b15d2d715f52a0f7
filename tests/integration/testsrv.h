/* A small HTTP/1.1 server on a libuv loop, for tests and the benchmark.
 *
 * It parses one request at a time per connection (keep-alive, Content-Length
 * bodies), records when each request arrived and how many were open at
 * once, and hands every request to a handler that answers at once, later
 * (ts_respond_later), partially, or never. It can also drop connections
 * right after accepting them. ts_close() closes every handle it owns. */
#ifndef FRUGAL_TESTSRV_H
#define FRUGAL_TESTSRV_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ts_server ts_server;
typedef struct ts_req ts_req;

typedef struct ts_req_info {
    const char *method;
    const char *path;    /* with the query */
    const char *headers; /* raw header block, "Name: value\r\n"... */
    const char *body;
    size_t body_len;
    uint64_t arrival_ns; /* uv_hrtime() when the request was complete */
    uint64_t seq;        /* 0-based order of arrival on this server */
} ts_req_info;

/* The handler owns r until it calls one of the ts_respond* / ts_drop
 * functions (now or later). A request never answered is freed when its
 * connection closes (the client gave up) or at ts_close(). */
typedef void (*ts_handler)(ts_server *s, ts_req *r, const ts_req_info *info, void *arg);

typedef struct ts_stats {
    uint64_t accepted;   /* connections */
    uint64_t requests;   /* complete requests parsed */
    uint64_t responses;  /* responses fully queued */
    int open_reqs;       /* requests received and not yet answered */
    int max_open_reqs;
    int conns;           /* open connections */
} ts_stats;

int ts_start(ts_server **out, uv_loop_t *loop, ts_handler h, void *arg, int *port);
/* The next n accepted connections are closed at once (reset when rst). */
void ts_drop_next_accepts(ts_server *s, int n, int rst);
void ts_stats_get(const ts_server *s, ts_stats *st);
/* Resets max_open_reqs to the current value. */
void ts_reset_max(ts_server *s);

/* A whole response; headers are extra "Name: value\r\n" lines or NULL. */
void ts_respond(ts_req *r, int status, const char *headers, const char *body, size_t len);
void ts_respond_later(ts_req *r, uint64_t delay_ms, int status, const char *headers, const char *body, size_t len);
/* Writes raw bytes then closes the connection (a response cut short). */
void ts_respond_raw_close(ts_req *r, const char *raw, size_t len);
/* Closes the connection without answering (reset when rst). */
void ts_drop(ts_req *r, int rst);
const ts_req_info *ts_req_get_info(const ts_req *r);

/* Closes the listener, every connection and timer; the server is freed
 * once its last handle is closed (run the loop). */
void ts_close(ts_server *s);

/* A header value from info->headers (case-insensitive name), copied into
 * out; 0 when found. */
int ts_header(const ts_req_info *info, const char *name, char *out, size_t n);

#endif
