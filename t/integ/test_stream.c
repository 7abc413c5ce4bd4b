/*
 * test_stream.c -- the stream layer through the real binary: "return"
 * with variables (the exact formats nginx gives them), IPv6 and unix
 * listeners, a wildcard socket serving two servers, per-server error
 * logs with the session's log context, and the shipped sluice.conf.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define T_IO  10000

#ifndef SL_HAVE_stream_echo_MODULE
#define SL_HAVE_stream_echo_MODULE  0
#endif
#ifndef SL_HAVE_stream_return_MODULE
#define SL_HAVE_stream_return_MODULE  0
#endif

/* the last answer as it came, NULs and all */
static char    raw[4096];
static size_t  raw_len;

/* everything the peer sends until it closes, as a string */
static char *
answer(int fd)
{
    int  reset;

    raw_len = sl_t_recv_all(fd, raw, sizeof(raw) - 1, &reset, T_IO);
    ck_assert(!reset);
    close(fd);
    raw[raw_len] = '\0';
    return sl_t_printf("%s", raw);
}

/* the answer ends with these len bytes */
static int
raw_ends_with(const char *bytes, size_t len)
{
    return raw_len >= len && memcmp(raw + raw_len - len, bytes, len) == 0;
}

static int
local_port(int fd)
{
    struct sockaddr_storage  ss;
    socklen_t                len = sizeof(ss);

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &ss, &len), 0);
    return ss.ss_family == AF_INET6
           ? ntohs(((struct sockaddr_in6 *) &ss)->sin6_port)
           : ntohs(((struct sockaddr_in *) &ss)->sin_port);
}

static void
assert_match(const char *text, const char *pattern)
{
    regex_t  re;

    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "\"%s\" is not /%s/",
                  text, pattern);
    regfree(&re);
}

/* the '|'-separated field n of text */
static char *
field(const char *text, int n)
{
    const char  *p = text, *end;

    while (n-- > 0) {
        p = strchr(p, '|');
        ck_assert_ptr_nonnull(p);
        p++;
    }

    end = strchr(p, '|');
    return sl_t_printf("%.*s", (int) (end ? end - p : (long) strlen(p)), p);
}

/* --- return with variables ------------------------------------------------ */

START_TEST(test_return_variables)
{
    sl_t_sluice_t   srv;
    struct timeval  tv;
    char           *a, host[256];
    int             fd, cport, i;
    double          msec;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        return \"$remote_addr|$remote_port|$server_addr|"
                        "$server_port|$protocol|$connection|$sluice_version|"
                        "$msec|$status|$bytes_sent|$bytes_received|"
                        "$session_time|$time_local|$time_iso8601|$hostname|"
                        "$pid|${remote_addr}x|$binary_remote_addr\";\n"
        "    }\n"
        "}\n");

    fd = sl_t_connect("127.0.0.1", srv.port);
    cport = local_port(fd);
    a = answer(fd);

    ck_assert_str_eq(field(a, 0), "127.0.0.1");
    ck_assert_str_eq(field(a, 1), sl_t_printf("%d", cport));
    ck_assert_str_eq(field(a, 2), "127.0.0.1");
    ck_assert_str_eq(field(a, 3), sl_t_printf("%d", srv.port));
    ck_assert_str_eq(field(a, 4), "TCP");
    ck_assert_str_eq(field(a, 5), "1");
    ck_assert_str_eq(field(a, 6), SL_VERSION);

    /* seconds with milliseconds, and now */
    assert_match(field(a, 7), "^[0-9]{10}\\.[0-9]{3}$");
    gettimeofday(&tv, NULL);
    msec = strtod(field(a, 7), NULL);
    ck_assert(msec > tv.tv_sec - 60 && msec < tv.tv_sec + 1);

    /* the session is not finalized while it answers */
    ck_assert_str_eq(field(a, 8), "000");
    ck_assert_str_eq(field(a, 9), "0");
    ck_assert_str_eq(field(a, 10), "0");
    assert_match(field(a, 11), "^[0-9]+\\.[0-9]{3}$");
    assert_match(field(a, 12), "^[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:"
                 "[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$");
    assert_match(field(a, 13), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
                 "[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$");

    ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
    for (i = 0; host[i] != '\0'; i++) {
        host[i] = (char) tolower((unsigned char) host[i]);
    }
    ck_assert_str_eq(field(a, 14), host);
    ck_assert_str_eq(field(a, 15), sl_t_printf("%d", (int) sl_t_pid(srv.proc)));
    ck_assert_str_eq(field(a, 16), "127.0.0.1x");
    ck_assert(raw_ends_with("|\x7f\x00\x00\x01", 5));

    /* the next session is *2 */
    ck_assert_str_eq(field(answer(sl_t_connect("127.0.0.1", srv.port)), 5),
                     "2");

    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_return_constant)
{
    sl_t_sluice_t  srv;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@; return \"hello\\n\"; }\n"
        "}\n");

    ck_assert_str_eq(answer(sl_t_connect("127.0.0.1", srv.port)), "hello\n");
    ck_assert_str_eq(answer(sl_t_connect("127.0.0.1", srv.port)), "hello\n");

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- IPv6 and unix listeners ---------------------------------------------- */

