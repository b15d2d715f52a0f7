#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frugal/str.h"
#include "internal.h"

#define MAX_FILE (8u << 20)
#define MAX_TOTAL (64u << 20)

const char *fr_static_ctype(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".woff2", "font/woff2"},
    };
    for (size_t i = 0; i < FR_ARRAY_SIZE(types); i++)
        if (fr_str_endswith(name, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static int add_file(fr_static *s, const char *fs_path, const char *url, char *err, size_t errlen)
{
    FILE *f = fopen(fs_path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", fs_path, strerror(errno));
        return -errno;
    }
    fr_buf b = FR_BUF_INIT;
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > MAX_FILE || s->bytes + b.len + n > MAX_TOTAL) {
            fclose(f);
            fr_buf_free(&b);
            snprintf(err, errlen, "%s: too large for the in-memory static cache", fs_path);
            return -E2BIG;
        }
        fr_buf_append(&b, chunk, n);
    }
    fclose(f);
    fr_static_file *nf = realloc(s->files, (s->n + 1) * sizeof(*nf));
    if (!nf) {
        fr_buf_free(&b);
        return -ENOMEM;
    }
    s->files = nf;
    fr_static_file *e = &s->files[s->n++];
    memset(e, 0, sizeof(*e));
    e->url = fr_strdup(url);
    e->len = b.len;
    e->data = fr_buf_steal(&b);
    e->ctype = fr_static_ctype(url);
    snprintf(e->etag, sizeof(e->etag), "\"%016llx\"", (unsigned long long)fr_hash64(e->data, e->len));
    s->bytes += e->len;
    return 0;
}

static int walk(fr_static *s, const char *dir, const char *url_prefix, int depth, char *err, size_t errlen)
{
    if (depth > 8)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "node_modules") == 0 ||
            strcmp(de->d_name, "package.json") == 0 || strcmp(de->d_name, "package-lock.json") == 0 ||
            strcmp(de->d_name, "meson.build") == 0)
            continue;
        fr_buf fp = FR_BUF_INIT, up = FR_BUF_INIT;
        fr_buf_printf(&fp, "%s/%s", dir, de->d_name);
        fr_buf_printf(&up, "%s/%s", url_prefix, de->d_name);
        struct stat st;
        if (stat(fp.data, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk(s, fp.data, up.data, depth + 1, err, errlen);
            else if (S_ISREG(st.st_mode))
                rc = add_file(s, fp.data, up.data, err, errlen);
        }
        fr_buf_free(&fp);
        fr_buf_free(&up);
    }
    closedir(d);
    return rc;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const fr_static_file *)a)->url, ((const fr_static_file *)b)->url);
}

int fr_static_load(fr_static **out, const char *root, char *err, size_t errlen)
{
    *out = NULL;
    fr_static *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    struct stat st;
    if (!root || stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "web root %s is not a directory", root ? root : "(none)");
        free(s);
        return -ENOENT;
    }
    int rc = walk(s, root, "", 0, err, errlen);
    /* Browser libraries installed from npm by deploy/setup.sh. */
    if (rc == 0) {
        fr_buf vend = FR_BUF_INIT;
        fr_buf_printf(&vend, "%s/node_modules/uplot/dist", root);
        static const char *files[] = {"uPlot.iife.min.js", "uPlot.min.css"};
        for (size_t i = 0; i < FR_ARRAY_SIZE(files) && rc == 0; i++) {
            fr_buf fp = FR_BUF_INIT, up = FR_BUF_INIT;
            fr_buf_printf(&fp, "%s/%s", vend.data, files[i]);
            fr_buf_printf(&up, "/vendor/uplot/%s", files[i]);
            if (stat(fp.data, &st) == 0)
                rc = add_file(s, fp.data, up.data, err, errlen);
            fr_buf_free(&fp);
            fr_buf_free(&up);
        }
        fr_buf_free(&vend);
    }
    if (rc) {
        fr_static_free(s);
        return rc;
    }
    qsort(s->files, s->n, sizeof(*s->files), cmp_file);
    *out = s;
    return 0;
}

const fr_static_file *fr_static_find(const fr_static *s, const char *path, size_t len)
{
    if (!s)
        return NULL;
    char key[512];
    if (len == 0 || len >= sizeof(key) - 16)
        return NULL;
    memcpy(key, path, len);
    key[len] = '\0';
    if (key[len - 1] == '/')
        fr_strlcpy(key + len, "index.html", sizeof(key) - len);
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->files[mid].url, key);
        if (c == 0)
            return &s->files[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void fr_static_free(fr_static *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].url);
        free(s->files[i].data);
    }
    free(s->files);
    free(s);
}
