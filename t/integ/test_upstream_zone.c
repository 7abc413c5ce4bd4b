/*
 * test_upstream_zone.c -- "zone" in upstream{}: two real workers share
 * one group's state.
 *
 * Each test starts a master with two workers, both with one shared
 * listening socket and with a socket each (reuseport). The proxy listens
 * on @PORT@; its group's live server is an echo server of the same sluice
 * on @PORT2@, or backends of t/lib; its dead server is a free port nobody
 * listens on. Which worker took a session is read from the error log,
 * where each logs "*N client ADDR:PORT connected to ..." at info with its
 * pid; an attempt on the dead server is a "Connection refused" line
 * naming it.
 *
 *   max_fails  with max_fails=1 the dead server is tried once in all, not
 *              once per worker (and, without zone, once per worker: the
 *              control that shows the test can tell);
 *   reload     a reload, and one that resizes the zone, keep the failure:
 *              the new workers do not try the dead server again within
 *              its fail_timeout;
 *   max_conns  a server with max_conns=2 takes two sessions in all,
 *              whichever workers accept them;
 *   least_conn with sessions held open, the two servers' counts never
 *              differ by more than one, across both workers; and the
 *              first session of the second worker goes to the server the
 *              first worker's session left with fewer (the first worker
 *              stopped meanwhile, so the shared socket's next session is
 *              the other's);
 *   TLS        with proxy_ssl_session_reuse, the other worker resumes the
 *              session the first one got from the server (and, without
 *              zone, does not);
 *   errors     the zone's configuration errors, with their file:line.
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
#include "sl_t_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_WAIT      10000       /* ms for sluice to react */
#define T_TRAFFIC   20000       /* ms for clients to reach both workers */
#define MAX_TRIES   400         /* sessions opened to reach both workers */

/* --- which worker took a session ----------------------------------------- */

/* the pids of the lines of log that contain text ("PID#TID: ...") */
static void
log_pids(const char *log, const char *text, sl_t_pids_t *out)
{
    const char  *p, *line, *end;
    char        *all;
    pid_t        pid;

    out->n = 0;
    all = sl_t_exists(log) ? sl_t_read(log) : NULL;

    for (line = all; line != NULL && *line != '\0'; line = end) {
        end = strchr(line, '\n');
        end = end != NULL ? end + 1 : line + strlen(line);

        p = memmem(line, (size_t) (end - line), text, strlen(text));
        if (p == NULL || (p = memchr(line, ']', (size_t) (end - line))) == NULL)
        {
            continue;
        }

        pid = (pid_t) atoi(p + 1);
        if (pid > 0 && !sl_t_pids_has(out, pid) && out->n < SL_T_MAX_PIDS) {
            out->pid[out->n++] = pid;
        }
    }
}

/* the worker that logged the session of the client socket fd */
static pid_t
session_worker(sl_t_master_t *m, int fd)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    sl_t_pids_t         pids;
    char               *text;

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    text = sl_t_printf("client 127.0.0.1:%d connected to 127.0.0.1:%d",
                       ntohs(sin.sin_port), m->port);
    sl_t_wait_log(m->log, "info", text, 1, T_WAIT);
    log_pids(m->log, text, &pids);
    ck_assert_int_eq(pids.n, 1);
    return pids.pid[0];
}

typedef struct {
    sl_t_master_t  *m;
    sl_t_pids_t    *w;
} both_cond_t;

/* both workers have logged a session on the proxy's port */
static int
both_served(void *data)
{
    both_cond_t  *c = data;
    sl_t_pids_t   seen;
    int           i;

    log_pids(c->m->log, sl_t_printf("connected to 127.0.0.1:%d",
                                    c->m->port), &seen);

    for (i = 0; i < c->w->n; i++) {
        if (!sl_t_pids_has(&seen, c->w->pid[i])) {
            return 0;
        }
    }

    return 1;
}

/*
 * Echo sessions through the proxy, four clients at once, until both
 * workers have taken some; every one must go through.
 */
