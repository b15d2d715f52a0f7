#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frugal/err.h"
#include "frugal/store.h"
#include "frugal/str.h"

enum { OP_PUT, OP_DEL };

struct op {
    fr_table t;
    int kind;
    void *key;
    size_t klen;
    void *val;
    size_t vlen;
};

struct waiter {
    fr_store_commit_cb cb;
    void *arg;
};

/* A batch taken off the loop: applied and committed (with its fsyncs) by a
 * worker thread while the loop keeps staging the next one. */
struct fr_store_batch {
    struct op *ops;
    size_t nops;
    struct waiter *waiters;
    size_t nwait;
    uint64_t max_seq[FR_TBL__COUNT]; /* highest sequence key per seq table */
    int mdb_rc;
};

struct fr_store {
    MDB_env *env;
    MDB_dbi dbi[FR_TBL__COUNT];
    MDB_txn *rtxn;   /* cached read-only transaction, reset between uses */
    int rtxn_live; /* nesting depth of reads using rtxn */
    struct op *ops;
    size_t nops, capops;
    struct waiter *waiters;
    size_t nwait, capwait;
    uint64_t next_seq[FR_TBL__COUNT];
    uint64_t durable_seq[FR_TBL__COUNT]; /* next_seq as of the last successful commit */
    uint64_t committed_seq[FR_TBL__COUNT]; /* highest durable sequence key */
    uint64_t failed_seq[FR_TBL__COUNT];    /* highest sequence key of the last failed batch */
    struct fr_store_batch *inflight;       /* at most one batch is out at a time */
    uint64_t map_size, map_size_max;
    fr_store_stats stats;
};

static const char *table_names[FR_TBL__COUNT] = {"meta",   "runs",   "journal",   "audit", "audit_idx",
                                                 "events", "prices", "decisions", "cache"};
static const bool seq_table[FR_TBL__COUNT] = {[FR_TBL_AUDIT] = true, [FR_TBL_EVENTS] = true};

const char *fr_store_table_name(fr_table t)
{
    return t < FR_TBL__COUNT ? table_names[t] : "?";
}

/* Reads may nest (a scan callback may get or scan again): they share the
 * one read transaction, which is reset when the outermost read ends. */
static int rtxn_begin(fr_store *s, MDB_txn **out)
{
    int rc;
    if (s->rtxn_live) {
        s->rtxn_live++;
        *out = s->rtxn;
        return 0;
    }
    if (s->rtxn) {
        rc = mdb_txn_renew(s->rtxn);
        if (rc) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
        }
    }
    if (!s->rtxn) {
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
        if (rc)
            return fr_err_from_mdb(rc);
    }
    s->rtxn_live = 1;
    *out = s->rtxn;
    return 0;
}

static void rtxn_end(fr_store *s)
{
    if (s->rtxn_live && --s->rtxn_live == 0 && s->rtxn)
        mdb_txn_reset(s->rtxn);
}

static int load_seq(fr_store *s, MDB_txn *txn, fr_table t)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->dbi[t], &cur);
    if (rc)
        return fr_err_from_mdb(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        s->next_seq[t] = fr_store_key_seq(k.mv_data) + 1;
    else
        s->next_seq[t] = 1;
    mdb_cursor_close(cur);
    return 0;
}

