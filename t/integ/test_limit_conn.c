/*
 * test_limit_conn.c -- "limit_conn" through the real binary, as nginx's
 * stream limit_conn behaves: the limit, the refused session's status 503
 * and log line, $limit_conn_status, dry run, several limits in a server
 * (a later one that refuses gives back what the earlier ones counted),
 * inheritance, keys that are not counted, two keys of one crc32, a full
 * zone, the configuration errors; and with a master and two workers: one
 * count for both (one shared socket, and reuseport), counts kept across
 * a reload, and counts back to zero after 10,000 sessions that end every
 * way a session can (fewer under valgrind).
 *
 * A session is known to be admitted when the echo server answers a byte,
 * refused when it closes without one. Counts are proved to be zero by
 * behaviour only: exactly "limit" new sessions are admitted at once, and
 * the next one is refused.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* "sluice -t" fails with msg at conf/t.conf:line (0: at no line) */
#define conf_error  sl_t_conf_error_line

#define T_IO    10000       /* ms for sluice to answer */

#ifndef SL_HAVE_stream_limit_conn_MODULE
#define SL_HAVE_stream_limit_conn_MODULE  0
#endif

#define LOG_FORMAT                                                            \
    "    log_format lc '$remote_addr $status $limit_conn_status';\n"          \
    "    access_log logs/lc.log lc;\n"

/* --- clients ------------------------------------------------------------- */

#define connect_from(src, port)  sl_t_connect_from(src, "127.0.0.1", port)

/* one byte through an echo session: 1 it came back, 0 the server closed */
static int
echoed(int fd)
{
    struct pollfd  p = { .fd = fd, .events = POLLIN };
    char           c = 'x';
    ssize_t        n;

    /* a refused session may be closed already: the send may fail */
    (void) send(fd, &c, 1, MSG_NOSIGNAL);

    ck_assert_msg(poll(&p, 1, sl_t_timeout(T_IO)) == 1,
                  "no answer and no close from the echo server");

    n = recv(fd, &c, 1, 0);
    return n == 1 && c == 'x';
}

/* a new session from src to dst:port: its fd when admitted, else -1 */
static int
session_to(const char *src, const char *dst, int port)
{
    int  fd = sl_t_connect_from(src, dst, port);

    if (echoed(fd)) {
        return fd;
    }

    close(fd);
    return -1;
}

#define session(src, port)  session_to(src, "127.0.0.1", port)

/* exactly limit sessions from src are admitted at once, the next one not */
static void
assert_exactly(const char *src, int port, int limit)
{
    int  fd[64], i;

    ck_assert_int_lt(limit, 64);

    for (i = 0; i < limit; i++) {
        fd[i] = session(src, port);
        ck_assert_msg(fd[i] != -1, "%s: session %d of %d refused", src,
                      i + 1, limit);
    }

    fd[limit] = session(src, port);
    ck_assert_msg(fd[limit] == -1, "%s: session %d admitted over the limit "
                  "of %d", src, limit + 1, limit);

    for (i = 0; i < limit; i++) {
        close(fd[i]);
    }
}

/* the error log has a line at level with text and the client's address */
static void
assert_logged(const char *log, const char *level, const char *text)
{
    const char  *line;

    line = sl_t_log_has(sl_t_read(log), level, text);
    ck_assert_msg(line != NULL, "no \"%s\" at %s in:\n%s", text, level,
                  sl_t_read(log));
    ck_assert_msg(strstr(line, ", client: 127.0.0.1, server: ") != NULL
                  && strstr(line, ", client: 127.0.0.1, server: ")
                     < strchr(line, '\n'),
                  "no client in: %.200s", line);
}


/* one echo server limited to n sessions per client address */
static void
start_addr_limit(sl_t_sluice_t *srv, int n)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "stream {\n"
        LOG_FORMAT
        "    limit_conn_zone $remote_addr zone=addr:1m;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        limit_conn addr %d;\n"
        "        echo;\n"
        "    }\n"
        "}\n", n));
}

/* --- one process --------------------------------------------------------- */

