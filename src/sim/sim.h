/* The simulated account: every service's state, the world, the clock, the
 * credentials, faults and counters, and the request pipeline (route,
 * authenticate, inject faults, run the operation). Pure: the shell passes
 * monotonic and wall-clock time in and delivers the response. */
#ifndef FR_SIM_SIM_H
#define FR_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "auth.h"
#include "catalog.h"
#include "chat.h"
#include "clock.h"
#include "cw.h"
#include "ec2.h"
#include "emr.h"
#include "faults.h"
#include "imds.h"
#include "lambda.h"
#include "profile.h"
#include "proto.h"
#include "spot.h"
#include "sqs.h"
#include "ssm.h"

#define FR_SIM_DEFAULT_ACCESS_KEY "AKIAFRUGALSIMULATED0"
#define FR_SIM_DEFAULT_SECRET_KEY "frugal-sim-secret-key-not-a-real-one"
#define FR_SIM_ACCOUNT "123456789012"

typedef struct fr_sim_opts {
    char listen[128];
    char imds_listen[128];
    uint64_t seed;
    int clusters;
    int ec2_instances;
    const char *world_file;
    const char *world_out;
    const char *prices_file;
    const char *chat_script;
    const char *catalog_file;
    const char *traces_dir;
    const char *faults; /* JSON rule or list of rules, or @FILE */
    const char *imds_instance;
    double clock_speed;
    double lambda_delay_s;
    char access_key[128];
    char secret_key[128];
    char region[32];
    bool no_verify;
    bool aws_limits;
    int64_t start_ms; /* 0: the real time at start-up */
} fr_sim_opts;

void fr_sim_opts_default(fr_sim_opts *o);

typedef struct fr_sim {
    fr_sim_opts o;
    fr_sim_clock clock;
    fr_sim_catalog cat;
    fr_sim_traces traces;
    json_t *world;
    int64_t t0_ms; /* world anchor: sim start floored to the minute */
    fr_sim_emr emr;
    fr_sim_ssm ssm;
    fr_sim_lambda lambda;
    fr_sim_cw cw;
    fr_sim_spot spot;
    fr_sim_ec2 ec2;
    fr_sim_sqs sqs;
    fr_sim_imds imds;
    fr_sim_chat chat;
    fr_sim_faults faults;
    fr_sim_auth auth;
    char endpoint[160];
    uint64_t reqno;
    char *prices_text; /* kept to re-anchor on reset */
    size_t prices_len;
    uint64_t events_sent;
    int64_t real_ms; /* wall clock of the call being processed */
} fr_sim;

/* Reads data files (start-up only), builds the world and every service.
 * endpoint is "http://host:port" for queue URLs. */
int fr_sim_new(fr_sim **out, const fr_sim_opts *o, const char *endpoint, uint64_t mono_ms, int64_t real_ms,
               char *err, size_t errlen);
void fr_sim_free(fr_sim *s);
int64_t fr_sim_now(const fr_sim *s, uint64_t mono_ms);

/* Rebuilds the services from a world (NULL: the current one), anchored at
 * the current sim time. Faults, counters and invocations are cleared. */
int fr_sim_reset(fr_sim *s, json_t *world, uint64_t mono_ms, int64_t real_ms, char *err, size_t errlen);

/* What the shell must do besides sending r. */
typedef struct fr_sim_outcome {
    fr_sim_fault_decision fault;
    /* SQS long poll: wait up to wait_ms (real) on queue, then ask again */
    int64_t wait_ms;
    fr_sim_queue *queue;
    fr_sim_call call; /* kept (owned) while waiting */
    fr_sim_svc svc;
    char op[64];
} fr_sim_outcome;

void fr_sim_handle_aws(fr_sim *s, const fr_sim_raw_req *raw, uint64_t mono_ms, int64_t real_ms, fr_sim_resp *r,
                       fr_sim_outcome *out);
/* A parked SQS receive asked again (may_wait false at the deadline). */
void fr_sim_sqs_retry(fr_sim *s, fr_sim_outcome *out, int64_t real_ms, bool may_wait, fr_sim_resp *r);
void fr_sim_handle_imds(fr_sim *s, const fr_sim_raw_req *raw, const char *path, uint64_t mono_ms, int64_t real_ms,
                        fr_sim_resp *r, fr_sim_fault_decision *fd);
void fr_sim_handle_chat(fr_sim *s, const fr_sim_raw_req *raw, const char *path, const char *query, int64_t real_ms,
                        fr_sim_resp *r, fr_sim_fault_decision *fd, int64_t *chunk_delay_ms);
/* The control API under /_sim/ (control.c). */
void fr_sim_control(fr_sim *s, const char *method, const char *path, const char *query, const char *body, size_t len,
                    uint64_t mono_ms, int64_t real_ms, fr_sim_resp *r);

/* Runs what is due (queued Lambda invocations, interruptions, events);
 * returns real ms until the next scheduled thing, or -1. */
int64_t fr_sim_tick(fr_sim *s, uint64_t mono_ms);

/* Measured utilisation of a cluster's node types (control API, tests). */
json_t *fr_sim_cluster_measure(fr_sim *s, fr_sim_cluster *c, int64_t now);
json_t *fr_sim_cluster_detail(fr_sim *s, fr_sim_cluster *c, int64_t now);

#endif