static void
traffic_on_both(sl_t_master_t *m, sl_t_pids_t *w)
{
    sl_t_traffic_t  *t;
    sl_t_counts_t    counts;
    both_cond_t      c = { m, w };
    int              rc;

    t = sl_t_traffic_start(m->port, SL_T_ECHO, 4);
    rc = sl_t_wait_for(both_served, &c, NULL, T_TRAFFIC);
    sl_t_traffic_stop(t, &counts);

    ck_assert_msg(rc == 0, "the workers %d and %d did not both take "
                  "sessions: %s", (int) w->pid[0], (int) w->pid[1],
                  sl_t_read(m->log));
    ck_assert_msg(counts.failed == 0 && counts.refused == 0 && counts.sessions,
                  "%s", sl_t_counts_text(&counts));
}

/* --- max_fails ----------------------------------------------------------- */

/* the proxy on @PORT@, its group: the dead port and the echo on @PORT2@ */
static char *
fails_conf(const char *zone, const char *listen_opt, int dead)
{
    return sl_t_printf(
        "events { worker_connections 256; }\n"
        "stream {\n"
        "    upstream u {\n"
        "        %s\n"
        "        server 127.0.0.1:%d max_fails=1 fail_timeout=600s;\n"
        "        server 127.0.0.1:@PORT2@;\n"
        "    }\n"
        "    server { listen 127.0.0.1:@PORT@%s; proxy_pass u; }\n"
        "    server { listen 127.0.0.1:@PORT2@; echo; }\n"
        "}\n", zone, dead, listen_opt);
}

/*
 * One session alone first: whichever worker takes it tries the dead
 * server (the first of equals) and marks it failed before anything else
 * runs. Concurrent sessions could both try it before either failure is
 * counted -- in nginx as well; that is not what is tested here.
 */
static void
lone_session(sl_t_master_t *m, int failures)
{
    int  fd;

    fd = sl_t_connect("127.0.0.1", m->port);
    sl_t_echo_round(fd, 100, T_WAIT);
    close(fd);
    sl_t_wait_log(m->log, "warn", "upstream server temporarily disabled",
                  failures, T_WAIT);
}

/* how many attempts the workers made on the dead server */
static int
dead_tries(sl_t_master_t *m, int dead)
{
    return sl_t_log_count(sl_t_read(m->log), "error",
                          sl_t_printf("connect() to 127.0.0.1:%d failed "
                                      "(111: Connection refused)", dead));
}

static void
max_fails_once(const char *zone, const char *listen_opt, int expect)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;
    int            dead = sl_t_loopback_port();

    sl_t_master_start(&m, 2, 0, fails_conf(zone, listen_opt, dead));
    sl_t_workers(&m, &w);

    lone_session(&m, 1);
    traffic_on_both(&m, &w);
    ck_assert_msg(dead_tries(&m, dead) == expect, "%d tries of %d, not %d: "
                  "%s", dead_tries(&m, dead), dead, expect, sl_t_read(m.log));
    ck_assert_int_eq(sl_t_log_count(sl_t_read(m.log), "warn",
                                     "upstream server temporarily disabled"),
                     expect);

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}

START_TEST(test_max_fails_shared)
{
    max_fails_once("zone z 64k;", "", 1);
}
END_TEST

START_TEST(test_max_fails_reuseport)
{
    max_fails_once("zone z 64k;", " reuseport", 1);
}
END_TEST

/* the control: each worker counts for itself, so each tries it once */
START_TEST(test_max_fails_without_zone)
{
    max_fails_once("", " reuseport", 2);
}
END_TEST

/* --- reload --------------------------------------------------------------- */

