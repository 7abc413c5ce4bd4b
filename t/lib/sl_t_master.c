/*
 * sl_t_master.c -- a master, its workers and traffic; see sl_t_master.h.
 *
 * Most waits here are on things the kernel gives no event for: a
 * grandchild forked or gone, a process's descriptors, a counter another
 * process bumps. They poll their condition every few milliseconds until
 * a deadline (sl_t_wait_for() with no path); where there is an event (a
 * file written, a child of ours exiting) they use it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_t_master.h"
#include "sl_t_net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define SL_T_M_TRIES      10
#define SL_T_M_START_MS   10000
#define SL_T_M_RUN_MS     10000
#define SL_T_M_IO_MS      10000     /* one step of a client's session */
#define SL_T_M_CLIENTS    16
#define SL_T_M_MSG        3000      /* the largest echo message */

#define sl_t_m_fail(file, line, ...)                                          \
    ck_abort_msg("%s:%d: %s", file, line, sl_t_printf(__VA_ARGS__))


/* what the traffic clients and the test share (MAP_SHARED) */
typedef struct {
    atomic_int     stop;
    atomic_int     next_id;
    atomic_long    sessions;
    atomic_long    refused;
    atomic_long    failed;
    atomic_llong   bytes;
    atomic_int     pids[SL_T_MAX_PIDS];
    atomic_int     error_set;
    char           error[256];
    int            port;
    int            mode;
    int            io_ms;
} sl_t_shared_t;

struct sl_t_traffic_s {
    sl_t_traffic_t  *next;
    sl_t_shared_t   *sh;
    int              clients;
    sl_t_proc_t     *proc[SL_T_M_CLIENTS];
};


static sl_t_traffic_t  *sl_t_traffics;
static pid_t            sl_t_reaper;    /* the process that set it up */


/* --- teardown ------------------------------------------------------------ */

/* "pid (comm) S ppid ...": the state and the parent; 0: no such process */
static int
sl_t_stat(pid_t pid, char *state, pid_t *ppid)
{
    char   path[64], buf[1024], *p;
    long   pp;
    FILE  *f;
    int    ok;

    (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);

    f = fopen(path, "re");
    if (f == NULL) {
        return 0;
    }

    ok = fgets(buf, sizeof(buf), f) != NULL;
    (void) fclose(f);

    p = ok ? strrchr(buf, ')') : NULL;
    if (p == NULL || sscanf(p + 1, " %c %ld", state, &pp) != 2) {
        return 0;
    }

    *ppid = (pid_t) pp;
    return 1;
}


/* SIGKILLs and reaps our children, and theirs as they become ours */
static void
sl_t_reap_all(void)
{
    struct dirent  *e;
    DIR            *d;
    pid_t           pid, ppid;
    char            state;
    int             round, found;

    if (sl_t_reaper != getpid()) {
        return;
    }

    for (round = 0; round < 100; round++) {
        d = opendir("/proc");
        if (d == NULL) {
            return;
        }

        found = 0;

        while ((e = readdir(d)) != NULL) {
            if (!isdigit((unsigned char) e->d_name[0])) {
                continue;
            }

            pid = (pid_t) atol(e->d_name);
            if (!sl_t_stat(pid, &state, &ppid) || ppid != getpid()) {
                continue;
            }

            /* a master dies before its workers: nobody respawns them */
            (void) kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) == -1 && errno == EINTR) {
                /* void */
            }
            found++;
        }

        (void) closedir(d);

        if (found == 0) {
            return;
        }
    }
}


static void
sl_t_master_cleanup(void)
{
    sl_t_traffic_t  *t;

    sl_t_reap_all();

    while (sl_t_traffics != NULL) {
        t = sl_t_traffics;
        sl_t_traffics = t->next;
        (void) munmap(t->sh, sizeof(sl_t_shared_t));
        free(t);
    }
}


static void
sl_t_master_setup(void)
{
    static pid_t  registered;

    if (sl_t_reaper == getpid()) {
        return;
    }

    /* forked from a process that had it: not ours to clean */
    sl_t_traffics = NULL;
    sl_t_reaper = getpid();

    if (registered != getpid()) {
        registered = getpid();
        (void) atexit(sl_t_reap_all);
    }
}


static void
sl_t_runner_setup(void)
{
    sl_t_master_setup();
}


void
sl_t_master_fixture(TCase *tc)
{
    sl_t_fixture(tc);

    /* teardowns run last added first: ours before sl_proc's */
    tcase_add_unchecked_fixture(tc, sl_t_runner_setup, sl_t_reap_all);
    tcase_add_checked_fixture(tc, sl_t_master_setup, sl_t_master_cleanup);
}


