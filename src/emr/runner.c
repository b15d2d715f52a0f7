/* Runs the approved workflow: executes the actions of the pure state
 * machine (workflow.c), feeds their results back as events, journals every
 * side effect before (intent, durable) and after (done), narrates progress
 * on the feed, audits, and resumes unfinished runs after a restart. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/agent.h"
#include "frugal/audit.h"
#include "frugal/emr_param.h"
#include "frugal/emr_report.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/metrics.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "emrd_internal.h"

#define QMAX 32

enum { POLL_NONE = 0, POLL_FIND, POLL_STEPS };

struct run {
    fr_emrd *d;
    char id[FR_RUN_ID_MAX];
    json_t *rec; /* the persisted record */
    fr_emr_wf wf;
    fr_emr_action queue[QMAX];
    size_t qn;
    int busy;      /* a foreground action is executing */
    int finished;
    int handles;   /* open uv handles */
    fr_aws_op *op; /* foreground */
    fr_aws_op *poll_op;
    uv_timer_t timer;      /* delayed actions */
    uv_timer_t poll_timer; /* WAIT / WAIT_STEPS polling */
    int poll_kind;
    fr_emr_action poll_act;
    uint64_t poll_delay;
    int wait_line;
    char cluster_state[32];
    bool types_checked;
    bool early_submitted; /* steps handed to a self-terminating test cluster while it started */
    bool early_busy;
    /* what the actions need */
    char name[257];
    char path[600];
    char source_id[32];
    char test_id[32];
    char tier[16];
    char ptype[16]; /* the parameter's Type, as read at BACKUP */
    json_t *not_ours; /* ids of clusters of that name with other types: never the test cluster */
    void *op_ctx;     /* the context of the call in r->op when it has one (revert, terminate) */
    char *orig_value, *new_value;
    int64_t orig_version, written_version;
    char from[FR_EMR_NODE__COUNT][40], to[FR_EMR_NODE__COUNT][40];
    int64_t invoked_at_ms;
    json_t *steps_sel;
    json_t *copied;   /* [{"config": StepConfig, "name", "old_ms"}] */
    json_t *step_ids; /* ids on the test cluster, in copied order */
    json_t *step_res; /* [{"state", "new_ms"}] */
    double old_hourly, new_hourly;
    int64_t step_started_ms;
    struct run *next;
};

static void pump(struct run *r);
static void feed(struct run *r, fr_emr_wf_event *ev);

static const char *const TERMINAL[] = {"DONE", "FAILED", "CANCELLED", "CONFLICT", NULL};

/* ---- record keeping ---- */

static void save(struct run *r)
{
    fr_run_put(r->d->journal, r->id, r->rec, emrd_now());
}

static double elapsed_s(struct run *r)
{
    return r->step_started_ms ? (double)(emrd_now() - r->step_started_ms) / 1000.0 : 0;
}

/* A line of the progress narrative (the seed's "> Backed up ..."):
 * stored in the run record and published as run.step. */
