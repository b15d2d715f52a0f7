/* Services, regions and endpoints (pure; see frugal/aws_endpoint.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/aws_endpoint.h"
#include "frugal/err.h"
#include "frugal/str.h"

static const fr_aws_service_info services[FR_SVC__COUNT] = {
    [FR_SVC_EMR] = {FR_SVC_EMR, "emr", "EMR", "EMR", "elasticmapreduce", "elasticmapreduce", FR_AWS_PROTO_JSON11,
                    "ElasticMapReduce", "2009-03-31", false},
    [FR_SVC_CLOUDWATCH] = {FR_SVC_CLOUDWATCH, "cloudwatch", "CloudWatch", "CLOUDWATCH", "monitoring", "monitoring",
                           FR_AWS_PROTO_JSON10, "GraniteServiceVersion20100801", "2010-08-01", true},
    [FR_SVC_SSM] = {FR_SVC_SSM, "ssm", "SSM", "SSM", "ssm", "ssm", FR_AWS_PROTO_JSON11, "AmazonSSM", "2014-11-06",
                    false},
    [FR_SVC_LAMBDA] = {FR_SVC_LAMBDA, "lambda", "Lambda", "LAMBDA", "lambda", "lambda", FR_AWS_PROTO_RESTJSON, NULL,
                       "2015-03-31", false},
    [FR_SVC_EC2] = {FR_SVC_EC2, "ec2", "EC2", "EC2", "ec2", "ec2", FR_AWS_PROTO_EC2, NULL, "2016-11-15", false},
    [FR_SVC_SQS] = {FR_SVC_SQS, "sqs", "SQS", "SQS", "sqs", "sqs", FR_AWS_PROTO_JSON10, "AmazonSQS", "2012-11-05",
                    true},
    [FR_SVC_STS] = {FR_SVC_STS, "sts", "STS", "STS", "sts", "sts", FR_AWS_PROTO_QUERY, NULL, "2011-06-15", false},
    [FR_SVC_PRICING] = {FR_SVC_PRICING, "pricing", "Pricing", "PRICING", "pricing", "api.pricing",
                        FR_AWS_PROTO_JSON11, "AWSPriceListService", "2017-10-15", false},
};

const fr_aws_service_info *fr_aws_service(enum fr_aws_svc s)
{
    return (unsigned)s < FR_SVC__COUNT ? &services[s] : NULL;
}

int fr_aws_service_by_name(const char *name, enum fr_aws_svc *out)
{
    if (!name)
        return -EINVAL;
    for (int i = 0; i < FR_SVC__COUNT; i++) {
        if (fr_str_ieq(name, services[i].name) || fr_str_ieq(name, services[i].service_id) ||
            fr_str_ieq(name, services[i].signing_name)) {
            *out = (enum fr_aws_svc)i;
            return 0;
        }
    }
    return FR_ENOTFOUND;
}

const char *fr_aws_protocol_name(fr_aws_protocol p)
{
    switch (p) {
    case FR_AWS_PROTO_JSON10:
        return "awsJson1_0";
    case FR_AWS_PROTO_JSON11:
        return "awsJson1_1";
    case FR_AWS_PROTO_EC2:
        return "ec2Query";
    case FR_AWS_PROTO_QUERY:
        return "awsQuery";
    case FR_AWS_PROTO_RESTJSON:
        return "restJson1";
    }
    return "?";
}

const char *fr_aws_process_env(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static const char *env_nonempty(fr_getenv_fn env, void *arg, const char *name)
{
    const char *v = env ? env(name, arg) : NULL;
    return v && *v ? v : NULL;
}

/* Letters, digits and '-' only, like every AWS region name; this keeps a
 * typo from turning into a host name of its own. */
static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n >= 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)r[i]) || isdigit((unsigned char)r[i]) || r[i] == '-'))
            return false;
    return true;
}

int fr_aws_resolve_region(const char *cfg_region, fr_getenv_fn env, void *env_arg, const char *profile_region,
                          char *out, size_t n, const char **source)
{
    const char *v = NULL, *src = "default";
    if (cfg_region && *cfg_region) {
        v = cfg_region;
        src = "aws.region";
    } else if ((v = env_nonempty(env, env_arg, "AWS_REGION")) != NULL) {
        src = "AWS_REGION";
    } else if ((v = env_nonempty(env, env_arg, "AWS_DEFAULT_REGION")) != NULL) {
        src = "AWS_DEFAULT_REGION";
    } else if (profile_region && *profile_region) {
        v = profile_region;
        src = "profile";
    } else {
        v = "us-east-1";
    }
    if (source)
        *source = src;
    if (!region_ok(v) || fr_strlcpy(out, v, n) >= n)
        return FR_ECONFIG;
    return 0;
}

