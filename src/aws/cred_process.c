/* credential_process on the loop: uv_spawn with two pipes and a timer.
 * The object owns four handles, counts the unclosed ones and frees itself
 * in the last close callback. The child leads a process group of its own
 * so that a timeout kills what it started too (a shell script's children
 * would otherwise keep stdout open). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cred_process.h"
#include "frugal/buf.h"
#include "frugal/err.h"
#include "frugal/str.h"

#define KILL_GRACE_MS 5000 /* after SIGKILL, how long to wait for the exit status */
#define STDERR_LINE 240

struct fr_cred_proc {
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    int open; /* handles not yet closed */
    bool exited, out_eof, err_eof, killed, finished, cancelled;
    int64_t exit_status;
    int term_signal;
    uint64_t timeout_ms;
    size_t max_out;
    fr_buf obuf;
    char eline[STDERR_LINE];
    size_t elen;
    bool eline_done;
    char rd_out[4096];
    char rd_err[1024];
    char why[160];
    fr_cred_proc_cb cb;
    void (*closed)(void *);
    void *arg;
};

static void on_handle_closed(uv_handle_t *h)
{
    fr_cred_proc *pr = h->data;
    if (--pr->open > 0)
        return;
    void (*closed)(void *) = pr->closed;
    void *arg = pr->arg;
    free(pr);
    if (closed)
        closed(arg);
}

static void close_all(fr_cred_proc *pr)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&pr->proc, (uv_handle_t *)&pr->out, (uv_handle_t *)&pr->err,
                         (uv_handle_t *)&pr->timer};
    for (size_t i = 0; i < FR_ARRAY_SIZE(hs); i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_handle_closed);
}

static void wipe_output(fr_cred_proc *pr)
{
    if (pr->obuf.data)
        memset(pr->obuf.data, 0, pr->obuf.cap);
    fr_buf_free(&pr->obuf);
    memset(pr->rd_out, 0, sizeof(pr->rd_out));
}

static void finish(fr_cred_proc *pr)
{
    if (pr->finished)
        return;
    pr->finished = true;
    uv_timer_stop(&pr->timer);
    uv_read_stop((uv_stream_t *)&pr->out);
    uv_read_stop((uv_stream_t *)&pr->err);
    fr_buf msg = FR_BUF_INIT;
    fr_cred_proc_result r;
    memset(&r, 0, sizeof(r));
    if (pr->killed)
        fr_buf_puts(&msg, pr->why);
    else if (pr->term_signal)
        fr_buf_printf(&msg, "killed by signal %d", pr->term_signal);
    else if (pr->exit_status != 0)
        fr_buf_printf(&msg, "exited with status %lld", (long long)pr->exit_status);
    if (msg.len) {
        if (pr->elen)
            fr_buf_printf(&msg, ": %s", pr->eline);
        r.err = FR_ECRED;
        r.message = fr_buf_cstr(&msg);
    } else {
        r.out = pr->obuf.data ? pr->obuf.data : "";
        r.out_len = pr->obuf.len;
    }
    if (!pr->cancelled && pr->cb)
        pr->cb(pr->arg, &r);
    fr_buf_free(&msg);
    wipe_output(pr);
    close_all(pr);
}

static void maybe_finish(fr_cred_proc *pr)
{
    if (!pr->finished && pr->exited && (pr->killed || (pr->out_eof && pr->err_eof)))
        finish(pr);
}

static void on_timer(uv_timer_t *t);

static void kill_group(fr_cred_proc *pr, const char *why)
{
    if (pr->killed || pr->finished)
        return;
    pr->killed = true;
    fr_strlcpy(pr->why, why, sizeof(pr->why));
    /* The group first: what the command started dies with it. After the
     * leader exited, the group lives on only while a member holds it. */
    uv_kill(-pr->proc.pid, SIGKILL);
    if (!pr->exited)
        uv_process_kill(&pr->proc, SIGKILL);
    uv_read_stop((uv_stream_t *)&pr->out);
    uv_read_stop((uv_stream_t *)&pr->err);
    uv_timer_start(&pr->timer, on_timer, KILL_GRACE_MS, 0);
    maybe_finish(pr);
}