static int log_line(struct run *r, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int log_line(struct run *r, const char *level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *log = json_object_get(r->rec, "log");
    int n = (int)json_array_size(log);
    char ts[40];
    fr_time_iso8601(ts, sizeof(ts), emrd_now(), 1);
    json_t *l = json_pack("{s:i, s:s, s:s, s:s, s:f, s:s}", "n", n, "ts", ts, "message", msg, "step",
                          fr_emr_wf_state_name(r->wf.state), "elapsed_s", elapsed_s(r), "level", level);
    json_array_append(log, l);
    json_object_set_new(l, "run_id", json_string(r->id));
    fr_feed_publish(r->d->app->feed, "run.step", l, NULL);
    save(r);
    return n;
}

/* Rewrites line n in place (the live "Waiting for cluster ready... (2m 34s)"). */
static void update_line(struct run *r, int n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void update_line(struct run *r, int n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *l = json_array_get(json_object_get(r->rec, "log"), (size_t)n);
    if (!l)
        return;
    json_object_set_new(l, "message", json_string(msg));
    json_object_set_new(l, "elapsed_s", json_real(elapsed_s(r)));
    json_t *ev = json_deep_copy(l);
    json_object_set_new(ev, "run_id", json_string(r->id));
    fr_feed_publish(r->d->app->feed, "run.progress", ev, NULL);
    save(r);
}

/* The run's live line: written the first time, then rewritten in place. */
static void live_line(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void live_line(struct run *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->wait_line < 0)
        r->wait_line = log_line(r, "info", "%s", msg);
    else
        update_line(r, r->wait_line, "%s", msg);
}

/* How the event that ends a step went, for the step's own state: a run
 * that ends FAILED after a clean termination still terminated cleanly. */
static const char *step_result(fr_emr_wf_event_type t)
{
    switch (t) {
    case FR_EMR_EV_CANCEL:
        return "cancelled";
    case FR_EMR_EV_ANALYSIS_FAILED:
    case FR_EMR_EV_RECOMMEND_REFUSED:
    case FR_EMR_EV_BACKUP_FAILED:
    case FR_EMR_EV_MODIFY_FAILED:
    case FR_EMR_EV_INVOKE_FAILED:
    case FR_EMR_EV_CLUSTER_MISMATCH:
    case FR_EMR_EV_CLUSTER_FAILED:
    case FR_EMR_EV_WAIT_TIMEOUT:
    case FR_EMR_EV_REVERT_CONFLICT:
    case FR_EMR_EV_REVERT_FAILED:
    case FR_EMR_EV_STEPS_COPY_FAILED:
    case FR_EMR_EV_STEPS_SUBMIT_FAILED:
    case FR_EMR_EV_STEPS_FAILED:
    case FR_EMR_EV_STEPS_TIMEOUT:
    case FR_EMR_EV_TERMINATE_FAILED:
        return "failed";
    default:
        return "done";
    }
}

static void step_transition(struct run *r, fr_emr_wf_state from, fr_emr_wf_state to, const char *result)
{
    char ts[40];
    fr_time_iso8601(ts, sizeof(ts), emrd_now(), 0);
    json_t *steps = json_object_get(r->rec, "steps");
    json_t *last = json_array_get(steps, json_array_size(steps) - 1);
    if (last && !json_object_get(last, "ended")) {
        json_object_set_new(last, "ended", json_string(ts));
        json_object_set_new(last, "state", json_string(result));
    }
    if (!fr_emr_wf_is_terminal(to))
        json_array_append_new(steps, json_pack("{s:s, s:s, s:s}", "name", fr_emr_wf_state_name(to), "state",
                                               "started", "started", ts));
    json_object_set_new(r->rec, "state", json_string(fr_emr_wf_state_name(to)));
    json_object_set_new(r->rec, "wf", fr_emr_wf_to_json(&r->wf));
    r->step_started_ms = emrd_now();
    fr_feed_publish(r->d->app->feed, "run.state",
                    json_pack("{s:s, s:s, s:s}", "run_id", r->id, "from", fr_emr_wf_state_name(from), "to",
                              fr_emr_wf_state_name(to)),
                    NULL);
    save(r);
}

static void step_detail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step_detail(struct run *r, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *steps = json_object_get(r->rec, "steps");
    json_t *last = json_array_get(steps, json_array_size(steps) - 1);
    if (last)
        json_object_set_new(last, "detail", json_string(msg));
}

static const char *aws_msg(const fr_aws_result *res, char *buf, size_t n)
{
    snprintf(buf, n, "%.100s%s%.150s", res->error ? res->error->code : fr_errname(res->err),
             res->error && res->error->message[0] ? ": " : "", res->error ? res->error->message : "");
    return buf;
}

/* ---- lifetime ---- */

static void run_unlink(struct run *r)
{
    for (struct run **pp = &r->d->runs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
}

static void run_free(struct run *r)
{
    json_decref(r->rec);
    free(r->orig_value);
    free(r->new_value);
    json_decref(r->steps_sel);
    json_decref(r->not_ours);
    json_decref(r->copied);
    json_decref(r->step_ids);
    json_decref(r->step_res);
    free(r);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct run *r = h->data;
    if (--r->handles == 0)
        run_free(r);
}

/* Unlinks the run and frees it once its timers are closed. */
static void run_release(struct run *r)
{
    run_unlink(r);
    r->finished = 1;
    if (r->op) {
        fr_aws_cancel(r->op); /* no callback: the call's context is freed here */
        free(r->op_ctx);
    }
    r->op_ctx = NULL;
    if (r->poll_op)
        fr_aws_cancel(r->poll_op);
    r->op = r->poll_op = NULL;
    uv_close((uv_handle_t *)&r->timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->poll_timer, on_handle_closed);
}

static struct run *run_new(fr_emrd *d, const char *id, json_t *rec)
{
    struct run *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->d = d;
    fr_strlcpy(r->id, id, sizeof(r->id));
    r->rec = rec;
    uv_timer_init(d->app->loop, &r->timer);
    uv_timer_init(d->app->loop, &r->poll_timer);
    r->timer.data = r->poll_timer.data = r;
    r->handles = 2;
    r->wait_line = -1;
    fr_strlcpy(r->name, json_string_value(json_object_get(rec, "cluster_name")) ?: "", sizeof(r->name));
    fr_strlcpy(r->path, json_string_value(json_object_get(rec, "param_path")) ?: "", sizeof(r->path));
    fr_strlcpy(r->source_id, json_string_value(json_object_get(rec, "source_cluster_id")) ?: "", sizeof(r->source_id));
    fr_strlcpy(r->test_id, json_string_value(json_object_get(rec, "test_cluster_id")) ?: "", sizeof(r->test_id));
    const json_t *rec_map = json_object_get(rec, "recommendation");
    for (int n = FR_EMR_NODE_CORE; n < FR_EMR_NODE__COUNT; n++) {
        const json_t *m = json_object_get(rec_map, fr_emr_node_name((fr_emr_node)n));
        fr_strlcpy(r->from[n], json_string_value(json_object_get(m, "from")) ?: "", sizeof(r->from[n]));
        fr_strlcpy(r->to[n], json_string_value(json_object_get(m, "to")) ?: "", sizeof(r->to[n]));
    }
    const json_t *est = json_object_get(rec, "estimate");
    r->old_hourly = json_number_value(json_object_get(est, "old_hourly"));
    r->new_hourly = json_number_value(json_object_get(est, "new_hourly"));
    r->steps_sel = json_incref(json_object_get(rec, "steps_selected"));
    if (json_is_null(r->steps_sel)) {
        json_decref(r->steps_sel);
        r->steps_sel = NULL;
    }
    r->not_ours = json_is_array(json_object_get(rec, "other_clusters")) ? json_deep_copy(json_object_get(rec, "other_clusters"))
                                                                          : json_array();
    r->next = d->runs;
    d->runs = r;
    return r;
}

static struct run *run_find(fr_emrd *d, const char *id)
{
    for (struct run *r = d->runs; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

/* ---- events ---- */

static void ev_init(fr_emr_wf_event *ev, fr_emr_wf_event_type t)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = t;
    ev->now_ms = emrd_now();
}

static void ev_fire(struct run *r, fr_emr_wf_event_type t, const char *detail)
{
    fr_emr_wf_event ev;
    ev_init(&ev, t);
    if (detail)
        fr_strlcpy(ev.detail, detail, sizeof(ev.detail));
    feed(r, &ev);
}

/* A side effect that failed: journaled as "<step>.failed" with the error,
 * told in the run log ("<what> failed: ..."), and fed to the workflow. */
static void step_failed(struct run *r, const char *step, const char *what, fr_emr_wf_event_type t, const char *m)
{
    fr_journal_append(r->d->journal, r->id, step, "failed", json_pack("{s:s}", "error", m), NULL, NULL);
    log_line(r, "error", "%s failed: %s", what, m);
    ev_fire(r, t, m);
}

static void ev_fire_version(struct run *r, fr_emr_wf_event_type t, int64_t version)
{
    fr_emr_wf_event ev;
    ev_init(&ev, t);
    ev.version = version;
    feed(r, &ev);
}

static void ev_fire_cluster(struct run *r, fr_emr_wf_event_type t, const char *cluster_id)
{
    fr_emr_wf_event ev;
    ev_init(&ev, t);
    fr_strlcpy(ev.cluster_id, cluster_id, sizeof(ev.cluster_id));
    feed(r, &ev);
}

/* ---- proposals expire ---- */

/* When a proposal stops being approvable: its creation + emr.proposal_ttl
 * (the analysis behind it goes stale, and the parameter may have moved). */
static int64_t proposal_deadline(const struct run *r)
{
    int64_t created = 0;
    const char *c = json_string_value(json_object_get(r->rec, "created"));
    if (!c || fr_time_parse(c, &created) != 0)
        return INT64_MAX;
    return created + (int64_t)r->d->app->cfg.emr_proposal_ttl_ms;
}

static void expire_proposal(struct run *r)
{
    uint64_t ttl = r->d->app->cfg.emr_proposal_ttl_ms;
    char t[32];
    if (ttl % 3600000 == 0)
        snprintf(t, sizeof(t), "%llu h", (unsigned long long)(ttl / 3600000));
    else
        snprintf(t, sizeof(t), "%llu min", (unsigned long long)(ttl / 60000));
    log_line(r, "info", "The proposal expired: it was not approved within %s. Analyze again for a fresh one.", t);
    fr_audit(r->id, "run.expired", json_pack("{s:s}", "cluster_name", r->name));
    fr_journal_append(r->d->journal, r->id, "CANCEL", "note", json_pack("{s:s}", "principal", "expiry"), NULL, NULL);
    ev_fire(r, FR_EMR_EV_CANCEL, "expiry (not approved within emr.proposal_ttl)");
}

static void on_proposal_timer(uv_timer_t *t);

/* The run's timer is idle while it awaits approval; approval stops it. */
static void arm_proposal_timer(struct run *r)
{
    int64_t deadline = proposal_deadline(r);
    if (deadline == INT64_MAX)
        return;
    int64_t left = deadline - emrd_now();
    if (left <= 0) {
        expire_proposal(r);
        return;
    }
    uv_timer_start(&r->timer, on_proposal_timer, (uint64_t)left, 0);
}

static void on_proposal_timer(uv_timer_t *t)
{
    struct run *r = t->data;
    if (!r->finished && r->wf.state == FR_EMR_WF_AWAIT_APPROVAL)
        arm_proposal_timer(r);
}

static void enqueue(struct run *r, const fr_emr_wf_actions *acts)
{
    for (size_t i = 0; i < acts->n && r->qn < QMAX; i++) {
        if (acts->a[i].type == FR_EMR_ACT_AWAIT_APPROVAL || acts->a[i].type == FR_EMR_ACT_FETCH_METRICS ||
            acts->a[i].type == FR_EMR_ACT_RECOMMEND)
            continue; /* done before the run existed (the proposal) */
        r->queue[r->qn++] = acts->a[i];
    }
}

static void feed(struct run *r, fr_emr_wf_event *ev)
{
    if (r->finished)
        return;
    fr_emr_wf next;
    fr_emr_wf_actions acts;
    int rc = fr_emr_wf_next(&r->wf, ev, &next, &acts);
    if (rc) {
        fr_log_debug("emr.run_event_ignored", "{s:s, s:s, s:s}", "run", r->id, "event",
                     fr_emr_wf_event_name(ev->type), "state", fr_emr_wf_state_name(r->wf.state));
        /* a late result is ignored, but what a cancel queued meanwhile
         * must still run */
        pump(r);
        return;
    }
    if (next.revert_stuck && !r->wf.revert_stuck) {
        json_object_set_new(r->rec, "needs_attention",
                            json_pack("{s:s, s:s}", "param_path", r->path, "why",
                                      "the revert keeps failing: the parameter may still hold frugal's value; frugal "
                                      "keeps trying every few minutes"));
        fr_audit(r->id, "param.revert_stuck", json_pack("{s:s, s:s, s:i}", "cluster_name", r->name, "param_path",
                                                        r->path, "attempts", next.revert_attempts));
        fr_log_error("emr.revert_stuck", "{s:s, s:s}", "run", r->id, "param", r->path);
    }
    if (r->wf.revert_stuck && (next.reverted || next.revert_conflict))
        json_object_del(r->rec, "needs_attention");
    fr_emr_wf_state from = r->wf.state;
    r->wf = next;
    if (next.state != from)
        step_transition(r, from, next.state, step_result(ev->type));
    else {
        json_object_set_new(r->rec, "wf", fr_emr_wf_to_json(&r->wf));
        save(r);
    }
    enqueue(r, &acts);
    pump(r);
}

/* ---- actions ---- */

static void exec(struct run *r, const fr_emr_action *a);

struct intent {
    struct run *r;
    fr_emr_action a;
};

static fr_emr_wf_event_type failure_of(fr_emr_act t)
{
    switch (t) {
    case FR_EMR_ACT_PUT_PARAM:
        return FR_EMR_EV_MODIFY_FAILED;
    case FR_EMR_ACT_INVOKE_LAMBDA:
        return FR_EMR_EV_INVOKE_FAILED;
    case FR_EMR_ACT_REVERT_PARAM:
        return FR_EMR_EV_REVERT_FAILED;
    case FR_EMR_ACT_SUBMIT_STEPS:
        return FR_EMR_EV_STEPS_SUBMIT_FAILED;
    default:
        return FR_EMR_EV_TERMINATE_FAILED;
    }
}

static void on_intent_durable(void *arg, int status)
{
    struct intent *it = arg;
    struct run *r = it->r;
    if (status == -ECANCELED || r->finished) { /* shutting down: the journal resumes it */
        free(it);
        return;
    }
    fr_emr_action a = it->a;
    free(it);
    if (status == 0 && r->d->draining && a.type != FR_EMR_ACT_REVERT_PARAM) {
        /* durable, not started: the next start takes it from the journal */
        r->busy = 0;
        return;
    }
    if (status != 0) {
        /* Not durable, so not attempted: nothing outside changed. */
        r->busy = 0;
        char why[160];
        snprintf(why, sizeof(why), "could not journal %s: %s", a.step, fr_strerror(status));
        log_line(r, "error", "%s", why);
        fr_emr_wf_event ev;
        ev_init(&ev, failure_of(a.type));
        fr_strlcpy(ev.detail, why, sizeof(ev.detail));
        feed(r, &ev);
        return;
    }
    exec(r, &a);
}

static json_t *intent_data(struct run *r, fr_emr_action *a)
{
    switch (a->type) {
    case FR_EMR_ACT_PUT_PARAM:
        return fr_emr_jdata_modify_intent(r->path, r->tier, r->orig_version, r->orig_value, r->new_value);
    case FR_EMR_ACT_INVOKE_LAMBDA:
        r->invoked_at_ms = emrd_now();
        return fr_emr_jdata_create_intent(r->d->app->cfg.emr_lambda_function, r->name, r->invoked_at_ms,
                                          r->to[FR_EMR_NODE_CORE], r->to[FR_EMR_NODE_TASK][0] ? r->to[FR_EMR_NODE_TASK] : NULL);
    case FR_EMR_ACT_REVERT_PARAM:
        return fr_emr_jdata_revert_intent(a->expected_version);
    case FR_EMR_ACT_SUBMIT_STEPS: {
        json_t *configs = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(r->copied, i, c) json_array_append(configs, json_object_get(c, "config"));
        return json_pack("{s:s, s:o}", "cluster_id", a->cluster_id[0] ? a->cluster_id : r->test_id, "steps", configs);
    }
    case FR_EMR_ACT_TERMINATE_CLUSTER:
        return fr_emr_jdata_terminate_intent(a->cluster_id[0] ? a->cluster_id : NULL, r->name, a->created_after_ms,
                                             r->to[FR_EMR_NODE_CORE],
                                             r->to[FR_EMR_NODE_TASK][0] ? r->to[FR_EMR_NODE_TASK] : NULL);
    default:
        return json_object();
    }
}

static bool touches_aws(fr_emr_act t)
{
    return t != FR_EMR_ACT_JOURNAL_NOTE && t != FR_EMR_ACT_FINISH && t != FR_EMR_ACT_COMPARE &&
           t != FR_EMR_ACT_WRITE_REPORT;
}

static void on_delay(uv_timer_t *t)
{
    pump(t->data);
}

static void pump(struct run *r)
{
    while (!r->busy && r->qn && !r->finished) {
        fr_emr_action a = r->queue[0];
        if (r->d->draining && a.type == FR_EMR_ACT_INVOKE_LAMBDA) {
            /* stopping before the invoke started: put the parameter back
             * instead of leaving frugal's value in it while frugald is down */
            memmove(r->queue, r->queue + 1, (r->qn - 1) * sizeof(r->queue[0]));
            r->qn--;
            log_line(r, "warn", "Shutting down before the cluster was requested: restoring the config");
            ev_fire(r, FR_EMR_EV_SHUTDOWN, "not invoked");
            return;
        }
        if (r->d->draining && touches_aws(a.type) && a.type != FR_EMR_ACT_REVERT_PARAM)
            return; /* stopping: the journal resumes this at the next start */
        int64_t now = emrd_now();
        if (a.not_before_ms > now) {
            uv_timer_start(&r->timer, on_delay, (uint64_t)(a.not_before_ms - now), 0);
            return;
        }
        memmove(r->queue, r->queue + 1, (r->qn - 1) * sizeof(r->queue[0]));
        r->qn--;
        if (a.journal_before && !(a.type == FR_EMR_ACT_SUBMIT_STEPS && r->early_submitted)) {
            struct intent *it = calloc(1, sizeof(*it));
            it->r = r;
            it->a = a;
            r->busy = 1;
            int rc = fr_journal_append(r->d->journal, r->id, a.step, "intent", intent_data(r, &it->a),
                                       on_intent_durable, it);
            if (rc)
                on_intent_durable(it, rc);
            return;
        }
        exec(r, &a);
    }
}

/* The tier to ask for: Advanced when the value needs it, else none (the
 * parameter keeps the tier it has; an Advanced one cannot go back). */
static const char *param_tier(const char *value)
{
    return value && strlen(value) > fr_emr_tier_limit(FR_EMR_TIER_STANDARD) ? "Advanced" : NULL;
}

static void fg_done(struct run *r)
{
    r->busy = 0;
    r->op = NULL;
}

/* BACKUP */
static void on_backup(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    fg_done(r);
    if (res->err == -ECANCELED)
        return;
    char m[400];
    if (res->err) {
        log_line(r, "error", "Could not read %s: %s", r->path, aws_msg(res, m, sizeof(m)));
        ev_fire(r, FR_EMR_EV_BACKUP_FAILED, m);
        return;
    }
    const json_t *p = json_object_get(res->json, "Parameter");
    const char *v = json_string_value(json_object_get(p, "Value"));
    int64_t version = json_integer_value(json_object_get(p, "Version"));
    fr_strlcpy(r->ptype, json_string_value(json_object_get(p, "Type")) ?: "String", sizeof(r->ptype));
    fr_audit(r->id, "param.read", json_pack("{s:s, s:s, s:I}", "cluster_name", r->name, "param_path", r->path,
                                            "version", (json_int_t)version));
    /* The rewrite is made from the value read now, not from the analysis. */
    fr_emr_rewrite_req req = {0};
    for (int n = FR_EMR_NODE_CORE; n < FR_EMR_NODE__COUNT; n++)
        if (r->to[n][0] && strcmp(r->to[n], r->from[n]) != 0) {
            req.from[n] = r->from[n];
            req.to[n] = r->to[n];
        }
    size_t len = v ? strlen(v) : 0;
    req.tier = len > fr_emr_tier_limit(FR_EMR_TIER_STANDARD) ? FR_EMR_TIER_ADVANCED : FR_EMR_TIER_STANDARD;
    fr_strlcpy(r->tier, req.tier == FR_EMR_TIER_ADVANCED ? "Advanced" : "Standard", sizeof(r->tier));
    fr_emr_rewrite rw;
    char err[300];
    if (!v || fr_emr_param_rewrite(v, len, r->d->catalog, &req, &rw, err, sizeof(err)) != 0) {
        log_line(r, "error", "The config cannot be rewritten safely: %s", v ? err : "empty value");
        ev_fire(r, FR_EMR_EV_BACKUP_FAILED, v ? err : "empty value");
        return;
    }
    free(r->orig_value);
    free(r->new_value);
    r->orig_value = fr_strdup(v);
    r->new_value = fr_strndup(rw.text, rw.len);
    r->orig_version = version;
    json_object_set_new(r->rec, "backup", json_pack("{s:I, s:I, s:s}", "version", (json_int_t)version, "bytes",
                                                  (json_int_t)len, "tier", r->tier));
    json_object_set_new(r->rec, "rewrite", fr_emr_rewrite_to_json(&rw));
    fr_emr_rewrite_free(&rw);
    step_detail(r, "version %lld", (long long)version);
    log_line(r, "info", "Backed up parameter store config (version %lld)", (long long)version);
    ev_fire_version(r, FR_EMR_EV_BACKUP_DONE, version);
}

/* MODIFY */
static void on_put(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    fg_done(r);
    if (res->err == -ECANCELED)
        return;
    char m[400];
    if (res->err) {
        aws_msg(res, m, sizeof(m));
        step_failed(r, "MODIFY", "Modifying the config", FR_EMR_EV_MODIFY_FAILED, m);
        return;
    }
    int64_t version = json_integer_value(json_object_get(res->json, "Version"));
    r->written_version = version;
    fr_crash_point("emr", "MODIFY.effect"); /* done, not yet journaled */
    fr_journal_append(r->d->journal, r->id, "MODIFY", "done", fr_emr_jdata_modify_done(version), NULL, NULL);
    json_t *changes = json_array();
    for (int n = FR_EMR_NODE_CORE; n < FR_EMR_NODE__COUNT; n++)
        if (r->to[n][0] && strcmp(r->to[n], r->from[n]) != 0)
            json_array_append_new(changes, json_pack("{s:s, s:s, s:s}", "node", fr_emr_node_name((fr_emr_node)n),
                                                     "before", r->from[n], "after", r->to[n]));
    json_t *gv = json_object_get(json_object_get(r->rec, "recommendation"), "graviton_ami");
    fr_audit(r->id, "param.modify",
             json_pack("{s:s, s:s, s:o, s:O, s:I, s:I}", "cluster_name", r->name, "param_path", r->path, "changes",
                       changes, "graviton_ami", gv ? gv : json_null(), "version_before", (json_int_t)r->orig_version,
                       "version_after", (json_int_t)version));
    for (int n = FR_EMR_NODE_CORE; n < FR_EMR_NODE__COUNT; n++)
        if (r->to[n][0] && strcmp(r->to[n], r->from[n]) != 0)
            log_line(r, "info", "Modified %s: %s -> %s", fr_emr_node_name((fr_emr_node)n), r->from[n], r->to[n]);
    if (json_is_object(gv))
        log_line(r, "info", "Set GravitonAmi: %s -> %s", json_is_true(json_object_get(gv, "from")) ? "true" : "false",
                 json_is_true(json_object_get(gv, "to")) ? "true" : "false");
    step_detail(r, "version %lld", (long long)version);
    ev_fire_version(r, FR_EMR_EV_MODIFY_DONE, version);
}

/* CREATE */
static void on_invoke(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    fg_done(r);
    if (res->err == -ECANCELED)
        return;
    json_t *payload = fr_emr_lambda_payload(r->name);
    bool function_error = res->error && res->error->kind == FR_AWS_ERR_FUNCTION;
    char m[400] = "";
    int status = 0;
    char cid[32] = "";
    bool unknown = false; /* the function ran; its answer is outside the contract */
    if (res->err)
        aws_msg(res, m, sizeof(m));
    else
        unknown = fr_emr_lambda_answer(res->body, res->body_len, &status, cid, sizeof(cid), m, sizeof(m)) != 0;
    fr_audit(r->id, "lambda.invoke",
             json_pack("{s:s, s:s, s:o, s:I, s:s, s:b}", "cluster_name", r->name, "lambda_function",
                       r->d->app->cfg.emr_lambda_function, "payload", payload, "status", (json_int_t)res->http_status,
                       "error", m, "function_error", function_error));
    if (res->err || unknown) {
        /* A timeout or reset leaves it open whether the function ran; an
         * error answer from Lambda or from the function means it did not
         * create the cluster (the function reads the config first). */
        /* A function that timed out may have created the cluster before it
         * did; so may a Lambda 5xx, and so may a function that ran and
         * answered outside the contract (garbage, a failure statusCode). */
        bool ambiguous = unknown || !res->error || res->error->kind == FR_AWS_ERR_TRANSPORT ||
                         res->err == -ETIMEDOUT || res->err == -ECONNRESET || res->http_status >= 500 ||
                         (function_error && strstr(res->error->message, "timed out"));
        if (unknown)
            fr_crash_point("emr", "CREATE.effect"); /* ran, not yet journaled */
        fr_journal_append(r->d->journal, r->id, "CREATE", "failed", fr_emr_jdata_create_failed(m, ambiguous), NULL,
                          NULL);
        log_line(r, "error", "Cluster creation failed: %s", m);
        if (unknown)
            log_line(r, "warn", "The Lambda may have created the cluster: waiting for it, to revert and terminate");
        fr_emr_wf_event ev;
        ev_init(&ev, FR_EMR_EV_INVOKE_FAILED);
        ev.ambiguous = ambiguous;
        fr_strlcpy(ev.detail, m, sizeof(ev.detail));
        feed(r, &ev);
        return;
    }
    /* The answer may name the cluster; the WAIT finds and confirms it anyway. */
    fr_crash_point("emr", "CREATE.effect"); /* done, not yet journaled */
    fr_journal_append(r->d->journal, r->id, "CREATE", "done", fr_emr_jdata_create_done(status, cid), NULL, NULL);
    log_line(r, "info", "Cluster creation submitted%s%s", cid[0] ? ": " : "", cid);
    fr_emr_wf_event ev;
    ev_init(&ev, FR_EMR_EV_INVOKE_DONE);
    fr_strlcpy(ev.cluster_id, cid, sizeof(ev.cluster_id));
    feed(r, &ev);
}

/* REVERT */
struct revert_ctx {
    struct run *r;
    int64_t expected;
    int64_t found_version;
};

static void on_revert_put(const fr_aws_result *res, void *arg)
{
    struct revert_ctx *c = arg;
    struct run *r = c->r;
    r->op_ctx = NULL;
    free(c);
    fg_done(r);
    if (res->err == -ECANCELED)
        return;
    char m[400];
    if (res->err) {
        aws_msg(res, m, sizeof(m));
        fr_journal_append(r->d->journal, r->id, "REVERT", "failed", fr_emr_jdata_revert_failed(false, 0, m), NULL, NULL);
        fr_audit(r->id, "param.revert", json_pack("{s:s, s:s, s:b, s:s}", "cluster_name", r->name, "param_path", r->path,
                                                  "success", 0, "error", m));
        log_line(r, "error", "Reverting the config failed: %s", m);
        ev_fire(r, FR_EMR_EV_REVERT_FAILED, m);
        return;
    }
    int64_t v = json_integer_value(json_object_get(res->json, "Version"));
    fr_journal_append(r->d->journal, r->id, "REVERT", "done", fr_emr_jdata_revert_done(v, false), NULL, NULL);
    fr_crash_point("emr", "REVERT.effect"); /* done, not yet journaled */
    fr_audit(r->id, "param.revert", json_pack("{s:s, s:s, s:b, s:I}", "cluster_name", r->name, "param_path", r->path,
                                              "success", 1, "version", (json_int_t)v));
    step_detail(r, "restored as version %lld", (long long)v);
    log_line(r, "info", "Reverted parameter store to original config");
    ev_fire(r, FR_EMR_EV_REVERT_DONE, NULL);
}

static void on_revert_read(const fr_aws_result *res, void *arg)
{
    struct revert_ctx *c = arg;
    struct run *r = c->r;
    r->op = NULL;
    if (res->err == -ECANCELED) {
        r->op_ctx = NULL;
        free(c);
        r->busy = 0;
        return;
    }
    char m[400];
    if (res->err) {
        aws_msg(res, m, sizeof(m));
        r->op_ctx = NULL;
        free(c);
        fg_done(r);
        fr_journal_append(r->d->journal, r->id, "REVERT", "failed", fr_emr_jdata_revert_failed(false, 0, m), NULL, NULL);
        log_line(r, "error", "Reading the config before the revert failed: %s", m);
        ev_fire(r, FR_EMR_EV_REVERT_FAILED, m);
        return;
    }
    const json_t *p = json_object_get(res->json, "Parameter");
    const char *cur = json_string_value(json_object_get(p, "Value"));
    int64_t cv = json_integer_value(json_object_get(p, "Version"));
    fr_emr_revert_decision dec = fr_emr_revert_decide(r->orig_version, r->orig_value ? r->orig_value : "",
                                                      r->new_value ? r->new_value : "", c->expected, cv,
                                                      cur ? cur : "");
    if (dec == FR_EMR_REVERT_NOOP) {
        r->op_ctx = NULL;
        free(c);
        fg_done(r);
        fr_journal_append(r->d->journal, r->id, "REVERT", "done", fr_emr_jdata_revert_done(cv, true), NULL, NULL);
        fr_audit(r->id, "param.revert", json_pack("{s:s, s:s, s:b, s:b, s:I}", "cluster_name", r->name, "param_path",
                                                  r->path, "success", 1, "noop", 1, "version", (json_int_t)cv));
        log_line(r, "info", "Parameter store already holds the original config");
        ev_fire(r, FR_EMR_EV_REVERT_DONE, NULL);
        return;
    }
    if (dec == FR_EMR_REVERT_CONFLICT) {
        r->op_ctx = NULL;
        free(c);
        fg_done(r);
        fr_journal_append(r->d->journal, r->id, "REVERT", "failed",
                          fr_emr_jdata_revert_failed(true, cv, "changed by someone else"), NULL, NULL);
        json_object_set_new(r->rec, "conflict",
                            json_pack("{s:s, s:I, s:I, s:I, s:s}", "param_path", r->path, "our_version",
                                      (json_int_t)r->written_version, "found_version", (json_int_t)cv,
                                      "original_version", (json_int_t)r->orig_version, "original_value",
                                      r->orig_value ? r->orig_value : ""));
        fr_audit(r->id, "param.revert",
                 json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:s}", "cluster_name", r->name, "param_path", r->path,
                           "success", 0, "conflict", 1, "found_version", (json_int_t)cv, "our_version",
                           (json_int_t)r->written_version, "action",
                           "not overwritten: restore the original value (in the run record) if it should be"));
        log_line(r, "error",
                 "CONFLICT: %s was changed by someone else (version %lld); it was not overwritten", r->path,
                 (long long)cv);
        ev_fire_version(r, FR_EMR_EV_REVERT_CONFLICT, cv);
        return;
    }
    /* Sent once: a resend after a lost answer could land after someone
     * else's write and overwrite it. A failure comes back here through a
     * fresh read and decision. The type stays what it is; a value over the
     * Standard limit needs the Advanced tier (omitted, the tier is kept). */
    const char *ptype = json_string_value(json_object_get(p, "Type"));
    fr_aws_ssm_put_in in = {.name = r->path,
                            .value = r->orig_value,
                            .type = ptype ? ptype : "String",
                            .tier = param_tier(r->orig_value),
                            .overwrite = true,
                            .once = true};
    int rc = fr_aws_ssm_put_parameter(r->d->aws, &in, on_revert_put, c, &r->op);
    if (rc) {
        fr_aws_result fail = {.err = rc};
        on_revert_put(&fail, c);
    }
}

/* WAIT: find the test cluster and confirm it */
static void poll_schedule(struct run *r);
static void poll_stop(struct run *r);
static void on_early_copy(const fr_aws_result *res, void *arg);

static void poll_done_fail(struct run *r)
{
    r->poll_op = NULL;
}

static bool is_not_ours(const struct run *r, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(r->not_ours, i, x) if (strcmp(json_string_value(x), id) == 0) return true;
    return false;
}

static int find_types_match(struct run *r, const json_t *groups)
{
    /* every CORE/TASK slot's type must be one the rewrite produced */
    size_t i;
    json_t *g;
    int seen = 0, ok = 1;
    json_array_foreach(groups, i, g)
    {
        const char *role = json_string_value(json_object_get(g, "InstanceFleetType"));
        if (!role)
            role = json_string_value(json_object_get(g, "InstanceGroupType"));
        fr_emr_node node;
        if (!role || fr_emr_node_parse(role, &node) != 0 || node == FR_EMR_NODE_MASTER || !r->to[node][0])
            continue;
        const json_t *specs = json_object_get(g, "InstanceTypeSpecifications");
        if (specs) {
            size_t j;
            json_t *s;
            json_array_foreach(specs, j, s)
            {
                const char *t = json_string_value(json_object_get(s, "InstanceType"));
                seen++;
                if (t && strcmp(t, r->to[node]) != 0 && strcmp(t, r->from[node]) == 0)
                    ok = 0;
            }
        } else {
            const char *t = json_string_value(json_object_get(g, "InstanceType"));
            seen++;
            if (t && strcmp(t, r->to[node]) != 0)
                ok = 0;
        }
    }
    return seen ? ok : -1;
}

static void on_find_types(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    poll_done_fail(r);
    if (res->err == -ECANCELED || r->finished)
        return;
    if (res->err) {
        poll_schedule(r);
        return;
    }
    const json_t *groups = json_object_get(res->json, "InstanceFleets");
    if (!groups)
        groups = json_object_get(res->json, "InstanceGroups");
    int m = find_types_match(r, groups);
    if (m == 0) {
        char id[32];
        fr_strlcpy(id, r->test_id, sizeof(id));
        ev_fire_cluster(r, FR_EMR_EV_CLUSTER_MISMATCH, id);
        if (r->finished)
            return;
        if (r->wf.state != FR_EMR_WF_WAIT) { /* the Lambda's own cluster, wrong: the run stops waiting */
            log_line(r, "error", "Cluster %s does not carry the recommended types", id);
            poll_stop(r);
            return;
        }
        /* not the test cluster: left alone, and never taken for it */
        log_line(r, "warn", "Cluster %s of that name carries other instance types: not the test cluster, left alone",
                 id);
        json_array_append_new(r->not_ours, json_string(id));
        json_object_set(r->rec, "other_clusters", r->not_ours);
        r->test_id[0] = '\0';
        json_object_set_new(r->rec, "test_cluster_id", json_null());
        r->types_checked = false;
        save(r);
        poll_schedule(r);
        return;
    }
    if (m == 1)
        r->types_checked = true;
    poll_schedule(r);
}

static void on_auto_terminate_set(const fr_aws_result *res, void *arg)
{
    (void)arg;
    if (res->err && res->err != -ECANCELED)
        fr_log_warn("emr.auto_terminate_failed", "{s:s}", "error", res->error ? res->error->code : fr_errname(res->err));
}

static void on_find_describe(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    poll_done_fail(r);
    if (res->err == -ECANCELED || r->finished)
        return;
    if (res->err) {
        poll_schedule(r);
        return;
    }
    const json_t *st = json_object_get(json_object_get(res->json, "Cluster"), "Status");
    const char *state = json_string_value(json_object_get(st, "State")) ?: "?";
    if (strcmp(state, r->cluster_state) != 0) {
        fr_audit(r->id, "cluster.status",
                 json_pack("{s:s, s:s, s:s, s:s}", "cluster_name", r->name, "new_cluster_id", r->test_id, "old_status",
                           r->cluster_state[0] ? r->cluster_state : "NONE", "new_status", state));
        fr_strlcpy(r->cluster_state, state, sizeof(r->cluster_state));
    }
    const json_t *cl = json_object_get(res->json, "Cluster");
    bool self_ending = json_is_true(json_object_get(cl, "AutoTerminate"));
    bool was_ready = json_number_value(json_object_get(json_object_get(st, "Timeline"), "ReadyDateTime")) > 0;
    const char *code = json_string_value(json_object_get(json_object_get(st, "StateChangeReason"), "Code")) ?: "";
    if (self_ending && !r->early_submitted && !r->early_busy && r->types_checked &&
        (strcmp(state, "STARTING") == 0 || strcmp(state, "BOOTSTRAPPING") == 0)) {
        r->early_busy = true;
        int rc = fr_aws_emr_list_steps(r->d->aws, r->source_id, NULL, 0, NULL, on_early_copy, r, &r->poll_op);
        if (rc)
            r->early_busy = false;
        else
            return;
    }
    /* ready, ran the steps it was given, and ended by itself */
    bool ended_after_ready = strncmp(state, "TERMINAT", 8) == 0 && was_ready && strcmp(code, "ALL_STEPS_COMPLETED") == 0;
    if (strcmp(state, "WAITING") == 0 || strcmp(state, "RUNNING") == 0 || (ended_after_ready && r->types_checked)) {
        if (!r->types_checked) {
            poll_schedule(r); /* the type check runs on the next round */
            return;
        }
        if (r->wait_line >= 0)
            update_line(r, r->wait_line, "Waiting for cluster ready...");
        log_line(r, "info", "Cluster is %s%s", state, ended_after_ready ? " (it ran its steps and ended)" : "");
        step_detail(r, "%s %s", r->test_id, state);
        /* EMR ends the cluster itself if frugal is down past this */
        json_t *req = json_pack("{s:s, s:{s:I}}", "ClusterId", r->test_id, "AutoTerminationPolicy", "IdleTimeout",
                                (json_int_t)r->d->app->cfg.emr_auto_terminate_minutes * 60);
        fr_aws_call(r->d->aws, FR_SVC_EMR, "PutAutoTerminationPolicy", req, NULL, on_auto_terminate_set, NULL, NULL);
        fr_audit(r->id, "cluster.auto_terminate",
                 json_pack("{s:s, s:s, s:I}", "cluster_name", r->name, "new_cluster_id", r->test_id, "idle_timeout_s",
                           (json_int_t)r->d->app->cfg.emr_auto_terminate_minutes * 60));
        fr_emr_wf_event ev;
        ev_init(&ev, FR_EMR_EV_CLUSTER_CONFIRMED);
        fr_strlcpy(ev.cluster_id, r->test_id, sizeof(ev.cluster_id));
        poll_stop(r);
        feed(r, &ev);
        return;
    }
    if (strncmp(state, "TERMINAT", 8) == 0) {
        const char *why = json_string_value(json_object_get(json_object_get(st, "StateChangeReason"), "Message"));
        if (ended_after_ready)
            why = "it ended on its own after starting (KeepJobFlowAliveWhenNoSteps is false and it had no steps)";
        log_line(r, "error", "Cluster %s ended while starting: %s", r->test_id, why ? why : state);
        fr_emr_wf_event ev;
        ev_init(&ev, FR_EMR_EV_CLUSTER_FAILED);
        fr_strlcpy(ev.cluster_id, r->test_id, sizeof(ev.cluster_id));
        fr_strlcpy(ev.detail, why ? why : state, sizeof(ev.detail));
        poll_stop(r);
        feed(r, &ev);
        return;
    }
    live_line(r, "Waiting for cluster ready...");
    poll_schedule(r);
}

static void on_find_list(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    poll_done_fail(r);
    if (res->err == -ECANCELED || r->finished)
        return;
    if (res->err) {
        poll_schedule(r);
        return;
    }
    const char *best = NULL;
    double best_t = 0;
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(res->json, "Clusters"), i, cl)
    {
        const char *name = json_string_value(json_object_get(cl, "Name"));
        const char *id = json_string_value(json_object_get(cl, "Id"));
        double t = json_number_value(json_object_get(json_object_get(json_object_get(cl, "Status"), "Timeline"),
                                                     "CreationDateTime"));
        if (!name || !id || strcmp(name, r->name) != 0 || strcmp(id, r->source_id) == 0 || is_not_ours(r, id))
            continue;
        if (t * 1000.0 < (double)r->poll_act.created_after_ms)
            continue;
        if (t > best_t) {
            best_t = t;
            best = id;
        }
    }
    if (!best) {
        live_line(r, "Waiting for the Lambda to create the cluster...");
        poll_schedule(r);
        return;
    }
    fr_strlcpy(r->test_id, best, sizeof(r->test_id));
    json_object_set_new(r->rec, "test_cluster_id", json_string(best));
    live_line(r, "Cluster %s created", best);
    r->wait_line = -1;
    ev_fire_cluster(r, FR_EMR_EV_CLUSTER_FOUND, best);
    poll_schedule(r);
}

/* WAIT_STEPS */
static void on_steps_poll(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    poll_done_fail(r);
    if (res->err == -ECANCELED || r->finished)
        return;
    if (res->err) {
        poll_schedule(r);
        return;
    }
    size_t n = json_array_size(r->step_ids), done = 0, failed = 0;
    json_decref(r->step_res);
    r->step_res = json_array();
    for (size_t k = 0; k < n; k++) {
        const char *want = json_string_value(json_array_get(r->step_ids, k));
        json_t *res_k = json_pack("{s:s, s:I}", "state", "PENDING", "new_ms", (json_int_t)-1);
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(res->json, "Steps"), i, s)
        {
            if (strcmp(json_string_value(json_object_get(s, "Id")) ?: "", want) != 0)
                continue;
            const json_t *st = json_object_get(s, "Status");
            const char *state = json_string_value(json_object_get(st, "State")) ?: "?";
            const json_t *tl = json_object_get(st, "Timeline");
            double t0 = json_number_value(json_object_get(tl, "StartDateTime"));
            double t1 = json_number_value(json_object_get(tl, "EndDateTime"));
            json_object_set_new(res_k, "state", json_string(state));
            if (t0 > 0 && t1 > 0)
                json_object_set_new(res_k, "new_ms", json_integer((json_int_t)llround((t1 - t0) * 1000.0)));
            if (strcmp(state, "COMPLETED") == 0)
                done++;
            else if (strcmp(state, "FAILED") == 0 || strcmp(state, "CANCELLED") == 0 ||
                     strcmp(state, "INTERRUPTED") == 0)
                failed++;
        }
        json_array_append_new(r->step_res, res_k);
    }
    live_line(r, "Running steps: %zu of %zu finished", done + failed, n);
    if (done + failed == n) {
        r->wait_line = -1;
        poll_stop(r);
        ev_fire(r, failed ? FR_EMR_EV_STEPS_FAILED : FR_EMR_EV_STEPS_DONE,
                failed ? "a step failed on the test cluster" : NULL);
        return;
    }
    poll_schedule(r);
}

