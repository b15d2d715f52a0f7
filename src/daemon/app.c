#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fr_config.h"
#include "frugal/app.h"
#include "frugal/audit.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/metrics.h"
#include "frugal/redact.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "modules.h"
#include "state.h"
#include "testhooks.h"

extern char **environ;

static const char *env_get(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

/* ---- audit sink: LMDB + feed ---- */

static int audit_sink(void *arg, const json_t *rec)
{
    fr_app *a = arg;
    char *txt = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!txt)
        return -ENOMEM;
    uint64_t seq;
    int rc = fr_store_append(a->store, FR_TBL_AUDIT, txt, strlen(txt), &seq);
    free(txt);
    if (rc)
        return rc;
    const char *cid = json_string_value(json_object_get(rec, "correlation_id"));
    if (cid && *cid && strlen(cid) < 200) {
        unsigned char key[256];
        size_t cl = strlen(cid);
        memcpy(key, cid, cl);
        key[cl] = '\0';
        fr_store_seq_key(seq, key + cl + 1);
        rc = fr_store_put(a->store, FR_TBL_AUDIT_IDX, key, cl + 9, "", 0);
    }
    if (a->feed) {
        json_t *copy = json_deep_copy(rec);
        json_object_set_new(copy, "audit_seq", json_integer((json_int_t)seq));
        fr_feed_publish(a->feed, "audit", copy, NULL);
    }
    return rc;
}

/* ---- handlers ---- */

const char *fr_app_web_root(const fr_app *a)
{
    return a->web_root;
}

const char *fr_app_aws_endpoint(const fr_app *a)
{
    if (a->cfg.aws_endpoint_url && *a->cfg.aws_endpoint_url)
        return a->cfg.aws_endpoint_url;
    const char *e = getenv("AWS_ENDPOINT_URL");
    return e && *e ? e : "https://*.amazonaws.com";
}

static int h_health(fr_web_req *r, void *arg)
{
    fr_app *a = arg;
    fr_store_stats st;
    fr_store_stats_get(a->store, &st);
    fr_http_stats hs;
    fr_http_stats_get(a->http, &hs);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:{s:s, s:I, s:I, s:I}, s:{s:s, s:s}, s:{s:i, s:I}, s:{s:I, s:I}}",
                          "status", a->stopping ? "stopping" : "ok", "version", FR_VERSION, "uptime_s",
                          (json_int_t)((fr_time_now_ms() - a->started_ms) / 1000), "listen", a->listen_addr, "store",
                          "status", st.commit_errors ? "degraded" : "ok", "map_size", (json_int_t)st.map_size,
                          "used_bytes", (json_int_t)st.used_bytes, "commit_errors", (json_int_t)st.commit_errors,
                          "aws", "endpoint", fr_app_aws_endpoint(a), "region",
                          a->cfg.aws_region && *a->cfg.aws_region ? a->cfg.aws_region
                          : getenv("AWS_REGION")                  ? getenv("AWS_REGION")
                                                                  : (getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") : "us-east-1"),
                          "feed", "clients", fr_feed_clients(a->feed), "last_seq",
                          (json_int_t)fr_feed_last_seq(a->feed), "http_client", "in_flight",
                          (json_int_t)hs.in_flight, "queued", (json_int_t)hs.queued);
    fr_web_json(r, 200, j);
    return 0;
}

static int h_config(fr_web_req *r, void *arg)
{
    fr_app *a = arg;
    fr_web_json(r, 200, fr_config_to_json(&a->cfg));
    return 0;
}

struct audit_ctx {
    fr_app *a;
    json_t *arr;
    size_t limit;
};

static int audit_idx_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct audit_ctx *c = arg;
    if (kl < 9)
        return 0;
    uint64_t seq = fr_store_key_seq((const char *)k + kl - 8);
    unsigned char sk[8];
    fr_store_seq_key(seq, sk);
    fr_buf b = FR_BUF_INIT;
    if (fr_store_get(c->a->store, FR_TBL_AUDIT, sk, 8, &b) == 0) {
        json_t *j = json_loadb(b.data, b.len, 0, NULL);
        if (j)
            json_array_append_new(c->arr, j);
    }
    fr_buf_free(&b);
    return json_array_size(c->arr) >= c->limit;
}

static int audit_all_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct audit_ctx *c = arg;
    json_t *j = json_loadb(v, vl, 0, NULL);
    if (j)
        json_array_append_new(c->arr, j);
    return json_array_size(c->arr) >= c->limit;
}

