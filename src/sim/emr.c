#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emr.h"
#include "frugal/err.h"
#include "frugal/str.h"

static const char *role_names[FR_SIM_NROLES] = {"MASTER", "CORE", "TASK"};
static const char *cstate_names[] = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING",
                                     "TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"};
static const char *sstate_names[] = {"PENDING", "RUNNING", "COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"};

const char *fr_sim_role_name(int role)
{
    return role >= 0 && role < FR_SIM_NROLES ? role_names[role] : "CORE";
}

int fr_sim_role_parse(const char *s)
{
    for (int i = 0; s && i < FR_SIM_NROLES; i++)
        if (strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}

const char *fr_sim_cstate_name(int s)
{
    return s >= 0 && s < (int)FR_ARRAY_SIZE(cstate_names) ? cstate_names[s] : "STARTING";
}

int fr_sim_cstate_parse(const char *s)
{
    for (size_t i = 0; s && i < FR_ARRAY_SIZE(cstate_names); i++)
        if (strcmp(s, cstate_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *fr_sim_sstate_name(int s)
{
    return s >= 0 && s < (int)FR_ARRAY_SIZE(sstate_names) ? sstate_names[s] : "PENDING";
}

void fr_sim_emr_init(fr_sim_emr *e, const fr_sim_catalog *cat, uint64_t seed, const char *region,
                     const char *account, int64_t t0_ms)
{
    memset(e, 0, sizeof(*e));
    e->cat = cat;
    e->seed = seed;
    e->t0_ms = t0_ms;
    fr_strlcpy(e->region, region, sizeof(e->region));
    fr_strlcpy(e->account, account, sizeof(e->account));
    fr_sim_map_init(&e->by_id);
    fr_sim_map_init(&e->by_ec2);
    fr_sim_map_init(&e->work_registry);
}

static void cluster_free(fr_sim_cluster *c)
{
    if (!c)
        return;
    json_decref(c->req);
    for (size_t i = 0; i < c->ncolls; i++)
        json_decref(c->colls[i].spec);
    for (size_t i = 0; i < c->nsteps; i++)
        json_decref(c->steps[i].hadoop);
    free(c->colls);
    free(c->insts);
    free(c->steps);
    free(c);
}

void fr_sim_emr_free(fr_sim_emr *e)
{
    for (size_t i = 0; i < e->n; i++)
        cluster_free(e->clusters[i]);
    free(e->clusters);
    fr_sim_map_free(&e->by_id);
    fr_sim_map_free(&e->by_ec2);
    fr_sim_map_free(&e->work_registry);
    for (size_t i = 0; i < e->nworks; i++)
        free(e->works[i]);
    free(e->works);
    memset(e, 0, sizeof(*e));
}

fr_sim_cluster *fr_sim_emr_find(fr_sim_emr *e, const char *id)
{
    return fr_sim_map_get(&e->by_id, id);
}

fr_sim_inst *fr_sim_emr_find_instance(fr_sim_emr *e, const char *ec2_id)
{
    return fr_sim_map_get(&e->by_ec2, ec2_id);
}

/* ---- capacity and durations ---- */

void fr_sim_cluster_capacity(const fr_sim_cluster *c, const fr_sim_catalog *cat, int *vcpu, double *mem_gib)
{
    int v = 0, mv = 0;
    double m = 0, mm = 0;
    for (size_t i = 0; i < c->ninsts; i++) {
        const fr_sim_inst *in = &c->insts[i];
        const fr_sim_itype *t = fr_sim_catalog_find(cat, in->itype);
        if (!t)
            continue;
        if (in->role == FR_SIM_MASTER) {
            mv += t->vcpu;
            mm += t->mem_gib;
        } else if (in->end_ms == 0) {
            v += t->vcpu;
            m += t->mem_gib;
        }
    }
    if (v == 0) {
        v = mv;
        m = mm;
    }
    *vcpu = v > 0 ? v : 1;
    *mem_gib = m > 0 ? m : 1;
}

int64_t fr_sim_step_duration_ms(const fr_sim_cluster *c, const fr_sim_work *w, const fr_sim_catalog *cat)
{
    int vcpu;
    double mem;
    fr_sim_cluster_capacity(c, cat, &vcpu, &mem);
    int eff = w->parallelism > 0 && w->parallelism < vcpu ? w->parallelism : vcpu;
    double d = w->vcpu_s / (double)eff;
    /* a working set larger than the cluster's memory spills to disk */
    if (w->mem_gib > mem)
        d *= 1.0 + 1.5 * (w->mem_gib / mem - 1.0);
    d += w->overhead_s;
    if (d < 1)
        d = 1;
    return (int64_t)llround(d * 1000.0);
}

static int norm_factor(const char *itype)
{
    int m = fr_sim_size_mult(itype);
    if (m < 0)
        return 2;
    return m == 0 ? 4 : 8 * m;
}

void fr_sim_inst_life(const fr_sim_inst *i, int64_t *launch_ms, int64_t *end_ms)
{
    const fr_sim_cluster *c = i->cluster;
    bool launched = !(c->fail_start && strcmp(c->fail_code, "VALIDATION_ERROR") == 0);
    *launch_ms = launched ? c->bootstrap_ms : -1;
    if (i->end_ms)
        *end_ms = i->end_ms;
    else if (c->state == FR_SIM_CS_TERMINATED || c->state == FR_SIM_CS_TERMINATED_WITH_ERRORS)
        *end_ms = c->end_ms;
    else
        *end_ms = -1;
}

double fr_sim_cluster_normalized_hours(const fr_sim_cluster *c, int64_t now)
{
    double total = 0;
    for (size_t k = 0; k < c->ninsts; k++) {
        int64_t l, e;
        fr_sim_inst_life(&c->insts[k], &l, &e);
        if (l < 0 || l > now)
            continue;
        int64_t end = e >= 0 ? e : now;
        double h = ceil((double)(end - l) / 3600000.0);
        if (h < 1)
            h = 1;
        total += h * norm_factor(c->insts[k].itype);
    }
    return total;
}

/* ---- creation ---- */

static uint64_t next_id(fr_sim_emr *e, uint64_t kind)
{
    return fr_sim_hash3(e->seed, kind, ++e->counter);
}

static const char *az_letters(const char *region)
{
    return strcmp(region, "us-east-1") == 0 ? "abcdef" : "abc";
}

static void az_of_subnet(const fr_sim_emr *e, const char *subnet, char *az, size_t n)
{
    const char *letters = az_letters(e->region);
    uint64_t h = fr_sim_hash_str(0xa2, subnet);
    snprintf(az, n, "%s%c", e->region, letters[h % strlen(letters)]);
}

static int type_ok(fr_sim_emr *e, const char *t, char *err, size_t errlen)
{
    const fr_sim_itype *it = fr_sim_catalog_find(e->cat, t);
    if (!it) {
        snprintf(err, errlen, "The instance type '%s' is not supported.", t ? t : "");
        return FR_EPARSE;
    }
    if (!it->emr) {
        snprintf(err, errlen, "The instance type '%s' is not supported by Amazon EMR.", t);
        return FR_EPARSE;
    }
    return 0;
}

int fr_sim_cfg_weight(const json_t *cfg)
{
    int64_t w;
    if (fr_sim_jint(cfg, "WeightedCapacity", &w) != 0 || w < 1)
        w = 1;
    return (int)w;
}

/* The architecture a configuration's CustomAmiId demands: 1 arm64, 0 x86,
 * -1 none of ours. */
static int ami_arch(const json_t *cfg, const json_t *req)
{
    const char *ami = fr_sim_jstr(cfg, "CustomAmiId");
    if (!ami)
        ami = fr_sim_jstr(req, "CustomAmiId");
    if (!ami)
        return -1;
    if (strcmp(ami, FR_SIM_AMI_ARM64) == 0)
        return 1;
    if (strcmp(ami, FR_SIM_AMI_X86) == 0)
        return 0;
    return -1;
}

typedef struct pending_inst {
    char itype[32];
    int role, coll;
    bool spot;
} pending_inst;

static int push_pending(pending_inst **p, size_t *n, size_t *cap, const char *itype, int role, int coll, bool spot)
{
    if (*n >= 2000)
        return FR_ELIMIT;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        pending_inst *np = realloc(*p, *cap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        *p = np;
    }
    pending_inst *x = &(*p)[(*n)++];
    fr_strlcpy(x->itype, itype, sizeof(x->itype));
    x->role = role;
    x->coll = coll;
    x->spot = spot;
    return 0;
}

int fr_sim_fleet_alloc(const json_t *fleet, fr_sim_alloc_fn emit, void *arg)
{
    json_t *cfgs = json_object_get(fleet, "InstanceTypeConfigs");
    size_t nc = json_array_size(cfgs);
    int64_t od = 0, sp = 0;
    fr_sim_jint(fleet, "TargetOnDemandCapacity", &od);
    fr_sim_jint(fleet, "TargetSpotCapacity", &sp);
    if (!nc)
        return 0;
    /* on-demand: the first configuration (EMR's lowest-price choice among
     * a few); spot: the configurations in turn until the target is met */
    int64_t got = 0;
    json_t *first = json_array_get(cfgs, 0);
    while (got < od) {
        int rc = emit(arg, fr_sim_jstr(first, "InstanceType"), false);
        if (rc)
            return rc;
        got += fr_sim_cfg_weight(first);
    }
    got = 0;
    for (size_t k = 0; got < sp; k++) {
        json_t *cfg = json_array_get(cfgs, k % nc);
        int rc = emit(arg, fr_sim_jstr(cfg, "InstanceType"), true);
        if (rc)
            return rc;
        got += fr_sim_cfg_weight(cfg);
    }
    return 0;
}

struct emit_ctx {
    pending_inst **pend;
    size_t *np, *cap;
    int role, coll;
};

static int fleet_emit(void *arg, const char *itype, bool spot)
{
    struct emit_ctx *x = arg;
    return push_pending(x->pend, x->np, x->cap, itype ? itype : "", x->role, x->coll, spot);
}

static void set_fail(fr_sim_cluster *c, const char *code, const char *msg)
{
    if (c->fail_start)
        return;
    c->fail_start = true;
    fr_strlcpy(c->fail_code, code, sizeof(c->fail_code));
    fr_strlcpy(c->fail_msg, msg, sizeof(c->fail_msg));
}

static int build_fleets(fr_sim_emr *e, fr_sim_cluster *c, const json_t *fleets, const json_t *req,
                        pending_inst **pend, size_t *np, size_t *cap, char *err, size_t errlen)
{
    size_t nf = json_array_size(fleets);
    if (nf == 0 || nf > 3) {
        snprintf(err, errlen, "InstanceFleets must list one MASTER and at most one CORE and one TASK fleet.");
        return FR_EPARSE;
    }
    c->colls = calloc(nf, sizeof(*c->colls));
    if (!c->colls)
        return -ENOMEM;
    bool seen[FR_SIM_NROLES] = {false, false, false};
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_array_get(fleets, i);
        int role = fr_sim_role_parse(fr_sim_jstr(f, "InstanceFleetType"));
        if (role < 0 || seen[role]) {
            snprintf(err, errlen, "Invalid or duplicate InstanceFleetType in InstanceFleets[%zu].", i);
            return FR_EPARSE;
        }
        seen[role] = true;
        json_t *cfgs = json_object_get(f, "InstanceTypeConfigs");
        size_t nc = json_array_size(cfgs);
        if (nc == 0 || nc > 30) {
            snprintf(err, errlen, "Instance fleet %s must have between 1 and 30 InstanceTypeConfigs.", role_names[role]);
            return FR_EPARSE;
        }
        for (size_t k = 0; k < nc; k++) {
            json_t *cfg = json_array_get(cfgs, k);
            const char *t = fr_sim_jstr(cfg, "InstanceType");
            int rc = type_ok(e, t, err, errlen);
            if (rc)
                return rc;
            int arch = ami_arch(cfg, req);
            const fr_sim_itype *it = fr_sim_catalog_find(e->cat, t);
            if (arch >= 0 && (int)it->arm64 != arch) {
                char msg[256];
                snprintf(msg, sizeof(msg),
                         "The instance type %s (%s) does not match the architecture of the custom AMI %s (%s).", t,
                         it->arm64 ? "arm64" : "x86_64", arch ? FR_SIM_AMI_ARM64 : FR_SIM_AMI_X86,
                         arch ? "arm64" : "x86_64");
                set_fail(c, "VALIDATION_ERROR", msg);
            }
        }
        int64_t od = 0, sp = 0;
        fr_sim_jint(f, "TargetOnDemandCapacity", &od);
        fr_sim_jint(f, "TargetSpotCapacity", &sp);
        if (od < 0 || sp < 0 || od + sp > 1000) {
            snprintf(err, errlen, "Invalid target capacity for the %s fleet.", role_names[role]);
            return FR_EPARSE;
        }
        if (role == FR_SIM_MASTER && od + sp != 1) {
            snprintf(err, errlen, "The master instance fleet must have a target capacity of 1.");
            return FR_EPARSE;
        }
        fr_sim_coll *co = &c->colls[c->ncolls];
        co->role = role;
        co->spec = json_deep_copy(f);
        co->target_od = (int)od;
        co->target_spot = (int)sp;
        const char *nm = fr_sim_jstr(f, "Name");
        fr_strlcpy(co->name, nm ? nm : role == FR_SIM_MASTER ? "Master" : role == FR_SIM_CORE ? "Core" : "Task",
                   sizeof(co->name));
        fr_sim_id_emr(co->id, sizeof(co->id), "if-", next_id(e, 'f'));
        size_t first = *np;
        int rc = fr_sim_fleet_alloc(f, fleet_emit, &(struct emit_ctx){pend, np, cap, role, (int)c->ncolls});
        if (rc) {
            snprintf(err, errlen, "Too many instances requested.");
            return rc;
        }
        for (size_t k = first; k < *np; k++) {
            const json_t *cfg = NULL;
            for (size_t x = 0; x < nc && !cfg; x++)
                if (!strcmp(fr_sim_jstr(json_array_get(cfgs, x), "InstanceType"), (*pend)[k].itype))
                    cfg = json_array_get(cfgs, x);
            if ((*pend)[k].spot)
                co->prov_spot += fr_sim_cfg_weight(cfg);
            else
                co->prov_od += fr_sim_cfg_weight(cfg);
        }
        c->ncolls++;
    }
    if (!seen[FR_SIM_MASTER]) {
        snprintf(err, errlen, "A MASTER instance fleet is required.");
        return FR_EPARSE;
    }
    return 0;
}

static int build_groups(fr_sim_emr *e, fr_sim_cluster *c, const json_t *groups, const json_t *req,
                        pending_inst **pend, size_t *np, size_t *cap, char *err, size_t errlen)
{
    size_t ng = json_array_size(groups);
    if (ng == 0 || ng > 50) {
        snprintf(err, errlen, "InstanceGroups must list between 1 and 50 groups.");
        return FR_EPARSE;
    }
    c->colls = calloc(ng, sizeof(*c->colls));
    if (!c->colls)
        return -ENOMEM;
    int masters = 0, cores = 0;
    for (size_t i = 0; i < ng; i++) {
        json_t *g = json_array_get(groups, i);
        int role = fr_sim_role_parse(fr_sim_jstr(g, "InstanceRole"));
        if (role < 0) {
            snprintf(err, errlen, "Invalid InstanceRole in InstanceGroups[%zu].", i);
            return FR_EPARSE;
        }
        const char *t = fr_sim_jstr(g, "InstanceType");
        int rc = type_ok(e, t, err, errlen);
        if (rc)
            return rc;
        int64_t cnt;
        if (fr_sim_jint(g, "InstanceCount", &cnt) != 0 || cnt < 0 || cnt > 500) {
            snprintf(err, errlen, "Invalid InstanceCount in InstanceGroups[%zu].", i);
            return FR_EPARSE;
        }
        if (role == FR_SIM_MASTER) {
            masters++;
            if (cnt != 1 && cnt != 3) {
                snprintf(err, errlen, "The master instance group must have 1 or 3 instances.");
                return FR_EPARSE;
            }
        }
        if (role == FR_SIM_CORE && ++cores > 1) {
            snprintf(err, errlen, "Only one CORE instance group is allowed.");
            return FR_EPARSE;
        }
        const char *market = fr_sim_jstr(g, "Market");
        if (market && strcmp(market, "ON_DEMAND") != 0 && strcmp(market, "SPOT") != 0) {
            snprintf(err, errlen, "Invalid Market '%s'.", market);
            return FR_EPARSE;
        }
        int arch = ami_arch(g, req);
        const fr_sim_itype *it = fr_sim_catalog_find(e->cat, t);
        if (arch >= 0 && (int)it->arm64 != arch) {
            char msg[256];
            snprintf(msg, sizeof(msg), "The instance type %s (%s) does not match the architecture of the custom AMI %s.",
                     t, it->arm64 ? "arm64" : "x86_64", arch ? FR_SIM_AMI_ARM64 : FR_SIM_AMI_X86);
            set_fail(c, "VALIDATION_ERROR", msg);
        }
        fr_sim_coll *co = &c->colls[c->ncolls];
        co->role = role;
        co->spec = json_deep_copy(g);
        fr_strlcpy(co->itype, t, sizeof(co->itype));
        co->count = (int)cnt;
        co->spot = market && strcmp(market, "SPOT") == 0;
        const char *nm = fr_sim_jstr(g, "Name");
        fr_strlcpy(co->name, nm ? nm : role == FR_SIM_MASTER ? "Master" : role == FR_SIM_CORE ? "Core" : "Task",
                   sizeof(co->name));
        fr_sim_id_emr(co->id, sizeof(co->id), "ig-", next_id(e, 'g'));
        for (int k = 0; k < co->count; k++) {
            rc = push_pending(pend, np, cap, t, role, (int)c->ncolls, co->spot);
            if (rc) {
                snprintf(err, errlen, "Too many instances requested.");
                return rc;
            }
        }
        c->ncolls++;
    }
    if (masters != 1) {
        snprintf(err, errlen, "Exactly one MASTER instance group is required.");
        return FR_EPARSE;
    }
    return 0;
}

/* The legacy form (MasterInstanceType / SlaveInstanceType / InstanceCount)
 * is the same as two instance groups. */
static json_t *legacy_groups(const json_t *inst)
{
    const char *mt = fr_sim_jstr(inst, "MasterInstanceType");
    const char *st = fr_sim_jstr(inst, "SlaveInstanceType");
    int64_t n = 1;
    fr_sim_jint(inst, "InstanceCount", &n);
    if (!mt)
        return NULL;
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i}", "Name", "Master", "InstanceRole", "MASTER",
                                       "InstanceType", mt, "InstanceCount", 1));
    if (n > 1)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}", "Name", "Core", "InstanceRole", "CORE",
                                           "InstanceType", st ? st : mt, "InstanceCount", (json_int_t)(n - 1)));
    return a;
}

