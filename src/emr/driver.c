/* The EMR agent service: discovery, the analysis pipeline, proposals.
 * Loop glue around the pure core (analysis.c, recommend.c, cost.c,
 * param.c, workflow.c); runs are executed by runner.c. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr_config.h"
#include "frugal/emr_cost.h"
#include "frugal/emr_param.h"
#include "frugal/emr_recommend.h"
#include "frugal/emr_report.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/metrics.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "emrd_internal.h"

#define MQ_FLUSH_MS 25
#define SPOT_TTL_MS (3600 * 1000LL)

int64_t emrd_now(void)
{
    return fr_time_now_ms();
}

const char *emrd_param_path(fr_emrd *d, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s%s", d->app->cfg.emr_param_prefix, name);
    return out;
}

static void iso(char *buf, size_t n, int64_t ms)
{
    fr_time_iso8601(buf, n, ms, 0);
}

/* AWS timestamps: epoch seconds (JSON protocols) or ISO strings (XML). */
static int64_t ts_ms(const json_t *v)
{
    if (json_is_number(v))
        return (int64_t)llround(json_number_value(v) * 1000.0);
    int64_t t;
    if (json_is_string(v) && fr_time_parse(json_string_value(v), &t) == 0)
        return t;
    return 0;
}

static void waiters_fire(emrd_waiter **list, int err, const json_t *result, const char *msg)
{
    emrd_waiter *w = *list;
    *list = NULL;
    while (w) {
        emrd_waiter *next = w->next;
        w->cb(w->arg, err, result ? json_deep_copy(result) : NULL, msg);
        free(w);
        w = next;
    }
}

static int waiter_add(emrd_waiter **list, fr_emrd_cb cb, void *arg)
{
    emrd_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->cb = cb;
    w->arg = arg;
    w->next = *list;
    *list = w;
    return 0;
}

/* ---- discovery ---- */

static const char *const listed_states[] = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING",
                                            "TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"};

static int cmp_created_desc(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    json_int_t cx = json_integer_value(json_object_get(x, "created_ms"));
    json_int_t cy = json_integer_value(json_object_get(y, "created_ms"));
    return cx < cy ? 1 : cx > cy ? -1 : 0;
}

static void on_clusters_listed(const fr_aws_result *res, void *arg)
{
    fr_emrd *d = arg;
    d->cl_op = NULL;
    d->cl_refreshing = 0;
    if (res->err) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "ListClusters failed: %s%s%s", res->error ? res->error->code : fr_errname(res->err),
                 res->error && res->error->message[0] ? ": " : "", res->error ? res->error->message : "");
        waiters_fire(&d->cl_waiters, res->err, NULL, msg);
        return;
    }
    const fr_config *c = &d->app->cfg;
    int64_t now = emrd_now();
    json_t *list = json_array();
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(res->json, "Clusters"), i, cl)
    {
        const json_t *st = json_object_get(cl, "Status");
        const char *state = json_string_value(json_object_get(st, "State"));
        const json_t *tl = json_object_get(st, "Timeline");
        int64_t created = ts_ms(json_object_get(tl, "CreationDateTime"));
        int64_t ended = ts_ms(json_object_get(tl, "EndDateTime"));
        const char *name = json_string_value(json_object_get(cl, "Name"));
        const char *id = json_string_value(json_object_get(cl, "Id"));
        if (!state || !name || !id || !created)
            continue;
        bool terminated = strcmp(state, "TERMINATED") == 0;
        bool failed = strcmp(state, "TERMINATED_WITH_ERRORS") == 0;
        if (failed && !c->emr_include_failed)
            continue;
        int64_t runtime = (ended ? ended : now) - created;
        if (runtime < 0)
            runtime = 0;
        bool done = (terminated || failed) && ended;
        bool transient = done && runtime < (int64_t)c->emr_max_runtime_ms;
        if (done && !transient)
            continue; /* long-running clusters are out of scope */
        if (!done && runtime >= (int64_t)c->emr_max_runtime_ms)
            continue;
        char cbuf[40], ebuf[40];
        iso(cbuf, sizeof(cbuf), created);
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:b, s:b, s:b, s:I}", "name", name, "id", id, "state",
                              state, "created", cbuf, "created_ms", (json_int_t)created, "runtime_s",
                              (double)runtime / 1000.0, "transient", transient, "failed", failed, "analyzable",
                              transient, "ended_ms", (json_int_t)ended);
        if (ended) {
            iso(ebuf, sizeof(ebuf), ended);
            json_object_set_new(e, "ended", json_string(ebuf));
        }
        const char *reason = json_string_value(json_object_get(json_object_get(st, "StateChangeReason"), "Message"));
        if (reason && failed)
            json_object_set_new(e, "state_reason", json_string(reason));
        json_array_append_new(list, e);
    }
    /* newest first; how often each name ran in the window */
    size_t n = json_array_size(list);
    json_t **v = malloc((n ? n : 1) * sizeof(*v));
    for (i = 0; i < n; i++)
        v[i] = json_array_get(list, i);
    qsort(v, n, sizeof(*v), cmp_created_desc);
    json_t *sorted = json_array();
    for (i = 0; i < n; i++) {
        int runs = 0;
        for (size_t j = 0; j < n; j++)
            if (strcmp(json_string_value(json_object_get(v[i], "name")), json_string_value(json_object_get(v[j], "name"))) == 0)
                runs++;
        json_object_set_new(v[i], "runs_in_window", json_integer(runs));
        json_array_append(sorted, v[i]);
    }
    free(v);
    json_decref(list);
    char at[40];
    iso(at, sizeof(at), now);
    json_decref(d->clusters);
    d->clusters = json_pack("{s:o, s:f, s:f, s:s, s:I}", "clusters", sorted, "window_hours",
                            (double)c->emr_window_ms / 3600000.0, "max_runtime_hours",
                            (double)c->emr_max_runtime_ms / 3600000.0, "cached_at", at, "count", (json_int_t)n);
    d->clusters_at_ms = now;
    fr_feed_publish(d->app->feed, "clusters.refreshed", json_pack("{s:I}", "count", (json_int_t)n), NULL);
    fr_log_info("emr.clusters", "{s:I, s:I}", "listed", (json_int_t)json_array_size(json_object_get(res->json, "Clusters")),
                "transient_or_running", (json_int_t)n);
    waiters_fire(&d->cl_waiters, 0, d->clusters, NULL);
}

int fr_emrd_clusters(fr_emrd *e, bool refresh, fr_emrd_cb cb, void *arg)
{
    fr_emrd *d = e;
    if (d->draining)
        return -ECANCELED;
    int64_t now = emrd_now();
    if (!refresh && d->clusters && now - d->clusters_at_ms < (int64_t)d->app->cfg.emr_cache_ttl_ms) {
        cb(arg, 0, json_deep_copy(d->clusters), NULL);
        return 0;
    }
    int rc = waiter_add(&d->cl_waiters, cb, arg);
    if (rc || d->cl_refreshing)
        return rc;
    fr_aws_emr_list_clusters_in in = {listed_states, FR_ARRAY_SIZE(listed_states),
                                      now - (int64_t)d->app->cfg.emr_window_ms, 0};
    d->cl_refreshing = 1;
    rc = fr_aws_emr_list_clusters(d->aws, &in, NULL, on_clusters_listed, d, &d->cl_op);
    if (rc) {
        d->cl_refreshing = 0;
        waiters_fire(&d->cl_waiters, rc, NULL, "ListClusters could not start");
    }
    return 0;
}

