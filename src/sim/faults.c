#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "frugal/err.h"
#include "frugal/str.h"

/* Rate limits modelled on AWS's published quotas and observed behaviour
 * (requests/s refill, burst). Approximations: AWS does not publish all. */
static const struct {
    fr_sim_svc svc;
    const char *op;
    double rate, burst;
} aws_limits[] = {
    {FR_SIM_SVC_EMR, "", 5, 20},
    {FR_SIM_SVC_EMR, "RunJobFlow", 1, 5},
    {FR_SIM_SVC_CW, "GetMetricData", 50, 50},
    {FR_SIM_SVC_CW, "GetMetricStatistics", 400, 400},
    {FR_SIM_SVC_CW, "PutMetricData", 500, 500},
    {FR_SIM_SVC_SSM, "", 40, 40},
    {FR_SIM_SVC_SSM, "PutParameter", 3, 3},
    {FR_SIM_SVC_LAMBDA, "", 100, 100},
    {FR_SIM_SVC_EC2, "", 20, 100},
    {FR_SIM_SVC_EC2, "RunInstances", 2, 1000},
    {FR_SIM_SVC_EC2, "TerminateInstances", 5, 1000},
    {FR_SIM_SVC_EC2, "CreateTags", 10, 100},
    {FR_SIM_SVC_SQS, "", 3000, 3000},
    {FR_SIM_SVC_STS, "", 600, 600},
    {FR_SIM_SVC_PRICING, "", 10, 20},
};

void fr_sim_faults_init(fr_sim_faults *f, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    fr_sim_rng_init(&f->rng, seed ^ 0xfa17);
}

static void rule_free(fr_sim_fault_rule *r)
{
    free(r->buckets);
    r->buckets = NULL;
    r->nbuckets = 0;
}

void fr_sim_faults_clear(fr_sim_faults *f)
{
    for (size_t i = 0; i < f->n; i++)
        rule_free(&f->rules[i]);
    free(f->rules);
    f->rules = NULL;
    f->n = 0;
}

void fr_sim_faults_free(fr_sim_faults *f)
{
    fr_sim_faults_clear(f);
    fr_sim_faults_set_aws_limits(f, false, 0);
    fr_sim_calls_clear(f);
}

void fr_sim_faults_set_aws_limits(fr_sim_faults *f, bool on, int64_t now_ms)
{
    for (size_t i = 0; i < f->nlimits; i++)
        rule_free(&f->limits[i]);
    free(f->limits);
    f->limits = NULL;
    f->nlimits = 0;
    f->aws_limits = on;
    if (!on)
        return;
    f->limits = calloc(FR_ARRAY_SIZE(aws_limits), sizeof(*f->limits));
    if (!f->limits)
        return;
    for (size_t i = 0; i < FR_ARRAY_SIZE(aws_limits); i++) {
        fr_sim_fault_rule *r = &f->limits[f->nlimits++];
        r->svc = (int)aws_limits[i].svc;
        fr_strlcpy(r->op, aws_limits[i].op, sizeof(r->op));
        r->rate_limited = true;
        r->rl_rate = aws_limits[i].rate;
        r->rl_burst = aws_limits[i].burst;
    }
    (void)now_ms;
}

static int rate_of(const json_t *j, const char *key, double *out, char *err, size_t errlen)
{
    *out = 0;
    if (!json_object_get(j, key))
        return 0;
    if (fr_sim_jnum(j, key, out) != 0 || *out < 0 || *out > 1) {
        snprintf(err, errlen, "%s must be a probability between 0 and 1", key);
        return FR_EPARSE;
    }
    return 0;
}

