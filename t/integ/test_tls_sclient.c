/*
 * test_tls_sclient.c -- the shipped conf/tls-echo.conf, with a certificate
 * made by t/mkcert.sh, driven by the real `openssl s_client`: lines are
 * echoed, and still are after its interactive commands "R" (a TLS 1.2
 * renegotiation) and "k" / "K" (TLS 1.3 KeyUpdate, without and with a
 * request for the server's own).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif
#ifndef SL_HAVE_stream_echo_MODULE
#define SL_HAVE_stream_echo_MODULE  0
#endif

#define T_IO  20000

typedef struct {
    sl_t_sluice_t   srv;
    char           *certs;      /* where t/mkcert.sh wrote them */
} tls_echo_t;

/* conf/tls-echo.conf as shipped but for its port and certificate paths */
static void
start_tls_echo(tls_echo_t *te)
{
    char  *conf;

    te->certs = sl_t_mkdir();
    ck_assert_int_eq(sl_t_run(((char *[]) { "sh",
                         sl_t_path(sl_t_src(), "t/mkcert.sh"), te->certs,
                         "tls-echo", NULL }), NULL, T_IO), 0);
    ck_assert(sl_t_exists(sl_t_path(te->certs, "tls-echo.crt")));
    ck_assert(sl_t_exists(sl_t_path(te->certs, "tls-echo.key")));

    conf = sl_t_read(sl_t_path(sl_t_src(), "conf/tls-echo.conf"));
    ck_assert_ptr_nonnull(conf);
    ck_assert_ptr_nonnull(strstr(conf, "listen  127.0.0.1:7443 ssl;"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_certificate      tls-echo.crt;"));
    ck_assert_ptr_nonnull(strstr(conf,
                                 "ssl_certificate_key  tls-echo.key;"));

    conf = sl_t_replace(conf, "127.0.0.1:7443", "127.0.0.1:@PORT@");
    conf = sl_t_replace(conf, "tls-echo.crt;",
                        sl_t_printf("%s;", sl_t_path(te->certs,
                                                     "tls-echo.crt")));
    conf = sl_t_replace(conf, "tls-echo.key;",
                        sl_t_printf("%s;", sl_t_path(te->certs,
                                                     "tls-echo.key")));
    sl_t_sluice_start_file(&te->srv, "conf/tls-echo.conf", conf);
}

/* writes a line to s_client's stdin (the FIFO) */
static void
say(int fd, const char *line)
{
    size_t  len = strlen(line);

    ck_assert_int_eq(write(fd, line, len), (ssize_t) len);
}

typedef struct {
    sl_t_proc_t  *proc;
    const char   *needle;
    int           n;
} out_count_t;

static int
output_count(void *data)
{
    out_count_t  *oc = data;
    const char   *p;
    int           n = 0;

    for (p = sl_t_stdout(oc->proc); (p = strstr(p, oc->needle)) != NULL;
         p++)
    {
        n++;
    }

    for (p = sl_t_stderr(oc->proc); (p = strstr(p, oc->needle)) != NULL;
         p++)
    {
        n++;
    }

    return n >= oc->n;
}

/* until needle was printed n times in all */
static void
wait_printed(sl_t_proc_t *p, const char *needle, int n)
{
    out_count_t  oc = { p, needle, n };

    ck_assert_msg(sl_t_wait_for(output_count, &oc, NULL, sl_t_timeout(T_IO))
                  == 0, "no %d x \"%s\" in:\n%s\n%s", n, needle,
                  sl_t_stdout(p), sl_t_stderr(p));
}

/*
 * s_client reads its commands from a FIFO the test writes; opened
 * read-write here, so that neither side blocks in open() and s_client
 * sees its end of input only when the test closes it.
 */
static sl_t_proc_t *
s_client(tls_echo_t *te, const char *version, int *in)
{
    char  *fifo = sl_t_path(te->srv.dir, sl_t_printf("in%s.fifo", version));

    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    *in = open(fifo, O_RDWR | O_CLOEXEC);
    ck_assert_int_ne(*in, -1);

    return sl_t_spawn(((char *[]) { "sh", "-c", sl_t_printf(
        "exec openssl s_client -connect 127.0.0.1:%d -servername localhost "
        "%s -CAfile '%s' -verify_return_error < '%s'", te->srv.port, version,
        sl_t_path(te->certs, "tls-echo.crt"), fifo), NULL }));
}

START_TEST(test_sclient_renegotiate)
{
    tls_echo_t    te;
    sl_t_proc_t  *p;
    int           in;

    start_tls_echo(&te);
    p = s_client(&te, "-tls1_2", &in);

    wait_printed(p, "Verify return code: 0 (ok)", 1);
    say(in, "line-one\n");
    wait_printed(p, "line-one\n", 1);

    say(in, "R\n");
    wait_printed(p, "RENEGOTIATING", 1);
    say(in, "line-two\n");
    wait_printed(p, "line-two\n", 1);

    say(in, "R\n");
    wait_printed(p, "RENEGOTIATING", 2);
    say(in, "line-three\n");
    wait_printed(p, "line-three\n", 1);

    /* the end of its input: s_client says goodbye and exits */
    close(in);
    ck_assert_int_eq(sl_t_wait_exit(p, T_IO), 0);
    ck_assert_ptr_null(strstr(sl_t_stderr(p), "error"));

    ck_assert_ptr_null(strstr(sl_t_read(te.srv.log), "[alert]"));
    ck_assert_ptr_null(strstr(sl_t_read(te.srv.log), "[crit]"));
    sl_t_sluice_stop(&te.srv);
}
END_TEST

START_TEST(test_sclient_key_update)
{
    tls_echo_t    te;
    sl_t_proc_t  *p;
    int           in;

    start_tls_echo(&te);
    p = s_client(&te, "-tls1_3", &in);

    wait_printed(p, "Verify return code: 0 (ok)", 1);
    say(in, "before\n");
    wait_printed(p, "before\n", 1);

    say(in, "k\n");
    wait_printed(p, "KEYUPDATE", 1);
    say(in, "after-k\n");
    wait_printed(p, "after-k\n", 1);

    say(in, "K\n");
    wait_printed(p, "KEYUPDATE", 2);
    say(in, "after-K\n");
    wait_printed(p, "after-K\n", 1);

    say(in, "k\n");
    wait_printed(p, "KEYUPDATE", 3);
    say(in, "last\n");
    wait_printed(p, "last\n", 1);

    close(in);
    ck_assert_int_eq(sl_t_wait_exit(p, T_IO), 0);

    ck_assert_ptr_null(strstr(sl_t_read(te.srv.log), "[alert]"));
    ck_assert_ptr_null(strstr(sl_t_read(te.srv.log), "[crit]"));
    sl_t_sluice_stop(&te.srv);
}
END_TEST

static Suite *
tls_sclient_suite(void)
{
    Suite  *s = suite_create("tls_sclient");
    TCase  *tc = tcase_create("s_client");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);

    if (SL_HAVE_stream_ssl_MODULE && SL_HAVE_stream_echo_MODULE) {
        tcase_add_test(tc, test_sclient_renegotiate);
        tcase_add_test(tc, test_sclient_key_update);
    }

    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(tls_sclient_suite)
