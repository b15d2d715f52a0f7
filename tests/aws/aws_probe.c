/* aws-probe: runs a list of AWS operations through frugal's client on one
 * loop and prints each result as a JSON line. The Python integration tests
 * drive it against moto and local stand-ins.
 *
 *   aws-probe < script.json
 *   {"config": {"retry.initial": "10ms", ...},     fr_config_set keys
 *    "parallel": false,                              start all ops at once
 *    "close_after_ms": 0,                            close the client early
 *    "ops": [{"id": "a", "op": "sts.GetCallerIdentity"},
 *            {"op": "ssm.GetParameter", "args": {"name": "/x"}},
 *            {"op": "call", "args": {"service": "emr", "name": "ListClusters", "req": {}, "paginate": true}},
 *            {"op": "creds"}, {"op": "sleep", "ms": 100}, ...]}
 *
 * Output lines: {"id","op","ok","err","error","json","attempts","status",
 * "request_id","pages","payload","ms"}, then {"event":"done","loop_close":N}.
 * The exit status is 0 when the loop closed with no handle left open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/aws.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/metrics.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"

struct probe {
    uv_loop_t *loop;
    fr_http *http;
    fr_aws *aws;
    json_t *ops;
    size_t next;
    size_t running;
    bool parallel;
    uv_timer_t sleep_timer;
    uv_timer_t close_timer;
    int closing;
    int failures;
};

struct job {
    struct probe *p;
    json_t *spec;
    uint64_t t0;
    size_t pages_seen;
    fr_aws_op *op;
    uv_timer_t *cancel_timer;
};

static void run_next(struct probe *p);
static void start_close(struct probe *p);

static void print(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(j);
}

static const char *sarg(json_t *args, const char *k)
{
    return json_string_value(json_object_get(args, k));
}

static int64_t iarg(json_t *args, const char *k, int64_t def)
{
    json_t *v = json_object_get(args, k);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static json_t *oarg(json_t *args, const char *k)
{
    json_t *v = json_object_get(args, k);
    return v ? json_deep_copy(v) : NULL;
}

/* string arrays kept alive for the call */
struct strs {
    const char *v[64];
    size_t n;
};

static void sarr(json_t *args, const char *k, struct strs *s)
{
    s->n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(args, k), i, x)
    {
        if (s->n < 64 && json_is_string(x))
            s->v[s->n++] = json_string_value(x);
    }
}

static void job_free(struct job *j)
{
    json_decref(j->spec);
    free(j);
}

static void on_cancel_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void job_finished(struct job *j)
{
    struct probe *p = j->p;
    if (j->cancel_timer) {
        uv_timer_stop(j->cancel_timer);
        uv_close((uv_handle_t *)j->cancel_timer, on_cancel_timer_closed);
        j->cancel_timer = NULL;
    }
    job_free(j);
    p->running--;
    if (!p->parallel || p->next >= json_array_size(p->ops))
        run_next(p);
}

static void on_result(const fr_aws_result *res, void *arg)
{
    struct job *j = arg;
    json_t *out = json_object();
    json_t *id = json_object_get(j->spec, "id");
    if (id)
        json_object_set(out, "id", id);
    json_object_set(out, "op", json_object_get(j->spec, "op"));
    json_object_set_new(out, "ok", json_boolean(res->err == 0));
    json_object_set_new(out, "err", json_string(res->err ? fr_errname(res->err) : ""));
    if (res->error)
        json_object_set_new(out, "error", fr_aws_error_to_json(res->error));
    if (res->json)
        json_object_set(out, "json", res->json);
    if (res->body_len)
        json_object_set_new(out, "payload", json_stringn(res->body, res->body_len));
    json_object_set_new(out, "attempts", json_integer(res->attempts));
    json_object_set_new(out, "status", json_integer(res->http_status));
    json_object_set_new(out, "request_id", json_string(res->request_id ? res->request_id : ""));
    json_object_set_new(out, "pages", json_integer((json_int_t)res->page));
    json_object_set_new(out, "pages_seen", json_integer((json_int_t)j->pages_seen));
    json_object_set_new(out, "ms", json_real((double)(fr_time_mono_ns() - j->t0) / 1e6));
    print(out);
    job_finished(j);
}

static int on_page(const fr_aws_result *page, void *arg)
{
    struct job *j = arg;
    j->pages_seen++;
    int64_t stop = iarg(json_object_get(j->spec, "args"), "stop_after_pages", 0);
    return stop && (int64_t)j->pages_seen >= stop;
}

