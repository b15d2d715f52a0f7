/* Core utilities: strings, parsing, time, retry policy, token bucket,
 * redaction, configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <errno.h>

#include "frugal/auth.h"
#include "frugal/buf.h"
#include "frugal/call.h"
#include "frugal/config.h"
#include "frugal/err.h"
#include "frugal/redact.h"
#include "frugal/retry.h"
#include "frugal/str.h"
#include "frugal/time.h"

static void test_parse_numbers(void **state)
{
    int64_t i;
    uint64_t u, ms;
    double d;
    bool b;
    assert_int_equal(fr_parse_i64("-42", &i), 0);
    assert_int_equal(i, -42);
    assert_int_not_equal(fr_parse_i64("42x", &i), 0);
    assert_int_not_equal(fr_parse_i64("", &i), 0);
    assert_int_not_equal(fr_parse_i64(" 1", &i), 0);
    assert_int_not_equal(fr_parse_i64("99999999999999999999", &i), 0);
    assert_int_not_equal(fr_parse_u64("-1", &u), 0);
    assert_int_equal(fr_parse_double("1.5e2", &d), 0);
    assert_true(d == 150.0);
    assert_int_not_equal(fr_parse_double("nan", &d), 0);
    assert_int_not_equal(fr_parse_double("inf", &d), 0);
    assert_int_equal(fr_parse_bool("Yes", &b), 0);
    assert_true(b);
    assert_int_not_equal(fr_parse_bool("maybe", &b), 0);
    assert_int_equal(fr_parse_duration_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(fr_parse_duration_ms("2h", &ms), 0);
    assert_int_equal(ms, 7200000);
    assert_int_equal(fr_parse_duration_ms("30", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_not_equal(fr_parse_duration_ms("5 parsecs", &ms), 0);
    assert_int_not_equal(fr_parse_duration_ms("-5s", &ms), 0);
    assert_int_equal(fr_parse_size("4M", &u), 0);
    assert_int_equal(u, 4u << 20);
    assert_int_not_equal(fr_parse_size("4Q", &u), 0);
}

static void test_uri(void **state)
{
    fr_buf b = FR_BUF_INIT;
    fr_uri_encode(&b, "a b/c~d*", 8, true);
    assert_string_equal(b.data, "a%20b/c~d%2A");
    fr_buf_reset(&b);
    fr_uri_encode(&b, "a/b", 3, false);
    assert_string_equal(b.data, "a%2Fb");
    fr_buf_reset(&b);
    assert_int_equal(fr_uri_decode(&b, "a%20b+c", 7, true), 0);
    assert_string_equal(b.data, "a b c");
    fr_buf_reset(&b);
    assert_int_not_equal(fr_uri_decode(&b, "bad%2", 5, false), 0);
    fr_buf_reset(&b);
    assert_int_not_equal(fr_uri_decode(&b, "bad%zz", 6, false), 0);
    fr_buf_free(&b);
}

static void test_hostport(void **state)
{
    char h[64];
    int p;
    assert_int_equal(fr_parse_hostport("127.0.0.1:8787", h, sizeof(h), &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 8787);
    assert_int_equal(fr_parse_hostport("[::1]:0", h, sizeof(h), &p), 0);
    assert_string_equal(h, "::1");
    assert_int_not_equal(fr_parse_hostport("localhost", h, sizeof(h), &p), 0);
    assert_int_not_equal(fr_parse_hostport("h:70000", h, sizeof(h), &p), 0);
    assert_int_not_equal(fr_parse_hostport(":80", h, sizeof(h), &p), 0);
}

static void test_time(void **state)
{
    int64_t t;
    char buf[64];
    assert_int_equal(fr_time_parse("2015-08-30T12:36:00Z", &t), 0);
    assert_int_equal(t, 1440938160000LL);
    assert_int_equal(fr_time_parse("20150830T123600Z", &t), 0);
    assert_int_equal(t, 1440938160000LL);
    assert_int_equal(fr_time_parse("2023-12-09 23:47:27+00:00", &t), 0);
    fr_time_iso8601(buf, sizeof(buf), t, 0);
    assert_string_equal(buf, "2023-12-09T23:47:27Z");
    assert_int_equal(fr_time_parse("2015-08-30T14:36:00.250+02:00", &t), 0);
    assert_int_equal(t, 1440938160250LL);
    assert_int_equal(fr_time_parse("1440938160", &t), 0);
    assert_int_equal(t, 1440938160000LL);
    assert_int_equal(fr_time_parse("1440938160.5", &t), 0);
    assert_int_equal(t, 1440938160500LL);
    fr_time_amz(buf, sizeof(buf), 1440938160000LL);
    assert_string_equal(buf, "20150830T123600Z");
    fr_time_http(buf, sizeof(buf), 1440938160000LL);
    assert_string_equal(buf, "Sun, 30 Aug 2015 12:36:00 GMT");
    assert_int_equal(fr_time_parse_http(buf, &t), 0);
    assert_int_equal(t, 1440938160000LL);
    const char *bad[] = {"", "2015-13-01T00:00:00Z", "2015-02-30", "2015-08-30T25:00:00Z", "yesterday",
                         "2015-08-30T12:36:00Zjunk", "2015-08-30T12:36:00+99:00", "2015-08-30T12:36:00."};
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++)
        assert_int_not_equal(fr_time_parse(bad[i], &t), 0);
    assert_int_not_equal(fr_time_parse_http("Sun, 30 Foo 2015 12:36:00 GMT", &t), 0);
}

static void test_backoff(void **state)
{
    fr_retry_policy p = {1000, 30000, 5, 120000};
    assert_int_equal(fr_backoff_ms(&p, 0, 0.0), 0);
    assert_true(fr_backoff_ms(&p, 0, 0.999999) <= 1000);
    assert_true(fr_backoff_ms(&p, 3, 0.999999) <= 8000);
    assert_true(fr_backoff_ms(&p, 3, 0.999999) >= 7990);
    assert_true(fr_backoff_ms(&p, 20, 0.999999) <= 30000);
    assert_true(fr_backoff_ms(&p, 20, 0.5) >= 14000);
    /* full jitter spreads over the whole window */
    assert_true(fr_backoff_ms(&p, 4, 0.25) < fr_backoff_ms(&p, 4, 0.75));
}

