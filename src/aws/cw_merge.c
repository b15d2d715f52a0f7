/* CloudWatch GetMetricData ids, batching and page merging (pure). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "frugal/aws.h"
#include "frugal/err.h"
#include "frugal/str.h"

bool fr_aws_cw_id_valid(const char *id)
{
    if (!id || !islower((unsigned char)id[0]))
        return false;
    size_t n = strlen(id);
    if (n > 255)
        return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!(isalnum(c) || c == '_') || c > 127)
            return false;
    }
    return true;
}

int fr_aws_cw_make_id(char *out, size_t n, const char *hint, size_t index)
{
    if (n > 256)
        n = 256; /* ids are at most 255 characters */
    int w = snprintf(out, n, "q%zu", index);
    if (w < 0 || (size_t)w >= n)
        return FR_ELIMIT;
    size_t len = (size_t)w;
    if (hint && *hint && len + 2 < n) {
        out[len++] = '_';
        for (const char *p = hint; *p && len + 1 < n; p++) {
            unsigned char c = (unsigned char)*p;
            out[len++] = (c < 128 && isalnum(c)) ? (char)c : '_';
        }
        out[len] = '\0';
    }
    return 0;
}

json_t *fr_aws_cw_batches(const json_t *queries, size_t max)
{
    json_t *out = json_array();
    json_t *cur = NULL;
    size_t i;
    json_t *q;
    if (!max)
        max = 500;
    json_array_foreach(queries, i, q)
    {
        if (!cur || json_array_size(cur) >= max) {
            cur = json_array();
            json_array_append_new(out, cur);
        }
        json_array_append(cur, q);
    }
    return out;
}

int fr_aws_cw_check_queries(const json_t *queries, char *why, size_t wl)
{
    if (!json_is_array(queries) || json_array_size(queries) == 0) {
        snprintf(why, wl, "queries must be a non-empty array");
        return -EINVAL;
    }
    json_t *seen = json_object();
    size_t i;
    json_t *q;
    bool expr = false;
    int rc = 0;
    json_array_foreach(queries, i, q)
    {
        const char *id = json_string_value(json_object_get(q, "Id"));
        if (!fr_aws_cw_id_valid(id)) {
            snprintf(why, wl, "query %zu: Id %s does not match ^[a-z][a-zA-Z0-9_]*$", i, id ? id : "(none)");
            rc = -EINVAL;
            break;
        }
        if (json_object_get(seen, id)) {
            snprintf(why, wl, "query %zu: Id %s is used twice", i, id);
            rc = -EINVAL;
            break;
        }
        json_object_set_new(seen, id, json_true());
        if (json_object_get(q, "Expression"))
            expr = true;
    }
    if (rc == 0 && expr && json_array_size(queries) > 500) {
        snprintf(why, wl, "more than 500 queries with expressions cannot be split into batches");
        rc = -EINVAL;
    }
    json_decref(seen);
    return rc;
}

void fr_aws_cw_merge_page(json_t *acc, json_t *messages, const json_t *page)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(page, "MetricDataResults"), i, r)
    {
        const char *id = json_string_value(json_object_get(r, "Id"));
        if (!id)
            continue;
        json_t *m = json_object_get(acc, id);
        if (!m) {
            m = json_pack("{s:s, s:[], s:[]}", "Id", id, "Timestamps", "Values");
            json_object_set_new(acc, id, m);
        }
        json_t *label = json_object_get(r, "Label");
        if (json_is_string(label))
            json_object_set(m, "Label", label);
        json_t *st = json_object_get(r, "StatusCode");
        if (json_is_string(st))
            json_object_set(m, "StatusCode", st);
        json_t *ts = json_object_get(r, "Timestamps"), *vs = json_object_get(r, "Values");
        if (json_is_array(ts))
            json_array_extend(json_object_get(m, "Timestamps"), ts);
        if (json_is_array(vs))
            json_array_extend(json_object_get(m, "Values"), vs);
        json_t *msgs = json_object_get(r, "Messages");
        if (json_is_array(msgs) && json_array_size(msgs)) {
            json_t *mm = json_object_get(m, "Messages");
            if (!mm) {
                mm = json_array();
                json_object_set_new(m, "Messages", mm);
            }
            json_array_extend(mm, msgs);
        }
    }
    json_t *pm = json_object_get(page, "Messages");
    if (json_is_array(pm))
        json_array_extend(messages, pm);
}

json_t *fr_aws_cw_merged_result(const json_t *queries, const json_t *acc, const json_t *messages)
{
    json_t *results = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(queries, i, q)
    {
        json_t *m = json_object_get(acc, json_string_value(json_object_get(q, "Id")));
        if (m)
            json_array_append(results, m);
    }
    return json_pack("{s:o, s:O}", "MetricDataResults", results, "Messages", messages);
}
