#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/buf.h"
#include "frugal/err.h"
#include "frugal/http.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "fr_config.h"

enum req_state { RS_QUEUED, RS_ACTIVE, RS_DONE };

struct pool {
    char *key;
    int active;
    fr_http_req *qhead, *qtail;
};

struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    fr_http *c;
    struct sockctx *prev, *next;
};

struct fr_http_req {
    fr_http *c;
    CURL *easy;
    struct curl_slist *hdrs;
    char *url;
    char *method;
    void *body;
    size_t body_len;
    uint64_t timeout_ms, connect_timeout_ms;
    struct pool *pool;
    enum req_state state;
    int cancelled;
    int aborted_by_sink;
    fr_http_req *qnext;               /* pool queue */
    fr_http_req *aprev, *anext;       /* all live requests */
    fr_http_cb cb;
    void *arg;
    fr_http_data_cb on_data;
    void *data_arg;
    fr_buf body_in;
    fr_http_header *rh;
    size_t nrh, caprh;
    int too_big;
    int headers_done; /* the blank line ending the header block was seen */
    uint64_t t_send_ns, t_start_ns;
    char errbuf[CURL_ERROR_SIZE];
};

struct fr_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    uv_timer_t reap;
    fr_http_config cfg;
    char *ua;
    struct pool *pools;
    size_t npools;
    struct sockctx *socks;
    fr_http_req *live;
    int active_total;
    int in_curl_cb;   /* inside a libcurl callback: curl must not be re-entered */
    int need_reap;
    int closing;
    int open_handles;
    void (*close_done)(void *);
    void *close_arg;
    fr_http_stats stats;
};

static void pump(fr_http *c);
static void process_done(fr_http *c);

void fr_http_config_defaults(fr_http_config *cfg)
{
    cfg->timeout_ms = 30000;
    cfg->connect_timeout_ms = 5000;
    cfg->max_per_host = 64;
    cfg->max_total = 512;
    cfg->max_response = 64u << 20;
    cfg->user_agent = NULL;
}

const char *fr_http_resp_header(const fr_http_resp *r, const char *lname)
{
    for (size_t i = r->nheaders; i-- > 0;)
        if (strcmp(r->headers[i].name, lname) == 0)
            return r->headers[i].value;
    return NULL;
}

/* ---- handle bookkeeping ---- */

static void maybe_finish_close(fr_http *c)
{
    if (c->closing && c->open_handles == 0) {
        void (*done)(void *) = c->close_done;
        void *arg = c->close_arg;
        for (size_t i = 0; i < c->npools; i++)
            free(c->pools[i].key);
        free(c->pools);
        free(c->ua);
        free(c);
        if (done)
            done(arg);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    fr_http *c = h->data;
    c->open_handles--;
    maybe_finish_close(c);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sockctx *sc = h->data;
    fr_http *c = sc->c;
    free(sc);
    c->open_handles--;
    maybe_finish_close(c);
}

static void sock_close(struct sockctx *sc)
{
    fr_http *c = sc->c;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        c->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    c->stats.sockets--;
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
}

/* ---- curl -> uv ---- */

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sockctx *sc = h->data;
    fr_http *c = sc->c;
    int flags = 0;
    if (status < 0) {
        /* Let curl find the error on the socket itself. */
        flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_socket_t fd = sc->fd; /* sc may be freed by the socket callback */
    c->in_curl_cb++;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    c->in_curl_cb--;
    process_done(c);
}

static void on_timeout(uv_timer_t *t)
{
    fr_http *c = t->data;
    int running;
    c->in_curl_cb++;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    c->in_curl_cb--;
    /* The classic multi-uv example forgot this: transfers can finish on the
     * timeout path (timeouts, fast local responses), not only on socket events. */
    process_done(c);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    fr_http *c = userp;
    struct sockctx *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            curl_multi_assign(c->multi, s, NULL);
            sock_close(sc);
        }
        return 0;
    }
    if (!sc) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            return -1;
        sc->fd = s;
        sc->c = c;
        if (uv_poll_init_socket(c->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = sc;
        c->open_handles++;
        c->stats.sockets++;
        sc->next = c->socks;
        if (c->socks)
            c->socks->prev = sc;
        c->socks = sc;
        curl_multi_assign(c->multi, s, sc);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, on_poll);
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    fr_http *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0); /* 0: next iteration, not re-entrant */
    return 0;
}

