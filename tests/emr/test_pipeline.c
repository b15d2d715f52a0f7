/* The whole pure pipeline as the driver chains it: real traces -> analysis
 * per node type -> recommendation (with the node type's on-demand share
 * from the config) -> dry-run rewrite of the Parameter Store value -> cost
 * (old lots from the config, new lots from the rewritten config) -> the
 * proposal JSON; then the Phase 2 comparison. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frugal/emr_report.h"
#include "frugal/err.h"

#include "emr_test_util.h"

#ifndef EMR_FIXTURES
#define EMR_FIXTURES "tests/emr/configs"
#endif

#define near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL

static const emr_trace *find_vm(const emr_trace *t, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].id, id) == 0)
            return &t[i];
    fail_msg("no VM %s", id);
    return NULL;
}

static void analyze(const emr_trace *bb, size_t n_bb, const char *const *ids, size_t n, fr_emr_node node,
                    int64_t start, fr_emr_analysis *a)
{
    fr_emr_instance_series s[8];
    for (size_t i = 0; i < n; i++) {
        const emr_trace *t = find_vm(bb, n_bb, ids[i]);
        s[i] = (fr_emr_instance_series){t->id, {t->t_ms, t->cpu, t->n}, {t->t_ms, t->mem, t->n}};
    }
    fr_emr_analysis_input in = {node, "r7g.4xlarge", start, start + 4 * HOUR_MS, 5 * MIN_MS, s, n};
    fr_emr_thresholds th;
    fr_emr_thresholds_default(&th);
    th.sustained_window_ms = 15 * MIN_MS; /* 5-minute traces: 3 samples */
    assert_int_equal(fr_emr_analyze(&in, &th, a), 0);
}

/* od share of a node type from its lots */
static double od_share(const fr_emr_lot *lots, size_t n, fr_emr_node node)
{
    double od = 0, all = 0;
    for (size_t i = 0; i < n; i++)
        if (lots[i].node == node) {
            all += (double)lots[i].count;
            if (lots[i].market == FR_EMR_MARKET_ON_DEMAND)
                od += (double)lots[i].count;
        }
    return all > 0 ? od / all : 1;
}

/* c1: CORE fleet 2 on-demand + 8 spot r7g.4xlarge, TASK 5 spot r7g.4xlarge,
 * MASTER r7g.4xlarge, GravitonAmi true. CORE behaves like the four idle
 * Bitbrains VMs (Heavily Oversized, memory-heavy), TASK like VMs 413+242 on
 * day 2 (Moderately Oversized, CPU-heavy). */
