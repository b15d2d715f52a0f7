/* The HTTP client (fr_http), the retried call (fr_call) and the limiter
 * (fr_limiter) against a local server on the same libuv loop.
 *
 * Timing assertions are one-sided or carry generous slack: timers never
 * fire early (beyond the loop clock's coarseness), but a loaded machine may
 * fire them late. Every test closes its handles, runs the loop dry and
 * asserts uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "frugal/call.h"
#include "frugal/err.h"
#include "frugal/http.h"
#include "frugal/metrics.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "testsrv.h"

#define MS 1000000ull /* ns */

/* ---- environment: a loop, a server, a client ---- */

typedef struct env {
    uv_loop_t loop;
    uv_timer_t watchdog;
    ts_server *srv;
    int port;
    fr_http *http;
    char base[64];
} env;

static void on_watchdog(uv_timer_t *t)
{
    (void)t; /* only wakes the loop so run_until can check its condition */
}

static void env_init(env *e, ts_handler h, void *arg, const fr_http_config *cfg)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    assert_int_equal(ts_start(&e->srv, &e->loop, h, arg, &e->port), 0);
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", e->port);
    assert_int_equal(fr_http_new(&e->http, &e->loop, cfg), 0);
    uv_timer_init(&e->loop, &e->watchdog);
    uv_timer_start(&e->watchdog, on_watchdog, 5, 5);
}

/* Runs the loop until *counter >= target or timeout_ms passed. */
static int run_until(env *e, const int *counter, int target, uint64_t timeout_ms)
{
    uv_update_time(&e->loop);
    uint64_t deadline = uv_now(&e->loop) + timeout_ms;
    while (*counter < target && uv_now(&e->loop) < deadline)
        uv_run(&e->loop, UV_RUN_ONCE);
    return *counter >= target;
}

static void run_for(env *e, uint64_t ms)
{
    int never = 0;
    run_until(e, &never, 1, ms);
}

static int http_closed;
static void on_http_closed(void *arg)
{
    (void)arg;
    http_closed++;
}

static void env_finish(env *e)
{
    http_closed = 0;
    fr_http_close(e->http, on_http_closed, NULL);
    ts_close(e->srv);
    uv_close((uv_handle_t *)&e->watchdog, NULL);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(http_closed, 1);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static int int_after(const char *path, const char *prefix)
{
    const char *p = strstr(path, prefix);
    int64_t v = -1;
    if (!p)
        return -1;
    p += strlen(prefix);
    char tmp[24];
    size_t n = strcspn(p, "/?");
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return fr_parse_i64(tmp, &v) == 0 ? (int)v : -1;
}

/* ---- 200 concurrent requests, per-host limit ---- */

#define NCONC 200

struct conc {
    env *e;
    int done;
    int bad;
    int header_mismatch;
    uint64_t max_in_flight;
    char *bodies[NCONC];
    size_t lens[NCONC];
};

static void conc_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    struct conc *c = arg;
    int i = int_after(in->path, "/c/");
    char hv[32] = "";
    if (ts_header(in, "x-test", hv, sizeof(hv)) != 0 || (int64_t)strtol(hv, NULL, 10) != i ||
        strcmp(in->method, "GET") != 0)
        c->header_mismatch++;
    if (i < 0 || i >= NCONC) {
        ts_respond(r, 404, NULL, "", 0);
        return;
    }
    char hdrs[96];
    snprintf(hdrs, sizeof(hdrs), "X-Req: %d\r\nContent-Type: text/plain\r\n", i);
    ts_respond_later(r, 1 + (uint64_t)(i % 7), 200, hdrs, c->bodies[i], c->lens[i]);
}

struct conc_req {
    struct conc *c;
    int i;
};

static void conc_cb(const fr_http_resp *resp, void *arg)
{
    struct conc_req *cr = arg;
    struct conc *c = cr->c;
    fr_http_stats st;
    fr_http_stats_get(c->e->http, &st);
    if (st.in_flight > c->max_in_flight)
        c->max_in_flight = st.in_flight;
    const char *x = fr_http_resp_header(resp, "x-req");
    const char *ct = fr_http_resp_header(resp, "content-type");
    if (resp->err || resp->status != 200 || !x || strtol(x, NULL, 10) != cr->i || !ct ||
        strcmp(ct, "text/plain") != 0 || resp->body_len != c->lens[cr->i] ||
        memcmp(resp->body, c->bodies[cr->i], resp->body_len) != 0 || resp->body[resp->body_len] != '\0')
        c->bad++;
    c->done++;
    free(cr);
}

static void test_concurrent_200(void **state)
{
    (void)state;
    struct conc c;
    memset(&c, 0, sizeof(c));
    for (int i = 0; i < NCONC; i++) {
        /* Mostly small bodies, every tenth one large (many reads). */
        size_t n = i % 10 == 0 ? 300000 + (size_t)i : 50 + (size_t)i * 3;
        c.bodies[i] = malloc(n);
        for (size_t k = 0; k < n; k++)
            c.bodies[i][k] = (char)('a' + (k * 7 + (size_t)i) % 26);
        c.lens[i] = n;
    }
    fr_http_config cfg;
    fr_http_config_defaults(&cfg);
    cfg.max_per_host = 16;
    env e;
    c.e = &e;
    env_init(&e, conc_handler, &c, &cfg);
    for (int i = 0; i < NCONC; i++) {
        char url[128], hdr[32];
        snprintf(url, sizeof(url), "%s/c/%d", e.base, i);
        snprintf(hdr, sizeof(hdr), "X-Test: %d", i);
        const char *hdrs[] = {hdr};
        fr_http_opts o = {.url = url, .headers = hdrs, .nheaders = 1, .timeout_ms = 20000};
        struct conc_req *cr = malloc(sizeof(*cr));
        cr->c = &c;
        cr->i = i;
        assert_int_equal(fr_http_send(e.http, &o, conc_cb, cr, NULL), 0);
    }
    fr_http_stats st;
    fr_http_stats_get(e.http, &st);
    assert_int_equal(st.in_flight, 16);
    assert_int_equal(st.queued, NCONC - 16);
    assert_true(run_until(&e, &c.done, NCONC, 30000));
    ts_stats ss;
    ts_stats_get(e.srv, &ss);
    print_message("    200 requests: server saw at most %d at once over %llu connections\n", ss.max_open_reqs,
                  (unsigned long long)ss.accepted);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.header_mismatch, 0);
    assert_int_equal(ss.requests, NCONC);
    assert_true(ss.max_open_reqs <= 16);
    assert_true(ss.max_open_reqs >= 2); /* they did overlap */
    assert_true(c.max_in_flight <= 16);
    assert_true(ss.accepted <= 32); /* connections are reused */
    fr_http_stats_get(e.http, &st);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.completed, NCONC);
    env_finish(&e);
    for (int i = 0; i < NCONC; i++)
        free(c.bodies[i]);
}

/* ---- keep-alive: sequential requests share one connection ---- */

