/* Pure service pieces: SigV4 verification, routing, fault decisions and
 * token buckets, Parameter Store rules, spot price model and replay, SQS
 * queues and checksums, chat rule matching, error shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "chat.h"
#include "faults.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "proto.h"
#include "route.h"
#include "spot.h"
#include "sqs.h"
#include "ssm.h"

#define NOW 1800000000000LL

/* A request signed with fr_sigv4 the way a client does. */
typedef struct signed_req {
    fr_sigv4_header hs[8];
    size_t n;
    char date[32];
    fr_buf authz;
    fr_sim_raw_req raw;
} signed_req;

static void sign(signed_req *s, const char *akid, const char *secret, const char *token, int64_t when,
                 const char *body, const char *service)
{
    memset(s, 0, sizeof(*s));
    fr_time_amz(s->date, sizeof(s->date), when);
    s->hs[s->n++] = (fr_sigv4_header){"host", "127.0.0.1:4566"};
    s->hs[s->n++] = (fr_sigv4_header){"x-amz-date", s->date};
    s->hs[s->n++] = (fr_sigv4_header){"x-amz-target", "ElasticMapReduce.ListClusters"};
    s->hs[s->n++] = (fr_sigv4_header){"content-type", "application/x-amz-json-1.1"};
    if (token)
        s->hs[s->n++] = (fr_sigv4_header){"x-amz-security-token", token};
    fr_sigv4_req r = {"POST", "/", "", s->hs, s->n, body, strlen(body), NULL};
    fr_sigv4_scope sc = {"us-east-1", service, when, false};
    fr_sigv4_authorization(&r, &sc, akid, secret, NULL, &s->authz);
    s->hs[s->n++] = (fr_sigv4_header){"authorization", fr_buf_cstr(&s->authz)};
    /* the server sees host in the authority, not among the headers */
    s->raw = (fr_sim_raw_req){"POST", "/", 1, "127.0.0.1:4566", s->hs + 1, s->n - 1, body, strlen(body)};
}

static void test_auth(void **state)
{
    fr_sim_auth a;
    fr_sim_auth_init(&a, 1);
    fr_sim_auth_add(&a, "AKIAFRUGALSIMULATED0", "secret", NULL, 0, NULL);
    fr_sigv4_auth parsed;
    const fr_sim_cred *who;
    signed_req s;
    sign(&s, "AKIAFRUGALSIMULATED0", "secret", NULL, NOW, "{}", "elasticmapreduce");
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW + 1000, &parsed, &who), FR_SIM_AUTH_OK);
    assert_string_equal(parsed.service, "elasticmapreduce");
    /* a changed body breaks the signature */
    s.raw.body = "{\"x\":1}";
    s.raw.body_len = 7;
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW, &parsed, &who), FR_SIM_AUTH_BAD_SIGNATURE);
    fr_buf_free(&s.authz);
    sign(&s, "AKIAFRUGALSIMULATED0", "wrong", NULL, NOW, "{}", "elasticmapreduce");
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW, &parsed, &who), FR_SIM_AUTH_BAD_SIGNATURE);
    fr_buf_free(&s.authz);
    sign(&s, "AKIAUNKNOWN000000000", "secret", NULL, NOW, "{}", "elasticmapreduce");
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW, &parsed, &who), FR_SIM_AUTH_UNKNOWN_KEY);
    fr_buf_free(&s.authz);
    sign(&s, "AKIAFRUGALSIMULATED0", "secret", NULL, NOW - 20 * 60000, "{}", "elasticmapreduce");
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW, &parsed, &who), FR_SIM_AUTH_SKEWED);
    fr_buf_free(&s.authz);
    /* temporary credentials need their token and expire */
    const fr_sim_cred *t = fr_sim_auth_issue(&a, NOW, 60000, "arn:aws:sts::1:assumed-role/r/s");
    char akid[64], secret[128], token[1024];
    fr_strlcpy(akid, t->akid, sizeof(akid));
    fr_strlcpy(secret, t->secret, sizeof(secret));
    fr_strlcpy(token, t->token, sizeof(token));
    assert_true(fr_str_startswith(akid, "ASIA"));
    sign(&s, akid, secret, token, NOW, "{}", "ssm");
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW, &parsed, &who), FR_SIM_AUTH_OK);
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW + 61000, &parsed, &who), FR_SIM_AUTH_EXPIRED);
    fr_buf_free(&s.authz);
    sign(&s, akid, secret, NULL, NOW, "{}", "ssm");
    assert_int_equal(fr_sim_auth_verify(&a, &s.raw, NOW, &parsed, &who), FR_SIM_AUTH_BAD_TOKEN);
    fr_buf_free(&s.authz);
    fr_sim_raw_req none = {"POST", "/", 1, "h", NULL, 0, "", 0};
    assert_int_equal(fr_sim_auth_verify(&a, &none, NOW, &parsed, &who), FR_SIM_AUTH_MISSING);
    fr_sim_auth_free(&a);
}

