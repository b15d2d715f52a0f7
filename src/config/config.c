#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/config.h"
#include "frugal/err.h"
#include "frugal/redact.h"
#include "frugal/str.h"

#define OFF(f) offsetof(fr_config, f)
#define NOB 1, 0 /* no bounds */
#define SVC(svcid, lname, d_rate, d_burst, d_conc)                                                                       \
    {"aws", lname "_rate", FR_CT_DOUBLE, OFF(svc[svcid].rate), d_rate, 0.01, 100000, NULL, NULL, true,              \
     "Requests per second allowed to " lname " (token bucket refill rate)."},                                      \
        {"aws", lname "_burst", FR_CT_DOUBLE, OFF(svc[svcid].burst), d_burst, 1, 100000, NULL, NULL, true,          \
         "Token bucket size for " lname " (requests that may go at once after idling)."},                          \
        {"aws", lname "_concurrency", FR_CT_INT, OFF(svc[svcid].concurrency), d_conc, 1, 1024, NULL, NULL, false,   \
         "Requests to " lname " in flight at once."}

static const fr_cfg_key keys[] = {
    /* [server] */
    {"server", "listen", FR_CT_ADDR, OFF(listen), "127.0.0.1:8787", NOB, NULL, NULL, false,
     "Address and port of the REST API, WebSocket feed and dashboard. Loopback by default; port 0 picks a free port."},
    {"server", "state_dir", FR_CT_STR, OFF(state_dir), "/var/lib/frugal", NOB, NULL, NULL, false,
     "Directory for the LMDB store, the generated API token and the session key."},
    {"server", "web_root", FR_CT_STR, OFF(web_root), "", NOB, NULL, NULL, true,
     "Directory of the dashboard files. Empty: the installed share/frugal/web, else the source tree's web/."},
    {"server", "api_token", FR_CT_SECRET, OFF(api_token), "", NOB, NULL, "FRUGAL_API_TOKEN", false,
     "Bearer token for /api/* and the feed. Empty: generated on first start into STATE_DIR/api-token (mode 0600)."},
    {"server", "session_ttl", FR_CT_DURATION, OFF(session_ttl_ms), "12h", 60000, 31 * 86400000.0, NULL, NULL, true,
     "Lifetime of a dashboard login session cookie."},
    {"server", "ws_max_queued", FR_CT_SIZE, OFF(ws_max_queued), "4M", 4096, 1e10, NULL, NULL, true,
     "A WebSocket client whose unsent bytes exceed this is disconnected (slow consumer)."},
    {"server", "feed_history", FR_CT_INT, OFF(feed_history), "100000", 100, 1e9, NULL, NULL, true,
     "Events kept in the store for feed replay (?since=SEQ); older ones are pruned."},
    {"server", "max_request_body", FR_CT_SIZE, OFF(max_request_body), "1M", 1024, 1e9, NULL, NULL, false,
     "Largest accepted request body."},
    {"server", "drain_timeout", FR_CT_DURATION, OFF(drain_timeout_ms), "10s", 0, 3600000, NULL, NULL, true,
     "On SIGTERM/SIGINT, how long in-flight work may take to finish before the daemon closes."},
    /* [log] */
    {"log", "level", FR_CT_ENUM, OFF(log_level), "info", NOB, "debug|info|warn|error", NULL, true,
     "Lowest level written to stdout."},
    /* [store] */
    {"store", "map_size", FR_CT_SIZE, OFF(map_size), "256M", 1 << 20, 1e13, NULL, NULL, false,
     "Initial LMDB map size."},
    {"store", "map_size_max", FR_CT_SIZE, OFF(map_size_max), "8G", 1 << 20, 1e13, NULL, NULL, false,
     "The map grows (doubling) up to this size when full; past it writes fail with ENOSPC."},
    /* [http] */
    {"http", "timeout", FR_CT_DURATION, OFF(http_timeout_ms), "30s", 100, 3600000, NULL, NULL, true,
     "Default whole-request timeout of outgoing HTTP requests."},
    {"http", "connect_timeout", FR_CT_DURATION, OFF(http_connect_timeout_ms), "5s", 100, 600000, NULL, NULL, true,
     "TCP+TLS connect timeout of outgoing HTTP requests."},
    {"http", "max_per_host", FR_CT_INT, OFF(http_max_per_host), "64", 1, 4096, NULL, NULL, false,
     "Outgoing requests in flight per host; more wait in a queue."},
    {"http", "max_total", FR_CT_INT, OFF(http_max_total), "512", 1, 65536, NULL, NULL, false,
     "Outgoing requests in flight in total."},
    {"http", "max_response", FR_CT_SIZE, OFF(http_max_response), "64M", 1024, 1e10, NULL, NULL, false,
     "Largest accepted response body; larger ones fail with E2BIG."},
    /* [retry] */
    {"retry", "initial", FR_CT_DURATION, OFF(retry_initial_ms), "1s", 1, 600000, NULL, NULL, true,
     "Backoff base: attempt n waits a random time in [0, min(max, initial * 2^n)] (full jitter)."},
    {"retry", "max", FR_CT_DURATION, OFF(retry_max_ms), "30s", 1, 3600000, NULL, NULL, true,
     "Backoff ceiling."},
    {"retry", "max_retries", FR_CT_INT, OFF(retry_max_retries), "5", 0, 100, NULL, NULL, true,
     "Retries after the first attempt (AWS_MAX_ATTEMPTS, when set, overrides this for AWS calls)."},
    {"retry", "retry_after_cap", FR_CT_DURATION, OFF(retry_after_cap_ms), "120s", 0, 3600000, NULL, NULL, true,
     "Longest Retry-After honoured; a server asking for more is not retried."},
    /* [aws] */
    {"aws", "region", FR_CT_STR, OFF(aws_region), "", NOB, NULL, NULL, false,
     "Region. Empty: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, then us-east-1."},
    {"aws", "endpoint_url", FR_CT_STR, OFF(aws_endpoint_url), "", NOB, NULL, NULL, false,
     "Endpoint for every service. Empty: AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, else the AWS host names."},
    {"aws", "profile", FR_CT_STR, OFF(aws_profile), "", NOB, NULL, NULL, false,
     "Shared-config profile. Empty: AWS_PROFILE, then \"default\"."},
    {"aws", "max_attempts", FR_CT_INT, OFF(aws_max_attempts), "0", 0, 100, NULL, NULL, true,
     "Total attempts per AWS call. 0: AWS_MAX_ATTEMPTS if set, else retry.max_retries + 1."},
    {"aws", "retry_quota", FR_CT_BOOL, OFF(aws_retry_quota), "true", NOB, NULL, NULL, true,
     "Standard-mode retry quota (500 tokens; a retry costs 5, a timeout retry 10, a success refunds 1)."},
    {"aws", "adaptive_rate", FR_CT_BOOL, OFF(aws_adaptive_rate), "true", NOB, NULL, NULL, true,
     "Pace each API operation on its own: a throttle cuts that operation's send rate to 70% and it grows back "
     "along a cubic curve (never below 0.5/s, never above the service's rate)."},
    SVC(FR_SVC_EMR, "emr", "8", "16", "8"),
    SVC(FR_SVC_CLOUDWATCH, "cloudwatch", "20", "50", "16"),
    SVC(FR_SVC_SSM, "ssm", "20", "40", "8"),
    SVC(FR_SVC_LAMBDA, "lambda", "10", "10", "4"),
    SVC(FR_SVC_EC2, "ec2", "20", "100", "16"),
    SVC(FR_SVC_SQS, "sqs", "50", "100", "8"),
    SVC(FR_SVC_STS, "sts", "10", "20", "4"),
    SVC(FR_SVC_PRICING, "pricing", "5", "10", "2"),
    /* [emr] */
    {"emr", "param_prefix", FR_CT_STR, OFF(emr_param_prefix), "/application/ecdp-config/prod/EMR-BASE/", NOB, NULL,
     "PARAM_STORE_PREFIX", false, "Parameter Store path prefix of cluster configs (the cluster name follows)."},
    {"emr", "lambda_function", FR_CT_STR, OFF(emr_lambda_function), "app-job-submit-lambda-prod", NOB, NULL,
     "LAMBDA_FUNCTION_NAME", false, "The cluster-submit Lambda invoked to create the test cluster."},
    {"emr", "catalog", FR_CT_STR, OFF(emr_catalog), "", NOB, NULL, NULL, true,
     "Instance catalog CSV. Empty: the installed share/frugal/instance-catalog.csv (else the source tree's data/)."},
    {"emr", "max_cluster_instances", FR_CT_INT, OFF(emr_max_cluster_instances), "20", 1, 10000, NULL,
     "MAX_CLUSTER_INSTANCES", true, "A test cluster with more instances than this is refused before approval."},
    {"emr", "auto_terminate_minutes", FR_CT_INT, OFF(emr_auto_terminate_minutes), "120", 5, 10080, NULL,
     "AUTO_TERMINATE_MINUTES", true, "The test cluster is terminated after this long, by frugal and by EMR's idle policy."},
    {"emr", "max_test_cost_dollars", FR_CT_DOUBLE, OFF(emr_max_test_cost), "50", 0, 1e9, NULL,
     "MAX_TEST_COST_DOLLARS", true, "Estimated test cost above which the approval card shows a warning."},
    {"emr", "proposal_ttl", FR_CT_DURATION, OFF(emr_proposal_ttl_ms), "24h", 1000, 30LL * 86400000, NULL, NULL, true,
     "A proposal not approved within this time expires (it ends CANCELLED; analyze again for a fresh one)."},
    {"emr", "window", FR_CT_DURATION, OFF(emr_window_ms), "24h", 60000, 90 * 86400000.0, NULL, NULL, true,
     "How far back discovery looks for terminated clusters."},
    {"emr", "max_runtime", FR_CT_DURATION, OFF(emr_max_runtime_ms), "6h", 60000, 30 * 86400000.0, NULL, NULL, true,
     "A cluster is transient when it ran (creation to end) for less than this."},
    {"emr", "cache_ttl", FR_CT_DURATION, OFF(emr_cache_ttl_ms), "10m", 0, 86400000, NULL, NULL, true,
     "How long the discovered cluster list is served from cache (refresh=1 bypasses it)."},
    {"emr", "include_failed", FR_CT_BOOL, OFF(emr_include_failed), "true", NOB, NULL, NULL, true,
     "Also list TERMINATED_WITH_ERRORS clusters (flagged as failed)."},
    {"emr", "heavy_avg", FR_CT_DOUBLE, OFF(emr_heavy_avg), "25", 0, 100, NULL, NULL, true,
     "Heavily oversized when average < this ..."},
    {"emr", "heavy_p95", FR_CT_DOUBLE, OFF(emr_heavy_p95), "35", 0, 100, NULL, NULL, true,
     "... and P95 < this (percent; the higher of CPU and memory). Two sizes down."},
    {"emr", "moderate_avg", FR_CT_DOUBLE, OFF(emr_moderate_avg), "50", 0, 100, NULL, NULL, true,
     "Moderately oversized when average < this ..."},
    {"emr", "moderate_p95", FR_CT_DOUBLE, OFF(emr_moderate_p95), "60", 0, 100, NULL, NULL, true,
     "... and P95 < this. One size down."},
    {"emr", "right_avg", FR_CT_DOUBLE, OFF(emr_right_avg), "70", 0, 100, NULL, NULL, true,
     "Right-sized when average < this ..."},
    {"emr", "right_p95", FR_CT_DOUBLE, OFF(emr_right_p95), "80", 0, 100, NULL, NULL, true,
     "... and P95 < this; otherwise undersized."},
    {"emr", "headroom", FR_CT_DOUBLE, OFF(emr_headroom), "1.2", 1, 10, NULL, NULL, true,
     "Required resources = current vCPU/memory x peak utilisation x headroom."},
    {"emr", "profile_ratio", FR_CT_DOUBLE, OFF(emr_profile_ratio), "1.5", 1, 100, NULL, NULL, true,
     "CPU-heavy when CPU > ratio x memory utilisation, memory-heavy when the reverse, else balanced."},
    {"emr", "sustained_pct", FR_CT_DOUBLE, OFF(emr_sustained_pct), "10", 0, 100, NULL, NULL, true,
     "A peak is sustained when the node-type average stays at or above P95 - this many points for sustained_window."},
    {"emr", "sustained_window", FR_CT_DURATION, OFF(emr_sustained_window_ms), "5m", 60000, 86400000, NULL, NULL, true,
     "Shortest plateau that counts as a sustained peak; shorter excursions are spikes."},
    {"emr", "uplift", FR_CT_DOUBLE, OFF(emr_uplift), "0.25", 0, 10, NULL, NULL, true,
     "EMR's per-instance charge as a fraction of the EC2 on-demand price."},
    {"emr", "wait_timeout", FR_CT_DURATION, OFF(emr_wait_timeout_ms), "45m", 10000, 86400000, NULL, NULL, true,
     "How long WAIT polls for the test cluster to reach WAITING/RUNNING."},
    {"emr", "poll_initial", FR_CT_DURATION, OFF(emr_poll_initial_ms), "5s", 10, 600000, NULL, NULL, true,
     "First cluster/step status poll interval (doubles, jittered, up to poll_max)."},
    {"emr", "poll_max", FR_CT_DURATION, OFF(emr_poll_max_ms), "60s", 10, 3600000, NULL, NULL, true,
     "Longest status poll interval."},
    {"emr", "steps_timeout", FR_CT_DURATION, OFF(emr_steps_timeout_ms), "100m", 10000, 86400000, NULL, NULL, true,
     "How long Phase 2 waits for the copied steps before giving up (the test cluster is still terminated)."},
    {"emr", "metric_period", FR_CT_INT, OFF(emr_metric_period_s), "60", 60, 3600, NULL, NULL, true,
     "CloudWatch period in seconds (60 = 1-minute resolution)."},
    /* [llm] */
    {"llm", "provider", FR_CT_ENUM, OFF(llm_provider), "none", NOB, "none|azure|openai", NULL, true,
     "none: the chat uses the deterministic command parser. azure / openai: chat-completions with tools."},
    {"llm", "endpoint", FR_CT_STR, OFF(llm_endpoint), "", NOB, NULL, "AZURE_OPENAI_ENDPOINT", true,
     "Azure: https://NAME.openai.azure.com ; OpenAI-compatible: base URL before /v1/chat/completions."},
    {"llm", "api_key", FR_CT_SECRET, OFF(llm_api_key), "", NOB, NULL, "AZURE_OPENAI_API_KEY", true,
     "API key (Azure: api-key header; OpenAI: Bearer)."},
    {"llm", "deployment", FR_CT_STR, OFF(llm_deployment), "", NOB, NULL, "AZURE_OPENAI_DEPLOYMENT", true,
     "Azure deployment name (e.g. gpt-4o)."},
    {"llm", "api_version", FR_CT_STR, OFF(llm_api_version), "2024-10-21", NOB, NULL, "AZURE_OPENAI_API_VERSION", true,
     "Azure api-version query parameter."},
    {"llm", "model", FR_CT_STR, OFF(llm_model), "gpt-4o", NOB, NULL, NULL, true,
     "Model name sent to OpenAI-compatible endpoints."},
    {"llm", "timeout", FR_CT_DURATION, OFF(llm_timeout_ms), "60s", 1000, 600000, NULL, NULL, true,
     "Timeout of one chat-completions call."},
    {"llm", "max_turns", FR_CT_INT, OFF(llm_max_turns), "8", 1, 100, NULL, NULL, true,
     "Model calls allowed per user message (tool loop limit)."},
    {"llm", "max_tokens", FR_CT_INT, OFF(llm_max_tokens), "60000", 1000, 10000000, NULL, NULL, true,
     "Tokens (prompt + completion, as reported by the endpoint) allowed per conversation."},
    {"llm", "stream", FR_CT_BOOL, OFF(llm_stream), "true", NOB, NULL, NULL, true,
     "Stream replies over SSE so the chat shows text as it arrives."},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL, false, NULL},
};

