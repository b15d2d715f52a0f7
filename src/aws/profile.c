/* ~/.aws/credentials and ~/.aws/config (pure): the INI flavour botocore
 * reads through configparser, profile lookup, and assume-role chains. */
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
    char **fields[] = {&p->region,         &p->access_key_id,     &p->secret_access_key,       &p->session_token,
                       &p->role_arn,       &p->web_identity_token_file, &p->role_session_name, &p->source_profile,
                       &p->credential_source, &p->credential_process, &p->external_id,     &p->mfa_serial,
                       &p->duration_seconds, &p->unsupported};
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
    pick(&out->source_profile, credentials, config, cred_sec, conf_sec, "source_profile");
    pick(&out->credential_source, credentials, config, cred_sec, conf_sec, "credential_source");
    pick(&out->credential_process, credentials, config, cred_sec, conf_sec, "credential_process");
    pick(&out->external_id, credentials, config, cred_sec, conf_sec, "external_id");
    pick(&out->mfa_serial, credentials, config, cred_sec, conf_sec, "mfa_serial");
    pick(&out->duration_seconds, credentials, config, cred_sec, conf_sec, "duration_seconds");
    static const char *const unsupported[] = {"sso_session", "sso_start_url", "login_session"};
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

/* ---- assume-role chains ---- */

bool fr_aws_profile_assumes_role(const fr_aws_profile *p)
{
    return p->role_arn && !p->web_identity_token_file && (p->source_profile || p->credential_source);
}

static bool has_static(const fr_aws_profile *p)
{
    return p->access_key_id || p->secret_access_key;
}

void fr_aws_role_chain_clear(fr_aws_role_chain *c)
{
    for (size_t i = 0; i < FR_ARRAY_SIZE(c->hop); i++) {
        free(c->hop[i].role_arn);
        free(c->hop[i].role_session_name);
        free(c->hop[i].external_id);
    }
    fr_aws_profile_clear(&c->base_profile);
    memset(c, 0, sizeof(*c));
}

/* The hop profile p describes (it has role_arn). */
static int role_hop(const fr_aws_profile *p, fr_aws_role_hop *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (!p->role_arn) {
        snprintf(err, errlen, "profile '%s' is a source_profile without credentials (no keys, role_arn, "
                              "credential_process or web_identity_token_file)", p->name);
        return FR_ECONFIG;
    }
    if (p->source_profile && p->credential_source) {
        snprintf(err, errlen, "profile '%s' has both source_profile and credential_source; use one", p->name);
        return FR_ECONFIG;
    }
    if (!p->source_profile && !p->credential_source) {
        snprintf(err, errlen, "profile '%s' has role_arn but neither source_profile nor credential_source",
                 p->name);
        return FR_ECONFIG;
    }
    if (p->mfa_serial) {
        snprintf(err, errlen, "profile '%s': mfa_serial needs an interactive prompt; not supported by a daemon",
                 p->name);
        return FR_ECONFIG;
    }
    if (p->duration_seconds) {
        int64_t d;
        if (fr_parse_i64(p->duration_seconds, &d) != 0 || d < 900 || d > 43200) {
            snprintf(err, errlen, "profile '%s': duration_seconds must be a number of seconds from 900 to 43200",
                     p->name);
            return FR_ECONFIG;
        }
        h->duration_s = (int)d;
    }
    fr_strlcpy(h->profile, p->name, sizeof(h->profile));
    h->role_arn = fr_strdup(p->role_arn);
    h->role_session_name = p->role_session_name ? fr_strdup(p->role_session_name) : NULL;
    h->external_id = p->external_id ? fr_strdup(p->external_id) : NULL;
    if (!h->role_arn || (p->role_session_name && !h->role_session_name) || (p->external_id && !h->external_id))
        return -ENOMEM;
    return 0;
}

static void path_text(char visited[][128], size_t n, const char *last, char *out, size_t outlen)
{
    fr_buf b = FR_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        fr_buf_printf(&b, "%s -> ", visited[i]);
    fr_buf_puts(&b, last);
    fr_strlcpy(out, fr_buf_cstr(&b), outlen);
    fr_buf_free(&b);
}

/* The base credentials of source profile src (not itself a role to assume):
 * botocore's profile chain order, web identity, then keys, then a process. */
static int source_base(fr_aws_role_chain *c, const fr_aws_profile *src, char *err, size_t errlen)
{
    if (src->role_arn && src->web_identity_token_file) {
        c->base = FR_CRED_BASE_WEB_IDENTITY;
        return 0;
    }
    if (src->unsupported && !has_static(src)) {
        snprintf(err, errlen, "source profile '%s' uses %s, which frugal does not support; bridge it with "
                              "credential_process = aws configure export-credentials --profile %s --format process",
                 src->name, src->unsupported, src->name);
        return FR_ECONFIG;
    }
    if (has_static(src)) {
        if (!src->access_key_id || !src->secret_access_key) {
            snprintf(err, errlen, "source profile '%s' has only one of aws_access_key_id / aws_secret_access_key",
                     src->name);
            return FR_ECONFIG;
        }
        c->base = FR_CRED_BASE_STATIC;
        return 0;
    }
    if (src->credential_process) {
        c->base = FR_CRED_BASE_PROCESS;
        return 0;
    }
    snprintf(err, errlen, "source profile '%s' has no credentials (no keys, credential_process, web identity or "
                          "role)", src->name);
    return FR_ECONFIG;
}