static void test_route(void **state)
{
    fr_sigv4_header hs[] = {{"x-amz-target", "AmazonSSM.GetParameter"}, {"content-type", "application/x-amz-json-1.1"}};
    fr_sim_raw_req r = {"POST", "/", 1, "h", hs, 2, "{\"Name\":\"/a\"}", 13};
    fr_sim_call c;
    char err[128];
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_sim_route(&r, NULL, &c, err, sizeof(err)), FR_SIM_ROUTE_OK);
    assert_int_equal(c.svc, FR_SIM_SVC_SSM);
    assert_int_equal(c.proto, FR_SIM_PROTO_JSON11);
    assert_string_equal(c.op, "GetParameter");
    assert_string_equal(fr_sim_jstr(c.in, "Name"), "/a");
    fr_sim_call_free(&c);
    /* a Lambda ARN, URL-encoded in the path */
    const char *p = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations?Qualifier=%24LATEST";
    fr_sigv4_header lh[] = {{"x-amz-invocation-type", "Event"}};
    fr_sim_raw_req lr = {"POST", p, strlen(p), "h", lh, 1, "{}", 2};
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_sim_route(&lr, "lambda", &c, err, sizeof(err)), FR_SIM_ROUTE_OK);
    assert_string_equal(c.op, "Invoke");
    assert_string_equal(c.function, "arn:aws:lambda:us-east-1:123456789012:function:f");
    assert_string_equal(c.invocation_type, "Event");
    assert_string_equal(c.qualifier, "$LATEST");
    fr_sim_call_free(&c);
    /* query protocols by Version or by the signed service */
    const char *body = "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1";
    fr_sigv4_header fh[] = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
    fr_sim_raw_req fr = {"POST", "/", 1, "h", fh, 1, body, strlen(body)};
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_sim_route(&fr, NULL, &c, err, sizeof(err)), FR_SIM_ROUTE_OK);
    assert_int_equal(c.svc, FR_SIM_SVC_EC2);
    assert_int_equal(c.proto, FR_SIM_PROTO_EC2);
    assert_null(json_object_get(c.in, "Action"));
    fr_sim_call_free(&c);
    const char *sts = "Action=GetCallerIdentity&Version=2011-06-15";
    fr_sim_raw_req sr = {"POST", "/", 1, "h", fh, 1, sts, strlen(sts)};
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_sim_route(&sr, "sts", &c, err, sizeof(err)), FR_SIM_ROUTE_OK);
    assert_int_equal(c.svc, FR_SIM_SVC_STS);
    fr_sim_call_free(&c);
    fr_sigv4_header cb[] = {{"content-type", "application/cbor"}, {"smithy-protocol", "rpc-v2-cbor"}};
    fr_sim_raw_req cr = {"POST", "/service/GraniteServiceVersion20100801/operation/GetMetricData", 61, "h", cb, 2, "x", 1};
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_sim_route(&cr, "monitoring", &c, err, sizeof(err)), FR_SIM_ROUTE_UNSUPPORTED);
    fr_sim_call_free(&c);
    fr_sigv4_header bad[] = {{"x-amz-target", "ElasticMapReduce.ListClusters"}};
    fr_sim_raw_req br = {"POST", "/", 1, "h", bad, 1, "{nope", 5};
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_sim_route(&br, NULL, &c, err, sizeof(err)), FR_SIM_ROUTE_BAD_INPUT);
    fr_sim_call_free(&c);
}

