/*
 * sl-tls-bench -- TLS load for sluice's benchmarks.
 *
 * One thread, one epoll loop, non-blocking sockets and OpenSSL. Modes:
 *
 *   handshake  CONNS slots, each: connect, full handshake, send "ping\n",
 *              read 5 bytes back, close (close_notify sent, not awaited),
 *              repeat; handshakes/s.
 *   resume     the same, but every connection offers the session of the
 *              first one (a ticket, or with -T a session id from the
 *              server's cache); handshakes/s and how many were resumed.
 *   bulk       CONNS connections each keep one message of SIZE bytes in
 *              flight to an echo server and check that the same bytes
 *              come back; MB/s each way.
 *
 * The 5-byte round trip in handshake and resume makes the client process
 * the server's NewSessionTicket (TLS 1.3 sends it after the handshake) and
 * works with an echo server and with `openssl s_server -rev` alike.
 *
 * Prints one line of key=value pairs: the measured counts and rates, the
 * client's own CPU seconds, and `total`, the handshakes (or bulk bytes)
 * of the whole run with its warm-up, by which a script divides the
 * server's CPU time.
 * Loopback addresses only. See bench/README.md.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define TB_MAX_CONNS  4096
#define TB_MAX_SIZE   (4 * 1024 * 1024)
#define TB_PING       "ping\n"
#define TB_PING_LEN   5

enum { TB_HANDSHAKE, TB_RESUME, TB_BULK };
enum { TB_IDLE, TB_CONNECTING, TB_HANDSHAKING, TB_TALKING };

typedef struct {
    int        fd;
    int        state;
    SSL       *ssl;
    size_t     tx;          /* bytes of the current message sent */
    size_t     rx;          /* bytes of its echo received */
    uint64_t   round;       /* bulk: the message number, for the pattern */
} tb_conn_t;

typedef struct {
    int                  mode;
    unsigned             nconns;
    size_t               size;
    double               duration;
    double               warmup;
    int                  version;        /* TLS1_2_VERSION, ..., 0: any */
    int                  no_tickets;
    struct sockaddr_in   addr;

    SSL_CTX             *ctx;
    SSL_SESSION         *session;        /* resume: the one to offer */
    int                  ep;
    tb_conn_t           *conns;
    unsigned char       *pattern;        /* 2 * size bytes */
    unsigned char       *buf;

    int                  measuring;
    uint64_t             handshakes;
    uint64_t             resumed;
    uint64_t             bytes;
    uint64_t             errors;
    uint64_t             total;          /* with the warm-up: server CPU */
} tb_ctx_t;

static double
tb_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double
tb_cpu(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
tb_usage(void)
{
    fprintf(stderr,
        "usage: sl-tls-bench [-m handshake|resume|bulk] [-c CONNS] "
        "[-s SIZE]\n"
        "         [-d SECONDS] [-w WARMUP] [-V 1.2|1.3] [-T] "
        "127.0.0.1:PORT\n"
        "  -T   resume through the server's session cache, not tickets\n");
}

/* a new session (ticket or id) from the server: offer the latest */
static int
tb_new_session(SSL *ssl, SSL_SESSION *sess)
{
    tb_ctx_t  *ctx = SSL_get_app_data(ssl);

    SSL_SESSION_free(ctx->session);
    ctx->session = sess;
    return 1;           /* we keep the reference */
}

static void
tb_close(tb_ctx_t *ctx, tb_conn_t *c, int failed)
{
    if (c->ssl != NULL) {
        if (!failed) {
            (void) SSL_shutdown(c->ssl);
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }

    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }

    if (failed && ctx->measuring) {
        ctx->errors++;
    }

    c->state = TB_IDLE;
}

static int
tb_open(tb_ctx_t *ctx, tb_conn_t *c)
{
    struct epoll_event  ee;
    int                 one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd == -1) {
        perror("socket");
        return -1;
    }

    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (connect(c->fd, (struct sockaddr *) &ctx->addr, sizeof(ctx->addr))
        == -1 && errno != EINPROGRESS)
    {
        tb_close(ctx, c, 1);
        return 0;
    }

    c->ssl = SSL_new(ctx->ctx);
    if (c->ssl == NULL) {
        return -1;
    }

    SSL_set_app_data(c->ssl, ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_connect_state(c->ssl);

    if (ctx->mode == TB_RESUME && ctx->session != NULL) {
        SSL_set_session(c->ssl, ctx->session);
    }

    c->state = TB_CONNECTING;
    c->tx = 0;
    c->rx = 0;

    ee.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ee.data.ptr = c;
    if (epoll_ctl(ctx->ep, EPOLL_CTL_ADD, c->fd, &ee) == -1) {
        perror("epoll_ctl");
        return -1;
    }

    return 0;
}

/* what to send now: the ping, or the bulk message of this round */
static const unsigned char *
tb_message(tb_ctx_t *ctx, tb_conn_t *c, size_t *len)
{
    if (ctx->mode != TB_BULK) {
        *len = TB_PING_LEN;
        return (const unsigned char *) TB_PING;
    }

    *len = ctx->size;
    return ctx->pattern + (c->round * 7919) % ctx->size;
}

/* 1: progress may continue, 0: wait for the socket, -1: the conn failed */
static int
tb_ssl_result(SSL *ssl, int n)
{
    switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    default:
        ERR_clear_error();
        return -1;
    }
}