TCase *
sl_t_master_tcase(Suite *s, const char *name, double timeout)
{
    TCase  *tc = tcase_create(name);

    sl_t_master_fixture(tc);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}


/* --- /proc --------------------------------------------------------------- */

int
sl_t_alive(pid_t pid)
{
    pid_t  ppid;
    char   state;

    return sl_t_stat(pid, &state, &ppid) && state != 'Z' && state != 'X';
}


void
sl_t_children(pid_t parent, sl_t_pids_t *out)
{
    struct dirent  *e;
    DIR            *d;
    pid_t           pid, ppid;
    char            state;

    out->n = 0;

    d = opendir("/proc");
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL && out->n < SL_T_MAX_PIDS) {
        if (!isdigit((unsigned char) e->d_name[0])) {
            continue;
        }

        pid = (pid_t) atol(e->d_name);
        if (sl_t_stat(pid, &state, &ppid) && ppid == parent
            && state != 'Z' && state != 'X')
        {
            out->pid[out->n++] = pid;
        }
    }

    (void) closedir(d);
}


int
sl_t_pids_has(const sl_t_pids_t *set, pid_t pid)
{
    int  i;

    for (i = 0; set != NULL && i < set->n; i++) {
        if (set->pid[i] == pid) {
            return 1;
        }
    }

    return 0;
}


static char *
sl_t_pids_text(const sl_t_pids_t *set)
{
    char  *s = sl_t_printf("%s", "");
    int    i;

    for (i = 0; set != NULL && i < set->n; i++) {
        s = sl_t_printf("%s%s%d", s, i ? " " : "", (int) set->pid[i]);
    }

    return set != NULL && set->n ? s : "none";
}


int
sl_t_fd_count(pid_t pid)
{
    struct dirent  *e;
    DIR            *d;
    int             n = 0;

    d = opendir(sl_t_printf("/proc/%d/fd", (int) pid));
    if (d == NULL) {
        return -1;
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }

    (void) closedir(d);
    return n;
}


char *
sl_t_proc_status(pid_t pid, const char *field)
{
    char        *status, *p, *end, *key;

    status = sl_t_read(sl_t_printf("/proc/%d/status", (int) pid));
    if (status == NULL) {
        return NULL;
    }

    key = sl_t_printf("\n%s:", field);
    p = strstr(status, key);
    if (p == NULL) {
        return NULL;
    }

    p += strlen(key);
    p += strspn(p, " \t");
    end = strchr(p, '\n');
    return sl_t_printf("%.*s", (int) (end ? end - p : (long) strlen(p)), p);
}


long
sl_t_vm_kb(pid_t pid, const char *field)
{
    char  *v = sl_t_proc_status(pid, field);

    return v != NULL ? strtol(v, NULL, 10) : -1;
}


/* adds the inodes of the sockets on local port in state (hex) from file */
static int
sl_t_tcp_inodes(const char *file, int port, const char *state,
    unsigned long *inode, int n, int max)
{
    char   line[512], local[128], remote[128], st[8];
    long   lport;
    char  *colon;
    unsigned long  ino;
    FILE  *f;

    f = fopen(file, "re");
    if (f == NULL) {
        return n;
    }

    while (fgets(line, sizeof(line), f) != NULL && n < max) {
        if (sscanf(line, " %*s %127s %127s %7s %*s %*s %*s %*s %*s %lu",
                   local, remote, st, &ino) != 4)
        {
            continue;                   /* the header */
        }

        colon = strrchr(local, ':');
        lport = colon != NULL ? strtol(colon + 1, NULL, 16) : -1;

        if (lport == port && strcmp(st, state) == 0 && ino != 0) {
            inode[n++] = ino;
        }
    }

    (void) fclose(f);
    return n;
}


int
sl_t_listeners(int port)
{
    unsigned long  inode[1024];
    int            n;

    n = sl_t_tcp_inodes("/proc/net/tcp", port, "0A", inode, 0, 1024);
    return sl_t_tcp_inodes("/proc/net/tcp6", port, "0A", inode, n, 1024);
}


int
sl_t_conns_of(pid_t pid, int port)
{
    unsigned long   inode[1024], ino;
    struct dirent  *e;
    char            target[128], *dir;
    ssize_t         len;
    DIR            *d;
    int             n, i, count = 0;

    /* "01": established */
    n = sl_t_tcp_inodes("/proc/net/tcp", port, "01", inode, 0, 1024);
    n = sl_t_tcp_inodes("/proc/net/tcp6", port, "01", inode, n, 1024);

    dir = sl_t_printf("/proc/%d/fd", (int) pid);
    d = opendir(dir);
    if (d == NULL) {
        return -1;
    }

    while ((e = readdir(d)) != NULL) {
        len = readlink(sl_t_path(dir, e->d_name), target,
                       sizeof(target) - 1);
        if (len <= 0) {
            continue;
        }

        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &ino) != 1) {
            continue;
        }

        for (i = 0; i < n; i++) {
            if (inode[i] == ino) {
                count++;
                break;
            }
        }
    }

    (void) closedir(d);
    return count;
}


