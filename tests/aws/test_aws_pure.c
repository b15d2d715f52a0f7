/* Pure parts of the AWS client: endpoints and regions, request encoding,
 * XML to JSON, error parsing and retry classification, shared config
 * files, assume-role chains, credential answers (credential_process
 * output too) and expiry, CloudWatch batching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frugal/aws.h"
#include "frugal/err.h"
#include "frugal/str.h"

/* ---- an injectable environment ---- */

struct env {
    const char *kv[32][2];
    size_t n;
};

static const char *env_get(const char *name, void *arg)
{
    struct env *e = arg;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->kv[i][0], name) == 0)
            return e->kv[i][1];
    return NULL;
}

static void env_set(struct env *e, const char *k, const char *v)
{
    e->kv[e->n][0] = k;
    e->kv[e->n][1] = v;
    e->n++;
}

/* ---- endpoints and regions ---- */

static void test_region_order(void **state)
{
    (void)state;
    struct env e = {0};
    char r[32];
    const char *src;
    assert_int_equal(fr_aws_resolve_region(NULL, env_get, &e, NULL, r, sizeof(r), &src), 0);
    assert_string_equal(r, "us-east-1");
    assert_string_equal(src, "default");
    assert_int_equal(fr_aws_resolve_region("", env_get, &e, "eu-west-3", r, sizeof(r), &src), 0);
    assert_string_equal(r, "eu-west-3");
    assert_string_equal(src, "profile");
    env_set(&e, "AWS_DEFAULT_REGION", "ap-south-1");
    assert_int_equal(fr_aws_resolve_region(NULL, env_get, &e, "eu-west-3", r, sizeof(r), &src), 0);
    assert_string_equal(r, "ap-south-1");
    env_set(&e, "AWS_REGION", "eu-central-1");
    assert_int_equal(fr_aws_resolve_region(NULL, env_get, &e, "eu-west-3", r, sizeof(r), &src), 0);
    assert_string_equal(r, "eu-central-1");
    assert_string_equal(src, "AWS_REGION");
    assert_int_equal(fr_aws_resolve_region("us-west-2", env_get, &e, NULL, r, sizeof(r), &src), 0);
    assert_string_equal(r, "us-west-2");
    assert_string_equal(src, "aws.region");
    assert_int_equal(fr_aws_resolve_region("us west/2", env_get, &e, NULL, r, sizeof(r), &src), FR_ECONFIG);
}

static void test_default_hosts(void **state)
{
    (void)state;
    struct env e = {0};
    fr_aws_endpoint ep;
    static const char *const want[FR_SVC__COUNT] = {
        "https://elasticmapreduce.eu-west-1.amazonaws.com", "https://monitoring.eu-west-1.amazonaws.com",
        "https://ssm.eu-west-1.amazonaws.com",              "https://lambda.eu-west-1.amazonaws.com",
        "https://ec2.eu-west-1.amazonaws.com",              "https://sqs.eu-west-1.amazonaws.com",
        "https://sts.eu-west-1.amazonaws.com",              "https://api.pricing.us-east-1.amazonaws.com",
    };
    static const char *const signing[FR_SVC__COUNT] = {"elasticmapreduce", "monitoring", "ssm", "lambda",
                                                       "ec2",              "sqs",        "sts", "pricing"};
    for (int s = 0; s < FR_SVC__COUNT; s++) {
        assert_int_equal(fr_aws_resolve_endpoint((enum fr_aws_svc)s, "eu-west-1", NULL, env_get, &e, &ep), 0);
        assert_string_equal(ep.url, want[s]);
        assert_string_equal(ep.signing_name, signing[s]);
        assert_string_equal(ep.source, "default");
    }
    assert_string_equal(ep.signing_region, "us-east-1"); /* pricing outside its three regions */
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_PRICING, "ap-south-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.url, "https://api.pricing.ap-south-1.amazonaws.com");
    assert_string_equal(ep.signing_region, "ap-south-1");
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_PRICING, "eu-central-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.host_header, "api.pricing.eu-central-1.amazonaws.com");
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_EC2, "cn-north-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.url, "https://ec2.cn-north-1.amazonaws.com.cn");
}

static void test_endpoint_overrides(void **state)
{
    (void)state;
    struct env e = {0};
    fr_aws_endpoint ep;
    env_set(&e, "AWS_ENDPOINT_URL", "http://127.0.0.1:4566/");
    env_set(&e, "AWS_ENDPOINT_URL_EMR", "http://localhost:9000/emr");
    env_set(&e, "AWS_ENDPOINT_URL_CLOUDWATCH", "https://cw.example:443");
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_SSM, "eu-west-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.url, "http://127.0.0.1:4566");
    assert_string_equal(ep.host_header, "127.0.0.1:4566");
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL");
    assert_string_equal(ep.signing_region, "eu-west-1");
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_EMR, "eu-west-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.url, "http://localhost:9000/emr");
    assert_string_equal(ep.base_path, "/emr");
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL_EMR");
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_CLOUDWATCH, "eu-west-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.host_header, "cw.example"); /* default port dropped, as the SDKs sign it */
    /* the config wins over both */
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_EMR, "eu-west-1", "http://[::1]:8080", env_get, &e, &ep), 0);
    assert_string_equal(ep.url, "http://[::1]:8080");
    assert_string_equal(ep.host_header, "[::1]:8080");
    assert_string_equal(ep.source, "aws.endpoint_url");
    /* pricing keeps the configured region when an endpoint is given */
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_PRICING, "eu-west-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.signing_region, "eu-west-1");
    /* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS */
    env_set(&e, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_EMR, "eu-west-1", NULL, env_get, &e, &ep), 0);
    assert_string_equal(ep.source, "default");
    /* every per-service name */
    static const char *const names[] = {"AWS_ENDPOINT_URL_EMR",    "AWS_ENDPOINT_URL_CLOUDWATCH",
                                        "AWS_ENDPOINT_URL_SSM",    "AWS_ENDPOINT_URL_LAMBDA",
                                        "AWS_ENDPOINT_URL_EC2",    "AWS_ENDPOINT_URL_SQS",
                                        "AWS_ENDPOINT_URL_STS",    "AWS_ENDPOINT_URL_PRICING"};
    for (int s = 0; s < FR_SVC__COUNT; s++) {
        struct env e2 = {0};
        env_set(&e2, names[s], "http://10.0.0.1:1234");
        assert_int_equal(fr_aws_resolve_endpoint((enum fr_aws_svc)s, "us-east-1", NULL, env_get, &e2, &ep), 0);
        assert_string_equal(ep.source, names[s]);
        assert_string_equal(ep.url, "http://10.0.0.1:1234");
    }
}

static void test_bad_urls(void **state)
{
    (void)state;
    fr_aws_url u;
    const char *bad[] = {"ftp://x", "http://", "http://user@host", "http://h:0", "http://h:99999", "http://h:12a",
                         "http://h/p?q=1", "http://h#f", "http://[::1", "http://h h", "localhost:4566"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++)
        assert_int_equal(fr_aws_parse_url(bad[i], &u), FR_ECONFIG);
    assert_int_equal(fr_aws_parse_url("https://a.b:8443/x/y/", &u), 0);
    assert_true(u.https);
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.base_path, "/x/y");
    struct env e = {0};
    env_set(&e, "AWS_ENDPOINT_URL", "nonsense");
    fr_aws_endpoint ep;
    assert_int_equal(fr_aws_resolve_endpoint(FR_SVC_EMR, "us-east-1", NULL, env_get, &e, &ep), FR_ECONFIG);
}

/* ---- request encoding ---- */

