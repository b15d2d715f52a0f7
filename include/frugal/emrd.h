/* The EMR agent service inside frugald (the "driver"): discovery, analysis,
 * proposals, and the approved workflow runs with their journal. The REST
 * handlers (src/emr/api.c) and the chat agent (src/llm/agent.c) use only
 * this interface.
 *
 * Asynchronous queries answer through fr_emrd_cb with a JSON result the
 * callback owns (the shapes are those of docs/api.md), or an error code and
 * message. Only fr_emrd_approve() ever starts changes in AWS. */
#ifndef FRUGAL_EMRD_H
#define FRUGAL_EMRD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct fr_app;
typedef struct fr_emrd fr_emrd;

typedef void (*fr_emrd_cb)(void *arg, int err, json_t *result, const char *message);

/* GET /api/clusters */
int fr_emrd_clusters(fr_emrd *e, bool refresh, fr_emrd_cb cb, void *arg);
/* GET /api/clusters/{name}/analysis; cluster_id may be NULL (newest run). */
int fr_emrd_analysis(fr_emrd *e, const char *name, const char *cluster_id, bool refresh, fr_emrd_cb cb, void *arg);
/* A read-only summary of the Parameter Store config (node types, counts,
 * market mix, GravitonAmi) - the agent's get_param_store_config tool. */
int fr_emrd_config_summary(fr_emrd *e, const char *name, fr_emrd_cb cb, void *arg);
/* Analyses and creates a run in AWAIT_APPROVAL; the result is
 * {"run_id", "run", "analysis"}. Changes nothing in AWS. */
int fr_emrd_propose(fr_emrd *e, const char *name, const char *cluster_id, const char *principal,
                    const char *conversation_id, fr_emrd_cb cb, void *arg);
/* The one approval; starts the workflow. steps: NULL (all) or an array of
 * step ids of the original cluster. FR_ESTATE / FR_ECONFLICT / FR_ENOTFOUND
 * with a message on refusal. *run_out (new ref) on success. */
int fr_emrd_approve(fr_emrd *e, const char *run_id, const char *principal, const json_t *steps, json_t **run_out,
                    char *err, size_t errlen);
int fr_emrd_cancel(fr_emrd *e, const char *run_id, const char *principal, json_t **run_out, char *err,
                   size_t errlen);
/* New references; NULL when unknown / none. */
json_t *fr_emrd_run(fr_emrd *e, const char *run_id);
json_t *fr_emrd_current_run(fr_emrd *e);
json_t *fr_emrd_runs(fr_emrd *e, size_t limit);
/* Attaches a narrative to a finished run's report (the LLM's words; the
 * numbers stay frugal's). */
int fr_emrd_set_narrative(fr_emrd *e, const char *run_id, const char *text);

fr_emrd *fr_app_emrd(struct fr_app *a);

/* The daemon module (src/daemon/modules.c). */
struct fr_agent;
int fr_emrd_start(struct fr_app *a, char *err, size_t errlen);
void fr_emrd_drain(struct fr_app *a);
int fr_emrd_busy(struct fr_app *a);
void fr_emrd_stop(struct fr_app *a);
void fr_emrd_reload(struct fr_app *a);
void fr_emrd_set_agent(fr_emrd *d, struct fr_agent *agent);

#endif
