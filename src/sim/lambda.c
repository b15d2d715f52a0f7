#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emrconf.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "lambda.h"
#include "world.h"

void fr_sim_lambda_init(fr_sim_lambda *l, fr_sim_ssm *ssm, fr_sim_emr *emr, const char *region, const char *account,
                        uint64_t seed)
{
    memset(l, 0, sizeof(*l));
    l->ssm = ssm;
    l->emr = emr;
    l->seed = seed;
    l->include_cluster_id = true;
    fr_strlcpy(l->region, region, sizeof(l->region));
    fr_strlcpy(l->account, account, sizeof(l->account));
    fr_strlcpy(l->function, FR_SIM_LAMBDA_NAME, sizeof(l->function));
    fr_strlcpy(l->prefix, FR_SIM_PARAM_PREFIX, sizeof(l->prefix));
}

void fr_sim_lambda_clear(fr_sim_lambda *l)
{
    for (size_t i = 0; i < l->n; i++) {
        json_decref(l->inv[i].payload);
        json_decref(l->inv[i].result);
    }
    l->n = 0;
}

void fr_sim_lambda_free(fr_sim_lambda *l)
{
    fr_sim_lambda_clear(l);
    free(l->inv);
    l->inv = NULL;
    l->cap = 0;
    free(l->answer);
    l->answer = NULL;
}

/* name | 123456789012:function:name | arn:aws:lambda:r:acct:function:name[:qualifier] */
static int function_name(const char *in, char *name, size_t n, char *qual, size_t qn)
{
    qual[0] = '\0';
    const char *p = strstr(in, "function:");
    if (p)
        p += 9;
    else
        p = in;
    fr_strlcpy(name, p, n);
    char *colon = strchr(name, ':');
    if (colon) {
        fr_strlcpy(qual, colon + 1, qn);
        *colon = '\0';
    }
    return *name ? 0 : FR_EPARSE;
}

static json_t *function_error(const char *type, const char *msg)
{
    return json_pack("{s:s, s:s, s:s, s:[s]}", "errorMessage", msg, "errorType", type, "requestId", "",
                     "stackTrace", "  File \"/var/task/app.py\", line 42, in lambda_handler\n");
}

/* The function body: read the parameter, build RunJobFlow, create. */
static void run_invocation(fr_sim_lambda *l, fr_sim_invocation *inv, int64_t now)
{
    inv->read_ms = now;
    json_t *body = NULL;
    json_t *b = json_object_get(inv->payload, "body");
    if (json_is_string(b))
        body = json_loads(json_string_value(b), 0, NULL);
    else if (json_is_object(b))
        body = json_incref(b);
    else if (json_is_object(inv->payload) && json_object_get(inv->payload, "cluster_name"))
        body = json_incref(inv->payload);
    const char *name = fr_sim_jstr(body, "cluster_name");
    const char *rtype = fr_sim_jstr(body, "request_type");
    char msg[1024];
    if (!json_is_object(body)) {
        inv->result = function_error(b ? "JSONDecodeError" : "KeyError",
                                     b ? "Expecting value: line 1 column 1 (char 0)" : "'body'");
        goto failed;
    }
    if (!name) {
        inv->result = function_error("KeyError", "'cluster_name'");
        goto failed;
    }
    fr_strlcpy(inv->cluster_name, name, sizeof(inv->cluster_name));
    if (rtype && strcmp(rtype, "CREATE") != 0) {
        snprintf(msg, sizeof(msg), "Unsupported request_type: %s", rtype);
        inv->result = function_error("ValueError", msg);
        goto failed;
    }
    char pname[600];
    snprintf(pname, sizeof(pname), "%s%s", l->prefix, name);
    fr_sim_param *p = fr_sim_ssm_find(l->ssm, pname);
    const fr_sim_param_ver *v = fr_sim_ssm_latest(p);
    if (!v) {
        snprintf(msg, sizeof(msg),
                 "An error occurred (ParameterNotFound) when calling the GetParameter operation: Parameter %s not found.",
                 pname);
        inv->result = function_error("ParameterNotFound", msg);
        goto failed;
    }
    inv->param_version = v->version;
    json_t *req;
    char etype[64], emsg[512];
    if (fr_sim_emrconf_to_request(v->value, strlen(v->value), &req, etype, sizeof(etype), emsg, sizeof(emsg)) != 0) {
        inv->result = function_error(etype, emsg);
        goto failed;
    }
    fr_sim_emr_plan plan = {.source = "lambda"};
    fr_sim_cluster *c;
    int rc = fr_sim_emr_create(l->emr, req, &plan, now, &c, emsg, sizeof(emsg));
    json_decref(req);
    if (rc) {
        snprintf(msg, sizeof(msg), "An error occurred (ValidationException) when calling the RunJobFlow operation: %s",
                 emsg);
        inv->result = function_error("ClientError", msg);
        goto failed;
    }
    fr_strlcpy(inv->cluster_id, c->id, sizeof(inv->cluster_id));
    json_t *rb = json_pack("{s:s, s:s}", "message", "Cluster creation started", "cluster_name", name);
    if (l->include_cluster_id)
        json_object_set_new(rb, "cluster_id", json_string(c->id));
    char *rbs = json_dumps(rb, JSON_PRESERVE_ORDER);
    json_decref(rb);
    inv->result = json_pack("{s:i, s:s}", "statusCode", 200, "body", rbs ? rbs : "{}");
    free(rbs);
    fr_strlcpy(inv->status, "succeeded", sizeof(inv->status));
    json_decref(body);
    return;
failed:
    json_object_set_new(inv->result, "requestId", json_string(inv->request_id));
    fr_strlcpy(inv->status, "failed", sizeof(inv->status));
    json_decref(body);
}

