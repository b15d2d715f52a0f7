/* Private to the EMR driver (src/emr/driver.c, runner.c, api.c). */
#ifndef FRUGAL_EMRD_INTERNAL_H
#define FRUGAL_EMRD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "frugal/app.h"
#include "frugal/aws.h"
#include "frugal/emr_analysis.h"
#include "frugal/emr_cost.h"
#include "frugal/emr_catalog.h"
#include "frugal/emr_workflow.h"
#include "frugal/emrd.h"
#include "frugal/journal.h"

struct fr_agent;
struct analysis;
struct run;
struct mq_entry;

typedef struct emrd_waiter {
    fr_emrd_cb cb;
    void *arg;
    struct emrd_waiter *next;
} emrd_waiter;

struct fr_emrd {
    fr_app *app;
    fr_aws *aws;
    fr_journal *journal;
    fr_emr_catalog *catalog;
    struct fr_agent *agent;
    /* discovery cache */
    json_t *clusters; /* the GET /api/clusters answer */
    int64_t clusters_at_ms;
    emrd_waiter *cl_waiters;
    fr_aws_op *cl_op;
    int cl_refreshing;
    /* analyses in flight and recent results */
    struct analysis *analyses;
    json_t *results; /* cluster id -> {"at": ms, "analysis": {...}} */
    /* GetMetricData shared across analyses */
    struct mq_entry *mq_head, *mq_tail;
    size_t mq_queries;
    uv_timer_t *mq_timer;
    int mq_inflight;
    /* recent spot prices: "type|az" -> {"usd": x, "at": ms} */
    json_t *spot;
    /* runs that are not finished */
    struct run *runs;
    int draining;
    int stopped;
};

/* driver.c */
int64_t emrd_now(void);
void emrd_log_run_line(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *emrd_param_path(fr_emrd *d, const char *name, char *out, size_t n);
void emrd_fill_prices(fr_emrd *d, fr_emr_prices *p);

/* runner.c */
int emrd_run_create(fr_emrd *d, const json_t *analysis, const char *principal, const char *conversation_id,
                    json_t **run_out, char *err, size_t errlen);
int emrd_run_approve(fr_emrd *d, const char *run_id, const char *principal, const json_t *steps, json_t **run_out,
                     char *err, size_t errlen);
int emrd_run_cancel(fr_emrd *d, const char *run_id, const char *principal, json_t **run_out, char *err,
                    size_t errlen);
void emrd_runs_recover(fr_emrd *d);
void emrd_runs_drain(fr_emrd *d);
void emrd_runs_free(fr_emrd *d);
int emrd_runs_busy(fr_emrd *d);
json_t *emrd_run_public(const json_t *rec);

/* api.c */
void emrd_api_register(fr_emrd *d);

#endif
