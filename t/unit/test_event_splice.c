/*
 * test_event_splice.c -- sl_splice_recv() and sl_splice_send(), the OS
 * layer's recv() and send() through a pipe (src/os/unix/sl_splice.c), on
 * each back end: they answer as c->recv and c->send do (DESIGN.md, "I/O
 * return values"), set the same flags, and say SL_DECLINED, and nothing
 * else, when the kernel refuses to splice a descriptor. Over loopback TCP
 * pairs, driven by the loop.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <poll.h>
#include <signal.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>

#include "sl_os.h"
#include "sl_t_event.h"
#include "sl_test.h"

SL_TE_BACKENDS;

#if (SL_HAVE_SPLICE)

#define T_MS  5000

static u_char  got[1 << 20];
static size_t  got_len;

/* a connection over fd, watched as a protocol module would */
static sl_connection_t *
open_conn(int fd)
{
    sl_connection_t  *c;

    c = sl_te_conn(fd, NULL, NULL, NULL);
    sl_te_watch(c);
    return c;
}

/* what the pipe holds, read out of it into got */
static void
empty_pipe(sl_splice_pipe_t *p)
{
    ssize_t  n;

    while (p->len > 0) {
        ck_assert_uint_lt(got_len, sizeof(got));
        n = sl_splice_pipe_read(p, got + got_len, sizeof(got) - got_len);
        ck_assert_int_gt(n, 0);
        got_len += (size_t) n;
    }
}

/*
 * Splices from c as a relay would: when ready, into the pipe, out of it,
 * again; after SL_AGAIN, waits for the loop to say ready (a lost wake-up
 * fails the wait). Returns the call that ended it: 0, or SL_ERROR.
 */
static ssize_t
splice_to_end(sl_connection_t *c, sl_splice_pipe_t *p)
{
    ssize_t  n;

    for ( ;; ) {
        sl_te_run_until(c->read->ready, T_MS);

        n = sl_splice_recv(c, p, p->size);
        empty_pipe(p);

        if (n == 0 || n == SL_ERROR) {
            return n;
        }

        ck_assert_msg(n > 0 || n == SL_AGAIN, "%s: %zd", sl_te.be->name, n);

        if (!c->read->ready) {
            ck_assert_int_eq(sl_handle_read_event(c->read, 0), SL_OK);
        }
    }
}

static void
open_pipe(sl_splice_pipe_t *p, size_t size)
{
    ck_assert_int_eq(sl_splice_pipe_open(p, size), SL_OK);
    ck_assert_uint_ge(p->size, size);
    ck_assert_uint_eq(p->len, 0);
}

static void
pattern(u_char *b, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        b[i] = (u_char) (i * 7 + i / 251);
    }
}

/* --- into the pipe ------------------------------------------------------- */

