/* The EMR test-run workflow as a pure state machine, its run-journal
 * schema, and the crash-recovery planner (docs/emr-analysis.md has the
 * diagram and the rules).
 *
 *   ANALYZE -> RECOMMEND -> AWAIT_APPROVAL -> BACKUP -> MODIFY -> CREATE
 *     -> WAIT -> REVERT -> COPY_STEPS -> SUBMIT_STEPS -> WAIT_STEPS
 *     -> COMPARE -> REPORT -> TERMINATE -> DONE
 *   ending states: DONE, FAILED, CANCELLED, CONFLICT
 *
 * The driver owns the I/O: it executes the actions fr_emr_wf_next() returns
 * and feeds each result back as an event. Rules the machine enforces:
 *  - Every side-effecting action (PUT_PARAM, INVOKE_LAMBDA, REVERT_PARAM,
 *    SUBMIT_STEPS, TERMINATE_CLUSTER) has journal_before: the driver appends
 *    "<step>.intent" (fr_journal_append) and starts the action only once the
 *    entry is durable; it appends "<step>.done" / ".failed" with the result.
 *  - REVERT comes first on every exit path after the parameter may have been
 *    written: success, failure, cancel, timeout. On the success and cancel
 *    paths it waits until the test cluster is confirmed to carry the new
 *    types (the Lambda may read the parameter after Invoke returns) or the
 *    wait times out.
 *  - Never clobber: REVERT_PARAM re-reads the parameter and restores the
 *    original only when fr_emr_revert_decide() says so; someone else's
 *    Version -> REVERT_CONFLICT -> the run ends CONFLICT (after terminating
 *    the test cluster), the parameter untouched.
 *  - INVOKE_LAMBDA is emitted at most once per run, and never by recovery.
 *  - A cancel after approval still reverts and terminates the test cluster.
 *  - The test cluster is terminated at the end of every run that invoked
 *    the Lambda (by id, or found by name, creation time and types).
 * Events that do not apply to the current state return FR_ESTATE and change
 * nothing (late or duplicate results are harmless). */
#ifndef FRUGAL_EMR_WORKFLOW_H
#define FRUGAL_EMR_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/config.h"

typedef enum {
    FR_EMR_WF_ANALYZE = 0,
    FR_EMR_WF_RECOMMEND,
    FR_EMR_WF_AWAIT_APPROVAL,
    FR_EMR_WF_BACKUP,
    FR_EMR_WF_MODIFY,
    FR_EMR_WF_CREATE,
    FR_EMR_WF_WAIT,
    FR_EMR_WF_REVERT,
    FR_EMR_WF_COPY_STEPS,
    FR_EMR_WF_SUBMIT_STEPS,
    FR_EMR_WF_WAIT_STEPS,
    FR_EMR_WF_COMPARE,
    FR_EMR_WF_REPORT,
    FR_EMR_WF_TERMINATE,
    FR_EMR_WF_DONE,
    FR_EMR_WF_FAILED,
    FR_EMR_WF_CANCELLED,
    FR_EMR_WF_CONFLICT,
    FR_EMR_WF__COUNT
} fr_emr_wf_state;

typedef enum {
    FR_EMR_EV_ANALYSIS_DONE = 0,
    FR_EMR_EV_ANALYSIS_FAILED,
    FR_EMR_EV_RECOMMEND_DONE,      /* a change is recommended and allowed: show the card */
    FR_EMR_EV_RECOMMEND_NO_CHANGE, /* nothing to change (right-sized) */
    FR_EMR_EV_RECOMMEND_REFUSED,   /* a guardrail refuses (instance limit, rewrite refused) */
    FR_EMR_EV_APPROVED,
    FR_EMR_EV_CANCEL,
    FR_EMR_EV_BACKUP_DONE,         /* version = the parameter's Version */
    FR_EMR_EV_BACKUP_FAILED,
    FR_EMR_EV_MODIFY_DONE,         /* version = the Version frugal wrote */
    FR_EMR_EV_MODIFY_FAILED,       /* the put may or may not have happened */
    FR_EMR_EV_INVOKE_DONE,
    FR_EMR_EV_INVOKE_FAILED,       /* ambiguous: the Lambda may have run (timeout, reset) */
    FR_EMR_EV_CLUSTER_FOUND,       /* cluster_id: created after the invoke, the name matches */
    FR_EMR_EV_CLUSTER_CONFIRMED,   /* cluster_id: WAITING/RUNNING with the new types */
    FR_EMR_EV_CLUSTER_MISMATCH,    /* cluster_id: a new cluster with other types (maybe not ours) */
    FR_EMR_EV_CLUSTER_FAILED,      /* cluster_id: ours, terminated while starting */
    FR_EMR_EV_WAIT_TIMEOUT,
    FR_EMR_EV_REVERT_DONE,         /* restored, or nothing to restore */
    FR_EMR_EV_REVERT_CONFLICT,     /* version = the Version found (someone else's) */
    FR_EMR_EV_REVERT_FAILED,       /* could not read/write the parameter */
    FR_EMR_EV_STEPS_COPIED,        /* steps = how many */
    FR_EMR_EV_STEPS_COPY_FAILED,
    FR_EMR_EV_STEPS_SUBMITTED,
    FR_EMR_EV_STEPS_SUBMIT_FAILED,
    FR_EMR_EV_STEPS_DONE,
    FR_EMR_EV_STEPS_FAILED,
    FR_EMR_EV_STEPS_TIMEOUT,
    FR_EMR_EV_COMPARE_DONE,
    FR_EMR_EV_REPORT_DONE,
    FR_EMR_EV_TERMINATE_DONE,
    FR_EMR_EV_TERMINATE_FAILED,
    FR_EMR_EV_SHUTDOWN,            /* frugald stops: put the parameter back now (CREATE before the
                                    * invoke started, or WAIT); the rest is left to the next start */
    FR_EMR_EV__COUNT
} fr_emr_wf_event_type;

