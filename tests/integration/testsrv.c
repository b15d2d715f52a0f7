#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frugal/buf.h"
#include "frugal/str.h"
#include "testsrv.h"

typedef struct ts_conn ts_conn;

struct ts_req {
    ts_server *s;
    ts_conn *conn; /* NULL once the connection is gone */
    ts_req_info info;
    char *method, *path, *headers, *body;
    uv_timer_t timer; /* respond_later */
    int timer_used;
    int answered;
    int status;
    char *resp_headers, *resp_body;
    size_t resp_len;
};

struct ts_conn {
    uv_tcp_t tcp;
    ts_server *s;
    fr_buf in;
    ts_req *cur;
    int closing;
    int close_after_write;
    ts_conn *prev, *next;
};

struct ts_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    ts_handler h;
    void *arg;
    ts_conn *conns;
    ts_req **later; /* requests waiting on a timer */
    size_t nlater, caplater;
    int handles;
    int closing;
    int drop_accepts, drop_rst;
    ts_stats st;
};

struct wreq {
    uv_write_t w;
    ts_conn *c;
    size_t len;
    char data[];
};

static void maybe_free_server(ts_server *s)
{
    if (s->closing && s->handles == 0) {
        free(s->later);
        free(s);
    }
}

static void later_remove(ts_server *s, ts_req *r)
{
    for (size_t i = 0; i < s->nlater; i++)
        if (s->later[i] == r) {
            s->later[i] = s->later[--s->nlater];
            return;
        }
}

static void req_free_now(ts_req *r)
{
    free(r->method);
    free(r->path);
    free(r->headers);
    free(r->body);
    free(r->resp_headers);
    free(r->resp_body);
    free(r);
}

static void on_req_timer_closed(uv_handle_t *h)
{
    ts_req *r = h->data;
    ts_server *s = r->s;
    req_free_now(r);
    s->handles--;
    maybe_free_server(s);
}

/* Frees r (through its timer's close callback when it has one). */
static void req_release(ts_req *r)
{
    if (r->timer_used) {
        later_remove(r->s, r);
        uv_timer_stop(&r->timer);
        if (!uv_is_closing((uv_handle_t *)&r->timer))
            uv_close((uv_handle_t *)&r->timer, on_req_timer_closed);
        return;
    }
    req_free_now(r);
}

static void on_conn_closed(uv_handle_t *h)
{
    ts_conn *c = (ts_conn *)h;
    ts_server *s = c->s;
    fr_buf_free(&c->in);
    free(c);
    s->handles--;
    maybe_free_server(s);
}

