/*
 * test_hostile_reset.c -- resets from both sides of the proxy (issue 13:
 * the client reset storm, and the upstream reset storm with
 * proxy_next_upstream).
 *
 * Clients (full: 50,000 connections; small: a few hundred) reset
 * (SO_LINGER 0) at a random point of one of five kinds: at once after the
 * connect (before or while sluice connects upstream), half-way through a
 * TLS ClientHello or just after it, in the middle of a plain relay, in
 * the middle of a bulk relay that splice(2) carries (proxy_buffer_size 1k
 * turns it bulk), and in the middle of a TLS relay. The upstream is an
 * echo server of the same sluice, on a unix socket. sluice must not
 * crash; its descriptors and memory must come back to the baseline
 * (awaited with a bounded poll of /proc, the time printed); every session
 * has its access log line, each line's counts are consistent with each
 * other, and their sums lie between what the clients know sluice must
 * have received (what came back to them) and what they sent.
 *
 * Upstreams that reset: a TLS upstream group of three servers that accept
 * and reset at once (proxy_ssl on, proxy_next_upstream_tries 2,
 * max_fails=0 so that every session tries anew), counted at the test's
 * listeners: exactly two attempts per session, each ended with 502; a
 * plain server that resets once the client's first byte came: one
 * attempt per session (a connected session is never moved); and a
 * server that accepts and then holds the connection silent: each session
 * is ended by proxy_timeout (2s), none outlives it. How long they lived
 * is printed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_tls.h"
#include "sl_t_backend.h"
#include "sl_t_hostile.h"
#include "sl_t_storm.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_IO         10000      /* ms one step of a client may take */
#define T_ALL        600000     /* ms for the whole storm */
#define PROCS        4
#define BULK         (128 * 1024)
#define RSS_SLACK_KB 4096
/*
 * Under valgrind the process's memory is valgrind's too: freed blocks wait
 * in its queue (--freelist-vol, 20 MB by default) before they are used
 * again, so resident memory grows by that much whatever sluice does.
 */
#define SLACK_KB  (RSS_SLACK_KB + (sl_t_hostile_valgrind() ? 20 * 1024 : 0))

enum { K_PRE = 0, K_HS, K_RELAY, K_SPLICE, K_TLS, K_N };

static const char  *kind_names[K_N] = {
    "at connect", "mid-handshake", "mid-relay", "mid-splice", "mid-TLS-relay"
};

typedef struct {
    int                   port;
    int                   n;            /* connections to make */
    unsigned int          seed;
    unsigned char         hello[2048];
    size_t                hello_len;
    long                  kinds[K_N];
    long long             lo;           /* sluice must have received */
    long long             hi;           /* it cannot have received more */
    long                  failed;
    char                  error[256];
} storm_t;

/* --- a storm client (a child: nothing of sl_proc) ------------------------ */

static int
cfail(storm_t *st, const char *what, int err)
{
    if (st->failed++ == 0) {
        snprintf(st->error, sizeof(st->error), "%s (%s)", what,
                 err ? strerror(err) : "unexpected end");
    }
    return -1;
}

static int
wait_fd(int fd, short events)
{
    struct pollfd  pfd = { fd, events, 0 };

    return poll(&pfd, 1, T_IO) == 1 ? 0 : -1;
}

/* the pattern from off, len bytes */
static void
pattern(unsigned char *buf, size_t off, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        buf[i] = sl_t_pattern(off + i);
    }
}

static int
send_pattern(storm_t *st, int fd, size_t off, size_t len)
{
    unsigned char  buf[8192];
    size_t         done = 0, chunk;
    ssize_t        n;

    while (done < len) {
        chunk = len - done < sizeof(buf) ? len - done : sizeof(buf);
        pattern(buf, off + done, chunk);
        if (wait_fd(fd, POLLOUT) != 0) {
            return cfail(st, "send: no room", ETIMEDOUT);
        }
        n = send(fd, buf, chunk, MSG_NOSIGNAL);
        if (n <= 0) {
            return cfail(st, "send", errno);
        }
        done += (size_t) n;
    }

    return 0;
}