static void test_json_encode(void **state)
{
    (void)state;
    fr_buf b = FR_BUF_INIT;
    assert_int_equal(fr_aws_json_encode(NULL, &b), 0);
    assert_string_equal(b.data, "{}");
    json_t *j = json_pack("{s:[s], s:i, s:s}", "ClusterStates", "TERMINATED", "N", 3, "U", "caf\xc3\xa9/x");
    assert_int_equal(fr_aws_json_encode(j, &b), 0);
    /* like Python's json.dumps: ", " and ": ", key order, ASCII only, '/' kept
     * (jansson writes the escape's hex digits in upper case) */
    assert_string_equal(b.data, "{\"ClusterStates\": [\"TERMINATED\"], \"N\": 3, \"U\": \"caf\\u00E9/x\"}");
    json_decref(j);
    fr_buf_free(&b);
}

static void test_query_encode(void **state)
{
    (void)state;
    fr_buf b = FR_BUF_INIT;
    json_t *p = json_pack("{s:[s,s], s:[{s:s, s:[s]}], s:b, s:{s:s, s:{s:s}}, s:i, s:f, s:n}", "InstanceId", "i-1",
                          "i-2", "Filter", "Name", "tag:Name", "Value", "a b&c", "DryRun", 1, "InstanceMarketOptions",
                          "MarketType", "spot", "SpotOptions", "MaxPrice", "0.5", "MinCount", 2, "Price", 0.1,
                          "Skip");
    assert_int_equal(fr_aws_query_encode("RunInstances", "2016-11-15", p, true, &b), 0);
    assert_string_equal(b.data, "Action=RunInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2"
                                "&Filter.1.Name=tag%3AName&Filter.1.Value.1=a+b%26c&DryRun=true"
                                "&InstanceMarketOptions.MarketType=spot&InstanceMarketOptions.SpotOptions.MaxPrice=0.5"
                                "&MinCount=2&Price=0.1");
    json_decref(p);
    /* the query protocol: Name.member.N, and empty lists as "Name=" */
    p = json_pack("{s:[s], s:[]}", "PolicyArns", "arn:x", "Tags");
    assert_int_equal(fr_aws_query_encode("AssumeRole", "2011-06-15", p, false, &b), 0);
    assert_string_equal(b.data, "Action=AssumeRole&Version=2011-06-15&PolicyArns.member.1=arn%3Ax&Tags=");
    json_decref(p);
    assert_int_equal(fr_aws_query_encode("GetCallerIdentity", "2011-06-15", NULL, false, &b), 0);
    assert_string_equal(b.data, "Action=GetCallerIdentity&Version=2011-06-15");
    fr_buf_free(&b);
}

