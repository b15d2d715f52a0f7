/* The workflow state machine (every state x every event), its rules on
 * scenarios and random walks, never-clobber, the Lambda payload, and crash
 * recovery: a simulated AWS account and driver run each scenario, crash
 * after every journal entry (with and without the side effect of a
 * just-journaled intent having happened), recover from the journal and
 * finish; AWS must end as the user had it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frugal/config.h"
#include "frugal/emr_workflow.h"
#include "frugal/err.h"
#include "frugal/str.h"

static fr_emr_wf_opts opts = {45 * 60000, 100 * 60000, 5, 5000, 60000};

static fr_emr_wf_event ev_of(fr_emr_wf_event_type t)
{
    fr_emr_wf_event e;
    memset(&e, 0, sizeof(e));
    e.type = t;
    e.now_ms = 1000000;
    switch (t) {
    case FR_EMR_EV_BACKUP_DONE:
        e.version = 7;
        break;
    case FR_EMR_EV_MODIFY_DONE:
        e.version = 8;
        break;
    case FR_EMR_EV_REVERT_CONFLICT:
        e.version = 9;
        break;
    case FR_EMR_EV_STEPS_COPIED:
        e.steps = 2;
        break;
    case FR_EMR_EV_CLUSTER_FOUND:
    case FR_EMR_EV_CLUSTER_CONFIRMED:
    case FR_EMR_EV_CLUSTER_MISMATCH:
    case FR_EMR_EV_CLUSTER_FAILED:
        fr_strlcpy(e.cluster_id, "j-1", sizeof(e.cluster_id));
        break;
    default:
        break;
    }
    return e;
}

static void step(fr_emr_wf *w, fr_emr_wf_event_type t, fr_emr_wf_actions *acts)
{
    fr_emr_wf_event e = ev_of(t);
    fr_emr_wf_actions tmp;
    int rc = fr_emr_wf_next(w, &e, w, acts ? acts : &tmp);
    if (rc != 0)
        fail_msg("%s in %s: %d", fr_emr_wf_event_name(t), fr_emr_wf_state_name(w->state), rc);
}

/* A machine in `s`, reached along the happy path. */
static void reach(fr_emr_wf_state s, fr_emr_wf *w)
{
    static const fr_emr_wf_event_type path[] = {
        FR_EMR_EV_ANALYSIS_DONE,  FR_EMR_EV_RECOMMEND_DONE, FR_EMR_EV_APPROVED,      FR_EMR_EV_BACKUP_DONE,
        FR_EMR_EV_MODIFY_DONE,    FR_EMR_EV_INVOKE_DONE,    FR_EMR_EV_CLUSTER_CONFIRMED, FR_EMR_EV_REVERT_DONE,
        FR_EMR_EV_STEPS_COPIED,   FR_EMR_EV_STEPS_SUBMITTED, FR_EMR_EV_STEPS_DONE,  FR_EMR_EV_COMPARE_DONE,
        FR_EMR_EV_REPORT_DONE,    FR_EMR_EV_TERMINATE_DONE,
    };
    fr_emr_wf_actions acts;
    fr_emr_wf_start(w, &opts, &acts);
    if (s == FR_EMR_WF_FAILED) {
        step(w, FR_EMR_EV_ANALYSIS_FAILED, NULL);
        return;
    }
    if (s == FR_EMR_WF_CANCELLED) {
        step(w, FR_EMR_EV_CANCEL, NULL);
        return;
    }
    if (s == FR_EMR_WF_CONFLICT) {
        reach(FR_EMR_WF_REVERT, w);
        step(w, FR_EMR_EV_REVERT_CONFLICT, NULL);
        step(w, FR_EMR_EV_TERMINATE_DONE, NULL);
        return;
    }
    for (size_t i = 0; w->state != s; i++) {
        assert_true(i < sizeof(path) / sizeof(path[0]));
        step(w, path[i], NULL);
    }
}

#define NONE (-1)
typedef struct row {
    fr_emr_wf_state from;
    fr_emr_wf_event_type ev;
    fr_emr_wf_state to;
    int act; /* first action, NONE for none */
} row;

static const row table[] = {
    {FR_EMR_WF_ANALYZE, FR_EMR_EV_ANALYSIS_DONE, FR_EMR_WF_RECOMMEND, FR_EMR_ACT_RECOMMEND},
    {FR_EMR_WF_ANALYZE, FR_EMR_EV_ANALYSIS_FAILED, FR_EMR_WF_FAILED, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_ANALYZE, FR_EMR_EV_CANCEL, FR_EMR_WF_CANCELLED, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_RECOMMEND, FR_EMR_EV_RECOMMEND_DONE, FR_EMR_WF_AWAIT_APPROVAL, FR_EMR_ACT_AWAIT_APPROVAL},
    {FR_EMR_WF_RECOMMEND, FR_EMR_EV_RECOMMEND_NO_CHANGE, FR_EMR_WF_DONE, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_RECOMMEND, FR_EMR_EV_RECOMMEND_REFUSED, FR_EMR_WF_FAILED, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_RECOMMEND, FR_EMR_EV_CANCEL, FR_EMR_WF_CANCELLED, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_AWAIT_APPROVAL, FR_EMR_EV_APPROVED, FR_EMR_WF_BACKUP, FR_EMR_ACT_READ_PARAM},
    {FR_EMR_WF_AWAIT_APPROVAL, FR_EMR_EV_CANCEL, FR_EMR_WF_CANCELLED, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_BACKUP, FR_EMR_EV_BACKUP_DONE, FR_EMR_WF_MODIFY, FR_EMR_ACT_PUT_PARAM},
    {FR_EMR_WF_BACKUP, FR_EMR_EV_BACKUP_FAILED, FR_EMR_WF_FAILED, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_BACKUP, FR_EMR_EV_CANCEL, FR_EMR_WF_CANCELLED, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_MODIFY, FR_EMR_EV_MODIFY_DONE, FR_EMR_WF_CREATE, FR_EMR_ACT_INVOKE_LAMBDA},
    {FR_EMR_WF_MODIFY, FR_EMR_EV_MODIFY_FAILED, FR_EMR_WF_REVERT, FR_EMR_ACT_REVERT_PARAM},
    {FR_EMR_WF_MODIFY, FR_EMR_EV_CANCEL, FR_EMR_WF_MODIFY, NONE},
    {FR_EMR_WF_CREATE, FR_EMR_EV_INVOKE_DONE, FR_EMR_WF_WAIT, FR_EMR_ACT_FIND_CLUSTER},
    {FR_EMR_WF_CREATE, FR_EMR_EV_INVOKE_FAILED, FR_EMR_WF_REVERT, FR_EMR_ACT_REVERT_PARAM},
    {FR_EMR_WF_CREATE, FR_EMR_EV_CANCEL, FR_EMR_WF_CREATE, NONE},
    {FR_EMR_WF_CREATE, FR_EMR_EV_SHUTDOWN, FR_EMR_WF_REVERT, FR_EMR_ACT_REVERT_PARAM},
    {FR_EMR_WF_WAIT, FR_EMR_EV_CLUSTER_FOUND, FR_EMR_WF_WAIT, FR_EMR_ACT_JOURNAL_NOTE},
    {FR_EMR_WF_WAIT, FR_EMR_EV_CLUSTER_CONFIRMED, FR_EMR_WF_REVERT, FR_EMR_ACT_JOURNAL_NOTE},
    {FR_EMR_WF_WAIT, FR_EMR_EV_CLUSTER_MISMATCH, FR_EMR_WF_WAIT, FR_EMR_ACT_JOURNAL_NOTE},
    {FR_EMR_WF_WAIT, FR_EMR_EV_SHUTDOWN, FR_EMR_WF_REVERT, FR_EMR_ACT_REVERT_PARAM},
    {FR_EMR_WF_WAIT, FR_EMR_EV_CLUSTER_FAILED, FR_EMR_WF_REVERT, FR_EMR_ACT_JOURNAL_NOTE},
    {FR_EMR_WF_WAIT, FR_EMR_EV_WAIT_TIMEOUT, FR_EMR_WF_REVERT, FR_EMR_ACT_REVERT_PARAM},
    {FR_EMR_WF_WAIT, FR_EMR_EV_CANCEL, FR_EMR_WF_WAIT, NONE},
    {FR_EMR_WF_REVERT, FR_EMR_EV_REVERT_DONE, FR_EMR_WF_COPY_STEPS, FR_EMR_ACT_COPY_STEPS},
    {FR_EMR_WF_REVERT, FR_EMR_EV_REVERT_CONFLICT, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_REVERT, FR_EMR_EV_REVERT_FAILED, FR_EMR_WF_REVERT, FR_EMR_ACT_REVERT_PARAM},
    {FR_EMR_WF_REVERT, FR_EMR_EV_CANCEL, FR_EMR_WF_REVERT, NONE},
    {FR_EMR_WF_COPY_STEPS, FR_EMR_EV_STEPS_COPIED, FR_EMR_WF_SUBMIT_STEPS, FR_EMR_ACT_SUBMIT_STEPS},
    {FR_EMR_WF_COPY_STEPS, FR_EMR_EV_STEPS_COPY_FAILED, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_COPY_STEPS, FR_EMR_EV_CANCEL, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_SUBMIT_STEPS, FR_EMR_EV_STEPS_SUBMITTED, FR_EMR_WF_WAIT_STEPS, FR_EMR_ACT_POLL_STEPS},
    {FR_EMR_WF_SUBMIT_STEPS, FR_EMR_EV_STEPS_SUBMIT_FAILED, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_SUBMIT_STEPS, FR_EMR_EV_CANCEL, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_WAIT_STEPS, FR_EMR_EV_STEPS_DONE, FR_EMR_WF_COMPARE, FR_EMR_ACT_COMPARE},
    {FR_EMR_WF_WAIT_STEPS, FR_EMR_EV_STEPS_FAILED, FR_EMR_WF_COMPARE, FR_EMR_ACT_COMPARE},
    {FR_EMR_WF_WAIT_STEPS, FR_EMR_EV_STEPS_TIMEOUT, FR_EMR_WF_COMPARE, FR_EMR_ACT_COMPARE},
    {FR_EMR_WF_WAIT_STEPS, FR_EMR_EV_CANCEL, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_COMPARE, FR_EMR_EV_COMPARE_DONE, FR_EMR_WF_REPORT, FR_EMR_ACT_WRITE_REPORT},
    {FR_EMR_WF_COMPARE, FR_EMR_EV_CANCEL, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_REPORT, FR_EMR_EV_REPORT_DONE, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_REPORT, FR_EMR_EV_CANCEL, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_TERMINATE, FR_EMR_EV_TERMINATE_DONE, FR_EMR_WF_DONE, FR_EMR_ACT_FINISH},
    {FR_EMR_WF_TERMINATE, FR_EMR_EV_TERMINATE_FAILED, FR_EMR_WF_TERMINATE, FR_EMR_ACT_TERMINATE_CLUSTER},
    {FR_EMR_WF_TERMINATE, FR_EMR_EV_CANCEL, FR_EMR_WF_TERMINATE, NONE},
};

