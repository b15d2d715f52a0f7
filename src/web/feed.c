#define H2O_USE_LIBUV 1
#include <h2o.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/feed.h"
#include "frugal/log.h"
#include "frugal/metrics.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "ws.h"

#define RING 4096

struct ring_entry {
    uint64_t seq;
    char *text;
    size_t len;
};

struct client {
    fr_feed *f; /* NULL once detached (see drop_client) */
    fr_ws *ws;
    uint64_t next_seq;
    uint64_t replay_until; /* events up to here are catch-up: paced, never a reason to drop */
    int gap_sent;
    struct client *prev, *next;
};

struct fr_feed {
    uv_loop_t *loop;
    fr_web *web;
    fr_store *store;
    fr_feed_config cfg;
    struct ring_entry ring[RING];
    uint64_t published;  /* last staged seq */
    uint64_t committed;  /* last durable seq */
    int commit_pending;
    struct client *clients;
    int nclients;
    uv_timer_t *timer; /* paces replays; heap so it may outlive the feed */
    uint64_t since_prune;
};

static void flush(fr_feed *f);
static void on_timer(uv_timer_t *t);

static void gauge_clients(fr_feed *f)
{
    fr_metric_put("frugal_feed_clients", "WebSocket feed clients", "", f->nclients);
}

static void client_unlink(struct client *c)
{
    fr_feed *f = c->f;
    if (c->prev)
        c->prev->next = c->next;
    else
        f->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    f->nclients--;
    gauge_clients(f);
}

static void on_ws_msg(fr_ws *ws, const struct wslay_event_on_msg_recv_arg *arg, void *data)
{
    struct client *c = data;
    if (arg == NULL) {
        if (c->f)
            client_unlink(c);
        free(c);
        fr_ws_close(ws);
    }
    /* Client messages are ignored; wslay answers pings itself. */
}

static void drop_client(struct client *c, const char *reason)
{
    fr_metric_inc("frugal_feed_disconnects_total", "Feed clients disconnected by the server",
                  strcmp(reason, "slow_consumer") == 0 ? "reason=\"slow_consumer\"" : "reason=\"shutdown\"", 1);
    if (strcmp(reason, "slow_consumer") == 0)
        fr_log_warn("feed.slow_consumer", "{s:I}", "next_seq", (json_int_t)c->next_seq);
    fr_ws *ws = c->ws;
    client_unlink(c);
    if (!fr_ws_ready(ws)) {
        /* The 101 answer is still being written: h2o will call on_ws_msg
         * (with NULL once the connection ends), so the connection must not
         * be freed now. Detached, the client no longer refers to the feed. */
        c->f = NULL;
        return;
    }
    free(c);
    fr_ws_close(ws);
}

/* The text of event seq: the ring when recent, else the store. */
static int event_text(fr_feed *f, uint64_t seq, const char **text, size_t *len, fr_buf *tmp)
{
    struct ring_entry *e = &f->ring[seq % RING];
    if (e->seq == seq && e->text) {
        *text = e->text;
        *len = e->len;
        return 1;
    }
    unsigned char k[8];
    fr_store_seq_key(seq, k);
    if (fr_store_get(f->store, FR_TBL_EVENTS, k, 8, tmp) != 0)
        return -1;
    *text = tmp->data;
    *len = tmp->len;
    return 0;
}

static int first_key_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    if (kl == 8)
        *(uint64_t *)arg = fr_store_key_seq(k);
    return 1;
}

static uint64_t oldest_seq(fr_feed *f)
{
    uint64_t first = 0;
    fr_store_scan(f->store, FR_TBL_EVENTS, NULL, 0, false, first_key_cb, &first);
    return first ? first : f->committed + 1;
}

static int queue_text(struct client *c, const char *text, size_t len)
{
    return fr_ws_queue_text(c->ws, text, len) == 0 ? 0 : -EIO;
}

