/* ~/.aws/credentials and ~/.aws/config (pure): the INI flavour botocore
 * reads through configparser, and profile lookup. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/aws_cred.h"
#include "frugal/err.h"
#include "frugal/str.h"

struct ini_entry {
    char *section;
    char *key;
    fr_buf value;
};

struct fr_aws_ini {
    struct ini_entry *e;
    size_t n, cap;
    char **sections;
    size_t nsections;
};

void fr_aws_ini_free(fr_aws_ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->e[i].section);
        free(ini->e[i].key);
        if (ini->e[i].value.data)
            memset(ini->e[i].value.data, 0, ini->e[i].value.len); /* may hold a secret key */
        fr_buf_free(&ini->e[i].value);
    }
    free(ini->e);
    for (size_t i = 0; i < ini->nsections; i++)
        free(ini->sections[i]);
    free(ini->sections);
    free(ini);
}

bool fr_aws_ini_has_section(const fr_aws_ini *ini, const char *section)
{
    if (!ini)
        return false;
    for (size_t i = 0; i < ini->nsections; i++)
        if (strcmp(ini->sections[i], section) == 0)
            return true;
    return false;
}

static struct ini_entry *find(const fr_aws_ini *ini, const char *section, const char *key)
{
    if (!ini)
        return NULL;
    for (size_t i = ini->n; i-- > 0;) /* later definitions win */
        if (strcmp(ini->e[i].section, section) == 0 && strcmp(ini->e[i].key, key) == 0)
            return &ini->e[i];
    return NULL;
}

const char *fr_aws_ini_get(const fr_aws_ini *ini, const char *section, const char *key)
{
    struct ini_entry *e = find(ini, section, key);
    return e ? fr_buf_cstr(&e->value) : NULL;
}

static int add_section(fr_aws_ini *ini, const char *name)
{
    if (fr_aws_ini_has_section(ini, name))
        return 0; /* a repeated section merges, later keys win */
    char **s = realloc(ini->sections, (ini->nsections + 1) * sizeof(*s));
    if (!s)
        return -ENOMEM;
    ini->sections = s;
    s[ini->nsections] = fr_strdup(name);
    if (!s[ini->nsections])
        return -ENOMEM;
    ini->nsections++;
    return 0;
}

static struct ini_entry *add_entry(fr_aws_ini *ini, const char *section, const char *key, size_t kl)
{
    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 16;
        struct ini_entry *e = realloc(ini->e, cap * sizeof(*e));
        if (!e)
            return NULL;
        ini->e = e;
        ini->cap = cap;
    }
    struct ini_entry *e = &ini->e[ini->n];
    memset(e, 0, sizeof(*e));
    e->section = fr_strdup(section);
    e->key = fr_strndup(key, kl);
    if (!e->section || !e->key) {
        free(e->section);
        free(e->key);
        return NULL;
    }
    for (char *p = e->key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    ini->n++;
    return e;
}

/* "[ profile   foo ]" -> "profile foo" */
static void normalise_section(const char *s, size_t n, fr_buf *out)
{
    fr_buf_reset(out);
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i])) {
            space = out->len > 0;
            continue;
        }
        if (space)
            fr_buf_putc(out, ' ');
        space = false;
        fr_buf_putc(out, s[i]);
    }
}

