#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "util.h"

/* ---- randomness ---- */

uint64_t fr_sim_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t fr_sim_hash3(uint64_t seed, uint64_t a, uint64_t b)
{
    return fr_sim_mix64(fr_sim_mix64(fr_sim_mix64(seed) ^ a) ^ (b * 0x2545f4914f6cdd1dULL));
}

uint64_t fr_sim_hash_str(uint64_t seed, const char *s)
{
    return fr_sim_mix64(seed ^ fr_hash64(s, strlen(s)));
}

double fr_sim_unit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

void fr_sim_rng_init(fr_sim_rng *r, uint64_t seed)
{
    r->s = fr_sim_mix64(seed ^ 0x5851f42d4c957f2dULL);
}

uint64_t fr_sim_rng_next(fr_sim_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double fr_sim_rng_unit(fr_sim_rng *r)
{
    return fr_sim_unit(fr_sim_rng_next(r));
}

int64_t fr_sim_rng_range(fr_sim_rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(fr_sim_rng_next(r) % span);
}

size_t fr_sim_rng_pick(fr_sim_rng *r, const double *weights, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    double x = fr_sim_rng_unit(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n ? n - 1 : 0;
}

double fr_sim_rng_normal(fr_sim_rng *r)
{
    double u1 = fr_sim_rng_unit(r), u2 = fr_sim_rng_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void id_from(char *out, size_t outsz, const char *prefix, uint64_t v, const char *alpha, size_t nalpha,
                    size_t nchars)
{
    char body[40];
    uint64_t x = v;
    if (nchars >= sizeof(body))
        nchars = sizeof(body) - 1;
    for (size_t i = 0; i < nchars; i++) {
        if (i % 10 == 0 && i)
            x = fr_sim_mix64(x ^ i);
        body[i] = alpha[x % nalpha];
        x /= nalpha;
    }
    body[nchars] = '\0';
    snprintf(out, outsz, "%s%s", prefix, body);
}

void fr_sim_id_emr(char *out, size_t outsz, const char *prefix, uint64_t v)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    id_from(out, outsz, prefix, fr_sim_mix64(v), a, 36, 13);
}

void fr_sim_id_ec2(char *out, size_t outsz, const char *prefix, uint64_t v)
{
    static const char a[] = "0123456789abcdef";
    /* "i-0" + 16 hex, as current EC2 ids */
    char tmp[48];
    id_from(tmp, sizeof(tmp), "0", fr_sim_mix64(v), a, 16, 16);
    snprintf(out, outsz, "%s%s", prefix, tmp);
}

void fr_sim_uuid(char *out, size_t outsz, uint64_t a, uint64_t b)
{
    a = fr_sim_mix64(a);
    b = fr_sim_mix64(b ^ a);
    snprintf(out, outsz, "%08x-%04x-4%03x-%x%03x-%012llx", (unsigned)(a >> 32), (unsigned)((a >> 16) & 0xffff),
             (unsigned)(a & 0xfff), (unsigned)(8 + ((b >> 60) & 3)), (unsigned)((b >> 48) & 0xfff),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* ---- map ---- */

void fr_sim_map_init(fr_sim_map *m)
{
    memset(m, 0, sizeof(*m));
}

void fr_sim_map_free(fr_sim_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

void fr_sim_map_clear(fr_sim_map *m)
{
    fr_sim_map_free(m);
}

static size_t map_slot(const fr_sim_map *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)fr_hash64(key, strlen(key)) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & mask;
    return i;
}

static int map_grow(fr_sim_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    fr_sim_map nm = {calloc(ncap, sizeof(char *)), calloc(ncap, sizeof(void *)), ncap, 0};
    if (!nm.keys || !nm.vals) {
        free(nm.keys);
        free(nm.vals);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = map_slot(&nm, m->keys[i]);
        nm.keys[j] = m->keys[i];
        nm.vals[j] = m->vals[i];
        nm.n++;
    }
    free(m->keys);
    free(m->vals);
    *m = nm;
    return 0;
}

int fr_sim_map_put(fr_sim_map *m, const char *key, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        int rc = map_grow(m);
        if (rc)
            return rc;
    }
    size_t i = map_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = fr_strdup(key);
        if (!m->keys[i])
            return -ENOMEM;
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

void *fr_sim_map_get(const fr_sim_map *m, const char *key)
{
    if (!m->cap || !key)
        return NULL;
    size_t i = map_slot(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

/* ---- JSON getters ---- */

const char *fr_sim_jstr(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int fr_sim_jnum(const json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v))
        return fr_parse_double(json_string_value(v), out);
    return FR_ENOTFOUND;
}

int fr_sim_jint(const json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    double d;
    if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_string(v)) {
        if (fr_parse_i64(json_string_value(v), out) == 0)
            return 0;
        if (fr_parse_double(json_string_value(v), &d) != 0)
            return FR_EPARSE;
    } else {
        return v ? FR_EPARSE : FR_ENOTFOUND;
    }
    if (d != floor(d) || fabs(d) > 9e15)
        return FR_EPARSE;
    *out = (int64_t)d;
    return 0;
}

int fr_sim_jbool(const json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (fr_str_ieq(s, "true")) {
            *out = true;
            return 0;
        }
        if (fr_str_ieq(s, "false")) {
            *out = false;
            return 0;
        }
        return FR_EPARSE;
    }
    return v ? FR_EPARSE : FR_ENOTFOUND;
}

int fr_sim_jtime(const json_t *o, const char *key, int64_t *out_ms)
{
    json_t *v = json_object_get(o, key);
    if (json_is_number(v)) {
        *out_ms = (int64_t)llround(json_number_value(v) * 1000.0);
        return 0;
    }
    if (json_is_string(v))
        return fr_time_parse(json_string_value(v), out_ms);
    return v ? FR_EPARSE : FR_ENOTFOUND;
}

json_t *fr_sim_jlist(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_array(v))
        return v;
    /* a single value where a list was meant: wrap it in place */
    json_t *a = json_array();
    json_array_append(a, v);
    json_object_set_new(o, key, a);
    return a;
}

json_t *fr_sim_jtime_value(int64_t ms)
{
    /* epoch seconds as a number with a fraction, as the JSON APIs send */
    return json_real((double)ms / 1000.0);
}

void fr_sim_jset_time(json_t *o, const char *key, int64_t ms)
{
    json_object_set_new(o, key, fr_sim_jtime_value(ms));
}

/* ---- form decoding ---- */

static bool is_index(const char *s, size_t n, size_t *idx)
{
    if (n == 0 || n > 6)
        return false;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    if (v == 0)
        return false;
    *idx = v;
    return true;
}

/* A place in the tree: an object member or an array position. */
typedef struct slot {
    json_t *parent;
    char key[256];
    size_t index; /* 1-based when parent is an array */
} slot;

static json_t *slot_get(slot *s)
{
    if (json_is_array(s->parent))
        return json_array_get(s->parent, s->index - 1);
    return json_object_get(s->parent, s->key);
}

static void slot_set(slot *s, json_t *v)
{
    if (json_is_array(s->parent)) {
        while (json_array_size(s->parent) < s->index)
            json_array_append_new(s->parent, json_null());
        json_array_set_new(s->parent, s->index - 1, v);
    } else {
        json_object_set_new(s->parent, s->key, v);
    }
}

static json_t *slot_container(slot *s, bool array)
{
    json_t *cur = slot_get(s);
    if (array ? json_is_array(cur) : json_is_object(cur))
        return cur;
    json_t *n = array ? json_array() : json_object();
    slot_set(s, n);
    return n;
}

static void compact_nulls(json_t *j)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) compact_nulls(v);
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j);) {
            json_t *v = json_array_get(j, i);
            if (json_is_null(v)) {
                json_array_remove(j, i);
                continue;
            }
            compact_nulls(v);
            i++;
        }
    }
}