/* The latest earlier run of a name (runs of one template share a workload). */
static const fr_sim_cluster *predecessor(const fr_sim_emr *e, const char *name)
{
    const fr_sim_cluster *best = NULL;
    for (size_t k = 0; k < e->n; k++) {
        const fr_sim_cluster *c = e->clusters[k];
        if (strcmp(c->name, name) == 0 && (c->profiled[FR_SIM_CORE] || c->profiled[FR_SIM_TASK]) &&
            (!best || c->created_ms >= best->created_ms))
            best = c;
    }
    return best;
}

static void role_capacity(const fr_sim_cluster *c, int role, const fr_sim_catalog *cat, int *vcpu, double *mem)
{
    *vcpu = 0;
    *mem = 0;
    for (size_t i = 0; i < c->ninsts; i++) {
        const fr_sim_itype *t = c->insts[i].role == role ? fr_sim_catalog_find(cat, c->insts[i].itype) : NULL;
        if (t) {
            *vcpu += t->vcpu;
            *mem += t->mem_gib;
        }
    }
}

static void make_ip(char *out, size_t n, uint64_t h)
{
    snprintf(out, n, "10.%u.%u.%u", (unsigned)((h >> 8) % 250) + 1, (unsigned)((h >> 16) % 254) + 1,
             (unsigned)((h >> 24) % 253) + 2);
}

