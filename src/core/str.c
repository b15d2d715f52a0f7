#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "frugal/err.h"
#include "frugal/str.h"

size_t fr_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

char *fr_strdup(const char *s)
{
    return s ? fr_strndup(s, strlen(s)) : NULL;
}

char *fr_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

bool fr_str_startswith(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool fr_str_endswith(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool fr_str_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

bool fr_mem_ieq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

char *fr_str_trim(char *s)
{
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    char *b = s;
    while (*b && isspace((unsigned char)*b))
        b++;
    if (b != s)
        memmove(s, b, strlen(b) + 1);
    return s;
}

void fr_str_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

int fr_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return FR_EPARSE;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return FR_EPARSE;
    *out = v;
    return 0;
}

int fr_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return FR_EPARSE;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return FR_EPARSE;
    *out = v;
    return 0;
}

int fr_parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return FR_EPARSE;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return FR_EPARSE;
    *out = v;
    return 0;
}

int fr_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return FR_EPARSE;
}

static int parse_scaled(const char *s, const char *const *units, const uint64_t *mult, size_t nunits,
                        uint64_t dflt_mult, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return FR_EPARSE;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || v < 0 || !isfinite(v))
        return FR_EPARSE;
    uint64_t m = 0;
    if (*end == '\0') {
        m = dflt_mult;
    } else {
        for (size_t i = 0; i < nunits; i++)
            if (strcasecmp(end, units[i]) == 0)
                m = mult[i];
        if (!m)
            return FR_EPARSE;
    }
    double r = v * (double)m;
    if (r > 1.8e19)
        return FR_EPARSE;
    *out = (uint64_t)llround(r);
    return 0;
}

int fr_parse_duration_ms(const char *s, uint64_t *out_ms)
{
    static const char *const u[] = {"ms", "s", "m", "h", "d"};
    static const uint64_t m[] = {1, 1000, 60000, 3600000, 86400000};
    return parse_scaled(s, u, m, 5, 1000, out_ms);
}

int fr_parse_size(const char *s, uint64_t *out)
{
    static const char *const u[] = {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib"};
    static const uint64_t m[] = {1, 1ULL << 10, 1ULL << 10, 1ULL << 10, 1ULL << 20, 1ULL << 20, 1ULL << 20,
                                 1ULL << 30, 1ULL << 30, 1ULL << 30};
    return parse_scaled(s, u, m, 10, 1, out);
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int fr_uri_encode(fr_buf *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = fr_buf_reserve(out, n * 3);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = hex[c >> 4];
            out->data[out->len++] = hex[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int fr_uri_decode(fr_buf *out, const char *s, size_t n, bool plus_space)
{
    int rc = fr_buf_reserve(out, n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return FR_EPARSE;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return FR_EPARSE;
            c = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        out->data[out->len++] = c;
    }
    out->data[out->len] = '\0';
    return 0;
}

void fr_hex_encode(char *out, const unsigned char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int fr_base64_encode(fr_buf *out, const unsigned char *in, size_t n)
{
    size_t need = 4 * ((n + 2) / 3) + 1, olen = 0;
    int rc = fr_buf_reserve(out, need);
    if (rc)
        return rc;
    if (mbedtls_base64_encode((unsigned char *)out->data + out->len, need, &olen, in, n) != 0)
        return -EINVAL;
    out->len += olen;
    out->data[out->len] = '\0';
    return 0;
}

int fr_base64_decode(fr_buf *out, const char *in, size_t n)
{
    size_t need = 3 * (n / 4) + 3, olen = 0;
    int rc = fr_buf_reserve(out, need);
    if (rc)
        return rc;
    if (mbedtls_base64_decode((unsigned char *)out->data + out->len, need, &olen, (const unsigned char *)in, n) != 0)
        return FR_EPARSE;
    out->len += olen;
    out->data[out->len] = '\0';
    return 0;
}

bool fr_secure_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Length is not secret here (tokens have a fixed format); contents are. */
    unsigned char d = (unsigned char)(alen != blen);
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int fr_parse_hostport(const char *s, char *host, size_t hsz, int *port)
{
    const char *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return FR_EPARSE;
        hl = (size_t)(rb - s - 1);
        s++;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return FR_EPARSE;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hsz)
        return FR_EPARSE;
    int64_t p;
    if (fr_parse_i64(colon + 1, &p) || p < 0 || p > 65535)
        return FR_EPARSE;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

uint64_t fr_hash64(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}
