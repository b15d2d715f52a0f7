/* Private to src/web. */
#ifndef FRUGAL_WEB_INTERNAL_H
#define FRUGAL_WEB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frugal/auth.h"
#include "frugal/web.h"

#define FR_ROUTE_MAX_PARAMS 6

typedef struct fr_route {
    char *method;
    char *pattern;
    char **segs;
    size_t nsegs;
    fr_web_handler fn;
    void *arg;
    int flags;
} fr_route;

typedef struct fr_route_params {
    size_t n;
    const char *name[FR_ROUTE_MAX_PARAMS];
    char *value[FR_ROUTE_MAX_PARAMS]; /* decoded, malloc'd */
} fr_route_params;

int fr_route_init(fr_route *r, const char *method, const char *pattern);
void fr_route_free(fr_route *r);
/* 1 on match (params filled; caller frees with fr_route_params_free), 0 otherwise. */
int fr_route_match(const fr_route *r, const char *path, size_t plen, fr_route_params *p);
void fr_route_params_free(fr_route_params *p);

typedef struct fr_static_file {
    char *url; /* "/index.html" */
    char *data;
    size_t len;
    const char *ctype;
    char etag[24];
} fr_static_file;

typedef struct fr_static {
    fr_static_file *files;
    size_t n;
    size_t bytes;
} fr_static;

int fr_static_load(fr_static **out, const char *root, char *err, size_t errlen);
const fr_static_file *fr_static_find(const fr_static *s, const char *path, size_t len);
void fr_static_free(fr_static *s);
const char *fr_static_ctype(const char *name);

/* The server's authenticator (session endpoints sign and check cookies). */
fr_auth *fr_web_auth_of(fr_web *w);
/* true when the request's Origin (or Sec-Fetch-Site) is this server. */
bool fr_web_same_origin(fr_web_req *r);
bool fr_web_is_https(fr_web_req *r);
void fr_web_count_unauthorized(fr_web *w);

/* Sessions revoked by logout (src/web/session.c): a cookie stays valid by
 * its signature until it expires, so logout records its id until then. */
typedef struct fr_web_sessions fr_web_sessions;
struct fr_store;
int fr_web_sessions_new(fr_web_sessions **out, struct fr_store *store, int64_t now_ms);
void fr_web_sessions_free(fr_web_sessions *s);
bool fr_web_sessions_revoked(const fr_web_sessions *s, const char *sid, int64_t now_ms);
int fr_web_sessions_revoke(fr_web_sessions *s, const char *sid, int64_t expires_ms, int64_t now_ms);
fr_web_sessions *fr_web_sessions_of(fr_web *w);

#endif
