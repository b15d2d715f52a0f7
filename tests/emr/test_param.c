/* The Parameter Store config: inspection, the byte-preserving rewrite on
 * hand-written configs (tests/emr/configs/) and on random configs generated
 * here with random formatting, and malformed values. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frugal/emr_param.h"
#include "frugal/err.h"
#include "frugal/str.h"

#include "emr_test_util.h"

#ifndef EMR_FIXTURES
#define EMR_FIXTURES "tests/emr/configs"
#endif

static fr_emr_catalog *cat;

static int setup(void **state)
{
    cat = emr_test_catalog();
    return 0;
}

static int teardown(void **state)
{
    fr_emr_catalog_free(cat);
    return 0;
}

static char *fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", EMR_FIXTURES, name);
    char *t = emr_read_all(path, len);
    if (!t)
        fail_msg("cannot read %s", path);
    return t;
}

/* ---- the checks every successful rewrite must pass ---- */

/* Bytes outside the edits are identical, the edits are exactly the CORE/TASK
 * InstanceType contents or the GravitonAmi token of the original, and the
 * replacements are what the edit list says. */
static void check_bytes(const char *orig, size_t len, const fr_emr_rewrite *rw)
{
    fr_emr_param_info info;
    char err[256];
    assert_int_equal(fr_emr_param_inspect(orig, len, &info, err, sizeof(err)), 0);
    size_t at = 0, nat = 0;
    for (size_t i = 0; i < rw->n_edits; i++) {
        const fr_emr_edit *e = &rw->edits[i];
        assert_true(e->start >= at && e->end >= e->start);
        assert_memory_equal(orig + at, rw->text + nat, e->start - at);
        nat += e->start - at;
        size_t nl = strlen(e->new_text);
        assert_memory_equal(rw->text + nat, e->new_text, nl);
        nat += nl;
        at = e->end;
        bool known = false;
        if (strcmp(e->what, "GravitonAmi") == 0)
            known = info.graviton_form != FR_EMR_GV_ABSENT && e->start == info.graviton_start &&
                    e->end == info.graviton_end;
        for (int k = FR_EMR_NODE_CORE; k < FR_EMR_NODE__COUNT; k++)
            for (size_t s = 0; s < info.node[k].n_slots; s++)
                if (strcmp(e->what, "InstanceType") == 0 && e->start == info.node[k].slots[s].type_start &&
                    e->end == info.node[k].slots[s].type_end)
                    known = true;
        for (size_t s = 0; s < info.node[FR_EMR_NODE_MASTER].n_slots; s++) /* MASTER never */
            assert_false(e->start == info.node[FR_EMR_NODE_MASTER].slots[s].type_start);
        assert_true(known);
    }
    assert_int_equal(len - at, rw->len - nat);
    assert_memory_equal(orig + at, rw->text + nat, len - at);
    assert_int_equal(strlen(rw->text), rw->len);
}

static json_t *load_expanded(const char *text, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    assert_non_null(o);
    json_t *inst = json_object_get(o, "Instances");
    if (json_is_string(inst)) {
        json_t *in = json_loads(json_string_value(inst), 0, &je);
        assert_non_null(in);
        json_object_set_new(o, "Instances", in);
    }
    return o;
}

static void set_slot_type(json_t *o, fr_emr_node node, size_t index, const char *type)
{
    json_t *inst = json_object_get(o, "Instances");
    json_t *fl = json_object_get(inst, "InstanceFleets");
    size_t i;
    json_t *e;
    if (fl) {
        json_array_foreach(fl, i, e) if (strcmp(json_string_value(json_object_get(e, "InstanceFleetType")),
                                                fr_emr_node_name(node)) == 0)
        {
            json_object_set_new(json_array_get(json_object_get(e, "InstanceTypeConfigs"), index), "InstanceType",
                                json_string(type));
            return;
        }
        fail();
    }
    size_t seen = 0;
    json_array_foreach(json_object_get(inst, "InstanceGroups"), i, e) if (
        strcmp(json_string_value(json_object_get(e, "InstanceRole")), fr_emr_node_name(node)) == 0)
    {
        if (seen++ == index) {
            json_object_set_new(e, "InstanceType", json_string(type));
            return;
        }
    }
    fail();
}

/* The new value means exactly the old one with the reported changes. */
static void check_semantics(const char *orig, size_t len, const fr_emr_rewrite *rw)
{
    json_t *o = load_expanded(orig, len);
    json_t *n = load_expanded(rw->text, rw->len);
    for (size_t i = 0; i < rw->n_slots; i++)
        if (rw->slots[i].action != FR_EMR_SLOT_KEPT)
            set_slot_type(o, rw->slots[i].node, rw->slots[i].index, rw->slots[i].to);
    if (rw->graviton_changed) {
        json_t *g = json_object_get(o, "GravitonAmi");
        if (json_is_boolean(g)) {
            json_object_set_new(o, "GravitonAmi", json_boolean(!json_is_true(g)));
        } else {
            static const char *pairs[][2] = {{"true", "false"}, {"True", "False"}, {"TRUE", "FALSE"}};
            const char *s = json_string_value(g);
            const char *flip = NULL;
            for (int k = 0; k < 3; k++) {
                if (strcmp(s, pairs[k][0]) == 0)
                    flip = pairs[k][1];
                if (strcmp(s, pairs[k][1]) == 0)
                    flip = pairs[k][0];
            }
            assert_non_null(flip);
            json_object_set_new(o, "GravitonAmi", json_string(flip));
        }
    }
    if (!json_equal(o, n)) {
        char *a = json_dumps(o, JSON_SORT_KEYS), *b = json_dumps(n, JSON_SORT_KEYS);
        fprintf(stderr, "expected %s\ngot      %s\n", a, b);
        free(a);
        free(b);
        fail();
    }
    json_decref(o);
    json_decref(n);
}

static void check_all(const char *orig, size_t len, const fr_emr_rewrite *rw)
{
    check_bytes(orig, len, rw);
    check_semantics(orig, len, rw);
}

