#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fr_config.h"
#include "frugal/err.h"
#include "frugal/journal.h"
#include "frugal/log.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"

struct fr_journal {
    fr_store *st;
    uint64_t next_seq; /* per process; entries are ordered by (run, seq) */
};

struct pending {
    fr_journal *j;
    fr_journal_cb cb;
    void *arg;
    char kind[16];
    char point[64];
};

static void on_durable(void *arg, int status);

static int max_seq_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    uint64_t *max = arg;
    if (kl >= 9) {
        uint64_t s = fr_store_key_seq((const char *)k + kl - 8);
        if (s > *max)
            *max = s;
    }
    return 0;
}

int fr_journal_new(fr_journal **out, fr_store *st)
{
    fr_journal *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->st = st;
    /* Entries are ordered by (run, seq): a restarted process must append
     * after everything already written, whatever the clock says. */
    uint64_t max = 0;
    fr_store_scan(st, FR_TBL_JOURNAL, NULL, 0, false, max_seq_cb, &max);
    j->next_seq = max + 1;
    *out = j;
    return 0;
}

void fr_journal_free(fr_journal *j)
{
    if (!j)
        return;
    /* Callbacks of entries not yet durable hear -ECANCELED now, not later. */
    fr_store_drop_waiters(j->st, on_durable);
    free(j);
}

int fr_run_create(fr_journal *j, const char *kind, const json_t *record, int64_t now_ms, char id[FR_RUN_ID_MAX])
{
    /* r-20261122T103100-042a7f: the creation time to the millisecond (the
     * last part starts with the 3 millisecond digits, then 3 random hex),
     * so ids sort in creation order; an id already taken draws again. */
    char ts[32], rnd[5];
    fr_time_amz(ts, sizeof(ts), now_ms); /* 20261122T103100Z */
    ts[15] = '\0';                       /* drop the Z */
    int ms = (int)(((now_ms % 1000) + 1000) % 1000);
    for (int attempt = 0;; attempt++) {
        if (fr_rand_hex(rnd, 2) != 0)
            return -EIO;
        rnd[3] = '\0';
        snprintf(id, FR_RUN_ID_MAX, "r-%s-%03d%s", ts, ms, rnd);
        json_t *taken = fr_run_get(j, id);
        if (!taken)
            break;
        json_decref(taken);
        if (attempt == 16)
            return -EEXIST;
    }
    json_t *r = record ? json_deep_copy(record) : json_object();
    if (!r)
        return -ENOMEM;
    char iso[40];
    fr_time_iso8601(iso, sizeof(iso), now_ms, 0);
    json_object_set_new(r, "id", json_string(id));
    json_object_set_new(r, "kind", json_string(kind));
    json_object_set_new(r, "created", json_string(iso));
    json_object_set_new(r, "updated", json_string(iso));
    int rc = fr_store_put_json(j->st, FR_TBL_RUNS, id, r);
    json_decref(r);
    return rc;
}

json_t *fr_run_get(fr_journal *j, const char *id)
{
    return fr_store_get_json(j->st, FR_TBL_RUNS, id);
}

int fr_run_put(fr_journal *j, const char *id, json_t *record, int64_t now_ms)
{
    char iso[40];
    fr_time_iso8601(iso, sizeof(iso), now_ms, 0);
    json_object_set_new(record, "updated", json_string(iso));
    return fr_store_put_json(j->st, FR_TBL_RUNS, id, record);
}

struct list_ctx {
    const char *kind;
    size_t limit;
    json_t *out;
    const char *const *terminal;
    int ids_only;
};

static int run_scan_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct list_ctx *c = arg;
    json_t *r = json_loadb(v, vl, 0, NULL);
    if (!r)
        return 0; /* a damaged record is skipped, not fatal */
    const char *kind = json_string_value(json_object_get(r, "kind"));
    if (c->kind && (!kind || strcmp(kind, c->kind) != 0)) {
        json_decref(r);
        return 0;
    }
    if (c->terminal) {
        const char *state = json_string_value(json_object_get(r, "state"));
        int term = 0;
        for (const char *const *t = c->terminal; *t && state; t++)
            if (strcmp(*t, state) == 0)
                term = 1;
        if (!term)
            json_array_append_new(c->out, json_stringn(k, kl));
        json_decref(r);
        return 0;
    }
    json_array_append_new(c->out, r);
    return c->limit && json_array_size(c->out) >= c->limit;
}

