/* frugal doctor: resolves credentials, region and endpoints the way frugald
 * will, asks STS who we are, then probes every permission frugal needs with
 * a read-only call (DryRun where EC2 offers it) and prints what works, what
 * is missing, and the IAM policy statements to add.
 *
 * The checks run at once on one loop through frugal's own AWS client; the
 * verdicts, table and policy are computed from plain data afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "frugal/aws.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"

extern char **environ;

enum status {
    ST_PENDING,
    ST_OK,         /* the call was allowed */
    ST_MISSING,    /* refused: the permission is missing */
    ST_NOT_FOUND,  /* allowed, but the resource frugal needs does not exist */
    ST_ERROR,      /* could not tell: network, throttling, unexpected answer */
    ST_UNVERIFIED, /* no read-only way to check it */
};

static const char *status_name(enum status s)
{
    static const char *const n[] = {"pending", "ok", "missing", "not_found", "error", "unverified"};
    return n[s];
}

struct check {
    const char *action;  /* IAM action */
    const char *purpose; /* why frugal needs it */
    enum fr_aws_svc svc;
    const char *op;
    int kind;            /* how to probe, see start_check */
    bool required;
    enum status status;
    char code[128];
    char message[256];
    char resource[300];  /* the IAM Resource for the policy statement */
    struct doctor *d;
    fr_aws_op *pending;
};

enum {
    K_STS,
    K_CALL,       /* any answer but access denied is fine */
    K_SSM_GET,    /* ParameterNotFound counts as allowed */
    K_LAMBDA_DRY, /* Invoke with InvocationType DryRun */
    K_EC2_DRY,    /* DryRun=true: DryRunOperation means allowed */
    K_SQS,        /* a queue that does not exist counts as allowed */
    K_PROBE_ID,   /* on a made-up cluster id: any refusal but access denied means allowed */
    K_NONE,       /* unverifiable without changing something */
};

struct doctor {
    uv_loop_t loop;
    fr_http *http;
    fr_aws *aws;
    fr_config cfg;
    bool json;
    uint64_t timeout_ms;
    uv_timer_t deadline;
    int running;
    int timed_out;
    /* results */
    int cred_err;
    char cred_msg[300];
    char cred_source[64];
    char cred_masked[32];
    int64_t cred_expiration;
    char account[32];
    char arn[300];
    char region[32];
    char region_source[32];
    fr_aws_endpoint eps[FR_SVC__COUNT];
    struct check *checks;
    size_t nchecks;
    fr_cred_wait *cwait;
};

#define PROBE_ID "i-0f00d00d00f00d00d"
#define PROBE_CLUSTER "j-FRUGALDOCTOR0"

/* ---- verdicts (pure) ---- */

static bool in_codes(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return true;
    return false;
}

/* The credentials themselves were refused: says nothing about permissions. */
static bool credential_problem(const char *code)
{
    static const char *const codes[] = {
        "InvalidClientTokenId",   "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure",
        "ExpiredToken",           "ExpiredTokenException",       "InvalidAccessKeyId",    "MissingAuthenticationToken",
        "IncompleteSignature",    "InvalidSignatureException",   "RequestExpired",
    };
    return in_codes(code, codes, FR_ARRAY_SIZE(codes));
}

static bool not_found_code(const char *code)
{
    static const char *const codes[] = {"ResourceNotFoundException", "ParameterNotFound",
                                        "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"};
    return in_codes(code, codes, FR_ARRAY_SIZE(codes));
}

static enum status verdict(const struct check *c, const fr_aws_result *res)
{
    if (!res->err)
        return ST_OK;
    const fr_aws_error *e = res->error;
    if (!e)
        return ST_ERROR;
    if (e->kind == FR_AWS_ERR_FUNCTION)
        return ST_OK; /* the function ran: invoking it is allowed */
    if (e->kind != FR_AWS_ERR_SERVICE)
        return ST_ERROR;
    if (fr_aws_is_access_denied_code(e->code))
        return ST_MISSING;
    if (credential_problem(e->code))
        return ST_ERROR;
    switch (c->kind) {
    case K_EC2_DRY:
        /* anything but DryRunOperation (say InvalidAMIID for the made-up
         * image) means EC2 validated before it authorised: cannot tell */
        return strcmp(e->code, "DryRunOperation") == 0 ? ST_OK : ST_ERROR;
    case K_SSM_GET:
        return strcmp(e->code, "ParameterNotFound") == 0 ? ST_OK : ST_ERROR;
    case K_SQS:
        return not_found_code(e->code) ? ST_OK : ST_ERROR;
    case K_LAMBDA_DRY:
        return strcmp(e->code, "ResourceNotFoundException") == 0 ? ST_NOT_FOUND : ST_ERROR;
    default:
        return ST_OK; /* refused for another reason than permissions */
    }
}

