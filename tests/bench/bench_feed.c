/* Feed benchmark: N WebSocket clients on /api/feed while events are
 * published at R per second; prints delivery latency p50/p99 and frugald's
 * CPU. Starts its own frugald (FRUGAL_TEST_ENDPOINTS=1) from --frugald.
 *
 *   bench-feed --frugald build/src/frugald [--clients 1000] [--rate 100] [--seconds 10]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "frugal/buf.h"
#include "frugal/http.h"
#include "frugal/str.h"
#include "frugal/time.h"

#define TOKEN "bench-token-0123456789abcdef0123"

struct client {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    fr_buf in;
    int upgraded;
    int open;
};

static uv_loop_t *loop;
static struct client *clients;
static int nclients = 1000, rate = 100, seconds = 10;
static char addr[64];
static int port;
static uint64_t *send_ns; /* per published event index */
static double *lat_ms;
static size_t nlat, caplat;
static uint64_t delivered, upgraded, published, closed_early;
static fr_http *http;
static uv_timer_t pub_timer, end_timer;
static uv_process_t proc;
static uv_pipe_t proc_out;
static fr_buf proc_buf;
static int ready;
static pid_t daemon_pid;
static int phase; /* 0 starting, 1 connecting, 2 publishing, 3 draining, 4 done */
static double cpu_before, cpu_after;
static uint64_t t_pub_start, t_pub_end;

static double proc_cpu(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    int field = 2;
    for (char *q = p + 2; *q && field < 15; q++) {
        if (*q == ' ') {
            field++;
            if (field == 14)
                ut = strtoul(q + 1, NULL, 10);
            if (field == 15)
                st = strtoul(q + 1, NULL, 10);
        }
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    static char slab[65536];
    b->base = slab;
    b->len = sizeof(slab);
}

static void record(const char *payload, size_t len)
{
    const char *k = memmem(payload, len, "\"b\":", 4);
    if (!k)
        return;
    long idx = strtol(k + 4, NULL, 10);
    if (idx < 0 || (size_t)idx >= (size_t)(rate * seconds + 10))
        return;
    uint64_t now = fr_time_mono_ns();
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1 << 20;
        lat_ms = realloc(lat_ms, caplat * sizeof(*lat_ms));
    }
    lat_ms[nlat++] = (double)(now - send_ns[idx]) / 1e6;
    delivered++;
}

static void parse_frames(struct client *c)
{
    if (!c->upgraded) {
        char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
        if (!end)
            return;
        if (strncmp(c->in.data, "HTTP/1.1 101", 12) != 0) {
            fprintf(stderr, "handshake refused: %.40s\n", c->in.data);
            exit(1);
        }
        c->upgraded = 1;
        upgraded++;
        fr_buf_consume(&c->in, (size_t)(end + 4 - c->in.data));
    }
    for (;;) {
        unsigned char *p = (unsigned char *)c->in.data;
        size_t have = c->in.len, hl = 2;
        if (have < 2)
            return;
        uint64_t len = p[1] & 0x7f;
        if (len == 126) {
            if (have < 4)
                return;
            len = ((uint64_t)p[2] << 8) | p[3];
            hl = 4;
        } else if (len == 127) {
            if (have < 10)
                return;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | p[2 + i];
            hl = 10;
        }
        if (have < hl + len)
            return;
        if ((p[0] & 0x0f) == 1)
            record((const char *)p + hl, (size_t)len);
        fr_buf_consume(&c->in, hl + (size_t)len);
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct client *c = (struct client *)s;
    if (n < 0) {
        if (phase < 3)
            closed_early++;
        uv_read_stop(s);
        return;
    }
    fr_buf_append(&c->in, b->base, (size_t)n);
    parse_frames(c);
}

static void on_written(uv_write_t *w, int status)
{
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    if (status != 0) {
        fprintf(stderr, "connect: %s\n", uv_strerror(status));
        exit(1);
    }
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    static char reqbuf[512];
    int n = snprintf(reqbuf, sizeof(reqbuf),
                     "GET /api/feed HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer " TOKEN "\r\n\r\n",
                     addr, port, key);
    uv_buf_t b = uv_buf_init(reqbuf, (unsigned)n);
    uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_published(const fr_http_resp *r, void *arg)
{
    if (r->err || r->status != 200)
        fprintf(stderr, "publish failed: %d %ld %s\n", r->err, r->status, r->body);
}

static void on_end(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void on_pub_tick(uv_timer_t *t)
{
    static uint64_t idx;
    if (idx >= (uint64_t)(rate * seconds)) {
        uv_timer_stop(t);
        t_pub_end = fr_time_mono_ns();
        cpu_after = proc_cpu(daemon_pid);
        phase = 3;
        uv_timer_start(&end_timer, on_end, 3000, 0);
        return;
    }
    char url[128], body[96];
    snprintf(url, sizeof(url), "http://%s:%d/api/_test/publish", addr, port);
    snprintf(body, sizeof(body), "{\"type\":\"bench\",\"count\":1,\"data\":{\"b\":%llu}}", (unsigned long long)idx);
    const char *hdrs[] = {"Content-Type: application/json", "Authorization: Bearer " TOKEN};
    fr_http_opts o = {.method = "POST", .url = url, .headers = hdrs, .nheaders = 2, .body = body,
                      .body_len = strlen(body)};
    send_ns[idx] = fr_time_mono_ns();
    fr_http_send(http, &o, on_published, NULL, NULL);
    idx++;
    published++;
}

static void on_check_upgraded(uv_timer_t *t)
{
    if (upgraded < (uint64_t)nclients)
        return;
    uv_timer_stop(t);
    phase = 2;
    fprintf(stderr, "%d clients connected; publishing %d events/s for %d s\n", nclients, rate, seconds);
    cpu_before = proc_cpu(daemon_pid);
    t_pub_start = fr_time_mono_ns();
    uv_timer_start(&pub_timer, on_pub_tick, 0, (uint64_t)(1000 / rate));
}

static void start_clients(void)
{
    phase = 1;
    clients = calloc((size_t)nclients, sizeof(*clients));
    struct sockaddr_in sa;
    uv_ip4_addr(addr, port, &sa);
    for (int i = 0; i < nclients; i++) {
        uv_tcp_init(loop, &clients[i].tcp);
        clients[i].conn.data = &clients[i];
        uv_tcp_connect(&clients[i].conn, &clients[i].tcp, (struct sockaddr *)&sa, on_connect);
    }
    static uv_timer_t waiter;
    uv_timer_init(loop, &waiter);
    uv_timer_start(&waiter, on_check_upgraded, 50, 50);
}

static void on_proc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n <= 0)
        return;
    fr_buf_append(&proc_buf, b->base, (size_t)n);
    if (!ready) {
        char *r = strstr(fr_buf_cstr(&proc_buf), "\"event\":\"ready\"");
        if (!r)
            return;
        char *l = strstr(proc_buf.data, "\"listen\":\"");
        if (!l)
            return;
        l += 10;
        char hp[64];
        size_t hl = strcspn(l, "\"");
        memcpy(hp, l, hl < 63 ? hl : 63);
        hp[hl < 63 ? hl : 63] = '\0';
        if (fr_parse_hostport(hp, addr, sizeof(addr), &port) != 0) {
            fprintf(stderr, "bad ready line\n");
            exit(1);
        }
        ready = 1;
        start_clients();
    }
    fr_buf_reset(&proc_buf); /* the daemon's later lines are not needed */
}

static void proc_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    static char buf[65536];
    b->base = buf;
    b->len = sizeof(buf);
}

