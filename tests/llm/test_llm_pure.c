/* Chat client pure parts: SSE framing, delta reassembly, URLs, bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frugal/agent.h"
#include "frugal/commands.h"
#include "frugal/err.h"
#include "frugal/llm.h"
#include "frugal/str.h"

struct collected {
    fr_llm_acc acc;
    fr_buf deltas;
    int events;
    int done;
    int bad;
};

static void on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct collected *c = arg;
    c->events++;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        c->done = 1;
        return;
    }
    json_t *j = json_loadb(data, len, 0, NULL);
    if (!j || fr_llm_acc_chunk(&c->acc, j, &c->deltas) != 0)
        c->bad++;
    json_decref(j);
}

static const char *STREAM =
    ": keep-alive\r\n\r\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\", world\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
    "\"function\":{\"name\":\"analyze_\",\"arguments\":\"{\\\"clu\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"cluster\","
    "\"arguments\":\"ster_name\\\": \\\"A\\\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"function\":{"
    "\"name\":\"list_transient_clusters\",\"arguments\":\"{}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n"
    "data: [DONE]\n\n";

static void check_stream_result(struct collected *c)
{
    assert_int_equal(c->bad, 0);
    assert_true(c->done);
    assert_string_equal(fr_buf_cstr(&c->deltas), "Hello, world");
    assert_string_equal(fr_buf_cstr(&c->acc.content), "Hello, world");
    assert_string_equal(c->acc.finish_reason, "tool_calls");
    assert_int_equal(json_array_size(c->acc.tool_calls), 2);
    json_t *t0 = json_array_get(c->acc.tool_calls, 0);
    assert_string_equal(json_string_value(json_object_get(t0, "id")), "call_1");
    json_t *f0 = json_object_get(t0, "function");
    assert_string_equal(json_string_value(json_object_get(f0, "name")), "analyze_cluster");
    assert_string_equal(json_string_value(json_object_get(f0, "arguments")), "{\"cluster_name\": \"A\"}");
    json_t *f1 = json_object_get(json_array_get(c->acc.tool_calls, 1), "function");
    assert_string_equal(json_string_value(json_object_get(f1, "name")), "list_transient_clusters");
    assert_int_equal(c->acc.total_tokens, 18);
}

static void test_sse_whole(void **state)
{
    struct collected c = {0};
    fr_llm_acc_init(&c.acc);
    fr_sse p;
    fr_sse_init(&p, 0);
    assert_int_equal(fr_sse_feed(&p, STREAM, strlen(STREAM), on_event, &c), 0);
    check_stream_result(&c);
    fr_sse_free(&p);
    fr_llm_acc_free(&c.acc);
    fr_buf_free(&c.deltas);
}

/* The network may cut the stream anywhere: split at every byte. */
static void test_sse_every_split(void **state)
{
    size_t n = strlen(STREAM);
    for (size_t cut = 1; cut < n; cut++) {
        struct collected c = {0};
        fr_llm_acc_init(&c.acc);
        fr_sse p;
        fr_sse_init(&p, 0);
        assert_int_equal(fr_sse_feed(&p, STREAM, cut, on_event, &c), 0);
        assert_int_equal(fr_sse_feed(&p, STREAM + cut, n - cut, on_event, &c), 0);
        check_stream_result(&c);
        fr_sse_free(&p);
        fr_llm_acc_free(&c.acc);
        fr_buf_free(&c.deltas);
    }
}

static void collect_raw(void *arg, const char *event, const char *data, size_t len)
{
    fr_buf *b = arg;
    fr_buf_printf(b, "[%s|%.*s]", event, (int)len, data);
}

static void test_sse_multiline(void **state)
{
    const char *s = "event: x\ndata: line1\ndata: line2\n\ndata:no-space\n\n";
    fr_buf b = FR_BUF_INIT;
    fr_sse p;
    fr_sse_init(&p, 0);
    for (size_t i = 0; i < strlen(s); i++)
        assert_int_equal(fr_sse_feed(&p, s + i, 1, collect_raw, &b), 0);
    assert_string_equal(fr_buf_cstr(&b), "[x|line1\nline2][|no-space]");
    fr_sse_free(&p);
    fr_buf_free(&b);
}