static void ok_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    (void)arg;
    if (strcmp(in->method, "POST") == 0)
        ts_respond(r, 200, "X-Echo: post\r\n", in->body, in->body_len);
    else
        ts_respond(r, 200, NULL, "ok", 2);
}

struct seq {
    env *e;
    int done, bad;
    int left;
};

static void seq_cb(const fr_http_resp *resp, void *arg)
{
    struct seq *q = arg;
    if (resp->err || resp->status != 200 || strcmp(resp->body, "ok") != 0)
        q->bad++;
    q->done++;
    if (--q->left > 0) {
        /* Sending from inside a completion callback is allowed. */
        char url[96];
        snprintf(url, sizeof(url), "%s/seq", q->e->base);
        fr_http_opts o = {.url = url};
        if (fr_http_send(q->e->http, &o, seq_cb, q, NULL) != 0)
            q->bad++;
    }
}

static void post_cb(const fr_http_resp *resp, void *arg)
{
    int *done = arg;
    const char *echo = fr_http_resp_header(resp, "x-echo");
    if (!resp->err && resp->status == 200 && echo && strcmp(echo, "post") == 0 &&
        strcmp(resp->body, "{\"hello\":\"world\"}") == 0)
        *done += 1;
    else
        *done += 1000;
}

static void test_keepalive_and_post(void **state)
{
    (void)state;
    env e;
    env_init(&e, ok_handler, NULL, NULL);
    struct seq q = {&e, 0, 0, 20};
    char url[96];
    snprintf(url, sizeof(url), "%s/seq", e.base);
    fr_http_opts o = {.url = url};
    assert_int_equal(fr_http_send(e.http, &o, seq_cb, &q, NULL), 0);
    assert_true(run_until(&e, &q.done, 20, 10000));
    assert_int_equal(q.bad, 0);
    ts_stats ss;
    ts_stats_get(e.srv, &ss);
    assert_int_equal(ss.accepted, 1);

    int done = 0;
    const char *body = "{\"hello\":\"world\"}";
    const char *hdrs[] = {"Content-Type: application/json"};
    fr_http_opts p = {.method = "POST", .url = url, .body = body, .body_len = strlen(body), .headers = hdrs,
                      .nheaders = 1};
    assert_int_equal(fr_http_send(e.http, &p, post_cb, &done, NULL), 0);
    assert_true(run_until(&e, &done, 1, 10000));
    assert_int_equal(done, 1);
    env_finish(&e);
}

/* ---- retries: 429 / 503, backoff with full jitter, Retry-After ---- */

#define MAXCALLS 64
#define MAXATT 8

struct retry_srv {
    int hits[MAXCALLS];
    uint64_t at[MAXCALLS][MAXATT];
    fr_tbucket bucket; /* mode b */
    int bucket_throttled;
};

/* /r/MODE/ID: MODE t = always 429, u = always 503, ra = 429 "Retry-After: 1"
 * then 200, ram = 503 "retry-after-ms: 300" then 200, cap = 429
 * "Retry-After: 3600", ok = 200, b = 429 when the server's token bucket
 * (rs->bucket) is empty, else 200. */
static void retry_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    struct retry_srv *rs = arg;
    char mode[16] = "";
    const char *p = in->path + 3;
    size_t ml = strcspn(p, "/");
    if (strncmp(in->path, "/r/", 3) != 0 || ml >= sizeof(mode)) {
        ts_respond(r, 404, NULL, "", 0);
        return;
    }
    memcpy(mode, p, ml);
    int id = p[ml] == '/' ? int_after(p + ml, "/") : -1;
    if (id < 0 || id >= MAXCALLS) {
        ts_respond(r, 404, NULL, "", 0);
        return;
    }
    int n = rs->hits[id]++;
    if (n < MAXATT)
        rs->at[id][n] = in->arrival_ns;
    if (strcmp(mode, "t") == 0)
        ts_respond(r, 429, NULL, "{\"error\":\"slow down\"}", 21);
    else if (strcmp(mode, "u") == 0)
        ts_respond(r, 503, NULL, "busy", 4);
    else if (strcmp(mode, "ra") == 0 && n == 0)
        ts_respond(r, 429, "Retry-After: 1\r\n", "", 0);
    else if (strcmp(mode, "ram") == 0 && n == 0)
        ts_respond(r, 503, "retry-after-ms: 300\r\n", "", 0);
    else if (strcmp(mode, "cap") == 0)
        ts_respond(r, 429, "Retry-After: 3600\r\n", "", 0);
    else if (strcmp(mode, "b") == 0 && fr_tbucket_take(&rs->bucket, (int64_t)(in->arrival_ns / MS)) != 0) {
        rs->bucket_throttled++;
        ts_respond(r, 429, NULL, "{\"error\":\"rate exceeded\"}", 26);
    } else
        ts_respond(r, 200, NULL, "done", 4);
}

struct rcall {
    char url[128];
    int done;
    int *ndone;
    fr_call_result res;
    long status;
    char body[32];
    fr_call *call;
};

static int rcall_build(void *arg, int attempt, fr_http_opts *o)
{
    struct rcall *rc = arg;
    (void)attempt;
    o->url = rc->url;
    o->timeout_ms = 10000;
    return 0;
}

static void rcall_done(void *arg, const fr_http_resp *r, const fr_call_result *res)
{
    struct rcall *rc = arg;
    rc->done++;
    rc->res = *res;
    rc->status = r ? r->status : -1;
    if (r)
        fr_strlcpy(rc->body, r->body, sizeof(rc->body));
    rc->call = NULL;
    (*rc->ndone)++;
}

static void start_rcall2(env *e, struct rcall *rc, int *ndone, const char *mode, int id, fr_retry_policy pol,
                         fr_limiter *lim, fr_limiter *op_lim)
{
    memset(rc, 0, sizeof(*rc));
    snprintf(rc->url, sizeof(rc->url), "%s/r/%s/%d", e->base, mode, id);
    rc->ndone = ndone;
    fr_call_spec spec = {.service = "test", .policy = pol, .build = rcall_build, .done = rcall_done, .arg = rc,
                         .limiter = lim, .op_limiter = op_lim};
    assert_int_equal(fr_call_start(e->http, &e->loop, &spec, &rc->call), 0);
}

static void start_rcall(env *e, struct rcall *rc, int *ndone, const char *mode, int id, fr_retry_policy pol,
                        fr_limiter *lim)
{
    memset(rc, 0, sizeof(*rc));
    snprintf(rc->url, sizeof(rc->url), "%s/r/%s/%d", e->base, mode, id);
    rc->ndone = ndone;
    fr_call_spec spec = {.service = "test", .policy = pol, .build = rcall_build, .done = rcall_done, .arg = rc,
                         .limiter = lim};
    assert_int_equal(fr_call_start(e->http, &e->loop, &spec, &rc->call), 0);
}

