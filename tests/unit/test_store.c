/* The LMDB store: staged writes, reads, scans, sequences, commit callbacks,
 * schema versions, a full map and map growth. Each test uses its own
 * temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "frugal/err.h"
#include "frugal/store.h"
#include "frugal/str.h"

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/frugal-store-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return fr_strdup(d);
}

static void rmtree(const char *dir)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static fr_store *open_store(const char *dir, uint64_t map, uint64_t max)
{
    fr_store *s = NULL;
    char err[512] = "";
    fr_store_opts o = {map, max, true};
    int rc = fr_store_open(&s, dir, &o, err, sizeof(err));
    if (rc)
        print_message("open: %s\n", err);
    assert_int_equal(rc, 0);
    return s;
}

static int get_str(fr_store *s, fr_table t, const char *k, char *out, size_t n)
{
    fr_buf b = FR_BUF_INIT;
    int rc = fr_store_get(s, t, k, strlen(k), &b);
    if (rc == 0)
        fr_strlcpy(out, fr_buf_cstr(&b), n);
    fr_buf_free(&b);
    return rc;
}

static void test_put_get_del(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fr_store *s = open_store(dir, 1 << 20, 1 << 20);
    char v[64];
    assert_int_equal(get_str(s, FR_TBL_RUNS, "a", v, sizeof(v)), FR_ENOTFOUND);
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, "a", 1, "one", 3), 0);
    /* Staged writes are visible to get before the commit. */
    assert_int_equal(fr_store_pending(s), 1);
    assert_int_equal(get_str(s, FR_TBL_RUNS, "a", v, sizeof(v)), 0);
    assert_string_equal(v, "one");
    /* Tables are separate namespaces. */
    assert_int_equal(get_str(s, FR_TBL_CACHE, "a", v, sizeof(v)), FR_ENOTFOUND);
    assert_int_equal(fr_store_commit(s), 0);
    assert_int_equal(fr_store_pending(s), 0);
    assert_int_equal(get_str(s, FR_TBL_RUNS, "a", v, sizeof(v)), 0);
    assert_string_equal(v, "one");
    /* The newest staged op wins, including a staged delete. */
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, "a", 1, "two", 3), 0);
    assert_int_equal(get_str(s, FR_TBL_RUNS, "a", v, sizeof(v)), 0);
    assert_string_equal(v, "two");
    assert_int_equal(fr_store_del(s, FR_TBL_RUNS, "a", 1), 0);
    assert_int_equal(get_str(s, FR_TBL_RUNS, "a", v, sizeof(v)), FR_ENOTFOUND);
    assert_int_equal(fr_store_commit(s), 0);
    assert_int_equal(get_str(s, FR_TBL_RUNS, "a", v, sizeof(v)), FR_ENOTFOUND);
    /* Deleting what does not exist is not an error. */
    assert_int_equal(fr_store_del(s, FR_TBL_RUNS, "zz", 2), 0);
    assert_int_equal(fr_store_commit(s), 0);
    /* Bad keys. */
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, "", 0, "x", 1), -EINVAL);
    char big[600];
    memset(big, 'k', sizeof(big));
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, big, sizeof(big), "x", 1), -EINVAL);
    /* Empty values. */
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, "e", 1, NULL, 0), 0);
    assert_int_equal(fr_store_commit(s), 0);
    assert_int_equal(get_str(s, FR_TBL_RUNS, "e", v, sizeof(v)), 0);
    assert_string_equal(v, "");
    /* JSON helpers. */
    json_t *j = json_pack("{s:s, s:i}", "state", "done", "n", 3);
    assert_int_equal(fr_store_put_json(s, FR_TBL_RUNS, "run-1", j), 0);
    json_decref(j);
    j = fr_store_get_json(s, FR_TBL_RUNS, "run-1");
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "done");
    json_decref(j);
    assert_null(fr_store_get_json(s, FR_TBL_RUNS, "run-2"));
    fr_store_close(s);
    /* Reopen: what was committed (or staged at close) is there. */
    s = open_store(dir, 1 << 20, 1 << 20);
    j = fr_store_get_json(s, FR_TBL_RUNS, "run-1");
    assert_non_null(j);
    json_decref(j);
    fr_store_close(s);
    rmtree(dir);
    free(dir);
}