static void test_sse_oversized(void **state)
{
    fr_sse p;
    fr_sse_init(&p, 64);
    char big[200];
    memset(big, 'a', sizeof(big));
    fr_buf b = FR_BUF_INIT;
    assert_int_equal(fr_sse_feed(&p, big, sizeof(big), collect_raw, &b), FR_EPARSE);
    fr_sse_free(&p);
    fr_buf_free(&b);
}

static void test_acc_malformed(void **state)
{
    const char *bad[] = {
        "[]",
        "{\"choices\":5}",
        "{\"choices\":[7]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[5]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":100000}]}}]}",
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++) {
        fr_llm_acc a;
        fr_llm_acc_init(&a);
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        assert_int_equal(fr_llm_acc_chunk(&a, j, NULL), FR_EPARSE);
        json_decref(j);
        fr_llm_acc_free(&a);
    }
    const char *badresp[] = {"{}", "{\"choices\":[]}", "{\"choices\":[{\"message\":3}]}",
                             "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{}}]}}]}"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(badresp); i++) {
        fr_llm_acc a;
        fr_llm_acc_init(&a);
        json_t *j = json_loads(badresp[i], 0, NULL);
        assert_int_equal(fr_llm_acc_response(&a, j), FR_EPARSE);
        json_decref(j);
        fr_llm_acc_free(&a);
    }
}

/* Non-streamed answers that are not what the API promises: each is a parse
 * (or endpoint) error with a message that says what was wrong, and nothing
 * of it is taken as the model's answer. */