/* --- starting ------------------------------------------------------------ */

static int
sl_t_m_free_port(int other)
{
    struct sockaddr_in  sin;
    socklen_t           len;
    int                 s, port;

    do {
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(s, 0);

        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(sin);

        ck_assert_int_eq(bind(s, (struct sockaddr *) &sin, sizeof(sin)), 0);
        ck_assert_int_eq(getsockname(s, (struct sockaddr *) &sin, &len), 0);
        port = ntohs(sin.sin_port);
        (void) close(s);
    } while (port == other);

    return port;
}


char *
sl_t_master_subst(sl_t_master_t *m, const char *conf)
{
    char  *text;

    text = sl_t_replace(conf, "@PORT2@", sl_t_printf("%d", m->port2));
    text = sl_t_replace(text, "@PORT@", sl_t_printf("%d", m->port));
    return sl_t_replace(text, "@DIR@", m->dir);
}


void
sl_t_master_conf(sl_t_master_t *m, const char *conf)
{
    sl_t_writef(m->dir, "conf/t.conf",
                "daemon %s;\nmaster_process on;\nworker_processes %s;\n"
                "error_log logs/error.log info;\npid logs/sluice.pid;\n%s",
                m->daemon ? "on" : "off", m->workers_arg,
                sl_t_master_subst(m, conf));
}


typedef struct {
    sl_t_master_t  *m;
    pid_t           pid;
} sl_t_pid_cond_t;


/* the pid file holds a whole line, or the process we started is gone */
static int
sl_t_cond_pid_or_exit(void *data)
{
    sl_t_pid_cond_t  *c = data;
    char             *text, *end;
    long              pid;

    if (!sl_t_running(c->m->proc)) {
        return 1;
    }

    text = sl_t_read(c->m->pid_file);
    if (text == NULL || *text == '\0' || text[strlen(text) - 1] != '\n') {
        return 0;
    }

    pid = strtol(text, &end, 10);
    if (pid <= 0 || *end != '\n') {
        return 0;
    }

    c->pid = (pid_t) pid;
    return 1;
}


static int
sl_t_in_use(sl_t_master_t *m, const char *err)
{
    char  *log = sl_t_read(m->log);

    return strstr(err, "Address already in use") != NULL
           || (log != NULL && strstr(log, "Address already in use") != NULL);
}


/* 1: up; 0: a port was taken, try others; fails on anything else */
static int
sl_t_master_try(const char *file, int line, sl_t_master_t *m,
    const char *conf)
{
    sl_t_pid_cond_t   c = { m, 0 };
    sl_t_out_t        o;
    char            **argv;

    m->port = sl_t_m_free_port(0);
    m->port2 = sl_t_m_free_port(m->port);
    sl_t_master_conf(m, conf);
    (void) unlink(m->log);
    (void) unlink(m->pid_file);

    argv = (char *[]) { "sluice", "-p", m->dir, "-c", "conf/t.conf", NULL };

    if (m->daemon) {
        if (sl_t_run(argv, &o, SL_T_M_RUN_MS) != 0) {
            if (sl_t_in_use(m, o.err)) {
                return 0;
            }
            sl_t_m_fail(file, line, "sluice (daemon on) %s: %s%s",
                        sl_t_status_text(o.status), o.err,
                        sl_t_read(m->log) ? sl_t_read(m->log) : "");
        }

        m->master = sl_t_wait_pid_file(m->pid_file, SL_T_M_START_MS);
        m->proc = sl_t_adopt(m->master);
        return 1;
    }

    m->proc = sl_t_spawn(argv);

    if (sl_t_wait_for(sl_t_cond_pid_or_exit, &c, m->pid_file,
                      SL_T_M_START_MS) != 0)
    {
        sl_t_m_fail(file, line, "no pid in %s after %d ms; stderr:\n%s\n"
                    "log:\n%s", m->pid_file, sl_t_timeout(SL_T_M_START_MS),
                    sl_t_stderr(m->proc),
                    sl_t_read(m->log) ? sl_t_read(m->log) : "");
    }

    if (c.pid == 0) {
        if (sl_t_in_use(m, sl_t_stderr(m->proc))) {
            return 0;
        }
        sl_t_m_fail(file, line, "sluice exited at start: %s\nlog:\n%s",
                    sl_t_stderr(m->proc),
                    sl_t_read(m->log) ? sl_t_read(m->log) : "");
    }

    if (c.pid != sl_t_pid(m->proc)) {
        sl_t_m_fail(file, line, "with daemon off, the pid file names %d, "
                    "not the process started, %d", (int) c.pid,
                    (int) sl_t_pid(m->proc));
    }

    m->master = c.pid;
    return 1;
}