static bool side_effect(fr_emr_act a)
{
    return a == FR_EMR_ACT_PUT_PARAM || a == FR_EMR_ACT_INVOKE_LAMBDA || a == FR_EMR_ACT_REVERT_PARAM ||
           a == FR_EMR_ACT_SUBMIT_STEPS || a == FR_EMR_ACT_TERMINATE_CLUSTER;
}

static void check_actions(const fr_emr_wf_actions *acts)
{
    for (size_t i = 0; i < acts->n; i++) {
        const fr_emr_action *a = &acts->a[i];
        assert_int_equal(a->journal_before, side_effect(a->type));
        if (a->journal_before)
            assert_non_null(a->step);
    }
}

/* Every state x every event: the table's transitions, FR_ESTATE (and no
 * change) for everything else. */
static void test_every_state_every_event(void **state)
{
    size_t valid = 0, refused = 0;
    for (int s = 0; s < FR_EMR_WF__COUNT; s++) {
        fr_emr_wf base;
        reach((fr_emr_wf_state)s, &base);
        assert_int_equal(base.state, s);
        for (int e = 0; e < FR_EMR_EV__COUNT; e++) {
            const row *r = NULL;
            for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (table[i].from == (fr_emr_wf_state)s && table[i].ev == (fr_emr_wf_event_type)e)
                    r = &table[i];
            fr_emr_wf next;
            fr_emr_wf_actions acts;
            fr_emr_wf_event ev = ev_of((fr_emr_wf_event_type)e);
            int rc = fr_emr_wf_next(&base, &ev, &next, &acts);
            if (!r) {
                if (rc != FR_ESTATE)
                    fail_msg("%s + %s: expected FR_ESTATE, got %d -> %s", fr_emr_wf_state_name((fr_emr_wf_state)s),
                             fr_emr_wf_event_name((fr_emr_wf_event_type)e), rc, fr_emr_wf_state_name(next.state));
                assert_int_equal(acts.n, 0);
                assert_memory_equal(&next, &base, sizeof(base));
                refused++;
                continue;
            }
            if (rc != 0 || next.state != r->to)
                fail_msg("%s + %s: expected %s, got rc %d state %s", fr_emr_wf_state_name((fr_emr_wf_state)s),
                         fr_emr_wf_event_name((fr_emr_wf_event_type)e), fr_emr_wf_state_name(r->to), rc,
                         fr_emr_wf_state_name(next.state));
            if (r->act == NONE)
                assert_int_equal(acts.n, 0);
            else {
                assert_true(acts.n > 0);
                assert_int_equal(acts.a[0].type, r->act);
            }
            check_actions(&acts);
            if (fr_emr_wf_is_terminal(next.state)) /* the end is always recorded */
                assert_int_equal(acts.a[acts.n - 1].type, FR_EMR_ACT_FINISH);
            valid++;
        }
    }
    assert_int_equal(valid, sizeof(table) / sizeof(table[0]));
    assert_int_equal(valid + refused, (size_t)FR_EMR_WF__COUNT * FR_EMR_EV__COUNT);
}

static fr_emr_wf_event cev(fr_emr_wf_event_type t, const char *id)
{
    fr_emr_wf_event e = ev_of(t);
    if (id)
        fr_strlcpy(e.cluster_id, id, sizeof(e.cluster_id));
    return e;
}

/* A cancel after approval still reverts (after the cluster is confirmed)
 * and terminates; the run ends CANCELLED and skips Phase 2. */
