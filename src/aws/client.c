/* The AWS client object and the single call: encode once, then for each
 * attempt (fr_call rebuilds it) sign afresh with the current credentials
 * and time, send, classify like the SDKs' standard mode, and decode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr_config.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/metrics.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "internal.h"

#define MAX_HDRS 24

struct aws_call {
    fr_aws_op base;
    enum fr_aws_svc svc;
    const fr_aws_service_info *si;
    char op[64];
    bool unsigned_req;
    bool once;
    int max_attempts;
    uint64_t timeout_ms;
    /* the request, encoded once */
    fr_buf path, query, body;
    fr_buf extra; /* "Name\0value\0" pairs of further signed headers */
    fr_sigv4_header sh[8];
    size_t sh_off[8];
    size_t nsh;
    bool no_content_type;
    /* per attempt */
    fr_buf hdrs;
    size_t hoff[MAX_HDRS];
    const char *hptr[MAX_HDRS];
    size_t nh;
    fr_buf url;
    fr_buf authz;
    fr_aws_xml *xml;
    /* state */
    fr_cred_wait *cwait;
    fr_call *call;
    fr_aws_error err;
    struct aws_call *dnext;
    bool deferred;
    char invocation_id[40];
    uint64_t t0;
    fr_aws_cb cb;
    void *arg;
};

/* ---- live list ---- */

void fr_aws__link(fr_aws *a, fr_aws_op *op)
{
    op->aws = a;
    op->prev = NULL;
    op->next = a->live;
    if (a->live)
        a->live->prev = op;
    a->live = op;
    op->linked = true;
    a->pending++;
}

void fr_aws__unlink(fr_aws_op *op)
{
    if (!op->linked)
        return;
    fr_aws *a = op->aws;
    if (op->prev)
        op->prev->next = op->next;
    else
        a->live = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
    op->linked = false;
    a->pending--;
}

void fr_aws_cancel(fr_aws_op *op)
{
    if (op)
        op->cancel(op);
}

void fr_aws__fail_result(fr_aws_cb cb, void *arg, fr_aws_err_kind kind, int err, const char *code, const char *msg)
{
    fr_aws_error e;
    memset(&e, 0, sizeof(e));
    fr_aws_error_set(&e, kind, err, code, "%s", msg ? msg : "");
    fr_aws_result res;
    memset(&res, 0, sizeof(res));
    res.err = err;
    res.error = &e;
    res.request_id = "";
    res.body = "";
    cb(&res, arg);
}

/* ---- the call ---- */

static void call_free(struct aws_call *c)
{
    fr_buf_free(&c->path);
    fr_buf_free(&c->query);
    fr_buf_free(&c->body);
    fr_buf_free(&c->extra);
    if (c->hdrs.data)
        memset(c->hdrs.data, 0, c->hdrs.len); /* held the session token */
    fr_buf_free(&c->hdrs);
    fr_buf_free(&c->url);
    fr_buf_free(&c->authz);
    fr_aws_xml_free(c->xml);
    free(c);
}

static void undefer(struct aws_call *c)
{
    if (!c->deferred)
        return;
    fr_aws *a = c->base.aws;
    for (struct aws_call **pp = &a->deferred; *pp; pp = &(*pp)->dnext) {
        if (*pp == c) {
            *pp = c->dnext;
            break;
        }
    }
    c->deferred = false;
}

static void call_stop(struct aws_call *c)
{
    if (c->cwait) {
        fr_cred_cancel(c->cwait);
        c->cwait = NULL;
    }
    if (c->call) {
        fr_call_cancel(c->call);
        c->call = NULL;
    }
    undefer(c);
}

static void call_cancel(fr_aws_op *op)
{
    struct aws_call *c = (struct aws_call *)op;
    call_stop(c);
    fr_aws__unlink(op);
    call_free(c);
}

static void outcome_metric(struct aws_call *c, const char *outcome)
{
    char labels[128];
    snprintf(labels, sizeof(labels), "service=\"%s\",outcome=\"%s\"", c->si->name, outcome);
    fr_metric_inc("frugal_aws_calls_total", "AWS operations by service and outcome", labels, 1);
}

/* Hands res to the caller and frees the call; the call is unlinked first
 * so the callback sees accurate counts and may start new calls. */