static void test_faults(void **state)
{
    fr_sim_faults f;
    fr_sim_faults_init(&f, 7);
    char err[128];
    json_t *r1 = json_pack("{s:s, s:f, s:{s:f, s:f}}", "service", "emr", "throttle_rate", 0.25, "latency_ms", "mean",
                           100.0, "jitter", 10.0);
    json_t *r2 = json_pack("{s:s, s:s, s:{s:f, s:f}}", "service", "emr", "operation", "ListClusters", "rate_limit",
                           "rate", 2.0, "burst", 3.0);
    assert_int_equal(fr_sim_faults_put(&f, r1, NOW, err, sizeof(err)), 0);
    assert_int_equal(fr_sim_faults_put(&f, r2, NOW, err, sizeof(err)), 0);
    fr_sim_fault_decision d;
    int throttled = 0;
    for (int i = 0; i < 4000; i++) {
        fr_sim_faults_decide(&f, FR_SIM_SVC_EMR, "DescribeCluster", NOW, &d);
        throttled += d.action == FR_SIM_FAULT_THROTTLE;
        assert_true(d.latency_ms >= 90 && d.latency_ms <= 110);
    }
    assert_true(throttled > 900 && throttled < 1100);
    /* the operation rule: a bucket of 3, 2 per second, no latency */
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        fr_sim_faults_decide(&f, FR_SIM_SVC_EMR, "ListClusters", NOW, &d);
        ok += d.action == FR_SIM_FAULT_NONE;
        assert_true(d.latency_ms == 0);
    }
    assert_int_equal(ok, 3);
    fr_sim_faults_decide(&f, FR_SIM_SVC_EMR, "ListClusters", NOW + 500, &d);
    assert_int_equal(d.action, FR_SIM_FAULT_NONE);
    assert_true(d.rate_limited == false);
    fr_sim_faults_decide(&f, FR_SIM_SVC_EMR, "ListClusters", NOW + 500, &d);
    assert_true(d.rate_limited);
    /* other services are untouched */
    fr_sim_faults_decide(&f, FR_SIM_SVC_SSM, "GetParameter", NOW, &d);
    assert_int_equal(d.action, FR_SIM_FAULT_NONE);
    /* the AWS-like table */
    fr_sim_faults_set_aws_limits(&f, true, NOW);
    int passed = 0;
    for (int i = 0; i < 10; i++) {
        fr_sim_faults_decide(&f, FR_SIM_SVC_SSM, "PutParameter", NOW, &d);
        passed += d.action == FR_SIM_FAULT_NONE;
    }
    assert_int_equal(passed, 3);
    assert_int_equal(fr_sim_faults_remove(&f, "emr", NULL), 2);
    json_t *bad = json_pack("{s:s, s:f}", "service", "emr", "error_rate", 1.5);
    assert_int_not_equal(fr_sim_faults_put(&f, bad, NOW, err, sizeof(err)), 0);
    fr_sim_calls_count(&f, FR_SIM_SVC_EMR, "ListClusters", &d, false);
    json_t *calls = fr_sim_calls_json(&f);
    assert_int_equal(json_integer_value(json_object_get(calls, "total")), 1);
    json_decref(calls);
    json_decref(bad);
    json_decref(r1);
    json_decref(r2);
    fr_sim_faults_free(&f);
}