START_TEST(test_limit_conn_basic)
{
    sl_t_sluice_t   srv;
    char           *lc;
    int             a, b;

    start_addr_limit(&srv, 2);
    lc = sl_t_path(srv.dir, "logs/lc.log");

    a = session("127.0.0.1", srv.port);
    b = session("127.0.0.1", srv.port);
    ck_assert_int_ne(a, -1);
    ck_assert_int_ne(b, -1);

    /* the third: closed with nothing sent, 503, logged at error */
    ck_assert_int_eq(session("127.0.0.1", srv.port), -1);
    sl_t_wait_file(lc, "127.0.0.1 503 REJECTED\n", T_IO);
    assert_logged(srv.log, "error", "limiting connections by zone \"addr\"");

    /* another address is counted apart */
    close(session("127.0.0.2", srv.port));

    /* one ends: its count with it (the log line comes first, same turn) */
    close(a);
    sl_t_wait_file(lc, "127.0.0.1 200 PASSED\n", T_IO);
    a = session("127.0.0.1", srv.port);
    ck_assert_int_ne(a, -1);
    ck_assert_int_eq(session("127.0.0.1", srv.port), -1);

    close(a);
    close(b);
    sl_t_sluice_stop(&srv);

    ck_assert_int_eq(sl_t_log_count(sl_t_read(srv.log), NULL,
                                    "limiting connections"), 2);
}
END_TEST

/*
 * Dry run: over the limit is logged and let through, not counted; and
 * what the limits before the one exceeded counted is given back at once
 * (nginx's cleanup_all), as the same zone on another server shows.
 */
