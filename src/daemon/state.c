/* Files in the state directory: the API token and the session secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frugal/buf.h"
#include "frugal/err.h"
#include "frugal/rand.h"
#include "frugal/str.h"
#include "state.h"

static int read_small(const char *path, fr_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char tmp[512];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
        if (out->len + (size_t)n > 4096) {
            close(fd);
            return -E2BIG;
        }
        fr_buf_append(out, tmp, (size_t)n);
    }
    close(fd);
    return n < 0 ? -errno : 0;
}

static int write_new(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return -e;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return -errno;
    return 0;
}

int fr_state_token(const char *dir, char **token_out, int *generated)
{
    *generated = 0;
    fr_buf path = FR_BUF_INIT, b = FR_BUF_INIT;
    fr_buf_printf(&path, "%s/api-token", dir);
    int rc = read_small(path.data, &b);
    if (rc == -ENOENT) {
        char tok[65];
        if ((rc = fr_rand_hex(tok, 32)) == 0) {
            char line[67];
            snprintf(line, sizeof(line), "%s\n", tok);
            rc = write_new(path.data, line, strlen(line));
            if (rc == 0) {
                *generated = 1;
                fr_buf_puts(&b, tok);
            }
        }
    } else if (rc == 0) {
        struct stat st;
        if (stat(path.data, &st) == 0 && (st.st_mode & 077))
            chmod(path.data, 0600); /* never leave it readable by others */
    }
    fr_buf_free(&path);
    if (rc) {
        fr_buf_free(&b);
        return rc;
    }
    char *t = fr_buf_steal(&b);
    fr_str_trim(t);
    if (strlen(t) < 16) {
        free(t);
        return FR_ECONFIG;
    }
    *token_out = t;
    return 0;
}

int fr_state_secret(const char *dir, unsigned char out[32])
{
    fr_buf path = FR_BUF_INIT, b = FR_BUF_INIT;
    fr_buf_printf(&path, "%s/session.key", dir);
    int rc = read_small(path.data, &b);
    if (rc == -ENOENT) {
        if ((rc = fr_rand_bytes(out, 32)) == 0)
            rc = write_new(path.data, out, 32);
    } else if (rc == 0) {
        if (b.len != 32)
            rc = FR_EPARSE;
        else
            memcpy(out, b.data, 32);
    }
    fr_buf_free(&path);
    fr_buf_free(&b);
    return rc;
}
