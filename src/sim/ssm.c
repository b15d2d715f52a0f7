#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "ssm.h"

void fr_sim_ssm_init(fr_sim_ssm *s, const char *region, const char *account)
{
    memset(s, 0, sizeof(*s));
    fr_sim_map_init(&s->by_name);
    fr_strlcpy(s->region, region, sizeof(s->region));
    fr_strlcpy(s->account, account, sizeof(s->account));
}

static void ver_free(fr_sim_param_ver *v)
{
    free(v->value);
    free(v->description);
}

void fr_sim_ssm_free(fr_sim_ssm *s)
{
    for (size_t i = 0; i < s->n; i++) {
        fr_sim_param *p = s->params[i];
        for (size_t k = 0; k < p->n; k++)
            ver_free(&p->vers[k]);
        free(p->vers);
        free(p->name);
        free(p);
    }
    free(s->params);
    fr_sim_map_free(&s->by_name);
    memset(s, 0, sizeof(*s));
}

/* "name", "/path/name", an ARN, optionally followed by ":version". */
static void split_selector(const char *in, char *name, size_t n, int64_t *version, bool *has_sel, char *sel,
                           size_t seln)
{
    *version = 0;
    *has_sel = false;
    sel[0] = '\0';
    const char *p = in;
    if (fr_str_startswith(p, "arn:aws:ssm:")) {
        /* arn:...:parameter/a/b names "/a/b"; arn:...:parameter/x names "x" */
        const char *q = strstr(p, ":parameter/");
        if (q) {
            q += 11;
            if (strchr(q, '/'))
                snprintf(name, n, "/%s", q);
            else
                fr_strlcpy(name, q, n);
        } else {
            fr_strlcpy(name, p, n);
        }
    } else {
        fr_strlcpy(name, p, n);
    }
    char *colon = strrchr(name, ':');
    if (colon) {
        *has_sel = true;
        fr_strlcpy(sel, colon + 1, seln);
        *colon = '\0';
        int64_t v;
        if (fr_parse_i64(sel, &v) == 0)
            *version = v;
    }
}

fr_sim_param *fr_sim_ssm_find(const fr_sim_ssm *s, const char *name)
{
    return fr_sim_map_get(&s->by_name, name);
}

const fr_sim_param_ver *fr_sim_ssm_latest(const fr_sim_param *p)
{
    return p && p->n ? &p->vers[p->n - 1] : NULL;
}

const fr_sim_param_ver *fr_sim_ssm_version(const fr_sim_param *p, int64_t version)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (p->vers[i].version == version)
            return &p->vers[i];
    return NULL;
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 2048)
        return false;
    if (fr_str_startswith(name, "aws") || fr_str_startswith(name, "/aws") || fr_str_startswith(name, "ssm") ||
        fr_str_startswith(name, "/ssm"))
        return false;
    int depth = 0;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (ch == '/')
            depth++;
        else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                   ch == '.' || ch == '-'))
            return false;
    }
    return depth <= 15;
}

