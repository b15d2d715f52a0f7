#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/str.h"
#include "route.h"
#include "util.h"

void fr_sim_call_free(fr_sim_call *call)
{
    json_decref(call->in);
    call->in = NULL;
}

static const struct {
    const char *prefix;
    fr_sim_svc svc;
    fr_sim_proto proto;
} targets[] = {
    {"ElasticMapReduce.", FR_SIM_SVC_EMR, FR_SIM_PROTO_JSON11},
    {"GraniteServiceVersion20100801.", FR_SIM_SVC_CW, FR_SIM_PROTO_JSON10},
    {"AmazonSSM.", FR_SIM_SVC_SSM, FR_SIM_PROTO_JSON11},
    {"AmazonSQS.", FR_SIM_SVC_SQS, FR_SIM_PROTO_JSON10},
    {"AWSPriceListService.", FR_SIM_SVC_PRICING, FR_SIM_PROTO_JSON11},
};

static const struct {
    const char *version;
    fr_sim_svc svc;
} versions[] = {
    {"2016-11-15", FR_SIM_SVC_EC2},
    {"2010-08-01", FR_SIM_SVC_CW},
    {"2011-06-15", FR_SIM_SVC_STS},
    {"2012-11-05", FR_SIM_SVC_SQS},
};

static int scope_svc(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "elasticmapreduce") == 0)
        return FR_SIM_SVC_EMR;
    if (strcmp(s, "monitoring") == 0)
        return FR_SIM_SVC_CW;
    if (strcmp(s, "ssm") == 0)
        return FR_SIM_SVC_SSM;
    if (strcmp(s, "lambda") == 0)
        return FR_SIM_SVC_LAMBDA;
    if (strcmp(s, "ec2") == 0)
        return FR_SIM_SVC_EC2;
    if (strcmp(s, "sqs") == 0)
        return FR_SIM_SVC_SQS;
    if (strcmp(s, "sts") == 0)
        return FR_SIM_SVC_STS;
    if (strcmp(s, "pricing") == 0 || strcmp(s, "api.pricing") == 0)
        return FR_SIM_SVC_PRICING;
    return -1;
}

static fr_sim_route_result route_lambda(const fr_sim_raw_req *r, fr_sim_call *call, char *err, size_t errlen)
{
    const char *q = memchr(r->path, '?', r->path_len);
    size_t plen = q ? (size_t)(q - r->path) : r->path_len;
    const char *base = "/2015-03-31/functions";
    size_t bl = strlen(base);
    call->svc = FR_SIM_SVC_LAMBDA;
    call->proto = FR_SIM_PROTO_RESTJSON;
    const char *rest = r->path + bl;
    size_t rl = plen - bl;
    if (rl <= 1) {
        fr_strlcpy(call->op, "ListFunctions", sizeof(call->op));
        return FR_SIM_ROUTE_OK;
    }
    if (rest[0] != '/')
        return FR_SIM_ROUTE_UNKNOWN;
    rest++;
    rl--;
    const char *slash = memchr(rest, '/', rl);
    size_t nl = slash ? (size_t)(slash - rest) : rl;
    fr_buf name = FR_BUF_INIT;
    if (fr_uri_decode(&name, rest, nl, false) != 0) {
        fr_buf_free(&name);
        snprintf(err, errlen, "bad function name encoding");
        return FR_SIM_ROUTE_BAD_INPUT;
    }
    fr_strlcpy(call->function, fr_buf_cstr(&name), sizeof(call->function));
    fr_buf_free(&name);
    const char *tail = slash ? slash : "";
    size_t tl = slash ? rl - nl : 0;
    if (tl == strlen("/invocations") && memcmp(tail, "/invocations", tl) == 0 && strcmp(r->method, "POST") == 0)
        fr_strlcpy(call->op, "Invoke", sizeof(call->op));
    else if ((tl == 0 || (tl == 1 && tail[0] == '/')) && strcmp(r->method, "GET") == 0)
        fr_strlcpy(call->op, "GetFunction", sizeof(call->op));
    else
        return FR_SIM_ROUTE_UNKNOWN;
    char *v = fr_sim_raw_header(r, "x-amz-invocation-type");
    if (v)
        fr_strlcpy(call->invocation_type, v, sizeof(call->invocation_type));
    free(v);
    v = fr_sim_raw_header(r, "x-amz-log-type");
    if (v)
        fr_strlcpy(call->log_type, v, sizeof(call->log_type));
    free(v);
    if (q) {
        char *qual = fr_sim_form_get(q + 1, r->path_len - plen - 1, "Qualifier");
        if (qual)
            fr_strlcpy(call->qualifier, qual, sizeof(call->qualifier));
        free(qual);
    }
    call->body = r->body;
    call->body_len = r->body_len;
    call->in = json_object();
    return FR_SIM_ROUTE_OK;
}

