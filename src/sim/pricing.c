#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/str.h"
#include "pricing.h"
#include "util.h"

static const struct {
    const char *region, *location;
} locations[] = {
    {"us-east-1", "US East (N. Virginia)"}, {"us-east-2", "US East (Ohio)"},
    {"us-west-1", "US West (N. California)"}, {"us-west-2", "US West (Oregon)"},
    {"eu-west-1", "EU (Ireland)"}, {"eu-west-2", "EU (London)"},
    {"eu-west-3", "EU (Paris)"}, {"eu-central-1", "EU (Frankfurt)"},
    {"ap-south-1", "Asia Pacific (Mumbai)"}, {"ap-northeast-1", "Asia Pacific (Tokyo)"},
    {"ap-southeast-1", "Asia Pacific (Singapore)"}, {"ap-southeast-2", "Asia Pacific (Sydney)"},
};

const char *fr_sim_region_location(const char *region)
{
    for (size_t i = 0; i < FR_ARRAY_SIZE(locations); i++)
        if (strcmp(locations[i].region, region) == 0)
            return locations[i].location;
    return "US East (N. Virginia)";
}

static const char *family_name(const char *type)
{
    switch (type[0]) {
    case 'c': return "Compute optimized";
    case 'r': case 'x': case 'z': return "Memory optimized";
    case 'i': case 'd': case 'h': return "Storage optimized";
    case 'g': case 'p': case 'f': return "Accelerated computing";
    default: return "General purpose";
    }
}

static void sku_of(char *out, uint64_t h)
{
    static const char a[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (int i = 0; i < 16; i++) {
        out[i] = a[h % 32];
        h = i % 12 == 11 ? fr_sim_mix64(h) : h / 32;
    }
    out[16] = '\0';
}

/* The attributes of one product, as an object (also used for filtering). */
static json_t *attributes(const fr_sim_itype *it, const char *os, const char *region)
{
    char mem[32], vcpu[16], usage[64], norm[16];
    snprintf(mem, sizeof(mem), "%g GiB", it->mem_gib);
    snprintf(vcpu, sizeof(vcpu), "%d", it->vcpu);
    snprintf(usage, sizeof(usage), "BoxUsage:%s", it->name);
    int m = fr_sim_size_mult(it->name);
    snprintf(norm, sizeof(norm), "%d", m < 0 ? 64 : m == 0 ? 4 : 8 * m);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
                     "s:s, s:s, s:s, s:s, s:s}",
                     "enhancedNetworkingSupported", "Yes", "memory", mem, "vcpu", vcpu, "capacitystatus", "Used",
                     "locationType", "AWS Region", "storage", "EBS only", "instanceFamily", family_name(it->name),
                     "operatingSystem", os, "physicalProcessor",
                     it->arm64 ? "AWS Graviton Processor" : "Intel Xeon Platinum", "networkPerformance",
                     "Up to 12.5 Gigabit", "servicename", "Amazon Elastic Compute Cloud", "instanceType", it->name,
                     "tenancy", "Shared", "usagetype", usage, "normalizationSizeFactor", norm, "servicecode",
                     "AmazonEC2", "licenseModel", "No License required", "currentGeneration", "Yes", "preInstalledSw",
                     "NA", "location", fr_sim_region_location(region), "processorArchitecture", "64-bit", "operation",
                     strcmp(os, "Windows") == 0 ? "RunInstances:0002" : "RunInstances", "regionCode", region);
}

static json_t *term(const char *sku, const char *code, const char *rate, const char *desc, double price,
                    json_t *term_attrs, const char *effective)
{
    char key[64], rkey[96], usd[32];
    snprintf(key, sizeof(key), "%s.%s", sku, code);
    snprintf(rkey, sizeof(rkey), "%s.%s.%s", sku, code, rate);
    snprintf(usd, sizeof(usd), "%.10f", price);
    json_t *pd = json_pack("{s:{s:s, s:s, s:s, s:[], s:s, s:s, s:{s:s}}}", rkey, "unit", "Hrs", "endRange", "Inf",
                           "description", desc, "appliesTo", "rateCode", rkey, "beginRange", "0", "pricePerUnit",
                           "USD", usd);
    json_t *t = json_pack("{s:o, s:s, s:s, s:s, s:o}", "priceDimensions", pd, "sku", sku, "effectiveDate", effective,
                          "offerTermCode", code, "termAttributes", term_attrs);
    return json_pack("{s:o}", key, t);
}

