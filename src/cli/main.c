/* frugal: the command-line client of frugald's REST API and feed. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fr_config.h"
#include "frugal/buf.h"
#include "frugal/err.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "frugal/time.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: frugal [--url URL] [--token TOKEN] [--json] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  health                      daemon status\n"
            "  clusters [--refresh]        recent transient EMR clusters\n"
            "  analyze NAME [--cluster-id ID]\n"
            "                              CPU/memory analysis and recommendation\n"
            "  optimize NAME [--yes] [--steps ID,ID]\n"
            "                              propose, ask once, then follow the run live\n"
            "  approve RUN_ID              approve a proposed run\n"
            "  cancel RUN_ID               cancel a run (reverts and cleans up if approved)\n"
            "  runs [--limit N]            run history\n"
            "  run RUN_ID                  one run: steps, timings, report\n"
            "  audit [--run RUN_ID]        audit trail\n"
            "  events [--since N] [--follow]\n"
            "                              the live feed\n"
            "  chat MESSAGE...             one message to the agent\n"
            "  doctor [--json] [--config FILE] [--timeout DURATION]\n"
            "                              credentials, region and IAM permissions (talks to AWS directly)\n"
            "\n"
            "FRUGAL_URL (default http://127.0.0.1:8787) and FRUGAL_API_TOKEN (or FRUGAL_TOKEN_FILE,\n"
            "default /var/lib/frugal/api-token) select the daemon. Exit status: 0 success, 1 failure\n"
            "(or a run that did not end DONE), 2 usage error.\n");
}

/* ---- HTTP ---- */

static size_t write_cb(char *p, size_t sz, size_t n, void *ud)
{
    fr_buf_append(ud, p, sz * n);
    return sz * n;
}

/* Untrusted text for a one-line message: control characters and
 * non-ASCII become '?' (runs of whitespace one space), cut with "...". */
static void one_line(char *out, size_t n, const char *s, size_t len)
{
    size_t j = 0, i = 0;
    for (; i < len && j + 4 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == ' ') {
            if (j && out[j - 1] != ' ')
                out[j++] = ' ';
        } else {
            out[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
    }
    if (i < len)
        memcpy(out + j, "...", 3), j += 3;
    while (j && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

long fr_cli_request(const fr_cli *c, const char *method, const char *path, const json_t *body, json_t **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    fr_buf url = FR_BUF_INIT, resp = FR_BUF_INIT, auth = FR_BUF_INIT;
    fr_buf_printf(&url, "%s%s", c->url, path);
    struct curl_slist *h = NULL;
    fr_buf_printf(&auth, "Authorization: Bearer %s", c->token ? c->token : "");
    h = curl_slist_append(h, auth.data);
    h = curl_slist_append(h, "Accept: application/json");
    char *payload = NULL;
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload);
    }
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "frugal-cli/" FR_VERSION);
    long status = 0;
    CURLcode cc = curl_easy_perform(e);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", c->url, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        json_error_t je;
        *out = json_loadb(fr_buf_cstr(&resp), resp.len, 0, &je);
        char q[160];
        if (status >= 400) {
            const char *m = json_string_value(json_object_get(*out, "message"));
            one_line(q, sizeof(q), m ? m : fr_buf_cstr(&resp), m ? strlen(m) : resp.len);
            snprintf(err, errlen, "HTTP %ld: %s", status, q[0] ? q : "(no body)");
        } else if (!json_is_object(*out)) {
            one_line(q, sizeof(q), fr_buf_cstr(&resp), resp.len);
            if (resp.len == 0)
                snprintf(err, errlen, "HTTP %ld with an empty answer (expected JSON)", status);
            else if (!*out)
                snprintf(err, errlen, "HTTP %ld: the answer is not JSON (%s): %s", status, je.text, q);
            else
                snprintf(err, errlen, "HTTP %ld: the answer is not a JSON object: %s", status, q);
            json_decref(*out);
            *out = NULL;
        }
    }
    memset(auth.data, 0, auth.len);
    fr_buf_free(&auth);
    fr_buf_free(&url);
    fr_buf_free(&resp);
    free(payload);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return status;
}

