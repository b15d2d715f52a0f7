/* The simulated EMR service, pure: clusters with instance fleets or groups,
 * instances with EC2 ids, steps whose duration follows the cluster's
 * capacity, and the state lifecycle, all evaluated lazily against a clock
 * value passed in (fr_sim_emr_advance). No loop, no I/O. */
#ifndef FR_SIM_EMR_H
#define FR_SIM_EMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "catalog.h"
#include "profile.h"
#include "util.h"

typedef enum { FR_SIM_MASTER = 0, FR_SIM_CORE = 1, FR_SIM_TASK = 2, FR_SIM_NROLES = 3 } fr_sim_role;

typedef enum {
    FR_SIM_CS_STARTING,
    FR_SIM_CS_BOOTSTRAPPING,
    FR_SIM_CS_RUNNING,
    FR_SIM_CS_WAITING,
    FR_SIM_CS_TERMINATING,
    FR_SIM_CS_TERMINATED,
    FR_SIM_CS_TERMINATED_WITH_ERRORS,
} fr_sim_cstate;

typedef enum {
    FR_SIM_SS_PENDING,
    FR_SIM_SS_RUNNING,
    FR_SIM_SS_COMPLETED,
    FR_SIM_SS_CANCELLED,
    FR_SIM_SS_FAILED,
    FR_SIM_SS_INTERRUPTED,
} fr_sim_sstate;

/* AMIs the cluster-submit Lambda puts on CORE/TASK configurations for the
 * GravitonAmi flag; EMR refuses an instance type of the other architecture. */
#define FR_SIM_AMI_ARM64 "ami-0a64f2ee1c0de4a64"
#define FR_SIM_AMI_X86 "ami-0b86e0a1f00d5c086"

typedef struct fr_sim_inst {
    char id[24];     /* ci-... */
    char ec2_id[24]; /* i-0... */
    char ip[16];
    char itype[32];
    char az[40];
    char subnet[40];
    int role;
    int coll;
    bool spot;
    uint64_t seed;
    int64_t end_ms;        /* own end (interruption); 0: ends with the cluster */
    char end_reason[40];   /* StateChangeReason code for an own end */
    struct fr_sim_cluster *cluster;
} fr_sim_inst;

typedef struct fr_sim_coll {
    char id[24]; /* if-... or ig-... */
    char name[64];
    int role;
    json_t *spec; /* the fleet or group config as requested (owned) */
    /* fleets */
    int target_od, target_spot;
    int prov_od, prov_spot;
    /* groups */
    char itype[32];
    int count;
    bool spot;
} fr_sim_coll;

/* How a step behaves: resolved when the step is created. */
typedef struct fr_sim_work {
    double vcpu_s;     /* CPU work in vCPU-seconds */
    int parallelism;   /* at most this many vCPUs help */
    double mem_gib;    /* working set; less memory than this spills */
    double overhead_s; /* fixed part */
} fr_sim_work;

typedef struct fr_sim_step {
    char id[24];
    char name[256];
    json_t *hadoop; /* HadoopJarStep as requested (owned) */
    char action_on_failure[32];
    fr_sim_work work;
    bool fail;
    double fail_at; /* fraction of the duration */
    int state;
    int64_t created_ms, start_ms, end_ms;
    int64_t planned_end_ms;
    char reason[64];
} fr_sim_step;

typedef struct fr_sim_cluster {
    char id[24];
    char name[256];
    char arn[160];
    json_t *req; /* the RunJobFlow input as accepted (owned) */
    bool fleets;
    fr_sim_coll *colls;
    size_t ncolls;
    fr_sim_inst *insts;
    size_t ninsts;
    fr_sim_step *steps;
    size_t nsteps, capsteps;
    fr_sim_profile prof[FR_SIM_NROLES];
    bool profiled[FR_SIM_NROLES]; /* from the world, or inherited from a run of the same name */
    uint64_t seed;
    int state;
    char reason_code[40];
    char reason_msg[256];
    int64_t created_ms, bootstrap_ms, ready_ms, terminating_ms, end_ms;
    int64_t cursor_ms;    /* steps are scheduled up to here */
    int64_t idle_since_ms;
    int64_t terminate_dur_ms;
    bool keep_alive;
    bool termination_protected;
    int64_t idle_timeout_s;
    int step_concurrency;
    bool fail_start;            /* fails before ready (validation/bootstrap) */
    char fail_code[40];
    char fail_msg[256];
    char az[40];
    char subnet[40];
    char source[16]; /* world, api, lambda */
    bool error_end;  /* ends TERMINATED_WITH_ERRORS */
} fr_sim_cluster;

typedef struct fr_sim_emr {
    fr_sim_cluster **clusters; /* creation order */
    size_t n, cap;
    fr_sim_map by_id;
    fr_sim_map by_ec2; /* i-... -> fr_sim_inst */
    fr_sim_map work_registry; /* step signature -> fr_sim_work */
    fr_sim_work **works; /* registered works (owned) */
    size_t nworks, capworks;
    uint64_t seed;
    uint64_t counter;
    const fr_sim_catalog *cat;
    char region[32];
    char account[16];
    int64_t t0_ms; /* world anchor: minutes for metrics are counted from here */
} fr_sim_emr;

