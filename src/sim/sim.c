#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emr_api.h"
#include "emrconf.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/str.h"
#include "pricing.h"
#include "route.h"
#include "sim.h"
#include "sts.h"
#include "world.h"

void fr_sim_opts_default(fr_sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    fr_strlcpy(o->listen, "127.0.0.1:0", sizeof(o->listen));
    o->seed = 42;
    o->clusters = 12;
    o->ec2_instances = 8;
    o->clock_speed = 1.0;
    fr_strlcpy(o->access_key, FR_SIM_DEFAULT_ACCESS_KEY, sizeof(o->access_key));
    fr_strlcpy(o->secret_key, FR_SIM_DEFAULT_SECRET_KEY, sizeof(o->secret_key));
    fr_strlcpy(o->region, "us-east-1", sizeof(o->region));
}

int64_t fr_sim_now(const fr_sim *s, uint64_t mono_ms)
{
    return fr_sim_clock_now(&s->clock, mono_ms);
}

/* ---- glue between services ---- */

/* CloudWatch asks for an instance's series: EMR nodes, then EC2. */
static int series_lookup(void *arg, const char *id, int64_t now, fr_sim_series *out)
{
    fr_sim *s = arg;
    fr_sim_inst *mi = fr_sim_emr_find_instance(&s->emr, id);
    if (mi) {
        fr_sim_emr_advance(&s->emr, mi->cluster, now);
        out->prof = &mi->cluster->prof[mi->role];
        out->group_seed = fr_sim_hash3(mi->cluster->seed, (uint64_t)mi->role, 0x9e);
        out->inst_seed = mi->seed;
        fr_sim_inst_life(mi, &out->launch_ms, &out->end_ms);
        return 0;
    }
    fr_sim_ec2_inst *ei = fr_sim_ec2_find(&s->ec2, id);
    if (ei) {
        out->prof = &ei->prof;
        out->group_seed = ei->seed;
        out->inst_seed = ei->seed;
        out->launch_ms = ei->launch_ms;
        out->end_ms = ei->terminate_ms ? ei->terminate_ms : -1;
        return 0;
    }
    return FR_ENOTFOUND;
}

/* ListMetrics asks which instances lived in a window: EMR nodes in cluster
 * order, then EC2 instances. */
static void instances_alive(void *arg, int64_t from, int64_t now, json_t *ids)
{
    fr_sim *s = arg;
    for (size_t k = 0; k < s->emr.n; k++) {
        fr_sim_cluster *c = s->emr.clusters[k];
        if (c->created_ms > now)
            continue;
        fr_sim_emr_advance(&s->emr, c, now);
        for (size_t i = 0; i < c->ninsts; i++) {
            int64_t l, e;
            fr_sim_inst_life(&c->insts[i], &l, &e);
            if (l >= 0 && l <= now && (e < 0 || e >= from))
                json_array_append_new(ids, json_string(c->insts[i].ec2_id));
        }
    }
    for (size_t k = 0; k < s->ec2.n; k++) {
        fr_sim_ec2_inst *i = s->ec2.insts[k];
        if (i->launch_ms <= now && (!i->terminate_ms || i->terminate_ms >= from))
            json_array_append_new(ids, json_string(i->id));
    }
}

/* EC2 events go to the interruption queue, as an EventBridge rule would. */
static void on_event(void *arg, json_t *ev)
{
    fr_sim *s = arg;
    fr_sim_queue *q = fr_sim_sqs_find(&s->sqs, FR_SIM_SQS_DEFAULT_QUEUE);
    if (q) {
        char *body = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (body) {
            fr_sim_sqs_send(&s->sqs, q, body, NULL, s->real_ms, NULL);
            free(body);
        }
    }
    s->events_sent++;
    fr_log_info("sim.event", "{s:s, s:s}", "detail_type", fr_sim_jstr(ev, "detail-type"), "instance",
                fr_sim_jstr(json_object_get(ev, "detail"), "instance-id"));
    json_decref(ev);
}

/* ---- the world ---- */

static int apply_parameters(fr_sim *s, char *err, size_t errlen)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(s->world, "parameters"), i, p)
    {
        const char *name = fr_sim_jstr(p, "name");
        json_t *hist = json_object_get(p, "history");
        size_t nh = json_array_size(hist);
        char code[64], msg[512];
        int64_t v;
        /* older versions first, days ago; the current value a day ago */
        for (size_t k = 0; k < nh; k++) {
            const char *hv = json_string_value(json_array_get(hist, k));
            if (hv && fr_sim_ssm_put(&s->ssm, name, hv, "String", NULL, true, NULL, "arn:aws:iam::123456789012:user/deployer",
                                     s->t0_ms - (int64_t)(nh - k + 1) * 86400000, &v, code, sizeof(code), msg,
                                     sizeof(msg)) != 0) {
                snprintf(err, errlen, "parameter %s history: %s", name, msg);
                return FR_EPARSE;
            }
        }
        const char *tier = fr_sim_jstr(p, "tier");
        const char *type = fr_sim_jstr(p, "type");
        if (fr_sim_ssm_put(&s->ssm, name, fr_sim_jstr(p, "value"), type ? type : "String", tier, true, NULL,
                           "arn:aws:iam::123456789012:user/deployer", s->t0_ms - 86400000, &v, code, sizeof(code),
                           msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "parameter %s: %s", name ? name : "?", msg);
            return FR_EPARSE;
        }
    }
    return 0;
}

