/* The Parameter Store cluster config: inspection and the byte-preserving
 * rewrite of CORE/TASK instance types (rules in emr_param.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/emr_param.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr/internal.h"
#include "emr/jspan.h"

size_t fr_emr_tier_limit(fr_emr_tier t)
{
    return t == FR_EMR_TIER_ADVANCED ? 8192 : 4096;
}

int fr_emr_tier_parse(const char *s, fr_emr_tier *out)
{
    if (s && fr_str_ieq(s, "Standard"))
        *out = FR_EMR_TIER_STANDARD;
    else if (s && fr_str_ieq(s, "Advanced"))
        *out = FR_EMR_TIER_ADVANCED;
    else
        return FR_EPARSE;
    return 0;
}

/* ---- a parsed view of a value: the outer document and, when Instances is
 * a string, the inner one with its offset map ---- */

typedef struct view {
    js_doc outer;
    js_doc inner;
    bool inner_parsed;
    fr_buf inner_text;
    size_t *map; /* inner offset -> outer offset (NULL: Instances is an object) */
    js_doc *idoc; /* the document holding the Instances object */
    int inst;     /* its node */
} view;

static void view_free(view *v)
{
    js_free(&v->outer);
    if (v->inner_parsed)
        js_free(&v->inner);
    fr_buf_free(&v->inner_text);
    free(v->map);
    memset(v, 0, sizeof(*v));
}

__attribute__((format(printf, 3, 4))) static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FR_EPARSE;
}

/* Outer range of an inner [s, e). */
static void outer_range(const view *v, size_t s, size_t e, size_t *os, size_t *oe)
{
    if (v->map) {
        *os = v->map[s];
        *oe = v->map[e];
    } else {
        *os = s;
        *oe = e;
    }
}

/* Decoded string value into dst (FR_ELIMIT when too long). */
static int get_str(const js_doc *d, int node, char *dst, size_t n)
{
    if (node < 0 || d->n[node].type != JS_STRING)
        return FR_EPARSE;
    fr_buf b = FR_BUF_INIT;
    int rc = js_string_decode(d->text, d->n[node].start, d->n[node].end, &b, NULL);
    if (!rc) {
        if (b.len >= n || memchr(b.data ? b.data : "", '\0', b.len))
            rc = FR_ELIMIT;
        else
            fr_strlcpy(dst, b.data ? b.data : "", n);
    }
    fr_buf_free(&b);
    return rc;
}

static int get_num(const js_doc *d, int node, double *out)
{
    if (node < 0 || d->n[node].type != JS_NUMBER)
        return FR_EPARSE;
    char tmp[64];
    size_t l = d->n[node].end - d->n[node].start;
    if (l >= sizeof(tmp))
        return FR_EPARSE;
    memcpy(tmp, d->text + d->n[node].start, l);
    tmp[l] = '\0';
    return fr_parse_double(tmp, out);
}

/* A non-negative integer written as 2 or 2.0. */
static int get_count(const js_doc *d, int node, int64_t *out)
{
    double v;
    if (get_num(d, node, &v) != 0 || v < 0 || v > 1e9 || v != floor(v))
        return FR_EPARSE;
    *out = (int64_t)v;
    return 0;
}

