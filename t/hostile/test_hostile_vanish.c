/*
 * test_hostile_vanish.c -- a peer that vanishes without a reset (issue
 * 13): a process that holds its end of a proxied session and is stopped
 * with SIGSTOP, so that no FIN and no reset ever comes.
 *
 *   client    the client is stopped: the session is closed at
 *             proxy_timeout (2s), "connection timed out" in the log;
 *   keepalive the same with "listen ... so_keepalive=1:1:1": the option
 *             is on the accepted socket (its keepalive timer runs, as
 *             /proc/net/tcp shows) and the session is closed all the
 *             same. On loopback the stopped process's kernel still
 *             answers every probe, so keepalive cannot end it before
 *             proxy_timeout does: when it ended is printed, not compared;
 *   upstream  the upstream is stopped: closed at proxy_timeout, and the
 *             client sees the end.
 *
 * The stopped processes are sl_t_fork()'s: the cleanup kills them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_hostile.h"
#include "sl_t_master.h"
#include "sl_t_storm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_IO     20000
#define T_CLOSE  60000      /* ms for the session to be closed */

enum { V_CLIENT = 0, V_KEEPALIVE, V_UPSTREAM, V_N };

static const char  *names[V_N] = { "vanish-client", "vanish-keepalive",
                                   "vanish-upstream" };

static int  port;           /* the child's: sluice's, or the listener */
static int  lfd;

/* a round trip through sluice's echo upstream, then a stop for good */
static void
client_child(void *data)
{
    char  buf[8];
    int   fd;

    (void) data;
    fd = sl_t_nb_connect(port);
    if (fd == -1 || sl_t_nb_connected(fd, T_IO) != 0
        || send(fd, "ping", 4, MSG_NOSIGNAL) != 4)
    {
        _exit(1);
    }

    {
        struct pollfd  pfd = { fd, POLLIN, 0 };

        if (poll(&pfd, 1, T_IO) != 1 || recv(fd, buf, 4, 0) != 4) {
            _exit(1);
        }
    }

    printf("ready\n");
    fflush(stdout);
    (void) raise(SIGSTOP);
    _exit(0);
}

/* an upstream that echoes one message and then stops for good */
static void
upstream_child(void *data)
{
    char  buf[64];
    int   fd;

    (void) data;
    fd = accept(lfd, NULL, NULL);
    if (fd == -1 || recv(fd, buf, 4, MSG_WAITALL) != 4
        || send(fd, buf, 4, MSG_NOSIGNAL) != 4)
    {
        _exit(1);
    }

    printf("ready\n");
    fflush(stdout);
    (void) raise(SIGSTOP);
    _exit(0);
}

static int
listener(void)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    lfd = fd;
    return ntohs(sin.sin_port);
}

/*
 * The timer of the established socket whose local port is lport, as
 * /proc/net/tcp shows it ("tr": 0 none, 1 retransmit, 2 keepalive...),
 * or -1 when there is none.
 */
static int
timer_of(int lport)
{
    char          *text = sl_t_read("/proc/net/tcp"), *p;
    unsigned int   lp, st, tr;

    for (p = strchr(text, '\n'); p != NULL; p = strchr(p + 1, '\n')) {
        if (sscanf(p + 1, "%*d: %*8x:%4x %*8x:%*4x %2x %*8x:%*8x %2x",
                   &lp, &st, &tr) == 3
            && (int) lp == lport && st == 1)
        {
            return (int) tr;
        }
    }

    return -1;
}

static int
is_stopped(void *data)
{
    char  *st = sl_t_proc_status(*(pid_t *) data, "State");

    return st != NULL && st[0] == 'T';
}

START_TEST(test_vanish)
{
    sl_t_sluice_t   srv;
    sl_t_proc_t    *peer;
    const char     *alog, *log, *line;
    long long       t0, ms;
    pid_t           pid;
    char            buf[8];
    int             up, fd = -1, timer, reset;

    up = listener();

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    log_format t '$session_time $status';\n"
        "    proxy_timeout 2s;\n"
        "    server { listen unix:@DIR@/echo.sock; echo; }\n"
        "    server { listen 127.0.0.1:@PORT@%s;\n"
        "             proxy_pass %s; access_log logs/a.log t; }\n"
        "}\n", _i == V_KEEPALIVE ? " so_keepalive=1:1:1" : "",
        _i == V_UPSTREAM ? sl_t_printf("127.0.0.1:%d", up)
                         : "unix:@DIR@/echo.sock"));

    alog = sl_t_path(srv.dir, "logs/a.log");
    port = srv.port;

    if (_i == V_UPSTREAM) {
        peer = sl_t_fork(upstream_child, NULL);
        fd = sl_t_connect("127.0.0.1", srv.port);
        sl_t_send_all(fd, "ping", 4, T_IO);
        {
            struct pollfd  pfd = { fd, POLLIN, 0 };

            ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(T_IO)), 1);
            ck_assert_int_eq(recv(fd, buf, 4, MSG_WAITALL), 4);
        }
    } else {
        peer = sl_t_fork(client_child, NULL);
    }

    sl_t_wait_output(peer, "ready", T_IO);
    pid = sl_t_pid(peer);
    ck_assert_int_eq(sl_t_wait_for(is_stopped, &pid, NULL,
                                   sl_t_timeout(T_IO)), 0);
    t0 = sl_t_msec();

    /* keepalive is on the accepted socket only where it was asked for */
    timer = timer_of(srv.port);
    if (_i == V_KEEPALIVE) {
        ck_assert_msg(timer == 2, "no keepalive timer (tr %d)", timer);
    } else if (_i == V_CLIENT) {
        ck_assert_msg(timer != 2, "a keepalive timer nobody asked for");
    }

    if (_i == V_UPSTREAM) {
        /* the client sees the end of a session it kept alive */
        (void) sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_CLOSE);
        close(fd);
    }

    line = sl_t_wait_lines(alog, 1, T_CLOSE);
    ms = sl_t_msec() - t0;

    log = sl_t_read(srv.log);
    ck_assert_msg(strstr(log, "connection timed out (110: Connection timed"
                         " out) while proxying") != NULL, "%s", log);
    ck_assert_msg(strstr(line, " 200\n") != NULL, "%s", line);

    sl_t_hostile_figure(names[_i], "%s stopped with SIGSTOP: the session"
                        " closed %lld ms after the stop (proxy_timeout 2s,"
                        " $session_time %.*s s)%s",
                        _i == V_UPSTREAM ? "an upstream" : "a client", ms,
                        (int) strcspn(line, " "), line,
                        _i == V_KEEPALIVE
                        ? "; keepalive 1:1:1 on, but the stopped peer's"
                          " kernel answers its probes" : "");

    sl_t_sluice_stop(&srv);
    close(lfd);
}
END_TEST

static Suite *
hostile_vanish_suite(void)
{
    Suite  *s = suite_create("hostile_vanish");
    TCase  *tc = tcase_create("vanish");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_vanish, V_CLIENT, V_N);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(hostile_vanish_suite)