static void test_retry_after(void **state)
{
    fr_http_header h1[] = {{"retry-after", "3"}};
    fr_http_resp r = {0};
    r.headers = h1;
    r.nheaders = 1;
    assert_int_equal(fr_retry_after_ms(&r, 0), 3000);
    fr_http_header h2[] = {{"retry-after-ms", "1500"}};
    r.headers = h2;
    assert_int_equal(fr_retry_after_ms(&r, 0), 1500);
    fr_http_header h3[] = {{"retry-after", "Sun, 30 Aug 2015 12:36:10 GMT"}};
    r.headers = h3;
    assert_int_equal(fr_retry_after_ms(&r, 1440938160000LL), 10000);
    fr_http_header h4[] = {{"retry-after", "soon"}};
    r.headers = h4;
    assert_int_equal(fr_retry_after_ms(&r, 0), -1);
    r.nheaders = 0;
    assert_int_equal(fr_retry_after_ms(&r, 0), -1);
}

static void test_classify(void **state)
{
    fr_http_resp r = {0};
    r.status = 200;
    assert_int_equal(fr_classify_http(&r), FR_VERDICT_OK);
    r.status = 429;
    assert_int_equal(fr_classify_http(&r), FR_VERDICT_THROTTLE);
    r.status = 503;
    assert_int_equal(fr_classify_http(&r), FR_VERDICT_RETRY);
    r.status = 404;
    assert_int_equal(fr_classify_http(&r), FR_VERDICT_FAIL);
    r.status = 0;
    r.err = -ECONNRESET;
    assert_int_equal(fr_classify_http(&r), FR_VERDICT_RETRY);
    r.err = -E2BIG;
    assert_int_equal(fr_classify_http(&r), FR_VERDICT_FAIL);
}

static void test_quota(void **state)
{
    fr_retry_quota q;
    fr_quota_init(&q, 12);
    int cost;
    assert_true(fr_quota_acquire(&q, false, &cost));
    assert_int_equal(cost, 5);
    assert_false(fr_quota_acquire(&q, true, &cost)); /* 7 left, a timeout costs 10 */
    assert_true(fr_quota_acquire(&q, false, &cost));
    assert_false(fr_quota_acquire(&q, false, &cost));
    fr_quota_release(&q, 5);
    assert_int_equal(q.available, 7);
    fr_quota_release(&q, 0);
    assert_int_equal(q.available, 8);
    fr_quota_release(&q, 100);
    assert_int_equal(q.available, 12);
}