static int rewrite(const char *text, size_t len, const char *core_from, const char *core_to, const char *task_from,
                   const char *task_to, fr_emr_rewrite *rw, char *err)
{
    fr_emr_rewrite_req req = {{NULL, core_from, task_from}, {NULL, core_to, task_to}, FR_EMR_TIER_STANDARD};
    int rc = fr_emr_param_rewrite(text, len, cat, &req, rw, err, 256);
    if (rc == 0)
        check_all(text, len, rw);
    return rc;
}

static const char *new_type_of(const fr_emr_rewrite *rw, fr_emr_node node, size_t index)
{
    for (size_t i = 0; i < rw->n_slots; i++)
        if (rw->slots[i].node == node && rw->slots[i].index == index)
            return rw->slots[i].to;
    return NULL;
}

/* ---- hand-written configs ---- */

static void test_inspect_c1(void **state)
{
    size_t len;
    char *t = fixture("c1_compact_string_fleets.json", &len);
    fr_emr_param_info info;
    char err[256];
    assert_int_equal(fr_emr_param_inspect(t, len, &info, err, sizeof(err)), 0);
    assert_string_equal(info.name, "STRESS-TEMPLATE-S");
    assert_true(info.instances_string);
    assert_true(info.fleets);
    assert_int_equal(info.graviton_form, FR_EMR_GV_BOOL);
    assert_true(info.graviton);
    assert_int_equal(info.n_keys, 10);
    const fr_emr_node_cfg *core = &info.node[FR_EMR_NODE_CORE];
    assert_true(core->present);
    assert_int_equal(core->target_od, 2);
    assert_int_equal(core->target_spot, 8);
    assert_int_equal(core->n_slots, 1);
    assert_string_equal(core->slots[0].type, "r7g.4xlarge");
    assert_true(core->slots[0].bid_pct == 100);
    /* the span of CORE's type in the outer text is its content only */
    assert_memory_equal(t + core->slots[0].type_start, "r7g.4xlarge", 11);
    assert_int_equal(core->slots[0].type_end - core->slots[0].type_start, 11);
    assert_memory_equal(t + core->slots[0].type_start - 2, "\\\"", 2);
    assert_string_equal(info.node[FR_EMR_NODE_MASTER].slots[0].type, "r7g.4xlarge");
    assert_int_equal(info.node[FR_EMR_NODE_TASK].target_spot, 5);

    fr_emr_lot lots[8];
    size_t n = fr_emr_param_lots(&info, lots, 8);
    assert_int_equal(n, 4); /* MASTER od 1, CORE od 2, CORE spot 8, TASK spot 5 */
    assert_int_equal(lots[0].node, FR_EMR_NODE_MASTER);
    assert_int_equal(lots[2].market, FR_EMR_MARKET_SPOT);
    assert_int_equal(lots[2].count, 8);
    assert_int_equal(lots[3].count, 5);
    json_t *j = fr_emr_param_info_to_json(&info);
    assert_string_equal(json_string_value(json_object_get(j, "instances_format")), "string");
    assert_true(json_is_true(json_object_get(j, "graviton_ami")));
    assert_int_equal(json_array_size(json_object_get(j, "instances")), 4);
    json_decref(j);
    free(t);
}

/* Same-architecture downsizing: two InstanceType edits, GravitonAmi and
 * MASTER (the same type as CORE) untouched. */
static void test_c1_same_arch(void **state)
{
    size_t len;
    char *t = fixture("c1_compact_string_fleets.json", &len);
    fr_emr_rewrite rw;
    char err[256];
    assert_int_equal(rewrite(t, len, "r7g.4xlarge", "r7g.2xlarge", NULL, "r7g.xlarge", &rw, err), 0);
    assert_int_equal(rw.n_edits, 2);
    assert_int_equal(rw.len, len - 1); /* r7g.4xlarge -> r7g.2xlarge (same length), -> r7g.xlarge (-1) */
    assert_false(rw.arch_change);
    assert_false(rw.graviton_changed);
    assert_string_equal(rw.edits[0].old_text, "r7g.4xlarge");
    assert_string_equal(rw.edits[0].new_text, "r7g.2xlarge");
    fr_emr_param_info ni;
    assert_int_equal(fr_emr_param_inspect(rw.text, rw.len, &ni, err, sizeof(err)), 0);
    assert_string_equal(ni.node[FR_EMR_NODE_MASTER].slots[0].type, "r7g.4xlarge");
    assert_string_equal(ni.node[FR_EMR_NODE_CORE].slots[0].type, "r7g.2xlarge");
    assert_string_equal(ni.node[FR_EMR_NODE_TASK].slots[0].type, "r7g.xlarge");
    json_t *j = fr_emr_rewrite_to_json(&rw);
    assert_int_equal(json_array_size(json_object_get(j, "edits")), 2);
    json_decref(j);
    fr_emr_rewrite_free(&rw);
    free(t);
}

