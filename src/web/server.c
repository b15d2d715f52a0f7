#define H2O_USE_LIBUV 1
#include <h2o.h>
#include <h2o/websocket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "frugal/auth.h"
#include "frugal/err.h"
#include "frugal/h2oconn.h"
#include "frugal/log.h"
#include "frugal/metrics.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "frugal/web.h"
#include "internal.h"

struct handler {
    h2o_handler_t super;
    fr_web *w;
};

struct hook {
    void (*fn)(void *);
    void *arg;
};

struct fr_web {
    uv_loop_t *loop;
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int listening;
    int listener_open;
    fr_h2o_conns conns;
    fr_route *routes;
    size_t nroutes;
    fr_auth auth;
    fr_web_sessions *sessions;
    fr_static *statics;
    char *listen;
    size_t max_body;
    int max_connections;
    fr_web_async *pending;
    struct hook *hooks;
    size_t nhooks;
    int closing;
    int close_reported;
    void (*close_done)(void *);
    void *close_arg;
    fr_web_stats stats;
};

struct fr_web_async {
    fr_web_req *wr;
    fr_web *w;
    fr_web_async *prev, *next;
};

struct fr_web_req {
    h2o_req_t *req;
    fr_web *w;
    fr_route_params params;
    const char *principal;
    json_t *body;
    int responded;
    fr_web_async *async;
    char *query; /* decoded pairs "k\0v\0k\0v\0\0", parsed lazily */
    int query_parsed;
    int query_bad; /* a pair with a broken %-escape or a %00 */
};

/* ---- request object ---- */

static void dispose_wr(void *p)
{
    fr_web_req *wr = p;
    fr_route_params_free(&wr->params);
    json_decref(wr->body);
    free(wr->query);
    if (wr->async)
        wr->async->wr = NULL; /* the client went away before the answer */
}

fr_web *fr_web_of(fr_web_req *r)
{
    return r->w;
}

struct st_h2o_req_t *fr_web_h2o(fr_web_req *r)
{
    return r->req;
}

const char *fr_web_method(fr_web_req *r)
{
    return h2o_strdup(&r->req->pool, r->req->method.base, r->req->method.len).base;
}

const char *fr_web_path(fr_web_req *r)
{
    return h2o_strdup(&r->req->pool, r->req->path_normalized.base, r->req->path_normalized.len).base;
}

const char *fr_web_param(fr_web_req *r, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->params.n; i++) {
        const char *pn = r->params.name[i]; /* "{name}" */
        if (strlen(pn) == nl + 2 && strncmp(pn + 1, name, nl) == 0)
            return r->params.value[i];
    }
    return NULL;
}

static void parse_query(fr_web_req *r)
{
    r->query_parsed = 1;
    h2o_req_t *req = r->req;
    if (req->query_at == SIZE_MAX)
        return;
    const char *q = req->path.base + req->query_at + 1;
    size_t ql = req->path.len - req->query_at - 1;
    fr_buf out = FR_BUF_INIT;
    size_t pos = 0;
    while (pos < ql) {
        size_t end = pos;
        while (end < ql && q[end] != '&')
            end++;
        const char *eq = memchr(q + pos, '=', end - pos);
        size_t kl = eq ? (size_t)(eq - (q + pos)) : end - pos;
        fr_buf k = FR_BUF_INIT, v = FR_BUF_INIT;
        /* A NUL inside a name or value would shift the pairs after it (and
         * could smuggle a parameter in); such a query is refused whole. */
        if (kl && fr_uri_decode(&k, q + pos, kl, true) == 0 &&
            (!eq || fr_uri_decode(&v, eq + 1, (size_t)(q + end - eq - 1), true) == 0) &&
            !memchr(fr_buf_cstr(&k), '\0', k.len) && !memchr(fr_buf_cstr(&v), '\0', v.len)) {
            fr_buf_append(&out, fr_buf_cstr(&k), k.len);
            fr_buf_putc(&out, '\0');
            fr_buf_append(&out, fr_buf_cstr(&v), v.len);
            fr_buf_putc(&out, '\0');
        } else if (kl) {
            r->query_bad = 1;
        }
        fr_buf_free(&k);
        fr_buf_free(&v);
        pos = end + 1;
    }
    fr_buf_putc(&out, '\0');
    r->query = fr_buf_steal(&out);
}

