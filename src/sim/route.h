/* Routing of an AWS request to a service, protocol and operation, pure:
 * the SigV4 scope's service when signed, else the protocol's addressing
 * (X-Amz-Target, Action=/Version=, the Lambda REST path). The input is
 * decoded into JSON (form fields become nested objects/arrays). */
#ifndef FR_SIM_ROUTE_H
#define FR_SIM_ROUTE_H

#include "auth.h"
#include "proto.h"

typedef enum {
    FR_SIM_ROUTE_OK,
    FR_SIM_ROUTE_UNKNOWN,    /* not an AWS request we know */
    FR_SIM_ROUTE_BAD_INPUT,  /* known service, undecodable body */
    FR_SIM_ROUTE_UNSUPPORTED /* a protocol we do not speak (CBOR) */
} fr_sim_route_result;

/* scope_service: the signing name from the Authorization header or NULL.
 * Fills call->svc, proto, op, in (owned by the call), Lambda fields. */
fr_sim_route_result fr_sim_route(const fr_sim_raw_req *r, const char *scope_service, fr_sim_call *call, char *err,
                                 size_t errlen);
void fr_sim_call_free(fr_sim_call *call);

#endif
