#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "sqs.h"
#include "util.h"

void fr_sim_sqs_init(fr_sim_sqs *s, const char *region, const char *account, const char *endpoint, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    fr_strlcpy(s->region, region, sizeof(s->region));
    fr_strlcpy(s->account, account, sizeof(s->account));
    fr_strlcpy(s->endpoint, endpoint, sizeof(s->endpoint));
    s->seed = seed;
}

static void msg_free(fr_sim_msg *m)
{
    free(m->body);
    json_decref(m->attrs);
}

static void queue_free(fr_sim_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        msg_free(&q->msgs[i]);
    free(q->msgs);
    free(q);
}

void fr_sim_sqs_free(fr_sim_sqs *s)
{
    for (size_t i = 0; i < s->n; i++)
        queue_free(s->queues[i]);
    free(s->queues);
    memset(s, 0, sizeof(*s));
}

void fr_sim_sqs_purge_all(fr_sim_sqs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        fr_sim_queue *q = s->queues[i];
        for (size_t k = 0; k < q->n; k++)
            msg_free(&q->msgs[k]);
        q->n = 0;
    }
}

static bool valid_name(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > 80)
        return false;
    for (size_t i = 0; i < l; i++) {
        char ch = n[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '_';
        if (!ok && !(ch == '.' && i == l - 5 && strcmp(n + i, ".fifo") == 0))
            return false;
    }
    return true;
}

fr_sim_queue *fr_sim_sqs_create(fr_sim_sqs *s, const char *name, int64_t now_ms)
{
    fr_sim_queue *q = fr_sim_sqs_find(s, name);
    if (q)
        return q;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        fr_sim_queue **nq = realloc(s->queues, ncap * sizeof(*nq));
        if (!nq)
            return NULL;
        s->queues = nq;
        s->cap = ncap;
    }
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    fr_strlcpy(q->name, name, sizeof(q->name));
    snprintf(q->url, sizeof(q->url), "%s/%s/%s", s->endpoint, s->account, name);
    q->visibility_s = 30;
    q->created_ms = now_ms;
    s->queues[s->n++] = q;
    return q;
}

fr_sim_queue *fr_sim_sqs_find(const fr_sim_sqs *s, const char *name_or_url)
{
    if (!name_or_url)
        return NULL;
    /* a URL from any endpoint works: match on ".../account/name" */
    const char *name = name_or_url;
    const char *slash = strrchr(name_or_url, '/');
    if (slash)
        name = slash + 1;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->queues[i]->name, name) == 0)
            return s->queues[i];
    return NULL;
}