const char *fr_web_query(fr_web_req *r, const char *name)
{
    if (!r->query_parsed)
        parse_query(r);
    for (const char *p = r->query; p && *p;) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

const char *fr_web_header(fr_web_req *r, const char *lname)
{
    ssize_t i = h2o_find_header_by_str(&r->req->headers, lname, strlen(lname), -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = r->req->headers.entries[i].value;
    return h2o_strdup(&r->req->pool, v.base, v.len).base;
}

const char *fr_web_principal(fr_web_req *r)
{
    return r->principal ? r->principal : "anonymous";
}

bool fr_web_responded(fr_web_req *r)
{
    return r->responded;
}

void fr_web_add_header(fr_web_req *r, const char *name, const char *value)
{
    h2o_req_t *req = r->req;
    h2o_iovec_t n = h2o_strdup(&req->pool, name, strlen(name));
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, h2o_strdup(&req->pool, value, strlen(value)).base,
                          strlen(value));
}

static void send_common(fr_web_req *r, int status, const char *ctype, const char *body, size_t len, int api)
{
    if (r->responded)
        return;
    r->responded = 1;
    h2o_req_t *req = r->req;
    req->res.status = status;
    req->res.reason = fr_h2o_reason(status);
    if (ctype)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    if (api)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    static h2o_generator_t gen = {NULL, NULL};
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head)
        req->res.content_length = len;
    h2o_start_response(req, &gen);
    if (head || len == 0) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t buf = h2o_strdup(&req->pool, body, len);
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
    }
    if (fr_log_enabled(FR_LOG_DEBUG))
        fr_log_debug("http.request", "{s:s%, s:s%, s:i}", "method", req->method.base, req->method.len, "path",
                     req->path.base, req->path.len, "status", status);
}

void fr_web_send(fr_web_req *r, int status, const char *ctype, const char *body, size_t len)
{
    send_common(r, status, ctype, body, len, 1);
}

void fr_web_json(fr_web_req *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(body);
    if (!s) {
        send_common(r, 500, "application/json", "{\"error\":\"encode\"}", 18, 1);
        return;
    }
    send_common(r, status, "application/json", s, strlen(s), 1);
    free(s);
}

static void error_json(fr_web_req *r, int status, const char *code, const char *msg)
{
    json_t *j = json_pack("{s:s, s:s}", "error", code, "message", msg);
    fr_web_json(r, status, j);
}

void fr_web_error(fr_web_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    error_json(r, status, code, msg);
}

json_t *fr_web_body(fr_web_req *r)
{
    if (r->body)
        return r->body;
    h2o_req_t *req = r->req;
    if (req->entity.base == NULL || req->entity.len == 0) {
        fr_web_error(r, 400, "body_required", "a JSON object body is required");
        return NULL;
    }
    const char *ct = fr_web_header(r, "content-type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        fr_web_error(r, 415, "unsupported_media_type", "Content-Type must be application/json");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        fr_web_error(r, 400, "malformed_json", "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        fr_web_error(r, 400, "malformed_json", "the body must be a JSON object");
        return NULL;
    }
    r->body = j;
    return j;
}

/* ---- deferred responses ---- */

fr_web_async *fr_web_defer(fr_web_req *r)
{
    fr_web_async *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->wr = r;
    a->w = r->w;
    r->async = a;
    a->next = r->w->pending;
    if (a->next)
        a->next->prev = a;
    r->w->pending = a;
    return a;
}

static void async_done(fr_web_async *a)
{
    if (a->wr)
        a->wr->async = NULL;
    if (a->prev)
        a->prev->next = a->next;
    else if (a->w->pending == a)
        a->w->pending = a->next;
    if (a->next)
        a->next->prev = a->prev;
    free(a);
}

