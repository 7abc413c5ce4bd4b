/*
 * test_geo.c -- "geo" through the real binary: a table of addresses
 * against the values a CIDR block gives (longest prefix, default,
 * delete, a duplicate's last value, IPv6, IPv4-mapped IPv6), the same
 * for "ranges", the client's own address (IPv4, ::1, unix as
 * 255.255.255.255), include, the sluice extension "proxy", and the
 * warnings and errors in nginx's words at their file:line. The address
 * looked up is sent as a PROXY protocol source and reaches geo as $src
 * ($proxy_protocol_addr).
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

#define T_IO  10000
#define NROWS(a)  (sizeof(a) / sizeof((a)[0]))

#ifndef SL_HAVE_stream_geo_MODULE
#define SL_HAVE_stream_geo_MODULE  0
#endif

typedef struct {
    const char  *addr;
    const char  *value;
} row_t;

/* the value for a connection whose PROXY header's source is addr */
static char *
ask_pp(sl_t_sluice_t *srv, const char *addr)
{
    int    fd = sl_t_connect("127.0.0.1", srv->port);
    char  *hdr;

    hdr = strchr(addr, ':') != NULL
          ? sl_t_printf("PROXY TCP6 %s ::1 1234 80\r\n", addr)
          : sl_t_printf("PROXY TCP4 %s 127.0.0.1 1234 80\r\n", addr);

    sl_t_send_all(fd, hdr, strlen(hdr), T_IO);
    return sl_t_recv_text(fd, NULL, T_IO);
}

/* a server answering "[$g]", with geo $proxy_protocol_addr $g { block } */
static void
start_src(sl_t_sluice_t *srv, const char *block)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "stream {\n"
        "    geo $proxy_protocol_addr $g {\n"
        "        %s\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ proxy_protocol;\n"
        "        return \"[$g]\";\n"
        "    }\n"
        "}\n", block));
}

static void
check_rows(sl_t_sluice_t *srv, const row_t *rows, size_t n)
{
    size_t  i;
    char   *got;

    for (i = 0; i < n; i++) {
        got = ask_pp(srv, rows[i].addr);
        ck_assert_msg(strcmp(got, sl_t_printf("[%s]", rows[i].value)) == 0,
                      "%s: got %s, want [%s]", rows[i].addr, got,
                      rows[i].value);
    }
}

