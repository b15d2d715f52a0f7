#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/call.h"
#include "frugal/str.h"

struct fr_limiter_wait {
    fr_limiter *l;
    fr_limiter *cls;
    fr_limiter_cb cb;
    void *arg;
    fr_limiter_wait *prev, *next;
};

/* ---- fr_arate: pure ---- */

#define ARATE_BETA 0.7         /* the rate kept at a cut */
#define ARATE_C 0.4            /* cubic growth scale, (requests/s) / s^3 */
#define ARATE_INTERVAL_MS 500  /* send-rate measuring interval */
#define ARATE_SMOOTH 0.6       /* weight of the newest interval */

void fr_arate_init(fr_arate *a, double min_rate, double max_rate, int64_t now_ms)
{
    memset(a, 0, sizeof(*a));
    a->min_rate = min_rate > 0 ? min_rate : 0.1;
    a->max_rate = max_rate >= a->min_rate ? max_rate : a->min_rate;
    a->bucket_ms = now_ms;
    a->last_cut_ms = INT64_MIN;
}

void fr_arate_on_send(fr_arate *a, int64_t now_ms)
{
    int64_t span = now_ms - a->bucket_ms;
    if (span >= ARATE_INTERVAL_MS) {
        double sample = a->bucket_n * 1000.0 / (double)span;
        a->measured = a->measured > 0 ? ARATE_SMOOTH * sample + (1 - ARATE_SMOOTH) * a->measured : sample;
        a->bucket_ms = now_ms;
        a->bucket_n = 0;
    }
    a->bucket_n++;
}

/* The send rate so far; before a whole interval has passed, the rate of the
 * partial one (over at least a quarter second, so a burst does not read as
 * thousands per second). */
static double measured_rate(const fr_arate *a, int64_t now_ms)
{
    if (a->measured > 0)
        return a->measured;
    int64_t span = now_ms - a->bucket_ms;
    if (span < ARATE_INTERVAL_MS / 2)
        span = ARATE_INTERVAL_MS / 2;
    return a->bucket_n * 1000.0 / (double)span;
}

#define ARATE_OK_WINDOW_MS 2000 /* accepted-rate window */
#define ARATE_OK_MIN 4           /* answers needed in the window for an estimate */

/* Accepted answers per second over the last window; 0 without enough. */
static double accepted_rate(const fr_arate *a, int64_t now_ms)
{
    size_t have = a->ok_n < FR_ARATE_OK_RING ? a->ok_n : FR_ARATE_OK_RING, n = 0;
    for (size_t i = 0; i < have; i++)
        if (now_ms - a->ok_ms[i] <= ARATE_OK_WINDOW_MS)
            n++;
    return n >= ARATE_OK_MIN ? (double)n * 1000.0 / ARATE_OK_WINDOW_MS : 0;
}

double fr_arate_rate(const fr_arate *a, int64_t now_ms)
{
    if (!a->limited)
        return 0;
    double t = (double)(now_ms - a->last_cut_ms) / 1000.0;
    double k = cbrt(a->w_max * (1 - ARATE_BETA) / ARATE_C);
    double r = ARATE_C * (t - k) * (t - k) * (t - k) + a->w_max;
    if (r < a->floor)
        r = a->floor;
    if (r < a->min_rate)
        r = a->min_rate;
    if (r > a->max_rate)
        r = a->max_rate;
    return r;
}

int fr_arate_on_answer(fr_arate *a, bool throttled, int64_t sent_ms, int64_t now_ms)
{
    if (!throttled) {
        a->ok_ms[a->ok_n++ % FR_ARATE_OK_RING] = now_ms;
        return 0;
    }
    if (a->limited && sent_ms < a->last_cut_ms)
        return 0;
    double m = measured_rate(a, now_ms);
    double base = m;
    if (a->limited) {
        double cur = fr_arate_rate(a, now_ms);
        if (m <= 0 || cur < m)
            base = cur;
    }
    if (base > a->max_rate)
        base = a->max_rate;
    if (base < a->min_rate)
        base = a->min_rate;
    a->w_max = base;
    /* never below what the server has just been accepting (nor above the
     * rate being cut) */
    a->floor = 0.95 * accepted_rate(a, now_ms);
    if (a->floor > base)
        a->floor = base;
    a->last_cut_ms = now_ms;
    a->limited = true;
    a->cuts++;
    return 1;
}

