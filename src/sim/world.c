#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emr.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "util.h"
#include "world.h"

/* ---- classification (seed 000's thresholds) ---- */

const char *fr_sim_sizing_status(double avg, double p95)
{
    if (avg < 25 && p95 < 35)
        return "HEAVILY_OVERSIZED";
    if (avg < 50 && p95 < 60)
        return "MODERATELY_OVERSIZED";
    if (avg < 70 && p95 < 80)
        return "RIGHT_SIZED";
    return "UNDERSIZED";
}

const char *fr_sim_workload(double cpu_avg, double mem_avg)
{
    if (cpu_avg > 1.5 * mem_avg)
        return "CPU_HEAVY";
    if (mem_avg > 1.5 * cpu_avg)
        return "MEMORY_HEAVY";
    return "BALANCED";
}

/* ---- vocabulary ---- */

static const char *base_names[] = {
    "STRESS-TEMPLATE-S", "STRESS-TEMPLATE-L", "ETL-DAILY-LOAD", "STRESS-TEMPLATE-M", "RISK-AGG-NIGHTLY",
    "FRAUD-SCORING-BATCH", "CUSTOMER-360-BUILD", "RECON-EOD", "MARKETDATA-NORMALIZE", "PNL-ATTRIBUTION",
    "REG-REPORTING-FINRA", "CLICKSTREAM-SESSIONIZE", "ML-FEATURE-BACKFILL", "LEDGER-COMPACTION", "TRADE-ENRICHMENT",
    "CREDIT-EXPOSURE-CALC", "AML-GRAPH-SCAN", "PAYMENTS-DEDUP", "LIQUIDITY-STRESS", "ETL-HOURLY-INGEST",
};
static const char *name_suffixes[] = {"", "-EMEA", "-APAC", "-V2", "-BACKFILL", "-US", "-REPLAY", "-DR"};

enum { CL_HEAVY, CL_MODERATE, CL_RIGHT, CL_UNDER, CL_CPU, CL_MEM, CL_SPIKY, CL_COUNT };
static const char *class_names[CL_COUNT] = {"heavily_oversized", "moderately_oversized", "right_sized", "undersized",
                                            "cpu_heavy", "memory_heavy", "spiky"};

static const char *grav_families[3][2] = {{"r7g", "r6g"}, {"m7g", "m6g"}, {"c7g", "c6g"}};
static const char *x86_families[3][3] = {{"r5", "r6i", "r7i"}, {"m5", "m6i", "m7i"}, {"c5", "c6i", "c7i"}};

static const char *step_kinds[] = {"extract", "transform", "load", "aggregate", "score", "publish", "compact",
                                   "validate", "enrich", "reconcile"};
static const char *teams[] = {"risk-analytics", "data-platform", "fraud", "finance-eng", "market-data", "growth"};
/* non-ASCII on purpose (some producers write \u00XX escapes); "\xad" "a" is
 * split so the hex escape stops */
static const char *owners[] = {"Zo\xc3\xab M\xc3\xbcller", ("Ana Garc\xc3\xad" "a"),
                               "Jos\xc3\xa9 P\xc3\xa9rez", "Bj\xc3\xb6rn Lind", "Priya Nair", "Sam O'Neil"};

/* ---- helpers ---- */

static double urange(fr_sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * fr_sim_rng_unit(r);
}

static bool chance(fr_sim_rng *r, double p)
{
    return fr_sim_rng_unit(r) < p;
}

/* An EMR-usable type of a family near the wanted size. */
static bool type_for(const fr_sim_catalog *cat, const char *family, int mult, char *out, size_t n)
{
    static const int tries[] = {0, 1, -1, 2, -2, 3};
    static const int mults[] = {1, 2, 4, 8, 9, 12, 16, 18, 24};
    int idx = 0;
    for (size_t i = 0; i < FR_ARRAY_SIZE(mults); i++)
        if (mults[i] <= mult)
            idx = (int)i;
    for (size_t t = 0; t < FR_ARRAY_SIZE(tries); t++) {
        int k = idx + tries[t];
        if (k < 0 || k >= (int)FR_ARRAY_SIZE(mults))
            continue;
        fr_sim_type_with_mult(out, n, family, mults[k]);
        const fr_sim_itype *it = fr_sim_catalog_find(cat, out);
        if (it && it->emr)
            return true;
    }
    return false;
}

static const char *sibling_family(const char *fam)
{
    static const char *pairs[][2] = {{"r7g", "r6g"}, {"r6g", "r7g"}, {"m7g", "m6g"}, {"m6g", "m7g"},
                                     {"c7g", "c6g"}, {"c6g", "c7g"}, {"r5", "r6i"},   {"r6i", "r5"},
                                     {"r7i", "r6i"}, {"m5", "m6i"},  {"m6i", "m5"},   {"m7i", "m6i"},
                                     {"c5", "c6i"},  {"c6i", "c5"},  {"c7i", "c6i"}};
    for (size_t i = 0; i < FR_ARRAY_SIZE(pairs); i++)
        if (strcmp(pairs[i][0], fam) == 0)
            return pairs[i][1];
    return fam;
}

static void family_of(const char *type, char *out, size_t n)
{
    fr_strlcpy(out, type, n);
    char *dot = strchr(out, '.');
    if (dot)
        *dot = '\0';
}

/* ---- profiles per class ---- */

static fr_sim_shape pick_shape(fr_sim_rng *r, const fr_sim_traces *tr, const fr_sim_shape *allowed, size_t n)
{
    fr_sim_shape s = allowed[fr_sim_rng_next(r) % n];
    if (s == FR_SIM_SHAPE_TRACE && (!tr || tr->n == 0))
        s = FR_SIM_SHAPE_STEADY;
    return s;
}

static void pick_trace(fr_sim_rng *r, const fr_sim_traces *tr, fr_sim_profile *p, bool need_mem)
{
    if (!tr || !tr->n)
        return;
    for (int tries = 0; tries < 8; tries++) {
        const fr_sim_trace *t = &tr->t[fr_sim_rng_next(r) % tr->n];
        if (!need_mem || t->mem) {
            fr_strlcpy(p->trace, t->name, sizeof(p->trace));
            return;
        }
    }
    p->shape = FR_SIM_SHAPE_STEADY;
}

