/*
 * test_process.c -- the process model of the real binary, from outside:
 * a master and its workers in the foreground and as a daemon, a start
 * that fails, the workers' user, limits, priority, CPUs and directory,
 * both workers taking connections (shared socket with EPOLLEXCLUSIVE, and
 * reuseport), the accept mutex serving, a worker killed and replaced, USR1,
 * WINCH, sluice -s against a master, and conf/sluice.service run as
 * systemd would. Reloads, binary upgrades and stops under traffic:
 * test_process_reload.c.
 *
 * The reference is nginx: its directives, signals and log texts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#define T_WAIT      10000       /* ms for sluice to react */
#define T_TRAFFIC   20000       /* ms for clients to get something done */

#define ECHO_CONF                                                             \
    "events { worker_connections 256; }\n"                                    \
    "stream {\n"                                                              \
    "    server { listen 127.0.0.1:@PORT@; echo; }\n"                         \
    "}\n"

/* echo, and the pid of the worker that accepted on the second port */
#define PID_CONF(listen_opt)  PID_CONF_EV("", listen_opt)
#define PID_CONF_EV(events, listen_opt)                                       \
    "events { worker_connections 256; " events "}\n"                          \
    "stream {\n"                                                              \
    "    server { listen 127.0.0.1:@PORT@; echo; }\n"                         \
    "    server { listen 127.0.0.1:@PORT2@" listen_opt ";\n"                  \
    "             return \"$pid\\n\"; }\n"                                    \
    "}\n"

#define sluice_s(m, what)                                                     \
    sl_t_run(((char *[]) { "sluice", "-p", (m)->dir, "-c", "conf/t.conf",     \
                           "-s", what, NULL }), NULL, T_WAIT)


/* --- start --------------------------------------------------------------- */

START_TEST(test_start_foreground)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;
    int            fd, i, in_workers = 0;

    sl_t_master_start(&m, 2, 0, ECHO_CONF);
    sl_t_workers(&m, &w);
    ck_assert_int_eq(w.n, 2);

    /* daemon off: the process started is the master, in our session */
    ck_assert_int_eq(m.master, sl_t_pid(m.proc));
    ck_assert_int_eq(getsid(m.master), getsid(0));

    fd = sl_t_try_connect(m.port);
    ck_assert_msg(fd != -1, "connect: %s", strerror(errno));
    sl_t_echo_round(fd, 1000, T_WAIT);

    /* the session is a worker's; the master holds no client connection */
    ck_assert_int_eq(sl_t_conns_of(m.master, m.port), 0);
    for (i = 0; i < w.n; i++) {
        in_workers += sl_t_conns_of(w.pid[i], m.port);
    }
    ck_assert_int_eq(in_workers, 1);
    (void) close(fd);

    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST


START_TEST(test_start_daemon)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;
    int            fd;

    sl_t_master_start(&m, 2, 1, ECHO_CONF);
    sl_t_workers(&m, &w);

    /* detached: a session of its own, away from ours */
    ck_assert_int_eq(getsid(m.master), m.master);
    ck_assert_int_ne(getsid(m.master), getsid(0));

    fd = sl_t_try_connect(m.port);
    ck_assert_msg(fd != -1, "connect: %s", strerror(errno));
    sl_t_echo_round(fd, 3000, T_WAIT);
    (void) close(fd);

    ck_assert_int_eq(sluice_s(&m, "quit"), 0);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST


START_TEST(test_worker_processes_auto)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;

    /* 0: "worker_processes auto", one worker per online CPU */
    sl_t_master_start(&m, 0, 0, ECHO_CONF);
    sl_t_workers(&m, &w);
    ck_assert_int_eq(w.n, (int) sysconf(_SC_NPROCESSORS_ONLN));

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST


