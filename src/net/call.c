#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/call.h"
#include "frugal/err.h"
#include "frugal/metrics.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"

struct fr_call {
    fr_http *h;
    uv_loop_t *loop;
    fr_call_spec spec;
    char *service;
    char labels[96];
    int attempt;
    int holds_limiter;
    int64_t sent_ms; /* loop time of the last send, for the adaptive rate */
    int last_cost;
    fr_limiter_wait *lwait;
    fr_http_req *req;
    uv_timer_t *timer; /* only while backing off; freed in its close callback */
    int starting;      /* inside fr_call_start: failures are returned, not called back */
    int in_done;       /* inside spec.done: the call is freed when it returns */
    int start_err;
    fr_call_result res;
};

static void inflight_add(fr_call *c, double d)
{
    fr_metric *m = fr_metric_get("frugal_http_in_flight", FR_METRIC_GAUGE, "Outgoing requests in flight", c->labels);
    fr_metric_set(m, fr_metric_value(m) + d);
}

static void attempt_now(fr_call *c);

static void free_timer_handle(uv_handle_t *h)
{
    free(h);
}

static void call_free(fr_call *c)
{
    if (c->timer) {
        uv_timer_stop(c->timer);
        uv_close((uv_handle_t *)c->timer, free_timer_handle);
    }
    free(c->service);
    free(c);
}

static void finish(fr_call *c, const fr_http_resp *r, int err)
{
    if (c->starting) {
        c->start_err = err ? err : -EIO;
        return;
    }
    c->res.err = err;
    if (err)
        fr_metric_inc("frugal_http_errors_total", "Calls that failed after all attempts", c->labels, 1);
    c->in_done = 1;
    if (c->spec.done)
        c->spec.done(c->spec.arg, r, &c->res);
    call_free(c);
}

static void release_limiter(fr_call *c)
{
    if (c->holds_limiter) {
        c->holds_limiter = 0;
        fr_limiter_release(c->spec.limiter);
    }
}

static void on_backoff_done(uv_timer_t *t)
{
    fr_call *c = t->data;
    c->timer = NULL;
    uv_close((uv_handle_t *)t, free_timer_handle);
    attempt_now(c);
}

static void on_response(const fr_http_resp *r, void *arg)
{
    fr_call *c = arg;
    c->req = NULL;
    inflight_add(c, -1);
    release_limiter(c);
    fr_verdict v = c->spec.classify ? c->spec.classify(c->spec.arg, r) : fr_classify_http(r);
    c->res.last_verdict = v;
    if (c->spec.op_limiter)
        fr_limiter_feedback(c->spec.op_limiter, v == FR_VERDICT_THROTTLE, c->sent_ms);
    if (v == FR_VERDICT_OK) {
        if (c->spec.quota)
            fr_quota_release(c->spec.quota, c->last_cost);
        finish(c, r, 0);
        return;
    }
    if (v == FR_VERDICT_FAIL) {
        finish(c, r, r->err ? r->err : FR_EHTTP);
        return;
    }
    if (v == FR_VERDICT_THROTTLE) {
        c->res.throttles++;
        fr_metric_inc("frugal_http_throttles_total", "Throttled responses", c->labels, 1);
    }
    int giveup_err = v == FR_VERDICT_THROTTLE ? FR_ETHROTTLED : (r->err ? r->err : FR_EHTTP);
    /* a throttle was refused before it ran; a refused connection never sent */
    bool may_have_run = v != FR_VERDICT_THROTTLE && r->err != -ECONNREFUSED;
    if (c->attempt >= c->spec.policy.max_retries || (c->spec.no_ambiguous_retry && may_have_run)) {
        finish(c, r, giveup_err);
        return;
    }
    /* A server asking for a longer wait than the cap is not retried; decide
     * that before the retry quota is charged for a retry that never happens. */
    int64_t ra = fr_retry_after_ms(r, fr_time_now_ms());
    if (ra >= 0 && c->spec.policy.retry_after_cap_ms && (uint64_t)ra > c->spec.policy.retry_after_cap_ms) {
        finish(c, r, giveup_err);
        return;
    }
    if (c->spec.quota) {
        int cost;
        if (!fr_quota_acquire(c->spec.quota, r->err == -ETIMEDOUT, &cost)) {
            finish(c, r, giveup_err == FR_ETHROTTLED ? FR_ETHROTTLED : FR_EQUOTA);
            return;
        }
        c->last_cost = cost;
    }
    uint64_t delay = fr_backoff_ms(&c->spec.policy, c->attempt, fr_rand_unit());
    if (ra >= 0 && (uint64_t)ra > delay)
        delay = (uint64_t)ra;
    c->attempt++;
    c->res.backoff_ms += delay;
    fr_metric_inc("frugal_http_retries_total", "Retried attempts", c->labels, 1);
    c->timer = malloc(sizeof(*c->timer));
    if (!c->timer) {
        finish(c, r, -ENOMEM);
        return;
    }
    uv_timer_init(c->loop, c->timer);
    c->timer->data = c;
    uv_timer_start(c->timer, on_backoff_done, delay, 0);
}