START_TEST(test_reload_keeps_failure)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;
    int            dead = sl_t_loopback_port();

    sl_t_master_start(&m, 2, 0, fails_conf("zone z 64k;", " reuseport",
                                           dead));
    sl_t_workers(&m, &w);
    lone_session(&m, 1);
    traffic_on_both(&m, &w);
    ck_assert_int_eq(dead_tries(&m, dead), 1);

    /* the same zone: the new workers know the server failed */
    sl_t_master_reload(&m, &w, T_WAIT);
    traffic_on_both(&m, &w);
    ck_assert_int_eq(dead_tries(&m, dead), 1);

    /* a new size: a new zone, and still the failure carried over */
    sl_t_master_conf(&m, fails_conf("zone z 128k;", " reuseport", dead));
    sl_t_master_reload(&m, &w, T_WAIT);
    traffic_on_both(&m, &w);
    ck_assert_int_eq(dead_tries(&m, dead), 1);

    /* another group name: nothing to carry, it is tried again, once */
    sl_t_master_conf(&m, sl_t_replace(sl_t_replace(fails_conf("zone z 128k;",
                                                   " reuseport", dead),
                                      "upstream u", "upstream v"),
                                      "proxy_pass u", "proxy_pass v"));
    sl_t_master_reload(&m, &w, T_WAIT);
    lone_session(&m, 2);
    traffic_on_both(&m, &w);
    ck_assert_int_eq(dead_tries(&m, dead), 2);

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST

/* --- connections counted across workers ----------------------------------- */

typedef struct {
    int    fd;
    pid_t  worker;
    char   id[16];      /* the backend's, "" when the proxy closed */
} held_t;

/*
 * Sessions through the proxy, kept open: whose each is, and where it went
 * (the greeting "ID\n", or "" when the proxy closed, having no server).
 * They are opened in bursts of four, so that with one shared socket the
 * other worker is woken while the first is busy.
 */
static void
open_burst(sl_t_master_t *m, held_t *h, int n)
{
    struct pollfd  pfd;
    size_t         i;
    int            k;

    for (k = 0; k < n; k++) {
        h[k].fd = sl_t_connect("127.0.0.1", m->port);
    }

    for (k = 0; k < n; k++) {
        h[k].worker = session_worker(m, h[k].fd);

        for (i = 0; i < sizeof(h[k].id) - 1; i++) {
            pfd.fd = h[k].fd;
            pfd.events = POLLIN;
            ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(T_WAIT)), 1);

            if (recv(h[k].fd, &h[k].id[i], 1, 0) != 1) {
                break;
            }

            if (h[k].id[i] == '\n') {
                break;
            }
        }

        ck_assert_msg(i == 0 || h[k].id[i] == '\n',
                      "a greeting cut short or too long");
        h[k].id[i] = '\0';
    }
}

/* opens sessions, held, until each worker has taken one after the first
 * `after`; returns how many */
static int
hold_until_both(sl_t_master_t *m, sl_t_pids_t *w, held_t *h, int after,
    void (*check)(held_t *h, int n))
{
    int  n, k, seen0 = 0, seen1 = 0;

    for (n = 0; n + 4 <= MAX_TRIES; n += 4) {
        open_burst(m, &h[n], 4);

        /* a burst's sessions are chosen in any order: checked together */
        check(h, n + 4);

        for (k = n; k < n + 4; k++) {
            if (k >= after) {
                seen0 |= (h[k].worker == w->pid[0]);
                seen1 |= (h[k].worker == w->pid[1]);
            }
        }

        if (seen0 && seen1) {
            return n + 4;
        }
    }

    ck_abort_msg("%d sessions, and not both workers took one", MAX_TRIES);
    return 0;
}

static void
expect_at_most_two(held_t *h, int n)
{
    int  i, admitted = 0;

    for (i = 0; i < n; i++) {
        admitted += (h[i].id[0] != '\0');
    }

    ck_assert_int_eq(admitted, n < 2 ? n : 2);
}

static void
max_conns_across(const char *listen_opt)
{
    sl_t_backend_t  b;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    held_t         *h = calloc(MAX_TRIES, sizeof(held_t));

    ck_assert_ptr_nonnull(h);
    sl_t_backend_start(&b, "B", SL_TB_SILENT, 0);

    sl_t_master_start(&m, 2, 0, sl_t_printf(
        "events { worker_connections 1024; }\n"
        "stream {\n"
        "    upstream u { zone z 64k; server 127.0.0.1:%d max_conns=2; }\n"
        "    server { listen 127.0.0.1:@PORT@%s; proxy_pass u; }\n"
        "}\n", b.port, listen_opt));
    sl_t_workers(&m, &w);

    /* two admitted in all, then refusals from both workers */
    (void) hold_until_both(&m, &w, h, 2, expect_at_most_two);

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
    free(h);
}

