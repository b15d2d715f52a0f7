/* The control API under /_sim/ (no authentication, JSON in and out):
 * reset, clock, faults, interruptions, capacity, the world, call counters,
 * Lambda invocations and delay, cluster internals, the chat script, IMDS.
 * Documented in docs/sim.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "fr_config.h"
#include "sim.h"
#include "world.h"

static void reply_flags(fr_sim_resp *r, int status, json_t *j, size_t flags)
{
    char *s = json_dumps(j, flags);
    json_decref(j);
    fr_sim_resp_raw(r, status, "application/json", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
}

static void reply(fr_sim_resp *r, int status, json_t *j)
{
    reply_flags(r, status, j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
}

static void fail(fr_sim_resp *r, int status, const char *code, const char *msg)
{
    reply(r, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
    r->is_error = true;
}

static json_t *body_json(const char *body, size_t len, fr_sim_resp *r, bool required)
{
    if (!body || len == 0) {
        if (required)
            fail(r, 400, "body_required", "a JSON body is required");
        return required ? NULL : json_object();
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof(msg), "line %d column %d: %s", je.line, je.column, je.text);
        fail(r, 400, "malformed_json", msg);
    }
    return j;
}

/* Every control body but the faults list is one object: `[1]` must not
 * read as "no options" (a reset with no options rebuilds the world). */
static json_t *body_object(const char *body, size_t len, fr_sim_resp *r, bool required)
{
    json_t *j = body_json(body, len, r, required);
    if (j && !json_is_object(j)) {
        json_decref(j);
        fail(r, 400, "malformed_json", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static json_t *clock_json(fr_sim *s, uint64_t mono)
{
    int64_t now = fr_sim_now(s, mono);
    char n[40], st[40], t0[40];
    fr_time_iso8601(n, sizeof(n), now, 1);
    fr_time_iso8601(st, sizeof(st), s->clock.start_ms, 1);
    fr_time_iso8601(t0, sizeof(t0), s->t0_ms, 0);
    return json_pack("{s:s, s:I, s:f, s:s, s:I, s:s, s:I, s:f}", "now", n, "now_ms", (json_int_t)now, "speed",
                     s->clock.speed, "start", st, "start_ms", (json_int_t)s->clock.start_ms, "world_anchor", t0,
                     "world_anchor_ms", (json_int_t)s->t0_ms, "advanced_s", s->clock.advanced_ms / 1000.0);
}

static void faults_api(fr_sim *s, const char *method, const char *query, const char *body, size_t len,
                       int64_t real_ms, fr_sim_resp *r)
{
    if (strcmp(method, "GET") == 0) {
        reply(r, 200, fr_sim_faults_json(&s->faults));
        return;
    }
    if (strcmp(method, "DELETE") == 0) {
        char *svc = query ? fr_sim_form_get(query, strlen(query), "service") : NULL;
        char *op = query ? fr_sim_form_get(query, strlen(query), "operation") : NULL;
        int n = fr_sim_faults_remove(&s->faults, svc, op);
        if (!svc && !op)
            fr_sim_faults_set_aws_limits(&s->faults, false, real_ms);
        free(svc);
        free(op);
        reply(r, 200, json_pack("{s:i}", "removed", n));
        return;
    }
    if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0) {
        fail(r, 405, "method_not_allowed", "GET, POST or DELETE");
        return;
    }
    json_t *j = body_json(body, len, r, true);
    if (!j)
        return;
    char err[256] = "";
    int rc = 0;
    if (json_is_array(j)) {
        /* all or nothing: every rule is checked before any is applied */
        size_t i;
        json_t *x;
        fr_sim_faults scratch;
        fr_sim_faults_init(&scratch, 0);
        json_array_foreach(j, i, x) if (!rc) rc = fr_sim_faults_put(&scratch, x, real_ms, err, sizeof(err));
        fr_sim_faults_free(&scratch);
        json_array_foreach(j, i, x) if (!rc) rc = fr_sim_faults_put(&s->faults, x, real_ms, err, sizeof(err));
    } else if (!json_is_object(j)) {
        snprintf(err, sizeof(err), "the body is a fault rule object or an array of them");
        rc = FR_EPARSE;
    } else {
        bool lim;
        if (fr_sim_jbool(j, "aws_limits", &lim) == 0)
            fr_sim_faults_set_aws_limits(&s->faults, lim, real_ms);
        if (json_object_get(j, "service") || json_object_get(j, "operation") || !json_object_get(j, "aws_limits"))
            rc = fr_sim_faults_put(&s->faults, j, real_ms, err, sizeof(err));
    }
    json_decref(j);
    if (rc) {
        fail(r, 400, "bad_fault", err);
        return;
    }
    reply(r, 200, fr_sim_faults_json(&s->faults));
}

static void cluster_api(fr_sim *s, const char *id, int64_t now, fr_sim_resp *r)
{
    if (!*id) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->emr.n; i++) {
            fr_sim_cluster *c = s->emr.clusters[i];
            fr_sim_emr_advance(&s->emr, c, now);
            json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", c->id, "name", c->name, "state",
                                               fr_sim_cstate_name(c->state), "source", c->source, "created_ms",
                                               (json_int_t)c->created_ms));
        }
        reply(r, 200, json_pack("{s:o}", "clusters", a));
        return;
    }
    fr_sim_cluster *c = fr_sim_emr_find(&s->emr, id);
    if (!c) {
        fail(r, 404, "not_found", "no such cluster");
        return;
    }
    reply(r, 200, fr_sim_cluster_detail(s, c, now));
}

