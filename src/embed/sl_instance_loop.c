/*
 * sl_instance_loop.c -- running an embedded instance: in the caller's
 * thread (run, run_once), in a thread of its own (start, join), or from
 * a host's loop (fd, timeout); and what other threads may hand it at any
 * time: a stop, which is only a flag and a write (a signal handler may
 * call it), and posted functions, queued under the instance's lock.
 *
 * Both reach the loop through one wake-up descriptor (an eventfd, or a
 * pipe where there is none) registered in the loop like a connection.
 * The loop thread keeps SIGPIPE blocked while it runs, and only then: a
 * spliced relay to a reset peer must not kill a host that keeps SIGPIPE
 * at its default (see src/os/unix/sl_splice.c).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_embed.h"

#include <limits.h>
#include <signal.h>
#if (SL_HAVE_EVENTFD)
#include <sys/eventfd.h>
#endif

/* never written: its address tells one thread from another */
static _Thread_local char       sl_embed_thread_mark;
/* how many instances this thread runs: none, and it touches no session */
static _Thread_local sl_uint_t  sl_embed_thread_loops;

static void sl_embed_wake_handler(sl_event_t *ev);
static sl_int_t sl_embed_iterate(sl_instance_t *in, sl_msec_t max);
static void sl_embed_set_state(sl_instance_t *in, sl_embed_state_e state);

/* --- the wake-up descriptor ---------------------------------------------- */

sl_int_t
sl_embed_wake_open(sl_instance_t *in)
{
    sl_connection_t  *c;

#if (SL_HAVE_EVENTFD)
    in->wake_fd[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    in->wake_fd[1] = in->wake_fd[0];
    if (in->wake_fd[0] == -1) {
        sl_log_error(SL_LOG_EMERG, in->cycle->log, errno, "eventfd() failed");
        return SL_ERROR;
    }
#else
    if (pipe2(in->wake_fd, O_NONBLOCK | O_CLOEXEC) == -1) {
        sl_log_error(SL_LOG_EMERG, in->cycle->log, errno, "pipe2() failed");
        in->wake_fd[0] = SL_INVALID_FILE;
        in->wake_fd[1] = SL_INVALID_FILE;
        return SL_ERROR;
    }
#endif

    c = sl_get_connection(in->loop, in->wake_fd[0], &in->wake_log);
    if (c == NULL) {
        return SL_ERROR;
    }

    in->wake = c;
    c->data = in;
    c->read->handler = sl_embed_wake_handler;

    return sl_add_event(c->read, SL_READ_EVENT,
                        (in->loop->flags & SL_USE_CLEAR_EVENT)
                        ? SL_CLEAR_EVENT : SL_LEVEL_EVENT);
}

void
sl_embed_wake_close(sl_instance_t *in)
{
    if (in->wake != NULL) {
        sl_close_connection(in->wake);   /* closes wake_fd[0] */
        in->wake = NULL;
    } else if (in->wake_fd[0] != SL_INVALID_FILE) {
        (void) close(in->wake_fd[0]);
    }

    if (in->wake_fd[1] != in->wake_fd[0] && in->wake_fd[1] != -1) {
        (void) close(in->wake_fd[1]);
    }

    in->wake_fd[0] = SL_INVALID_FILE;
    in->wake_fd[1] = SL_INVALID_FILE;
}

/* one write however many wake-ups come before the loop reads it */
void
sl_embed_wake(sl_instance_t *in)
{
    static const uint64_t  one = 1;
    sl_err_t               err = errno;

    if (atomic_exchange(&in->woken, 1) == 0) {
        (void) write(in->wake_fd[1], &one, sizeof(one));
    }

    errno = err;        /* a signal handler must leave errno alone */
}

static void
sl_embed_wake_handler(sl_event_t *ev)
{
    sl_connection_t  *c = ev->data;
    sl_instance_t    *in = c->data;
    uint64_t          buf[8];

    while (read(c->fd, buf, sizeof(buf)) > 0) {
        /* drained: eventfd in one read, a pipe in a few */
    }

    ev->ready = 0;
    atomic_store(&in->woken, 0);
    sl_embed_run_posts(in, 0);
}

/* --- posted functions ---------------------------------------------------- */

void
sl_embed_run_posts(sl_instance_t *in, sl_uint_t close)
{
    sl_embed_post_t  *p, *next;

    (void) pthread_mutex_lock(&in->lock);
    p = in->posts;
    in->posts = NULL;
    in->posts_tail = &in->posts;
    if (close) {
        in->posts_closed = 1;
    }
    (void) pthread_mutex_unlock(&in->lock);

    for ( /* void */ ; p != NULL; p = next) {
        next = p->next;
        p->fn(in, p->arg);
        free(p);
    }
}

int
sl_instance_post(sl_instance_t *in, void (*fn)(sl_instance_t *in, void *arg),
    void *arg)
{
    sl_embed_post_t  *p;

    if (fn == NULL || !sl_embed_valid(in)) {
        return SL_ERROR;
    }

    p = malloc(sizeof(sl_embed_post_t));
    if (p == NULL) {
        return SL_ERROR;
    }

    p->next = NULL;
    p->fn = fn;
    p->arg = arg;

    (void) pthread_mutex_lock(&in->lock);

    if (in->posts_closed) {
        (void) pthread_mutex_unlock(&in->lock);
        free(p);
        return SL_DONE;
    }

    *in->posts_tail = p;
    in->posts_tail = &p->next;
    (void) pthread_mutex_unlock(&in->lock);

    sl_embed_wake(in);
    return SL_OK;
}

/* --- stopping ------------------------------------------------------------ */

void
sl_instance_stop(sl_instance_t *in, int how)
{
    int  cur;

    /* the registry takes no lock: a signal handler may be the caller */
    if ((how != SL_STOP_GRACEFUL && how != SL_STOP_FAST)
        || !sl_embed_valid(in))
    {
        return;
    }

    cur = atomic_load(&in->stop);
    while (how > cur
           && !atomic_compare_exchange_weak(&in->stop, &cur, how))
    {
        /* another stop came in between: cur holds it now */
    }

    sl_embed_wake(in);
}

void
sl_embed_close_sessions(sl_instance_t *in)
{
    sl_event_loop_t  *loop = in->loop;
    sl_connection_t  *c;
    sl_pool_t        *pool;
    sl_uint_t         i, pass;

    /* sessions first: their pools' cleanups close their upstreams */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < loop->connection_n; i++) {
            c = &loop->connections[i];

            if (c->fd == SL_INVALID_FILE || c->read->accept || c == in->wake
                || (pass == 0 && c->pool == NULL))
            {
                continue;
            }

            pool = c->pool;
            sl_close_connection(c);
            if (pool != NULL) {
                sl_destroy_pool(pool);
            }
        }
    }
}