static void conn_close(ts_conn *c, int rst)
{
    if (c->closing)
        return;
    c->closing = 1;
    ts_server *s = c->s;
    if (c->cur) {
        /* The request dies with its connection: nobody can answer it now. */
        ts_req *r = c->cur;
        c->cur = NULL;
        r->conn = NULL;
        if (!r->answered) {
            r->answered = 1;
            s->st.open_reqs--;
        }
        req_release(r);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->st.conns--;
    if (rst)
        uv_tcp_close_reset(&c->tcp, on_conn_closed);
    else
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void try_parse(ts_conn *c);

static void on_written(uv_write_t *w, int status)
{
    struct wreq *wr = (struct wreq *)w;
    ts_conn *c = wr->c;
    free(wr);
    if (c->closing)
        return;
    if (status < 0 || c->close_after_write) {
        conn_close(c, 0);
        return;
    }
}

static void conn_write(ts_conn *c, const char *a, size_t al, const char *b, size_t bl)
{
    struct wreq *wr = malloc(sizeof(*wr) + al + bl);
    if (!wr) {
        conn_close(c, 0);
        return;
    }
    wr->c = c;
    wr->len = al + bl;
    memcpy(wr->data, a, al);
    if (bl)
        memcpy(wr->data + al, b, bl);
    uv_buf_t buf = uv_buf_init(wr->data, (unsigned)wr->len);
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0) {
        free(wr);
        conn_close(c, 0);
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* Marks r answered; returns its live connection (or NULL). */
static ts_conn *finish_req(ts_req *r)
{
    ts_server *s = r->s;
    ts_conn *c = r->conn;
    if (!r->answered) {
        r->answered = 1;
        s->st.open_reqs--;
    }
    if (c) {
        c->cur = NULL;
        r->conn = NULL;
    }
    return c;
}

void ts_respond(ts_req *r, int status, const char *headers, const char *body, size_t len)
{
    ts_conn *c = finish_req(r);
    if (c && !c->closing) {
        char head[1024];
        int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n", status,
                         reason(status), len, headers ? headers : "");
        r->s->st.responses++;
        conn_write(c, head, (size_t)n, body, len);
        if (!c->closing)
            try_parse(c); /* a pipelined request may be waiting */
    }
    req_release(r);
}

static void on_later(uv_timer_t *t)
{
    ts_req *r = t->data;
    later_remove(r->s, r);
    /* ts_respond releases r, which closes this timer. */
    char *h = r->resp_headers, *b = r->resp_body;
    r->resp_headers = r->resp_body = NULL;
    ts_respond(r, r->status, h, b, r->resp_len);
    free(h);
    free(b);
}

void ts_respond_later(ts_req *r, uint64_t delay_ms, int status, const char *headers, const char *body, size_t len)
{
    ts_server *s = r->s;
    if (s->nlater == s->caplater) {
        size_t cap = s->caplater ? s->caplater * 2 : 64;
        ts_req **p = realloc(s->later, cap * sizeof(*p));
        if (!p) {
            ts_respond(r, status, headers, body, len);
            return;
        }
        s->later = p;
        s->caplater = cap;
    }
    r->status = status;
    r->resp_headers = fr_strdup(headers ? headers : "");
    r->resp_body = malloc(len ? len : 1);
    if (len)
        memcpy(r->resp_body, body, len);
    r->resp_len = len;
    uv_timer_init(s->loop, &r->timer);
    r->timer.data = r;
    r->timer_used = 1;
    s->handles++;
    s->later[s->nlater++] = r;
    uv_timer_start(&r->timer, on_later, delay_ms, 0);
}

void ts_respond_raw_close(ts_req *r, const char *raw, size_t len)
{
    ts_conn *c = finish_req(r);
    if (c && !c->closing) {
        c->close_after_write = 1;
        conn_write(c, raw, len, NULL, 0);
    }
    req_release(r);
}

void ts_drop(ts_req *r, int rst)
{
    ts_conn *c = finish_req(r);
    if (c)
        conn_close(c, rst);
    req_release(r);
}

const ts_req_info *ts_req_get_info(const ts_req *r)
{
    return &r->info;
}

static size_t content_length(const char *headers)
{
    const char *p = headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > 15 && strncasecmp(p, "content-length:", 15) == 0) {
            uint64_t v = 0;
            char tmp[32];
            size_t vl = ll - 15;
            const char *v0 = p + 15;
            while (vl && *v0 == ' ') {
                v0++;
                vl--;
            }
            if (vl < sizeof(tmp)) {
                memcpy(tmp, v0, vl);
                tmp[vl] = '\0';
                if (fr_parse_u64(tmp, &v) == 0)
                    return (size_t)v;
            }
        }
        if (!eol)
            break;
        p = eol + 2;
    }
    return 0;
}

