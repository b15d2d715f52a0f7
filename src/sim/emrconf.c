#include <stdio.h>
#include <string.h>

#include "emr.h"
#include "emrconf.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "util.h"

int fr_sim_emrconf_graviton(const json_t *cfg, int *out)
{
    json_t *g = json_object_get(cfg, "GravitonAmi");
    if (!g) {
        *out = -1;
        return 0;
    }
    bool b;
    if (fr_sim_jbool(cfg, "GravitonAmi", &b) != 0)
        return FR_EPARSE;
    *out = b ? 1 : 0;
    return 0;
}

json_t *fr_sim_emrconf_instances(const json_t *cfg)
{
    json_t *inst = json_object_get(cfg, "Instances");
    if (json_is_object(inst))
        return json_deep_copy(inst);
    if (json_is_string(inst)) {
        json_t *j = json_loads(json_string_value(inst), 0, NULL);
        if (json_is_object(j))
            return j;
        json_decref(j);
    }
    return NULL;
}

static void set_ami(json_t *obj, const char *ami)
{
    json_object_set_new(obj, "CustomAmiId", json_string(ami));
}

/* The GravitonAmi flag chooses the AMI of the CORE and TASK nodes; the
 * master keeps EMR's default image. */
static void apply_graviton(json_t *inst, int graviton)
{
    const char *ami = graviton ? FR_SIM_AMI_ARM64 : FR_SIM_AMI_X86;
    size_t i, k;
    json_t *f, *cfg;
    json_array_foreach(json_object_get(inst, "InstanceFleets"), i, f)
    {
        int role = fr_sim_role_parse(fr_sim_jstr(f, "InstanceFleetType"));
        if (role != FR_SIM_CORE && role != FR_SIM_TASK)
            continue;
        json_array_foreach(json_object_get(f, "InstanceTypeConfigs"), k, cfg) if (json_is_object(cfg))
            set_ami(cfg, ami);
    }
    json_array_foreach(json_object_get(inst, "InstanceGroups"), i, f)
    {
        int role = fr_sim_role_parse(fr_sim_jstr(f, "InstanceRole"));
        if ((role == FR_SIM_CORE || role == FR_SIM_TASK) && json_is_object(f))
            set_ami(f, ami);
    }
}

static const char *copied[] = {
    "Name", "ReleaseLabel", "LogUri", "Applications", "Configurations", "BootstrapActions", "Tags",
    "StepConcurrencyLevel", "AutoTerminationPolicy", "ServiceRole", "JobFlowRole", "VisibleToAllUsers",
    "SecurityConfiguration", "EbsRootVolumeSize", "ScaleDownBehavior", "AutoScalingRole", "Steps",
    "ManagedScalingPolicy", "PlacementGroupConfigs", "OSReleaseLabel",
};

int fr_sim_emrconf_to_request(const char *value, size_t len, json_t **req, char *errtype, size_t typelen,
                              char *err, size_t errlen)
{
    *req = NULL;
    json_error_t jerr;
    json_t *cfg = json_loadb(value, len, 0, &jerr);
    if (!json_is_object(cfg)) {
        fr_strlcpy(errtype, "JSONDecodeError", typelen);
        snprintf(err, errlen, "Expecting value: line %d column %d (char %d)", jerr.line, jerr.column, jerr.position);
        json_decref(cfg);
        return FR_EPARSE;
    }
    if (!fr_sim_jstr(cfg, "Name")) {
        fr_strlcpy(errtype, "KeyError", typelen);
        snprintf(err, errlen, "'Name'");
        json_decref(cfg);
        return FR_EPARSE;
    }
    json_t *inst = fr_sim_emrconf_instances(cfg);
    if (!inst) {
        fr_strlcpy(errtype, json_object_get(cfg, "Instances") ? "JSONDecodeError" : "KeyError", typelen);
        snprintf(err, errlen, json_object_get(cfg, "Instances") ? "Instances is not a JSON object" : "'Instances'");
        json_decref(cfg);
        return FR_EPARSE;
    }
    int graviton;
    if (fr_sim_emrconf_graviton(cfg, &graviton) != 0) {
        fr_strlcpy(errtype, "ValueError", typelen);
        snprintf(err, errlen, "GravitonAmi must be true or false");
        json_decref(inst);
        json_decref(cfg);
        return FR_EPARSE;
    }
    json_t *r = json_object();
    for (size_t i = 0; i < FR_ARRAY_SIZE(copied); i++) {
        json_t *v = json_object_get(cfg, copied[i]);
        if (v)
            json_object_set_new(r, copied[i], json_deep_copy(v));
    }
    if (graviton >= 0)
        apply_graviton(inst, graviton);
    json_object_set_new(r, "Instances", inst);
    json_decref(cfg);
    *req = r;
    return 0;
}