START_TEST(test_master_process_off)
{
    sl_t_sluice_t  srv;
    sl_t_pids_t    children;
    int            fd;

    /* the harness says "master_process off": one process does it all */
    sl_t_sluice_start(&srv, "worker_processes 4;\n" ECHO_CONF);

    sl_t_children(sl_t_pid(srv.proc), &children);
    ck_assert_int_eq(children.n, 0);

    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_echo_round(fd, 2000, T_WAIT);
    ck_assert_int_eq(sl_t_conns_of(sl_t_pid(srv.proc), srv.port), 1);
    (void) close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST


/* a socket listening on 127.0.0.1, taking a port from sluice */
static int
hold_port(int *port)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 s, on = 1;

    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    (void) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ck_assert_int_eq(bind(s, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(s, 8), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *) &sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return s;
}


static void
start_fails(int daemon)
{
    sl_t_master_t  m;
    sl_t_out_t     o;
    char          *log;
    int            s, port;

    s = hold_port(&port);
    sl_t_master_prepare(&m, 2, daemon, sl_t_printf(
        "stream { server { listen 127.0.0.1:%d; echo; } }\n", port));

    ck_assert_int_ne(sl_t_run(((char *[]) { "sluice", "-p", m.dir, "-c",
                                            "conf/t.conf", NULL }),
                              &o, T_WAIT), 0);

    log = sl_t_read(m.log);
    ck_assert_msg(strstr(o.err, "Address already in use")
                  || (log && strstr(log, "Address already in use")),
                  "no bind() error; stderr:\n%s\nlog:\n%s", o.err, log);
    ck_assert_msg(!sl_t_exists(m.pid_file), "a failed start left %s",
                  m.pid_file);

    /* nothing of it runs on */
    {
        sl_t_pids_t  children;

        sl_t_children(o.pid, &children);
        ck_assert_int_eq(children.n, 0);
        sl_t_children(getpid(), &children);
        ck_assert_msg(children.n == 0, "%d processes left running",
                      children.n);
    }

    (void) close(s);
}


START_TEST(test_start_fails_foreground)
{
    start_fails(0);
}
END_TEST


START_TEST(test_start_fails_daemon)
{
    start_fails(1);
}
END_TEST


START_TEST(test_pid_file_after_listen)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;
    pid_t          pid;
    int            fd;

    sl_t_master_prepare(&m, 1, 0, ECHO_CONF);
    m.proc = sl_t_spawn(((char *[]) { "sluice", "-p", m.dir, "-c",
                                      "conf/t.conf", NULL }));

    /* the moment the pid file is there, the port takes connections */
    pid = sl_t_wait_pid_file(m.pid_file, T_WAIT);
    fd = sl_t_try_connect(m.port);
    ck_assert_msg(fd != -1, "connect right after the pid file: %s",
                  strerror(errno));
    ck_assert_int_eq(pid, sl_t_pid(m.proc));
    m.master = pid;

    sl_t_echo_round(fd, 100, T_WAIT);
    (void) close(fd);

    sl_t_wait_workers(&m, NULL, &w, T_WAIT);
    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST


/* --- workers take connections -------------------------------------------- */

typedef struct {
    sl_t_traffic_t  *t;
    sl_t_pids_t     *w;
} seen_cond_t;


/* every worker has answered at least once */
static int
all_seen(void *data)
{
    seen_cond_t    *c = data;
    sl_t_counts_t   counts;
    int             i;

    sl_t_traffic_counts(c->t, &counts);

    for (i = 0; i < c->w->n; i++) {
        if (!sl_t_pids_has(&counts.pids, c->w->pid[i])) {
            return 0;
        }
    }

    return 1;
}


/*
 * The traffic stops: every session was served, and by a worker of w, not
 * by the master; then sluice stops.
 */
static void
stop_served_by_workers(sl_t_traffic_t *t, sl_t_master_t *m,
    const sl_t_pids_t *w)
{
    sl_t_counts_t  counts;
    int            i;

    sl_t_traffic_stop(t, &counts);
    ck_assert_msg(counts.failed == 0 && counts.refused == 0, "%s",
                  sl_t_counts_text(&counts));

    for (i = 0; i < counts.pids.n; i++) {
        ck_assert_msg(sl_t_pids_has(w, counts.pids.pid[i]),
                      "pid %d answered; the workers are %d and %d",
                      (int) counts.pids.pid[i], (int) w->pid[0],
                      (int) w->pid[1]);
    }

    sl_t_signal(m->proc, SIGTERM);
    sl_t_master_expect_exit(m, w, T_WAIT);
}


static void
both_workers(const char *conf, int listeners)
{
    sl_t_traffic_t  *t;
    sl_t_counts_t    counts;
    sl_t_master_t    m;
    sl_t_pids_t      w;
    seen_cond_t      c;

    sl_t_master_start(&m, 2, 0, conf);
    sl_t_workers(&m, &w);

    /* shared: one socket; reuseport: one per worker */
    ck_assert_int_eq(sl_t_listeners(m.port2), listeners);

    /*
     * Several clients at once: with EPOLLEXCLUSIVE (or an accept mutex)
     * an idle worker is woken while the other one is busy, so both get
     * some; with reuseport the kernel spreads them by address.
     */
    t = sl_t_traffic_start(m.port2, SL_T_PIDS, 4);
    c.t = t;
    c.w = &w;

    if (sl_t_wait_for(all_seen, &c, NULL, T_TRAFFIC) != 0) {
        sl_t_traffic_counts(t, &counts);
        ck_abort_msg("workers %d and %d: only %d pid(s) answered: %s",
                     (int) w.pid[0], (int) w.pid[1], counts.pids.n,
                     sl_t_counts_text(&counts));
    }

    stop_served_by_workers(t, &m, &w);
}


START_TEST(test_two_workers_shared)
{
    both_workers(PID_CONF(""), 1);
}
END_TEST


START_TEST(test_two_workers_reuseport)
{
    both_workers(PID_CONF(" reuseport"), 2);
}
END_TEST


/*
 * With the accept mutex, only its holder accepts, and it may keep it for
 * as long as it is not too busy (nginx's too): that both workers answer
 * is not something to wait for. What must hold: every connection is
 * served, by a worker.
 */
static void
mutex_serves(const char *conf)
{
    sl_t_traffic_t  *t;
    sl_t_master_t    m;
    sl_t_pids_t      w;

    sl_t_master_start(&m, 2, 0, conf);
    sl_t_workers(&m, &w);
    ck_assert_int_eq(sl_t_listeners(m.port2), 1);

    t = sl_t_traffic_start(m.port2, SL_T_PIDS, 4);
    sl_t_traffic_wait(t, 500, T_TRAFFIC);
    stop_served_by_workers(t, &m, &w);
}


START_TEST(test_accept_mutex_serves)
{
    mutex_serves(PID_CONF_EV("accept_mutex on; ", ""));
}
END_TEST


START_TEST(test_accept_mutex_poll_serves)
{
    /* no EPOLLEXCLUSIVE with poll: the accept mutex is on by default */
    mutex_serves(PID_CONF_EV("use poll; ", ""));
}
END_TEST


/* --- what the workers run as --------------------------------------------- */

/* "Uid: real effective saved fs" of pid: all four are uid */
static int
runs_as(pid_t pid, uid_t uid)
{
    char  *v = sl_t_proc_status(pid, "Uid");
    long   r, e, s, f;

    return v != NULL && sscanf(v, "%ld %ld %ld %ld", &r, &e, &s, &f) == 4
           && r == (long) uid && e == (long) uid && s == (long) uid
           && f == (long) uid;
}


static void
workers_run_as_nobody(const char *conf)
{
    struct passwd  *pw;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    int             i, fd;

    if (geteuid() != 0) {
        /* nothing to drop: the user directive is ignored, as in nginx */
        return;
    }

    pw = getpwnam("nobody");
    ck_assert_ptr_nonnull(pw);

    sl_t_master_start(&m, 2, 0, conf);
    sl_t_workers(&m, &w);

    ck_assert(runs_as(m.master, 0));
    for (i = 0; i < w.n; i++) {
        ck_assert_msg(runs_as(w.pid[i], pw->pw_uid), "worker %d: Uid %s",
                      (int) w.pid[i], sl_t_proc_status(w.pid[i], "Uid"));
        ck_assert_msg(strtol(sl_t_proc_status(w.pid[i], "Gid"), NULL, 10)
                      == (long) pw->pw_gid, "worker %d: Gid %s",
                      (int) w.pid[i], sl_t_proc_status(w.pid[i], "Gid"));
    }

    /* and they still serve */
    fd = sl_t_try_connect(m.port);
    ck_assert_int_ne(fd, -1);
    sl_t_echo_round(fd, 500, T_WAIT);
    (void) close(fd);

    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}


START_TEST(test_user)
{
    workers_run_as_nobody("user nobody;\n" ECHO_CONF);
}
END_TEST


START_TEST(test_user_default)
{
    /* no user directive: started as root, the workers are nobody */
    workers_run_as_nobody(ECHO_CONF);
}
END_TEST


/* the soft "Max open files" of pid */
static long
nofile(pid_t pid)
{
    char  *limits, *p;

    limits = sl_t_read(sl_t_printf("/proc/%d/limits", (int) pid));
    ck_assert_ptr_nonnull(limits);
    p = strstr(limits, "Max open files");
    ck_assert_ptr_nonnull(p);
    return strtol(p + strlen("Max open files"), NULL, 10);
}


/* the nice value of pid: field 19 of /proc/PID/stat */
static long
nice_of(pid_t pid)
{
    char  *stat, *p;
    long   v = 1000;

    stat = sl_t_read(sl_t_printf("/proc/%d/stat", (int) pid));
    ck_assert_ptr_nonnull(stat);
    p = strrchr(stat, ')');
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u "
                            "%*u %*u %*u %*u %*d %*d %*d %ld", &v), 1);
    return v;
}


