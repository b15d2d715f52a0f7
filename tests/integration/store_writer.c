/* A test helper for the store's crash safety.
 *
 *   store_writer write DIR BATCH   appends numbered records in batches of
 *       BATCH, one commit per batch, forever; after each commit prints
 *       "BATCH_NO LAST_SEQ" (line-buffered). Meant to be killed.
 *   store_writer verify DIR        checks every record: seq 1..last with no
 *       gap, each intact (length and checksum), mirrored in the runs table,
 *       and the batch counter consistent; prints "ok BATCH_NO LAST_SEQ" or
 *       the first problem, exit status 0 or 1. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/buf.h"
#include "frugal/store.h"
#include "frugal/str.h"

static void record(uint64_t seq, uint64_t batch, fr_buf *out)
{
    size_t n = (size_t)(seq * 2654435761u % 3000) + 50;
    fr_buf payload = FR_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        fr_buf_putc(&payload, (char)('a' + (seq * 131 + i * 7) % 26));
    fr_buf_reset(out);
    fr_buf_printf(out, "seq=%" PRIu64 " batch=%" PRIu64 " len=%zu %s crc=%016" PRIx64, seq, batch, n,
                  fr_buf_cstr(&payload), fr_hash64(payload.data, payload.len));
    fr_buf_free(&payload);
}

static int open_store(fr_store **s, const char *dir)
{
    char err[512];
    fr_store_opts o = {1u << 20, 1u << 30, false};
    int rc = fr_store_open(s, dir, &o, err, sizeof(err));
    if (rc)
        fprintf(stderr, "store_writer: %s\n", err);
    return rc;
}

static uint64_t read_batch(fr_store *s)
{
    fr_buf b = FR_BUF_INIT;
    uint64_t v = 0;
    if (fr_store_get(s, FR_TBL_META, "writer_batch", 12, &b) == 0 && fr_parse_u64(fr_buf_cstr(&b), &v) != 0)
        v = UINT64_MAX;
    fr_buf_free(&b);
    return v;
}

static int do_write(const char *dir, uint64_t per_batch)
{
    fr_store *s;
    if (open_store(&s, dir))
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t batch = read_batch(s);
    fr_buf rec = FR_BUF_INIT;
    for (;;) {
        batch++;
        uint64_t seq = 0;
        for (uint64_t i = 0; i < per_batch; i++) {
            record(fr_store_last_seq(s, FR_TBL_AUDIT) + 1, batch, &rec);
            if (fr_store_append(s, FR_TBL_AUDIT, rec.data, rec.len, &seq) != 0)
                return 3;
            char k[32];
            int kl = snprintf(k, sizeof(k), "rec-%010" PRIu64, seq);
            if (fr_store_put(s, FR_TBL_RUNS, k, (size_t)kl, rec.data, rec.len) != 0)
                return 3;
        }
        char bv[32];
        int bl = snprintf(bv, sizeof(bv), "%" PRIu64, batch);
        fr_store_put(s, FR_TBL_META, "writer_batch", 12, bv, (size_t)bl);
        int rc = fr_store_commit(s);
        if (rc) {
            fprintf(stderr, "store_writer: commit failed: %d\n", rc);
            return 3;
        }
        printf("%" PRIu64 " %" PRIu64 "\n", batch, seq);
    }
}

struct verify {
    fr_store *s;
    uint64_t expect;
    fr_buf want, got;
    char problem[256];
};

static int verify_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
    struct verify *c = arg;
    if (kl != 8) {
        snprintf(c->problem, sizeof(c->problem), "key of %zu bytes", kl);
        return 1;
    }
    uint64_t seq = fr_store_key_seq(k);
    if (seq != c->expect) {
        snprintf(c->problem, sizeof(c->problem), "seq %" PRIu64 " where %" PRIu64 " was expected", seq, c->expect);
        return 1;
    }
    uint64_t batch = 0;
    const char *b = memmem(v, vl, " batch=", 7);
    if (!b || sscanf(b, " batch=%" SCNu64, &batch) != 1) {
        snprintf(c->problem, sizeof(c->problem), "record %" PRIu64 " unreadable", seq);
        return 1;
    }
    record(seq, batch, &c->want);
    if (c->want.len != vl || memcmp(c->want.data, v, vl) != 0) {
        snprintf(c->problem, sizeof(c->problem), "record %" PRIu64 " damaged", seq);
        return 1;
    }
    char rk[32];
    int rl = snprintf(rk, sizeof(rk), "rec-%010" PRIu64, seq);
    if (fr_store_get(c->s, FR_TBL_RUNS, rk, (size_t)rl, &c->got) != 0 || c->got.len != vl ||
        memcmp(c->got.data, v, vl) != 0) {
        snprintf(c->problem, sizeof(c->problem), "runs mirror of %" PRIu64 " missing or different", seq);
        return 1;
    }
    c->expect++;
    return 0;
}

static int do_verify(const char *dir, uint64_t per_batch)
{
    fr_store *s;
    if (open_store(&s, dir))
        return 2;
    struct verify c = {s, 1, FR_BUF_INIT, FR_BUF_INIT, ""};
    int rc = fr_store_scan(s, FR_TBL_AUDIT, NULL, 0, false, verify_cb, &c);
    uint64_t last = c.expect - 1, batch = read_batch(s);
    if (!c.problem[0] && rc)
        snprintf(c.problem, sizeof(c.problem), "scan failed: %d", rc);
    if (!c.problem[0] && last != fr_store_last_seq(s, FR_TBL_AUDIT))
        snprintf(c.problem, sizeof(c.problem), "last seq %" PRIu64 " but the store says %" PRIu64, last,
                 fr_store_last_seq(s, FR_TBL_AUDIT));
    if (!c.problem[0] && per_batch && last != batch * per_batch)
        snprintf(c.problem, sizeof(c.problem), "%" PRIu64 " records for %" PRIu64 " batches: a batch was split",
                 last, batch);
    fr_buf_free(&c.want);
    fr_buf_free(&c.got);
    fr_store_close(s);
    if (c.problem[0]) {
        printf("bad %s\n", c.problem);
        return 1;
    }
    printf("ok %" PRIu64 " %" PRIu64 "\n", batch, last);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t per_batch = 0;
    if (argc == 4 && fr_parse_u64(argv[3], &per_batch) == 0 && per_batch > 0) {
        if (strcmp(argv[1], "write") == 0)
            return do_write(argv[2], per_batch);
        if (strcmp(argv[1], "verify") == 0)
            return do_verify(argv[2], per_batch);
    }
    fprintf(stderr, "usage: store_writer write|verify DIR BATCH\n");
    return 2;
}
