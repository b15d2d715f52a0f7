#include <errno.h>
#include <stdlib.h>

#include "frugal/call.h"
#include "frugal/str.h"

struct fr_limiter_wait {
    fr_limiter *l;
    fr_limiter_cb cb;
    void *arg;
    fr_limiter_wait *prev, *next;
};

struct fr_limiter {
    uv_loop_t *loop;
    uv_timer_t *timer; /* heap: freed in its close callback, after the limiter */
    fr_tbucket tb;
    int concurrency;
    int active;
    size_t queued;
    fr_limiter_wait *head, *tail;
    char *name;
    int dispatching;
};

static void dispatch(fr_limiter *l);

static void on_timer(uv_timer_t *t)
{
    dispatch(t->data);
}

int fr_limiter_new(fr_limiter **out, uv_loop_t *loop, const char *name, double rate, double burst, int concurrency)
{
    fr_limiter *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->timer = malloc(sizeof(*l->timer));
    if (!l->timer) {
        free(l);
        return -ENOMEM;
    }
    l->loop = loop;
    l->name = fr_strdup(name ? name : "");
    l->concurrency = concurrency > 0 ? concurrency : 1;
    fr_tbucket_init(&l->tb, rate, burst, (int64_t)uv_now(loop));
    uv_timer_init(loop, l->timer);
    l->timer->data = l;
    *out = l;
    return 0;
}

void fr_limiter_update(fr_limiter *l, double rate, double burst, int concurrency)
{
    fr_tbucket_set(&l->tb, rate, burst, (int64_t)uv_now(l->loop));
    l->concurrency = concurrency > 0 ? concurrency : 1;
    dispatch(l);
}

static void unlink_wait(fr_limiter *l, fr_limiter_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    l->queued--;
}

static void dispatch(fr_limiter *l)
{
    if (l->dispatching)
        return;
    l->dispatching = 1;
    while (l->head && l->active < l->concurrency) {
        uint64_t wait = fr_tbucket_take(&l->tb, (int64_t)uv_now(l->loop));
        if (wait) {
            uv_timer_start(l->timer, on_timer, wait, 0);
            break;
        }
        fr_limiter_wait *w = l->head;
        unlink_wait(l, w);
        l->active++;
        fr_limiter_cb cb = w->cb;
        void *arg = w->arg;
        free(w);
        cb(arg);
    }
    l->dispatching = 0;
}

int fr_limiter_acquire(fr_limiter *l, fr_limiter_cb cb, void *arg, fr_limiter_wait **out)
{
    if (out)
        *out = NULL;
    if (!l->head && l->active < l->concurrency && fr_tbucket_take(&l->tb, (int64_t)uv_now(l->loop)) == 0) {
        l->active++;
        return 1;
    }
    fr_limiter_wait *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->l = l;
    w->cb = cb;
    w->arg = arg;
    w->prev = l->tail;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->queued++;
    if (out)
        *out = w;
    /* Never grant synchronously here: the caller has not seen *out yet. */
    if (l->active < l->concurrency && !uv_is_active((uv_handle_t *)l->timer))
        uv_timer_start(l->timer, on_timer, 0, 0);
    return 0;
}

void fr_limiter_release(fr_limiter *l)
{
    if (l->active > 0)
        l->active--;
    if (l->head && !uv_is_active((uv_handle_t *)l->timer))
        dispatch(l);
}

void fr_limiter_cancel(fr_limiter_wait *w)
{
    if (!w)
        return;
    unlink_wait(w->l, w);
    free(w);
}

size_t fr_limiter_queued(const fr_limiter *l)
{
    return l->queued;
}

int fr_limiter_active(const fr_limiter *l)
{
    return l->active;
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

void fr_limiter_close(fr_limiter *l)
{
    if (!l)
        return;
    while (l->head) {
        fr_limiter_wait *w = l->head;
        unlink_wait(l, w);
        free(w);
    }
    uv_close((uv_handle_t *)l->timer, free_timer);
    free(l->name);
    free(l);
}