START_TEST(test_worker_limits)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;
    char          *wd, *cwd;
    long           master_nice;
    int            i, ok;

    sl_t_master_start(&m, 2, 0,
                      "worker_rlimit_nofile 1234;\n"
                      "worker_priority 5;\n"
                      "working_directory @DIR@/logs;\n" ECHO_CONF);
    sl_t_workers(&m, &w);
    wd = sl_t_path(m.dir, "logs");
    master_nice = nice_of(m.master);

    for (i = 0; i < w.n; i++) {
        /* valgrind keeps the real limit and shows sluice one of its own */
        if (getenv("SLUICE_WRAPPER") == NULL) {
            ck_assert_int_eq(nofile(w.pid[i]), 1234);
        }
        ck_assert_int_eq(nice_of(w.pid[i]), 5);
        cwd = realpath(sl_t_printf("/proc/%d/cwd", (int) w.pid[i]), NULL);
        ck_assert_ptr_nonnull(cwd);
        ok = strcmp(cwd, wd) == 0;
        free(cwd);
        ck_assert_msg(ok, "worker %d does not work in %s", (int) w.pid[i],
                      wd);
    }

    /* the master keeps its own */
    ck_assert_int_eq(master_nice, nice_of(getpid()));

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST


static void
affinity(const char *directive)
{
    sl_t_master_t  m;
    sl_t_pids_t    w;
    char          *a, *b;

    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        return;                 /* one CPU: nothing to tell apart */
    }

    sl_t_master_start(&m, 2, 0, sl_t_printf("%s\n%s", directive,
                                            ECHO_CONF));
    sl_t_workers(&m, &w);

    a = sl_t_proc_status(w.pid[0], "Cpus_allowed_list");
    b = sl_t_proc_status(w.pid[1], "Cpus_allowed_list");
    ck_assert_msg((strcmp(a, "0") == 0 && strcmp(b, "1") == 0)
                  || (strcmp(a, "1") == 0 && strcmp(b, "0") == 0),
                  "%s: the workers run on CPUs \"%s\" and \"%s\"",
                  directive, a, b);

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}