static void test_lambda_path(void **state)
{
    (void)state;
    fr_buf p = FR_BUF_INIT, q = FR_BUF_INIT;
    assert_int_equal(fr_aws_lambda_invoke_path("arn:aws:lambda:us-east-1:123456789012:function:f", "prod", &p, &q), 0);
    assert_string_equal(p.data, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af"
                                "/invocations");
    assert_string_equal(q.data, "Qualifier=prod");
    assert_int_equal(fr_aws_lambda_invoke_path("app-job-submit-lambda-prod", NULL, &p, &q), 0);
    assert_string_equal(p.data, "/2015-03-31/functions/app-job-submit-lambda-prod/invocations");
    assert_int_equal(q.len, 0);
    /* the signature double-encodes what the wire encodes once */
    fr_buf_reset(&p);
    fr_buf_puts(&p, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations");
    fr_sigv4_header h[] = {{"host", "lambda.us-east-1.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
    fr_sigv4_req r = {"POST", p.data, NULL, h, 2, "{}", 2, NULL};
    fr_sigv4_scope s = {"us-east-1", "lambda", 1440938160000, false};
    fr_buf creq = FR_BUF_INIT, sh = FR_BUF_INIT;
    assert_int_equal(fr_sigv4_canonical_request(&r, &s, &creq, &sh), 0);
    assert_non_null(strstr(creq.data, "/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A1%253Afunction%253Af/"));
    fr_buf_free(&creq);
    fr_buf_free(&sh);
    fr_buf_free(&p);
    fr_buf_free(&q);
}

static void test_sign_layout(void **state)
{
    (void)state;
    fr_sigv4_header h[] = {{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "ElasticMapReduce.ListClusters"}};
    fr_aws_sign_in in = {"POST", "elasticmapreduce.us-east-1.amazonaws.com", "/", NULL, h, 2, "{}", 2,
                         "us-east-1", "elasticmapreduce", "AKIDEXAMPLE", "secret", "TOKEN", 1440938160000, NULL};
    char date[20];
    fr_buf a = FR_BUF_INIT;
    assert_int_equal(fr_aws_sign(&in, date, &a), 0);
    assert_string_equal(date, "20150830T123600Z");
    assert_true(fr_str_startswith(a.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/elasticmapreduce/"
                                          "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                                          "x-amz-security-token;x-amz-target, Signature="));
    in.secret_key = NULL;
    assert_int_equal(fr_aws_sign(&in, date, &a), FR_ECRED);
    fr_buf_free(&a);
    char m[32];
    fr_aws_mask_key("AKIAIOSFODNN7EXAMPLE", m, sizeof(m));
    assert_string_equal(m, "AKIA****MPLE");
    fr_aws_mask_key("short", m, sizeof(m));
    assert_string_equal(m, "****");
}

/* ---- XML ---- */

static const char *ec2_doc =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
    "  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>\n"
    "  <reservationSet>\n"
    "    <item>\n"
    "      <reservationId>r-1234567890abcdef0</reservationId>\n"
    "      <groupSet/>\n"
    "      <instancesSet>\n"
    "        <item><instanceId>i-1</instanceId><instanceType>m5.large</instanceType>\n"
    "          <instanceState><code>16</code><name>running</name></instanceState>\n"
    "          <tagSet><item><key>Name</key><value>a &amp; b</value></item></tagSet>\n"
    "          <spotInstanceRequestId></spotInstanceRequestId>\n"
    "        </item>\n"
    "        <item><instanceId>i-2</instanceId></item>\n"
    "      </instancesSet>\n"
    "    </item>\n"
    "  </reservationSet>\n"
    "  <nextToken>tok2</nextToken>\n"
    "</DescribeInstancesResponse>\n";

static void check_ec2_doc(json_t *j)
{
    assert_string_equal(json_string_value(json_object_get(j, "requestId")), "8f7724cf-496f-496e-8fe3-example");
    assert_string_equal(json_string_value(json_object_get(j, "nextToken")), "tok2");
    json_t *res = json_object_get(j, "reservationSet");
    assert_true(json_is_array(res));
    assert_int_equal(json_array_size(res), 1);
    json_t *r0 = json_array_get(res, 0);
    assert_true(json_is_array(json_object_get(r0, "groupSet")));
    assert_int_equal(json_array_size(json_object_get(r0, "groupSet")), 0);
    json_t *inst = json_object_get(r0, "instancesSet");
    assert_int_equal(json_array_size(inst), 2);
    json_t *i0 = json_array_get(inst, 0);
    assert_string_equal(json_string_value(json_object_get(i0, "instanceType")), "m5.large");
    assert_string_equal(json_string_value(json_object_get(json_object_get(i0, "instanceState"), "code")), "16");
    json_t *tag = json_array_get(json_object_get(i0, "tagSet"), 0);
    assert_string_equal(json_string_value(json_object_get(tag, "value")), "a & b");
    assert_string_equal(json_string_value(json_object_get(i0, "spotInstanceRequestId")), "");
    double code;
    assert_int_equal(fr_aws_json_number(json_object_get(json_object_get(i0, "instanceState"), "code"), &code), 0);
    assert_true(code == 16);
}

static void test_xml_ec2(void **state)
{
    (void)state;
    json_t *j = NULL;
    char name[64], err[200];
    assert_int_equal(fr_aws_xml_to_json(ec2_doc, strlen(ec2_doc), 0, &j, name, sizeof(name), err, sizeof(err)), 0);
    assert_string_equal(name, "DescribeInstancesResponse");
    check_ec2_doc(j);
    json_decref(j);
    /* fed one byte at a time, as a slow stream would deliver it */
    fr_aws_xml *x = fr_aws_xml_new(0);
    for (size_t i = 0; ec2_doc[i]; i++)
        assert_int_equal(fr_aws_xml_feed(x, ec2_doc + i, 1), 0);
    assert_int_equal(fr_aws_xml_finish(x, &j, name, sizeof(name), err, sizeof(err)), 0);
    check_ec2_doc(j);
    json_decref(j);
    fr_aws_xml_free(x);
}

static void test_xml_query_and_repeats(void **state)
{
    (void)state;
    const char *doc = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                      "<GetCallerIdentityResult><Arn>arn:aws:iam::1:user/u</Arn><UserId>AID</UserId>"
                      "<Account>123456789012</Account></GetCallerIdentityResult>"
                      "<ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>";
    json_t *root = NULL;
    char name[64], err[200], rid[64] = "";
    assert_int_equal(fr_aws_xml_to_json(doc, strlen(doc), 0, &root, name, sizeof(name), err, sizeof(err)), 0);
    json_t *res = fr_aws_query_result(root, "GetCallerIdentity", rid, sizeof(rid));
    assert_string_equal(rid, "rid-1");
    assert_string_equal(json_string_value(json_object_get(res, "Account")), "123456789012");
    json_decref(res);
    res = fr_aws_query_result(root, "Other", rid, sizeof(rid));
    assert_int_equal(json_object_size(res), 0);
    json_decref(res);
    json_decref(root);
    /* members and repeated siblings */
    const char *doc2 = "<R><Ls><member>a</member><member>b</member></Ls><X>1</X><X>2</X><X>3</X></R>";
    assert_int_equal(fr_aws_xml_to_json(doc2, strlen(doc2), 0, &root, name, sizeof(name), err, sizeof(err)), 0);
    assert_int_equal(json_array_size(json_object_get(root, "Ls")), 2);
    assert_int_equal(json_array_size(json_object_get(root, "X")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(root, "X"), 2)), "3");
    json_decref(root);
}

static void test_xml_malformed(void **state)
{
    (void)state;
    json_t *j = NULL;
    char name[64], err[200];
    /* every truncation of a valid document is a parse error, never a crash */
    size_t n = strlen(ec2_doc);
    for (size_t cut = 0; cut < n - 1; cut++) {
        int rc = fr_aws_xml_to_json(ec2_doc, cut, 0, &j, name, sizeof(name), err, sizeof(err));
        if (rc == 0) {
            /* only whitespace after the root may go */
            assert_true(cut >= strlen(ec2_doc) - 1);
            json_decref(j);
            continue;
        }
        assert_int_equal(rc, FR_EPARSE);
        assert_null(j);
        assert_true(strlen(err) > 0);
    }
    const char *bad[] = {
        "",
        "not xml at all",
        "<a><b></a>",
        "<a></a><b/>",
        "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        "<a>&undefined;</a>",
        "<a>\xff\xfe</a>",
        "{\"json\": true}",
        "<a><b>1</b>",
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++) {
        assert_int_equal(fr_aws_xml_to_json(bad[i], strlen(bad[i]), 0, &j, name, sizeof(name), err, sizeof(err)),
                         FR_EPARSE);
        assert_null(j);
    }
    /* deep nesting is refused before the stack runs out */
    fr_buf deep = FR_BUF_INIT;
    for (int i = 0; i < 200; i++)
        fr_buf_puts(&deep, "<a>");
    assert_int_equal(fr_aws_xml_to_json(deep.data, deep.len, 0, &j, name, sizeof(name), err, sizeof(err)), FR_EPARSE);
    assert_non_null(strstr(err, "deeper"));
    fr_buf_free(&deep);
    /* oversized */
    fr_buf big = FR_BUF_INIT;
    fr_buf_puts(&big, "<a>");
    for (int i = 0; i < 2000; i++)
        fr_buf_puts(&big, "<b>xxxxxxxxxx</b>");
    fr_buf_puts(&big, "</a>");
    assert_int_equal(fr_aws_xml_to_json(big.data, big.len, 1000, &j, name, sizeof(name), err, sizeof(err)),
                     FR_EPARSE);
    assert_non_null(strstr(err, "larger than"));
    assert_int_equal(fr_aws_xml_to_json(big.data, big.len, 0, &j, name, sizeof(name), err, sizeof(err)), 0);
    assert_int_equal(json_array_size(json_object_get(j, "b")), 2000);
    json_decref(j);
    fr_buf_free(&big);
}

/* ---- JSON answers ---- */

static void test_json_decode(void **state)
{
    (void)state;
    json_t *j;
    char err[200];
    assert_int_equal(fr_aws_json_decode("", 0, &j, err, sizeof(err)), 0);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    assert_int_equal(fr_aws_json_decode(" \n", 2, &j, err, sizeof(err)), 0);
    json_decref(j);
    const char *ok = "{\"Clusters\": [{\"Id\": \"j-1\", \"Status\": {\"State\": \"TERMINATED\"}}], \"Marker\": \"m\"}";
    for (size_t cut = 1; cut < strlen(ok); cut++) {
        assert_int_equal(fr_aws_json_decode(ok, cut, &j, err, sizeof(err)), FR_EPARSE);
        assert_null(j);
    }
    assert_int_equal(fr_aws_json_decode(ok, strlen(ok), &j, err, sizeof(err)), 0);
    json_decref(j);
    const char *bad[] = {"[1,2]", "\"s\"", "12", "<html>", "{\"a\":1}{", "\x01\x02"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++)
        assert_int_equal(fr_aws_json_decode(bad[i], strlen(bad[i]), &j, err, sizeof(err)), FR_EPARSE);
}

/* ---- errors and classification ---- */

static fr_http_resp resp(long status, const char *body, fr_http_header *h, size_t nh)
{
    fr_http_resp r;
    memset(&r, 0, sizeof(r));
    r.status = status;
    r.body = body;
    r.body_len = strlen(body);
    r.headers = h;
    r.nheaders = nh;
    return r;
}

static void test_error_shapes(void **state)
{
    (void)state;
    fr_aws_error e;
    fr_http_header h1[] = {{"x-amzn-requestid", "rid-json"}};
    fr_http_resp r = resp(400, "{\"__type\":\"com.amazonaws.emr#InvalidRequestException\",\"message\":\"bad id\"}", h1,
                          1);
    fr_aws_parse_error(FR_AWS_PROTO_JSON11, &r, &e);
    assert_string_equal(e.code, "InvalidRequestException");
    assert_string_equal(e.message, "bad id");
    assert_string_equal(e.request_id, "rid-json");
    assert_int_equal(e.kind, FR_AWS_ERR_SERVICE);
    assert_int_equal(e.http_status, 400);
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_JSON11, &r, NULL), FR_VERDICT_FAIL);

    /* SQS (query-compatible): the header's code wins */
    fr_http_header h2[] = {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}};
    r = resp(400, "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"no queue\"}", h2, 1);
    fr_aws_parse_error(FR_AWS_PROTO_JSON10, &r, &e);
    assert_string_equal(e.code, "AWS.SimpleQueueService.NonExistentQueue");
    assert_string_equal(e.message, "no queue");

    /* EC2 */
    r = resp(503, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                  "<Message>Request limit exceeded.</Message></Error></Errors><RequestID>rid-ec2</RequestID></Response>",
             NULL, 0);
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_EC2, &r, &e), FR_VERDICT_THROTTLE);
    assert_string_equal(e.code, "RequestLimitExceeded");
    assert_string_equal(e.request_id, "rid-ec2");
    assert_int_equal(e.kind, FR_AWS_ERR_THROTTLE);
    assert_int_equal(e.err, FR_ETHROTTLED);

    /* query (STS) */
    r = resp(403, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
                  "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid."
                  "</Message></Error><RequestId>rid-sts</RequestId></ErrorResponse>",
             NULL, 0);
    fr_aws_parse_error(FR_AWS_PROTO_QUERY, &r, &e);
    assert_string_equal(e.code, "InvalidClientTokenId");
    assert_string_equal(e.request_id, "rid-sts");
    assert_int_equal(e.kind, FR_AWS_ERR_SERVICE);

    /* Lambda: x-amzn-ErrorType (with its ':' suffix) */
    fr_http_header h3[] = {{"x-amzn-errortype", "TooManyRequestsException:http://internal.amazon.com/coral/"},
                           {"x-amzn-requestid", "rid-l"}};
    r = resp(429, "{\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\",\"Type\":\"User\","
                  "\"message\":\"Rate Exceeded.\"}",
             h3, 2);
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_RESTJSON, &r, &e), FR_VERDICT_THROTTLE);
    assert_string_equal(e.code, "TooManyRequestsException");
    assert_string_equal(e.message, "Rate Exceeded.");

    /* moto answers JSON services with XML on auth failures */
    r = resp(403, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch"
                  "</Code><Message>m</Message><Type>Sender</Type></Error></Errors></ErrorResponse>",
             NULL, 0);
    fr_aws_parse_error(FR_AWS_PROTO_JSON11, &r, &e);
    assert_string_equal(e.code, "SignatureDoesNotMatch");

    /* a proxy's HTML, an empty body, garbage, truncated JSON */
    const char *junk[] = {"<html><body>Bad Gateway</body></html>", "", "\x01\x02\x03", "{\"__type\": \"Thrott",
                          "<Response><Errors><Error><Code>X"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(junk); i++) {
        r = resp(502, junk[i], NULL, 0);
        for (int p = FR_AWS_PROTO_JSON10; p <= FR_AWS_PROTO_RESTJSON; p++) {
            assert_int_equal(fr_aws_classify((fr_aws_protocol)p, &r, &e), FR_VERDICT_RETRY);
            assert_string_equal(e.code, "502");
            assert_int_equal(e.kind, FR_AWS_ERR_TRANSIENT);
        }
        r = resp(400, junk[i], NULL, 0);
        assert_int_equal(fr_aws_classify(FR_AWS_PROTO_EC2, &r, &e), FR_VERDICT_FAIL);
        assert_int_equal(e.kind, FR_AWS_ERR_SERVICE);
    }
}