static void on_poll_tick(uv_timer_t *t)
{
    struct run *r = t->data;
    if (r->finished || r->d->draining || r->poll_op || r->early_busy)
        return;
    fr_emr_wf_state expect = r->poll_kind == POLL_FIND ? FR_EMR_WF_WAIT : FR_EMR_WF_WAIT_STEPS;
    if (r->wf.state != expect) {
        poll_stop(r);
        return;
    }
    if (r->poll_act.deadline_ms && emrd_now() >= r->poll_act.deadline_ms) {
        int kind = r->poll_kind;
        poll_stop(r);
        if (r->wait_line >= 0)
            update_line(r, r->wait_line, "%s", kind == POLL_FIND ? "Timed out waiting for the test cluster"
                                                                 : "Timed out waiting for the steps");
        r->wait_line = -1;
        ev_fire(r, kind == POLL_FIND ? FR_EMR_EV_WAIT_TIMEOUT : FR_EMR_EV_STEPS_TIMEOUT, "deadline passed");
        return;
    }
    int rc;
    if (r->poll_kind == POLL_STEPS) {
        rc = fr_aws_emr_list_steps(r->d->aws, r->test_id, NULL, 0, NULL, on_steps_poll, r, &r->poll_op);
    } else if (!r->test_id[0]) {
        static const char *const any[] = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING",
                                          "TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"};
        fr_aws_emr_list_clusters_in in = {any, FR_ARRAY_SIZE(any), r->poll_act.created_after_ms, 0};
        rc = fr_aws_emr_list_clusters(r->d->aws, &in, NULL, on_find_list, r, &r->poll_op);
    } else if (!r->types_checked) {
        if (strcmp(r->d->app->cfg.emr_param_prefix, "") == 0 || !json_is_string(json_object_get(r->rec, "collection")) ||
            strcmp(json_string_value(json_object_get(r->rec, "collection")), "INSTANCE_GROUP") != 0)
            rc = fr_aws_emr_list_instance_fleets(r->d->aws, r->test_id, NULL, on_find_types, r, &r->poll_op);
        else
            rc = fr_aws_emr_list_instance_groups(r->d->aws, r->test_id, NULL, on_find_types, r, &r->poll_op);
    } else {
        rc = fr_aws_emr_describe_cluster(r->d->aws, r->test_id, on_find_describe, r, &r->poll_op);
    }
    if (rc)
        poll_schedule(r);
}

