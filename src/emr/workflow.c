/* The EMR test-run workflow: pure transitions (rules in emr_workflow.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frugal/emr_workflow.h"
#include "frugal/err.h"
#include "frugal/str.h"

static const char *const state_names[FR_EMR_WF__COUNT] = {
    "ANALYZE",    "RECOMMEND", "AWAIT_APPROVAL", "BACKUP",  "MODIFY",    "CREATE",
    "WAIT",       "REVERT",    "COPY_STEPS",     "SUBMIT_STEPS", "WAIT_STEPS", "COMPARE",
    "REPORT",     "TERMINATE", "DONE",           "FAILED",  "CANCELLED", "CONFLICT",
};

static const char *const event_names[FR_EMR_EV__COUNT] = {
    "ANALYSIS_DONE",   "ANALYSIS_FAILED",   "RECOMMEND_DONE",   "RECOMMEND_NO_CHANGE", "RECOMMEND_REFUSED",
    "APPROVED",        "CANCEL",            "BACKUP_DONE",      "BACKUP_FAILED",       "MODIFY_DONE",
    "MODIFY_FAILED",   "INVOKE_DONE",       "INVOKE_FAILED",    "CLUSTER_FOUND",       "CLUSTER_CONFIRMED",
    "CLUSTER_MISMATCH", "CLUSTER_FAILED",   "WAIT_TIMEOUT",     "REVERT_DONE",         "REVERT_CONFLICT",
    "REVERT_FAILED",   "STEPS_COPIED",      "STEPS_COPY_FAILED", "STEPS_SUBMITTED",    "STEPS_SUBMIT_FAILED",
    "STEPS_DONE",      "STEPS_FAILED",      "STEPS_TIMEOUT",    "COMPARE_DONE",        "REPORT_DONE",
    "TERMINATE_DONE",  "TERMINATE_FAILED",  "SHUTDOWN",
};

static const char *const act_names[FR_EMR_ACT__COUNT] = {
    "FETCH_METRICS", "RECOMMEND",  "AWAIT_APPROVAL", "READ_PARAM",   "PUT_PARAM",         "INVOKE_LAMBDA",
    "FIND_CLUSTER",  "REVERT_PARAM", "COPY_STEPS",   "SUBMIT_STEPS", "POLL_STEPS",        "COMPARE",
    "WRITE_REPORT",  "TERMINATE_CLUSTER", "JOURNAL_NOTE", "FINISH",
};

const char *fr_emr_wf_state_name(fr_emr_wf_state s)
{
    return (unsigned)s < FR_EMR_WF__COUNT ? state_names[s] : "UNKNOWN";
}

int fr_emr_wf_state_parse(const char *s, fr_emr_wf_state *out)
{
    for (int i = 0; i < FR_EMR_WF__COUNT; i++)
        if (s && strcmp(s, state_names[i]) == 0) {
            *out = (fr_emr_wf_state)i;
            return 0;
        }
    return FR_EPARSE;
}

const char *fr_emr_wf_event_name(fr_emr_wf_event_type e)
{
    return (unsigned)e < FR_EMR_EV__COUNT ? event_names[e] : "UNKNOWN";
}

const char *fr_emr_act_name(fr_emr_act a)
{
    return (unsigned)a < FR_EMR_ACT__COUNT ? act_names[a] : "UNKNOWN";
}

bool fr_emr_wf_is_terminal(fr_emr_wf_state s)
{
    return s == FR_EMR_WF_DONE || s == FR_EMR_WF_FAILED || s == FR_EMR_WF_CANCELLED || s == FR_EMR_WF_CONFLICT;
}

void fr_emr_wf_opts_from_config(fr_emr_wf_opts *o, const fr_config *c)
{
    o->wait_timeout_ms = (int64_t)c->emr_wait_timeout_ms;
    o->steps_timeout_ms = (int64_t)c->emr_steps_timeout_ms;
    o->max_attempts = 5;
    o->retry_delay_ms = (int64_t)c->emr_poll_initial_ms;
    o->clock_skew_ms = 60000;
    o->auto_terminate_ms = c->emr_auto_terminate_minutes * 60000;
    o->settle_ms = (int64_t)c->http_timeout_ms;
}

/* ---- helpers ---- */

