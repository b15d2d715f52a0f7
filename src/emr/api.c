/* REST handlers of the EMR agent (docs/api.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/commands.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "emrd_internal.h"

/* The HTTP status and the error code (the web layer's lower-case
 * vocabulary, docs/api.md) of an error from the agent. Request bodies are
 * checked before they get here, so a parse error is about AWS data. */
static int status_of(int err)
{
    switch (err) {
    case FR_ENOTFOUND:
        return 404;
    case FR_ESTATE:
    case FR_ECONFLICT:
        return 409;
    case FR_EDENIED:
        return 403;
    case -EINVAL:
        return 400;
    case -ECANCELED:
        return 503;
    case -ETIMEDOUT:
        return 504;
    default:
        return 502;
    }
}

static const char *code_of(int err)
{
    switch (err) {
    case FR_ENOTFOUND:
        return "not_found";
    case FR_ESTATE:
        return "wrong_state";
    case FR_ECONFLICT:
        return "conflict";
    case FR_EDENIED:
        return "forbidden";
    case -EINVAL:
        return "bad_request";
    case FR_EPARSE:
        return "bad_aws_data";
    case -ECANCELED:
        return "unavailable";
    case -ETIMEDOUT:
        return "timeout";
    case FR_ETHROTTLED:
        return "aws_throttled";
    case FR_ECRED:
        return "aws_credentials";
    case FR_EAWS:
        return "aws_error";
    default:
        return "upstream_error";
    }
}

static void on_json(void *arg, int err, json_t *result, const char *msg)
{
    fr_web_async *a = arg;
    if (err) {
        json_decref(result);
        fr_web_async_error(a, status_of(err), code_of(err), msg ? msg : fr_strerror(err));
        return;
    }
    fr_web_async_json(a, 200, result);
}

static bool flag(fr_web_req *r, const char *name)
{
    const char *v = fr_web_query(r, name);
    bool b = false;
    return v && (fr_parse_bool(v, &b) == 0 ? b : *v != '\0');
}

/* The {name} of the path, or NULL after answering 400. */
static const char *name_param(fr_web_req *r)
{
    const char *name = fr_web_param(r, "name");
    if (!name || !fr_cmd_valid_name(name)) {
        fr_web_error(r, 400, "bad_name", "cluster names are 1..256 letters, digits, - _ .");
        return NULL;
    }
    return name;
}

static int h_clusters(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    fr_web_async *a = fr_web_defer(r);
    int rc = fr_emrd_clusters(d, flag(r, "refresh"), on_json, a);
    if (rc)
        fr_web_async_error(a, status_of(rc), code_of(rc), fr_strerror(rc));
    return FR_WEB_DEFERRED;
}

static int h_analysis(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    const char *name = name_param(r);
    const char *cid = fr_web_query(r, "cluster_id");
    if (!name)
        return 0;
    if (cid && (strlen(cid) > 30 || !fr_cmd_valid_name(cid))) {
        fr_web_error(r, 400, "bad_cluster_id", "cluster_id is malformed");
        return 0;
    }
    fr_web_async *a = fr_web_defer(r);
    int rc = fr_emrd_analysis(d, name, cid, flag(r, "refresh"), on_json, a);
    if (rc)
        fr_web_async_error(a, status_of(rc), code_of(rc), fr_strerror(rc));
    return FR_WEB_DEFERRED;
}

static int h_config(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    const char *name = name_param(r);
    if (!name)
        return 0;
    fr_web_async *a = fr_web_defer(r);
    int rc = fr_emrd_config_summary(d, name, on_json, a);
    if (rc)
        fr_web_async_error(a, status_of(rc), code_of(rc), fr_strerror(rc));
    return FR_WEB_DEFERRED;
}

static const char *run_id_of(fr_web_req *r, json_t *body)
{
    const char *id = json_string_value(json_object_get(body, "run_id"));
    if (!id || strlen(id) >= FR_RUN_ID_MAX || !fr_cmd_valid_name(id)) {
        fr_web_error(r, 400, "bad_run_id", "run_id is required");
        return NULL;
    }
    return id;
}

static int h_approve(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    json_t *body = fr_web_body(r);
    if (!body)
        return 0;
    const char *id = run_id_of(r, body);
    if (!id)
        return 0;
    const json_t *steps = json_object_get(body, "steps");
    if (steps && !json_is_array(steps)) {
        fr_web_error(r, 400, "bad_steps", "steps must be an array of step ids");
        return 0;
    }
    char err[300] = "";
    json_t *run = NULL;
    int rc = fr_emrd_approve(d, id, fr_web_principal(r), steps, &run, err, sizeof(err));
    if (rc) {
        fr_web_error(r, status_of(rc), code_of(rc), "%s", err);
        return 0;
    }
    fr_web_json(r, 200, json_pack("{s:s, s:o}", "run_id", id, "run", run));
    return 0;
}

static int h_cancel(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    json_t *body = fr_web_body(r);
    if (!body)
        return 0;
    const char *id = run_id_of(r, body);
    if (!id)
        return 0;
    char err[300] = "";
    json_t *run = NULL;
    int rc = fr_emrd_cancel(d, id, fr_web_principal(r), &run, err, sizeof(err));
    if (rc) {
        fr_web_error(r, status_of(rc), code_of(rc), "%s", err);
        return 0;
    }
    fr_web_json(r, 200, json_pack("{s:s, s:o}", "run_id", id, "run", run ? run : json_null()));
    return 0;
}

static int h_status(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    const char *id = fr_web_query(r, "run_id");
    json_t *run = id ? fr_emrd_run(d, id) : fr_emrd_current_run(d);
    if (id && !run) {
        fr_web_error(r, 404, "not_found", "no run %s", id);
        return 0;
    }
    fr_web_json(r, 200, json_pack("{s:o}", "run", run ? run : json_null()));
    return 0;
}

static int h_runs(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    uint64_t limit = 50;
    const char *l = fr_web_query(r, "limit");
    if (l && (fr_parse_u64(l, &limit) != 0 || limit == 0 || limit > 1000)) {
        fr_web_error(r, 400, "bad_query", "limit must be 1..1000");
        return 0;
    }
    fr_web_json(r, 200, json_pack("{s:o}", "runs", fr_emrd_runs(d, (size_t)limit)));
    return 0;
}

static int h_run(fr_web_req *r, void *arg)
{
    fr_emrd *d = arg;
    const char *id = fr_web_param(r, "id");
    json_t *run = id ? fr_emrd_run(d, id) : NULL;
    if (!run) {
        fr_web_error(r, 404, "not_found", "no run %s", id ? id : "");
        return 0;
    }
    fr_web_json(r, 200, run);
    return 0;
}

void emrd_api_register(fr_emrd *d)
{
    fr_web *w = d->app->web;
    fr_web_route(w, "GET", "/api/clusters", h_clusters, d, 0);
    fr_web_route(w, "GET", "/api/clusters/{name}/analysis", h_analysis, d, 0);
    fr_web_route(w, "GET", "/api/clusters/{name}/config", h_config, d, 0);
    fr_web_route(w, "POST", "/api/agent/approve", h_approve, d, 0);
    fr_web_route(w, "POST", "/api/agent/cancel", h_cancel, d, 0);
    fr_web_route(w, "GET", "/api/agent/status", h_status, d, 0);
    fr_web_route(w, "GET", "/api/runs", h_runs, d, 0);
    fr_web_route(w, "GET", "/api/runs/{id}", h_run, d, 0);
}