static void form_put(json_t *root, const char *key, const char *val)
{
    slot s = {root, "", 0};
    const char *p = key;
    size_t n = strcspn(p, ".");
    if (n == 0 || n >= sizeof(s.key))
        return;
    memcpy(s.key, p, n);
    s.key[n] = '\0';
    p += n;
    while (*p == '.') {
        p++;
        n = strcspn(p, ".");
        size_t idx;
        /* "Name.member.N" (query lists) means the same as "Name.N" (EC2) */
        if (n == 6 && strncmp(p, "member", 6) == 0 && p[6] == '.' && is_index(p + 7, strcspn(p + 7, "."), &idx)) {
            p += 7;
            n = strcspn(p, ".");
        }
        if (is_index(p, n, &idx)) {
            json_t *arr = slot_container(&s, true);
            s.parent = arr;
            s.index = idx;
            s.key[0] = '\0';
        } else {
            if (n >= sizeof(s.key))
                return;
            json_t *obj = slot_container(&s, false);
            s.parent = obj;
            memcpy(s.key, p, n);
            s.key[n] = '\0';
        }
        p += n;
    }
    slot_set(&s, json_string(val));
}

int fr_sim_form_to_json(const char *s, size_t n, json_t **out)
{
    json_t *root = json_object();
    size_t pos = 0;
    int rc = 0;
    while (pos < n && rc == 0) {
        size_t end = pos;
        while (end < n && s[end] != '&')
            end++;
        const char *eq = memchr(s + pos, '=', end - pos);
        size_t kl = eq ? (size_t)(eq - (s + pos)) : end - pos;
        if (kl) {
            fr_buf k = FR_BUF_INIT, v = FR_BUF_INIT;
            rc = fr_uri_decode(&k, s + pos, kl, true);
            if (!rc && eq)
                rc = fr_uri_decode(&v, eq + 1, (size_t)(s + end - eq - 1), true);
            if (!rc)
                form_put(root, fr_buf_cstr(&k), fr_buf_cstr(&v));
            fr_buf_free(&k);
            fr_buf_free(&v);
        }
        pos = end + 1;
    }
    if (rc) {
        json_decref(root);
        return FR_EPARSE;
    }
    compact_nulls(root);
    *out = root;
    return 0;
}

