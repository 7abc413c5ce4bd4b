/*
 * sl_process_cycle.c -- the single process, the master and the workers.
 *
 * Signals stay blocked all the time but where a process waits for them:
 * the master in sigsuspend(), a worker (or the single process) inside its
 * event loop's wait (loop->sigmask). The handlers only set the flags of
 * sl_process.c; everything is done here, between two waits.
 *
 * A forked worker returns all the way up to main() with its exit status,
 * so that it frees what it inherited as the master would: a leak checker
 * run over the whole process tree then sees no leak anywhere.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_process.h"
#include "sl_process_cycle.h"
#include "sl_shmem.h"

#include <grp.h>
#include <sched.h>
#include <sys/wait.h>

extern char  **environ;

#ifndef SL_MAX_PROCESSES
/* the table of workers: every generation still running has its slots */
#define SL_MAX_PROCESSES      1024
#endif
#define SL_SHM_SIZE           4096
/* a fast stop: TERM again after this many ms, doubled each time, KILL after
 * a second */
#define SL_TERMINATE_DELAY    50
#define SL_TERMINATE_KILL     1000
/* workers that could not be started (fork() failed, the table was full):
 * tried again after this many ms, doubled each time up to the most */
#define SL_RESPAWN_DELAY      100
#define SL_RESPAWN_DELAY_MAX  5000

typedef struct {
    pid_t          pid;
    sl_uint_t      worker;        /* its number: reuseport socket, CPU */
    sl_uint_t      generation;    /* the cycle it serves */
    unsigned       respawn:1;     /* start it again should it die */
    unsigned       exiting:1;     /* told to stop */
    unsigned       exited:1;
} sl_worker_t;

typedef struct {
    sl_cycle_t    *cycle;
    sl_cycle_t    *old_cycle;     /* during a reload: the one replaced */
    char *const   *argv;
    char          *binary;        /* argv[0] as resolved at start */
    char         **environ;       /* the environment sluice started with */
    sl_worker_t   *workers;
    sl_uint_t      nworkers;      /* slots in use */
    sl_uint_t      generation;    /* bumped by every reload */
    pid_t          new_binary;
    pid_t          parent;        /* the old master, for a new binary */
    sl_shm_t       shm;           /* the accept mutex lives there */
    sl_msec_t      delay;         /* a fast stop: until the next signal */
    sl_msec_t      respawn_delay; /* before the last try at missing workers */
    int            status;        /* in a worker: its exit status */
    unsigned       accept_mutex:1;    /* the workers take turns */
    unsigned       daemonized:1;
    unsigned       inherited:1;
    unsigned       noaccepting:1;     /* WINCH: no workers */
    unsigned       restart:1;         /* start the workers again */
    unsigned       quitting:1;
    unsigned       respawn_timer:1;   /* a try at missing workers is due */
    unsigned       retire:1;          /* a reload's old workers: they quit
                                         once a new one runs */
} sl_master_t;

static int sl_single_process_cycle(sl_master_t *m);
static int sl_master_process_cycle(sl_master_t *m);
static sl_int_t sl_master_wake(sl_master_t *m);
static int sl_master_exit(sl_master_t *m);
static void sl_master_exit_sockets(sl_master_t *m);
static void sl_master_timer(sl_master_t *m, sl_msec_t delay);
static sl_int_t sl_start_worker_processes(sl_master_t *m);
static sl_int_t sl_spawn_workers(sl_master_t *m);
static sl_int_t sl_master_respawn_timer(sl_master_t *m);
static void sl_master_check_workers(sl_master_t *m);
static sl_int_t sl_spawn_worker(sl_master_t *m, sl_worker_t *w,
    sl_uint_t n);
static void sl_signal_workers(sl_master_t *m, int signo, sl_uint_t old_only);
static void sl_reap_children(sl_master_t *m);
static sl_int_t sl_respawn_workers(sl_master_t *m);
static sl_uint_t sl_workers_alive(sl_master_t *m);
static sl_int_t sl_master_reconfigure(sl_master_t *m);
static void sl_master_reopen(sl_master_t *m);
static void sl_exec_new_binary(sl_master_t *m);
static void sl_master_accept_mutex(sl_master_t *m);
static int sl_worker_process_cycle(sl_master_t *m, sl_uint_t n);
static void sl_master_forget_cycle(sl_cycle_t *old);
static sl_int_t sl_worker_init(sl_master_t *m, sl_uint_t n);
static void sl_worker_accept(sl_master_t *m, sl_event_loop_t *loop);
static sl_int_t sl_serve(sl_event_loop_t *loop, sl_uint_t single);
static char **sl_environment(sl_pool_t *pool, sl_core_conf_t *ccf,
    char **from, char *extra);
static char *sl_resolve_binary(const char *argv0);

#define sl_ccf(cycle)                                                         \
    ((sl_core_conf_t *) sl_get_conf((cycle)->conf_ctx, sl_core_module))

/* --- starting ------------------------------------------------------------ */

static sl_int_t
sl_block_signals(sl_log_t *log)
{
    static const int  signals[] = {
        SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGQUIT, SIGWINCH,
        SIGCHLD, SIGALRM
    };
    sigset_t          set;
    sl_uint_t         i;

    sigemptyset(&set);
    for (i = 0; i < sl_nelems(signals); i++) {
        sigaddset(&set, signals[i]);
    }

    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "sigprocmask() failed");
        return SL_ERROR;
    }

    return sl_init_signals(log);
}

