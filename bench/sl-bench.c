/*
 * sl-bench -- sluice's load generator.
 *
 * One thread, one edge-triggered epoll loop, non-blocking sockets. Three
 * modes:
 *
 *   echo     CONNS connections each keep DEPTH messages of SIZE bytes in
 *            flight; every echoed byte is checked; messages/s, MB/s each
 *            way, round-trip latency percentiles, errors, own CPU time.
 *   connect  CONNS concurrent slots, each: connect, send one message, read
 *            the echo, close, repeat; connections/s.
 *   idle     open CONNS connections (each sends one message and waits for
 *            its echo, unless -s 0), say so on stderr, hold them DURATION
 *            seconds so that the caller can look at the server's memory.
 *
 * Message image: 8 bytes sequence number, 4 bytes connection number, the
 * magic "slb1", then bytes of a pseudo-random pattern at an offset that
 * is a hash of (connection, sequence). A lost, duplicated, reordered or
 * corrupted byte changes what arrives where, and is reported.
 *
 * Only loopback addresses (127/8, ::1) and unix sockets are accepted
 * unless -A is given. See bench/README.md.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SB_HDR            16
#define SB_PAT_LEN        65536
#define SB_BUF_SIZE       (256 * 1024)
#define SB_MAX_EVENTS     512
#define SB_MAX_SIZE       (16 * 1024 * 1024)
#define SB_MAX_DEPTH      4096
#define SB_MAX_CONNS      1000000
#define SB_IDLE_INFLIGHT  256
#define SB_GRACE_NS       1000000000ull
#define SB_MAX_REPORTS    5
#define SB_FD_SPARE       32
#define SB_NS             1000000000ull

#define SB_HSUB_BITS      5
#define SB_HSUB           (1u << SB_HSUB_BITS)
#define SB_HBUCKETS       (SB_HSUB + (64 - SB_HSUB_BITS) * SB_HSUB)

#define SB_EX_VERIFY      1
#define SB_EX_ERRORS      2
#define SB_EX_SETUP       3
#define SB_EX_USAGE       64

enum { SB_ECHO, SB_CONNECT, SB_IDLE };

enum { SB_FREE, SB_CONNECTING, SB_ACTIVE, SB_DONE, SB_DEAD };

enum {
    SB_E_CONNECT,
    SB_E_RESET,
    SB_E_EOF,
    SB_E_VERIFY,
    SB_E_TIMEOUT,
    SB_E_N
};

static const char *sb_mode_name[] = { "echo", "connect", "idle" };
static const char *sb_err_name[] = {
    "connect", "reset", "eof", "verify", "timeout"
};

typedef struct {
    int        fd;
    int        state;
    bool       wready;
    bool       rdhup;
    uint32_t   id;
    uint64_t   tx_seq;      /* message being sent */
    size_t     tx_pos;      /* bytes of it already sent */
    uint64_t   rx_seq;      /* message being received */
    size_t     rx_pos;      /* bytes of it already received and checked */
    uint64_t   opened_at;
    uint64_t  *sent_at;     /* ring of DEPTH send times, by seq % depth */
} sb_conn_t;

typedef struct {
    uint64_t   msgs;
    uint64_t   conns;
    uint64_t   tx_bytes;
    uint64_t   rx_bytes;
    uint64_t   hist[SB_HBUCKETS];
} sb_stats_t;

typedef struct {
    /* options */
    int        mode;
    bool       json;
    bool       any_addr;
    unsigned   nconns;
    size_t     size;
    unsigned   depth;
    double     duration;
    double     warmup;
    double     setup;
    const char *addr_text;
    struct sockaddr_storage addr;
    socklen_t  addrlen;

    /* run time */
    int        ep;
    sb_conn_t *conns;
    uint64_t  *sent_at;
    unsigned  *free_slots;
    unsigned   nfree;
    uint8_t   *pattern;
    uint8_t   *buf;
    uint32_t   next_id;
    unsigned   opened;
    unsigned   pending;
    unsigned   established;
    unsigned   dead;
    unsigned   reports;
    bool       measuring;
    bool       measured;
    bool       draining;
    bool       holding;
    bool       done;
    uint64_t   now;
    uint64_t   t_start;
    uint64_t   t_measure;
    uint64_t   t_end;
    uint64_t   t_stop;
    uint64_t   t_grace;
    struct rusage ru0;
    struct rusage ru1;
    uint64_t   total_msgs;
    uint64_t   errors[SB_E_N];
    sb_stats_t st;
} sb_ctx_t;


