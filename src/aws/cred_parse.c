/* Credential values, their expiry, and the credential answers of the
 * container endpoint, IMDS, STS and credential_process (pure). */
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

int fr_cred_parse_process(const char *out, size_t len, fr_aws_creds *creds, char *err, size_t errlen)
{
    memset(creds, 0, sizeof(*creds));
    if (len > FR_CRED_PROCESS_MAX_OUTPUT) {
        snprintf(err, errlen, "output is larger than %u bytes", FR_CRED_PROCESS_MAX_OUTPUT);
        return FR_EPARSE;
    }
    json_error_t je;
    json_t *j = json_loadb(out, len, 0, &je);
    if (!j) {
        /* je.text quotes the text near the error: it may be a secret */
        snprintf(err, errlen, "output is not JSON (line %d, column %d)", je.line, je.column);
        return FR_EPARSE;
    }
    int rc = FR_EPARSE;
    const char *why = NULL;
    json_t *version = json_object_get(j, "Version");
    json_t *akid = json_object_get(j, "AccessKeyId"), *secret = json_object_get(j, "SecretAccessKey");
    json_t *token = json_object_get(j, "SessionToken"), *exp = json_object_get(j, "Expiration");
    if (!json_is_object(j))
        why = "output is not a JSON object";
    else if (!version)
        why = "output has no Version (must be 1)";
    else if (!json_is_integer(version) || json_integer_value(version) != 1) {
        if (json_is_integer(version))
            snprintf(err, errlen, "unsupported Version %" JSON_INTEGER_FORMAT " (only 1 is defined)",
                     json_integer_value(version));
        else
            snprintf(err, errlen, "Version must be the number 1");
    } else if (!json_is_string(akid) || json_string_length(akid) == 0)
        why = "output has no AccessKeyId";
    else if (!json_is_string(secret) || json_string_length(secret) == 0)
        why = "output has no SecretAccessKey";
    else if (token && !json_is_null(token) && !json_is_string(token))
        why = "SessionToken is not a string";
    else if (exp && !json_is_null(exp) && !json_is_string(exp))
        why = "Expiration is not an ISO 8601 string";
    else {
        char msg[200] = "";
        rc = take(creds, json_string_value(akid), json_string_value(secret), json_string_value(token),
                  json_string_value(exp), msg, sizeof(msg));
        if (rc == FR_EPARSE)
            snprintf(err, errlen, "Expiration is not an ISO 8601 time");
    }
    if (why)
        snprintf(err, errlen, "%s", why);
    json_decref(j);
    return rc;
}

void fr_cred_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

static int push_word(char ***argv, size_t *n, size_t *cap, fr_buf *w)
{
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        char **v = realloc(*argv, nc * sizeof(*v));
        if (!v)
            return -ENOMEM;
        *argv = v;
        *cap = nc;
    }
    char *word = fr_buf_steal(w);
    if (!word)
        return -ENOMEM;
    (*argv)[(*n)++] = word;
    (*argv)[*n] = NULL;
    return 0;
}

int fr_cred_split_command(const char *cmd, char ***argv, size_t *argc, char *err, size_t errlen)
{
    *argv = NULL;
    *argc = 0;
    char **v = NULL;
    size_t n = 0, cap = 0;
    fr_buf w = FR_BUF_INIT;
    bool in_word = false;
    char quote = 0;
    int rc = 0;
    for (const char *p = cmd ? cmd : ""; *p && rc == 0; p++) {
        char ch = *p;
        if (quote == '\'') {
            if (ch == '\'')
                quote = 0;
            else
                rc = fr_buf_putc(&w, ch);
        } else if (quote == '"') {
            if (ch == '"')
                quote = 0;
            else if (ch == '\\' && (p[1] == '"' || p[1] == '\\'))
                rc = fr_buf_putc(&w, *++p);
            else
                rc = fr_buf_putc(&w, ch);
        } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            if (in_word)
                rc = push_word(&v, &n, &cap, &w);
            in_word = false;
        } else {
            in_word = true;
            if (ch == '\'' || ch == '"') {
                quote = ch; /* the word exists even if the quotes are empty: '' is an empty argument */
            } else if (ch == '\\') {
                if (!p[1]) {
                    snprintf(err, errlen, "credential_process: a backslash ends the command");
                    rc = FR_EPARSE;
                } else {
                    rc = fr_buf_putc(&w, *++p);
                }
            } else {
                rc = fr_buf_putc(&w, ch);
            }
        }
    }
    if (rc == 0 && quote) {
        snprintf(err, errlen, "credential_process: no closing quotation (%c)", quote);
        rc = FR_EPARSE;
    }
    if (rc == 0 && in_word)
        rc = push_word(&v, &n, &cap, &w);
    if (rc == 0 && n == 0) {
        snprintf(err, errlen, "credential_process is empty");
        rc = FR_EPARSE;
    }
    fr_buf_free(&w);
    if (rc) {
        if (rc == -ENOMEM)
            snprintf(err, errlen, "out of memory");
        fr_cred_argv_free(v);
        return rc;
    }
    *argv = v;
    *argc = n;
    return 0;
}