/* worker_rlimit_nofile, where set: in a worker, or the single process */
static void
sl_set_rlimit_nofile(sl_cycle_t *cycle, sl_core_conf_t *ccf)
{
    struct rlimit  rlmt;

    if (ccf->rlimit_nofile == SL_CONF_UNSET) {
        return;
    }

    rlmt.rlim_cur = (rlim_t) ccf->rlimit_nofile;
    rlmt.rlim_max = (rlim_t) ccf->rlimit_nofile;

    if (setrlimit(RLIMIT_NOFILE, &rlmt) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "setrlimit(RLIMIT_NOFILE, %i) failed",
                     ccf->rlimit_nofile);
    }
}

/*
 * Binds, detaches, writes the pid file. SL_DONE in the process that
 * started a daemon: it has nothing more to do; SL_ABORT there when the
 * daemon failed to start.
 */
static sl_int_t
sl_start(sl_master_t *m, sl_core_conf_t *ccf)
{
    sl_cycle_t     *cycle = m->cycle;
    sl_fd_t         ready = SL_INVALID_FILE;
    sl_int_t        rc;

    if (!ccf->master) {
        sl_set_rlimit_nofile(cycle, ccf);
    }

    if (sl_open_listening_sockets(cycle) != SL_OK) {
        return SL_ERROR;
    }

    /* a new binary runs where the old master did: it does not detach */
    if (ccf->daemon && !m->inherited) {
        rc = sl_daemonize(cycle->log, &ready);
        if (rc != SL_OK) {
            return rc;
        }
        sl_log_redirect_stderr(&cycle->new_log);
    }

    m->daemonized = ccf->daemon || m->inherited;

    if (sl_create_pidfile(&ccf->pid, cycle->log) != SL_OK) {
        if (ready != SL_INVALID_FILE) {
            close(ready);
        }
        return SL_ERROR;
    }

    /* the one who started a daemon learns that it is up, and exits 0 */
    sl_daemon_ready(&ready);

    cycle->log = &cycle->new_log;
    return SL_OK;
}

int
sl_process_start(sl_cycle_t *cycle, sl_cycle_t *init, char *const *argv)
{
    sl_core_conf_t  *ccf = sl_ccf(cycle);
    sl_master_t     *m;
    sl_int_t         rc;
    int              status;

    m = sl_calloc(sizeof(sl_master_t), cycle->log);
    if (m == NULL) {
        sl_destroy_cycle(cycle);
        return 1;
    }

    m->cycle = cycle;
    m->argv = argv;
    m->environ = environ;

    if (init->listening.nelts > 0) {
        /* a new binary: the old master's sockets, those still wanted */
        m->inherited = 1;
        m->parent = getppid();
        sl_listening_takeover(cycle, init);
        sl_close_listening_sockets(init);
    }

    if (sl_block_signals(cycle->log) != SL_OK) {
        rc = SL_ERROR;
    } else {
        rc = sl_start(m, ccf);
    }

    if (rc != SL_OK) {
        if (rc == SL_ERROR) {
            /* else the daemon owns the sockets (and a unix socket's file) */
            sl_close_listening_sockets(cycle);
        }
        sl_destroy_cycle(cycle);
        sl_free(m);
        return rc == SL_DONE ? 0 : 1;
    }

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, SL_VER " started");

    if (ccf->master) {
        status = sl_master_process_cycle(m);
    } else {
        status = sl_single_process_cycle(m);
    }

    /* the master's, a worker's or the single process's cycle */
    environ = m->environ;
    sl_shm_free(&m->shm, m->cycle->log);
    sl_destroy_cycle(m->cycle);
    sl_free(m->workers);
    free(m->binary);
    sl_free(m);
    return status;
}

/* a new configuration's pid file, in place of the old one when renamed */
static sl_int_t
sl_move_pidfile(sl_cycle_t *old, sl_cycle_t *cycle)
{
    sl_core_conf_t  *occf = sl_ccf(old), *ccf = sl_ccf(cycle);

    if (sl_str_eq(&occf->pid, &ccf->pid)) {
        return SL_OK;
    }

    if (sl_create_pidfile(&ccf->pid, old->log) != SL_OK) {
        return SL_ERROR;
    }

    sl_delete_pidfile(&occf->pid, old->log);
    return SL_OK;
}

/* --- one process --------------------------------------------------------- */

/*
 * A HUP with master_process off: the new configuration is read and
 * checked. Applying it while connections are open is the master's work
 * (new workers); a single process applies it only when it serves nothing.
 */
static sl_cycle_t *
sl_single_reconfigure(sl_cycle_t *cycle)
{
    sl_cycle_t  *next;

    sl_log_signal(cycle->log, SIGHUP, ", reconfiguring");
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "reconfiguring");

    next = sl_init_cycle(cycle);
    if (next == NULL) {
        sl_log_error(SL_LOG_ERR, cycle->log, 0, "the new configuration "
                     "was not loaded, the old one stays in force");
        return cycle;
    }

    if (cycle->listening.nelts > 0 || next->listening.nelts > 0) {
        sl_log_error(SL_LOG_WARN, cycle->log, 0, "the new configuration is "
                     "valid; with \"master_process off\" it takes effect "
                     "when sluice is restarted");
        sl_destroy_cycle(next);
        return cycle;
    }

    if (sl_move_pidfile(cycle, next) != SL_OK) {
        sl_destroy_cycle(next);
        return cycle;
    }

    next->log = &next->new_log;
    next->old_cycle = NULL;
    next->loop = cycle->loop;
    if (next->loop != NULL) {
        next->loop->cycle = next;
        next->loop->log = next->log;
        next->loop->time = &next->time;
    }
    sl_destroy_cycle(cycle);
    return next;
}