int fr_sim_emr_create(fr_sim_emr *e, const json_t *req, const fr_sim_emr_plan *plan, int64_t now,
                      fr_sim_cluster **out, char *err, size_t errlen)
{
    static const fr_sim_emr_plan noplan = {0};
    if (!plan)
        plan = &noplan;
    *out = NULL;
    const char *name = fr_sim_jstr(req, "Name");
    if (!name || !*name || strlen(name) > 256) {
        snprintf(err, errlen, "Name is required (1 to 256 characters).");
        return FR_EPARSE;
    }
    const json_t *inst = json_object_get(req, "Instances");
    if (!json_is_object(inst)) {
        snprintf(err, errlen, "Instances is required.");
        return FR_EPARSE;
    }
    if (plan->id && fr_sim_emr_find(e, plan->id)) {
        snprintf(err, errlen, "Cluster id %s already exists.", plan->id);
        return FR_EPARSE;
    }
    fr_sim_cluster *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    if (plan->id)
        fr_strlcpy(c->id, plan->id, sizeof(c->id));
    else
        fr_sim_id_emr(c->id, sizeof(c->id), "j-", next_id(e, 'j'));
    fr_strlcpy(c->name, name, sizeof(c->name));
    snprintf(c->arn, sizeof(c->arn), "arn:aws:elasticmapreduce:%s:%s:cluster/%s", e->region, e->account, c->id);
    c->seed = fr_sim_hash_str(e->seed, c->id);
    c->req = json_deep_copy(req);
    fr_strlcpy(c->source, plan->source ? plan->source : "api", sizeof(c->source));

    json_t *fleets = json_object_get(inst, "InstanceFleets");
    json_t *groups = json_object_get(inst, "InstanceGroups");
    json_t *legacy = NULL;
    pending_inst *pend = NULL;
    size_t np = 0, cap = 0;
    int rc;
    if (json_array_size(fleets) && json_array_size(groups)) {
        snprintf(err, errlen, "Specify either InstanceFleets or InstanceGroups, not both.");
        rc = FR_EPARSE;
    } else if (json_array_size(fleets)) {
        c->fleets = true;
        rc = build_fleets(e, c, fleets, req, &pend, &np, &cap, err, errlen);
    } else {
        if (!json_array_size(groups))
            groups = legacy = legacy_groups(inst);
        if (!groups) {
            snprintf(err, errlen, "Instances must specify InstanceFleets or InstanceGroups.");
            rc = FR_EPARSE;
        } else {
            rc = build_groups(e, c, groups, req, &pend, &np, &cap, err, errlen);
        }
    }
    json_decref(legacy);
    if (rc) {
        free(pend);
        cluster_free(c);
        return rc;
    }

    /* placement: the subnet picks the AZ */
    json_t *subnets = json_object_get(inst, "Ec2SubnetIds");
    const char *subnet = fr_sim_jstr(inst, "Ec2SubnetId");
    if (!subnet && json_array_size(subnets))
        subnet = json_string_value(json_array_get(subnets, c->seed % json_array_size(subnets)));
    if (subnet)
        fr_strlcpy(c->subnet, subnet, sizeof(c->subnet));
    else
        snprintf(c->subnet, sizeof(c->subnet), "subnet-0%016llx", (unsigned long long)(e->seed & 0xffffffffffffULL));
    az_of_subnet(e, c->subnet, c->az, sizeof(c->az));

    c->ninsts = np;
    c->insts = calloc(np ? np : 1, sizeof(*c->insts));
    if (!c->insts) {
        free(pend);
        cluster_free(c);
        return -ENOMEM;
    }
    for (size_t k = 0; k < np; k++) {
        fr_sim_inst *in = &c->insts[k];
        uint64_t h = fr_sim_hash3(c->seed, 0x1257, k);
        fr_sim_id_emr(in->id, sizeof(in->id), "ci-", h);
        fr_sim_id_ec2(in->ec2_id, sizeof(in->ec2_id), "i-", h ^ 0xec2);
        make_ip(in->ip, sizeof(in->ip), h);
        fr_strlcpy(in->itype, pend[k].itype, sizeof(in->itype));
        fr_strlcpy(in->az, c->az, sizeof(in->az));
        fr_strlcpy(in->subnet, c->subnet, sizeof(in->subnet));
        in->role = pend[k].role;
        in->coll = pend[k].coll;
        in->spot = pend[k].spot;
        in->seed = fr_sim_hash_str(e->seed, in->ec2_id);
        in->cluster = c;
    }
    free(pend);

    bool b;
    c->keep_alive = fr_sim_jbool(inst, "KeepJobFlowAliveWhenNoSteps", &b) == 0 && b;
    c->termination_protected = fr_sim_jbool(inst, "TerminationProtected", &b) == 0 && b;
    int64_t v;
    json_t *atp = json_object_get(req, "AutoTerminationPolicy");
    if (json_is_object(atp) && fr_sim_jint(atp, "IdleTimeout", &v) == 0) {
        if (v < 60 || v > 604800) {
            snprintf(err, errlen, "AutoTerminationPolicy.IdleTimeout must be between 60 and 604800 seconds.");
            cluster_free(c);
            return FR_EPARSE;
        }
        c->idle_timeout_s = v;
    }
    c->step_concurrency = fr_sim_jint(req, "StepConcurrencyLevel", &v) == 0 && v >= 1 && v <= 256 ? (int)v : 1;

    c->created_ms = now;
    int64_t prov = plan->provision_s > 0 ? plan->provision_s : 90 + (int64_t)(c->seed % 150);
    int64_t boot = plan->bootstrap_s > 0 ? plan->bootstrap_s : 120 + (int64_t)((c->seed >> 16) % 180);
    c->bootstrap_ms = now + prov * 1000;
    c->ready_ms = c->bootstrap_ms + boot * 1000;
    c->terminate_dur_ms = (60 + (int64_t)((c->seed >> 32) % 90)) * 1000;
    c->state = FR_SIM_CS_STARTING;
    fr_strlcpy(c->reason_msg, "Configuring cluster software", sizeof(c->reason_msg));
    if (plan->fail_code)
        set_fail(c, plan->fail_code, plan->fail_msg ? plan->fail_msg : "Cluster failed to start.");
    const fr_sim_cluster *pred = predecessor(e, c->name);
    for (int r = 0; r < FR_SIM_NROLES; r++) {
        if (plan->prof[r]) {
            c->prof[r] = *plan->prof[r];
            c->profiled[r] = true;
        } else if (pred && pred->profiled[r]) {
            /* the same job on different capacity: its demand stays, so the
             * utilisation scales with the capacity it now has */
            c->prof[r] = pred->prof[r];
            c->profiled[r] = true;
            int ov, nv;
            double om, nm;
            role_capacity(pred, r, e->cat, &ov, &om);
            role_capacity(c, r, e->cat, &nv, &nm);
            if (ov > 0 && nv > 0) {
                c->prof[r].cpu = fmin(98, c->prof[r].cpu * ov / nv);
                c->prof[r].cpu_amp = c->prof[r].cpu_amp * ov / nv;
            }
            if (om > 0 && nm > 0) {
                c->prof[r].mem = fmin(98, c->prof[r].mem * om / nm);
                c->prof[r].mem_amp = c->prof[r].mem_amp * om / nm;
            }
        } else {
            /* clusters nobody described: a plausible, unremarkable load */
            memset(&c->prof[r], 0, sizeof(c->prof[r]));
            c->prof[r].shape = FR_SIM_SHAPE_STEADY;
            c->prof[r].cpu = r == FR_SIM_MASTER ? 12 : 45;
            c->prof[r].mem = r == FR_SIM_MASTER ? 30 : 50;
            c->prof[r].cpu_amp = 6;
            c->prof[r].mem_amp = 4;
        }
    }

    json_t *steps = json_object_get(req, "Steps");
    if (json_array_size(steps)) {
        rc = fr_sim_emr_add_steps(e, c, steps, now, NULL, err, errlen);
        if (rc) {
            cluster_free(c);
            return rc;
        }
    }
    if (e->n == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 64;
        fr_sim_cluster **nc = realloc(e->clusters, ncap * sizeof(*nc));
        if (!nc) {
            cluster_free(c);
            return -ENOMEM;
        }
        e->clusters = nc;
        e->cap = ncap;
    }
    e->clusters[e->n++] = c;
    fr_sim_map_put(&e->by_id, c->id, c);
    for (size_t k = 0; k < c->ninsts; k++)
        fr_sim_map_put(&e->by_ec2, c->insts[k].ec2_id, &c->insts[k]);
    *out = c;
    return 0;
}