static int h_audit(fr_web_req *r, void *arg)
{
    fr_app *a = arg;
    uint64_t limit = 200;
    const char *l = fr_web_query(r, "limit");
    if (l && (fr_parse_u64(l, &limit) != 0 || limit == 0)) {
        fr_web_error(r, 400, "bad_query", "limit must be a positive integer");
        return 0;
    }
    if (limit > 5000)
        limit = 5000;
    struct audit_ctx c = {a, json_array(), (size_t)limit};
    const char *run = fr_web_query(r, "run");
    if (!run)
        run = fr_web_query(r, "correlation_id");
    if (run) {
        size_t rl = strlen(run);
        if (rl == 0 || rl > 200) {
            json_decref(c.arr);
            fr_web_error(r, 400, "bad_query", "run must be a run id");
            return 0;
        }
        char *prefix = malloc(rl + 1);
        memcpy(prefix, run, rl);
        prefix[rl] = '\0';
        fr_store_scan_prefix(a->store, FR_TBL_AUDIT_IDX, prefix, rl + 1, audit_idx_cb, &c);
        free(prefix);
    } else {
        fr_store_scan(a->store, FR_TBL_AUDIT, NULL, 0, true, audit_all_cb, &c);
    }
    fr_web_json(r, 200, json_pack("{s:o}", "audit", c.arr));
    return 0;
}

/* ---- tick and housekeeping ---- */

/* Group commit: whatever was staged since the last batch becomes one write
 * transaction, applied on the thread pool so the commit's fsyncs never
 * block the loop; the next batch gathers meanwhile. Callbacks (journal
 * intents, the feed's broadcast) run back on the loop once it is durable. */
static void tick(fr_app *a);

static void commit_work(uv_work_t *w)
{
    fr_app *a = w->data;
    fr_store_batch_apply(a->store, a->batch);
}

static void commit_done(uv_work_t *w, int status)
{
    fr_app *a = w->data;
    if (fr_store_batch_finish(a->store, a->batch) == -EAGAIN) {
        uv_queue_work(a->loop, &a->commit_req, commit_work, commit_done); /* map grown: again */
        return;
    }
    a->batch = NULL;
    tick(a);
}

static void tick(fr_app *a)
{
    if (!a->store || a->batch || !fr_store_has_work(a->store))
        return;
    a->batch = fr_store_batch_take(a->store);
    if (!a->batch)
        return;
    a->commit_req.data = a;
    if (uv_queue_work(a->loop, &a->commit_req, commit_work, commit_done) != 0) {
        /* no thread pool: commit here rather than lose the batch */
        fr_store_batch_apply(a->store, a->batch);
        while (fr_store_batch_finish(a->store, a->batch) == -EAGAIN)
            fr_store_batch_apply(a->store, a->batch);
        a->batch = NULL;
    }
}

static void on_prepare(uv_prepare_t *h)
{
    tick(h->data);
}

static void on_check(uv_check_t *h)
{
    tick(h->data);
}

static void on_house(uv_timer_t *t)
{
    fr_app *a = t->data;
    uint64_t now = uv_now(a->loop);
    if (a->lag_last_ms) {
        int64_t lag = (int64_t)(now - a->lag_last_ms) - 1000;
        a->lag_ms = lag > 0 ? (double)lag : 0;
    }
    a->lag_last_ms = now;
    fr_metric_put("frugal_loop_lag_ms", "How late the 1 s housekeeping timer fired", "", a->lag_ms);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                     ru.ru_stime.tv_usec / 1e6;
        fr_metric_put("frugal_process_cpu_seconds_total", "User+system CPU time", "", cpu);
        fr_metric_put("frugal_process_max_rss_bytes", "Peak resident set size", "", (double)ru.ru_maxrss * 1024);
    }
    fr_store_stats st;
    fr_store_stats_get(a->store, &st);
    fr_metric_put("frugal_store_map_bytes", "LMDB map size", "", (double)st.map_size);
    fr_metric_put("frugal_store_used_bytes", "LMDB pages in use", "", (double)st.used_bytes);
    fr_metric_put("frugal_store_commit_errors_total", "Failed store commits", "", (double)st.commit_errors);
    fr_http_stats hs;
    fr_http_stats_get(a->http, &hs);
    fr_metric_put("frugal_http_client_sockets", "Open client sockets", "", (double)hs.sockets);
    fr_metric_put("frugal_http_client_queued", "Client requests waiting for a connection slot", "", (double)hs.queued);
    fr_metric_put("frugal_uptime_seconds", "Seconds since start", "", (double)(fr_time_now_ms() - a->started_ms) / 1000);
}

