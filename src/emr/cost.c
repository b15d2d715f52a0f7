/* Cost model: hourly prices under the market mix, run and monthly costs,
 * the test cluster's estimate and guardrails (formulas in emr_cost.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal/emr_cost.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr/internal.h"

int fr_emr_hourly(const fr_emr_prices *p, const char *type, fr_emr_market market, double *usd, unsigned *flags)
{
    unsigned f = 0;
    fr_emr_match m;
    const fr_emr_itype *t = fr_emr_catalog_resolve(p->cat, type, &m);
    if (!t)
        return FR_ENOTFOUND;
    if (m != FR_EMR_MATCH_EXACT)
        f |= FR_EMR_PRICE_TYPE_APPROX;
    if (p->region && *p->region && strcmp(p->region, "us-east-1") != 0)
        f |= FR_EMR_PRICE_REGION_ESTIMATE;
    double od = t->ondemand;
    double base = od;
    if (market == FR_EMR_MARKET_SPOT) {
        double s;
        if (p->spot && p->spot(p->spot_arg, type, &s) && isfinite(s) && s >= 0) {
            base = s;
        } else {
            base = fr_emr_itype_spot_estimate(t);
            f |= t->spot_savings_pct < 0 ? FR_EMR_PRICE_SPOT_UNKNOWN : FR_EMR_PRICE_SPOT_ESTIMATED;
        }
    }
    *usd = base + p->uplift * od;
    if (flags)
        *flags |= f;
    return 0;
}

int fr_emr_hourly_mix(const fr_emr_prices *p, const char *type, double od_share, double *usd, unsigned *flags)
{
    if (!(od_share >= 0 && od_share <= 1))
        return -EINVAL;
    double od = 0, spot = 0;
    int rc = 0;
    if (od_share > 0)
        rc = fr_emr_hourly(p, type, FR_EMR_MARKET_ON_DEMAND, &od, flags);
    if (!rc && od_share < 1)
        rc = fr_emr_hourly(p, type, FR_EMR_MARKET_SPOT, &spot, flags);
    if (rc)
        return rc;
    *usd = od_share * od + (1 - od_share) * spot;
    return 0;
}

static int lots_hourly(const fr_emr_prices *p, const fr_emr_lot *lots, size_t n, double *per_node, double *total,
                       int64_t *instances, unsigned *flags)
{
    for (size_t i = 0; i < n; i++) {
        const fr_emr_lot *l = &lots[i];
        if (l->count < 0 || (unsigned)l->node >= FR_EMR_NODE__COUNT)
            return -EINVAL;
        if (l->count == 0)
            continue;
        double h;
        int rc = fr_emr_hourly(p, l->type, l->market, &h, flags);
        if (rc)
            return rc;
        per_node[l->node] += (double)l->count * h;
        *total += (double)l->count * h;
        if (instances)
            *instances += l->count;
    }
    return 0;
}

int fr_emr_cost_compute(const fr_emr_prices *p, const fr_emr_cost_input *in, fr_emr_cost *out)
{
    memset(out, 0, sizeof(*out));
    if (!p || !p->cat || !in || in->runtime_ms < 0 || in->window_ms <= 0 || !(p->uplift >= 0))
        return -EINVAL;
    int64_t old_instances = 0;
    int rc = lots_hourly(p, in->old_lots, in->n_old, out->old_hourly, &out->old_hourly_total, &old_instances,
                         &out->price_flags);
    if (!rc)
        rc = lots_hourly(p, in->new_lots, in->n_new, out->new_hourly, &out->new_hourly_total, &out->test_instances,
                         &out->price_flags);
    if (rc) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->runtime_h = (double)in->runtime_ms / 3600000.0;
    out->old_run = out->old_hourly_total * out->runtime_h;
    out->new_run = out->new_hourly_total * out->runtime_h;
    out->run_savings = out->old_run - out->new_run;
    out->savings_pct = out->old_run > 0 ? 100.0 * out->run_savings / out->old_run : 0;

    if (in->n_history == 0 || !in->history) {
        out->runs_in_window = 1;
        out->hours_in_window = out->runtime_h;
        out->history_assumed = true;
    } else {
        double ms = 0;
        for (size_t i = 0; i < in->n_history; i++) {
            if (in->history[i].duration_ms < 0)
                return -EINVAL;
            ms += (double)in->history[i].duration_ms;
        }
        out->runs_in_window = in->n_history;
        out->hours_in_window = ms / 3600000.0;
    }
    double scale = FR_EMR_MONTH_MS / (double)in->window_ms;
    out->runs_per_month = (double)out->runs_in_window * scale;
    out->old_monthly = out->old_hourly_total * out->hours_in_window * scale;
    out->new_monthly = out->new_hourly_total * out->hours_in_window * scale;
    out->monthly_savings = out->old_monthly - out->new_monthly;
    for (int k = 0; k < FR_EMR_NODE__COUNT; k++)
        out->monthly_savings_by_node[k] = (out->old_hourly[k] - out->new_hourly[k]) * out->hours_in_window * scale;

    out->test_hours = out->runtime_h;
    if (in->auto_terminate_minutes > 0)
        out->test_hours = FR_MIN(out->test_hours, (double)in->auto_terminate_minutes / 60.0);
    out->test_cost = out->new_hourly_total * out->test_hours;
    out->max_test_cost = in->max_test_cost;
    out->max_cluster_instances = in->max_cluster_instances;
    out->over_cost_ceiling = out->test_cost > in->max_test_cost;
    out->over_instance_limit = in->max_cluster_instances > 0 && out->test_instances > in->max_cluster_instances;
    return 0;
}

int fr_emr_cost_guardrail(const fr_emr_cost *c, char *msg, size_t n)
{
    if (!c->over_instance_limit) {
        if (msg && n)
            msg[0] = '\0';
        return 0;
    }
    if (msg && n)
        snprintf(msg, n, "the test cluster would have %lld instances, more than the limit of %lld (MAX_CLUSTER_INSTANCES)",
                 (long long)c->test_instances, (long long)c->max_cluster_instances);
    return FR_EDENIED;
}

static json_t *per_node(const double *v)
{
    json_t *o = json_object();
    for (int i = 0; i < FR_EMR_NODE__COUNT; i++)
        json_object_set_new(o, fr_emr_node_name((fr_emr_node)i), fr_emr_json_num(v[i], 4));
    return o;
}

json_t *fr_emr_cost_to_json(const fr_emr_cost *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "per_hour",
                        json_pack("{s:o, s:o, s:o, s:o}", "old", fr_emr_json_num(c->old_hourly_total, 4), "new",
                                  fr_emr_json_num(c->new_hourly_total, 4), "old_by_node", per_node(c->old_hourly),
                                  "new_by_node", per_node(c->new_hourly)));
    json_object_set_new(o, "per_run",
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "runtime_h", fr_emr_json_num(c->runtime_h, 4), "old",
                                  fr_emr_json_num(c->old_run, 2), "new", fr_emr_json_num(c->new_run, 2), "savings",
                                  fr_emr_json_num(c->run_savings, 2), "savings_pct",
                                  fr_emr_json_num(c->savings_pct, 1)));
    json_object_set_new(o, "monthly",
                        json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:b}", "runs_in_window",
                                  (json_int_t)c->runs_in_window, "runs_per_month", fr_emr_json_num(c->runs_per_month, 1),
                                  "hours_in_window", fr_emr_json_num(c->hours_in_window, 3), "old",
                                  fr_emr_json_num(c->old_monthly, 2), "new", fr_emr_json_num(c->new_monthly, 2),
                                  "savings", fr_emr_json_num(c->monthly_savings, 2), "history_assumed",
                                  c->history_assumed));
    json_object_set_new(json_object_get(o, "monthly"), "savings_by_node", per_node(c->monthly_savings_by_node));
    json_object_set_new(o, "test",
                        json_pack("{s:o, s:o, s:I, s:b, s:o, s:b, s:I}", "hours", fr_emr_json_num(c->test_hours, 3),
                                  "cost", fr_emr_json_num(c->test_cost, 2), "instances", (json_int_t)c->test_instances,
                                  "over_cost_ceiling", c->over_cost_ceiling, "max_test_cost",
                                  fr_emr_json_num(c->max_test_cost, 2), "over_instance_limit", c->over_instance_limit,
                                  "max_cluster_instances", (json_int_t)c->max_cluster_instances));
    json_t *w = json_array();
    if (c->over_cost_ceiling)
        json_array_append_new(w, json_string("test_cost_over_ceiling"));
    if (c->over_instance_limit)
        json_array_append_new(w, json_string("test_instances_over_limit"));
    if (c->history_assumed)
        json_array_append_new(w, json_string("history_assumed"));
    if (c->price_flags & FR_EMR_PRICE_SPOT_ESTIMATED)
        json_array_append_new(w, json_string("spot_price_estimated"));
    if (c->price_flags & FR_EMR_PRICE_SPOT_UNKNOWN)
        json_array_append_new(w, json_string("spot_price_unknown"));
    if (c->price_flags & FR_EMR_PRICE_TYPE_APPROX)
        json_array_append_new(w, json_string("type_price_approximate"));
    if (c->price_flags & FR_EMR_PRICE_REGION_ESTIMATE)
        json_array_append_new(w, json_string("prices_from_us_east_1"));
    json_object_set_new(o, "warnings", w);
    return o;
}