static void on_creds(void *arg, const fr_aws_creds *c, int err, const char *msg)
{
    struct job *j = arg;
    json_t *out = json_pack("{s:O, s:b}", "op", json_object_get(j->spec, "op"), "ok", c != NULL);
    if (c) {
        char masked[32];
        fr_aws_mask_key(c->access_key_id, masked, sizeof(masked));
        json_object_set_new(out, "source", json_string(c->source));
        json_object_set_new(out, "access_key_id", json_string(c->access_key_id));
        json_object_set_new(out, "masked", json_string(masked));
        json_object_set_new(out, "has_token", json_boolean(c->session_token != NULL));
        json_object_set_new(out, "expiration_ms", json_integer(c->expiration_ms));
    } else {
        json_object_set_new(out, "err", json_string(fr_errname(err)));
        json_object_set_new(out, "message", json_string(msg ? msg : ""));
    }
    fr_cred_stats st;
    fr_cred_stats_get(fr_aws_cred_provider(j->p->aws), &st);
    json_object_set_new(out, "fetches", json_integer((json_int_t)st.fetches));
    json_object_set_new(out, "failures", json_integer((json_int_t)st.failures));
    json_object_set_new(out, "next_refresh_ms", json_integer(st.next_refresh_ms));
    print(out);
    job_finished(j);
}

static void on_cancel_timer(uv_timer_t *t)
{
    struct job *j = t->data;
    fr_aws_cancel(j->op);
    print(json_pack("{s:O, s:b}", "op", json_object_get(j->spec, "op"), "cancelled", 1));
    job_finished(j);
}

