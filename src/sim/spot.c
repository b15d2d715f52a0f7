#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "spot.h"
#include "util.h"

#define HOUR_MS 3600000LL

const char *const fr_sim_spot_products[] = {"Linux/UNIX", "SUSE Linux", "Red Hat Enterprise Linux", "Windows"};
const size_t fr_sim_spot_nproducts = 4;

static const struct {
    const char *region, *prefix;
} az_prefixes[] = {
    {"us-east-1", "use1"}, {"us-east-2", "use2"}, {"us-west-1", "usw1"}, {"us-west-2", "usw2"},
    {"eu-west-1", "euw1"}, {"eu-west-2", "euw2"}, {"eu-west-3", "euw3"}, {"eu-central-1", "euc1"},
    {"ap-south-1", "aps1"}, {"ap-northeast-1", "apne1"}, {"ap-southeast-1", "apse1"}, {"ap-southeast-2", "apse2"},
};

static const char *region_prefix(const char *region)
{
    for (size_t i = 0; i < FR_ARRAY_SIZE(az_prefixes); i++)
        if (strcmp(az_prefixes[i].region, region) == 0)
            return az_prefixes[i].prefix;
    return "xx1";
}

void fr_sim_spot_init(fr_sim_spot *s, const fr_sim_catalog *cat, uint64_t seed, const char *region)
{
    memset(s, 0, sizeof(*s));
    s->cat = cat;
    s->seed = seed;
    const char *letters = strcmp(region, "us-east-1") == 0 ? "abcdef" : "abc";
    s->naz = (int)strlen(letters);
    for (int i = 0; i < s->naz; i++) {
        snprintf(s->azs[i], sizeof(s->azs[i]), "%s%c", region, letters[i]);
        /* AZ ids are a per-account shuffle of the names; a fixed one here */
        snprintf(s->az_ids[i], sizeof(s->az_ids[i]), "%s-az%d", region_prefix(region), (i * 4 + 1) % s->naz + 1);
    }
}

void fr_sim_spot_free(fr_sim_spot *s)
{
    free(s->recs);
    free(s->pools);
    fr_sim_map_free(&s->pool_index);
    s->recs = NULL;
    s->pools = NULL;
    s->nrecs = s->npools = 0;
}

int fr_sim_spot_az_index(const fr_sim_spot *s, const char *az)
{
    for (int i = 0; az && i < s->naz; i++)
        if (strcmp(s->azs[i], az) == 0 || strcmp(s->az_ids[i], az) == 0)
            return i;
    return -1;
}

/* ---- model ---- */

static double white(uint64_t seed, int64_t k, uint64_t salt)
{
    return fr_sim_unit(fr_sim_hash3(seed, (uint64_t)k, salt)) * 2 - 1;
}

static double smooth(uint64_t seed, int64_t k, int scale)
{
    int64_t i = k >= 0 ? k / scale : -((-k + scale - 1) / scale);
    double f = (double)(k - i * scale) / scale;
    double a = white(seed, i, 1), b = white(seed, i + 1, 1);
    return a + (b - a) * f * f * (3 - 2 * f);
}

static double product_extra(const char *product, int vcpu)
{
    if (strcmp(product, "Windows") == 0)
        return 0.046 * vcpu;
    if (strcmp(product, "Red Hat Enterprise Linux") == 0)
        return vcpu <= 4 ? 0.06 : 0.13;
    if (strcmp(product, "SUSE Linux") == 0)
        return vcpu <= 2 ? 0.03 : 0.07;
    return 0;
}

static uint64_t pool_seed(const fr_sim_spot *s, const char *type, int az, const char *product)
{
    return fr_sim_hash3(fr_sim_hash_str(s->seed ^ 0x5907, type), (uint64_t)az, fr_hash64(product, strlen(product)));
}