/* ---- steps ---- */

static uint64_t step_signature(const json_t *hadoop)
{
    fr_buf b = FR_BUF_INIT;
    const char *jar = fr_sim_jstr(hadoop, "Jar");
    const char *mc = fr_sim_jstr(hadoop, "MainClass");
    fr_buf_printf(&b, "%s\x1f%s", jar ? jar : "", mc ? mc : "");
    json_t *args = json_object_get(hadoop, "Args");
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a) fr_buf_printf(&b, "\x1f%s", json_is_string(a) ? json_string_value(a) : "");
    uint64_t h = fr_hash64(fr_buf_cstr(&b), b.len);
    fr_buf_free(&b);
    return h;
}

int fr_sim_emr_register_work(fr_sim_emr *e, const json_t *hadoop, const fr_sim_work *w)
{
    char key[24];
    snprintf(key, sizeof(key), "%016llx", (unsigned long long)step_signature(hadoop));
    fr_sim_work *old = fr_sim_map_get(&e->work_registry, key);
    if (old) {
        *old = *w;
        return 0;
    }
    if (e->nworks == e->capworks) {
        size_t ncap = e->capworks ? e->capworks * 2 : 256;
        fr_sim_work **nw = realloc(e->works, ncap * sizeof(*nw));
        if (!nw)
            return -ENOMEM;
        e->works = nw;
        e->capworks = ncap;
    }
    fr_sim_work *copy = malloc(sizeof(*copy));
    if (!copy)
        return -ENOMEM;
    *copy = *w;
    e->works[e->nworks++] = copy;
    return fr_sim_map_put(&e->work_registry, key, copy);
}