struct collect {
    char keys[64][16];
    int n;
    int stop_at;
};

static int collect_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct collect *c = arg;
    (void)v;
    (void)vl;
    if (c->n < 64) {
        size_t l = kl < 15 ? kl : 15;
        memcpy(c->keys[c->n], k, l);
        c->keys[c->n][l] = '\0';
        c->n++;
    }
    return c->stop_at && c->n >= c->stop_at;
}

static void test_scan(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fr_store *s = open_store(dir, 1 << 20, 1 << 20);
    const char *keys[] = {"b/2", "a/1", "b/1", "c/1", "b/3", "a/2"};
    for (size_t i = 0; i < FR_ARRAY_SIZE(keys); i++)
        assert_int_equal(fr_store_put(s, FR_TBL_CACHE, keys[i], 3, "v", 1), 0);
    /* Scans see what is staged without flushing it. */
    struct collect c = {.n = 0};
    assert_int_equal(fr_store_scan(s, FR_TBL_CACHE, NULL, 0, false, collect_cb, &c), 0);
    assert_int_equal(fr_store_pending(s), 6);
    assert_int_equal(c.n, 6);
    assert_int_equal(fr_store_commit(s), 0);
    assert_string_equal(c.keys[0], "a/1");
    assert_string_equal(c.keys[5], "c/1");
    /* From a start key. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan(s, FR_TBL_CACHE, "b/", 2, false, collect_cb, &c), 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.keys[0], "b/1");
    /* Reverse from the end, from an existing key, from between keys, from past the end. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan(s, FR_TBL_CACHE, NULL, 0, true, collect_cb, &c), 0);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.keys[0], "c/1");
    assert_string_equal(c.keys[5], "a/1");
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan(s, FR_TBL_CACHE, "b/2", 3, true, collect_cb, &c), 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.keys[0], "b/2");
    assert_string_equal(c.keys[1], "b/1");
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan(s, FR_TBL_CACHE, "b/25", 4, true, collect_cb, &c), 0);
    assert_string_equal(c.keys[0], "b/2");
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan(s, FR_TBL_CACHE, "zzz", 3, true, collect_cb, &c), 0);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.keys[0], "c/1");
    /* Stop early. */
    memset(&c, 0, sizeof(c));
    c.stop_at = 2;
    assert_int_equal(fr_store_scan(s, FR_TBL_CACHE, NULL, 0, false, collect_cb, &c), 0);
    assert_int_equal(c.n, 2);
    /* Prefix. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan_prefix(s, FR_TBL_CACHE, "b/", 2, collect_cb, &c), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "b/1");
    assert_string_equal(c.keys[2], "b/3");
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan_prefix(s, FR_TBL_CACHE, "d/", 2, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);
    /* An empty table. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(fr_store_scan(s, FR_TBL_PRICES, NULL, 0, true, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);
    fr_store_close(s);
    rmtree(dir);
    free(dir);
}

struct nested {
    fr_store *s;
    int n, bad;
};

/* Reads inside a scan callback share the scan's read transaction. */
static int nested_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct nested *c = arg;
    fr_buf b = FR_BUF_INIT;
    if (fr_store_get(c->s, FR_TBL_RUNS, k, kl, &b) != 0 || b.len != vl || memcmp(b.data, v, vl) != 0)
        c->bad++;
    fr_buf_free(&b);
    c->n++;
    return 0;
}

