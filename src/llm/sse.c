/* Pure parts of the chat client: SSE framing, delta accumulation, request
 * building. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/llm.h"
#include "frugal/str.h"

void fr_sse_init(fr_sse *p, size_t max_event)
{
    memset(p, 0, sizeof(*p));
    p->max_event = max_event ? max_event : (1u << 20);
}

void fr_sse_free(fr_sse *p)
{
    fr_buf_free(&p->line);
    fr_buf_free(&p->data);
    fr_buf_free(&p->event);
}

static void dispatch(fr_sse *p, fr_sse_event_fn fn, void *arg)
{
    if (p->data.len || p->event.len)
        fn(arg, fr_buf_cstr(&p->event), fr_buf_cstr(&p->data), p->data.len);
    fr_buf_reset(&p->data);
    fr_buf_reset(&p->event);
}

static int process_line(fr_sse *p, const char *l, size_t n, fr_sse_event_fn fn, void *arg)
{
    if (n == 0) {
        dispatch(p, fn, arg);
        return 0;
    }
    if (l[0] == ':')
        return 0; /* comment / keep-alive */
    const char *colon = memchr(l, ':', n);
    size_t fl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vl = colon ? n - fl - 1 : 0;
    if (vl && *v == ' ') {
        v++;
        vl--;
    }
    if (fl == 4 && memcmp(l, "data", 4) == 0) {
        if (p->data.len + vl + 1 > p->max_event)
            return FR_EPARSE;
        if (p->data.len)
            fr_buf_putc(&p->data, '\n');
        fr_buf_append(&p->data, v, vl);
    } else if (fl == 5 && memcmp(l, "event", 5) == 0) {
        fr_buf_reset(&p->event);
        fr_buf_append(&p->event, v, vl);
    }
    /* id: and retry: are not used by chat-completions streams */
    return 0;
}

int fr_sse_feed(fr_sse *p, const char *buf, size_t len, fr_sse_event_fn fn, void *arg)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n') {
            size_t n = p->line.len;
            if (n && p->line.data[n - 1] == '\r')
                n--;
            int rc = process_line(p, fr_buf_cstr(&p->line), n, fn, arg);
            fr_buf_reset(&p->line);
            if (rc)
                return rc;
        } else {
            if (p->line.len >= p->max_event)
                return FR_EPARSE;
            fr_buf_putc(&p->line, c);
        }
    }
    return 0;
}

void fr_llm_acc_init(fr_llm_acc *a)
{
    memset(a, 0, sizeof(*a));
    a->tool_calls = json_array();
}

void fr_llm_acc_free(fr_llm_acc *a)
{
    fr_buf_free(&a->content);
    json_decref(a->tool_calls);
    a->tool_calls = NULL;
}

void fr_llm_acc_reset(fr_llm_acc *a)
{
    fr_llm_acc_free(a);
    fr_llm_acc_init(a);
}

static void set_str(char *dst, size_t n, const char *s)
{
    fr_strlcpy(dst, s ? s : "", n);
}

/* A malformed answer: FR_EPARSE, with the reason in error_message. */
static int malformed(fr_llm_acc *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int malformed(fr_llm_acc *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->error_message, sizeof(a->error_message), fmt, ap);
    va_end(ap);
    return FR_EPARSE;
}

/* Appends a string fragment to slot[key] (tool-call names and arguments
 * arrive in pieces). */
static void append_fragment(json_t *obj, const char *key, const char *frag)
{
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, json_string_value(json_object_get(obj, key)));
    fr_buf_puts(&b, frag);
    json_object_set_new(obj, key, json_string(fr_buf_cstr(&b)));
    fr_buf_free(&b);
}

/* A missing key and JSON null are both "not sent" in a stream fragment. */
static bool absent(const json_t *v)
{
    return !v || json_is_null(v);
}

/* One fragment of a streamed tool call. Later fragments may leave out id,
 * type, name or arguments (or send them as null); a field that is there
 * must have its type. */
