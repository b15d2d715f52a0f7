/* The client object on a real loop with an injected environment and a
 * private HOME, without any network: source selection, region and
 * endpoints, errors that arrive through the callback, cancellation, and a
 * clean close (uv_loop_close() == 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "frugal/aws.h"
#include "frugal/err.h"
#include "frugal/str.h"

struct env {
    const char *kv[32][2];
    size_t n;
};

static const char *env_get(const char *name, void *arg)
{
    struct env *e = arg;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->kv[i][0], name) == 0)
            return e->kv[i][1];
    return NULL;
}

static void env_set(struct env *e, const char *k, const char *v)
{
    e->kv[e->n][0] = k;
    e->kv[e->n][1] = v;
    e->n++;
}

struct fixture {
    uv_loop_t loop;
    fr_http *http;
    fr_config cfg;
    char home[64];
    struct env env;
};

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/.aws", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    assert_int_equal(fr_http_new(&f->http, &f->loop, NULL), 0);
    fr_config_init(&f->cfg);
    fr_strlcpy(f->home, "/tmp/frugal-aws-client-XXXXXX", sizeof(f->home));
    assert_non_null(mkdtemp(f->home));
    env_set(&f->env, "HOME", f->home);
    env_set(&f->env, "AWS_EC2_METADATA_DISABLED", "true");
    *state = f;
    return 0;
}

static void http_closed(void *arg)
{
    (void)arg;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    fr_http_close(f->http, http_closed, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    fr_config_free(&f->cfg);
    static const char *const rel[] = {".aws/credentials", ".aws/config", ".aws", ""};
    for (size_t i = 0; i < FR_ARRAY_SIZE(rel); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", f->home, rel[i]);
        if (remove(path) != 0 && i == FR_ARRAY_SIZE(rel) - 1)
            fail_msg("cannot remove %s", path);
    }
    free(f);
    return 0;
}

static fr_aws *new_client(struct fixture *f, int want_rc, char *err, size_t errlen)
{
    fr_aws_opts o = {env_get, &f->env, NULL};
    fr_aws *a = NULL;
    assert_int_equal(fr_aws_new(&a, &f->loop, f->http, &f->cfg, &o, err, errlen), want_rc);
    return a;
}

static void close_client(struct fixture *f, fr_aws *a)
{
    fr_aws_close(a, NULL, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_env_source_and_endpoints(void **state)
{
    struct fixture *f = *state;
    env_set(&f->env, "AWS_ACCESS_KEY_ID", "AKIDINJECTED0001");
    env_set(&f->env, "AWS_SECRET_ACCESS_KEY", "injected-secret");
    env_set(&f->env, "AWS_REGION", "eu-central-1");
    env_set(&f->env, "AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324");
    env_set(&f->env, "AWS_MAX_ATTEMPTS", "4");
    char err[256] = "";
    fr_aws *a = new_client(f, 0, err, sizeof(err));
    assert_string_equal(fr_aws_region(a), "eu-central-1");
    assert_string_equal(fr_aws_region_source(a), "AWS_REGION");
    assert_string_equal(fr_aws_endpoint_of(a, FR_SVC_SQS)->url, "http://127.0.0.1:9324");
    assert_string_equal(fr_aws_endpoint_of(a, FR_SVC_EMR)->url, "https://elasticmapreduce.eu-central-1.amazonaws.com");
    assert_string_equal(fr_aws_endpoint_of(a, FR_SVC_PRICING)->url, "https://api.pricing.eu-central-1.amazonaws.com");
    assert_int_equal(fr_aws_max_attempts(a), 4);
    assert_int_equal(fr_aws_quota_available(a, FR_SVC_EC2), 500);
    const fr_aws_creds *c = fr_cred_current(fr_aws_cred_provider(a));
    assert_non_null(c);
    assert_string_equal(c->source, "env");
    assert_string_equal(c->access_key_id, "AKIDINJECTED0001");
    assert_null(c->session_token);
    close_client(f, a);
}

static void test_profile_from_home(void **state)
{
    struct fixture *f = *state;
    write_file(f->home, ".aws/credentials", "[team]\naws_access_key_id = AKIDTEAM00000001\n"
                                            "aws_secret_access_key = team-secret\naws_session_token = tok\n");
    write_file(f->home, ".aws/config", "[profile team]\nregion = ap-south-1\n");
    env_set(&f->env, "AWS_PROFILE", "team");
    char err[256] = "";
    fr_aws *a = new_client(f, 0, err, sizeof(err));
    assert_string_equal(fr_aws_region(a), "ap-south-1");
    assert_string_equal(fr_aws_region_source(a), "profile");
    assert_string_equal(fr_aws_endpoint_of(a, FR_SVC_PRICING)->signing_region, "ap-south-1");
    const fr_aws_creds *c = fr_cred_current(fr_aws_cred_provider(a));
    assert_non_null(c);
    assert_string_equal(c->source, "profile:team");
    assert_string_equal(c->session_token, "tok");
    close_client(f, a);
    /* aws.region wins; aws.endpoint_url wins */
    free(f->cfg.aws_region);
    f->cfg.aws_region = fr_strdup("us-west-2");
    free(f->cfg.aws_endpoint_url);
    f->cfg.aws_endpoint_url = fr_strdup("http://localhost:4566");
    a = new_client(f, 0, err, sizeof(err));
    assert_string_equal(fr_aws_region(a), "us-west-2");
    assert_string_equal(fr_aws_endpoint_of(a, FR_SVC_STS)->source, "aws.endpoint_url");
    close_client(f, a);
}