static void
sb_usage(FILE *f)
{
    fprintf(f,
        "usage: sl-bench [-m echo|connect|idle] -a ADDR [-c CONNS]"
        " [-s BYTES] [-p DEPTH]\n"
        "                [-d SECS] [-w SECS] [-t SECS]"
        " [-o text|json] [-A]\n"
        "  -a ADDR   127.0.0.1:PORT, [::1]:PORT or unix:/path\n"
        "  -m MODE   echo (default), connect or idle\n"
        "  -c CONNS  connections (echo, idle) or concurrent slots"
        " (connect); 1\n"
        "  -s BYTES  message size; 64 (idle: 0 sends nothing)\n"
        "  -p DEPTH  messages in flight per connection (echo); 1\n"
        "  -d SECS   measured duration (idle: hold time); 5\n"
        "  -w SECS   warm-up, not counted (echo, connect); 1\n"
        "  -t SECS   idle: time allowed to establish all; 30\n"
        "  -o FMT    text (default) or json (one line on stdout)\n"
        "  -A        allow a non-loopback address (hosts you own only)\n"
        "exit: 0 ok, 1 verification errors, 2 other errors,"
        " 3 setup failure, 64 usage\n");
}


static uint64_t
sb_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * SB_NS + (uint64_t) ts.tv_nsec;
}


static double
sb_tv(const struct timeval *tv)
{
    return (double) tv->tv_sec + (double) tv->tv_usec / 1e6;
}


/* histogram: log-linear, 32 linear sub-buckets per power of two */

static unsigned
sb_hist_index(uint64_t v)
{
    unsigned  e, shift;

    if (v < SB_HSUB) {
        return (unsigned) v;
    }
    e = 63u - (unsigned) __builtin_clzll(v);
    shift = e - SB_HSUB_BITS;
    return SB_HSUB + shift * SB_HSUB + (unsigned) ((v >> shift) - SB_HSUB);
}


static uint64_t
sb_hist_value(unsigned idx)
{
    unsigned  k, shift;
    uint64_t  lower, width;

    if (idx < SB_HSUB) {
        return idx;
    }
    k = idx - SB_HSUB;
    shift = k / SB_HSUB;
    lower = (uint64_t) (SB_HSUB + k % SB_HSUB) << shift;
    width = (uint64_t) 1 << shift;
    return lower + width / 2;
}


static double
sb_hist_quantile(const uint64_t *hist, double q)
{
    uint64_t  total = 0, want, cum = 0;
    unsigned  i;

    for (i = 0; i < SB_HBUCKETS; i++) {
        total += hist[i];
    }
    if (total == 0) {
        return 0;
    }
    want = (uint64_t) (q * (double) total + 0.999999);
    if (want == 0) {
        want = 1;
    }
    for (i = 0; i < SB_HBUCKETS; i++) {
        cum += hist[i];
        if (cum >= want) {
            break;
        }
    }
    return (double) sb_hist_value(i) / 1e3;
}


/* message images */

static uint64_t
sb_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}


static const uint8_t *
sb_body(const sb_ctx_t *ctx, uint32_t id, uint64_t seq)
{
    return ctx->pattern + sb_mix(sb_mix(id + 1) ^ seq) % SB_PAT_LEN;
}


static void
sb_header(uint8_t *h, uint32_t id, uint64_t seq)
{
    int  i;

    for (i = 0; i < 8; i++) {
        h[i] = (uint8_t) (seq >> (8 * i));
    }
    for (i = 0; i < 4; i++) {
        h[8 + i] = (uint8_t) (id >> (8 * i));
    }
    memcpy(h + 12, "slb1", 4);
}


/* copy bytes [pos, pos + len) of message (id, seq) to dst */
static void
sb_msg_copy(const sb_ctx_t *ctx, uint32_t id, uint64_t seq, size_t pos,
    uint8_t *dst, size_t len)
{
    uint8_t  hdr[SB_HDR];
    size_t   n;

    if (pos < SB_HDR) {
        n = SB_HDR - pos < len ? SB_HDR - pos : len;
        sb_header(hdr, id, seq);
        memcpy(dst, hdr + pos, n);
        dst += n;
        pos += n;
        len -= n;
    }
    if (len > 0) {
        memcpy(dst, sb_body(ctx, id, seq) + (pos - SB_HDR), len);
    }
}


/* index of the first byte of src that differs from the image, or -1 */
static long
sb_msg_check(const sb_ctx_t *ctx, uint32_t id, uint64_t seq, size_t pos,
    const uint8_t *src, size_t len)
{
    uint8_t        hdr[SB_HDR];
    const uint8_t *body;
    size_t         i, n;

    if (pos < SB_HDR) {
        n = SB_HDR - pos < len ? SB_HDR - pos : len;
        sb_header(hdr, id, seq);
        for (i = 0; i < n; i++) {
            if (src[i] != hdr[pos + i]) {
                return (long) (pos + i);
            }
        }
        src += n;
        pos += n;
        len -= n;
    }
    if (len == 0) {
        return -1;
    }
    body = sb_body(ctx, id, seq) + (pos - SB_HDR);
    if (memcmp(src, body, len) == 0) {
        return -1;
    }
    for (i = 0; src[i] == body[i]; i++) {
        /* find the first difference */
    }
    return (long) (pos + i);
}


static void
sb_pattern_init(sb_ctx_t *ctx)
{
    uint64_t  x = 0x9e3779b97f4a7c15ull;
    size_t    i, len = SB_PAT_LEN + ctx->size;

    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ctx->pattern[i] = (uint8_t) (x >> 24);
    }
}


/* errors */