static double gap_ms(const struct retry_srv *rs, int id, int n)
{
    return (double)(rs->at[id][n + 1] - rs->at[id][n]) / 1e6;
}

static void test_retry_throttle_and_5xx(void **state)
{
    (void)state;
    static struct retry_srv rs;
    memset(&rs, 0, sizeof(rs));
    env e;
    env_init(&e, retry_handler, &rs, NULL);
    enum { NT = 40, NU = 8, RETRIES = 3 };
    static struct rcall calls[NT + NU];
    int ndone = 0;
    fr_retry_policy pol = {100, 400, RETRIES, 120000};
    const double ceil_ms[RETRIES] = {100, 200, 400};
    for (int i = 0; i < NT; i++)
        start_rcall(&e, &calls[i], &ndone, "t", i, pol, NULL);
    for (int i = 0; i < NU; i++)
        start_rcall(&e, &calls[NT + i], &ndone, "u", NT + i, pol, NULL);
    assert_true(run_until(&e, &ndone, NT + NU, 20000));

    double mean[RETRIES] = {0}, minv[RETRIES], maxv[RETRIES];
    for (int n = 0; n < RETRIES; n++) {
        minv[n] = 1e9;
        maxv[n] = 0;
    }
    for (int i = 0; i < NT + NU; i++) {
        struct rcall *rc = &calls[i];
        int throttled = i < NT;
        assert_int_equal(rc->done, 1);
        assert_int_equal(rc->res.err, throttled ? FR_ETHROTTLED : FR_EHTTP);
        assert_int_equal(rc->res.attempts, RETRIES + 1);
        assert_int_equal(rc->res.throttles, throttled ? RETRIES + 1 : 0);
        assert_int_equal(rc->status, throttled ? 429 : 503);
        assert_int_equal(rs.hits[i], RETRIES + 1);
        /* The drawn delays: full jitter never exceeds the ceilings. */
        assert_true(rc->res.backoff_ms <= 100 + 200 + 400);
        double sum = 0;
        for (int n = 0; n < RETRIES; n++) {
            double g = gap_ms(&rs, i, n);
            sum += g;
            /* A gap is the drawn delay plus a round trip; slack for a loaded machine. */
            assert_true(g <= ceil_ms[n] + 500);
            mean[n] += g / (NT + NU);
            minv[n] = g < minv[n] ? g : minv[n];
            maxv[n] = g > maxv[n] ? g : maxv[n];
        }
        /* Timers never fire early: the server saw at least the drawn delays,
         * less how stale the loop clock was when each timer started (a
         * process preempted on a loaded machine: up to tens of ms). */
        assert_true(sum + 3 * 100 >= (double)rc->res.backoff_ms);
    }
    print_message("    backoff gaps (ms) mean/min/max: retry0 %.0f/%.0f/%.0f  retry1 %.0f/%.0f/%.0f  "
                  "retry2 %.0f/%.0f/%.0f\n",
                  mean[0], minv[0], maxv[0], mean[1], minv[1], maxv[1], mean[2], minv[2], maxv[2]);
    /* Growing: the mean of U[0, c_n] is c_n / 2 (50, 100, 200 ms). */
    assert_true(mean[0] < mean[1]);
    assert_true(mean[1] < mean[2]);
    /* Jittered: 48 draws are not all alike, and reach both halves of the range. */
    assert_true(maxv[0] - minv[0] > 20);
    assert_true(minv[2] < 200 && maxv[2] > 200);
    env_finish(&e);
}

static void test_retry_after(void **state)
{
    (void)state;
    static struct retry_srv rs;
    memset(&rs, 0, sizeof(rs));
    env e;
    env_init(&e, retry_handler, &rs, NULL);
    int ndone = 0;
    struct rcall ra, ram, cap;
    fr_retry_policy pol = {10, 20, 3, 2000};
    start_rcall(&e, &ra, &ndone, "ra", 0, pol, NULL);
    start_rcall(&e, &ram, &ndone, "ram", 1, pol, NULL);
    start_rcall(&e, &cap, &ndone, "cap", 2, pol, NULL);
    assert_true(run_until(&e, &ndone, 3, 10000));

    /* Retry-After: 1 (seconds) stretches a 10-20 ms backoff to a second. */
    assert_int_equal(ra.res.err, 0);
    assert_int_equal(ra.status, 200);
    assert_string_equal(ra.body, "done");
    assert_int_equal(ra.res.attempts, 2);
    assert_int_equal(ra.res.throttles, 1);
    assert_true(ra.res.backoff_ms >= 1000);
    assert_true(gap_ms(&rs, 0, 0) >= 1000 - 100); /* vs 10-20 ms without it */
    /* retry-after-ms on a 503. */
    assert_int_equal(ram.res.err, 0);
    assert_int_equal(ram.res.attempts, 2);
    assert_int_equal(ram.res.backoff_ms, 300);
    assert_true(gap_ms(&rs, 1, 0) >= 300 - 100);
    /* A server asking for longer than the cap is not retried at all. */
    assert_int_equal(cap.res.err, FR_ETHROTTLED);
    assert_int_equal(cap.res.attempts, 1);
    assert_int_equal(cap.status, 429);
    assert_int_equal(rs.hits[2], 1);
    print_message("    Retry-After 1s gap %.0f ms, retry-after-ms 300 gap %.0f ms\n", gap_ms(&rs, 0, 0),
                  gap_ms(&rs, 1, 0));
    env_finish(&e);
}

/* ---- a server that accepts and never answers ---- */

static void hang_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    (void)s;
    (void)arg;
    if (strncmp(in->path, "/hang", 5) != 0)
        ts_respond(r, 200, NULL, "ok", 2);
    /* else: keep r; freed when the client hangs up */
}

struct one {
    int done;
    int err;
    long status;
    double elapsed;
    char body[64];
};

static void one_cb(const fr_http_resp *resp, void *arg)
{
    struct one *o = arg;
    o->done++;
    o->err = resp->err;
    o->status = resp->status;
    o->elapsed = resp->elapsed_ms;
    fr_strlcpy(o->body, resp->body, sizeof(o->body));
}

static void test_hung_server_timeout(void **state)
{
    (void)state;
    env e;
    env_init(&e, hang_handler, NULL, NULL);
    char url[96];
    snprintf(url, sizeof(url), "%s/hang", e.base);
    struct one a = {0};
    fr_http_opts o = {.url = url, .timeout_ms = 300};
    uint64_t t0 = uv_hrtime();
    assert_int_equal(fr_http_send(e.http, &o, one_cb, &a, NULL), 0);
    assert_true(run_until(&e, &a.done, 1, 10000));
    double wall = (double)(uv_hrtime() - t0) / 1e6;
    print_message("    timeout after %.0f ms (elapsed_ms %.0f)\n", wall, a.elapsed);
    assert_int_equal(a.err, -ETIMEDOUT);
    assert_int_equal(a.status, 0);
    assert_true(wall >= 300 - 15);
    assert_true(a.elapsed >= 300 - 15);
    assert_true(wall < 5000);
    /* The server sees the client hang up. */
    ts_stats ss;
    for (int i = 0; i < 200; i++) {
        ts_stats_get(e.srv, &ss);
        if (ss.open_reqs == 0)
            break;
        run_for(&e, 10);
    }
    assert_int_equal(ss.open_reqs, 0);

    env_finish(&e);
}

