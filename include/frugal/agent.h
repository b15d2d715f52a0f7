/* The chat agent behind POST /api/agent/chat.
 *
 * Without an LLM the chat is the deterministic command language of
 * commands.h with templated replies. With one (llm.provider azure/openai)
 * plain commands still run directly, and free text goes to the model, which
 * sees the seed's tools. Read-only tools (list, analyze, config, cost,
 * status) and propose_optimization (which only creates a run awaiting the
 * user's approval) are executed by frugald; write tools (modify/revert the
 * parameter, invoke the Lambda, terminate, approve) are always refused and
 * the refusal is audited: only the user's POST /api/agent/approve starts
 * changes. Cluster names, configs and metric labels reach the model as JSON
 * tool results - data, never instructions. Conversations are stored, with
 * per-message turn and per-conversation token limits. */
#ifndef FRUGAL_AGENT_H
#define FRUGAL_AGENT_H

#include <jansson.h>

struct fr_app;
struct fr_emrd;
typedef struct fr_agent fr_agent;

int fr_agent_new(fr_agent **out, struct fr_app *app, struct fr_emrd *emrd);
/* Re-reads [llm] from the app's configuration. */
int fr_agent_reload(fr_agent *a);
/* Cancels model calls in flight (their HTTP requests answer 503). */
void fr_agent_drain(fr_agent *a);
int fr_agent_busy(const fr_agent *a);
void fr_agent_free(fr_agent *a);
/* Asks the model (if any) for a short narrative of a finished run's report
 * and stores it with fr_emrd_set_narrative(); no-op without an LLM. */
void fr_agent_narrate(fr_agent *a, const char *run_id, const json_t *report);

/* The tool list given to the model (OpenAI "tools" format). New ref. */
json_t *fr_agent_tools(void);
/* True for tools the assistant may never run. */
int fr_agent_tool_is_write(const char *name);

#endif