int fr_sim_ssm_put(fr_sim_ssm *s, const char *name, const char *value, const char *type, const char *tier,
                   bool overwrite, const char *description, const char *user, int64_t now, int64_t *version,
                   char *code, size_t codelen, char *msg, size_t msglen)
{
    if (!name || !valid_name(name)) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). "
                              "It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore).");
        return FR_EPARSE;
    }
    if (!value || !*value) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "1 validation error detected: Value '' at 'value' failed to satisfy constraint: "
                              "Member must have length greater than or equal to 1");
        return FR_EPARSE;
    }
    if (type && strcmp(type, "String") != 0 && strcmp(type, "StringList") != 0 && strcmp(type, "SecureString") != 0) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: "
                              "Member must satisfy enum value set: [SecureString, StringList, String]", type);
        return FR_EPARSE;
    }
    if (tier && strcmp(tier, "Standard") != 0 && strcmp(tier, "Advanced") != 0 &&
        strcmp(tier, "Intelligent-Tiering") != 0) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "1 validation error detected: Value '%s' at 'tier' failed to satisfy constraint: "
                              "Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]", tier);
        return FR_EPARSE;
    }
    fr_sim_param *p = fr_sim_ssm_find(s, name);
    const fr_sim_param_ver *cur = fr_sim_ssm_latest(p);
    if (p && !overwrite) {
        fr_strlcpy(code, "ParameterAlreadyExists", codelen);
        snprintf(msg, msglen, "The parameter already exists. To overwrite this value, set the overwrite option in "
                              "the request to true.");
        return FR_EPARSE;
    }
    if (!p && !type) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "A parameter type is required when you create a parameter.");
        return FR_EPARSE;
    }
    size_t len = strlen(value);
    char eff_tier[24];
    if (tier && strcmp(tier, "Intelligent-Tiering") == 0)
        fr_strlcpy(eff_tier, len > FR_SIM_SSM_STANDARD_MAX || (cur && !strcmp(cur->tier, "Advanced")) ? "Advanced" : "Standard",
                   sizeof(eff_tier));
    else if (tier)
        fr_strlcpy(eff_tier, tier, sizeof(eff_tier));
    else
        fr_strlcpy(eff_tier, cur ? cur->tier : "Standard", sizeof(eff_tier));
    if (cur && strcmp(cur->tier, "Advanced") == 0 && strcmp(eff_tier, "Standard") == 0) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from "
                              "the advanced-parameter tier to the standard-parameter tier. If necessary, you can "
                              "delete the advanced parameter and recreate it as a standard parameter.");
        return FR_EPARSE;
    }
    if (strcmp(eff_tier, "Standard") == 0 && len > FR_SIM_SSM_STANDARD_MAX) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "Standard tier parameters support a maximum parameter value of 4096 characters. To "
                              "create a larger parameter value, upgrade the parameter to use the advanced-parameter "
                              "tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/"
                              "userguide/parameter-store-advanced-parameters.html");
        return FR_EPARSE;
    }
    if (len > FR_SIM_SSM_ADVANCED_MAX) {
        fr_strlcpy(code, "ValidationException", codelen);
        snprintf(msg, msglen, "1 validation error detected: Value at 'value' failed to satisfy constraint: Member "
                              "must have length less than or equal to 8192");
        return FR_EPARSE;
    }
    /* what the new version inherits, copied: the versions array may move */
    char cur_type[16] = "String";
    char *cur_desc = NULL;
    if (cur) {
        fr_strlcpy(cur_type, cur->type, sizeof(cur_type));
        if (cur->description)
            cur_desc = fr_strdup(cur->description);
    }
    cur = NULL;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p) {
            free(cur_desc);
            return -ENOMEM;
        }
        p->name = fr_strdup(name);
        p->next_version = 1;
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 64;
            fr_sim_param **np = realloc(s->params, ncap * sizeof(*np));
            if (!np) {
                free(p->name);
                free(p);
                free(cur_desc);
                return -ENOMEM;
            }
            s->params = np;
            s->cap = ncap;
        }
        s->params[s->n++] = p;
        fr_sim_map_put(&s->by_name, p->name, p);
    }
    if (p->n == FR_SIM_SSM_MAX_VERSIONS) {
        /* the oldest version goes, as Parameter Store does when it has no label */
        ver_free(&p->vers[0]);
        memmove(p->vers, p->vers + 1, (p->n - 1) * sizeof(*p->vers));
        p->n--;
    }
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 4;
        fr_sim_param_ver *nv = realloc(p->vers, ncap * sizeof(*nv));
        if (!nv) {
            free(cur_desc);
            return -ENOMEM;
        }
        p->vers = nv;
        p->cap = ncap;
    }
    fr_sim_param_ver *v = &p->vers[p->n];
    memset(v, 0, sizeof(*v));
    v->version = p->next_version++;
    v->value = fr_strdup(value);
    fr_strlcpy(v->type, type ? type : cur_type, sizeof(v->type));
    fr_strlcpy(v->tier, eff_tier, sizeof(v->tier));
    if (description) {
        v->description = fr_strdup(description);
        free(cur_desc);
    } else {
        v->description = cur_desc;
    }
    v->modified_ms = now;
    fr_strlcpy(v->user, user ? user : "", sizeof(v->user));
    p->n++;
    *version = v->version;
    return 0;
}