static fr_sim_invocation *new_invocation(fr_sim_lambda *l)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 32;
        fr_sim_invocation *ni = realloc(l->inv, ncap * sizeof(*ni));
        if (!ni)
            return NULL;
        l->inv = ni;
        l->cap = ncap;
    }
    fr_sim_invocation *inv = &l->inv[l->n++];
    memset(inv, 0, sizeof(*inv));
    return inv;
}

static void log_tail(fr_sim_resp *r, const fr_sim_invocation *inv)
{
    fr_buf log = FR_BUF_INIT, b64 = FR_BUF_INIT;
    fr_buf_printf(&log, "START RequestId: %s Version: $LATEST\n", inv->request_id);
    if (inv->cluster_name[0])
        fr_buf_printf(&log, "[INFO]\tcluster_name=%s status=%s cluster_id=%s\n", inv->cluster_name, inv->status,
                      inv->cluster_id);
    fr_buf_printf(&log, "END RequestId: %s\nREPORT RequestId: %s\tDuration: 412.37 ms\tBilled Duration: 413 ms\t"
                        "Memory Size: 256 MB\tMax Memory Used: 91 MB\t\n",
                  inv->request_id, inv->request_id);
    fr_base64_encode(&b64, (const unsigned char *)log.data, log.len);
    fr_sim_resp_header(r, "X-Amz-Log-Result", fr_buf_cstr(&b64));
    fr_buf_free(&log);
    fr_buf_free(&b64);
}

static void function_config(const fr_sim_lambda *l, json_t **out)
{
    char arn[256];
    snprintf(arn, sizeof(arn), "arn:aws:lambda:%s:%s:function:%s", l->region, l->account, l->function);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s}", "FunctionName", l->function,
                     "FunctionArn", arn, "Runtime", "python3.12", "Role",
                     "arn:aws:iam::123456789012:role/app-job-submit-lambda-role", "Handler", "app.lambda_handler",
                     "Timeout", 60, "MemorySize", 256, "Version", "$LATEST", "State", "Active", "PackageType", "Zip");
}

