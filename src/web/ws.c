#include "ws.h" /* first: it brings h2o.h in libuv mode */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o/http1.h>
#include <h2o/websocket.h>

#include <mbedtls/sha1.h>

#include "frugal/buf.h"
#include "frugal/str.h"

#define MAX_BATCH (256u << 10)

struct fr_ws {
    h2o_socket_t *sock; /* NULL until the 101 is out */
    wslay_event_context_ptr ctx;
    struct wslay_event_callbacks cbs;
    fr_ws_msg_cb cb;
    void *data;
    fr_buf out;     /* frames gathered for the next write */
    fr_buf writing; /* the buffer h2o is writing */
    int closed;     /* the callback was told */
};

static void report_close(fr_ws *ws)
{
    if (!ws->closed) {
        ws->closed = 1;
        ws->cb(ws, NULL, ws->data);
    }
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    fr_ws *ws = user;
    if (ws->sock->input->size == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > ws->sock->input->size)
        len = ws->sock->input->size;
    memcpy(buf, ws->sock->input->bytes, len);
    h2o_buffer_consume(&ws->sock->input, len);
    return (ssize_t)len;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    fr_ws *ws = user;
    /* Gather while nothing is being written; a write in flight (or a full
     * batch) is backpressure: wslay keeps the rest queued. */
    if (ws->writing.len || ws->out.len + len > MAX_BATCH) {
        if (ws->out.len == 0 && !ws->writing.len) {
            /* a single frame larger than the batch still goes out alone */
        } else {
            wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
    }
    if (fr_buf_append(&ws->out, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void on_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    fr_ws *ws = user;
    ws->cb(ws, arg, ws->data);
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    fr_ws *ws = sock->data;
    fr_buf_reset(&ws->writing);
    if (err) {
        report_close(ws);
        return;
    }
    fr_ws_proceed(ws);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    fr_ws *ws = sock->data;
    if (err) {
        report_close(ws);
        return;
    }
    fr_ws_proceed(ws);
}

void fr_ws_proceed(fr_ws *ws)
{
    if (!ws->sock || ws->closed)
        return;
    int progress;
    do {
        progress = 0;
        if (!ws->writing.len && wslay_event_want_write(ws->ctx)) {
            if (wslay_event_send(ws->ctx) != 0) {
                report_close(ws);
                return;
            }
            if (ws->out.len) {
                fr_buf tmp = ws->writing; /* swap: the gathered frames become the write */
                ws->writing = ws->out;
                ws->out = tmp;
                fr_buf_reset(&ws->out);
                h2o_iovec_t iov = h2o_iovec_init(ws->writing.data, ws->writing.len);
                h2o_socket_write(ws->sock, &iov, 1, on_write_done);
            }
        }
        if (ws->sock->input->size && wslay_event_want_read(ws->ctx)) {
            if (wslay_event_recv(ws->ctx) != 0) {
                report_close(ws);
                return;
            }
            progress = 1;
        }
    } while (progress);
    if (wslay_event_want_read(ws->ctx)) {
        h2o_socket_read_start(ws->sock, on_read);
    } else if (ws->writing.len || wslay_event_want_write(ws->ctx)) {
        h2o_socket_read_stop(ws->sock);
    } else {
        report_close(ws); /* both directions are done: the close handshake is over */
    }
}

static void on_upgraded(void *user, h2o_socket_t *sock, size_t reqsize)
{
    fr_ws *ws = user;
    if (!sock) {
        report_close(ws);
        return;
    }
    ws->sock = sock;
    sock->data = ws;
    h2o_buffer_consume(&sock->input, reqsize);
    fr_ws_proceed(ws);
}

int fr_ws_is_handshake(h2o_req_t *req, const char **client_key)
{
    return h2o_is_websocket_handshake(req, client_key);
}

fr_ws *fr_ws_upgrade(h2o_req_t *req, const char *client_key, fr_ws_msg_cb cb, void *data)
{
    fr_ws *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return NULL;
    ws->cb = cb;
    ws->data = data;
    ws->cbs.recv_callback = recv_cb;
    ws->cbs.send_callback = send_cb;
    ws->cbs.on_msg_recv_callback = on_msg_cb;
    if (wslay_event_context_server_init(&ws->ctx, &ws->cbs, ws) != 0) {
        free(ws);
        return NULL;
    }
    /* Sec-WebSocket-Accept = base64(SHA-1(key + RFC 6455 GUID)) */
    char src[64], accept_key[32];
    snprintf(src, sizeof(src), "%.24s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", client_key);
    unsigned char sha[20];
    mbedtls_sha1_ret((const unsigned char *)src, strlen(src), sha);
    fr_buf b64 = FR_BUF_INIT;
    fr_base64_encode(&b64, sha, sizeof(sha));
    fr_strlcpy(accept_key, fr_buf_cstr(&b64), sizeof(accept_key));
    fr_buf_free(&b64);
    req->res.status = 101;
    req->res.reason = "Switching Protocols";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-accept"), 0, NULL, accept_key,
                          strlen(accept_key));
    h2o_http1_upgrade(req, NULL, 0, on_upgraded, ws);
    return ws;
}

int fr_ws_queue_text(fr_ws *ws, const char *text, size_t len)
{
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
    return wslay_event_queue_msg(ws->ctx, &m) == 0 ? 0 : -1;
}

size_t fr_ws_backlog(const fr_ws *ws)
{
    return wslay_event_get_queued_msg_length(ws->ctx) + ws->out.len + ws->writing.len;
}

int fr_ws_ready(const fr_ws *ws)
{
    return ws->sock != NULL;
}

void fr_ws_set_data(fr_ws *ws, void *data)
{
    ws->data = data;
}

void fr_ws_close(fr_ws *ws)
{
    if (ws->sock)
        h2o_socket_close(ws->sock);
    wslay_event_context_free(ws->ctx);
    fr_buf_free(&ws->out);
    fr_buf_free(&ws->writing);
    free(ws);
}
