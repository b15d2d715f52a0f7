/* A chat-completions TEST DOUBLE, pure: it speaks the OpenAI and Azure
 * OpenAI wire format (JSON and SSE streaming) and answers from a script of
 * rules, matched against the last user message or the last tool result.
 * It does not understand anything; it exists so the agent's protocol code
 * (tool calls, streaming, 429 handling) can be tested offline. */
#ifndef FR_SIM_CHAT_H
#define FR_SIM_CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "auth.h"
#include "proto.h"

typedef struct fr_sim_chat {
    json_t *script; /* {"rules": [...], "default": {...}} */
    json_t *used;   /* rule index -> times used */
    json_t *log;    /* recent requests (bounded) */
    uint64_t seed, counter;
} fr_sim_chat;

void fr_sim_chat_init(fr_sim_chat *c, uint64_t seed);
void fr_sim_chat_free(fr_sim_chat *c);
/* Validates and installs a script (steals nothing; copies). */
int fr_sim_chat_set_script(fr_sim_chat *c, const json_t *script, char *err, size_t errlen);
json_t *fr_sim_chat_requests(const fr_sim_chat *c);

/* path: the request path without the query; query: raw query or NULL.
 * For streaming answers r->sse is set and the body holds the whole event
 * stream; *chunk_delay_ms asks the shell to pace the events. */
void fr_sim_chat_handle(fr_sim_chat *c, const char *method, const char *path, const char *query,
                        const fr_sim_raw_req *raw, int64_t real_ms, fr_sim_resp *r, int64_t *chunk_delay_ms);

#endif
