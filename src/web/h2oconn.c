#include <stdlib.h>
#include <sys/socket.h>

#include "frugal/h2oconn.h"

struct fr_h2o_conn {
    uv_tcp_t tcp; /* first: h2o's close callback gets this handle */
    fr_h2o_conns *set;
    fr_h2o_conn *prev, *next;
};

static void on_conn_closed(uv_handle_t *h)
{
    fr_h2o_conn *c = (fr_h2o_conn *)h;
    fr_h2o_conns *cs = c->set;
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    cs->n--;
    if (cs->on_closed)
        cs->on_closed(cs->arg);
}

static void on_refused_closed(uv_handle_t *h)
{
    free(h);
}

int fr_h2o_conns_accept(fr_h2o_conns *cs, uv_stream_t *listener, h2o_accept_ctx_t *ctx, bool refuse)
{
    fr_h2o_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    uv_tcp_init(listener->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || refuse) {
        uv_close((uv_handle_t *)&c->tcp, on_refused_closed);
        return -1;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->set = cs;
    c->next = cs->head;
    if (cs->head)
        cs->head->prev = c;
    cs->head = c;
    cs->n++;
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    h2o_accept(ctx, sock);
    return 0;
}

void fr_h2o_conns_shutdown(fr_h2o_conns *cs)
{
    for (fr_h2o_conn *c = cs->head; c; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
}

const char *fr_h2o_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}
