#include <stdio.h>
#include <string.h>

#include "frugal/str.h"
#include "frugal/time.h"
#include "sts.h"
#include "util.h"

static void xml_creds(fr_buf *b, const fr_sim_cred *c)
{
    fr_buf_puts(b, "<Credentials>");
    fr_sim_xml_text(b, "AccessKeyId", c->akid);
    fr_sim_xml_text(b, "SecretAccessKey", c->secret);
    fr_sim_xml_text(b, "SessionToken", c->token);
    char t[40];
    fr_time_iso8601(t, sizeof(t), c->expires_ms, 0);
    fr_sim_xml_text(b, "Expiration", t);
    fr_buf_puts(b, "</Credentials>");
}

static const char *role_name(const char *arn)
{
    const char *p = arn ? strstr(arn, ":role/") : NULL;
    if (!p)
        return NULL;
    p += 6;
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

static void assume(fr_sim_auth *a, const char *account, const fr_sim_call *c, int64_t real_ms, fr_sim_resp *r,
                   bool web)
{
    const char *role = fr_sim_jstr(c->in, "RoleArn");
    const char *session = fr_sim_jstr(c->in, "RoleSessionName");
    const char *token = fr_sim_jstr(c->in, "WebIdentityToken");
    if (!role || !session || (web && !token)) {
        fr_sim_error(c, r, 400, "MissingParameter", "The request must contain the parameter %s",
                     !role ? "RoleArn" : !session ? "RoleSessionName" : "WebIdentityToken");
        return;
    }
    const char *rn = role_name(role);
    if (!rn || !*rn) {
        fr_sim_error(c, r, 400, "ValidationError", "%s is invalid", role);
        return;
    }
    if (web && (!*token || strcmp(token, "invalid") == 0)) {
        fr_sim_error(c, r, 400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider");
        return;
    }
    int64_t dur = 3600;
    fr_sim_jint(c->in, "DurationSeconds", &dur);
    if (dur < 900 || dur > 43200) {
        fr_sim_error(c, r, 400, "ValidationError",
                     "1 validation error detected: Value '%lld' at 'durationSeconds' failed to satisfy constraint: "
                     "Member must have value between 900 and 43200", (long long)dur);
        return;
    }
    char arn[512];
    snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s", account, rn, session);
    const fr_sim_cred *cred = fr_sim_auth_issue(a, real_ms, dur * 1000, arn);
    if (!cred) {
        fr_sim_internal_error(c, r, NULL);
        return;
    }
    fr_buf b = FR_BUF_INIT;
    xml_creds(&b, cred);
    if (web) {
        fr_sim_xml_text(&b, "SubjectFromWebIdentityToken", "system:serviceaccount:frugal:frugald");
        fr_sim_xml_text(&b, "Audience", "sts.amazonaws.com");
        fr_sim_xml_text(&b, "Provider", "arn:aws:iam::123456789012:oidc-provider/oidc.frugal-sim.local");
    }
    char rid[200];
    snprintf(rid, sizeof(rid), "AROAFRUGALSIMROLE0001:%s", session);
    fr_buf_puts(&b, "<AssumedRoleUser>");
    fr_sim_xml_text(&b, "AssumedRoleId", rid);
    fr_sim_xml_text(&b, "Arn", arn);
    fr_buf_puts(&b, "</AssumedRoleUser>");
    fr_sim_xml_int(&b, "PackedPolicySize", 6);
    fr_sim_ok_query(c, r, fr_buf_cstr(&b));
    fr_buf_free(&b);
}

void fr_sim_sts_call(fr_sim_auth *a, const char *account, const fr_sim_cred *who, const fr_sim_call *c,
                     int64_t real_ms, fr_sim_resp *r)
{
    if (strcmp(c->op, "GetCallerIdentity") == 0) {
        fr_buf b = FR_BUF_INIT;
        char arn[300], uid[300];
        if (who && who->arn[0] && strstr(who->arn, "assumed-role")) {
            fr_strlcpy(arn, who->arn, sizeof(arn));
            const char *sess = strrchr(who->arn, '/');
            snprintf(uid, sizeof(uid), "AROAFRUGALSIMROLE0001:%s", sess ? sess + 1 : "session");
        } else {
            snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user/frugal-sim", account);
            snprintf(uid, sizeof(uid), "AIDAFRUGALSIMUSER0001");
        }
        fr_sim_xml_text(&b, "Arn", arn);
        fr_sim_xml_text(&b, "UserId", uid);
        fr_sim_xml_text(&b, "Account", account);
        fr_sim_ok_query(c, r, fr_buf_cstr(&b));
        fr_buf_free(&b);
    } else if (strcmp(c->op, "AssumeRoleWithWebIdentity") == 0) {
        assume(a, account, c, real_ms, r, true);
    } else if (strcmp(c->op, "AssumeRole") == 0) {
        assume(a, account, c, real_ms, r, false);
    } else {
        fr_sim_error(c, r, 400, "InvalidAction", "Could not find operation %s for version 2011-06-15", c->op);
    }
}