static int apply_cluster(fr_sim *s, json_t *wc, char *err, size_t errlen)
{
    const char *cfg = fr_sim_jstr(wc, "config");
    json_t *req;
    char etype[64], emsg[512];
    if (fr_sim_emrconf_to_request(cfg, strlen(cfg), &req, etype, sizeof(etype), emsg, sizeof(emsg)) != 0) {
        snprintf(err, errlen, "cluster %s: config: %s: %s", fr_sim_jstr(wc, "id"), etype, emsg);
        return FR_EPARSE;
    }
    fr_sim_profile prof[FR_SIM_NROLES];
    fr_sim_emr_plan plan = {.id = fr_sim_jstr(wc, "id"), .source = "world"};
    int64_t v;
    if (fr_sim_jint(wc, "provision_s", &v) == 0)
        plan.provision_s = v;
    if (fr_sim_jint(wc, "bootstrap_s", &v) == 0)
        plan.bootstrap_s = v;
    json_t *failure = json_object_get(wc, "failure");
    if (json_is_object(failure)) {
        plan.fail_code = fr_sim_jstr(failure, "code");
        plan.fail_msg = fr_sim_jstr(failure, "message");
    }
    json_t *profs = json_object_get(wc, "profiles");
    for (int r = 0; r < FR_SIM_NROLES; r++) {
        json_t *pj = json_object_get(profs, fr_sim_role_name(r));
        if (pj && fr_sim_profile_from_json(pj, &prof[r]) == 0)
            plan.prof[r] = &prof[r];
    }
    int64_t off = -3600;
    fr_sim_jint(wc, "start_offset_s", &off);
    int64_t created = s->t0_ms + off * 1000;
    fr_sim_cluster *c;
    int rc = fr_sim_emr_create(&s->emr, req, &plan, created, &c, emsg, sizeof(emsg));
    json_decref(req);
    if (rc) {
        snprintf(err, errlen, "cluster %s: %s", fr_sim_jstr(wc, "id"), emsg);
        return rc;
    }
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(wc, "steps"), i, st)
    {
        json_t *args = json_object_get(st, "args");
        const char *mc = fr_sim_jstr(st, "main_class");
        json_t *hadoop = json_pack("{s:s, s:O}", "Jar", fr_sim_jstr(st, "jar") ? fr_sim_jstr(st, "jar") : "command-runner.jar",
                                   "Args", args ? args : json_array());
        if (mc)
            json_object_set_new(hadoop, "MainClass", json_string(mc));
        const char *aof = fr_sim_jstr(st, "action_on_failure");
        json_t *cfgj = json_pack("{s:s, s:s, s:o}", "Name", fr_sim_jstr(st, "name") ? fr_sim_jstr(st, "name") : "step",
                                 "ActionOnFailure", aof ? aof : "CONTINUE", "HadoopJarStep", hadoop);
        fr_sim_work w = {3600, 0, 0, 60};
        fr_sim_jnum(st, "work_vcpu_s", &w.vcpu_s);
        if (fr_sim_jint(st, "parallelism", &v) == 0)
            w.parallelism = (int)v;
        fr_sim_jnum(st, "mem_gib", &w.mem_gib);
        fr_sim_jnum(st, "overhead_s", &w.overhead_s);
        bool fail = false;
        fr_sim_jbool(st, "fail", &fail);
        fr_sim_emr_register_work(&s->emr, json_object_get(cfgj, "HadoopJarStep"), &w);
        rc = fr_sim_emr_add_step_planned(&s->emr, c, cfgj, &w, fail, created);
        json_decref(cfgj);
        if (rc) {
            snprintf(err, errlen, "cluster %s: step %zu is invalid", c->id, i);
            return rc;
        }
    }
    return 0;
}

static int apply_world(fr_sim *s, char *err, size_t errlen)
{
    int rc = apply_parameters(s, err, errlen);
    if (rc)
        return rc;
    size_t i;
    json_t *wc;
    json_array_foreach(json_object_get(s->world, "clusters"), i, wc)
    {
        if ((rc = apply_cluster(s, wc, err, errlen)) != 0)
            return rc;
    }
    json_array_foreach(json_object_get(s->world, "ec2_instances"), i, wc)
    {
        if ((rc = fr_sim_ec2_add_world(&s->ec2, wc, s->t0_ms, err, errlen)) != 0)
            return rc;
    }
    return 0;
}

