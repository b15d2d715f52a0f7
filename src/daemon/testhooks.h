#ifndef FRUGAL_DAEMON_TESTHOOKS_H
#define FRUGAL_DAEMON_TESTHOOKS_H

#include "frugal/app.h"

/* Registers the /api/_test/ routes when FRUGAL_TEST_ENDPOINTS=1 is set in
 * the environment; does nothing otherwise. */
void fr_testhooks_register(fr_app *a);

#endif
