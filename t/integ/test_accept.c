/*
 * test_accept.c -- accepting under load, on every back end: a thousand
 * clients at once, a storm that runs the server out of descriptors, and
 * a server out of connection slots.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#define CLIENTS     1000
#define MSG_LEN     48


static void
raise_nofile(rlim_t want)
{
    struct rlimit  rl;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = want <= rl.rlim_max ? want : rl.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_msg(rl.rlim_cur >= want, "cannot raise RLIMIT_NOFILE to %lu",
                  (unsigned long) want);
}

/* is there a log line of this level whose text contains needle? */
static int
log_has(const char *text, const char *level, const char *needle)
{
    const char  *line, *end;
    char         tag[32];

    snprintf(tag, sizeof(tag), " [%s] ", level);

    for (line = text; line != NULL && *line != '\0'; line = end) {
        end = strchr(line, '\n');
        end = end != NULL ? end + 1 : line + strlen(line);

        char  *copy = strndup(line, (size_t) (end - line));
        int    yes = strstr(copy, tag) != NULL
                     && (needle == NULL || strstr(copy, needle) != NULL);
        free(copy);
        if (yes) {
            return 1;
        }
    }

    return 0;
}

static void
message(char *buf, int i)
{
    int  n = snprintf(buf, MSG_LEN + 1, "client %04d says ", i);

    /* fill the rest with bytes that depend on the client */
    for ( ; n < MSG_LEN; n++) {
        buf[n] = (char) ('a' + (i + n) % 26);
    }
}

/* reads exactly len bytes within ms */
static void
recv_exact(int fd, char *buf, size_t len, int ms)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };
    size_t         got = 0;
    long long      end = sl_t_msec() + sl_t_timeout(ms);
    ssize_t        n;

    while (got < len) {
        int  left = (int) (end - sl_t_msec());

        ck_assert_msg(left > 0, "timed out after %zu of %zu bytes", got, len);
        if (poll(&pfd, 1, left) <= 0) {
            continue;
        }
        n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        ck_assert_msg(n > 0, "recv: %s", n == 0 ? "eof" : strerror(errno));
        got += (size_t) n;
    }
}

static void
echo_once(int fd, int i)
{
    char  out[MSG_LEN + 1], in[MSG_LEN];

    message(out, i);
    sl_t_send_all(fd, out, MSG_LEN, 5000);
    recv_exact(fd, in, MSG_LEN, 10000);
    ck_assert_msg(memcmp(in, out, MSG_LEN) == 0, "client %d: wrong echo", i);
}

START_TEST(test_thousand_clients)
{
    sl_t_sluice_t   srv;
    static int      fds[CLIENTS];
    char            out[MSG_LEN + 1], in[MSG_LEN];
    int             i;

    /*
     * sluice inherits the limit: valgrind, which the server runs under in
     * make test-valgrind, does not let it raise its own.
     */
    raise_nofile(CLIENTS + 256);

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; worker_connections 1100; }\n"
        "stream { server { listen 127.0.0.1:@PORT@; echo; } }\n",
        sl_t_backend(_i)));

    /* every client connected before any of them talks */
    for (i = 0; i < CLIENTS; i++) {
        fds[i] = sl_t_connect("127.0.0.1", srv.port);
    }

    for (i = 0; i < CLIENTS; i++) {
        message(out, i);
        sl_t_send_all(fds[i], out, MSG_LEN, 5000);
    }

    for (i = 0; i < CLIENTS; i++) {
        message(out, i);
        recv_exact(fds[i], in, MSG_LEN, 20000);
        ck_assert_msg(memcmp(in, out, MSG_LEN) == 0, "client %d: wrong echo",
                      i);
        close(fds[i]);
    }

    ck_assert_msg(!log_has(sl_t_read(srv.log), "alert", NULL)
                  && !log_has(sl_t_read(srv.log), "crit", NULL),
                  "errors in the log: %s", sl_t_read(srv.log));
    sl_t_sluice_stop(&srv);
}
END_TEST

typedef struct {
    const char  *log;
} log_cond_t;

static int
log_has_emfile(void *data)
{
    log_cond_t  *lc = data;
    char        *text = sl_t_read(lc->log);

    return text != NULL
           && log_has(text, "crit", "accept() failed (24: Too many open "
                      "files)");
}

#define STORM  120