static fr_emr_action *push(fr_emr_wf_actions *acts, fr_emr_act type)
{
    fr_emr_action *a = &acts->a[acts->n++];
    memset(a, 0, sizeof(*a));
    a->type = type;
    switch (type) {
    case FR_EMR_ACT_PUT_PARAM:
        a->journal_before = true;
        a->step = "MODIFY";
        break;
    case FR_EMR_ACT_INVOKE_LAMBDA:
        a->journal_before = true;
        a->step = "CREATE";
        break;
    case FR_EMR_ACT_REVERT_PARAM:
        a->journal_before = true;
        a->step = "REVERT";
        break;
    case FR_EMR_ACT_SUBMIT_STEPS:
        a->journal_before = true;
        a->step = "SUBMIT_STEPS";
        break;
    case FR_EMR_ACT_TERMINATE_CLUSTER:
        a->journal_before = true;
        a->step = "TERMINATE";
        break;
    case FR_EMR_ACT_JOURNAL_NOTE:
        a->step = "WAIT";
        break;
    case FR_EMR_ACT_FINISH:
        a->step = "END";
        break;
    default:
        break;
    }
    return a;
}

static int rank(fr_emr_wf_state s)
{
    switch (s) {
    case FR_EMR_WF_CANCELLED:
        return 1;
    case FR_EMR_WF_FAILED:
        return 2;
    case FR_EMR_WF_CONFLICT:
        return 3;
    default:
        return 0;
    }
}

/* Escalates where the run ends; the first reason of the winning outcome is kept. */
static void set_outcome(fr_emr_wf *w, fr_emr_wf_state o, const char *reason)
{
    if (rank(o) > rank(w->outcome)) {
        w->outcome = o;
        fr_strlcpy(w->reason, reason ? reason : "", sizeof(w->reason));
    } else if (!w->reason[0] && reason) {
        fr_strlcpy(w->reason, reason, sizeof(w->reason));
    }
}

static void reason_fmt(char *buf, size_t n, const char *what, const fr_emr_wf_event *ev)
{
    if (ev->detail[0])
        snprintf(buf, n, "%s: %s", what, ev->detail);
    else
        snprintf(buf, n, "%s", what);
}

static void finish(fr_emr_wf *w, fr_emr_wf_actions *acts)
{
    w->state = w->outcome;
    fr_emr_action *a = push(acts, FR_EMR_ACT_FINISH);
    a->final_state = w->outcome;
}

static void terminate(fr_emr_wf *w, fr_emr_wf_actions *acts, int64_t now)
{
    w->state = FR_EMR_WF_TERMINATE;
    fr_emr_action *a = push(acts, FR_EMR_ACT_TERMINATE_CLUSTER);
    /* by id only a cluster known to be frugal's: confirmed with the new
     * types, or named by the Lambda; otherwise the search decides */
    if (w->cluster_confirmed || (w->lambda_cluster_id[0] && strcmp(w->cluster_id, w->lambda_cluster_id) == 0))
        fr_strlcpy(a->cluster_id, w->cluster_id, sizeof(a->cluster_id));
    a->created_after_ms = w->invoked_at_ms - w->opts.clock_skew_ms;
    a->deadline_ms = w->invoked_at_ms + w->opts.wait_timeout_ms + w->opts.clock_skew_ms;
    a->attempt = w->terminate_attempts + 1;
    a->not_before_ms = now;
}

/* After the parameter is settled: the test cluster, then the end. */
static void cleanup_cluster(fr_emr_wf *w, fr_emr_wf_actions *acts, int64_t now)
{
    if (w->invoked && !w->terminated)
        terminate(w, acts, now);
    else
        finish(w, acts);
}

static void revert(fr_emr_wf *w, fr_emr_wf_actions *acts, int64_t now)
{
    w->state = FR_EMR_WF_REVERT;
    fr_emr_action *a = push(acts, FR_EMR_ACT_REVERT_PARAM);
    a->expected_version = w->param_written ? w->written_version : 0;
    a->original_version = w->original_version;
    a->attempt = w->revert_attempts + 1;
    a->not_before_ms = now;
}

/* Any exit before the end of Phase 1: revert first when the parameter may
 * hold our value, then the cluster, then the end. */