typedef struct fr_emr_wf_event {
    fr_emr_wf_event_type type;
    int64_t now_ms;
    int64_t version;      /* BACKUP_DONE, MODIFY_DONE, REVERT_CONFLICT */
    char cluster_id[32];  /* CLUSTER_*; INVOKE_DONE: the id the Lambda answered with, if any */
    int steps;            /* STEPS_COPIED */
    bool ambiguous;       /* INVOKE_FAILED: the Lambda may have run */
    char detail[160];     /* failures: what happened */
} fr_emr_wf_event;

typedef enum {
    FR_EMR_ACT_FETCH_METRICS = 0, /* analyse (read-only) */
    FR_EMR_ACT_RECOMMEND,         /* recommendation, cost, dry-run rewrite, guardrails */
    FR_EMR_ACT_AWAIT_APPROVAL,    /* publish the card, wait for approve / cancel */
    FR_EMR_ACT_READ_PARAM,        /* BACKUP: GetParameter: value, Version, tier */
    FR_EMR_ACT_PUT_PARAM,         /* MODIFY: PutParameter(rewritten) -- journal "MODIFY" */
    FR_EMR_ACT_INVOKE_LAMBDA,     /* CREATE: the seed's payload -- journal "CREATE" */
    FR_EMR_ACT_FIND_CLUSTER,      /* WAIT: find + poll the test cluster until deadline_ms */
    FR_EMR_ACT_REVERT_PARAM,      /* re-read, fr_emr_revert_decide, put original -- journal "REVERT" */
    FR_EMR_ACT_COPY_STEPS,        /* list the original cluster's steps */
    FR_EMR_ACT_SUBMIT_STEPS,      /* AddJobFlowSteps on cluster_id -- journal "SUBMIT_STEPS" */
    FR_EMR_ACT_POLL_STEPS,        /* until deadline_ms */
    FR_EMR_ACT_COMPARE,           /* runtimes and costs old vs new */
    FR_EMR_ACT_WRITE_REPORT,
    FR_EMR_ACT_TERMINATE_CLUSTER, /* cluster_id, or search (name, created_after_ms, new types) -- journal "TERMINATE" */
    FR_EMR_ACT_JOURNAL_NOTE,      /* append "WAIT.note" {cluster_id, confirmed} */
    FR_EMR_ACT_FINISH,            /* append "END.done" {state, reason}; the run's state = final_state */
    FR_EMR_ACT__COUNT
} fr_emr_act;

typedef struct fr_emr_action {
    fr_emr_act type;
    bool journal_before;      /* append "<step>.intent" and wait until durable first */
    const char *step;         /* journal step name (static), NULL if none */
    int64_t expected_version; /* REVERT_PARAM: the Version frugal wrote; 0 = unknown (decide by content) */
    int64_t original_version; /* PUT_PARAM, REVERT_PARAM */
    char cluster_id[32];      /* SUBMIT/POLL_STEPS, TERMINATE ("" = search), JOURNAL_NOTE */
    bool confirmed;           /* JOURNAL_NOTE */
    bool mismatch;            /* JOURNAL_NOTE: a cluster of that name with other types, left alone */
    int64_t created_after_ms; /* FIND_CLUSTER, TERMINATE search: invoke time - skew */
    int64_t deadline_ms;      /* FIND_CLUSTER, POLL_STEPS; TERMINATE search: created before this */
    int64_t not_before_ms;    /* retries: do not start before */
    int attempt;              /* retries: 1, 2, ... */
    fr_emr_wf_state final_state; /* FINISH */
} fr_emr_action;

#define FR_EMR_WF_MAX_ACTIONS 4

