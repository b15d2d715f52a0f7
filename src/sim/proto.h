/* Wire protocols of the simulated services, pure: the parsed call, the
 * response being built, success envelopes and each protocol's error shape
 * (awsJson {"__type"}, restJson x-amzn-ErrorType, query <ErrorResponse>,
 * ec2 <Response><Errors>). */
#ifndef FR_SIM_PROTO_H
#define FR_SIM_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "frugal/buf.h"

typedef enum {
    FR_SIM_SVC_EMR,
    FR_SIM_SVC_CW,
    FR_SIM_SVC_SSM,
    FR_SIM_SVC_LAMBDA,
    FR_SIM_SVC_EC2,
    FR_SIM_SVC_SQS,
    FR_SIM_SVC_STS,
    FR_SIM_SVC_PRICING,
    FR_SIM_SVC_CHAT,
    FR_SIM_SVC_IMDS,
    FR_SIM_SVC_COUNT
} fr_sim_svc;

typedef enum {
    FR_SIM_PROTO_JSON10,   /* awsJson1_0 (CloudWatch, SQS) */
    FR_SIM_PROTO_JSON11,   /* awsJson1_1 (EMR, SSM, Pricing) */
    FR_SIM_PROTO_RESTJSON, /* Lambda */
    FR_SIM_PROTO_QUERY,    /* STS, CloudWatch, SQS */
    FR_SIM_PROTO_EC2,
    FR_SIM_PROTO_PLAIN, /* chat, IMDS */
} fr_sim_proto;

/* Short service names used in the control API and call counters. */
const char *fr_sim_svc_name(fr_sim_svc s);
int fr_sim_svc_parse(const char *s);
/* The SigV4 signing name (credential scope service). */
const char *fr_sim_svc_signing_name(fr_sim_svc s);

#define FR_SIM_MAX_HDRS 10

typedef struct fr_sim_hdr {
    char name[48];
    char value[512];
} fr_sim_hdr;

typedef struct fr_sim_resp {
    int status;
    char ctype[64];
    fr_buf body;
    fr_sim_hdr hdrs[FR_SIM_MAX_HDRS];
    int nhdrs;
    bool is_error;
    char error_code[64];
    /* body is a sequence of SSE events separated at these offsets */
    bool sse;
} fr_sim_resp;

typedef struct fr_sim_call {
    fr_sim_svc svc;
    fr_sim_proto proto;
    char op[64];
    json_t *in; /* JSON body or decoded form; owned */
    char request_id[40];
    /* Lambda (restJson): path parameter and headers */
    char function[512];
    char invocation_type[32];
    char log_type[16];
    char qualifier[64];
    const char *body; /* raw body (Lambda payload) */
    size_t body_len;
    const char *principal; /* access key id of the caller */
} fr_sim_call;

void fr_sim_resp_init(fr_sim_resp *r);
void fr_sim_resp_free(fr_sim_resp *r);
void fr_sim_resp_reset(fr_sim_resp *r);
void fr_sim_resp_header(fr_sim_resp *r, const char *name, const char *value);
const char *fr_sim_resp_get_header(const fr_sim_resp *r, const char *name);
void fr_sim_resp_raw(fr_sim_resp *r, int status, const char *ctype, const char *body, size_t len);

/* A JSON success body for the call's protocol (steals out). */
void fr_sim_ok_json(const fr_sim_call *c, fr_sim_resp *r, json_t *out);
/* A pre-rendered JSON body. */
void fr_sim_ok_json_text(const fr_sim_call *c, fr_sim_resp *r, const char *text, size_t len);
/* Query protocol: wraps inner XML in <OpResponse><OpResult>; inner NULL
 * gives an operation without a result element. */
void fr_sim_ok_query(const fr_sim_call *c, fr_sim_resp *r, const char *inner);
/* EC2: <OpResponse xmlns><requestId/>inner</OpResponse>. */
void fr_sim_ok_ec2(const fr_sim_call *c, fr_sim_resp *r, const char *inner);

/* An error in the shape of the call's protocol. code is the code botocore
 * reports (for query-compatible JSON services it travels in the
 * x-amzn-query-error header, with a modelled __type). */
void fr_sim_error(const fr_sim_call *c, fr_sim_resp *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The service's throttling error, internal error, and the XML namespace. */
void fr_sim_throttle(const fr_sim_call *c, fr_sim_resp *r);
void fr_sim_internal_error(const fr_sim_call *c, fr_sim_resp *r, const char *code);
const char *fr_sim_xmlns(fr_sim_svc s);

#endif
