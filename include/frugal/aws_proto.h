/* The AWS wire protocols, pure: request encoding, response decoding
 * (XML through expat, streaming, into jansson), error parsing, retry
 * classification and request signing. No loop, no clock, no I/O.
 *
 * Response JSON is normalised for downstream code: the JSON protocols as
 * returned; EC2 and query (STS) XML converted to JSON with the XML's own
 * member names, <item>/<member> lists as arrays, every leaf a string (see
 * fr_aws_json_number / fr_aws_json_bool for reading them). */
#ifndef FRUGAL_AWS_PROTO_H
#define FRUGAL_AWS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/aws_endpoint.h"
#include "frugal/buf.h"
#include "frugal/http.h"
#include "frugal/retry.h"
#include "frugal/sigv4.h"

/* ---- typed errors ---- */

typedef enum {
    FR_AWS_ERR_NONE = 0,
    FR_AWS_ERR_SERVICE,     /* the service refused (a non-retryable code) */
    FR_AWS_ERR_THROTTLE,    /* throttled, out of attempts or retry quota */
    FR_AWS_ERR_TRANSIENT,   /* 5xx or a transient code, out of attempts or quota */
    FR_AWS_ERR_TRANSPORT,   /* no HTTP answer: timeout, reset, refused, DNS, TLS, cancelled */
    FR_AWS_ERR_PARSE,       /* malformed, truncated or oversized response */
    FR_AWS_ERR_FUNCTION,    /* Lambda: the function itself failed (X-Amz-Function-Error) */
    FR_AWS_ERR_CREDENTIALS, /* no usable credentials */
} fr_aws_err_kind;

typedef struct fr_aws_error {
    fr_aws_err_kind kind;
    int err;           /* frugal code: FR_EAWS, FR_ETHROTTLED, FR_EQUOTA, FR_EPARSE, FR_ECRED, -ETIMEDOUT, ... */
    long http_status;  /* 0 when there was no response */
    char code[128];    /* "ThrottlingException", "DryRunOperation", "Unhandled" (function errors) */
    char message[512];
    char request_id[128];
} fr_aws_error;