static void test_nested_read(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fr_store *s = open_store(dir, 1 << 20, 1 << 20);
    for (int i = 0; i < 20; i++) {
        char k[16];
        int n = snprintf(k, sizeof(k), "k%02d", i);
        assert_int_equal(fr_store_put(s, FR_TBL_RUNS, k, (size_t)n, k, (size_t)n), 0);
    }
    assert_int_equal(fr_store_commit(s), 0);
    struct nested c = {s, 0, 0};
    assert_int_equal(fr_store_scan(s, FR_TBL_RUNS, NULL, 0, false, nested_cb, &c), 0);
    assert_int_equal(c.n, 20);
    assert_int_equal(c.bad, 0);
    fr_store_close(s);
    rmtree(dir);
    free(dir);
}

static int count_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)v;
    (void)vl;
    uint64_t *acc = arg;
    if (kl == 8) {
        if (acc[0] == 0)
            acc[1] = fr_store_key_seq(k); /* first */
        acc[2] = fr_store_key_seq(k);     /* last */
    }
    acc[0]++;
    return 0;
}

static void test_append_seq_prune(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fr_store *s = open_store(dir, 1 << 20, 1 << 20);
    uint64_t seq = 0;
    assert_int_equal(fr_store_last_seq(s, FR_TBL_EVENTS), 0);
    assert_int_equal(fr_store_append(s, FR_TBL_RUNS, "x", 1, &seq), -EINVAL); /* not a seq table */
    for (int i = 1; i <= 250; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "e%d", i);
        assert_int_equal(fr_store_append(s, FR_TBL_EVENTS, v, (size_t)n, &seq), 0);
        assert_int_equal(seq, (uint64_t)i);
    }
    assert_int_equal(fr_store_last_seq(s, FR_TBL_EVENTS), 250);
    /* Sequences are per table. */
    assert_int_equal(fr_store_append(s, FR_TBL_AUDIT, "a", 1, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(fr_store_commit(s), 0);
    unsigned char k[8];
    fr_store_seq_key(42, k);
    fr_buf b = FR_BUF_INIT;
    assert_int_equal(fr_store_get(s, FR_TBL_EVENTS, k, 8, &b), 0);
    assert_string_equal(fr_buf_cstr(&b), "e42");
    fr_buf_free(&b);
    /* Keys sort numerically (big-endian). */
    uint64_t acc[3] = {0};
    assert_int_equal(fr_store_scan(s, FR_TBL_EVENTS, NULL, 0, false, count_cb, acc), 0);
    assert_int_equal(acc[0], 250);
    assert_int_equal(acc[1], 1);
    assert_int_equal(acc[2], 250);
    /* Prune keeps the newest. */
    assert_int_equal(fr_store_prune(s, FR_TBL_EVENTS, 100), 0);
    assert_int_equal(fr_store_commit(s), 0);
    memset(acc, 0, sizeof(acc));
    assert_int_equal(fr_store_scan(s, FR_TBL_EVENTS, NULL, 0, false, count_cb, acc), 0);
    assert_int_equal(acc[0], 100);
    assert_int_equal(acc[1], 151);
    assert_int_equal(acc[2], 250);
    assert_int_equal(fr_store_prune(s, FR_TBL_EVENTS, 1000), 0); /* nothing to do */
    assert_int_equal(fr_store_prune(s, FR_TBL_RUNS, 1), -EINVAL);
    fr_store_close(s);
    /* The sequence continues after a reopen, even after pruning. */
    s = open_store(dir, 1 << 20, 1 << 20);
    assert_int_equal(fr_store_last_seq(s, FR_TBL_EVENTS), 250);
    assert_int_equal(fr_store_append(s, FR_TBL_EVENTS, "z", 1, &seq), 0);
    assert_int_equal(seq, 251);
    fr_store_close(s);
    rmtree(dir);
    free(dir);
}

struct order {
    int calls[8];
    int status[8];
    int n;
    fr_store *s;
    int reregister;
};

static void order_cb1(void *arg, int status);

static void order_cb0(void *arg, int status)
{
    struct order *o = arg;
    o->calls[o->n] = 0;
    o->status[o->n++] = status;
}

static void order_cb1(void *arg, int status)
{
    struct order *o = arg;
    o->calls[o->n] = 1;
    o->status[o->n++] = status;
    /* Registered from a callback: belongs to the next commit. */
    if (o->reregister) {
        o->reregister = 0;
        fr_store_on_commit(o->s, order_cb0, o);
    }
}

static void test_on_commit(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fr_store *s = open_store(dir, 1 << 20, 1 << 20);
    struct order o = {.s = s, .reregister = 1};
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, "r", 1, "1", 1), 0);
    assert_int_equal(fr_store_on_commit(s, order_cb0, &o), 0);
    assert_int_equal(fr_store_on_commit(s, order_cb1, &o), 0);
    assert_int_equal(o.n, 0); /* not before the commit */
    assert_int_equal(fr_store_commit(s), 0);
    assert_int_equal(o.n, 2);
    assert_int_equal(o.calls[0], 0); /* in registration order */
    assert_int_equal(o.calls[1], 1);
    assert_int_equal(o.status[0], 0);
    assert_int_equal(o.status[1], 0);
    /* The one registered inside a callback runs at the next commit, even an empty one. */
    assert_int_equal(fr_store_commit(s), 0);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.calls[2], 0);
    assert_int_equal(fr_store_commit(s), 0);
    assert_int_equal(o.n, 3);
    fr_store_close(s);
    rmtree(dir);
    free(dir);
}