static void test_ssm_rules(void **state)
{
    fr_sim_ssm s;
    fr_sim_ssm_init(&s, "us-east-1", "123456789012");
    char code[64], msg[512];
    int64_t v;
    assert_int_equal(fr_sim_ssm_put(&s, "/a/b", "one", "String", NULL, false, "d", "u", NOW, &v, code, sizeof(code),
                                    msg, sizeof(msg)), 0);
    assert_true(v == 1);
    assert_int_equal(fr_sim_ssm_put(&s, "/a/b", "two", NULL, NULL, false, NULL, "u", NOW, &v, code, sizeof(code), msg,
                                    sizeof(msg)), FR_EPARSE);
    assert_string_equal(code, "ParameterAlreadyExists");
    assert_int_equal(fr_sim_ssm_put(&s, "/a/b", "two", NULL, NULL, true, NULL, "u", NOW, &v, code, sizeof(code), msg,
                                    sizeof(msg)), 0);
    const fr_sim_param *p = fr_sim_ssm_find(&s, "/a/b");
    assert_string_equal(fr_sim_ssm_latest(p)->value, "two");
    assert_string_equal(fr_sim_ssm_latest(p)->type, "String");
    assert_string_equal(fr_sim_ssm_latest(p)->description, "d");
    assert_string_equal(fr_sim_ssm_version(p, 1)->value, "one");
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(fr_sim_ssm_put(&s, "/a/b", big, NULL, NULL, true, NULL, "u", NOW, &v, code, sizeof(code), msg,
                                    sizeof(msg)), FR_EPARSE);
    assert_string_equal(code, "ValidationException");
    assert_int_equal(fr_sim_ssm_put(&s, "/a/b", big, NULL, "Advanced", true, NULL, "u", NOW, &v, code, sizeof(code),
                                    msg, sizeof(msg)), 0);
    assert_int_equal(fr_sim_ssm_put(&s, "/aws/x", "v", "String", NULL, false, NULL, "u", NOW, &v, code, sizeof(code),
                                    msg, sizeof(msg)), FR_EPARSE);
    /* 100 versions kept, the oldest dropped */
    for (int i = 0; i < 120; i++)
        fr_sim_ssm_put(&s, "/many", "v", "String", NULL, true, NULL, "u", NOW, &v, code, sizeof(code), msg, sizeof(msg));
    p = fr_sim_ssm_find(&s, "/many");
    assert_int_equal(p->n, 100);
    assert_true(p->vers[0].version == 21);
    fr_sim_ssm_free(&s);
}

static void test_spot(void **state)
{
    fr_sim_catalog cat;
    fr_sim_catalog_builtin(&cat);
    fr_sim_spot s;
    fr_sim_spot_init(&s, &cat, 42, "us-east-1");
    assert_int_equal(s.naz, 6);
    assert_int_equal(fr_sim_spot_az_index(&s, "us-east-1c"), 2);
    int64_t since;
    double p1 = fr_sim_spot_price_at(&s, "m5.xlarge", 0, "Linux/UNIX", NOW, &since);
    double p2 = fr_sim_spot_price_at(&s, "m5.xlarge", 0, "Linux/UNIX", NOW, NULL);
    assert_true(p1 == p2 && p1 > 0 && p1 <= 0.192);
    assert_true(since <= NOW && since > NOW - 49 * 3600000LL);
    double w = fr_sim_spot_price_at(&s, "m5.xlarge", 0, "Windows", NOW, NULL);
    assert_true(w > p1);
    fr_sim_price_rec *recs = NULL;
    size_t n = 0, cap = 0;
    assert_true(fr_sim_spot_history(&s, "m5.xlarge", 1, "Linux/UNIX", NOW - 86400000, NOW, &recs, &n, &cap) >= 1);
    for (size_t i = 1; i < n; i++)
        assert_true(recs[i].ts_ms > NOW - 86400000 && recs[i].ts_ms <= NOW);
    free(recs);
    /* replay: the newest record lands on the anchor; the AZs map in order */
    const char *csv = "Timestamp,InstanceType,ProductDescription,SpotPrice,AvailabilityZone\n"
                      "2023-12-09 23:00:00+00:00,c5a.2xlarge,Linux/UNIX,0.1700,us-east-1f\n"
                      "2023-12-09 20:00:00+00:00,c5a.2xlarge,Linux/UNIX,0.1600,us-east-1d\n"
                      "2023-12-09 10:00:00+00:00,c5a.2xlarge,Linux/UNIX,0.1500,us-east-1f\n";
    char err[128];
    assert_int_equal(fr_sim_spot_load(&s, "t.csv", csv, strlen(csv), NOW, err, sizeof(err)), 0);
    assert_int_equal(s.npools, 2);
    /* us-east-1d -> first sim AZ, us-east-1f -> second */
    assert_true(fr_sim_spot_price_at(&s, "c5a.2xlarge", 1, "Linux/UNIX", NOW, &since) == 0.17);
    assert_true(since == NOW);
    assert_true(fr_sim_spot_price_at(&s, "c5a.2xlarge", 1, "Linux/UNIX", NOW - 3600000, NULL) == 0.15);
    assert_true(fr_sim_spot_price_at(&s, "c5a.2xlarge", 0, "Linux/UNIX", NOW, NULL) == 0.16);
    /* types not in the file still have (model) prices */
    assert_true(fr_sim_spot_price_at(&s, "m5.xlarge", 0, "Linux/UNIX", NOW, NULL) > 0);
    const char *tsv = "use1-az2\tm5.large\tLinux/UNIX\t0.0350\t2022-05-31T18:20:41+00:00\n"
                      "euw3-az2\tm5.large\tLinux/UNIX\t0.0400\t2022-05-31T18:20:41+00:00\n";
    assert_int_equal(fr_sim_spot_load(&s, "t.tsv", tsv, strlen(tsv), NOW, err, sizeof(err)), 0);
    assert_int_equal(s.npools, 1); /* only this region's AZ ids */
    assert_int_not_equal(fr_sim_spot_load(&s, "bad", "x,y\n1,2\n", 8, NOW, err, sizeof(err)), 0);
    fr_sim_spot_free(&s);
    fr_sim_catalog_free(&cat);
}

