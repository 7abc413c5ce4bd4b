/*
 * test_realip.c -- "set_real_ip_from" through the real binary, on
 * PROXY protocol listeners: a trusted peer's connection takes the
 * header's source as its client address ($remote_addr, $remote_port,
 * allow/deny and the log see it) while $realip_remote_addr and
 * $realip_remote_port keep the peer; an untrusted peer, or a connection
 * with no header, is left alone. IPv4, IPv6 (::1) and unix peers;
 * networks, a host name, inheritance; the configuration errors.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_IO  10000

#ifndef SL_HAVE_stream_realip_MODULE
#define SL_HAVE_stream_realip_MODULE  0
#endif

#define SHOW  "return \"$remote_addr|$remote_port|$realip_remote_addr|" \
              "$realip_remote_port\";"

/* the local port of a connected socket (IPv4 or IPv6) */
static int
local_port(int fd)
{
    struct sockaddr_in6  sa;
    socklen_t            len = sizeof(sa);

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
    return ntohs(sa.sin6_port);     /* at the same place in sockaddr_in */
}

/* sends hdr on fd; the answer; *port: fd's local port */
static char *
ask(int fd, const char *hdr, int *port)
{
    if (port != NULL) {
        *port = local_port(fd);
    }

    sl_t_send_all(fd, hdr, strlen(hdr), T_IO);
    return sl_t_recv_text(fd, NULL, T_IO);
}

static void
start(sl_t_sluice_t *srv, const char *stream, const char *listen,
    const char *server)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "stream {\n"
        "    log_format st '$remote_addr $realip_remote_addr $status';\n"
        "    access_log logs/st.log st;\n"
        "    %s\n"
        "    server {\n"
        "        %s\n"
        "        %s\n"
        "        " SHOW "\n"
        "    }\n"
        "}\n", stream, listen, server));
}

#define HDR4  "PROXY TCP4 192.0.2.1 127.0.0.1 5555 80\r\n"

