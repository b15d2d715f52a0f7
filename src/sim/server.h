/* frugal-sim's HTTP shell: h2o on the libuv loop with two listeners (the
 * AWS endpoint with the control API and the chat double, and IMDS), raw
 * request capture, deferred answers (injected latency, SQS long polls, slow
 * or paced bodies), connection resets, and the housekeeping timer. */
#ifndef FR_SIM_SERVER_H
#define FR_SIM_SERVER_H

#include <stddef.h>

#include <uv.h>

#include "sim.h"

typedef struct fr_sim_server fr_sim_server;

/* Binds the listeners (port 0 works) without accepting yet. */
int fr_sim_server_new(fr_sim_server **out, uv_loop_t *loop, const char *listen, const char *imds_listen,
                      char *err, size_t errlen);
const char *fr_sim_server_bound(const fr_sim_server *s);
const char *fr_sim_server_imds_bound(const fr_sim_server *s);
/* Starts accepting, serving this sim. */
int fr_sim_server_start(fr_sim_server *s, fr_sim *sim);
/* Stops accepting, ends connections and parked requests, closes every
 * handle; done runs when the last one has closed. */
void fr_sim_server_close(fr_sim_server *s, void (*done)(void *), void *arg);
/* After uv_run has returned: disposes the h2o contexts (they run the loop
 * themselves) and frees. */
void fr_sim_server_free(fr_sim_server *s);

#endif
