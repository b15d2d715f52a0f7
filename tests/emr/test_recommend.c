/* Recommendations and the cost model against the shipped catalog (real
 * us-east-1 prices; the numbers in the comments are from
 * data/instance-catalog.csv, uplift 25%). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frugal/emr_cost.h"
#include "frugal/emr_recommend.h"
#include "frugal/err.h"

#include "emr_test_util.h"

#define near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))
#define HOUR_MS 3600000LL

static fr_emr_catalog *cat;

static int setup(void **state)
{
    cat = emr_test_catalog();
    return 0;
}

static int teardown(void **state)
{
    fr_emr_catalog_free(cat);
    return 0;
}

/* An analysis result with the given figures (the analysis itself is tested
 * in test_analysis.c; here only what the recommender reads matters). */
static fr_emr_analysis mk(const char *type, double cpu_avg, double cpu_p95, double mem_avg, double mem_p95, bool has_mem)
{
    fr_emr_analysis a;
    fr_emr_thresholds th;
    fr_emr_thresholds_default(&th);
    memset(&a, 0, sizeof(a));
    a.node = FR_EMR_NODE_CORE;
    snprintf(a.instance_type, sizeof(a.instance_type), "%s", type);
    a.n_instances = 10;
    a.cpu.present = true;
    a.cpu.avg = cpu_avg;
    a.cpu.p95 = a.cpu.sizing_p95 = cpu_p95;
    a.mem.present = has_mem;
    a.cpu_only = !has_mem;
    a.mem.avg = has_mem ? mem_avg : NAN;
    a.mem.p95 = a.mem.sizing_p95 = has_mem ? mem_p95 : NAN;
    a.status_avg = has_mem ? fmax(cpu_avg, mem_avg) : cpu_avg;
    a.status_p95 = has_mem ? fmax(cpu_p95, mem_p95) : cpu_p95;
    a.status = fr_emr_classify(a.status_avg, a.status_p95, &th);
    a.profile = fr_emr_profile_of(cpu_avg, mem_avg, has_mem, th.profile_ratio);
    return a;
}

static void rec(const fr_emr_analysis *a, double od_share, double tie, fr_emr_recommendation *r)
{
    fr_emr_prices p = {cat, 0.25, NULL, NULL};
    fr_emr_rec_opts o;
    fr_emr_rec_opts_default(&o);
    o.od_share = od_share;
    o.tie_pct = tie;
    fr_emr_thresholds th;
    fr_emr_thresholds_default(&th);
    assert_int_equal(fr_emr_recommend(&p, a, &th, &o, r), 0);
}

/* The Bitbrains idle window (test_analysis: CPU 1.49/3.06, memory
 * 9.49/19.89 sizing) on 10 x r7g.4xlarge (16 vCPU, 128 GiB): Heavily
 * Oversized, memory-heavy. Requirement: vCPU max(1, 16 x 0.0306 x 1.2) = 1,
 * memory 128 x 0.1989 x 1.2 = 30.55 GiB.
 *   Same Family: two sizes down, r7g.xlarge (4 vCPU, 32 GiB) meets it:
 *                0.2142 x 1.25 = 0.26775 $/h
 *   Category (memory) and Cross Family: r6g.xlarge, 0.2016 x 1.25 = 0.252 $/h
 * All on-demand: r6g is 6.25% cheaper than r7g.xlarge, outside the 5% tie
 * band -> primary Category Optimized r6g.xlarge (no architecture change).
 * Mostly spot (80%): spot prices from the catalog estimate (r7g.xlarge
 * saves 71%, r6g.xlarge 65%) make r7g.xlarge the cheapest -> Same Family. */