/* "--sim-work-vcpu-seconds=N" style arguments override the work model. */
static void arg_overrides(const json_t *hadoop, fr_sim_work *w, bool *fail)
{
    json_t *args = json_object_get(hadoop, "Args");
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a)
    {
        const char *s = json_string_value(a);
        double d;
        if (!s)
            continue;
        if (fr_str_startswith(s, "--sim-work-vcpu-seconds=") && fr_parse_double(s + 24, &d) == 0 && d >= 0)
            w->vcpu_s = d;
        else if (fr_str_startswith(s, "--sim-parallelism=") && fr_parse_double(s + 18, &d) == 0 && d >= 1)
            w->parallelism = (int)d;
        else if (fr_str_startswith(s, "--sim-mem-gib=") && fr_parse_double(s + 14, &d) == 0 && d >= 0)
            w->mem_gib = d;
        else if (fr_str_startswith(s, "--sim-overhead-seconds=") && fr_parse_double(s + 23, &d) == 0 && d >= 0)
            w->overhead_s = d;
        else if (strcmp(s, "--sim-fail") == 0)
            *fail = true;
    }
}

static void resolve_work(fr_sim_emr *e, const json_t *hadoop, fr_sim_work *w, bool *fail)
{
    char key[24];
    uint64_t sig = step_signature(hadoop);
    snprintf(key, sizeof(key), "%016llx", (unsigned long long)sig);
    fr_sim_work *known = fr_sim_map_get(&e->work_registry, key);
    if (known) {
        *w = *known;
    } else {
        /* an unknown step: a deterministic, moderate amount of work */
        uint64_t h = fr_sim_mix64(sig ^ e->seed);
        w->vcpu_s = 3600.0 * (8 + (double)(h % 56));
        w->parallelism = 16 * (1 + (int)((h >> 8) % 8));
        w->mem_gib = 0;
        w->overhead_s = 30 + (double)((h >> 16) % 60);
    }
    arg_overrides(hadoop, w, fail);
}

