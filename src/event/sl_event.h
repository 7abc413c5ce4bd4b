/*
 * sl_event.h -- events, the event loop, and the interface of its back ends.
 *
 * An event is one direction of one descriptor: a connection has a read
 * event and a write event. A back end (epoll, kqueue, poll, select) tells
 * the loop which events are ready; the loop calls their handlers, then the
 * handlers of expired timers and of posted events.
 *
 * Edge-triggered back ends (epoll with EPOLLET, kqueue with EV_CLEAR) report
 * a descriptor once per change of state, so a handler must read or write
 * until EAGAIN before `ready` is cleared; level-triggered ones (poll,
 * select) report it again while it stays ready. Protocol code never cares:
 * sl_handle_read_event() and sl_handle_write_event() do the right thing for
 * the back end in use.
 */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_connection.h"

typedef struct sl_event_loop_s  sl_event_loop_t;
typedef void (*sl_event_handler_pt)(sl_event_t *ev);

/*
 * Two of these are preallocated per worker_connections slot, so every
 * byte counts twice per connection (bench/README.md, "Scale"): the fields
 * are ordered so that little pads: 104 bytes on LP64.
 */
struct sl_event_s {
    void                *data;       /* the connection, as a rule */
    sl_event_handler_pt  handler;
    sl_event_loop_t     *loop;
    sl_log_t            *log;

    sl_rbtree_node_t     timer;
    sl_queue_t           queue;      /* in a posted queue */

    int                  available;  /* kqueue: bytes or backlog; else -1 */
    unsigned             index;      /* the back end's slot (poll, select) */

    unsigned             write:1;
    unsigned             accept:1;   /* a listening socket's read event */
    /* flips each time the slot is reused, to drop stale kernel events */
    unsigned             instance:1;
    unsigned             active:1;   /* registered with the back end */
    unsigned             disabled:1;
    unsigned             ready:1;    /* I/O would not block */
    unsigned             oneshot:1;
    unsigned             complete:1; /* a non-blocking connect finished */
    unsigned             eof:1;      /* the peer closed (read returned 0) */
    unsigned             pending_eof:1;  /* EPOLLRDHUP / EV_EOF seen */
    unsigned             error:1;
    unsigned             timedout:1;
    unsigned             timer_set:1;
    unsigned             delayed:1;  /* a rate limit holds it back */
    unsigned             posted:1;
    unsigned             closed:1;
    unsigned             cancelable:1;   /* its timer does not delay exit */
    /* kqueue: the errno of an EV_EOF (errno values fit in 15 bits) */
    unsigned             kq_errno:15;
};

/* what a back end can do: sl_event_actions_t.flags, loop->flags */
#define SL_USE_LEVEL_EVENT    0x0001   /* poll, select */
#define SL_USE_CLEAR_EVENT    0x0002   /* edge-triggered: epoll, kqueue */
#define SL_USE_GREEDY_EVENT   0x0004   /* read to EAGAIN: no byte count */
#define SL_USE_EPOLL_EVENT    0x0008
#define SL_USE_KQUEUE_EVENT   0x0010
#define SL_USE_FD_EVENT       0x0020   /* registrations indexed by fd */
#define SL_USE_RDHUP_EVENT    0x0040   /* reports a peer's FIN early */

/* what to register: the `event` argument of add/del/enable/disable */
#define SL_READ_EVENT         1
#define SL_WRITE_EVENT        2

/* how: the `flags` argument */
#define SL_LEVEL_EVENT        0x00
#define SL_CLEAR_EVENT        0x01
#define SL_CLOSE_EVENT        0x02     /* the fd is being closed */
#define SL_DISABLE_EVENT      0x04
#define SL_FLUSH_EVENT        0x08     /* kqueue: submit the changes now */
/* epoll: one waiter of those sharing the fd is woken (EPOLLEXCLUSIVE) */
#define SL_EXCLUSIVE_EVENT    0x10

/* process_events flags */
#define SL_UPDATE_TIME        0x01
#define SL_POST_EVENTS        0x02

typedef struct {
    sl_str_t    name;
    sl_uint_t   flags;                  /* SL_USE_* */

    sl_int_t  (*init)(sl_event_loop_t *loop, sl_uint_t nevents);
    void      (*done)(sl_event_loop_t *loop);

    sl_int_t  (*add)(sl_event_t *ev, sl_uint_t event, sl_uint_t flags);
    sl_int_t  (*del)(sl_event_t *ev, sl_uint_t event, sl_uint_t flags);
    sl_int_t  (*add_conn)(sl_connection_t *c);
    sl_int_t  (*del_conn)(sl_connection_t *c, sl_uint_t flags);

    /* waits at most timer ms (SL_TIMER_INFINITE: no limit) */
    sl_int_t  (*process_events)(sl_event_loop_t *loop, sl_msec_t timer,
                                sl_uint_t flags);
} sl_event_actions_t;