static void test_c1_arch_change(void **state)
{
    size_t len;
    char *t = fixture("c1_compact_string_fleets.json", &len);
    fr_emr_rewrite rw;
    char err[256];
    /* Graviton -> Intel for CORE and TASK: GravitonAmi true -> false (still
     * a boolean); MASTER stays r7g (arm64): reported */
    assert_int_equal(rewrite(t, len, NULL, "r7i.2xlarge", NULL, "m7i.xlarge", &rw, err), 0);
    assert_true(rw.arch_change);
    assert_int_equal(rw.arch_from, FR_EMR_ARCH_ARM64);
    assert_int_equal(rw.arch_to, FR_EMR_ARCH_X86_64);
    assert_true(rw.graviton_changed);
    assert_true(rw.master_arch_mismatch);
    assert_int_equal(rw.n_edits, 3);
    assert_string_equal(rw.edits[0].what, "GravitonAmi"); /* sorted: GravitonAmi comes before Instances */
    assert_string_equal(rw.edits[0].old_text, "true");
    assert_string_equal(rw.edits[0].new_text, "false");
    assert_non_null(strstr(rw.text, "\"GravitonAmi\":false,"));
    fr_emr_rewrite_free(&rw);

    /* only CORE switches: TASK would stay arm64 -> mixed: refused */
    assert_int_equal(rewrite(t, len, NULL, "r7i.2xlarge", NULL, NULL, &rw, err), FR_EDENIED);
    assert_non_null(strstr(err, "mix arm64 and x86_64"));
    /* MASTER is never changed */
    fr_emr_rewrite_req req = {{0}, {"m5.xlarge", NULL, NULL}, FR_EMR_TIER_STANDARD};
    assert_int_equal(fr_emr_param_rewrite(t, len, cat, &req, &rw, err, 256), -EINVAL);
    /* unknown and unsupported targets, wrong from */
    assert_int_equal(rewrite(t, len, NULL, "r9z.2xlarge", NULL, NULL, &rw, err), FR_ENOTFOUND);
    assert_string_equal(err, "CORE: r9z.2xlarge is not in the instance catalog");
    assert_int_equal(rewrite(t, len, NULL, "r7g.large", NULL, NULL, &rw, err), FR_EDENIED);
    assert_int_equal(rewrite(t, len, "m5.xlarge", "r7g.xlarge", NULL, NULL, &rw, err), FR_ENOTFOUND);
    assert_string_equal(err, "CORE: no instance type config of type m5.xlarge in the config");
    /* a request that changes nothing returns the same bytes */
    assert_int_equal(rewrite(t, len, NULL, NULL, NULL, NULL, &rw, err), 0);
    assert_int_equal(rw.len, len);
    assert_memory_equal(rw.text, t, len);
    fr_emr_rewrite_free(&rw);
    assert_int_equal(rewrite(t, len, NULL, "r7g.4xlarge", NULL, NULL, &rw, err), 0);
    assert_int_equal(rw.n_edits, 0);
    fr_emr_rewrite_free(&rw);
    free(t);
}

/* Pretty-printed, CRLF, Instances as an object, instance groups,
 * GravitonAmi "True": Graviton -> Intel flips it to "False" (a capitalised
 * string), every CRLF stays. */
static void test_c2_groups_crlf(void **state)
{
    size_t len;
    char *t = fixture("c2_pretty_crlf_object_groups.json", &len);
    fr_emr_param_info info;
    char err[256];
    assert_int_equal(fr_emr_param_inspect(t, len, &info, err, sizeof(err)), 0);
    assert_false(info.instances_string);
    assert_false(info.fleets);
    assert_int_equal(info.graviton_form, FR_EMR_GV_CAPITAL);
    assert_int_equal(info.node[FR_EMR_NODE_CORE].slots[0].count, 4); /* written 4.0 */
    assert_int_equal(info.node[FR_EMR_NODE_CORE].slots[0].market, FR_EMR_MARKET_SPOT);
    fr_emr_rewrite rw;
    assert_int_equal(rewrite(t, len, NULL, "m6i.xlarge", NULL, "m6i.xlarge", &rw, err), 0);
    assert_true(rw.graviton_changed);
    assert_non_null(strstr(rw.text, "\"GravitonAmi\": \"False\",\r\n"));
    assert_non_null(strstr(rw.text, "\"InstanceCount\": 4.0,\r\n"));
    size_t crlf_old = 0, crlf_new = 0;
    for (size_t i = 0; i + 1 < len; i++)
        crlf_old += t[i] == '\r' && t[i + 1] == '\n';
    for (size_t i = 0; i + 1 < rw.len; i++)
        crlf_new += rw.text[i] == '\r' && rw.text[i + 1] == '\n';
    assert_int_equal(crlf_old, crlf_new);
    assert_string_equal(new_type_of(&rw, FR_EMR_NODE_TASK, 0), "m6i.xlarge");
    fr_emr_rewrite_free(&rw);
    free(t);
}

/* Escapes: \/ in LogUri; \u0022 as the inner quotes; the TASK key written
 * Instance\u0054ype and its value m5\\u002e2xlarge (escaped at the inner
 * level); GravitonAmi "false". */
static void test_c3_escapes(void **state)
{
    size_t len;
    char *t = fixture("c3_escapes.json", &len);
    fr_emr_param_info info;
    char err[256];
    assert_int_equal(fr_emr_param_inspect(t, len, &info, err, sizeof(err)), 0);
    assert_string_equal(info.node[FR_EMR_NODE_TASK].slots[0].type, "m5.2xlarge");
    assert_string_equal(info.node[FR_EMR_NODE_CORE].slots[0].type, "m5.2xlarge");
    /* TASK's span covers the escaped spelling in the outer bytes */
    const fr_emr_slot *ts = &info.node[FR_EMR_NODE_TASK].slots[0];
    assert_int_equal(ts->type_end - ts->type_start, strlen("m5\\\\u002e2xlarge"));
    assert_memory_equal(t + ts->type_start, "m5\\\\u002e2xlarge", ts->type_end - ts->type_start);
    assert_int_equal(info.node[FR_EMR_NODE_TASK].target_od, 0);
    assert_true(info.node[FR_EMR_NODE_TASK].slots[0].weight == 2);
    assert_string_equal(info.node[FR_EMR_NODE_CORE].name, "Core \xe2\x80\x93 main");

    fr_emr_rewrite rw;
    assert_int_equal(rewrite(t, len, NULL, "m5.xlarge", NULL, "m5.xlarge", &rw, err), 0);
    assert_int_equal(rw.n_edits, 2);
    assert_string_equal(rw.edits[1].old_text, "m5\\\\u002e2xlarge");
    assert_non_null(strstr(rw.text, "\"LogUri\": \"s3:\\/\\/bucket\\/logs\\/\""));
    assert_non_null(strstr(rw.text, "{\\u0022InstanceFleets\\u0022:"));
    fr_emr_rewrite_free(&rw);

    /* Intel -> Graviton: "false" -> "true" (lower-case string kept) */
    assert_int_equal(rewrite(t, len, NULL, "m6g.xlarge", NULL, "m6g.xlarge", &rw, err), 0);
    assert_true(rw.graviton_changed);
    assert_non_null(strstr(rw.text, "\"GravitonAmi\": \"true\","));
    fr_emr_rewrite_free(&rw);
    free(t);
}