/* ---- API ---- */

static void arn_of(const fr_sim_ssm *s, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:ssm:%s:%s:parameter%s%s", s->region, s->account, name[0] == '/' ? "" : "/", name);
}

static json_t *param_json(const fr_sim_ssm *s, const fr_sim_param *p, const fr_sim_param_ver *v, const char *sel)
{
    char arn[2200];
    arn_of(s, p->name, arn, sizeof(arn));
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "Name", p->name, "Type", v->type, "Value", v->value, "Version",
                          (json_int_t)v->version);
    if (sel)
        json_object_set_new(j, "Selector", json_string(sel));
    fr_sim_jset_time(j, "LastModifiedDate", v->modified_ms);
    json_object_set_new(j, "ARN", json_string(arn));
    json_object_set_new(j, "DataType", json_string("text"));
    return j;
}

static void not_found(const fr_sim_call *c, fr_sim_resp *r, const char *name)
{
    fr_sim_error(c, r, 400, "ParameterNotFound", "Parameter %s not found.", name);
}

/* Resolves Name (with an optional :version selector); NULL after an error. */
static const fr_sim_param_ver *lookup(fr_sim_ssm *s, const fr_sim_call *c, fr_sim_resp *r, const char *in,
                                      fr_sim_param **pout, char *sel, size_t seln)
{
    char name[2048];
    int64_t version;
    bool has_sel;
    split_selector(in, name, sizeof(name), &version, &has_sel, sel, seln);
    fr_sim_param *p = fr_sim_ssm_find(s, name);
    if (!p) {
        not_found(c, r, in);
        return NULL;
    }
    *pout = p;
    if (!has_sel)
        return fr_sim_ssm_latest(p);
    if (version <= 0) {
        fr_sim_error(c, r, 400, "ParameterVersionLabelLimitExceeded", "Labels are not supported by frugal-sim: %s",
                     sel);
        return NULL;
    }
    const fr_sim_param_ver *v = fr_sim_ssm_version(p, version);
    if (!v)
        fr_sim_error(c, r, 400, "ParameterVersionNotFound",
                     "Systems Manager could not find version %lld of %s. Verify the version and try again.",
                     (long long)version, name);
    return v;
}

static void op_get(fr_sim_ssm *s, const fr_sim_call *c, fr_sim_resp *r)
{
    const char *name = fr_sim_jstr(c->in, "Name");
    if (!name) {
        fr_sim_error(c, r, 400, "ValidationException", "1 validation error detected: Value null at 'name' failed to "
                                                       "satisfy constraint: Member must not be null");
        return;
    }
    fr_sim_param *p;
    char sel[64];
    const fr_sim_param_ver *v = lookup(s, c, r, name, &p, sel, sizeof(sel));
    if (!v)
        return;
    char selector[80];
    snprintf(selector, sizeof(selector), ":%s", sel);
    fr_sim_ok_json(c, r, json_pack("{s:o}", "Parameter", param_json(s, p, v, sel[0] ? selector : NULL)));
}

static void op_get_many(fr_sim_ssm *s, const fr_sim_call *c, fr_sim_resp *r)
{
    json_t *names = fr_sim_jlist(c->in, "Names");
    if (json_array_size(names) == 0 || json_array_size(names) > 10) {
        fr_sim_error(c, r, 400, "ValidationException", "Names must list between 1 and 10 parameter names.");
        return;
    }
    json_t *found = json_array(), *invalid = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        const char *name = json_string_value(n);
        if (!name)
            continue;
        char base[2048], sel[64];
        int64_t version;
        bool has_sel;
        split_selector(name, base, sizeof(base), &version, &has_sel, sel, sizeof(sel));
        fr_sim_param *p = fr_sim_ssm_find(s, base);
        const fr_sim_param_ver *v = p ? (has_sel ? fr_sim_ssm_version(p, version) : fr_sim_ssm_latest(p)) : NULL;
        if (v)
            json_array_append_new(found, param_json(s, p, v, NULL));
        else
            json_array_append_new(invalid, json_string(name));
    }
    fr_sim_ok_json(c, r, json_pack("{s:o, s:o}", "Parameters", found, "InvalidParameters", invalid));
}

