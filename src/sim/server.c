#define H2O_USE_LIBUV 1
#include <h2o.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "frugal/err.h"
#include "frugal/h2oconn.h"
#include "frugal/log.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "route.h"
#include "server.h"

#define TICK_MS 50
#define MAX_BODY (32u << 20)

struct fr_sim_server;

struct listener {
    uv_tcp_t tcp; /* first: the close callback gets this handle */
    struct fr_sim_server *srv;
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    bool imds;
    bool used, open, conf_inited, ctx_inited;
    char bound[128];
};

struct handler {
    h2o_handler_t super;
    struct listener *l;
};

enum { P_LATENCY, P_SQS, P_STREAM };

struct req_ref;

/* A request answered later. Lives until its timer has closed and its
 * request is answered or gone. */
struct pending {
    struct fr_sim_server *srv;
    h2o_req_t *req;
    struct req_ref *ref;
    uv_timer_t timer;
    int kind;
    fr_sim_resp resp;
    fr_sim_fault_decision fault;
    fr_sim_outcome out; /* SQS: the parked call */
    char qname[96];
    uint64_t qversion;
    int64_t deadline_ms; /* real */
    /* streaming */
    h2o_generator_t gen;
    size_t sent, len, chunk;
    uint64_t interval_ms;
    bool sse_events, waiting_proceed, started, finishing;
    struct pending *prev, *next;
};

struct req_ref {
    struct pending *p;
};

struct fr_sim_server {
    uv_loop_t *loop;
    fr_sim *sim;
    struct listener api, imds;
    fr_h2o_conns conns;
    struct pending *pendings;
    int npendings;
    uv_timer_t tick;
    bool tick_open;
    bool closing;
    bool close_reported;
    void (*done)(void *);
    void *done_arg;
};

static void maybe_closed(struct fr_sim_server *s)
{
    if (s->closing && !s->close_reported && s->conns.n == 0 && !s->api.open && !s->imds.open && !s->tick_open &&
        s->npendings == 0) {
        s->close_reported = true;
        if (s->done)
            s->done(s->done_arg);
    }
}

/* ---- responses ---- */

static void add_headers(h2o_req_t *req, const fr_sim_resp *r)
{
    if (r->ctype[0])
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       h2o_strdup(&req->pool, r->ctype, SIZE_MAX).base, strlen(r->ctype));
    for (int i = 0; i < r->nhdrs; i++) {
        h2o_iovec_t n = h2o_strdup(&req->pool, r->hdrs[i].name, SIZE_MAX);
        h2o_iovec_t v = h2o_strdup(&req->pool, r->hdrs[i].value, SIZE_MAX);
        h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
    }
}

/* A malformed body: cut short, so JSON/XML parsers fail on it. */
static size_t body_len(const fr_sim_resp *r, bool malformed)
{
    size_t len = r->body.len;
    if (malformed && len > 1)
        len = len / 2;
    return len;
}

static void send_now(h2o_req_t *req, const fr_sim_resp *r, bool malformed)
{
    static h2o_generator_t gen = {NULL, NULL};
    req->res.status = r->status ? r->status : 500;
    req->res.reason = fr_h2o_reason(req->res.status);
    add_headers(req, r);
    size_t len = body_len(r, malformed);
    bool head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    req->res.content_length = len;
    h2o_start_response(req, &gen);
    if (head || len == 0) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t b = h2o_strdup(&req->pool, r->body.data, len);
        h2o_send(req, &b, 1, H2O_SEND_STATE_FINAL);
    }
}

/* Closes the connection under a request without answering it: the client
 * sees the connection drop (RST once h2o closes the socket). */
