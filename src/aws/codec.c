/* Request encoding for the JSON, query and restJson protocols, reading
 * normalised JSON, and SigV4 signing as the SDKs lay it out (pure). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/aws_proto.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"

/* ---- JSON protocols ---- */

int fr_aws_json_encode(const json_t *req, fr_buf *out)
{
    fr_buf_reset(out);
    if (!req)
        return fr_buf_puts(out, "{}");
    if (!json_is_object(req))
        return -EINVAL;
    /* No JSON_COMPACT: ", " and ": " like Python's json.dumps. */
    char *s = json_dumps(req, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!s)
        return -ENOMEM;
    int rc = fr_buf_puts(out, s);
    free(s);
    return rc;
}

int fr_aws_json_decode(const char *body, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i == len) {
        *out = json_object();
        return *out ? 0 : -ENOMEM;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!j) {
        if (err)
            snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        return FR_EPARSE;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        if (err)
            snprintf(err, errlen, "expected a JSON object");
        return FR_EPARSE;
    }
    *out = j;
    return 0;
}

/* ---- query protocols ---- */

/* Python's urlencode (quote_plus): unreserved kept, space as '+'. */
static int form_encode(fr_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = fr_buf_reserve(out, n * 3);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out->data[out->len++] = (char)c;
        } else if (c == ' ') {
            out->data[out->len++] = '+';
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = hex[c >> 4];
            out->data[out->len++] = hex[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

static void shortest_double(double d, char *buf, size_t n)
{
    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(buf, n, "%.0f", d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static int put_pair(fr_buf *out, const char *key, const char *val, size_t vlen)
{
    int rc = fr_buf_putc(out, '&');
    if (!rc)
        rc = form_encode(out, key, strlen(key));
    if (!rc)
        rc = fr_buf_putc(out, '=');
    if (!rc)
        rc = form_encode(out, val, vlen);
    return rc;
}

static int flatten(fr_buf *out, const char *prefix, const json_t *v, bool ec2_lists, int depth)
{
    if (depth > 32)
        return -EINVAL;
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *sub;
        json_object_foreach((json_t *)v, k, sub)
        {
            fr_buf key = FR_BUF_INIT;
            if (*prefix)
                fr_buf_printf(&key, "%s.%s", prefix, k);
            else
                fr_buf_puts(&key, k);
            int rc = flatten(out, fr_buf_cstr(&key), sub, ec2_lists, depth + 1);
            fr_buf_free(&key);
            if (rc)
                return rc;
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *sub;
        if (json_array_size(v) == 0 && !ec2_lists)
            return put_pair(out, prefix, "", 0); /* the query protocol sends empty lists as "Name=" */
        json_array_foreach(v, i, sub)
        {
            fr_buf key = FR_BUF_INIT;
            fr_buf_printf(&key, ec2_lists ? "%s.%zu" : "%s.member.%zu", prefix, i + 1);
            int rc = flatten(out, fr_buf_cstr(&key), sub, ec2_lists, depth + 1);
            fr_buf_free(&key);
            if (rc)
                return rc;
        }
        return 0;
    }
    case JSON_STRING:
        return put_pair(out, prefix, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return put_pair(out, prefix, num, strlen(num));
    case JSON_REAL:
        shortest_double(json_real_value(v), num, sizeof(num));
        return put_pair(out, prefix, num, strlen(num));
    case JSON_TRUE:
        return put_pair(out, prefix, "true", 4);
    case JSON_FALSE:
        return put_pair(out, prefix, "false", 5);
    case JSON_NULL:
        return 0;
    }
    return -EINVAL;
}

int fr_aws_query_encode(const char *action, const char *version, const json_t *params, bool ec2_lists, fr_buf *out)
{
    fr_buf_reset(out);
    if (params && !json_is_object(params))
        return -EINVAL;
    int rc = fr_buf_puts(out, "Action=");
    if (!rc)
        rc = form_encode(out, action, strlen(action));
    if (!rc)
        rc = fr_buf_puts(out, "&Version=");
    if (!rc)
        rc = form_encode(out, version, strlen(version));
    if (!rc && params)
        rc = flatten(out, "", params, ec2_lists, 0);
    return rc;
}

/* ---- restJson1 ---- */

int fr_aws_lambda_invoke_path(const char *function, const char *qualifier, fr_buf *path, fr_buf *query)
{
    fr_buf_reset(path);
    fr_buf_reset(query);
    if (!function || !*function)
        return -EINVAL;
    int rc = fr_buf_puts(path, "/2015-03-31/functions/");
    if (!rc)
        rc = fr_uri_encode(path, function, strlen(function), false);
    if (!rc)
        rc = fr_buf_puts(path, "/invocations");
    if (!rc && qualifier && *qualifier) {
        rc = fr_buf_puts(query, "Qualifier=");
        if (!rc)
            rc = fr_uri_encode(query, qualifier, strlen(qualifier), false);
    }
    return rc;
}

/* ---- reading normalised JSON ---- */

int fr_aws_json_number(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        char *s = fr_strdup(json_string_value(v));
        if (!s)
            return -ENOMEM;
        int rc = fr_parse_double(fr_str_trim(s), out);
        free(s);
        return rc ? FR_EPARSE : 0;
    }
    return FR_EPARSE;
}

bool fr_aws_json_bool(const json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    return json_is_string(v) && fr_str_ieq(json_string_value(v), "true");
}

json_t *fr_aws_json_list(const json_t *obj, const char *key)
{
    static json_t *empty;
    json_t *v = json_object_get(obj, key);
    if (json_is_array(v))
        return v;
    if (json_is_string(v) && json_string_length(v) == 0) {
        if (!empty)
            empty = json_array(); /* one shared, never modified */
        return empty;
    }
    return NULL;
}

/* ---- signing ---- */

int fr_aws_sign(const fr_aws_sign_in *in, char amz_date[20], fr_buf *authorization)
{
    if (!in->access_key || !in->secret_key || !in->region || !in->service)
        return FR_ECRED;
    fr_sigv4_header *h = calloc(in->nheaders + 3, sizeof(*h));
    if (!h)
        return -ENOMEM;
    size_t n = 0;
    h[n++] = (fr_sigv4_header){"host", in->host};
    for (size_t i = 0; i < in->nheaders; i++)
        h[n++] = in->headers[i];
    fr_time_amz(amz_date, 20, in->time_ms);
    h[n++] = (fr_sigv4_header){"x-amz-date", amz_date};
    if (in->session_token && *in->session_token)
        h[n++] = (fr_sigv4_header){"x-amz-security-token", in->session_token};
    fr_sigv4_req r = {
        .method = in->method,
        .path = in->path,
        .query = in->query,
        .headers = h,
        .nheaders = n,
        .body = in->body,
        .body_len = in->body_len,
    };
    fr_sigv4_scope s = {.region = in->region, .service = in->service, .time_ms = in->time_ms, .s3_style = false};
    int rc = fr_sigv4_authorization(&r, &s, in->access_key, in->secret_key, in->cache, authorization);
    free(h);
    return rc;
}

void fr_aws_mask_key(const char *akid, char *out, size_t n)
{
    size_t l = akid ? strlen(akid) : 0;
    if (l < 12) {
        fr_strlcpy(out, "****", n);
        return;
    }
    snprintf(out, n, "%.4s****%s", akid, akid + l - 4);
}
