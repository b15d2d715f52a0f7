/* Span-keeping strict JSON tokenizer (see jspan.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"

#include "emr/jspan.h"

#define MAX_DEPTH 64

typedef struct parser {
    js_doc *d;
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
    size_t *err_pos;
    int depth;
} parser;

__attribute__((format(printf, 3, 4))) static int fail_at(parser *p, size_t at, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < at && i < p->len; i++) {
            if (p->s[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errlen, "byte %zu (line %zu, column %zu): %s", at, line, col, msg);
    }
    if (p->err_pos)
        *p->err_pos = at;
    return FR_EPARSE;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int new_node(parser *p, js_type t, int parent)
{
    js_doc *d = p->d;
    if (d->count == d->cap) {
        int ncap = d->cap ? d->cap * 2 : 64;
        js_node *nn = realloc(d->n, (size_t)ncap * sizeof(*nn));
        if (!nn)
            return -ENOMEM;
        d->n = nn;
        d->cap = ncap;
    }
    js_node *n = &d->n[d->count];
    memset(n, 0, sizeof(*n));
    n->type = t;
    n->start = p->pos;
    n->parent = parent;
    n->first_child = n->next_sibling = n->key = -1;
    return d->count++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Validates a string token starting at p->pos (the opening quote). */
static int scan_string(parser *p, bool *escaped)
{
    size_t i = p->pos + 1;
    *escaped = false;
    while (i < p->len) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == '"') {
            p->pos = i + 1;
            return 0;
        }
        if (c < 0x20)
            return fail_at(p, i, "control character 0x%02x in a string", c);
        if (c == '\\') {
            *escaped = true;
            if (i + 1 >= p->len)
                break;
            char e = p->s[i + 1];
            if (strchr("\"\\/bfnrt", e)) {
                i += 2;
                continue;
            }
            if (e != 'u')
                return fail_at(p, i, "invalid escape '\\%c'", e);
            unsigned u;
            if (i + 6 > p->len || hex4(p->s + i + 2, &u) != 0)
                return fail_at(p, i, "invalid \\u escape");
            if (u >= 0xDC00 && u <= 0xDFFF)
                return fail_at(p, i, "lone low surrogate \\u%04x", u);
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo;
                if (i + 12 > p->len || p->s[i + 6] != '\\' || p->s[i + 7] != 'u' || hex4(p->s + i + 8, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return fail_at(p, i, "high surrogate \\u%04x without its low surrogate", u);
                i += 12;
                continue;
            }
            i += 6;
            continue;
        }
        size_t l = utf8_len((const unsigned char *)p->s + i, p->len - i);
        if (!l)
            return fail_at(p, i, "invalid UTF-8");
        i += l;
    }
    return fail_at(p, p->pos, "unterminated string");
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(parser *p)
{
    size_t i = p->pos;
    if (i < p->len && p->s[i] == '-')
        i++;
    if (i >= p->len || !is_digit(p->s[i]))
        return fail_at(p, p->pos, "invalid number");
    if (p->s[i] == '0')
        i++;
    else
        while (i < p->len && is_digit(p->s[i]))
            i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return fail_at(p, i, "digit expected after '.'");
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return fail_at(p, i, "digit expected in exponent");
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    p->pos = i;
    return 0;
}

static int parse_value(parser *p, int parent, int *out);

static void link_child(js_doc *d, int parent, int *last, int child)
{
    if (*last < 0)
        d->n[parent].first_child = child;
    else
        d->n[*last].next_sibling = child;
    *last = child;
}

