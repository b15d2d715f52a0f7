/* The official SigV4 test suite (../shared/data/sigv4): canonical request,
 * string to sign and Authorization header for every case. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "frugal/sigv4.h"
#include "frugal/str.h"
#include "frugal/time.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fr_buf b = FR_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        fr_buf_append(&b, tmp, n);
    fclose(f);
    return fr_buf_steal(&b);
}

struct parsed {
    char method[16];
    char *path;
    char *query;
    fr_sigv4_header h[32];
    char *names[32], *values[32];
    size_t nh;
    char *body;
};

/* The .req format: request line, headers (continuation lines start with
 * whitespace and are joined with a space), blank line, body. */
static void parse_req(char *txt, struct parsed *p)
{
    memset(p, 0, sizeof(*p));
    char *line = txt, *next;
    next = strchr(line, '\n');
    if (next)
        *next++ = '\0';
    char *sp1 = strchr(line, ' ');
    char *sp2 = strrchr(line, ' ');
    assert_non_null(sp1);
    memcpy(p->method, line, (size_t)(sp1 - line));
    char *target = fr_strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        p->query = fr_strdup(q + 1);
    }
    p->path = target;
    line = next;
    while (line && *line) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line == '\0')
            break;
        if ((*line == ' ' || *line == '\t') && p->nh) {
            fr_buf b = FR_BUF_INIT;
            fr_buf_puts(&b, p->values[p->nh - 1]);
            fr_buf_putc(&b, ' ');
            char *t = fr_strdup(line);
            fr_buf_puts(&b, fr_str_trim(t));
            free(t);
            free(p->values[p->nh - 1]);
            p->values[p->nh - 1] = fr_buf_steal(&b);
        } else {
            char *colon = strchr(line, ':');
            assert_non_null(colon);
            p->names[p->nh] = fr_strndup(line, (size_t)(colon - line));
            p->values[p->nh] = fr_strdup(colon + 1);
            p->nh++;
        }
        line = next;
    }
    if (line && next == NULL && *line == '\0')
        line = NULL;
    p->body = line ? fr_strdup(next ? next : "") : fr_strdup("");
    for (size_t i = 0; i < p->nh; i++) {
        p->h[i].name = p->names[i];
        p->h[i].value = p->values[i];
    }
}