static int
sl_single_process_cycle(sl_master_t *m)
{
    sl_event_loop_t  *loop;
    sigset_t          empty;
    int               status = 0;

    loop = sl_event_loop_create(m->cycle);
    if (loop == NULL || sl_modules_init_process(m->cycle) != SL_OK) {
        status = 1;
        goto done;
    }

    sigemptyset(&empty);
    loop->sigmask = &empty;

    while (sl_serve(loop, 1) == SL_AGAIN) {
        sl_sig_reconfigure = 0;
        m->cycle = sl_single_reconfigure(m->cycle);
    }

    sl_modules_exit_process(m->cycle);

done:

    if (loop != NULL) {
        sl_event_loop_destroy(loop);
    }
    sl_close_listening_sockets(m->cycle);
    sl_delete_pidfile(&sl_ccf(m->cycle)->pid, m->cycle->log);
    return status;
}

/* --- serving: a worker, or the single process ---------------------------- */

static void
sl_shutdown_timer_handler(sl_event_t *ev)
{
    *(sl_uint_t *) ev->data = 1;
}

/* the sessions a worker_shutdown_timeout cuts short, in the log */
static void
sl_log_shutdown_timeout(sl_event_loop_t *loop)
{
    sl_connection_t  *c;
    sl_uint_t         i;

    for (i = 0; i < loop->connection_n; i++) {
        c = &loop->connections[i];
        if (c->fd != SL_INVALID_FILE && !c->read->accept) {
            sl_log_error(SL_LOG_INFO, c->log, 0, "shutdown timeout");
        }
    }
}

/*
 * The loop until TERM, or QUIT and the last session ended (or the
 * worker_shutdown_timeout). SL_AGAIN: a HUP in the single process.
 */
static sl_int_t
sl_serve(sl_event_loop_t *loop, sl_uint_t single)
{
    sl_cycle_t  *cycle;
    sl_event_t   timer;
    sl_uint_t    exiting = 0, timedout = 0;
    sl_msec_t    timeout;

    sl_memzero(&timer, sizeof(sl_event_t));
    timer.loop = loop;
    timer.handler = sl_shutdown_timer_handler;
    timer.data = &timedout;

    for ( ;; ) {
        cycle = loop->cycle;

        if (exiting && sl_event_connections_in_use(loop) == 0) {
            break;
        }

        sl_process_events_and_timers(loop);

        if (sl_sig_terminate || timedout) {
            if (timedout) {
                sl_log_shutdown_timeout(loop);
            }
            break;
        }

        if (sl_sig_quit && !exiting) {
            exiting = 1;
            sl_log_signal(cycle->log, SIGQUIT, ", shutting down");
            sl_log_error(SL_LOG_NOTICE, cycle->log, 0,
                         "gracefully shutting down");

            /* no more accepting: the master holds the sockets meanwhile */
            (void) sl_event_stop_accepting(loop);
            sl_close_listening_sockets(cycle);

            /* sessions idle now end (shutdown_idle), the others when idle */
            loop->exiting = 1;
            sl_close_idle_connections(loop);

            timeout = sl_ccf(cycle)->shutdown_timeout;
            if (timeout > 0) {
                timer.log = cycle->log;
                sl_add_timer(&timer, timeout);
            }
        }

        if (sl_sig_reconfigure) {
            if (single && !exiting) {
                return SL_AGAIN;
            }
            sl_sig_reconfigure = 0;
        }

        if (sl_sig_reopen) {
            sl_sig_reopen = 0;
            sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "reopening logs");
            sl_reopen_files(cycle);
        }
    }

    if (timer.timer_set) {
        sl_del_timer(&timer);
    }

    sl_log_error(SL_LOG_NOTICE, loop->cycle->log, 0, "exiting");
    return SL_OK;
}

/* --- the master ---------------------------------------------------------- */

static int
sl_master_process_cycle(sl_master_t *m)
{
    sigset_t   empty;
    sl_int_t   rc;

    m->workers = sl_calloc(SL_MAX_PROCESSES * sizeof(sl_worker_t),
                           m->cycle->log);
    if (m->workers == NULL) {
        return sl_master_exit(m);
    }

    m->binary = sl_resolve_binary(m->argv[0]);
    sl_master_accept_mutex(m);

    if (sl_start_worker_processes(m) == SL_DONE) {
        return m->status;
    }

    sl_master_check_workers(m);
    sigemptyset(&empty);

    for ( ;; ) {
        if (m->delay) {
            sl_master_timer(m, m->delay);
        }

        (void) sigsuspend(&empty);
        sl_time_update(&m->cycle->time);

        rc = sl_master_wake(m);
        if (rc == SL_DONE) {
            return m->status;           /* a worker's */
        }

        if (rc == SL_ABORT) {
            return sl_master_exit(m);
        }
    }
}

/* SIGALRM after delay ms: a fast stop's next step, or a try at workers */
static void
sl_master_timer(sl_master_t *m, sl_msec_t delay)
{
    struct itimerval  itv;

    sl_memzero(&itv, sizeof(itv));
    itv.it_value.tv_sec = (time_t) (delay / 1000);
    itv.it_value.tv_usec = (suseconds_t) (delay % 1000) * 1000;

    if (setitimer(ITIMER_REAL, &itv, NULL) == -1) {
        sl_log_error(SL_LOG_ALERT, m->cycle->log, errno,
                     "setitimer() failed");
    }
}