static void metrics_api(fr_sim *s, const char *id, const char *query, int64_t now, fr_sim_resp *r)
{
    fr_sim_series se;
    if (!s->cw.lookup || s->cw.lookup(s->cw.lookup_arg, id, now, &se) != 0) {
        fail(r, 404, "not_found", "no such instance");
        return;
    }
    char *m = query ? fr_sim_form_get(query, strlen(query), "metric") : NULL;
    fr_sim_metric metric = m && strcmp(m, "mem") == 0 ? FR_SIM_METRIC_MEM : FR_SIM_METRIC_CPU;
    free(m);
    json_t *ts = json_array(), *vals = json_array();
    int64_t end = se.end_ms >= 0 && se.end_ms < now ? se.end_ms : now;
    for (int64_t t = se.launch_ms < 0 ? end : se.launch_ms - se.launch_ms % 60000; t < end; t += 60000) {
        double v = fr_sim_cw_minute(&s->cw, &se, metric, t, now);
        if (v != v)
            continue;
        json_array_append_new(ts, json_integer(t / 1000));
        json_array_append_new(vals, json_real(v));
    }
    reply(r, 200, json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:o}", "instance_id", id, "metric",
                            metric == FR_SIM_METRIC_MEM ? "mem_used_percent" : "CPUUtilization", "launch_ms",
                            (json_int_t)se.launch_ms, "end_ms", (json_int_t)se.end_ms, "timestamps", ts, "values", vals,
                            "profile", fr_sim_profile_to_json(se.prof)));
}