static void test_cancel_after_approval(void **state)
{
    fr_emr_wf w;
    fr_emr_wf_actions acts;
    reach(FR_EMR_WF_WAIT, &w);
    step(&w, FR_EMR_EV_CANCEL, &acts);
    assert_int_equal(acts.n, 0); /* keep waiting: reverting now would race the Lambda */
    step(&w, FR_EMR_EV_CANCEL, &acts); /* idempotent */
    assert_int_equal(w.state, FR_EMR_WF_WAIT);
    step(&w, FR_EMR_EV_CLUSTER_CONFIRMED, &acts);
    assert_int_equal(w.state, FR_EMR_WF_REVERT);
    assert_int_equal(acts.a[1].type, FR_EMR_ACT_REVERT_PARAM);
    assert_int_equal(acts.a[1].expected_version, 8);
    assert_int_equal(acts.a[1].original_version, 7);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_TERMINATE);
    assert_string_equal(acts.a[0].cluster_id, "j-1");
    step(&w, FR_EMR_EV_TERMINATE_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_CANCELLED);
    assert_int_equal(acts.a[0].final_state, FR_EMR_WF_CANCELLED);

    /* cancel while the put is in flight: no invoke, straight to revert */
    reach(FR_EMR_WF_MODIFY, &w);
    step(&w, FR_EMR_EV_CANCEL, &acts);
    step(&w, FR_EMR_EV_MODIFY_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_REVERT);
    assert_false(w.invoked);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_CANCELLED); /* nothing to terminate */

    /* cancel while the Lambda is being invoked: wait for its cluster, revert, terminate */
    reach(FR_EMR_WF_CREATE, &w);
    step(&w, FR_EMR_EV_CANCEL, &acts);
    step(&w, FR_EMR_EV_INVOKE_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_WAIT);
    fr_emr_wf_event e = cev(FR_EMR_EV_WAIT_TIMEOUT, NULL);
    assert_int_equal(fr_emr_wf_next(&w, &e, &w, &acts), 0);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_REVERT_PARAM);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_TERMINATE_CLUSTER);
    assert_string_equal(acts.a[0].cluster_id, ""); /* search by name, time and types */
    assert_int_equal(acts.a[0].created_after_ms, w.invoked_at_ms - 60000);
    step(&w, FR_EMR_EV_TERMINATE_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_FAILED); /* the timeout outranks the cancel */
}

static void test_conflict_and_retries(void **state)
{
    fr_emr_wf w;
    fr_emr_wf_actions acts;
    reach(FR_EMR_WF_REVERT, &w);
    fr_emr_wf_event e = ev_of(FR_EMR_EV_REVERT_CONFLICT);
    assert_int_equal(fr_emr_wf_next(&w, &e, &w, &acts), 0);
    assert_int_equal(w.state, FR_EMR_WF_TERMINATE); /* the test cluster still goes */
    assert_non_null(strstr(w.reason, "Version 9, frugal wrote 8"));
    step(&w, FR_EMR_EV_TERMINATE_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_CONFLICT);
    json_t *j = fr_emr_wf_to_json(&w);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "CONFLICT");
    json_decref(j);

    /* revert failures are retried with a growing delay, never given up:
     * after max_attempts the run is flagged, and tried at least every 5 min */
    reach(FR_EMR_WF_REVERT, &w);
    int64_t last = 0;
    for (int i = 1; i < 12; i++) {
        step(&w, FR_EMR_EV_REVERT_FAILED, &acts);
        assert_int_equal(w.state, FR_EMR_WF_REVERT);
        assert_int_equal(acts.n, 1);
        assert_int_equal(acts.a[0].type, FR_EMR_ACT_REVERT_PARAM);
        assert_int_equal(acts.a[0].attempt, i + 1);
        assert_true(acts.a[0].not_before_ms >= last);
        assert_true(acts.a[0].not_before_ms - 1000000 <= 300000);
        assert_true(w.revert_stuck == (i >= 5));
        last = acts.a[0].not_before_ms;
    }
    /* a late success carries on where the run was: here, Phase 2 */
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_true(w.reverted);
    assert_int_equal(w.state, FR_EMR_WF_COPY_STEPS);

    /* terminate failures: retried, then FAILED with the cluster named */
    reach(FR_EMR_WF_TERMINATE, &w);
    for (int i = 0; i < 5; i++)
        step(&w, FR_EMR_EV_TERMINATE_FAILED, &acts);
    assert_int_equal(w.state, FR_EMR_WF_FAILED);
    assert_non_null(strstr(w.reason, "j-1"));
}

static void test_wait_paths(void **state)
{
    fr_emr_wf w;
    fr_emr_wf_actions acts;
    /* found, then confirmed */
    reach(FR_EMR_WF_WAIT, &w);
    assert_int_equal(w.wait_deadline_ms, w.invoked_at_ms + 45 * 60000);
    step(&w, FR_EMR_EV_CLUSTER_FOUND, &acts);
    assert_int_equal(acts.n, 1);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_JOURNAL_NOTE);
    assert_false(acts.a[0].confirmed);
    step(&w, FR_EMR_EV_CLUSTER_FOUND, &acts); /* the same again: nothing new */
    assert_int_equal(acts.n, 0);
    fr_emr_wf_event other = cev(FR_EMR_EV_CLUSTER_CONFIRMED, "j-2");
    assert_int_equal(fr_emr_wf_next(&w, &other, &w, &acts), FR_ESTATE); /* another cluster */
    step(&w, FR_EMR_EV_CLUSTER_CONFIRMED, &acts);
    assert_true(acts.a[0].confirmed);
    assert_int_equal(w.state, FR_EMR_WF_REVERT);

    /* a cluster of that name with other types is not the test cluster:
     * noted, left alone, and the wait goes on; at the deadline the revert,
     * then a search (that checks the types) instead of a terminate by id */
    reach(FR_EMR_WF_WAIT, &w);
    step(&w, FR_EMR_EV_CLUSTER_FOUND, &acts);
    step(&w, FR_EMR_EV_CLUSTER_MISMATCH, &acts);
    assert_int_equal(w.state, FR_EMR_WF_WAIT);
    assert_string_equal(w.cluster_id, "");
    assert_int_equal(acts.n, 1);
    assert_true(acts.a[0].mismatch);
    assert_int_equal(w.outcome, FR_EMR_WF_DONE);
    step(&w, FR_EMR_EV_WAIT_TIMEOUT, &acts);
    assert_non_null(strstr(w.reason, "1 cluster of that name with other instance types"));
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_TERMINATE_CLUSTER);
    assert_string_equal(acts.a[0].cluster_id, ""); /* only clusters with our types */
    assert_int_equal(acts.a[0].deadline_ms, w.invoked_at_ms + 45 * 60000 + 60000); /* the search window */

    /* a found cluster that was never confirmed is not terminated by id */
    reach(FR_EMR_WF_WAIT, &w);
    step(&w, FR_EMR_EV_CLUSTER_FOUND, &acts);
    step(&w, FR_EMR_EV_WAIT_TIMEOUT, &acts);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_string_equal(acts.a[0].cluster_id, "");

    /* the cluster the Lambda named is frugal's: terminated by id, and if it
     * carries other types the run fails rather than waiting on */
    reach(FR_EMR_WF_CREATE, &w);
    fr_emr_wf_event named = cev(FR_EMR_EV_INVOKE_DONE, "j-9");
    assert_int_equal(fr_emr_wf_next(&w, &named, &w, &acts), 0);
    assert_string_equal(acts.a[0].cluster_id, "j-9");
    fr_emr_wf_event wrong = cev(FR_EMR_EV_CLUSTER_MISMATCH, "j-9");
    assert_int_equal(fr_emr_wf_next(&w, &wrong, &w, &acts), 0);
    assert_int_equal(w.state, FR_EMR_WF_REVERT);
    assert_int_equal(w.outcome, FR_EMR_WF_FAILED);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_string_equal(acts.a[0].cluster_id, "j-9");

    /* the test cluster failed to start: revert, then a search (it has ended) */
    reach(FR_EMR_WF_WAIT, &w);
    step(&w, FR_EMR_EV_CLUSTER_FAILED, &acts);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_TERMINATE_CLUSTER);
    step(&w, FR_EMR_EV_TERMINATE_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_FAILED);

    /* a definite invoke failure made nothing: revert, and nothing to terminate */
    reach(FR_EMR_WF_CREATE, &w);
    step(&w, FR_EMR_EV_INVOKE_FAILED, &acts);
    assert_false(w.invoked);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_FINISH);
    assert_int_equal(w.state, FR_EMR_WF_FAILED);

    /* shutdown: before the invoke started, revert and nothing to terminate;
     * while waiting, revert now (the termination waits for the next start) */
    reach(FR_EMR_WF_CREATE, &w);
    step(&w, FR_EMR_EV_SHUTDOWN, &acts);
    assert_int_equal(w.state, FR_EMR_WF_REVERT);
    assert_false(w.invoked);
    reach(FR_EMR_WF_WAIT, &w);
    step(&w, FR_EMR_EV_SHUTDOWN, &acts);
    assert_int_equal(w.state, FR_EMR_WF_REVERT);
    assert_true(w.invoked);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_TERMINATE_CLUSTER);
    fr_emr_wf_event sd = ev_of(FR_EMR_EV_SHUTDOWN);
    assert_int_equal(fr_emr_wf_next(&w, &sd, &w, &acts), FR_ESTATE); /* not in TERMINATE */

    /* an ambiguous invoke failure waits like a success; a definite one reverts */
    reach(FR_EMR_WF_CREATE, &w);
    fr_emr_wf_event e = ev_of(FR_EMR_EV_INVOKE_FAILED);
    e.ambiguous = true;
    assert_int_equal(fr_emr_wf_next(&w, &e, &w, &acts), 0);
    assert_int_equal(w.state, FR_EMR_WF_WAIT);
    step(&w, FR_EMR_EV_CLUSTER_CONFIRMED, &acts);
    step(&w, FR_EMR_EV_REVERT_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_TERMINATE); /* no Phase 2 after a failure */

    /* zero steps to copy: straight to the comparison */
    reach(FR_EMR_WF_COPY_STEPS, &w);
    e = ev_of(FR_EMR_EV_STEPS_COPIED);
    e.steps = 0;
    assert_int_equal(fr_emr_wf_next(&w, &e, &w, &acts), 0);
    assert_int_equal(w.state, FR_EMR_WF_COMPARE);
    /* failed steps still give a report, and the run is FAILED */
    reach(FR_EMR_WF_WAIT_STEPS, &w);
    assert_int_equal(w.steps_deadline_ms, 1000000 + 100 * 60000);
    step(&w, FR_EMR_EV_STEPS_FAILED, &acts);
    step(&w, FR_EMR_EV_COMPARE_DONE, &acts);
    step(&w, FR_EMR_EV_REPORT_DONE, &acts);
    step(&w, FR_EMR_EV_TERMINATE_DONE, &acts);
    assert_int_equal(w.state, FR_EMR_WF_FAILED);
    /* the happy path ends DONE */
    reach(FR_EMR_WF_DONE, &w);
    assert_true(w.reverted && w.terminated && w.cluster_confirmed);
}