static int parse_view(const char *text, size_t len, view *v, fr_emr_param_info *info, char *err, size_t errlen)
{
    char jerr[200];
    size_t pos = 0;
    memset(v, 0, sizeof(*v));
    if (js_parse(&v->outer, text, len, jerr, sizeof(jerr), &pos) != 0)
        return set_err(err, errlen, "not valid JSON: %s", jerr);
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    if (!j)
        return set_err(err, errlen, "not valid JSON (jansson): %s at byte %d", je.text, je.position);
    json_decref(j);
    if (v->outer.n[0].type != JS_OBJECT)
        return set_err(err, errlen, "the value is not a JSON object");

    /* top-level keys: count, duplicates, hash of the names in order */
    uint64_t h = 1469598103934665603ULL;
    size_t nk = 0;
    fr_buf b = FR_BUF_INIT;
    for (int c = v->outer.n[0].first_child; c >= 0; c = v->outer.n[c].next_sibling) {
        const js_node *k = &v->outer.n[v->outer.n[c].key];
        js_string_decode(text, k->start, k->end, &b, NULL);
        fr_buf_putc(&b, '\0');
        for (size_t i = 0; i < b.len; i++)
            h = (h ^ (unsigned char)b.data[i]) * 1099511628211ULL;
        nk++;
        int cnt;
        b.len--;
        b.data[b.len] = '\0';
        js_member(&v->outer, 0, b.data, &cnt);
        if (cnt > 1) {
            set_err(err, errlen, "top-level key \"%s\" appears %d times", b.data, cnt);
            fr_buf_free(&b);
            return FR_EPARSE;
        }
    }
    fr_buf_free(&b);
    info->n_keys = nk;
    info->keys_hash = h;

    int name = js_member(&v->outer, 0, "Name", NULL);
    if (name < 0)
        return set_err(err, errlen, "\"Name\" is missing");
    if (get_str(&v->outer, name, info->name, sizeof(info->name)) != 0)
        return set_err(err, errlen, "\"Name\" is not a string of at most 255 bytes");

    int inst = js_member(&v->outer, 0, "Instances", NULL);
    if (inst < 0)
        return set_err(err, errlen, "\"Instances\" is missing");
    const js_node *in = &v->outer.n[inst];
    if (in->type == JS_OBJECT) {
        v->idoc = &v->outer;
        v->inst = inst;
        return 0;
    }
    if (in->type != JS_STRING)
        return set_err(err, errlen, "\"Instances\" is neither a JSON string nor an object");
    info->instances_string = true;
    if (js_string_decode(text, in->start, in->end, &v->inner_text, &v->map) != 0)
        return -ENOMEM;
    const char *itext = v->inner_text.data ? v->inner_text.data : "";
    if (js_parse(&v->inner, itext, v->inner_text.len, jerr, sizeof(jerr), &pos) != 0) {
        size_t outer_at = v->map[pos <= v->inner_text.len ? pos : v->inner_text.len];
        return set_err(err, errlen, "\"Instances\" string (outer byte %zu): inner JSON %s", outer_at, jerr);
    }
    v->inner_parsed = true;
    j = json_loadb(itext, v->inner_text.len, 0, &je);
    if (!j)
        return set_err(err, errlen, "\"Instances\" string: inner JSON not valid (jansson): %s", je.text);
    json_decref(j);
    if (v->inner.n[0].type != JS_OBJECT)
        return set_err(err, errlen, "\"Instances\" string does not hold a JSON object");
    v->idoc = &v->inner;
    v->inst = 0;
    return 0;
}

static int parse_graviton(const view *v, fr_emr_param_info *info, char *err, size_t errlen)
{
    int cnt;
    int g = js_member(&v->outer, 0, "GravitonAmi", &cnt);
    if (g < 0)
        return 0;
    const js_node *n = &v->outer.n[g];
    if (n->type == JS_TRUE || n->type == JS_FALSE) {
        info->graviton_form = FR_EMR_GV_BOOL;
        info->graviton = n->type == JS_TRUE;
        info->graviton_start = n->start;
        info->graviton_end = n->end;
        return 0;
    }
    char s[16];
    if (n->type != JS_STRING || get_str(&v->outer, g, s, sizeof(s)) != 0)
        return set_err(err, errlen, "\"GravitonAmi\" is neither a boolean nor \"true\"/\"false\"");
    if (!fr_str_ieq(s, "true") && !fr_str_ieq(s, "false"))
        return set_err(err, errlen, "\"GravitonAmi\" is \"%s\", not \"true\" or \"false\"", s);
    info->graviton = fr_str_ieq(s, "true");
    bool all_lower = true, all_upper = true, capital = s[0] >= 'A' && s[0] <= 'Z';
    for (const char *p = s; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            all_lower = false;
        else
            all_upper = false;
        if (p > s && *p >= 'A' && *p <= 'Z')
            capital = false;
    }
    if (all_lower)
        info->graviton_form = FR_EMR_GV_LOWER;
    else if (all_upper)
        info->graviton_form = FR_EMR_GV_UPPER;
    else if (capital)
        info->graviton_form = FR_EMR_GV_CAPITAL;
    else
        return set_err(err, errlen, "\"GravitonAmi\" is \"%s\": mixed letter case is not kept", s);
    info->graviton_start = n->start + 1;
    info->graviton_end = n->end - 1;
    return 0;
}

/* Refuses an object with a key written twice. */
static int check_dups(const js_doc *d, int obj, const char *where, char *err, size_t errlen)
{
    fr_buf b = FR_BUF_INIT;
    int rc = 0;
    for (int c = d->n[obj].first_child; c >= 0 && !rc; c = d->n[c].next_sibling) {
        const js_node *k = &d->n[d->n[c].key];
        if (js_string_decode(d->text, k->start, k->end, &b, NULL) != 0 || fr_buf_putc(&b, '\0') != 0) {
            rc = -ENOMEM;
            break;
        }
        int cnt;
        js_member(d, obj, b.data, &cnt);
        if (cnt > 1)
            rc = set_err(err, errlen, "%s: key \"%s\" appears %d times", where, b.data, cnt);
    }
    fr_buf_free(&b);
    return rc;
}

