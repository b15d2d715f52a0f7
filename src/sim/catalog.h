/* Instance types: vCPU, memory, architecture, on-demand price, EMR support,
 * spot savings and interruption bucket. Built in (generated from the shared
 * catalog) or loaded from a CSV of the same columns. Pure. */
#ifndef FR_SIM_CATALOG_H
#define FR_SIM_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fr_sim_itype {
    const char *name;
    const char *family;
    int vcpu;
    double mem_gib;
    bool arm64;
    double od_price; /* USD/h, Linux, us-east-1 */
    bool emr;
    int spot_savings; /* % below on-demand */
    int bucket;       /* interruption frequency 0..4 (<5% .. >20%), -1 unknown */
} fr_sim_itype;

typedef struct fr_sim_catalog {
    fr_sim_itype *types; /* sorted by name */
    size_t n;
    char **owned; /* strings of a loaded CSV */
    size_t nowned;
} fr_sim_catalog;

extern const fr_sim_itype fr_sim_catalog_rows[];
extern const size_t fr_sim_catalog_nrows;

int fr_sim_catalog_builtin(fr_sim_catalog *c);
/* Columns: instance_type,family,vcpu,memory_gib,arch_rule,
 * ondemand_linux_usd_per_hour,emr_supported,spot_savings_pct_vs_od,spot_interrupt_bucket */
int fr_sim_catalog_parse_csv(fr_sim_catalog *c, const char *text, size_t len, int *bad_line);
void fr_sim_catalog_free(fr_sim_catalog *c);
const fr_sim_itype *fr_sim_catalog_find(const fr_sim_catalog *c, const char *name);

/* "r7g.4xlarge" -> size rank: large 0, xlarge 1, 2xlarge 2, 4xlarge 4, ...
 * (the multiple of xlarge); -1 for other sizes (medium, metal, ...). */
int fr_sim_size_mult(const char *type);
/* Writes family + "." + size for a multiple (1 -> xlarge, 4 -> 4xlarge). */
void fr_sim_type_with_mult(char *out, size_t n, const char *family, int mult);
/* 'c' compute, 'm' general, 'r' memory, other letters as they are. */
char fr_sim_type_category(const char *type);

#endif
