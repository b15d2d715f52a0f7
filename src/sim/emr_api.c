#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emr_api.h"
#include "frugal/err.h"
#include "frugal/str.h"

static void validation(const fr_sim_call *c, fr_sim_resp *r, const char *msg)
{
    fr_sim_error(c, r, 400, "ValidationException", "%s", msg);
}

static fr_sim_cluster *cluster_arg(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, const char *key,
                                   int64_t now)
{
    const char *id = fr_sim_jstr(c->in, key);
    if (!id) {
        validation(c, r, "1 validation error detected: ClusterId must not be null");
        return NULL;
    }
    fr_sim_cluster *cl = fr_sim_emr_find(e, id);
    if (!cl) {
        fr_sim_error(c, r, 400, "InvalidRequestException", "Cluster id '%s' is not valid.", id);
        return NULL;
    }
    fr_sim_emr_advance(e, cl, now);
    return cl;
}

/* Markers are opaque to clients: "o<offset>" hex-encoded. */
static void marker_make(char *out, size_t n, size_t offset)
{
    char raw[32];
    int l = snprintf(raw, sizeof(raw), "o%zu", offset);
    if (n < (size_t)l * 2 + 1)
        return;
    fr_hex_encode(out, (const unsigned char *)raw, (size_t)l);
}

static int marker_parse(const char *m, size_t *offset)
{
    size_t l = strlen(m);
    if (l < 4 || l > 40 || l % 2)
        return FR_EPARSE;
    char raw[24];
    for (size_t i = 0; i < l / 2; i++) {
        unsigned v;
        if (sscanf(m + 2 * i, "%2x", &v) != 1)
            return FR_EPARSE;
        raw[i] = (char)v;
    }
    raw[l / 2] = '\0';
    uint64_t u;
    if (raw[0] != 'o' || fr_parse_u64(raw + 1, &u) != 0)
        return FR_EPARSE;
    *offset = (size_t)u;
    return 0;
}

static int page_start(const fr_sim_call *c, fr_sim_resp *r, size_t *start)
{
    *start = 0;
    const char *m = fr_sim_jstr(c->in, "Marker");
    if (m && marker_parse(m, start) != 0) {
        fr_sim_error(c, r, 400, "InvalidRequestException", "Invalid marker: %s", m);
        return FR_EPARSE;
    }
    return 0;
}

static void set_marker(json_t *out, size_t next, size_t total)
{
    if (next < total) {
        char m[64];
        marker_make(m, sizeof(m), next);
        json_object_set_new(out, "Marker", json_string(m));
    }
}

