#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frugal/str.h"
#include "proto.h"
#include "util.h"

static const char *svc_names[FR_SIM_SVC_COUNT] = {"emr", "cloudwatch", "ssm", "lambda", "ec2",
                                                  "sqs", "sts", "pricing", "chat", "imds"};
static const char *signing_names[FR_SIM_SVC_COUNT] = {"elasticmapreduce", "monitoring", "ssm", "lambda", "ec2",
                                                      "sqs", "sts", "pricing", "", ""};

const char *fr_sim_svc_name(fr_sim_svc s)
{
    return s < FR_SIM_SVC_COUNT ? svc_names[s] : "unknown";
}

int fr_sim_svc_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < FR_SIM_SVC_COUNT; i++)
        if (strcmp(s, svc_names[i]) == 0 || (signing_names[i][0] && strcmp(s, signing_names[i]) == 0))
            return i;
    if (strcmp(s, "cw") == 0)
        return FR_SIM_SVC_CW;
    if (strcmp(s, "api.pricing") == 0)
        return FR_SIM_SVC_PRICING;
    return -1;
}

const char *fr_sim_svc_signing_name(fr_sim_svc s)
{
    return s < FR_SIM_SVC_COUNT ? signing_names[s] : "";
}

const char *fr_sim_xmlns(fr_sim_svc s)
{
    switch (s) {
    case FR_SIM_SVC_EC2: return "http://ec2.amazonaws.com/doc/2016-11-15/";
    case FR_SIM_SVC_STS: return "https://sts.amazonaws.com/doc/2011-06-15/";
    case FR_SIM_SVC_CW: return "http://monitoring.amazonaws.com/doc/2010-08-01/";
    case FR_SIM_SVC_SQS: return "http://queue.amazonaws.com/doc/2012-11-05/";
    default: return "";
    }
}

void fr_sim_resp_init(fr_sim_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
}

void fr_sim_resp_free(fr_sim_resp *r)
{
    fr_buf_free(&r->body);
}

void fr_sim_resp_reset(fr_sim_resp *r)
{
    fr_buf_free(&r->body);
    fr_sim_resp_init(r);
}

void fr_sim_resp_header(fr_sim_resp *r, const char *name, const char *value)
{
    for (int i = 0; i < r->nhdrs; i++)
        if (fr_str_ieq(r->hdrs[i].name, name)) {
            fr_strlcpy(r->hdrs[i].value, value, sizeof(r->hdrs[i].value));
            return;
        }
    if (r->nhdrs >= FR_SIM_MAX_HDRS)
        return;
    fr_strlcpy(r->hdrs[r->nhdrs].name, name, sizeof(r->hdrs[0].name));
    fr_strlcpy(r->hdrs[r->nhdrs].value, value, sizeof(r->hdrs[0].value));
    r->nhdrs++;
}

const char *fr_sim_resp_get_header(const fr_sim_resp *r, const char *name)
{
    for (int i = 0; i < r->nhdrs; i++)
        if (fr_str_ieq(r->hdrs[i].name, name))
            return r->hdrs[i].value;
    return NULL;
}

void fr_sim_resp_raw(fr_sim_resp *r, int status, const char *ctype, const char *body, size_t len)
{
    r->status = status;
    fr_strlcpy(r->ctype, ctype ? ctype : "", sizeof(r->ctype));
    fr_buf_reset(&r->body);
    if (len)
        fr_buf_append(&r->body, body, len);
}

static const char *json_ctype(fr_sim_proto p)
{
    switch (p) {
    case FR_SIM_PROTO_JSON10: return "application/x-amz-json-1.0";
    case FR_SIM_PROTO_JSON11: return "application/x-amz-json-1.1";
    default: return "application/json";
    }
}

static void request_id_header(const fr_sim_call *c, fr_sim_resp *r)
{
    if (c->request_id[0])
        fr_sim_resp_header(r, "x-amzn-RequestId", c->request_id);
}

void fr_sim_ok_json_text(const fr_sim_call *c, fr_sim_resp *r, const char *text, size_t len)
{
    fr_sim_resp_raw(r, 200, json_ctype(c->proto), text, len);
    request_id_header(c, r);
}

