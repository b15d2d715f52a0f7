/* Typed helpers over fr_aws_call / fr_aws_paginate: they build the
 * request each operation expects and nothing more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "internal.h"

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (v[i])
            json_array_append_new(a, json_string(v[i]));
    return a;
}

/* EMR's JSON timestamps are epoch seconds. */
static json_t *epoch(int64_t ms)
{
    return ms % 1000 == 0 ? json_integer(ms / 1000) : json_real((double)ms / 1000.0);
}

static json_t *with_id(const char *cluster_id)
{
    return cluster_id && *cluster_id ? json_pack("{s:s}", "ClusterId", cluster_id) : NULL;
}

/* ---- EMR ---- */

int fr_aws_emr_list_clusters(fr_aws *a, const fr_aws_emr_list_clusters_in *in, fr_aws_page_cb page, fr_aws_cb done,
                             void *arg, fr_aws_op **out)
{
    json_t *req = json_object();
    if (in && in->nstates)
        json_object_set_new(req, "ClusterStates", str_array(in->states, in->nstates));
    if (in && in->created_after_ms)
        json_object_set_new(req, "CreatedAfter", epoch(in->created_after_ms));
    if (in && in->created_before_ms)
        json_object_set_new(req, "CreatedBefore", epoch(in->created_before_ms));
    return fr_aws_paginate(a, FR_SVC_EMR, "ListClusters", req, NULL, page, done, arg, out);
}

int fr_aws_emr_describe_cluster(fr_aws *a, const char *cluster_id, fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    json_t *req = with_id(cluster_id);
    if (!req)
        return -EINVAL;
    return fr_aws_call(a, FR_SVC_EMR, "DescribeCluster", req, NULL, cb, arg, out);
}

int fr_aws_emr_list_instance_fleets(fr_aws *a, const char *cluster_id, fr_aws_page_cb page, fr_aws_cb done,
                                    void *arg, fr_aws_op **out)
{
    json_t *req = with_id(cluster_id);
    if (!req)
        return -EINVAL;
    return fr_aws_paginate(a, FR_SVC_EMR, "ListInstanceFleets", req, NULL, page, done, arg, out);
}

int fr_aws_emr_list_instance_groups(fr_aws *a, const char *cluster_id, fr_aws_page_cb page, fr_aws_cb done,
                                    void *arg, fr_aws_op **out)
{
    json_t *req = with_id(cluster_id);
    if (!req)
        return -EINVAL;
    return fr_aws_paginate(a, FR_SVC_EMR, "ListInstanceGroups", req, NULL, page, done, arg, out);
}

int fr_aws_emr_list_instances(fr_aws *a, const char *cluster_id, const char *fleet_type,
                              const char *const *group_types, size_t ngroup_types, const char *const *states,
                              size_t nstates, fr_aws_page_cb page, fr_aws_cb done, void *arg, fr_aws_op **out)
{
    json_t *req = with_id(cluster_id);
    if (!req)
        return -EINVAL;
    if (fleet_type)
        json_object_set_new(req, "InstanceFleetType", json_string(fleet_type));
    if (ngroup_types)
        json_object_set_new(req, "InstanceGroupTypes", str_array(group_types, ngroup_types));
    if (nstates)
        json_object_set_new(req, "InstanceStates", str_array(states, nstates));
    return fr_aws_paginate(a, FR_SVC_EMR, "ListInstances", req, NULL, page, done, arg, out);
}

int fr_aws_emr_list_steps(fr_aws *a, const char *cluster_id, const char *const *states, size_t nstates,
                          fr_aws_page_cb page, fr_aws_cb done, void *arg, fr_aws_op **out)
{
    json_t *req = with_id(cluster_id);
    if (!req)
        return -EINVAL;
    if (nstates)
        json_object_set_new(req, "StepStates", str_array(states, nstates));
    return fr_aws_paginate(a, FR_SVC_EMR, "ListSteps", req, NULL, page, done, arg, out);
}