START_TEST(test_worker_cpu_affinity)
{
    affinity("worker_cpu_affinity 01 10;");
}
END_TEST


START_TEST(test_worker_cpu_affinity_auto)
{
    affinity("worker_cpu_affinity auto;");
}
END_TEST


START_TEST(test_env_directive)
{
    /* what a worker's environ holds is not visible from outside */
    ck_assert_int_eq(sl_t_sluice_test("env TZ;\nenv SL_T_A=1;\nenv PATH;\n",
                                      NULL), 0);
}
END_TEST


/* --- a worker dies ------------------------------------------------------- */

START_TEST(test_worker_killed)
{
    sl_t_traffic_t  *t;
    sl_t_counts_t    counts;
    sl_t_master_t    m;
    sl_t_pids_t      w, victim, now;

    sl_t_master_start(&m, 2, 0, ECHO_CONF);
    sl_t_workers(&m, &w);

    victim.n = 1;
    victim.pid[0] = w.pid[0];
    ck_assert_int_eq(kill(victim.pid[0], SIGKILL), 0);
    m.killed = 1;

    /* nginx: "[alert] ... worker process 1234 exited on signal 9" */
    sl_t_wait_log(m.log, "alert", sl_t_printf("worker process %d exited on "
                  "signal 9", (int) victim.pid[0]), 1, T_WAIT);

    sl_t_wait_workers(&m, &victim, &now, T_WAIT);
    ck_assert_msg(sl_t_pids_has(&now, w.pid[1]), "the other worker, %d, "
                  "was replaced too", (int) w.pid[1]);

    /* and service continues */
    t = sl_t_traffic_start(m.port, SL_T_ECHO, 2);
    sl_t_traffic_wait(t, 50, T_TRAFFIC);
    sl_t_traffic_stop(t, &counts);
    ck_assert_msg(counts.failed == 0 && counts.refused == 0, "%s",
                  sl_t_counts_text(&counts));

    sl_t_signal(m.proc, SIGTERM);
    sl_t_master_expect_exit(&m, &now, T_WAIT);
}
END_TEST


