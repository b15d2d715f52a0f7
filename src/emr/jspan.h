/* A small strict JSON tokenizer that keeps the byte span of every value,
 * for editing documents in place without re-serialising them (the
 * Parameter Store config rewrite). RFC 8259: objects, arrays, strings
 * (escapes and UTF-8 validated, lone surrogates refused), numbers (grammar
 * checked), literals; nesting at most 64 deep. Internal to src/emr. */
#ifndef FRUGAL_EMR_JSPAN_H
#define FRUGAL_EMR_JSPAN_H

#include <stdbool.h>
#include <stddef.h>

#include "frugal/buf.h"

typedef enum { JS_OBJECT, JS_ARRAY, JS_STRING, JS_NUMBER, JS_TRUE, JS_FALSE, JS_NULL } js_type;

typedef struct js_node {
    js_type type;
    size_t start, end; /* [start, end) of the token in the text; strings include their quotes */
    int parent;
    int first_child;   /* arrays: elements; objects: member values (in order) */
    int next_sibling;
    int key;           /* member values: index of the key's string node; else -1 */
    bool escaped;      /* strings: contains a backslash */
} js_node;

typedef struct js_doc {
    js_node *n;
    int count, cap;
    const char *text;
    size_t len;
} js_doc;

/* Parses text[0..len) (one value, whitespace around it). On error:
 * FR_EPARSE and "byte N (line L, column C): what" in err; *err_pos set
 * (may be NULL). The document keeps a pointer to text. */
int js_parse(js_doc *d, const char *text, size_t len, char *err, size_t errlen, size_t *err_pos);
void js_free(js_doc *d);

/* Decodes the string token [start, end) (quotes included) into out. When
 * map is not NULL, *map (malloc'd, out->len + 1 entries) gives for each
 * decoded byte the offset in text where the character (or escape) that
 * produced it starts; (*map)[out->len] is the offset of the closing quote. */
int js_string_decode(const char *text, size_t start, size_t end, fr_buf *out, size_t **map);

/* Compares a string node's decoded value with lit. */
bool js_string_is(const js_doc *d, int node, const char *lit);
/* Member value of key in object obj, -1 if absent; *count (may be NULL) is
 * how many times the key appears. */
int js_member(const js_doc *d, int obj, const char *key, int *count);
/* Element count of an array / member count of an object. */
int js_child_count(const js_doc *d, int node);

#endif
