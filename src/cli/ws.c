/* A small blocking WebSocket client for the CLI, framed by wslay. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha1.h>
#include <wslay/wslay.h>

#include "cli.h"
#include "frugal/buf.h"
#include "frugal/err.h"
#include "frugal/rand.h"
#include "frugal/str.h"

struct wsconn {
    int fd;
    fr_cli_event_fn fn;
    void *arg;
    int stop;
    unsigned long long last_seq;
    int bad_frame; /* the server sent something that is not a JSON event */
    fr_buf pre;    /* bytes read past the handshake */
};

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    struct wsconn *w = ud;
    if (w->pre.len) {
        size_t n = len < w->pre.len ? len : w->pre.len;
        memcpy(buf, w->pre.data, n);
        fr_buf_consume(&w->pre, n);
        return (ssize_t)n;
    }
    ssize_t r = recv(w->fd, buf, len, 0);
    if (r < 0) {
        wslay_event_set_error(ctx, (errno == EAGAIN || errno == EWOULDBLOCK) ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (r == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    struct wsconn *w = ud;
    ssize_t r = send(w->fd, data, len, MSG_NOSIGNAL);
    if (r < 0) {
        wslay_event_set_error(ctx, (errno == EAGAIN || errno == EWOULDBLOCK) ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    return fr_rand_bytes(buf, len) == 0 ? 0 : -1;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m, void *ud)
{
    struct wsconn *w = ud;
    if (m->opcode != WSLAY_TEXT_FRAME || w->stop)
        return;
    json_t *ev = json_loadb((const char *)m->msg, m->msg_length, 0, NULL);
    if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "type"))) {
        /* a feed that says something else cannot be followed: stop, loudly */
        json_decref(ev);
        w->bad_frame = 1;
        w->stop = 1;
        return;
    }
    json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
    if (seq > 0)
        w->last_seq = (unsigned long long)seq;
    if (w->fn(w->arg, ev))
        w->stop = 1;
    json_decref(ev);
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return FR_ERESOLVE;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd >= 0 ? fd : -ECONNREFUSED;
}

static int handshake(struct wsconn *w, const fr_cli *c, const char *hostport, unsigned long long since)
{
    unsigned char nonce[16];
    fr_rand_bytes(nonce, sizeof(nonce));
    fr_buf key = FR_BUF_INIT, req = FR_BUF_INIT;
    fr_base64_encode(&key, nonce, sizeof(nonce));
    char path[64] = "/api/feed";
    if (since != FR_CLI_FEED_NOW)
        snprintf(path, sizeof(path), "/api/feed?since=%llu", since);
    fr_buf_printf(&req,
                  "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n"
                  "User-Agent: frugal-cli\r\n\r\n",
                  path, hostport, key.data, c->token ? c->token : "");
    int rc = send(w->fd, req.data, req.len, MSG_NOSIGNAL) == (ssize_t)req.len ? 0 : -EIO;
    fr_buf_free(&req);
    fr_buf resp = FR_BUF_INIT;
    while (rc == 0 && !strstr(fr_buf_cstr(&resp), "\r\n\r\n")) {
        char tmp[1024];
        ssize_t n = recv(w->fd, tmp, sizeof(tmp), 0);
        if (n <= 0) {
            rc = -ECONNRESET;
            break;
        }
        fr_buf_append(&resp, tmp, (size_t)n);
        if (resp.len > 16384)
            rc = FR_EPARSE;
    }
    if (rc == 0) {
        char *end = strstr(resp.data, "\r\n\r\n");
        size_t hl = (size_t)(end - resp.data) + 4;
        fr_buf_append(&w->pre, resp.data + hl, resp.len - hl);
        if (strncmp(resp.data, "HTTP/1.1 101", 12) != 0) {
            fprintf(stderr, "frugal: feed refused: %.*s\n", (int)strcspn(resp.data, "\r\n"), resp.data);
            rc = strstr(resp.data, " 401 ") ? FR_EDENIED : FR_EHTTP;
        } else {
            /* Sec-WebSocket-Accept = base64(SHA1(key + GUID)) */
            fr_buf src = FR_BUF_INIT, want = FR_BUF_INIT;
            fr_buf_printf(&src, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key.data);
            unsigned char sha[20];
            mbedtls_sha1_ret((const unsigned char *)src.data, src.len, sha);
            fr_base64_encode(&want, sha, sizeof(sha));
            char *acc = strcasestr(resp.data, "sec-websocket-accept:");
            if (!acc || !strstr(acc, want.data))
                rc = FR_EPARSE;
            fr_buf_free(&src);
            fr_buf_free(&want);
        }
    }
    fr_buf_free(&resp);
    fr_buf_free(&key);
    return rc;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int fr_cli_follow(const fr_cli *c, unsigned long long since, fr_cli_event_fn fn, void *arg, long timeout_ms)
{
    char host[256], port[16] = "80", hostport[300];
    const char *u = c->url;
    if (strncmp(u, "http://", 7) == 0)
        u += 7;
    else if (strncmp(u, "https://", 8) == 0) {
        fprintf(stderr, "frugal: following the feed over https is not supported; use the local http address\n");
        return -ENOTSUP;
    }
    size_t hl = strcspn(u, "/");
    fr_strlcpy(hostport, u, hl + 1 < sizeof(hostport) ? hl + 1 : sizeof(hostport));
    const char *colon = strrchr(hostport, ':');
    if (colon && !strchr(colon, ']')) {
        size_t n = (size_t)(colon - hostport);
        memcpy(host, hostport, n);
        host[n] = '\0';
        fr_strlcpy(port, colon + 1, sizeof(port));
    } else {
        fr_strlcpy(host, hostport, sizeof(host));
    }
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    struct wsconn w = {.fd = -1, .fn = fn, .arg = arg, .last_seq = since};
    int attempts = 0, rc = 0;
    while (!w.stop) {
        if (deadline && now_ms() >= deadline)
            return -ETIMEDOUT;
        w.fd = connect_to(host, port);
        if (w.fd < 0 || (rc = handshake(&w, c, hostport, w.last_seq)) != 0) {
            if (w.fd >= 0)
                close(w.fd);
            fr_buf_free(&w.pre);
            if (rc == FR_EDENIED || ++attempts > 30)
                return rc ? rc : w.fd;
            usleep((useconds_t)(attempts < 10 ? 200000 * attempts : 2000000));
            continue;
        }
        attempts = 0;
        fcntl(w.fd, F_SETFL, fcntl(w.fd, F_GETFL) | O_NONBLOCK);
        struct wslay_event_callbacks cbs = {recv_cb, send_cb, genmask_cb, NULL, NULL, NULL, on_msg};
        wslay_event_context_ptr ctx;
        wslay_event_context_client_init(&ctx, &cbs, &w);
        while (!w.stop) {
            if (w.pre.len && wslay_event_recv(ctx) != 0)
                break;
            struct pollfd p = {w.fd, POLLIN, 0};
            if (wslay_event_want_write(ctx))
                p.events |= POLLOUT;
            long wait = 1000;
            if (deadline) {
                long left = deadline - now_ms();
                if (left <= 0)
                    break;
                if (left < wait)
                    wait = left;
            }
            int pr = poll(&p, 1, (int)wait);
            if (pr < 0 && errno != EINTR)
                break;
            if (pr > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(ctx) != 0)
                break;
            if (pr > 0 && (p.revents & POLLOUT) && wslay_event_send(ctx) != 0)
                break;
            if (!wslay_event_want_read(ctx))
                break;
        }
        wslay_event_context_free(ctx);
        close(w.fd);
        w.fd = -1;
        fr_buf_free(&w.pre);
        if (deadline && now_ms() >= deadline && !w.stop)
            return -ETIMEDOUT;
    }
    return w.bad_frame ? FR_EPARSE : 0;
}

const char *fr_cli_follow_strerror(int rc)
{
    if (rc == FR_EPARSE)
        return "the server sent a malformed handshake or a frame that is not a JSON event";
    return fr_strerror(rc);
}