START_TEST(test_emfile_storm)
{
    sl_t_sluice_t   srv;
    log_cond_t      lc;
    static int      storm[STORM];
    int             keep[4], i, fresh;
    long            before, used;
    long long       start;
    int             left;
    pid_t           pid;

    if (getenv("SLUICE_WRAPPER") != NULL) {
        /* valgrind keeps descriptors of its own under the limit */
        return;
    }

    sl_t_sluice_start(&srv, sl_t_printf(
        "worker_rlimit_nofile 48;\n"
        "events { use %s; worker_connections 256; }\n"
        "stream { server { listen 127.0.0.1:@PORT@; echo; } }\n",
        sl_t_backend(_i)));
    pid = sl_t_pid(srv.proc);

    for (i = 0; i < 4; i++) {
        keep[i] = sl_t_connect("127.0.0.1", srv.port);
        echo_once(keep[i], i);
    }

    /* more clients than the server has descriptors for */
    for (i = 0; i < STORM; i++) {
        storm[i] = sl_t_connect("127.0.0.1", srv.port);
    }

    lc.log = srv.log;
    ck_assert_int_eq(sl_t_wait_for(log_has_emfile, &lc, srv.log,
                                   sl_t_timeout(10000)), 0);

    /*
     * Measure a second of the storm: a server that retried accept() in a
     * loop would burn the whole second; one that paused burns nothing.
     */
    before = sl_t_cpu_ms(pid);
    start = sl_t_msec();
    while ((left = 1000 - (int) (sl_t_msec() - start)) > 0) {
        (void) poll(NULL, 0, left);      /* a signal may cut it short */
    }
    used = sl_t_cpu_ms(pid) - before;
    ck_assert_msg(used < 200, "the server used %ld ms of CPU in 1 s of an "
                  "EMFILE storm", used);

    /* the clients it had keep being served */
    for (i = 0; i < 4; i++) {
        echo_once(keep[i], 100 + i);
    }

    /* descriptors free up: it accepts again by itself */
    for (i = 0; i < STORM; i++) {
        close(storm[i]);
    }

    fresh = sl_t_connect("127.0.0.1", srv.port);
    echo_once(fresh, 999);
    close(fresh);

    for (i = 0; i < 4; i++) {
        close(keep[i]);
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/* fills the server's buffers: sends until the socket would block */
static size_t
send_until_full(int fd)
{
    static char  chunk[65536];
    size_t       total = 0;
    ssize_t      n;
    int          idle_rounds = 0;

    memset(chunk, 'b', sizeof(chunk));

    /* EAGAIN can come before the server has read: give it a few turns */
    while (idle_rounds < 20) {
        n = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            total += (size_t) n;
            idle_rounds = 0;
            continue;
        }
        ck_assert_msg(n == -1 && errno == EAGAIN, "send: %s", strerror(errno));
        (void) poll(NULL, 0, 10);
        idle_rounds++;
    }

    return total;
}

/* reads len bytes of 'b' back */
static void
drain_echo(int fd, size_t len)
{
    static char  buf[65536], expect[65536];
    size_t       got = 0, want;

    memset(expect, 'b', sizeof(expect));

    /* one assertion a chunk: Check records every assertion it makes */
    while (got < len) {
        want = len - got < sizeof(buf) ? len - got : sizeof(buf);
        recv_exact(fd, buf, want, 20000);
        if (memcmp(buf, expect, want) != 0) {
            ck_abort_msg("the echo differs within bytes %zu..%zu", got,
                         got + want);
        }
        got += want;
    }
}

START_TEST(test_reuse_idle_connections)
{
    sl_t_sluice_t   srv;
    int             busy, idle[4], fresh, i;
    size_t          sent;
    char            c;

    /* one listening socket and five connections */
    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; worker_connections 6; }\n"
        "stream { server { listen 127.0.0.1:@PORT@; echo; } }\n",
        sl_t_backend(_i)));

    /* one connection with data in flight: not reusable */
    busy = sl_t_connect("127.0.0.1", srv.port);
    sent = send_until_full(busy);

    /* four that echoed and went idle: reusable */
    for (i = 0; i < 4; i++) {
        idle[i] = sl_t_connect("127.0.0.1", srv.port);
        echo_once(idle[i], i);
    }

    /* a sixth client: the idle ones make room for it */
    fresh = sl_t_connect("127.0.0.1", srv.port);
    echo_once(fresh, 5);

    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(recv(idle[i], &c, 1, 0), 0);    /* closed */
        close(idle[i]);
    }

    /* the busy one was left alone and gets every byte back */
    drain_echo(busy, sent);

    ck_assert_msg(log_has(sl_t_read(srv.log), "warn", "6 worker_connections "
                          "are not enough, reusing connections"),
                  "no warning in: %s", sl_t_read(srv.log));

    close(busy);
    close(fresh);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_no_free_connection)
{
    sl_t_sluice_t   srv;
    int             busy[5], extra, i, reset;
    size_t          sent[5];
    char            c[16];

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; worker_connections 6; }\n"
        "stream { server { listen 127.0.0.1:@PORT@; echo; } }\n",
        sl_t_backend(_i)));

    /* five connections, none of them idle */
    for (i = 0; i < 5; i++) {
        busy[i] = sl_t_connect("127.0.0.1", srv.port);
        sent[i] = send_until_full(busy[i]);
    }

    /* one too many: it is closed, and the server says why */
    extra = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_uint_eq(sl_t_recv_all(extra, c, sizeof(c), &reset, 10000), 0);
    close(extra);

    ck_assert_msg(log_has(sl_t_read(srv.log), "alert", "6 worker_connections "
                          "are not enough"),
                  "no alert in: %s", sl_t_read(srv.log));

    /* the others are served to the end */
    for (i = 0; i < 5; i++) {
        drain_echo(busy[i], sent[i]);
        close(busy[i]);
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/* a unix socket file left behind: bound, then closed without unlink() */
static void
unix_socket_file(const char *path, int keep_listening, int *fd)
{
    struct sockaddr_un  sun;
    int                 s;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
    strcpy(sun.sun_path, path);

    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(bind(s, (struct sockaddr *) &sun, sizeof(sun)), 0);

    if (keep_listening) {
        ck_assert_int_eq(listen(s, 4), 0);
        *fd = s;
        return;
    }

    close(s);
    ck_assert(sl_t_exists(path));
}

START_TEST(test_unix_stale_socket)
{
    sl_t_sluice_t   srv;
    char           *path = sl_t_path(sl_t_mkdir(), "echo.sock");
    int             fd;

    unix_socket_file(path, 0, NULL);

    /* the stale file is replaced, and the server answers on it */
    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream { server { listen unix:%s; echo; } }\n",
        sl_t_backend(_i), path));

    fd = sl_t_connect_unix(path);
    echo_once(fd, 7);
    close(fd);

    sl_t_sluice_stop(&srv);
    ck_assert(!sl_t_exists(path));      /* removed at exit */
}
END_TEST

