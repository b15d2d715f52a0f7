/* A growable byte buffer that is always NUL-terminated when non-empty. */
#ifndef FRUGAL_BUF_H
#define FRUGAL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct fr_buf {
    char *data;
    size_t len;
    size_t cap;
} fr_buf;

#define FR_BUF_INIT {NULL, 0, 0}

void fr_buf_init(fr_buf *b);
void fr_buf_free(fr_buf *b);
void fr_buf_reset(fr_buf *b);
int fr_buf_reserve(fr_buf *b, size_t extra);
int fr_buf_append(fr_buf *b, const void *p, size_t n);
int fr_buf_puts(fr_buf *b, const char *s);
int fr_buf_putc(fr_buf *b, char c);
int fr_buf_printf(fr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fr_buf_vprintf(fr_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Returns the data as a C string ("" when empty); never NULL. */
const char *fr_buf_cstr(const fr_buf *b);
/* Hands the allocation to the caller (NUL-terminated) and resets b. */
char *fr_buf_steal(fr_buf *b);
void fr_buf_consume(fr_buf *b, size_t n);
/* Appends the whole file at path to b: 0, or -errno (-EISDIR for a
 * directory, -EFBIG past max bytes, -ENOMEM). A blocking read: for local
 * files read at start-up or now and then (configs, tokens, data files). */
int fr_buf_read_file(fr_buf *b, const char *path, size_t max);

#endif