/* ---- the analysis pipeline ---- */

struct inst {
    char id[32];
    fr_emr_node node;
    char type[40];
    fr_emr_market market;
    int64_t *cpu_t, *mem_t;
    double *cpu_v, *mem_v;
    size_t cpu_n, mem_n;
};

struct analysis {
    fr_emrd *d;
    char name[257];
    char cluster_id[32];
    emrd_waiter *waiters;
    json_t *summary; /* the cluster-list entry */
    json_t *desc;    /* DescribeCluster.Cluster */
    json_t *roles;   /* fleet / group id -> "CORE" ... */
    struct inst *inst;
    size_t ninst;
    char *param_value;
    int64_t param_version;
    char param_error[256];
    int outstanding;  /* parallel phase: param, metrics, spot */
    fr_aws_op *op;    /* sequential phase */
    fr_aws_op *op_param, *op_spot;
    int spot_second_pass;
    char az[32];
    int err;
    char errmsg[1024];
    struct analysis *next;
};

struct mq_entry {
    struct analysis *an;
    json_t *queries; /* ids "q0".. local to the entry; renumbered at flush */
    int64_t start_ms, end_ms;
    struct mq_entry *next;
};

static void analysis_compute(struct analysis *an);
static void analysis_fail(struct analysis *an, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void spot_fetch(struct analysis *an, const char *const *types, size_t n);

static void analysis_free(struct analysis *an)
{
    fr_emrd *d = an->d;
    for (struct analysis **pp = &d->analyses; *pp; pp = &(*pp)->next)
        if (*pp == an) {
            *pp = an->next;
            break;
        }
    for (size_t i = 0; i < an->ninst; i++) {
        free(an->inst[i].cpu_t);
        free(an->inst[i].cpu_v);
        free(an->inst[i].mem_t);
        free(an->inst[i].mem_v);
    }
    free(an->inst);
    free(an->param_value);
    json_decref(an->summary);
    json_decref(an->desc);
    json_decref(an->roles);
    free(an);
}

/* Why nothing changes, per node type ("CORE is Right-Sized; TASK is
 * Undersized and no larger type fits"). The buffer is static: one
 * analysis is finished at a time on the loop. */
static const char *no_change_why(const fr_emr_analysis *a, const fr_emr_recommendation *recs, size_t n)
{
    static char buf[300];
    buf[0] = '\0';
    (void)a;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(buf);
        const char *extra = recs[i].status == FR_EMR_STATUS_UNDERSIZED
                                ? " and no larger type fits"
                                : recs[i].status != FR_EMR_STATUS_RIGHT_SIZED ? " but no cheaper type fits" : "";
        snprintf(buf + l, sizeof(buf) - l, "%s%s is %s%s", l ? "; " : "", fr_emr_node_name(recs[i].node),
                 fr_emr_status_label(recs[i].status), extra);
    }
    return buf;
}

static void analysis_fail(struct analysis *an, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fr_log_warn("emr.analysis_failed", "{s:s, s:s, s:s}", "cluster", an->name, "cluster_id", an->cluster_id, "error",
                msg);
    waiters_fire(&an->waiters, err, NULL, msg);
    analysis_free(an);
}

static const char *aws_msg(const fr_aws_result *res, char *buf, size_t n)
{
    snprintf(buf, n, "%.100s%s%.150s", res->error ? res->error->code : fr_errname(res->err),
             res->error && res->error->message[0] ? ": " : "", res->error ? res->error->message : "");
    return buf;
}

static void phase_done(struct analysis *an)
{
    if (--an->outstanding == 0) {
        if (an->d->stopped && !an->err) {
            an->err = -ECANCELED;
            snprintf(an->errmsg, sizeof(an->errmsg), "frugald is shutting down");
        }
        analysis_compute(an);
    }
}

static void on_param(const fr_aws_result *res, void *arg)
{
    struct analysis *an = arg;
    an->op_param = NULL;
    if (res->err) {
        char m[300];
        snprintf(an->param_error, sizeof(an->param_error), "GetParameter: %s", aws_msg(res, m, sizeof(m)));
    } else {
        const json_t *p = json_object_get(res->json, "Parameter");
        const char *v = json_string_value(json_object_get(p, "Value"));
        an->param_value = fr_strdup(v ? v : "");
        an->param_version = json_integer_value(json_object_get(p, "Version"));
    }
    phase_done(an);
}

/* -- GetMetricData shared across analyses -- */

static void mq_flush(fr_emrd *d);

struct mq_target {
    struct analysis *an;
    size_t inst;
    int mem;
};

struct mq_batch {
    fr_emrd *d;
    struct mq_target *targets;
    size_t n;
    struct analysis **ans; /* analyses waiting on this batch */
    size_t nans;
};

static void copy_points(const json_t *r, int64_t **t_out, double **v_out, size_t *n_out)
{
    const json_t *ts = json_object_get(r, "Timestamps"), *vs = json_object_get(r, "Values");
    size_t n = json_array_size(ts) < json_array_size(vs) ? json_array_size(ts) : json_array_size(vs);
    int64_t *t = malloc((n ? n : 1) * sizeof(*t));
    double *v = malloc((n ? n : 1) * sizeof(*v));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t tm = ts_ms(json_array_get(ts, i));
        const json_t *x = json_array_get(vs, i);
        if (!tm || !json_is_number(x))
            continue;
        t[m] = tm;
        v[m] = json_number_value(x);
        m++;
    }
    *t_out = t;
    *v_out = v;
    *n_out = m;
}

static void on_metrics(const fr_aws_result *res, void *arg)
{
    struct mq_batch *b = arg;
    fr_emrd *d = b->d;
    d->mq_inflight--;
    if (d->stopped) { /* the client closes while the analyses are already gone */
        free(b->targets);
        free(b->ans);
        free(b);
        return;
    }
    if (res->err) {
        char m[300];
        aws_msg(res, m, sizeof(m));
        for (size_t i = 0; i < b->nans; i++) {
            struct analysis *an = b->ans[i];
            if (!an->err) {
                an->err = res->err;
                snprintf(an->errmsg, sizeof(an->errmsg), "GetMetricData: %s", m);
            }
            phase_done(an);
        }
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(res->json, "MetricDataResults"), i, r)
        {
            const char *id = json_string_value(json_object_get(r, "Id"));
            uint64_t k;
            if (!id || id[0] != 'q' || fr_parse_u64(id + 1, &k) != 0 || k >= b->n)
                continue;
            struct mq_target *t = &b->targets[k];
            struct inst *in = &t->an->inst[t->inst];
            if (t->mem)
                copy_points(r, &in->mem_t, &in->mem_v, &in->mem_n);
            else
                copy_points(r, &in->cpu_t, &in->cpu_v, &in->cpu_n);
        }
        for (i = 0; i < b->nans; i++)
            phase_done(b->ans[i]);
    }
    free(b->targets);
    free(b->ans);
    free(b);
    if (d->mq_head)
        mq_flush(d);
}