/* --- signals ------------------------------------------------------------- */

START_TEST(test_usr1_reopen)
{
    struct passwd  *pw = NULL;
    sl_t_master_t   m;
    struct stat     st;
    sl_t_pids_t     w;
    char           *old, *log;
    int             i;

    if (geteuid() == 0) {
        pw = getpwnam("nobody");
        ck_assert_ptr_nonnull(pw);
    }

    sl_t_master_start(&m, 2, 0, ECHO_CONF);
    sl_t_workers(&m, &w);

    old = sl_t_path(m.dir, "logs/error.log.1");
    ck_assert_int_eq(rename(m.log, old), 0);

    sl_t_signal(m.proc, SIGUSR1);
    sl_t_wait_file(m.log, NULL, T_WAIT);

    /* made for the workers: they can read it (nginx chowns it to them) */
    ck_assert_int_eq(stat(m.log, &st), 0);
    if (pw != NULL) {
        ck_assert_msg(st.st_uid == pw->pw_uid
                      || (st.st_mode & S_IROTH)
                      || (st.st_gid == pw->pw_gid && (st.st_mode & S_IRGRP)),
                      "the reopened log is %o, owned by %d:%d",
                      (unsigned) st.st_mode & 0777, (int) st.st_uid,
                      (int) st.st_gid);
    }

    /*
     * The workers reopen when the master tells them, after it made the
     * file; each says so in the old file first, as nginx's do. From then
     * on, what they log (at exit here) goes to the new file, and nothing
     * more to the old one.
     */
    sl_t_wait_log(old, "notice", "reopening logs", 1 + w.n, T_WAIT);
    for (i = 0; i < w.n; i++) {
        ck_assert(sl_t_log_has(sl_t_read(old), "notice",
                               sl_t_printf("%d#%d: reopening logs",
                                           (int) w.pid[i], (int) w.pid[i])));
    }

    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &w, T_WAIT);

    log = sl_t_read(m.log);
    for (i = 0; i < w.n; i++) {
        ck_assert_msg(strstr(log, sl_t_printf("] %d#", (int) w.pid[i])),
                      "worker %d wrote nothing to the new log:\n%s",
                      (int) w.pid[i], log);
    }
    ck_assert_msg(strstr(log, sl_t_printf("] %d#", (int) m.master)),
                  "the master wrote nothing to the new log:\n%s", log);
    ck_assert_msg(!sl_t_log_has(sl_t_read(old), NULL, "exiting")
                  && !sl_t_log_has(sl_t_read(old), NULL, "shutting down"),
                  "the stop was logged to the old log:\n%s",
                  sl_t_read(old));
}
END_TEST


START_TEST(test_winch)
{
    sl_t_master_t  m;
    sl_t_pids_t    w, none;
    int            fd;

    /* WINCH acts only on a daemon, as in nginx */
    sl_t_master_start(&m, 2, 1, ECHO_CONF);
    sl_t_workers(&m, &w);

    sl_t_signal(m.proc, SIGWINCH);
    sl_t_wait_dead(&w, T_WAIT);

    /* the master stays, without workers */
    m.workers = 0;
    sl_t_wait_workers(&m, NULL, &none, T_WAIT);
    ck_assert(sl_t_alive(m.master));

    /* HUP brings workers back */
    m.workers = 2;
    sl_t_signal(m.proc, SIGHUP);
    sl_t_wait_workers(&m, &w, &w, T_WAIT);

    fd = sl_t_try_connect(m.port);
    ck_assert_msg(fd != -1, "connect: %s", strerror(errno));
    sl_t_echo_round(fd, 700, T_WAIT);
    (void) close(fd);

    ck_assert_int_eq(sluice_s(&m, "stop"), 0);
    sl_t_master_expect_exit(&m, &w, T_WAIT);
}
END_TEST