/* ---- random walks: the rules hold whatever the drivers feed ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static void test_random_walks(void **state)
{
    rng r = {0x2545F4914F6CDD1DULL};
    size_t ended = 0, transitions = 0;
    for (int walk = 0; walk < 20000; walk++) {
        fr_emr_wf w;
        fr_emr_wf_actions acts;
        fr_emr_wf_start(&w, &opts, &acts);
        int invokes = 0;
        for (int i = 0; i < 200 && !fr_emr_wf_is_terminal(w.state); i++) {
            /* mostly an event the state accepts (to get deep), sometimes any */
            fr_emr_wf_event_type valid[FR_EMR_EV__COUNT];
            int nv = 0;
            for (int k = 0; k < FR_EMR_EV__COUNT; k++) {
                fr_emr_wf probe;
                fr_emr_wf_actions pa;
                fr_emr_wf_event pe = ev_of((fr_emr_wf_event_type)k);
                if (fr_emr_wf_next(&w, &pe, &probe, &pa) != 0)
                    continue;
                /* events that end the run or cancel it are picked less often */
                if ((fr_emr_wf_is_terminal(probe.state) || k == FR_EMR_EV_CANCEL) && rnd(&r) % 8)
                    continue;
                valid[nv++] = (fr_emr_wf_event_type)k;
            }
            fr_emr_wf_event_type et = nv && rnd(&r) % 10 < 7 ? valid[rnd(&r) % (uint64_t)nv]
                                                             : (fr_emr_wf_event_type)(rnd(&r) % FR_EMR_EV__COUNT);
            fr_emr_wf_event e = ev_of(et);
            if (rnd(&r) % 4 == 0)
                fr_strlcpy(e.cluster_id, rnd(&r) % 2 ? "j-2" : "", sizeof(e.cluster_id));
            e.ambiguous = rnd(&r) % 2;
            e.steps = (int)(rnd(&r) % 3);
            e.now_ms = 1000000 + i * 1000;
            fr_emr_wf before = w;
            int rc = fr_emr_wf_next(&w, &e, &w, &acts);
            if (rc) {
                assert_int_equal(rc, FR_ESTATE);
                assert_memory_equal(&w, &before, sizeof(w));
                continue;
            }
            transitions++;
            check_actions(&acts);
            for (size_t k = 0; k < acts.n; k++) {
                fr_emr_act t = acts.a[k].type;
                invokes += t == FR_EMR_ACT_INVOKE_LAMBDA;
                /* revert first: no terminate / Phase 2 while our value may be in the parameter */
                if (t == FR_EMR_ACT_TERMINATE_CLUSTER || t == FR_EMR_ACT_COPY_STEPS || t == FR_EMR_ACT_SUBMIT_STEPS)
                    assert_true(!w.param_touched || w.reverted || w.revert_conflict);
                if (t == FR_EMR_ACT_COPY_STEPS)
                    assert_true(w.reverted && w.cluster_confirmed && w.outcome == FR_EMR_WF_DONE);
            }
            assert_true(invokes <= 1);
        }
        if (!fr_emr_wf_is_terminal(w.state))
            continue;
        ended++;
        /* at the end: the parameter settled, the test cluster gone (or given up on) */
        if (w.param_touched)
            assert_true(w.reverted || w.revert_conflict);
        if (w.invoked)
            assert_true(w.terminated || w.terminate_attempts >= opts.max_attempts);
        if (w.revert_conflict)
            assert_int_equal(w.state, FR_EMR_WF_CONFLICT);
    }
    print_message("random walks: %zu ended, %zu transitions\n", ended, transitions);
    assert_true(ended > 15000);
    assert_true(transitions > 100000);
}