/* Options a world entry (or a test) gives a new cluster; all optional. */
typedef struct fr_sim_emr_plan {
    const char *id;
    int64_t provision_s, bootstrap_s;
    const char *fail_code; /* BOOTSTRAP_FAILURE, VALIDATION_ERROR, INSTANCE_FAILURE */
    const char *fail_msg;
    const fr_sim_profile *prof[FR_SIM_NROLES];
    const char *source;
} fr_sim_emr_plan;

void fr_sim_emr_init(fr_sim_emr *e, const fr_sim_catalog *cat, uint64_t seed, const char *region,
                     const char *account, int64_t t0_ms);
void fr_sim_emr_free(fr_sim_emr *e);

const char *fr_sim_role_name(int role);
int fr_sim_role_parse(const char *s);
const char *fr_sim_cstate_name(int s);
int fr_sim_cstate_parse(const char *s);
const char *fr_sim_sstate_name(int s);

/* Creates a cluster from a RunJobFlow input (validated; the caller keeps
 * its reference to req). On a validation error returns FR_EPARSE with a
 * message in err. */
int fr_sim_emr_create(fr_sim_emr *e, const json_t *req, const fr_sim_emr_plan *plan, int64_t now,
                      fr_sim_cluster **out, char *err, size_t errlen);
/* Adds steps (StepConfig list); ids appended to ids (may be NULL). */
int fr_sim_emr_add_steps(fr_sim_emr *e, fr_sim_cluster *c, const json_t *steps, int64_t now, json_t *ids,
                         char *err, size_t errlen);
/* World steps: a step with a known work and failure plan. */
int fr_sim_emr_add_step_planned(fr_sim_emr *e, fr_sim_cluster *c, const json_t *stepcfg, const fr_sim_work *w,
                                bool fail, int64_t now);
/* Records that steps with this Jar/MainClass/Args do this much work. */
int fr_sim_emr_register_work(fr_sim_emr *e, const json_t *hadoop, const fr_sim_work *w);
/* Terminates (USER_REQUEST); FR_EDENIED when termination protected. */
int fr_sim_emr_terminate(fr_sim_emr *e, fr_sim_cluster *c, int64_t now, const char *code, const char *msg);

/* Moves a cluster's state machine forward to `now`. */
void fr_sim_emr_advance(fr_sim_emr *e, fr_sim_cluster *c, int64_t now);
fr_sim_cluster *fr_sim_emr_find(fr_sim_emr *e, const char *id);
fr_sim_inst *fr_sim_emr_find_instance(fr_sim_emr *e, const char *ec2_id);

/* An instance's life in ms: from launch (bootstrap start) to its end, or
 * end = -1 while it runs. launch = -1 when it never launched. */
void fr_sim_inst_life(const fr_sim_inst *i, int64_t *launch_ms, int64_t *end_ms);
const char *fr_sim_inst_state(const fr_sim_inst *i, int64_t now);
/* Ends one instance (spot interruption); the cluster keeps running. */
void fr_sim_emr_end_instance(fr_sim_inst *i, int64_t when, const char *code);

/* Step duration on this cluster, in ms (pure function of capacity). */
int64_t fr_sim_step_duration_ms(const fr_sim_cluster *c, const fr_sim_work *w, const fr_sim_catalog *cat);
/* vCPU and memory of the running CORE+TASK instances (MASTER when none). */
void fr_sim_cluster_capacity(const fr_sim_cluster *c, const fr_sim_catalog *cat, int *vcpu, double *mem_gib);
double fr_sim_cluster_normalized_hours(const fr_sim_cluster *c, int64_t now);

/* The instances a fleet gets: emit(arg, type, spot) once per instance, in
 * the order EMR provisions them (shared with the world generator). */
typedef int (*fr_sim_alloc_fn)(void *arg, const char *itype, bool spot);
int fr_sim_fleet_alloc(const json_t *fleet, fr_sim_alloc_fn emit, void *arg);
/* vCPU and memory of the CORE+TASK instances a RunJobFlow Instances
 * object asks for (MASTER when there are none). */
int fr_sim_instances_capacity(const fr_sim_catalog *cat, const json_t *instances, int *vcpu, double *mem_gib);

/* WeightedCapacity of an InstanceTypeConfig (default 1). */
int fr_sim_cfg_weight(const json_t *cfg);

/* ---- wire encoding (awsJson1_1 shapes, emr_json.c) ---- */
json_t *fr_sim_emr_cluster_summary(const fr_sim_cluster *c, int64_t now);
json_t *fr_sim_emr_cluster_json(const fr_sim_cluster *c, int64_t now);
json_t *fr_sim_emr_fleet_json(const fr_sim_cluster *c, const fr_sim_coll *f, int64_t now);
json_t *fr_sim_emr_group_json(const fr_sim_cluster *c, const fr_sim_coll *g, int64_t now);
json_t *fr_sim_emr_instance_json(const fr_sim_cluster *c, const fr_sim_inst *i, int64_t now);
json_t *fr_sim_emr_step_json(const fr_sim_step *s, bool summary);

#endif
