/* The EMR model on a fixed clock: lifecycle transitions and their times,
 * step durations from capacity, concurrency, failures and their actions,
 * idle timeout, termination, validation, the architecture check, fleet
 * allocation, and the cluster-config (Parameter Store) parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emr.h"
#include "emrconf.h"
#include "frugal/err.h"

#define T0 1800000000000LL
#define MIN 60000LL

static fr_sim_catalog cat;

static json_t *groups_req(const char *core, int n, bool keep, const char *extra_steps)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"Name\": \"T\", \"Instances\": {\"InstanceGroups\": ["
             "{\"InstanceRole\": \"MASTER\", \"InstanceType\": \"m5.xlarge\", \"InstanceCount\": 1},"
             "{\"InstanceRole\": \"CORE\", \"InstanceType\": \"%s\", \"InstanceCount\": %d}],"
             "\"KeepJobFlowAliveWhenNoSteps\": %s}%s}",
             core, n, keep ? "true" : "false", extra_steps ? extra_steps : "");
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    return j;
}

static json_t *step_cfg(const char *name, double work, int par, const char *aof, bool fail)
{
    char w[64], p[64];
    snprintf(w, sizeof(w), "--sim-work-vcpu-seconds=%.0f", work);
    snprintf(p, sizeof(p), "--sim-parallelism=%d", par);
    json_t *args = json_pack("[s, s, s]", w, p, "--sim-overhead-seconds=0");
    if (fail)
        json_array_append_new(args, json_string("--sim-fail"));
    return json_pack("{s:s, s:s, s:{s:s, s:o}}", "Name", name, "ActionOnFailure", aof, "HadoopJarStep", "Jar",
                     "command-runner.jar", "Args", args);
}

static fr_sim_cluster *make(fr_sim_emr *e, json_t *req, int64_t now)
{
    fr_sim_emr_plan plan = {.provision_s = 120, .bootstrap_s = 180};
    fr_sim_cluster *c;
    char err[256];
    int rc = fr_sim_emr_create(e, req, &plan, now, &c, err, sizeof(err));
    if (rc)
        fail_msg("create: %s", err);
    json_decref(req);
    return c;
}

static void test_lifecycle_and_steps(void **state)
{
    fr_sim_emr e;
    fr_sim_emr_init(&e, &cat, 1, "us-east-1", "123456789012", T0);
    fr_sim_cluster *c = make(&e, groups_req("m5.2xlarge", 2, false, NULL), T0);
    assert_int_equal(c->ninsts, 3);
    /* 2 x m5.2xlarge: 16 vCPU; 16*600 vCPU-s at parallelism 100 = 600 s */
    json_t *steps = json_array();
    json_array_append_new(steps, step_cfg("a", 16 * 600, 100, "CONTINUE", false));
    json_array_append_new(steps, step_cfg("b", 8 * 600, 8, "CONTINUE", false));
    char err[128];
    assert_int_equal(fr_sim_emr_add_steps(&e, c, steps, T0, NULL, err, sizeof(err)), 0);
    json_decref(steps);
    fr_sim_emr_advance(&e, c, T0 + 1000);
    assert_int_equal(c->state, FR_SIM_CS_STARTING);
    fr_sim_emr_advance(&e, c, T0 + 2 * MIN);
    assert_int_equal(c->state, FR_SIM_CS_BOOTSTRAPPING);
    assert_string_equal(fr_sim_inst_state(&c->insts[1], T0 + 2 * MIN), "BOOTSTRAPPING");
    fr_sim_emr_advance(&e, c, T0 + 5 * MIN);
    assert_int_equal(c->state, FR_SIM_CS_RUNNING);
    assert_int_equal(c->steps[0].state, FR_SIM_SS_RUNNING);
    assert_true(c->steps[0].start_ms == T0 + 5 * MIN);
    fr_sim_emr_advance(&e, c, T0 + 5 * MIN + 600000);
    assert_int_equal(c->steps[0].state, FR_SIM_SS_COMPLETED);
    assert_true(c->steps[0].end_ms == T0 + 5 * MIN + 600000);
    /* the second step can use only 8 vCPUs: 4800/8 = 600 s */
    assert_int_equal(c->steps[1].state, FR_SIM_SS_RUNNING);
    fr_sim_emr_advance(&e, c, T0 + 30 * MIN);
    assert_int_equal(c->steps[1].state, FR_SIM_SS_COMPLETED);
    assert_true(c->steps[1].end_ms == T0 + 25 * MIN);
    /* no keep-alive: terminating right after the last step, then gone */
    assert_true(c->state == FR_SIM_CS_TERMINATED);
    assert_string_equal(c->reason_code, "ALL_STEPS_COMPLETED");
    assert_true(c->end_ms == c->terminating_ms + c->terminate_dur_ms);
    assert_true(c->terminating_ms == T0 + 25 * MIN);
    int64_t l, en;
    fr_sim_inst_life(&c->insts[1], &l, &en);
    assert_true(l == T0 + 2 * MIN);
    assert_true(en == c->end_ms);
    assert_true(fr_sim_cluster_normalized_hours(c, T0 + 60 * MIN) == 8 + 16 * 2);
    fr_sim_emr_free(&e);
}