static void test_heavily_oversized_memory_heavy(void **state)
{
    fr_emr_analysis a = mk("r7g.4xlarge", 1.492, 3.055, 9.492, 19.886, true);
    assert_int_equal(a.status, FR_EMR_STATUS_HEAVILY_OVERSIZED);
    assert_int_equal(a.profile, FR_EMR_PROFILE_MEMORY_HEAVY);
    fr_emr_recommendation r;
    rec(&a, 1.0, 5, &r);
    near(r.req_vcpu, 1, 1e-12);
    near(r.req_mem_gib, 128 * 0.19886 * 1.2, 1e-9);
    const fr_emr_option *sf = &r.options[FR_EMR_OPT_SAME_FAMILY];
    assert_true(sf->found);
    assert_string_equal(sf->type->name, "r7g.xlarge");
    assert_int_equal(sf->size_steps, -2);
    near(sf->hourly, 0.26775, 1e-9);
    near(sf->delta_pct, -75, 1e-9); /* a quarter of r7g.4xlarge */
    assert_string_equal(r.options[FR_EMR_OPT_CATEGORY].type->name, "r6g.xlarge");
    assert_string_equal(r.options[FR_EMR_OPT_CROSS_FAMILY].type->name, "r6g.xlarge");
    near(r.options[FR_EMR_OPT_CROSS_FAMILY].hourly, 0.252, 1e-9);
    assert_int_equal(r.primary, FR_EMR_OPT_CATEGORY);
    assert_string_equal(r.recommended->name, "r6g.xlarge");
    assert_true(r.changed);
    assert_false(r.arch_change);
    near(r.hourly_current, 1.071, 1e-9);

    /* a 10% tie band keeps the family */
    rec(&a, 1.0, 10, &r);
    assert_int_equal(r.primary, FR_EMR_OPT_SAME_FAMILY);
    assert_string_equal(r.recommended->name, "r7g.xlarge");

    /* 20% on-demand: r7g.xlarge 0.2 x 0.2142 + 0.8 x 0.062118 + 0.25 x 0.2142 = 0.14608 */
    rec(&a, 0.2, 5, &r);
    assert_int_equal(r.primary, FR_EMR_OPT_SAME_FAMILY);
    assert_string_equal(r.recommended->name, "r7g.xlarge");
    near(r.hourly_new, 0.2 * 0.2142 + 0.8 * 0.2142 * 0.29 + 0.25 * 0.2142, 1e-9);
    assert_true(r.price_flags & FR_EMR_PRICE_SPOT_ESTIMATED);

    json_t *j = fr_emr_recommendation_to_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "recommended_type")), "r7g.xlarge");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "recommendation"), "kind")),
                        "same_family");
    assert_int_equal(json_array_size(json_object_get(j, "alternatives")), 2);
    json_decref(j);
}

/* The Bitbrains busy window (CPU 36.0/52.5, memory 10.3/11.2) on
 * m5.4xlarge (16 vCPU, 64 GiB, x86): Moderately Oversized, CPU-heavy.
 * Requirement 16 x 0.525 x 1.2 = 10.08 vCPU, 64 x 0.1116 x 1.2 = 8.57 GiB.
 * One size down (m5.2xlarge, 8 vCPU) is too small: no Same Family option.
 * Compute-optimized and cheapest anywhere: c6g.4xlarge (16 vCPU, 32 GiB,
 * Graviton) 0.544 x 1.25 = 0.68 vs 0.96 $/h today -> an architecture
 * change (GravitonAmi flips). keep_arch: c6a.4xlarge 0.612 x 1.25 = 0.765. */
static void test_moderately_oversized_cpu_heavy(void **state)
{
    fr_emr_analysis a = mk("m5.4xlarge", 36.001, 52.5, 10.267, 11.157, true);
    assert_int_equal(a.status, FR_EMR_STATUS_MODERATELY_OVERSIZED);
    assert_int_equal(a.profile, FR_EMR_PROFILE_CPU_HEAVY);
    fr_emr_recommendation r;
    rec(&a, 1.0, 5, &r);
    near(r.req_vcpu, 10.08, 1e-9);
    assert_false(r.options[FR_EMR_OPT_SAME_FAMILY].found);
    assert_non_null(strstr(r.options[FR_EMR_OPT_SAME_FAMILY].why, "m5.2xlarge"));
    assert_string_equal(r.options[FR_EMR_OPT_CATEGORY].type->name, "c6g.4xlarge");
    assert_string_equal(r.options[FR_EMR_OPT_CROSS_FAMILY].type->name, "c6g.4xlarge");
    assert_int_equal(r.primary, FR_EMR_OPT_CATEGORY);
    assert_true(r.arch_change);
    near(r.hourly_new, 0.68, 1e-9);
    near(r.hourly_current, 0.96, 1e-9);

    fr_emr_prices p = {cat, 0.25, NULL, NULL};
    fr_emr_rec_opts o;
    fr_emr_rec_opts_default(&o);
    o.keep_arch = true;
    fr_emr_thresholds th;
    fr_emr_thresholds_default(&th);
    assert_int_equal(fr_emr_recommend(&p, &a, &th, &o, &r), 0);
    assert_string_equal(r.recommended->name, "c6a.4xlarge");
    assert_false(r.arch_change);
    near(r.hourly_new, 0.765, 1e-9);
}