static void
sl_t_master_init(sl_t_master_t *m, int workers, int daemon)
{
    sl_t_master_setup();

    memset(m, 0, sizeof(*m));
    m->daemon = daemon;
    m->workers = workers >= 1 ? workers
                              : (int) sysconf(_SC_NPROCESSORS_ONLN);
    m->workers_arg = workers >= 1 ? sl_t_printf("%d", workers) : "auto";
    m->dir = sl_t_mkdir();

    /* workers that run as another user (nobody) may need to get in */
    ck_assert_int_eq(chmod(m->dir, 0711), 0);
    m->conf = sl_t_path(m->dir, "conf/t.conf");
    m->log = sl_t_path(m->dir, "logs/error.log");
    m->pid_file = sl_t_path(m->dir, "logs/sluice.pid");
}


void
sl_t_master_prepare(sl_t_master_t *m, int workers, int daemon,
    const char *conf)
{
    sl_t_master_init(m, workers, daemon);
    m->port = sl_t_m_free_port(0);
    m->port2 = sl_t_m_free_port(m->port);
    sl_t_master_conf(m, conf);
}


void
sl_t_master_start_at(const char *file, int line, sl_t_master_t *m,
    int workers, int daemon, const char *conf)
{
    int  i;

    sl_t_master_init(m, workers, daemon);

    for (i = 0; i < SL_T_M_TRIES; i++) {
        if (sl_t_master_try(file, line, m, conf)) {
            sl_t_wait_workers_at(file, line, m, NULL, NULL,
                                 SL_T_M_START_MS);
            return;
        }
    }

    sl_t_m_fail(file, line, "no free ports in %d tries", SL_T_M_TRIES);
}


/* --- waiting for processes ----------------------------------------------- */

typedef struct {
    sl_t_master_t      *m;
    const sl_t_pids_t  *old;
    sl_t_pids_t         now;
} sl_t_workers_cond_t;


/*
 * A worker is up once it has its event loop: it logs which event method
 * it uses (at notice, as nginx's workers do), after it has set its user,
 * limits, priority, CPUs and directory. A worker that merely exists may
 * still be root, on every CPU, in the master's directory.
 */
static int
sl_t_worker_up(const char *log, pid_t pid)
{
    const char  *line, *end;
    char         tag[32];

    (void) snprintf(tag, sizeof(tag), "] %d#", (int) pid);

    for (line = log; line != NULL && (line = strstr(line, tag)) != NULL;
         line = end)
    {
        end = strchr(line, '\n');
        if (end == NULL) {
            return 0;           /* a line still being written */
        }
        if (memmem(line, (size_t) (end - line), "event method", 12) != NULL)
        {
            return 1;
        }
    }

    return 0;
}


static int
sl_t_cond_workers(void *data)
{
    sl_t_workers_cond_t  *c = data;
    sl_t_pids_t           all;
    char                 *log;
    int                   i;

    sl_t_children(c->m->master, &all);

    c->now.n = 0;
    for (i = 0; i < all.n; i++) {
        if (!sl_t_pids_has(c->old, all.pid[i])) {
            c->now.pid[c->now.n++] = all.pid[i];
        }
    }

    if (c->now.n != c->m->workers) {
        return 0;
    }

    log = sl_t_read(c->m->log);
    for (i = 0; i < c->now.n; i++) {
        if (log == NULL || !sl_t_worker_up(log, c->now.pid[i])) {
            return 0;
        }
    }

    return 1;
}


void
sl_t_wait_workers_at(const char *file, int line, sl_t_master_t *m,
    const sl_t_pids_t *old, sl_t_pids_t *out, int ms)
{
    sl_t_workers_cond_t  c = { m, old, { 0, { 0 } } };

    if (sl_t_wait_for(sl_t_cond_workers, &c, NULL, ms) != 0) {
        sl_t_m_fail(file, line, "master %d: wanted %d workers besides the "
                    "old (%s), it has %s after %d ms; the master is %s; "
                    "log:\n%s", (int) m->master, m->workers,
                    sl_t_pids_text(old), sl_t_pids_text(&c.now),
                    sl_t_timeout(ms),
                    sl_t_alive(m->master) ? "alive" : "gone",
                    sl_t_read(m->log) ? sl_t_read(m->log) : "");
    }

    if (out != NULL) {
        *out = c.now;
    }
}


