/* AWS credentials: the SDKs' default chain.
 *
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [, AWS_SESSION_TOKEN]
 *   2. assume role from a profile: role_arn + source_profile (another
 *      profile's keys, credential_process or web identity, or itself a role
 *      profile: chains of up to FR_AWS_MAX_ROLE_HOPS roles, loops refused)
 *      or role_arn + credential_source (Environment, Ec2InstanceMetadata,
 *      EcsContainer) -> STS AssumeRole, SigV4-signed with the source
 *      credentials [role_session_name, external_id, duration_seconds;
 *      mfa_serial is refused: a daemon cannot prompt]
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      [+ AWS_ROLE_SESSION_NAME] -> STS AssumeRoleWithWebIdentity (unsigned)
 *   4. shared files: the profile (aws.profile, AWS_PROFILE, AWS_DEFAULT_PROFILE,
 *      "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
 *      AWS_CONFIG_FILE (~/.aws/config, "[profile x]"): static keys,
 *      role_arn + web_identity_token_file, or credential_process (run with
 *      uv_spawn, no shell: the command is split like Python's shlex.split,
 *      as botocore does; stdout capped at 64 KiB; killed with its process
 *      group after http.timeout). SSO profiles are refused with the
 *      credential_process bridge (aws configure export-credentials) named.
 *   5. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (169.254.170.2) or
 *      _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
 *   6. IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true) at
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT (http://169.254.169.254)
 *
 * The first source that is configured is used, and a configured source that
 * fails is an error (no silent fall-through to another identity), as in the
 * SDKs; with aws.profile set explicitly, the environment keys are skipped.
 * Temporary credentials are refreshed before they expire; for a role chain,
 * each link's credentials are kept and fetched again only once they are
 * themselves close to expiry.
 *
 * The first half of this header is pure (file and response parsing, expiry
 * decisions taking `now`); the provider at the end is the loop glue. */
#ifndef FRUGAL_AWS_CRED_H
#define FRUGAL_AWS_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "frugal/config.h"
#include "frugal/http.h"

typedef struct fr_aws_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;   /* NULL for long-term keys */
    int64_t expiration_ms; /* 0: does not expire */
    char source[64];       /* "env", "web-identity", "profile:NAME", "container", "imds:ROLE",
                              "assume-role:NAME", "process:NAME" */
} fr_aws_creds;

void fr_aws_creds_clear(fr_aws_creds *c); /* frees and zeroes (secrets wiped) */
int fr_aws_creds_copy(fr_aws_creds *dst, const fr_aws_creds *src);
/* Registers the secret key and session token with the log redactor. */
void fr_aws_creds_redact(const fr_aws_creds *c);

/* ---- expiry (pure) ---- */

#define FR_CRED_REFRESH_EARLY_MS (5 * 60 * 1000) /* refresh this long before Expiration ... */
#define FR_CRED_REFRESH_JITTER_MS (60 * 1000)    /* ... minus up to this much jitter */
#define FR_CRED_EXPIRY_MARGIN_MS (10 * 1000)     /* never sign with less validity left */

/* Usable for signing now: no expiry, or more than the margin left. */
bool fr_cred_usable(const fr_aws_creds *c, int64_t now_ms);
/* Milliseconds from now until the background refresh should start:
 * Expiration - 5 min - jitter (jitter = unit_rand * min(60 s, half the time
 * left before that point)); when that moment has passed, half the time
 * until they stop being usable (0 once they are not); -1 when the
 * credentials never expire. */
int64_t fr_cred_refresh_in_ms(const fr_aws_creds *c, int64_t now_ms, double unit_rand);

/* ---- shared config files (pure) ---- */

typedef struct fr_aws_ini fr_aws_ini;

/* Parses the AWS flavour of INI: [section], key = value, full-line '#' and
 * ';' comments, indented continuation / nested lines. Errors name the file
 * and line ("~/.aws/config:7: expected 'key = value'"). */
int fr_aws_ini_parse(const char *text, size_t len, const char *fname, fr_aws_ini **out, char *err, size_t errlen);
void fr_aws_ini_free(fr_aws_ini *ini);
bool fr_aws_ini_has_section(const fr_aws_ini *ini, const char *section);
/* The value, or NULL. Section and key compare exactly (keys lower-cased). */
const char *fr_aws_ini_get(const fr_aws_ini *ini, const char *section, const char *key);