START_TEST(test_unix_live_socket)
{
    sl_t_out_t   o;
    char        *dir = sl_t_mkdir();
    char        *path = sl_t_path(dir, "taken.sock");
    int          owner, fd;

    /* someone listens there: binding fails, and their file stays */
    unix_socket_file(path, 1, &owner);

    sl_t_writef(dir, "conf/t.conf",
                "daemon off; master_process off;\n"
                "error_log logs/error.log;\n"
                "stream { server { listen unix:%s; echo; } }\n", path);

    ck_assert_int_eq(sl_t_run(((char *[]) { "sluice", "-p", dir, "-c",
                                            "conf/t.conf", NULL }),
                              &o, 10000), 1);
    ck_assert_msg(strstr(o.err, sl_t_printf("sluice: [emerg] bind() to "
                  "unix:%s failed (98: Address already in use)", path))
                  != NULL, "stderr: %s", o.err);

    ck_assert(sl_t_exists(path));
    fd = sl_t_connect_unix(path);
    close(fd);
    close(owner);
}
END_TEST

static Suite *
accept_suite(void)
{
    Suite  *s = suite_create("accept");
    TCase  *tc;

    tc = tcase_create("thousand");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_thousand_clients, 0,
                        sl_t_nbackends());
    suite_add_tcase(s, tc);

    tc = tcase_create("emfile");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_emfile_storm, 0,
                        sl_t_nbackends());
    suite_add_tcase(s, tc);

    tc = tcase_create("unix");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_unix_stale_socket, 0, sl_t_nbackends());
    tcase_add_test(tc, test_unix_live_socket);
    suite_add_tcase(s, tc);

    tc = tcase_create("scarce");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_reuse_idle_connections, 0,
                        sl_t_nbackends());
    tcase_add_loop_test(tc, test_no_free_connection, 0,
                        sl_t_nbackends());
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(accept_suite)
