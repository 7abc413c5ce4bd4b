/*
 * test_access.c -- "allow" and "deny" through the real binary: IPv4
 * addresses and CIDR, IPv6 (where ::1 can be bound), unix:, all, the
 * order of the rules, inheritance from stream{}, and the configuration
 * errors. A denied client gets nothing and the session ends with status
 * 403 and "access forbidden by rule" at error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_IO  10000

#ifndef SL_HAVE_stream_access_MODULE
#define SL_HAVE_stream_access_MODULE  0
#endif

/* what the server said before it closed: "ok\n", or "" when denied */
#define answer(fd)  sl_t_recv_text(fd, NULL, T_IO)

/* sluice with the rules in a server on 127.0.0.1:@PORT@ (and more) */
static void
start(sl_t_sluice_t *srv, const char *stream_rules, const char *listen,
    const char *rules)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "stream {\n"
        "    log_format st '$remote_addr $status';\n"
        "    access_log logs/st.log st;\n"
        "    %s\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        %s\n"
        "        %s\n"
        "        return \"ok\\n\";\n"
        "    }\n"
        "}\n", stream_rules, listen, rules));
}

static const char *
tcp4(sl_t_sluice_t *srv)
{
    return answer(sl_t_connect("127.0.0.1", srv->port));
}

/* the session was denied: 403 in the access log, the message at error */
static void
assert_denied_logged(sl_t_sluice_t *srv, const char *addr)
{
    char        *log = sl_t_path(srv->dir, "logs/st.log");

    const char  *text, *line, *end;
    char        *want;
    int          found = 0;

    sl_t_wait_file(log, sl_t_printf("%s 403\n", addr), T_IO);
    sl_t_wait_file(srv->log, "access forbidden by rule", T_IO);

    /* "[error] PID#TID: *N access forbidden by rule..., client: ADDR" */
    want = sl_t_printf(", client: %s, server: ", addr);
    text = sl_t_read(srv->log);

    for (line = text; *line != '\0' && !found; line = end + 1) {
        end = strchr(line, '\n');
        if (end == NULL) {
            break;
        }

        found = memmem(line, (size_t) (end - line), "[error] ", 8) != NULL
                && memmem(line, (size_t) (end - line),
                          " access forbidden by rule", 25) != NULL
                && memmem(line, (size_t) (end - line), want, strlen(want))
                   != NULL;
    }

    ck_assert_msg(found, "no \"access forbidden by rule\" at error for %s "
                  "in:\n%s", addr, text);
}

