/* What the dashboard, the CLI and the REST API show of the EMR agent's
 * pure results: the analysis card per node type, the whole proposal shown
 * before approval, and the Phase 2 comparison (old cluster vs test
 * cluster). Pure; each result has its JSON form. */
#ifndef FRUGAL_EMR_REPORT_H
#define FRUGAL_EMR_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/emr_analysis.h"
#include "frugal/emr_cost.h"
#include "frugal/emr_param.h"
#include "frugal/emr_recommend.h"

/* One node type's card:
 * {"node", "label": "10 x r7g.4xlarge", "instance_type", "instances",
 *  "cpu": {avg, p95, max, sizing_p95, peak_sustained}, "memory": {...} | null,
 *  "cpu_only", "status", "status_label", "profile", "recommendation": {...} | null,
 *  "recommended_type", "changed", "arch_change", "alternatives": [...],
 *  "requirement", "reason", "monthly_savings" (c may be NULL: null),
 *  "warnings": [...], "series" (with_series)} */
json_t *fr_emr_card_to_json(const fr_emr_analysis *a, const fr_emr_recommendation *r, const fr_emr_cost *c,
                            bool with_series);

/* The proposal shown before approval:
 * {"cluster", "nodes": [cards], "cost": fr_emr_cost_to_json, "rewrite":
 *  fr_emr_rewrite_to_json | null, "refused": bool, "refusal": "..." | null,
 *  "warnings": [...]} -- refused when the instance limit is exceeded. */
json_t *fr_emr_proposal_to_json(const char *cluster_name, const fr_emr_analysis *const *analyses,
                                const fr_emr_recommendation *const *recs, size_t n, const fr_emr_cost *cost,
                                const fr_emr_rewrite *rw, bool with_series);

/* Phase 2: one step of the original cluster replayed on the test cluster. */
typedef struct fr_emr_step_result {
    const char *name;
    int64_t old_ms; /* duration on the original cluster; < 0 unknown */
    int64_t new_ms; /* on the test cluster; < 0 did not finish */
    bool new_ok;    /* COMPLETED on the test cluster */
} fr_emr_step_result;

typedef struct fr_emr_comparison {
    size_t n_steps, steps_ok, steps_failed;
    int64_t old_total_ms, new_total_ms; /* over the steps with both durations */
    double runtime_delta_pct;           /* (new - old) / old */
    double old_hourly, new_hourly;      /* whole cluster, $/h */
    double old_cost, new_cost;          /* hourly x the summed step runtime */
    double cost_delta_pct;
    bool slower;                        /* more than 10% slower */
    bool recommend;                     /* every step ok, cheaper, not more than 10% slower */
    char verdict[200];
} fr_emr_comparison;

/* -EINVAL on negative prices; n may be 0 (no steps: cost per hour only). */
int fr_emr_compare(const fr_emr_step_result *steps, size_t n, double old_hourly, double new_hourly,
                   fr_emr_comparison *out);
/* {"steps": [{name, old_ms, new_ms, delta_pct, ok}], "total": {...}, "cost": {...},
 *  "slower", "recommend", "verdict"} */
json_t *fr_emr_comparison_to_json(const fr_emr_comparison *c, const fr_emr_step_result *steps, size_t n);

#endif