static void test_revert_decide_and_payload(void **state)
{
    fr_config cfg;
    fr_config_init(&cfg);
    fr_emr_wf_opts o;
    fr_emr_wf_opts_from_config(&o, &cfg);
    assert_int_equal(o.wait_timeout_ms, 45 * 60000);
    assert_int_equal(o.steps_timeout_ms, 100 * 60000);
    assert_int_equal(o.retry_delay_ms, 5000);
    assert_int_equal(o.auto_terminate_ms, 120 * 60000);
    fr_config_free(&cfg);
    /* the steps deadline is capped by the auto-termination guardrail */
    fr_emr_wf w;
    fr_emr_wf_actions acts;
    fr_emr_wf_start(&w, &o, &acts);
    static const fr_emr_wf_event_type path[] = {FR_EMR_EV_ANALYSIS_DONE, FR_EMR_EV_RECOMMEND_DONE, FR_EMR_EV_APPROVED,
                                                FR_EMR_EV_BACKUP_DONE,   FR_EMR_EV_MODIFY_DONE,    FR_EMR_EV_INVOKE_DONE,
                                                FR_EMR_EV_CLUSTER_CONFIRMED, FR_EMR_EV_REVERT_DONE, FR_EMR_EV_STEPS_COPIED,
                                                FR_EMR_EV_STEPS_SUBMITTED};
    for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
        fr_emr_wf_event e = ev_of(path[i]);
        e.now_ms = 1000000 + (int64_t)i * 10 * 60000; /* 10 minutes per step */
        assert_int_equal(fr_emr_wf_next(&w, &e, &w, &acts), 0);
    }
    assert_int_equal(w.state, FR_EMR_WF_WAIT_STEPS);
    /* invoked at +40 min; steps submitted at +90 min: min(+190, +160) */
    assert_int_equal(w.steps_deadline_ms, w.invoked_at_ms + 120 * 60000);
    assert_int_equal(acts.a[0].deadline_ms, w.steps_deadline_ms);

    /* frugal wrote Version 8 over 7 */
    assert_int_equal(fr_emr_revert_decide(7, "orig", "new", 8, 8, "new"), FR_EMR_REVERT_RESTORE);
    assert_int_equal(fr_emr_revert_decide(7, "orig", "new", 8, 9, "other"), FR_EMR_REVERT_CONFLICT);
    assert_int_equal(fr_emr_revert_decide(7, "orig", "new", 8, 9, "orig"), FR_EMR_REVERT_NOOP); /* already back */
    /* the put's result unknown (crash): decided by content and Version */
    assert_int_equal(fr_emr_revert_decide(7, "orig", "new", 0, 7, "orig"), FR_EMR_REVERT_NOOP);
    assert_int_equal(fr_emr_revert_decide(7, "orig", "new", 0, 8, "new"), FR_EMR_REVERT_RESTORE);
    assert_int_equal(fr_emr_revert_decide(7, "orig", "new", 0, 9, "new"), FR_EMR_REVERT_CONFLICT);
    assert_int_equal(fr_emr_revert_decide(7, "orig", "new", 0, 8, "other"), FR_EMR_REVERT_CONFLICT);
    assert_string_equal(fr_emr_revert_decision_name(FR_EMR_REVERT_CONFLICT), "CONFLICT");

    json_t *p = fr_emr_lambda_payload("STRESS-TEMPLATE-S");
    char *s = json_dumps(p, JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"resource\": \"/executions/clusters\", \"path\": \"/executions/clusters\", \"body\": "
                           "\"{\\\"cluster_name\\\": \\\"STRESS-TEMPLATE-S\\\", \\\"job_type\\\": \\\"CLUSTER\\\", "
                           "\\\"request_type\\\": \\\"CREATE\\\", \\\"fifo_key\\\": \\\"STRESS-TEMPLATE-S\\\"}\", "
                           "\"httpMethod\": \"POST\"}");
    free(s);
    json_decref(p);
}

/* ---- crash recovery against a simulated account ---- */

#define ORIGINAL "{\"orig\":1}"
#define MODIFIED "{\"new\":1}"
#define OTHER "{\"other\":1}"

/* SC_LATE_LAMBDA: the Lambda queues the request (fifo_key) and reads the
 * parameter only when the driver starts looking for the cluster. */
typedef enum {
    SC_SUCCESS,
    SC_CONFLICT,
    SC_CANCEL_IN_WAIT,
    SC_LAMBDA_FAILS,
    SC_NO_CLUSTER,
    SC_LATE_LAMBDA,
    SC__COUNT
} scenario;
static const char *sc_names[] = {"success", "conflict", "cancel-in-wait", "lambda-fails", "no-cluster", "late-lambda"};

typedef struct world {
    char param[32];
    int64_t version;
    int lambda_calls;
    bool lambda_pending;
    bool other_wrote;
    int n;
    struct {
        char id[16];
        bool running, new_types;
        int64_t created;
    } cl[8];
} world;

typedef struct sim {
    world *w;
    json_t *journal;
    size_t crash_at; /* crash once the journal holds this many entries (0: never) */
    bool crashed;
    bool apply_on_crash;
    int64_t now;
    scenario sc;
    fr_emr_wf wf;
} sim;

static bool japp(sim *s, const char *step_name, const char *phase, json_t *data)
{
    if (s->crashed) {
        json_decref(data);
        return false;
    }
    json_array_append_new(s->journal, json_pack("{s:I, s:I, s:s, s:s, s:o}", "seq",
                                                (json_int_t)json_array_size(s->journal), "ts", (json_int_t)s->now,
                                                "step", step_name, "phase", phase, "data", data ? data : json_null()));
    if (s->crash_at && json_array_size(s->journal) >= s->crash_at)
        s->crashed = true;
    return !s->crashed;
}

static void deliver(sim *s, fr_emr_wf_event e);

static void create_cluster(sim *s)
{
    int i = s->w->n++;
    snprintf(s->w->cl[i].id, sizeof(s->w->cl[i].id), "j-%d", i + 1);
    s->w->cl[i].running = true;
    s->w->cl[i].new_types = strcmp(s->w->param, MODIFIED) == 0;
    s->w->cl[i].created = s->now;
}

static void lambda_effect(sim *s)
{
    s->w->lambda_calls++;
    if (s->sc == SC_LAMBDA_FAILS || s->sc == SC_NO_CLUSTER)
        return;
    if (s->sc == SC_LATE_LAMBDA)
        s->w->lambda_pending = true; /* reads the parameter later */
    else
        create_cluster(s);
}

static void revert_effect(sim *s, const fr_emr_action *a, fr_emr_wf_event *e)
{
    if (s->sc == SC_CONFLICT && !s->w->other_wrote) { /* someone else writes just before our revert */
        fr_strlcpy(s->w->param, OTHER, sizeof(s->w->param));
        s->w->version++;
        s->w->other_wrote = true;
    }
    fr_emr_revert_decision d =
        fr_emr_revert_decide(a->original_version, ORIGINAL, MODIFIED, a->expected_version, s->w->version, s->w->param);
    if (d == FR_EMR_REVERT_RESTORE) {
        fr_strlcpy(s->w->param, ORIGINAL, sizeof(s->w->param));
        s->w->version++;
    }
    if (e) {
        e->type = d == FR_EMR_REVERT_CONFLICT ? FR_EMR_EV_REVERT_CONFLICT : FR_EMR_EV_REVERT_DONE;
        e->version = s->w->version;
    }
}

static void terminate_effect(sim *s, const fr_emr_action *a)
{
    for (int i = 0; i < s->w->n; i++)
        if (a->cluster_id[0] ? strcmp(a->cluster_id, s->w->cl[i].id) == 0
                             : s->w->cl[i].created >= a->created_after_ms && s->w->cl[i].new_types)
            s->w->cl[i].running = false;
}

/* Executes one action like the driver would (journal first), delivering
 * the resulting events. */
