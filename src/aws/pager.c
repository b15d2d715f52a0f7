/* The async pager: calls an operation until its answer carries no more
 * Marker/NextToken, one page at a time. */
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "internal.h"

#define DEFAULT_MAX_PAGES 10000

struct page_rule {
    enum fr_aws_svc svc;
    const char *op;
    const char *in_token;
    const char *out_token;
    const char *list_key;
};

static const struct page_rule rules[] = {
    {FR_SVC_EMR, "ListClusters", "Marker", "Marker", "Clusters"},
    {FR_SVC_EMR, "ListInstanceFleets", "Marker", "Marker", "InstanceFleets"},
    {FR_SVC_EMR, "ListInstanceGroups", "Marker", "Marker", "InstanceGroups"},
    {FR_SVC_EMR, "ListInstances", "Marker", "Marker", "Instances"},
    {FR_SVC_EMR, "ListSteps", "Marker", "Marker", "Steps"},
    {FR_SVC_EC2, "DescribeSpotPriceHistory", "NextToken", "nextToken", "spotPriceHistorySet"},
    {FR_SVC_EC2, "DescribeInstances", "NextToken", "nextToken", "reservationSet"},
    {FR_SVC_EC2, "DescribeInstanceTypes", "NextToken", "nextToken", "instanceTypeSet"},
    {FR_SVC_EC2, "DescribeSpotInstanceRequests", "NextToken", "nextToken", "spotInstanceRequestSet"},
    {FR_SVC_CLOUDWATCH, "GetMetricData", "NextToken", "NextToken", "MetricDataResults"},
    {FR_SVC_CLOUDWATCH, "ListMetrics", "NextToken", "NextToken", "Metrics"},
    {FR_SVC_PRICING, "GetProducts", "NextToken", "NextToken", "PriceList"},
};

struct pager {
    fr_aws_op base;
    enum fr_aws_svc svc;
    char op[64];
    json_t *req;
    fr_aws_call_opts o;
    char in_token[32], out_token[32], list_key[64];
    fr_aws_page_cb page_cb;
    fr_aws_cb done;
    void *arg;
    json_t *items;
    json_t *last;
    char *prev_token;
    size_t pages;
    int attempts;
    fr_aws_op *child;
    int (*transform)(json_t *page, fr_aws_error *e);
    int in_page_cb;
    int cancelled;
    int aborted; /* the client closed during the page callback: end with this */
};

static void pager_free(struct pager *p)
{
    json_decref(p->req);
    json_decref(p->items);
    json_decref(p->last);
    free(p->prev_token);
    free(p);
}

static void pager_cancel(fr_aws_op *op)
{
    struct pager *p = (struct pager *)op;
    if (p->child)
        p->child->cancel(p->child);
    p->child = NULL;
    fr_aws__unlink(op);
    if (p->in_page_cb) {
        p->cancelled = 1; /* freed when the page callback returns */
        return;
    }
    pager_free(p);
}

/* done with what was gathered (and err when it ended badly) */
static void finish(struct pager *p, const fr_aws_result *last, const fr_aws_error *e)
{
    fr_aws__unlink(&p->base);
    fr_aws_result res;
    memset(&res, 0, sizeof(res));
    json_t *out;
    if (p->o.no_accumulate) {
        out = p->last ? json_incref(p->last) : json_object();
    } else {
        out = json_object();
        json_object_set(out, p->list_key, p->items);
    }
    res.json = out;
    res.page = p->pages;
    res.attempts = p->attempts;
    res.request_id = last && last->request_id ? last->request_id : "";
    res.http_status = last ? last->http_status : 0;
    res.body = "";
    if (e) {
        res.err = e->err;
        res.error = e;
    }
    fr_aws_cb done = p->done;
    void *arg = p->arg;
    done(&res, arg);
    json_decref(out);
    pager_free(p);
}

static void pager_abort(fr_aws_op *op, int err)
{
    struct pager *p = (struct pager *)op;
    if (p->child)
        p->child->cancel(p->child);
    p->child = NULL;
    if (p->in_page_cb) {
        /* on_page is still running: it ends the pager when the callback returns */
        p->aborted = err;
        fr_aws__unlink(op);
        return;
    }
    fr_aws_error e;
    memset(&e, 0, sizeof(e));
    fr_aws_error_set(&e, FR_AWS_ERR_TRANSPORT, err, fr_errname(err), "the AWS client is closing");
    finish(p, NULL, &e);
}

static int next_page(struct pager *p);