static void flush(fr_feed *f)
{
    uint64_t retry_ms = 0;
    fr_buf tmp = FR_BUF_INIT;
    struct client *c = f->clients, *next;
    for (; c; c = next) {
        next = c->next;
        if (!fr_ws_ready(c->ws)) {
            retry_ms = 5; /* still upgrading: nothing is queued before the handshake is out */
            continue;
        }
        int dead = 0;
        while (c->next_seq <= f->committed) {
            const char *text;
            size_t len;
            int src = event_text(f, c->next_seq, &text, &len, &tmp);
            if (src < 0) {
                uint64_t old = oldest_seq(f);
                if (c->next_seq >= old) {
                    c->next_seq++; /* lost in a failed commit: a hole, not history */
                    continue;
                }
                /* Pruned from history: tell the client, skip to what exists. */
                if (!c->gap_sent) {
                    char msg[160];
                    int n = snprintf(msg, sizeof(msg),
                                     "{\"seq\":0,\"type\":\"feed.gap\",\"data\":{\"missing_from\":%llu,\"resume_at\":%llu}}",
                                     (unsigned long long)c->next_seq, (unsigned long long)old);
                    queue_text(c, msg, (size_t)n);
                    c->gap_sent = 1;
                }
                if (old <= c->next_seq)
                    old = c->next_seq + 1;
                c->next_seq = old;
                continue;
            }
            /* Catching up (a reconnect with ?since, or events only the store
             * still has) is paced by what the socket drains; only a client
             * that falls behind on live events is cut off. */
            size_t queued = fr_ws_backlog(c->ws);
            if ((src == 0 || c->next_seq <= c->replay_until) && queued > f->cfg.max_queued / 2) {
                if (!retry_ms || retry_ms > 20)
                    retry_ms = 20;
                break;
            }
            if (queue_text(c, text, len) != 0) {
                drop_client(c, "shutdown");
                dead = 1;
                break;
            }
            c->next_seq++;
            if (fr_ws_backlog(c->ws) > f->cfg.max_queued) {
                drop_client(c, "slow_consumer");
                dead = 1;
                break;
            }
        }
        if (!dead)
            fr_ws_proceed(c->ws); /* may close and free c */
    }
    fr_buf_free(&tmp);
    if (retry_ms && !uv_is_active((uv_handle_t *)f->timer))
        uv_timer_start(f->timer, on_timer, retry_ms, 0);
}

static void on_timer(uv_timer_t *t)
{
    flush(t->data);
}

static void on_committed(void *arg, int status)
{
    fr_feed *f = arg;
    if (status == -ECANCELED)
        return; /* the feed is closing */
    f->commit_pending = 0;
    uint64_t durable = fr_store_committed_seq(f->store, FR_TBL_EVENTS);
    if (status != 0) {
        /* The batch is gone: forget its events; clients skip the hole. */
        uint64_t lost = fr_store_failed_seq(f->store, FR_TBL_EVENTS);
        fr_log_error("feed.persist_failed", "{s:s, s:I, s:I}", "error", fr_strerror(status), "lost_from",
                     (json_int_t)(f->committed + 1), "lost_to", (json_int_t)lost);
        for (uint64_t s = f->committed + 1; s <= lost; s++) {
            struct ring_entry *e = &f->ring[s % RING];
            if (e->seq == s) {
                free(e->text);
                e->text = NULL;
                e->seq = 0;
            }
        }
        if (lost > durable)
            durable = lost;
    }
    if (durable > f->committed)
        f->committed = durable;
    /* Events published while that batch was being written belong to the
     * next one: wait for it before they go out. */
    if (f->published > f->committed) {
        f->commit_pending = 1;
        fr_store_on_commit(f->store, on_committed, f);
    }
    if (status == 0 && ++f->since_prune >= 1000) {
        f->since_prune = 0;
        fr_store_prune(f->store, FR_TBL_EVENTS, f->cfg.history);
    }
    flush(f);
}

int fr_feed_publish(fr_feed *f, const char *type, json_t *data, uint64_t *seq_out)
{
    uint64_t seq = fr_store_last_seq(f->store, FR_TBL_EVENTS) + 1;
    char ts[40];
    fr_time_iso8601(ts, sizeof(ts), fr_time_now_ms(), 1);
    json_t *ev = json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)seq, "ts", ts, "type", type, "data",
                           data ? data : json_object());
    if (!ev)
        return -ENOMEM;
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(ev);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    uint64_t got;
    int rc = fr_store_append(f->store, FR_TBL_EVENTS, text, len, &got);
    if (rc) {
        free(text);
        return rc;
    }
    struct ring_entry *e = &f->ring[got % RING];
    free(e->text);
    e->seq = got;
    e->text = text;
    e->len = len;
    f->published = got;
    fr_metric_inc("frugal_feed_events_total", "Events published on the feed", "", 1);
    if (!f->commit_pending) {
        f->commit_pending = 1;
        fr_store_on_commit(f->store, on_committed, f);
    }
    if (seq_out)
        *seq_out = got;
    return 0;
}

static int parse_since(const char *s, uint64_t *out)
{
    return fr_parse_u64(s, out);
}