static int
recv_pattern(storm_t *st, int fd, size_t off, size_t len)
{
    unsigned char  buf[8192], want[8192];
    size_t         done = 0, chunk;
    ssize_t        n;

    while (done < len) {
        chunk = len - done < sizeof(buf) ? len - done : sizeof(buf);
        if (wait_fd(fd, POLLIN) != 0) {
            return cfail(st, "echo: nothing came", ETIMEDOUT);
        }
        n = recv(fd, buf, chunk, 0);
        if (n <= 0) {
            return cfail(st, "echo", n == 0 ? 0 : errno);
        }
        pattern(want, off + done, (size_t) n);
        if (memcmp(buf, want, (size_t) n) != 0) {
            return cfail(st, "echo differs", 0);
        }
        done += (size_t) n;
    }

    return 0;
}

static int
connect_to(storm_t *st, const char *ip)
{
    int  fd = sl_t_nb_connect_to(ip, st->port);

    if (fd == -1 || sl_t_nb_connected(fd, T_IO) != 0) {
        cfail(st, "connect", errno);
        if (fd != -1) {
            close(fd);
        }
        return -1;
    }

    return fd;
}

static void
relay(storm_t *st, int fd)
{
    size_t  m = 1 + (size_t) rand_r(&st->seed) % 4000;
    size_t  r = (size_t) rand_r(&st->seed) % (m + 1);
    size_t  m2 = (size_t) rand_r(&st->seed) % 4000;

    if (send_pattern(st, fd, 0, m) == 0 && recv_pattern(st, fd, 0, r) == 0
        && send_pattern(st, fd, m, m2) == 0)
    {
        st->lo += (long long) r;
        st->hi += (long long) (m + m2);
    }
}

/* bulk both ways (the echo turns it round) until r came back */
static void
bulk(storm_t *st, int fd)
{
    unsigned char  buf[16384], want[16384];
    struct pollfd  pfd = { fd, POLLIN | POLLOUT, 0 };
    size_t         sent = 0, got = 0, chunk;
    size_t         r = 8192 + (size_t) rand_r(&st->seed) % (BULK / 2);
    ssize_t        n;

    while (got < r) {
        pfd.events = sent < BULK ? POLLIN | POLLOUT : POLLIN;
        if (poll(&pfd, 1, T_IO) != 1) {
            cfail(st, "bulk: stalled", ETIMEDOUT);
            return;
        }

        if ((pfd.revents & POLLOUT) && sent < BULK) {
            chunk = BULK - sent < sizeof(buf) ? BULK - sent : sizeof(buf);
            pattern(buf, sent, chunk);
            n = send(fd, buf, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN) {
                cfail(st, "bulk send", errno);
                return;
            }
            sent += n > 0 ? (size_t) n : 0;
        }

        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
                cfail(st, "bulk echo", n == 0 ? 0 : errno);
                return;
            }
            if (n > 0) {
                pattern(want, got, (size_t) n);
                if (memcmp(buf, want, (size_t) n) != 0) {
                    cfail(st, "bulk echo differs", 0);
                    return;
                }
                got += (size_t) n;
            }
        }
    }

    st->lo += (long long) got;
    st->hi += (long long) sent;
}

static void
handshake_part(storm_t *st, int fd)
{
    size_t  k = 1 + (size_t) rand_r(&st->seed) % st->hello_len;
    char    buf[4096];

    if (send(fd, st->hello, k, MSG_NOSIGNAL) != (ssize_t) k) {
        cfail(st, "ClientHello", errno);
        return;
    }

    if (k == st->hello_len && wait_fd(fd, POLLIN) == 0) {
        (void) recv(fd, buf, sizeof(buf), MSG_DONTWAIT);   /* ServerHello */
    }
}

