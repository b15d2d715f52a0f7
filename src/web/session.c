/* Dashboard login: trades the API token for a signed session cookie, so the
 * browser never keeps the token (no URL in history, no localStorage). The
 * cookie is HttpOnly and SameSite=Strict; unsafe cookie-authenticated
 * requests also need the CSRF token answered here (server.c checks it). */
#include <stdio.h>
#include <string.h>

#include "frugal/auth.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "frugal/web.h"
#include "internal.h"

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
    (void)arg;
    const char *principal = fr_web_principal(r);
    set_cookie(r, "", 0);
    if (fr_str_startswith(principal, "session:"))
        fr_log_info("session.logout", "{s:s}", "session", principal + 8);
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
