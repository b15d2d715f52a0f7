/* Instance catalog: CSV parsing with per-row validation, lookups, family
 * ladders and the closest-known-type fallback. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fr_config.h"
#include "frugal/emr_catalog.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr/internal.h"

struct fr_emr_catalog {
    fr_emr_itype *types; /* sorted by name */
    size_t n;
    const fr_emr_itype **by_family; /* into types, sorted by (family, size_rank, name) */
};

/* ---- column handling ---- */

enum col {
    C_TYPE,
    C_FAMILY,
    C_GENERATION,
    C_SIZE,
    C_SIZE_RANK,
    C_VCPU,
    C_MEMORY,
    C_ARCH,
    C_VENDOR,
    C_CATEGORY,
    C_EMR,
    C_ONDEMAND,
    C_SPOT_SAVINGS,
    C_BUCKET,
    C__COUNT
};

static const char *const col_names[C__COUNT] = {
    "instance_type", "family",   "generation",   "size",          "size_rank",
    "vcpu",          "memory_gib", "arch",       "vendor",        "category",
    "emr_supported", "ondemand_usd_per_hour",    "spot_savings_pct", "interrupt_bucket",
};

static const char *const category_names[FR_EMR_CAT__COUNT] = {
    "general", "compute", "memory", "storage", "accelerated", "hpc",
};

const char *fr_emr_arch_name(fr_emr_arch a)
{
    return a == FR_EMR_ARCH_ARM64 ? "arm64" : "x86_64";
}

const char *fr_emr_category_name(fr_emr_category c)
{
    return (unsigned)c < FR_EMR_CAT__COUNT ? category_names[c] : "unknown";
}

int fr_emr_category_parse(const char *s, fr_emr_category *out)
{
    for (int i = 0; i < FR_EMR_CAT__COUNT; i++)
        if (strcmp(s, category_names[i]) == 0) {
            *out = (fr_emr_category)i;
            return 0;
        }
    return FR_EPARSE;
}

int fr_emr_size_rank(const char *size)
{
    static const struct {
        const char *name;
        int rank;
    } named[] = {{"nano", 1}, {"micro", 2}, {"small", 4}, {"medium", 8}, {"large", 16}, {"xlarge", 32}};
    if (!size || !*size)
        return -1;
    if (strncmp(size, "metal", 5) == 0)
        return 0;
    for (size_t i = 0; i < FR_ARRAY_SIZE(named); i++)
        if (strcmp(size, named[i].name) == 0)
            return named[i].rank;
    /* "<N>xlarge" */
    const char *p = size;
    int n = 0;
    if (*p == '0')
        return -1;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p - '0');
        if (n > 100000)
            return -1;
        p++;
    }
    if (p == size || strcmp(p, "xlarge") != 0)
        return -1;
    return n * 32;
}

/* Instance type names: lower-case letters, digits, '-' around one '.'. */
bool fr_emr_type_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((fr_emr_itype *)0)->name))
        return false;
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || dot[1] == '\0' || strchr(dot + 1, '.'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
            return false;
    return true;
}

/* ---- parsing ---- */

__attribute__((format(printf, 4, 5))) static int perr(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "line %zu: %s", line, msg);
    return FR_EPARSE;
}

static int parse_int_field(const char *s, int lo, int hi, int *out)
{
    int64_t v;
    if (fr_parse_i64(s, &v) != 0 || v < lo || v > hi)
        return FR_EPARSE;
    *out = (int)v;
    return 0;
}

