/* Credential values, their expiry, and the credential answers of the
 * container endpoint, IMDS and STS (pure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/aws_cred.h"
#include "frugal/aws_proto.h"
#include "frugal/err.h"
#include "frugal/redact.h"
#include "frugal/str.h"
#include "frugal/time.h"

static void wipe(char **s)
{
    if (*s) {
        memset(*s, 0, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void fr_aws_creds_clear(fr_aws_creds *c)
{
    if (!c)
        return;
    wipe(&c->access_key_id);
    wipe(&c->secret_access_key);
    wipe(&c->session_token);
    c->expiration_ms = 0;
    c->source[0] = '\0';
}

int fr_aws_creds_copy(fr_aws_creds *dst, const fr_aws_creds *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->access_key_id = fr_strdup(src->access_key_id);
    dst->secret_access_key = fr_strdup(src->secret_access_key);
    dst->session_token = src->session_token ? fr_strdup(src->session_token) : NULL;
    dst->expiration_ms = src->expiration_ms;
    memcpy(dst->source, src->source, sizeof(dst->source));
    if (!dst->access_key_id || !dst->secret_access_key || (src->session_token && !dst->session_token)) {
        fr_aws_creds_clear(dst);
        return -ENOMEM;
    }
    return 0;
}

void fr_aws_creds_redact(const fr_aws_creds *c)
{
    if (c->secret_access_key && *c->secret_access_key)
        fr_redact_register(c->secret_access_key);
    if (c->session_token && *c->session_token)
        fr_redact_register(c->session_token);
}

bool fr_cred_usable(const fr_aws_creds *c, int64_t now_ms)
{
    if (!c || !c->access_key_id || !c->secret_access_key)
        return false;
    return c->expiration_ms == 0 || now_ms < c->expiration_ms - FR_CRED_EXPIRY_MARGIN_MS;
}

int64_t fr_cred_refresh_in_ms(const fr_aws_creds *c, int64_t now_ms, double unit_rand)
{
    if (!c || c->expiration_ms == 0)
        return -1;
    int64_t at = c->expiration_ms - FR_CRED_REFRESH_EARLY_MS;
    int64_t room = at - now_ms;
    if (room <= 0) {
        /* Issued (or left) with less than the early window: refresh halfway
         * to the point where they stop being usable. */
        int64_t usable = c->expiration_ms - FR_CRED_EXPIRY_MARGIN_MS - now_ms;
        return usable > 0 ? usable / 2 : 0;
    }
    int64_t span = FR_MIN((int64_t)FR_CRED_REFRESH_JITTER_MS, room / 2);
    if (unit_rand < 0)
        unit_rand = 0;
    if (unit_rand >= 1)
        unit_rand = 0.999999;
    return room - (int64_t)(unit_rand * (double)span);
}

static int take(fr_aws_creds *out, const char *akid, const char *secret, const char *token, const char *exp,
                char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!akid || !*akid || !secret || !*secret) {
        snprintf(err, errlen, "the answer has no AccessKeyId/SecretAccessKey");
        return FR_EPARSE;
    }
    if (exp && *exp) {
        if (fr_time_parse(exp, &out->expiration_ms) != 0) {
            snprintf(err, errlen, "unparsable Expiration");
            return FR_EPARSE;
        }
    }
    out->access_key_id = fr_strdup(akid);
    out->secret_access_key = fr_strdup(secret);
    out->session_token = token && *token ? fr_strdup(token) : NULL;
    if (!out->access_key_id || !out->secret_access_key || (token && *token && !out->session_token)) {
        fr_aws_creds_clear(out);
        return -ENOMEM;
    }
    return 0;
}

int fr_cred_parse_json(const char *body, size_t len, fr_aws_creds *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *j = NULL;
    char why[200] = "";
    if (fr_aws_json_decode(body, len, &j, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "credential answer: %s", why);
        return FR_EPARSE;
    }
    const char *code = json_string_value(json_object_get(j, "Code"));
    if (code && strcmp(code, "Success") != 0) {
        const char *msg = json_string_value(json_object_get(j, "Message"));
        snprintf(err, errlen, "credential answer: Code %s%s%s", code, msg ? ": " : "", msg ? msg : "");
        json_decref(j);
        return FR_ECRED;
    }
    json_t *expv = json_object_get(j, "Expiration");
    char expbuf[64] = "";
    if (json_is_string(expv))
        fr_strlcpy(expbuf, json_string_value(expv), sizeof(expbuf));
    else if (json_is_number(expv))
        snprintf(expbuf, sizeof(expbuf), "%.3f", json_number_value(expv));
    int rc = take(out, json_string_value(json_object_get(j, "AccessKeyId")),
                  json_string_value(json_object_get(j, "SecretAccessKey")),
                  json_string_value(json_object_get(j, "Token")), expbuf, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "credential answer: %s", why);
    json_decref(j);
    return rc;
}

int fr_cred_parse_sts(const char *body, size_t len, fr_aws_creds *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    char name[128], why[200] = "";
    if (fr_aws_xml_to_json(body, len, 1u << 20, &root, name, sizeof(name), why, sizeof(why)) != 0) {
        snprintf(err, errlen, "STS answer: %s", why);
        return FR_EPARSE;
    }
    json_t *res = json_object_get(root, "AssumeRoleWithWebIdentityResult");
    if (!res)
        res = json_object_get(root, "AssumeRoleResult");
    json_t *c = json_object_get(res, "Credentials");
    int rc = take(out, json_string_value(json_object_get(c, "AccessKeyId")),
                  json_string_value(json_object_get(c, "SecretAccessKey")),
                  json_string_value(json_object_get(c, "SessionToken")),
                  json_string_value(json_object_get(c, "Expiration")), why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "STS answer <%s>: %s", name, why);
    json_decref(root);
    return rc;
}
