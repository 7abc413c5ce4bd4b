/*
 * test_hostile_slowloris.c -- clients that open connections and never
 * finish their start (issue 13: slowloris, and stalled ClientHellos).
 *
 * Three attacks on a sluice echo, each with a steady well-behaved client
 * beside it (t/lib/sl_t_storm.h):
 *
 *   tls      N connections to a "listen ... ssl" address that trickle a
 *            ClientHello one byte at a time, a byte a second;
 *   proxy    the same to a "listen ... proxy_protocol" address with a
 *            PROXY protocol header;
 *   hello    N connections that send a whole ClientHello and stall.
 *
 * Each must be closed by sluice, every one of them, and each at its
 * timeout (ssl_handshake_timeout, proxy_protocol_timeout: 2s, or 10s
 * under valgrind, where a loaded machine can take 2s over the steady
 * client's own handshake, which would then be one more timeout): the error
 * log has one "client timed out" per attacker, so no trickled byte
 * restarted the clock and nothing closed them for another reason. The
 * steady client (full: 200 connections a second) sees no failure; the
 * resident memory of sluice stays under a stated bound; its descriptors
 * come back to where they were. How long the closes and the steady
 * client's handshakes took is printed, never compared with a clock.
 *
 * It never sends anything but the attack's bytes and the steady client's
 * echo; it runs only on loopback.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_tls.h"
#include "sl_t_master.h"
#include "sl_t_hostile.h"
#include "sl_t_storm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_ALL       120000      /* ms for every attacker to be closed */
#define TRICKLE_MS  1000        /* one byte a second */

/* what sluice may hold per attacking connection, and besides them */
#define RSS_PER_CONN_KB  64
#define RSS_SLACK_KB     (16 * 1024)
/*
 * Under valgrind, freed blocks wait in its queue (--freelist-vol, 20 MB
 * by default) before they are used again: resident memory grows by that
 * much whatever sluice does, as the steady client's sessions come and go.
 */
#define SLACK_KB  (RSS_SLACK_KB + (sl_t_hostile_valgrind() ? 20 * 1024 : 0))

enum { ATTACK_TLS = 0, ATTACK_PROXY, ATTACK_HELLO };

static const char  *names[] = { "slowloris-tls", "slowloris-proxy",
                                "hello-stall" };

typedef struct {
    int         fd;
    size_t      sent;
    long long   opened;
} conn_t;

typedef struct {
    int             attack;
    unsigned char   payload[2048];
    size_t          len;
    conn_t         *conns;
    int             n;
    int             open;           /* not yet closed by sluice */
    long long       first_ms;       /* open to close, the shortest */
    long long       last_ms;        /* and the longest */
    long            rss_peak;
    pid_t           pid;
    int             ep;
} swarm_t;

/* the handshake/preread timeout */
static const char *
timeout(void)
{
    return sl_t_hostile_valgrind() ? "10s" : "2s";
}

static const char *
conf(int attack)
{
    if (attack == ATTACK_PROXY) {
        return sl_t_printf("listen 127.0.0.1:@PORT@ proxy_protocol"
                           " backlog=4096; proxy_protocol_timeout %s;",
                           timeout());
    }

    return sl_t_printf("listen 127.0.0.1:@PORT@ ssl backlog=4096;"
                       " ssl_certificate %s; ssl_certificate_key %s;"
                       " ssl_handshake_timeout %s;",
                       sl_tt_file("rsa.crt"), sl_tt_file("rsa.key"),
                       timeout());
}

/* the bytes an attacker dribbles (or, stalling, sends at once) */
static void
payload(swarm_t *sw)
{
    const char  *hdr = "PROXY TCP4 192.0.2.1 127.0.0.1 40000 8000\r\n";

    if (sw->attack == ATTACK_PROXY) {
        sw->len = strlen(hdr);
        memcpy(sw->payload, hdr, sw->len);
        return;
    }

    sw->len = sl_t_client_hello(sw->payload, sizeof(sw->payload));
}

static void
closed(swarm_t *sw, conn_t *c)
{
    long long  ms = sl_t_msec() - c->opened;

    if (sw->first_ms < 0 || ms < sw->first_ms) {
        sw->first_ms = ms;
    }
    if (ms > sw->last_ms) {
        sw->last_ms = ms;
    }

    (void) epoll_ctl(sw->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    sw->open--;
}

/* one byte more to each open attacker (a stalling one sends all once) */
static void
dribble(swarm_t *sw, int all)
{
    conn_t   *c;
    size_t    want;
    ssize_t   n;
    int       i;

    for (i = 0; i < sw->n; i++) {
        c = &sw->conns[i];
        if (c->fd == -1 || c->sent >= sw->len) {
            continue;
        }

        want = all ? sw->len - c->sent : 1;
        n = send(c->fd, sw->payload + c->sent, want, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t) n;
        }
        /* EAGAIN: still connecting; an error: the close will show */
    }
}

static void
open_all(swarm_t *sw, int port)
{
    struct epoll_event  ev;
    int                 i, fd;

    sw->ep = epoll_create1(EPOLL_CLOEXEC);
    ck_assert_int_ge(sw->ep, 0);

    for (i = 0; i < sw->n; i++) {
        fd = sl_t_nb_connect(port);
        ck_assert_msg(fd >= 0, "connect %d: %s", i, strerror(errno));

        sw->conns[i].fd = fd;
        sw->conns[i].sent = 0;
        sw->conns[i].opened = sl_t_msec();
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u32 = (uint32_t) i;
        ck_assert_int_eq(epoll_ctl(sw->ep, EPOLL_CTL_ADD, fd, &ev), 0);
    }

    sw->open = sw->n;
}