typedef struct fr_aws_profile {
    char name[128];
    bool found;               /* in either file */
    char *region;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char *role_arn;
    char *web_identity_token_file;
    char *role_session_name;
    char *source_profile;
    char *credential_source;
    char *credential_process;
    char *external_id;
    char *mfa_serial;
    char *duration_seconds;
    char *unsupported;        /* "sso_session", "sso_start_url", "login_session" when set */
} fr_aws_profile;

/* Looks profile `name` up: credentials file section [name], config file
 * section [profile name] (or [default] / [profile default]); values from
 * the credentials file win. Either ini may be NULL. */
int fr_aws_profile_from_ini(const fr_aws_ini *credentials, const fr_aws_ini *config, const char *name,
                            fr_aws_profile *out);
void fr_aws_profile_clear(fr_aws_profile *p);

/* ---- assume-role chains (pure) ---- */

#define FR_AWS_MAX_ROLE_HOPS 4

/* What signs the first AssumeRole of a chain. */
typedef enum fr_aws_cred_base {
    FR_CRED_BASE_STATIC,       /* the keys of base_profile */
    FR_CRED_BASE_WEB_IDENTITY, /* role_arn + web_identity_token_file of base_profile */
    FR_CRED_BASE_PROCESS,      /* credential_process of base_profile */
    FR_CRED_BASE_ENV,          /* credential_source = Environment */
    FR_CRED_BASE_IMDS,         /* credential_source = Ec2InstanceMetadata */
    FR_CRED_BASE_CONTAINER,    /* credential_source = EcsContainer */
} fr_aws_cred_base;

typedef struct fr_aws_role_hop {
    char profile[128];
    char *role_arn;
    char *role_session_name; /* NULL: generated per request */
    char *external_id;
    int duration_s;          /* 0: not sent (STS's default, 3600) */
} fr_aws_role_hop;

typedef struct fr_aws_role_chain {
    fr_aws_cred_base base;
    fr_aws_profile base_profile;                /* STATIC, WEB_IDENTITY, PROCESS: the profile holding them */
    fr_aws_role_hop hop[FR_AWS_MAX_ROLE_HOPS]; /* hop[0] is assumed with the base credentials, each next
                                                  one with the previous one's; the last gives the result */
    size_t nhops;
} fr_aws_role_chain;

/* An assume-role profile, as botocore defines it: role_arn, no
 * web_identity_token_file, and source_profile or credential_source (a
 * role_arn with neither is a configuration error the caller reports). */
bool fr_aws_profile_assumes_role(const fr_aws_profile *p);
/* Follows profile `name` (an assume-role profile) through its
 * source_profile links the way botocore does: a source profile with keys
 * (or that is not itself a role profile) gives the base credentials: web
 * identity, then static keys, then credential_process; a role profile
 * without keys adds a hop. A profile may name itself as source_profile
 * only when it has static keys (they sign its AssumeRole). Loops, more
 * than FR_AWS_MAX_ROLE_HOPS roles, a missing source profile, both or
 * neither of source_profile / credential_source, an unknown
 * credential_source, mfa_serial and duration_seconds outside 900..43200
 * are FR_ECONFIG with the reason in err. */
int fr_aws_role_chain_resolve(const fr_aws_ini *credentials, const fr_aws_ini *config, const char *name,
                              fr_aws_role_chain *out, char *err, size_t errlen);
void fr_aws_role_chain_clear(fr_aws_role_chain *c);

/* ---- credential responses (pure) ---- */

/* Container and IMDS JSON: {"AccessKeyId","SecretAccessKey","Token",
 * "Expiration"} (IMDS also "Code": "Success"). */
int fr_cred_parse_json(const char *body, size_t len, fr_aws_creds *out, char *err, size_t errlen);
/* STS AssumeRoleWithWebIdentity or AssumeRole XML (<...Result><Credentials>). */
int fr_cred_parse_sts(const char *body, size_t len, fr_aws_creds *out, char *err, size_t errlen);