const fr_cfg_key *fr_config_keys(void)
{
    return keys;
}

const char *fr_svc_name(enum fr_aws_svc s)
{
    static const char *n[] = {"emr", "cloudwatch", "ssm", "lambda", "ec2", "sqs", "sts", "pricing"};
    return s < FR_SVC__COUNT ? n[s] : "?";
}

void fr_config_env_name(const fr_cfg_key *k, char *out, size_t n)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "FRUGAL_%s_%s", k->section, k->name);
    size_t i = 0;
    for (; tmp[i] && i + 1 < n; i++)
        out[i] = (tmp[i] == '.' || tmp[i] == '-') ? '_' : (char)toupper((unsigned char)tmp[i]);
    out[i] = '\0';
}

static void *field(fr_config *c, const fr_cfg_key *k)
{
    return (char *)c + k->offset;
}

static const fr_cfg_key *find_key(const char *section, const char *name)
{
    for (const fr_cfg_key *k = keys; k->section; k++)
        if (strcmp(k->section, section) == 0 && strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static int in_bounds(const fr_cfg_key *k, double v)
{
    return k->min > k->max || (v >= k->min && v <= k->max);
}

static int set_value(fr_config *c, const fr_cfg_key *k, const char *value, char *err, size_t errlen)
{
    void *f = field(c, k);
    switch (k->type) {
    case FR_CT_STR:
    case FR_CT_SECRET: {
        char *dup = fr_strdup(value);
        if (!dup)
            return -ENOMEM;
        free(*(char **)f);
        *(char **)f = dup;
        if (k->type == FR_CT_SECRET)
            fr_redact_register(value);
        return 0;
    }
    case FR_CT_ADDR: {
        char host[256];
        int port;
        if (fr_parse_hostport(value, host, sizeof(host), &port)) {
            snprintf(err, errlen, "%s.%s: \"%s\" is not HOST:PORT", k->section, k->name, value);
            return FR_ECONFIG;
        }
        char *dup = fr_strdup(value);
        if (!dup)
            return -ENOMEM;
        free(*(char **)f);
        *(char **)f = dup;
        return 0;
    }
    case FR_CT_ENUM: {
        const char *p = k->enums;
        size_t vl = strlen(value);
        while (p && *p) {
            size_t l = strcspn(p, "|");
            if (l == vl && strncasecmp(p, value, l) == 0) {
                char *dup = fr_strndup(p, l);
                if (!dup)
                    return -ENOMEM;
                free(*(char **)f);
                *(char **)f = dup;
                return 0;
            }
            p += l + (p[l] == '|');
        }
        snprintf(err, errlen, "%s.%s: \"%s\" is not one of %s", k->section, k->name, value, k->enums);
        return FR_ECONFIG;
    }
    case FR_CT_INT: {
        int64_t v;
        if (fr_parse_i64(value, &v) || !in_bounds(k, (double)v)) {
            snprintf(err, errlen, "%s.%s: \"%s\" is not an integer in [%.0f, %.0f]", k->section, k->name, value,
                     k->min, k->max);
            return FR_ECONFIG;
        }
        *(int64_t *)f = v;
        return 0;
    }
    case FR_CT_DOUBLE: {
        double v;
        if (fr_parse_double(value, &v) || !in_bounds(k, v)) {
            snprintf(err, errlen, "%s.%s: \"%s\" is not a number in [%g, %g]", k->section, k->name, value, k->min,
                     k->max);
            return FR_ECONFIG;
        }
        *(double *)f = v;
        return 0;
    }
    case FR_CT_BOOL: {
        bool v;
        if (fr_parse_bool(value, &v)) {
            snprintf(err, errlen, "%s.%s: \"%s\" is not a boolean (true/false)", k->section, k->name, value);
            return FR_ECONFIG;
        }
        *(bool *)f = v;
        return 0;
    }
    case FR_CT_DURATION: {
        uint64_t v;
        if (fr_parse_duration_ms(value, &v) || !in_bounds(k, (double)v)) {
            snprintf(err, errlen, "%s.%s: \"%s\" is not a duration (e.g. 500ms, 30s, 5m, 2h) in range", k->section,
                     k->name, value);
            return FR_ECONFIG;
        }
        *(uint64_t *)f = v;
        return 0;
    }
    case FR_CT_SIZE: {
        uint64_t v;
        if (fr_parse_size(value, &v) || !in_bounds(k, (double)v)) {
            snprintf(err, errlen, "%s.%s: \"%s\" is not a size (e.g. 4096, 64k, 256M, 8G) in range", k->section,
                     k->name, value);
            return FR_ECONFIG;
        }
        *(uint64_t *)f = v;
        return 0;
    }
    }
    return -EINVAL;
}

void fr_config_init(fr_config *c)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    for (const fr_cfg_key *k = keys; k->section; k++) {
        int rc = set_value(c, k, k->def, err, sizeof(err));
        (void)rc; /* defaults are checked by a unit test */
    }
}

void fr_config_free(fr_config *c)
{
    for (const fr_cfg_key *k = keys; k->section; k++) {
        if (k->type == FR_CT_STR || k->type == FR_CT_SECRET || k->type == FR_CT_ENUM || k->type == FR_CT_ADDR) {
            char **p = field(c, k);
            free(*p);
            *p = NULL;
        }
    }
}

int fr_config_copy(fr_config *dst, const fr_config *src)
{
    memcpy(dst, src, sizeof(*dst));
    for (const fr_cfg_key *k = keys; k->section; k++) {
        if (k->type == FR_CT_STR || k->type == FR_CT_SECRET || k->type == FR_CT_ENUM || k->type == FR_CT_ADDR) {
            char **p = field(dst, k);
            *p = fr_strdup(*p);
        }
    }
    return 0;
}

int fr_config_set(fr_config *c, const char *dotted, const char *value, char *err, size_t errlen)
{
    const char *dot = strchr(dotted, '.');
    if (!dot) {
        snprintf(err, errlen, "\"%s\": expected SECTION.KEY", dotted);
        return FR_ECONFIG;
    }
    char section[64];
    size_t sl = (size_t)(dot - dotted);
    if (sl >= sizeof(section)) {
        snprintf(err, errlen, "\"%s\": unknown key", dotted);
        return FR_ECONFIG;
    }
    memcpy(section, dotted, sl);
    section[sl] = '\0';
    const fr_cfg_key *k = find_key(section, dot + 1);
    if (!k) {
        snprintf(err, errlen, "unknown key \"%s\"", dotted);
        return FR_ECONFIG;
    }
    return set_value(c, k, value, err, errlen);
}

struct ini_ctx {
    fr_config *c;
    char *err;
    size_t errlen;
    int rc;
};

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    if (ctx->rc)
        return 1; /* keep the first error */
    const fr_cfg_key *k = find_key(section, name);
    if (!k) {
        snprintf(ctx->err, ctx->errlen, "unknown key \"%s\" in section [%s]", name, section);
        ctx->rc = FR_ECONFIG;
        return 0;
    }
    int rc = set_value(ctx->c, k, value, ctx->err, ctx->errlen);
    if (rc) {
        ctx->rc = rc;
        return 0;
    }
    return 1;
}

