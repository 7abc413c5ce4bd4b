/*
 * test_echo.c -- the echo server, run as the real binary on every event
 * back end built: the shipped conf/echo.conf with socat as the client,
 * 1000 concurrent clients with every byte checked, half-close,
 * backpressure (a client that does not read), echo_timeout, and the
 * budget of one session's turn (a bulk session lets others go first).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_IO        20000       /* ms for one exchange to complete */
#define CLIENTS     1000
#define MAX_SIZE    32768       /* the largest a client sends */
#define CHUNK       16384

#define NBACKENDS  sl_t_nbackends()

#ifndef SL_HAVE_stream_echo_MODULE
#define SL_HAVE_stream_echo_MODULE  0
#endif


/* an echo server on 127.0.0.1:@PORT@ over the back end, plus more */
static void
start_echo(sl_t_sluice_t *srv, int backend, const char *listen,
    const char *more)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "worker_rlimit_nofile 4096;\n"
        "events { use %s; worker_connections 2048; }\n"
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@ %s; echo; %s }\n"
        "}\n", sl_t_backend(backend), listen, more));
}

/* the byte at offset off of the stream a client with this seed sends */
static unsigned char
byte_at(uint32_t seed, size_t off)
{
    uint32_t  x = seed * 2654435761u + (uint32_t) off * 40503u;

    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    return (unsigned char) x;
}

static void
fill(unsigned char *buf, uint32_t seed, size_t off, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        buf[i] = byte_at(seed, off + i);
    }
}

/* the first offset where buf is not the stream, or len when it is */
static size_t
check(const unsigned char *buf, uint32_t seed, size_t off, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (buf[i] != byte_at(seed, off + i)) {
            return i;
        }
    }

    return len;
}

static void
raise_fd_limit(void)
{
    struct rlimit  rl;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ck_assert_uint_ge(rl.rlim_cur, 2 * CLIENTS + 64);
}

static int
nonblocking(int fd)
{
    ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);
    return fd;
}

/* --- the shipped conf/echo.conf, with socat ------------------------------- */

START_TEST(test_echo_conf_socat)
{
    sl_t_sluice_t   srv;
    sl_t_out_t      out;
    unsigned char  *data;
    char           *conf, *in;
    FILE           *f;
    size_t          len = 1024 * 1024;

    conf = sl_t_read(sl_t_path(sl_t_src(), "conf/echo.conf"));
    ck_assert_ptr_nonnull(conf);
    ck_assert_ptr_nonnull(strstr(conf, "listen  127.0.0.1:7000;"));
    ck_assert_ptr_nonnull(strstr(conf, "events {"));

    /* the file as shipped but for the port and the back end */
    conf = sl_t_replace(conf, "127.0.0.1:7000", "127.0.0.1:@PORT@");
    conf = sl_t_replace(conf, "events {",
                        sl_t_printf("events {\n    use %s;", sl_t_backend(_i)));
    sl_t_sluice_start_file(&srv, "conf/echo.conf", conf);

    data = malloc(len);
    ck_assert_ptr_nonnull(data);
    fill(data, 7, 0, len);
    in = sl_t_path(srv.dir, "in.bin");
    f = fopen(in, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);

    /* socat sends the file, shuts its side down, prints what came back */
    ck_assert_int_eq(sl_t_run(((char *[]) { "sh", "-c", sl_t_printf(
                         "exec socat -t 10 - TCP:127.0.0.1:%d < '%s'",
                         srv.port, in), NULL }), &out, T_IO), 0);
    ck_assert_uint_eq(out.out_len, len);
    ck_assert(memcmp(out.out, data, len) == 0);

    /* a line, as a person would type it */
    ck_assert_int_eq(sl_t_run(((char *[]) { "sh", "-c", sl_t_printf(
                         "echo 'hello, sluice' | exec socat -t 10 - "
                         "TCP:127.0.0.1:%d", srv.port), NULL }), &out, T_IO),
                     0);
    ck_assert_str_eq(out.out, "hello, sluice\n");

    free(data);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- 1000 concurrent clients ---------------------------------------------- */

typedef struct {
    int        fd;
    uint32_t   seed;
    size_t     size;
    size_t     sent;
    size_t     got;
    unsigned   shut:1;
    unsigned   done:1;
} client_t;

static void
client_connect(client_t *cl, int port, int ep, uint32_t seed)
{
    struct sockaddr_in  sin;
    struct epoll_event  ee;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((in_port_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    cl->seed = seed;
    cl->size = 1 + (byte_at(seed, 0) << 7 | byte_at(seed, 1)) % MAX_SIZE;
    cl->fd = nonblocking(socket(AF_INET, SOCK_STREAM, 0));
    ck_assert(connect(cl->fd, (struct sockaddr *) &sin, sizeof(sin)) == 0
              || errno == EINPROGRESS);

    ee.events = EPOLLIN | EPOLLOUT;
    ee.data.ptr = cl;
    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, cl->fd, &ee), 0);
}

static void
client_write(client_t *cl, int ep)
{
    unsigned char       buf[CHUNK];
    struct epoll_event  ee;
    size_t              len;
    ssize_t             n;

    while (cl->sent < cl->size) {
        len = cl->size - cl->sent < CHUNK ? cl->size - cl->sent : CHUNK;
        fill(buf, cl->seed, cl->sent, len);

        n = send(cl->fd, buf, len, MSG_NOSIGNAL);
        if (n == -1 && errno == EAGAIN) {
            return;
        }
        ck_assert_msg(n > 0, "send(): %s", strerror(errno));
        cl->sent += (size_t) n;
    }

    /* all sent: half-close, and from now on only read */
    ck_assert_int_eq(shutdown(cl->fd, SHUT_WR), 0);
    cl->shut = 1;
    ee.events = EPOLLIN;
    ee.data.ptr = cl;
    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_MOD, cl->fd, &ee), 0);
}

