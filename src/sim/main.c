/* frugal-sim: the simulated AWS account (docs/sim.md). Parses the command
 * line, builds the world, serves until SIGINT/SIGTERM, then closes every
 * handle and checks that the loop closes cleanly. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "fr_config.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "server.h"
#include "sim.h"
#include "world.h"

static const char usage[] =
    "usage: frugal-sim --listen ADDR:PORT [options]\n"
    "  --listen ADDR:PORT          AWS endpoint, control API and chat double (port 0: any)\n"
    "  --imds-listen ADDR:PORT     instance metadata service (IMDSv2)\n"
    "  --seed N                    world seed (42)\n"
    "  --clusters N                EMR clusters in the generated world (12)\n"
    "  --ec2-instances N           standalone EC2 instances in the world (8)\n"
    "  --world FILE                load the world from FILE instead of generating it\n"
    "  --world-out FILE            write the world as JSON\n"
    "  --prices FILE               replay spot prices from FILE (else a seeded model)\n"
    "  --catalog FILE              instance catalog CSV (default: built in)\n"
    "  --traces DIR                shape profiles by the real traces in DIR (utilization/)\n"
    "  --clock-speed X             simulated seconds per real second (1)\n"
    "  --start-time TIME           simulated time at start (ISO 8601 or epoch; default now)\n"
    "  --lambda-delay SECONDS      queue cluster-submit requests this long (simulated)\n"
    "  --chat-script FILE          rules for the chat-completions test double\n"
    "  --faults JSON|@FILE         fault rules at start (same form as POST /_sim/faults)\n"
    "  --aws-limits                enable the AWS-like rate limits per operation\n"
    "  --imds-instance ID          the instance IMDS speaks for\n"
    "  --access-key-id ID          accepted key id (AKIAFRUGALSIMULATED0)\n"
    "  --secret-access-key KEY     its secret (frugal-sim-secret-key-not-a-real-one)\n"
    "  --region R                  region (us-east-1)\n"
    "  --no-verify                 do not verify SigV4 signatures\n"
    "  --log-level LEVEL           debug, info, warn, error (info)\n";

typedef struct app {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    fr_sim_server *server;
    fr_sim *sim;
    int signals_open;
    bool stopping;
    bool server_closed;
} app;

/* h2o's contexts hold an async handle that only their disposal closes, so
 * the loop is stopped once everything of ours has closed; the contexts are
 * disposed after uv_run returns and the loop is run dry again. */
static void maybe_stop(app *a)
{
    if (a->signals_open == 0 && a->server_closed)
        uv_stop(&a->loop);
}

static void on_signal_closed(uv_handle_t *h)
{
    app *a = h->data;
    a->signals_open--;
    maybe_stop(a);
}

