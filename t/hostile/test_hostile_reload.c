/*
 * test_hostile_reload.c -- a reload storm (issue 13): a HUP to the master
 * every second (full: for a minute; small: a few), while steady clients
 * open new connections (full: 1000 a second) and long-lived sessions sit
 * idle on the same server.
 *
 * The server is an echo with "shutdown_idle on" and a "deferred" listen
 * (a connection is accepted with its first bytes, so no new session is
 * ever idle before its client spoke). Criteria: no steady connection
 * fails; every long-lived session the old generation closes is closed
 * idle and orderly (its end of stream, never a reset, never in the
 * middle of a message), and is opened anew; once the storm stops, the
 * old workers are gone and the master has its one worker; the master's
 * descriptors are as they were after the first reload and its memory
 * within a stated slack. The pace of the reloads is the steady clients':
 * the next HUP goes once they made a second's worth of connections.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_hostile.h"
#include "sl_t_storm.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_IO          20000
#define LONG_MAX_N    256
#define RSS_SLACK_KB  1024

typedef struct {
    int    fd[LONG_MAX_N];
    int    n;
    long   reopened;
} longs_t;

/* a session that did one round trip and now sits idle */
static int
open_long(int port, int seq)
{
    struct pollfd  pfd;
    char           msg[32], buf[32];
    int            fd, len;

    len = snprintf(msg, sizeof(msg), "long %d\n", seq);
    fd = sl_t_connect("127.0.0.1", port);
    sl_t_send_all(fd, msg, (size_t) len, T_IO);
    pfd.fd = fd;
    pfd.events = POLLIN;
    ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(T_IO)), 1);
    ck_assert_int_eq(recv(fd, buf, (size_t) len, MSG_WAITALL), len);
    ck_assert(memcmp(buf, msg, (size_t) len) == 0);
    return fd;
}

/* the long-lived sessions the old generation closed: orderly, reopened */
static void
tend(longs_t *l, int port)
{
    struct pollfd  pfd;
    char           buf[64];
    ssize_t        n;
    int            i;

    for (i = 0; i < l->n; i++) {
        pfd.fd = l->fd[i];
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 0) != 1) {
            continue;
        }

        n = recv(l->fd[i], buf, sizeof(buf), MSG_DONTWAIT);
        ck_assert_msg(n == 0, "a long-lived session: %s",
                      n > 0 ? "bytes nobody asked for" : strerror(errno));
        close(l->fd[i]);
        l->fd[i] = open_long(port, i);
        l->reopened++;
    }
}

START_TEST(test_reload_storm)
{
    sl_t_master_t          m;
    sl_t_steady_t         *st;
    sl_t_steady_counts_t   sc;
    sl_t_pids_t            w;
    longs_t                l;
    long                   rss0, rss1, most = 0;
    int                    reloads, rate, i, fds0, fds1;

    (void) signal(SIGPIPE, SIG_IGN);

    reloads = sl_t_hostile_n(4, 60);
    rate = sl_t_storm_n(200, 1000, 4);
    l.n = sl_t_storm_n(20, 200, 2);
    l.reopened = 0;

    sl_t_master_start(&m, 1, 0,
        "events { worker_connections 8192; }\n"
        "stream { server { listen 127.0.0.1:@PORT@ deferred;"
        " shutdown_idle on; echo; } }\n");

    for (i = 0; i < l.n; i++) {
        l.fd[i] = open_long(m.port, i);
    }

    st = sl_t_steady_start(m.port, SL_TS_PLAIN, rate, rate >= 500 ? 4 : 2);
    ck_assert_int_eq(sl_t_steady_wait(st, rate / 4, T_IO), 0);

    fds0 = rss0 = 0;
    for (i = 0; i < reloads; i++) {
        sl_t_signal(m.proc, SIGHUP);

        /* a second's worth of connections, the long-lived ones tended */
        ck_assert_msg(sl_t_steady_wait(st, rate, T_IO) == 0,
                      "the steady clients stalled after reload %d", i + 1);
        tend(&l, m.port);

        sl_t_workers(&m, &w);
        most = w.n > most ? w.n : most;

        if (i == 0) {
            fds0 = sl_t_fd_count(m.master);
            rss0 = sl_t_vm_kb(m.master, "VmRSS");
        }
    }

    sl_t_steady_stop(st, &sc);
    ck_assert_msg(sc.failed == 0, "steady clients: %ld ok, %ld failed,"
                  " first: %s", sc.ok, sc.failed, sc.error);

    /* once idle, the old generations are gone */
    sl_t_wait_workers(&m, NULL, &w, T_IO);
    tend(&l, m.port);

    fds1 = sl_t_fd_count(m.master);
    rss1 = sl_t_vm_kb(m.master, "VmRSS");
    ck_assert_msg(fds1 == fds0, "the master had %d descriptors after the"
                  " first reload, %d after the last", fds0, fds1);
    ck_assert_msg(rss1 <= rss0 + RSS_SLACK_KB, "the master's RSS grew from"
                  " %ld kB to %ld kB", rss0, rss1);
    ck_assert_int_eq(sl_t_bad_exits(sl_t_read(m.log)), 0);

    sl_t_hostile_figure("reload-storm", "%d reloads, one a second's worth"
                        " of connections (%.1f s in all); steady clients"
                        " %d/s asked, %.0f/s made: %ld ok, 0 failed, %ld ms"
                        " max; %d long-lived idle sessions closed orderly"
                        " by the old workers %ld times and reopened; at"
                        " most %ld workers at once, 1 once idle; master"
                        " fds %d -> %d, RSS %ld -> %ld kB", reloads,
                        sc.seconds, rate, sc.ok / sc.seconds, sc.ok,
                        sc.ms_max, l.n, l.reopened, most, fds0, fds1, rss0,
                        rss1);

    for (i = 0; i < l.n; i++) {
        close(l.fd[i]);
    }
}
END_TEST

static Suite *
hostile_reload_suite(void)
{
    Suite  *s = suite_create("hostile_reload");
    TCase  *tc = sl_t_master_tcase(s, "reload", 600);

    tcase_add_test(tc, test_reload_storm);
    return s;
}

SL_TEST_MAIN(hostile_reload_suite)