static void test_acc_body_malformed(void **state)
{
    (void)state;
    char huge[70000];
    memset(huge, '[', sizeof(huge));
    struct {
        const char *body;
        int rc;
        const char *msg; /* a substring of error_message */
    } cases[] = {
        {"", FR_EPARSE, "empty"},
        {"<html><body><h1>502 Bad Gateway</h1></body></html>", FR_EPARSE, "not JSON"},
        {"{\"choices\":[{\"message\":{\"content\":\"Hel", FR_EPARSE, "not JSON"},
        {"{\"choices\":[]} trailing", FR_EPARSE, "not JSON"},
        {"\"just a string\"", FR_EPARSE, "not JSON"}, /* a top-level string is not decoded */
        {"[1,2]", FR_EPARSE, "not a JSON object"},
        {"{}", FR_EPARSE, "no choices"},
        {"{\"choices\":null}", FR_EPARSE, "not an array"},
        {"{\"choices\":{\"0\":{}}}", FR_EPARSE, "not an array"},
        {"{\"choices\":[]}", FR_EPARSE, "choices is empty"},
        {"{\"choices\":[\"x\"]}", FR_EPARSE, "choices[0] is not an object"},
        {"{\"choices\":[{}]}", FR_EPARSE, "message is missing"},
        {"{\"choices\":[{\"message\":3}]}", FR_EPARSE, "message is not an object"},
        {"{\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}", FR_EPARSE, "neither content nor tool_calls"},
        {"{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}", FR_EPARSE,
         "neither content nor tool_calls"},
        {"{\"choices\":[{\"message\":{\"content\":42}}]}", FR_EPARSE, "content is not a string"},
        {"{\"choices\":[{\"message\":{\"content\":\"x\",\"tool_calls\":{}}}]}", FR_EPARSE, "tool_calls is not an array"},
        {"{\"choices\":[{\"message\":{\"tool_calls\":[7]}}]}", FR_EPARSE, "tool_calls[0] has no function"},
        {"{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{}}]}}]}", FR_EPARSE, "name is not a string"},
        {"{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{\"name\":5}}]}}]}", FR_EPARSE,
         "name is not a string"},
        {"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":1,\"function\":{\"name\":\"a\"}}]}}]}", FR_EPARSE,
         "tool_calls[0].id is not a string"},
        {"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c\",\"function\":{\"name\":\"a\",\"arguments\":"
         "{\"cluster_name\":\"X\"}}}]}}]}",
         FR_EPARSE, "arguments is not a string"},
        {"{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}}", FR_EHTTP, "slow down"},
        {"{\"error\":{\"type\":\"server_error\"}}", FR_EHTTP, ""},
        {"{\"error\":{\"code\":\"content_filter\",\"message\":\"The response was filtered due to the prompt "
         "triggering Azure OpenAI's content management policy.\",\"innererror\":{\"code\":"
         "\"ResponsibleAIPolicyViolation\"}}}",
         FR_EHTTP, "content management policy"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(cases); i++) {
        fr_llm_acc a;
        fr_llm_acc_init(&a);
        int rc = fr_llm_acc_body(&a, cases[i].body, strlen(cases[i].body));
        if (rc != cases[i].rc || !strstr(a.error_message, cases[i].msg))
            fail_msg("%s: rc %d message \"%s\"", cases[i].body, rc, a.error_message);
        /* nothing of a bad answer reaches the agent */
        assert_int_equal(json_array_size(a.tool_calls), 0);
        if (rc == FR_EPARSE)
            assert_int_equal(a.content.len, 0);
        else
            assert_true(a.error_code[0]);
        fr_llm_acc_free(&a);
    }
    fr_llm_acc a;
    fr_llm_acc_init(&a);
    /* deeply nested: jansson's depth limit, not a stack overflow */
    assert_int_equal(fr_llm_acc_body(&a, huge, sizeof(huge)), FR_EPARSE);
    assert_non_null(strstr(a.error_message, "not JSON"));
    fr_llm_acc_reset(&a);
    const char *filt = "{\"error\":{\"code\":\"content_filter\",\"message\":\"filtered\"}}";
    assert_int_equal(fr_llm_acc_body(&a, filt, strlen(filt)), FR_EHTTP);
    assert_true(a.filtered);
    assert_string_equal(a.error_code, "content_filter");
    fr_llm_acc_reset(&a);
    /* a filtered answer without a message is the filter, not a parse error */
    const char *nomsg = "{\"choices\":[{\"index\":0,\"finish_reason\":\"content_filter\"}]}";
    assert_int_equal(fr_llm_acc_body(&a, nomsg, strlen(nomsg)), 0);
    assert_true(a.filtered);
    assert_string_equal(a.finish_reason, "content_filter");
    fr_llm_acc_reset(&a);
    /* still accepted: null content with tool calls, arguments missing or null */
    const char *ok = "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                     "\"function\":{\"name\":\"list_transient_clusters\"}},{\"function\":{\"name\":\"x\","
                     "\"arguments\":null}}]},\"finish_reason\":\"tool_calls\"}]}";
    assert_int_equal(fr_llm_acc_body(&a, ok, strlen(ok)), 0);
    assert_int_equal(json_array_size(a.tool_calls), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(a.tool_calls, 0), "function"), "arguments")),
        "{}");
    assert_string_equal(a.finish_reason, "tool_calls");
    fr_llm_acc_free(&a);
}

/* Streamed chunks with wrong-typed fields: each a parse error whose message
 * says what was wrong, instead of a field silently dropped. */
