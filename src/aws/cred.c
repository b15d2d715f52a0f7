/* The credential provider: picks the source once (see frugal/aws_cred.h),
 * fetches on the loop through fr_call (or a credential_process child),
 * assumes the roles of a profile's chain one after the other, refreshes
 * temporary credentials before they expire, and queues callers only while
 * no usable credentials exist. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frugal/aws_cred.h"
#include "frugal/aws_endpoint.h"
#include "frugal/aws_proto.h"
#include "frugal/call.h"
#include "frugal/err.h"
#include "frugal/log.h"
#include "frugal/rand.h"
#include "frugal/redact.h"
#include "frugal/str.h"
#include "frugal/time.h"
#include "cred_process.h"
#include "fr_config.h"

#define MAX_FILE (1u << 20)
#define IMDS_TOKEN_TTL_S 21600

#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

/* With an assume-role chain, the source is that of the chain's base. */
enum source { SRC_NONE, SRC_ENV, SRC_PROFILE, SRC_WEB_IDENTITY, SRC_CONTAINER, SRC_IMDS, SRC_PROCESS, SRC_BROKEN };
enum step { ST_IDLE, ST_STS, ST_ASSUME, ST_CONTAINER, ST_IMDS_TOKEN, ST_IMDS_ROLE, ST_IMDS_CREDS, ST_PROCESS };

struct fr_cred_wait {
    fr_cred_provider *p;
    fr_cred_cb cb;
    void *arg;
    uint64_t gen;
    fr_cred_wait *prev, *next;
};

struct fr_cred_provider {
    uv_loop_t *loop;
    fr_http *http;
    enum source src;
    char *broken; /* why the configured source cannot work */
    fr_aws_profile prof;
    char *profile_region;
    /* web identity */
    char *wi_role_arn, *wi_token_file, *wi_session_name;
    char *sts_url, *sts_host;
    /* container */
    char *ct_url, *ct_token, *ct_token_file;
    /* IMDS */
    char *imds_url;
    uint64_t imds_timeout_ms;
    int imds_attempts;
    bool imds_v1_disabled;
    char *imds_token;
    int64_t imds_token_exp_ms;
    char imds_role[256];
    int imds_reauth; /* a 401 restarted the sequence once */
    /* credential_process */
    char **proc_argv;
    char proc_profile[128];
    fr_cred_proc *proc;
    /* assume role: chain.hop[i] is assumed with hop_creds[i - 1] (hop 0
     * with base); each is kept, and fetched again only near its expiry */
    fr_aws_role_chain chain;
    fr_aws_creds base;
    fr_aws_creds hop_creds[FR_AWS_MAX_ROLE_HOPS];
    size_t hop;                 /* being assumed */
    const fr_aws_creds *signer; /* signs that AssumeRole */
    char *sts_region;
    fr_buf authz, sig_store;
    const char *ahdrs[16];
    size_t nahdrs;
    uint64_t connect_timeout_ms, timeout_ms;
    /* state */
    fr_aws_creds cur;
    bool have;
    enum step step;
    fr_call *call;
    uint64_t gen, done_gen;
    int fail_streak;
    /* the request of the current step, kept for build() */
    char url[1024];
    const char *method;
    fr_buf body;
    fr_buf hdr_store;
    const char *hdrs[8];
    size_t nhdrs;
    uint64_t step_timeout_ms;
    /* waiters */
    fr_cred_wait *head, *tail;
    size_t nwait;
    uv_timer_t *timer;
    int64_t next_refresh_ms;
    int open; /* handles (the timer, a credential_process) not yet closed */
    int closing;
    void (*close_done)(void *);
    void *close_arg;
    fr_cred_stats stats;
};

static void start_fetch(fr_cred_provider *p);
static void fetch_failed(fr_cred_provider *p, int err, const char *msg);

/* ---- small helpers ---- */

static const char *envv(fr_getenv_fn env, void *arg, const char *name)
{
    const char *v = env(name, arg);
    return v && *v ? v : NULL;
}

static char *expand_home(const char *path, const char *home)
{
    fr_buf b = FR_BUF_INIT;
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
        fr_buf_printf(&b, "%s%s", home ? home : "", path + 1);
    else
        fr_buf_puts(&b, path);
    return fr_buf_steal(&b);
}

static int load_ini(const char *path, bool explicit_path, fr_aws_ini **out, char *err, size_t errlen)
{
    *out = NULL;
    fr_buf b = FR_BUF_INIT;
    int rc = fr_buf_read_file(&b, path, MAX_FILE);
    if (rc == -ENOENT && !explicit_path) {
        fr_buf_free(&b);
        return 0;
    }
    if (rc) {
        snprintf(err, errlen, "cannot read %s: %s", path, fr_strerror(rc));
        fr_buf_free(&b);
        return rc == -ENOENT ? FR_ECONFIG : rc;
    }
    rc = fr_aws_ini_parse(fr_buf_cstr(&b), b.len, path, out, err, errlen);
    if (b.data)
        memset(b.data, 0, b.len);
    fr_buf_free(&b);
    return rc;
}

static bool has_crlf(const char *s)
{
    return strchr(s, '\r') || strchr(s, '\n');
}

/* The container endpoint over plain HTTP must be a link-local or loopback
 * address, as the SDKs require. */
static bool container_host_ok(const char *url)
{
    fr_aws_url u;
    if (fr_aws_parse_url(url, &u) != 0)
        return false;
    if (u.https)
        return true;
    return fr_str_startswith(u.host, "127.") || strcmp(u.host, "localhost") == 0 || strcmp(u.host, "::1") == 0 ||
           strcmp(u.host, "169.254.170.2") == 0 || strcmp(u.host, "169.254.170.23") == 0 ||
           fr_str_ieq(u.host, "fd00:ec2::23");
}

