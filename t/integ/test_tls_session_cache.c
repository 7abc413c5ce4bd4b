/*
 * test_tls_session_cache.c -- "ssl_session_cache shared:NAME:SIZE" through
 * the real binary, with a master and its workers, as nginx's shared
 * session cache behaves: a session made by one worker resumes on the
 * other (one shared socket, and reuseport; TLS 1.2 session ids and TLS
 * 1.3 stateful tickets, ssl_session_tickets off so that only the cache
 * can resume), and does not with the builtin cache alone; a session is
 * refused once ssl_session_timeout has passed; the smallest zone keeps
 * taking new sessions when full (the oldest go); sessions survive a
 * reload; tickets and the shared cache side by side; a client refused by
 * ssl_verify_client has its session dropped from the zone; and the
 * directive's errors at their file:line.
 *
 * Every client reads the server's answer ("$pid $ssl_session_reused")
 * to its close_notify and sends its own: a connection that ended with an
 * error (a fatal alert, a truncation) makes OpenSSL drop its session,
 * which is not what is tested here. Which worker served a connection is
 * in the answer; resumptions are counted again in the access log.
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

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif

#define T_IO        10000       /* ms for one exchange */
#define TRIES       64          /* reuseport: connections to reach both */

/* a server that says which worker answered and whether it resumed */
#define SERVER                                                                \
    "    server {\n"                                                          \
    "        listen 127.0.0.1:@PORT@ ssl%s;\n"                                \
    "        ssl_certificate %s; ssl_certificate_key %s;\n"                   \
    "        %s\n"                                                            \
    "        return \"$pid $ssl_session_reused\";\n"                          \
    "    }\n"

#define LOG_FORMAT                                                            \
    "    log_format sc '$pid $ssl_session_reused $ssl_protocol';\n"           \
    "    access_log logs/sc.log sc;\n"

/* the whole configuration: one server with directives, reuseport or not */
static const char *
conf(int reuseport, const char *directives)
{
    return sl_t_printf("events { worker_connections 256; }\n"
                       "stream {\n" LOG_FORMAT SERVER "}\n",
                       reuseport ? " reuseport" : "",
                       sl_tt_file("ecdsa.crt"), sl_tt_file("ecdsa.key"),
                       directives);
}

/* --- the client ---------------------------------------------------------- */

typedef struct {
    pid_t          pid;         /* the worker that answered */
    int            reused;
    SSL_SESSION   *sess;        /* to resume next (a reference) */
} visit_t;

/* what the server sends until its close_notify, NUL-ended */
static void
read_answer(sl_tt_peer_t *p, char *buf, size_t size)
{
    size_t   got = 0;
    ssize_t  n;

    for ( ;; ) {
        n = sl_tt_read(p, buf + got, size - 1 - got, T_IO);
        buf[got + (n > 0 ? (size_t) n : 0)] = '\0';

        ck_assert_msg(n >= 0, "the answer \"%s\" ended without close_notify",
                      buf);
        if (n == 0) {
            return;
        }

        got += (size_t) n;
        ck_assert_uint_lt(got, size - 1);
    }
}

/*
 * One connection of version (TLS1_2_VERSION...) offering sess (NULL:
 * none) and tickets or not; ended cleanly by both sides.
 */