/* more than a pipe holds, then the end: every byte, 0, eof */
START_TEST(test_recv_end)
{
    static u_char      out[200000];
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    int                fds[2];

    sl_te_open(_i, 16);
    sl_te_tcp_pair(fds);
    c = open_conn(fds[0]);
    open_pipe(&p, 16384);
    got_len = 0;

    pattern(out, sizeof(out));
    sl_te_peer_write(fds[1], out, sizeof(out));
    ck_assert_int_eq(shutdown(fds[1], SHUT_WR), 0);

    ck_assert_int_eq(splice_to_end(c, &p), 0);
    ck_assert_uint_eq(got_len, sizeof(out));
    ck_assert_mem_eq(got, out, sizeof(out));
    ck_assert(c->read->eof);
    ck_assert(!c->read->ready);
    ck_assert(!c->read->error);

    sl_splice_pipe_close(&p);
    ck_assert_int_eq(p.fd[0], -1);
    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* a drained socket into an empty pipe: SL_AGAIN, ready cleared */
START_TEST(test_recv_again)
{
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    int                fds[2];

    sl_te_open(_i, 16);
    sl_te_tcp_pair(fds);
    c = open_conn(fds[0]);
    open_pipe(&p, 4096);
    got_len = 0;

    sl_te_peer_write(fds[1], "hello", 5);
    sl_te_run_until(c->read->ready, T_MS);

    ck_assert_int_eq(sl_splice_recv(c, &p, p.size), 5);
    ck_assert_uint_eq(p.len, 5);
    empty_pipe(&p);
    ck_assert_mem_eq(got, "hello", 5);

    /* the count of kqueue may say so at once; elsewhere splice() does */
    if (c->read->ready) {
        ck_assert_int_eq(sl_splice_recv(c, &p, p.size), SL_AGAIN);
    }

    ck_assert(!c->read->ready);
    ck_assert(!c->read->eof);
    ck_assert(!c->read->error);
    ck_assert_uint_eq(p.len, 0);

    /* and the loop says when more came */
    ck_assert_int_eq(sl_handle_read_event(c->read, 0), SL_OK);
    sl_te_peer_write(fds[1], "again", 5);
    sl_te_run_until(c->read->ready, T_MS);
    ck_assert_int_eq(sl_splice_recv(c, &p, p.size), 5);

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/*
 * A pipe that holds bytes may be full while the socket is not: "would
 * block" is then the pipe's, and ready stays; emptied, it takes more.
 */
START_TEST(test_recv_full_pipe)
{
    static u_char      out[65536];
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    ssize_t            n;
    int                fds[2];

    sl_te_open(_i, 16);
    sl_te_tcp_pair(fds);
    c = open_conn(fds[0]);
    open_pipe(&p, 4096);        /* one page: one buffer of the kernel's */
    got_len = 0;

    pattern(out, sizeof(out));
    sl_te_peer_write(fds[1], out, sizeof(out));
    sl_te_run_until(c->read->ready, T_MS);

    n = sl_splice_recv(c, &p, 1);
    ck_assert_int_eq(n, 1);
    ck_assert(c->read->ready);

    /* the pipe's one buffer is taken: the kernel says "would block" */
    ck_assert_int_eq(sl_splice_recv(c, &p, p.size), SL_AGAIN);
    ck_assert_msg(c->read->ready, "%s: ready cleared by a full pipe",
                  sl_te.be->name);
    ck_assert_uint_eq(p.len, 1);

    /* full again, by its byte count or its one buffer */
    empty_pipe(&p);
    ck_assert_int_gt(sl_splice_recv(c, &p, p.size), 0);
    ck_assert_int_eq(sl_splice_recv(c, &p, p.size), SL_AGAIN);
    ck_assert(c->read->ready);

    empty_pipe(&p);
    ck_assert_int_gt(sl_splice_recv(c, &p, p.size), 0);
    empty_pipe(&p);
    ck_assert_mem_eq(got, out, got_len);

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* a reset: SL_ERROR, error set, logged at info as recv() logs it */
START_TEST(test_recv_reset)
{
    struct linger      lg = { 1, 0 };
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    int                fds[2];

    sl_te_open(_i, 16);
    sl_te_tcp_pair(fds);
    c = open_conn(fds[0]);
    open_pipe(&p, 4096);
    got_len = 0;

    ck_assert_int_eq(setsockopt(fds[1], SOL_SOCKET, SO_LINGER, &lg,
                                sizeof(lg)), 0);
    close(fds[1]);

    ck_assert_int_eq(splice_to_end(c, &p), SL_ERROR);
    ck_assert(c->read->error);
    ck_assert(!c->read->ready);
    ck_assert_uint_eq(got_len, 0);
    ck_assert_msg(sl_te_logged("[info]")
                  && sl_te_logged("(104: Connection reset by peer)"),
                  "%s: %s", sl_te.be->name, sl_te_log());

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    sl_te_close();
}
END_TEST

/*
 * An urgent byte (SO_OOBINLINE), which splice() itself never passes:
 * every byte arrives in order, then the end; _i / NBACKENDS odd: the FIN
 * right behind the urgent byte (splice() then says 0 at the mark).
 */
START_TEST(test_recv_urgent)
{
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    int                fds[2], on = 1, last;
    const char        *want;

    last = (_i / SL_TE_NBACKENDS) & 1;
    sl_te_open(_i % SL_TE_NBACKENDS, 16);
    sl_te_tcp_pair(fds);
    ck_assert_int_eq(setsockopt(fds[0], SOL_SOCKET, SO_OOBINLINE, &on,
                                sizeof(on)), 0);
    c = open_conn(fds[0]);
    open_pipe(&p, 4096);
    got_len = 0;

    sl_te_peer_write(fds[1], "before", 6);
    ck_assert_int_eq(send(fds[1], "U", 1, MSG_OOB), 1);
    if (!last) {
        sl_te_peer_write(fds[1], "after", 5);
    }
    ck_assert_int_eq(shutdown(fds[1], SHUT_WR), 0);

    want = last ? "beforeU" : "beforeUafter";

    ck_assert_int_eq(splice_to_end(c, &p), 0);
    ck_assert_msg(got_len == strlen(want) && memcmp(got, want, got_len) == 0,
                  "%s: got \"%.*s\"", sl_te.be->name, (int) got_len, got);
    ck_assert(c->read->eof);

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* --- out of the pipe ----------------------------------------------------- */

/* what the pipe holds reaches the peer, counted in c->sent */
START_TEST(test_send)
{
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    char               buf[16];
    int                fds[2];

    sl_te_open(_i, 16);
    sl_te_tcp_pair(fds);
    c = open_conn(fds[0]);
    open_pipe(&p, 4096);

    ck_assert_int_eq(write(p.fd[1], "relayed", 7), 7);
    p.len = 7;

    c->write->ready = 1;
    ck_assert_int_eq(sl_splice_send(c, &p, 100), 7);
    ck_assert_uint_eq(p.len, 0);
    ck_assert_int_eq(c->sent, 7);
    ck_assert(c->write->ready);
    ck_assert_uint_eq(sl_te_peer_read(fds[1], buf, 7, T_MS), 7);
    ck_assert_mem_eq(buf, "relayed", 7);

    /* an empty pipe sends nothing, as send() of 0 bytes */
    ck_assert_int_eq(sl_splice_send(c, &p, 100), 0);
    ck_assert(c->write->ready);

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* a peer that reads nothing: the socket fills, SL_AGAIN, ready cleared */
START_TEST(test_send_full)
{
    static u_char      out[16384];
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    ssize_t            n = 0;
    int                fds[2], i;

    sl_te_open(_i, 16);
    sl_te_tcp_pair(fds);
    c = open_conn(fds[0]);
    open_pipe(&p, sizeof(out));

    c->write->ready = 1;

    for (i = 0; i < 10000 && c->write->ready; i++) {
        if (p.len == 0) {
            ck_assert_int_eq(write(p.fd[1], out, sizeof(out)),
                             (ssize_t) sizeof(out));
            p.len = sizeof(out);
        }

        n = sl_splice_send(c, &p, p.len);
        ck_assert_msg(n > 0 || n == SL_AGAIN, "%s: %zd", sl_te.be->name, n);
    }

    ck_assert_msg(!c->write->ready, "%s: 160 MB taken by a peer that reads "
                  "nothing", sl_te.be->name);
    ck_assert(!c->write->error);
    ck_assert_uint_gt(p.len, 0);

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/*
 * A socket shut for writing: EPIPE, SL_ERROR, and the SIGPIPE splice()
 * raised is not left pending (an embedding host keeps it blocked in the
 * loop's thread: the daemon ignores it).
 */
START_TEST(test_send_epipe)
{
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    sigset_t           set, pending;
    int                fds[2];

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);

    sl_te_open(_i, 16);
    sl_te_tcp_pair(fds);
    c = open_conn(fds[0]);
    open_pipe(&p, 4096);

    ck_assert_int_eq(write(p.fd[1], "late", 4), 4);
    p.len = 4;
    ck_assert_int_eq(shutdown(fds[0], SHUT_WR), 0);

    c->write->ready = 1;
    ck_assert_int_eq(sl_splice_send(c, &p, p.len), SL_ERROR);
    ck_assert(c->write->error);
    ck_assert(!c->write->ready);
    ck_assert_uint_eq(p.len, 4);

    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert_msg(!sigismember(&pending, SIGPIPE), "a SIGPIPE is pending");
    ck_assert_msg(sl_te_logged("splice() failed")
                  && sl_te_logged("(32: Broken pipe)"), "%s", sl_te_log());

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* --- refused ------------------------------------------------------------- */

/*
 * The kernel will not splice an eventfd (EINVAL, either way; checked on
 * Linux 6.18): SL_DECLINED, errno kept, no flag changed, nothing logged,
 * nothing moved.
 */
START_TEST(test_declined)
{
    sl_splice_pipe_t   p;
    sl_connection_t   *c;
    int                fd;

    sl_te_open(_i, 16);

    fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    c = sl_te_conn(fd, NULL, NULL, NULL);
    open_pipe(&p, 4096);

    c->read->ready = 1;
    errno = 0;
    ck_assert_int_eq(sl_splice_recv(c, &p, p.size), SL_DECLINED);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(c->read->ready);
    ck_assert(!c->read->error && !c->read->eof);
    ck_assert_uint_eq(p.len, 0);

    ck_assert_int_eq(write(p.fd[1], "x", 1), 1);
    p.len = 1;
    c->write->ready = 1;
    errno = 0;
    ck_assert_int_eq(sl_splice_send(c, &p, 1), SL_DECLINED);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(c->write->ready);
    ck_assert(!c->write->error);
    ck_assert_uint_eq(p.len, 1);
    ck_assert_int_eq(c->sent, 0);

    ck_assert_msg(!sl_te_logged("splice"), "%s", sl_te_log());

    sl_splice_pipe_close(&p);
    sl_close_connection(c);
    sl_te_close();
}
END_TEST

#else

START_TEST(test_not_built)
{
    ck_assert_int_eq(SL_HAVE_SPLICE, 0);
}
END_TEST

#endif

static Suite *
event_splice_suite(void)
{
    Suite  *s = suite_create("event_splice");
    TCase  *tc;

    tc = tcase_create("splice");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, sl_te_teardown);
#if (SL_HAVE_SPLICE)
    tcase_add_loop_test(tc, test_recv_end, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_recv_again, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_recv_full_pipe, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_recv_reset, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_recv_urgent, 0, 2 * SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_send, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_send_full, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_send_epipe, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_declined, 0, SL_TE_NBACKENDS);
#else
    tcase_add_test(tc, test_not_built);
#endif
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(event_splice_suite)