static void set_broken(fr_cred_provider *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_broken(fr_cred_provider *p, const char *fmt, ...)
{
    fr_buf m = FR_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    fr_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    free(p->broken);
    p->broken = fr_buf_steal(&m);
    p->src = SRC_BROKEN;
}

static void set_static(fr_aws_creds *c, const char *akid, const char *secret, const char *token, const char *source)
{
    c->access_key_id = fr_strdup(akid);
    c->secret_access_key = fr_strdup(secret);
    c->session_token = token ? fr_strdup(token) : NULL;
    c->expiration_ms = 0;
    fr_strlcpy(c->source, source, sizeof(c->source));
    fr_aws_creds_redact(c);
}

static void take_static(fr_cred_provider *p, const char *akid, const char *secret, const char *token,
                        const char *source)
{
    set_static(&p->cur, akid, secret, token, source);
    p->have = true;
}

static char *session_name(const char *configured)
{
    if (configured)
        return fr_strdup(configured);
    char s[64];
    snprintf(s, sizeof(s), "frugal-session-%lld", (long long)(fr_time_now_ms() / 1000));
    return fr_strdup(s);
}

/* ---- the sources' settings ---- */

/* The container endpoint; false when neither variable is set. */
static bool setup_container(fr_cred_provider *p, fr_getenv_fn env, void *ea, const char *home)
{
    const char *rel = envv(env, ea, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = envv(env, ea, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full)
        return false;
    fr_buf u = FR_BUF_INIT;
    if (rel)
        fr_buf_printf(&u, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
    else
        fr_buf_puts(&u, full);
    p->ct_url = fr_buf_steal(&u);
    if (!rel && !container_host_ok(full)) {
        set_broken(p, "AWS_CONTAINER_CREDENTIALS_FULL_URI %s is not https and not a loopback or ECS/EKS address",
                   full);
        return true;
    }
    const char *tf = envv(env, ea, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tk = envv(env, ea, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tf)
        p->ct_token_file = expand_home(tf, home);
    else if (tk)
        p->ct_token = fr_strdup(tk);
    if (p->ct_token)
        fr_redact_register(p->ct_token);
    p->src = SRC_CONTAINER;
    return true;
}

/* IMDS settings; *disabled when AWS_EC2_METADATA_DISABLED is true. */
static int setup_imds(fr_cred_provider *p, fr_getenv_fn env, void *ea, bool *disabled, char *err, size_t errlen)
{
    const char *dis = envv(env, ea, "AWS_EC2_METADATA_DISABLED");
    *disabled = false;
    if (dis)
        fr_parse_bool(dis, disabled);
    if (*disabled)
        return 0;
    const char *ep = envv(env, ea, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = envv(env, ea, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (!ep)
        ep = mode && fr_str_ieq(mode, "IPv6") ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
    fr_aws_url iu;
    if (fr_aws_parse_url(ep, &iu) != 0) {
        snprintf(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http(s) URL: %s", ep);
        return FR_ECONFIG;
    }
    size_t el = strlen(ep);
    while (el && ep[el - 1] == '/')
        el--;
    p->imds_url = fr_strndup(ep, el);
    p->imds_timeout_ms = 1000;
    p->imds_attempts = 2;
    const char *t = envv(env, ea, "AWS_METADATA_SERVICE_TIMEOUT");
    double d;
    if (t && fr_parse_double(t, &d) == 0 && d > 0 && d < 3600)
        p->imds_timeout_ms = (uint64_t)(d * 1000);
    const char *na = envv(env, ea, "AWS_METADATA_SERVICE_NUM_ATTEMPTS");
    int64_t n;
    if (na && fr_parse_i64(na, &n) == 0 && n >= 1 && n <= 10)
        p->imds_attempts = (int)n;
    const char *v1 = envv(env, ea, "AWS_EC2_METADATA_V1_DISABLED");
    if (v1)
        fr_parse_bool(v1, &p->imds_v1_disabled);
    p->src = SRC_IMDS;
    return 0;
}

static void setup_process(fr_cred_provider *p, const fr_aws_profile *prof)
{
    char why[200] = "";
    size_t argc;
    fr_strlcpy(p->proc_profile, prof->name, sizeof(p->proc_profile));
    if (fr_cred_split_command(prof->credential_process, &p->proc_argv, &argc, why, sizeof(why)) != 0) {
        set_broken(p, "profile '%s': %s", prof->name, why);
        return;
    }
    p->src = SRC_PROCESS;
}

/* The base of an assume-role chain (resolved into p->chain). */
static int setup_chain(fr_cred_provider *p, fr_getenv_fn env, void *ea, const char *home, char *err,
                       size_t errlen)
{
    const fr_aws_profile *bp = &p->chain.base_profile;
    const char *inner = p->chain.hop[0].profile; /* the profile naming the credential_source */
    char src[80];
    bool disabled;
    switch (p->chain.base) {
    case FR_CRED_BASE_STATIC:
        snprintf(src, sizeof(src), "profile:%.60s", bp->name);
        set_static(&p->base, bp->access_key_id, bp->secret_access_key, bp->session_token, src);
        p->src = SRC_PROFILE;
        return 0;
    case FR_CRED_BASE_ENV: {
        const char *akid = envv(env, ea, "AWS_ACCESS_KEY_ID"), *sk = envv(env, ea, "AWS_SECRET_ACCESS_KEY");
        const char *tok = envv(env, ea, "AWS_SESSION_TOKEN");
        if (!akid || !sk) {
            set_broken(p, "profile '%s' has credential_source = Environment but AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY are not both set",
                       inner);
            return 0;
        }
        set_static(&p->base, akid, sk, tok ? tok : envv(env, ea, "AWS_SECURITY_TOKEN"), "env");
        p->src = SRC_ENV;
        return 0;
    }
    case FR_CRED_BASE_WEB_IDENTITY:
        p->wi_role_arn = fr_strdup(bp->role_arn);
        p->wi_token_file = expand_home(bp->web_identity_token_file, home);
        p->wi_session_name = session_name(bp->role_session_name);
        p->src = SRC_WEB_IDENTITY;
        return 0;
    case FR_CRED_BASE_PROCESS:
        setup_process(p, bp);
        return 0;
    case FR_CRED_BASE_CONTAINER:
        if (!setup_container(p, env, ea, home))
            set_broken(p, "profile '%s' has credential_source = EcsContainer but neither "
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
                       inner);
        return 0;
    case FR_CRED_BASE_IMDS: {
        int rc = setup_imds(p, env, ea, &disabled, err, errlen);
        if (rc == 0 && disabled)
            set_broken(p, "profile '%s' has credential_source = Ec2InstanceMetadata but "
                          "AWS_EC2_METADATA_DISABLED is set",
                       inner);
        return rc;
    }
    }
    return 0;
}

/* ---- choosing the source (at creation) ---- */

static int choose(fr_cred_provider *p, const fr_cred_opts *o, char *err, size_t errlen)
{
    fr_getenv_fn env = o->getenv ? o->getenv : fr_aws_process_env;
    void *ea = o->getenv_arg;
    const char *home = o->home ? o->home : envv(env, ea, "HOME");
    bool explicit_profile = o->profile && *o->profile;
    const char *pname = explicit_profile ? o->profile : envv(env, ea, "AWS_PROFILE");
    if (!pname)
        pname = envv(env, ea, "AWS_DEFAULT_PROFILE");
    bool named = pname != NULL;
    if (!pname)
        pname = "default";

    /* the shared files (read once, here) */
    const char *cf = envv(env, ea, "AWS_SHARED_CREDENTIALS_FILE");
    const char *gf = envv(env, ea, "AWS_CONFIG_FILE");
    char *cpath = expand_home(cf ? cf : "~/.aws/credentials", home);
    char *gpath = expand_home(gf ? gf : "~/.aws/config", home);
    fr_aws_ini *cini = NULL, *gini = NULL;
    int rc = 0;
    if (home || cf)
        rc = load_ini(cpath, cf != NULL, &cini, err, errlen);
    if (!rc && (home || gf))
        rc = load_ini(gpath, gf != NULL, &gini, err, errlen);
    if (!rc)
        rc = fr_aws_profile_from_ini(cini, gini, pname, &p->prof);
    if (!rc && named && !p->prof.found) {
        snprintf(err, errlen, "AWS profile '%s' is in neither %s nor %s", pname, cpath, gpath);
        rc = FR_ECONFIG;
    }
    /* an assume-role profile's chain (its errors are the source's: reported on use) */
    bool assume = !rc && fr_aws_profile_assumes_role(&p->prof);
    char chain_err[300] = "";
    int chain_rc = assume ? fr_aws_role_chain_resolve(cini, gini, pname, &p->chain, chain_err, sizeof(chain_err))
                          : 0;
    free(cpath);
    free(gpath);
    fr_aws_ini_free(cini);
    fr_aws_ini_free(gini);
    if (rc)
        return rc;
    p->profile_region = fr_strdup(p->prof.region ? p->prof.region : "");

    /* 1. environment */
    const char *akid = envv(env, ea, "AWS_ACCESS_KEY_ID"), *sk = envv(env, ea, "AWS_SECRET_ACCESS_KEY");
    if (!explicit_profile && (akid || sk)) {
        if (!akid || !sk) {
            set_broken(p, "partial credentials in the environment: %s is set but %s is not",
                       akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
            return 0;
        }
        const char *tok = envv(env, ea, "AWS_SESSION_TOKEN");
        if (!tok)
            tok = envv(env, ea, "AWS_SECURITY_TOKEN");
        take_static(p, akid, sk, tok, "env");
        p->src = SRC_ENV;
        return 0;
    }

    /* 2. assume role: role_arn + source_profile / credential_source */
    if (assume) {
        if (chain_rc) {
            if (chain_rc == -ENOMEM)
                return chain_rc;
            set_broken(p, "%s", chain_err);
            return 0;
        }
        return setup_chain(p, env, ea, home, err, errlen);
    }

    /* 3. web identity (environment, else the profile's settings) */
    const char *role = envv(env, ea, "AWS_ROLE_ARN");
    const char *tfile = envv(env, ea, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *sname = envv(env, ea, "AWS_ROLE_SESSION_NAME");
    if (!role)
        role = p->prof.role_arn;
    if (!tfile)
        tfile = p->prof.web_identity_token_file;
    if (!sname)
        sname = p->prof.role_session_name;
    if (tfile && role) {
        p->wi_role_arn = fr_strdup(role);
        p->wi_token_file = expand_home(tfile, home);
        p->wi_session_name = session_name(sname);
        p->src = SRC_WEB_IDENTITY;
        return 0;
    }
    if (tfile && !role && envv(env, ea, "AWS_WEB_IDENTITY_TOKEN_FILE")) {
        set_broken(p, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
        return 0;
    }

    /* A role_arn that nothing can assume: botocore refuses it too, rather
     * than running as the keys next to it. */
    if (p->prof.role_arn) {
        set_broken(p, "profile '%s' has role_arn but no source_profile, credential_source or "
                      "web_identity_token_file",
                   pname);
        return 0;
    }

    /* 4. the profile: static keys, else credential_process */
    if (p->prof.access_key_id || p->prof.secret_access_key) {
        if (!p->prof.access_key_id || !p->prof.secret_access_key) {
            set_broken(p, "profile '%s' has only one of aws_access_key_id / aws_secret_access_key", pname);
            return 0;
        }
        char src[80];
        snprintf(src, sizeof(src), "profile:%s", pname);
        take_static(p, p->prof.access_key_id, p->prof.secret_access_key, p->prof.session_token, src);
        p->src = SRC_PROFILE;
        return 0;
    }
    if (p->prof.unsupported) {
        set_broken(p, "profile '%s' uses %s, which frugal does not support; bridge it with "
                      "credential_process = aws configure export-credentials --profile %s --format process",
                   pname, p->prof.unsupported, pname);
        return 0;
    }
    if (p->prof.credential_process) {
        setup_process(p, &p->prof);
        return 0;
    }

    /* 5. container */
    if (setup_container(p, env, ea, home))
        return 0;

    /* 6. IMDS */
    bool disabled;
    rc = setup_imds(p, env, ea, &disabled, err, errlen);
    if (rc == 0 && disabled)
        set_broken(p, "no AWS credentials: none in the environment, profile '%s' has no keys, no container or web "
                      "identity settings, and AWS_EC2_METADATA_DISABLED is set",
                   pname);
    return rc;
}

/* The last handle closed: free, then tell whoever closed us. */
static void handle_gone(fr_cred_provider *p)
{
    if (--p->open > 0 || !p->closing)
        return;
    void (*done)(void *) = p->close_done;
    void *arg = p->close_arg;
    free(p);
    if (done)
        done(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    fr_cred_provider *p = h->data;
    free(h);
    handle_gone(p);
}

static void on_proc_closed(void *arg)
{
    handle_gone(arg);
}

static void wipe_buf(fr_buf *b)
{
    if (b->data)
        memset(b->data, 0, b->cap);
    fr_buf_free(b);
}

static void provider_free_fields(fr_cred_provider *p)
{
    fr_aws_creds_clear(&p->cur);
    fr_aws_creds_clear(&p->base);
    for (size_t i = 0; i < FR_ARRAY_SIZE(p->hop_creds); i++)
        fr_aws_creds_clear(&p->hop_creds[i]);
    fr_aws_role_chain_clear(&p->chain);
    fr_aws_profile_clear(&p->prof);
    char **s[] = {&p->broken,   &p->profile_region, &p->wi_role_arn, &p->wi_token_file, &p->wi_session_name,
                  &p->sts_url,  &p->sts_host,       &p->ct_url,      &p->ct_token,      &p->ct_token_file,
                  &p->imds_url, &p->imds_token,     &p->sts_region};
    for (size_t i = 0; i < FR_ARRAY_SIZE(s); i++) {
        free(*s[i]);
        *s[i] = NULL;
    }
    fr_cred_argv_free(p->proc_argv);
    p->proc_argv = NULL;
    wipe_buf(&p->body); /* may hold a web identity token */
    wipe_buf(&p->hdr_store);
    wipe_buf(&p->sig_store);
    fr_buf_free(&p->authz);
}

int fr_cred_provider_new(fr_cred_provider **out, uv_loop_t *loop, fr_http *http, const fr_cred_opts *opts,
                         char *err, size_t errlen)
{
    *out = NULL;
    fr_cred_provider *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->http = http;
    p->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 5000;
    p->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 30000;
    if (opts->sts_url)
        p->sts_url = fr_strdup(opts->sts_url);
    if (opts->sts_host_header)
        p->sts_host = fr_strdup(opts->sts_host_header);
    if (opts->sts_region)
        p->sts_region = fr_strdup(opts->sts_region);
    int rc = choose(p, opts, err, errlen);
    if (rc == 0) {
        p->timer = malloc(sizeof(*p->timer));
        if (!p->timer)
            rc = -ENOMEM;
    }
    if (rc) {
        provider_free_fields(p);
        free(p);
        return rc;
    }
    uv_timer_init(loop, p->timer);
    p->timer->data = p;
    p->open = 1;
    *out = p;
    return 0;
}

void fr_cred_set_sts(fr_cred_provider *p, const char *url, const char *host_header, const char *signing_region)
{
    free(p->sts_url);
    free(p->sts_host);
    free(p->sts_region);
    p->sts_url = url ? fr_strdup(url) : NULL;
    p->sts_host = host_header ? fr_strdup(host_header) : NULL;
    p->sts_region = signing_region ? fr_strdup(signing_region) : NULL;
}

const char *fr_cred_profile_region(const fr_cred_provider *p)
{
    return p->profile_region ? p->profile_region : "";
}

const char *fr_cred_profile_name(const fr_cred_provider *p)
{
    return p->prof.name;
}

const fr_aws_creds *fr_cred_current(fr_cred_provider *p)
{
    return p->have && fr_cred_usable(&p->cur, fr_time_now_ms()) ? &p->cur : NULL;
}

void fr_cred_stats_get(const fr_cred_provider *p, fr_cred_stats *st)
{
    *st = p->stats;
    st->waiting = p->nwait;
    st->refreshing = p->step != ST_IDLE;
    st->next_refresh_ms = p->next_refresh_ms;
}

/* ---- waiters ---- */

static void unlink_wait(fr_cred_provider *p, fr_cred_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->tail = w->prev;
    p->nwait--;
}

void fr_cred_cancel(fr_cred_wait *w)
{
    if (!w)
        return;
    unlink_wait(w->p, w);
    free(w);
}

/* Wakes the callers queued for fetch `gen` (or earlier). Callers queued
 * from inside a callback belong to the next fetch and stay queued. */
static void notify(fr_cred_provider *p, uint64_t gen, int err, const char *msg)
{
    while (p->head && p->head->gen <= gen && !p->closing) {
        fr_cred_wait *w = p->head;
        unlink_wait(p, w);
        fr_cred_cb cb = w->cb;
        void *arg = w->arg;
        free(w);
        const fr_aws_creds *c = err ? NULL : fr_cred_current(p);
        if (!err && !c) {
            cb(arg, NULL, FR_ECRED, "fetched credentials are already expired");
            continue;
        }
        cb(arg, c, err, msg);
    }
}

/* ---- refresh scheduling ---- */

static void on_refresh_timer(uv_timer_t *t)
{
    fr_cred_provider *p = t->data;
    p->next_refresh_ms = 0;
    if (p->step == ST_IDLE && !p->closing)
        start_fetch(p);
}

static void schedule(fr_cred_provider *p, int64_t in_ms)
{
    if (in_ms < 0) {
        uv_timer_stop(p->timer);
        p->next_refresh_ms = 0;
        return;
    }
    if (in_ms < 1000)
        in_ms = 1000; /* never a hot loop, whatever the source answers */
    p->next_refresh_ms = fr_time_now_ms() + in_ms;
    uv_timer_start(p->timer, on_refresh_timer, (uint64_t)in_ms, 0);
}

/* Refuses credentials that are unusable already (a process printing an old
 * Expiration): fetching again at once would only spin. */
static bool fresh_enough(fr_aws_creds *c, const char *source, char *msg, size_t mlen)
{
    if (fr_cred_usable(c, fr_time_now_ms()))
        return true;
    char exp[40];
    fr_time_iso8601(exp, sizeof(exp), c->expiration_ms, 0);
    snprintf(msg, mlen, "%s: the credentials it returned expire at %s, less than %d s from now", source, exp,
             FR_CRED_EXPIRY_MARGIN_MS / 1000);
    fr_aws_creds_clear(c);
    return false;
}

static void fetch_succeeded(fr_cred_provider *p, fr_aws_creds *c, const char *source)
{
    char msg[300];
    if (!fresh_enough(c, source, msg, sizeof(msg))) {
        fetch_failed(p, FR_ECRED, msg);
        return;
    }
    uint64_t gen = p->gen;
    p->step = ST_IDLE;
    p->call = NULL;
    p->fail_streak = 0;
    fr_strlcpy(c->source, source, sizeof(c->source));
    fr_aws_creds_redact(c);
    fr_aws_creds_clear(&p->cur);
    p->cur = *c; /* ownership moves */
    memset(c, 0, sizeof(*c));
    p->have = true;
    p->stats.fetches++;
    p->stats.last_error[0] = '\0';
    char masked[32], exp[40] = "never";
    fr_aws_mask_key(p->cur.access_key_id, masked, sizeof(masked));
    if (p->cur.expiration_ms)
        fr_time_iso8601(exp, sizeof(exp), p->cur.expiration_ms, 0);
    fr_log_info("aws.credentials", "{s:s, s:s, s:s}", "source", p->cur.source, "access_key", masked, "expiration",
                exp);
    schedule(p, fr_cred_refresh_in_ms(&p->cur, fr_time_now_ms(), fr_rand_unit()));
    p->done_gen = gen;
    notify(p, gen, 0, NULL);
}

static void record_failure(fr_cred_provider *p, const char *msg)
{
    p->step = ST_IDLE;
    p->call = NULL;
    p->stats.failures++;
    p->fail_streak++;
    fr_strlcpy(p->stats.last_error, msg, sizeof(p->stats.last_error));
    fr_log_warn("aws.credentials.failed", "{s:s}", "error", msg);
    int64_t now = fr_time_now_ms();
    if (p->have && fr_cred_usable(&p->cur, now)) {
        /* Still valid: try again later, well before they run out. */
        int64_t left = p->cur.expiration_ms - FR_CRED_EXPIRY_MARGIN_MS - now;
        int64_t retry = FR_MIN((int64_t)10000 << FR_MIN(p->fail_streak - 1, 3), left / 2);
        schedule(p, retry);
    }
}

static void fetch_failed(fr_cred_provider *p, int err, const char *msg)
{
    uint64_t gen = p->gen;
    record_failure(p, msg);
    p->done_gen = gen;
    notify(p, gen, err ? err : FR_ECRED, msg);
}

/* ---- one HTTP step through fr_call ---- */

static void sig_header(fr_cred_provider *p, size_t *offs, size_t *n, const char *name, const char *value)
{
    offs[(*n)++] = p->sig_store.len;
    fr_buf_printf(&p->sig_store, "%s: %s", name, value);
    fr_buf_append(&p->sig_store, "", 1);
}

/* Each attempt of an AssumeRole is signed afresh (time, and the signer's
 * current keys), like every other signed request. */
static int sign_assume(fr_cred_provider *p)
{
    const fr_aws_creds *s = p->signer;
    const char *path = strstr(p->url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    if (!s || !path || !p->sts_host || !p->sts_region)
        return FR_ECRED;
    fr_sigv4_header sh[] = {{"Content-Type", FORM_TYPE}};
    fr_aws_sign_in in = {
        .method = "POST",
        .host = p->sts_host,
        .path = path,
        .headers = sh,
        .nheaders = FR_ARRAY_SIZE(sh),
        .body = p->body.data,
        .body_len = p->body.len,
        .region = p->sts_region,
        .service = "sts",
        .access_key = s->access_key_id,
        .secret_key = s->secret_access_key,
        .session_token = s->session_token,
        .time_ms = fr_time_now_ms(),
    };
    char date[20];
    int rc = fr_aws_sign(&in, date, &p->authz);
    if (rc)
        return rc;
    size_t offs[3], n = 0;
    fr_buf_reset(&p->sig_store);
    sig_header(p, offs, &n, "X-Amz-Date", date);
    if (s->session_token && *s->session_token)
        sig_header(p, offs, &n, "X-Amz-Security-Token", s->session_token);
    sig_header(p, offs, &n, "Authorization", fr_buf_cstr(&p->authz));
    p->nahdrs = 0;
    for (size_t i = 0; i < p->nhdrs && p->nahdrs < FR_ARRAY_SIZE(p->ahdrs); i++)
        p->ahdrs[p->nahdrs++] = p->hdrs[i];
    for (size_t i = 0; i < n && p->nahdrs < FR_ARRAY_SIZE(p->ahdrs); i++)
        p->ahdrs[p->nahdrs++] = p->sig_store.data + offs[i];
    return 0;
}

static int build(void *arg, int attempt, fr_http_opts *o)
{
    (void)attempt;
    fr_cred_provider *p = arg;
    o->method = p->method;
    o->url = p->url;
    o->headers = p->hdrs;
    o->nheaders = p->nhdrs;
    if (p->step == ST_ASSUME) {
        int rc = sign_assume(p);
        if (rc)
            return rc;
        o->headers = p->ahdrs;
        o->nheaders = p->nahdrs;
    }
    if (p->body.len || strcmp(p->method, "GET") != 0) {
        o->body = fr_buf_cstr(&p->body);
        o->body_len = p->body.len;
    }
    o->timeout_ms = p->step_timeout_ms;
    o->connect_timeout_ms = FR_MIN(p->step_timeout_ms, p->connect_timeout_ms);
    return 0;
}

static fr_verdict classify(void *arg, const fr_http_resp *r)
{
    fr_cred_provider *p = arg;
    if (p->step == ST_STS || p->step == ST_ASSUME)
        return fr_aws_classify(FR_AWS_PROTO_QUERY, r, NULL);
    if (p->step == ST_IMDS_TOKEN && !r->err && (r->status == 403 || r->status == 404 || r->status == 405))
        return FR_VERDICT_OK; /* no IMDSv2 here: the SDKs fall back to v1 */
    if (!r->err && r->status == 401)
        return FR_VERDICT_FAIL;
    return fr_classify_http(r);
}

static void step_done(void *arg, const fr_http_resp *r, const fr_call_result *res);

static int send_step(fr_cred_provider *p, enum step st, const char *method, uint64_t timeout_ms, int attempts)
{
    p->step = st;
    p->method = method;
    p->step_timeout_ms = timeout_ms;
    p->nhdrs = 0;
    /* hdr_store holds NUL-separated lines; pointers are taken after it stops growing */
    fr_call_spec spec = {
        .service = st == ST_STS || st == ST_ASSUME ? "sts" : (st == ST_CONTAINER ? "container-credentials" : "imds"),
        .policy = {st == ST_STS || st == ST_ASSUME ? 200 : 100, 2000, attempts - 1, 10000},
        .build = build,
        .classify = classify,
        .done = step_done,
        .arg = p,
    };
    size_t off = 0;
    while (off < p->hdr_store.len && p->nhdrs < FR_ARRAY_SIZE(p->hdrs)) {
        p->hdrs[p->nhdrs++] = p->hdr_store.data + off;
        off += strlen(p->hdr_store.data + off) + 1;
    }
    int rc = fr_call_start(p->http, p->loop, &spec, &p->call);
    if (rc) {
        p->call = NULL;
        p->step = ST_IDLE;
    }
    return rc;
}

static void add_header(fr_cred_provider *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_header(fr_cred_provider *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fr_buf_vprintf(&p->hdr_store, fmt, ap);
    va_end(ap);
    fr_buf_append(&p->hdr_store, "", 1); /* keep the NUL as a separator */
}

static void reset_request(fr_cred_provider *p)
{
    fr_buf_reset(&p->hdr_store);
    fr_buf_reset(&p->body);
    add_header(p, "Accept:");
    add_header(p, "User-Agent: frugal/%s", FR_VERSION);
}

static int start_sts(fr_cred_provider *p, char *msg, size_t mlen)
{
    if (!p->sts_url) {
        snprintf(msg, mlen, "web identity: no STS endpoint");
        return FR_ECRED;
    }
    fr_buf tok = FR_BUF_INIT;
    int rc = fr_buf_read_file(&tok, p->wi_token_file, MAX_FILE);
    if (rc || tok.len == 0) {
        snprintf(msg, mlen, "web identity token file %s: %s", p->wi_token_file, rc ? fr_strerror(rc) : "empty");
        fr_buf_free(&tok);
        return FR_ECRED;
    }
    char *t = fr_str_trim(tok.data);
    fr_redact_register(t);
    json_t *params = json_pack("{s:s, s:s, s:s}", "RoleArn", p->wi_role_arn, "RoleSessionName", p->wi_session_name,
                               "WebIdentityToken", t);
    reset_request(p);
    rc = fr_aws_query_encode("AssumeRoleWithWebIdentity", "2011-06-15", params, false, &p->body);
    json_decref(params);
    memset(tok.data, 0, tok.len);
    fr_buf_free(&tok);
    if (rc)
        return rc;
    snprintf(p->url, sizeof(p->url), "%s/", p->sts_url);
    if (p->sts_host)
        add_header(p, "Host: %s", p->sts_host);
    add_header(p, "Content-Type: %s", FORM_TYPE);
    add_header(p, "Accept-Encoding: %s", "identity");
    return send_step(p, ST_STS, "POST", p->timeout_ms, 3);
}

/* AssumeRole of chain hop i, signed with `signer` (see sign_assume). */
static int start_assume(fr_cred_provider *p, size_t i, const fr_aws_creds *signer, char *msg, size_t mlen)
{
    const fr_aws_role_hop *h = &p->chain.hop[i];
    if (!p->sts_url || !p->sts_host || !p->sts_region) {
        snprintf(msg, mlen, "assume role: no STS endpoint");
        return FR_ECRED;
    }
    p->hop = i;
    p->signer = signer;
    char *sname = session_name(h->role_session_name);
    /* members in the order of the API's shape, as botocore serialises them */
    json_t *params = json_pack("{s:s, s:s}", "RoleArn", h->role_arn, "RoleSessionName", sname ? sname : "");
    if (params && h->duration_s)
        json_object_set_new(params, "DurationSeconds", json_integer(h->duration_s));
    if (params && h->external_id)
        json_object_set_new(params, "ExternalId", json_string(h->external_id));
    free(sname);
    if (!params)
        return -ENOMEM;
    reset_request(p);
    int rc = fr_aws_query_encode("AssumeRole", "2011-06-15", params, false, &p->body);
    json_decref(params);
    if (rc)
        return rc;
    snprintf(p->url, sizeof(p->url), "%s/", p->sts_url);
    add_header(p, "Host: %s", p->sts_host);
    add_header(p, "Content-Type: %s", FORM_TYPE);
    add_header(p, "Accept-Encoding: %s", "identity");
    return send_step(p, ST_ASSUME, "POST", p->timeout_ms, 3);
}

static void on_proc_done(void *arg, const fr_cred_proc_result *r);

static int start_process(fr_cred_provider *p, char *msg, size_t mlen)
{
    char why[200] = "";
    p->open++; /* on_proc_closed gives it back, whatever happens */
    int rc = fr_cred_proc_start(&p->proc, p->loop, p->proc_argv, p->timeout_ms, FR_CRED_PROCESS_MAX_OUTPUT,
                                on_proc_done, on_proc_closed, p, why, sizeof(why));
    if (rc) {
        p->proc = NULL;
        snprintf(msg, mlen, "credential_process of profile '%s': %s", p->proc_profile, why);
        return FR_ECRED;
    }
    p->step = ST_PROCESS;
    return 0;
}

static int start_container(fr_cred_provider *p, char *msg, size_t mlen)
{
    reset_request(p);
    fr_strlcpy(p->url, p->ct_url, sizeof(p->url));
    if (p->ct_token_file) {
        fr_buf tok = FR_BUF_INIT;
        int rc = fr_buf_read_file(&tok, p->ct_token_file, MAX_FILE);
        if (rc || tok.len == 0) {
            snprintf(msg, mlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", p->ct_token_file,
                     rc ? fr_strerror(rc) : "empty");
            fr_buf_free(&tok);
            return FR_ECRED;
        }
        char *t = fr_str_trim(tok.data);
        if (has_crlf(t)) {
            snprintf(msg, mlen, "the container authorization token contains a line break");
            fr_buf_free(&tok);
            return FR_ECRED;
        }
        fr_redact_register(t);
        add_header(p, "Authorization: %s", t);
        memset(tok.data, 0, tok.len);
        fr_buf_free(&tok);
    } else if (p->ct_token) {
        if (has_crlf(p->ct_token)) {
            snprintf(msg, mlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break");
            return FR_ECRED;
        }
        add_header(p, "Authorization: %s", p->ct_token);
    }
    return send_step(p, ST_CONTAINER, "GET", 2000, 3);
}

static int imds_send(fr_cred_provider *p, enum step st)
{
    reset_request(p);
    if (st == ST_IMDS_TOKEN) {
        snprintf(p->url, sizeof(p->url), "%s/latest/api/token", p->imds_url);
        char ttl[16];
        snprintf(ttl, sizeof(ttl), "%d", IMDS_TOKEN_TTL_S);
        add_header(p, "X-aws-ec2-metadata-token-ttl-seconds: %s", ttl);
        return send_step(p, st, "PUT", p->imds_timeout_ms, p->imds_attempts);
    }
    if (p->imds_token)
        add_header(p, "X-aws-ec2-metadata-token: %s", p->imds_token);
    if (st == ST_IMDS_ROLE)
        snprintf(p->url, sizeof(p->url), "%s/latest/meta-data/iam/security-credentials/", p->imds_url);
    else
        snprintf(p->url, sizeof(p->url), "%s/latest/meta-data/iam/security-credentials/%s", p->imds_url,
                 p->imds_role);
    return send_step(p, st, "GET", p->imds_timeout_ms, p->imds_attempts);
}

static int start_imds(fr_cred_provider *p)
{
    p->imds_reauth = 0;
    if (p->imds_token && fr_time_now_ms() < p->imds_token_exp_ms)
        return imds_send(p, ST_IMDS_ROLE);
    return imds_send(p, ST_IMDS_TOKEN);
}

/* Starts fetching from the chosen source; a failure to even start is
 * returned with the reason in msg (the caller decides whom to tell). */
/* Still good for signing the next link of a chain: not yet inside the
 * window where it would itself be refreshed. */
static bool link_fresh(const fr_aws_creds *c, int64_t now)
{
    return c->access_key_id && (c->expiration_ms == 0 || now < c->expiration_ms - FR_CRED_REFRESH_EARLY_MS);
}

static int begin_fetch(fr_cred_provider *p, char *msg, size_t mlen)
{
    p->gen++;
    if (p->chain.nhops && p->src != SRC_BROKEN) {
        /* start at the last link whose signer is still fresh */
        int64_t now = fr_time_now_ms();
        for (size_t i = p->chain.nhops - 1; i > 0; i--)
            if (link_fresh(&p->hop_creds[i - 1], now))
                return start_assume(p, i, &p->hop_creds[i - 1], msg, mlen);
        if (link_fresh(&p->base, now))
            return start_assume(p, 0, &p->base, msg, mlen);
    }
    int rc;
    switch (p->src) {
    case SRC_PROCESS:
        rc = start_process(p, msg, mlen);
        break;
    case SRC_WEB_IDENTITY:
        rc = start_sts(p, msg, mlen);
        break;
    case SRC_CONTAINER:
        rc = start_container(p, msg, mlen);
        break;
    case SRC_IMDS:
        rc = start_imds(p);
        break;
    case SRC_BROKEN:
        rc = FR_ECRED;
        fr_strlcpy(msg, p->broken, mlen);
        break;
    default:
        rc = FR_ECRED;
        fr_strlcpy(msg, "no AWS credentials", mlen);
        break;
    }
    if (rc && !msg[0])
        snprintf(msg, mlen, "cannot start the credential request: %s", fr_strerror(rc));
    return rc;
}

static void start_fetch(fr_cred_provider *p)
{
    if (p->step != ST_IDLE || p->closing)
        return;
    char msg[300] = "";
    if (begin_fetch(p, msg, sizeof(msg)) != 0)
        fetch_failed(p, FR_ECRED, msg);
}

static void describe_failure(const fr_http_resp *r, const fr_call_result *res, const char *what, char *msg,
                             size_t n)
{
    if (!r)
        snprintf(msg, n, "%s: %s", what, fr_strerror(res->err));
    else if (r->err)
        snprintf(msg, n, "%s: %s (%d attempts)", what, r->errmsg ? r->errmsg : fr_strerror(r->err), res->attempts);
    else
        snprintf(msg, n, "%s: HTTP %ld", what, r->status);
}

/* The base credentials are in: the result, or the signer of a chain's
 * first AssumeRole. */
static void got_base(fr_cred_provider *p, fr_aws_creds *c, const char *source)
{
    if (!p->chain.nhops) {
        fetch_succeeded(p, c, source);
        return;
    }
    char msg[300] = "";
    if (!fresh_enough(c, source, msg, sizeof(msg))) {
        fetch_failed(p, FR_ECRED, msg);
        return;
    }
    fr_strlcpy(c->source, source, sizeof(c->source));
    fr_aws_creds_redact(c);
    fr_aws_creds_clear(&p->base);
    p->base = *c;
    memset(c, 0, sizeof(*c));
    char masked[32];
    fr_aws_mask_key(p->base.access_key_id, masked, sizeof(masked));
    fr_log_debug("aws.credentials.source", "{s:s, s:s}", "source", p->base.source, "access_key", masked);
    if (start_assume(p, 0, &p->base, msg, sizeof(msg)) != 0)
        fetch_failed(p, FR_ECRED, msg[0] ? msg : "assume role: cannot send the request");
}

static void got_hop(fr_cred_provider *p, fr_aws_creds *c)
{
    size_t i = p->hop;
    char source[64], msg[300] = "";
    snprintf(source, sizeof(source), "assume-role:%.50s", p->chain.hop[i].profile);
    if (i + 1 == p->chain.nhops) {
        /* named after the profile asked for (the last hop is that profile) */
        snprintf(source, sizeof(source), "assume-role:%.50s", p->prof.name);
        fetch_succeeded(p, c, source);
        return;
    }
    if (!fresh_enough(c, source, msg, sizeof(msg))) {
        fetch_failed(p, FR_ECRED, msg);
        return;
    }
    fr_strlcpy(c->source, source, sizeof(c->source));
    fr_aws_creds_redact(c);
    fr_aws_creds_clear(&p->hop_creds[i]);
    p->hop_creds[i] = *c;
    memset(c, 0, sizeof(*c));
    if (start_assume(p, i + 1, &p->hop_creds[i], msg, sizeof(msg)) != 0)
        fetch_failed(p, FR_ECRED, msg[0] ? msg : "assume role: cannot send the request");
}

static void on_proc_done(void *arg, const fr_cred_proc_result *r)
{
    fr_cred_provider *p = arg;
    p->proc = NULL;
    char msg[400], why[200] = "";
    fr_aws_creds c;
    if (r->err) {
        snprintf(msg, sizeof(msg), "credential_process of profile '%s': %s", p->proc_profile, r->message);
        fetch_failed(p, FR_ECRED, msg);
        return;
    }
    if (fr_cred_parse_process(r->out, r->out_len, &c, why, sizeof(why)) != 0) {
        snprintf(msg, sizeof(msg), "credential_process of profile '%s': %s", p->proc_profile, why);
        fetch_failed(p, FR_ECRED, msg);
        return;
    }
    char source[64];
    snprintf(source, sizeof(source), "process:%.55s", p->proc_profile);
    got_base(p, &c, source);
}

static void sts_failure(const fr_http_resp *r, const fr_call_result *res, const char *what, char *msg, size_t n)
{
    if (r && !r->err) {
        fr_aws_error e;
        fr_aws_parse_error(FR_AWS_PROTO_QUERY, r, &e);
        fr_buf b = FR_BUF_INIT;
        fr_buf_printf(&b, "%s: %.100s: %.250s", what, e.code, e.message);
        fr_strlcpy(msg, fr_buf_cstr(&b), n); /* cut to fit */
        fr_buf_free(&b);
    } else {
        describe_failure(r, res, what, msg, n);
    }
}

static void step_done(void *arg, const fr_http_resp *r, const fr_call_result *res)
{
    fr_cred_provider *p = arg;
    p->call = NULL;
    enum step st = p->step;
    char msg[400] = "";
    fr_aws_creds c;
    memset(&c, 0, sizeof(c));
    int rc;
    switch (st) {
    case ST_STS:
        if (res->err || !r) {
            sts_failure(r, res, "STS AssumeRoleWithWebIdentity", msg, sizeof(msg));
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        rc = fr_cred_parse_sts(r->body, r->body_len, &c, msg, sizeof(msg));
        if (rc) {
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        got_base(p, &c, "web-identity");
        return;
    case ST_ASSUME: {
        char what[300];
        snprintf(what, sizeof(what), "STS AssumeRole %.150s (profile '%.60s')", p->chain.hop[p->hop].role_arn,
                 p->chain.hop[p->hop].profile);
        if (res->err || !r) {
            sts_failure(r, res, what, msg, sizeof(msg));
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        char why[200] = "";
        rc = fr_cred_parse_sts(r->body, r->body_len, &c, why, sizeof(why));
        if (rc) {
            snprintf(msg, sizeof(msg), "%.200s: %.190s", what, why);
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        got_hop(p, &c);
        return;
    }
    case ST_CONTAINER:
        if (res->err || !r) {
            describe_failure(r, res, "container credentials", msg, sizeof(msg));
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        rc = fr_cred_parse_json(r->body, r->body_len, &c, msg, sizeof(msg));
        if (rc) {
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        got_base(p, &c, "container");
        return;
    case ST_IMDS_TOKEN:
        if (res->err || !r) {
            describe_failure(r, res, "IMDS token", msg, sizeof(msg));
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        free(p->imds_token);
        p->imds_token = NULL;
        if (r->status == 200 && r->body_len && r->body_len < 1024 && !has_crlf(r->body)) {
            p->imds_token = fr_strdup(r->body);
            fr_redact_register(p->imds_token);
            p->imds_token_exp_ms = fr_time_now_ms() + (IMDS_TOKEN_TTL_S - 60) * 1000LL;
        } else if (p->imds_v1_disabled) {
            snprintf(msg, sizeof(msg), "IMDS token: HTTP %ld and AWS_EC2_METADATA_V1_DISABLED is set", r->status);
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        if ((rc = imds_send(p, ST_IMDS_ROLE)) != 0)
            fetch_failed(p, FR_ECRED, "IMDS: cannot send the role request");
        return;
    case ST_IMDS_ROLE:
    case ST_IMDS_CREDS:
        if (r && !r->err && r->status == 401 && !p->imds_reauth) {
            /* the token expired under us: one fresh token, then once more */
            p->imds_reauth = 1;
            free(p->imds_token);
            p->imds_token = NULL;
            if (imds_send(p, ST_IMDS_TOKEN) != 0)
                fetch_failed(p, FR_ECRED, "IMDS: cannot send the token request");
            else
                p->imds_reauth = 1;
            return;
        }
        if (res->err || !r) {
            describe_failure(r, res, st == ST_IMDS_ROLE ? "IMDS role" : "IMDS credentials", msg, sizeof(msg));
            if (r && !r->err && r->status == 404 && st == ST_IMDS_ROLE)
                snprintf(msg, sizeof(msg), "IMDS: no IAM role is attached to this instance");
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        if (st == ST_IMDS_ROLE) {
            size_t l = strcspn(r->body, "\r\n");
            if (l == 0 || l >= sizeof(p->imds_role)) {
                fetch_failed(p, FR_ECRED, "IMDS: no IAM role is attached to this instance");
                return;
            }
            memcpy(p->imds_role, r->body, l);
            p->imds_role[l] = '\0';
            if (strchr(p->imds_role, '/') || strchr(p->imds_role, '?')) {
                fetch_failed(p, FR_ECRED, "IMDS: unexpected role name");
                return;
            }
            if (imds_send(p, ST_IMDS_CREDS) != 0)
                fetch_failed(p, FR_ECRED, "IMDS: cannot send the credentials request");
            return;
        }
        rc = fr_cred_parse_json(r->body, r->body_len, &c, msg, sizeof(msg));
        if (rc) {
            fetch_failed(p, FR_ECRED, msg);
            return;
        }
        {
            char src[64];
            snprintf(src, sizeof(src), "imds:%.50s", p->imds_role);
            got_base(p, &c, src);
        }
        return;
    case ST_PROCESS:
    case ST_IDLE:
        return;
    }
}

/* ---- public ---- */

int fr_cred_get(fr_cred_provider *p, fr_cred_cb cb, void *arg, fr_cred_wait **w, const fr_aws_creds **now)
{
    if (w)
        *w = NULL;
    if (now)
        *now = NULL;
    if (p->closing)
        return -ECANCELED;
    const fr_aws_creds *c = fr_cred_current(p);
    if (c) {
        if (now)
            *now = c;
        return 1;
    }
    if (p->src == SRC_BROKEN || p->src == SRC_NONE) {
        fr_strlcpy(p->stats.last_error, p->broken ? p->broken : "no AWS credentials", sizeof(p->stats.last_error));
        return FR_ECRED;
    }
    fr_cred_wait *wt = calloc(1, sizeof(*wt));
    if (!wt)
        return -ENOMEM;
    wt->p = p;
    wt->cb = cb;
    wt->arg = arg;
    wt->gen = p->step == ST_IDLE ? p->gen + 1 : p->gen;
    wt->prev = p->tail;
    if (p->tail)
        p->tail->next = wt;
    else
        p->head = wt;
    p->tail = wt;
    p->nwait++;
    if (p->step == ST_IDLE) {
        char msg[300] = "";
        if (begin_fetch(p, msg, sizeof(msg)) != 0) {
            /* told synchronously, never through cb */
            unlink_wait(p, wt);
            free(wt);
            record_failure(p, msg);
            p->done_gen = p->gen;
            return FR_ECRED;
        }
    }
    if (w)
        *w = wt;
    return 0;
}

void fr_cred_provider_close(fr_cred_provider *p, void (*done)(void *arg), void *arg)
{
    if (!p || p->closing)
        return;
    p->closing = 1;
    p->close_done = done;
    p->close_arg = arg;
    if (p->call) {
        fr_call_cancel(p->call);
        p->call = NULL;
    }
    if (p->proc) {
        fr_cred_proc_cancel(p->proc); /* its handles close on their own; on_proc_closed counts them */
        p->proc = NULL;
    }
    while (p->head) {
        fr_cred_wait *w = p->head;
        unlink_wait(p, w);
        free(w);
    }
    provider_free_fields(p);
    uv_timer_stop(p->timer);
    uv_close((uv_handle_t *)p->timer, on_timer_closed);
}