/* ---- per-transfer callbacks ---- */

static size_t header_cb(char *buf, size_t size, size_t n, void *userp)
{
    fr_http_req *r = userp;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after 1xx or a retry by curl): forget old headers. */
        for (size_t i = 0; i < r->nrh; i++) {
            free(r->rh[i].name);
            free(r->rh[i].value);
        }
        r->nrh = 0;
        r->headers_done = 0;
        return len;
    }
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        r->headers_done = 1;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (r->nrh == r->caprh) {
        size_t cap = r->caprh ? r->caprh * 2 : 16;
        fr_http_header *p = realloc(r->rh, cap * sizeof(*p));
        if (!p)
            return 0;
        r->rh = p;
        r->caprh = cap;
    }
    char *name = fr_strndup(buf, nl), *val = fr_strndup(v, vl);
    if (!name || !val) {
        free(name);
        free(val);
        return 0;
    }
    fr_str_lower(name);
    r->rh[r->nrh].name = name;
    r->rh[r->nrh].value = val;
    r->nrh++;
    return len;
}

static size_t write_cb(char *buf, size_t size, size_t n, void *userp)
{
    fr_http_req *r = userp;
    size_t len = size * n;
    if (r->cancelled)
        return 0;
    if (r->on_data) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            if (r->on_data(buf, len, r->data_arg) < 0) {
                r->aborted_by_sink = 1;
                return 0;
            }
            return len;
        }
        /* Error bodies are buffered so the caller can parse them. */
    }
    if (r->body_in.len + len > r->c->cfg.max_response) {
        r->too_big = 1;
        return 0;
    }
    if (fr_buf_append(&r->body_in, buf, len) != 0)
        return 0;
    return len;
}

/* ---- request lifecycle ---- */

static struct pool *pool_get(fr_http *c, const char *key)
{
    for (size_t i = 0; i < c->npools; i++)
        if (strcmp(c->pools[i].key, key) == 0)
            return &c->pools[i];
    struct pool *p = realloc(c->pools, (c->npools + 1) * sizeof(*p));
    if (!p)
        return NULL;
    /* Requests hold pool pointers: fix them after the move. */
    if (p != c->pools) {
        for (fr_http_req *r = c->live; r; r = r->anext)
            if (r->pool)
                r->pool = p + (r->pool - c->pools);
    }
    c->pools = p;
    struct pool *np = &c->pools[c->npools++];
    memset(np, 0, sizeof(*np));
    np->key = fr_strdup(key);
    return np->key ? np : NULL;
}

static void pool_key_of(const char *url, fr_buf *out)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    }
    fr_buf_printf(out, "%s://%s:%s", scheme ? scheme : "?", host ? host : "?", port ? port : "?");
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

static void live_unlink(fr_http_req *r)
{
    fr_http *c = r->c;
    if (r->aprev)
        r->aprev->anext = r->anext;
    else if (c->live == r)
        c->live = r->anext;
    if (r->anext)
        r->anext->aprev = r->aprev;
    r->aprev = r->anext = NULL;
}

static void req_free(fr_http_req *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r->url);
    free(r->method);
    free(r->body);
    fr_buf_free(&r->body_in);
    for (size_t i = 0; i < r->nrh; i++) {
        free(r->rh[i].name);
        free(r->rh[i].value);
    }
    free(r->rh);
    free(r);
}

static void queue_remove(fr_http_req *r)
{
    struct pool *p = r->pool;
    fr_http_req **pp = &p->qhead, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp) {
        *pp = r->qnext;
        if (p->qtail == r)
            p->qtail = prev;
    }
    r->qnext = NULL;
    r->c->stats.queued--;
}

