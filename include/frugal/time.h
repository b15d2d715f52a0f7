/* Wall-clock helpers. Only the shell reads clocks (fr_time_now_ms); pure
 * code takes times as arguments. Times are milliseconds since the epoch. */
#ifndef FRUGAL_TIME_H
#define FRUGAL_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t fr_time_now_ms(void);
/* Monotonic milliseconds (for measuring durations). */
uint64_t fr_time_mono_ms(void);
uint64_t fr_time_mono_ns(void);

/* "2026-11-22T10:29:00Z" (with ".123" when ms != 0 and with_ms). buf >= 32. */
void fr_time_iso8601(char *buf, size_t n, int64_t ms, int with_ms);
/* SigV4 forms: "20150830T123600Z" (>=17) and "20150830" (>=9). */
void fr_time_amz(char *buf, size_t n, int64_t ms);
void fr_time_amzdate(char *buf, size_t n, int64_t ms);
/* RFC 1123 "Sun, 06 Nov 1994 08:49:37 GMT". */
void fr_time_http(char *buf, size_t n, int64_t ms);

/* Accepts ISO 8601 with 'T' or ' ', optional fraction, 'Z' or +HH:MM,
 * the amz basic form, and epoch seconds (integer or fractional). */
int fr_time_parse(const char *s, int64_t *out_ms);
int fr_time_parse_http(const char *s, int64_t *out_ms);

#endif
