/* Chat-completions client: Azure OpenAI and any OpenAI-compatible endpoint,
 * on the loop's HTTP client. Tools (function calling), streaming over SSE
 * with deltas delivered as they arrive and tool-call fragments reassembled,
 * 429 retried after retry-after / retry-after-ms, timeouts, content-filter
 * and error bodies surfaced.
 *
 * Pure pieces (fr_sse_*, fr_llm_acc_*) are separate from the glue
 * (fr_llm_*) and unit tested. */
#ifndef FRUGAL_LLM_H
#define FRUGAL_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "frugal/buf.h"
#include "frugal/call.h"
#include "frugal/http.h"

/* ---- SSE (text/event-stream) parser, pure ---- */

typedef void (*fr_sse_event_fn)(void *arg, const char *event, const char *data, size_t len);

typedef struct fr_sse {
    fr_buf line;  /* partial line across chunks */
    fr_buf data;  /* data lines of the current event, joined by \n */
    fr_buf event; /* event: name */
    size_t max_event;
    int overflow;
} fr_sse;

void fr_sse_init(fr_sse *p, size_t max_event);
void fr_sse_free(fr_sse *p);
/* Feeds bytes; calls fn for every complete event. Returns FR_EPARSE when an
 * event exceeds max_event. */
int fr_sse_feed(fr_sse *p, const char *buf, size_t len, fr_sse_event_fn fn, void *arg);

/* ---- streamed response accumulator, pure ---- */

typedef struct fr_llm_acc {
    fr_buf content;
    json_t *tool_calls; /* array, index-ordered: {id,type,function:{name,arguments}} */
    char finish_reason[32];
    int prompt_tokens, completion_tokens, total_tokens;
    int filtered; /* a content filter stopped or annotated the answer */
    char error_code[64];
    char error_message[256];
} fr_llm_acc;

void fr_llm_acc_init(fr_llm_acc *a);
void fr_llm_acc_free(fr_llm_acc *a);
void fr_llm_acc_reset(fr_llm_acc *a);
/* Applies one chunk (a JSON object from one SSE data line). Appends the
 * chunk's content delta (if any) to delta_out. FR_EPARSE on a bad chunk. */
int fr_llm_acc_chunk(fr_llm_acc *a, const json_t *chunk, fr_buf *delta_out);
/* Applies a whole non-streamed response. FR_EPARSE when it is malformed
 * (error_message says why), FR_EHTTP when it is an error object
 * ({"error":{...}}, error_code/error_message set). */
int fr_llm_acc_response(fr_llm_acc *a, const json_t *resp);
/* The same from the raw body bytes (not JSON, truncated, empty: FR_EPARSE). */
int fr_llm_acc_body(fr_llm_acc *a, const char *body, size_t len);
/* Reads an error body ({"error":{"code","message"}}) into the accumulator. */
void fr_llm_acc_error_body(fr_llm_acc *a, const char *body, size_t len);

/* ---- request building, pure ---- */

typedef struct fr_llm_config {
    const char *provider; /* "azure" or "openai" */
    const char *endpoint;
    const char *api_key;
    const char *deployment;
    const char *api_version;
    const char *model;
    uint64_t timeout_ms;
    bool stream;
    fr_retry_policy policy;
} fr_llm_config;

/* The URL for the provider; FR_ECONFIG when incomplete. */
int fr_llm_url(const fr_llm_config *c, fr_buf *out);
/* The request body: messages, tools (may be NULL), stream flag, model. */
char *fr_llm_body(const fr_llm_config *c, const json_t *messages, const json_t *tools, int max_tokens);

/* ---- the client (loop glue) ---- */

typedef struct fr_llm fr_llm;
typedef struct fr_llm_call fr_llm_call;

typedef struct fr_llm_result {
    int err;                  /* 0, transport/HTTP error, FR_ETHROTTLED, FR_EPARSE */
    long http_status;
    const char *error_code;   /* endpoint's error code (e.g. content_filter, rate_limit_exceeded) or "" */
    const char *error_message;
    const char *content;      /* the whole assistant text */
    const json_t *tool_calls; /* array (possibly empty); borrowed */
    const char *finish_reason;
    int prompt_tokens, completion_tokens, total_tokens;
    int attempts;
    int throttles;
} fr_llm_result;

typedef struct fr_llm_handlers {
    /* A piece of streamed text, in order. Runs inside the transfer: do not
     * start or cancel HTTP requests from here. */
    void (*on_delta)(void *arg, const char *text, size_t len);
    /* A retry after partial output: the consumer discards what it showed. */
    void (*on_reset)(void *arg);
    void (*on_done)(void *arg, const fr_llm_result *res);
} fr_llm_handlers;

int fr_llm_new(fr_llm **out, uv_loop_t *loop, fr_http *http, const fr_llm_config *cfg);
/* Replaces the configuration (strings are copied). */
int fr_llm_configure(fr_llm *l, const fr_llm_config *cfg);
bool fr_llm_enabled(const fr_llm *l);
void fr_llm_free(fr_llm *l);
/* messages and tools are copied. on_done is called exactly once unless the
 * call is cancelled. */
int fr_llm_chat(fr_llm *l, const json_t *messages, const json_t *tools, int max_tokens, const fr_llm_handlers *h,
                void *arg, fr_llm_call **out);
void fr_llm_cancel(fr_llm_call *c);

#endif
