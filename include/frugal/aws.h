/* frugal's AWS client: one object per process on the loop, speaking each
 * service's own wire protocol over fr_http (no SDK), signed with SigV4 from
 * the default credential chain, retried like the SDKs' standard mode on
 * fr_call with a token bucket, a concurrency limit and a retry quota per
 * service.
 *
 * Conventions for every operation below:
 *   - It returns 0 and later calls its callback exactly once on the loop,
 *     unless the operation is cancelled first with fr_aws_cancel(); or it
 *     returns < 0 at once (bad arguments, client closing) and never calls
 *     back. Credential, network and service failures always arrive through
 *     the callback.
 *   - A json_t *req argument is stolen (released by the client, also when
 *     the call returns an error); const json_t * arguments are borrowed.
 *   - The result and everything it points to (res->json, res->error, ...)
 *     is borrowed for the duration of the callback: json_incref() what you
 *     keep.
 *   - JSON-protocol results are the service's JSON as returned; EC2 and STS
 *     answers are their XML converted to JSON with the XML member names
 *     (lowerCamel for EC2: "reservationSet", "instancesSet", "nextToken"),
 *     <item>/<member> lists as arrays and leaves as strings (read numbers
 *     with fr_aws_json_number()). EC2 requests take the wire names
 *     ("InstanceId": [...], "Filter": [{"Name":..,"Value":[..]}]).
 *   - Times given as int64_t *_ms are milliseconds since the epoch.
 *
 * The daemon creates the client after its fr_http and closes it before
 * fr_http_close() (see fr_aws_close). */
#ifndef FRUGAL_AWS_H
#define FRUGAL_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "frugal/aws_cred.h"
#include "frugal/aws_endpoint.h"
#include "frugal/aws_proto.h"
#include "frugal/config.h"
#include "frugal/http.h"

typedef struct fr_aws fr_aws;
typedef struct fr_aws_op fr_aws_op;

/* ---- the client ---- */

typedef struct fr_aws_opts {
    fr_getenv_fn getenv; /* NULL: the process environment (tests inject their own) */
    void *getenv_arg;
    const char *home;    /* NULL: $HOME, for ~/.aws */
} fr_aws_opts;

/* Resolves region, endpoints, retry settings and the credential source
 * from cfg (copied where needed) and the environment; reads ~/.aws/config
 * and ~/.aws/credentials. A malformed shared file, a missing explicitly
 * named profile or a bad endpoint URL fails here with the reason in err.
 * Missing credentials do not: they fail the calls that need them.
 * opts may be NULL. */
int fr_aws_new(fr_aws **out, uv_loop_t *loop, fr_http *http, const fr_config *cfg, const fr_aws_opts *opts,
               char *err, size_t errlen);
/* Ends every operation (their callbacks run with err -ECANCELED, kind
 * transport), closes timers and limiters; later calls return -ECANCELED.
 * done (optional) runs once everything is closed and freed. Must be called
 * while the fr_http is still open, i.e. before fr_http_close(). */
void fr_aws_close(fr_aws *a, void (*done)(void *arg), void *arg);
/* Applies the reloadable settings: per-service rate/burst, retry policy,
 * max attempts, retry quota on/off. */
void fr_aws_reload(fr_aws *a, const fr_config *cfg);

const char *fr_aws_region(const fr_aws *a);
/* "aws.region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile", "default". */
const char *fr_aws_region_source(const fr_aws *a);
const fr_aws_endpoint *fr_aws_endpoint_of(const fr_aws *a, enum fr_aws_svc svc);
/* The credential provider (for fr_cred_get / fr_cred_stats_get). */
fr_cred_provider *fr_aws_cred_provider(fr_aws *a);
/* Total attempts per call (first try included). */
int fr_aws_max_attempts(const fr_aws *a);
/* Operations not yet called back (for a module's busy()). */
size_t fr_aws_pending(const fr_aws *a);
/* Remaining retry quota of a service (-1 when the quota is off). */
int fr_aws_quota_available(const fr_aws *a, enum fr_aws_svc svc);

/* ---- results ---- */