static void mq_flush(fr_emrd *d)
{
    if (!d->mq_head)
        return;
    /* One GetMetricData "call" (split into batches of 500 by the client,
     * which also follows NextToken) over the union of the windows. */
    size_t total = d->mq_queries;
    struct mq_batch *b = calloc(1, sizeof(*b));
    b->d = d;
    b->targets = calloc(total ? total : 1, sizeof(*b->targets));
    b->ans = calloc(total ? total : 1, sizeof(*b->ans));
    json_t *queries = json_array();
    int64_t start = INT64_MAX, end = 0;
    while (d->mq_head) {
        struct mq_entry *e = d->mq_head;
        d->mq_head = e->next;
        if (e->start_ms < start)
            start = e->start_ms;
        if (e->end_ms > end)
            end = e->end_ms;
        b->ans[b->nans++] = e->an;
        size_t i;
        json_t *q;
        json_array_foreach(e->queries, i, q)
        {
            json_t *copy = json_deep_copy(q);
            char id[24];
            snprintf(id, sizeof(id), "q%zu", b->n);
            json_object_set_new(copy, "Id", json_string(id));
            b->targets[b->n].an = e->an;
            b->targets[b->n].inst = i / 2;
            b->targets[b->n].mem = (int)(i % 2);
            b->n++;
            json_array_append_new(queries, copy);
        }
        json_decref(e->queries);
        free(e);
    }
    d->mq_tail = NULL;
    d->mq_queries = 0;
    d->mq_inflight++;
    fr_aws_cw_opts o = {.scan_by = "TimestampAscending"};
    int rc = fr_aws_cw_get_metric_data(d->aws, queries, start, end, &o, on_metrics, b, NULL);
    json_decref(queries);
    if (rc) {
        fr_aws_result fake = {.err = rc};
        on_metrics(&fake, b);
    }
}

static void on_mq_timer(uv_timer_t *t)
{
    mq_flush(t->data);
}

static void mq_enqueue(struct analysis *an, int64_t start, int64_t end)
{
    fr_emrd *d = an->d;
    const fr_config *c = &d->app->cfg;
    struct mq_entry *e = calloc(1, sizeof(*e));
    e->an = an;
    e->start_ms = start;
    e->end_ms = end;
    e->queries = json_array();
    /* two queries per instance: CPU then memory (the target index is i/2, i%2) */
    for (size_t i = 0; i < an->ninst; i++) {
        json_array_append_new(e->queries,
                              json_pack("{s:s, s:{s:{s:s, s:s, s:[{s:s, s:s}]}, s:I, s:s}, s:b}", "Id", "x",
                                        "MetricStat", "Metric", "Namespace", "AWS/EC2", "MetricName", "CPUUtilization",
                                        "Dimensions", "Name", "InstanceId", "Value", an->inst[i].id, "Period",
                                        (json_int_t)c->emr_metric_period_s, "Stat", "Average", "ReturnData", 1));
        json_array_append_new(e->queries,
                              json_pack("{s:s, s:{s:{s:s, s:s, s:[{s:s, s:s}]}, s:I, s:s}, s:b}", "Id", "x",
                                        "MetricStat", "Metric", "Namespace", "CWAgent", "MetricName",
                                        "mem_used_percent", "Dimensions", "Name", "InstanceId", "Value", an->inst[i].id,
                                        "Period", (json_int_t)c->emr_metric_period_s, "Stat", "Average", "ReturnData", 1));
    }
    if (d->mq_tail)
        d->mq_tail->next = e;
    else
        d->mq_head = e;
    d->mq_tail = e;
    d->mq_queries += json_array_size(e->queries);
    if (d->mq_queries >= 500)
        mq_flush(d); /* a full batch goes at once */
    else if (!uv_is_active((uv_handle_t *)d->mq_timer))
        uv_timer_start(d->mq_timer, on_mq_timer, MQ_FLUSH_MS, 0);
}

/* -- spot prices (recent averages, cached per type and AZ) -- */

static bool spot_lookup(void *arg, const char *type, double *usd)
{
    fr_emrd *d = ((struct analysis *)arg)->d;
    char key[96];
    snprintf(key, sizeof(key), "%s|%s", type, ((struct analysis *)arg)->az);
    const json_t *e = json_object_get(d->spot, key);
    if (!e || json_is_null(json_object_get(e, "usd")))
        return false;
    *usd = json_number_value(json_object_get(e, "usd"));
    return *usd > 0;
}

void emrd_fill_prices(fr_emrd *d, fr_emr_prices *p)
{
    p->cat = d->catalog;
    p->uplift = d->app->cfg.emr_uplift;
    p->spot = NULL;
    p->spot_arg = NULL;
    p->region = fr_aws_region(d->aws);
}

struct spot_req {
    struct analysis *an;
    json_t *types;
};

static void on_spot(const fr_aws_result *res, void *arg)
{
    struct spot_req *s = arg;
    struct analysis *an = s->an;
    fr_emrd *d = an->d;
    an->op_spot = NULL;
    int64_t now = emrd_now();
    /* average per type over the window; types with no record stay unknown */
    size_t i;
    json_t *t;
    json_array_foreach(s->types, i, t)
    {
        double sum = 0;
        int n = 0;
        size_t j;
        json_t *p;
        json_array_foreach(res->err ? NULL : json_object_get(res->json, "spotPriceHistorySet"), j, p)
        {
            const char *it = json_string_value(json_object_get(p, "instanceType"));
            double v;
            if (it && strcmp(it, json_string_value(t)) == 0 &&
                fr_parse_double(json_string_value(json_object_get(p, "spotPrice")), &v) == 0 && v > 0) {
                sum += v;
                n++;
            }
        }
        char key[96];
        snprintf(key, sizeof(key), "%s|%s", json_string_value(t), an->az);
        json_object_set_new(d->spot, key, json_pack("{s:o, s:I, s:i}", "usd", n ? json_real(sum / n) : json_null(), "at",
                                                  (json_int_t)now, "samples", n));
    }
    if (res->err)
        fr_log_warn("emr.spot_prices_unavailable", "{s:s, s:s}", "cluster", an->name, "error",
                    res->error ? res->error->code : fr_errname(res->err));
    json_decref(s->types);
    free(s);
    if (d->stopped && !an->err) {
        an->err = -ECANCELED;
        snprintf(an->errmsg, sizeof(an->errmsg), "frugald is shutting down");
    }
    if (an->spot_second_pass == 1) {
        an->spot_second_pass = 2;
        analysis_compute(an);
    } else {
        phase_done(an);
    }
}