/* until sluice closed every attacker; the peak of its memory meanwhile */
static void
run(swarm_t *sw)
{
    struct epoll_event  evs[256];
    long long           deadline, next;
    conn_t             *c;
    char                buf[4096];
    ssize_t             r;
    long                rss;
    int                 i, k, wait;

    deadline = sl_t_msec() + sl_t_timeout(T_ALL);
    next = sl_t_msec();

    while (sw->open > 0 && sl_t_msec() < deadline) {
        if (sl_t_msec() >= next) {
            dribble(sw, sw->attack == ATTACK_HELLO);
            next += sw->attack == ATTACK_HELLO ? 100 : TRICKLE_MS;

            rss = sl_t_rss_kb(sw->pid);
            if (rss > sw->rss_peak) {
                sw->rss_peak = rss;
            }
        }

        wait = (int) (next - sl_t_msec());
        k = epoll_wait(sw->ep, evs, 256, wait > 0 ? wait : 0);

        for (i = 0; i < k; i++) {
            c = &sw->conns[evs[i].data.u32];
            if (c->fd == -1) {
                continue;
            }

            r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                closed(sw, c);
            }
            /* bytes: an alert or a ServerHello; the close comes after */
        }
    }

    close(sw->ep);
}

START_TEST(test_slow_clients)
{
    sl_t_sluice_t          srv;
    sl_t_steady_t         *st;
    sl_t_steady_counts_t   sc;
    swarm_t                sw;
    const char            *name = names[_i], *log;
    long                   rss0, bound;
    long                   back;
    int                    fds0, last, rate, timedout;

    (void) signal(SIGPIPE, SIG_IGN);

    memset(&sw, 0, sizeof(sw));
    sw.attack = _i;
    sw.n = sl_t_storm_n(300, 5000, 3);
    rate = sl_t_hostile_n(50, 200);
    sw.conns = calloc((size_t) sw.n, sizeof(conn_t));
    ck_assert_ptr_nonnull(sw.conns);
    sw.first_ms = -1;

    /* sluice inherits the limit: it holds every attacker at once */
    ck_assert_int_ge(sl_t_raise_nofile(2 * sw.n + 1024), sw.n + 512);

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { worker_connections %d; }\n"
        "stream { server { %s echo; } }\n", sw.n + 1024,
        conf(_i == ATTACK_PROXY ? ATTACK_PROXY : ATTACK_TLS)));

    sw.pid = sl_t_pid(srv.proc);
    payload(&sw);

    /* the baseline, once a client went through */
    st = sl_t_steady_start(srv.port, _i == ATTACK_PROXY ? SL_TS_PROXY
                                                        : SL_TS_TLS, rate, 2);
    ck_assert_int_eq(sl_t_steady_wait(st, 5, T_ALL), 0);
    fds0 = sl_t_fd_count(sw.pid);
    rss0 = sl_t_rss_kb(sw.pid);
    sw.rss_peak = rss0;

    open_all(&sw, srv.port);
    run(&sw);

    sl_t_steady_stop(st, &sc);

    ck_assert_msg(sw.open == 0, "%s: %d of %d attackers still open after"
                  " %d ms", name, sw.open, sw.n, T_ALL);

    log = sl_t_read(srv.log);
    timedout = sl_t_count(log, _i == ATTACK_PROXY
                     ? "client timed out (110: Connection timed out) while"
                       " reading PROXY protocol"
                     : "client timed out (110: Connection timed out) while"
                       " SSL handshaking");
    ck_assert_msg(timedout == sw.n, "%s: %d attackers timed out, not %d",
                  name, timedout, sw.n);

    ck_assert_msg(sc.failed == 0 && sc.ok > 0,
                  "%s: the steady client: ok %ld, failed %ld, first: %s",
                  name, sc.ok, sc.failed, sc.error);

    bound = rss0 + (long) sw.n * RSS_PER_CONN_KB + SLACK_KB;
    ck_assert_msg(!sl_t_hostile_rss_checked() || sw.rss_peak <= bound,
                  "%s: RSS peaked at %ld kB, over"
                  " the bound %ld kB", name, sw.rss_peak, bound);

    back = sl_t_await_fds(sw.pid, fds0, 10000, &last);
    ck_assert_msg(back >= 0, "%s: %d descriptors, baseline %d", name, last,
                  fds0);

    sl_t_hostile_figure(name, "%d connections, all closed at the %s timeout"
                        " (open to close: %lld..%lld ms); steady client"
                        " %d/s: %ld ok, 0 failed, %.1f ms avg, %ld ms max%s;"
                        " RSS %ld kB -> peak %ld kB (bound %ld kB, %.1f kB"
                        " per attacker); fds %d again after %ld ms",
                        sw.n, timeout(), sw.first_ms, sw.last_ms, rate,
                        sc.ok,
                        sc.ms_avg, sc.ms_max,
                        _i == ATTACK_PROXY ? ""
                        : sl_t_printf(", handshake %.1f ms avg, %ld ms max",
                                      sc.hs_avg, sc.hs_max),
                        rss0, sw.rss_peak, bound,
                        (double) (sw.rss_peak - rss0) / sw.n, fds0, back);

    ck_assert_ptr_null(sl_t_log_find(log, "alert", ""));
    ck_assert_ptr_null(sl_t_log_find(log, "crit", ""));
    sl_t_sluice_stop(&srv);
    free(sw.conns);
}
END_TEST

static Suite *
hostile_slowloris_suite(void)
{
    Suite  *s = suite_create("hostile_slowloris");
    TCase  *tc = tcase_create("slow");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_slow_clients, ATTACK_TLS, ATTACK_HELLO + 1);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(hostile_slowloris_suite)