/* InstanceType of an object (a config or a group) into slot. */
static int parse_type(const view *v, int obj, fr_emr_slot *slot, const char *where, char *err, size_t errlen)
{
    const js_doc *d = v->idoc;
    int cnt;
    int t = js_member(d, obj, "InstanceType", &cnt);
    if (t < 0)
        return set_err(err, errlen, "%s: \"InstanceType\" is missing", where);
    if (cnt > 1)
        return set_err(err, errlen, "%s: \"InstanceType\" appears %d times", where, cnt);
    if (get_str(d, t, slot->type, sizeof(slot->type)) != 0 || !fr_emr_type_name_valid(slot->type))
        return set_err(err, errlen, "%s: \"InstanceType\" is not an instance type name", where);
    outer_range(v, d->n[t].start + 1, d->n[t].end - 1, &slot->type_start, &slot->type_end);
    return 0;
}

static int parse_role(const js_doc *d, int obj, const char *key, fr_emr_node *node, const char *where, char *err,
                      size_t errlen)
{
    char s[16];
    int r = js_member(d, obj, key, NULL);
    if (r < 0)
        return set_err(err, errlen, "%s: \"%s\" is missing", where, key);
    if (get_str(d, r, s, sizeof(s)) != 0 || fr_emr_node_parse(s, node) != 0)
        return set_err(err, errlen, "%s: \"%s\" is not MASTER, CORE or TASK", where, key);
    return 0;
}

static int parse_fleets(const view *v, int arr, fr_emr_param_info *info, char *err, size_t errlen)
{
    const js_doc *d = v->idoc;
    int idx = 0;
    for (int f = d->n[arr].first_child; f >= 0; f = d->n[f].next_sibling, idx++) {
        char where[48];
        snprintf(where, sizeof(where), "InstanceFleets[%d]", idx);
        if (d->n[f].type != JS_OBJECT)
            return set_err(err, errlen, "%s is not an object", where);
        int rc = check_dups(d, f, where, err, errlen);
        if (rc)
            return rc;
        fr_emr_node node;
        rc = parse_role(d, f, "InstanceFleetType", &node, where, err, errlen);
        if (rc)
            return rc;
        fr_emr_node_cfg *c = &info->node[node];
        if (c->present)
            return set_err(err, errlen, "%s: a second %s fleet", where, fr_emr_node_name(node));
        c->present = true;
        c->fleet = true;
        int nm = js_member(d, f, "Name", NULL);
        if (nm >= 0 && get_str(d, nm, c->name, sizeof(c->name)) != 0)
            return set_err(err, errlen, "%s: \"Name\" is not a short string", where);
        int od = js_member(d, f, "TargetOnDemandCapacity", NULL);
        int sp = js_member(d, f, "TargetSpotCapacity", NULL);
        if (od >= 0 && get_count(d, od, &c->target_od) != 0)
            return set_err(err, errlen, "%s: \"TargetOnDemandCapacity\" is not a non-negative integer", where);
        if (sp >= 0 && get_count(d, sp, &c->target_spot) != 0)
            return set_err(err, errlen, "%s: \"TargetSpotCapacity\" is not a non-negative integer", where);
        int cfgs = js_member(d, f, "InstanceTypeConfigs", NULL);
        if (cfgs < 0 || d->n[cfgs].type != JS_ARRAY || d->n[cfgs].first_child < 0)
            return set_err(err, errlen, "%s: \"InstanceTypeConfigs\" is not a non-empty array", where);
        int k = 0;
        for (int e = d->n[cfgs].first_child; e >= 0; e = d->n[e].next_sibling, k++) {
            char w2[160];
            snprintf(w2, sizeof(w2), "%s (%s): InstanceTypeConfigs[%d]", where, fr_emr_node_name(node), k);
            if (d->n[e].type != JS_OBJECT)
                return set_err(err, errlen, "%s is not an object", w2);
            rc = check_dups(d, e, w2, err, errlen);
            if (rc)
                return rc;
            if (c->n_slots == FR_EMR_MAX_SLOTS)
                return set_err(err, errlen, "%s: more than %d configs", where, FR_EMR_MAX_SLOTS);
            fr_emr_slot *s = &c->slots[c->n_slots++];
            s->weight = 1;
            s->bid_pct = -1;
            s->market = FR_EMR_MARKET_ON_DEMAND;
            rc = parse_type(v, e, s, w2, err, errlen);
            if (rc)
                return rc;
            int wc = js_member(d, e, "WeightedCapacity", NULL);
            if (wc >= 0 && (get_num(d, wc, &s->weight) != 0 || !(s->weight > 0)))
                return set_err(err, errlen, "%s: \"WeightedCapacity\" is not a positive number", w2);
            int bp = js_member(d, e, "BidPriceAsPercentageOfOnDemandPrice", NULL);
            if (bp >= 0 && (get_num(d, bp, &s->bid_pct) != 0 || s->bid_pct < 0))
                return set_err(err, errlen, "%s: \"BidPriceAsPercentageOfOnDemandPrice\" is not a number", w2);
        }
    }
    return 0;
}