/* ---- fr_limiter: loop glue ---- */

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
    bool adaptive;
    fr_arate ar;
    double rate, burst; /* configured */
    uint64_t served;    /* as a class: when a service limiter last served it */
    uint64_t serves;    /* as a service limiter: grants so far */
};

/* An adaptive limiter's bucket follows the adaptive rate, with room for a
 * single request so that sends are spread evenly. */
static void sync_rate(fr_limiter *l, int64_t now)
{
    if (!l->adaptive)
        return;
    double r = fr_arate_rate(&l->ar, now);
    if (r > 0)
        fr_tbucket_set(&l->tb, r, 1, now);
    else
        fr_tbucket_set(&l->tb, l->rate, l->burst, now);
}

static uint64_t take(fr_limiter *l)
{
    int64_t now = (int64_t)uv_now(l->loop);
    sync_rate(l, now);
    uint64_t wait = fr_tbucket_take(&l->tb, now);
    if (!wait && l->adaptive)
        fr_arate_on_send(&l->ar, now);
    return wait;
}

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
    l->rate = rate;
    l->burst = burst;
    fr_tbucket_init(&l->tb, rate, burst, (int64_t)uv_now(loop));
    uv_timer_init(loop, l->timer);
    l->timer->data = l;
    *out = l;
    return 0;
}

void fr_limiter_update(fr_limiter *l, double rate, double burst, int concurrency)
{
    l->rate = rate;
    l->burst = burst;
    fr_tbucket_set(&l->tb, rate, burst, (int64_t)uv_now(l->loop));
    if (l->adaptive)
        l->ar.max_rate = rate > l->ar.min_rate ? rate : l->ar.min_rate;
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

/* The next waiter: the first one of the class served longest ago. */
static fr_limiter_wait *next_waiter(fr_limiter *l)
{
    fr_limiter_wait *best = l->head;
    uint64_t best_served = best->cls ? best->cls->served : 0;
    for (fr_limiter_wait *w = l->head->next; w && best_served; w = w->next) {
        uint64_t s = w->cls ? w->cls->served : 0;
        if (s < best_served) {
            best = w;
            best_served = s;
        }
    }
    return best;
}

static void dispatch(fr_limiter *l)
{
    if (l->dispatching)
        return;
    l->dispatching = 1;
    while (l->head && l->active < l->concurrency) {
        uint64_t wait = take(l);
        if (wait) {
            uv_timer_start(l->timer, on_timer, wait, 0);
            break;
        }
        fr_limiter_wait *w = next_waiter(l);
        if (w->cls)
            w->cls->served = ++l->serves;
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
    return fr_limiter_acquire_cls(l, NULL, cb, arg, out);
}

int fr_limiter_acquire_cls(fr_limiter *l, fr_limiter *cls, fr_limiter_cb cb, void *arg, fr_limiter_wait **out)
{
    if (out)
        *out = NULL;
    if (!l->head && l->active < l->concurrency && take(l) == 0) {
        l->active++;
        if (cls)
            cls->served = ++l->serves;
        return 1;
    }
    fr_limiter_wait *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->l = l;
    w->cls = cls;
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

void fr_limiter_set_adaptive(fr_limiter *l, double min_rate, double max_rate)
{
    l->adaptive = true;
    fr_arate_init(&l->ar, min_rate, max_rate, (int64_t)uv_now(l->loop));
}

void fr_limiter_feedback(fr_limiter *l, bool throttled, int64_t sent_ms)
{
    if (!l->adaptive)
        return;
    if (fr_arate_on_answer(&l->ar, throttled, sent_ms, (int64_t)uv_now(l->loop)))
        sync_rate(l, (int64_t)uv_now(l->loop));
}

const fr_arate *fr_limiter_arate(const fr_limiter *l)
{
    return l->adaptive ? &l->ar : NULL;
}