START_TEST(test_max_conns_shared)
{
    max_conns_across("");
}
END_TEST

START_TEST(test_max_conns_reuseport)
{
    max_conns_across(" reuseport");
}
END_TEST

/* the held sessions' two servers never differ by more than one */
static void
expect_balanced(held_t *h, int n)
{
    int  i, a = 0, b = 0;

    for (i = 0; i < n; i++) {
        ck_assert_msg(h[i].id[0] != '\0', "session %d found no server", i);
        a += (strcmp(h[i].id, "A") == 0);
        b += (strcmp(h[i].id, "B") == 0);
    }

    ck_assert_msg(a + b == n && abs(a - b) <= 1, "A %d, B %d of %d", a, b, n);
}

/* two workers, a least_conn group with a zone of two silent backends */
static void
start_least_conn(sl_t_master_t *m, sl_t_pids_t *w, sl_t_backend_t *a,
    sl_t_backend_t *b, const char *listen_opt)
{
    sl_t_backend_start(a, "A", SL_TB_SILENT, 0);
    sl_t_backend_start(b, "B", SL_TB_SILENT, 0);

    sl_t_master_start(m, 2, 0, sl_t_printf(
        "events { worker_connections 1024; }\n"
        "stream {\n"
        "    upstream u { zone z 64k; least_conn;\n"
        "                 server 127.0.0.1:%d; server 127.0.0.1:%d; }\n"
        "    server { listen 127.0.0.1:@PORT@%s; proxy_pass u; }\n"
        "}\n", a->port, b->port, listen_opt));
    sl_t_workers(m, w);
}

static void
least_conn_across(const char *listen_opt)
{
    sl_t_backend_t  a, b;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    held_t         *h = calloc(MAX_TRIES, sizeof(held_t));
    int             n;

    ck_assert_ptr_nonnull(h);
    start_least_conn(&m, &w, &a, &b, listen_opt);

    n = hold_until_both(&m, &w, h, 0, expect_balanced);
    ck_assert_int_ge(n, 2);

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
    free(h);
}

/*
 * The other worker's first choice: one session held on worker X (on A),
 * X stopped so that the shared socket's next session is Y's: Y sees X's
 * session and takes B. Without a zone Y would count none and take A.
 */
