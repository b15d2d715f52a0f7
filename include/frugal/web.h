/* The HTTP server: h2o (libuv build) on the daemon's loop.
 *
 *   /api/...   JSON REST routes registered with fr_web_route(); bearer token
 *              or session cookie required unless the route is public;
 *              cookie-authenticated unsafe methods need the CSRF header and a
 *              same-origin Origin.
 *   /metrics   Prometheus text (token required).
 *   anything else: the dashboard's static files, served from memory.
 *
 * Shutdown is two-phase because h2o_context_dispose() runs the loop itself
 * and so cannot be called from a loop callback: fr_web_close() closes the
 * listener and every connection and calls back; fr_web_free(), called once
 * uv_run() has returned, disposes of h2o. */
#ifndef FRUGAL_WEB_H
#define FRUGAL_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

typedef struct fr_web fr_web;
typedef struct fr_web_req fr_web_req;
typedef struct fr_web_async fr_web_async;

#define FR_WEB_DEFERRED 1

enum {
    FR_ROUTE_PUBLIC = 1,  /* no authentication */
    FR_ROUTE_NO_CSRF = 2, /* cookie-authenticated unsafe method without CSRF header (login only) */
};

typedef int (*fr_web_handler)(fr_web_req *r, void *arg);

struct fr_store;

typedef struct fr_web_config {
    const char *listen;   /* HOST:PORT */
    const char *web_root; /* may be NULL: no dashboard */
    const char *api_token;
    const unsigned char *session_secret;
    size_t session_secret_len;
    uint64_t session_ttl_ms;
    struct fr_store *store; /* optional: sessions revoked by logout stay revoked across restarts */
    size_t max_body;
    int max_connections;
} fr_web_config;

typedef struct fr_web_stats {
    uint64_t requests;
    uint64_t unauthorized;
    uint64_t connections;
    uint64_t static_files;
} fr_web_stats;

int fr_web_new(fr_web **out, uv_loop_t *loop, const fr_web_config *cfg);
/* Binds and listens; writes the bound "HOST:PORT" into bound. */
int fr_web_start(fr_web *w, char *bound, size_t n);
int fr_web_route(fr_web *w, const char *method, const char *pattern, fr_web_handler fn, void *arg, int flags);
typedef void (*fr_web_route_fn)(void *arg, const char *method, const char *pattern, int flags);
/* Calls fn for every registered route, in registration order. */
void fr_web_foreach_route(fr_web *w, fr_web_route_fn fn, void *arg);
/* The dashboard login (src/web/session.c):
 *   POST   /api/session {"token":...}  public; sets the HttpOnly SameSite=Strict
 *          session cookie, answers {"principal","csrf","expires","expires_ms"}
 *   GET    /api/session  who is asking ({"principal"}, plus "csrf" and
 *          "expires" for a session)
 *   DELETE /api/session  revokes the session (until its cookie would have
 *          expired; kept in the store when there is one) and clears the cookie */
int fr_web_add_session_routes(fr_web *w);
/* Lifetime of sessions created from now on (SIGHUP). */
void fr_web_set_session_ttl(fr_web *w, uint64_t ttl_ms);
/* Reloads static files (SIGHUP). */
int fr_web_reload_static(fr_web *w, const char *web_root);
/* Called first when fr_web_close starts (the feed closes its sockets here). */
void fr_web_on_close(fr_web *w, void (*fn)(void *arg), void *arg);
void fr_web_close(fr_web *w, void (*done)(void *arg), void *arg);
void fr_web_free(fr_web *w);
uv_loop_t *fr_web_loop(fr_web *w);
void fr_web_stats_get(const fr_web *w, fr_web_stats *st);
int fr_web_connections(const fr_web *w);

/* ---- inside a handler ---- */
const char *fr_web_method(fr_web_req *r);
const char *fr_web_path(fr_web_req *r);
const char *fr_web_param(fr_web_req *r, const char *name);
/* Decoded query parameter, or NULL. */
const char *fr_web_query(fr_web_req *r, const char *name);
/* Header value (NUL-terminated copy in the request pool), or NULL. */
const char *fr_web_header(fr_web_req *r, const char *lname);
/* "api-token" or "session:SID" */
const char *fr_web_principal(fr_web_req *r);
/* Parsed JSON body (an object). On a missing, non-JSON or malformed body it
 * answers 400/415 itself and returns NULL. Borrowed: owned by the request. */
json_t *fr_web_body(fr_web_req *r);
struct st_h2o_req_t *fr_web_h2o(fr_web_req *r);
fr_web *fr_web_of(fr_web_req *r);

/* Responses; body is stolen. */
void fr_web_json(fr_web_req *r, int status, json_t *body);
void fr_web_error(fr_web_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fr_web_send(fr_web_req *r, int status, const char *ctype, const char *body, size_t len);
void fr_web_add_header(fr_web_req *r, const char *name, const char *value);
bool fr_web_responded(fr_web_req *r);

/* Keeps the request open past the handler, which then returns
 * FR_WEB_DEFERRED. The async object is valid until one of the responders
 * below is called; if the client goes away first they do nothing. */
fr_web_async *fr_web_defer(fr_web_req *r);
void fr_web_async_json(fr_web_async *a, int status, json_t *body);
void fr_web_async_error(fr_web_async *a, int status, const char *code, const char *msg);
bool fr_web_async_alive(const fr_web_async *a);
fr_web_req *fr_web_async_req(fr_web_async *a);

#endif