/* Hour slot k has a change point (at *at) with probability 0.3. */
static bool change_in(uint64_t ps, int64_t k, int64_t *at)
{
    uint64_t h = fr_sim_hash3(ps, (uint64_t)k, 0xc4);
    if (fr_sim_unit(h) >= 0.3)
        return false;
    *at = k * HOUR_MS + (int64_t)((h >> 20) % 3600) * 1000;
    return true;
}

static double model_price(const fr_sim_spot *s, const fr_sim_itype *it, uint64_t ps, const char *product, int64_t k)
{
    double od = it->od_price > 0 ? it->od_price : 0.1 * it->vcpu;
    double save = it->spot_savings > 0 ? it->spot_savings / 100.0 : 0.6;
    double base = od * (1 - save);
    double vol = it->bucket >= 3 ? 0.35 : it->bucket >= 1 ? 0.2 : 0.1;
    double p = base * (1 + vol * smooth(ps, k, 18) + 0.04 * white(ps, k, 2));
    /* risky pools see short-lived surges */
    if (it->bucket >= 3 && fr_sim_unit(fr_sim_hash3(ps, (uint64_t)k, 0x5e)) < 0.04)
        p = base * (1.6 + 0.6 * fr_sim_unit(fr_sim_hash3(ps, (uint64_t)k, 0x5f)));
    p += product_extra(product, it->vcpu);
    double lo = od * 0.08, hi = od + product_extra(product, it->vcpu);
    if (p < lo)
        p = lo;
    if (p > hi)
        p = hi;
    (void)s;
    return round(p * 10000) / 10000;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The last change point at or before t (searching back two days). */
static int64_t model_last_change(uint64_t ps, int64_t t, int64_t *slot)
{
    int64_t k = floor_div(t, HOUR_MS);
    for (int64_t i = 0; i < 48; i++) {
        int64_t at;
        if (change_in(ps, k - i, &at) && at <= t) {
            *slot = k - i;
            return at;
        }
    }
    *slot = k - 48;
    return (k - 48) * HOUR_MS;
}

/* ---- replay ---- */

static void pool_key(char *out, size_t n, const char *type, int az, const char *product)
{
    snprintf(out, n, "%s|%d|%s", type, az, product);
}

static const fr_sim_spot_pool *find_pool(const fr_sim_spot *s, const char *type, int az, const char *product)
{
    if (!s->npools)
        return NULL;
    char key[160];
    pool_key(key, sizeof(key), type, az, product);
    uintptr_t v = (uintptr_t)fr_sim_map_get(&s->pool_index, key);
    return v ? &s->pools[v - 1] : NULL;
}

/* The record index in effect at file time ft (the last one at or before,
 * wrapping to the pool's last record). */
static size_t replay_at(const fr_sim_spot *s, const fr_sim_spot_pool *p, int64_t ft)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->recs[p->first + mid].ts_ms <= ft)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? p->n - 1 : lo - 1;
}

static int64_t span_of(const fr_sim_spot *s)
{
    int64_t span = s->file_max_ms - s->file_min_ms;
    return span > HOUR_MS ? span + HOUR_MS / 4 : HOUR_MS;
}

double fr_sim_spot_price_at(const fr_sim_spot *s, const char *type, int az, const char *product, int64_t t,
                            int64_t *since_ms)
{
    const fr_sim_spot_pool *p = find_pool(s, type, az, product);
    if (p && p->n) {
        int64_t span = span_of(s);
        int64_t rel = t - s->shift_ms - s->file_min_ms;
        int64_t period = floor_div(rel, span);
        int64_t ft = s->file_min_ms + (rel - period * span);
        size_t i = replay_at(s, p, ft);
        int64_t rts = s->recs[p->first + i].ts_ms;
        if (since_ms)
            *since_ms = rts + s->shift_ms + (rts <= ft ? period : period - 1) * span;
        return s->recs[p->first + i].price;
    }
    const fr_sim_itype *it = fr_sim_catalog_find(s->cat, type);
    if (!it)
        return -1;
    uint64_t ps = pool_seed(s, type, az, product);
    int64_t slot;
    int64_t at = model_last_change(ps, t, &slot);
    if (since_ms)
        *since_ms = at;
    return model_price(s, it, ps, product, slot);
}