static void test_capacity_scaling_and_spill(void **state)
{
    fr_sim_emr e;
    fr_sim_emr_init(&e, &cat, 2, "us-east-1", "123456789012", T0);
    fr_sim_cluster *big = make(&e, groups_req("r5.4xlarge", 4, true, NULL), T0);
    fr_sim_cluster *small = make(&e, groups_req("r5.xlarge", 4, true, NULL), T0);
    fr_sim_work w = {64 * 1000, 1000, 0, 0};
    assert_true(fr_sim_step_duration_ms(big, &w, &cat) == 1000 * 1000);
    assert_true(fr_sim_step_duration_ms(small, &w, &cat) == 4000 * 1000);
    /* parallelism caps what more vCPUs buy */
    w.parallelism = 16;
    assert_true(fr_sim_step_duration_ms(big, &w, &cat) == fr_sim_step_duration_ms(small, &w, &cat));
    /* a working set beyond the memory spills: 4 x r5.xlarge = 128 GiB */
    w.parallelism = 1000;
    w.mem_gib = 256;
    assert_true(fr_sim_step_duration_ms(small, &w, &cat) == (int64_t)(4000 * 2.5 * 1000));
    fr_sim_emr_free(&e);
}

static void test_failure_actions_and_idle(void **state)
{
    fr_sim_emr e;
    fr_sim_emr_init(&e, &cat, 3, "us-east-1", "123456789012", T0);
    char err[128];
    fr_sim_cluster *c = make(&e, groups_req("m5.xlarge", 2, true, NULL), T0);
    json_t *steps = json_array();
    json_array_append_new(steps, step_cfg("ok", 100, 8, "CONTINUE", false));
    json_array_append_new(steps, step_cfg("bad", 8000, 8, "CANCEL_AND_WAIT", true));
    json_array_append_new(steps, step_cfg("never", 100, 8, "CONTINUE", false));
    assert_int_equal(fr_sim_emr_add_steps(&e, c, steps, T0, NULL, err, sizeof(err)), 0);
    json_decref(steps);
    fr_sim_emr_advance(&e, c, T0 + 200 * MIN);
    assert_int_equal(c->steps[0].state, FR_SIM_SS_COMPLETED);
    assert_int_equal(c->steps[1].state, FR_SIM_SS_FAILED);
    assert_int_equal(c->steps[2].state, FR_SIM_SS_CANCELLED);
    assert_int_equal(c->state, FR_SIM_CS_WAITING); /* keep-alive, no idle timeout */
    /* a new step later starts when added, not when the cluster went idle */
    steps = json_array();
    json_array_append_new(steps, step_cfg("later", 8 * 60, 8, "TERMINATE_CLUSTER", true));
    assert_int_equal(fr_sim_emr_add_steps(&e, c, steps, T0 + 300 * MIN, NULL, err, sizeof(err)), 0);
    json_decref(steps);
    fr_sim_emr_advance(&e, c, T0 + 300 * MIN + 1);
    assert_true(c->steps[3].start_ms == T0 + 300 * MIN);
    fr_sim_emr_advance(&e, c, T0 + 400 * MIN);
    assert_int_equal(c->state, FR_SIM_CS_TERMINATED_WITH_ERRORS);
    assert_string_equal(c->reason_code, "STEP_FAILURE");
    /* idle timeout */
    json_t *req = groups_req("m5.xlarge", 2, true, ", \"AutoTerminationPolicy\": {\"IdleTimeout\": 600}");
    fr_sim_cluster *d = make(&e, req, T0);
    assert_true(d->idle_timeout_s == 600);
    fr_sim_emr_advance(&e, d, T0 + 10 * MIN);
    assert_int_equal(d->state, FR_SIM_CS_WAITING);
    fr_sim_emr_advance(&e, d, T0 + 16 * MIN);
    assert_int_equal(d->state, FR_SIM_CS_TERMINATING);
    assert_true(d->terminating_ms == T0 + 5 * MIN + 600000);
    /* user termination, and protection */
    fr_sim_cluster *f = make(&e, groups_req("m5.xlarge", 1, true, NULL), T0);
    f->termination_protected = true;
    assert_int_equal(fr_sim_emr_terminate(&e, f, T0 + 10 * MIN, NULL, NULL), FR_EDENIED);
    f->termination_protected = false;
    assert_int_equal(fr_sim_emr_terminate(&e, f, T0 + 10 * MIN, NULL, NULL), 0);
    assert_string_equal(f->reason_code, "USER_REQUEST");
    fr_sim_emr_advance(&e, f, T0 + 20 * MIN);
    assert_int_equal(f->state, FR_SIM_CS_TERMINATED);
    fr_sim_emr_free(&e);
}