static int parse_groups(const view *v, int arr, fr_emr_param_info *info, char *err, size_t errlen)
{
    const js_doc *d = v->idoc;
    int idx = 0;
    for (int g = d->n[arr].first_child; g >= 0; g = d->n[g].next_sibling, idx++) {
        char where[96];
        snprintf(where, sizeof(where), "InstanceGroups[%d]", idx);
        if (d->n[g].type != JS_OBJECT)
            return set_err(err, errlen, "%s is not an object", where);
        int rc = check_dups(d, g, where, err, errlen);
        if (rc)
            return rc;
        fr_emr_node node;
        rc = parse_role(d, g, "InstanceRole", &node, where, err, errlen);
        if (rc)
            return rc;
        fr_emr_node_cfg *c = &info->node[node];
        if (c->present && node != FR_EMR_NODE_TASK)
            return set_err(err, errlen, "%s: a second %s group", where, fr_emr_node_name(node));
        if (c->n_slots == FR_EMR_MAX_SLOTS)
            return set_err(err, errlen, "%s: more than %d %s groups", where, FR_EMR_MAX_SLOTS, fr_emr_node_name(node));
        if (!c->present) {
            int nm = js_member(d, g, "Name", NULL);
            if (nm >= 0 && get_str(d, nm, c->name, sizeof(c->name)) != 0)
                return set_err(err, errlen, "%s: \"Name\" is not a short string", where);
        }
        c->present = true;
        c->fleet = false;
        fr_emr_slot *s = &c->slots[c->n_slots++];
        s->weight = 1;
        s->bid_pct = -1;
        s->market = FR_EMR_MARKET_ON_DEMAND;
        snprintf(where + strlen(where), sizeof(where) - strlen(where), " (%s)", fr_emr_node_name(node));
        rc = parse_type(v, g, s, where, err, errlen);
        if (rc)
            return rc;
        int ic = js_member(d, g, "InstanceCount", NULL);
        if (ic < 0 || get_count(d, ic, &s->count) != 0)
            return set_err(err, errlen, "%s: \"InstanceCount\" is missing or not a non-negative integer", where);
        int mk = js_member(d, g, "Market", NULL);
        if (mk >= 0) {
            char m[16];
            if (get_str(d, mk, m, sizeof(m)) != 0 || (strcmp(m, "ON_DEMAND") && strcmp(m, "SPOT")))
                return set_err(err, errlen, "%s: \"Market\" is not ON_DEMAND or SPOT", where);
            s->market = strcmp(m, "SPOT") == 0 ? FR_EMR_MARKET_SPOT : FR_EMR_MARKET_ON_DEMAND;
        }
    }
    return 0;
}

static int inspect_view(const char *text, size_t len, view *v, fr_emr_param_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    int rc = parse_view(text, len, v, out, err, errlen);
    if (rc)
        return rc;
    rc = parse_graviton(v, out, err, errlen);
    if (rc)
        return rc;
    const js_doc *d = v->idoc;
    rc = check_dups(d, v->inst, "Instances", err, errlen);
    if (rc)
        return rc;
    int fl = js_member(d, v->inst, "InstanceFleets", NULL);
    int gr = js_member(d, v->inst, "InstanceGroups", NULL);
    if (fl >= 0 && gr >= 0)
        return set_err(err, errlen, "Instances has both \"InstanceFleets\" and \"InstanceGroups\"");
    if (fl < 0 && gr < 0)
        return set_err(err, errlen, "Instances has neither \"InstanceFleets\" nor \"InstanceGroups\"");
    int arr = fl >= 0 ? fl : gr;
    if (d->n[arr].type != JS_ARRAY)
        return set_err(err, errlen, "Instances: \"%s\" is not an array", fl >= 0 ? "InstanceFleets" : "InstanceGroups");
    out->fleets = fl >= 0;
    rc = out->fleets ? parse_fleets(v, arr, out, err, errlen) : parse_groups(v, arr, out, err, errlen);
    if (rc)
        return rc;
    if (!out->node[FR_EMR_NODE_MASTER].present)
        return set_err(err, errlen, "Instances: no MASTER %s", out->fleets ? "fleet" : "group");
    return 0;
}