static void test_tbucket(void **state)
{
    fr_tbucket b;
    fr_tbucket_init(&b, 10, 2, 0);
    assert_int_equal(fr_tbucket_take(&b, 0), 0);
    assert_int_equal(fr_tbucket_take(&b, 0), 0);
    uint64_t w = fr_tbucket_take(&b, 0);
    assert_int_equal(w, 100);
    assert_int_equal(fr_tbucket_take(&b, 50), 50);
    assert_int_equal(fr_tbucket_take(&b, 100), 0);
    /* never more than burst after a long idle */
    assert_int_equal(fr_tbucket_take(&b, 100000), 0);
    assert_int_equal(fr_tbucket_take(&b, 100000), 0);
    assert_true(fr_tbucket_take(&b, 100000) > 0);
    fr_tbucket_set(&b, 1000, 5, 100000);
    assert_true(fr_tbucket_take(&b, 100001) == 0);
}

/* The adaptive rate on its own: the cut, stale throttles, the cubic
 * recovery, the bounds. */
static void test_arate_rules(void **state)
{
    (void)state;
    fr_arate a;
    fr_arate_init(&a, 0.5, 1000, 0);
    assert_true(fr_arate_rate(&a, 0) == 0); /* unlimited */
    /* 10 sends per 100 ms for a second: measured ~100/s */
    for (int t = 0; t < 1000; t += 10)
        fr_arate_on_send(&a, t);
    assert_int_equal(fr_arate_on_answer(&a, false, 990, 1000), 0);
    assert_true(fr_arate_rate(&a, 1000) == 0);
    assert_int_equal(fr_arate_on_answer(&a, true, 990, 1000), 1);
    double r0 = fr_arate_rate(&a, 1000);
    assert_true(r0 > 0.7 * 90 && r0 < 0.7 * 110);
    /* a throttle of a request sent before the cut does not cut again */
    assert_int_equal(fr_arate_on_answer(&a, true, 999, 1010), 0);
    assert_true(fr_arate_rate(&a, 1010) >= r0);
    /* growth: monotone, back at the old rate within a few seconds, then above */
    double prev = r0, wmax = r0 / 0.7;
    int back_ms = -1;
    for (int t = 1000; t <= 10000; t += 100) {
        double r = fr_arate_rate(&a, t);
        assert_true(r >= prev - 1e-9);
        if (back_ms < 0 && r >= wmax - 1e-6)
            back_ms = t - 1000;
        prev = r;
    }
    assert_true(back_ms > 1000 && back_ms < 8000);
    assert_true(fr_arate_rate(&a, 10000) > wmax);
    assert_true(fr_arate_rate(&a, 1000000) == 1000); /* capped at max */
    /* a throttle sent after the cut cuts again, from the current rate */
    double cur = fr_arate_rate(&a, 2000);
    assert_int_equal(fr_arate_on_answer(&a, true, 1500, 2000), 1);
    assert_true(fr_arate_rate(&a, 2000) <= 0.7 * cur + 1e-9);
    /* never below the minimum */
    for (int i = 0; i < 50; i++)
        fr_arate_on_answer(&a, true, 3000 + i * 10, 3000 + i * 10);
    assert_true(fr_arate_rate(&a, 3500) >= 0.5);
    assert_true(a.cuts >= 10);
}

/* Closed loop: a client that always has work, an account that allows 5/s
 * with a burst of 20 (a token bucket), 40 ms round trips. After the first
 * seconds the client must use most of the allowance and be throttled
 * rarely. */
