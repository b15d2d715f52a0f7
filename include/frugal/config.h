/* frugald configuration: defaults < INI file < environment < command line.
 * Every key lives in one table (src/config/config.c) with its type, default,
 * bounds, environment name and documentation; docs/configuration.md is
 * checked against that table by a unit test. Unknown keys and bad values are
 * errors that name the key and, for files, the line. */
#ifndef FRUGAL_CONFIG_H
#define FRUGAL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct fr_svc_limits {
    double rate;       /* requests per second (token bucket refill) */
    double burst;      /* bucket size */
    int64_t concurrency;
} fr_svc_limits;

enum fr_aws_svc {
    FR_SVC_EMR,
    FR_SVC_CLOUDWATCH,
    FR_SVC_SSM,
    FR_SVC_LAMBDA,
    FR_SVC_EC2,
    FR_SVC_SQS,
    FR_SVC_STS,
    FR_SVC_PRICING,
    FR_SVC__COUNT
};

typedef struct fr_config {
    /* [server] */
    char *listen;
    char *state_dir;
    char *web_root;
    char *api_token;
    uint64_t session_ttl_ms;
    uint64_t ws_max_queued;
    int64_t feed_history;
    uint64_t max_request_body;
    uint64_t drain_timeout_ms;
    /* [log] */
    char *log_level;
    /* [store] */
    uint64_t map_size;
    uint64_t map_size_max;
    /* [http] */
    uint64_t http_timeout_ms;
    uint64_t http_connect_timeout_ms;
    int64_t http_max_per_host;
    int64_t http_max_total;
    uint64_t http_max_response;
    /* [retry] */
    uint64_t retry_initial_ms;
    uint64_t retry_max_ms;
    int64_t retry_max_retries;
    uint64_t retry_after_cap_ms;
    /* [aws] */
    char *aws_region;
    char *aws_endpoint_url;
    char *aws_profile;
    int64_t aws_max_attempts;
    bool aws_retry_quota;
    bool aws_adaptive_rate;
    fr_svc_limits svc[FR_SVC__COUNT];
    /* [emr] */
    char *emr_param_prefix;
    char *emr_lambda_function;
    char *emr_catalog;
    int64_t emr_max_cluster_instances;
    int64_t emr_auto_terminate_minutes;
    double emr_max_test_cost;
    uint64_t emr_proposal_ttl_ms;
    uint64_t emr_window_ms;
    uint64_t emr_max_runtime_ms;
    uint64_t emr_cache_ttl_ms;
    bool emr_include_failed;
    double emr_heavy_avg, emr_heavy_p95;
    double emr_moderate_avg, emr_moderate_p95;
    double emr_right_avg, emr_right_p95;
    double emr_headroom;
    double emr_profile_ratio;
    double emr_sustained_pct;
    uint64_t emr_sustained_window_ms;
    double emr_uplift;
    uint64_t emr_wait_timeout_ms;
    uint64_t emr_poll_initial_ms;
    uint64_t emr_poll_max_ms;
    uint64_t emr_steps_timeout_ms;
    int64_t emr_metric_period_s;
    /* [llm] */
    char *llm_provider;
    char *llm_endpoint;
    char *llm_api_key;
    char *llm_deployment;
    char *llm_api_version;
    char *llm_model;
    uint64_t llm_timeout_ms;
    int64_t llm_max_turns;
    int64_t llm_max_tokens;
    bool llm_stream;
} fr_config;

typedef enum {
    FR_CT_STR,
    FR_CT_SECRET,
    FR_CT_INT,
    FR_CT_DOUBLE,
    FR_CT_BOOL,
    FR_CT_DURATION,
    FR_CT_SIZE,
    FR_CT_ENUM,
    FR_CT_ADDR,
} fr_cfg_type;

typedef struct fr_cfg_key {
    const char *section;
    const char *name;
    fr_cfg_type type;
    size_t offset;
    const char *def;
    double min, max; /* for numeric types; min > max means unbounded */
    const char *enums; /* "a|b|c" for FR_CT_ENUM */
    const char *alias; /* an extra environment name (seed conventions) */
    bool reloadable;
    const char *doc;
} fr_cfg_key;

/* The key table, terminated by a zeroed entry. */
const fr_cfg_key *fr_config_keys(void);
/* "FRUGAL_SECTION_NAME" for a key. */
void fr_config_env_name(const fr_cfg_key *k, char *out, size_t n);

typedef const char *(*fr_getenv_fn)(const char *name, void *arg);

void fr_config_init(fr_config *c); /* all defaults */
void fr_config_free(fr_config *c);
int fr_config_copy(fr_config *dst, const fr_config *src);
/* "section.name" = value. */
int fr_config_set(fr_config *c, const char *dotted, const char *value, char *err, size_t errlen);
int fr_config_load_file(fr_config *c, const char *path, char *err, size_t errlen);
int fr_config_load_string(fr_config *c, const char *text, char *err, size_t errlen);
/* Unknown FRUGAL_* names in environ are errors too (typos should not pass). */
int fr_config_apply_env(fr_config *c, fr_getenv_fn get, void *arg, char *const *environ_list, char *err,
                        size_t errlen);
/* Cross-key checks (e.g. max >= initial). */
int fr_config_validate(const fr_config *c, char *err, size_t errlen);
/* Effective configuration, secrets redacted. */
json_t *fr_config_to_json(const fr_config *c);
const char *fr_svc_name(enum fr_aws_svc s);

#endif