static void on_server_closed(void *arg)
{
    app *a = arg;
    a->server_closed = true;
    maybe_stop(a);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    if (a->stopping)
        return;
    a->stopping = true;
    fr_log_info("shutdown", "{s:s}", "signal", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_close((uv_handle_t *)&a->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&a->sigterm, on_signal_closed);
    fr_sim_server_close(a->server, on_server_closed, a);
}

/* A bad command line is one line on stderr naming the flag, and exit
 * status 2 (as frugald and the frugal CLI); --help prints the usage. */
static int bad_value(const char *flag, const char *val, const char *want)
{
    fprintf(stderr, "frugal-sim: %s: want %s, got \"%s\"\n", flag, want, val);
    return -1;
}

static int int_arg(const char *flag, const char *val, int64_t lo, int64_t hi, int *out)
{
    int64_t v;
    char want[80];
    snprintf(want, sizeof(want), "an integer from %lld to %lld", (long long)lo, (long long)hi);
    if (fr_parse_i64(val, &v) != 0 || v < lo || v > hi)
        return bad_value(flag, val, want);
    *out = (int)v;
    return 0;
}

static int num_arg(const char *flag, const char *val, double lo, double hi, double *out)
{
    double d;
    char want[80];
    snprintf(want, sizeof(want), "a number from %.10g to %.10g", lo, hi);
    if (fr_parse_double(val, &d) != 0 || d < lo || d > hi)
        return bad_value(flag, val, want);
    *out = d;
    return 0;
}

static int str_arg(const char *flag, const char *val, char *dst, size_t n)
{
    char want[80];
    snprintf(want, sizeof(want), "1 to %zu characters", n - 1);
    if (!*val || strlen(val) >= n)
        return bad_value(flag, val, want);
    fr_strlcpy(dst, val, n);
    return 0;
}

/* IP:PORT or [IPv6]:PORT, port 0-65535: checked here rather than failing
 * later as a start-up error. */
static int addr_arg(const char *flag, const char *val, char *dst, size_t n)
{
    char host[128];
    int port;
    struct sockaddr_in6 sa6;
    struct sockaddr_in sa4;
    if (strlen(val) >= n || fr_parse_hostport(val, host, sizeof(host), &port) != 0 ||
        (strchr(host, ':') ? uv_ip6_addr(host, port, &sa6) : uv_ip4_addr(host, port, &sa4)) != 0)
        return bad_value(flag, val, "ADDR:PORT (an IP address, port 0-65535)");
    fr_strlcpy(dst, val, n);
    return 0;
}

static int opt_arg(const char *flag, const char *val, const char **dst)
{
    if (!*val)
        return bad_value(flag, val, "a non-empty value");
    *dst = val;
    return 0;
}

static const char *const value_opts[] = {
    "--listen",      "--imds-listen",  "--seed",         "--clusters",    "--ec2-instances",
    "--world",       "--world-out",    "--prices",       "--catalog",     "--traces",
    "--clock-speed", "--start-time",   "--lambda-delay", "--chat-script", "--faults",
    "--imds-instance", "--access-key-id", "--secret-access-key", "--region", "--log-level",
};

/* 0, -1 after a message, 1 for an option that is not one of value_opts */
static int parse_value(const char *a, const char *val, fr_sim_opts *o)
{
    if (strcmp(a, "--listen") == 0)
        return addr_arg(a, val, o->listen, sizeof(o->listen));
    if (strcmp(a, "--imds-listen") == 0)
        return addr_arg(a, val, o->imds_listen, sizeof(o->imds_listen));
    if (strcmp(a, "--seed") == 0)
        return fr_parse_u64(val, &o->seed) == 0 ? 0 : bad_value(a, val, "an integer >= 0");
    if (strcmp(a, "--clusters") == 0)
        return int_arg(a, val, 0, 5000, &o->clusters);
    if (strcmp(a, "--ec2-instances") == 0)
        return int_arg(a, val, 0, 1000, &o->ec2_instances);
    if (strcmp(a, "--world") == 0)
        return opt_arg(a, val, &o->world_file);
    if (strcmp(a, "--world-out") == 0)
        return opt_arg(a, val, &o->world_out);
    if (strcmp(a, "--prices") == 0)
        return opt_arg(a, val, &o->prices_file);
    if (strcmp(a, "--catalog") == 0)
        return opt_arg(a, val, &o->catalog_file);
    if (strcmp(a, "--traces") == 0)
        return opt_arg(a, val, &o->traces_dir);
    if (strcmp(a, "--clock-speed") == 0) /* 0 stops the clock */
        return num_arg(a, val, 0, 1e6, &o->clock_speed);
    if (strcmp(a, "--start-time") == 0) {
        int64_t v;
        if (fr_time_parse(val, &v) != 0)
            return bad_value(a, val, "an ISO 8601 time or epoch seconds");
        o->start_ms = v;
        return 0;
    }
    if (strcmp(a, "--lambda-delay") == 0)
        return num_arg(a, val, 0, 86400, &o->lambda_delay_s);
    if (strcmp(a, "--chat-script") == 0)
        return opt_arg(a, val, &o->chat_script);
    if (strcmp(a, "--faults") == 0)
        return opt_arg(a, val, &o->faults);
    if (strcmp(a, "--imds-instance") == 0)
        return opt_arg(a, val, &o->imds_instance);
    if (strcmp(a, "--access-key-id") == 0)
        return str_arg(a, val, o->access_key, sizeof(o->access_key));
    if (strcmp(a, "--secret-access-key") == 0)
        return str_arg(a, val, o->secret_key, sizeof(o->secret_key));
    if (strcmp(a, "--region") == 0)
        return str_arg(a, val, o->region, sizeof(o->region));
    if (strcmp(a, "--log-level") == 0) {
        fr_log_level lvl;
        if (fr_log_level_parse(val, &lvl) != 0)
            return bad_value(a, val, "debug, info, warn or error");
        fr_log_set_level(lvl);
        return 0;
    }
    return 1; /* not an option with a value */
}

static int parse_args(int argc, char **argv, fr_sim_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("frugal-sim %s\n", FR_VERSION);
            exit(0);
        } else if (strcmp(a, "--no-verify") == 0) {
            o->no_verify = true;
        } else if (strcmp(a, "--aws-limits") == 0) {
            o->aws_limits = true;
        } else if (a[0] != '-') {
            fprintf(stderr, "frugal-sim: unexpected argument \"%s\" (frugal-sim --help lists the options)\n", a);
            return -1;
        } else {
            bool known = false;
            for (size_t k = 0; k < FR_ARRAY_SIZE(value_opts) && !known; k++)
                known = strcmp(a, value_opts[k]) == 0;
            if (!known) {
                fprintf(stderr, "frugal-sim: unknown option %s (frugal-sim --help lists the options)\n", a);
                return -1;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "frugal-sim: %s needs a value\n", a);
                return -1;
            }
            int rc = parse_value(a, argv[++i], o);
            if (rc == 1)
                fprintf(stderr, "frugal-sim: unknown option %s\n", a);
            if (rc != 0)
                return -1;
        }
    }
    return 0;
}