static void poll_schedule(struct run *r)
{
    if (r->finished || !r->poll_kind)
        return;
    /* exponential, jittered, between emr.poll_initial and emr.poll_max */
    uint64_t lo = r->d->app->cfg.emr_poll_initial_ms, hi = r->d->app->cfg.emr_poll_max_ms;
    if (!r->poll_delay)
        r->poll_delay = lo;
    else if (r->poll_delay * 2 < hi)
        r->poll_delay *= 2;
    else
        r->poll_delay = hi;
    uint64_t d = r->poll_delay / 2 + (uint64_t)(fr_rand_unit() * (double)(r->poll_delay / 2 + 1));
    uv_timer_start(&r->poll_timer, on_poll_tick, d, 0);
}

static void poll_start(struct run *r, int kind, const fr_emr_action *a)
{
    r->poll_kind = kind;
    r->poll_act = *a;
    r->poll_delay = 0;
    uv_timer_start(&r->poll_timer, on_poll_tick, 0, 0);
}

static void poll_stop(struct run *r)
{
    r->poll_kind = POLL_NONE;
    uv_timer_stop(&r->poll_timer);
    if (r->poll_op) {
        fr_aws_cancel(r->poll_op);
        r->poll_op = NULL;
    }
}

/* COPY_STEPS */
/* The original cluster's steps as StepConfigs for the test cluster. */
static size_t copy_steps_from(struct run *r, const json_t *list_result)
{
    json_decref(r->copied);
    r->copied = json_array();
    const json_t *steps = json_object_get(list_result, "Steps");
    /* EMR lists newest first: replay them in the order they ran */
    for (size_t k = json_array_size(steps); k-- > 0;) {
        const json_t *s = json_array_get(steps, k);
        const char *id = json_string_value(json_object_get(s, "Id"));
        const char *st0 = json_string_value(json_object_get(json_object_get(s, "Status"), "State")) ?: "";
        /* by default only what completed on the original: a step that failed
         * there would fail again and blame the new types */
        if (!r->steps_sel && strcmp(st0, "COMPLETED") != 0)
            continue;
        if (r->steps_sel) {
            int want = 0;
            size_t j;
            json_t *x;
            json_array_foreach(r->steps_sel, j, x) want |= id && strcmp(json_string_value(x) ?: "", id) == 0;
            if (!want)
                continue;
        }
        const json_t *cfg = json_object_get(s, "Config");
        json_t *hj = json_object();
        if (json_object_get(cfg, "Jar"))
            json_object_set(hj, "Jar", json_object_get(cfg, "Jar"));
        if (json_object_get(cfg, "MainClass"))
            json_object_set(hj, "MainClass", json_object_get(cfg, "MainClass"));
        if (json_object_get(cfg, "Args"))
            json_object_set(hj, "Args", json_object_get(cfg, "Args"));
        const json_t *props = json_object_get(cfg, "Properties");
        if (json_is_object(props) && json_object_size(props)) {
            json_t *kv = json_array();
            const char *pk;
            json_t *pv;
            json_object_foreach((json_t *)props, pk, pv) json_array_append_new(kv, json_pack("{s:s, s:O}", "Key", pk, "Value", pv));
            json_object_set_new(hj, "Properties", kv);
        }
        const json_t *tl = json_object_get(json_object_get(s, "Status"), "Timeline");
        double t0 = json_number_value(json_object_get(tl, "StartDateTime"));
        double t1 = json_number_value(json_object_get(tl, "EndDateTime"));
        const char *state = json_string_value(json_object_get(json_object_get(s, "Status"), "State")) ?: "";
        json_int_t old_ms = t0 > 0 && t1 > 0 && strcmp(state, "COMPLETED") == 0 ? (json_int_t)llround((t1 - t0) * 1000.0)
                                                                                  : -1;
        /* CONTINUE: one failing step must not end the comparison of the others */
        json_t *config = json_pack("{s:s, s:s, s:o}", "Name", json_string_value(json_object_get(s, "Name")) ?: "step",
                                   "ActionOnFailure", "CONTINUE", "HadoopJarStep", hj);
        json_array_append_new(r->copied, json_pack("{s:o, s:s, s:I, s:s}", "config", config, "name",
                                                   json_string_value(json_object_get(s, "Name")) ?: "step", "old_ms",
                                                   old_ms, "source_step_id", id ? id : ""));
    }
    json_object_set_new(r->rec, "copied_steps", json_incref(r->copied));
    return json_array_size(r->copied);
}