/* ---- shutdown ---- */

static void handle_closed(uv_handle_t *h)
{
    fr_app *a = h->data;
    a->handles_open--;
    if (a->handles_open == 0)
        uv_stop(a->loop);
}

static void close_own_handles(fr_app *a)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&a->sig_int, (uv_handle_t *)&a->sig_term, (uv_handle_t *)&a->sig_hup,
                         (uv_handle_t *)&a->prep,    (uv_handle_t *)&a->check,    (uv_handle_t *)&a->house,
                         (uv_handle_t *)&a->drain_timer};
    for (size_t i = 0; i < FR_ARRAY_SIZE(hs); i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], handle_closed);
}

static void on_http_closed(void *arg)
{
    fr_app *a = arg;
    a->http = NULL;
    a->http_closed = 1;
    if (a->feed)
        fr_feed_free(a->feed);
    a->feed = NULL;
    close_own_handles(a); /* a batch still being written finishes before the loop ends */
}

static void on_web_closed(void *arg)
{
    fr_app *a = arg;
    a->web_closed = 1;
    /* Modules stop (in reverse start order) while the HTTP client still
     * exists: stopping cancels their calls, and fr_http_close() frees every
     * request it still holds, so a cancel after it would touch freed memory. */
    size_t n = 0;
    while (fr_modules[n])
        n++;
    while (n-- > 0)
        if (fr_modules[n]->stop)
            fr_modules[n]->stop(a);
    if (a->http)
        fr_http_close(a->http, on_http_closed, a);
    else
        on_http_closed(a);
}

static int modules_busy(fr_app *a)
{
    for (size_t i = 0; fr_modules[i]; i++)
        if (fr_modules[i]->busy && fr_modules[i]->busy(a))
            return 1;
    return 0;
}

static void on_drain_tick(uv_timer_t *t)
{
    fr_app *a = t->data;
    fr_http_stats hs = {0};
    if (a->http)
        fr_http_stats_get(a->http, &hs);
    int busy = modules_busy(a) || hs.in_flight || hs.queued;
    if (busy && uv_now(a->loop) < a->drain_deadline_ms)
        return;
    if (busy)
        fr_log_warn("shutdown.drain_timeout", "{s:I, s:I}", "in_flight", (json_int_t)hs.in_flight, "queued",
                    (json_int_t)hs.queued);
    uv_timer_stop(t);
    if (a->web)
        fr_web_close(a->web, on_web_closed, a);
    else
        on_web_closed(a);
}

void fr_app_shutdown(fr_app *a, const char *reason)
{
    if (a->stopping)
        return;
    a->stopping = 1;
    fr_log_info("shutdown", "{s:s}", "reason", reason);
    uv_signal_stop(&a->sig_hup);
    for (size_t i = 0; fr_modules[i]; i++)
        if (fr_modules[i]->drain)
            fr_modules[i]->drain(a);
    uv_timer_stop(&a->house);
    a->drain_deadline_ms = uv_now(a->loop) + a->cfg.drain_timeout_ms;
    uv_timer_start(&a->drain_timer, on_drain_tick, 0, 100);
}

