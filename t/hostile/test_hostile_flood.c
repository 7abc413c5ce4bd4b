/*
 * test_hostile_flood.c -- a connection flood past worker_connections, and
 * an EMFILE storm (issue 13): the worker must not spin on accept() while
 * it cannot take connections, and must serve a new client once the flood
 * stops. Its CPU time over the flood and the time to the first client
 * served after it are printed as figures, never compared with a clock;
 * the CPU bound is a fraction of the flood's wall time (a spinning worker
 * burns all of it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_hostile.h"

typedef struct {
    const char  *log;
    const char  *needle;
} log_cond_t;

static int
log_has(void *data)
{
    log_cond_t  *lc = data;
    char        *text = sl_t_read(lc->log);

    return text != NULL && strstr(text, lc->needle) != NULL;
}

/* one byte there and back on a fresh connection: 1 when it came back */
static int
served(int port, int ms)
{
    struct pollfd  pfd;
    int            fd;
    char           c = 0;

    fd = sl_t_connect("127.0.0.1", port);
    if (send(fd, "y", 1, MSG_NOSIGNAL) != 1) {
        close(fd);
        return 0;
    }

    pfd.fd = fd;
    pfd.events = POLLIN;
    if (poll(&pfd, 1, ms) != 1 || recv(fd, &c, 1, 0) != 1) {
        c = 0;
    }

    close(fd);
    return c == 'y';
}

/*
 * Floods srv with n connections that are held open, waits for the
 * server's complaint (needle), holds the flood for a second more, then
 * lets it go and waits for a client to be served. Prints the figures.
 */
static void
flood(const char *check, sl_t_sluice_t *srv, int n, const char *needle)
{
    struct sockaddr_in   sin;
    log_cond_t           lc;
    int                 *fds, i, left;
    pid_t                pid = sl_t_pid(srv->proc);
    long                 cpu0, cpu;
    long long            t0, wall, stop;

    fds = calloc((size_t) n, sizeof(int));
    ck_assert_ptr_nonnull(fds);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((in_port_t) srv->port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    cpu0 = sl_t_cpu_ms(pid);
    t0 = sl_t_msec();

    for (i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0);
        ck_assert_int_ge(fds[i], 0);
        ck_assert(connect(fds[i], (struct sockaddr *) &sin, sizeof(sin)) == 0
                  || errno == EINPROGRESS);
    }

    lc.log = srv->log;
    lc.needle = needle;
    ck_assert_msg(sl_t_wait_for(log_has, &lc, srv->log, sl_t_timeout(20000))
                  == 0, "no \"%s\" in the log", needle);

    /* a second of the flood held: a spinning worker burns all of it */
    while ((left = 1000 - (int) (sl_t_msec() - t0)) > 0) {
        (void) poll(NULL, 0, left);
    }

    cpu = sl_t_cpu_ms(pid) - cpu0;
    wall = sl_t_msec() - t0;

    for (i = 0; i < n; i++) {
        close(fds[i]);
    }
    free(fds);

    /* service resumes: the first client served after the flood */
    stop = sl_t_msec();
    while (!served(srv->port, 200)) {
        ck_assert_msg(sl_t_msec() - stop < sl_t_timeout(10000),
                      "no client served after the flood stopped");
    }

    sl_t_hostile_figure(check, "%d connections: worker CPU %ld ms in %lld "
                        "ms of flood; a client served %lld ms after it "
                        "stopped", n, cpu, wall, sl_t_msec() - stop);

    ck_assert_msg(cpu * 2 < wall, "the worker used %ld ms of CPU in %lld ms "
                  "of flood: it spins", cpu, wall);
}

START_TEST(test_flood_worker_connections)
{
    sl_t_sluice_t  srv;
    int            n = sl_t_hostile_n(400, 15000);

    (void) sl_t_raise_nofile(n + 256);

    sl_t_sluice_start(&srv,
        "events { worker_connections 64; }\n"
        "stream { server { listen 127.0.0.1:@PORT@ backlog=4096; echo; } }\n");

    flood("flood", &srv, n, "worker_connections are not enough");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_flood_emfile)
{
    sl_t_sluice_t  srv;
    int            n = sl_t_hostile_n(400, 15000);

    if (sl_t_hostile_valgrind()) {
        return;     /* valgrind keeps descriptors of its own under the limit */
    }

    (void) sl_t_raise_nofile(n + 256);

    sl_t_sluice_start(&srv,
        "worker_rlimit_nofile 48;\n"
        "events { worker_connections 1024; }\n"
        "stream { server { listen 127.0.0.1:@PORT@ backlog=4096; echo; } }\n");

    flood("emfile", &srv, n, "accept() failed (24: Too many open files)");
    sl_t_sluice_stop(&srv);
}
END_TEST

static Suite *
hostile_flood_suite(void)
{
    Suite  *s = suite_create("hostile_flood");
    TCase  *tc;

    tc = tcase_create("flood");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_flood_worker_connections);
    tcase_add_test(tc, test_flood_emfile);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(hostile_flood_suite)