/* what the signals asked for; SL_ABORT: exit, SL_DONE: in a new worker */
static sl_int_t
sl_master_wake(sl_master_t *m)
{
    sl_log_t  *log = m->cycle->log;

    if (sl_sig_reap) {
        sl_sig_reap = 0;
        sl_log_signal(log, SIGCHLD, "");
        sl_reap_children(m);
    }

    if (!sl_workers_alive(m) && (sl_sig_terminate || sl_sig_quit)) {
        return SL_ABORT;
    }

    if (sl_sig_terminate) {
        if (m->delay == 0) {
            sl_log_signal(log, (int) sl_sig_terminate, ", exiting");
            sl_sig_alarm = 0;           /* a try at workers', not ours */
            m->delay = SL_TERMINATE_DELAY;
            sl_signal_workers(m, SIGTERM, 0);

        } else if (sl_sig_alarm) {
            sl_sig_alarm = 0;
            m->delay *= 2;
            sl_signal_workers(m, m->delay > SL_TERMINATE_KILL ? SIGKILL
                                                              : SIGTERM, 0);
        }
        return SL_OK;
    }

    if (sl_sig_quit) {
        if (!m->quitting) {
            m->quitting = 1;
            sl_log_signal(log, SIGQUIT, ", shutting down");
            sl_log_error(SL_LOG_NOTICE, log, 0, "gracefully shutting down");
            sl_signal_workers(m, SIGQUIT, 0);
            sl_master_exit_sockets(m);
        }
        return SL_OK;
    }

    if (sl_sig_reconfigure) {
        sl_sig_reconfigure = 0;
        if (sl_master_reconfigure(m) == SL_DONE) {
            return SL_DONE;
        }
    }

    if (m->restart) {
        m->restart = 0;
        if (sl_start_worker_processes(m) == SL_DONE) {
            return SL_DONE;
        }
    }

    if (sl_sig_alarm) {
        sl_sig_alarm = 0;
        if (sl_master_respawn_timer(m) == SL_DONE) {
            return SL_DONE;
        }
    }

    if (sl_respawn_workers(m) == SL_DONE) {
        return SL_DONE;
    }

    if (sl_sig_reopen) {
        sl_sig_reopen = 0;
        sl_log_signal(log, SIGUSR1, ", reopening");
        sl_master_reopen(m);
    }

    if (sl_sig_change_binary) {
        sl_sig_change_binary = 0;
        sl_log_signal(log, SIGUSR2, ", changing binary");
        sl_exec_new_binary(m);
    }

    if (sl_sig_noaccept) {
        sl_sig_noaccept = 0;

        if (!m->daemonized) {
            /* a terminal's window size changed, as like as not */
            sl_log_signal(log, SIGWINCH, "");

        } else {
            sl_log_signal(log, SIGWINCH, ", stop accepting connections");
            m->noaccepting = 1;
            sl_signal_workers(m, SIGQUIT, 0);
        }
    }

    sl_master_check_workers(m);
    return SL_OK;
}

/*
 * The listening sockets close with the master. With a new binary running,
 * they are its sockets too, and a unix socket's file is its file; the
 * sockets this master inherited are its own once the old master is gone.
 */
static void
sl_master_exit_sockets(sl_master_t *m)
{
    sl_listening_t  *ls = m->cycle->listening.elts;
    sl_uint_t        i, own;

    own = !m->inherited || getppid() != m->parent;

    for (i = 0; i < m->cycle->listening.nelts; i++) {
        if (m->new_binary) {
            ls[i].keep_file = 1;
        } else if (own) {
            ls[i].inherited = 0;
        }
    }

    sl_close_listening_sockets(m->cycle);
}

static int
sl_master_exit(sl_master_t *m)
{
    sl_core_conf_t  *ccf = sl_ccf(m->cycle);

    sl_delete_pidfile(m->new_binary ? &ccf->oldpid : &ccf->pid,
                      m->cycle->log);
    sl_master_exit_sockets(m);
    sl_log_error(SL_LOG_NOTICE, m->cycle->log, 0, "exit");
    return 0;
}

/* --- workers ------------------------------------------------------------- */

static sl_int_t
sl_start_worker_processes(sl_master_t *m)
{
    sl_log_error(SL_LOG_NOTICE, m->cycle->log, 0, "start worker processes");

    return sl_spawn_workers(m);
}

/* does worker number n of this generation run, or is it to be respawned? */
static sl_uint_t
sl_worker_present(sl_master_t *m, sl_uint_t n)
{
    sl_worker_t  *w;

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (w->generation == m->generation && w->worker == n && !w->exiting
            && (!w->exited || w->respawn))
        {
            return 1;
        }
    }

    return 0;
}

/* the workers that this generation still lacks */
static sl_uint_t
sl_workers_missing(sl_master_t *m)
{
    sl_uint_t  i, n, missing = 0;

    n = (sl_uint_t) sl_ccf(m->cycle)->worker_processes;

    for (i = 0; i < n; i++) {
        if (!sl_worker_present(m, i)) {
            missing++;
        }
    }

    return missing;
}

/* the slot of a worker that exited for good, or a new one; NULL: full */
static sl_worker_t *
sl_worker_slot(sl_master_t *m)
{
    sl_worker_t  *w;

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (w->exited && !w->respawn) {
            return w;
        }
    }

    if (m->nworkers == SL_MAX_PROCESSES) {
        sl_log_error(SL_LOG_ALERT, m->cycle->log, 0, "no more than %d "
                     "processes can be spawned", SL_MAX_PROCESSES);
        return NULL;
    }

    return &m->workers[m->nworkers++];
}

/*
 * A reload's old workers quit only once a worker of the new generation
 * runs: until then they are all that serves.
 */
static void
sl_retire_old_workers(sl_master_t *m)
{
    sl_worker_t  *w;

    if (!m->retire) {
        return;
    }

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (w->generation == m->generation && !w->exited && !w->exiting) {
            m->retire = 0;
            sl_signal_workers(m, SIGQUIT, 1);
            return;
        }
    }
}

/*
 * Starts the workers this generation lacks. The first that cannot be
 * started (fork() failed, the table is full) ends the round: the next
 * would fail as well. sl_master_check_workers() sets the next try.
 */
