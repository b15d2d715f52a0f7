/* AWS error responses of every protocol, and the standard-mode retry
 * classification (pure). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frugal/aws_proto.h"
#include "frugal/err.h"
#include "frugal/str.h"

const char *fr_aws_err_kind_name(fr_aws_err_kind k)
{
    switch (k) {
    case FR_AWS_ERR_NONE:
        return "none";
    case FR_AWS_ERR_SERVICE:
        return "service";
    case FR_AWS_ERR_THROTTLE:
        return "throttle";
    case FR_AWS_ERR_TRANSIENT:
        return "transient";
    case FR_AWS_ERR_TRANSPORT:
        return "transport";
    case FR_AWS_ERR_PARSE:
        return "parse";
    case FR_AWS_ERR_FUNCTION:
        return "function";
    case FR_AWS_ERR_CREDENTIALS:
        return "credentials";
    }
    return "?";
}

json_t *fr_aws_error_to_json(const fr_aws_error *e)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", fr_aws_err_kind_name(e->kind), "code", e->code,
                     "message", e->message, "request_id", e->request_id, "http_status", (json_int_t)e->http_status,
                     "err", fr_errname(e->err));
}

void fr_aws_error_set(fr_aws_error *e, fr_aws_err_kind kind, int err, const char *code, const char *fmt, ...)
{
    e->kind = kind;
    e->err = err;
    fr_strlcpy(e->code, code ? code : "", sizeof(e->code));
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
    } else {
        e->message[0] = '\0';
    }
}

static bool in_list(const char *code, const char *const *list, size_t n)
{
    if (!code || !*code)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return true;
    return false;
}

bool fr_aws_is_throttle_code(const char *code)
{
    static const char *const codes[] = {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    };
    return in_list(code, codes, FR_ARRAY_SIZE(codes));
}

bool fr_aws_is_transient_code(const char *code)
{
    static const char *const codes[] = {
        "RequestTimeout",   "RequestTimeoutException", "InternalError",         "InternalFailure",
        "InternalServerError", "InternalServiceError", "ServiceUnavailable", "ServiceUnavailableException",
        "Unavailable",      "IDPCommunicationError",   "EC2InternalError",
    };
    return in_list(code, codes, FR_ARRAY_SIZE(codes));
}

bool fr_aws_is_access_denied_code(const char *code)
{
    static const char *const codes[] = {
        "AccessDenied",       "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
        "UnauthorizedAccess", "NotAuthorized",         "Forbidden",
    };
    return in_list(code, codes, FR_ARRAY_SIZE(codes));
}

const char *fr_aws_request_id_header(const fr_http_resp *r)
{
    const char *v = fr_http_resp_header(r, "x-amzn-requestid");
    if (!v)
        v = fr_http_resp_header(r, "x-amz-request-id");
    return v;
}

/* "aws.protocoltests#FooError:http://internal" -> "FooError". */
static void set_code(fr_aws_error *e, const char *code, size_t len)
{
    const char *hash = memchr(code, '#', len);
    if (hash) {
        len -= (size_t)(hash + 1 - code);
        code = hash + 1;
    }
    const char *colon = memchr(code, ':', len);
    if (colon)
        len = (size_t)(colon - code);
    while (len && (*code == ' ' || *code == '\t')) {
        code++;
        len--;
    }
    while (len && (code[len - 1] == ' ' || code[len - 1] == '\t'))
        len--;
    if (len >= sizeof(e->code))
        len = sizeof(e->code) - 1;
    memcpy(e->code, code, len);
    e->code[len] = '\0';
}

static const char *json_str(const json_t *o, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_object_get(o, keys[i]));
        if (s)
            return s;
    }
    return NULL;
}

static bool parse_json_error(const char *body, size_t len, fr_aws_error *e, bool code_set)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!j)
        return false;
    if (!json_is_object(j)) {
        json_decref(j);
        return false;
    }
    static const char *const code_keys[] = {"__type", "code", "Code"};
    static const char *const msg_keys[] = {"message", "Message", "errorMessage", "ErrorMessage"};
    const char *code = json_str(j, code_keys, FR_ARRAY_SIZE(code_keys));
    if (code && !code_set)
        set_code(e, code, strlen(code));
    const char *msg = json_str(j, msg_keys, FR_ARRAY_SIZE(msg_keys));
    if (msg)
        fr_strlcpy(e->message, msg, sizeof(e->message));
    json_decref(j);
    return code != NULL || msg != NULL;
}

/* The three XML error shapes:
 *   ec2:   <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
 *   query: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
 *   moto and some gateways: <ErrorResponse><Errors><Error>...</Error></Errors></ErrorResponse> */