static const char *str_or(const json_t *v, const char *def)
{
    const char *s = json_string_value(v);
    return s ? s : def;
}

/* ---- running the checks (loop glue) ---- */

static void maybe_stop(struct doctor *d);

static void finish_check(struct check *c, enum status st, const fr_aws_result *res)
{
    struct doctor *d = c->d;
    c->pending = NULL;
    c->status = st;
    if (res && res->error) {
        fr_strlcpy(c->code, res->error->code, sizeof(c->code));
        fr_strlcpy(c->message, res->error->message, sizeof(c->message));
    }
    d->running--;
    maybe_stop(d);
}

static void on_check(const fr_aws_result *res, void *arg)
{
    struct check *c = arg;
    if (c->kind == K_STS && !res->err) {
        fr_strlcpy(c->d->account, str_or(json_object_get(res->json, "Account"), ""), sizeof(c->d->account));
        fr_strlcpy(c->d->arn, str_or(json_object_get(res->json, "Arn"), ""), sizeof(c->d->arn));
    }
    finish_check(c, verdict(c, res), res);
}

static void start_check(struct doctor *d, struct check *c)
{
    fr_aws *a = d->aws;
    fr_aws_call_opts o;
    memset(&o, 0, sizeof(o));
    o.max_attempts = 2;
    json_t *req = NULL;
    int rc;
    c->d = d;
    switch (c->kind) {
    case K_NONE:
        c->status = ST_UNVERIFIED;
        snprintf(c->message, sizeof(c->message), "no read-only call can check this");
        return;
    case K_STS:
        rc = fr_aws_call(a, c->svc, c->op, NULL, &o, on_check, c, &c->pending);
        break;
    case K_SSM_GET: {
        fr_buf name = FR_BUF_INIT;
        fr_buf_printf(&name, "%sfrugal-doctor-probe", d->cfg.emr_param_prefix);
        req = json_pack("{s:s}", "Name", fr_buf_cstr(&name));
        fr_buf_free(&name);
        rc = fr_aws_call(a, c->svc, c->op, req, &o, on_check, c, &c->pending);
        break;
    }
    case K_LAMBDA_DRY:
        /* a DryRun validates the request and the permission, runs nothing */
        req = json_pack("{s:s, s:s, s:s}", "FunctionName", d->cfg.emr_lambda_function, "InvocationType", "DryRun",
                        "Payload", "{}");
        rc = fr_aws_call(a, c->svc, c->op, req, &o, on_check, c, &c->pending);
        break;
    case K_SQS:
        req = json_pack("{s:s}", "QueueName", "frugal-doctor-probe");
        rc = fr_aws_call(a, c->svc, c->op, req, &o, on_check, c, &c->pending);
        break;
    case K_PROBE_ID:
        req = json_pack("{s:s}", "ClusterId", PROBE_CLUSTER);
        rc = fr_aws_call(a, c->svc, c->op, req, &o, on_check, c, &c->pending);
        break;
    case K_EC2_DRY:
        req = json_pack("{s:b}", "DryRun", 1);
        if (strcmp(c->op, "DescribeSpotPriceHistory") == 0 || strcmp(c->op, "DescribeInstances") == 0 ||
            strcmp(c->op, "DescribeInstanceTypes") == 0 || strcmp(c->op, "DescribeSpotInstanceRequests") == 0)
            json_object_set_new(req, "MaxResults", json_integer(5));
        if (strcmp(c->op, "TerminateInstances") == 0)
            json_object_set_new(req, "InstanceId", json_pack("[s]", PROBE_ID));
        if (strcmp(c->op, "CreateTags") == 0) {
            json_object_set_new(req, "ResourceId", json_pack("[s]", PROBE_ID));
            json_object_set_new(req, "Tag", json_pack("[{s:s, s:s}]", "Key", "frugal:doctor", "Value", "probe"));
        }
        if (strcmp(c->op, "RunInstances") == 0) {
            json_object_set_new(req, "ImageId", json_string("ami-0f00d00d00f00d00d"));
            json_object_set_new(req, "InstanceType", json_string("t3.micro"));
            json_object_set_new(req, "MinCount", json_integer(1));
            json_object_set_new(req, "MaxCount", json_integer(1));
        }
        rc = fr_aws_call(a, c->svc, c->op, req, &o, on_check, c, &c->pending);
        break;
    case K_CALL:
    default:
        if (c->svc == FR_SVC_CLOUDWATCH) {
            int64_t now = fr_time_now_ms() / 60000 * 60000;
            req = json_pack("{s:[{s:s, s:{s:{s:s, s:s}, s:i, s:s}}], s:I, s:I}", "MetricDataQueries", "Id", "doctor",
                            "MetricStat", "Metric", "Namespace", "AWS/EC2", "MetricName", "CPUUtilization", "Period",
                            300, "Stat", "Average", "StartTime", (json_int_t)(now / 1000 - 600), "EndTime",
                            (json_int_t)(now / 1000));
        } else if (c->svc == FR_SVC_PRICING) {
            req = json_pack("{s:s, s:s, s:i}", "ServiceCode", "AmazonEC2", "FormatVersion", "aws_v1", "MaxResults", 1);
        } else if (c->svc == FR_SVC_EMR) {
            req = json_pack("{s:[s]}", "ClusterStates", "TERMINATED");
        } else if (strcmp(c->op, "GetMetricStatistics") == 0) {
            int64_t now = fr_time_now_ms() / 60000 * 60000;
            req = json_pack("{s:s, s:s, s:I, s:I, s:i, s:[s]}", "Namespace", "AWS/EC2", "MetricName",
                            "CPUUtilization", "StartTime", (json_int_t)(now / 1000 - 600), "EndTime",
                            (json_int_t)(now / 1000), "Period", 300, "Statistics", "Average");
        }
        rc = fr_aws_call(a, c->svc, c->op, req, &o, on_check, c, &c->pending);
        break;
    }
    if (rc) {
        c->status = ST_ERROR;
        snprintf(c->message, sizeof(c->message), "could not start: %s", fr_strerror(rc));
        return;
    }
    d->running++;
}

