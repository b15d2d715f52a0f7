/* A retried HTTP call on the loop: rate limit (fr_limiter), send, classify,
 * back off on a uv timer, repeat. The request is rebuilt for every attempt
 * (so AWS calls are signed afresh with current credentials). */
#ifndef FRUGAL_CALL_H
#define FRUGAL_CALL_H

#include <uv.h>

#include "frugal/http.h"
#include "frugal/retry.h"

/* ---- per-service admission: token bucket + concurrency limit ---- */

typedef struct fr_limiter fr_limiter;
typedef struct fr_limiter_wait fr_limiter_wait;
typedef void (*fr_limiter_cb)(void *arg);

int fr_limiter_new(fr_limiter **out, uv_loop_t *loop, const char *name, double rate, double burst, int concurrency);
void fr_limiter_update(fr_limiter *l, double rate, double burst, int concurrency);
/* Returns 1 when granted at once (cb not called), 0 when queued (cb runs
 * later on the loop; *out lets the caller cancel), < 0 on error. */
int fr_limiter_acquire(fr_limiter *l, fr_limiter_cb cb, void *arg, fr_limiter_wait **out);
void fr_limiter_release(fr_limiter *l);
void fr_limiter_cancel(fr_limiter_wait *w);
size_t fr_limiter_queued(const fr_limiter *l);
int fr_limiter_active(const fr_limiter *l);
void fr_limiter_close(fr_limiter *l);

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
    fr_limiter *limiter; /* optional */
    fr_retry_quota *quota; /* optional, shared per service */
    fr_retry_policy policy;
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