static int parse_container(parser *p, int self, bool object)
{
    char close = object ? '}' : ']';
    int last = -1;
    p->pos++; /* '{' or '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        int key = -1;
        skip_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return fail_at(p, p->pos, "member name expected");
            key = new_node(p, JS_STRING, self);
            if (key < 0)
                return key;
            bool esc;
            int rc = scan_string(p, &esc);
            if (rc)
                return rc;
            p->d->n[key].end = p->pos;
            p->d->n[key].escaped = esc;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail_at(p, p->pos, "':' expected");
            p->pos++;
            skip_ws(p);
        }
        int child;
        int rc = parse_value(p, self, &child);
        if (rc)
            return rc;
        p->d->n[child].key = key;
        link_child(p->d, self, &last, child);
        skip_ws(p);
        if (p->pos >= p->len)
            return fail_at(p, p->pos, "unexpected end: '%c' expected", close);
        char c = p->s[p->pos];
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == close) {
            p->pos++;
            return 0;
        }
        return fail_at(p, p->pos, "',' or '%c' expected", close);
    }
}

static int parse_value(parser *p, int parent, int *out)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return fail_at(p, p->pos, "value expected");
    char c = p->s[p->pos];
    js_type t;
    switch (c) {
    case '{':
        t = JS_OBJECT;
        break;
    case '[':
        t = JS_ARRAY;
        break;
    case '"':
        t = JS_STRING;
        break;
    case 't':
        t = JS_TRUE;
        break;
    case 'f':
        t = JS_FALSE;
        break;
    case 'n':
        t = JS_NULL;
        break;
    default:
        if (c == '-' || is_digit(c)) {
            t = JS_NUMBER;
            break;
        }
        return fail_at(p, p->pos, "unexpected character '%c'", c >= 0x20 && c < 0x7f ? c : '?');
    }
    int self = new_node(p, t, parent);
    if (self < 0)
        return self;
    int rc = 0;
    switch (t) {
    case JS_OBJECT:
    case JS_ARRAY:
        if (++p->depth > MAX_DEPTH)
            return fail_at(p, p->pos, "nested deeper than %d", MAX_DEPTH);
        rc = parse_container(p, self, t == JS_OBJECT);
        p->depth--;
        break;
    case JS_STRING: {
        bool esc;
        rc = scan_string(p, &esc);
        p->d->n[self].escaped = esc;
        break;
    }
    case JS_NUMBER:
        rc = scan_number(p);
        break;
    default: {
        const char *lit = t == JS_TRUE ? "true" : t == JS_FALSE ? "false" : "null";
        size_t l = strlen(lit);
        if (p->len - p->pos < l || memcmp(p->s + p->pos, lit, l) != 0)
            return fail_at(p, p->pos, "invalid literal");
        p->pos += l;
        break;
    }
    }
    if (rc)
        return rc;
    p->d->n[self].end = p->pos;
    *out = self;
    return 0;
}

int js_parse(js_doc *d, const char *text, size_t len, char *err, size_t errlen, size_t *err_pos)
{
    memset(d, 0, sizeof(*d));
    d->text = text;
    d->len = len;
    parser p = {d, text, len, 0, err, errlen, err_pos, 0};
    int root;
    int rc = parse_value(&p, -1, &root);
    if (!rc) {
        skip_ws(&p);
        if (p.pos != len)
            rc = fail_at(&p, p.pos, "trailing data after the JSON value");
    }
    if (rc) {
        free(d->n);
        d->n = NULL;
        d->count = d->cap = 0;
    }
    return rc;
}

void js_free(js_doc *d)
{
    free(d->n);
    d->n = NULL;
    d->count = d->cap = 0;
}

static void put_utf8(fr_buf *out, unsigned cp, size_t *map, size_t at)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    for (size_t i = 0; i < n; i++) {
        if (map)
            map[out->len] = at;
        fr_buf_putc(out, (char)b[i]);
    }
}

int js_string_decode(const char *text, size_t start, size_t end, fr_buf *out, size_t **mapp)
{
    /* the token was validated by js_parse: no error paths but memory */
    size_t cap = end - start + 1;
    size_t *map = NULL;
    if (mapp) {
        map = malloc(cap * sizeof(size_t));
        if (!map)
            return -ENOMEM;
    }
    fr_buf_reset(out);
    if (fr_buf_reserve(out, cap) != 0) {
        free(map);
        return -ENOMEM;
    }
    size_t i = start + 1, stop = end - 1;
    while (i < stop) {
        char c = text[i];
        if (c != '\\') {
            if (map)
                map[out->len] = i;
            fr_buf_putc(out, c);
            i++;
            continue;
        }
        char e = text[i + 1];
        char simple = 0;
        switch (e) {
        case '"':
            simple = '"';
            break;
        case '\\':
            simple = '\\';
            break;
        case '/':
            simple = '/';
            break;
        case 'b':
            simple = '\b';
            break;
        case 'f':
            simple = '\f';
            break;
        case 'n':
            simple = '\n';
            break;
        case 'r':
            simple = '\r';
            break;
        case 't':
            simple = '\t';
            break;
        default:
            break;
        }
        if (simple) {
            if (map)
                map[out->len] = i;
            fr_buf_putc(out, simple);
            i += 2;
            continue;
        }
        unsigned u = 0, lo = 0;
        hex4(text + i + 2, &u);
        size_t at = i;
        i += 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            hex4(text + i + 2, &lo);
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        }
        put_utf8(out, u, map, at);
    }
    if (map)
        map[out->len] = stop;
    if (mapp)
        *mapp = map;
    return 0;
}

bool js_string_is(const js_doc *d, int node, const char *lit)
{
    const js_node *n = &d->n[node];
    if (n->type != JS_STRING)
        return false;
    size_t l = strlen(lit);
    if (!n->escaped)
        return n->end - n->start - 2 == l && memcmp(d->text + n->start + 1, lit, l) == 0;
    fr_buf b = FR_BUF_INIT;
    bool eq = js_string_decode(d->text, n->start, n->end, &b, NULL) == 0 && b.len == l &&
              memcmp(b.data ? b.data : "", lit, l) == 0;
    fr_buf_free(&b);
    return eq;
}

int js_member(const js_doc *d, int obj, const char *key, int *count)
{
    int found = -1, c = 0;
    if (d->n[obj].type == JS_OBJECT)
        for (int v = d->n[obj].first_child; v >= 0; v = d->n[v].next_sibling)
            if (js_string_is(d, d->n[v].key, key)) {
                if (found < 0)
                    found = v;
                c++;
            }
    if (count)
        *count = c;
    return found;
}

int js_child_count(const js_doc *d, int node)
{
    int c = 0;
    for (int v = d->n[node].first_child; v >= 0; v = d->n[v].next_sibling)
        c++;
    return c;
}