static void test_classify(void **state)
{
    (void)state;
    const char *thr[] = {"Throttling",           "ThrottlingException",     "ThrottledException",
                         "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
                         "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
                         "LimitExceededException", "RequestThrottled",        "SlowDown",
                         "PriorRequestNotComplete", "EC2ThrottledException"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(thr); i++) {
        char body[200];
        snprintf(body, sizeof(body), "{\"__type\": \"ns#%s\", \"message\": \"slow down\"}", thr[i]);
        fr_http_resp r = resp(400, body, NULL, 0);
        assert_int_equal(fr_aws_classify(FR_AWS_PROTO_JSON11, &r, NULL), FR_VERDICT_THROTTLE);
    }
    const char *tr[] = {"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
                        "ServiceUnavailable"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(tr); i++) {
        char body[200];
        snprintf(body, sizeof(body), "{\"__type\": \"%s\"}", tr[i]);
        fr_http_resp r = resp(400, body, NULL, 0);
        assert_int_equal(fr_aws_classify(FR_AWS_PROTO_JSON10, &r, NULL), FR_VERDICT_RETRY);
    }
    long st[] = {500, 502, 503, 504};
    for (size_t i = 0; i < FR_ARRAY_SIZE(st); i++) {
        fr_http_resp r = resp(st[i], "{\"__type\":\"Whatever\"}", NULL, 0);
        assert_int_equal(fr_aws_classify(FR_AWS_PROTO_JSON11, &r, NULL), FR_VERDICT_RETRY);
    }
    fr_http_resp r = resp(429, "", NULL, 0);
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_RESTJSON, &r, NULL), FR_VERDICT_THROTTLE);
    r = resp(200, "{}", NULL, 0);
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_JSON11, &r, NULL), FR_VERDICT_OK);
    r = resp(403, "{\"__type\":\"AccessDeniedException\"}", NULL, 0);
    fr_aws_error e;
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_JSON11, &r, &e), FR_VERDICT_FAIL);
    assert_true(fr_aws_is_access_denied_code(e.code));
    r = resp(0, "", NULL, 0);
    r.err = -ECONNREFUSED;
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_EC2, &r, &e), FR_VERDICT_RETRY);
    assert_int_equal(e.kind, FR_AWS_ERR_TRANSPORT);
    r.err = -ETIMEDOUT;
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_EC2, &r, &e), FR_VERDICT_RETRY);
    r.err = -E2BIG;
    assert_int_equal(fr_aws_classify(FR_AWS_PROTO_EC2, &r, &e), FR_VERDICT_FAIL);
}

/* ---- shared config files ---- */

static void test_ini(void **state)
{
    (void)state;
    const char *creds = "# comment\n"
                        "[default]\n"
                        "aws_access_key_id = AKIDDEFAULT\n"
                        "aws_secret_access_key=SECRETDEFAULT\n"
                        "\n"
                        "[ prod ]\r\n"
                        "AWS_ACCESS_KEY_ID = AKIDPROD\r\n"
                        "aws_secret_access_key = SECRET/PROD+x=\r\n"
                        "aws_session_token = TOK\r\n";
    const char *config = "[default]\n"
                         "region = eu-west-1\n"
                         "; another comment\n"
                         "[profile prod]\n"
                         "region = ap-south-1\n"
                         "s3 =\n"
                         "  max_concurrent_requests = 10\n"
                         "[profile wi]\n"
                         "role_arn = arn:aws:iam::1:role/r\n"
                         "web_identity_token_file = /tmp/tok\n"
                         "[profile sso]\n"
                         "sso_session = corp\n"
                         "[not-a-profile]\n"
                         "region = xx-none-1\n";
    fr_aws_ini *ci, *gi;
    char err[200];
    assert_int_equal(fr_aws_ini_parse(creds, strlen(creds), "credentials", &ci, err, sizeof(err)), 0);
    assert_int_equal(fr_aws_ini_parse(config, strlen(config), "config", &gi, err, sizeof(err)), 0);
    assert_string_equal(fr_aws_ini_get(gi, "profile prod", "s3"), "\nmax_concurrent_requests = 10");
    fr_aws_profile p;
    assert_int_equal(fr_aws_profile_from_ini(ci, gi, NULL, &p), 0);
    assert_true(p.found);
    assert_string_equal(p.access_key_id, "AKIDDEFAULT");
    assert_string_equal(p.region, "eu-west-1");
    fr_aws_profile_clear(&p);
    assert_int_equal(fr_aws_profile_from_ini(ci, gi, "prod", &p), 0);
    assert_string_equal(p.access_key_id, "AKIDPROD");
    assert_string_equal(p.secret_access_key, "SECRET/PROD+x=");
    assert_string_equal(p.session_token, "TOK");
    assert_string_equal(p.region, "ap-south-1");
    fr_aws_profile_clear(&p);
    assert_int_equal(fr_aws_profile_from_ini(ci, gi, "wi", &p), 0);
    assert_string_equal(p.role_arn, "arn:aws:iam::1:role/r");
    assert_string_equal(p.web_identity_token_file, "/tmp/tok");
    assert_null(p.access_key_id);
    fr_aws_profile_clear(&p);
    assert_int_equal(fr_aws_profile_from_ini(ci, gi, "sso", &p), 0);
    assert_string_equal(p.unsupported, "sso_session");
    fr_aws_profile_clear(&p);
    assert_int_equal(fr_aws_profile_from_ini(ci, gi, "not-a-profile", &p), 0);
    assert_false(p.found); /* config sections need the "profile " prefix */
    fr_aws_profile_clear(&p);
    assert_int_equal(fr_aws_profile_from_ini(NULL, NULL, "x", &p), 0);
    assert_false(p.found);
    fr_aws_ini_free(ci);
    fr_aws_ini_free(gi);

    struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"[default]\nthis line is wrong\n", "credentials:2: expected 'key = value'"},
        {"key = v\n[default]\n", "credentials:1: 'key = value' before any [section]"},
        {"[default\nkey = v\n", "credentials:1: malformed section header"},
        {"[]\n", "credentials:1: malformed section header"},
        {"[default]\n= v\n", "credentials:2: expected"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++) {
        fr_aws_ini *x = NULL;
        err[0] = '\0';
        assert_int_equal(fr_aws_ini_parse(bad[i].text, strlen(bad[i].text), "credentials", &x, err, sizeof(err)),
                         FR_EPARSE);
        assert_null(x);
        assert_true(fr_str_startswith(err, bad[i].want));
    }
}