static int apply_tool_delta(fr_llm_acc *a, const json_t *tc, size_t j)
{
    if (!json_is_object(tc))
        return malformed(a, "the model's stream: delta.tool_calls[%zu] is not an object", j);
    json_t *idx = json_object_get(tc, "index");
    json_t *id = json_object_get(tc, "id");
    json_t *type = json_object_get(tc, "type");
    json_t *fn = json_object_get(tc, "function");
    json_t *name = json_object_get(fn, "name");
    json_t *args = json_object_get(fn, "arguments");
    if (!absent(idx) && !json_is_integer(idx))
        return malformed(a, "the model's stream: delta.tool_calls[%zu].index is not an integer", j);
    if (json_is_integer(idx) && (json_integer_value(idx) < 0 || json_integer_value(idx) > 128))
        return malformed(a, "the model's stream: delta.tool_calls[%zu].index %" JSON_INTEGER_FORMAT " is out of range",
                         j, json_integer_value(idx));
    if (!absent(id) && !json_is_string(id))
        return malformed(a, "the model's stream: delta.tool_calls[%zu].id is not a string", j);
    if (!absent(type) && !json_is_string(type))
        return malformed(a, "the model's stream: delta.tool_calls[%zu].type is not a string", j);
    if (!absent(fn) && !json_is_object(fn))
        return malformed(a, "the model's stream: delta.tool_calls[%zu].function is not an object", j);
    if (!absent(name) && !json_is_string(name))
        return malformed(a, "the model's stream: delta.tool_calls[%zu].function.name is not a string", j);
    if (!absent(args) && !json_is_string(args))
        return malformed(a, "the model's stream: delta.tool_calls[%zu].function.arguments is not a string", j);
    /* without an index (some compatible servers), a fragment starts the next call */
    size_t i = json_is_integer(idx) ? (size_t)json_integer_value(idx) : json_array_size(a->tool_calls);
    if (i > 128)
        return malformed(a, "the model's stream: more than 128 tool calls");
    while (json_array_size(a->tool_calls) <= i)
        json_array_append_new(a->tool_calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", "", "type", "function",
                                                       "function", "name", "", "arguments", ""));
    json_t *slot = json_array_get(a->tool_calls, i);
    if (json_string_length(id) > 0)
        json_object_set_new(slot, "id", json_string(json_string_value(id)));
    json_t *sf = json_object_get(slot, "function");
    if (json_string_length(name) > 0)
        append_fragment(sf, "name", json_string_value(name));
    if (json_string_length(args) > 0)
        append_fragment(sf, "arguments", json_string_value(args));
    return 0;
}

static void apply_usage(fr_llm_acc *a, const json_t *u)
{
    if (!json_is_object(u))
        return;
    a->prompt_tokens = (int)json_integer_value(json_object_get(u, "prompt_tokens"));
    a->completion_tokens = (int)json_integer_value(json_object_get(u, "completion_tokens"));
    a->total_tokens = (int)json_integer_value(json_object_get(u, "total_tokens"));
}

static void check_filter(fr_llm_acc *a, const json_t *choice)
{
    const json_t *cfr = json_object_get(choice, "content_filter_results");
    if (!json_is_object(cfr))
        return;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cfr, k, v)
    {
        if (json_is_true(json_object_get(v, "filtered")))
            a->filtered = 1;
    }
}

int fr_llm_acc_chunk(fr_llm_acc *a, const json_t *chunk, fr_buf *delta_out)
{
    if (!json_is_object(chunk))
        return malformed(a, "the model's stream: a chunk is not a JSON object");
    json_t *err = json_object_get(chunk, "error");
    if (json_is_object(err)) {
        set_str(a->error_code, sizeof(a->error_code), json_string_value(json_object_get(err, "code")));
        set_str(a->error_message, sizeof(a->error_message), json_string_value(json_object_get(err, "message")));
        return 0;
    }
    apply_usage(a, json_object_get(chunk, "usage"));
    /* no choices at all, or [] (Azure's first chunk with prompt_filter_results,
     * the usage chunk): nothing to add */
    json_t *choices = json_object_get(chunk, "choices");
    if (choices && !json_is_array(choices))
        return malformed(a, "the model's stream: choices is not an array");
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c)
    {
        if (!json_is_object(c))
            return malformed(a, "the model's stream: choices[%zu] is not an object", i);
        json_t *idx = json_object_get(c, "index");
        if (!absent(idx) && !json_is_integer(idx))
            return malformed(a, "the model's stream: choices[%zu].index is not an integer", i);
        if (json_is_integer(idx) && json_integer_value(idx) != 0)
            continue; /* only the first choice is used */
        check_filter(a, c);
        /* Azure's content-filter annotations come without a delta */
        json_t *d = json_object_get(c, "delta");
        if (!absent(d) && !json_is_object(d))
            return malformed(a, "the model's stream: choices[%zu].delta is not an object", i);
        json_t *content = json_object_get(d, "content");
        if (!absent(content) && !json_is_string(content))
            return malformed(a, "the model's stream: delta.content is not a string");
        json_t *tcs = json_object_get(d, "tool_calls");
        if (!absent(tcs) && !json_is_array(tcs))
            return malformed(a, "the model's stream: delta.tool_calls is not an array");
        json_t *fin = json_object_get(c, "finish_reason");
        if (!absent(fin) && !json_is_string(fin))
            return malformed(a, "the model's stream: choices[%zu].finish_reason is not a string", i);
        if (json_string_length(content) > 0) {
            fr_buf_append(&a->content, json_string_value(content), json_string_length(content));
            if (delta_out)
                fr_buf_append(delta_out, json_string_value(content), json_string_length(content));
        }
        size_t j;
        json_t *tc;
        json_array_foreach(tcs, j, tc)
        {
            int rc = apply_tool_delta(a, tc, j);
            if (rc != 0)
                return rc;
        }
        if (json_is_string(fin)) {
            set_str(a->finish_reason, sizeof(a->finish_reason), json_string_value(fin));
            if (strcmp(json_string_value(fin), "content_filter") == 0)
                a->filtered = 1;
        }
    }
    return 0;
}