const char *fr_aws_err_kind_name(fr_aws_err_kind k);
/* {"kind","code","message","request_id","http_status","err"}. */
json_t *fr_aws_error_to_json(const fr_aws_error *e);
void fr_aws_error_set(fr_aws_error *e, fr_aws_err_kind kind, int err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The SDKs' standard-mode lists. */
bool fr_aws_is_throttle_code(const char *code);
bool fr_aws_is_transient_code(const char *code);
/* Access-denied style codes (AccessDenied, AccessDeniedException,
 * UnauthorizedOperation, AuthorizationError, ...): used by doctor. */
bool fr_aws_is_access_denied_code(const char *code);

/* Parses an error response (status >= 300) of protocol p into e: code
 * (namespace before '#' and anything after ':' removed; the
 * x-amzn-query-error header wins for query-compatible services), message,
 * request id, and kind from code and status. Bodies that are not what the
 * protocol promises (an HTML page from a proxy, XML from a JSON service,
 * nothing at all) still give a usable error with the HTTP status as code. */
void fr_aws_parse_error(fr_aws_protocol p, const fr_http_resp *r, fr_aws_error *e);
/* The request id headers: x-amzn-RequestId, x-amz-request-id. */
const char *fr_aws_request_id_header(const fr_http_resp *r);

/* Retry verdict like the SDKs' standard mode: connection errors, 500, 502,
 * 503, 504 and transient codes retry; throttle codes and 429 throttle;
 * 2xx succeeds; everything else fails at once. For a response that failed
 * the verdict is computed from an error parsed with fr_aws_parse_error,
 * which is stored in e when e is not NULL. */
fr_verdict fr_aws_classify(fr_aws_protocol p, const fr_http_resp *r, fr_aws_error *e);

/* ---- JSON protocols ---- */

/* Serialises like the SDKs (", " and ": " separators, key order kept,
 * non-ASCII escaped); NULL req gives "{}". */
int fr_aws_json_encode(const json_t *req, fr_buf *out);
/* Decodes a 2xx body: an empty body is {}; anything that is not a JSON
 * object is FR_EPARSE with the reason in err. *out is a new reference. */
int fr_aws_json_decode(const char *body, size_t len, json_t **out, char *err, size_t errlen);

/* ---- query protocols (EC2, STS) ---- */

/* Form body "Action=Op&Version=V&..." from params, whose keys are the wire
 * names. Objects become Name.Sub, arrays Name.N (ec2_lists) or
 * Name.member.N (query), booleans true/false, numbers in shortest form,
 * null is skipped. Values are form-encoded as the SDKs do (space as '+'). */
int fr_aws_query_encode(const char *action, const char *version, const json_t *params, bool ec2_lists,
                        fr_buf *out);

/* ---- XML to JSON, streaming ---- */

typedef struct fr_aws_xml fr_aws_xml;

/* max_bytes bounds the document (0: 64 MiB); deeper than 64 levels fails. */
fr_aws_xml *fr_aws_xml_new(size_t max_bytes);
void fr_aws_xml_free(fr_aws_xml *x);
/* Feeds a chunk; FR_EPARSE once the document is malformed or too large
 * (the reason is kept for fr_aws_xml_finish). */
int fr_aws_xml_feed(fr_aws_xml *x, const char *data, size_t len);
/* Ends the document. On success *root is a new reference to the root
 * element's content (an object), and root_name holds the root's name. A
 * truncated document is FR_EPARSE. */
int fr_aws_xml_finish(fr_aws_xml *x, json_t **root, char *root_name, size_t rn, char *err, size_t errlen);
/* The whole body at once (fed in 4 KiB chunks, as it would stream). */
int fr_aws_xml_to_json(const char *body, size_t len, size_t max_bytes, json_t **root, char *root_name, size_t rn,
                       char *err, size_t errlen);

/* Unwraps a query-protocol answer: <OpResponse><OpResult>...</OpResult>
 * <ResponseMetadata><RequestId/>...: returns a new reference to the
 * OpResult content ({} when absent) and copies the request id. */
json_t *fr_aws_query_result(json_t *root, const char *op, char *request_id, size_t rn);

/* ---- restJson1: Lambda Invoke ---- */

/* "/2015-03-31/functions/<name or ARN, percent-encoded>/invocations" and
 * "Qualifier=..." (empty when qualifier is NULL). */
int fr_aws_lambda_invoke_path(const char *function, const char *qualifier, fr_buf *path, fr_buf *query);

/* ---- CloudWatch GetMetricData batching ---- */

/* Every query has a valid Id (see fr_aws_cw_id_valid in aws.h), no Id
 * twice, and expressions only when everything fits one batch. */
int fr_aws_cw_check_queries(const json_t *queries, char *why, size_t wl);
/* queries split into arrays of at most max (0: 500): [[...], [...]]. */
json_t *fr_aws_cw_batches(const json_t *queries, size_t max);
/* Folds one GetMetricData answer into acc (an object keyed by Id):
 * Timestamps and Values appended, Label and StatusCode from the latest
 * page; top-level Messages appended to messages. */
void fr_aws_cw_merge_page(json_t *acc, json_t *messages, const json_t *page);
/* {"MetricDataResults": [acc entries in query order], "Messages": [...]}. */
json_t *fr_aws_cw_merged_result(const json_t *queries, const json_t *acc, const json_t *messages);

/* ---- reading normalised JSON ---- */

/* A number, or a string holding one ("0.0132"); FR_EPARSE otherwise. */
int fr_aws_json_number(const json_t *v, double *out);
/* true / "true" (any case) -> true; everything else false. */
bool fr_aws_json_bool(const json_t *v);
/* The array under key, accepting "" (an empty XML list) as empty; NULL
 * when absent or neither. */
json_t *fr_aws_json_list(const json_t *obj, const char *key);

/* ---- signing ---- */

typedef struct fr_aws_sign_in {
    const char *method;
    const char *host;  /* Host header value */
    const char *path;  /* wire path (encoded once) */
    const char *query; /* wire query without '?', or NULL */
    const fr_sigv4_header *headers; /* further headers to sign (Content-Type, X-Amz-Target, ...) */
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *region;
    const char *service;
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" for long-term keys */
    int64_t time_ms;
    fr_sigv4_key_cache *cache; /* may be NULL */
} fr_aws_sign_in;

/* Signs as the SDKs do: host, the given headers, X-Amz-Date and (with a
 * session token) X-Amz-Security-Token. Writes the X-Amz-Date value
 * ("20150830T123600Z") and the Authorization value; the caller sends both
 * (and the token) on the wire. */
int fr_aws_sign(const fr_aws_sign_in *in, char amz_date[20], fr_buf *authorization);

/* Masks an access key id for display: "AKIA****WXYZ". */
void fr_aws_mask_key(const char *akid, char *out, size_t n);

#endif
