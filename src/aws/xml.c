/* XML answers (EC2, query protocol) into jansson, streaming through expat.
 *
 * An element with child elements becomes an object keyed by the children's
 * names, or an array when its children are <item> (EC2) or <member>
 * (query) entries; an element with only text becomes a string; repeated
 * siblings of the same name are gathered into an array. An empty element
 * whose name ends in "Set" (EC2's list naming) is an empty array, any other
 * empty element the empty string. Attributes (xmlns) are ignored and a DTD
 * is refused, so entity tricks never reach the expander. */
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/aws_proto.h"
#include "frugal/err.h"
#include "frugal/str.h"

#define MAX_DEPTH 64
#define DEFAULT_MAX (64u << 20)

struct frame {
    char *name;
    json_t *value; /* object or array once a child appears */
    fr_buf text;
    int children;
};

struct fr_aws_xml {
    XML_Parser p;
    struct frame stack[MAX_DEPTH];
    int depth;
    json_t *root;
    char root_name[128];
    size_t fed;
    size_t max_bytes;
    int failed;
    int done;
    char err[200];
};

static void fail(struct fr_aws_xml *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct fr_aws_xml *x, const char *fmt, ...)
{
    if (!x->failed) {
        x->failed = 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, sizeof(x->err), fmt, ap);
        va_end(ap);
    }
    XML_StopParser(x->p, XML_FALSE);
}

static const char *local_name(const char *n)
{
    const char *c = strrchr(n, ':');
    return c ? c + 1 : n;
}

static bool is_list_entry(const char *name)
{
    return strcmp(name, "item") == 0 || strcmp(name, "member") == 0;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    struct fr_aws_xml *x = ud;
    if (x->failed)
        return;
    const char *ln = local_name(name);
    if (x->done) {
        fail(x, "junk after the document element");
        return;
    }
    if (x->depth >= MAX_DEPTH) {
        fail(x, "nested deeper than %d levels", MAX_DEPTH);
        return;
    }
    if (x->depth > 0) {
        struct frame *parent = &x->stack[x->depth - 1];
        if (!parent->value) {
            parent->value = is_list_entry(ln) ? json_array() : json_object();
            if (!parent->value) {
                fail(x, "out of memory");
                return;
            }
        }
        parent->children++;
        fr_buf_reset(&parent->text);
    }
    struct frame *f = &x->stack[x->depth];
    memset(f, 0, sizeof(*f));
    f->name = fr_strdup(ln);
    if (!f->name) {
        fail(x, "out of memory");
        return;
    }
    x->depth++;
}

static void attach(struct fr_aws_xml *x, struct frame *parent, const char *name, json_t *v)
{
    if (json_is_array(parent->value) && is_list_entry(name)) {
        json_array_append_new(parent->value, v);
        return;
    }
    if (json_is_array(parent->value)) {
        /* A list element that also has named children: keep the named
         * ones beside the entries rather than losing them. */
        json_t *obj = json_object();
        json_object_set_new(obj, name, v);
        json_array_append_new(parent->value, obj);
        return;
    }
    json_t *prev = json_object_get(parent->value, name);
    if (!prev) {
        json_object_set_new(parent->value, name, v);
    } else if (json_is_array(prev)) {
        json_array_append_new(prev, v);
    } else {
        json_t *arr = json_array();
        json_array_append(arr, prev);
        json_array_append_new(arr, v);
        json_object_set_new(parent->value, name, arr);
    }
    (void)x;
}

static void on_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct fr_aws_xml *x = ud;
    if (x->failed || x->depth == 0)
        return;
    struct frame *f = &x->stack[--x->depth];
    json_t *v;
    if (f->value) {
        v = f->value;
    } else if (f->text.len) {
        v = json_stringn(f->text.data, f->text.len);
        if (!v) {
            fail(x, "text of <%.60s> is not valid UTF-8", f->name);
            free(f->name);
            fr_buf_free(&f->text);
            return;
        }
    } else if (fr_str_endswith(f->name, "Set")) {
        v = json_array();
    } else {
        v = json_string("");
    }
    f->value = NULL;
    if (x->depth == 0) {
        fr_strlcpy(x->root_name, f->name, sizeof(x->root_name));
        if (json_is_object(v)) {
            x->root = v;
        } else if (json_is_array(v)) {
            x->root = json_pack("{s:o}", "item", v);
        } else {
            json_decref(v);
            x->root = json_object();
        }
        x->done = 1;
    } else {
        attach(x, &x->stack[x->depth - 1], f->name, v);
    }
    free(f->name);
    f->name = NULL;
    fr_buf_free(&f->text);
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    struct fr_aws_xml *x = ud;
    if (x->failed || x->depth == 0)
        return;
    struct frame *f = &x->stack[x->depth - 1];
    if (f->children)
        return; /* whitespace between elements */
    if (fr_buf_append(&f->text, s, (size_t)len) != 0)
        fail(x, "out of memory");
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail(ud, "a DTD is not allowed in an AWS response");
}