char *fr_sim_form_get(const char *s, size_t n, const char *key)
{
    size_t kl = strlen(key), pos = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && s[end] != '&')
            end++;
        const char *eq = memchr(s + pos, '=', end - pos);
        size_t l = eq ? (size_t)(eq - (s + pos)) : end - pos;
        if (l == kl && memcmp(s + pos, key, kl) == 0) {
            fr_buf v = FR_BUF_INIT;
            if (eq && fr_uri_decode(&v, eq + 1, (size_t)(s + end - eq - 1), true) != 0) {
                fr_buf_free(&v);
                return NULL;
            }
            char *r = fr_strdup(fr_buf_cstr(&v));
            fr_buf_free(&v);
            return r;
        }
        pos = end + 1;
    }
    return NULL;
}

/* ---- XML ---- */

void fr_sim_xml_escape(fr_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fr_buf_puts(b, "&lt;"); break;
        case '>': fr_buf_puts(b, "&gt;"); break;
        case '&': fr_buf_puts(b, "&amp;"); break;
        case '"': fr_buf_puts(b, "&quot;"); break;
        case '\'': fr_buf_puts(b, "&apos;"); break;
        case '\r': fr_buf_puts(b, "&#13;"); break;
        default: fr_buf_putc(b, *s);
        }
    }
}

void fr_sim_xml_open(fr_buf *b, const char *tag)
{
    fr_buf_printf(b, "<%s>", tag);
}

void fr_sim_xml_close(fr_buf *b, const char *tag)
{
    fr_buf_printf(b, "</%s>", tag);
}

void fr_sim_xml_text(fr_buf *b, const char *tag, const char *text)
{
    if (!text)
        return;
    fr_buf_printf(b, "<%s>", tag);
    fr_sim_xml_escape(b, text);
    fr_buf_printf(b, "</%s>", tag);
}

void fr_sim_xml_int(fr_buf *b, const char *tag, int64_t v)
{
    fr_buf_printf(b, "<%s>%lld</%s>", tag, (long long)v, tag);
}

void fr_sim_xml_num(fr_buf *b, const char *tag, double v)
{
    fr_buf_printf(b, "<%s>", tag);
    fr_sim_put_num(b, v, 6);
    fr_buf_printf(b, "</%s>", tag);
}

void fr_sim_xml_bool(fr_buf *b, const char *tag, bool v)
{
    fr_buf_printf(b, "<%s>%s</%s>", tag, v ? "true" : "false", tag);
}

void fr_sim_xml_time(fr_buf *b, const char *tag, int64_t ms)
{
    char t[40];
    fr_time_iso8601(t, sizeof(t), ms, 0);
    /* always with milliseconds, as AWS writes them */
    size_t l = strlen(t);
    if (l && t[l - 1] == 'Z') {
        t[l - 1] = '\0';
        fr_buf_printf(b, "<%s>%s.%03dZ</%s>", tag, t, (int)(((ms % 1000) + 1000) % 1000), tag);
    } else {
        fr_buf_printf(b, "<%s>%s</%s>", tag, t, tag);
    }
}

/* ---- numbers ---- */

void fr_sim_put_int(fr_buf *b, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof(tmp), *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    fr_buf_append(b, p, (size_t)(e - p));
}

void fr_sim_put_num(fr_buf *b, double v, int decimals)
{
    if (!isfinite(v)) {
        fr_buf_putc(b, '0');
        return;
    }
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    if (fabs(v) >= 1e15) {
        fr_buf_printf(b, "%.17g", v);
        return;
    }
    long long scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    long long x = llround(v * (double)scale);
    char tmp[48];
    char *e = tmp + sizeof(tmp);
    char *p = e;
    bool neg = x < 0;
    unsigned long long ux = neg ? (unsigned long long)(-x) : (unsigned long long)x;
    unsigned long long ip = ux / (unsigned long long)scale, fp = ux % (unsigned long long)scale;
    int fd = decimals;
    while (fd > 0 && fp % 10 == 0) {
        fp /= 10;
        fd--;
    }
    if (fd > 0) {
        for (int i = 0; i < fd; i++) {
            *--p = (char)('0' + fp % 10);
            fp /= 10;
        }
        *--p = '.';
    }
    do {
        *--p = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (neg)
        *--p = '-';
    fr_buf_append(b, p, (size_t)(e - p));
}

void fr_sim_md5_hex(const void *data, size_t len, char *out)
{
    unsigned char d[16];
    const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
    if (!mi || mbedtls_md(mi, data, len, d) != 0) {
        memset(d, 0, sizeof(d));
    }
    fr_hex_encode(out, d, sizeof(d));
}

int fr_sim_read_file(const char *path, char **out, size_t *len)
{
    fr_buf b = FR_BUF_INIT;
    int rc = fr_buf_read_file(&b, path, (size_t)1 << 30);
    if (rc) {
        fr_buf_free(&b);
        *out = NULL;
        *len = 0;
        return rc;
    }
    *len = b.len;
    *out = fr_buf_steal(&b);
    return 0;
}