typedef struct fr_aws_result {
    int err;                   /* 0, or FR_EAWS / FR_ETHROTTLED / FR_EQUOTA / FR_EPARSE / FR_ECRED / -ETIMEDOUT / ... */
    const fr_aws_error *error; /* kind, code, message, request id, status; NULL on success */
    json_t *json;              /* parsed answer (NULL when err and nothing was parsed) */
    long http_status;
    const char *request_id;    /* "" when unknown */
    int attempts;
    const char *body;          /* raw answer body: the Lambda payload; "" otherwise when streamed */
    size_t body_len;
    size_t page;               /* page callbacks: index from 0; pager done: pages fetched */
} fr_aws_result;

typedef void (*fr_aws_cb)(const fr_aws_result *res, void *arg);
/* Called for each page of a paginated operation; return 0 to go on,
 * non-zero to stop (done then runs with what was gathered, err 0). */
typedef int (*fr_aws_page_cb)(const fr_aws_result *page, void *arg);

typedef struct fr_aws_call_opts {
    uint64_t timeout_ms;   /* whole request; 0: http.timeout */
    int max_attempts;      /* 0: the client's (aws.max_attempts / AWS_MAX_ATTEMPTS) */
    bool once;             /* not idempotent: retry only throttles and refused connections */
    bool unsigned_request; /* send without credentials (AssumeRoleWithWebIdentity) */
    /* pagers only: */
    bool no_accumulate;    /* done gets the last page, not the concatenated list */
    size_t max_pages;      /* 0: 10000 */
    const char *input_token, *output_token, *list_key; /* for operations the built-in table lacks */
} fr_aws_call_opts;

/* Generic call of any operation of a service: op is the operation name
 * ("ListClusters"), req its input (NULL for none). For Lambda only
 * "Invoke" exists; its req is {"FunctionName", "Payload" (string or JSON),
 * "InvocationType", "LogType", "Qualifier", "ClientContext"}. o may be NULL. */
int fr_aws_call(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o, fr_aws_cb cb,
                void *arg, fr_aws_op **out);

/* Calls op until the answer carries no Marker/NextToken, calling page
 * (may be NULL) for each page, then done once with
 * {"<list key>": [all items...]} (or the last page with no_accumulate),
 * res->page = pages fetched. On an error done gets the error and the items
 * gathered so far. Known operations: EMR ListClusters, ListInstanceFleets,
 * ListInstanceGroups, ListInstances, ListSteps; EC2 DescribeSpotPriceHistory,
 * DescribeInstances, DescribeInstanceTypes, DescribeSpotInstanceRequests;
 * CloudWatch GetMetricData (use fr_aws_cw_get_metric_data); Pricing
 * GetProducts. Repeating a token ends the pager with a parse error. */
int fr_aws_paginate(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                    fr_aws_page_cb page, fr_aws_cb done, void *arg, fr_aws_op **out);

/* Cancels a call, pager or batch: no callback runs after this. */
void fr_aws_cancel(fr_aws_op *op);

/* ---- EMR (awsJson1_1) ---- */

typedef struct fr_aws_emr_list_clusters_in {
    const char *const *states; /* ClusterStates, e.g. "TERMINATED"; may be NULL */
    size_t nstates;
    int64_t created_after_ms;  /* 0: not sent */
    int64_t created_before_ms; /* 0: not sent */
} fr_aws_emr_list_clusters_in;

/* ListClusters, paginated by Marker; done gets {"Clusters": [...]}. */
int fr_aws_emr_list_clusters(fr_aws *a, const fr_aws_emr_list_clusters_in *in, fr_aws_page_cb page, fr_aws_cb done,
                             void *arg, fr_aws_op **out);
/* DescribeCluster: {"Cluster": {...}}. */
int fr_aws_emr_describe_cluster(fr_aws *a, const char *cluster_id, fr_aws_cb cb, void *arg, fr_aws_op **out);
/* ListInstanceFleets: {"InstanceFleets": [...]}, paginated. */
int fr_aws_emr_list_instance_fleets(fr_aws *a, const char *cluster_id, fr_aws_page_cb page, fr_aws_cb done,
                                    void *arg, fr_aws_op **out);
