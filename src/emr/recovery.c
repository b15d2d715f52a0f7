/* The run journal's data builders and the crash-recovery planner (contract
 * in emr_workflow.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frugal/emr_workflow.h"
#include "frugal/err.h"
#include "frugal/str.h"

/* ---- journal data builders ---- */

json_t *fr_emr_jdata_modify_intent(const char *param, const char *tier, int64_t original_version,
                                   const char *original_value, const char *new_value)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "param", param, "tier", tier, "original_version",
                     (json_int_t)original_version, "original_value", original_value, "new_value", new_value);
}

json_t *fr_emr_jdata_modify_done(int64_t version)
{
    return json_pack("{s:I}", "version", (json_int_t)version);
}

json_t *fr_emr_jdata_create_intent(const char *function, const char *cluster_name, int64_t invoked_at_ms,
                                   const char *core_type, const char *task_type)
{
    json_t *types = json_object();
    if (core_type)
        json_object_set_new(types, "CORE", json_string(core_type));
    if (task_type)
        json_object_set_new(types, "TASK", json_string(task_type));
    return json_pack("{s:s, s:o, s:s, s:I, s:o}", "function", function, "payload", fr_emr_lambda_payload(cluster_name),
                     "cluster_name", cluster_name, "invoked_at_ms", (json_int_t)invoked_at_ms, "expect_types", types);
}

json_t *fr_emr_jdata_create_done(int status_code, const char *cluster_id)
{
    return json_pack("{s:i, s:o}", "status_code", status_code, "cluster_id",
                     cluster_id && *cluster_id ? json_string(cluster_id) : json_null());
}

json_t *fr_emr_jdata_create_failed(const char *error, bool ambiguous)
{
    return json_pack("{s:s, s:b}", "error", error ? error : "", "ambiguous", ambiguous);
}

json_t *fr_emr_jdata_wait_note(const char *cluster_id, bool confirmed)
{
    return json_pack("{s:s, s:b}", "cluster_id", cluster_id, "confirmed", confirmed);
}

json_t *fr_emr_jdata_wait_mismatch(const char *cluster_id)
{
    return json_pack("{s:s, s:b, s:b}", "cluster_id", cluster_id, "confirmed", 0, "mismatch", 1);
}

json_t *fr_emr_jdata_revert_intent(int64_t expected_version)
{
    return json_pack("{s:I}", "expected_version", (json_int_t)expected_version);
}

json_t *fr_emr_jdata_revert_done(int64_t version, bool noop)
{
    return json_pack("{s:I, s:b}", "version", (json_int_t)version, "noop", noop);
}

json_t *fr_emr_jdata_revert_failed(bool conflict, int64_t found_version, const char *error)
{
    return json_pack("{s:b, s:I, s:s}", "conflict", conflict, "found_version", (json_int_t)found_version, "error",
                     error ? error : "");
}

json_t *fr_emr_jdata_terminate_intent(const char *cluster_id, const char *name, int64_t created_after_ms,
                                      const char *core_type, const char *task_type)
{
    json_t *types = json_object();
    if (core_type)
        json_object_set_new(types, "CORE", json_string(core_type));
    if (task_type)
        json_object_set_new(types, "TASK", json_string(task_type));
    return json_pack("{s:o, s:{s:s, s:I, s:o}}", "cluster_id",
                     cluster_id && *cluster_id ? json_string(cluster_id) : json_null(), "search", "name", name,
                     "created_after_ms", (json_int_t)created_after_ms, "types", types);
}

json_t *fr_emr_jdata_end(fr_emr_wf_state state, const char *reason)
{
    return json_pack("{s:s, s:s}", "state", fr_emr_wf_state_name(state), "reason", reason ? reason : "");
}

/* ---- recovery ---- */