static void send_attempt(fr_call *c)
{
    fr_http_opts o;
    memset(&o, 0, sizeof(o));
    int rc = c->spec.build(c->spec.arg, c->attempt, &o);
    if (rc == 0) {
        c->res.attempts++;
        c->sent_ms = (int64_t)uv_now(c->loop);
        fr_metric_inc("frugal_http_requests_total", "Outgoing request attempts", c->labels, 1);
        inflight_add(c, 1);
        rc = fr_http_send(c->h, &o, on_response, c, &c->req);
        if (rc)
            inflight_add(c, -1);
    }
    if (rc) {
        release_limiter(c);
        finish(c, NULL, rc);
    }
}

static void on_granted(void *arg)
{
    fr_call *c = arg;
    c->lwait = NULL;
    c->holds_limiter = 1;
    send_attempt(c);
}

static void service_stage(fr_call *c)
{
    if (c->spec.limiter) {
        int g = fr_limiter_acquire_cls(c->spec.limiter, c->spec.op_limiter, on_granted, c, &c->lwait);
        if (g < 0) {
            finish(c, NULL, g);
            return;
        }
        if (g == 0)
            return;
        c->holds_limiter = 1;
    }
    send_attempt(c);
}

/* The operation's limiter only paces sends; it holds no concurrency slot. */
static void on_op_granted(void *arg)
{
    fr_call *c = arg;
    c->lwait = NULL;
    fr_limiter_release(c->spec.op_limiter);
    service_stage(c);
}

static void attempt_now(fr_call *c)
{
    if (c->spec.op_limiter) {
        int g = fr_limiter_acquire(c->spec.op_limiter, on_op_granted, c, &c->lwait);
        if (g < 0) {
            finish(c, NULL, g);
            return;
        }
        if (g == 0)
            return;
        fr_limiter_release(c->spec.op_limiter);
    }
    service_stage(c);
}

int fr_call_start(fr_http *h, uv_loop_t *loop, const fr_call_spec *spec, fr_call **out)
{
    if (out)
        *out = NULL;
    if (!spec->build)
        return -EINVAL;
    fr_call *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->h = h;
    c->loop = loop;
    c->spec = *spec;
    c->service = fr_strdup(spec->service ? spec->service : "other");
    c->spec.service = c->service;
    snprintf(c->labels, sizeof(c->labels), "service=\"%s\"", c->service);
    c->starting = 1;
    attempt_now(c);
    c->starting = 0;
    if (c->start_err) {
        int err = c->start_err;
        release_limiter(c);
        call_free(c);
        return err;
    }
    if (out)
        *out = c;
    return 0;
}

void fr_call_cancel(fr_call *c)
{
    if (!c || c->in_done)
        return;
    if (c->lwait)
        fr_limiter_cancel(c->lwait);
    if (c->req) {
        fr_http_cancel(c->req);
        inflight_add(c, -1);
    }
    release_limiter(c);
    call_free(c);
}