START_TEST(test_limit_conn_dry_run)
{
    sl_t_sluice_t   srv;
    char           *lc;
    int             a, b, c;

    sl_t_sluice_start(&srv,
        "stream {\n"
        LOG_FORMAT
        "    limit_conn_zone $remote_addr zone=addr:1m;\n"
        "    limit_conn_zone $server_port zone=port:1m;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        limit_conn_dry_run on;\n"
        "        limit_conn_log_level warn;\n"
        "        limit_conn addr 5;\n"
        "        limit_conn port 1;\n"
        "        echo;\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.2:@PORT@;\n"
        "        limit_conn addr 2;\n"
        "        echo;\n"
        "    }\n"
        "}\n");
    lc = sl_t_path(srv.dir, "logs/lc.log");

    a = session("127.0.0.1", srv.port);
    ck_assert_int_ne(a, -1);

    /* over port's limit, let through: logged at warn */
    b = session("127.0.0.1", srv.port);
    ck_assert_int_ne(b, -1);
    assert_logged(srv.log, "warn",
                  "limiting connections, dry run, by zone \"port\"");
    ck_assert_ptr_null(sl_t_log_has(sl_t_read(srv.log), "error",
                                    "limiting connections"));

    /* addr counts a alone, not b: one more of its 2 on the other server */
    c = session_to("127.0.0.1", "127.0.0.2", srv.port);
    ck_assert_int_ne(c, -1);
    ck_assert_int_eq(session_to("127.0.0.1", "127.0.0.2", srv.port), -1);
    assert_logged(srv.log, "error", "limiting connections by zone \"addr\"");

    close(b);
    sl_t_wait_file(lc, "127.0.0.1 200 REJECTED_DRY_RUN\n", T_IO);
    close(a);
    sl_t_wait_file(lc, "127.0.0.1 200 PASSED\n", T_IO);
    close(c);
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * Two limits: a session counted by the first and refused by the second
 * gives its first count back, which the first zone's own limit on
 * another server shows.
 */
START_TEST(test_limit_conn_several)
{
    sl_t_sluice_t   srv;
    int             fd[4];

    sl_t_sluice_start(&srv,
        "stream {\n"
        LOG_FORMAT
        "    limit_conn_zone $remote_addr zone=addr:1m;\n"
        "    limit_conn_zone $server_port zone=port:1m;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        limit_conn addr 3;\n"
        "        limit_conn port 2;\n"
        "        echo;\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.2:@PORT@;\n"
        "        limit_conn addr 3;\n"
        "        echo;\n"
        "    }\n"
        "}\n");

    fd[0] = session("127.0.0.1", srv.port);
    fd[1] = session("127.0.0.1", srv.port);
    ck_assert_int_ne(fd[0], -1);
    ck_assert_int_ne(fd[1], -1);

    /* 3 of addr, but the port's 2 are taken: refused by the second */
    ck_assert_int_eq(session("127.0.0.1", srv.port), -1);
    assert_logged(srv.log, "error", "limiting connections by zone \"port\"");
    ck_assert_int_eq(sl_t_log_count(sl_t_read(srv.log), NULL,
                                    "by zone \"addr\""), 0);

    /* addr counts 2 for 127.0.0.1, not 3: one more on the other server */
    fd[2] = session_to("127.0.0.1", "127.0.0.2", srv.port);
    ck_assert_int_ne(fd[2], -1);
    ck_assert_int_eq(session_to("127.0.0.1", "127.0.0.2", srv.port), -1);
    assert_logged(srv.log, "error", "limiting connections by zone \"addr\"");

    close(fd[0]);
    close(fd[1]);
    close(fd[2]);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* a server with no limit_conn takes the stream level's; one with its own
 * has only those */
START_TEST(test_limit_conn_inherit)
{
    sl_t_sluice_t   srv;
    int             fd[2];

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    limit_conn_zone $remote_addr zone=a:1m;\n"
        "    limit_conn_zone $remote_addr zone=b:1m;\n"
        "    limit_conn a 1;\n"
        "    limit_conn_log_level info;\n"
        "    server { listen 127.0.0.1:@PORT@; echo; }\n"
        "    server { listen 127.0.0.2:@PORT@; limit_conn b 2; echo; }\n"
        "}\n");

    assert_exactly("127.0.0.1", srv.port, 1);
    assert_logged(srv.log, "info", "limiting connections by zone \"a\"");

    /* to 127.0.0.2: only b's 2 (a would admit one) */
    fd[0] = session_to("127.0.0.1", "127.0.0.2", srv.port);
    fd[1] = session_to("127.0.0.1", "127.0.0.2", srv.port);
    ck_assert_int_ne(fd[0], -1);
    ck_assert_int_ne(fd[1], -1);
    ck_assert_int_eq(session_to("127.0.0.1", "127.0.0.2", srv.port), -1);
    close(fd[0]);
    close(fd[1]);
    sl_t_wait_file(srv.log, "by zone \"b\"", T_IO);

    sl_t_sluice_stop(&srv);
}
END_TEST

/* an empty key, and one over 255 bytes, are not counted */
START_TEST(test_limit_conn_uncounted_keys)
{
    sl_t_sluice_t   srv;
    char            key[300];
    char           *lc;
    int             fd[3], i;

    memset(key, 'k', 260);
    key[260] = '\0';

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        LOG_FORMAT
        "    limit_conn_zone $proxy_protocol_addr zone=empty:1m;\n"
        "    limit_conn_zone %s$remote_port zone=long:1m;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        limit_conn empty 1;\n"
        "        echo;\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.2:@PORT@;\n"
        "        limit_conn long 1;\n"
        "        echo;\n"
        "    }\n"
        "}\n", key));
    lc = sl_t_path(srv.dir, "logs/lc.log");

    for (i = 0; i < 3; i++) {
        fd[i] = session("127.0.0.1", srv.port);
        ck_assert_int_ne(fd[i], -1);
    }
    for (i = 0; i < 3; i++) {
        close(fd[i]);
    }

    /* not looked at: $limit_conn_status is not found */
    sl_t_wait_lines(lc, 3, T_IO);
    ck_assert_ptr_nonnull(strstr(sl_t_read(lc), "127.0.0.1 200 -\n"));

    for (i = 0; i < 2; i++) {
        fd[i] = session_to("127.0.0.1", "127.0.0.2", srv.port);
        ck_assert_int_ne(fd[i], -1);
    }
    close(fd[0]);
    close(fd[1]);

    sl_t_wait_file(srv.log, sl_t_printf("the value of the \"%s$remote_port\" "
                                        "key is more than 255 bytes: \"%s",
                                        key, key), T_IO);
    ck_assert_ptr_nonnull(sl_t_log_has(sl_t_read(srv.log), "error",
                                       "key is more than 255 bytes"));
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * Two keys of one crc32 ("127.5.212.6" and "127.20.88.150" are 0xff109d90
 * both) are two counts, in two nodes of one hash; one node going leaves
 * the other whole.
 */