static int cmp_newest(const void *a, const void *b)
{
    const fr_sim_cluster *x = *(fr_sim_cluster *const *)a, *y = *(fr_sim_cluster *const *)b;
    if (x->created_ms != y->created_ms)
        return x->created_ms > y->created_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void op_list_clusters(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    size_t start;
    if (page_start(c, r, &start))
        return;
    bool want[8] = {false};
    bool any_state = false;
    json_t *states = fr_sim_jlist(c->in, "ClusterStates");
    size_t i;
    json_t *s;
    json_array_foreach(states, i, s)
    {
        int st = fr_sim_cstate_parse(json_string_value(s));
        if (st < 0) {
            validation(c, r, "1 validation error detected: Value at 'clusterStates' failed to satisfy constraint: "
                             "Member must satisfy enum value set: [STARTING, BOOTSTRAPPING, RUNNING, WAITING, "
                             "TERMINATING, TERMINATED, TERMINATED_WITH_ERRORS]");
            return;
        }
        want[st] = any_state = true;
    }
    int64_t after = INT64_MIN, before = INT64_MAX;
    if (json_object_get(c->in, "CreatedAfter") && fr_sim_jtime(c->in, "CreatedAfter", &after) != 0) {
        validation(c, r, "CreatedAfter is not a valid timestamp.");
        return;
    }
    if (json_object_get(c->in, "CreatedBefore") && fr_sim_jtime(c->in, "CreatedBefore", &before) != 0) {
        validation(c, r, "CreatedBefore is not a valid timestamp.");
        return;
    }
    fr_sim_cluster **sel = malloc((e->n ? e->n : 1) * sizeof(*sel));
    if (!sel) {
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    size_t n = 0;
    for (i = 0; i < e->n; i++) {
        fr_sim_cluster *cl = e->clusters[i];
        if (cl->created_ms > now)
            continue;
        fr_sim_emr_advance(e, cl, now);
        if (any_state && !want[cl->state])
            continue;
        if (cl->created_ms < after || cl->created_ms > before)
            continue;
        sel[n++] = cl;
    }
    qsort(sel, n, sizeof(*sel), cmp_newest);
    json_t *list = json_array();
    for (i = start; i < n && i < start + FR_SIM_EMR_PAGE; i++)
        json_array_append_new(list, fr_sim_emr_cluster_summary(sel[i], now));
    json_t *out = json_pack("{s:o}", "Clusters", list);
    set_marker(out, i, n);
    free(sel);
    fr_sim_ok_json(c, r, out);
}

static void op_describe_cluster(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (cl)
        fr_sim_ok_json(c, r, json_pack("{s:o}", "Cluster", fr_sim_emr_cluster_json(cl, now)));
}

static void op_list_collections(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now, bool fleets)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    if (cl->fleets != fleets) {
        fr_sim_error(c, r, 400, "InvalidRequestException",
                     fleets ? "Instance fleets are not available for clusters that use instance groups."
                            : "Instance groups are not available for clusters that use instance fleets.");
        return;
    }
    size_t start;
    if (page_start(c, r, &start))
        return;
    json_t *list = json_array();
    size_t i;
    for (i = start; i < cl->ncolls && i < start + FR_SIM_EMR_PAGE; i++)
        json_array_append_new(list, fleets ? fr_sim_emr_fleet_json(cl, &cl->colls[i], now)
                                           : fr_sim_emr_group_json(cl, &cl->colls[i], now));
    json_t *out = json_pack("{s:o}", fleets ? "InstanceFleets" : "InstanceGroups", list);
    set_marker(out, i, cl->ncolls);
    fr_sim_ok_json(c, r, out);
}

static bool in_list(json_t *list, const char *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (json_is_string(x) && strcmp(json_string_value(x), v) == 0) return true;
    return false;
}

static void op_list_instances(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    size_t start;
    if (page_start(c, r, &start))
        return;
    const char *gid = fr_sim_jstr(c->in, "InstanceGroupId");
    const char *fid = fr_sim_jstr(c->in, "InstanceFleetId");
    const char *ftype = fr_sim_jstr(c->in, "InstanceFleetType");
    json_t *gtypes = fr_sim_jlist(c->in, "InstanceGroupTypes");
    json_t *states = fr_sim_jlist(c->in, "InstanceStates");
    if (ftype && fr_sim_role_parse(ftype) < 0) {
        validation(c, r, "1 validation error detected: Value at 'instanceFleetType' failed to satisfy constraint: "
                         "Member must satisfy enum value set: [MASTER, CORE, TASK]");
        return;
    }
    json_t *list = json_array();
    size_t matched = 0, i;
    size_t next = 0;
    for (i = 0; i < cl->ninsts; i++) {
        const fr_sim_inst *in = &cl->insts[i];
        const fr_sim_coll *co = &cl->colls[in->coll];
        const char *role = fr_sim_role_name(in->role);
        if ((gid && strcmp(gid, co->id) != 0) || (fid && strcmp(fid, co->id) != 0))
            continue;
        if (ftype && strcmp(ftype, role) != 0)
            continue;
        if (json_array_size(gtypes) && !in_list(gtypes, role))
            continue;
        if (json_array_size(states) && !in_list(states, fr_sim_inst_state(in, now)))
            continue;
        if (matched++ < start)
            continue;
        if (json_array_size(list) == FR_SIM_EMR_PAGE) {
            next = matched - 1;
            break;
        }
        json_array_append_new(list, fr_sim_emr_instance_json(cl, in, now));
    }
    json_t *out = json_pack("{s:o}", "Instances", list);
    if (next)
        set_marker(out, next, next + 1);
    fr_sim_ok_json(c, r, out);
}

static void op_list_steps(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    size_t start;
    if (page_start(c, r, &start))
        return;
    json_t *states = fr_sim_jlist(c->in, "StepStates");
    json_t *ids = fr_sim_jlist(c->in, "StepIds");
    json_t *list = json_array();
    size_t matched = 0, next = 0;
    /* newest first, as the real API */
    for (size_t k = cl->nsteps; k-- > 0;) {
        const fr_sim_step *s = &cl->steps[k];
        if (json_array_size(states) && !in_list(states, fr_sim_sstate_name(s->state)))
            continue;
        if (json_array_size(ids) && !in_list(ids, s->id))
            continue;
        if (matched++ < start)
            continue;
        if (json_array_size(list) == FR_SIM_EMR_PAGE) {
            next = matched - 1;
            break;
        }
        json_array_append_new(list, fr_sim_emr_step_json(s, true));
    }
    json_t *out = json_pack("{s:o}", "Steps", list);
    if (next)
        set_marker(out, next, next + 1);
    fr_sim_ok_json(c, r, out);
}

static void op_describe_step(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    const char *sid = fr_sim_jstr(c->in, "StepId");
    for (size_t k = 0; sid && k < cl->nsteps; k++)
        if (strcmp(cl->steps[k].id, sid) == 0) {
            fr_sim_ok_json(c, r, json_pack("{s:o}", "Step", fr_sim_emr_step_json(&cl->steps[k], false)));
            return;
        }
    fr_sim_error(c, r, 400, "InvalidRequestException", "Step id '%s' is not valid.", sid ? sid : "");
}

static void op_run_job_flow(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    char err[512];
    fr_sim_cluster *cl;
    int rc = fr_sim_emr_create(e, c->in, NULL, now, &cl, err, sizeof(err));
    if (rc == FR_EPARSE || rc == FR_ELIMIT) {
        validation(c, r, err);
        return;
    }
    if (rc) {
        fr_sim_internal_error(c, r, "InternalServerError");
        return;
    }
    fr_sim_ok_json(c, r, json_pack("{s:s, s:s}", "JobFlowId", cl->id, "ClusterArn", cl->arn));
}

static void op_add_steps(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "JobFlowId", now);
    if (!cl)
        return;
    if (cl->state >= FR_SIM_CS_TERMINATING) {
        validation(c, r, "A job flow that is shutting down, terminated, or finished may not be modified.");
        return;
    }
    char err[512];
    json_t *ids = json_array();
    int rc = fr_sim_emr_add_steps(e, cl, json_object_get(c->in, "Steps"), now, ids, err, sizeof(err));
    if (rc) {
        json_decref(ids);
        validation(c, r, err);
        return;
    }
    fr_sim_emr_advance(e, cl, now);
    fr_sim_ok_json(c, r, json_pack("{s:o}", "StepIds", ids));
}