static void spot_fetch(struct analysis *an, const char *const *types, size_t n)
{
    fr_emrd *d = an->d;
    int64_t now = emrd_now();
    const char *need[16];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 16; i++) {
        char key[96];
        snprintf(key, sizeof(key), "%s|%s", types[i], an->az);
        const json_t *e = json_object_get(d->spot, key);
        bool fresh = e && now - json_integer_value(json_object_get(e, "at")) < SPOT_TTL_MS;
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(need[j], types[i]) == 0;
        if (!fresh && !dup)
            need[k++] = types[i];
    }
    if (!k) {
        fr_aws_result none = {.err = 0, .json = NULL};
        struct spot_req *s = calloc(1, sizeof(*s));
        s->an = an;
        s->types = json_array();
        on_spot(&none, s);
        return;
    }
    struct spot_req *s = calloc(1, sizeof(*s));
    s->an = an;
    s->types = json_array();
    for (size_t i = 0; i < k; i++)
        json_array_append_new(s->types, json_string(need[i]));
    json_t *req = fr_aws_ec2_spot_price_request(need, k, "Linux/UNIX", an->az[0] ? an->az : NULL,
                                                now - 24 * 3600 * 1000LL, now);
    int rc = fr_aws_ec2_describe_spot_price_history(d->aws, req, NULL, on_spot, s, &an->op_spot);
    if (rc) {
        fr_aws_result fail = {.err = rc};
        on_spot(&fail, s);
    }
}

/* -- the sequential phase: DescribeCluster, fleets/groups, instances -- */

static void start_parallel(struct analysis *an)
{
    fr_emrd *d = an->d;
    char path[600];
    an->outstanding = 3;
    int rc = fr_aws_ssm_get_parameter(d->aws, emrd_param_path(d, an->name, path, sizeof(path)), false, on_param, an,
                                      &an->op_param);
    if (rc) {
        snprintf(an->param_error, sizeof(an->param_error), "GetParameter: %s", fr_strerror(rc));
        an->outstanding--;
    }
    const char *types[32];
    size_t nt = 0;
    for (size_t i = 0; i < an->ninst && nt < 32; i++)
        if (an->inst[i].market == FR_EMR_MARKET_SPOT)
            types[nt++] = an->inst[i].type;
    spot_fetch(an, types, nt);
    const json_t *tl = json_object_get(json_object_get(an->desc, "Status"), "Timeline");
    int64_t start = ts_ms(json_object_get(tl, "CreationDateTime"));
    int64_t end = ts_ms(json_object_get(tl, "EndDateTime"));
    if (!end)
        end = emrd_now();
    mq_enqueue(an, start, end + 60000);
}

static void on_instances(const fr_aws_result *res, void *arg)
{
    struct analysis *an = arg;
    an->op = NULL;
    if (res->err) {
        char m[300];
        analysis_fail(an, res->err, "ListInstances: %s", aws_msg(res, m, sizeof(m)));
        return;
    }
    const json_t *list = json_object_get(res->json, "Instances");
    an->inst = calloc(json_array_size(list) + 1, sizeof(*an->inst));
    size_t i;
    json_t *in;
    json_array_foreach(list, i, in)
    {
        const char *ec2 = json_string_value(json_object_get(in, "Ec2InstanceId"));
        const char *gid = json_string_value(json_object_get(in, "InstanceFleetId"));
        if (!gid)
            gid = json_string_value(json_object_get(in, "InstanceGroupId"));
        const char *role = gid ? json_string_value(json_object_get(an->roles, gid)) : NULL;
        const char *type = json_string_value(json_object_get(in, "InstanceType"));
        if (!ec2 || !role || !type)
            continue;
        struct inst *x = &an->inst[an->ninst++];
        fr_strlcpy(x->id, ec2, sizeof(x->id));
        fr_strlcpy(x->type, type, sizeof(x->type));
        fr_emr_node_parse(role, &x->node);
        const char *market = json_string_value(json_object_get(in, "Market"));
        x->market = market && strcmp(market, "SPOT") == 0 ? FR_EMR_MARKET_SPOT : FR_EMR_MARKET_ON_DEMAND;
    }
    if (!an->ninst) {
        analysis_fail(an, FR_ENOTFOUND, "cluster %s has no instances to analyse", an->cluster_id);
        return;
    }
    start_parallel(an);
}

static void list_instances(struct analysis *an)
{
    int rc = fr_aws_emr_list_instances(an->d->aws, an->cluster_id, NULL, NULL, 0, NULL, 0, NULL, on_instances, an,
                                       &an->op);
    if (rc)
        analysis_fail(an, rc, "ListInstances could not start: %s", fr_strerror(rc));
}

static void on_roles(const fr_aws_result *res, void *arg)
{
    struct analysis *an = arg;
    an->op = NULL;
    if (res->err) {
        char m[300];
        analysis_fail(an, res->err, "listing fleets/groups: %s", aws_msg(res, m, sizeof(m)));
        return;
    }
    an->roles = json_object();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(res->json, "InstanceFleets"), i, g)
    {
        const char *id = json_string_value(json_object_get(g, "Id"));
        const char *t = json_string_value(json_object_get(g, "InstanceFleetType"));
        if (id && t)
            json_object_set_new(an->roles, id, json_string(t));
    }
    json_array_foreach(json_object_get(res->json, "InstanceGroups"), i, g)
    {
        const char *id = json_string_value(json_object_get(g, "Id"));
        const char *t = json_string_value(json_object_get(g, "InstanceGroupType"));
        if (id && t)
            json_object_set_new(an->roles, id, json_string(t));
    }
    list_instances(an);
}

static void on_describe(const fr_aws_result *res, void *arg)
{
    struct analysis *an = arg;
    an->op = NULL;
    if (res->err) {
        char m[300];
        analysis_fail(an, res->err, "DescribeCluster %s: %s", an->cluster_id, aws_msg(res, m, sizeof(m)));
        return;
    }
    an->desc = json_incref(json_object_get(res->json, "Cluster"));
    const char *az = json_string_value(json_object_get(json_object_get(an->desc, "Ec2InstanceAttributes"), "Ec2AvailabilityZone"));
    if (az)
        fr_strlcpy(an->az, az, sizeof(an->az));
    const char *coll = json_string_value(json_object_get(an->desc, "InstanceCollectionType"));
    int rc;
    if (coll && strcmp(coll, "INSTANCE_GROUP") == 0)
        rc = fr_aws_emr_list_instance_groups(an->d->aws, an->cluster_id, NULL, on_roles, an, &an->op);
    else
        rc = fr_aws_emr_list_instance_fleets(an->d->aws, an->cluster_id, NULL, on_roles, an, &an->op);
    if (rc)
        analysis_fail(an, rc, "listing fleets/groups could not start: %s", fr_strerror(rc));
}

/* -- the result -- */

