#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"
#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"

void fr_sim_ec2_init(fr_sim_ec2 *e, const fr_sim_catalog *cat, fr_sim_spot *spot, fr_sim_emr *emr,
                     const char *region, const char *account, uint64_t seed, fr_sim_event_fn emit, void *emit_arg)
{
    memset(e, 0, sizeof(*e));
    e->cat = cat;
    e->spot = spot;
    e->emr = emr;
    e->seed = seed;
    e->emit = emit;
    e->emit_arg = emit_arg;
    fr_strlcpy(e->region, region, sizeof(e->region));
    fr_strlcpy(e->account, account, sizeof(e->account));
    fr_sim_map_init(&e->by_id);
    fr_sim_rng_init(&e->rng, seed ^ 0x1e7);
}

void fr_sim_ec2_free(fr_sim_ec2 *e)
{
    for (size_t i = 0; i < e->n; i++) {
        json_decref(e->insts[i]->tags);
        free(e->insts[i]);
    }
    free(e->insts);
    free(e->holes);
    fr_sim_map_free(&e->by_id);
    memset(e, 0, sizeof(*e));
}

fr_sim_ec2_inst *fr_sim_ec2_find(const fr_sim_ec2 *e, const char *id)
{
    return fr_sim_map_get(&e->by_id, id);
}

fr_sim_ec2_inst *fr_sim_ec2_new_inst(fr_sim_ec2 *e)
{
    if (e->n == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 32;
        fr_sim_ec2_inst **ni = realloc(e->insts, ncap * sizeof(*ni));
        if (!ni)
            return NULL;
        e->insts = ni;
        e->cap = ncap;
    }
    fr_sim_ec2_inst *i = calloc(1, sizeof(*i));
    if (!i)
        return NULL;
    e->insts[e->n++] = i;
    i->tags = json_object();
    fr_strlcpy(i->action, "terminate", sizeof(i->action));
    return i;
}

void fr_sim_ec2_make_ip(char *out, size_t n, uint64_t h)
{
    snprintf(out, n, "172.31.%u.%u", (unsigned)((h >> 8) % 250) + 1, (unsigned)((h >> 16) % 253) + 2);
}

void fr_sim_ec2_subnet_for_az(const fr_sim_ec2 *e, int az, char *out, size_t n)
{
    snprintf(out, n, "subnet-0%015llx%d", (unsigned long long)(fr_sim_hash3(e->seed, 0x50b, (uint64_t)az) >> 8), az);
}

int fr_sim_ec2_add_world(fr_sim_ec2 *e, const json_t *j, int64_t t0_ms, char *err, size_t errlen)
{
    const char *id = fr_sim_jstr(j, "id"), *type = fr_sim_jstr(j, "type");
    if (!id || !type || !fr_sim_catalog_find(e->cat, type)) {
        snprintf(err, errlen, "ec2_instances entries need an id and a known type");
        return FR_EPARSE;
    }
    if (fr_sim_ec2_find(e, id)) {
        snprintf(err, errlen, "duplicate instance id %s", id);
        return FR_EPARSE;
    }
    fr_sim_ec2_inst *i = fr_sim_ec2_new_inst(e);
    if (!i)
        return -ENOMEM;
    fr_strlcpy(i->id, id, sizeof(i->id));
    fr_strlcpy(i->itype, type, sizeof(i->itype));
    i->az = fr_sim_spot_az_index(e->spot, fr_sim_jstr(j, "az"));
    if (i->az < 0)
        i->az = 0;
    fr_sim_ec2_subnet_for_az(e, i->az, i->subnet, sizeof(i->subnet));
    uint64_t h = fr_sim_hash_str(e->seed, id);
    fr_sim_ec2_make_ip(i->ip, sizeof(i->ip), h);
    const fr_sim_itype *it = fr_sim_catalog_find(e->cat, type);
    fr_strlcpy(i->image, it->arm64 ? "ami-0c9a8b7d6e5f4a3b2" : "ami-0f1e2d3c4b5a69788", sizeof(i->image));
    fr_strlcpy(i->key_name, "ops-key", sizeof(i->key_name));
    const char *market = fr_sim_jstr(j, "market");
    i->spot = market && strcmp(market, "spot") == 0;
    if (i->spot)
        fr_sim_id_ec2(i->sir, sizeof(i->sir), "sir-", h ^ 0x51);
    if (i->spot) {
        /* the request's max price: the on-demand price */
        snprintf(i->max_price, sizeof(i->max_price), "%.6f", it->od_price);
    }
    fr_sim_id_ec2(i->resv, sizeof(i->resv), "r-", h ^ 0x2e5);
    int64_t off = -86400;
    fr_sim_jint(j, "start_offset_s", &off);
    i->launch_ms = t0_ms + off * 1000;
    json_t *tags = json_object_get(j, "tags");
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v) if (json_is_string(v)) json_object_set(i->tags, k, v);
    if (fr_sim_profile_from_json(json_object_get(j, "profile"), &i->prof) != 0) {
        i->prof.shape = FR_SIM_SHAPE_DIURNAL;
        i->prof.cpu = 40;
        i->prof.mem = 50;
        i->prof.cpu_amp = 5;
        i->prof.mem_amp = 3;
    }
    i->seed = fr_sim_hash_str(e->seed, id);
    i->from_world = true;
    fr_sim_map_put(&e->by_id, i->id, i);
    return 0;
}

