/* Dashboard login: trades the API token for a signed session cookie, so the
 * browser never keeps the token (no URL in history, no localStorage). The
 * cookie is HttpOnly and SameSite=Strict; unsafe cookie-authenticated
 * requests also need the CSRF token answered here (server.c checks it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/auth.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/rand.h"
#include "frugal/store.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "frugal/web.h"
#include "internal.h"

/* ---- revoked sessions ---- */

#define REVOKED_PREFIX "session.revoked."

struct revoked {
    char sid[FR_SID_HEX + 1];
    int64_t expires_ms;
};

struct fr_web_sessions {
    fr_store *store;
    struct revoked *v;
    size_t n, cap;
};

static void revoked_key(char *key, size_t n, const char *sid)
{
    snprintf(key, n, REVOKED_PREFIX "%s", sid);
}

/* Forgets revocations whose cookies have expired anyway. */
static void prune(fr_web_sessions *s, int64_t now_ms)
{
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].expires_ms > now_ms) {
            s->v[j++] = s->v[i];
        } else if (s->store) {
            char key[64];
            revoked_key(key, sizeof(key), s->v[i].sid);
            fr_store_del(s->store, FR_TBL_META, key, strlen(key));
        }
    }
    s->n = j;
}

static int add(fr_web_sessions *s, const char *sid, int64_t expires_ms)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct revoked *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    fr_strlcpy(s->v[s->n].sid, sid, sizeof(s->v[s->n].sid));
    s->v[s->n].expires_ms = expires_ms;
    s->n++;
    return 0;
}

struct load_ctx {
    fr_web_sessions *s;
    int rc;
};

static int load_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct load_ctx *c = arg;
    size_t pl = strlen(REVOKED_PREFIX);
    char sid[FR_SID_HEX + 1], num[24];
    if (klen != pl + FR_SID_HEX || vlen == 0 || vlen >= sizeof(num))
        return 0; /* not a revocation, or damaged: ignored */
    memcpy(sid, (const char *)key + pl, FR_SID_HEX);
    sid[FR_SID_HEX] = '\0';
    memcpy(num, val, vlen);
    num[vlen] = '\0';
    int64_t exp = 0;
    if (fr_parse_i64(num, &exp) != 0)
        return 0;
    c->rc = add(c->s, sid, exp);
    return c->rc != 0;
}

int fr_web_sessions_new(fr_web_sessions **out, fr_store *store, int64_t now_ms)
{
    fr_web_sessions *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->store = store;
    if (store) {
        struct load_ctx c = {s, 0};
        int rc = fr_store_scan_prefix(store, FR_TBL_META, REVOKED_PREFIX, strlen(REVOKED_PREFIX), load_one, &c);
        if (rc == 0)
            rc = c.rc;
        if (rc) {
            fr_web_sessions_free(s);
            return rc;
        }
        prune(s, now_ms);
    }
    *out = s;
    return 0;
}

void fr_web_sessions_free(fr_web_sessions *s)
{
    if (!s)
        return;
    free(s->v);
    free(s);
}

bool fr_web_sessions_revoked(const fr_web_sessions *s, const char *sid, int64_t now_ms)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->v[i].expires_ms > now_ms && strcmp(s->v[i].sid, sid) == 0)
            return true;
    return false;
}

int fr_web_sessions_revoke(fr_web_sessions *s, const char *sid, int64_t expires_ms, int64_t now_ms)
{
    prune(s, now_ms);
    if (expires_ms <= now_ms || fr_web_sessions_revoked(s, sid, now_ms))
        return 0;
    int rc = add(s, sid, expires_ms);
    if (rc == 0 && s->store) {
        char key[64], val[24];
        revoked_key(key, sizeof(key), sid);
        int n = snprintf(val, sizeof(val), "%lld", (long long)expires_ms);
        rc = fr_store_put(s->store, FR_TBL_META, key, strlen(key), val, (size_t)n);
    }
    return rc;
}

/* ---- the routes ---- */

static void set_cookie(fr_web_req *r, const char *value, uint64_t max_age_s)
{
    char c[256];
    snprintf(c, sizeof(c), "%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%llu%s", FR_SESSION_COOKIE, value,
             (unsigned long long)max_age_s, fr_web_is_https(r) ? "; Secure" : "");
    fr_web_add_header(r, "set-cookie", c);
}

/* The expiry (ms) inside a verified cookie "v1.SID.EXPIRY.MAC". */
static int64_t cookie_expiry(const char *cookie)
{
    const char *p = strchr(cookie + 3, '.');
    const char *q = p ? strchr(p + 1, '.') : NULL;
    char tmp[24];
    int64_t v = 0;
    if (!p || !q || (size_t)(q - p - 1) >= sizeof(tmp))
        return 0;
    memcpy(tmp, p + 1, (size_t)(q - p - 1));
    tmp[q - p - 1] = '\0';
    return fr_parse_i64(tmp, &v) == 0 ? v : 0;
}

