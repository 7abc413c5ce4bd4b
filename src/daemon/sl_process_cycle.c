/*
 * sl_process_cycle.c -- the single process, the master and the workers:
 * their cycles, what wakes them (signals, the master's timer), HUP and
 * USR1, and the accept mutex. Spawning and reaping workers is
 * sl_process_spawn.c's, a binary upgrade sl_process_upgrade.c's, and what
 * a process sets about itself before it serves sl_process_setup.c's: this
 * file makes no fork() or execve() call of its own, and never changes the
 * process's user or limits, nor builds an environment.
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
#include "sl_process_master.h"
#include "sl_shmem.h"

extern char  **environ;

#define SL_SHM_SIZE           4096
/* a fast stop: TERM again after this many ms, doubled each time, KILL after
 * a second */
#define SL_TERMINATE_DELAY    50
#define SL_TERMINATE_KILL     1000

static int sl_single_process_cycle(sl_master_t *m);
static int sl_master_process_cycle(sl_master_t *m);
static sl_int_t sl_master_wake(sl_master_t *m);
static int sl_master_exit(sl_master_t *m);
static void sl_master_exit_sockets(sl_master_t *m);
static sl_int_t sl_master_reconfigure(sl_master_t *m);
static void sl_master_reopen(sl_master_t *m);
static void sl_master_accept_mutex(sl_master_t *m);
static void sl_master_forget_cycle(sl_cycle_t *old);
static void sl_worker_accept(sl_master_t *m, sl_event_loop_t *loop);
static sl_int_t sl_serve(sl_event_loop_t *loop, sl_uint_t single);

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
    sl_master_release_zones(m);
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

    if (sl_workers_create(m) != SL_OK) {
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
void
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

/* --- HUP, USR1 ----------------------------------------------------------- */

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
    sl_uint_t    from;
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
    from = m->cycle_from;
    m->generation++;
    m->cycle_from = m->generation;
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
     * The old cycle's zones stay mapped here while they run, so that a
     * lock one of them dies holding can be freed, also in a zone the new
     * cycle did not keep (sl_process_zones.c).
     */
    sl_master_hold_zones(m, old, from, m->generation - 1);
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

int
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

    /* the old generations' zones are the master's to watch, not ours */
    sl_master_release_zones(m);

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
