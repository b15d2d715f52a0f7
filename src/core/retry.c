#include <math.h>
#include <string.h>

#include "frugal/retry.h"
#include "frugal/str.h"
#include "frugal/time.h"

const char *fr_verdict_name(fr_verdict v)
{
    switch (v) {
    case FR_VERDICT_OK:
        return "ok";
    case FR_VERDICT_FAIL:
        return "fail";
    case FR_VERDICT_RETRY:
        return "retry";
    case FR_VERDICT_THROTTLE:
        return "throttle";
    }
    return "?";
}

uint64_t fr_backoff_ms(const fr_retry_policy *p, int retry, double unit_rand)
{
    if (retry < 0)
        retry = 0;
    double ceiling = (double)p->initial_ms * ldexp(1.0, retry > 60 ? 60 : retry);
    if (ceiling > (double)p->max_ms)
        ceiling = (double)p->max_ms;
    if (unit_rand < 0)
        unit_rand = 0;
    if (unit_rand >= 1)
        unit_rand = 0.999999999;
    return (uint64_t)floor(unit_rand * (ceiling + 1.0));
}

int64_t fr_retry_after_ms(const fr_http_resp *r, int64_t now_ms)
{
    const char *v;
    uint64_t u;
    double d;
    if ((v = fr_http_resp_header(r, "retry-after-ms")) || (v = fr_http_resp_header(r, "x-ms-retry-after-ms"))) {
        if (fr_parse_double(v, &d) == 0 && d >= 0)
            return (int64_t)ceil(d);
    }
    if ((v = fr_http_resp_header(r, "retry-after")) != NULL) {
        if (fr_parse_u64(v, &u) == 0)
            return (int64_t)(u > 86400 ? 86400 : u) * 1000;
        if (fr_parse_double(v, &d) == 0 && d >= 0)
            return (int64_t)ceil(d * 1000);
        int64_t when;
        if (fr_time_parse_http(v, &when) == 0)
            return when > now_ms ? when - now_ms : 0;
    }
    return -1;
}

fr_verdict fr_classify_http(const fr_http_resp *r)
{
    if (r->err) {
        if (r->err == -E2BIG || r->err == -ECANCELED || r->err == -EINVAL)
            return FR_VERDICT_FAIL;
        return FR_VERDICT_RETRY; /* timeouts, resets, refused, DNS */
    }
    if (r->status == 429)
        return FR_VERDICT_THROTTLE;
    if (r->status == 500 || r->status == 502 || r->status == 503 || r->status == 504)
        return FR_VERDICT_RETRY;
    if (r->status >= 200 && r->status < 400)
        return FR_VERDICT_OK;
    return FR_VERDICT_FAIL;
}

void fr_quota_init(fr_retry_quota *q, int capacity)
{
    q->capacity = capacity;
    q->available = capacity;
}

bool fr_quota_acquire(fr_retry_quota *q, bool is_timeout, int *cost_out)
{
    int cost = is_timeout ? FR_QUOTA_TIMEOUT_COST : FR_QUOTA_RETRY_COST;
    if (q->available < cost)
        return false;
    q->available -= cost;
    *cost_out = cost;
    return true;
}

void fr_quota_release(fr_retry_quota *q, int last_cost)
{
    q->available += last_cost > 0 ? last_cost : FR_QUOTA_NO_RETRY_INCREMENT;
    if (q->available > q->capacity)
        q->available = q->capacity;
}

void fr_tbucket_init(fr_tbucket *b, double rate, double burst, int64_t now_ms)
{
    b->rate = rate > 0 ? rate : 1;
    b->burst = burst >= 1 ? burst : 1;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

static void refill(fr_tbucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
}

void fr_tbucket_set(fr_tbucket *b, double rate, double burst, int64_t now_ms)
{
    refill(b, now_ms); /* settle what accrued at the old rate */
    b->rate = rate > 0 ? rate : 1;
    b->burst = burst >= 1 ? burst : 1;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

uint64_t fr_tbucket_take(fr_tbucket *b, int64_t now_ms)
{
    refill(b, now_ms);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    double need = (1.0 - b->tokens) * 1000.0 / b->rate;
    uint64_t ms = (uint64_t)ceil(need);
    return ms ? ms : 1;
}