static sl_int_t
sl_spawn_workers(sl_master_t *m)
{
    sl_worker_t  *w;
    sl_uint_t     i, n;
    sl_int_t      rc;

    n = (sl_uint_t) sl_ccf(m->cycle)->worker_processes;

    for (i = 0; i < n; i++) {
        if (sl_worker_present(m, i)) {
            continue;
        }

        w = sl_worker_slot(m);
        if (w == NULL) {
            break;
        }

        rc = sl_spawn_worker(m, w, i);
        if (rc == SL_DONE) {
            return SL_DONE;
        }

        if (rc != SL_OK) {
            break;
        }
    }

    sl_retire_old_workers(m);
    return SL_OK;
}

/* SIGALRM, not for a fast stop: the try at the missing workers is due */
static sl_int_t
sl_master_respawn_timer(sl_master_t *m)
{
    sl_uint_t  retire = m->retire;

    if (!m->respawn_timer) {
        return SL_OK;
    }

    m->respawn_timer = 0;

    if (sl_sig_terminate || sl_sig_quit || m->noaccepting) {
        return SL_OK;
    }

    if (sl_spawn_workers(m) == SL_DONE) {
        return SL_DONE;
    }

    if (retire && !m->retire) {
        sl_log_error(SL_LOG_NOTICE, m->cycle->log, 0, "a worker process of "
                     "the new configuration runs, the old ones are shutting "
                     "down");
    }

    return SL_OK;
}

/*
 * Never fewer workers than asked for because a spawn failed: while some
 * are missing, they are tried again on a timer, less and less often.
 */
static void
sl_master_check_workers(sl_master_t *m)
{
    sl_uint_t  missing;

    if (sl_sig_terminate || sl_sig_quit || m->noaccepting) {
        return;
    }

    missing = sl_workers_missing(m);

    if (missing == 0) {
        m->respawn_delay = 0;
        return;
    }

    if (m->respawn_timer) {
        return;
    }

    m->respawn_delay = m->respawn_delay == 0
                       ? SL_RESPAWN_DELAY
                       : sl_min(m->respawn_delay * 2, SL_RESPAWN_DELAY_MAX);
    m->respawn_timer = 1;
    sl_master_timer(m, m->respawn_delay);

    sl_log_error(SL_LOG_NOTICE, m->cycle->log, 0, "worker processes "
                 "missing: %ui, trying again in %M ms", missing,
                 m->respawn_delay);
}

/* SL_DONE: this is the worker, and it has done its work */
static sl_int_t
sl_spawn_worker(sl_master_t *m, sl_worker_t *w, sl_uint_t n)
{
    pid_t  pid;

    pid = fork();

    switch (pid) {

    case -1:
        sl_log_error(SL_LOG_ALERT, m->cycle->log, errno, "fork() failed "
                     "while spawning \"worker process\"");
        w->exited = 1;
        w->respawn = 0;
        return SL_ERROR;

    case 0:
        m->status = sl_worker_process_cycle(m, n);
        return SL_DONE;

    default:
        break;
    }

    sl_log_error(SL_LOG_NOTICE, m->cycle->log, 0, "start worker process %i",
                 (sl_int_t) pid);

    w->pid = pid;
    w->worker = n;
    w->generation = m->generation;
    w->respawn = 1;
    w->exiting = 0;
    w->exited = 0;
    return SL_OK;
}

/* to every live worker, or to those of older cycles only */
static void
sl_signal_workers(sl_master_t *m, int signo, sl_uint_t old_only)
{
    sl_worker_t  *w;

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (w->exited || (old_only && w->generation == m->generation)) {
            continue;
        }

        if (signo == SIGQUIT || signo == SIGTERM || signo == SIGKILL) {
            w->exiting = 1;
            w->respawn = 0;
        }

        if (kill(w->pid, signo) == -1) {
            sl_log_error(SL_LOG_ALERT, m->cycle->log, errno,
                         "kill(%i, %d) failed", (sl_int_t) w->pid, signo);
        }
    }
}

static void
sl_log_exit_status(sl_master_t *m, const char *name, pid_t pid, int status,
    sl_uint_t expected)
{
    sl_log_t  *log = m->cycle->log;

    if (WIFSIGNALED(status)) {
        sl_log_error(SL_LOG_ALERT, log, 0, "%s %i exited on signal %d%s",
                     name, (sl_int_t) pid, WTERMSIG(status),
                     WCOREDUMP(status) ? " (core dumped)" : "");
        return;
    }

    sl_log_error(expected || WEXITSTATUS(status) == 0 ? SL_LOG_NOTICE
                                                      : SL_LOG_ALERT,
                 log, 0, "%s %i exited with code %d", name, (sl_int_t) pid,
                 WEXITSTATUS(status));
}

/* the new binary is gone: this master is the master again */
static void
sl_new_binary_exited(sl_master_t *m, int status)
{
    sl_core_conf_t  *ccf = sl_ccf(m->cycle);

    sl_log_exit_status(m, "new binary process", m->new_binary, status, 0);
    m->new_binary = 0;

    if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
        sl_log_error(SL_LOG_ALERT, m->cycle->log, errno, "rename() %V back "
                     "to %V failed after the new binary process \"%s\" "
                     "exited", &ccf->oldpid, &ccf->pid, m->binary);
    }

    if (m->noaccepting) {
        m->noaccepting = 0;
        m->restart = 1;
    }
}