typedef struct facts {
    bool modify_intent, modify_done;
    int64_t original_version, written_version;
    bool create_intent, create_failed, create_ambiguous;
    int64_t invoked_at_ms;
    char cluster_id[32];        /* the test cluster: confirmed, or named by the Lambda */
    char lambda_cluster_id[32];
    bool confirmed;
    bool revert_done, revert_conflict;
    int64_t conflict_version;
    bool report_done;
    bool terminate_done;
    bool cancel;
    fr_emr_wf_state report_outcome; /* the outcome when the report was written */
    char report_reason[200];
    bool end;
    fr_emr_wf_state end_state;
    char end_reason[200];
    char last[40];
} facts;

static int need_int(const json_t *data, const char *key, int64_t *out, size_t idx, char *err, size_t errlen)
{
    const json_t *v = json_object_get(data, key);
    if (!json_is_integer(v)) {
        if (err && errlen)
            snprintf(err, errlen, "journal entry %zu: data.%s is not an integer", idx, key);
        return FR_EPARSE;
    }
    *out = json_integer_value(v);
    return 0;
}

static int read_facts(const json_t *journal, facts *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    if (!json_is_array(journal)) {
        if (err && errlen)
            snprintf(err, errlen, "the journal is not an array");
        return FR_EPARSE;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(journal, i, e)
    {
        const char *step = json_string_value(json_object_get(e, "step"));
        const char *phase = json_string_value(json_object_get(e, "phase"));
        const json_t *data = json_object_get(e, "data");
        if (!json_is_object(e) || !step || !phase ||
            (strcmp(phase, "intent") && strcmp(phase, "done") && strcmp(phase, "failed") && strcmp(phase, "note"))) {
            if (err && errlen)
                snprintf(err, errlen, "journal entry %zu: needs \"step\" and \"phase\" (intent/done/failed/note)", i);
            return FR_EPARSE;
        }
        if (data && !json_is_object(data) && !json_is_null(data)) {
            if (err && errlen)
                snprintf(err, errlen, "journal entry %zu: \"data\" is not an object", i);
            return FR_EPARSE;
        }
        snprintf(f->last, sizeof(f->last), "%s.%s", step, phase);
        int rc = 0;
        if (strcmp(step, "MODIFY") == 0) {
            if (strcmp(phase, "intent") == 0) {
                f->modify_intent = true;
                rc = need_int(data, "original_version", &f->original_version, i, err, errlen);
            } else if (strcmp(phase, "done") == 0) {
                f->modify_done = true;
                rc = need_int(data, "version", &f->written_version, i, err, errlen);
            }
        } else if (strcmp(step, "CREATE") == 0) {
            if (strcmp(phase, "intent") == 0) {
                f->create_intent = true;
                rc = need_int(data, "invoked_at_ms", &f->invoked_at_ms, i, err, errlen);
            } else if (strcmp(phase, "done") == 0) {
                const char *id = json_string_value(json_object_get(data, "cluster_id"));
                if (id && *id) { /* the Lambda's answer: surely frugal's */
                    fr_strlcpy(f->lambda_cluster_id, id, sizeof(f->lambda_cluster_id));
                    fr_strlcpy(f->cluster_id, id, sizeof(f->cluster_id));
                }
            } else if (strcmp(phase, "failed") == 0) {
                f->create_failed = true;
                f->create_ambiguous = json_is_true(json_object_get(data, "ambiguous"));
            }
        } else if (strcmp(step, "WAIT") == 0) {
            const char *id = json_string_value(json_object_get(data, "cluster_id"));
            if (!id) {
                if (err && errlen)
                    snprintf(err, errlen, "journal entry %zu: WAIT note without data.cluster_id", i);
                return FR_EPARSE;
            }
            /* Only a confirmed cluster (or the Lambda's) is terminated by id.
             * One that was found but not yet checked may be anybody's: the
             * search (name, time, the new types) decides after a restart.
             * One with other types is not frugal's. */
            if (json_is_true(json_object_get(data, "mismatch"))) {
                if (strcmp(f->cluster_id, id) == 0 && strcmp(f->lambda_cluster_id, id) != 0)
                    f->cluster_id[0] = '\0';
            } else if (json_is_true(json_object_get(data, "confirmed"))) {
                fr_strlcpy(f->cluster_id, id, sizeof(f->cluster_id));
                f->confirmed = true;
            }
        } else if (strcmp(step, "REVERT") == 0) {
            if (strcmp(phase, "done") == 0) {
                f->revert_done = true;
            } else if (strcmp(phase, "failed") == 0 && json_is_true(json_object_get(data, "conflict"))) {
                f->revert_conflict = true;
                json_t *v = json_object_get(data, "found_version");
                f->conflict_version = json_is_integer(v) ? json_integer_value(v) : 0;
            }
        } else if (strcmp(step, "REPORT") == 0) {
            if (strcmp(phase, "done") == 0) {
                f->report_done = true;
                const char *o = json_string_value(json_object_get(data, "outcome"));
                if (!o || fr_emr_wf_state_parse(o, &f->report_outcome) != 0)
                    f->report_outcome = FR_EMR_WF_DONE; /* entries from before the outcome was kept */
                const char *why = json_string_value(json_object_get(data, "reason"));
                fr_strlcpy(f->report_reason, why ? why : "", sizeof(f->report_reason));
            }
        } else if (strcmp(step, "TERMINATE") == 0) {
            if (strcmp(phase, "done") == 0)
                f->terminate_done = true;
        } else if (strcmp(step, "CANCEL") == 0) {
            f->cancel = true;
        } else if (strcmp(step, "END") == 0) {
            const char *st = json_string_value(json_object_get(data, "state"));
            if (!st || fr_emr_wf_state_parse(st, &f->end_state) != 0 || !fr_emr_wf_is_terminal(f->end_state)) {
                if (err && errlen)
                    snprintf(err, errlen, "journal entry %zu: END without a final data.state", i);
                return FR_EPARSE;
            }
            const char *r = json_string_value(json_object_get(data, "reason"));
            fr_strlcpy(f->end_reason, r ? r : "", sizeof(f->end_reason));
            f->end = true;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static fr_emr_action *add(fr_emr_wf_actions *acts, fr_emr_act type, const char *step, bool journal)
{
    fr_emr_action *a = &acts->a[acts->n++];
    memset(a, 0, sizeof(*a));
    a->type = type;
    a->step = step;
    a->journal_before = journal;
    return a;
}

int fr_emr_recover(const json_t *journal, const fr_emr_wf_opts *opts, int64_t now_ms, fr_emr_recovery *out,
                   char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    facts f;
    int rc = read_facts(journal, &f, err, errlen);
    if (rc)
        return rc;
    fr_emr_wf *w = &out->wf;
    w->opts = *opts;
    if (w->opts.max_attempts <= 0)
        w->opts.max_attempts = 5;

    if (f.end) {
        w->state = w->outcome = f.end_state;
        fr_strlcpy(w->reason, f.end_reason, sizeof(w->reason));
        snprintf(out->summary, sizeof(out->summary), "the run had already ended %s", fr_emr_wf_state_name(f.end_state));
        return 0;
    }

    /* what the journal says happened */
    w->param_touched = f.modify_intent;
    w->param_written = f.modify_done;
    w->original_version = f.original_version;
    w->written_version = f.written_version;
    w->invoke_emitted = f.create_intent; /* never invoked again */
    w->invoked = f.create_intent && !(f.create_failed && !f.create_ambiguous); /* it may have made a cluster */
    w->invoked_at_ms = f.invoked_at_ms;
    fr_strlcpy(w->cluster_id, f.cluster_id, sizeof(w->cluster_id));
    fr_strlcpy(w->lambda_cluster_id, f.lambda_cluster_id, sizeof(w->lambda_cluster_id));
    w->cluster_confirmed = f.confirmed;
    w->reverted = f.revert_done;
    w->revert_conflict = f.revert_conflict;
    w->terminated = f.terminate_done;
    w->cancel_requested = f.cancel;

    /* where it ends */
    if (f.revert_conflict) {
        w->outcome = FR_EMR_WF_CONFLICT;
        snprintf(w->reason, sizeof(w->reason),
                 "the parameter was changed by someone else (Version %lld): not overwritten",
                 (long long)f.conflict_version);
    } else if (f.cancel) {
        w->outcome = FR_EMR_WF_CANCELLED;
        snprintf(w->reason, sizeof(w->reason), "cancelled; finished after a restart (last entry %s)", f.last);
    } else if (f.report_done && f.revert_done) {
        /* only the termination was left: the run ends as the report found it */
        w->outcome = f.report_outcome == FR_EMR_WF_DONE ? FR_EMR_WF_DONE : FR_EMR_WF_FAILED;
        if (w->outcome == FR_EMR_WF_DONE || !f.report_reason[0])
            snprintf(w->reason, sizeof(w->reason), "finished after a restart (last entry %s)", f.last);
        else
            fr_strlcpy(w->reason, f.report_reason, sizeof(w->reason));
    } else {
        w->outcome = FR_EMR_WF_FAILED;
        snprintf(w->reason, sizeof(w->reason), "interrupted by a restart (last entry %s)",
                 f.last[0] ? f.last : "none");
    }

    fr_emr_wf_actions *acts = &out->acts;
    if (!f.modify_intent) {
        w->state = w->outcome;
        fr_emr_action *a = add(acts, FR_EMR_ACT_FINISH, "END", false);
        a->final_state = w->state;
        snprintf(out->summary, sizeof(out->summary), "nothing was changed in AWS: the run ends %s",
                 fr_emr_wf_state_name(w->state));
        return 0;
    }

    bool need_revert = !f.revert_done && !f.revert_conflict;
    bool lambda_may_run = f.create_intent && !(f.create_failed && !f.create_ambiguous);
    int64_t deadline = f.invoked_at_ms + w->opts.wait_timeout_ms;
    if (need_revert && lambda_may_run && !f.confirmed && now_ms < deadline) {
        /* the Lambda may still read the parameter: wait for its cluster first */
        w->state = FR_EMR_WF_WAIT;
        w->wait_deadline_ms = deadline;
        fr_emr_action *a = add(acts, FR_EMR_ACT_FIND_CLUSTER, NULL, false);
        a->created_after_ms = f.invoked_at_ms - w->opts.clock_skew_ms;
        a->deadline_ms = deadline;
        fr_strlcpy(a->cluster_id, w->cluster_id, sizeof(a->cluster_id));
        snprintf(out->summary, sizeof(out->summary),
                 "the Lambda was invoked: waiting for the test cluster until the deadline, then revert and terminate");
    } else if (need_revert) {
        w->state = FR_EMR_WF_REVERT;
        fr_emr_action *a = add(acts, FR_EMR_ACT_REVERT_PARAM, "REVERT", true);
        a->expected_version = f.modify_done ? f.written_version : 0;
        a->original_version = f.original_version;
        a->attempt = 1;
        /* a put cut off by the crash may still land: read after it would have */
        a->not_before_ms = f.modify_done ? now_ms : now_ms + w->opts.settle_ms;
        snprintf(out->summary, sizeof(out->summary), "restore the parameter (never clobber)%s",
                 w->invoked && !f.terminate_done ? ", then terminate the test cluster" : "");
    } else if (w->invoked && !f.terminate_done) {
        w->state = FR_EMR_WF_TERMINATE;
        fr_emr_action *a = add(acts, FR_EMR_ACT_TERMINATE_CLUSTER, "TERMINATE", true);
        fr_strlcpy(a->cluster_id, w->cluster_id, sizeof(a->cluster_id));
        a->created_after_ms = f.invoked_at_ms - w->opts.clock_skew_ms;
        a->deadline_ms = f.invoked_at_ms + w->opts.wait_timeout_ms + w->opts.clock_skew_ms;
        a->attempt = 1;
        a->not_before_ms = now_ms;
        snprintf(out->summary, sizeof(out->summary), "the parameter is settled: terminate the test cluster");
    } else {
        w->state = w->outcome;
        fr_emr_action *a = add(acts, FR_EMR_ACT_FINISH, "END", false);
        a->final_state = w->state;
        snprintf(out->summary, sizeof(out->summary), "nothing left to undo: the run ends %s",
                 fr_emr_wf_state_name(w->state));
    }
    return 0;
}