static void on_creds(void *arg, const fr_aws_creds *c, int err, const char *msg)
{
    struct doctor *d = arg;
    d->cwait = NULL;
    d->running--;
    if (!c) {
        d->cred_err = err ? err : FR_ECRED;
        fr_strlcpy(d->cred_msg, msg ? msg : "no usable AWS credentials", sizeof(d->cred_msg));
        for (size_t i = 0; i < d->nchecks; i++) {
            d->checks[i].status = d->checks[i].kind == K_NONE ? ST_UNVERIFIED : ST_ERROR;
            snprintf(d->checks[i].message, sizeof(d->checks[i].message), "no credentials");
        }
        maybe_stop(d);
        return;
    }
    fr_strlcpy(d->cred_source, c->source, sizeof(d->cred_source));
    fr_aws_mask_key(c->access_key_id, d->cred_masked, sizeof(d->cred_masked));
    d->cred_expiration = c->expiration_ms;
    for (size_t i = 0; i < d->nchecks; i++)
        start_check(d, &d->checks[i]);
    maybe_stop(d);
}

static void on_aws_closed(void *arg)
{
    struct doctor *d = arg;
    fr_http_close(d->http, NULL, NULL);
}

static void stop_all(struct doctor *d)
{
    uv_timer_stop(&d->deadline);
    if (!uv_is_closing((uv_handle_t *)&d->deadline))
        uv_close((uv_handle_t *)&d->deadline, NULL);
    if (d->cwait) {
        fr_cred_cancel(d->cwait);
        d->cwait = NULL;
    }
    for (size_t i = 0; i < d->nchecks; i++) {
        if (d->checks[i].pending) {
            fr_aws_cancel(d->checks[i].pending);
            d->checks[i].pending = NULL;
            d->checks[i].status = ST_ERROR;
            snprintf(d->checks[i].message, sizeof(d->checks[i].message), "no answer within %llu s",
                     (unsigned long long)(d->timeout_ms / 1000));
        }
    }
    if (d->aws) {
        fr_aws *a = d->aws;
        d->aws = NULL;
        fr_aws_close(a, on_aws_closed, d);
    }
}

