/* EMR wire encoding: clusters, fleets, groups, instances and steps in the
 * shapes of the awsJson1_1 API (timestamps as epoch seconds). Pure. */
#include <stdio.h>
#include <string.h>

#include "emr.h"
#include "frugal/str.h"

/* ---- wire encoding ---- */

static bool cluster_ended(const fr_sim_cluster *c)
{
    return c->state == FR_SIM_CS_TERMINATED || c->state == FR_SIM_CS_TERMINATED_WITH_ERRORS;
}

static bool cluster_was_ready(const fr_sim_cluster *c)
{
    if (c->fail_start)
        return false;
    if (c->state == FR_SIM_CS_RUNNING || c->state == FR_SIM_CS_WAITING)
        return true;
    return c->state >= FR_SIM_CS_TERMINATING && c->terminating_ms >= c->ready_ms;
}

/* "ip-10-1-2-3.ec2.internal" */
static void private_dns(const char *ip, char *out, size_t n)
{
    char dashed[16];
    fr_strlcpy(dashed, ip, sizeof(dashed));
    for (char *p = dashed; *p; p++)
        if (*p == '.')
            *p = '-';
    snprintf(out, n, "ip-%s.ec2.internal", dashed);
}

static json_t *cluster_status(const fr_sim_cluster *c)
{
    json_t *reason = json_object();
    if (c->reason_code[0])
        json_object_set_new(reason, "Code", json_string(c->reason_code));
    if (c->reason_msg[0])
        json_object_set_new(reason, "Message", json_string(c->reason_msg));
    json_t *tl = json_object();
    fr_sim_jset_time(tl, "CreationDateTime", c->created_ms);
    if (cluster_was_ready(c))
        fr_sim_jset_time(tl, "ReadyDateTime", c->ready_ms);
    if (cluster_ended(c))
        fr_sim_jset_time(tl, "EndDateTime", c->end_ms);
    json_t *st = json_pack("{s:s, s:o, s:o}", "State", fr_sim_cstate_name(c->state), "StateChangeReason", reason,
                           "Timeline", tl);
    if (c->state == FR_SIM_CS_TERMINATED_WITH_ERRORS || (c->state == FR_SIM_CS_TERMINATING && c->error_end)) {
        json_t *ed = json_array();
        json_array_append_new(ed, json_pack("{s:s, s:s, s:[]}", "ErrorCode", c->reason_code, "ErrorMessage",
                                            c->reason_msg, "ErrorData"));
        json_object_set_new(st, "ErrorDetails", ed);
    }
    return st;
}

json_t *fr_sim_emr_cluster_summary(const fr_sim_cluster *c, int64_t now)
{
    return json_pack("{s:s, s:s, s:o, s:i, s:s}", "Id", c->id, "Name", c->name, "Status", cluster_status(c),
                     "NormalizedInstanceHours", (int)fr_sim_cluster_normalized_hours(c, now), "ClusterArn", c->arn);
}

static const char *app_version(const char *release, const char *app)
{
    static const struct {
        const char *prefix, *app, *version;
    } tab[] = {
        {"emr-7", "Spark", "3.5.1"},  {"emr-7", "Hadoop", "3.3.6"}, {"emr-7", "Hive", "3.1.3"},
        {"emr-7", "Livy", "0.8.0"},   {"emr-6", "Spark", "3.4.1"},  {"emr-6", "Hadoop", "3.3.6"},
        {"emr-6", "Hive", "3.1.3"},   {"emr-6", "Livy", "0.7.1"},   {"emr-6", "Presto", "0.283"},
        {"emr-7", "Presto", "0.285"}, {"emr-6", "Trino", "426"},    {"emr-7", "Trino", "442"},
        {"emr-6", "Zeppelin", "0.10.1"}, {"emr-7", "Zeppelin", "0.10.1"}, {"emr-6", "JupyterEnterpriseGateway", "2.6.0"},
    };
    for (size_t i = 0; release && i < FR_ARRAY_SIZE(tab); i++)
        if (fr_str_startswith(release, tab[i].prefix) && strcmp(app, tab[i].app) == 0)
            return tab[i].version;
    return NULL;
}

static void copy_if(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set_new(dst, key, json_deep_copy(v));
}

