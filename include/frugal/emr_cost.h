/* The cost model of the EMR agent: per-instance hourly prices under a
 * node type's on-demand/spot mix with the EMR uplift, per-run old vs new
 * cost, monthly savings extrapolated from the cluster's run history, the
 * test cluster's estimate and the guardrails. Pure; docs/emr-analysis.md
 * has the formulas and a worked example.
 *
 *   hourly(type, market) = (market == SPOT ? spot(type) : ondemand(type))
 *                          + uplift x ondemand(type)
 *   spot(type) = the caller's recent average (fr_emr_spot_fn), else the
 *                catalog's ondemand x (1 - spot_savings_pct/100)
 *   run cost   = sum over lots of count x hourly x runtime_h
 *   monthly    = (old_hourly_total - new_hourly_total) x hours_run_in_window
 *                x (30.4375 days / window)
 */
#ifndef FRUGAL_EMR_COST_H
#define FRUGAL_EMR_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/emr_catalog.h"
#include "frugal/emr_types.h"

#define FR_EMR_MONTH_MS (30.4375 * 86400000.0)

/* How prices are looked up. */
typedef struct fr_emr_prices {
    const fr_emr_catalog *cat;
    double uplift;      /* EMR charge as a fraction of on-demand (emr.uplift, 0.25) */
    fr_emr_spot_fn spot; /* may be NULL: catalog estimate for every type */
    void *spot_arg;
    const char *region;  /* NULL or "us-east-1": catalog prices; other regions: flagged estimate */
} fr_emr_prices;

/* Where a price came from (bits). */
enum {
    FR_EMR_PRICE_SPOT_ESTIMATED = 1 << 0, /* no recent spot price: catalog estimate */
    FR_EMR_PRICE_TYPE_APPROX = 1 << 1,    /* unknown type priced as its closest known */
    FR_EMR_PRICE_SPOT_UNKNOWN = 1 << 2,   /* no spot data at all: spot = on-demand */
    FR_EMR_PRICE_REGION_ESTIMATE = 1 << 3, /* on-demand prices are us-east-1's, the cluster runs elsewhere */
};

/* $/h of one instance of `type` in `market`, uplift included. FR_ENOTFOUND
 * when the type has no close known type. *flags may be NULL. */
int fr_emr_hourly(const fr_emr_prices *p, const char *type, fr_emr_market market, double *usd, unsigned *flags);
/* The same for a share of on-demand instances (0..1): the rest is spot. */
int fr_emr_hourly_mix(const fr_emr_prices *p, const char *type, double od_share, double *usd, unsigned *flags);

/* A number of instances of one type in one market, for one node type. The
 * driver builds lots from the cluster's actual instances (ListInstances:
 * type and market of each), or with fr_emr_param_lots() from the config. */
typedef struct fr_emr_lot {
    fr_emr_node node;
    char type[40];
    fr_emr_market market;
    int64_t count;
} fr_emr_lot;

/* One past run of a cluster with this name (the history of the window). */
typedef struct fr_emr_past_run {
    int64_t start_ms;
    int64_t duration_ms; /* creation .. end */
} fr_emr_past_run;

typedef struct fr_emr_cost_input {
    const fr_emr_lot *old_lots; /* the analysed cluster, MASTER included */
    size_t n_old;
    const fr_emr_lot *new_lots; /* the same with the recommended types */
    size_t n_new;
    int64_t runtime_ms;         /* the analysed cluster: creation .. end */
    const fr_emr_past_run *history; /* runs of this name in the window (may include the analysed one) */
    size_t n_history;
    int64_t window_ms;          /* the history window (emr.window, 24 h) */
    int64_t auto_terminate_minutes; /* caps the test duration */
    double max_test_cost;       /* emr.max_test_cost_dollars */
    int64_t max_cluster_instances; /* emr.max_cluster_instances */
} fr_emr_cost_input;

typedef struct fr_emr_cost {
    double old_hourly[FR_EMR_NODE__COUNT], new_hourly[FR_EMR_NODE__COUNT]; /* all instances of the node type */
    double old_hourly_total, new_hourly_total;
    double runtime_h;
    double old_run, new_run, run_savings; /* $ per run */
    double savings_pct;                   /* of the old run cost */
    size_t runs_in_window;
    double hours_in_window;
    bool history_assumed;                 /* no history given: the analysed run only */
    double runs_per_month;
    double old_monthly, new_monthly, monthly_savings;
    double monthly_savings_by_node[FR_EMR_NODE__COUNT];
    double test_hours;                    /* min(runtime, auto-terminate) */
    double test_cost;                     /* new hourly total x test_hours */
    int64_t test_instances;
    bool over_cost_ceiling;               /* test_cost > max_test_cost: warn before approval */
    bool over_instance_limit;             /* test_instances > max_cluster_instances: refused */
    double max_test_cost;
    int64_t max_cluster_instances;
    unsigned price_flags;                 /* FR_EMR_PRICE_* of any lot */
} fr_emr_cost;

/* 0, -EINVAL (negative counts or durations, window <= 0), FR_ENOTFOUND (a
 * type with no close known type). */
int fr_emr_cost_compute(const fr_emr_prices *p, const fr_emr_cost_input *in, fr_emr_cost *out);
/* FR_EDENIED with the numbers in msg when the test cluster would exceed the
 * instance limit; 0 otherwise. */
int fr_emr_cost_guardrail(const fr_emr_cost *c, char *msg, size_t n);
/* {"per_run":{old,new,savings,savings_pct,runtime_h}, "per_hour":{...},
 *  "monthly":{runs_in_window,runs_per_month,hours_in_window,old,new,savings,history_assumed},
 *  "test":{hours,cost,instances,over_cost_ceiling,max_test_cost,over_instance_limit,max_cluster_instances},
 *  "warnings":[...]} */
json_t *fr_emr_cost_to_json(const fr_emr_cost *c);

#endif