START_TEST(test_geo_cidr_table)
{
    static const row_t  rows[] = {
        { "192.0.2.1", "dflt" },
        { "10.9.9.9", "ten" },
        { "10.1.9.9", "ten-one" },
        { "10.1.2.3", "ten-one" },          /* its /32 was deleted */
        { "10.1.2.4", "host" },
        { "10.2.0.1", "second" },           /* a duplicate: the last */
        { "255.255.255.255", "all-ones" },
        { "0.0.0.0", "dflt" },
        { "2001:db8::1", "doc6" },
        { "2001:db8:0:1::1", "doc6-1" },
        { "2001:db9::1", "dflt" },
        { "::ffff:10.1.2.4", "host" },      /* IPv4-mapped: the v4 table */
        { "::1", "six-lo" },
    };

    sl_t_sluice_t  srv;

    start_src(&srv,
        "default dflt;\n"
        "10.0.0.0/8 ten;\n"
        "10.1.0.0/16 ten-one;\n"
        "10.1.2.3 gone;\n"
        "10.1.2.4/32 host;\n"
        "delete 10.1.2.3;\n"
        "10.2.0.0/16 first;\n"
        "10.2.0.0/16 second;\n"
        "255.255.255.255 all-ones;\n"
        "2001:db8::/32 doc6;\n"
        "2001:db8:0:1::/64 doc6-1;\n"
        "::1 six-lo;\n");

    check_rows(&srv, rows, NROWS(rows));
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_geo_no_default)
{
    static const row_t  rows[] = {
        { "192.0.2.1", "" }, { "10.0.0.1", "ten" }, { "2001:db8::1", "" },
    };

    sl_t_sluice_t  srv;
    char          *got;
    int            fd;

    start_src(&srv, "10.0.0.0/8 ten;");
    check_rows(&srv, rows, NROWS(rows));

    /* $src not found (a header with no address): the default, empty */
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, "PROXY UNKNOWN\r\n", 15, T_IO);
    got = sl_t_recv_text(fd, NULL, T_IO);
    ck_assert_str_eq(got, "[]");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_geo_ranges_table)
{
    static const row_t  rows[] = {
        { "1.2.3.0", "r1" },
        { "1.2.3.3", "r1" },
        { "1.2.3.4", "r2" },                /* split out of r1 */
        { "1.2.3.5", "r1" },
        { "1.2.3.255", "r1" },
        { "1.2.4.0", "dflt" },
        { "1.3.0.0", "wide" },              /* a range over buckets */
        { "1.4.128.1", "wide" },
        { "1.5.255.255", "wide" },
        { "1.6.0.0", "dflt" },
        { "9.0.0.1", "dflt" },              /* deleted */
        { "8.0.0.0", "edge-lo" },
        { "8.0.0.1", "edge-mid" },          /* replaced: duplicate */
        { "8.0.0.2", "edge-hi" },
        { "2001:db8::1", "ones" },          /* IPv6: 255.255.255.255 */
        { "::ffff:1.2.3.4", "r2" },
    };

    sl_t_sluice_t  srv;

    start_src(&srv,
        "ranges;\n"
        "default dflt;\n"
        "1.2.3.0-1.2.3.255 r1;\n"
        "1.2.3.4-1.2.3.4 r2;\n"
        "1.3.0.0-1.5.255.255 wide;\n"
        "9.0.0.0-9.0.0.255 gone;\n"
        "delete 9.0.0.0-9.0.0.255;\n"
        "8.0.0.0-8.0.0.2 edge;\n"
        "8.0.0.0-8.0.0.0 edge-lo;\n"
        "8.0.0.2-8.0.0.2 edge-hi;\n"
        "8.0.0.1-8.0.0.1 edge-old;\n"
        "8.0.0.1-8.0.0.1 edge-mid;\n"
        "255.255.255.255-255.255.255.255 ones;\n");

    check_rows(&srv, rows, NROWS(rows));
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_geo_client_address)
{
    sl_t_sluice_t  srv;
    const char    *v6 = sl_t_have_ipv6() ? "listen [::1]:@PORT@;" : "";

    /* no $src: the connection's client, a unix one as 255.255.255.255 */
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    geo $g { default d; 127.0.0.0/8 lo4; ::1 lo6;"
        " 255.255.255.255 unixy; }\n"
        "    geo $r { ranges; default d; 127.0.0.1-127.0.0.1 lo4; }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        %s\n"
        "        listen unix:@DIR@/s.sock;\n"
        "        return \"$g $r\";\n"
        "    }\n"
        "}\n", v6));

    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", srv.port),
                                    NULL, T_IO), "lo4 lo4");
    ck_assert_str_eq(sl_t_recv_text(sl_t_connect_unix(
                         sl_t_path(srv.dir, "s.sock")), NULL, T_IO),
                     "unixy d");
    if (sl_t_have_ipv6()) {
        ck_assert_str_eq(sl_t_recv_text(sl_t_connect("::1", srv.port),
                                        NULL, T_IO), "lo6 d");
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_geo_include)
{
    sl_t_sluice_t  srv;
    char          *dir = sl_t_mkdir();

    sl_t_write(dir, "geo/a.conf", "10.0.0.0/8 from-a;\n");
    sl_t_write(dir, "geo/b.conf", "10.1.0.0/16 from-b;\n");
    sl_t_write(dir, "nets.conf", "default from-file;\n192.0.2.0/24 doc;\n");

    start_src(&srv, sl_t_printf("include %s/nets.conf;\n"
                                "include %s/geo/*.conf;\n", dir, dir));

    ck_assert_str_eq(ask_pp(&srv, "192.0.2.9"), "[doc]");
    ck_assert_str_eq(ask_pp(&srv, "10.9.0.1"), "[from-a]");
    ck_assert_str_eq(ask_pp(&srv, "10.1.0.1"), "[from-b]");
    ck_assert_str_eq(ask_pp(&srv, "198.51.100.1"), "[from-file]");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_geo_proxy)
{
    sl_t_sluice_t  srv;
    int            port2 = sl_t_loopback_port();

    /*
     * "proxy" (sluice's): a trusted peer's PROXY header source is looked
     * up; an untrusted peer, or no header, is looked up as itself.
     */
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    geo $g { proxy 127.0.0.0/8; proxy_recursive; default d;"
        " 127.0.0.1 lo; 192.0.2.0/24 doc; }\n"
        "    geo $h { proxy 10.0.0.0/8; default d; 127.0.0.1 lo;"
        " 192.0.2.0/24 doc; }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ proxy_protocol;\n"
        "        return \"$g $h\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:%d;\n"
        "        return \"$g $h\";\n"
        "    }\n"
        "}\n", port2));

    ck_assert_str_eq(ask_pp(&srv, "192.0.2.5"), "doc lo");
    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", port2), NULL,
                                    T_IO), "lo lo");
    sl_t_sluice_stop(&srv);
}
END_TEST

/* "sluice -t": exit status; msg at conf/t.conf:line (0: no line) */
static void
conf_check(const char *conf, const char *msg, int line, int status)
{
    sl_t_out_t   out;
    const char  *p, *at;

    ck_assert_msg(sl_t_sluice_test(conf, &out) == status,
                  "not %d for:\n%s\n%s", status, conf, out.err);

    p = strstr(out.err, msg);
    ck_assert_msg(p != NULL, "no \"%s\" in: %s", msg, out.err);

    if (line == 0) {
        return;
    }

    at = strstr(p, "conf/t.conf:");
    ck_assert_msg(at != NULL && atoi(at + 12) == line,
                  "\"%s\" not at line %d: %s", msg, line, out.err);
}

