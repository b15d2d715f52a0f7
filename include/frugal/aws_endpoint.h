/* AWS services, regions and endpoints as the SDKs resolve them. Pure: the
 * environment is read through a fr_getenv_fn so tests inject their own.
 *
 * Region:   aws.region, else AWS_REGION, AWS_DEFAULT_REGION, the profile's
 *           `region`, else us-east-1.
 * Endpoint: aws.endpoint_url, else AWS_ENDPOINT_URL_<SERVICE>, else
 *           AWS_ENDPOINT_URL, else https://<prefix>.<region>.amazonaws.com
 *           (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores the two
 *           environment variables, as in the SDKs). */
#ifndef FRUGAL_AWS_ENDPOINT_H
#define FRUGAL_AWS_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "frugal/config.h"

/* The wire protocol a service speaks. */
typedef enum {
    FR_AWS_PROTO_JSON10,   /* awsJson1_0: POST /, X-Amz-Target, application/x-amz-json-1.0 */
    FR_AWS_PROTO_JSON11,   /* awsJson1_1: the same with application/x-amz-json-1.1 */
    FR_AWS_PROTO_EC2,      /* ec2 query: form POST, XML answers, lists as Name.N */
    FR_AWS_PROTO_QUERY,    /* awsQuery: form POST, XML answers, lists as Name.member.N */
    FR_AWS_PROTO_RESTJSON, /* restJson1: operation in method + path */
} fr_aws_protocol;

typedef struct fr_aws_service_info {
    enum fr_aws_svc svc;
    const char *name;          /* frugal's name, as in the config and metrics: "emr" */
    const char *service_id;    /* the SDK service id: "EMR", "CloudWatch" */
    const char *env_suffix;    /* AWS_ENDPOINT_URL_<env_suffix> */
    const char *signing_name;  /* SigV4 service: "elasticmapreduce" */
    const char *host_prefix;   /* <host_prefix>.<region>.amazonaws.com */
    fr_aws_protocol protocol;
    const char *target_prefix; /* X-Amz-Target prefix (JSON protocols), else NULL */
    const char *api_version;   /* Version= of the query protocols; the API date otherwise */
    bool query_compatible;     /* sends x-amzn-query-mode: true (CloudWatch, SQS) */
} fr_aws_service_info;

/* Static description of a service; NULL for an out-of-range value. */
const fr_aws_service_info *fr_aws_service(enum fr_aws_svc s);
/* By frugal name ("emr") or SDK service id ("CloudWatch"), case-insensitive. */
int fr_aws_service_by_name(const char *name, enum fr_aws_svc *out);
const char *fr_aws_protocol_name(fr_aws_protocol p);

/* The region to use and where it came from ("config", "AWS_REGION",
 * "AWS_DEFAULT_REGION", "profile", "default"). profile_region may be NULL.
 * FR_ECONFIG when the chosen value is not a plausible region name. */
int fr_aws_resolve_region(const char *cfg_region, fr_getenv_fn env, void *env_arg, const char *profile_region,
                          char *out, size_t n, const char **source);

/* A parsed endpoint URL. */
typedef struct fr_aws_url {
    bool https;
    char host[256];      /* without brackets for IPv6 */
    int port;            /* explicit port, or 0 for the scheme's default */
    char base_path[256]; /* "" or "/prefix" (no trailing slash) */
} fr_aws_url;

/* http(s)://host[:port][/path]; anything else (other schemes, userinfo,
 * query, fragment, empty host) is FR_ECONFIG. */
int fr_aws_parse_url(const char *url, fr_aws_url *out);

typedef struct fr_aws_endpoint {
    char url[600];            /* scheme://host[:port]<base_path>, no trailing slash */
    char host_header[300];    /* Host header value: host[:port] ([v6] bracketed) */
    char base_path[256];      /* prepended to every request path */
    char signing_region[32];
    char signing_name[32];
    const char *source;       /* "aws.endpoint_url", "AWS_ENDPOINT_URL_EMR" (static storage), ... "default" */
} fr_aws_endpoint;

/* Resolves the endpoint of one service (see the top of this file). The
 * Pricing API exists only in us-east-1, eu-central-1 and ap-south-1; other
 * regions use us-east-1 (and sign for it). */
int fr_aws_resolve_endpoint(enum fr_aws_svc svc, const char *region, const char *cfg_endpoint_url, fr_getenv_fn env,
                            void *env_arg, fr_aws_endpoint *out);

/* fr_getenv_fn reading the process environment. */
const char *fr_aws_process_env(const char *name, void *arg);

#endif
