/*
 * test_hostile_pipes.c -- pipe exhaustion under proxy_splice (issue 13):
 * many concurrent bulk sessions past the per-user pipe limit.
 *
 * The worker runs as nobody ("user nobody"), the only kind of process
 * the kernel's per-user pipe limits apply to; the test lowers them for
 * its run (fs.pipe-user-pages-soft: pipes of that user beyond it get two
 * pages; fs.pipe-user-pages-hard: beyond it pipe2() fails) and puts them
 * back at its end, also when it fails (an atexit() handler of the forked
 * test). Then M sessions (full: 2000; small: 48) each send 256 KiB of a
 * pattern through the proxy to an echo and read it back, all at once.
 * Criteria: every byte comes back in order (compared with the pattern);
 * some sessions spliced, and those that found no pipe went on through
 * the buffered path, each logging its fallback once, and of those lines
 * the worker's first only at warn (the others at info: a system out of
 * pipes is one fact for the operator, not one per session); nothing at
 * alert or worse.
 *
 * The limits are machine-wide: other unprivileged processes making many
 * pipes during this test would meet them too. It holds them lowered for
 * the few seconds of its transfer only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_backend.h"
#include "sl_t_hostile.h"
#include "sl_t_storm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SL_HAVE_SPLICE
#define SL_HAVE_SPLICE  0
#endif

#define T_IO   60000
#define BULK   (256 * 1024)

#define SOFT   "/proc/sys/fs/pipe-user-pages-soft"
#define HARD   "/proc/sys/fs/pipe-user-pages-hard"

static char  saved_soft[32], saved_hard[32];

static void
put(const char *path, const char *value)
{
    FILE  *f = fopen(path, "w");

    if (f != NULL) {
        fputs(value, f);
        fclose(f);
    }
}

static void
restore(void)
{
    if (saved_soft[0] != '\0') {
        put(SOFT, saved_soft);
        put(HARD, saved_hard);
        saved_soft[0] = '\0';
    }
}

static void
lower(long soft, long hard)
{
    char  *s = sl_t_read(SOFT), *h = sl_t_read(HARD);

    ck_assert(s != NULL && h != NULL);
    snprintf(saved_soft, sizeof(saved_soft), "%s", s);
    snprintf(saved_hard, sizeof(saved_hard), "%s", h);
    atexit(restore);

    put(SOFT, sl_t_printf("%ld\n", soft));
    put(HARD, sl_t_printf("%ld\n", hard));
    ck_assert_int_eq(atol(sl_t_read(HARD)), hard);
}

typedef struct {
    int     fd;
    size_t  sent;
    size_t  got;
} sess_t;

/* the first line at level, or "none" */
static const char *
first_line(const char *log, const char *level)
{
    const char  *p = sl_t_log_has(log, level, ""), *end;

    if (p == NULL) {
        return "none";
    }

    end = strchr(p, '\n');
    return sl_t_printf("%.*s", end != NULL ? (int) (end - p)
                                           : (int) strlen(p), p);
}

/* every session at once: BULK out, BULK back, compared */
static void
transfer(int port, sess_t *s, int n)
{
    struct epoll_event  ev, evs[64];
    unsigned char       buf[16384], want[16384];
    long long           deadline;
    ssize_t             r;
    size_t              i, len;
    int                 ep, k, j, done = 0;

    ep = epoll_create1(EPOLL_CLOEXEC);
    for (j = 0; j < n; j++) {
        s[j].fd = sl_t_nb_connect(port);
        ck_assert_int_ge(s[j].fd, 0);
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = (uint32_t) j;
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s[j].fd, &ev), 0);
    }

    deadline = sl_t_msec() + sl_t_timeout(T_IO);
    while (done < n) {
        ck_assert_msg(sl_t_msec() < deadline, "%d of %d sessions stalled",
                      n - done, n);
        k = epoll_wait(ep, evs, 64, 1000);

        for (j = 0; j < k; j++) {
            sess_t  *c = &s[evs[j].data.u32];

            if ((evs[j].events & EPOLLOUT) && c->sent < BULK) {
                len = BULK - c->sent < sizeof(buf) ? BULK - c->sent
                                                   : sizeof(buf);
                for (i = 0; i < len; i++) {
                    buf[i] = sl_t_pattern(c->sent + i);
                }
                r = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                ck_assert_msg(r > 0 || errno == EAGAIN, "send: %s",
                              strerror(errno));
                c->sent += r > 0 ? (size_t) r : 0;
                if (c->sent == BULK) {
                    ev.events = EPOLLIN;
                    ev.data.u32 = evs[j].data.u32;
                    (void) epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }

            if (!(evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                continue;
            }

            r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r < 0 && errno == EAGAIN) {
                continue;
            }
            ck_assert_msg(r > 0, "session %u ended after %zu bytes back: %s",
                          evs[j].data.u32, c->got,
                          r == 0 ? "end of stream" : strerror(errno));
            for (i = 0; i < (size_t) r; i++) {
                want[i] = sl_t_pattern(c->got + i);
            }
            ck_assert_msg(memcmp(buf, want, (size_t) r) == 0,
                          "session %u: a corrupted byte near %zu",
                          evs[j].data.u32, c->got);
            c->got += (size_t) r;
            if (c->got == BULK) {
                (void) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                done++;
            }
        }
    }

    close(ep);
}

