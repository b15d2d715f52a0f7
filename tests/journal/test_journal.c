/* The run journal: runs, ordered durable entries, commit callbacks,
 * restart ordering, and the crash hook (in a child process). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "frugal/journal.h"
#include "frugal/str.h"

static char dir[256];

static fr_store *open_store(void)
{
    fr_store *st;
    char err[256];
    fr_store_opts o = {1 << 22, 1 << 22, true};
    assert_int_equal(fr_store_open(&st, dir, &o, err, sizeof(err)), 0);
    return st;
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/frugal-journal-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void count_cb(void *arg, int status)
{
    int *n = arg;
    assert_int_equal(status, 0);
    (*n)++;
}

static void test_runs_and_entries(void **state)
{
    fr_store *st = open_store();
    fr_journal *j;
    assert_int_equal(fr_journal_new(&j, st), 0);
    char a[FR_RUN_ID_MAX], b[FR_RUN_ID_MAX];
    json_t *rec = json_pack("{s:s, s:s}", "state", "AWAIT_APPROVAL", "cluster_name", "X");
    assert_int_equal(fr_run_create(j, "emr", rec, 1000000, a), 0);
    json_object_set_new(rec, "state", json_string("DONE"));
    assert_int_equal(fr_run_create(j, "emr", rec, 2000000, b), 0);
    json_decref(rec);
    assert_true(strcmp(a, b) < 0); /* ids sort by time */

    json_t *got = fr_run_get(j, a); /* staged read */
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "kind")), "emr");
    json_object_set_new(got, "state", json_string("WAIT"));
    assert_int_equal(fr_run_put(j, a, got, 3000000), 0);
    json_decref(got);

    int durable = 0;
    assert_int_equal(fr_journal_append(j, a, "MODIFY", "intent", json_pack("{s:s}", "old", "v1"), count_cb, &durable), 0);
    assert_int_equal(fr_journal_append(j, a, "MODIFY", "done", json_pack("{s:i}", "version", 2), count_cb, &durable), 0);
    assert_int_equal(fr_journal_append(j, b, "CREATE", "intent", NULL, NULL, NULL), 0);
    assert_int_equal(durable, 0); /* nothing is durable before the commit */
    assert_int_equal(fr_store_commit(st), 0);
    assert_int_equal(durable, 2);

    json_t *list = fr_run_list(j, "emr", 10);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), b); /* newest first */
    json_decref(list);
    list = fr_run_list(j, "spot", 10);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);

    static const char *const term[] = {"DONE", "FAILED", NULL};
    json_t *open = fr_run_unfinished(j, "emr", term);
    assert_int_equal(json_array_size(open), 1);
    assert_string_equal(json_string_value(json_array_get(open, 0)), a);
    json_decref(open);

    json_t *es = fr_journal_read(j, a);
    assert_int_equal(json_array_size(es), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(es, 0), "phase")), "intent");
    assert_string_equal(json_string_value(json_object_get(json_array_get(es, 1), "phase")), "done");
    json_decref(es);
    fr_journal_free(j);
    fr_store_close(st);

    /* after a restart, new entries still come after the old ones */
    st = open_store();
    assert_int_equal(fr_journal_new(&j, st), 0);
    assert_int_equal(fr_journal_append(j, a, "REVERT", "intent", NULL, NULL, NULL), 0);
    fr_store_commit(st);
    es = fr_journal_read(j, a);
    assert_int_equal(json_array_size(es), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(es, 2), "step")), "REVERT");
    json_decref(es);
    fr_journal_free(j);
    fr_store_close(st);
}

/* Runs created within one second still list in creation order (the id
 * carries the milliseconds), and no two runs share an id, even when many
 * are created in the same millisecond. */
static void test_ids_order_within_a_second(void **state)
{
    (void)state;
    fr_store *st = open_store();
    fr_journal *j;
    assert_int_equal(fr_journal_new(&j, st), 0);
    enum { N = 40 };
    char ids[N][FR_RUN_ID_MAX];
    int64_t base = 1795000000000; /* 2026-11-18T...:00.000Z */
    for (int i = 0; i < N; i++)
        assert_int_equal(fr_run_create(j, "order", NULL, base + 7 + i * 23, ids[i]), 0);
    char same[300][FR_RUN_ID_MAX];
    for (int i = 0; i < 300; i++) /* one millisecond, later than all the above */
        assert_int_equal(fr_run_create(j, "order", NULL, base + 999, same[i]), 0);
    for (int i = 0; i < 300; i++)
        for (int k = 0; k < i; k++)
            assert_string_not_equal(same[i], same[k]);
    assert_int_equal(fr_store_commit(st), 0);
    json_t *list = fr_run_list(j, "order", 300 + N);
    assert_int_equal(json_array_size(list), 300 + N);
    for (int i = 0; i < N; i++) /* newest first: the 300 of the last millisecond, then these backwards */
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 300 + i), "id")), ids[N - 1 - i]);
    assert_memory_equal(ids[0], "r-", 2);
    assert_int_equal(strlen(ids[0]), strlen("r-20261118T000000-007abc"));
    json_decref(list);
    fr_journal_free(j);
    fr_store_close(st);
}

static void test_crash_hook(void **state)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("FRUGAL_CRASH_AT", "MODIFY.intent", 1);
        fr_store *st = open_store();
        fr_journal *j;
        fr_journal_new(&j, st);
        char id[FR_RUN_ID_MAX];
        fr_run_create(j, "emr", NULL, 5000000, id);
        fr_journal_append(j, id, "BACKUP", "done", NULL, NULL, NULL);
        fr_store_commit(st);
        fr_journal_append(j, id, "MODIFY", "intent", NULL, NULL, NULL);
        fr_store_commit(st); /* killed here, after the entry is durable */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    fr_store *st = open_store();
    fr_journal *j;
    fr_journal_new(&j, st);
    json_t *runs = fr_run_list(j, "emr", 100);
    int found = 0;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        json_t *es = fr_journal_read(j, json_string_value(json_object_get(r, "id")));
        size_t n = json_array_size(es);
        if (n && strcmp(json_string_value(json_object_get(json_array_get(es, n - 1), "step")), "MODIFY") == 0)
            found = 1;
        json_decref(es);
    }
    assert_true(found); /* the intent written before the kill survived */
    json_decref(runs);
    fr_journal_free(j);
    fr_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_and_entries),
        cmocka_unit_test(test_ids_order_within_a_second),
        cmocka_unit_test(test_crash_hook),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