static void make_profile(int cls, fr_sim_rng *r, const fr_sim_traces *tr, fr_sim_profile *p)
{
    memset(p, 0, sizeof(*p));
    fr_strlcpy(p->klass, class_names[cls], sizeof(p->klass));
    static const fr_sim_shape calm[] = {FR_SIM_SHAPE_STEADY, FR_SIM_SHAPE_DIURNAL, FR_SIM_SHAPE_TRACE};
    static const fr_sim_shape flat[] = {FR_SIM_SHAPE_STEADY, FR_SIM_SHAPE_TRACE};
    static const fr_sim_shape hot[] = {FR_SIM_SHAPE_SATURATED, FR_SIM_SHAPE_RAMP, FR_SIM_SHAPE_STEADY};
    switch (cls) {
    case CL_HEAVY:
        p->shape = pick_shape(r, tr, calm, 3);
        p->cpu = urange(r, 9, 15);
        p->mem = p->cpu * urange(r, 0.9, 1.15);
        p->cpu_amp = 3;
        /* proportional swings keep the CPU/memory ratio (the workload) */
        p->mem_amp = round(p->cpu_amp * p->mem / p->cpu * 100) / 100;
        break;
    case CL_MODERATE:
        p->shape = pick_shape(r, tr, calm, 3);
        p->cpu = urange(r, 32, 38);
        p->mem = p->cpu * urange(r, 0.9, 1.1);
        p->cpu_amp = p->shape == FR_SIM_SHAPE_DIURNAL ? 3 : 5;
        p->mem_amp = round(p->cpu_amp * p->mem / p->cpu * 100) / 100;
        break;
    case CL_RIGHT:
        p->shape = pick_shape(r, tr, flat, 2);
        p->cpu = urange(r, 56, 60);
        p->mem = p->cpu * urange(r, 0.93, 1.07);
        p->cpu_amp = 5;
        p->mem_amp = 3;
        break;
    case CL_UNDER:
        p->shape = pick_shape(r, tr, hot, 3);
        p->cpu = urange(r, 82, 90);
        p->mem = urange(r, 72, 84);
        p->cpu_amp = 5;
        p->mem_amp = 3;
        break;
    case CL_CPU:
        p->shape = pick_shape(r, tr, flat, 2);
        p->cpu = urange(r, 58, 63);
        p->mem = p->cpu / urange(r, 1.9, 2.4);
        p->cpu_amp = 5;
        p->mem_amp = 3;
        break;
    case CL_MEM:
        p->shape = pick_shape(r, tr, flat, 2);
        p->mem = urange(r, 60, 64);
        p->cpu = p->mem / urange(r, 2.2, 2.8);
        p->cpu_amp = 4;
        p->mem_amp = 3;
        break;
    case CL_SPIKY:
    default:
        p->shape = FR_SIM_SHAPE_SPIKY;
        p->cpu = urange(r, 11, 15);
        p->mem = p->cpu * urange(r, 1.0, 1.3);
        p->cpu_amp = 4;
        p->mem_amp = 2;
        p->spike_height = urange(r, 90, 97);
        p->spike_every_min = (int)fr_sim_rng_range(r, 80, 110);
        p->spike_len_min = 1;
        break;
    }
    if (p->shape == FR_SIM_SHAPE_TRACE) {
        pick_trace(r, tr, p, false);
        /* a trace over a few hours does not average to its mean: keep its
         * swings proportional and small enough for the class's bounds */
        double cap = cls == CL_HEAVY || cls == CL_MODERATE ? 0.08 : 0.03;
        double k = fmin(fmin(p->cpu_amp / p->cpu, p->mem_amp / p->mem), cap);
        p->cpu_amp = round(k * p->cpu * 100) / 100;
        p->mem_amp = round(k * p->mem * 100) / 100;
    }
    p->cpu = round(p->cpu * 100) / 100;
    p->mem = round(p->mem * 100) / 100;
    p->spike_height = round(p->spike_height * 100) / 100;
}

static void master_profile(fr_sim_rng *r, fr_sim_profile *p)
{
    memset(p, 0, sizeof(*p));
    fr_strlcpy(p->klass, "master", sizeof(p->klass));
    p->shape = FR_SIM_SHAPE_STEADY;
    p->cpu = round(urange(r, 6, 14) * 100) / 100;
    p->mem = round(urange(r, 25, 40) * 100) / 100;
    p->cpu_amp = 3;
    p->mem_amp = 2;
}