static void
tls_relay(storm_t *st, int fd)
{
    sl_tt_peer_t   p;
    unsigned char  out[4000], in[4000];
    size_t         m = 1 + (size_t) rand_r(&st->seed) % sizeof(out);
    size_t         r = (size_t) rand_r(&st->seed) % (m + 1);

    if (sl_tt_peer_init(&p, fd, 0, NULL) != 0) {
        cfail(st, "SSL_new", 0);
        return;
    }

    pattern(out, 0, m);
    if (!sl_tt_handshake(&p, T_IO) || !sl_tt_write(&p, out, m, T_IO)
        || (r > 0 && !sl_tt_read_full(&p, in, r, T_IO)))
    {
        cfail(st, "TLS relay", errno);
    } else if (memcmp(in, out, r) != 0) {
        cfail(st, "TLS echo differs", 0);
    } else {
        st->lo += (long long) r;
        st->hi += (long long) m;
    }

    sl_tt_peer_free(&p);
}

static void
storm_child(void *data)
{
    storm_t  *st = data;
    int       i, kind, fd;

    (void) signal(SIGPIPE, SIG_IGN);

    for (i = 0; i < st->n; i++) {
        /* the TLS relay costs a handshake: a little rarer */
        kind = rand_r(&st->seed) % (K_N * 2 - 1);
        kind = kind >= K_N ? kind - K_N : kind;

        fd = connect_to(st, kind == K_HS || kind == K_TLS ? "127.0.0.2"
                                                          : "127.0.0.1");
        if (fd == -1) {
            continue;
        }

        switch (kind) {
        case K_HS:      handshake_part(st, fd); break;
        case K_RELAY:   relay(st, fd); break;
        case K_SPLICE:  bulk(st, fd); break;
        case K_TLS:     tls_relay(st, fd); break;
        default:        break;
        }

        st->kinds[kind]++;
        sl_t_rst_close(fd);
    }
}

/* --- the client reset storm ---------------------------------------------- */

static long long
field(const char **p)
{
    char       *end;
    long long   v = strtoll(*p, &end, 10);

    if (end == *p) {            /* "-": no upstream */
        v = 0;
        end = (char *) *p + strcspn(*p, " \n");
    }

    *p = end + (*end == ' ');
    return v;
}

/* the access log: each line consistent, the bytes received summed */
static long long
check_log(const char *text, int n)
{
    const char  *p = text;
    long long    recvd, sent, up_sent, up_recvd, sum = 0;
    int          lines = 0;

    while (*p != '\0') {
        recvd = field(&p);
        sent = field(&p);
        up_sent = field(&p);
        up_recvd = field(&p);
        ck_assert_msg(up_sent <= recvd && sent <= up_recvd,
                      "line %d: received %lld, sent %lld, upstream sent"
                      " %lld, upstream received %lld", lines + 1, recvd,
                      sent, up_sent, up_recvd);
        sum += recvd;
        lines++;
        p = strchr(p, '\n');
        ck_assert_ptr_nonnull(p);
        p++;
    }

    ck_assert_int_eq(lines, n);
    return sum;
}

static void
run_storm(storm_t *sh, int port, int n, unsigned int seed)
{
    sl_t_proc_t  *proc[PROCS];
    int           i, status;

    for (i = 0; i < PROCS; i++) {
        sh[i].port = port;
        sh[i].n = n / PROCS + (i < n % PROCS);
        sh[i].seed = seed + (unsigned int) i;
        proc[i] = sl_t_fork(storm_child, &sh[i]);
    }

    for (i = 0; i < PROCS; i++) {
        status = sl_t_wait_exit(proc[i], T_ALL);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "a storm client %s", sl_t_status_text(status));
    }
}