int fr_store_open(fr_store **out, const char *dir, const fr_store_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create store directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    fr_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->map_size = opts && opts->map_size ? opts->map_size : 256ULL << 20;
    s->map_size_max = opts && opts->map_size_max ? opts->map_size_max : s->map_size;
    if (s->map_size_max < s->map_size)
        s->map_size_max = s->map_size;
    int rc = mdb_env_create(&s->env);
    if (rc)
        goto fail_mdb;
    mdb_env_set_maxdbs(s->env, FR_TBL__COUNT + 2);
    mdb_env_set_mapsize(s->env, s->map_size);
    unsigned flags = MDB_NOTLS;
    if (opts && opts->nosync)
        flags |= MDB_NOSYNC;
    rc = mdb_env_open(s->env, dir, flags, 0600);
    if (rc)
        goto fail_mdb;
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* readers left by a killed process */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize; /* an existing file may be larger */
    if (s->map_size_max < s->map_size)
        s->map_size_max = s->map_size;

    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        goto fail_mdb;
    for (int t = 0; t < FR_TBL__COUNT; t++) {
        rc = mdb_dbi_open(txn, table_names[t], MDB_CREATE, &s->dbi[t]);
        if (rc) {
            mdb_txn_abort(txn);
            goto fail_mdb;
        }
    }
    MDB_val k = {14, (void *)"schema_version"}, v;
    rc = mdb_get(txn, s->dbi[FR_TBL_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        char ver[16];
        int n = snprintf(ver, sizeof(ver), "%d", FR_STORE_SCHEMA_VERSION);
        MDB_val nv = {(size_t)n, ver};
        rc = mdb_put(txn, s->dbi[FR_TBL_META], &k, &nv, 0);
    } else if (rc == 0) {
        char ver[16] = {0};
        memcpy(ver, v.mv_data, v.mv_size < 15 ? v.mv_size : 15);
        int64_t have = -1;
        if (fr_parse_i64(ver, &have) || have != FR_STORE_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            snprintf(err, errlen,
                     "store %s has schema version \"%s\" but this frugald uses version %d; "
                     "run the matching frugald or move the directory aside",
                     dir, ver, FR_STORE_SCHEMA_VERSION);
            mdb_env_close(s->env);
            free(s);
            return FR_ESCHEMA;
        }
    }
    if (rc) {
        mdb_txn_abort(txn);
        goto fail_mdb;
    }
    for (int t = 0; t < FR_TBL__COUNT; t++)
        if (seq_table[t] && (rc = load_seq(s, txn, (fr_table)t)) != 0) {
            mdb_txn_abort(txn);
            mdb_env_close(s->env);
            free(s);
            return rc;
        }
    rc = mdb_txn_commit(txn);
    if (rc)
        goto fail_mdb;
    memcpy(s->durable_seq, s->next_seq, sizeof(s->next_seq));
    for (int t = 0; t < FR_TBL__COUNT; t++)
        if (seq_table[t] && s->next_seq[t])
            s->committed_seq[t] = s->next_seq[t] - 1;
    *out = s;
    return 0;

fail_mdb:
    snprintf(err, errlen, "cannot open store %s: %s", dir, mdb_strerror(rc));
    if (s->env)
        mdb_env_close(s->env);
    free(s);
    return fr_err_from_mdb(rc);
}

static void free_ops(fr_store *s)
{
    for (size_t i = 0; i < s->nops; i++) {
        free(s->ops[i].key);
        free(s->ops[i].val);
    }
    s->nops = 0;
}

void fr_store_close(fr_store *s)
{
    if (!s)
        return;
    fr_store_commit(s);
    free_ops(s);
    free(s->ops);
    free(s->waiters);
    if (s->rtxn)
        mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    free(s);
}

static int stage(fr_store *s, fr_table t, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (t >= FR_TBL__COUNT || klen == 0 || klen > 511)
        return -EINVAL;
    if (s->nops == s->capops) {
        size_t cap = s->capops ? s->capops * 2 : 32;
        struct op *p = realloc(s->ops, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->ops = p;
        s->capops = cap;
    }
    struct op *o = &s->ops[s->nops];
    o->t = t;
    o->kind = kind;
    o->klen = klen;
    o->vlen = vlen;
    o->key = malloc(klen);
    o->val = kind == OP_PUT ? malloc(vlen ? vlen : 1) : NULL;
    if (!o->key || (kind == OP_PUT && !o->val)) {
        free(o->key);
        free(o->val);
        return -ENOMEM;
    }
    memcpy(o->key, key, klen);
    if (kind == OP_PUT && vlen)
        memcpy(o->val, val, vlen);
    s->nops++;
    return 0;
}

int fr_store_put(fr_store *s, fr_table t, const void *key, size_t klen, const void *val, size_t vlen)
{
    return stage(s, t, OP_PUT, key, klen, val, vlen);
}

int fr_store_del(fr_store *s, fr_table t, const void *key, size_t klen)
{
    return stage(s, t, OP_DEL, key, klen, NULL, 0);
}

int fr_store_put_json(fr_store *s, fr_table t, const char *key, const json_t *val)
{
    char *txt = json_dumps(val, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!txt)
        return -ENOMEM;
    int rc = fr_store_put(s, t, key, strlen(key), txt, strlen(txt));
    free(txt);
    return rc;
}

int fr_store_append(fr_store *s, fr_table t, const void *val, size_t vlen, uint64_t *seq_out)
{
    if (t >= FR_TBL__COUNT || !seq_table[t])
        return -EINVAL;
    unsigned char k[8];
    uint64_t seq = s->next_seq[t];
    fr_store_seq_key(seq, k);
    int rc = fr_store_put(s, t, k, 8, val, vlen);
    if (rc)
        return rc;
    s->next_seq[t]++;
    if (seq_out)
        *seq_out = seq;
    return 0;
}

uint64_t fr_store_last_seq(fr_store *s, fr_table t)
{
    return t < FR_TBL__COUNT && s->next_seq[t] ? s->next_seq[t] - 1 : 0;
}

static const struct op *overlay_find(const struct op *ops, size_t n, fr_table t, const void *key, size_t klen)
{
    for (size_t i = n; i-- > 0;) {
        const struct op *o = &ops[i];
        if (o->t == t && o->klen == klen && memcmp(o->key, key, klen) == 0)
            return o;
    }
    return NULL;
}

int fr_store_get(fr_store *s, fr_table t, const void *key, size_t klen, fr_buf *out)
{
    /* Newest first: what is staged, then the batch being committed, then disk. */
    const struct op *o = overlay_find(s->ops, s->nops, t, key, klen);
    if (!o && s->inflight)
        o = overlay_find(s->inflight->ops, s->inflight->nops, t, key, klen);
    if (o) {
        if (o->kind == OP_DEL)
            return FR_ENOTFOUND;
        fr_buf_reset(out);
        return fr_buf_append(out, o->val, o->vlen);
    }
    MDB_txn *txn;
    int rc = rtxn_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key}, v;
    rc = mdb_get(txn, s->dbi[t], &k, &v);
    if (rc == 0) {
        fr_buf_reset(out);
        rc = fr_buf_append(out, v.mv_data, v.mv_size); /* copy before the txn ends */
    } else {
        rc = fr_err_from_mdb(rc);
    }
    rtxn_end(s);
    return rc;
}

json_t *fr_store_get_json(fr_store *s, fr_table t, const char *key)
{
    fr_buf b = FR_BUF_INIT;
    json_t *j = NULL;
    if (fr_store_get(s, t, key, strlen(key), &b) == 0)
        j = json_loadb(b.data, b.len, 0, NULL);
    fr_buf_free(&b);
    return j;
}

/* LMDB's default key order: bytes, then length. */
static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

struct ov {
    const struct op *op;
    size_t order; /* staging order: later wins */
};

static int cmp_ov(const void *x, const void *y)
{
    const struct ov *a = x, *b = y;
    int c = key_cmp(a->op->key, a->op->klen, b->op->key, b->op->klen);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* The writes not yet on disk for table t, one per key (the newest), in key order. */
static struct ov *overlay_build(fr_store *s, fr_table t, size_t *n_out)
{
    size_t cap = s->nops + (s->inflight ? s->inflight->nops : 0), n = 0, order = 0;
    *n_out = 0;
    if (!cap)
        return NULL;
    struct ov *v = malloc(cap * sizeof(*v));
    if (!v)
        return NULL;
    if (s->inflight)
        for (size_t i = 0; i < s->inflight->nops; i++, order++)
            if (s->inflight->ops[i].t == t)
                v[n++] = (struct ov){&s->inflight->ops[i], order};
    for (size_t i = 0; i < s->nops; i++, order++)
        if (s->ops[i].t == t)
            v[n++] = (struct ov){&s->ops[i], order};
    qsort(v, n, sizeof(*v), cmp_ov);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && key_cmp(v[m - 1].op->key, v[m - 1].op->klen, v[i].op->key, v[i].op->klen) == 0)
            v[m - 1] = v[i]; /* sorted by order within a key: keep the last */
        else
            v[m++] = v[i];
    }
    *n_out = m;
    return v;
}

