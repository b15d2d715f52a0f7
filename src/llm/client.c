/* The chat-completions client on the loop: one fr_call per model call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/llm.h"
#include "frugal/log.h"
#include "frugal/redact.h"
#include "frugal/str.h"

struct fr_llm {
    uv_loop_t *loop;
    fr_http *http;
    fr_llm_config cfg;
    char *provider, *endpoint, *api_key, *deployment, *api_version, *model;
    fr_retry_quota quota;
};

struct fr_llm_call {
    fr_llm *l;
    fr_call *call;
    fr_llm_handlers h;
    void *arg;
    fr_buf url;
    char *body;
    char *hdr_auth;
    const char *headers[3];
    fr_sse sse;
    fr_llm_acc acc;
    fr_buf delta;
    int delivered;
    int stream_done;
    int parse_err;
};

static void free_cfg_strings(fr_llm *l)
{
    free(l->provider);
    free(l->endpoint);
    if (l->api_key)
        memset(l->api_key, 0, strlen(l->api_key));
    free(l->api_key);
    free(l->deployment);
    free(l->api_version);
    free(l->model);
}

int fr_llm_configure(fr_llm *l, const fr_llm_config *cfg)
{
    free_cfg_strings(l);
    l->cfg = *cfg;
    l->provider = fr_strdup(cfg->provider ? cfg->provider : "none");
    l->endpoint = fr_strdup(cfg->endpoint ? cfg->endpoint : "");
    l->api_key = fr_strdup(cfg->api_key ? cfg->api_key : "");
    l->deployment = fr_strdup(cfg->deployment ? cfg->deployment : "");
    l->api_version = fr_strdup(cfg->api_version ? cfg->api_version : "");
    l->model = fr_strdup(cfg->model ? cfg->model : "");
    l->cfg.provider = l->provider;
    l->cfg.endpoint = l->endpoint;
    l->cfg.api_key = l->api_key;
    l->cfg.deployment = l->deployment;
    l->cfg.api_version = l->api_version;
    l->cfg.model = l->model;
    if (!l->cfg.timeout_ms)
        l->cfg.timeout_ms = 60000;
    fr_redact_register(l->api_key);
    return 0;
}

int fr_llm_new(fr_llm **out, uv_loop_t *loop, fr_http *http, const fr_llm_config *cfg)
{
    fr_llm *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->loop = loop;
    l->http = http;
    fr_quota_init(&l->quota, FR_QUOTA_CAPACITY);
    fr_llm_configure(l, cfg);
    *out = l;
    return 0;
}

bool fr_llm_enabled(const fr_llm *l)
{
    if (!l || !l->provider || strcmp(l->provider, "none") == 0)
        return false;
    fr_buf u = FR_BUF_INIT;
    int rc = fr_llm_url(&l->cfg, &u);
    fr_buf_free(&u);
    return rc == 0;
}

void fr_llm_free(fr_llm *l)
{
    if (!l)
        return;
    free_cfg_strings(l);
    free(l);
}

static void on_sse_event(void *arg, const char *event, const char *data, size_t len)
{
    struct fr_llm_call *c = arg;
    if (c->parse_err)
        return; /* the answer is void from its first bad event on */
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        c->stream_done = 1;
        return;
    }
    json_error_t jerr;
    json_t *chunk = json_loadb(data, len, 0, &jerr);
    if (!chunk) {
        snprintf(c->acc.error_message, sizeof(c->acc.error_message),
                 "the model's stream: a chunk is not JSON (%s at byte %d)", jerr.text, jerr.position);
        c->parse_err = 1;
        return;
    }
    fr_buf_reset(&c->delta);
    if (fr_llm_acc_chunk(&c->acc, chunk, &c->delta) != 0)
        c->parse_err = 1;
    json_decref(chunk);
    if (!c->parse_err && c->delta.len && c->h.on_delta) {
        c->delivered = 1;
        c->h.on_delta(c->arg, c->delta.data, c->delta.len);
    }
}

static int on_data(const char *buf, size_t len, void *arg)
{
    struct fr_llm_call *c = arg;
    if (fr_sse_feed(&c->sse, buf, len, on_sse_event, c) != 0) {
        if (!c->parse_err)
            snprintf(c->acc.error_message, sizeof(c->acc.error_message),
                     "the model's stream: an event is larger than %zu bytes", c->sse.max_event);
        c->parse_err = 1;
    }
    return c->parse_err ? -1 : 0;
}