static int start_op(struct job *j)
{
    struct probe *p = j->p;
    fr_aws *a = p->aws;
    const char *op = json_string_value(json_object_get(j->spec, "op"));
    json_t *args = json_object_get(j->spec, "args");
    struct strs s1, s2;
    fr_aws_op **o = &j->op;
    if (!op)
        return -EINVAL;
    if (strcmp(op, "creds") == 0) {
        const fr_aws_creds *now = NULL;
        fr_cred_wait *w;
        int rc = fr_cred_get(fr_aws_cred_provider(a), on_creds, j, &w, &now);
        if (rc == 1)
            on_creds(j, now, 0, NULL);
        else if (rc < 0) {
            fr_cred_stats st;
            fr_cred_stats_get(fr_aws_cred_provider(a), &st);
            on_creds(j, NULL, rc, st.last_error);
        }
        return 0;
    }
    if (strcmp(op, "call") == 0) {
        enum fr_aws_svc svc;
        if (fr_aws_service_by_name(sarg(args, "service"), &svc) != 0)
            return -EINVAL;
        fr_aws_call_opts co;
        memset(&co, 0, sizeof(co));
        co.max_attempts = (int)iarg(args, "max_attempts", 0);
        co.timeout_ms = (uint64_t)iarg(args, "timeout_ms", 0);
        co.unsigned_request = json_is_true(json_object_get(args, "unsigned"));
        co.no_accumulate = json_is_true(json_object_get(args, "no_accumulate"));
        co.max_pages = (size_t)iarg(args, "max_pages", 0);
        if (json_is_true(json_object_get(args, "paginate")))
            return fr_aws_paginate(a, svc, sarg(args, "name"), oarg(args, "req"), &co, on_page, on_result, j, o);
        return fr_aws_call(a, svc, sarg(args, "name"), oarg(args, "req"), &co, on_result, j, o);
    }
    /* EMR */
    if (strcmp(op, "emr.ListClusters") == 0) {
        sarr(args, "states", &s1);
        fr_aws_emr_list_clusters_in in = {s1.v, s1.n, iarg(args, "created_after_ms", 0),
                                          iarg(args, "created_before_ms", 0)};
        return fr_aws_emr_list_clusters(a, &in, on_page, on_result, j, o);
    }
    if (strcmp(op, "emr.DescribeCluster") == 0)
        return fr_aws_emr_describe_cluster(a, sarg(args, "cluster_id"), on_result, j, o);
    if (strcmp(op, "emr.ListInstanceFleets") == 0)
        return fr_aws_emr_list_instance_fleets(a, sarg(args, "cluster_id"), on_page, on_result, j, o);
    if (strcmp(op, "emr.ListInstanceGroups") == 0)
        return fr_aws_emr_list_instance_groups(a, sarg(args, "cluster_id"), on_page, on_result, j, o);
    if (strcmp(op, "emr.ListInstances") == 0) {
        sarr(args, "group_types", &s1);
        sarr(args, "states", &s2);
        return fr_aws_emr_list_instances(a, sarg(args, "cluster_id"), sarg(args, "fleet_type"), s1.v, s1.n, s2.v,
                                         s2.n, on_page, on_result, j, o);
    }
    if (strcmp(op, "emr.ListSteps") == 0) {
        sarr(args, "states", &s1);
        return fr_aws_emr_list_steps(a, sarg(args, "cluster_id"), s1.v, s1.n, on_page, on_result, j, o);
    }
    if (strcmp(op, "emr.AddJobFlowSteps") == 0)
        return fr_aws_emr_add_job_flow_steps(a, sarg(args, "cluster_id"), oarg(args, "steps"), on_result, j, o);
    if (strcmp(op, "emr.TerminateJobFlows") == 0) {
        sarr(args, "cluster_ids", &s1);
        return fr_aws_emr_terminate_job_flows(a, s1.v, s1.n, on_result, j, o);
    }
    /* CloudWatch */
    if (strcmp(op, "cw.GetMetricData") == 0)
        return fr_aws_cw_get_metric_data(a, json_object_get(args, "queries"), iarg(args, "start_ms", 0),
                                         iarg(args, "end_ms", 0), NULL, on_result, j, o);
    if (strcmp(op, "cw.GetMetricStatistics") == 0) {
        sarr(args, "statistics", &s1);
        fr_aws_cw_stats_in in = {
            .ns = sarg(args, "namespace"),
            .metric = sarg(args, "metric"),
            .dimensions = json_object_get(args, "dimensions"),
            .start_ms = iarg(args, "start_ms", 0),
            .end_ms = iarg(args, "end_ms", 0),
            .period_s = (int)iarg(args, "period", 60),
            .statistics = s1.v,
            .nstatistics = s1.n,
        };
        return fr_aws_cw_get_metric_statistics(a, &in, on_result, j, o);
    }
    /* SSM */
    if (strcmp(op, "ssm.GetParameter") == 0)
        return fr_aws_ssm_get_parameter(a, sarg(args, "name"), json_is_true(json_object_get(args, "with_decryption")),
                                        on_result, j, o);
    if (strcmp(op, "ssm.PutParameter") == 0) {
        fr_aws_ssm_put_in in = {sarg(args, "name"), sarg(args, "value"), sarg(args, "type"), sarg(args, "tier"),
                                sarg(args, "description"), json_is_true(json_object_get(args, "overwrite"))};
        return fr_aws_ssm_put_parameter(a, &in, on_result, j, o);
    }
    /* Lambda */
    if (strcmp(op, "lambda.Invoke") == 0) {
        const char *pl = sarg(args, "payload");
        fr_aws_lambda_invoke_in in = {
            .function = sarg(args, "function"),
            .payload = pl,
            .payload_len = pl ? strlen(pl) : 0,
            .invocation_type = sarg(args, "invocation_type"),
            .log_tail = json_is_true(json_object_get(args, "log_tail")),
            .qualifier = sarg(args, "qualifier"),
        };
        return fr_aws_lambda_invoke(a, &in, on_result, j, o);
    }
    /* EC2 */
    if (strcmp(op, "ec2.DescribeSpotPriceHistory") == 0) {
        json_t *req = oarg(args, "req");
        if (!req) {
            sarr(args, "types", &s1);
            req = fr_aws_ec2_spot_price_request(s1.v, s1.n, sarg(args, "product"), sarg(args, "az"),
                                                iarg(args, "start_ms", 0), iarg(args, "end_ms", 0));
        }
        return fr_aws_ec2_describe_spot_price_history(a, req, on_page, on_result, j, o);
    }
    if (strcmp(op, "ec2.DescribeInstances") == 0)
        return fr_aws_ec2_describe_instances(a, oarg(args, "req"), on_page, on_result, j, o);
    if (strcmp(op, "ec2.DescribeInstanceTypes") == 0)
        return fr_aws_ec2_describe_instance_types(a, oarg(args, "req"), on_page, on_result, j, o);
    if (strcmp(op, "ec2.DescribeSpotInstanceRequests") == 0)
        return fr_aws_ec2_describe_spot_instance_requests(a, oarg(args, "req"), on_page, on_result, j, o);
    if (strcmp(op, "ec2.DescribeAvailabilityZones") == 0)
        return fr_aws_ec2_describe_availability_zones(a, oarg(args, "req"), on_result, j, o);
    if (strcmp(op, "ec2.RunInstances") == 0) {
        json_t *req = oarg(args, "req");
        if (!req) {
            sarr(args, "security_group_ids", &s1);
            fr_aws_ec2_run_in in = {
                .image_id = sarg(args, "image_id"),
                .instance_type = sarg(args, "instance_type"),
                .count = (int)iarg(args, "count", 1),
                .spot = json_is_true(json_object_get(args, "spot")),
                .max_price = sarg(args, "max_price"),
                .subnet_id = sarg(args, "subnet_id"),
                .key_name = sarg(args, "key_name"),
                .security_group_ids = s1.v,
                .nsecurity_groups = s1.n,
                .tags = json_object_get(args, "tags"),
                .client_token = sarg(args, "client_token"),
                .dry_run = json_is_true(json_object_get(args, "dry_run")),
            };
            req = fr_aws_ec2_run_request(&in);
        }
        return fr_aws_ec2_run_instances(a, req, on_result, j, o);
    }
    if (strcmp(op, "ec2.TerminateInstances") == 0) {
        sarr(args, "ids", &s1);
        return fr_aws_ec2_terminate_instances(a, s1.v, s1.n, json_is_true(json_object_get(args, "dry_run")),
                                              on_result, j, o);
    }
    if (strcmp(op, "ec2.CreateTags") == 0) {
        sarr(args, "resources", &s1);
        return fr_aws_ec2_create_tags(a, s1.v, s1.n, json_object_get(args, "tags"),
                                      json_is_true(json_object_get(args, "dry_run")), on_result, j, o);
    }
    /* SQS */
    if (strcmp(op, "sqs.ReceiveMessage") == 0)
        return fr_aws_sqs_receive_message(a, sarg(args, "queue_url"), (int)iarg(args, "max", 1),
                                          (int)iarg(args, "wait_s", 0), (int)iarg(args, "visibility_s", -1),
                                          on_result, j, o);
    if (strcmp(op, "sqs.DeleteMessage") == 0)
        return fr_aws_sqs_delete_message(a, sarg(args, "queue_url"), sarg(args, "receipt_handle"), on_result, j, o);
    if (strcmp(op, "sqs.GetQueueUrl") == 0)
        return fr_aws_sqs_get_queue_url(a, sarg(args, "name"), sarg(args, "owner"), on_result, j, o);
    /* STS */
    if (strcmp(op, "sts.GetCallerIdentity") == 0)
        return fr_aws_sts_get_caller_identity(a, on_result, j, o);
    if (strcmp(op, "sts.AssumeRoleWithWebIdentity") == 0)
        return fr_aws_sts_assume_role_with_web_identity(a, sarg(args, "role_arn"), sarg(args, "session_name"),
                                                        sarg(args, "token"), (int)iarg(args, "duration_s", 0),
                                                        on_result, j, o);
    /* Pricing */
    if (strcmp(op, "pricing.GetProducts") == 0)
        return fr_aws_pricing_get_products(a, sarg(args, "service_code"), oarg(args, "filters"), on_page, on_result,
                                           j, o);
    return -ENOTSUP;
}

