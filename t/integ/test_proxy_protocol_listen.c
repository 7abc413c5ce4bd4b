/*
 * test_proxy_protocol_listen.c -- "listen ... proxy_protocol" through the real
 * binary: v1 and v2 headers read back through the $proxy_protocol_*
 * variables (with "return"), a header arriving byte by byte, the data
 * behind it reaching the content handler, UNKNOWN and LOCAL, malformed
 * headers (each closed with status 400 and logged, the server serving on),
 * proxy_protocol_timeout, the directive's errors, and the TLVs through
 * $proxy_protocol_tlv_*.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_IO  10000

#ifndef SL_HAVE_stream_return_MODULE
#define SL_HAVE_stream_return_MODULE  0
#endif
#ifndef SL_HAVE_stream_log_MODULE
#define SL_HAVE_stream_log_MODULE  0
#endif

#ifndef SL_HAVE_stream_echo_MODULE
#define SL_HAVE_stream_echo_MODULE  0
#endif

#define SIG  "\r\n\r\n\0\r\nQUIT\n"
#define sl_nelems_t(a)  (sizeof(a) / sizeof((a)[0]))

#define VARS  "$proxy_protocol_addr:$proxy_protocol_port>"                   \
              "$proxy_protocol_server_addr:$proxy_protocol_server_port"

/* on the back end "use" names (NULL: the default one) */
static void
start_on(sl_t_sluice_t *srv, const char *use, const char *more)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "events { %s%s%s }\n"
        "stream {\n"
        "    log_format pp '$status [" VARS "]';\n"
        "    access_log logs/pp.log pp;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ proxy_protocol;\n"
        "        return \"" VARS "|$remote_addr\\n\";\n"
        "        %s\n"
        "    }\n"
        "}\n", use ? "use " : "", use ? use : "", use ? ";" : "", more));
}

static void
start(sl_t_sluice_t *srv, const char *more)
{
    start_on(srv, NULL, more);
}

/* sends the bytes, reads the answer until the server closes */
static char *
exchange(sl_t_sluice_t *srv, const void *bytes, size_t len)
{
    int  fd, reset;

    /* a rejected client may be reset: what it sent was not all read */
    fd = sl_t_connect("127.0.0.1", srv->port);
    sl_t_send_all(fd, bytes, len, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    return sl_t_recv_text(fd, &reset, T_IO);
}

#define exchange_lit(srv, lit)  exchange(srv, lit, sizeof(lit) - 1)

/* the access log once it holds n lines */
static char *
pp_log(sl_t_sluice_t *srv, int n)
{
    return sl_t_wait_lines(sl_t_path(srv->dir, "logs/pp.log"), n, T_IO);
}

START_TEST(test_pp_v1)
{
    sl_t_sluice_t  srv;

    start(&srv, "");

    ck_assert_str_eq(exchange_lit(&srv,
                         "PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n"),
                     "192.0.2.1:40000>198.51.100.2:443|127.0.0.1\n");
    ck_assert_str_eq(exchange_lit(&srv,
                         "PROXY TCP6 2001:DB8::7 ::1 1 65535\r\n"),
                     "2001:db8::7:1>::1:65535|127.0.0.1\n");
    sl_t_sluice_stop(&srv);

    ck_assert_str_eq(sl_t_read(sl_t_path(srv.dir, "logs/pp.log")),
                     "200 [192.0.2.1:40000>198.51.100.2:443]\n"
                     "200 [2001:db8::7:1>::1:65535]\n");
}
END_TEST

START_TEST(test_pp_v2)
{
    sl_t_sluice_t  srv;

    start(&srv, "");

    ck_assert_str_eq(exchange_lit(&srv, SIG "\x21\x11\x00\x0c"
                                  "\x0a\x00\x00\x01" "\x0a\x00\x00\x02"
                                  "\x30\x39" "\x01\xbb"),
                     "10.0.0.1:12345>10.0.0.2:443|127.0.0.1\n");

    /* IPv6, with TLVs that are skipped */
    ck_assert_str_eq(exchange_lit(&srv, SIG "\x21\x21\x00\x2a"
        "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
        "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
        "\x00\x50" "\x1f\x90" "\x02\x00\x03" "a.b"),
        "2001:db8::1:80>2001:db8::2:8080|127.0.0.1\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

/* UNKNOWN and LOCAL carry no addresses: the variables are not found */
START_TEST(test_pp_no_addresses)
{
    sl_t_sluice_t  srv;

    start(&srv, "");
    ck_assert_str_eq(exchange_lit(&srv, "PROXY UNKNOWN\r\n"),
                     ":>:|127.0.0.1\n");
    ck_assert_str_eq(exchange_lit(&srv, SIG "\x20\x00\x00\x00"),
                     ":>:|127.0.0.1\n");
    ck_assert_str_eq(exchange_lit(&srv, SIG "\x21\x00\x00\x00"),
                     ":>:|127.0.0.1\n");
    sl_t_sluice_stop(&srv);

    ck_assert_str_eq(sl_t_read(sl_t_path(srv.dir, "logs/pp.log")),
                     "200 [-:->-:-]\n200 [-:->-:-]\n200 [-:->-:-]\n");
}
END_TEST

/* the bytes sent one at a time, each in a segment of its own */
static char *
bytewise(sl_t_sluice_t *srv, const char *bytes, size_t len)
{
    size_t  i;
    int     fd, one = 1;

    fd = sl_t_connect("127.0.0.1", srv->port);
    ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                                sizeof(one)), 0);
    for (i = 0; i < len; i++) {
        sl_t_send_all(fd, bytes + i, 1, T_IO);
    }

    return sl_t_recv_text(fd, NULL, T_IO);
}

/* a header that comes a byte at a time is read when it is whole */
START_TEST(test_pp_byte_by_byte)
{
    sl_t_sluice_t  srv;
    const char    *h1 = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
    static const char  h2[] = SIG "\x21\x11\x00\x0c" "\x01\x02\x03\x04"
                              "\x05\x06\x07\x08" "\x00\x03" "\x00\x04";

    start_on(&srv, sl_t_backend(_i), "");

    ck_assert_str_eq(bytewise(&srv, h1, strlen(h1)),
                     "1.2.3.4:1>5.6.7.8:2|127.0.0.1\n");
    ck_assert_str_eq(bytewise(&srv, h2, sizeof(h2) - 1),
                     "1.2.3.4:3>5.6.7.8:4|127.0.0.1\n");

    sl_t_sluice_stop(&srv);
}
END_TEST

/* the bytes after the header are the client's: echo sends them back */
START_TEST(test_pp_data_after_header)
{
    sl_t_sluice_t  srv;
    int            fd;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@ proxy_protocol; echo; }\n"
        "}\n");

    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhello", 37, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_str_eq(sl_t_recv_text(fd, NULL, T_IO), "hello");

    sl_t_sluice_stop(&srv);
}
END_TEST

