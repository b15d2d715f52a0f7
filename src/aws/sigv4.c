#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/sigv4.h"
#include "frugal/str.h"
#include "frugal/time.h"

int fr_sigv4_normalize_path(const char *path, fr_buf *out)
{
    if (!path || !*path)
        path = "/";
    size_t n = strlen(path);
    /* segments stack */
    const char **seg = malloc((n + 1) * sizeof(*seg));
    size_t *len = malloc((n + 1) * sizeof(*len));
    if (!seg || !len) {
        free(seg);
        free(len);
        return -ENOMEM;
    }
    size_t ns = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t l = (size_t)(e - p);
        if (l == 1 && p[0] == '.') {
            /* drop */
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            if (ns)
                ns--;
        } else {
            seg[ns] = p;
            len[ns] = l;
            ns++;
        }
        p = e;
    }
    bool trailing = n > 1 && path[n - 1] == '/';
    /* "/." and "/.." style endings also denote a directory */
    if (!trailing && n >= 2 && path[n - 1] == '.' && (path[n - 2] == '/' || (n >= 3 && path[n - 2] == '.' && path[n - 3] == '/')))
        trailing = true;
    fr_buf_reset(out);
    for (size_t i = 0; i < ns; i++) {
        fr_buf_putc(out, '/');
        fr_buf_append(out, seg[i], len[i]);
    }
    if (ns == 0 || trailing)
        fr_buf_putc(out, '/');
    free(seg);
    free(len);
    return 0;
}

struct qpair {
    char *k;
    char *v;
};

static int cmp_qpair(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static int canonical_query(const char *q, fr_buf *out)
{
    if (!q || !*q)
        return 0;
    size_t cap = 8, n = 0;
    struct qpair *pairs = malloc(cap * sizeof(*pairs));
    if (!pairs)
        return -ENOMEM;
    int rc = 0;
    const char *p = q;
    while (*p && rc == 0) {
        const char *e = strchr(p, '&');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l) {
            const char *eq = memchr(p, '=', l);
            size_t kl = eq ? (size_t)(eq - p) : l;
            fr_buf kd = FR_BUF_INIT, vd = FR_BUF_INIT, ke = FR_BUF_INIT, ve = FR_BUF_INIT;
            rc = fr_uri_decode(&kd, p, kl, false);
            if (!rc && eq)
                rc = fr_uri_decode(&vd, eq + 1, l - kl - 1, false);
            if (!rc)
                rc = fr_uri_encode(&ke, fr_buf_cstr(&kd), kd.len, false);
            if (!rc)
                rc = fr_uri_encode(&ve, fr_buf_cstr(&vd), vd.len, false);
            fr_buf_free(&kd);
            fr_buf_free(&vd);
            if (!rc) {
                if (n == cap) {
                    cap *= 2;
                    struct qpair *np = realloc(pairs, cap * sizeof(*np));
                    if (!np)
                        rc = -ENOMEM;
                    else
                        pairs = np;
                }
                if (!rc) {
                    pairs[n].k = fr_buf_steal(&ke);
                    pairs[n].v = fr_buf_steal(&ve);
                    n++;
                }
            }
            fr_buf_free(&ke);
            fr_buf_free(&ve);
        }
        p += l + (e ? 1 : 0);
        if (!e)
            break;
    }
    if (rc == 0) {
        qsort(pairs, n, sizeof(*pairs), cmp_qpair);
        for (size_t i = 0; i < n; i++)
            fr_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].k, pairs[i].v);
    }
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].k);
        free(pairs[i].v);
    }
    free(pairs);
    return rc;
}

struct hdr {
    char *name;
    fr_buf value;
    size_t order;
};

