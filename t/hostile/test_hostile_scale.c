/*
 * test_hostile_scale.c -- many idle connections in one worker, and what
 * each of them costs in memory (issue 13, "scale").
 *
 * An idle connection here is one that was accepted, served (its client
 * sent one byte and got it back) and now waits for data: an echo session
 * waiting to read, or a proxy session whose both sides wait. Full size is
 * 100,000 echo sessions (and 50,000 proxy sessions: 100,000 connections
 * in the proxy's worker); small size a few hundred. Where RLIMIT_NOFILE
 * cannot be raised that far (no CAP_SYS_RESOURCE), as many as it allows,
 * said in a figure.
 *
 * The memory of a connection is the growth of the worker's resident set
 * divided by the connections, counted from a worker with a tiny
 * worker_connections: so it includes the preallocated slot (the
 * connection and its two events, sized by worker_connections) as well as
 * what a session allocates. The kernel's socket memory is not in it.
 *
 * Clients bind 127.0.0.x (x from 1 up, IP_BIND_ADDRESS_NO_PORT) so that
 * no source address needs more ports than the ephemeral range has; the
 * proxy's upstream listens on several addresses for the same reason.
 * It owns its processes and sockets; it changes nothing outside them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <dirent.h>
#include <unistd.h>

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_hostile.h"

/* connections from one source address: well inside 32768-60999 */
#define PER_SOURCE   20000
#define BATCH        256

/*
 * Bytes per idle connection, from FULL_MIN connections on. The issue's
 * target is 512; it was about 976, then 1504 once a turn budget put an
 * event in every echo context. Now (x86-64) echo is about 825: a 392-byte
 * slot (sl_connection_t 184 + two sl_event_t of 104) and a 416-byte pool
 * (432 with malloc's header) sized to what an idle echo session holds:
 * pool header 80, peer address 16 and its text 16, log 64, session 104,
 * ctx array 40 (up to echo's ctx_index), echo ctx 64 and its cleanup 24.
 * Proxy is about 921 a connection: two slots and two 512-byte blocks
 * holding 912 (its context is 424). Below 512 needs a smaller event and
 * connection (the event's loop and log pointers, the connection's I/O
 * vector) and no per-session pool for an idle session: bench/README.md,
 * "Scale". This bound guards what was reached.
 */
#define FULL_BOUND   960
#define FULL_MIN     10000
/* with fewer, RSS moves by pages and arenas: only gross waste fails */
#define SMALL_BOUND  4096


/*
 * How many idle sessions of conns connections each: the size asked for,
 * or less when RLIMIT_NOFILE (which the server inherits) cannot be raised
 * that far: without CAP_SYS_RESOURCE the hard limit stays where it is.
 */
static int
idle_count(int small, int full, int conns)
{
    int   want, n;
    long  have;

    want = sl_t_hostile_valgrind() ? small / 4 : sl_t_hostile_n(small, full);
    have = sl_t_raise_nofile((long) want * conns + 512);

    n = (int) ((have - 512) / conns);
    if (n >= want) {
        return want;
    }

    sl_t_hostile_figure("scale", "%d sessions scaled down to %d: "
                        "RLIMIT_NOFILE is %ld and cannot be raised", want,
                        n, have);
    ck_assert_int_gt(n, 0);
    return n;
}

/* a non-blocking socket from 127.0.0.(1 + i / PER_SOURCE), connecting */
static int
connect_from(int i, int port, in_addr_t to)
{
    struct sockaddr_in  src, dst;
    int                 s, one = 1;

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_msg(s >= 0, "socket: %s", strerror(errno));

    /* the port is chosen at connect(), by the whole 4-tuple */
    (void) setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                      sizeof(one));

    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001 + (in_addr_t) (i / PER_SOURCE));
    ck_assert_msg(bind(s, (struct sockaddr *) &src, sizeof(src)) == 0,
                  "bind 127.0.0.%d: %s", 1 + i / PER_SOURCE, strerror(errno));

    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_port = htons((in_port_t) port);
    dst.sin_addr.s_addr = to;

    if (connect(s, (struct sockaddr *) &dst, sizeof(dst)) != 0) {
        ck_assert_msg(errno == EINPROGRESS, "connect %d: %s", i,
                      strerror(errno));
    }

    return s;
}