static void
sb_note(sb_ctx_t *ctx, sb_conn_t *c, int kind, const char *why)
{
    ctx->errors[kind]++;
    if (ctx->reports++ < SB_MAX_REPORTS) {
        fprintf(stderr, "sl-bench: conn %u: %s error: %s\n",
                c->id, sb_err_name[kind], why);
    } else if (ctx->reports == SB_MAX_REPORTS + 1) {
        fprintf(stderr, "sl-bench: further errors are only counted\n");
    }
}


static void
sb_release(sb_ctx_t *ctx, sb_conn_t *c, int state)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (ctx->mode == SB_CONNECT) {
        c->state = SB_FREE;
        ctx->free_slots[ctx->nfree++] = (unsigned) (c - ctx->conns);
        return;
    }
    c->state = state;
}


static void
sb_fail(sb_ctx_t *ctx, sb_conn_t *c, int kind, const char *why)
{
    bool  pending = c->state == SB_CONNECTING || c->state == SB_ACTIVE;

    sb_note(ctx, c, kind, why);
    sb_release(ctx, c, SB_DEAD);
    ctx->dead++;
    if (ctx->mode == SB_IDLE && pending) {
        ctx->pending--;
    }
    if (ctx->mode == SB_ECHO && !ctx->draining
        && ctx->dead == ctx->nconns)
    {
        fprintf(stderr, "sl-bench: every connection failed\n");
        ctx->done = true;
    }
}


static void
sb_fail_errno(sb_ctx_t *ctx, sb_conn_t *c, int kind, int err)
{
    sb_fail(ctx, c, kind, strerror(err));
}


/* sending */

static bool
sb_may_start(const sb_ctx_t *ctx, const sb_conn_t *c, uint64_t seq)
{
    if (ctx->draining || (ctx->mode != SB_ECHO && seq >= 1)) {
        return false;
    }
    return seq < c->rx_seq + ctx->depth;
}


static size_t
sb_tx_fill(const sb_ctx_t *ctx, const sb_conn_t *c, uint8_t *dst,
    size_t cap)
{
    uint64_t  seq = c->tx_seq;
    size_t    pos = c->tx_pos, len = 0, n;

    while (len < cap && (pos > 0 || sb_may_start(ctx, c, seq))) {
        n = ctx->size - pos < cap - len ? ctx->size - pos : cap - len;
        sb_msg_copy(ctx, c->id, seq, pos, dst + len, n);
        len += n;
        pos += n;
        if (pos == ctx->size) {
            seq++;
            pos = 0;
        }
    }
    return len;
}


static void
sb_tx_commit(sb_ctx_t *ctx, sb_conn_t *c, size_t n)
{
    size_t  k;

    if (ctx->measuring) {
        ctx->st.tx_bytes += n;
    }
    while (n > 0) {
        if (c->tx_pos == 0) {
            c->sent_at[c->tx_seq % ctx->depth] = ctx->now;
        }
        k = ctx->size - c->tx_pos < n ? ctx->size - c->tx_pos : n;
        c->tx_pos += k;
        n -= k;
        if (c->tx_pos == ctx->size) {
            c->tx_seq++;
            c->tx_pos = 0;
        }
    }
}


static void
sb_write(sb_ctx_t *ctx, sb_conn_t *c)
{
    size_t   len;
    ssize_t  n;

    while (c->state == SB_ACTIVE && c->wready) {
        len = sb_tx_fill(ctx, c, ctx->buf, SB_BUF_SIZE);
        if (len == 0) {
            return;
        }
        ctx->now = sb_clock();
        n = send(c->fd, ctx->buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->wready = false;
                return;
            }
            sb_fail_errno(ctx, c, SB_E_RESET, errno);
            return;
        }
        sb_tx_commit(ctx, c, (size_t) n);
        if ((size_t) n < len) {
            c->wready = false;
        }
    }
}


/* receiving */

static void
sb_msg_done(sb_ctx_t *ctx, sb_conn_t *c)
{
    uint64_t  lat = ctx->now - c->sent_at[c->rx_seq % ctx->depth];

    c->rx_seq++;
    c->rx_pos = 0;
    ctx->total_msgs++;
    if (!ctx->measuring) {
        return;
    }
    ctx->st.msgs++;
    if (ctx->mode == SB_ECHO) {
        ctx->st.hist[sb_hist_index(lat)]++;
    }
}


static void
sb_rx_excess(sb_ctx_t *ctx, sb_conn_t *c, size_t extra)
{
    char  why[160];

    snprintf(why, sizeof(why),
             "%zu bytes more than were sent (at message %llu byte %zu)",
             extra, (unsigned long long) c->rx_seq, c->rx_pos);
    sb_fail(ctx, c, SB_E_VERIFY, why);
}


static void
sb_rx_mismatch(sb_ctx_t *ctx, sb_conn_t *c, size_t at, uint8_t got)
{
    uint8_t  exp;
    char     why[160];

    sb_msg_copy(ctx, c->id, c->rx_seq, at, &exp, 1);
    snprintf(why, sizeof(why),
             "message %llu byte %zu: expected 0x%02x, got 0x%02x",
             (unsigned long long) c->rx_seq, at, exp, got);
    sb_fail(ctx, c, SB_E_VERIFY, why);
}