static int cmp_hdr(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

/* Trims and collapses runs of whitespace to one space. */
static void canon_value(const char *v, fr_buf *out)
{
    while (*v && isspace((unsigned char)*v))
        v++;
    bool space = false;
    for (; *v; v++) {
        if (isspace((unsigned char)*v)) {
            space = true;
            continue;
        }
        if (space && out->len)
            fr_buf_putc(out, ' ');
        space = false;
        fr_buf_putc(out, *v);
    }
}

int fr_sigv4_canonical_request(const fr_sigv4_req *r, const fr_sigv4_scope *s, fr_buf *creq, fr_buf *signed_headers)
{
    int rc;
    fr_buf_reset(creq);
    fr_buf_reset(signed_headers);
    fr_buf_printf(creq, "%s\n", r->method);
    /* canonical URI */
    fr_buf norm = FR_BUF_INIT;
    const char *path = r->path && *r->path ? r->path : "/";
    if (s->s3_style) {
        fr_buf_puts(&norm, path);
        rc = fr_uri_encode(creq, norm.data, norm.len, true);
    } else {
        rc = fr_sigv4_normalize_path(path, &norm);
        if (!rc)
            rc = fr_uri_encode(creq, norm.data, norm.len, true);
    }
    fr_buf_free(&norm);
    if (rc)
        return rc;
    fr_buf_putc(creq, '\n');
    if ((rc = canonical_query(r->query, creq)) != 0)
        return rc;
    fr_buf_putc(creq, '\n');
    /* canonical headers: lower-case names, sorted; duplicates joined by ',' in order */
    struct hdr *h = calloc(r->nheaders ? r->nheaders : 1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    for (size_t i = 0; i < r->nheaders; i++) {
        h[i].name = fr_strdup(r->headers[i].name);
        fr_str_lower(h[i].name);
        canon_value(r->headers[i].value ? r->headers[i].value : "", &h[i].value);
        h[i].order = i;
    }
    qsort(h, r->nheaders, sizeof(*h), cmp_hdr);
    for (size_t i = 0; i < r->nheaders;) {
        size_t j = i + 1;
        fr_buf_printf(creq, "%s:%s", h[i].name, fr_buf_cstr(&h[i].value));
        while (j < r->nheaders && strcmp(h[j].name, h[i].name) == 0) {
            fr_buf_printf(creq, ",%s", fr_buf_cstr(&h[j].value));
            j++;
        }
        fr_buf_putc(creq, '\n');
        fr_buf_printf(signed_headers, "%s%s", signed_headers->len ? ";" : "", h[i].name);
        i = j;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        free(h[i].name);
        fr_buf_free(&h[i].value);
    }
    free(h);
    fr_buf_printf(creq, "\n%s\n", fr_buf_cstr(signed_headers));
    if (r->payload_hash) {
        fr_buf_puts(creq, r->payload_hash);
    } else {
        char hex[65];
        fr_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, hex);
        fr_buf_puts(creq, hex);
    }
    return 0;
}

int fr_sigv4_string_to_sign(const char *creq, size_t creq_len, const fr_sigv4_scope *s, fr_buf *sts)
{
    char amz[20], date[10], hex[65];
    fr_time_amz(amz, sizeof(amz), s->time_ms);
    fr_time_amzdate(date, sizeof(date), s->time_ms);
    fr_sha256_hex(creq, creq_len, hex);
    fr_buf_reset(sts);
    return fr_buf_printf(sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz, date, s->region, s->service, hex);
}

void fr_sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                          fr_sigv4_key_cache *cache, unsigned char out[FR_SHA256_LEN])
{
    unsigned char sh[FR_SHA256_LEN];
    if (cache) {
        fr_sha256(secret, strlen(secret), sh);
        if (cache->valid && strcmp(cache->date, date8) == 0 && strcmp(cache->region, region) == 0 &&
            strcmp(cache->service, service) == 0 && memcmp(cache->secret_hash, sh, sizeof(sh)) == 0) {
            memcpy(out, cache->key, FR_SHA256_LEN);
            return;
        }
    }
    fr_buf k = FR_BUF_INIT;
    fr_buf_printf(&k, "AWS4%s", secret);
    unsigned char a[FR_SHA256_LEN], b[FR_SHA256_LEN];
    fr_hmac_sha256(k.data, k.len, date8, strlen(date8), a);
    fr_hmac_sha256(a, sizeof(a), region, strlen(region), b);
    fr_hmac_sha256(b, sizeof(b), service, strlen(service), a);
    fr_hmac_sha256(a, sizeof(a), "aws4_request", 12, out);
    memset(k.data, 0, k.len);
    fr_buf_free(&k);
    if (cache) {
        fr_strlcpy(cache->date, date8, sizeof(cache->date));
        fr_strlcpy(cache->region, region, sizeof(cache->region));
        fr_strlcpy(cache->service, service, sizeof(cache->service));
        memcpy(cache->secret_hash, sh, sizeof(sh));
        memcpy(cache->key, out, FR_SHA256_LEN);
        cache->valid = true;
    }
}