static int
sl_t_cond_dead(void *data)
{
    const sl_t_pids_t  *set = data;
    int                 i;

    for (i = 0; i < set->n; i++) {
        if (sl_t_alive(set->pid[i])) {
            return 0;
        }
    }

    return 1;
}


void
sl_t_wait_dead_at(const char *file, int line, const sl_t_pids_t *set,
    int ms)
{
    if (sl_t_wait_for(sl_t_cond_dead, (void *) set, NULL, ms) != 0) {
        sl_t_m_fail(file, line, "processes %s: some still run after %d ms",
                    sl_t_pids_text(set), sl_t_timeout(ms));
    }
}


void
sl_t_master_expect_exit_at(const char *file, int line, sl_t_master_t *m,
    const sl_t_pids_t *workers, int ms)
{
    int  status;

    status = sl_t_wait_exit(m->proc, ms);

    /* -1: a daemon we adopted before it was ours to wait for */
    if (status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        sl_t_m_fail(file, line, "the master %s; log:\n%s",
                    sl_t_status_text(status), sl_t_read(m->log));
    }

    sl_t_wait_dead_at(file, line, workers, ms);

    if (sl_t_exists(m->pid_file)) {
        sl_t_m_fail(file, line, "%s is left behind", m->pid_file);
    }

    if (sl_t_bad_exits(sl_t_read(m->log)) != m->killed) {
        sl_t_m_fail(file, line, "workers that did not exit cleanly:\n%s",
                    sl_t_read(m->log));
    }
}


void
sl_t_master_reload_at(const char *file, int line, sl_t_master_t *m,
    sl_t_pids_t *out, int ms)
{
    sl_t_pids_t  old;

    sl_t_workers(m, &old);
    sl_t_signal(m->proc, SIGHUP);
    sl_t_wait_workers_at(file, line, m, &old, out, ms);
    sl_t_wait_dead_at(file, line, &old, ms);
}


/* --- the error log ------------------------------------------------------- */

/* the line at p is at level and contains text */
static int
sl_t_line_is(const char *p, size_t len, const char *level, const char *text)
{
    char  *line = sl_t_printf("%.*s", (int) len, p), *lv;

    if (level != NULL) {
        lv = strstr(line, sl_t_printf("[%s] ", level));
        /* "YYYY/MM/DD HH:MM:SS [" : the level comes right after the time */
        if (lv == NULL || lv - line != 20) {
            return 0;
        }
    }

    return strstr(line, text) != NULL;
}


static const char *
sl_t_log_scan(const char *log, const char *level, const char *text,
    int *count)
{
    const char  *line, *end, *first = NULL;

    *count = 0;

    for (line = log; line != NULL && *line != '\0'; line = end) {
        end = strchr(line, '\n');
        end = end != NULL ? end + 1 : line + strlen(line);

        if (sl_t_line_is(line, (size_t) (end - line), level, text)) {
            if (first == NULL) {
                first = line;
            }
            (*count)++;
        }
    }

    return first;
}


const char *
sl_t_log_has(const char *log, const char *level, const char *text)
{
    int  n;

    return sl_t_log_scan(log, level, text, &n);
}


int
sl_t_log_count(const char *log, const char *level, const char *text)
{
    int  n;

    (void) sl_t_log_scan(log, level, text, &n);
    return n;
}


int
sl_t_count(const char *text, const char *needle)
{
    int  n = 0;

    while (text != NULL && (text = strstr(text, needle)) != NULL) {
        n++;
        text += strlen(needle);
    }

    return n;
}


static int
sl_t_stopped(void *data)
{
    const char  *state = sl_t_proc_status(*(pid_t *) data, "State");

    return state != NULL && state[0] == 'T';
}


void
sl_t_stop_process(pid_t pid, int ms)
{
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    ck_assert_msg(sl_t_wait_for(sl_t_stopped, &pid, NULL, sl_t_timeout(ms))
                  == 0, "process %d did not stop", (int) pid);
}


int
sl_t_bad_exits(const char *log)
{
    return sl_t_log_count(log, NULL, "exited on signal")
           + sl_t_log_count(log, NULL, "exited with code")
           - sl_t_log_count(log, NULL, "exited with code 0");
}


typedef struct {
    const char  *path;
    const char  *level;
    const char  *text;
    int          n;
} sl_t_log_cond_t;


static int
sl_t_cond_log(void *data)
{
    sl_t_log_cond_t  *c = data;

    return sl_t_log_count(sl_t_read(c->path), c->level, c->text) >= c->n;
}