START_TEST(test_limit_conn_crc32_collision)
{
    sl_t_sluice_t   srv;
    char           *lc;
    int             a, b;

    start_addr_limit(&srv, 1);
    lc = sl_t_path(srv.dir, "logs/lc.log");

    a = session("127.5.212.6", srv.port);
    b = session("127.20.88.150", srv.port);
    ck_assert_int_ne(a, -1);
    ck_assert_int_ne(b, -1);
    ck_assert_int_eq(session("127.5.212.6", srv.port), -1);
    ck_assert_int_eq(session("127.20.88.150", srv.port), -1);

    close(a);
    sl_t_wait_file(lc, "127.5.212.6 200 PASSED\n", T_IO);
    ck_assert_int_eq(session("127.20.88.150", srv.port), -1);
    a = session("127.5.212.6", srv.port);
    ck_assert_int_ne(a, -1);

    close(b);
    sl_t_wait_file(lc, "127.20.88.150 200 PASSED\n", T_IO);
    ck_assert_int_eq(session("127.5.212.6", srv.port), -1);
    b = session("127.20.88.150", srv.port);
    ck_assert_int_ne(b, -1);

    close(a);
    close(b);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* a zone with no room for another key refuses its session, and says so */
START_TEST(test_limit_conn_zone_full)
{
    sl_t_sluice_t   srv;
    static int      fd[4000];
    char           *lc;
    int             i, n, got;

    sl_t_sluice_start(&srv,
        "events { worker_connections 5000; }\n"
        "stream {\n"
        LOG_FORMAT
        "    limit_conn_zone $remote_addr zone=small:32k;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        limit_conn small 1;\n"
        "        echo;\n"
        "    }\n"
        "}\n");
    lc = sl_t_path(srv.dir, "logs/lc.log");

    /* one key each, held open, until one finds no room */
    for (n = 0; n < 4000; n++) {
        fd[n] = session(sl_t_printf("127.0.%d.%d", 1 + n / 200,
                                    1 + n % 200), srv.port);
        if (fd[n] == -1) {
            break;
        }
    }

    ck_assert_msg(n > 0 && n < 4000, "%d keys fit in 32k", n);
    sl_t_wait_file(lc, " 503 REJECTED\n", T_IO);
    ck_assert_ptr_nonnull(sl_t_log_has(sl_t_read(srv.log), "crit",
        "could not allocate node in limit_conn_zone \"small\""));

    /* the keys that ended made room again, for as many */
    for (i = 0; i < n; i++) {
        close(fd[i]);
    }
    sl_t_wait_lines(lc, (size_t) n + 1, T_IO);

    for (got = 0; got < n; got++) {
        fd[got] = session(sl_t_printf("127.1.%d.%d", 1 + got / 200,
                                      1 + got % 200), srv.port);
        ck_assert_msg(fd[got] != -1, "%d of %d keys fit again", got, n);
    }
    for (i = 0; i < got; i++) {
        close(fd[i]);
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_limit_conn_conf_errors)
{
#define ZONE  "stream {\n    limit_conn_zone $remote_addr zone=a:1m;\n"
#define SRV   "    server { listen 127.0.0.1:1; echo; }\n}\n"

    conf_error("stream {\n    limit_conn_zone $remote_addr zone=a;\n" SRV,
               "invalid zone size \"zone=a\"", 2);
    conf_error("stream {\n    limit_conn_zone $remote_addr zone=a:big;\n"
               SRV, "invalid zone size \"zone=a:big\"", 2);
    conf_error("stream {\n    limit_conn_zone $remote_addr zone=a:4k;\n" SRV,
               "zone \"zone=a:4k\" is too small", 2);
    conf_error("stream {\n    limit_conn_zone $remote_addr size=1m;\n" SRV,
               "invalid parameter \"size=1m\"", 2);
    conf_error("stream {\n    limit_conn_zone $remote_addr zone=:1m;\n" SRV,
               "\"limit_conn_zone\" must have \"zone\" parameter", 2);
    conf_error(ZONE "    limit_conn_zone $server_port zone=a:1m;\n" SRV,
               "limit_conn_zone \"a\" is already bound to key "
               "\"$remote_addr\"", 3);
    conf_error(ZONE "    limit_conn_zone $remote_addr zone=a:2m;\n" SRV,
               "the size 2097152 of shared memory zone \"a\" conflicts "
               "with already declared size 1048576", 3);
    conf_error(ZONE "    limit_conn_zone $nosuch zone=b:1m;\n" SRV,
               "unknown \"nosuch\" variable", 0);
    conf_error(ZONE "    limit_conn a 0;\n" SRV,
               "invalid number of connections \"0\"", 3);
    conf_error(ZONE "    limit_conn a many;\n" SRV,
               "invalid number of connections \"many\"", 3);
    conf_error(ZONE "    limit_conn a 65536;\n" SRV,
               "connection limit must be less 65536", 3);
    conf_error(ZONE "    limit_conn a 1;\n    limit_conn a 2;\n" SRV,
               "\"limit_conn\" directive is duplicate", 4);
    conf_error(ZONE "    limit_conn_log_level debug;\n" SRV,
               "invalid value \"debug\" in \"limit_conn_log_level\"", 3);
    conf_error(ZONE "    limit_conn_dry_run yes;\n" SRV,
               "it must be \"on\" or \"off\"", 3);
    conf_error(ZONE "    server { listen 127.0.0.1:1; echo;\n"
               "        limit_conn_zone $remote_addr zone=b:1m; }\n}\n",
               "\"limit_conn_zone\" directive is not allowed here", 4);
    conf_error("limit_conn a 1;\n", "\"limit_conn\" directive is not allowed "
               "here", 1);

    /* used, never declared; nginx says it when the zones are made */
    conf_error("stream {\n    limit_conn nosuch 1;\n" SRV,
               "zero size shared memory zone \"nosuch\"", 0);

    /* declared after its use is fine, as in nginx */
    ck_assert_int_eq(sl_t_sluice_test("stream {\n    limit_conn a 1;\n"
        "    limit_conn_zone $remote_addr zone=a:1m;\n" SRV, NULL), 0);

#undef ZONE
#undef SRV
}
END_TEST


/* --- master and workers -------------------------------------------------- */

typedef struct {
    int   fd[64];
    int   n;
} held_t;

/*
 * Sessions from src on port, k at once (connected all before the first
 * byte is sent): the admitted stay open in h; their count.
 */
static int
burst(const char *src, int port, int k, held_t *h)
{
    int  fd[64], i, admitted = 0;

    for (i = 0; i < k; i++) {
        fd[i] = connect_from(src, port);
    }

    for (i = 0; i < k; i++) {
        if (echoed(fd[i])) {
            h->fd[h->n++] = fd[i];
            admitted++;
        } else {
            close(fd[i]);
        }
    }

    return admitted;
}

#define WORKERS_CONF                                                          \
    "events { worker_connections 512; }\n"                                    \
    "stream {\n"                                                              \
    "    limit_conn_zone $remote_addr zone=addr:1m;\n"                        \
    "    server {\n"                                                          \
    "        listen 127.0.0.1:@PORT@%s;\n"                                    \
    "        limit_conn addr 4;\n"                                            \
    "        echo;\n"                                                         \
    "    }\n"                                                                 \
    "}\n"

/*
 * One shared socket: the kernel may wake the same worker for every
 * connection, so each worker takes its turn while the other is stopped
 * (a stopped process waits in no epoll_wait() to be woken): two sessions
 * in the second worker, two more in the first, whose third is refused --
 * each worker counting alone would have admitted it, and two more.
 */
START_TEST(test_limit_conn_workers_shared)
{
    sl_t_master_t   m;
    sl_t_pids_t     w;
    held_t          h = { .n = 0 };
    int             i;

    sl_t_master_start(&m, 2, 0, sl_t_printf(WORKERS_CONF, ""));
    sl_t_workers(&m, &w);
    ck_assert_int_eq(w.n, 2);
    ck_assert_int_eq(sl_t_listeners(m.port), 1);

    sl_t_stop_process(w.pid[0], T_IO);
    ck_assert_int_eq(burst("127.0.0.1", m.port, 2, &h), 2);
    ck_assert_int_eq(kill(w.pid[0], SIGCONT), 0);

    sl_t_stop_process(w.pid[1], T_IO);
    ck_assert_int_eq(burst("127.0.0.1", m.port, 3, &h), 2);
    ck_assert_int_eq(kill(w.pid[1], SIGCONT), 0);

    ck_assert_int_eq(sl_t_conns_of(w.pid[1], m.port), 2);
    ck_assert_int_eq(sl_t_conns_of(w.pid[0], m.port), 2);
    ck_assert_int_eq(sl_t_log_count(sl_t_read(m.log), "error",
                                    "limiting connections by zone \"addr\""),
                     1);
    ck_assert_ptr_nonnull(strstr(sl_t_log_has(sl_t_read(m.log), "error",
                                              "limiting connections"),
                                 sl_t_printf("] %d#", (int) w.pid[0])));

    /* both running: a fifth is refused, by whichever takes it */
    ck_assert_int_eq(burst("127.0.0.1", m.port, 4, &h), 0);

    for (i = 0; i < h.n; i++) {
        close(h.fd[i]);
    }

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_IO);
}
END_TEST

/*
 * reuseport: the kernel spreads connections by address and port. Rounds
 * of 16 sessions at once from a fresh address each (a fresh key): each
 * admits exactly the limit of 4, until a round whose admitted sessions
 * both workers hold (where each worker counted alone, either would have
 * admitted more).
 */
START_TEST(test_limit_conn_workers_reuseport)
{
    sl_t_master_t   m;
    sl_t_pids_t     w;
    held_t          h;
    int             r, i, before[2], now[2], admitted;

    sl_t_master_start(&m, 2, 0, sl_t_printf(WORKERS_CONF, " reuseport"));
    sl_t_workers(&m, &w);
    ck_assert_int_eq(w.n, 2);
    ck_assert_int_eq(sl_t_listeners(m.port), 2);

    for (r = 1; r <= 60; r++) {
        before[0] = sl_t_conns_of(w.pid[0], m.port);
        before[1] = sl_t_conns_of(w.pid[1], m.port);

        h.n = 0;
        admitted = burst(sl_t_printf("127.0.2.%d", r), m.port, 16, &h);
        ck_assert_msg(admitted == 4, "round %d: %d admitted of 16, the "
                      "limit is 4", r, admitted);

        now[0] = sl_t_conns_of(w.pid[0], m.port) - before[0];
        now[1] = sl_t_conns_of(w.pid[1], m.port) - before[1];

        for (i = 0; i < h.n; i++) {
            close(h.fd[i]);
        }

        if (now[0] > 0 && now[1] > 0) {
            ck_assert_int_eq(now[0] + now[1], 4);
            break;
        }
    }

    ck_assert_msg(r <= 60, "in 60 rounds, one worker always held all four");

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_IO);
}
END_TEST