static int finish_ini(int prc, struct ini_ctx *ctx, const char *what, char *err, size_t errlen)
{
    if (prc == -1) {
        snprintf(err, errlen, "%s: cannot open: %s", what, strerror(errno));
        return FR_ECONFIG;
    }
    if (prc == -2)
        return -ENOMEM;
    if (prc > 0) {
        char inner[512];
        if (ctx->rc)
            fr_strlcpy(inner, err, sizeof(inner));
        else
            fr_strlcpy(inner, "syntax error (expected [section] or key = value)", sizeof(inner));
        snprintf(err, errlen, "%s:%d: %s", what, prc, inner);
        return FR_ECONFIG;
    }
    return ctx->rc;
}

int fr_config_load_file(fr_config *c, const char *path, char *err, size_t errlen)
{
    struct ini_ctx ctx = {c, err, errlen, 0};
    int prc = ini_parse(path, cfg_ini_handler, &ctx);
    return finish_ini(prc, &ctx, path, err, errlen);
}

int fr_config_load_string(fr_config *c, const char *text, char *err, size_t errlen)
{
    struct ini_ctx ctx = {c, err, errlen, 0};
    int prc = ini_parse_string(text, cfg_ini_handler, &ctx);
    return finish_ini(prc, &ctx, "<string>", err, errlen);
}

