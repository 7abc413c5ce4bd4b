/*
 * sl_event_loop.c -- the event loop: its connections, one iteration, and
 * the registration rules that hide edge- vs level-triggered back ends.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

static sl_int_t sl_event_loop_connections(sl_event_loop_t *loop,
    sl_uint_t n);
static const sl_event_actions_t *sl_event_find_backend(sl_cycle_t *cycle,
    sl_str_t *name);

sl_event_loop_t *
sl_event_loop_new(sl_pool_t *pool, sl_log_t *log, sl_time_cache_t *time,
    const sl_event_actions_t *actions, sl_uint_t n)
{
    sl_event_loop_t  *loop;

    loop = sl_pcalloc(pool, sizeof(sl_event_loop_t));
    if (loop == NULL) {
        return NULL;
    }

    loop->pool = pool;
    loop->log = log;
    loop->time = time;
    loop->actions = actions;
    loop->flags = actions->flags;
    loop->backend_fd = SL_INVALID_FILE;

    sl_event_timer_init(loop);
    sl_queue_init(&loop->posted_accept_events);
    sl_queue_init(&loop->posted_next_events);
    sl_queue_init(&loop->posted_events);
    sl_queue_init(&loop->reusable_connections);

    if (sl_event_loop_connections(loop, n) != SL_OK) {
        return NULL;
    }

    if (actions->init(loop, n) != SL_OK) {
        return NULL;
    }

    return loop;
}

/* the preallocated connections and their events, all on the free list */
static sl_int_t
sl_event_loop_connections(sl_event_loop_t *loop, sl_uint_t n)
{
    sl_connection_t  *c, *next;
    sl_uint_t         i;

    if (n == 0 || n > SIZE_MAX / sizeof(sl_connection_t)) {
        sl_log_error(SL_LOG_EMERG, loop->log, 0, "%ui connections cannot "
                     "be allocated", n);
        return SL_ERROR;
    }

    loop->connections = sl_pcalloc(loop->pool, n * sizeof(sl_connection_t));
    loop->read_events = sl_pcalloc(loop->pool, n * sizeof(sl_event_t));
    loop->write_events = sl_pcalloc(loop->pool, n * sizeof(sl_event_t));

    if (loop->connections == NULL || loop->read_events == NULL
        || loop->write_events == NULL)
    {
        return SL_ERROR;
    }

    loop->connection_n = n;
    next = NULL;

    for (i = n; i-- > 0; /* void */) {
        c = &loop->connections[i];

        c->read = &loop->read_events[i];
        c->write = &loop->write_events[i];
        c->loop = loop;
        c->fd = SL_INVALID_FILE;
        c->data = next;

        c->read->closed = 1;
        c->read->instance = 1;
        c->write->closed = 1;

        next = c;
    }

    loop->free_connections = next;
    loop->free_connection_n = n;
    return SL_OK;
}

static const sl_event_actions_t *
sl_event_find_backend(sl_cycle_t *cycle, sl_str_t *name)
{
    sl_event_module_t  *em;
    sl_uint_t           i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type != SL_EVENT_MODULE) {
            continue;
        }

        em = cycle->modules[i]->ctx;
        if (em->actions != NULL && sl_str_eq(&em->name, name)) {
            return em->actions;
        }
    }

    return NULL;
}

sl_event_loop_t *
sl_event_loop_create(sl_cycle_t *cycle)
{
    const sl_event_actions_t  *actions;
    sl_event_conf_t           *ecf;
    sl_event_loop_t           *loop;
    sl_pool_t                 *pool;

    ecf = sl_event_get_conf(cycle->conf_ctx, sl_event_core_module);

    actions = sl_event_find_backend(cycle, &ecf->use);
    if (actions == NULL) {
        sl_log_error(SL_LOG_EMERG, cycle->log, 0, "no event method \"%V\" "
                     "in this build", &ecf->use);
        return NULL;
    }

    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    loop = sl_event_loop_new(pool, cycle->log, &cycle->time, actions,
                             ecf->connections);
    if (loop == NULL) {
        sl_destroy_pool(pool);
        return NULL;
    }

    loop->own_pool = 1;
    loop->cycle = cycle;
    loop->multi_accept = (sl_uint_t) ecf->multi_accept;

    if (sl_event_loop_listen(loop, cycle) != SL_OK) {
        sl_event_loop_destroy(loop);
        return NULL;
    }

    cycle->loop = loop;

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "using the \"%V\" event method",
                 &actions->name);
    return loop;
}