static int
tb_talk(tb_ctx_t *ctx, tb_conn_t *c)
{
    const unsigned char  *msg;
    size_t                len;
    int                   n;

    msg = tb_message(ctx, c, &len);

    for ( ;; ) {
        while (c->tx < len) {
            n = SSL_write(c->ssl, msg + c->tx, (int) (len - c->tx));
            if (n <= 0) {
                n = tb_ssl_result(c->ssl, n);
                if (n < 0) {
                    return -1;
                }
                break;
            }
            c->tx += (size_t) n;
        }

        n = SSL_read(c->ssl, ctx->buf, (int) (len - c->rx));
        if (n <= 0) {
            return tb_ssl_result(c->ssl, n);
        }

        if (ctx->mode == TB_BULK
            && memcmp(ctx->buf, msg + c->rx, (size_t) n) != 0)
        {
            fprintf(stderr, "sl-tls-bench: echoed bytes differ\n");
            return -1;
        }

        c->rx += (size_t) n;
        if (c->rx < len) {
            continue;
        }

        ctx->total += ctx->mode == TB_BULK ? len : 1;

        if (ctx->mode != TB_BULK) {
            if (ctx->measuring) {
                ctx->handshakes++;
                ctx->resumed += SSL_session_reused(c->ssl) ? 1 : 0;
            }
            tb_close(ctx, c, 0);
            return 1;
        }

        if (ctx->measuring) {
            ctx->bytes += len;
        }
        c->round++;
        c->tx = 0;
        c->rx = 0;
        msg = tb_message(ctx, c, &len);
    }
}

static int
tb_event(tb_ctx_t *ctx, tb_conn_t *c)
{
    int  n, err;
    socklen_t  len = sizeof(err);

    if (c->state == TB_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1
            || err != 0)
        {
            tb_close(ctx, c, 1);
            return 0;
        }
        c->state = TB_HANDSHAKING;
    }

    if (c->state == TB_HANDSHAKING) {
        n = SSL_do_handshake(c->ssl);
        if (n != 1) {
            if (tb_ssl_result(c->ssl, n) < 0) {
                tb_close(ctx, c, 1);
            }
            return 0;
        }
        c->state = TB_TALKING;
    }

    if (tb_talk(ctx, c) < 0) {
        tb_close(ctx, c, 1);
    }

    return 0;
}

static int
tb_run(tb_ctx_t *ctx)
{
    struct epoll_event  events[256];
    double              start, end, now, cpu0 = 0, t0 = 0, cpu;
    unsigned            i;
    int                 n, k;

    start = tb_now();
    end = start + ctx->warmup + ctx->duration;

    for ( ;; ) {
        now = tb_now();

        if (!ctx->measuring && now >= start + ctx->warmup) {
            ctx->measuring = 1;
            t0 = now;
            cpu0 = tb_cpu();
        }

        if (now >= end) {
            break;
        }

        for (i = 0; i < ctx->nconns; i++) {
            if (ctx->conns[i].state == TB_IDLE
                && tb_open(ctx, &ctx->conns[i]) != 0)
            {
                return -1;
            }
        }

        n = epoll_wait(ctx->ep, events, 256, 100);
        if (n == -1 && errno != EINTR) {
            perror("epoll_wait");
            return -1;
        }

        for (k = 0; k < n; k++) {
            (void) tb_event(ctx, events[k].data.ptr);
        }
    }

    cpu = tb_cpu() - cpu0;
    now = tb_now() - t0;

    printf("mode=%s conns=%u secs=%.3f handshakes=%llu resumed=%llu "
           "bytes=%llu errors=%llu rate=%.1f mbps=%.1f client_cpu=%.3f "
           "total=%llu\n",
           ctx->mode == TB_BULK ? "bulk"
           : ctx->mode == TB_RESUME ? "resume" : "handshake",
           ctx->nconns, now, (unsigned long long) ctx->handshakes,
           (unsigned long long) ctx->resumed,
           (unsigned long long) ctx->bytes,
           (unsigned long long) ctx->errors,
           (double) ctx->handshakes / now,
           (double) ctx->bytes / now / 1e6, cpu,
           (unsigned long long) ctx->total);

    return 0;
}