static void put_be32(fr_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    fr_buf_append(b, x, 4);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void fr_sim_sqs_attrs_md5(json_t *attrs, char *out)
{
    size_t n = json_object_size(attrs);
    const char **keys = malloc((n ? n : 1) * sizeof(*keys));
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(attrs, key, v) if (keys) keys[k++] = key;
    if (keys)
        qsort(keys, k, sizeof(*keys), cmp_key);
    fr_buf b = FR_BUF_INIT;
    for (size_t i = 0; keys && i < k; i++) {
        json_t *a = json_object_get(attrs, keys[i]);
        const char *dt = fr_sim_jstr(a, "DataType");
        if (!dt)
            dt = "String";
        put_be32(&b, (uint32_t)strlen(keys[i]));
        fr_buf_puts(&b, keys[i]);
        put_be32(&b, (uint32_t)strlen(dt));
        fr_buf_puts(&b, dt);
        const char *sv = fr_sim_jstr(a, "StringValue");
        const char *bv = fr_sim_jstr(a, "BinaryValue");
        if (fr_str_startswith(dt, "Binary") && bv) {
            fr_buf raw = FR_BUF_INIT;
            fr_base64_decode(&raw, bv, strlen(bv));
            fr_buf_putc(&b, 2);
            put_be32(&b, (uint32_t)raw.len);
            fr_buf_append(&b, raw.data ? raw.data : "", raw.len);
            fr_buf_free(&raw);
        } else {
            fr_buf_putc(&b, 1);
            put_be32(&b, (uint32_t)(sv ? strlen(sv) : 0));
            fr_buf_puts(&b, sv ? sv : "");
        }
    }
    fr_sim_md5_hex(b.data ? b.data : "", b.len, out);
    fr_buf_free(&b);
    free(keys);
}

int fr_sim_sqs_send(fr_sim_sqs *s, fr_sim_queue *q, const char *body, json_t *attrs, int64_t now_ms,
                    fr_sim_msg **out)
{
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        fr_sim_msg *nm = realloc(q->msgs, ncap * sizeof(*nm));
        if (!nm)
            return -ENOMEM;
        q->msgs = nm;
        q->cap = ncap;
    }
    fr_sim_msg *m = &q->msgs[q->n++];
    memset(m, 0, sizeof(*m));
    fr_sim_uuid(m->id, sizeof(m->id), fr_sim_hash3(s->seed, 0x5a5, ++s->counter), (uint64_t)now_ms);
    m->body = fr_strdup(body);
    fr_sim_md5_hex(body, strlen(body), m->md5);
    if (json_object_size(attrs)) {
        m->attrs = json_incref(attrs);
        fr_sim_sqs_attrs_md5(attrs, m->md5_attrs);
    }
    m->sent_ms = now_ms;
    m->visible_ms = now_ms;
    q->version++;
    if (out)
        *out = m;
    return 0;
}

/* ---- API ---- */

static fr_sim_queue *queue_arg(fr_sim_sqs *s, const fr_sim_call *c, fr_sim_resp *r)
{
    const char *url = fr_sim_jstr(c->in, "QueueUrl");
    fr_sim_queue *q = fr_sim_sqs_find(s, url);
    if (!q)
        fr_sim_error(c, r, 400, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");
    return q;
}

static void receive(fr_sim_sqs *s, fr_sim_queue *q, const fr_sim_call *c, int64_t now, int64_t max, int64_t vis,
                    fr_sim_resp *r)
{
    json_t *msgs = json_array();
    json_t *want = fr_sim_jlist(c->in, "MessageSystemAttributeNames");
    if (!json_array_size(want))
        want = fr_sim_jlist(c->in, "AttributeNames");
    bool all = false;
    size_t i;
    json_t *w;
    json_array_foreach(want, i, w) if (json_is_string(w) && strcmp(json_string_value(w), "All") == 0) all = true;
    for (size_t k = 0; k < q->n && (int64_t)json_array_size(msgs) < max; k++) {
        fr_sim_msg *m = &q->msgs[k];
        if (m->visible_ms > now)
            continue;
        m->receives++;
        if (!m->first_receive_ms)
            m->first_receive_ms = now;
        m->visible_ms = now + vis * 1000;
        char u[40];
        fr_sim_uuid(u, sizeof(u), fr_sim_hash3(s->seed, 0x4ec, ++s->counter), (uint64_t)now);
        snprintf(m->receipt, sizeof(m->receipt), "AQEB%s%s", m->id, u);
        for (char *p = m->receipt; *p; p++)
            if (*p == '-')
                *p = 'x';
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "MessageId", m->id, "ReceiptHandle", m->receipt, "MD5OfBody",
                              m->md5, "Body", m->body);
        if (json_array_size(want)) {
            json_t *attrs = json_object();
            char v[32];
            snprintf(v, sizeof(v), "%lld", (long long)m->sent_ms);
            json_object_set_new(attrs, "SentTimestamp", json_string(v));
            snprintf(v, sizeof(v), "%d", m->receives);
            json_object_set_new(attrs, "ApproximateReceiveCount", json_string(v));
            snprintf(v, sizeof(v), "%lld", (long long)m->first_receive_ms);
            json_object_set_new(attrs, "ApproximateFirstReceiveTimestamp", json_string(v));
            json_object_set_new(attrs, "SenderId", json_string("AIDAFRUGALSIMEVENTBRIDGE"));
            if (!all) {
                json_t *sel = json_object();
                size_t x;
                json_t *n;
                json_array_foreach(want, x, n)
                {
                    json_t *val = json_is_string(n) ? json_object_get(attrs, json_string_value(n)) : NULL;
                    if (val)
                        json_object_set(sel, json_string_value(n), val);
                }
                json_decref(attrs);
                attrs = sel;
            }
            json_object_set_new(j, "Attributes", attrs);
        }
        if (m->attrs && json_array_size(fr_sim_jlist(c->in, "MessageAttributeNames"))) {
            json_object_set_new(j, "MD5OfMessageAttributes", json_string(m->md5_attrs));
            json_object_set(j, "MessageAttributes", m->attrs);
        }
        json_array_append_new(msgs, j);
    }
    json_t *out = json_object();
    if (json_array_size(msgs))
        json_object_set_new(out, "Messages", msgs);
    else
        json_decref(msgs);
    fr_sim_ok_json(c, r, out);
}

