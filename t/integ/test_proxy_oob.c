/*
 * test_proxy_oob.c -- TCP urgent data (send(MSG_OOB)) through the proxy.
 *
 * recv() stops short at the urgent mark and splice() does not pass it at
 * all, so a proxy that did nothing about it stalled a direction there
 * (until proxy_timeout) or, once the sender had closed, took the mark for
 * the end and dropped what came after it. The proxy relays the urgent
 * byte inline, as an ordinary byte in its place in the stream: these
 * tests send bulk data (enough to turn a direction with 1k buffers to
 * splice(2)), one urgent byte and more data, and check that the other
 * side gets all of it, in order, and then the end. Each direction, on
 * each event back end, with proxy_splice on and off.
 *
 * The test is both the client and the server behind the proxy. sluice is
 * stopped (SIGSTOP) while a side sends, so that everything, the urgent
 * byte and what follows it too, is queued before sluice reads the first
 * byte: no new data wakes sluice after it reached the mark, which is
 * where a stall shows. proxy_timeout is an hour and the waits here are
 * far shorter: a stall fails a wait, not the proxy.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_IO        20000       /* ms for one exchange to complete */
#define NBACKENDS   sl_t_nbackends()

#define PRE         8300        /* fills 1k buffers: the direction splices */
#define POST        4096        /* what follows the urgent byte */
#define TOTAL       (PRE + 1 + POST)

#ifndef SL_HAVE_stream_proxy_MODULE
#define SL_HAVE_stream_proxy_MODULE  0
#endif
#ifndef SL_HAVE_SPLICE
#define SL_HAVE_SPLICE  0
#endif

/* a listening socket on 127.0.0.1, on a port of the kernel's choice */
static int
server(int *port)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);

    *port = ntohs(sin.sin_port);
    return fd;
}

static int
accept_one(int lfd)
{
    struct pollfd  pfd;
    int            fd;

    pfd.fd = lfd;
    pfd.events = POLLIN;
    ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(T_IO)), 1);

    fd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    return fd;
}

/* the process is stopped: its state in /proc/PID/stat is 'T' */
static int
is_stopped(void *data)
{
    char   *stat, *p;
    pid_t   pid = *(pid_t *) data;

    stat = sl_t_read(sl_t_printf("/proc/%d/stat", (int) pid));
    if (stat == NULL) {
        return 0;
    }

    /* "PID (COMM) STATE ...": COMM may hold anything but the last ')' */
    p = strrchr(stat, ')');
    return p != NULL && p[1] == ' ' && p[2] == 'T';
}

static void
stop(sl_t_sluice_t *srv)
{
    pid_t  pid = sl_t_pid(srv->proc);

    sl_t_signal(srv->proc, SIGSTOP);
    ck_assert_msg(sl_t_wait_for(is_stopped, &pid, NULL, sl_t_timeout(T_IO))
                  == 0, "sluice (%d) did not stop", (int) pid);
}

/* exactly len bytes, each wait for them bounded */
static void
recv_exact(int fd, char *buf, size_t len)
{
    struct pollfd  pfd;
    size_t         got;
    ssize_t        n;

    for (got = 0; got < len; got += (size_t) n) {
        pfd.fd = fd;
        pfd.events = POLLIN;
        ck_assert_msg(poll(&pfd, 1, sl_t_timeout(T_IO)) == 1,
                      "stalled after %zu of %zu bytes", got, len);
        n = recv(fd, buf + got, len - got, 0);
        ck_assert_msg(n > 0, "the end after %zu of %zu bytes", got, len);
    }
}

/*
 * One session: src sends PRE bytes, the urgent byte 'X' and POST bytes,
 * all while sluice is stopped; dst must get the same TOTAL bytes, 'X' in
 * its place. With at_once src closes right after them (the mark must not
 * read as the end); else it closes once dst had them all (no stall).
 */
static void
session(sl_t_sluice_t *srv, int lfd, int down, int at_once)
{
    static char  out[TOTAL], in[TOTAL + 1];
    int          client, upstream, src, dst, reset;
    size_t       i, n;

    for (i = 0; i < TOTAL; i++) {
        out[i] = (char) sl_t_pattern(i);
    }
    out[PRE] = 'X';

    client = sl_t_connect("127.0.0.1", srv->port);
    upstream = accept_one(lfd);
    src = down ? upstream : client;
    dst = down ? client : upstream;

    stop(srv);

    sl_t_send_all(src, out, PRE, T_IO);
    n = (size_t) send(src, "X", 1, MSG_OOB);
    sl_t_send_all(src, out + PRE + 1, POST, T_IO);
    if (at_once) {
        ck_assert_int_eq(close(src), 0);
    }

    sl_t_signal(srv->proc, SIGCONT);
    ck_assert_int_eq(n, 1);

    if (at_once) {
        reset = 0;
        n = sl_t_recv_all(dst, in, sizeof(in), &reset, T_IO);
        ck_assert_msg(n == TOTAL && !reset, "%s, at once: %zu bytes of %d, "
                      "then a %s; %s", down ? "down" : "up", n, TOTAL,
                      reset ? "reset" : "FIN", sl_t_read(srv->log));

    } else {
        recv_exact(dst, in, TOTAL);
        ck_assert_int_eq(close(src), 0);
        reset = 0;
        ck_assert_int_eq(sl_t_recv_all(dst, in + TOTAL, 1, &reset, T_IO),
                         0);
        ck_assert_int_eq(reset, 0);
    }

    ck_assert_msg(memcmp(in, out, TOTAL) == 0, "%s: the bytes differ",
                  down ? "down" : "up");
    (void) close(dst);
}

/*
 * _i in 0..NBACKENDS-1: each event back end with proxy_splice on, the
 * same again with it off. Each direction, closed at once and not.
 */
START_TEST(test_oob)
{
    sl_t_sluice_t  srv;
    const char    *method = sl_t_backend(_i % NBACKENDS);
    char          *log;
    int            lfd, port, down, at_once, spliced;

    lfd = server(&port);

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_pass 127.0.0.1:%d;\n"
        "             proxy_buffer_size 1k; proxy_timeout 1h; %s }\n"
        "}\n", method, port, _i >= NBACKENDS ? "proxy_splice off;" : ""));

    for (down = 0; down <= 1; down++) {
        for (at_once = 0; at_once <= 1; at_once++) {
            session(&srv, lfd, down, at_once);
        }
    }

    sl_t_sluice_stop(&srv);
    (void) close(lfd);

    /* every session spliced up to the mark (on every back end) */
    log = sl_t_read(srv.log);
    spliced = SL_HAVE_SPLICE && _i < NBACKENDS;
    ck_assert_msg(sl_t_count(log, "proxying with splice()") == (spliced ? 4 : 0),
                  "%s", log);
    ck_assert_ptr_null(strstr(log, "timed out"));
}
END_TEST

START_TEST(test_not_built)
{
    ck_assert_int_eq(SL_HAVE_stream_proxy_MODULE, 0);
}
END_TEST

static Suite *
proxy_oob_suite(void)
{
    Suite  *s = suite_create("proxy_oob");
    TCase  *tc = tcase_create("oob");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);

    if (!SL_HAVE_stream_proxy_MODULE) {
        tcase_add_test(tc, test_not_built);
    } else {
        tcase_add_loop_test(tc, test_oob, 0, 2 * NBACKENDS);
    }

    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(proxy_oob_suite)