/* ListInstanceGroups: {"InstanceGroups": [...]}, paginated. */
int fr_aws_emr_list_instance_groups(fr_aws *a, const char *cluster_id, fr_aws_page_cb page, fr_aws_cb done,
                                    void *arg, fr_aws_op **out);
/* ListInstances: {"Instances": [...]}, paginated. fleet_type ("CORE") and
 * group_types ({"CORE","TASK"}) and states ("RUNNING") filter; NULL/0 to
 * leave out. */
int fr_aws_emr_list_instances(fr_aws *a, const char *cluster_id, const char *fleet_type,
                              const char *const *group_types, size_t ngroup_types, const char *const *states,
                              size_t nstates, fr_aws_page_cb page, fr_aws_cb done, void *arg, fr_aws_op **out);
/* ListSteps: {"Steps": [...]} (newest first, as EMR returns them), paginated. */
int fr_aws_emr_list_steps(fr_aws *a, const char *cluster_id, const char *const *states, size_t nstates,
                          fr_aws_page_cb page, fr_aws_cb done, void *arg, fr_aws_op **out);
/* AddJobFlowSteps with steps (stolen) = [StepConfig...]: {"StepIds": [...]}. */
int fr_aws_emr_add_job_flow_steps(fr_aws *a, const char *cluster_id, json_t *steps, fr_aws_cb cb, void *arg,
                                  fr_aws_op **out);
/* TerminateJobFlows: {}. */
int fr_aws_emr_terminate_job_flows(fr_aws *a, const char *const *cluster_ids, size_t n, fr_aws_cb cb, void *arg,
                                   fr_aws_op **out);

/* ---- CloudWatch (awsJson1_0) ---- */

/* AWS's rule for GetMetricData ids: ^[a-z][a-zA-Z0-9_]*$, at most 255. */
bool fr_aws_cw_id_valid(const char *id);
/* Writes a valid, unique-per-index id: "q<index>_<hint with every other
 * character replaced by '_'>" (hint may be NULL), truncated to fit n.
 * Returns FR_ELIMIT when n is too small for "q<index>". */
int fr_aws_cw_make_id(char *out, size_t n, const char *hint, size_t index);

typedef struct fr_aws_cw_opts {
    const char *scan_by;          /* "TimestampAscending" / "TimestampDescending"; NULL: AWS default */
    int64_t max_datapoints;       /* 0: not sent */
    const char *label_timezone;   /* LabelOptions.Timezone, e.g. "+0130"; NULL: not sent */
} fr_aws_cw_opts;

/* GetMetricData for any number of MetricDataQuery objects (borrowed JSON
 * array; every Id valid and unique): sent in batches of at most 500
 * queries, batches in parallel (bounded by the CloudWatch limiter), each
 * followed through its NextToken pages. cb gets {"MetricDataResults": [...],
 * "Messages": [...]} with one entry per returned Id, in the order of
 * queries, Timestamps and Values concatenated across pages, StatusCode of
 * the last page. More than 500 queries that use Expression is -EINVAL (an
 * expression may only see the ids of its own batch). */
int fr_aws_cw_get_metric_data(fr_aws *a, const json_t *queries, int64_t start_ms, int64_t end_ms,
                              const fr_aws_cw_opts *o, fr_aws_cb cb, void *arg, fr_aws_op **out);

typedef struct fr_aws_cw_stats_in {
    const char *ns;            /* "AWS/ElasticMapReduce" */
    const char *metric;
    const json_t *dimensions;  /* [{"Name","Value"}] (borrowed) or NULL */
    int64_t start_ms, end_ms;
    int period_s;
    const char *const *statistics; /* "Average", "Maximum", ...; may be NULL with extended */
    size_t nstatistics;
    const char *const *extended;   /* "p95", ... */
    size_t nextended;
    const char *unit;          /* NULL: not sent */
} fr_aws_cw_stats_in;

/* GetMetricStatistics: {"Label", "Datapoints": [...]}. */
int fr_aws_cw_get_metric_statistics(fr_aws *a, const fr_aws_cw_stats_in *in, fr_aws_cb cb, void *arg,
                                    fr_aws_op **out);

/* ---- SSM Parameter Store (awsJson1_1) ---- */

/* GetParameter: {"Parameter": {"Name","Value","Version","Type","DataType",...}};
 * a missing parameter is kind service, code "ParameterNotFound". */