#define SL_TIMER_INFINITE     (sl_msec_t) -1

/* the loop of one worker (or of one embedded instance) */
struct sl_event_loop_s {
    const sl_event_actions_t  *actions;
    sl_uint_t                  flags;       /* actions->flags */
    void                      *backend;     /* the back end's own state */
    /*
     * A descriptor readable when the back end has events (epoll, kqueue),
     * for a host's own loop to wait on; -1 for poll and select.
     */
    sl_fd_t                    backend_fd;

    sl_rbtree_t                timers;
    sl_rbtree_node_t           timer_sentinel;

    sl_queue_t                 posted_accept_events;
    sl_queue_t                 posted_next_events;
    sl_queue_t                 posted_events;

    sl_time_cache_t           *time;        /* the cycle's clock */
    /* called each time the clock was read (an embedder's other clocks) */
    void                     (*time_updated)(sl_event_loop_t *loop);
    void                      *time_data;
    sl_log_t                  *log;
    sl_cycle_t                *cycle;
    sl_pool_t                 *pool;
    sl_uint_t                  own_pool;    /* created with the loop */

    sl_connection_t           *connections;
    sl_event_t                *read_events;
    sl_event_t                *write_events;
    sl_uint_t                  connection_n;
    sl_connection_t           *free_connections;
    sl_uint_t                  free_connection_n;
    sl_queue_t                 reusable_connections;
    sl_uint_t                  reusable_connection_n;
    sl_uint_t                  connection_counter;  /* the "*N" in logs */

    sl_bufcache_t             *bufcaches;   /* by size, see below */

    sl_uint_t                  multi_accept;
    sl_msec_t                  accept_resume;  /* after EMFILE: retry at */
    /*
     * SL_EXCLUSIVE_EVENT when other processes wait on the same listening
     * sockets and the back end can wake one of them only; else 0.
     */
    sl_uint_t                  accept_flags;
    /* the accept mutex (sl_shmem.h) when several workers share sockets */
    struct sl_shmtx_s         *accept_mutex;
    sl_msec_t                  accept_mutex_delay;
    sl_uint_t                  accept_mutex_held;
    sl_uint_t                  accept_mutex_pid;    /* this process */
    /*
     * Out of descriptors (EMFILE): this worker neither takes the mutex
     * nor watches the listening sockets until the retry timer ends it.
     */
    sl_uint_t                  accept_paused;
    sl_uint_t                  exiting;     /* a graceful shutdown began */
    /*
     * The signal mask to wait with (epoll_pwait, ppoll, pselect): the
     * process keeps its signals blocked and unblocks them only inside the
     * wait, so a signal cannot slip in between a check and the wait.
     * kqueue, which has no such wait, watches the signals the mask lets
     * in with EVFILT_SIGNAL (taken at its first wait) and opens the mask
     * for a moment when one comes. NULL: wait with the current mask.
     */
    const sigset_t            *sigmask;
};

#define sl_current_msec(loop)  ((loop)->time->current_msec)

/* --- the events{} configuration ----------------------------------------- */

#define SL_DEFAULT_CONNECTIONS  512

typedef struct {
    sl_uint_t      connections;     /* worker_connections */
    sl_str_t       use;             /* the back end's name */
    sl_flag_t      multi_accept;
    sl_flag_t      accept_mutex;    /* unset: on only where it is needed */
    sl_msec_t      accept_mutex_delay;
} sl_event_conf_t;

typedef struct {
    sl_str_t                    name;
    void                     *(*create_conf)(sl_cycle_t *cycle);
    char                     *(*init_conf)(sl_cycle_t *cycle, void *conf);
    const sl_event_actions_t   *actions;    /* a back end's, or NULL */
} sl_event_module_t;

extern sl_module_t  sl_events_module;
extern sl_module_t  sl_event_core_module;

/* the back ends built in, each an SL_EVENT_MODULE with these actions */
extern const sl_event_actions_t  sl_epoll_actions;
extern const sl_event_actions_t  sl_poll_actions;
extern const sl_event_actions_t  sl_select_actions;
extern const sl_event_actions_t  sl_kqueue_actions;