static void test_sqs(void **state)
{
    fr_sim_sqs q;
    fr_sim_sqs_init(&q, "us-east-1", "123456789012", "http://127.0.0.1:1", 1);
    fr_sim_queue *qu = fr_sim_sqs_create(&q, "a", NOW);
    assert_ptr_equal(fr_sim_sqs_find(&q, "http://elsewhere/123456789012/a"), qu);
    fr_sim_msg *m;
    assert_int_equal(fr_sim_sqs_send(&q, qu, "hello", NULL, NOW, &m), 0);
    assert_string_equal(m->md5, "5d41402abc4b2a76b9719d911017c592");
    fr_sim_call c = {.svc = FR_SIM_SVC_SQS, .proto = FR_SIM_PROTO_JSON10};
    fr_strlcpy(c.op, "ReceiveMessage", sizeof(c.op));
    c.in = json_pack("{s:s, s:i}", "QueueUrl", qu->url, "WaitTimeSeconds", 5);
    fr_sim_resp r;
    fr_sim_resp_init(&r);
    int64_t wait;
    fr_sim_queue *on;
    fr_sim_sqs_call(&q, &c, NOW, true, &r, &wait, &on);
    assert_true(wait == 0);
    assert_non_null(strstr(fr_buf_cstr(&r.body), "hello"));
    fr_sim_resp_reset(&r);
    /* in flight now: a long poll parks until the visibility timeout */
    fr_sim_sqs_call(&q, &c, NOW, true, &r, &wait, &on);
    assert_true(wait == 5000);
    assert_ptr_equal(on, qu);
    fr_sim_sqs_call(&q, &c, NOW + 31000, true, &r, &wait, &on);
    assert_true(wait == 0);
    assert_non_null(strstr(fr_buf_cstr(&r.body), "hello"));
    fr_sim_resp_free(&r);
    fr_sim_call_free(&c);
    /* MD5 of message attributes, as the SDKs verify it */
    json_t *attrs = json_pack("{s:{s:s, s:s}}", "a", "DataType", "String", "StringValue", "b");
    char md5[33];
    fr_sim_sqs_attrs_md5(attrs, md5);
    /* bytes: 00000001 'a' 00000006 'String' 01 00000001 'b' */
    unsigned char raw[] = {0, 0, 0, 1, 'a', 0, 0, 0, 6, 'S', 't', 'r', 'i', 'n', 'g', 1, 0, 0, 0, 1, 'b'};
    char want[33];
    fr_sim_md5_hex(raw, sizeof(raw), want);
    assert_string_equal(md5, want);
    json_decref(attrs);
    fr_sim_sqs_free(&q);
}