json_t *fr_run_list(fr_journal *j, const char *kind, size_t limit)
{
    struct list_ctx c = {kind, limit, json_array(), NULL, 0};
    fr_store_scan(j->st, FR_TBL_RUNS, NULL, 0, true, run_scan_cb, &c);
    return c.out;
}

json_t *fr_run_unfinished(fr_journal *j, const char *kind, const char *const *terminal)
{
    struct list_ctx c = {kind, 0, json_array(), terminal, 1};
    fr_store_scan(j->st, FR_TBL_RUNS, NULL, 0, false, run_scan_cb, &c);
    return c.out;
}

void fr_crash_point(const char *kind, const char *point)
{
#if FR_CRASH_HOOKS
    const char *want = getenv("FRUGAL_CRASH_AT");
    if (!want || !*want)
        return;
    char full[96];
    snprintf(full, sizeof(full), "%s:%s", kind ? kind : "", point);
    if (strcmp(want, point) != 0 && strcmp(want, full) != 0)
        return;
    static int skipped;
    const char *skip = getenv("FRUGAL_CRASH_AT_SKIP");
    int64_t n = 0;
    if (skip && fr_parse_i64(skip, &n) == 0 && skipped < n) {
        skipped++;
        return;
    }
    fr_log_warn("crash_hook", "{s:s}", "point", full);
    raise(SIGKILL);
#else
    (void)kind;
    (void)point;
#endif
}

static void on_durable(void *arg, int status)
{
    struct pending *p = arg;
    if (status == -ECANCELED && !p->cb) {
        free(p);
        return;
    }
    if (status == 0)
        fr_crash_point(p->kind, p->point);
    if (p->cb)
        p->cb(p->arg, status);
    free(p);
}

int fr_journal_append(fr_journal *j, const char *run_id, const char *step, const char *phase, json_t *data,
                      fr_journal_cb cb, void *arg)
{
    size_t il = strlen(run_id);
    if (il == 0 || il >= FR_RUN_ID_MAX) {
        json_decref(data);
        return -EINVAL;
    }
    uint64_t seq = j->next_seq++;
    char ts[40];
    fr_time_iso8601(ts, sizeof(ts), fr_time_now_ms(), 1);
    json_t *e = json_pack("{s:I, s:s, s:s, s:s, s:o}", "seq", (json_int_t)seq, "ts", ts, "step", step, "phase", phase,
                          "data", data ? data : json_object());
    if (!e)
        return -ENOMEM;
    char *txt = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(e);
    if (!txt)
        return -ENOMEM;
    unsigned char key[FR_RUN_ID_MAX + 9];
    memcpy(key, run_id, il);
    key[il] = '\0';
    fr_store_seq_key(seq, key + il + 1);
    int rc = fr_store_put(j->st, FR_TBL_JOURNAL, key, il + 9, txt, strlen(txt));
    free(txt);
    if (rc)
        return rc;
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->j = j;
    p->cb = cb;
    p->arg = arg;
    /* the kind is the run id's owner; runs store it, entries carry the step */
    json_t *run = fr_run_get(j, run_id);
    fr_strlcpy(p->kind, run ? (json_string_value(json_object_get(run, "kind")) ?: "") : "", sizeof(p->kind));
    json_decref(run);
    snprintf(p->point, sizeof(p->point), "%s.%s", step, phase);
    return fr_store_on_commit(j->st, on_durable, p);
}

static int entry_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    json_t *e = json_loadb(v, vl, 0, NULL);
    if (e)
        json_array_append_new(arg, e);
    return 0;
}

json_t *fr_journal_read(fr_journal *j, const char *run_id)
{
    json_t *out = json_array();
    size_t il = strlen(run_id);
    char prefix[FR_RUN_ID_MAX + 1];
    if (il >= FR_RUN_ID_MAX)
        return out;
    memcpy(prefix, run_id, il);
    prefix[il] = '\0';
    fr_store_scan_prefix(j->st, FR_TBL_JOURNAL, prefix, il + 1, entry_cb, out);
    return out;
}
