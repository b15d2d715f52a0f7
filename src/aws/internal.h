/* Shared between the AWS client's loop-glue files (client.c, pager.c,
 * cloudwatch.c, ops.c); not a public interface. */
#ifndef FRUGAL_AWS_INTERNAL_H
#define FRUGAL_AWS_INTERNAL_H

#include "frugal/aws.h"
#include "frugal/call.h"
#include "frugal/sigv4.h"

/* Every operation handle starts with this. Top-level operations are linked
 * into the client's live list so fr_aws_close can end them; the calls a
 * pager or batch makes for itself are not (their parent ends them). */
struct fr_aws_op {
    fr_aws *aws;
    fr_aws_op *prev, *next;
    bool linked;
    /* frees without any callback */
    void (*cancel)(fr_aws_op *op);
    /* ends with a callback carrying err (fr_aws_close) */
    void (*abort)(fr_aws_op *op, int err);
};

struct fr_aws {
    uv_loop_t *loop;
    fr_http *http;
    fr_getenv_fn getenv;
    void *getenv_arg;
    char region[32];
    const char *region_source;
    fr_aws_endpoint ep[FR_SVC__COUNT];
    fr_limiter *lim[FR_SVC__COUNT];
    /* adaptive per-operation limiters, made on first use */
    struct fr_aws_oplim {
        int svc;
        char op[64];
        fr_limiter *l;
    } *oplim;
    size_t noplim;
    bool adaptive;
    fr_svc_limits svc_limits[FR_SVC__COUNT];
    fr_retry_quota quota[FR_SVC__COUNT];
    fr_sigv4_key_cache keys[FR_SVC__COUNT];
    bool use_quota;
    fr_retry_policy policy;
    int max_attempts;
    uint64_t timeout_ms;
    size_t max_response;
    char user_agent[160];
    fr_cred_provider *cred;
    fr_aws_op *live;
    size_t pending;
    /* completions that must not run inside the call that started them */
    uv_timer_t *defer;
    struct aws_call *deferred;
    int closing;
    int closes_left;
    void (*close_done)(void *);
    void *close_arg;
};

void fr_aws__link(fr_aws *a, fr_aws_op *op);
void fr_aws__unlink(fr_aws_op *op);

/* A single call; top=false for calls owned by a pager or batch. */
int fr_aws__call(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                 fr_aws_cb cb, void *arg, bool top, fr_aws_op **out);
int fr_aws__paginate(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                     fr_aws_page_cb page, fr_aws_cb done, void *arg, bool top, fr_aws_op **out);

/* With a hook that may rewrite each page in place before it is delivered
 * and gathered (Pricing parses its PriceList strings); non-zero fails the
 * pager with the error it filled in. */
int fr_aws__paginate_ex(fr_aws *a, enum fr_aws_svc svc, const char *op, json_t *req, const fr_aws_call_opts *o,
                        fr_aws_page_cb page, fr_aws_cb done, void *arg, bool top,
                        int (*transform)(json_t *page, fr_aws_error *e), fr_aws_op **out);

/* Delivers an error result that never reached the wire. */
void fr_aws__fail_result(fr_aws_cb cb, void *arg, fr_aws_err_kind kind, int err, const char *code, const char *msg);

#endif