START_TEST(test_realip_trusted_ipv4)
{
    sl_t_sluice_t  srv;
    int            port;
    char          *got;

    start(&srv, "", "listen 127.0.0.1:@PORT@ proxy_protocol;",
          "set_real_ip_from 127.0.0.1;");

    got = ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("192.0.2.1|5555|127.0.0.1|%d", port));
    sl_t_wait_file(sl_t_path(srv.dir, "logs/st.log"),
                   "192.0.2.1 127.0.0.1 200\n", T_IO);
    sl_t_sluice_stop(&srv);

    /* a network, and a host name that resolves to 127.0.0.1 */
    start(&srv, "", "listen 127.0.0.1:@PORT@ proxy_protocol;",
          "set_real_ip_from 10.0.0.0/8; set_real_ip_from 127.0.0.0/24;");
    got = ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("192.0.2.1|5555|127.0.0.1|%d", port));
    sl_t_sluice_stop(&srv);

    start(&srv, "", "listen 127.0.0.1:@PORT@ proxy_protocol;",
          "set_real_ip_from localhost;");
    got = ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("192.0.2.1|5555|127.0.0.1|%d", port));
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_realip_untrusted)
{
    sl_t_sluice_t  srv;
    int            port;
    char          *got;

    /* the peer is not in the list: nothing changes */
    start(&srv, "", "listen 127.0.0.1:@PORT@ proxy_protocol;",
          "set_real_ip_from 10.0.0.0/8; set_real_ip_from ::1;"
          " set_real_ip_from unix:;");
    got = ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("127.0.0.1|%d|127.0.0.1|%d", port,
                                      port));
    sl_t_sluice_stop(&srv);

    /* no list: nothing changes either */
    start(&srv, "", "listen 127.0.0.1:@PORT@ proxy_protocol;", "");
    got = ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("127.0.0.1|%d|127.0.0.1|%d", port,
                                      port));
    sl_t_sluice_stop(&srv);

    /* trusted, but no header (a plain listener) */
    start(&srv, "", "listen 127.0.0.1:@PORT@;", "set_real_ip_from 0.0.0.0/0;");
    got = ask(sl_t_connect("127.0.0.1", srv.port), "", &port);
    ck_assert_str_eq(got, sl_t_printf("127.0.0.1|%d|127.0.0.1|%d", port,
                                      port));
    sl_t_sluice_stop(&srv);

    /* a header without addresses (UNKNOWN): nothing to take */
    start(&srv, "", "listen 127.0.0.1:@PORT@ proxy_protocol;",
          "set_real_ip_from 127.0.0.1;");
    got = ask(sl_t_connect("127.0.0.1", srv.port), "PROXY UNKNOWN\r\n",
              &port);
    ck_assert_str_eq(got, sl_t_printf("127.0.0.1|%d|127.0.0.1|%d", port,
                                      port));
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_realip_inherited)
{
    sl_t_sluice_t  srv;
    int            port;
    char          *got;

    start(&srv, "set_real_ip_from 127.0.0.1;",
          "listen 127.0.0.1:@PORT@ proxy_protocol;", "");
    got = ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("192.0.2.1|5555|127.0.0.1|%d", port));
    sl_t_sluice_stop(&srv);

    /* the server's own list replaces the stream{} one */
    start(&srv, "set_real_ip_from 127.0.0.1;",
          "listen 127.0.0.1:@PORT@ proxy_protocol;",
          "set_real_ip_from 10.0.0.1;");
    got = ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("127.0.0.1|%d|127.0.0.1|%d", port,
                                      port));
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_realip_ipv6)
{
    sl_t_sluice_t  srv;
    int            port;
    char          *got;

    if (!sl_t_have_ipv6()) {
        fprintf(stderr, "test_realip_ipv6: ::1 cannot be bound, skipped\n");
        return;
    }

    start(&srv, "", "listen [::1]:@PORT@ proxy_protocol;",
          "set_real_ip_from ::1/128;");

    got = ask(sl_t_connect("::1", srv.port),
              "PROXY TCP6 2001:db8::5 ::1 6666 80\r\n", &port);
    ck_assert_str_eq(got, sl_t_printf("2001:db8::5|6666|::1|%d", port));

    /* an IPv4 client behind an IPv6 peer */
    got = ask(sl_t_connect("::1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("192.0.2.1|5555|::1|%d", port));
    sl_t_sluice_stop(&srv);

    /* an IPv4 list does not trust ::1 */
    start(&srv, "", "listen [::1]:@PORT@ proxy_protocol;",
          "set_real_ip_from 0.0.0.0/0;");
    got = ask(sl_t_connect("::1", srv.port), HDR4, &port);
    ck_assert_str_eq(got, sl_t_printf("::1|%d|::1|%d", port, port));
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_realip_unix)
{
    sl_t_sluice_t  srv;
    char          *got;

    start(&srv, "", "listen unix:@DIR@/s.sock proxy_protocol;",
          "set_real_ip_from unix:;");
    got = ask(sl_t_connect_unix(sl_t_path(srv.dir, "s.sock")), HDR4, NULL);
    ck_assert_str_eq(got, "192.0.2.1|5555|unix:|");
    sl_t_sluice_stop(&srv);

    /* addresses do not trust a unix peer */
    start(&srv, "", "listen unix:@DIR@/s.sock proxy_protocol;",
          "set_real_ip_from 0.0.0.0/0; set_real_ip_from ::/0;");
    got = ask(sl_t_connect_unix(sl_t_path(srv.dir, "s.sock")), HDR4, NULL);
    ck_assert_str_eq(got, "unix:||unix:|");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_realip_access)
{
    sl_t_sluice_t  srv;
    int            port;

    /* allow/deny see the real client, and so does the log */
    start(&srv, "", "listen 127.0.0.1:@PORT@ proxy_protocol;",
          "set_real_ip_from 127.0.0.1; deny 192.0.2.1; allow all;");

    ck_assert_str_eq(ask(sl_t_connect("127.0.0.1", srv.port), HDR4, &port),
                     "");
    sl_t_wait_file(sl_t_path(srv.dir, "logs/st.log"),
                   "192.0.2.1 127.0.0.1 403\n", T_IO);
    sl_t_wait_file(srv.log, "access forbidden by rule while initializing session, client: 192.0.2.1, ",
                   T_IO);

    ck_assert_str_eq(ask(sl_t_connect("127.0.0.1", srv.port),
                         "PROXY TCP4 192.0.2.2 127.0.0.1 7777 80\r\n", &port),
                     sl_t_printf("192.0.2.2|7777|127.0.0.1|%d", port));
    sl_t_sluice_stop(&srv);
}
END_TEST

/* "sluice -t" on a server with the line: msg at line 4, exit status */
static void
conf_check(const char *line, const char *msg, int status)
{
    sl_t_out_t   out;
    const char  *conf, *p, *at;

    conf = sl_t_printf(
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:1;\n"
        "        %s\n"
        "        return x;\n"
        "    }\n"
        "}\n", line);

    ck_assert_int_eq(sl_t_sluice_test(conf, &out), status);

    p = strstr(out.err, msg);
    ck_assert_msg(p != NULL, "no \"%s\" in: %s", msg, out.err);

    at = strstr(p, "conf/t.conf:");
    ck_assert_msg(at != NULL && atoi(at + 12) == 4,
                  "\"%s\" not at line 4: %s", msg, out.err);
}

START_TEST(test_realip_conf_errors)
{
    conf_check("set_real_ip_from 127.0.0.1/33;",
               "host not found in set_real_ip_from \"127.0.0.1/33\"", 1);
    conf_check("set_real_ip_from ::1/129;",
               "host not found in set_real_ip_from \"::1/129\"", 1);
    conf_check("set_real_ip_from unix:/x;",
               "host not found in set_real_ip_from \"unix:/x\"", 1);
    conf_check("set_real_ip_from no-such-host.invalid;",
               "host not found in set_real_ip_from \"no-such-host.invalid\"",
               1);
    conf_check("set_real_ip_from;", "invalid number of arguments in "
               "\"set_real_ip_from\" directive", 1);
    conf_check("set_real_ip_from 127.1.2.3/8;",
               "[warn] low address bits of 127.1.2.3/8 are meaningless", 0);
}
END_TEST

static Suite *
realip_suite(void)
{
    Suite  *s = suite_create("realip");
    TCase  *tc = tcase_create("realip");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_realip_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_realip_trusted_ipv4);
    tcase_add_test(tc, test_realip_untrusted);
    tcase_add_test(tc, test_realip_inherited);
    tcase_add_test(tc, test_realip_ipv6);
    tcase_add_test(tc, test_realip_unix);
    tcase_add_test(tc, test_realip_access);
    tcase_add_test(tc, test_realip_conf_errors);
    return s;
}

SL_TEST_MAIN(realip_suite)
