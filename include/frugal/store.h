/* Durable state in LMDB behind an opaque handle.
 *
 * Writes are staged in memory and applied in one write transaction by
 * fr_store_commit(); the daemon commits once per loop iteration, so a burst
 * of writes costs one fsync. Reads see staged writes (get) or flush them
 * first (scan). Callbacks registered with fr_store_on_commit() run after the
 * batch that holds everything staged before them is durable; this is how the
 * run journal makes an intent durable before acting on it. */
#ifndef FRUGAL_STORE_H
#define FRUGAL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "frugal/buf.h"

#define FR_STORE_SCHEMA_VERSION 1

typedef enum {
    FR_TBL_META,      /* schema version, instance id, misc */
    FR_TBL_RUNS,      /* run id -> run record (JSON) */
    FR_TBL_JOURNAL,   /* run id \0 seq -> journal entry (JSON) */
    FR_TBL_AUDIT,     /* seq -> audit record (JSON) */
    FR_TBL_AUDIT_IDX, /* correlation id \0 seq -> "" */
    FR_TBL_EVENTS,    /* seq -> feed event (JSON) */
    FR_TBL_PRICES,    /* spot price history (spot optimizer) */
    FR_TBL_DECISIONS, /* spot decisions */
    FR_TBL_CACHE,     /* refreshable caches (cluster list, analyses) */
    FR_TBL__COUNT
} fr_table;

typedef struct fr_store fr_store;

typedef struct fr_store_opts {
    uint64_t map_size;
    uint64_t map_size_max;
    bool nosync; /* tests and benchmarks only */
} fr_store_opts;

typedef struct fr_store_stats {
    uint64_t map_size;
    uint64_t used_bytes;
    uint64_t entries[FR_TBL__COUNT];
    uint64_t commits;
    uint64_t commit_errors;
    uint64_t map_grows;
} fr_store_stats;

typedef void (*fr_store_commit_cb)(void *arg, int status);
/* Return non-zero to stop the scan. */
typedef int (*fr_store_scan_fn)(void *arg, const void *key, size_t klen, const void *val, size_t vlen);

int fr_store_open(fr_store **out, const char *dir, const fr_store_opts *opts, char *err, size_t errlen);
/* Commits what is staged, then closes. */
void fr_store_close(fr_store *s);
const char *fr_store_table_name(fr_table t);

int fr_store_put(fr_store *s, fr_table t, const void *key, size_t klen, const void *val, size_t vlen);
int fr_store_del(fr_store *s, fr_table t, const void *key, size_t klen);
int fr_store_put_json(fr_store *s, fr_table t, const char *key, const json_t *val);
/* Appends under the next sequence number of a seq-keyed table. */
int fr_store_append(fr_store *s, fr_table t, const void *val, size_t vlen, uint64_t *seq_out);
uint64_t fr_store_last_seq(fr_store *s, fr_table t);

int fr_store_get(fr_store *s, fr_table t, const void *key, size_t klen, fr_buf *out);
json_t *fr_store_get_json(fr_store *s, fr_table t, const char *key);
/* Iterates keys >= start (or <= start when reverse; NULL start = from the end). */
int fr_store_scan(fr_store *s, fr_table t, const void *start, size_t slen, bool reverse, fr_store_scan_fn fn,
                  void *arg);
/* Iterates keys with the given prefix in order. */
int fr_store_scan_prefix(fr_store *s, fr_table t, const void *prefix, size_t plen, fr_store_scan_fn fn, void *arg);
/* Deletes the oldest entries of a seq-keyed table, keeping the last keep. */
int fr_store_prune(fr_store *s, fr_table t, uint64_t keep);

/* Applies everything staged in one write transaction on this thread; runs
 * the on-commit callbacks. -EBUSY while a batch is out (see below). */
int fr_store_commit(fr_store *s);
size_t fr_store_pending(const fr_store *s);

/* Group commit off the loop. The daemon takes what is staged as a batch,
 * applies it on a worker thread (the commit's fsyncs happen there) while
 * the loop stages the next one, and finishes it back on the loop, where the
 * batch's on-commit callbacks run. At most one batch is out; reads and
 * scans see staged and in-flight writes. */
typedef struct fr_store_batch fr_store_batch;
/* NULL when nothing is staged or a batch is already out. */
fr_store_batch *fr_store_batch_take(fr_store *s);
/* Worker thread. */
void fr_store_batch_apply(fr_store *s, fr_store_batch *b);
/* Loop thread. -EAGAIN: the map was grown; apply the same batch again.
 * Otherwise the batch is freed and its callbacks ran with the result. */
int fr_store_batch_finish(fr_store *s, fr_store_batch *b);
bool fr_store_batch_busy(const fr_store *s);
/* Withdraws every pending callback registered with cb (staged or in the
 * batch being written); each is called once now with -ECANCELED so it can
 * free its argument. For owners that go away before the store. */
void fr_store_drop_waiters(fr_store *s, fr_store_commit_cb cb);
bool fr_store_has_work(const fr_store *s);
/* Highest sequence number of a seq table known durable / lost in the last
 * failed batch. */
uint64_t fr_store_committed_seq(const fr_store *s, fr_table t);
uint64_t fr_store_failed_seq(const fr_store *s, fr_table t);
int fr_store_on_commit(fr_store *s, fr_store_commit_cb cb, void *arg);
int fr_store_stats_get(fr_store *s, fr_store_stats *st);

static inline void fr_store_seq_key(uint64_t seq, unsigned char out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(seq & 0xff);
        seq >>= 8;
    }
}

static inline uint64_t fr_store_key_seq(const void *key)
{
    const unsigned char *k = key;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | k[i];
    return v;
}

#endif