static int grow_steps(fr_sim_cluster *c, size_t extra)
{
    if (c->nsteps + extra <= c->capsteps)
        return 0;
    size_t ncap = c->capsteps ? c->capsteps : 8;
    while (ncap < c->nsteps + extra)
        ncap *= 2;
    fr_sim_step *ns = realloc(c->steps, ncap * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    c->steps = ns;
    c->capsteps = ncap;
    return 0;
}

static int validate_step(const json_t *sc, char *err, size_t errlen)
{
    const char *name = fr_sim_jstr(sc, "Name");
    json_t *h = json_object_get(sc, "HadoopJarStep");
    if (!name || !*name || strlen(name) > 256) {
        snprintf(err, errlen, "Step Name is required (1 to 256 characters).");
        return FR_EPARSE;
    }
    if (!json_is_object(h) || !fr_sim_jstr(h, "Jar")) {
        snprintf(err, errlen, "HadoopJarStep.Jar is required.");
        return FR_EPARSE;
    }
    const char *aof = fr_sim_jstr(sc, "ActionOnFailure");
    if (aof && strcmp(aof, "TERMINATE_JOB_FLOW") != 0 && strcmp(aof, "TERMINATE_CLUSTER") != 0 &&
        strcmp(aof, "CANCEL_AND_WAIT") != 0 && strcmp(aof, "CONTINUE") != 0) {
        snprintf(err, errlen, "Invalid ActionOnFailure '%s'.", aof);
        return FR_EPARSE;
    }
    return 0;
}

static void init_step(fr_sim_emr *e, fr_sim_step *s, const json_t *sc, int64_t now)
{
    memset(s, 0, sizeof(*s));
    fr_sim_id_emr(s->id, sizeof(s->id), "s-", next_id(e, 's'));
    fr_strlcpy(s->name, fr_sim_jstr(sc, "Name"), sizeof(s->name));
    s->hadoop = json_deep_copy(json_object_get(sc, "HadoopJarStep"));
    const char *aof = fr_sim_jstr(sc, "ActionOnFailure");
    fr_strlcpy(s->action_on_failure, aof ? aof : "CONTINUE", sizeof(s->action_on_failure));
    s->state = FR_SIM_SS_PENDING;
    s->created_ms = now;
    s->fail_at = 0.5;
}

int fr_sim_emr_add_steps(fr_sim_emr *e, fr_sim_cluster *c, const json_t *steps, int64_t now, json_t *ids,
                         char *err, size_t errlen)
{
    size_t n = json_array_size(steps);
    if (n == 0 || n > 256) {
        snprintf(err, errlen, "Steps must list between 1 and 256 steps.");
        return FR_EPARSE;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = validate_step(json_array_get(steps, i), err, errlen);
        if (rc)
            return rc;
    }
    if (c->nsteps + n > 256) {
        snprintf(err, errlen, "Maximum number of steps (256) reached.");
        return FR_ELIMIT;
    }
    if (grow_steps(c, n))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        fr_sim_step *s = &c->steps[c->nsteps++];
        init_step(e, s, json_array_get(steps, i), now);
        resolve_work(e, s->hadoop, &s->work, &s->fail);
        if (ids)
            json_array_append_new(ids, json_string(s->id));
    }
    return 0;
}

