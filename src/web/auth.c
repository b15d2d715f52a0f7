#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/auth.h"
#include "frugal/err.h"
#include "frugal/str.h"

int fr_auth_init(fr_auth *a, const char *api_token, const unsigned char *secret, size_t slen, uint64_t ttl_ms)
{
    memset(a, 0, sizeof(*a));
    if (!api_token || strlen(api_token) < 16)
        return -EINVAL;
    a->token = fr_strdup(api_token);
    if (!a->token)
        return -ENOMEM;
    a->ttl_ms = ttl_ms;
    return fr_hmac_sha256(secret, slen, api_token, strlen(api_token), a->key);
}

void fr_auth_free(fr_auth *a)
{
    if (a->token) {
        memset(a->token, 0, strlen(a->token));
        free(a->token);
    }
    memset(a, 0, sizeof(*a));
}

bool fr_auth_check_bearer(const fr_auth *a, const char *h)
{
    if (!h || !a->token)
        return false;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    return fr_secure_eq(h, n, a->token, strlen(a->token));
}

static void mac_hex(const fr_auth *a, const char *msg, char out[65])
{
    unsigned char mac[FR_SHA256_LEN];
    fr_hmac_sha256(a->key, sizeof(a->key), msg, strlen(msg), mac);
    fr_hex_encode(out, mac, sizeof(mac));
}

int fr_auth_session_new(const fr_auth *a, int64_t now_ms, const unsigned char sid_rand[8], char *cookie, size_t n)
{
    char sid[FR_SID_HEX + 1], body[64], mac[65];
    fr_hex_encode(sid, sid_rand, 8);
    snprintf(body, sizeof(body), "v1.%s.%lld", sid, (long long)(now_ms + (int64_t)a->ttl_ms));
    mac_hex(a, body, mac);
    int w = snprintf(cookie, n, "%s.%s", body, mac);
    return w > 0 && (size_t)w < n ? 0 : -ENOSPC;
}

int fr_auth_session_verify(const fr_auth *a, const char *cookie, int64_t now_ms, char sid[FR_SID_HEX + 1])
{
    if (!cookie || strncmp(cookie, "v1.", 3) != 0)
        return FR_EDENIED;
    const char *last = strrchr(cookie, '.');
    if (!last || last - cookie > 60 || strlen(last + 1) != 64)
        return FR_EDENIED;
    char body[64];
    size_t bl = (size_t)(last - cookie);
    memcpy(body, cookie, bl);
    body[bl] = '\0';
    char mac[65];
    mac_hex(a, body, mac);
    if (!fr_secure_eq(mac, 64, last + 1, 64))
        return FR_EDENIED;
    /* body = v1.SID.EXPIRY */
    const char *s = body + 3;
    const char *dot = strchr(s, '.');
    if (!dot || dot - s != FR_SID_HEX)
        return FR_EDENIED;
    int64_t exp;
    if (fr_parse_i64(dot + 1, &exp) || exp <= now_ms)
        return FR_EDENIED;
    memcpy(sid, s, FR_SID_HEX);
    sid[FR_SID_HEX] = '\0';
    return 0;
}

void fr_auth_csrf(const fr_auth *a, const char *sid, char out[FR_CSRF_HEX + 1])
{
    char msg[64], mac[65];
    snprintf(msg, sizeof(msg), "csrf:%s", sid);
    mac_hex(a, msg, mac);
    memcpy(out, mac, FR_CSRF_HEX);
    out[FR_CSRF_HEX] = '\0';
}

int fr_cookie_get(const char *h, const char *name, char *out, size_t n)
{
    if (!h)
        return FR_ENOTFOUND;
    size_t nl = strlen(name);
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *eq = strchr(p, '=');
        const char *semi = strchr(p, ';');
        if (!eq || (semi && semi < eq)) {
            if (!semi)
                break;
            p = semi + 1;
            continue;
        }
        if ((size_t)(eq - p) == nl && strncmp(p, name, nl) == 0) {
            const char *v = eq + 1;
            size_t vl = semi ? (size_t)(semi - v) : strlen(v);
            while (vl && v[vl - 1] == ' ')
                vl--;
            if (vl >= n)
                return -ENOSPC;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    return FR_ENOTFOUND;
}
