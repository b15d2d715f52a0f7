/* The world generator: deterministic, every sizing class present, configs
 * varied yet valid, and -- a property over many seeds -- the metrics the
 * sim generates put every node type in the class the world says it is. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emrconf.h"
#include "frugal/str.h"
#include "sim.h"
#include "world.h"

static fr_sim_catalog cat;

static json_t *gen(uint64_t seed, int clusters)
{
    fr_sim_world_opts o = {seed, clusters, 6, "us-east-1", &cat, NULL};
    json_t *w;
    assert_int_equal(fr_sim_world_generate(&o, &w), 0);
    return w;
}

static void test_deterministic(void **state)
{
    json_t *a = gen(42, 30), *b = gen(42, 30), *c = gen(43, 30);
    assert_true(json_equal(a, b));
    assert_false(json_equal(a, c));
    char *sa = json_dumps(a, JSON_PRESERVE_ORDER), *sb = json_dumps(b, JSON_PRESERVE_ORDER);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_classes_and_names(void **state)
{
    json_t *w = gen(42, 12);
    json_t *clusters = json_object_get(w, "clusters");
    assert_int_equal(json_array_size(clusters), 12);
    const char *want[] = {"heavily_oversized", "moderately_oversized", "right_sized", "undersized", "cpu_heavy",
                          "memory_heavy", "spiky"};
    for (size_t k = 0; k < 7; k++) {
        bool found = false;
        size_t i;
        json_t *c;
        json_array_foreach(clusters, i, c)
        {
            const char *cls = fr_sim_jstr(json_object_get(json_object_get(c, "profiles"), "CORE"), "class");
            found = found || (cls && strcmp(cls, want[k]) == 0);
        }
        assert_true(found);
    }
    /* several runs share a template name */
    size_t i, j;
    json_t *c, *d;
    bool shared = false;
    json_array_foreach(clusters, i, c) json_array_foreach(clusters, j, d) if (i < j && strcmp(fr_sim_jstr(c, "name"), fr_sim_jstr(d, "name")) == 0) shared = true;
    assert_true(shared);
    bool stress = false;
    json_array_foreach(clusters, i, c) stress = stress || strcmp(fr_sim_jstr(c, "name"), "STRESS-TEMPLATE-S") == 0;
    assert_true(stress);
    json_decref(w);
}