static void
sl_embed_shutdown_timer_handler(sl_event_t *ev)
{
    sl_instance_t  *in = ev->data;

    in->shutdown_timedout = 1;
}

static void
sl_embed_begin_stop(sl_instance_t *in)
{
    sl_core_conf_t  *ccf = sl_embed_ccf(in->cycle);

    in->stopping = 1;
    sl_log_error(SL_LOG_NOTICE, in->cycle->log, 0,
                 "gracefully shutting down");

    (void) sl_event_stop_accepting(in->loop);
    sl_close_listening_sockets(in->cycle);

    /* sessions idle now end (shutdown_idle), the others when idle */
    in->loop->exiting = 1;
    sl_close_idle_connections(in->loop);

    if (ccf->shutdown_timeout > 0) {
        in->shutdown_timer.data = in;
        in->shutdown_timer.loop = in->loop;
        in->shutdown_timer.log = &in->wake_log;
        in->shutdown_timer.handler = sl_embed_shutdown_timer_handler;
        sl_add_timer(&in->shutdown_timer, ccf->shutdown_timeout);
    }
}

/* acts on a stop asked for; 1 when the instance has nothing left to do */
static sl_uint_t
sl_embed_check_stop(sl_instance_t *in)
{
    int  how = atomic_load(&in->stop);

    if (how == 0) {
        return 0;
    }

    if (!in->stopping) {
        sl_embed_begin_stop(in);
    }

    if (how == SL_STOP_FAST || in->shutdown_timedout) {
        sl_embed_close_sessions(in);
    }

    /* the wake-up descriptor is the one connection left */
    return sl_event_connections_in_use(in->loop) <= 1;
}

static void
sl_embed_finish(sl_instance_t *in)
{
    if (in->shutdown_timer.timer_set) {
        sl_del_timer(&in->shutdown_timer);
    }

    sl_embed_run_posts(in, 1);
    sl_embed_reap_retired(in);
    sl_modules_exit_process(in->cycle);
    sl_log_error(SL_LOG_NOTICE, in->cycle->log, 0, "exiting");
    sl_embed_set_state(in, SL_EMBED_DONE);
}

/* --- one iteration ------------------------------------------------------- */

/* written by the loop thread, read by others (reload) under the lock */
static void
sl_embed_set_state(sl_instance_t *in, sl_embed_state_e state)
{
    (void) pthread_mutex_lock(&in->lock);
    in->state = state;
    (void) pthread_mutex_unlock(&in->lock);
}

static sl_int_t
sl_embed_iterate(sl_instance_t *in, sl_msec_t max)
{
    if (in->state == SL_EMBED_DONE) {
        return SL_DONE;
    }

    if (in->state == SL_EMBED_IDLE) {
        sl_embed_set_state(in, SL_EMBED_SERVING);
    }

    if (!sl_embed_check_stop(in)) {
        sl_event_loop_iterate(in->loop, max);
        sl_embed_reap_retired(in);

        if (!sl_embed_check_stop(in)) {
            return SL_OK;
        }
    }

    sl_embed_finish(in);
    return SL_DONE;
}

uintptr_t
sl_embed_self(void)
{
    return (uintptr_t) &sl_embed_thread_mark;
}

sl_uint_t
sl_embed_runs_any(void)
{
    return sl_embed_thread_loops;
}