static void on_copy(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    fg_done(r);
    if (res->err == -ECANCELED)
        return;
    char m[400];
    if (res->err) {
        log_line(r, "error", "Listing the steps of %s failed: %s", r->source_id, aws_msg(res, m, sizeof(m)));
        ev_fire(r, FR_EMR_EV_STEPS_COPY_FAILED, m);
        return;
    }
    size_t n = copy_steps_from(r, res->json);
    step_detail(r, "%zu steps", n);
    log_line(r, "info", "Copied %zu step%s from %s", n, n == 1 ? "" : "s", r->source_id);
    fr_emr_wf_event ev;
    ev_init(&ev, FR_EMR_EV_STEPS_COPIED);
    ev.steps = (int)n;
    feed(r, &ev);
}

/* A test cluster that terminates itself when it has no steps
 * (KeepJobFlowAliveWhenNoSteps false: AutoTerminate) would be gone before
 * Phase 2 could hand it anything, so the copied steps are journaled and
 * submitted while it is still starting. The machine's COPY/SUBMIT actions
 * later complete from what was done here. */
static void on_early_submitted(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    r->early_busy = false;
    r->poll_op = NULL;
    if (res->err == -ECANCELED || r->finished)
        return;
    char m[400];
    if (res->err) {
        aws_msg(res, m, sizeof(m));
        fr_journal_append(r->d->journal, r->id, "SUBMIT_STEPS", "failed", json_pack("{s:s}", "error", m), NULL, NULL);
        log_line(r, "error", "Handing the steps to the starting cluster failed: %s", m);
        poll_schedule(r);
        return;
    }
    json_decref(r->step_ids);
    r->step_ids = json_incref(json_object_get(res->json, "StepIds"));
    if (!r->step_ids)
        r->step_ids = json_array();
    r->early_submitted = true;
    json_object_set_new(r->rec, "early_steps", json_true());
    fr_journal_append(r->d->journal, r->id, "SUBMIT_STEPS", "done", json_pack("{s:O}", "step_ids", r->step_ids), NULL,
                      NULL);
    fr_audit(r->id, "steps.submit", json_pack("{s:s, s:s, s:O, s:b}", "cluster_name", r->name, "new_cluster_id",
                                              r->test_id, "step_ids", r->step_ids, "while_starting", 1));
    size_t ns = json_array_size(r->step_ids);
    log_line(r, "info", "Submitted %zu step%s to %s while it starts (it ends itself when idle)", ns,
             ns == 1 ? "" : "s", r->test_id);
    poll_schedule(r);
}

static void on_early_intent(void *arg, int status)
{
    struct run *r = arg;
    if (status == -ECANCELED || r->finished)
        return;
    if (status != 0) {
        r->early_busy = false;
        poll_schedule(r);
        return;
    }
    json_t *configs = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(r->copied, i, c) json_array_append(configs, json_object_get(c, "config"));
    int rc = fr_aws_emr_add_job_flow_steps(r->d->aws, r->test_id, configs, on_early_submitted, r, &r->poll_op);
    if (rc) {
        fr_aws_result fail = {.err = rc};
        on_early_submitted(&fail, r);
    }
}

static void on_early_copy(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    r->poll_op = NULL;
    if (res->err == -ECANCELED || r->finished)
        return;
    if (res->err || copy_steps_from(r, res->json) == 0) {
        r->early_busy = false; /* Phase 2 will report what it can */
        poll_schedule(r);
        return;
    }
    json_t *configs = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(r->copied, i, c) json_array_append(configs, json_object_get(c, "config"));
    int rc = fr_journal_append(r->d->journal, r->id, "SUBMIT_STEPS", "intent",
                               json_pack("{s:s, s:o, s:b}", "cluster_id", r->test_id, "steps", configs,
                                         "while_starting", 1),
                               on_early_intent, r);
    if (rc) {
        r->early_busy = false;
        poll_schedule(r);
    }
}

/* SUBMIT_STEPS */
static void on_submit(const fr_aws_result *res, void *arg)
{
    struct run *r = arg;
    fg_done(r);
    if (res->err == -ECANCELED)
        return;
    char m[400];
    if (res->err) {
        aws_msg(res, m, sizeof(m));
        step_failed(r, "SUBMIT_STEPS", "Submitting the steps", FR_EMR_EV_STEPS_SUBMIT_FAILED, m);
        return;
    }
    fr_crash_point("emr", "SUBMIT_STEPS.effect");
    json_decref(r->step_ids);
    r->step_ids = json_incref(json_object_get(res->json, "StepIds"));
    if (!r->step_ids)
        r->step_ids = json_array();
    fr_journal_append(r->d->journal, r->id, "SUBMIT_STEPS", "done", json_pack("{s:O}", "step_ids", r->step_ids), NULL,
                      NULL);
    fr_audit(r->id, "steps.submit", json_pack("{s:s, s:s, s:O}", "cluster_name", r->name, "new_cluster_id", r->test_id,
                                              "step_ids", r->step_ids));
    size_t ns = json_array_size(r->step_ids);
    log_line(r, "info", "Submitted %zu step%s to %s", ns, ns == 1 ? "" : "s", r->test_id);
    ev_fire(r, FR_EMR_EV_STEPS_SUBMITTED, NULL);
}

