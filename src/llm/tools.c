/* The seed's agent tools, as the model sees them. Pure. */
#include <stdio.h>
#include <string.h>

#include "frugal/agent.h"

static json_t *fn(const char *name, const char *desc, json_t *params)
{
    return json_pack("{s:s, s:{s:s, s:s, s:o}}", "type", "function", "function", "name", name, "description", desc,
                     "parameters", params);
}

static json_t *obj(json_t *props, const char *required)
{
    json_t *o = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props, "additionalProperties", 0);
    if (required)
        json_object_set_new(o, "required", json_pack("[s]", required));
    return o;
}

static json_t *name_prop(void)
{
    return json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "cluster_name", "type", "string", "description",
                     "EMR cluster name (the Parameter Store key)", "cluster_id", "type", "string", "description",
                     "optional: a specific run of the cluster (j-...)");
}

static const char *const write_tools[] = {
    "modify_param_store", "revert_param_store", "invoke_cluster_lambda", "terminate_cluster", "approve_optimization",
    "backup_param_store", NULL,
};

int fr_agent_tool_is_write(const char *name)
{
    for (const char *const *w = write_tools; *w; w++)
        if (strcmp(*w, name) == 0)
            return 1;
    return 0;
}

json_t *fr_agent_tools(void)
{
    const char *gated = " Performed only by frugal's workflow after the user clicks Proceed; calling it from the "
                        "assistant is refused and audited.";
    json_t *t = json_array();
    json_array_append_new(t, fn("list_transient_clusters",
                                "List recent transient EMR clusters (terminated, runtime under 6 hours) with state "
                                "and runtime.",
                                obj(json_pack("{s:{s:s}}", "refresh", "type", "boolean"), NULL)));
    json_array_append_new(t, fn("analyze_cluster",
                                "CloudWatch CPU and memory analysis of CORE and TASK nodes, sizing status, workload "
                                "profile and recommended instance types with costs.",
                                obj(name_prop(), "cluster_name")));
    json_array_append_new(t, fn("get_param_store_config",
                                "Read-only summary of the cluster's Parameter Store config: node types, counts, "
                                "on-demand/spot mix, GravitonAmi.",
                                obj(json_pack("{s:{s:s}}", "cluster_name", "type", "string"), "cluster_name")));
    json_array_append_new(t, fn("calculate_cost",
                                "Cost comparison old vs recommended: per run, per month, and the test cluster's "
                                "estimated cost.",
                                obj(name_prop(), "cluster_name")));
    json_array_append_new(t, fn("check_cluster_status", "Status of an optimization run (default: the current one).",
                                obj(json_pack("{s:{s:s}}", "run_id", "type", "string"), NULL)));
    json_array_append_new(t, fn("propose_optimization",
                                "Prepare an optimization of the cluster and show the user the approval card "
                                "(Proceed / Cancel). Changes nothing; the user decides.",
                                obj(name_prop(), "cluster_name")));
    json_t *w = json_pack("{s:{s:s}}", "cluster_name", "type", "string");
    json_array_append_new(t, fn("modify_param_store", "Update instance types in the Parameter Store config.", obj(json_deep_copy(w), NULL)));
    json_array_append_new(t, fn("revert_param_store", "Restore the original Parameter Store config.", obj(json_deep_copy(w), NULL)));
    json_array_append_new(t, fn("invoke_cluster_lambda", "Trigger the cluster creation Lambda.", obj(json_deep_copy(w), NULL)));
    json_decref(w);
    /* the gate is stated in each write tool's description */
    size_t i;
    json_t *e;
    json_array_foreach(t, i, e)
    {
        json_t *f = json_object_get(e, "function");
        const char *name = json_string_value(json_object_get(f, "name"));
        if (fr_agent_tool_is_write(name)) {
            char buf[512];
            snprintf(buf, sizeof(buf), "%s%s", json_string_value(json_object_get(f, "description")), gated);
            json_object_set_new(f, "description", json_string(buf));
        }
    }
    return t;
}
