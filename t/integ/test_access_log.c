/*
 * test_access_log.c -- log_format and access_log through the real binary:
 * lines exactly as formatted (addresses, ports, counters, status, the
 * times), the three escapings, buffers (held, flushed when full, by the
 * flush timer, at exit), "off", several logs, inheritance, USR1, and the
 * configuration errors.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
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

/* one session to fd: sends what, reads the answer to the end */
static char *
session(int fd, const char *what)
{
    if (what != NULL) {
        sl_t_send_all(fd, what, strlen(what), T_IO);
    }

    return sl_t_recv_text(fd, NULL, T_IO);
}

static char *
logf_path(sl_t_sluice_t *srv, const char *name)
{
    return sl_t_path(srv->dir, sl_t_printf("logs/%s", name));
}

#define wait_lines(path, n)  sl_t_wait_lines(path, n, T_IO)

START_TEST(test_log_exact_line)
{
    sl_t_sluice_t       srv;
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    char               *line, *want;
    int                 fd;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format f '$remote_addr:$remote_port>$server_addr:'\n"
        "                 '$server_port $protocol [$status] '\n"
        "                 '$bytes_sent/$bytes_received \"${connection}\" '\n"
        "                 'x$binary_remote_addr!';\n"
        "    access_log logs/a.log f;\n"
        "    server { listen 127.0.0.1:@PORT@; return \"hello\\n\"; }\n"
        "}\n");

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    ck_assert_str_eq(session(fd, NULL), "hello\n");

    line = wait_lines(logf_path(&srv, "a.log"), 1);

    /* binary 127.0.0.1 escaped: \x7F\x00\x00\x01; connection 1 */
    want = sl_t_printf("127.0.0.1:%d>127.0.0.1:%d TCP [200] 6/0 \"1\" "
                       "x\\x7F\\x00\\x00\\x01!\n",
                       ntohs(sin.sin_port), srv.port);
    ck_assert_str_eq(line, want);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* the times: $msec, and $time_local and $time_iso8601 of its second */
START_TEST(test_log_times)
{
    sl_t_sluice_t  srv;
    char          *line, local[64], iso[64], zone[8], want[256];
    long long      sec, t0, t1;
    struct tm      tm;
    time_t         t;
    int            ms, n;
    double         st;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format t '$msec|$time_local|$time_iso8601|$session_time';\n"
        "    access_log logs/t.log t;\n"
        "    server { listen 127.0.0.1:@PORT@; return x; }\n"
        "}\n");

    t0 = (long long) time(NULL);
    session(sl_t_connect("127.0.0.1", srv.port), NULL);
    line = wait_lines(logf_path(&srv, "t.log"), 1);
    t1 = (long long) time(NULL);

    n = sscanf(line, "%lld.%3d|", &sec, &ms);
    ck_assert_msg(n == 2 && sec >= t0 - 1 && sec <= t1 + 1,
                  "$msec in \"%s\" is not of %lld..%lld", line, t0, t1);

    t = (time_t) sec;
    ck_assert_ptr_nonnull(localtime_r(&t, &tm));
    strftime(local, sizeof(local), "%d/%b/%Y:%H:%M:%S %z", &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof(zone), "%z", &tm);

    snprintf(want, sizeof(want), "%lld.%03d|%s|%s%.3s:%s|", sec, ms, local,
             iso, zone, zone + 3);
    ck_assert_msg(strncmp(line, want, strlen(want)) == 0,
                  "\"%s\" does not begin with \"%s\"", line, want);

    /* seconds with three decimals, then the end of the line */
    n = sscanf(line + strlen(want), "%lf", &st);
    ck_assert_msg(n == 1 && st >= 0 && st < 60
                  && strlen(line + strlen(want)) == sizeof("0.000\n") - 1,
                  "$session_time in \"%s\"", line);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* a unix client bound to dir/name */