void
sl_t_wait_log_at(const char *file, int line, const char *path,
    const char *level, const char *text, int n, int ms)
{
    sl_t_log_cond_t  c = { path, level, text, n };

    if (sl_t_wait_for(sl_t_cond_log, &c, path, ms) != 0) {
        sl_t_m_fail(file, line, "not %d line(s) [%s] \"%s\" in %s after %d "
                    "ms; it holds:\n%s", n, level ? level : "any", text,
                    path, sl_t_timeout(ms),
                    sl_t_read(path) ? sl_t_read(path) : "(nothing)");
    }
}


/* --- clients of the test itself ------------------------------------------ */

int
sl_t_try_connect(int port)
{
    struct sockaddr_in  sin;
    int                 s, err;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((in_port_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s == -1) {
        return -1;
    }

    if (connect(s, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        err = errno;
        (void) close(s);
        errno = err;
        return -1;
    }

    return s;
}


static int
sl_t_cond_refused(void *data)
{
    int  *port = data, s;

    s = sl_t_try_connect(*port);
    if (s != -1) {
        (void) close(s);
        return 0;
    }

    return errno == ECONNREFUSED;
}


void
sl_t_wait_refused_at(const char *file, int line, int port, int ms)
{
    if (sl_t_wait_for(sl_t_cond_refused, &port, NULL, ms) != 0) {
        sl_t_m_fail(file, line, "port %d still accepts after %d ms", port,
                    sl_t_timeout(ms));
    }
}


/* waits for fd to be ready for events until deadline; 0 at the deadline */
static int
sl_t_m_poll(int fd, short events, long long deadline)
{
    struct pollfd  pfd;
    long long      left;

    for ( ;; ) {
        left = deadline - sl_t_msec();
        if (left <= 0) {
            return 0;
        }

        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;

        if (poll(&pfd, 1, (int) left) > 0) {
            return 1;
        }
    }
}


/*
 * Reads exactly len bytes: len; less: the end came first (*why says
 * which). Plain system calls only: the traffic clients use it too.
 */
static size_t
sl_t_recv_n(int fd, char *buf, size_t len, long long deadline,
    const char **why)
{
    size_t   got = 0;
    ssize_t  n;

    *why = NULL;

    while (got < len) {
        if (!sl_t_m_poll(fd, POLLIN, deadline)) {
            *why = "timed out";
            return got;
        }

        n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }

        if (n <= 0) {
            *why = n == 0 ? "end of stream" : strerror(errno);
            return got;
        }

        got += (size_t) n;
    }

    return got;
}


static int
sl_t_send_n(int fd, const char *buf, size_t len, long long deadline,
    const char **why)
{
    ssize_t  n;

    *why = NULL;

    while (len > 0) {
        if (!sl_t_m_poll(fd, POLLOUT, deadline)) {
            *why = "timed out";
            return -1;
        }

        n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }

        if (n <= 0) {
            *why = strerror(errno);
            return -1;
        }

        buf += n;
        len -= (size_t) n;
    }

    return 0;
}


static void
sl_t_pattern(char *buf, size_t len, unsigned seed)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (char) (seed >> 16);
    }
}


void
sl_t_echo_round_at(const char *file, int line, int fd, size_t len, int ms)
{
    long long    deadline = sl_t_msec() + sl_t_timeout(ms);
    const char  *why;
    size_t       got, i;
    char        *out, *in;

    out = sl_t_printf("%*s", (int) len, "");
    in = sl_t_printf("%*s", (int) len, "");
    sl_t_pattern(out, len, (unsigned) len * 7919u + (unsigned) fd);

    if (sl_t_send_n(fd, out, len, deadline, &why) != 0) {
        sl_t_m_fail(file, line, "echo of %zu bytes: send: %s", len, why);
    }

    got = sl_t_recv_n(fd, in, len, deadline, &why);
    if (got != len) {
        sl_t_m_fail(file, line, "echo of %zu bytes: %zu came back, then %s",
                    len, got, why);
    }

    for (i = 0; i < len; i++) {
        if (in[i] != out[i]) {
            sl_t_m_fail(file, line, "echo of %zu bytes: byte %zu is wrong",
                        len, i);
        }
    }
}


char *
sl_t_ask_at(const char *file, int line, int port, int ms)
{
    long long    deadline = sl_t_msec() + sl_t_timeout(ms);
    const char  *why;
    char         buf[4096];
    size_t       got;
    int          s;

    s = sl_t_try_connect(port);
    if (s == -1) {
        sl_t_m_fail(file, line, "connect to port %d: %s", port,
                    strerror(errno));
    }

    got = sl_t_recv_n(s, buf, sizeof(buf) - 1, deadline, &why);
    (void) close(s);

    if (why == NULL || strcmp(why, "end of stream") != 0) {
        sl_t_m_fail(file, line, "port %d: %zu bytes, then %s", port, got,
                    why ? why : "more than we read");
    }

    return sl_t_printf("%.*s", (int) got, buf);
}