int fr_store_scan(fr_store *s, fr_table t, const void *start, size_t slen, bool reverse, fr_store_scan_fn fn,
                  void *arg)
{
    size_t nov = 0;
    struct ov *ov = overlay_build(s, t, &nov);
    MDB_txn *txn;
    int rc = rtxn_begin(s, &txn);
    if (rc) {
        free(ov);
        return rc;
    }
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, s->dbi[t], &cur);
    if (rc) {
        rtxn_end(s);
        free(ov);
        return fr_err_from_mdb(rc);
    }
    MDB_val k = {slen, (void *)start}, v;
    if (!reverse) {
        rc = start ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    } else if (!start) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        else if (rc == 0 && (k.mv_size != slen || memcmp(k.mv_data, start, slen) != 0))
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    /* The overlay cursor: first entry at or past start in scan direction. */
    ssize_t oi;
    if (!reverse) {
        oi = 0;
        while (start && (size_t)oi < nov && key_cmp(ov[oi].op->key, ov[oi].op->klen, start, slen) < 0)
            oi++;
    } else {
        oi = (ssize_t)nov - 1;
        while (start && oi >= 0 && key_cmp(ov[oi].op->key, ov[oi].op->klen, start, slen) > 0)
            oi--;
    }
    int stop = 0;
    while (!stop) {
        int have_db = rc == 0;
        int have_ov = reverse ? oi >= 0 : (size_t)oi < nov;
        if (!have_db && !have_ov)
            break;
        int c;
        if (have_db && have_ov) {
            c = key_cmp(k.mv_data, k.mv_size, ov[oi].op->key, ov[oi].op->klen);
            if (reverse)
                c = -c;
        } else {
            c = have_db ? -1 : 1;
        }
        if (c < 0) { /* a key only on disk */
            stop = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
            rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
            continue;
        }
        const struct op *o = ov[oi].op; /* the newer write wins over the disk */
        if (o->kind == OP_PUT)
            stop = fn(arg, o->key, o->klen, o->val, o->vlen);
        oi += reverse ? -1 : 1;
        if (c == 0)
            rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cur);
    rtxn_end(s);
    free(ov);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : fr_err_from_mdb(rc);
}