/* waits until every fd of the batch has events; fails at the deadline */
static void
await_batch(int *fds, int n, short events, long long deadline)
{
    struct pollfd  pfd[BATCH];
    int            i, left = n, ms;

    for (i = 0; i < n; i++) {
        pfd[i].fd = fds[i];
        pfd[i].events = events;
        pfd[i].revents = 0;
    }

    while (left > 0) {
        ms = (int) (deadline - sl_t_msec());
        ck_assert_msg(ms > 0, "%d of %d connections not %s in time", left, n,
                      events == POLLOUT ? "connected" : "answered");
        if (poll(pfd, (nfds_t) n, ms) <= 0) {
            continue;
        }

        for (i = 0; i < n; i++) {
            if (pfd[i].fd < 0 || pfd[i].revents == 0) {
                continue;
            }
            ck_assert_msg(!(pfd[i].revents & (POLLERR | POLLHUP))
                          || (pfd[i].revents & POLLIN),
                          "connection %d failed (revents %#x)", i,
                          (unsigned) pfd[i].revents);
            pfd[i].fd = -1;
            left--;
        }
    }
}

/*
 * n clients of port, each served once (one byte there and back), then
 * left idle. Batches of BATCH keep the listen queue from overflowing.
 */
static void
open_idle(int *fds, int n, int port)
{
    long long  deadline = sl_t_msec() + sl_t_timeout(120000 + n);
    int        i, b, k;
    char       c;

    for (b = 0; b < n; b += BATCH) {
        k = n - b < BATCH ? n - b : BATCH;

        for (i = 0; i < k; i++) {
            fds[b + i] = connect_from(b + i, port, htonl(INADDR_LOOPBACK));
        }
        await_batch(fds + b, k, POLLOUT, deadline);

        for (i = 0; i < k; i++) {
            ck_assert_int_eq(send(fds[b + i], "x", 1, MSG_NOSIGNAL), 1);
        }
        await_batch(fds + b, k, POLLIN, deadline);

        for (i = 0; i < k; i++) {
            ck_assert_msg(recv(fds[b + i], &c, 1, 0) == 1 && c == 'x',
                          "client %d: no echo", b + i);
        }
    }
}

typedef struct {
    pid_t  pid;
    int    fds;
} fd_cond_t;

/* the sockets pid holds: its connections and listening sockets */
static int
sock_count(pid_t pid)
{
    char           *dir = sl_t_printf("/proc/%d/fd", (int) pid);
    char            target[64];
    DIR            *d = opendir(dir);
    struct dirent  *e;
    ssize_t         len;
    int             n = 0;

    if (d == NULL) {
        return -1;
    }

    while ((e = readdir(d)) != NULL) {
        len = readlink(sl_t_printf("%s/%s", dir, e->d_name), target,
                       sizeof(target) - 1);
        n += len > 7 && strncmp(target, "socket:", 7) == 0;
    }

    (void) closedir(d);
    return n;
}

/*
 * Only sockets are compared: the server's other descriptors (its logs,
 * what it inherited) may still be settling when it has logged "started".
 */
static int
fds_back(void *data)
{
    fd_cond_t  *fc = data;
    int         n = sock_count(fc->pid);

    return n >= 0 && n <= fc->fds;
}

/* what pid's descriptors are, for a failure message */
static char *
fd_list(pid_t pid)
{
    char           *dir = sl_t_printf("/proc/%d/fd", (int) pid), *out = "";
    char            target[256];
    DIR            *d = opendir(dir);
    struct dirent  *e;
    ssize_t         n;

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        n = readlink(sl_t_printf("%s/%s", dir, e->d_name), target,
                     sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        out = sl_t_printf("%s %s:%s", out, e->d_name, target);
    }

    if (d != NULL) {
        (void) closedir(d);
    }
    return out;
}

/* the resident set of a server with worker_connections n, at rest */
static long
rest_rss_kb(const char *body, int n, long nofile)
{
    sl_t_sluice_t  srv;
    long           kb;

    sl_t_sluice_start(&srv, sl_t_printf(
        "worker_rlimit_nofile %ld;\n"
        "events { worker_connections %d; }\n%s", nofile, n, body));
    kb = sl_t_rss_kb(sl_t_pid(srv.proc));
    sl_t_sluice_stop(&srv);

    return kb;
}

/*
 * The figures and the bound for n idle connections: rest is the RSS of a
 * worker with 64 worker_connections, empty that of this worker before the
 * connections, full with them.
 */
static void
report(const char *what, int n, int conns, long rest, long empty, long full)
{
    double  slot = (double) (empty - rest) * 1024 / n;
    double  session = (double) (full - empty) * 1024 / n;
    double  total = (double) (full - rest) * 1024 / n;
    int     bound = n * conns >= FULL_MIN ? FULL_BOUND : SMALL_BOUND;

    sl_t_hostile_figure("scale", "%d idle %s sessions (%d connections) in "
                        "one worker: %.0f bytes a connection (%.0f a "
                        "session: slots %.0f + session %.0f), RSS %ld -> "
                        "%ld kB, bound %d a connection",
                        n, what, n * conns, total / conns, total, slot,
                        session, empty, full, bound);

    /*
     * valgrind's allocator pads every block with redzones and keeps its
     * own record of it: per connection that is memcheck's cost, not
     * sluice's, so the bound is asserted where malloc is the real one.
     */
    ck_assert_msg(!sl_t_hostile_rss_checked() || sl_t_hostile_valgrind()
                  || total / conns < bound, "%s: %.0f bytes per idle "
                  "connection, over the bound of %d", what, total / conns,
                  bound);
}

