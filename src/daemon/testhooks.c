/* Test-only endpoints, registered only when FRUGAL_TEST_ENDPOINTS=1 (never
 * in production). They authenticate like every other /api/ route.
 *
 *   POST /api/_test/publish {"type":T, "count":N, "data":{...}}
 *        publishes N feed events of type T; each event's data is a copy of
 *        "data" plus "i" (0..N-1). Answers {"first_seq","last_seq","count"}.
 *   GET  /api/_test/routes
 *        every registered route: [{"method","pattern","public"}].
 *   POST /api/_test/http {"url":U, "service":S, "max_retries":R,
 *        "initial_ms":I, "timeout_ms":T}
 *        one retried call (fr_call) through the daemon's HTTP client, so the
 *        client's per-service metrics can be observed. Answers
 *        {"status","err","attempts","throttles"} once the call is done. */
#include <stdlib.h>
#include <string.h>

#include "frugal/call.h"
#include "frugal/err.h"
#include "frugal/feed.h"
#include "frugal/log.h"
#include "frugal/str.h"
#include "testhooks.h"

#define MAX_PUBLISH 200000

static int h_publish(fr_web_req *r, void *arg)
{
    fr_app *a = arg;
    json_t *body = fr_web_body(r);
    if (!body)
        return 0;
    const char *type = json_string_value(json_object_get(body, "type"));
    json_t *count = json_object_get(body, "count");
    json_t *data = json_object_get(body, "data");
    json_int_t n = count ? json_integer_value(count) : 1;
    if (!type || !*type || (count && !json_is_integer(count)) || n < 1 || n > MAX_PUBLISH ||
        (data && !json_is_object(data))) {
        fr_web_error(r, 400, "bad_request", "expected {\"type\":string, \"count\":1..%d, \"data\":object}",
                     MAX_PUBLISH);
        return 0;
    }
    uint64_t first = 0, seq = 0;
    for (json_int_t i = 0; i < n; i++) {
        json_t *d = data ? json_deep_copy(data) : json_object();
        json_object_set_new(d, "i", json_integer(i));
        int rc = fr_feed_publish(a->feed, type, d, &seq);
        if (rc) {
            fr_web_error(r, 500, "publish_failed", "%s", fr_strerror(rc));
            return 0;
        }
        if (i == 0)
            first = seq;
    }
    fr_web_json(r, 200,
                json_pack("{s:I, s:I, s:I}", "first_seq", (json_int_t)first, "last_seq", (json_int_t)seq, "count", n));
    return 0;
}

static void add_route(void *arg, const char *method, const char *pattern, int flags)
{
    json_array_append_new(arg, json_pack("{s:s, s:s, s:b}", "method", method, "pattern", pattern, "public",
                                         (flags & FR_ROUTE_PUBLIC) != 0));
}

static int h_routes(fr_web_req *r, void *arg)
{
    fr_app *a = arg;
    json_t *arr = json_array();
    fr_web_foreach_route(a->web, add_route, arr);
    fr_web_json(r, 200, json_pack("{s:o}", "routes", arr));
    return 0;
}

struct http_probe {
    fr_web_async *async;
    char *url;
    uint64_t timeout_ms;
    fr_call *call;
    struct http_probe *prev, *next;
};

/* Calls still running; cancelled when the web server closes, so a shutdown
 * never leaves a call (or its backoff timer) behind. */
static struct http_probe *probes;

static void probe_unlink_free(struct http_probe *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        probes = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p->url);
    free(p);
}

static void cancel_probes(void *arg)
{
    (void)arg;
    while (probes) {
        fr_call_cancel(probes->call); /* the web server answers the request itself */
        probe_unlink_free(probes);
    }
}

static int probe_build(void *arg, int attempt, fr_http_opts *o)
{
    struct http_probe *p = arg;
    (void)attempt;
    o->url = p->url;
    o->timeout_ms = p->timeout_ms; /* 0: the client's default */
    return 0;
}

static void probe_done(void *arg, const fr_http_resp *resp, const fr_call_result *res)
{
    struct http_probe *p = arg;
    fr_web_async_json(p->async, 200,
                      json_pack("{s:I, s:s, s:i, s:i}", "status", (json_int_t)(resp ? resp->status : 0), "err",
                                fr_errname(res->err), "attempts", res->attempts, "throttles", res->throttles));
    probe_unlink_free(p);
}

static int h_http(fr_web_req *r, void *arg)
{
    fr_app *a = arg;
    json_t *body = fr_web_body(r);
    if (!body)
        return 0;
    const char *url = json_string_value(json_object_get(body, "url"));
    const char *service = json_string_value(json_object_get(body, "service"));
    json_int_t retries = json_integer_value(json_object_get(body, "max_retries"));
    json_int_t initial = json_integer_value(json_object_get(body, "initial_ms"));
    json_int_t timeout = json_integer_value(json_object_get(body, "timeout_ms"));
    if (!url || !fr_str_startswith(url, "http://127.0.0.1:") || retries < 0 || retries > 10 || initial < 0 ||
        initial > 10000 || timeout < 0 || timeout > 600000) {
        fr_web_error(r, 400, "bad_request", "expected {\"url\":\"http://127.0.0.1:...\", \"service\", ...}");
        return 0;
    }
    struct http_probe *p = calloc(1, sizeof(*p));
    p->url = fr_strdup(url);
    p->timeout_ms = (uint64_t)timeout;
    fr_call_spec spec = {
        .service = service ? service : "test",
        .policy = {(uint64_t)(initial ? initial : 10), 1000, (int)retries, 5000},
        .build = probe_build,
        .done = probe_done,
        .arg = p,
    };
    p->async = fr_web_defer(r);
    p->next = probes;
    if (probes)
        probes->prev = p;
    probes = p;
    int rc = fr_call_start(a->http, a->loop, &spec, &p->call);
    if (rc) {
        fr_web_async_error(p->async, 500, "call_failed", fr_strerror(rc));
        probe_unlink_free(p);
    }
    return FR_WEB_DEFERRED;
}

void fr_testhooks_register(fr_app *a)
{
    const char *on = getenv("FRUGAL_TEST_ENDPOINTS");
    if (!on || strcmp(on, "1") != 0)
        return;
    fr_log_warn("testhooks.enabled", "{s:s}", "routes", "/api/_test/*");
    fr_web_route(a->web, "POST", "/api/_test/publish", h_publish, a, 0);
    fr_web_route(a->web, "GET", "/api/_test/routes", h_routes, a, 0);
    fr_web_route(a->web, "POST", "/api/_test/http", h_http, a, 0);
    fr_web_on_close(a->web, cancel_probes, NULL);
}