/* TERMINATE */
struct term_ctx {
    struct run *r;
    char ids[4][32]; /* to terminate */
    size_t n;
    /* the search: clusters of that name created in the window, each
     * checked for the recommended types before it may be terminated */
    char cand[8][32];
    size_t ncand, next;
    int64_t created_before_ms;
};

static void on_terminate(const fr_aws_result *res, void *arg)
{
    struct term_ctx *c = arg;
    struct run *r = c->r;
    fg_done(r);
    if (res->err == -ECANCELED) {
        r->op_ctx = NULL;
        free(c);
        return;
    }
    char m[400];
    if (res->err) {
        aws_msg(res, m, sizeof(m));
        r->op_ctx = NULL;
        free(c);
        step_failed(r, "TERMINATE", "Terminating the test cluster", FR_EMR_EV_TERMINATE_FAILED, m);
        return;
    }
    fr_crash_point("emr", "TERMINATE.effect");
    json_t *ids = json_array();
    for (size_t i = 0; i < c->n; i++) {
        json_array_append_new(ids, json_string(c->ids[i]));
        fr_audit(r->id, "cluster.terminate", json_pack("{s:s, s:s}", "cluster_name", r->name, "cluster_id", c->ids[i]));
        log_line(r, "info", "Terminated test cluster %s", c->ids[i]);
    }
    if (!c->n)
        log_line(r, "info", "No test cluster to terminate");
    fr_journal_append(r->d->journal, r->id, "TERMINATE", "done", json_pack("{s:o}", "terminated", ids), NULL, NULL);
    r->op_ctx = NULL;
    free(c);
    ev_fire(r, FR_EMR_EV_TERMINATE_DONE, NULL);
}

static void terminate_ids(struct term_ctx *c)
{
    struct run *r = c->r;
    if (!c->n) {
        fr_aws_result ok = {0};
        on_terminate(&ok, c);
        return;
    }
    const char *ids[4];
    for (size_t i = 0; i < c->n; i++)
        ids[i] = c->ids[i];
    int rc = fr_aws_emr_terminate_job_flows(r->d->aws, ids, c->n, on_terminate, c, &r->op);
    if (rc) {
        fr_aws_result fail = {.err = rc};
        on_terminate(&fail, c);
    }
}

static void term_check_next(struct term_ctx *c);

/* A search call of the termination came back: true when it ended here
 * (cancelled, or failed: the termination fails and is retried). */
static bool term_call_failed(struct term_ctx *c, const fr_aws_result *res)
{
    struct run *r = c->r;
    r->op = NULL;
    if (res->err == -ECANCELED) {
        r->op_ctx = NULL;
        free(c);
        r->busy = 0;
        return true;
    }
    if (res->err) {
        on_terminate(res, c);
        return true;
    }
    return false;
}

/* The candidate c->cand[c->next - 1]'s fleets or groups are in. */
static void on_term_types(const fr_aws_result *res, void *arg)
{
    struct term_ctx *c = arg;
    struct run *r = c->r;
    if (term_call_failed(c, res))
        return;
    const json_t *groups = json_object_get(res->json, "InstanceFleets");
    if (!groups)
        groups = json_object_get(res->json, "InstanceGroups");
    const char *id = c->cand[c->next - 1];
    if (find_types_match(r, groups) == 1 && c->n < 4)
        fr_strlcpy(c->ids[c->n++], id, sizeof(c->ids[0]));
    else
        log_line(r, "info", "Cluster %s of that name does not carry the test's instance types: left alone", id);
    term_check_next(c);
}

static int list_nodes(struct run *r, const char *cluster_id, fr_aws_cb cb, void *arg, fr_aws_op **op)
{
    const char *coll = json_string_value(json_object_get(r->rec, "collection"));
    if (coll && strcmp(coll, "INSTANCE_GROUP") == 0)
        return fr_aws_emr_list_instance_groups(r->d->aws, cluster_id, NULL, cb, arg, op);
    return fr_aws_emr_list_instance_fleets(r->d->aws, cluster_id, NULL, cb, arg, op);
}

static void term_check_next(struct term_ctx *c)
{
    struct run *r = c->r;
    if (c->next < c->ncand) {
        const char *id = c->cand[c->next++];
        int rc = list_nodes(r, id, on_term_types, c, &r->op);
        if (rc) {
            fr_aws_result fail = {.err = rc};
            on_term_types(&fail, c);
        }
        return;
    }
    if (c->n > 1) {
        /* Several clusters look like the test cluster (a scheduled run
         * started from frugal's config while it was in place): terminating
         * the wrong one would kill a production run. */
        json_t *ids = json_array();
        for (size_t i = 0; i < c->n; i++)
            json_array_append_new(ids, json_string(c->ids[i]));
        json_object_set_new(r->rec, "needs_attention",
                            json_pack("{s:s, s:o, s:s}", "param_path", r->path, "clusters", ids, "why",
                                      "several clusters carry the test's instance types; frugal terminated none: "
                                      "terminate the test cluster by hand"));
        log_line(r, "error", "%zu clusters of that name carry the test's types: none terminated (see the run record)",
                 c->n);
        c->n = 0;
    }
    terminate_ids(c);
}

static void on_term_search(const fr_aws_result *res, void *arg)
{
    struct term_ctx *c = arg;
    struct run *r = c->r;
    if (term_call_failed(c, res))
        return;
    /* candidates: the name, created in the window, still alive, not the
     * original, not a cluster already found to be someone else's */
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(res->json, "Clusters"), i, cl)
    {
        const char *name = json_string_value(json_object_get(cl, "Name"));
        const char *id = json_string_value(json_object_get(cl, "Id"));
        double t = json_number_value(json_object_get(json_object_get(json_object_get(cl, "Status"), "Timeline"),
                                                     "CreationDateTime"));
        if (!name || !id || strcmp(name, r->name) != 0 || strcmp(id, r->source_id) == 0 || is_not_ours(r, id) ||
            strlen(id) >= sizeof(c->cand[0]) || c->ncand >= 8)
            continue;
        if (c->created_before_ms && t * 1000.0 > (double)c->created_before_ms)
            continue;
        fr_strlcpy(c->cand[c->ncand++], id, sizeof(c->cand[0]));
    }
    term_check_next(c);
}

/* REPORT */
static void write_report(struct run *r)
{
    size_t n = json_array_size(r->copied);
    fr_emr_step_result *sr = calloc(n ? n : 1, sizeof(*sr));
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(r->copied, i);
        const json_t *x = json_array_get(r->step_res, i);
        sr[i].name = json_string_value(json_object_get(c, "name"));
        sr[i].old_ms = json_integer_value(json_object_get(c, "old_ms"));
        sr[i].new_ms = x ? json_integer_value(json_object_get(x, "new_ms")) : -1;
        sr[i].new_ok = x && strcmp(json_string_value(json_object_get(x, "state")) ?: "", "COMPLETED") == 0;
    }
    fr_emr_comparison cmp;
    fr_emr_compare(sr, n, r->old_hourly, r->new_hourly, &cmp);
    json_t *steps = json_array();
    for (size_t i = 0; i < n; i++) {
        double change = sr[i].old_ms > 0 && sr[i].new_ms >= 0
                            ? 100.0 * ((double)sr[i].new_ms - (double)sr[i].old_ms) / (double)sr[i].old_ms
                            : NAN;
        const json_t *x = json_array_get(r->step_res, i);
        json_t *row = json_pack("{s:s, s:o, s:o, s:o, s:s}", "name", sr[i].name ? sr[i].name : "step", "old_runtime_s",
                                sr[i].old_ms >= 0 ? json_real((double)sr[i].old_ms / 1000.0) : json_null(),
                                "new_runtime_s", sr[i].new_ms >= 0 ? json_real((double)sr[i].new_ms / 1000.0) : json_null(),
                                "change_pct", isnan(change) ? json_null() : json_real(round(change * 10) / 10),
                                "new_state", x ? json_string_value(json_object_get(x, "state")) : "NOT_RUN");
        json_array_append_new(steps, row);
    }
    const json_t *est = json_object_get(r->rec, "estimate");
    json_t *report = json_pack("{s:{s:f, s:f, s:f, s:f, s:f, s:f, s:O}, s:o, s:s, s:b, s:o, s:O, s:s}", "totals",
                               "old_runtime_s", (double)cmp.old_total_ms / 1000.0, "new_runtime_s",
                               (double)cmp.new_total_ms / 1000.0, "old_cost", cmp.old_cost, "new_cost", cmp.new_cost,
                               "runtime_delta_pct", cmp.runtime_delta_pct, "cost_delta_pct", cmp.cost_delta_pct,
                               "savings_per_month", json_object_get(est, "savings_per_month") ?: json_null(), "steps",
                               steps, "verdict", cmp.verdict, "recommend", cmp.recommend, "comparison",
                               fr_emr_comparison_to_json(&cmp, sr, n), "recommendation",
                               json_object_get(r->rec, "recommendation") ?: json_null(), "test_cluster_id", r->test_id);
    free(sr);
    /* the template narrative; an LLM (if configured) may replace it */
    char narrative[600], verdict[256];
    fr_strlcpy(verdict, cmp.verdict, sizeof(verdict));
    verdict[0] = (char)toupper((unsigned char)verdict[0]); /* it ends a sentence here */
    snprintf(narrative, sizeof(narrative),
             "The test cluster ran %zu step%s in %.1f min against %.1f min on the original (%+.1f%%); at $%.2f/h "
             "instead of $%.2f/h the steps cost $%.2f instead of $%.2f. %s",
             n, n == 1 ? "" : "s", (double)cmp.new_total_ms / 60000.0, (double)cmp.old_total_ms / 60000.0,
             cmp.runtime_delta_pct, r->new_hourly, r->old_hourly, cmp.new_cost, cmp.old_cost, verdict);
    json_object_set_new(report, "narrative", json_string(narrative));
    json_object_set_new(r->rec, "report", report);
    /* with the outcome so far: a restart before the end keeps it */
    fr_journal_append(r->d->journal, r->id, "REPORT", "done",
                      json_pack("{s:s, s:s, s:s}", "verdict", cmp.verdict, "outcome",
                                fr_emr_wf_state_name(r->wf.outcome), "reason", r->wf.reason),
                      NULL, NULL);
    log_line(r, "info", "Report: %s", cmp.verdict);
    fr_agent_narrate(r->d->agent, r->id, report);
}