static void test_configs_varied_and_valid(void **state)
{
    json_t *w = gen(5, 120);
    json_t *params = json_object_get(w, "parameters");
    int inst_string = 0, inst_object = 0, grav_bool = 0, grav_str = 0, grav_cap = 0, fleets = 0, groups = 0;
    int two_types = 0, indented = 0, compact = 0, advanced = 0, escaped = 0, history = 0;
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *name = fr_sim_jstr(p, "name");
        const char *v = fr_sim_jstr(p, "value");
        const char *tier = fr_sim_jstr(p, "tier");
        assert_true(fr_str_startswith(name, FR_SIM_PARAM_PREFIX));
        assert_true(strlen(v) <= 8192);
        assert_string_equal(tier, strlen(v) > 4096 ? "Advanced" : "Standard");
        advanced += strcmp(tier, "Advanced") == 0;
        indented += strstr(v, "\n  ") != NULL;
        compact += strchr(v, '\n') == NULL && strstr(v, "\":\"") != NULL;
        escaped += strstr(v, "\\/") != NULL || strstr(v, "\\u00") != NULL;
        history += json_array_size(json_object_get(p, "history")) > 0;
        json_t *cfg = json_loads(v, 0, NULL);
        assert_non_null(cfg);
        assert_string_equal(fr_sim_jstr(cfg, "Name"), name + strlen(FR_SIM_PARAM_PREFIX));
        json_t *iv = json_object_get(cfg, "Instances");
        inst_string += json_is_string(iv);
        inst_object += json_is_object(iv);
        json_t *g = json_object_get(cfg, "GravitonAmi");
        grav_bool += json_is_boolean(g);
        grav_str += json_is_string(g) && (strcmp(json_string_value(g), "true") == 0 || strcmp(json_string_value(g), "false") == 0);
        grav_cap += json_is_string(g) && (strcmp(json_string_value(g), "True") == 0 || strcmp(json_string_value(g), "False") == 0);
        json_t *inst = fr_sim_emrconf_instances(cfg);
        assert_non_null(inst);
        fleets += json_object_get(inst, "InstanceFleets") != NULL;
        groups += json_object_get(inst, "InstanceGroups") != NULL;
        int graviton;
        assert_int_equal(fr_sim_emrconf_graviton(cfg, &graviton), 0);
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(inst, "InstanceFleets"), k, f)
        {
            json_t *cfgs = json_object_get(f, "InstanceTypeConfigs");
            two_types += json_array_size(cfgs) > 1;
            const char *role = fr_sim_jstr(f, "InstanceFleetType");
            if (strcmp(role, "MASTER") == 0)
                continue;
            size_t x;
            json_t *tc;
            json_array_foreach(cfgs, x, tc)
            {
                /* GravitonAmi matches the CORE/TASK architecture */
                const fr_sim_itype *it = fr_sim_catalog_find(&cat, fr_sim_jstr(tc, "InstanceType"));
                assert_non_null(it);
                assert_true(it->emr);
                assert_int_equal((int)it->arm64, graviton);
            }
        }
        json_t *req;
        char et[64], em[256];
        assert_int_equal(fr_sim_emrconf_to_request(v, strlen(v), &req, et, sizeof(et), em, sizeof(em)), 0);
        json_decref(req);
        json_decref(inst);
        json_decref(cfg);
    }
    /* mostly, not only */
    assert_true(inst_string > inst_object && inst_object > 0);
    assert_true(fleets > groups && groups > 0);
    assert_true(grav_bool > 0 && grav_str > 0 && grav_cap > 0);
    assert_true(two_types > 0 && indented > 0 && compact > 0 && escaped > 0 && history > 0);
    (void)advanced;
    json_decref(w);
}

static void check_world_classes(uint64_t seed, int clusters, int *checked, const char *traces)
{
    fr_sim_opts o;
    fr_sim_opts_default(&o);
    o.traces_dir = traces;
    o.seed = seed;
    o.clusters = clusters;
    o.ec2_instances = 2;
    fr_sim *s;
    char err[256];
    int64_t start = 1800000000000LL;
    assert_int_equal(fr_sim_new(&s, &o, "http://127.0.0.1:1", 1000, start, err, sizeof(err)), 0);
    int64_t now = fr_sim_now(s, 1000);
    size_t i;
    json_t *wc;
    json_array_foreach(json_object_get(s->world, "clusters"), i, wc)
    {
        fr_sim_cluster *c = fr_sim_emr_find(&s->emr, fr_sim_jstr(wc, "id"));
        assert_non_null(c);
        fr_sim_emr_advance(&s->emr, c, now);
        const char *outcome = fr_sim_jstr(wc, "outcome");
        /* the intended outcome happens */
        if (strcmp(outcome, "TERMINATED") == 0 || strcmp(outcome, "TERMINATED_WITH_ERRORS") == 0)
            assert_string_equal(fr_sim_cstate_name(c->state), outcome);
        else if (c->state != FR_SIM_CS_RUNNING && c->state != FR_SIM_CS_WAITING)
            fail_msg("cluster %s (%s) is %s", c->id, outcome, fr_sim_cstate_name(c->state));
        if (strcmp(outcome, "TERMINATED") != 0)
            continue;
        json_t *m = fr_sim_cluster_measure(s, c, now);
        for (int role = FR_SIM_CORE; role <= FR_SIM_TASK; role++) {
            json_t *want = json_object_get(json_object_get(wc, "profiles"), fr_sim_role_name(role));
            json_t *got = json_object_get(m, fr_sim_role_name(role));
            if (!want)
                continue;
            assert_non_null(got);
            const char *ws = fr_sim_jstr(want, "expected_status"), *gs = fr_sim_jstr(got, "status");
            const char *ww = fr_sim_jstr(want, "expected_workload"), *gw = fr_sim_jstr(got, "workload");
            if (strcmp(ws, gs) != 0 || strcmp(ww, gw) != 0) {
                char *dump = json_dumps(got, JSON_COMPACT);
                fail_msg("seed %llu cluster %s %s: class %s wants %s/%s, measured %s/%s: %s", (unsigned long long)seed,
                         c->id, fr_sim_role_name(role), fr_sim_jstr(want, "class"), ws, ww, gs, gw, dump);
            }
            int64_t every = 0;
            fr_sim_jint(want, "spike_every_min", &every);
            double pts = (double)json_integer_value(json_object_get(json_object_get(got, "cpu"), "points"));
            double per_inst = pts / (double)json_integer_value(json_object_get(got, "instances"));
            if (strcmp(fr_sim_jstr(want, "class"), "spiky") == 0 && per_inst >= 2.0 * (double)every) {
                /* the peaks are there (a whole spike window was lived), but short */
                double mx = json_real_value(json_object_get(json_object_get(got, "cpu"), "max"));
                assert_true(mx > 85);
            }
            (*checked)++;
        }
        json_decref(m);
    }
    fr_sim_free(s);
}

