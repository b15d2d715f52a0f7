/* frugald's process: one loop and the services every module shares.
 * Tests build the same object in-process. */
#ifndef FRUGAL_APP_H
#define FRUGAL_APP_H

#include <stdint.h>
#include <uv.h>

#include "frugal/config.h"
#include "frugal/feed.h"
#include "frugal/http.h"
#include "frugal/store.h"
#include "frugal/web.h"

struct fr_aws;
struct fr_emr;
struct fr_agent;

typedef struct fr_app {
    uv_loop_t *loop;
    fr_config cfg;
    char *config_path;
    fr_store *store;
    fr_http *http;
    fr_web *web;
    fr_feed *feed;
    struct fr_aws *aws;
    struct fr_emr *emr;
    struct fr_agent *agent;
    char listen_addr[128];
    char *api_token;
    char *web_root;
    int64_t started_ms;
    uint64_t lag_last_ms;
    uint64_t drain_deadline_ms;
    double lag_ms;
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_prepare_t prep;
    uv_check_t check;
    uv_timer_t house;
    uv_timer_t drain_timer;
    uv_work_t commit_req;
    struct fr_store_batch *batch; /* being committed on the thread pool */
    int started; /* own handles initialised */
    int stopping;
    int web_closed;
    int http_closed;
    int handles_open;
    int exit_code;
} fr_app;

/* cfg is copied. */
int fr_app_init(fr_app *a, uv_loop_t *loop, const fr_config *cfg, const char *config_path, char *err, size_t errlen);
int fr_app_start(fr_app *a, char *err, size_t errlen);
/* Begins the drain; the loop stops once everything is closed. */
void fr_app_shutdown(fr_app *a, const char *reason);
/* After uv_run() returned: frees h2o, the store, the config; returns what
 * uv_loop_close() returned (0 when every handle was closed). */
int fr_app_finish(fr_app *a);
/* Re-reads the config file and environment; applies what can change live. */
int fr_app_reload(fr_app *a);
const char *fr_app_web_root(const fr_app *a);
/* Resolves the AWS endpoint in use for display (health, doctor). */
const char *fr_app_aws_endpoint(const fr_app *a);

#endif