static void test_pipeline_c1(void **state)
{
    fr_emr_catalog *cat = emr_test_catalog();
    emr_trace *bb;
    size_t n_bb = emr_load_bitbrains(&bb);
    int64_t t0 = 1372629804000LL;
    static const char *core_ids[] = {"rnd-2013-7-8", "rnd-2013-7-327", "rnd-2013-7-315", "rnd-2013-7-112"};
    static const char *task_ids[] = {"rnd-2013-7-413", "rnd-2013-7-242"};
    fr_emr_analysis core, task;
    analyze(bb, n_bb, core_ids, 4, FR_EMR_NODE_CORE, t0, &core);
    analyze(bb, n_bb, task_ids, 2, FR_EMR_NODE_TASK, t0 + 24 * HOUR_MS, &task);
    assert_int_equal(core.status, FR_EMR_STATUS_HEAVILY_OVERSIZED);
    assert_int_equal(task.status, FR_EMR_STATUS_MODERATELY_OVERSIZED);

    char path[512];
    snprintf(path, sizeof(path), "%s/c1_compact_string_fleets.json", EMR_FIXTURES);
    size_t len;
    char *text = emr_read_all(path, &len);
    assert_non_null(text);
    fr_emr_param_info info;
    char err[256];
    assert_int_equal(fr_emr_param_inspect(text, len, &info, err, sizeof(err)), 0);
    fr_emr_lot old_lots[16];
    size_t n_old = fr_emr_param_lots(&info, old_lots, 16);
    assert_int_equal(n_old, 4);

    fr_emr_prices prices = {cat, 0.25, NULL, NULL, "us-east-1"};
    fr_emr_thresholds th;
    fr_emr_thresholds_default(&th);
    fr_emr_rec_opts o;
    fr_emr_rec_opts_default(&o);
    fr_emr_recommendation rc_core, rc_task;
    o.od_share = od_share(old_lots, n_old, FR_EMR_NODE_CORE);
    near(o.od_share, 0.2, 1e-12);
    assert_int_equal(fr_emr_recommend(&prices, &core, &th, &o, &rc_core), 0);
    o.od_share = od_share(old_lots, n_old, FR_EMR_NODE_TASK);
    near(o.od_share, 0, 1e-12);
    assert_int_equal(fr_emr_recommend(&prices, &task, &th, &o, &rc_task), 0);
    /* CORE: r7g.xlarge (two sizes down; cheapest with 80% spot, see test_recommend) */
    assert_string_equal(rc_core.recommended->name, "r7g.xlarge");

    /* TASK: 10.08 vCPU / 17.1 GiB, all spot, compute-optimized: c6g.4xlarge
     * (Graviton, like CORE). Had the two recommendations disagreed on the
     * architecture, the rewrite would refuse (one AMI per cluster) and the
     * driver would ask again with keep_arch (test_recommend). */
    assert_string_equal(rc_task.recommended->name, "c6g.4xlarge");
    assert_true(rc_task.recommended->vcpu >= rc_task.req_vcpu);
    fr_emr_rewrite_req req = {{NULL, "r7g.4xlarge", "r7g.4xlarge"},
                              {NULL, rc_core.recommended->name, rc_task.recommended->name},
                              FR_EMR_TIER_STANDARD};
    fr_emr_rewrite rw;
    assert_int_equal(fr_emr_param_rewrite(text, len, cat, &req, &rw, err, sizeof(err)), 0);
    assert_false(rw.arch_change);

    /* new lots: the rewritten config, same capacities */
    fr_emr_param_info ni;
    assert_int_equal(fr_emr_param_inspect(rw.text, rw.len, &ni, err, sizeof(err)), 0);
    fr_emr_lot new_lots[16];
    size_t n_new = fr_emr_param_lots(&ni, new_lots, 16);
    assert_int_equal(n_new, n_old);
    assert_string_equal(new_lots[0].type, "r7g.4xlarge"); /* MASTER unchanged */

    fr_emr_past_run hist[] = {{t0, 4 * HOUR_MS}, {t0 + 8 * HOUR_MS, 3 * HOUR_MS}};
    fr_emr_cost_input ci = {old_lots, n_old, new_lots, n_new, 4 * HOUR_MS, hist, 2, 24 * HOUR_MS, 120, 50, 20};
    fr_emr_cost cost;
    assert_int_equal(fr_emr_cost_compute(&prices, &ci, &cost), 0);
    assert_true(cost.new_hourly_total < cost.old_hourly_total);
    near(cost.old_hourly[FR_EMR_NODE_MASTER], cost.new_hourly[FR_EMR_NODE_MASTER], 1e-12);
    near(cost.monthly_savings,
         cost.monthly_savings_by_node[FR_EMR_NODE_CORE] + cost.monthly_savings_by_node[FR_EMR_NODE_TASK], 1e-6);
    assert_int_equal(cost.test_instances, 16);
    near(cost.test_hours, 2, 1e-12);
    assert_false(cost.over_instance_limit);

    const fr_emr_analysis *as[] = {&core, &task};
    const fr_emr_recommendation *rs[] = {&rc_core, &rc_task};
    json_t *p = fr_emr_proposal_to_json("STRESS-TEMPLATE-S", as, rs, 2, &cost, &rw, true);
    json_t *cards = json_object_get(p, "nodes");
    assert_int_equal(json_array_size(cards), 2);
    json_t *c0 = json_array_get(cards, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "label")), "4 x r7g.4xlarge");
    assert_string_equal(json_string_value(json_object_get(c0, "recommended_type")), "r7g.xlarge");
    assert_true(json_real_value(json_object_get(c0, "monthly_savings")) > 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(c0, "series"), "cpu"), "avg")), 48);
    assert_false(json_is_true(json_object_get(p, "refused")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(p, "rewrite"), "edits")), 2);
    char *dump = json_dumps(p, JSON_COMPACT);
    assert_non_null(dump);
    free(dump);
    json_decref(p);

    /* a 12-instance limit refuses the test cluster, with the numbers */
    ci.max_cluster_instances = 12;
    assert_int_equal(fr_emr_cost_compute(&prices, &ci, &cost), 0);
    p = fr_emr_proposal_to_json("STRESS-TEMPLATE-S", as, rs, 2, &cost, &rw, false);
    assert_true(json_is_true(json_object_get(p, "refused")));
    assert_non_null(strstr(json_string_value(json_object_get(p, "refusal")), "16 instances"));
    assert_null(json_object_get(json_array_get(json_object_get(p, "nodes"), 0), "series"));
    json_decref(p);

    /* another region: prices flagged as estimates */
    prices.region = "eu-west-3";
    assert_int_equal(fr_emr_cost_compute(&prices, &ci, &cost), 0);
    assert_true(cost.price_flags & FR_EMR_PRICE_REGION_ESTIMATE);

    fr_emr_rewrite_free(&rw);
    free(text);
    fr_emr_analysis_free(&core);
    fr_emr_analysis_free(&task);
    emr_traces_free(bb, n_bb);
    free(bb);
    fr_emr_catalog_free(cat);
}