int fr_sigv4_authorization(const fr_sigv4_req *r, const fr_sigv4_scope *s, const char *access_key,
                           const char *secret_key, fr_sigv4_key_cache *cache, fr_buf *authz)
{
    fr_buf creq = FR_BUF_INIT, sh = FR_BUF_INIT, sts = FR_BUF_INIT;
    int rc = fr_sigv4_canonical_request(r, s, &creq, &sh);
    if (!rc)
        rc = fr_sigv4_string_to_sign(creq.data, creq.len, s, &sts);
    if (!rc) {
        char date[10];
        fr_time_amzdate(date, sizeof(date), s->time_ms);
        unsigned char key[FR_SHA256_LEN], sig[FR_SHA256_LEN];
        fr_sigv4_signing_key(secret_key, date, s->region, s->service, cache, key);
        fr_hmac_sha256(key, sizeof(key), sts.data, sts.len, sig);
        char hex[65];
        fr_hex_encode(hex, sig, sizeof(sig));
        fr_buf_reset(authz);
        rc = fr_buf_printf(authz, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                           access_key, date, s->region, s->service, sh.data, hex);
        memset(key, 0, sizeof(key));
    }
    fr_buf_free(&creq);
    fr_buf_free(&sh);
    fr_buf_free(&sts);
    return rc;
}

static int copy_field(const char *start, const char *end, char *out, size_t n)
{
    size_t l = (size_t)(end - start);
    if (l == 0 || l >= n)
        return FR_EPARSE;
    memcpy(out, start, l);
    out[l] = '\0';
    return 0;
}

int fr_sigv4_parse_authorization(const char *h, fr_sigv4_auth *out)
{
    memset(out, 0, sizeof(*out));
    if (!h || strncmp(h, "AWS4-HMAC-SHA256 ", 17) != 0)
        return FR_EPARSE;
    const char *cred = strstr(h, "Credential=");
    const char *sh = strstr(h, "SignedHeaders=");
    const char *sig = strstr(h, "Signature=");
    if (!cred || !sh || !sig)
        return FR_EPARSE;
    cred += 11;
    const char *ce = cred + strcspn(cred, ", ");
    /* AKID/DATE/REGION/SERVICE/aws4_request */
    const char *parts[5];
    const char *p = cred;
    for (int i = 0; i < 5; i++) {
        parts[i] = p;
        const char *sl = memchr(p, '/', (size_t)(ce - p));
        if (i < 4) {
            if (!sl)
                return FR_EPARSE;
            p = sl + 1;
        }
    }
    if ((size_t)(ce - parts[4]) != 12 || strncmp(parts[4], "aws4_request", 12) != 0)
        return FR_EPARSE;
    if (copy_field(parts[0], parts[1] - 1, out->access_key, sizeof(out->access_key)) ||
        copy_field(parts[1], parts[2] - 1, out->date, sizeof(out->date)) ||
        copy_field(parts[2], parts[3] - 1, out->region, sizeof(out->region)) ||
        copy_field(parts[3], parts[4] - 1, out->service, sizeof(out->service)))
        return FR_EPARSE;
    sh += 14;
    if (copy_field(sh, sh + strcspn(sh, ", "), out->signed_headers, sizeof(out->signed_headers)))
        return FR_EPARSE;
    sig += 10;
    size_t sl = strcspn(sig, ", ");
    if (sl != 64 || copy_field(sig, sig + sl, out->signature, sizeof(out->signature)))
        return FR_EPARSE;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)out->signature[i]))
            return FR_EPARSE;
    return 0;
}