json_t *fr_sim_emr_cluster_json(const fr_sim_cluster *c, int64_t now)
{
    const json_t *req = c->req;
    const json_t *inst = json_object_get(req, "Instances");
    const char *release = fr_sim_jstr(req, "ReleaseLabel");
    if (!release)
        release = "emr-7.1.0";
    json_t *j = json_object();
    json_object_set_new(j, "Id", json_string(c->id));
    json_object_set_new(j, "Name", json_string(c->name));
    json_object_set_new(j, "Status", cluster_status(c));

    json_t *ec2 = json_object();
    copy_if(ec2, inst, "Ec2KeyName");
    json_object_set_new(ec2, "Ec2SubnetId", json_string(c->subnet));
    json_t *rs = json_array(), *raz = json_array();
    json_t *subnets = json_object_get(inst, "Ec2SubnetIds");
    if (json_array_size(subnets))
        json_array_extend(rs, subnets);
    else
        json_array_append_new(rs, json_string(c->subnet));
    json_object_set_new(ec2, "RequestedEc2SubnetIds", rs);
    json_object_set_new(ec2, "Ec2AvailabilityZone", json_string(c->az));
    json_object_set_new(ec2, "RequestedEc2AvailabilityZones", raz);
    const char *jfr = fr_sim_jstr(req, "JobFlowRole");
    json_object_set_new(ec2, "IamInstanceProfile", json_string(jfr ? jfr : "EMR_EC2_DefaultRole"));
    const char *msg = fr_sim_jstr(inst, "EmrManagedMasterSecurityGroup");
    const char *ssg = fr_sim_jstr(inst, "EmrManagedSlaveSecurityGroup");
    json_object_set_new(ec2, "EmrManagedMasterSecurityGroup", json_string(msg ? msg : "sg-0e1a2b3c4d5e6f701"));
    json_object_set_new(ec2, "EmrManagedSlaveSecurityGroup", json_string(ssg ? ssg : "sg-0e1a2b3c4d5e6f702"));
    copy_if(ec2, inst, "ServiceAccessSecurityGroup");
    copy_if(ec2, inst, "AdditionalMasterSecurityGroups");
    copy_if(ec2, inst, "AdditionalSlaveSecurityGroups");
    json_object_set_new(j, "Ec2InstanceAttributes", ec2);

    json_object_set_new(j, "InstanceCollectionType", json_string(c->fleets ? "INSTANCE_FLEET" : "INSTANCE_GROUP"));
    copy_if(j, req, "LogUri");
    json_object_set_new(j, "ReleaseLabel", json_string(release));
    json_object_set_new(j, "AutoTerminate", json_boolean(!c->keep_alive));
    json_object_set_new(j, "TerminationProtected", json_boolean(c->termination_protected));
    json_object_set_new(j, "UnhealthyNodeReplacement", json_false());
    bool vis = true;
    fr_sim_jbool(req, "VisibleToAllUsers", &vis);
    json_object_set_new(j, "VisibleToAllUsers", json_boolean(vis));
    json_t *apps = json_array();
    json_t *rapps = json_object_get(req, "Applications");
    size_t i;
    json_t *a;
    json_array_foreach(rapps, i, a)
    {
        const char *n = fr_sim_jstr(a, "Name");
        if (!n)
            continue;
        json_t *o = json_pack("{s:s}", "Name", n);
        const char *v = app_version(release, n);
        if (v)
            json_object_set_new(o, "Version", json_string(v));
        json_array_append_new(apps, o);
    }
    json_object_set_new(j, "Applications", apps);
    json_t *tags = json_object_get(req, "Tags");
    json_object_set_new(j, "Tags", tags ? json_deep_copy(tags) : json_array());
    const char *sr = fr_sim_jstr(req, "ServiceRole");
    json_object_set_new(j, "ServiceRole", json_string(sr ? sr : "EMR_DefaultRole"));
    json_object_set_new(j, "NormalizedInstanceHours", json_integer((json_int_t)fr_sim_cluster_normalized_hours(c, now)));
    for (size_t k = 0; k < c->ninsts; k++)
        if (c->insts[k].role == FR_SIM_MASTER) {
            char dns[64];
            private_dns(c->insts[k].ip, dns, sizeof(dns));
            json_object_set_new(j, "MasterPublicDnsName", json_string(dns));
            break;
        }
    json_t *cfgs = json_object_get(req, "Configurations");
    json_object_set_new(j, "Configurations", cfgs ? json_deep_copy(cfgs) : json_array());
    copy_if(j, req, "SecurityConfiguration");
    copy_if(j, req, "CustomAmiId");
    const char *sdb = fr_sim_jstr(req, "ScaleDownBehavior");
    json_object_set_new(j, "ScaleDownBehavior", json_string(sdb ? sdb : "TERMINATE_AT_TASK_COMPLETION"));
    int64_t ebs = 15;
    fr_sim_jint(req, "EbsRootVolumeSize", &ebs);
    json_object_set_new(j, "EbsRootVolumeSize", json_integer(ebs));
    json_object_set_new(j, "ClusterArn", json_string(c->arn));
    json_object_set_new(j, "StepConcurrencyLevel", json_integer(c->step_concurrency));
    json_object_set_new(j, "OSReleaseLabel", json_string("2.0.20240709.1"));
    return j;
}

