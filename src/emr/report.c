/* Cards, the proposal and the Phase 2 comparison (emr_report.h). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "frugal/emr_report.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr/internal.h"

static json_t *metric_card(const fr_emr_metric_stats *s)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:b, s:o}", "avg", fr_emr_json_num(s->avg, 2), "p95",
                     fr_emr_json_num(s->p95, 2), "max", fr_emr_json_num(s->max, 2), "sizing_p95",
                     fr_emr_json_num(s->sizing_p95, 2), "peak_sustained", s->peak_sustained, "coverage",
                     fr_emr_json_num(s->coverage, 4));
}

static void add_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), s) == 0) return;
    json_array_append_new(arr, json_string(s));
}

json_t *fr_emr_card_to_json(const fr_emr_analysis *a, const fr_emr_recommendation *r, const fr_emr_cost *c,
                            bool with_series)
{
    json_t *o = json_object();
    char label[96];
    snprintf(label, sizeof(label), "%zu x %s", a->n_instances, a->instance_type);
    json_object_set_new(o, "node", json_string(fr_emr_node_name(a->node)));
    json_object_set_new(o, "label", json_string(label));
    json_object_set_new(o, "instance_type", json_string(a->instance_type));
    json_object_set_new(o, "instances", json_integer((json_int_t)a->n_instances));
    json_object_set_new(o, "cpu", metric_card(&a->cpu));
    json_object_set_new(o, "memory", a->cpu_only ? json_null() : metric_card(&a->mem));
    json_object_set_new(o, "cpu_only", json_boolean(a->cpu_only));
    json_object_set_new(o, "status", json_string(fr_emr_status_name(a->status)));
    json_object_set_new(o, "status_label", json_string(fr_emr_status_label(a->status)));
    json_object_set_new(o, "profile", json_string(fr_emr_profile_name(a->profile)));
    json_t *w = fr_emr_warnings_to_json(a->warnings);
    if (r) {
        json_t *rj = fr_emr_recommendation_to_json(r);
        static const char *const keep[] = {"recommendation", "recommended_type", "changed", "arch_change",
                                           "alternatives",   "requirement",      "reason",  "hourly_new"};
        for (size_t i = 0; i < FR_ARRAY_SIZE(keep); i++)
            json_object_set(o, keep[i], json_object_get(rj, keep[i]));
        json_object_set(o, "hourly_current", json_object_get(json_object_get(rj, "current"), "hourly"));
        json_decref(rj);
        if (r->mem_assumed)
            add_unique(w, "memory_assumed");
        if (r->current_match != FR_EMR_MATCH_EXACT)
            add_unique(w, "current_type_approximate");
        if (r->arch_change)
            add_unique(w, "architecture_change");
    } else {
        json_object_set_new(o, "recommendation", json_null());
    }
    json_object_set_new(o, "monthly_savings", c ? fr_emr_json_num(c->monthly_savings_by_node[a->node], 2) : json_null());
    json_object_set_new(o, "warnings", w);
    if (with_series) {
        json_t *full = fr_emr_analysis_to_json(a, true);
        json_object_set(o, "series", json_object_get(full, "series"));
        json_decref(full);
    }
    return o;
}

json_t *fr_emr_proposal_to_json(const char *cluster_name, const fr_emr_analysis *const *analyses,
                                const fr_emr_recommendation *const *recs, size_t n, const fr_emr_cost *cost,
                                const fr_emr_rewrite *rw, bool with_series)
{
    json_t *o = json_object();
    json_object_set_new(o, "cluster", json_string(cluster_name ? cluster_name : ""));
    json_t *nodes = json_array();
    json_t *warn = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *card = fr_emr_card_to_json(analyses[i], recs ? recs[i] : NULL, cost, with_series);
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(card, "warnings"), k, v)
        {
            char s[96];
            snprintf(s, sizeof(s), "%s: %s", fr_emr_node_name(analyses[i]->node), json_string_value(v));
            add_unique(warn, s);
        }
        json_array_append_new(nodes, card);
    }
    json_object_set_new(o, "nodes", nodes);
    char refusal[200] = "";
    bool refused = false;
    if (cost) {
        json_t *cj = fr_emr_cost_to_json(cost);
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(cj, "warnings"), k, v) add_unique(warn, json_string_value(v));
        json_object_set_new(o, "cost", cj);
        refused = fr_emr_cost_guardrail(cost, refusal, sizeof(refusal)) != 0;
    } else {
        json_object_set_new(o, "cost", json_null());
    }
    if (rw) {
        json_object_set_new(o, "rewrite", fr_emr_rewrite_to_json(rw));
        if (rw->master_arch_mismatch)
            add_unique(warn, "master_architecture_differs");
    } else {
        json_object_set_new(o, "rewrite", json_null());
    }
    json_object_set_new(o, "refused", json_boolean(refused));
    json_object_set_new(o, "refusal", refused ? json_string(refusal) : json_null());
    json_object_set_new(o, "warnings", warn);
    return o;
}

int fr_emr_compare(const fr_emr_step_result *steps, size_t n, double old_hourly, double new_hourly,
                   fr_emr_comparison *out)
{
    memset(out, 0, sizeof(*out));
    if (!(old_hourly >= 0) || !(new_hourly >= 0) || (n && !steps))
        return -EINVAL;
    out->n_steps = n;
    out->old_hourly = old_hourly;
    out->new_hourly = new_hourly;
    for (size_t i = 0; i < n; i++) {
        if (steps[i].new_ok && steps[i].new_ms >= 0)
            out->steps_ok++;
        else
            out->steps_failed++;
        if (steps[i].old_ms >= 0 && steps[i].new_ms >= 0) {
            out->old_total_ms += steps[i].old_ms;
            out->new_total_ms += steps[i].new_ms;
        }
    }
    if (out->old_total_ms > 0)
        out->runtime_delta_pct = 100.0 * (double)(out->new_total_ms - out->old_total_ms) / (double)out->old_total_ms;
    if (n && out->old_total_ms > 0) {
        out->old_cost = old_hourly * (double)out->old_total_ms / 3600000.0;
        out->new_cost = new_hourly * (double)out->new_total_ms / 3600000.0;
    } else { /* no comparable step: per hour */
        out->old_cost = old_hourly;
        out->new_cost = new_hourly;
    }
    out->cost_delta_pct = out->old_cost > 0 ? 100.0 * (out->new_cost - out->old_cost) / out->old_cost : 0;
    out->slower = out->runtime_delta_pct > 10.0;
    bool measured = out->old_total_ms > 0;
    out->recommend = measured && out->steps_failed == 0 && out->new_cost < out->old_cost && !out->slower;
    if (!measured && !out->steps_failed)
        snprintf(out->verdict, sizeof(out->verdict),
                 "nothing was measured (no step ran on both clusters): the hourly price alone is %+.1f%%; run the "
                 "test with steps before adopting", out->cost_delta_pct);
    else if (out->steps_failed)
        snprintf(out->verdict, sizeof(out->verdict), "%zu of %zu steps did not complete on the test cluster: keep the "
                 "current types", out->steps_failed, n);
    else if (out->slower)
        snprintf(out->verdict, sizeof(out->verdict), "the test cluster was %.1f%% slower (cost %+.1f%%): review before "
                 "adopting", out->runtime_delta_pct, out->cost_delta_pct);
    else if (out->recommend)
        snprintf(out->verdict, sizeof(out->verdict), "adopt: %.1f%% cheaper, runtime %+.1f%%", -out->cost_delta_pct,
                 out->runtime_delta_pct);
    else
        snprintf(out->verdict, sizeof(out->verdict), "no saving (cost %+.1f%%): keep the current types",
                 out->cost_delta_pct);
    return 0;
}