START_TEST(test_s_commands)
{
    sl_t_master_t  m;
    sl_t_pids_t    w, w2;
    char          *old;

    sl_t_master_start(&m, 2, 1, ECHO_CONF);
    sl_t_workers(&m, &w);

    /* reload: new workers, the same master and pid file */
    ck_assert_int_eq(sluice_s(&m, "reload"), 0);
    sl_t_wait_workers(&m, &w, &w2, T_WAIT);
    sl_t_wait_dead(&w, T_WAIT);
    ck_assert_int_eq(sl_t_wait_pid_file(m.pid_file, T_WAIT), m.master);
    ck_assert(sl_t_log_has(sl_t_read(m.log), "notice", "reconfiguring"));

    /* reopen */
    old = sl_t_path(m.dir, "logs/error.log.1");
    ck_assert_int_eq(rename(m.log, old), 0);
    ck_assert_int_eq(sluice_s(&m, "reopen"), 0);
    sl_t_wait_file(m.log, NULL, T_WAIT);

    /* quit: gone, and so is the pid file */
    ck_assert_int_eq(sluice_s(&m, "quit"), 0);
    sl_t_master_expect_exit(&m, &w2, T_WAIT);

    /* now the pid file is missing: a clear error */
    {
        sl_t_out_t  o;

        ck_assert_int_eq(sl_t_run(((char *[]) { "sluice", "-p", m.dir, "-c",
                                                "conf/t.conf", "-s", "stop",
                                                NULL }), &o, T_WAIT), 1);
        ck_assert_msg(strstr(o.err, m.pid_file) != NULL, "stderr: %s",
                      o.err);
    }
}
END_TEST


/* --- conf/sluice.service ------------------------------------------------- */

#define UNIT_SBIN    "/usr/local/sluice/sbin/sluice"
#define UNIT_PREFIX  "/usr/local/sluice/"


/* the values of key= in the unit, in order */
static int
unit_values(const char *unit, const char *key, char **out, int max)
{
    const char  *line, *end;
    char        *k = sl_t_printf("\n%s=", key);
    int          n = 0;

    for (line = strstr(unit, k); line != NULL && n < max;
         line = strstr(end, k))
    {
        line += strlen(k);
        end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end);
        out[n++] = sl_t_printf("%.*s", (int) (end - line), line);
    }

    return n;
}


/*
 * Runs a command line of the unit: the sluice binary it names becomes
 * ours, with -p dir; $MAINPID becomes pid. No quoting in our unit: words
 * are split on blanks.
 */
static int
unit_exec(const char *cmd, const char *dir, pid_t pid, sl_t_out_t *o)
{
    char  *argv[16], *words, *w, *save;
    int    n = 0;

    cmd = sl_t_replace(cmd, "$MAINPID", sl_t_printf("%d", (int) pid));
    words = sl_t_printf("%s", cmd);

    for (w = strtok_r(words, " \t", &save); w != NULL && n < 12;
         w = strtok_r(NULL, " \t", &save))
    {
        if (n == 0 && strcmp(w, UNIT_SBIN) == 0) {
            argv[n++] = "sluice";
            argv[n++] = "-p";
            argv[n++] = (char *) dir;
            continue;
        }
        argv[n++] = w;
    }

    argv[n] = NULL;
    return sl_t_run(argv, o, T_WAIT);
}