static void maybe_stop(struct doctor *d)
{
    if (d->running == 0)
        stop_all(d);
}

static void on_deadline(uv_timer_t *t)
{
    struct doctor *d = t->data;
    d->timed_out = 1;
    if (d->cwait && !d->cred_source[0]) {
        d->cred_err = FR_ECRED;
        snprintf(d->cred_msg, sizeof(d->cred_msg), "credentials not resolved within %llu s",
                 (unsigned long long)(d->timeout_ms / 1000));
    }
    stop_all(d);
}

/* ---- the checks frugal needs ---- */

static const struct check check_table[] = {
    {"sts:GetCallerIdentity", "who am I (always allowed)", FR_SVC_STS, "GetCallerIdentity", K_STS, true},
    {"elasticmapreduce:ListClusters", "EMR agent: find transient clusters", FR_SVC_EMR, "ListClusters", K_CALL, true},
    {"elasticmapreduce:DescribeCluster", "EMR agent: cluster details", FR_SVC_EMR, "DescribeCluster", K_PROBE_ID,
     true},
    {"elasticmapreduce:ListInstanceFleets", "EMR agent: fleets", FR_SVC_EMR, "ListInstanceFleets", K_PROBE_ID, true},
    {"elasticmapreduce:ListInstanceGroups", "EMR agent: groups", FR_SVC_EMR, "ListInstanceGroups", K_PROBE_ID, true},
    {"elasticmapreduce:ListInstances", "EMR agent: node ids for metrics", FR_SVC_EMR, "ListInstances", K_PROBE_ID,
     true},
    {"elasticmapreduce:ListSteps", "EMR agent: steps to replay", FR_SVC_EMR, "ListSteps", K_PROBE_ID, true},
    {"elasticmapreduce:AddJobFlowSteps", "EMR agent: replay steps on the test cluster", FR_SVC_EMR, NULL, K_NONE,
     true},
    {"elasticmapreduce:PutAutoTerminationPolicy", "EMR agent: idle timeout on the test cluster", FR_SVC_EMR, NULL,
     K_NONE, true},
    {"elasticmapreduce:TerminateJobFlows", "EMR agent: terminate the test cluster", FR_SVC_EMR, NULL, K_NONE, true},
    {"cloudwatch:GetMetricData", "EMR agent: node utilisation", FR_SVC_CLOUDWATCH, "GetMetricData", K_CALL, true},
    {"cloudwatch:GetMetricStatistics", "EMR agent: fallback metrics", FR_SVC_CLOUDWATCH, "GetMetricStatistics",
     K_CALL, true},
    {"ssm:GetParameter", "EMR agent: read the cluster config", FR_SVC_SSM, "GetParameter", K_SSM_GET, true},
    {"ssm:PutParameter", "EMR agent: rewrite and revert the config", FR_SVC_SSM, NULL, K_NONE, true},
    {"lambda:InvokeFunction", "EMR agent: the cluster-submit Lambda", FR_SVC_LAMBDA, "Invoke", K_LAMBDA_DRY, true},
    {"ec2:DescribeSpotPriceHistory", "spot optimizer: prices", FR_SVC_EC2, "DescribeSpotPriceHistory", K_EC2_DRY,
     true},
    {"ec2:DescribeInstances", "spot optimizer: managed instances", FR_SVC_EC2, "DescribeInstances", K_EC2_DRY, true},
    {"ec2:DescribeInstanceTypes", "spot optimizer: instance catalog", FR_SVC_EC2, "DescribeInstanceTypes", K_EC2_DRY,
     true},
    {"ec2:DescribeAvailabilityZones", "spot optimizer: pools", FR_SVC_EC2, "DescribeAvailabilityZones", K_EC2_DRY,
     true},
    {"ec2:DescribeSpotInstanceRequests", "spot optimizer: spot requests", FR_SVC_EC2, "DescribeSpotInstanceRequests",
     K_EC2_DRY, true},
    {"ec2:RunInstances", "spot optimizer: switch and fall back", FR_SVC_EC2, "RunInstances", K_EC2_DRY, true},
    {"ec2:TerminateInstances", "spot optimizer: drain old instances", FR_SVC_EC2, "TerminateInstances", K_EC2_DRY,
     true},
    {"ec2:CreateTags", "spot optimizer: tag what it manages", FR_SVC_EC2, "CreateTags", K_EC2_DRY, true},
    {"sqs:GetQueueUrl", "interruption events queue", FR_SVC_SQS, "GetQueueUrl", K_SQS, false},
    {"sqs:ReceiveMessage", "interruption events", FR_SVC_SQS, NULL, K_NONE, false},
    {"sqs:DeleteMessage", "interruption events", FR_SVC_SQS, NULL, K_NONE, false},
    {"pricing:GetProducts", "on-demand prices", FR_SVC_PRICING, "GetProducts", K_CALL, false},
};

