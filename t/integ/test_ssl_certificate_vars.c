/*
 * test_ssl_certificate_vars.c -- ssl_certificate and ssl_certificate_key
 * with variables, loaded per handshake, and ssl_certificate_cache (nginx
 * 1.27.4), end to end against an OpenSSL client.
 *
 * The certificate a client gets is told by its subject CN. A name picks
 * its files ($ssl_server_name, a map); "data:" PEM text from a map; a
 * relative name is taken against the configuration's directory; a missing
 * file fails the handshake with nginx's error; an encrypted key with
 * ssl_password_file. The cache's reuse is seen by replacing a file after
 * a handshake: with the cache the old certificate is still served, without
 * it the new one, after `valid` the new one again, and at `max` the least
 * recently used is dropped. proxy_ssl_certificate with variables (and
 * its cache) as an upstream sees it. The directive's errors, with file
 * and line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_tls.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif

#define T_IO  20000

/* dir/name.crt and .key for CN cn (ECDSA, self-signed), made anew */
#define make_cert(dir, name, cn)  make_cert_of(dir, name, cn, 0)
/* the same for a client (extendedKeyUsage clientAuth) */
#define make_client_cert(dir, name, cn)                                       \
    make_cert_of(dir, name, cn, SL_TT_CLIENT)

static void
make_cert_of(const char *dir, const char *name, const char *cn, int flags)
{
    const char  *tmp = sl_t_printf("%s.tmp", name);

    /* written aside and renamed, as a deploy does: a new inode */
    ck_assert_int_eq(sl_tt_cert(dir, tmp, SL_TT_ECDSA | flags, cn, NULL,
                                NULL, NULL), 0);
    ck_assert_int_eq(rename(sl_tt_path(dir, sl_t_printf("%s.crt", tmp)),
                            sl_tt_path(dir, sl_t_printf("%s.crt", name))),
                     0);
    ck_assert_int_eq(rename(sl_tt_path(dir, sl_t_printf("%s.key", tmp)),
                            sl_tt_path(dir, sl_t_printf("%s.key", name))),
                     0);
}

/*
 * The CN of the certificate the server on fd gives a client sending sni
 * (NULL: none); "" when the handshake fails.
 */
static const char *
cn_of_fd(int fd, const char *sni)
{
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    const char    *cn = "";

    memset(&o, 0, sizeof(o));
    o.server_name = sni;

    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);

    if (sl_tt_handshake(&p, T_IO)) {
        cn = sl_t_printf("%s", sl_tt_peer_cn(&p));
    }

    sl_tt_peer_free(&p);
    close(fd);
    return cn;
}

#define cn_of(port, sni)  cn_of_fd(sl_t_connect("127.0.0.1", port), sni)
/* the server without a cache, on DIR/nocache.sock */
#define cn_of_uncached(srv, sni)                                              \
    cn_of_fd(sl_t_connect_unix(sl_t_path((srv)->dir, "nocache.sock")), sni)

START_TEST(test_by_server_name)
{
    sl_t_sluice_t  srv;
    const char    *d = sl_t_mkdir(), *err;

    make_cert(d, "a.test", "a.test");
    make_cert(d, "b.test", "b.test");

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate %1$s/$ssl_server_name.crt;\n"
        "        ssl_certificate_key %1$s/$ssl_server_name.key;\n"
        "        return ok;\n"
        "    }\n"
        "}\n", d));

    ck_assert_str_eq(cn_of(srv.port, "a.test"), "a.test");
    ck_assert_str_eq(cn_of(srv.port, "b.test"), "b.test");

    /* no such file: no handshake, and nginx's error */
    ck_assert_str_eq(cn_of(srv.port, "c.test"), "");
    err = sl_t_printf("cannot load certificate \"%s/c.test.crt\": "
                      "BIO_new_file() failed", d);
    sl_t_wait_file(srv.log, err, T_IO);
    ck_assert_int_eq(sl_t_log_count(sl_t_read(srv.log), "error", err), 1);

    /* no name at all: an empty name, no such file either */
    ck_assert_str_eq(cn_of(srv.port, NULL), "");
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A map chooses the file, or gives the PEM text itself ("data:"); a
 * relative name is taken against the configuration's directory.
 */
