/*
 * test_syslog.c -- "syslog:" targets of error_log and access_log through
 * the real binary, received by the test's own UDP and unix datagram
 * sockets: the exact RFC 3164 lines (priority from facility and
 * severity, the time, the hostname, the tag), several targets at once,
 * targets that do not exist and a receiver that never reads (the worker
 * serves on, and says so at most once a second), access_log's if=, and
 * the configuration errors in nginx's words.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define T_IO  10000

#ifndef SL_HAVE_stream_log_MODULE
#define SL_HAVE_stream_log_MODULE  0
#endif
#ifndef SL_HAVE_stream_return_MODULE
#define SL_HAVE_stream_return_MODULE  0
#endif
#ifndef SL_HAVE_stream_echo_MODULE
#define SL_HAVE_stream_echo_MODULE  0
#endif

/* --- receivers ----------------------------------------------------------- */

static int
udp_receiver(int *port)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd;

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);

    *port = ntohs(sin.sin_port);
    return fd;
}

static int
unix_receiver(const char *path)
{
    struct sockaddr_un  sun;
    int                 fd;

    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
    strcpy(sun.sun_path, path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    return fd;
}

/* the next datagram, as text; NULL when none came within ms */
static char *
recv_dgram(int fd, int ms)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };
    char           buf[8192];
    ssize_t        n;

    if (poll(&pfd, 1, ms) != 1) {
        return NULL;
    }

    n = recv(fd, buf, sizeof(buf), 0);
    ck_assert_int_ge(n, 0);
    return sl_t_printf("%.*s", (int) n, buf);
}

/* the next datagram that contains text (others are skipped) */
static char *
recv_with(int fd, const char *text)
{
    char  *d;

    for ( ;; ) {
        d = recv_dgram(fd, T_IO);
        ck_assert_msg(d != NULL, "no datagram with \"%s\"", text);
        if (strstr(d, text) != NULL) {
            return d;
        }
    }
}

/* --- the header ---------------------------------------------------------- */

static const char *
hostname(void)
{
    static char  host[256];
    size_t       i;

    ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
    for (i = 0; host[i] != '\0'; i++) {
        host[i] = (char) tolower((unsigned char) host[i]);
    }

    return host;
}

/*
 * d begins with "<pri>Mmm dd hh:mm:ss " + host (NULL: nohostname) + " tag:
 * " for one of the seconds t0..t1: the rest of it.
 */
static const char *
assert_header(const char *d, int pri, const char *host, const char *tag,
    time_t t0, time_t t1)
{
    char        stamp[32], *want;
    struct tm   tm;
    time_t      t;

    for (t = t0; t <= t1; t++) {
        ck_assert_ptr_nonnull(localtime_r(&t, &tm));
        /* the day of the month padded with a space, as RFC 3164 says */
        strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);

        want = host ? sl_t_printf("<%d>%s %s %s: ", pri, stamp, host, tag)
                    : sl_t_printf("<%d>%s %s: ", pri, stamp, tag);

        if (strncmp(d, want, strlen(want)) == 0) {
            return d + strlen(want);
        }
    }

    ck_abort_msg("\"%s\" has not the header <%d>TIME %s%s%s: of %lld..%lld",
                 d, pri, host ? host : "", host ? " " : "", tag,
                 (long long) t0, (long long) t1);
    return NULL;
}

/* body is an error-log line at level whose message ends with tail */
static void
assert_log_line(const char *body, const char *level, const char *tail)
{
    const char  *msg = strchr(body, '#');

    ck_assert_msg(msg != NULL && (msg = strstr(msg, ": ")) != NULL,
                  "\"%s\" is not an error-log line", body);
    msg += 2;
    ck_assert_msg(sl_t_log_find(body, level, msg) == body,
                  "\"%s\" is not an error-log line at %s", body, level);
    ck_assert_msg(strlen(msg) >= strlen(tail)
                  && strcmp(msg + strlen(msg) - strlen(tail), tail) == 0,
                  "\"%s\" does not end with \"%s\"", body, tail);
}

/* one session: sends what (may be NULL), reads the answer to the end */
static char *
session(sl_t_sluice_t *srv, const char *what)
{
    int  fd;

    fd = sl_t_connect("127.0.0.1", srv->port);
    if (what != NULL) {
        sl_t_send_all(fd, what, strlen(what), T_IO);
    }
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    return sl_t_recv_text(fd, NULL, T_IO);
}

/* --- error_log ----------------------------------------------------------- */