static int print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    if (s) {
        printf("%s\n", s);
        free(s);
    }
    return 0;
}

/* GET/POST helper that prints errors and returns the body (or NULL). */
static json_t *call(const fr_cli *c, const char *method, const char *path, json_t *body)
{
    char err[512] = "";
    json_t *out = NULL;
    long st = fr_cli_request(c, method, path, body, &out, err, sizeof(err));
    json_decref(body);
    if (st >= 200 && st < 300 && out)
        return out;
    if (st == 401)
        fprintf(stderr, "frugal: %s %s: %s (set FRUGAL_API_TOKEN, --token or FRUGAL_TOKEN_FILE to frugald's API "
                        "token)\n", method, path, err[0] ? err : "unauthorized");
    else
        fprintf(stderr, "frugal: %s %s: %s\n", method, path, err[0] ? err : "failed");
    json_decref(out);
    return NULL;
}

/* The answer must carry the field a command shows, with its type; a server
 * that answers something else is an error, not an empty table. */
static bool has(const char *path, const json_t *j, const char *key, json_type type)
{
    const json_t *v = json_object_get(j, key);
    if (v && json_typeof(v) == type)
        return true;
    static const char *const tn[] = {"an object", "an array", "a string", "an integer", "a number", "a boolean",
                                     "a boolean", "null"};
    fprintf(stderr, "frugal: %s: the answer's \"%s\" is %s, not %s\n", path, key, v ? "of another type" : "missing",
            (unsigned)type < FR_ARRAY_SIZE(tn) ? tn[type] : "of the expected type");
    return false;
}

/* ---- formatting ---- */

