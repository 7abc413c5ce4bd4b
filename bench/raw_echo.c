/*
 * raw_echo -- the smallest single-threaded epoll echo server we could
 * write: the ceiling sluice's echo module is compared with.
 *
 *   raw_echo [-X KIND:OFFSET] PORT
 *
 * Listens on 127.0.0.1:PORT (SO_REUSEADDR). Each connection gets one
 * buffer at accept and is registered once, edge-triggered, for reading
 * and writing. What was read is written back; while some of it is
 * unsent the connection reads nothing more (backpressure) and waits for
 * the next EPOLLOUT edge. A short read means the socket is drained, as
 * in nginx, unless EPOLLRDHUP said an end of stream is waiting.
 *
 * -X injects one fault per connection, at byte OFFSET of the stream it
 * echoes (0 is the first byte): flip (xor 1), drop, dup, or close. It is
 * how sl-bench's verification is tested.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RE_BUF_SIZE    (16 * 1024)
#define RE_MAX_EVENTS  512

enum { RE_NONE, RE_FLIP, RE_DROP, RE_DUP, RE_CLOSE };

typedef struct {
    int            fd;
    bool           rready;
    bool           rdhup;
    size_t         off;
    size_t         len;
    uint64_t       seen;
    unsigned char  buf[RE_BUF_SIZE];
} re_conn_t;

typedef struct {
    int            ep;
    int            lfd;
    int            fault;
    uint64_t       fault_at;
} re_ctx_t;


static void
re_close(re_conn_t *c)
{
    close(c->fd);
    free(c);
}


/* 1: all sent, 0: the socket is full, -1: error */
static int
re_flush(re_conn_t *c)
{
    ssize_t  n;

    while (c->off < c->len) {
        n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->off += (size_t) n;
        if (c->off < c->len) {
            return 0;
        }
    }
    c->off = c->len = 0;
    return 1;
}


/* apply -X to the n bytes just read; returns how many to echo, -1: close */
static ssize_t
re_fault(const re_ctx_t *ctx, re_conn_t *c, size_t n)
{
    uint64_t  at = ctx->fault_at;
    size_t    i;

    c->seen += n;
    if (ctx->fault == RE_NONE || at < c->seen - n || at >= c->seen) {
        return (ssize_t) n;
    }
    i = (size_t) (at - (c->seen - n));
    switch (ctx->fault) {
    case RE_FLIP:
        c->buf[i] ^= 0x01;
        break;
    case RE_DROP:
        memmove(c->buf + i, c->buf + i + 1, n - i - 1);
        n--;
        break;
    case RE_DUP:
        memmove(c->buf + i + 1, c->buf + i, n - i);
        n++;
        break;
    default:
        return -1;
    }
    return (ssize_t) n;
}


/* 1: echo what was read, 0: wait for an event, -1: close */
static int
re_read(const re_ctx_t *ctx, re_conn_t *c)
{
    size_t   cap = ctx->fault == RE_DUP ? RE_BUF_SIZE - 1 : RE_BUF_SIZE;
    ssize_t  n;

    for (;;) {
        n = recv(c->fd, c->buf, cap, 0);
        if (n > 0) {
            if ((size_t) n < cap && !c->rdhup) {
                c->rready = false;
            }
            n = re_fault(ctx, c, (size_t) n);
            c->off = 0;
            c->len = n > 0 ? (size_t) n : 0;
            return n < 0 ? -1 : 1;
        }
        if (n == 0) {
            return -1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->rready = false;
            return 0;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}


static void
re_handle(const re_ctx_t *ctx, re_conn_t *c, uint32_t events)
{
    int  rc = 0;

    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        c->rdhup = true;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        c->rready = true;
    }
    for (;;) {
        if (c->off < c->len) {
            rc = re_flush(c);
            if (rc <= 0) {
                break;
            }
        }
        if (!c->rready) {
            return;
        }
        rc = re_read(ctx, c);
        if (rc <= 0) {
            break;
        }
    }
    if (rc < 0) {
        re_close(c);
    }
}


static void
re_accept(const re_ctx_t *ctx)
{
    struct epoll_event  ev;
    re_conn_t          *c;
    int                 fd, one = 1;

    for (;;) {
        fd = accept4(ctx->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                perror("raw_echo: accept4");
            }
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = malloc(sizeof(re_conn_t));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->rready = c->rdhup = false;
        c->off = c->len = 0;
        c->seen = 0;
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(ctx->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            perror("raw_echo: epoll_ctl");
            re_close(c);
        }
    }
}


static int
re_listen(re_ctx_t *ctx, unsigned port)
{
    struct sockaddr_in  sin;
    struct epoll_event  ev;
    int                 one = 1;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ctx->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      0);
    ctx->ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = NULL;
    if (ctx->lfd < 0 || ctx->ep < 0
        || setsockopt(ctx->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
                      sizeof(one)) != 0
        || bind(ctx->lfd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(ctx->lfd, SOMAXCONN) != 0
        || epoll_ctl(ctx->ep, EPOLL_CTL_ADD, ctx->lfd, &ev) != 0)
    {
        perror("raw_echo: listen on 127.0.0.1");
        return -1;
    }
    return 0;
}


static int
re_fault_arg(re_ctx_t *ctx, const char *arg)
{
    static const char *kinds[] = { "", "flip:", "drop:", "dup:", "close:" };
    char               *end;
    size_t              len;
    int                 i;

    for (i = RE_FLIP; i <= RE_CLOSE; i++) {
        len = strlen(kinds[i]);
        if (strncmp(arg, kinds[i], len) == 0) {
            errno = 0;
            ctx->fault_at = strtoull(arg + len, &end, 10);
            ctx->fault = i;
            return errno == 0 && *end == '\0' && end != arg + len ? 0 : -1;
        }
    }
    return -1;
}


static int
re_args(re_ctx_t *ctx, int argc, char **argv, unsigned *port)
{
    unsigned long  v;
    char          *end;
    int            opt;

    while ((opt = getopt(argc, argv, "X:")) != -1) {
        if (opt != 'X' || re_fault_arg(ctx, optarg) != 0) {
            return -1;
        }
    }
    if (optind != argc - 1) {
        return -1;
    }
    errno = 0;
    v = strtoul(argv[optind], &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > 65535) {
        return -1;
    }
    *port = (unsigned) v;
    return 0;
}


static void
re_nofile(void)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}


int
main(int argc, char **argv)
{
    struct epoll_event  evs[RE_MAX_EVENTS];
    re_ctx_t            ctx = { .fault = RE_NONE };
    unsigned            port;
    int                 i, n;

    if (re_args(&ctx, argc, argv, &port) != 0) {
        fprintf(stderr, "usage: raw_echo [-X flip|drop|dup|close:OFFSET]"
                " PORT\n");
        return 64;
    }
    re_nofile();
    if (re_listen(&ctx, port) != 0) {
        return 1;
    }
    for (;;) {
        n = epoll_wait(ctx.ep, evs, RE_MAX_EVENTS, -1);
        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                re_accept(&ctx);
            } else {
                re_handle(&ctx, evs[i].data.ptr, evs[i].events);
            }
        }
        if (n < 0 && errno != EINTR) {
            perror("raw_echo: epoll_wait");
            return 1;
        }
    }
}
