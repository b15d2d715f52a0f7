#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "util.h"

#define LOG_KEEP 100

void fr_sim_chat_init(fr_sim_chat *c, uint64_t seed)
{
    memset(c, 0, sizeof(*c));
    c->seed = seed;
    c->script = json_pack("{s:[], s:{s:s}}", "rules", "default", "content",
                          "frugal-sim chat test double: no script rule matched this request.");
    c->used = json_object();
    c->log = json_array();
}

void fr_sim_chat_free(fr_sim_chat *c)
{
    json_decref(c->script);
    json_decref(c->used);
    json_decref(c->log);
    memset(c, 0, sizeof(*c));
}

json_t *fr_sim_chat_requests(const fr_sim_chat *c)
{
    return json_deep_copy(c->log);
}

static int check_regex(const char *re, char *err, size_t errlen)
{
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &rx, msg, sizeof(msg));
        snprintf(err, errlen, "bad regex '%s': %s", re, msg);
        return FR_EPARSE;
    }
    regfree(&rx);
    return 0;
}

static int check_reply(const json_t *reply, const char *where, char *err, size_t errlen)
{
    if (!json_is_object(reply)) {
        snprintf(err, errlen, "%s: reply must be an object", where);
        return FR_EPARSE;
    }
    json_t *tc = json_object_get(reply, "tool_calls");
    json_t *e = json_object_get(reply, "error");
    if (!json_object_get(reply, "content") && !tc && !e) {
        snprintf(err, errlen, "%s: reply needs content, tool_calls or error", where);
        return FR_EPARSE;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tc, i, t) if (!fr_sim_jstr(t, "name"))
    {
        snprintf(err, errlen, "%s: every tool call needs a name", where);
        return FR_EPARSE;
    }
    int64_t st;
    if (e && (fr_sim_jint(e, "status", &st) != 0 || st < 400 || st > 599)) {
        snprintf(err, errlen, "%s: error.status must be 400..599", where);
        return FR_EPARSE;
    }
    return 0;
}

int fr_sim_chat_set_script(fr_sim_chat *c, const json_t *script, char *err, size_t errlen)
{
    if (!json_is_object(script)) {
        snprintf(err, errlen, "the chat script is a JSON object {\"rules\": [...], \"default\": {...}}");
        return FR_EPARSE;
    }
    json_t *rules = json_object_get(script, "rules");
    if (rules && !json_is_array(rules)) {
        snprintf(err, errlen, "rules must be an array");
        return FR_EPARSE;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        char where[32];
        snprintf(where, sizeof(where), "rules[%zu]", i);
        json_t *m = json_object_get(r, "match");
        if (m && !json_is_object(m)) {
            snprintf(err, errlen, "%s: match must be an object", where);
            return FR_EPARSE;
        }
        const char *rx;
        if (((rx = fr_sim_jstr(m, "user_regex")) && check_regex(rx, err, errlen)) ||
            ((rx = fr_sim_jstr(m, "tool_regex")) && check_regex(rx, err, errlen)))
            return FR_EPARSE;
        if (check_reply(json_object_get(r, "reply"), where, err, errlen))
            return FR_EPARSE;
    }
    json_t *def = json_object_get(script, "default");
    if (def && check_reply(def, "default", err, errlen))
        return FR_EPARSE;
    json_decref(c->script);
    c->script = json_deep_copy(script);
    if (!json_object_get(c->script, "rules"))
        json_object_set_new(c->script, "rules", json_array());
    json_object_clear(c->used);
    return 0;
}

/* ---- matching ---- */

static const char *content_text(json_t *msg, fr_buf *tmp)
{
    json_t *ct = json_object_get(msg, "content");
    if (json_is_string(ct))
        return json_string_value(ct);
    /* content parts: [{"type":"text","text":...}] */
    size_t i;
    json_t *p;
    fr_buf_reset(tmp);
    json_array_foreach(ct, i, p)
    {
        const char *t = fr_sim_jstr(p, "text");
        if (t)
            fr_buf_puts(tmp, t);
    }
    return fr_buf_cstr(tmp);
}