int fr_aws_emr_add_job_flow_steps(fr_aws *a, const char *cluster_id, json_t *steps, fr_aws_cb cb, void *arg,
                                  fr_aws_op **out)
{
    if (!cluster_id || !*cluster_id || !json_is_array(steps) || json_array_size(steps) == 0) {
        json_decref(steps);
        return -EINVAL;
    }
    json_t *req = json_pack("{s:s, s:o}", "JobFlowId", cluster_id, "Steps", steps);
    return fr_aws_call(a, FR_SVC_EMR, "AddJobFlowSteps", req, NULL, cb, arg, out);
}

int fr_aws_emr_terminate_job_flows(fr_aws *a, const char *const *cluster_ids, size_t n, fr_aws_cb cb, void *arg,
                                   fr_aws_op **out)
{
    if (!cluster_ids || n == 0)
        return -EINVAL;
    json_t *req = json_pack("{s:o}", "JobFlowIds", str_array(cluster_ids, n));
    return fr_aws_call(a, FR_SVC_EMR, "TerminateJobFlows", req, NULL, cb, arg, out);
}

/* ---- SSM ---- */

int fr_aws_ssm_get_parameter(fr_aws *a, const char *name, bool with_decryption, fr_aws_cb cb, void *arg,
                             fr_aws_op **out)
{
    if (!name || !*name)
        return -EINVAL;
    json_t *req = json_pack("{s:s}", "Name", name);
    if (with_decryption)
        json_object_set_new(req, "WithDecryption", json_true());
    return fr_aws_call(a, FR_SVC_SSM, "GetParameter", req, NULL, cb, arg, out);
}

int fr_aws_ssm_put_parameter(fr_aws *a, const fr_aws_ssm_put_in *in, fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    if (!in || !in->name || !*in->name || !in->value)
        return -EINVAL;
    json_t *req = json_pack("{s:s, s:s}", "Name", in->name, "Value", in->value);
    if (in->description)
        json_object_set_new(req, "Description", json_string(in->description));
    json_object_set_new(req, "Type", json_string(in->type ? in->type : "String"));
    if (in->overwrite)
        json_object_set_new(req, "Overwrite", json_true());
    if (in->tier)
        json_object_set_new(req, "Tier", json_string(in->tier));
    fr_aws_call_opts o = {.once = in->once};
    return fr_aws_call(a, FR_SVC_SSM, "PutParameter", req, &o, cb, arg, out);
}

/* ---- Lambda ---- */

int fr_aws_lambda_invoke(fr_aws *a, const fr_aws_lambda_invoke_in *in, fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    if (!in || !in->function || !*in->function || (in->payload_len && !in->payload))
        return -EINVAL;
    json_t *req = json_pack("{s:s}", "FunctionName", in->function);
    if (in->payload) {
        json_t *pl = json_stringn_nocheck(in->payload, in->payload_len);
        if (!pl) {
            json_decref(req);
            return -ENOMEM;
        }
        json_object_set_new(req, "Payload", pl);
    }
    json_object_set_new(req, "InvocationType",
                        json_string(in->invocation_type ? in->invocation_type : "RequestResponse"));
    if (in->log_tail)
        json_object_set_new(req, "LogType", json_string("Tail"));
    if (in->qualifier)
        json_object_set_new(req, "Qualifier", json_string(in->qualifier));
    if (in->client_context)
        json_object_set_new(req, "ClientContext", json_string(in->client_context));
    fr_aws_call_opts o = {.once = in->once};
    return fr_aws_call(a, FR_SVC_LAMBDA, "Invoke", req, &o, cb, arg, out);
}

/* ---- EC2 ---- */