static void test_measured_class_matches_intended(void **state)
{
    /* SIM_PROPERTY_SEEDS=N widens the search (slow suite, by hand) */
    const char *env = getenv("SIM_PROPERTY_SEEDS");
    uint64_t n = 12;
    if (env)
        fr_parse_u64(env, &n);
    int checked = 0;
    for (uint64_t seed = 1; seed <= n; seed++)
        check_world_classes(seed, 25, &checked, NULL);
    assert_true(checked > (int)n * 12);
}

/* The same with profiles shaped by the real traces (when the shared data
 * is there). */
static void test_measured_class_with_traces(void **state)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/utilization", FR_TEST_SHARED_DATA);
    FILE *f = fopen(FR_TEST_SHARED_DATA "/utilization/bitbrains/rnd_2013-07_8vms.csv", "r");
    if (!f)
        skip();
    fclose(f);
    const char *env = getenv("SIM_PROPERTY_SEEDS");
    uint64_t n = 6;
    if (env)
        fr_parse_u64(env, &n);
    int checked = 0;
    for (uint64_t seed = 100; seed < 100 + n; seed++)
        check_world_classes(seed, 25, &checked, dir);
    assert_true(checked > (int)n * 12);
}

static void test_normalize_hand_written(void **state)
{
    const char *text =
        "{\"clusters\": [{\"name\": \"weird name / with spaces\", \"start_offset_s\": -7200,"
        " \"config\": {\"Name\": \"weird name / with spaces\", \"Instances\": {\"InstanceGroups\": ["
        "{\"InstanceRole\": \"MASTER\", \"InstanceType\": \"m5.xlarge\", \"InstanceCount\": 1},"
        "{\"InstanceRole\": \"CORE\", \"InstanceType\": \"r5.2xlarge\", \"InstanceCount\": 2}]}},"
        " \"steps\": [{\"name\": \"s\", \"args\": [\"a\"], \"work_vcpu_s\": 3600}]}]}";
    json_t *w = json_loads(text, 0, NULL);
    fr_sim_world_opts o = {1, 0, 0, "us-east-1", &cat, NULL};
    char err[256];
    assert_int_equal(fr_sim_world_normalize(w, &o, err, sizeof(err)), 0);
    json_t *c = json_array_get(json_object_get(w, "clusters"), 0);
    assert_true(fr_str_startswith(fr_sim_jstr(c, "id"), "j-"));
    assert_true(json_is_string(json_object_get(c, "config")));
    json_t *p = json_array_get(json_object_get(w, "parameters"), 0);
    assert_string_equal(fr_sim_jstr(p, "name"), FR_SIM_PARAM_PREFIX "weird name / with spaces");
    json_decref(w);
    w = json_loads("{\"clusters\": [{\"name\": \"x\"}]}", 0, NULL);
    assert_int_not_equal(fr_sim_world_normalize(w, &o, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "config"));
    json_decref(w);
}