static bool text_matches(const char *text, const char *sub, const char *re)
{
    if (sub && !strstr(text, sub))
        return false;
    if (re) {
        regex_t rx;
        if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
            return false;
        bool ok = regexec(&rx, text, 0, NULL, 0) == 0;
        regfree(&rx);
        if (!ok)
            return false;
    }
    return true;
}

/* The tool call id a tool message answers, to name the tool. */
static const char *tool_name_of(json_t *msgs, json_t *tool_msg)
{
    const char *id = fr_sim_jstr(tool_msg, "tool_call_id");
    const char *name = fr_sim_jstr(tool_msg, "name");
    if (name || !id)
        return name;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        size_t k;
        json_t *tc;
        json_array_foreach(json_object_get(m, "tool_calls"), k, tc)
        {
            const char *tid = fr_sim_jstr(tc, "id");
            if (tid && strcmp(tid, id) == 0)
                return fr_sim_jstr(json_object_get(tc, "function"), "name");
        }
    }
    return NULL;
}

static json_t *pick_reply(fr_sim_chat *c, json_t *msgs, char *rule_name, size_t rnlen)
{
    size_t n = json_array_size(msgs);
    json_t *last = n ? json_array_get(msgs, n - 1) : NULL;
    const char *role = fr_sim_jstr(last, "role");
    bool is_tool = role && strcmp(role, "tool") == 0;
    /* the last user message, wherever it is */
    json_t *last_user = NULL;
    for (size_t i = n; i-- > 0;) {
        const char *rl = fr_sim_jstr(json_array_get(msgs, i), "role");
        if (rl && strcmp(rl, "user") == 0) {
            last_user = json_array_get(msgs, i);
            break;
        }
    }
    fr_buf t1 = FR_BUF_INIT, t2 = FR_BUF_INIT;
    const char *user_text = last_user ? content_text(last_user, &t1) : "";
    const char *tool_text = is_tool ? content_text(last, &t2) : NULL;
    const char *tool_name = is_tool ? tool_name_of(msgs, last) : NULL;
    json_t *rules = json_object_get(c->script, "rules");
    size_t i;
    json_t *r;
    json_t *found = NULL;
    json_array_foreach(rules, i, r)
    {
        json_t *m = json_object_get(r, "match");
        char key[24];
        snprintf(key, sizeof(key), "%zu", i);
        int64_t times = 0, used = json_integer_value(json_object_get(c->used, key));
        if (fr_sim_jint(r, "times", &times) == 0 && times > 0 && used >= times)
            continue;
        const char *us = fr_sim_jstr(m, "user"), *ur = fr_sim_jstr(m, "user_regex");
        const char *ts = fr_sim_jstr(m, "tool"), *tr = fr_sim_jstr(m, "tool_regex");
        const char *tn = fr_sim_jstr(m, "tool_name");
        bool ok;
        if (ts || tr || tn) {
            /* tool rules look at the last message, when it is a tool result */
            ok = tool_text && text_matches(tool_text, ts, tr) && (!tn || (tool_name && strcmp(tn, tool_name) == 0));
            if (ok && (us || ur))
                ok = text_matches(user_text, us, ur);
        } else if (us || ur) {
            /* user rules answer a user turn, not a tool result */
            ok = !is_tool && text_matches(user_text, us, ur);
        } else {
            ok = true;
        }
        if (!ok)
            continue;
        json_object_set_new(c->used, key, json_integer(used + 1));
        const char *nm = fr_sim_jstr(r, "name");
        snprintf(rule_name, rnlen, "%s", nm ? nm : key);
        found = json_object_get(r, "reply");
        break;
    }
    fr_buf_free(&t1);
    fr_buf_free(&t2);
    if (!found) {
        snprintf(rule_name, rnlen, "default");
        found = json_object_get(c->script, "default");
    }
    return found;
}

/* ---- answers ---- */

static int tokens_of(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return (int)((n + 3) / 4);
}

static int prompt_tokens(json_t *msgs)
{
    int t = 0;
    size_t i;
    json_t *m;
    fr_buf tmp = FR_BUF_INIT;
    json_array_foreach(msgs, i, m) t += 4 + tokens_of(content_text(m, &tmp));
    fr_buf_free(&tmp);
    return t + 3;
}