static void test_schema_mismatch(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fr_store *s = open_store(dir, 1 << 20, 1 << 20);
    assert_int_equal(fr_store_put(s, FR_TBL_META, "schema_version", 14, "999", 3), 0);
    fr_store_close(s);
    char err[512] = "";
    fr_store_opts o = {1 << 20, 1 << 20, true};
    s = NULL;
    assert_int_equal(fr_store_open(&s, dir, &o, err, sizeof(err)), FR_ESCHEMA);
    assert_null(s);
    print_message("    %s\n", err);
    assert_non_null(strstr(err, "schema version \"999\""));
    assert_non_null(strstr(err, dir));
    char want[32];
    snprintf(want, sizeof(want), "uses version %d", FR_STORE_SCHEMA_VERSION);
    assert_non_null(strstr(err, want));
    rmtree(dir);
    free(dir);
    /* A directory that cannot be created is a clear error too. */
    err[0] = '\0';
    assert_int_not_equal(fr_store_open(&s, "/proc/nope/db", &o, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "/proc/nope/db"));
}

static void status_cb(void *arg, int status)
{
    int *st = arg;
    *st = status;
}

static int stage_batch(fr_store *s, const char *prefix, int n, size_t vlen)
{
    char *v = malloc(vlen);
    memset(v, 'v', vlen);
    for (int i = 0; i < n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof(k), "%s%05d", prefix, i);
        int rc = fr_store_put(s, FR_TBL_CACHE, k, (size_t)kl, v, vlen);
        if (rc) {
            free(v);
            return rc;
        }
    }
    free(v);
    return 0;
}