static void on_entity_decl(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int value_length,
                           const XML_Char *base, const XML_Char *system_id, const XML_Char *public_id,
                           const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_length;
    (void)base;
    (void)system_id;
    (void)public_id;
    (void)notation;
    fail(ud, "entity declarations are not allowed");
}

fr_aws_xml *fr_aws_xml_new(size_t max_bytes)
{
    struct fr_aws_xml *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->p = XML_ParserCreate("UTF-8");
    if (!x->p) {
        free(x);
        return NULL;
    }
    x->max_bytes = max_bytes ? max_bytes : DEFAULT_MAX;
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    XML_SetEntityDeclHandler(x->p, on_entity_decl);
    return x;
}

void fr_aws_xml_free(fr_aws_xml *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->depth; i++) {
        free(x->stack[i].name);
        json_decref(x->stack[i].value);
        fr_buf_free(&x->stack[i].text);
    }
    json_decref(x->root);
    XML_ParserFree(x->p);
    free(x);
}

static void expat_fail(struct fr_aws_xml *x)
{
    if (x->failed)
        return;
    x->failed = 1;
    snprintf(x->err, sizeof(x->err), "line %lu column %lu: %s", (unsigned long)XML_GetCurrentLineNumber(x->p),
             (unsigned long)XML_GetCurrentColumnNumber(x->p), XML_ErrorString(XML_GetErrorCode(x->p)));
}

int fr_aws_xml_feed(fr_aws_xml *x, const char *data, size_t len)
{
    if (x->failed)
        return FR_EPARSE;
    if (len > x->max_bytes || x->fed > x->max_bytes - len) {
        x->failed = 1;
        snprintf(x->err, sizeof(x->err), "response larger than %zu bytes", x->max_bytes);
        return FR_EPARSE;
    }
    x->fed += len;
    while (len) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (XML_Parse(x->p, data, chunk, XML_FALSE) != XML_STATUS_OK) {
            expat_fail(x);
            return FR_EPARSE;
        }
        data += chunk;
        len -= (size_t)chunk;
    }
    return x->failed ? FR_EPARSE : 0;
}

int fr_aws_xml_finish(fr_aws_xml *x, json_t **root, char *root_name, size_t rn, char *err, size_t errlen)
{
    *root = NULL;
    if (!x->failed && XML_Parse(x->p, "", 0, XML_TRUE) != XML_STATUS_OK)
        expat_fail(x);
    if (!x->failed && !x->done) {
        x->failed = 1;
        snprintf(x->err, sizeof(x->err), "document ends before its root element is closed");
    }
    if (x->failed) {
        if (err)
            snprintf(err, errlen, "malformed XML: %s", x->err);
        return FR_EPARSE;
    }
    *root = x->root;
    x->root = NULL;
    if (root_name)
        fr_strlcpy(root_name, x->root_name, rn);
    return 0;
}

int fr_aws_xml_to_json(const char *body, size_t len, size_t max_bytes, json_t **root, char *root_name, size_t rn,
                       char *err, size_t errlen)
{
    *root = NULL;
    fr_aws_xml *x = fr_aws_xml_new(max_bytes);
    if (!x)
        return -ENOMEM;
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += 4096)
        rc = fr_aws_xml_feed(x, body + off, FR_MIN((size_t)4096, len - off));
    rc = fr_aws_xml_finish(x, root, root_name, rn, err, errlen);
    fr_aws_xml_free(x);
    return rc;
}

json_t *fr_aws_query_result(json_t *root, const char *op, char *request_id, size_t rn)
{
    char key[160];
    snprintf(key, sizeof(key), "%sResult", op);
    json_t *res = json_object_get(root, key);
    const char *rid = json_string_value(json_object_get(json_object_get(root, "ResponseMetadata"), "RequestId"));
    if (request_id && rn) {
        if (rid)
            fr_strlcpy(request_id, rid, rn);
    }
    if (json_is_object(res))
        return json_incref(res);
    return json_object();
}