/* the conf of an event module in the cycle's events{} context */
#define sl_event_get_conf(conf_ctx, module)                                   \
    (*((void ***) (conf_ctx)[sl_events_module.index]))[(module).ctx_index]

/* --- the loop ----------------------------------------------------------- */

/*
 * Builds the loop of a cycle: the back end named by `use`, the
 * preallocated connections (worker_connections), and a read event for
 * every listening socket of the cycle. The loop has a pool of its own: it
 * lives on when a reload replaces the cycle.
 */
sl_event_loop_t *sl_event_loop_create(sl_cycle_t *cycle);
/*
 * The same without a configuration: a loop over `actions` with n
 * preallocated connections, allocated in pool. Tests and embedders use it.
 */
sl_event_loop_t *sl_event_loop_new(sl_pool_t *pool, sl_log_t *log,
    sl_time_cache_t *time, const sl_event_actions_t *actions, sl_uint_t n);
void sl_event_loop_destroy(sl_event_loop_t *loop);
/*
 * A connection in the loop for each listening socket of cycle, its read
 * event accepting (registered unless an accept mutex takes turns).
 */
sl_int_t sl_event_loop_listen(sl_event_loop_t *loop, sl_cycle_t *cycle);
/*
 * For back ends: what to make of their wait's result n (errno err). It
 * updates the clock when flags ask for it, takes EINTR for a signal and
 * logs what must not happen. SL_OK: process the n events; SL_DONE:
 * interrupted, nothing to process; SL_ERROR.
 */
sl_int_t sl_event_wait_result(sl_event_loop_t *loop, int n, sl_err_t err,
    sl_msec_t timer, sl_uint_t flags, const char *call);

/* the loop's body: wait for I/O or the nearest timer, run what is due */
void sl_process_events_and_timers(sl_event_loop_t *loop);
/* the same, waiting max ms at most (SL_TIMER_INFINITE: no limit) */
void sl_event_loop_iterate(sl_event_loop_t *loop, sl_msec_t max);
/*
 * How long the next iteration would wait for the nearest timer: 0 when
 * posted events wait, SL_TIMER_INFINITE when there is no timer.
 */
sl_msec_t sl_event_loop_wait_time(sl_event_loop_t *loop);

/*
 * After a handler has read (or written) what it wanted: make sure the
 * event will be reported again when it is next ready, as the back end
 * needs it (level-triggered: registered only while wanted). With
 * SL_CLOSE_EVENT in flags the handler wants no more of it: a
 * level-triggered back end stops watching.
 */
sl_int_t sl_handle_read_event(sl_event_t *rev, sl_uint_t flags);
sl_int_t sl_handle_write_event(sl_event_t *wev, sl_uint_t flags);

static inline sl_int_t
sl_add_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    return ev->loop->actions->add(ev, event, flags);
}

static inline sl_int_t
sl_del_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    return ev->loop->actions->del(ev, event, flags);
}

/*
 * The loop's cache of buffers of this size (made on first use), for data
 * in flight: at most SL_BUFCACHE_BYTES of released buffers are kept.
 */
#define SL_BUFCACHE_BYTES  (1024 * 1024)
sl_bufcache_t *sl_event_loop_bufcache(sl_event_loop_t *loop, size_t size);

/* --- accepting ---------------------------------------------------------- */

/* the read handler of a listening socket */
void sl_event_accept(sl_event_t *ev);
/* (un)registers the listening sockets' read events */
sl_int_t sl_enable_accept_events(sl_event_loop_t *loop);
sl_int_t sl_disable_accept_events(sl_event_loop_t *loop);
/*
 * A graceful shutdown begins: the listening sockets leave the loop (their
 * connections freed; the fds are the cycle's to close). Returns the number
 * of connections still open.
 */
sl_uint_t sl_event_stop_accepting(sl_event_loop_t *loop);
/*
 * The accept mutex: taken, the listening sockets are registered
 * (accept_mutex_held); missed, they are unregistered if they were. A
 * worker pausing after EMFILE (accept_paused) does not try for it.
 */
sl_int_t sl_event_trylock_accept_mutex(sl_event_loop_t *loop);
void sl_event_unlock_accept_mutex(sl_event_loop_t *loop);
/* the connections of the loop in use, listening ones included */
#define sl_event_connections_in_use(loop)                                     \
    ((loop)->connection_n - (loop)->free_connection_n)

#include "sl_event_timer.h"
#include "sl_event_posted.h"
#include "sl_event_connect.h"

#endif /* SL_EVENT_H */
