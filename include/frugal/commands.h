/* The chat's deterministic command language, used when no LLM is
 * configured (and to recognise plain commands when one is):
 *   help | list [clusters] | refresh | analyze NAME | optimize NAME |
 *   status [RUN] | cancel [RUN]
 * Approval is deliberately not a chat command: only the user's
 * POST /api/agent/approve (the Proceed button) starts a run. */
#ifndef FRUGAL_COMMANDS_H
#define FRUGAL_COMMANDS_H

#include <stdbool.h>

typedef enum {
    FR_CMD_NONE,    /* empty input */
    FR_CMD_HELP,
    FR_CMD_LIST,
    FR_CMD_ANALYZE,
    FR_CMD_OPTIMIZE,
    FR_CMD_STATUS,
    FR_CMD_CANCEL,
    FR_CMD_APPROVE, /* recognised only to explain how approval works */
    FR_CMD_UNKNOWN,
} fr_cmd_kind;

#define FR_CMD_ARG_MAX 256

typedef struct fr_cmd {
    fr_cmd_kind kind;
    bool refresh;
    char arg[FR_CMD_ARG_MAX + 1]; /* cluster name or run id; "" when absent */
} fr_cmd;

/* Parses one chat message. Returns 0, or FR_EPARSE with kind set to
 * FR_CMD_UNKNOWN (or the verb, when its argument is missing/invalid). */
int fr_cmd_parse(const char *text, fr_cmd *out);
const char *fr_cmd_name(fr_cmd_kind k);
/* True when s is a plausible EMR cluster name / parameter path component:
 * 1..256 chars of letters, digits and - _ . (no '/', no spaces, no control). */
bool fr_cmd_valid_name(const char *s);

#endif