static visit_t
visit(int port, int version, SSL_SESSION *sess, int no_tickets)
{
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    visit_t        v;
    char           buf[128], flag;
    int            fd, pid;

    memset(&o, 0, sizeof(o));
    o.min_version = version;
    o.max_version = version;
    o.session = sess;
    o.no_tickets = no_tickets;

    fd = sl_t_connect("127.0.0.1", port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert_msg(sl_tt_handshake(&p, T_IO), "the handshake failed");

    read_answer(&p, buf, sizeof(buf));
    ck_assert_int_eq(sl_tt_shutdown(&p, 0, T_IO), 1);

    ck_assert_msg(sscanf(buf, "%d %c", &pid, &flag) == 2, "answer \"%s\"",
                  buf);
    v.pid = (pid_t) pid;
    v.reused = flag == 'r';
    ck_assert_int_eq(v.reused, SSL_session_reused(p.ssl));

    /* a TLS 1.2 resumption gives no new session: the old one goes on */
    v.sess = p.session != NULL ? p.session : sess;
    if (v.sess != NULL) {
        ck_assert(SSL_SESSION_up_ref(v.sess));
        ck_assert(SSL_SESSION_is_resumable(v.sess));
    }

    sl_tt_peer_free(&p);
    close(fd);

    return v;
}

static const char *
vname(int version)
{
    return version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2";
}

/* --- workers ------------------------------------------------------------- */

static void
cont_worker(pid_t pid)
{
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
}

/* one shared socket: a connection that the worker other than pid takes */
static visit_t
visit_other(int port, pid_t pid, int version, SSL_SESSION *sess,
    int no_tickets)
{
    visit_t  v;

    sl_t_stop_process(pid, T_IO);
    v = visit(port, version, sess, no_tickets);
    cont_worker(pid);

    ck_assert_int_ne(v.pid, pid);
    return v;
}

/* --- the access log ------------------------------------------------------ */

typedef struct {
    const char  *path;
    int          n;
} lines_t;

static int
count_lines(const char *path)
{
    char  *text;
    int    n = 0;

    if (access(path, F_OK) != 0) {
        return 0;
    }

    for (text = sl_t_read(path); *text != '\0'; text++) {
        n += *text == '\n';
    }

    return n;
}

static int
has_lines(void *data)
{
    lines_t  *l = data;

    return count_lines(l->path) >= l->n;
}

/* the access log once it has n lines */
static const char *
access_log(sl_t_master_t *m, int n)
{
    lines_t  l = { sl_t_path(m->dir, "logs/sc.log"), n };

    ck_assert_msg(sl_t_wait_for(has_lines, &l, l.path, sl_t_timeout(T_IO))
                  == 0, "the access log has not %d lines", n);
    ck_assert_int_eq(count_lines(l.path), n);

    return sl_t_read(l.path);
}

static void
stop(sl_t_master_t *m)
{
    sl_t_pids_t   w;
    const char   *text = sl_t_read(m->log);

    sl_t_workers(m, &w);
    ck_assert_msg(sl_t_log_count(text, "alert", "") == 0, "%s",
                  sl_t_log_has(text, "alert", ""));
    ck_assert_msg(sl_t_log_count(text, "crit", "") == 0, "%s",
                  sl_t_log_has(text, "crit", ""));
    sl_t_signal(m->proc, SIGTERM);
    sl_t_master_expect_exit(m, &w, T_IO);
}

/* --- across workers ------------------------------------------------------ */

/*
 * _i: bit 0 reuseport, bit 1 TLS 1.3. A shared socket lets one worker be
 * stopped so that the other takes the next connection; with reuseport the
 * kernel picks the socket by the client's port, so connections are made
 * (each resuming the newest session) until the other worker answers.
 */
START_TEST(test_across_workers)
{
    int             reuseport = _i & 1;
    int             version = (_i & 2) ? TLS1_3_VERSION : TLS1_2_VERSION;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    visit_t         v, first;
    const char     *log;
    int             i, visits;

    sl_t_master_start(&m, 2, 0, conf(reuseport,
                      "ssl_session_cache shared:SC:1m; "
                      "ssl_session_tickets off;"));
    sl_t_workers(&m, &w);
    ck_assert_int_eq(w.n, 2);
    ck_assert_int_eq(sl_t_listeners(m.port), reuseport ? 2 : 1);

    first = visit(m.port, version, NULL, 1);
    ck_assert(!first.reused);
    ck_assert_ptr_nonnull(first.sess);
    visits = 1;

    if (!reuseport) {
        v = visit_other(m.port, first.pid, version, first.sess, 1);
        visits++;
        ck_assert_msg(v.reused, "%s: a session of worker %d was not "
                      "resumed by worker %d", vname(version),
                      (int) first.pid, (int) v.pid);
        SSL_SESSION_free(first.sess);

    } else {
        for (i = 0; i < TRIES; i++) {
            v = visit(m.port, version, first.sess, 1);
            visits++;
            ck_assert_msg(v.reused, "%s: connection %d was not resumed "
                          "(made by %d, served by %d)", vname(version),
                          visits, (int) first.pid, (int) v.pid);
            SSL_SESSION_free(first.sess);

            if (v.pid != first.pid) {
                break;
            }

            /* the same worker: its newest session is tried next */
            first.sess = v.sess;
        }

        ck_assert_msg(i < TRIES, "in %d connections, worker %d answered "
                      "every one", TRIES, (int) first.pid);
    }

    ck_assert(sl_t_pids_has(&w, v.pid));
    SSL_SESSION_free(v.sess);

    /* the access log counts the same: one new, every other resumed */
    log = access_log(&m, visits);
    ck_assert_int_eq(sl_t_count(log, " . "), 1);
    ck_assert_int_eq(sl_t_count(log, " r "), visits - 1);
    ck_assert_int_eq(sl_t_count(log, sl_t_printf("%d r %s", (int) v.pid,
                                            vname(version))), 1);

    stop(&m);
}
END_TEST

/*
 * The control: with the builtin cache alone (and no tickets) each worker
 * keeps its own sessions: the other worker does not resume one, its maker
 * does.
 */
START_TEST(test_builtin_is_per_worker)
{
    int             version = _i ? TLS1_3_VERSION : TLS1_2_VERSION;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    visit_t         first, other, same;
    const char     *log;

    sl_t_master_start(&m, 2, 0, conf(0, "ssl_session_cache builtin:100; "
                                        "ssl_session_tickets off;"));
    sl_t_workers(&m, &w);
    ck_assert_int_eq(w.n, 2);

    first = visit(m.port, version, NULL, 1);
    ck_assert(!first.reused);

    other = visit_other(m.port, first.pid, version, first.sess, 1);
    ck_assert_msg(!other.reused, "%s: worker %d resumed a session of "
                  "worker %d without a shared cache", vname(version),
                  (int) other.pid, (int) first.pid);

    same = visit_other(m.port, other.pid, version, first.sess, 1);
    ck_assert_int_eq(same.pid, first.pid);
    ck_assert_msg(same.reused, "%s: the maker did not resume its session",
                  vname(version));

    log = access_log(&m, 3);
    ck_assert_int_eq(sl_t_count(log, " r "), 1);

    SSL_SESSION_free(first.sess);
    SSL_SESSION_free(other.sess);
    SSL_SESSION_free(same.sess);
    stop(&m);
}
END_TEST

/*
 * ssl_session_tickets on beside the shared cache: a TLS 1.2 client with
 * tickets resumes by its ticket, one without through the cache, a TLS 1.3
 * client by its ticket (nothing is cached for it); each on the other
 * worker (the ticket keys are made before the workers are forked).
 */
static const struct {
    int  version;
    int  no_tickets;
} tickets_cases[] = {
    { TLS1_2_VERSION, 0 },
    { TLS1_2_VERSION, 1 },
    { TLS1_3_VERSION, 0 },
};

START_TEST(test_tickets_and_cache)
{
    int             version = tickets_cases[_i].version;
    int             no_tickets = tickets_cases[_i].no_tickets;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    visit_t         first, v;

    sl_t_master_start(&m, 2, 0, conf(0, "ssl_session_cache shared:SC:1m; "
                                        "ssl_session_tickets on;"));
    sl_t_workers(&m, &w);
    ck_assert_int_eq(w.n, 2);

    first = visit(m.port, version, NULL, no_tickets);
    ck_assert(!first.reused);

    v = visit_other(m.port, first.pid, version, first.sess, no_tickets);
    ck_assert_msg(v.reused, "%s, tickets %s: not resumed by the other "
                  "worker", vname(version), no_tickets ? "off" : "on");

    (void) access_log(&m, 2);

    SSL_SESSION_free(first.sess);
    SSL_SESSION_free(v.sess);
    stop(&m);
}
END_TEST

/* --- expiry, a full zone, a reload --------------------------------------- */

/*
 * ssl_session_timeout: a session resumes at once, and is refused once its
 * time has passed, waited for by trying again (at most 20 s). The timeout
 * is 3 s so that the first resumption, made within milliseconds, is
 * before it whatever the second the session was made in.
 */
START_TEST(test_expiry)
{
    sl_t_master_t   m;
    visit_t         first, v;
    long long       end;
    int             tries = 0;

    sl_t_master_start(&m, 1, 0, conf(0, "ssl_session_cache shared:SC:1m; "
                                        "ssl_session_tickets off; "
                                        "ssl_session_timeout 3s;"));

    first = visit(m.port, TLS1_2_VERSION, NULL, 1);
    ck_assert(!first.reused);

    v = visit(m.port, TLS1_2_VERSION, first.sess, 1);
    ck_assert_msg(v.reused, "not resumed before its timeout");
    SSL_SESSION_free(v.sess);

    end = sl_t_msec() + sl_t_timeout(20000);

    do {
        ck_assert_msg(sl_t_msec() < end, "still resumed after 20 s");
        ck_assert_int_eq(usleep(100 * 1000), 0);
        v = visit(m.port, TLS1_2_VERSION, first.sess, 1);
        SSL_SESSION_free(v.sess);
        tries++;
    } while (v.reused);

    /* and the cache forgot it: it is refused again */
    v = visit(m.port, TLS1_2_VERSION, first.sess, 1);
    ck_assert(!v.reused);
    SSL_SESSION_free(v.sess);

    (void) access_log(&m, 3 + tries);
    SSL_SESSION_free(first.sess);
    stop(&m);
}
END_TEST

#define MANY  200

/*
 * The smallest zone (32k) holds far fewer than MANY sessions: it keeps
 * taking new ones, the oldest going to make room, and says nothing of it.
 */
START_TEST(test_full_zone)
{
    sl_t_master_t   m;
    visit_t         v[MANY], r;
    int             i;

    sl_t_master_start(&m, 1, 0, conf(0, "ssl_session_cache shared:SC:32k; "
                                        "ssl_session_tickets off;"));

    for (i = 0; i < MANY; i++) {
        v[i] = visit(m.port, TLS1_2_VERSION, NULL, 1);
        ck_assert(!v[i].reused);
    }

    r = visit(m.port, TLS1_2_VERSION, v[MANY - 1].sess, 1);
    ck_assert_msg(r.reused, "the newest session was not resumed");
    SSL_SESSION_free(r.sess);

    r = visit(m.port, TLS1_2_VERSION, v[MANY - 2].sess, 1);
    ck_assert_msg(r.reused, "the second newest session was not resumed");
    SSL_SESSION_free(r.sess);

    r = visit(m.port, TLS1_2_VERSION, v[0].sess, 1);
    ck_assert_msg(!r.reused, "the oldest session is still there: the zone "
                  "was not full");
    SSL_SESSION_free(r.sess);

    for (i = 0; i < MANY; i++) {
        SSL_SESSION_free(v[i].sess);
    }

    ck_assert_int_eq(sl_t_log_count(sl_t_read(m.log), NULL,
                                    "could not allocate"), 0);
    (void) access_log(&m, MANY + 3);
    stop(&m);
}
END_TEST

/* a TLS 1.2 connection with a client certificate: a big session */
static void
big_visit(int port)
{
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    char           buf[128];
    int            fd;

    memset(&o, 0, sizeof(o));
    o.min_version = TLS1_2_VERSION;
    o.max_version = TLS1_2_VERSION;
    o.no_tickets = 1;
    o.cert = sl_tt_file("client.crt");
    o.key = sl_tt_file("client.key");

    fd = sl_t_connect("127.0.0.1", port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert(sl_tt_handshake(&p, T_IO));
    read_answer(&p, buf, sizeof(buf));
    ck_assert_int_eq(sl_tt_shutdown(&p, 0, T_IO), 1);
    sl_tt_peer_free(&p);
    close(fd);
}

#define BIG  5

/*
 * A zone that small sessions filled has no room for a big one (a client
 * certificate is in it) even once the oldest small one has gone: the
 * session is not cached, and nginx's warning says so, with the zone's
 * name, once a second at most (nginx since 1.23.2: a client sending big
 * sessions cannot flood the log); the connection goes on, and small
 * sessions are cached again after.
 */
START_TEST(test_full_zone_big_session)
{
    sl_t_master_t   m;
    visit_t         v, r;
    const char     *text;
    time_t          start;
    int             i, n;

    sl_t_master_start(&m, 1, 0, conf(0, sl_t_printf(
                      "ssl_session_cache shared:SC:32k; "
                      "ssl_session_tickets off; "
                      "ssl_verify_client optional; "
                      "ssl_client_certificate %s;", sl_tt_file("ca.crt"))));

    for (i = 0; i < MANY; i++) {
        v = visit(m.port, TLS1_2_VERSION, NULL, 1);
        SSL_SESSION_free(v.sess);
    }

    start = time(NULL);
    for (i = 0; i < BIG; i++) {
        big_visit(m.port);
    }
    (void) access_log(&m, MANY + BIG);

    text = sl_t_read(m.log);
    n = sl_t_log_count(text, "warn", "could not allocate new session in "
                       "SSL session shared cache \"SC\"");
    ck_assert_msg(n >= 1 && n <= time(NULL) - start + 1, "%d warnings for "
                  "%d big sessions in %ld s", n, BIG,
                  (long) (time(NULL) - start));
    ck_assert_ptr_nonnull(strstr(sl_t_log_has(text, "warn", "could not "
                                              "allocate new session"),
                                 "client: 127.0.0.1"));

    v = visit(m.port, TLS1_2_VERSION, NULL, 1);
    r = visit(m.port, TLS1_2_VERSION, v.sess, 1);
    ck_assert_msg(r.reused, "a small session was not cached after the "
                  "big one");
    SSL_SESSION_free(v.sess);
    SSL_SESSION_free(r.sess);

    ck_assert_int_eq(sl_t_log_count(sl_t_read(m.log), "warn",
                                    "could not allocate"), n);
    (void) access_log(&m, MANY + BIG + 2);

    sl_t_signal(m.proc, SIGTERM);
    {
        sl_t_pids_t  w;

        sl_t_workers(&m, &w);
        sl_t_master_expect_exit(&m, &w, T_IO);
    }
}
END_TEST

/*
 * The zone is kept by a reload: a session made before it resumes after.
 * _i: bit 0 TLS 1.3, bit 1 the builtin cache beside the shared one (the
 * old worker's own cache, freed as it exits, must not take its sessions
 * out of the zone with it).
 */
START_TEST(test_reload_keeps_sessions)
{
    int             version = (_i & 1) ? TLS1_3_VERSION : TLS1_2_VERSION;
    int             builtin = _i & 2;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    visit_t         first, v;

    sl_t_master_start(&m, 1, 0, conf(0, sl_t_printf(
                      "ssl_session_cache %sshared:SC:1m; "
                      "ssl_session_tickets off;",
                      builtin ? "builtin:100 " : "")));

    first = visit(m.port, version, NULL, 1);
    ck_assert(!first.reused);

    sl_t_master_reload(&m, &w, T_IO);
    ck_assert_int_eq(w.n, 1);
    ck_assert_int_ne(w.pid[0], first.pid);

    v = visit(m.port, version, first.sess, 1);
    ck_assert_int_eq(v.pid, w.pid[0]);
    ck_assert_msg(v.reused, "%s%s: the session did not survive the reload",
                  vname(version), builtin ? ", builtin too" : "");

    SSL_SESSION_free(first.sess);
    SSL_SESSION_free(v.sess);
    stop(&m);
}
END_TEST

/*
 * ssl_verify_client on: a client whose certificate another CA signed
 * finishes the handshake and is then refused; its session is dropped from
 * the zone too, so that it cannot resume where its certificate would not
 * be checked again. The same with a good certificate resumes.
 */
START_TEST(test_refused_client_dropped)
{
    int             version = _i ? TLS1_3_VERSION : TLS1_2_VERSION;
    sl_t_master_t   m;
    sl_tt_opts_t    o;
    sl_tt_peer_t    p;
    SSL_SESSION    *sess;
    char            buf[128];
    int             fd, good;

    sl_t_master_start(&m, 1, 0, conf(0, sl_t_printf(
                      "ssl_session_cache shared:SC:1m; "
                      "ssl_session_tickets off; ssl_verify_client on; "
                      "ssl_client_certificate %s;", sl_tt_file("ca.crt"))));

    for (good = 0; good < 2; good++) {
        memset(&o, 0, sizeof(o));
        o.min_version = version;
        o.max_version = version;
        o.no_tickets = 1;
        /*
         * The refused connection ends without close_notify: a client that
         * took that for an error would drop the session itself.
         */
        o.options = SSL_OP_IGNORE_UNEXPECTED_EOF;
        o.cert = sl_tt_file(good ? "client.crt" : "other-client.crt");
        o.key = sl_tt_file(good ? "client.key" : "other-client.key");

        fd = sl_t_connect("127.0.0.1", m.port);
        ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
        ck_assert(sl_tt_handshake(&p, T_IO));

        if (good) {
            read_answer(&p, buf, sizeof(buf));
            ck_assert_int_eq(sl_tt_shutdown(&p, 0, T_IO), 1);

        } else {
            /* refused after the handshake: closed without an answer */
            ck_assert_int_le(sl_tt_read(&p, buf, sizeof(buf), T_IO), 0);
            /* freed without close_notify, OpenSSL would drop the session */
            SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN
                                    | SSL_RECEIVED_SHUTDOWN);
        }

        ck_assert_ptr_nonnull(p.session);
        sess = p.session;
        ck_assert(SSL_SESSION_up_ref(sess));
        sl_tt_peer_free(&p);
        close(fd);

        o.session = sess;
        fd = sl_t_connect("127.0.0.1", m.port);
        ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
        ck_assert(sl_tt_handshake(&p, T_IO));
        ck_assert_msg(SSL_session_reused(p.ssl) == good, "%s: a %s client's "
                      "session %s", vname(version), good ? "good" : "refused",
                      good ? "was not resumed" : "was resumed");
        if (good) {
            read_answer(&p, buf, sizeof(buf));
            ck_assert_int_eq(sl_tt_shutdown(&p, 0, T_IO), 1);
        }
        sl_tt_peer_free(&p);
        close(fd);
        SSL_SESSION_free(sess);
    }

    stop(&m);
}
END_TEST

/* --- a client that just closes ------------------------------------------- */

/*
 * One TLS 1.2 connection to an echo server offering sess (NULL: none): a
 * byte there and back and close_notify; or, when bare, a byte and at once
 * a close with no close_notify (the server's read meets the EOF, or its
 * echo a reset).
 * Its session (a reference) is returned; *reused says if sess was.
 */
static SSL_SESSION *
echo_visit(int port, SSL_SESSION *sess, int bare, int *reused)
{
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    SSL_SESSION   *got;
    char           c;
    int            fd;

    memset(&o, 0, sizeof(o));
    o.min_version = TLS1_2_VERSION;
    o.max_version = TLS1_2_VERSION;
    o.session = sess;
    o.no_tickets = 1;

    fd = sl_t_connect("127.0.0.1", port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert_msg(sl_tt_handshake(&p, T_IO), "the handshake failed");
    ck_assert_int_eq(sl_tt_write(&p, "x", 1, T_IO), 1);
    if (!bare) {
        ck_assert_int_eq(sl_tt_read_full(&p, &c, 1, T_IO), 1);
        ck_assert_int_eq(c, 'x');
    }

    if (bare) {
        /* sent nothing; but freed so, OpenSSL would drop it client-side */
        SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN);
    } else {
        ck_assert_int_eq(sl_tt_shutdown(&p, 0, T_IO), 1);
    }

    *reused = SSL_session_reused(p.ssl);
    got = p.session != NULL ? p.session : sess;
    ck_assert_ptr_nonnull(got);
    ck_assert(SSL_SESSION_up_ref(got));
    ck_assert(SSL_SESSION_is_resumable(got));

    sl_tt_peer_free(&p);
    close(fd);

    return got;
}

/*
 * A client that ends with a bare close, no close_notify (many do), has
 * said nothing against its session: as in nginx, the session resumes
 * afterwards, from the shared zone (_i 0) as from the builtin cache (_i 1).
 */
START_TEST(test_bare_close_keeps_session)
{
    sl_t_master_t   m;
    SSL_SESSION    *sess, *next;
    const char     *log;
    int             reused;

    sl_t_master_start(&m, 1, 0, sl_t_printf(
        "events { worker_connections 256; }\n"
        "stream {\n" LOG_FORMAT
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate %s; ssl_certificate_key %s;\n"
        "        ssl_session_cache %s; ssl_session_tickets off;\n"
        "        echo;\n"
        "    }\n"
        "}\n", sl_tt_file("ecdsa.crt"), sl_tt_file("ecdsa.key"),
        _i == 0 ? "shared:SC:1m" : "builtin"));

    sess = echo_visit(m.port, NULL, 1, &reused);
    ck_assert(!reused);
    /* the server has seen the close and ended that session */
    (void) access_log(&m, 1);

    next = echo_visit(m.port, sess, 0, &reused);
    ck_assert_msg(reused, "a session whose client closed without "
                  "close_notify was not resumed (%s)",
                  _i == 0 ? "shared" : "builtin");

    log = access_log(&m, 2);
    ck_assert_int_eq(sl_t_count(log, " r "), 1);

    SSL_SESSION_free(next);
    SSL_SESSION_free(sess);
    stop(&m);
}
END_TEST

/*
 * A session still open when worker_shutdown_timeout ends an old worker
 * after a reload is cut, not judged: its session stays in the zone, and
 * the client, reconnecting to the new worker, resumes it (the reconnect
 * storm after a reload is what a shared cache is for).
 */
START_TEST(test_shutdown_timeout_keeps_sessions)
{
    sl_t_master_t   m;
    sl_t_pids_t     w;
    sl_tt_opts_t    o;
    sl_tt_peer_t    p;
    SSL_SESSION    *sess, *next;
    char            c;
    int             fd, reused;

    sl_t_master_start(&m, 1, 0, sl_t_printf(
        "worker_shutdown_timeout 1s;\n"
        "events { worker_connections 256; }\n"
        "stream {\n" LOG_FORMAT
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate %s; ssl_certificate_key %s;\n"
        "        ssl_session_cache shared:SC:1m; ssl_session_tickets off;\n"
        "        echo;\n"
        "    }\n"
        "}\n", sl_tt_file("ecdsa.crt"), sl_tt_file("ecdsa.key")));

    /* a session that stays open across the reload */
    memset(&o, 0, sizeof(o));
    o.min_version = TLS1_2_VERSION;
    o.max_version = TLS1_2_VERSION;
    o.no_tickets = 1;

    fd = sl_t_connect("127.0.0.1", m.port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert_msg(sl_tt_handshake(&p, T_IO), "the handshake failed");
    ck_assert_int_eq(sl_tt_write(&p, "x", 1, T_IO), 1);
    ck_assert_int_eq(sl_tt_read_full(&p, &c, 1, T_IO), 1);
    sess = p.session;
    ck_assert_ptr_nonnull(sess);
    ck_assert(SSL_SESSION_up_ref(sess));

    /* the old worker ends it at its shutdown timeout, then exits */
    sl_t_master_reload(&m, &w, T_IO);
    ck_assert_int_eq(w.n, 1);

    SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    sl_tt_peer_free(&p);
    close(fd);

    next = echo_visit(m.port, sess, 0, &reused);
    ck_assert_msg(reused, "a session cut by worker_shutdown_timeout was "
                  "taken out of the zone");

    SSL_SESSION_free(next);
    SSL_SESSION_free(sess);
    stop(&m);
}
END_TEST

/*
 * Two servers with different certificates share one zone: a session made
 * with one does not resume with the other (the session id context tells
 * them apart), and is still there for its own server afterwards.
 */
START_TEST(test_zone_shared_by_servers)
{
    sl_t_master_t   m;
    visit_t         a, b, again;

    sl_t_master_start(&m, 1, 0, sl_t_printf(
        "events { worker_connections 256; }\n"
        "stream {\n" LOG_FORMAT
        "    ssl_session_cache shared:SC:1m; ssl_session_tickets off;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate %s; ssl_certificate_key %s;\n"
        "        return \"$pid $ssl_session_reused\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT2@ ssl;\n"
        "        ssl_certificate %s; ssl_certificate_key %s;\n"
        "        return \"$pid $ssl_session_reused\";\n"
        "    }\n"
        "}\n", sl_tt_file("ecdsa.crt"), sl_tt_file("ecdsa.key"),
        sl_tt_file("rsa.crt"), sl_tt_file("rsa.key")));

    a = visit(m.port, TLS1_2_VERSION, NULL, 1);
    ck_assert(!a.reused);

    b = visit(m.port2, TLS1_2_VERSION, a.sess, 1);
    ck_assert_msg(!b.reused, "a session of one server's certificate "
                  "resumed with another's");

    again = visit(m.port, TLS1_2_VERSION, a.sess, 1);
    ck_assert_msg(again.reused, "the other server's refusal took the "
                  "session out of the zone");

    (void) access_log(&m, 3);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(again.sess);
    stop(&m);
}
END_TEST

/* --- configuration ------------------------------------------------------- */

typedef struct {
    const char  *conf;          /* inside stream{}: %1$s the cert, %2$s key */
    int          line;          /* of the error, in t.conf */
    const char  *message;       /* NULL: the configuration is good */
} conf_case_t;

#define CERTS  "ssl_certificate %1$s; ssl_certificate_key %2$s;\n"

static const conf_case_t  conf_cases[] = {
    { "ssl_session_cache shared:SSL;\n", 2,
      "invalid session cache \"shared:SSL\"" },
    { "ssl_session_cache shared::1m;\n", 2,
      "invalid session cache \"shared::1m\"" },
    { "ssl_session_cache shared:SSL:;\n", 2,
      "invalid session cache \"shared:SSL:\"" },
    { "ssl_session_cache shared:SSL:lots;\n", 2,
      "invalid session cache \"shared:SSL:lots\"" },
    { "ssl_session_cache shared:SSL:10k;\n", 2,
      "session cache \"shared:SSL:10k\" is too small" },
    { "ssl_session_cache shared:SSL:32767;\n", 2,
      "session cache \"shared:SSL:32767\" is too small" },
    { "ssl_session_cache bogus;\n", 2, "invalid session cache \"bogus\"" },
    { "ssl_session_cache builtin shared:SSL:1m shared:X:1m;\n", 2,
      "invalid number of arguments in \"ssl_session_cache\" directive" },
    { "ssl_session_cache shared:SSL:1m;\n"
      "ssl_session_cache builtin;\n", 3,
      "\"ssl_session_cache\" directive is duplicate" },
    { "server { listen 127.0.0.1:1 ssl; " CERTS
      "ssl_session_cache shared:SSL:1m; return x; }\n"
      "server { listen 127.0.0.1:2 ssl; " CERTS
      "ssl_session_cache shared:SSL:2m; return x; }\n", 5,
      "the size 2097152 of shared memory zone \"SSL\" conflicts with "
      "already declared size 1048576" },
    { "limit_conn_zone $remote_addr zone=SSL:1m;\n"
      "ssl_session_cache shared:SSL:1m;\n", 3,
      "the shared memory zone \"SSL\" is already declared for a different "
      "use" },
    /* good: one zone for two servers, the minimum size, with builtin */
    { "server { listen 127.0.0.1:1 ssl; " CERTS
      "ssl_session_cache shared:SSL:32k; return x; }\n"
      "server { listen 127.0.0.1:2 ssl; " CERTS
      "ssl_session_cache builtin:10 shared:SSL:32k; return x; }\n", 0,
      NULL },
};

START_TEST(test_conf)
{
    const conf_case_t  *cc = &conf_cases[_i];
    sl_t_out_t          out;
    char               *dir = sl_t_mkdir();
    const char         *want;

    sl_t_writef(dir, "conf/t.conf", "stream {\n%s\n}\n",
                sl_t_printf(cc->conf, sl_tt_file("ecdsa.crt"),
                            sl_tt_file("ecdsa.key")));

    if (cc->message == NULL) {
        ck_assert_msg(sl_t_run(((char *[]) { "sluice", "-p", dir, "-c",
                                             "conf/t.conf", "-t", NULL }),
                               &out, T_IO) == 0, "%s", out.err);
        return;
    }

    ck_assert_int_eq(sl_t_run(((char *[]) { "sluice", "-p", dir, "-c",
                                            "conf/t.conf", "-t", NULL }),
                              &out, T_IO), 1);

    want = sl_t_printf("[emerg] %s in %s/conf/t.conf:%d", cc->message, dir,
                       cc->line);
    ck_assert_msg(strstr(out.err, want) != NULL, "want \"%s\" in %s", want,
                  out.err);
}
END_TEST

static Suite *
tls_session_cache_suite(void)
{
    Suite  *s = suite_create("tls_session_cache");
    TCase  *tc;

    tc = tcase_create("conf");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_ssl_MODULE) {
        return s;
    }

    tcase_add_loop_test(tc, test_conf, 0,
                        (int) (sizeof(conf_cases) / sizeof(conf_cases[0])));

    tc = sl_t_master_tcase(s, "workers", 120);
    tcase_add_loop_test(tc, test_across_workers, 0, 4);
    tcase_add_loop_test(tc, test_builtin_is_per_worker, 0, 2);
    tcase_add_loop_test(tc, test_tickets_and_cache, 0, 3);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_full_zone);
    tcase_add_test(tc, test_full_zone_big_session);
    tcase_add_loop_test(tc, test_reload_keeps_sessions, 0, 4);
    tcase_add_test(tc, test_shutdown_timeout_keeps_sessions);
    tcase_add_test(tc, test_zone_shared_by_servers);
    tcase_add_loop_test(tc, test_refused_client_dropped, 0, 2);
    tcase_add_loop_test(tc, test_bare_close_keeps_session, 0, 2);

    return s;
}

SL_TEST_MAIN(tls_session_cache_suite)