START_TEST(test_map_data_relative)
{
    sl_t_sluice_t  srv;
    const char    *d = sl_t_mkdir();
    char          *crt, *key;

    make_cert(d, "one", "one.test");
    make_cert(d, "inline", "inline.test");
    crt = sl_t_read(sl_tt_path(d, "inline.crt"));
    key = sl_t_read(sl_tt_path(d, "inline.key"));

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    map $ssl_server_name $crt {\n"
        "        default %1$s/one.crt;\n"
        "        inline.test \"data:%2$s\";\n"
        "        rel.test certs/rel.crt;\n"
        "    }\n"
        "    map $ssl_server_name $key {\n"
        "        default %1$s/one.key;\n"
        "        inline.test \"data:%3$s\";\n"
        "        rel.test certs/rel.key;\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate $crt;\n"
        "        ssl_certificate_key $key;\n"
        "        return ok;\n"
        "    }\n"
        "}\n", d, crt, key));

    ck_assert_str_eq(cn_of(srv.port, "x.test"), "one.test");
    ck_assert_str_eq(cn_of(srv.port, "inline.test"), "inline.test");

    /* read per handshake: a file put there now is found */
    ck_assert_str_eq(cn_of(srv.port, "rel.test"), "");
    make_cert(sl_t_path(srv.dir, "conf"), "rel", "rel.test");
    ck_assert_int_eq(mkdir(sl_t_path(srv.dir, "conf/certs"), 0700), 0);
    ck_assert_int_eq(rename(sl_t_path(srv.dir, "conf/rel.crt"),
                            sl_t_path(srv.dir, "conf/certs/rel.crt")), 0);
    ck_assert_int_eq(rename(sl_t_path(srv.dir, "conf/rel.key"),
                            sl_t_path(srv.dir, "conf/certs/rel.key")), 0);
    ck_assert_str_eq(cn_of(srv.port, "rel.test"), "rel.test");
    sl_t_sluice_stop(&srv);
}
END_TEST

/* an encrypted key, decrypted with ssl_password_file's second line */
START_TEST(test_password)
{
    sl_t_sluice_t  srv;
    const char    *d = sl_t_mkdir();
    int            i;

    ck_assert_int_eq(sl_tt_cert(d, "enc", SL_TT_RSA, "enc.test", NULL, NULL,
                                SL_TT_PASSWORD), 0);
    sl_t_write(d, "pass", "wrong\n" SL_TT_PASSWORD "\n");

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    map $ssl_server_name $n { default enc; }\n"
        "    ssl_password_file %1$s/pass;\n"
        "    ssl_certificate_cache max=4;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate %1$s/$n.crt;\n"
        "        ssl_certificate_key %1$s/$n.key;\n"
        "        return ok;\n"
        "    }\n"
        "}\n", d));

    /* an encrypted key is not cached: every handshake decrypts it again */
    for (i = 0; i < 3; i++) {
        ck_assert_str_eq(cn_of(srv.port, "x.test"), "enc.test");
    }
    sl_t_sluice_stop(&srv);
}
END_TEST

#define CACHED_CONF                                                           \
    "stream {\n"                                                              \
    "    server {\n"                                                          \
    "        listen 127.0.0.1:@PORT@ ssl;\n"                                  \
    "        ssl_certificate_cache %2$s;\n"                                   \
    "        ssl_certificate %1$s/$ssl_server_name.crt;\n"                    \
    "        ssl_certificate_key %1$s/$ssl_server_name.key;\n"                \
    "        return ok;\n"                                                    \
    "    }\n"                                                                 \
    "    server {\n"                                                          \
    "        listen unix:@DIR@/nocache.sock ssl;\n"                          \
    "        ssl_certificate %1$s/$ssl_server_name.crt;\n"                    \
    "        ssl_certificate_key %1$s/$ssl_server_name.key;\n"                \
    "        return ok;\n"                                                    \
    "    }\n"                                                                 \
    "}\n"

/*
 * The cache's reuse, seen from outside: the files change after the first
 * handshake; the cached server still gives the old certificate, the one
 * without a cache the new one.
 */