int fr_sim_emr_add_step_planned(fr_sim_emr *e, fr_sim_cluster *c, const json_t *stepcfg, const fr_sim_work *w,
                                bool fail, int64_t now)
{
    char err[128];
    if (validate_step(stepcfg, err, sizeof(err)) != 0)
        return FR_EPARSE;
    if (grow_steps(c, 1))
        return -ENOMEM;
    fr_sim_step *s = &c->steps[c->nsteps++];
    init_step(e, s, stepcfg, now);
    s->work = *w;
    s->fail = fail;
    s->fail_at = 0.3 + 0.5 * fr_sim_unit(fr_sim_hash3(c->seed, 0xfa11, c->nsteps));
    return 0;
}

/* ---- lifecycle ---- */

static void begin_terminating(fr_sim_cluster *c, int64_t t, const char *code, const char *msg, bool error)
{
    c->state = FR_SIM_CS_TERMINATING;
    c->terminating_ms = t;
    c->error_end = error;
    fr_strlcpy(c->reason_code, code, sizeof(c->reason_code));
    fr_strlcpy(c->reason_msg, msg, sizeof(c->reason_msg));
    for (size_t i = 0; i < c->nsteps; i++) {
        fr_sim_step *s = &c->steps[i];
        if (s->state == FR_SIM_SS_RUNNING)
            s->end_ms = t;
        if (s->state == FR_SIM_SS_PENDING || s->state == FR_SIM_SS_RUNNING) {
            s->state = FR_SIM_SS_CANCELLED;
            fr_strlcpy(s->reason, "Cancelled because the cluster is terminating", sizeof(s->reason));
        }
    }
}

/* Runs steps up to `now`; true when the cluster started terminating. */
static bool run_steps(fr_sim_emr *e, fr_sim_cluster *c, int64_t now)
{
    for (;;) {
        int running = 0;
        for (size_t i = 0; i < c->nsteps; i++)
            if (c->steps[i].state == FR_SIM_SS_RUNNING)
                running++;
        for (size_t i = 0; i < c->nsteps && running < c->step_concurrency; i++) {
            fr_sim_step *s = &c->steps[i];
            if (s->state != FR_SIM_SS_PENDING)
                continue;
            int64_t start = s->created_ms > c->cursor_ms ? s->created_ms : c->cursor_ms;
            if (start > now)
                continue;
            s->state = FR_SIM_SS_RUNNING;
            s->start_ms = start;
            int64_t d = fr_sim_step_duration_ms(c, &s->work, e->cat);
            s->planned_end_ms = start + (s->fail ? (int64_t)((double)d * s->fail_at) : d);
            running++;
        }
        if (running == 0) {
            if (c->state == FR_SIM_CS_RUNNING || c->idle_since_ms < c->cursor_ms)
                c->idle_since_ms = c->cursor_ms;
            c->state = FR_SIM_CS_WAITING;
            fr_strlcpy(c->reason_msg, "Cluster ready to run steps.", sizeof(c->reason_msg));
            c->reason_code[0] = '\0';
            if (!c->keep_alive) {
                begin_terminating(c, c->cursor_ms, "ALL_STEPS_COMPLETED", "Steps completed", false);
                return true;
            }
            if (c->idle_timeout_s > 0) {
                int64_t t = c->idle_since_ms + c->idle_timeout_s * 1000;
                if (t <= now) {
                    begin_terminating(c, t, "ALL_STEPS_COMPLETED",
                                      "Cluster was terminated by the auto-termination policy after being idle.",
                                      false);
                    return true;
                }
            }
            return false;
        }
        c->state = FR_SIM_CS_RUNNING;
        fr_strlcpy(c->reason_msg, "Running step", sizeof(c->reason_msg));
        c->reason_code[0] = '\0';
        fr_sim_step *next = NULL;
        for (size_t i = 0; i < c->nsteps; i++) {
            fr_sim_step *s = &c->steps[i];
            if (s->state == FR_SIM_SS_RUNNING && (!next || s->planned_end_ms < next->planned_end_ms))
                next = s;
        }
        if (!next || next->planned_end_ms > now)
            return false;
        c->cursor_ms = next->planned_end_ms;
        next->end_ms = next->planned_end_ms;
        if (!next->fail) {
            next->state = FR_SIM_SS_COMPLETED;
            continue;
        }
        next->state = FR_SIM_SS_FAILED;
        fr_strlcpy(next->reason, "Step failed", sizeof(next->reason));
        const char *aof = next->action_on_failure;
        if (strcmp(aof, "TERMINATE_CLUSTER") == 0 || strcmp(aof, "TERMINATE_JOB_FLOW") == 0) {
            begin_terminating(c, c->cursor_ms, "STEP_FAILURE", "Shut down as step failed", true);
            return true;
        }
        if (strcmp(aof, "CANCEL_AND_WAIT") == 0) {
            for (size_t i = 0; i < c->nsteps; i++)
                if (c->steps[i].state == FR_SIM_SS_PENDING) {
                    c->steps[i].state = FR_SIM_SS_CANCELLED;
                    fr_strlcpy(c->steps[i].reason, "Cancelled after a failed step", sizeof(c->steps[i].reason));
                }
        }
    }
}