static void error_reply(const json_t *e, bool azure, fr_sim_resp *r)
{
    int64_t st = 500;
    fr_sim_jint(e, "status", &st);
    const char *msg = fr_sim_jstr(e, "message");
    json_t *body;
    if (st == 429) {
        if (!msg)
            msg = azure ? "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 "
                          "have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after "
                          "2 seconds."
                        : "Rate limit reached for requests";
        body = azure ? json_pack("{s:{s:s, s:s}}", "error", "code", "429", "message", msg)
                     : json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", msg, "type", "requests", "param",
                                 "code", "rate_limit_exceeded");
    } else {
        if (!msg)
            msg = "The server had an error while processing your request. Sorry about that!";
        body = json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", msg, "type", st >= 500 ? "server_error" : "invalid_request_error",
                         "param", "code");
    }
    char *s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    fr_sim_resp_raw(r, (int)st, "application/json", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
    r->is_error = true;
    fr_strlcpy(r->error_code, st == 429 ? "rate_limit_exceeded" : "server_error", sizeof(r->error_code));
    double ra;
    if (fr_sim_jnum(e, "retry_after", &ra) == 0) {
        char v[32];
        snprintf(v, sizeof(v), "%g", ra);
        fr_sim_resp_header(r, "Retry-After", v);
    }
    int64_t ms;
    if (fr_sim_jint(e, "retry_after_ms", &ms) == 0) {
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)ms);
        fr_sim_resp_header(r, "retry-after-ms", v);
    }
}

static json_t *tool_calls_json(const json_t *reply, const char *cid_base, bool with_index)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(reply, "tool_calls"), i, t)
    {
        json_t *args = json_object_get(t, "arguments");
        char *astr = json_is_string(args) ? fr_strdup(json_string_value(args))
                                          : json_dumps(args ? args : json_object(), JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!args && !astr)
            astr = fr_strdup("{}");
        char id[64];
        const char *given = fr_sim_jstr(t, "id");
        snprintf(id, sizeof(id), "%s", given ? given : "");
        if (!given)
            snprintf(id, sizeof(id), "call_%s%zu", cid_base, i);
        json_t *tc = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name",
                               fr_sim_jstr(t, "name"), "arguments", astr ? astr : "{}");
        if (with_index)
            json_object_set_new(tc, "index", json_integer((json_int_t)i));
        free(astr);
        json_array_append_new(out, tc);
    }
    return out;
}

static void sse_event(fr_buf *b, json_t *chunk)
{
    char *s = json_dumps(chunk, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(chunk);
    fr_buf_printf(b, "data: %s\n\n", s ? s : "{}");
    free(s);
}

static json_t *chunk_base(const char *id, int64_t created, const char *model)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", id, "object", "chat.completion.chunk", "created",
                     (json_int_t)created, "model", model, "system_fingerprint", "fp_frugal_sim");
}