void fr_sim_control(fr_sim *s, const char *method, const char *path, const char *query, const char *body, size_t len,
                    uint64_t mono, int64_t real_ms, fr_sim_resp *r)
{
    s->real_ms = real_ms;
    int64_t now = fr_sim_now(s, mono);
    const char *p = path + 5; /* after "/_sim" */
    if (strcmp(method, "GET") != 0)
        fr_log_info("sim.control", "{s:s, s:s, s:s%}", "method", method, "path", path, "body", body ? body : "",
                    body ? (len > 300 ? (size_t)300 : len) : (size_t)0);
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
    if ((strcmp(p, "") == 0 || strcmp(p, "/") == 0 || strcmp(p, "/health") == 0) && get) {
        reply(r, 200, json_pack("{s:b, s:s, s:s, s:I, s:i, s:s}", "ok", 1, "service", "frugal-sim", "version",
                                FR_VERSION, "seed", (json_int_t)s->o.seed, "clusters", (int)s->emr.n, "region",
                                s->o.region));
    } else if (strcmp(p, "/reset") == 0 && post) {
        json_t *j = body_object(body, len, r, false);
        if (!j)
            return;
        json_t *world = json_object_get(j, "world");
        int64_t v;
        bool regen = false;
        if (fr_sim_jint(j, "seed", &v) == 0) {
            s->o.seed = (uint64_t)v;
            regen = true;
        }
        if (fr_sim_jint(j, "clusters", &v) == 0 && v >= 0 && v <= 5000) {
            s->o.clusters = (int)v;
            regen = true;
        }
        if (fr_sim_jint(j, "ec2_instances", &v) == 0 && v >= 0 && v <= 1000) {
            s->o.ec2_instances = (int)v;
            regen = true;
        }
        json_t *w = NULL;
        if (world) {
            w = json_deep_copy(world);
        } else if (regen) {
            fr_sim_world_opts wo = {s->o.seed, s->o.clusters, s->o.ec2_instances, s->o.region, &s->cat, &s->traces};
            fr_sim_world_generate(&wo, &w);
        }
        char err[512];
        int rc = fr_sim_reset(s, w, mono, real_ms, err, sizeof(err));
        json_decref(w);
        json_decref(j);
        if (rc) {
            fail(r, 400, "bad_world", err);
            return;
        }
        reply(r, 200, json_pack("{s:b, s:i, s:o}", "reset", 1, "clusters", (int)s->emr.n, "clock", clock_json(s, mono)));
    } else if (strcmp(p, "/clock") == 0 && get) {
        reply(r, 200, clock_json(s, mono));
    } else if (strcmp(p, "/clock/advance") == 0 && post) {
        json_t *j = body_object(body, len, r, true);
        double sec;
        if (!j)
            return;
        if (fr_sim_jnum(j, "seconds", &sec) != 0 || fr_sim_clock_advance(&s->clock, sec, mono) != 0) {
            json_decref(j);
            fail(r, 400, "bad_seconds", "seconds must be a non-negative number");
            return;
        }
        json_decref(j);
        fr_sim_tick(s, mono);
        reply(r, 200, clock_json(s, mono));
    } else if (strcmp(p, "/clock/speed") == 0 && post) {
        json_t *j = body_object(body, len, r, true);
        double sp;
        if (!j)
            return;
        if (fr_sim_jnum(j, "speed", &sp) != 0 || fr_sim_clock_set_speed(&s->clock, sp, mono) != 0) {
            json_decref(j);
            fail(r, 400, "bad_speed", "speed must be a number from 0 to 1000000");
            return;
        }
        json_decref(j);
        reply(r, 200, clock_json(s, mono));
    } else if (strcmp(p, "/faults") == 0) {
        faults_api(s, method, query, body, len, real_ms, r);
    } else if (strcmp(p, "/interrupt") == 0 && post) {
        json_t *j = body_object(body, len, r, true);
        if (!j)
            return;
        double rate;
        if (fr_sim_jnum(j, "rate_per_hour", &rate) == 0) {
            s->ec2.interrupt_rate_per_hour = rate > 0 ? rate : 0;
            s->ec2.last_random_ms = now;
        }
        const char *id = fr_sim_jstr(j, "instance_id");
        const char *kind = fr_sim_jstr(j, "kind");
        int rc = id ? fr_sim_ec2_interrupt(&s->ec2, id, kind ? kind : "interruption", now) : 0;
        if (!id && !json_object_get(j, "rate_per_hour"))
            rc = FR_EPARSE;
        json_decref(j);
        if (rc == FR_ENOTFOUND)
            fail(r, 404, "not_found", "no such instance");
        else if (rc == FR_ESTATE)
            fail(r, 409, "terminated", "the instance is already terminated");
        else if (rc)
            fail(r, 400, "bad_request", "give instance_id and kind (interruption|rebalance), or rate_per_hour");
        else {
            char t[40];
            fr_time_iso8601(t, sizeof(t), now + FR_SIM_NOTICE_MS, 0);
            reply(r, 200, json_pack("{s:b, s:s, s:f}", "ok", 1, "action_time", t, "rate_per_hour",
                                    s->ec2.interrupt_rate_per_hour));
        }
    } else if (strcmp(p, "/ec2/capacity") == 0 && post) {
        json_t *j = body_object(body, len, r, true);
        if (!j)
            return;
        bool avail = false, spot_only = false;
        fr_sim_jbool(j, "available", &avail);
        fr_sim_jbool(j, "spot_only", &spot_only);
        int rc = fr_sim_ec2_set_capacity(&s->ec2, fr_sim_jstr(j, "instance_type"), fr_sim_jstr(j, "az"), avail,
                                         spot_only);
        json_decref(j);
        if (rc)
            fail(r, 400, "bad_request", "unknown az");
        else
            reply(r, 200, json_pack("{s:b, s:i}", "ok", 1, "holes", (int)s->ec2.nholes));
    } else if (strcmp(p, "/world") == 0 && get) {
        /* exactly as --world-out writes it (full precision) */
        reply_flags(r, 200, json_incref(s->world), JSON_COMPACT | JSON_PRESERVE_ORDER);
    } else if (strcmp(p, "/calls") == 0 && get) {
        reply(r, 200, fr_sim_calls_json(&s->faults));
    } else if (strcmp(p, "/calls") == 0 && del) {
        fr_sim_calls_clear(&s->faults);
        reply(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(p, "/lambda/invocations") == 0 && get) {
        fr_sim_lambda_tick(&s->lambda, now);
        reply(r, 200, json_pack("{s:o, s:f}", "invocations", fr_sim_lambda_invocations_json(&s->lambda), "delay_s",
                                s->lambda.delay_s));
    } else if (strcmp(p, "/lambda/invocations") == 0 && del) {
        fr_sim_lambda_clear(&s->lambda);
        reply(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(p, "/lambda/delay") == 0 && (post || get)) {
        if (post) {
            json_t *j = body_object(body, len, r, true);
            double sec;
            if (!j)
                return;
            if (fr_sim_jnum(j, "seconds", &sec) != 0 || sec < 0 || sec > 86400) {
                json_decref(j);
                fail(r, 400, "bad_seconds", "seconds must be 0..86400");
                return;
            }
            s->lambda.delay_s = sec;
            bool inc;
            if (fr_sim_jbool(j, "include_cluster_id", &inc) == 0)
                s->lambda.include_cluster_id = inc;
            json_t *ans = json_object_get(j, "answer");
            if (ans && !json_is_string(ans) && !json_is_null(ans)) {
                json_decref(j);
                fail(r, 400, "bad_answer", "answer must be a string (the raw payload) or null");
                return;
            }
            if (ans) {
                free(s->lambda.answer);
                s->lambda.answer = json_is_string(ans) ? fr_strdup(json_string_value(ans)) : NULL;
            }
            json_decref(j);
        }
        reply(r, 200, json_pack("{s:f, s:b, s:s?}", "seconds", s->lambda.delay_s, "include_cluster_id",
                                s->lambda.include_cluster_id, "answer", s->lambda.answer));
    } else if (fr_str_startswith(p, "/clusters") && get && (p[9] == '\0' || p[9] == '/')) {
        cluster_api(s, p[9] ? p + 10 : "", now, r);
    } else if (fr_str_startswith(p, "/instances/") && fr_str_endswith(p, "/metrics") && get) {
        char id[64];
        size_t l = strlen(p) - 11 - 8;
        snprintf(id, sizeof(id), "%.*s", (int)(l < sizeof(id) ? l : sizeof(id) - 1), p + 11);
        metrics_api(s, id, query, now, r);
    } else if (strcmp(p, "/chat/script") == 0 && (post || get)) {
        if (get) {
            reply(r, 200, json_incref(s->chat.script));
            return;
        }
        json_t *j = body_object(body, len, r, true);
        if (!j)
            return;
        char err[256];
        int rc = fr_sim_chat_set_script(&s->chat, j, err, sizeof(err));
        json_decref(j);
        if (rc)
            fail(r, 400, "bad_script", err);
        else
            reply(r, 200, json_pack("{s:b, s:i}", "ok", 1, "rules",
                                    (int)json_array_size(json_object_get(s->chat.script, "rules"))));
    } else if (strcmp(p, "/chat/requests") == 0 && get) {
        reply(r, 200, json_pack("{s:o}", "requests", fr_sim_chat_requests(&s->chat)));
    } else if (strcmp(p, "/imds") == 0 && (post || get)) {
        if (post) {
            json_t *j = body_object(body, len, r, true);
            if (!j)
                return;
            const char *id = fr_sim_jstr(j, "instance_id");
            if (id && !fr_sim_ec2_find(&s->ec2, id)) {
                json_decref(j);
                fail(r, 404, "not_found", "no such EC2 instance");
                return;
            }
            fr_strlcpy(s->imds.instance_id, id ? id : "", sizeof(s->imds.instance_id));
            bool v1;
            if (fr_sim_jbool(j, "allow_v1", &v1) == 0)
                s->imds.allow_v1 = v1;
            json_decref(j);
        }
        fr_sim_ec2_inst *in = s->imds.instance_id[0] ? fr_sim_ec2_find(&s->ec2, s->imds.instance_id) : NULL;
        if (!in)
            for (size_t i = 0; i < s->ec2.n && !in; i++)
                if (fr_sim_jstr(s->ec2.insts[i]->tags, "frugal:managed"))
                    in = s->ec2.insts[i];
        reply(r, 200, json_pack("{s:s, s:s, s:b}", "instance_id", in ? in->id : "", "role", s->imds.role, "allow_v1",
                                s->imds.allow_v1));
    } else if (strcmp(p, "/sqs/send") == 0 && post) {
        json_t *j = body_object(body, len, r, true);
        if (!j)
            return;
        const char *qn = fr_sim_jstr(j, "queue");
        fr_sim_queue *q = fr_sim_sqs_find(&s->sqs, qn ? qn : FR_SIM_SQS_DEFAULT_QUEUE);
        json_t *b = json_object_get(j, "body");
        char *text = json_is_string(b) ? fr_strdup(json_string_value(b)) : json_dumps(b, JSON_COMPACT);
        fr_sim_msg *m = NULL;
        int rc = q && text && *text ? fr_sim_sqs_send(&s->sqs, q, text, NULL, real_ms, &m) : FR_EPARSE;
        free(text);
        json_decref(j);
        if (rc)
            fail(r, 400, "bad_request", "give queue (default frugal-interruptions) and a body");
        else
            reply(r, 200, json_pack("{s:s}", "message_id", m->id));
    } else {
        fail(r, 404, "not_found", "no such control endpoint (see docs/sim.md)");
    }
}