static int
client_read(client_t *cl)
{
    unsigned char  buf[CHUNK];
    ssize_t        n;

    for ( ;; ) {
        n = recv(cl->fd, buf, sizeof(buf), 0);
        if (n == -1 && errno == EAGAIN) {
            return 0;
        }
        ck_assert_msg(n >= 0, "client %u: recv(): %s", cl->seed,
                      strerror(errno));

        if (n == 0) {
            ck_assert_msg(cl->got == cl->size, "client %u: EOF after %zu "
                          "of %zu bytes", cl->seed, cl->got, cl->size);
            ck_assert(cl->shut);
            cl->done = 1;
            close(cl->fd);
            return 1;
        }

        ck_assert_msg(check(buf, cl->seed, cl->got, (size_t) n) == (size_t) n,
                      "client %u: a wrong byte at %zu", cl->seed,
                      cl->got + check(buf, cl->seed, cl->got, (size_t) n));
        cl->got += (size_t) n;
    }
}

START_TEST(test_many_clients)
{
    struct epoll_event  events[256];
    sl_t_sluice_t       srv;
    client_t           *cl;
    long long           deadline;
    int                 ep, i, n, left = CLIENTS;

    raise_fd_limit();
    start_echo(&srv, _i, "backlog=2048", "");

    ep = epoll_create1(0);
    ck_assert_int_ge(ep, 0);
    cl = calloc(CLIENTS, sizeof(client_t));
    ck_assert_ptr_nonnull(cl);

    for (i = 0; i < CLIENTS; i++) {
        client_connect(&cl[i], srv.port, ep, (uint32_t) i + 1);
    }

    deadline = sl_t_msec() + sl_t_timeout(60000);

    while (left > 0) {
        ck_assert_msg(sl_t_msec() < deadline, "%d clients not done", left);

        n = epoll_wait(ep, events, 256, 1000);
        ck_assert_int_ge(n, 0);

        for (i = 0; i < n; i++) {
            client_t  *c = events[i].data.ptr;

            if (c->done) {
                continue;
            }
            if ((events[i].events & EPOLLOUT) && !c->shut) {
                client_write(c, ep);
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                left -= client_read(c);
            }
        }
    }

    /* every session was accepted as its own connection, *1 to *1000 */
    ck_assert_ptr_nonnull(strstr(sl_t_read(srv.log), sl_t_printf(
        "*%d client 127.0.0.1:", CLIENTS)));

    close(ep);
    free(cl);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- half-close ----------------------------------------------------------- */

START_TEST(test_half_close)
{
    static unsigned char  data[200000], back[sizeof(data)];
    sl_t_sluice_t         srv;
    size_t                got;
    int                   fd, reset;

    start_echo(&srv, _i, "", "");
    fill(data, 42, 0, sizeof(data));

    /* everything, then the FIN, before reading a single byte */
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, data, sizeof(data), T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);

    got = sl_t_recv_all(fd, back, sizeof(back), &reset, T_IO);
    ck_assert(!reset);
    ck_assert_uint_eq(got, sizeof(data));
    ck_assert(memcmp(back, data, sizeof(data)) == 0);
    close(fd);

    /* a FIN with nothing sent at all */
    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_uint_eq(sl_t_recv_all(fd, back, sizeof(back), &reset, T_IO), 0);
    ck_assert(!reset);
    close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- backpressure --------------------------------------------------------- */

/* the receive queue of the server's end of the client's connection */
static long
server_rx_queue(int port, int client_port)
{
    unsigned  lport, rport, st, tx, rx;
    char     *text, *line;

    text = sl_t_read("/proc/net/tcp");
    ck_assert_ptr_nonnull(text);

    for (line = strchr(text, '\n'); line != NULL;
         line = strchr(line + 1, '\n'))
    {
        if (sscanf(line + 1, " %*u: %*x:%x %*x:%x %x %x:%x", &lport, &rport,
                   &st, &tx, &rx) == 5
            && (int) lport == port && (int) rport == client_port)
        {
            return (long) rx;
        }
    }

    return -1;
}

static int
local_port(int fd)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    return ntohs(sin.sin_port);
}