int fr_aws_ec2_add_filter(json_t *req, const char *name, const char *const *values, size_t n)
{
    if (!json_is_object(req) || !name || !values || n == 0)
        return -EINVAL;
    json_t *f = json_object_get(req, "Filter");
    if (!f) {
        f = json_array();
        json_object_set_new(req, "Filter", f);
    }
    if (!json_is_array(f))
        return -EINVAL;
    return json_array_append_new(f, json_pack("{s:s, s:o}", "Name", name, "Value", str_array(values, n))) ? -ENOMEM
                                                                                                          : 0;
}

static json_t *iso(int64_t ms)
{
    char b[40];
    fr_time_iso8601(b, sizeof(b), ms, 0);
    return json_string(b);
}

json_t *fr_aws_ec2_spot_price_request(const char *const *types, size_t ntypes, const char *product, const char *az,
                                      int64_t start_ms, int64_t end_ms)
{
    json_t *req = json_object();
    if (ntypes)
        json_object_set_new(req, "InstanceType", str_array(types, ntypes));
    if (product)
        json_object_set_new(req, "ProductDescription", json_pack("[s]", product));
    if (az)
        json_object_set_new(req, "AvailabilityZone", json_string(az));
    if (start_ms)
        json_object_set_new(req, "StartTime", iso(start_ms));
    if (end_ms)
        json_object_set_new(req, "EndTime", iso(end_ms));
    return req;
}

int fr_aws_ec2_describe_spot_price_history(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done, void *arg,
                                           fr_aws_op **out)
{
    return fr_aws_paginate(a, FR_SVC_EC2, "DescribeSpotPriceHistory", req, NULL, page, done, arg, out);
}

int fr_aws_ec2_describe_instances(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done, void *arg,
                                  fr_aws_op **out)
{
    return fr_aws_paginate(a, FR_SVC_EC2, "DescribeInstances", req, NULL, page, done, arg, out);
}

int fr_aws_ec2_describe_instance_types(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done, void *arg,
                                       fr_aws_op **out)
{
    return fr_aws_paginate(a, FR_SVC_EC2, "DescribeInstanceTypes", req, NULL, page, done, arg, out);
}

int fr_aws_ec2_describe_spot_instance_requests(fr_aws *a, json_t *req, fr_aws_page_cb page, fr_aws_cb done,
                                               void *arg, fr_aws_op **out)
{
    return fr_aws_paginate(a, FR_SVC_EC2, "DescribeSpotInstanceRequests", req, NULL, page, done, arg, out);
}

int fr_aws_ec2_describe_availability_zones(fr_aws *a, json_t *req, fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    return fr_aws_call(a, FR_SVC_EC2, "DescribeAvailabilityZones", req, NULL, cb, arg, out);
}

static json_t *tag_list(const json_t *tags)
{
    json_t *l = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tags, k, v)
    {
        if (json_is_string(v))
            json_array_append_new(l, json_pack("{s:s, s:O}", "Key", k, "Value", v));
    }
    return l;
}

