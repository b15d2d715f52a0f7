/* The simulated EC2, pure: standalone instances (those the world tags for
 * the spot optimizer and those RunInstances launches) plus a read-only view
 * of the EMR nodes, spot requests, interruptions with the two-minute notice
 * and rebalance recommendations (emitted as EventBridge-shaped events), and
 * the ec2 query/XML wire. */
#ifndef FR_SIM_EC2_H
#define FR_SIM_EC2_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "catalog.h"
#include "emr.h"
#include "profile.h"
#include "proto.h"
#include "spot.h"
#include "util.h"

#define FR_SIM_NOTICE_MS 120000
#define FR_SIM_SHUTDOWN_MS 30000
#define FR_SIM_PENDING_MS 15000

/* Receives events (EventBridge envelope, owned by the callee). */
typedef void (*fr_sim_event_fn)(void *arg, json_t *event);

typedef struct fr_sim_ec2_inst {
    char id[24];
    char resv[24];
    char itype[32];
    int az;
    char subnet[40];
    char ip[16];
    char image[32];
    char key_name[64];
    bool spot;
    char sir[24];
    char max_price[24];
    int64_t launch_ms;
    int64_t terminate_ms; /* 0: running; when shutting-down began */
    char reason[160];
    json_t *tags; /* object Key -> Value */
    fr_sim_profile prof;
    uint64_t seed;
    /* interruption: notice at notice_ms, action at action_ms */
    int64_t notice_ms, action_ms;
    char action[16]; /* terminate, stop, hibernate */
    int64_t rebalance_ms;
    int events_sent; /* bit 0 shutting-down, bit 1 terminated, bit 2 warning */
    bool from_world;
} fr_sim_ec2_inst;

typedef struct fr_sim_capacity_hole {
    char itype[32];
    int az; /* -1: every AZ */
    bool spot_only;
} fr_sim_capacity_hole;

typedef struct fr_sim_ec2 {
    fr_sim_ec2_inst **insts;
    size_t n, cap;
    fr_sim_map by_id;
    const fr_sim_catalog *cat;
    fr_sim_spot *spot;
    fr_sim_emr *emr;
    char region[32];
    char account[16];
    uint64_t seed;
    uint64_t counter;
    fr_sim_capacity_hole *holes;
    size_t nholes;
    double interrupt_rate_per_hour; /* random interruptions of spot instances */
    int64_t last_random_ms;
    fr_sim_rng rng;
    fr_sim_event_fn emit;
    void *emit_arg;
} fr_sim_ec2;

void fr_sim_ec2_init(fr_sim_ec2 *e, const fr_sim_catalog *cat, fr_sim_spot *spot, fr_sim_emr *emr,
                     const char *region, const char *account, uint64_t seed, fr_sim_event_fn emit, void *emit_arg);
void fr_sim_ec2_free(fr_sim_ec2 *e);

/* A world instance: {"id","type","az","market","start_offset_s","tags","profile"}. */
int fr_sim_ec2_add_world(fr_sim_ec2 *e, const json_t *j, int64_t t0_ms, char *err, size_t errlen);
fr_sim_ec2_inst *fr_sim_ec2_find(const fr_sim_ec2 *e, const char *id);
const char *fr_sim_ec2_state(const fr_sim_ec2_inst *i, int64_t now, int *code);

/* kind: "interruption" (two-minute notice, then terminated) or "rebalance".
 * Works for EMR nodes too. FR_ENOTFOUND for an unknown id. */
int fr_sim_ec2_interrupt(fr_sim_ec2 *e, const char *id, const char *kind, int64_t now);
/* Sends due state-change events, ends interrupted instances, draws random
 * interruptions. Returns the sim time of the next scheduled event or -1. */
int64_t fr_sim_ec2_tick(fr_sim_ec2 *e, int64_t now);
int fr_sim_ec2_set_capacity(fr_sim_ec2 *e, const char *itype, const char *az, bool available, bool spot_only);

/* The wire operations (ec2_api.c). */
void fr_sim_ec2_call(fr_sim_ec2 *e, const fr_sim_call *c, int64_t now, fr_sim_resp *r);

/* Shared by the model and the wire operations. */
fr_sim_ec2_inst *fr_sim_ec2_new_inst(fr_sim_ec2 *e);
void fr_sim_ec2_make_ip(char *out, size_t n, uint64_t h);
void fr_sim_ec2_subnet_for_az(const fr_sim_ec2 *e, int az, char *out, size_t n);
void fr_sim_ec2_state_event(fr_sim_ec2 *e, const char *id, const char *state, int64_t when);
bool fr_sim_ec2_no_capacity(const fr_sim_ec2 *e, const char *itype, int az, bool spot);

/* The EventBridge envelope of an EC2 event. */
json_t *fr_sim_ec2_event(const fr_sim_ec2 *e, const char *detail_type, const char *id, json_t *detail, int64_t when);

#endif
