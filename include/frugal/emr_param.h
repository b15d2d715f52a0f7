/* The cluster config in Parameter Store (docs/emr-config.md): inspection
 * for the cost model, and the byte-preserving rewrite of CORE/TASK
 * instance types (and GravitonAmi on an architecture change).
 *
 * Nothing is re-serialised. A span-keeping JSON tokenizer finds the byte
 * ranges of the values to change; when `Instances` is a JSON string holding
 * JSON, its decoded text is tokenized too and every inner offset is mapped
 * back to the outer bytes (escapes such as \" \/ \u0022 included), so only
 * the characters of the changed values are replaced. Every other byte stays
 * as it was: key order, spacing, CRLF, number formatting, escapes.
 *
 * Rules (docs/emr-analysis.md, "Config rewrite"):
 *  - Only CORE and TASK fleets' InstanceTypeConfigs[].InstanceType, or
 *    CORE/TASK groups' InstanceType, change. MASTER never does, even when
 *    it has the same type as CORE.
 *  - Several type slots per node type (a fleet with several configs, or
 *    several TASK groups): the primary slot is the one whose type is
 *    req->from (else the first); it gets req->to. The others move by the
 *    same number of size steps within their own family (EMR-supported
 *    ladder) when that size exists and, in a fleet, does not duplicate
 *    another config's type; otherwise they are kept. The size steps of a
 *    cross-family change are counted from the primary's old size to the new
 *    type in the new family's ladder (0 when the old size has no
 *    counterpart there). Each slot's outcome is reported.
 *  - A fleet must not end up listing a type twice (FR_EDENIED).
 *  - Architecture: when the CORE/TASK types all shared one architecture
 *    and now all share another, GravitonAmi is set to match (true for
 *    arm64), keeping its JSON type and letter case (true / "true" /
 *    "True" / "TRUE"); it is not touched when it already matches. Absent
 *    GravitonAmi counts as false: a switch to arm64 then is refused
 *    (FR_EDENIED: frugal adds no keys). A result mixing architectures
 *    where there was one is refused (FR_EDENIED). MASTER keeping the old
 *    architecture is reported (master_arch_mismatch).
 *  - The result is checked: it parses (and jansson agrees), the top-level
 *    keys are the same in the same order, a fresh inspection finds exactly
 *    the expected types and unchanged capacities, and its size fits the
 *    parameter's tier (4096 bytes Standard, 8192 Advanced; FR_ELIMIT; bytes,
 *    which is conservative for multi-byte characters).
 *  - Duplicate keys in any object frugal reads are refused at inspection
 *    (FR_EPARSE): parsers disagree on which one wins. */
#ifndef FRUGAL_EMR_PARAM_H
#define FRUGAL_EMR_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/emr_catalog.h"
#include "frugal/emr_cost.h"
#include "frugal/emr_types.h"

#define FR_EMR_MAX_SLOTS 48 /* InstanceTypeConfigs per fleet (EMR: 30) / groups per role (EMR: 48 TASK) */

typedef enum { FR_EMR_TIER_STANDARD = 0, FR_EMR_TIER_ADVANCED } fr_emr_tier;

/* 4096 or 8192 bytes. */
size_t fr_emr_tier_limit(fr_emr_tier t);
/* "Standard" / "Advanced" (SSM's spelling, case-insensitive). */
int fr_emr_tier_parse(const char *s, fr_emr_tier *out);

/* One instance type of a node type: an InstanceTypeConfigs entry of a fleet,
 * or an instance group. */
typedef struct fr_emr_slot {
    char type[40];
    double weight;        /* fleets: WeightedCapacity (1 when absent) */
    double bid_pct;       /* fleets: BidPriceAsPercentageOfOnDemandPrice, -1 absent */
    fr_emr_market market; /* groups: Market (ON_DEMAND when absent) */
    int64_t count;        /* groups: InstanceCount */
    size_t type_start, type_end; /* outer byte range of the InstanceType string's content */
} fr_emr_slot;

typedef struct fr_emr_node_cfg {
    bool present;
    bool fleet;               /* InstanceFleets (else InstanceGroups) */
    char name[64];            /* the fleet's/first group's Name, "" when absent */
    int64_t target_od, target_spot; /* fleets: TargetOnDemandCapacity / TargetSpotCapacity */
    size_t n_slots;
    fr_emr_slot slots[FR_EMR_MAX_SLOTS];
} fr_emr_node_cfg;