static void fill_resources(struct doctor *d)
{
    const char *acct = d->account[0] ? d->account : "*";
    for (size_t i = 0; i < d->nchecks; i++) {
        struct check *c = &d->checks[i];
        if (fr_str_startswith(c->action, "ssm:")) {
            const char *pfx = d->cfg.emr_param_prefix ? d->cfg.emr_param_prefix : "/";
            snprintf(c->resource, sizeof(c->resource), "arn:aws:ssm:*:%s:parameter%s%s*", acct,
                     pfx[0] == '/' ? "" : "/", pfx);
        } else if (fr_str_startswith(c->action, "lambda:")) {
            snprintf(c->resource, sizeof(c->resource), "arn:aws:lambda:*:%s:function:%s", acct,
                     d->cfg.emr_lambda_function);
        } else {
            fr_strlcpy(c->resource, "*", sizeof(c->resource));
        }
    }
}

/* The statements that would grant what is missing (and what could not be
 * verified, when unverified is set), one per resource. */
static json_t *policy_for(const struct doctor *d, bool include_unverified)
{
    json_t *stmts = json_array();
    for (size_t i = 0; i < d->nchecks; i++) {
        const struct check *c = &d->checks[i];
        bool want = c->status == ST_MISSING || (include_unverified && c->status == ST_UNVERIFIED);
        if (!want || strcmp(c->action, "sts:GetCallerIdentity") == 0)
            continue;
        json_t *st = NULL;
        size_t j;
        json_t *s;
        json_array_foreach(stmts, j, s)
        {
            if (strcmp(json_string_value(json_object_get(s, "Resource")), c->resource) == 0)
                st = s;
        }
        if (!st) {
            st = json_pack("{s:s, s:[], s:s}", "Effect", "Allow", "Action", "Resource", c->resource);
            json_array_append_new(stmts, st);
        }
        json_array_append_new(json_object_get(st, "Action"), json_string(c->action));
    }
    return json_pack("{s:s, s:o}", "Version", "2012-10-17", "Statement", stmts);
}

static bool all_required_ok(const struct doctor *d)
{
    if (d->cred_err)
        return false;
    for (size_t i = 0; i < d->nchecks; i++) {
        const struct check *c = &d->checks[i];
        if (c->required && c->status != ST_OK && c->status != ST_UNVERIFIED)
            return false;
    }
    return true;
}

static json_t *report_json(const struct doctor *d)
{
    char exp[40] = "never";
    if (d->cred_expiration)
        fr_time_iso8601(exp, sizeof(exp), d->cred_expiration, 0);
    json_t *creds = d->cred_err ? json_pack("{s:b, s:s}", "ok", 0, "error", d->cred_msg)
                                : json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "source", d->cred_source,
                                            "access_key_id", d->cred_masked, "expiration", exp);
    json_t *eps = json_object();
    for (int s = 0; s < FR_SVC__COUNT; s++) {
        const fr_aws_endpoint *ep = &d->eps[s];
        json_object_set_new(eps, fr_svc_name((enum fr_aws_svc)s),
                            json_pack("{s:s, s:s, s:s}", "url", ep->url, "source", ep->source ? ep->source : "",
                                      "signing_region", ep->signing_region));
    }
    json_t *checks = json_array();
    for (size_t i = 0; i < d->nchecks; i++) {
        const struct check *c = &d->checks[i];
        json_array_append_new(checks, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "action", c->action, "status",
                                                status_name(c->status), "purpose", c->purpose, "required",
                                                c->required, "code", c->code, "message", c->message, "resource",
                                                c->resource));
    }
    return json_pack("{s:b, s:o, s:{s:s, s:s}, s:{s:s, s:s}, s:o, s:o, s:o, s:o}", "ok", all_required_ok(d),
                     "credentials", creds, "region", "name", d->region, "source", d->region_source, "identity",
                     "account", d->account, "arn", d->arn, "endpoints", eps, "checks", checks, "missing_policy",
                     policy_for(d, false), "unverified_policy", policy_for(d, true));
}