static int build(void *arg, int attempt, fr_http_opts *o)
{
    struct fr_llm_call *c = arg;
    if (attempt > 0) {
        /* What was shown of a failed attempt is void. */
        if (c->delivered && c->h.on_reset)
            c->h.on_reset(c->arg);
        c->delivered = 0;
        c->stream_done = 0;
        c->parse_err = 0;
        fr_llm_acc_reset(&c->acc);
        fr_sse_free(&c->sse);
        fr_sse_init(&c->sse, 1u << 20);
    }
    o->method = "POST";
    o->url = c->url.data;
    o->headers = c->headers;
    o->nheaders = 3;
    o->body = c->body;
    o->body_len = strlen(c->body);
    o->timeout_ms = c->l->cfg.timeout_ms;
    if (c->l->cfg.stream) {
        o->on_data = on_data;
        o->data_arg = c;
    }
    return 0;
}

static void done(void *arg, const fr_http_resp *r, const fr_call_result *res)
{
    struct fr_llm_call *c = arg;
    int err = res->err;
    long status = r ? r->status : 0;
    if (r && status >= 200 && status < 300) {
        if (!c->l->cfg.stream) {
            err = fr_llm_acc_body(&c->acc, r->body, r->body_len);
            if (!err && c->acc.content.len && c->h.on_delta)
                c->h.on_delta(c->arg, c->acc.content.data, c->acc.content.len);
        } else {
            fr_sse_feed(&c->sse, "\n", 1, on_sse_event, c); /* flush a last unterminated event */
            if (c->parse_err)
                err = FR_EPARSE;
            else if (!c->stream_done && !c->acc.finish_reason[0])
                err = -ECONNRESET; /* the stream ended early */
        }
        if (c->acc.error_code[0] && !err)
            err = FR_EHTTP;
    } else if (r && r->body_len) {
        fr_llm_acc_error_body(&c->acc, r->body, r->body_len);
    }
    if (err == -ECANCELED && c->parse_err)
        err = FR_EPARSE;
    fr_llm_result out = {
        .err = err,
        .http_status = status,
        .error_code = c->acc.error_code,
        .error_message = c->acc.error_message[0] ? c->acc.error_message : (err ? fr_strerror(err) : ""),
        .content = fr_buf_cstr(&c->acc.content),
        .tool_calls = c->acc.tool_calls,
        .finish_reason = c->acc.finish_reason[0] ? c->acc.finish_reason : (c->acc.filtered ? "content_filter" : ""),
        .prompt_tokens = c->acc.prompt_tokens,
        .completion_tokens = c->acc.completion_tokens,
        .total_tokens = c->acc.total_tokens,
        .attempts = res->attempts,
        .throttles = res->throttles,
    };
    if (c->acc.filtered && !out.error_code[0])
        out.error_code = "content_filter";
    c->call = NULL;
    if (c->h.on_done)
        c->h.on_done(c->arg, &out);
    fr_llm_cancel(c);
}

int fr_llm_chat(fr_llm *l, const json_t *messages, const json_t *tools, int max_tokens, const fr_llm_handlers *h,
                void *arg, fr_llm_call **out)
{
    if (out)
        *out = NULL;
    struct fr_llm_call *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->l = l;
    c->h = *h;
    c->arg = arg;
    int rc = fr_llm_url(&l->cfg, &c->url);
    if (rc) {
        free(c);
        return rc;
    }
    c->body = fr_llm_body(&l->cfg, messages, tools, max_tokens);
    fr_buf ah = FR_BUF_INIT;
    if (strcmp(l->provider, "azure") == 0)
        fr_buf_printf(&ah, "api-key: %s", l->api_key);
    else
        fr_buf_printf(&ah, "Authorization: Bearer %s", l->api_key);
    c->hdr_auth = fr_buf_steal(&ah);
    c->headers[0] = "Content-Type: application/json";
    c->headers[1] = l->cfg.stream ? "Accept: text/event-stream" : "Accept: application/json";
    c->headers[2] = c->hdr_auth;
    fr_sse_init(&c->sse, 1u << 20);
    fr_llm_acc_init(&c->acc);
    fr_call_spec spec = {
        .service = "llm",
        .quota = &l->quota,
        .policy = l->cfg.policy,
        .build = build,
        .done = done,
        .arg = c,
    };
    if (!spec.policy.max_ms)
        spec.policy = (fr_retry_policy)FR_RETRY_POLICY_DEFAULT;
    rc = fr_call_start(l->http, l->loop, &spec, &c->call);
    if (rc) {
        c->call = NULL;
        fr_llm_cancel(c);
        return rc;
    }
    if (out)
        *out = c;
    return 0;
}

void fr_llm_cancel(fr_llm_call *c)
{
    if (!c)
        return;
    if (c->call)
        fr_call_cancel(c->call);
    fr_buf_free(&c->url);
    free(c->body);
    if (c->hdr_auth)
        memset(c->hdr_auth, 0, strlen(c->hdr_auth));
    free(c->hdr_auth);
    fr_sse_free(&c->sse);
    fr_llm_acc_free(&c->acc);
    fr_buf_free(&c->delta);
    free(c);
}