static void on_timer(uv_timer_t *t)
{
    fr_cred_proc *pr = t->data;
    if (pr->killed) {
        finish(pr); /* no exit status after SIGKILL: give up waiting */
        return;
    }
    char why[160];
    if (pr->exited)
        snprintf(why, sizeof(why), "its output did not end within %.1f s of starting (a child keeps it open)",
                 (double)pr->timeout_ms / 1000.0);
    else
        snprintf(why, sizeof(why), "timed out after %.1f s; killed", (double)pr->timeout_ms / 1000.0);
    kill_group(pr, why);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    fr_cred_proc *pr = p->data;
    pr->exited = true;
    pr->exit_status = status;
    pr->term_signal = sig;
    maybe_finish(pr);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    fr_cred_proc *pr = h->data;
    if (h == (uv_handle_t *)&pr->out)
        *b = uv_buf_init(pr->rd_out, sizeof(pr->rd_out));
    else
        *b = uv_buf_init(pr->rd_err, sizeof(pr->rd_err));
}

static void on_out(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    fr_cred_proc *pr = s->data;
    if (n > 0) {
        if (pr->obuf.len + (size_t)n > pr->max_out) {
            char why[160];
            snprintf(why, sizeof(why), "wrote more than %zu bytes to stdout; killed", pr->max_out);
            kill_group(pr, why);
        } else if (fr_buf_append(&pr->obuf, b->base, (size_t)n) != 0) {
            kill_group(pr, "out of memory reading its output; killed");
        }
        memset(b->base, 0, (size_t)n);
        return;
    }
    if (n < 0) {
        pr->out_eof = true;
        uv_read_stop(s);
        maybe_finish(pr);
    }
}

/* Keeps the first line of stderr (printable ASCII) for the error message;
 * the rest is read and dropped so the child never blocks on a full pipe. */
static void on_err(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    fr_cred_proc *pr = s->data;
    for (ssize_t i = 0; i < n && !pr->eline_done; i++) {
        unsigned char ch = (unsigned char)b->base[i];
        if (ch == '\n') {
            pr->eline_done = pr->elen > 0; /* skip leading blank lines */
            continue;
        }
        if (ch == '\r')
            continue;
        if (pr->elen + 1 < sizeof(pr->eline)) {
            pr->eline[pr->elen++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
            pr->eline[pr->elen] = '\0';
        }
    }
    if (n < 0) {
        pr->err_eof = true;
        uv_read_stop(s);
        maybe_finish(pr);
    }
}

int fr_cred_proc_start(fr_cred_proc **out, uv_loop_t *loop, char *const *argv, uint64_t timeout_ms, size_t max_out,
                       fr_cred_proc_cb cb, void (*closed)(void *arg), void *arg, char *err, size_t errlen)
{
    *out = NULL;
    fr_cred_proc *pr = calloc(1, sizeof(*pr));
    if (!pr) {
        snprintf(err, errlen, "out of memory");
        if (closed)
            closed(arg);
        return -ENOMEM;
    }
    pr->timeout_ms = timeout_ms ? timeout_ms : 60000;
    pr->max_out = max_out;
    pr->cb = cb;
    pr->closed = closed;
    pr->arg = arg;
    uv_pipe_init(loop, &pr->out, 0);
    uv_pipe_init(loop, &pr->err, 0);
    uv_timer_init(loop, &pr->timer);
    pr->out.data = pr->err.data = pr->timer.data = pr->proc.data = pr;
    pr->open = 4;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE; /* /dev/null */
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&pr->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&pr->err;
    uv_process_options_t o;
    memset(&o, 0, sizeof(o));
    o.exit_cb = on_exit_cb;
    o.file = argv[0];
    o.args = (char **)argv;
    o.env = NULL; /* inherited, as the SDKs do */
    o.stdio = stdio;
    o.stdio_count = 3;
    o.flags = UV_PROCESS_DETACHED; /* setsid: its own process group, killed as one */
    int rc = uv_spawn(loop, &pr->proc, &o);
    pr->proc.data = pr; /* uv_spawn initialises the handle */
    if (rc) {
        snprintf(err, errlen, "cannot run '%.100s': %s", argv[0], uv_strerror(rc));
        pr->finished = true;
        close_all(pr); /* every handle is initialised, the process one too */
        return FR_ECRED;
    }
    uv_read_start((uv_stream_t *)&pr->out, on_alloc, on_out);
    uv_read_start((uv_stream_t *)&pr->err, on_alloc, on_err);
    uv_timer_start(&pr->timer, on_timer, pr->timeout_ms, 0);
    *out = pr;
    return 0;
}

void fr_cred_proc_cancel(fr_cred_proc *pr)
{
    if (!pr || pr->cancelled)
        return;
    pr->cancelled = true;
    if (pr->finished)
        return;
    if (pr->exited)
        finish(pr);
    else
        kill_group(pr, "cancelled");
}