static void exec(sim *s, const fr_emr_action *a)
{
    if (s->crashed)
        return;
    s->now += 1000;
    fr_emr_wf_event e;
    memset(&e, 0, sizeof(e));
    e.now_ms = s->now;
    switch (a->type) {
    case FR_EMR_ACT_FETCH_METRICS:
        e.type = FR_EMR_EV_ANALYSIS_DONE;
        break;
    case FR_EMR_ACT_RECOMMEND:
        e.type = FR_EMR_EV_RECOMMEND_DONE;
        break;
    case FR_EMR_ACT_AWAIT_APPROVAL:
        e.type = FR_EMR_EV_APPROVED;
        break;
    case FR_EMR_ACT_READ_PARAM:
        e.type = FR_EMR_EV_BACKUP_DONE;
        e.version = s->w->version;
        break;
    case FR_EMR_ACT_PUT_PARAM:
        if (!japp(s, "MODIFY", "intent",
                  fr_emr_jdata_modify_intent("/p/X", "Standard", a->original_version, ORIGINAL, MODIFIED))) {
            if (s->apply_on_crash) {
                fr_strlcpy(s->w->param, MODIFIED, sizeof(s->w->param));
                s->w->version++;
            }
            return;
        }
        fr_strlcpy(s->w->param, MODIFIED, sizeof(s->w->param));
        s->w->version++;
        if (!japp(s, "MODIFY", "done", fr_emr_jdata_modify_done(s->w->version)))
            return;
        e.type = FR_EMR_EV_MODIFY_DONE;
        e.version = s->w->version;
        break;
    case FR_EMR_ACT_INVOKE_LAMBDA:
        if (!japp(s, "CREATE", "intent", fr_emr_jdata_create_intent("fn", "X", s->now, "r7g.2xlarge", NULL))) {
            if (s->apply_on_crash)
                lambda_effect(s);
            return;
        }
        lambda_effect(s);
        if (s->sc == SC_LAMBDA_FAILS) {
            if (!japp(s, "CREATE", "failed", fr_emr_jdata_create_failed("Unhandled", false)))
                return;
            e.type = FR_EMR_EV_INVOKE_FAILED;
        } else {
            if (!japp(s, "CREATE", "done", fr_emr_jdata_create_done(202, NULL)))
                return;
            e.type = FR_EMR_EV_INVOKE_DONE;
        }
        break;
    case FR_EMR_ACT_FIND_CLUSTER: {
        if (s->sc == SC_CANCEL_IN_WAIT && !s->wf.cancel_requested) {
            if (!japp(s, "CANCEL", "note", json_pack("{s:s}", "principal", "alice")))
                return;
            fr_emr_wf_event c = e;
            c.type = FR_EMR_EV_CANCEL;
            deliver(s, c);
            if (s->crashed)
                return;
        }
        if (s->w->lambda_pending) {
            s->w->lambda_pending = false;
            create_cluster(s);
        }
        int found = -1;
        for (int i = 0; i < s->w->n; i++)
            if (s->w->cl[i].created >= a->created_after_ms)
                found = i;
        if (found < 0) {
            e.type = FR_EMR_EV_WAIT_TIMEOUT;
            break;
        }
        fr_emr_wf_event f = e;
        f.type = FR_EMR_EV_CLUSTER_FOUND;
        fr_strlcpy(f.cluster_id, s->w->cl[found].id, sizeof(f.cluster_id));
        if (strcmp(s->wf.cluster_id, f.cluster_id) != 0)
            deliver(s, f);
        if (s->crashed)
            return;
        e.type = s->w->cl[found].new_types ? FR_EMR_EV_CLUSTER_CONFIRMED : FR_EMR_EV_CLUSTER_MISMATCH;
        fr_strlcpy(e.cluster_id, s->w->cl[found].id, sizeof(e.cluster_id));
        break;
    }
    case FR_EMR_ACT_JOURNAL_NOTE:
        japp(s, "WAIT", "note", fr_emr_jdata_wait_note(a->cluster_id, a->confirmed));
        return;
    case FR_EMR_ACT_REVERT_PARAM:
        if (!japp(s, "REVERT", "intent", fr_emr_jdata_revert_intent(a->expected_version))) {
            if (s->apply_on_crash)
                revert_effect(s, a, NULL);
            return;
        }
        revert_effect(s, a, &e);
        if (e.type == FR_EMR_EV_REVERT_CONFLICT) {
            if (!japp(s, "REVERT", "failed", fr_emr_jdata_revert_failed(true, e.version, "conflict")))
                return;
        } else if (!japp(s, "REVERT", "done", fr_emr_jdata_revert_done(s->w->version, false))) {
            return;
        }
        break;
    case FR_EMR_ACT_COPY_STEPS:
        e.type = FR_EMR_EV_STEPS_COPIED;
        e.steps = 2;
        break;
    case FR_EMR_ACT_SUBMIT_STEPS:
        if (!japp(s, "SUBMIT_STEPS", "intent", json_pack("{s:s, s:i}", "cluster_id", a->cluster_id, "steps", 2)))
            return;
        if (!japp(s, "SUBMIT_STEPS", "done", json_pack("{s:[s,s]}", "step_ids", "s-1", "s-2")))
            return;
        e.type = FR_EMR_EV_STEPS_SUBMITTED;
        break;
    case FR_EMR_ACT_POLL_STEPS:
        e.type = FR_EMR_EV_STEPS_DONE;
        break;
    case FR_EMR_ACT_COMPARE:
        e.type = FR_EMR_EV_COMPARE_DONE;
        break;
    case FR_EMR_ACT_WRITE_REPORT:
        if (!japp(s, "REPORT", "done", json_object()))
            return;
        e.type = FR_EMR_EV_REPORT_DONE;
        break;
    case FR_EMR_ACT_TERMINATE_CLUSTER:
        if (!japp(s, "TERMINATE", "intent",
                  fr_emr_jdata_terminate_intent(a->cluster_id, "X", a->created_after_ms, "r7g.2xlarge", NULL))) {
            if (s->apply_on_crash)
                terminate_effect(s, a);
            return;
        }
        terminate_effect(s, a);
        if (!japp(s, "TERMINATE", "done", json_pack("{s:[]}", "terminated")))
            return;
        e.type = FR_EMR_EV_TERMINATE_DONE;
        break;
    case FR_EMR_ACT_FINISH:
        japp(s, "END", "done", fr_emr_jdata_end(a->final_state, s->wf.reason));
        return;
    default:
        fail_msg("unexpected action %s", fr_emr_act_name(a->type));
    }
    deliver(s, e);
}

static void run_actions(sim *s, const fr_emr_wf_actions *acts)
{
    fr_emr_wf_actions copy = *acts;
    for (size_t i = 0; i < copy.n && !s->crashed; i++)
        exec(s, &copy.a[i]);
}

static void deliver(sim *s, fr_emr_wf_event e)
{
    if (s->crashed)
        return;
    fr_emr_wf_actions acts;
    int rc = fr_emr_wf_next(&s->wf, &e, &s->wf, &acts);
    if (rc)
        fail_msg("%s in %s refused", fr_emr_wf_event_name(e.type), fr_emr_wf_state_name(s->wf.state));
    run_actions(s, &acts);
}

static size_t count_entries(const json_t *j, const char *step_name, const char *phase)
{
    size_t n = 0, i;
    const json_t *e;
    json_array_foreach(j, i, e) if (strcmp(json_string_value(json_object_get(e, "step")), step_name) == 0 &&
                                    strcmp(json_string_value(json_object_get(e, "phase")), phase) == 0) n++;
    return n;
}

/* Runs a scenario, crashing after journal entry crash_at (0: no crash),
 * then recovers and finishes; checks that AWS ends as the user had it. */