static void print_text(const struct doctor *d)
{
    printf("frugal doctor\n\n");
    if (d->cred_err) {
        printf("Credentials  MISSING: %s\n", d->cred_msg);
    } else {
        char exp[40] = "never";
        if (d->cred_expiration)
            fr_time_iso8601(exp, sizeof(exp), d->cred_expiration, 0);
        printf("Credentials  %s  %s  (expires %s)\n", d->cred_source, d->cred_masked, exp);
    }
    printf("Region       %s  (%s)\n", d->region, d->region_source);
    if (d->arn[0])
        printf("Identity     %s  (account %s)\n", d->arn, d->account);
    printf("\nEndpoints\n");
    for (int s = 0; s < FR_SVC__COUNT; s++)
        printf("  %-11s %-55s %s\n", fr_svc_name((enum fr_aws_svc)s), d->eps[s].url,
               d->eps[s].source ? d->eps[s].source : "");
    printf("\nPermissions\n  %-10s %-38s %s\n", "STATUS", "ACTION", "DETAIL");
    int missing = 0, unverified = 0;
    for (size_t i = 0; i < d->nchecks; i++) {
        const struct check *c = &d->checks[i];
        const char *st = c->status == ST_OK ? "ok" : c->status == ST_MISSING ? "MISSING" : c->status == ST_NOT_FOUND
                                                                                             ? "NOT FOUND"
                                                     : c->status == ST_ERROR ? "ERROR"
                                                                             : "unverified";
        char detail[400];
        if (c->status == ST_OK || c->status == ST_UNVERIFIED)
            snprintf(detail, sizeof(detail), "%s%s", c->purpose, c->required ? "" : " (optional)");
        else
            snprintf(detail, sizeof(detail), "%s%s%s", c->code, c->code[0] ? ": " : "", c->message);
        printf("  %-10s %-38s %s\n", st, c->action, detail);
        missing += c->status == ST_MISSING;
        unverified += c->status == ST_UNVERIFIED;
    }
    if (missing) {
        json_t *p = policy_for(d, false);
        char *s = json_dumps(p, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\nAdd to the IAM policy of %s:\n%s\n", d->arn[0] ? d->arn : "this identity", s);
        free(s);
        json_decref(p);
    }
    if (unverified)
        printf("\n%d permission%s cannot be checked without changing something; deploy/iam-policy.json lists "
               "them all.\n",
               unverified, unverified == 1 ? "" : "s");
    printf("\n%s\n", all_required_ok(d) ? "Everything frugal needs answered."
                                        : "Something frugal needs is missing or did not answer (see above).");
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--json] [--config FILE] [--timeout SECONDS]\n"
            "  Resolves AWS credentials, region and endpoints as frugald does (config file\n"
            "  from --config or FRUGAL_CONFIG,"
            " FRUGAL_* and AWS_* environment), calls STS GetCallerIdentity and checks each\n"
            "  permission frugal needs with read-only calls. Exit status: 0 all required\n"
            "  permissions answered, 1 something is missing, 2 usage or configuration error.\n",
            prog);
}