void fr_sim_emr_advance(fr_sim_emr *e, fr_sim_cluster *c, int64_t now)
{
    for (int guard = 0; guard < 10000; guard++) {
        switch (c->state) {
        case FR_SIM_CS_STARTING:
            if (c->fail_start && strcmp(c->fail_code, "VALIDATION_ERROR") == 0) {
                int64_t t = c->created_ms + 20000;
                if (now < t)
                    return;
                begin_terminating(c, t, c->fail_code, c->fail_msg, true);
                c->terminate_dur_ms = 5000;
                continue;
            }
            if (now < c->bootstrap_ms)
                return;
            c->state = FR_SIM_CS_BOOTSTRAPPING;
            fr_strlcpy(c->reason_msg, "Running bootstrap actions", sizeof(c->reason_msg));
            continue;
        case FR_SIM_CS_BOOTSTRAPPING:
            if (now < c->ready_ms)
                return;
            if (c->fail_start) {
                begin_terminating(c, c->ready_ms, c->fail_code, c->fail_msg, true);
                continue;
            }
            c->cursor_ms = c->ready_ms;
            c->idle_since_ms = c->ready_ms;
            c->state = FR_SIM_CS_WAITING;
            continue;
        case FR_SIM_CS_RUNNING:
        case FR_SIM_CS_WAITING:
            if (!run_steps(e, c, now))
                return;
            continue;
        case FR_SIM_CS_TERMINATING: {
            int64_t t = c->terminating_ms + c->terminate_dur_ms;
            if (now < t)
                return;
            c->end_ms = t;
            c->state = c->error_end ? FR_SIM_CS_TERMINATED_WITH_ERRORS : FR_SIM_CS_TERMINATED;
            return;
        }
        default:
            return;
        }
    }
}

int fr_sim_emr_terminate(fr_sim_emr *e, fr_sim_cluster *c, int64_t now, const char *code, const char *msg)
{
    fr_sim_emr_advance(e, c, now);
    if (c->state >= FR_SIM_CS_TERMINATING)
        return 0;
    if (c->termination_protected)
        return FR_EDENIED;
    begin_terminating(c, now, code ? code : "USER_REQUEST", msg ? msg : "Terminated by user request", false);
    return 0;
}

void fr_sim_emr_end_instance(fr_sim_inst *i, int64_t when, const char *code)
{
    if (i->end_ms)
        return;
    i->end_ms = when;
    fr_strlcpy(i->end_reason, code ? code : "INSTANCE_FAILURE", sizeof(i->end_reason));
}

const char *fr_sim_inst_state(const fr_sim_inst *i, int64_t now)
{
    const fr_sim_cluster *c = i->cluster;
    if (i->end_ms && i->end_ms <= now)
        return "TERMINATED";
    switch (c->state) {
    case FR_SIM_CS_STARTING:
        return now < c->created_ms + (c->bootstrap_ms - c->created_ms) / 3 ? "AWAITING_FULFILLMENT" : "PROVISIONING";
    case FR_SIM_CS_BOOTSTRAPPING:
        return "BOOTSTRAPPING";
    case FR_SIM_CS_TERMINATED:
    case FR_SIM_CS_TERMINATED_WITH_ERRORS:
        return "TERMINATED";
    case FR_SIM_CS_TERMINATING:
        if (c->ready_ms > c->terminating_ms || (c->fail_start && !strcmp(c->fail_code, "VALIDATION_ERROR")))
            return "TERMINATED";
        return "RUNNING";
    default:
        return "RUNNING";
    }
}

struct cap_ctx {
    const fr_sim_catalog *cat;
    int vcpu;
    double mem;
};

static int cap_emit(void *arg, const char *itype, bool spot)
{
    struct cap_ctx *x = arg;
    const fr_sim_itype *t = fr_sim_catalog_find(x->cat, itype);
    (void)spot;
    if (t) {
        x->vcpu += t->vcpu;
        x->mem += t->mem_gib;
    }
    return 0;
}

int fr_sim_instances_capacity(const fr_sim_catalog *cat, const json_t *instances, int *vcpu, double *mem_gib)
{
    struct cap_ctx work = {cat, 0, 0}, master = {cat, 0, 0};
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(instances, "InstanceFleets"), i, f)
    {
        int role = fr_sim_role_parse(fr_sim_jstr(f, "InstanceFleetType"));
        fr_sim_fleet_alloc(f, cap_emit, role == FR_SIM_MASTER ? &master : &work);
    }
    json_array_foreach(json_object_get(instances, "InstanceGroups"), i, f)
    {
        int role = fr_sim_role_parse(fr_sim_jstr(f, "InstanceRole"));
        int64_t n = 0;
        fr_sim_jint(f, "InstanceCount", &n);
        for (int64_t k = 0; k < n && k < 1000; k++)
            cap_emit(role == FR_SIM_MASTER ? &master : &work, fr_sim_jstr(f, "InstanceType"), false);
    }
    if (work.vcpu == 0)
        work = master;
    *vcpu = work.vcpu > 0 ? work.vcpu : 1;
    *mem_gib = work.mem > 0 ? work.mem : 1;
    return 0;
}