START_TEST(test_idle_echo)
{
    const char     *body = "stream { server { listen 127.0.0.1:@PORT@; "
                           "echo; } }\n";
    sl_t_sluice_t   srv;
    fd_cond_t       fc;
    int            *fds, n = idle_count(300, 100000, 1), i;
    long            nofile = n + 256, rest, empty, full;

    fds = calloc((size_t) n, sizeof(int));
    ck_assert_ptr_nonnull(fds);

    rest = rest_rss_kb(body, 64, nofile);

    sl_t_sluice_start(&srv, sl_t_printf(
        "worker_rlimit_nofile %ld;\n"
        "events { worker_connections %d; }\n%s", nofile, n + 64, body));
    fc.pid = sl_t_pid(srv.proc);
    fc.fds = sock_count(fc.pid);
    empty = sl_t_rss_kb(fc.pid);

    open_idle(fds, n, srv.port);
    full = sl_t_rss_kb(fc.pid);
    report("echo", n, 1, rest, empty, full);

    /* every one of them is released when its client goes */
    for (i = 0; i < n; i++) {
        close(fds[i]);
    }
    ck_assert_msg(sl_t_wait_for(fds_back, &fc, NULL, sl_t_timeout(60000))
                  == 0, "the worker still holds %d sockets, %d before:%s",
                  sock_count(fc.pid), fc.fds, fd_list(fc.pid));

    free(fds);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_idle_proxy)
{
    sl_t_sluice_t   up, srv;
    fd_cond_t       fc;
    char           *listens, *servers, *body;
    int            *fds, n, i, addrs;
    long            nofile, rest, empty, full;

    n = idle_count(200, 50000, 2);
    nofile = 2 * n + 256;
    fds = calloc((size_t) n, sizeof(int));
    ck_assert_ptr_nonnull(fds);

    /* the upstream: an echo on enough addresses for the proxy's ports */
    addrs = n / PER_SOURCE + 1;
    listens = sl_t_printf("%s", "");
    for (i = 0; i < addrs; i++) {
        listens = sl_t_printf("%slisten 127.0.0.%d:@PORT@; ", listens, 2 + i);
    }
    sl_t_sluice_start(&up, sl_t_printf(
        "worker_rlimit_nofile %ld;\n"
        "events { worker_connections %d; }\n"
        "stream { server { %s echo; } }\n", nofile, n + 64, listens));

    servers = sl_t_printf("%s", "");
    for (i = 0; i < addrs; i++) {
        servers = sl_t_printf("%sserver 127.0.0.%d:%d; ", servers, 2 + i,
                              up.port);
    }
    body = sl_t_printf("stream { upstream up { %s }\n"
                       "server { listen 127.0.0.1:@PORT@; proxy_pass up; } }\n",
                       servers);

    rest = rest_rss_kb(body, 64, nofile);

    sl_t_sluice_start(&srv, sl_t_printf(
        "worker_rlimit_nofile %ld;\n"
        "events { worker_connections %d; }\n%s", nofile, 2 * n + 64, body));
    fc.pid = sl_t_pid(srv.proc);
    fc.fds = sock_count(fc.pid);
    empty = sl_t_rss_kb(fc.pid);

    open_idle(fds, n, srv.port);
    full = sl_t_rss_kb(fc.pid);
    report("proxy", n, 2, rest, empty, full);

    for (i = 0; i < n; i++) {
        close(fds[i]);
    }
    ck_assert_msg(sl_t_wait_for(fds_back, &fc, NULL, sl_t_timeout(60000))
                  == 0, "the proxy still holds %d sockets, %d before:%s",
                  sock_count(fc.pid), fc.fds, fd_list(fc.pid));

    free(fds);
    sl_t_sluice_stop(&srv);
    sl_t_sluice_stop(&up);
}
END_TEST

static Suite *
hostile_scale_suite(void)
{
    Suite  *s = suite_create("hostile_scale");
    TCase  *tc;

    tc = tcase_create("idle");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, sl_t_hostile_full() ? 900 : 120);
    tcase_add_test(tc, test_idle_echo);
    tcase_add_test(tc, test_idle_proxy);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(hostile_scale_suite)