bool fr_web_async_alive(const fr_web_async *a)
{
    return a && a->wr != NULL;
}

fr_web_req *fr_web_async_req(fr_web_async *a)
{
    return a->wr;
}

void fr_web_async_json(fr_web_async *a, int status, json_t *body)
{
    if (a->wr)
        fr_web_json(a->wr, status, body);
    else
        json_decref(body);
    async_done(a);
}

void fr_web_async_error(fr_web_async *a, int status, const char *code, const char *msg)
{
    if (a->wr)
        error_json(a->wr, status, code, msg);
    async_done(a);
}

/* ---- authentication ---- */

bool fr_web_same_origin(fr_web_req *r)
{
    const char *origin = fr_web_header(r, "origin");
    if (!origin) {
        const char *sfs = fr_web_header(r, "sec-fetch-site");
        return !sfs || strcmp(sfs, "cross-site") != 0;
    }
    const char *p = strstr(origin, "://");
    if (!p)
        return false;
    p += 3;
    h2o_iovec_t auth = r->req->authority;
    return strlen(p) == auth.len && strncasecmp(p, auth.base, auth.len) == 0;
}

fr_auth *fr_web_auth_of(fr_web *w)
{
    return &w->auth;
}

fr_web_sessions *fr_web_sessions_of(fr_web *w)
{
    return w->sessions;
}

void fr_web_set_session_ttl(fr_web *w, uint64_t ttl_ms)
{
    if (ttl_ms)
        w->auth.ttl_ms = ttl_ms;
}

bool fr_web_is_https(fr_web_req *r)
{
    return r->req->scheme == &H2O_URL_SCHEME_HTTPS;
}

void fr_web_count_unauthorized(fr_web *w)
{
    w->stats.unauthorized++;
    fr_metric_inc("frugal_http_unauthorized_total", "Requests refused for missing or bad credentials", "", 1);
}

static int authenticate(fr_web_req *r, int flags)
{
    fr_web *w = r->w;
    const char *authz = fr_web_header(r, "authorization");
    if (authz && fr_auth_check_bearer(&w->auth, authz)) {
        r->principal = "api-token";
        return 0;
    }
    char cookie[128], sid[FR_SID_HEX + 1];
    if (!authz && fr_cookie_get(fr_web_header(r, "cookie"), FR_SESSION_COOKIE, cookie, sizeof(cookie)) == 0 &&
        fr_auth_session_verify(&w->auth, cookie, fr_time_now_ms(), sid) == 0 &&
        !fr_web_sessions_revoked(w->sessions, sid, fr_time_now_ms())) {
        char *pr = h2o_mem_alloc_pool(&r->req->pool, 32);
        snprintf(pr, 32, "session:%s", sid);
        r->principal = pr;
        h2o_iovec_t m = r->req->method;
        int safe = h2o_memis(m.base, m.len, H2O_STRLIT("GET")) || h2o_memis(m.base, m.len, H2O_STRLIT("HEAD"));
        /* Cookies ride along on cross-site requests; the CSRF header and the
         * Origin cannot be forged by another site. The WebSocket handshake is
         * a GET, so check its Origin too (cross-site WebSocket hijacking). */
        if (!fr_web_same_origin(r)) {
            fr_web_count_unauthorized(w);
            fr_web_error(r, 403, "cross_origin", "cross-origin request refused");
            return FR_EDENIED;
        }
        if (!safe && !(flags & FR_ROUTE_NO_CSRF)) {
            char want[FR_CSRF_HEX + 1];
            fr_auth_csrf(&w->auth, sid, want);
            const char *got = fr_web_header(r, "x-csrf-token");
            if (!got || !fr_secure_eq(got, strlen(got), want, FR_CSRF_HEX)) {
                fr_web_count_unauthorized(w);
                fr_web_error(r, 403, "csrf", "missing or wrong X-CSRF-Token");
                return FR_EDENIED;
            }
        }
        return 0;
    }
    fr_web_count_unauthorized(w);
    fr_web_add_header(r, "www-authenticate", "Bearer realm=\"frugal\"");
    fr_web_error(r, 401, "unauthorized", "a valid bearer token or session is required");
    return FR_EDENIED;
}

