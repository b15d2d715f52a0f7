/* Worlds read from a file or posted to /_sim/reset: checked, and completed
 * with defaults (ids, start offsets, steps, one parameter per cluster name).
 * Pure. */
#include <stdio.h>
#include <string.h>

#include "frugal/err.h"
#include "util.h"
#include "world.h"

/* ---- normalisation of hand-written worlds ---- */

int fr_sim_world_normalize(json_t *w, const fr_sim_world_opts *o, char *err, size_t errlen)
{
    if (!json_is_object(w)) {
        snprintf(err, errlen, "the world must be a JSON object");
        return FR_EPARSE;
    }
    int64_t v = FR_SIM_WORLD_VERSION;
    if (fr_sim_jint(w, "version", &v) == 0 && v != FR_SIM_WORLD_VERSION) {
        snprintf(err, errlen, "unsupported world version %lld", (long long)v);
        return FR_EPARSE;
    }
    if (!json_object_get(w, "region"))
        json_object_set_new(w, "region", json_string(o->region));
    if (!json_object_get(w, "seed"))
        json_object_set_new(w, "seed", json_integer((json_int_t)o->seed));
    json_t *clusters = json_object_get(w, "clusters");
    if (!clusters)
        json_object_set_new(w, "clusters", clusters = json_array());
    if (!json_is_array(clusters)) {
        snprintf(err, errlen, "clusters must be an array");
        return FR_EPARSE;
    }
    json_t *params = json_object_get(w, "parameters");
    bool make_params = !params;
    if (make_params)
        json_object_set_new(w, "parameters", params = json_array());
    size_t i;
    json_t *c;
    json_array_foreach(clusters, i, c)
    {
        if (!json_is_object(c)) {
            snprintf(err, errlen, "clusters[%zu] must be an object", i);
            return FR_EPARSE;
        }
        json_t *cfg = json_object_get(c, "config");
        if (json_is_object(cfg)) {
            char *s = json_dumps(cfg, JSON_PRESERVE_ORDER | JSON_COMPACT);
            json_object_set_new(c, "config", json_string(s ? s : "{}"));
            free(s);
        } else if (!json_is_string(cfg)) {
            snprintf(err, errlen, "clusters[%zu].config must be the cluster config (string or object)", i);
            return FR_EPARSE;
        }
        const char *name = fr_sim_jstr(c, "name");
        if (!name) {
            json_t *parsed = json_loads(fr_sim_jstr(c, "config"), 0, NULL);
            const char *n = fr_sim_jstr(parsed, "Name");
            if (!n) {
                json_decref(parsed);
                snprintf(err, errlen, "clusters[%zu] needs a name (or a config with Name)", i);
                return FR_EPARSE;
            }
            json_object_set_new(c, "name", json_string(n));
            json_decref(parsed);
            name = fr_sim_jstr(c, "name");
        }
        if (!fr_sim_jstr(c, "id")) {
            char id[24];
            fr_sim_id_emr(id, sizeof(id), "j-", fr_sim_hash3(o->seed, 0x77, i));
            json_object_set_new(c, "id", json_string(id));
        }
        if (!json_object_get(c, "start_offset_s"))
            json_object_set_new(c, "start_offset_s", json_integer(-3600));
        if (!json_object_get(c, "steps"))
            json_object_set_new(c, "steps", json_array());
        if (make_params) {
            char pname[512];
            snprintf(pname, sizeof(pname), "%s%s", FR_SIM_PARAM_PREFIX, name);
            /* the last run of a name defines its parameter */
            size_t k;
            json_t *p;
            bool found = false;
            json_array_foreach(params, k, p) if (strcmp(fr_sim_jstr(p, "name"), pname) == 0)
            {
                json_object_set(p, "value", json_object_get(c, "config"));
                found = true;
            }
            if (!found)
                json_array_append_new(params, json_pack("{s:s, s:O, s:s}", "name", pname, "value",
                                                        json_object_get(c, "config"), "type", "String"));
        }
    }
    json_array_foreach(params, i, c)
    {
        json_t *val = json_object_get(c, "value");
        if (json_is_object(val)) {
            char *s = json_dumps(val, JSON_PRESERVE_ORDER | JSON_COMPACT);
            json_object_set_new(c, "value", json_string(s ? s : "{}"));
            free(s);
        }
        if (!fr_sim_jstr(c, "name") || !fr_sim_jstr(c, "value")) {
            snprintf(err, errlen, "parameters[%zu] needs name and value", i);
            return FR_EPARSE;
        }
        if (!fr_sim_jstr(c, "tier"))
            json_object_set_new(c, "tier",
                                json_string(strlen(fr_sim_jstr(c, "value")) > 4096 ? "Advanced" : "Standard"));
    }
    if (!json_object_get(w, "ec2_instances"))
        json_object_set_new(w, "ec2_instances", json_array());
    return 0;
}