/* Undersized (VM 413 at hour 84: CPU 68.1/86.9, memory 10.7/16.4) on
 * m5.2xlarge (8 vCPU, 32 GiB): requirement 8 x 0.869 x 1.2 = 8.34 vCPU.
 * Same Family upsizes one step to m5.4xlarge (0.96 $/h); the cheapest type
 * with >= 8.34 vCPU is c6g.4xlarge (0.68; c5.4xlarge costs the same, the
 * newer generation wins the tie). Every option meets the requirement and
 * is bigger than today. */
static void test_undersized_upsizes(void **state)
{
    fr_emr_analysis a = mk("m5.2xlarge", 68.117, 86.9, 10.678, 16.423, true);
    assert_int_equal(a.status, FR_EMR_STATUS_UNDERSIZED);
    fr_emr_recommendation r;
    rec(&a, 1.0, 5, &r);
    assert_string_equal(r.options[FR_EMR_OPT_SAME_FAMILY].type->name, "m5.4xlarge");
    assert_int_equal(r.options[FR_EMR_OPT_SAME_FAMILY].size_steps, 1);
    assert_string_equal(r.options[FR_EMR_OPT_CROSS_FAMILY].type->name, "c6g.4xlarge");
    assert_string_equal(r.recommended->name, "c6g.4xlarge");
    assert_true(r.changed);
    for (int k = 0; k < FR_EMR_OPT__COUNT; k++)
        assert_true(r.options[k].type->vcpu >= 8.34);
    assert_true(r.hourly_new > 0.48 * 1.0); /* upsizing costs more than m5.2xlarge's 0.48 */
}

/* Right-Sized keeps the type; the options are still listed. */
static void test_right_sized_keeps(void **state)
{
    fr_emr_analysis a = mk("m5.2xlarge", 55.49, 70.693, 12.661, 16.043, true);
    assert_int_equal(a.status, FR_EMR_STATUS_RIGHT_SIZED);
    fr_emr_recommendation r;
    rec(&a, 1.0, 5, &r);
    assert_int_equal(r.primary, -1);
    assert_false(r.changed);
    assert_string_equal(r.recommended->name, "m5.2xlarge");
    assert_string_equal(r.options[FR_EMR_OPT_SAME_FAMILY].type->name, "m5.2xlarge");
    assert_int_equal(r.options[FR_EMR_OPT_SAME_FAMILY].size_steps, 0);
    assert_non_null(strstr(r.reason, "right-sized"));
    json_t *j = fr_emr_recommendation_to_json(&r);
    assert_true(json_is_null(json_object_get(j, "recommendation")));
    assert_int_equal(json_array_size(json_object_get(j, "alternatives")), 3);
    json_decref(j);
}

/* CPU-only (NAB idle servers) on m5.2xlarge: memory assumed to keep 4 GiB
 * per vCPU: requirement 1 vCPU / 4 GiB. Same Family: two steps down are
 * clamped at m5.xlarge (the smallest EMR size of m5, 0.24 $/h). Category
 * (unknown profile: the current category, general): m6g.xlarge 0.1925.
 * Cross Family: c6g.xlarge 0.17 -> primary, Graviton. */
static void test_cpu_only(void **state)
{
    fr_emr_analysis a = mk("m5.2xlarge", 0.7, 1.9, 0, 0, false);
    assert_int_equal(a.profile, FR_EMR_PROFILE_UNKNOWN);
    fr_emr_recommendation r;
    rec(&a, 1.0, 5, &r);
    assert_true(r.mem_assumed);
    near(r.req_vcpu, 1, 1e-12);
    near(r.req_mem_gib, 4, 1e-12);
    assert_string_equal(r.options[FR_EMR_OPT_SAME_FAMILY].type->name, "m5.xlarge");
    assert_int_equal(r.options[FR_EMR_OPT_SAME_FAMILY].size_steps, -1);
    assert_string_equal(r.options[FR_EMR_OPT_CATEGORY].type->name, "m6g.xlarge");
    assert_string_equal(r.options[FR_EMR_OPT_CROSS_FAMILY].type->name, "c6g.xlarge");
    assert_int_equal(r.primary, FR_EMR_OPT_CROSS_FAMILY);
    assert_true(r.arch_change);

    /* already the smallest EMR size: no Same Family option, the others
     * must still be cheaper than today to be chosen */
    a = mk("m5.xlarge", 0.7, 1.9, 0, 0, false);
    rec(&a, 1.0, 5, &r);
    assert_false(r.options[FR_EMR_OPT_SAME_FAMILY].found);
    assert_non_null(strstr(r.options[FR_EMR_OPT_SAME_FAMILY].why, "smallest"));
    assert_string_equal(r.recommended->name, "c6g.xlarge");
}