static void lot_add(fr_emr_lot *lots, size_t *n, size_t max, fr_emr_node node, const char *type, fr_emr_market m)
{
    for (size_t i = 0; i < *n; i++)
        if (lots[i].node == node && lots[i].market == m && strcmp(lots[i].type, type) == 0) {
            lots[i].count++;
            return;
        }
    if (*n < max) {
        lots[*n].node = node;
        lots[*n].market = m;
        fr_strlcpy(lots[*n].type, type, sizeof(lots[*n].type));
        lots[*n].count = 1;
        (*n)++;
    }
}

/* The most common type of a node type's instances (what the analysis measured). */
static const char *main_type(const struct analysis *an, fr_emr_node node)
{
    const char *best = NULL;
    size_t best_n = 0;
    for (size_t i = 0; i < an->ninst; i++) {
        if (an->inst[i].node != node)
            continue;
        size_t n = 0;
        for (size_t j = 0; j < an->ninst; j++)
            n += an->inst[j].node == node && strcmp(an->inst[j].type, an->inst[i].type) == 0;
        if (n > best_n) {
            best_n = n;
            best = an->inst[i].type;
        }
    }
    return best;
}

static void analysis_compute(struct analysis *an)
{
    fr_emrd *d = an->d;
    const fr_config *c = &d->app->cfg;
    if (an->err) {
        analysis_fail(an, an->err, "%s", an->errmsg);
        return;
    }
    fr_emr_thresholds th;
    fr_emr_thresholds_from_config(&th, c);
    const json_t *tl = json_object_get(json_object_get(an->desc, "Status"), "Timeline");
    int64_t start = ts_ms(json_object_get(tl, "CreationDateTime"));
    int64_t end = ts_ms(json_object_get(tl, "EndDateTime"));
    if (!end)
        end = emrd_now();
    fr_emr_prices prices;
    emrd_fill_prices(d, &prices);
    prices.spot = spot_lookup;
    prices.spot_arg = an;

    fr_emr_analysis analyses[2];
    fr_emr_recommendation recs[2];
    size_t na = 0;
    json_t *warnings = json_array();
    const fr_emr_node nodes[2] = {FR_EMR_NODE_CORE, FR_EMR_NODE_TASK};
    for (int k = 0; k < 2; k++) {
        const char *type = main_type(an, nodes[k]);
        if (!type)
            continue;
        size_t n = 0, od = 0;
        fr_emr_instance_series *ser = calloc(an->ninst, sizeof(*ser));
        for (size_t i = 0; i < an->ninst; i++) {
            struct inst *x = &an->inst[i];
            if (x->node != nodes[k])
                continue;
            ser[n].instance_id = x->id;
            ser[n].cpu = (fr_emr_points){x->cpu_t, x->cpu_v, x->cpu_n};
            ser[n].mem = (fr_emr_points){x->mem_t, x->mem_v, x->mem_n};
            od += x->market == FR_EMR_MARKET_ON_DEMAND;
            n++;
        }
        fr_emr_analysis_input in = {nodes[k], type, start, end, c->emr_metric_period_s * 1000, ser, n};
        int rc = fr_emr_analyze(&in, &th, &analyses[na]);
        free(ser);
        if (rc) {
            char w[160];
            snprintf(w, sizeof(w), "%s: no usable CloudWatch data (%s)", fr_emr_node_name(nodes[k]), fr_strerror(rc));
            json_array_append_new(warnings, json_string(w));
            continue;
        }
        fr_emr_rec_opts ro;
        fr_emr_rec_opts_default(&ro);
        ro.od_share = n ? (double)od / (double)n : 1.0;
        if ((rc = fr_emr_recommend(&prices, &analyses[na], &th, &ro, &recs[na])) != 0) {
            char w[200];
            snprintf(w, sizeof(w), "%s: no recommendation for %s (%s)", fr_emr_node_name(nodes[k]), type,
                     rc == FR_ENOTFOUND ? "not in the instance catalog" : fr_strerror(rc));
            json_array_append_new(warnings, json_string(w));
            fr_emr_analysis_free(&analyses[na]);
            continue;
        }
        na++;
    }
    if (na == 0) {
        /* the warnings say why: no data, or types frugal does not know */
        char why[600] = "";
        size_t wi;
        json_t *w;
        json_array_foreach(warnings, wi, w)
        {
            size_t l = strlen(why);
            snprintf(why + l, sizeof(why) - l, "%s%s", l ? "; " : "", json_string_value(w));
        }
        json_decref(warnings);
        analysis_fail(an, FR_ENOTFOUND, "no CORE or TASK node of %s could be analysed%s%s", an->cluster_id,
                      why[0] ? ": " : "", why);
        return;
    }
    /* Recent spot prices for the recommended types too, then compute again
     * (the choice used estimates for candidates; the cost uses real prices). */
    if (an->spot_second_pass == 0) {
        const char *types[4];
        size_t nt = 0;
        for (size_t i = 0; i < na; i++)
            if (recs[i].changed && recs[i].recommended)
                types[nt++] = recs[i].recommended->name;
        for (size_t i = 0; i < na; i++)
            fr_emr_analysis_free(&analyses[i]);
        json_decref(warnings);
        an->spot_second_pass = 1;
        spot_fetch(an, types, nt);
        return;
    }

    /* the config: inspect and dry-run the rewrite */
    char path[600];
    emrd_param_path(d, an->name, path, sizeof(path));
    fr_emr_rewrite rw;
    memset(&rw, 0, sizeof(rw));
    bool have_rw = false;
    char rw_err[300] = "";
    json_t *rec_map = json_object();
    bool changed = false;
    fr_emr_rewrite_req req = {0};
    for (size_t i = 0; i < na; i++) {
        const char *from = recs[i].current_name, *to = recs[i].recommended ? recs[i].recommended->name : from;
        json_object_set_new(rec_map, fr_emr_node_name(recs[i].node), json_pack("{s:s, s:s}", "from", from, "to", to));
        if (recs[i].changed) {
            changed = true;
            req.from[recs[i].node] = from;
            req.to[recs[i].node] = to;
        }
    }
    if (!an->param_value) {
        snprintf(rw_err, sizeof(rw_err), "%s", an->param_error[0] ? an->param_error : "no parameter value");
    } else if (changed) {
        req.tier = strlen(an->param_value) > fr_emr_tier_limit(FR_EMR_TIER_STANDARD) ? FR_EMR_TIER_ADVANCED
                                                                                       : FR_EMR_TIER_STANDARD;
        if (fr_emr_param_rewrite(an->param_value, strlen(an->param_value), d->catalog, &req, &rw, rw_err,
                                 sizeof(rw_err)) == 0)
            have_rw = true;
    }

    /* cost: old lots are the instances that ran; new lots map their types */
    fr_emr_lot old_lots[64], new_lots[64];
    size_t n_old = 0, n_new = 0;
    for (size_t i = 0; i < an->ninst; i++) {
        const struct inst *x = &an->inst[i];
        lot_add(old_lots, &n_old, 64, x->node, x->type, x->market);
        const char *nt = x->type;
        if (have_rw) {
            for (size_t s = 0; s < rw.n_slots; s++)
                if (rw.slots[s].node == x->node && strcmp(rw.slots[s].from, x->type) == 0)
                    nt = rw.slots[s].to;
        } else if (req.to[x->node] && req.from[x->node] && strcmp(req.from[x->node], x->type) == 0) {
            nt = req.to[x->node];
        }
        lot_add(new_lots, &n_new, 64, x->node, nt, x->market);
    }
    fr_emr_past_run hist[256];
    size_t nh = 0;
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(d->clusters, "clusters"), i, cl)
    {
        if (nh < 256 && strcmp(json_string_value(json_object_get(cl, "name")), an->name) == 0 &&
            json_is_true(json_object_get(cl, "transient"))) {
            hist[nh].start_ms = json_integer_value(json_object_get(cl, "created_ms"));
            hist[nh].duration_ms = (int64_t)(json_number_value(json_object_get(cl, "runtime_s")) * 1000.0);
            nh++;
        }
    }
    fr_emr_cost_input ci = {old_lots, n_old, new_lots, n_new, end - start, hist, nh, (int64_t)c->emr_window_ms,
                            c->emr_auto_terminate_minutes, c->emr_max_test_cost, c->emr_max_cluster_instances};
    fr_emr_cost cost;
    char cost_err[200] = "";
    int crc = fr_emr_cost_compute(&prices, &ci, &cost);
    if (crc) {
        /* no cost, no proposal: the card still shows the measurements */
        memset(&cost, 0, sizeof(cost));
        cost.max_test_cost = c->emr_max_test_cost;
        cost.max_cluster_instances = c->emr_max_cluster_instances;
        snprintf(cost_err, sizeof(cost_err), "the cost cannot be computed: %s",
                 crc == FR_ENOTFOUND ? "an instance type has no price in the catalog" : fr_strerror(crc));
        json_array_append_new(warnings, json_string(cost_err));
    }

    /* the answer */
    json_t *node_types = json_object();
    for (i = 0; i < na; i++) {
        json_t *card = fr_emr_card_to_json(&analyses[i], &recs[i], &cost, true);
        json_object_set_new(node_types, fr_emr_node_name(recs[i].node), card);
        size_t j;
        json_t *w;
        json_array_foreach(json_object_get(card, "warnings"), j, w)
        {
            char buf[300];
            snprintf(buf, sizeof(buf), "%s: %s", fr_emr_node_name(recs[i].node), json_string_value(w));
            json_array_append_new(warnings, json_string(buf));
        }
    }
    char refusal[1200] = "";
    if (!changed)
        snprintf(refusal, sizeof(refusal), "no change recommended: %s", no_change_why(analyses, recs, na));
    else if (cost_err[0])
        snprintf(refusal, sizeof(refusal), "%s", cost_err);
    else if (!an->param_value)
        snprintf(refusal, sizeof(refusal), "cannot read %s: %s", path, rw_err);
    else if (!have_rw)
        snprintf(refusal, sizeof(refusal), "the config cannot be rewritten safely: %s", rw_err);
    else if (cost.over_instance_limit)
        fr_emr_cost_guardrail(&cost, refusal, sizeof(refusal));
    if (cost.over_cost_ceiling) {
        char w[200];
        snprintf(w, sizeof(w), "Estimated test cost $%.2f exceeds the $%.0f ceiling (MAX_TEST_COST_DOLLARS)",
                 cost.test_cost, cost.max_test_cost);
        json_array_append_new(warnings, json_string(w));
    }
    if (have_rw && rw.master_arch_mismatch)
        json_array_append_new(warnings, json_string("MASTER keeps its architecture while CORE/TASK change it"));
    json_t *cost_json = fr_emr_cost_to_json(&cost);
    char cbuf[40], ebuf[40];
    iso(cbuf, sizeof(cbuf), start);
    iso(ebuf, sizeof(ebuf), end);
    json_t *out = json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:s}, s:o, s:o, s:o, s:o, s:b, s:s, s:{s:f, s:f, s:f, s:f, s:f, "
        "s:f}}",
        "cluster", "name", an->name, "id", an->cluster_id, "state",
        json_string_value(json_object_get(json_object_get(an->desc, "Status"), "State")) ?: "?", "created", cbuf, "ended",
        ebuf, "runtime_s", (double)(end - start) / 1000.0, "param_path", path, "collection",
        json_string_value(json_object_get(an->desc, "InstanceCollectionType")) ?: "INSTANCE_FLEET", "availability_zone",
        an->az, "node_types", node_types, "cost", cost_json, "recommendation", rec_map, "warnings", warnings,
        "proposable", refusal[0] == '\0', "refusal", refusal, "thresholds", "heavy_avg", th.heavy_avg, "heavy_p95",
        th.heavy_p95, "moderate_avg", th.moderate_avg, "moderate_p95", th.moderate_p95, "right_avg", th.right_avg,
        "right_p95", th.right_p95);
    if (have_rw) {
        json_object_set_new(out, "rewrite", fr_emr_rewrite_to_json(&rw));
        if (rw.graviton_changed) {
            const fr_emr_param_info *none = NULL;
            (void)none;
            json_object_set_new(rec_map, "graviton_ami",
                                json_pack("{s:b, s:b}", "from", rw.arch_from == FR_EMR_ARCH_ARM64, "to",
                                          rw.arch_to == FR_EMR_ARCH_ARM64));
        }
    }
    json_object_set_new(out, "param_version", json_integer(an->param_version));
    char now_iso[40];
    iso(now_iso, sizeof(now_iso), emrd_now());
    json_object_set_new(out, "analyzed_at", json_string(now_iso));
    for (i = 0; i < na; i++)
        fr_emr_analysis_free(&analyses[i]);
    if (have_rw)
        fr_emr_rewrite_free(&rw);
    json_object_set_new(d->results, an->cluster_id,
                        json_pack("{s:I, s:O}", "at", (json_int_t)emrd_now(), "analysis", out));
    fr_metric_inc("frugal_emr_analyses_total", "Cluster analyses completed", "", 1);
    fr_log_info("emr.analysis", "{s:s, s:s, s:b}", "cluster", an->name, "cluster_id", an->cluster_id, "proposable",
                refusal[0] == '\0');
    waiters_fire(&an->waiters, 0, out, NULL);
    json_decref(out);
    analysis_free(an);
}