int main(int argc, char **argv)
{
    const char *frugald = NULL;
    for (int i = 1; i < argc; i++) {
        int64_t v;
        if (strcmp(argv[i], "--frugald") == 0 && i + 1 < argc)
            frugald = argv[++i];
        else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc && fr_parse_i64(argv[++i], &v) == 0)
            nclients = (int)v;
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc && fr_parse_i64(argv[++i], &v) == 0)
            rate = (int)v;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc && fr_parse_i64(argv[++i], &v) == 0)
            seconds = (int)v;
    }
    if (!frugald || nclients < 1 || rate < 1 || rate > 1000 || seconds < 1) {
        fprintf(stderr, "usage: bench-feed --frugald PATH [--clients N] [--rate R<=1000] [--seconds S]\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    send_ns = calloc((size_t)(rate * seconds + 10), sizeof(*send_ns));
    loop = uv_default_loop();
    fr_http_config hc;
    fr_http_config_defaults(&hc);
    fr_http_new(&http, loop, &hc);
    uv_timer_init(loop, &pub_timer);
    uv_timer_init(loop, &end_timer);

    char state[] = "/tmp/frugal-bench-feed-XXXXXX";
    if (!mkdtemp(state))
        return 1;
    char *args[] = {(char *)frugald, "--listen", "127.0.0.1:0", "--state-dir", state, "--set",
                    "server.ws_max_queued=64M", NULL};
    char *env[] = {"FRUGAL_TEST_ENDPOINTS=1", "FRUGAL_API_TOKEN=" TOKEN, "PATH=/usr/bin:/bin", NULL};
    uv_pipe_init(loop, &proc_out, 0);
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&proc_out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t po = {.file = frugald, .args = args, .env = env, .stdio_count = 3, .stdio = stdio};
    int rc = uv_spawn(loop, &proc, &po);
    if (rc) {
        fprintf(stderr, "spawn %s: %s\n", frugald, uv_strerror(rc));
        return 1;
    }
    daemon_pid = proc.pid;
    uv_read_start((uv_stream_t *)&proc_out, proc_alloc, on_proc_read);
    uv_run(loop, UV_RUN_DEFAULT);

    uint64_t expected = published * (uint64_t)nclients;
    double secs = (double)(t_pub_end - t_pub_start) / 1e9;
    qsort(lat_ms, nlat, sizeof(*lat_ms), cmp_double);
    double p50 = nlat ? lat_ms[nlat / 2] : 0, p99 = nlat ? lat_ms[(size_t)((double)nlat * 0.99)] : 0;
    double maxl = nlat ? lat_ms[nlat - 1] : 0;
    double cpu = cpu_after - cpu_before;
    printf("feed bench: %d clients, %llu events at %d/s over %.1f s\n", nclients, (unsigned long long)published, rate,
           secs);
    printf("  deliveries     %llu / %llu (%.2f%%), clients cut off early: %llu\n", (unsigned long long)delivered,
           (unsigned long long)expected, expected ? 100.0 * (double)delivered / (double)expected : 0,
           (unsigned long long)closed_early);
    printf("  latency        p50 %.2f ms   p99 %.2f ms   max %.2f ms (publish request sent -> frame received)\n", p50,
           p99, maxl);
    printf("  frugald CPU    %.2f s over %.1f s = %.0f%% of one core (%.1f us per delivered message)\n", cpu, secs,
           secs > 0 ? 100.0 * cpu / secs : 0, delivered ? cpu * 1e6 / (double)delivered : 0);
    uv_process_kill(&proc, SIGTERM);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", state);
    return delivered == expected ? 0 : 1;
}
