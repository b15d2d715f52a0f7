/* A retried HTTP call on the loop: rate limit (fr_limiter), send, classify,
 * back off on a uv timer, repeat. The request is rebuilt for every attempt
 * (so AWS calls are signed afresh with current credentials). */
#ifndef FRUGAL_CALL_H
#define FRUGAL_CALL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "frugal/http.h"
#include "frugal/retry.h"

/* ---- adaptive send rate for one operation (pure; times in ms) ----
 * Starts unlimited. The first throttle sets the rate to 70% of the measured
 * send rate; later throttles cut the current rate to 70%. Between cuts the
 * rate grows back along a cubic curve that reaches the rate of the last cut
 * after a few seconds and then probes above it (CUBIC congestion control).
 * A cut never goes below 95% of the rate of answers that were accepted over
 * the last two seconds: while the client keeps the server busy, that is the
 * rate the server allows, so the cut undershoots it only by a little.
 * A throttle of a request sent before the last cut carries no news about the
 * new rate and is ignored, so a burst of throttles cuts once. */
#define FR_ARATE_OK_RING 64
typedef struct fr_arate {
    double min_rate, max_rate;
    double w_max;       /* rate at the last cut */
    double floor;       /* set at a cut: 95% of the accepted rate then */
    int64_t last_cut_ms;
    bool limited;
    double measured;    /* smoothed send rate, requests/s */
    int64_t bucket_ms;  /* start of the current measuring interval */
    int bucket_n;
    int64_t ok_ms[FR_ARATE_OK_RING]; /* times of the latest accepted answers */
    size_t ok_n;        /* how many were recorded in all */
    uint64_t cuts;
} fr_arate;

void fr_arate_init(fr_arate *a, double min_rate, double max_rate, int64_t now_ms);
void fr_arate_on_send(fr_arate *a, int64_t now_ms);
/* Returns 1 when the answer cut the rate. */
int fr_arate_on_answer(fr_arate *a, bool throttled, int64_t sent_ms, int64_t now_ms);
/* The allowed rate now, requests/s; 0 while unlimited. */
double fr_arate_rate(const fr_arate *a, int64_t now_ms);

/* ---- per-service admission: token bucket + concurrency limit ---- */

typedef struct fr_limiter fr_limiter;
typedef struct fr_limiter_wait fr_limiter_wait;
typedef void (*fr_limiter_cb)(void *arg);

int fr_limiter_new(fr_limiter **out, uv_loop_t *loop, const char *name, double rate, double burst, int concurrency);
void fr_limiter_update(fr_limiter *l, double rate, double burst, int concurrency);
/* Returns 1 when granted at once (cb not called), 0 when queued (cb runs
 * later on the loop; *out lets the caller cancel), < 0 on error. */
int fr_limiter_acquire(fr_limiter *l, fr_limiter_cb cb, void *arg, fr_limiter_wait **out);
/* The same for a request of class cls (its operation's limiter): waiting
 * requests of different classes are served in turn, the class served
 * longest ago first, so one operation's backlog does not hold up the
 * others. cls may be NULL (a class of its own). */
int fr_limiter_acquire_cls(fr_limiter *l, fr_limiter *cls, fr_limiter_cb cb, void *arg, fr_limiter_wait **out);
void fr_limiter_release(fr_limiter *l);
void fr_limiter_cancel(fr_limiter_wait *w);
size_t fr_limiter_queued(const fr_limiter *l);
int fr_limiter_active(const fr_limiter *l);
void fr_limiter_close(fr_limiter *l);
/* Makes l follow an fr_arate: its rate is the adaptive rate (the configured
 * rate while unlimited) and answers are fed back with fr_limiter_feedback. */
void fr_limiter_set_adaptive(fr_limiter *l, double min_rate, double max_rate);
void fr_limiter_feedback(fr_limiter *l, bool throttled, int64_t sent_ms);
const fr_arate *fr_limiter_arate(const fr_limiter *l); /* NULL unless adaptive */

/* ---- the retried call ---- */

typedef struct fr_call fr_call;

typedef struct fr_call_result {
    int err;        /* 0, transport error, FR_EHTTP, FR_ETHROTTLED, FR_EQUOTA */
    int attempts;
    int throttles;
    fr_verdict last_verdict;
    uint64_t backoff_ms; /* total time spent waiting between attempts */
} fr_call_result;

typedef struct fr_call_spec {
    const char *service; /* metrics label; copied */
    fr_limiter *op_limiter; /* optional, adaptive, per operation; taken before limiter */
    fr_limiter *limiter;    /* optional, per service */
    fr_retry_quota *quota; /* optional, shared per service */
    fr_retry_policy policy;
    /* For requests that must not run twice (a write that is not idempotent):
     * retry only what surely did not run — throttling answers and refused
     * connections — never a timeout, a reset or a 5xx after sending. */
    bool no_ambiguous_retry;
    /* Fills o for attempt n (0-based); storage behind o must stay valid
     * until the next build or done. Return < 0 to fail the call. */
    int (*build)(void *arg, int attempt, fr_http_opts *o);
    fr_verdict (*classify)(void *arg, const fr_http_resp *r); /* NULL: fr_classify_http */
    /* Called once; r is the last response (NULL if none was received). */
    void (*done)(void *arg, const fr_http_resp *r, const fr_call_result *res);
    void *arg;
} fr_call_spec;

int fr_call_start(fr_http *h, uv_loop_t *loop, const fr_call_spec *spec, fr_call **out);
/* done is not called after this. */
void fr_call_cancel(fr_call *c);

#endif