static void
sl_reap_children(sl_master_t *m)
{
    sl_worker_t  *w;
    pid_t         pid;
    int           status;

    for ( ;; ) {
        pid = waitpid(-1, &status, WNOHANG);

        if (pid == 0) {
            return;
        }

        if (pid == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != ECHILD) {
                sl_log_error(SL_LOG_ALERT, m->cycle->log, errno,
                             "waitpid() failed");
            }
            return;
        }

        if (pid == m->new_binary) {
            sl_new_binary_exited(m, status);
            continue;
        }

        for (w = m->workers; w < m->workers + m->nworkers; w++) {
            if (w->pid == pid && !w->exited) {
                break;
            }
        }

        if (w == m->workers + m->nworkers) {
            continue;                   /* not ours: a reparented orphan */
        }

        sl_log_exit_status(m, "worker process", pid, status, w->exiting);
        w->exited = 1;

        /* a worker that died holding the accept mutex does not keep it */
        if (m->shm.addr != NULL
            && sl_shmtx_force_unlock((sl_shmtx_t *) m->shm.addr,
                                     (sl_uint_t) pid))
        {
            sl_log_error(SL_LOG_ALERT, m->cycle->log, 0, "the accept mutex "
                         "held by %i was unlocked", (sl_int_t) pid);
        }

        if (w->respawn && WIFEXITED(status)
            && WEXITSTATUS(status) == SL_FATAL_EXIT)
        {
            sl_log_error(SL_LOG_ALERT, m->cycle->log, 0, "worker process %i "
                         "exited with fatal code %d and cannot be respawned",
                         (sl_int_t) pid, SL_FATAL_EXIT);
            w->respawn = 0;
        }
    }
}

/* a worker that died unexpectedly is replaced, with the same number */
static sl_int_t
sl_respawn_workers(sl_master_t *m)
{
    sl_worker_t  *w;
    sl_int_t      rc;

    if (sl_sig_terminate || sl_sig_quit) {
        return SL_OK;
    }

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (!w->exited || !w->respawn || w->exiting) {
            continue;
        }

        rc = sl_spawn_worker(m, w, w->worker);
        if (rc == SL_DONE) {
            return SL_DONE;
        }
    }

    /* the slots at the end that nothing will use again */
    while (m->nworkers > 0 && m->workers[m->nworkers - 1].exited
           && !m->workers[m->nworkers - 1].respawn)
    {
        m->nworkers--;
    }

    return SL_OK;
}

static sl_uint_t
sl_workers_alive(sl_master_t *m)
{
    sl_worker_t  *w;

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (!w->exited) {
            return 1;
        }
    }

    return 0;
}

/* --- HUP, USR1, USR2 ----------------------------------------------------- */

/*
 * In a worker forked during a reload: the old cycle's sockets that the new
 * one did not take are not the worker's to keep open (or to unlink).
 */
static void
sl_master_forget_cycle(sl_cycle_t *old)
{
    sl_listening_t  *ls = old->listening.elts;
    sl_uint_t        i;

    for (i = 0; i < old->listening.nelts; i++) {
        ls[i].keep_file = 1;
    }

    sl_close_listening_sockets(old);
    sl_destroy_cycle(old);
}

static sl_int_t
sl_master_reconfigure(sl_master_t *m)
{
    sl_cycle_t  *old = m->cycle, *cycle;
    sl_int_t     rc;

    if (m->new_binary) {
        /* the old master takes over again from a new binary */
        sl_log_signal(old->log, SIGHUP, ", restarting workers");
        m->noaccepting = 0;
        m->generation++;
        return sl_start_worker_processes(m);
    }

    sl_log_signal(old->log, SIGHUP, ", reconfiguring");
    sl_log_error(SL_LOG_NOTICE, old->log, 0, "reconfiguring");

    cycle = sl_init_cycle(old);
    if (cycle == NULL) {
        goto failed;
    }

    sl_listening_takeover(cycle, old);

    if (sl_open_listening_sockets(cycle) != SL_OK
        || sl_move_pidfile(old, cycle) != SL_OK)
    {
        sl_listening_rollback(cycle);
        sl_destroy_cycle(cycle);
        goto failed;
    }

    cycle->log = &cycle->new_log;
    cycle->old_cycle = NULL;
    m->cycle = cycle;
    m->generation++;
    m->noaccepting = 0;
    sl_master_accept_mutex(m);

    m->old_cycle = old;
    m->retire = 1;
    rc = sl_start_worker_processes(m);
    m->old_cycle = NULL;

    if (rc == SL_DONE) {
        return SL_DONE;
    }

    if (m->retire) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "no worker process of the "
                     "new configuration could be started, the old worker "
                     "processes are kept until one is");
    }

    /*
     * The old workers finish their sessions once told to quit (by
     * sl_retire_old_workers()). What they listened on and the new cycle
     * did not take goes: those still serving have sockets of their own.
     */
    sl_close_listening_sockets(old);
    sl_destroy_cycle(old);
    return SL_OK;

failed:

    sl_log_error(SL_LOG_ERR, old->log, 0, "the new configuration was not "
                 "loaded, the old one stays in force");
    return SL_OK;
}

static void
sl_master_reopen(sl_master_t *m)
{
    sl_core_conf_t  *ccf = sl_ccf(m->cycle);
    uid_t            user = (uid_t) -1;
    sl_worker_t     *w;

    if (geteuid() == 0 && ccf->username.data != NULL) {
        user = ccf->user;
    }

    sl_log_error(SL_LOG_NOTICE, m->cycle->log, 0, "reopening logs");
    sl_reopen_files_for(m->cycle, user);

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (!w->exited && kill(w->pid, SIGUSR1) == -1) {
            sl_log_error(SL_LOG_ALERT, m->cycle->log, errno,
                         "kill(%i, %d) failed", (sl_int_t) w->pid, SIGUSR1);
        }
    }
}

/*
 * USR2: the pid file becomes NAME.oldbin, and the binary sluice was
 * started from runs again with the same arguments and the listening
 * sockets in SLUICE="fd;fd;...". Should it die, the pid file comes back.
 */