int fr_llm_acc_response(fr_llm_acc *a, const json_t *resp)
{
    if (!json_is_object(resp))
        return malformed(a, "the model's answer is not a JSON object");
    json_t *err = json_object_get(resp, "error");
    if (json_is_object(err)) {
        /* an error body with a 2xx status (some proxies do this) */
        set_str(a->error_code, sizeof(a->error_code), json_string_value(json_object_get(err, "code")));
        if (!a->error_code[0])
            set_str(a->error_code, sizeof(a->error_code), json_string_value(json_object_get(err, "type")));
        if (!a->error_code[0])
            set_str(a->error_code, sizeof(a->error_code), "error");
        set_str(a->error_message, sizeof(a->error_message), json_string_value(json_object_get(err, "message")));
        if (strcmp(a->error_code, "content_filter") == 0)
            a->filtered = 1;
        return FR_EHTTP;
    }
    apply_usage(a, json_object_get(resp, "usage"));
    json_t *choices = json_object_get(resp, "choices");
    if (!choices)
        return malformed(a, "the model's answer has no choices");
    if (!json_is_array(choices))
        return malformed(a, "the model's answer: choices is not an array");
    if (json_array_size(choices) == 0)
        return malformed(a, "the model's answer: choices is empty");
    json_t *c = json_array_get(choices, 0);
    if (!json_is_object(c))
        return malformed(a, "the model's answer: choices[0] is not an object");
    check_filter(a, c);
    const char *fin = json_string_value(json_object_get(c, "finish_reason"));
    if (fin && strcmp(fin, "content_filter") == 0)
        a->filtered = 1;
    json_t *m = json_object_get(c, "message");
    if (!m && a->filtered) {
        /* Azure may drop the message of a filtered answer */
        set_str(a->finish_reason, sizeof(a->finish_reason), "content_filter");
        return 0;
    }
    if (!json_is_object(m))
        return malformed(a, "the model's answer: choices[0].message is %s", m ? "not an object" : "missing");
    json_t *content = json_object_get(m, "content");
    if (content && !json_is_null(content) && !json_is_string(content))
        return malformed(a, "the model's answer: message.content is not a string");
    json_t *tcs = json_object_get(m, "tool_calls");
    if (tcs && !json_is_null(tcs) && !json_is_array(tcs))
        return malformed(a, "the model's answer: message.tool_calls is not an array");
    if (!json_is_string(content) && json_array_size(tcs) == 0 && !a->filtered)
        return malformed(a, "the model's answer: the message has neither content nor tool_calls");
    if (json_is_string(content))
        fr_buf_append(&a->content, json_string_value(content), json_string_length(content));
    size_t i;
    json_t *tc;
    json_array_foreach(tcs, i, tc)
    {
        json_t *fn = json_object_get(tc, "function");
        json_t *id = json_object_get(tc, "id");
        json_t *args = json_object_get(fn, "arguments");
        if (!json_is_object(tc) || !json_is_object(fn))
            return malformed(a, "the model's answer: tool_calls[%zu] has no function object", i);
        if (!json_is_string(json_object_get(fn, "name")))
            return malformed(a, "the model's answer: tool_calls[%zu].function.name is not a string", i);
        if (id && !json_is_string(id))
            return malformed(a, "the model's answer: tool_calls[%zu].id is not a string", i);
        if (args && !json_is_null(args) && !json_is_string(args))
            return malformed(a, "the model's answer: tool_calls[%zu].function.arguments is not a string", i);
        json_array_append_new(a->tool_calls,
                              json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", json_string_value(id) ?: "", "type",
                                        "function", "function", "name", json_string_value(json_object_get(fn, "name")),
                                        "arguments", json_string_value(args) ?: "{}"));
    }
    set_str(a->finish_reason, sizeof(a->finish_reason), fin ? fin : "stop");
    return 0;
}