static int req_start(fr_http_req *r)
{
    fr_http *c = r->c;
    CURL *e = curl_easy_init();
    if (!e)
        return -ENOMEM;
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->ua);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "GET") != 0 || r->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if (strcmp(r->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    r->state = RS_ACTIVE;
    r->t_start_ns = fr_time_mono_ns();
    r->pool->active++;
    c->active_total++;
    c->stats.in_flight++;
    c->stats.started++;
    CURLMcode mc = curl_multi_add_handle(c->multi, e);
    if (mc != CURLM_OK) {
        r->pool->active--;
        c->active_total--;
        c->stats.in_flight--;
        return -EIO;
    }
    return 0;
}

static void deliver(fr_http_req *r, int err)
{
    fr_http_resp resp;
    memset(&resp, 0, sizeof(resp));
    resp.err = err;
    if (r->easy && !err) {
        long st = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
        resp.status = st;
    } else if (r->easy) {
        long st = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
        resp.status = st;
    }
    resp.headers = r->rh;
    resp.nheaders = r->nrh;
    resp.body = fr_buf_cstr(&r->body_in);
    resp.body_len = r->body_in.len;
    resp.errmsg = err ? (r->errbuf[0] ? r->errbuf : fr_strerror(err)) : NULL;
    uint64_t now = fr_time_mono_ns();
    resp.elapsed_ms = r->t_start_ns ? (double)(now - r->t_start_ns) / 1e6 : 0;
    resp.queued_ms = r->t_start_ns ? (double)(r->t_start_ns - r->t_send_ns) / 1e6 : 0;
    if (err)
        r->c->stats.transport_errors++;
    r->c->stats.completed++;
    if (r->cb && !r->cancelled)
        r->cb(&resp, r->arg);
}

static void finish_active(fr_http_req *r, CURLcode res)
{
    fr_http *c = r->c;
    r->pool->active--;
    c->active_total--;
    c->stats.in_flight--;
    r->state = RS_DONE;
    live_unlink(r);
    int err = fr_err_from_curl(res);
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    /* curl reports success for a connection closed in the middle of the
     * header block ("HTTP/1.1 200 OK\r\nContent-Le" EOF): that is a reset,
     * not an empty 200. */
    if (!err && status > 0 && !r->headers_done)
        err = -ECONNRESET;
    if (r->too_big)
        err = -E2BIG;
    else if (r->aborted_by_sink)
        err = -ECANCELED;
    deliver(r, err);
    req_free(r);
}

static void process_done(fr_http *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result;
        fr_http_req *r = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(c->multi, e);
        finish_active(r, res);
        if (c->closing)
            return;
    }
    pump(c);
}

static void pump(fr_http *c)
{
    if (c->closing)
        return;
    int progress = 1;
    while (progress && c->active_total < c->cfg.max_total) {
        progress = 0;
        for (size_t i = 0; i < c->npools && c->active_total < c->cfg.max_total; i++) {
            struct pool *p = &c->pools[i];
            if (p->qhead && p->active < c->cfg.max_per_host) {
                fr_http_req *r = p->qhead;
                queue_remove(r);
                if (req_start(r) != 0) {
                    r->state = RS_DONE;
                    live_unlink(r);
                    deliver(r, -EIO);
                    req_free(r);
                }
                progress = 1;
            }
        }
    }
}

static void on_reap(uv_timer_t *t)
{
    fr_http *c = t->data;
    c->need_reap = 0;
    fr_http_req *r = c->live, *next;
    for (; r; r = next) {
        next = r->anext;
        if (r->cancelled && r->state == RS_ACTIVE) {
            curl_multi_remove_handle(c->multi, r->easy);
            r->pool->active--;
            c->active_total--;
            c->stats.in_flight--;
            live_unlink(r);
            req_free(r);
        }
    }
    pump(c);
}

int fr_http_new(fr_http **out, uv_loop_t *loop, const fr_http_config *cfg)
{
    static int global_ready;
    if (!global_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -EIO;
        global_ready = 1;
    }
    fr_http *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    if (cfg)
        c->cfg = *cfg;
    else
        fr_http_config_defaults(&c->cfg);
    if (c->cfg.max_per_host <= 0)
        c->cfg.max_per_host = 64;
    if (c->cfg.max_total <= 0)
        c->cfg.max_total = 512;
    if (!c->cfg.max_response)
        c->cfg.max_response = 64u << 20;
    c->ua = fr_strdup(c->cfg.user_agent ? c->cfg.user_agent : "frugal/" FR_VERSION);
    c->cfg.user_agent = c->ua;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c->ua);
        free(c);
        return -ENOMEM;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->cfg.max_total);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_init(loop, &c->reap);
    c->reap.data = c;
    c->open_handles = 2;
    *out = c;
    return 0;
}