static void finish_run(struct run *r, const fr_emr_action *a)
{
    fr_emr_wf_state st = a->final_state;
    const char *reason = r->wf.reason;
    fr_journal_append(r->d->journal, r->id, "END", "done", fr_emr_jdata_end(st, reason), NULL, NULL);
    json_object_set_new(r->rec, "state", json_string(fr_emr_wf_state_name(st)));
    json_object_set_new(r->rec, "outcome", json_string(fr_emr_wf_state_name(st)));
    if (st != FR_EMR_WF_DONE && reason[0])
        json_object_set_new(r->rec, "error", json_string(reason));
    switch (st) {
    case FR_EMR_WF_DONE:
        log_line(r, "info", "Done.");
        break;
    case FR_EMR_WF_CANCELLED:
        log_line(r, "info", "Cancelled.");
        break;
    case FR_EMR_WF_CONFLICT:
        log_line(r, "error", "Conflict: %s", reason[0] ? reason : "the parameter was changed by someone else");
        break;
    default:
        log_line(r, "error", "Failed: %s", reason[0] ? reason : "see the steps");
        break;
    }
    if (r->wf.state != st)
        step_transition(r, r->wf.state, st, "done");
    fr_audit(r->id, "run.end", json_pack("{s:s, s:s, s:s}", "cluster_name", r->name, "state",
                                         fr_emr_wf_state_name(st), "reason", reason));
    char lbl[64];
    snprintf(lbl, sizeof(lbl), "outcome=\"%s\"", fr_emr_wf_state_name(st));
    fr_metric_inc("frugal_runs_total", "EMR test runs by outcome", lbl, 1);
    fr_feed_publish(r->d->app->feed, "run.done",
                    json_pack("{s:s, s:s, s:s}", "run_id", r->id, "state", fr_emr_wf_state_name(st), "reason", reason),
                    NULL);
    save(r);
    /* a failed or conflicted run wants a human: visible at log.level=warn */
    fr_log(st == FR_EMR_WF_FAILED || st == FR_EMR_WF_CONFLICT ? FR_LOG_WARN : FR_LOG_INFO, "emr.run_end",
           "{s:s, s:s, s:s}", "run", r->id, "state", fr_emr_wf_state_name(st), "reason", reason);
    run_release(r);
}

static void exec(struct run *r, const fr_emr_action *a)
{
    fr_emrd *d = r->d;
    int rc = 0;
    switch (a->type) {
    case FR_EMR_ACT_READ_PARAM:
        r->busy = 1;
        rc = fr_aws_ssm_get_parameter(d->aws, r->path, false, on_backup, r, &r->op);
        if (rc) {
            fr_aws_result fail = {.err = rc};
            on_backup(&fail, r);
        }
        break;
    case FR_EMR_ACT_PUT_PARAM: {
        r->busy = 1;
        /* once: a resend after a lost answer would write a second Version,
         * and the revert could no longer tell frugal's write from another */
        fr_aws_ssm_put_in in = {.name = r->path,
                                .value = r->new_value,
                                .type = r->ptype[0] ? r->ptype : "String",
                                .tier = param_tier(r->new_value),
                                .overwrite = true,
                                .once = true};
        rc = fr_aws_ssm_put_parameter(d->aws, &in, on_put, r, &r->op);
        if (rc) {
            fr_aws_result fail = {.err = rc};
            on_put(&fail, r);
        }
        break;
    }
    case FR_EMR_ACT_INVOKE_LAMBDA: {
        r->busy = 1;
        log_line(r, "info", "Triggering cluster creation...");
        json_t *payload = fr_emr_lambda_payload(r->name);
        char *body = json_dumps(payload, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        json_decref(payload);
        /* once: every resend would create another cluster */
        fr_aws_lambda_invoke_in in = {.function = d->app->cfg.emr_lambda_function,
                                      .payload = body,
                                      .payload_len = strlen(body),
                                      .invocation_type = "RequestResponse",
                                      .once = true};
        rc = fr_aws_lambda_invoke(d->aws, &in, on_invoke, r, &r->op);
        free(body);
        if (rc) {
            fr_aws_result fail = {.err = rc};
            on_invoke(&fail, r);
        }
        break;
    }
    case FR_EMR_ACT_FIND_CLUSTER:
        if (a->cluster_id[0] && strcmp(r->test_id, a->cluster_id) != 0) { /* named by the Lambda */
            fr_strlcpy(r->test_id, a->cluster_id, sizeof(r->test_id));
            json_object_set_new(r->rec, "test_cluster_id", json_string(r->test_id));
            log_line(r, "info", "Cluster %s created", r->test_id);
        }
        r->types_checked = false;
        poll_start(r, POLL_FIND, a);
        break;
    case FR_EMR_ACT_REVERT_PARAM: {
        r->busy = 1;
        struct revert_ctx *c = calloc(1, sizeof(*c));
        r->op_ctx = c;
        c->r = r;
        c->expected = a->expected_version;
        rc = fr_aws_ssm_get_parameter(d->aws, r->path, false, on_revert_read, c, &r->op);
        if (rc) {
            fr_aws_result fail = {.err = rc};
            on_revert_read(&fail, c);
        }
        break;
    }
    case FR_EMR_ACT_COPY_STEPS:
        if (r->early_submitted) {
            size_t n = json_array_size(r->copied);
            log_line(r, "info", "Copied %zu step%s from %s", n, n == 1 ? "" : "s", r->source_id);
            fr_emr_wf_event ev;
            ev_init(&ev, FR_EMR_EV_STEPS_COPIED);
            ev.steps = (int)n;
            feed(r, &ev);
            break;
        }
        r->busy = 1;
        rc = fr_aws_emr_list_steps(d->aws, r->source_id, NULL, 0, NULL, on_copy, r, &r->op);
        if (rc) {
            fr_aws_result fail = {.err = rc};
            on_copy(&fail, r);
        }
        break;
    case FR_EMR_ACT_SUBMIT_STEPS: {
        if (r->early_submitted) { /* journaled (intent and done) when it was done */
            ev_fire(r, FR_EMR_EV_STEPS_SUBMITTED, NULL);
            break;
        }
        r->busy = 1;
        json_t *configs = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(r->copied, i, c) json_array_append(configs, json_object_get(c, "config"));
        rc = fr_aws_emr_add_job_flow_steps(d->aws, a->cluster_id[0] ? a->cluster_id : r->test_id, configs, on_submit, r,
                                           &r->op);
        if (rc) {
            fr_aws_result fail = {.err = rc};
            on_submit(&fail, r);
        }
        break;
    }
    case FR_EMR_ACT_POLL_STEPS:
        r->wait_line = -1;
        poll_start(r, POLL_STEPS, a);
        break;
    case FR_EMR_ACT_COMPARE:
        ev_fire(r, FR_EMR_EV_COMPARE_DONE, NULL);
        break;
    case FR_EMR_ACT_WRITE_REPORT:
        write_report(r);
        ev_fire(r, FR_EMR_EV_REPORT_DONE, NULL);
        break;
    case FR_EMR_ACT_TERMINATE_CLUSTER: {
        r->busy = 1;
        struct term_ctx *c = calloc(1, sizeof(*c));
        r->op_ctx = c;
        c->r = r;
        c->created_before_ms = a->deadline_ms;
        /* by id only what the machine knows is frugal's; else the search */
        if (a->cluster_id[0]) {
            fr_strlcpy(c->ids[0], a->cluster_id, sizeof(c->ids[0]));
            c->n = 1;
            terminate_ids(c);
        } else {
            static const char *const alive[] = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"};
            fr_aws_emr_list_clusters_in in = {alive, FR_ARRAY_SIZE(alive), a->created_after_ms, 0};
            rc = fr_aws_emr_list_clusters(d->aws, &in, NULL, on_term_search, c, &r->op);
            if (rc) {
                fr_aws_result fail = {.err = rc};
                on_term_search(&fail, c);
            }
        }
        break;
    }
    case FR_EMR_ACT_JOURNAL_NOTE:
        fr_journal_append(d->journal, r->id, "WAIT", "note",
                          a->mismatch ? fr_emr_jdata_wait_mismatch(a->cluster_id)
                                      : fr_emr_jdata_wait_note(a->cluster_id, a->confirmed),
                          NULL,
                          NULL);
        break;
    case FR_EMR_ACT_FINISH:
        finish_run(r, a);
        break;
    default:
        break;
    }
}

/* ---- the public side ---- */

json_t *emrd_run_public(const json_t *rec)
{
    json_t *p = json_deep_copy(rec);
    json_object_del(p, "wf");
    /* the original value is kept for a CONFLICT only */
    return p;
}

int emrd_run_create(fr_emrd *d, const json_t *an, const char *principal, const char *conversation_id,
                    json_t **run_out, char *err, size_t errlen)
{
    const json_t *cl = json_object_get(an, "cluster");
    const json_t *cost = json_object_get(an, "cost");
    json_t *an_small = json_deep_copy(an);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(an_small, "node_types"), k, v) json_object_del(v, "series");
    json_t *rec = json_pack(
        "{s:s, s:O, s:O, s:O, s:s, s:s, s:s, s:O, s:{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}, s:n, s:[], s:[], "
        "s:o}",
        "state", "AWAIT_APPROVAL", "cluster_name", json_object_get(cl, "name"), "source_cluster_id",
        json_object_get(cl, "id"), "param_path", json_object_get(cl, "param_path"), "proposed_by", principal ? principal : "",
        "conversation_id", conversation_id ? conversation_id : "", "approved_by", "", "recommendation",
        json_object_get(an, "recommendation"), "estimate", "old_hourly",
        json_object_get(json_object_get(cost, "per_hour"), "old"), "new_hourly",
        json_object_get(json_object_get(cost, "per_hour"), "new"), "per_run_old",
        json_object_get(json_object_get(cost, "per_run"), "old"), "per_run_new",
        json_object_get(json_object_get(cost, "per_run"), "new"), "savings_per_month",
        json_object_get(json_object_get(cost, "monthly"), "savings"), "runs_per_month",
        json_object_get(json_object_get(cost, "monthly"), "runs_per_month"), "test_cost",
        json_object_get(json_object_get(cost, "test"), "cost"), "test_instances",
        json_object_get(json_object_get(cost, "test"), "instances"), "warnings", json_object_get(an, "warnings"),
        "steps_selected", "steps", "log", "analysis", an_small);
    if (rec)
        json_object_set(rec, "collection", json_object_get(cl, "collection"));
    if (!rec) {
        snprintf(err, errlen, "incomplete analysis");
        return FR_EPARSE;
    }
    char id[FR_RUN_ID_MAX];
    int rc = fr_run_create(d->journal, "emr", rec, emrd_now(), id);
    if (rc) {
        json_decref(rec);
        snprintf(err, errlen, "cannot store the run: %s", fr_strerror(rc));
        return rc;
    }
    json_decref(rec);
    rec = fr_run_get(d->journal, id);
    struct run *r = run_new(d, id, rec);
    fr_emr_wf_opts o;
    fr_emr_wf_opts_from_config(&o, &d->app->cfg);
    fr_emr_wf_actions acts;
    fr_emr_wf_start(&r->wf, &o, &acts);
    fr_emr_wf_event ev;
    fr_emr_wf next;
    ev_init(&ev, FR_EMR_EV_ANALYSIS_DONE);
    fr_emr_wf_next(&r->wf, &ev, &next, &acts);
    r->wf = next;
    ev_init(&ev, FR_EMR_EV_RECOMMEND_DONE);
    fr_emr_wf_next(&r->wf, &ev, &next, &acts);
    r->wf = next;
    json_object_set_new(r->rec, "wf", fr_emr_wf_to_json(&r->wf));
    save(r);
    fr_audit(id, "run.proposed", json_pack("{s:s, s:s, s:O}", "cluster_name", r->name, "principal",
                                           principal ? principal : "", "recommendation",
                                           json_object_get(an, "recommendation")));
    fr_feed_publish(d->app->feed, "run.created",
                    json_pack("{s:s, s:s, s:s}", "run_id", id, "cluster_name", r->name, "state", "AWAIT_APPROVAL"), NULL);
    *run_out = emrd_run_public(r->rec);
    arm_proposal_timer(r);
    return 0;
}