typedef struct fr_emr_wf_actions {
    size_t n;
    fr_emr_action a[FR_EMR_WF_MAX_ACTIONS];
} fr_emr_wf_actions;

typedef struct fr_emr_wf_opts {
    int64_t wait_timeout_ms;  /* emr.wait_timeout */
    int64_t steps_timeout_ms; /* emr.steps_timeout */
    int max_attempts;         /* revert / terminate attempts before giving up (5) */
    int64_t retry_delay_ms;   /* first retry delay, doubling (emr.poll_initial) */
    int64_t clock_skew_ms;    /* created_after = invoke time - this (60 s) */
    int64_t auto_terminate_ms; /* emr.auto_terminate_minutes: Phase 2 never waits past invoke + this (0: no cap) */
    int64_t settle_ms;        /* after a put whose outcome is unknown, the revert reads no sooner than this
                               * (http.timeout): a write still on its way lands first */
} fr_emr_wf_opts;

void fr_emr_wf_opts_from_config(fr_emr_wf_opts *o, const fr_config *c);

/* The machine's state: plain data, JSON-serialisable for the run record. */
typedef struct fr_emr_wf {
    fr_emr_wf_state state;
    fr_emr_wf_state outcome; /* where the run will end: DONE < CANCELLED < FAILED < CONFLICT */
    fr_emr_wf_opts opts;
    bool cancel_requested;
    bool param_touched;  /* PUT_PARAM was emitted */
    bool param_written;  /* MODIFY_DONE */
    int64_t original_version, written_version;
    bool invoked;        /* the Lambda may have run: INVOKE_LAMBDA was emitted and did not surely fail */
    bool invoke_emitted; /* INVOKE_LAMBDA was emitted (never again) */
    int64_t invoked_at_ms;
    char cluster_id[32];
    char lambda_cluster_id[32]; /* the id in the Lambda's answer: surely frugal's */
    int mismatches;             /* clusters of that name with other types seen (left alone) */
    bool cluster_confirmed;
    bool reverted;       /* REVERT_DONE */
    bool revert_conflict;
    bool revert_stuck;   /* the revert failed max_attempts times; it keeps trying (every 5 min at most) */
    int revert_attempts, terminate_attempts;
    bool terminated;
    int steps;
    int64_t wait_deadline_ms, steps_deadline_ms;
    char reason[200];
} fr_emr_wf;

/* A new run in ANALYZE; acts gets FETCH_METRICS. */
void fr_emr_wf_start(fr_emr_wf *wf, const fr_emr_wf_opts *opts, fr_emr_wf_actions *acts);
/* The transition: 0 with *next and *acts set, or FR_ESTATE (event not
 * valid in this state: *next = *cur, no actions). next may equal cur. */
int fr_emr_wf_next(const fr_emr_wf *cur, const fr_emr_wf_event *ev, fr_emr_wf *next, fr_emr_wf_actions *acts);
bool fr_emr_wf_is_terminal(fr_emr_wf_state s);

const char *fr_emr_wf_state_name(fr_emr_wf_state s); /* "ANALYZE" ... "CONFLICT" */
int fr_emr_wf_state_parse(const char *s, fr_emr_wf_state *out);
const char *fr_emr_wf_event_name(fr_emr_wf_event_type e);
const char *fr_emr_act_name(fr_emr_act a);
json_t *fr_emr_wf_to_json(const fr_emr_wf *wf);
json_t *fr_emr_action_to_json(const fr_emr_action *a);

/* ---- never clobber ---- */

typedef enum {
    FR_EMR_REVERT_RESTORE = 0, /* the parameter holds frugal's write: put the original back */
    FR_EMR_REVERT_NOOP,        /* it already holds the original value: nothing to write */
    FR_EMR_REVERT_CONFLICT,    /* someone else wrote it: do not overwrite */
} fr_emr_revert_decision;

/* expected_version: the Version frugal wrote, 0 when unknown (crash between
 * the put and its result). Current value == original -> NOOP; known
 * expected_version: current_version == it -> RESTORE, else CONFLICT;
 * unknown: current value == modified value and current_version ==
 * original_version + 1 -> RESTORE, else CONFLICT. */
fr_emr_revert_decision fr_emr_revert_decide(int64_t original_version, const char *original_value,
                                            const char *modified_value, int64_t expected_version,
                                            int64_t current_version, const char *current_value);
const char *fr_emr_revert_decision_name(fr_emr_revert_decision d);

/* The Lambda payload of the seed, exactly:
 * {"resource": "/executions/clusters", "path": "/executions/clusters",
 *  "body": "{\"cluster_name\": \"N\", \"job_type\": \"CLUSTER\", \"request_type\": \"CREATE\", \"fifo_key\": \"N\"}",
 *  "httpMethod": "POST"} */
json_t *fr_emr_lambda_payload(const char *cluster_name);

