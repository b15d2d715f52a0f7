#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "frugal/err.h"
#include "frugal/str.h"
#include "frugal/time.h"

int64_t fr_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t fr_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t fr_time_mono_ms(void)
{
    return fr_time_mono_ns() / 1000000ULL;
}

static void split(int64_t ms, struct tm *tm, int *rem_ms)
{
    int64_t s = ms / 1000;
    int r = (int)(ms % 1000);
    if (r < 0) {
        r += 1000;
        s -= 1;
    }
    time_t t = (time_t)s;
    gmtime_r(&t, tm);
    *rem_ms = r;
}

void fr_time_iso8601(char *buf, size_t n, int64_t ms, int with_ms)
{
    struct tm tm;
    int r;
    split(ms, &tm, &r);
    if (with_ms && r)
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, r);
    else
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void fr_time_amz(char *buf, size_t n, int64_t ms)
{
    struct tm tm;
    int r;
    split(ms, &tm, &r);
    strftime(buf, n, "%Y%m%dT%H%M%SZ", &tm);
}

void fr_time_amzdate(char *buf, size_t n, int64_t ms)
{
    struct tm tm;
    int r;
    split(ms, &tm, &r);
    strftime(buf, n, "%Y%m%d", &tm);
}

void fr_time_http(char *buf, size_t n, int64_t ms)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    int r;
    split(ms, &tm, &r);
    snprintf(buf, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return FR_EPARSE;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int valid_tm(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] && h >= 0 && h <= 23 &&
           mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

int fr_time_parse(const char *s, int64_t *out_ms)
{
    if (!s)
        return FR_EPARSE;
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    /* epoch seconds: digits only with optional fraction, at most 11 integer digits */
    size_t intlen = strspn(p, "0123456789");
    if (intlen > 0 && intlen <= 11 && (p[intlen] == '\0' || p[intlen] == '.')) {
        double v;
        if (fr_parse_double(s, &v))
            return FR_EPARSE;
        *out_ms = (int64_t)(v * 1000.0 + (v >= 0 ? 0.5 : -0.5));
        return 0;
    }
    if (digits(&p, 4, &y))
        return FR_EPARSE;
    int basic = (*p != '-');
    if (!basic)
        p++;
    if (digits(&p, 2, &mo))
        return FR_EPARSE;
    if (!basic && *p++ != '-')
        return FR_EPARSE;
    if (digits(&p, 2, &d))
        return FR_EPARSE;
    int64_t frac_ms = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h))
            return FR_EPARSE;
        if (!basic && *p++ != ':')
            return FR_EPARSE;
        if (digits(&p, 2, &mi))
            return FR_EPARSE;
        if (*p == ':' || (basic && isdigit((unsigned char)*p))) {
            if (*p == ':')
                p++;
            if (digits(&p, 2, &sec))
                return FR_EPARSE;
        }
        if (*p == '.' || *p == ',') {
            p++;
            int scale = 100, nd = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd < 3)
                    frac_ms += (*p - '0') * scale;
                scale /= 10;
                nd++;
                p++;
            }
            if (nd == 0)
                return FR_EPARSE;
        }
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (digits(&p, 2, &oh))
            return FR_EPARSE;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om))
            return FR_EPARSE;
        if (oh > 23 || om > 59)
            return FR_EPARSE;
        off_s = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0' || !valid_tm(y, mo, d, h, mi, sec))
        return FR_EPARSE;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out_ms = ((int64_t)t - off_s) * 1000 + frac_ms;
    return 0;
}

int fr_time_parse_http(const char *s, int64_t *out_ms)
{
    static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char wd[4], mon[4], tz[4];
    int d, y, h, mi, sec;
    if (sscanf(s, "%3s, %d %3s %d %d:%d:%d %3s", wd, &d, mon, &y, &h, &mi, &sec, tz) != 8)
        return FR_EPARSE;
    if (strcmp(tz, "GMT") != 0)
        return FR_EPARSE;
    int mo = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, mons[i]) == 0)
            mo = i + 1;
    if (mo < 0 || !valid_tm(y, mo, d, h, mi, sec))
        return FR_EPARSE;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out_ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}