static void services_init(fr_sim *s, int64_t real_ms)
{
    const char *region = s->o.region;
    uint64_t seed = s->o.seed;
    fr_sim_emr_init(&s->emr, &s->cat, seed, region, FR_SIM_ACCOUNT, s->t0_ms);
    fr_sim_ssm_init(&s->ssm, region, FR_SIM_ACCOUNT);
    fr_sim_lambda_init(&s->lambda, &s->ssm, &s->emr, region, FR_SIM_ACCOUNT, seed);
    s->lambda.delay_s = s->o.lambda_delay_s;
    fr_sim_cw_init(&s->cw, series_lookup, s, &s->traces, s->t0_ms);
    s->cw.instances = instances_alive;
    fr_sim_ec2_init(&s->ec2, &s->cat, &s->spot, &s->emr, region, FR_SIM_ACCOUNT, seed, on_event, s);
    fr_sim_sqs_init(&s->sqs, region, FR_SIM_ACCOUNT, s->endpoint, seed);
    fr_sim_sqs_create(&s->sqs, FR_SIM_SQS_DEFAULT_QUEUE, real_ms);
    fr_sim_imds_init(&s->imds, &s->auth, &s->ec2, region, FR_SIM_ACCOUNT, seed);
    if (s->o.imds_instance)
        fr_strlcpy(s->imds.instance_id, s->o.imds_instance, sizeof(s->imds.instance_id));
}

static void services_free(fr_sim *s)
{
    fr_sim_lambda_free(&s->lambda);
    fr_sim_cw_free(&s->cw);
    fr_sim_ec2_free(&s->ec2);
    fr_sim_sqs_free(&s->sqs);
    fr_sim_imds_free(&s->imds);
    fr_sim_emr_free(&s->emr);
    fr_sim_ssm_free(&s->ssm);
}

static int make_world(fr_sim *s, char *err, size_t errlen)
{
    fr_sim_world_opts wo = {s->o.seed, s->o.clusters, s->o.ec2_instances, s->o.region, &s->cat, &s->traces};
    if (s->o.world_file) {
        char *text;
        size_t len;
        int rc = fr_sim_read_file(s->o.world_file, &text, &len);
        if (rc) {
            snprintf(err, errlen, "cannot read world %s: %s", s->o.world_file, fr_strerror(rc));
            return rc;
        }
        json_error_t je;
        s->world = json_loadb(text, len, 0, &je);
        free(text);
        if (!s->world) {
            snprintf(err, errlen, "world %s: line %d: %s", s->o.world_file, je.line, je.text);
            return FR_EPARSE;
        }
        char why[300] = "";
        rc = fr_sim_world_normalize(s->world, &wo, why, sizeof(why));
        if (rc)
            snprintf(err, errlen, "world %s: %s", s->o.world_file, why);
        return rc;
    }
    return fr_sim_world_generate(&wo, &s->world);
}

static int apply_faults_opt(fr_sim *s, int64_t real_ms, char *err, size_t errlen)
{
    if (!s->o.faults)
        return 0;
    json_t *j;
    json_error_t je;
    if (s->o.faults[0] == '@') {
        char *text;
        size_t len;
        if (fr_sim_read_file(s->o.faults + 1, &text, &len) != 0) {
            snprintf(err, errlen, "cannot read faults file %s", s->o.faults + 1);
            return FR_ECONFIG;
        }
        j = json_loadb(text, len, 0, &je);
        free(text);
    } else {
        j = json_loads(s->o.faults, 0, &je);
    }
    if (!j) {
        snprintf(err, errlen, "--faults: %s", je.text);
        return FR_ECONFIG;
    }
    int rc = 0;
    if (json_is_array(j)) {
        size_t i;
        json_t *r;
        json_array_foreach(j, i, r) if (!rc) rc = fr_sim_faults_put(&s->faults, r, real_ms, err, errlen);
    } else {
        rc = fr_sim_faults_put(&s->faults, j, real_ms, err, errlen);
    }
    json_decref(j);
    return rc;
}