static json_t *collection_status(const fr_sim_cluster *c)
{
    const char *st;
    switch (c->state) {
    case FR_SIM_CS_STARTING: st = "PROVISIONING"; break;
    case FR_SIM_CS_BOOTSTRAPPING: st = "BOOTSTRAPPING"; break;
    case FR_SIM_CS_TERMINATING: st = "TERMINATING"; break;
    case FR_SIM_CS_TERMINATED:
    case FR_SIM_CS_TERMINATED_WITH_ERRORS: st = "TERMINATED"; break;
    default: st = "RUNNING";
    }
    json_t *reason = json_object();
    if (cluster_ended(c) || c->state == FR_SIM_CS_TERMINATING) {
        json_object_set_new(reason, "Code", json_string("CLUSTER_TERMINATED"));
        json_object_set_new(reason, "Message", json_string("Cluster terminated"));
    }
    json_t *tl = json_object();
    fr_sim_jset_time(tl, "CreationDateTime", c->created_ms);
    if (cluster_was_ready(c))
        fr_sim_jset_time(tl, "ReadyDateTime", c->ready_ms);
    if (cluster_ended(c))
        fr_sim_jset_time(tl, "EndDateTime", c->end_ms);
    return json_pack("{s:s, s:o, s:o}", "State", st, "StateChangeReason", reason, "Timeline", tl);
}

static json_t *ebs_devices(const json_t *ebscfg)
{
    json_t *out = json_array();
    json_t *cfgs = json_object_get(ebscfg, "EbsBlockDeviceConfigs");
    size_t i;
    json_t *d;
    int dev = 0;
    json_array_foreach(cfgs, i, d)
    {
        int64_t per = 1;
        fr_sim_jint(d, "VolumesPerInstance", &per);
        for (int64_t k = 0; k < per && dev < 24; k++, dev++) {
            char name[16];
            snprintf(name, sizeof(name), "/dev/sd%c", 'b' + dev);
            json_t *vs = json_object_get(d, "VolumeSpecification");
            json_array_append_new(out, json_pack("{s:O, s:s}", "VolumeSpecification", vs ? vs : json_null(),
                                                 "Device", name));
        }
    }
    return out;
}

