/*
 * sl_t_master.h -- tests of sluice's process model: a master with its
 * workers, started in the foreground or as a daemon; the processes it
 * runs, their descriptors and memory as /proc shows them; waits for log
 * lines; and a traffic driver that keeps echo sessions going while a test
 * reloads, upgrades or stops the server, and checks every byte.
 *
 * Install sl_t_master_fixture(tc) in every TCase that uses it, instead of
 * sl_t_fixture() (which it installs too). Its teardown, and an atexit()
 * handler for a test that fails in a forked Check child, kill every
 * process the test left: the test process is a child subreaper
 * (sl_proc.h), so a master's workers, a daemonized master and the new
 * master of a binary upgrade all end up as its children once their
 * parents are gone; they are killed parents first, so that no master is
 * left to respawn a worker, until no child is left.
 *
 * Linux only: it reads /proc. Timeouts are in milliseconds, scaled by
 * CK_TIMEOUT_MULTIPLIER. Memory is sl_proc's, freed at teardown.
 */
#ifndef SL_T_MASTER_H
#define SL_T_MASTER_H

#include <stddef.h>
#include <sys/types.h>

#include "sl_proc.h"

#define SL_T_MAX_PIDS  64

typedef struct {
    sl_t_proc_t  *proc;         /* the master, as a process we track */
    pid_t         master;
    int           workers;      /* how many the configuration asks for */
    char         *workers_arg;  /* what worker_processes says: N, auto */
    int           daemon;
    char         *dir;          /* the prefix */
    char         *conf;         /* its conf/t.conf */
    char         *log;          /* its logs/error.log */
    char         *pid_file;     /* its logs/sluice.pid */
    int           port;         /* what "@PORT@" became */
    int           port2;        /* what "@PORT2@" became */
    int           killed;       /* workers the test killed on purpose */
} sl_t_master_t;

typedef struct {
    int           n;
    pid_t         pid[SL_T_MAX_PIDS];
} sl_t_pids_t;

void sl_t_master_fixture(TCase *tc);
/* a TCase of s with that fixture and timeout (seconds) */
TCase *sl_t_master_tcase(Suite *s, const char *name, double timeout);

/*
 * Starts sluice in a fresh prefix with conf/t.conf made of: "daemon
 * on|off; master_process on; worker_processes N;" (N < 1: "auto", which
 * expects as many workers as there are online CPUs), "error_log
 * logs/error.log info; pid logs/sluice.pid;", then conf with "@PORT@" and
 * "@PORT2@" replaced by two free TCP ports and "@DIR@" by the prefix.
 * Returns once the pid file names the master (with daemon off: the
 * process started) and the master has N workers, each up (see
 * sl_t_wait_workers()). A port taken in the meantime makes it try again
 * with others. The prefix is mode 0711, so that workers running as
 * another user (nobody) can reach what the test puts in it.
 */
#define sl_t_master_start(m, workers, daemon, conf)                           \
    sl_t_master_start_at(__FILE__, __LINE__, m, workers, daemon, conf)

/*
 * Only the prefix, the ports and conf/t.conf, for a test that starts
 * sluice itself (sluice -p m->dir -c conf/t.conf).
 */
void sl_t_master_prepare(sl_t_master_t *m, int workers, int daemon,
    const char *conf);

/* the configuration file again, with the same head and ports */
void sl_t_master_conf(sl_t_master_t *m, const char *conf);
/* conf with @PORT@, @PORT2@, @DIR@ replaced as at the start */
char *sl_t_master_subst(sl_t_master_t *m, const char *conf);

/* the processes whose parent is pid (zombies excluded) */
void sl_t_children(pid_t pid, sl_t_pids_t *out);
#define sl_t_workers(m, out)  sl_t_children((m)->master, out)
int sl_t_pids_has(const sl_t_pids_t *set, pid_t pid);
/* is pid alive (not a zombie)? */
int sl_t_alive(pid_t pid);

/*
 * Waits until the master has exactly its number of workers besides those
 * in old (which may be NULL; they may still run, finishing sessions), and
 * each of them is up: it has logged its "using the "epoll" event method"
 * line to m->log, which it does once its user, limits, CPUs and directory
 * are set. Returns them in out (may be NULL). Fails the test at the
 * timeout, saying what it saw.
 */
#define sl_t_wait_workers(m, old, out, ms)                                    \
    sl_t_wait_workers_at(__FILE__, __LINE__, m, old, out, ms)
/* until no pid of set is alive */
#define sl_t_wait_dead(set, ms)  sl_t_wait_dead_at(__FILE__, __LINE__, set, ms)

/*
 * HUP, then waits for a whole new set of workers and for the old ones to
 * be gone; the new set in out (may be NULL).
 */
#define sl_t_master_reload(m, out, ms)                                        \
    sl_t_master_reload_at(__FILE__, __LINE__, m, out, ms)

/*
 * The master exits by itself: with status 0 (unless it is an adopted
 * daemon, whose status is not ours to see), workers gone, the pid file
 * removed, and no worker exit in the log that was not clean but those the
 * test killed (m->killed). Fails the test otherwise.
 */
#define sl_t_master_expect_exit(m, workers, ms)                               \
    sl_t_master_expect_exit_at(__FILE__, __LINE__, m, workers, ms)

/* the open descriptors of pid; its "VmRSS", "VmData"... in kB; -1: gone */
int sl_t_fd_count(pid_t pid);
long sl_t_vm_kb(pid_t pid, const char *field);