static const char *s(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void fmt_duration(char *out, size_t n, double secs)
{
    long t = (long)(secs + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%.1f hours", secs / 3600.0);
    else if (t >= 60)
        snprintf(out, n, "%ldm %02lds", t / 60, t % 60);
    else
        snprintf(out, n, "%lds", t);
}

static void fmt_money(char *out, size_t n, double v)
{
    long whole = (long)(v + 0.5);
    if (v < 100) {
        snprintf(out, n, "$%.2f", v);
        return;
    }
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%ld", whole);
    size_t l = strlen(tmp), j = 0;
    out[j++] = '$';
    for (size_t i = 0; i < l && j + 2 < n; i++) {
        out[j++] = tmp[i];
        if ((l - i - 1) % 3 == 0 && i + 1 < l)
            out[j++] = ',';
    }
    out[j] = '\0';
}

static void print_clusters(const json_t *j)
{
    const json_t *arr = json_object_get(j, "clusters");
    size_t i;
    const json_t *cl;
    printf("%-32s %-16s %-12s %-24s\n", "NAME", "ID", "RUNTIME", "STATE");
    json_array_foreach(arr, i, cl)
    {
        char d[32];
        fmt_duration(d, sizeof(d), num(cl, "runtime_s"));
        printf("%-32s %-16s %-12s %s%s\n", s(cl, "name"), s(cl, "id"), d, s(cl, "state"),
               json_is_true(json_object_get(cl, "failed")) ? " (failed)" : "");
    }
    printf("%zu clusters in the last %.0f h\n", json_array_size(arr), num(j, "window_hours"));
}

static void print_usage_line(const char *what, const json_t *u)
{
    if (!json_is_object(u)) {
        printf("    %-7s no data\n", what);
        return;
    }
    printf("    %-7s %.1f%% avg | %.1f%% peak (p95)\n", what, num(u, "avg"), num(u, "p95"));
}

static void print_analysis(const json_t *a)
{
    const json_t *cl = json_object_get(a, "cluster");
    printf("%s (%s)\n\n", s(cl, "name"), s(cl, "id"));
    const char *types[] = {"CORE", "TASK"};
    for (int t = 0; t < 2; t++) {
        const json_t *nt = json_object_get(json_object_get(a, "node_types"), types[t]);
        if (!nt)
            continue;
        printf("  %s NODES (%lldx %s)\n", types[t], (long long)json_integer_value(json_object_get(nt, "instances")),
               s(nt, "instance_type"));
        print_usage_line("CPU:", json_object_get(nt, "cpu"));
        if (json_is_true(json_object_get(nt, "cpu_only")))
            printf("    Memory: no CWAgent data (CPU-only analysis)\n");
        else
            print_usage_line("Memory:", json_object_get(nt, "memory"));
        printf("    Status: %s (%s)\n", s(nt, "status_label"), s(nt, "profile"));
        const json_t *rec = json_object_get(nt, "recommendation");
        if (json_is_true(json_object_get(nt, "changed")))
            printf("    Recommendation: %s (%s%s)\n", s(nt, "recommended_type"), s(rec, "kind"),
                   json_is_true(json_object_get(nt, "arch_change")) ? ", architecture change" : "");
        else
            printf("    Recommendation: no change\n");
        printf("\n");
    }
    const json_t *cost = json_object_get(a, "cost");
    if (json_is_object(cost)) {
        char m1[32], m2[32];
        fmt_money(m1, sizeof(m1), num(json_object_get(cost, "monthly"), "savings"));
        fmt_money(m2, sizeof(m2), num(json_object_get(cost, "test"), "cost"));
        printf("  Estimated savings: %s/month\n  Test cluster cost: ~%s\n", m1, m2);
    }
    size_t i;
    const json_t *w;
    json_array_foreach(json_object_get(a, "warnings"), i, w) printf("  Warning: %s\n", json_string_value(w));
    if (!json_is_true(json_object_get(a, "proposable")) && *s(a, "refusal"))
        printf("  Not proposed: %s\n", s(a, "refusal"));
}

/* The Phase 2 report as a table: each copied step on the original and on
 * the test cluster, the totals, the cost of the steps, the verdict. */
static void print_report(const json_t *rep)
{
    char a[32], b[32];
    printf("report:\n  %-32s %-12s %-12s %8s  %s\n", "STEP", "ORIGINAL", "TEST", "CHANGE", "STATE");
    size_t i;
    const json_t *st;
    json_array_foreach(json_object_get(rep, "steps"), i, st)
    {
        const json_t *nr = json_object_get(st, "new_runtime_s");
        fmt_duration(a, sizeof(a), num(st, "old_runtime_s"));
        if (json_is_number(nr))
            fmt_duration(b, sizeof(b), json_number_value(nr));
        else
            snprintf(b, sizeof(b), "-");
        char ch[16] = "-";
        if (json_is_number(json_object_get(st, "change_pct")))
            snprintf(ch, sizeof(ch), "%+.1f%%", num(st, "change_pct"));
        printf("  %-32s %-12s %-12s %8s  %s\n", s(st, "name"), a, b, ch, s(st, "new_state"));
    }
    const json_t *t = json_object_get(rep, "totals");
    if (json_is_object(t)) {
        fmt_duration(a, sizeof(a), num(t, "old_runtime_s"));
        fmt_duration(b, sizeof(b), num(t, "new_runtime_s"));
        char ch[16];
        snprintf(ch, sizeof(ch), "%+.1f%%", num(t, "runtime_delta_pct"));
        printf("  %-32s %-12s %-12s %8s\n", "total runtime", a, b, ch);
        fmt_money(a, sizeof(a), num(t, "old_cost"));
        fmt_money(b, sizeof(b), num(t, "new_cost"));
        snprintf(ch, sizeof(ch), "%+.1f%%", num(t, "cost_delta_pct"));
        printf("  %-32s %-12s %-12s %8s\n", "cost of the steps", a, b, ch);
        if (json_is_number(json_object_get(t, "savings_per_month"))) {
            fmt_money(a, sizeof(a), num(t, "savings_per_month"));
            printf("  estimated savings: %s/month\n", a);
        }
    }
    if (*s(rep, "verdict"))
        printf("  verdict: %s\n", s(rep, "verdict"));
    if (*s(rep, "narrative"))
        printf("\n%s\n", s(rep, "narrative"));
}

static void print_run(const json_t *r)
{
    printf("run %s  %s  %s\n", s(r, "id"), s(r, "cluster_name"), s(r, "state"));
    if (*s(r, "test_cluster_id"))
        printf("test cluster: %s\n", s(r, "test_cluster_id"));
    size_t i;
    const json_t *st;
    json_array_foreach(json_object_get(r, "steps"), i, st)
    {
        printf("  %-13s %-8s %s %s\n", s(st, "name"), s(st, "state"), s(st, "started"), s(st, "detail"));
    }
    const json_t *rep = json_object_get(r, "report");
    if (json_is_object(rep))
        print_report(rep);
    const json_t *conf = json_object_get(r, "conflict");
    if (json_is_object(conf)) {
        printf("CONFLICT: %s was changed by someone else (version %lld, ours %lld); it was NOT reverted.\n",
               s(conf, "param_path"), (long long)json_integer_value(json_object_get(conf, "found_version")),
               (long long)json_integer_value(json_object_get(conf, "our_version")));
        printf("The original value to restore is in `frugal run %s --json` (conflict.original_value).\n", s(r, "id"));
    }
    if (*s(r, "error"))
        printf("error: %s\n", s(r, "error"));
}

/* ---- commands ---- */

/* GET path, then print the answer as JSON (--json) or with print. */
static int get_and_show(fr_cli *c, const char *path, void (*print)(const json_t *), const char *key, json_type type)
{
    json_t *j = call(c, "GET", path, NULL);
    if (!j)
        return 1;
    if (key && !has(path, j, key, type)) {
        json_decref(j);
        return 1;
    }
    if (c->json)
        print_json(j);
    else
        print(j);
    json_decref(j);
    return 0;
}

static int cmd_health(fr_cli *c)
{
    json_t *j = call(c, "GET", "/api/health", NULL);
    if (!j)
        return 1;
    if (!has("/api/health", j, "status", JSON_STRING)) {
        json_decref(j);
        return 1;
    }
    if (c->json)
        print_json(j);
    else
        printf("%s  frugald %s  up %llds  AWS %s (%s)\n", s(j, "status"), s(j, "version"),
               (long long)json_integer_value(json_object_get(j, "uptime_s")),
               s(json_object_get(j, "aws"), "endpoint"), s(json_object_get(j, "aws"), "region"));
    json_decref(j);
    return 0;
}

static int cmd_clusters(fr_cli *c, int refresh)
{
    return get_and_show(c, refresh ? "/api/clusters?refresh=1" : "/api/clusters", print_clusters, "clusters",
                        JSON_ARRAY);
}

static int cmd_analyze(fr_cli *c, const char *name, const char *cluster_id)
{
    fr_buf p = FR_BUF_INIT;
    fr_buf_puts(&p, "/api/clusters/");
    fr_uri_encode(&p, name, strlen(name), false);
    fr_buf_puts(&p, "/analysis");
    if (cluster_id) {
        fr_buf_puts(&p, "?cluster_id=");
        fr_uri_encode(&p, cluster_id, strlen(cluster_id), false);
    }
    int rc = get_and_show(c, p.data, print_analysis, "node_types", JSON_OBJECT);
    fr_buf_free(&p);
    return rc;
}

struct follow_ctx {
    fr_cli *c;
    const char *run_id;
    char final_state[32];
    long last_n; /* the line on screen that a progress update may redraw */
    int tty;
};

static int on_run_event(void *arg, const json_t *ev)
{
    struct follow_ctx *f = arg;
    const json_t *d = json_object_get(ev, "data");
    if (strcmp(s(d, "run_id"), f->run_id) != 0)
        return 0;
    const char *type = s(ev, "type");
    if (f->c->json) {
        char *line = json_dumps(ev, JSON_COMPACT);
        printf("%s\n", line);
        free(line);
    } else if (strcmp(type, "run.step") == 0 || strcmp(type, "run.progress") == 0) {
        const char *msg = s(d, "message");
        long n = (long)json_integer_value(json_object_get(d, "n"));
        char el[32] = "";
        if (num(d, "elapsed_s") >= 1)
            fmt_duration(el, sizeof(el), num(d, "elapsed_s"));
        int update = strcmp(type, "run.progress") == 0;
        if (update && (!f->tty || n != f->last_n))
            return 0; /* without a terminal, the lines that follow say the outcome */
        if (f->tty) {
            /* the current line stays open so a progress update can redraw it */
            printf("%s  > %s%s%s%s", update ? "\r\033[K" : (f->last_n >= 0 ? "\n" : ""), msg, el[0] ? " (" : "", el,
                   el[0] ? ")" : "");
        } else {
            printf("  > %s%s%s%s\n", msg, el[0] ? " (" : "", el, el[0] ? ")" : "");
        }
        f->last_n = n;
    }
    fflush(stdout);
    if (strcmp(type, "run.done") == 0) {
        if (f->tty && f->last_n >= 0)
            printf("\n");
        fr_strlcpy(f->final_state, s(d, "state"), sizeof(f->final_state));
        return 1;
    }
    return 0;
}

static int follow_run(fr_cli *c, const char *run_id, unsigned long long since)
{
    struct follow_ctx f = {c, run_id, "", -1, isatty(STDOUT_FILENO)};
    int rc = fr_cli_follow(c, since, on_run_event, &f, 0);
    if (rc) {
        fprintf(stderr, "frugal: lost the feed: %s\n", fr_cli_follow_strerror(rc));
        return 1;
    }
    fr_buf p = FR_BUF_INIT;
    fr_buf_printf(&p, "/api/runs/%s", run_id);
    json_t *r = call(c, "GET", p.data, NULL);
    fr_buf_free(&p);
    if (r && !c->json)
        print_run(r);
    json_decref(r);
    return strcmp(f.final_state, "DONE") == 0 ? 0 : 1;
}

static unsigned long long feed_position(fr_cli *c)
{
    json_t *j = call(c, "GET", "/api/events?limit=1&since=18446744073709551614", NULL);
    unsigned long long last = j ? (unsigned long long)json_integer_value(json_object_get(j, "last_seq")) : 0;
    json_decref(j);
    return last;
}

static int cmd_optimize(fr_cli *c, const char *name, int yes, const char *steps)
{
    fr_buf msg = FR_BUF_INIT;
    fr_buf_printf(&msg, "optimize %s", name);
    json_t *j = call(c, "POST", "/api/agent/chat", json_pack("{s:s}", "message", msg.data));
    fr_buf_free(&msg);
    if (!j)
        return 1;
    const json_t *rj = json_object_get(j, "run_id");
    if ((rj && !json_is_string(rj) && !json_is_null(rj)) || !has("/api/agent/chat", j, "reply", JSON_STRING)) {
        if (rj && !json_is_string(rj) && !json_is_null(rj))
            fprintf(stderr, "frugal: /api/agent/chat: the answer's \"run_id\" is not a string\n");
        json_decref(j);
        return 1;
    }
    const char *run_id = s(j, "run_id");
    if (!*run_id) {
        fprintf(stderr, "frugal: %s\n", *s(j, "reply") ? s(j, "reply") : "no run was proposed");
        json_decref(j);
        return 1;
    }
    char rid[128];
    fr_strlcpy(rid, run_id, sizeof(rid));
    if (c->json)
        print_json(j);
    else if (json_is_object(json_object_get(j, "analysis")))
        print_analysis(json_object_get(j, "analysis"));
    else
        printf("%s\n", s(j, "reply"));
    json_decref(j);
    if (!yes) {
        if (!isatty(STDIN_FILENO)) {
            fprintf(stderr, "frugal: not a terminal; approve with --yes or `frugal approve %s`\n", rid);
            return 1;
        }
        printf("\nProceed with optimization? This backs up and modifies the Parameter Store config,\n"
               "creates a test cluster, reverts the config and terminates the cluster. [y/N] ");
        fflush(stdout);
        char ans[16] = "";
        if (!fgets(ans, sizeof(ans), stdin) || (ans[0] != 'y' && ans[0] != 'Y')) {
            json_decref(call(c, "POST", "/api/agent/cancel", json_pack("{s:s}", "run_id", rid)));
            printf("Cancelled.\n");
            return 1;
        }
    }
    unsigned long long since = feed_position(c);
    json_t *body = json_pack("{s:s}", "run_id", rid);
    if (steps) {
        json_t *arr = json_array();
        for (const char *p = steps; *p;) {
            size_t l = strcspn(p, ",");
            if (l) {
                char *id = fr_strndup(p, l);
                json_array_append_new(arr, json_string(id));
                free(id);
            }
            p += l + (p[l] == ',');
        }
        json_object_set_new(body, "steps", arr);
    }
    json_t *a = call(c, "POST", "/api/agent/approve", body);
    if (!a)
        return 1;
    json_decref(a);
    if (!c->json)
        printf("\nOptimization in progress...\n");
    return follow_run(c, rid, since);
}

static int cmd_simple_post(fr_cli *c, const char *path, const char *run_id)
{
    json_t *j = call(c, "POST", path, json_pack("{s:s}", "run_id", run_id));
    if (!j)
        return 1;
    if (c->json)
        print_json(j);
    else
        printf("%s: %s\n", run_id, s(json_object_get(j, "run"), "state")[0] ? s(json_object_get(j, "run"), "state") : "ok");
    json_decref(j);
    return 0;
}

static int cmd_runs(fr_cli *c, int limit)
{
    char path[64];
    snprintf(path, sizeof(path), "/api/runs?limit=%d", limit);
    json_t *j = call(c, "GET", path, NULL);
    if (!j)
        return 1;
    if (!has("/api/runs", j, "runs", JSON_ARRAY)) {
        json_decref(j);
        return 1;
    }
    if (c->json) {
        print_json(j);
    } else {
        printf("%-26s %-28s %-14s %-22s\n", "RUN", "CLUSTER", "STATE", "CREATED");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(j, "runs"), i, r)
            printf("%-26s %-28s %-14s %-22s\n", s(r, "id"), s(r, "cluster_name"), s(r, "state"), s(r, "created"));
    }
    json_decref(j);
    return 0;
}

static int cmd_run(fr_cli *c, const char *id)
{
    fr_buf p = FR_BUF_INIT;
    fr_buf_puts(&p, "/api/runs/");
    fr_uri_encode(&p, id, strlen(id), false);
    int rc = get_and_show(c, p.data, print_run, "state", JSON_STRING);
    fr_buf_free(&p);
    return rc;
}

static int cmd_audit(fr_cli *c, const char *run)
{
    fr_buf p = FR_BUF_INIT;
    fr_buf_puts(&p, "/api/audit");
    if (run) {
        fr_buf_puts(&p, "?run=");
        fr_uri_encode(&p, run, strlen(run), false);
    }
    json_t *j = call(c, "GET", p.data, NULL);
    fr_buf_free(&p);
    if (!j)
        return 1;
    if (!has("/api/audit", j, "audit", JSON_ARRAY)) {
        json_decref(j);
        return 1;
    }
    if (c->json) {
        print_json(j);
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(j, "audit"), i, r)
        {
            json_t *copy = json_deep_copy(r);
            json_object_del(copy, "ts");
            json_object_del(copy, "event");
            json_object_del(copy, "correlation_id");
            char *rest = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
            printf("%s  %-24s %-22s %s\n", s(r, "ts"), s(r, "event"), s(r, "correlation_id"), rest);
            free(rest);
            json_decref(copy);
        }
    }
    json_decref(j);
    return 0;
}

