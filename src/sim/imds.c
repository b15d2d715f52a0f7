#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/str.h"
#include "frugal/time.h"
#include "imds.h"
#include "util.h"

void fr_sim_imds_init(fr_sim_imds *m, fr_sim_auth *auth, fr_sim_ec2 *ec2, const char *region, const char *account,
                      uint64_t seed)
{
    memset(m, 0, sizeof(*m));
    m->auth = auth;
    m->ec2 = ec2;
    m->seed = seed;
    fr_strlcpy(m->role, "frugal-instance-role", sizeof(m->role));
    fr_strlcpy(m->region, region, sizeof(m->region));
    fr_strlcpy(m->account, account, sizeof(m->account));
}

void fr_sim_imds_free(fr_sim_imds *m)
{
    free(m->tokens);
    m->tokens = NULL;
    m->ntokens = m->cap = 0;
}

static void text(fr_sim_resp *r, int status, const char *body)
{
    fr_sim_resp_raw(r, status, "text/plain", body, strlen(body));
}

static void not_found(fr_sim_resp *r)
{
    const char *b = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 "
                    "Transitional//EN\"\n\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns="
                    "\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>404 - Not Found"
                    "</title>\n </head>\n <body>\n  <h1>404 - Not Found</h1>\n </body>\n</html>\n";
    fr_sim_resp_raw(r, 404, "text/html", b, strlen(b));
}

static bool token_ok(fr_sim_imds *m, const char *tok, int64_t now)
{
    for (size_t i = 0; tok && i < m->ntokens; i++)
        if (strcmp(m->tokens[i].tok, tok) == 0)
            return m->tokens[i].expires_ms > now;
    return false;
}

static void put_token(fr_sim_imds *m, const fr_sim_raw_req *raw, int64_t now, fr_sim_resp *r)
{
    char *xff = fr_sim_raw_header(raw, "x-forwarded-for");
    if (xff) {
        free(xff);
        text(r, 403, "Forbidden");
        return;
    }
    char *ttl_s = fr_sim_raw_header(raw, "x-aws-ec2-metadata-token-ttl-seconds");
    int64_t ttl = 0;
    bool ok = ttl_s && fr_parse_i64(ttl_s, &ttl) == 0 && ttl >= 1 && ttl <= 21600;
    free(ttl_s);
    if (!ok) {
        text(r, 400, "Bad Request");
        return;
    }
    /* forget expired tokens */
    for (size_t i = 0; i < m->ntokens;) {
        if (m->tokens[i].expires_ms <= now)
            m->tokens[i] = m->tokens[--m->ntokens];
        else
            i++;
    }
    if (m->ntokens == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 16;
        fr_sim_imds_token *nt = realloc(m->tokens, ncap * sizeof(*nt));
        if (!nt) {
            text(r, 500, "Internal Server Error");
            return;
        }
        m->tokens = nt;
        m->cap = ncap;
    }
    fr_sim_imds_token *t = &m->tokens[m->ntokens++];
    char a[40], b[40];
    fr_sim_uuid(a, sizeof(a), fr_sim_hash3(m->seed, 0x70c, ++m->counter), (uint64_t)now);
    fr_sim_uuid(b, sizeof(b), fr_sim_hash3(m->seed, 0x70d, m->counter), (uint64_t)now);
    snprintf(t->tok, sizeof(t->tok), "AQAE%.28s%.28s", a, b);
    for (char *p = t->tok; *p; p++)
        if (*p == '-')
            *p = 'Q';
    t->expires_ms = now + ttl * 1000;
    fr_sim_resp_raw(r, 200, "text/plain", t->tok, strlen(t->tok));
    char ttl_out[24];
    snprintf(ttl_out, sizeof(ttl_out), "%lld", (long long)ttl);
    fr_sim_resp_header(r, "X-aws-ec2-metadata-token-ttl-seconds", ttl_out);
}