static void on_page(const fr_aws_result *res, void *arg)
{
    struct pager *p = arg;
    p->child = NULL;
    p->attempts += res->attempts;
    if (res->err) {
        finish(p, res, res->error);
        return;
    }
    fr_aws_error e;
    memset(&e, 0, sizeof(e));
    if (p->transform && p->transform(res->json, &e) != 0) {
        e.http_status = res->http_status;
        fr_strlcpy(e.request_id, res->request_id ? res->request_id : "", sizeof(e.request_id));
        finish(p, res, &e);
        return;
    }
    size_t idx = p->pages++;
    json_t *list = fr_aws_json_list(res->json, p->list_key);
    if (list && !p->o.no_accumulate)
        json_array_extend(p->items, list);
    json_decref(p->last);
    p->last = json_incref(res->json);
    if (p->page_cb) {
        fr_aws_result pr = *res;
        pr.page = idx;
        p->in_page_cb = 1;
        int stop = p->page_cb(&pr, p->arg);
        p->in_page_cb = 0;
        if (p->cancelled) {
            pager_free(p);
            return;
        }
        if (p->aborted) {
            fr_aws_error_set(&e, FR_AWS_ERR_TRANSPORT, p->aborted, fr_errname(p->aborted),
                             "the AWS client is closing");
            finish(p, res, &e);
            return;
        }
        if (stop) {
            finish(p, res, NULL);
            return;
        }
    }
    const char *tok = json_string_value(json_object_get(res->json, p->out_token));
    if (!tok || !*tok) {
        finish(p, res, NULL);
        return;
    }
    if (p->prev_token && strcmp(p->prev_token, tok) == 0) {
        fr_aws_error_set(&e, FR_AWS_ERR_PARSE, FR_EPARSE, "PaginationLoop",
                         "%s returned the same %s twice", p->op, p->out_token);
        finish(p, res, &e);
        return;
    }
    if (p->pages >= p->o.max_pages) {
        fr_aws_error_set(&e, FR_AWS_ERR_PARSE, FR_ELIMIT, "TooManyPages", "%s: more than %zu pages", p->op,
                         p->o.max_pages);
        finish(p, res, &e);
        return;
    }
    free(p->prev_token);
    p->prev_token = fr_strdup(tok);
    json_object_set_new(p->req, p->in_token, json_string(tok));
    int rc = next_page(p);
    if (rc) {
        fr_aws_error_set(&e, FR_AWS_ERR_TRANSPORT, rc, fr_errname(rc), "cannot request the next page: %s",
                         fr_strerror(rc));
        finish(p, res, &e);
    }
}

static int next_page(struct pager *p)
{
    /* the call encodes req at once, so the same object serves every page */
    return fr_aws__call(p->base.aws, p->svc, p->op, json_incref(p->req), &p->o, on_page, p, false, &p->child);
}

int fr_aws__paginate(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                     fr_aws_page_cb page, fr_aws_cb done, void *arg, bool top, fr_aws_op **out)
{
    return fr_aws__paginate_ex(a, svc, op, req, o, page, done, arg, top, NULL, out);
}

int fr_aws__paginate_ex(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                        fr_aws_page_cb page, fr_aws_cb done, void *arg, bool top,
                        int (*transform)(json_t *page, fr_aws_error *e), fr_aws_op **out)
{
    if (out)
        *out = NULL;
    if (!a || a->closing || !op || strlen(op) >= 64 || !done || (req && !json_is_object(req))) {
        json_decref(req);
        return a && a->closing ? -ECANCELED : -EINVAL;
    }
    const struct page_rule *rule = NULL;
    for (size_t i = 0; i < FR_ARRAY_SIZE(rules); i++)
        if (rules[i].svc == svc && strcmp(rules[i].op, op) == 0)
            rule = &rules[i];
    const char *in = o && o->input_token ? o->input_token : rule ? rule->in_token : NULL;
    const char *outk = o && o->output_token ? o->output_token : rule ? rule->out_token : NULL;
    const char *key = o && o->list_key ? o->list_key : rule ? rule->list_key : NULL;
    if (!in || !outk || !key || strlen(in) >= 32 || strlen(outk) >= 32 || strlen(key) >= 64) {
        json_decref(req);
        return -EINVAL;
    }
    struct pager *p = calloc(1, sizeof(*p));
    if (!p) {
        json_decref(req);
        return -ENOMEM;
    }
    p->base.aws = a;
    p->base.cancel = pager_cancel;
    p->base.abort = pager_abort;
    p->svc = svc;
    fr_strlcpy(p->op, op, sizeof(p->op));
    p->req = req ? req : json_object();
    if (o)
        p->o = *o;
    p->o.input_token = p->o.output_token = p->o.list_key = NULL;
    if (!p->o.max_pages)
        p->o.max_pages = DEFAULT_MAX_PAGES;
    fr_strlcpy(p->in_token, in, sizeof(p->in_token));
    fr_strlcpy(p->out_token, outk, sizeof(p->out_token));
    fr_strlcpy(p->list_key, key, sizeof(p->list_key));
    p->page_cb = page;
    p->done = done;
    p->arg = arg;
    p->items = json_array();
    p->transform = transform;
    int rc = next_page(p);
    if (rc) {
        pager_free(p);
        return rc;
    }
    if (top)
        fr_aws__link(a, &p->base);
    if (out)
        *out = &p->base;
    return 0;
}

int fr_aws_paginate(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                    fr_aws_page_cb page, fr_aws_cb done, void *arg, fr_aws_op **out)
{
    return fr_aws__paginate(a, svc, op, req, o, page, done, arg, true, out);
}