/* check n received bytes; -1 when the connection was closed */
static int
sb_rx(sb_ctx_t *ctx, sb_conn_t *c, const uint8_t *p, size_t n)
{
    uint64_t  due = (c->tx_seq - c->rx_seq) * ctx->size
                    + c->tx_pos - c->rx_pos;
    size_t    k, extra = 0;
    long      bad;

    if (n > due) {
        extra = n - (size_t) due;
        n = (size_t) due;
    }
    if (ctx->measuring) {
        ctx->st.rx_bytes += n;
    }
    while (n > 0) {
        k = ctx->size - c->rx_pos < n ? ctx->size - c->rx_pos : n;
        bad = sb_msg_check(ctx, c->id, c->rx_seq, c->rx_pos, p, k);
        if (bad >= 0) {
            sb_rx_mismatch(ctx, c, (size_t) bad, p[(size_t) bad - c->rx_pos]);
            return -1;
        }
        c->rx_pos += k;
        p += k;
        n -= k;
        if (c->rx_pos == ctx->size) {
            sb_msg_done(ctx, c);
        }
    }
    if (extra > 0) {
        sb_rx_excess(ctx, c, extra);
        return -1;
    }
    return 0;
}


/* the connection has done what connect and idle modes ask of it */
static void
sb_complete(sb_ctx_t *ctx, sb_conn_t *c)
{
    if (ctx->mode == SB_IDLE) {
        c->state = SB_DONE;
        ctx->established++;
        ctx->pending--;
        return;
    }
    if (ctx->measuring) {
        ctx->st.conns++;
        ctx->st.hist[sb_hist_index(ctx->now - c->opened_at)]++;
    }
    sb_release(ctx, c, SB_FREE);
}


static void
sb_read(sb_ctx_t *ctx, sb_conn_t *c)
{
    ssize_t  n;

    while (c->state == SB_ACTIVE || c->state == SB_DONE) {
        n = recv(c->fd, ctx->buf, SB_BUF_SIZE, 0);
        if (n > 0) {
            ctx->now = sb_clock();
            if (sb_rx(ctx, c, ctx->buf, (size_t) n) != 0) {
                return;
            }
            if (ctx->mode != SB_ECHO && c->rx_seq == 1
                && c->state == SB_ACTIVE)
            {
                sb_complete(ctx, c);
            }
            if ((size_t) n < SB_BUF_SIZE && !c->rdhup) {
                return;
            }
            continue;
        }
        if (n == 0) {
            sb_fail(ctx, c, SB_E_EOF, "connection closed by the server");
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        if (errno != EINTR) {
            sb_fail_errno(ctx, c, SB_E_RESET, errno);
            return;
        }
    }
}


/* connections */

static int
sb_connected(sb_ctx_t *ctx, sb_conn_t *c, uint32_t ev)
{
    int        err = 0;
    socklen_t  len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err != 0) {
        sb_fail_errno(ctx, c, SB_E_CONNECT, err);
        return -1;
    }
    if (!(ev & EPOLLOUT)) {
        return -1;
    }
    c->state = SB_ACTIVE;
    if (ctx->mode == SB_IDLE && ctx->size == 0) {
        sb_complete(ctx, c);
    }
    return 0;
}


static void
sb_event(sb_ctx_t *ctx, sb_conn_t *c, uint32_t ev)
{
    if (c->state == SB_FREE || c->state == SB_DEAD) {
        return;
    }
    if (c->state == SB_CONNECTING && sb_connected(ctx, c, ev) != 0) {
        return;
    }
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        c->rdhup = true;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        sb_read(ctx, c);
    }
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        c->wready = true;
    }
    sb_write(ctx, c);
}


static void
sb_open(sb_ctx_t *ctx, sb_conn_t *c)
{
    struct epoll_event  ev;
    int                 one = 1, fd;

    c->id = ctx->next_id++;
    c->tx_seq = c->rx_seq = 0;
    c->tx_pos = c->rx_pos = 0;
    c->wready = c->rdhup = false;
    c->opened_at = ctx->now;
    c->state = SB_CONNECTING;
    fd = socket(ctx->addr.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->fd = fd;
    if (fd < 0) {
        sb_fail_errno(ctx, c, SB_E_CONNECT, errno);
        return;
    }
    if (ctx->addr.ss_family != AF_UNIX) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(ctx->ep, EPOLL_CTL_ADD, fd, &ev) != 0
        || (connect(fd, (struct sockaddr *) &ctx->addr, ctx->addrlen) != 0
            && errno != EINPROGRESS))
    {
        sb_fail_errno(ctx, c, SB_E_CONNECT, errno);
    }
}


/* phases */

static void
sb_measure_start(sb_ctx_t *ctx)
{
    ctx->measuring = ctx->measured = true;
    ctx->t_measure = ctx->now;
    getrusage(RUSAGE_SELF, &ctx->ru0);
}