static void test_map_full(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fr_store *s = open_store(dir, 1 << 20, 1 << 20);
    /* Something durable first. */
    uint64_t seq;
    assert_int_equal(fr_store_append(s, FR_TBL_EVENTS, "before", 6, &seq), 0);
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, "keep", 4, "yes", 3), 0);
    assert_int_equal(fr_store_commit(s), 0);
    /* 3 MB into a 1 MB map that may not grow. */
    assert_int_equal(stage_batch(s, "big", 300, 10000), 0);
    assert_int_equal(fr_store_append(s, FR_TBL_EVENTS, "lost", 4, &seq), 0);
    assert_int_equal(seq, 2);
    int st = 1;
    assert_int_equal(fr_store_on_commit(s, status_cb, &st), 0);
    assert_int_equal(fr_store_commit(s), -ENOSPC);
    assert_int_equal(st, -ENOSPC); /* the callback learns the batch failed */
    assert_int_equal(fr_store_pending(s), 0);
    fr_store_stats stats;
    fr_store_stats_get(s, &stats);
    assert_int_equal(stats.commit_errors, 1);
    assert_int_equal(stats.map_grows, 0);
    /* Nothing of the batch was applied. */
    char v[16];
    struct collect c = {.n = 0};
    assert_int_equal(fr_store_scan_prefix(s, FR_TBL_CACHE, "big", 3, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(fr_store_last_seq(s, FR_TBL_EVENTS), 1); /* the failed append's seq is reused */
    /* Earlier data is intact and the store still works. */
    assert_int_equal(get_str(s, FR_TBL_RUNS, "keep", v, sizeof(v)), 0);
    assert_string_equal(v, "yes");
    assert_int_equal(fr_store_append(s, FR_TBL_EVENTS, "after", 5, &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(fr_store_put(s, FR_TBL_RUNS, "after", 5, "ok", 2), 0);
    assert_int_equal(fr_store_commit(s), 0);
    assert_int_equal(get_str(s, FR_TBL_RUNS, "after", v, sizeof(v)), 0);
    fr_store_close(s);
    s = open_store(dir, 1 << 20, 1 << 20);
    assert_int_equal(fr_store_last_seq(s, FR_TBL_EVENTS), 2);
    fr_store_close(s);
    rmtree(dir);
    free(dir);
}

static void test_map_growth(void **state)
{
    (void)state;
    char *dir = tmpdir();
    /* 1 MB growing up to 6 MB (not a power-of-two multiple). */
    fr_store *s = open_store(dir, 1 << 20, 6 << 20);
    assert_int_equal(stage_batch(s, "g", 300, 10000), 0);
    assert_int_equal(fr_store_commit(s), 0);
    fr_store_stats st;
    fr_store_stats_get(s, &st);
    print_message("    map grew %llu times to %llu bytes\n", (unsigned long long)st.map_grows,
                  (unsigned long long)st.map_size);
    assert_true(st.map_grows >= 1);
    assert_true(st.map_size > (1u << 20));
    assert_true(st.map_size <= (6u << 20));
    assert_int_equal(st.entries[FR_TBL_CACHE], 300);
    /* Grows up to the maximum exactly: ~5 MB fits in 6 MB though 8 MB is past it. */
    assert_int_equal(stage_batch(s, "h", 200, 10000), 0);
    assert_int_equal(fr_store_commit(s), 0);
    fr_store_stats_get(s, &st);
    assert_int_equal(st.map_size, 6u << 20);
    /* And past the maximum it fails cleanly. */
    assert_int_equal(stage_batch(s, "i", 300, 10000), 0);
    assert_int_equal(fr_store_commit(s), -ENOSPC);
    assert_int_equal(stage_batch(s, "j", 2, 100), 0);
    assert_int_equal(fr_store_commit(s), 0);
    fr_store_close(s);
    /* Reopening with a smaller configured map still maps all the data. */
    s = open_store(dir, 1 << 20, 1 << 20);
    fr_store_stats_get(s, &st);
    assert_true(st.map_size >= st.used_bytes);
    assert_true(st.map_size > (4u << 20));
    assert_int_equal(st.entries[FR_TBL_CACHE], 502);
    fr_store_close(s);
    rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),    cmocka_unit_test(test_scan),
        cmocka_unit_test(test_nested_read),    cmocka_unit_test(test_append_seq_prune),
        cmocka_unit_test(test_on_commit),      cmocka_unit_test(test_schema_mismatch),
        cmocka_unit_test(test_map_full),       cmocka_unit_test(test_map_growth),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
