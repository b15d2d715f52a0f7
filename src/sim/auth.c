#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "util.h"

#define SKEW_MS (15 * 60 * 1000)

void fr_sim_auth_init(fr_sim_auth *a, uint64_t seed)
{
    memset(a, 0, sizeof(*a));
    a->seed = seed;
}

void fr_sim_auth_free(fr_sim_auth *a)
{
    free(a->creds);
    memset(a, 0, sizeof(*a));
}

int fr_sim_auth_add(fr_sim_auth *a, const char *akid, const char *secret, const char *token, int64_t expires_ms,
                    const char *arn)
{
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 8;
        fr_sim_cred *nc = realloc(a->creds, ncap * sizeof(*nc));
        if (!nc)
            return -ENOMEM;
        a->creds = nc;
        a->cap = ncap;
    }
    fr_sim_cred *c = &a->creds[a->n++];
    memset(c, 0, sizeof(*c));
    fr_strlcpy(c->akid, akid, sizeof(c->akid));
    fr_strlcpy(c->secret, secret, sizeof(c->secret));
    fr_strlcpy(c->token, token ? token : "", sizeof(c->token));
    c->expires_ms = expires_ms;
    fr_strlcpy(c->arn, arn ? arn : "", sizeof(c->arn));
    return 0;
}

const fr_sim_cred *fr_sim_auth_issue(fr_sim_auth *a, int64_t now_ms, int64_t ttl_ms, const char *arn)
{
    /* forget credentials that expired long ago */
    for (size_t i = 0; i < a->n;) {
        if (a->creds[i].expires_ms && a->creds[i].expires_ms + 3600000 < now_ms) {
            memmove(&a->creds[i], &a->creds[i + 1], (a->n - i - 1) * sizeof(*a->creds));
            a->n--;
        } else {
            i++;
        }
    }
    uint64_t h = fr_sim_hash3(a->seed, 0xc7ed, ++a->counter ^ (uint64_t)now_ms);
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char akid[24] = "ASIA";
    for (int i = 0; i < 16; i++)
        akid[4 + i] = alpha[fr_sim_mix64(h + (uint64_t)i) % 32];
    akid[20] = '\0';
    char secret[48], token[256];
    fr_sim_uuid(secret, sizeof(secret), h, 0x5ec);
    fr_buf tb = FR_BUF_INIT;
    char u1[40], u2[40];
    fr_sim_uuid(u1, sizeof(u1), h, 1);
    fr_sim_uuid(u2, sizeof(u2), h, 2);
    fr_buf_printf(&tb, "FwoGZXIvYXdzEF%s%s", u1, u2);
    fr_strlcpy(token, fr_buf_cstr(&tb), sizeof(token));
    fr_buf_free(&tb);
    for (char *p = token; *p; p++)
        if (*p == '-')
            *p = 'Z';
    if (fr_sim_auth_add(a, akid, secret, token, now_ms + ttl_ms, arn) != 0)
        return NULL;
    return &a->creds[a->n - 1];
}

const fr_sim_cred *fr_sim_auth_find(const fr_sim_auth *a, const char *akid)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->creds[i].akid, akid) == 0)
            return &a->creds[i];
    return NULL;
}

char *fr_sim_raw_header(const fr_sim_raw_req *r, const char *lname)
{
    fr_buf b = FR_BUF_INIT;
    bool found = false;
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, lname) == 0) {
            if (found)
                fr_buf_putc(&b, ',');
            fr_buf_puts(&b, r->headers[i].value);
            found = true;
        }
    if (!found) {
        fr_buf_free(&b);
        return NULL;
    }
    if (!b.data)
        return fr_strdup("");
    return fr_buf_steal(&b);
}

const char *fr_sim_auth_result_name(fr_sim_auth_result res)
{
    static const char *names[] = {"ok", "missing", "malformed", "unknown_key", "bad_token", "expired",
                                  "bad_signature", "skewed"};
    return res <= FR_SIM_AUTH_SKEWED ? names[res] : "?";
}