/* --- the traffic driver -------------------------------------------------- */

/* in a client: the first failure is described, every one is counted */
static void
sl_t_client_failed(sl_t_shared_t *sh, int id, long seq, const char *fmt,
    ...)
{
    va_list  args;
    size_t   n;
    int      zero = 0;

    atomic_fetch_add(&sh->failed, 1);

    if (!atomic_compare_exchange_strong(&sh->error_set, &zero, 1)) {
        return;
    }

    (void) snprintf(sh->error, sizeof(sh->error), "client %d, session %ld: ",
                    id, seq);
    n = strlen(sh->error);

    va_start(args, fmt);
    (void) vsnprintf(sh->error + n, sizeof(sh->error) - n, fmt, args);
    va_end(args);
}


static unsigned
sl_t_mix(int id, long seq, int round)
{
    unsigned  h = 2166136261u;

    h = (h ^ (unsigned) id) * 16777619u;
    h = (h ^ (unsigned) seq) * 16777619u;
    h = (h ^ (unsigned) round) * 16777619u;
    return h ^ (h >> 15);
}


static int
sl_t_client_connect(sl_t_shared_t *sh, int id, long seq)
{
    int  s;

    s = sl_t_try_connect(sh->port);
    if (s == -1) {
        if (errno == ECONNREFUSED) {
            atomic_fetch_add(&sh->refused, 1);
        } else {
            sl_t_client_failed(sh, id, seq, "connect: %s", strerror(errno));
        }
    }

    return s;
}


/* a few round trips, then a half-close answered by the end of stream */
static void
sl_t_client_echo(sl_t_shared_t *sh, int id, long seq)
{
    static char   out[SL_T_M_MSG], in[SL_T_M_MSG];
    long long     deadline, total = 0;
    const char   *why;
    unsigned      h;
    size_t        len, got, i;
    int           s, r, rounds;

    s = sl_t_client_connect(sh, id, seq);
    if (s == -1) {
        return;
    }

    rounds = 1 + (int) (seq % 4);

    for (r = 0; r < rounds; r++) {
        h = sl_t_mix(id, seq, r);
        len = 1 + h % SL_T_M_MSG;
        sl_t_pattern(out, len, h);
        deadline = sl_t_msec() + sh->io_ms;

        if (sl_t_send_n(s, out, len, deadline, &why) != 0) {
            sl_t_client_failed(sh, id, seq, "round %d: send: %s", r, why);
            goto done;
        }

        got = sl_t_recv_n(s, in, len, deadline, &why);
        if (got != len) {
            sl_t_client_failed(sh, id, seq, "round %d: %zu of %zu bytes "
                               "came back, then %s", r, got, len, why);
            goto done;
        }

        for (i = 0; i < len && in[i] == out[i]; i++) {
            /* void */
        }

        if (i < len) {
            sl_t_client_failed(sh, id, seq, "round %d: byte %zu of %zu is "
                               "wrong", r, i, len);
            goto done;
        }

        total += (long long) len;
    }

    /* our end of stream; the server's must follow, and nothing else */
    if (shutdown(s, SHUT_WR) == -1) {
        sl_t_client_failed(sh, id, seq, "shutdown: %s", strerror(errno));
        goto done;
    }

    got = sl_t_recv_n(s, in, 1, sl_t_msec() + sh->io_ms, &why);
    if (got != 0 || why == NULL || strcmp(why, "end of stream") != 0) {
        sl_t_client_failed(sh, id, seq, "after the half-close: %s",
                           got ? "more bytes" : why);
        goto done;
    }

    atomic_fetch_add(&sh->sessions, 1);
    atomic_fetch_add(&sh->bytes, total);

done:
    (void) close(s);
}


static void
sl_t_client_pid(sl_t_shared_t *sh, int id, long seq)
{
    const char  *why;
    char         buf[64];
    size_t       got;
    long         pid;
    int          s, i, zero;

    s = sl_t_client_connect(sh, id, seq);
    if (s == -1) {
        return;
    }

    got = sl_t_recv_n(s, buf, sizeof(buf) - 1, sl_t_msec() + sh->io_ms,
                      &why);
    (void) close(s);

    buf[got] = '\0';
    pid = strtol(buf, NULL, 10);

    if (why == NULL || strcmp(why, "end of stream") != 0 || pid <= 0) {
        sl_t_client_failed(sh, id, seq, "read \"%s\", then %s", buf,
                           why ? why : "no end");
        return;
    }

    for (i = 0; i < SL_T_MAX_PIDS; i++) {
        zero = 0;
        if (atomic_load(&sh->pids[i]) == (int) pid
            || atomic_compare_exchange_strong(&sh->pids[i], &zero,
                                              (int) pid))
        {
            break;
        }
    }

    atomic_fetch_add(&sh->sessions, 1);
}