int fr_aws_parse_url(const char *url, fr_aws_url *out)
{
    memset(out, 0, sizeof(*out));
    if (!url)
        return FR_ECONFIG;
    const char *p;
    if (strncmp(url, "https://", 8) == 0) {
        out->https = true;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        return FR_ECONFIG;
    }
    size_t auth_len = strcspn(p, "/?#");
    if (memchr(p, '@', auth_len))
        return FR_ECONFIG; /* userinfo has no place in an endpoint */
    const char *host = p, *host_end;
    const char *port = NULL;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', auth_len);
        if (!host_end)
            return FR_ECONFIG;
        if (host_end + 1 < p + auth_len) {
            if (host_end[1] != ':')
                return FR_ECONFIG;
            port = host_end + 2;
        }
    } else {
        host_end = memchr(p, ':', auth_len);
        if (host_end)
            port = host_end + 1;
        else
            host_end = p + auth_len;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof(out->host))
        return FR_ECONFIG;
    memcpy(out->host, host, hl);
    out->host[hl] = '\0';
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)out->host[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == ':'))
            return FR_ECONFIG;
    }
    if (port) {
        size_t pl = (size_t)(p + auth_len - port);
        if (pl == 0 || pl > 5)
            return FR_ECONFIG;
        int v = 0;
        for (size_t i = 0; i < pl; i++) {
            if (!isdigit((unsigned char)port[i]))
                return FR_ECONFIG;
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535)
            return FR_ECONFIG;
        out->port = v;
    }
    const char *rest = p + auth_len;
    if (strpbrk(rest, "?#"))
        return FR_ECONFIG;
    size_t rl = strlen(rest);
    while (rl && rest[rl - 1] == '/')
        rl--;
    if (rl >= sizeof(out->base_path))
        return FR_ECONFIG;
    memcpy(out->base_path, rest, rl);
    out->base_path[rl] = '\0';
    return 0;
}

static int fill_from_url(const char *url, fr_aws_endpoint *out)
{
    fr_aws_url u;
    int rc = fr_aws_parse_url(url, &u);
    if (rc)
        return rc;
    bool v6 = strchr(u.host, ':') != NULL;
    bool default_port = u.port == 0 || (u.https && u.port == 443) || (!u.https && u.port == 80);
    char hostport[300];
    if (default_port)
        snprintf(hostport, sizeof(hostport), v6 ? "[%s]" : "%s", u.host);
    else
        snprintf(hostport, sizeof(hostport), v6 ? "[%s]:%d" : "%s:%d", u.host, u.port);
    fr_strlcpy(out->host_header, hostport, sizeof(out->host_header));
    fr_strlcpy(out->base_path, u.base_path, sizeof(out->base_path));
    snprintf(out->url, sizeof(out->url), "%s://%s%s", u.https ? "https" : "http", hostport, u.base_path);
    return 0;
}

int fr_aws_resolve_endpoint(enum fr_aws_svc svc, const char *region, const char *cfg_endpoint_url, fr_getenv_fn env,
                            void *env_arg, fr_aws_endpoint *out)
{
    const fr_aws_service_info *si = fr_aws_service(svc);
    memset(out, 0, sizeof(*out));
    if (!si || !region || !region_ok(region))
        return -EINVAL;
    fr_strlcpy(out->signing_name, si->signing_name, sizeof(out->signing_name));
    fr_strlcpy(out->signing_region, region, sizeof(out->signing_region));
    if (cfg_endpoint_url && *cfg_endpoint_url) {
        out->source = "aws.endpoint_url";
        return fill_from_url(cfg_endpoint_url, out);
    }
    const char *ignore = env_nonempty(env, env_arg, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    bool ignored = false;
    if (ignore)
        fr_parse_bool(ignore, &ignored);
    if (!ignored) {
        static const char *const names[FR_SVC__COUNT] = {
            "AWS_ENDPOINT_URL_EMR", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SSM",
            "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_SQS",
            "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_PRICING",
        };
        const char *v = env_nonempty(env, env_arg, names[svc]);
        if (v) {
            out->source = names[svc];
            return fill_from_url(v, out);
        }
        if ((v = env_nonempty(env, env_arg, "AWS_ENDPOINT_URL")) != NULL) {
            out->source = "AWS_ENDPOINT_URL";
            return fill_from_url(v, out);
        }
    }
    out->source = "default";
    const char *r = region;
    if (svc == FR_SVC_PRICING && strcmp(r, "us-east-1") != 0 && strcmp(r, "eu-central-1") != 0 &&
        strcmp(r, "ap-south-1") != 0)
        r = "us-east-1";
    fr_strlcpy(out->signing_region, r, sizeof(out->signing_region));
    const char *suffix = fr_str_startswith(r, "cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    snprintf(out->host_header, sizeof(out->host_header), "%s.%s.%s", si->host_prefix, r, suffix);
    snprintf(out->url, sizeof(out->url), "https://%s", out->host_header);
    return 0;
}