static int parse_row(char **f, const int *colidx, fr_emr_itype *t, size_t line, char *err, size_t errlen)
{
    const char *v[C__COUNT];
    for (int c = 0; c < C__COUNT; c++)
        v[c] = f[colidx[c]];

    memset(t, 0, sizeof(*t));
    if (!fr_emr_type_name_valid(v[C_TYPE]))
        return perr(err, errlen, line, "instance_type '%s' is not a valid type name", v[C_TYPE]);
    fr_strlcpy(t->name, v[C_TYPE], sizeof(t->name));
    const char *dot = strchr(t->name, '.');
    size_t flen = (size_t)(dot - t->name);
    if (strlen(v[C_FAMILY]) != flen || strncmp(v[C_FAMILY], t->name, flen) != 0)
        return perr(err, errlen, line, "family '%s' does not match instance_type '%s'", v[C_FAMILY], t->name);
    fr_strlcpy(t->family, v[C_FAMILY], sizeof(t->family));
    if (strcmp(v[C_SIZE], dot + 1) != 0 || strlen(v[C_SIZE]) >= sizeof(t->size))
        return perr(err, errlen, line, "size '%s' does not match instance_type '%s'", v[C_SIZE], t->name);
    fr_strlcpy(t->size, v[C_SIZE], sizeof(t->size));
    if (parse_int_field(v[C_GENERATION], 0, 99, &t->generation) != 0)
        return perr(err, errlen, line, "generation '%s' is not an integer in 0..99", v[C_GENERATION]);
    int want_rank = fr_emr_size_rank(t->size);
    if (want_rank < 0)
        return perr(err, errlen, line, "size '%s' is not a known size name", t->size);
    if (parse_int_field(v[C_SIZE_RANK], 0, 1 << 20, &t->size_rank) != 0 || t->size_rank != want_rank)
        return perr(err, errlen, line, "size_rank '%s' does not match size '%s'", v[C_SIZE_RANK], t->size);
    if (parse_int_field(v[C_VCPU], 1, 100000, &t->vcpu) != 0)
        return perr(err, errlen, line, "vcpu '%s' is not a positive integer", v[C_VCPU]);
    if (fr_parse_double(v[C_MEMORY], &t->memory_gib) != 0 || !(t->memory_gib > 0))
        return perr(err, errlen, line, "memory_gib '%s' is not a positive number", v[C_MEMORY]);
    if (strcmp(v[C_ARCH], "arm64") == 0)
        t->arch = FR_EMR_ARCH_ARM64;
    else if (strcmp(v[C_ARCH], "x86_64") == 0)
        t->arch = FR_EMR_ARCH_X86_64;
    else
        return perr(err, errlen, line, "arch '%s' is not arm64 or x86_64", v[C_ARCH]);
    if (strcmp(v[C_VENDOR], "aws") && strcmp(v[C_VENDOR], "intel") && strcmp(v[C_VENDOR], "amd"))
        return perr(err, errlen, line, "vendor '%s' is not aws, intel or amd", v[C_VENDOR]);
    if ((strcmp(v[C_VENDOR], "aws") == 0) != (t->arch == FR_EMR_ARCH_ARM64))
        return perr(err, errlen, line, "vendor '%s' contradicts arch '%s'", v[C_VENDOR], v[C_ARCH]);
    fr_strlcpy(t->vendor, v[C_VENDOR], sizeof(t->vendor));
    if (fr_emr_category_parse(v[C_CATEGORY], &t->category) != 0)
        return perr(err, errlen, line, "category '%s' is unknown", v[C_CATEGORY]);
    if (strcmp(v[C_EMR], "true") == 0)
        t->emr_supported = true;
    else if (strcmp(v[C_EMR], "false") != 0)
        return perr(err, errlen, line, "emr_supported '%s' is not true or false", v[C_EMR]);
    if (fr_parse_double(v[C_ONDEMAND], &t->ondemand) != 0 || !(t->ondemand > 0) || t->ondemand > 10000)
        return perr(err, errlen, line, "ondemand_usd_per_hour '%s' is not a price in (0, 10000]", v[C_ONDEMAND]);
    if (v[C_SPOT_SAVINGS][0] == '\0') {
        t->spot_savings_pct = -1;
    } else if (fr_parse_double(v[C_SPOT_SAVINGS], &t->spot_savings_pct) != 0 || t->spot_savings_pct < 0 ||
               t->spot_savings_pct > 100) {
        return perr(err, errlen, line, "spot_savings_pct '%s' is not a percentage", v[C_SPOT_SAVINGS]);
    }
    if (v[C_BUCKET][0] == '\0')
        t->interrupt_bucket = -1;
    else if (parse_int_field(v[C_BUCKET], 0, 4, &t->interrupt_bucket) != 0)
        return perr(err, errlen, line, "interrupt_bucket '%s' is not 0..4 or empty", v[C_BUCKET]);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const fr_emr_itype *)a)->name, ((const fr_emr_itype *)b)->name);
}