static json_t *session_json(fr_auth *a, const char *sid, int64_t expires_ms)
{
    char csrf[FR_CSRF_HEX + 1], principal[32], iso[40];
    fr_auth_csrf(a, sid, csrf);
    snprintf(principal, sizeof(principal), "session:%s", sid);
    fr_time_iso8601(iso, sizeof(iso), expires_ms, 0);
    return json_pack("{s:s, s:s, s:s, s:I}", "principal", principal, "csrf", csrf, "expires", iso, "expires_ms",
                     (json_int_t)expires_ms);
}

static int h_login(fr_web_req *r, void *arg)
{
    fr_web *w = arg;
    fr_auth *a = fr_web_auth_of(w);
    /* Login CSRF: another site must not log the browser in. */
    if (fr_web_header(r, "origin") && !fr_web_same_origin(r)) {
        fr_web_count_unauthorized(w);
        fr_web_error(r, 403, "cross_origin", "cross-origin request refused");
        return 0;
    }
    json_t *body = fr_web_body(r);
    if (!body)
        return 0;
    const char *token = json_string_value(json_object_get(body, "token"));
    if (!token) {
        fr_web_error(r, 400, "token_required", "the body must be {\"token\": \"...\"}");
        return 0;
    }
    if (!a->token || !fr_secure_eq(token, strlen(token), a->token, strlen(a->token))) {
        fr_web_count_unauthorized(w);
        fr_log_warn("session.login_failed", NULL);
        fr_web_error(r, 401, "unauthorized", "wrong token");
        return 0;
    }
    unsigned char sid_rand[8];
    char cookie[128], sid[FR_SID_HEX + 1];
    int64_t now = fr_time_now_ms();
    if (fr_rand_bytes(sid_rand, sizeof(sid_rand)) != 0 ||
        fr_auth_session_new(a, now, sid_rand, cookie, sizeof(cookie)) != 0) {
        fr_web_error(r, 500, "internal", "cannot create a session");
        return 0;
    }
    fr_hex_encode(sid, sid_rand, sizeof(sid_rand));
    set_cookie(r, cookie, a->ttl_ms / 1000);
    memset(cookie, 0, sizeof(cookie));
    fr_log_info("session.login", "{s:s}", "session", sid);
    fr_web_json(r, 200, session_json(a, sid, now + (int64_t)a->ttl_ms));
    return 0;
}

static int h_whoami(fr_web_req *r, void *arg)
{
    fr_web *w = arg;
    const char *principal = fr_web_principal(r);
    if (!fr_str_startswith(principal, "session:")) {
        fr_web_json(r, 200, json_pack("{s:s}", "principal", principal));
        return 0;
    }
    char cookie[128];
    int64_t exp = 0;
    if (fr_cookie_get(fr_web_header(r, "cookie"), FR_SESSION_COOKIE, cookie, sizeof(cookie)) == 0)
        exp = cookie_expiry(cookie);
    fr_web_json(r, 200, session_json(fr_web_auth_of(w), principal + 8, exp));
    return 0;
}

static int h_logout(fr_web_req *r, void *arg)
{
    fr_web *w = arg;
    const char *principal = fr_web_principal(r);
    if (fr_str_startswith(principal, "session:")) {
        /* the cookie stays valid by its signature until it expires: a copy of
         * it must not outlive the logout */
        char cookie[128];
        int64_t exp = 0;
        if (fr_cookie_get(fr_web_header(r, "cookie"), FR_SESSION_COOKIE, cookie, sizeof(cookie)) == 0)
            exp = cookie_expiry(cookie);
        memset(cookie, 0, sizeof(cookie));
        int rc = fr_web_sessions_revoke(fr_web_sessions_of(w), principal + 8, exp, fr_time_now_ms());
        if (rc) {
            fr_web_error(r, 500, "internal", "cannot revoke the session: %s", fr_strerror(rc));
            return 0;
        }
        fr_log_info("session.logout", "{s:s}", "session", principal + 8);
    }
    set_cookie(r, "", 0);
    fr_web_json(r, 200, json_pack("{s:b}", "ok", 1));
    return 0;
}

int fr_web_add_session_routes(fr_web *w)
{
    int rc = fr_web_route(w, "POST", "/api/session", h_login, w, FR_ROUTE_PUBLIC | FR_ROUTE_NO_CSRF);
    if (rc == 0)
        rc = fr_web_route(w, "GET", "/api/session", h_whoami, w, 0);
    if (rc == 0)
        rc = fr_web_route(w, "DELETE", "/api/session", h_logout, w, 0);
    return rc;
}