static void on_sleep(uv_timer_t *t)
{
    run_next(t->data);
}

static void run_next(struct probe *p)
{
    while (!p->closing && p->next < json_array_size(p->ops)) {
        json_t *spec = json_array_get(p->ops, p->next++);
        const char *op = json_string_value(json_object_get(spec, "op"));
        if (op && strcmp(op, "sleep") == 0) {
            uv_timer_start(&p->sleep_timer, on_sleep, (uint64_t)iarg(spec, "ms", 0), 0);
            return;
        }
        struct job *j = calloc(1, sizeof(*j));
        j->p = p;
        j->spec = json_incref(spec);
        j->t0 = fr_time_mono_ns();
        p->running++;
        int rc = start_op(j);
        if (rc) {
            json_t *out = json_pack("{s:O, s:b, s:s, s:b}", "op", json_object_get(spec, "op"), "ok", 0, "err",
                                    fr_errname(rc), "sync", 1);
            if (json_object_get(spec, "id"))
                json_object_set(out, "id", json_object_get(spec, "id"));
            print(out);
            p->running--;
            job_free(j);
            continue;
        }
        int64_t cancel_ms = iarg(spec, "cancel_after_ms", -1);
        if (cancel_ms >= 0 && j->op) {
            j->cancel_timer = malloc(sizeof(*j->cancel_timer));
            uv_timer_init(p->loop, j->cancel_timer);
            j->cancel_timer->data = j;
            uv_timer_start(j->cancel_timer, on_cancel_timer, (uint64_t)cancel_ms, 0);
        }
        if (!p->parallel)
            return;
    }
    if (p->running == 0 && p->next >= json_array_size(p->ops))
        start_close(p);
}