static void
sb_measure_stop(sb_ctx_t *ctx)
{
    if (ctx->t_stop != 0) {
        return;
    }
    ctx->measuring = false;
    ctx->t_stop = ctx->now;
    getrusage(RUSAGE_SELF, &ctx->ru1);
}


/* stop starting messages; wait a little for the echoes still due */
static void
sb_drain_start(sb_ctx_t *ctx)
{
    sb_measure_stop(ctx);
    ctx->draining = true;
    ctx->t_grace = ctx->now + SB_GRACE_NS;
}


static bool
sb_in_flight(const sb_conn_t *c)
{
    return c->state == SB_CONNECTING
           || (c->state == SB_ACTIVE
               && (c->tx_seq != c->rx_seq || c->tx_pos != c->rx_pos));
}


static bool
sb_quiet(const sb_ctx_t *ctx)
{
    unsigned  i;

    for (i = 0; i < ctx->nconns; i++) {
        if (sb_in_flight(&ctx->conns[i])) {
            return false;
        }
    }
    return true;
}


static void
sb_idle_ready(sb_ctx_t *ctx)
{
    fprintf(stderr, "sl-bench: established %u of %u connections\n",
            ctx->established, ctx->nconns);
    fflush(stderr);
    ctx->holding = true;
    ctx->t_end = ctx->now + (uint64_t) (ctx->duration * SB_NS);
}


static void
sb_idle_tick(sb_ctx_t *ctx)
{
    while (!ctx->holding && ctx->pending < SB_IDLE_INFLIGHT
           && ctx->opened < ctx->nconns)
    {
        ctx->pending++;
        sb_open(ctx, &ctx->conns[ctx->opened++]);
    }
    if (!ctx->holding && ctx->opened == ctx->nconns && ctx->pending == 0) {
        sb_idle_ready(ctx);
        return;
    }
    if (!ctx->holding && ctx->now >= ctx->t_end) {
        fprintf(stderr, "sl-bench: only %u of %u connections established"
                " within %g s\n", ctx->established, ctx->nconns, ctx->setup);
        ctx->errors[SB_E_TIMEOUT] += ctx->pending
                                     + (ctx->nconns - ctx->opened);
        ctx->done = true;
    }
}


static void
sb_load_tick(sb_ctx_t *ctx)
{
    unsigned  n;

    if (!ctx->measured && ctx->now >= ctx->t_measure) {
        sb_measure_start(ctx);
    }
    if (!ctx->draining && ctx->now >= ctx->t_end) {
        sb_drain_start(ctx);
    }
    if (ctx->draining) {
        ctx->done = ctx->now >= ctx->t_grace || sb_quiet(ctx);
        return;
    }
    for (n = ctx->nfree; !ctx->done && n > 0; n--) {
        sb_open(ctx, &ctx->conns[ctx->free_slots[--ctx->nfree]]);
    }
}


static void
sb_tick(sb_ctx_t *ctx)
{
    ctx->now = sb_clock();
    if (ctx->mode != SB_IDLE) {
        sb_load_tick(ctx);
        return;
    }
    sb_idle_tick(ctx);
    if (ctx->holding && ctx->now >= ctx->t_end) {
        ctx->done = true;
    }
}


static int
sb_timeout_ms(const sb_ctx_t *ctx)
{
    uint64_t  next = ctx->t_end;

    if (ctx->draining) {
        next = ctx->t_grace;
    } else if (ctx->nfree > 0) {
        return 1;
    } else if (ctx->mode != SB_IDLE && !ctx->measured) {
        next = ctx->t_measure;
    }
    if (next <= ctx->now) {
        return 0;
    }
    next = (next - ctx->now + 999999) / 1000000;
    return next > 1000 ? 1000 : (int) next;
}


static void
sb_loop(sb_ctx_t *ctx)
{
    struct epoll_event  evs[SB_MAX_EVENTS];
    int                 i, n;

    sb_tick(ctx);
    while (!ctx->done) {
        n = epoll_wait(ctx->ep, evs, SB_MAX_EVENTS, sb_timeout_ms(ctx));
        if (n < 0 && errno != EINTR) {
            perror("sl-bench: epoll_wait");
            ctx->done = true;
            break;
        }
        for (i = 0; i < n; i++) {
            sb_event(ctx, evs[i].data.ptr, evs[i].events);
        }
        sb_tick(ctx);
    }
    sb_measure_stop(ctx);
}


/* after the grace: whatever is still in flight was lost */
static void
sb_check_stalls(sb_ctx_t *ctx)
{
    unsigned   i;
    sb_conn_t *c;
    char       why[160];
    uint64_t   since;

    for (i = 0; i < ctx->nconns; i++) {
        c = &ctx->conns[i];
        if (!sb_in_flight(c)) {
            continue;
        }
        since = c->state == SB_CONNECTING
                ? c->opened_at : c->sent_at[c->rx_seq % ctx->depth];
        snprintf(why, sizeof(why), "%s for %.1f s (message %llu byte %zu)",
                 c->state == SB_CONNECTING ? "connecting" : "no echo",
                 (double) (ctx->now - since) / 1e9,
                 (unsigned long long) c->rx_seq, c->rx_pos);
        sb_fail(ctx, c, SB_E_TIMEOUT, why);
    }
}