/*
 * Sends until neither the client nor the server takes more: the server's
 * receive queue holds data it does not read, and stays as it is.
 */
static size_t
flood_until_stalled(int fd, int port, size_t total)
{
    unsigned char  buf[CHUNK];
    long           rx, last = -1;
    size_t         sent = 0;
    /*
     * A stall has no event to wait for: the queue is sampled. A starved
     * machine keeps a correct server reading slowly for a long time, so
     * the limit is far above any healthy run's second or two.
     */
    long long      deadline = sl_t_msec() + sl_t_timeout(60000);
    ssize_t        n;

    for ( ;; ) {
        ck_assert_msg(sl_t_msec() < deadline, "no stall after %zu bytes",
                      sent);
        ck_assert_msg(sent < total, "all %zu bytes taken", total);

        fill(buf, 9, sent, CHUNK);
        n = send(fd, buf, CHUNK, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent += (size_t) n;
            last = -1;
            continue;
        }
        ck_assert_int_eq(errno, EAGAIN);

        usleep(200 * 1000);
        rx = server_rx_queue(port, local_port(fd));
        if (rx > 0 && rx == last) {
            return sent;
        }
        last = rx;
    }
}

START_TEST(test_backpressure)
{
    static unsigned char  buf[CHUNK];
    sl_t_sluice_t         srv;
    struct pollfd         pfd;
    size_t                total = 8 * 1024 * 1024, sent, got = 0, len;
    long                  rss0, rss1;
    char                  pong[5];
    int                   fd, other, reset;
    ssize_t               n;

    /* small kernel buffers on both sides: the stall comes soon */
    start_echo(&srv, _i, "rcvbuf=64k sndbuf=64k", "");

    fd = sl_t_connect_buf("127.0.0.1", srv.port, 16384);

    sl_t_send_all(fd, "warm", 4, T_IO);
    ck_assert_int_eq(recv(fd, pong, 4, MSG_WAITALL), 4);
    rss0 = sl_t_rss_kb(sl_t_pid(srv.proc));

    /* the client sends and never reads: the server must stop reading */
    sent = flood_until_stalled(fd, srv.port, total);
    rss1 = sl_t_rss_kb(sl_t_pid(srv.proc));
    ck_assert_msg(rss1 - rss0 < 2048, "sluice grew from %ld to %ld kB with "
                  "%zu bytes in flight", rss0, rss1, sent);

    /* meanwhile another client is served as ever */
    other = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(other, "ping", 4, T_IO);
    ck_assert_int_eq(shutdown(other, SHUT_WR), 0);
    ck_assert_uint_eq(sl_t_recv_all(other, pong, sizeof(pong), &reset, T_IO),
                      4);
    ck_assert(memcmp(pong, "ping", 4) == 0);
    close(other);

    /* the client reads: everything flows again, every byte in order */
    while (got < sent || sent < total) {
        pfd.fd = fd;
        pfd.events = POLLIN | (sent < total ? POLLOUT : 0);
        ck_assert_int_gt(poll(&pfd, 1, sl_t_timeout(T_IO)), 0);

        if (pfd.revents & POLLIN) {
            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            ck_assert_int_gt(n, 0);
            ck_assert_uint_eq(check(buf, 9, got, (size_t) n), (size_t) n);
            got += (size_t) n;
        }

        if ((pfd.revents & POLLOUT) && sent < total) {
            len = total - sent < CHUNK ? total - sent : CHUNK;
            fill(buf, 9, sent, len);
            n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                sent += (size_t) n;
            }
        }
    }

    ck_assert_uint_eq(got, total);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_uint_eq(sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_IO), 0);
    close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- idle connections hold no buffer -------------------------------------- */

