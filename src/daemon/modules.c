/* The daemon's modules, in start order (stopped in reverse). */
#include <stddef.h>
#include <stdio.h>

#include "frugal/agent.h"
#include "frugal/emrd.h"
#include "modules.h"


static const fr_module emr = {"emr", fr_emrd_start, fr_emrd_drain, fr_emrd_busy, fr_emrd_stop, fr_emrd_reload};

static int agent_start(fr_app *a, char *err, size_t errlen)
{
    fr_agent *ag;
    int rc = fr_agent_new(&ag, a, fr_app_emrd(a));
    if (rc) {
        snprintf(err, errlen, "agent: %d", rc);
        return rc;
    }
    a->agent = (struct fr_agent *)ag;
    fr_emrd_set_agent(fr_app_emrd(a), ag);
    return 0;
}

static void agent_drain(fr_app *a)
{
    if (a->agent)
        fr_agent_drain((fr_agent *)a->agent);
}

static int agent_busy(fr_app *a)
{
    return a->agent && fr_agent_busy((fr_agent *)a->agent);
}

static void agent_stop(fr_app *a)
{
    if (a->agent) {
        if (fr_app_emrd(a))
            fr_emrd_set_agent(fr_app_emrd(a), NULL);
        fr_agent_free((fr_agent *)a->agent);
        a->agent = NULL;
    }
}

static void agent_reload(fr_app *a)
{
    if (a->agent)
        fr_agent_reload((fr_agent *)a->agent);
}

static const fr_module agent = {"agent", agent_start, agent_drain, agent_busy, agent_stop, agent_reload};

const fr_module *const fr_modules[] = {
    &emr,
    &agent,
    NULL,
};