fr_sim_auth_result fr_sim_auth_verify(fr_sim_auth *a, const fr_sim_raw_req *r, int64_t now_ms,
                                      fr_sigv4_auth *parsed, const fr_sim_cred **who)
{
    *who = NULL;
    char *authz = fr_sim_raw_header(r, "authorization");
    if (!authz)
        return FR_SIM_AUTH_MISSING;
    int rc = fr_sigv4_parse_authorization(authz, parsed);
    free(authz);
    if (rc != 0)
        return FR_SIM_AUTH_MALFORMED;
    fr_sim_cred *cred = NULL;
    for (size_t i = 0; i < a->n && !cred; i++)
        if (strcmp(a->creds[i].akid, parsed->access_key) == 0)
            cred = &a->creds[i];
    if (!cred)
        return FR_SIM_AUTH_UNKNOWN_KEY;
    *who = cred;
    if (cred->token[0]) {
        char *tok = fr_sim_raw_header(r, "x-amz-security-token");
        bool ok = tok && strcmp(tok, cred->token) == 0;
        free(tok);
        if (!ok)
            return FR_SIM_AUTH_BAD_TOKEN;
        if (cred->expires_ms && now_ms > cred->expires_ms)
            return FR_SIM_AUTH_EXPIRED;
    }
    char *date = fr_sim_raw_header(r, "x-amz-date");
    int64_t t_ms = 0;
    if (!date || fr_time_parse(date, &t_ms) != 0) {
        free(date);
        return FR_SIM_AUTH_MALFORMED;
    }
    free(date);
    if (t_ms > now_ms + SKEW_MS || t_ms < now_ms - SKEW_MS)
        return FR_SIM_AUTH_SKEWED;

    /* the signed headers, in the order named, with their values */
    fr_sigv4_header hs[64];
    char *vals[64];
    size_t nh = 0;
    char names[sizeof(parsed->signed_headers)];
    fr_strlcpy(names, parsed->signed_headers, sizeof(names));
    fr_sim_auth_result res = FR_SIM_AUTH_OK;
    char clen[32];
    for (char *p = names; p && *p && nh < 64;) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        char *v;
        if (strcmp(p, "host") == 0) {
            v = fr_strdup(r->host ? r->host : "");
        } else if (strcmp(p, "content-length") == 0) {
            snprintf(clen, sizeof(clen), "%zu", r->body_len);
            v = fr_strdup(clen);
        } else {
            v = fr_sim_raw_header(r, p);
        }
        if (!v) {
            res = FR_SIM_AUTH_BAD_SIGNATURE;
            break;
        }
        hs[nh].name = p;
        hs[nh].value = v;
        vals[nh] = v;
        nh++;
        p = semi ? semi + 1 : NULL;
    }
    if (res == FR_SIM_AUTH_OK) {
        const char *q = memchr(r->path, '?', r->path_len);
        char *path = fr_strndup(r->path, q ? (size_t)(q - r->path) : r->path_len);
        char *query = q ? fr_strndup(q + 1, r->path_len - (size_t)(q + 1 - r->path)) : NULL;
        char *phash = fr_sim_raw_header(r, "x-amz-content-sha256");
        fr_sigv4_req sr = {r->method, path, query, hs, nh, r->body, r->body_len, NULL};
        if (phash && strstr(parsed->signed_headers, "x-amz-content-sha256"))
            sr.payload_hash = phash;
        fr_sigv4_scope scope = {parsed->region, parsed->service, t_ms, false};
        fr_buf want = FR_BUF_INIT;
        fr_sigv4_auth mine;
        if (fr_sigv4_authorization(&sr, &scope, cred->akid, cred->secret, &cred->cache, &want) != 0 ||
            fr_sigv4_parse_authorization(fr_buf_cstr(&want), &mine) != 0 ||
            !fr_secure_eq(mine.signature, 64, parsed->signature, strlen(parsed->signature)))
            res = FR_SIM_AUTH_BAD_SIGNATURE;
        /* the date in the scope must be the request's date */
        char d8[12];
        fr_time_amzdate(d8, sizeof(d8), t_ms);
        if (strcmp(d8, parsed->date) != 0)
            res = FR_SIM_AUTH_BAD_SIGNATURE;
        fr_buf_free(&want);
        free(path);
        free(query);
        free(phash);
    }
    for (size_t i = 0; i < nh; i++)
        free(vals[i]);
    return res;
}