int fr_aws_ssm_get_parameter(fr_aws *a, const char *name, bool with_decryption, fr_aws_cb cb, void *arg,
                             fr_aws_op **out);

typedef struct fr_aws_ssm_put_in {
    const char *name;
    const char *value;
    const char *type;        /* "String" (NULL), "StringList", "SecureString" */
    const char *tier;        /* "Standard", "Advanced", "Intelligent-Tiering"; NULL: not sent */
    const char *description; /* NULL: not sent */
    bool overwrite;
    bool once; /* never resend after a timeout, reset or 5xx (see fr_aws_call_opts) */
} fr_aws_ssm_put_in;

/* PutParameter: {"Version": n, "Tier": ...}. */
int fr_aws_ssm_put_parameter(fr_aws *a, const fr_aws_ssm_put_in *in, fr_aws_cb cb, void *arg, fr_aws_op **out);

/* ---- Lambda (restJson1) ---- */

typedef struct fr_aws_lambda_invoke_in {
    const char *function;        /* name, partial or full ARN */
    const void *payload;         /* bytes (JSON for most functions); may be NULL */
    size_t payload_len;
    const char *invocation_type; /* "RequestResponse" (NULL), "Event", "DryRun" */
    bool log_tail;               /* X-Amz-Log-Type: Tail (LogResult in the answer) */
    const char *qualifier;       /* version or alias; NULL: not sent */
    const char *client_context;  /* base64 ClientContext; NULL: not sent */
    bool once;                   /* never resend after a timeout, reset or 5xx (see fr_aws_call_opts) */
} fr_aws_lambda_invoke_in;

/* Invoke. res->json is {"StatusCode": 200|202|204, "ExecutedVersion",
 * "FunctionError", "LogResult", "Payload": <the payload parsed when it is
 * JSON>}; res->body/body_len are the payload bytes. A function error (the
 * X-Amz-Function-Error header) arrives as err FR_EAWS with kind function,
 * code "Unhandled"/"Handled", the message from errorType/errorMessage, and
 * the json and payload still set. */
int fr_aws_lambda_invoke(fr_aws *a, const fr_aws_lambda_invoke_in *in, fr_aws_cb cb, void *arg, fr_aws_op **out);

/* ---- EC2 (ec2 query, XML answers) ---- */

/* Appends {"Name": name, "Value": [values]} to req["Filter"] (EC2 wire form). */
int fr_aws_ec2_add_filter(json_t *req, const char *name, const char *const *values, size_t n);

/* A DescribeSpotPriceHistory request: InstanceType list, one product
 * description ("Linux/UNIX"), availability zone, time window; NULL/0 to
 * leave out. */
json_t *fr_aws_ec2_spot_price_request(const char *const *types, size_t ntypes, const char *product, const char *az,
                                      int64_t start_ms, int64_t end_ms);
/* DescribeSpotPriceHistory: {"spotPriceHistorySet": [{"instanceType",
 * "productDescription","spotPrice","timestamp","availabilityZone"}]}, paginated. */
int fr_aws_ec2_describe_spot_price_history(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done, void *arg,
                                           fr_aws_op **out);
/* DescribeInstances: {"reservationSet": [{"instancesSet": [...]}]}, paginated.
 * req e.g. {"InstanceId": [...], "Filter": [...], "DryRun": true}. */
int fr_aws_ec2_describe_instances(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done, void *arg,
                                  fr_aws_op **out);
/* DescribeInstanceTypes: {"instanceTypeSet": [...]}, paginated. */
int fr_aws_ec2_describe_instance_types(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done, void *arg,
                                       fr_aws_op **out);
/* DescribeSpotInstanceRequests: {"spotInstanceRequestSet": [...]}, paginated. */
int fr_aws_ec2_describe_spot_instance_requests(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done,
                                               void *arg, fr_aws_op **out);
/* DescribeAvailabilityZones: {"availabilityZoneInfo": [...]}. */
int fr_aws_ec2_describe_availability_zones(fr_aws *a, json_t *req, fr_aws_cb cb, void *arg, fr_aws_op **out);