static void reset_conn(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    int fd = sock ? h2o_socket_get_fd(sock) : -1;
    if (fd >= 0) {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        shutdown(fd, SHUT_RDWR);
    }
    /* the write fails on the shut socket and h2o closes the connection */
    static h2o_generator_t gen = {NULL, NULL};
    req->res.status = 500;
    req->res.reason = "Internal Server Error";
    req->res.content_length = 0;
    h2o_start_response(req, &gen);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

/* ---- pending requests ---- */

static void on_pending_closed(uv_handle_t *h)
{
    struct pending *p = h->data;
    struct fr_sim_server *s = p->srv;
    fr_sim_resp_free(&p->resp);
    if (p->kind == P_SQS)
        fr_sim_call_free(&p->out.call);
    free(p);
    s->npendings--;
    maybe_closed(s);
}

static void finish(struct pending *p)
{
    if (p->finishing)
        return;
    p->finishing = true;
    if (p->ref)
        p->ref->p = NULL;
    p->ref = NULL;
    p->req = NULL;
    struct fr_sim_server *s = p->srv;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pendings = p->next;
    if (p->next)
        p->next->prev = p->prev;
    uv_close((uv_handle_t *)&p->timer, on_pending_closed);
}

static void dispose_ref(void *arg)
{
    struct req_ref *ref = arg;
    struct pending *p = ref->p;
    if (!p)
        return;
    /* the client went away before the answer */
    p->req = NULL;
    p->ref = NULL;
    finish(p);
}

static struct pending *new_pending(struct fr_sim_server *s, h2o_req_t *req, int kind)
{
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->srv = s;
    p->req = req;
    p->kind = kind;
    fr_sim_resp_init(&p->resp);
    uv_timer_init(s->loop, &p->timer);
    p->timer.data = p;
    p->ref = h2o_mem_alloc_shared(&req->pool, sizeof(*p->ref), dispose_ref);
    p->ref->p = p;
    p->next = s->pendings;
    if (s->pendings)
        s->pendings->prev = p;
    s->pendings = p;
    s->npendings++;
    return p;
}

static size_t next_chunk_end(const struct pending *p)
{
    if (p->sse_events) {
        const char *b = p->resp.body.data;
        for (size_t i = p->sent; i + 1 < p->len; i++)
            if (b[i] == '\n' && b[i + 1] == '\n')
                return i + 2;
        return p->len;
    }
    size_t e = p->sent + p->chunk;
    return e > p->len ? p->len : e;
}

static void stream_next(struct pending *p)
{
    h2o_req_t *req = p->req;
    if (!req) {
        finish(p);
        return;
    }
    size_t end = next_chunk_end(p);
    h2o_iovec_t b = h2o_strdup(&req->pool, p->resp.body.data + p->sent, end - p->sent);
    p->sent = end;
    bool final = p->sent >= p->len;
    p->waiting_proceed = !final;
    h2o_send(req, &b, 1, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
    if (final)
        finish(p);
}

static void on_stream_timer(uv_timer_t *t)
{
    stream_next(t->data);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct pending *p = FR_CONTAINER_OF(gen, struct pending, gen);
    p->waiting_proceed = false;
    if (p->srv->closing) {
        stream_next(p);
        return;
    }
    uv_timer_start(&p->timer, on_stream_timer, p->interval_ms, 0);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    struct pending *p = FR_CONTAINER_OF(gen, struct pending, gen);
    p->req = NULL;
    finish(p);
}

/* Sends the body in pieces over `total_ms` (slow bodies) or one SSE event
 * every interval (paced streams). */
static void stream_start(struct pending *p, bool malformed, uint64_t total_ms, uint64_t interval_ms)
{
    h2o_req_t *req = p->req;
    p->kind = P_STREAM;
    p->len = body_len(&p->resp, malformed);
    p->sse_events = p->resp.sse && interval_ms > 0;
    size_t pieces = p->len < 10 ? (p->len ? p->len : 1) : 10;
    p->chunk = (p->len + pieces - 1) / pieces;
    if (!p->chunk)
        p->chunk = 1;
    p->interval_ms = interval_ms ? interval_ms : total_ms / pieces;
    p->gen.proceed = on_proceed;
    p->gen.stop = on_stop;
    req->res.status = p->resp.status;
    req->res.reason = fr_h2o_reason(p->resp.status);
    add_headers(req, &p->resp);
    req->res.content_length = p->resp.sse ? SIZE_MAX : p->len;
    p->started = true;
    h2o_start_response(req, &p->gen);
    if (p->len == 0) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        finish(p);
        return;
    }
    stream_next(p);
}

/* Answers a request now or after the injected latency, slowly or not. */
static void deliver(struct fr_sim_server *s, struct pending *p, h2o_req_t *req, fr_sim_resp *r,
                    const fr_sim_fault_decision *fd, int64_t pace_ms)
{
    if (fd->action == FR_SIM_FAULT_RESET) {
        reset_conn(req);
        if (p)
            finish(p);
        return;
    }
    if (fd->slow_body_ms > 0 || (r->sse && pace_ms > 0)) {
        if (!p)
            p = new_pending(s, req, P_STREAM);
        if (!p) {
            send_now(req, r, fd->malformed);
            return;
        }
        if (&p->resp != r) {
            fr_sim_resp_free(&p->resp);
            p->resp = *r;
            fr_sim_resp_init(r);
        }
        stream_start(p, fd->malformed, (uint64_t)fd->slow_body_ms, (uint64_t)(pace_ms > 0 ? pace_ms : 0));
        return;
    }
    send_now(req, r, fd->malformed);
    if (p)
        finish(p);
}

static void on_latency(uv_timer_t *t)
{
    struct pending *p = t->data;
    if (!p->req) {
        finish(p);
        return;
    }
    fr_sim_fault_decision fd = p->fault;
    fd.latency_ms = 0;
    deliver(p->srv, p, p->req, &p->resp, &fd, 0);
}

static void after_latency(struct fr_sim_server *s, h2o_req_t *req, fr_sim_resp *r, const fr_sim_fault_decision *fd,
                          int64_t pace_ms)
{
    if (fd->latency_ms >= 1 && !s->closing) {
        struct pending *p = new_pending(s, req, P_LATENCY);
        if (p) {
            p->resp = *r;
            fr_sim_resp_init(r);
            p->fault = *fd;
            uv_timer_start(&p->timer, on_latency, (uint64_t)fd->latency_ms, 0);
            return;
        }
    }
    deliver(s, NULL, req, r, fd, pace_ms);
}

/* ---- SQS long polls ---- */

static void sqs_answer(struct pending *p, bool may_wait)
{
    struct fr_sim_server *s = p->srv;
    fr_sim_resp r;
    fr_sim_resp_init(&r);
    int64_t real = fr_time_now_ms();
    fr_sim_sqs_retry(s->sim, &p->out, real, may_wait, &r);
    if (p->out.wait_ms > 0 && may_wait) {
        fr_sim_queue *q = fr_sim_sqs_find(&s->sim->sqs, p->qname);
        p->qversion = q ? q->version : 0;
        fr_sim_resp_free(&r);
        return;
    }
    if (p->out.wait_ms > 0) {
        /* the deadline passed with nothing to deliver: an empty answer */
        fr_sim_resp_free(&r);
        fr_sim_resp_init(&r);
        fr_sim_ok_json(&p->out.call, &r, json_object());
    }
    uv_timer_stop(&p->timer);
    h2o_req_t *req = p->req;
    fr_sim_fault_decision fd = p->fault;
    fd.latency_ms = 0;
    finish(p);
    if (req)
        deliver(s, NULL, req, &r, &fd, 0);
    fr_sim_resp_free(&r);
}

static void on_sqs_timer(uv_timer_t *t)
{
    struct pending *p = t->data;
    if (!p->req) {
        finish(p);
        return;
    }
    int64_t now = fr_time_now_ms();
    if (now >= p->deadline_ms - 2) {
        sqs_answer(p, false);
        return;
    }
    /* an in-flight message may have become visible */
    sqs_answer(p, true);
    if (!p->finishing)
        uv_timer_start(&p->timer, on_sqs_timer, (uint64_t)(p->deadline_ms - now), 0);
}

static void check_waiters(struct fr_sim_server *s)
{
    for (struct pending *p = s->pendings, *next; p; p = next) {
        next = p->next;
        if (p->kind != P_SQS || p->finishing || !p->req)
            continue;
        fr_sim_queue *q = fr_sim_sqs_find(&s->sim->sqs, p->qname);
        if (!q) {
            sqs_answer(p, false);
            continue;
        }
        if (q->version != p->qversion)
            sqs_answer(p, true);
    }
}

/* ---- requests ---- */

static fr_sigv4_header *capture_headers(h2o_req_t *req, size_t *n)
{
    fr_sigv4_header *hs = h2o_mem_alloc_pool(&req->pool, sizeof(*hs) * (req->headers.size + 1));
    for (size_t i = 0; i < req->headers.size; i++) {
        h2o_header_t *h = &req->headers.entries[i];
        hs[i].name = h2o_strdup(&req->pool, h->name->base, h->name->len).base;
        hs[i].value = h2o_strdup(&req->pool, h->value.base, h->value.len).base;
    }
    *n = req->headers.size;
    return hs;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct listener *l = ((struct handler *)self)->l;
    struct fr_sim_server *s = l->srv;
    fr_sim *sim = s->sim;
    uint64_t mono = fr_time_mono_ms();
    int64_t real = fr_time_now_ms();
    fr_sim_raw_req raw;
    memset(&raw, 0, sizeof(raw));
    raw.method = h2o_strdup(&req->pool, req->method.base, req->method.len).base;
    raw.path = h2o_strdup(&req->pool, req->path.base, req->path.len).base;
    raw.path_len = req->path.len;
    raw.host = h2o_strdup(&req->pool, req->input.authority.base, req->input.authority.len).base;
    raw.headers = capture_headers(req, &raw.nheaders);
    raw.body = req->entity.base ? req->entity.base : "";
    raw.body_len = req->entity.base ? req->entity.len : 0;
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    char *path = h2o_strdup(&req->pool, req->path.base, plen).base;
    const char *query = req->query_at == SIZE_MAX ? NULL : raw.path + req->query_at + 1;

    fr_sim_resp r;
    fr_sim_resp_init(&r);
    fr_sim_fault_decision fd;
    memset(&fd, 0, sizeof(fd));
    if (s->closing) {
        fr_sim_resp_raw(&r, 503, "application/json", "{\"error\":\"shutting_down\"}", 25);
        send_now(req, &r, false);
        fr_sim_resp_free(&r);
        return 0;
    }
    int64_t pace = 0;
    if (l->imds) {
        fr_sim_handle_imds(sim, &raw, path, mono, real, &r, &fd);
        after_latency(s, req, &r, &fd, 0);
    } else if (fr_str_startswith(path, "/_sim/") || strcmp(path, "/_sim") == 0) {
        fr_sim_control(sim, raw.method, path, query, raw.body, raw.body_len, mono, real, &r);
        send_now(req, &r, false);
        check_waiters(s);
    } else if (fr_str_startswith(path, "/openai/") || strcmp(path, "/v1/chat/completions") == 0) {
        fr_sim_handle_chat(sim, &raw, path, query, real, &r, &fd, &pace);
        after_latency(s, req, &r, &fd, pace);
    } else {
        fr_sim_outcome out;
        fr_sim_handle_aws(sim, &raw, mono, real, &r, &out);
        if (out.wait_ms > 0) {
            struct pending *p = new_pending(s, req, P_SQS);
            if (!p) {
                fr_sim_call_free(&out.call);
                fr_sim_resp_raw(&r, 500, "application/json", "{}", 2);
                send_now(req, &r, false);
            } else {
                p->out = out;
                p->fault = out.fault;
                fr_strlcpy(p->qname, out.queue ? out.queue->name : "", sizeof(p->qname));
                p->qversion = out.queue ? out.queue->version : 0;
                p->deadline_ms = real + out.wait_ms;
                uv_timer_start(&p->timer, on_sqs_timer, (uint64_t)out.wait_ms, 0);
            }
        } else {
            after_latency(s, req, &r, &out.fault, 0);
        }
        if (out.svc == FR_SIM_SVC_SQS || out.svc == FR_SIM_SVC_EC2)
            check_waiters(s);
    }
    fr_sim_resp_free(&r);
    return 0;
}

/* ---- connections and listeners ---- */

static void on_conn_closed(void *arg)
{
    maybe_closed(arg);
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct listener *l = listener->data;
    if (status == 0)
        fr_h2o_conns_accept(&l->srv->conns, listener, &l->accept, l->srv->closing);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    l->open = false;
    maybe_closed(l->srv);
}

static int bind_listener(struct fr_sim_server *s, struct listener *l, const char *addr, bool imds, char *err,
                         size_t errlen)
{
    char host[256];
    int port;
    if (fr_parse_hostport(addr, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "bad listen address '%s' (want ADDR:PORT)", addr);
        return FR_ECONFIG;
    }
    struct sockaddr_storage ss;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc) {
        snprintf(err, errlen, "bad listen address '%s': %s", addr, uv_strerror(rc));
        return fr_err_from_uv(rc);
    }
    l->srv = s;
    l->imds = imds;
    l->used = true;
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    l->open = true;
    if ((rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0)) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return fr_err_from_uv(rc);
    }
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&got, &len);
    char ip[64] = "";
    if (got.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&got, ip, sizeof(ip));
        snprintf(l->bound, sizeof(l->bound), "[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&got)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&got, ip, sizeof(ip));
        snprintf(l->bound, sizeof(l->bound), "%s:%d", ip, ntohs(((struct sockaddr_in *)&got)->sin_port));
    }
    h2o_config_init(&l->conf);
    l->conf_inited = true;
    l->conf.server_name = h2o_iovec_init(H2O_STRLIT("frugal-sim"));
    l->conf.max_request_entity_size = MAX_BODY;
    l->conf.http1.req_timeout = 60000;
    h2o_hostconf_t *host_conf = h2o_config_register_host(&l->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host_conf, "/", 0);
    struct handler *hd = (struct handler *)h2o_create_handler(pc, sizeof(*hd));
    hd->super.on_req = on_req;
    hd->l = l;
    h2o_context_init(&l->ctx, s->loop, &l->conf);
    l->ctx_inited = true;
    l->accept.ctx = &l->ctx;
    l->accept.hosts = l->conf.hosts;
    return 0;
}

