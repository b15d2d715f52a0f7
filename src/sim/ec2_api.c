/* EC2 on the ec2 query/XML wire: DescribeInstances (EC2 instances and, read
 * only, the EMR nodes), DescribeInstanceTypes, DescribeSpotPriceHistory,
 * DescribeAvailabilityZones, RunInstances, TerminateInstances, CreateTags,
 * DescribeSpotInstanceRequests. Pure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"

/* ---- a uniform view of EC2 and EMR instances ---- */

typedef struct iview {
    const char *id, *resv, *itype, *subnet, *ip, *image, *key, *sir, *reason;
    int az;
    bool spot;
    int64_t launch_ms;
    const char *state;
    int code;
    json_t *tags; /* borrowed or owned (owned_tags) */
    bool owned_tags;
    const fr_sim_ec2_inst *ec2;
} iview;

static void view_ec2(const fr_sim_ec2_inst *i, int64_t now, iview *v)
{
    memset(v, 0, sizeof(*v));
    v->id = i->id;
    v->resv = i->resv;
    v->itype = i->itype;
    v->subnet = i->subnet;
    v->ip = i->ip;
    v->image = i->image;
    v->key = i->key_name;
    v->sir = i->spot ? i->sir : NULL;
    v->reason = i->reason;
    v->az = i->az;
    v->spot = i->spot;
    v->launch_ms = i->launch_ms;
    v->state = fr_sim_ec2_state(i, now, &v->code);
    v->tags = i->tags;
    v->ec2 = i;
}

static bool view_emr(const fr_sim_ec2 *e, const fr_sim_inst *mi, int64_t now, iview *v)
{
    int64_t launch, end;
    fr_sim_inst_life(mi, &launch, &end);
    if (launch < 0 || launch > now)
        return false;
    /* terminated instances stay visible for an hour, as in EC2 */
    if (end >= 0 && end + 3600000 < now)
        return false;
    memset(v, 0, sizeof(*v));
    v->id = mi->ec2_id;
    v->resv = mi->cluster->colls[mi->coll].id;
    v->itype = mi->itype;
    v->subnet = mi->subnet;
    v->ip = mi->ip;
    const fr_sim_itype *it = fr_sim_catalog_find(e->cat, mi->itype);
    v->image = it && it->arm64 ? FR_SIM_AMI_ARM64 : FR_SIM_AMI_X86;
    v->key = "emr-prod-key";
    v->az = fr_sim_spot_az_index(e->spot, mi->az);
    if (v->az < 0)
        v->az = 0;
    v->spot = mi->spot;
    v->launch_ms = launch;
    if (end >= 0 && end <= now) {
        v->state = end + FR_SIM_SHUTDOWN_MS <= now ? "terminated" : "shutting-down";
        v->code = end + FR_SIM_SHUTDOWN_MS <= now ? 48 : 32;
        v->reason = "User initiated";
    } else {
        v->state = "running";
        v->code = 16;
        v->reason = "";
    }
    v->tags = json_pack("{s:s, s:s, s:s}", "aws:elasticmapreduce:job-flow-id", mi->cluster->id,
                        "aws:elasticmapreduce:instance-group-role", fr_sim_role_name(mi->role), "Name",
                        mi->cluster->name);
    v->owned_tags = true;
    return true;
}

static void view_free(iview *v)
{
    if (v->owned_tags)
        json_decref(v->tags);
}

static void tag_set_xml(fr_buf *b, json_t *tags)
{
    fr_buf_puts(b, "<tagSet>");
    const char *k;
    json_t *val;
    json_object_foreach(tags, k, val)
    {
        fr_buf_puts(b, "<item>");
        fr_sim_xml_text(b, "key", k);
        fr_sim_xml_text(b, "value", json_string_value(val));
        fr_buf_puts(b, "</item>");
    }
    fr_buf_puts(b, "</tagSet>");
}