static void test_arate_converges(void **state)
{
    (void)state;
    const double limit = 5, burst = 20;
    fr_tbucket server, client;
    fr_tbucket_init(&server, limit, burst, 0);
    fr_tbucket_init(&client, 15, 60, 0); /* the service limiter's setting */
    fr_arate a;
    fr_arate_init(&a, 0.5, 15, 0);
    enum { RTT = 40, END = 60000, WARM = 10000, MAXQ = 4096 };
    static int64_t q_sent[MAXQ];
    static int q_thr[MAXQ];
    int qh = 0, qt = 0;
    int ok_warm = 0, thr_warm = 0, sent_warm = 0, thr_all = 0;
    for (int64_t t = 0; t < END; t++) {
        while (qh != qt && q_sent[qh] + RTT <= t) {
            fr_arate_on_answer(&a, q_thr[qh], q_sent[qh], t);
            if (q_sent[qh] >= WARM && q_thr[qh])
                thr_warm++;
            else if (q_sent[qh] >= WARM)
                ok_warm++;
            thr_all += q_thr[qh];
            qh = (qh + 1) % MAXQ;
        }
        double r = fr_arate_rate(&a, t);
        if (r > 0)
            fr_tbucket_set(&client, r, 1, t);
        while (fr_tbucket_take(&client, t) == 0) {
            fr_arate_on_send(&a, t);
            q_sent[qt] = t;
            q_thr[qt] = fr_tbucket_take(&server, t) != 0;
            qt = (qt + 1) % MAXQ;
            assert_true(qt != qh);
            if (t >= WARM)
                sent_warm++;
        }
    }
    double secs = (END - WARM - RTT) / 1000.0;
    double goodput = ok_warm / secs;
    print_message("    adaptive rate vs 5/s: goodput %.2f/s, %d of %d sends throttled after warm-up, %d in all\n",
                  goodput, thr_warm, sent_warm, thr_all);
    assert_true(goodput >= 0.85 * limit);
    assert_true(goodput <= limit + 0.5);
    assert_true(thr_warm <= sent_warm / 10);
}