int emrd_run_approve(fr_emrd *d, const char *run_id, const char *principal, const json_t *steps, json_t **run_out,
                     char *err, size_t errlen)
{
    struct run *r = run_find(d, run_id);
    if (!r) {
        json_t *rec = fr_run_get(d->journal, run_id);
        snprintf(err, errlen, rec ? "run %s is %s, not awaiting approval" : "no run %s", run_id,
                 rec ? json_string_value(json_object_get(rec, "state")) : "");
        int rc = rec ? FR_ESTATE : FR_ENOTFOUND;
        json_decref(rec);
        return rc;
    }
    if (r->wf.state != FR_EMR_WF_AWAIT_APPROVAL) {
        snprintf(err, errlen, "run %s is %s, not awaiting approval", run_id, fr_emr_wf_state_name(r->wf.state));
        return FR_ESTATE;
    }
    if (emrd_now() >= proposal_deadline(r)) {
        expire_proposal(r);
        snprintf(err, errlen, "run %s expired before it was approved; analyze the cluster again", run_id);
        return FR_ESTATE;
    }
    if (d->draining) {
        snprintf(err, errlen, "frugald is shutting down");
        return FR_ESTATE;
    }
    /* one run per parameter at a time */
    for (struct run *o = d->runs; o; o = o->next) {
        if (o != r && strcmp(o->path, r->path) == 0 && o->wf.state != FR_EMR_WF_AWAIT_APPROVAL &&
            !fr_emr_wf_is_terminal(o->wf.state)) {
            snprintf(err, errlen, "run %s is already testing %s; one run per parameter at a time", o->id, r->path);
            return FR_ECONFLICT;
        }
    }
    if (steps && !json_is_array(steps)) {
        snprintf(err, errlen, "steps must be an array of step ids");
        return -EINVAL;
    }
    char ts[40];
    fr_time_iso8601(ts, sizeof(ts), emrd_now(), 0);
    json_object_set_new(r->rec, "approved_by", json_string(principal ? principal : ""));
    json_object_set_new(r->rec, "approved_at", json_string(ts));
    if (steps) {
        json_decref(r->steps_sel);
        r->steps_sel = json_deep_copy(steps);
        json_object_set(r->rec, "steps_selected", r->steps_sel);
    }
    fr_audit(r->id, "run.approved", json_pack("{s:s, s:s, s:s, s:O}", "cluster_name", r->name, "principal",
                                              principal ? principal : "", "param_path", r->path, "recommendation",
                                              json_object_get(r->rec, "recommendation")));
    r->step_started_ms = emrd_now();
    uv_timer_stop(&r->timer); /* the proposal's expiry */
    ev_fire(r, FR_EMR_EV_APPROVED, NULL);
    if (run_out)
        *run_out = emrd_run_public(r->rec);
    return 0;
}

int emrd_run_cancel(fr_emrd *d, const char *run_id, const char *principal, json_t **run_out, char *err,
                    size_t errlen)
{
    struct run *r = run_find(d, run_id);
    if (!r) {
        json_t *rec = fr_run_get(d->journal, run_id);
        snprintf(err, errlen, rec ? "run %s already ended (%s)" : "no run %s", run_id,
                 rec ? json_string_value(json_object_get(rec, "state")) : "");
        int rc = rec ? FR_ESTATE : FR_ENOTFOUND;
        json_decref(rec);
        return rc;
    }
    fr_audit(r->id, "run.cancel", json_pack("{s:s, s:s, s:s}", "cluster_name", r->name, "principal",
                                            principal ? principal : "", "state", fr_emr_wf_state_name(r->wf.state)));
    fr_journal_append(d->journal, r->id, "CANCEL", "note", json_pack("{s:s}", "principal", principal ? principal : ""),
                      NULL, NULL);
    json_t *snapshot = NULL;
    if (run_out)
        snapshot = emrd_run_public(r->rec); /* the run may be released by the event */
    if (r->wf.state != FR_EMR_WF_AWAIT_APPROVAL)
        log_line(r, "info", "Cancel requested: reverting and cleaning up");
    ev_fire(r, FR_EMR_EV_CANCEL, principal);
    if (run_out) {
        json_t *now = fr_run_get(d->journal, run_id);
        *run_out = now ? emrd_run_public(now) : snapshot;
        if (now) {
            json_decref(now);
            json_decref(snapshot);
        }
    }
    return 0;
}

/* Rebuilds what the actions of a recovered run need from its journal. */
static void restore_from_journal(struct run *r, const json_t *journal)
{
    size_t i;
    json_t *e;
    json_array_foreach(journal, i, e)
    {
        const char *step = json_string_value(json_object_get(e, "step")) ?: "";
        const char *phase = json_string_value(json_object_get(e, "phase")) ?: "";
        const json_t *data = json_object_get(e, "data");
        if (strcmp(step, "MODIFY") == 0 && strcmp(phase, "intent") == 0) {
            free(r->orig_value);
            free(r->new_value);
            r->orig_value = fr_strdup(json_string_value(json_object_get(data, "original_value")) ?: "");
            r->new_value = fr_strdup(json_string_value(json_object_get(data, "new_value")) ?: "");
            r->orig_version = json_integer_value(json_object_get(data, "original_version"));
            const char *p = json_string_value(json_object_get(data, "param"));
            if (p)
                fr_strlcpy(r->path, p, sizeof(r->path));
        } else if (strcmp(step, "MODIFY") == 0 && strcmp(phase, "done") == 0) {
            r->written_version = json_integer_value(json_object_get(data, "version"));
        } else if (strcmp(step, "CREATE") == 0 && strcmp(phase, "intent") == 0) {
            r->invoked_at_ms = json_integer_value(json_object_get(data, "invoked_at_ms"));
        } else if (strcmp(step, "WAIT") == 0 && json_is_string(json_object_get(data, "cluster_id"))) {
            /* as recovery reads it: confirmed clusters are the test cluster,
             * mismatched ones are not */
            const char *id = json_string_value(json_object_get(data, "cluster_id"));
            if (json_is_true(json_object_get(data, "mismatch"))) {
                if (!is_not_ours(r, id))
                    json_array_append_new(r->not_ours, json_string(id));
                if (strcmp(r->test_id, id) == 0)
                    r->test_id[0] = '\0';
            } else if (json_is_true(json_object_get(data, "confirmed"))) {
                fr_strlcpy(r->test_id, id, sizeof(r->test_id));
            }
        } else if (strcmp(step, "CREATE") == 0 && strcmp(phase, "done") == 0 &&
                   json_is_string(json_object_get(data, "cluster_id"))) {
            fr_strlcpy(r->test_id, json_string_value(json_object_get(data, "cluster_id")), sizeof(r->test_id));
        }
    }
}

static void recover_one(fr_emrd *d, const char *id)
{
    json_t *rec = fr_run_get(d->journal, id);
    if (!rec)
        return;
    const char *state = json_string_value(json_object_get(rec, "state")) ?: "";
    struct run *r = run_new(d, id, rec);
    fr_emr_wf_opts o;
    fr_emr_wf_opts_from_config(&o, &d->app->cfg);
    if (strcmp(state, "AWAIT_APPROVAL") == 0) {
        /* nothing happened yet: the proposal keeps waiting for its click */
        fr_emr_wf_actions acts;
        fr_emr_wf next;
        fr_emr_wf_event ev;
        fr_emr_wf_start(&r->wf, &o, &acts);
        ev_init(&ev, FR_EMR_EV_ANALYSIS_DONE);
        fr_emr_wf_next(&r->wf, &ev, &next, &acts);
        r->wf = next;
        ev_init(&ev, FR_EMR_EV_RECOMMEND_DONE);
        fr_emr_wf_next(&r->wf, &ev, &next, &acts);
        r->wf = next;
        arm_proposal_timer(r);
        return;
    }
    json_t *journal = fr_journal_read(d->journal, id);
    fr_emr_recovery rcv;
    char err[256];
    int rc = fr_emr_recover(journal, &o, emrd_now(), &rcv, err, sizeof(err));
    if (rc) {
        fr_log_error("recovery.unreadable", "{s:s, s:s}", "run", id, "error", err);
        json_object_set_new(r->rec, "state", json_string("FAILED"));
        json_object_set_new(r->rec, "error", json_string(err));
        json_object_set_new(r->rec, "needs_attention",
                            json_pack("{s:s, s:s}", "param_path", r->path, "why", "the run journal is unreadable"));
        save(r);
        fr_audit(id, "recovery.failed", json_pack("{s:s}", "error", err));
        json_decref(journal);
        run_unlink(r);
        uv_close((uv_handle_t *)&r->timer, on_handle_closed);
        uv_close((uv_handle_t *)&r->poll_timer, on_handle_closed);
        return;
    }
    restore_from_journal(r, journal);
    json_decref(journal);
    r->wf = rcv.wf;
    r->step_started_ms = emrd_now();
    json_object_set_new(r->rec, "recovered", json_true());
    log_line(r, "info", "Resumed after a restart: %s", rcv.summary);
    fr_audit(id, "recovery.resume", json_pack("{s:s, s:s, s:s}", "cluster_name", r->name, "from_state", state,
                                              "plan", rcv.summary));
    fr_log_warn("recovery.resume", "{s:s, s:s, s:s}", "run", id, "from_state", state, "plan", rcv.summary);
    if (rcv.wf.state != FR_EMR_WF_AWAIT_APPROVAL && strcmp(fr_emr_wf_state_name(rcv.wf.state), state) != 0) {
        json_object_set_new(r->rec, "state", json_string(fr_emr_wf_state_name(rcv.wf.state)));
        save(r);
    }
    enqueue(r, &rcv.acts);
    pump(r);
}

void emrd_runs_recover(fr_emrd *d)
{
    json_t *ids = fr_run_unfinished(d->journal, "emr", TERMINAL);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) recover_one(d, json_string_value(id));
    if (json_array_size(ids))
        fr_log_info("recovery", "{s:I}", "runs", (json_int_t)json_array_size(ids));
    json_decref(ids);
}

void emrd_runs_drain(fr_emrd *d)
{
    /* In-flight calls finish; nothing new starts (pump checks draining),
     * except reverts: a run waiting for its test cluster puts the
     * parameter back now, and the drain lasts until it is done. */
    for (struct run *r = d->runs, *nx; r; r = nx) {
        nx = r->next;
        if (r->wf.state == FR_EMR_WF_WAIT) {
            poll_stop(r);
            log_line(r, "warn", "Shutting down while waiting for the test cluster: restoring the config now");
            ev_fire(r, FR_EMR_EV_SHUTDOWN, NULL);
        }
    }
    for (struct run *r = d->runs; r; r = r->next)
        uv_timer_stop(&r->timer);
}

int emrd_runs_busy(fr_emrd *d)
{
    for (struct run *r = d->runs; r; r = r->next)
        if (r->op || r->poll_op || r->busy) /* busy: an intent on its way to disk */
            return 1;
    return 0;
}

void emrd_runs_free(fr_emrd *d)
{
    while (d->runs) {
        struct run *r = d->runs;
        run_release(r);
    }
}

int fr_emrd_set_narrative(fr_emrd *d, const char *run_id, const char *text)
{
    /* The run has usually finished by the time the model answers: update
     * the stored record directly (and the in-memory one if it is alive). */
    struct run *r = run_find(d, run_id);
    json_t *rec = r ? json_incref(r->rec) : fr_run_get(d->journal, run_id);
    if (!rec)
        return FR_ENOTFOUND;
    json_t *report = json_object_get(rec, "report");
    if (!json_is_object(report)) {
        json_decref(rec);
        return FR_ESTATE;
    }
    json_object_set_new(report, "narrative", json_string(text));
    json_object_set_new(report, "narrative_by", json_string("llm"));
    fr_run_put(d->journal, run_id, rec, emrd_now());
    fr_feed_publish(d->app->feed, "run.report", json_pack("{s:s, s:s}", "run_id", run_id, "narrative", text), NULL);
    json_decref(rec);
    return 0;
}