static fr_sim_ec2_inst *instance(fr_sim_imds *m)
{
    if (m->instance_id[0])
        return fr_sim_ec2_find(m->ec2, m->instance_id);
    /* default: the first instance the spot optimizer manages */
    for (size_t i = 0; i < m->ec2->n; i++)
        if (fr_sim_jstr(m->ec2->insts[i]->tags, "frugal:managed"))
            return m->ec2->insts[i];
    return m->ec2->n ? m->ec2->insts[0] : NULL;
}

static void credentials(fr_sim_imds *m, int64_t now, fr_sim_resp *r)
{
    const fr_sim_cred *c = m->cred_akid[0] ? fr_sim_auth_find(m->auth, m->cred_akid) : NULL;
    /* rotate like IMDS: fresh credentials well before expiry */
    if (!c || c->expires_ms - now < FR_SIM_IMDS_CRED_TTL_MS / 3) {
        char arn[200];
        snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s", m->account, m->role,
                 m->instance_id[0] ? m->instance_id : "i-imds");
        c = fr_sim_auth_issue(m->auth, now, FR_SIM_IMDS_CRED_TTL_MS, arn);
        if (!c) {
            text(r, 500, "Internal Server Error");
            return;
        }
        fr_strlcpy(m->cred_akid, c->akid, sizeof(m->cred_akid));
        m->cred_issued_ms = now;
    }
    char upd[40], exp[40];
    fr_time_iso8601(upd, sizeof(upd), m->cred_issued_ms, 0);
    fr_time_iso8601(exp, sizeof(exp), c->expires_ms, 0);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Code", "Success", "LastUpdated", upd, "Type",
                          "AWS-HMAC", "AccessKeyId", c->akid, "SecretAccessKey", c->secret, "Token", c->token,
                          "Expiration", exp);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    fr_sim_resp_raw(r, 200, "text/plain", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
}