static int short_build(void *arg, int attempt, fr_http_opts *o)
{
    struct rcall *rc = arg;
    (void)attempt;
    o->url = rc->url;
    o->timeout_ms = 200;
    return 0;
}

static void test_hung_server_call(void **state)
{
    (void)state;
    env e;
    env_init(&e, hang_handler, NULL, NULL);
    static struct rcall rc;
    int ndone = 0;
    memset(&rc, 0, sizeof(rc));
    snprintf(rc.url, sizeof(rc.url), "%s/hang", e.base);
    rc.ndone = &ndone;
    fr_call_spec spec = {.service = "hang", .policy = {10, 20, 2, 1000}, .build = short_build, .done = rcall_done,
                         .arg = &rc};
    assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &rc.call), 0);
    assert_true(run_until(&e, &ndone, 1, 10000));
    assert_int_equal(rc.res.err, -ETIMEDOUT);
    assert_int_equal(rc.res.attempts, 3);
    assert_int_equal(rc.status, 0);
    ts_stats ss;
    ts_stats_get(e.srv, &ss);
    assert_int_equal(ss.requests, 3);
    env_finish(&e);
}

/* ---- connection resets ---- */

struct cut_srv {
    int hits;
    int cut_first; /* responses cut short before a good one */
    int headers_only;
};

static void cut_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    struct cut_srv *cs = arg;
    (void)in;
    int n = cs->hits++;
    if (n < cs->cut_first) {
        if (cs->headers_only) {
            static const char raw[] = "HTTP/1.1 200 OK\r\nContent-Le";
            ts_respond_raw_close(r, raw, sizeof(raw) - 1);
        } else {
            static const char raw[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial";
            ts_respond_raw_close(r, raw, sizeof(raw) - 1);
        }
        return;
    }
    ts_respond(r, 200, NULL, "whole", 5);
}

static void run_reset_case(int drop_accepts, int rst, int cut_first, int headers_only, int want_attempts)
{
    struct cut_srv cs = {0, cut_first, headers_only};
    env e;
    env_init(&e, cut_handler, &cs, NULL);
    ts_drop_next_accepts(e.srv, drop_accepts, rst);
    static struct rcall rc;
    int ndone = 0;
    memset(&rc, 0, sizeof(rc));
    snprintf(rc.url, sizeof(rc.url), "%s/x", e.base);
    rc.ndone = &ndone;
    fr_call_spec spec = {.service = "reset", .policy = {5, 20, 5, 1000}, .build = rcall_build, .done = rcall_done,
                         .arg = &rc};
    assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &rc.call), 0);
    assert_true(run_until(&e, &ndone, 1, 10000));
    print_message("    drop %d%s, cut %d%s: err %d status %ld body \"%s\" after %d attempts\n", drop_accepts,
                  rst ? " (rst)" : "", cut_first, headers_only ? " (in headers)" : "", rc.res.err, rc.status, rc.body,
                  rc.res.attempts);
    assert_int_equal(rc.res.err, 0);
    assert_int_equal(rc.status, 200);
    assert_string_equal(rc.body, "whole");
    assert_int_equal(rc.res.attempts, want_attempts);
    assert_int_equal(rc.res.last_verdict, FR_VERDICT_OK);
    env_finish(&e);
}

static void test_reset_after_accept(void **state)
{
    (void)state;
    run_reset_case(3, 0, 0, 0, 4); /* FIN right after accept */
    run_reset_case(2, 1, 0, 0, 3); /* RST right after accept */
}

static void test_reset_mid_response(void **state)
{
    (void)state;
    run_reset_case(0, 0, 2, 0, 3); /* body cut short */
    run_reset_case(0, 0, 1, 1, 2); /* headers cut short */
}

static void test_reset_gives_up(void **state)
{
    (void)state;
    struct cut_srv cs = {0, 0, 0};
    env e;
    env_init(&e, cut_handler, &cs, NULL);
    ts_drop_next_accepts(e.srv, 100, 0);
    static struct rcall rc;
    int ndone = 0;
    memset(&rc, 0, sizeof(rc));
    snprintf(rc.url, sizeof(rc.url), "%s/x", e.base);
    rc.ndone = &ndone;
    fr_call_spec spec = {.service = "reset", .policy = {5, 10, 2, 1000}, .build = rcall_build, .done = rcall_done,
                         .arg = &rc};
    assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &rc.call), 0);
    assert_true(run_until(&e, &ndone, 1, 10000));
    assert_int_equal(rc.res.err, -ECONNRESET);
    assert_int_equal(rc.res.attempts, 3);
    assert_int_equal(rc.res.last_verdict, FR_VERDICT_RETRY);
    env_finish(&e);
}

/* ---- the limiter: token bucket and concurrency ---- */

static void slow_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    uint64_t *delay = arg;
    (void)in;
    ts_respond_later(r, *delay, 200, NULL, "done", 4);
}

static void test_limiter_token_bucket(void **state)
{
    (void)state;
    static struct retry_srv rs;
    memset(&rs, 0, sizeof(rs));
    env e;
    env_init(&e, retry_handler, &rs, NULL);
    enum { N = 16 };
    fr_limiter *lim;
    uv_update_time(&e.loop);
    uint64_t t0_ns = uv_now(&e.loop) * MS; /* the bucket's own clock */
    assert_int_equal(fr_limiter_new(&lim, &e.loop, "tb", 20.0, 4.0, 100), 0);
    static struct rcall calls[N];
    int ndone = 0;
    fr_retry_policy pol = {10, 20, 0, 1000};
    for (int i = 0; i < N; i++)
        start_rcall(&e, &calls[i], &ndone, "ok", i, pol, lim);
    assert_int_equal(fr_limiter_queued(lim), N - 4);
    assert_true(run_until(&e, &ndone, N, 10000));
    /* Arrival k (in order) needs k+1 tokens: 4 at once, then one per 50 ms. */
    uint64_t at[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls[i].res.err, 0);
        at[i] = rs.at[i][0];
    }
    for (int i = 1; i < N; i++)
        for (int j = i; j > 0 && at[j] < at[j - 1]; j--) {
            uint64_t t = at[j];
            at[j] = at[j - 1];
            at[j - 1] = t;
        }
    for (int k = 4; k < N; k++) {
        double need_ms = (k - 3) * 50.0;
        double got_ms = (double)(at[k] - t0_ns) / 1e6;
        assert_true(got_ms >= need_ms - 10);
    }
    double total = (double)(at[N - 1] - t0_ns) / 1e6;
    print_message("    16 calls at 20/s burst 4: last arrival after %.0f ms (>= 600)\n", total);
    assert_true(total < 600 + 2000);
    assert_int_equal(fr_limiter_active(lim), 0);
    fr_limiter_close(lim);
    env_finish(&e);
}