static void on_signal(uv_signal_t *s, int signum)
{
    fr_app *a = s->data;
    if (signum == SIGHUP) {
        fr_app_reload(a);
        return;
    }
    if (a->stopping) {
        fr_log_warn("shutdown.forced", "{s:i}", "signal", signum);
        return;
    }
    fr_app_shutdown(a, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- lifecycle ---- */

int fr_app_init(fr_app *a, uv_loop_t *loop, const fr_config *cfg, const char *config_path, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->loop = loop;
    fr_config_copy(&a->cfg, cfg);
    a->config_path = fr_strdup(config_path);
    a->started_ms = fr_time_now_ms();
    fr_log_level lvl;
    if (fr_log_level_parse(a->cfg.log_level, &lvl) == 0)
        fr_log_set_level(lvl);
    if (mkdir(a->cfg.state_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create state directory %s: %s", a->cfg.state_dir, strerror(errno));
        return -errno;
    }
    fr_store_opts so = {a->cfg.map_size, a->cfg.map_size_max, false};
    fr_buf dbdir = FR_BUF_INIT;
    fr_buf_printf(&dbdir, "%s/db", a->cfg.state_dir);
    int rc = fr_store_open(&a->store, dbdir.data, &so, err, errlen);
    fr_buf_free(&dbdir);
    if (rc)
        return rc;
    return 0;
}

static char *resolve_web_root(const fr_config *c)
{
    if (c->web_root && *c->web_root)
        return fr_strdup(c->web_root);
    struct stat st;
    if (stat(FR_WEBDIR_DEFAULT "/index.html", &st) == 0)
        return fr_strdup(FR_WEBDIR_DEFAULT);
    return fr_strdup(FR_SOURCE_WEBDIR);
}

int fr_app_start(fr_app *a, char *err, size_t errlen)
{
    int rc, generated = 0;
    /* The app's own handles exist from here on, so a failed start can
     * still shut down through the normal path. */
    uv_prepare_init(a->loop, &a->prep);
    uv_check_init(a->loop, &a->check);
    uv_timer_init(a->loop, &a->house);
    uv_timer_init(a->loop, &a->drain_timer);
    uv_signal_init(a->loop, &a->sig_int);
    uv_signal_init(a->loop, &a->sig_term);
    uv_signal_init(a->loop, &a->sig_hup);
    a->handles_open = 7;
    a->prep.data = a->check.data = a->house.data = a->drain_timer.data = a;
    a->sig_int.data = a->sig_term.data = a->sig_hup.data = a;
    a->started = 1;
    if (a->cfg.api_token && *a->cfg.api_token) {
        if (strlen(a->cfg.api_token) < 16) {
            snprintf(err, errlen, "server.api_token must be at least 16 characters");
            return FR_ECONFIG;
        }
        a->api_token = fr_strdup(a->cfg.api_token);
    } else if ((rc = fr_state_token(a->cfg.state_dir, &a->api_token, &generated)) != 0) {
        snprintf(err, errlen, "cannot read or create %s/api-token: %s", a->cfg.state_dir, fr_strerror(rc));
        return rc;
    }
    fr_redact_register(a->api_token);
    unsigned char secret[32];
    if ((rc = fr_state_secret(a->cfg.state_dir, secret)) != 0) {
        snprintf(err, errlen, "cannot read or create %s/session.key: %s", a->cfg.state_dir, fr_strerror(rc));
        return rc;
    }
    if (generated) {
        fr_log_info("api_token.generated", "{s:s}", "file", "api-token");
        if (isatty(STDERR_FILENO))
            fprintf(stderr, "frugald: generated API token (kept in %s/api-token, mode 0600):\n  %s\n",
                    a->cfg.state_dir, a->api_token);
    }

    fr_http_config hc;
    fr_http_config_defaults(&hc);
    hc.timeout_ms = a->cfg.http_timeout_ms;
    hc.connect_timeout_ms = a->cfg.http_connect_timeout_ms;
    hc.max_per_host = (int)a->cfg.http_max_per_host;
    hc.max_total = (int)a->cfg.http_max_total;
    hc.max_response = a->cfg.http_max_response;
    if ((rc = fr_http_new(&a->http, a->loop, &hc)) != 0) {
        snprintf(err, errlen, "http client: %s", fr_strerror(rc));
        return rc;
    }

    a->web_root = resolve_web_root(&a->cfg);
    fr_web_config wc = {
        .listen = a->cfg.listen,
        .web_root = a->web_root,
        .api_token = a->api_token,
        .session_secret = secret,
        .session_secret_len = sizeof(secret),
        .session_ttl_ms = a->cfg.session_ttl_ms,
        .store = a->store,
        .max_body = a->cfg.max_request_body,
    };
    if ((rc = fr_web_new(&a->web, a->loop, &wc)) != 0) {
        snprintf(err, errlen, "web: %s", fr_strerror(rc));
        return rc;
    }
    memset(secret, 0, sizeof(secret));
    fr_feed_config fc = {a->cfg.ws_max_queued, (uint64_t)a->cfg.feed_history};
    if ((rc = fr_feed_new(&a->feed, a->loop, a->web, a->store, &fc)) != 0) {
        snprintf(err, errlen, "feed: %s", fr_strerror(rc));
        return rc;
    }
    fr_audit_set_sink(audit_sink, a);
    fr_web_route(a->web, "GET", "/api/health", h_health, a, 0);
    fr_web_route(a->web, "GET", "/api/config", h_config, a, 0);
    fr_web_route(a->web, "GET", "/api/audit", h_audit, a, 0);
    fr_web_add_session_routes(a->web);
    fr_testhooks_register(a);

    uv_prepare_start(&a->prep, on_prepare);
    uv_check_start(&a->check, on_check);
    uv_timer_start(&a->house, on_house, 1000, 1000);
    uv_signal_start(&a->sig_int, on_signal, SIGINT);
    uv_signal_start(&a->sig_term, on_signal, SIGTERM);
    uv_signal_start(&a->sig_hup, on_signal, SIGHUP);

    for (size_t i = 0; fr_modules[i]; i++) {
        if (fr_modules[i]->start && (rc = fr_modules[i]->start(a, err, errlen)) != 0)
            return rc;
    }

    if ((rc = fr_web_start(a->web, a->listen_addr, sizeof(a->listen_addr))) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", a->cfg.listen, fr_strerror(rc));
        return rc;
    }
    fr_log_info("ready", "{s:s, s:s, s:s, s:s}", "listen", a->listen_addr, "version", FR_VERSION, "state_dir", a->cfg.state_dir, "aws_endpoint", fr_app_aws_endpoint(a));
    return 0;
}

int fr_app_reload(fr_app *a)
{
    fr_config nc;
    fr_config_init(&nc);
    char err[512] = "";
    int rc = 0;
    if (a->config_path)
        rc = fr_config_load_file(&nc, a->config_path, err, sizeof(err));
    if (rc == 0)
        rc = fr_config_apply_env(&nc, env_get, NULL, environ, err, sizeof(err));
    if (rc == 0)
        rc = fr_config_validate(&nc, err, sizeof(err));
    if (rc) {
        fr_log_error("reload.failed", "{s:s}", "error", err);
        fr_config_free(&nc);
        return rc;
    }
    /* Only keys marked reloadable take effect; listen, state_dir and the
     * store keep their start-up values. */
    json_t *changed = json_array();
    for (const fr_cfg_key *k = fr_config_keys(); k->section; k++) {
        if (!k->reloadable)
            continue;
        char dotted[96];
        snprintf(dotted, sizeof(dotted), "%s.%s", k->section, k->name);
        void *dst = (char *)&a->cfg + k->offset, *src = (char *)&nc + k->offset;
        if (k->type == FR_CT_STR || k->type == FR_CT_SECRET || k->type == FR_CT_ENUM || k->type == FR_CT_ADDR) {
            char **d = dst, **s = src;
            if (strcmp(*d ? *d : "", *s ? *s : "") != 0) {
                free(*d);
                *d = fr_strdup(*s);
                json_array_append_new(changed, json_string(dotted));
            }
        } else {
            size_t sz = k->type == FR_CT_BOOL ? sizeof(bool) : 8;
            if (memcmp(dst, src, sz) != 0) {
                memcpy(dst, src, sz);
                json_array_append_new(changed, json_string(dotted));
            }
        }
    }
    fr_config_free(&nc);
    fr_log_level lvl;
    if (fr_log_level_parse(a->cfg.log_level, &lvl) == 0)
        fr_log_set_level(lvl);
    fr_feed_config fc = {a->cfg.ws_max_queued, (uint64_t)a->cfg.feed_history};
    fr_feed_set_limits(a->feed, &fc);
    char *root = resolve_web_root(&a->cfg);
    fr_web_reload_static(a->web, root);
    fr_web_set_session_ttl(a->web, a->cfg.session_ttl_ms);
    free(a->web_root);
    a->web_root = root;
    for (size_t i = 0; fr_modules[i]; i++)
        if (fr_modules[i]->reload)
            fr_modules[i]->reload(a);
    fr_log_obj(FR_LOG_INFO, "reload", json_pack("{s:o}", "changed", changed));
    return 0;
}

int fr_app_finish(fr_app *a)
{
    if (a->web) {
        fr_web_free(a->web);
        a->web = NULL;
    }
    uv_run(a->loop, UV_RUN_DEFAULT);
    fr_audit_set_sink(NULL, NULL);
    if (a->store) {
        fr_store_close(a->store);
        a->store = NULL;
    }
    int rc = uv_loop_close(a->loop);
    free(a->api_token);
    free(a->web_root);
    free(a->config_path);
    fr_config_free(&a->cfg);
    return rc;
}