START_TEST(test_idle_holds_no_buffer)
{
    sl_t_sluice_t  srv;
    long           rss0, rss1;
    char           c;
    int            fd[300], i, n = 300;

    /* valgrind and ASan keep freed memory aside: RSS says nothing */
    if (getenv("SLUICE_WRAPPER") != NULL || SL_T_ASAN) {
        return;
    }

    raise_fd_limit();
    start_echo(&srv, _i, "", "echo_buffer_size 64k;");

    fd[0] = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd[0], "x", 1, T_IO);
    ck_assert_int_eq(recv(fd[0], &c, 1, MSG_WAITALL), 1);
    rss0 = sl_t_rss_kb(sl_t_pid(srv.proc));

    /* 300 connections that each echoed a byte: 300 x 64k if kept */
    for (i = 1; i < n; i++) {
        fd[i] = sl_t_connect("127.0.0.1", srv.port);
        sl_t_send_all(fd[i], "x", 1, T_IO);
        ck_assert_int_eq(recv(fd[i], &c, 1, MSG_WAITALL), 1);
    }

    rss1 = sl_t_rss_kb(sl_t_pid(srv.proc));
    ck_assert_msg(rss1 - rss0 < 300 * 64 / 4, "%d idle connections grew "
                  "sluice from %ld to %ld kB", n, rss0, rss1);

    for (i = 0; i < n; i++) {
        close(fd[i]);
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- echo_timeout --------------------------------------------------------- */

START_TEST(test_timeout)
{
    sl_t_sluice_t  srv;
    long long      t0, elapsed;
    char           buf[16], *log;
    int            fd, i, reset, cport;

    start_echo(&srv, _i, "", "echo_timeout 1s;");

    /* busy every 250 ms for 2 s: never idle for 1 s */
    fd = sl_t_connect("127.0.0.1", srv.port);
    cport = local_port(fd);
    for (i = 0; i < 8; i++) {
        sl_t_send_all(fd, "tick", 4, T_IO);
        ck_assert_int_eq(recv(fd, buf, 4, MSG_WAITALL), 4);
        usleep(250 * 1000);
    }

    /* then idle: closed with a reset (SO_LINGER 0) after about 1 s */
    t0 = sl_t_msec();
    ck_assert_uint_eq(sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_IO), 0);
    elapsed = sl_t_msec() - t0;
    ck_assert(reset);
    ck_assert_msg(elapsed >= 400, "closed after %lld ms", elapsed);
    close(fd);

    log = sl_t_read(srv.log);
    ck_assert_ptr_nonnull(strstr(log, sl_t_printf(
        "[info] %d#", (int) sl_t_pid(srv.proc))));
    ck_assert_ptr_nonnull(strstr(log, sl_t_printf(
        ": *1 connection timed out (110: Connection timed out) while echoing, "
        "client: 127.0.0.1, server: 127.0.0.1:%d\n", srv.port)));
    ck_assert_ptr_nonnull(strstr(log, sl_t_printf(
        ": *1 client 127.0.0.1:%d connected to 127.0.0.1:%d\n", cport,
        srv.port)));

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- one session's turn has a budget ------------------------------------- */

/*
 * A bulk session does not hold the worker until its socket runs dry: a
 * turn moves a few buffers (4 x echo_buffer_size) and the rest waits for
 * the next iteration, so a session that became ready in the same
 * iteration is served first. The worker is stopped while both sessions'
 * input arrives, so that one iteration finds both, the bulk one first
 * (it became ready first); 32k with 1k buffers is eight turns' worth, all
 * of it in the socket with its FIN. Without a budget the bulk session
 * echoes all and ends before the small one is looked at; with it, the
 * small one ends first. The access log tells the order in which they
 * ended. Every byte of the bulk session comes back, in order.
 */
START_TEST(test_turn_budget)
{
    static unsigned char  out[32768], in[32768 + 1];
    sl_t_sluice_t         srv;
    char                  c, pong[5], *log;
    int                   bulk, small, reset;

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream {\n"
        "    log_format n '$bytes_received';\n"
        "    server { listen 127.0.0.1:@PORT@; echo; echo_buffer_size 1k;\n"
        "             access_log logs/order.log n; }\n"
        "}\n", sl_t_backend(_i)));

    /* both sessions accepted and waiting */
    bulk = sl_t_connect("127.0.0.1", srv.port);
    small = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(bulk, "x", 1, T_IO);
    ck_assert_int_eq(recv(bulk, &c, 1, MSG_WAITALL), 1);
    sl_t_send_all(small, "x", 1, T_IO);
    ck_assert_int_eq(recv(small, &c, 1, MSG_WAITALL), 1);

    sl_t_freeze(srv.proc);

    fill(out, 13, 0, sizeof(out));
    sl_t_send_all(bulk, out, sizeof(out), T_IO);
    ck_assert_int_eq(shutdown(bulk, SHUT_WR), 0);
    sl_t_send_all(small, "ping", 4, T_IO);
    ck_assert_int_eq(shutdown(small, SHUT_WR), 0);

    sl_t_signal(srv.proc, SIGCONT);

    ck_assert_uint_eq(sl_t_recv_all(small, pong, sizeof(pong), &reset, T_IO),
                      4);
    ck_assert(memcmp(pong, "ping", 4) == 0);
    ck_assert_uint_eq(sl_t_recv_all(bulk, in, sizeof(in), &reset, T_IO),
                      sizeof(out));
    ck_assert(memcmp(in, out, sizeof(out)) == 0);
    close(small);
    close(bulk);

    /* the small session (5 bytes) ended before the bulk one (32769) */
    log = sl_t_wait_lines(sl_t_path(srv.dir, "logs/order.log"), 2, T_IO);
    ck_assert_str_eq(log, "5\n32769\n");

    sl_t_sluice_stop(&srv);
}
END_TEST

/* a build --without-stream_echo_module does not know the directive */
START_TEST(test_echo_not_built)
{
    sl_t_conf_error("stream { server { listen 127.0.0.1:1; echo; } }\n",
                    "unknown directive \"echo\"");
}
END_TEST

static Suite *
echo_suite(void)
{
    Suite  *s = suite_create("echo");
    TCase  *tc = tcase_create("echo");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);

    if (!SL_HAVE_stream_echo_MODULE) {
        tcase_add_test(tc, test_echo_not_built);
        suite_add_tcase(s, tc);
        return s;
    }

    tcase_add_loop_test(tc, test_echo_conf_socat, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_many_clients, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_half_close, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_backpressure, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_idle_holds_no_buffer, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_timeout, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_turn_budget, 0, NBACKENDS);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(echo_suite)