int fr_sim_faults_put(fr_sim_faults *f, const json_t *j, int64_t now_ms, char *err, size_t errlen)
{
    (void)now_ms;
    if (!json_is_object(j)) {
        snprintf(err, errlen, "a fault rule is a JSON object");
        return FR_EPARSE;
    }
    /* A misspelt key would otherwise add an all-zero rule that replaces the
     * service's real one; a mistyped value would silently read as 0. */
    static const char *const known[] = {"service", "operation", "throttle_rate", "error_rate", "reset_rate",
                                        "malformed_rate", "slow_body_rate", "error_code", "error_status",
                                        "latency_ms", "rate_limit", "slow_body_ms", "aws_limits"};
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)j, key, val) {
        size_t k = 0;
        while (k < FR_ARRAY_SIZE(known) && strcmp(key, known[k]) != 0)
            k++;
        if (k == FR_ARRAY_SIZE(known)) {
            snprintf(err, errlen, "unknown key '%.64s' in a fault rule", key);
            return FR_EPARSE;
        }
    }
    static const char *const strings[] = {"service", "operation", "error_code"};
    for (size_t k = 0; k < FR_ARRAY_SIZE(strings); k++)
        if ((val = json_object_get(j, strings[k])) && !json_is_string(val)) {
            snprintf(err, errlen, "%s must be a string", strings[k]);
            return FR_EPARSE;
        }
    if ((val = json_object_get(j, "error_status")) && !json_is_integer(val)) {
        snprintf(err, errlen, "error_status must be an integer 400..599");
        return FR_EPARSE;
    }
    if ((val = json_object_get(j, "latency_ms")) && !json_is_number(val) && !json_is_object(val)) {
        snprintf(err, errlen, "latency_ms must be a number or {\"mean\": ms, \"jitter\": ms}");
        return FR_EPARSE;
    }
    if ((val = json_object_get(j, "rate_limit")) && !json_is_object(val)) {
        snprintf(err, errlen, "rate_limit must be {\"rate\": per second, \"burst\": n}");
        return FR_EPARSE;
    }
    if ((val = json_object_get(j, "slow_body_ms")) && !json_is_number(val)) {
        snprintf(err, errlen, "slow_body_ms must be a number 0..600000");
        return FR_EPARSE;
    }
    fr_sim_fault_rule r;
    memset(&r, 0, sizeof(r));
    const char *svc = fr_sim_jstr(j, "service");
    if (!svc || strcmp(svc, "*") == 0 || strcmp(svc, "all") == 0) {
        r.svc = -1;
    } else if ((r.svc = fr_sim_svc_parse(svc)) < 0) {
        snprintf(err, errlen, "unknown service '%s' (emr, cloudwatch, ssm, lambda, ec2, sqs, sts, pricing, chat, imds)",
                 svc);
        return FR_EPARSE;
    }
    const char *op = fr_sim_jstr(j, "operation");
    if (op)
        fr_strlcpy(r.op, op, sizeof(r.op));
    if (rate_of(j, "throttle_rate", &r.throttle_rate, err, errlen) || rate_of(j, "error_rate", &r.error_rate, err, errlen) ||
        rate_of(j, "reset_rate", &r.reset_rate, err, errlen) ||
        rate_of(j, "malformed_rate", &r.malformed_rate, err, errlen) ||
        rate_of(j, "slow_body_rate", &r.slow_rate, err, errlen))
        return FR_EPARSE;
    const char *code = fr_sim_jstr(j, "error_code");
    if (code)
        fr_strlcpy(r.error_code, code, sizeof(r.error_code));
    int64_t st = 0;
    if (fr_sim_jint(j, "error_status", &st) == 0) {
        if (st < 400 || st > 599) {
            snprintf(err, errlen, "error_status must be 400..599");
            return FR_EPARSE;
        }
        r.error_status = (int)st;
    }
    json_t *lat = json_object_get(j, "latency_ms");
    if (json_is_number(lat)) {
        r.latency_mean_ms = json_number_value(lat);
    } else if (json_is_object(lat)) {
        fr_sim_jnum(lat, "mean", &r.latency_mean_ms);
        fr_sim_jnum(lat, "jitter", &r.latency_jitter_ms);
    }
    if (r.latency_mean_ms < 0 || r.latency_jitter_ms < 0 || r.latency_mean_ms > 600000) {
        snprintf(err, errlen, "latency_ms must be non-negative (mean <= 600000)");
        return FR_EPARSE;
    }
    json_t *rl = json_object_get(j, "rate_limit");
    if (json_is_object(rl)) {
        if (fr_sim_jnum(rl, "rate", &r.rl_rate) != 0 || r.rl_rate < 0) {
            snprintf(err, errlen, "rate_limit.rate must be a non-negative number (requests per second)");
            return FR_EPARSE;
        }
        if (fr_sim_jnum(rl, "burst", &r.rl_burst) != 0)
            r.rl_burst = r.rl_rate > 1 ? r.rl_rate : 1;
        r.rate_limited = true;
    }
    double slow = 0;
    if (fr_sim_jnum(j, "slow_body_ms", &slow) == 0) {
        if (slow < 0 || slow > 600000) {
            snprintf(err, errlen, "slow_body_ms must be 0..600000");
            return FR_EPARSE;
        }
        r.slow_body_ms = slow;
        if (!json_object_get(j, "slow_body_rate"))
            r.slow_rate = slow > 0 ? 1 : 0;
    }
    for (size_t i = 0; i < f->n; i++)
        if (f->rules[i].svc == r.svc && strcmp(f->rules[i].op, r.op) == 0) {
            rule_free(&f->rules[i]);
            f->rules[i] = r;
            return 0;
        }
    fr_sim_fault_rule *nr = realloc(f->rules, (f->n + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    f->rules = nr;
    f->rules[f->n++] = r;
    return 0;
}

int fr_sim_faults_remove(fr_sim_faults *f, const char *svc, const char *op)
{
    int s = svc ? fr_sim_svc_parse(svc) : -2;
    int removed = 0;
    for (size_t i = 0; i < f->n;) {
        fr_sim_fault_rule *r = &f->rules[i];
        bool match = (s == -2 || r->svc == s) && (!op || strcmp(r->op, op) == 0);
        if (match) {
            rule_free(r);
            memmove(r, r + 1, (f->n - i - 1) * sizeof(*r));
            f->n--;
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

static json_t *rule_json(const fr_sim_fault_rule *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "service", json_string(r->svc < 0 ? "*" : fr_sim_svc_name((fr_sim_svc)r->svc)));
    if (r->op[0])
        json_object_set_new(j, "operation", json_string(r->op));
    json_object_set_new(j, "throttle_rate", json_real(r->throttle_rate));
    json_object_set_new(j, "error_rate", json_real(r->error_rate));
    if (r->error_code[0])
        json_object_set_new(j, "error_code", json_string(r->error_code));
    if (r->error_status)
        json_object_set_new(j, "error_status", json_integer(r->error_status));
    json_object_set_new(j, "reset_rate", json_real(r->reset_rate));
    json_object_set_new(j, "malformed_rate", json_real(r->malformed_rate));
    json_object_set_new(j, "latency_ms", json_pack("{s:f, s:f}", "mean", r->latency_mean_ms, "jitter", r->latency_jitter_ms));
    if (r->rate_limited)
        json_object_set_new(j, "rate_limit", json_pack("{s:f, s:f}", "rate", r->rl_rate, "burst", r->rl_burst));
    if (r->slow_body_ms > 0) {
        json_object_set_new(j, "slow_body_ms", json_real(r->slow_body_ms));
        json_object_set_new(j, "slow_body_rate", json_real(r->slow_rate));
    }
    return j;
}

json_t *fr_sim_faults_json(const fr_sim_faults *f)
{
    json_t *rules = json_array();
    for (size_t i = 0; i < f->n; i++)
        json_array_append_new(rules, rule_json(&f->rules[i]));
    json_t *lim = json_array();
    for (size_t i = 0; i < f->nlimits; i++)
        json_array_append_new(lim, rule_json(&f->limits[i]));
    return json_pack("{s:o, s:b, s:o}", "rules", rules, "aws_limits", f->aws_limits, "aws_limit_rules", lim);
}

/* The most specific rule for (svc, op): operation rules beat service rules
 * beat rules for every service. */
static fr_sim_fault_rule *match(fr_sim_fault_rule *rules, size_t n, fr_sim_svc svc, const char *op)
{
    fr_sim_fault_rule *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < n; i++) {
        fr_sim_fault_rule *r = &rules[i];
        if (r->svc >= 0 && r->svc != (int)svc)
            continue;
        if (r->op[0] && strcmp(r->op, op) != 0)
            continue;
        int score = (r->svc >= 0 ? 2 : 0) + (r->op[0] ? 4 : 0);
        if (score > best_score) {
            best = r;
            best_score = score;
        }
    }
    return best;
}

static bool take_token(fr_sim_fault_rule *r, const char *op, int64_t now_ms)
{
    fr_sim_bucket *b = NULL;
    for (size_t i = 0; i < r->nbuckets; i++)
        if (strcmp(r->buckets[i].op, op) == 0)
            b = &r->buckets[i];
    if (!b) {
        fr_sim_bucket *nb = realloc(r->buckets, (r->nbuckets + 1) * sizeof(*nb));
        if (!nb)
            return true;
        r->buckets = nb;
        b = &r->buckets[r->nbuckets++];
        fr_strlcpy(b->op, op, sizeof(b->op));
        fr_tbucket_init(&b->tb, r->rl_rate, r->rl_burst, now_ms);
    }
    return fr_tbucket_take(&b->tb, now_ms) == 0;
}

void fr_sim_faults_decide(fr_sim_faults *f, fr_sim_svc svc, const char *op, int64_t now_ms, fr_sim_fault_decision *d)
{
    memset(d, 0, sizeof(*d));
    fr_sim_fault_rule *lim = f->aws_limits ? match(f->limits, f->nlimits, svc, op) : NULL;
    fr_sim_fault_rule *r = match(f->rules, f->n, svc, op);
    /* a rule's own rate limit replaces the built-in one */
    fr_sim_fault_rule *bucket_rule = r && r->rate_limited ? r : lim;
    if (bucket_rule && bucket_rule->rate_limited && !take_token(bucket_rule, op, now_ms)) {
        d->action = FR_SIM_FAULT_THROTTLE;
        d->rate_limited = true;
    }
    if (!r)
        return;
    if (r->latency_mean_ms > 0 || r->latency_jitter_ms > 0) {
        double l = r->latency_mean_ms + r->latency_jitter_ms * (2 * fr_sim_rng_unit(&f->rng) - 1);
        d->latency_ms = l > 0 ? l : 0;
    }
    if (d->action == FR_SIM_FAULT_NONE) {
        double x = fr_sim_rng_unit(&f->rng);
        if (x < r->reset_rate)
            d->action = FR_SIM_FAULT_RESET;
        else if (x < r->reset_rate + r->throttle_rate)
            d->action = FR_SIM_FAULT_THROTTLE;
        else if (x < r->reset_rate + r->throttle_rate + r->error_rate) {
            d->action = FR_SIM_FAULT_ERROR;
            fr_strlcpy(d->error_code, r->error_code, sizeof(d->error_code));
            d->error_status = r->error_status;
        }
    }
    if (r->malformed_rate > 0 && fr_sim_rng_unit(&f->rng) < r->malformed_rate)
        d->malformed = true;
    if (r->slow_body_ms > 0 && fr_sim_rng_unit(&f->rng) < r->slow_rate)
        d->slow_body_ms = r->slow_body_ms;
}

/* ---- counters ---- */

void fr_sim_calls_count(fr_sim_faults *f, fr_sim_svc svc, const char *op, const fr_sim_fault_decision *d, bool error)
{
    if (svc >= FR_SIM_SVC_COUNT)
        return;
    fr_sim_op_count *c = NULL;
    for (size_t i = 0; i < f->ncounts[svc]; i++)
        if (strcmp(f->counts[svc][i].op, op) == 0)
            c = &f->counts[svc][i];
    if (!c) {
        fr_sim_op_count *nc = realloc(f->counts[svc], (f->ncounts[svc] + 1) * sizeof(*nc));
        if (!nc)
            return;
        f->counts[svc] = nc;
        c = &nc[f->ncounts[svc]++];
        memset(c, 0, sizeof(*c));
        fr_strlcpy(c->op, op, sizeof(c->op));
    }
    f->total++;
    c->count++;
    if (d && d->action == FR_SIM_FAULT_THROTTLE)
        c->throttled++;
    else if (d && d->action == FR_SIM_FAULT_RESET)
        c->resets++;
    else if (error || (d && d->action == FR_SIM_FAULT_ERROR))
        c->errors++;
    if (d && d->malformed)
        c->malformed++;
}

json_t *fr_sim_calls_json(const fr_sim_faults *f)
{
    json_t *svcs = json_object();
    uint64_t throttled = 0;
    for (int s = 0; s < FR_SIM_SVC_COUNT; s++) {
        if (!f->ncounts[s])
            continue;
        json_t *ops = json_object();
        for (size_t i = 0; i < f->ncounts[s]; i++) {
            const fr_sim_op_count *c = &f->counts[s][i];
            throttled += c->throttled;
            json_object_set_new(ops, c->op,
                                json_pack("{s:I, s:I, s:I, s:I, s:I}", "count", (json_int_t)c->count, "throttled",
                                          (json_int_t)c->throttled, "errors", (json_int_t)c->errors, "resets",
                                          (json_int_t)c->resets, "malformed", (json_int_t)c->malformed));
        }
        json_object_set_new(svcs, fr_sim_svc_name((fr_sim_svc)s), ops);
    }
    return json_pack("{s:I, s:I, s:o}", "total", (json_int_t)f->total, "throttled", (json_int_t)throttled, "services",
                     svcs);
}

void fr_sim_calls_clear(fr_sim_faults *f)
{
    for (int s = 0; s < FR_SIM_SVC_COUNT; s++) {
        free(f->counts[s]);
        f->counts[s] = NULL;
        f->ncounts[s] = 0;
    }
    f->total = 0;
}