struct prefix_ctx {
    const void *prefix;
    size_t plen;
    fr_store_scan_fn fn;
    void *arg;
};

static int prefix_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct prefix_ctx *c = arg;
    if (kl < c->plen || memcmp(k, c->prefix, c->plen) != 0)
        return 1;
    return c->fn(c->arg, k, kl, v, vl);
}

int fr_store_scan_prefix(fr_store *s, fr_table t, const void *prefix, size_t plen, fr_store_scan_fn fn, void *arg)
{
    struct prefix_ctx c = {prefix, plen, fn, arg};
    return fr_store_scan(s, t, prefix, plen, false, prefix_cb, &c);
}

int fr_store_prune(fr_store *s, fr_table t, uint64_t keep)
{
    if (!seq_table[t])
        return -EINVAL;
    uint64_t last = fr_store_last_seq(s, t);
    if (last <= keep)
        return 0;
    uint64_t cut = last - keep; /* delete seq <= cut */
    MDB_txn *txn;
    int rc = rtxn_begin(s, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, s->dbi[t], &cur);
    uint64_t first = 0;
    if (rc == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8)
            first = fr_store_key_seq(k.mv_data);
        mdb_cursor_close(cur);
    }
    rtxn_end(s);
    if (rc)
        return fr_err_from_mdb(rc);
    /* Bounded per call so one prune never makes a huge transaction. */
    for (uint64_t q = first; q && q <= cut && q < first + 10000; q++) {
        unsigned char k[8];
        fr_store_seq_key(q, k);
        if ((rc = fr_store_del(s, t, k, 8)) != 0)
            return rc;
    }
    return 0;
}

size_t fr_store_pending(const fr_store *s)
{
    return s->nops;
}