static void test_acc_chunk_malformed(void **state)
{
    (void)state;
#define TC(x) "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[" x "]}}]}"
    struct {
        const char *chunk;
        const char *msg; /* a substring of error_message */
    } cases[] = {
        {"[]", "a chunk is not a JSON object"},
        {"\"x\"", "a chunk is not a JSON object"},
        {"{\"choices\":5}", "choices is not an array"},
        {"{\"choices\":{\"0\":{}}}", "choices is not an array"},
        {"{\"choices\":null}", "choices is not an array"},
        {"{\"choices\":[7]}", "choices[0] is not an object"},
        {"{\"choices\":[{\"index\":\"0\",\"delta\":{}}]}", "choices[0].index is not an integer"},
        {"{\"choices\":[{\"index\":0,\"delta\":\"hi\"}]}", "choices[0].delta is not an object"},
        {"{\"choices\":[{\"index\":0,\"delta\":[]}]}", "choices[0].delta is not an object"},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"content\":42}}]}", "delta.content is not a string"},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"content\":[\"a\"]}}]}", "delta.content is not a string"},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":{}}}]}", "delta.tool_calls is not an array"},
        {"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":\"x\"}}]}", "delta.tool_calls is not an array"},
        {"{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":1}]}", "finish_reason is not a string"},
        {TC("5"), "tool_calls[0] is not an object"},
        {TC("{\"index\":0,\"id\":\"a\"},null"), "tool_calls[1] is not an object"},
        {TC("{\"index\":\"0\",\"id\":\"a\"}"), "tool_calls[0].index is not an integer"},
        {TC("{\"index\":0.0,\"id\":\"a\"}"), "tool_calls[0].index is not an integer"},
        {TC("{\"index\":true}"), "tool_calls[0].index is not an integer"},
        {TC("{\"index\":-1}"), "tool_calls[0].index -1 is out of range"},
        {TC("{\"index\":100000}"), "tool_calls[0].index 100000 is out of range"},
        {TC("{\"index\":0,\"id\":7}"), "tool_calls[0].id is not a string"},
        {TC("{\"index\":0,\"type\":{}}"), "tool_calls[0].type is not a string"},
        {TC("{\"index\":0,\"function\":\"list\"}"), "tool_calls[0].function is not an object"},
        {TC("{\"index\":0,\"function\":{\"name\":5}}"), "tool_calls[0].function.name is not a string"},
        {TC("{\"index\":0,\"function\":{\"name\":\"a\",\"arguments\":{\"cluster_name\":\"X\"}}}"),
         "tool_calls[0].function.arguments is not a string"},
        {TC("{\"index\":0,\"function\":{\"arguments\":3}}"), "tool_calls[0].function.arguments is not a string"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(cases); i++) {
        fr_llm_acc a;
        fr_llm_acc_init(&a);
        fr_buf delta = FR_BUF_INIT;
        json_t *j = json_loads(cases[i].chunk, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        int rc = fr_llm_acc_chunk(&a, j, &delta);
        if (rc != FR_EPARSE || !strstr(a.error_message, cases[i].msg) ||
            !strstr(a.error_message, "the model's stream"))
            fail_msg("%s: rc %d message \"%s\"", cases[i].chunk, rc, a.error_message);
        assert_int_equal(delta.len, 0);
        json_decref(j);
        fr_buf_free(&delta);
        fr_llm_acc_free(&a);
    }
#undef TC
}

/* What the OpenAI and Azure streaming formats allow stays accepted: null
 * content, fragments without id/type/name after the first (or with them
 * null), Azure's empty first chunk and its filter annotations without a
 * delta, a second choice's fields, no index on a fragment. */
static void test_acc_chunk_legal_variations(void **state)
{
    (void)state;
    const char *chunks[] = {
        "{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{"
        "\"prompt_index\":0,\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"}}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":null}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}},{\"index\":1,\"delta\":{\"content\":5}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"analyze_cluster\",\"arguments\":\"\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"clu\"}}]}}"
        "]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":null,\"type\":null,"
        "\"function\":{\"name\":null,\"arguments\":\"ster_name\\\":\\\"A\\\"}\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"function\":{\"name\":"
        "\"list_transient_clusters\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"\",\"function\":null}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"call_3\",\"function\":{\"name\":\"x\","
        "\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"content_filter_results\":{\"hate\":{\"filtered\":false}},"
        "\"content_filter_offsets\":{\"check_offset\":0,\"start_offset\":0,\"end_offset\":2}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}",
        "{\"id\":\"x\",\"object\":\"chat.completion.chunk\"}",
    };
    fr_llm_acc a;
    fr_llm_acc_init(&a);
    fr_buf delta = FR_BUF_INIT;
    for (size_t i = 0; i < FR_ARRAY_SIZE(chunks); i++) {
        json_t *j = json_loads(chunks[i], 0, NULL);
        assert_non_null(j);
        if (fr_llm_acc_chunk(&a, j, &delta) != 0)
            fail_msg("%s: %s", chunks[i], a.error_message);
        json_decref(j);
    }
    assert_string_equal(fr_buf_cstr(&a.content), "Hi");
    assert_string_equal(fr_buf_cstr(&delta), "Hi");
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_int_equal(a.total_tokens, 7);
    assert_false(a.filtered);
    assert_int_equal(json_array_size(a.tool_calls), 3);
    json_t *t0 = json_array_get(a.tool_calls, 0);
    assert_string_equal(json_string_value(json_object_get(t0, "id")), "call_1");
    json_t *f0 = json_object_get(t0, "function");
    assert_string_equal(json_string_value(json_object_get(f0, "name")), "analyze_cluster");
    assert_string_equal(json_string_value(json_object_get(f0, "arguments")), "{\"cluster_name\":\"A\"}");
    json_t *t1 = json_array_get(a.tool_calls, 1);
    assert_string_equal(json_string_value(json_object_get(t1, "id")), "call_2");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t1, "function"), "name")),
                        "list_transient_clusters");
    assert_string_equal(json_string_value(json_object_get(json_array_get(a.tool_calls, 2), "id")), "call_3");
    fr_buf_free(&delta);
    fr_llm_acc_free(&a);
}