static void test_redact(void **state)
{
    fr_redact_clear();
    fr_redact_register("s3cr3t-token-value");
    json_t *j = json_pack("{s:s, s:s, s:s, s:{s:s}, s:[s], s:s, s:i, s:s}", "authorization",
                          "AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature=abcdef", "msg",
                          "failed with s3cr3t-token-value inside", "ok", "plain", "nested", "AWS_SECRET_ACCESS_KEY",
                          "wJalr", "list", "Bearer abc.def", "url",
                          "https://x/?X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok&a=b", "max_tokens", 100,
                          "NextToken", "page2");
    fr_redact_json(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_null(strstr(s, "abcdef"));
    assert_null(strstr(s, "s3cr3t-token-value"));
    assert_null(strstr(s, "wJalr"));
    assert_null(strstr(s, "abc.def"));
    assert_null(strstr(s, "deadbeef"));
    assert_null(strstr(s, "=tok"));
    assert_non_null(strstr(s, "\"plain\""));
    assert_non_null(strstr(s, "\"max_tokens\":100"));
    assert_non_null(strstr(s, "page2"));
    free(s);
    json_decref(j);
    assert_true(fr_redact_key_is_secret("X-Amz-Security-Token"));
    assert_true(fr_redact_key_is_secret("api_key"));
    assert_false(fr_redact_key_is_secret("correlation_id"));
    fr_redact_clear();
}

static void test_auth_session(void **state)
{
    fr_auth a;
    unsigned char secret[32] = {1, 2, 3};
    assert_int_not_equal(fr_auth_init(&a, "short", secret, 32, 1000), 0);
    fr_auth_free(&a);
    assert_int_equal(fr_auth_init(&a, "0123456789abcdef0123", secret, 32, 60000), 0);
    assert_true(fr_auth_check_bearer(&a, "Bearer 0123456789abcdef0123"));
    assert_true(fr_auth_check_bearer(&a, "bearer   0123456789abcdef0123 "));
    assert_false(fr_auth_check_bearer(&a, "Bearer 0123456789abcdef012"));
    assert_false(fr_auth_check_bearer(&a, "Basic 0123456789abcdef0123"));
    assert_false(fr_auth_check_bearer(&a, NULL));
    unsigned char rnd[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    char cookie[128], sid[FR_SID_HEX + 1];
    assert_int_equal(fr_auth_session_new(&a, 1000, rnd, cookie, sizeof(cookie)), 0);
    assert_int_equal(fr_auth_session_verify(&a, cookie, 2000, sid), 0);
    assert_string_equal(sid, "0909090909090909");
    assert_int_equal(fr_auth_session_verify(&a, cookie, 61001, sid), FR_EDENIED); /* expired */
    cookie[strlen(cookie) - 1] ^= 1;
    assert_int_equal(fr_auth_session_verify(&a, cookie, 2000, sid), FR_EDENIED); /* tampered */
    assert_int_equal(fr_auth_session_verify(&a, "v1.garbage", 2000, sid), FR_EDENIED);
    /* a different token invalidates every session */
    fr_auth b;
    assert_int_equal(fr_auth_init(&b, "another-token-0123456", secret, 32, 60000), 0);
    assert_int_equal(fr_auth_session_new(&a, 1000, rnd, cookie, sizeof(cookie)), 0);
    assert_int_equal(fr_auth_session_verify(&b, cookie, 2000, sid), FR_EDENIED);
    char c1[FR_CSRF_HEX + 1], c2[FR_CSRF_HEX + 1];
    fr_auth_csrf(&a, "0909090909090909", c1);
    fr_auth_csrf(&b, "0909090909090909", c2);
    assert_string_not_equal(c1, c2);
    char v[64];
    assert_int_equal(fr_cookie_get("a=1; frugal_session=xyz; b=2", "frugal_session", v, sizeof(v)), 0);
    assert_string_equal(v, "xyz");
    assert_int_equal(fr_cookie_get("frugal_sessionx=1", "frugal_session", v, sizeof(v)), FR_ENOTFOUND);
    assert_int_equal(fr_cookie_get(";;;", "a", v, sizeof(v)), FR_ENOTFOUND);
    fr_auth_free(&a);
    fr_auth_free(&b);
}

static const char *fake_env(const char *name, void *arg)
{
    const char *const *kv = arg;
    for (; *kv; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static void test_config(void **state)
{
    fr_config c;
    char err[512];
    fr_config_init(&c);
    assert_string_equal(c.listen, "127.0.0.1:8787");
    assert_int_equal(c.retry_initial_ms, 1000);
    assert_int_equal(c.retry_max_ms, 30000);
    assert_int_equal(c.retry_max_retries, 5);
    assert_int_equal(c.emr_max_cluster_instances, 20);
    assert_true(c.emr_max_test_cost == 50.0);
    assert_int_equal(fr_config_validate(&c, err, sizeof(err)), 0);

    /* every default parses under its own rules */
    for (const fr_cfg_key *k = fr_config_keys(); k->section; k++) {
        char dotted[96];
        snprintf(dotted, sizeof(dotted), "%s.%s", k->section, k->name);
        if (fr_config_set(&c, dotted, k->def, err, sizeof(err)) != 0)
            fail_msg("default of %s does not parse: %s", dotted, err);
    }

    const char *ini = "[server]\nlisten = 0.0.0.0:9000\n[retry]\nmax_retries = 7\n[emr]\nheadroom=1.5\n";
    assert_int_equal(fr_config_load_string(&c, ini, err, sizeof(err)), 0);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(c.retry_max_retries, 7);

    assert_int_equal(fr_config_load_string(&c, "[server]\nlisten = nope\n", err, sizeof(err)), FR_ECONFIG);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "server.listen"));
    assert_int_equal(fr_config_load_string(&c, "[server]\nlistn = 1.2.3.4:5\n", err, sizeof(err)), FR_ECONFIG);
    assert_non_null(strstr(err, "unknown key"));
    assert_int_equal(fr_config_load_string(&c, "[nosuch]\nx=1\n", err, sizeof(err)), FR_ECONFIG);
    assert_int_equal(fr_config_load_string(&c, "garbage line\n", err, sizeof(err)), FR_ECONFIG);
    assert_int_equal(fr_config_load_string(&c, "[retry]\nmax_retries = 1000\n", err, sizeof(err)), FR_ECONFIG);
    assert_int_equal(fr_config_load_string(&c, "[retry]\ninitial = fast\n", err, sizeof(err)), FR_ECONFIG);
    assert_int_equal(fr_config_load_string(&c, "[log]\nlevel = chatty\n", err, sizeof(err)), FR_ECONFIG);
    assert_int_equal(fr_config_load_file(&c, "/nonexistent/frugal.ini", err, sizeof(err)), FR_ECONFIG);

    /* environment over file, aliases under canonical names */
    const char *envs[] = {"FRUGAL_RETRY_MAX_RETRIES", "3", "MAX_TEST_COST_DOLLARS", "12.5", "FRUGAL_API_TOKEN",
                          "tok-from-env-0123456", NULL};
    char *environ_list[] = {"FRUGAL_RETRY_MAX_RETRIES=3", "PATH=/bin", NULL};
    assert_int_equal(fr_config_apply_env(&c, fake_env, (void *)envs, environ_list, err, sizeof(err)), 0);
    assert_int_equal(c.retry_max_retries, 3);
    assert_true(c.emr_max_test_cost == 12.5);
    assert_string_equal(c.api_token, "tok-from-env-0123456");
    char *typo_env[] = {"FRUGAL_RETRY_MAX_RETIRES=3", NULL};
    assert_int_equal(fr_config_apply_env(&c, fake_env, (void *)envs, typo_env, err, sizeof(err)), FR_ECONFIG);
    assert_non_null(strstr(err, "FRUGAL_RETRY_MAX_RETIRES"));
    /* the CLI's and the scripts' variables share the environment */
    char *cli_env[] = {"FRUGAL_URL=http://x", "FRUGAL_TOKEN_FILE=/t", "FRUGAL_DEMO_PORT=1", "FRUGAL_SIM_SEED=2",
                       "FRUGAL_TEST_JOBS=2", NULL};
    assert_int_equal(fr_config_apply_env(&c, fake_env, (void *)envs, cli_env, err, sizeof(err)), 0);
    char *near_env[] = {"FRUGAL_DEMOPORT=1", NULL};
    assert_int_equal(fr_config_apply_env(&c, fake_env, (void *)envs, near_env, err, sizeof(err)), FR_ECONFIG);
    const char *bad_env[] = {"FRUGAL_HTTP_TIMEOUT", "soon", NULL};
    assert_int_equal(fr_config_apply_env(&c, fake_env, (void *)bad_env, NULL, err, sizeof(err)), FR_ECONFIG);

    assert_int_equal(fr_config_set(&c, "retry.max", "10ms", err, sizeof(err)), 0);
    assert_int_equal(fr_config_set(&c, "retry.initial", "1s", err, sizeof(err)), 0);
    assert_int_equal(fr_config_validate(&c, err, sizeof(err)), FR_ECONFIG);
    assert_int_equal(fr_config_set(&c, "nodot", "1", err, sizeof(err)), FR_ECONFIG);

    json_t *j = fr_config_to_json(&c);
    const char *tok = json_string_value(json_object_get(json_object_get(j, "server"), "api_token"));
    assert_string_equal(tok, FR_REDACTED);
    json_decref(j);
    fr_config_free(&c);
    fr_redact_clear();
}

/* docs/configuration.md is the contract: every key and its environment name. */
static void test_config_documented(void **state)
{
    const char *src = getenv("FRUGAL_SOURCE_ROOT");
    if (!src)
        skip();
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/configuration.md", src);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fr_buf b = FR_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        fr_buf_append(&b, tmp, n);
    fclose(f);
    int missing = 0;
    for (const fr_cfg_key *k = fr_config_keys(); k->section; k++) {
        char dotted[96], env[96];
        snprintf(dotted, sizeof(dotted), "`%s.%s`", k->section, k->name);
        fr_config_env_name(k, env, sizeof(env));
        if (!strstr(fr_buf_cstr(&b), dotted) || !strstr(fr_buf_cstr(&b), env)) {
            print_error("undocumented: %s (%s)\n", dotted, env);
            missing++;
        }
    }
    fr_buf_free(&b);
    assert_int_equal(missing, 0);
}

/* The one file reader: content appended, and each failure its own code. */
static void test_buf_read_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/frugal-readfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/f", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("hello\nworld", f);
    fclose(f);
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, ">");
    assert_int_equal(fr_buf_read_file(&b, path, 11), 0); /* exactly max fits */
    assert_string_equal(fr_buf_cstr(&b), ">hello\nworld");
    fr_buf_reset(&b);
    assert_int_equal(fr_buf_read_file(&b, path, 10), -EFBIG);
    assert_int_equal(fr_buf_read_file(&b, dir, 100), -EISDIR);
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(fr_buf_read_file(&b, path, 100), -ENOENT);
    fr_buf_free(&b);
    snprintf(path, sizeof(path), "%s/f", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_read_file),
        cmocka_unit_test(test_parse_numbers), cmocka_unit_test(test_uri),      cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_time),          cmocka_unit_test(test_backoff),  cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_classify),      cmocka_unit_test(test_quota),    cmocka_unit_test(test_tbucket),
        cmocka_unit_test(test_arate_rules),   cmocka_unit_test(test_arate_converges),
        cmocka_unit_test(test_redact),        cmocka_unit_test(test_auth_session), cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
