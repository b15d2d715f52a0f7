#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "frugal/err.h"
#include "frugal/str.h"

static int cmp_type(const void *a, const void *b)
{
    return strcmp(((const fr_sim_itype *)a)->name, ((const fr_sim_itype *)b)->name);
}

int fr_sim_catalog_builtin(fr_sim_catalog *c)
{
    memset(c, 0, sizeof(*c));
    c->types = malloc(fr_sim_catalog_nrows * sizeof(*c->types));
    if (!c->types)
        return -ENOMEM;
    memcpy(c->types, fr_sim_catalog_rows, fr_sim_catalog_nrows * sizeof(*c->types));
    c->n = fr_sim_catalog_nrows;
    qsort(c->types, c->n, sizeof(*c->types), cmp_type);
    return 0;
}

static char *own(fr_sim_catalog *c, const char *s, size_t n)
{
    char **no = realloc(c->owned, (c->nowned + 1) * sizeof(*no));
    if (!no)
        return NULL;
    c->owned = no;
    char *d = fr_strndup(s, n);
    if (d)
        c->owned[c->nowned++] = d;
    return d;
}

static const char *bucket_names[] = {"<5%", "5-10%", "10-15%", "15-20%", ">20%"};

int fr_sim_catalog_parse_csv(fr_sim_catalog *c, const char *text, size_t len, int *bad_line)
{
    memset(c, 0, sizeof(*c));
    *bad_line = 0;
    size_t cap = 0, pos = 0;
    int line = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        const char *l = text + pos;
        size_t ll = end - pos;
        pos = end + 1;
        if (ll && l[ll - 1] == '\r')
            ll--;
        if (line++ == 0 || ll == 0)
            continue; /* header */
        char *row = fr_strndup(l, ll);
        if (!row)
            return -ENOMEM;
        char *f[9];
        size_t nf = 0;
        char *p = row;
        while (nf < 9) {
            f[nf++] = p;
            char *comma = strchr(p, ',');
            if (!comma)
                break;
            *comma = '\0';
            p = comma + 1;
        }
        if (nf < 9) {
            free(row);
            fr_sim_catalog_free(c);
            *bad_line = line;
            return FR_EPARSE;
        }
        if (c->n == cap) {
            cap = cap ? cap * 2 : 1024;
            fr_sim_itype *nt = realloc(c->types, cap * sizeof(*nt));
            if (!nt) {
                free(row);
                fr_sim_catalog_free(c);
                return -ENOMEM;
            }
            c->types = nt;
        }
        fr_sim_itype *t = &c->types[c->n];
        memset(t, 0, sizeof(*t));
        int64_t v = 0, sav = 0;
        double mem = 0, price = 0;
        t->name = own(c, f[0], strlen(f[0]));
        t->family = own(c, f[1], strlen(f[1]));
        /* an empty price or saving is unknown (0); an unreadable one is an error */
        if (!t->name || !t->family || fr_parse_i64(f[2], &v) != 0 || v < 1 || fr_parse_double(f[3], &mem) != 0 ||
            !(mem > 0) || (*f[5] && (fr_parse_double(f[5], &price) != 0 || price < 0)) ||
            (*f[7] && fr_parse_i64(f[7], &sav) != 0)) {
            free(row);
            fr_sim_catalog_free(c);
            *bad_line = line;
            return FR_EPARSE;
        }
        t->vcpu = (int)v;
        t->mem_gib = mem;
        t->arm64 = strcmp(f[4], "arm64") == 0;
        t->od_price = price;
        t->emr = strcmp(f[6], "true") == 0;
        t->spot_savings = (int)sav;
        t->bucket = -1;
        for (int b = 0; b < 5; b++)
            if (strcmp(f[8], bucket_names[b]) == 0)
                t->bucket = b;
        c->n++;
        free(row);
    }
    if (c->n == 0)
        return FR_EPARSE;
    qsort(c->types, c->n, sizeof(*c->types), cmp_type);
    return 0;
}

void fr_sim_catalog_free(fr_sim_catalog *c)
{
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->types);
    memset(c, 0, sizeof(*c));
}

const fr_sim_itype *fr_sim_catalog_find(const fr_sim_catalog *c, const char *name)
{
    if (!name || !c->n)
        return NULL;
    fr_sim_itype key = {.name = name};
    return bsearch(&key, c->types, c->n, sizeof(*c->types), cmp_type);
}

int fr_sim_size_mult(const char *type)
{
    const char *dot = type ? strchr(type, '.') : NULL;
    if (!dot)
        return -1;
    const char *s = dot + 1;
    if (strcmp(s, "large") == 0)
        return 0;
    if (strcmp(s, "xlarge") == 0)
        return 1;
    int m = 0;
    while (isdigit((unsigned char)*s))
        m = m * 10 + (*s++ - '0');
    if (m > 0 && strcmp(s, "xlarge") == 0)
        return m;
    return -1;
}

void fr_sim_type_with_mult(char *out, size_t n, const char *family, int mult)
{
    if (mult <= 0)
        snprintf(out, n, "%s.large", family);
    else if (mult == 1)
        snprintf(out, n, "%s.xlarge", family);
    else
        snprintf(out, n, "%s.%dxlarge", family, mult);
}

char fr_sim_type_category(const char *type)
{
    return type && *type ? (char)tolower((unsigned char)type[0]) : '?';
}