static void test_validation_and_architecture(void **state)
{
    fr_sim_emr e;
    fr_sim_emr_init(&e, &cat, 4, "us-east-1", "123456789012", T0);
    fr_sim_cluster *c;
    char err[256];
    json_t *req = groups_req("m5.giant", 2, true, NULL);
    assert_int_equal(fr_sim_emr_create(&e, req, NULL, T0, &c, err, sizeof(err)), FR_EPARSE);
    assert_non_null(strstr(err, "m5.giant"));
    json_decref(req);
    req = groups_req("r7g.large", 2, true, NULL); /* not EMR-supported in the catalog */
    assert_int_equal(fr_sim_emr_create(&e, req, NULL, T0, &c, err, sizeof(err)), FR_EPARSE);
    json_decref(req);
    req = json_loads("{\"Name\": \"x\", \"Instances\": {}}", 0, NULL);
    assert_int_equal(fr_sim_emr_create(&e, req, NULL, T0, &c, err, sizeof(err)), FR_EPARSE);
    json_decref(req);
    /* an x86 type under the arm64 AMI the Lambda chose */
    req = json_loads("{\"Name\": \"arch\", \"Instances\": {\"InstanceFleets\": ["
                     "{\"InstanceFleetType\": \"MASTER\", \"TargetOnDemandCapacity\": 1, \"InstanceTypeConfigs\": "
                     "[{\"InstanceType\": \"m5.xlarge\"}]},"
                     "{\"InstanceFleetType\": \"CORE\", \"TargetSpotCapacity\": 2, \"InstanceTypeConfigs\": "
                     "[{\"InstanceType\": \"r5.2xlarge\", \"CustomAmiId\": \"" FR_SIM_AMI_ARM64 "\"}]}]}}",
                     0, NULL);
    assert_int_equal(fr_sim_emr_create(&e, req, NULL, T0, &c, err, sizeof(err)), 0);
    json_decref(req);
    fr_sim_emr_advance(&e, c, T0 + 5 * MIN);
    assert_int_equal(c->state, FR_SIM_CS_TERMINATED_WITH_ERRORS);
    assert_string_equal(c->reason_code, "VALIDATION_ERROR");
    int64_t l, en;
    fr_sim_inst_life(&c->insts[0], &l, &en);
    assert_true(l < 0); /* never launched: no metrics */
    fr_sim_emr_free(&e);
}

static int count_emit(void *arg, const char *itype, bool spot)
{
    int *n = arg;
    n[spot ? 1 : 0]++;
    (void)itype;
    return 0;
}