static char *product_string(const fr_sim_itype *it, const char *os, const char *region, json_t *attrs)
{
    char sku[17];
    sku_of(sku, fr_sim_hash3(fr_hash64(region, strlen(region)), fr_hash64(it->name, strlen(it->name)),
                             fr_hash64(os, strlen(os))));
    double od = it->od_price + (strcmp(os, "Windows") == 0 ? 0.046 * it->vcpu : 0);
    char desc[160], rdesc[160];
    snprintf(desc, sizeof(desc), "$%.4f per On Demand %s %s Instance Hour", od, os, it->name);
    snprintf(rdesc, sizeof(rdesc), "%s (Amazon VPC), %s reserved instance applied",
             strcmp(os, "Linux") == 0 ? "Linux/UNIX" : os, it->name);
    json_t *ond = term(sku, "JRTCKXETXF", "6YS6EN2CT7", desc, od, json_object(), "2024-07-01T00:00:00Z");
    json_t *res = term(sku, "4NA7Y494T4", "6YS6EN2CT7", rdesc, od * 0.62,
                       json_pack("{s:s, s:s, s:s}", "LeaseContractLength", "1yr", "OfferingClass", "standard",
                                 "PurchaseOption", "No Upfront"),
                       "2024-07-01T00:00:00Z");
    json_t *p = json_pack("{s:{s:s, s:O, s:s}, s:s, s:{s:o, s:o}, s:s, s:s}", "product", "productFamily",
                          "Compute Instance", "attributes", attrs, "sku", sku, "serviceCode", "AmazonEC2", "terms",
                          "OnDemand", ond, "Reserved", res, "version", "20240701000000", "publicationDate",
                          "2024-07-01T00:00:00Z");
    char *s = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(p);
    return s;
}

static bool filters_match(json_t *filters, json_t *attrs)
{
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f)
    {
        const char *field = fr_sim_jstr(f, "Field"), *value = fr_sim_jstr(f, "Value");
        const char *type = fr_sim_jstr(f, "Type");
        if (!field || !value)
            continue;
        const char *have = NULL;
        const char *k;
        json_t *v;
        json_object_foreach(attrs, k, v) if (fr_str_ieq(k, field)) have = json_string_value(v);
        if (fr_str_ieq(field, "ServiceCode"))
            have = "AmazonEC2";
        if (!have)
            return false;
        if (!type || strcmp(type, "TERM_MATCH") == 0) {
            if (!fr_str_ieq(have, value))
                return false;
        } else if (strcmp(type, "EQUALS") == 0) {
            if (strcmp(have, value) != 0)
                return false;
        } else if (strcmp(type, "CONTAINS") == 0) {
            if (!strstr(have, value))
                return false;
        } else if (strcmp(type, "ANY_OF") == 0 || strcmp(type, "NONE_OF") == 0) {
            bool any = false;
            char *copy = fr_strdup(value);
            for (char *p = copy, *comma; p; p = comma ? comma + 1 : NULL) {
                comma = strchr(p, ',');
                if (comma)
                    *comma = '\0';
                if (fr_str_ieq(fr_str_trim(p), have))
                    any = true;
            }
            free(copy);
            if (any != (strcmp(type, "ANY_OF") == 0))
                return false;
        }
    }
    return true;
}

static const char *oses[] = {"Linux", "Windows"};

