#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frugal/buf.h"

void fr_buf_init(fr_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void fr_buf_free(fr_buf *b)
{
    free(b->data);
    fr_buf_init(b);
}

void fr_buf_reset(fr_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int fr_buf_reserve(fr_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len - 1)
        return -ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int fr_buf_append(fr_buf *b, const void *p, size_t n)
{
    int rc = fr_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int fr_buf_puts(fr_buf *b, const char *s)
{
    return fr_buf_append(b, s, strlen(s));
}

int fr_buf_putc(fr_buf *b, char c)
{
    return fr_buf_append(b, &c, 1);
}

int fr_buf_vprintf(fr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    int rc = fr_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int fr_buf_printf(fr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fr_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *fr_buf_cstr(const fr_buf *b)
{
    return b->data ? b->data : "";
}

char *fr_buf_steal(fr_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    fr_buf_init(b);
    return p;
}

void fr_buf_consume(fr_buf *b, size_t n)
{
    if (n >= b->len) {
        fr_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

int fr_buf_read_file(fr_buf *b, const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t start = b->len;
    int rc = 0;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno; /* a directory opens, then fails to read: EISDIR */
            break;
        }
        if (n == 0)
            break;
        if (b->len - start + (size_t)n > max) {
            rc = -EFBIG;
            break;
        }
        if (fr_buf_append(b, chunk, (size_t)n) != 0) {
            rc = -ENOMEM;
            break;
        }
    }
    close(fd);
    return rc;
}
