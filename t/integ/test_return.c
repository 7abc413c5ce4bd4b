/*
 * test_return.c -- the return module against clients that talk back: one
 * that sends while the answer is on its way must not restart it, and must
 * get all of it and a FIN, not a reset; and a worker_connections too
 * large to allocate is an error, not a crash.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_IO  10000

#ifndef SL_HAVE_stream_return_MODULE
#define SL_HAVE_stream_return_MODULE  0
#endif

/* "$msec" 818 times: 11452 bytes, each 14 */
#define MSEC_N     818
#define ANSWER_LEN (MSEC_N * 14)

static char *
return_conf(const char *backend)
{
    static char  text[MSEC_N * 5 + 1];
    size_t       i;

    for (i = 0; i < MSEC_N; i++) {
        memcpy(text + i * 5, "$msec", 5);
    }
    text[MSEC_N * 5] = '\0';

    /* a small send buffer: the answer cannot leave in one send() */
    return sl_t_printf(
        "events { use %s; }\n"
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@ sndbuf=4096; return \"%s\"; }\n"
        "}\n", backend, text);
}

/*
 * Reads for at most ms, or until the peer closes or resets, or until max
 * bytes came. Returns the bytes read; *end is 0 (still open), 1 (FIN) or
 * 2 (reset).
 */
static size_t
read_for(int fd, char *buf, size_t max, int ms, int *end)
{
    long long      deadline = sl_t_msec() + ms;
    struct pollfd  pfd;
    size_t         got = 0;
    ssize_t        n;
    int            left;

    *end = 0;

    while (got < max && (left = (int) (deadline - sl_t_msec())) > 0) {
        pfd.fd = fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, left) <= 0) {
            continue;
        }

        n = recv(fd, buf + got, max - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t) n;
        } else if (n == 0) {
            *end = 1;
            break;
        } else if (errno == ECONNRESET) {
            *end = 2;
            break;
        }
    }

    return got;
}

/*
 * Once the content phase has run, client input must not run it again. It
 * did: on epoll and kqueue both directions stay registered, and on Linux
 * every ACK that made room also reported EPOLLIN while the client's byte
 * sat unread, so the answer restarted on every ACK -- endless output, a
 * pool growing without bound.
 */
/* until the answer has begun to arrive */
static void
wait_readable(int fd)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };

    ck_assert_msg(poll(&pfd, 1, sl_t_timeout(T_IO)) == 1,
                  "no answer began to arrive");
}

START_TEST(test_return_rerun_by_client_data)
{
    sl_t_sluice_t  srv;
    static char    buf[4 * 1024 * 1024];
    const char    *be = sl_t_backend(_i);
    size_t         n;
    long           rss0, rss1;
    int            fd, end;

    sl_t_sluice_start(&srv, return_conf(be));
    rss0 = sl_t_rss_kb(sl_t_pid(srv.proc));

    fd = sl_t_connect_buf("127.0.0.1", srv.port, 1024);
    wait_readable(fd);              /* the answer is on its way */

    /* one byte from the client while the answer is still on its way */
    sl_t_send_all(fd, "x", 1, T_IO);

    n = read_for(fd, buf, sizeof(buf), 3000, &end);
    rss1 = sl_t_rss_kb(sl_t_pid(srv.proc));
    close(fd);

    ck_assert_msg(n <= ANSWER_LEN,
                  "%s: %zu bytes came for an answer of %d (%s after 3 s); "
                  "sluice RSS %ld kB -> %ld kB",
                  be, n, ANSWER_LEN,
                  end == 0 ? "still sending" : end == 1 ? "closed" : "reset",
                  rss0, rss1);

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A connection closed with the client's bytes unread sends a reset, and
 * a reset throws away what is still in the send queue: a client that said
 * anything lost the end of the answer. It must get all of it, then a FIN.
 */
START_TEST(test_return_tail_lost_when_client_sent)
{
    sl_t_sluice_t  srv;
    static char    buf[1024 * 1024];
    const char    *be = sl_t_backend(_i);
    size_t         n;
    int            fd, end;

    sl_t_sluice_start(&srv, return_conf(be));

    fd = sl_t_connect_buf("127.0.0.1", srv.port, 1024);
    sl_t_send_all(fd, "hello\n", 6, T_IO);
    wait_readable(fd);

    n = read_for(fd, buf, sizeof(buf), 5000, &end);
    close(fd);

    ck_assert_msg(n == ANSWER_LEN && end == 1,
                  "%s: %zu bytes of an answer of %d came, then %s",
                  be, n, ANSWER_LEN,
                  end == 0 ? "nothing (still open)"
                  : end == 1 ? "a FIN" : "a reset");

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * n * sizeof(sl_connection_t) wrapped for a huge worker_connections and
 * the server crashed: it must be a configuration error.
 */
START_TEST(test_worker_connections_overflow)
{
    sl_t_out_t   out;
    char        *dir;
    int          rc;

    dir = sl_t_mkdir();
    sl_t_writef(dir, "conf/t.conf",
        "daemon off;\n"
        "master_process off;\n"
        "error_log logs/error.log info;\n"
        "events { worker_connections 2305843009213693952; }\n"
        "stream { server { listen unix:%s/s.sock; return x; } }\n", dir);

    rc = sl_t_run(((char *const []) { "sluice", "-p", dir, "-c",
                                      "conf/t.conf", NULL }), &out, 10000);

    ck_assert_msg(rc == 1, "sluice %s with worker_connections 2^61 "
                  "(expected: exit 1 with an error)",
                  sl_t_status_text(out.status));
}
END_TEST

static Suite *
return_suite(void)
{
    Suite  *s = suite_create("return");
    TCase  *tc = tcase_create("talk back");
    int     i;

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_return_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_worker_connections_overflow);

    /* input reaches the handler uninvited on edge-triggered back ends */
    for (i = 0; i < sl_t_nbackends(); i++) {
        if (strcmp(sl_t_backend(i), "epoll") == 0
            || strcmp(sl_t_backend(i), "kqueue") == 0)
        {
            tcase_add_loop_test(tc, test_return_rerun_by_client_data, i,
                                i + 1);
        }
    }

    tcase_add_loop_test(tc, test_return_tail_lost_when_client_sent, 0,
                        sl_t_nbackends());
    return s;
}

SL_TEST_MAIN(return_suite)