/* Expected status and workload for a profile (from its levels). */
static void expectations(const fr_sim_profile *p, json_t *j)
{
    static const struct {
        const char *cls, *status, *workload;
    } tab[] = {
        {"heavily_oversized", "HEAVILY_OVERSIZED", "BALANCED"},
        {"moderately_oversized", "MODERATELY_OVERSIZED", "BALANCED"},
        {"right_sized", "RIGHT_SIZED", "BALANCED"},
        {"undersized", "UNDERSIZED", "BALANCED"},
        {"cpu_heavy", "RIGHT_SIZED", "CPU_HEAVY"},
        {"memory_heavy", "RIGHT_SIZED", "MEMORY_HEAVY"},
        {"spiky", "HEAVILY_OVERSIZED", "BALANCED"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(tab); i++)
        if (strcmp(p->klass, tab[i].cls) == 0) {
            json_object_set_new(j, "expected_status", json_string(tab[i].status));
            json_object_set_new(j, "expected_workload", json_string(tab[i].workload));
            if (strcmp(p->klass, "spiky") == 0)
                json_object_set_new(j, "peaks", json_string("short"));
        }
}

/* ---- templates ---- */

typedef struct tmpl {
    char name[64];
    char size; /* S M L */
    bool graviton;
    bool fleets;
    int weight_mode; /* 0: weight 1; 1: weight = vCPU / 4 */
    char master[32], core[32], core2[32], task[32], task2[32];
    int core_n, core_od, task_n, task_od;
    int cls[FR_SIM_NROLES];
    fr_sim_profile prof[FR_SIM_NROLES];
    int step_s_lo, step_s_hi; /* step time range, seconds */
    bool keep_alive;
    int idle_timeout;
    int concurrency;
    int nsteps;
    int kinds[4];
    char *config;  /* the parameter value */
    char tier[16];
    json_t *history; /* older values (strings) */
    int runs;
} tmpl;

static void pick_types(tmpl *t, fr_sim_rng *r, const fr_sim_catalog *cat)
{
    int catg = (int)fr_sim_rng_pick(r, (const double[]){45, 35, 20}, 3);
    const char *fam = t->graviton ? grav_families[catg][fr_sim_rng_next(r) % 2]
                                  : x86_families[catg][fr_sim_rng_next(r) % 3];
    static const int s_m[] = {1, 2}, m_m[] = {2, 4}, l_m[] = {4, 8, 12, 16};
    int mult = t->size == 'S' ? s_m[fr_sim_rng_next(r) % 2]
             : t->size == 'M' ? m_m[fr_sim_rng_next(r) % 2]
                              : l_m[fr_sim_rng_next(r) % 4];
    if (!type_for(cat, fam, mult, t->core, sizeof(t->core)))
        fr_strlcpy(t->core, t->graviton ? "r7g.4xlarge" : "r5.4xlarge", sizeof(t->core));
    /* task nodes: often the same family, sometimes a size apart */
    int tmult = chance(r, 0.6) ? mult : (chance(r, 0.5) ? mult * 2 : (mult > 1 ? mult / 2 : 1));
    if (!type_for(cat, fam, tmult, t->task, sizeof(t->task)))
        fr_strlcpy(t->task, t->core, sizeof(t->task));
    t->core2[0] = t->task2[0] = '\0';
    if (t->fleets && chance(r, 0.3)) {
        char f[16];
        family_of(t->core, f, sizeof(f));
        if (!type_for(cat, sibling_family(f), fr_sim_size_mult(t->core), t->core2, sizeof(t->core2)) ||
            strcmp(t->core2, t->core) == 0)
            t->core2[0] = '\0';
    }
    if (t->fleets && chance(r, 0.3)) {
        char f[16];
        family_of(t->task, f, sizeof(f));
        if (!type_for(cat, sibling_family(f), fr_sim_size_mult(t->task), t->task2, sizeof(t->task2)) ||
            strcmp(t->task2, t->task) == 0)
            t->task2[0] = '\0';
    }
    static const char *masters[] = {"m5.xlarge", "m6g.xlarge", "m7g.xlarge", "m6i.xlarge", "r5.xlarge"};
    static const char *big_masters[] = {"m5.2xlarge", "m6g.2xlarge", "m7g.2xlarge", "r6g.2xlarge"};
    fr_strlcpy(t->master, t->size == 'L' ? big_masters[fr_sim_rng_next(r) % 4] : masters[fr_sim_rng_next(r) % 5],
               sizeof(t->master));
}

/* ---- config rendering (the formatting varies on purpose) ---- */

typedef struct kv {
    const char *k;
    json_t *v;
} kv;

static json_t *shuffled_object(fr_sim_rng *r, kv *items, size_t n, bool shuffle)
{
    if (shuffle)
        for (size_t i = n; i > 1; i--) {
            size_t j = fr_sim_rng_next(r) % i;
            kv tmp = items[i - 1];
            items[i - 1] = items[j];
            items[j] = tmp;
        }
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        if (items[i].v)
            json_object_set_new(o, items[i].k, items[i].v);
    return o;
}

static json_t *ebs_config(fr_sim_rng *r, const char *type)
{
    int mult = fr_sim_size_mult(type);
    int size = mult >= 8 ? 512 : mult >= 4 ? 256 : 128;
    int vols = chance(r, 0.2) ? 2 : 1;
    json_t *vs = json_pack("{s:s, s:i}", "VolumeType", chance(r, 0.8) ? "gp3" : "gp2", "SizeInGB", size);
    if (chance(r, 0.3))
        json_object_set_new(vs, "Iops", json_integer(3000));
    return json_pack("{s:[{s:o, s:i}], s:b}", "EbsBlockDeviceConfigs", "VolumeSpecification", vs,
                     "VolumesPerInstance", vols, "EbsOptimized", 1);
}

static int weight_for(const tmpl *t, const fr_sim_catalog *cat, const char *type)
{
    if (t->weight_mode == 0)
        return 1;
    const fr_sim_itype *it = fr_sim_catalog_find(cat, type);
    int w = it ? it->vcpu / 4 : 1;
    return w < 1 ? 1 : w;
}

static json_t *type_config(fr_sim_rng *r, const tmpl *t, const fr_sim_catalog *cat, const char *type, bool spot)
{
    kv items[5];
    size_t n = 0;
    items[n++] = (kv){"InstanceType", json_string(type)};
    items[n++] = (kv){"WeightedCapacity", json_integer(weight_for(t, cat, type))};
    if (spot)
        items[n++] = (kv){"BidPriceAsPercentageOfOnDemandPrice", chance(r, 0.5) ? json_integer(100) : json_real(100.0)};
    items[n++] = (kv){"EbsConfiguration", ebs_config(r, type)};
    if (chance(r, 0.15))
        items[n++] = (kv){"Configurations", json_pack("[{s:s, s:{s:s}}]", "Classification", "yarn-site", "Properties",
                                                      "yarn.nodemanager.vmem-check-enabled", "false")};
    return shuffled_object(r, items, n, chance(r, 0.3));
}

static json_t *fleet(fr_sim_rng *r, const tmpl *t, const fr_sim_catalog *cat, int role)
{
    const char *types[2];
    int nt = 0, count = 1, od = 1;
    if (role == FR_SIM_MASTER) {
        types[nt++] = t->master;
    } else if (role == FR_SIM_CORE) {
        types[nt++] = t->core;
        if (t->core2[0])
            types[nt++] = t->core2;
        count = t->core_n;
        od = t->core_od;
    } else {
        types[nt++] = t->task;
        if (t->task2[0])
            types[nt++] = t->task2;
        count = t->task_n;
        od = t->task_od;
    }
    int w = role == FR_SIM_MASTER ? 1 : weight_for(t, cat, types[0]);
    json_t *cfgs = json_array();
    for (int i = 0; i < nt; i++)
        json_array_append_new(cfgs, type_config(r, t, cat, types[i], role != FR_SIM_MASTER && od < count));
    kv items[6];
    size_t n = 0;
    items[n++] = (kv){"Name", json_string(role == FR_SIM_MASTER ? "Master" : role == FR_SIM_CORE ? "Core" : "Task")};
    items[n++] = (kv){"InstanceFleetType", json_string(fr_sim_role_name(role))};
    items[n++] = (kv){"TargetOnDemandCapacity", json_integer((json_int_t)od * (role == FR_SIM_MASTER ? 1 : w))};
    items[n++] = (kv){"TargetSpotCapacity", json_integer((json_int_t)(count - od) * (role == FR_SIM_MASTER ? 1 : w))};
    items[n++] = (kv){"InstanceTypeConfigs", cfgs};
    if (role != FR_SIM_MASTER && od < count)
        items[n++] = (kv){"LaunchSpecifications",
                          json_pack("{s:{s:i, s:s, s:s}}", "SpotSpecification", "TimeoutDurationMinutes",
                                    (int)fr_sim_rng_range(r, 10, 30), "TimeoutAction",
                                    chance(r, 0.7) ? "SWITCH_TO_ON_DEMAND" : "TERMINATE_CLUSTER", "AllocationStrategy",
                                    chance(r, 0.7) ? "capacity-optimized" : "price-capacity-optimized")};
    return shuffled_object(r, items, n, chance(r, 0.25));
}

static json_t *group(fr_sim_rng *r, const tmpl *t, int role)
{
    const char *type = role == FR_SIM_MASTER ? t->master : role == FR_SIM_CORE ? t->core : t->task;
    int count = role == FR_SIM_MASTER ? 1 : role == FR_SIM_CORE ? t->core_n : t->task_n;
    bool spot = role == FR_SIM_TASK && t->task_od < t->task_n;
    kv items[7];
    size_t n = 0;
    items[n++] = (kv){"Name", json_string(role == FR_SIM_MASTER ? "Master" : role == FR_SIM_CORE ? "Core" : "Task")};
    items[n++] = (kv){"InstanceRole", json_string(fr_sim_role_name(role))};
    items[n++] = (kv){"Market", json_string(spot ? "SPOT" : "ON_DEMAND")};
    if (spot)
        items[n++] = (kv){"BidPrice", json_string(chance(r, 0.5) ? "0.50" : "1.20")};
    items[n++] = (kv){"InstanceType", json_string(type)};
    items[n++] = (kv){"InstanceCount", json_integer(count)};
    items[n++] = (kv){"EbsConfiguration", ebs_config(r, type)};
    return shuffled_object(r, items, n, chance(r, 0.25));
}

static void subnet_id(char *out, size_t n, uint64_t h)
{
    snprintf(out, n, "subnet-0%016llx", (unsigned long long)(h & 0xffffffffffffffffULL) >> 4);
}

static json_t *instances_obj(fr_sim_rng *r, const tmpl *t, const fr_sim_catalog *cat, uint64_t seed)
{
    json_t *colls = json_array();
    for (int role = 0; role < FR_SIM_NROLES; role++) {
        if (role == FR_SIM_TASK && t->task_n == 0)
            continue;
        json_array_append_new(colls, t->fleets ? fleet(r, t, cat, role) : group(r, t, role));
    }
    kv items[8];
    size_t n = 0;
    items[n++] = (kv){t->fleets ? "InstanceFleets" : "InstanceGroups", colls};
    char sn[40];
    if (t->fleets) {
        json_t *subs = json_array();
        int ns = (int)fr_sim_rng_range(r, 1, 3);
        for (int i = 0; i < ns; i++) {
            subnet_id(sn, sizeof(sn), fr_sim_hash3(seed, 0x5b, (uint64_t)i));
            json_array_append_new(subs, json_string(sn));
        }
        items[n++] = (kv){"Ec2SubnetIds", subs};
    } else {
        subnet_id(sn, sizeof(sn), fr_sim_hash3(seed, 0x5b, fr_sim_rng_next(r) % 3));
        items[n++] = (kv){"Ec2SubnetId", json_string(sn)};
    }
    items[n++] = (kv){"KeepJobFlowAliveWhenNoSteps", json_boolean(t->keep_alive)};
    items[n++] = (kv){"TerminationProtected", json_false()};
    items[n++] = (kv){"Ec2KeyName", json_string("emr-prod-key")};
    items[n++] = (kv){"EmrManagedMasterSecurityGroup", json_string("sg-0e1a2b3c4d5e6f701")};
    items[n++] = (kv){"EmrManagedSlaveSecurityGroup", json_string("sg-0e1a2b3c4d5e6f702")};
    return shuffled_object(r, items, n, chance(r, 0.4));
}

static json_t *graviton_value(fr_sim_rng *r, bool g)
{
    double x = fr_sim_rng_unit(r);
    if (x < 0.5)
        return json_boolean(g);
    if (x < 0.75)
        return json_string(g ? "true" : "false");
    return json_string(g ? "True" : "False");
}

static size_t dump_flags(fr_sim_rng *r, bool *ascii)
{
    size_t f = JSON_PRESERVE_ORDER;
    double x = fr_sim_rng_unit(r);
    if (x < 0.35)
        f |= JSON_COMPACT;
    else if (x < 0.5)
        f |= 0; /* one line with ", " and ": " */
    else if (x < 0.8)
        f |= JSON_INDENT(2);
    else
        f |= JSON_INDENT(4);
    if (chance(r, 0.2))
        f |= JSON_ESCAPE_SLASH;
    *ascii = chance(r, 0.2);
    if (*ascii)
        f |= JSON_ENSURE_ASCII;
    return f;
}

static char *render_config(fr_sim_rng *r, const tmpl *t, const fr_sim_catalog *cat, uint64_t seed, int extra_cfgs)
{
    json_t *inst = instances_obj(r, t, cat, seed);
    bool inst_string = chance(r, 0.85);
    json_t *inst_v;
    if (inst_string) {
        char *s = json_dumps(inst, JSON_PRESERVE_ORDER | (chance(r, 0.75) ? JSON_COMPACT : JSON_INDENT(2)));
        inst_v = json_string(s ? s : "{}");
        free(s);
        json_decref(inst);
    } else {
        inst_v = inst;
    }
    json_t *apps = json_array();
    json_array_append_new(apps, json_pack("{s:s}", "Name", "Spark"));
    json_array_append_new(apps, json_pack("{s:s}", "Name", "Hadoop"));
    if (chance(r, 0.4))
        json_array_append_new(apps, json_pack("{s:s}", "Name", "Hive"));
    if (chance(r, 0.2))
        json_array_append_new(apps, json_pack("{s:s}", "Name", "Livy"));
    json_t *cfgs = json_array();
    char mem[16];
    snprintf(mem, sizeof(mem), "%dg", 4 << (fr_sim_rng_next(r) % 4));
    json_array_append_new(cfgs, json_pack("{s:s, s:{s:s, s:s, s:s}}", "Classification", "spark-defaults", "Properties",
                                          "spark.dynamicAllocation.enabled", "true", "spark.executor.memory", mem,
                                          "spark.sql.adaptive.enabled", "true"));
    if (chance(r, 0.5))
        json_array_append_new(cfgs, json_pack("{s:s, s:{s:s}}", "Classification", "yarn-site", "Properties",
                                              "yarn.nodemanager.resource.memory-mb", "57344"));
    for (int i = 0; i < extra_cfgs; i++) {
        char k[64], v[160];
        snprintf(k, sizeof(k), "spark.hadoop.fs.s3a.bucket.acme-data-%02d.endpoint.region", i);
        snprintf(v, sizeof(v), "us-east-1");
        json_t *props = json_object();
        json_object_set_new(props, k, json_string(v));
        snprintf(k, sizeof(k), "spark.sql.catalog.lake_%02d.warehouse", i);
        snprintf(v, sizeof(v), "s3://acme-lakehouse-%02d/warehouse/%s/", i, t->name);
        json_object_set_new(props, k, json_string(v));
        json_array_append_new(cfgs, json_pack("{s:s, s:o}", "Classification", "spark-defaults", "Properties", props));
    }
    json_t *tags = json_array();
    json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", "team", "Value", teams[fr_sim_rng_next(r) % 6]));
    char cc[16];
    snprintf(cc, sizeof(cc), "CC-%04d", (int)fr_sim_rng_range(r, 1000, 9999));
    json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", "cost-center", "Value", cc));
    json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", "env", "Value", "prod"));
    json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", "owner", "Value", owners[fr_sim_rng_next(r) % 6]));
    char log[160];
    snprintf(log, sizeof(log), "s3://acme-emr-logs/%s/", t->name);
    static const char *releases[] = {"emr-6.15.0", "emr-7.1.0", "emr-6.10.0", "emr-7.2.0"};
    kv items[16];
    size_t n = 0;
    items[n++] = (kv){"Name", json_string(t->name)};
    items[n++] = (kv){"ReleaseLabel", json_string(releases[fr_sim_rng_next(r) % 4])};
    items[n++] = (kv){"LogUri", json_string(log)};
    items[n++] = (kv){"GravitonAmi", graviton_value(r, t->graviton)};
    items[n++] = (kv){"Applications", apps};
    items[n++] = (kv){"Instances", inst_v};
    items[n++] = (kv){"Configurations", cfgs};
    if (chance(r, 0.5))
        items[n++] = (kv){"BootstrapActions",
                          json_pack("[{s:s, s:{s:s, s:[]}}]", "Name", "install-deps", "ScriptBootstrapAction", "Path",
                                    "s3://acme-emr-bootstrap/install-deps.sh", "Args")};
    items[n++] = (kv){"Tags", tags};
    items[n++] = (kv){"StepConcurrencyLevel", json_integer(t->concurrency)};
    if (t->keep_alive && t->idle_timeout > 0)
        items[n++] = (kv){"AutoTerminationPolicy", json_pack("{s:i}", "IdleTimeout", t->idle_timeout)};
    items[n++] = (kv){"ServiceRole", json_string("EMR_DefaultRole")};
    items[n++] = (kv){"JobFlowRole", json_string("EMR_EC2_DefaultRole")};
    items[n++] = (kv){"VisibleToAllUsers", json_true()};
    if (chance(r, 0.3))
        items[n++] = (kv){"SecurityConfiguration", json_string("emr-sec-config-prod")};
    json_t *cfg = shuffled_object(r, items, n, chance(r, 0.5));
    bool ascii;
    size_t flags = dump_flags(r, &ascii);
    char *s = json_dumps(cfg, flags);
    json_decref(cfg);
    return s;
}

/* ---- steps ---- */

static json_t *step_args(const tmpl *t, int kind, const char *run_id)
{
    char cls[160], jar[200];
    char lower[64];
    fr_strlcpy(lower, t->name, sizeof(lower));
    for (char *p = lower; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p == '-' ? '_' : *p);
    snprintf(cls, sizeof(cls), "com.acme.%s.%c%s", lower, step_kinds[kind][0] - 32, step_kinds[kind] + 1);
    snprintf(jar, sizeof(jar), "s3://acme-emr-jobs/%s/%s.jar", t->name, step_kinds[kind]);
    return json_pack("[s, s, s, s, s, s, s, s]", "spark-submit", "--deploy-mode", "cluster", "--class", cls, jar,
                     "--run-id", run_id);
}

/* ---- generation ---- */

static void make_template(tmpl *t, int idx, fr_sim_rng *r, const fr_sim_world_opts *o, int ntmpl)
{
    memset(t, 0, sizeof(*t));
    size_t nb = FR_ARRAY_SIZE(base_names);
    const char *base = base_names[idx % nb];
    const char *suffix = name_suffixes[(idx / nb) % FR_ARRAY_SIZE(name_suffixes)];
    if (idx >= (int)(nb * FR_ARRAY_SIZE(name_suffixes)))
        snprintf(t->name, sizeof(t->name), "%s-%d", base, idx / (int)nb);
    else
        snprintf(t->name, sizeof(t->name), "%s%s", base, suffix);
    t->size = fr_str_endswith(base, "-S") ? 'S' : fr_str_endswith(base, "-L") ? 'L' : fr_str_endswith(base, "-M") ? 'M' : "SML"[fr_sim_rng_pick(r, (const double[]){35, 40, 25}, 3)];
    t->graviton = chance(r, 0.55);
    t->fleets = chance(r, 0.8);
    t->weight_mode = t->fleets && chance(r, 0.25) ? 1 : 0;
    pick_types(t, r, o->cat);
    t->core_n = (int)fr_sim_rng_range(r, t->size == 'S' ? 2 : 3, t->size == 'L' ? 15 : 10);
    t->core_od = t->fleets ? (int)fr_sim_rng_range(r, 0, t->core_n > 2 ? 2 : t->core_n) : t->core_n;
    t->task_n = chance(r, 0.65) ? (int)fr_sim_rng_range(r, 2, t->size == 'S' ? 6 : 15) : 0;
    t->task_od = t->task_n && chance(r, 0.2) ? t->task_n : 0;
    /* every sizing class appears among the first templates' CORE nodes */
    t->cls[FR_SIM_CORE] = idx < CL_COUNT && ntmpl >= 1 ? idx % CL_COUNT : (int)(fr_sim_rng_next(r) % CL_COUNT);
    t->cls[FR_SIM_TASK] = (int)(fr_sim_rng_next(r) % CL_COUNT);
    if (t->size == 'S') {
        t->step_s_lo = 8 * 60;
        t->step_s_hi = 50 * 60;
    } else if (t->size == 'M') {
        t->step_s_lo = 45 * 60;
        t->step_s_hi = 150 * 60;
    } else {
        t->step_s_lo = 120 * 60;
        t->step_s_hi = 450 * 60;
    }
    /* short spikes need a run long enough that they stay under 5% of it */
    for (int role = FR_SIM_CORE; role <= FR_SIM_TASK; role++)
        if (t->cls[role] == CL_SPIKY && t->step_s_lo < 100 * 60) {
            t->step_s_lo = 100 * 60;
            if (t->step_s_hi < t->step_s_lo + 1800)
                t->step_s_hi = t->step_s_lo + 1800;
        }
    master_profile(r, &t->prof[FR_SIM_MASTER]);
    for (int role = FR_SIM_CORE; role <= FR_SIM_TASK; role++)
        make_profile(t->cls[role], r, o->traces, &t->prof[role]);
    t->keep_alive = chance(r, 0.8);
    t->idle_timeout = t->keep_alive ? (int)fr_sim_rng_range(r, 2, 12) * 300 : 0;
    t->concurrency = chance(r, 0.8) ? 1 : 2;
    t->nsteps = (int)fr_sim_rng_range(r, 1, 4);
    /* distinct kinds: a step's Jar and Args identify its work */
    for (int k = 0; k < t->nsteps; k++) {
        bool dup;
        do {
            t->kinds[k] = (int)(fr_sim_rng_next(r) % FR_ARRAY_SIZE(step_kinds));
            dup = false;
            for (int x = 0; x < k; x++)
                dup = dup || t->kinds[x] == t->kinds[k];
        } while (dup);
    }
    uint64_t tseed = fr_sim_hash_str(o->seed, t->name);
    int extra = t->size == 'L' && chance(r, 0.4) ? (int)fr_sim_rng_range(r, 12, 22) : 0;
    t->config = render_config(r, t, o->cat, tseed, extra);
    if (t->config && strlen(t->config) > 8192) {
        free(t->config);
        t->config = render_config(r, t, o->cat, tseed, 0);
    }
    fr_strlcpy(t->tier, t->config && strlen(t->config) > 4096 ? "Advanced" : "Standard", sizeof(t->tier));
    /* a few parameters have older versions (an earlier, bigger sizing) */
    t->history = json_array();
    if (chance(r, 0.3)) {
        tmpl old = *t;
        int m = fr_sim_size_mult(t->core);
        char f[16];
        family_of(t->core, f, sizeof(f));
        if (type_for(o->cat, f, m * 2, old.core, sizeof(old.core))) {
            old.core2[0] = '\0';
            char *v = render_config(r, &old, o->cat, tseed, 0);
            if (v && strlen(v) <= 4096)
                json_array_append_new(t->history, json_string(v));
            free(v);
        }
    }
}

static json_t *profiles_json(const tmpl *t)
{
    json_t *p = json_object();
    for (int role = 0; role < FR_SIM_NROLES; role++) {
        if (role == FR_SIM_TASK && t->task_n == 0)
            continue;
        json_t *j = fr_sim_profile_to_json(&t->prof[role]);
        expectations(&t->prof[role], j);
        json_object_set_new(p, fr_sim_role_name(role), j);
    }
    return p;
}

static void type_counts(const tmpl *t, json_t *cl)
{
    json_t *nodes = json_object();
    json_object_set_new(nodes, "MASTER", json_pack("{s:s, s:i}", "type", t->master, "count", 1));
    json_object_set_new(nodes, "CORE", json_pack("{s:s, s:i}", "type", t->core, "count", t->core_n));
    if (t->task_n)
        json_object_set_new(nodes, "TASK", json_pack("{s:s, s:i}", "type", t->task, "count", t->task_n));
    json_object_set_new(cl, "nodes", nodes);
}

/* How much of a role's vCPU the job would use, by the role's sizing class. */
static void demand_range(int cls, double *lo, double *hi)
{
    switch (cls) {
    case CL_HEAVY:
    case CL_SPIKY:
        *lo = 0.2;
        *hi = 0.4;
        break;
    case CL_MODERATE:
        *lo = 0.5;
        *hi = 0.75;
        break;
    case CL_UNDER:
        *lo = 1.6;
        *hi = 3.0;
        break;
    default:
        *lo = 0.9;
        *hi = 1.1;
        break;
    }
}

static json_t *make_run(tmpl *t, int run, fr_sim_rng *r, const fr_sim_world_opts *o)
{
    json_t *req_inst = NULL;
    {
        json_t *cfg = json_loads(t->config, 0, NULL);
        json_t *iv = json_object_get(cfg, "Instances");
        req_inst = json_is_string(iv) ? json_loads(json_string_value(iv), 0, NULL) : json_incref(iv);
        json_decref(cfg);
    }
    int vcpu;
    double mem;
    fr_sim_instances_capacity(o->cat, req_inst, &vcpu, &mem);
    json_decref(req_inst);

    double w[] = {70, 10, 12, 8};
    int outcome = (int)fr_sim_rng_pick(r, w, 4); /* 0 TERMINATED, 1 ERRORS, 2 RUNNING, 3 WAITING */
    if (outcome == 3 && !t->keep_alive)
        outcome = 2;
    int prov = (int)fr_sim_rng_range(r, 90, 240), boot = (int)fr_sim_rng_range(r, 120, 300);
    int steps_s = (int)fr_sim_rng_range(r, t->step_s_lo, t->step_s_hi);
    int idle = t->keep_alive ? (t->idle_timeout > 0 ? t->idle_timeout : 0) : 0;
    const int term = 160; /* upper bound of the terminating phase */
    int total = prov + boot + steps_s + idle + term;
    if (total > 86400 - 900) {
        steps_s -= total - (86400 - 900);
        total = 86400 - 900;
    }
    const char *fail = NULL;
    int fail_step = -1;
    if (outcome == 1) {
        if (chance(r, 0.25))
            fail = "BOOTSTRAP_FAILURE";
        else
            fail_step = (int)(fr_sim_rng_next(r) % (uint64_t)t->nsteps);
    }
    char id[24];
    fr_sim_id_emr(id, sizeof(id), "j-", fr_sim_hash3(o->seed, 0x77, (uint64_t)run));
    char run_id[96];
    snprintf(run_id, sizeof(run_id), "%s-run-%04d", t->name, run);
    json_t *cl = json_object();
    json_object_set_new(cl, "id", json_string(id));
    json_object_set_new(cl, "name", json_string(t->name));
    json_object_set_new(cl, "provision_s", json_integer(prov));
    json_object_set_new(cl, "bootstrap_s", json_integer(boot));
    static const char *outcomes[] = {"TERMINATED", "TERMINATED_WITH_ERRORS", "RUNNING", "WAITING"};
    json_object_set_new(cl, "outcome", json_string(outcomes[outcome]));
    if (fail)
        json_object_set_new(cl, "failure", json_pack("{s:s, s:s}", "code", fail, "message",
                                                     "On the master instance, bootstrap action 1 returned a non-zero "
                                                     "return code"));
    json_object_set_new(cl, "config", json_string(t->config));
    json_object_set_new(cl, "capacity", json_pack("{s:i, s:f}", "vcpu", vcpu, "mem_gib", mem));
    type_counts(t, cl);
    /* steps: shares of the step time. The job's parallelism is what its
     * nodes' sizing classes say it demands, weighted by each role's vCPU:
     * below the capacity for oversized roles (a smaller cluster would not
     * be slower), above it for undersized ones (a bigger one would be
     * faster) -- so a CORE that idles does not hide a TASK that starves. */
    json_t *steps = json_array();
    double shares[4], tot = 0;
    for (int k = 0; k < t->nsteps; k++)
        tot += shares[k] = urange(r, 0.5, 1.5);
    double pf_lo = 0, pf_hi = 0, role_vcpu = 0;
    for (int role = FR_SIM_CORE; role <= FR_SIM_TASK; role++) {
        int n = role == FR_SIM_CORE ? t->core_n : t->task_n;
        const fr_sim_itype *it = fr_sim_catalog_find(o->cat, role == FR_SIM_CORE ? t->core : t->task);
        if (n <= 0 || !it)
            continue;
        double lo, hi;
        demand_range(t->cls[role], &lo, &hi);
        double v = (double)n * it->vcpu;
        pf_lo += v * lo;
        pf_hi += v * hi;
        role_vcpu += v;
    }
    if (role_vcpu > 0) {
        pf_lo /= role_vcpu;
        pf_hi /= role_vcpu;
    } else {
        pf_lo = 0.9;
        pf_hi = 1.1;
    }
    const fr_sim_profile *cp = &t->prof[FR_SIM_CORE];
    double dur[4];
    for (int k = 0; k < t->nsteps; k++) {
        double d = steps_s * shares[k] / tot;
        double overhead = round(urange(r, 20, 90));
        if (d < overhead + 30)
            d = overhead + 30;
        int par = (int)ceil(vcpu * urange(r, pf_lo, pf_hi));
        if (par < 1)
            par = 1;
        int eff = par < vcpu ? par : vcpu;
        double work = round((d - overhead) * eff);
        dur[k] = overhead + work / eff;
        double memneed = round(mem * cp->mem / 100.0 * urange(r, 0.9, 1.05));
        char name[96];
        snprintf(name, sizeof(name), "%s-%s", t->name, step_kinds[t->kinds[k]]);
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        json_t *st = json_pack("{s:s, s:s, s:o, s:s, s:f, s:i, s:f, s:f, s:b}", "name", name, "jar",
                               "command-runner.jar", "args", step_args(t, t->kinds[k], run_id), "action_on_failure",
                               k == fail_step ? "TERMINATE_CLUSTER" : (chance(r, 0.7) ? "CONTINUE" : "TERMINATE_CLUSTER"),
                               "work_vcpu_s", work, "parallelism", par, "mem_gib", memneed, "overhead_s", overhead,
                               "fail", k == fail_step);
        json_array_append_new(steps, st);
    }
    /* the steps' makespan with the cluster's step concurrency decides when
     * the cluster is idle: list scheduling, as the EMR model runs them */
    double slots[4] = {0, 0, 0, 0};
    for (int k = 0; k < t->nsteps; k++) {
        int best = 0;
        for (int x = 1; x < t->concurrency && x < 4; x++)
            if (slots[x] < slots[best])
                best = x;
        slots[best] += dur[k];
    }
    double makespan = 0;
    for (int x = 0; x < 4; x++)
        if (slots[x] > makespan)
            makespan = slots[x];
    steps_s = (int)ceil(makespan);
    total = prov + boot + steps_s + idle + term;
    int64_t start;
    if (total > 86400 - 900)
        total = 86400 - 900;
    switch (outcome) {
    case 2: /* mid-steps now */
        start = -(int64_t)(prov + boot) - (int64_t)(steps_s * urange(r, 0.1, 0.8));
        break;
    case 3: /* steps done, idle, not yet timed out */
        start = -(int64_t)(prov + boot + steps_s) - (int64_t)((idle ? idle : 1800) * urange(r, 0.1, 0.7));
        break;
    default:
        start = -(int64_t)total - fr_sim_rng_range(r, 300, 86400 - total - 300 > 300 ? 86400 - total - 300 : 301);
    }
    json_object_set_new(cl, "steps", steps);
    json_object_set_new(cl, "start_offset_s", json_integer(start));
    json_object_set_new(cl, "expected_runtime_s", json_integer(outcome <= 1 ? total - term + 100 : -1));
    json_object_set_new(cl, "profiles", profiles_json(t));
    return cl;
}

static json_t *make_ec2(int i, fr_sim_rng *r, const fr_sim_world_opts *o)
{
    static const char *types[] = {"m5.large", "m5.xlarge", "c5.xlarge", "r5.large", "m6i.large",
                                  "c6i.2xlarge", "m6g.large", "r6g.xlarge", "c7g.xlarge", "m7i.large"};
    static const char *apps[] = {"api", "web", "worker", "batch", "cache", "ingest"};
    static const char *classes[] = {"over_provisioned", "right_sized", "under_provisioned"};
    const char *letters = strcmp(o->region, "us-east-1") == 0 ? "abcdef" : "abc";
    char id[32], az[40], name[48];
    fr_sim_id_ec2(id, sizeof(id), "i-", fr_sim_hash3(o->seed, 0xec2, (uint64_t)i));
    snprintf(az, sizeof(az), "%s%c", o->region, letters[fr_sim_rng_next(r) % strlen(letters)]);
    snprintf(name, sizeof(name), "%s-%d", apps[fr_sim_rng_next(r) % 6], i + 1);
    int cls = i < 3 ? i : (int)(fr_sim_rng_next(r) % 3);
    fr_sim_profile p;
    memset(&p, 0, sizeof(p));
    fr_strlcpy(p.klass, classes[cls], sizeof(p.klass));
    p.shape = o->traces && o->traces->n && chance(r, 0.4) ? FR_SIM_SHAPE_TRACE : FR_SIM_SHAPE_DIURNAL;
    if (cls == 0) {
        p.cpu = urange(r, 8, 18);
        p.mem = urange(r, 18, 30);
    } else if (cls == 1) {
        p.cpu = urange(r, 40, 60);
        p.mem = urange(r, 45, 65);
    } else {
        p.cpu = urange(r, 84, 92);
        p.mem = urange(r, 60, 85);
    }
    p.cpu = round(p.cpu * 100) / 100;
    p.mem = round(p.mem * 100) / 100;
    p.cpu_amp = 5;
    p.mem_amp = 3;
    if (p.shape == FR_SIM_SHAPE_TRACE)
        pick_trace(r, o->traces, &p, false);
    json_t *tags = json_pack("{s:s, s:s}", "Name", name, "team", teams[fr_sim_rng_next(r) % 6]);
    bool managed = i < 2 || chance(r, 0.75);
    if (managed)
        json_object_set_new(tags, "frugal:managed", json_string("true"));
    json_t *prof = fr_sim_profile_to_json(&p);
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "id", id, "type", types[fr_sim_rng_next(r) % 10], "az",
                     az, "market", i == 0 || chance(r, 0.6) ? "spot" : "on-demand", "start_offset_s",
                     (json_int_t)-fr_sim_rng_range(r, 3600, 14 * 86400), "tags", tags, "profile", prof);
}