static void test_fleet_allocation(void **state)
{
    json_t *f = json_loads("{\"InstanceFleetType\": \"CORE\", \"TargetOnDemandCapacity\": 8, \"TargetSpotCapacity\": 10,"
                           "\"InstanceTypeConfigs\": [{\"InstanceType\": \"r7g.4xlarge\", \"WeightedCapacity\": 4},"
                           "{\"InstanceType\": \"r6g.4xlarge\", \"WeightedCapacity\": 4}]}",
                           0, NULL);
    int n[2] = {0, 0};
    assert_int_equal(fr_sim_fleet_alloc(f, count_emit, n), 0);
    assert_int_equal(n[0], 2); /* 8 units on demand / weight 4 */
    assert_int_equal(n[1], 3); /* 10 spot units: 4 + 4 + 4 */
    json_t *inst = json_pack("{s:[O]}", "InstanceFleets", f);
    int vcpu;
    double mem;
    fr_sim_instances_capacity(&cat, inst, &vcpu, &mem);
    assert_int_equal(vcpu, 5 * 16);
    assert_true(mem == 5 * 128);
    json_decref(inst);
    json_decref(f);
}

static void test_work_registry(void **state)
{
    fr_sim_emr e;
    fr_sim_emr_init(&e, &cat, 5, "us-east-1", "123456789012", T0);
    json_t *h = json_pack("{s:s, s:[s, s]}", "Jar", "command-runner.jar", "Args", "spark-submit", "--run-id=7");
    fr_sim_work w = {12345, 77, 10, 42};
    assert_int_equal(fr_sim_emr_register_work(&e, h, &w), 0);
    fr_sim_cluster *c = make(&e, groups_req("m5.xlarge", 2, true, NULL), T0);
    json_t *steps = json_pack("[{s:s, s:O}]", "Name", "renamed replay", "HadoopJarStep", h);
    char err[64];
    assert_int_equal(fr_sim_emr_add_steps(&e, c, steps, T0, NULL, err, sizeof(err)), 0);
    assert_true(c->steps[0].work.vcpu_s == 12345);
    assert_int_equal(c->steps[0].work.parallelism, 77);
    json_decref(steps);
    json_decref(h);
    fr_sim_emr_free(&e);
}

static void test_profile_follows_capacity(void **state)
{
    fr_sim_emr e;
    fr_sim_emr_init(&e, &cat, 7, "us-east-1", "123456789012", T0);
    fr_sim_profile p = {.shape = FR_SIM_SHAPE_STEADY, .cpu = 20, .mem = 10, .cpu_amp = 2, .mem_amp = 1};
    fr_sim_emr_plan plan = {.prof = {NULL, &p, NULL}};
    fr_sim_cluster *a, *b, *other;
    char err[128];
    json_t *req = groups_req("r5.4xlarge", 4, true, NULL);
    assert_int_equal(fr_sim_emr_create(&e, req, &plan, T0, &a, err, sizeof(err)), 0);
    json_decref(req);
    assert_true(a->profiled[FR_SIM_CORE]);
    /* the same name on a quarter of the vCPUs and memory: four times the load */
    b = make(&e, groups_req("r5.xlarge", 4, true, NULL), T0 + MIN);
    assert_true(b->profiled[FR_SIM_CORE]);
    assert_true(b->prof[FR_SIM_CORE].cpu == 80);
    assert_true(b->prof[FR_SIM_CORE].mem == 40);
    /* capped below saturation */
    fr_sim_cluster *c = make(&e, groups_req("r5.xlarge", 1, true, NULL), T0 + 2 * MIN);
    assert_true(c->prof[FR_SIM_CORE].cpu == 98);
    json_t *r2 = json_loads("{\"Name\": \"other\", \"Instances\": {\"InstanceGroups\": [{\"InstanceRole\": \"MASTER\","
                            " \"InstanceType\": \"m5.xlarge\", \"InstanceCount\": 1}]}}", 0, NULL);
    assert_int_equal(fr_sim_emr_create(&e, r2, NULL, T0, &other, err, sizeof(err)), 0);
    json_decref(r2);
    assert_false(other->profiled[FR_SIM_CORE]);
    fr_sim_emr_free(&e);
}