int fr_store_on_commit(fr_store *s, fr_store_commit_cb cb, void *arg)
{
    if (s->nwait == s->capwait) {
        size_t cap = s->capwait ? s->capwait * 2 : 16;
        struct waiter *p = realloc(s->waiters, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->waiters = p;
        s->capwait = cap;
    }
    s->waiters[s->nwait++] = (struct waiter){cb, arg};
    return 0;
}

static int apply_list(fr_store *s, const struct op *ops, size_t nops)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return rc;
    for (size_t i = 0; i < nops; i++) {
        const struct op *o = &ops[i];
        MDB_val k = {o->klen, o->key};
        if (o->kind == OP_PUT) {
            MDB_val v = {o->vlen, o->val};
            rc = mdb_put(txn, s->dbi[o->t], &k, &v, 0);
        } else {
            rc = mdb_del(txn, s->dbi[o->t], &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc) {
            mdb_txn_abort(txn);
            return rc;
        }
    }
    return mdb_txn_commit(txn); /* on failure the txn is already freed */
}

int fr_store_commit(fr_store *s)
{
    int rc = 0;
    if (s->inflight)
        return -EBUSY; /* the worker's batch must land first, in order */
    if (s->nops) {
        int mrc = apply_list(s, s->ops, s->nops);
        /* Grow and retry: the batch was aborted whole, so nothing is
         * half-applied. Remapping needs every read transaction of this
         * process closed, so not while a scan is running (a commit from
         * inside a scan callback then fails with ENOSPC instead). */
        while (mrc == MDB_MAP_FULL && s->map_size < s->map_size_max && !s->rtxn_live) {
            uint64_t want = s->map_size * 2;
            if (want > s->map_size_max)
                want = s->map_size_max;
            if (s->rtxn) {
                mdb_txn_abort(s->rtxn);
                s->rtxn = NULL;
            }
            if (mdb_env_set_mapsize(s->env, want) != 0)
                break;
            s->map_size = want;
            s->stats.map_grows++;
            mrc = apply_list(s, s->ops, s->nops);
        }
        if (mrc == MDB_MAP_RESIZED && !s->rtxn_live) {
            /* Another process grew the map: adopt its size. */
            if (s->rtxn) {
                mdb_txn_abort(s->rtxn);
                s->rtxn = NULL;
            }
            mdb_env_set_mapsize(s->env, 0);
            MDB_envinfo info;
            mdb_env_info(s->env, &info);
            s->map_size = info.me_mapsize;
            mrc = apply_list(s, s->ops, s->nops);
        }
        rc = fr_err_from_mdb(mrc);
        if (rc) {
            s->stats.commit_errors++;
            /* A failed batch must not keep seq numbers that were never written. */
            memcpy(s->next_seq, s->durable_seq, sizeof(s->next_seq));
        } else {
            s->stats.commits++;
            memcpy(s->durable_seq, s->next_seq, sizeof(s->next_seq));
            for (int t = 0; t < FR_TBL__COUNT; t++)
                if (seq_table[t] && s->next_seq[t])
                    s->committed_seq[t] = s->next_seq[t] - 1;
        }
        free_ops(s);
    }
    /* Waiters registered during callbacks belong to the next commit. */
    size_t n = s->nwait;
    if (n) {
        struct waiter *w = malloc(n * sizeof(*w));
        if (!w)
            return -ENOMEM;
        memcpy(w, s->waiters, n * sizeof(*w));
        memmove(s->waiters, s->waiters + n, (s->nwait - n) * sizeof(*w));
        s->nwait -= n;
        for (size_t i = 0; i < n; i++)
            w[i].cb(w[i].arg, rc);
        free(w);
    }
    return rc;
}

/* ---- batches committed off the loop ---- */

fr_store_batch *fr_store_batch_take(fr_store *s)
{
    if (s->inflight || (!s->nops && !s->nwait))
        return NULL;
    fr_store_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->ops = s->ops;
    b->nops = s->nops;
    b->waiters = s->waiters;
    b->nwait = s->nwait;
    for (size_t i = 0; i < b->nops; i++) {
        const struct op *o = &b->ops[i];
        if (seq_table[o->t] && o->kind == OP_PUT && o->klen == 8) {
            uint64_t q = fr_store_key_seq(o->key);
            if (q > b->max_seq[o->t])
                b->max_seq[o->t] = q;
        }
    }
    s->ops = NULL;
    s->nops = s->capops = 0;
    s->waiters = NULL;
    s->nwait = s->capwait = 0;
    s->inflight = b;
    return b;
}

void fr_store_batch_apply(fr_store *s, fr_store_batch *b)
{
    /* Worker thread: touches only LMDB (a write transaction may live in any
     * one thread; the loop's readers are unaffected, MVCC). */
    b->mdb_rc = b->nops ? apply_list(s, b->ops, b->nops) : 0;
}

static void batch_free(fr_store_batch *b)
{
    for (size_t i = 0; i < b->nops; i++) {
        free(b->ops[i].key);
        free(b->ops[i].val);
    }
    free(b->ops);
    free(b->waiters);
    free(b);
}

int fr_store_batch_finish(fr_store *s, fr_store_batch *b)
{
    int mrc = b->mdb_rc;
    if (mrc == MDB_MAP_FULL && s->map_size < s->map_size_max && !s->rtxn_live) {
        uint64_t want = s->map_size * 2 > s->map_size_max ? s->map_size_max : s->map_size * 2;
        if (s->rtxn) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
        }
        if (mdb_env_set_mapsize(s->env, want) == 0) {
            s->map_size = want;
            s->stats.map_grows++;
            return -EAGAIN; /* nothing was applied: apply the same batch again */
        }
    }
    if (mrc == MDB_MAP_RESIZED && !s->rtxn_live) {
        if (s->rtxn) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
        }
        mdb_env_set_mapsize(s->env, 0);
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        s->map_size = info.me_mapsize;
        return -EAGAIN;
    }
    int rc = fr_err_from_mdb(mrc);
    for (int t = 0; t < FR_TBL__COUNT; t++) {
        if (!seq_table[t] || !b->max_seq[t])
            continue;
        if (rc == 0 && b->max_seq[t] > s->committed_seq[t])
            s->committed_seq[t] = b->max_seq[t];
        if (rc != 0)
            s->failed_seq[t] = b->max_seq[t];
    }
    if (rc) {
        s->stats.commit_errors++;
        /* Sequence numbers of a lost batch are reused only when nothing was
         * staged after it; otherwise they stay a gap. */
        if (!s->nops)
            memcpy(s->next_seq, s->durable_seq, sizeof(s->next_seq));
    } else {
        s->stats.commits++;
        for (int t = 0; t < FR_TBL__COUNT; t++)
            if (seq_table[t])
                s->durable_seq[t] = s->committed_seq[t] + 1;
    }
    s->inflight = NULL;
    for (size_t i = 0; i < b->nwait; i++)
        b->waiters[i].cb(b->waiters[i].arg, rc);
    batch_free(b);
    return rc;
}

