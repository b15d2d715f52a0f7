/* CloudWatch operations: GetMetricData in batches of 500 queries, each
 * batch a pager over NextToken, merged per Id; GetMetricStatistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/str.h"
#include "internal.h"

struct cw_child {
    struct cw_batch *b;
    fr_aws_op *op;
};

struct cw_batch {
    fr_aws_op base;
    json_t *queries;
    json_t *acc;
    json_t *messages;
    struct cw_child *children;
    size_t nchildren;
    size_t left;
    int attempts;
    fr_aws_cb cb;
    void *arg;
};

static void batch_free(struct cw_batch *b)
{
    json_decref(b->queries);
    json_decref(b->acc);
    json_decref(b->messages);
    free(b->children);
    free(b);
}

static void stop_children(struct cw_batch *b)
{
    for (size_t i = 0; i < b->nchildren; i++) {
        if (b->children[i].op) {
            fr_aws_op *op = b->children[i].op;
            b->children[i].op = NULL;
            op->cancel(op);
        }
    }
}

static void batch_cancel(fr_aws_op *op)
{
    struct cw_batch *b = (struct cw_batch *)op;
    stop_children(b);
    fr_aws__unlink(op);
    batch_free(b);
}

static void deliver(struct cw_batch *b, const fr_aws_result *last, const fr_aws_error *e)
{
    fr_aws__unlink(&b->base);
    fr_aws_result res;
    memset(&res, 0, sizeof(res));
    json_t *j = fr_aws_cw_merged_result(b->queries, b->acc, b->messages);
    res.json = j;
    res.attempts = b->attempts;
    res.request_id = last && last->request_id ? last->request_id : "";
    res.http_status = last ? last->http_status : 0;
    res.body = "";
    if (e) {
        res.err = e->err;
        res.error = e;
    }
    b->cb(&res, b->arg);
    json_decref(j);
    batch_free(b);
}

static void batch_abort(fr_aws_op *op, int err)
{
    struct cw_batch *b = (struct cw_batch *)op;
    stop_children(b);
    fr_aws_error e;
    memset(&e, 0, sizeof(e));
    fr_aws_error_set(&e, FR_AWS_ERR_TRANSPORT, err, fr_errname(err), "the AWS client is closing");
    deliver(b, NULL, &e);
}

static int on_page(const fr_aws_result *page, void *arg)
{
    struct cw_child *ch = arg;
    fr_aws_cw_merge_page(ch->b->acc, ch->b->messages, page->json);
    return 0;
}

static void on_child_done(const fr_aws_result *res, void *arg)
{
    struct cw_child *ch = arg;
    struct cw_batch *b = ch->b;
    ch->op = NULL;
    b->attempts += res->attempts;
    if (res->err) {
        stop_children(b);
        deliver(b, res, res->error);
        return;
    }
    if (--b->left == 0)
        deliver(b, res, NULL);
}

static json_t *epoch_seconds(int64_t ms)
{
    if (ms % 1000 == 0)
        return json_integer(ms / 1000);
    return json_real((double)ms / 1000.0);
}

int fr_aws_cw_get_metric_data(fr_aws *a, const json_t *queries, int64_t start_ms, int64_t end_ms,
                              const fr_aws_cw_opts *o, fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    if (out)
        *out = NULL;
    if (!a || !cb)
        return -EINVAL;
    if (a->closing)
        return -ECANCELED;
    char why[200];
    if (fr_aws_cw_check_queries(queries, why, sizeof(why)) != 0 || end_ms <= start_ms) {
        fr_log_warn("aws.call.invalid", "{s:s, s:s, s:s}", "service", "cloudwatch", "op", "GetMetricData", "error",
                    end_ms <= start_ms ? "end must be after start" : why);
        return -EINVAL;
    }
    struct cw_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->base.aws = a;
    b->base.cancel = batch_cancel;
    b->base.abort = batch_abort;
    b->queries = json_deep_copy(queries);
    b->acc = json_object();
    b->messages = json_array();
    b->cb = cb;
    b->arg = arg;
    json_t *batches = fr_aws_cw_batches(b->queries, 500);
    b->nchildren = json_array_size(batches);
    b->children = calloc(b->nchildren, sizeof(*b->children));
    if (!b->children) {
        json_decref(batches);
        batch_free(b);
        return -ENOMEM;
    }
    fr_aws_call_opts co;
    memset(&co, 0, sizeof(co));
    co.no_accumulate = true;
    int rc = 0;
    for (size_t i = 0; i < b->nchildren && rc == 0; i++) {
        json_t *req = json_object();
        json_object_set(req, "MetricDataQueries", json_array_get(batches, i));
        json_object_set_new(req, "StartTime", epoch_seconds(start_ms));
        json_object_set_new(req, "EndTime", epoch_seconds(end_ms));
        if (o && o->scan_by)
            json_object_set_new(req, "ScanBy", json_string(o->scan_by));
        if (o && o->max_datapoints > 0)
            json_object_set_new(req, "MaxDatapoints", json_integer(o->max_datapoints));
        if (o && o->label_timezone)
            json_object_set_new(req, "LabelOptions", json_pack("{s:s}", "Timezone", o->label_timezone));
        b->children[i].b = b;
        rc = fr_aws__paginate(a, FR_SVC_CLOUDWATCH, "GetMetricData", req, &co, on_page, on_child_done,
                              &b->children[i], false, &b->children[i].op);
        if (rc == 0)
            b->left++;
    }
    json_decref(batches);
    if (rc) {
        stop_children(b);
        batch_free(b);
        return rc;
    }
    fr_aws__link(a, &b->base);
    if (out)
        *out = &b->base;
    return 0;
}

int fr_aws_cw_get_metric_statistics(fr_aws *a, const fr_aws_cw_stats_in *in, fr_aws_cb cb, void *arg,
                                    fr_aws_op **out)
{
    if (!in || !in->ns || !in->metric || in->period_s <= 0 || in->end_ms <= in->start_ms ||
        (in->nstatistics == 0 && in->nextended == 0))
        return -EINVAL;
    json_t *req = json_pack("{s:s, s:s}", "Namespace", in->ns, "MetricName", in->metric);
    if (in->dimensions)
        json_object_set_new(req, "Dimensions", json_deep_copy(in->dimensions));
    json_object_set_new(req, "StartTime", epoch_seconds(in->start_ms));
    json_object_set_new(req, "EndTime", epoch_seconds(in->end_ms));
    json_object_set_new(req, "Period", json_integer(in->period_s));
    if (in->nstatistics) {
        json_t *st = json_array();
        for (size_t i = 0; i < in->nstatistics; i++)
            json_array_append_new(st, json_string(in->statistics[i]));
        json_object_set_new(req, "Statistics", st);
    }
    if (in->nextended) {
        json_t *st = json_array();
        for (size_t i = 0; i < in->nextended; i++)
            json_array_append_new(st, json_string(in->extended[i]));
        json_object_set_new(req, "ExtendedStatistics", st);
    }
    if (in->unit)
        json_object_set_new(req, "Unit", json_string(in->unit));
    return fr_aws_call(a, FR_SVC_CLOUDWATCH, "GetMetricStatistics", req, NULL, cb, arg, out);
}