static void complete(struct aws_call *c, fr_aws_result *res)
{
    fr_aws__unlink(&c->base);
    outcome_metric(c, res->error ? fr_aws_err_kind_name(res->error->kind) : "ok");
    double ms = (double)(fr_time_mono_ns() - c->t0) / 1e6;
    if (res->error)
        fr_log_debug("aws.call", "{s:s, s:s, s:s, s:s, s:I, s:i, s:f}", "service", c->si->name, "op", c->op, "kind",
                     fr_aws_err_kind_name(res->error->kind), "code", res->error->code, "status",
                     (json_int_t)res->http_status, "attempts", res->attempts, "ms", ms);
    else
        fr_log_debug("aws.call", "{s:s, s:s, s:I, s:i, s:f}", "service", c->si->name, "op", c->op, "status",
                     (json_int_t)res->http_status, "attempts", res->attempts, "ms", ms);
    fr_aws_cb cb = c->cb;
    void *arg = c->arg;
    if (!res->request_id)
        res->request_id = "";
    if (!res->body)
        res->body = "";
    cb(res, arg);
    call_free(c);
}

static void complete_error(struct aws_call *c, fr_aws_err_kind kind, int err, const char *code, const char *msg)
{
    fr_aws_error e;
    memset(&e, 0, sizeof(e));
    fr_aws_error_set(&e, kind, err, code, "%s", msg ? msg : "");
    fr_aws_result res;
    memset(&res, 0, sizeof(res));
    res.err = err;
    res.error = &e;
    complete(c, &res);
}

static void call_abort(fr_aws_op *op, int err)
{
    struct aws_call *c = (struct aws_call *)op;
    call_stop(c);
    complete_error(c, FR_AWS_ERR_TRANSPORT, err, fr_errname(err), "the AWS client is closing");
}

static void on_defer_timer(uv_timer_t *t)
{
    fr_aws *a = t->data;
    while (a->deferred) {
        struct aws_call *c = a->deferred;
        a->deferred = c->dnext;
        c->deferred = false;
        complete_error(c, c->err.kind, c->err.err, c->err.code, c->err.message);
    }
}

/* Completes with c->err on a later loop turn (never inside the caller's
 * own fr_aws_* call). */
static void defer_error(struct aws_call *c)
{
    fr_aws *a = c->base.aws;
    c->deferred = true;
    c->dnext = a->deferred;
    a->deferred = c;
    uv_timer_start(a->defer, on_defer_timer, 0, 0);
}