static int
tb_addr(tb_ctx_t *ctx, const char *s)
{
    char        host[64];
    const char *colon = strrchr(s, ':');
    size_t      len;

    if (colon == NULL || (len = (size_t) (colon - s)) >= sizeof(host)) {
        return -1;
    }

    memcpy(host, s, len);
    host[len] = '\0';

    ctx->addr.sin_family = AF_INET;
    ctx->addr.sin_port = htons((uint16_t) atoi(colon + 1));

    if (inet_pton(AF_INET, host, &ctx->addr.sin_addr) != 1
        || (ntohl(ctx->addr.sin_addr.s_addr) >> 24) != 127)
    {
        fprintf(stderr, "sl-tls-bench: a 127.x.x.x address only\n");
        return -1;
    }

    return 0;
}

static int
tb_args(tb_ctx_t *ctx, int argc, char **argv)
{
    int  opt;

    while ((opt = getopt(argc, argv, "m:c:s:d:w:V:T")) != -1) {
        switch (opt) {
        case 'm':
            ctx->mode = strcmp(optarg, "bulk") == 0 ? TB_BULK
                        : strcmp(optarg, "resume") == 0 ? TB_RESUME
                        : strcmp(optarg, "handshake") == 0 ? TB_HANDSHAKE
                        : -1;
            if (ctx->mode < 0) {
                return -1;
            }
            break;
        case 'c':
            ctx->nconns = (unsigned) atoi(optarg);
            break;
        case 's':
            ctx->size = (size_t) atol(optarg);
            break;
        case 'd':
            ctx->duration = atof(optarg);
            break;
        case 'w':
            ctx->warmup = atof(optarg);
            break;
        case 'V':
            ctx->version = strcmp(optarg, "1.2") == 0 ? TLS1_2_VERSION
                           : strcmp(optarg, "1.3") == 0 ? TLS1_3_VERSION
                           : -1;
            if (ctx->version < 0) {
                return -1;
            }
            break;
        case 'T':
            ctx->no_tickets = 1;
            break;
        default:
            return -1;
        }
    }

    if (optind != argc - 1 || ctx->nconns == 0
        || ctx->nconns > TB_MAX_CONNS || ctx->size == 0
        || ctx->size > TB_MAX_SIZE || ctx->duration <= 0)
    {
        return -1;
    }

    return tb_addr(ctx, argv[optind]);
}

static int
tb_setup(tb_ctx_t *ctx)
{
    size_t  i;

    ctx->ctx = SSL_CTX_new(TLS_client_method());
    if (ctx->ctx == NULL) {
        return -1;
    }

    if (ctx->version != 0) {
        SSL_CTX_set_min_proto_version(ctx->ctx, ctx->version);
        SSL_CTX_set_max_proto_version(ctx->ctx, ctx->version);
    }

    if (ctx->no_tickets) {
        SSL_CTX_set_options(ctx->ctx, SSL_OP_NO_TICKET);
    }

    /* the benchmark measures the server; a test certificate is fine */
    SSL_CTX_set_verify(ctx->ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx->ctx, SSL_SESS_CACHE_CLIENT
                                   | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx->ctx, tb_new_session);

    ctx->conns = calloc(ctx->nconns, sizeof(tb_conn_t));
    ctx->pattern = malloc(ctx->size * 2);
    ctx->buf = malloc(ctx->size);
    ctx->ep = epoll_create1(EPOLL_CLOEXEC);

    if (ctx->conns == NULL || ctx->pattern == NULL || ctx->buf == NULL
        || ctx->ep == -1)
    {
        return -1;
    }

    for (i = 0; i < ctx->size * 2; i++) {
        ctx->pattern[i] = (unsigned char) (i * 131 + (i >> 9));
    }

    for (i = 0; i < ctx->nconns; i++) {
        ctx->conns[i].fd = -1;
    }

    return 0;
}

int
main(int argc, char **argv)
{
    tb_ctx_t  ctx;
    unsigned  i;
    int       rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.nconns = 16;
    ctx.size = 16384;
    ctx.duration = 5;
    ctx.warmup = 1;

    if (tb_args(&ctx, argc, argv) != 0) {
        tb_usage();
        return 64;
    }

    if (tb_setup(&ctx) != 0) {
        fprintf(stderr, "sl-tls-bench: setup failed\n");
        return 3;
    }

    rc = tb_run(&ctx) == 0 ? 0 : 3;
    ctx.measuring = 0;          /* what is cut off at the end is no error */

    for (i = 0; i < ctx.nconns; i++) {
        tb_close(&ctx, &ctx.conns[i], 1);
    }

    SSL_SESSION_free(ctx.session);
    SSL_CTX_free(ctx.ctx);
    free(ctx.conns);
    free(ctx.pattern);
    free(ctx.buf);
    close(ctx.ep);

    if (rc == 0 && ctx.errors > 0) {
        rc = 2;
    }

    return rc;
}