/* An account that allows 20 requests/s (burst 5) and 60 calls wanting to go
 * at once: with the adaptive operation limiter the client learns the rate
 * and is throttled far less than without it, and every call succeeds. */
static int run_bucket_calls(struct retry_srv *rs, bool adaptive, const fr_arate **ar_out, uint64_t *cuts)
{
    enum { N = 60 };
    memset(rs, 0, sizeof(*rs));
    env e;
    env_init(&e, retry_handler, rs, NULL);
    fr_tbucket_init(&rs->bucket, 20, 5, (int64_t)(fr_time_mono_ns() / MS));
    fr_limiter *svc = NULL, *op = NULL;
    assert_int_equal(fr_limiter_new(&svc, &e.loop, "svc", 1000, 1000, 1000), 0);
    if (adaptive) {
        assert_int_equal(fr_limiter_new(&op, &e.loop, "svc.op", 1000, 1000, INT32_MAX), 0);
        fr_limiter_set_adaptive(op, 0.5, 1000);
    }
    static struct rcall calls[N];
    int ndone = 0;
    fr_retry_policy pol = {50, 800, 20, 1000};
    for (int i = 0; i < N; i++)
        start_rcall2(&e, &calls[i], &ndone, "b", i, pol, svc, op);
    assert_true(run_until(&e, &ndone, N, 30000));
    int throttles = 0;
    for (int i = 0; i < N; i++) {
        /* without pacing a call may run out of retries on a loaded machine;
         * with it, every call gets through */
        if (adaptive)
            assert_int_equal(calls[i].res.err, 0);
        else
            assert_true(calls[i].res.err == 0 || calls[i].res.err == FR_ETHROTTLED);
        throttles += calls[i].res.throttles;
    }
    assert_int_equal(throttles, rs->bucket_throttled);
    if (op) {
        *ar_out = fr_limiter_arate(op);
        assert_non_null(*ar_out);
        *cuts = (*ar_out)->cuts;
        fr_limiter_close(op);
    }
    fr_limiter_close(svc);
    env_finish(&e);
    return throttles;
}

static void test_limiter_adaptive(void **state)
{
    (void)state;
    static struct retry_srv rs;
    const fr_arate *ar = NULL;
    uint64_t cuts = 0;
    int plain = run_bucket_calls(&rs, false, &ar, &cuts);
    int adaptive = run_bucket_calls(&rs, true, &ar, &cuts);
    print_message("    60 calls vs 20/s burst 5: %d throttles without the adaptive limiter, %d with it (%llu cuts)\n",
                  plain, adaptive, (unsigned long long)cuts);
    assert_true(cuts >= 1);
    assert_true(adaptive * 2 < plain);
}

/* A service limiter shared by operations: a backlog of one operation does
 * not hold up another; waiting classes are served in turn. */
struct fair_grant {
    int *order;
    int *n;
    int cls;
    fr_limiter *svc;
};

static void fair_granted(void *arg)
{
    struct fair_grant *g = arg;
    g->order[(*g->n)++] = g->cls;
    fr_limiter_release(g->svc);
}

static void test_limiter_fair_between_operations(void **state)
{
    (void)state;
    static struct retry_srv rs;
    memset(&rs, 0, sizeof(rs));
    env e;
    env_init(&e, retry_handler, &rs, NULL);
    enum { NA = 40, NB = 5 };
    fr_limiter *svc, *op_a, *op_b;
    assert_int_equal(fr_limiter_new(&svc, &e.loop, "svc", 200, 1, 100), 0);
    assert_int_equal(fr_limiter_new(&op_a, &e.loop, "svc.A", 1000, 1000, INT32_MAX), 0);
    assert_int_equal(fr_limiter_new(&op_b, &e.loop, "svc.B", 1000, 1000, INT32_MAX), 0);
    static int order[NA + NB];
    static struct fair_grant g[NA + NB];
    int n = 0;
    fr_limiter_wait *w;
    for (int i = 0; i < NA + NB; i++) {
        g[i] = (struct fair_grant){order, &n, i < NA ? 0 : 1, svc};
        int rc = fr_limiter_acquire_cls(svc, i < NA ? op_a : op_b, fair_granted, &g[i], &w);
        if (rc == 1)
            fair_granted(&g[i]);
        else
            assert_int_equal(rc, 0);
    }
    assert_true(run_until(&e, &n, NA + NB, 5000));
    /* B's five came in behind A's forty, yet all were served among the first
     * dozen grants (alternating with A) */
    int last_b = -1;
    for (int i = 0; i < NA + NB; i++)
        if (order[i] == 1)
            last_b = i;
    print_message("    40 queued for A, then 5 for B: B's last grant was #%d of 45\n", last_b + 1);
    assert_true(last_b < 12);
    fr_limiter_close(op_a);
    fr_limiter_close(op_b);
    fr_limiter_close(svc);
    env_finish(&e);
}

struct lim_obs {
    fr_limiter *lim;
    int max_active;
};

static struct lim_obs *g_obs;

static void obs_done(void *arg, const fr_http_resp *r, const fr_call_result *res)
{
    int a = fr_limiter_active(g_obs->lim);
    if (a > g_obs->max_active)
        g_obs->max_active = a;
    rcall_done(arg, r, res);
}

static void test_limiter_concurrency(void **state)
{
    (void)state;
    uint64_t delay = 30;
    env e;
    env_init(&e, slow_handler, &delay, NULL);
    enum { N = 12 };
    struct lim_obs obs = {0};
    g_obs = &obs;
    assert_int_equal(fr_limiter_new(&obs.lim, &e.loop, "conc", 10000.0, 10000.0, 3), 0);
    static struct rcall calls[N];
    int ndone = 0;
    for (int i = 0; i < N; i++) {
        memset(&calls[i], 0, sizeof(calls[i]));
        snprintf(calls[i].url, sizeof(calls[i].url), "%s/s/%d", e.base, i);
        calls[i].ndone = &ndone;
        fr_call_spec spec = {.service = "conc", .limiter = obs.lim, .policy = {10, 20, 0, 1000},
                             .build = rcall_build, .done = obs_done, .arg = &calls[i]};
        assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &calls[i].call), 0);
    }
    assert_int_equal(fr_limiter_active(obs.lim), 3);
    assert_int_equal(fr_limiter_queued(obs.lim), N - 3);
    assert_true(run_until(&e, &ndone, N, 10000));
    ts_stats ss;
    ts_stats_get(e.srv, &ss);
    print_message("    concurrency 3: server saw at most %d at once\n", ss.max_open_reqs);
    assert_true(ss.max_open_reqs <= 3);
    assert_true(obs.max_active <= 3);
    for (int i = 0; i < N; i++)
        assert_int_equal(calls[i].res.err, 0);
    assert_int_equal(fr_limiter_active(obs.lim), 0);
    assert_int_equal(fr_limiter_queued(obs.lim), 0);
    fr_limiter_close(obs.lim);
    env_finish(&e);
}