static void op_put(fr_sim_ssm *s, const fr_sim_call *c, fr_sim_resp *r, int64_t now)
{
    const char *name = fr_sim_jstr(c->in, "Name");
    const char *value = fr_sim_jstr(c->in, "Value");
    if (!name || !value) {
        fr_sim_error(c, r, 400, "ValidationException", "1 validation error detected: Name and Value are required.");
        return;
    }
    bool overwrite = false;
    fr_sim_jbool(c->in, "Overwrite", &overwrite);
    char code[64], msg[512];
    int64_t version;
    char user[200];
    snprintf(user, sizeof(user), "arn:aws:iam::%s:user/%s", s->account, c->principal ? c->principal : "frugal-sim");
    int rc = fr_sim_ssm_put(s, name, value, fr_sim_jstr(c->in, "Type"), fr_sim_jstr(c->in, "Tier"), overwrite,
                            fr_sim_jstr(c->in, "Description"), user, now, &version, code, sizeof(code), msg,
                            sizeof(msg));
    if (rc == FR_EPARSE) {
        fr_sim_error(c, r, 400, code, "%s", msg);
        return;
    }
    if (rc) {
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    const fr_sim_param_ver *v = fr_sim_ssm_latest(fr_sim_ssm_find(s, name));
    fr_sim_ok_json(c, r, json_pack("{s:I, s:s}", "Version", (json_int_t)version, "Tier", v->tier));
}

static int64_t parse_token(const char *t)
{
    int64_t v;
    if (!t || !fr_str_startswith(t, "frsim-") || fr_parse_i64(t + 6, &v) != 0 || v < 0)
        return -1;
    return v;
}

static void op_history(fr_sim_ssm *s, const fr_sim_call *c, fr_sim_resp *r)
{
    const char *name = fr_sim_jstr(c->in, "Name");
    fr_sim_param *p = name ? fr_sim_ssm_find(s, name) : NULL;
    if (!p) {
        not_found(c, r, name ? name : "");
        return;
    }
    int64_t max = 50, start = 0;
    fr_sim_jint(c->in, "MaxResults", &max);
    if (max < 1 || max > 50) {
        fr_sim_error(c, r, 400, "ValidationException", "MaxResults must be between 1 and 50.");
        return;
    }
    const char *tok = fr_sim_jstr(c->in, "NextToken");
    if (tok && (start = parse_token(tok)) < 0) {
        fr_sim_error(c, r, 400, "InvalidNextToken", "The specified token isn't valid.");
        return;
    }
    json_t *list = json_array();
    size_t i;
    for (i = (size_t)start; i < p->n && (int64_t)(i - (size_t)start) < max; i++) {
        const fr_sim_param_ver *v = &p->vers[i];
        json_t *j = json_pack("{s:s, s:s}", "Name", p->name, "Type", v->type);
        fr_sim_jset_time(j, "LastModifiedDate", v->modified_ms);
        json_object_set_new(j, "LastModifiedUser", json_string(v->user));
        if (v->description)
            json_object_set_new(j, "Description", json_string(v->description));
        json_object_set_new(j, "Value", json_string(v->value));
        json_object_set_new(j, "Version", json_integer(v->version));
        json_object_set_new(j, "Labels", json_array());
        json_object_set_new(j, "Tier", json_string(v->tier));
        json_object_set_new(j, "Policies", json_array());
        json_object_set_new(j, "DataType", json_string("text"));
        json_array_append_new(list, j);
    }
    json_t *out = json_pack("{s:o}", "Parameters", list);
    if (i < p->n) {
        char t[32];
        snprintf(t, sizeof(t), "frsim-%zu", i);
        json_object_set_new(out, "NextToken", json_string(t));
    }
    fr_sim_ok_json(c, r, out);
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp((*(fr_sim_param *const *)a)->name, (*(fr_sim_param *const *)b)->name);
}

static void op_by_path(fr_sim_ssm *s, const fr_sim_call *c, fr_sim_resp *r)
{
    const char *path = fr_sim_jstr(c->in, "Path");
    if (!path || path[0] != '/') {
        fr_sim_error(c, r, 400, "ValidationException", "The parameter path must begin with a forward slash (/).");
        return;
    }
    bool recursive = false;
    fr_sim_jbool(c->in, "Recursive", &recursive);
    int64_t max = 10, start = 0;
    fr_sim_jint(c->in, "MaxResults", &max);
    if (max < 1 || max > 10) {
        fr_sim_error(c, r, 400, "ValidationException", "MaxResults must be between 1 and 10.");
        return;
    }
    const char *tok = fr_sim_jstr(c->in, "NextToken");
    if (tok && (start = parse_token(tok)) < 0) {
        fr_sim_error(c, r, 400, "InvalidNextToken", "The specified token isn't valid.");
        return;
    }
    /* names in order so pages are stable */
    fr_sim_param **sorted = malloc((s->n ? s->n : 1) * sizeof(*sorted));
    if (!sorted) {
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    memcpy(sorted, s->params, s->n * sizeof(*sorted));
    qsort(sorted, s->n, sizeof(*sorted), cmp_param);
    char prefix[2100];
    snprintf(prefix, sizeof(prefix), "%s%s", path, fr_str_endswith(path, "/") ? "" : "/");
    json_t *list = json_array();
    int64_t idx = 0;
    size_t i;
    bool more = false;
    for (i = 0; i < s->n; i++) {
        const char *n = sorted[i]->name;
        if (!fr_str_startswith(n, prefix))
            continue;
        if (!recursive && strchr(n + strlen(prefix), '/'))
            continue;
        if (idx++ < start)
            continue;
        if ((int64_t)json_array_size(list) == max) {
            more = true;
            break;
        }
        json_array_append_new(list, param_json(s, sorted[i], fr_sim_ssm_latest(sorted[i]), NULL));
    }
    free(sorted);
    json_t *out = json_pack("{s:o}", "Parameters", list);
    if (more) {
        char t[32];
        snprintf(t, sizeof(t), "frsim-%lld", (long long)(start + max));
        json_object_set_new(out, "NextToken", json_string(t));
    }
    fr_sim_ok_json(c, r, out);
}

static void op_delete(fr_sim_ssm *s, const fr_sim_call *c, fr_sim_resp *r)
{
    const char *name = fr_sim_jstr(c->in, "Name");
    fr_sim_param *p = name ? fr_sim_ssm_find(s, name) : NULL;
    if (!p) {
        not_found(c, r, name ? name : "");
        return;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->params[i] == p) {
            memmove(s->params + i, s->params + i + 1, (s->n - i - 1) * sizeof(*s->params));
            s->n--;
            break;
        }
    /* rebuild the index without the deleted name */
    fr_sim_map_clear(&s->by_name);
    for (size_t i = 0; i < s->n; i++)
        fr_sim_map_put(&s->by_name, s->params[i]->name, s->params[i]);
    for (size_t k = 0; k < p->n; k++)
        ver_free(&p->vers[k]);
    free(p->vers);
    free(p->name);
    free(p);
    fr_sim_ok_json(c, r, json_object());
}

void fr_sim_ssm_call(fr_sim_ssm *s, const fr_sim_call *c, int64_t now, fr_sim_resp *r)
{
    if (strcmp(c->op, "GetParameter") == 0)
        op_get(s, c, r);
    else if (strcmp(c->op, "PutParameter") == 0)
        op_put(s, c, r, now);
    else if (strcmp(c->op, "GetParameters") == 0)
        op_get_many(s, c, r);
    else if (strcmp(c->op, "GetParameterHistory") == 0)
        op_history(s, c, r);
    else if (strcmp(c->op, "GetParametersByPath") == 0)
        op_by_path(s, c, r);
    else if (strcmp(c->op, "DeleteParameter") == 0)
        op_delete(s, c, r);
    else
        fr_sim_error(c, r, 400, "UnknownOperationException", "Operation %s is not supported by frugal-sim.", c->op);
}