static void
sl_exec_new_binary(sl_master_t *m)
{
    sl_core_conf_t  *ccf = sl_ccf(m->cycle);
    sl_cycle_t      *cycle = m->cycle;
    sl_pool_t       *pool;
    sigset_t         empty;
    char           **env, *var;
    pid_t            pid;

    if (m->new_binary || (m->inherited && getppid() == m->parent)) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "the changing binary "
                     "signal is ignored: you should shutdown or terminate "
                     "before either old or new binary's process");
        return;
    }

    if (m->binary == NULL) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "the binary sluice was "
                     "started from is not known: \"%s\"", m->argv[0]);
        return;
    }

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "changing binary");

    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, cycle->log);
    if (pool == NULL) {
        return;
    }

    var = sl_listening_env(cycle, SL_INHERIT_VAR);
    env = var ? sl_environment(pool, ccf, m->environ, var) : NULL;
    if (env == NULL) {
        sl_destroy_pool(pool);
        return;
    }

    if (rename((char *) ccf->pid.data, (char *) ccf->oldpid.data) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "rename() %V to %V "
                     "failed before executing new binary process \"%s\"",
                     &ccf->pid, &ccf->oldpid, m->binary);
        sl_destroy_pool(pool);
        return;
    }

    pid = fork();

    switch (pid) {

    case -1:
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "fork() failed while "
                     "executing new binary process \"%s\"", m->binary);
        if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
            sl_log_error(SL_LOG_ALERT, cycle->log, errno, "rename() %V back "
                         "to %V failed", &ccf->oldpid, &ccf->pid);
        }
        break;

    case 0:
        sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);

        if (sl_listening_keep_on_exec(cycle) == SL_OK) {
            (void) execve(m->binary, m->argv, env);
        }

        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "execve() failed while "
                     "executing new binary process \"%s\"", m->binary);
        _exit(1);

    default:
        sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "start new binary process "
                     "%i", (sl_int_t) pid);
        m->new_binary = pid;
        break;
    }

    /* the memory of the variable is the cycle's: a few bytes a USR2 */
    sl_destroy_pool(pool);
}

/*
 * Shared sockets without EPOLLEXCLUSIVE would wake every worker for each
 * connection: unless "accept_mutex" says otherwise, the workers then take
 * turns (the accept mutex). With epoll and EPOLLEXCLUSIVE the kernel wakes
 * one, and the mutex is off unless asked for, as in nginx.
 */
static void
sl_master_accept_mutex(sl_master_t *m)
{
    sl_core_conf_t   *ccf = sl_ccf(m->cycle);
    sl_event_conf_t  *ecf;
    sl_listening_t   *ls = m->cycle->listening.elts;
    sl_uint_t         i, shared = 0, exclusive = 0;

    ecf = sl_event_get_conf(m->cycle->conf_ctx, sl_event_core_module);

    for (i = 0; i < m->cycle->listening.nelts; i++) {
        if (!ls[i].reuseport) {
            shared = 1;
        }
    }

#if (SL_HAVE_EPOLLEXCLUSIVE)
    exclusive = sl_str_eq_lit(&ecf->use, "epoll");
#endif

    m->accept_mutex = 0;

    if (!shared || ccf->worker_processes < 2 || ecf->accept_mutex == 0
        || (ecf->accept_mutex == SL_CONF_UNSET && exclusive))
    {
        return;
    }

    if (m->shm.addr == NULL) {
        m->shm.size = SL_SHM_SIZE;
        if (sl_shm_alloc(&m->shm, m->cycle->log) != SL_OK) {
            return;
        }
    }

    m->accept_mutex = 1;
}

/* --- a worker ------------------------------------------------------------ */

static int
sl_worker_process_cycle(sl_master_t *m, sl_uint_t n)
{
    sl_cycle_t       *cycle = m->cycle;
    sl_event_loop_t  *loop = NULL;
    sigset_t          empty;
    int               status = SL_FATAL_EXIT;

    /* what the master saw is the master's */
    sl_sig_reconfigure = 0;
    sl_sig_terminate = 0;
    sl_sig_quit = 0;
    sl_sig_reopen = 0;
    sl_sig_reap = 0;
    sl_sig_change_binary = 0;
    sl_sig_noaccept = 0;
    sl_sig_alarm = 0;

    if (m->old_cycle != NULL) {
        sl_master_forget_cycle(m->old_cycle);
        m->old_cycle = NULL;
    }

    sl_listening_for_worker(cycle, n);

    if (sl_worker_init(m, n) != SL_OK) {
        goto done;
    }

    loop = sl_event_loop_create(cycle);
    if (loop == NULL) {
        goto done;
    }

    sl_worker_accept(m, loop);

    if (sl_modules_init_process(cycle) != SL_OK) {
        goto done;
    }

    sigemptyset(&empty);
    loop->sigmask = &empty;

    (void) sl_serve(loop, 0);
    sl_modules_exit_process(cycle);
    status = 0;

done:

    if (loop != NULL) {
        sl_event_loop_destroy(loop);
    }

    sl_close_listening_sockets(cycle);
    return status;
}

/*
 * The shared listening sockets: EPOLLEXCLUSIVE, or the accept mutex, or
 * (one worker, or reuseport only) as they are.
 */
static void
sl_worker_accept(sl_master_t *m, sl_event_loop_t *loop)
{
    sl_core_conf_t   *ccf = sl_ccf(m->cycle);
    sl_event_conf_t  *ecf;

    if (ccf->worker_processes < 2) {
        return;
    }

    if (m->accept_mutex) {
        (void) sl_disable_accept_events(loop);
        ecf = sl_event_get_conf(m->cycle->conf_ctx, sl_event_core_module);
        loop->accept_mutex = (sl_shmtx_t *) m->shm.addr;
        loop->accept_mutex_delay = ecf->accept_mutex_delay;
        loop->accept_mutex_pid = (sl_uint_t) getpid();
        return;
    }

#if (SL_HAVE_EPOLLEXCLUSIVE)
    if (loop->flags & SL_USE_EPOLL_EVENT) {
        (void) sl_disable_accept_events(loop);
        loop->accept_flags = SL_EXCLUSIVE_EVENT;
        (void) sl_enable_accept_events(loop);
    }
#endif
}