static void test_acc_response_and_filter(void **state)
{
    fr_llm_acc a;
    fr_llm_acc_init(&a);
    json_t *j = json_loads("{\"choices\":[{\"index\":0,\"finish_reason\":\"content_filter\",\"message\":{\"role\":"
                           "\"assistant\",\"content\":\"partial\"},\"content_filter_results\":{\"hate\":{"
                           "\"filtered\":true,\"severity\":\"high\"}}}],\"usage\":{\"total_tokens\":5}}",
                           0, NULL);
    assert_int_equal(fr_llm_acc_response(&a, j), 0);
    assert_true(a.filtered);
    assert_string_equal(a.finish_reason, "content_filter");
    assert_string_equal(fr_buf_cstr(&a.content), "partial");
    json_decref(j);
    fr_llm_acc_reset(&a);
    const char *body = "{\"error\":{\"code\":\"content_filter\",\"message\":\"The response was filtered\"}}";
    fr_llm_acc_error_body(&a, body, strlen(body));
    assert_string_equal(a.error_code, "content_filter");
    assert_true(a.filtered);
    fr_llm_acc_reset(&a);
    fr_llm_acc_error_body(&a, "<html>bad gateway</html>", 24);
    assert_string_equal(a.error_code, "http_error");
    assert_string_equal(a.error_message, "<html>bad gateway</html>");
    fr_llm_acc_free(&a);
}

static void test_urls(void **state)
{
    fr_buf u = FR_BUF_INIT;
    fr_llm_config az = {.provider = "azure", .endpoint = "https://x.openai.azure.com/", .deployment = "gpt 4o",
                        .api_version = "2024-10-21"};
    assert_int_equal(fr_llm_url(&az, &u), 0);
    assert_string_equal(u.data,
                        "https://x.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2024-10-21");
    fr_llm_config oa = {.provider = "openai", .endpoint = "http://127.0.0.1:9/v1"};
    assert_int_equal(fr_llm_url(&oa, &u), 0);
    assert_string_equal(u.data, "http://127.0.0.1:9/v1/chat/completions");
    oa.endpoint = "http://127.0.0.1:9";
    assert_int_equal(fr_llm_url(&oa, &u), 0);
    assert_string_equal(u.data, "http://127.0.0.1:9/v1/chat/completions");
    fr_llm_config incomplete = {.provider = "azure", .endpoint = "https://x"};
    assert_int_equal(fr_llm_url(&incomplete, &u), FR_ECONFIG);
    fr_buf_free(&u);

    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "hi");
    oa.model = "gpt-4o";
    oa.stream = true;
    char *b = fr_llm_body(&oa, msgs, NULL, 0);
    json_t *j = json_loads(b, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "gpt-4o");
    assert_true(json_is_true(json_object_get(j, "stream")));
    assert_null(json_object_get(j, "tools"));
    free(b);
    json_decref(j);
    az.model = "ignored";
    json_t *tools = json_pack("[{s:s}]", "type", "function");
    b = fr_llm_body(&az, msgs, tools, 100);
    json_decref(tools);
    j = json_loads(b, 0, NULL);
    assert_null(json_object_get(j, "model")); /* Azure names the deployment in the URL */
    assert_int_equal(json_array_size(json_object_get(j, "tools")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 100);
    free(b);
    json_decref(j);
    json_decref(msgs);
}