static void exit_path(fr_emr_wf *w, fr_emr_wf_actions *acts, int64_t now)
{
    if (w->param_touched && !w->reverted && !w->revert_conflict)
        revert(w, acts, now);
    else
        cleanup_cluster(w, acts, now);
}

static void find_cluster(fr_emr_wf *w, fr_emr_wf_actions *acts)
{
    w->state = FR_EMR_WF_WAIT;
    w->wait_deadline_ms = w->invoked_at_ms + w->opts.wait_timeout_ms;
    fr_emr_action *a = push(acts, FR_EMR_ACT_FIND_CLUSTER);
    a->created_after_ms = w->invoked_at_ms - w->opts.clock_skew_ms;
    a->deadline_ms = w->wait_deadline_ms;
    fr_strlcpy(a->cluster_id, w->cluster_id, sizeof(a->cluster_id));
}

#define REVERT_MAX_DELAY_MS 300000 /* a failing revert is tried at least every 5 min, forever */

static int64_t backoff(const fr_emr_wf *w, int attempt)
{
    int64_t d = w->opts.retry_delay_ms > 0 ? w->opts.retry_delay_ms : 1000;
    for (int i = 1; i < attempt && d < 3600000; i++)
        d *= 2;
    return d;
}

void fr_emr_wf_start(fr_emr_wf *wf, const fr_emr_wf_opts *opts, fr_emr_wf_actions *acts)
{
    memset(wf, 0, sizeof(*wf));
    wf->state = FR_EMR_WF_ANALYZE;
    wf->outcome = FR_EMR_WF_DONE;
    wf->opts = *opts;
    if (wf->opts.max_attempts <= 0)
        wf->opts.max_attempts = 5;
    acts->n = 0;
    push(acts, FR_EMR_ACT_FETCH_METRICS);
}

/* ---- the transition ---- */