START_TEST(test_ipv6_listener)
{
    sl_t_sluice_t  srv;
    char          *a, buf[8];
    int            fd, reset;

    if (!sl_t_have_ipv6()) {
        return;
    }

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server {\n"
        "        listen [::1]:@PORT@;\n"
        "        return \"$remote_addr|$remote_port|$server_addr|"
                        "$server_port|$binary_remote_addr\";\n"
        "    }\n"
        "    server { listen 127.0.0.1:@PORT@; echo; }\n"
        "}\n");

    fd = sl_t_connect("::1", srv.port);
    ck_assert_str_eq(field(a = answer(fd), 0), "::1");
    assert_match(field(a, 1), "^[0-9]+$");
    ck_assert_str_eq(field(a, 2), "::1");
    ck_assert_str_eq(field(a, 3), sl_t_printf("%d", srv.port));
    ck_assert(raw_ends_with("|\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 17));

    /* the same port on IPv4 is another socket, another server */
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, "v4", 2, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_uint_eq(sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_IO), 2);
    close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_unix_listeners)
{
    sl_t_sluice_t  srv;
    char          *a, *echo_path, buf[64];
    size_t         n;
    int            fd, reset;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server {\n"
        "        listen unix:@DIR@/ret.sock;\n"
        "        return \"$remote_addr|$remote_port|$server_addr|"
                        "$server_port|$binary_remote_addr\";\n"
        "    }\n"
        "    server { listen unix:@DIR@/echo.sock; echo; }\n"
        "    server { listen 127.0.0.1:@PORT@; echo; }\n"
        "}\n");

    a = answer(sl_t_connect_unix(sl_t_path(srv.dir, "ret.sock")));
    ck_assert_str_eq(field(a, 0), "unix:");
    ck_assert_str_eq(field(a, 1), "");
    ck_assert_str_eq(field(a, 2),
                     sl_t_printf("unix:%s", sl_t_path(srv.dir, "ret.sock")));
    ck_assert_str_eq(field(a, 3), "");
    ck_assert_str_eq(field(a, 4), "unix:");

    echo_path = sl_t_path(srv.dir, "echo.sock");
    fd = sl_t_connect_unix(echo_path);
    sl_t_send_all(fd, "over a unix socket", 18, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    n = sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_IO);
    ck_assert(!reset);
    ck_assert_uint_eq(n, 18);
    ck_assert(memcmp(buf, "over a unix socket", 18) == 0);
    close(fd);

    /* the socket files go with sluice */
    sl_t_sluice_stop(&srv);
    ck_assert(!sl_t_exists(echo_path));
}
END_TEST

/* --- a wildcard socket serving two servers -------------------------------- */

START_TEST(test_wildcard_dispatch)
{
    sl_t_sluice_t  srv;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@; return \"one $server_addr\"; }\n"
        "    server { listen @PORT@; return \"any $server_addr\"; }\n"
        "}\n");

    /* one socket on *:port; the local address picks the server */
    ck_assert_str_eq(answer(sl_t_connect("127.0.0.1", srv.port)),
                     "one 127.0.0.1");
    ck_assert_str_eq(answer(sl_t_connect("127.0.0.2", srv.port)),
                     "any 127.0.0.2");

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- logs ----------------------------------------------------------------- */

START_TEST(test_server_error_log)
{
    sl_t_sluice_t  srv;
    char          *own, *main_log;
    int            fd, cport;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    error_log logs/stream.log info;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        error_log logs/own.log info;\n"
        "        return x;\n"
        "    }\n"
        "    server { listen unix:@DIR@/s.sock; return y; }\n"
        "}\n");

    fd = sl_t_connect("127.0.0.1", srv.port);
    cport = local_port(fd);
    ck_assert_str_eq(answer(fd), "x");
    ck_assert_str_eq(answer(sl_t_connect_unix(sl_t_path(srv.dir, "s.sock"))),
                     "y");

    sl_t_sluice_stop(&srv);

    /* each session logs to its server's log, as nginx words it */
    own = sl_t_read(sl_t_path(srv.dir, "logs/own.log"));
    ck_assert_ptr_nonnull(own);
    ck_assert_ptr_nonnull(sl_t_log_find(own, "info", sl_t_printf(
        "*1 client 127.0.0.1:%d connected to 127.0.0.1:%d", cport,
        srv.port)));

    ck_assert_ptr_nonnull(sl_t_log_find(
        sl_t_read(sl_t_path(srv.dir, "logs/stream.log")), "info",
        sl_t_printf("*2 client unix: connected to unix:%s",
                    sl_t_path(srv.dir, "s.sock"))));

    main_log = sl_t_read(srv.log);
    ck_assert_ptr_null(strstr(main_log, "connected to"));
}
END_TEST

