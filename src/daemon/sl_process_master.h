/*
 * sl_process_master.h -- the master's state, shared by the files of the
 * process model (src/daemon/sl_process_*.c) and by nothing else: the
 * table of workers, and the functions one of those files gives another.
 * sl_process_cycle.h is the daemon's entry; this header is not.
 */
#ifndef SL_PROCESS_MASTER_H
#define SL_PROCESS_MASTER_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_shmem.h"

typedef struct {
    pid_t          pid;
    sl_uint_t      worker;        /* its number: reuseport socket, CPU */
    sl_uint_t      generation;    /* the cycle it serves */
    unsigned       respawn:1;     /* start it again should it die */
    unsigned       exiting:1;     /* told to stop */
    unsigned       exited:1;
} sl_worker_t;

/* an old generation's zones, kept mapped for it (sl_process_zones.c) */
typedef struct sl_master_hold_s  sl_master_hold_t;

typedef struct {
    sl_cycle_t    *cycle;
    sl_cycle_t    *old_cycle;     /* during a reload: the one replaced */
    char *const   *argv;
    char          *binary;        /* argv[0] as resolved at start */
    char         **environ;       /* the environment sluice started with */
    sl_worker_t   *workers;
    sl_uint_t      nworkers;      /* slots in use */
    sl_uint_t      generation;    /* bumped by every reload */
    sl_uint_t      cycle_from;    /* the first generation of cycle */
    pid_t          new_binary;
    pid_t          parent;        /* the old master, for a new binary */
    sl_shm_t       shm;           /* the accept mutex lives there */
    sl_master_hold_t  *holds;     /* the old generations' zones */
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

#define sl_ccf(cycle)                                                         \
    ((sl_core_conf_t *) sl_get_conf((cycle)->conf_ctx, sl_core_module))

/* sl_process_cycle.c */

/* SIGALRM after delay ms: a fast stop's next step, or a try at workers */
void sl_master_timer(sl_master_t *m, sl_msec_t delay);
/* the life of worker n, forked a moment ago; returns its exit status */
int sl_worker_process_cycle(sl_master_t *m, sl_uint_t n);

/* sl_process_spawn.c: the workers */

sl_int_t sl_workers_create(sl_master_t *m);
/* SL_DONE: this is a worker, back from its cycle (its status in m) */
sl_int_t sl_start_worker_processes(sl_master_t *m);
sl_int_t sl_master_respawn_timer(sl_master_t *m);
sl_int_t sl_respawn_workers(sl_master_t *m);
void sl_master_check_workers(sl_master_t *m);
void sl_signal_workers(sl_master_t *m, int signo, sl_uint_t old_only);
void sl_reap_children(sl_master_t *m);
sl_uint_t sl_workers_alive(sl_master_t *m);
void sl_log_exit_status(sl_master_t *m, const char *name, pid_t pid,
    int status, sl_uint_t expected);

/* sl_process_upgrade.c: USR2 */

void sl_exec_new_binary(sl_master_t *m);
void sl_new_binary_exited(sl_master_t *m, int status);
/* argv[0] as an absolute path (malloc'ed), or NULL */
char *sl_resolve_binary(const char *argv0);

/* sl_process_zones.c */

/*
 * A reload replaced old, which the generations from ... to served, with
 * m->cycle: old's zones stay mapped while any of those workers runs.
 */
void sl_master_hold_zones(sl_master_t *m, sl_cycle_t *old, sl_uint_t from,
    sl_uint_t to);
/* worker pid was reaped: the zone locks it held are freed (and logged) */
void sl_master_zones_unlock(sl_master_t *m, pid_t pid);
/* every hold ends: at exit, and in a new worker, whose they are not */
void sl_master_release_zones(sl_master_t *m);

/* sl_process_setup.c */

/* worker_rlimit_nofile, where set: in a worker, or the single process */
void sl_set_rlimit_nofile(sl_cycle_t *cycle, sl_core_conf_t *ccf);
sl_int_t sl_worker_init(sl_master_t *m, sl_uint_t n);
/*
 * The environment of a worker (and of a new binary, with extra): TZ and
 * what "env" lists, NAME taken from from, NAME=value as it is.
 */
char **sl_environment(sl_pool_t *pool, sl_core_conf_t *ccf, char **from,
    char *extra);

#endif /* SL_PROCESS_MASTER_H */