/* ---- cancellation ---- */

static void never_cb(const fr_http_resp *resp, void *arg)
{
    (void)resp;
    int *calls = arg;
    (*calls)++;
}

struct canceller {
    fr_http_req *victim;
    int done;
};

static void cancel_other_cb(const fr_http_resp *resp, void *arg)
{
    struct canceller *c = arg;
    fr_http_cancel(c->victim);
    c->done++;
}

struct selfc {
    fr_http_req *self;
    int done;
};

static void cancel_self_cb(const fr_http_resp *resp, void *arg)
{
    struct selfc *s = arg;
    fr_http_cancel(s->self); /* already finished: must be a no-op */
    s->done++;
}

struct stream {
    fr_http_req *req;
    size_t seen;
};

static int cancel_in_data(const char *data, size_t len, void *arg)
{
    struct stream *st = arg;
    st->seen += len;
    fr_http_cancel(st->req); /* from inside a libcurl callback: deferred */
    return 0;
}

static void big_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    if (strncmp(in->path, "/hang", 5) == 0)
        return;
    if (strncmp(in->path, "/big", 4) == 0) {
        size_t n = 4u << 20;
        char *b = malloc(n);
        memset(b, 'x', n);
        ts_respond(r, 200, NULL, b, n);
        free(b);
        return;
    }
    ts_respond_later(r, 5, 200, NULL, "ok", 2);
}

static void test_http_cancel(void **state)
{
    (void)state;
    fr_http_config cfg;
    fr_http_config_defaults(&cfg);
    cfg.max_per_host = 1;
    env e;
    env_init(&e, big_handler, NULL, &cfg);
    char hang[96], ok[96], big[96];
    snprintf(hang, sizeof(hang), "%s/hang", e.base);
    snprintf(ok, sizeof(ok), "%s/ok", e.base);
    snprintf(big, sizeof(big), "%s/big", e.base);
    int never = 0;
    struct one c = {0};
    fr_http_req *a, *b;
    fr_http_opts oh = {.url = hang}, ook = {.url = ok};
    assert_int_equal(fr_http_send(e.http, &oh, never_cb, &never, &a), 0);
    assert_int_equal(fr_http_send(e.http, &ook, never_cb, &never, &b), 0);
    assert_int_equal(fr_http_send(e.http, &ook, one_cb, &c, NULL), 0);
    fr_http_cancel(b); /* queued */
    fr_http_stats st;
    fr_http_stats_get(e.http, &st);
    assert_int_equal(st.queued, 1);
    /* Wait until the hanging request is at the server, then cancel it in flight. */
    ts_stats ss;
    for (int i = 0; i < 500; i++) {
        ts_stats_get(e.srv, &ss);
        if (ss.requests >= 1)
            break;
        run_for(&e, 5);
    }
    assert_int_equal(ss.requests, 1);
    fr_http_cancel(a);
    assert_true(run_until(&e, &c.done, 1, 5000));
    assert_int_equal(c.err, 0);
    assert_string_equal(c.body, "ok");

    /* Cancel an in-flight request from another request's callback. */
    fr_http_config_defaults(&cfg);
    struct canceller cc = {0};
    fr_http_req *v;
    fr_http_opts ohp = {.url = hang, .pool = "another"}; /* its own per-host limit */
    assert_int_equal(fr_http_send(e.http, &ohp, never_cb, &never, &v), 0);
    cc.victim = v;
    assert_int_equal(fr_http_send(e.http, &ook, cancel_other_cb, &cc, NULL), 0);
    assert_true(run_until(&e, &cc.done, 1, 5000));

    /* Cancel a request from its own callback. */
    struct selfc sc = {0};
    assert_int_equal(fr_http_send(e.http, &ook, cancel_self_cb, &sc, &sc.self), 0);
    assert_true(run_until(&e, &sc.done, 1, 5000));

    /* Cancel from the streaming sink (inside libcurl). */
    struct stream stv = {0};
    fr_http_opts ob = {.url = big, .on_data = cancel_in_data, .data_arg = &stv};
    assert_int_equal(fr_http_send(e.http, &ob, never_cb, &never, &stv.req), 0);
    for (int i = 0; i < 400 && stv.seen == 0; i++)
        run_for(&e, 5);
    assert_true(stv.seen > 0);
    run_for(&e, 50);
    fr_http_stats_get(e.http, &st);
    assert_int_equal(st.in_flight, 0);

    /* Requests still queued or in flight when the client closes never call back. */
    assert_int_equal(fr_http_send(e.http, &oh, never_cb, &never, NULL), 0);
    assert_int_equal(fr_http_send(e.http, &ook, never_cb, &never, NULL), 0);
    run_for(&e, 20);
    assert_int_equal(never, 0);
    env_finish(&e);
    assert_int_equal(never, 0);
}

struct ccall {
    char url[96];
    int *never;
};

static void never_done(void *arg, const fr_http_resp *r, const fr_call_result *res)
{
    (void)r;
    (void)res;
    struct ccall *cc = arg;
    (*cc->never)++;
}

static int url_build(void *arg, int attempt, fr_http_opts *o)
{
    struct ccall *cc = arg;
    (void)attempt;
    o->url = cc->url;
    return 0;
}