static void stream_answer(const char *id, int64_t created, const char *model, const char *content, json_t *calls,
                          const char *finish, int pt, int ct, bool usage, fr_buf *b)
{
    json_t *c = chunk_base(id, created, model);
    json_object_set_new(c, "choices", json_pack("[{s:i, s:{s:s, s:s}, s:n, s:n}]", "index", 0, "delta", "role",
                                                "assistant", "content", "", "logprobs", "finish_reason"));
    sse_event(b, c);
    /* content in small pieces, as a model streams it */
    size_t len = content ? strlen(content) : 0;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 12 ? len - off : 12;
        /* never split a UTF-8 sequence */
        while (off + n < len && ((unsigned char)content[off + n] & 0xC0) == 0x80)
            n++;
        char piece[64];
        memcpy(piece, content + off, n);
        piece[n] = '\0';
        c = chunk_base(id, created, model);
        json_object_set_new(c, "choices", json_pack("[{s:i, s:{s:s}, s:n, s:n}]", "index", 0, "delta", "content",
                                                    piece, "logprobs", "finish_reason"));
        sse_event(b, c);
        off += n;
    }
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc)
    {
        json_t *fn = json_object_get(tc, "function");
        c = chunk_base(id, created, model);
        json_object_set_new(c, "choices",
                            json_pack("[{s:i, s:{s:[{s:I, s:s, s:s, s:{s:s, s:s}}]}, s:n, s:n}]", "index", 0, "delta",
                                      "tool_calls", "index", (json_int_t)i, "id", fr_sim_jstr(tc, "id"), "type",
                                      "function", "function", "name", fr_sim_jstr(fn, "name"), "arguments", "",
                                      "logprobs", "finish_reason"));
        sse_event(b, c);
        const char *args = fr_sim_jstr(fn, "arguments");
        size_t al = args ? strlen(args) : 0;
        for (size_t off = 0; off < al; off += 16) {
            char piece[32];
            size_t n = al - off < 16 ? al - off : 16;
            while (off + n < al && ((unsigned char)args[off + n] & 0xC0) == 0x80)
                n++;
            memcpy(piece, args + off, n);
            piece[n] = '\0';
            c = chunk_base(id, created, model);
            json_object_set_new(c, "choices",
                                json_pack("[{s:i, s:{s:[{s:I, s:{s:s}}]}, s:n, s:n}]", "index", 0, "delta",
                                          "tool_calls", "index", (json_int_t)i, "function", "arguments", piece,
                                          "logprobs", "finish_reason"));
            sse_event(b, c);
            if (n > 16)
                off += n - 16;
        }
    }
    c = chunk_base(id, created, model);
    json_object_set_new(c, "choices", json_pack("[{s:i, s:{}, s:n, s:s}]", "index", 0, "delta", "logprobs",
                                                "finish_reason", finish));
    sse_event(b, c);
    if (usage) {
        c = chunk_base(id, created, model);
        json_object_set_new(c, "choices", json_array());
        json_object_set_new(c, "usage", json_pack("{s:i, s:i, s:i}", "prompt_tokens", pt, "completion_tokens", ct,
                                                  "total_tokens", pt + ct));
        sse_event(b, c);
    }
    fr_buf_puts(b, "data: [DONE]\n\n");
}

static void unauthorized(bool azure, fr_sim_resp *r)
{
    const char *b = azure ? "{\"error\":{\"code\":\"401\",\"message\":\"Access denied due to invalid subscription key or "
                            "wrong API endpoint. Make sure to provide a valid key for an active subscription and use "
                            "a correct regional API endpoint for your resource.\"}}"
                          : "{\"error\":{\"message\":\"You didn't provide an API key.\",\"type\":"
                            "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}";
    fr_sim_resp_raw(r, 401, "application/json", b, strlen(b));
    r->is_error = true;
    fr_strlcpy(r->error_code, "unauthorized", sizeof(r->error_code));
}