/* header lines: stored NUL-separated, pointers fixed once complete */
static void hdr_add(struct aws_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hdr_add(struct aws_call *c, const char *fmt, ...)
{
    if (c->nh >= MAX_HDRS)
        return;
    c->hoff[c->nh++] = c->hdrs.len;
    va_list ap;
    va_start(ap, fmt);
    fr_buf_vprintf(&c->hdrs, fmt, ap);
    va_end(ap);
    fr_buf_append(&c->hdrs, "", 1);
}

static int xml_sink(const char *data, size_t len, void *arg)
{
    struct aws_call *c = arg;
    return fr_aws_xml_feed(c->xml, data, len) == 0 ? 0 : -1;
}

static void uuid4(char out[40])
{
    unsigned char b[16];
    fr_rand_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    fr_hex_encode(hex, b, sizeof(b));
    snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static int call_build(void *arg, int attempt, fr_http_opts *o)
{
    struct aws_call *c = arg;
    fr_aws *a = c->base.aws;
    const fr_aws_endpoint *ep = &a->ep[c->svc];
    fr_buf_reset(&c->hdrs);
    c->nh = 0;
    hdr_add(c, "Host: %s", ep->host_header);
    hdr_add(c, "Accept-Encoding: identity");
    hdr_add(c, "Accept:"); /* curl's default Accept is not what the SDKs send */
    for (size_t i = 0; i < c->nsh; i++)
        hdr_add(c, "%s: %s", c->sh[i].name, c->sh[i].value);
    if (c->no_content_type)
        hdr_add(c, "Content-Type:");
    hdr_add(c, "User-Agent: %s", a->user_agent);
    if (!c->unsigned_req) {
        const fr_aws_creds *cr = fr_cred_current(a->cred);
        if (!cr)
            return FR_ECRED;
        char date[20];
        fr_aws_sign_in in = {
            .method = "POST",
            .host = ep->host_header,
            .path = fr_buf_cstr(&c->path),
            .query = c->query.len ? c->query.data : NULL,
            .headers = c->sh,
            .nheaders = c->nsh,
            .body = c->body.data,
            .body_len = c->body.len,
            .region = ep->signing_region,
            .service = ep->signing_name,
            .access_key = cr->access_key_id,
            .secret_key = cr->secret_access_key,
            .session_token = cr->session_token,
            .time_ms = fr_time_now_ms(),
            .cache = &a->keys[c->svc],
        };
        int rc = fr_aws_sign(&in, date, &c->authz);
        if (rc)
            return rc;
        hdr_add(c, "X-Amz-Date: %s", date);
        if (cr->session_token && *cr->session_token)
            hdr_add(c, "X-Amz-Security-Token: %s", cr->session_token);
        hdr_add(c, "Authorization: %s", fr_buf_cstr(&c->authz));
    }
    hdr_add(c, "amz-sdk-invocation-id: %s", c->invocation_id);
    hdr_add(c, "amz-sdk-request: attempt=%d; max=%d", attempt + 1, c->max_attempts);
    for (size_t i = 0; i < c->nh; i++)
        c->hptr[i] = c->hdrs.data + c->hoff[i];
    fr_buf_reset(&c->url);
    fr_buf_printf(&c->url, "%s://%s%s%s%s", fr_str_startswith(ep->url, "https:") ? "https" : "http",
                  ep->host_header, fr_buf_cstr(&c->path), c->query.len ? "?" : "", fr_buf_cstr(&c->query));
    o->method = "POST";
    o->url = c->url.data;
    o->headers = c->hptr;
    o->nheaders = c->nh;
    o->body = c->body.len ? c->body.data : "";
    o->body_len = c->body.len;
    o->timeout_ms = c->timeout_ms;
    if (c->si->protocol == FR_AWS_PROTO_EC2 || c->si->protocol == FR_AWS_PROTO_QUERY) {
        fr_aws_xml_free(c->xml);
        c->xml = fr_aws_xml_new(a->max_response);
        if (!c->xml)
            return -ENOMEM;
        o->on_data = xml_sink;
        o->data_arg = c;
    }
    return 0;
}

static fr_verdict call_classify(void *arg, const fr_http_resp *r)
{
    struct aws_call *c = arg;
    fr_verdict v = fr_aws_classify(c->si->protocol, r, &c->err);
    if (v == FR_VERDICT_RETRY || v == FR_VERDICT_THROTTLE)
        fr_log_debug("aws.retry", "{s:s, s:s, s:s, s:I}", "service", c->si->name, "op", c->op, "code", c->err.code,
                     "status", (json_int_t)r->status);
    return v;
}

static json_t *lambda_result(struct aws_call *c, const fr_http_resp *r, fr_aws_error *e, bool *function_error)
{
    json_t *j = json_object();
    json_object_set_new(j, "StatusCode", json_integer(r->status));
    const char *v;
    if ((v = fr_http_resp_header(r, "x-amz-executed-version")) != NULL)
        json_object_set_new(j, "ExecutedVersion", json_string(v));
    if ((v = fr_http_resp_header(r, "x-amz-log-result")) != NULL)
        json_object_set_new(j, "LogResult", json_string(v));
    json_t *payload = r->body_len ? json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL) : NULL;
    if (payload)
        json_object_set_new(j, "Payload", payload);
    const char *fe = fr_http_resp_header(r, "x-amz-function-error");
    *function_error = fe != NULL;
    if (fe) {
        json_object_set_new(j, "FunctionError", json_string(fe));
        const char *type = json_string_value(json_object_get(payload, "errorType"));
        const char *msg = json_string_value(json_object_get(payload, "errorMessage"));
        memset(e, 0, sizeof(*e));
        fr_aws_error_set(e, FR_AWS_ERR_FUNCTION, FR_EAWS, fe, "%s%s%s", type ? type : "function error",
                         msg ? ": " : "", msg ? msg : "");
        e->http_status = r->status;
        (void)c;
    }
    return j;
}

static void call_done(void *arg, const fr_http_resp *r, const fr_call_result *cr)
{
    struct aws_call *c = arg;
    c->call = NULL;
    fr_aws *a = c->base.aws;
    fr_aws_result res;
    memset(&res, 0, sizeof(res));
    res.attempts = cr->attempts;
    fr_aws_error e = c->err;
    json_t *json = NULL, *root = NULL;
    char why[256] = "";
    char rid[128] = "";
    if (r) {
        res.http_status = r->status;
        const char *h = fr_aws_request_id_header(r);
        if (h)
            fr_strlcpy(rid, h, sizeof(rid));
    }
    if (cr->err == 0 && r) {
        switch (c->si->protocol) {
        case FR_AWS_PROTO_JSON10:
        case FR_AWS_PROTO_JSON11:
            if (fr_aws_json_decode(r->body, r->body_len, &json, why, sizeof(why)) != 0)
                fr_aws_error_set(&e, FR_AWS_ERR_PARSE, FR_EPARSE, "MalformedResponse", "%s %s: %s", c->si->name,
                                 c->op, why);
            break;
        case FR_AWS_PROTO_EC2:
        case FR_AWS_PROTO_QUERY: {
            char name[128];
            if (!c->xml || fr_aws_xml_finish(c->xml, &root, name, sizeof(name), why, sizeof(why)) != 0) {
                fr_aws_error_set(&e, FR_AWS_ERR_PARSE, FR_EPARSE, "MalformedResponse", "%s %s: %s", c->si->name,
                                 c->op, why[0] ? why : "no body");
            } else if (c->si->protocol == FR_AWS_PROTO_EC2) {
                json = json_incref(root);
                const char *x = json_string_value(json_object_get(root, "requestId"));
                if (x && !rid[0])
                    fr_strlcpy(rid, x, sizeof(rid));
            } else {
                char qrid[128] = "";
                json = fr_aws_query_result(root, c->op, qrid, sizeof(qrid));
                if (qrid[0] && !rid[0])
                    fr_strlcpy(rid, qrid, sizeof(rid));
            }
            break;
        }
        case FR_AWS_PROTO_RESTJSON: {
            bool fe = false;
            json = lambda_result(c, r, &e, &fe);
            res.body = r->body;
            res.body_len = r->body_len;
            if (!fe)
                memset(&e, 0, sizeof(e));
            break;
        }
        }
        if (c->si->protocol != FR_AWS_PROTO_RESTJSON && e.kind != FR_AWS_ERR_PARSE)
            memset(&e, 0, sizeof(e));
    } else if (!r) {
        if (cr->err == FR_ECRED) {
            fr_cred_stats st;
            fr_cred_stats_get(a->cred, &st);
            fr_aws_error_set(&e, FR_AWS_ERR_CREDENTIALS, FR_ECRED, "NoCredentials", "%s",
                             st.last_error[0] ? st.last_error : "no usable AWS credentials");
        } else {
            fr_aws_error_set(&e, FR_AWS_ERR_TRANSPORT, cr->err, fr_errname(cr->err), "%s", fr_strerror(cr->err));
        }
    } else if (r->err) {
        if (r->err == -ECANCELED && c->xml) {
            /* the XML sink refused the stream: report why */
            json_t *dummy = NULL;
            fr_aws_xml_finish(c->xml, &dummy, NULL, 0, why, sizeof(why));
            json_decref(dummy);
            fr_aws_error_set(&e, FR_AWS_ERR_PARSE, FR_EPARSE, "MalformedResponse", "%s %s: %s", c->si->name, c->op,
                             why);
        } else if (r->err == -E2BIG) {
            fr_aws_error_set(&e, FR_AWS_ERR_PARSE, FR_EPARSE, "ResponseTooLarge",
                             "%s %s: response larger than http.max_response (%zu bytes)", c->si->name, c->op,
                             a->max_response);
        } else {
            fr_aws_error_set(&e, FR_AWS_ERR_TRANSPORT, r->err, fr_errname(r->err), "%s",
                             r->errmsg ? r->errmsg : fr_strerror(r->err));
        }
        e.http_status = r->status;
    } else {
        /* an HTTP error answer: c->err was parsed by classify */
        if (cr->err == FR_EQUOTA)
            e.err = FR_EQUOTA;
        if (!e.code[0])
            fr_aws_parse_error(c->si->protocol, r, &e);
    }
    if (!rid[0] && e.request_id[0])
        fr_strlcpy(rid, e.request_id, sizeof(rid));
    if (e.kind != FR_AWS_ERR_NONE) {
        if (!e.request_id[0])
            fr_strlcpy(e.request_id, rid, sizeof(e.request_id));
        if (!e.http_status && r)
            e.http_status = r->status;
        if (!e.err)
            e.err = FR_EAWS;
        res.err = e.err;
        res.error = &e;
    }
    res.json = json;
    res.request_id = rid;
    complete(c, &res);
    json_decref(json);
    json_decref(root);
}

#define OPLIM_MIN_RATE 0.5 /* requests/s an operation is never paced below */

/* The adaptive limiter of (svc, op); NULL when off or out of memory (the
 * call then goes with the service limiter alone). */
static fr_limiter *op_limiter(fr_aws *a, int svc, const char *op)
{
    if (!a->adaptive)
        return NULL;
    for (size_t i = 0; i < a->noplim; i++)
        if (a->oplim[i].svc == svc && strcmp(a->oplim[i].op, op) == 0)
            return a->oplim[i].l;
    struct fr_aws_oplim *n = realloc(a->oplim, (a->noplim + 1) * sizeof(*n));
    if (!n)
        return NULL;
    a->oplim = n;
    struct fr_aws_oplim *o = &n[a->noplim];
    char name[96];
    snprintf(name, sizeof(name), "%s.%s", fr_svc_name((enum fr_aws_svc)svc), op);
    const fr_svc_limits *l = &a->svc_limits[svc];
    if (fr_limiter_new(&o->l, a->loop, name, l->rate, l->burst, INT32_MAX) != 0)
        return NULL;
    fr_limiter_set_adaptive(o->l, OPLIM_MIN_RATE, l->rate);
    o->svc = svc;
    fr_strlcpy(o->op, op, sizeof(o->op));
    a->noplim++;
    return o->l;
}

static void call_send(struct aws_call *c)
{
    fr_aws *a = c->base.aws;
    fr_call_spec spec = {
        .service = c->si->name,
        .op_limiter = op_limiter(a, c->svc, c->op),
        .limiter = a->lim[c->svc],
        .quota = a->use_quota ? &a->quota[c->svc] : NULL,
        .policy = a->policy,
        .build = call_build,
        .classify = call_classify,
        .done = call_done,
        .arg = c,
    };
    spec.policy.max_retries = c->max_attempts - 1;
    spec.no_ambiguous_retry = c->once;
    int rc = fr_call_start(a->http, a->loop, &spec, &c->call);
    if (rc) {
        c->call = NULL;
        if (rc == FR_ECRED) {
            fr_cred_stats st;
            fr_cred_stats_get(a->cred, &st);
            fr_aws_error_set(&c->err, FR_AWS_ERR_CREDENTIALS, FR_ECRED, "NoCredentials", "%s",
                             st.last_error[0] ? st.last_error : "no usable AWS credentials");
        } else {
            fr_aws_error_set(&c->err, FR_AWS_ERR_TRANSPORT, rc, fr_errname(rc), "cannot send: %s", fr_strerror(rc));
        }
        defer_error(c);
    }
}

static void on_creds(void *arg, const fr_aws_creds *creds, int err, const char *message)
{
    struct aws_call *c = arg;
    c->cwait = NULL;
    if (err || !creds) {
        complete_error(c, FR_AWS_ERR_CREDENTIALS, FR_ECRED, "NoCredentials",
                       message ? message : "no usable AWS credentials");
        return;
    }
    call_send(c);
}

/* A further header to sign and send; the value is copied into c->extra
 * and the pointers are fixed once encoding is over (extra may move). */
static void extra_header(struct aws_call *c, const char *name, const char *value)
{
    if (c->nsh >= FR_ARRAY_SIZE(c->sh))
        return;
    c->sh[c->nsh].name = name; /* static strings */
    c->sh_off[c->nsh] = c->extra.len;
    fr_buf_puts(&c->extra, value);
    fr_buf_append(&c->extra, "", 1);
    c->nsh++;
}

/* Encodes req for the service's protocol into path, query, body and the
 * headers that get signed. */
static int encode(struct aws_call *c, const char *op, json_t *req, char *why, size_t wl)
{
    const fr_aws_service_info *si = c->si;
    const fr_aws_endpoint *ep = &c->base.aws->ep[c->svc];
    int rc = 0;
    fr_buf_puts(&c->path, ep->base_path);
    switch (si->protocol) {
    case FR_AWS_PROTO_JSON10:
    case FR_AWS_PROTO_JSON11: {
        fr_buf_putc(&c->path, '/');
        rc = fr_aws_json_encode(req, &c->body);
        fr_buf target = FR_BUF_INIT;
        fr_buf_printf(&target, "%s.%s", si->target_prefix, op);
        extra_header(c, "X-Amz-Target", fr_buf_cstr(&target));
        fr_buf_free(&target);
        extra_header(c, "Content-Type",
                     si->protocol == FR_AWS_PROTO_JSON10 ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1");
        if (si->query_compatible)
            extra_header(c, "x-amzn-query-mode", "true");
        break;
    }
    case FR_AWS_PROTO_EC2:
    case FR_AWS_PROTO_QUERY:
        fr_buf_putc(&c->path, '/');
        rc = fr_aws_query_encode(op, si->api_version, req, si->protocol == FR_AWS_PROTO_EC2, &c->body);
        extra_header(c, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
        break;
    case FR_AWS_PROTO_RESTJSON: {
        if (strcmp(op, "Invoke") != 0) {
            snprintf(why, wl, "Lambda supports only Invoke here");
            return -ENOTSUP;
        }
        const char *fn = json_string_value(json_object_get(req, "FunctionName"));
        if (!fn || !*fn) {
            snprintf(why, wl, "FunctionName is required");
            return -EINVAL;
        }
        fr_buf p = FR_BUF_INIT;
        rc = fr_aws_lambda_invoke_path(fn, json_string_value(json_object_get(req, "Qualifier")), &p, &c->query);
        fr_buf_append(&c->path, p.data, p.len);
        fr_buf_free(&p);
        json_t *pl = json_object_get(req, "Payload");
        if (json_is_string(pl)) {
            fr_buf_append(&c->body, json_string_value(pl), json_string_length(pl));
        } else if (pl && !json_is_null(pl)) {
            char *s = json_dumps(pl, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_COMPACT);
            if (!s)
                return -ENOMEM;
            fr_buf_puts(&c->body, s);
            free(s);
        }
        c->no_content_type = true;
        static const char *const keys[][2] = {{"InvocationType", "X-Amz-Invocation-Type"},
                                              {"LogType", "X-Amz-Log-Type"},
                                              {"ClientContext", "X-Amz-Client-Context"}};
        for (size_t i = 0; i < FR_ARRAY_SIZE(keys); i++) {
            const char *v = json_string_value(json_object_get(req, keys[i][0]));
            if (!v)
                continue;
            if (strchr(v, '\r') || strchr(v, '\n')) {
                snprintf(why, wl, "%s contains a line break", keys[i][0]);
                return -EINVAL;
            }
            extra_header(c, keys[i][1], v);
        }
        break;
    }
    }
    for (size_t i = 0; i < c->nsh; i++)
        c->sh[i].value = c->extra.data + c->sh_off[i];
    return rc;
}

int fr_aws__call(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                 fr_aws_cb cb, void *arg, bool top, fr_aws_op **out)
{
    if (out)
        *out = NULL;
    const fr_aws_service_info *si = fr_aws_service(svc);
    if (!a || a->closing || !si || !op || !*op || strlen(op) >= 64 || !cb || (req && !json_is_object(req))) {
        json_decref(req);
        return a && a->closing ? -ECANCELED : -EINVAL;
    }
    struct aws_call *c = calloc(1, sizeof(*c));
    if (!c) {
        json_decref(req);
        return -ENOMEM;
    }
    c->base.aws = a;
    c->base.cancel = call_cancel;
    c->base.abort = call_abort;
    c->svc = svc;
    c->si = si;
    fr_strlcpy(c->op, op, sizeof(c->op));
    c->cb = cb;
    c->arg = arg;
    c->unsigned_req = o && o->unsigned_request;
    c->once = o && o->once;
    c->max_attempts = o && o->max_attempts > 0 ? o->max_attempts : a->max_attempts;
    c->timeout_ms = o && o->timeout_ms ? o->timeout_ms : a->timeout_ms;
    c->t0 = fr_time_mono_ns();
    uuid4(c->invocation_id);
    char why[160] = "";
    int rc = encode(c, op, req, why, sizeof(why));
    json_decref(req);
    if (rc) {
        if (why[0])
            fr_log_warn("aws.call.invalid", "{s:s, s:s, s:s}", "service", si->name, "op", op, "error", why);
        call_free(c);
        return rc;
    }
    if (top)
        fr_aws__link(a, &c->base);
    if (out)
        *out = &c->base;
    if (c->unsigned_req) {
        call_send(c);
        return 0;
    }
    const fr_aws_creds *now = NULL;
    int g = fr_cred_get(a->cred, on_creds, c, &c->cwait, &now);
    if (g == 1) {
        call_send(c);
    } else if (g < 0) {
        fr_cred_stats st;
        fr_cred_stats_get(a->cred, &st);
        fr_aws_error_set(&c->err, FR_AWS_ERR_CREDENTIALS, FR_ECRED, "NoCredentials", "%s",
                         st.last_error[0] ? st.last_error : "no usable AWS credentials");
        defer_error(c);
    }
    return 0;
}

int fr_aws_call(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o, fr_aws_cb cb,
                void *arg, fr_aws_op **out)
{
    return fr_aws__call(a, svc, op, req, o, cb, arg, true, out);
}

/* ---- the client ---- */

static int attempts_from(const fr_config *cfg, fr_getenv_fn env, void *ea)
{
    if (cfg->aws_max_attempts > 0)
        return (int)cfg->aws_max_attempts;
    const char *v = env ? env("AWS_MAX_ATTEMPTS", ea) : NULL;
    int64_t n;
    if (v && *v && fr_parse_i64(v, &n) == 0 && n >= 1 && n <= 100)
        return (int)n;
    return (int)cfg->retry_max_retries + 1;
}

static void apply_settings(fr_aws *a, const fr_config *cfg, fr_getenv_fn env, void *ea)
{
    a->policy.initial_ms = cfg->retry_initial_ms;
    a->policy.max_ms = cfg->retry_max_ms;
    a->policy.retry_after_cap_ms = cfg->retry_after_cap_ms;
    a->policy.max_retries = 0; /* per call, from max_attempts */
    a->max_attempts = attempts_from(cfg, env, ea);
    a->use_quota = cfg->aws_retry_quota;
    a->adaptive = cfg->aws_adaptive_rate;
    memcpy(a->svc_limits, cfg->svc, sizeof(a->svc_limits));
}

int fr_aws_new(fr_aws **out, uv_loop_t *loop, fr_http *http, const fr_config *cfg, const fr_aws_opts *opts,
               char *err, size_t errlen)
{
    *out = NULL;
    fr_getenv_fn env = opts && opts->getenv ? opts->getenv : fr_aws_process_env;
    void *ea = opts ? opts->getenv_arg : NULL;
    fr_aws *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->loop = loop;
    a->http = http;
    a->getenv = env;
    a->getenv_arg = ea;
    a->timeout_ms = cfg->http_timeout_ms;
    a->max_response = cfg->http_max_response ? cfg->http_max_response : (64u << 20);
    /* like the AWS SDKs: a set but unusable AWS_MAX_ATTEMPTS is an error, not the default */
    const char *ma = env("AWS_MAX_ATTEMPTS", ea);
    int64_t man;
    if (ma && *ma && (fr_parse_i64(ma, &man) != 0 || man < 1 || man > 100)) {
        snprintf(err, errlen, "invalid AWS_MAX_ATTEMPTS \"%.40s\": an integer 1..100", ma);
        free(a);
        return FR_ECONFIG;
    }
    snprintf(a->user_agent, sizeof(a->user_agent), "frugal/%s ua/2.1 os/linux lang/c cfg/retry-mode#standard",
             FR_VERSION);
    apply_settings(a, cfg, env, ea);

    /* the profile is needed for the region, the region for STS */
    fr_cred_opts co = {
        .getenv = env,
        .getenv_arg = ea,
        .home = opts ? opts->home : NULL,
        .profile = cfg->aws_profile,
        .connect_timeout_ms = cfg->http_connect_timeout_ms,
        .timeout_ms = cfg->http_timeout_ms,
    };
    /* The profile gives the region, the region gives the STS endpoint that
     * web identity and AssumeRole need: create the provider, then tell it. */
    int rc = fr_cred_provider_new(&a->cred, loop, http, &co, err, errlen);
    if (rc) {
        free(a);
        return rc;
    }
    rc = fr_aws_resolve_region(cfg->aws_region, env, ea, fr_cred_profile_region(a->cred), a->region,
                               sizeof(a->region), &a->region_source);
    if (rc)
        snprintf(err, errlen, "invalid AWS region (from %s)", a->region_source);
    for (int s = 0; s < FR_SVC__COUNT && rc == 0; s++) {
        rc = fr_aws_resolve_endpoint((enum fr_aws_svc)s, a->region, cfg->aws_endpoint_url, env, ea, &a->ep[s]);
        if (rc)
            snprintf(err, errlen, "invalid endpoint URL for %s (from %s)", fr_svc_name((enum fr_aws_svc)s),
                     a->ep[s].source ? a->ep[s].source : "?");
    }
    if (rc) {
        /* nothing ran on the loop yet: the provider's timer closes on the next turn */
        fr_cred_provider_close(a->cred, NULL, NULL);
        free(a);
        return rc;
    }
    fr_cred_set_sts(a->cred, a->ep[FR_SVC_STS].url, a->ep[FR_SVC_STS].host_header,
                    a->ep[FR_SVC_STS].signing_region);
    for (int s = 0; s < FR_SVC__COUNT; s++) {
        const fr_svc_limits *l = &cfg->svc[s];
        fr_limiter_new(&a->lim[s], loop, fr_svc_name((enum fr_aws_svc)s), l->rate, l->burst, (int)l->concurrency);
        fr_quota_init(&a->quota[s], FR_QUOTA_CAPACITY);
    }
    a->defer = malloc(sizeof(*a->defer));
    uv_timer_init(loop, a->defer);
    a->defer->data = a;
    fr_log_info("aws.client", "{s:s, s:s, s:s, s:s, s:i}", "region", a->region, "region_source", a->region_source,
                "endpoint", a->ep[FR_SVC_EMR].url, "endpoint_source", a->ep[FR_SVC_EMR].source, "max_attempts",
                a->max_attempts);
    *out = a;
    return 0;
}

void fr_aws_reload(fr_aws *a, const fr_config *cfg)
{
    apply_settings(a, cfg, a->getenv, a->getenv_arg);
    a->timeout_ms = cfg->http_timeout_ms;
    for (int s = 0; s < FR_SVC__COUNT; s++)
        fr_limiter_update(a->lim[s], cfg->svc[s].rate, cfg->svc[s].burst, (int)cfg->svc[s].concurrency);
    for (size_t i = 0; i < a->noplim; i++) {
        const fr_svc_limits *l = &cfg->svc[a->oplim[i].svc];
        fr_limiter_update(a->oplim[i].l, l->rate, l->burst, INT32_MAX);
    }
}

static void close_step(void *arg)
{
    fr_aws *a = arg;
    if (--a->closes_left > 0)
        return;
    void (*done)(void *) = a->close_done;
    void *darg = a->close_arg;
    free(a);
    if (done)
        done(darg);
}

static void on_defer_closed(uv_handle_t *h)
{
    fr_aws *a = h->data;
    free(h);
    close_step(a);
}

void fr_aws_close(fr_aws *a, void (*done)(void *arg), void *arg)
{
    if (!a || a->closing)
        return;
    a->closing = 1;
    a->close_done = done;
    a->close_arg = arg;
    /* every operation ends with -ECANCELED; callbacks may cancel others */
    while (a->live)
        a->live->abort(a->live, -ECANCELED);
    for (int s = 0; s < FR_SVC__COUNT; s++) {
        fr_limiter_close(a->lim[s]);
        a->lim[s] = NULL;
    }
    for (size_t i = 0; i < a->noplim; i++)
        fr_limiter_close(a->oplim[i].l);
    free(a->oplim);
    a->oplim = NULL;
    a->noplim = 0;
    a->closes_left = 2;
    fr_cred_provider_close(a->cred, close_step, a);
    a->cred = NULL;
    uv_timer_stop(a->defer);
    uv_close((uv_handle_t *)a->defer, on_defer_closed);
}

const char *fr_aws_region(const fr_aws *a)
{
    return a->region;
}

const char *fr_aws_region_source(const fr_aws *a)
{
    return a->region_source;
}

const fr_aws_endpoint *fr_aws_endpoint_of(const fr_aws *a, enum fr_aws_svc svc)
{
    return (unsigned)svc < FR_SVC__COUNT ? &a->ep[svc] : NULL;
}

fr_cred_provider *fr_aws_cred_provider(fr_aws *a)
{
    return a->cred;
}

int fr_aws_max_attempts(const fr_aws *a)
{
    return a->max_attempts;
}

size_t fr_aws_pending(const fr_aws *a)
{
    return a->pending;
}

int fr_aws_quota_available(const fr_aws *a, enum fr_aws_svc svc)
{
    if (!a->use_quota || (unsigned)svc >= FR_SVC__COUNT)
        return -1;
    return a->quota[svc].available;
}
