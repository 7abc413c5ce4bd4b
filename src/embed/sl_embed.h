/*
 * sl_embed.h -- the embedding layer's own view of an instance (sluice.h
 * is the host's): one bootstrap cycle, the cycle in force and those still
 * draining, one event loop, and what other threads hand to the loop (a
 * stop, posted functions, a new configuration) through a wake-up
 * descriptor.
 *
 * The layer sits on top of everything else and never acts on the process:
 * no signal disposition, mask (but the loop thread's SIGPIPE while it
 * runs), umask, cwd, rlimit, environment or pid file is touched here.
 */
#ifndef SL_EMBED_H
#define SL_EMBED_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sluice.h"

#include <pthread.h>
#include <stdatomic.h>


typedef struct sl_embed_post_s     sl_embed_post_t;
typedef struct sl_embed_retired_s  sl_embed_retired_t;
typedef struct sl_embed_reload_s   sl_embed_reload_t;

struct sl_embed_post_s {
    sl_embed_post_t   *next;
    void             (*fn)(sl_instance_t *in, void *arg);
    void              *arg;
};

/* a configuration replaced by a reload, freed when its sessions are done */
struct sl_embed_retired_s {
    sl_embed_retired_t  *next;
    sl_cycle_t          *cycle;
};

/* the states of an instance's loop */
typedef enum {
    SL_EMBED_IDLE = 0,     /* created, not run yet */
    SL_EMBED_SERVING,      /* run or run_once has begun */
    SL_EMBED_DONE          /* stopped and drained: runs no more */
} sl_embed_state_e;

struct sl_instance_s {
    void                  *data;            /* conf.data */

    sl_handler_reg_t      *handlers;        /* a copy, NULL-name ended */

    /* the bootstrap cycle: paths, and the log until a config is in force */
    sl_cycle_t             init;
    sl_log_t               boot_log;
    sl_open_file_t         boot_file;       /* its sink: capture + host */
    sl_open_file_t         host_file;       /* the host's log, if any */
    sl_log_pt              host_log;
    void                  *host_log_data;
    sl_uint_t              host_log_level;
    /* where create or reload wants the first error's text */
    char                  *err;
    size_t                 errlen;

    sl_cycle_t            *cycle;           /* in force */
    sl_embed_retired_t    *retired;
    sl_event_loop_t       *loop;
    sl_log_t               wake_log;        /* outlives every cycle */

    sl_connection_t       *wake;            /* the wake-up descriptor */
    sl_fd_t                wake_fd[2];      /* eventfd: both the same */

    pthread_mutex_t        lock;            /* posts, owner, state */
    pthread_mutex_t        reload_lock;     /* one reload at a time */
    pthread_cond_t         cond;            /* a posted reload is done */
    sl_embed_post_t       *posts;
    sl_embed_post_t      **posts_tail;
    sl_uint_t              posts_closed;    /* done: no more posts */

    atomic_int             stop;            /* SL_STOP_*, the strongest */
    atomic_int             woken;           /* a wake-up is in flight */

    sl_embed_state_e       state;
    pthread_t              owner;           /* the loop thread */
    sl_uint_t              owned;           /* owner is valid */
    sl_uint_t              inside;          /* in an iteration now */
    /* sl_embed_self() of the loop thread, 0: none (read lock-free) */
    atomic_uintptr_t       loop_thread;
    sl_uint_t              reloading;       /* an idle swap is under way */
    /*
     * sl_instance_reload() calls under way, from their first look at the
     * instance to their return (the build reads the cycle in force):
     * destroy is refused meanwhile (SL_BUSY)
     */
    sl_uint_t              reloads;
    pthread_t              thread;          /* sl_instance_start()'s */
    sl_uint_t              started;         /* not joined yet */
    sl_uint_t              joining;         /* a join waits for it */
    int                    thread_rc;

    sl_uint_t              stopping;        /* graceful stop begun */
    sl_uint_t              shutdown_timedout;
    sl_event_t             shutdown_timer;  /* worker_shutdown_timeout */
};

/* sl_instance.c */
sl_uint_t sl_embed_valid(sl_instance_t *in);
/* conf as sluice.h wants it (all: for create), or SL_ERROR and err */
sl_int_t sl_embed_check_conf(const sl_instance_conf_t *conf, sl_uint_t all,
    char *err, size_t errlen);
/* the text of the first error logged while err is set */
void sl_embed_capture_begin(sl_instance_t *in, char *err, size_t errlen);
void sl_embed_capture_end(sl_instance_t *in);
/* a new cycle from conf, built in the calling thread; NULL on error */
sl_cycle_t *sl_embed_build_cycle(sl_instance_t *in,
    const sl_instance_conf_t *conf);
/* the host handler registered under name, or NULL */
/*
 * A struct of size bytes at p, of which this library knows ours: larger
 * only with a zero tail. SL_OK or SL_ERROR.
 */
sl_int_t sl_embed_check_size(size_t size, size_t ours, const void *p);
const sl_handler_reg_t *sl_embed_find_handler(sl_instance_t *in,
    sl_str_t *name);

/*
 * No instance was ever made in this process: it is the daemon, whose one
 * thread may touch any session (of a loaded handler module).
 */
sl_uint_t sl_embed_in_daemon(void);

/* sl_instance_loop.c */
/* this thread, as a number unique among the live threads */
uintptr_t sl_embed_self(void);
/* does the calling thread run any instance (so may touch a session) */
sl_uint_t sl_embed_runs_any(void);
/* is the calling thread the one running in now */
#define sl_embed_on_loop(in)                                                  \
    (atomic_load_explicit(&(in)->loop_thread, memory_order_relaxed)           \
     == sl_embed_self())
/* writes the wake-up descriptor: async-signal-safe */
void sl_embed_wake(sl_instance_t *in);
sl_int_t sl_embed_wake_open(sl_instance_t *in);
void sl_embed_wake_close(sl_instance_t *in);
/* closes every session of the loop (their pools' cleanups run) */
void sl_embed_close_sessions(sl_instance_t *in);
/* runs and frees every post queued; with close, refuses later ones */
void sl_embed_run_posts(sl_instance_t *in, sl_uint_t close);

/* sl_instance_reload.c */
/* on the loop thread: cycle takes over from the one in force */
sl_int_t sl_embed_swap(sl_instance_t *in, sl_cycle_t *cycle);
/* after an iteration: the retired cycles whose sessions are done, freed */
void sl_embed_reap_retired(sl_instance_t *in);
/* the loop's time_updated hook: the retired cycles' clocks follow */
void sl_embed_time_updated(sl_event_loop_t *loop);
/* every retired cycle, at once (the instance is going away) */
void sl_embed_free_retired(sl_instance_t *in);

#define sl_embed_ccf(cycle)                                                   \
    ((sl_core_conf_t *) sl_get_conf((cycle)->conf_ctx, sl_core_module))

#endif /* SL_EMBED_H */