static const json_t *find_cluster(fr_emrd *d, const char *name, const char *id)
{
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(d->clusters, "clusters"), i, cl)
    {
        if (strcmp(json_string_value(json_object_get(cl, "name")), name) != 0)
            continue;
        if (id ? strcmp(json_string_value(json_object_get(cl, "id")), id) == 0
               : json_is_true(json_object_get(cl, "analyzable")))
            return cl; /* newest first */
    }
    return NULL;
}

struct an_req {
    fr_emrd *d;
    char name[257];
    char cluster_id[32];
    bool refresh;
    fr_emrd_cb cb;
    void *arg;
};

static void start_analysis(struct an_req *q)
{
    fr_emrd *d = q->d;
    const json_t *cl = find_cluster(d, q->name, q->cluster_id[0] ? q->cluster_id : NULL);
    if (!cl) {
        char msg[400];
        if (q->cluster_id[0])
            snprintf(msg, sizeof(msg), "%s is not a run of %s in the last %.0f h", q->cluster_id, q->name,
                     (double)d->app->cfg.emr_window_ms / 3600000.0);
        else
            snprintf(msg, sizeof(msg), "no terminated transient run of %s in the last %.0f h", q->name,
                     (double)d->app->cfg.emr_window_ms / 3600000.0);
        q->cb(q->arg, FR_ENOTFOUND, NULL, msg);
        free(q);
        return;
    }
    const char *id = json_string_value(json_object_get(cl, "id"));
    if (!json_is_true(json_object_get(cl, "analyzable"))) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%.256s (%.32s) is %.32s: only terminated runs have their full metric history", q->name, id,
                 json_string_value(json_object_get(cl, "state")));
        q->cb(q->arg, FR_ESTATE, NULL, msg);
        free(q);
        return;
    }
    const json_t *cached = json_object_get(d->results, id);
    if (cached && !q->refresh &&
        emrd_now() - json_integer_value(json_object_get(cached, "at")) < (int64_t)d->app->cfg.emr_cache_ttl_ms) {
        q->cb(q->arg, 0, json_deep_copy(json_object_get(cached, "analysis")), NULL);
        free(q);
        return;
    }
    for (struct analysis *an = d->analyses; an; an = an->next)
        if (strcmp(an->cluster_id, id) == 0) {
            waiter_add(&an->waiters, q->cb, q->arg);
            free(q);
            return;
        }
    struct analysis *an = calloc(1, sizeof(*an));
    an->d = d;
    fr_strlcpy(an->name, q->name, sizeof(an->name));
    fr_strlcpy(an->cluster_id, id, sizeof(an->cluster_id));
    an->summary = json_deep_copy(cl);
    an->next = d->analyses;
    d->analyses = an;
    waiter_add(&an->waiters, q->cb, q->arg);
    free(q);
    int rc = fr_aws_emr_describe_cluster(d->aws, an->cluster_id, on_describe, an, &an->op);
    if (rc)
        analysis_fail(an, rc, "DescribeCluster could not start: %s", fr_strerror(rc));
}

