/* Runs a credential_process command on the loop (loop glue; used by the
 * credential provider, not a public interface). */
#ifndef FRUGAL_AWS_CRED_PROCESS_H
#define FRUGAL_AWS_CRED_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct fr_cred_proc fr_cred_proc;

typedef struct fr_cred_proc_result {
    int err;             /* 0: exited 0 within the time and size limits; else FR_ECRED */
    const char *out;     /* stdout, valid during the callback (wiped afterwards) */
    size_t out_len;
    const char *message; /* on error: why, with the first line of stderr; never stdout */
} fr_cred_proc_result;

typedef void (*fr_cred_proc_cb)(void *arg, const fr_cred_proc_result *r);

/* Starts argv (no shell; argv[0] searched in PATH) in a process group of
 * its own, stdin from /dev/null, the environment inherited. stdout is
 * collected up to max_out bytes, the first line of stderr is kept; past
 * timeout_ms, or more output than max_out, the whole group is killed.
 * cb runs once, after the process has exited and its output ended,
 * unless fr_cred_proc_cancel comes first. closed(arg) runs exactly once,
 * when the last handle is closed, even when this returns an error (then
 * with the reason in err and no cb): the owner waits for it before it
 * lets the loop end. */
int fr_cred_proc_start(fr_cred_proc **out, uv_loop_t *loop, char *const *argv, uint64_t timeout_ms, size_t max_out,
                       fr_cred_proc_cb cb, void (*closed)(void *arg), void *arg, char *err, size_t errlen);
/* No cb after this; a running process group is killed (SIGKILL). */
void fr_cred_proc_cancel(fr_cred_proc *pr);

#endif