int fr_sim_server_new(fr_sim_server **out, uv_loop_t *loop, const char *listen, const char *imds_listen,
                      char *err, size_t errlen)
{
    *out = NULL;
    fr_sim_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->conns.on_closed = on_conn_closed;
    s->conns.arg = s;
    int rc = bind_listener(s, &s->api, listen, false, err, errlen);
    if (rc == 0 && imds_listen && *imds_listen)
        rc = bind_listener(s, &s->imds, imds_listen, true, err, errlen);
    *out = s;
    return rc;
}

const char *fr_sim_server_bound(const fr_sim_server *s)
{
    return s->api.bound;
}

const char *fr_sim_server_imds_bound(const fr_sim_server *s)
{
    return s->imds.used ? s->imds.bound : NULL;
}

static void on_tick(uv_timer_t *t)
{
    struct fr_sim_server *s = t->data;
    fr_sim_tick(s->sim, fr_time_mono_ms());
    check_waiters(s);
}

int fr_sim_server_start(fr_sim_server *s, fr_sim *sim)
{
    s->sim = sim;
    int rc = uv_listen((uv_stream_t *)&s->api.tcp, 511, on_accept);
    if (rc == 0 && s->imds.used)
        rc = uv_listen((uv_stream_t *)&s->imds.tcp, 511, on_accept);
    if (rc)
        return fr_err_from_uv(rc);
    uv_timer_init(s->loop, &s->tick);
    s->tick.data = s;
    s->tick_open = true;
    uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    return 0;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct fr_sim_server *s = h->data;
    s->tick_open = false;
    maybe_closed(s);
}