int fr_config_apply_env(fr_config *c, fr_getenv_fn get, void *arg, char *const *environ_list, char *err,
                        size_t errlen)
{
    /* Aliases first, so the canonical FRUGAL_* name wins when both are set. */
    for (const fr_cfg_key *k = keys; k->section; k++) {
        if (!k->alias || strncmp(k->alias, "FRUGAL_", 7) == 0)
            continue;
        const char *v = get(k->alias, arg);
        if (v && *v) {
            int rc = set_value(c, k, v, err, errlen);
            if (rc) {
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "environment %s: %s", k->alias, err);
                fr_strlcpy(err, tmp, errlen);
                return rc;
            }
        }
    }
    for (const fr_cfg_key *k = keys; k->section; k++) {
        char name[128];
        fr_config_env_name(k, name, sizeof(name));
        const char *v = get(name, arg);
        if ((!v || !*v) && k->alias && strncmp(k->alias, "FRUGAL_", 7) == 0)
            v = get(k->alias, arg);
        if (v && *v) {
            int rc = set_value(c, k, v, err, errlen);
            if (rc) {
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "environment %s: %s", name, err);
                fr_strlcpy(err, tmp, errlen);
                return rc;
            }
        }
    }
    /* A misspelt FRUGAL_* variable must not pass silently. The CLI's, the
     * scripts' and the tests' own variables are not settings but may share
     * the environment. */
    static const char *other_known[] = {"FRUGAL_CONFIG",     "FRUGAL_API_TOKEN",   "FRUGAL_CRASH_AT",
                                        "FRUGAL_CRASH_AT_SKIP", "FRUGAL_URL",      "FRUGAL_TOKEN_FILE",
                                        "FRUGAL_STATE_DIR",  "FRUGAL_LISTEN",      "FRUGAL_SKIP_ASAN",
                                        "FRUGAL_SHARED_DATA", "FRUGAL_BUILD_ROOT", "FRUGAL_SOURCE_ROOT"};
    static const char *other_prefixes[] = {"FRUGAL_TEST_", "FRUGAL_DEMO_", "FRUGAL_SIM_"};
    for (char *const *e = environ_list; e && *e; e++) {
        if (strncmp(*e, "FRUGAL_", 7) != 0)
            continue;
        size_t nl = strcspn(*e, "=");
        bool known = false;
        for (size_t i = 0; i < FR_ARRAY_SIZE(other_known) && !known; i++)
            known = strlen(other_known[i]) == nl && strncmp(*e, other_known[i], nl) == 0;
        for (size_t i = 0; i < FR_ARRAY_SIZE(other_prefixes) && !known; i++)
            known = strncmp(*e, other_prefixes[i], strlen(other_prefixes[i])) == 0;
        for (const fr_cfg_key *k = keys; k->section && !known; k++) {
            char name[128];
            fr_config_env_name(k, name, sizeof(name));
            known = strlen(name) == nl && strncmp(*e, name, nl) == 0;
        }
        if (!known) {
            snprintf(err, errlen, "unknown environment variable %.*s", (int)nl, *e);
            return FR_ECONFIG;
        }
    }
    return 0;
}