START_TEST(test_least_conn_other_worker)
{
    sl_t_backend_t   a, b;
    sl_t_master_t    m;
    sl_t_pids_t      w;
    sl_t_proc_t     *x;
    held_t           h[2];

    start_least_conn(&m, &w, &a, &b, "");

    open_burst(&m, &h[0], 1);
    ck_assert_str_eq(h[0].id, "A");

    x = sl_t_adopt(h[0].worker);
    sl_t_freeze(x);

    open_burst(&m, &h[1], 1);
    ck_assert_int_ne(h[1].worker, h[0].worker);
    ck_assert_str_eq(h[1].id, "B");

    sl_t_signal(x, SIGCONT);
    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST

START_TEST(test_least_conn_shared)
{
    least_conn_across("");
}
END_TEST

START_TEST(test_least_conn_reuseport)
{
    least_conn_across(" reuseport");
}
END_TEST

/* --- TLS sessions to the upstream ---------------------------------------- */

/* the n-th record line of a TLS backend: does it say it resumed */
static int
resumed(sl_t_backend_t *b, int n)
{
    char  *text = sl_t_backend_wait_record(b, n, T_WAIT);
    char  *line = text;
    int    i;

    for (i = 1; i < n; i++) {
        line = strchr(line, '\n') + 1;
    }

    return strncmp(strstr(line, " resumed="), " resumed=1", 10) == 0;
}

/*
 * proxy_ssl_session_reuse with a zone: the session worker X got from the
 * server is kept in the zone, and worker Y's first connection resumes it
 * (X stopped, so the shared socket's next session is Y's). Without a
 * zone each worker keeps its own, and Y's first handshake is a full one.
 */
static void
session_other_worker(const char *zone, int expect)
{
    sl_t_backend_t   t;
    sl_t_master_t    m;
    sl_t_pids_t      w;
    sl_t_proc_t     *x;
    held_t           h[2];

    sl_t_tls_backend_start(&t, "T", sl_tt_file("rsa.crt"),
                           sl_tt_file("rsa.key"), NULL);

    sl_t_master_start(&m, 2, 0, sl_t_printf(
        "events { worker_connections 256; }\n"
        "stream {\n"
        "    upstream u { %s server 127.0.0.1:%d; }\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_pass u; proxy_ssl on; }\n"
        "}\n", zone, t.port));
    sl_t_workers(&m, &w);

    open_burst(&m, &h[0], 1);
    ck_assert_str_eq(h[0].id, "T");
    close(h[0].fd);
    ck_assert_int_eq(resumed(&t, 1), 0);

    x = sl_t_adopt(h[0].worker);
    sl_t_freeze(x);

    open_burst(&m, &h[1], 1);
    ck_assert_int_ne(h[1].worker, h[0].worker);
    ck_assert_str_eq(h[1].id, "T");
    close(h[1].fd);
    ck_assert_int_eq(resumed(&t, 2), expect);

    sl_t_signal(x, SIGCONT);
    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}

START_TEST(test_ssl_session_other_worker)
{
    session_other_worker("zone z 64k;", 1);
}
END_TEST

START_TEST(test_ssl_session_other_worker_without_zone)
{
    session_other_worker("", 0);
}
END_TEST

/* --- configuration errors ------------------------------------------------- */

/* sluice -t fails with msg at conf/t.conf:line */
static void
conf_error_at(const char *conf, const char *msg, int line)
{
    sl_t_out_t  out;
    char       *want;

    want = sl_t_printf("%s in ", msg);
    ck_assert_int_eq(sl_t_sluice_test(conf, &out), 1);
    ck_assert_msg(strstr(out.err, want) != NULL
                  && strstr(out.err, sl_t_printf("/conf/t.conf:%d\n", line))
                     != NULL,
                  "want \"%s...conf/t.conf:%d\" in: %s", want, line, out.err);
}

START_TEST(test_zone_errors)
{
    conf_error_at("stream {\n"
                  "  upstream u { zone z 16k; server 127.0.0.1:1; }\n"
                  "}\n", "sluice: [emerg] zone \"z\" is too small", 2);
    conf_error_at("stream {\n"
                  "  upstream u { server 127.0.0.1:1;\n"
                  "               zone z 1x; }\n"
                  "}\n", "sluice: [emerg] invalid zone size \"1x\"", 3);
    conf_error_at("stream {\n"
                  "  upstream u { zone z 64k; server 127.0.0.1:1; }\n"
                  "  upstream v { zone z 128k; server 127.0.0.1:1; }\n"
                  "}\n", "sluice: [emerg] the size 131072 of shared memory "
                  "zone \"z\" conflicts with already declared size 65536", 3);

    /* a zone named but never given a size: at the end, with no line */
    sl_t_conf_error("stream {\n"
                    "  upstream u { zone z; server 127.0.0.1:1; }\n"
                    "}\n", "sluice: [emerg] zero size shared memory zone "
                    "\"z\"\n");
}
END_TEST

static Suite *
upstream_zone_suite(void)
{
    Suite  *s = suite_create("upstream_zone");
    TCase  *tc;

    tc = sl_t_master_tcase(s, "fails", 120);
    tcase_add_test(tc, test_max_fails_shared);
    tcase_add_test(tc, test_max_fails_reuseport);
    tcase_add_test(tc, test_max_fails_without_zone);
    tcase_add_test(tc, test_reload_keeps_failure);

    tc = sl_t_master_tcase(s, "conns", 120);
    tcase_add_test(tc, test_max_conns_shared);
    tcase_add_test(tc, test_max_conns_reuseport);
    tcase_add_test(tc, test_least_conn_shared);
    tcase_add_test(tc, test_least_conn_reuseport);
    tcase_add_test(tc, test_least_conn_other_worker);
    tcase_add_test(tc, test_ssl_session_other_worker);
    tcase_add_test(tc, test_ssl_session_other_worker_without_zone);

    tc = sl_t_master_tcase(s, "errors", 60);
    tcase_add_test(tc, test_zone_errors);

    return s;
}

SL_TEST_MAIN(upstream_zone_suite)