int fr_aws_ini_parse(const char *text, size_t len, const char *fname, fr_aws_ini **out, char *err, size_t errlen)
{
    *out = NULL;
    fr_aws_ini *ini = calloc(1, sizeof(*ini));
    if (!ini)
        return -ENOMEM;
    const char *fn = fname ? fname : "config";
    fr_buf section = FR_BUF_INIT;
    struct ini_entry *last = NULL;
    int rc = 0;
    size_t lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        const char *ls = p;
        p = nl ? nl + 1 : end;
        while (le > ls && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
            le--;
        const char *s = ls;
        while (s < le && (*s == ' ' || *s == '\t'))
            s++;
        if (s == le)
            continue;
        if (memchr(ls, '\0', (size_t)(le - ls))) {
            snprintf(err, errlen, "%s:%zu: NUL byte in the file", fn, lineno);
            rc = FR_EPARSE;
            break;
        }
        if (*s == '#' || *s == ';')
            continue;
        bool indented = s > ls;
        if (indented && last) {
            /* continuation (nested "s3 =\n  key = v" blocks land here) */
            fr_buf_putc(&last->value, '\n');
            fr_buf_append(&last->value, s, (size_t)(le - s));
            continue;
        }
        if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(le - s));
            if (!close || close == s + 1) {
                snprintf(err, errlen, "%s:%zu: malformed section header", fn, lineno);
                rc = FR_EPARSE;
                break;
            }
            normalise_section(s + 1, (size_t)(close - s - 1), &section);
            if (section.len == 0) {
                snprintf(err, errlen, "%s:%zu: empty section name", fn, lineno);
                rc = FR_EPARSE;
                break;
            }
            rc = add_section(ini, section.data);
            last = NULL;
            continue;
        }
        size_t ll = (size_t)(le - s);
        const char *eq = memchr(s, '=', ll), *colon = memchr(s, ':', ll);
        const char *delim = eq && (!colon || eq < colon) ? eq : colon;
        if (!delim || delim == s) {
            snprintf(err, errlen, "%s:%zu: expected 'key = value' or '[section]'", fn, lineno);
            rc = FR_EPARSE;
            break;
        }
        if (section.len == 0) {
            snprintf(err, errlen, "%s:%zu: 'key = value' before any [section]", fn, lineno);
            rc = FR_EPARSE;
            break;
        }
        const char *ke = delim;
        while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        const char *v = delim + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        last = add_entry(ini, section.data, s, (size_t)(ke - s));
        if (!last) {
            rc = -ENOMEM;
            break;
        }
        fr_buf_append(&last->value, v, (size_t)(le - v));
        if (!last->value.data)
            fr_buf_puts(&last->value, "");
    }
    fr_buf_free(&section);
    if (rc) {
        fr_aws_ini_free(ini);
        return rc;
    }
    *out = ini;
    return 0;
}

void fr_aws_profile_clear(fr_aws_profile *p)
{
    char **fields[] = {&p->region,   &p->access_key_id,           &p->secret_access_key, &p->session_token,
                       &p->role_arn, &p->web_identity_token_file, &p->role_session_name, &p->unsupported};
    for (size_t i = 0; i < FR_ARRAY_SIZE(fields); i++) {
        if (*fields[i]) {
            memset(*fields[i], 0, strlen(*fields[i]));
            free(*fields[i]);
        }
        *fields[i] = NULL;
    }
    p->found = false;
}

static void pick(char **dst, const fr_aws_ini *cred, const fr_aws_ini *conf, const char *cred_sec,
                 const char *conf_sec, const char *key)
{
    const char *v = cred_sec ? fr_aws_ini_get(cred, cred_sec, key) : NULL;
    if (!v && conf_sec)
        v = fr_aws_ini_get(conf, conf_sec, key);
    if (v && *v && !*dst)
        *dst = fr_strdup(v);
}

int fr_aws_profile_from_ini(const fr_aws_ini *credentials, const fr_aws_ini *config, const char *name,
                            fr_aws_profile *out)
{
    memset(out, 0, sizeof(*out));
    if (!name || !*name)
        name = "default";
    if (fr_strlcpy(out->name, name, sizeof(out->name)) >= sizeof(out->name))
        return -EINVAL;
    const char *cred_sec = fr_aws_ini_has_section(credentials, name) ? name : NULL;
    char prof[160];
    snprintf(prof, sizeof(prof), "profile %s", name);
    const char *conf_sec = NULL;
    if (fr_aws_ini_has_section(config, prof))
        conf_sec = prof;
    else if (strcmp(name, "default") == 0 && fr_aws_ini_has_section(config, "default"))
        conf_sec = "default";
    out->found = cred_sec || conf_sec;
    if (!out->found)
        return 0;
    pick(&out->access_key_id, credentials, config, cred_sec, conf_sec, "aws_access_key_id");
    pick(&out->secret_access_key, credentials, config, cred_sec, conf_sec, "aws_secret_access_key");
    pick(&out->session_token, credentials, config, cred_sec, conf_sec, "aws_session_token");
    pick(&out->session_token, credentials, config, cred_sec, conf_sec, "aws_security_token");
    pick(&out->region, NULL, config, NULL, conf_sec, "region");
    pick(&out->region, credentials, NULL, cred_sec, NULL, "region");
    pick(&out->role_arn, credentials, config, cred_sec, conf_sec, "role_arn");
    pick(&out->web_identity_token_file, credentials, config, cred_sec, conf_sec, "web_identity_token_file");
    pick(&out->role_session_name, credentials, config, cred_sec, conf_sec, "role_session_name");
    static const char *const unsupported[] = {"source_profile", "credential_source", "credential_process",
                                              "sso_session",    "sso_start_url",     "login_session"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(unsupported) && !out->unsupported; i++) {
        char *tmp = NULL;
        pick(&tmp, credentials, config, cred_sec, conf_sec, unsupported[i]);
        if (tmp) {
            free(tmp);
            out->unsupported = fr_strdup(unsupported[i]);
        }
    }
    return 0;
}