void fr_sim_server_close(fr_sim_server *s, void (*done)(void *), void *arg)
{
    if (s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    if (s->api.open)
        uv_close((uv_handle_t *)&s->api.tcp, on_listener_closed);
    if (s->imds.open)
        uv_close((uv_handle_t *)&s->imds.tcp, on_listener_closed);
    if (s->tick_open)
        uv_close((uv_handle_t *)&s->tick, on_tick_closed);
    /* parked requests get their answer now, paced bodies speed up */
    for (struct pending *p = s->pendings, *next; p; p = next) {
        next = p->next;
        if (p->finishing)
            continue;
        if (p->kind == P_SQS && p->req)
            sqs_answer(p, false);
        else if (p->kind == P_LATENCY && p->req) {
            uv_timer_stop(&p->timer);
            on_latency(&p->timer);
        } else if (p->kind == P_STREAM && p->req && !p->waiting_proceed) {
            uv_timer_stop(&p->timer);
            stream_next(p);
        }
    }
    fr_h2o_conns_shutdown(&s->conns);
    maybe_closed(s);
}

void fr_sim_server_free(fr_sim_server *s)
{
    if (!s)
        return;
    struct listener *ls[2] = {&s->api, &s->imds};
    for (int i = 0; i < 2; i++) {
        if (ls[i]->ctx_inited)
            h2o_context_dispose(&ls[i]->ctx);
        if (ls[i]->conf_inited)
            h2o_config_dispose(&ls[i]->conf);
    }
    free(s);
}