/* the body of a client process: plain system calls only */
static void
sl_t_client(void *data)
{
    sl_t_shared_t  *sh = data;
    long            seq;
    int             id;

    id = atomic_fetch_add(&sh->next_id, 1);

    for (seq = 0; !atomic_load(&sh->stop); seq++) {
        if (sh->mode == SL_T_ECHO) {
            sl_t_client_echo(sh, id, seq);
        } else {
            sl_t_client_pid(sh, id, seq);
        }
    }
}


sl_t_traffic_t *
sl_t_traffic_start_at(const char *file, int line, int port,
    sl_t_traffic_mode_e mode, int clients)
{
    sl_t_traffic_t  *t;
    void            *p;
    int              i;

    sl_t_master_setup();

    if (clients < 1 || clients > SL_T_M_CLIENTS) {
        sl_t_m_fail(file, line, "%d clients: 1 to %d", clients,
                    SL_T_M_CLIENTS);
    }

    t = calloc(1, sizeof(sl_t_traffic_t));
    p = mmap(NULL, sizeof(sl_t_shared_t), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == NULL || p == MAP_FAILED) {
        free(t);
        sl_t_m_fail(file, line, "traffic: out of memory");
    }

    t->sh = p;
    t->sh->port = port;
    t->sh->mode = mode;
    t->sh->io_ms = sl_t_timeout(SL_T_M_IO_MS);
    t->clients = clients;
    t->next = sl_t_traffics;
    sl_t_traffics = t;

    for (i = 0; i < clients; i++) {
        t->proc[i] = sl_t_fork(sl_t_client, t->sh);
    }

    return t;
}


void
sl_t_traffic_counts(sl_t_traffic_t *t, sl_t_counts_t *out)
{
    int  i, pid;

    memset(out, 0, sizeof(*out));
    out->sessions = atomic_load(&t->sh->sessions);
    out->refused = atomic_load(&t->sh->refused);
    out->failed = atomic_load(&t->sh->failed);
    out->bytes = atomic_load(&t->sh->bytes);

    for (i = 0; i < SL_T_MAX_PIDS; i++) {
        pid = atomic_load(&t->sh->pids[i]);
        if (pid != 0) {
            out->pids.pid[out->pids.n++] = pid;
        }
    }

    if (atomic_load(&t->sh->error_set)) {
        (void) snprintf(out->error, sizeof(out->error), "%s", t->sh->error);
    }
}


char *
sl_t_counts_text(const sl_t_counts_t *c)
{
    return sl_t_printf("sessions %ld, refused %ld, failed %ld, bytes %lld%s"
                       "%s", c->sessions, c->refused, c->failed, c->bytes,
                       c->error[0] ? "; first error: " : "", c->error);
}


typedef struct {
    sl_t_traffic_t  *t;
    long             want;
} sl_t_traffic_cond_t;


static int
sl_t_cond_traffic(void *data)
{
    sl_t_traffic_cond_t  *c = data;

    return atomic_load(&c->t->sh->sessions) >= c->want;
}


void
sl_t_traffic_wait_at(const char *file, int line, sl_t_traffic_t *t, long n,
    int ms)
{
    sl_t_traffic_cond_t  c = { t, atomic_load(&t->sh->sessions) + n };
    sl_t_counts_t        counts;

    if (sl_t_wait_for(sl_t_cond_traffic, &c, NULL, ms) != 0) {
        sl_t_traffic_counts(t, &counts);
        sl_t_m_fail(file, line, "traffic: not %ld more sessions in %d ms: "
                    "%s", n, sl_t_timeout(ms), sl_t_counts_text(&counts));
    }
}


void
sl_t_traffic_stop_at(const char *file, int line, sl_t_traffic_t *t,
    sl_t_counts_t *out)
{
    int  i, status;

    atomic_store(&t->sh->stop, 1);

    for (i = 0; i < t->clients; i++) {
        /* a session's every step is bounded by io_ms */
        status = sl_t_wait_exit_at(file, line, t->proc[i],
                                   SL_T_M_IO_MS * 4);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            sl_t_m_fail(file, line, "traffic client %d %s", i,
                        sl_t_status_text(status));
        }
    }

    sl_t_traffic_counts(t, out);
}