static int
connect_unix_from(const char *dir, const char *name, const char *path)
{
    struct sockaddr_un  sa;
    int                 fd;

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
    ck_assert_msg(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0,
                  "bind(%s)", sa.sun_path);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    ck_assert_msg(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0,
                  "connect(%s)", path);
    return fd;
}

/*
 * Escaping, on $remote_addr of a unix client bound to a name that holds
 * a quote, a backslash, a tab, a byte 0x01, 0x7f and "é" (0xC3 0xA9).
 */
START_TEST(test_log_escaping)
{
    sl_t_sluice_t  srv;
    const char    *name = "q\"b\\t\tc\001\177\303\251.s";
    char          *d, *j, *n;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format d '\"$remote_addr\" $server_addr';\n"
        "    log_format j escape=json '{\"a\":\"$remote_addr\"}';\n"
        "    log_format n escape=none '$remote_addr';\n"
        "    log_format e escape=default '$remote_addr';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        listen unix:@DIR@/s.sock;\n"
        "        access_log logs/d.log d;\n"
        "        access_log logs/j.log j;\n"
        "        access_log logs/n.log n;\n"
        "        access_log logs/e.log e;\n"
        "        return x;\n"
        "    }\n"
        "}\n");

    session(connect_unix_from(srv.dir, name,
                              sl_t_path(srv.dir, "s.sock")), NULL);

    d = wait_lines(logf_path(&srv, "d.log"), 1);
    j = wait_lines(logf_path(&srv, "j.log"), 1);
    n = wait_lines(logf_path(&srv, "n.log"), 1);

    /* default: '"' '\' and control bytes and bytes >= 0x7f as \xXX */
    ck_assert_str_eq(d, sl_t_printf("\"unix:%s/q\\x22b\\x5Ct\\x09c\\x01"
                                    "\\x7F\\xC3\\xA9.s\" unix:%s/s.sock\n",
                                    srv.dir, srv.dir));
    ck_assert_str_eq(wait_lines(logf_path(&srv, "e.log"), 1),
                     sl_t_printf("unix:%s/q\\x22b\\x5Ct\\x09c\\x01"
                                 "\\x7F\\xC3\\xA9.s\n", srv.dir));
    /* json: \" \\ \t and \u0001; other bytes as they are */
    ck_assert_str_eq(j, sl_t_printf("{\"a\":\"unix:%s/q\\\"b\\\\t\\tc"
                                    "\\u0001\177\303\251.s\"}\n", srv.dir));
    /* none: as it is */
    ck_assert_str_eq(n, sl_t_printf("unix:%s/%s\n", srv.dir, name));
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A missing value ($proxy_protocol_addr without a header): "-" by
 * default, nothing with json and none. An empty one ($server_port of a
 * unix socket) is empty in all three.
 */