static void
sb_close_all(sb_ctx_t *ctx)
{
    unsigned  i;

    for (i = 0; i < ctx->nconns; i++) {
        if (ctx->conns[i].fd >= 0) {
            close(ctx->conns[i].fd);
            ctx->conns[i].fd = -1;
        }
    }
    close(ctx->ep);
}


/* results */

typedef struct {
    double    secs;
    double    cpu;
    double    cpu_user;
    double    cpu_sys;
    uint64_t  errors;
} sb_sum_t;


static void
sb_summarize(const sb_ctx_t *ctx, sb_sum_t *s)
{
    unsigned  i;
    uint64_t  t0 = ctx->mode == SB_IDLE ? ctx->t_start : ctx->t_measure;
    const struct rusage *r0 = &ctx->ru0;

    s->secs = ctx->measured || ctx->mode == SB_IDLE
              ? (double) (ctx->t_stop - t0) / 1e9 : 0;
    s->cpu_user = sb_tv(&ctx->ru1.ru_utime) - sb_tv(&r0->ru_utime);
    s->cpu_sys = sb_tv(&ctx->ru1.ru_stime) - sb_tv(&r0->ru_stime);
    s->cpu = s->cpu_user + s->cpu_sys;
    s->errors = 0;
    for (i = 0; i < SB_E_N; i++) {
        s->errors += ctx->errors[i];
    }
}


static double
sb_rate(double v, double secs)
{
    return secs > 0 ? v / secs : 0;
}


static void
sb_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            putchar('\\');
        }
        if ((unsigned char) *s >= 0x20) {
            putchar(*s);
        }
    }
    putchar('"');
}


static void
sb_print_json(const sb_ctx_t *ctx, const sb_sum_t *s)
{
    unsigned  i;

    printf("{\"tool\":\"sl-bench\",\"mode\":\"%s\",\"addr\":",
           sb_mode_name[ctx->mode]);
    sb_json_str(ctx->addr_text);
    printf(",\"conns\":%u,\"size\":%zu,\"depth\":%u,\"warmup\":%g,"
           "\"duration\":%.3f,", ctx->nconns, ctx->size, ctx->depth,
           ctx->warmup, s->secs);
    printf("\"msgs\":%llu,\"total_msgs\":%llu,\"msgs_per_s\":%.1f,"
           "\"conns_per_s\":%.1f,\"established\":%u,",
           (unsigned long long) ctx->st.msgs,
           (unsigned long long) ctx->total_msgs,
           sb_rate((double) ctx->st.msgs, s->secs),
           sb_rate((double) ctx->st.conns, s->secs), ctx->established);
    printf("\"tx_MBps\":%.3f,\"rx_MBps\":%.3f,",
           sb_rate((double) ctx->st.tx_bytes / 1e6, s->secs),
           sb_rate((double) ctx->st.rx_bytes / 1e6, s->secs));
    printf("\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
           "\"max_us\":%.1f,", sb_hist_quantile(ctx->st.hist, 0.50),
           sb_hist_quantile(ctx->st.hist, 0.99),
           sb_hist_quantile(ctx->st.hist, 0.999),
           sb_hist_quantile(ctx->st.hist, 1.0));
    for (i = 0; i < SB_E_N; i++) {
        printf("\"err_%s\":%llu,", sb_err_name[i],
               (unsigned long long) ctx->errors[i]);
    }
    printf("\"errors\":%llu,\"cpu_s\":%.3f,\"cpu_user_s\":%.3f,"
           "\"cpu_sys_s\":%.3f}\n", (unsigned long long) s->errors,
           s->cpu, s->cpu_user, s->cpu_sys);
}


static void
sb_print_latency(const sb_ctx_t *ctx, const char *what)
{
    printf("  %-10s p50 %.1f us  p99 %.1f us  p999 %.1f us  max %.1f us\n",
           what, sb_hist_quantile(ctx->st.hist, 0.50),
           sb_hist_quantile(ctx->st.hist, 0.99),
           sb_hist_quantile(ctx->st.hist, 0.999),
           sb_hist_quantile(ctx->st.hist, 1.0));
}