#define GEO(lines)                                                            \
    "stream {\n"                                                              \
    "    geo $g {\n"                                                          \
    "        default d;\n"                                                    \
    "        " lines "\n"                                                     \
    "    }\n"                                                                 \
    "}\n"

#define RANGES(lines)                                                         \
    "stream {\n"                                                              \
    "    geo $g {\n"                                                          \
    "        ranges;\n"                                                       \
    "        " lines "\n"                                                     \
    "    }\n"                                                                 \
    "}\n"

START_TEST(test_geo_warnings)
{
    conf_check(GEO("10.0.0.0/8 a; 10.0.0.0/8 b;"),
               "[warn] duplicate network \"10.0.0.0/8\", value: \"b\", "
               "old value: \"a\"", 4, 0);
    conf_check(GEO("default e;"), "[warn] duplicate network \"default\", "
               "value: \"e\", old value: \"d\"", 4, 0);
    conf_check(GEO("10.1.2.3/8 a;"),
               "[warn] low address bits of 10.1.2.3/8 are meaningless", 4, 0);
    conf_check(GEO("delete 10.0.0.0/8;"),
               "[warn] no network \"10.0.0.0/8\" to delete", 4, 0);
    conf_check(RANGES("1.2.3.4-1.2.3.4 a; 1.2.3.4-1.2.3.4 b;"),
               "[warn] duplicate range \"1.2.3.4-1.2.3.4\", value: \"b\", "
               "old value: \"a\"", 4, 0);
    conf_check(RANGES("default a; default b;"),
               "[warn] duplicate default geo range value: \"b\", "
               "old value: \"a\"", 4, 0);
    conf_check(RANGES("1.2.3.4-1.2.3.4 a; delete 1.2.3.4-1.2.3.5;"),
               "[warn] no address range \"1.2.3.4-1.2.3.5\" to delete", 4,
               0);
    conf_check(GEO("volatile;"), "syntax is ok", 0, 0);
}
END_TEST

START_TEST(test_geo_conf_errors)
{
    conf_check(GEO("300.1.1.1 a;"), "invalid network \"300.1.1.1\"", 4, 1);
    conf_check(GEO("10.0.0.0/33 a;"), "invalid network \"10.0.0.0/33\"", 4,
               1);
    conf_check(GEO("delete ::1/129;"), "invalid network \"::1/129\"", 4, 1);
    conf_check(GEO("a b c;"), "invalid number of the geo parameters", 4, 1);
    conf_check(GEO("ranges;"), "the \"ranges\" directive must be the first "
               "directive inside \"geo\" block", 4, 1);
    conf_check(GEO("proxy nowhere;"), "invalid network \"nowhere\"", 4, 1);
    conf_check(RANGES("1.2.3.4 a;"), "invalid range \"1.2.3.4\"", 4, 1);
    conf_check(RANGES("2.2.2.2-1.1.1.1 a;"),
               "invalid range \"2.2.2.2-1.1.1.1\"", 4, 1);
    conf_check(RANGES("1.2.3.0-1.2.3.255 a; 1.2.3.4-1.2.3.4 b; "
                      "1.2.0.0-1.3.255.255 c;"),
               "range \"1.2.0.0-1.3.255.255\" overlaps "
               "\"1.2.3.5-1.2.3.255\"", 4, 1);
    conf_check(GEO("include /nonexistent/geo.conf;"),
               "open() \"/nonexistent/geo.conf\" failed", 4, 1);
    conf_check(GEO("10.0.0.0/8 a { }"), "unexpected \"{\"", 4, 1);

    conf_check("stream {\n geo g { }\n}\n", "invalid variable name \"g\"",
               2, 1);
    conf_check("stream {\n geo $ { }\n}\n", "invalid variable name \"$\"",
               2, 1);
    conf_check("stream {\n geo $remote_addr $remote_port { }\n}\n",
               "the duplicate \"remote_port\" variable", 2, 1);
    conf_check("stream {\n geo $a $b $c { }\n}\n",
               "invalid number of arguments in \"geo\" directive", 2, 1);
    conf_check("stream {\n server {\n  geo $g { }\n }\n}\n",
               "\"geo\" directive is not allowed here", 3, 1);
    conf_check("stream {\n geo $nope $g { }\n}\n",
               "unknown \"nope\" variable", 0, 1);
}
END_TEST

static Suite *
geo_suite(void)
{
    Suite  *s = suite_create("geo");
    TCase  *tc = tcase_create("geo");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_geo_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_geo_cidr_table);
    tcase_add_test(tc, test_geo_no_default);
    tcase_add_test(tc, test_geo_ranges_table);
    tcase_add_test(tc, test_geo_client_address);
    tcase_add_test(tc, test_geo_include);
    tcase_add_test(tc, test_geo_proxy);
    tcase_add_test(tc, test_geo_warnings);
    tcase_add_test(tc, test_geo_conf_errors);
    return s;
}

SL_TEST_MAIN(geo_suite)
