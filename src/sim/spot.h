/* Spot prices, pure: a replay of a real price file (the formats under
 * ../shared/data/spot_history/) shifted so its newest record falls on the
 * world anchor, repeating with the file's span, its AZs mapped onto the
 * sim's; types the file lacks, or no file at all, follow a seeded model
 * (change points every few hours around the Spot Advisor discount, more
 * volatile for pools with a high interruption bucket). */
#ifndef FR_SIM_SPOT_H
#define FR_SIM_SPOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "util.h"

#define FR_SIM_MAX_AZ 6

typedef struct fr_sim_spot_rec {
    int64_t ts_ms; /* file time */
    double price;
    uint32_t pool;
} fr_sim_spot_rec;

typedef struct fr_sim_spot_pool {
    char type[32];
    char product[48];
    int az;         /* index into the sim's AZs */
    size_t first, n; /* records, sorted by time */
} fr_sim_spot_pool;

typedef struct fr_sim_spot {
    const fr_sim_catalog *cat;
    uint64_t seed;
    char azs[FR_SIM_MAX_AZ][40];
    char az_ids[FR_SIM_MAX_AZ][24];
    int naz;
    /* replay */
    fr_sim_spot_rec *recs;
    size_t nrecs;
    fr_sim_spot_pool *pools;
    size_t npools;
    int64_t file_min_ms, file_max_ms;
    int64_t shift_ms; /* sim = file + shift */
    fr_sim_map pool_index; /* "type|az|product" -> pool + 1 */
    char source[256];
} fr_sim_spot;

typedef struct fr_sim_price_rec {
    const char *type;
    const char *product;
    int az;
    int64_t ts_ms;
    double price;
} fr_sim_price_rec;

void fr_sim_spot_init(fr_sim_spot *s, const fr_sim_catalog *cat, uint64_t seed, const char *region);
void fr_sim_spot_free(fr_sim_spot *s);
/* Parses a price file's contents (format detected) and anchors it so its
 * newest record is at anchor_ms. */
int fr_sim_spot_load(fr_sim_spot *s, const char *name, const char *text, size_t len, int64_t anchor_ms, char *err,
                     size_t errlen);

extern const char *const fr_sim_spot_products[];
extern const size_t fr_sim_spot_nproducts;

/* The price in effect at t (sim time) and when it was set. */
double fr_sim_spot_price_at(const fr_sim_spot *s, const char *type, int az, const char *product, int64_t t,
                            int64_t *since_ms);
/* Appends every price record of a pool with ts in [start, end], plus the
 * one in effect at start. Returns the number appended or < 0. */
int fr_sim_spot_history(const fr_sim_spot *s, const char *type, int az, const char *product, int64_t start,
                        int64_t end, fr_sim_price_rec **out, size_t *n, size_t *cap);
int fr_sim_spot_az_index(const fr_sim_spot *s, const char *az);

#endif
