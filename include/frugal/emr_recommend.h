/* Recommendations for one node type from its analysis (docs/emr-analysis.md):
 *
 *   requirement  vCPU   = current vCPU   x cpu sizing_p95 / 100 x headroom
 *                memory = current memory x mem sizing_p95 / 100 x headroom
 *                (at least 1 vCPU; CPU-only analysis: memory = required
 *                vCPU x the current GiB per vCPU, flagged mem_assumed)
 *   a candidate  EMR-supported, not metal, meets both requirements.
 *
 *   Same Family        the status's size steps in the current family (-2,
 *                      -1, 0, +1): downsizing takes the furthest of those
 *                      steps that still meets the requirement; upsizing
 *                      the first size up that meets it.
 *   Cross Family       the cheapest candidate anywhere (general, compute or
 *                      memory families of generation >= min_generation,
 *                      Graviton or Intel/AMD, no "-flex").
 *   Category Optimized the cheapest candidate of the profile's category:
 *                      compute for CPU-heavy, memory for memory-heavy,
 *                      general for balanced, the current category when the
 *                      profile is unknown (CPU-only).
 *   "Cheapest" is the effective hourly price of one instance under the node
 *   type's on-demand share with the EMR uplift (fr_emr_hourly_mix); ties:
 *   smaller size, newer generation, then name.
 *
 *   Primary: Right-Sized keeps the current type (options are shown as
 *   alternatives). Otherwise the cheapest option; options within tie_pct
 *   percent of it count as ties and are preferred Same Family, then
 *   Category Optimized, then Cross Family. A primary equal to the current
 *   type means "keep". */
#ifndef FRUGAL_EMR_RECOMMEND_H
#define FRUGAL_EMR_RECOMMEND_H

#include <stdbool.h>

#include <jansson.h>

#include "frugal/emr_analysis.h"
#include "frugal/emr_catalog.h"
#include "frugal/emr_cost.h"
#include "frugal/emr_types.h"

typedef enum {
    FR_EMR_OPT_SAME_FAMILY = 0,
    FR_EMR_OPT_CATEGORY,
    FR_EMR_OPT_CROSS_FAMILY,
    FR_EMR_OPT__COUNT
} fr_emr_opt_kind;

typedef struct fr_emr_rec_opts {
    int min_generation; /* cross/category candidates: generation >= this (5) */
    bool allow_flex;    /* allow "-flex" families (false: not full-time CPU) */
    bool keep_arch;     /* only the current architecture (false) */
    double tie_pct;     /* primary selection tie band, percent (5) */
    double od_share;    /* share of the node type's instances on on-demand, 0..1 */
} fr_emr_rec_opts;

void fr_emr_rec_opts_default(fr_emr_rec_opts *o);

typedef struct fr_emr_option {
    fr_emr_opt_kind kind;
    bool found;
    const fr_emr_itype *type; /* when found */
    double hourly;            /* effective $/h of one instance */
    double delta_pct;         /* vs the current type's hourly (negative = cheaper) */
    bool arch_change;
    int size_steps;           /* Same Family: ladder steps from the current size */
    char why[120];            /* when not found: the reason */
} fr_emr_option;

typedef struct fr_emr_recommendation {
    fr_emr_node node;
    char current_name[40];       /* as the cluster ran it (may be unknown to the catalog) */
    const fr_emr_itype *current; /* the catalog's type (or its closest known) */
    fr_emr_match current_match;
    size_t instances;
    fr_emr_status status;
    fr_emr_profile profile;
    bool cpu_only;
    double req_vcpu, req_mem_gib;
    bool mem_assumed;
    fr_emr_option options[FR_EMR_OPT__COUNT];
    int primary;                     /* index into options, -1: keep the current type */
    const fr_emr_itype *recommended; /* the primary's type, or current */
    bool changed;                    /* recommended != current */
    bool arch_change;                /* Graviton <-> Intel/AMD: GravitonAmi flips */
    double hourly_current, hourly_new; /* per instance */
    double od_share;
    unsigned price_flags;
    char reason[200];
} fr_emr_recommendation;

/* 0; FR_ENOTFOUND when the current type has no close known type; -EINVAL. */
int fr_emr_recommend(const fr_emr_prices *p, const fr_emr_analysis *a, const fr_emr_thresholds *th,
                     const fr_emr_rec_opts *opts, fr_emr_recommendation *out);

const char *fr_emr_opt_kind_name(fr_emr_opt_kind k); /* "same_family" ... */

/* {node, current:{type...}, instances, status, profile, requirement:{vcpu,
 * memory_gib, memory_assumed}, recommendation:{type, kind, hourly, arch_change}
 * or null (keep), changed, alternatives:[{kind, type, hourly, delta_pct,
 * arch_change} | {kind, found:false, why}], reason} */
json_t *fr_emr_recommendation_to_json(const fr_emr_recommendation *r);

#endif