static bool spot_table(void *arg, const char *type, double *usd)
{
    (void)arg;
    if (strcmp(type, "r6g.xlarge") == 0) {
        *usd = 0.20; /* a bad week for r6g spot */
        return true;
    }
    return false;
}

/* Recent spot prices from the caller override the catalog estimate; an
 * unknown current type is sized as its closest known one. */
static void test_spot_lookup_and_unknown_type(void **state)
{
    fr_emr_analysis a = mk("r7g.4xlarge", 1.492, 3.055, 9.492, 19.886, true);
    fr_emr_prices p = {cat, 0.25, spot_table, NULL};
    fr_emr_rec_opts o;
    fr_emr_rec_opts_default(&o);
    o.od_share = 0;
    fr_emr_thresholds th;
    fr_emr_thresholds_default(&th);
    fr_emr_recommendation r;
    assert_int_equal(fr_emr_recommend(&p, &a, &th, &o, &r), 0);
    /* r6g.xlarge spot 0.20 + 0.0504 uplift = 0.2504 > r7g.xlarge 0.062118 + 0.05355 */
    assert_string_equal(r.recommended->name, "r7g.xlarge");

    a = mk("r7g.5xlarge", 1.492, 3.055, 9.492, 19.886, true);
    assert_int_equal(fr_emr_recommend(&p, &a, &th, &o, &r), 0);
    assert_int_equal(r.current_match, FR_EMR_MATCH_SAME_FAMILY);
    assert_string_equal(r.current->name, "r7g.4xlarge");
    assert_true(r.price_flags & FR_EMR_PRICE_TYPE_APPROX);
    json_t *j = fr_emr_recommendation_to_json(&r);
    assert_true(json_is_true(json_object_get(json_object_get(j, "current"), "approximate")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "current"), "as_named")), "r7g.5xlarge");
    json_decref(j);

    a = mk("zz9.large", 1, 1, 1, 1, true);
    assert_int_equal(fr_emr_recommend(&p, &a, &th, &o, &r), FR_ENOTFOUND);
}

/* Every recommended type of a grid of utilisations meets the requirement,
 * is EMR-supported, and saves money when the status is an oversize. */
static void test_invariants_grid(void **state)
{
    static const char *types[] = {"r7g.4xlarge", "m5.2xlarge", "c6i.8xlarge", "m7i.xlarge", "r5.12xlarge"};
    size_t checked = 0;
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
        for (int c = 0; c <= 100; c += 10)
            for (int m = 0; m <= 100; m += 20) {
                fr_emr_analysis a = mk(types[t], c * 0.7, c, m * 0.7, m, true);
                fr_emr_recommendation r;
                rec(&a, 0.5, 5, &r);
                for (int k = 0; k < FR_EMR_OPT__COUNT; k++) {
                    const fr_emr_option *op = &r.options[k];
                    if (!op->found)
                        continue;
                    assert_true(op->type->emr_supported);
                    assert_true(op->type->vcpu >= r.req_vcpu - 1e-9);
                    assert_true(op->type->memory_gib >= r.req_mem_gib - 1e-9);
                }
                if (r.changed && a.status != FR_EMR_STATUS_UNDERSIZED)
                    assert_true(r.hourly_new < r.hourly_current);
                if (a.status == FR_EMR_STATUS_RIGHT_SIZED)
                    assert_false(r.changed);
                checked++;
            }
    assert_int_equal(checked, 5 * 11 * 6);
}