int fr_emr_param_inspect(const char *text, size_t len, fr_emr_param_info *out, char *err, size_t errlen)
{
    view v;
    int rc = inspect_view(text, len, &v, out, err, errlen);
    view_free(&v);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

size_t fr_emr_param_lots(const fr_emr_param_info *info, fr_emr_lot *lots, size_t max)
{
    size_t n = 0;
#define PUSH(nd, ty, mk, ct)                                                                                         \
    do {                                                                                                             \
        if ((ct) > 0) {                                                                                              \
            if (n < max) {                                                                                           \
                lots[n].node = (nd);                                                                                 \
                fr_strlcpy(lots[n].type, (ty), sizeof(lots[n].type));                                                \
                lots[n].market = (mk);                                                                               \
                lots[n].count = (ct);                                                                                \
            }                                                                                                        \
            n++;                                                                                                     \
        }                                                                                                            \
    } while (0)
    for (int k = 0; k < FR_EMR_NODE__COUNT; k++) {
        const fr_emr_node_cfg *c = &info->node[k];
        if (!c->present || c->n_slots == 0)
            continue;
        if (c->fleet) {
            double w = c->slots[0].weight;
            PUSH((fr_emr_node)k, c->slots[0].type, FR_EMR_MARKET_ON_DEMAND, (int64_t)ceil((double)c->target_od / w));
            PUSH((fr_emr_node)k, c->slots[0].type, FR_EMR_MARKET_SPOT, (int64_t)ceil((double)c->target_spot / w));
        } else {
            for (size_t i = 0; i < c->n_slots; i++)
                PUSH((fr_emr_node)k, c->slots[i].type, c->slots[i].market, c->slots[i].count);
        }
    }
#undef PUSH
    return n;
}

static const char *gv_text(fr_emr_gv_form f, bool v)
{
    switch (f) {
    case FR_EMR_GV_CAPITAL:
        return v ? "True" : "False";
    case FR_EMR_GV_UPPER:
        return v ? "TRUE" : "FALSE";
    default:
        return v ? "true" : "false";
    }
}

json_t *fr_emr_param_info_to_json(const fr_emr_param_info *info)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(info->name));
    json_object_set_new(o, "instances_format", json_string(info->instances_string ? "string" : "object"));
    json_object_set_new(o, "kind", json_string(info->fleets ? "fleets" : "groups"));
    if (info->graviton_form == FR_EMR_GV_ABSENT)
        json_object_set_new(o, "graviton_ami", json_null());
    else
        json_object_set_new(o, "graviton_ami", json_boolean(info->graviton));
    json_t *nodes = json_object();
    for (int k = 0; k < FR_EMR_NODE__COUNT; k++) {
        const fr_emr_node_cfg *c = &info->node[k];
        if (!c->present)
            continue;
        json_t *n = json_object();
        json_object_set_new(n, "name", json_string(c->name));
        if (c->fleet) {
            json_object_set_new(n, "target_on_demand", json_integer(c->target_od));
            json_object_set_new(n, "target_spot", json_integer(c->target_spot));
        }
        json_t *sl = json_array();
        for (size_t i = 0; i < c->n_slots; i++) {
            const fr_emr_slot *s = &c->slots[i];
            json_t *e = json_pack("{s:s}", "type", s->type);
            if (c->fleet) {
                json_object_set_new(e, "weight", json_real(s->weight));
                if (s->bid_pct >= 0)
                    json_object_set_new(e, "bid_pct_of_on_demand", json_real(s->bid_pct));
            } else {
                json_object_set_new(e, "count", json_integer(s->count));
                json_object_set_new(e, "market", json_string(fr_emr_market_name(s->market)));
            }
            json_array_append_new(sl, e);
        }
        json_object_set_new(n, c->fleet ? "configs" : "groups", sl);
        json_object_set_new(nodes, fr_emr_node_name((fr_emr_node)k), n);
    }
    json_object_set_new(o, "nodes", nodes);
    fr_emr_lot lots[3 * FR_EMR_MAX_SLOTS];
    size_t nl = fr_emr_param_lots(info, lots, FR_ARRAY_SIZE(lots));
    json_t *la = json_array();
    for (size_t i = 0; i < nl && i < FR_ARRAY_SIZE(lots); i++)
        json_array_append_new(la, json_pack("{s:s, s:s, s:s, s:I}", "node", fr_emr_node_name(lots[i].node), "type",
                                            lots[i].type, "market", fr_emr_market_name(lots[i].market), "count",
                                            (json_int_t)lots[i].count));
    json_object_set_new(o, "instances", la);
    return o;
}

/* ---- rewrite ---- */

/* Size steps from old to new, counted on the new family's ladder from the
 * counterpart of old's size (same family: old itself). */
static int size_delta(const fr_emr_catalog *cat, const fr_emr_itype *old, const fr_emr_itype *nw)
{
    if (!old || !nw)
        return 0;
    const fr_emr_itype *from = old;
    if (strcmp(old->family, nw->family) != 0) {
        char name[80];
        snprintf(name, sizeof(name), "%s.%s", nw->family, old->size);
        from = fr_emr_catalog_find(cat, name);
        if (!from)
            return 0;
    }
    int d;
    if (fr_emr_catalog_distance(cat, from, nw, true, &d) == 0)
        return d;
    if (fr_emr_catalog_distance(cat, from, nw, false, &d) == 0)
        return d;
    return 0;
}