int fr_sim_world_generate(const fr_sim_world_opts *o, json_t **out)
{
    fr_sim_rng r;
    fr_sim_rng_init(&r, o->seed);
    int n = o->clusters < 0 ? 0 : o->clusters;
    int ntmpl = n <= 3 ? n : (int)lround(n * 0.55);
    if (ntmpl < (n > 0 ? 1 : 0))
        ntmpl = 1;
    if (ntmpl > 400)
        ntmpl = 400;
    tmpl *ts = calloc(ntmpl ? (size_t)ntmpl : 1, sizeof(*ts));
    if (!ts)
        return -12;
    for (int i = 0; i < ntmpl; i++) {
        fr_sim_rng tr;
        fr_sim_rng_init(&tr, fr_sim_hash3(o->seed, 0x7e, (uint64_t)i));
        make_template(&ts[i], i, &tr, o, ntmpl);
    }
    json_t *clusters = json_array();
    for (int j = 0; j < n; j++) {
        int ti = j < ntmpl ? j : (int)(fr_sim_rng_next(&r) % (uint64_t)ntmpl);
        fr_sim_rng rr;
        fr_sim_rng_init(&rr, fr_sim_hash3(o->seed, 0x12, (uint64_t)j));
        ts[ti].runs++;
        json_array_append_new(clusters, make_run(&ts[ti], j, &rr, o));
    }
    json_t *params = json_array();
    for (int i = 0; i < ntmpl; i++) {
        char pname[200];
        snprintf(pname, sizeof(pname), "%s%s", FR_SIM_PARAM_PREFIX, ts[i].name);
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:O}", "name", pname, "value", ts[i].config ? ts[i].config : "{}",
                              "type", "String", "tier", ts[i].tier, "history", ts[i].history);
        json_array_append_new(params, p);
        free(ts[i].config);
        json_decref(ts[i].history);
    }
    free(ts);
    json_t *ec2 = json_array();
    int ne = o->ec2_instances < 0 ? 0 : o->ec2_instances;
    for (int i = 0; i < ne; i++) {
        fr_sim_rng er;
        fr_sim_rng_init(&er, fr_sim_hash3(o->seed, 0xe0, (uint64_t)i));
        json_array_append_new(ec2, make_ec2(i, &er, o));
    }
    json_t *azs = json_array();
    const char *letters = strcmp(o->region, "us-east-1") == 0 ? "abcdef" : "abc";
    for (const char *p = letters; *p; p++) {
        char az[40];
        snprintf(az, sizeof(az), "%s%c", o->region, *p);
        json_array_append_new(azs, json_string(az));
    }
    *out = json_pack("{s:i, s:I, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o}", "version", FR_SIM_WORLD_VERSION, "seed",
                     (json_int_t)o->seed, "region", o->region, "param_prefix", FR_SIM_PARAM_PREFIX, "lambda_function",
                     FR_SIM_LAMBDA_NAME, "traces", o->traces && o->traces->n > 0, "azs", azs, "clusters", clusters,
                     "parameters", params, "ec2_instances", ec2);
    return *out ? 0 : FR_EPARSE;
}