static void test_start_errors(void **state)
{
    struct fixture *f = *state;
    write_file(f->home, ".aws/config", "[default]\nregion eu-west-1\n");
    char err[256] = "";
    assert_null(new_client(f, FR_EPARSE, err, sizeof(err)));
    assert_non_null(strstr(err, "config:2: expected 'key = value'"));
    write_file(f->home, ".aws/config", "[default]\nregion = eu-west-1\n");
    env_set(&f->env, "AWS_PROFILE", "absent");
    assert_null(new_client(f, FR_ECONFIG, err, sizeof(err)));
    assert_non_null(strstr(err, "profile 'absent'"));
    f->env.n--;
    env_set(&f->env, "AWS_ENDPOINT_URL", "file:///etc/passwd");
    assert_null(new_client(f, FR_ECONFIG, err, sizeof(err)));
    assert_non_null(strstr(err, "invalid endpoint URL"));
    f->env.n--;
    env_set(&f->env, "AWS_REGION", "Not A Region");
    assert_null(new_client(f, FR_ECONFIG, err, sizeof(err)));
    uv_run(&f->loop, UV_RUN_NOWAIT); /* providers created before the failure close here */
}

struct seen {
    int calls;
    int err;
    fr_aws_err_kind kind;
    char message[256];
};

static void on_result(const fr_aws_result *res, void *arg)
{
    struct seen *s = arg;
    s->calls++;
    s->err = res->err;
    s->kind = res->error ? res->error->kind : FR_AWS_ERR_NONE;
    if (res->error)
        fr_strlcpy(s->message, res->error->message, sizeof(s->message));
}

static void test_errors_come_through_the_callback(void **state)
{
    struct fixture *f = *state;
    env_set(&f->env, "AWS_ACCESS_KEY_ID", "AKIDONLYHALF0001"); /* no secret */
    char err[256] = "";
    fr_aws *a = new_client(f, 0, err, sizeof(err));
    struct seen s = {0};
    fr_aws_op *op = NULL;
    /* returned 0: the credentials error arrives later, on the loop */
    assert_int_equal(fr_aws_sts_get_caller_identity(a, on_result, &s, &op), 0);
    assert_non_null(op);
    assert_int_equal(s.calls, 0);
    assert_int_equal(fr_aws_pending(a), 1);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.err, FR_ECRED);
    assert_int_equal(s.kind, FR_AWS_ERR_CREDENTIALS);
    assert_non_null(strstr(s.message, "partial credentials"));
    assert_int_equal(fr_aws_pending(a), 0);
    /* bad arguments: an error at once and no callback */
    struct seen s2 = {0};
    assert_int_equal(fr_aws_ssm_get_parameter(a, NULL, false, on_result, &s2, NULL), -EINVAL);
    assert_int_equal(fr_aws_call(a, FR_SVC_LAMBDA, "GetFunction", json_object(), NULL, on_result, &s2, NULL),
                     -ENOTSUP);
    assert_int_equal(fr_aws_call(a, FR_SVC__COUNT, "X", NULL, NULL, on_result, &s2, NULL), -EINVAL);
    json_t *bad_ids = json_pack("[{s:s}]", "Id", "NotValid");
    assert_int_equal(fr_aws_cw_get_metric_data(a, bad_ids, 0, 60000, NULL, on_result, &s2, NULL), -EINVAL);
    json_decref(bad_ids);
    /* a cancelled call never calls back */
    assert_int_equal(fr_aws_sts_get_caller_identity(a, on_result, &s2, &op), 0);
    fr_aws_cancel(op);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(s2.calls, 0);
    close_client(f, a);
}

static void test_close_ends_pending_calls(void **state)
{
    struct fixture *f = *state;
    env_set(&f->env, "AWS_ACCESS_KEY_ID", "AKIDCLOSE0000001");
    env_set(&f->env, "AWS_SECRET_ACCESS_KEY", "s");
    /* a blackhole address: the calls stay in flight until the close */
    env_set(&f->env, "AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    free(f->cfg.aws_region);
    f->cfg.aws_region = fr_strdup("us-east-1");
    f->cfg.retry_initial_ms = 60000;
    f->cfg.retry_max_ms = 60000;
    char err[256] = "";
    fr_aws *a = new_client(f, 0, err, sizeof(err));
    struct seen s[3] = {{0}};
    assert_int_equal(fr_aws_sts_get_caller_identity(a, on_result, &s[0], NULL), 0);
    assert_int_equal(fr_aws_emr_list_clusters(a, NULL, NULL, on_result, &s[1], NULL), 0);
    json_t *q = json_pack("[{s:s, s:s}]", "Id", "e", "Expression", "SEARCH('x', 'Average', 60)");
    assert_int_equal(fr_aws_cw_get_metric_data(a, q, 0, 60000, NULL, on_result, &s[2], NULL), 0);
    json_decref(q);
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT); /* connections refused: now in a 60 s backoff */
    assert_int_equal(fr_aws_pending(a), 3);
    fr_aws_close(a, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].err, -ECANCELED);
        assert_int_equal(s[i].kind, FR_AWS_ERR_TRANSPORT);
    }
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_source_and_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_from_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_come_through_the_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_ends_pending_calls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