static int add_edit(fr_emr_rewrite *rw, const char *text, size_t s, size_t e, const char *what, const char *repl)
{
    if (rw->n_edits == FR_ARRAY_SIZE(rw->edits))
        return FR_ELIMIT;
    fr_emr_edit *ed = &rw->edits[rw->n_edits++];
    ed->start = s;
    ed->end = e;
    fr_strlcpy(ed->what, what, sizeof(ed->what));
    size_t l = FR_MIN(e - s, sizeof(ed->old_text) - 1);
    memcpy(ed->old_text, text + s, l);
    ed->old_text[l] = '\0';
    fr_strlcpy(ed->new_text, repl, sizeof(ed->new_text));
    return 0;
}

static int cmp_edit(const void *a, const void *b)
{
    const fr_emr_edit *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* Architecture of a set of types: bit 0 x86_64, bit 1 arm64 (unknown types
 * are left out). */
static unsigned arch_bits(const fr_emr_catalog *cat, char (*types)[40], size_t n)
{
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        fr_emr_match m;
        const fr_emr_itype *t = fr_emr_catalog_resolve(cat, types[i], &m);
        if (t)
            bits |= t->arch == FR_EMR_ARCH_ARM64 ? 2u : 1u;
    }
    return bits;
}

static int verify(const char *text, size_t len, const fr_emr_param_info *orig, char final[][FR_EMR_MAX_SLOTS][40],
                  bool want_graviton, char *err, size_t errlen)
{
    fr_emr_param_info ni;
    char sub[200];
    if (fr_emr_param_inspect(text, len, &ni, sub, sizeof(sub)) != 0) {
        set_err(err, errlen, "internal: the rewritten value does not parse: %s", sub);
        return FR_EPARSE;
    }
    if (ni.n_keys != orig->n_keys || ni.keys_hash != orig->keys_hash || ni.instances_string != orig->instances_string ||
        ni.fleets != orig->fleets || strcmp(ni.name, orig->name) != 0 || ni.graviton_form != orig->graviton_form ||
        (ni.graviton_form != FR_EMR_GV_ABSENT && ni.graviton != want_graviton))
        return set_err(err, errlen, "internal: the rewritten value changed more than the instance types");
    for (int k = 0; k < FR_EMR_NODE__COUNT; k++) {
        const fr_emr_node_cfg *a = &orig->node[k], *b = &ni.node[k];
        if (a->present != b->present || a->n_slots != b->n_slots || a->target_od != b->target_od ||
            a->target_spot != b->target_spot || strcmp(a->name, b->name) != 0)
            return set_err(err, errlen, "internal: the rewritten %s changed shape", fr_emr_node_name((fr_emr_node)k));
        for (size_t i = 0; i < a->n_slots; i++) {
            const fr_emr_slot *x = &a->slots[i], *y = &b->slots[i];
            if (strcmp(y->type, final[k][i]) != 0 || x->weight != y->weight || x->bid_pct != y->bid_pct ||
                x->market != y->market || x->count != y->count)
                return set_err(err, errlen, "internal: %s slot %zu is not as expected after the rewrite",
                               fr_emr_node_name((fr_emr_node)k), i);
        }
    }
    return 0;
}