static void op_terminate(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    json_t *ids = fr_sim_jlist(c->in, "JobFlowIds");
    if (!json_array_size(ids)) {
        validation(c, r, "1 validation error detected: JobFlowIds must not be empty");
        return;
    }
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (!json_is_string(id) || !fr_sim_emr_find(e, json_string_value(id))) {
            validation(c, r, "Specified job flow ID not valid");
            return;
        }
    }
    json_array_foreach(ids, i, id)
    {
        fr_sim_cluster *cl = fr_sim_emr_find(e, json_string_value(id));
        if (fr_sim_emr_terminate(e, cl, now, NULL, NULL) == FR_EDENIED) {
            validation(c, r, "Could not shut down one or more job flows since they are termination protected.");
            return;
        }
    }
    fr_sim_ok_json(c, r, json_object());
}

static void op_auto_termination(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    json_t *out = json_object();
    if (cl->idle_timeout_s > 0)
        json_object_set_new(out, "AutoTerminationPolicy",
                            json_pack("{s:I}", "IdleTimeout", (json_int_t)cl->idle_timeout_s));
    fr_sim_ok_json(c, r, out);
}

static void op_put_auto_termination(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    json_t *atp = json_object_get(c->in, "AutoTerminationPolicy");
    int64_t idle = 3600;
    if (json_is_object(atp) && json_object_get(atp, "IdleTimeout") && fr_sim_jint(atp, "IdleTimeout", &idle) != 0)
        idle = -1;
    if (idle < 60 || idle > 604800) {
        validation(c, r, "1 validation error detected: IdleTimeout must be between 60 and 604800 seconds.");
        return;
    }
    if (cl->state >= FR_SIM_CS_TERMINATING) {
        validation(c, r, "A job flow that is shutting down, terminated, or finished may not be modified.");
        return;
    }
    /* the idle clock starts over with the new policy */
    cl->idle_timeout_s = idle;
    if (cl->idle_since_ms < now)
        cl->idle_since_ms = now;
    json_object_set_new(cl->req, "AutoTerminationPolicy", json_pack("{s:I}", "IdleTimeout", (json_int_t)idle));
    fr_sim_ok_json(c, r, json_object());
}