int fr_aws_role_chain_resolve(const fr_aws_ini *credentials, const fr_aws_ini *config, const char *name,
                              fr_aws_role_chain *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    /* visited[0] is the profile asked for; hops are found outermost first */
    char visited[FR_AWS_MAX_ROLE_HOPS + 1][128];
    size_t nvisited = 0;
    fr_aws_role_hop rev[FR_AWS_MAX_ROLE_HOPS];
    memset(rev, 0, sizeof(rev));
    size_t n = 0;
    fr_aws_profile cur, src;
    memset(&src, 0, sizeof(src));
    int rc = fr_aws_profile_from_ini(credentials, config, name, &cur);
    if (rc == 0 && !cur.found) {
        snprintf(err, errlen, "AWS profile '%s' does not exist", name ? name : "default");
        rc = FR_ECONFIG;
    }
    if (rc == 0)
        fr_strlcpy(visited[nvisited++], cur.name, sizeof(visited[0]));
    while (rc == 0) {
        if (n == FR_AWS_MAX_ROLE_HOPS) {
            char path[300];
            path_text(visited, nvisited - 1, visited[nvisited - 1], path, sizeof(path));
            snprintf(err, errlen, "role chain longer than %d hops: %s", FR_AWS_MAX_ROLE_HOPS, path);
            rc = FR_ECONFIG;
            break;
        }
        if ((rc = role_hop(&cur, &rev[n], err, errlen)) != 0)
            break;
        n++;
        if (cur.credential_source) {
            const char *cs = cur.credential_source;
            if (strcmp(cs, "Environment") == 0)
                out->base = FR_CRED_BASE_ENV;
            else if (strcmp(cs, "Ec2InstanceMetadata") == 0)
                out->base = FR_CRED_BASE_IMDS;
            else if (strcmp(cs, "EcsContainer") == 0)
                out->base = FR_CRED_BASE_CONTAINER;
            else {
                snprintf(err, errlen, "profile '%s': credential_source '%.64s' is not one of Environment, "
                                      "Ec2InstanceMetadata, EcsContainer", cur.name, cs);
                rc = FR_ECONFIG;
            }
            break;
        }
        const char *sname = cur.source_profile;
        bool seen = false;
        for (size_t i = 0; i < nvisited; i++)
            seen = seen || strcmp(visited[i], sname) == 0;
        if ((rc = fr_aws_profile_from_ini(credentials, config, sname, &src)) != 0)
            break;
        if (!src.found) {
            snprintf(err, errlen, "profile '%s': source_profile '%s' does not exist", cur.name, sname);
            rc = FR_ECONFIG;
            break;
        }
        if (seen) {
            /* A profile may source its own static keys (the first hop only:
             * deeper down its keys win before its role is considered). */
            if (strcmp(sname, cur.name) == 0 && has_static(&src)) {
                fr_aws_profile_clear(&cur);
                rc = source_base(out, &src, err, errlen);
                break;
            }
            char path[300];
            path_text(visited, nvisited, sname, path, sizeof(path));
            snprintf(err, errlen, "source_profile loop: %s", path);
            rc = FR_ECONFIG;
            break;
        }
        fr_strlcpy(visited[nvisited++], src.name, sizeof(visited[0]));
        fr_aws_profile_clear(&cur);
        if (has_static(&src) || !(src.role_arn && !src.web_identity_token_file)) {
            rc = source_base(out, &src, err, errlen);
            break;
        }
        cur = src; /* a role sourced from yet another profile */
        memset(&src, 0, sizeof(src));
    }
    fr_aws_profile_clear(&cur);
    if (rc) {
        fr_aws_profile_clear(&src);
        for (size_t i = 0; i < FR_ARRAY_SIZE(rev); i++) {
            free(rev[i].role_arn);
            free(rev[i].role_session_name);
            free(rev[i].external_id);
        }
        memset(out, 0, sizeof(*out));
        return rc;
    }
    if (out->base == FR_CRED_BASE_STATIC || out->base == FR_CRED_BASE_WEB_IDENTITY ||
        out->base == FR_CRED_BASE_PROCESS)
        out->base_profile = src;
    else
        fr_aws_profile_clear(&src);
    for (size_t i = 0; i < n; i++)
        out->hop[i] = rev[n - 1 - i];
    out->nhops = n;
    return 0;
}