json_t *fr_sim_emr_fleet_json(const fr_sim_cluster *c, const fr_sim_coll *f, int64_t now)
{
    bool live = c->state >= FR_SIM_CS_BOOTSTRAPPING && !cluster_ended(c);
    json_t *specs = json_array();
    json_t *cfgs = json_object_get(f->spec, "InstanceTypeConfigs");
    size_t i;
    json_t *cfg;
    json_array_foreach(cfgs, i, cfg)
    {
        json_t *s = json_object();
        json_object_set_new(s, "InstanceType", json_string(fr_sim_jstr(cfg, "InstanceType")));
        json_object_set_new(s, "WeightedCapacity", json_integer(fr_sim_cfg_weight(cfg)));
        copy_if(s, cfg, "BidPrice");
        double pct;
        if (fr_sim_jnum(cfg, "BidPriceAsPercentageOfOnDemandPrice", &pct) == 0)
            json_object_set_new(s, "BidPriceAsPercentageOfOnDemandPrice", json_real(pct));
        else if (!fr_sim_jstr(cfg, "BidPrice"))
            json_object_set_new(s, "BidPriceAsPercentageOfOnDemandPrice", json_real(100.0));
        copy_if(s, cfg, "Configurations");
        json_t *ebs = json_object_get(cfg, "EbsConfiguration");
        json_object_set_new(s, "EbsBlockDevices", ebs_devices(ebs));
        bool eo = false;
        json_object_set_new(s, "EbsOptimized", json_boolean(ebs && fr_sim_jbool(ebs, "EbsOptimized", &eo) == 0 && eo));
        copy_if(s, cfg, "CustomAmiId");
        copy_if(s, cfg, "Priority");
        json_array_append_new(specs, s);
    }
    json_t *j = json_object();
    json_object_set_new(j, "Id", json_string(f->id));
    json_object_set_new(j, "Name", json_string(f->name));
    json_object_set_new(j, "Status", collection_status(c));
    json_object_set_new(j, "InstanceFleetType", json_string(fr_sim_role_name(f->role)));
    json_object_set_new(j, "TargetOnDemandCapacity", json_integer(f->target_od));
    json_object_set_new(j, "TargetSpotCapacity", json_integer(f->target_spot));
    json_object_set_new(j, "ProvisionedOnDemandCapacity", json_integer(live ? f->prov_od : 0));
    json_object_set_new(j, "ProvisionedSpotCapacity", json_integer(live ? f->prov_spot : 0));
    json_object_set_new(j, "InstanceTypeSpecifications", specs);
    copy_if(j, f->spec, "LaunchSpecifications");
    copy_if(j, f->spec, "ResizeSpecifications");
    (void)now;
    return j;
}

json_t *fr_sim_emr_group_json(const fr_sim_cluster *c, const fr_sim_coll *g, int64_t now)
{
    bool live = c->state >= FR_SIM_CS_BOOTSTRAPPING && !cluster_ended(c);
    int running = 0;
    if (live)
        for (size_t k = 0; k < c->ninsts; k++)
            if (c->insts[k].coll == (int)(g - c->colls) && strcmp(fr_sim_inst_state(&c->insts[k], now), "RUNNING") == 0)
                running++;
    json_t *j = json_object();
    json_object_set_new(j, "Id", json_string(g->id));
    json_object_set_new(j, "Name", json_string(g->name));
    json_object_set_new(j, "Market", json_string(g->spot ? "SPOT" : "ON_DEMAND"));
    json_object_set_new(j, "InstanceGroupType", json_string(fr_sim_role_name(g->role)));
    copy_if(j, g->spec, "BidPrice");
    json_object_set_new(j, "InstanceType", json_string(g->itype));
    json_object_set_new(j, "RequestedInstanceCount", json_integer(g->count));
    json_object_set_new(j, "RunningInstanceCount", json_integer(running));
    json_object_set_new(j, "Status", collection_status(c));
    json_t *cfgs = json_object_get(g->spec, "Configurations");
    json_object_set_new(j, "Configurations", cfgs ? json_deep_copy(cfgs) : json_array());
    json_object_set_new(j, "ConfigurationsVersion", json_integer(0));
    json_object_set_new(j, "LastSuccessfullyAppliedConfigurations", json_array());
    json_object_set_new(j, "LastSuccessfullyAppliedConfigurationsVersion", json_integer(0));
    json_t *ebs = json_object_get(g->spec, "EbsConfiguration");
    json_object_set_new(j, "EbsBlockDevices", ebs_devices(ebs));
    bool eo = false;
    json_object_set_new(j, "EbsOptimized", json_boolean(ebs && fr_sim_jbool(ebs, "EbsOptimized", &eo) == 0 && eo));
    json_object_set_new(j, "ShrinkPolicy", json_object());
    copy_if(j, g->spec, "CustomAmiId");
    return j;
}