#define FR_CRED_PROCESS_MAX_OUTPUT (64u * 1024) /* bytes of credential_process stdout */

/* credential_process stdout: {"Version": 1, "AccessKeyId", "SecretAccessKey",
 * "SessionToken"?, "Expiration"? (ISO 8601)}; no Expiration: never expires.
 * Error messages never quote the output (it holds secrets). */
int fr_cred_parse_process(const char *out, size_t len, fr_aws_creds *creds, char *err, size_t errlen);
/* Splits a credential_process command line into argv like Python's
 * shlex.split (POSIX mode), which botocore uses: words split on blanks;
 * '...' literal; "..." with \" and \\ escaped; a backslash outside quotes
 * escapes the next character; no comments, variables or globbing. *argv is
 * NULL-terminated; free it with fr_cred_argv_free. */
int fr_cred_split_command(const char *cmd, char ***argv, size_t *argc, char *err, size_t errlen);
void fr_cred_argv_free(char **argv);

/* ---- the provider (loop glue) ---- */

typedef struct fr_cred_provider fr_cred_provider;
typedef struct fr_cred_wait fr_cred_wait;

typedef struct fr_cred_opts {
    fr_getenv_fn getenv; /* NULL: the process environment */
    void *getenv_arg;
    const char *home;    /* NULL: $HOME from getenv */
    const char *profile; /* explicit profile (aws.profile); NULL or "" for the environment's */
    const char *sts_url; /* resolved STS endpoint (scheme://host[:port][/path]); see fr_cred_set_sts */
    const char *sts_host_header;
    const char *sts_region; /* signing region of AssumeRole */
    uint64_t connect_timeout_ms;
    uint64_t timeout_ms; /* HTTP steps, and credential_process before it is killed */
} fr_cred_opts;

/* Reads the environment and the shared files once (a malformed file is an
 * error here, with the reason in err); fetching happens on first use. */
int fr_cred_provider_new(fr_cred_provider **out, uv_loop_t *loop, fr_http *http, const fr_cred_opts *opts,
                         char *err, size_t errlen);
/* Cancels fetches and timers (a running credential_process is killed);
 * done runs once every handle is closed. No callback of a pending
 * fr_cred_get runs after this. Must be called while the fr_http is still
 * open. */
void fr_cred_provider_close(fr_cred_provider *p, void (*done)(void *arg), void *arg);

/* Sets the STS endpoint web identity and AssumeRole use, and the region
 * AssumeRole is signed for (known only once the profile's region has been
 * resolved). */
void fr_cred_set_sts(fr_cred_provider *p, const char *url, const char *host_header, const char *signing_region);
/* The profile's region ("" when none), for region resolution. */
const char *fr_cred_profile_region(const fr_cred_provider *p);
const char *fr_cred_profile_name(const fr_cred_provider *p);

/* Current credentials if usable now (valid until the next loop turn), else NULL. */
const fr_aws_creds *fr_cred_current(fr_cred_provider *p);

/* cb(arg, creds, err, message) runs once: creds non-NULL with err 0, or
 * creds NULL with FR_ECRED (message says why). */
typedef void (*fr_cred_cb)(void *arg, const fr_aws_creds *creds, int err, const char *message);
/* Returns 1 with *now set when credentials are usable at once (cb not
 * called); 0 when queued until the provider resolves (cb later, *w lets the
 * caller cancel); < 0 on error. Requests already signed are unaffected by a
 * refresh; only those needing credentials wait. */
int fr_cred_get(fr_cred_provider *p, fr_cred_cb cb, void *arg, fr_cred_wait **w, const fr_aws_creds **now);
void fr_cred_cancel(fr_cred_wait *w);

typedef struct fr_cred_stats {
    uint64_t fetches;   /* successful fetches (first one and refreshes) */
    uint64_t failures;
    uint64_t waiting;   /* callers queued now */
    int refreshing;
    int64_t next_refresh_ms; /* wall clock of the next scheduled refresh, 0 when none */
    char last_error[256];
} fr_cred_stats;
void fr_cred_stats_get(const fr_cred_provider *p, fr_cred_stats *st);

#endif
