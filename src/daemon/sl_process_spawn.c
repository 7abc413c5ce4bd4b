/*
 * sl_process_spawn.c -- the master's workers: the table of them, forking
 * each (worker n of the current generation), signalling them, reaping
 * them (waitpid), and starting again those that died or could not be
 * started, on a timer less and less often.
 *
 * It only forks: what a worker then does is sl_worker_process_cycle()'s
 * (sl_process_cycle.c). It must never exec, nor change the process's
 * user, limits or environment (sl_process_setup.c), nor take decisions
 * about signals the master received: it does what the master's cycle
 * asks.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_process.h"
#include "sl_process_cycle.h"
#include "sl_process_master.h"
#include "sl_shmem.h"

#include <sys/wait.h>

#ifndef SL_MAX_PROCESSES
/* the table of workers: every generation still running has its slots */
#define SL_MAX_PROCESSES      1024
#endif
/* workers that could not be started (fork() failed, the table was full):
 * tried again after this many ms, doubled each time up to the most */
#define SL_RESPAWN_DELAY      100
#define SL_RESPAWN_DELAY_MAX  5000

static sl_int_t sl_spawn_workers(sl_master_t *m);
static sl_int_t sl_spawn_worker(sl_master_t *m, sl_worker_t *w,
    sl_uint_t n);

/* the table of workers: every generation still running has its slots */
sl_int_t
sl_workers_create(sl_master_t *m)
{
    m->workers = sl_calloc(SL_MAX_PROCESSES * sizeof(sl_worker_t),
                           m->cycle->log);

    return m->workers != NULL ? SL_OK : SL_ERROR;
}

sl_int_t
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
sl_int_t
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
void
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
void
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

void
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

void
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
        sl_master_zones_unlock(m, pid);

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
sl_int_t
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

sl_uint_t
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