void fr_sim_imds_handle(fr_sim_imds *m, const char *method, const char *path, const fr_sim_raw_req *raw,
                        int64_t now, int64_t sim_ms, fr_sim_resp *r)
{
    if (strcmp(path, "/latest/api/token") == 0) {
        if (strcmp(method, "PUT") != 0) {
            text(r, 405, "Method Not Allowed");
            return;
        }
        put_token(m, raw, now, r);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        text(r, 405, "Method Not Allowed");
        return;
    }
    char *tok = fr_sim_raw_header(raw, "x-aws-ec2-metadata-token");
    bool ok = token_ok(m, tok, now);
    bool had = tok != NULL;
    free(tok);
    if (!ok && (had || !m->allow_v1)) {
        text(r, 401, "Unauthorized");
        return;
    }
    fr_sim_ec2_inst *in = instance(m);
    if (!in) {
        not_found(r);
        return;
    }
    const char *az = m->ec2->spot->azs[in->az];
    char buf[512];
    if (strcmp(path, "/latest/meta-data/") == 0 || strcmp(path, "/latest/meta-data") == 0) {
        text(r, 200, "ami-id\nevents/\nhostname\niam/\ninstance-action\ninstance-id\ninstance-life-cycle\n"
                     "instance-type\nlocal-hostname\nlocal-ipv4\nmac\nplacement/\nspot/\n");
    } else if (strcmp(path, "/latest/meta-data/instance-id") == 0) {
        text(r, 200, in->id);
    } else if (strcmp(path, "/latest/meta-data/instance-type") == 0) {
        text(r, 200, in->itype);
    } else if (strcmp(path, "/latest/meta-data/ami-id") == 0) {
        text(r, 200, in->image);
    } else if (strcmp(path, "/latest/meta-data/instance-life-cycle") == 0) {
        text(r, 200, in->spot ? "spot" : "on-demand");
    } else if (strcmp(path, "/latest/meta-data/local-ipv4") == 0) {
        text(r, 200, in->ip);
    } else if (strcmp(path, "/latest/meta-data/hostname") == 0 || strcmp(path, "/latest/meta-data/local-hostname") == 0) {
        char dashed[16];
        fr_strlcpy(dashed, in->ip, sizeof(dashed));
        for (char *p = dashed; *p; p++)
            if (*p == '.')
                *p = '-';
        snprintf(buf, sizeof(buf), "ip-%s.ec2.internal", dashed);
        text(r, 200, buf);
    } else if (strcmp(path, "/latest/meta-data/placement/") == 0) {
        text(r, 200, "availability-zone\navailability-zone-id\nregion\n");
    } else if (strcmp(path, "/latest/meta-data/placement/availability-zone") == 0) {
        text(r, 200, az);
    } else if (strcmp(path, "/latest/meta-data/placement/availability-zone-id") == 0) {
        text(r, 200, m->ec2->spot->az_ids[in->az]);
    } else if (strcmp(path, "/latest/meta-data/placement/region") == 0) {
        text(r, 200, m->region);
    } else if (strcmp(path, "/latest/meta-data/spot/") == 0) {
        if (in->notice_ms && in->notice_ms <= sim_ms)
            text(r, 200, "instance-action\ntermination-time\n");
        else
            not_found(r);
    } else if (strcmp(path, "/latest/meta-data/spot/instance-action") == 0) {
        if (!in->notice_ms || in->notice_ms > sim_ms) {
            not_found(r);
            return;
        }
        char t[40];
        fr_time_iso8601(t, sizeof(t), in->action_ms, 0);
        snprintf(buf, sizeof(buf), "{\"action\": \"%s\", \"time\": \"%s\"}", in->action, t);
        fr_sim_resp_raw(r, 200, "text/plain", buf, strlen(buf));
    } else if (strcmp(path, "/latest/meta-data/spot/termination-time") == 0) {
        if (!in->notice_ms || in->notice_ms > sim_ms) {
            not_found(r);
            return;
        }
        fr_time_iso8601(buf, sizeof(buf), in->action_ms, 0);
        text(r, 200, buf);
    } else if (strcmp(path, "/latest/meta-data/events/recommendations/rebalance") == 0) {
        if (!in->rebalance_ms || in->rebalance_ms > sim_ms) {
            not_found(r);
            return;
        }
        char t[40];
        fr_time_iso8601(t, sizeof(t), in->rebalance_ms, 0);
        snprintf(buf, sizeof(buf), "{\"noticeTime\": \"%s\"}", t);
        fr_sim_resp_raw(r, 200, "text/plain", buf, strlen(buf));
    } else if (strcmp(path, "/latest/meta-data/iam/") == 0) {
        text(r, 200, "info\nsecurity-credentials/\n");
    } else if (strcmp(path, "/latest/meta-data/iam/info") == 0) {
        snprintf(buf, sizeof(buf),
                 "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2024-07-01T00:00:00Z\",\n  \"InstanceProfileArn\""
                 " : \"arn:aws:iam::%s:instance-profile/%s\",\n  \"InstanceProfileId\" : \"AIPAFRUGALSIMPROFILE1\"\n}",
                 m->account, m->role);
        text(r, 200, buf);
    } else if (strcmp(path, "/latest/meta-data/iam/security-credentials/") == 0 ||
               strcmp(path, "/latest/meta-data/iam/security-credentials") == 0) {
        text(r, 200, m->role);
    } else if (fr_str_startswith(path, "/latest/meta-data/iam/security-credentials/")) {
        if (strcmp(path + 43, m->role) != 0) {
            not_found(r);
            return;
        }
        credentials(m, now, r);
    } else if (strcmp(path, "/latest/dynamic/instance-identity/document") == 0) {
        const fr_sim_itype *it = fr_sim_catalog_find(m->ec2->cat, in->itype);
        char t[40];
        fr_time_iso8601(t, sizeof(t), in->launch_ms, 0);
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "accountId", m->account,
                              "architecture", it && it->arm64 ? "arm64" : "x86_64", "availabilityZone", az, "imageId",
                              in->image, "instanceId", in->id, "instanceType", in->itype, "pendingTime", t,
                              "privateIp", in->ip, "region", m->region, "version", "2017-09-30");
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(j);
        fr_sim_resp_raw(r, 200, "application/json", s ? s : "{}", s ? strlen(s) : 2);
        free(s);
    } else {
        not_found(r);
    }
}
