/* Benchmark of the HTTP client (fr_http on one libuv loop): requests per
 * second, p50/p99 latency and the client's CPU per 1,000 requests at 1, 64
 * and 512 requests in flight, against a small keep-alive HTTP server running
 * in a child process (so its CPU is not counted), or against --url.
 *
 *   bench-http [--requests N] [--url URL [--header "Name: value"]]
 *
 * Not a test: it prints figures and fails only when requests fail. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "frugal/http.h"
#include "frugal/str.h"
#include "testsrv.h"

/* ---- the server (child process) ---- */

static void answer(ts_server *s, ts_req *r, const ts_req_info *info, void *arg)
{
    static const char body[] = "{\"status\":\"ok\"}";
    (void)s;
    (void)info;
    (void)arg;
    ts_respond(r, 200, "Content-Type: application/json\r\n", body, sizeof(body) - 1);
}

static int run_server(int fd_out)
{
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ts_server *srv;
    int port = 0;
    if (ts_start(&srv, &loop, answer, NULL, &port) != 0)
        return 1;
    if (write(fd_out, &port, sizeof(port)) != (ssize_t)sizeof(port))
        return 1;
    close(fd_out);
    uv_run(&loop, UV_RUN_DEFAULT);
    return 0;
}

/* ---- the client ---- */

struct run {
    uv_loop_t *loop;
    fr_http *http;
    const char *url;
    const char *header;
    int total, sent, done, failed;
    uint64_t *lat_ns;
    uint64_t *t_send;
};

static void on_resp(const fr_http_resp *resp, void *arg);

static void send_one(struct run *r)
{
    int i = r->sent++;
    const char *hdrs[1] = {r->header};
    fr_http_opts o = {.url = r->url, .headers = r->header ? hdrs : NULL, .nheaders = r->header ? 1 : 0};
    r->t_send[i] = uv_hrtime();
    if (fr_http_send(r->http, &o, on_resp, (void *)(uintptr_t)i, NULL) != 0) {
        r->failed++;
        r->done++;
    }
}

static struct run *g_run;

static void on_resp(const fr_http_resp *resp, void *arg)
{
    struct run *r = g_run;
    int i = (int)(uintptr_t)arg;
    r->lat_ns[i] = uv_hrtime() - r->t_send[i];
    if (resp->err || resp->status != 200)
        r->failed++;
    r->done++;
    if (r->sent < r->total)
        send_one(r);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static int bench(uv_loop_t *loop, fr_http *http, const char *url, const char *header, int conc, int total,
                 int print)
{
    struct run r = {loop, http, url, header, total, 0, 0, 0, NULL, NULL};
    r.lat_ns = calloc((size_t)total, sizeof(uint64_t));
    r.t_send = calloc((size_t)total, sizeof(uint64_t));
    g_run = &r;
    double c0 = cpu_s();
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < conc && r.sent < total; i++)
        send_one(&r);
    while (r.done < total)
        uv_run(loop, UV_RUN_ONCE);
    double wall = (double)(uv_hrtime() - t0) / 1e9;
    double cpu = cpu_s() - c0;
    qsort(r.lat_ns, (size_t)total, sizeof(uint64_t), cmp_u64);
    double p50 = (double)r.lat_ns[total / 2] / 1e6;
    double p99 = (double)r.lat_ns[(size_t)((double)total * 0.99)] / 1e6;
    if (print)
        printf("%11d %9d %12.0f %9.3f %9.3f %14.1f %8d\n", conc, total, total / wall, p50, p99,
               cpu * 1000.0 / ((double)total / 1000.0), r.failed);
    int failed = r.failed;
    free(r.lat_ns);
    free(r.t_send);
    return failed;
}

int main(int argc, char **argv)
{
    int total = 20000;
    const char *url = NULL, *header = NULL;
    static const struct option opts[] = {{"requests", required_argument, NULL, 'n'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"header", required_argument, NULL, 'H'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:u:H:", opts, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'n':
            if (fr_parse_i64(optarg, &v) != 0 || v < 1000 || v > 10000000) {
                fprintf(stderr, "bench-http: --requests must be 1000..10000000\n");
                return 2;
            }
            total = (int)v;
            break;
        case 'u':
            url = optarg;
            break;
        case 'H':
            header = optarg;
            break;
        default:
            fprintf(stderr, "usage: bench-http [--requests N] [--url URL [--header 'Name: value']]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    pid_t child = -1;
    char local[64];
    if (!url) {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        child = fork();
        if (child == 0) {
            close(fds[0]);
            _exit(run_server(fds[1]));
        }
        close(fds[1]);
        int port = 0;
        if (read(fds[0], &port, sizeof(port)) != (ssize_t)sizeof(port)) {
            fprintf(stderr, "bench-http: the server did not start\n");
            return 1;
        }
        close(fds[0]);
        snprintf(local, sizeof(local), "http://127.0.0.1:%d/api/health", port);
        url = local;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    fr_http_config cfg;
    fr_http_config_defaults(&cfg);
    cfg.max_per_host = 512;
    cfg.max_total = 512;
    fr_http *http;
    if (fr_http_new(&http, &loop, &cfg) != 0)
        return 1;
    printf("fr_http against %s (%s), %d requests per row, one loop, one process\n", url,
           child > 0 ? "uv server in a child process" : "external server", total);
    printf("%11s %9s %12s %9s %9s %14s %8s\n", "concurrency", "requests", "req/s", "p50 ms", "p99 ms",
           "CPU ms/1000req", "failed");
    int failed = 0;
    const int levels[] = {1, 64, 512};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        bench(&loop, http, url, header, levels[i], levels[i] * 4 > 2000 ? levels[i] * 4 : 2000, 0); /* warm-up */
        failed += bench(&loop, http, url, header, levels[i], total, 1);
    }
    fr_http_close(http, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    int lc = uv_loop_close(&loop);
    curl_global_cleanup();
    if (child > 0) {
        kill(child, SIGTERM);
        waitpid(child, NULL, 0);
    }
    if (lc != 0)
        fprintf(stderr, "bench-http: uv_loop_close: %s\n", uv_strerror(lc));
    return failed || lc ? 1 : 0;
}