/*
 * Sessions open across a reload are still counted by the new workers;
 * when the old worker's sessions end, the counts come down. A reload that
 * changes a zone's key is refused.
 */
START_TEST(test_limit_conn_reload)
{
    static const char  *conf =
        "stream {\n"
        "    limit_conn_zone %s zone=addr:1m;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        limit_conn addr 3;\n"
        "        echo;\n"
        "    }\n"
        "}\n";
    sl_t_master_t   m;
    sl_t_pids_t     old, w;
    held_t          h = { .n = 0 };
    int             i;

    sl_t_master_start(&m, 1, 0, sl_t_printf(conf, "$remote_addr"));
    sl_t_workers(&m, &old);

    for (i = 0; i < 3; i++) {
        h.fd[h.n] = session("127.0.0.1", m.port);
        ck_assert_int_ne(h.fd[h.n], -1);
        h.n++;
    }

    sl_t_signal(m.proc, SIGHUP);
    sl_t_wait_workers(&m, &old, &w, T_IO);

    /* the old worker, no longer accepting, still serves the three */
    sl_t_wait_log(m.log, "notice", "gracefully shutting down", 1, T_IO);
    ck_assert(sl_t_alive(old.pid[0]));

    /* the new one refuses a fourth */
    ck_assert_int_eq(session("127.0.0.1", m.port), -1);
    sl_t_wait_log(m.log, "error", "limiting connections by zone \"addr\"", 1,
                  T_IO);
    ck_assert_ptr_nonnull(strstr(sl_t_log_has(sl_t_read(m.log), "error",
                                              "limiting connections"),
                                 sl_t_printf("] %d#", (int) w.pid[0])));

    for (i = 0; i < h.n; i++) {
        close(h.fd[i]);
    }
    sl_t_wait_dead(&old, T_IO);

    assert_exactly("127.0.0.1", m.port, 3);

    /* another key for the same zone: refused, the workers stay */
    sl_t_master_conf(&m, sl_t_printf(conf, "$binary_remote_addr"));
    sl_t_signal(m.proc, SIGHUP);
    sl_t_wait_log(m.log, "emerg", "limit_conn_zone \"addr\" uses the "
                  "\"$binary_remote_addr\" key while previously it used the "
                  "\"$remote_addr\" key", 1, T_IO);
    ck_assert(sl_t_alive(w.pid[0]));
    assert_exactly("127.0.0.1", m.port, 3);

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_IO);
}
END_TEST