int fr_llm_acc_body(fr_llm_acc *a, const char *body, size_t len)
{
    if (len == 0)
        return malformed(a, "the model's answer is empty");
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!j)
        return malformed(a, "the model's answer is not JSON (%s at byte %d)", je.text, je.position);
    int rc = fr_llm_acc_response(a, j);
    json_decref(j);
    return rc;
}

void fr_llm_acc_error_body(fr_llm_acc *a, const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    if (json_is_object(e)) {
        set_str(a->error_code, sizeof(a->error_code), json_string_value(json_object_get(e, "code")));
        if (!a->error_code[0])
            set_str(a->error_code, sizeof(a->error_code), json_string_value(json_object_get(e, "type")));
        set_str(a->error_message, sizeof(a->error_message), json_string_value(json_object_get(e, "message")));
        /* Azure's content filter answers 400 with code content_filter. */
        if (strcmp(a->error_code, "content_filter") == 0)
            a->filtered = 1;
    } else {
        set_str(a->error_code, sizeof(a->error_code), "http_error");
        char snippet[200];
        size_t n = len < sizeof(snippet) - 1 ? len : sizeof(snippet) - 1;
        memcpy(snippet, body, n);
        snippet[n] = '\0';
        set_str(a->error_message, sizeof(a->error_message), snippet);
    }
    json_decref(j);
}

int fr_llm_url(const fr_llm_config *c, fr_buf *out)
{
    fr_buf_reset(out);
    if (!c->endpoint || !*c->endpoint)
        return FR_ECONFIG;
    size_t el = strlen(c->endpoint);
    while (el && c->endpoint[el - 1] == '/')
        el--;
    if (c->provider && strcmp(c->provider, "azure") == 0) {
        if (!c->deployment || !*c->deployment || !c->api_version || !*c->api_version)
            return FR_ECONFIG;
        fr_buf dep = FR_BUF_INIT, ver = FR_BUF_INIT;
        fr_uri_encode(&dep, c->deployment, strlen(c->deployment), false);
        fr_uri_encode(&ver, c->api_version, strlen(c->api_version), false);
        fr_buf_printf(out, "%.*s/openai/deployments/%s/chat/completions?api-version=%s", (int)el, c->endpoint,
                      dep.data, ver.data);
        fr_buf_free(&dep);
        fr_buf_free(&ver);
        return 0;
    }
    if (el >= 3 && strncmp(c->endpoint + el - 3, "/v1", 3) == 0)
        fr_buf_printf(out, "%.*s/chat/completions", (int)el, c->endpoint);
    else
        fr_buf_printf(out, "%.*s/v1/chat/completions", (int)el, c->endpoint);
    return 0;
}

char *fr_llm_body(const fr_llm_config *c, const json_t *messages, const json_t *tools, int max_tokens)
{
    json_t *b = json_object();
    if (!(c->provider && strcmp(c->provider, "azure") == 0) && c->model && *c->model)
        json_object_set_new(b, "model", json_string(c->model));
    json_object_set(b, "messages", (json_t *)messages);
    if (tools && json_array_size(tools)) {
        json_object_set(b, "tools", (json_t *)tools);
        json_object_set_new(b, "tool_choice", json_string("auto"));
    }
    json_object_set_new(b, "temperature", json_real(0));
    if (max_tokens > 0)
        json_object_set_new(b, "max_tokens", json_integer(max_tokens));
    if (c->stream) {
        json_object_set_new(b, "stream", json_true());
        json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}
