/* WebSocket connections on h2o sockets, framed by wslay, with batched
 * writes: every frame wslay produces while no write is in flight goes into
 * one buffer and out in one write, instead of h2o 2.2.5's one write per
 * frame. Private to src/web. */
#ifndef FRUGAL_WEB_WS_H
#define FRUGAL_WEB_WS_H

#define H2O_USE_LIBUV 1
#include <h2o.h>
#include <wslay/wslay.h>

typedef struct fr_ws fr_ws;

/* arg is NULL when the connection ended (or the handshake failed); the
 * callee then calls fr_ws_close(). */
typedef void (*fr_ws_msg_cb)(fr_ws *ws, const struct wslay_event_on_msg_recv_arg *arg, void *data);

/* 0 and the client key when req is a WebSocket handshake. */
int fr_ws_is_handshake(h2o_req_t *req, const char **client_key);
/* Answers 101 and takes the connection over; messages may be queued at
 * once (they go out after the handshake). */
fr_ws *fr_ws_upgrade(h2o_req_t *req, const char *client_key, fr_ws_msg_cb cb, void *data);
int fr_ws_queue_text(fr_ws *ws, const char *text, size_t len);
/* Bytes queued in wslay plus bytes being written. */
size_t fr_ws_backlog(const fr_ws *ws);
/* Sends what is queued (and reads what arrived); may call the callback
 * with NULL (and so free the connection). */
void fr_ws_proceed(fr_ws *ws);
int fr_ws_ready(const fr_ws *ws); /* the handshake is out */
void fr_ws_set_data(fr_ws *ws, void *data);
void fr_ws_close(fr_ws *ws);

#endif