START_TEST(test_client_resets)
{
    sl_t_sluice_t   srv;
    storm_t        *sh;
    const char     *alog, *log, *p;
    long long       lo = 0, hi = 0, got;
    long            kinds[K_N] = { 0 }, rss0 = 0, rss1, fd_ms, rss_ms;
    pid_t           pid;
    int             n, warm, i, k, fds0, last;
    unsigned char   hello[2048];
    size_t          hello_len;

    (void) signal(SIGPIPE, SIG_IGN);

    n = sl_t_storm_n(400, 50000, 4);
    warm = 100;

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { worker_connections 4096; }\n"
        "stream {\n"
        "    log_format b '$bytes_received $bytes_sent"
        " $upstream_bytes_sent $upstream_bytes_received';\n"
        "    server { listen unix:@DIR@/echo.sock; echo; }\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_buffer_size 1k;\n"
        "             proxy_pass unix:@DIR@/echo.sock;"
        " access_log logs/a.log b; }\n"
        "    server { listen 127.0.0.2:@PORT@ ssl;\n"
        "             ssl_certificate %s; ssl_certificate_key %s;\n"
        "             proxy_pass unix:@DIR@/echo.sock;"
        " access_log logs/a.log b; }\n"
        "}\n", sl_tt_file("rsa.crt"), sl_tt_file("rsa.key")));

    pid = sl_t_pid(srv.proc);
    alog = sl_t_path(srv.dir, "logs/a.log");
    hello_len = sl_t_client_hello(hello, sizeof(hello));
    /* idle: listeners, logs and the loop (made after "started") */
    ck_assert_int_eq(sl_t_await_loop(pid, T_IO), 0);
    fds0 = sl_t_fd_count(pid);

    sh = mmap(NULL, PROCS * sizeof(storm_t), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(sh, MAP_FAILED);

    /* a warm-up makes the caches sluice keeps: then the memory baseline */
    for (k = 0; k < 2; k++) {
        memset(sh, 0, PROCS * sizeof(storm_t));
        for (i = 0; i < PROCS; i++) {
            memcpy(sh[i].hello, hello, hello_len);
            sh[i].hello_len = hello_len;
        }

        run_storm(sh, srv.port, k == 0 ? warm : n, k == 0 ? 1 : 1000);

        if (k == 0) {
            (void) sl_t_wait_lines(alog, warm, T_IO);
            last = -1;
            ck_assert_msg(sl_t_await_fds(pid, fds0, T_IO, &last) >= 0,
                          "after the warm-up: %d descriptors, idle %d",
                          last, fds0);
            rss0 = sl_t_rss_kb(pid);
        }
    }

    for (i = 0; i < PROCS; i++) {
        for (k = 0; k < K_N; k++) {
            kinds[k] += sh[i].kinds[k];
        }
        lo += sh[i].lo;
        hi += sh[i].hi;
        ck_assert_msg(sh[i].failed == 0, "client %d: %ld failed, first: %s",
                      i, sh[i].failed, sh[i].error);
    }

    /* descriptors and memory back to the baseline: bounded polls */
    fd_ms = sl_t_await_fds(pid, fds0, T_IO, &last);
    ck_assert_msg(fd_ms >= 0, "%d descriptors, baseline %d", last, fds0);
    if (sl_t_hostile_rss_checked()) {
        rss_ms = sl_t_await_rss(pid, rss0 + SLACK_KB, T_IO, &rss1);
        ck_assert_msg(rss_ms >= 0, "RSS %ld kB, baseline %ld kB", rss1,
                      rss0);
    } else {
        rss_ms = 0;
        rss1 = sl_t_rss_kb(pid);
    }

    /* every session logged; the storm's lines follow the warm-up's */
    p = sl_t_wait_lines(alog, warm + n, T_IO);
    for (i = 0; i < warm; i++) {
        p = strchr(p, '\n') + 1;
    }
    got = check_log(p, n);
    ck_assert_msg(lo <= got && got <= hi, "sluice received %lld bytes;"
                  " the clients sent %lld and had %lld back", got, hi, lo);

    log = sl_t_read(srv.log);
    ck_assert(sl_t_running(srv.proc));
    ck_assert_msg(strstr(log, "proxying with splice()") != NULL,
                  "no session spliced");
    ck_assert_ptr_null(sl_t_log_find(log, "alert", ""));
    ck_assert_ptr_null(sl_t_log_find(log, "crit", ""));
    ck_assert_ptr_null(sl_t_log_find(log, "emerg", ""));

    sl_t_hostile_figure("client-resets", "%d connections reset (%ld %s, %ld"
                        " %s, %ld %s, %ld %s, %ld %s), 0 failed; sluice"
                        " received %lld bytes (clients sent %lld, had %lld"
                        " back); fds %d again after %ld ms, RSS %ld kB"
                        " (baseline %ld kB) after %ld ms", n,
                        kinds[0], kind_names[0], kinds[1], kind_names[1],
                        kinds[2], kind_names[2], kinds[3], kind_names[3],
                        kinds[4], kind_names[4], got, hi, lo, fds0, fd_ms,
                        rss1, rss0, rss_ms);

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- the upstream reset storm -------------------------------------------- */

typedef struct {
    int        fd;
    long long  opened;
} client_t;

/* n connections to ip, each sends a byte; until sluice closes each */
static long long
until_closed(const char *ip, int port, int n)
{
    struct epoll_event  ev, evs[64];
    client_t           *c = calloc((size_t) n, sizeof(client_t));
    long long           deadline, longest = 0, ms;
    char                buf[256];
    ssize_t             r;
    int                 ep, i, k, open;

    ck_assert_ptr_nonnull(c);
    ep = epoll_create1(EPOLL_CLOEXEC);

    for (i = 0; i < n; i++) {
        c[i].fd = sl_t_nb_connect_to(ip, port);
        ck_assert_msg(c[i].fd >= 0, "connect: %s", strerror(errno));
        c[i].opened = sl_t_msec();
        ck_assert_int_eq(sl_t_nb_connected(c[i].fd, sl_t_timeout(T_IO)), 0);
        (void) send(c[i].fd, "x", 1, MSG_NOSIGNAL);
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u32 = (uint32_t) i;
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev), 0);
    }

    deadline = sl_t_msec() + sl_t_timeout(60000);
    for (open = n; open > 0 && sl_t_msec() < deadline; ) {
        k = epoll_wait(ep, evs, 64, 1000);
        for (i = 0; i < k; i++) {
            client_t  *cl = &c[evs[i].data.u32];

            r = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r > 0 || (r < 0 && errno == EAGAIN)) {
                continue;
            }
            ms = sl_t_msec() - cl->opened;
            longest = ms > longest ? ms : longest;
            (void) epoll_ctl(ep, EPOLL_CTL_DEL, cl->fd, NULL);
            close(cl->fd);
            open--;
        }
    }

    close(ep);
    free(c);
    ck_assert_msg(open == 0, "%d of %d sessions to %s not closed by sluice",
                  open, n, ip);
    return longest;
}