json_t *fr_emr_comparison_to_json(const fr_emr_comparison *c, const fr_emr_step_result *steps, size_t n)
{
    json_t *o = json_object();
    json_t *sa = json_array();
    for (size_t i = 0; i < n; i++) {
        const fr_emr_step_result *s = &steps[i];
        double d = s->old_ms > 0 && s->new_ms >= 0 ? 100.0 * (double)(s->new_ms - s->old_ms) / (double)s->old_ms : NAN;
        json_array_append_new(sa, json_pack("{s:s, s:o, s:o, s:o, s:b}", "name", s->name ? s->name : "", "old_ms",
                                            s->old_ms >= 0 ? json_integer(s->old_ms) : json_null(), "new_ms",
                                            s->new_ms >= 0 ? json_integer(s->new_ms) : json_null(), "delta_pct",
                                            fr_emr_json_num(d, 1), "ok", s->new_ok));
    }
    json_object_set_new(o, "steps", sa);
    json_object_set_new(o, "total",
                        json_pack("{s:I, s:I, s:o, s:I, s:I}", "old_ms", (json_int_t)c->old_total_ms, "new_ms",
                                  (json_int_t)c->new_total_ms, "delta_pct", fr_emr_json_num(c->runtime_delta_pct, 1),
                                  "steps_ok", (json_int_t)c->steps_ok, "steps_failed", (json_int_t)c->steps_failed));
    json_object_set_new(o, "cost",
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "old_hourly", fr_emr_json_num(c->old_hourly, 4),
                                  "new_hourly", fr_emr_json_num(c->new_hourly, 4), "old", fr_emr_json_num(c->old_cost, 2),
                                  "new", fr_emr_json_num(c->new_cost, 2), "delta_pct",
                                  fr_emr_json_num(c->cost_delta_pct, 1)));
    json_object_set_new(o, "slower", json_boolean(c->slower));
    json_object_set_new(o, "recommend", json_boolean(c->recommend));
    json_object_set_new(o, "verdict", json_string(c->verdict));
    return o;
}
