/* frugal-sim's small toolkit, pure: seeded randomness and ids, a string hash
 * map, lenient JSON getters (the query protocols deliver numbers as strings),
 * form/query decoding into JSON, an XML writer and fast number formatting. */
#ifndef FR_SIM_UTIL_H
#define FR_SIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/buf.h"

/* ---- randomness (deterministic; never the platform entropy source) ---- */

typedef struct fr_sim_rng {
    uint64_t s;
} fr_sim_rng;

uint64_t fr_sim_mix64(uint64_t x);
/* A hash of a seed and two numbers: the building block of on-the-fly noise. */
uint64_t fr_sim_hash3(uint64_t seed, uint64_t a, uint64_t b);
uint64_t fr_sim_hash_str(uint64_t seed, const char *s);
/* Uniform in [0, 1) from a 64-bit hash. */
double fr_sim_unit(uint64_t h);

/* The whole file (NUL-terminated, *out to free) or -errno with *out NULL:
 * world, faults, catalog, prices, chat script and trace files. */
int fr_sim_read_file(const char *path, char **out, size_t *len);

void fr_sim_rng_init(fr_sim_rng *r, uint64_t seed);
uint64_t fr_sim_rng_next(fr_sim_rng *r);
double fr_sim_rng_unit(fr_sim_rng *r);
/* Uniform integer in [lo, hi]. */
int64_t fr_sim_rng_range(fr_sim_rng *r, int64_t lo, int64_t hi);
/* Picks an index with the given weights (sum > 0). */
size_t fr_sim_rng_pick(fr_sim_rng *r, const double *weights, size_t n);
/* Standard normal (Box-Muller). */
double fr_sim_rng_normal(fr_sim_rng *r);

/* Ids in AWS formats from a 64-bit value: prefix + n characters of the
 * alphabet (EMR: upper case and digits; EC2: lower hex). out >= 40. */
void fr_sim_id_emr(char *out, size_t outsz, const char *prefix, uint64_t v);
void fr_sim_id_ec2(char *out, size_t outsz, const char *prefix, uint64_t v);
/* xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx from two values. out >= 37. */
void fr_sim_uuid(char *out, size_t outsz, uint64_t a, uint64_t b);

/* ---- string -> pointer hash map (keys copied, values borrowed) ---- */

typedef struct fr_sim_map {
    char **keys;
    void **vals;
    size_t cap; /* power of two */
    size_t n;
} fr_sim_map;

void fr_sim_map_init(fr_sim_map *m);
void fr_sim_map_free(fr_sim_map *m);
int fr_sim_map_put(fr_sim_map *m, const char *key, void *val);
void *fr_sim_map_get(const fr_sim_map *m, const char *key);
void fr_sim_map_clear(fr_sim_map *m);

/* ---- lenient JSON getters ---- */

const char *fr_sim_jstr(const json_t *o, const char *key);
/* Integer from a JSON integer, a whole real or a decimal string. */
int fr_sim_jint(const json_t *o, const char *key, int64_t *out);
int fr_sim_jnum(const json_t *o, const char *key, double *out);
/* true/false, "true"/"false" in any case. */
int fr_sim_jbool(const json_t *o, const char *key, bool *out);
/* Epoch seconds (number or numeric string) or ISO 8601 string -> ms. */
int fr_sim_jtime(const json_t *o, const char *key, int64_t *out_ms);
/* A list that may also arrive as a single value (query "member" lists). */
json_t *fr_sim_jlist(json_t *o, const char *key);
/* Appends an epoch-seconds timestamp value (ms precision) to an object. */
void fr_sim_jset_time(json_t *o, const char *key, int64_t ms);
json_t *fr_sim_jtime_value(int64_t ms);

/* ---- form / query strings ---- */

/* Decodes "a=1&b.member.1=x&Filter.1.Name=y" into a JSON object: dotted
 * keys become nested objects, numeric segments (and ".member.N") become
 * array positions; all scalars are strings. */
int fr_sim_form_to_json(const char *s, size_t n, json_t **out);
/* The value of one raw key in a form/query string (decoded); NULL if absent.
 * Returned string is malloc'd. */
char *fr_sim_form_get(const char *s, size_t n, const char *key);

/* ---- XML writer ---- */

void fr_sim_xml_escape(fr_buf *b, const char *s);
void fr_sim_xml_open(fr_buf *b, const char *tag);
void fr_sim_xml_close(fr_buf *b, const char *tag);
/* <tag>escaped text</tag>; NULL text writes nothing. */
void fr_sim_xml_text(fr_buf *b, const char *tag, const char *text);
void fr_sim_xml_int(fr_buf *b, const char *tag, int64_t v);
void fr_sim_xml_num(fr_buf *b, const char *tag, double v);
void fr_sim_xml_bool(fr_buf *b, const char *tag, bool v);
/* ISO 8601 with milliseconds, as the query protocols send. */
void fr_sim_xml_time(fr_buf *b, const char *tag, int64_t ms);

/* ---- numbers ---- */

/* A decimal integer, without printf (hot paths). */
void fr_sim_put_int(fr_buf *b, int64_t v);
/* Shortest clean decimal for metric values: up to `decimals` places, no
 * exponent, trailing zeros trimmed ("12.5", "3", "0.0004"). */
void fr_sim_put_num(fr_buf *b, double v, int decimals);

/* MD5 hex digest (SQS message checksums). out >= 33. */
void fr_sim_md5_hex(const void *data, size_t len, char *out);

#endif