static void
sb_print_text(const sb_ctx_t *ctx, const sb_sum_t *s)
{
    unsigned  i;

    printf("sl-bench %s %s  conns %u  size %zu  depth %u  %.3f s\n",
           sb_mode_name[ctx->mode], ctx->addr_text, ctx->nconns,
           ctx->size, ctx->depth, s->secs);
    if (ctx->mode == SB_ECHO) {
        printf("  msgs/s     %.0f  (%llu messages)\n",
               sb_rate((double) ctx->st.msgs, s->secs),
               (unsigned long long) ctx->st.msgs);
        printf("  MB/s       %.2f sent  %.2f received\n",
               sb_rate((double) ctx->st.tx_bytes / 1e6, s->secs),
               sb_rate((double) ctx->st.rx_bytes / 1e6, s->secs));
        sb_print_latency(ctx, "latency");
    } else if (ctx->mode == SB_CONNECT) {
        printf("  conns/s    %.0f  (%llu connections)\n",
               sb_rate((double) ctx->st.conns, s->secs),
               (unsigned long long) ctx->st.conns);
        sb_print_latency(ctx, "conn time");
    } else {
        printf("  established %u of %u\n", ctx->established, ctx->nconns);
    }
    printf("  errors    ");
    for (i = 0; i < SB_E_N; i++) {
        printf(" %s %llu", sb_err_name[i],
               (unsigned long long) ctx->errors[i]);
    }
    printf("\n  cpu        %.2f s (user %.2f, sys %.2f)\n",
           s->cpu, s->cpu_user, s->cpu_sys);
}


static int
sb_report(const sb_ctx_t *ctx)
{
    sb_sum_t  s;

    sb_summarize(ctx, &s);
    if (ctx->json) {
        sb_print_json(ctx, &s);
    } else {
        sb_print_text(ctx, &s);
    }
    fflush(stdout);
    if (ctx->errors[SB_E_VERIFY] > 0) {
        return SB_EX_VERIFY;
    }
    return s.errors > 0 ? SB_EX_ERRORS : 0;
}


/* options */

static int
sb_parse_inet(sb_ctx_t *ctx, const char *s)
{
    char                 host[INET6_ADDRSTRLEN + 2];
    const char          *colon, *h = s;
    size_t               hlen;
    char                *end;
    unsigned long        port;
    struct sockaddr_in  *sin = (struct sockaddr_in *) &ctx->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ctx->addr;

    colon = strrchr(s, ':');
    if (colon == NULL) {
        return -1;
    }
    hlen = (size_t) (colon - s);
    if (s[0] == '[') {
        if (hlen < 2 || s[hlen - 1] != ']') {
            return -1;
        }
        h = s + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
        return -1;
    }
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        ctx->addrlen = sizeof(*sin);
        return 0;
    }
    if (s[0] != '[' || inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
        return -1;
    }
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t) port);
    ctx->addrlen = sizeof(*sin6);
    return 0;
}


static int
sb_parse_addr(sb_ctx_t *ctx, const char *s)
{
    struct sockaddr_un  *sun = (struct sockaddr_un *) &ctx->addr;
    size_t               len;

    memset(&ctx->addr, 0, sizeof(ctx->addr));
    ctx->addr_text = s;
    if (strncmp(s, "unix:", 5) != 0) {
        return sb_parse_inet(ctx, s);
    }
    len = strlen(s + 5);
    if (len == 0 || len >= sizeof(sun->sun_path)) {
        return -1;
    }
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, s + 5, len + 1);
    ctx->addrlen = (socklen_t) (offsetof(struct sockaddr_un, sun_path)
                                + len + 1);
    return 0;
}


static bool
sb_loopback(const struct sockaddr_storage *ss)
{
    const struct sockaddr_in  *sin = (const struct sockaddr_in *) ss;
    const struct in6_addr     *a6;

    if (ss->ss_family == AF_UNIX) {
        return true;
    }
    if (ss->ss_family == AF_INET) {
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    a6 = &((const struct sockaddr_in6 *) ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a6)
           || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}


static int
sb_num(const char *s, double lo, double hi, double *out)
{
    char  *end;

    errno = 0;
    *out = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || *out < lo || *out > hi) {
        return -1;
    }
    return 0;
}


static int
sb_mode(const char *s)
{
    int  i;

    for (i = SB_ECHO; i <= SB_IDLE; i++) {
        if (strcmp(s, sb_mode_name[i]) == 0) {
            return i;
        }
    }
    return -1;
}


static int
sb_uint(const char *s, double lo, double hi, unsigned *out)
{
    double  v;

    if (sb_num(s, lo, hi, &v) != 0 || v != (double) (unsigned) v) {
        return -1;
    }
    *out = (unsigned) v;
    return 0;
}


static int
sb_option(sb_ctx_t *ctx, int opt, const char *arg)
{
    unsigned  size;

    switch (opt) {
    case 'a':
        return sb_parse_addr(ctx, arg);
    case 'm':
        return (ctx->mode = sb_mode(arg)) < 0 ? -1 : 0;
    case 'o':
        ctx->json = strcmp(arg, "json") == 0;
        return ctx->json || strcmp(arg, "text") == 0 ? 0 : -1;
    case 'c':
        return sb_uint(arg, 1, SB_MAX_CONNS, &ctx->nconns);
    case 's':
        if (sb_uint(arg, 0, SB_MAX_SIZE, &size) != 0) {
            return -1;
        }
        ctx->size = size;
        return 0;
    case 'p':
        return sb_uint(arg, 1, SB_MAX_DEPTH, &ctx->depth);
    case 'd':
        return sb_num(arg, 0.001, 86400, &ctx->duration);
    case 'w':
        return sb_num(arg, 0, 3600, &ctx->warmup);
    case 't':
        return sb_num(arg, 0.001, 3600, &ctx->setup);
    case 'A':
        ctx->any_addr = true;
        return 0;
    }
    return -1;
}