int fr_emr_param_rewrite(const char *text, size_t len, const fr_emr_catalog *cat, const fr_emr_rewrite_req *req,
                         fr_emr_rewrite *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (!text || !cat || !req || req->to[FR_EMR_NODE_MASTER]) {
        set_err(err, errlen, "invalid request (MASTER is never changed)");
        return -EINVAL;
    }
    fr_emr_param_info info;
    int rc = fr_emr_param_inspect(text, len, &info, err, errlen);
    if (rc)
        return rc;
    out->limit = fr_emr_tier_limit(req->tier);

    char final[FR_EMR_NODE__COUNT][FR_EMR_MAX_SLOTS][40];
    for (int k = 0; k < FR_EMR_NODE__COUNT; k++)
        for (size_t i = 0; i < info.node[k].n_slots; i++)
            fr_strlcpy(final[k][i], info.node[k].slots[i].type, 40);

    for (int k = FR_EMR_NODE_CORE; k < FR_EMR_NODE__COUNT; k++) {
        const char *to = req->to[k];
        const char *nn = fr_emr_node_name((fr_emr_node)k);
        if (!to)
            continue;
        fr_emr_node_cfg *c = &info.node[k];
        if (!c->present) {
            set_err(err, errlen, "%s: the config has no %s %s", nn, nn, info.fleets ? "fleet" : "group");
            return FR_ENOTFOUND;
        }
        const fr_emr_itype *nw = fr_emr_catalog_find(cat, to);
        if (!nw) {
            set_err(err, errlen, "%s: %s is not in the instance catalog", nn, to);
            return FR_ENOTFOUND;
        }
        if (!nw->emr_supported || nw->size_rank <= 0) {
            set_err(err, errlen, "%s: %s is not an EMR-supported size", nn, to);
            return FR_EDENIED;
        }
        size_t p = 0;
        if (req->from[k]) {
            for (p = 0; p < c->n_slots; p++)
                if (strcmp(c->slots[p].type, req->from[k]) == 0)
                    break;
            if (p == c->n_slots) {
                set_err(err, errlen, "%s: no %s of type %s in the config", nn, info.fleets ? "instance type config" : "group",
                        req->from[k]);
                return FR_ENOTFOUND;
            }
        }
        fr_emr_match m;
        const fr_emr_itype *old = fr_emr_catalog_resolve(cat, c->slots[p].type, &m);
        int d = size_delta(cat, old, nw);
        fr_strlcpy(final[k][p], nw->name, 40);
        for (size_t i = 0; i < c->n_slots; i++) {
            fr_emr_slot_change *ch = &out->slots[out->n_slots++];
            ch->node = (fr_emr_node)k;
            ch->index = i;
            fr_strlcpy(ch->from, c->slots[i].type, sizeof(ch->from));
            if (i == p) {
                ch->action = FR_EMR_SLOT_PRIMARY;
                fr_strlcpy(ch->to, nw->name, sizeof(ch->to));
                snprintf(ch->note, sizeof(ch->note), "recommended type (%+d size steps)", d);
                continue;
            }
            ch->action = FR_EMR_SLOT_KEPT;
            fr_strlcpy(ch->to, c->slots[i].type, sizeof(ch->to));
            const fr_emr_itype *t = fr_emr_catalog_find(cat, c->slots[i].type);
            if (!t) {
                snprintf(ch->note, sizeof(ch->note), "kept: not in the instance catalog");
                continue;
            }
            if (d == 0) {
                snprintf(ch->note, sizeof(ch->note), "kept: the recommendation keeps the size");
                continue;
            }
            int taken;
            const fr_emr_itype *s = fr_emr_catalog_step(cat, t, d, true, &taken);
            if (taken != d) {
                snprintf(ch->note, sizeof(ch->note), "kept: %s has no EMR size %d step%s %s", t->family, abs(d),
                         abs(d) == 1 ? "" : "s", d < 0 ? "down" : "up");
                continue;
            }
            bool dup = false;
            if (c->fleet)
                for (size_t j = 0; j < c->n_slots; j++)
                    if (j != i && strcmp(final[k][j], s->name) == 0)
                        dup = true;
            if (dup) {
                snprintf(ch->note, sizeof(ch->note), "kept: %s is already in the fleet", s->name);
                continue;
            }
            fr_strlcpy(final[k][i], s->name, 40);
            fr_strlcpy(ch->to, s->name, sizeof(ch->to));
            ch->action = FR_EMR_SLOT_STEPPED;
            snprintf(ch->note, sizeof(ch->note), "moved %+d size step%s in its family", d, abs(d) == 1 ? "" : "s");
        }
        if (c->fleet)
            for (size_t i = 0; i < c->n_slots; i++)
                for (size_t j = i + 1; j < c->n_slots; j++)
                    if (strcmp(final[k][i], final[k][j]) == 0) {
                        set_err(err, errlen, "%s fleet would list %s twice (configs %zu and %zu)", nn, final[k][i], i,
                                j);
                        return FR_EDENIED;
                    }
    }

    /* architecture of CORE + TASK, before and after */
    char before[2 * FR_EMR_MAX_SLOTS][40], after[2 * FR_EMR_MAX_SLOTS][40];
    size_t nb = 0;
    for (int k = FR_EMR_NODE_CORE; k < FR_EMR_NODE__COUNT; k++)
        for (size_t i = 0; i < info.node[k].n_slots; i++) {
            fr_strlcpy(before[nb], info.node[k].slots[i].type, 40);
            fr_strlcpy(after[nb], final[k][i], 40);
            nb++;
        }
    unsigned ab = arch_bits(cat, before, nb), aa = arch_bits(cat, after, nb);
    if (aa == 3u && ab != 3u) {
        set_err(err, errlen, "the CORE/TASK types would mix arm64 and x86_64 (one AMI serves the cluster)");
        return FR_EDENIED;
    }
    bool want_graviton = info.graviton;
    if ((ab == 1u || ab == 2u) && (aa == 1u || aa == 2u) && ab != aa) {
        out->arch_change = true;
        out->arch_from = ab == 2u ? FR_EMR_ARCH_ARM64 : FR_EMR_ARCH_X86_64;
        out->arch_to = aa == 2u ? FR_EMR_ARCH_ARM64 : FR_EMR_ARCH_X86_64;
        want_graviton = out->arch_to == FR_EMR_ARCH_ARM64;
        if (info.graviton_form == FR_EMR_GV_ABSENT && want_graviton) {
            set_err(err, errlen, "the change to arm64 needs GravitonAmi=true but the config has no GravitonAmi key "
                                 "(frugal adds no keys): choose an x86_64 type");
            return FR_EDENIED;
        }
        const fr_emr_node_cfg *mc = &info.node[FR_EMR_NODE_MASTER];
        unsigned mb = arch_bits(cat, &final[FR_EMR_NODE_MASTER][0], mc->n_slots);
        if (mb && mb != aa)
            out->master_arch_mismatch = true;
    } else {
        out->arch_from = out->arch_to = ab == 2u ? FR_EMR_ARCH_ARM64 : FR_EMR_ARCH_X86_64;
    }

    /* edits */
    for (int k = FR_EMR_NODE_CORE; k < FR_EMR_NODE__COUNT; k++)
        for (size_t i = 0; i < info.node[k].n_slots; i++) {
            const fr_emr_slot *s = &info.node[k].slots[i];
            if (strcmp(s->type, final[k][i]) == 0)
                continue;
            rc = add_edit(out, text, s->type_start, s->type_end, "InstanceType", final[k][i]);
            if (rc)
                return rc;
        }
    if (info.graviton_form != FR_EMR_GV_ABSENT && want_graviton != info.graviton) {
        rc = add_edit(out, text, info.graviton_start, info.graviton_end, "GravitonAmi",
                      gv_text(info.graviton_form, want_graviton));
        if (rc)
            return rc;
        out->graviton_changed = true;
    }
    qsort(out->edits, out->n_edits, sizeof(out->edits[0]), cmp_edit);

    fr_buf b = FR_BUF_INIT;
    size_t at = 0;
    for (size_t i = 0; i < out->n_edits; i++) {
        const fr_emr_edit *e = &out->edits[i];
        fr_buf_append(&b, text + at, e->start - at);
        fr_buf_puts(&b, e->new_text);
        at = e->end;
    }
    fr_buf_append(&b, text + at, len - at);
    if (fr_buf_reserve(&b, 1) != 0) {
        fr_buf_free(&b);
        return -ENOMEM;
    }
    b.data[b.len] = '\0';
    out->len = b.len;
    out->text = fr_buf_steal(&b);
    if (!out->text)
        return -ENOMEM;

    if (out->len > out->limit) {
        set_err(err, errlen, "the rewritten value is %zu bytes, over the %s tier's %zu", out->len,
                req->tier == FR_EMR_TIER_ADVANCED ? "Advanced" : "Standard", out->limit);
        fr_emr_rewrite_free(out);
        return FR_ELIMIT;
    }
    rc = verify(out->text, out->len, &info, final, want_graviton, err, errlen);
    if (rc) {
        fr_emr_rewrite_free(out);
        return rc;
    }
    return 0;
}