static int push_rec(fr_sim_price_rec **out, size_t *n, size_t *cap, const char *type, const char *product, int az,
                    int64_t ts, double price)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        fr_sim_price_rec *no = realloc(*out, ncap * sizeof(*no));
        if (!no)
            return -ENOMEM;
        *out = no;
        *cap = ncap;
    }
    (*out)[(*n)++] = (fr_sim_price_rec){type, product, az, ts, price};
    return 0;
}

int fr_sim_spot_history(const fr_sim_spot *s, const char *type, int az, const char *product, int64_t start,
                        int64_t end, fr_sim_price_rec **out, size_t *n, size_t *cap)
{
    size_t before = *n;
    const fr_sim_spot_pool *p = find_pool(s, type, az, product);
    int64_t since;
    double cur = fr_sim_spot_price_at(s, type, az, product, start, &since);
    if (cur < 0)
        return 0;
    /* type/product names must outlive the call: take them from the pool or
     * the catalog */
    const char *tname = type, *pname = product;
    if (p) {
        tname = p->type;
        pname = p->product;
    } else {
        const fr_sim_itype *it = fr_sim_catalog_find(s->cat, type);
        tname = it ? it->name : type;
        for (size_t i = 0; i < fr_sim_spot_nproducts; i++)
            if (strcmp(product, fr_sim_spot_products[i]) == 0)
                pname = fr_sim_spot_products[i];
    }
    if (push_rec(out, n, cap, tname, pname, az, since, cur))
        return -ENOMEM;
    if (p && p->n) {
        int64_t span = span_of(s);
        int64_t k0 = floor_div(start - s->shift_ms - s->file_min_ms, span);
        int64_t k1 = floor_div(end - s->shift_ms - s->file_min_ms, span);
        for (int64_t k = k0; k <= k1 && k - k0 < 1000; k++)
            for (size_t i = 0; i < p->n; i++) {
                int64_t t = s->recs[p->first + i].ts_ms + s->shift_ms + k * span;
                if (t > start && t <= end && push_rec(out, n, cap, tname, pname, az, t, s->recs[p->first + i].price))
                    return -ENOMEM;
            }
    } else {
        const fr_sim_itype *it = fr_sim_catalog_find(s->cat, type);
        uint64_t ps = pool_seed(s, type, az, product);
        for (int64_t k = floor_div(start, HOUR_MS); k <= floor_div(end, HOUR_MS); k++) {
            int64_t at;
            if (change_in(ps, k, &at) && at > start && at <= end &&
                push_rec(out, n, cap, tname, pname, az, at, model_price(s, it, ps, product, k)))
                return -ENOMEM;
        }
    }
    return (int)(*n - before);
}

/* ---- loading ---- */

typedef struct raw_rec {
    char az[40];
    char type[32];
    char product[48];
    double price;
    int64_t ts;
} raw_rec;

static int cmp_raw(const void *a, const void *b)
{
    const raw_rec *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    if (!c)
        c = strcmp(x->product, y->product);
    if (!c)
        c = strcmp(x->az, y->az);
    if (!c)
        c = x->ts < y->ts ? -1 : x->ts > y->ts;
    return c;
}

static int push_raw(raw_rec **r, size_t *n, size_t *cap, const char *az, const char *type, const char *prod,
                    const char *price, const char *ts)
{
    raw_rec x;
    memset(&x, 0, sizeof(x));
    if (!az || !type || !prod || !price || !ts)
        return FR_EPARSE;
    fr_strlcpy(x.az, az, sizeof(x.az));
    fr_strlcpy(x.type, type, sizeof(x.type));
    fr_strlcpy(x.product, prod, sizeof(x.product));
    if (fr_parse_double(price, &x.price) != 0 || fr_time_parse(ts, &x.ts) != 0)
        return FR_EPARSE;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4096;
        raw_rec *nr = realloc(*r, ncap * sizeof(*nr));
        if (!nr)
            return -ENOMEM;
        *r = nr;
        *cap = ncap;
    }
    (*r)[(*n)++] = x;
    return 0;
}