/* Reads the Lambda's answer (an Invoke payload without a function error)
 * against the contract {"statusCode": 2xx, "body": "<JSON object>"}, the
 * body naming the cluster or not ("cluster_id" / "ClusterId", "j-..."). 0:
 * *status set, cluster_id the id or "". FR_EPARSE (outside the contract) or
 * FR_EHTTP (a non-2xx statusCode): why says what was wrong; either way the
 * function ran and may have created the cluster. */
int fr_emr_lambda_answer(const char *payload, size_t len, int *status, char *cluster_id, size_t idlen, char *why,
                         size_t whylen);

/* ---- the run journal (entries as in frugal/journal.h:
 *   {"seq", "ts", "step", "phase": "intent"|"done"|"failed"|"note", "data"})
 *
 * step          phase   data
 * MODIFY        intent  {"param", "tier", "original_version", "original_value", "new_value"}
 * MODIFY        done    {"version"}                  the Version frugal wrote
 * MODIFY        failed  {"error"}                    the put may have happened
 * CREATE        intent  {"function", "payload", "cluster_name", "invoked_at_ms", "expect_types":{"CORE","TASK"}}
 * CREATE        done    {"status_code", "cluster_id" (or null)}
 * CREATE        failed  {"error", "ambiguous"}
 * WAIT          note    {"cluster_id", "confirmed"}
 * REVERT        intent  {"expected_version"}         0 = unknown
 * REVERT        done    {"version", "noop"}
 * REVERT        failed  {"conflict", "found_version", "error"}
 * SUBMIT_STEPS  intent  {"cluster_id", "steps"}      done {"step_ids"}
 * TERMINATE     intent  {"cluster_id" (or null), "search":{"name","created_after_ms","types"}}
 * TERMINATE     done    {"terminated":[ids]}         failed {"error"}
 * CANCEL        note    {"principal"}
 * END           done    {"state", "reason"}
 * The builders below make the data objects (new references). */
json_t *fr_emr_jdata_modify_intent(const char *param, const char *tier, int64_t original_version,
                                   const char *original_value, const char *new_value);
json_t *fr_emr_jdata_modify_done(int64_t version);
json_t *fr_emr_jdata_create_intent(const char *function, const char *cluster_name, int64_t invoked_at_ms,
                                   const char *core_type, const char *task_type);
json_t *fr_emr_jdata_create_done(int status_code, const char *cluster_id);
json_t *fr_emr_jdata_create_failed(const char *error, bool ambiguous);
json_t *fr_emr_jdata_wait_note(const char *cluster_id, bool confirmed);
json_t *fr_emr_jdata_wait_mismatch(const char *cluster_id);
json_t *fr_emr_jdata_revert_intent(int64_t expected_version);
json_t *fr_emr_jdata_revert_done(int64_t version, bool noop);
json_t *fr_emr_jdata_revert_failed(bool conflict, int64_t found_version, const char *error);
json_t *fr_emr_jdata_terminate_intent(const char *cluster_id, const char *name, int64_t created_after_ms,
                                      const char *core_type, const char *task_type);
json_t *fr_emr_jdata_end(fr_emr_wf_state state, const char *reason);

/* ---- crash recovery ----
 * Given the journal of an unfinished run (the JSON array of entries in
 * order), rebuilds the machine in the state that drives the run to a safe
 * end and returns the actions to start with; the driver then continues with
 * fr_emr_wf_next as usual. The contract:
 *  - nothing outside changed (no MODIFY intent): the run ends at once
 *    (FAILED, or CANCELLED after a cancel note);
 *  - the parameter is restored under the never-clobber rule (REVERT with
 *    the written Version, or 0 when the put's result was not journaled)
 *    unless a REVERT already finished (done, or failed with a conflict);
 *  - the Lambda was (maybe) invoked and the test cluster is not confirmed:
 *    WAIT for it until invoked_at + wait_timeout first (the Lambda may read
 *    the parameter late), then REVERT;
 *  - a test cluster the run may have created is terminated (by id when
 *    journaled, else found by name, creation time and the new types) unless
 *    a TERMINATE is done;
 *  - the Lambda is never invoked again and Phase 2 is not resumed;
 *  - the run ends FAILED ("interrupted"), CANCELLED (after a cancel note) or
 *    CONFLICT (a conflict was journaled).
 * A journal that already has END returns its state with no actions.
 * FR_EPARSE when an entry is malformed (err says which). */
typedef struct fr_emr_recovery {
    fr_emr_wf wf;
    fr_emr_wf_actions acts;
    char summary[240];
} fr_emr_recovery;

int fr_emr_recover(const json_t *journal, const fr_emr_wf_opts *opts, int64_t now_ms, fr_emr_recovery *out,
                   char *err, size_t errlen);

#endif