START_TEST(test_pipe_exhaustion)
{
    sl_t_master_t   m;
    sess_t         *s;
    const char     *log;
    long            soft, hard;
    int             n, fallbacks, spliced, warned;

    if (!SL_HAVE_SPLICE) {
        return;                 /* no splice: nothing takes a pipe */
    }

    (void) signal(SIGPIPE, SIG_IGN);
    n = sl_t_storm_n(48, 2000, 2);
    /* roughly half the pipes the sessions want, and a quarter full-size */
    hard = n * 2;
    soft = n / 2;
    /* sluice inherits it (worker_rlimit_nofile fails under valgrind) */
    ck_assert_int_ge(sl_t_raise_nofile(4 * n + 1024), 2 * n + 512);

    sl_t_master_start(&m, 1, 0, sl_t_printf(
        "user nobody;\n"
        "events { worker_connections %d; }\n"
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT2@ backlog=4096; echo; }\n"
        "    server { listen 127.0.0.1:@PORT@ backlog=4096;"
        " proxy_buffer_size 16k; proxy_splice on;"
        " proxy_pass 127.0.0.1:@PORT2@; }\n"
        "}\n", 4 * n + 1024));

    s = calloc((size_t) n, sizeof(sess_t));
    ck_assert_ptr_nonnull(s);

    lower(soft, hard);
    transfer(m.port, s, n);
    restore();

    log = sl_t_read(m.log);
    fallbacks = sl_t_count(log, "pipe2() failed, proxying without splice()");
    spliced = sl_t_count(log, "proxying with splice()");

    ck_assert_msg(spliced > 0, "no session spliced: %s", log);
    ck_assert_msg(fallbacks > 0 && fallbacks <= n, "%d fallbacks for %d"
                  " sessions", fallbacks, n);
    /* one worker: one warning, with the system's reason; the rest info */
    warned = sl_t_log_count(log, "warn", "pipe2() failed, proxying without"
                            " splice()");
    ck_assert_msg(warned == 1, "%d of %d fallbacks at warn, not 1",
                  warned, fallbacks);
    ck_assert_ptr_nonnull(sl_t_log_has(log, "warn", "pipe2() failed, "
                                       "proxying without splice() ("));
    ck_assert_int_eq(sl_t_log_count(log, "info", "pipe2() failed, proxying"
                                    " without splice()"), fallbacks - 1);
    ck_assert_msg(sl_t_log_count(log, "alert", "") == 0,
                  "an alert: %s", first_line(log, "alert"));
    ck_assert_ptr_null(sl_t_log_has(log, "crit", ""));
    ck_assert_int_eq(sl_t_bad_exits(log), 0);

    sl_t_hostile_figure("pipe-exhaustion", "%d sessions of 256 KiB each way"
                        " at once, the worker as nobody with"
                        " pipe-user-pages-soft %ld, -hard %ld: %d spliced,"
                        " %d fell back to the buffered path (one warning,"
                        " the rest at info), every byte back in order", n,
                        soft, hard,
                        spliced, fallbacks);
    free(s);
}
END_TEST

static Suite *
hostile_pipes_suite(void)
{
    Suite  *s = suite_create("hostile_pipes");
    TCase  *tc = sl_t_master_tcase(s, "pipes", 600);

    tcase_add_test(tc, test_pipe_exhaustion);
    return s;
}

SL_TEST_MAIN(hostile_pipes_suite)
