/* Recommendations per node type: requirement, the three options and the
 * primary choice (rules in emr_recommend.h and docs/emr-analysis.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal/emr_recommend.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr/internal.h"

void fr_emr_rec_opts_default(fr_emr_rec_opts *o)
{
    o->min_generation = 5;
    o->allow_flex = false;
    o->keep_arch = false;
    o->tie_pct = 5;
    o->od_share = 1;
}

const char *fr_emr_opt_kind_name(fr_emr_opt_kind k)
{
    static const char *const names[] = {"same_family", "category_optimized", "cross_family"};
    return (unsigned)k < FR_EMR_OPT__COUNT ? names[k] : "unknown";
}

typedef struct ctx {
    const fr_emr_prices *p;
    const fr_emr_rec_opts *o;
    const fr_emr_itype *cur;
    double req_vcpu, req_mem;
    unsigned *flags;
} ctx;

static bool meets(const ctx *c, const fr_emr_itype *t)
{
    return (double)t->vcpu >= c->req_vcpu - 1e-9 && t->memory_gib >= c->req_mem - 1e-9;
}

static bool usable(const ctx *c, const fr_emr_itype *t)
{
    return t->emr_supported && t->size_rank > 0 && (!c->o->keep_arch || t->arch == c->cur->arch);
}

static double price(const ctx *c, const fr_emr_itype *t)
{
    double h = NAN;
    if (fr_emr_hourly_mix(c->p, t->name, c->o->od_share, &h, c->flags) != 0)
        return NAN;
    return h;
}

static void set_found(const ctx *c, fr_emr_option *op, const fr_emr_itype *t, double hourly, double cur_hourly)
{
    op->found = true;
    op->type = t;
    op->hourly = hourly;
    op->delta_pct = cur_hourly > 0 ? 100.0 * (hourly - cur_hourly) / cur_hourly : 0;
    op->arch_change = t->arch != c->cur->arch;
    op->why[0] = '\0';
}

static void same_family(const ctx *c, fr_emr_status status, double cur_hourly, fr_emr_option *op)
{
    const fr_emr_catalog *cat = c->p->cat;
    int steps = fr_emr_status_steps(status);
    if (steps == 0 && meets(c, c->cur)) {
        set_found(c, op, c->cur, cur_hourly, cur_hourly);
        op->size_steps = 0;
        return;
    }
    if (steps < 0) {
        for (int k = -steps; k >= 1; k--) {
            int taken;
            const fr_emr_itype *t = fr_emr_catalog_step(cat, c->cur, -k, true, &taken);
            if (taken == 0) {
                snprintf(op->why, sizeof(op->why), "%s is the smallest EMR-supported size of %s", c->cur->name,
                         c->cur->family);
                return;
            }
            if (taken != -k)
                continue; /* clamped: the same type comes again with a smaller k */
            if (meets(c, t)) {
                set_found(c, op, t, price(c, t), cur_hourly);
                op->size_steps = taken;
                return;
            }
        }
        const fr_emr_itype *one = fr_emr_catalog_step(cat, c->cur, -1, true, NULL);
        snprintf(op->why, sizeof(op->why), "one size down (%s: %d vCPU, %g GiB) would not meet the requirement",
                 one->name, one->vcpu, one->memory_gib);
        return;
    }
    /* upsizing (or the current type does not meet the requirement) */
    for (int k = 1; k < 64; k++) {
        int taken;
        const fr_emr_itype *t = fr_emr_catalog_step(cat, c->cur, k, true, &taken);
        if (taken < k)
            break;
        if (meets(c, t)) {
            set_found(c, op, t, price(c, t), cur_hourly);
            op->size_steps = taken;
            return;
        }
    }
    snprintf(op->why, sizeof(op->why), "no larger EMR-supported size of %s meets the requirement", c->cur->family);
}

static bool better(const fr_emr_itype *t, double h, const fr_emr_itype *best, double bh)
{
    if (!best)
        return true;
    if (fabs(h - bh) > 1e-9)
        return h < bh;
    if (t->size_rank != best->size_rank)
        return t->size_rank < best->size_rank;
    if (t->generation != best->generation)
        return t->generation > best->generation;
    return strcmp(t->name, best->name) < 0;
}