START_TEST(test_access_ipv4_exact)
{
    sl_t_sluice_t  srv;

    start(&srv, "", "", "deny 127.0.0.1; allow all;");
    ck_assert_str_eq(tcp4(&srv), "");
    assert_denied_logged(&srv, "127.0.0.1");
    sl_t_sluice_stop(&srv);

    start(&srv, "", "", "deny 127.0.0.2; allow all;");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    sl_t_wait_file(sl_t_path(srv.dir, "logs/st.log"), "127.0.0.1 200\n",
                   T_IO);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_access_cidr)
{
    sl_t_sluice_t  srv;

    /* 127.0.0.1 is outside 10/8 and 127.0.0.2/31, inside 127/8 */
    start(&srv, "", "", "allow 10.0.0.0/8; allow 127.0.0.2/31; "
          "deny 127.0.0.0/8; allow all;");
    ck_assert_str_eq(tcp4(&srv), "");
    assert_denied_logged(&srv, "127.0.0.1");
    sl_t_sluice_stop(&srv);

    /* low bits set: masked (with a warning), so it still matches */
    start(&srv, "", "", "allow 127.1.2.3/8; deny all;");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    ck_assert_ptr_nonnull(strstr(sl_t_read(srv.log), "[warn] "));
    ck_assert_ptr_nonnull(strstr(sl_t_read(srv.log),
        ": low address bits of 127.1.2.3/8 are meaningless in "));
    sl_t_sluice_stop(&srv);

    /* /0 matches every IPv4 address; /32 only the one */
    start(&srv, "", "", "allow 127.0.0.0/32; deny 0.0.0.0/0;");
    ck_assert_str_eq(tcp4(&srv), "");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_access_order)
{
    sl_t_sluice_t  srv;

    /* the first rule that matches decides */
    start(&srv, "", "", "allow 127.0.0.1; deny all;");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    sl_t_sluice_stop(&srv);

    start(&srv, "", "", "deny all; allow 127.0.0.1;");
    ck_assert_str_eq(tcp4(&srv), "");
    assert_denied_logged(&srv, "127.0.0.1");
    sl_t_sluice_stop(&srv);

    /* no rule matches: allowed */
    start(&srv, "", "", "deny 192.0.2.0/24; deny ::1;");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_access_inherited)
{
    sl_t_sluice_t  srv;

    /* the stream{} level's rules, for a server with none of its own */
    start(&srv, "deny all;", "", "");
    ck_assert_str_eq(tcp4(&srv), "");
    sl_t_sluice_stop(&srv);

    /* a server's own rules replace them */
    start(&srv, "deny all;", "", "allow 127.0.0.1;");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_access_ipv6)
{
    sl_t_sluice_t  srv;

    if (!sl_t_have_ipv6()) {
        fprintf(stderr, "test_access_ipv6: ::1 cannot be bound, skipped\n");
        return;
    }

    start(&srv, "", "listen [::1]:@PORT@;",
          "allow 127.0.0.0/8; deny ::1;");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    ck_assert_str_eq(answer(sl_t_connect("::1", srv.port)), "");
    assert_denied_logged(&srv, "::1");
    sl_t_sluice_stop(&srv);

    /* an IPv6 prefix; IPv4 rules do not match an IPv6 client */
    start(&srv, "", "listen [::1]:@PORT@;",
          "deny 0.0.0.0/0; allow ::/64; deny all;");
    ck_assert_str_eq(answer(sl_t_connect("::1", srv.port)), "ok\n");
    ck_assert_str_eq(tcp4(&srv), "");
    sl_t_sluice_stop(&srv);

    start(&srv, "", "listen [::1]:@PORT@;", "deny fe80::/10; allow ::1/128; "
          "deny all;");
    ck_assert_str_eq(answer(sl_t_connect("::1", srv.port)), "ok\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_access_unix)
{
    sl_t_sluice_t  srv;
    char          *sock;

    start(&srv, "", "listen unix:@DIR@/s.sock;", "deny unix:; allow all;");
    sock = sl_t_path(srv.dir, "s.sock");
    ck_assert_str_eq(answer(sl_t_connect_unix(sock)), "");
    assert_denied_logged(&srv, "unix:");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    sl_t_sluice_stop(&srv);

    /* address rules do not match a unix client; "all" does */
    start(&srv, "", "listen unix:@DIR@/s.sock;",
          "allow 0.0.0.0/0; allow ::/0; deny all;");
    sock = sl_t_path(srv.dir, "s.sock");
    ck_assert_str_eq(answer(sl_t_connect_unix(sock)), "");
    ck_assert_str_eq(tcp4(&srv), "ok\n");
    sl_t_sluice_stop(&srv);

    start(&srv, "", "listen unix:@DIR@/s.sock;", "allow unix:; deny all;");
    sock = sl_t_path(srv.dir, "s.sock");
    ck_assert_str_eq(answer(sl_t_connect_unix(sock)), "ok\n");
    ck_assert_str_eq(tcp4(&srv), "");
    sl_t_sluice_stop(&srv);
}
END_TEST

/* sluice -t on a server with the rule: exit 1 with the message */
static void
assert_conf_error(const char *rule, const char *msg)
{
    sl_t_conf_error(sl_t_printf(
        "error_log logs/error.log;\n"
        "stream { server { listen unix:@DIR@/s.sock; %s return x; } }\n",
        rule), msg);
}

START_TEST(test_access_conf_errors)
{
    assert_conf_error("allow 127.0.0.1/33;",
                      "invalid parameter \"127.0.0.1/33\"");
    assert_conf_error("deny ::1/129;", "invalid parameter \"::1/129\"");
    assert_conf_error("deny 127.0.0.1/x;",
                      "invalid parameter \"127.0.0.1/x\"");
    assert_conf_error("allow localhost;", "invalid parameter \"localhost\"");
    assert_conf_error("allow unix:/x;", "invalid parameter \"unix:/x\"");
    assert_conf_error("deny;",
                      "invalid number of arguments in \"deny\" directive");
    assert_conf_error("allow a b;",
                      "invalid number of arguments in \"allow\" directive");
}
END_TEST

static Suite *
access_suite(void)
{
    Suite  *s = suite_create("access");
    TCase  *tc = tcase_create("allow deny");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_access_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_access_ipv4_exact);
    tcase_add_test(tc, test_access_cidr);
    tcase_add_test(tc, test_access_order);
    tcase_add_test(tc, test_access_inherited);
    tcase_add_test(tc, test_access_ipv6);
    tcase_add_test(tc, test_access_unix);
    tcase_add_test(tc, test_access_conf_errors);
    return s;
}

SL_TEST_MAIN(access_suite)