void fr_sim_ok_json(const fr_sim_call *c, fr_sim_resp *r, json_t *out)
{
    char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(out);
    if (!s) {
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    fr_sim_ok_json_text(c, r, s, strlen(s));
    free(s);
}

void fr_sim_ok_query(const fr_sim_call *c, fr_sim_resp *r, const char *inner)
{
    fr_buf_reset(&r->body);
    fr_buf_printf(&r->body, "<%sResponse xmlns=\"%s\">", c->op, fr_sim_xmlns(c->svc));
    if (inner)
        fr_buf_printf(&r->body, "<%sResult>%s</%sResult>", c->op, inner, c->op);
    fr_buf_printf(&r->body, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>",
                  c->request_id, c->op);
    r->status = 200;
    fr_strlcpy(r->ctype, "text/xml", sizeof(r->ctype));
    request_id_header(c, r);
}

void fr_sim_ok_ec2(const fr_sim_call *c, fr_sim_resp *r, const char *inner)
{
    fr_buf_reset(&r->body);
    fr_buf_printf(&r->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\"><requestId>%s</requestId>",
                  c->op, fr_sim_xmlns(FR_SIM_SVC_EC2), c->request_id);
    if (inner)
        fr_buf_puts(&r->body, inner);
    fr_buf_printf(&r->body, "</%sResponse>", c->op);
    r->status = 200;
    fr_strlcpy(r->ctype, "text/xml;charset=UTF-8", sizeof(r->ctype));
}

static bool query_compatible(fr_sim_svc s)
{
    return s == FR_SIM_SVC_CW || s == FR_SIM_SVC_SQS;
}

/* Query-compatible JSON services name the modelled error shape in __type
 * and carry the query protocol's code in x-amzn-query-error; botocore picks
 * the exception class from the first and reports the second. */
static const char *modelled_type(fr_sim_svc s, const char *code)
{
    static const struct {
        fr_sim_svc svc;
        const char *code, *shape;
    } map[] = {
        {FR_SIM_SVC_SQS, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"},
        {FR_SIM_SVC_SQS, "AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress"},
        {FR_SIM_SVC_SQS, "AWS.SimpleQueueService.UnsupportedOperation", "UnsupportedOperation"},
        {FR_SIM_SVC_CW, "InvalidParameterValue", "InvalidParameterValueException"},
        {FR_SIM_SVC_CW, "InvalidParameterCombination", "InvalidParameterCombinationException"},
        {FR_SIM_SVC_CW, "MissingParameter", "MissingRequiredParameterException"},
        {FR_SIM_SVC_CW, "InternalServiceError", "InternalServiceFault"},
        {FR_SIM_SVC_CW, "LimitExceeded", "LimitExceededFault"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].svc == s && strcmp(map[i].code, code) == 0)
            return map[i].shape;
    return code;
}

void fr_sim_error(const fr_sim_call *c, fr_sim_resp *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fr_buf_reset(&r->body);
    r->status = status;
    r->is_error = true;
    fr_strlcpy(r->error_code, code, sizeof(r->error_code));
    switch (c->proto) {
    case FR_SIM_PROTO_JSON10:
    case FR_SIM_PROTO_JSON11: {
        json_t *j = json_pack("{s:s, s:s}", "__type", query_compatible(c->svc) ? modelled_type(c->svc, code) : code,
                              "message", msg);
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fr_buf_puts(&r->body, s ? s : "{}");
        free(s);
        json_decref(j);
        fr_strlcpy(r->ctype, json_ctype(c->proto), sizeof(r->ctype));
        if (query_compatible(c->svc)) {
            char qe[128];
            snprintf(qe, sizeof(qe), "%s;%s", code, status >= 500 ? "Receiver" : "Sender");
            fr_sim_resp_header(r, "x-amzn-query-error", qe);
        }
        request_id_header(c, r);
        break;
    }
    case FR_SIM_PROTO_RESTJSON: {
        json_t *j = json_pack("{s:s, s:s}", "Type", status >= 500 ? "Service" : "User", "message", msg);
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fr_buf_puts(&r->body, s ? s : "{}");
        free(s);
        json_decref(j);
        fr_strlcpy(r->ctype, "application/json", sizeof(r->ctype));
        fr_sim_resp_header(r, "x-amzn-ErrorType", code);
        request_id_header(c, r);
        break;
    }
    case FR_SIM_PROTO_QUERY:
        fr_buf_printf(&r->body, "<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type><Code>", fr_sim_xmlns(c->svc),
                      status >= 500 ? "Receiver" : "Sender");
        fr_sim_xml_escape(&r->body, code);
        fr_buf_puts(&r->body, "</Code><Message>");
        fr_sim_xml_escape(&r->body, msg);
        fr_buf_printf(&r->body, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>", c->request_id);
        fr_strlcpy(r->ctype, "text/xml", sizeof(r->ctype));
        request_id_header(c, r);
        break;
    case FR_SIM_PROTO_EC2:
        fr_buf_puts(&r->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>");
        fr_sim_xml_escape(&r->body, code);
        fr_buf_puts(&r->body, "</Code><Message>");
        fr_sim_xml_escape(&r->body, msg);
        fr_buf_printf(&r->body, "</Message></Error></Errors><RequestID>%s</RequestID></Response>", c->request_id);
        fr_strlcpy(r->ctype, "text/xml;charset=UTF-8", sizeof(r->ctype));
        break;
    case FR_SIM_PROTO_PLAIN:
    default: {
        json_t *j = json_pack("{s:{s:s, s:s, s:s, s:n}}", "error", "message", msg, "type", code, "code", code, "param");
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fr_buf_puts(&r->body, s ? s : "{}");
        free(s);
        json_decref(j);
        fr_strlcpy(r->ctype, "application/json", sizeof(r->ctype));
        break;
    }
    }
}

void fr_sim_throttle(const fr_sim_call *c, fr_sim_resp *r)
{
    switch (c->svc) {
    case FR_SIM_SVC_EMR:
    case FR_SIM_SVC_SSM:
    case FR_SIM_SVC_PRICING:
        fr_sim_error(c, r, 400, "ThrottlingException", "Rate exceeded");
        break;
    case FR_SIM_SVC_CW:
    case FR_SIM_SVC_STS:
        fr_sim_error(c, r, 400, "Throttling", "Rate exceeded");
        break;
    case FR_SIM_SVC_LAMBDA:
        fr_sim_error(c, r, 429, "TooManyRequestsException", "Rate Exceeded.");
        fr_buf_reset(&r->body);
        fr_buf_puts(&r->body, "{\"Reason\":\"CallerRateLimitExceeded\",\"Type\":\"User\",\"message\":\"Rate Exceeded.\"}");
        fr_sim_resp_header(r, "Retry-After", "1");
        break;
    case FR_SIM_SVC_EC2:
        fr_sim_error(c, r, 503, "RequestLimitExceeded", "Request limit exceeded.");
        break;
    case FR_SIM_SVC_SQS:
        fr_sim_error(c, r, 400, "RequestThrottled", "Request is throttled.");
        break;
    case FR_SIM_SVC_CHAT:
        fr_sim_error(c, r, 429, "rate_limit_exceeded",
                     "Requests to the ChatCompletions operation have exceeded the rate limit. Please retry after 1 second.");
        fr_sim_resp_header(r, "Retry-After", "1");
        fr_sim_resp_header(r, "retry-after-ms", "1000");
        break;
    default:
        fr_sim_error(c, r, 429, "TooManyRequests", "Too Many Requests");
        break;
    }
}

void fr_sim_internal_error(const fr_sim_call *c, fr_sim_resp *r, const char *code)
{
    switch (c->svc) {
    case FR_SIM_SVC_EMR:
    case FR_SIM_SVC_SSM:
        fr_sim_error(c, r, 500, code ? code : "InternalServerError", "An internal error occurred.");
        break;
    case FR_SIM_SVC_CW:
        fr_sim_error(c, r, 500, code ? code : "InternalServiceError", "Internal service error.");
        break;
    case FR_SIM_SVC_LAMBDA:
        fr_sim_error(c, r, 500, code ? code : "ServiceException", "An internal service error occurred.");
        break;
    case FR_SIM_SVC_EC2:
        fr_sim_error(c, r, 500, code ? code : "InternalError", "An internal error has occurred");
        break;
    case FR_SIM_SVC_PRICING:
        fr_sim_error(c, r, 500, code ? code : "InternalErrorException", "An internal error occurred.");
        break;
    case FR_SIM_SVC_CHAT:
        fr_sim_error(c, r, 500, code ? code : "server_error",
                     "The server had an error while processing your request. Sorry about that!");
        break;
    default:
        fr_sim_error(c, r, 500, code ? code : "InternalFailure", "The request processing has failed because of an unknown error.");
        break;
    }
}