static int print_event(void *arg, const json_t *ev)
{
    char *line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", line);
    fflush(stdout);
    free(line);
    return 0;
}

static int cmd_events(fr_cli *c, unsigned long long since, int since_given, int follow)
{
    if (follow) {
        int rc = fr_cli_follow(c, since_given ? since : FR_CLI_FEED_NOW, print_event, NULL, 0);
        if (rc)
            fprintf(stderr, "frugal: lost the feed: %s\n", fr_cli_follow_strerror(rc));
        return rc ? 1 : 0;
    }
    char path[96];
    snprintf(path, sizeof(path), "/api/events?since=%llu&limit=1000", since);
    json_t *j = call(c, "GET", path, NULL);
    if (!j)
        return 1;
    if (!has("/api/events", j, "events", JSON_ARRAY)) {
        json_decref(j);
        return 1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "events"), i, e) print_event(NULL, e);
    json_decref(j);
    return 0;
}

static int cmd_chat(fr_cli *c, int argc, char **argv)
{
    fr_buf m = FR_BUF_INIT;
    for (int i = 0; i < argc; i++)
        fr_buf_printf(&m, "%s%s", i ? " " : "", argv[i]);
    json_t *j = call(c, "POST", "/api/agent/chat", json_pack("{s:s}", "message", fr_buf_cstr(&m)));
    fr_buf_free(&m);
    if (!j)
        return 1;
    if (!has("/api/agent/chat", j, "reply", JSON_STRING)) {
        json_decref(j);
        return 1;
    }
    if (c->json)
        print_json(j);
    else {
        printf("%s\n", s(j, "reply"));
        if (json_is_object(json_object_get(j, "analysis")))
            print_analysis(json_object_get(j, "analysis"));
        if (json_is_array(json_object_get(j, "clusters")))
            print_clusters(j);
    }
    json_decref(j);
    return 0;
}