/* --- the shipped configuration -------------------------------------------- */

START_TEST(test_shipped_conf_serves)
{
    sl_t_sluice_t  srv;
    char          *conf, buf[16];
    int            fd, reset;

    conf = sl_t_read(sl_t_path(sl_t_src(), "conf/sluice.conf"));
    ck_assert_ptr_nonnull(conf);
    ck_assert_ptr_nonnull(strstr(conf, "127.0.0.1:7000"));

    conf = sl_t_replace(conf, "127.0.0.1:7000", "127.0.0.1:@PORT@");
    conf = sl_t_printf("daemon off;\nmaster_process off;\n%s", conf);
    sl_t_sluice_start_file(&srv, "conf/sluice.conf", conf);

    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, "ping", 4, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_uint_eq(sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_IO), 4);
    ck_assert(memcmp(buf, "ping", 4) == 0);
    close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST

static Suite *
stream_suite(void)
{
    Suite  *s = suite_create("stream");
    TCase  *tc = tcase_create("stream");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    /* the tests serve with echo and return: a build without them skips */
    if (!SL_HAVE_stream_echo_MODULE || !SL_HAVE_stream_return_MODULE) {
        return s;
    }
    tcase_add_test(tc, test_return_variables);
    tcase_add_test(tc, test_return_constant);
    tcase_add_test(tc, test_ipv6_listener);
    tcase_add_test(tc, test_unix_listeners);
    tcase_add_test(tc, test_wildcard_dispatch);
    tcase_add_test(tc, test_server_error_log);
    tcase_add_test(tc, test_shipped_conf_serves);
    return s;
}

SL_TEST_MAIN(stream_suite)