START_TEST(test_systemd_unit)
{
    sl_t_master_t   m;
    sl_t_out_t      o;
    sl_t_pids_t     w, w2;
    char           *unit, *v[8], *copy;
    pid_t           pid;
    int             i, n;

    unit = sl_t_read(sl_t_path(sl_t_src(), "conf/sluice.service"));
    ck_assert_ptr_nonnull(unit);

    /* the defaults of configure and of the pid directive */
    ck_assert_int_eq(unit_values(unit, "Type", v, 8), 1);
    ck_assert_str_eq(v[0], "forking");
    ck_assert_int_eq(unit_values(unit, "PIDFile", v, 8), 1);
    ck_assert_str_eq(v[0], UNIT_PREFIX "logs/sluice.pid");
    ck_assert_int_eq(unit_values(unit, "KillSignal", v, 8), 1);
    ck_assert_str_eq(v[0], "SIGQUIT");

    /* a prefix of our own, and the unit pointed at it and at our binary */
    sl_t_master_prepare(&m, 2, 1, ECHO_CONF);
    sl_t_write(m.dir, "conf/sluice.conf", sl_t_read(m.conf));
    ck_assert_int_eq(unlink(m.conf), 0);

    copy = sl_t_replace(unit, UNIT_SBIN, sl_t_printf("%s -p %s/", sl_t_bin(),
                                                      m.dir));
    copy = sl_t_replace(copy, UNIT_PREFIX, sl_t_printf("%s/", m.dir));
    sl_t_write(m.dir, "sluice.service", copy);

    if (access("/usr/bin/systemd-analyze", X_OK) == 0
        || access("/bin/systemd-analyze", X_OK) == 0)
    {
        ck_assert_int_eq(sl_t_run(((char *[]) { "systemd-analyze", "verify",
                                   "--man=no", sl_t_path(m.dir,
                                   "sluice.service"), NULL }), &o, T_WAIT),
                         0);
        ck_assert_msg(o.err[0] == '\0', "systemd-analyze verify: %s", o.err);
    }

    /* what systemd would do: start... */
    n = unit_values(unit, "ExecStartPre", v, 8);
    for (i = 0; i < n; i++) {
        ck_assert_msg(unit_exec(v[i], m.dir, 0, &o) == 0, "%s: %s", v[i],
                      o.err);
    }
    ck_assert_int_eq(unit_values(unit, "ExecStart", v, 8), 1);
    ck_assert_msg(unit_exec(v[0], m.dir, 0, &o) == 0, "%s: %s", v[0], o.err);

    /* forking: the pid file names a master that is not the one started */
    pid = sl_t_wait_pid_file(m.pid_file, T_WAIT);
    ck_assert_int_ne(pid, o.pid);
    m.master = pid;
    m.proc = sl_t_adopt(pid);
    sl_t_wait_workers(&m, NULL, &w, T_WAIT);

    /* ...reload... */
    n = unit_values(unit, "ExecReload", v, 8);
    ck_assert_int_ge(n, 1);
    for (i = 0; i < n; i++) {
        ck_assert_msg(unit_exec(v[i], m.dir, pid, &o) == 0, "%s: %s", v[i],
                      o.err);
    }
    sl_t_wait_workers(&m, &w, &w2, T_WAIT);

    /* ...and stop, with the KillSignal */
    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &w2, T_WAIT);
}
END_TEST


/* --- the suite ----------------------------------------------------------- */

static Suite *
process_suite(void)
{
    Suite  *s = suite_create("process");
    TCase  *tc;

    tc = sl_t_master_tcase(s, "start", 60);
    tcase_add_test(tc, test_start_foreground);
    tcase_add_test(tc, test_start_daemon);
    tcase_add_test(tc, test_worker_processes_auto);
    tcase_add_test(tc, test_master_process_off);
    tcase_add_test(tc, test_start_fails_foreground);
    tcase_add_test(tc, test_start_fails_daemon);
    tcase_add_test(tc, test_pid_file_after_listen);

    tc = sl_t_master_tcase(s, "workers", 90);
    tcase_add_test(tc, test_two_workers_shared);
    tcase_add_test(tc, test_two_workers_reuseport);
    tcase_add_test(tc, test_accept_mutex_serves);
    tcase_add_test(tc, test_accept_mutex_poll_serves);
    tcase_add_test(tc, test_user);
    tcase_add_test(tc, test_user_default);
    tcase_add_test(tc, test_worker_limits);
    tcase_add_test(tc, test_worker_cpu_affinity);
    tcase_add_test(tc, test_worker_cpu_affinity_auto);
    tcase_add_test(tc, test_env_directive);
    tcase_add_test(tc, test_worker_killed);

    tc = sl_t_master_tcase(s, "systemd", 30);
    tcase_add_test(tc, test_systemd_unit);

    tc = sl_t_master_tcase(s, "signals", 60);
    tcase_add_test(tc, test_usr1_reopen);
    tcase_add_test(tc, test_winch);
    tcase_add_test(tc, test_s_commands);

    return s;
}


SL_TEST_MAIN(process_suite)