static int cmp_family_t(const fr_emr_itype *x, const fr_emr_itype *y)
{
    int c = strcmp(x->family, y->family);
    if (c)
        return c;
    if (x->size_rank != y->size_rank)
        return x->size_rank < y->size_rank ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_family(const void *a, const void *b)
{
    return cmp_family_t(*(const fr_emr_itype *const *)a, *(const fr_emr_itype *const *)b);
}

/* Splits one line in place on ','; returns the field count or -1 if more
 * than max. */
static int split_fields(char *s, char **f, int max)
{
    int n = 0;
    for (;;) {
        if (n == max)
            return -1;
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

#define MAX_COLS 64

int fr_emr_catalog_parse(const char *text, size_t len, fr_emr_catalog **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    char *copy = fr_strndup(text, len);
    if (!copy)
        return -ENOMEM;
    if (strlen(copy) != len) {
        free(copy);
        return perr(err, errlen, 1, "NUL byte in catalog");
    }
    fr_emr_catalog *cat = calloc(1, sizeof(*cat));
    size_t cap = 0;
    int colidx[C__COUNT];
    int ncols = 0;
    bool have_header = false;
    int rc = 0;
    size_t line = 0;
    char *p = copy;
    if (!cat) {
        rc = -ENOMEM;
        goto done;
    }
    while (*p) {
        line++;
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (eol)
            *eol = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r')
            p[--l] = '\0';
        char *s = p;
        p = next;
        if (l == 0 || s[0] == '#')
            continue;
        char *f[MAX_COLS];
        int nf = split_fields(s, f, MAX_COLS);
        if (nf < 0) {
            rc = perr(err, errlen, line, "more than 64 columns");
            goto done;
        }
        for (int i = 0; i < nf; i++)
            if (f[i][0] == '"') {
                rc = perr(err, errlen, line, "quoted fields are not supported ('%s')", f[i]);
                goto done;
            }
        if (!have_header) {
            for (int c = 0; c < C__COUNT; c++) {
                colidx[c] = -1;
                for (int i = 0; i < nf; i++)
                    if (strcmp(f[i], col_names[c]) == 0) {
                        if (colidx[c] >= 0) {
                            rc = perr(err, errlen, line, "header: column '%s' appears twice", col_names[c]);
                            goto done;
                        }
                        colidx[c] = i;
                    }
                if (colidx[c] < 0) {
                    rc = perr(err, errlen, line, "header: missing column '%s'", col_names[c]);
                    goto done;
                }
            }
            ncols = nf;
            have_header = true;
            continue;
        }
        if (nf != ncols) {
            rc = perr(err, errlen, line, "%d fields, the header has %d", nf, ncols);
            goto done;
        }
        if (cat->n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            fr_emr_itype *nt = realloc(cat->types, ncap * sizeof(*nt));
            if (!nt) {
                rc = -ENOMEM;
                goto done;
            }
            cat->types = nt;
            cap = ncap;
        }
        rc = parse_row(f, colidx, &cat->types[cat->n], line, err, errlen);
        if (rc)
            goto done;
        cat->n++;
    }
    if (!have_header) {
        rc = perr(err, errlen, line ? line : 1, "no header line");
        goto done;
    }
    if (cat->n == 0) {
        rc = perr(err, errlen, line, "no instance types");
        goto done;
    }
    qsort(cat->types, cat->n, sizeof(*cat->types), cmp_name);
    for (size_t i = 1; i < cat->n; i++)
        if (strcmp(cat->types[i - 1].name, cat->types[i].name) == 0) {
            if (err && errlen)
                snprintf(err, errlen, "duplicate instance type '%s'", cat->types[i].name);
            rc = FR_EPARSE;
            goto done;
        }
    cat->by_family = malloc(cat->n * sizeof(*cat->by_family));
    if (!cat->by_family) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < cat->n; i++)
        cat->by_family[i] = &cat->types[i];
    qsort(cat->by_family, cat->n, sizeof(*cat->by_family), cmp_family);
done:
    free(copy);
    if (rc) {
        fr_emr_catalog_free(cat);
        return rc;
    }
    *out = cat;
    return 0;
}

int fr_emr_catalog_load(const char *path, fr_emr_catalog **out, char *err, size_t errlen)
{
    fr_buf b = FR_BUF_INIT;
    int rc = fr_buf_read_file(&b, path, 16u << 20);
    if (rc) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, fr_strerror(rc));
        return rc;
    }
    char sub[200];
    rc = fr_emr_catalog_parse(b.data ? b.data : "", b.len, out, sub, sizeof(sub));
    if (rc && err && errlen)
        snprintf(err, errlen, "%s: %s", path, sub);
    fr_buf_free(&b);
    return rc;
}

void fr_emr_catalog_free(fr_emr_catalog *cat)
{
    if (!cat)
        return;
    free(cat->types);
    free((void *)cat->by_family);
    free(cat);
}

size_t fr_emr_catalog_count(const fr_emr_catalog *cat)
{
    return cat ? cat->n : 0;
}

const fr_emr_itype *fr_emr_catalog_at(const fr_emr_catalog *cat, size_t i)
{
    return cat && i < cat->n ? &cat->types[i] : NULL;
}