static int split(char *line, char sep, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, sep);
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int parse_lines(const char *text, size_t len, raw_rec **recs, size_t *n, size_t *cap, char *err,
                       size_t errlen)
{
    /* column order from the header (CSV) or the fixed TSV layout */
    int c_az = -1, c_type = -1, c_prod = -1, c_price = -1, c_ts = -1;
    bool tsv = false;
    size_t pos = 0;
    int line = 0, bad = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t ll = end - pos;
        char row[512];
        if (ll && text[pos + ll - 1] == '\r')
            ll--;
        if (ll == 0 || ll >= sizeof(row)) {
            pos = end + 1;
            continue;
        }
        memcpy(row, text + pos, ll);
        row[ll] = '\0';
        pos = end + 1;
        if (line++ == 0) {
            if (strchr(row, '\t')) {
                tsv = true;
                c_az = 0;
                c_type = 1;
                c_prod = 2;
                c_price = 3;
                c_ts = 4;
            } else {
                char *f[8];
                int nf = split(row, ',', f, 8);
                for (int i = 0; i < nf; i++) {
                    if (strcmp(f[i], "AvailabilityZone") == 0)
                        c_az = i;
                    else if (strcmp(f[i], "InstanceType") == 0)
                        c_type = i;
                    else if (strcmp(f[i], "ProductDescription") == 0)
                        c_prod = i;
                    else if (strcmp(f[i], "SpotPrice") == 0)
                        c_price = i;
                    else if (strcmp(f[i], "Timestamp") == 0)
                        c_ts = i;
                }
                if (c_az < 0 || c_type < 0 || c_prod < 0 || c_price < 0 || c_ts < 0) {
                    snprintf(err, errlen, "unknown CSV header (want AvailabilityZone, InstanceType, "
                                          "ProductDescription, SpotPrice, Timestamp)");
                    return FR_EPARSE;
                }
                continue;
            }
        }
        char *f[8];
        int nf = split(row, tsv ? '\t' : ',', f, 8);
        int need = 1 + (c_az > c_type ? c_az : c_type);
        if (c_prod + 1 > need)
            need = c_prod + 1;
        if (c_price + 1 > need)
            need = c_price + 1;
        if (c_ts + 1 > need)
            need = c_ts + 1;
        if (nf < need || push_raw(recs, n, cap, f[c_az], f[c_type], f[c_prod], f[c_price], f[c_ts]) != 0)
            bad++;
    }
    if (*n == 0) {
        snprintf(err, errlen, "no price records (%d unreadable lines)", bad);
        return FR_EPARSE;
    }
    return 0;
}

static int parse_json(const char *text, size_t len, raw_rec **recs, size_t *n, size_t *cap, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    json_t *h = json_object_get(j, "SpotPriceHistory");
    if (!json_is_array(h)) {
        json_decref(j);
        snprintf(err, errlen, "expected {\"SpotPriceHistory\": [...]}");
        return FR_EPARSE;
    }
    size_t i;
    json_t *r;
    json_array_foreach(h, i, r)
        push_raw(recs, n, cap, fr_sim_jstr(r, "AvailabilityZone"), fr_sim_jstr(r, "InstanceType"),
                 fr_sim_jstr(r, "ProductDescription"), fr_sim_jstr(r, "SpotPrice"), fr_sim_jstr(r, "Timestamp"));
    json_decref(j);
    if (*n == 0) {
        snprintf(err, errlen, "no price records");
        return FR_EPARSE;
    }
    return 0;
}