/* --- 10,000 sessions, every way they end --------------------------------- */

enum {
    END_CLOSE = 0,      /* a byte echoed, then FIN */
    END_RESET,          /* a byte echoed, then RST (SO_LINGER 0) */
    END_TIMEOUT,        /* nothing sent: echo_timeout ends it */
    END_REFUSED,        /* proxied to a closed port: 502 */
    END_WAYS
};

#define BATCH  400

typedef struct {
    int   fd;
    int   way;
    int   done;
} run_t;

static const char *
run_src(int i)
{
    return sl_t_printf("127.0.%d.%d", 10 + (i / 250) % 200, 1 + i % 250);
}

/* what the client does when the server answered (or closed) */
static void
run_end(run_t *r)
{
    struct linger  l = { 1, 0 };
    char           buf[16];

    (void) recv(r->fd, buf, sizeof(buf), 0);

    if (r->way == END_RESET) {
        (void) setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }

    close(r->fd);
    r->done = 1;
}

/* sessions first .. first + n - 1, all open at once, to their end */
static void
run_batch(int first, int n, int port, int port2)
{
    static run_t   r[BATCH];
    struct pollfd  p[BATCH];
    int            i, k, left = n;
    char           c = 'x';

    for (i = 0; i < n; i++) {
        r[i].way = (first + i) % END_WAYS;
        r[i].done = 0;
        r[i].fd = connect_from(run_src(first + i),
                               r[i].way == END_REFUSED ? port2 : port);
    }

    for (i = 0; i < n; i++) {
        if (r[i].way == END_CLOSE || r[i].way == END_RESET) {
            (void) send(r[i].fd, &c, 1, MSG_NOSIGNAL);
        }
    }

    while (left > 0) {
        for (i = 0, k = 0; i < n; i++) {
            if (!r[i].done) {
                p[k].fd = r[i].fd;
                p[k].events = POLLIN;
                p[k].revents = 0;
                k++;
            }
        }

        ck_assert_msg(poll(p, (nfds_t) k, sl_t_timeout(T_IO)) > 0,
                      "%d sessions of %d..%d never ended", left, first,
                      first + n - 1);

        for (i = 0, k = 0; i < n; i++) {
            if (r[i].done) {
                continue;
            }
            if (p[k++].revents != 0) {
                run_end(&r[i]);
                left--;
            }
        }
    }
}