static int feed_handler(fr_web_req *r, void *arg)
{
    fr_feed *f = arg;
    h2o_req_t *req = fr_web_h2o(r);
    const char *key = NULL;
    if (fr_ws_is_handshake(req, &key) != 0 || key == NULL || req->version >= 0x200) {
        fr_web_error(r, 400, "websocket_required", "GET /api/feed is a WebSocket endpoint (Upgrade: websocket)");
        return 0;
    }
    uint64_t since = f->committed;
    const char *s = fr_web_query(r, "since");
    if (s && parse_since(s, &since) != 0) {
        fr_web_error(r, 400, "bad_since", "since must be a sequence number");
        return 0;
    }
    /* Ahead of what was ever committed here (a client of an older store):
     * start from the beginning of this store's history instead of waiting
     * for sequence numbers it already "has". */
    if (since > f->committed)
        since = 0;
    struct client *c = calloc(1, sizeof(*c));
    if (!c) {
        fr_web_error(r, 503, "no_memory", "out of memory");
        return 0;
    }
    c->f = f;
    c->next_seq = since + 1;
    c->replay_until = f->published; /* staged before the client came: replay, paced */
    c->next = f->clients;
    if (f->clients)
        f->clients->prev = c;
    f->clients = c;
    f->nclients++;
    gauge_clients(f);
    c->ws = fr_ws_upgrade(req, key, on_ws_msg, c);
    /* Catch up on the next loop turn, once the handshake has gone out. */
    if (!uv_is_active((uv_handle_t *)f->timer))
        uv_timer_start(f->timer, on_timer, 0, 0);
    return FR_WEB_DEFERRED;
}

struct list_ctx {
    json_t *arr;
    size_t limit;
    const char *type;
};

static int list_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct list_ctx *c = arg;
    json_t *ev = json_loadb(v, vl, 0, NULL);
    if (ev) {
        const char *t = json_string_value(json_object_get(ev, "type"));
        if (!c->type || (t && fr_str_startswith(t, c->type)))
            json_array_append(c->arr, ev);
        json_decref(ev);
    }
    return json_array_size(c->arr) >= c->limit;
}

static int events_handler(fr_web_req *r, void *arg)
{
    fr_feed *f = arg;
    uint64_t since = 0, limit = 500;
    const char *s = fr_web_query(r, "since");
    const char *l = fr_web_query(r, "limit");
    if ((s && fr_parse_u64(s, &since) != 0) || (l && (fr_parse_u64(l, &limit) != 0 || limit == 0))) {
        fr_web_error(r, 400, "bad_query", "since must be a non-negative integer and limit a positive one");
        return 0;
    }
    if (limit > 5000)
        limit = 5000;
    struct list_ctx c = {json_array(), (size_t)limit, fr_web_query(r, "type")};
    if (since < UINT64_MAX) { /* nothing comes after the largest sequence number */
        unsigned char k[8];
        fr_store_seq_key(since + 1, k);
        fr_store_scan(f->store, FR_TBL_EVENTS, k, 8, false, list_cb, &c);
    }
    fr_web_json(r, 200, json_pack("{s:o, s:I}", "events", c.arr, "last_seq", (json_int_t)f->committed));
    return 0;
}

static void on_web_close(void *arg)
{
    fr_feed_close_clients(arg);
}

int fr_feed_new(fr_feed **out, uv_loop_t *loop, fr_web *web, fr_store *store, const fr_feed_config *cfg)
{
    fr_feed *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->timer = malloc(sizeof(*f->timer));
    if (!f->timer) {
        free(f);
        return -ENOMEM;
    }
    f->loop = loop;
    f->web = web;
    f->store = store;
    fr_feed_set_limits(f, cfg);
    f->committed = f->published = fr_store_last_seq(store, FR_TBL_EVENTS);
    uv_timer_init(loop, f->timer);
    f->timer->data = f;
    if (web) {
        fr_web_route(web, "GET", "/api/feed", feed_handler, f, 0);
        fr_web_route(web, "GET", "/api/events", events_handler, f, 0);
        fr_web_on_close(web, on_web_close, f);
    }
    gauge_clients(f);
    *out = f;
    return 0;
}

void fr_feed_set_limits(fr_feed *f, const fr_feed_config *cfg)
{
    f->cfg.max_queued = cfg && cfg->max_queued ? cfg->max_queued : (4u << 20);
    f->cfg.history = cfg && cfg->history ? cfg->history : 100000;
}

uint64_t fr_feed_last_seq(const fr_feed *f)
{
    return f->committed;
}

int fr_feed_clients(const fr_feed *f)
{
    return f->nclients;
}

void fr_feed_close_clients(fr_feed *f)
{
    while (f->clients)
        drop_client(f->clients, "shutdown");
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

void fr_feed_free(fr_feed *f)
{
    if (!f)
        return;
    fr_store_drop_waiters(f->store, on_committed);
    fr_feed_close_clients(f);
    uv_close((uv_handle_t *)f->timer, free_timer);
    for (size_t i = 0; i < RING; i++)
        free(f->ring[i].text);
    free(f);
}