/* ---- cost model: the worked example of docs/emr-analysis.md ----
 * MASTER 1 x m5.xlarge on-demand; CORE fleet 2 on-demand + 8 spot
 * r7g.4xlarge; TASK 5 spot r7g.4xlarge. Recommended CORE r7g.2xlarge, TASK
 * r7g.xlarge. Recent spot averages: r7g.4xlarge 0.30, r7g.2xlarge 0.15;
 * r7g.xlarge unknown -> catalog estimate 0.2142 x (1 - 0.71) = 0.062118.
 *   old $/h = 0.24 + 2 x 1.071 + 8 x (0.30 + 0.2142) + 5 x (0.30 + 0.2142)
 *           = 0.24 + 2.142 + 4.1136 + 2.571 = 9.0666
 *   new $/h = 0.24 + 2 x 0.5355 + 8 x (0.15 + 0.1071) + 5 x (0.062118 + 0.05355)
 *           = 0.24 + 1.071 + 2.0568 + 0.57834 = 3.94614
 *   run of 2.5 h: 22.6665 -> 9.86535, saves 12.80115 (56.5%)
 *   history: 3 runs (2.5 h, 2 h, 3 h = 7.5 h) in 24 h -> 91.3 runs/month;
 *   monthly = 9.0666 x 7.5 x 30.4375 = 2069.73 -> 900.83, saves 1168.91
 *   test: min(2.5 h, 120 min) = 2 h x 3.94614 = 7.89; 16 instances. */
static bool spot_recent(void *arg, const char *type, double *usd)
{
    if (strcmp(type, "r7g.4xlarge") == 0)
        *usd = 0.30;
    else if (strcmp(type, "r7g.2xlarge") == 0)
        *usd = 0.15;
    else
        return false;
    return true;
}

static void test_cost_worked_example(void **state)
{
    fr_emr_lot old_lots[] = {
        {FR_EMR_NODE_MASTER, "m5.xlarge", FR_EMR_MARKET_ON_DEMAND, 1},
        {FR_EMR_NODE_CORE, "r7g.4xlarge", FR_EMR_MARKET_ON_DEMAND, 2},
        {FR_EMR_NODE_CORE, "r7g.4xlarge", FR_EMR_MARKET_SPOT, 8},
        {FR_EMR_NODE_TASK, "r7g.4xlarge", FR_EMR_MARKET_SPOT, 5},
    };
    fr_emr_lot new_lots[] = {
        {FR_EMR_NODE_MASTER, "m5.xlarge", FR_EMR_MARKET_ON_DEMAND, 1},
        {FR_EMR_NODE_CORE, "r7g.2xlarge", FR_EMR_MARKET_ON_DEMAND, 2},
        {FR_EMR_NODE_CORE, "r7g.2xlarge", FR_EMR_MARKET_SPOT, 8},
        {FR_EMR_NODE_TASK, "r7g.xlarge", FR_EMR_MARKET_SPOT, 5},
    };
    fr_emr_past_run hist[] = {{0, 150 * 60000LL}, {8 * HOUR_MS, 120 * 60000LL}, {16 * HOUR_MS, 180 * 60000LL}};
    fr_emr_cost_input in = {old_lots, 4, new_lots, 4, 150 * 60000LL, hist, 3, 24 * HOUR_MS, 120, 50, 20};
    fr_emr_prices p = {cat, 0.25, spot_recent, NULL};
    fr_emr_cost c;
    assert_int_equal(fr_emr_cost_compute(&p, &in, &c), 0);
    near(c.old_hourly[FR_EMR_NODE_MASTER], 0.24, 1e-9);
    near(c.old_hourly[FR_EMR_NODE_CORE], 2.142 + 4.1136, 1e-9);
    near(c.old_hourly[FR_EMR_NODE_TASK], 2.571, 1e-9);
    near(c.old_hourly_total, 9.0666, 1e-9);
    near(c.new_hourly_total, 3.94614, 1e-9);
    near(c.old_run, 22.6665, 1e-9);
    near(c.new_run, 9.86535, 1e-9);
    near(c.run_savings, 12.80115, 1e-9);
    near(c.savings_pct, 100 * 12.80115 / 22.6665, 1e-9);
    assert_int_equal(c.runs_in_window, 3);
    near(c.hours_in_window, 7.5, 1e-12);
    near(c.runs_per_month, 91.3125, 1e-9);
    near(c.old_monthly, 9.0666 * 7.5 * 30.4375, 1e-6);
    near(c.monthly_savings, (9.0666 - 3.94614) * 7.5 * 30.4375, 1e-6);
    near(c.test_hours, 2, 1e-12);
    near(c.test_cost, 7.89228, 1e-9);
    assert_int_equal(c.test_instances, 16);
    assert_false(c.over_cost_ceiling);
    assert_false(c.over_instance_limit);
    assert_true(c.price_flags & FR_EMR_PRICE_SPOT_ESTIMATED); /* r7g.xlarge */
    assert_false(c.history_assumed);
    char msg[200];
    assert_int_equal(fr_emr_cost_guardrail(&c, msg, sizeof(msg)), 0);

    json_t *j = fr_emr_cost_to_json(&c);
    near(json_real_value(json_object_get(json_object_get(j, "monthly"), "savings")), 1168.91, 1e-9);
    near(json_real_value(json_object_get(json_object_get(j, "test"), "cost")), 7.89, 1e-9);
    json_decref(j);

    /* guardrails: 15 instances max -> refused with the numbers; a ceiling
     * of $5 -> warning */
    in.max_cluster_instances = 15;
    in.max_test_cost = 5;
    assert_int_equal(fr_emr_cost_compute(&p, &in, &c), 0);
    assert_true(c.over_cost_ceiling);
    assert_true(c.over_instance_limit);
    assert_int_equal(fr_emr_cost_guardrail(&c, msg, sizeof(msg)), FR_EDENIED);
    assert_string_equal(msg, "the test cluster would have 16 instances, more than the limit of 15 (MAX_CLUSTER_INSTANCES)");
    j = fr_emr_cost_to_json(&c);
    assert_int_equal(json_array_size(json_object_get(j, "warnings")), 3);
    json_decref(j);

    /* no history: the analysed run alone; no auto-terminate cap */
    in.history = NULL;
    in.n_history = 0;
    in.auto_terminate_minutes = 0;
    assert_int_equal(fr_emr_cost_compute(&p, &in, &c), 0);
    assert_true(c.history_assumed);
    near(c.runs_per_month, 30.4375, 1e-9);
    near(c.test_hours, 2.5, 1e-12);

    /* errors */
    in.window_ms = 0;
    assert_int_equal(fr_emr_cost_compute(&p, &in, &c), -EINVAL);
    in.window_ms = 24 * HOUR_MS;
    fr_emr_lot bad[] = {{FR_EMR_NODE_CORE, "zz9.large", FR_EMR_MARKET_SPOT, 1}};
    in.new_lots = bad;
    in.n_new = 1;
    assert_int_equal(fr_emr_cost_compute(&p, &in, &c), FR_ENOTFOUND);
    bad[0].count = -1;
    snprintf(bad[0].type, sizeof(bad[0].type), "m5.xlarge");
    assert_int_equal(fr_emr_cost_compute(&p, &in, &c), -EINVAL);
}