static void test_chat_rules(void **state)
{
    fr_sim_chat c;
    fr_sim_chat_init(&c, 1);
    json_t *script = json_loads("{\"rules\": [{\"match\": {\"tool_name\": \"t\", \"tool\": \"ok\"}, \"reply\": {\"content\": \"tool ok\"}},"
                                "{\"match\": {\"user_regex\": \"^hi\"}, \"reply\": {\"content\": \"hey\"}, \"times\": 1}],"
                                "\"default\": {\"content\": \"dflt\"}}",
                                0, NULL);
    char err[128];
    assert_int_equal(fr_sim_chat_set_script(&c, script, err, sizeof(err)), 0);
    json_decref(script);
    const char *body1 = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi there\"}]}";
    fr_sigv4_header hs[] = {{"api-key", "k"}};
    fr_sim_raw_req raw = {"POST", "/openai/deployments/d/chat/completions?api-version=1", 0, "h", hs, 1, body1,
                          strlen(body1)};
    fr_sim_resp r;
    fr_sim_resp_init(&r);
    int64_t delay;
    fr_sim_chat_handle(&c, "POST", "/openai/deployments/d/chat/completions", "api-version=1", &raw, NOW, &r, &delay);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(fr_buf_cstr(&r.body), "\"hey\""));
    fr_sim_resp_reset(&r);
    fr_sim_chat_handle(&c, "POST", "/openai/deployments/d/chat/completions", "api-version=1", &raw, NOW, &r, &delay);
    assert_non_null(strstr(fr_buf_cstr(&r.body), "dflt")); /* times: 1 */
    fr_sim_resp_reset(&r);
    const char *body2 = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", "
                        "\"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"t\", "
                        "\"arguments\": \"{}\"}}]}, {\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"all ok\"}]}";
    raw.body = body2;
    raw.body_len = strlen(body2);
    fr_sim_chat_handle(&c, "POST", "/openai/deployments/d/chat/completions", "api-version=1", &raw, NOW, &r, &delay);
    assert_non_null(strstr(fr_buf_cstr(&r.body), "tool ok"));
    fr_sim_resp_free(&r);
    json_t *bad = json_loads("{\"rules\": [{\"reply\": {}}]}", 0, NULL);
    assert_int_not_equal(fr_sim_chat_set_script(&c, bad, err, sizeof(err)), 0);
    json_decref(bad);
    fr_sim_chat_free(&c);
}

static void test_error_shapes(void **state)
{
    fr_sim_call c = {.svc = FR_SIM_SVC_SQS, .proto = FR_SIM_PROTO_JSON10};
    fr_strlcpy(c.request_id, "rid", sizeof(c.request_id));
    fr_sim_resp r;
    fr_sim_resp_init(&r);
    fr_sim_error(&c, &r, 400, "AWS.SimpleQueueService.NonExistentQueue", "gone");
    assert_non_null(strstr(fr_buf_cstr(&r.body), "\"__type\":\"QueueDoesNotExist\""));
    assert_string_equal(fr_sim_resp_get_header(&r, "x-amzn-query-error"), "AWS.SimpleQueueService.NonExistentQueue;Sender");
    fr_sim_resp_reset(&r);
    c.svc = FR_SIM_SVC_EC2;
    c.proto = FR_SIM_PROTO_EC2;
    fr_sim_throttle(&c, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(fr_buf_cstr(&r.body), "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"));
    assert_non_null(strstr(fr_buf_cstr(&r.body), "<RequestID>rid</RequestID>"));
    fr_sim_resp_reset(&r);
    c.svc = FR_SIM_SVC_STS;
    c.proto = FR_SIM_PROTO_QUERY;
    fr_sim_error(&c, &r, 403, "InvalidClientTokenId", "bad <key>");
    assert_non_null(strstr(fr_buf_cstr(&r.body), "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"));
    assert_non_null(strstr(fr_buf_cstr(&r.body), "bad &lt;key&gt;"));
    fr_sim_resp_reset(&r);
    c.svc = FR_SIM_SVC_LAMBDA;
    c.proto = FR_SIM_PROTO_RESTJSON;
    fr_sim_error(&c, &r, 404, "ResourceNotFoundException", "no");
    assert_string_equal(fr_sim_resp_get_header(&r, "x-amzn-ErrorType"), "ResourceNotFoundException");
    fr_sim_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth),  cmocka_unit_test(test_route),     cmocka_unit_test(test_faults),
        cmocka_unit_test(test_ssm_rules), cmocka_unit_test(test_spot), cmocka_unit_test(test_sqs),
        cmocka_unit_test(test_chat_rules), cmocka_unit_test(test_error_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