START_TEST(test_log_not_found)
{
    sl_t_sluice_t  srv;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format d 'a=$proxy_protocol_addr;p=$server_port;';\n"
        "    log_format j escape=json 'a=$proxy_protocol_addr;"
        "p=$server_port;';\n"
        "    log_format n escape=none 'a=$proxy_protocol_addr;"
        "p=$server_port;';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        listen unix:@DIR@/s.sock;\n"
        "        access_log logs/d.log d;\n"
        "        access_log logs/j.log j;\n"
        "        access_log logs/n.log n;\n"
        "        return x;\n"
        "    }\n"
        "}\n");

    session(sl_t_connect_unix(sl_t_path(srv.dir, "s.sock")), NULL);
    ck_assert_str_eq(wait_lines(logf_path(&srv, "d.log"), 1), "a=-;p=;\n");
    ck_assert_str_eq(wait_lines(logf_path(&srv, "j.log"), 1), "a=;p=;\n");
    ck_assert_str_eq(wait_lines(logf_path(&srv, "n.log"), 1), "a=;p=;\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_log_several_and_off)
{
    sl_t_sluice_t  srv;
    char          *sock;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format a 'A $status';\n"
        "    log_format b 'B $bytes_sent';\n"
        "    access_log logs/top.log a;\n"
        "    server {\n"                     /* inherits top.log */
        "        listen 127.0.0.1:@PORT@;\n"
        "        return ab;\n"
        "    }\n"
        "    server {\n"                     /* two of its own, one file */
        "        listen unix:@DIR@/two.sock;\n"
        "        access_log logs/two.log a;\n"
        "        access_log logs/two.log b;\n"
        "        access_log logs/b.log b;\n"
        "        return abc;\n"
        "    }\n"
        "    server {\n"
        "        listen unix:@DIR@/off.sock;\n"
        "        access_log off;\n"
        "        return abcd;\n"
        "    }\n"
        "}\n");

    /* off first: had it logged, its line would come before the others */
    sock = sl_t_path(srv.dir, "off.sock");
    ck_assert_str_eq(session(sl_t_connect_unix(sock), NULL), "abcd");
    sock = sl_t_path(srv.dir, "two.sock");
    ck_assert_str_eq(session(sl_t_connect_unix(sock), NULL), "abc");
    ck_assert_str_eq(session(sl_t_connect("127.0.0.1", srv.port), NULL),
                     "ab");

    ck_assert_str_eq(wait_lines(logf_path(&srv, "two.log"), 2),
                     "A 200\nB 3\n");
    ck_assert_str_eq(wait_lines(logf_path(&srv, "b.log"), 1), "B 3\n");
    ck_assert_str_eq(wait_lines(logf_path(&srv, "top.log"), 1), "A 200\n");
    sl_t_sluice_stop(&srv);

    ck_assert_str_eq(sl_t_read(logf_path(&srv, "top.log")), "A 200\n");
}
END_TEST

/* a buffer holds lines until the next does not fit, or until exit */
START_TEST(test_log_buffer)
{
    sl_t_sluice_t  srv;
    char          *b = NULL, *u;

    /* each line is 11 bytes; two fit in 24, the third does not */
    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format f 'line $connection...';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        access_log logs/b.log f buffer=24 flush=1h;\n"
        "        access_log logs/u.log f;\n"
        "        return x;\n"
        "    }\n"
        "}\n");

    session(sl_t_connect("127.0.0.1", srv.port), NULL);
    session(sl_t_connect("127.0.0.1", srv.port), NULL);
    u = wait_lines(logf_path(&srv, "u.log"), 2);
    ck_assert_str_eq(u, "line 1...\nline 2...\n");

    /* the unbuffered log has both: the buffered one none yet */
    b = sl_t_read(logf_path(&srv, "b.log"));
    ck_assert_msg(b == NULL || *b == '\0', "b.log: \"%s\"", b);

    /* the third does not fit: the first two go out */
    session(sl_t_connect("127.0.0.1", srv.port), NULL);
    wait_lines(logf_path(&srv, "u.log"), 3);
    ck_assert_str_eq(wait_lines(logf_path(&srv, "b.log"), 2),
                     "line 1...\nline 2...\n");

    /* at exit, the rest */
    sl_t_sluice_stop(&srv);
    ck_assert_str_eq(sl_t_read(logf_path(&srv, "b.log")),
                     "line 1...\nline 2...\nline 3...\n");
}
END_TEST