/* Cheapest candidate; cat < 0: general, compute or memory. */
static void cheapest(const ctx *c, int category, double cur_hourly, fr_emr_option *op)
{
    const fr_emr_catalog *cat = c->p->cat;
    const fr_emr_itype *best = NULL;
    double bh = 0;
    for (size_t i = 0; i < fr_emr_catalog_count(cat); i++) {
        const fr_emr_itype *t = fr_emr_catalog_at(cat, i);
        if (!usable(c, t) || !meets(c, t))
            continue;
        if (category < 0) {
            if (t->category != FR_EMR_CAT_GENERAL && t->category != FR_EMR_CAT_COMPUTE &&
                t->category != FR_EMR_CAT_MEMORY)
                continue;
        } else if ((int)t->category != category) {
            continue;
        }
        if (t->generation < c->o->min_generation && strcmp(t->family, c->cur->family) != 0)
            continue;
        if (!c->o->allow_flex && strstr(t->family, "-flex"))
            continue;
        double h = price(c, t);
        if (isnan(h))
            continue;
        if (better(t, h, best, bh)) {
            best = t;
            bh = h;
        }
    }
    if (best) {
        set_found(c, op, best, bh, cur_hourly);
        int d;
        op->size_steps = fr_emr_catalog_distance(cat, c->cur, best, true, &d) == 0 ? d : 0;
    } else if (category < 0) {
        snprintf(op->why, sizeof(op->why), "no EMR-supported type has %.1f vCPU and %.1f GiB", c->req_vcpu,
                 c->req_mem);
    } else {
        snprintf(op->why, sizeof(op->why), "no EMR-supported %s type has %.1f vCPU and %.1f GiB",
                 fr_emr_category_name((fr_emr_category)category), c->req_vcpu, c->req_mem);
    }
}

int fr_emr_recommend(const fr_emr_prices *p, const fr_emr_analysis *a, const fr_emr_thresholds *th,
                     const fr_emr_rec_opts *opts, fr_emr_recommendation *out)
{
    memset(out, 0, sizeof(*out));
    out->primary = -1;
    if (!p || !p->cat || !a || !th || !opts || !(opts->od_share >= 0 && opts->od_share <= 1) || !a->cpu.present)
        return -EINVAL;
    out->node = a->node;
    fr_strlcpy(out->current_name, a->instance_type, sizeof(out->current_name));
    out->current = fr_emr_catalog_resolve(p->cat, a->instance_type, &out->current_match);
    if (!out->current)
        return FR_ENOTFOUND;
    out->instances = a->n_instances;
    out->status = a->status;
    out->profile = a->profile;
    out->cpu_only = a->cpu_only;
    out->od_share = opts->od_share;

    const fr_emr_itype *cur = out->current;
    out->req_vcpu = FR_MAX(1.0, (double)cur->vcpu * a->cpu.sizing_p95 / 100.0 * th->headroom);
    out->mem_assumed = a->cpu_only;
    if (a->cpu_only) /* no memory data: keep today's GiB per vCPU */
        out->req_mem_gib = out->req_vcpu * cur->memory_gib / (double)cur->vcpu;
    else
        out->req_mem_gib = cur->memory_gib * a->mem.sizing_p95 / 100.0 * th->headroom;

    ctx c = {p, opts, cur, out->req_vcpu, out->req_mem_gib, &out->price_flags};
    /* the current type priced as the cluster named it (spot lookups by that name) */
    if (fr_emr_hourly_mix(p, a->instance_type, opts->od_share, &out->hourly_current, &out->price_flags) != 0)
        return FR_ENOTFOUND;
    double cur_h = out->hourly_current;

    for (int k = 0; k < FR_EMR_OPT__COUNT; k++)
        out->options[k].kind = (fr_emr_opt_kind)k;
    same_family(&c, a->status, cur_h, &out->options[FR_EMR_OPT_SAME_FAMILY]);
    int want_cat;
    switch (a->profile) {
    case FR_EMR_PROFILE_CPU_HEAVY:
        want_cat = FR_EMR_CAT_COMPUTE;
        break;
    case FR_EMR_PROFILE_MEMORY_HEAVY:
        want_cat = FR_EMR_CAT_MEMORY;
        break;
    case FR_EMR_PROFILE_BALANCED:
        want_cat = FR_EMR_CAT_GENERAL;
        break;
    default:
        want_cat = (int)cur->category;
        break;
    }
    cheapest(&c, want_cat, cur_h, &out->options[FR_EMR_OPT_CATEGORY]);
    cheapest(&c, -1, cur_h, &out->options[FR_EMR_OPT_CROSS_FAMILY]);

    /* primary */
    bool upsizing = a->status == FR_EMR_STATUS_UNDERSIZED || !meets(&c, cur);
    if (a->status == FR_EMR_STATUS_RIGHT_SIZED && meets(&c, cur)) {
        snprintf(out->reason, sizeof(out->reason), "right-sized (%.1f%% avg, %.1f%% P95): keep %s", a->status_avg,
                 a->status_p95, cur->name);
    } else {
        double lo = INFINITY;
        for (int k = 0; k < FR_EMR_OPT__COUNT; k++) {
            const fr_emr_option *op = &out->options[k];
            if (!op->found || isnan(op->hourly))
                continue;
            if (!upsizing && op->hourly >= cur_h - 1e-12)
                continue; /* downsizing must save money */
            lo = FR_MIN(lo, op->hourly);
        }
        if (isfinite(lo)) {
            for (int k = 0; k < FR_EMR_OPT__COUNT; k++) {
                const fr_emr_option *op = &out->options[k];
                if (!op->found || isnan(op->hourly) || (!upsizing && op->hourly >= cur_h - 1e-12))
                    continue;
                if (op->hourly <= lo * (1 + opts->tie_pct / 100.0) + 1e-12) {
                    out->primary = k;
                    break;
                }
            }
        }
        if (out->primary >= 0 && out->options[out->primary].type == cur)
            out->primary = -1;
        if (out->primary < 0)
            snprintf(out->reason, sizeof(out->reason), "%s, but no %s EMR-supported type meets %.1f vCPU / %.1f GiB: keep %s",
                     fr_emr_status_label(a->status), upsizing ? "larger" : "cheaper", out->req_vcpu, out->req_mem_gib,
                     cur->name);
    }
    if (out->primary >= 0) {
        const fr_emr_option *op = &out->options[out->primary];
        out->recommended = op->type;
        out->changed = true;
        out->arch_change = op->arch_change;
        out->hourly_new = op->hourly;
        snprintf(out->reason, sizeof(out->reason), "%s (%.1f%% avg, %.1f%% P95 %s): %s %s -> %s, %+.1f%% per instance-hour",
                 fr_emr_status_label(a->status), a->status_avg, a->status_p95, a->status_from_memory ? "memory" : "CPU",
                 fr_emr_opt_kind_name(op->kind), cur->name, op->type->name, op->delta_pct);
    } else {
        out->recommended = cur;
        out->hourly_new = cur_h;
    }
    return 0;
}

