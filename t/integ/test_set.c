/*
 * test_set.c -- "set $var value;" through the real binary: the value is
 * a complex value evaluated per session (each connection sees its own
 * port), sets run in the order written, a set variable is seen by
 * return and by the access log, it overrides another module's value
 * (split_clients) in the server that sets it only, a server that does
 * not set it sees it empty, and the configuration errors in nginx's
 * words at their file:line.
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
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* "sluice -t" fails with msg at conf/t.conf:line (0: at no line) */
#define conf_error  sl_t_conf_error_line

#define T_IO  10000

#ifndef SL_HAVE_stream_set_MODULE
#define SL_HAVE_stream_set_MODULE  0
#endif

/* the local port of a connected socket */
static int
local_port(int fd)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    return ntohs(sin.sin_port);
}

START_TEST(test_set_per_session)
{
    sl_t_sluice_t  srv;
    int            fd, i, port;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        set $who \"<$remote_addr:$remote_port>\";\n"
        "        return $who;\n"
        "    }\n"
        "}\n");

    /* each session its own value, from its own variables */
    for (i = 0; i < 3; i++) {
        fd = sl_t_connect("127.0.0.1", srv.port);
        port = local_port(fd);
        ck_assert_str_eq(sl_t_recv_text(fd, NULL, T_IO),
                         sl_t_printf("<127.0.0.1:%d>", port));
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_set_order_and_log)
{
    sl_t_sluice_t  srv;

    /* later sets see earlier ones; the log phase sees the last value */
    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format st 'set=$a,$b';\n"
        "    access_log logs/st.log st;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        set $a one;\n"
        "        set $b \"$a-two\";\n"
        "        set $a three;\n"
        "        set $c '';\n"
        "        return \"$a $b [$c]\";\n"
        "    }\n"
        "}\n");

    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", srv.port),
                                    NULL, T_IO), "three one-two []");
    sl_t_wait_file(sl_t_path(srv.dir, "logs/st.log"), "set=three,one-two\n",
                   T_IO);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_set_servers_apart)
{
    sl_t_sluice_t  srv;
    int            port2 = sl_t_loopback_port();

    /*
     * $v is set in one server only: the other sees it empty. $s comes from
     * split_clients but one server sets it: there the set value wins.
     */
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    split_clients $remote_addr $s { * fromsplit; }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        set $v mine;\n"
        "        set $s fromset;\n"
        "        return \"[$v] [$s]\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:%d;\n"
        "        return \"[$v] [$s]\";\n"
        "    }\n"
        "}\n", port2));

    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", srv.port),
                                    NULL, T_IO), "[mine] [fromset]");
    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", port2),
                                    NULL, T_IO), "[] [fromsplit]");
    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", srv.port),
                                    NULL, T_IO), "[mine] [fromset]");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_set_before_limit_conn)
{
    sl_t_sluice_t  srv;
    int            fd;

    /*
     * set runs before limit_conn, as in nginx: a key set to one constant
     * puts every session in one bucket of one session, so a second
     * session while the first is open is refused.
     */
    sl_t_sluice_start(&srv,
        "stream {\n"
        "    limit_conn_zone $k zone=z:1m;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        set $k everyone;\n"
        "        limit_conn z 1;\n"
        "        echo;\n"
        "    }\n"
        "}\n");

    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_echo_round(fd, 1, T_IO);      /* the first session is counted */

    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", srv.port),
                                    NULL, T_IO), "");
    sl_t_wait_file(srv.log, "limiting connections by zone \"z\"", T_IO);
    close(fd);
    sl_t_sluice_stop(&srv);
}
END_TEST

#define SERVER(line)                                                          \
    "stream {\n"                                                              \
    "    server {\n"                                                          \
    "        listen 127.0.0.1:1;\n"                                           \
    "        " line "\n"                                                      \
    "        return x;\n"                                                     \
    "    }\n"                                                                 \
    "}\n"

START_TEST(test_set_conf_errors)
{
    conf_error(SERVER("set x 1;"), "invalid variable name \"x\"", 4);
    conf_error(SERVER("set $ 1;"), "invalid variable name \"$\"", 4);
    conf_error(SERVER("set $remote_addr 1;"),
               "the duplicate \"remote_addr\" variable", 4);
    conf_error(SERVER("set $x $;"), "invalid variable name", 4);
    conf_error(SERVER("set $x ${y;"),
               "the closing bracket in \"y\" variable is missing", 4);
    conf_error(SERVER("set $x;"),
               "invalid number of arguments in \"set\" directive", 4);
    conf_error(SERVER("set $x 1 2;"),
               "invalid number of arguments in \"set\" directive", 4);
    conf_error("stream {\n    set $x 1;\n}\n",
               "\"set\" directive is not allowed here", 2);
}
END_TEST

static Suite *
set_suite(void)
{
    Suite  *s = suite_create("set");
    TCase  *tc = tcase_create("set");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_set_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_set_per_session);
    tcase_add_test(tc, test_set_order_and_log);
    tcase_add_test(tc, test_set_servers_apart);
    tcase_add_test(tc, test_set_before_limit_conn);
    tcase_add_test(tc, test_set_conf_errors);
    return s;
}

SL_TEST_MAIN(set_suite)