static void op_invoke(fr_sim_lambda *l, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    char name[256], qual[64];
    if (function_name(c->function, name, sizeof(name), qual, sizeof(qual)) != 0 || strcmp(name, l->function) != 0) {
        fr_sim_error(c, r, 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:%s:%s:function:%s",
                     l->region, l->account, name);
        return;
    }
    if (c->qualifier[0] && !qual[0])
        fr_strlcpy(qual, c->qualifier, sizeof(qual));
    if (qual[0] && strcmp(qual, "$LATEST") != 0) {
        fr_sim_error(c, r, 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:%s:%s:function:%s:%s",
                     l->region, l->account, name, qual);
        return;
    }
    const char *itype = c->invocation_type[0] ? c->invocation_type : "RequestResponse";
    if (strcmp(itype, "RequestResponse") != 0 && strcmp(itype, "Event") != 0 && strcmp(itype, "DryRun") != 0) {
        fr_sim_error(c, r, 400, "InvalidParameterValueException", "Unsupported invocation type %s", itype);
        return;
    }
    json_t *payload = NULL;
    if (c->body_len) {
        json_error_t je;
        payload = json_loadb(c->body, c->body_len, JSON_DECODE_ANY, &je);
        if (!payload) {
            fr_sim_error(c, r, 400, "InvalidRequestContentException",
                         "Could not parse request body into json: Could not parse payload into json: %s", je.text);
            return;
        }
    } else {
        payload = json_object();
    }
    if (strcmp(itype, "DryRun") == 0) {
        json_decref(payload);
        fr_sim_resp_raw(r, 204, "application/json", "", 0);
        fr_sim_resp_header(r, "x-amzn-RequestId", c->request_id);
        return;
    }
    fr_sim_invocation *inv = new_invocation(l);
    if (!inv) {
        json_decref(payload);
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    fr_strlcpy(inv->request_id, c->request_id, sizeof(inv->request_id));
    fr_strlcpy(inv->invocation_type, itype, sizeof(inv->invocation_type));
    inv->payload = payload;
    inv->time_ms = now;
    inv->due_ms = now + (int64_t)(l->delay_s * 1000.0);
    bool queued = l->delay_s > 0;
    if (queued) {
        fr_strlcpy(inv->status, "queued", sizeof(inv->status));
    } else {
        run_invocation(l, inv, now);
    }
    fr_sim_resp_header(r, "x-amzn-RequestId", c->request_id);
    if (strcmp(itype, "Event") == 0) {
        fr_sim_resp_raw(r, 202, "application/json", "", 0);
        return;
    }
    fr_sim_resp_header(r, "X-Amz-Executed-Version", "$LATEST");
    json_t *answer;
    if (queued) {
        const char *fifo = NULL;
        json_t *b = json_object_get(payload, "body");
        json_t *bj = json_is_string(b) ? json_loads(json_string_value(b), 0, NULL) : NULL;
        fifo = fr_sim_jstr(bj, "fifo_key");
        json_t *rb = json_pack("{s:s, s:s, s:s}", "message", "Request queued", "request_id", inv->request_id,
                               "fifo_key", fifo ? fifo : "");
        char *rbs = json_dumps(rb, JSON_PRESERVE_ORDER);
        answer = json_pack("{s:i, s:s}", "statusCode", 202, "body", rbs ? rbs : "{}");
        free(rbs);
        json_decref(rb);
        json_decref(bj);
    } else {
        answer = json_incref(inv->result);
        if (strcmp(inv->status, "failed") == 0)
            fr_sim_resp_header(r, "X-Amz-Function-Error", "Unhandled");
    }
    if (fr_str_ieq(c->log_type, "Tail"))
        log_tail(r, inv);
    if (l->answer && !queued && strcmp(inv->status, "succeeded") == 0) {
        /* the function ran (and created its cluster); its answer is garbage */
        json_decref(answer);
        fr_sim_resp_raw(r, 200, "application/json", l->answer, strlen(l->answer));
        return;
    }
    char *s = json_dumps(answer, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(answer);
    fr_sim_resp_raw(r, 200, "application/json", s ? s : "null", s ? strlen(s) : 4);
    free(s);
}

void fr_sim_lambda_call(fr_sim_lambda *l, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    if (strcmp(c->op, "Invoke") == 0) {
        op_invoke(l, c, now, r);
    } else if (strcmp(c->op, "GetFunction") == 0) {
        char name[256], qual[64];
        if (function_name(c->function, name, sizeof(name), qual, sizeof(qual)) != 0 || strcmp(name, l->function)) {
            fr_sim_error(c, r, 404, "ResourceNotFoundException", "Function not found: %s", c->function);
            return;
        }
        json_t *cfg;
        function_config(l, &cfg);
        fr_sim_ok_json(c, r, json_pack("{s:o, s:{s:s, s:s}}", "Configuration", cfg, "Code", "RepositoryType", "S3",
                                       "Location", "https://awslambda-us-east-1-tasks.s3.amazonaws.com/snapshots/app.zip"));
    } else if (strcmp(c->op, "ListFunctions") == 0) {
        json_t *cfg;
        function_config(l, &cfg);
        fr_sim_ok_json(c, r, json_pack("{s:[o]}", "Functions", cfg));
    } else {
        fr_sim_error(c, r, 404, "UnknownOperationException", "Unknown operation %s", c->op);
    }
}

int64_t fr_sim_lambda_tick(fr_sim_lambda *l, int64_t now)
{
    int64_t next = -1;
    for (size_t i = 0; i < l->n; i++) {
        fr_sim_invocation *inv = &l->inv[i];
        if (strcmp(inv->status, "queued") != 0)
            continue;
        if (inv->due_ms <= now)
            run_invocation(l, inv, inv->due_ms);
        else if (next < 0 || inv->due_ms < next)
            next = inv->due_ms;
    }
    return next;
}

json_t *fr_sim_lambda_invocations_json(const fr_sim_lambda *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) {
        const fr_sim_invocation *inv = &l->inv[i];
        char t[40], d[40], rd[40];
        fr_time_iso8601(t, sizeof(t), inv->time_ms, 1);
        fr_time_iso8601(d, sizeof(d), inv->due_ms, 1);
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:O, s:s}", "request_id", inv->request_id, "time", t,
                              "time_ms", (json_int_t)inv->time_ms, "invocation_type", inv->invocation_type, "status",
                              inv->status, "payload", inv->payload, "due", d);
        if (inv->read_ms) {
            fr_time_iso8601(rd, sizeof(rd), inv->read_ms, 1);
            json_object_set_new(j, "read_at", json_string(rd));
            json_object_set_new(j, "read_at_ms", json_integer(inv->read_ms));
        }
        if (inv->cluster_name[0])
            json_object_set_new(j, "cluster_name", json_string(inv->cluster_name));
        if (inv->param_version)
            json_object_set_new(j, "param_version", json_integer(inv->param_version));
        if (inv->cluster_id[0])
            json_object_set_new(j, "cluster_id", json_string(inv->cluster_id));
        if (inv->result)
            json_object_set(j, "result", inv->result);
        json_array_append_new(a, j);
    }
    return a;
}