/* ---- assume-role chains ---- */

static int chain_resolve(const char *creds, const char *config, const char *name, fr_aws_role_chain *c,
                         char *err, size_t errlen)
{
    fr_aws_ini *ci = NULL, *gi = NULL;
    char e[200];
    assert_int_equal(fr_aws_ini_parse(creds, strlen(creds), "credentials", &ci, e, sizeof(e)), 0);
    assert_int_equal(fr_aws_ini_parse(config, strlen(config), "config", &gi, e, sizeof(e)), 0);
    err[0] = '\0';
    int rc = fr_aws_role_chain_resolve(ci, gi, name, c, err, errlen);
    fr_aws_ini_free(ci);
    fr_aws_ini_free(gi);
    return rc;
}

static void test_role_chain(void **state)
{
    (void)state;
    const char *creds = "[base]\n"
                        "aws_access_key_id = AKIDBASE\n"
                        "aws_secret_access_key = SECRETBASE\n"
                        "[self]\n"
                        "aws_access_key_id = AKIDSELF\n"
                        "aws_secret_access_key = SECRETSELF\n"
                        "[half]\n"
                        "aws_access_key_id = AKIDHALF\n";
    const char *config = "[profile one]\n"
                         "role_arn = arn:aws:iam::1:role/one\n"
                         "source_profile = base\n"
                         "external_id = ext-1\n"
                         "duration_seconds = 1800\n"
                         "role_session_name = sess-one\n"
                         "[profile two]\n"
                         "role_arn = arn:aws:iam::1:role/two\n"
                         "source_profile = one\n"
                         "[profile self]\n"
                         "role_arn = arn:aws:iam::1:role/self\n"
                         "source_profile = self\n"
                         "[profile envrole]\n"
                         "role_arn = arn:aws:iam::1:role/env\n"
                         "credential_source = Environment\n"
                         "[profile imdsrole]\n"
                         "role_arn = arn:aws:iam::1:role/imds\n"
                         "credential_source = Ec2InstanceMetadata\n"
                         "[profile ecsrole]\n"
                         "role_arn = arn:aws:iam::1:role/ecs\n"
                         "credential_source = EcsContainer\n"
                         "[profile proc]\n"
                         "credential_process = /bin/creds --x\n"
                         "[profile viaproc]\n"
                         "role_arn = arn:aws:iam::1:role/p\n"
                         "source_profile = proc\n"
                         "[profile wi]\n"
                         "role_arn = arn:aws:iam::1:role/wi\n"
                         "web_identity_token_file = /tok\n"
                         "[profile viawi]\n"
                         "role_arn = arn:aws:iam::1:role/afterwi\n"
                         "source_profile = wi\n"
                         /* errors */
                         "[profile loopa]\n"
                         "role_arn = arn:aws:iam::1:role/a\n"
                         "source_profile = loopb\n"
                         "[profile loopb]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = loopa\n"
                         "[profile selfnokeys]\n"
                         "role_arn = arn:aws:iam::1:role/s\n"
                         "source_profile = selfnokeys\n"
                         "[profile missing]\n"
                         "role_arn = arn:aws:iam::1:role/m\n"
                         "source_profile = nowhere\n"
                         "[profile both]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = base\n"
                         "credential_source = Environment\n"
                         "[profile badsource]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "credential_source = environment\n"
                         "[profile mfa]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = base\n"
                         "mfa_serial = arn:aws:iam::1:mfa/me\n"
                         "[profile short]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = base\n"
                         "duration_seconds = 899\n"
                         "[profile long]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = base\n"
                         "duration_seconds = 43201\n"
                         "[profile nokeys]\n"
                         "region = eu-west-1\n"
                         "[profile empty]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = nokeys\n"
                         "[profile halfsrc]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = half\n"
                         "[profile sso]\n"
                         "sso_session = corp\n"
                         "[profile viasso]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = sso\n"
                         "[profile norole]\n"
                         "source_profile = base\n"
                         "[profile viadangling]\n"
                         "role_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = dangling\n"
                         "[profile dangling]\n"
                         "role_arn = arn:aws:iam::1:role/dangling\n"
                         "[profile h1]\nrole_arn = arn:aws:iam::1:role/h1\nsource_profile = h2\n"
                         "[profile h2]\nrole_arn = arn:aws:iam::1:role/h2\nsource_profile = h3\n"
                         "[profile h3]\nrole_arn = arn:aws:iam::1:role/h3\nsource_profile = h4\n"
                         "[profile h4]\nrole_arn = arn:aws:iam::1:role/h4\nsource_profile = base\n"
                         "[profile h0]\nrole_arn = arn:aws:iam::1:role/h0\nsource_profile = h1\n";
    fr_aws_role_chain c;
    char err[300];

    /* one hop from static keys, with every option */
    assert_int_equal(chain_resolve(creds, config, "one", &c, err, sizeof(err)), 0);
    assert_int_equal(c.base, FR_CRED_BASE_STATIC);
    assert_string_equal(c.base_profile.name, "base");
    assert_string_equal(c.base_profile.access_key_id, "AKIDBASE");
    assert_int_equal(c.nhops, 1);
    assert_string_equal(c.hop[0].profile, "one");
    assert_string_equal(c.hop[0].role_arn, "arn:aws:iam::1:role/one");
    assert_string_equal(c.hop[0].external_id, "ext-1");
    assert_string_equal(c.hop[0].role_session_name, "sess-one");
    assert_int_equal(c.hop[0].duration_s, 1800);
    fr_aws_role_chain_clear(&c);

    /* two hops: innermost first */
    assert_int_equal(chain_resolve(creds, config, "two", &c, err, sizeof(err)), 0);
    assert_int_equal(c.base, FR_CRED_BASE_STATIC);
    assert_string_equal(c.base_profile.name, "base");
    assert_int_equal(c.nhops, 2);
    assert_string_equal(c.hop[0].role_arn, "arn:aws:iam::1:role/one");
    assert_string_equal(c.hop[1].role_arn, "arn:aws:iam::1:role/two");
    assert_null(c.hop[1].external_id);
    assert_null(c.hop[1].role_session_name);
    assert_int_equal(c.hop[1].duration_s, 0);
    fr_aws_role_chain_clear(&c);

    /* four hops is the limit, five is refused */
    assert_int_equal(chain_resolve(creds, config, "h1", &c, err, sizeof(err)), 0);
    assert_int_equal(c.nhops, 4);
    assert_string_equal(c.hop[0].profile, "h4");
    assert_string_equal(c.hop[3].profile, "h1");
    fr_aws_role_chain_clear(&c);
    assert_int_equal(chain_resolve(creds, config, "h0", &c, err, sizeof(err)), FR_ECONFIG);
    assert_non_null(strstr(err, "longer than 4 hops: h0 -> h1 -> h2 -> h3 -> h4"));
    assert_int_equal(c.nhops, 0);

    /* a profile sourcing its own keys */
    assert_int_equal(chain_resolve(creds, config, "self", &c, err, sizeof(err)), 0);
    assert_int_equal(c.base, FR_CRED_BASE_STATIC);
    assert_string_equal(c.base_profile.access_key_id, "AKIDSELF");
    assert_int_equal(c.nhops, 1);
    assert_string_equal(c.hop[0].role_arn, "arn:aws:iam::1:role/self");
    fr_aws_role_chain_clear(&c);

    /* credential_source */
    static const struct {
        const char *profile;
        fr_aws_cred_base base;
    } cs[] = {{"envrole", FR_CRED_BASE_ENV}, {"imdsrole", FR_CRED_BASE_IMDS}, {"ecsrole", FR_CRED_BASE_CONTAINER}};
    for (size_t i = 0; i < FR_ARRAY_SIZE(cs); i++) {
        assert_int_equal(chain_resolve(creds, config, cs[i].profile, &c, err, sizeof(err)), 0);
        assert_int_equal(c.base, cs[i].base);
        assert_int_equal(c.nhops, 1);
        assert_false(c.base_profile.found);
        fr_aws_role_chain_clear(&c);
    }

    /* a source profile with credential_process, or web identity */
    assert_int_equal(chain_resolve(creds, config, "viaproc", &c, err, sizeof(err)), 0);
    assert_int_equal(c.base, FR_CRED_BASE_PROCESS);
    assert_string_equal(c.base_profile.credential_process, "/bin/creds --x");
    fr_aws_role_chain_clear(&c);
    assert_int_equal(chain_resolve(creds, config, "viawi", &c, err, sizeof(err)), 0);
    assert_int_equal(c.base, FR_CRED_BASE_WEB_IDENTITY);
    assert_string_equal(c.base_profile.role_arn, "arn:aws:iam::1:role/wi");
    assert_int_equal(c.nhops, 1);
    assert_string_equal(c.hop[0].role_arn, "arn:aws:iam::1:role/afterwi");
    fr_aws_role_chain_clear(&c);

    /* errors name the profile and the reason */
    static const struct {
        const char *profile;
        const char *want;
    } bad[] = {
        {"loopa", "source_profile loop: loopa -> loopb -> loopa"},
        {"selfnokeys", "source_profile loop: selfnokeys -> selfnokeys"},
        {"missing", "profile 'missing': source_profile 'nowhere' does not exist"},
        {"both", "profile 'both' has both source_profile and credential_source"},
        {"badsource", "credential_source 'environment' is not one of Environment, Ec2InstanceMetadata"},
        {"mfa", "mfa_serial needs an interactive prompt; not supported by a daemon"},
        {"short", "duration_seconds must be a number of seconds from 900 to 43200"},
        {"long", "duration_seconds must be a number of seconds from 900 to 43200"},
        {"empty", "source profile 'nokeys' has no credentials"},
        {"halfsrc", "source profile 'half' has only one of aws_access_key_id"},
        {"viasso", "aws configure export-credentials --profile sso --format process"},
        {"norole", "is a source_profile without credentials"},
        {"viadangling", "profile 'dangling' has role_arn but neither source_profile nor credential_source"},
        {"not-there", "AWS profile 'not-there' does not exist"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++) {
        assert_int_equal(chain_resolve(creds, config, bad[i].profile, &c, err, sizeof(err)), FR_ECONFIG);
        if (!strstr(err, bad[i].want))
            fail_msg("%s: got '%s', want '%s'", bad[i].profile, err, bad[i].want);
        assert_int_equal(c.nhops, 0);
        assert_null(c.base_profile.access_key_id);
    }

    /* which profiles are assume-role ones */
    fr_aws_profile p;
    memset(&p, 0, sizeof(p));
    assert_false(fr_aws_profile_assumes_role(&p));
    char arn[] = "arn", src[] = "base", tok[] = "/tok";
    p.role_arn = arn;
    assert_false(fr_aws_profile_assumes_role(&p)); /* needs a source */
    p.source_profile = src;
    assert_true(fr_aws_profile_assumes_role(&p));
    p.web_identity_token_file = tok;
    assert_false(fr_aws_profile_assumes_role(&p)); /* web identity instead */
}

/* ---- credential_process ---- */

static void test_process_output(void **state)
{
    (void)state;
    fr_aws_creds c;
    char err[200];
    const char *full = "{\"Version\": 1, \"AccessKeyId\": \"ASIAPROC\", \"SecretAccessKey\": \"sk\", "
                       "\"SessionToken\": \"st\", \"Expiration\": \"2026-11-22T16:00:00+00:00\"}\n";
    assert_int_equal(fr_cred_parse_process(full, strlen(full), &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "ASIAPROC");
    assert_string_equal(c.secret_access_key, "sk");
    assert_string_equal(c.session_token, "st");
    assert_int_equal(c.expiration_ms, 1795363200000LL);
    fr_aws_creds_clear(&c);
    /* no Expiration: never expires; no token: long-term keys */
    const char *keys = "{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"sk\",\"Expiration\":null}";
    assert_int_equal(fr_cred_parse_process(keys, strlen(keys), &c, err, sizeof(err)), 0);
    assert_int_equal(c.expiration_ms, 0);
    assert_null(c.session_token);
    fr_aws_creds_clear(&c);

    static const struct {
        const char *out;
        const char *want;
    } bad[] = {
        {"AKIDLEAKED secret-leaked", "output is not JSON (line 1, column"},
        {"", "output is not JSON"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"secret-leaked\"", "output is not JSON"},
        {"[1, 2]", "output is not a JSON object"},
        {"{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}", "output has no Version"},
        {"{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}", "unsupported Version 2"},
        {"{\"Version\": \"1\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}", "Version must be the number 1"},
        {"{\"Version\": 1, \"SecretAccessKey\": \"s\"}", "output has no AccessKeyId"},
        {"{\"Version\": 1, \"AccessKeyId\": \"\", \"SecretAccessKey\": \"s\"}", "output has no AccessKeyId"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\"}", "output has no SecretAccessKey"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": 5}", "output has no SecretAccessKey"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"SessionToken\": 1}",
         "SessionToken is not a string"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"Expiration\": \"soon\"}",
         "Expiration is not an ISO 8601 time"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"Expiration\": 1795363200}",
         "Expiration is not an ISO 8601 string"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        assert_int_equal(fr_cred_parse_process(bad[i].out, strlen(bad[i].out), &c, err, sizeof(err)), FR_EPARSE);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err, bad[i].want);
        assert_null(strstr(err, "leaked")); /* the output is never quoted */
        assert_null(c.access_key_id);
    }
    /* oversized: refused before parsing, even when it is valid JSON */
    fr_buf big = FR_BUF_INIT;
    fr_buf_puts(&big, "{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"Pad\": \"");
    while (big.len <= FR_CRED_PROCESS_MAX_OUTPUT)
        fr_buf_puts(&big, "xxxxxxxxxxxxxxxx");
    fr_buf_puts(&big, "\"}");
    assert_int_equal(fr_cred_parse_process(big.data, big.len, &c, err, sizeof(err)), FR_EPARSE);
    assert_non_null(strstr(err, "larger than 65536 bytes"));
    fr_buf_free(&big);
}

static void test_split_command(void **state)
{
    (void)state;
    static const struct {
        const char *cmd;
        const char *want[6];
    } ok[] = {
        {"aws configure export-credentials --profile x --format process",
         {"aws", "configure", "export-credentials", "--profile", "x", "--format"}},
        {"  /usr/bin/creds\t--a  ", {"/usr/bin/creds", "--a"}},
        {"python3 '/tmp/dir with space/p.py' \"two words\"", {"python3", "/tmp/dir with space/p.py", "two words"}},
        {"a 'it''s' \"q\\\"uote\" back\\ slash", {"a", "its", "q\"uote", "back slash"}},
        {"a \"b\\\\c\" \"d\\e\" 'f\\g'", {"a", "b\\c", "d\\e", "f\\g"}},
        {"a '' \"\" b", {"a", "", "", "b"}},
        {"x$HOME *.txt #c", {"x$HOME", "*.txt", "#c"}},
        {"pre'fix'\"ed\"", {"prefixed"}},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(ok); i++) {
        char **argv;
        size_t argc;
        char err[200];
        assert_int_equal(fr_cred_split_command(ok[i].cmd, &argv, &argc, err, sizeof(err)), 0);
        size_t want = 0;
        while (want < 6 && ok[i].want[want])
            want++;
        if (i == 0)
            want = 7; /* "process" does not fit the table */
        assert_int_equal(argc, want);
        for (size_t k = 0; k < argc && k < 6; k++)
            if (strcmp(argv[k], ok[i].want[k]) != 0)
                fail_msg("case %zu word %zu: '%s' != '%s'", i, k, argv[k], ok[i].want[k]);
        assert_null(argv[argc]);
        fr_cred_argv_free(argv);
    }
    static const struct {
        const char *cmd;
        const char *want;
    } bad[] = {
        {"", "credential_process is empty"},
        {"   ", "credential_process is empty"},
        {"a 'b", "no closing quotation"},
        {"a \"b", "no closing quotation"},
        {"a \\", "a backslash ends the command"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++) {
        char **argv = (char **)1;
        size_t argc = 9;
        char err[200] = "";
        assert_int_equal(fr_cred_split_command(bad[i].cmd, &argv, &argc, err, sizeof(err)), FR_EPARSE);
        assert_null(argv);
        assert_int_equal(argc, 0);
        if (!strstr(err, bad[i].want))
            fail_msg("'%s': got '%s'", bad[i].cmd, err);
    }
}

/* ---- credential answers and expiry ---- */

static void test_cred_answers(void **state)
{
    (void)state;
    fr_aws_creds c;
    char err[200];
    const char *imds = "{\"Code\" : \"Success\", \"LastUpdated\" : \"2026-11-22T10:00:00Z\", \"Type\" : \"AWS-HMAC\","
                       "\"AccessKeyId\" : \"ASIAIMDS\", \"SecretAccessKey\" : \"s\", \"Token\" : \"t\","
                       "\"Expiration\" : \"2026-11-22T16:00:00Z\"}";
    assert_int_equal(fr_cred_parse_json(imds, strlen(imds), &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "ASIAIMDS");
    assert_string_equal(c.session_token, "t");
    assert_int_equal(c.expiration_ms, 1795363200000LL);
    fr_aws_creds_clear(&c);
    const char *failed = "{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"Message\": \"nope\"}";
    assert_int_equal(fr_cred_parse_json(failed, strlen(failed), &c, err, sizeof(err)), FR_ECRED);
    assert_non_null(strstr(err, "AssumeRoleUnauthorizedAccess"));
    const char *partial = "{\"AccessKeyId\": \"A\"}";
    assert_int_equal(fr_cred_parse_json(partial, strlen(partial), &c, err, sizeof(err)), FR_EPARSE);
    assert_int_equal(fr_cred_parse_json("{\"Acc", 5, &c, err, sizeof(err)), FR_EPARSE);
    const char *badexp = "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"Expiration\": \"tomorrow\"}";
    assert_int_equal(fr_cred_parse_json(badexp, strlen(badexp), &c, err, sizeof(err)), FR_EPARSE);
    const char *sts = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                      "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAWEB</AccessKeyId>"
                      "<SecretAccessKey>sk</SecretAccessKey><SessionToken>st</SessionToken>"
                      "<Expiration>2026-11-22T11:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
                      "</AssumeRoleWithWebIdentityResponse>";
    assert_int_equal(fr_cred_parse_sts(sts, strlen(sts), &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "ASIAWEB");
    assert_int_equal(c.expiration_ms, 1795345200000LL);
    fr_aws_creds_clear(&c);
    assert_int_equal(fr_cred_parse_sts(sts, 40, &c, err, sizeof(err)), FR_EPARSE);
    const char *ar = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
                     "<AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId>"
                     "</AssumedRoleUser><Credentials><AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>rk"
                     "</SecretAccessKey><SessionToken>rt</SessionToken><Expiration>2026-11-22T11:00:00.000Z"
                     "</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId>"
                     "</ResponseMetadata></AssumeRoleResponse>";
    assert_int_equal(fr_cred_parse_sts(ar, strlen(ar), &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "ASIAROLE");
    assert_string_equal(c.session_token, "rt");
    assert_int_equal(c.expiration_ms, 1795345200000LL);
    fr_aws_creds_clear(&c);
    const char *nocreds = "<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>";
    assert_int_equal(fr_cred_parse_sts(nocreds, strlen(nocreds), &c, err, sizeof(err)), FR_EPARSE);
}

static void test_cred_expiry(void **state)
{
    (void)state;
    int64_t now = 1795345200000LL;
    fr_aws_creds c = {"A", "S", "T", 0, "x"};
    assert_true(fr_cred_usable(&c, now));
    assert_int_equal(fr_cred_refresh_in_ms(&c, now, 0.5), -1); /* static keys never refresh */
    c.expiration_ms = now + 3600000;
    /* an hour left: refresh 5 minutes early, minus up to 60 s of jitter */
    assert_int_equal(fr_cred_refresh_in_ms(&c, now, 0), 3300000);
    assert_int_equal(fr_cred_refresh_in_ms(&c, now, 0.999999), 3300000 - 59999);
    /* 5 min + 4 s left: the jitter shrinks to half of what is left */
    c.expiration_ms = now + 304000;
    assert_int_equal(fr_cred_refresh_in_ms(&c, now, 0), 4000);
    assert_true(fr_cred_refresh_in_ms(&c, now, 0.99) >= 2000);
    /* already inside the window: halfway to unusable */
    c.expiration_ms = now + 70000;
    assert_int_equal(fr_cred_refresh_in_ms(&c, now, 0.3), 30000);
    assert_true(fr_cred_usable(&c, now));
    assert_true(fr_cred_usable(&c, now + 59999));
    assert_false(fr_cred_usable(&c, now + 60000)); /* 10 s margin */
    assert_int_equal(fr_cred_refresh_in_ms(&c, now + 61000, 0.3), 0);
    fr_aws_creds none = {0};
    assert_false(fr_cred_usable(&none, now));
}

/* ---- CloudWatch ---- */

static void test_cw_ids(void **state)
{
    (void)state;
    assert_true(fr_aws_cw_id_valid("q0"));
    assert_true(fr_aws_cw_id_valid("cpu_core_i_0abc"));
    assert_false(fr_aws_cw_id_valid("Q0"));
    assert_false(fr_aws_cw_id_valid("0q"));
    assert_false(fr_aws_cw_id_valid("q-0"));
    assert_false(fr_aws_cw_id_valid(""));
    assert_false(fr_aws_cw_id_valid(NULL));
    char id[64];
    assert_int_equal(fr_aws_cw_make_id(id, sizeof(id), "i-0abc/CPU Utilization", 17), 0);
    assert_string_equal(id, "q17_i_0abc_CPU_Utilization");
    assert_true(fr_aws_cw_id_valid(id));
    assert_int_equal(fr_aws_cw_make_id(id, 8, "very long hint", 3), 0);
    assert_string_equal(id, "q3_very");
    assert_int_equal(fr_aws_cw_make_id(id, 3, NULL, 123), FR_ELIMIT);
    char big[300];
    fr_buf hint = FR_BUF_INIT;
    for (int i = 0; i < 400; i++)
        fr_buf_putc(&hint, 'x');
    assert_int_equal(fr_aws_cw_make_id(big, sizeof(big), hint.data, 1), 0);
    assert_true(fr_aws_cw_id_valid(big));
    fr_buf_free(&hint);
}

static void test_cw_batching(void **state)
{
    (void)state;
    json_t *qs = json_array();
    for (int i = 0; i < 1201; i++) {
        char id[32];
        fr_aws_cw_make_id(id, sizeof(id), NULL, (size_t)i);
        json_array_append_new(qs, json_pack("{s:s}", "Id", id));
    }
    char why[200];
    assert_int_equal(fr_aws_cw_check_queries(qs, why, sizeof(why)), 0);
    json_t *b = fr_aws_cw_batches(qs, 500);
    assert_int_equal(json_array_size(b), 3);
    assert_int_equal(json_array_size(json_array_get(b, 0)), 500);
    assert_int_equal(json_array_size(json_array_get(b, 2)), 201);
    json_decref(b);
    json_array_append_new(qs, json_pack("{s:s, s:s}", "Id", "e1", "Expression", "q1+q2"));
    assert_int_equal(fr_aws_cw_check_queries(qs, why, sizeof(why)), -EINVAL);
    json_array_remove(qs, json_array_size(qs) - 1);
    json_array_append_new(qs, json_pack("{s:s}", "Id", "q5"));
    assert_int_equal(fr_aws_cw_check_queries(qs, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "twice"));
    json_decref(qs);
    qs = json_pack("[{s:s}]", "Id", "Bad");
    assert_int_equal(fr_aws_cw_check_queries(qs, why, sizeof(why)), -EINVAL);
    json_decref(qs);

    /* two pages of q1, one of q0; results in query order */
    json_t *acc = json_object(), *msgs = json_array();
    json_t *p1 = json_loads("{\"MetricDataResults\":[{\"Id\":\"q1\",\"Label\":\"L1\",\"Timestamps\":[1,2],"
                            "\"Values\":[0.5,0.6],\"StatusCode\":\"PartialData\"}],\"NextToken\":\"t\"}",
                            0, NULL);
    json_t *p2 = json_loads("{\"MetricDataResults\":[{\"Id\":\"q1\",\"Timestamps\":[3],\"Values\":[0.7],"
                            "\"StatusCode\":\"Complete\"},{\"Id\":\"q0\",\"Timestamps\":[],\"Values\":[],"
                            "\"StatusCode\":\"Complete\"}],\"Messages\":[{\"Code\":\"c\"}]}",
                            0, NULL);
    fr_aws_cw_merge_page(acc, msgs, p1);
    fr_aws_cw_merge_page(acc, msgs, p2);
    json_t *queries = json_pack("[{s:s},{s:s},{s:s}]", "Id", "q0", "Id", "q1", "Id", "q9");
    json_t *res = fr_aws_cw_merged_result(queries, acc, msgs);
    json_t *r = json_object_get(res, "MetricDataResults");
    assert_int_equal(json_array_size(r), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "Id")), "q0");
    json_t *q1 = json_array_get(r, 1);
    assert_int_equal(json_array_size(json_object_get(q1, "Values")), 3);
    assert_string_equal(json_string_value(json_object_get(q1, "StatusCode")), "Complete");
    assert_string_equal(json_string_value(json_object_get(q1, "Label")), "L1");
    assert_int_equal(json_array_size(json_object_get(res, "Messages")), 1);
    json_decref(res);
    json_decref(queries);
    json_decref(p1);
    json_decref(p2);
    json_decref(acc);
    json_decref(msgs);
}

static void test_service_table(void **state)
{
    (void)state;
    enum fr_aws_svc s;
    assert_int_equal(fr_aws_service_by_name("CloudWatch", &s), 0);
    assert_int_equal(s, FR_SVC_CLOUDWATCH);
    assert_int_equal(fr_aws_service_by_name("elasticmapreduce", &s), 0);
    assert_int_equal(s, FR_SVC_EMR);
    assert_int_equal(fr_aws_service_by_name("s3", &s), FR_ENOTFOUND);
    assert_int_equal(fr_aws_service(FR_SVC_CLOUDWATCH)->protocol, FR_AWS_PROTO_JSON10);
    assert_string_equal(fr_aws_service(FR_SVC_CLOUDWATCH)->target_prefix, "GraniteServiceVersion20100801");
    assert_int_equal(fr_aws_service(FR_SVC_SQS)->protocol, FR_AWS_PROTO_JSON10);
    assert_int_equal(fr_aws_service(FR_SVC_EMR)->protocol, FR_AWS_PROTO_JSON11);
    assert_int_equal(fr_aws_service(FR_SVC_EC2)->protocol, FR_AWS_PROTO_EC2);
    assert_int_equal(fr_aws_service(FR_SVC_STS)->protocol, FR_AWS_PROTO_QUERY);
    assert_int_equal(fr_aws_service(FR_SVC_LAMBDA)->protocol, FR_AWS_PROTO_RESTJSON);
    assert_null(fr_aws_service(FR_SVC__COUNT));
}

static void test_json_helpers(void **state)
{
    (void)state;
    double d;
    json_t *v = json_string(" 0.0132 ");
    assert_int_equal(fr_aws_json_number(v, &d), 0);
    assert_true(d > 0.0131 && d < 0.0133);
    json_decref(v);
    v = json_string("abc");
    assert_int_equal(fr_aws_json_number(v, &d), FR_EPARSE);
    json_decref(v);
    v = json_string("TRUE");
    assert_true(fr_aws_json_bool(v));
    json_decref(v);
    assert_true(fr_aws_json_bool(json_true()));
    json_t *o = json_pack("{s:s, s:[i], s:i}", "e", "", "l", 1, "n", 2);
    assert_int_equal(json_array_size(fr_aws_json_list(o, "e")), 0);
    assert_int_equal(json_array_size(fr_aws_json_list(o, "l")), 1);
    assert_null(fr_aws_json_list(o, "n"));
    assert_null(fr_aws_json_list(o, "missing"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_order),       cmocka_unit_test(test_default_hosts),
        cmocka_unit_test(test_endpoint_overrides), cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_json_encode),        cmocka_unit_test(test_query_encode),
        cmocka_unit_test(test_lambda_path),        cmocka_unit_test(test_sign_layout),
        cmocka_unit_test(test_xml_ec2),            cmocka_unit_test(test_xml_query_and_repeats),
        cmocka_unit_test(test_xml_malformed),      cmocka_unit_test(test_json_decode),
        cmocka_unit_test(test_error_shapes),       cmocka_unit_test(test_classify),
        cmocka_unit_test(test_ini),                cmocka_unit_test(test_cred_answers),
        cmocka_unit_test(test_cred_expiry),        cmocka_unit_test(test_cw_ids),
        cmocka_unit_test(test_cw_batching),        cmocka_unit_test(test_service_table),
        cmocka_unit_test(test_json_helpers),       cmocka_unit_test(test_role_chain),
        cmocka_unit_test(test_process_output),     cmocka_unit_test(test_split_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