static void test_commands(void **state)
{
    struct {
        const char *in;
        int rc;
        fr_cmd_kind kind;
        const char *arg;
    } cases[] = {
        {"", 0, FR_CMD_NONE, ""},
        {"  help ", 0, FR_CMD_HELP, ""},
        {"?", 0, FR_CMD_HELP, ""},
        {"list", 0, FR_CMD_LIST, ""},
        {"show clusters", 0, FR_CMD_LIST, ""},
        {"Optimize STRESS-TEMPLATE-S", 0, FR_CMD_OPTIMIZE, "STRESS-TEMPLATE-S"},
        {"optimise cluster ETL-DAILY-LOAD.", 0, FR_CMD_OPTIMIZE, "ETL-DAILY-LOAD"},
        {"analyze x_1.y", 0, FR_CMD_ANALYZE, "x_1.y"},
        {"analyze", FR_EPARSE, FR_CMD_ANALYZE, ""},
        {"optimize a b", FR_EPARSE, FR_CMD_OPTIMIZE, ""},
        {"optimize ../../etc", FR_EPARSE, FR_CMD_OPTIMIZE, ""},
        {"optimize a/b", FR_EPARSE, FR_CMD_OPTIMIZE, ""},
        {"status", 0, FR_CMD_STATUS, ""},
        {"status run-1", 0, FR_CMD_STATUS, "run-1"},
        {"cancel run-1", 0, FR_CMD_CANCEL, "run-1"},
        {"yes", 0, FR_CMD_APPROVE, ""},
        {"approve everything now", 0, FR_CMD_APPROVE, ""},
        {"please delete all clusters", FR_EPARSE, FR_CMD_UNKNOWN, ""},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(cases); i++) {
        fr_cmd c;
        int rc = fr_cmd_parse(cases[i].in, &c);
        if (rc != cases[i].rc || c.kind != cases[i].kind || strcmp(c.arg, cases[i].arg) != 0)
            fail_msg("\"%s\": rc %d kind %s arg \"%s\"", cases[i].in, rc, fr_cmd_name(c.kind), c.arg);
    }
    char longname[400];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    fr_cmd c;
    assert_int_equal(fr_cmd_parse(longname, &c), FR_EPARSE);
    assert_false(fr_cmd_valid_name(""));
    assert_false(fr_cmd_valid_name("a\x01"));
}

/* The seed's tools, with the gate stated in every write tool. */
static void test_tools(void **state)
{
    json_t *t = fr_agent_tools();
    const char *want[] = {"list_transient_clusters", "analyze_cluster", "get_param_store_config", "calculate_cost",
                          "check_cluster_status", "propose_optimization", "modify_param_store", "revert_param_store",
                          "invoke_cluster_lambda"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(want); i++) {
        int found = 0;
        size_t j;
        json_t *e;
        json_array_foreach(t, j, e)
        {
            json_t *fn = json_object_get(e, "function");
            if (strcmp(json_string_value(json_object_get(fn, "name")), want[i]) == 0) {
                found = 1;
                assert_true(json_is_object(json_object_get(fn, "parameters")));
                if (fr_agent_tool_is_write(want[i]))
                    assert_non_null(strstr(json_string_value(json_object_get(fn, "description")), "refused"));
            }
        }
        if (!found)
            fail_msg("tool %s missing", want[i]);
    }
    json_decref(t);
    assert_true(fr_agent_tool_is_write("modify_param_store"));
    assert_true(fr_agent_tool_is_write("approve_optimization"));
    assert_false(fr_agent_tool_is_write("propose_optimization"));
    assert_false(fr_agent_tool_is_write("analyze_cluster"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_whole),
        cmocka_unit_test(test_sse_every_split),
        cmocka_unit_test(test_sse_multiline),
        cmocka_unit_test(test_sse_oversized),
        cmocka_unit_test(test_acc_malformed),
        cmocka_unit_test(test_acc_body_malformed),
        cmocka_unit_test(test_acc_chunk_malformed),
        cmocka_unit_test(test_acc_chunk_legal_variations),
        cmocka_unit_test(test_acc_response_and_filter),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_tools),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