static void on_http_closed(void *arg)
{
    (void)arg;
}

static void on_aws_closed(void *arg)
{
    struct probe *p = arg;
    fr_http_close(p->http, on_http_closed, p);
}

static void start_close(struct probe *p)
{
    if (p->closing)
        return;
    p->closing = 1;
    uv_timer_stop(&p->sleep_timer);
    uv_timer_stop(&p->close_timer);
    uv_close((uv_handle_t *)&p->sleep_timer, NULL);
    uv_close((uv_handle_t *)&p->close_timer, NULL);
    fr_aws_close(p->aws, on_aws_closed, p);
}

static void on_close_timer(uv_timer_t *t)
{
    start_close(t->data);
}

static char *read_all(FILE *f)
{
    fr_buf b = FR_BUF_INIT;
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        fr_buf_append(&b, tmp, n);
    return fr_buf_steal(&b);
}

int main(int argc, char **argv)
{
    FILE *in = stdin;
    if (argc > 1 && !(in = fopen(argv[1], "r"))) {
        perror(argv[1]);
        return 2;
    }
    char *text = read_all(in);
    json_error_t je;
    json_t *script = json_loads(text, 0, &je);
    free(text);
    if (!script) {
        fprintf(stderr, "aws-probe: bad script: %s\n", je.text);
        return 2;
    }
    fr_log_set_output(stderr);
    const char *lvl = getenv("PROBE_LOG");
    fr_log_level ll = FR_LOG_WARN;
    if (lvl)
        fr_log_level_parse(lvl, &ll);
    fr_log_set_level(ll);
    fr_rand_init();
    fr_config cfg;
    fr_config_init(&cfg);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(script, "config"), k, v)
    {
        char err[256];
        char buf[64];
        const char *val = json_string_value(v);
        if (!val) {
            if (json_is_integer(v))
                snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else if (json_is_real(v))
                snprintf(buf, sizeof(buf), "%g", json_real_value(v));
            else
                snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
            val = buf;
        }
        if (fr_config_set(&cfg, k, val, err, sizeof(err)) != 0) {
            fprintf(stderr, "aws-probe: config %s: %s\n", k, err);
            return 2;
        }
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct probe p;
    memset(&p, 0, sizeof(p));
    p.loop = &loop;
    p.ops = json_object_get(script, "ops");
    p.parallel = json_is_true(json_object_get(script, "parallel"));
    fr_http_config hc;
    fr_http_config_defaults(&hc);
    hc.timeout_ms = cfg.http_timeout_ms;
    hc.connect_timeout_ms = cfg.http_connect_timeout_ms;
    hc.max_response = cfg.http_max_response;
    if (fr_http_new(&p.http, &loop, &hc) != 0)
        return 2;
    char err[512] = "";
    int rc = fr_aws_new(&p.aws, &loop, p.http, &cfg, NULL, err, sizeof(err));
    if (rc) {
        print(json_pack("{s:s, s:s, s:s}", "event", "new_failed", "err", fr_errname(rc), "message", err));
        fr_http_close(p.http, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        json_decref(script);
        fr_config_free(&cfg);
        return 3;
    }
    print(json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "event", "ready", "region", fr_aws_region(p.aws),
                    "region_source", fr_aws_region_source(p.aws), "sts", fr_aws_endpoint_of(p.aws, FR_SVC_STS)->url,
                    "pricing", fr_aws_endpoint_of(p.aws, FR_SVC_PRICING)->url, "max_attempts",
                    fr_aws_max_attempts(p.aws)));
    uv_timer_init(&loop, &p.sleep_timer);
    p.sleep_timer.data = &p;
    uv_timer_init(&loop, &p.close_timer);
    p.close_timer.data = &p;
    int64_t close_after = json_integer_value(json_object_get(script, "close_after_ms"));
    if (close_after > 0)
        uv_timer_start(&p.close_timer, on_close_timer, (uint64_t)close_after, 0);
    run_next(&p);
    uv_run(&loop, UV_RUN_DEFAULT);
    int lc = uv_loop_close(&loop);
    print(json_pack("{s:s, s:i}", "event", "done", "loop_close", lc));
    json_decref(script);
    fr_config_free(&cfg);
    fr_metrics_free();
    fr_rand_cleanup();
    return lc == 0 ? 0 : 4;
}