static void free_parsed(struct parsed *p)
{
    free(p->path);
    free(p->query);
    free(p->body);
    for (size_t i = 0; i < p->nh; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
}

static int run_case(const char *dir, const char *name)
{
    char path[1400];
    snprintf(path, sizeof(path), "%s/%s.req", dir, name);
    char *req = slurp(path);
    if (!req)
        return 0; /* a folder of folders */
    snprintf(path, sizeof(path), "%s/%s.creq", dir, name);
    char *want_creq = slurp(path);
    snprintf(path, sizeof(path), "%s/%s.sts", dir, name);
    char *want_sts = slurp(path);
    snprintf(path, sizeof(path), "%s/%s.authz", dir, name);
    char *want_authz = slurp(path);
    assert_non_null(want_creq);
    assert_non_null(want_sts);
    assert_non_null(want_authz);

    /* The request body starts after the first empty line. */
    char *sep = strstr(req, "\n\n");
    char *body = NULL;
    if (sep) {
        body = fr_strdup(sep + 2);
        sep[1] = '\0';
    }
    struct parsed p;
    parse_req(req, &p);
    /* This case signs with a session token the signer adds itself. */
    if (strstr(name, "with-session-token")) {
        p.names[p.nh] = fr_strdup("X-Amz-Security-Token");
        p.values[p.nh] = fr_strdup("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
        p.h[p.nh].name = p.names[p.nh];
        p.h[p.nh].value = p.values[p.nh];
        p.nh++;
    }
    free(p.body);
    p.body = body ? body : fr_strdup("");

    int64_t t;
    assert_int_equal(fr_time_parse("20150830T123600Z", &t), 0);
    fr_sigv4_scope s = {"us-east-1", "service", t, false};
    fr_sigv4_req r = {p.method, p.path, p.query, p.h, p.nh, p.body, strlen(p.body), NULL};
    fr_buf creq = FR_BUF_INIT, sh = FR_BUF_INIT, sts = FR_BUF_INIT, authz = FR_BUF_INIT;
    assert_int_equal(fr_sigv4_canonical_request(&r, &s, &creq, &sh), 0);
    if (strcmp(creq.data, want_creq) != 0)
        fail_msg("%s: canonical request\n--- got\n%s\n--- want\n%s", name, creq.data, want_creq);
    assert_int_equal(fr_sigv4_string_to_sign(creq.data, creq.len, &s, &sts), 0);
    if (strcmp(sts.data, want_sts) != 0)
        fail_msg("%s: string to sign\n--- got\n%s\n--- want\n%s", name, sts.data, want_sts);
    fr_sigv4_key_cache cache = {0};
    assert_int_equal(fr_sigv4_authorization(&r, &s, AKID, SECRET, &cache, &authz), 0);
    if (strcmp(authz.data, want_authz) != 0)
        fail_msg("%s: authorization\n--- got\n%s\n--- want\n%s", name, authz.data, want_authz);
    /* and the parser reads back what the signer wrote */
    fr_sigv4_auth pa;
    assert_int_equal(fr_sigv4_parse_authorization(authz.data, &pa), 0);
    assert_string_equal(pa.access_key, AKID);
    assert_string_equal(pa.service, "service");
    assert_string_equal(pa.signed_headers, sh.data);

    fr_buf_free(&creq);
    fr_buf_free(&sh);
    fr_buf_free(&sts);
    fr_buf_free(&authz);
    free_parsed(&p);
    free(req);
    free(want_creq);
    free(want_sts);
    free(want_authz);
    return 1;
}

static int walk(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        int got = run_case(sub, de->d_name);
        n += got ? got : walk(sub);
    }
    closedir(d);
    return n;
}

static void test_official_suite(void **state)
{
    const char *root = getenv("FRUGAL_SHARED_DATA");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/sigv4", root ? root : FR_TEST_SHARED_DATA);
    int n = walk(dir);
    print_message("SigV4 vectors passed: %d\n", n);
    assert_true(n >= 30);
}

static void test_normalize(void **state)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"/", "/"},           {"", "/"},       {"//example//", "/example/"}, {"/a/./b/../c", "/a/c"},
        {"/a/b/..", "/a/"},   {"/..", "/"},     {"/./", "/"},                 {"/a//b", "/a/b"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(cases); i++) {
        fr_buf b = FR_BUF_INIT;
        assert_int_equal(fr_sigv4_normalize_path(cases[i].in, &b), 0);
        assert_string_equal(fr_buf_cstr(&b), cases[i].out);
        fr_buf_free(&b);
    }
}

static void test_double_encoding(void **state)
{
    /* A Lambda ARN in the path is sent encoded once and signed encoded twice. */
    fr_sigv4_header h[] = {{"host", "lambda.us-east-1.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
    int64_t t;
    fr_time_parse("20150830T123600Z", &t);
    fr_sigv4_scope s = {"us-east-1", "lambda", t, false};
    fr_sigv4_req r = {"POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123%3Afunction%3Af/invocations",
                      NULL, h, 2, "{}", 2, NULL};
    fr_buf creq = FR_BUF_INIT, sh = FR_BUF_INIT;
    assert_int_equal(fr_sigv4_canonical_request(&r, &s, &creq, &sh), 0);
    assert_non_null(strstr(creq.data, "/2015-03-31/functions/arn%253Aaws%253Alambda"));
    fr_buf_free(&creq);
    fr_buf_free(&sh);
}

static void test_parse_malformed(void **state)
{
    fr_sigv4_auth a;
    const char *bad[] = {
        NULL,
        "",
        "Basic abc",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/svc/aws4_request, SignedHeaders=host, "
        "Signature=zz00000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/svc/aws4_request, SignedHeaders=host, "
        "Signature=0000000000000000000000000000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(bad); i++)
        assert_int_not_equal(fr_sigv4_parse_authorization(bad[i], &a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_suite),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_double_encoding),
        cmocka_unit_test(test_parse_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