const fr_emr_itype *fr_emr_catalog_find(const fr_emr_catalog *cat, const char *name)
{
    if (!cat || !name)
        return NULL;
    size_t lo = 0, hi = cat->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, cat->types[mid].name);
        if (c == 0)
            return &cat->types[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Position of t in by_family. */
static size_t family_pos(const fr_emr_catalog *cat, const fr_emr_itype *t)
{
    size_t lo = 0, hi = cat->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_family_t(t, cat->by_family[mid]);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return cat->n;
}

static bool on_ladder(const fr_emr_itype *t, bool emr_only)
{
    return t->size_rank > 0 && (!emr_only || t->emr_supported);
}

const fr_emr_itype *fr_emr_catalog_step(const fr_emr_catalog *cat, const fr_emr_itype *t, int steps, bool emr_only,
                                        int *taken)
{
    if (taken)
        *taken = 0;
    if (!cat || !t || steps == 0)
        return t;
    /* t may be a catalog entry or a copy; work from the catalog's entry. */
    const fr_emr_itype *self = fr_emr_catalog_find(cat, t->name);
    if (!self)
        return t;
    size_t pos = family_pos(cat, self);
    if (pos >= cat->n)
        return t;
    const fr_emr_itype *best = t;
    int made = 0;
    int dir = steps > 0 ? 1 : -1;
    int want = steps > 0 ? steps : -steps;
    for (ptrdiff_t i = (ptrdiff_t)pos + dir; i >= 0 && i < (ptrdiff_t)cat->n && made < want; i += dir) {
        const fr_emr_itype *c = cat->by_family[i];
        if (strcmp(c->family, self->family) != 0)
            break;
        if (!on_ladder(c, emr_only) || c->size_rank == self->size_rank)
            continue;
        made++;
        best = c;
    }
    if (taken)
        *taken = made * dir;
    return best;
}

size_t fr_emr_catalog_family(const fr_emr_catalog *cat, const char *family, bool emr_only, const fr_emr_itype **out,
                             size_t max)
{
    size_t n = 0;
    if (!cat || !family)
        return 0;
    /* binary search for the family's first row */
    size_t lo = 0, hi = cat->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(cat->by_family[mid]->family, family) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < cat->n; i++) {
        const fr_emr_itype *c = cat->by_family[i];
        if (strcmp(c->family, family) != 0)
            break;
        if (!on_ladder(c, emr_only))
            continue;
        if (n < max)
            out[n] = c;
        n++;
    }
    return n;
}

int fr_emr_catalog_distance(const fr_emr_catalog *cat, const fr_emr_itype *a, const fr_emr_itype *b, bool emr_only,
                            int *out)
{
    if (!a || !b || strcmp(a->family, b->family) != 0)
        return FR_ENOTFOUND;
    const fr_emr_itype *lad[64];
    size_t n = fr_emr_catalog_family(cat, a->family, emr_only, lad, FR_ARRAY_SIZE(lad));
    if (n > FR_ARRAY_SIZE(lad))
        n = FR_ARRAY_SIZE(lad);
    int ia = -1, ib = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(lad[i]->name, a->name) == 0)
            ia = (int)i;
        if (strcmp(lad[i]->name, b->name) == 0)
            ib = (int)i;
    }
    if (ia < 0 || ib < 0)
        return FR_ENOTFOUND;
    *out = ib - ia;
    return 0;
}

/* ---- closest known type ---- */

/* Family "r7gd" -> class "r", generation 7, attrs "gd". */
static void split_family(const char *family, char *cls, size_t clsn, int *gen, const char **attrs)
{
    size_t i = 0;
    while (family[i] && islower((unsigned char)family[i]))
        i++;
    size_t n = FR_MIN(i, clsn - 1);
    memcpy(cls, family, n);
    cls[n] = '\0';
    int g = 0;
    while (isdigit((unsigned char)family[i])) {
        if (g < 1000)
            g = g * 10 + (family[i] - '0');
        i++;
    }
    *gen = g;
    *attrs = family + i;
}