/* A fleet with three configs, no TASK, GravitonAmi "TRUE". */
static void test_c4_multi_config(void **state)
{
    size_t len;
    char *t = fixture("c4_task_absent_multi_config.json", &len);
    fr_emr_rewrite rw;
    char err[256];
    /* primary r7g.4xlarge -> r7g.2xlarge (-1): the others move one size down */
    assert_int_equal(rewrite(t, len, "r7g.4xlarge", "r7g.2xlarge", NULL, NULL, &rw, err), 0);
    assert_int_equal(rw.n_slots, 3);
    assert_int_equal(rw.slots[0].action, FR_EMR_SLOT_PRIMARY);
    assert_int_equal(rw.slots[1].action, FR_EMR_SLOT_STEPPED);
    assert_string_equal(rw.slots[1].to, "r6g.2xlarge");
    assert_string_equal(rw.slots[2].to, "m6g.2xlarge");
    assert_int_equal(rw.n_edits, 3);
    assert_false(rw.graviton_changed);
    fr_emr_rewrite_free(&rw);

    /* the measured type is the second config: it is the primary */
    assert_int_equal(rewrite(t, len, "r6g.4xlarge", "r6g.xlarge", NULL, NULL, &rw, err), 0);
    assert_int_equal(rw.slots[1].action, FR_EMR_SLOT_PRIMARY);
    assert_string_equal(rw.slots[0].to, "r7g.xlarge");
    assert_string_equal(rw.slots[2].to, "m6g.xlarge");
    fr_emr_rewrite_free(&rw);

    /* cross-family to a same-size type: 0 steps, the others are kept; here
     * the result would mix x86_64 and arm64: refused */
    assert_int_equal(rewrite(t, len, NULL, "r7i.4xlarge", NULL, NULL, &rw, err), FR_EDENIED);
    /* cross-family within Graviton: r7g.4xlarge -> m7g.2xlarge counts -1 on m7g's ladder from m7g.4xlarge */
    assert_int_equal(rewrite(t, len, NULL, "m7g.2xlarge", NULL, NULL, &rw, err), 0);
    assert_string_equal(rw.slots[1].to, "r6g.2xlarge");
    assert_string_equal(rw.slots[2].to, "m6g.2xlarge");
    fr_emr_rewrite_free(&rw);
    /* primary lands on another config's type which cannot move away -> duplicate: refused */
    assert_int_equal(rewrite(t, len, "r7g.4xlarge", "m6g.4xlarge", NULL, NULL, &rw, err), FR_EDENIED);
    assert_non_null(strstr(err, "twice"));
    /* no TASK fleet */
    assert_int_equal(rewrite(t, len, NULL, NULL, NULL, "m6g.xlarge", &rw, err), FR_ENOTFOUND);
    assert_string_equal(err, "TASK: the config has no TASK fleet");
    free(t);
}

/* Instance groups in a string, two TASK groups, no GravitonAmi key. */
static void test_c5_groups_two_task(void **state)
{
    size_t len;
    char *t = fixture("c5_groups_string_two_task.json", &len);
    fr_emr_rewrite rw;
    char err[256];
    /* the measured TASK type is the second group's: it is the primary; the
     * other TASK group moves one size down too */
    assert_int_equal(rewrite(t, len, NULL, "m5.xlarge", "c5.2xlarge", "c5.xlarge", &rw, err), 0);
    assert_string_equal(new_type_of(&rw, FR_EMR_NODE_CORE, 0), "m5.xlarge");
    assert_string_equal(new_type_of(&rw, FR_EMR_NODE_TASK, 0), "m5.xlarge");
    assert_string_equal(new_type_of(&rw, FR_EMR_NODE_TASK, 1), "c5.xlarge");
    assert_int_equal(rw.n_edits, 3);
    fr_emr_rewrite_free(&rw);
    /* to arm64: the second TASK group (m5) can only move within m5, so
     * the architectures would mix: refused */
    assert_int_equal(rewrite(t, len, NULL, "m6g.xlarge", "c5.2xlarge", "c6g.xlarge", &rw, err), FR_EDENIED);
    assert_non_null(strstr(err, "mix arm64 and x86_64"));
    /* a config without GravitonAmi cannot move to arm64 (frugal adds no key) */
    const char *nog = "{\"Name\":\"n\",\"Instances\":{\"InstanceGroups\":[{\"InstanceRole\":\"MASTER\",\"InstanceType\":"
                      "\"m5.xlarge\",\"InstanceCount\":1},{\"InstanceRole\":\"CORE\",\"InstanceType\":\"m5.2xlarge\","
                      "\"InstanceCount\":2}]}}";
    assert_int_equal(rewrite(nog, strlen(nog), NULL, "m6g.xlarge", NULL, NULL, &rw, err), FR_EDENIED);
    assert_non_null(strstr(err, "no GravitonAmi key"));
    /* ... but may leave arm64 (absent counts as false: nothing to edit) */
    const char *nog2 = "{\"Name\":\"n\",\"Instances\":{\"InstanceGroups\":[{\"InstanceRole\":\"MASTER\",\"InstanceType\":"
                       "\"m6g.xlarge\",\"InstanceCount\":1},{\"InstanceRole\":\"CORE\",\"InstanceType\":\"m6g.2xlarge\","
                       "\"InstanceCount\":2}]}}";
    assert_int_equal(rewrite(nog2, strlen(nog2), NULL, "m5.xlarge", NULL, NULL, &rw, err), 0);
    assert_true(rw.arch_change);
    assert_false(rw.graviton_changed);
    assert_true(rw.master_arch_mismatch);
    assert_int_equal(rw.n_edits, 1);
    fr_emr_rewrite_free(&rw);
    fr_emr_param_info info;
    assert_int_equal(fr_emr_param_inspect(t, len, &info, err, sizeof(err)), 0);
    fr_emr_lot lots[8];
    assert_int_equal(fr_emr_param_lots(&info, lots, 8), 4);
    assert_int_equal(lots[3].market, FR_EMR_MARKET_ON_DEMAND);
    assert_int_equal(lots[3].count, 2);
    free(t);
}