static int write_world(const fr_sim *s, const char *path)
{
    /* start-up only: a blocking write is fine here */
    int rc = json_dump_file(s->world, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    return rc == 0 ? 0 : -EIO;
}

int main(int argc, char **argv)
{
    fr_sim_opts o;
    fr_sim_opts_default(&o);
    fr_log_set_base(json_pack("{s:s}", "service", "frugal-sim"));
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    app a;
    memset(&a, 0, sizeof(a));
    uv_loop_init(&a.loop);
    char err[512] = "";
    int rc = fr_sim_server_new(&a.server, &a.loop, o.listen, o.imds_listen[0] ? o.imds_listen : NULL, err,
                               sizeof(err));
    if (rc == 0) {
        char endpoint[160];
        snprintf(endpoint, sizeof(endpoint), "http://%s", fr_sim_server_bound(a.server));
        rc = fr_sim_new(&a.sim, &o, endpoint, fr_time_mono_ms(), fr_time_now_ms(), err, sizeof(err));
    }
    if (rc == 0 && o.world_out && (rc = write_world(a.sim, o.world_out)) != 0)
        snprintf(err, sizeof(err), "cannot write %s", o.world_out);
    if (rc == 0)
        rc = fr_sim_server_start(a.server, a.sim);
    if (rc != 0) {
        fr_log_error("sim.start_failed", "{s:s, s:s}", "error", err[0] ? err : fr_strerror(rc), "code",
                     fr_errname(rc));
        if (a.server) {
            fr_sim_server_close(a.server, on_server_closed, &a);
            uv_run(&a.loop, UV_RUN_DEFAULT);
        }
        fr_sim_server_free(a.server);
        uv_run(&a.loop, UV_RUN_DEFAULT);
        fr_sim_free(a.sim);
        uv_loop_close(&a.loop);
        return 1;
    }
    uv_signal_init(&a.loop, &a.sigint);
    uv_signal_init(&a.loop, &a.sigterm);
    a.sigint.data = a.sigterm.data = &a;
    a.signals_open = 2;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);

    char start[40], anchor[40];
    fr_time_iso8601(start, sizeof(start), a.sim->clock.start_ms, 1);
    fr_time_iso8601(anchor, sizeof(anchor), a.sim->t0_ms, 0);
    fr_sim_queue *q = fr_sim_sqs_find(&a.sim->sqs, FR_SIM_SQS_DEFAULT_QUEUE);
    json_t *ready = json_pack("{s:s, s:s, s:I, s:i, s:i, s:s, s:f, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:i}",
                              "listen", fr_sim_server_bound(a.server), "region", o.region, "seed", (json_int_t)o.seed,
                              "clusters", (int)a.sim->emr.n, "ec2_instances", (int)a.sim->ec2.n, "access_key_id",
                              o.access_key, "clock_speed", o.clock_speed, "start", start, "world_anchor", anchor,
                              "lambda_function", FR_SIM_LAMBDA_NAME, "param_prefix", FR_SIM_PARAM_PREFIX,
                              "queue_url", q ? q->url : "", "verify", !o.no_verify, "aws_limits", o.aws_limits,
                              "version", FR_VERSION, "pid", (int)getpid());
    if (fr_sim_server_imds_bound(a.server))
        json_object_set_new(ready, "imds_listen", json_string(fr_sim_server_imds_bound(a.server)));
    if (o.prices_file)
        json_object_set_new(ready, "prices", json_string(o.prices_file));
    fr_log_obj(FR_LOG_INFO, "ready", ready);
    fflush(stdout);

    uv_run(&a.loop, UV_RUN_DEFAULT);
    fr_sim_server_free(a.server);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    fr_sim_free(a.sim);
    rc = uv_loop_close(&a.loop);
    fr_log_info("stopped", "{s:i, s:b}", "loop_close", rc, "clean", rc == 0);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}