int fr_sim_new(fr_sim **out, const fr_sim_opts *o, const char *endpoint, uint64_t mono_ms, int64_t real_ms,
               char *err, size_t errlen)
{
    *out = NULL;
    fr_sim *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->o = *o;
    s->real_ms = real_ms;
    fr_strlcpy(s->endpoint, endpoint, sizeof(s->endpoint));
    int64_t start = o->start_ms ? o->start_ms : real_ms;
    fr_sim_clock_init(&s->clock, start, mono_ms, o->clock_speed);
    s->t0_ms = start - ((start % 60000) + 60000) % 60000;
    int rc;
    if (o->catalog_file) {
        char *text;
        size_t len;
        int bad_line = 0;
        if ((rc = fr_sim_read_file(o->catalog_file, &text, &len)) == 0) {
            rc = fr_sim_catalog_parse_csv(&s->cat, text, len, &bad_line);
            free(text);
        }
        if (rc && bad_line) {
            snprintf(err, errlen, "catalog %s:%d: want 9 fields (type, family, vcpu >= 1, GiB > 0, arch, price, emr, "
                     "saving %%, bucket)", o->catalog_file, bad_line);
            free(s);
            return rc;
        } else if (rc) {
            snprintf(err, errlen, "catalog %s: %s", o->catalog_file, rc == FR_EPARSE ? "no instance types" : fr_strerror(rc));
            free(s);
            return rc;
        }
    } else if ((rc = fr_sim_catalog_builtin(&s->cat)) != 0) {
        free(s);
        return rc;
    }
    fr_sim_auth_init(&s->auth, o->seed);
    fr_sim_auth_add(&s->auth, o->access_key, o->secret_key, NULL, 0, NULL);
    fr_sim_faults_init(&s->faults, o->seed);
    fr_sim_faults_set_aws_limits(&s->faults, o->aws_limits, real_ms);
    fr_sim_chat_init(&s->chat, o->seed);
    fr_sim_spot_init(&s->spot, &s->cat, o->seed, o->region);
    if (o->traces_dir && (rc = fr_sim_traces_load_dir(&s->traces, o->traces_dir, err, errlen)) != 0) {
        fr_sim_free(s);
        return rc;
    }
    if (o->prices_file) {
        if ((rc = fr_sim_read_file(o->prices_file, &s->prices_text, &s->prices_len)) != 0) {
            snprintf(err, errlen, "cannot read prices %s: %s", o->prices_file, fr_strerror(rc));
            fr_sim_free(s);
            return rc;
        }
        char why[300] = "";
        if ((rc = fr_sim_spot_load(&s->spot, o->prices_file, s->prices_text, s->prices_len, s->t0_ms, why,
                                   sizeof(why))) != 0) {
            snprintf(err, errlen, "prices %s: %s", o->prices_file, why);
            fr_sim_free(s);
            return rc;
        }
    }
    if (o->chat_script) {
        char *text;
        size_t len;
        json_t *j = NULL;
        json_error_t je;
        int rrc = fr_sim_read_file(o->chat_script, &text, &len);
        if (rrc == 0) {
            j = json_loadb(text, len, 0, &je);
            free(text);
        }
        char why[300] = "";
        rc = j ? fr_sim_chat_set_script(&s->chat, j, why, sizeof(why)) : FR_EPARSE;
        json_decref(j);
        if (rc) {
            if (rrc)
                snprintf(err, errlen, "cannot read chat script %s: %s", o->chat_script, fr_strerror(rrc));
            else if (!j)
                snprintf(err, errlen, "chat script %s:%d: %s", o->chat_script, je.line, je.text);
            else
                snprintf(err, errlen, "chat script %s: %s", o->chat_script, why);
            fr_sim_free(s);
            return rc;
        }
    }
    if ((rc = apply_faults_opt(s, real_ms, err, errlen)) != 0 || (rc = make_world(s, err, errlen)) != 0) {
        fr_sim_free(s);
        return rc;
    }
    services_init(s, real_ms);
    if ((rc = apply_world(s, err, errlen)) != 0) {
        fr_sim_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void fr_sim_free(fr_sim *s)
{
    if (!s)
        return;
    services_free(s);
    fr_sim_chat_free(&s->chat);
    fr_sim_faults_free(&s->faults);
    fr_sim_auth_free(&s->auth);
    fr_sim_spot_free(&s->spot);
    fr_sim_traces_free(&s->traces);
    fr_sim_catalog_free(&s->cat);
    json_decref(s->world);
    free(s->prices_text);
    free(s);
}

int fr_sim_reset(fr_sim *s, json_t *world, uint64_t mono_ms, int64_t real_ms, char *err, size_t errlen)
{
    s->real_ms = real_ms;
    int64_t now = fr_sim_now(s, mono_ms);
    json_t *old = s->world;
    int64_t old_t0 = s->t0_ms;
    if (world) {
        fr_sim_world_opts wo = {s->o.seed, s->o.clusters, s->o.ec2_instances, s->o.region, &s->cat, &s->traces};
        int rc = fr_sim_world_normalize(world, &wo, err, errlen);
        if (rc)
            return rc;
        s->world = json_incref(world);
    } else {
        s->world = json_incref(old);
    }
    services_free(s);
    s->t0_ms = now - ((now % 60000) + 60000) % 60000;
    services_init(s, real_ms);
    int rc = apply_world(s, err, errlen);
    if (rc) {
        /* back to the previous world */
        services_free(s);
        json_decref(s->world);
        s->world = old;
        s->t0_ms = old_t0;
        services_init(s, real_ms);
        char e2[256];
        apply_world(s, e2, sizeof(e2));
        return rc;
    }
    json_decref(old);
    if (s->prices_text)
        fr_sim_spot_load(&s->spot, s->o.prices_file, s->prices_text, s->prices_len, s->t0_ms, err, errlen);
    fr_sim_faults_clear(&s->faults);
    fr_sim_calls_clear(&s->faults);
    s->lambda.delay_s = s->o.lambda_delay_s;
    return 0;
}

/* ---- the request pipeline ---- */

static bool unsigned_op(const fr_sim_call *c)
{
    return c->svc == FR_SIM_SVC_STS && strcmp(c->op, "AssumeRoleWithWebIdentity") == 0;
}

/* Each protocol family names authentication failures its own way (see the
 * table in docs/sim.md). */
static void auth_error(const fr_sim_call *c, fr_sim_resp *r, fr_sim_auth_result res)
{
    enum { JSON, QCOMPAT, LAMBDA, QUERY, EC2 } fam;
    bool json = c->proto == FR_SIM_PROTO_JSON10 || c->proto == FR_SIM_PROTO_JSON11;
    if (json)
        fam = c->svc == FR_SIM_SVC_CW || c->svc == FR_SIM_SVC_SQS ? QCOMPAT : JSON;
    else if (c->proto == FR_SIM_PROTO_RESTJSON)
        fam = LAMBDA;
    else
        fam = c->proto == FR_SIM_PROTO_EC2 ? EC2 : QUERY;
    /* the JSON services' *Exception names; query-style names otherwise */
    bool exc = fam == JSON || fam == LAMBDA;
    int st_json = fam == JSON ? 400 : 403;
    switch (res) {
    case FR_SIM_AUTH_MISSING:
        fr_sim_error(c, r, exc ? st_json : fam == EC2 ? 401 : 403,
                     exc ? "MissingAuthenticationTokenException" : "MissingAuthenticationToken",
                     "Missing Authentication Token");
        break;
    case FR_SIM_AUTH_MALFORMED:
        fr_sim_error(c, r, exc ? st_json : fam == EC2 ? 401 : 403,
                     exc ? "IncompleteSignatureException" : "IncompleteSignature",
                     "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' and a valid X-Amz-Date.");
        break;
    case FR_SIM_AUTH_UNKNOWN_KEY:
    case FR_SIM_AUTH_BAD_TOKEN:
        if (fam == EC2)
            fr_sim_error(c, r, 401, "AuthFailure", "AWS was not able to validate the provided access credentials");
        else
            fr_sim_error(c, r, exc ? st_json : 403, exc ? "UnrecognizedClientException" : "InvalidClientTokenId",
                         "The security token included in the request is invalid.");
        break;
    case FR_SIM_AUTH_EXPIRED:
        fr_sim_error(c, r, exc ? st_json : fam == EC2 ? 400 : 403, exc ? "ExpiredTokenException" : "ExpiredToken",
                     "The security token included in the request is expired");
        break;
    case FR_SIM_AUTH_SKEWED:
        if (fam == EC2)
            fr_sim_error(c, r, 400, "RequestExpired", "Request has expired.");
        else
            fr_sim_error(c, r, 403, "SignatureDoesNotMatch",
                         "Signature expired: the request time is more than 15 minutes from the server time.");
        break;
    case FR_SIM_AUTH_BAD_SIGNATURE:
    default:
        fr_sim_error(c, r, 403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you provided. Check your AWS "
                     "Secret Access Key and signing method. Consult the service documentation for details.");
        break;
    }
}

static void dispatch(fr_sim *s, fr_sim_call *c, const fr_sim_cred *who, int64_t now, int64_t real_ms, fr_sim_resp *r,
                     fr_sim_outcome *out)
{
    switch (c->svc) {
    case FR_SIM_SVC_EMR:
        fr_sim_emr_call(&s->emr, c, now, r);
        break;
    case FR_SIM_SVC_CW:
        fr_sim_cw_call(&s->cw, c, now, r);
        break;
    case FR_SIM_SVC_SSM:
        fr_sim_ssm_call(&s->ssm, c, now, r);
        break;
    case FR_SIM_SVC_LAMBDA:
        fr_sim_lambda_call(&s->lambda, c, now, r);
        break;
    case FR_SIM_SVC_EC2:
        fr_sim_ec2_call(&s->ec2, c, now, r);
        break;
    case FR_SIM_SVC_SQS:
        if (c->proto != FR_SIM_PROTO_JSON10) {
            fr_sim_error(c, r, 400, "InvalidAction", "frugal-sim speaks SQS's awsJson1_0 protocol only (current SDKs).");
            break;
        }
        fr_sim_sqs_call(&s->sqs, c, real_ms, true, r, &out->wait_ms, &out->queue);
        break;
    case FR_SIM_SVC_STS:
        fr_sim_sts_call(&s->auth, FR_SIM_ACCOUNT, who, c, real_ms, r);
        break;
    case FR_SIM_SVC_PRICING:
        fr_sim_pricing_call(&s->cat, s->o.region, c, r);
        break;
    default:
        fr_sim_error(c, r, 400, "UnknownOperationException", "Unknown service");
        break;
    }
}

void fr_sim_handle_aws(fr_sim *s, const fr_sim_raw_req *raw, uint64_t mono_ms, int64_t real_ms, fr_sim_resp *r,
                       fr_sim_outcome *out)
{
    memset(out, 0, sizeof(*out));
    s->real_ms = real_ms;
    int64_t now = fr_sim_now(s, mono_ms);
    fr_sim_call c;
    memset(&c, 0, sizeof(c));
    fr_sim_uuid(c.request_id, sizeof(c.request_id), fr_sim_hash3(s->o.seed, 0x7e0, ++s->reqno), (uint64_t)real_ms);
    fr_sigv4_auth parsed;
    char *authz = fr_sim_raw_header(raw, "authorization");
    bool have_scope = authz && fr_sigv4_parse_authorization(authz, &parsed) == 0;
    free(authz);
    char err[512];
    fr_sim_route_result rr = fr_sim_route(raw, have_scope ? parsed.service : NULL, &c, err, sizeof(err));
    if (rr != FR_SIM_ROUTE_OK) {
        if (!c.op[0])
            fr_strlcpy(c.op, "Unknown", sizeof(c.op));
        if (rr == FR_SIM_ROUTE_BAD_INPUT)
            fr_sim_error(&c, r, 400, "SerializationException", "%s", err);
        else if (rr == FR_SIM_ROUTE_UNSUPPORTED)
            fr_sim_error(&c, r, 415, "UnsupportedMediaTypeException", "%s", err);
        else if (c.proto == FR_SIM_PROTO_QUERY || c.proto == FR_SIM_PROTO_EC2)
            fr_sim_error(&c, r, 400, "InvalidAction", "The action %s is not valid for this endpoint.", c.op);
        else
            fr_sim_error(&c, r, c.svc == FR_SIM_SVC_LAMBDA ? 404 : 400, "UnknownOperationException",
                         "%s", err[0] ? err : "The operation is not supported by frugal-sim.");
        out->svc = c.svc;
        fr_strlcpy(out->op, c.op, sizeof(out->op));
        fr_sim_calls_count(&s->faults, c.svc, c.op, NULL, true);
        fr_sim_call_free(&c);
        return;
    }
    out->svc = c.svc;
    fr_strlcpy(out->op, c.op, sizeof(out->op));
    const fr_sim_cred *who = NULL;
    if (!s->o.no_verify && !unsigned_op(&c)) {
        fr_sim_auth_result res = fr_sim_auth_verify(&s->auth, raw, real_ms, &parsed, &who);
        if (res != FR_SIM_AUTH_OK) {
            auth_error(&c, r, res);
            fr_sim_calls_count(&s->faults, c.svc, c.op, NULL, true);
            fr_log_debug("sim.auth_failed", "{s:s, s:s, s:s}", "service", fr_sim_svc_name(c.svc), "operation", c.op,
                         "reason", fr_sim_auth_result_name(res));
            fr_sim_call_free(&c);
            return;
        }
    } else if (have_scope) {
        who = fr_sim_auth_find(&s->auth, parsed.access_key);
    }
    c.principal = who ? who->akid : NULL;
    fr_sim_faults_decide(&s->faults, c.svc, c.op, real_ms, &out->fault);
    switch (out->fault.action) {
    case FR_SIM_FAULT_THROTTLE:
        fr_sim_throttle(&c, r);
        break;
    case FR_SIM_FAULT_ERROR:
        if (out->fault.error_code[0])
            fr_sim_error(&c, r, out->fault.error_status ? out->fault.error_status : 500, out->fault.error_code,
                         "Injected fault: %s", out->fault.error_code);
        else
            fr_sim_internal_error(&c, r, NULL);
        break;
    case FR_SIM_FAULT_RESET:
        fr_sim_internal_error(&c, r, NULL);
        break;
    default:
        dispatch(s, &c, who, now, real_ms, r, out);
        break;
    }
    fr_sim_calls_count(&s->faults, c.svc, c.op, &out->fault, r->is_error && out->fault.action == FR_SIM_FAULT_NONE);
    if (fr_log_enabled(FR_LOG_DEBUG))
        fr_log_debug("sim.call", "{s:s, s:s, s:i, s:s, s:s}", "service", fr_sim_svc_name(c.svc), "operation", c.op,
                     "status", r->status, "error", r->is_error ? r->error_code : "", "request_id", c.request_id);
    if (c.svc == FR_SIM_SVC_LAMBDA && strcmp(c.op, "Invoke") == 0 && s->lambda.n) {
        const fr_sim_invocation *inv = &s->lambda.inv[s->lambda.n - 1];
        if (strcmp(inv->request_id, c.request_id) == 0)
            fr_log_info("sim.lambda.invoke", "{s:s, s:s, s:s, s:s}", "request_id", inv->request_id, "status",
                        inv->status, "cluster_name", inv->cluster_name, "cluster_id", inv->cluster_id);
    }
    if (out->wait_ms > 0) {
        out->call = c; /* the shell keeps it until the retry */
        return;
    }
    fr_sim_call_free(&c);
}

void fr_sim_sqs_retry(fr_sim *s, fr_sim_outcome *out, int64_t real_ms, bool may_wait, fr_sim_resp *r)
{
    s->real_ms = real_ms;
    int64_t wait = 0;
    fr_sim_queue *q = NULL;
    fr_sim_sqs_call(&s->sqs, &out->call, real_ms, may_wait, r, &wait, &q);
    out->wait_ms = wait;
    out->queue = q;
}

void fr_sim_handle_imds(fr_sim *s, const fr_sim_raw_req *raw, const char *path, uint64_t mono_ms, int64_t real_ms,
                        fr_sim_resp *r, fr_sim_fault_decision *fd)
{
    s->real_ms = real_ms;
    fr_sim_faults_decide(&s->faults, FR_SIM_SVC_IMDS, path, real_ms, fd);
    if (fd->action == FR_SIM_FAULT_THROTTLE) {
        fr_sim_resp_raw(r, 429, "text/plain", "Too Many Requests", 17);
    } else if (fd->action == FR_SIM_FAULT_ERROR || fd->action == FR_SIM_FAULT_RESET) {
        fr_sim_resp_raw(r, 500, "text/plain", "Internal Server Error", 21);
    } else {
        fr_sim_ec2_tick(&s->ec2, fr_sim_now(s, mono_ms));
        fr_sim_imds_handle(&s->imds, raw->method, path, raw, real_ms, fr_sim_now(s, mono_ms), r);
    }
    fr_sim_calls_count(&s->faults, FR_SIM_SVC_IMDS, path, fd, r->status >= 400 && r->status != 404);
}

void fr_sim_handle_chat(fr_sim *s, const fr_sim_raw_req *raw, const char *path, const char *query, int64_t real_ms,
                        fr_sim_resp *r, fr_sim_fault_decision *fd, int64_t *chunk_delay_ms)
{
    s->real_ms = real_ms;
    *chunk_delay_ms = 0;
    fr_sim_call c;
    memset(&c, 0, sizeof(c));
    c.svc = FR_SIM_SVC_CHAT;
    c.proto = FR_SIM_PROTO_PLAIN;
    fr_strlcpy(c.op, "ChatCompletions", sizeof(c.op));
    fr_sim_faults_decide(&s->faults, FR_SIM_SVC_CHAT, c.op, real_ms, fd);
    if (fd->action == FR_SIM_FAULT_THROTTLE)
        fr_sim_throttle(&c, r);
    else if (fd->action == FR_SIM_FAULT_ERROR || fd->action == FR_SIM_FAULT_RESET)
        fr_sim_internal_error(&c, r, fd->error_code[0] ? fd->error_code : NULL);
    else
        fr_sim_chat_handle(&s->chat, raw->method, path, query, raw, real_ms, r, chunk_delay_ms);
    fr_sim_calls_count(&s->faults, FR_SIM_SVC_CHAT, c.op, fd, r->is_error && fd->action == FR_SIM_FAULT_NONE);
}

int64_t fr_sim_tick(fr_sim *s, uint64_t mono_ms)
{
    int64_t now = fr_sim_now(s, mono_ms);
    int64_t a = fr_sim_lambda_tick(&s->lambda, now);
    int64_t b = fr_sim_ec2_tick(&s->ec2, now);
    int64_t next = a < 0 ? b : b < 0 ? a : (a < b ? a : b);
    if (next < 0)
        return -1;
    return fr_sim_clock_real_delay(&s->clock, next, mono_ms);
}

/* ---- measurements ---- */

static json_t *stats_json(double *v, size_t n)
{
    fr_sim_stats st;
    fr_sim_stats_of(v, n, &st);
    return json_pack("{s:f, s:f, s:f, s:I}", "avg", round(st.avg * 1000) / 1000, "p95", st.p95, "max", st.max,
                     "points", (json_int_t)st.n);
}

json_t *fr_sim_cluster_measure(fr_sim *s, fr_sim_cluster *c, int64_t now)
{
    fr_sim_emr_advance(&s->emr, c, now);
    json_t *out = json_object();
    for (int role = 0; role < FR_SIM_NROLES; role++) {
        size_t cap = 1024, n = 0;
        double *cpu = malloc(cap * sizeof(double)), *mem = malloc(cap * sizeof(double));
        int ninst = 0;
        for (size_t i = 0; cpu && mem && i < c->ninsts; i++) {
            const fr_sim_inst *in = &c->insts[i];
            if (in->role != role)
                continue;
            ninst++;
            fr_sim_series se;
            if (series_lookup(s, in->ec2_id, now, &se) != 0 || se.launch_ms < 0)
                continue;
            int64_t end = se.end_ms >= 0 && se.end_ms < now ? se.end_ms : now;
            for (int64_t t = se.launch_ms - se.launch_ms % 60000; t < end; t += 60000) {
                double vc = fr_sim_cw_minute(&s->cw, &se, FR_SIM_METRIC_CPU, t, now);
                double vm = fr_sim_cw_minute(&s->cw, &se, FR_SIM_METRIC_MEM, t, now);
                if (isnan(vc) || isnan(vm))
                    continue;
                if (n == cap) {
                    cap *= 2;
                    double *nc = realloc(cpu, cap * sizeof(double)), *nm = realloc(mem, cap * sizeof(double));
                    if (nc)
                        cpu = nc;
                    if (nm)
                        mem = nm;
                    if (!nc || !nm)
                        break;
                }
                cpu[n] = vc;
                mem[n] = vm;
                n++;
            }
        }
        if (ninst && n) {
            json_t *cj = stats_json(cpu, n);
            json_t *mj = stats_json(mem, n);
            double ca = json_real_value(json_object_get(cj, "avg")), ma = json_real_value(json_object_get(mj, "avg"));
            double cp = json_real_value(json_object_get(cj, "p95")), mp = json_real_value(json_object_get(mj, "p95"));
            json_object_set_new(out, fr_sim_role_name(role),
                                json_pack("{s:i, s:o, s:o, s:s, s:s}", "instances", ninst, "cpu", cj, "mem", mj,
                                          "status", fr_sim_sizing_status(fmax(ca, ma), fmax(cp, mp)), "workload",
                                          fr_sim_workload(ca, ma)));
        }
        free(cpu);
        free(mem);
    }
    return out;
}

json_t *fr_sim_cluster_detail(fr_sim *s, fr_sim_cluster *c, int64_t now)
{
    fr_sim_emr_advance(&s->emr, c, now);
    int vcpu;
    double mem;
    fr_sim_cluster_capacity(c, &s->cat, &vcpu, &mem);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:i, s:{s:i, s:f}}", "id", c->id, "name", c->name,
                          "state", fr_sim_cstate_name(c->state), "source", c->source, "fleets", c->fleets,
                          "keep_alive", c->keep_alive, "idle_timeout_s", (json_int_t)c->idle_timeout_s,
                          "step_concurrency", c->step_concurrency, "capacity", "vcpu", vcpu, "mem_gib", mem);
    json_object_set_new(j, "created_ms", json_integer(c->created_ms));
    json_object_set_new(j, "bootstrap_ms", json_integer(c->bootstrap_ms));
    json_object_set_new(j, "ready_ms", json_integer(c->ready_ms));
    if (c->state >= FR_SIM_CS_TERMINATING)
        json_object_set_new(j, "terminating_ms", json_integer(c->terminating_ms));
    if (c->state >= FR_SIM_CS_TERMINATED)
        json_object_set_new(j, "end_ms", json_integer(c->end_ms));
    if (c->reason_code[0])
        json_object_set_new(j, "reason", json_pack("{s:s, s:s}", "code", c->reason_code, "message", c->reason_msg));
    json_t *profs = json_object();
    for (int r = 0; r < FR_SIM_NROLES; r++)
        json_object_set_new(profs, fr_sim_role_name(r), fr_sim_profile_to_json(&c->prof[r]));
    json_object_set_new(j, "profiles", profs);
    json_object_set_new(j, "measured", fr_sim_cluster_measure(s, c, now));
    json_t *insts = json_array();
    for (size_t i = 0; i < c->ninsts; i++) {
        const fr_sim_inst *in = &c->insts[i];
        int64_t l, e;
        fr_sim_inst_life(in, &l, &e);
        json_array_append_new(insts, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", in->id,
                                               "ec2_id", in->ec2_id, "role", fr_sim_role_name(in->role), "type",
                                               in->itype, "market", in->spot ? "SPOT" : "ON_DEMAND", "az", in->az,
                                               "state", fr_sim_inst_state(in, now), "launch_ms", (json_int_t)l,
                                               "end_ms", (json_int_t)e));
    }
    json_object_set_new(j, "instances", insts);
    json_t *steps = json_array();
    for (size_t i = 0; i < c->nsteps; i++) {
        const fr_sim_step *st = &c->steps[i];
        json_t *sj = json_pack("{s:s, s:s, s:s, s:f, s:i, s:f, s:f, s:b, s:I}", "id", st->id, "name", st->name,
                               "state", fr_sim_sstate_name(st->state), "work_vcpu_s", st->work.vcpu_s, "parallelism",
                               st->work.parallelism, "mem_gib", st->work.mem_gib, "overhead_s", st->work.overhead_s,
                               "fail", st->fail, "duration_on_this_cluster_ms",
                               (json_int_t)fr_sim_step_duration_ms(c, &st->work, &s->cat));
        if (st->start_ms)
            json_object_set_new(sj, "start_ms", json_integer(st->start_ms));
        if (st->end_ms)
            json_object_set_new(sj, "end_ms", json_integer(st->end_ms));
        json_array_append_new(steps, sj);
    }
    json_object_set_new(j, "steps", steps);
    json_object_set(j, "request", c->req);
    return j;
}