const char *fr_sim_ec2_state(const fr_sim_ec2_inst *i, int64_t now, int *code)
{
    int c;
    const char *s;
    if (i->terminate_ms && now >= i->terminate_ms && now < i->terminate_ms + FR_SIM_SHUTDOWN_MS) {
        c = 32;
        s = "shutting-down";
    } else if (i->terminate_ms && now >= i->terminate_ms) {
        c = 48;
        s = "terminated";
    } else if (now < i->launch_ms + FR_SIM_PENDING_MS) {
        c = 0;
        s = "pending";
    } else if (!i->terminate_ms || now < i->terminate_ms) {
        c = 16;
        s = "running";
    } else if (now < i->terminate_ms + FR_SIM_SHUTDOWN_MS) {
        c = 32;
        s = "shutting-down";
    } else {
        c = 48;
        s = "terminated";
    }
    if (code)
        *code = c;
    return s;
}

/* ---- events ---- */

json_t *fr_sim_ec2_event(const fr_sim_ec2 *e, const char *detail_type, const char *id, json_t *detail, int64_t when)
{
    char uuid[40], t[40], arn[200];
    fr_sim_uuid(uuid, sizeof(uuid), fr_sim_hash_str(e->seed, id) ^ (uint64_t)when, fr_hash64(detail_type, strlen(detail_type)));
    fr_time_iso8601(t, sizeof(t), when, 0);
    snprintf(arn, sizeof(arn), "arn:aws:ec2:%s:%s:instance/%s", e->region, e->account, id);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:o}", "version", "0", "id", uuid, "detail-type",
                     detail_type, "source", "aws.ec2", "account", e->account, "time", t, "region", e->region,
                     "resources", arn, "detail", detail);
}

static void emit(fr_sim_ec2 *e, json_t *ev)
{
    if (e->emit)
        e->emit(e->emit_arg, ev);
    else
        json_decref(ev);
}

void fr_sim_ec2_state_event(fr_sim_ec2 *e, const char *id, const char *state, int64_t when)
{
    emit(e, fr_sim_ec2_event(e, "EC2 Instance State-change Notification", id,
                             json_pack("{s:s, s:s}", "instance-id", id, "state", state), when));
}

int fr_sim_ec2_interrupt(fr_sim_ec2 *e, const char *id, const char *kind, int64_t now)
{
    fr_sim_ec2_inst *i = fr_sim_ec2_find(e, id);
    fr_sim_inst *mi = i ? NULL : fr_sim_emr_find_instance(e->emr, id);
    if (!i && !mi)
        return FR_ENOTFOUND;
    bool rebalance = kind && strcmp(kind, "rebalance") == 0;
    if (!rebalance && kind && strcmp(kind, "interruption") != 0)
        return FR_EPARSE;
    if (i && i->terminate_ms && i->terminate_ms <= now)
        return FR_ESTATE;
    if (rebalance) {
        if (i)
            i->rebalance_ms = now;
        emit(e, fr_sim_ec2_event(e, "EC2 Instance Rebalance Recommendation", id,
                                 json_pack("{s:s}", "instance-id", id), now));
        return 0;
    }
    int64_t action = now + FR_SIM_NOTICE_MS;
    if (i) {
        if (i->notice_ms)
            return 0; /* already interrupted */
        i->notice_ms = now;
        i->action_ms = action;
        i->terminate_ms = action;
        snprintf(i->reason, sizeof(i->reason), "Server.SpotInstanceTermination: Spot instance termination");
        i->events_sent |= 4;
    } else {
        fr_sim_emr_end_instance(mi, action, "SPOT_INSTANCE_TERMINATION");
    }
    emit(e, fr_sim_ec2_event(e, "EC2 Spot Instance Interruption Warning", id,
                             json_pack("{s:s, s:s}", "instance-id", id, "instance-action", "terminate"), now));
    return 0;
}