void fr_emr_rewrite_free(fr_emr_rewrite *rw)
{
    if (!rw)
        return;
    free(rw->text);
    rw->text = NULL;
    rw->len = 0;
}

json_t *fr_emr_rewrite_to_json(const fr_emr_rewrite *rw)
{
    static const char *const actions[] = {"primary", "stepped", "kept"};
    json_t *o = json_object();
    json_t *ch = json_array();
    for (size_t i = 0; i < rw->n_slots; i++) {
        const fr_emr_slot_change *c = &rw->slots[i];
        json_array_append_new(ch, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "node", fr_emr_node_name(c->node),
                                            "index", (json_int_t)c->index, "from", c->from, "to", c->to, "action",
                                            actions[c->action], "note", c->note));
    }
    json_object_set_new(o, "changes", ch);
    json_t *ed = json_array();
    for (size_t i = 0; i < rw->n_edits; i++) {
        const fr_emr_edit *e = &rw->edits[i];
        json_array_append_new(ed, json_pack("{s:I, s:I, s:s, s:s, s:s}", "start", (json_int_t)e->start, "end",
                                            (json_int_t)e->end, "what", e->what, "old", e->old_text, "new",
                                            e->new_text));
    }
    json_object_set_new(o, "edits", ed);
    json_object_set_new(o, "arch_change", json_boolean(rw->arch_change));
    json_object_set_new(o, "arch_from", json_string(fr_emr_arch_name(rw->arch_from)));
    json_object_set_new(o, "arch_to", json_string(fr_emr_arch_name(rw->arch_to)));
    json_object_set_new(o, "graviton_changed", json_boolean(rw->graviton_changed));
    json_object_set_new(o, "master_arch_mismatch", json_boolean(rw->master_arch_mismatch));
    json_object_set_new(o, "size", json_integer((json_int_t)rw->len));
    json_object_set_new(o, "limit", json_integer((json_int_t)rw->limit));
    return o;
}