static void test_emrconf(void **state)
{
    /* the example of docs/emr-config.md, Instances as a string */
    const char *doc =
        "{\"Name\": \"STRESS-TEMPLATE-S\", \"ReleaseLabel\": \"emr-6.15.0\", \"GravitonAmi\": \"True\","
        " \"Tags\": [{\"Key\": \"team\", \"Value\": \"x\"}], \"AutoTerminationPolicy\": {\"IdleTimeout\": 900},"
        " \"Instances\": \"{\\\"InstanceFleets\\\": [{\\\"Name\\\": \\\"Master\\\", \\\"InstanceFleetType\\\": "
        "\\\"MASTER\\\", \\\"TargetOnDemandCapacity\\\": 1, \\\"InstanceTypeConfigs\\\": [{\\\"InstanceType\\\": "
        "\\\"m7g.xlarge\\\"}]}, {\\\"Name\\\": \\\"Core\\\", \\\"InstanceFleetType\\\": \\\"CORE\\\", "
        "\\\"TargetOnDemandCapacity\\\": 2, \\\"TargetSpotCapacity\\\": 8, \\\"InstanceTypeConfigs\\\": "
        "[{\\\"InstanceType\\\": \\\"r7g.4xlarge\\\", \\\"WeightedCapacity\\\": 1, "
        "\\\"BidPriceAsPercentageOfOnDemandPrice\\\": 100}]}], \\\"Ec2SubnetIds\\\": [\\\"subnet-1\\\"]}\"}";
    json_t *req;
    char et[64], em[256];
    assert_int_equal(fr_sim_emrconf_to_request(doc, strlen(doc), &req, et, sizeof(et), em, sizeof(em)), 0);
    json_t *core = json_array_get(json_object_get(json_object_get(req, "Instances"), "InstanceFleets"), 1);
    json_t *cfg0 = json_array_get(json_object_get(core, "InstanceTypeConfigs"), 0);
    assert_string_equal(json_string_value(json_object_get(cfg0, "CustomAmiId")), FR_SIM_AMI_ARM64);
    json_t *master = json_array_get(json_object_get(json_object_get(req, "Instances"), "InstanceFleets"), 0);
    assert_null(json_object_get(json_array_get(json_object_get(master, "InstanceTypeConfigs"), 0), "CustomAmiId"));
    assert_non_null(json_object_get(req, "Tags"));
    assert_non_null(json_object_get(req, "AutoTerminationPolicy"));
    assert_null(json_object_get(req, "GravitonAmi"));
    fr_sim_emr e;
    fr_sim_emr_init(&e, &cat, 6, "us-east-1", "123456789012", T0);
    fr_sim_cluster *c;
    assert_int_equal(fr_sim_emr_create(&e, req, NULL, T0, &c, em, sizeof(em)), 0);
    assert_int_equal(c->ninsts, 11);
    assert_false(c->fail_start);
    json_decref(req);
    fr_sim_emr_free(&e);
    /* GravitonAmi forms */
    const char *forms[] = {"true", "\"true\"", "\"True\"", "\"TRUE\"", "false", "\"False\""};
    int want[] = {1, 1, 1, 1, 0, 0};
    for (size_t i = 0; i < 6; i++) {
        char b[128];
        snprintf(b, sizeof(b), "{\"GravitonAmi\": %s}", forms[i]);
        json_t *j = json_loads(b, 0, NULL);
        int g;
        assert_int_equal(fr_sim_emrconf_graviton(j, &g), 0);
        assert_int_equal(g, want[i]);
        json_decref(j);
    }
    /* errors named as a Python Lambda would */
    assert_int_not_equal(fr_sim_emrconf_to_request("{oops", 5, &req, et, sizeof(et), em, sizeof(em)), 0);
    assert_string_equal(et, "JSONDecodeError");
    const char *noinst = "{\"Name\": \"x\"}";
    assert_int_not_equal(fr_sim_emrconf_to_request(noinst, strlen(noinst), &req, et, sizeof(et), em, sizeof(em)), 0);
    assert_string_equal(et, "KeyError");
    const char *badg = "{\"Name\": \"x\", \"Instances\": {}, \"GravitonAmi\": \"yes\"}";
    assert_int_not_equal(fr_sim_emrconf_to_request(badg, strlen(badg), &req, et, sizeof(et), em, sizeof(em)), 0);
    assert_string_equal(et, "ValueError");
}

static int setup(void **state)
{
    return fr_sim_catalog_builtin(&cat);
}

static int teardown(void **state)
{
    fr_sim_catalog_free(&cat);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_and_steps),  cmocka_unit_test(test_capacity_scaling_and_spill),
        cmocka_unit_test(test_failure_actions_and_idle), cmocka_unit_test(test_validation_and_architecture),
        cmocka_unit_test(test_fleet_allocation),     cmocka_unit_test(test_work_registry),
        cmocka_unit_test(test_profile_follows_capacity), cmocka_unit_test(test_emrconf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