int fr_config_validate(const fr_config *c, char *err, size_t errlen)
{
    if (c->retry_max_ms < c->retry_initial_ms) {
        snprintf(err, errlen, "retry.max (%llums) is below retry.initial (%llums)", (unsigned long long)c->retry_max_ms,
                 (unsigned long long)c->retry_initial_ms);
        return FR_ECONFIG;
    }
    if (c->emr_poll_max_ms < c->emr_poll_initial_ms) {
        snprintf(err, errlen, "emr.poll_max is below emr.poll_initial");
        return FR_ECONFIG;
    }
    if (c->map_size_max < c->map_size) {
        snprintf(err, errlen, "store.map_size_max is below store.map_size");
        return FR_ECONFIG;
    }
    if (!(c->emr_heavy_avg <= c->emr_moderate_avg && c->emr_moderate_avg <= c->emr_right_avg &&
          c->emr_heavy_p95 <= c->emr_moderate_p95 && c->emr_moderate_p95 <= c->emr_right_p95)) {
        snprintf(err, errlen, "emr thresholds must grow: heavy <= moderate <= right (avg and p95)");
        return FR_ECONFIG;
    }
    if (!c->state_dir || !*c->state_dir) {
        snprintf(err, errlen, "server.state_dir is empty");
        return FR_ECONFIG;
    }
    if (c->llm_provider && strcmp(c->llm_provider, "azure") == 0 &&
        (!*c->llm_endpoint || !*c->llm_deployment || !*c->llm_api_key)) {
        snprintf(err, errlen, "llm.provider=azure needs llm.endpoint, llm.deployment and llm.api_key");
        return FR_ECONFIG;
    }
    if (c->llm_provider && strcmp(c->llm_provider, "openai") == 0 && !*c->llm_endpoint) {
        snprintf(err, errlen, "llm.provider=openai needs llm.endpoint");
        return FR_ECONFIG;
    }
    return 0;
}

json_t *fr_config_to_json(const fr_config *c)
{
    json_t *root = json_object();
    for (const fr_cfg_key *k = keys; k->section; k++) {
        json_t *sec = json_object_get(root, k->section);
        if (!sec) {
            sec = json_object();
            json_object_set_new(root, k->section, sec);
        }
        const void *f = (const char *)c + k->offset;
        json_t *v = NULL;
        switch (k->type) {
        case FR_CT_SECRET:
            v = json_string(*(char *const *)f && **(char *const *)f ? FR_REDACTED : "");
            break;
        case FR_CT_STR:
        case FR_CT_ENUM:
        case FR_CT_ADDR:
            v = json_string(*(char *const *)f ? *(char *const *)f : "");
            break;
        case FR_CT_INT:
            v = json_integer(*(const int64_t *)f);
            break;
        case FR_CT_DOUBLE:
            v = json_real(*(const double *)f);
            break;
        case FR_CT_BOOL:
            v = json_boolean(*(const bool *)f);
            break;
        case FR_CT_DURATION:
        case FR_CT_SIZE:
            v = json_integer((json_int_t) * (const uint64_t *)f);
            break;
        }
        json_object_set_new(sec, k->name, v);
    }
    return root;
}