/* ---- dispatch ---- */

static fr_web_req *new_wr(fr_web *w, h2o_req_t *req)
{
    fr_web_req *wr = h2o_mem_alloc_shared(&req->pool, sizeof(*wr), dispose_wr);
    memset(wr, 0, sizeof(*wr));
    wr->req = req;
    wr->w = w;
    return wr;
}

static void handle_api(fr_web *w, fr_web_req *wr)
{
    h2o_req_t *req = wr->req;
    h2o_iovec_t path = req->path_normalized;
    int path_matched = 0;
    fr_buf allow = FR_BUF_INIT;
    for (size_t i = 0; i < w->nroutes; i++) {
        fr_route *rt = &w->routes[i];
        fr_route_params p;
        if (!fr_route_match(rt, path.base, path.len, &p))
            continue;
        int mm = h2o_memis(req->method.base, req->method.len, rt->method, strlen(rt->method)) ||
                 (strcmp(rt->method, "GET") == 0 && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")));
        if (!mm) {
            path_matched = 1;
            fr_buf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
            fr_route_params_free(&p);
            continue;
        }
        wr->params = p;
        fr_buf_free(&allow);
        if (!(rt->flags & FR_ROUTE_PUBLIC) && authenticate(wr, rt->flags) != 0)
            return;
        if (!wr->query_parsed)
            parse_query(wr);
        if (wr->query_bad) {
            /* dropping the pair would let a handler fall back to its default */
            fr_web_error(wr, 400, "bad_query", "the query string has a malformed %%-escape or a %%00");
            return;
        }
        int rc = rt->fn(wr, rt->arg);
        if (rc == FR_WEB_DEFERRED)
            return;
        if (!wr->responded)
            fr_web_error(wr, 500, "internal", "%s", rc ? fr_strerror(rc) : "no response");
        return;
    }
    if (path_matched) {
        fr_web_add_header(wr, "allow", fr_buf_cstr(&allow));
        fr_web_error(wr, 405, "method_not_allowed", "allowed: %s", fr_buf_cstr(&allow));
    } else {
        fr_web_error(wr, 404, "not_found", "no such endpoint");
    }
    fr_buf_free(&allow);
}

/* Static files and /metrics are read-only: anything but GET/HEAD is a 405. */
static int refuse_unless_get(fr_web_req *wr)
{
    h2o_req_t *req = wr->req;
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return 0;
    fr_web_add_header(wr, "allow", "GET, HEAD");
    fr_web_error(wr, 405, "method_not_allowed", "allowed: GET, HEAD");
    return 1;
}

static void handle_metrics(fr_web *w, fr_web_req *wr)
{
    if (refuse_unless_get(wr) || authenticate(wr, 0) != 0)
        return;
    fr_buf b = FR_BUF_INIT;
    fr_metric_put("frugal_http_server_connections", "Open HTTP connections", "", (double)w->conns.n);
    fr_metrics_render(&b);
    fr_web_send(wr, 200, "text/plain; version=0.0.4", fr_buf_cstr(&b), b.len);
    fr_buf_free(&b);
}

static void handle_static(fr_web *w, fr_web_req *wr)
{
    h2o_req_t *req = wr->req;
    if (refuse_unless_get(wr))
        return;
    const fr_static_file *f = fr_static_find(w->statics, req->path_normalized.base, req->path_normalized.len);
    if (!f) {
        send_common(wr, 404, "text/plain; charset=utf-8", "not found\n", 10, 0);
        return;
    }
    w->stats.static_files++;
    const char *inm = fr_web_header(wr, "if-none-match");
    fr_web_add_header(wr, "etag", f->etag);
    fr_web_add_header(wr, "cache-control", "no-cache");
    fr_web_add_header(wr, "referrer-policy", "no-referrer");
    if (fr_str_endswith(f->url, ".html")) {
        fr_web_add_header(wr, "content-security-policy",
                          "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
        fr_web_add_header(wr, "x-frame-options", "DENY");
    }
    if (inm && strcmp(inm, f->etag) == 0) {
        send_common(wr, 304, NULL, "", 0, 0);
        return;
    }
    send_common(wr, 200, f->ctype, f->data, f->len, 0);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    fr_web *w = ((struct handler *)self)->w;
    w->stats.requests++;
    fr_web_req *wr = new_wr(w, req);
    h2o_iovec_t path = req->path_normalized;
    if (w->closing) {
        error_json(wr, 503, "shutting_down", "frugald is shutting down");
        return 0;
    }
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/api")) ||
        (path.len > 5 && memcmp(path.base, "/api/", 5) == 0))
        handle_api(w, wr);
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")))
        handle_metrics(w, wr);
    else
        handle_static(w, wr);
    return 0;
}

/* ---- connections ---- */

static void maybe_closed(fr_web *w)
{
    if (w->closing && !w->close_reported && w->conns.n == 0 && !w->listener_open) {
        w->close_reported = 1;
        if (w->close_done)
            w->close_done(w->close_arg);
    }
}

static void on_conn_closed(void *arg)
{
    maybe_closed(arg);
}

static void on_accept(uv_stream_t *listener, int status)
{
    fr_web *w = listener->data;
    if (status != 0)
        return;
    if (fr_h2o_conns_accept(&w->conns, listener, &w->accept_ctx,
                            w->closing || w->conns.n >= w->max_connections) == 0)
        w->stats.connections++;
}

static void on_listener_closed(uv_handle_t *h)
{
    fr_web *w = h->data;
    w->listener_open = 0;
    maybe_closed(w);
}

int fr_web_new(fr_web **out, uv_loop_t *loop, const fr_web_config *cfg)
{
    *out = NULL;
    fr_web *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->loop = loop;
    w->conns.on_closed = on_conn_closed;
    w->conns.arg = w;
    w->listen = fr_strdup(cfg->listen ? cfg->listen : "127.0.0.1:8787");
    w->max_body = cfg->max_body ? cfg->max_body : (1u << 20);
    w->max_connections = cfg->max_connections > 0 ? cfg->max_connections : 4096;
    int rc = fr_auth_init(&w->auth, cfg->api_token, cfg->session_secret, cfg->session_secret_len,
                          cfg->session_ttl_ms ? cfg->session_ttl_ms : 12 * 3600 * 1000ULL);
    if (rc == 0)
        rc = fr_web_sessions_new(&w->sessions, cfg->store, fr_time_now_ms());
    if (rc) {
        fr_auth_free(&w->auth);
        free(w->listen);
        free(w);
        return rc;
    }
    if (cfg->web_root) {
        char err[256];
        if (fr_static_load(&w->statics, cfg->web_root, err, sizeof(err)) != 0)
            fr_log_warn("web.static_unavailable", "{s:s}", "error", err);
    }
    h2o_config_init(&w->globalconf);
    w->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("frugal"));
    w->globalconf.max_request_entity_size = w->max_body;
    w->globalconf.http1.req_timeout = 30000;
    h2o_hostconf_t *host = h2o_config_register_host(&w->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    struct handler *hd = (struct handler *)h2o_create_handler(pc, sizeof(*hd));
    hd->super.on_req = on_req;
    hd->w = w;
    h2o_context_init(&w->ctx, loop, &w->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = w->globalconf.hosts;
    *out = w;
    return 0;
}

int fr_web_start(fr_web *w, char *bound, size_t n)
{
    char host[256];
    int port;
    if (fr_parse_hostport(w->listen, host, sizeof(host), &port) != 0)
        return FR_ECONFIG;
    struct sockaddr_storage ss;
    int rc;
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc)
        return fr_err_from_uv(rc);
    uv_tcp_init(w->loop, &w->listener);
    w->listener.data = w;
    w->listener_open = 1;
    if ((rc = uv_tcp_bind(&w->listener, (struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&w->listener, 511, on_accept)) != 0) {
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
        return fr_err_from_uv(rc);
    }
    w->listening = 1;
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(&w->listener, (struct sockaddr *)&got, &len);
    char ip[64] = "";
    int p = 0;
    if (got.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&got, ip, sizeof(ip));
        p = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
        snprintf(bound, n, "[%s]:%d", ip, p);
    } else {
        uv_ip4_name((struct sockaddr_in *)&got, ip, sizeof(ip));
        p = ntohs(((struct sockaddr_in *)&got)->sin_port);
        snprintf(bound, n, "%s:%d", ip, p);
    }
    return 0;
}

int fr_web_route(fr_web *w, const char *method, const char *pattern, fr_web_handler fn, void *arg, int flags)
{
    fr_route *nr = realloc(w->routes, (w->nroutes + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    w->routes = nr;
    int rc = fr_route_init(&w->routes[w->nroutes], method, pattern);
    if (rc) {
        fr_route_free(&w->routes[w->nroutes]);
        return rc;
    }
    w->routes[w->nroutes].fn = fn;
    w->routes[w->nroutes].arg = arg;
    w->routes[w->nroutes].flags = flags;
    w->nroutes++;
    return 0;
}

void fr_web_foreach_route(fr_web *w, fr_web_route_fn fn, void *arg)
{
    for (size_t i = 0; i < w->nroutes; i++)
        fn(arg, w->routes[i].method, w->routes[i].pattern, w->routes[i].flags);
}

int fr_web_reload_static(fr_web *w, const char *web_root)
{
    fr_static *s;
    char err[256];
    int rc = fr_static_load(&s, web_root, err, sizeof(err));
    if (rc) {
        fr_log_warn("web.static_reload_failed", "{s:s}", "error", err);
        return rc;
    }
    fr_static_free(w->statics);
    w->statics = s;
    return 0;
}

void fr_web_on_close(fr_web *w, void (*fn)(void *), void *arg)
{
    struct hook *h = realloc(w->hooks, (w->nhooks + 1) * sizeof(*h));
    if (!h)
        return;
    w->hooks = h;
    w->hooks[w->nhooks++] = (struct hook){fn, arg};
}

void fr_web_close(fr_web *w, void (*done)(void *), void *arg)
{
    if (w->closing)
        return;
    w->closing = 1;
    w->close_done = done;
    w->close_arg = arg;
    for (size_t i = 0; i < w->nhooks; i++)
        w->hooks[i].fn(w->hooks[i].arg);
    /* A failed fr_web_start() has already begun closing the listener. */
    if (w->listener_open && !uv_is_closing((uv_handle_t *)&w->listener)) {
        w->listening = 0;
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
    }
    /* Whatever is still waiting gets an answer instead of a reset. */
    for (fr_web_async *a = w->pending; a; a = a->next)
        if (a->wr) {
            error_json(a->wr, 503, "shutting_down", "frugald is shutting down");
            a->wr->async = NULL;
            a->wr = NULL;
        }
    fr_h2o_conns_shutdown(&w->conns);
    maybe_closed(w);
}

void fr_web_free(fr_web *w)
{
    if (!w)
        return;
    h2o_context_dispose(&w->ctx);
    h2o_config_dispose(&w->globalconf);
    for (size_t i = 0; i < w->nroutes; i++)
        fr_route_free(&w->routes[i]);
    free(w->routes);
    while (w->pending) {
        fr_web_async *a = w->pending;
        w->pending = a->next;
        free(a);
    }
    fr_static_free(w->statics);
    fr_auth_free(&w->auth);
    fr_web_sessions_free(w->sessions);
    free(w->hooks);
    free(w->listen);
    free(w);
}

uv_loop_t *fr_web_loop(fr_web *w)
{
    return w->loop;
}

void fr_web_stats_get(const fr_web *w, fr_web_stats *st)
{
    *st = w->stats;
}

int fr_web_connections(const fr_web *w)
{
    return w->conns.n;
}
