/* The live event feed. Every event gets the next sequence number and is
 * stored in LMDB before any client sees it (broadcast happens after the
 * commit that made it durable), so a client that reconnects to
 *   GET /api/feed?since=SEQ   (WebSocket)
 * receives exactly what it missed, in order. Each WebSocket text message is
 * one event: {"seq":N,"ts":"...","type":"...","data":{...}}. A client whose
 * unsent bytes pass the cap is disconnected; others are unaffected.
 * GET /api/events?since=SEQ&limit=N returns the same events over plain HTTP. */
#ifndef FRUGAL_FEED_H
#define FRUGAL_FEED_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "frugal/store.h"
#include "frugal/web.h"

typedef struct fr_feed fr_feed;

typedef struct fr_feed_config {
    uint64_t max_queued; /* bytes */
    uint64_t history;    /* events kept for replay */
} fr_feed_config;

int fr_feed_new(fr_feed **out, uv_loop_t *loop, fr_web *web, fr_store *store, const fr_feed_config *cfg);
void fr_feed_set_limits(fr_feed *f, const fr_feed_config *cfg);
/* Stages the event (data stolen); it reaches clients after the next commit. */
int fr_feed_publish(fr_feed *f, const char *type, json_t *data, uint64_t *seq_out);
uint64_t fr_feed_last_seq(const fr_feed *f);
int fr_feed_clients(const fr_feed *f);
void fr_feed_close_clients(fr_feed *f);
/* Closes the replay timer; the feed is freed in its close callback. */
void fr_feed_free(fr_feed *f);

#endif