START_TEST(test_log_flush_timer)
{
    sl_t_sluice_t  srv;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format f 'flushed $status';\n"
        "    access_log logs/b.log f buffer=64k flush=100ms;\n"
        "    server { listen 127.0.0.1:@PORT@; return x; }\n"
        "}\n");

    session(sl_t_connect("127.0.0.1", srv.port), NULL);

    /* nothing else happens: only the timer can write it */
    ck_assert_str_eq(wait_lines(logf_path(&srv, "b.log"), 1),
                     "flushed 200\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * USR1: the log renamed away is reopened under its name; what a buffered
 * log holds goes first to the file it was written for.
 */
static void
log_reopen(const char *buffer)
{
    sl_t_sluice_t  srv;
    char          *path, *old;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    log_format f 's $connection';\n"
        "    access_log logs/a.log f%s;\n"
        "    server { listen 127.0.0.1:@PORT@; return x; }\n"
        "}\n", buffer));

    path = logf_path(&srv, "a.log");
    old = logf_path(&srv, "a.log.1");

    /* the session is logged before its connection closes */
    session(sl_t_connect("127.0.0.1", srv.port), NULL);
    if (*buffer == '\0') {
        wait_lines(path, 1);
    } else {
        ck_assert_str_eq(sl_t_read(path), "");
    }
    ck_assert_int_eq(rename(path, old), 0);

    sl_t_signal(srv.proc, SIGUSR1);
    sl_t_wait_file(srv.log, "reopening logs", T_IO);
    sl_t_wait_file(path, NULL, T_IO);
    ck_assert_str_eq(sl_t_read(old), "s 1\n");

    session(sl_t_connect("127.0.0.1", srv.port), NULL);
    sl_t_sluice_stop(&srv);
    ck_assert_str_eq(sl_t_read(path), "s 2\n");
    ck_assert_str_eq(sl_t_read(old), "s 1\n");
}

START_TEST(test_log_reopen)
{
    log_reopen("");
}
END_TEST

START_TEST(test_log_reopen_flushes_buffer)
{
    log_reopen(" buffer=64k");
}
END_TEST

static void
assert_conf_error(const char *stream, const char *msg)
{
    sl_t_conf_error(sl_t_printf(
        "error_log logs/error.log;\n"
        "stream {\n"
        "    log_format f x;\n"
        "    %s\n"
        "    server { listen unix:@DIR@/s.sock; return x; }\n"
        "}\n", stream), msg);
}

START_TEST(test_log_conf_errors)
{
    assert_conf_error("access_log logs/a.log;",
                      "log format is not specified");
    assert_conf_error("access_log logs/a.log nosuch;",
                      "unknown log format \"nosuch\"");
    assert_conf_error("log_format f y;", "duplicate \"log_format\" name "
                      "\"f\"");
    assert_conf_error("log_format g escape=xml x;",
                      "unknown log format escaping \"xml\"");
    assert_conf_error("log_format g '$nosuch';",
                      "unknown \"nosuch\" variable");
    assert_conf_error("log_format g '${status';", "the closing bracket in "
                      "\"status\" variable is missing");
    assert_conf_error("log_format g 'a$';", "invalid parameter \"a$\"");
    assert_conf_error("access_log logs/a.log f flush=1s;",
                      "no buffer is defined for access_log "
                      "\"logs/a.log\"");
    assert_conf_error("access_log logs/a.log f buffer=0;",
                      "invalid buffer size \"0\"");
    assert_conf_error("access_log logs/a.log f buffer=1k flush=x;",
                      "invalid flush time \"x\"");
    assert_conf_error("access_log logs/a.log f gzip;",
                      "invalid parameter \"gzip\"");
    assert_conf_error("access_log off f;", "invalid parameter \"f\"");
    assert_conf_error("access_log logs/a.log f buffer=1k; "
                      "access_log logs/a.log f buffer=2k;",
                      "access_log \"logs/a.log\" already defined with "
                      "conflicting parameters");
    assert_conf_error("access_log logs/$status.log f;",
                      "variables in the path of \"access_log\" are not "
                      "supported");
}
END_TEST

static Suite *
access_log_suite(void)
{
    Suite  *s = suite_create("access_log");
    TCase  *tc = tcase_create("log");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_log_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_log_exact_line);
    tcase_add_test(tc, test_log_times);
    tcase_add_test(tc, test_log_escaping);
    tcase_add_test(tc, test_log_not_found);
    tcase_add_test(tc, test_log_several_and_off);
    tcase_add_test(tc, test_log_buffer);
    tcase_add_test(tc, test_log_flush_timer);
    tcase_add_test(tc, test_log_reopen);
    tcase_add_test(tc, test_log_reopen_flushes_buffer);
    tcase_add_test(tc, test_log_conf_errors);
    return s;
}

SL_TEST_MAIN(access_log_suite)
