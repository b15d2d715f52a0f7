#include <ctype.h>
#include <string.h>

#include "frugal/commands.h"
#include "frugal/err.h"
#include "frugal/str.h"

const char *fr_cmd_name(fr_cmd_kind k)
{
    static const char *n[] = {"none", "help", "list", "analyze", "optimize", "status", "cancel", "approve", "unknown"};
    return k <= FR_CMD_UNKNOWN ? n[k] : "unknown";
}

bool fr_cmd_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > FR_CMD_ARG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static const struct {
    const char *word;
    fr_cmd_kind kind;
} verbs[] = {
    {"help", FR_CMD_HELP},         {"?", FR_CMD_HELP},          {"list", FR_CMD_LIST},
    {"clusters", FR_CMD_LIST},     {"ls", FR_CMD_LIST},         {"refresh", FR_CMD_LIST},
    {"analyze", FR_CMD_ANALYZE},   {"analyse", FR_CMD_ANALYZE}, {"optimize", FR_CMD_OPTIMIZE},
    {"optimise", FR_CMD_OPTIMIZE}, {"status", FR_CMD_STATUS},   {"cancel", FR_CMD_CANCEL},
    {"stop", FR_CMD_CANCEL},       {"approve", FR_CMD_APPROVE}, {"proceed", FR_CMD_APPROVE},
    {"yes", FR_CMD_APPROVE},
};

int fr_cmd_parse(const char *text, fr_cmd *out)
{
    memset(out, 0, sizeof(*out));
    char buf[512];
    if (!text)
        text = "";
    if (strlen(text) >= sizeof(buf)) {
        out->kind = FR_CMD_UNKNOWN;
        return FR_EPARSE;
    }
    fr_strlcpy(buf, text, sizeof(buf));
    fr_str_trim(buf);
    /* strip a trailing '.', '!' or '?' (but not a lone "?") */
    size_t bl = strlen(buf);
    while (bl > 1 && (buf[bl - 1] == '.' || buf[bl - 1] == '!' || buf[bl - 1] == '?'))
        buf[--bl] = '\0';
    if (!buf[0]) {
        out->kind = FR_CMD_NONE;
        return 0;
    }
    char *sp = buf + strcspn(buf, " \t");
    char *rest = sp;
    if (*sp) {
        *sp = '\0';
        rest = sp + 1;
        while (*rest == ' ' || *rest == '\t')
            rest++;
    }
    fr_cmd_kind kind = FR_CMD_UNKNOWN;
    for (size_t i = 0; i < FR_ARRAY_SIZE(verbs); i++)
        if (strcasecmp(buf, verbs[i].word) == 0)
            kind = verbs[i].kind;
    /* "show clusters", "list clusters", "refresh clusters" */
    if (kind == FR_CMD_UNKNOWN && strcasecmp(buf, "show") == 0 && strncasecmp(rest, "clusters", 8) == 0) {
        kind = FR_CMD_LIST;
        rest = "";
    }
    out->kind = kind;
    switch (kind) {
    case FR_CMD_UNKNOWN:
        return FR_EPARSE;
    case FR_CMD_LIST:
        out->refresh = strcasecmp(buf, "refresh") == 0 || strcasestr(rest, "refresh") != NULL;
        return 0;
    case FR_CMD_HELP:
    case FR_CMD_APPROVE:
        return 0;
    case FR_CMD_ANALYZE:
    case FR_CMD_OPTIMIZE:
        /* "optimize cluster NAME" reads naturally too */
        if (strncasecmp(rest, "cluster ", 8) == 0)
            rest += 8;
        if (!fr_cmd_valid_name(rest))
            return FR_EPARSE;
        fr_strlcpy(out->arg, rest, sizeof(out->arg));
        return 0;
    case FR_CMD_STATUS:
    case FR_CMD_CANCEL:
        if (*rest) {
            if (!fr_cmd_valid_name(rest))
                return FR_EPARSE;
            fr_strlcpy(out->arg, rest, sizeof(out->arg));
        }
        return 0;
    default:
        return 0;
    }
}
