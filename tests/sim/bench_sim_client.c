/* Load generator for the frugal-sim benchmark: keeps CONCURRENCY signed
 * requests in flight on one libcurl multi handle (keep-alive connections)
 * for SECONDS, re-signing every request with fr_sigv4 as a real client
 * does, and prints one JSON line of figures.
 *
 *   bench-sim-client URL TARGET BODYFILE SECONDS CONCURRENCY
 *
 * TARGET is the X-Amz-Target (awsJson1_1 for ElasticMapReduce.*,
 * awsJson1_0 for GraniteServiceVersion20100801.*). A test program, so it
 * may block in curl_multi_poll. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/buf.h"
#include "frugal/sigv4.h"
#include "frugal/str.h"
#include "frugal/time.h"

#define AKID "AKIAFRUGALSIMULATED0"
#define SECRET "frugal-sim-secret-key-not-a-real-one"

typedef struct slot {
    CURL *easy;
    struct curl_slist *hdrs;
    uint64_t started_ns;
    size_t got;
} slot;

static const char *g_url, *g_target, *g_service, *g_ctype;
static char *g_body;
static size_t g_body_len;
static char g_host[256];
static fr_sigv4_key_cache g_cache;

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
    slot *s = arg;
    s->got += sz * n;
    (void)p;
    return sz * n;
}

static void prepare(slot *s)
{
    char date[32];
    fr_time_amz(date, sizeof(date), fr_time_now_ms());
    fr_sigv4_header hs[] = {{"host", g_host}, {"x-amz-date", date}, {"x-amz-target", g_target},
                            {"content-type", g_ctype}};
    fr_sigv4_req r = {"POST", "/", "", hs, 4, g_body, g_body_len, NULL};
    fr_sigv4_scope sc = {"us-east-1", g_service, fr_time_now_ms(), false};
    fr_buf authz = FR_BUF_INIT, line = FR_BUF_INIT;
    fr_sigv4_authorization(&r, &sc, AKID, SECRET, &g_cache, &authz);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    fr_buf_printf(&line, "X-Amz-Date: %s", date);
    s->hdrs = curl_slist_append(s->hdrs, fr_buf_cstr(&line));
    fr_buf_reset(&line);
    fr_buf_printf(&line, "X-Amz-Target: %s", g_target);
    s->hdrs = curl_slist_append(s->hdrs, fr_buf_cstr(&line));
    fr_buf_reset(&line);
    fr_buf_printf(&line, "Content-Type: %s", g_ctype);
    s->hdrs = curl_slist_append(s->hdrs, fr_buf_cstr(&line));
    fr_buf_reset(&line);
    fr_buf_printf(&line, "Authorization: %s", fr_buf_cstr(&authz));
    s->hdrs = curl_slist_append(s->hdrs, fr_buf_cstr(&line));
    s->hdrs = curl_slist_append(s->hdrs, "Expect:");
    fr_buf_free(&authz);
    fr_buf_free(&line);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    s->started_ns = fr_time_mono_ns();
    s->got = 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench-sim-client URL TARGET BODYFILE SECONDS CONCURRENCY\n");
        return 2;
    }
    g_url = argv[1];
    g_target = argv[2];
    bool cw = fr_str_startswith(g_target, "GraniteServiceVersion20100801.");
    g_service = cw ? "monitoring" : "elasticmapreduce";
    g_ctype = cw ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1";
    const char *hp = strstr(g_url, "://");
    fr_strlcpy(g_host, hp ? hp + 3 : g_url, sizeof(g_host));
    FILE *f = fopen(argv[3], "rb");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    fr_buf body = FR_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fr_buf_append(&body, chunk, n);
    fclose(f);
    g_body_len = body.len;
    g_body = fr_buf_steal(&body);
    double seconds;
    int64_t conc64;
    if (fr_parse_double(argv[4], &seconds) != 0 || fr_parse_i64(argv[5], &conc64) != 0 || conc64 < 1 ||
        conc64 > 1024 || seconds <= 0)
        return 2;
    int conc = (int)conc64;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    slot *slots = calloc((size_t)conc, sizeof(*slots));
    size_t cap = 1 << 20, nlat = 0;
    uint64_t *lat = malloc(cap * sizeof(*lat));
    for (int i = 0; i < conc; i++) {
        slot *s = &slots[i];
        s->easy = curl_easy_init();
        curl_easy_setopt(s->easy, CURLOPT_URL, g_url);
        curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, g_body);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)g_body_len);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
        prepare(s);
        curl_multi_add_handle(multi, s->easy);
    }
    uint64_t start = fr_time_mono_ns(), deadline = start + (uint64_t)(seconds * 1e9);
    uint64_t done = 0, errors = 0, bytes = 0;
    int running = conc;
    bool stopping = false;
    while (running > 0) {
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            uint64_t now = fr_time_mono_ns();
            if (m->data.result != CURLE_OK || code != 200)
                errors++;
            done++;
            bytes += s->got;
            if (nlat < cap)
                lat[nlat++] = now - s->started_ns;
            curl_multi_remove_handle(multi, m->easy_handle);
            if (now < deadline) {
                prepare(s);
                curl_multi_add_handle(multi, s->easy);
                running++;
            } else {
                stopping = true;
            }
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    (void)stopping;
    double elapsed = (double)(fr_time_mono_ns() - start) / 1e9;
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    double p50 = nlat ? (double)lat[nlat / 2] / 1e6 : 0, p99 = nlat ? (double)lat[nlat * 99 / 100] / 1e6 : 0;
    printf("{\"target\":\"%s\",\"concurrency\":%d,\"requests\":%llu,\"errors\":%llu,\"seconds\":%.3f,"
           "\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"bytes_per_response\":%.0f}\n",
           g_target, conc, (unsigned long long)done, (unsigned long long)errors, elapsed, (double)done / elapsed, p50,
           p99, done ? (double)bytes / (double)done : 0);
    for (int i = 0; i < conc; i++) {
        curl_easy_cleanup(slots[i].easy);
        curl_slist_free_all(slots[i].hdrs);
    }
    free(slots);
    free(lat);
    free(g_body);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
