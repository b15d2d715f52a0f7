#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/str.h"
#include "internal.h"

int fr_route_init(fr_route *r, const char *method, const char *pattern)
{
    memset(r, 0, sizeof(*r));
    if (pattern[0] != '/')
        return -EINVAL;
    r->method = fr_strdup(method);
    r->pattern = fr_strdup(pattern);
    const char *p = pattern + 1;
    while (1) {
        size_t l = strcspn(p, "/");
        char **ns = realloc(r->segs, (r->nsegs + 1) * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        r->segs = ns;
        r->segs[r->nsegs++] = fr_strndup(p, l);
        if (!p[l])
            break;
        p += l + 1;
    }
    return 0;
}

void fr_route_free(fr_route *r)
{
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    free(r->segs);
    free(r->method);
    free(r->pattern);
    memset(r, 0, sizeof(*r));
}

void fr_route_params_free(fr_route_params *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->value[i]);
    p->n = 0;
}

int fr_route_match(const fr_route *r, const char *path, size_t plen, fr_route_params *p)
{
    p->n = 0;
    if (plen == 0 || path[0] != '/')
        return 0;
    size_t pos = 1;
    for (size_t i = 0; i < r->nsegs; i++) {
        if (pos > plen) {
            fr_route_params_free(p);
            return 0;
        }
        size_t end = pos;
        while (end < plen && path[end] != '/')
            end++;
        const char *seg = r->segs[i];
        size_t sl = strlen(seg);
        if (sl >= 2 && seg[0] == '{' && seg[sl - 1] == '}') {
            if (end == pos || p->n == FR_ROUTE_MAX_PARAMS) {
                fr_route_params_free(p);
                return 0;
            }
            fr_buf dec = FR_BUF_INIT;
            if (fr_uri_decode(&dec, path + pos, end - pos, false) != 0 || memchr(dec.data, '\0', dec.len)) {
                fr_buf_free(&dec);
                fr_route_params_free(p);
                return 0;
            }
            p->name[p->n] = seg; /* "{name}" - compared without braces */
            p->value[p->n] = fr_buf_steal(&dec);
            p->n++;
        } else if (end - pos != sl || memcmp(path + pos, seg, sl) != 0) {
            fr_route_params_free(p);
            return 0;
        }
        pos = end + 1;
    }
    if (pos <= plen) { /* path has more segments than the pattern */
        fr_route_params_free(p);
        return 0;
    }
    return 1;
}