/* The tier limit: a Standard value of 4095 bytes that grows by 2. */
static void test_size_limit(void **state)
{
    size_t len;
    char *t = fixture("c1_compact_string_fleets.json", &len);
    const char *key = "\"LogUri\":\"s3://logs/emr/";
    char *at = strstr(t, key);
    assert_non_null(at);
    size_t pad = 4095 - len;
    char *big = malloc(4096 + 1);
    size_t pre = (size_t)(at - t) + strlen(key);
    memcpy(big, t, pre);
    memset(big + pre, 'x', pad);
    memcpy(big + pre + pad, t + pre, len - pre);
    big[4095] = '\0';
    fr_emr_rewrite rw;
    char err[256];
    assert_int_equal(rewrite(big, 4095, NULL, "r7g.12xlarge", NULL, "r7g.12xlarge", &rw, err), FR_ELIMIT);
    assert_string_equal(err, "the rewritten value is 4097 bytes, over the Standard tier's 4096");
    fr_emr_rewrite_req req = {{0}, {NULL, "r7g.12xlarge", "r7g.12xlarge"}, FR_EMR_TIER_ADVANCED};
    assert_int_equal(fr_emr_param_rewrite(big, 4095, cat, &req, &rw, err, sizeof(err)), 0);
    assert_int_equal(rw.len, 4097);
    check_all(big, 4095, &rw);
    fr_emr_rewrite_free(&rw);
    /* shrinking fits */
    assert_int_equal(rewrite(big, 4095, NULL, "r7g.xlarge", NULL, NULL, &rw, err), 0);
    fr_emr_rewrite_free(&rw);
    fr_emr_tier tier;
    assert_int_equal(fr_emr_tier_parse("Advanced", &tier), 0);
    assert_int_equal(fr_emr_tier_limit(tier), 8192);
    assert_int_equal(fr_emr_tier_parse("Intelligent-Tiering", &tier), FR_EPARSE);
    free(big);
    free(t);
}