json_t *fr_sim_emr_instance_json(const fr_sim_cluster *c, const fr_sim_inst *i, int64_t now)
{
    const char *st = fr_sim_inst_state(i, now);
    json_t *reason = json_object();
    int64_t launch, end;
    fr_sim_inst_life(i, &launch, &end);
    if (strcmp(st, "TERMINATED") == 0) {
        json_object_set_new(reason, "Code", json_string(i->end_ms ? i->end_reason : "CLUSTER_TERMINATED"));
        json_object_set_new(reason, "Message",
                            json_string(i->end_ms ? "Instance was terminated (spot interruption)" : "Cluster terminated"));
    }
    json_t *tl = json_object();
    fr_sim_jset_time(tl, "CreationDateTime", c->created_ms);
    if (cluster_was_ready(c) && (!i->end_ms || i->end_ms > c->ready_ms))
        fr_sim_jset_time(tl, "ReadyDateTime", c->ready_ms);
    if (strcmp(st, "TERMINATED") == 0)
        fr_sim_jset_time(tl, "EndDateTime", i->end_ms && i->end_ms <= now ? i->end_ms : c->end_ms);
    char dns[64];
    private_dns(i->ip, dns, sizeof(dns));
    json_t *j = json_object();
    json_object_set_new(j, "Id", json_string(i->id));
    json_object_set_new(j, "Ec2InstanceId", json_string(i->ec2_id));
    json_object_set_new(j, "PublicDnsName", json_string(""));
    json_object_set_new(j, "PrivateDnsName", json_string(dns));
    json_object_set_new(j, "PrivateIpAddress", json_string(i->ip));
    json_object_set_new(j, "Status", json_pack("{s:s, s:o, s:o}", "State", st, "StateChangeReason", reason,
                                                "Timeline", tl));
    json_object_set_new(j, c->fleets ? "InstanceFleetId" : "InstanceGroupId", json_string(c->colls[i->coll].id));
    json_object_set_new(j, "Market", json_string(i->spot ? "SPOT" : "ON_DEMAND"));
    json_object_set_new(j, "InstanceType", json_string(i->itype));
    json_t *vols = json_array();
    char vol[32];
    fr_sim_id_ec2(vol, sizeof(vol), "vol-", i->seed ^ 0x701);
    json_array_append_new(vols, json_pack("{s:s, s:s}", "Device", "/dev/sdb", "VolumeId", vol));
    json_object_set_new(j, "EbsVolumes", vols);
    return j;
}

json_t *fr_sim_emr_step_json(const fr_sim_step *s, bool summary)
{
    json_t *cfg = json_object();
    const char *jar = fr_sim_jstr(s->hadoop, "Jar");
    json_object_set_new(cfg, "Jar", json_string(jar ? jar : ""));
    json_t *props = json_object();
    json_t *rp = json_object_get(s->hadoop, "Properties");
    size_t i;
    json_t *kv;
    json_array_foreach(rp, i, kv)
    {
        const char *k = fr_sim_jstr(kv, "Key"), *v = fr_sim_jstr(kv, "Value");
        if (k)
            json_object_set_new(props, k, json_string(v ? v : ""));
    }
    json_object_set_new(cfg, "Properties", props);
    const char *mc = fr_sim_jstr(s->hadoop, "MainClass");
    if (mc)
        json_object_set_new(cfg, "MainClass", json_string(mc));
    json_t *args = json_object_get(s->hadoop, "Args");
    json_object_set_new(cfg, "Args", args ? json_deep_copy(args) : json_array());
    json_t *reason = json_object();
    if (s->state == FR_SIM_SS_CANCELLED)
        json_object_set_new(reason, "Message", json_string(s->reason));
    json_t *tl = json_object();
    fr_sim_jset_time(tl, "CreationDateTime", s->created_ms);
    if (s->start_ms)
        fr_sim_jset_time(tl, "StartDateTime", s->start_ms);
    if (s->end_ms)
        fr_sim_jset_time(tl, "EndDateTime", s->end_ms);
    json_t *st = json_pack("{s:s, s:o, s:o}", "State", fr_sim_sstate_name(s->state), "StateChangeReason", reason,
                           "Timeline", tl);
    if (s->state == FR_SIM_SS_FAILED)
        json_object_set_new(st, "FailureDetails",
                            json_pack("{s:s, s:s, s:s}", "Reason", "Unknown Error.", "Message",
                                      "Step failed with exitCode 1", "LogFile", "s3://aws-logs/steps/stderr.gz"));
    json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:o}", "Id", s->id, "Name", s->name, "Config", cfg,
                          "ActionOnFailure", s->action_on_failure, "Status", st);
    (void)summary;
    return j;
}