static void on_clusters_for_analysis(void *arg, int err, json_t *result, const char *msg)
{
    struct an_req *q = arg;
    json_decref(result);
    if (err) {
        q->cb(q->arg, err, NULL, msg);
        free(q);
        return;
    }
    start_analysis(q);
}

int fr_emrd_analysis(fr_emrd *d, const char *name, const char *cluster_id, bool refresh, fr_emrd_cb cb, void *arg)
{
    if (d->draining)
        return -ECANCELED;
    struct an_req *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->d = d;
    fr_strlcpy(q->name, name, sizeof(q->name));
    if (cluster_id)
        fr_strlcpy(q->cluster_id, cluster_id, sizeof(q->cluster_id));
    q->refresh = refresh;
    q->cb = cb;
    q->arg = arg;
    /* the list is needed to resolve the run and for the run history */
    int rc = fr_emrd_clusters(d, false, on_clusters_for_analysis, q);
    if (rc)
        free(q);
    return rc;
}

/* ---- config summary (read-only tool) ---- */

struct cfg_req {
    fr_emrd *d;
    fr_emrd_cb cb;
    void *arg;
    char path[600];
};

static void on_cfg(const fr_aws_result *res, void *arg)
{
    struct cfg_req *q = arg;
    if (res->err) {
        char m[700];
        int err = res->err;
        if (res->error && strcmp(res->error->code, "ParameterNotFound") == 0) {
            err = FR_ENOTFOUND; /* the client asked for a cluster without a config */
            snprintf(m, sizeof(m), "no parameter %s", q->path);
        } else {
            aws_msg(res, m, sizeof(m));
        }
        q->cb(q->arg, err, NULL, m);
        free(q);
        return;
    }
    const json_t *p = json_object_get(res->json, "Parameter");
    const char *v = json_string_value(json_object_get(p, "Value"));
    fr_emr_param_info info;
    char err[300];
    if (!v || fr_emr_param_inspect(v, strlen(v), &info, err, sizeof(err)) != 0) {
        q->cb(q->arg, FR_EPARSE, NULL, v ? err : "empty parameter");
        free(q);
        return;
    }
    json_t *out = fr_emr_param_info_to_json(&info);
    json_object_set_new(out, "param_path", json_string(q->path));
    json_object_set_new(out, "version", json_incref(json_object_get(p, "Version")));
    json_object_set_new(out, "bytes", json_integer((json_int_t)strlen(v)));
    q->cb(q->arg, 0, out, NULL);
    free(q);
}

int fr_emrd_config_summary(fr_emrd *d, const char *name, fr_emrd_cb cb, void *arg)
{
    struct cfg_req *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->d = d;
    q->cb = cb;
    q->arg = arg;
    emrd_param_path(d, name, q->path, sizeof(q->path));
    int rc = fr_aws_ssm_get_parameter(d->aws, q->path, false, on_cfg, q, NULL);
    if (rc)
        free(q);
    return rc;
}

/* ---- proposals ---- */

struct prop_req {
    fr_emrd *d;
    fr_emrd_cb cb;
    void *arg;
    char principal[64];
    char conversation[48];
};

static void on_analysis_for_proposal(void *arg, int err, json_t *an, const char *msg)
{
    struct prop_req *q = arg;
    if (err) {
        q->cb(q->arg, err, NULL, msg);
        free(q);
        return;
    }
    if (!json_is_true(json_object_get(an, "proposable"))) {
        /* Nothing to approve: the analysis is the answer, with the reason. */
        json_t *out = json_pack("{s:n, s:o, s:s}", "run_id", "analysis", an, "refusal",
                                json_string_value(json_object_get(an, "refusal")));
        q->cb(q->arg, 0, out, NULL);
        free(q);
        return;
    }
    json_t *run = NULL;
    char e[300];
    int rc = emrd_run_create(q->d, an, q->principal, q->conversation, &run, e, sizeof(e));
    if (rc) {
        json_decref(an);
        q->cb(q->arg, rc, NULL, e);
        free(q);
        return;
    }
    json_t *out = json_pack("{s:O, s:o, s:o}", "run_id", json_object_get(run, "id"), "run", run, "analysis", an);
    q->cb(q->arg, 0, out, NULL);
    free(q);
}

int fr_emrd_propose(fr_emrd *d, const char *name, const char *cluster_id, const char *principal,
                    const char *conversation_id, fr_emrd_cb cb, void *arg)
{
    struct prop_req *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->d = d;
    q->cb = cb;
    q->arg = arg;
    fr_strlcpy(q->principal, principal ? principal : "", sizeof(q->principal));
    fr_strlcpy(q->conversation, conversation_id ? conversation_id : "", sizeof(q->conversation));
    /* a proposal is made from a fresh analysis */
    int rc = fr_emrd_analysis(d, name, cluster_id, true, on_analysis_for_proposal, q);
    if (rc)
        free(q);
    return rc;
}