/* the whole error-log line after the header, at the message's severity */
START_TEST(test_error_log_to_syslog)
{
    sl_t_sluice_t  srv;
    const char    *body;
    char          *d;
    time_t         t0, t1;
    int            fd, port;

    fd = udp_receiver(&port);

    t0 = time(NULL);
    sl_t_sluice_start(&srv, sl_t_printf(
        "error_log syslog:server=127.0.0.1:%d,tag=Edge_1 info;\n"
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@; return x; }\n"
        "}\n", port));

    /* notice: local7 (23) * 8 + 5 */
    d = recv_with(fd, "started");
    t1 = time(NULL);
    body = assert_header(d, 189, hostname(), "Edge_1", t0, t1);
    assert_log_line(body, "notice", " started");
    ck_assert_msg(strchr(d, '\n') == NULL, "a line feed in \"%s\"", d);

    /* info: 23 * 8 + 6, with the session's number and context */
    ck_assert_str_eq(session(&srv, NULL), "x");
    d = recv_with(fd, "connected to");
    t1 = time(NULL);
    body = assert_header(d, 190, hostname(), "Edge_1", t0, t1);
    assert_log_line(body, "info", sl_t_printf("connected to 127.0.0.1:%d",
                                              srv.port));
    ck_assert_msg(strstr(body, ": *1 client 127.0.0.1:") != NULL, "%s", body);

    sl_t_sluice_stop(&srv);
    close(fd);
}
END_TEST

/* --- access_log ---------------------------------------------------------- */

/* facility, severity and nohostname; a second target on a unix socket */
START_TEST(test_access_log_to_syslog)
{
    sl_t_sluice_t  srv;
    char          *dir, *path, *d;
    const char    *line;
    time_t         t0, t1;
    int            fd, ux, port;

    fd = udp_receiver(&port);
    dir = sl_t_mkdir();
    path = sl_t_path(dir, "log.sock");
    ux = unix_receiver(path);

    t0 = time(NULL);
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    log_format f '$remote_addr $status $bytes_received';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        echo;\n"
        "        access_log syslog:server=127.0.0.1:%d,facility=auth,"
                           "severity=warn,nohostname f;\n"
        "        access_log syslog:server=unix:%s f;\n"
        "    }\n"
        "}\n", port, path));

    ck_assert_str_eq(session(&srv, "abc"), "abc");

    /* auth (4) * 8 + warn (4); no hostname; the line has no line feed */
    d = recv_dgram(fd, T_IO);
    ck_assert_ptr_nonnull(d);
    t1 = time(NULL);
    line = assert_header(d, 36, NULL, "sluice", t0, t1);
    ck_assert_str_eq(line, "127.0.0.1 200 3");

    /* the defaults: local7 (23) * 8 + info (6), the hostname, "sluice" */
    d = recv_dgram(ux, T_IO);
    ck_assert_ptr_nonnull(d);
    t1 = time(NULL);
    line = assert_header(d, 190, hostname(), "sluice", t0, t1);
    ck_assert_str_eq(line, "127.0.0.1 200 3");

    /* one datagram a session on each */
    ck_assert_str_eq(session(&srv, "de"), "de");
    ck_assert_str_eq(assert_header(recv_dgram(fd, T_IO), 36, NULL, "sluice",
                                   t0, time(NULL)), "127.0.0.1 200 2");
    ck_assert_str_eq(assert_header(recv_dgram(ux, T_IO), 190, hostname(),
                                   "sluice", t0, time(NULL)),
                     "127.0.0.1 200 2");

    sl_t_sluice_stop(&srv);
    ck_assert_ptr_null(recv_dgram(fd, 0));
    close(fd);
    close(ux);
}
END_TEST

/*
 * A line too long for one UDP datagram (EMSGSIZE) is dropped alone: the
 * socket stays, and the next line goes out at once (it used to be closed,
 * and the target was silent until its retry a second later).
 */
START_TEST(test_syslog_too_long)
{
    sl_t_sluice_t  srv;
    char          *log;
    int            fd, port;

    fd = udp_receiver(&port);

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    map $bytes_received $pad { 1 $e; default \"\"; }\n"
        "    log_format f 'short $bytes_received$pad';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        set $a xxxxxxxxxx;\n"
        "        set $b $a$a$a$a$a$a$a$a$a$a;\n"
        "        set $c $b$b$b$b$b$b$b$b$b$b;\n"
        "        set $d $c$c$c$c$c$c$c$c$c$c;\n"
        "        set $e $d$d$d$d$d$d$d;\n"
        "        echo;\n"
        "        access_log syslog:server=127.0.0.1:%d f;\n"
        "    }\n"
        "}\n", port));

    /* 70,000 bytes: more than a UDP datagram holds */
    ck_assert_str_eq(session(&srv, "a"), "a");
    ck_assert_str_eq(session(&srv, "bc"), "bc");
    ck_assert_ptr_nonnull(strstr(recv_with(fd, "short 2"), "short 2"));

    log = sl_t_read(srv.log);
    ck_assert_ptr_nonnull(sl_t_log_has(log, "alert",
                                       "send() failed (90: Message too "
                                       "long)"));
    sl_t_sluice_stop(&srv);
    close(fd);
}
END_TEST