static int
count_str(const char *text, const char *needle)
{
    int  n = 0;

    while ((text = strstr(text, needle)) != NULL) {
        n++;
        text++;
    }

    return n;
}

static int
count_lines(const char *text, const char *start)
{
    int          n = 0;
    const char  *p = text;

    while (p != NULL && *p != '\0') {
        n += strncmp(p, start, strlen(start)) == 0;
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }

    return n;
}

START_TEST(test_upstream_resets)
{
    sl_t_sluice_t     srv;
    sl_t_upstream_t   a, b, c, d, e;
    long long         t_tls, t_plain, t_hold;
    const char       *log;
    long              tries;
    int               n;

    (void) signal(SIGPIPE, SIG_IGN);
    n = sl_t_storm_n(100, 3000, 2);
    ck_assert_int_ge(sl_t_raise_nofile(4 * n + 1024), 2 * n + 512);

    sl_t_upstream_start(&a, SL_TU_RESET);
    sl_t_upstream_start(&b, SL_TU_RESET);
    sl_t_upstream_start(&c, SL_TU_RESET);
    sl_t_upstream_start(&d, SL_TU_RESET_READ);
    sl_t_upstream_start(&e, SL_TU_HOLD);

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { worker_connections %d; }\n"
        "stream {\n"
        "    log_format st '$status $upstream_addr';\n"
        "    proxy_timeout 2s; proxy_connect_timeout 2s;\n"
        "    upstream tls { server 127.0.0.1:%d max_fails=0;"
        " server 127.0.0.1:%d max_fails=0; server 127.0.0.1:%d max_fails=0; }\n"
        "    server { listen 127.0.0.1:@PORT@ backlog=4096; proxy_pass tls;"
        " proxy_ssl on; proxy_next_upstream_tries 2;"
        " access_log logs/tls.log st; }\n"
        "    server { listen 127.0.0.2:@PORT@ backlog=4096;"
        " proxy_pass 127.0.0.1:%d; access_log logs/plain.log st; }\n"
        "    server { listen 127.0.0.3:@PORT@ backlog=4096;"
        " proxy_pass 127.0.0.1:%d; access_log logs/hold.log st; }\n"
        "}\n", 8 * n + 1024, a.port, b.port, c.port, d.port, e.port));

    t_tls = until_closed("127.0.0.1", srv.port, n);
    t_plain = until_closed("127.0.0.2", srv.port, n);
    t_hold = until_closed("127.0.0.3", srv.port, n);

    /* the counts at the listeners, once every session is logged */
    (void) sl_t_wait_lines(sl_t_path(srv.dir, "logs/tls.log"), n, T_IO);
    (void) sl_t_wait_lines(sl_t_path(srv.dir, "logs/plain.log"), n, T_IO);
    (void) sl_t_wait_lines(sl_t_path(srv.dir, "logs/hold.log"), n, T_IO);

    tries = *a.accepts + *b.accepts + *c.accepts;
    ck_assert_msg(tries == 2L * n, "%ld tries at the TLS upstreams for %d"
                  " sessions, not 2 each (%ld, %ld, %ld)", tries, n,
                  *a.accepts, *b.accepts, *c.accepts);
    ck_assert_int_eq(*d.accepts, n);
    ck_assert_int_eq(*e.accepts, n);

    ck_assert_int_eq(count_lines(sl_t_read(sl_t_path(srv.dir,
                                 "logs/tls.log")), "502 127.0.0.1:"), n);
    ck_assert_int_eq(count_lines(sl_t_read(sl_t_path(srv.dir,
                                 "logs/plain.log")), "200 127.0.0.1:"), n);
    ck_assert_int_eq(count_lines(sl_t_read(sl_t_path(srv.dir,
                                 "logs/hold.log")), "200 127.0.0.1:"), n);

    /* the silent ones were ended by proxy_timeout, nothing else */
    log = sl_t_read(srv.log);
    ck_assert_int_eq(count_str(log, "connection timed out (110: Connection"
                               " timed out) while proxying"), n);
    ck_assert_msg(sl_t_running(srv.proc), "%s", log);
    ck_assert_ptr_null(sl_t_log_find(log, "alert", ""));
    ck_assert_ptr_null(sl_t_log_find(log, "crit", ""));

    sl_t_hostile_figure("upstream-resets", "%d sessions each: TLS upstreams"
                        " that reset: %ld tries (2 per session, as"
                        " configured), all 502, the last closed %lld ms"
                        " after it opened; a plain upstream resetting at"
                        " the first byte: %ld tries, the last closed after"
                        " %lld ms; a silent upstream: closed by"
                        " proxy_timeout 2s, the last after %lld ms", n,
                        tries, t_tls, *d.accepts, t_plain, t_hold);

    sl_t_sluice_stop(&srv);
}
END_TEST

static Suite *
hostile_reset_suite(void)
{
    Suite  *s = suite_create("hostile_reset");
    TCase  *tc = tcase_create("reset");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 1500);
    tcase_add_test(tc, test_client_resets);
    tcase_add_test(tc, test_upstream_resets);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(hostile_reset_suite)