int fr_cli_doctor(int argc, char **argv, const char *prog)
{
    struct doctor d;
    memset(&d, 0, sizeof(d));
    d.timeout_ms = 30000;
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            d.json = true;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            uint64_t ms;
            if (fr_parse_duration_ms(argv[++i], &ms) != 0 || ms == 0) {
                fprintf(stderr, "%s: bad --timeout %s\n", prog, argv[i]);
                return 2;
            }
            d.timeout_ms = ms;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, prog);
            return 0;
        } else {
            usage(stderr, prog);
            return 2;
        }
    }
    fr_log_set_output(stderr);
    fr_log_set_level(FR_LOG_WARN);
    fr_config_init(&d.cfg);
    char err[512] = "";
    int rc = 0;
    if (!config_path) {
        const char *fc = getenv("FRUGAL_CONFIG");
        config_path = fc && *fc ? fc : NULL;
    }
    if (config_path)
        rc = fr_config_load_file(&d.cfg, config_path, err, sizeof(err));
    /* the CLI's own FRUGAL_TOKEN_FILE is not a daemon setting */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envl = calloc(nenv + 1, sizeof(*envl));
    size_t k = 0;
    for (size_t i = 0; envl && i < nenv; i++)
        if (!fr_str_startswith(environ[i], "FRUGAL_TOKEN_FILE="))
            envl[k++] = environ[i];
    if (!rc)
        rc = envl ? fr_config_apply_env(&d.cfg, fr_aws_process_env, NULL, envl, err, sizeof(err)) : -ENOMEM;
    free(envl);
    if (!rc)
        rc = fr_config_validate(&d.cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "%s: configuration: %s\n", prog, err);
        fr_config_free(&d.cfg);
        return 2;
    }
    fr_rand_init();
    uv_loop_init(&d.loop);
    fr_http_config hc;
    fr_http_config_defaults(&hc);
    hc.timeout_ms = FR_MIN(d.cfg.http_timeout_ms, d.timeout_ms);
    hc.connect_timeout_ms = d.cfg.http_connect_timeout_ms;
    d.cfg.http_timeout_ms = hc.timeout_ms;
    d.cfg.retry_initial_ms = FR_MIN(d.cfg.retry_initial_ms, (uint64_t)200);
    d.cfg.retry_max_ms = FR_MAX(FR_MIN(d.cfg.retry_max_ms, (uint64_t)1000), d.cfg.retry_initial_ms);
    int exit_code = 2;
    if ((rc = fr_http_new(&d.http, &d.loop, &hc)) != 0) {
        fprintf(stderr, "%s: http client: %s\n", prog, fr_strerror(rc));
        goto out;
    }
    if ((rc = fr_aws_new(&d.aws, &d.loop, d.http, &d.cfg, NULL, err, sizeof(err))) != 0) {
        if (d.json) {
            json_t *j = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", err, "err", fr_errname(rc));
            char *s = json_dumps(j, JSON_INDENT(2));
            printf("%s\n", s);
            free(s);
            json_decref(j);
        } else {
            fprintf(stderr, "%s: %s\n", prog, err);
        }
        fr_http_close(d.http, NULL, NULL);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        goto out;
    }
    fr_strlcpy(d.region, fr_aws_region(d.aws), sizeof(d.region));
    fr_strlcpy(d.region_source, fr_aws_region_source(d.aws), sizeof(d.region_source));
    for (int s = 0; s < FR_SVC__COUNT; s++)
        d.eps[s] = *fr_aws_endpoint_of(d.aws, (enum fr_aws_svc)s);
    d.nchecks = FR_ARRAY_SIZE(check_table);
    d.checks = calloc(d.nchecks, sizeof(*d.checks));
    memcpy(d.checks, check_table, sizeof(check_table));
    for (size_t i = 0; i < d.nchecks; i++)
        d.checks[i].d = &d;
    uv_timer_init(&d.loop, &d.deadline);
    d.deadline.data = &d;
    uv_timer_start(&d.deadline, on_deadline, d.timeout_ms, 0);
    const fr_aws_creds *now = NULL;
    d.running = 1;
    rc = fr_cred_get(fr_aws_cred_provider(d.aws), on_creds, &d, &d.cwait, &now);
    if (rc == 1) {
        on_creds(&d, now, 0, NULL);
    } else if (rc < 0) {
        fr_cred_stats st;
        fr_cred_stats_get(fr_aws_cred_provider(d.aws), &st);
        on_creds(&d, NULL, rc, st.last_error);
    }
    uv_run(&d.loop, UV_RUN_DEFAULT);
    fill_resources(&d);
    if (d.json) {
        json_t *j = report_json(&d);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        print_text(&d);
    }
    exit_code = all_required_ok(&d) ? 0 : 1;
out:
    if (uv_loop_close(&d.loop) != 0)
        fprintf(stderr, "%s: warning: a handle was left open\n", prog);
    free(d.checks);
    fr_config_free(&d.cfg);
    return exit_code;
}