static void test_hourly(void **state)
{
    fr_emr_prices p = {cat, 0.25, NULL, NULL};
    double h;
    unsigned f = 0;
    assert_int_equal(fr_emr_hourly(&p, "r7g.4xlarge", FR_EMR_MARKET_ON_DEMAND, &h, &f), 0);
    near(h, 1.071, 1e-12);
    assert_int_equal(f, 0);
    assert_int_equal(fr_emr_hourly(&p, "r7g.4xlarge", FR_EMR_MARKET_SPOT, &h, &f), 0);
    near(h, 0.282744 + 0.2142, 1e-9);
    assert_true(f & FR_EMR_PRICE_SPOT_ESTIMATED);
    f = 0;
    assert_int_equal(fr_emr_hourly(&p, "f2.6xlarge", FR_EMR_MARKET_SPOT, &h, &f), 0);
    near(h, 1.98 * 1.25, 1e-9); /* no spot data: on-demand */
    assert_true(f & FR_EMR_PRICE_SPOT_UNKNOWN);
    assert_int_equal(fr_emr_hourly_mix(&p, "m5.xlarge", 0.5, &h, NULL), 0);
    near(h, 0.5 * 0.192 + 0.5 * 0.192 * 0.34 + 0.048, 1e-9);
    assert_int_equal(fr_emr_hourly_mix(&p, "m5.xlarge", 1.5, &h, NULL), -EINVAL);
    /* the uplift is configurable */
    p.uplift = 0;
    assert_int_equal(fr_emr_hourly(&p, "m5.xlarge", FR_EMR_MARKET_ON_DEMAND, &h, NULL), 0);
    near(h, 0.192, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heavily_oversized_memory_heavy),
        cmocka_unit_test(test_moderately_oversized_cpu_heavy),
        cmocka_unit_test(test_undersized_upsizes),
        cmocka_unit_test(test_right_sized_keeps),
        cmocka_unit_test(test_cpu_only),
        cmocka_unit_test(test_spot_lookup_and_unknown_type),
        cmocka_unit_test(test_invariants_grid),
        cmocka_unit_test(test_cost_worked_example),
        cmocka_unit_test(test_hourly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