fr_sim_route_result fr_sim_route(const fr_sim_raw_req *r, const char *scope_service, fr_sim_call *call, char *err,
                                 size_t errlen)
{
    err[0] = '\0';
    int scoped = scope_svc(scope_service);
    const char *q = memchr(r->path, '?', r->path_len);
    size_t plen = q ? (size_t)(q - r->path) : r->path_len;
    if (plen >= 21 && memcmp(r->path, "/2015-03-31/functions", 21) == 0 && (scoped < 0 || scoped == FR_SIM_SVC_LAMBDA))
        return route_lambda(r, call, err, errlen);

    char *target = fr_sim_raw_header(r, "x-amz-target");
    if (target) {
        fr_sim_route_result res = FR_SIM_ROUTE_UNKNOWN;
        for (size_t i = 0; i < FR_ARRAY_SIZE(targets); i++) {
            if (!fr_str_startswith(target, targets[i].prefix))
                continue;
            call->svc = scoped >= 0 ? (fr_sim_svc)scoped : targets[i].svc;
            call->proto = targets[i].proto;
            fr_strlcpy(call->op, target + strlen(targets[i].prefix), sizeof(call->op));
            if (scoped >= 0 && scoped != (int)targets[i].svc) {
                /* the right shape for the signed service, an unknown operation */
                snprintf(err, errlen, "%s is not an operation of %s", target, scope_service);
                call->proto = scoped == FR_SIM_SVC_LAMBDA ? FR_SIM_PROTO_RESTJSON : targets[i].proto;
                res = FR_SIM_ROUTE_UNKNOWN;
                break;
            }
            if (r->body_len == 0) {
                call->in = json_object();
                res = FR_SIM_ROUTE_OK;
                break;
            }
            json_error_t je;
            call->in = json_loadb(r->body, r->body_len, 0, &je);
            if (!json_is_object(call->in)) {
                json_decref(call->in);
                call->in = NULL;
                snprintf(err, errlen, "Start of structure or map found where not expected (%s)", je.text);
                res = FR_SIM_ROUTE_BAD_INPUT;
                break;
            }
            res = FR_SIM_ROUTE_OK;
            break;
        }
        free(target);
        return res;
    }

    char *ctype = fr_sim_raw_header(r, "content-type");
    bool cbor = ctype && strstr(ctype, "cbor");
    bool form = ctype && strstr(ctype, "x-www-form-urlencoded");
    free(ctype);
    if (cbor) {
        snprintf(err, errlen, "frugal-sim does not speak the smithy-rpc-v2-cbor protocol; use awsJson or query");
        return FR_SIM_ROUTE_UNSUPPORTED;
    }
    const char *src = NULL;
    size_t srclen = 0;
    if (form && r->body_len) {
        src = r->body;
        srclen = r->body_len;
    } else if (q) {
        src = q + 1;
        srclen = r->path_len - plen - 1;
    }
    if (!src)
        return FR_SIM_ROUTE_UNKNOWN;
    char *action = fr_sim_form_get(src, srclen, "Action");
    if (!action)
        return FR_SIM_ROUTE_UNKNOWN;
    char *version = fr_sim_form_get(src, srclen, "Version");
    int svc = scoped;
    for (size_t i = 0; svc < 0 && version && i < FR_ARRAY_SIZE(versions); i++)
        if (strcmp(version, versions[i].version) == 0)
            svc = (int)versions[i].svc;
    free(version);
    if (svc < 0) {
        free(action);
        return FR_SIM_ROUTE_UNKNOWN;
    }
    call->svc = (fr_sim_svc)svc;
    call->proto = svc == FR_SIM_SVC_EC2 ? FR_SIM_PROTO_EC2 : FR_SIM_PROTO_QUERY;
    fr_strlcpy(call->op, action, sizeof(call->op));
    free(action);
    if (fr_sim_form_to_json(src, srclen, &call->in) != 0) {
        snprintf(err, errlen, "malformed form body");
        return FR_SIM_ROUTE_BAD_INPUT;
    }
    json_object_del(call->in, "Action");
    json_object_del(call->in, "Version");
    return FR_SIM_ROUTE_OK;
}