json_t *fr_aws_ec2_run_request(const fr_aws_ec2_run_in *in)
{
    if (!in || !in->image_id || !in->instance_type || in->count < 1 || (in->tags && !json_is_object(in->tags)))
        return NULL;
    json_t *req = json_pack("{s:s, s:s, s:i, s:i}", "ImageId", in->image_id, "InstanceType", in->instance_type,
                            "MinCount", in->count, "MaxCount", in->count);
    if (in->key_name)
        json_object_set_new(req, "KeyName", json_string(in->key_name));
    if (in->nsecurity_groups)
        json_object_set_new(req, "SecurityGroupId", str_array(in->security_group_ids, in->nsecurity_groups));
    if (in->user_data_base64)
        json_object_set_new(req, "UserData", json_string(in->user_data_base64));
    if (in->subnet_id)
        json_object_set_new(req, "SubnetId", json_string(in->subnet_id));
    if (in->iam_instance_profile_arn)
        json_object_set_new(req, "IamInstanceProfile", json_pack("{s:s}", "Arn", in->iam_instance_profile_arn));
    if (in->spot) {
        json_t *so = json_pack("{s:s}", "SpotInstanceType", "one-time");
        if (in->max_price)
            json_object_set_new(so, "MaxPrice", json_string(in->max_price));
        json_object_set_new(req, "InstanceMarketOptions", json_pack("{s:s, s:o}", "MarketType", "spot", "SpotOptions", so));
    }
    if (in->tags && json_object_size(in->tags)) {
        json_t *specs = json_array();
        static const char *const kinds[] = {"instance", "volume"};
        for (size_t i = 0; i < FR_ARRAY_SIZE(kinds); i++)
            json_array_append_new(specs, json_pack("{s:s, s:o}", "ResourceType", kinds[i], "Tag", tag_list(in->tags)));
        json_object_set_new(req, "TagSpecification", specs);
    }
    if (in->client_token)
        json_object_set_new(req, "ClientToken", json_string(in->client_token));
    if (in->dry_run)
        json_object_set_new(req, "DryRun", json_true());
    return req;
}

int fr_aws_ec2_run_instances(fr_aws *a, json_t *req, fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    if (!req)
        return -EINVAL;
    return fr_aws_call(a, FR_SVC_EC2, "RunInstances", req, NULL, cb, arg, out);
}

int fr_aws_ec2_terminate_instances(fr_aws *a, const char *const *ids, size_t n, bool dry_run, fr_aws_cb cb,
                                   void *arg, fr_aws_op **out)
{
    if (!ids || n == 0)
        return -EINVAL;
    json_t *req = json_pack("{s:o}", "InstanceId", str_array(ids, n));
    if (dry_run)
        json_object_set_new(req, "DryRun", json_true());
    return fr_aws_call(a, FR_SVC_EC2, "TerminateInstances", req, NULL, cb, arg, out);
}

int fr_aws_ec2_create_tags(fr_aws *a, const char *const *resources, size_t n, const json_t *tags, bool dry_run,
                           fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    if (!resources || n == 0 || !json_is_object(tags) || json_object_size(tags) == 0)
        return -EINVAL;
    json_t *req = json_pack("{s:o, s:o}", "ResourceId", str_array(resources, n), "Tag", tag_list(tags));
    if (dry_run)
        json_object_set_new(req, "DryRun", json_true());
    return fr_aws_call(a, FR_SVC_EC2, "CreateTags", req, NULL, cb, arg, out);
}

bool fr_aws_dry_run_ok(const fr_aws_result *res)
{
    return res->error && strcmp(res->error->code, "DryRunOperation") == 0;
}

/* ---- SQS ---- */

int fr_aws_sqs_receive_message(fr_aws *a, const char *queue_url, int max_messages, int wait_s, int visibility_s,
                               fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    if (!queue_url || !*queue_url || max_messages < 1 || max_messages > 10 || wait_s < 0 || wait_s > 20)
        return -EINVAL;
    json_t *req = json_pack("{s:s, s:i, s:i, s:[s], s:[s]}", "QueueUrl", queue_url, "MaxNumberOfMessages",
                            max_messages, "WaitTimeSeconds", wait_s, "AttributeNames", "All", "MessageAttributeNames",
                            "All");
    if (visibility_s >= 0)
        json_object_set_new(req, "VisibilityTimeout", json_integer(visibility_s));
    /* the answer may take the whole poll: the HTTP timeout must outlast it */
    fr_aws_call_opts o;
    memset(&o, 0, sizeof(o));
    uint64_t need = (uint64_t)wait_s * 1000 + 10000;
    o.timeout_ms = FR_MAX(need, a ? a->timeout_ms : 0);
    return fr_aws_call(a, FR_SVC_SQS, "ReceiveMessage", req, &o, cb, arg, out);
}