static int
sb_args(sb_ctx_t *ctx, int argc, char **argv)
{
    int  opt;

    ctx->mode = SB_ECHO;
    ctx->nconns = 1;
    ctx->size = 64;
    ctx->depth = 1;
    ctx->duration = 5;
    ctx->warmup = 1;
    ctx->setup = 30;
    while ((opt = getopt(argc, argv, "a:m:c:s:p:d:w:t:o:Ah")) != -1) {
        if (opt == 'h') {
            sb_usage(stdout);
            exit(0);
        }
        if (opt == '?' || sb_option(ctx, opt, optarg) != 0) {
            if (opt != '?') {
                fprintf(stderr, "sl-bench: bad -%c '%s'\n", opt, optarg);
            }
            return -1;
        }
    }
    if (optind != argc || ctx->addr_text == NULL) {
        fprintf(stderr, "sl-bench: -a ADDR is required\n");
        return -1;
    }
    if (ctx->size == 0 && ctx->mode != SB_IDLE) {
        fprintf(stderr, "sl-bench: -s 0 is for idle mode only\n");
        return -1;
    }
    if (!ctx->any_addr && !sb_loopback(&ctx->addr)) {
        fprintf(stderr, "sl-bench: %s is not a loopback address;"
                " benches talk to 127.0.0.1 or ::1 only (-A overrides)\n",
                ctx->addr_text);
        return -1;
    }
    if (ctx->mode != SB_ECHO) {
        ctx->depth = 1;
    }
    if (ctx->mode == SB_IDLE) {
        ctx->warmup = 0;
    }
    return 0;
}


/* setup */

static int
sb_nofile(unsigned need)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("sl-bench: getrlimit");
        return -1;
    }
    if (rl.rlim_cur >= need) {
        return 0;
    }
    rl.rlim_cur = need;
    if (rl.rlim_max < need) {
        rl.rlim_max = need;
    }
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
        return 0;
    }
    fprintf(stderr, "sl-bench: %u connections need %u file descriptors;"
            " cannot raise RLIMIT_NOFILE: %s (raise it with ulimit -n,"
            " or run as root)\n", need - SB_FD_SPARE, need, strerror(errno));
    return -1;
}


static int
sb_setup(sb_ctx_t *ctx)
{
    unsigned  i;

    if (sb_nofile(ctx->nconns + SB_FD_SPARE) != 0) {
        return -1;
    }
    ctx->conns = calloc(ctx->nconns, sizeof(sb_conn_t));
    ctx->sent_at = calloc((size_t) ctx->nconns * ctx->depth,
                          sizeof(uint64_t));
    ctx->free_slots = calloc(ctx->nconns, sizeof(unsigned));
    ctx->pattern = malloc(SB_PAT_LEN + ctx->size);
    ctx->buf = malloc(SB_BUF_SIZE);
    ctx->ep = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->conns == NULL || ctx->sent_at == NULL || ctx->pattern == NULL
        || ctx->free_slots == NULL || ctx->buf == NULL || ctx->ep < 0)
    {
        perror("sl-bench: setup");
        return -1;
    }
    sb_pattern_init(ctx);
    for (i = 0; i < ctx->nconns; i++) {
        ctx->conns[i].fd = -1;
        ctx->conns[i].sent_at = ctx->sent_at + (size_t) i * ctx->depth;
    }
    return 0;
}


static void
sb_start(sb_ctx_t *ctx)
{
    unsigned  i;
    double    setup = ctx->mode == SB_IDLE ? ctx->setup : ctx->warmup;

    ctx->now = ctx->t_start = sb_clock();
    ctx->t_measure = ctx->t_start + (uint64_t) (ctx->warmup * SB_NS);
    ctx->t_end = ctx->t_start + (uint64_t) (setup * SB_NS);
    if (ctx->mode != SB_IDLE) {
        ctx->t_end += (uint64_t) (ctx->duration * SB_NS);
    }
    getrusage(RUSAGE_SELF, &ctx->ru0);
    if (ctx->mode == SB_IDLE) {
        return;
    }
    for (i = ctx->nconns; i > 0; i--) {
        ctx->free_slots[ctx->nfree++] = i - 1;
    }
}


int
main(int argc, char **argv)
{
    sb_ctx_t  *ctx = calloc(1, sizeof(sb_ctx_t));
    int        rc;

    if (ctx == NULL) {
        perror("sl-bench");
        return SB_EX_SETUP;
    }
    if (sb_args(ctx, argc, argv) != 0) {
        sb_usage(stderr);
        return SB_EX_USAGE;
    }
    if (sb_setup(ctx) != 0) {
        return SB_EX_SETUP;
    }
    sb_start(ctx);
    sb_loop(ctx);
    if (ctx->mode != SB_IDLE) {
        sb_check_stalls(ctx);
    }
    rc = sb_report(ctx);
    sb_close_all(ctx);
    return rc;
}
