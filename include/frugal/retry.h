/* Retry policy, pure: full-jitter exponential backoff, Retry-After parsing,
 * a default classifier, an AWS-style retry quota and a token bucket. No
 * clocks or randomness are read here; callers pass them in. */
#ifndef FRUGAL_RETRY_H
#define FRUGAL_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "frugal/http.h"

typedef struct fr_retry_policy {
    uint64_t initial_ms;
    uint64_t max_ms;
    int max_retries;             /* retries after the first attempt */
    uint64_t retry_after_cap_ms; /* longer Retry-After: do not retry */
} fr_retry_policy;

#define FR_RETRY_POLICY_DEFAULT {1000, 30000, 5, 120000}

typedef enum {
    FR_VERDICT_OK,       /* done, success */
    FR_VERDICT_FAIL,     /* done, do not retry */
    FR_VERDICT_RETRY,    /* transient: retry with backoff */
    FR_VERDICT_THROTTLE, /* throttled: retry with backoff, counted as a throttle */
} fr_verdict;

const char *fr_verdict_name(fr_verdict v);

/* Delay before retry number `retry` (0 = first retry): a uniform value in
 * [0, min(max_ms, initial_ms * 2^retry)] drawn with unit_rand in [0,1). */
uint64_t fr_backoff_ms(const fr_retry_policy *p, int retry, double unit_rand);

/* Server-requested delay from Retry-After (seconds or HTTP date),
 * retry-after-ms or x-ms-retry-after-ms; -1 when absent or unparsable. */
int64_t fr_retry_after_ms(const fr_http_resp *r, int64_t now_ms);

/* Transport errors and 500/502/503/504 retry, 429 throttles, 2xx/3xx succeed,
 * other statuses fail. */
fr_verdict fr_classify_http(const fr_http_resp *r);

/* The SDKs' standard-mode retry quota. */
typedef struct fr_retry_quota {
    int capacity;
    int available;
} fr_retry_quota;

#define FR_QUOTA_CAPACITY 500
#define FR_QUOTA_RETRY_COST 5
#define FR_QUOTA_TIMEOUT_COST 10
#define FR_QUOTA_NO_RETRY_INCREMENT 1

void fr_quota_init(fr_retry_quota *q, int capacity);
/* Takes the cost of one retry; false when the quota is exhausted. */
bool fr_quota_acquire(fr_retry_quota *q, bool is_timeout, int *cost_out);
/* On success: refunds what the call's last retry took, or the small
 * increment when the call needed no retry. */
void fr_quota_release(fr_retry_quota *q, int last_cost);

/* Token bucket: rate tokens per second up to burst. */
typedef struct fr_tbucket {
    double rate;
    double burst;
    double tokens;
    int64_t last_ms;
} fr_tbucket;

void fr_tbucket_init(fr_tbucket *b, double rate, double burst, int64_t now_ms);
void fr_tbucket_set(fr_tbucket *b, double rate, double burst, int64_t now_ms);
/* Takes one token and returns 0, or returns the ms until one is available. */
uint64_t fr_tbucket_take(fr_tbucket *b, int64_t now_ms);

#endif