static void get_products(const fr_sim_catalog *cat, const char *region, const fr_sim_call *c, fr_sim_resp *r)
{
    const char *svc = fr_sim_jstr(c->in, "ServiceCode");
    if (!svc) {
        fr_sim_error(c, r, 400, "InvalidParameterException", "ServiceCode is required");
        return;
    }
    int64_t max = 100;
    if (fr_sim_jint(c->in, "MaxResults", &max) == 0 && (max < 1 || max > 100)) {
        fr_sim_error(c, r, 400, "InvalidParameterException", "MaxResults must be between 1 and 100");
        return;
    }
    const char *fv = fr_sim_jstr(c->in, "FormatVersion");
    if (fv && strcmp(fv, "aws_v1") != 0) {
        fr_sim_error(c, r, 400, "InvalidParameterException", "Unsupported FormatVersion %s", fv);
        return;
    }
    size_t start = 0;
    const char *tok = fr_sim_jstr(c->in, "NextToken");
    if (tok) {
        uint64_t v;
        if (!fr_str_startswith(tok, "frsim:") || fr_parse_u64(tok + 6, &v) != 0) {
            fr_sim_error(c, r, 400, "InvalidNextTokenException", "The NextToken is invalid");
            return;
        }
        start = (size_t)v;
    }
    json_t *list = json_array();
    json_t *filters = fr_sim_jlist(c->in, "Filters");
    size_t matched = 0;
    bool more = false;
    if (strcmp(svc, "AmazonEC2") == 0) {
        for (size_t k = 0; k < cat->n && !more; k++) {
            for (size_t o = 0; o < FR_ARRAY_SIZE(oses); o++) {
                const fr_sim_itype *it = &cat->types[k];
                if (it->od_price <= 0)
                    continue;
                json_t *attrs = attributes(it, oses[o], region);
                if (filters_match(filters, attrs) && matched++ >= start) {
                    if ((int64_t)json_array_size(list) == max) {
                        more = true;
                        json_decref(attrs);
                        break;
                    }
                    char *s = product_string(it, oses[o], region, attrs);
                    json_array_append_new(list, json_string(s ? s : "{}"));
                    free(s);
                }
                json_decref(attrs);
            }
        }
    }
    json_t *out = json_pack("{s:s, s:o}", "FormatVersion", "aws_v1", "PriceList", list);
    if (more) {
        char t[40];
        snprintf(t, sizeof(t), "frsim:%zu", start + (size_t)max);
        json_object_set_new(out, "NextToken", json_string(t));
    }
    fr_sim_ok_json(c, r, out);
}

void fr_sim_pricing_call(const fr_sim_catalog *cat, const char *region, const fr_sim_call *c, fr_sim_resp *r)
{
    if (strcmp(c->op, "GetProducts") == 0) {
        get_products(cat, region, c, r);
    } else if (strcmp(c->op, "DescribeServices") == 0) {
        fr_sim_ok_json(c, r, json_pack("{s:[{s:s, s:[s, s, s, s, s, s, s]}], s:s}", "Services", "ServiceCode",
                                       "AmazonEC2", "AttributeNames", "instanceType", "location", "operatingSystem",
                                       "tenancy", "preInstalledSw", "capacitystatus", "regionCode", "FormatVersion",
                                       "aws_v1"));
    } else if (strcmp(c->op, "GetAttributeValues") == 0) {
        const char *name = fr_sim_jstr(c->in, "AttributeName");
        json_t *vals = json_array();
        if (name && fr_str_ieq(name, "instanceType")) {
            for (size_t k = 0; k < cat->n; k++)
                json_array_append_new(vals, json_pack("{s:s}", "Value", cat->types[k].name));
        } else if (name && fr_str_ieq(name, "location")) {
            for (size_t k = 0; k < FR_ARRAY_SIZE(locations); k++)
                json_array_append_new(vals, json_pack("{s:s}", "Value", locations[k].location));
        } else if (name && fr_str_ieq(name, "operatingSystem")) {
            for (size_t k = 0; k < FR_ARRAY_SIZE(oses); k++)
                json_array_append_new(vals, json_pack("{s:s}", "Value", oses[k]));
        }
        fr_sim_ok_json(c, r, json_pack("{s:o}", "AttributeValues", vals));
    } else {
        fr_sim_error(c, r, 400, "UnknownOperationException", "Unknown operation %s", c->op);
    }
}