static sl_int_t
sl_worker_user(sl_cycle_t *cycle, sl_core_conf_t *ccf)
{
    if (geteuid() != 0 || ccf->username.data == NULL) {
        return SL_OK;
    }

    if (setgid(ccf->group) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "setgid(%d) failed",
                     (int) ccf->group);
        return SL_ERROR;
    }

    if (initgroups((char *) ccf->username.data, ccf->group) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "initgroups(%V, %d) "
                     "failed", &ccf->username, (int) ccf->group);
        return SL_ERROR;
    }

    if (setuid(ccf->user) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "setuid(%d) failed",
                     (int) ccf->user);
        return SL_ERROR;
    }

    return SL_OK;
}

static void
sl_worker_affinity(sl_cycle_t *cycle, sl_core_conf_t *ccf, sl_uint_t n)
{
#if defined(__linux__)
    cpu_set_t  set;
    uint64_t   mask;
    int        i;

    mask = sl_get_cpu_affinity(ccf, n);
    if (mask == 0) {
        return;
    }

    CPU_ZERO(&set);

    for (i = 0; i < SL_MAX_CPU_AFFINITY; i++) {
        if (mask & ((uint64_t) 1 << i)) {
            sl_log_error(SL_LOG_NOTICE, cycle->log, 0,
                         "sched_setaffinity(): using cpu #%d", i);
            CPU_SET(i, &set);
        }
    }

    if (sched_setaffinity(0, sizeof(cpu_set_t), &set) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "sched_setaffinity() failed");
    }
#else
    sl_unused(cycle);
    sl_unused(ccf);
    sl_unused(n);
#endif
}

static sl_int_t
sl_worker_init(sl_master_t *m, sl_uint_t n)
{
    sl_cycle_t      *cycle = m->cycle;
    sl_core_conf_t  *ccf = sl_ccf(cycle);
    char           **env;

    env = sl_environment(cycle->pool, ccf, m->environ, NULL);
    if (env == NULL) {
        return SL_ERROR;
    }
    environ = env;

    if (ccf->priority != 0
        && setpriority(PRIO_PROCESS, 0, (int) ccf->priority) == -1)
    {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "setpriority(%i) failed", ccf->priority);
    }

    sl_set_rlimit_nofile(cycle, ccf);

    if (sl_worker_user(cycle, ccf) != SL_OK) {
        return SL_ERROR;
    }

    sl_worker_affinity(cycle, ccf, n);

    if (ccf->working_directory.len > 0
        && chdir((char *) ccf->working_directory.data) == -1)
    {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "chdir(\"%V\") failed",
                     &ccf->working_directory);
        return SL_ERROR;
    }

    return SL_OK;
}

/* --- the environment and the binary ------------------------------------- */

/* "NAME=..." of from, or NULL */
static char *
sl_getenv(char **from, const u_char *name, size_t len)
{
    for ( ; *from != NULL; from++) {
        if (strncmp(*from, (const char *) name, len) == 0
            && (*from)[len] == '=')
        {
            return *from;
        }
    }

    return NULL;
}

/*
 * The environment of a worker (and of a new binary, with extra): TZ and
 * what "env" lists, NAME taken from from, NAME=value as it is.
 */
static char **
sl_environment(sl_pool_t *pool, sl_core_conf_t *ccf, char **from,
    char *extra)
{
    sl_str_t   *var = ccf->env.elts;
    sl_uint_t   i, n = 0;
    u_char     *eq, *p;
    char      **env, *tz;

    env = sl_palloc(pool, (ccf->env.nelts + 3) * sizeof(char *));
    if (env == NULL) {
        return NULL;
    }

    tz = sl_getenv(from, (u_char *) "TZ", 2);
    if (tz != NULL) {
        env[n++] = tz;
    }

    for (i = 0; i < ccf->env.nelts; i++) {
        eq = memchr(var[i].data, '=', var[i].len);

        if (eq == NULL) {
            if (var[i].len == 2 && sl_strncmp(var[i].data, "TZ", 2) == 0) {
                continue;
            }

            env[n] = sl_getenv(from, var[i].data, var[i].len);
            if (env[n] != NULL) {
                n++;
            }
            continue;
        }

        p = sl_pnalloc(pool, var[i].len + 1);
        if (p == NULL) {
            return NULL;
        }
        sl_memcpy(p, var[i].data, var[i].len);
        p[var[i].len] = '\0';
        env[n++] = (char *) p;
    }

    if (extra != NULL) {
        env[n++] = extra;
    }

    env[n] = NULL;
    return env;
}

/* argv[0] as an absolute path: by itself, or found in PATH */
static char *
sl_resolve_binary(const char *argv0)
{
    const char  *path, *end;
    char         buf[PATH_MAX];
    int          len;

    if (strchr(argv0, '/') != NULL) {
        return realpath(argv0, NULL);
    }

    path = getenv("PATH");

    for ( ; path != NULL && *path != '\0'; path = *end ? end + 1 : end) {
        end = strchr(path, ':');
        if (end == NULL) {
            end = path + strlen(path);
        }

        len = snprintf(buf, sizeof(buf), "%.*s/%s", (int) (end - path),
                       path, argv0);
        if (len > 0 && (size_t) len < sizeof(buf) && access(buf, X_OK) == 0) {
            return realpath(buf, NULL);
        }
    }

    return realpath("/proc/self/exe", NULL);
}