static void instance_xml(const fr_sim_ec2 *e, fr_buf *b, const iview *v, int index)
{
    const fr_sim_itype *it = fr_sim_catalog_find(e->cat, v->itype);
    char dns[64], dashed[16];
    fr_strlcpy(dashed, v->ip, sizeof(dashed));
    for (char *p = dashed; *p; p++)
        if (*p == '.')
            *p = '-';
    snprintf(dns, sizeof(dns), "ip-%s.ec2.internal", dashed);
    bool gone = v->code == 48;
    fr_buf_puts(b, "<item>");
    fr_sim_xml_text(b, "instanceId", v->id);
    fr_sim_xml_text(b, "imageId", v->image);
    fr_buf_printf(b, "<instanceState><code>%d</code><name>%s</name></instanceState>", v->code, v->state);
    fr_sim_xml_text(b, "privateDnsName", gone ? "" : dns);
    fr_sim_xml_text(b, "dnsName", "");
    fr_sim_xml_text(b, "reason", v->reason ? v->reason : "");
    fr_sim_xml_text(b, "keyName", v->key);
    fr_sim_xml_int(b, "amiLaunchIndex", index);
    fr_buf_puts(b, "<productCodes/>");
    fr_sim_xml_text(b, "instanceType", v->itype);
    fr_sim_xml_time(b, "launchTime", v->launch_ms);
    fr_buf_puts(b, "<placement>");
    fr_sim_xml_text(b, "availabilityZone", e->spot->azs[v->az]);
    fr_sim_xml_text(b, "availabilityZoneId", e->spot->az_ids[v->az]);
    fr_buf_puts(b, "<groupName/><tenancy>default</tenancy></placement>");
    fr_buf_puts(b, "<monitoring><state>enabled</state></monitoring>");
    if (!gone) {
        fr_sim_xml_text(b, "subnetId", v->subnet);
        fr_sim_xml_text(b, "vpcId", "vpc-0f5a1c2b3d4e5f607");
        fr_sim_xml_text(b, "privateIpAddress", v->ip);
    }
    fr_sim_xml_bool(b, "sourceDestCheck", true);
    fr_buf_puts(b, "<groupSet><item><groupId>sg-0a1b2c3d4e5f60718</groupId><groupName>default</groupName></item></groupSet>");
    if (v->code == 48 && v->reason && *v->reason)
        fr_buf_printf(b, "<stateReason><code>%s</code><message>%s</message></stateReason>",
                      strstr(v->reason, "Spot") ? "Server.SpotInstanceTermination" : "Client.UserInitiatedShutdown",
                      strstr(v->reason, "Spot") ? "Server.SpotInstanceTermination: Spot instance termination"
                                                : "Client.UserInitiatedShutdown: User initiated shutdown");
    fr_sim_xml_text(b, "architecture", it && it->arm64 ? "arm64" : "x86_64");
    fr_sim_xml_text(b, "rootDeviceType", "ebs");
    fr_sim_xml_text(b, "rootDeviceName", "/dev/xvda");
    fr_buf_puts(b, "<blockDeviceMapping/>");
    if (v->spot) {
        fr_sim_xml_text(b, "instanceLifecycle", "spot");
        if (v->sir)
            fr_sim_xml_text(b, "spotInstanceRequestId", v->sir);
    }
    fr_sim_xml_text(b, "virtualizationType", "hvm");
    fr_sim_xml_text(b, "clientToken", "");
    tag_set_xml(b, v->tags);
    fr_sim_xml_text(b, "hypervisor", "xen");
    fr_buf_puts(b, "<networkInterfaceSet/>");
    fr_sim_xml_bool(b, "ebsOptimized", true);
    fr_sim_xml_bool(b, "enaSupport", true);
    int vcpu = it ? it->vcpu : 2;
    int tpc = it && it->arm64 ? 1 : 2;
    fr_buf_printf(b, "<cpuOptions><coreCount>%d</coreCount><threadsPerCore>%d</threadsPerCore></cpuOptions>",
                  vcpu / tpc > 0 ? vcpu / tpc : 1, tpc);
    fr_buf_puts(b, "<metadataOptions><state>applied</state><httpTokens>required</httpTokens>"
                   "<httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint>"
                   "</metadataOptions>");
    fr_buf_puts(b, "</item>");
}

static void reservation_open(const fr_sim_ec2 *e, fr_buf *b, const char *resv)
{
    fr_buf_puts(b, "<item>");
    fr_sim_xml_text(b, "reservationId", resv);
    fr_sim_xml_text(b, "ownerId", e->account);
    fr_buf_puts(b, "<groupSet/><instancesSet>");
}

/* ---- filters ---- */

static bool wildcard(const char *pat, const char *s)
{
    if (!*pat)
        return !*s;
    if (*pat == '*')
        return wildcard(pat + 1, s) || (*s && wildcard(pat, s + 1));
    if (*s && (*pat == '?' || *pat == *s))
        return wildcard(pat + 1, s + 1);
    return false;
}

static bool any_value(json_t *vals, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) if (json_is_string(v) && s && wildcard(json_string_value(v), s)) return true;
    return false;
}

static json_t *filters(const fr_sim_call *c)
{
    json_t *f = fr_sim_jlist(c->in, "Filter");
    size_t i;
    json_t *x;
    json_array_foreach(f, i, x) fr_sim_jlist(x, "Value");
    return f;
}