#define TOKEN_FILE_MAX 4096

/* The token file holds one line, the token. 0 and *out (NULL when the file
 * does not exist and missing_ok); -1 after printing why it cannot be used. */
static int read_token_file(const char *path, bool missing_ok, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && missing_ok)
            return 0;
        fprintf(stderr, "frugal: cannot read the token file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[TOKEN_FILE_MAX + 2];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (rerr) {
        fprintf(stderr, "frugal: cannot read the token file %s: %s\n", path, strerror(rerr));
        return -1;
    }
    if (n > TOKEN_FILE_MAX) {
        fprintf(stderr, "frugal: the token file %s is larger than %d bytes; it should hold only the token\n", path,
                TOKEN_FILE_MAX);
        return -1;
    }
    buf[n] = '\0';
    const char *why = memchr(buf, '\0', n) ? "contains a NUL byte" : NULL;
    char *tok = fr_str_trim(buf);
    if (!why && !*tok)
        why = "is empty";
    if (!why)
        for (const char *p = tok; *p && !why; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                why = "holds more than one token (whitespace or control characters inside)";
    if (why) {
        fprintf(stderr, "frugal: the token file %s %s\n", path, why);
        memset(buf, 0, sizeof(buf));
        return -1;
    }
    *out = fr_strdup(tok);
    memset(buf, 0, sizeof(buf));
    return 0;
}