static bool parse_xml_error(const char *body, size_t len, fr_aws_error *e, bool code_set)
{
    json_t *root = NULL;
    char name[64], err[128];
    if (fr_aws_xml_to_json(body, len, 1u << 20, &root, name, sizeof(name), err, sizeof(err)) != 0)
        return false;
    json_t *errobj = json_object_get(root, "Error");
    if (!errobj) {
        json_t *errs = json_object_get(root, "Errors");
        errobj = json_object_get(errs, "Error");
    }
    if (json_is_array(errobj))
        errobj = json_array_get(errobj, 0);
    if (!json_is_object(errobj) && strcmp(name, "Error") == 0)
        errobj = root; /* a bare <Error> (S3 style) */
    bool ok = false;
    if (json_is_object(errobj)) {
        const char *code = json_string_value(json_object_get(errobj, "Code"));
        const char *msg = json_string_value(json_object_get(errobj, "Message"));
        if (code && !code_set)
            set_code(e, code, strlen(code));
        if (msg)
            fr_strlcpy(e->message, msg, sizeof(e->message));
        ok = code || msg;
    }
    const char *rid = json_string_value(json_object_get(root, "RequestID"));
    if (!rid)
        rid = json_string_value(json_object_get(root, "RequestId"));
    if (rid && !e->request_id[0])
        fr_strlcpy(e->request_id, rid, sizeof(e->request_id));
    json_decref(root);
    return ok;
}

static fr_aws_err_kind kind_for(const char *code, long status)
{
    if (fr_aws_is_throttle_code(code) || status == 429)
        return FR_AWS_ERR_THROTTLE;
    if (fr_aws_is_transient_code(code) || status == 500 || status == 502 || status == 503 || status == 504)
        return FR_AWS_ERR_TRANSIENT;
    return FR_AWS_ERR_SERVICE;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

void fr_aws_parse_error(fr_aws_protocol p, const fr_http_resp *r, fr_aws_error *e)
{
    memset(e, 0, sizeof(*e));
    e->http_status = r->status;
    const char *rid = fr_aws_request_id_header(r);
    if (rid)
        fr_strlcpy(e->request_id, rid, sizeof(e->request_id));
    bool code_set = false;
    /* Query-compatible JSON services (SQS, CloudWatch) put the old query
     * error code here; the SDKs prefer it to __type. */
    const char *qe = fr_http_resp_header(r, "x-amzn-query-error");
    if (qe && (p == FR_AWS_PROTO_JSON10 || p == FR_AWS_PROTO_JSON11)) {
        size_t l = strcspn(qe, ";");
        if (l) {
            set_code(e, qe, l);
            code_set = true;
        }
    }
    const char *et = fr_http_resp_header(r, "x-amzn-errortype");
    if (et && !code_set && p == FR_AWS_PROTO_RESTJSON) {
        set_code(e, et, strlen(et));
        code_set = e->code[0] != '\0';
    }
    const char *body = r->body ? r->body : "";
    const char *end = body + r->body_len;
    const char *first = skip_ws(body, end);
    bool parsed = false;
    if (first < end && *first == '{')
        parsed = parse_json_error(body, r->body_len, e, code_set);
    else if (first < end && *first == '<')
        parsed = parse_xml_error(body, r->body_len, e, code_set);
    if (!code_set && !e->code[0] && et)
        set_code(e, et, strlen(et));
    if (!e->code[0]) {
        /* No code anywhere: botocore uses the status as the code. */
        snprintf(e->code, sizeof(e->code), "%ld", r->status);
        if (!parsed && !e->message[0])
            snprintf(e->message, sizeof(e->message), "HTTP %ld with %s body", r->status,
                     r->body_len ? "an unrecognised" : "an empty");
    }
    e->kind = kind_for(e->code, r->status);
    e->err = e->kind == FR_AWS_ERR_THROTTLE ? FR_ETHROTTLED : FR_EAWS;
}

fr_verdict fr_aws_classify(fr_aws_protocol p, const fr_http_resp *r, fr_aws_error *e)
{
    fr_aws_error tmp;
    if (!e)
        e = &tmp;
    if (r->err) {
        memset(e, 0, sizeof(*e));
        fr_aws_error_set(e, FR_AWS_ERR_TRANSPORT, r->err, fr_errname(r->err), "%s",
                         r->errmsg ? r->errmsg : fr_strerror(r->err));
        e->http_status = r->status;
        return fr_classify_http(r);
    }
    if (r->status >= 200 && r->status < 300) {
        memset(e, 0, sizeof(*e));
        return FR_VERDICT_OK;
    }
    fr_aws_parse_error(p, r, e);
    switch (e->kind) {
    case FR_AWS_ERR_THROTTLE:
        return FR_VERDICT_THROTTLE;
    case FR_AWS_ERR_TRANSIENT:
        return FR_VERDICT_RETRY;
    default:
        return FR_VERDICT_FAIL;
    }
}