void fr_sim_chat_handle(fr_sim_chat *c, const char *method, const char *path, const char *query,
                        const fr_sim_raw_req *raw, int64_t real_ms, fr_sim_resp *r, int64_t *chunk_delay_ms)
{
    *chunk_delay_ms = 0;
    bool azure = fr_str_startswith(path, "/openai/deployments/");
    char deployment[128] = "";
    if (azure) {
        const char *d = path + strlen("/openai/deployments/");
        const char *slash = strchr(d, '/');
        if (!slash || strcmp(slash, "/chat/completions") != 0) {
            fr_sim_resp_raw(r, 404, "application/json", "{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}", 55);
            return;
        }
        snprintf(deployment, sizeof(deployment), "%.*s", (int)(slash - d), d);
        char *ver = query ? fr_sim_form_get(query, strlen(query), "api-version") : NULL;
        if (!ver) {
            const char *b = "{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}";
            fr_sim_resp_raw(r, 404, "application/json", b, strlen(b));
            return;
        }
        free(ver);
    } else if (strcmp(path, "/v1/chat/completions") != 0) {
        const char *b = "{\"error\":{\"message\":\"Invalid URL\",\"type\":\"invalid_request_error\"}}";
        fr_sim_resp_raw(r, 404, "application/json", b, strlen(b));
        return;
    }
    if (strcmp(method, "POST") != 0) {
        fr_sim_resp_raw(r, 405, "application/json", "{\"error\":{\"message\":\"Method not allowed\"}}", 41);
        return;
    }
    char *key = fr_sim_raw_header(raw, azure ? "api-key" : "authorization");
    bool authed = key && *key && (azure || (fr_str_startswith(key, "Bearer ") && key[7]));
    if (azure && !authed) {
        /* Azure also accepts Entra ID bearer tokens */
        free(key);
        key = fr_sim_raw_header(raw, "authorization");
        authed = key && fr_str_startswith(key, "Bearer ") && key[7];
    }
    free(key);
    if (!authed) {
        unauthorized(azure, r);
        return;
    }
    json_error_t je;
    json_t *req = json_loadb(raw->body ? raw->body : "", raw->body_len, 0, &je);
    json_t *msgs = json_object_get(req, "messages");
    if (!json_is_object(req) || !json_is_array(msgs) || json_array_size(msgs) == 0) {
        const char *b = "{\"error\":{\"message\":\"'messages' is a required property and must be a non-empty array\","
                        "\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":null}}";
        fr_sim_resp_raw(r, 400, "application/json", b, strlen(b));
        json_decref(req);
        return;
    }
    const char *model = fr_sim_jstr(req, "model");
    if (!model)
        model = deployment[0] ? deployment : "gpt-4o";
    bool stream = false;
    fr_sim_jbool(req, "stream", &stream);
    bool usage = false;
    fr_sim_jbool(json_object_get(req, "stream_options"), "include_usage", &usage);
    char rule[64];
    json_t *reply = pick_reply(c, msgs, rule, sizeof(rule));
    /* keep the recent requests for the control API */
    json_t *entry = json_pack("{s:I, s:s, s:s, s:b, s:s, s:O}", "time_ms", (json_int_t)real_ms, "api",
                              azure ? "azure" : "openai", "model", model, "stream", stream, "rule", rule, "messages",
                              msgs);
    json_array_append_new(c->log, entry);
    while (json_array_size(c->log) > LOG_KEEP)
        json_array_remove(c->log, 0);
    json_t *err = json_object_get(reply, "error");
    if (err) {
        error_reply(err, azure, r);
        json_decref(req);
        return;
    }
    char id[48], base[16];
    uint64_t h = fr_sim_hash3(c->seed, 0xc4a7, ++c->counter);
    fr_sim_id_ec2(id, sizeof(id), "chatcmpl-sim", h);
    snprintf(base, sizeof(base), "%08llx", (unsigned long long)(h & 0xffffffffULL));
    const char *content = fr_sim_jstr(reply, "content");
    json_t *calls = tool_calls_json(reply, base, false);
    const char *finish = fr_sim_jstr(reply, "finish_reason");
    if (!finish)
        finish = json_array_size(calls) ? "tool_calls" : "stop";
    int pt = prompt_tokens(msgs), ct = tokens_of(content);
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) ct += 8 + tokens_of(fr_sim_jstr(json_object_get(tc, "function"), "arguments"));
    int64_t created = real_ms / 1000;
    if (stream) {
        fr_buf b = FR_BUF_INIT;
        stream_answer(id, created, model, content, calls, finish, pt, ct, usage, &b);
        fr_sim_resp_raw(r, 200, "text/event-stream", fr_buf_cstr(&b), b.len);
        fr_buf_free(&b);
        r->sse = true;
        fr_sim_resp_header(r, "Cache-Control", "no-cache");
        int64_t d = 0;
        if (fr_sim_jint(reply, "chunk_delay_ms", &d) == 0 && d > 0)
            *chunk_delay_ms = d;
    } else {
        json_t *msg = json_pack("{s:s, s:o}", "role", "assistant", "content", content ? json_string(content) : json_null());
        if (json_array_size(calls))
            json_object_set(msg, "tool_calls", calls);
        json_t *out = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], s:{s:i, s:i, s:i}, s:s}", "id", id,
                                "object", "chat.completion", "created", (json_int_t)created, "model", model,
                                "choices", "index", 0, "message", msg, "logprobs", "finish_reason", finish, "usage",
                                "prompt_tokens", pt, "completion_tokens", ct, "total_tokens", pt + ct,
                                "system_fingerprint", "fp_frugal_sim");
        char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(out);
        fr_sim_resp_raw(r, 200, "application/json", s ? s : "{}", s ? strlen(s) : 2);
        free(s);
    }
    char rid[40];
    fr_sim_uuid(rid, sizeof(rid), h, 0x7e9);
    fr_sim_resp_header(r, azure ? "apim-request-id" : "x-request-id", rid);
    fr_sim_resp_header(r, "x-frugal-sim-rule", rule);
    json_decref(calls);
    json_decref(req);
}