static double size_distance(int a, int b)
{
    return fabs(log((double)a) - log((double)b));
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t n = 0;
    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

const fr_emr_itype *fr_emr_catalog_resolve(const fr_emr_catalog *cat, const char *name, fr_emr_match *match)
{
    fr_emr_match m = FR_EMR_MATCH_NONE;
    const fr_emr_itype *best = NULL;
    if (match)
        *match = FR_EMR_MATCH_NONE;
    if (!cat || !name)
        return NULL;
    const fr_emr_itype *t = fr_emr_catalog_find(cat, name);
    if (t) {
        if (match)
            *match = FR_EMR_MATCH_EXACT;
        return t;
    }
    const char *dot = strchr(name, '.');
    if (!dot || dot == name)
        return NULL;
    char family[32];
    size_t flen = (size_t)(dot - name);
    if (flen >= sizeof(family))
        return NULL;
    memcpy(family, name, flen);
    family[flen] = '\0';
    int rank = fr_emr_size_rank(dot + 1);
    if (rank <= 0)
        return NULL; /* metal or not a size: no meaningful neighbour */

    /* 1. same family, nearest size (ties to the larger) */
    double bestd = 0;
    for (size_t i = 0; i < cat->n; i++) {
        const fr_emr_itype *c = &cat->types[i];
        if (c->size_rank <= 0 || strcmp(c->family, family) != 0)
            continue;
        double d = size_distance(c->size_rank, rank);
        if (!best || d < bestd - 1e-12 || (fabs(d - bestd) <= 1e-12 && c->size_rank > best->size_rank)) {
            best = c;
            bestd = d;
        }
    }
    if (best) {
        m = FR_EMR_MATCH_SAME_FAMILY;
        goto out;
    }
    /* 2. same class, nearest size, nearest generation, closest attributes */
    char cls[16], ccls[16];
    int gen, cgen;
    const char *attrs, *cattrs;
    split_family(family, cls, sizeof(cls), &gen, &attrs);
    if (!cls[0])
        return NULL;
    double bsd = 0;
    int bgd = 0;
    bool bsame = false;
    size_t bap = 0;
    for (size_t i = 0; i < cat->n; i++) {
        const fr_emr_itype *c = &cat->types[i];
        if (c->size_rank <= 0)
            continue;
        split_family(c->family, ccls, sizeof(ccls), &cgen, &cattrs);
        if (strcmp(ccls, cls) != 0)
            continue;
        double sd = size_distance(c->size_rank, rank);
        int gd = abs(cgen - gen);
        bool same = strcmp(cattrs, attrs) == 0;
        size_t ap = common_prefix(cattrs, attrs);
        bool better;
        if (!best)
            better = true;
        else if (fabs(sd - bsd) > 1e-12)
            better = sd < bsd;
        else if (same != bsame)
            better = same;
        else if (gd != bgd)
            better = gd < bgd;
        else if (ap != bap)
            better = ap > bap;
        else if (c->size_rank != best->size_rank)
            better = c->size_rank > best->size_rank;
        else
            better = strcmp(c->name, best->name) < 0;
        if (better) {
            best = c;
            bsd = sd;
            bsame = same;
            bgd = gd;
            bap = ap;
        }
    }
    if (best)
        m = FR_EMR_MATCH_SIMILAR_FAMILY;
out:
    if (match)
        *match = m;
    return best;
}

int fr_emr_catalog_set_price(fr_emr_catalog *cat, const char *name, double usd_per_hour)
{
    if (!(usd_per_hour > 0) || !isfinite(usd_per_hour))
        return -EINVAL;
    fr_emr_itype *t = (fr_emr_itype *)fr_emr_catalog_find(cat, name);
    if (!t)
        return FR_ENOTFOUND;
    t->ondemand = usd_per_hour;
    return 0;
}

double fr_emr_itype_spot_estimate(const fr_emr_itype *t)
{
    if (t->spot_savings_pct < 0)
        return t->ondemand;
    return t->ondemand * (1.0 - t->spot_savings_pct / 100.0);
}

json_t *fr_emr_itype_to_json(const fr_emr_itype *t)
{
    if (!t)
        return json_null();
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:s, s:s, s:s, s:b, s:f}", "type", t->name, "family",
                          t->family, "size", t->size, "generation", t->generation, "vcpu", t->vcpu, "memory_gib",
                          t->memory_gib, "arch", fr_emr_arch_name(t->arch), "vendor", t->vendor, "category",
                          fr_emr_category_name(t->category), "emr_supported", t->emr_supported,
                          "ondemand_usd_per_hour", t->ondemand);
    json_object_set_new(o, "spot_savings_pct", t->spot_savings_pct < 0 ? json_null() : json_real(t->spot_savings_pct));
    json_object_set_new(o, "interrupt_bucket",
                        t->interrupt_bucket < 0 ? json_null() : json_integer(t->interrupt_bucket));
    return o;
}

void fr_emr_catalog_default_path(char *buf, size_t n)
{
    snprintf(buf, n, "%s/instance-catalog.csv", FR_DATADIR);
    if (access(buf, R_OK) == 0)
        return;
    snprintf(buf, n, "%s/instance-catalog.csv", FR_SOURCE_DATADIR);
}