/* if=: a line only when the value is neither empty nor "0" */
START_TEST(test_access_log_if)
{
    sl_t_sluice_t  srv;
    char          *lines;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format f '$bytes_received';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        echo;\n"
        "        access_log logs/got.log f if=$bytes_received;\n"
        "        access_log logs/pp.log f if=$proxy_protocol_addr;\n"
        "        access_log logs/all.log f if=always$proxy_protocol_addr;\n"
        "    }\n"
        "}\n");

    ck_assert_str_eq(session(&srv, NULL), "");      /* "0": not logged */
    ck_assert_str_eq(session(&srv, "yz"), "yz");
    ck_assert_str_eq(session(&srv, NULL), "");
    ck_assert_str_eq(session(&srv, "abcd"), "abcd");

    lines = sl_t_wait_lines(sl_t_path(srv.dir, "logs/all.log"), 4, T_IO);
    ck_assert_str_eq(lines, "0\n2\n0\n4\n");
    sl_t_sluice_stop(&srv);

    ck_assert_str_eq(sl_t_read(sl_t_path(srv.dir, "logs/got.log")),
                     "2\n4\n");
    /* not found: empty, so never */
    ck_assert(!sl_t_exists(sl_t_path(srv.dir, "logs/pp.log"))
              || strcmp(sl_t_read(sl_t_path(srv.dir, "logs/pp.log")), "")
                 == 0);
}
END_TEST

/* --- a syslog that is not there, or does not read ----------------------- */

/* how many datagrams a unix socket queues before the sender must wait */
static int
dgram_qlen(void)
{
    char  *s;

    s = sl_t_read("/proc/sys/net/unix/max_dgram_qlen");
    return s != NULL ? atoi(s) : 512;
}

/*
 * A unix path with no socket, a UDP port nobody listens on, and a unix
 * receiver whose queue is full: every session is served, each message
 * costs a send at most, and each target's failure is told at most once
 * a second.
 */
START_TEST(test_syslog_dead_and_full)
{
    sl_t_sluice_t  srv;
    char          *dir, *full, *log;
    time_t         t0, t1;
    int            i, n, ux, dead, port, told;

    dir = sl_t_mkdir();
    full = sl_t_path(dir, "full.sock");
    ux = unix_receiver(full);               /* never read until the end */

    dead = udp_receiver(&port);
    close(dead);                            /* a port nobody has now */

    t0 = time(NULL);
    sl_t_sluice_start(&srv, sl_t_printf(
        "error_log syslog:server=unix:%s/none.sock warn;\n"
        "stream {\n"
        "    log_format f '$connection';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        return x;\n"
        "        access_log syslog:server=unix:%s/none.sock f;\n"
        "        access_log syslog:server=127.0.0.1:%d f;\n"
        "        access_log syslog:server=unix:%s f;\n"
        "        access_log logs/a.log f;\n"
        "    }\n"
        "}\n", dir, dir, port, full));

    n = dgram_qlen() + 20;
    if (n > 2000) {
        n = 2000;
    }

    for (i = 0; i < n; i++) {
        ck_assert_str_eq(session(&srv, NULL), "x");
    }

    sl_t_wait_lines(sl_t_path(srv.dir, "logs/a.log"), n, T_IO);
    t1 = time(NULL);
    sl_t_sluice_stop(&srv);

    log = sl_t_read(srv.log);

    /* the missing socket: told, but at most once a second */
    told = sl_t_count(log, sl_t_printf("connect() failed (2: No such file "
                                       "or directory) while logging to "
                                       "syslog, server: unix:%s/none.sock",
                                       dir));
    ck_assert_msg(told >= 1 && told <= (int) (t1 - t0) + 2,
                  "told %d times in %lld s", told, (long long) (t1 - t0));

    /* the full queue: some were dropped, and that was told as seldom */
    told = sl_t_count(log, sl_t_printf("send() failed (11: Resource "
                                       "temporarily unavailable) while "
                                       "logging to syslog, server: unix:%s",
                                       full));
    ck_assert_msg(told >= 1 && told <= (int) (t1 - t0) + 2,
                  "told %d times in %lld s", told, (long long) (t1 - t0));

    /* what the full receiver did get starts with the first session */
    ck_assert_str_eq(assert_header(recv_dgram(ux, T_IO), 190, hostname(),
                                   "sluice", t0, t1), "1");
    close(ux);
}
END_TEST

