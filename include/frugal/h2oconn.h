/* The open connections of an h2o server on libuv: accepted onto the loop,
 * counted, and shut down together when the server closes; and the reason
 * phrase of a status. frugald's web server and frugal-sim both serve
 * through it. Loop glue. */
#ifndef FRUGAL_H2OCONN_H
#define FRUGAL_H2OCONN_H

#include <stdbool.h>

#define H2O_USE_LIBUV 1
#include <h2o.h>

typedef struct fr_h2o_conn fr_h2o_conn;

typedef struct fr_h2o_conns {
    fr_h2o_conn *head;
    int n;                        /* open connections */
    void (*on_closed)(void *arg); /* after one has closed (n already lower) */
    void *arg;
} fr_h2o_conns;

/* Takes the pending connection off the listener. When refuse is false it
 * is handed to h2o through ctx and 0 is returned; otherwise (or when the
 * accept fails) it is closed at once and -1 is returned. */
int fr_h2o_conns_accept(fr_h2o_conns *cs, uv_stream_t *listener, h2o_accept_ctx_t *ctx, bool refuse);

/* Shuts every socket down: h2o sees EOF and closes each connection through
 * its own path (idle keep-alive and half-read requests alike). */
void fr_h2o_conns_shutdown(fr_h2o_conns *cs);

/* "Not Found" for 404, ...; "Status" for a code it does not know. */
const char *fr_h2o_reason(int status);

#endif