int fr_aws_sqs_delete_message(fr_aws *a, const char *queue_url, const char *receipt_handle, fr_aws_cb cb, void *arg,
                              fr_aws_op **out)
{
    if (!queue_url || !*queue_url || !receipt_handle || !*receipt_handle)
        return -EINVAL;
    json_t *req = json_pack("{s:s, s:s}", "QueueUrl", queue_url, "ReceiptHandle", receipt_handle);
    return fr_aws_call(a, FR_SVC_SQS, "DeleteMessage", req, NULL, cb, arg, out);
}

int fr_aws_sqs_get_queue_url(fr_aws *a, const char *name, const char *owner_account, fr_aws_cb cb, void *arg,
                             fr_aws_op **out)
{
    if (!name || !*name)
        return -EINVAL;
    json_t *req = json_pack("{s:s}", "QueueName", name);
    if (owner_account)
        json_object_set_new(req, "QueueOwnerAWSAccountId", json_string(owner_account));
    return fr_aws_call(a, FR_SVC_SQS, "GetQueueUrl", req, NULL, cb, arg, out);
}

/* ---- STS ---- */

int fr_aws_sts_get_caller_identity(fr_aws *a, fr_aws_cb cb, void *arg, fr_aws_op **out)
{
    return fr_aws_call(a, FR_SVC_STS, "GetCallerIdentity", NULL, NULL, cb, arg, out);
}

int fr_aws_sts_assume_role_with_web_identity(fr_aws *a, const char *role_arn, const char *session_name,
                                             const char *token, int duration_s, fr_aws_cb cb, void *arg,
                                             fr_aws_op **out)
{
    if (!role_arn || !session_name || !token || !*token)
        return -EINVAL;
    json_t *req = json_pack("{s:s, s:s, s:s}", "RoleArn", role_arn, "RoleSessionName", session_name,
                            "WebIdentityToken", token);
    if (duration_s > 0)
        json_object_set_new(req, "DurationSeconds", json_integer(duration_s));
    fr_aws_call_opts o;
    memset(&o, 0, sizeof(o));
    o.unsigned_request = true;
    return fr_aws_call(a, FR_SVC_STS, "AssumeRoleWithWebIdentity", req, &o, cb, arg, out);
}

/* ---- Pricing ---- */

/* Each PriceList entry is a JSON document in a string: parse it in place. */
static int parse_price_list(json_t *page, fr_aws_error *e)
{
    json_t *pl = json_object_get(page, "PriceList");
    if (!pl)
        return 0;
    if (!json_is_array(pl)) {
        fr_aws_error_set(e, FR_AWS_ERR_PARSE, FR_EPARSE, "MalformedResponse", "PriceList is not a list");
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(pl, i, v)
    {
        if (json_is_object(v))
            continue;
        json_error_t je;
        json_t *doc = json_is_string(v) ? json_loadb(json_string_value(v), json_string_length(v), 0, &je) : NULL;
        if (!json_is_object(doc)) {
            json_decref(doc);
            fr_aws_error_set(e, FR_AWS_ERR_PARSE, FR_EPARSE, "MalformedResponse",
                             "PriceList entry %zu is not a JSON object", i);
            return -1;
        }
        json_array_set_new(pl, i, doc);
    }
    return 0;
}

int fr_aws_pricing_get_products(fr_aws *a, const char *service_code, json_t *filters, fr_aws_page_cb page,
                                fr_aws_cb done, void *arg, fr_aws_op **out)
{
    if (!service_code || !*service_code || (filters && !json_is_array(filters))) {
        json_decref(filters);
        return -EINVAL;
    }
    json_t *req = json_pack("{s:s, s:s}", "ServiceCode", service_code, "FormatVersion", "aws_v1");
    if (filters)
        json_object_set_new(req, "Filters", filters);
    return fr_aws__paginate_ex(a, FR_SVC_PRICING, "GetProducts", req, NULL, page, done, arg, true, parse_price_list,
                               out);
}