/* %s: the first server's echo_timeout; %d: a port nobody listens on */
#define BACK_TO_ZERO_CONF                                                     \
    "events { worker_connections 2048; }\n"                                   \
    "stream {\n"                                                              \
    "    limit_conn_zone $remote_addr zone=addr:64k;\n"                       \
    "    limit_conn_zone $server_port zone=port:32k;\n"                       \
    "    limit_conn addr 3;\n"                                                \
    "    server {\n"                                                          \
    "        listen 127.0.0.1:@PORT@ reuseport;\n"                            \
    "        limit_conn addr 3;\n"                                            \
    "        limit_conn port 50;\n"                                           \
    "        %s\n"                                                            \
    "        echo;\n"                                                         \
    "    }\n"                                                                 \
    "    server {\n"                                                          \
    "        listen 127.0.0.1:@PORT2@ reuseport;\n"                           \
    "        proxy_pass 127.0.0.1:%d;\n"                                      \
    "    }\n"                                                                 \
    "    server {\n"                                                          \
    "        listen unix:@DIR@/q.sock;\n"                                     \
    "        shutdown_idle on;\n"                                             \
    "        echo;\n"                                                         \
    "    }\n"                                                                 \
    "}\n"

START_TEST(test_limit_conn_back_to_zero)
{
    sl_t_master_t   m;
    sl_t_pids_t     old, w;
    held_t          h = { .n = 0 };
    const char     *sock, *log;
    int             total, i, closed, fd;

    total = 10000;
    if (getenv("SLUICE_WRAPPER") != NULL || getenv("SL_VALGRIND") != NULL) {
        total = 1000;
        fprintf(stderr, "test_limit_conn_back_to_zero: 1000 sessions, not "
                "10000: sluice runs under a wrapper (valgrind)\n");
    }

    closed = sl_t_loopback_port();

    sl_t_master_start(&m, 2, 0, sl_t_printf(BACK_TO_ZERO_CONF,
                                            "echo_timeout 100ms;", closed));
    sl_t_workers(&m, &old);

    /* every session a key of its own: a count that stays, or a node that
     * is never freed, fills the 64k zone long before the end */
    for (i = 0; i < total; i += BATCH) {
        run_batch(i, total - i < BATCH ? total - i : BATCH, m.port, m.port2);
    }

    /* sessions open when the workers are told to quit: a reload */
    sock = sl_t_path(m.dir, "q.sock");
    for (i = 0; i < 3; i++) {
        fd = sl_t_connect_unix(sock);
        ck_assert(echoed(fd));
        h.fd[h.n++] = fd;
    }
    fd = sl_t_connect_unix(sock);
    ck_assert(!echoed(fd));
    close(fd);

    /*
     * The same configuration but for the echo timeout: the checks below
     * hold sessions open while they make more, and under valgrind that
     * can take longer than 100 ms. The zones (same name and size) and
     * their counts are kept.
     */
    sl_t_master_conf(&m, sl_t_printf(BACK_TO_ZERO_CONF, "", closed));
    sl_t_signal(m.proc, SIGHUP);
    sl_t_wait_workers(&m, &old, &w, T_IO);
    sl_t_wait_dead(&old, T_IO);     /* their sessions closed, being idle */

    for (i = 0; i < h.n; i++) {
        ck_assert(!echoed(h.fd[i]));
        close(h.fd[i]);
    }

    /*
     * Each way was taken: the run's keys never reached their limit (the
     * one refusal is the fourth quit session's); some sessions were
     * refused by the second limit, timed out, or found no upstream.
     */
    log = sl_t_read(m.log);
    ck_assert_int_eq(sl_t_bad_exits(log), 0);
    ck_assert_ptr_null(sl_t_log_has(log, NULL, "could not allocate node"));
    ck_assert_int_eq(sl_t_log_count(log, NULL, "by zone \"addr\""), 1);
    ck_assert_int_gt(sl_t_log_count(log, NULL, "by zone \"port\""), 0);
    ck_assert_int_gt(sl_t_log_count(log, NULL, "connection timed out"), 0);
    ck_assert_int_gt(sl_t_log_count(log, NULL, "(111: Connection refused)"),
                     0);

    /* zero: each way's last key, the quit sessions' key, and the port */
    for (i = total - END_WAYS; i < total; i++) {
        assert_exactly(run_src(i), m.port, 3);
    }

    for (i = 0; i < 3; i++) {
        fd = sl_t_connect_unix(sock);
        ck_assert(echoed(fd));
        h.fd[i] = fd;
    }
    fd = sl_t_connect_unix(sock);
    ck_assert(!echoed(fd));
    close(fd);
    for (i = 0; i < 3; i++) {
        close(h.fd[i]);
    }

    {
        static int  fds[50];

        for (i = 0; i < 50; i++) {
            fds[i] = session(sl_t_printf("127.0.220.%d", 1 + i), m.port);
            ck_assert_msg(fds[i] != -1, "port: %d of 50 refused", i + 1);
        }
        ck_assert_int_eq(session("127.0.220.51", m.port), -1);
        for (i = 0; i < 50; i++) {
            close(fds[i]);
        }
    }

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_IO);
}
END_TEST


static Suite *
limit_conn_suite(void)
{
    Suite  *s = suite_create("limit_conn");
    TCase  *tc;

    tc = tcase_create("single");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_limit_conn_MODULE) {
        return s;
    }
    tcase_add_test(tc, test_limit_conn_basic);
    tcase_add_test(tc, test_limit_conn_dry_run);
    tcase_add_test(tc, test_limit_conn_several);
    tcase_add_test(tc, test_limit_conn_inherit);
    tcase_add_test(tc, test_limit_conn_uncounted_keys);
    tcase_add_test(tc, test_limit_conn_crc32_collision);
    tcase_add_test(tc, test_limit_conn_zone_full);
    tcase_add_test(tc, test_limit_conn_conf_errors);

    tc = sl_t_master_tcase(s, "workers", 120);
    tcase_add_test(tc, test_limit_conn_workers_shared);
    tcase_add_test(tc, test_limit_conn_workers_reuseport);
    tcase_add_test(tc, test_limit_conn_reload);
    tcase_add_test(tc, test_limit_conn_back_to_zero);

    return s;
}

SL_TEST_MAIN(limit_conn_suite)