static void test_call_cancel(void **state)
{
    (void)state;
    static struct retry_srv rs;
    memset(&rs, 0, sizeof(rs));
    env e;
    env_init(&e, retry_handler, &rs, NULL);
    int never = 0;
    fr_limiter *lim;
    assert_int_equal(fr_limiter_new(&lim, &e.loop, "one", 1000.0, 1000.0, 1), 0);
    struct ccall cc[4];
    for (int i = 0; i < 4; i++) {
        snprintf(cc[i].url, sizeof(cc[i].url), "%s/r/%s/%d", e.base, i % 2 ? "ok" : "u", i);
        cc[i].never = &never;
    }
    fr_call *c0, *c1, *c2, *c3;
    /* c0 holds the limiter (and will back off 5-10 s), c1 waits in its queue. */
    fr_call_spec s0 = {.service = "cancel", .limiter = lim, .policy = {5000, 10000, 3, 1000}, .build = url_build,
                       .done = never_done, .arg = &cc[0]};
    fr_call_spec s1 = s0;
    s1.arg = &cc[1];
    assert_int_equal(fr_call_start(e.http, &e.loop, &s0, &c0), 0);
    assert_int_equal(fr_call_start(e.http, &e.loop, &s1, &c1), 0);
    assert_int_equal(fr_limiter_active(lim), 1);
    assert_int_equal(fr_limiter_queued(lim), 1);
    fr_call_cancel(c1); /* queued at the limiter */
    assert_int_equal(fr_limiter_queued(lim), 0);
    /* c0's first attempt fails with 503: it is then backing off. */
    for (int i = 0; i < 1000 && rs.hits[0] < 1; i++)
        run_for(&e, 5);
    assert_int_equal(rs.hits[0], 1);
    run_for(&e, 50);
    assert_int_equal(fr_limiter_active(lim), 0);
    fr_call_cancel(c0); /* during backoff: its timer is closed */

    /* c3 holds the limiter with its request in flight. */
    fr_call_spec s3 = {.service = "cancel", .limiter = lim, .policy = {10, 20, 3, 1000}, .build = url_build,
                       .done = never_done, .arg = &cc[3]};
    assert_int_equal(fr_call_start(e.http, &e.loop, &s3, &c3), 0);
    assert_int_equal(fr_limiter_active(lim), 1);
    fr_call_cancel(c3);
    assert_int_equal(fr_limiter_active(lim), 0);
    /* c2 without a limiter, cancelled once the server has its request. */
    fr_call_spec s2 = {.service = "cancel", .policy = {10, 20, 3, 1000}, .build = url_build, .done = never_done,
                       .arg = &cc[2]};
    assert_int_equal(fr_call_start(e.http, &e.loop, &s2, &c2), 0);
    for (int i = 0; i < 1000 && rs.hits[2] < 1; i++)
        uv_run(&e.loop, UV_RUN_NOWAIT);
    fr_call_cancel(c2);
    run_for(&e, 100);
    assert_int_equal(never, 0);
    fr_http_stats st;
    fr_http_stats_get(e.http, &st);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.queued, 0);
    fr_limiter_close(lim);
    env_finish(&e);
    assert_int_equal(never, 0);
}


/* ---- limits, errors and streaming ---- */

static void misc_handler(ts_server *s, ts_req *r, const ts_req_info *in, void *arg)
{
    (void)arg;
    if (strcmp(in->path, "/big") == 0) {
        size_t n = 64 * 1024;
        char *b = malloc(n);
        memset(b, 'b', n);
        ts_respond(r, 200, NULL, b, n);
        free(b);
    } else if (strcmp(in->path, "/missing") == 0) {
        ts_respond(r, 404, NULL, "{\"error\":\"nope\"}", 16);
    } else if (strcmp(in->path, "/multi") == 0) {
        ts_respond(r, 200, "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\n", "m", 1);
    } else {
        char hdrs[128];
        snprintf(hdrs, sizeof(hdrs), "X-Method: %s\r\nX-Body-Len: %zu\r\n", in->method, in->body_len);
        ts_respond(r, 200, hdrs, in->body, in->body_len);
    }
}

struct sink {
    size_t bytes;
    int chunks;
};

static int sink_data(const char *data, size_t len, void *arg)
{
    struct sink *k = arg;
    (void)data;
    k->bytes += len;
    k->chunks++;
    return 0;
}

struct full {
    int done;
    int err;
    long status;
    size_t body_len;
    char body[64];
    char method[16], blen[16];
    int cookies;
};

static void full_cb(const fr_http_resp *resp, void *arg)
{
    struct full *f = arg;
    f->done++;
    f->err = resp->err;
    f->status = resp->status;
    f->body_len = resp->body_len;
    fr_strlcpy(f->body, resp->body, sizeof(f->body));
    const char *m = fr_http_resp_header(resp, "x-method"), *b = fr_http_resp_header(resp, "x-body-len");
    fr_strlcpy(f->method, m ? m : "", sizeof(f->method));
    fr_strlcpy(f->blen, b ? b : "", sizeof(f->blen));
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcmp(resp->headers[i].name, "set-cookie") == 0)
            f->cookies++;
}

static void test_limits_errors_streaming(void **state)
{
    (void)state;
    fr_http_config cfg;
    fr_http_config_defaults(&cfg);
    cfg.max_response = 16 * 1024;
    env e;
    env_init(&e, misc_handler, NULL, &cfg);
    char big[96], missing[96], multi[96], echo[96];
    snprintf(big, sizeof(big), "%s/big", e.base);
    snprintf(missing, sizeof(missing), "%s/missing", e.base);
    snprintf(multi, sizeof(multi), "%s/multi", e.base);
    snprintf(echo, sizeof(echo), "%s/echo", e.base);
    int n = 0;
    /* A body past max_response fails with E2BIG, and is not retried. */
    struct full f1 = {0};
    fr_http_opts o1 = {.url = big};
    assert_int_equal(fr_http_send(e.http, &o1, full_cb, &f1, NULL), 0);
    /* Streamed, the same body is fine: the sink sees every byte. */
    struct sink k = {0};
    struct full f2 = {0};
    fr_http_opts o2 = {.url = big, .on_data = sink_data, .data_arg = &k};
    assert_int_equal(fr_http_send(e.http, &o2, full_cb, &f2, NULL), 0);
    /* Error bodies are buffered even when streaming, so they can be parsed. */
    struct sink k3 = {0};
    struct full f3 = {0};
    fr_http_opts o3 = {.url = missing, .on_data = sink_data, .data_arg = &k3};
    assert_int_equal(fr_http_send(e.http, &o3, full_cb, &f3, NULL), 0);
    /* Repeated headers are all kept. */
    struct full f4 = {0};
    fr_http_opts o4 = {.url = multi};
    assert_int_equal(fr_http_send(e.http, &o4, full_cb, &f4, NULL), 0);
    /* Methods and bodies. */
    struct full f5 = {0}, f6 = {0}, f7 = {0};
    fr_http_opts o5 = {.method = "DELETE", .url = echo, .body = "abc", .body_len = 3};
    fr_http_opts o6 = {.method = "PUT", .url = echo, .body = "", .body_len = 0};
    fr_http_opts o7 = {.method = "HEAD", .url = echo};
    assert_int_equal(fr_http_send(e.http, &o5, full_cb, &f5, NULL), 0);
    assert_int_equal(fr_http_send(e.http, &o6, full_cb, &f6, NULL), 0);
    assert_int_equal(fr_http_send(e.http, &o7, full_cb, &f7, NULL), 0);
    while (f1.done + f2.done + f3.done + f4.done + f5.done + f6.done + f7.done < 7 && n++ < 1000)
        run_for(&e, 5);
    assert_int_equal(f1.err, -E2BIG);
    assert_int_equal(f2.err, 0);
    assert_int_equal(f2.status, 200);
    assert_int_equal(k.bytes, 64 * 1024);
    assert_int_equal(f2.body_len, 0);
    assert_int_equal(f3.err, 0);
    assert_int_equal(f3.status, 404);
    assert_int_equal(k3.bytes, 0);
    assert_string_equal(f3.body, "{\"error\":\"nope\"}");
    assert_int_equal(f4.cookies, 2);
    assert_string_equal(f5.method, "DELETE");
    assert_string_equal(f5.blen, "3");
    assert_string_equal(f5.body, "abc");
    assert_string_equal(f6.method, "PUT");
    assert_string_equal(f6.blen, "0");
    assert_string_equal(f7.method, "HEAD");
    assert_int_equal(f7.body_len, 0);
    assert_int_equal(f7.status, 200);

    /* Through fr_call: E2BIG and 404 fail at once, no retry. */
    static struct rcall rc1, rc2;
    int ndone = 0;
    memset(&rc1, 0, sizeof(rc1));
    memset(&rc2, 0, sizeof(rc2));
    fr_strlcpy(rc1.url, big, sizeof(rc1.url));
    fr_strlcpy(rc2.url, missing, sizeof(rc2.url));
    rc1.ndone = rc2.ndone = &ndone;
    fr_call_spec spec = {.service = "misc", .policy = {5, 10, 3, 1000}, .build = rcall_build, .done = rcall_done};
    spec.arg = &rc1;
    assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &rc1.call), 0);
    spec.arg = &rc2;
    assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &rc2.call), 0);
    assert_true(run_until(&e, &ndone, 2, 5000));
    assert_int_equal(rc1.res.err, -E2BIG);
    assert_int_equal(rc1.res.attempts, 1);
    assert_int_equal(rc2.res.err, FR_EHTTP);
    assert_int_equal(rc2.res.attempts, 1);
    assert_int_equal(rc2.status, 404);
    env_finish(&e);
}