int fr_emr_wf_next(const fr_emr_wf *cur, const fr_emr_wf_event *ev, fr_emr_wf *next, fr_emr_wf_actions *acts)
{
    fr_emr_wf w = *cur;
    acts->n = 0;
    int64_t now = ev->now_ms;
    char why[400]; /* longer than reason: truncated there */
    bool ok = true;

    if (ev->type == FR_EMR_EV_CANCEL && !fr_emr_wf_is_terminal(w.state)) {
        w.cancel_requested = true; /* idempotent: a second cancel changes nothing */
        if (ev->detail[0])
            snprintf(why, sizeof(why), "cancelled by %s", ev->detail);
        else
            snprintf(why, sizeof(why), "cancelled");
        set_outcome(&w, FR_EMR_WF_CANCELLED, why);
        switch (w.state) {
        case FR_EMR_WF_ANALYZE:
        case FR_EMR_WF_RECOMMEND:
        case FR_EMR_WF_AWAIT_APPROVAL:
        case FR_EMR_WF_BACKUP: /* nothing changed outside yet */
            finish(&w, acts);
            break;
        case FR_EMR_WF_COPY_STEPS:
        case FR_EMR_WF_SUBMIT_STEPS:
        case FR_EMR_WF_WAIT_STEPS:
        case FR_EMR_WF_COMPARE:
        case FR_EMR_WF_REPORT: /* the parameter is back: stop Phase 2, terminate */
            terminate(&w, acts, now);
            break;
        default:
            /* MODIFY, CREATE, WAIT, REVERT, TERMINATE: the step in flight
             * finishes and its result takes the exit path (WAIT still waits
             * for the cluster: reverting earlier would race the Lambda) */
            break;
        }
        *next = w;
        return 0;
    }

    if (ev->type == FR_EMR_EV_SHUTDOWN) {
        /* The parameter must not keep frugal's value while frugald is
         * down. Before the invoke started: nothing was created. While
         * waiting: revert now; a Lambda that reads the parameter later
         * builds a cluster with the original types, which is not taken
         * for the test cluster. Termination waits for the next start. */
        if (w.state == FR_EMR_WF_CREATE && !ev->ambiguous) {
            w.invoked = false;
            set_outcome(&w, FR_EMR_WF_FAILED, "interrupted by a shutdown before the Lambda was invoked");
            exit_path(&w, acts, now);
        } else if (w.state == FR_EMR_WF_WAIT) {
            set_outcome(&w, FR_EMR_WF_FAILED, "interrupted by a shutdown while waiting for the test cluster");
            revert(&w, acts, now);
        } else {
            *next = *cur;
            acts->n = 0;
            return FR_ESTATE;
        }
        *next = w;
        return 0;
    }

    switch (w.state) {
    case FR_EMR_WF_ANALYZE:
        if (ev->type == FR_EMR_EV_ANALYSIS_DONE) {
            w.state = FR_EMR_WF_RECOMMEND;
            push(acts, FR_EMR_ACT_RECOMMEND);
        } else if (ev->type == FR_EMR_EV_ANALYSIS_FAILED) {
            reason_fmt(why, sizeof(why), "analysis failed", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            finish(&w, acts);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_RECOMMEND:
        if (ev->type == FR_EMR_EV_RECOMMEND_DONE) {
            w.state = FR_EMR_WF_AWAIT_APPROVAL;
            push(acts, FR_EMR_ACT_AWAIT_APPROVAL);
        } else if (ev->type == FR_EMR_EV_RECOMMEND_NO_CHANGE) {
            reason_fmt(why, sizeof(why), "no change recommended", ev);
            fr_strlcpy(w.reason, why, sizeof(w.reason));
            finish(&w, acts);
        } else if (ev->type == FR_EMR_EV_RECOMMEND_REFUSED) {
            reason_fmt(why, sizeof(why), "refused", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            finish(&w, acts);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_AWAIT_APPROVAL:
        if (ev->type == FR_EMR_EV_APPROVED) {
            w.state = FR_EMR_WF_BACKUP;
            push(acts, FR_EMR_ACT_READ_PARAM);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_BACKUP:
        if (ev->type == FR_EMR_EV_BACKUP_DONE) {
            w.state = FR_EMR_WF_MODIFY;
            w.original_version = ev->version;
            w.param_touched = true;
            fr_emr_action *a = push(acts, FR_EMR_ACT_PUT_PARAM);
            a->original_version = ev->version;
        } else if (ev->type == FR_EMR_EV_BACKUP_FAILED) {
            reason_fmt(why, sizeof(why), "could not read the parameter", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            finish(&w, acts);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_MODIFY:
        if (ev->type == FR_EMR_EV_MODIFY_DONE) {
            w.param_written = true;
            w.written_version = ev->version;
            if (w.cancel_requested) {
                exit_path(&w, acts, now);
            } else {
                w.state = FR_EMR_WF_CREATE;
                w.invoked = true;
                w.invoke_emitted = true;
                w.invoked_at_ms = now;
                push(acts, FR_EMR_ACT_INVOKE_LAMBDA);
            }
        } else if (ev->type == FR_EMR_EV_MODIFY_FAILED) {
            reason_fmt(why, sizeof(why), "could not write the parameter", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            /* the put may have happened, or may still: revert decides by
             * content, once a write on its way has landed */
            exit_path(&w, acts, now + w.opts.settle_ms);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_CREATE:
        if (ev->type == FR_EMR_EV_INVOKE_DONE) {
            if (ev->cluster_id[0]) { /* the Lambda said which cluster it made */
                fr_strlcpy(w.cluster_id, ev->cluster_id, sizeof(w.cluster_id));
                fr_strlcpy(w.lambda_cluster_id, ev->cluster_id, sizeof(w.lambda_cluster_id));
            }
            find_cluster(&w, acts);
        } else if (ev->type == FR_EMR_EV_INVOKE_FAILED) {
            reason_fmt(why, sizeof(why), "the cluster-submit Lambda failed", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            if (ev->ambiguous) {
                find_cluster(&w, acts); /* it may have run: wait for its cluster as usual */
            } else {
                w.invoked = false; /* it surely made nothing: there is nothing to look for */
                exit_path(&w, acts, now);
            }
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_WAIT:
        switch (ev->type) {
        case FR_EMR_EV_CLUSTER_FOUND:
        case FR_EMR_EV_CLUSTER_CONFIRMED:
        case FR_EMR_EV_CLUSTER_FAILED: {
            if (!ev->cluster_id[0] || (w.cluster_id[0] && strcmp(w.cluster_id, ev->cluster_id) != 0)) {
                ok = false;
                break;
            }
            bool is_new = !w.cluster_id[0];
            fr_strlcpy(w.cluster_id, ev->cluster_id, sizeof(w.cluster_id));
            if (ev->type == FR_EMR_EV_CLUSTER_CONFIRMED)
                w.cluster_confirmed = true;
            if (is_new || ev->type == FR_EMR_EV_CLUSTER_CONFIRMED) {
                fr_emr_action *a = push(acts, FR_EMR_ACT_JOURNAL_NOTE);
                fr_strlcpy(a->cluster_id, w.cluster_id, sizeof(a->cluster_id));
                a->confirmed = w.cluster_confirmed;
            }
            if (ev->type == FR_EMR_EV_CLUSTER_FAILED) {
                reason_fmt(why, sizeof(why), "the test cluster failed to start", ev);
                set_outcome(&w, FR_EMR_WF_FAILED, why);
            }
            if (ev->type != FR_EMR_EV_CLUSTER_FOUND)
                revert(&w, acts, now);
            break;
        }
        case FR_EMR_EV_CLUSTER_MISMATCH:
            if (!ev->cluster_id[0]) {
                ok = false;
                break;
            }
            if (w.lambda_cluster_id[0] && strcmp(ev->cluster_id, w.lambda_cluster_id) == 0) {
                /* the Lambda's own cluster, built with other types: ours, wrong */
                snprintf(why, sizeof(why), "the test cluster %s does not carry the recommended types",
                         ev->cluster_id);
                set_outcome(&w, FR_EMR_WF_FAILED, why);
                revert(&w, acts, now);
                break;
            }
            /* a cluster of that name with other types is not the test
             * cluster (the scheduler's own run, say): left alone, and the
             * wait goes on for the real one */
            if (strcmp(w.cluster_id, ev->cluster_id) == 0) {
                w.cluster_id[0] = '\0';
                w.cluster_confirmed = false;
            }
            w.mismatches++;
            {
                fr_emr_action *a = push(acts, FR_EMR_ACT_JOURNAL_NOTE);
                fr_strlcpy(a->cluster_id, ev->cluster_id, sizeof(a->cluster_id));
                a->mismatch = true;
            }
            break;
        case FR_EMR_EV_WAIT_TIMEOUT:
            if (w.mismatches)
                snprintf(why, sizeof(why),
                         "the test cluster was not confirmed in time (%d cluster%s of that name with other instance "
                         "types were left alone)",
                         w.mismatches, w.mismatches == 1 ? "" : "s");
            else
                reason_fmt(why, sizeof(why), "the test cluster was not confirmed in time", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            revert(&w, acts, now);
            break;
        default:
            ok = false;
        }
        break;
    case FR_EMR_WF_REVERT:
        if (ev->type == FR_EMR_EV_REVERT_DONE) {
            w.reverted = true;
            if (w.outcome == FR_EMR_WF_DONE && w.cluster_confirmed) {
                w.state = FR_EMR_WF_COPY_STEPS;
                push(acts, FR_EMR_ACT_COPY_STEPS);
            } else {
                cleanup_cluster(&w, acts, now);
            }
        } else if (ev->type == FR_EMR_EV_REVERT_CONFLICT) {
            w.revert_conflict = true;
            snprintf(why, sizeof(why),
                     "the parameter was changed by someone else (Version %lld, frugal wrote %lld): not overwritten; "
                     "restore it by hand if needed (original Version %lld is in the journal)",
                     (long long)ev->version, (long long)w.written_version, (long long)w.original_version);
            set_outcome(&w, FR_EMR_WF_CONFLICT, why);
            cleanup_cluster(&w, acts, now);
        } else if (ev->type == FR_EMR_EV_REVERT_FAILED) {
            /* Never given up: the parameter may hold frugal's value, and
             * nothing else would ever put the original back. After
             * max_attempts the run is flagged for attention and keeps
             * trying at least every 5 minutes. */
            w.revert_attempts++;
            if (w.revert_attempts >= w.opts.max_attempts)
                w.revert_stuck = true;
            int64_t d = backoff(&w, w.revert_attempts);
            revert(&w, acts, now + (d < REVERT_MAX_DELAY_MS ? d : REVERT_MAX_DELAY_MS));
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_COPY_STEPS:
        if (ev->type == FR_EMR_EV_STEPS_COPIED) {
            w.steps = ev->steps;
            if (ev->steps <= 0) {
                w.state = FR_EMR_WF_COMPARE;
                push(acts, FR_EMR_ACT_COMPARE);
            } else {
                w.state = FR_EMR_WF_SUBMIT_STEPS;
                fr_emr_action *a = push(acts, FR_EMR_ACT_SUBMIT_STEPS);
                fr_strlcpy(a->cluster_id, w.cluster_id, sizeof(a->cluster_id));
            }
        } else if (ev->type == FR_EMR_EV_STEPS_COPY_FAILED) {
            reason_fmt(why, sizeof(why), "could not read the original cluster's steps", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            terminate(&w, acts, now);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_SUBMIT_STEPS:
        if (ev->type == FR_EMR_EV_STEPS_SUBMITTED) {
            w.state = FR_EMR_WF_WAIT_STEPS;
            w.steps_deadline_ms = now + w.opts.steps_timeout_ms;
            /* frugal enforces the auto-termination guardrail too: the steps
             * never run past invoke time + auto_terminate */
            if (w.opts.auto_terminate_ms > 0 && w.invoked_at_ms + w.opts.auto_terminate_ms < w.steps_deadline_ms)
                w.steps_deadline_ms = w.invoked_at_ms + w.opts.auto_terminate_ms;
            fr_emr_action *a = push(acts, FR_EMR_ACT_POLL_STEPS);
            fr_strlcpy(a->cluster_id, w.cluster_id, sizeof(a->cluster_id));
            a->deadline_ms = w.steps_deadline_ms;
        } else if (ev->type == FR_EMR_EV_STEPS_SUBMIT_FAILED) {
            reason_fmt(why, sizeof(why), "could not submit the steps", ev);
            set_outcome(&w, FR_EMR_WF_FAILED, why);
            terminate(&w, acts, now);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_WAIT_STEPS:
        if (ev->type == FR_EMR_EV_STEPS_DONE || ev->type == FR_EMR_EV_STEPS_FAILED ||
            ev->type == FR_EMR_EV_STEPS_TIMEOUT) {
            if (ev->type != FR_EMR_EV_STEPS_DONE) {
                reason_fmt(why, sizeof(why),
                           ev->type == FR_EMR_EV_STEPS_FAILED ? "a step failed on the test cluster"
                                                              : "the steps did not finish in time",
                           ev);
                set_outcome(&w, FR_EMR_WF_FAILED, why);
            }
            w.state = FR_EMR_WF_COMPARE; /* a partial comparison is still reported */
            push(acts, FR_EMR_ACT_COMPARE);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_COMPARE:
        if (ev->type == FR_EMR_EV_COMPARE_DONE) {
            w.state = FR_EMR_WF_REPORT;
            push(acts, FR_EMR_ACT_WRITE_REPORT);
        } else {
            ok = false;
        }
        break;
    case FR_EMR_WF_REPORT:
        if (ev->type == FR_EMR_EV_REPORT_DONE)
            terminate(&w, acts, now);
        else
            ok = false;
        break;
    case FR_EMR_WF_TERMINATE:
        if (ev->type == FR_EMR_EV_TERMINATE_DONE) {
            w.terminated = true;
            finish(&w, acts);
        } else if (ev->type == FR_EMR_EV_TERMINATE_FAILED) {
            w.terminate_attempts++;
            if (w.terminate_attempts < w.opts.max_attempts) {
                terminate(&w, acts, now + backoff(&w, w.terminate_attempts));
            } else {
                snprintf(why, sizeof(why),
                         "could not terminate the test cluster %s (its auto-termination still applies)%s%s",
                         w.cluster_id[0] ? w.cluster_id : "(not found)", ev->detail[0] ? ": " : "", ev->detail);
                set_outcome(&w, FR_EMR_WF_FAILED, why);
                finish(&w, acts);
            }
        } else {
            ok = false;
        }
        break;
    default: /* terminal */
        ok = false;
        break;
    }
    if (!ok) {
        acts->n = 0;
        *next = *cur;
        return FR_ESTATE;
    }
    *next = w;
    return 0;
}

/* ---- never clobber ---- */

fr_emr_revert_decision fr_emr_revert_decide(int64_t original_version, const char *original_value,
                                            const char *modified_value, int64_t expected_version,
                                            int64_t current_version, const char *current_value)
{
    if (current_value && original_value && strcmp(current_value, original_value) == 0)
        return FR_EMR_REVERT_NOOP;
    if (expected_version > 0)
        return current_version == expected_version ? FR_EMR_REVERT_RESTORE : FR_EMR_REVERT_CONFLICT;
    if (current_value && modified_value && strcmp(current_value, modified_value) == 0 &&
        current_version == original_version + 1)
        return FR_EMR_REVERT_RESTORE;
    return FR_EMR_REVERT_CONFLICT;
}

const char *fr_emr_revert_decision_name(fr_emr_revert_decision d)
{
    static const char *const n[] = {"RESTORE", "NOOP", "CONFLICT"};
    return (unsigned)d < 3 ? n[d] : "UNKNOWN";
}

json_t *fr_emr_lambda_payload(const char *cluster_name)
{
    json_t *body = json_object();
    json_object_set_new(body, "cluster_name", json_string(cluster_name));
    json_object_set_new(body, "job_type", json_string("CLUSTER"));
    json_object_set_new(body, "request_type", json_string("CREATE"));
    json_object_set_new(body, "fifo_key", json_string(cluster_name));
    char *s = json_dumps(body, JSON_PRESERVE_ORDER); /* ", " and ": " separators, as the seed writes it */
    json_decref(body);
    if (!s)
        return NULL;
    json_t *p = json_object();
    json_object_set_new(p, "resource", json_string("/executions/clusters"));
    json_object_set_new(p, "path", json_string("/executions/clusters"));
    json_object_set_new(p, "body", json_string(s));
    json_object_set_new(p, "httpMethod", json_string("POST"));
    free(s);
    return p;
}

/* ---- JSON ---- */

json_t *fr_emr_wf_to_json(const fr_emr_wf *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(fr_emr_wf_state_name(w->state)));
    json_object_set_new(o, "outcome", json_string(fr_emr_wf_state_name(w->outcome)));
    json_object_set_new(o, "reason", json_string(w->reason));
    json_object_set_new(o, "cancel_requested", json_boolean(w->cancel_requested));
    json_object_set_new(o, "param_touched", json_boolean(w->param_touched));
    json_object_set_new(o, "param_written", json_boolean(w->param_written));
    json_object_set_new(o, "original_version", json_integer(w->original_version));
    json_object_set_new(o, "written_version", json_integer(w->written_version));
    json_object_set_new(o, "invoked", json_boolean(w->invoked));
    json_object_set_new(o, "invoke_emitted", json_boolean(w->invoke_emitted));
    json_object_set_new(o, "invoked_at_ms", json_integer(w->invoked_at_ms));
    json_object_set_new(o, "cluster_id", w->cluster_id[0] ? json_string(w->cluster_id) : json_null());
    json_object_set_new(o, "cluster_confirmed", json_boolean(w->cluster_confirmed));
    json_object_set_new(o, "reverted", json_boolean(w->reverted));
    json_object_set_new(o, "revert_conflict", json_boolean(w->revert_conflict));
    json_object_set_new(o, "revert_stuck", json_boolean(w->revert_stuck));
    json_object_set_new(o, "lambda_cluster_id", w->lambda_cluster_id[0] ? json_string(w->lambda_cluster_id) : json_null());
    json_object_set_new(o, "mismatches", json_integer(w->mismatches));
    json_object_set_new(o, "terminated", json_boolean(w->terminated));
    json_object_set_new(o, "steps", json_integer(w->steps));
    json_object_set_new(o, "wait_deadline_ms", json_integer(w->wait_deadline_ms));
    json_object_set_new(o, "steps_deadline_ms", json_integer(w->steps_deadline_ms));
    return o;
}

json_t *fr_emr_action_to_json(const fr_emr_action *a)
{
    json_t *o = json_pack("{s:s, s:b}", "action", fr_emr_act_name(a->type), "journal_before", a->journal_before);
    if (a->step)
        json_object_set_new(o, "step", json_string(a->step));
    if (a->cluster_id[0])
        json_object_set_new(o, "cluster_id", json_string(a->cluster_id));
    if (a->type == FR_EMR_ACT_REVERT_PARAM || a->type == FR_EMR_ACT_PUT_PARAM) {
        json_object_set_new(o, "expected_version", json_integer(a->expected_version));
        json_object_set_new(o, "original_version", json_integer(a->original_version));
    }
    if (a->deadline_ms)
        json_object_set_new(o, "deadline_ms", json_integer(a->deadline_ms));
    if (a->created_after_ms)
        json_object_set_new(o, "created_after_ms", json_integer(a->created_after_ms));
    if (a->attempt)
        json_object_set_new(o, "attempt", json_integer(a->attempt));
    if (a->type == FR_EMR_ACT_FINISH)
        json_object_set_new(o, "final_state", json_string(fr_emr_wf_state_name(a->final_state)));
    return o;
}

/* A short, printable quote of untrusted text for a message. */
static void quote(char *out, size_t n, const char *s, size_t len)
{
    size_t j = 0, i = 0;
    for (; i < len && j + 4 < n; i++)
        out[j++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    if (i < len)
        memcpy(out + j, "...", 3), j += 3;
    out[j] = '\0';
}

static bool emr_cluster_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 31 || strncmp(s, "j-", 2) != 0)
        return false;
    for (size_t i = 2; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

int fr_emr_lambda_answer(const char *payload, size_t len, int *status, char *cluster_id, size_t idlen, char *why,
                         size_t whylen)
{
    *status = 0;
    if (idlen)
        cluster_id[0] = '\0';
    why[0] = '\0';
    char q[64];
    if (!payload || len == 0) {
        snprintf(why, whylen, "the Lambda's answer is empty");
        return FR_EPARSE;
    }
    json_error_t je;
    json_t *resp = json_loadb(payload, len, JSON_DECODE_ANY, &je);
    if (!resp) {
        quote(q, sizeof(q), payload, len);
        snprintf(why, whylen, "the Lambda's answer is not JSON (%s): %s", je.text, q);
        return FR_EPARSE;
    }
    int rc = FR_EPARSE;
    json_t *body = NULL;
    json_t *sc = json_object_get(resp, "statusCode");
    json_t *b = json_object_get(resp, "body");
    if (!json_is_object(resp)) {
        snprintf(why, whylen, "the Lambda's answer is not an object {\"statusCode\", \"body\"}");
        goto out;
    }
    if (!json_is_integer(sc) || json_integer_value(sc) < 100 || json_integer_value(sc) > 599) {
        snprintf(why, whylen, "the Lambda's answer has no valid statusCode");
        goto out;
    }
    *status = (int)json_integer_value(sc);
    if (json_is_string(b)) {
        body = json_loads(json_string_value(b), JSON_DECODE_ANY, NULL);
        if (!json_is_object(body)) {
            quote(q, sizeof(q), json_string_value(b), json_string_length(b));
            snprintf(why, whylen, "the Lambda's answer (statusCode %d) has a body that is not a JSON object: %s",
                     *status, q);
            goto out;
        }
    } else if (json_is_object(b)) {
        body = json_incref(b);
    } else {
        snprintf(why, whylen, "the Lambda's answer (statusCode %d) has no body", *status);
        goto out;
    }
    if (*status < 200 || *status > 299) {
        const char *m = json_string_value(json_object_get(body, "message"));
        if (!m)
            m = json_string_value(json_object_get(body, "error"));
        quote(q, sizeof(q), m ? m : "", m ? strlen(m) : 0);
        snprintf(why, whylen, "the Lambda answered statusCode %d%s%s", *status, q[0] ? ": " : "", q);
        rc = FR_EHTTP;
        goto out;
    }
    json_t *id = json_object_get(body, "cluster_id");
    if (!id)
        id = json_object_get(body, "ClusterId");
    if (id && !json_is_null(id)) {
        if (!json_is_string(id) || !emr_cluster_id(json_string_value(id))) {
            if (json_is_string(id))
                quote(q, sizeof(q), json_string_value(id), json_string_length(id));
            snprintf(why, whylen, "the Lambda's answer names a cluster id that is not an EMR cluster id%s%s",
                     json_is_string(id) ? ": " : "", json_is_string(id) ? q : "");
            goto out;
        }
        fr_strlcpy(cluster_id, json_string_value(id), idlen);
    }
    rc = 0;
out:
    json_decref(body);
    json_decref(resp);
    return rc;
}