static void test_compare(void **state)
{
    fr_emr_step_result steps[] = {
        {"ingest", 40 * MIN_MS, 42 * MIN_MS, true},
        {"transform", 80 * MIN_MS, 84 * MIN_MS, true},
    };
    fr_emr_comparison c;
    /* old 9.0666 $/h, new 3.94614 $/h (the cost worked example) */
    assert_int_equal(fr_emr_compare(steps, 2, 9.0666, 3.94614, &c), 0);
    assert_int_equal(c.old_total_ms, 120 * MIN_MS);
    assert_int_equal(c.new_total_ms, 126 * MIN_MS);
    near(c.runtime_delta_pct, 5, 1e-9);
    near(c.old_cost, 9.0666 * 2, 1e-9);
    near(c.new_cost, 3.94614 * 2.1, 1e-9);
    assert_true(c.recommend);
    assert_false(c.slower);
    assert_string_equal(c.verdict, "adopt: 54.3% cheaper, runtime +5.0%");
    json_t *j = fr_emr_comparison_to_json(&c, steps, 2);
    near(json_real_value(json_object_get(json_array_get(json_object_get(j, "steps"), 0), "delta_pct")), 5, 1e-9);
    json_decref(j);

    /* 20% slower: review */
    steps[1].new_ms = 104 * MIN_MS;
    assert_int_equal(fr_emr_compare(steps, 2, 9.0666, 3.94614, &c), 0);
    assert_true(c.slower);
    assert_false(c.recommend);
    /* a failed step: keep */
    steps[1].new_ok = false;
    steps[1].new_ms = -1;
    assert_int_equal(fr_emr_compare(steps, 2, 9.0666, 3.94614, &c), 0);
    assert_int_equal(c.steps_failed, 1);
    assert_false(c.recommend);
    assert_non_null(strstr(c.verdict, "1 of 2 steps"));
    j = fr_emr_comparison_to_json(&c, steps, 2);
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "steps"), 1), "new_ms")));
    json_decref(j);
    /* no steps: the hourly prices are shown, but nothing was measured, so
     * nothing is recommended */
    assert_int_equal(fr_emr_compare(NULL, 0, 2, 1, &c), 0);
    near(c.cost_delta_pct, -50, 1e-9);
    assert_false(c.recommend);
    assert_non_null(strstr(c.verdict, "nothing was measured"));
    assert_int_equal(fr_emr_compare(NULL, 0, -1, 1, &c), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_c1),
        cmocka_unit_test(test_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