static void try_parse(ts_conn *c)
{
    ts_server *s = c->s;
    if (c->cur || c->closing || c->in.len == 0)
        return;
    char *end = strstr(c->in.data, "\r\n\r\n");
    if (!end)
        return;
    size_t head_len = (size_t)(end - c->in.data) + 4;
    char *line_end = strstr(c->in.data, "\r\n");
    size_t hdr_off = (size_t)(line_end - c->in.data) + 2;
    char *hdrs = fr_strndup(c->in.data + hdr_off, head_len - hdr_off - 2);
    size_t blen = content_length(hdrs);
    if (c->in.len < head_len + blen) {
        free(hdrs);
        return;
    }
    ts_req *r = calloc(1, sizeof(*r));
    r->s = s;
    r->conn = c;
    const char *sp1 = memchr(c->in.data, ' ', (size_t)(line_end - c->in.data));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (!sp1 || !sp2) {
        free(hdrs);
        free(r);
        conn_close(c, 0);
        return;
    }
    r->method = fr_strndup(c->in.data, (size_t)(sp1 - c->in.data));
    r->path = fr_strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    r->headers = hdrs;
    r->body = fr_strndup(c->in.data + head_len, blen);
    r->info.method = r->method;
    r->info.path = r->path;
    r->info.headers = r->headers;
    r->info.body = r->body;
    r->info.body_len = blen;
    r->info.arrival_ns = uv_hrtime();
    r->info.seq = s->st.requests++;
    fr_buf_consume(&c->in, head_len + blen);
    c->cur = r;
    s->st.open_reqs++;
    if (s->st.open_reqs > s->st.max_open_reqs)
        s->st.max_open_reqs = s->st.open_reqs;
    s->h(s, r, &r->info, s->arg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    ts_conn *c = (ts_conn *)st;
    if (n < 0) {
        conn_close(c, 0);
        return;
    }
    if (n == 0)
        return;
    fr_buf_append(&c->in, buf->base, (size_t)n);
    try_parse(c);
}

static void on_raw_closed(uv_handle_t *h)
{
    ts_server *s = h->data;
    free(h);
    s->handles--;
    maybe_free_server(s);
}

static void on_conn(uv_stream_t *l, int status)
{
    ts_server *s = l->data;
    if (status < 0)
        return;
    if (s->drop_accepts > 0) {
        s->drop_accepts--;
        uv_tcp_t *t = malloc(sizeof(*t));
        uv_tcp_init(s->loop, t);
        t->data = s;
        s->handles++;
        s->st.accepted++;
        if (uv_accept(l, (uv_stream_t *)t) == 0 && s->drop_rst)
            uv_tcp_close_reset(t, on_raw_closed);
        else
            uv_close((uv_handle_t *)t, on_raw_closed);
        return;
    }
    ts_conn *c = calloc(1, sizeof(*c));
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    s->handles++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    s->st.accepted++;
    s->st.conns++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_listener_closed(uv_handle_t *h)
{
    ts_server *s = h->data;
    s->handles--;
    maybe_free_server(s);
}

int ts_start(ts_server **out, uv_loop_t *loop, ts_handler h, void *arg, int *port)
{
    ts_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->loop = loop;
    s->h = h;
    s->arg = arg;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->handles = 1;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_conn);
    struct sockaddr_in got;
    int len = sizeof(got);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    if (rc) {
        s->closing = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return rc;
    }
    *port = ntohs(got.sin_port);
    *out = s;
    return 0;
}

void ts_drop_next_accepts(ts_server *s, int n, int rst)
{
    s->drop_accepts = n;
    s->drop_rst = rst;
}

void ts_stats_get(const ts_server *s, ts_stats *st)
{
    *st = s->st;
}

void ts_reset_max(ts_server *s)
{
    s->st.max_open_reqs = s->st.open_reqs;
}

void ts_close(ts_server *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    while (s->nlater) {
        ts_req *r = s->later[s->nlater - 1];
        ts_conn *c = finish_req(r);
        (void)c;
        req_release(r); /* removes r from later */
    }
    while (s->conns)
        conn_close(s->conns, 0);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

int ts_header(const ts_req_info *info, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    const char *p = info->headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            size_t vl = ll - nl - 1;
            while (vl && *v == ' ') {
                v++;
                vl--;
            }
            if (vl >= n)
                vl = n - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        if (!eol)
            break;
        p = eol + 2;
    }
    return -1;
}