int main(int argc, char **argv)
{
    fr_cli c;
    memset(&c, 0, sizeof(c));
    const char *url = getenv("FRUGAL_URL");
    fr_strlcpy(c.url, url && *url ? url : "http://127.0.0.1:8787", sizeof(c.url));
    const char *tok = getenv("FRUGAL_API_TOKEN");
    if (tok && *tok)
        c.token = fr_strdup(tok);

    /* global options come before the command */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0)
            c.json = true;
        else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            fr_strlcpy(c.url, argv[++i], sizeof(c.url));
        else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            free(c.token);
            c.token = fr_strdup(argv[++i]);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("frugal %s\n", FR_VERSION);
            return 0;
        } else {
            fprintf(stderr, "frugal: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    size_t ul = strlen(c.url);
    while (ul && c.url[ul - 1] == '/')
        c.url[--ul] = '\0';
    const char *cmd = argv[i];
    int cargc = argc - i;
    char **cargv = argv + i;
    if (strcmp(cmd, "doctor") == 0) {
        /* a global --json before the command applies to doctor too */
        char *dargv[66];
        int dargc = 0;
        for (int k = 0; k < cargc && dargc < 64; k++)
            dargv[dargc++] = cargv[k];
        if (c.json && dargc < 65)
            dargv[dargc++] = "--json";
        dargv[dargc] = NULL;
        return fr_cli_doctor(dargc, dargv, "frugal doctor");
    }
    if (!c.token) {
        const char *tf = getenv("FRUGAL_TOKEN_FILE");
        bool given = tf && *tf;
        if (read_token_file(given ? tf : "/var/lib/frugal/api-token", !given, &c.token) != 0)
            return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fr_rand_init();

    /* command options may appear anywhere after the command */
    int refresh = 0, yes = 0, follow = 0, limit = 50;
    const char *cluster_id = NULL, *steps = NULL, *run = NULL;
    unsigned long long since = 0;
    int since_given = 0;
    char *pos[64];
    int npos = 0;
    for (int k = 1; k < cargc; k++) {
        const char *a = cargv[k];
        if (strcmp(a, "--json") == 0)
            c.json = true;
        else if (strcmp(a, "--refresh") == 0)
            refresh = 1;
        else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0)
            yes = 1;
        else if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0)
            follow = 1;
        else if (strcmp(a, "--cluster-id") == 0 && k + 1 < cargc)
            cluster_id = cargv[++k];
        else if (strcmp(a, "--steps") == 0 && k + 1 < cargc)
            steps = cargv[++k];
        else if (strcmp(a, "--run") == 0 && k + 1 < cargc)
            run = cargv[++k];
        else if (strcmp(a, "--limit") == 0 && k + 1 < cargc) {
            int64_t v;
            if (fr_parse_i64(cargv[++k], &v) || v <= 0 || v > 1000) {
                fprintf(stderr, "frugal: --limit takes 1..1000\n");
                return 2;
            }
            limit = (int)v;
        } else if (strcmp(a, "--since") == 0 && k + 1 < cargc) {
            uint64_t v;
            if (fr_parse_u64(cargv[++k], &v)) {
                fprintf(stderr, "frugal: --since takes a sequence number\n");
                return 2;
            }
            since = v;
            since_given = 1;
        } else if (a[0] == '-' && a[1] == '-' && strcmp(cmd, "chat") != 0) {
            fprintf(stderr, "frugal %s: unknown option %s\n", cmd, a);
            return 2;
        } else if (npos < 64)
            pos[npos++] = cargv[k];
    }
    int rc;
    if (strcmp(cmd, "health") == 0)
        rc = cmd_health(&c);
    else if (strcmp(cmd, "clusters") == 0)
        rc = cmd_clusters(&c, refresh);
    else if ((strcmp(cmd, "analyze") == 0 || strcmp(cmd, "analyse") == 0) && npos == 1)
        rc = cmd_analyze(&c, pos[0], cluster_id);
    else if ((strcmp(cmd, "optimize") == 0 || strcmp(cmd, "optimise") == 0) && npos == 1)
        rc = cmd_optimize(&c, pos[0], yes, steps);
    else if (strcmp(cmd, "approve") == 0 && npos == 1)
        rc = cmd_simple_post(&c, "/api/agent/approve", pos[0]);
    else if (strcmp(cmd, "cancel") == 0 && npos == 1)
        rc = cmd_simple_post(&c, "/api/agent/cancel", pos[0]);
    else if (strcmp(cmd, "runs") == 0)
        rc = cmd_runs(&c, limit);
    else if (strcmp(cmd, "run") == 0 && npos == 1)
        rc = cmd_run(&c, pos[0]);
    else if (strcmp(cmd, "audit") == 0)
        rc = cmd_audit(&c, run);
    else if (strcmp(cmd, "events") == 0)
        rc = cmd_events(&c, since, since_given, follow);
    else if (strcmp(cmd, "chat") == 0 && npos >= 1)
        rc = cmd_chat(&c, npos, pos);
    else {
        usage(stderr);
        rc = 2;
    }
    if (c.token) {
        memset(c.token, 0, strlen(c.token));
        free(c.token);
    }
    fr_rand_cleanup();
    curl_global_cleanup();
    return rc;
}
