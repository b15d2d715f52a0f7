#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/buf.h"
#include "frugal/redact.h"
#include "frugal/str.h"

#define MAX_SECRETS 64
#define MIN_SECRET_LEN 6

static char *secrets[MAX_SECRETS];
static size_t nsecrets;

void fr_redact_register(const char *secret)
{
    if (!secret || strlen(secret) < MIN_SECRET_LEN)
        return;
    for (size_t i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], secret) == 0)
            return;
    if (nsecrets == MAX_SECRETS) {
        /* Oldest secrets are the likeliest to have been rotated away. */
        free(secrets[0]);
        memmove(secrets, secrets + 1, (MAX_SECRETS - 1) * sizeof(secrets[0]));
        nsecrets--;
    }
    secrets[nsecrets++] = fr_strdup(secret);
}

void fr_redact_clear(void)
{
    for (size_t i = 0; i < nsecrets; i++)
        free(secrets[i]);
    nsecrets = 0;
}

static void normalize_key(const char *key, char *out, size_t n)
{
    size_t j = 0;
    for (; *key && j + 1 < n; key++) {
        if (*key == '-' || *key == '_' || *key == '.' || *key == ' ')
            continue;
        out[j++] = (char)tolower((unsigned char)*key);
    }
    out[j] = '\0';
}

bool fr_redact_key_is_secret(const char *key)
{
    static const char *exact[] = {"authorization", "proxyauthorization", "cookie", "setcookie", "xamzsecuritytoken",
                                  "credentials", "credential", "privatekey"};
    static const char *suffix[] = {"token", "secret", "password", "apikey", "secretaccesskey", "passwd"};
    static const char *allowed[] = {"nexttoken", "maxtokens", "csrftoken_present"};
    char k[128];
    normalize_key(key, k, sizeof(k));
    for (size_t i = 0; i < FR_ARRAY_SIZE(allowed); i++)
        if (strcmp(k, allowed[i]) == 0)
            return false;
    for (size_t i = 0; i < FR_ARRAY_SIZE(exact); i++)
        if (strcmp(k, exact[i]) == 0)
            return true;
    for (size_t i = 0; i < FR_ARRAY_SIZE(suffix); i++)
        if (fr_str_endswith(k, suffix[i]))
            return true;
    return false;
}

/* Masks the run of token characters after each occurrence of marker. */
static bool mask_after(fr_buf *b, const char *marker, const char *stop_chars)
{
    bool changed = false;
    size_t ml = strlen(marker);
    char *p = b->data;
    while (p && (p = strstr(p, marker)) != NULL) {
        char *v = p + ml;
        size_t n = strcspn(v, stop_chars);
        if (n == 0 || (n == strlen(FR_REDACTED) && strncmp(v, FR_REDACTED, n) == 0)) {
            p = v;
            continue;
        }
        size_t off = (size_t)(v - b->data);
        fr_buf tmp = FR_BUF_INIT;
        fr_buf_append(&tmp, b->data, off);
        fr_buf_puts(&tmp, FR_REDACTED);
        fr_buf_puts(&tmp, v + n);
        fr_buf_free(b);
        *b = tmp;
        p = b->data + off + strlen(FR_REDACTED);
        changed = true;
    }
    return changed;
}

static bool mask_literal(fr_buf *b, const char *secret)
{
    bool changed = false;
    size_t sl = strlen(secret);
    char *p;
    size_t from = 0;
    while (b->data && (p = strstr(b->data + from, secret)) != NULL) {
        size_t off = (size_t)(p - b->data);
        fr_buf tmp = FR_BUF_INIT;
        fr_buf_append(&tmp, b->data, off);
        fr_buf_puts(&tmp, FR_REDACTED);
        fr_buf_puts(&tmp, p + sl);
        fr_buf_free(b);
        *b = tmp;
        from = off + strlen(FR_REDACTED);
        changed = true;
    }
    return changed;
}

char *fr_redact_string(const char *s)
{
    if (!s)
        return NULL;
    bool maybe = strstr(s, "Signature=") || strstr(s, "Bearer ") || strstr(s, "bearer ") ||
                 strstr(s, "X-Amz-Security-Token=") || strstr(s, "X-Amz-Credential=") || strstr(s, "api-key:");
    if (!maybe) {
        for (size_t i = 0; i < nsecrets && !maybe; i++)
            maybe = strstr(s, secrets[i]) != NULL;
        if (!maybe)
            return NULL;
    }
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, s);
    bool changed = false;
    changed |= mask_after(&b, "Signature=", ",& \"'\r\n");
    changed |= mask_after(&b, "X-Amz-Security-Token=", "& \"'\r\n");
    changed |= mask_after(&b, "Bearer ", " ,\"'\r\n");
    changed |= mask_after(&b, "bearer ", " ,\"'\r\n");
    changed |= mask_after(&b, "api-key: ", " ,\"'\r\n");
    for (size_t i = 0; i < nsecrets; i++)
        changed |= mask_literal(&b, secrets[i]);
    if (!changed) {
        fr_buf_free(&b);
        return NULL;
    }
    return fr_buf_steal(&b);
}

void fr_redact_json(json_t *j)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, k, v)
        {
            if (fr_redact_key_is_secret(k) && !json_is_null(v) && !json_is_boolean(v) && !json_is_integer(v)) {
                json_object_set_new(j, k, json_string(FR_REDACTED));
                continue;
            }
            if (json_is_string(v)) {
                char *r = fr_redact_string(json_string_value(v));
                if (r) {
                    json_string_set(v, r);
                    free(r);
                }
            } else {
                fr_redact_json(v);
            }
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            if (json_is_string(v)) {
                char *r = fr_redact_string(json_string_value(v));
                if (r) {
                    json_string_set(v, r);
                    free(r);
                }
            } else {
                fr_redact_json(v);
            }
        }
    }
}