static bool view_matches(const fr_sim_ec2 *e, const iview *v, json_t *flt, json_t *ids)
{
    if (json_array_size(ids) && !any_value(ids, v->id))
        return false;
    size_t i;
    json_t *f;
    json_array_foreach(flt, i, f)
    {
        const char *name = fr_sim_jstr(f, "Name");
        json_t *vals = json_object_get(f, "Value");
        if (!name)
            continue;
        char code[8];
        snprintf(code, sizeof(code), "%d", v->code);
        bool ok;
        if (strcmp(name, "instance-id") == 0)
            ok = any_value(vals, v->id);
        else if (strcmp(name, "instance-state-name") == 0)
            ok = any_value(vals, v->state);
        else if (strcmp(name, "instance-state-code") == 0)
            ok = any_value(vals, code);
        else if (strcmp(name, "instance-type") == 0)
            ok = any_value(vals, v->itype);
        else if (strcmp(name, "availability-zone") == 0)
            ok = any_value(vals, e->spot->azs[v->az]);
        else if (strcmp(name, "instance-lifecycle") == 0)
            ok = v->spot && any_value(vals, "spot");
        else if (strcmp(name, "private-ip-address") == 0)
            ok = any_value(vals, v->ip);
        else if (strcmp(name, "tag-key") == 0) {
            ok = false;
            const char *k;
            json_t *tv;
            json_object_foreach(v->tags, k, tv) ok = ok || any_value(vals, k);
        } else if (fr_str_startswith(name, "tag:")) {
            ok = any_value(vals, fr_sim_jstr(v->tags, name + 4));
        } else {
            ok = true; /* filters the sim does not model match everything */
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---- operations ---- */

static bool dry_run(const fr_sim_call *c, fr_sim_resp *r)
{
    bool dr = false;
    fr_sim_jbool(c->in, "DryRun", &dr);
    if (dr)
        fr_sim_error(c, r, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    return dr;
}

static int page_args(const fr_sim_call *c, fr_sim_resp *r, int64_t lo, int64_t hi, int64_t def, int64_t *max,
                     size_t *start)
{
    *max = def;
    *start = 0;
    if (json_object_get(c->in, "MaxResults") &&
        (fr_sim_jint(c->in, "MaxResults", max) != 0 || *max < lo || *max > hi)) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. "
                     "Expecting a value between %lld and %lld.", fr_sim_jstr(c->in, "MaxResults") ? fr_sim_jstr(c->in, "MaxResults") : "?",
                     (long long)lo, (long long)hi);
        return FR_EPARSE;
    }
    const char *tok = fr_sim_jstr(c->in, "NextToken");
    if (tok) {
        uint64_t v;
        if (!fr_str_startswith(tok, "frsim") || fr_parse_u64(tok + 5, &v) != 0) {
            fr_sim_error(c, r, 400, "InvalidNextToken", "The specified token is invalid.");
            return FR_EPARSE;
        }
        *start = (size_t)v;
    }
    return 0;
}

static void next_token(fr_buf *b, size_t next)
{
    fr_buf_printf(b, "<nextToken>frsim%zu</nextToken>", next);
}

static void op_describe_instances(fr_sim_ec2 *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    if (dry_run(c, r))
        return;
    json_t *ids = fr_sim_jlist(c->in, "InstanceId");
    json_t *flt = filters(c);
    int64_t max;
    size_t start;
    if (page_args(c, r, 5, 1000, 1000, &max, &start))
        return;
    if (json_array_size(ids) && json_object_get(c->in, "MaxResults")) {
        fr_sim_error(c, r, 400, "InvalidParameterCombination",
                     "The parameter instancesSet cannot be used with the parameter maxResults");
        return;
    }
    /* unknown ids are an error, as in EC2 */
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        const char *s = json_string_value(id);
        if (!s || !fr_str_startswith(s, "i-")) {
            fr_sim_error(c, r, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", s ? s : "");
            return;
        }
        if (!fr_sim_ec2_find(e, s) && !fr_sim_emr_find_instance(e->emr, s)) {
            fr_sim_error(c, r, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", s);
            return;
        }
    }
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, "<reservationSet>");
    size_t matched = 0, emitted = 0;
    bool more = false;
    for (size_t k = 0; k < e->n && !more; k++) {
        iview v;
        if (e->insts[k]->launch_ms > now)
            continue;
        view_ec2(e->insts[k], now, &v);
        if (v.code == 48 && e->insts[k]->terminate_ms + FR_SIM_SHUTDOWN_MS + 3600000 < now && !json_array_size(ids))
            continue;
        if (!view_matches(e, &v, flt, ids))
            continue;
        if (matched++ < start)
            continue;
        if ((int64_t)emitted == max) {
            more = true;
            break;
        }
        reservation_open(e, &b, v.resv);
        instance_xml(e, &b, &v, 0);
        fr_buf_puts(&b, "</instancesSet></item>");
        emitted++;
    }
    for (size_t k = 0; k < e->emr->n && !more; k++) {
        fr_sim_cluster *cl = e->emr->clusters[k];
        if (cl->created_ms > now)
            continue;
        fr_sim_emr_advance(e->emr, cl, now);
        for (size_t x = 0; x < cl->ninsts && !more; x++) {
            iview v;
            if (!view_emr(e, &cl->insts[x], now, &v))
                continue;
            bool ok = view_matches(e, &v, flt, ids);
            if (ok && matched++ >= start) {
                if ((int64_t)emitted == max) {
                    more = true;
                } else {
                    reservation_open(e, &b, v.resv);
                    instance_xml(e, &b, &v, (int)x);
                    fr_buf_puts(&b, "</instancesSet></item>");
                    emitted++;
                }
            }
            view_free(&v);
        }
    }
    fr_buf_puts(&b, "</reservationSet>");
    if (more)
        next_token(&b, start + emitted);
    fr_sim_ok_ec2(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

static void op_describe_instance_types(fr_sim_ec2 *e, const fr_sim_call *c, fr_sim_resp *r)
{
    if (dry_run(c, r))
        return;
    json_t *types = fr_sim_jlist(c->in, "InstanceType");
    json_t *flt = filters(c);
    int64_t max;
    size_t start;
    if (page_args(c, r, 5, 100, 100, &max, &start))
        return;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) if (!fr_sim_catalog_find(e->cat, json_string_value(t)))
    {
        fr_sim_error(c, r, 400, "InvalidInstanceType", "The following supplied instance types do not exist: [%s]",
                     json_string_value(t) ? json_string_value(t) : "");
        return;
    }
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, "<instanceTypeSet>");
    size_t matched = 0, emitted = 0;
    bool more = false;
    for (size_t k = 0; k < e->cat->n; k++) {
        const fr_sim_itype *it = &e->cat->types[k];
        if (json_array_size(types) && !any_value(types, it->name))
            continue;
        bool ok = true;
        json_t *f;
        char vcpu[16];
        snprintf(vcpu, sizeof(vcpu), "%d", it->vcpu);
        json_array_foreach(flt, i, f)
        {
            const char *name = fr_sim_jstr(f, "Name");
            json_t *vals = json_object_get(f, "Value");
            if (!name)
                continue;
            if (strcmp(name, "instance-type") == 0)
                ok = ok && any_value(vals, it->name);
            else if (strcmp(name, "processor-info.supported-architecture") == 0)
                ok = ok && any_value(vals, it->arm64 ? "arm64" : "x86_64");
            else if (strcmp(name, "vcpu-info.default-vcpus") == 0)
                ok = ok && any_value(vals, vcpu);
            else if (strcmp(name, "current-generation") == 0)
                ok = ok && any_value(vals, "true");
        }
        if (!ok)
            continue;
        if (matched++ < start)
            continue;
        if ((int64_t)emitted == max) {
            more = true;
            break;
        }
        emitted++;
        int tpc = it->arm64 ? 1 : 2;
        int cores = it->vcpu / tpc > 0 ? it->vcpu / tpc : 1;
        fr_buf_puts(&b, "<item>");
        fr_sim_xml_text(&b, "instanceType", it->name);
        fr_sim_xml_bool(&b, "currentGeneration", true);
        fr_sim_xml_bool(&b, "freeTierEligible", false);
        fr_buf_puts(&b, "<supportedUsageClasses><item>on-demand</item><item>spot</item></supportedUsageClasses>"
                        "<supportedRootDeviceTypes><item>ebs</item></supportedRootDeviceTypes>"
                        "<supportedVirtualizationTypes><item>hvm</item></supportedVirtualizationTypes>");
        fr_sim_xml_bool(&b, "bareMetal", strstr(it->name, "metal") != NULL);
        fr_sim_xml_text(&b, "hypervisor", "nitro");
        fr_buf_printf(&b, "<processorInfo><supportedArchitectures><item>%s</item></supportedArchitectures>"
                          "<sustainedClockSpeedInGhz>%s</sustainedClockSpeedInGhz></processorInfo>",
                      it->arm64 ? "arm64" : "x86_64", it->arm64 ? "2.6" : "3.1");
        fr_buf_printf(&b, "<vCpuInfo><defaultVCpus>%d</defaultVCpus><defaultCores>%d</defaultCores>"
                          "<defaultThreadsPerCore>%d</defaultThreadsPerCore></vCpuInfo>",
                      it->vcpu, cores, tpc);
        fr_buf_printf(&b, "<memoryInfo><sizeInMiB>%lld</sizeInMiB></memoryInfo>", (long long)llround(it->mem_gib * 1024));
        fr_sim_xml_bool(&b, "instanceStorageSupported", false);
        fr_buf_puts(&b, "<ebsInfo><ebsOptimizedSupport>default</ebsOptimizedSupport><encryptionSupport>supported"
                        "</encryptionSupport><nvmeSupport>required</nvmeSupport></ebsInfo>");
        fr_buf_printf(&b, "<networkInfo><networkPerformance>%s</networkPerformance><maximumNetworkInterfaces>%d"
                          "</maximumNetworkInterfaces><ipv4AddressesPerInterface>15</ipv4AddressesPerInterface>"
                          "<ipv6AddressesPerInterface>15</ipv6AddressesPerInterface><ipv6Supported>true"
                          "</ipv6Supported><enaSupport>required</enaSupport><efaSupported>false</efaSupported>"
                          "</networkInfo>",
                      it->vcpu >= 32 ? "12 Gigabit" : "Up to 12.5 Gigabit", it->vcpu >= 16 ? 8 : 4);
        fr_buf_puts(&b, "<placementGroupInfo><supportedStrategies><item>cluster</item><item>partition</item>"
                        "<item>spread</item></supportedStrategies></placementGroupInfo>");
        fr_sim_xml_bool(&b, "hibernationSupported", false);
        fr_sim_xml_bool(&b, "burstablePerformanceSupported", it->name[0] == 't');
        fr_sim_xml_bool(&b, "dedicatedHostsSupported", true);
        fr_sim_xml_bool(&b, "autoRecoverySupported", true);
        fr_buf_puts(&b, "<supportedBootModes><item>uefi</item></supportedBootModes>");
        fr_buf_puts(&b, "</item>");
    }
    fr_buf_puts(&b, "</instanceTypeSet>");
    if (more)
        next_token(&b, start + emitted);
    fr_sim_ok_ec2(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

typedef struct spot_sort {
    fr_sim_price_rec *recs;
} spot_sort;

static int cmp_price_desc(const void *a, const void *b)
{
    const fr_sim_price_rec *x = a, *y = b;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms > y->ts_ms ? -1 : 1;
    int c = strcmp(x->type, y->type);
    if (c)
        return c;
    if (x->az != y->az)
        return x->az - y->az;
    return strcmp(x->product, y->product);
}

static void op_spot_history(fr_sim_ec2 *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    if (dry_run(c, r))
        return;
    int64_t max;
    size_t start;
    if (page_args(c, r, 5, 1000, 1000, &max, &start))
        return;
    json_t *types = fr_sim_jlist(c->in, "InstanceType");
    json_t *prods = fr_sim_jlist(c->in, "ProductDescription");
    json_t *flt = filters(c);
    const char *azname = fr_sim_jstr(c->in, "AvailabilityZone");
    int64_t t0 = now, t1 = now;
    bool has_start = json_object_get(c->in, "StartTime") != NULL, has_end = json_object_get(c->in, "EndTime") != NULL;
    if ((has_start && fr_sim_jtime(c->in, "StartTime", &t0) != 0) ||
        (has_end && fr_sim_jtime(c->in, "EndTime", &t1) != 0)) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "Invalid StartTime or EndTime");
        return;
    }
    if (!has_end || t1 > now)
        t1 = now;
    if (!has_start)
        t0 = t1;
    if (t0 > t1) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "The start time must be before the end time.");
        return;
    }
    /* filter values join the list parameters */
    json_t *ftypes = json_array(), *fprods = json_array(), *fazs = json_array();
    if (types)
        json_array_extend(ftypes, types);
    if (prods)
        json_array_extend(fprods, prods);
    if (azname)
        json_array_append_new(fazs, json_string(azname));
    size_t i;
    json_t *f;
    json_array_foreach(flt, i, f)
    {
        const char *name = fr_sim_jstr(f, "Name");
        json_t *vals = json_object_get(f, "Value");
        if (!name)
            continue;
        if (strcmp(name, "instance-type") == 0)
            json_array_extend(ftypes, vals);
        else if (strcmp(name, "product-description") == 0)
            json_array_extend(fprods, vals);
        else if (strcmp(name, "availability-zone") == 0)
            json_array_extend(fazs, vals);
    }
    fr_sim_price_rec *recs = NULL;
    size_t n = 0, cap = 0;
    for (size_t k = 0; k < e->cat->n; k++) {
        const fr_sim_itype *it = &e->cat->types[k];
        if (json_array_size(ftypes) && !any_value(ftypes, it->name))
            continue;
        if (!json_array_size(ftypes) && !it->emr && it->spot_savings == 0)
            continue; /* keep an unfiltered answer to types with spot data */
        for (int az = 0; az < e->spot->naz; az++) {
            if (json_array_size(fazs) && !any_value(fazs, e->spot->azs[az]))
                continue;
            for (size_t p = 0; p < fr_sim_spot_nproducts; p++) {
                const char *prod = fr_sim_spot_products[p];
                if (json_array_size(fprods) ? !any_value(fprods, prod) && !(strcmp(prod, "Linux/UNIX") == 0 && any_value(fprods, "Linux/UNIX (Amazon VPC)"))
                                            : p != 0 && json_array_size(ftypes) == 0)
                    continue;
                if (fr_sim_spot_history(e->spot, it->name, az, prod, t0, t1, &recs, &n, &cap) < 0) {
                    free(recs);
                    json_decref(ftypes);
                    json_decref(fprods);
                    json_decref(fazs);
                    fr_sim_internal_error(c, r, NULL);
                    return;
                }
            }
        }
    }
    json_decref(ftypes);
    json_decref(fprods);
    json_decref(fazs);
    qsort(recs, n, sizeof(*recs), cmp_price_desc);
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, "<spotPriceHistorySet>");
    size_t k;
    for (k = start; k < n && (int64_t)(k - start) < max; k++) {
        fr_buf_puts(&b, "<item>");
        fr_sim_xml_text(&b, "instanceType", recs[k].type);
        fr_sim_xml_text(&b, "productDescription", recs[k].product);
        fr_buf_printf(&b, "<spotPrice>%.6f</spotPrice>", recs[k].price);
        fr_sim_xml_time(&b, "timestamp", recs[k].ts_ms);
        fr_sim_xml_text(&b, "availabilityZone", e->spot->azs[recs[k].az]);
        fr_sim_xml_text(&b, "availabilityZoneId", e->spot->az_ids[recs[k].az]);
        fr_buf_puts(&b, "</item>");
    }
    fr_buf_puts(&b, "</spotPriceHistorySet>");
    if (k < n)
        next_token(&b, k);
    else
        fr_buf_puts(&b, "<nextToken/>");
    free(recs);
    fr_sim_ok_ec2(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

static void op_describe_azs(fr_sim_ec2 *e, const fr_sim_call *c, fr_sim_resp *r)
{
    if (dry_run(c, r))
        return;
    json_t *names = fr_sim_jlist(c->in, "ZoneName");
    json_t *ids = fr_sim_jlist(c->in, "ZoneId");
    json_t *flt = filters(c);
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, "<availabilityZoneInfo>");
    for (int az = 0; az < e->spot->naz; az++) {
        if (json_array_size(names) && !any_value(names, e->spot->azs[az]))
            continue;
        if (json_array_size(ids) && !any_value(ids, e->spot->az_ids[az]))
            continue;
        bool ok = true;
        size_t i;
        json_t *f;
        json_array_foreach(flt, i, f)
        {
            const char *n = fr_sim_jstr(f, "Name");
            json_t *vals = json_object_get(f, "Value");
            if (n && strcmp(n, "zone-name") == 0)
                ok = ok && any_value(vals, e->spot->azs[az]);
            else if (n && strcmp(n, "zone-id") == 0)
                ok = ok && any_value(vals, e->spot->az_ids[az]);
            else if (n && strcmp(n, "state") == 0)
                ok = ok && any_value(vals, "available");
        }
        if (!ok)
            continue;
        fr_buf_puts(&b, "<item>");
        fr_sim_xml_text(&b, "zoneName", e->spot->azs[az]);
        fr_sim_xml_text(&b, "zoneState", "available");
        fr_sim_xml_text(&b, "regionName", e->region);
        fr_buf_puts(&b, "<messageSet/>");
        fr_sim_xml_text(&b, "zoneId", e->spot->az_ids[az]);
        fr_sim_xml_text(&b, "optInStatus", "opt-in-not-required");
        fr_sim_xml_text(&b, "groupName", e->region);
        fr_sim_xml_text(&b, "networkBorderGroup", e->region);
        fr_sim_xml_text(&b, "zoneType", "availability-zone");
        fr_buf_puts(&b, "</item>");
    }
    fr_buf_puts(&b, "</availabilityZoneInfo>");
    fr_sim_ok_ec2(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

static fr_sim_ec2_inst *predecessor(const fr_sim_ec2 *e, const char *name)
{
    fr_sim_ec2_inst *best = NULL;
    for (size_t k = 0; name && k < e->n; k++) {
        const char *n = fr_sim_jstr(e->insts[k]->tags, "Name");
        if (n && strcmp(n, name) == 0 && (!best || e->insts[k]->launch_ms > best->launch_ms))
            best = e->insts[k];
    }
    return best;
}

static void op_run_instances(fr_sim_ec2 *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    const char *image = fr_sim_jstr(c->in, "ImageId");
    const char *type = fr_sim_jstr(c->in, "InstanceType");
    int64_t minc = 1, maxc = 1;
    if (!image && !json_object_get(c->in, "LaunchTemplate")) {
        fr_sim_error(c, r, 400, "MissingParameter", "The request must contain the parameter ImageId");
        return;
    }
    if (!type)
        type = "m5.large";
    const fr_sim_itype *it = fr_sim_catalog_find(e->cat, type);
    if (!it) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", type);
        return;
    }
    if (fr_sim_jint(c->in, "MinCount", &minc) != 0 || fr_sim_jint(c->in, "MaxCount", &maxc) != 0 || minc < 1 ||
        maxc < minc || maxc > 100) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "MinCount and MaxCount must be 1..100 with MinCount <= MaxCount");
        return;
    }
    json_t *mo = json_object_get(c->in, "InstanceMarketOptions");
    const char *market = fr_sim_jstr(mo, "MarketType");
    bool spot = market && strcmp(market, "spot") == 0;
    json_t *so = json_object_get(mo, "SpotOptions");
    int az = -1;
    json_t *pl = json_object_get(c->in, "Placement");
    const char *azname = fr_sim_jstr(pl, "AvailabilityZone");
    const char *subnet = fr_sim_jstr(c->in, "SubnetId");
    if (azname && (az = fr_sim_spot_az_index(e->spot, azname)) < 0) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "Invalid availability zone: [%s]", azname);
        return;
    }
    if (az < 0 && subnet) {
        for (int k = 0; k < e->spot->naz && az < 0; k++) {
            char sn[40];
            fr_sim_ec2_subnet_for_az(e, k, sn, sizeof(sn));
            if (strcmp(sn, subnet) == 0)
                az = k;
        }
        if (az < 0)
            az = (int)(fr_sim_hash_str(0x5b, subnet) % (uint64_t)e->spot->naz);
    }
    if (az < 0) {
        /* EC2 picks an AZ with capacity */
        for (int k = 0; k < e->spot->naz && az < 0; k++)
            if (!fr_sim_ec2_no_capacity(e, type, k, spot))
                az = k;
        if (az < 0)
            az = 0;
    }
    if (fr_sim_ec2_no_capacity(e, type, az, spot)) {
        fr_sim_error(c, r, 500, "InsufficientInstanceCapacity",
                     "We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). "
                     "Our system will be working on provisioning additional capacity. You can currently get %s "
                     "capacity by not specifying an Availability Zone in your request or choosing a different one.",
                     type, e->spot->azs[az], type);
        return;
    }
    double price = fr_sim_spot_price_at(e->spot, type, az, "Linux/UNIX", now, NULL);
    const char *maxp = fr_sim_jstr(so, "MaxPrice");
    double mp;
    if (spot && maxp && fr_parse_double(maxp, &mp) == 0 && price > mp) {
        fr_sim_error(c, r, 400, "SpotMaxPriceTooLow",
                     "Your Spot request price of %s is lower than the minimum required Spot request fulfillment "
                     "price of %.4f.", maxp, price);
        return;
    }
    if (dry_run(c, r))
        return;
    json_t *tags = json_object();
    size_t i;
    json_t *ts;
    json_array_foreach(fr_sim_jlist(c->in, "TagSpecification"), i, ts)
    {
        const char *rt = fr_sim_jstr(ts, "ResourceType");
        if (rt && strcmp(rt, "instance") != 0 && strcmp(rt, "spot-instances-request") != 0)
            continue;
        size_t k;
        json_t *t;
        json_array_foreach(fr_sim_jlist(ts, "Tag"), k, t)
        {
            const char *tk = fr_sim_jstr(t, "Key"), *tv = fr_sim_jstr(t, "Value");
            if (tk)
                json_object_set_new(tags, tk, json_string(tv ? tv : ""));
        }
    }
    /* a replacement (same Name) carries the same work: its load scales
     * with the capacity it now has */
    const fr_sim_ec2_inst *pred = predecessor(e, fr_sim_jstr(tags, "Name"));
    char resv[24];
    fr_sim_id_ec2(resv, sizeof(resv), "r-", fr_sim_hash3(e->seed, 0x2e5, ++e->counter));
    fr_buf b = FR_BUF_INIT;
    fr_sim_xml_text(&b, "reservationId", resv);
    fr_sim_xml_text(&b, "ownerId", e->account);
    fr_buf_puts(&b, "<groupSet/><instancesSet>");
    for (int64_t k = 0; k < maxc; k++) {
        fr_sim_ec2_inst *in = fr_sim_ec2_new_inst(e);
        if (!in)
            break;
        uint64_t h = fr_sim_hash3(e->seed, 0x1a, ++e->counter);
        fr_sim_id_ec2(in->id, sizeof(in->id), "i-", h);
        fr_strlcpy(in->resv, resv, sizeof(in->resv));
        fr_strlcpy(in->itype, type, sizeof(in->itype));
        in->az = az;
        if (subnet)
            fr_strlcpy(in->subnet, subnet, sizeof(in->subnet));
        else
            fr_sim_ec2_subnet_for_az(e, az, in->subnet, sizeof(in->subnet));
        fr_sim_ec2_make_ip(in->ip, sizeof(in->ip), h);
        fr_strlcpy(in->image, image ? image : "ami-0f1e2d3c4b5a69788", sizeof(in->image));
        const char *kn = fr_sim_jstr(c->in, "KeyName");
        fr_strlcpy(in->key_name, kn ? kn : "", sizeof(in->key_name));
        in->spot = spot;
        if (spot) {
            fr_sim_id_ec2(in->sir, sizeof(in->sir), "sir-", h ^ 0x51);
            snprintf(in->max_price, sizeof(in->max_price), "%s", maxp ? maxp : "");
            if (!maxp)
                snprintf(in->max_price, sizeof(in->max_price), "%.6f", it->od_price);
        }
        in->launch_ms = now;
        json_object_update(in->tags, tags);
        in->seed = fr_sim_hash_str(e->seed, in->id);
        if (pred) {
            in->prof = pred->prof;
            const fr_sim_itype *pt = fr_sim_catalog_find(e->cat, pred->itype);
            if (pt) {
                in->prof.cpu = fmin(98, pred->prof.cpu * pt->vcpu / it->vcpu);
                in->prof.mem = fmin(98, pred->prof.mem * pt->mem_gib / it->mem_gib);
            }
        } else {
            in->prof.shape = FR_SIM_SHAPE_DIURNAL;
            in->prof.cpu = 40;
            in->prof.mem = 45;
            in->prof.cpu_amp = 5;
            in->prof.mem_amp = 3;
            fr_strlcpy(in->prof.klass, "right_sized", sizeof(in->prof.klass));
        }
        fr_sim_map_put(&e->by_id, in->id, in);
        iview v;
        view_ec2(in, now, &v);
        instance_xml(e, &b, &v, (int)k);
        fr_sim_ec2_state_event(e, in->id, "pending", now);
    }
    fr_buf_puts(&b, "</instancesSet>");
    json_decref(tags);
    fr_sim_ok_ec2(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

static void op_terminate(fr_sim_ec2 *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    json_t *ids = fr_sim_jlist(c->in, "InstanceId");
    if (!json_array_size(ids)) {
        fr_sim_error(c, r, 400, "MissingParameter", "The request must contain the parameter InstanceId");
        return;
    }
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        const char *s = json_string_value(id);
        if (!s || (!fr_sim_ec2_find(e, s) && !fr_sim_emr_find_instance(e->emr, s))) {
            fr_sim_error(c, r, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", s ? s : "");
            return;
        }
    }
    if (dry_run(c, r))
        return;
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, "<instancesSet>");
    json_array_foreach(ids, i, id)
    {
        const char *s = json_string_value(id);
        fr_sim_ec2_inst *in = fr_sim_ec2_find(e, s);
        int prev = 16, cur = 32;
        const char *pn = "running", *cn = "shutting-down";
        if (in) {
            pn = fr_sim_ec2_state(in, now, &prev);
            if (!in->terminate_ms || in->terminate_ms > now) {
                in->terminate_ms = now;
                snprintf(in->reason, sizeof(in->reason), "User initiated (%s)", "TerminateInstances");
            }
            cn = fr_sim_ec2_state(in, now, &cur);
        } else {
            fr_sim_emr_end_instance(fr_sim_emr_find_instance(e->emr, s), now, "INSTANCE_FAILURE");
        }
        fr_buf_puts(&b, "<item>");
        fr_sim_xml_text(&b, "instanceId", s);
        fr_buf_printf(&b, "<currentState><code>%d</code><name>%s</name></currentState>", cur, cn);
        fr_buf_printf(&b, "<previousState><code>%d</code><name>%s</name></previousState>", prev, pn);
        fr_buf_puts(&b, "</item>");
    }
    fr_buf_puts(&b, "</instancesSet>");
    fr_sim_ok_ec2(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

static void op_create_tags(fr_sim_ec2 *e, const fr_sim_call *c, fr_sim_resp *r)
{
    json_t *res = fr_sim_jlist(c->in, "ResourceId");
    json_t *tags = fr_sim_jlist(c->in, "Tag");
    if (!json_array_size(res) || !json_array_size(tags)) {
        fr_sim_error(c, r, 400, "MissingParameter", "The request must contain the parameters ResourceId and Tag");
        return;
    }
    size_t i;
    json_t *id;
    json_array_foreach(res, i, id)
    {
        const char *s = json_string_value(id);
        if (s && fr_str_startswith(s, "i-") && !fr_sim_ec2_find(e, s) && !fr_sim_emr_find_instance(e->emr, s)) {
            fr_sim_error(c, r, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", s);
            return;
        }
    }
    if (dry_run(c, r))
        return;
    json_array_foreach(res, i, id)
    {
        fr_sim_ec2_inst *in = fr_sim_ec2_find(e, json_string_value(id));
        if (!in)
            continue;
        size_t k;
        json_t *t;
        json_array_foreach(tags, k, t)
        {
            const char *tk = fr_sim_jstr(t, "Key"), *tv = fr_sim_jstr(t, "Value");
            if (tk)
                json_object_set_new(in->tags, tk, json_string(tv ? tv : ""));
        }
    }
    fr_sim_ok_ec2(c, r, "<return>true</return>");
}

static void op_spot_requests(fr_sim_ec2 *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    if (dry_run(c, r))
        return;
    json_t *ids = fr_sim_jlist(c->in, "SpotInstanceRequestId");
    json_t *flt = filters(c);
    int64_t max;
    size_t start;
    if (page_args(c, r, 5, 1000, 1000, &max, &start))
        return;
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, "<spotInstanceRequestSet>");
    size_t matched = 0, emitted = 0;
    bool more = false;
    for (size_t k = 0; k < e->n; k++) {
        const fr_sim_ec2_inst *in = e->insts[k];
        if (!in->spot || in->launch_ms > now)
            continue;
        if (json_array_size(ids) && !any_value(ids, in->sir))
            continue;
        bool interrupted = in->notice_ms && in->action_ms <= now;
        bool closed = in->terminate_ms && in->terminate_ms <= now;
        const char *state = closed ? "closed" : "active";
        const char *code = interrupted ? "instance-terminated-no-capacity"
                         : closed      ? "instance-terminated-by-user"
                         : in->notice_ms ? "marked-for-termination"
                                         : "fulfilled";
        bool ok = true;
        size_t i;
        json_t *f;
        json_array_foreach(flt, i, f)
        {
            const char *n = fr_sim_jstr(f, "Name");
            json_t *vals = json_object_get(f, "Value");
            if (!n)
                continue;
            if (strcmp(n, "state") == 0)
                ok = ok && any_value(vals, state);
            else if (strcmp(n, "instance-id") == 0)
                ok = ok && any_value(vals, in->id);
            else if (strcmp(n, "spot-instance-request-id") == 0)
                ok = ok && any_value(vals, in->sir);
            else if (strcmp(n, "status-code") == 0)
                ok = ok && any_value(vals, code);
        }
        if (!ok || matched++ < start)
            continue;
        if ((int64_t)emitted == max) {
            more = true;
            break;
        }
        emitted++;
        fr_buf_puts(&b, "<item>");
        fr_sim_xml_text(&b, "spotInstanceRequestId", in->sir);
        fr_sim_xml_text(&b, "spotPrice", in->max_price);
        fr_sim_xml_text(&b, "type", "one-time");
        fr_sim_xml_text(&b, "state", state);
        fr_buf_puts(&b, "<status>");
        fr_sim_xml_text(&b, "code", code);
        fr_sim_xml_time(&b, "updateTime", closed ? in->terminate_ms : in->notice_ms ? in->notice_ms : in->launch_ms);
        fr_sim_xml_text(&b, "message", interrupted ? "Your Spot instance was terminated because there is no Spot capacity available that matches your request."
                                    : closed ? "Spot Instance terminated due to user-initiated termination."
                                    : in->notice_ms ? "Your Spot Instance has been marked for termination because there is no capacity available."
                                                    : "Your spot request is fulfilled.");
        fr_buf_puts(&b, "</status>");
        fr_buf_puts(&b, "<launchSpecification>");
        fr_sim_xml_text(&b, "imageId", in->image);
        fr_sim_xml_text(&b, "instanceType", in->itype);
        fr_buf_printf(&b, "<placement><availabilityZone>%s</availabilityZone></placement>", e->spot->azs[in->az]);
        fr_sim_xml_text(&b, "subnetId", in->subnet);
        fr_buf_puts(&b, "</launchSpecification>");
        fr_sim_xml_text(&b, "instanceId", in->id);
        fr_sim_xml_time(&b, "createTime", in->launch_ms);
        fr_sim_xml_text(&b, "productDescription", "Linux/UNIX");
        fr_sim_xml_text(&b, "launchedAvailabilityZone", e->spot->azs[in->az]);
        fr_sim_xml_text(&b, "instanceInterruptionBehavior", "terminate");
        tag_set_xml(&b, in->tags);
        fr_buf_puts(&b, "</item>");
    }
    fr_buf_puts(&b, "</spotInstanceRequestSet>");
    if (more)
        next_token(&b, start + emitted);
    fr_sim_ok_ec2(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

void fr_sim_ec2_call(fr_sim_ec2 *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    const char *op = c->op;
    fr_sim_ec2_tick(e, now);
    if (strcmp(op, "DescribeInstances") == 0)
        op_describe_instances(e, c, now, r);
    else if (strcmp(op, "DescribeInstanceTypes") == 0)
        op_describe_instance_types(e, c, r);
    else if (strcmp(op, "DescribeSpotPriceHistory") == 0)
        op_spot_history(e, c, now, r);
    else if (strcmp(op, "DescribeAvailabilityZones") == 0)
        op_describe_azs(e, c, r);
    else if (strcmp(op, "RunInstances") == 0)
        op_run_instances(e, c, now, r);
    else if (strcmp(op, "TerminateInstances") == 0)
        op_terminate(e, c, now, r);
    else if (strcmp(op, "CreateTags") == 0)
        op_create_tags(e, c, r);
    else if (strcmp(op, "DescribeSpotInstanceRequests") == 0)
        op_spot_requests(e, c, now, r);
    else
        fr_sim_error(c, r, 400, "InvalidAction", "The action %s is not valid for this web service.", op);
}