static size_t run_scenario(scenario sc, size_t crash_at, bool apply_on_crash, bool late, fr_emr_wf_state *final)
{
    world w = {ORIGINAL, 7, 0, false, false, 0, {{"", false, false, 0}}};
    sim s;
    memset(&s, 0, sizeof(s));
    s.w = &w;
    s.journal = json_array();
    s.crash_at = crash_at;
    s.apply_on_crash = apply_on_crash;
    s.now = 1000000;
    s.sc = sc;
    fr_emr_wf_actions acts;
    fr_emr_wf_start(&s.wf, &opts, &acts);
    run_actions(&s, &acts);
    size_t entries = json_array_size(s.journal);

    if (s.crashed) {
        /* the daemon restarts: only the journal survives */
        fr_emr_recovery rec;
        char err[200];
        int64_t now = late ? s.now + 2 * opts.wait_timeout_ms : s.now + 5000;
        int rc = fr_emr_recover(s.journal, &opts, now, &rec, err, sizeof(err));
        if (rc)
            fail_msg("recover: %s", err);
        for (size_t i = 0; i < rec.acts.n; i++) {
            assert_int_not_equal(rec.acts.a[i].type, FR_EMR_ACT_INVOKE_LAMBDA);
            assert_int_not_equal(rec.acts.a[i].type, FR_EMR_ACT_PUT_PARAM);
        }
        if (json_array_size(s.journal) && count_entries(s.journal, "END", "done")) {
            assert_int_equal(rec.acts.n, 0);
            assert_true(fr_emr_wf_is_terminal(rec.wf.state));
        }
        s.crashed = false;
        s.crash_at = 0;
        s.now = now;
        s.wf = rec.wf;
        run_actions(&s, &rec.acts);
    }

    /* the run ended and said so */
    assert_true(fr_emr_wf_is_terminal(s.wf.state));
    const json_t *last = json_array_get(s.journal, json_array_size(s.journal) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "step")), "END");
    assert_int_equal(count_entries(s.journal, "END", "done"), 1);
    /* the Lambda ran at most once, the parameter was written at most once by the change */
    assert_true(w.lambda_calls <= 1);
    assert_true(count_entries(s.journal, "CREATE", "intent") <= 1);
    assert_true(count_entries(s.journal, "MODIFY", "intent") <= 1);
    /* no test cluster left running */
    for (int i = 0; i < w.n; i++)
        if (w.cl[i].running)
            fail_msg("%s crash@%zu: cluster %s left running", sc_names[sc], crash_at, w.cl[i].id);
    /* the parameter: the original, or someone else's value never clobbered */
    if (sc == SC_CONFLICT && count_entries(s.journal, "MODIFY", "intent")) {
        assert_string_equal(w.param, OTHER);
        assert_int_equal(s.wf.state, FR_EMR_WF_CONFLICT);
    } else {
        if (strcmp(w.param, ORIGINAL) != 0)
            fail_msg("%s crash@%zu apply=%d late=%d: parameter %s", sc_names[sc], crash_at, apply_on_crash, late,
                     w.param);
    }
    *final = s.wf.state;
    json_decref(s.journal);
    return entries;
}

/* What the Lambda answers is read against the contract; anything else is
 * an unknown outcome with a reason, never a silent "no cluster id". */