static size_t drop_from(struct waiter *w, size_t *n, fr_store_commit_cb cb, void **args, size_t nargs)
{
    size_t j = 0, dropped = 0;
    for (size_t i = 0; i < *n; i++) {
        if (w[i].cb == cb) {
            if (dropped < nargs)
                args[dropped] = w[i].arg;
            dropped++;
        } else {
            w[j++] = w[i];
        }
    }
    *n = j;
    return dropped;
}

void fr_store_drop_waiters(fr_store *s, fr_store_commit_cb cb)
{
    size_t total = s->nwait + (s->inflight ? s->inflight->nwait : 0);
    if (!total)
        return;
    void **args = malloc(total * sizeof(*args));
    if (!args)
        return;
    size_t n = drop_from(s->waiters, &s->nwait, cb, args, total);
    if (s->inflight)
        n += drop_from(s->inflight->waiters, &s->inflight->nwait, cb, args + n, total - n);
    for (size_t i = 0; i < n; i++)
        cb(args[i], -ECANCELED);
    free(args);
}

bool fr_store_batch_busy(const fr_store *s)
{
    return s->inflight != NULL;
}

bool fr_store_has_work(const fr_store *s)
{
    return s->nops || s->nwait;
}

uint64_t fr_store_committed_seq(const fr_store *s, fr_table t)
{
    return t < FR_TBL__COUNT ? s->committed_seq[t] : 0;
}

uint64_t fr_store_failed_seq(const fr_store *s, fr_table t)
{
    return t < FR_TBL__COUNT ? s->failed_seq[t] : 0;
}

int fr_store_stats_get(fr_store *s, fr_store_stats *st)
{
    *st = s->stats;
    MDB_envinfo info;
    MDB_stat ms;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &ms);
    st->map_size = info.me_mapsize;
    st->used_bytes = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
    MDB_txn *txn;
    if (rtxn_begin(s, &txn) == 0) {
        for (int t = 0; t < FR_TBL__COUNT; t++) {
            MDB_stat ts;
            if (mdb_stat(txn, s->dbi[t], &ts) == 0)
                st->entries[t] = ts.ms_entries;
        }
        rtxn_end(s);
    }
    return 0;
}