static int cmp_az(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int fr_sim_spot_load(fr_sim_spot *s, const char *name, const char *text, size_t len, int64_t anchor_ms, char *err,
                     size_t errlen)
{
    raw_rec *raw = NULL;
    size_t n = 0, cap = 0;
    size_t k = 0;
    while (k < len && (text[k] == ' ' || text[k] == '\n' || text[k] == '\r' || text[k] == '\t'))
        k++;
    int rc = k < len && text[k] == '{' ? parse_json(text, len, &raw, &n, &cap, err, errlen)
                                       : parse_lines(text, len, &raw, &n, &cap, err, errlen);
    if (rc) {
        free(raw);
        return rc;
    }
    /* files covering many regions: keep this region's AZs when it has any */
    char region[40];
    fr_strlcpy(region, s->azs[0], sizeof(region));
    region[strlen(region) - 1] = '\0'; /* "us-east-1a" -> "us-east-1" */
    const char *pfx = region_prefix(region);
    size_t keep = 0;
    for (size_t i = 0; i < n; i++)
        if (fr_str_startswith(raw[i].az, pfx) || fr_str_startswith(raw[i].az, region))
            keep++;
    if (keep > 0 && keep < n) {
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (fr_str_startswith(raw[i].az, pfx) || fr_str_startswith(raw[i].az, region))
                raw[j++] = raw[i];
        n = j;
    }
    qsort(raw, n, sizeof(*raw), cmp_raw);
    /* the file's AZs, sorted, onto the sim's AZs in order */
    char fazs[64][40];
    int nfaz = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (int a = 0; a < nfaz && !seen; a++)
            seen = strcmp(fazs[a], raw[i].az) == 0;
        if (!seen && nfaz < 64)
            fr_strlcpy(fazs[nfaz++], raw[i].az, sizeof(fazs[0]));
    }
    qsort(fazs, (size_t)nfaz, sizeof(fazs[0]), cmp_az);
    fr_sim_spot_free(s);
    s->recs = calloc(n, sizeof(*s->recs));
    s->pools = calloc(n, sizeof(*s->pools));
    if (!s->recs || !s->pools) {
        free(raw);
        fr_sim_spot_free(s);
        return -ENOMEM;
    }
    s->file_min_ms = INT64_MAX;
    s->file_max_ms = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int faz = 0;
        for (int a = 0; a < nfaz; a++)
            if (strcmp(fazs[a], raw[i].az) == 0)
                faz = a;
        int az = faz % s->naz;
        if (faz >= s->naz)
            continue; /* more AZs in the file than here: drop the extra */
        fr_sim_spot_pool *p = s->npools ? &s->pools[s->npools - 1] : NULL;
        if (!p || p->az != az || strcmp(p->type, raw[i].type) != 0 || strcmp(p->product, raw[i].product) != 0) {
            p = &s->pools[s->npools++];
            fr_strlcpy(p->type, raw[i].type, sizeof(p->type));
            fr_strlcpy(p->product, raw[i].product, sizeof(p->product));
            p->az = az;
            p->first = s->nrecs;
            p->n = 0;
        }
        /* duplicates (overlapping feeds) collapse */
        if (p->n && s->recs[s->nrecs - 1].ts_ms == raw[i].ts)
            continue;
        s->recs[s->nrecs++] = (fr_sim_spot_rec){raw[i].ts, raw[i].price, (uint32_t)(s->npools - 1)};
        p->n++;
        if (raw[i].ts < s->file_min_ms)
            s->file_min_ms = raw[i].ts;
        if (raw[i].ts > s->file_max_ms)
            s->file_max_ms = raw[i].ts;
    }
    free(raw);
    for (size_t i = 0; i < s->npools; i++) {
        char key[160];
        pool_key(key, sizeof(key), s->pools[i].type, s->pools[i].az, s->pools[i].product);
        fr_sim_map_put(&s->pool_index, key, (void *)(uintptr_t)(i + 1));
    }
    s->shift_ms = anchor_ms - s->file_max_ms;
    fr_strlcpy(s->source, name, sizeof(s->source));
    return 0;
}