static void op_remove_auto_termination(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    cl->idle_timeout_s = 0;
    json_object_del(cl->req, "AutoTerminationPolicy");
    fr_sim_ok_json(c, r, json_object());
}

static void op_protect(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    json_t *ids = fr_sim_jlist(c->in, "JobFlowIds");
    bool prot = false;
    fr_sim_jbool(c->in, "TerminationProtected", &prot);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        fr_sim_cluster *cl = json_is_string(id) ? fr_sim_emr_find(e, json_string_value(id)) : NULL;
        if (!cl) {
            validation(c, r, "Specified job flow ID not valid");
            return;
        }
        fr_sim_emr_advance(e, cl, now);
        cl->termination_protected = prot;
    }
    fr_sim_ok_json(c, r, json_object());
}

static void op_bootstrap_actions(fr_sim_emr *e, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    fr_sim_cluster *cl = cluster_arg(e, c, r, "ClusterId", now);
    if (!cl)
        return;
    json_t *list = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(cl->req, "BootstrapActions"), i, b)
    {
        json_t *sba = json_object_get(b, "ScriptBootstrapAction");
        json_t *args = json_object_get(sba, "Args");
        const char *name = fr_sim_jstr(b, "Name"), *path = fr_sim_jstr(sba, "Path");
        json_array_append_new(list, json_pack("{s:s, s:s, s:O}", "Name", name ? name : "", "ScriptPath",
                                              path ? path : "", "Args", args ? args : json_array()));
    }
    fr_sim_ok_json(c, r, json_pack("{s:o}", "BootstrapActions", list));
}

void fr_sim_emr_call(fr_sim_emr *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    const char *op = c->op;
    if (strcmp(op, "ListClusters") == 0)
        op_list_clusters(e, c, r, now);
    else if (strcmp(op, "DescribeCluster") == 0)
        op_describe_cluster(e, c, r, now);
    else if (strcmp(op, "ListInstanceFleets") == 0)
        op_list_collections(e, c, r, now, true);
    else if (strcmp(op, "ListInstanceGroups") == 0)
        op_list_collections(e, c, r, now, false);
    else if (strcmp(op, "ListInstances") == 0)
        op_list_instances(e, c, r, now);
    else if (strcmp(op, "ListSteps") == 0)
        op_list_steps(e, c, r, now);
    else if (strcmp(op, "DescribeStep") == 0)
        op_describe_step(e, c, r, now);
    else if (strcmp(op, "RunJobFlow") == 0)
        op_run_job_flow(e, c, r, now);
    else if (strcmp(op, "AddJobFlowSteps") == 0)
        op_add_steps(e, c, r, now);
    else if (strcmp(op, "TerminateJobFlows") == 0)
        op_terminate(e, c, r, now);
    else if (strcmp(op, "GetAutoTerminationPolicy") == 0)
        op_auto_termination(e, c, r, now);
    else if (strcmp(op, "SetTerminationProtection") == 0)
        op_protect(e, c, r, now);
    else if (strcmp(op, "PutAutoTerminationPolicy") == 0)
        op_put_auto_termination(e, c, r, now);
    else if (strcmp(op, "RemoveAutoTerminationPolicy") == 0)
        op_remove_auto_termination(e, c, r, now);
    else if (strcmp(op, "ListBootstrapActions") == 0)
        op_bootstrap_actions(e, c, r, now);
    else
        fr_sim_error(c, r, 400, "UnknownOperationException", "Operation %s is not supported by frugal-sim.", op);
}