int fr_emrd_approve(fr_emrd *d, const char *run_id, const char *principal, const json_t *steps, json_t **run_out,
                    char *err, size_t errlen)
{
    return emrd_run_approve(d, run_id, principal, steps, run_out, err, errlen);
}

int fr_emrd_cancel(fr_emrd *d, const char *run_id, const char *principal, json_t **run_out, char *err, size_t errlen)
{
    return emrd_run_cancel(d, run_id, principal, run_out, err, errlen);
}

json_t *fr_emrd_run(fr_emrd *d, const char *run_id)
{
    json_t *r = fr_run_get(d->journal, run_id);
    if (!r)
        return NULL;
    const char *kind = json_string_value(json_object_get(r, "kind"));
    if (!kind || strcmp(kind, "emr") != 0) {
        json_decref(r);
        return NULL;
    }
    json_t *p = emrd_run_public(r);
    json_decref(r);
    return p;
}

json_t *fr_emrd_current_run(fr_emrd *d)
{
    /* an approved run in progress, else the newest proposal awaiting its
     * click (expired ones are cancelled), else the newest run */
    json_t *list = fr_run_list(d->journal, "emr", 50);
    json_t *pick = NULL, *proposal = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const char *st = json_string_value(json_object_get(r, "state"));
        fr_emr_wf_state s;
        if (!st || fr_emr_wf_state_parse(st, &s) != 0 || fr_emr_wf_is_terminal(s))
            continue;
        if (s != FR_EMR_WF_AWAIT_APPROVAL) {
            pick = r;
            break;
        }
        if (!proposal)
            proposal = r;
    }
    if (!pick)
        pick = proposal;
    if (!pick)
        pick = json_array_get(list, 0);
    json_t *out = pick ? emrd_run_public(pick) : NULL;
    json_decref(list);
    return out;
}

json_t *fr_emrd_runs(fr_emrd *d, size_t limit)
{
    json_t *list = fr_run_list(d->journal, "emr", limit);
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(r, "id"),
                                             "cluster_name", json_object_get(r, "cluster_name"), "state",
                                             json_object_get(r, "state"), "created", json_object_get(r, "created"),
                                             "updated", json_object_get(r, "updated"), "estimate",
                                             json_object_get(r, "estimate") ?: json_null(), "outcome",
                                             json_object_get(r, "outcome") ?: json_null()));
    }
    json_decref(list);
    return out;
}

/* ---- lifecycle (a daemon module) ---- */

fr_emrd *fr_app_emrd(fr_app *a)
{
    return a->emr ? (fr_emrd *)a->emr : NULL;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}


static char *catalog_path(const fr_config *c)
{
    if (c->emr_catalog && *c->emr_catalog)
        return fr_strdup(c->emr_catalog);
    FILE *f = fopen(FR_DATADIR "/instance-catalog.csv", "r");
    if (f) {
        fclose(f);
        return fr_strdup(FR_DATADIR "/instance-catalog.csv");
    }
    return fr_strdup(FR_SOURCE_DATADIR "/instance-catalog.csv");
}

int fr_emrd_start(fr_app *a, char *err, size_t errlen)
{
    fr_emrd *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->app = a;
    char *cp = catalog_path(&a->cfg);
    int rc = fr_emr_catalog_load(cp, &d->catalog, err, errlen);
    if (rc) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "instance catalog %s: %s", cp, err);
        fr_strlcpy(err, tmp, errlen);
        free(cp);
        free(d);
        return rc;
    }
    fr_log_info("emr.catalog", "{s:s, s:I}", "path", cp, "types", (json_int_t)fr_emr_catalog_count(d->catalog));
    free(cp);
    rc = fr_aws_new(&d->aws, a->loop, a->http, &a->cfg, NULL, err, errlen);
    if (rc) {
        fr_emr_catalog_free(d->catalog);
        free(d);
        return rc;
    }
    a->aws = (struct fr_aws *)d->aws;
    fr_journal_new(&d->journal, a->store);
    d->results = json_object();
    d->spot = json_object();
    d->mq_timer = malloc(sizeof(*d->mq_timer));
    uv_timer_init(a->loop, d->mq_timer);
    d->mq_timer->data = d;
    a->emr = (struct fr_emr *)d;
    emrd_api_register(d);
    emrd_runs_recover(d);
    fr_log_info("emr.ready", "{s:s, s:s, s:s}", "region", fr_aws_region(d->aws), "param_prefix",
                a->cfg.emr_param_prefix, "lambda", a->cfg.emr_lambda_function);
    return 0;
}

void fr_emrd_set_agent(fr_emrd *d, struct fr_agent *agent)
{
    d->agent = agent;
}

void fr_emrd_drain(fr_app *a)
{
    fr_emrd *d = fr_app_emrd(a);
    if (!d)
        return;
    d->draining = 1;
    emrd_runs_drain(d);
}

int fr_emrd_busy(fr_app *a)
{
    fr_emrd *d = fr_app_emrd(a);
    if (!d)
        return 0;
    return d->analyses != NULL || d->cl_refreshing || d->mq_inflight || emrd_runs_busy(d);
}

static void aws_closed(void *arg)
{
    (void)arg;
}

void fr_emrd_stop(fr_app *a)
{
    fr_emrd *d = fr_app_emrd(a);
    if (!d || d->stopped)
        return;
    d->stopped = 1;
    d->draining = 1;
    /* answer everyone still waiting, then cancel what is in flight */
    while (d->analyses) {
        struct analysis *an = d->analyses;
        if (an->op)
            fr_aws_cancel(an->op);
        if (an->op_param)
            fr_aws_cancel(an->op_param);
        if (an->op_spot)
            fr_aws_cancel(an->op_spot);
        an->op = an->op_param = an->op_spot = NULL;
        waiters_fire(&an->waiters, -ECANCELED, NULL, "frugald is shutting down");
        analysis_free(an);
    }
    while (d->mq_head) {
        struct mq_entry *e = d->mq_head;
        d->mq_head = e->next;
        json_decref(e->queries);
        free(e);
    }
    if (d->cl_op)
        fr_aws_cancel(d->cl_op);
    d->cl_op = NULL;
    waiters_fire(&d->cl_waiters, -ECANCELED, NULL, "frugald is shutting down");
    emrd_runs_free(d);
    uv_close((uv_handle_t *)d->mq_timer, free_handle);
    fr_journal_free(d->journal);
    fr_aws_close(d->aws, aws_closed, NULL);
    a->aws = NULL;
    fr_emr_catalog_free(d->catalog);
    json_decref(d->clusters);
    json_decref(d->results);
    json_decref(d->spot);
    free(d);
    a->emr = NULL;
}

void fr_emrd_reload(fr_app *a)
{
    fr_emrd *d = fr_app_emrd(a);
    if (!d)
        return;
    fr_aws_reload(d->aws, &a->cfg);
}
