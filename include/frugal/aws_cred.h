/* AWS credentials: the SDKs' default chain.
 *
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [, AWS_SESSION_TOKEN]
 *   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      [+ AWS_ROLE_SESSION_NAME] -> STS AssumeRoleWithWebIdentity (unsigned)
 *   3. shared files: the profile (aws.profile, AWS_PROFILE, AWS_DEFAULT_PROFILE,
 *      "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
 *      AWS_CONFIG_FILE (~/.aws/config, "[profile x]"): static keys, or
 *      role_arn + web_identity_token_file
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (169.254.170.2) or
 *      _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
 *   5. IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true) at
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT (http://169.254.169.254)
 *
 * The first source that is configured is used, and a configured source that
 * fails is an error (no silent fall-through to another identity), as in the
 * SDKs; with aws.profile set explicitly, the environment keys are skipped.
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
    char source[64];       /* "env", "web-identity", "profile:NAME", "container", "imds:ROLE" */
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
    char *unsupported;        /* "source_profile", "credential_process", "sso_session", ... when set */
} fr_aws_profile;

/* Looks profile `name` up: credentials file section [name], config file
 * section [profile name] (or [default] / [profile default]); values from
 * the credentials file win. Either ini may be NULL. */
int fr_aws_profile_from_ini(const fr_aws_ini *credentials, const fr_aws_ini *config, const char *name,
                            fr_aws_profile *out);
void fr_aws_profile_clear(fr_aws_profile *p);

/* ---- credential responses (pure) ---- */

/* Container and IMDS JSON: {"AccessKeyId","SecretAccessKey","Token",
 * "Expiration"} (IMDS also "Code": "Success"). */
int fr_cred_parse_json(const char *body, size_t len, fr_aws_creds *out, char *err, size_t errlen);
/* STS AssumeRoleWithWebIdentity XML. */
int fr_cred_parse_sts(const char *body, size_t len, fr_aws_creds *out, char *err, size_t errlen);

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
    uint64_t connect_timeout_ms;
    uint64_t timeout_ms;
} fr_cred_opts;

/* Reads the environment and the shared files once (a malformed file is an
 * error here, with the reason in err); fetching happens on first use. */
int fr_cred_provider_new(fr_cred_provider **out, uv_loop_t *loop, fr_http *http, const fr_cred_opts *opts,
                         char *err, size_t errlen);
/* Cancels fetches and timers; done runs once every handle is closed. No
 * callback of a pending fr_cred_get runs after this. Must be called while
 * the fr_http is still open. */
void fr_cred_provider_close(fr_cred_provider *p, void (*done)(void *arg), void *arg);

/* Sets the STS endpoint web identity uses (known only once the profile's
 * region has been resolved). */
void fr_cred_set_sts(fr_cred_provider *p, const char *url, const char *host_header);
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