/* The steps' parallelism follows the demand of every role, weighted by its
 * vCPU: a starving TASK group behind an idle CORE still makes the job want
 * more than the cluster has (so an upsize runs it faster), and a cluster
 * whose roles are all oversized never wants all of its capacity (so a
 * downsize does not slow it). */
static void test_parallelism_follows_every_role(void **state)
{
    int starving_task = 0, oversized = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        json_t *w = gen(seed, 40);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(w, "clusters"), i, c)
        {
            json_t *prof = json_object_get(c, "profiles"), *nodes = json_object_get(c, "nodes");
            int vcpu = (int)json_integer_value(json_object_get(json_object_get(c, "capacity"), "vcpu"));
            bool core_over = false, all_over = true;
            double task_share = 0, role_vcpu = 0, under_vcpu = 0;
            for (int role = FR_SIM_CORE; role <= FR_SIM_TASK; role++) {
                json_t *n = json_object_get(nodes, fr_sim_role_name(role));
                if (!n)
                    continue;
                const fr_sim_itype *it = fr_sim_catalog_find(&cat, fr_sim_jstr(n, "type"));
                assert_non_null(it);
                double v = (double)json_integer_value(json_object_get(n, "count")) * it->vcpu;
                const char *cls = fr_sim_jstr(json_object_get(prof, fr_sim_role_name(role)), "class");
                bool over = strcmp(cls, "heavily_oversized") == 0 || strcmp(cls, "spiky") == 0 ||
                            strcmp(cls, "moderately_oversized") == 0;
                if (role == FR_SIM_CORE)
                    core_over = over;
                all_over = all_over && over;
                if (strcmp(cls, "undersized") == 0) {
                    under_vcpu += v;
                    if (role == FR_SIM_TASK)
                        task_share = v;
                }
                role_vcpu += v;
            }
            size_t k;
            json_t *st;
            json_array_foreach(json_object_get(c, "steps"), k, st)
            {
                int par = (int)json_integer_value(json_object_get(st, "parallelism"));
                if (all_over) {
                    assert_true(par <= (int)ceil(0.75 * vcpu));
                    oversized++;
                }
                /* an undersized TASK with most of the vCPU, behind an idle CORE */
                if (core_over && task_share >= 0.6 * role_vcpu && under_vcpu == task_share) {
                    if (par <= vcpu)
                        fail_msg("seed %llu %s: TASK starves but parallelism %d <= %d vCPU",
                                 (unsigned long long)seed, fr_sim_jstr(c, "id"), par, vcpu);
                    starving_task++;
                }
            }
        }
        json_decref(w);
    }
    assert_true(starving_task > 0); /* the case was met */
    assert_true(oversized > 0);
}

static void test_sizing_rules(void **state)
{
    assert_string_equal(fr_sim_sizing_status(18, 30), "HEAVILY_OVERSIZED");
    assert_string_equal(fr_sim_sizing_status(18, 40), "MODERATELY_OVERSIZED");
    assert_string_equal(fr_sim_sizing_status(45, 58), "MODERATELY_OVERSIZED");
    assert_string_equal(fr_sim_sizing_status(60, 75), "RIGHT_SIZED");
    assert_string_equal(fr_sim_sizing_status(72, 85), "UNDERSIZED");
    assert_string_equal(fr_sim_sizing_status(50, 90), "UNDERSIZED");
    assert_string_equal(fr_sim_workload(60, 30), "CPU_HEAVY");
    assert_string_equal(fr_sim_workload(20, 60), "MEMORY_HEAVY");
    assert_string_equal(fr_sim_workload(40, 50), "BALANCED");
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
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_classes_and_names),
        cmocka_unit_test(test_configs_varied_and_valid),
        cmocka_unit_test(test_measured_class_matches_intended),
        cmocka_unit_test(test_measured_class_with_traces),
        cmocka_unit_test(test_normalize_hand_written),
        cmocka_unit_test(test_sizing_rules),
        cmocka_unit_test(test_parallelism_follows_every_role),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