static void test_refused_and_quota(void **state)
{
    (void)state;
    static struct retry_srv rs;
    memset(&rs, 0, sizeof(rs));
    env e;
    env_init(&e, retry_handler, &rs, NULL);
    /* A port nobody listens on: connection refused, retried, then given up. */
    uv_tcp_t probe;
    struct sockaddr_in sa, got;
    int len = sizeof(got);
    uv_tcp_init(&e.loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&probe, (const struct sockaddr *)&sa, 0), 0);
    uv_tcp_getsockname(&probe, (struct sockaddr *)&got, &len);
    uv_close((uv_handle_t *)&probe, NULL); /* bound, never listening: the port refuses */
    static struct rcall rc;
    int ndone = 0;
    memset(&rc, 0, sizeof(rc));
    snprintf(rc.url, sizeof(rc.url), "http://127.0.0.1:%d/x", ntohs(got.sin_port));
    rc.ndone = &ndone;
    fr_call_spec spec = {.service = "refused", .policy = {5, 10, 2, 1000}, .build = rcall_build,
                         .done = rcall_done, .arg = &rc};
    assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &rc.call), 0);
    assert_true(run_until(&e, &ndone, 1, 10000));
    assert_int_equal(rc.res.err, -ECONNREFUSED);
    assert_int_equal(rc.res.attempts, 3);
    assert_int_equal(rc.status, 0);

    /* The retry quota: 10 units = two 503 retries, then the calls stop retrying. */
    fr_retry_quota q;
    fr_quota_init(&q, 10);
    static struct rcall qc[3];
    ndone = 0;
    for (int i = 0; i < 3; i++) {
        memset(&qc[i], 0, sizeof(qc[i]));
        snprintf(qc[i].url, sizeof(qc[i].url), "%s/r/u/%d", e.base, i);
        qc[i].ndone = &ndone;
        fr_call_spec qs = {.service = "quota", .quota = &q, .policy = {5, 10, 5, 1000}, .build = rcall_build,
                           .done = rcall_done, .arg = &qc[i]};
        assert_int_equal(fr_call_start(e.http, &e.loop, &qs, &qc[i].call), 0);
        assert_true(run_until(&e, &ndone, i + 1, 10000));
    }
    assert_int_equal(qc[0].res.err, FR_EQUOTA);
    assert_int_equal(qc[0].res.attempts, 3);
    assert_int_equal(qc[1].res.err, FR_EQUOTA);
    assert_int_equal(qc[1].res.attempts, 1);
    assert_int_equal(q.available, 0);
    /* A success refunds. */
    static struct rcall ok;
    memset(&ok, 0, sizeof(ok));
    snprintf(ok.url, sizeof(ok.url), "%s/r/ok/9", e.base);
    ok.ndone = &ndone;
    fr_call_spec oks = {.service = "quota", .quota = &q, .policy = {5, 10, 5, 1000}, .build = rcall_build,
                        .done = rcall_done, .arg = &ok};
    assert_int_equal(fr_call_start(e.http, &e.loop, &oks, &ok.call), 0);
    assert_true(run_until(&e, &ndone, 4, 10000));
    assert_int_equal(ok.res.err, 0);
    assert_int_equal(q.available, FR_QUOTA_NO_RETRY_INCREMENT);
    env_finish(&e);
}

struct self_cancel {
    fr_call *call;
    int done;
    char url[96];
};

static int sc_build(void *arg, int attempt, fr_http_opts *o)
{
    struct self_cancel *s = arg;
    (void)attempt;
    o->url = s->url;
    return 0;
}

static void sc_done(void *arg, const fr_http_resp *r, const fr_call_result *res)
{
    struct self_cancel *s = arg;
    (void)r;
    (void)res;
    s->done++;
    fr_call_cancel(s->call); /* inside done: a no-op, the call is freed after */
}

static void test_call_cancel_in_done(void **state)
{
    (void)state;
    static struct retry_srv rs;
    memset(&rs, 0, sizeof(rs));
    env e;
    env_init(&e, retry_handler, &rs, NULL);
    struct self_cancel s = {0};
    snprintf(s.url, sizeof(s.url), "%s/r/ok/0", e.base);
    fr_call_spec spec = {.service = "self", .policy = {5, 10, 1, 1000}, .build = sc_build, .done = sc_done,
                         .arg = &s};
    assert_int_equal(fr_call_start(e.http, &e.loop, &spec, &s.call), 0);
    assert_true(run_until(&e, &s.done, 1, 5000));
    env_finish(&e);
}

int main(void)
{
    fr_rand_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_200),
        cmocka_unit_test(test_keepalive_and_post),
        cmocka_unit_test(test_retry_throttle_and_5xx),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_hung_server_timeout),
        cmocka_unit_test(test_hung_server_call),
        cmocka_unit_test(test_reset_after_accept),
        cmocka_unit_test(test_reset_mid_response),
        cmocka_unit_test(test_reset_gives_up),
        cmocka_unit_test(test_limiter_token_bucket),
        cmocka_unit_test(test_limiter_concurrency),
        cmocka_unit_test(test_limiter_adaptive),
        cmocka_unit_test(test_limiter_fair_between_operations),
        cmocka_unit_test(test_http_cancel),
        cmocka_unit_test(test_call_cancel),
        cmocka_unit_test(test_call_cancel_in_done),
        cmocka_unit_test(test_limits_errors_streaming),
        cmocka_unit_test(test_refused_and_quota),
    };
    int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
    fr_metrics_free();
    fr_rand_cleanup();
    curl_global_cleanup();
    return rc;
}
