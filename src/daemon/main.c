/* frugald: the daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr_config.h"
#include "frugal/app.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/rand.h"
#include "frugal/metrics.h"
#include "frugal/redact.h"
#include "frugal/str.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: frugald [options]\n"
            "  -c, --config FILE       INI configuration file (default: $FRUGAL_CONFIG, else none)\n"
            "  -l, --listen ADDR:PORT  REST/WebSocket/dashboard address (default 127.0.0.1:8787)\n"
            "  -s, --state-dir DIR     state directory (default /var/lib/frugal)\n"
            "      --log-level LEVEL   debug, info, warn, error\n"
            "      --set SECTION.KEY=VALUE  override any configuration key (repeatable)\n"
            "      --check-config      validate the configuration and exit\n"
            "      --print-config      print the effective configuration (secrets redacted) and exit\n"
            "  -V, --version           print the version and exit\n"
            "  -h, --help              this help\n"
            "Precedence: defaults < config file < environment (FRUGAL_SECTION_KEY) < flags.\n"
            "See docs/configuration.md for every key.\n");
}

static const char *env_get(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static const char *type_name(fr_cfg_type t)
{
    switch (t) {
    case FR_CT_STR: return "string";
    case FR_CT_SECRET: return "secret";
    case FR_CT_INT: return "integer";
    case FR_CT_DOUBLE: return "number";
    case FR_CT_BOOL: return "boolean";
    case FR_CT_DURATION: return "duration";
    case FR_CT_SIZE: return "size";
    case FR_CT_ENUM: return "enum";
    case FR_CT_ADDR: return "host:port";
    }
    return "?";
}

/* The key table as Markdown, for docs/configuration.md. */
static void print_reference(void)
{
    const char *section = "";
    for (const fr_cfg_key *k = fr_config_keys(); k->section; k++) {
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            printf("\n### [%s]\n\n| key | type | default | environment | reload | meaning |\n|---|---|---|---|---|---|\n",
                   section);
        }
        char env[96];
        fr_config_env_name(k, env, sizeof(env));
        char range[96] = "";
        if (k->type == FR_CT_ENUM) {
            snprintf(range, sizeof(range), " (%s)", k->enums);
            for (char *p = range; *p; p++)
                if (*p == '|')
                    *p = '/'; /* a pipe would end the Markdown cell */
        }
        else if ((k->type == FR_CT_INT || k->type == FR_CT_DOUBLE) && k->min <= k->max)
            snprintf(range, sizeof(range), " [%g..%g]", k->min, k->max);
        printf("| `%s.%s` | %s%s | `%s` | `%s`%s%s%s | %s | %s |\n", k->section, k->name, type_name(k->type), range,
               k->def[0] ? k->def : "\"\"", env, k->alias ? ", `" : "", k->alias ? k->alias : "", k->alias ? "`" : "",
               k->reloadable ? "yes" : "no", k->doc);
    }
}

struct flag_set {
    const char *key;
    const char *value;
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"listen", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, 's'}, {"log-level", required_argument, NULL, 'L'},
        {"set", required_argument, NULL, 'S'},       {"check-config", no_argument, NULL, 'C'},
        {"print-config", no_argument, NULL, 'P'},    {"version", no_argument, NULL, 'V'},
        {"config-reference", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    const char *config_path = getenv("FRUGAL_CONFIG");
    struct flag_set sets[128];
    size_t nsets = 0;
    int check_only = 0, print_only = 0, c;
    while ((c = getopt_long(argc, argv, "c:l:s:Vh", opts, NULL)) != -1) {
        if (nsets >= FR_ARRAY_SIZE(sets) - 1) {
            fprintf(stderr, "frugald: too many options\n");
            return 2;
        }
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'l':
            sets[nsets++] = (struct flag_set){"server.listen", optarg};
            break;
        case 's':
            sets[nsets++] = (struct flag_set){"server.state_dir", optarg};
            break;
        case 'L':
            sets[nsets++] = (struct flag_set){"log.level", optarg};
            break;
        case 'S': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "frugald: --set expects SECTION.KEY=VALUE, got \"%s\"\n", optarg);
                return 2;
            }
            *eq = '\0';
            sets[nsets++] = (struct flag_set){optarg, eq + 1};
            break;
        }
        case 'C':
            check_only = 1;
            break;
        case 'P':
            print_only = 1;
            break;
        case 'R':
            print_reference();
            return 0;
        case 'V':
            printf("frugald %s\n", FR_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "frugald: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fr_log_set_base(json_pack("{s:s}", "service", "frugald"));

    fr_config cfg;
    fr_config_init(&cfg);
    char err[1024] = "";
    int rc = 0;
    if (config_path && *config_path)
        rc = fr_config_load_file(&cfg, config_path, err, sizeof(err));
    if (rc == 0)
        rc = fr_config_apply_env(&cfg, env_get, NULL, environ, err, sizeof(err));
    for (size_t i = 0; rc == 0 && i < nsets; i++) {
        rc = fr_config_set(&cfg, sets[i].key, sets[i].value, err, sizeof(err));
        if (rc) {
            char tmp[1100];
            snprintf(tmp, sizeof(tmp), "command line: %s", err);
            fr_strlcpy(err, tmp, sizeof(err));
        }
    }
    if (rc == 0)
        rc = fr_config_validate(&cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "frugald: configuration error: %s\n", err);
        fr_log_error("config.invalid", "{s:s}", "error", err);
        fr_config_free(&cfg);
        return 2;
    }
    if (check_only || print_only) {
        if (print_only) {
            json_t *j = fr_config_to_json(&cfg);
            char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            printf("%s\n", s);
            free(s);
            json_decref(j);
        } else {
            printf("configuration OK\n");
        }
        fr_config_free(&cfg);
        return 0;
    }
    if (fr_rand_init() != 0) {
        fprintf(stderr, "frugald: cannot seed the random generator\n");
        return 1;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    fr_app app;
    rc = fr_app_init(&app, &loop, &cfg, config_path, err, sizeof(err));
    fr_config_free(&cfg);
    if (rc == 0)
        rc = fr_app_start(&app, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "frugald: %s\n", err);
        fr_log_error("start.failed", "{s:s, s:s}", "error", err, "code", fr_errname(rc));
        /* Close whatever started, so even a failed start exits cleanly. */
        if (app.started)
            fr_app_shutdown(&app, "start_failed");
        uv_run(&loop, UV_RUN_DEFAULT);
        fr_app_finish(&app);
        fr_rand_cleanup();
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int lc = fr_app_finish(&app);
    fr_log_info("stopped", "{s:i, s:s}", "loop_close", lc, "loop_close_status", lc == 0 ? "clean" : uv_strerror(lc));
    fr_metrics_free();
    fr_redact_clear();
    fr_log_set_base(NULL);
    fr_rand_cleanup();
    return lc == 0 ? app.exit_code : 1;
}