START_TEST(test_cache_reuse)
{
    sl_t_sluice_t  srv;
    const char    *d = sl_t_mkdir();

    make_cert(d, "a.test", "old");

    sl_t_sluice_start(&srv, sl_t_printf(CACHED_CONF, d,
                                            "max=10 valid=1h"));

    ck_assert_str_eq(cn_of(srv.port, "a.test"), "old");
    ck_assert_str_eq(cn_of_uncached(&srv, "a.test"), "old");

    make_cert(d, "a.test", "new");

    ck_assert_str_eq(cn_of(srv.port, "a.test"), "old");
    ck_assert_str_eq(cn_of_uncached(&srv, "a.test"), "new");

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * After `valid` the file is looked at again and, changed, read again:
 * with valid=1s the new certificate comes within a few seconds (polled:
 * the clock has to move on, nothing else tells it).
 */
START_TEST(test_cache_valid)
{
    sl_t_sluice_t  srv;
    const char    *d = sl_t_mkdir();
    long long      end;

    make_cert(d, "a.test", "old");

    sl_t_sluice_start(&srv, sl_t_printf(CACHED_CONF, d,
                                            "max=10 valid=1s"));

    ck_assert_str_eq(cn_of(srv.port, "a.test"), "old");
    make_cert(d, "a.test", "new");

    end = sl_t_msec() + sl_t_timeout(10000);
    while (strcmp(cn_of(srv.port, "a.test"), "new") != 0) {
        ck_assert_msg(sl_t_msec() < end, "still the old certificate");
        usleep(100 * 1000);
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A certificate and its key are two entries, as in nginx: max=2, the
 * second name drops the first; max=4 keeps both.
 */
START_TEST(test_cache_max)
{
    sl_t_sluice_t  srv;
    const char    *d = sl_t_mkdir();
    int            max;

    for (max = 2; max <= 4; max += 2) {
        make_cert(d, "a.test", "a-old");
        make_cert(d, "b.test", "b");

        sl_t_sluice_start(&srv, sl_t_printf(CACHED_CONF, d,
                                            sl_t_printf("max=%d valid=1h",
                                                        max)));

        ck_assert_str_eq(cn_of(srv.port, "a.test"), "a-old");
        ck_assert_str_eq(cn_of(srv.port, "b.test"), "b");
        make_cert(d, "a.test", "a-new");
        ck_assert_str_eq(cn_of(srv.port, "a.test"),
                         max == 2 ? "a-new" : "a-old");

        sl_t_sluice_stop(&srv);
    }
}
END_TEST

/*
 * proxy_ssl_certificate with variables: the upstream (another sluice that
 * asks for a client certificate) sees the one the session's value names;
 * proxy_ssl_certificate_cache keeps it, as on the server side.
 */
START_TEST(test_proxy_certificate)
{
    sl_t_sluice_t  back, srv;
    const char    *d = sl_t_mkdir();

    make_cert(d, "back", "back.test");
    make_client_cert(d, "c1", "c1");
    make_client_cert(d, "c2", "c2");

    sl_t_sluice_start(&back, sl_t_printf(
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate %1$s/back.crt;\n"
        "        ssl_certificate_key %1$s/back.key;\n"
        "        ssl_verify_client optional_no_ca;\n"
        "        return \"[$ssl_client_s_dn]\";\n"
        "    }\n"
        "}\n", d));

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    proxy_ssl on;\n"
        "    proxy_ssl_session_reuse off;   # each handshake sends a cert\n"
        "    proxy_ssl_certificate %1$s/$who.crt;\n"
        "    proxy_ssl_certificate_key %1$s/$who.key;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        set $who c1;\n"
        "        proxy_ssl_certificate_cache max=4;\n"
        "        proxy_pass 127.0.0.1:%2$d;\n"
        "    }\n"
        "    server {\n"
        "        listen unix:@DIR@/c2.sock;\n"
        "        set $who c2;\n"
        "        proxy_pass 127.0.0.1:%2$d;\n"
        "    }\n"
        "}\n", d, back.port));

    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", srv.port),
                                    NULL, T_IO), "[CN=c1,O=sluice tests]");
    ck_assert_str_eq(sl_t_recv_text(sl_t_connect_unix(sl_t_path(srv.dir,
                                                                "c2.sock")),
                                    NULL, T_IO), "[CN=c2,O=sluice tests]");

    /* the cached one stays; the other is read again */
    make_client_cert(d, "c1", "c1-new");
    make_client_cert(d, "c2", "c2-new");
    ck_assert_str_eq(sl_t_recv_text(sl_t_connect("127.0.0.1", srv.port),
                                    NULL, T_IO), "[CN=c1,O=sluice tests]");
    ck_assert_str_eq(sl_t_recv_text(sl_t_connect_unix(sl_t_path(srv.dir,
                                                                "c2.sock")),
                                    NULL, T_IO), "[CN=c2-new,O=sluice tests]");

    sl_t_sluice_stop(&srv);
    sl_t_sluice_stop(&back);
}
END_TEST

START_TEST(test_conf_errors)
{
#define CACHE(args)                                                           \
    "stream {\n    ssl_certificate_cache " args ";\n"                         \
    "    server { listen 127.0.0.1:1; return x; }\n}\n"

    sl_t_conf_error_line(CACHE("max=0"), "invalid parameter \"max=0\"", 2);
    sl_t_conf_error_line(CACHE("max=10 inactive=x"),
                         "invalid parameter \"inactive=x\"", 2);
    sl_t_conf_error_line(CACHE("max=10 size=1"),
                         "invalid parameter \"size=1\"", 2);
    sl_t_conf_error_line(CACHE("inactive=10s valid=1m"),
                         "\"ssl_certificate_cache\" must have the \"max\" "
                         "parameter", 2);
    sl_t_conf_error_line("stream {\n    ssl_certificate_cache off;\n"
                         "    ssl_certificate_cache max=1;\n}\n",
                         "\"ssl_certificate_cache\" directive is duplicate",
                         3);
    ck_assert_int_eq(sl_t_sluice_test(
        CACHE("max=1000 inactive=20s valid=1h"), NULL), 0);
    ck_assert_int_eq(sl_t_sluice_test(CACHE("off"), NULL), 0);
}
END_TEST

static Suite *
ssl_certificate_vars_suite(void)
{
    Suite  *s = suite_create("ssl_certificate_vars");
    TCase  *tc = tcase_create("vars");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_ssl_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_by_server_name);
    tcase_add_test(tc, test_map_data_relative);
    tcase_add_test(tc, test_password);
    tcase_add_test(tc, test_cache_reuse);
    tcase_add_test(tc, test_cache_valid);
    tcase_add_test(tc, test_cache_max);
    tcase_add_test(tc, test_proxy_certificate);
    tcase_add_test(tc, test_conf_errors);

    return s;
}

SL_TEST_MAIN(ssl_certificate_vars_suite)