int64_t fr_sim_ec2_tick(fr_sim_ec2 *e, int64_t now)
{
    int64_t next = -1;
    /* random interruptions, one draw per simulated minute */
    if (e->interrupt_rate_per_hour > 0) {
        if (!e->last_random_ms)
            e->last_random_ms = now;
        while (e->last_random_ms + 60000 <= now) {
            e->last_random_ms += 60000;
            for (size_t k = 0; k < e->n; k++) {
                fr_sim_ec2_inst *i = e->insts[k];
                if (!i->spot || i->terminate_ms || e->last_random_ms < i->launch_ms)
                    continue;
                if (fr_sim_rng_unit(&e->rng) < e->interrupt_rate_per_hour / 60.0) {
                    if (fr_sim_rng_unit(&e->rng) < 0.5)
                        fr_sim_ec2_interrupt(e, i->id, "rebalance", e->last_random_ms);
                    fr_sim_ec2_interrupt(e, i->id, "interruption", e->last_random_ms);
                }
            }
        }
        next = e->last_random_ms + 60000;
    }
    for (size_t k = 0; k < e->n; k++) {
        fr_sim_ec2_inst *i = e->insts[k];
        if (!i->terminate_ms || (i->events_sent & 3) == 3)
            continue;
        if (!(i->events_sent & 1)) {
            if (now >= i->terminate_ms) {
                fr_sim_ec2_state_event(e, i->id, "shutting-down", i->terminate_ms);
                i->events_sent |= 1;
            } else if (next < 0 || i->terminate_ms < next) {
                next = i->terminate_ms;
            }
        }
        int64_t t = i->terminate_ms + FR_SIM_SHUTDOWN_MS;
        if ((i->events_sent & 1) && !(i->events_sent & 2)) {
            if (now >= t) {
                fr_sim_ec2_state_event(e, i->id, "terminated", t);
                i->events_sent |= 2;
            } else if (next < 0 || t < next) {
                next = t;
            }
        }
    }
    return next;
}

int fr_sim_ec2_set_capacity(fr_sim_ec2 *e, const char *itype, const char *az, bool available, bool spot_only)
{
    int azi = az ? fr_sim_spot_az_index(e->spot, az) : -1;
    if (az && azi < 0)
        return FR_EPARSE;
    for (size_t i = 0; i < e->nholes;) {
        fr_sim_capacity_hole *h = &e->holes[i];
        if ((!itype || strcmp(h->itype, itype) == 0) && h->az == azi) {
            memmove(h, h + 1, (e->nholes - i - 1) * sizeof(*h));
            e->nholes--;
        } else {
            i++;
        }
    }
    if (available || !itype)
        return 0;
    fr_sim_capacity_hole *nh = realloc(e->holes, (e->nholes + 1) * sizeof(*nh));
    if (!nh)
        return -ENOMEM;
    e->holes = nh;
    fr_sim_capacity_hole *h = &e->holes[e->nholes++];
    fr_strlcpy(h->itype, itype, sizeof(h->itype));
    h->az = azi;
    h->spot_only = spot_only;
    return 0;
}

bool fr_sim_ec2_no_capacity(const fr_sim_ec2 *e, const char *itype, int az, bool spot)
{
    for (size_t i = 0; i < e->nholes; i++) {
        const fr_sim_capacity_hole *h = &e->holes[i];
        if (strcmp(h->itype, itype) == 0 && (h->az < 0 || h->az == az) && (spot || !h->spot_only))
            return true;
    }
    return false;
}