static void test_lambda_answer_malformed(void **state)
{
    (void)state;
    struct {
        const char *payload;
        int rc;
        int status;
        const char *id;
        const char *why; /* substring */
    } cases[] = {
        /* the contract */
        {"{\"statusCode\": 200, \"body\": \"{\\\"message\\\": \\\"Cluster creation started\\\", \\\"cluster_id\\\": "
         "\\\"j-2AXXXXXXGAPLF\\\"}\"}",
         0, 200, "j-2AXXXXXXGAPLF", ""},
        {"{\"statusCode\": 202, \"body\": \"{\\\"message\\\": \\\"Request queued\\\", \\\"fifo_key\\\": \\\"X\\\"}\"}", 0,
         202, "", ""},
        {"{\"statusCode\": 200, \"body\": {\"ClusterId\": \"j-ABC123\"}}", 0, 200, "j-ABC123", ""},
        {"{\"statusCode\": 200, \"body\": \"{\\\"cluster_id\\\": null}\"}", 0, 200, "", ""},
        /* outside it */
        {"", FR_EPARSE, 0, "", "empty"},
        {"null", FR_EPARSE, 0, "", "not an object"},
        {"<html>502 Bad Gateway</html>", FR_EPARSE, 0, "", "not JSON"},
        {"{\"statusCode\": 200, \"body\": \"{\\\"cluster_id\\\": \\\"j-", FR_EPARSE, 0, "", "not JSON"},
        {"[200, \"j-ABC\"]", FR_EPARSE, 0, "", "not an object"},
        {"\"j-ABC123\"", FR_EPARSE, 0, "", "not an object"},
        {"{}", FR_EPARSE, 0, "", "no valid statusCode"},
        {"{\"statusCode\": \"200\", \"body\": \"{}\"}", FR_EPARSE, 0, "", "no valid statusCode"},
        {"{\"statusCode\": 1e3, \"body\": \"{}\"}", FR_EPARSE, 0, "", "no valid statusCode"},
        {"{\"statusCode\": 200}", FR_EPARSE, 200, "", "no body"},
        {"{\"statusCode\": 200, \"body\": 5}", FR_EPARSE, 200, "", "no body"},
        {"{\"statusCode\": 200, \"body\": \"Cluster creation started\"}", FR_EPARSE, 200, "", "not a JSON object"},
        {"{\"statusCode\": 200, \"body\": \"[]\"}", FR_EPARSE, 200, "", "not a JSON object"},
        {"{\"statusCode\": 200, \"body\": \"{\\\"cluster_id\\\": 42}\"}", FR_EPARSE, 200, "", "not an EMR cluster id"},
        {"{\"statusCode\": 200, \"body\": \"{\\\"cluster_id\\\": \\\"j-abc; rm -rf\\\"}\"}", FR_EPARSE, 200, "",
         "not an EMR cluster id: j-abc; rm -rf"},
        {"{\"statusCode\": 200, \"body\": \"{\\\"cluster_id\\\": \\\"j-0123456789ABCDEF0123456789ABCDEF\\\"}\"}", FR_EPARSE,
         200, "", "not an EMR cluster id"},
        {"{\"statusCode\": 200, \"body\": \"{\\\"cluster_id\\\": \\\"\\\"}\"}", FR_EPARSE, 200, "", "not an EMR"},
        /* a function that handled its own failure: it says so, and may still have made something */
        {"{\"statusCode\": 500, \"body\": \"{\\\"message\\\": \\\"RunJobFlow: ValidationException\\\"}\"}", FR_EHTTP,
         500, "", "statusCode 500: RunJobFlow: ValidationException"},
        {"{\"statusCode\": 400, \"body\": \"{\\\"error\\\": \\\"bad request\\\"}\"}", FR_EHTTP, 400, "",
         "statusCode 400: bad request"},
        /* an unhandled-error payload without the X-Amz-Function-Error header */
        {"{\"errorMessage\": \"'cluster_name'\", \"errorType\": \"KeyError\"}", FR_EPARSE, 0, "", "no valid statusCode"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(cases); i++) {
        int status = -1;
        char id[32] = "junk", why[300];
        int rc = fr_emr_lambda_answer(cases[i].payload, strlen(cases[i].payload), &status, id, sizeof(id), why,
                                      sizeof(why));
        if (rc != cases[i].rc || status != cases[i].status || strcmp(id, cases[i].id) != 0 ||
            !strstr(why, cases[i].why) || (rc && !why[0]))
            fail_msg("case %zu %s: rc %d status %d id \"%s\" why \"%s\"", i, cases[i].payload, rc, status, id, why);
    }
    /* NULL, a huge payload, invalid UTF-8: an error, a bounded message */
    int status;
    char id[32], why[300];
    assert_int_equal(fr_emr_lambda_answer(NULL, 0, &status, id, sizeof(id), why, sizeof(why)), FR_EPARSE);
    size_t big = 6u << 20;
    char *p = malloc(big + 1);
    assert_non_null(p);
    memset(p, 'x', big);
    p[big] = '\0';
    assert_int_equal(fr_emr_lambda_answer(p, big, &status, id, sizeof(id), why, sizeof(why)), FR_EPARSE);
    assert_non_null(strstr(why, "not JSON"));
    assert_true(strlen(why) < 200);
    /* a body of 6 MB: the message quotes a little of it */
    int n = snprintf(p, big, "{\"statusCode\": 200, \"body\": \"");
    memset(p + n, 'y', big - (size_t)n - 3);
    memcpy(p + big - 3, "\"}", 3);
    assert_int_equal(fr_emr_lambda_answer(p, strlen(p), &status, id, sizeof(id), why, sizeof(why)), FR_EPARSE);
    assert_non_null(strstr(why, "yyy..."));
    free(p);
    const char bad_utf8[] = "{\"statusCode\": 200, \"body\": \"\xff\xfe\"}";
    assert_int_equal(fr_emr_lambda_answer(bad_utf8, strlen(bad_utf8), &status, id, sizeof(id), why, sizeof(why)),
                     FR_EPARSE);
}

static void test_recovery_every_journal_point(void **state)
{
    size_t runs = 0;
    for (int sc = 0; sc < SC__COUNT; sc++) {
        fr_emr_wf_state final;
        size_t n = run_scenario((scenario)sc, 0, false, false, &final);
        static const fr_emr_wf_state want[] = {FR_EMR_WF_DONE,   FR_EMR_WF_CONFLICT, FR_EMR_WF_CANCELLED,
                                               FR_EMR_WF_FAILED, FR_EMR_WF_FAILED,   FR_EMR_WF_DONE};
        if (final != want[sc])
            fail_msg("%s: ended %s", sc_names[sc], fr_emr_wf_state_name(final));
        assert_true(n >= 6);
        for (size_t k = 1; k <= n; k++)
            for (int apply = 0; apply < 2; apply++)
                for (int late = 0; late < 2; late++) {
                    run_scenario((scenario)sc, k, apply, late, &final);
                    runs++;
                    /* a crash before the end of a successful run is not a success,
                     * unless only the termination was left */
                    if (sc == SC_CANCEL_IN_WAIT && final == FR_EMR_WF_DONE)
                        fail();
                }
    }
    print_message("crash recovery: %zu crash/restart runs\n", runs);
    assert_true(runs > 200);
}

static void test_recovery_plans(void **state)
{
    fr_emr_recovery rec;
    char err[200];
    /* empty journal: nothing changed */
    json_t *j = json_array();
    assert_int_equal(fr_emr_recover(j, &opts, 0, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_FAILED);
    assert_int_equal(rec.acts.n, 1);
    assert_int_equal(rec.acts.a[0].type, FR_EMR_ACT_FINISH);
    /* MODIFY intent only: revert by content (Version unknown) */
    json_array_append_new(j, json_pack("{s:s, s:s, s:o}", "step", "MODIFY", "phase", "intent", "data",
                                       fr_emr_jdata_modify_intent("/p", "Standard", 7, "a", "b")));
    assert_int_equal(fr_emr_recover(j, &opts, 0, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_REVERT);
    assert_int_equal(rec.acts.a[0].type, FR_EMR_ACT_REVERT_PARAM);
    assert_true(rec.acts.a[0].journal_before);
    assert_int_equal(rec.acts.a[0].expected_version, 0);
    assert_int_equal(rec.acts.a[0].original_version, 7);
    /* MODIFY done: the written Version */
    json_array_append_new(j, json_pack("{s:s, s:s, s:o}", "step", "MODIFY", "phase", "done", "data",
                                       fr_emr_jdata_modify_done(8)));
    assert_int_equal(fr_emr_recover(j, &opts, 0, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.acts.a[0].expected_version, 8);
    /* CREATE intent: wait for the cluster until invoked_at + wait_timeout */
    json_array_append_new(j, json_pack("{s:s, s:s, s:o}", "step", "CREATE", "phase", "intent", "data",
                                       fr_emr_jdata_create_intent("fn", "X", 500000, "r7g.2xlarge", "r7g.xlarge")));
    assert_int_equal(fr_emr_recover(j, &opts, 600000, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_WAIT);
    assert_int_equal(rec.acts.a[0].type, FR_EMR_ACT_FIND_CLUSTER);
    assert_int_equal(rec.acts.a[0].deadline_ms, 500000 + 45 * 60000);
    assert_true(rec.wf.invoked); /* never again */
    /* past the deadline: revert now */
    assert_int_equal(fr_emr_recover(j, &opts, 500000 + 46 * 60000, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_REVERT);
    /* WAIT note confirmed: revert, then terminate by id */
    json_array_append_new(j, json_pack("{s:s, s:s, s:o}", "step", "WAIT", "phase", "note", "data",
                                       fr_emr_jdata_wait_note("j-9", true)));
    assert_int_equal(fr_emr_recover(j, &opts, 600000, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_REVERT);
    fr_emr_wf_event e = cev(FR_EMR_EV_REVERT_DONE, NULL);
    fr_emr_wf_actions acts;
    assert_int_equal(fr_emr_wf_next(&rec.wf, &e, &rec.wf, &acts), 0);
    assert_int_equal(acts.a[0].type, FR_EMR_ACT_TERMINATE_CLUSTER);
    assert_string_equal(acts.a[0].cluster_id, "j-9");
    /* a journaled conflict: no revert, terminate, CONFLICT */
    json_array_append_new(j, json_pack("{s:s, s:s, s:o}", "step", "REVERT", "phase", "failed", "data",
                                       fr_emr_jdata_revert_failed(true, 12, "changed")));
    assert_int_equal(fr_emr_recover(j, &opts, 600000, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_TERMINATE);
    assert_int_equal(rec.wf.outcome, FR_EMR_WF_CONFLICT);
    /* END: nothing to do */
    json_array_append_new(j, json_pack("{s:s, s:s, s:o}", "step", "END", "phase", "done", "data",
                                       fr_emr_jdata_end(FR_EMR_WF_CONFLICT, "x")));
    assert_int_equal(fr_emr_recover(j, &opts, 600000, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.acts.n, 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_CONFLICT);
    json_decref(j);

    /* malformed journals */
    const char *bad[] = {
        "{}",
        "[{\"step\":\"MODIFY\"}]",
        "[{\"step\":\"MODIFY\",\"phase\":\"maybe\"}]",
        "[{\"step\":\"MODIFY\",\"phase\":\"intent\",\"data\":{}}]",
        "[{\"step\":\"END\",\"phase\":\"done\",\"data\":{\"state\":\"WAIT\"}}]",
        "[{\"step\":\"WAIT\",\"phase\":\"note\",\"data\":{}}]",
        "[{\"step\":\"CREATE\",\"phase\":\"intent\",\"data\":[]}]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        assert_non_null(b);
        assert_int_equal(fr_emr_recover(b, &opts, 0, &rec, err, sizeof(err)), FR_EPARSE);
        assert_true(err[0] != '\0');
        json_decref(b);
    }
    /* unknown steps are ignored (forward compatible) */
    json_t *u = json_loads("[{\"step\":\"ANALYZE\",\"phase\":\"note\",\"data\":{\"x\":1}}]", 0, NULL);
    assert_int_equal(fr_emr_recover(u, &opts, 0, &rec, err, sizeof(err)), 0);
    assert_int_equal(rec.wf.state, FR_EMR_WF_FAILED);
    json_decref(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_every_event),
        cmocka_unit_test(test_cancel_after_approval),
        cmocka_unit_test(test_conflict_and_retries),
        cmocka_unit_test(test_wait_paths),
        cmocka_unit_test(test_random_walks),
        cmocka_unit_test(test_revert_decide_and_payload),
        cmocka_unit_test(test_lambda_answer_malformed),
        cmocka_unit_test(test_recovery_every_journal_point),
        cmocka_unit_test(test_recovery_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