typedef struct {
    const char  *name;
    const char  *bytes;
    size_t       len;
} bad_t;

#define B(name, lit)  { name, lit, sizeof(lit) - 1 }

static const bad_t  bad[] = {
    B("http", "GET / HTTP/1.0\r\n\r\n"),
    B("v1 LF only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
    B("v1 bad address", "PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n"),
    B("v1 bad port", "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"),
    B("v1 family mismatch", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"),
    B("v1 too long", "PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxx\r\n"),
    B("v2 version 1", SIG "\x11\x11\x00\x00"),
    B("v2 command 2", SIG "\x22\x11\x00\x00"),
    B("v2 bad family", SIG "\x21\x51\x00\x0c" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"),
    B("v2 short inet", SIG "\x21\x11\x00\x04" "\x01\x02\x03\x04"),
    B("v2 broken TLV", SIG "\x21\x11\x00\x0f" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02" "\x01\x00\x05"),
    B("v2 too large", SIG "\x21\x11\x10\x00"),
    B("cut short", "PROXY TCP4 1.2.3.4"),
};

/* each malformed header: no answer, status 400, "broken header" */
START_TEST(test_pp_malformed)
{
    sl_t_sluice_t  srv;
    char          *log, *want;
    size_t         i;

    start_on(&srv, sl_t_backend(_i), "");

    for (i = 0; i < sl_nelems_t(bad); i++) {
        /* "cut short": the client's FIN ends it */
        ck_assert_msg(strcmp(exchange(&srv, bad[i].bytes, bad[i].len), "")
                      == 0, "%s: an answer came", bad[i].name);
    }

    /* and the server still serves */
    ck_assert_str_eq(exchange_lit(&srv, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
                     "1.2.3.4:1>5.6.7.8:2|127.0.0.1\n");

    log = pp_log(&srv, (int) sl_nelems_t(bad) + 1);
    want = sl_t_printf("%s", "");
    for (i = 0; i < sl_nelems_t(bad); i++) {
        want = sl_t_printf("%s400 [-:->-:-]\n", want);
    }
    want = sl_t_printf("%s200 [1.2.3.4:1>5.6.7.8:2]\n", want);
    ck_assert_msg(strcmp(log, want) == 0, "pp.log:\n%s\nexpected:\n%s\n"
                  "error.log:\n%s", log, want, sl_t_read(srv.log));

    sl_t_sluice_stop(&srv);

    /* one "broken header" at error per malformed header */
    {
        const char  *text = sl_t_read(srv.log), *p = text;
        size_t       n = 0;

        while ((p = strstr(p, "[error] ")) != NULL) {
            const char  *eol = strchr(p, '\n');

            if (eol != NULL
                && memmem(p, (size_t) (eol - p), ": *", 3) != NULL
                && memmem(p, (size_t) (eol - p), " broken header: \"", 17)
                   != NULL
                && memmem(p, (size_t) (eol - p),
                          " while reading PROXY protocol, client: ", 39)
                   != NULL)
            {
                n++;
            }
            p++;
        }

        ck_assert_msg(n == sl_nelems_t(bad), "%zu \"broken header\" lines "
                      "for %zu headers:\n%s", n, sl_nelems_t(bad), text);
    }
}
END_TEST

START_TEST(test_pp_timeout)
{
    sl_t_sluice_t  srv;
    char           buf[16];
    size_t         n;
    int            fd, reset;

    start_on(&srv, sl_t_backend(_i), "proxy_protocol_timeout 200ms;");

    /* half a header, then nothing: closed when the time is up */
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, "PROXY TCP4 ", 11, T_IO);
    n = sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_IO);
    close(fd);
    ck_assert_uint_eq(n, 0);

    sl_t_wait_file(srv.log, "client timed out (110: Connection timed out) "
                   "while reading PROXY protocol", T_IO);
    ck_assert_str_eq(pp_log(&srv, 1), "200 [-:->-:-]\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

static void
assert_conf_error(const char *conf, const char *msg)
{
    sl_t_conf_error(sl_t_printf("error_log logs/error.log;\n%s\n", conf),
                    msg);
}

START_TEST(test_pp_conf)
{
    sl_t_out_t  out;

    assert_conf_error("stream { proxy_protocol_timeout x; "
                      "server { listen 127.0.0.1:1; return x; } }",
                      "invalid value \"x\" in \"proxy_protocol_timeout\" "
                      "directive");
    assert_conf_error("stream { server { listen 127.0.0.1:1; return x; "
                      "proxy_protocol_timeout 1s 2s; } }",
                      "invalid number of arguments in "
                      "\"proxy_protocol_timeout\" directive");

    /* valid: on one of two listens of an address, and at both levels */
    ck_assert_msg(sl_t_sluice_test(
        "error_log logs/error.log;\n"
        "stream {\n"
        "    proxy_protocol_timeout 5s;\n"
        "    server { listen 127.0.0.1:1 proxy_protocol; return a; }\n"
        "    server { listen 127.0.0.1:1; server_name b; return b;\n"
        "             proxy_protocol_timeout 1m; }\n"
        "}\n", &out) == 0, "sluice -t: %s", out.err);
}
END_TEST

/* $proxy_protocol_tlv_NAME: by name, by type, inside the SSL TLV */
START_TEST(test_pp_tlv_variables)
{
    sl_t_sluice_t  srv;
    char          *log;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ proxy_protocol;\n"
        "        return \"$proxy_protocol_tlv_authority|"
                         "$proxy_protocol_tlv_0x05|"
                         "$proxy_protocol_tlv_ssl_version|"
                         "$proxy_protocol_tlv_ssl_cn|"
                         "$proxy_protocol_tlv_ssl_verify|"
                         "$proxy_protocol_tlv_0xE0|"
                         "$proxy_protocol_tlv_alpn|"
                         "$proxy_protocol_tlv_nosuch\\n\";\n"
        "    }\n"
        "}\n");

    ck_assert_str_eq(exchange_lit(&srv, SIG "\x21\x11\x00\x3d"
        "\x0a\x00\x00\x01" "\x0a\x00\x00\x02" "\x30\x39" "\x01\xbb"
        "\x02\x00\x0b" "example.com"
        "\x05\x00\x03" "id7"
        "\x20\x00\x15" "\x07" "\x00\x00\x00\x00"
            "\x21\x00\x07" "TLSv1.3" "\x22\x00\x03" "bob"
        "\xe0\x00\x02" "hi"),
        "example.com|id7|TLSv1.3|bob|0|hi||\n");

    /* version 1 has no TLVs: every one is empty */
    ck_assert_str_eq(exchange_lit(&srv,
                         "PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n"),
                     "|||||||\n");
    sl_t_sluice_stop(&srv);

    /* a name that is no TLV is each session's error, not the config's */
    log = sl_t_read(srv.log);
    ck_assert_int_eq(sl_t_count(log, "[error]"), 2);
    ck_assert_int_eq(sl_t_count(log, "unknown PROXY protocol TLV "
                                     "\"nosuch\""), 2);
}
END_TEST

static Suite *
proxy_protocol_suite(void)
{
    Suite  *s = suite_create("proxy_protocol_integ");
    TCase  *tc = tcase_create("listen proxy_protocol");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tcase_add_test(tc, test_pp_conf);

    if (!SL_HAVE_stream_return_MODULE || !SL_HAVE_stream_log_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_pp_v1);
    tcase_add_test(tc, test_pp_v2);
    tcase_add_test(tc, test_pp_tlv_variables);
    tcase_add_test(tc, test_pp_no_addresses);
    tcase_add_loop_test(tc, test_pp_byte_by_byte, 0, sl_t_nbackends());
    if (SL_HAVE_stream_echo_MODULE) {
        tcase_add_test(tc, test_pp_data_after_header);
    }
    tcase_add_loop_test(tc, test_pp_malformed, 0, sl_t_nbackends());
    tcase_add_loop_test(tc, test_pp_timeout, 0, sl_t_nbackends());
    return s;
}

SL_TEST_MAIN(proxy_protocol_suite)