static void test_malformed(void **state)
{
    static const struct {
        const char *text;
        const char *err;
    } bad[] = {
        {"", "not valid JSON: byte 0 (line 1, column 1): value expected"},
        {"[1,2]", "the value is not a JSON object"},
        {"{\"Name\":\"x\"} x", "not valid JSON: byte 13 (line 1, column 14): trailing data after the JSON value"},
        {"{\"Name\":\"x\",\n \"Instances\": {\"InstanceFleets\": [}\n}", "not valid JSON: byte 47 (line 2, column 35): unexpected character '}'"},
        {"{\"Name\":\"x\"}", "\"Instances\" is missing"},
        {"{\"Instances\":{}}", "\"Name\" is missing"},
        {"{\"Name\":\"x\",\"Instances\":42}", "\"Instances\" is neither a JSON string nor an object"},
        {"{\"Name\":\"x\",\"Instances\":\"{\\\"InstanceFleets\\\": [,]}\"}",
         "\"Instances\" string (outer byte 47): inner JSON byte 20 (line 1, column 21): unexpected character ','"},
        {"{\"Name\":\"x\",\"Instances\":\"[]\"}", "\"Instances\" string does not hold a JSON object"},
        {"{\"Name\":\"x\",\"Instances\":{}}", "Instances has neither \"InstanceFleets\" nor \"InstanceGroups\""},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[],\"InstanceGroups\":[]}}",
         "Instances has both \"InstanceFleets\" and \"InstanceGroups\""},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[]}}", "Instances: no MASTER fleet"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[{\"InstanceFleetType\":\"BOSS\"}]}}",
         "InstanceFleets[0]: \"InstanceFleetType\" is not MASTER, CORE or TASK"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[{\"InstanceFleetType\":\"CORE\",\"InstanceTypeConfigs\":[{\"InstanceType\":\"m5.xlarge\"}]},{\"InstanceFleetType\":\"CORE\",\"InstanceTypeConfigs\":[{\"InstanceType\":\"m5.xlarge\"}]}]}}",
         "InstanceFleets[1]: a second CORE fleet"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[{\"InstanceFleetType\":\"CORE\",\"InstanceTypeConfigs\":[{\"WeightedCapacity\":1}]}]}}",
         "InstanceFleets[0] (CORE): InstanceTypeConfigs[0]: \"InstanceType\" is missing"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[{\"InstanceFleetType\":\"CORE\",\"InstanceTypeConfigs\":[{\"InstanceType\":7}]}]}}",
         "InstanceFleets[0] (CORE): InstanceTypeConfigs[0]: \"InstanceType\" is not an instance type name"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[{\"InstanceFleetType\":\"CORE\",\"InstanceTypeConfigs\":[]}]}}",
         "InstanceFleets[0]: \"InstanceTypeConfigs\" is not a non-empty array"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[{\"InstanceFleetType\":\"CORE\",\"TargetSpotCapacity\":1.5,\"InstanceTypeConfigs\":[{\"InstanceType\":\"m5.xlarge\"}]}]}}",
         "InstanceFleets[0]: \"TargetSpotCapacity\" is not a non-negative integer"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceGroups\":[{\"InstanceRole\":\"CORE\",\"InstanceType\":\"m5.xlarge\"}]}}",
         "InstanceGroups[0] (CORE): \"InstanceCount\" is missing or not a non-negative integer"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceGroups\":[{\"InstanceRole\":\"CORE\",\"InstanceType\":\"m5.xlarge\",\"InstanceCount\":1,\"Market\":\"CHEAP\"}]}}",
         "InstanceGroups[0] (CORE): \"Market\" is not ON_DEMAND or SPOT"},
        {"{\"Name\":\"x\",\"GravitonAmi\":\"yes\",\"Instances\":{}}", "\"GravitonAmi\" is \"yes\", not \"true\" or \"false\""},
        {"{\"Name\":\"x\",\"GravitonAmi\":\"tRue\",\"Instances\":{}}", "\"GravitonAmi\" is \"tRue\": mixed letter case is not kept"},
        {"{\"Name\":\"x\",\"GravitonAmi\":1,\"Instances\":{}}", "\"GravitonAmi\" is neither a boolean nor \"true\"/\"false\""},
        {"{\"Name\":\"x\",\"Name\":\"y\",\"Instances\":{}}", "top-level key \"Name\" appears 2 times"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceGroups\":[{\"InstanceRole\":\"CORE\",\"InstanceType\":\"m5.xlarge\",\"InstanceCount\":1,\"Instance\\u0043ount\":2}]}}",
         "InstanceGroups[0]: key \"InstanceCount\" appears 2 times"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[{\"InstanceFleetType\":\"CORE\",\"InstanceTypeConfigs\":[{\"InstanceType\":\"m5.xlarge\",\"InstanceType\":\"m5.2xlarge\"}]}]}}",
         "InstanceFleets[0] (CORE): InstanceTypeConfigs[0]: key \"InstanceType\" appears 2 times"},
        {"{\"Name\":\"x\",\"Instances\":{\"InstanceFleets\":[],\"InstanceFleets\":[]}}", "Instances: key \"InstanceFleets\" appears 2 times"},
        {"{\"Name\":\"x\\q\"}", "not valid JSON: byte 10 (line 1, column 11): invalid escape '\\q'"},
        {"{\"Name\":\"\\ud800\"}", "not valid JSON: byte 9 (line 1, column 10): high surrogate \\ud800 without its low surrogate"},
        {"{\"Name\":\"x\xff\"}", "not valid JSON: byte 10 (line 1, column 11): invalid UTF-8"},
        {"{\"Name\":\"x", "not valid JSON: byte 8 (line 1, column 9): unterminated string"},
        {"{\"Name\":01}", "not valid JSON: byte 9 (line 1, column 10): ',' or '}' expected"},
        {"{\"Name\":1.}", "not valid JSON: byte 10 (line 1, column 11): digit expected after '.'"},
        {"{\"Name\":tru}", "not valid JSON: byte 8 (line 1, column 9): invalid literal"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fr_emr_param_info info;
        char err[256] = "";
        int rc = fr_emr_param_inspect(bad[i].text, strlen(bad[i].text), &info, err, sizeof(err));
        if (rc != FR_EPARSE || strcmp(err, bad[i].err) != 0) {
            fprintf(stderr, "case %zu: rc %d err '%s'\n   want '%s'\n", i, rc, err, bad[i].err);
            fail();
        }
    }
    /* nesting limit */
    char deep[300];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof(deep), "{\"Name\":");
    for (int i = 0; i < 70; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    fr_emr_param_info info;
    char err[256];
    assert_int_equal(fr_emr_param_inspect(deep, n, &info, err, sizeof(err)), FR_EPARSE);
    assert_non_null(strstr(err, "nested deeper than 64"));
}

/* ---- property test: random configs with random formatting ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static int rint_(rng *r, int n)
{
    return (int)(rnd(r) % (uint64_t)n);
}

typedef struct style {
    int indent;      /* 0: compact */
    const char *nl;  /* "\n" or "\r\n" */
    bool colon_space;
    int escape_pct;  /* chance to escape a plain letter as \u00XX */
    bool quote_u;    /* write '"' as \u0022 */
    bool slash_esc;  /* write '/' as \/ */
} style;

static void random_style(rng *r, style *st)
{
    static const int ind[] = {0, 2, 4, 1};
    st->indent = ind[rint_(r, 4)];
    st->nl = rint_(r, 3) == 0 ? "\r\n" : "\n";
    st->colon_space = rint_(r, 2);
    st->escape_pct = rint_(r, 3) == 0 ? 5 : 0;
    st->quote_u = rint_(r, 3) == 0;
    st->slash_esc = rint_(r, 2);
}

static void w_string(fr_buf *b, rng *r, const style *st, const char *s)
{
    fr_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"')
            fr_buf_puts(b, st->quote_u && rint_(r, 2) ? "\\u0022" : "\\\"");
        else if (c == '\\')
            fr_buf_puts(b, rint_(r, 4) ? "\\\\" : "\\u005c");
        else if (c == '/')
            fr_buf_puts(b, st->slash_esc ? "\\/" : "/");
        else if (c == '\n')
            fr_buf_puts(b, "\\n");
        else if (c == '\r')
            fr_buf_puts(b, "\\r");
        else if (c < 0x20)
            fr_buf_printf(b, "\\u%04x", c);
        else if (((c >= 'a' && c <= 'z') || c == '.') && rint_(r, 100) < st->escape_pct)
            fr_buf_printf(b, rint_(r, 2) ? "\\u%04x" : "\\u%04X", c);
        else
            fr_buf_putc(b, (char)c);
    }
    fr_buf_putc(b, '"');
}

static void w_nl(fr_buf *b, const style *st, int depth)
{
    if (!st->indent)
        return;
    fr_buf_puts(b, st->nl);
    for (int i = 0; i < depth * st->indent; i++)
        fr_buf_putc(b, st->indent == 1 ? '\t' : ' ');
}

static void w_value(fr_buf *b, rng *r, const style *st, json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        bool first = true;
        fr_buf_putc(b, '{');
        json_object_foreach(v, k, x)
        {
            if (!first)
                fr_buf_putc(b, ',');
            first = false;
            w_nl(b, st, depth + 1);
            w_string(b, r, st, k);
            fr_buf_puts(b, st->colon_space ? ": " : ":");
            w_value(b, r, st, x, depth + 1);
        }
        if (!first)
            w_nl(b, st, depth);
        fr_buf_putc(b, '}');
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        fr_buf_putc(b, '[');
        json_array_foreach(v, i, x)
        {
            if (i)
                fr_buf_puts(b, st->indent ? "," : (rint_(r, 2) ? ", " : ","));
            w_nl(b, st, depth + 1);
            w_value(b, r, st, x, depth + 1);
        }
        if (json_array_size(v))
            w_nl(b, st, depth);
        fr_buf_putc(b, ']');
        break;
    }
    case JSON_STRING:
        w_string(b, r, st, json_string_value(v));
        break;
    case JSON_INTEGER: {
        long long n = (long long)json_integer_value(v);
        switch (rint_(r, 4)) {
        case 0:
            fr_buf_printf(b, "%lld.0", n);
            break;
        case 1:
            fr_buf_printf(b, "%lld", n);
            break;
        case 2:
            fr_buf_printf(b, "%llde0", n);
            break;
        default:
            fr_buf_printf(b, "%lld", n);
        }
        break;
    }
    case JSON_REAL:
        fr_buf_printf(b, "%.2f", json_real_value(v));
        break;
    case JSON_TRUE:
        fr_buf_puts(b, "true");
        break;
    case JSON_FALSE:
        fr_buf_puts(b, "false");
        break;
    default:
        fr_buf_puts(b, "null");
    }
}

static const char *arm[] = {"r7g.4xlarge", "r7g.2xlarge", "m6g.2xlarge", "c7g.4xlarge", "r6g.8xlarge", "m7g.xlarge"};
static const char *x86[] = {"m5.2xlarge", "r5.4xlarge", "c6i.4xlarge", "m6i.8xlarge", "r7i.2xlarge", "m5.xlarge"};

static const char *pick(rng *r, bool graviton)
{
    return graviton ? arm[rint_(r, 6)] : x86[rint_(r, 6)];
}

/* Distinct types for a fleet's configs. */
static void pick_distinct(rng *r, bool graviton, const char **out, int n)
{
    for (int i = 0; i < n; i++) {
        const char *t;
        bool dup;
        do {
            t = pick(r, graviton);
            dup = false;
            for (int j = 0; j < i; j++)
                dup |= strcmp(out[j], t) == 0;
        } while (dup);
        out[i] = t;
    }
}

static json_t *random_instances(rng *r, bool graviton, bool fleets, bool task, const char *master_type)
{
    json_t *inst = json_object();
    json_t *arr = json_array();
    static const char *roles[] = {"MASTER", "CORE", "TASK"};
    for (int k = 0; k < 3; k++) {
        if (k == 2 && !task)
            continue;
        if (fleets) {
            json_t *f = json_object();
            int nc = k == 0 ? 1 : 1 + rint_(r, 3);
            const char *types[3];
            pick_distinct(r, graviton, types, nc);
            if (k == 0 && master_type)
                types[0] = master_type;
            json_t *cfgs = json_array();
            for (int i = 0; i < nc; i++) {
                json_t *c = json_object();
                if (rint_(r, 2))
                    json_object_set_new(c, "BidPriceAsPercentageOfOnDemandPrice", json_integer(100));
                json_object_set_new(c, "InstanceType", json_string(types[i]));
                if (rint_(r, 3))
                    json_object_set_new(c, "WeightedCapacity", json_integer(1 << rint_(r, 3)));
                if (rint_(r, 2))
                    json_object_set_new(c, "EbsConfiguration",
                                        json_pack("{s:[{s:{s:s, s:i}, s:i}]}", "EbsBlockDeviceConfigs",
                                                  "VolumeSpecification", "VolumeType", "gp3", "SizeInGB", 64 << rint_(r, 3),
                                                  "VolumesPerInstance", 1));
                json_array_append_new(cfgs, c);
            }
            if (rint_(r, 2))
                json_object_set_new(f, "Name", json_string(k == 0 ? "Master" : k == 1 ? "Core / main" : "Task"));
            json_object_set_new(f, "InstanceFleetType", json_string(roles[k]));
            json_object_set_new(f, "TargetOnDemandCapacity", json_integer(k == 0 ? 1 : rint_(r, 4)));
            if (k)
                json_object_set_new(f, "TargetSpotCapacity", json_integer(rint_(r, 9)));
            json_object_set_new(f, "InstanceTypeConfigs", cfgs);
            if (k && rint_(r, 2))
                json_object_set_new(f, "LaunchSpecifications",
                                    json_pack("{s:{s:i, s:s}}", "SpotSpecification", "TimeoutDurationMinutes", 20,
                                              "TimeoutAction", "SWITCH_TO_ON_DEMAND"));
            json_array_append_new(arr, f);
        } else {
            int ng = k == 2 ? 1 + rint_(r, 2) : 1;
            for (int g = 0; g < ng; g++) {
                json_t *o = json_object();
                json_object_set_new(o, "Name", json_string(roles[k]));
                json_object_set_new(o, "InstanceRole", json_string(roles[k]));
                if (rint_(r, 2))
                    json_object_set_new(o, "Market", json_string(rint_(r, 2) ? "SPOT" : "ON_DEMAND"));
                json_object_set_new(o, "InstanceType",
                                    json_string(k == 0 && master_type ? master_type : pick(r, graviton)));
                json_object_set_new(o, "InstanceCount", json_integer(k == 0 ? 1 : 1 + rint_(r, 6)));
                json_array_append_new(arr, o);
            }
        }
    }
    json_object_set_new(inst, fleets ? "InstanceFleets" : "InstanceGroups", arr);
    if (rint_(r, 2))
        json_object_set_new(inst, fleets ? "Ec2SubnetIds" : "Ec2SubnetId",
                            fleets ? json_pack("[s,s]", "subnet-1", "subnet-2") : json_string("subnet-1"));
    json_object_set_new(inst, "KeepJobFlowAliveWhenNoSteps", json_false());
    return inst;
}

/* Builds a random config; returns the text (malloc'd). */
static char *random_config(rng *r, size_t *len, int *graviton_form)
{
    bool graviton = rint_(r, 2);
    bool fleets = rint_(r, 10) < 7;
    bool task = rint_(r, 10) < 6;
    json_t *inst = random_instances(r, graviton, fleets, task, rint_(r, 10) < 3 ? pick(r, graviton) : NULL);
    style st, ist;
    random_style(r, &st);
    random_style(r, &ist);
    json_t *o = json_object();
    /* keys in a random order: build a list, shuffle, insert */
    const char *keys[] = {"Name", "ReleaseLabel", "LogUri", "GravitonAmi", "Applications", "Instances", "Tags",
                          "Configurations", "StepConcurrencyLevel"};
    int order[9];
    for (int i = 0; i < 9; i++)
        order[i] = i;
    for (int i = 8; i > 0; i--) {
        int j = rint_(r, i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    *graviton_form = rint_(r, 5); /* 0 absent, 1 bool, 2 lower, 3 capital, 4 upper */
    bool instances_string = rint_(r, 4) != 0;
    for (int i = 0; i < 9; i++) {
        const char *k = keys[order[i]];
        if (strcmp(k, "Name") == 0)
            json_object_set_new(o, k, json_sprintf("CLUSTER-%d", rint_(r, 1000)));
        else if (strcmp(k, "ReleaseLabel") == 0)
            json_object_set_new(o, k, json_string("emr-6.15.0"));
        else if (strcmp(k, "LogUri") == 0)
            json_object_set_new(o, k, json_string("s3://logs/emr/x/"));
        else if (strcmp(k, "GravitonAmi") == 0) {
            static const char *forms[][2] = {{"false", "true"}, {"False", "True"}, {"FALSE", "TRUE"}};
            if (*graviton_form == 1)
                json_object_set_new(o, k, json_boolean(graviton));
            else if (*graviton_form >= 2)
                json_object_set_new(o, k, json_string(forms[*graviton_form - 2][graviton]));
        } else if (strcmp(k, "Applications") == 0)
            json_object_set_new(o, k, json_pack("[{s:s},{s:s}]", "Name", "Spark", "Name", "Hive"));
        else if (strcmp(k, "Tags") == 0)
            json_object_set_new(o, k, json_pack("[{s:s, s:s}]", "Key", "owner", "Value", "Zo\xc3\xab \"q\" \\ /"));
        else if (strcmp(k, "Configurations") == 0)
            json_object_set_new(o, k, json_pack("[{s:s, s:{s:s, s:s}}]", "Classification", "spark-defaults",
                                                "Properties", "spark.executor.memory", "8g",
                                                "spark.sql.shuffle.partitions", "200"));
        else if (strcmp(k, "StepConcurrencyLevel") == 0)
            json_object_set_new(o, k, json_integer(1 + rint_(r, 4)));
        else if (strcmp(k, "Instances") == 0) {
            if (instances_string) {
                fr_buf ib = FR_BUF_INIT;
                w_value(&ib, r, &ist, inst, 0);
                json_object_set_new(o, k, json_stringn(ib.data, ib.len));
                fr_buf_free(&ib);
            } else {
                json_object_set(o, k, inst);
            }
        }
    }
    fr_buf b = FR_BUF_INIT;
    w_value(&b, r, &st, o, 0);
    if (rint_(r, 2))
        fr_buf_puts(&b, st.nl);
    json_decref(o);
    json_decref(inst);
    *len = b.len;
    return fr_buf_steal(&b);
}

static void test_property_random_configs(void **state)
{
    rng r = {0x9E3779B97F4A7C15ULL};
    int ok = 0, denied = 0, arch_changes = 0, graviton_flips = 0, stepped = 0;
    const int N = 600;
    for (int it = 0; it < N; it++) {
        size_t len;
        int gform;
        char *t = random_config(&r, &len, &gform);
        fr_emr_param_info info;
        char err[256];
        if (getenv("EMR_TEST_DUMP") && it < 4)
            print_message("--- random config %d ---\n%s\n", it, t);
        if (fr_emr_param_inspect(t, len, &info, err, sizeof(err)) != 0)
            fail_msg("iteration %d: generated config rejected: %s\n%s", it, err, t);
        /* a request: target architecture kept (70%) or switched */
        bool graviton_now = false;
        fr_emr_match m;
        const fr_emr_itype *ct = fr_emr_catalog_resolve(cat, info.node[FR_EMR_NODE_CORE].slots[0].type, &m);
        graviton_now = ct->arch == FR_EMR_ARCH_ARM64;
        bool target = rint_(&r, 10) < 7 ? graviton_now : !graviton_now;
        fr_emr_rewrite_req req = {{NULL, NULL, NULL}, {NULL, NULL, NULL}, FR_EMR_TIER_ADVANCED};
        for (int k = FR_EMR_NODE_CORE; k < FR_EMR_NODE__COUNT; k++) {
            const fr_emr_node_cfg *c = &info.node[k];
            if (!c->present || rint_(&r, 10) < 2)
                continue;
            req.to[k] = pick(&r, target);
            if (rint_(&r, 2))
                req.from[k] = c->slots[rint_(&r, (int)c->n_slots)].type;
        }
        fr_emr_rewrite rw;
        int rc = fr_emr_param_rewrite(t, len, cat, &req, &rw, err, sizeof(err));
        if (rc == 0) {
            check_all(t, len, &rw);
            ok++;
            arch_changes += rw.arch_change;
            graviton_flips += rw.graviton_changed;
            for (size_t i = 0; i < rw.n_slots; i++)
                stepped += rw.slots[i].action == FR_EMR_SLOT_STEPPED;
            /* GravitonAmi matches the new architecture after a change */
            if (rw.arch_change && gform != 0) {
                fr_emr_param_info ni;
                assert_int_equal(fr_emr_param_inspect(rw.text, rw.len, &ni, err, sizeof(err)), 0);
                assert_int_equal(ni.graviton, rw.arch_to == FR_EMR_ARCH_ARM64);
            }
            fr_emr_rewrite_free(&rw);
        } else if (rc == FR_EDENIED) {
            /* the documented refusals only */
            assert_true(strstr(err, "mix arm64") || strstr(err, "twice") || strstr(err, "no GravitonAmi key"));
            denied++;
        } else {
            fail_msg("iteration %d: rc %d (%s)\n%s", it, rc, err, t);
        }
        free(t);
    }
    print_message("random configs: %d rewritten, %d refused, %d arch changes, %d GravitonAmi flips, %d stepped configs\n", ok,
                  denied, arch_changes, graviton_flips, stepped);
    /* the generator exercises every path */
    assert_int_equal(ok + denied, N);
    assert_true(ok > N / 2);
    assert_true(denied > 10);
    assert_true(arch_changes > 20);
    assert_true(graviton_flips > 10);
    assert_true(stepped > 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_c1),
        cmocka_unit_test(test_c1_same_arch),
        cmocka_unit_test(test_c1_arch_change),
        cmocka_unit_test(test_c2_groups_crlf),
        cmocka_unit_test(test_c3_escapes),
        cmocka_unit_test(test_c4_multi_config),
        cmocka_unit_test(test_c5_groups_two_task),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_property_random_configs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