/*
 * The calling thread becomes the loop thread, or SL_BUSY: another thread
 * is in it, or owns it (run_once), or it has a thread of its own. A swap
 * of an idle instance (sl_instance_reload) is waited for.
 */
static sl_int_t
sl_embed_enter(sl_instance_t *in, sl_uint_t own_thread)
{
    pthread_t  self = pthread_self();
    sl_int_t   rc = SL_OK;

    (void) pthread_mutex_lock(&in->lock);

    while (in->reloading) {
        (void) pthread_cond_wait(&in->cond, &in->lock);
    }

    if (in->inside
        || (in->owned && !pthread_equal(in->owner, self))
        || (in->started && !own_thread))
    {
        rc = SL_BUSY;
    } else {
        if (!in->owned) {
            sl_embed_thread_loops++;
        }

        in->inside = 1;
        in->owned = 1;
        in->owner = self;
        atomic_store(&in->loop_thread, sl_embed_self());
    }

    (void) pthread_mutex_unlock(&in->lock);
    return rc;
}

static void
sl_embed_leave(sl_instance_t *in)
{
    (void) pthread_mutex_lock(&in->lock);
    in->inside = 0;

    /* run_once's thread stays the loop thread between its calls */
    if (in->state == SL_EMBED_DONE) {
        in->owned = 0;
        atomic_store(&in->loop_thread, 0);
        sl_embed_thread_loops--;
    }

    (void) pthread_mutex_unlock(&in->lock);
}

static sl_int_t
sl_embed_run(sl_instance_t *in, sl_msec_t max, sl_uint_t once,
    sl_uint_t own_thread)
{
    sigset_t  pipe, saved;
    sl_int_t  rc;

    if (!sl_embed_valid(in)) {
        return SL_ERROR;
    }

    rc = sl_embed_enter(in, own_thread);
    if (rc != SL_OK) {
        return rc;
    }

    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    (void) pthread_sigmask(SIG_BLOCK, &pipe, &saved);

    do {
        rc = sl_embed_iterate(in, max);
    } while (rc == SL_OK && !once);

    (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);

    sl_embed_leave(in);
    return rc;
}

int
sl_instance_run(sl_instance_t *in)
{
    return (int) sl_embed_run(in, SL_TIMER_INFINITE, 0, 0);
}

int
sl_instance_run_once(sl_instance_t *in, int timeout_ms)
{
    sl_msec_t  max;

    max = timeout_ms < 0 ? SL_TIMER_INFINITE : (sl_msec_t) timeout_ms;
    return (int) sl_embed_run(in, max, 1, 0);
}

/* --- a host's loop ------------------------------------------------------- */

int
sl_instance_fd(sl_instance_t *in)
{
    return sl_embed_valid(in) ? in->loop->backend_fd : -1;
}

int
sl_instance_timeout(sl_instance_t *in)
{
    sl_msec_t  t;

    if (!sl_embed_valid(in)) {
        return -1;
    }

    /* a stop not yet acted on, or one that ended it: run_once at once */
    if ((atomic_load(&in->stop) != 0 && !in->stopping)
        || in->state == SL_EMBED_DONE)
    {
        return 0;
    }

    t = sl_event_loop_wait_time(in->loop);
    if (t == SL_TIMER_INFINITE) {
        return -1;
    }

    return t > INT_MAX ? INT_MAX : (int) t;
}

/* --- a thread of its own ------------------------------------------------- */

static void *
sl_embed_thread(void *data)
{
    sl_instance_t  *in = data;

    in->thread_rc = (int) sl_embed_run(in, SL_TIMER_INFINITE, 0, 1);
    return NULL;
}

int
sl_instance_start(sl_instance_t *in)
{
    sigset_t  all, saved;
    int       rc;

    if (!sl_embed_valid(in)) {
        return SL_ERROR;
    }

    (void) pthread_mutex_lock(&in->lock);

    if (in->started || in->inside || in->owned) {
        (void) pthread_mutex_unlock(&in->lock);
        return SL_BUSY;
    }

    /* the thread inherits the mask: every signal stays with the host */
    sigfillset(&all);
    (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
    rc = pthread_create(&in->thread, NULL, sl_embed_thread, in);
    (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);

    in->started = (rc == 0);
    (void) pthread_mutex_unlock(&in->lock);

    return rc == 0 ? SL_OK : SL_ERROR;
}

int
sl_instance_join(sl_instance_t *in)
{
    pthread_t  t;

    if (!sl_embed_valid(in)) {
        return SL_ERROR;
    }

    (void) pthread_mutex_lock(&in->lock);

    if (!in->started || in->joining
        || pthread_equal(in->thread, pthread_self()))
    {
        (void) pthread_mutex_unlock(&in->lock);
        return SL_ERROR;
    }

    in->joining = 1;
    t = in->thread;
    (void) pthread_mutex_unlock(&in->lock);

    (void) pthread_join(t, NULL);

    (void) pthread_mutex_lock(&in->lock);
    in->started = 0;
    in->joining = 0;
    (void) pthread_mutex_unlock(&in->lock);

    return in->thread_rc;
}