typedef struct fr_aws_ec2_run_in {
    const char *image_id;
    const char *instance_type;
    int count;                 /* MinCount = MaxCount = count (>= 1) */
    bool spot;                 /* InstanceMarketOptions.MarketType = spot (one-time) */
    const char *max_price;     /* spot only; NULL: on-demand price cap */
    const char *subnet_id;
    const char *key_name;
    const char *const *security_group_ids;
    size_t nsecurity_groups;
    const char *iam_instance_profile_arn;
    const char *user_data_base64;
    const json_t *tags;        /* {"Key": "Value", ...} applied to instance and volumes (borrowed) */
    const char *client_token;  /* idempotency token; NULL: not sent */
    bool dry_run;
} fr_aws_ec2_run_in;

/* The RunInstances request for in (NULL on bad input). */
json_t *fr_aws_ec2_run_request(const fr_aws_ec2_run_in *in);
/* RunInstances with a request (stolen; see fr_aws_ec2_run_request):
 * {"reservationId", "instancesSet": [...]}. */
int fr_aws_ec2_run_instances(fr_aws *a, json_t *req, fr_aws_cb cb, void *arg, fr_aws_op **out);
/* TerminateInstances: {"instancesSet": [{"instanceId","currentState",...}]}. */
int fr_aws_ec2_terminate_instances(fr_aws *a, const char *const *ids, size_t n, bool dry_run, fr_aws_cb cb,
                                   void *arg, fr_aws_op **out);
/* CreateTags with tags {"Key": "Value", ...} (borrowed): {"return": "true"}. */
int fr_aws_ec2_create_tags(fr_aws *a, const char *const *resources, size_t n, const json_t *tags, bool dry_run,
                           fr_aws_cb cb, void *arg, fr_aws_op **out);
/* true when a DryRun call answered DryRunOperation ("would have succeeded"). */
bool fr_aws_dry_run_ok(const fr_aws_result *res);

/* ---- SQS (awsJson1_0, query-compatible) ---- */

/* ReceiveMessage (long poll when wait_s > 0; the HTTP timeout is set to
 * outlast it). visibility_s < 0: not sent. All attributes are requested.
 * {"Messages": [...]} (no "Messages" key when the queue was empty). */
int fr_aws_sqs_receive_message(fr_aws *a, const char *queue_url, int max_messages, int wait_s, int visibility_s,
                               fr_aws_cb cb, void *arg, fr_aws_op **out);
/* DeleteMessage: {}. */
int fr_aws_sqs_delete_message(fr_aws *a, const char *queue_url, const char *receipt_handle, fr_aws_cb cb, void *arg,
                              fr_aws_op **out);
/* GetQueueUrl: {"QueueUrl"}; owner_account may be NULL. */
int fr_aws_sqs_get_queue_url(fr_aws *a, const char *name, const char *owner_account, fr_aws_cb cb, void *arg,
                             fr_aws_op **out);

/* ---- STS (query, XML answers) ---- */

/* GetCallerIdentity: {"UserId", "Account", "Arn"}. */
int fr_aws_sts_get_caller_identity(fr_aws *a, fr_aws_cb cb, void *arg, fr_aws_op **out);
/* AssumeRoleWithWebIdentity (unsigned): {"Credentials": {"AccessKeyId",
 * "SecretAccessKey","SessionToken","Expiration"}, "AssumedRoleUser", ...}.
 * duration_s 0: not sent. */
int fr_aws_sts_assume_role_with_web_identity(fr_aws *a, const char *role_arn, const char *session_name,
                                             const char *token, int duration_s, fr_aws_cb cb, void *arg,
                                             fr_aws_op **out);

/* ---- Pricing (awsJson1_1) ---- */

/* GetProducts of service_code ("AmazonEC2") with filters (stolen, may be
 * NULL): [{"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m5.large"}].
 * Paginated; every PriceList entry (a JSON document inside a string on the
 * wire) is parsed into an object, in pages and in done's {"PriceList": [...]};
 * an entry that is not JSON fails the call with a parse error. */
int fr_aws_pricing_get_products(fr_aws *a, const char *service_code, json_t *filters, fr_aws_page_cb page,
                                fr_aws_cb done, void *arg, fr_aws_op **out);

#endif
