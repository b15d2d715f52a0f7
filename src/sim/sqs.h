/* The simulated SQS on the awsJson1_0 wire, pure: queues with visibility
 * timeouts and receipt handles (in real time: they are client-facing
 * timings), and long polling expressed as "wait this long" to the shell,
 * which parks the request on a uv timer and asks again when a message
 * arrives or the wait ends. */
#ifndef FR_SIM_SQS_H
#define FR_SIM_SQS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "proto.h"

#define FR_SIM_SQS_DEFAULT_QUEUE "frugal-interruptions"

typedef struct fr_sim_msg {
    char id[40];
    char *body;
    char md5[33];
    char md5_attrs[33];
    json_t *attrs; /* MessageAttributes as sent */
    int64_t sent_ms;
    int64_t visible_ms;
    int receives;
    int64_t first_receive_ms;
    char receipt[128];
} fr_sim_msg;

typedef struct fr_sim_queue {
    char name[96];
    char url[256];
    fr_sim_msg *msgs;
    size_t n, cap;
    int visibility_s;
    int wait_s;
    int64_t created_ms;
    uint64_t version; /* bumps on every send (wakes long polls) */
} fr_sim_queue;

typedef struct fr_sim_sqs {
    fr_sim_queue **queues;
    size_t n, cap;
    char account[16];
    char region[32];
    char endpoint[128]; /* http://host:port */
    uint64_t seed, counter;
} fr_sim_sqs;

void fr_sim_sqs_init(fr_sim_sqs *s, const char *region, const char *account, const char *endpoint, uint64_t seed);
void fr_sim_sqs_free(fr_sim_sqs *s);
fr_sim_queue *fr_sim_sqs_create(fr_sim_sqs *s, const char *name, int64_t now_ms);
fr_sim_queue *fr_sim_sqs_find(const fr_sim_sqs *s, const char *name_or_url);
int fr_sim_sqs_send(fr_sim_sqs *s, fr_sim_queue *q, const char *body, json_t *attrs, int64_t now_ms,
                    fr_sim_msg **out);
/* Drops every message of every queue (control API reset). */
void fr_sim_sqs_purge_all(fr_sim_sqs *s);

/* Runs an operation at real time now_ms. For ReceiveMessage with nothing
 * to deliver and a wait, sets *wait_ms (> 0) and writes no response: the
 * shell retries with may_wait false when the queue's version changes or
 * the wait is over. */
void fr_sim_sqs_call(fr_sim_sqs *s, const fr_sim_call *c, int64_t now_ms, bool may_wait, fr_sim_resp *r,
                     int64_t *wait_ms, fr_sim_queue **waiting_on);
/* MD5 of message attributes as SQS computes it. out >= 33. */
void fr_sim_sqs_attrs_md5(json_t *attrs, char *out);

#endif
