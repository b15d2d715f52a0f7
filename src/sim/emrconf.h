/* The cluster config kept in Parameter Store (docs/emr-config.md) and what
 * the cluster-submit Lambda makes of it: a RunJobFlow input. Pure. */
#ifndef FR_SIM_EMRCONF_H
#define FR_SIM_EMRCONF_H

#include <stddef.h>

#include <jansson.h>

/* GravitonAmi as written: -1 absent, 0 false, 1 true; FR_EPARSE if it is
 * neither a boolean nor "true"/"false" in any letter case. */
int fr_sim_emrconf_graviton(const json_t *cfg, int *out);

/* Decoded Instances (string or object); new reference or NULL. */
json_t *fr_sim_emrconf_instances(const json_t *cfg);

/* Builds the RunJobFlow input from a config value. On failure returns
 * FR_EPARSE and names the error as a Python Lambda would (errtype:
 * "JSONDecodeError", "KeyError", "ValueError") with a message. */
int fr_sim_emrconf_to_request(const char *value, size_t len, json_t **req, char *errtype, size_t typelen,
                              char *err, size_t errlen);

#endif