static bool any_visible(const fr_sim_queue *q, int64_t now)
{
    for (size_t k = 0; k < q->n; k++)
        if (q->msgs[k].visible_ms <= now)
            return true;
    return false;
}

static int64_t next_visible(const fr_sim_queue *q)
{
    int64_t best = -1;
    for (size_t k = 0; k < q->n; k++)
        if (best < 0 || q->msgs[k].visible_ms < best)
            best = q->msgs[k].visible_ms;
    return best;
}

static void op_receive(fr_sim_sqs *s, const fr_sim_call *c, int64_t now, bool may_wait, fr_sim_resp *r,
                       int64_t *wait_ms, fr_sim_queue **waiting_on)
{
    fr_sim_queue *q = queue_arg(s, c, r);
    if (!q)
        return;
    int64_t max = 1, vis = q->visibility_s, wait = q->wait_s;
    fr_sim_jint(c->in, "MaxNumberOfMessages", &max);
    fr_sim_jint(c->in, "VisibilityTimeout", &vis);
    fr_sim_jint(c->in, "WaitTimeSeconds", &wait);
    if (max < 1 || max > 10) {
        fr_sim_error(c, r, 400, "InvalidParameterValue",
                     "Value %lld for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, "
                     "if provided.", (long long)max);
        return;
    }
    if (wait < 0 || wait > 20) {
        fr_sim_error(c, r, 400, "InvalidParameterValue",
                     "Value %lld for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if "
                     "provided.", (long long)wait);
        return;
    }
    if (vis < 0 || vis > 43200) {
        fr_sim_error(c, r, 400, "InvalidParameterValue", "Value %lld for parameter VisibilityTimeout is invalid.",
                     (long long)vis);
        return;
    }
    if (!any_visible(q, now) && may_wait && wait > 0) {
        int64_t w = wait * 1000;
        /* wake up when an in-flight message becomes visible again */
        int64_t nv = next_visible(q);
        if (nv > now && nv - now < w)
            w = nv - now;
        *wait_ms = w;
        *waiting_on = q;
        return;
    }
    receive(s, q, c, now, max, vis, r);
}

static fr_sim_msg *by_receipt(fr_sim_queue *q, const char *rh, size_t *idx)
{
    for (size_t k = 0; rh && k < q->n; k++)
        if (strcmp(q->msgs[k].receipt, rh) == 0) {
            *idx = k;
            return &q->msgs[k];
        }
    return NULL;
}

static void remove_msg(fr_sim_queue *q, size_t k)
{
    msg_free(&q->msgs[k]);
    memmove(&q->msgs[k], &q->msgs[k + 1], (q->n - k - 1) * sizeof(*q->msgs));
    q->n--;
}