/* the field ("Uid", "Cpus_allowed_list"...) of /proc/PID/status */
char *sl_t_proc_status(pid_t pid, const char *field);
/*
 * SIGSTOP to pid, back once it is stopped (out of its epoll_wait(), so
 * that another worker takes what comes next); fails the test after ms.
 */
void sl_t_stop_process(pid_t pid, int ms);

/*
 * The number of established TCP connections whose local port is port and
 * whose socket pid holds (/proc/net/tcp{,6} against /proc/PID/fd).
 */
int sl_t_conns_of(pid_t pid, int port);
/* the number of TCP sockets listening on port (0A in /proc/net/tcp) */
int sl_t_listeners(int port);

/*
 * Error log lines: the first line at level (NULL: any) containing text,
 * or NULL; how many such lines; waiting until there are at least n of
 * them (fails the test at the timeout, showing the log).
 */
const char *sl_t_log_has(const char *log, const char *level,
    const char *text);
int sl_t_log_count(const char *log, const char *level, const char *text);
/* how many times needle (not empty) is in text (NULL: none), not overlapping */
int sl_t_count(const char *text, const char *needle);
#define sl_t_wait_log(path, level, text, n, ms)                               \
    sl_t_wait_log_at(__FILE__, __LINE__, path, level, text, n, ms)

/*
 * How many worker exits the master logged as not clean: "exited on signal
 * N" or "exited with code N" but 0 (a sanitizer's report ends a worker
 * with a code of its own).
 */
int sl_t_bad_exits(const char *log);

/* connect to 127.0.0.1:port; -1 and errno when it fails */
int sl_t_try_connect(int port);
/* until a connection to 127.0.0.1:port is refused */
#define sl_t_wait_refused(port, ms)                                           \
    sl_t_wait_refused_at(__FILE__, __LINE__, port, ms)

/* one echo round trip of len bytes on fd, checked; fails the test */
#define sl_t_echo_round(fd, len, ms)                                          \
    sl_t_echo_round_at(__FILE__, __LINE__, fd, len, ms)

/* all a "return" server on 127.0.0.1:port says before it closes */
#define sl_t_ask(port, ms)  sl_t_ask_at(__FILE__, __LINE__, port, ms)


/* --- the traffic driver -------------------------------------------------- */

typedef struct sl_t_traffic_s  sl_t_traffic_t;

typedef enum {
    /*
     * Echo sessions on 127.0.0.1:port, each a few round trips of up to
     * 3000 bytes, every byte compared, then a half-close that the server
     * must answer with its own end of stream.
     */
    SL_T_ECHO = 0,
    /* one read to the end per connection: a number, a pid, kept */
    SL_T_PIDS
} sl_t_traffic_mode_e;

typedef struct {
    long          sessions;     /* completed with every byte right */
    long          refused;      /* connect() refused */
    long          failed;       /* anything else that went wrong */
    long long     bytes;        /* echoed and checked */
    sl_t_pids_t   pids;         /* SL_T_PIDS: the distinct numbers read */
    char          error[256];   /* the first failure, described */
} sl_t_counts_t;

/* clients processes working at once */
#define sl_t_traffic_start(port, mode, clients)                               \
    sl_t_traffic_start_at(__FILE__, __LINE__, port, mode, clients)
void sl_t_traffic_counts(sl_t_traffic_t *t, sl_t_counts_t *out);
/* until n more sessions have completed than at the call; fails the test */
#define sl_t_traffic_wait(t, n, ms)                                           \
    sl_t_traffic_wait_at(__FILE__, __LINE__, t, n, ms)
/* ends every client after its current session; the final counts */
#define sl_t_traffic_stop(t, out)                                             \
    sl_t_traffic_stop_at(__FILE__, __LINE__, t, out)
/* "sessions N, refused N, failed N, bytes N; first error: ..." */
char *sl_t_counts_text(const sl_t_counts_t *c);


/* --- what the macros call ------------------------------------------------ */

void sl_t_master_start_at(const char *file, int line, sl_t_master_t *m,
    int workers, int daemon, const char *conf);
void sl_t_wait_workers_at(const char *file, int line, sl_t_master_t *m,
    const sl_t_pids_t *old, sl_t_pids_t *out, int ms);
void sl_t_wait_dead_at(const char *file, int line, const sl_t_pids_t *set,
    int ms);
void sl_t_master_expect_exit_at(const char *file, int line,
    sl_t_master_t *m, const sl_t_pids_t *workers, int ms);
void sl_t_master_reload_at(const char *file, int line, sl_t_master_t *m,
    sl_t_pids_t *out, int ms);
void sl_t_wait_log_at(const char *file, int line, const char *path,
    const char *level, const char *text, int n, int ms);
void sl_t_wait_refused_at(const char *file, int line, int port, int ms);
void sl_t_echo_round_at(const char *file, int line, int fd, size_t len,
    int ms);
char *sl_t_ask_at(const char *file, int line, int port, int ms);
sl_t_traffic_t *sl_t_traffic_start_at(const char *file, int line, int port,
    sl_t_traffic_mode_e mode, int clients);
void sl_t_traffic_wait_at(const char *file, int line, sl_t_traffic_t *t,
    long n, int ms);
void sl_t_traffic_stop_at(const char *file, int line, sl_t_traffic_t *t,
    sl_t_counts_t *out);

#endif /* SL_T_MASTER_H */