typedef enum {
    FR_EMR_GV_ABSENT = 0,
    FR_EMR_GV_BOOL,   /* true / false */
    FR_EMR_GV_LOWER,  /* "true" */
    FR_EMR_GV_CAPITAL, /* "True" */
    FR_EMR_GV_UPPER,  /* "TRUE" */
} fr_emr_gv_form;

typedef struct fr_emr_param_info {
    char name[256];          /* Name */
    bool instances_string;   /* Instances is a string holding JSON */
    bool fleets;             /* InstanceFleets (else InstanceGroups) */
    fr_emr_node_cfg node[FR_EMR_NODE__COUNT];
    fr_emr_gv_form graviton_form;
    bool graviton;           /* its value (false when absent) */
    size_t graviton_start, graviton_end; /* outer range: the literal, or the string's content */
    size_t n_keys;           /* top-level keys */
    uint64_t keys_hash;      /* of the top-level key names in order */
} fr_emr_param_info;

/* Parses and validates a parameter value. FR_EPARSE with a message naming
 * the problem (and, for JSON errors, the outer byte, line and column). */
int fr_emr_param_inspect(const char *text, size_t len, fr_emr_param_info *out, char *err, size_t errlen);
/* Lots for the cost model from the config: groups give InstanceCount in
 * their Market; fleets give ceil(TargetOnDemandCapacity / w) on-demand and
 * ceil(TargetSpotCapacity / w) spot instances of the first config's type,
 * w its WeightedCapacity (EMR's choice among several configs is not known
 * in advance; the driver may build lots from the real instances instead).
 * Returns the number of lots (may exceed max; only max written). */
size_t fr_emr_param_lots(const fr_emr_param_info *info, fr_emr_lot *lots, size_t max);
/* The read-only summary for the agent and the approval card. */
json_t *fr_emr_param_info_to_json(const fr_emr_param_info *info);

typedef struct fr_emr_rewrite_req {
    const char *from[FR_EMR_NODE__COUNT]; /* the type the analysis measured; NULL: the first slot */
    const char *to[FR_EMR_NODE__COUNT];   /* NULL: leave that node type alone; MASTER must be NULL */
    fr_emr_tier tier;
} fr_emr_rewrite_req;

typedef enum {
    FR_EMR_SLOT_PRIMARY = 0, /* got the recommended type */
    FR_EMR_SLOT_STEPPED,     /* moved by the same size steps in its own family */
    FR_EMR_SLOT_KEPT,        /* unchanged (note says why) */
} fr_emr_slot_action;

typedef struct fr_emr_slot_change {
    fr_emr_node node;
    size_t index;
    char from[40], to[40];
    fr_emr_slot_action action;
    char note[96];
} fr_emr_slot_change;

/* One replaced byte range of the original text. */
typedef struct fr_emr_edit {
    size_t start, end;  /* in the original */
    char what[16];      /* "InstanceType" or "GravitonAmi" */
    char old_text[48];  /* the original bytes of the range */
    char new_text[48];  /* what replaced them */
} fr_emr_edit;

typedef struct fr_emr_rewrite {
    char *text; /* the new value, NUL-terminated (malloc'd) */
    size_t len;
    size_t n_slots;
    fr_emr_slot_change slots[2 * FR_EMR_MAX_SLOTS];
    size_t n_edits; /* sorted by start, not overlapping */
    fr_emr_edit edits[2 * FR_EMR_MAX_SLOTS + 1];
    bool arch_change;
    fr_emr_arch arch_from, arch_to;
    bool graviton_changed;
    bool master_arch_mismatch;
    size_t limit; /* the tier's size limit */
} fr_emr_rewrite;

/* 0 and *out filled (free with fr_emr_rewrite_free), or: FR_EPARSE (the
 * value is malformed), FR_ENOTFOUND (no such node type / from type / to type
 * unknown to the catalog), FR_EDENIED (a rule above refuses), FR_ELIMIT (too
 * big for the tier), -EINVAL; err says what. A request that changes
 * nothing returns 0 with out->text equal to the input. */
int fr_emr_param_rewrite(const char *text, size_t len, const fr_emr_catalog *cat, const fr_emr_rewrite_req *req,
                         fr_emr_rewrite *out, char *err, size_t errlen);
void fr_emr_rewrite_free(fr_emr_rewrite *rw);
/* {"changes":[{node, index, from, to, action, note}], "edits":[{start, end,
 * what, old, new}], "arch_change", "arch_from", "arch_to", "graviton_changed",
 * "master_arch_mismatch", "size", "limit"} */
json_t *fr_emr_rewrite_to_json(const fr_emr_rewrite *rw);

#endif