static bool receipt_shaped(const char *rh)
{
    return rh && fr_str_startswith(rh, "AQEB") && strlen(rh) > 40;
}

void fr_sim_sqs_call(fr_sim_sqs *s, const fr_sim_call *c, int64_t now, bool may_wait, fr_sim_resp *r,
                     int64_t *wait_ms, fr_sim_queue **waiting_on)
{
    *wait_ms = 0;
    *waiting_on = NULL;
    const char *op = c->op;
    if (strcmp(op, "ReceiveMessage") == 0) {
        op_receive(s, c, now, may_wait, r, wait_ms, waiting_on);
    } else if (strcmp(op, "GetQueueUrl") == 0) {
        fr_sim_queue *q = fr_sim_sqs_find(s, fr_sim_jstr(c->in, "QueueName"));
        if (!q)
            fr_sim_error(c, r, 400, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");
        else
            fr_sim_ok_json(c, r, json_pack("{s:s}", "QueueUrl", q->url));
    } else if (strcmp(op, "CreateQueue") == 0) {
        const char *name = fr_sim_jstr(c->in, "QueueName");
        if (!name || !valid_name(name)) {
            fr_sim_error(c, r, 400, "InvalidParameterValue",
                         "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
            return;
        }
        fr_sim_queue *q = fr_sim_sqs_create(s, name, now);
        if (!q) {
            fr_sim_internal_error(c, r, NULL);
            return;
        }
        json_t *attrs = json_object_get(c->in, "Attributes");
        int64_t v;
        if (fr_sim_jint(attrs, "VisibilityTimeout", &v) == 0 && v >= 0 && v <= 43200)
            q->visibility_s = (int)v;
        if (fr_sim_jint(attrs, "ReceiveMessageWaitTimeSeconds", &v) == 0 && v >= 0 && v <= 20)
            q->wait_s = (int)v;
        fr_sim_ok_json(c, r, json_pack("{s:s}", "QueueUrl", q->url));
    } else if (strcmp(op, "ListQueues") == 0) {
        const char *prefix = fr_sim_jstr(c->in, "QueueNamePrefix");
        json_t *urls = json_array();
        for (size_t i = 0; i < s->n; i++)
            if (!prefix || fr_str_startswith(s->queues[i]->name, prefix))
                json_array_append_new(urls, json_string(s->queues[i]->url));
        fr_sim_ok_json(c, r, json_pack("{s:o}", "QueueUrls", urls));
    } else if (strcmp(op, "SendMessage") == 0) {
        fr_sim_queue *q = queue_arg(s, c, r);
        if (!q)
            return;
        const char *body = fr_sim_jstr(c->in, "MessageBody");
        if (!body || !*body || strlen(body) > 262144) {
            fr_sim_error(c, r, 400, "InvalidParameterValue", "The request must contain a MessageBody of 1 to 262144 bytes.");
            return;
        }
        fr_sim_msg *m;
        if (fr_sim_sqs_send(s, q, body, json_object_get(c->in, "MessageAttributes"), now, &m) != 0) {
            fr_sim_internal_error(c, r, NULL);
            return;
        }
        int64_t delay = 0;
        if (fr_sim_jint(c->in, "DelaySeconds", &delay) == 0 && delay > 0 && delay <= 900)
            m->visible_ms = now + delay * 1000;
        json_t *out = json_pack("{s:s, s:s}", "MD5OfMessageBody", m->md5, "MessageId", m->id);
        if (m->attrs)
            json_object_set_new(out, "MD5OfMessageAttributes", json_string(m->md5_attrs));
        fr_sim_ok_json(c, r, out);
    } else if (strcmp(op, "DeleteMessage") == 0) {
        fr_sim_queue *q = queue_arg(s, c, r);
        if (!q)
            return;
        const char *rh = fr_sim_jstr(c->in, "ReceiptHandle");
        size_t k;
        if (by_receipt(q, rh, &k))
            remove_msg(q, k);
        else if (!receipt_shaped(rh)) {
            fr_sim_error(c, r, 400, "ReceiptHandleIsInvalid", "The input receipt handle \"%s\" is not a valid receipt handle.",
                         rh ? rh : "");
            return;
        }
        /* deleting an already deleted message succeeds, as in SQS */
        fr_sim_ok_json(c, r, json_object());
    } else if (strcmp(op, "DeleteMessageBatch") == 0) {
        fr_sim_queue *q = queue_arg(s, c, r);
        if (!q)
            return;
        json_t *ok = json_array(), *failed = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(fr_sim_jlist(c->in, "Entries"), i, e)
        {
            const char *id = fr_sim_jstr(e, "Id"), *rh = fr_sim_jstr(e, "ReceiptHandle");
            size_t k;
            if (by_receipt(q, rh, &k) || receipt_shaped(rh)) {
                if (by_receipt(q, rh, &k))
                    remove_msg(q, k);
                json_array_append_new(ok, json_pack("{s:s}", "Id", id ? id : ""));
            } else {
                json_array_append_new(failed, json_pack("{s:s, s:b, s:s, s:s}", "Id", id ? id : "", "SenderFault", 1,
                                                        "Code", "ReceiptHandleIsInvalid", "Message",
                                                        "The receipt handle is not valid."));
            }
        }
        fr_sim_ok_json(c, r, json_pack("{s:o, s:o}", "Successful", ok, "Failed", failed));
    } else if (strcmp(op, "ChangeMessageVisibility") == 0) {
        fr_sim_queue *q = queue_arg(s, c, r);
        if (!q)
            return;
        size_t k;
        fr_sim_msg *m = by_receipt(q, fr_sim_jstr(c->in, "ReceiptHandle"), &k);
        int64_t vis = 0;
        fr_sim_jint(c->in, "VisibilityTimeout", &vis);
        if (!m) {
            fr_sim_error(c, r, 400, "ReceiptHandleIsInvalid", "The receipt handle is not valid.");
            return;
        }
        m->visible_ms = now + vis * 1000;
        q->version++;
        fr_sim_ok_json(c, r, json_object());
    } else if (strcmp(op, "PurgeQueue") == 0) {
        fr_sim_queue *q = queue_arg(s, c, r);
        if (!q)
            return;
        for (size_t k = 0; k < q->n; k++)
            msg_free(&q->msgs[k]);
        q->n = 0;
        fr_sim_ok_json(c, r, json_object());
    } else if (strcmp(op, "GetQueueAttributes") == 0) {
        fr_sim_queue *q = queue_arg(s, c, r);
        if (!q)
            return;
        size_t vis = 0, inflight = 0;
        for (size_t k = 0; k < q->n; k++) {
            if (q->msgs[k].visible_ms <= now)
                vis++;
            else
                inflight++;
        }
        char a[32], b[32], vt[16], cr[32], ws[16];
        snprintf(a, sizeof(a), "%zu", vis);
        snprintf(b, sizeof(b), "%zu", inflight);
        snprintf(vt, sizeof(vt), "%d", q->visibility_s);
        snprintf(ws, sizeof(ws), "%d", q->wait_s);
        snprintf(cr, sizeof(cr), "%lld", (long long)(q->created_ms / 1000));
        char arn[200];
        snprintf(arn, sizeof(arn), "arn:aws:sqs:%s:%s:%s", s->region, s->account, q->name);
        fr_sim_ok_json(c, r, json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}", "Attributes",
                                       "ApproximateNumberOfMessages", a, "ApproximateNumberOfMessagesNotVisible", b,
                                       "VisibilityTimeout", vt, "ReceiveMessageWaitTimeSeconds", ws,
                                       "CreatedTimestamp", cr, "QueueArn", arn, "MaximumMessageSize", "262144"));
    } else {
        fr_sim_error(c, r, 400, "InvalidAction", "The action %s is not valid for this endpoint.", op);
    }
}