sl_int_t
sl_event_loop_listen(sl_event_loop_t *loop, sl_cycle_t *cycle)
{
    sl_listening_t   *ls = cycle->listening.elts;
    sl_connection_t  *c;
    sl_uint_t         i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        c = sl_get_connection(loop, ls[i].fd, &ls[i].log);
        if (c == NULL) {
            return SL_ERROR;
        }

        c->type = ls[i].type;
        c->listening = &ls[i];
        ls[i].connection = c;

        c->read->accept = 1;
        c->read->handler = sl_event_accept;
        c->read->log = c->log;

        /* level-triggered on every back end: see sl_event_accept() */
        if (loop->accept_mutex != NULL) {
            continue;       /* registered while the mutex is held */
        }

        if (sl_add_event(c->read, SL_READ_EVENT,
                         SL_LEVEL_EVENT | loop->accept_flags) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

void
sl_event_loop_destroy(sl_event_loop_t *loop)
{
    sl_connection_t  *c;
    sl_bufcache_t    *bc;
    sl_pool_t        *pool;
    sl_uint_t         i;

    for (i = 0; i < loop->connection_n; i++) {
        c = &loop->connections[i];

        if (c->fd == SL_INVALID_FILE) {
            continue;
        }

        if (c->read->accept) {
            /* the listening socket belongs to the cycle: only forget it */
            c->listening->connection = NULL;
            c->shared = 1;
            sl_close_connection(c);
            continue;
        }

        /* a session still open: its pool's cleanups release what it holds */
        pool = c->pool;
        sl_close_connection(c);
        if (pool != NULL) {
            sl_destroy_pool(pool);
        }
    }

    loop->actions->done(loop);

    for (bc = loop->bufcaches; bc != NULL; bc = bc->next) {
        sl_bufcache_drain(bc);
    }

    if (loop->cycle != NULL && loop->cycle->loop == loop) {
        loop->cycle->loop = NULL;
    }

    if (loop->own_pool) {
        sl_destroy_pool(loop->pool);
    }
}

sl_bufcache_t *
sl_event_loop_bufcache(sl_event_loop_t *loop, size_t size)
{
    sl_bufcache_t  *bc;

    for (bc = loop->bufcaches; bc != NULL; bc = bc->next) {
        if (bc->size == size) {
            return bc;
        }
    }

    bc = sl_pcalloc(loop->pool, sizeof(sl_bufcache_t));
    if (bc == NULL) {
        return NULL;
    }

    bc->size = size;
    bc->max = size < SL_BUFCACHE_BYTES ? SL_BUFCACHE_BYTES / size : 1;
    bc->next = loop->bufcaches;
    loop->bufcaches = bc;
    return bc;
}

void
sl_process_events_and_timers(sl_event_loop_t *loop)
{
    sl_event_loop_iterate(loop, SL_TIMER_INFINITE);
}

sl_msec_t
sl_event_loop_wait_time(sl_event_loop_t *loop)
{
    if (!sl_queue_empty(&loop->posted_next_events)
        || !sl_queue_empty(&loop->posted_events))
    {
        return 0;
    }

    return sl_event_find_timer(loop);
}

void
sl_event_loop_iterate(sl_event_loop_t *loop, sl_msec_t max)
{
    sl_msec_t  timer;
    sl_uint_t  flags = SL_UPDATE_TIME;

    if (!sl_queue_empty(&loop->posted_next_events)) {
        sl_event_move_posted_next(loop);
        timer = 0;
    } else {
        timer = sl_event_find_timer(loop);
    }

    if (max != SL_TIMER_INFINITE && (timer == SL_TIMER_INFINITE || max < timer))
    {
        timer = max;
    }

    /*
     * With the accept mutex, only its holder watches the listening
     * sockets; the others look again after accept_mutex_delay at most.
     * The holder accepts after the wait (posted) and lets the lock go.
     */
    if (loop->accept_mutex != NULL) {
        if (!loop->accept_paused
            && sl_event_trylock_accept_mutex(loop) != SL_OK)
        {
            return;
        }

        if (loop->accept_mutex_held) {
            flags |= SL_POST_EVENTS;
        } else if (timer == SL_TIMER_INFINITE
                   || timer > loop->accept_mutex_delay)
        {
            timer = loop->accept_mutex_delay;
        }
    }

    (void) loop->actions->process_events(loop, timer, flags);

    sl_event_process_posted(loop, &loop->posted_accept_events);

    if (loop->accept_mutex_held) {
        sl_event_unlock_accept_mutex(loop);
    }
    sl_event_expire_timers(loop);
    sl_event_process_posted(loop, &loop->posted_events);
}

sl_int_t
sl_event_wait_result(sl_event_loop_t *loop, int n, sl_err_t err,
    sl_msec_t timer, sl_uint_t flags, const char *call)
{
    if (flags & SL_UPDATE_TIME) {
        sl_time_update(loop->time);
        if (loop->time_updated != NULL) {
            loop->time_updated(loop);
        }
    }

    if (n == -1) {
        if (err == EINTR) {
            /* a signal: its flags are the caller's to look at */
            return SL_DONE;
        }

        sl_log_error(SL_LOG_ALERT, loop->log, err, "%s failed", call);
        return SL_ERROR;
    }

    if (n == 0 && timer == SL_TIMER_INFINITE) {
        sl_log_error(SL_LOG_ALERT, loop->log, 0, "%s returned no events "
                     "without timeout", call);
        return SL_ERROR;
    }

    return SL_OK;
}

/*
 * Edge-triggered back ends keep a connection registered for its whole
 * life; level-triggered ones must not keep an fd registered while its
 * handler does not want to hear of it, or the loop would spin.
 */
static sl_int_t
sl_handle_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_event_loop_t  *loop = ev->loop;

    if (loop->flags & SL_USE_CLEAR_EVENT) {
        if (!ev->active && !ev->ready && !(flags & SL_CLOSE_EVENT)) {
            return sl_add_event(ev, event, SL_CLEAR_EVENT);
        }
        return SL_OK;
    }

    if (!ev->active && !ev->ready && !(flags & SL_CLOSE_EVENT)) {
        return sl_add_event(ev, event, SL_LEVEL_EVENT);
    }

    if (ev->active && (ev->ready || (flags & SL_CLOSE_EVENT))) {
        return sl_del_event(ev, event, SL_LEVEL_EVENT | flags);
    }

    return SL_OK;
}

sl_int_t
sl_handle_read_event(sl_event_t *rev, sl_uint_t flags)
{
    return sl_handle_event(rev, SL_READ_EVENT, flags);
}

sl_int_t
sl_handle_write_event(sl_event_t *wev, sl_uint_t flags)
{
    return sl_handle_event(wev, SL_WRITE_EVENT, flags);
}