/* --- configuration ------------------------------------------------------- */

static void
assert_conf_error(const char *main, const char *stream, const char *msg)
{
    sl_t_conf_error(sl_t_printf(
        "error_log logs/error.log;\n"
        "%s\n"
        "stream {\n"
        "    log_format f x;\n"
        "    %s\n"
        "    server { listen unix:@DIR@/s.sock; return x; }\n"
        "}\n", main, stream), msg);
}

START_TEST(test_syslog_conf_errors)
{
    assert_conf_error("error_log syslog:tag=a;", "",
                      "no syslog server specified");
    assert_conf_error("error_log syslog:server=127.0.0.1,server=::1;", "",
                      "duplicate syslog \"server\"");
    assert_conf_error("error_log syslog:server=127.0.0.1:x;", "",
                      "invalid port in syslog server \"127.0.0.1:x\"");
    assert_conf_error("error_log syslog:server=127.0.0.1,facility=x;", "",
                      "unknown syslog facility \"x\"");
    assert_conf_error("error_log syslog:server=127.0.0.1,facility=user,"
                      "facility=user;", "",
                      "duplicate syslog \"facility\"");
    assert_conf_error("error_log syslog:server=127.0.0.1,severity=err;", "",
                      "unknown syslog severity \"err\"");
    assert_conf_error("error_log syslog:server=127.0.0.1,tag=a-b;", "",
                      "syslog \"tag\" only allows alphanumeric characters "
                      "and underscore");
    assert_conf_error("error_log syslog:server=127.0.0.1,tag="
                      "abcdefghijabcdefghijabcdefghijabc;", "",
                      "syslog tag length exceeds 32");
    assert_conf_error("error_log syslog:server=127.0.0.1,tag=a,tag=b;", "",
                      "duplicate syslog \"tag\"");
    assert_conf_error("error_log syslog:server=127.0.0.1,hostname;", "",
                      "unknown syslog parameter \"hostname\"");
    assert_conf_error("", "access_log syslog:server=127.0.0.1 f buffer=4k;",
                      "logs to syslog cannot be buffered");
    assert_conf_error("", "access_log syslog:server=127.0.0.1;",
                      "log format is not specified");
    assert_conf_error("", "access_log syslog:facility=user f;",
                      "no syslog server specified");
    assert_conf_error("", "access_log logs/a.log f if=$nosuch;",
                      "unknown \"nosuch\" variable");
}
END_TEST

/* the forms that are right: -t passes */
START_TEST(test_syslog_conf_ok)
{
    sl_t_out_t  out;
    int         status;

    status = sl_t_sluice_test(
        "error_log syslog:server=127.0.0.1 info;\n"
        "error_log syslog:server=[::1]:5140,facility=local0,severity=debug,"
        "tag=a_B1,nohostname;\n"
        "error_log syslog:server=unix:/dev/null/x warn;\n"
        "stream {\n"
        "    log_format f x;\n"
        "    access_log syslog:server=127.0.0.1:514,facility=kern f "
        "if=$status;\n"
        "    server { listen unix:@DIR@/s.sock; return x;\n"
        "             error_log syslog:server=127.0.0.1; }\n"
        "}\n", &out);
    ck_assert_msg(status == 0, "%s", out.err);
}
END_TEST

static Suite *
syslog_suite(void)
{
    Suite  *s = suite_create("syslog");
    TCase  *tc = tcase_create("syslog");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_log_MODULE || !SL_HAVE_stream_return_MODULE
        || !SL_HAVE_stream_echo_MODULE)
    {
        return s;
    }

    tcase_add_test(tc, test_syslog_conf_ok);
    tcase_add_test(tc, test_error_log_to_syslog);

    tcase_add_test(tc, test_access_log_to_syslog);
    tcase_add_test(tc, test_access_log_if);
    tcase_add_test(tc, test_syslog_too_long);
    tcase_add_test(tc, test_syslog_dead_and_full);
    tcase_add_test(tc, test_syslog_conf_errors);
    return s;
}

SL_TEST_MAIN(syslog_suite)