int fr_http_send(fr_http *c, const fr_http_opts *o, fr_http_cb cb, void *arg, fr_http_req **out)
{
    if (out)
        *out = NULL;
    if (c->closing)
        return -ECANCELED;
    if (!o->url)
        return -EINVAL;
    fr_http_req *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    r->on_data = o->on_data;
    r->data_arg = o->data_arg;
    r->url = fr_strdup(o->url);
    r->method = fr_strdup(o->method ? o->method : "GET");
    r->timeout_ms = o->timeout_ms ? o->timeout_ms : c->cfg.timeout_ms;
    r->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : c->cfg.connect_timeout_ms;
    if (r->connect_timeout_ms > r->timeout_ms)
        r->connect_timeout_ms = r->timeout_ms;
    if (o->body) {
        r->body = malloc(o->body_len ? o->body_len : 1);
        if (r->body)
            memcpy(r->body, o->body, o->body_len);
        r->body_len = o->body_len;
    }
    int bad = !r->url || !r->method || (o->body && !r->body);
    for (size_t i = 0; i < o->nheaders && !bad; i++) {
        struct curl_slist *n = curl_slist_append(r->hdrs, o->headers[i]);
        if (!n)
            bad = 1;
        else
            r->hdrs = n;
    }
    /* curl would otherwise add Expect: 100-continue for larger bodies. */
    if (!bad) {
        struct curl_slist *n = curl_slist_append(r->hdrs, "Expect:");
        if (n)
            r->hdrs = n;
    }
    fr_buf key = FR_BUF_INIT;
    if (o->pool)
        fr_buf_puts(&key, o->pool);
    else
        pool_key_of(o->url, &key);
    r->pool = bad ? NULL : pool_get(c, fr_buf_cstr(&key));
    fr_buf_free(&key);
    if (bad || !r->pool) {
        req_free(r);
        return -ENOMEM;
    }
    r->t_send_ns = fr_time_mono_ns();
    r->anext = c->live;
    if (c->live)
        c->live->aprev = r;
    c->live = r;
    r->state = RS_QUEUED;
    if (r->pool->qtail)
        r->pool->qtail->qnext = r;
    else
        r->pool->qhead = r;
    r->pool->qtail = r;
    c->stats.queued++;
    if (out)
        *out = r;
    if (!c->in_curl_cb)
        pump(c);
    else if (!c->need_reap) {
        c->need_reap = 1;
        uv_timer_start(&c->reap, on_reap, 0, 0);
    }
    return 0;
}

void fr_http_cancel(fr_http_req *r)
{
    if (!r || r->cancelled)
        return;
    fr_http *c = r->c;
    r->cancelled = 1;
    /* Inside its own callback the request is already finished and is freed
     * when the callback returns. */
    if (r->state == RS_DONE)
        return;
    if (r->state == RS_QUEUED) {
        queue_remove(r);
        live_unlink(r);
        req_free(r);
        return;
    }
    if (c->in_curl_cb) {
        if (!c->need_reap) {
            c->need_reap = 1;
            uv_timer_start(&c->reap, on_reap, 0, 0);
        }
        return;
    }
    curl_multi_remove_handle(c->multi, r->easy);
    r->pool->active--;
    c->active_total--;
    c->stats.in_flight--;
    live_unlink(r);
    req_free(r);
    pump(c);
}

void fr_http_close(fr_http *c, void (*done)(void *arg), void *arg)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->close_done = done;
    c->close_arg = arg;
    while (c->live) {
        fr_http_req *r = c->live;
        live_unlink(r);
        if (r->state == RS_ACTIVE)
            curl_multi_remove_handle(c->multi, r->easy);
        req_free(r);
    }
    curl_multi_cleanup(c->multi); /* may report CURL_POLL_REMOVE for cached sockets */
    c->multi = NULL;
    while (c->socks)
        sock_close(c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->reap, on_handle_closed);
}

void fr_http_stats_get(const fr_http *c, fr_http_stats *st)
{
    *st = c->stats;
}