static json_t *option_json(const fr_emr_option *op)
{
    if (!op->found)
        return json_pack("{s:s, s:b, s:s}", "kind", fr_emr_opt_kind_name(op->kind), "found", 0, "why", op->why);
    return json_pack("{s:s, s:b, s:s, s:i, s:f, s:s, s:s, s:o, s:o, s:b, s:i}", "kind", fr_emr_opt_kind_name(op->kind),
                     "found", 1, "type", op->type->name, "vcpu", op->type->vcpu, "memory_gib", op->type->memory_gib,
                     "arch", fr_emr_arch_name(op->type->arch), "category", fr_emr_category_name(op->type->category),
                     "hourly", fr_emr_json_num(op->hourly, 4), "delta_pct", fr_emr_json_num(op->delta_pct, 1),
                     "arch_change", op->arch_change, "size_steps", op->size_steps);
}

json_t *fr_emr_recommendation_to_json(const fr_emr_recommendation *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "node", json_string(fr_emr_node_name(r->node)));
    json_t *cur = fr_emr_itype_to_json(r->current);
    if (json_is_object(cur)) {
        json_object_set_new(cur, "as_named", json_string(r->current_name));
        json_object_set_new(cur, "approximate", json_boolean(r->current_match != FR_EMR_MATCH_EXACT));
        json_object_set_new(cur, "hourly", fr_emr_json_num(r->hourly_current, 4));
    }
    json_object_set_new(o, "current", cur);
    json_object_set_new(o, "instances", json_integer((json_int_t)r->instances));
    json_object_set_new(o, "status", json_string(fr_emr_status_name(r->status)));
    json_object_set_new(o, "status_label", json_string(fr_emr_status_label(r->status)));
    json_object_set_new(o, "profile", json_string(fr_emr_profile_name(r->profile)));
    json_object_set_new(o, "cpu_only", json_boolean(r->cpu_only));
    json_object_set_new(o, "requirement",
                        json_pack("{s:o, s:o, s:b}", "vcpu", fr_emr_json_num(r->req_vcpu, 2), "memory_gib",
                                  fr_emr_json_num(r->req_mem_gib, 2), "memory_assumed", r->mem_assumed));
    json_object_set_new(o, "od_share", fr_emr_json_num(r->od_share, 3));
    if (r->primary >= 0)
        json_object_set_new(o, "recommendation", option_json(&r->options[r->primary]));
    else
        json_object_set_new(o, "recommendation", json_null());
    json_object_set_new(o, "recommended_type", json_string(r->recommended ? r->recommended->name : r->current_name));
    json_object_set_new(o, "changed", json_boolean(r->changed));
    json_object_set_new(o, "arch_change", json_boolean(r->arch_change));
    json_object_set_new(o, "hourly_new", fr_emr_json_num(r->hourly_new, 4));
    json_t *alts = json_array();
    for (int k = 0; k < FR_EMR_OPT__COUNT; k++)
        if (k != r->primary)
            json_array_append_new(alts, option_json(&r->options[k]));
    json_object_set_new(o, "alternatives", alts);
    json_object_set_new(o, "reason", json_string(r->reason));
    return o;
}
